/* SPDX-License-Identifier: MIT */
/*
 * sleepy -- coroutines run one after the other, tasks run concurrently.
 *
 *     async def sleepy_coro():
 *         start = time.time()
 *         await sleep(10)
 *         await sleep(10)
 *         print('coro: ' + str(round(time.time()-start)))    # coro: 20
 *
 *     async def sleepy_task():
 *         t1 = create_task(sleep(10))
 *         t2 = create_task(sleep(10))
 *         start = time.time()
 *         await t1
 *         await t2
 *         print('task: ' + str(round(time.time()-start)))    # task: 10
 *
 * Run: build/examples/sleepy [--virtual] [--trace FILE]   (30 s in real time)
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

/* Whole seconds elapsed since `start`, rounded. */
static long seconds_since(uint32_t start)
{
    return ((long)asyncio_ticks_diff(asyncio_ticks_ms(), start) + 500) / 1000;
}

/* asyncio.sleep(s) as a coroutine object, so that a task can wrap it. */
struct sleep_coro {
    asyncio_coro co;
    double seconds;
};

static int sleep_fn(asyncio_coro *co)
{
    struct sleep_coro *f = (struct sleep_coro *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP(f->seconds);
    ASYNC_END;
}

static asyncio_coro *sleep_coro(struct sleep_coro *f, double seconds)
{
    f->seconds = seconds;
    return asyncio_coro_init(&f->co, sleep_fn);
}

struct sleepy {
    asyncio_coro co;
    uint32_t start; /* a local that lives across awaits: in the frame */
    struct sleep_coro s1, s2;
    asyncio_task t1, t2;
};

static int sleepy_coro_fn(asyncio_coro *co)
{
    struct sleepy *f = (struct sleepy *)co;
    ASYNC_BEGIN(co);
    f->start = asyncio_ticks_ms();
    AWAIT_SLEEP(10);
    AWAIT_SLEEP(10);
    printf("coro: %ld\n", seconds_since(f->start));
    ASYNC_END;
}

static int sleepy_task_fn(asyncio_coro *co)
{
    struct sleepy *f = (struct sleepy *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t1, sleep_coro(&f->s1, 10));
    asyncio_create_task(&f->t2, sleep_coro(&f->s2, 10));
    f->start = asyncio_ticks_ms();
    AWAIT_TASK(&f->t1);
    AWAIT_TASK(&f->t2);
    printf("task: %ld\n", seconds_since(f->start));
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_task task;
    static struct sleepy frame;
    int err;
    example_args(&argc, argv); /* --virtual, --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);
    err = asyncio_run(&task, asyncio_coro_init(&frame.co, sleepy_coro_fn), NULL);
    if (!err)
        err = asyncio_run(&task, asyncio_coro_init(&frame.co, sleepy_task_fn), NULL);
    return err == 0 ? 0 : 1;
}
