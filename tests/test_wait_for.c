/* SPDX-License-Identifier: MIT */
/* wait_for: the "wait_for" and "wait_for_fwd" conformance rows. Python's
 * ValueError is ASYNCIO_EUSER(1). */
#include "port_posix.h"
#include "trace.h"
#include "coros.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(wait_for, .init = setup, .timeout = 10);
TestSuite(wait_for_fwd, .init = setup, .timeout = 10);

/* Python's repr of an error. */
static const char *repr(int err)
{
    switch (err) {
    case ASYNCIO_OK: return "no error";
    case ASYNCIO_ECANCELLED: return "CancelledError()";
    case ASYNCIO_ETIMEDOUT: return "TimeoutError";
    case ASYNCIO_EUSER(1): return "ValueError";
    default: return "unexpected error";
    }
}

/* ---- the coroutines of asyncio_wait_for.py ---- */

/* task(id, t) is mp_task() in coros.h */

/* task_catch(): sleeps 200 ms, ignoring a cancellation */
static int task_catch_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("task_catch start");
    ASYNC_TRY(AWAIT_SLEEP_MS(200));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED)
        trace("ignore cancel");
    trace("task_catch done");
    ASYNC_END;
}

/* task_raise(): raises ValueError at once */
static int task_raise_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("task start");
    ASYNC_RAISE(ASYNCIO_EUSER(1));
    ASYNC_END;
}

/* task_cancel_other(t, other): sleep t, cancel other */
struct cancel_other {
    asyncio_coro co;
    int32_t ms;
    asyncio_task *other;
};
static int cancel_other_fn(asyncio_coro *co)
{
    struct cancel_other *f = (struct cancel_other *)co;
    ASYNC_BEGIN(co);
    trace("task_cancel_other start");
    AWAIT_SLEEP_MS(f->ms);
    trace("task_cancel_other cancel");
    asyncio_task_cancel(f->other);
    ASYNC_END;
}

/* task_wait_for_cancel(id, t, t_wait) and task_wait_for_cancel_ignore(t_wait):
 * wait_for an inner coroutine, report a cancellation and re-raise it. */
struct wf_cancel {
    asyncio_coro co;
    int ignore, id;
    int32_t ms, wait_ms;
    struct mp_task inner;
    asyncio_coro catcher;
    asyncio_wait_for_state wf;
};
static int wf_cancel_fn(asyncio_coro *co)
{
    struct wf_cancel *f = (struct wf_cancel *)co;
    ASYNC_BEGIN(co);
    if (f->ignore) {
        trace("task_wait_for_cancel_ignore start");
        ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_coro_init(&f->catcher, task_catch_fn),
                                            f->wait_ms)));
    } else {
        trace("task_wait_for_cancel start");
        ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, mp_task(&f->inner, f->id, f->ms), f->wait_ms)));
    }
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace(f->ignore ? "task_wait_for_cancel_ignore cancelled"
                        : "task_wait_for_cancel cancelled");
        ASYNC_RAISE(AWAIT_ERROR);
    }
    trace("wait_for ended with %d", AWAIT_ERROR);
    ASYNC_END;
}
static asyncio_coro *wf_cancel(struct wf_cancel *f, int ignore, int id, int32_t ms, int32_t wait_ms)
{
    f->ignore = ignore;
    f->id = id;
    f->ms = ms;
    f->wait_ms = wait_ms;
    return asyncio_coro_init(&f->co, wf_cancel_fn);
}

/* ======================================================================== */
/* wait_for: asyncio_wait_for.py, one test per section                      */
/* ======================================================================== */

enum section { IN_TIME, TIMEOUT, TIMEOUT_IGNORED, RAISES, NO_TIMEOUT, CANCELLED_BY_OTHER };

struct main1 {
    asyncio_coro co;
    enum section section;
    struct mp_task t;
    asyncio_coro c;
    struct cancel_other o;
    asyncio_task tt, ot;
    asyncio_wait_for_state wf;
};
static int main1_fn(asyncio_coro *co)
{
    struct main1 *f = (struct main1 *)co;
    ASYNC_BEGIN(co);
    switch (f->section) {
    case IN_TIME: asyncio_wait_for(&f->wf, mp_task(&f->t, 1, 10), 10.0); break;
    case TIMEOUT: asyncio_wait_for(&f->wf, mp_task(&f->t, 2, 10000), 0.01); break;
    case TIMEOUT_IGNORED:
        asyncio_wait_for(&f->wf, asyncio_coro_init(&f->c, task_catch_fn), 0.1);
        break;
    case RAISES: asyncio_wait_for(&f->wf, asyncio_coro_init(&f->c, task_raise_fn), 1.0); break;
    case NO_TIMEOUT: asyncio_wait_for_ms(&f->wf, mp_task(&f->t, 3, 100), ASYNCIO_NO_TIMEOUT); break;
    case CANCELLED_BY_OTHER:
        asyncio_create_task(&f->tt, mp_task(&f->t, 4, 10000));
        f->o.ms = 10;
        f->o.other = &f->tt;
        asyncio_create_task(&f->ot, asyncio_coro_init(&f->o.co, cancel_other_fn));
        asyncio_wait_for_task_ms(&f->wf, &f->tt, 1000);
        break;
    }
    ASYNC_TRY(AWAIT(&f->wf.co));
    if (AWAIT_ERROR)
        trace("%s at %u", repr(AWAIT_ERROR), asyncio_ticks_ms());
    else
        trace("%ld at %u", (long)AWAIT_RESULT, asyncio_ticks_ms());
    ASYNC_END;
}

static struct main1 *run1(enum section section)
{
    static struct main1 m;
    static asyncio_task t;
    m.section = section;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, main1_fn), NULL), 0);
    return &m;
}

Test(wait_for, value_returned_when_the_task_ends_in_time)
{
    run1(IN_TIME);
    assert_trace("task start 1\ntask end 1\n2 at 10\n");
}

Test(wait_for, timeout_cancels_the_task_and_raises_timeout)
{
    struct main1 *m = run1(TIMEOUT);
    assert_trace("task start 2\nTimeoutError at 10\n");
    cr_assert_eq(asyncio_task_result(&m->wf.inner, NULL), ASYNCIO_ECANCELLED);
}

Test(wait_for, timeout_waits_for_a_task_that_ignores_the_cancel)
{
    struct main1 *m = run1(TIMEOUT_IGNORED);
    assert_trace("task_catch start\n"
                 "ignore cancel\n"
                 "task_catch done\n"
                 "TimeoutError at 100\n");
    cr_assert_eq(asyncio_task_result(&m->wf.inner, NULL), 0, "the task ended normally");
}

Test(wait_for, an_error_of_the_task_propagates)
{
    run1(RAISES);
    assert_trace("task start\nValueError at 0\n");
}

Test(wait_for, no_timeout_waits_for_ever)
{
    run1(NO_TIMEOUT);
    assert_trace("task start 3\ntask end 3\n6 at 100\n");
}

Test(wait_for, a_third_party_cancelling_the_task_gives_the_cancellation)
{
    run1(CANCELLED_BY_OTHER);
    assert_trace("task start 4\n"
                 "task_cancel_other start\n"
                 "task_cancel_other cancel\n"
                 "CancelledError() at 10\n");
}

/* wait_for itself cancelled: it cancels the inner task and returns at once,
 * without waiting for an inner task that ignores the cancel. */
struct main2 {
    asyncio_coro co;
    int ignore;
    struct wf_cancel w;
    asyncio_task t;
};
static int main2_fn(asyncio_coro *co)
{
    struct main2 *f = (struct main2 *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t, wf_cancel(&f->w, f->ignore, 4, 1000, 2000));
    AWAIT_SLEEP_MS(10);
    asyncio_task_cancel(&f->t);
    AWAIT_SLEEP_MS(10);
    trace("main at %u: task %d, inner %d", asyncio_ticks_ms(), asyncio_task_result(&f->t, NULL),
          asyncio_task_result(&f->w.wf.inner, NULL));
    ASYNC_END;
}

Test(wait_for, cancelled_wait_for_cancels_the_task_and_raises_the_cancellation)
{
    static struct main2 m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, main2_fn), NULL), 0);
    assert_trace("task_wait_for_cancel start\n"
                 "task start 4\n"
                 "task_wait_for_cancel cancelled\n"
                 "main at 20: task -1000, inner -1000\n");
}

Test(wait_for, cancelled_wait_for_does_not_wait_for_a_task_ignoring_the_cancel)
{
    static struct main2 m;
    static asyncio_task t;
    m.ignore = 1;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, main2_fn), NULL), 0);
    assert_trace("task_wait_for_cancel_ignore start\n"
                 "task_catch start\n"
                 "task_wait_for_cancel_ignore cancelled\n"
                 "ignore cancel\n"
                 "task_catch done\n"
                 "main at 20: task -1000, inner 0\n");
}

/* The four races: wait_for is cancelled after 1..4 yields of main while its
 * inner task (sleep 0) starts and ends. Every one gives the cancellation. */
struct main3 {
    asyncio_coro co;
    int yields, i;
    struct wf_cancel w;
    asyncio_task t;
};
static int main3_fn(asyncio_coro *co)
{
    struct main3 *f = (struct main3 *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t, wf_cancel(&f->w, 0, 4 + f->yields, 0, 2000));
    for (f->i = 0; f->i < f->yields; f->i++)
        YIELD;
    cr_assert(!asyncio_task_done(&f->t));
    trace("cancel wait_for");
    asyncio_task_cancel(&f->t);
    ASYNC_TRY(AWAIT_TASK(&f->t));
    trace("%s at %u", repr(AWAIT_ERROR), asyncio_ticks_ms());
    ASYNC_END;
}

static void run3(int yields)
{
    static struct main3 m;
    static asyncio_task t;
    m.yields = yields;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, main3_fn), NULL), 0);
}

Test(wait_for, cancel_before_the_task_started_gives_the_cancellation)
{
    run3(1);
    assert_trace("task_wait_for_cancel start\n"
                 "cancel wait_for\n"
                 "task start 5\n"
                 "task_wait_for_cancel cancelled\n"
                 "CancelledError() at 0\n");
}

Test(wait_for, cancel_racing_the_task_end_gives_the_cancellation)
{
    run3(2);
    assert_trace("task_wait_for_cancel start\n"
                 "task start 6\n"
                 "cancel wait_for\n"
                 "task end 6\n"
                 "task_wait_for_cancel cancelled\n"
                 "CancelledError() at 0\n");
}

Test(wait_for, cancel_after_the_task_ended_before_the_runner_woke_wait_for_gives_the_cancellation)
{
    run3(3);
    assert_trace("task_wait_for_cancel start\n"
                 "task start 7\n"
                 "task end 7\n"
                 "cancel wait_for\n"
                 "task_wait_for_cancel cancelled\n"
                 "CancelledError() at 0\n");
}

Test(wait_for, cancel_after_the_runner_woke_wait_for_gives_the_cancellation)
{
    run3(4);
    assert_trace("task_wait_for_cancel start\n"
                 "task start 8\n"
                 "task end 8\n"
                 "cancel wait_for\n"
                 "task_wait_for_cancel cancelled\n"
                 "CancelledError() at 0\n");
}

/* ======================================================================== */
/* wait_for_fwd: asyncio_wait_for_fwd.py                                    */
/* ======================================================================== */

struct awaiting {
    asyncio_coro co;
    int32_t ms;
    int return_if_fail;
};
static int awaiting_fn(asyncio_coro *co)
{
    struct awaiting *f = (struct awaiting *)co;
    ASYNC_BEGIN(co);
    trace("awaiting started");
    ASYNC_TRY(AWAIT_SLEEP_MS(f->ms));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("awaiting canceled");
        if (f->return_if_fail)
            ASYNC_RETURN(0); /* False: has no effect on the cancelled wait_for */
        ASYNC_RAISE(AWAIT_ERROR);
    }
    ASYNC_END;
}

struct fwd_wait {
    asyncio_coro co;
    int catch_;
    struct awaiting a;
    asyncio_wait_for_state wf;
};
static int fwd_wait_fn(asyncio_coro *co)
{
    struct fwd_wait *f = (struct fwd_wait *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_wait_for(&f->wf, asyncio_coro_init(&f->a.co, awaiting_fn), 1.0)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT) {
        trace("Got timeout error");
        ASYNC_RAISE(AWAIT_ERROR);
    }
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("Got canceled");
        if (!f->catch_)
            ASYNC_RAISE(AWAIT_ERROR);
    }
    ASYNC_END;
}

struct fwd_cancel {
    asyncio_coro co;
    asyncio_task *t;
};
static int fwd_cancel_fn(asyncio_coro *co)
{
    struct fwd_cancel *f = (struct fwd_cancel *)co;
    ASYNC_BEGIN(co);
    trace("cancel started");
    AWAIT_SLEEP_MS(10);
    trace("cancel wait()");
    asyncio_task_cancel(f->t);
    ASYNC_END;
}

struct fwd_main {
    asyncio_coro co;
    struct fwd_wait w;
    struct fwd_cancel c;
    asyncio_task t, k;
};
static int fwd_main_fn(asyncio_coro *co)
{
    struct fwd_main *f = (struct fwd_main *)co;
    ASYNC_BEGIN(co);
    trace("----------");
    asyncio_create_task(&f->t, asyncio_coro_init(&f->w.co, fwd_wait_fn));
    f->c.t = &f->t;
    asyncio_create_task(&f->k, asyncio_coro_init(&f->c.co, fwd_cancel_fn));
    ASYNC_TRY(AWAIT_TASK(&f->t));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED)
        trace("waiting got cancelled");
    ASYNC_END;
}

static struct fwd_main *run_fwd(int catch_, int catch_inside)
{
    static struct fwd_main m;
    static asyncio_task t;
    m.w.catch_ = catch_;
    m.w.a.ms = 2000;
    m.w.a.return_if_fail = catch_inside;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, fwd_main_fn), NULL), 0);
    cr_assert_eq(asyncio_ticks_ms(), 10);
    return &m;
}

Test(wait_for_fwd, cancel_is_seen_by_wait_for_first_then_by_the_inner_task)
{
    struct fwd_main *m = run_fwd(0, 0);
    assert_trace("----------\n"
                 "cancel started\n"
                 "awaiting started\n"
                 "cancel wait()\n"
                 "Got canceled\n"
                 "awaiting canceled\n"
                 "waiting got cancelled\n");
    cr_assert_eq(asyncio_task_result(&m->w.wf.inner, NULL), ASYNCIO_ECANCELLED);
}

Test(wait_for_fwd, inner_return_after_the_cancel_does_not_stop_it)
{
    struct fwd_main *m = run_fwd(0, 1);
    assert_trace("----------\n"
                 "cancel started\n"
                 "awaiting started\n"
                 "cancel wait()\n"
                 "Got canceled\n"
                 "awaiting canceled\n"
                 "waiting got cancelled\n");
    cr_assert_eq(asyncio_task_result(&m->w.wf.inner, NULL), 0);
}

Test(wait_for_fwd, outer_task_may_swallow_the_cancellation)
{
    struct fwd_main *m = run_fwd(1, 1);
    assert_trace("----------\n"
                 "cancel started\n"
                 "awaiting started\n"
                 "cancel wait()\n"
                 "Got canceled\n"
                 "awaiting canceled\n");
    cr_assert_eq(asyncio_task_result(&m->t, NULL), 0);
}

Test(wait_for_fwd, outer_task_may_swallow_it_while_the_inner_task_re_raises)
{
    struct fwd_main *m = run_fwd(1, 0);
    assert_trace("----------\n"
                 "cancel started\n"
                 "awaiting started\n"
                 "cancel wait()\n"
                 "Got canceled\n"
                 "awaiting canceled\n");
    cr_assert_eq(asyncio_task_result(&m->t, NULL), 0);
    cr_assert_eq(asyncio_task_result(&m->w.wf.inner, NULL), ASYNCIO_ECANCELLED);
}

/* ---- reusing a wait_for state; two waits without timeout ---- */
static asyncio_task long_task, long2_task, reuse_task, reuse_main_task;
static asyncio_coro long_co, long2_co, reuse_main_co;
static struct reuser {
    asyncio_coro co;
    asyncio_wait_for_state wf, wf2;
} reuser;
static int long_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(50);
    ASYNC_RETURN(9);
    ASYNC_END;
}
static int reuser_fn(asyncio_coro *co)
{
    struct reuser *f = (struct reuser *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_wait_for_task_ms(&f->wf, &long_task, 100)));
    trace("%u: wait_for: %s", asyncio_ticks_ms(), asyncio_strerror(AWAIT_ERROR));
    /* Its runner has not ended yet (the cancel reaches it on its next
     * step): the state is still in use, and reusing it resets the frame
     * the runner task runs. */
    trace("runner done: %d", asyncio_task_done(&f->wf.runner));
    ASYNC_TRY(AWAIT(asyncio_wait_for_task_ms(&f->wf, &long_task, 100)));
    trace("%u: reused at once: %s", asyncio_ticks_ms(), asyncio_strerror(AWAIT_ERROR));
    cr_assert_eq(asyncio_create_task(&long2_task, asyncio_coro_init(&long2_co, long_fn)), 0);
    AWAIT(asyncio_wait_for_task_ms(&f->wf2, &long2_task, ASYNCIO_NO_TIMEOUT));
    trace("%u: no timeout: %d", asyncio_ticks_ms(), (int)AWAIT_RESULT);
    AWAIT(asyncio_wait_for_task_ms(&f->wf2, &long2_task, ASYNCIO_NO_TIMEOUT));
    trace("%u: no timeout, the task done: %d", asyncio_ticks_ms(), (int)AWAIT_RESULT);
    ASYNC_END;
}
static int reuse_main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&long_task, asyncio_coro_init(&long_co, long_fn)), 0);
    cr_assert_eq(asyncio_create_task(&reuse_task, asyncio_coro_init(&reuser.co, reuser_fn)), 0);
    AWAIT_SLEEP_MS(10);
    cr_assert_eq(asyncio_task_cancel(&reuse_task), 1);
    AWAIT_TASK(&reuse_task);
    ASYNC_END;
}
static void trace_report(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    trace("report: %s: %s", ctx->message, asyncio_strerror(ctx->error));
}

Test(wait_for, a_state_reused_before_its_runner_ended_fails_with_ereinit_and_no_timeout_waits_twice)
{
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), trace_report);
    cr_assert_eq(
        asyncio_run(&reuse_main_task, asyncio_coro_init(&reuse_main_co, reuse_main_fn), NULL), 0);
    assert_trace("10: wait_for: cancelled\n"
                 "runner done: 0\n"
                 "report: create_task reset a running task's coroutine: coroutine reset while "
                 "running\n"
                 "10: reused at once: coroutine reset while running\n"
                 "60: no timeout: 9\n"
                 "60: no timeout, the task done: 9\n");
}
