/* SPDX-License-Identifier: MIT */
/* Queue, LifoQueue, PriorityQueue (issue 15): CPython's asyncio.Queue
 * semantics. Each test's expected trace is CPython 3.11's output of the
 * Python script in the comment above it. */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(queue, .init = setup, .timeout = 10);

static const char *tf(int b) { return b ? "True" : "False"; }

/* ======================================================================== */
/* qsize / empty / full / maxsize, nowait errors, LIFO and priority order   */
/* ======================================================================== */

/*
 * import asyncio
 *
 * async def main():
 *     q = asyncio.Queue(2)
 *     print(q.qsize(), q.empty(), q.full(), q.maxsize)
 *     q.put_nowait(1)
 *     q.put_nowait(2)
 *     print(q.qsize(), q.empty(), q.full())
 *     try:
 *         q.put_nowait(3)
 *     except asyncio.QueueFull:
 *         print("QueueFull")
 *     print(q.get_nowait(), q.get_nowait())
 *     try:
 *         q.get_nowait()
 *     except asyncio.QueueEmpty:
 *         print("QueueEmpty")
 *     for cls in (asyncio.LifoQueue, asyncio.PriorityQueue):
 *         q = cls(5)
 *         for v in (3, 1, 4, 1, 5):
 *             q.put_nowait(v)
 *         print(cls.__name__, *[q.get_nowait() for _ in range(5)])
 *
 * asyncio.run(main())
 */
static int cmp_desc(asyncio_value a, asyncio_value b) { return (int)(b - a); }

Test(queue, basics_nowait_errors_lifo_and_priority_order)
{
    asyncio_queue q;
    asyncio_value buf[5], v1 = 0, v2 = 0;
    static const asyncio_value in[] = {3, 1, 4, 1, 5};
    int k, i;
    cr_assert_eq(asyncio_queue_init(&q, buf, 2), 0);
    trace("%zu %s %s %zu", asyncio_queue_qsize(&q), tf(asyncio_queue_empty(&q)),
          tf(asyncio_queue_full(&q)), asyncio_queue_maxsize(&q));
    cr_assert_eq(asyncio_queue_put_nowait(&q, 1), 0);
    cr_assert_eq(asyncio_queue_put_nowait(&q, 2), 0);
    trace("%zu %s %s", asyncio_queue_qsize(&q), tf(asyncio_queue_empty(&q)),
          tf(asyncio_queue_full(&q)));
    if (asyncio_queue_put_nowait(&q, 3) == ASYNCIO_EQUEUEFULL)
        trace("QueueFull");
    cr_assert_eq(asyncio_queue_get_nowait(&q, &v1), 0);
    cr_assert_eq(asyncio_queue_get_nowait(&q, &v2), 0);
    trace("%d %d", (int)v1, (int)v2);
    if (asyncio_queue_get_nowait(&q, &v1) == ASYNCIO_EQUEUEEMPTY)
        trace("QueueEmpty");
    for (k = 0; k < 2; k++) {
        char line[64];
        size_t n = 0;
        if (k == 0)
            asyncio_lifo_queue_init(&q, buf, 5);
        else
            asyncio_priority_queue_init(&q, buf, 5, NULL);
        for (i = 0; i < 5; i++)
            cr_assert_eq(asyncio_queue_put_nowait(&q, in[i]), 0);
        n += (size_t)snprintf(line, sizeof line, "%s", k ? "PriorityQueue" : "LifoQueue");
        for (i = 0; i < 5; i++) {
            cr_assert_eq(asyncio_queue_get_nowait(&q, &v1), 0);
            n += (size_t)snprintf(line + n, sizeof line - n, " %d", (int)v1);
        }
        trace("%s", line);
    }
    assert_trace("0 True False 2\n"
                 "2 False True\n"
                 "QueueFull\n"
                 "1 2\n"
                 "QueueEmpty\n"
                 "LifoQueue 5 1 4 1 3\n"
                 "PriorityQueue 1 1 3 4 5\n");
    /* Misuse and a custom priority order (largest first). */
    cr_assert_eq(asyncio_queue_init(&q, buf, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_queue_init(&q, NULL, 2), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_queue_put_nowait(NULL, 1), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_priority_queue_init(&q, buf, 5, cmp_desc), 0);
    for (i = 0; i < 5; i++)
        asyncio_queue_put_nowait(&q, in[i]);
    for (i = 0; i < 5; i++) {
        static const asyncio_value want[] = {5, 4, 3, 1, 1};
        cr_assert_eq(asyncio_queue_get_nowait(&q, &v1), 0);
        cr_assert_eq(v1, want[i]);
    }
    cr_assert_str_eq(asyncio_strerror(ASYNCIO_EQUEUEFULL), "QueueFull");
    cr_assert_str_eq(asyncio_strerror(ASYNCIO_EQUEUEEMPTY), "QueueEmpty");
}

/* ======================================================================== */
/* Getters: FIFO; a getter whose item was taken first waits again at the    */
/* back                                                                     */
/* ======================================================================== */

struct getter {
    asyncio_coro co;
    asyncio_queue *q;
    int id;
};
static int getter_fn(asyncio_coro *co)
{
    struct getter *f = (struct getter *)co;
    ASYNC_BEGIN(co);
    trace("get %d", f->id);
    AWAIT_QUEUE_GET(f->q);
    trace("got %d %d", f->id, (int)AWAIT_RESULT);
    ASYNC_END;
}
static asyncio_coro *getter(struct getter *f, asyncio_queue *q, int id)
{
    f->q = q;
    f->id = id;
    return asyncio_coro_init(&f->co, getter_fn);
}

/*
 * import asyncio
 *
 * async def getter(q, i):
 *     print("get", i)
 *     v = await q.get()
 *     print("got", i, v)
 *
 * async def main():
 *     q = asyncio.Queue(3)
 *     ts = [asyncio.create_task(getter(q, i)) for i in range(3)]
 *     await asyncio.sleep(0)
 *     q.put_nowait(10)
 *     q.put_nowait(20)
 *     print("stolen", q.get_nowait())
 *     await asyncio.sleep(0)
 *     print("qsize", q.qsize())
 *     q.put_nowait(30)
 *     q.put_nowait(40)
 *     await asyncio.gather(*ts)
 *     print("qsize", q.qsize())
 *
 * asyncio.run(main())
 */
struct getters_main {
    asyncio_coro co;
    asyncio_queue q;
    asyncio_value buf[3];
    asyncio_task t[3], *tp[3];
    struct getter g[3];
    asyncio_outcome out[3];
    asyncio_gather_state gs;
};
static int getters_main_fn(asyncio_coro *co)
{
    struct getters_main *f = (struct getters_main *)co;
    asyncio_value v = 0;
    int i;
    ASYNC_BEGIN(co);
    asyncio_queue_init(&f->q, f->buf, 3);
    for (i = 0; i < 3; i++) {
        asyncio_create_task(&f->t[i], getter(&f->g[i], &f->q, i));
        f->tp[i] = &f->t[i];
    }
    YIELD;
    asyncio_queue_put_nowait(&f->q, 10);
    asyncio_queue_put_nowait(&f->q, 20);
    asyncio_queue_get_nowait(&f->q, &v);
    trace("stolen %d", (int)v);
    YIELD;
    trace("qsize %zu", asyncio_queue_qsize(&f->q));
    asyncio_queue_put_nowait(&f->q, 30);
    asyncio_queue_put_nowait(&f->q, 40);
    AWAIT(asyncio_gather(&f->gs, f->tp, 3, f->out, 0));
    trace("qsize %zu", asyncio_queue_qsize(&f->q));
    ASYNC_END;
}

Test(queue, getters_fifo_and_a_getter_whose_item_was_taken_waits_again_at_the_back)
{
    static struct getters_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, getters_main_fn), NULL), 0);
    assert_trace("get 0\n"
                 "get 1\n"
                 "get 2\n"
                 "stolen 10\n"
                 "got 0 20\n"
                 "qsize 0\n"
                 "got 2 30\n"
                 "got 1 40\n"
                 "qsize 0\n");
}

/* ======================================================================== */
/* Putters: FIFO when full                                                  */
/* ======================================================================== */

struct putter {
    asyncio_coro co;
    asyncio_queue *q;
    int id;
};
static int putter_fn(asyncio_coro *co)
{
    struct putter *f = (struct putter *)co;
    ASYNC_BEGIN(co);
    trace("put %d", f->id);
    AWAIT_QUEUE_PUT(f->q, f->id);
    trace("put done %d", f->id);
    ASYNC_END;
}
static asyncio_coro *putter(struct putter *f, asyncio_queue *q, int id)
{
    f->q = q;
    f->id = id;
    return asyncio_coro_init(&f->co, putter_fn);
}

/*
 * import asyncio
 *
 * async def putter(q, i):
 *     print("put", i)
 *     await q.put(i)
 *     print("put done", i)
 *
 * async def main():
 *     q = asyncio.Queue(1)
 *     q.put_nowait(0)
 *     ts = [asyncio.create_task(putter(q, i)) for i in (1, 2, 3)]
 *     await asyncio.sleep(0)
 *     for _ in range(4):
 *         print("got", await q.get(), q.full())
 *         await asyncio.sleep(0)
 *     await asyncio.gather(*ts)
 *     print("qsize", q.qsize())
 *
 * asyncio.run(main())
 */
struct putters_main {
    asyncio_coro co;
    asyncio_queue q;
    asyncio_value buf[1];
    asyncio_task t[3], *tp[3];
    struct putter p[3];
    asyncio_outcome out[3];
    asyncio_gather_state gs;
    int i;
};
static int putters_main_fn(asyncio_coro *co)
{
    struct putters_main *f = (struct putters_main *)co;
    int i;
    ASYNC_BEGIN(co);
    asyncio_queue_init(&f->q, f->buf, 1);
    asyncio_queue_put_nowait(&f->q, 0);
    for (i = 0; i < 3; i++) {
        asyncio_create_task(&f->t[i], putter(&f->p[i], &f->q, i + 1));
        f->tp[i] = &f->t[i];
    }
    YIELD;
    for (f->i = 0; f->i < 4; f->i++) {
        AWAIT_QUEUE_GET(&f->q);
        trace("got %d %s", (int)AWAIT_RESULT, tf(asyncio_queue_full(&f->q)));
        YIELD;
    }
    AWAIT(asyncio_gather(&f->gs, f->tp, 3, f->out, 0));
    trace("qsize %zu", asyncio_queue_qsize(&f->q));
    ASYNC_END;
}

Test(queue, putters_wait_in_fifo_order_while_full)
{
    static struct putters_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, putters_main_fn), NULL), 0);
    assert_trace("put 1\n"
                 "put 2\n"
                 "put 3\n"
                 "got 0 False\n"
                 "put done 1\n"
                 "got 1 False\n"
                 "put done 2\n"
                 "got 2 False\n"
                 "put done 3\n"
                 "got 3 False\n"
                 "qsize 0\n");
}

/* ======================================================================== */
/* Cancellation never loses or duplicates an item                           */
/* ======================================================================== */

struct cgetter {
    asyncio_coro co;
    asyncio_queue *q;
    int id;
};
static int cgetter_fn(asyncio_coro *co)
{
    struct cgetter *f = (struct cgetter *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_QUEUE_GET(f->q));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("getter %d cancelled", f->id);
        ASYNC_RAISE(AWAIT_ERROR);
    }
    trace("got %d %d", f->id, (int)AWAIT_RESULT);
    ASYNC_END;
}
static asyncio_coro *cgetter(struct cgetter *f, asyncio_queue *q, int id)
{
    f->q = q;
    f->id = id;
    return asyncio_coro_init(&f->co, cgetter_fn);
}

struct cputter {
    asyncio_coro co;
    asyncio_queue *q;
    int id;
};
static int cputter_fn(asyncio_coro *co)
{
    struct cputter *f = (struct cputter *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_QUEUE_PUT(f->q, f->id));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("putter %d cancelled", f->id);
        ASYNC_RAISE(AWAIT_ERROR);
    }
    trace("put %d", f->id);
    ASYNC_END;
}
static asyncio_coro *cputter(struct cputter *f, asyncio_queue *q, int id)
{
    f->q = q;
    f->id = id;
    return asyncio_coro_init(&f->co, cputter_fn);
}

static int cancelled(asyncio_task *t) { return asyncio_task_result(t, NULL) == ASYNCIO_ECANCELLED; }

/*
 * import asyncio
 *
 * async def getter(q, i):
 *     try:
 *         v = await q.get()
 *     except asyncio.CancelledError:
 *         print("getter", i, "cancelled")
 *         raise
 *     print("got", i, v)
 *
 * async def putter(q, i):
 *     try:
 *         await q.put(i)
 *     except asyncio.CancelledError:
 *         print("putter", i, "cancelled")
 *         raise
 *     print("put", i)
 *
 * async def main():
 *     q = asyncio.Queue(1)
 *     # a getter cancelled while waiting takes nothing
 *     g1 = asyncio.create_task(getter(q, 1))
 *     g2 = asyncio.create_task(getter(q, 2))
 *     await asyncio.sleep(0)
 *     g1.cancel()
 *     await asyncio.sleep(0)
 *     q.put_nowait(5)
 *     await asyncio.sleep(0)
 *     print(g1.cancelled(), q.qsize())
 *     # a getter woken for an item, then cancelled: the next getter gets it
 *     g3 = asyncio.create_task(getter(q, 3))
 *     g4 = asyncio.create_task(getter(q, 4))
 *     await asyncio.sleep(0)
 *     q.put_nowait(6)
 *     g3.cancel()
 *     await asyncio.sleep(0)
 *     await asyncio.sleep(0)
 *     print(g3.cancelled(), q.qsize())
 *     # a putter cancelled while waiting puts nothing
 *     q.put_nowait(7)
 *     p1 = asyncio.create_task(putter(q, 8))
 *     p2 = asyncio.create_task(putter(q, 9))
 *     await asyncio.sleep(0)
 *     p1.cancel()
 *     await asyncio.sleep(0)
 *     print("get", q.get_nowait())
 *     await asyncio.sleep(0)
 *     print("get", q.get_nowait())
 *     # a putter woken for a slot, then cancelled: the next putter takes it
 *     q.put_nowait(10)
 *     p3 = asyncio.create_task(putter(q, 11))
 *     p4 = asyncio.create_task(putter(q, 12))
 *     await asyncio.sleep(0)
 *     print("get", q.get_nowait())
 *     p3.cancel()
 *     await asyncio.sleep(0)
 *     await asyncio.sleep(0)
 *     print("get", q.get_nowait(), q.qsize())
 *
 * asyncio.run(main())
 */
struct cancel_main {
    asyncio_coro co;
    asyncio_queue q;
    asyncio_value buf[1];
    asyncio_task g[4], p[4];
    struct cgetter gf[4];
    struct cputter pf[4];
};
static int cancel_main_fn(asyncio_coro *co)
{
    struct cancel_main *f = (struct cancel_main *)co;
    asyncio_value v = 0, w = 0;
    ASYNC_BEGIN(co);
    asyncio_queue_init(&f->q, f->buf, 1);
    /* a getter cancelled while waiting takes nothing */
    asyncio_create_task(&f->g[0], cgetter(&f->gf[0], &f->q, 1));
    asyncio_create_task(&f->g[1], cgetter(&f->gf[1], &f->q, 2));
    YIELD;
    asyncio_task_cancel(&f->g[0]);
    YIELD;
    asyncio_queue_put_nowait(&f->q, 5);
    YIELD;
    trace("%s %zu", tf(cancelled(&f->g[0])), asyncio_queue_qsize(&f->q));
    /* a getter woken for an item, then cancelled: the next getter gets it */
    asyncio_create_task(&f->g[2], cgetter(&f->gf[2], &f->q, 3));
    asyncio_create_task(&f->g[3], cgetter(&f->gf[3], &f->q, 4));
    YIELD;
    asyncio_queue_put_nowait(&f->q, 6);
    asyncio_task_cancel(&f->g[2]);
    YIELD;
    YIELD;
    trace("%s %zu", tf(cancelled(&f->g[2])), asyncio_queue_qsize(&f->q));
    /* a putter cancelled while waiting puts nothing */
    asyncio_queue_put_nowait(&f->q, 7);
    asyncio_create_task(&f->p[0], cputter(&f->pf[0], &f->q, 8));
    asyncio_create_task(&f->p[1], cputter(&f->pf[1], &f->q, 9));
    YIELD;
    asyncio_task_cancel(&f->p[0]);
    YIELD;
    asyncio_queue_get_nowait(&f->q, &v);
    trace("get %d", (int)v);
    YIELD;
    asyncio_queue_get_nowait(&f->q, &v);
    trace("get %d", (int)v);
    /* a putter woken for a slot, then cancelled: the next putter takes it */
    asyncio_queue_put_nowait(&f->q, 10);
    asyncio_create_task(&f->p[2], cputter(&f->pf[2], &f->q, 11));
    asyncio_create_task(&f->p[3], cputter(&f->pf[3], &f->q, 12));
    YIELD;
    asyncio_queue_get_nowait(&f->q, &v);
    trace("get %d", (int)v);
    asyncio_task_cancel(&f->p[2]);
    YIELD;
    YIELD;
    asyncio_queue_get_nowait(&f->q, &w);
    trace("get %d %zu", (int)w, asyncio_queue_qsize(&f->q));
    ASYNC_END;
}

Test(queue, cancelled_getters_and_putters_never_lose_or_duplicate_an_item)
{
    static struct cancel_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_main_fn), NULL), 0);
    assert_trace("getter 1 cancelled\n"
                 "got 2 5\n"
                 "True 0\n"
                 "getter 3 cancelled\n"
                 "got 4 6\n"
                 "True 0\n"
                 "putter 8 cancelled\n"
                 "get 7\n"
                 "put 9\n"
                 "get 9\n"
                 "get 10\n"
                 "putter 11 cancelled\n"
                 "put 12\n"
                 "get 12 0\n");
}

/* ======================================================================== */
/* task_done / join                                                         */
/* ======================================================================== */

struct worker {
    asyncio_coro co;
    asyncio_queue *q;
};
static int worker_fn(asyncio_coro *co)
{
    struct worker *f = (struct worker *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT_QUEUE_GET(f->q);
        trace("work %d", (int)AWAIT_RESULT);
        AWAIT_SLEEP_MS(10);
        asyncio_queue_task_done(f->q);
    }
    ASYNC_END;
}

struct joiner {
    asyncio_coro co;
    asyncio_queue *q;
};
static int joiner_fn(asyncio_coro *co)
{
    struct joiner *f = (struct joiner *)co;
    ASYNC_BEGIN(co);
    AWAIT_QUEUE_JOIN(f->q);
    trace("joined");
    ASYNC_END;
}

/*
 * import asyncio
 *
 * async def worker(q):
 *     while True:
 *         v = await q.get()
 *         print("work", v)
 *         await asyncio.sleep(0.01)
 *         q.task_done()
 *
 * async def joiner(q):
 *     await q.join()
 *     print("joined")
 *
 * async def main():
 *     q = asyncio.Queue(4)
 *     await q.join()
 *     print("empty join")
 *     for v in (1, 2, 3):
 *         q.put_nowait(v)
 *     w = asyncio.create_task(worker(q))
 *     j = asyncio.create_task(joiner(q))
 *     await q.join()
 *     print("main joined")
 *     await j
 *     w.cancel()
 *     try:
 *         q.task_done()
 *     except ValueError as e:
 *         print("ValueError", e)
 *
 * asyncio.run(main())
 */
struct join_main {
    asyncio_coro co;
    asyncio_queue q;
    asyncio_value buf[4];
    asyncio_task w, j;
    struct worker wf;
    struct joiner jf;
    int i;
};
static int join_main_fn(asyncio_coro *co)
{
    struct join_main *f = (struct join_main *)co;
    ASYNC_BEGIN(co);
    asyncio_queue_init(&f->q, f->buf, 4);
    AWAIT_QUEUE_JOIN(&f->q);
    trace("empty join");
    for (f->i = 1; f->i <= 3; f->i++)
        asyncio_queue_put_nowait(&f->q, f->i);
    f->wf.q = f->jf.q = &f->q;
    asyncio_create_task(&f->w, asyncio_coro_init(&f->wf.co, worker_fn));
    asyncio_create_task(&f->j, asyncio_coro_init(&f->jf.co, joiner_fn));
    AWAIT_QUEUE_JOIN(&f->q);
    trace("main joined");
    AWAIT_TASK(&f->j);
    asyncio_task_cancel(&f->w);
    if (asyncio_queue_task_done(&f->q) == ASYNCIO_ETASKDONE)
        trace("ValueError %s", asyncio_strerror(ASYNCIO_ETASKDONE));
    ASYNC_END;
}

Test(queue, join_waits_for_every_task_done_and_too_many_task_done_is_an_error)
{
    static struct join_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, join_main_fn), NULL), 0);
    assert_trace("empty join\n"
                 "work 1\n"
                 "work 2\n"
                 "work 3\n"
                 "main joined\n"
                 "joined\n"
                 "ValueError task_done() called too many times\n");
    cr_assert_eq(asyncio_ticks_ms(), 30);
}

/* ======================================================================== */
/* A putter whose slot was taken first waits again at the back; getters on  */
/* a LifoQueue and a PriorityQueue                                          */
/* ======================================================================== */

/*
 * import asyncio
 *
 * async def putter(q, i):
 *     print("put", i)
 *     await q.put(i)
 *     print("put done", i)
 *
 * async def getter(q, i):
 *     v = await q.get()
 *     print("got", i, v)
 *
 * async def main():
 *     q = asyncio.Queue(1)
 *     q.put_nowait(0)
 *     a = asyncio.create_task(putter(q, 1))
 *     b = asyncio.create_task(putter(q, 2))
 *     await asyncio.sleep(0)
 *     print("get", q.get_nowait())  # wakes putter 1
 *     q.put_nowait(9)  # takes the slot first: putter 1 waits again, behind 2
 *     print("full", q.full())
 *     await asyncio.sleep(0)
 *     for _ in range(3):
 *         print("get", await q.get())
 *         await asyncio.sleep(0)
 *     await asyncio.gather(a, b)
 *     # getters waiting on a LifoQueue and a PriorityQueue
 *     for cls in (asyncio.LifoQueue, asyncio.PriorityQueue):
 *         q = cls(3)
 *         gs = [asyncio.create_task(getter(q, i)) for i in range(2)]
 *         await asyncio.sleep(0)
 *         q.put_nowait(5)
 *         q.put_nowait(3)
 *         q.put_nowait(4)
 *         await asyncio.gather(*gs)
 *         print(cls.__name__, "left", q.get_nowait())
 *
 * asyncio.run(main())
 */
struct more_main {
    asyncio_coro co;
    asyncio_queue q;
    asyncio_value buf[3];
    asyncio_task t[2], *tp[2];
    struct putter p[2];
    struct cgetter g[2];
    asyncio_outcome out[2];
    asyncio_gather_state gs;
    int i, k;
};
static int more_main_fn(asyncio_coro *co)
{
    struct more_main *f = (struct more_main *)co;
    asyncio_value v = 0;
    int i;
    ASYNC_BEGIN(co);
    asyncio_queue_init(&f->q, f->buf, 1);
    asyncio_queue_put_nowait(&f->q, 0);
    for (i = 0; i < 2; i++) {
        asyncio_create_task(&f->t[i], putter(&f->p[i], &f->q, i + 1));
        f->tp[i] = &f->t[i];
    }
    YIELD;
    asyncio_queue_get_nowait(&f->q, &v);
    trace("get %d", (int)v);
    asyncio_queue_put_nowait(&f->q, 9);
    trace("full %s", tf(asyncio_queue_full(&f->q)));
    YIELD;
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_QUEUE_GET(&f->q);
        trace("get %d", (int)AWAIT_RESULT);
        YIELD;
    }
    AWAIT(asyncio_gather(&f->gs, f->tp, 2, f->out, 0));
    for (f->k = 0; f->k < 2; f->k++) {
        if (f->k == 0)
            asyncio_lifo_queue_init(&f->q, f->buf, 3);
        else
            asyncio_priority_queue_init(&f->q, f->buf, 3, NULL);
        for (i = 0; i < 2; i++)
            asyncio_create_task(&f->t[i], cgetter(&f->g[i], &f->q, i));
        YIELD;
        asyncio_queue_put_nowait(&f->q, 5);
        asyncio_queue_put_nowait(&f->q, 3);
        asyncio_queue_put_nowait(&f->q, 4);
        AWAIT(asyncio_gather(&f->gs, f->tp, 2, f->out, 0));
        asyncio_queue_get_nowait(&f->q, &v);
        trace("%s left %d", f->k ? "PriorityQueue" : "LifoQueue", (int)v);
    }
    ASYNC_END;
}

Test(queue, a_putter_whose_slot_was_taken_waits_again_and_lifo_priority_getters)
{
    static struct more_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, more_main_fn), NULL), 0);
    assert_trace("put 1\n"
                 "put 2\n"
                 "get 0\n"
                 "full True\n"
                 "get 9\n"
                 "put done 2\n"
                 "get 2\n"
                 "put done 1\n"
                 "get 1\n"
                 "got 0 4\n"
                 "got 1 3\n"
                 "LifoQueue left 5\n"
                 "got 0 3\n"
                 "got 1 4\n"
                 "PriorityQueue left 5\n");
}

/* ======================================================================== */
/* join cancelled while waiting                                             */
/* ======================================================================== */

struct cjoiner {
    asyncio_coro co;
    asyncio_queue *q;
};
static int cjoiner_fn(asyncio_coro *co)
{
    struct cjoiner *f = (struct cjoiner *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_QUEUE_JOIN(f->q));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("join cancelled %zu", asyncio_queue_qsize(f->q));
        ASYNC_RAISE(AWAIT_ERROR);
    }
    trace("joined");
    ASYNC_END;
}

/*
 * import asyncio
 *
 * async def joiner(q):
 *     try:
 *         await q.join()
 *     except asyncio.CancelledError:
 *         print("join cancelled", q.qsize())
 *         raise
 *     print("joined")
 *
 * async def main():
 *     q = asyncio.Queue(2)
 *     q.put_nowait(1)
 *     j = asyncio.create_task(joiner(q))
 *     await asyncio.sleep(0)
 *     j.cancel()
 *     await asyncio.sleep(0)
 *     print(j.cancelled())
 *     j = asyncio.create_task(joiner(q))
 *     await asyncio.sleep(0)
 *     q.get_nowait()
 *     q.task_done()
 *     await j
 *     await q.join()
 *     print("main joined")
 *
 * asyncio.run(main())
 */
struct jc_main {
    asyncio_coro co;
    asyncio_queue q;
    asyncio_value buf[2];
    asyncio_task j;
    struct cjoiner jf;
};
static int jc_main_fn(asyncio_coro *co)
{
    struct jc_main *f = (struct jc_main *)co;
    ASYNC_BEGIN(co);
    asyncio_queue_init(&f->q, f->buf, 2);
    asyncio_queue_put_nowait(&f->q, 1);
    f->jf.q = &f->q;
    asyncio_create_task(&f->j, asyncio_coro_init(&f->jf.co, cjoiner_fn));
    YIELD;
    asyncio_task_cancel(&f->j);
    YIELD;
    trace("%s", tf(asyncio_task_result(&f->j, NULL) == ASYNCIO_ECANCELLED));
    asyncio_create_task(&f->j, asyncio_coro_init(&f->jf.co, cjoiner_fn));
    YIELD;
    asyncio_queue_get_nowait(&f->q, NULL);
    asyncio_queue_task_done(&f->q);
    AWAIT_TASK(&f->j);
    AWAIT_QUEUE_JOIN(&f->q);
    trace("main joined");
    ASYNC_END;
}

Test(queue, join_cancelled_while_waiting)
{
    static struct jc_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, jc_main_fn), NULL), 0);
    assert_trace("join cancelled 1\n"
                 "True\n"
                 "joined\n"
                 "main joined\n");
}

/* ======================================================================== */
/* The coroutine objects (asyncio_queue_get / _put, asyncio_isr_queue_get): */
/* woken, but the item (or the slot) was taken first: they wait again       */
/* ======================================================================== */

static asyncio_queue oq, ofull;
static asyncio_value oqbuf[2], ofullbuf[1], oisrbuf[4];
static asyncio_isr_queue oisr;
struct op_task {
    asyncio_coro co;
    asyncio_op op;
    int which;
};
static struct op_task op_frames[3];
static asyncio_task op_tasks[3], op_main;
static asyncio_coro op_main_co;
static int op_task_fn(asyncio_coro *co)
{
    struct op_task *f = (struct op_task *)co;
    ASYNC_BEGIN(co);
    if (f->which == 0)
        AWAIT(asyncio_queue_get(&f->op, &oq));
    else if (f->which == 1)
        AWAIT(asyncio_queue_put(&f->op, &ofull, 20));
    else
        AWAIT(asyncio_isr_queue_get(&f->op, &oisr));
    trace("%u: op %d done, value %d", asyncio_ticks_ms(), f->which, (int)AWAIT_RESULT);
    ASYNC_END;
}
static int op_main_fn(asyncio_coro *co)
{
    asyncio_value v;
    int i;
    ASYNC_BEGIN(co);
    for (i = 0; i < 3; i++) {
        op_frames[i].which = i;
        asyncio_create_task(&op_tasks[i], asyncio_coro_init(&op_frames[i].co, op_task_fn));
    }
    AWAIT_SLEEP_MS(10); /* all three wait */
    /* Wake each, then take what woke it before it runs. */
    cr_assert_eq(asyncio_queue_put_nowait(&oq, 1), 0);
    cr_assert_eq(asyncio_queue_get_nowait(&oq, &v), 0);
    cr_assert_eq(asyncio_queue_get_nowait(&ofull, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(asyncio_queue_put_nowait(&ofull, 11), 0);
    cr_assert_eq(asyncio_isr_queue_put(&oisr, 2), 0);
    cr_assert_eq(asyncio_isr_queue_get_nowait(&oisr, &v), 0);
    cr_assert_eq(v, 2);
    AWAIT_SLEEP_MS(10);
    trace("%u: all three still wait: %d %d %d", asyncio_ticks_ms(),
          !asyncio_task_done(&op_tasks[0]), !asyncio_task_done(&op_tasks[1]),
          !asyncio_task_done(&op_tasks[2]));
    cr_assert_eq(asyncio_queue_put_nowait(&oq, 3), 0);
    cr_assert_eq(asyncio_queue_get_nowait(&ofull, &v), 0);
    cr_assert_eq(v, 11);
    cr_assert_eq(asyncio_isr_queue_put(&oisr, 4), 0);
    AWAIT_TASK(&op_tasks[0]); /* (no C local lives across an await) */
    AWAIT_TASK(&op_tasks[1]);
    AWAIT_TASK(&op_tasks[2]);
    cr_assert_eq(asyncio_queue_get_nowait(&ofull, &v), 0);
    cr_assert_eq(v, 20);
    ASYNC_END;
}

Test(queue, an_op_object_woken_for_an_item_or_slot_taken_first_waits_again)
{
    cr_assert_eq(asyncio_queue_init(&oq, oqbuf, 2), 0);
    cr_assert_eq(asyncio_queue_init(&ofull, ofullbuf, 1), 0);
    cr_assert_eq(asyncio_queue_put_nowait(&ofull, 10), 0);
    cr_assert_eq(asyncio_isr_queue_init(&oisr, oisrbuf, 4), 0);
    cr_assert_eq(asyncio_run(&op_main, asyncio_coro_init(&op_main_co, op_main_fn), NULL), 0);
    assert_trace("20: all three still wait: 1 1 1\n"
                 "20: op 0 done, value 3\n"
                 "20: op 1 done, value 0\n"
                 "20: op 2 done, value 4\n");
}
