/* SPDX-License-Identifier: MIT */
/*
 * The macro language's own checks and forms: what a plain return, a
 * body-level break and an await inside a user's switch turn into; every
 * await evaluating its argument once; try/except blocks across awaits
 * (typed, nested, inside FINALLY, catching a cancellation); async with lock.
 * (The mistakes C can reject at compile time are in tests/compile_fail/.)
 */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(macros, .init = setup, .timeout = 10);

static asyncio_task main_task, other_task;

struct frame {
    asyncio_coro co;
    int n, kind;
    asyncio_lock lock;
    asyncio_event ev;
    asyncio_flag flag;
    asyncio_coro child;
    asyncio_task t;
};
static struct frame fr, fr2;

static int run(asyncio_fn fn, asyncio_value *v)
{
    return asyncio_run(&main_task, asyncio_coro_init(&fr.co, fn), v);
}

/* ---- mistakes the compiler cannot see: each a clear error at run time ---- */
static int plain_return_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(1);
    if (co)
        return 7; /* the mistake: ASYNC_RETURN(7) was meant */
    ASYNC_FINALLY;
    trace("finally");
    ASYNC_END;
}

Test(macros, a_plain_return_in_a_body_fails_with_ereturn_not_a_silent_success)
{
    asyncio_value v = 99;
    cr_assert_eq(run(plain_return_fn, &v), ASYNCIO_ERETURN);
    cr_assert_eq(v, 0);
    assert_trace(""); /* FINALLY cannot run: the body left without it */
}

static int awaits_plain_return_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_coro_init(&fr.child, plain_return_fn)));
    trace("awaited inline: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(macros, a_plain_return_in_an_awaited_coroutine_fails_the_await)
{
    cr_assert_eq(run(awaits_plain_return_fn, NULL), 0);
    assert_trace("awaited inline: plain return in a coroutine body\n");
}

static int break_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(1);
    if (co)
        break; /* the mistake: leaves the body's switch */
    ASYNC_END;
}

Test(macros, a_break_at_the_body_top_level_fails_with_ebreak)
{
    cr_assert_eq(run(break_fn, NULL), ASYNCIO_EBREAK);
}

static int user_switch_fn(asyncio_coro *co)
{
    struct frame *f = ASYNC_FRAME(struct frame, co);
    ASYNC_BEGIN(co);
    switch (f->kind) {
    case 1:
        AWAIT_SLEEP_MS(1); /* the mistake: its resume point is this switch's */
        break;
    default: break;
    }
    trace("not reached");
    ASYNC_END;
}

Test(macros, an_await_inside_a_user_switch_fails_with_ecorrupt_when_resumed)
{
    fr.kind = 1;
    cr_assert_eq(run(user_switch_fn, NULL), ASYNCIO_ECORRUPT);
    assert_trace("");
}

/* ---- every await evaluates its argument once ---- */
static int picks;
static asyncio_task *pick_task(void)
{
    picks++;
    return &other_task;
}
static asyncio_lock *pick_lock(void)
{
    picks++;
    return &fr.lock;
}
static asyncio_flag *pick_flag(void)
{
    picks++;
    return &fr.flag;
}
static asyncio_event *pick_event(void)
{
    picks++;
    return &fr.ev;
}
static int sleeper_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(5);
    asyncio_event_set(&fr.ev);
    asyncio_flag_set(&fr.flag);
    ASYNC_RETURN(5);
    ASYNC_END;
}

static int evaluate_once_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&other_task, asyncio_coro_init(&fr2.co, sleeper_fn)), 0);
    AWAIT_TASK(pick_task()); /* suspends, resumes: finish needs the task again */
    trace("task: %d, evaluated %d time(s)", (int)AWAIT_RESULT, picks);
    AWAIT_EVENT(pick_event());
    trace("event: evaluated %d time(s)", picks);
    AWAIT_FLAG(pick_flag());
    trace("flag: evaluated %d time(s)", picks);
    AWAIT_LOCK(pick_lock());
    trace("lock: evaluated %d time(s)", picks);
    cr_assert_eq(asyncio_lock_release(&fr.lock), 0);
    ASYNC_END;
}

Test(macros, every_await_evaluates_its_argument_exactly_once)
{
    asyncio_lock_init(&fr.lock);
    asyncio_event_init(&fr.ev);
    asyncio_flag_init(&fr.flag);
    picks = 0;
    cr_assert_eq(run(evaluate_once_fn, NULL), 0);
    assert_trace("task: 5, evaluated 1 time(s)\nevent: evaluated 2 time(s)\n"
                 "flag: evaluated 3 time(s)\nlock: evaluated 4 time(s)\n");
}

/* ---- try / except across awaits ---- */
/*
 * CPython 3.11, tests/py/try.py (the worker part):
 *
 *   async def worker(lock):
 *       try:
 *           print("worker: start")
 *           await asyncio.sleep(0.01)
 *           print("worker: first sleep done")
 *           await asyncio.sleep(1)
 *           print("worker: not reached")
 *       except asyncio.CancelledError:
 *           print("worker: caught CancelledError")
 *       async with lock:
 *           print("worker: holds the lock")
 *           await asyncio.sleep(0.01)
 *       print("worker: released, locked =", lock.locked())
 *       try:
 *           async with lock:
 *               print("worker: holds the lock again")
 *               raise ValueError
 *       except ValueError:
 *           print("worker: ValueError after the release, locked =", lock.locked())
 *       return 42
 *
 *   async def main():
 *       lock = asyncio.Lock()
 *       t = asyncio.create_task(worker(lock))
 *       await asyncio.sleep(0.02)
 *       print("main: cancel")
 *       t.cancel()
 *       print("main: result", await t)
 */
#define EVALUE ASYNCIO_EUSER(1) /* ValueError */

static int worker_fn(asyncio_coro *co)
{
    struct frame *f = ASYNC_FRAME(struct frame, co);
    ASYNC_BEGIN(co);
    ASYNC_TRY_BLOCK
    {
        trace("worker: start");
        AWAIT_SLEEP_MS(10);
        trace("worker: first sleep done");
        AWAIT_SLEEP_MS(1000);
        trace("worker: not reached");
    }
    ASYNC_EXCEPT(ASYNCIO_ECANCELLED) { trace("worker: caught CancelledError"); }
    ASYNC_TRY_END;
    ASYNC_WITH_LOCK(&f->lock)
    {
        trace("worker: holds the lock");
        AWAIT_SLEEP_MS(10);
    }
    ASYNC_WITH_END(&f->lock);
    trace("worker: released, locked = %s", asyncio_lock_locked(&f->lock) ? "True" : "False");
    ASYNC_TRY_BLOCK
    {
        ASYNC_WITH_LOCK(&f->lock)
        {
            trace("worker: holds the lock again");
            ASYNC_RAISE(EVALUE);
        }
        ASYNC_WITH_END(&f->lock);
    }
    ASYNC_EXCEPT(EVALUE)
    {
        trace("worker: ValueError after the release, locked = %s",
              asyncio_lock_locked(&f->lock) ? "True" : "False");
    }
    ASYNC_TRY_END;
    ASYNC_RETURN(42);
    ASYNC_END;
}

static int try_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_lock_init(&fr2.lock);
    cr_assert_eq(asyncio_create_task(&other_task, asyncio_coro_init(&fr2.co, worker_fn)), 0);
    AWAIT_SLEEP_MS(20);
    trace("main: cancel");
    cr_assert_eq(asyncio_task_cancel(&other_task), 1);
    AWAIT_TASK(&other_task);
    trace("main: result %d", (int)AWAIT_RESULT);
    ASYNC_END;
}

Test(macros, try_block_across_awaits_catches_a_cancellation_and_async_with_releases)
{
    cr_assert_eq(run(try_main, NULL), 0);
    assert_trace("worker: start\n"
                 "worker: first sleep done\n"
                 "main: cancel\n"
                 "worker: caught CancelledError\n"
                 "worker: holds the lock\n"
                 "worker: released, locked = False\n"
                 "worker: holds the lock again\n"
                 "worker: ValueError after the release, locked = False\n"
                 "main: result 42\n");
}

/* Typed handlers let other errors through; nesting; errors in a handler. */
static int nested_fn(asyncio_coro *co)
{
    struct frame *f = ASYNC_FRAME(struct frame, co);
    ASYNC_BEGIN(co);
    ASYNC_TRY_BLOCK
    {
        ASYNC_TRY_BLOCK
        {
            AWAIT_SLEEP_MS(1);
            ASYNC_RAISE(ASYNCIO_EUSER(2));
        }
        ASYNC_EXCEPT(ASYNCIO_EUSER(1)) { trace("inner handler: not reached"); }
        ASYNC_TRY_END;
        trace("not reached either");
    }
    ASYNC_EXCEPT_IF(AWAIT_ERROR <= ASYNCIO_EUSER(0))
    {
        trace("outer handler: user error %d", ASYNCIO_EUSER(0) - AWAIT_ERROR);
        f->n = AWAIT_ERROR; /* kept across the handler's await */
        AWAIT_SLEEP_MS(1);
        trace("outer handler after an await: %d", ASYNCIO_EUSER(0) - f->n);
    }
    ASYNC_TRY_END;
    ASYNC_TRY_BLOCK
    {
        ASYNC_TRY_BLOCK
        {
            AWAIT_SLEEP_MS(1);
            ASYNC_RAISE(ASYNCIO_EUSER(3));
        }
        ASYNC_EXCEPT_ANY
        {
            trace("inner handler: %d, raises again", ASYNCIO_EUSER(0) - AWAIT_ERROR);
            ASYNC_RERAISE;
        }
        ASYNC_TRY_END;
    }
    ASYNC_EXCEPT(ASYNCIO_EUSER(3)) { trace("outer handler got it"); }
    ASYNC_TRY_END;
    ASYNC_TRY_BLOCK { AWAIT_SLEEP_MS(1); }
    ASYNC_EXCEPT_ANY { trace("no error: not reached"); }
    ASYNC_TRY_END;
    trace("a typed handler lets others through:");
    ASYNC_TRY_BLOCK { ASYNC_RAISE(ASYNCIO_EUSER(4)); }
    ASYNC_EXCEPT(ASYNCIO_ETIMEDOUT) { trace("not reached"); }
    ASYNC_TRY_END;
    trace("not reached: the error leaves the coroutine");
    ASYNC_FINALLY;
    trace("finally: %d", ASYNCIO_EUSER(0) - ASYNC_ERROR);
    ASYNC_TRY_BLOCK
    {
        AWAIT_SLEEP_MS(1);
        ASYNC_RAISE(ASYNCIO_EUSER(5));
    }
    ASYNC_EXCEPT(ASYNCIO_EUSER(5))
    {
        trace("try block inside finally caught %d", ASYNCIO_EUSER(0) - AWAIT_ERROR);
    }
    ASYNC_TRY_END;
    trace("finally still unwinds with %d", ASYNCIO_EUSER(0) - ASYNC_ERROR);
    ASYNC_END;
}

Test(macros, typed_nested_try_blocks_propagate_what_they_do_not_catch)
{
    cr_assert_eq(run(nested_fn, NULL), ASYNCIO_EUSER(4));
    assert_trace("outer handler: user error 2\n"
                 "outer handler after an await: 2\n"
                 "inner handler: 3, raises again\n"
                 "outer handler got it\n"
                 "a typed handler lets others through:\n"
                 "finally: 4\n"
                 "try block inside finally caught 5\n"
                 "finally still unwinds with 4\n");
}

/* ---- async with lock, cancelled inside: released, the waiter gets it ---- */
/*
 * CPython 3.11, tests/py/with_cancel.py:
 *
 *   async def holder(lock, ev):
 *       try:
 *           async with lock:
 *               print("holder: holds the lock")
 *               ev.set()
 *               await asyncio.sleep(1)
 *       except asyncio.CancelledError:
 *           print("holder: cancelled, locked =", lock.locked())
 *           raise
 *   async def waiter(lock):
 *       async with lock:
 *           print("waiter: holds the lock")
 *   async def main():
 *       lock = asyncio.Lock(); ev = asyncio.Event()
 *       h = asyncio.create_task(holder(lock, ev))
 *       await ev.wait()
 *       w = asyncio.create_task(waiter(lock))
 *       await asyncio.sleep(0.01)
 *       h.cancel()
 *       try:
 *           await h
 *       except asyncio.CancelledError:
 *           print("main: holder cancelled")
 *       await w
 *       print("main: locked =", lock.locked())
 */
static asyncio_lock shared_lock;
static asyncio_event shared_ev;
static asyncio_task waiter_task;
static struct frame wfr;

static int holder_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY_BLOCK
    {
        ASYNC_WITH_LOCK(&shared_lock)
        {
            trace("holder: holds the lock");
            asyncio_event_set(&shared_ev);
            AWAIT_SLEEP_MS(1000);
        }
        ASYNC_WITH_END(&shared_lock);
    }
    ASYNC_EXCEPT(ASYNCIO_ECANCELLED)
    {
        trace("holder: cancelled, locked = %s",
              asyncio_lock_locked(&shared_lock) ? "True" : "False");
        ASYNC_RERAISE;
    }
    ASYNC_TRY_END;
    ASYNC_END;
}

static int waiter_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_WITH_LOCK(&shared_lock) { trace("waiter: holds the lock"); }
    ASYNC_WITH_END(&shared_lock);
    ASYNC_END;
}

static int with_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_lock_init(&shared_lock);
    asyncio_event_init(&shared_ev);
    cr_assert_eq(asyncio_create_task(&other_task, asyncio_coro_init(&fr2.co, holder_fn)), 0);
    AWAIT_EVENT(&shared_ev);
    cr_assert_eq(asyncio_create_task(&waiter_task, asyncio_coro_init(&wfr.co, waiter_fn)), 0);
    AWAIT_SLEEP_MS(10);
    cr_assert_eq(asyncio_task_cancel(&other_task), 1);
    ASYNC_TRY(AWAIT_TASK(&other_task));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED)
        trace("main: holder cancelled");
    AWAIT_TASK(&waiter_task);
    trace("main: locked = %s", asyncio_lock_locked(&shared_lock) ? "True" : "False");
    ASYNC_END;
}

Test(macros, async_with_lock_cancelled_inside_releases_and_the_waiter_gets_it)
{
    cr_assert_eq(run(with_main, NULL), 0);
    assert_trace("holder: holds the lock\n"
                 "holder: cancelled, locked = False\n"
                 "waiter: holds the lock\n"
                 "main: holder cancelled\n"
                 "main: locked = False\n");
}

/* Cancelled while still waiting for the lock: nothing to release, and the
 * holder's lock is left alone. */
static int late_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_WITH_LOCK(&shared_lock) { trace("late: not reached"); }
    ASYNC_WITH_END(&shared_lock);
    ASYNC_END;
}

static int late_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_lock_init(&shared_lock);
    AWAIT_LOCK(&shared_lock);
    cr_assert_eq(asyncio_create_task(&other_task, asyncio_coro_init(&fr2.co, late_fn)), 0);
    AWAIT_SLEEP_MS(1);
    cr_assert_eq(asyncio_task_cancel(&other_task), 1);
    ASYNC_TRY(AWAIT_TASK(&other_task));
    trace("late: %s; main still holds the lock: %d", asyncio_strerror(AWAIT_ERROR),
          asyncio_lock_locked(&shared_lock));
    cr_assert_eq(asyncio_lock_release(&shared_lock), 0);
    ASYNC_END;
}

Test(macros, async_with_lock_cancelled_while_waiting_releases_nothing)
{
    cr_assert_eq(run(late_main, NULL), 0);
    assert_trace("late: cancelled; main still holds the lock: 1\n");
}

/* ---- a coroutine written without the macros ends with asyncio_coro_finish ---- */
static int hand_written_fn(asyncio_coro *co)
{
    co->value = 3;
    return asyncio_coro_finish(co, 0);
}

static int hand_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT(asyncio_coro_init(&fr.child, hand_written_fn));
    trace("hand-written: %d", (int)AWAIT_RESULT);
    ASYNC_END;
}

Test(macros, a_hand_written_coroutine_ends_with_coro_finish)
{
    cr_assert_eq(run(hand_main, NULL), 0);
    assert_trace("hand-written: 3\n");
}
