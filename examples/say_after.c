/* SPDX-License-Identifier: MIT */
/*
 * say_after -- awaiting coroutines one after the other (3 s in total), then
 * running them concurrently as tasks (2 s).
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         print(what)
 *
 *     async def main():
 *         print(f"started at {time.strftime('%X')}")
 *         await say_after(1, 'hello')
 *         await say_after(2, 'world')
 *         print(f"finished at {time.strftime('%X')}")
 *
 * Times are seconds on the loop's clock since asyncio.run started.
 *
 * Run: build/examples/say_after [--virtual] [--trace FILE]
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

static uint32_t start_ms;

static void stamp(const char *what)
{
    uint32_t ms = (uint32_t)asyncio_ticks_diff(asyncio_ticks_ms(), start_ms);
    printf("%s at %lu.%03lu s\n", what, (unsigned long)(ms / 1000), (unsigned long)(ms % 1000));
}

/* ---- say_after(delay, what) ---- */
struct say_after {
    asyncio_coro co;
    double delay; /* seconds */
    const char *what;
};

static int say_after_fn(asyncio_coro *co)
{
    struct say_after *f = (struct say_after *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP(f->delay);
    puts(f->what);
    ASYNC_END;
}

static asyncio_coro *say_after(struct say_after *f, double delay, const char *what)
{
    f->delay = delay;
    f->what = what;
    return asyncio_coro_init(&f->co, say_after_fn);
}

/* ---- main, version 1: await one coroutine after the other ---- */
struct main_frame {
    asyncio_coro co;
    struct say_after a, b;
    asyncio_task task1, task2;
};

static int main_sequential_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    stamp("started");
    AWAIT(say_after(&f->a, 1, "hello"));
    AWAIT(say_after(&f->b, 2, "world"));
    stamp("finished");
    ASYNC_END;
}

/* ---- main, version 2: two tasks run concurrently ---- */
static int main_tasks_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->task1, say_after(&f->a, 1, "hello"));
    asyncio_create_task(&f->task2, say_after(&f->b, 2, "world"));
    stamp("started");
    /* Wait until both tasks are completed (should take around 2 seconds.) */
    AWAIT_TASK(&f->task1);
    AWAIT_TASK(&f->task2);
    stamp("finished");
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_task task;
    static struct main_frame frame;
    int err;

    example_args(&argc, argv); /* --virtual, --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);

    puts("-- awaited one after the other");
    start_ms = asyncio_ticks_ms();
    err = asyncio_run(&task, asyncio_coro_init(&frame.co, main_sequential_fn), NULL);

    puts("-- as two concurrent tasks");
    start_ms = asyncio_ticks_ms();
    if (!err)
        err = asyncio_run(&task, asyncio_coro_init(&frame.co, main_tasks_fn), NULL);
    return err == 0 ? 0 : 1;
}
