/* SPDX-License-Identifier: MIT */
/*
 * The loop, the timer heap and misuse: every misuse returns its documented
 * error, and an error nobody retrieves reaches the exception handler.
 */
#define _POSIX_C_SOURCE 200809L
#include "port_posix.h"
#include "trace.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static void virtual_clock(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(loop, .init = virtual_clock, .timeout = 10);
TestSuite(misuse, .init = virtual_clock, .timeout = 10);
TestSuite(timers, .init = virtual_clock, .timeout = 30);

static int last_handler_error;
static asyncio_task *last_handler_task;
static void record_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    last_handler_error = ctx->error;
    last_handler_task = ctx->task;
    trace("handler: %s", asyncio_strerror(ctx->error));
}

/* Sleeps `ms` then traces its id. */
struct sleeper {
    asyncio_coro co;
    int id;
    int64_t ms;
};
static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = (struct sleeper *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    trace("%d", f->id);
    ASYNC_RETURN(f->id);
    ASYNC_END;
}
static asyncio_coro *sleeper(struct sleeper *f, int id, int64_t ms)
{
    f->id = id;
    f->ms = ms;
    return asyncio_coro_init(&f->co, sleeper_fn);
}

/* ------------------------------------------------------------------------ */
/* event_queue: the loop waits for a wake from outside any task             */
/* ------------------------------------------------------------------------ */

static asyncio_event evt;
static asyncio_flag scheduled; /* set by a signal handler: "micropython.schedule" */

static void on_alarm(int sig)
{
    (void)sig;
    asyncio_flag_set(&scheduled);
}

static void alarm_in_ms(long ms)
{
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Runs the "scheduled callback" in the loop's thread, as MicroPython does. */
static int watchdog_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_FLAG(&scheduled);
    trace("asyncio still pending, unlocking event");
    asyncio_event_set(&evt);
    ASYNC_END;
}

struct foo {
    asyncio_coro co, watchdog;
    asyncio_task tw;
};
static int foo_fn(asyncio_coro *co)
{
    struct foo *f = (struct foo *)co;
    ASYNC_BEGIN(co);
    trace("foo waiting");
    asyncio_create_task(&f->tw, asyncio_coro_init(&f->watchdog, watchdog_fn));
    alarm_in_ms(100);
    AWAIT_EVENT(&evt);
    trace("foo done");
    ASYNC_END;
}

struct eq_main {
    asyncio_coro co;
    struct foo foo;
};
static int eq_main_fn(asyncio_coro *co)
{
    struct eq_main *f = (struct eq_main *)co;
    ASYNC_BEGIN(co);
    trace("main started");
    AWAIT(asyncio_coro_init(&f->foo.co, foo_fn));
    trace("main done");
    ASYNC_END;
}

Test(loop, event_queue_an_idle_loop_waits_for_a_signal_handler_to_wake_it)
{
    static struct eq_main m;
    static asyncio_task t;
    asyncio_event_init(&evt);
    asyncio_flag_init(&scheduled);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, eq_main_fn), NULL), 0);
    assert_trace("main started\nfoo waiting\nasyncio still pending, unlocking event\nfoo done\n"
                 "main done\n");
}

static int wait_forever_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_EVENT(&evt);
    ASYNC_END;
}

static volatile int loop_returned;
static void *run_waiting_main(void *arg)
{
    static asyncio_coro m;
    (void)arg;
    asyncio_run((asyncio_task *)arg, asyncio_coro_init(&m, wait_forever_fn), NULL);
    loop_returned = 1;
    return NULL;
}

Test(loop, with_nothing_that_could_wake_main_the_loop_keeps_waiting_instead_of_returning)
{
    static asyncio_task t;
    pthread_t th;
    struct timespec ms100 = {0, 100 * 1000 * 1000};
    asyncio_event_init(&evt);
    pthread_create(&th, NULL, run_waiting_main, &t);
    nanosleep(&ms100, NULL);
    asyncio_port_wake(); /* a stray wake changes nothing */
    nanosleep(&ms100, NULL);
    cr_assert_eq(loop_returned, 0);
    cr_assert(!asyncio_task_done(&t));
    pthread_detach(th); /* the test process ends with the loop still waiting */
}

/* ------------------------------------------------------------------------ */
/* Loop API                                                                 */
/* ------------------------------------------------------------------------ */

Test(loop, run_until_complete_of_a_done_task_returns_its_result_again)
{
    static struct sleeper s;
    static asyncio_task t;
    asyncio_value v = 0;
    asyncio_loop *loop = asyncio_get_event_loop();
    cr_assert_eq(asyncio_run(&t, sleeper(&s, 7, 5), &v), 0);
    v = 0;
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &t, &v), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(asyncio_task_result(&t, &v), 0);
}

Test(loop, close_drops_pending_tasks_and_refuses_work_until_a_new_loop)
{
    static struct sleeper s1, s2;
    static asyncio_task t1, t2;
    asyncio_loop *loop = asyncio_get_event_loop();
    cr_assert_eq(asyncio_create_task(&t1, sleeper(&s1, 1, 5)), 0);
    cr_assert_eq(asyncio_loop_close(loop), 0);
    cr_assert_eq(asyncio_create_task(&t2, sleeper(&s2, 2, 5)), ASYNCIO_ECLOSED);
    cr_assert_eq(asyncio_loop_run_forever(loop), ASYNCIO_ECLOSED);
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &t1, NULL), ASYNCIO_ECLOSED,
                 "closed, not EINVAL for the task close() dropped");
    cr_assert_eq(asyncio_task_cancel(&t1), 0, "a dropped task is no longer pending");
    loop = asyncio_new_event_loop();
    cr_assert_eq(asyncio_create_task(&t1, sleeper(&s1, 1, 5)), 0, "its storage is free again");
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &t1, NULL), 0);
    assert_trace("1\n");
}

Test(loop, stop_outside_run_forever_does_nothing)
{
    static struct sleeper s;
    static asyncio_task t;
    asyncio_loop_stop(asyncio_get_event_loop());
    cr_assert_eq(asyncio_run(&t, sleeper(&s, 3, 5), NULL), 0);
    assert_trace("3\n");
}

struct reentry {
    asyncio_coro co;
    struct sleeper s;
    asyncio_task t;
};
static int reentry_fn(asyncio_coro *co)
{
    struct reentry *f = (struct reentry *)co;
    asyncio_loop *loop = asyncio_get_event_loop();
    ASYNC_BEGIN(co);
    trace("run %s", asyncio_strerror(asyncio_run(&f->t, sleeper(&f->s, 1, 1), NULL)));
    trace("run_forever %s", asyncio_strerror(asyncio_loop_run_forever(loop)));
    trace("close %s", asyncio_strerror(asyncio_loop_close(loop)));
    trace("new_event_loop %s", asyncio_new_event_loop() ? "loop" : "NULL");
    ASYNC_END;
}

Test(misuse, running_closing_or_resetting_a_running_loop_is_ebusy)
{
    static struct reentry r;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&r.co, reentry_fn), NULL), 0);
    assert_trace("run busy\nrun_forever busy\nclose busy\nnew_event_loop NULL\n");
}

/* ------------------------------------------------------------------------ */
/* Misuse of tasks                                                          */
/* ------------------------------------------------------------------------ */

Test(misuse, create_task_rejects_null_started_coroutines_and_pending_tasks)
{
    static struct sleeper s1, s2;
    static asyncio_task t1, t2;
    cr_assert_eq(asyncio_create_task(NULL, sleeper(&s1, 1, 1)), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_create_task(&t1, NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_create_task(&t1, sleeper(&s1, 1, 1)), 0);
    cr_assert_eq(asyncio_create_task(&t1, sleeper(&s2, 2, 1)), ASYNCIO_EBUSY);
    s2.co.line = 42; /* a coroutine that has already started */
    cr_assert_eq(asyncio_create_task(&t2, &s2.co), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_loop_run_until_complete(asyncio_get_event_loop(), &t1, NULL), 0);
}

Test(misuse, task_queries_reject_null_and_unfinished_tasks)
{
    static struct sleeper s;
    static asyncio_task t, never;
    asyncio_value v;
    cr_assert_eq(asyncio_task_cancel(NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_task_cancel(&never), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_task_result(NULL, &v), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_task_result(&never, &v), ASYNCIO_ESTATE);
    cr_assert_eq(asyncio_create_task(&t, sleeper(&s, 1, 1)), 0);
    cr_assert_eq(asyncio_task_result(&t, &v), ASYNCIO_ESTATE);
    cr_assert(!asyncio_task_done(NULL));
    cr_assert_eq(asyncio_loop_run_until_complete(asyncio_get_event_loop(), &never, NULL),
                 ASYNCIO_EINVAL);
}

struct bad_awaits {
    asyncio_coro co;
    asyncio_task never;
};
static int bad_awaits_fn(asyncio_coro *co)
{
    struct bad_awaits *f = (struct bad_awaits *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_TASK(asyncio_current_task(NULL)));
    trace("await self: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_TASK(&f->never));
    trace("await a task never created: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(NULL));
    trace("await NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_SLEEP(1.0 / 0.0));
    trace("sleep(inf): %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_SLEEP_MS(INT64_MAX));
    trace("sleep_ms(huge): %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_SLEEP(-1.0 / 0.0));
    trace("sleep(-inf): %d", AWAIT_ERROR);
    ASYNC_END;
}

Test(misuse, bad_awaits_return_clear_errors_and_the_task_carries_on)
{
    static struct bad_awaits b;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&b.co, bad_awaits_fn), NULL), 0);
    assert_trace("await self: can't wait\nawait a task never created: invalid argument\n"
                 "await NULL: invalid argument\nsleep(inf): ticks interval overflow\n"
                 "sleep_ms(huge): ticks interval overflow\nsleep(-inf): 0\n");
}

static int cancel_self_fn(asyncio_coro *co)
{
    int r;
    ASYNC_BEGIN(co);
    YIELD;
    r = asyncio_task_cancel(asyncio_current_task(NULL));
    ASYNC_RAISE(r);
    ASYNC_END;
}

struct misuse_main {
    asyncio_coro co, child;
    asyncio_task t;
};
static int misuse_main_fn(asyncio_coro *co)
{
    struct misuse_main *f = (struct misuse_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t, asyncio_coro_init(&f->child, cancel_self_fn));
    AWAIT_SLEEP_MS(10);
    trace("main carries on");
    ASYNC_END;
}

Test(misuse, an_unhandled_misuse_error_reaches_the_exception_handler)
{
    static struct misuse_main m;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), record_handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, misuse_main_fn), NULL), 0);
    cr_assert_eq(last_handler_error, ASYNCIO_ESELF);
    cr_assert_eq(last_handler_task, &m.t);
    assert_trace("handler: can't cancel self\nmain carries on\n");
}

static int lost_fn(asyncio_coro *co)
{
    (void)co;
    return ASYNCIO_PENDING; /* "suspends" without waiting on anything */
}

Test(misuse, a_task_that_suspends_without_waiting_on_anything_fails_with_ecorrupt)
{
    static asyncio_coro c;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), record_handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c, lost_fn), NULL), ASYNCIO_ECORRUPT);
}

static int leaf_outside_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(1);
    ASYNC_END;
}

Test(misuse, awaiting_outside_a_running_task_is_enoloop)
{
    static asyncio_coro c;
    asyncio_coro_init(&c, leaf_outside_fn);
    cr_assert_eq(c.fn(&c), ASYNCIO_ENOLOOP);
}

Test(misuse, error_codes_outside_16_bits_become_einval)
{
    cr_assert_eq(asyncio_error_code_(-40000), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_error_code_(0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_error_code_(ASYNCIO_EUSER(30000)), ASYNCIO_EUSER(30000));
    cr_assert_str_eq(asyncio_strerror(ASYNCIO_OSERROR(104)), "OSError");
    cr_assert_str_eq(asyncio_strerror(ASYNCIO_EUSER(3)), "application error");
}

/* ------------------------------------------------------------------------ */
/* Timer heap                                                               */
/* ------------------------------------------------------------------------ */

#define NT 2000
static struct sleeper ss[NT];
static asyncio_task ts[NT];
static int woke[NT], nwoke;

static int record_fn(asyncio_coro *co)
{
    struct sleeper *f = (struct sleeper *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    woke[nwoke++] = f->id;
    ASYNC_END;
}

struct spawner {
    asyncio_coro co;
    int n, cancel_every;
};
static int spawner_fn(asyncio_coro *co)
{
    struct spawner *f = (struct spawner *)co;
    int i;
    ASYNC_BEGIN(co);
    for (i = 0; i < f->n; i++) {
        ss[i].id = i;
        asyncio_create_task(&ts[i], asyncio_coro_init(&ss[i].co, record_fn));
    }
    YIELD; /* every task is now asleep */
    if (f->cancel_every)
        for (i = 0; i < f->n; i += f->cancel_every)
            asyncio_task_cancel(&ts[i]);
    AWAIT_SLEEP_MS(0x10000000);
    ASYNC_END;
}

/* The order the heap must produce: by wake tick, then by sleep order. */
static int expected_before(int a, int b)
{
    if (ss[a].ms != ss[b].ms)
        return ss[a].ms < ss[b].ms;
    return a < b;
}

static void check_wake_order(int n, int cancel_every)
{
    int i, k = 0;
    static int expect[NT];
    for (i = 0; i < n; i++)
        if (!cancel_every || i % cancel_every)
            expect[k++] = i;
    for (i = 1; i < k; i++) { /* insertion sort by the expected order */
        int v = expect[i], j = i - 1;
        while (j >= 0 && expected_before(v, expect[j])) {
            expect[j + 1] = expect[j];
            j--;
        }
        expect[j + 1] = v;
    }
    cr_assert_eq(nwoke, k);
    for (i = 0; i < k; i++)
        cr_assert_eq(woke[i], expect[i], "position %d: woke %d, expected %d", i, woke[i],
                     expect[i]);
}

static void run_spawner(int n, int cancel_every, uint32_t start)
{
    static struct spawner sp;
    static asyncio_task t;
    asyncio_posix_virtual_time(1, start);
    sp.n = n;
    sp.cancel_every = cancel_every;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&sp.co, spawner_fn), NULL), 0);
}

Test(timers, random_deadlines_wake_in_deadline_order_fifo_among_equals)
{
    int i;
    srand(1);
    for (i = 0; i < NT; i++)
        ss[i].ms = rand() % 50; /* many equal deadlines */
    run_spawner(NT, 0, 0);
    check_wake_order(NT, 0);
}

Test(timers, deadlines_across_the_tick_wraparound_keep_their_order)
{
    int i;
    srand(2);
    for (i = 0; i < NT; i++)
        ss[i].ms = rand() % 100000;
    run_spawner(NT, 0, 0xFFFFFFFFu - 50000u); /* the wrap falls mid-way */
    check_wake_order(NT, 0);
}

Test(timers, cancelling_sleepers_removes_them_from_the_heap_without_disorder)
{
    int i;
    srand(3);
    for (i = 0; i < NT; i++)
        ss[i].ms = 1 + rand() % 1000;
    run_spawner(NT, 3, 0);
    check_wake_order(NT, 3);
    for (i = 0; i < NT; i += 3)
        cr_assert_eq(asyncio_task_result(&ts[i], NULL), ASYNCIO_ECANCELLED);
}

/* ------------------------------------------------------------------------ */
/* I/O waits                                                                */
/* ------------------------------------------------------------------------ */

#include <unistd.h>

struct io_reader {
    asyncio_coro co;
    asyncio_io *io;
};
static int io_reader_fn(asyncio_coro *co)
{
    struct io_reader *f = (struct io_reader *)co;
    ASYNC_BEGIN(co);
    AWAIT_IO(f->io, ASYNCIO_IO_READ);
    trace("readable");
    ASYNC_END;
}

struct io_main {
    asyncio_coro co;
    struct io_reader r;
    asyncio_task t;
    asyncio_io io;
};
static int io_main_fn(asyncio_coro *co)
{
    struct io_main *f = (struct io_main *)co;
    ASYNC_BEGIN(co);
    f->r.io = &f->io;
    asyncio_create_task(&f->t, asyncio_coro_init(&f->r.co, io_reader_fn));
    YIELD;
    asyncio_task_cancel(&f->t);
    ASYNC_TRY(AWAIT_TASK(&f->t));
    trace("reader: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(loop, cancelling_the_only_io_waiter_stops_watching_its_descriptor)
{
    static struct io_main m;
    static asyncio_task t;
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    asyncio_io_init(&m.io, fds[0]);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, io_main_fn), NULL), 0);
    /* Nothing is left to wait for: running the finished main again returns
     * instead of idling on a descriptor nobody reads. */
    cr_assert_eq(asyncio_loop_run_until_complete(asyncio_get_event_loop(), &t, NULL), 0);
    cr_assert_eq(m.io.watching, 0u);
    assert_trace("reader: cancelled\n");
}
