/* SPDX-License-Identifier: MIT */
/*
 * nested -- a coroutine's return value, awaited directly and through a task.
 *
 *     async def nested():
 *         return 42
 *
 *     async def main():
 *         nested()                 # a coroutine object: never runs
 *         print(await nested())    # 42
 *         task = asyncio.create_task(nested())
 *         print(await task)        # 42
 *
 * Run: build/examples/nested [--virtual] [--trace FILE]
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

static int nested_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RETURN(42);
    ASYNC_END;
}

struct main_frame {
    asyncio_coro co;
    asyncio_coro unused, direct, wrapped; /* three coroutine objects */
    asyncio_task task;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    /* A coroutine object that nobody awaits or schedules never runs. */
    asyncio_coro_init(&f->unused, nested_fn);

    AWAIT(asyncio_coro_init(&f->direct, nested_fn));
    printf("%ld\n", (long)AWAIT_RESULT);

    asyncio_create_task(&f->task, asyncio_coro_init(&f->wrapped, nested_fn));
    AWAIT_TASK(&f->task);
    printf("%ld\n", (long)AWAIT_RESULT);
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_task task;
    static struct main_frame frame;
    example_args(&argc, argv); /* --virtual, --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), NULL) == 0 ? 0 : 1;
}
