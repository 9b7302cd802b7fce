/* SPDX-License-Identifier: MIT */
/* Coroutine objects of every wait (issue 12 item 4, issue 15): Event.wait,
 * Lock.acquire, ThreadSafeFlag.wait, sleep, Queue get/put/join,
 * Semaphore.acquire, Condition.acquire and the interrupt-safe queue's get,
 * each an asyncio_op that asyncio_wait_for_ms() and asyncio_gather() take
 * directly: MicroPython's `await asyncio.wait_for(ev.wait(), 0.1)` is one
 * line. Expected traces: CPython 3.11's output of the script above each test
 * (loop.call_later(t, fn) is a `later` task here). */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(awaitables, .init = setup, .timeout = 10);

static const char *tf(int b) { return b ? "True" : "False"; }
static const char *py(asyncio_value v) { return v == 1 ? "True" : v == 0 ? "None" : "?"; }
static unsigned ms(void) { return (unsigned)asyncio_ticks_ms(); }

/* loop.call_later(ms, fn, arg) as a task. */
struct later {
    asyncio_coro co;
    int32_t ms;
    void (*fn)(void *arg);
    void *arg;
};
static int later_fn(asyncio_coro *co)
{
    struct later *f = (struct later *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    f->fn(f->arg);
    ASYNC_END;
}
static void call_later(asyncio_task *t, struct later *f, int32_t ms, void (*fn)(void *), void *arg)
{
    f->ms = ms;
    f->fn = fn;
    f->arg = arg;
    cr_assert_eq(asyncio_create_task(t, asyncio_coro_init(&f->co, later_fn)), 0);
}
static void ev_set(void *e) { asyncio_event_set(e); }
static void put5(void *q) { asyncio_queue_put_nowait(q, 5); }
static void get_nowait(void *q) { asyncio_queue_get_nowait(q, NULL); }
static void done3(void *q)
{
    for (int i = 0; i < 3; i++)
        asyncio_queue_task_done(q);
}
static void sem_release(void *s) { asyncio_semaphore_release(s); }
static void lock_release(void *l) { asyncio_lock_release(l); }
static void flag_set(void *f) { asyncio_flag_set(f); }

/* ======================================================================== */
/* wait_for(x, 0.1) over each coroutine object: timeout, then success       */
/* ======================================================================== */

/*
 * import asyncio
 *
 * async def main():
 *     loop = asyncio.get_running_loop()
 *     t0 = loop.time()
 *     def ms():
 *         return round((loop.time() - t0) * 20) * 50  # 50 ms steps: real time drifts
 *
 *     ev = asyncio.Event()
 *     try:
 *         await asyncio.wait_for(ev.wait(), 0.1)
 *     except asyncio.TimeoutError:
 *         print("event timeout", ms())
 *     loop.call_later(0.05, ev.set)
 *     print("event", await asyncio.wait_for(ev.wait(), 0.1), ms())
 *     lock = asyncio.Lock()
 *     await lock.acquire()
 *     try:
 *         await asyncio.wait_for(lock.acquire(), 0.1)
 *     except asyncio.TimeoutError:
 *         print("lock timeout", lock.locked(), ms())
 *     lock.release()
 *     print("lock", await asyncio.wait_for(lock.acquire(), 0.1), lock.locked(), ms())
 *     lock.release()
 *     try:
 *         await asyncio.wait_for(asyncio.sleep(0.2), 0.1)
 *     except asyncio.TimeoutError:
 *         print("sleep timeout", ms())
 *     print("sleep", await asyncio.wait_for(asyncio.sleep(0.05), 0.1), ms())
 *     q = asyncio.Queue(1)
 *     try:
 *         await asyncio.wait_for(q.get(), 0.1)
 *     except asyncio.TimeoutError:
 *         print("get timeout", q.qsize(), ms())
 *     q.put_nowait(7)
 *     print("get", await asyncio.wait_for(q.get(), 0.1), ms())
 *     q.put_nowait(8)
 *     try:
 *         await asyncio.wait_for(q.put(9), 0.1)
 *     except asyncio.TimeoutError:
 *         print("put timeout", q.qsize(), ms())
 *     s = asyncio.Semaphore(0)
 *     try:
 *         await asyncio.wait_for(s.acquire(), 0.1)
 *     except asyncio.TimeoutError:
 *         print("acquire timeout", s.locked(), ms())
 *     s.release()
 *     print("acquire", await asyncio.wait_for(s.acquire(), 0.1), s.locked(), ms())
 *     c = asyncio.Condition()
 *     print("cond acquire", await asyncio.wait_for(c.acquire(), 0.1), c.locked(), ms())
 *     c.release()
 *
 * asyncio.run(main())
 */
struct wf_main {
    asyncio_coro co;
    asyncio_wait_for_state wf;
    asyncio_op op;
    asyncio_event ev;
    asyncio_lock lock;
    asyncio_queue q;
    asyncio_value buf[1];
    asyncio_semaphore s;
    asyncio_condition c;
    asyncio_task lt;
    struct later lf;
};
#define WAIT_FOR(coro) AWAIT(asyncio_wait_for_ms(&f->wf, coro, 100))
static int wf_main_fn(asyncio_coro *co)
{
    struct wf_main *f = (struct wf_main *)co;
    ASYNC_BEGIN(co);
    asyncio_event_init(&f->ev);
    ASYNC_TRY(WAIT_FOR(asyncio_event_wait(&f->op, &f->ev)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("event timeout %u", ms());
    call_later(&f->lt, &f->lf, 50, ev_set, &f->ev);
    WAIT_FOR(asyncio_event_wait(&f->op, &f->ev));
    trace("event %s %u", py(AWAIT_RESULT), ms());

    asyncio_lock_init(&f->lock);
    AWAIT_LOCK(&f->lock);
    ASYNC_TRY(WAIT_FOR(asyncio_lock_acquire(&f->op, &f->lock)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("lock timeout %s %u", tf(asyncio_lock_locked(&f->lock)), ms());
    asyncio_lock_release(&f->lock);
    WAIT_FOR(asyncio_lock_acquire(&f->op, &f->lock));
    trace("lock %s %s %u", py(AWAIT_RESULT), tf(asyncio_lock_locked(&f->lock)), ms());
    asyncio_lock_release(&f->lock);

    ASYNC_TRY(WAIT_FOR(asyncio_sleep(&f->op, 0.2)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("sleep timeout %u", ms());
    WAIT_FOR(asyncio_sleep_ms(&f->op, 50));
    trace("sleep %s %u", py(AWAIT_RESULT), ms());

    asyncio_queue_init(&f->q, f->buf, 1);
    ASYNC_TRY(WAIT_FOR(asyncio_queue_get(&f->op, &f->q)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("get timeout %zu %u", asyncio_queue_qsize(&f->q), ms());
    asyncio_queue_put_nowait(&f->q, 7);
    WAIT_FOR(asyncio_queue_get(&f->op, &f->q));
    trace("get %d %u", (int)AWAIT_RESULT, ms());
    asyncio_queue_put_nowait(&f->q, 8);
    ASYNC_TRY(WAIT_FOR(asyncio_queue_put(&f->op, &f->q, 9)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("put timeout %zu %u", asyncio_queue_qsize(&f->q), ms());

    asyncio_semaphore_init(&f->s, 0);
    ASYNC_TRY(WAIT_FOR(asyncio_semaphore_acquire(&f->op, &f->s)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("acquire timeout %s %u", tf(asyncio_semaphore_locked(&f->s)), ms());
    asyncio_semaphore_release(&f->s);
    WAIT_FOR(asyncio_semaphore_acquire(&f->op, &f->s));
    trace("acquire %s %s %u", py(AWAIT_RESULT), tf(asyncio_semaphore_locked(&f->s)), ms());

    asyncio_condition_init(&f->c, NULL);
    WAIT_FOR(asyncio_condition_acquire(&f->op, &f->c));
    trace("cond acquire %s %s %u", py(AWAIT_RESULT), tf(asyncio_condition_locked(&f->c)), ms());
    asyncio_condition_release(&f->c);
    ASYNC_END;
}

Test(awaitables, wait_for_takes_each_coroutine_object_timeout_and_success)
{
    static struct wf_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, wf_main_fn), NULL), 0);
    assert_trace("event timeout 100\n"
                 "event True 150\n"
                 "lock timeout True 250\n"
                 "lock True True 250\n"
                 "sleep timeout 350\n"
                 "sleep None 400\n"
                 "get timeout 0 500\n"
                 "get 7 500\n"
                 "put timeout 1 600\n"
                 "acquire timeout True 700\n"
                 "acquire True True 700\n"
                 "cond acquire True True 700\n");
    /* Nothing lost to the timeouts: the queue still holds 8 only. */
    cr_assert_eq(asyncio_queue_qsize(&m.q), 1);
    cr_assert_eq(asyncio_semaphore_value(&m.s), 0);
}

/* ======================================================================== */
/* gather over coroutine objects                                            */
/* ======================================================================== */

/*
 * import asyncio
 *
 * async def main():
 *     loop = asyncio.get_running_loop()
 *     t0 = loop.time()
 *     def ms():
 *         return round((loop.time() - t0) * 20) * 50  # 50 ms steps: real time drifts
 *
 *     q = asyncio.Queue(2)
 *     s = asyncio.Semaphore(0)
 *     ev = asyncio.Event()
 *     lock = asyncio.Lock()
 *     await lock.acquire()
 *     loop.call_later(0.01, q.put_nowait, 5)
 *     loop.call_later(0.02, s.release)
 *     loop.call_later(0.03, ev.set)
 *     loop.call_later(0.04, lock.release)
 *     r = await asyncio.gather(q.get(), s.acquire(), ev.wait(), lock.acquire(),
 *                              asyncio.sleep(0.05), q.put(6))
 *     print("gather", r, ms())
 *     loop.call_later(0.05, q.get_nowait)
 *     loop.call_later(0.1, q.get_nowait)
 *     loop.call_later(0.15, lambda: [q.task_done() for _ in range(3)])
 *     r = await asyncio.gather(q.join(), q.put(7))
 *     print("gather", r, q.qsize(), ms())
 *
 * asyncio.run(main())
 */
struct g_main {
    asyncio_coro co;
    asyncio_queue q;
    asyncio_value buf[2];
    asyncio_semaphore s;
    asyncio_event ev;
    asyncio_lock lock;
    asyncio_op op[6];
    asyncio_task t[6], *tp[6], lt[4];
    struct later lf[4];
    asyncio_outcome out[6];
    asyncio_gather_state gs;
};
static int g_main_fn(asyncio_coro *co)
{
    struct g_main *f = (struct g_main *)co;
    int i;
    ASYNC_BEGIN(co);
    asyncio_queue_init(&f->q, f->buf, 2);
    asyncio_semaphore_init(&f->s, 0);
    asyncio_event_init(&f->ev);
    asyncio_lock_init(&f->lock);
    AWAIT_LOCK(&f->lock);
    call_later(&f->lt[0], &f->lf[0], 10, put5, &f->q);
    call_later(&f->lt[1], &f->lf[1], 20, sem_release, &f->s);
    call_later(&f->lt[2], &f->lf[2], 30, ev_set, &f->ev);
    call_later(&f->lt[3], &f->lf[3], 40, lock_release, &f->lock);
    asyncio_create_task(&f->t[0], asyncio_queue_get(&f->op[0], &f->q));
    asyncio_create_task(&f->t[1], asyncio_semaphore_acquire(&f->op[1], &f->s));
    asyncio_create_task(&f->t[2], asyncio_event_wait(&f->op[2], &f->ev));
    asyncio_create_task(&f->t[3], asyncio_lock_acquire(&f->op[3], &f->lock));
    asyncio_create_task(&f->t[4], asyncio_sleep(&f->op[4], 0.05));
    asyncio_create_task(&f->t[5], asyncio_queue_put(&f->op[5], &f->q, 6));
    for (i = 0; i < 6; i++)
        f->tp[i] = &f->t[i];
    AWAIT(asyncio_gather(&f->gs, f->tp, 6, f->out, 0));
    trace("gather [%d, %s, %s, %s, %s, %s] %u", (int)f->out[0].value, py(f->out[1].value),
          py(f->out[2].value), py(f->out[3].value), py(f->out[4].value), py(f->out[5].value), ms());
    call_later(&f->lt[0], &f->lf[0], 50, get_nowait, &f->q);
    call_later(&f->lt[1], &f->lf[1], 100, get_nowait, &f->q);
    call_later(&f->lt[2], &f->lf[2], 150, done3, &f->q);
    asyncio_create_task(&f->t[0], asyncio_queue_join(&f->op[0], &f->q));
    asyncio_create_task(&f->t[1], asyncio_queue_put(&f->op[1], &f->q, 7));
    AWAIT(asyncio_gather(&f->gs, f->tp, 2, f->out, 0));
    trace("gather [%s, %s] %zu %u", py(f->out[0].value), py(f->out[1].value),
          asyncio_queue_qsize(&f->q), ms());
    ASYNC_END;
}

Test(awaitables, gather_takes_coroutine_objects)
{
    static struct g_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, g_main_fn), NULL), 0);
    assert_trace("gather [6, True, True, True, None, None] 50\n"
                 "gather [None, None] 0 200\n");
}

/* ======================================================================== */
/* ThreadSafeFlag.wait() (MicroPython only: no CPython script)              */
/* ======================================================================== */

struct flag_main {
    asyncio_coro co;
    asyncio_wait_for_state wf;
    asyncio_op op, op2;
    asyncio_flag fl;
    asyncio_task lt, t, *tp;
    struct later lf;
    asyncio_outcome out;
    asyncio_gather_state gs;
};
static int flag_main_fn(asyncio_coro *co)
{
    struct flag_main *f = (struct flag_main *)co;
    ASYNC_BEGIN(co);
    asyncio_flag_init(&f->fl);
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_flag_wait(&f->op, &f->fl), 100)));
    trace("flag %s %u", asyncio_strerror(AWAIT_ERROR), ms());
    call_later(&f->lt, &f->lf, 30, flag_set, &f->fl);
    AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_flag_wait(&f->op, &f->fl), 100));
    trace("flag ok %u", ms());
    call_later(&f->lt, &f->lf, 20, flag_set, &f->fl);
    asyncio_create_task(&f->t, asyncio_flag_wait(&f->op, &f->fl));
    f->tp = &f->t;
    AWAIT(asyncio_gather(&f->gs, &f->tp, 1, &f->out, 0));
    trace("gather %d %u", f->out.err, ms());
    ASYNC_TRY(AWAIT(asyncio_sleep_ms(&f->op2, (int64_t)ASYNCIO_SLEEP_MAX_MS + 1)));
    trace("sleep %s", asyncio_strerror(AWAIT_ERROR));
    AWAIT(asyncio_sleep_ms(&f->op2, -5));
    trace("negative sleep %u", ms());
    ASYNC_END;
}

Test(awaitables, flag_wait_and_sleep_as_coroutine_objects)
{
    static struct flag_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, flag_main_fn), NULL), 0);
    assert_trace("flag timed out 100\n"
                 "flag ok 130\n"
                 "gather 0 150\n"
                 "sleep ticks interval overflow\n"
                 "negative sleep 150\n");
}
