/* SPDX-License-Identifier: MIT */
/*
 * Core misuse that used to go silent (issues 19 and 20): create_task through
 * a constructor on a task still running that frame (19.6), new_event_loop()
 * on a running loop (20.9), a virtual clock frozen by tasks that never
 * sleep (20.10).
 */
#include "port_posix.h"
#include "trace.h"

static void virtual_clock(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(core_misuse, .init = virtual_clock, .timeout = 10);

static void tracing_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    trace("handler: %s: %s", ctx->message, asyncio_strerror(ctx->error));
}

/* ---- say_after(ms, what) and its constructor ---- */
struct say_after {
    asyncio_coro co;
    int32_t ms;
    const char *what;
};
static int say_after_fn(asyncio_coro *co)
{
    struct say_after *f = (struct say_after *)co;
    ASYNC_BEGIN(co);
    trace("%u: %s starts", asyncio_ticks_ms(), f->what);
    AWAIT_SLEEP_MS(f->ms);
    trace("%u: %s", asyncio_ticks_ms(), f->what);
    ASYNC_END;
}
static asyncio_coro *say_after(struct say_after *f, int32_t ms, const char *what)
{
    f->ms = ms;
    f->what = what;
    return asyncio_coro_init(&f->co, say_after_fn);
}

/* ------------------------------------------------------------------------ */
/* create_task through a constructor on a task still running that frame     */
/* ------------------------------------------------------------------------ */

struct reinit_main {
    asyncio_coro co;
    struct say_after f, other;
    asyncio_task t;
};
static int reinit_main_fn(asyncio_coro *co)
{
    struct reinit_main *m = (struct reinit_main *)co;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&m->t, say_after(&m->f, 100, "first")), 0);
    AWAIT_SLEEP_MS(10); /* t sleeps in say_after, 90 ms to go */
    trace("create_task, another frame: %s",
          asyncio_strerror(asyncio_create_task(&m->t, say_after(&m->other, 5, "other"))));
    trace("create_task, its own frame: %s",
          asyncio_strerror(asyncio_create_task(&m->t, say_after(&m->f, 5, "second"))));
    ASYNC_TRY(AWAIT_TASK(&m->t));
    trace("%u: the task ended: %s", asyncio_ticks_ms(), asyncio_strerror(AWAIT_ERROR));
    AWAIT_SLEEP_MS(200);
    cr_assert_eq(asyncio_create_task(&m->t, say_after(&m->f, 5, "third")), 0, "t is free again");
    AWAIT_TASK(&m->t);
    ASYNC_END;
}

/* Before the fix the second create_task returned EBUSY and the task, its
 * frame reset by the constructor, restarted from the top at 100 ms
 * ("second starts", "second" at 105 ms). */
Test(core_misuse, create_task_reinitialising_the_frame_of_a_running_task_ends_it_with_ereinit)
{
    static struct reinit_main m;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), tracing_handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, reinit_main_fn), NULL), 0);
    assert_trace("0: first starts\n"
                 "create_task, another frame: busy\n"
                 "handler: create_task reset a running task's coroutine: "
                 "coroutine reset while running\n"
                 "create_task, its own frame: coroutine reset while running\n"
                 "10: the task ended: coroutine reset while running\n"
                 "210: third starts\n"
                 "215: third\n");
}

/* The task re-creates itself through its own constructor: its next await
 * fails with EREINIT (it cannot resume where it was) and it ends. */
struct self_reinit {
    asyncio_coro co;
    int runs;
};
static asyncio_task self_task;
static int self_reinit_fn(asyncio_coro *co);
static asyncio_coro *self_reinit(struct self_reinit *f)
{
    return asyncio_coro_init(&f->co, self_reinit_fn);
}
static int self_reinit_fn(asyncio_coro *co)
{
    struct self_reinit *f = (struct self_reinit *)co;
    ASYNC_BEGIN(co);
    f->runs++;
    trace("run %d", f->runs);
    AWAIT_SLEEP_MS(1);
    trace("create_task on itself: %s",
          asyncio_strerror(asyncio_create_task(&self_task, self_reinit(f))));
    ASYNC_TRY(AWAIT_SLEEP_MS(1));
    trace("next await: %s", asyncio_strerror(AWAIT_ERROR));
    AWAIT_SLEEP_MS(1);
    trace("not reached");
    ASYNC_END;
}

Test(core_misuse, a_task_reinitialising_its_own_frame_through_create_task_ends_with_ereinit)
{
    static struct self_reinit f;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), tracing_handler);
    cr_assert_eq(asyncio_run(&self_task, asyncio_coro_init(&f.co, self_reinit_fn), NULL),
                 ASYNCIO_EREINIT);
    assert_trace("run 1\n"
                 "handler: create_task reset a running task's coroutine: "
                 "coroutine reset while running\n"
                 "create_task on itself: coroutine reset while running\n"
                 "next await: coroutine reset while running\n");
}

/* ------------------------------------------------------------------------ */
/* new_event_loop() on a running loop                                       */
/* ------------------------------------------------------------------------ */

static int nel_running_fn(asyncio_coro *co)
{
    int err = 12345;
    asyncio_loop *loop;
    ASYNC_BEGIN(co);
    loop = asyncio_new_event_loop_err(&err);
    trace("new_event_loop_err: %s, %s", loop ? "loop" : "NULL", asyncio_strerror(err));
    trace("new_event_loop: %s", asyncio_new_event_loop() ? "loop" : "NULL");
    ASYNC_END;
}

Test(core_misuse, new_event_loop_on_a_running_loop_reports_ebusy_through_err)
{
    static asyncio_coro co;
    static asyncio_task t;
    int err = 12345;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, nel_running_fn), NULL), 0);
    assert_trace("new_event_loop_err: NULL, busy\nnew_event_loop: NULL\n");
    cr_assert_eq(asyncio_new_event_loop_err(&err), asyncio_get_event_loop());
    cr_assert_eq(err, 0, "success sets *err to 0");
    cr_assert_not_null(asyncio_new_event_loop_err(NULL), "err may be NULL");
}

/* ------------------------------------------------------------------------ */
/* A virtual clock frozen by a task that only yields                        */
/* ------------------------------------------------------------------------ */

static int spin_stop;
static int spinner_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    while (!spin_stop)
        YIELD; /* sleep(0) forever: the loop never idles */
    ASYNC_END;
}

struct stall_main {
    asyncio_coro co, spin;
    asyncio_task t;
};
static int stall_main_fn(asyncio_coro *co)
{
    struct stall_main *m = (struct stall_main *)co;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&m->t, asyncio_coro_init(&m->spin, spinner_fn)), 0);
    AWAIT_SLEEP_MS(100);
    trace("%u: main woke", asyncio_ticks_ms());
    AWAIT_SLEEP_MS(50); /* the second stall of this run is not reported */
    trace("%u: main woke again", asyncio_ticks_ms());
    spin_stop = 1;
    AWAIT_TASK(&m->t);
    ASYNC_END;
}

/* Before the fix this hung: the spinner keeps the loop busy, so the virtual
 * clock (which moves only when the loop idles) never reaches main's
 * deadline. */
Test(core_misuse, a_virtual_clock_frozen_by_a_task_that_only_yields_is_reported_and_moved_on)
{
    static struct stall_main m;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), tracing_handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, stall_main_fn), NULL), 0);
    assert_trace("handler: clock stood still with a timer pending: "
                 "clock stalled\n"
                 "100: main woke\n"
                 "150: main woke again\n");
}

/* ------------------------------------------------------------------------ */
/* Calls with nothing to act on                                             */
/* ------------------------------------------------------------------------ */

Test(core_misuse, coro_init_of_null_returns_null)
{
    cr_assert_null(asyncio_coro_init(NULL, say_after_fn));
}

Test(core_misuse, current_task_outside_the_loop_is_null_with_enoloop)
{
    int err = 1;
    cr_assert_null(asyncio_current_task(&err));
    cr_assert_eq(err, ASYNCIO_ENOLOOP);
    cr_assert_null(asyncio_current_task(NULL));
}

static asyncio_task whoami_task;
static int whoami_fn(asyncio_coro *co)
{
    int err = 1;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_current_task(&err), &whoami_task);
    cr_assert_eq(err, 0);
    ASYNC_END;
}

Test(core_misuse, current_task_inside_a_task_is_that_task_with_no_error)
{
    asyncio_coro c;
    cr_assert_eq(asyncio_run(&whoami_task, asyncio_coro_init(&c, whoami_fn), NULL), 0);
}
