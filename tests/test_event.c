/* SPDX-License-Identifier: MIT */
/* Event: the "event" and "event_fair" conformance rows. */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(event, .init = setup, .timeout = 10);

/* ---- a task that waits on an event: print "start", wait, print "end" ---- */
struct waiter {
    asyncio_coro co;
    int id;
    asyncio_event *ev;
};
static int waiter_fn(asyncio_coro *co)
{
    struct waiter *f = (struct waiter *)co;
    ASYNC_BEGIN(co);
    trace("start %d", f->id);
    AWAIT_EVENT(f->ev);
    trace("wait returned %d", f->id);
    trace("end %d", f->id);
    ASYNC_END;
}
static asyncio_coro *waiter(struct waiter *f, int id, asyncio_event *ev)
{
    f->id = id;
    f->ev = ev;
    return asyncio_coro_init(&f->co, waiter_fn);
}

/* ---- sleep, then set the event ---- */
struct delay_set {
    asyncio_coro co;
    int32_t ms;
    asyncio_event *ev;
};
static int delay_set_fn(asyncio_coro *co)
{
    struct delay_set *f = (struct delay_set *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    trace("set event at %u", asyncio_ticks_ms());
    asyncio_event_set(f->ev);
    ASYNC_END;
}
static asyncio_coro *delay_set(struct delay_set *f, int32_t ms, asyncio_event *ev)
{
    f->ms = ms;
    f->ev = ev;
    return asyncio_coro_init(&f->co, delay_set_fn);
}

/* ---- the coroutine object ev.wait(): returns 1 (True) ---- */
struct ev_wait {
    asyncio_coro co;
    asyncio_event *ev;
};
static int ev_wait_fn(asyncio_coro *co)
{
    struct ev_wait *f = (struct ev_wait *)co;
    ASYNC_BEGIN(co);
    AWAIT_EVENT(f->ev);
    ASYNC_RETURN(1);
    ASYNC_END;
}
static asyncio_coro *ev_wait(struct ev_wait *f, asyncio_event *ev)
{
    f->ev = ev;
    return asyncio_coro_init(&f->co, ev_wait_fn);
}

/* ======================================================================== */
/* event                                                                    */
/* ======================================================================== */

Test(event, is_set_follows_set_and_clear_without_waiters)
{
    asyncio_event ev;
    asyncio_event_init(&ev);
    cr_assert_eq(asyncio_event_is_set(&ev), 0);
    asyncio_event_set(&ev);
    cr_assert_eq(asyncio_event_is_set(&ev), 1);
    asyncio_event_set(&ev);
    cr_assert_eq(asyncio_event_is_set(&ev), 1, "a second set() keeps it set");
    asyncio_event_clear(&ev);
    cr_assert_eq(asyncio_event_is_set(&ev), 0);
}

/* Two waiters, set, wait already set, clear + set again: asyncio_event.py's
 * first half, in one run so the whole interleaving is pinned. */
struct set_main {
    asyncio_coro co;
    asyncio_event ev;
    asyncio_task t[4];
    struct waiter w[4];
};
static int set_main_fn(asyncio_coro *co)
{
    struct set_main *f = (struct set_main *)co;
    ASYNC_BEGIN(co);
    asyncio_event_init(&f->ev);
    trace("----");
    asyncio_create_task(&f->t[0], waiter(&f->w[0], 1, &f->ev));
    asyncio_create_task(&f->t[1], waiter(&f->w[1], 2, &f->ev));
    trace("yield");
    YIELD;
    trace("set event");
    asyncio_event_set(&f->ev);
    trace("yield");
    YIELD;

    trace("----"); /* waiting on an event that is already set */
    asyncio_create_task(&f->t[2], waiter(&f->w[2], 3, &f->ev));
    trace("yield");
    YIELD;

    trace("----"); /* clear, start a waiter, set again */
    trace("clear event");
    asyncio_event_clear(&f->ev);
    asyncio_create_task(&f->t[3], waiter(&f->w[3], 4, &f->ev));
    YIELD;
    trace("set event");
    asyncio_event_set(&f->ev);
    YIELD;
    trace("main end");
    ASYNC_END;
}

Test(event, set_wakes_all_waiters_fifo_before_the_setter_resumes)
{
    static struct set_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, set_main_fn), NULL), 0);
    assert_trace("----\n"
                 "yield\n"
                 "start 1\n"
                 "start 2\n"
                 "set event\n"
                 "yield\n"
                 "wait returned 1\n"
                 "end 1\n"
                 "wait returned 2\n"
                 "end 2\n"
                 "----\n"
                 "yield\n"
                 "start 3\n"
                 "wait returned 3\n"
                 "end 3\n"
                 "----\n"
                 "clear event\n"
                 "start 4\n"
                 "set event\n"
                 "wait returned 4\n"
                 "end 4\n"
                 "main end\n");
    for (int i = 0; i < 4; i++)
        cr_assert(asyncio_task_done(&m.t[i]));
    cr_assert_eq(asyncio_event_is_set(&m.ev), 1, "set() leaves the event set");
}

/* A waiter cancelled while waiting: set-then-cancel and cancel-then-set. */
struct cancel_main {
    asyncio_coro co;
    asyncio_event ev;
    asyncio_task t;
    struct waiter w;
    int set_first;
};
static int cancel_main_fn(asyncio_coro *co)
{
    struct cancel_main *f = (struct cancel_main *)co;
    ASYNC_BEGIN(co);
    asyncio_event_init(&f->ev);
    asyncio_create_task(&f->t, waiter(&f->w, 5, &f->ev));
    YIELD;
    if (f->set_first) {
        asyncio_event_set(&f->ev);
        trace("cancel -> %d", asyncio_task_cancel(&f->t));
    } else {
        trace("cancel -> %d", asyncio_task_cancel(&f->t));
        asyncio_event_set(&f->ev);
    }
    AWAIT_SLEEP_MS(100);
    trace("main at %u, waiter done %d, result %d", asyncio_ticks_ms(), asyncio_task_done(&f->t),
          asyncio_task_result(&f->t, NULL));
    ASYNC_END;
}

Test(event, waiter_cancelled_after_set_gets_the_cancellation)
{
    static struct cancel_main m;
    static asyncio_task t;
    m.set_first = 1;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_main_fn), NULL), 0);
    assert_trace("start 5\ncancel -> 1\nmain at 100, waiter done 1, result -1000\n");
}

Test(event, waiter_cancelled_before_set_gets_the_cancellation)
{
    static struct cancel_main m;
    static asyncio_task t;
    m.set_first = 0;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_main_fn), NULL), 0);
    assert_trace("start 5\ncancel -> 1\nmain at 100, waiter done 1, result -1000\n");
    cr_assert_null(m.ev.waiters.tail, "the cancelled waiter left the event's queue");
}

/* wait_for(ev.wait(), 100 ms) with the event set at 10 ms, then
 * wait_for(ev.wait(), 10 ms) with the event set at 100 ms. */
struct wf_main {
    asyncio_coro co;
    asyncio_event ev;
    asyncio_task t[2];
    struct delay_set d[2];
    struct ev_wait w[3];
    asyncio_wait_for_state wf;
};
static int wf_main_fn(asyncio_coro *co)
{
    struct wf_main *f = (struct wf_main *)co;
    ASYNC_BEGIN(co);
    asyncio_event_init(&f->ev);
    trace("----");
    asyncio_create_task(&f->t[0], delay_set(&f->d[0], 10, &f->ev));
    AWAIT(asyncio_wait_for(&f->wf, ev_wait(&f->w[0], &f->ev), 0.1));
    trace("wait_for returned %ld at %u", (long)AWAIT_RESULT, asyncio_ticks_ms());
    YIELD;

    trace("----");
    asyncio_event_clear(&f->ev);
    asyncio_create_task(&f->t[1], delay_set(&f->d[1], 100, &f->ev));
    ASYNC_TRY(AWAIT(asyncio_wait_for(&f->wf, ev_wait(&f->w[1], &f->ev), 0.01)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("TimeoutError at %u", asyncio_ticks_ms());
    AWAIT(ev_wait(&f->w[2], &f->ev));
    trace("event wait returned %ld at %u", (long)AWAIT_RESULT, asyncio_ticks_ms());
    ASYNC_END;
}

Test(event, wait_for_event_succeeds_in_time_else_times_out)
{
    static struct wf_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, wf_main_fn), NULL), 0);
    assert_trace("----\n"
                 "set event at 10\n"
                 "wait_for returned 1 at 10\n"
                 "----\n"
                 "TimeoutError at 20\n"
                 "set event at 110\n"
                 "event wait returned 1 at 110\n");
    cr_assert_eq(asyncio_task_result(&m.wf.inner, NULL), ASYNCIO_ECANCELLED,
                 "the timed-out ev.wait() task was cancelled");
}

/* ======================================================================== */
/* event_fair                                                               */
/* ======================================================================== */

struct sleeper {
    asyncio_coro co;
    int id, i;
};
static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = (struct sleeper *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < 4; f->i++) {
        trace("sleep %d", f->id);
        YIELD;
    }
    ASYNC_END;
}

struct setter {
    asyncio_coro co;
    int id, i;
    asyncio_event *ev;
};
static int setter_fn(asyncio_coro *co)
{
    struct setter *f = (struct setter *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < 4; f->i++) {
        asyncio_event_set(f->ev);
        asyncio_event_clear(f->ev);
        trace("wait %d", f->id);
        AWAIT_EVENT(f->ev);
    }
    ASYNC_END;
}

struct fair_main {
    asyncio_coro co;
    asyncio_event ev;
    asyncio_task t[4];
    struct sleeper s[2];
    struct setter w[2];
};
static int fair_main_fn(asyncio_coro *co)
{
    struct fair_main *f = (struct fair_main *)co;
    ASYNC_BEGIN(co);
    asyncio_event_init(&f->ev);
    f->s[0].id = 0;
    f->w[0].id = 2;
    f->w[0].ev = &f->ev;
    f->s[1].id = 1;
    f->w[1].id = 3;
    f->w[1].ev = &f->ev;
    asyncio_create_task(&f->t[0], asyncio_coro_init(&f->s[0].co, sleeper_fn));
    asyncio_create_task(&f->t[1], asyncio_coro_init(&f->w[0].co, setter_fn));
    asyncio_create_task(&f->t[2], asyncio_coro_init(&f->s[1].co, sleeper_fn));
    asyncio_create_task(&f->t[3], asyncio_coro_init(&f->w[1].co, setter_fn));
    AWAIT_TASK(&f->t[1]);
    asyncio_event_set(&f->ev);
    trace("main end");
    ASYNC_END;
}

Test(event, woken_waiters_queue_behind_runnable_tasks_so_setters_do_not_starve_sleepers)
{
    static struct fair_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, fair_main_fn), NULL), 0);
    assert_trace("sleep 0\n"
                 "wait 2\n"
                 "sleep 1\n"
                 "wait 3\n"
                 "sleep 0\n"
                 "sleep 1\n"
                 "wait 2\n"
                 "sleep 0\n"
                 "sleep 1\n"
                 "wait 3\n"
                 "sleep 0\n"
                 "sleep 1\n"
                 "wait 2\n"
                 "wait 3\n"
                 "wait 2\n"
                 "wait 3\n"
                 "main end\n");
    cr_assert(asyncio_task_done(&m.t[0]) && asyncio_task_done(&m.t[2]));
    cr_assert(!asyncio_task_done(&m.t[3]), "task 3 was woken but main ended first");
}
