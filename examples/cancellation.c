/* SPDX-License-Identifier: MIT */
/*
 * cancellation -- cancelling a background task at shutdown (its cleanup
 * runs), and wait_for timing out.
 *
 *     async def worker():
 *         try:
 *             while True:
 *                 print("worker: tick")
 *                 await asyncio.sleep_ms(300)
 *         finally:
 *             print("worker: cleanup")
 *             await asyncio.sleep_ms(50)
 *
 *     async def main():
 *         t = asyncio.create_task(worker())
 *         await asyncio.sleep(1)
 *         t.cancel()
 *         try:
 *             await t
 *         except asyncio.CancelledError:
 *             print("worker ended: cancelled")
 *         try:
 *             await asyncio.wait_for_ms(slow_op(2000), 500)
 *         except asyncio.TimeoutError:
 *             print("timed out")
 *         print(await asyncio.wait_for_ms(slow_op(200), 500))
 *
 * Run: build/examples/cancellation [--virtual] [--trace FILE]
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint32_t start_ms;

static void stamp(const char *fmt, ...)
{
    va_list ap;
    uint32_t ms = (uint32_t)asyncio_ticks_diff(asyncio_ticks_ms(), start_ms);
    printf("[%lu.%03lu] ", (unsigned long)(ms / 1000), (unsigned long)(ms % 1000));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* ---- a background task with cleanup (try/finally) ---- */
struct worker {
    asyncio_coro co;
    int n;
};

static int worker_fn(asyncio_coro *co)
{
    struct worker *f = (struct worker *)co;
    ASYNC_BEGIN(co);
    for (f->n = 1;; f->n++) {
        stamp("worker: tick %d", f->n);
        AWAIT_SLEEP_MS(300);
    }
    ASYNC_FINALLY; /* runs however the body ends; ASYNC_ERROR says why */
    stamp("worker: cleanup (%s)", asyncio_strerror(ASYNC_ERROR));
    AWAIT_SLEEP_MS(50); /* cleanup may await: flush, close, say goodbye */
    stamp("worker: cleanup done");
    ASYNC_END; /* the cancellation goes on to whoever awaits the task */
}

/* ---- an operation that takes `ms`, then returns 7 ---- */
struct slow_op {
    asyncio_coro co;
    int32_t ms;
};

static int slow_op_fn(asyncio_coro *co)
{
    struct slow_op *f = (struct slow_op *)co;
    ASYNC_BEGIN(co);
    stamp("slow_op: working for %ld ms", (long)f->ms);
    AWAIT_SLEEP_MS(f->ms);
    stamp("slow_op: done");
    ASYNC_RETURN(7);
    ASYNC_FINALLY;
    if (ASYNC_ERROR)
        stamp("slow_op: interrupted (%s)", asyncio_strerror(ASYNC_ERROR));
    ASYNC_END;
}

static asyncio_coro *slow_op(struct slow_op *f, int32_t ms)
{
    f->ms = ms;
    return asyncio_coro_init(&f->co, slow_op_fn);
}

/* ---- main ---- */
struct main_frame {
    asyncio_coro co;
    struct worker worker;
    asyncio_task worker_task;
    struct slow_op op;
    asyncio_wait_for_state wf; /* wait_for's state: in the awaiting frame */
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->worker_task, asyncio_coro_init(&f->worker.co, worker_fn));
    AWAIT_SLEEP(1);
    stamp("main: shutting down, cancelling the worker");
    asyncio_task_cancel(&f->worker_task);
    ASYNC_TRY(AWAIT_TASK(&f->worker_task)); /* except CancelledError */
    stamp("main: worker ended: %s", asyncio_strerror(AWAIT_ERROR));

    stamp("main: wait_for_ms(slow_op(2000), 500)");
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, slow_op(&f->op, 2000), 500)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        stamp("main: timed out");

    stamp("main: wait_for_ms(slow_op(200), 500)");
    AWAIT(asyncio_wait_for_ms(&f->wf, slow_op(&f->op, 200), 500));
    stamp("main: got %ld", (long)AWAIT_RESULT);
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_task task;
    static struct main_frame frame;
    example_args(&argc, argv); /* --virtual, --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);
    start_ms = asyncio_ticks_ms();
    return asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), NULL) == 0 ? 0 : 1;
}
