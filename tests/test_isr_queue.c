/* SPDX-License-Identifier: MIT */
/* The interrupt-safe queue (issue 15): a ring the caller provides, put from
 * an interrupt handler, a signal handler or another thread (one producer),
 * get awaited by one task. Overflow is counted and reported once, at the
 * place of the loss. The real-time tests put 100,000 sequence numbers from
 * another thread and from a signal handler; `make test-tsan` (tests/sync.mk)
 * runs this file under ThreadSanitizer. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "nocriterion.h" /* first: the TSan build's stand-in for Criterion */

#include "port_posix.h"
#include "trace.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(isr_queue, .init = setup, .timeout = 10);

static void setup_real(void) { asyncio_posix_virtual_time(0, 0); }
TestSuite(isr_queue_threads, .init = setup_real, .timeout = 60);

/* ======================================================================== */
/* Overflow, on one thread (exact)                                          */
/* ======================================================================== */

static void drain(asyncio_isr_queue *q)
{
    asyncio_value v = 0;
    int r;
    while ((r = asyncio_isr_queue_get_nowait(q, &v)) != ASYNCIO_EQUEUEEMPTY) {
        if (r == ASYNCIO_OK)
            trace("%d", (int)v);
        else
            trace("%s (%u dropped)", asyncio_strerror(r), asyncio_isr_queue_dropped(q));
    }
    trace("empty");
}

Test(isr_queue, a_full_ring_drops_counts_and_reports_once_where_items_were_lost)
{
    asyncio_isr_queue q;
    asyncio_value buf[4];
    int i, full = 0;
    cr_assert_eq(asyncio_isr_queue_init(&q, buf, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_isr_queue_init(&q, buf, 4), 0);
    for (i = 0; i < 10; i++)
        full += asyncio_isr_queue_put(&q, i) == ASYNCIO_EQUEUEFULL;
    cr_assert_eq(full, 6);
    cr_assert_eq(asyncio_isr_queue_qsize(&q), 4);
    drain(&q);
    cr_assert_eq(asyncio_isr_queue_put(&q, 10), 0);
    drain(&q);
    /* A loss in the middle is reported between the items around it. */
    for (i = 11; i < 16; i++)
        asyncio_isr_queue_put(&q, i); /* 15 is dropped */
    cr_assert_eq(asyncio_isr_queue_get_nowait(&q, NULL), 0);
    trace("took 11");
    asyncio_isr_queue_put(&q, 16);
    drain(&q);
    assert_trace("0\n1\n2\n3\n"
                 "overrun: a full ring dropped data (6 dropped)\n"
                 "empty\n"
                 "10\n"
                 "empty\n"
                 "took 11\n"
                 "12\n13\n14\n"
                 "overrun: a full ring dropped data (7 dropped)\n"
                 "16\n"
                 "empty\n");
}

/* ======================================================================== */
/* A task awaits get; one getter only; cancellation takes nothing          */
/* ======================================================================== */

static asyncio_isr_queue g_q;
static asyncio_value g_buf[256];

struct getter {
    asyncio_coro co;
    int id;
};
static int getter_fn(asyncio_coro *co)
{
    struct getter *f = (struct getter *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_ISR_QUEUE_GET(&g_q));
    if (AWAIT_ERROR)
        trace("getter %d: %s", f->id, asyncio_strerror(AWAIT_ERROR));
    else
        trace("getter %d: %d at %u", f->id, (int)AWAIT_RESULT, (unsigned)asyncio_ticks_ms());
    ASYNC_END;
}

struct task_main {
    asyncio_coro co;
    asyncio_task t[3];
    struct getter g[3];
    asyncio_wait_for_state wf;
    asyncio_op op;
};
static int task_main_fn(asyncio_coro *co)
{
    struct task_main *f = (struct task_main *)co;
    ASYNC_BEGIN(co);
    f->g[0].id = 0;
    f->g[1].id = 1;
    asyncio_create_task(&f->t[0], asyncio_coro_init(&f->g[0].co, getter_fn));
    asyncio_create_task(&f->t[1], asyncio_coro_init(&f->g[1].co, getter_fn));
    AWAIT_SLEEP_MS(10);
    asyncio_isr_queue_put(&g_q, 42); /* as an interrupt handler would */
    AWAIT_TASK(&f->t[0]);
    /* Cancelled while waiting: the next item stays in the ring. */
    f->g[2].id = 2;
    asyncio_create_task(&f->t[2], asyncio_coro_init(&f->g[2].co, getter_fn));
    AWAIT_SLEEP_MS(10);
    asyncio_task_cancel(&f->t[2]);
    YIELD;
    asyncio_isr_queue_put(&g_q, 43);
    trace("qsize %zu", asyncio_isr_queue_qsize(&g_q));
    AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_isr_queue_get(&f->op, &g_q), 100));
    trace("wait_for got %d", (int)AWAIT_RESULT);
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_isr_queue_get(&f->op, &g_q), 100)));
    trace("wait_for %s at %u", asyncio_strerror(AWAIT_ERROR), (unsigned)asyncio_ticks_ms());
    ASYNC_END;
}

Test(isr_queue, one_task_awaits_get_a_second_is_ebusy_cancel_takes_nothing)
{
    static struct task_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_isr_queue_init(&g_q, g_buf, 4), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, task_main_fn), NULL), 0);
    assert_trace("getter 1: busy\n"
                 "getter 0: 42 at 10\n"
                 "getter 2: cancelled\n"
                 "qsize 1\n"
                 "wait_for got 43\n"
                 "wait_for timed out at 120\n");
}

/* ======================================================================== */
/* 100,000 sequence numbers from another thread / a signal handler          */
/* ======================================================================== */

#define N 100000u
static pthread_t g_loop_thread;

/* The consumer: checks order, counts gaps and reports. A number below the
 * next expected one is a duplicate or a reordering; a gap not preceded by
 * an overrun report is a silent loss. Stops at the sentinel N. */
struct consumer {
    asyncio_coro co;
    uint32_t next, got, gaps, lost, overruns, stall_every;
    int bad; /* 1: out of order, 2: silent loss */
};
static int consumer_fn(asyncio_coro *co)
{
    struct consumer *f = (struct consumer *)co;
    uint32_t v;
    ASYNC_BEGIN(co);
    for (;;) {
        ASYNC_TRY(AWAIT_ISR_QUEUE_GET(&g_q));
        if (AWAIT_ERROR == ASYNCIO_EOVERRUN) {
            f->overruns++;
            continue;
        }
        if (AWAIT_ERROR)
            ASYNC_RAISE(AWAIT_ERROR);
        v = (uint32_t)AWAIT_RESULT;
        if (v < f->next) {
            f->bad = 1;
            ASYNC_RETURN(0);
        }
        if (v > f->next) {
            f->gaps++;
            f->lost += v - f->next;
            if (f->overruns == 0)
                f->bad = 2;
        }
        if (v == N)
            break;
        f->next = v + 1;
        f->got++;
        if (f->stall_every && f->got % f->stall_every == 0)
            nanosleep(&(struct timespec){0, 2000000}, NULL); /* a slow task: 2 ms */
    }
    ASYNC_END;
}

static struct consumer run_consumer(uint32_t stall_every)
{
    static struct consumer c;
    static asyncio_task t;
    memset(&c, 0, sizeof c);
    c.stall_every = stall_every;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c.co, consumer_fn), NULL), 0);
    cr_assert_eq(c.bad, 0);
    return c;
}

/* Put `v` once there is room (the producer keeps pace with the task). */
static void put_paced(asyncio_value v)
{
    while (asyncio_isr_queue_qsize(&g_q) >= 64)
        sched_yield();
    cr_assert_eq(asyncio_isr_queue_put(&g_q, v), 0);
}

static void *paced_producer(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i <= N; i++) /* N: the sentinel */
        put_paced(i);
    return NULL;
}

Test(isr_queue_threads, a_thread_puts_100000_numbers_none_lost_or_reordered)
{
    pthread_t th;
    struct consumer c;
    cr_assert_eq(asyncio_isr_queue_init(&g_q, g_buf, 64), 0);
    cr_assert_eq(pthread_create(&th, NULL, paced_producer, NULL), 0);
    c = run_consumer(0);
    pthread_join(th, NULL);
    cr_assert_eq(c.got, N);
    cr_assert_eq(c.gaps, 0);
    cr_assert_eq(c.overruns, 0);
    cr_assert_eq(asyncio_isr_queue_dropped(&g_q), 0);
}

/* The signal handler (on the loop thread, so it interrupts the task and the
 * loop anywhere) puts up to 32 numbers while there is room. */
static uint32_t g_sig_next; /* next number the handler puts (atomic) */
static void on_signal_put(int sig)
{
    uint32_t i = __atomic_load_n(&g_sig_next, __ATOMIC_RELAXED);
    (void)sig;
    for (int k = 0; k < 32 && i <= N && asyncio_isr_queue_qsize(&g_q) < 256; k++, i++)
        asyncio_isr_queue_put(&g_q, i);
    __atomic_store_n(&g_sig_next, i, __ATOMIC_RELEASE);
}

static void *signaller(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&g_sig_next, __ATOMIC_ACQUIRE) <= N) {
        pthread_kill(g_loop_thread, SIGUSR1);
        sched_yield();
    }
    return NULL;
}

Test(isr_queue_threads, a_signal_handler_puts_100000_numbers_none_lost_or_reordered)
{
    struct sigaction sa;
    pthread_t th;
    struct consumer c;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_put;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    cr_assert_eq(asyncio_isr_queue_init(&g_q, g_buf, 256), 0);
    g_loop_thread = pthread_self();
    cr_assert_eq(pthread_create(&th, NULL, signaller, NULL), 0);
    c = run_consumer(0);
    pthread_join(th, NULL);
    cr_assert_eq(c.got, N);
    cr_assert_eq(c.gaps, 0);
    cr_assert_eq(c.overruns, 0);
    cr_assert_eq(asyncio_isr_queue_dropped(&g_q), 0);
}

/* The task stalls (blocks the loop) until the producer has put all 100,000
 * numbers: the first 64 fit, the rest are dropped and reported once; then
 * the producer puts more, paced, and the task carries on. */
static int g_phase; /* 1: unpaced burst done, 2: task drained (atomic) */
static void *burst_producer(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < N; i++)
        asyncio_isr_queue_put(&g_q, i);
    __atomic_store_n(&g_phase, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&g_phase, __ATOMIC_ACQUIRE) != 2)
        sched_yield();
    for (uint32_t i = N - 100; i <= N; i++)
        put_paced(i);
    return NULL;
}

struct staller {
    asyncio_coro co;
    struct consumer c;
    uint32_t early[64];
    int n_early, overrun;
};
static int staller_fn(asyncio_coro *co)
{
    struct staller *f = (struct staller *)co;
    asyncio_value v = 0;
    int r;
    ASYNC_BEGIN(co);
    while (__atomic_load_n(&g_phase, __ATOMIC_ACQUIRE) != 1)
        sched_yield(); /* stalled: the loop does not run */
    while ((r = asyncio_isr_queue_get_nowait(&g_q, &v)) != ASYNCIO_EQUEUEEMPTY) {
        if (r == ASYNCIO_EOVERRUN)
            f->overrun++;
        else if (f->n_early < 64)
            f->early[f->n_early++] = (uint32_t)v;
    }
    __atomic_store_n(&g_phase, 2, __ATOMIC_RELEASE);
    f->c.next = N - 100;
    AWAIT(asyncio_coro_init(&f->c.co, consumer_fn));
    ASYNC_END;
}

Test(isr_queue_threads, a_stalled_task_sees_the_overflow_reported_then_carries_on)
{
    static struct staller s;
    static asyncio_task t;
    pthread_t th;
    cr_assert_eq(asyncio_isr_queue_init(&g_q, g_buf, 64), 0);
    cr_assert_eq(pthread_create(&th, NULL, burst_producer, NULL), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&s.co, staller_fn), NULL), 0);
    pthread_join(th, NULL);
    cr_assert_eq(s.n_early, 64);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(s.early[i], (uint32_t)i);
    cr_assert_eq(s.overrun, 1);
    cr_assert_eq(asyncio_isr_queue_dropped(&g_q), N - 64);
    cr_assert_eq(s.c.bad, 0);
    cr_assert_eq(s.c.got, 100);
    cr_assert_eq(s.c.gaps, 0);
}

/* An unpaced producer racing a task that stalls every 5,000 items: order
 * holds, every lost number is counted, no loss is silent (a report never
 * comes after the gap it covers; when new losses race with a report, the
 * next report may come before its gap, or cover two gaps). */
static void *racing_producer(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < N; i++) {
        asyncio_isr_queue_put(&g_q, i);
        if (i % 16 == 0)
            sched_yield();
    }
    put_paced(N);
    return NULL;
}

Test(isr_queue_threads, racing_overflow_keeps_order_and_accounts_for_every_drop)
{
    pthread_t th;
    struct consumer c;
    cr_assert_eq(asyncio_isr_queue_init(&g_q, g_buf, 64), 0);
    cr_assert_eq(pthread_create(&th, NULL, racing_producer, NULL), 0);
    c = run_consumer(5000);
    pthread_join(th, NULL);
    cr_assert_eq(c.got + c.lost, N);
    cr_assert_eq(c.lost, asyncio_isr_queue_dropped(&g_q));
    cr_assert(c.lost == 0 || c.overruns > 0);
    cr_assert_leq(c.overruns, c.lost); /* each report covers at least one loss */
}

/* Two puts close together, the second landing while the task resumes from
 * the first: the task's consume of the flag must not erase the second
 * put's wake-up. The producer then waits for both to be taken; an item left
 * in the ring for 2 s is a lost wake-up; the test stops at the first. With
 * the consume as a plain store, the clang build lost one within the first
 * 6,000 pairs in every run, the gcc build (another code layout) rarely in
 * 150,000. `taken` is a plain store, not a read-modify-write: a locked
 * instruction in the task would drain the store buffer and hide the bug. */
#define PAIRS 150000u
static uint32_t g_taken; /* written by the task (atomic) */
static int g_lost_at;    /* written by the producer, read after the join */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static void *pair_producer(void *arg)
{
    uint32_t seed = 1, put = 0;
    (void)arg;
    g_lost_at = -1;
    while (put < 2 * PAIRS && g_lost_at < 0) {
        uint64_t t0;
        asyncio_isr_queue_put(&g_q, put++);
        seed = seed * 1103515245u + 12345u;
        for (volatile uint32_t k = (seed >> 12) & 16383; k > 0; k--) {
        } /* 0 to ~15 us: sweeps the second put across the task's resume */
        asyncio_isr_queue_put(&g_q, put++);
        t0 = now_ns();
        while (__atomic_load_n(&g_taken, __ATOMIC_ACQUIRE) < put && g_lost_at < 0)
            if (now_ns() - t0 > 2000000000u)
                g_lost_at = (int)put;
    }
    asyncio_isr_queue_put(&g_q, 2 * PAIRS); /* the sentinel: ends the task */
    return NULL;
}

struct pair_taker {
    asyncio_coro co;
};
static int pair_taker_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT_ISR_QUEUE_GET(&g_q);
        if (AWAIT_RESULT == 2 * PAIRS)
            break;
        __atomic_store_n(&g_taken, __atomic_load_n(&g_taken, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELEASE);
    }
    ASYNC_END;
}

Test(isr_queue_threads, a_put_while_the_task_resumes_from_the_last_one_is_never_lost)
{
    static struct pair_taker p;
    static asyncio_task t;
    pthread_t th;
    skip_under_valgrind("valgrind runs one thread at a time: no race to lose");
    cr_assert_eq(asyncio_isr_queue_init(&g_q, g_buf, 8), 0);
    cr_assert_eq(pthread_create(&th, NULL, pair_producer, NULL), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&p.co, pair_taker_fn), NULL), 0);
    pthread_join(th, NULL);
    cr_assert_eq(g_lost_at, -1, "the wake-up for item %d was lost", g_lost_at);
    cr_assert_eq(g_taken, 2 * PAIRS);
}
