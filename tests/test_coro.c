/* SPDX-License-Identifier: MIT */
/* The coroutine macro language: await, return values, errors, try, finally. */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(coro, .init = setup, .timeout = 10);

/* ---- a child that sleeps then returns its argument or fails ---- */
struct child {
    asyncio_coro co;
    int32_t ms;
    int fail;
};
static int child_fn(asyncio_coro *co)
{
    struct child *f = (struct child *)co;
    ASYNC_BEGIN(co);
    trace("child start");
    AWAIT_SLEEP_MS(f->ms);
    if (f->fail)
        ASYNC_RAISE(f->fail);
    trace("child end");
    ASYNC_RETURN(f->ms * 2);
    ASYNC_END;
}
static asyncio_coro *child(struct child *f, int32_t ms, int fail)
{
    f->ms = ms;
    f->fail = fail;
    return asyncio_coro_init(&f->co, child_fn);
}

struct parent {
    asyncio_coro co;
    struct child c;
    int fail;
};
static int await_child_fn(asyncio_coro *co)
{
    struct parent *f = (struct parent *)co;
    ASYNC_BEGIN(co);
    AWAIT(child(&f->c, 10, f->fail));
    trace("parent got %ld at %u", (long)AWAIT_RESULT, asyncio_ticks_ms());
    ASYNC_RETURN(AWAIT_RESULT + 1);
    ASYNC_END;
}

Test(coro, await_child_returns_its_value_inline)
{
    static struct parent p;
    static asyncio_task t;
    asyncio_value v = 0;
    int r = asyncio_run(&t, asyncio_coro_init(&p.co, await_child_fn), &v);
    cr_assert_eq(r, 0);
    cr_assert_eq(v, 21);
    assert_trace("child start\nchild end\nparent got 20 at 10\n");
}

Test(coro, child_error_propagates_through_await_and_out_of_run)
{
    static struct parent p;
    static asyncio_task t;
    asyncio_value v = 0;
    p.fail = ASYNCIO_EUSER(7);
    int r = asyncio_run(&t, asyncio_coro_init(&p.co, await_child_fn), &v);
    cr_assert_eq(r, ASYNCIO_EUSER(7));
    assert_trace("child start\n");
}

/* ---- ASYNC_TRY catches; ASYNC_FINALLY always runs ---- */
struct catcher {
    asyncio_coro co;
    struct child c;
};
static int catcher_fn(asyncio_coro *co)
{
    struct catcher *f = (struct catcher *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(child(&f->c, 5, ASYNCIO_EUSER(1))));
    trace("caught %d", AWAIT_ERROR);
    ASYNC_TRY(AWAIT(child(&f->c, 5, 0)));
    trace("no error %d value %ld", AWAIT_ERROR, (long)AWAIT_RESULT);
    AWAIT(child(&f->c, 5, ASYNCIO_EUSER(2)));
    trace("not reached");
    ASYNC_FINALLY;
    trace("finally with %d", ASYNC_ERROR);
    ASYNC_END;
}

Test(coro, try_catches_and_finally_runs_on_error)
{
    static struct catcher c;
    static asyncio_task t;
    int r = asyncio_run(&t, asyncio_coro_init(&c.co, catcher_fn), NULL);
    cr_assert_eq(r, ASYNCIO_EUSER(2));
    assert_trace("child start\ncaught -2001\nchild start\nchild end\nno error 0 value 10\n"
                 "child start\nfinally with -2002\n");
}

static int finally_return_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RAISE(ASYNCIO_EUSER(3));
    ASYNC_FINALLY;
    trace("finally swallows %d", ASYNC_ERROR);
    AWAIT_SLEEP_MS(1); /* a finally section may await */
    ASYNC_RETURN(5);
    ASYNC_END;
}

Test(coro, finally_may_await_and_replace_the_error_with_a_value)
{
    static asyncio_coro co;
    static asyncio_task t;
    asyncio_value v = 0;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, finally_return_fn), &v), 0);
    cr_assert_eq(v, 5);
    assert_trace("finally swallows -2003\n");
}

static int corrupt_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(1);
    ASYNC_END;
}

Test(coro, a_corrupted_resume_point_ends_with_ecorrupt_not_a_restart)
{
    static asyncio_coro co;
    asyncio_coro_init(&co, corrupt_fn);
    co.line = 12345; /* no await on that line */
    cr_assert_eq(co.fn(&co), ASYNCIO_ECORRUPT);
    cr_assert_eq(co.fn(&co), ASYNCIO_ECORRUPT, "a finished coroutine stays finished");
}

Test(coro, header_sizes_are_reported)
{
    /* What each task field is for is documented on struct asyncio_task. */
    printf("sizeof(asyncio_task) = %zu, sizeof(asyncio_coro) = %zu\n", sizeof(asyncio_task),
           sizeof(asyncio_coro));
    cr_assert_leq(sizeof(asyncio_task), 8 * sizeof(void *));
}

/* ---- cancellation: cleanup runs, and may be ignored ---- */
struct holder {
    asyncio_coro co;
    int held;
    int ignore;
};
static int holder_fn(asyncio_coro *co)
{
    struct holder *f = (struct holder *)co;
    ASYNC_BEGIN(co);
    f->held = 1;
    trace("acquired");
    if (f->ignore) {
        ASYNC_TRY(AWAIT_SLEEP_MS(1000));
        trace("ignored %s", asyncio_strerror(AWAIT_ERROR));
        AWAIT_SLEEP_MS(5); /* carries on, awaiting again */
        ASYNC_RETURN(99);
    }
    AWAIT_SLEEP_MS(1000);
    trace("not reached");
    ASYNC_FINALLY;
    f->held = 0;
    trace("released (%s)", asyncio_strerror(ASYNC_ERROR));
    ASYNC_END;
}

/* Wraps holder one level deeper, so cancellation crosses an inline await. */
struct outer {
    asyncio_coro co;
    struct holder h;
};
static int outer_fn(asyncio_coro *co)
{
    struct outer *f = (struct outer *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_coro_init(&f->h.co, holder_fn));
    trace("outer got %ld", (long)AWAIT_RESULT);
    ASYNC_RETURN(AWAIT_RESULT);
    ASYNC_FINALLY;
    trace("outer finally (%s)", asyncio_strerror(ASYNC_ERROR));
    ASYNC_END;
}

struct canceller {
    asyncio_coro co;
    struct outer o;
    asyncio_task t;
};
static int canceller_fn(asyncio_coro *co)
{
    struct canceller *f = (struct canceller *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t, asyncio_coro_init(&f->o.co, outer_fn));
    AWAIT_SLEEP_MS(10);
    trace("cancel -> %d", asyncio_task_cancel(&f->t));
    ASYNC_TRY(AWAIT_TASK(&f->t));
    trace("task ended: %s, value %ld, at %u", asyncio_strerror(AWAIT_ERROR), (long)AWAIT_RESULT,
          asyncio_ticks_ms());
    ASYNC_END;
}

Test(coro, cancellation_is_delivered_at_the_innermost_await_and_runs_every_finally)
{
    static struct canceller c;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c.co, canceller_fn), NULL), 0);
    cr_assert_eq(c.o.h.held, 0, "the cleanup released what it held");
    assert_trace("acquired\ncancel -> 1\nreleased (cancelled)\nouter finally (cancelled)\n"
                 "task ended: cancelled, value 0, at 10\n");
}

Test(coro, a_coroutine_may_ignore_its_cancellation_and_carry_on)
{
    static struct canceller c;
    static asyncio_task t;
    c.o.h.ignore = 1;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c.co, canceller_fn), NULL), 0);
    assert_trace("acquired\ncancel -> 1\nignored cancelled\nreleased (ok)\nouter got 99\n"
                 "outer finally (ok)\ntask ended: ok, value 99, at 15\n");
}

Test(coro, a_finished_coroutine_awaited_again_gives_its_outcome_again)
{
    static struct child c;
    asyncio_value v = 0;
    child(&c, 0, ASYNCIO_EUSER(4));
    c.co.line = ASYNCIO_LINE_DONE;
    c.co.err = ASYNCIO_EUSER(4);
    cr_assert_eq(asyncio_step_child_(&c.co, &v), ASYNCIO_EUSER(4));
}

/* ---- asyncio_task_line: where a task is suspended ---- */
static unsigned inner_line, outer_line;
static int inner_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    inner_line = __LINE__ + 1;
    AWAIT_SLEEP_MS(100);
    ASYNC_END;
}
struct lined {
    asyncio_coro co, inner, done_child;
};
static int lined_fn(asyncio_coro *co)
{
    struct lined *f = (struct lined *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_coro_init(&f->done_child, inner_fn)); /* finishes: left behind */
    outer_line = __LINE__ + 1;
    AWAIT(asyncio_coro_init(&f->inner, inner_fn));
    ASYNC_END;
}
struct watcher {
    asyncio_coro co;
    asyncio_task *t;
};
static int watcher_fn(asyncio_coro *co)
{
    struct watcher *f = (struct watcher *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(50);
    trace("in the first child: %d", asyncio_task_line(f->t) == inner_line);
    AWAIT_SLEEP_MS(100);
    trace("in the second child: %d", asyncio_task_line(f->t) == inner_line);
    AWAIT_SLEEP_MS(100);
    trace("done: %u", asyncio_task_line(f->t));
    ASYNC_END;
}

Test(coro, task_line_names_the_await_the_task_is_suspended_in)
{
    static struct lined l;
    static struct watcher w;
    static asyncio_task t, tw;
    asyncio_create_task(&t, asyncio_coro_init(&l.co, lined_fn));
    cr_assert_eq(asyncio_task_line(&t), 0, "not started yet");
    w.t = &t;
    cr_assert_eq(asyncio_run(&tw, asyncio_coro_init(&w.co, watcher_fn), NULL), 0);
    cr_assert_neq(outer_line, 0);
    cr_assert_eq(asyncio_task_line(NULL), 0);
    assert_trace("in the first child: 1\nin the second child: 1\ndone: 0\n");
}
