/* SPDX-License-Identifier: MIT */
/*
 * Stress: 100,000 concurrent tasks; 1,000,000 timers with random deadlines
 * across the tick wrap-around, woken in order; cancellation storms over
 * tasks awaiting tasks, Events, Locks and gathers; 10,000 connect/close
 * cycles against an echo server without leaking a descriptor. Virtual time
 * throughout, so the timings are exact and the runs short.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#include <dirent.h>
#include <stdlib.h>

static void virtual_clock(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(stress, .init = virtual_clock, .timeout = 20);

/* A small deterministic generator (rand() differs between libcs). */
static uint32_t rng_state = 1;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* ------------------------------------------------------------------------ */
/* 100,000 concurrent tasks: Event, Lock hand-off in FIFO order, gather     */
/* ------------------------------------------------------------------------ */

#define NTASKS 100000
struct crowd {
    asyncio_coro co;
    int id;
};
static asyncio_event crowd_go;
static asyncio_lock crowd_lock;
static int crowd_order[NTASKS], crowd_n, crowd_holders;

static int crowd_fn(asyncio_coro *co)
{
    struct crowd *f = (struct crowd *)co;
    ASYNC_BEGIN(co);
    AWAIT_EVENT(&crowd_go);
    AWAIT_LOCK(&crowd_lock);
    cr_assert_eq(++crowd_holders, 1, "two tasks hold the lock");
    crowd_order[crowd_n++] = f->id;
    YIELD; /* everybody else queues on the lock meanwhile */
    crowd_holders--;
    asyncio_lock_release(&crowd_lock);
    AWAIT_SLEEP_MS(f->id % 7);
    ASYNC_RETURN(f->id);
    ASYNC_END;
}

static struct crowd *crowd;
static asyncio_task *crowd_t, **crowd_tp;
static asyncio_outcome *crowd_out;

struct crowd_main {
    asyncio_coro co;
    asyncio_gather_state g;
};
static int crowd_main_fn(asyncio_coro *co)
{
    struct crowd_main *f = (struct crowd_main *)co;
    int i;
    ASYNC_BEGIN(co);
    for (i = 0; i < NTASKS; i++) {
        crowd[i].id = i;
        crowd_tp[i] = &crowd_t[i];
        cr_assert_eq(asyncio_create_task(&crowd_t[i], asyncio_coro_init(&crowd[i].co, crowd_fn)),
                     0);
    }
    YIELD; /* all of them wait on the Event */
    asyncio_event_set(&crowd_go);
    AWAIT(asyncio_gather(&f->g, crowd_tp, NTASKS, crowd_out, 0));
    ASYNC_RETURN(AWAIT_RESULT);
    ASYNC_END;
}

Test(stress, a_hundred_thousand_concurrent_tasks_share_an_event_and_a_lock_in_fifo_order)
{
    static struct crowd_main m;
    static asyncio_task t;
    asyncio_value v = 0;
    int i;
    crowd = calloc(NTASKS, sizeof *crowd);
    crowd_t = calloc(NTASKS, sizeof *crowd_t);
    crowd_tp = calloc(NTASKS, sizeof *crowd_tp);
    crowd_out = calloc(NTASKS, sizeof *crowd_out);
    cr_assert(crowd && crowd_t && crowd_tp && crowd_out);
    asyncio_event_init(&crowd_go);
    asyncio_lock_init(&crowd_lock);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, crowd_main_fn), &v), 0);
    cr_assert_eq(v, NTASKS);
    cr_assert_eq(crowd_n, NTASKS);
    for (i = 0; i < NTASKS; i++) {
        cr_assert_eq(crowd_order[i], i, "lock order at %d: %d", i, crowd_order[i]);
        cr_assert_eq(crowd_out[i].err, 0);
        cr_assert_eq(crowd_out[i].value, i);
    }
    cr_assert(!asyncio_lock_locked(&crowd_lock));
    free(crowd);
    free(crowd_t);
    free(crowd_tp);
    free(crowd_out);
}

/* ------------------------------------------------------------------------ */
/* 1,000,000 timers across the tick wrap-around                             */
/* ------------------------------------------------------------------------ */

#define NTIMERS 1000000
#define TIMER_SPAN 100000
#define TIMER_START (0xFFFFFFFFu - TIMER_SPAN / 2) /* the wrap falls mid-way */
struct timer {
    asyncio_coro co;
    int32_t ms;
    int32_t id;
};
static struct timer *timers;
static asyncio_task *timer_tasks;
static long timers_woken;
static int32_t last_ms, last_id;

static int timer_fn(asyncio_coro *co)
{
    struct timer *f = (struct timer *)co;
    uint32_t elapsed;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    elapsed = asyncio_ticks_ms() - TIMER_START;
    /* On time, in deadline order, FIFO among equal deadlines. */
    if (elapsed != (uint32_t)f->ms || f->ms < last_ms || (f->ms == last_ms && f->id < last_id))
        cr_assert_fail("timer %d (%d ms) woke at %u after timer %d (%d ms)", (int)f->id, (int)f->ms,
                       (unsigned)elapsed, (int)last_id, (int)last_ms);
    last_ms = f->ms;
    last_id = f->id;
    timers_woken++;
    ASYNC_END;
}

Test(stress, a_million_timers_across_the_tick_wrap_wake_on_time_in_order)
{
    int i;
    /* One more timer, created last with the latest deadline: the main task. */
    timers = calloc(NTIMERS + 1, sizeof *timers);
    timer_tasks = calloc(NTIMERS + 1, sizeof *timer_tasks);
    cr_assert(timers && timer_tasks);
    asyncio_posix_virtual_time(1, TIMER_START);
    rng_state = 12345;
    for (i = 0; i <= NTIMERS; i++) {
        timers[i].id = i;
        timers[i].ms = i < NTIMERS ? (int32_t)(rng() % TIMER_SPAN) : TIMER_SPAN;
        cr_assert_eq(
            asyncio_create_task(&timer_tasks[i], asyncio_coro_init(&timers[i].co, timer_fn)), 0);
    }
    last_ms = -1;
    cr_assert_eq(
        asyncio_loop_run_until_complete(asyncio_get_event_loop(), &timer_tasks[NTIMERS], NULL), 0);
    cr_assert_eq(timers_woken, NTIMERS + 1);
    cr_assert_eq(asyncio_ticks_ms(), TIMER_START + TIMER_SPAN, "the clock went past the wrap");
    free(timers);
    free(timer_tasks);
}

/* ------------------------------------------------------------------------ */
/* Cancellation storms                                                      */
/* ------------------------------------------------------------------------ */

#define NSTORM 5000
struct stormer {
    asyncio_coro co;
    int id, ignore, started, finished, holding;
    asyncio_gather_state g;
    asyncio_task *gt[2];
    asyncio_outcome out[2];
};
static struct stormer storm[NSTORM];
static asyncio_task storm_t[NSTORM];
static asyncio_event storm_ev;
static asyncio_lock storm_lock;
static int storm_holders, storm_acquired, storm_woken;

/* Carry on after a cancellation this task swallows (one in three do,
 * once), otherwise let it propagate. */
#define STORM_AWAIT(f, stmt)                                                                       \
    do {                                                                                           \
        ASYNC_TRY(stmt);                                                                           \
        if (AWAIT_ERROR == ASYNCIO_ECANCELLED && (f)->ignore-- <= 0)                               \
            ASYNC_RAISE(AWAIT_ERROR);                                                              \
    } while (0)

static int stormer_fn(asyncio_coro *co)
{
    struct stormer *f = (struct stormer *)co;
    int k = f->id % 5;
    ASYNC_BEGIN(co);
    f->started = 1;
    /* Tasks cancel each other: before or while the victim awaits. */
    if (f->id % 4 == 0)
        asyncio_task_cancel(&storm_t[(f->id * 7919 + 13) % NSTORM]);
    if (k == 0) {
        STORM_AWAIT(f, AWAIT_SLEEP_MS(rng() % 50));
    } else if (k == 1) {
        STORM_AWAIT(f, AWAIT_TASK(&storm_t[(f->id + 1) % NSTORM])); /* an Event waiter */
    } else if (k == 2) {
        STORM_AWAIT(f, AWAIT_EVENT(&storm_ev));
        storm_woken += AWAIT_ERROR == 0;
    } else if (k == 3) {
        STORM_AWAIT(f, AWAIT_LOCK(&storm_lock));
        if (AWAIT_ERROR == 0) {
            f->holding = 1;
            storm_acquired++;
            cr_assert_eq(++storm_holders, 1, "two tasks hold the lock");
            STORM_AWAIT(f, YIELD); /* others queue meanwhile */
            f->holding = 0;
            storm_holders--;
            cr_assert_eq(asyncio_lock_release(&storm_lock), 0);
        }
    } else {
        f->gt[0] = &storm_t[(f->id + 1) % NSTORM]; /* a sleeper */
        f->gt[1] = &storm_t[(f->id + 2) % NSTORM]; /* awaiting an Event waiter */
        STORM_AWAIT(f, AWAIT(asyncio_gather(&f->g, f->gt, 2, f->out, f->id & 1)));
    }
    STORM_AWAIT(f, AWAIT_SLEEP_MS(rng() % 10));
    ASYNC_FINALLY;
    if (f->holding) {
        f->holding = 0;
        storm_holders--;
        cr_assert_eq(asyncio_lock_release(&storm_lock), 0);
    }
    cr_assert_eq(f->finished++, 0, "task %d ended twice", f->id);
    ASYNC_END;
}

struct storm_main {
    asyncio_coro co;
    int round, pending;
};
static int storm_main_fn(asyncio_coro *co)
{
    struct storm_main *f = (struct storm_main *)co;
    int i;
    ASYNC_BEGIN(co);
    for (i = 0; i < NSTORM; i++) {
        storm[i].id = i;
        storm[i].ignore = i % 3 == 0;
        cr_assert_eq(asyncio_create_task(&storm_t[i], asyncio_coro_init(&storm[i].co, stormer_fn)),
                     0);
    }
    /* Storms of random cancellations, then the Event, then more storms. */
    for (f->round = 0; f->round < 40; f->round++) {
        for (i = 0; i < 60; i++)
            asyncio_task_cancel(&storm_t[rng() % NSTORM]);
        if (f->round == 20)
            asyncio_event_set(&storm_ev);
        if (f->round & 1)
            YIELD;
        else
            AWAIT_SLEEP_MS(1);
    }
    /* The end: cancel whatever is left until nothing is. */
    for (f->round = 0;; f->round++) {
        f->pending = 0;
        for (i = 0; i < NSTORM; i++)
            if (!asyncio_task_done(&storm_t[i])) {
                f->pending++;
                asyncio_task_cancel(&storm_t[i]);
            }
        if (!f->pending)
            break;
        cr_assert_lt(f->round, 1000, "%d tasks never end", f->pending);
        AWAIT_SLEEP_MS(1);
    }
    ASYNC_END;
}

Test(stress, cancellation_storms_end_every_task_exactly_once_and_free_the_lock)
{
    static struct storm_main m;
    static asyncio_task t;
    int i, seed, cancelled = 0, ok = 0;
    for (seed = 1; seed <= 3; seed++) {
        memset(storm, 0, sizeof storm);
        memset(storm_t, 0, sizeof storm_t);
        memset(&m, 0, sizeof m);
        rng_state = (uint32_t)seed * 2654435761u;
        asyncio_event_init(&storm_ev);
        asyncio_lock_init(&storm_lock);
        storm_holders = 0;
        cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, storm_main_fn), NULL), 0);
        for (i = 0; i < NSTORM; i++) {
            int err = asyncio_task_result(&storm_t[i], NULL);
            cr_assert(asyncio_task_done(&storm_t[i]));
            if (storm[i].started)
                cr_assert_eq(storm[i].finished, 1, "task %d ended %d times", i, storm[i].finished);
            else
                cr_assert_eq(err, ASYNCIO_ECANCELLED, "task %d never ran: %d", i, err);
            cancelled += err == ASYNCIO_ECANCELLED;
            ok += err == 0;
        }
        cr_assert(!asyncio_lock_locked(&storm_lock));
        cr_assert_eq(storm_holders, 0);
        cr_assert_null(storm_lock.waiters.tail, "tasks left waiting on the lock");
        cr_assert_null(storm_ev.waiters.tail, "tasks left waiting on the Event");
    }
    cr_assert_gt(cancelled, NSTORM / 2, "the storms did cancel tasks");
    cr_log_info("storms: %d cancelled, %d ok, lock taken %d times, %d woken by the Event",
                cancelled, ok, storm_acquired, storm_woken);
    cr_assert_gt(ok, 100, "some tasks got through");
    cr_assert_gt(storm_acquired, 100, "the lock changed hands");
    cr_assert_gt(storm_woken, 100, "the Event woke its waiters");
}

/* ------------------------------------------------------------------------ */
/* 10,000 connect/close cycles: no descriptor leaks                         */
/* ------------------------------------------------------------------------ */

#define NCYCLES 10000
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

struct echo_handler {
    asyncio_coro co;
    asyncio_stream *s;
    char line[32];
    char rbuf[64], wbuf[64];
};
static struct echo_handler echo_h[4];
static asyncio_server_slot echo_slots[4];
static asyncio_server echo_srv;

/* One line back, then the server closes first (its side keeps TIME_WAIT). */
static int echo_fn(asyncio_coro *co)
{
    struct echo_handler *h = (struct echo_handler *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_stream_readline(h->s, h->line, sizeof h->line));
    if (AWAIT_RESULT > 0) {
        cr_assert_eq(asyncio_stream_write(h->s, h->line, (size_t)AWAIT_RESULT), 0);
        AWAIT(asyncio_stream_drain(h->s));
    }
    ASYNC_END;
}
static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    struct echo_handler *h = (struct echo_handler *)user;
    h->s = s;
    return asyncio_coro_init(&h->co, echo_fn);
}

struct cycler {
    asyncio_coro co;
    asyncio_stream s;
    int i, port, fds;
    char line[32];
    char rbuf[64], wbuf[64];
};
static int cycler_fn(asyncio_coro *co)
{
    struct cycler *f = (struct cycler *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&echo_srv, on_connect, "127.0.0.1", 0, 64, NULL));
    f->port = asyncio_server_port(&echo_srv);
    for (f->i = 0; f->i <= NCYCLES; f->i++) {
        asyncio_stream_init(&f->s, f->rbuf, sizeof f->rbuf, f->wbuf, sizeof f->wbuf);
        AWAIT(asyncio_open_connection(&f->s, "127.0.0.1", f->port, NULL));
        cr_assert_eq(asyncio_stream_write(&f->s, "ping\n", 5), 0);
        AWAIT(asyncio_stream_drain(&f->s));
        AWAIT(asyncio_stream_readline(&f->s, f->line, sizeof f->line));
        cr_assert_eq(AWAIT_RESULT, 5);
        cr_assert_eq(memcmp(f->line, "ping\n", 5), 0);
        AWAIT(asyncio_stream_readline(&f->s, f->line, sizeof f->line));
        cr_assert_eq(AWAIT_RESULT, 0, "the server closes after one line");
        asyncio_stream_close(&f->s);
        AWAIT(asyncio_stream_wait_closed(&f->s));
        if (f->i == 0)
            f->fds = count_fds(); /* after the first cycle: epoll and the server exist */
    }
    AWAIT_SLEEP_MS(10); /* the last handler ends */
    cr_assert_eq(count_fds(), f->fds, "descriptors leaked over %d cycles", NCYCLES);
    asyncio_server_close(&echo_srv);
    AWAIT(asyncio_server_wait_closed(&echo_srv));
    cr_assert_eq(count_fds(), f->fds - 1, "the listening socket is closed");
    ASYNC_END;
}
Test(stress, ten_thousand_connect_close_cycles_leak_no_descriptor)
{
    static struct cycler c;
    static asyncio_task t;
    int i;
    asyncio_server_init(&echo_srv, echo_slots, 4);
    for (i = 0; i < 4; i++)
        asyncio_server_slot_init(&echo_slots[i], echo_h[i].rbuf, sizeof echo_h[i].rbuf,
                                 echo_h[i].wbuf, sizeof echo_h[i].wbuf, &echo_h[i], NULL);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c.co, cycler_fn), NULL), 0);
}
