/* SPDX-License-Identifier: MIT */
/*
 * heartbeat -- a coroutine that prints every interval, then two of them as
 * tasks beside a main that sleeps 5 s.
 *
 *     async def heartbeat(name, interval_ms):
 *         while True:
 *             print(name)
 *             await asyncio.sleep_ms(interval_ms)
 *
 *     async def main():
 *         asyncio.create_task(heartbeat("fast", 100))
 *         asyncio.create_task(heartbeat("slow", 500))
 *         await asyncio.sleep(5)
 *
 *     asyncio.run(main())
 *
 * `asyncio.run(heartbeat("tick", 500))` alone would run forever; part 1
 * bounds it with wait_for (2 s), which cancels it when the time is up.
 * Each line starts with the loop's clock, in seconds.
 *
 * Run: build/examples/heartbeat [--virtual] [--trace FILE]
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

static uint32_t start_ms; /* the loop's clock when the program started */

static void stamp(const char *what)
{
    uint32_t ms = (uint32_t)asyncio_ticks_diff(asyncio_ticks_ms(), start_ms);
    printf("[%lu.%03lu] %s\n", (unsigned long)(ms / 1000), (unsigned long)(ms % 1000), what);
}

/* ---- heartbeat(name, interval_ms): arguments live in the frame ---- */
struct heartbeat {
    asyncio_coro co; /* must come first */
    const char *name;
    int32_t interval_ms;
};

static int heartbeat_fn(asyncio_coro *co)
{
    struct heartbeat *f = (struct heartbeat *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        stamp(f->name);
        AWAIT_SLEEP_MS(f->interval_ms);
    }
    ASYNC_END;
}

static asyncio_coro *heartbeat(struct heartbeat *f, const char *name, int32_t interval_ms)
{
    f->name = name;
    f->interval_ms = interval_ms;
    return asyncio_coro_init(&f->co, heartbeat_fn);
}

/* ---- main(): two background tasks, then a 5 s sleep ---- */
struct main_frame {
    asyncio_coro co;
    asyncio_task fast_task, slow_task; /* the tasks' storage: caller-owned */
    struct heartbeat fast, slow;       /* their coroutine frames */
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->fast_task, heartbeat(&f->fast, "fast", 100));
    asyncio_create_task(&f->slow_task, heartbeat(&f->slow, "slow", 500));
    AWAIT_SLEEP(5);
    stamp("main done");
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_task task;
    static struct heartbeat tick;
    static asyncio_wait_for_state wf;
    static struct main_frame main_frame;
    int err;

    example_args(&argc, argv); /* --virtual (exact and instant), --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);
    start_ms = asyncio_ticks_ms();

    /* Part 1: asyncio.run(asyncio.wait_for(heartbeat("tick", 500), 2)) */
    puts("-- one coroutine, stopped after 2 s by wait_for");
    err = asyncio_run(&task, asyncio_wait_for(&wf, heartbeat(&tick, "tick", 500), 2.0), NULL);
    stamp(err == ASYNCIO_ETIMEDOUT ? "tick stopped: timed out" : "unexpected");

    /* Part 2: asyncio.run(main()). The heartbeats are still pending when
     * main ends; like asyncio.run, tear the loop down afterwards. */
    puts("-- two heartbeat tasks beside main");
    start_ms = asyncio_ticks_ms();
    err = asyncio_run(&task, asyncio_coro_init(&main_frame.co, main_fn), NULL);
    asyncio_new_event_loop();
    return err == 0 ? 0 : 1;
}
