/* SPDX-License-Identifier: MIT */
/*
 * hello_world -- print "hello", sleep 1 s, print "world".
 *
 *     async def main():
 *         print('hello')
 *         await asyncio.sleep(1)
 *         print('world')
 *
 *     asyncio.run(main())
 *
 * Run: build/examples/hello_world [--virtual] [--trace FILE]
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

/* main() has no arguments or locals, so its frame is the bare header. */
static int main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    puts("hello");
    AWAIT_SLEEP(1);
    puts("world");
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_task task;
    static asyncio_coro main_co;
    example_args(&argc, argv); /* --virtual (exact and instant), --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return asyncio_run(&task, asyncio_coro_init(&main_co, main_fn), NULL) == 0 ? 0 : 1;
}
