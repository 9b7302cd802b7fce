/* SPDX-License-Identifier: MIT */
/* ThreadSafeFlag: the "threadsafeflag" conformance row, plus sets from
 * another thread and from signal handlers with the loop really blocked in
 * asyncio_port_wait() (real time), checking that no wake is ever lost.
 * `make test-tsan` (tests/sync.mk) runs this file under ThreadSanitizer. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "port_posix.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/time.h>

#include "nocriterion.h" /* the TSan build's stand-in for Criterion (tests/sync.mk) */

#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(flag, .init = setup, .timeout = 10);

static void setup_real(void) { asyncio_posix_virtual_time(0, 0); }
TestSuite(flag_threads, .init = setup_real, .timeout = 60);

/* ---- a task that waits on the flag ---- */
struct waiter {
    asyncio_coro co;
    int id;
    asyncio_flag *f;
};
static int waiter_fn(asyncio_coro *co)
{
    struct waiter *f = (struct waiter *)co;
    ASYNC_BEGIN(co);
    trace("task %d", f->id);
    AWAIT_FLAG(f->f);
    trace("task %d done", f->id);
    ASYNC_RETURN(f->id);
    ASYNC_END;
}
static asyncio_coro *waiter(struct waiter *f, int id, asyncio_flag *flag)
{
    f->id = id;
    f->f = flag;
    return asyncio_coro_init(&f->co, waiter_fn);
}

/* ---- the coroutine object flag.wait() ---- */
struct flag_wait {
    asyncio_coro co;
    asyncio_flag *f;
};
static int flag_wait_fn(asyncio_coro *co)
{
    struct flag_wait *f = (struct flag_wait *)co;
    ASYNC_BEGIN(co);
    AWAIT_FLAG(f->f);
    ASYNC_RETURN(1);
    ASYNC_END;
}
static asyncio_coro *flag_wait(struct flag_wait *f, asyncio_flag *flag)
{
    f->f = flag;
    return asyncio_coro_init(&f->co, flag_wait_fn);
}

static void *set_from_thread(void *arg)
{
    asyncio_flag_set((asyncio_flag *)arg);
    return NULL;
}

/* ======================================================================== */
/* threadsafeflag: asyncio_threadsafeflag.py                                 */
/* ======================================================================== */

struct tsf_main {
    asyncio_coro co;
    asyncio_flag flag;
    asyncio_task t[4];
    struct waiter w[4];
    pthread_t th;
};
static int tsf_main_fn(asyncio_coro *co)
{
    struct tsf_main *f = (struct tsf_main *)co;
    ASYNC_BEGIN(co);
    asyncio_flag_init(&f->flag);

    /* Set from within the loop. */
    asyncio_create_task(&f->t[0], waiter(&f->w[0], 1, &f->flag));
    trace("yield");
    YIELD;
    trace("set event");
    asyncio_flag_set(&f->flag);
    trace("yield");
    YIELD;
    trace("wait task");
    AWAIT_TASK(&f->t[0]);

    /* Set from outside any task (here: another thread). */
    trace("----");
    asyncio_create_task(&f->t[1], waiter(&f->w[1], 2, &f->flag));
    trace("yield");
    YIELD;
    trace("set event");
    pthread_create(&f->th, NULL, set_from_thread, &f->flag);
    pthread_join(f->th, NULL);
    trace("yield");
    YIELD;
    trace("wait task");
    AWAIT_TASK(&f->t[1]);

    /* Flag already set: wait() does not block. */
    trace("----");
    trace("set event");
    asyncio_flag_set(&f->flag);
    asyncio_create_task(&f->t[2], waiter(&f->w[2], 3, &f->flag));
    trace("yield");
    YIELD;
    trace("wait task");
    AWAIT_TASK(&f->t[2]);

    /* Set, cleared, and set again. */
    trace("----");
    trace("set event");
    asyncio_flag_set(&f->flag);
    trace("yield");
    YIELD;
    trace("clear event");
    asyncio_flag_clear(&f->flag);
    trace("yield");
    YIELD;
    asyncio_create_task(&f->t[3], waiter(&f->w[3], 4, &f->flag));
    trace("yield");
    YIELD;
    trace("set event");
    asyncio_flag_set(&f->flag);
    trace("yield");
    YIELD;
    trace("wait task");
    AWAIT_TASK(&f->t[3]);
    ASYNC_END;
}

Test(flag, set_wakes_the_waiter_after_the_setter_resumes_and_clear_makes_wait_block)
{
    static struct tsf_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, tsf_main_fn), NULL), 0);
    assert_trace("yield\n"
                 "task 1\n"
                 "set event\n"
                 "yield\n"
                 "wait task\n"
                 "task 1 done\n"
                 "----\n"
                 "yield\n"
                 "task 2\n"
                 "set event\n"
                 "yield\n"
                 "wait task\n"
                 "task 2 done\n"
                 "----\n"
                 "set event\n"
                 "yield\n"
                 "task 3\n"
                 "task 3 done\n"
                 "wait task\n"
                 "----\n"
                 "set event\n"
                 "yield\n"
                 "clear event\n"
                 "yield\n"
                 "yield\n"
                 "task 4\n"
                 "set event\n"
                 "yield\n"
                 "wait task\n"
                 "task 4 done\n");
    cr_assert_eq(asyncio_ticks_ms(), 0, "nothing slept");
}

/* One waiter only: a second waiter gets EBUSY at once, the first is
 * unaffected. */
struct busy_main {
    asyncio_coro co;
    asyncio_flag flag;
    asyncio_task t[2];
    struct waiter w[2];
};
static int busy_main_fn(asyncio_coro *co)
{
    struct busy_main *f = (struct busy_main *)co;
    ASYNC_BEGIN(co);
    asyncio_flag_init(&f->flag);
    asyncio_create_task(&f->t[0], waiter(&f->w[0], 1, &f->flag));
    asyncio_create_task(&f->t[1], waiter(&f->w[1], 2, &f->flag));
    YIELD;
    trace("second waiter done %d, result %d", asyncio_task_done(&f->t[1]),
          asyncio_task_result(&f->t[1], NULL));
    asyncio_flag_set(&f->flag);
    AWAIT_TASK(&f->t[0]);
    trace("first waiter returned %ld", (long)AWAIT_RESULT);
    ASYNC_END;
}

Test(flag, a_second_waiter_is_ebusy_and_the_first_still_wakes)
{
    static struct busy_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, busy_main_fn), NULL), 0);
    assert_trace("task 1\n"
                 "task 2\n"
                 "second waiter done 1, result -1007\n"
                 "task 1 done\n"
                 "first waiter returned 1\n");
}

/* wait() clears the flag: after one set, a first wait returns at once and a
 * second one blocks (here: times out); set() twice is still one wake. */
struct clears_main {
    asyncio_coro co;
    asyncio_flag flag;
    struct flag_wait fw;
    asyncio_wait_for_state wf;
};
static int clears_main_fn(asyncio_coro *co)
{
    struct clears_main *f = (struct clears_main *)co;
    ASYNC_BEGIN(co);
    asyncio_flag_init(&f->flag);
    asyncio_flag_set(&f->flag);
    asyncio_flag_set(&f->flag);
    AWAIT_FLAG(&f->flag);
    trace("first wait returned at %u", asyncio_ticks_ms());
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, flag_wait(&f->fw, &f->flag), 50)));
    trace("second wait: err %d at %u", AWAIT_ERROR, asyncio_ticks_ms());
    ASYNC_END;
}

Test(flag, wait_clears_the_flag_so_the_next_wait_blocks)
{
    static struct clears_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, clears_main_fn), NULL), 0);
    assert_trace("first wait returned at 0\n"
                 "second wait: err -1001 at 50\n");
}

/* A cancelled waiter leaves the flag; the flag can then be waited on again
 * and a set before the new wait is not lost. */
struct cancel_main {
    asyncio_coro co;
    asyncio_flag flag;
    asyncio_task t[2];
    struct waiter w[2];
};
static int cancel_main_fn(asyncio_coro *co)
{
    struct cancel_main *f = (struct cancel_main *)co;
    ASYNC_BEGIN(co);
    asyncio_flag_init(&f->flag);
    asyncio_create_task(&f->t[0], waiter(&f->w[0], 1, &f->flag));
    YIELD;
    trace("cancel -> %d", asyncio_task_cancel(&f->t[0]));
    AWAIT_SLEEP_MS(10);
    trace("cancelled waiter result %d", asyncio_task_result(&f->t[0], NULL));
    asyncio_flag_set(&f->flag);
    AWAIT_SLEEP_MS(10);
    asyncio_create_task(&f->t[1], waiter(&f->w[1], 2, &f->flag));
    AWAIT_TASK(&f->t[1]);
    trace("second waiter returned %ld at %u", (long)AWAIT_RESULT, asyncio_ticks_ms());
    ASYNC_END;
}

Test(flag, cancelled_waiter_leaves_the_flag_and_a_later_set_is_kept)
{
    static struct cancel_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_main_fn), NULL), 0);
    assert_trace("task 1\n"
                 "cancel -> 1\n"
                 "cancelled waiter result -1000\n"
                 "task 2\n"
                 "task 2 done\n"
                 "second waiter returned 2 at 20\n");
}

/* ---- a flag that lives in its waiter's frame (heap storage) ---- */
struct owner {
    asyncio_coro co;
    asyncio_flag flag;
};
static int owner_fn(asyncio_coro *co)
{
    struct owner *f = (struct owner *)co;
    ASYNC_BEGIN(co);
    AWAIT_FLAG(&f->flag);
    trace("owner woken");
    ASYNC_END;
}

struct free_main {
    asyncio_coro co;
    struct owner *own[2];
    asyncio_task t[2], other_task;
    asyncio_flag other;
    struct waiter w;
    int i;
};
/* Poison and free an owner's frame (and so its flag): the loop must not
 * touch it again (ASan and valgrind builds report any access; the poison
 * makes a stray read of the waiter pointer crash in the others). */
static void free_owner(struct owner *o)
{
    memset(o, 0xA5, sizeof *o);
    free(o);
}
static int free_main_fn(asyncio_coro *co)
{
    struct free_main *f = (struct free_main *)co;
    ASYNC_BEGIN(co);
    asyncio_flag_init(&f->other); /* a second flag keeps the loop polling */
    asyncio_create_task(&f->other_task, waiter(&f->w, 9, &f->other));
    for (f->i = 0; f->i < 2; f->i++) {
        f->own[f->i] = calloc(1, sizeof *f->own[f->i]);
        asyncio_flag_init(&f->own[f->i]->flag);
        asyncio_create_task(&f->t[f->i], asyncio_coro_init(&f->own[f->i]->co, owner_fn));
    }
    YIELD;                              /* both owners and the other waiter park */
    asyncio_flag_set(&f->own[0]->flag); /* owner 0: woken by its flag */
    asyncio_task_cancel(&f->t[1]);      /* owner 1: cancelled while it waits */
    AWAIT_TASK(&f->t[0]);
    trace("owner 0 returned");
    ASYNC_TRY(AWAIT_TASK(&f->t[1]));
    trace("owner 1: %d", AWAIT_ERROR);
    free_owner(f->own[0]);
    free_owner(f->own[1]);
    for (f->i = 0; f->i < 3; f->i++)
        YIELD; /* the loop polls its flag waiters between these steps */
    asyncio_flag_set(&f->other);
    AWAIT_TASK(&f->other_task);
    ASYNC_END;
}

Test(flag, a_flag_in_its_waiters_frame_may_be_freed_once_the_waiter_is_done)
{
    static struct free_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, free_main_fn), NULL), 0);
    assert_trace("task 9\n"
                 "owner woken\n"
                 "owner 0 returned\n"
                 "owner 1: -1000\n"
                 "task 9 done\n");
}

/* ======================================================================== */
/* Sets from another thread and from signal handlers, real time             */
/* ======================================================================== */

/* Handshake: the setter sets the flag for round i only once the task has
 * acknowledged round i - 1, so every set must produce exactly one wake. A
 * lost wake leaves the loop blocked in asyncio_port_wait(-1) for ever (the
 * test then times out). */
#define ROUNDS 10000
static asyncio_flag g_flag;
static int g_ack;  /* rounds the task has seen (atomic) */
static int g_sent; /* rounds the setter has signalled (atomic) */
static pthread_t g_loop_thread;

struct counter {
    asyncio_coro co;
    int n, i;
};
static int counter_fn(asyncio_coro *co)
{
    struct counter *f = (struct counter *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < f->n; f->i++) {
        AWAIT_FLAG(&g_flag);
        __atomic_store_n(&g_ack, f->i + 1, __ATOMIC_RELEASE);
    }
    ASYNC_RETURN(f->i);
    ASYNC_END;
}

static void wait_for_ack(int round)
{
    while (__atomic_load_n(&g_ack, __ATOMIC_ACQUIRE) != round)
        sched_yield();
}

static void *thread_setter(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        wait_for_ack(i);
        asyncio_flag_set(&g_flag);
    }
    return NULL;
}

static void run_counter(int n)
{
    static struct counter c;
    static asyncio_task t;
    asyncio_value v = 0;
    c.n = n;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c.co, counter_fn), &v), 0);
    cr_assert_eq(v, n);
    cr_assert_eq(__atomic_load_n(&g_ack, __ATOMIC_ACQUIRE), n);
}

Test(flag_threads, ten_thousand_sets_from_another_thread_lose_no_wake)
{
    pthread_t th;
    int n = ROUNDS;
    asyncio_flag_init(&g_flag); /* also readies the port: a set may come at once */
    cr_assert_eq(pthread_create(&th, NULL, thread_setter, &n), 0);
    run_counter(n);
    pthread_join(th, NULL);
}

static void on_signal_set(int sig)
{
    (void)sig;
    asyncio_flag_set(&g_flag);
}

/* A second thread signals the loop thread (pthread_kill); the handler sets
 * the flag, usually interrupting poll() in asyncio_port_wait(). */
static void *thread_killer(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        wait_for_ack(i);
        pthread_kill(g_loop_thread, SIGUSR1);
    }
    return NULL;
}

Test(flag_threads, ten_thousand_sets_from_a_signal_handler_lose_no_wake)
{
    struct sigaction sa;
    pthread_t th;
    int n = ROUNDS;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_set;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    asyncio_flag_init(&g_flag);
    asyncio_get_event_loop(); /* the port (wake pipe) is ready before any set */
    g_loop_thread = pthread_self();
    cr_assert_eq(pthread_create(&th, NULL, thread_killer, &n), 0);
    run_counter(n);
    pthread_join(th, NULL);
}

/* An interval timer: the SIGALRM handler sets the flag for the next round
 * once the task acknowledged the previous one (an "interrupt" with its own
 * pace, unrelated to the loop). */
static void on_alarm(int sig)
{
    int sent = __atomic_load_n(&g_sent, __ATOMIC_ACQUIRE);
    (void)sig;
    if (sent < ROUNDS && __atomic_load_n(&g_ack, __ATOMIC_ACQUIRE) == sent) {
        __atomic_store_n(&g_sent, sent + 1, __ATOMIC_RELEASE);
        asyncio_flag_set(&g_flag);
    }
}

Test(flag_threads, sets_from_a_timer_signal_handler_lose_no_wake)
{
    struct sigaction sa;
    struct itimerval it;
    int n = 300;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
    asyncio_flag_init(&g_flag);
    asyncio_get_event_loop();
    memset(&it, 0, sizeof it);
    it.it_interval.tv_usec = 200;
    it.it_value.tv_usec = 200;
    cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
    run_counter(n);
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    cr_assert_geq(__atomic_load_n(&g_sent, __ATOMIC_ACQUIRE), n);
}
