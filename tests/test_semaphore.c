/* SPDX-License-Identifier: MIT */
/* Semaphore and BoundedSemaphore (issue 15): CPython 3.11's asyncio
 * semantics. Each test's expected trace is CPython 3.11's output of the
 * Python script in the comment above it. */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(semaphore, .init = setup, .timeout = 10);

static const char *tf(int b) { return b ? "True" : "False"; }

#define VALUE_LOCKED(s) trace("%u %s", asyncio_semaphore_value(s), tf(asyncio_semaphore_locked(s)))
#define SEM_TRACE(s) trace("%s %u", tf(asyncio_semaphore_locked(s)), asyncio_semaphore_value(s))

/* ======================================================================== */
/* locked / value, release beyond the initial value                         */
/* ======================================================================== */

/*
 * import asyncio
 *
 * async def main():
 *     s = asyncio.Semaphore(2)
 *     print(s.locked(), s._value)
 *     await s.acquire()
 *     print(s.locked(), s._value)
 *     await s.acquire()
 *     print(s.locked(), s._value)
 *     s.release()
 *     print(s.locked(), s._value)
 *     s.release()
 *     s.release()
 *     print(s.locked(), s._value)
 *     b = asyncio.BoundedSemaphore(1)
 *     await b.acquire()
 *     b.release()
 *     try:
 *         b.release()
 *     except ValueError as e:
 *         print("ValueError", e)
 *     print(asyncio.Semaphore(0).locked())
 *
 * asyncio.run(main())
 */
struct basic_main {
    asyncio_coro co;
    asyncio_semaphore s, b, z;
};
static int basic_main_fn(asyncio_coro *co)
{
    struct basic_main *f = (struct basic_main *)co;
    ASYNC_BEGIN(co);
    asyncio_semaphore_init(&f->s, 2);
    SEM_TRACE(&f->s);
    AWAIT_SEMAPHORE(&f->s);
    SEM_TRACE(&f->s);
    AWAIT_SEMAPHORE(&f->s);
    SEM_TRACE(&f->s);
    asyncio_semaphore_release(&f->s);
    SEM_TRACE(&f->s);
    asyncio_semaphore_release(&f->s);
    asyncio_semaphore_release(&f->s);
    SEM_TRACE(&f->s);
    asyncio_bounded_semaphore_init(&f->b, 1);
    AWAIT_SEMAPHORE(&f->b);
    asyncio_semaphore_release(&f->b);
    if (asyncio_semaphore_release(&f->b) == ASYNCIO_EOVERRELEASE)
        trace("ValueError %s", asyncio_strerror(ASYNCIO_EOVERRELEASE));
    asyncio_semaphore_init(&f->z, 0);
    trace("%s", tf(asyncio_semaphore_locked(&f->z)));
    ASYNC_END;
}

Test(semaphore, locked_value_and_bounded_over_release_is_an_error)
{
    static struct basic_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, basic_main_fn), NULL), 0);
    assert_trace("False 2\n"
                 "False 1\n"
                 "True 0\n"
                 "False 1\n"
                 "False 3\n"
                 "ValueError BoundedSemaphore released too many times\n"
                 "True\n");
    cr_assert_eq(asyncio_semaphore_value(&m.b), 1);
    cr_assert_eq(asyncio_semaphore_release(NULL), ASYNCIO_EINVAL);
}

/* ======================================================================== */
/* FIFO: waiters served in order; a newcomer queues behind a woken waiter   */
/* ======================================================================== */

struct worker {
    asyncio_coro co;
    asyncio_semaphore *s;
    const char *id;
};
static int worker_fn(asyncio_coro *co)
{
    struct worker *f = (struct worker *)co;
    ASYNC_BEGIN(co);
    trace("acquire %s", f->id);
    AWAIT_SEMAPHORE(f->s);
    trace("have %s", f->id);
    AWAIT_SLEEP_MS(10);
    asyncio_semaphore_release(f->s);
    trace("release %s", f->id);
    ASYNC_END;
}
static asyncio_coro *worker(struct worker *f, asyncio_semaphore *s, const char *id)
{
    f->s = s;
    f->id = id;
    return asyncio_coro_init(&f->co, worker_fn);
}

/*
 * import asyncio
 *
 * async def worker(s, i):
 *     print("acquire", i)
 *     await s.acquire()
 *     print("have", i)
 *     await asyncio.sleep(0.01)
 *     s.release()
 *     print("release", i)
 *
 * async def main():
 *     s = asyncio.Semaphore(2)
 *     await asyncio.gather(*[worker(s, i) for i in range(5)])
 *     print("value", s._value)
 *     # 3.11 fairness: a permit released while a woken waiter has not run yet
 *     # does not go to a newcomer: it queues behind.
 *     s = asyncio.Semaphore(0)
 *     a = asyncio.create_task(worker(s, "a"))
 *     await asyncio.sleep(0)
 *     s.release()
 *     s.release()
 *     print("locked", s.locked(), s._value)
 *     b = asyncio.create_task(worker(s, "b"))
 *     c = asyncio.create_task(worker(s, "c"))
 *     await asyncio.gather(a, b, c)
 *     print("value", s._value)
 *
 * asyncio.run(main())
 */
static const char *const ids[] = {"0", "1", "2", "3", "4", "a", "b", "c"};

struct fifo_main {
    asyncio_coro co;
    asyncio_semaphore s;
    asyncio_task t[8], *tp[8];
    struct worker w[8];
    asyncio_outcome out[5];
    asyncio_gather_state gs;
};
static int fifo_main_fn(asyncio_coro *co)
{
    struct fifo_main *f = (struct fifo_main *)co;
    int i;
    ASYNC_BEGIN(co);
    asyncio_semaphore_init(&f->s, 2);
    for (i = 0; i < 8; i++)
        f->tp[i] = &f->t[i];
    for (i = 0; i < 5; i++)
        asyncio_create_task(&f->t[i], worker(&f->w[i], &f->s, ids[i]));
    AWAIT(asyncio_gather(&f->gs, f->tp, 5, f->out, 0));
    trace("value %u", asyncio_semaphore_value(&f->s));
    asyncio_semaphore_init(&f->s, 0);
    asyncio_create_task(&f->t[5], worker(&f->w[5], &f->s, ids[5]));
    YIELD;
    asyncio_semaphore_release(&f->s);
    asyncio_semaphore_release(&f->s);
    trace("locked %s %u", tf(asyncio_semaphore_locked(&f->s)), asyncio_semaphore_value(&f->s));
    asyncio_create_task(&f->t[6], worker(&f->w[6], &f->s, ids[6]));
    asyncio_create_task(&f->t[7], worker(&f->w[7], &f->s, ids[7]));
    AWAIT(asyncio_gather(&f->gs, f->tp + 5, 3, f->out, 0));
    trace("value %u", asyncio_semaphore_value(&f->s));
    ASYNC_END;
}

Test(semaphore, fifo_order_and_a_newcomer_queues_behind_a_woken_waiter)
{
    static struct fifo_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, fifo_main_fn), NULL), 0);
    assert_trace("acquire 0\n"
                 "have 0\n"
                 "acquire 1\n"
                 "have 1\n"
                 "acquire 2\n"
                 "acquire 3\n"
                 "acquire 4\n"
                 "release 0\n"
                 "release 1\n"
                 "have 2\n"
                 "have 3\n"
                 "release 2\n"
                 "release 3\n"
                 "have 4\n"
                 "release 4\n"
                 "value 2\n"
                 "acquire a\n"
                 "locked True 1\n"
                 "have a\n"
                 "acquire b\n"
                 "have b\n"
                 "acquire c\n"
                 "release a\n"
                 "release b\n"
                 "have c\n"
                 "release c\n"
                 "value 2\n");
}

/* ======================================================================== */
/* Cancellation: no permit lost or duplicated                               */
/* ======================================================================== */

struct waiter {
    asyncio_coro co;
    asyncio_semaphore *s;
    int id;
};
static int waiter_fn(asyncio_coro *co)
{
    struct waiter *f = (struct waiter *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_SEMAPHORE(f->s));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("cancelled %d", f->id);
        ASYNC_RAISE(AWAIT_ERROR);
    }
    trace("have %d", f->id);
    ASYNC_END;
}

/*
 * import asyncio
 *
 * async def waiter(s, i):
 *     try:
 *         await s.acquire()
 *     except asyncio.CancelledError:
 *         print("cancelled", i)
 *         raise
 *     print("have", i)
 *
 * async def main():
 *     s = asyncio.Semaphore(0)
 *     w = [asyncio.create_task(waiter(s, i)) for i in range(4)]
 *     await asyncio.sleep(0)
 *     # cancelled while waiting: no permit taken
 *     w[0].cancel()
 *     await asyncio.sleep(0)
 *     print(s._value, s.locked())
 *     # handed a permit, then cancelled: the permit goes to the next waiter
 *     s.release()
 *     w[1].cancel()
 *     await asyncio.sleep(0)
 *     await asyncio.sleep(0)
 *     print(s._value, s.locked())
 *     # two permits, the first receiver cancelled: both still used
 *     s.release()
 *     s.release()
 *     print(s._value, s.locked())
 *     w[3].cancel()
 *     await asyncio.sleep(0)
 *     await asyncio.sleep(0)
 *     print(s._value, s.locked())
 *
 * asyncio.run(main())
 */
struct cancel_main {
    asyncio_coro co;
    asyncio_semaphore s;
    asyncio_task t[4];
    struct waiter w[4];
};
static int cancel_main_fn(asyncio_coro *co)
{
    struct cancel_main *f = (struct cancel_main *)co;
    int i;
    ASYNC_BEGIN(co);
    asyncio_semaphore_init(&f->s, 0);
    for (i = 0; i < 4; i++) {
        f->w[i].s = &f->s;
        f->w[i].id = i;
        asyncio_create_task(&f->t[i], asyncio_coro_init(&f->w[i].co, waiter_fn));
    }
    YIELD;
    asyncio_task_cancel(&f->t[0]);
    YIELD;
    VALUE_LOCKED(&f->s);
    asyncio_semaphore_release(&f->s);
    asyncio_task_cancel(&f->t[1]);
    YIELD;
    YIELD;
    VALUE_LOCKED(&f->s);
    asyncio_semaphore_release(&f->s);
    asyncio_semaphore_release(&f->s);
    VALUE_LOCKED(&f->s);
    asyncio_task_cancel(&f->t[3]);
    YIELD;
    YIELD;
    VALUE_LOCKED(&f->s);
    ASYNC_END;
}

Test(semaphore, a_waiter_cancelled_after_the_hand_off_passes_the_permit_on)
{
    static struct cancel_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_main_fn), NULL), 0);
    assert_trace("cancelled 0\n"
                 "0 True\n"
                 "cancelled 1\n"
                 "have 2\n"
                 "0 True\n"
                 "1 True\n"
                 "cancelled 3\n"
                 "2 False\n");
}
