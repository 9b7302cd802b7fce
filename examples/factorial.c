/* SPDX-License-Identifier: MIT */
/*
 * factorial -- gather: three tasks run concurrently, results in order.
 *
 *     async def factorial(name, num):
 *         f = 1
 *         for i in range(2, num + 1):
 *             print(f"Task {name}: Calc fac({i})")
 *             await asyncio.sleep(1)
 *             f *= i
 *         print(f"Task {name}: fac({num}) = {f}")
 *         return f
 *
 *     async def main():
 *         print(await asyncio.gather(
 *             factorial('a', 2), factorial('b', 3), factorial('c', 4)))
 *
 * Run: build/examples/factorial [--virtual] [--trace FILE]
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

struct factorial {
    asyncio_coro co;
    const char *name;
    int num;
    int i;    /* the loop counter lives across the await: in the frame */
    long fac; /* so does the running product */
};

static int factorial_fn(asyncio_coro *co)
{
    struct factorial *f = (struct factorial *)co;
    ASYNC_BEGIN(co);
    f->fac = 1;
    for (f->i = 2; f->i <= f->num; f->i++) {
        printf("Task %s: Calc fac(%d)\n", f->name, f->i);
        AWAIT_SLEEP(1);
        f->fac *= f->i;
    }
    printf("Task %s: fac(%d) = %ld\n", f->name, f->num, f->fac);
    ASYNC_RETURN(f->fac);
    ASYNC_END;
}

static asyncio_coro *factorial(struct factorial *f, const char *name, int num)
{
    f->name = name;
    f->num = num;
    return asyncio_coro_init(&f->co, factorial_fn);
}

struct main_frame {
    asyncio_coro co;
    struct factorial fa, fb, fc;
    asyncio_task a, b, c;
    asyncio_task *tasks[3];
    asyncio_outcome results[3];
    asyncio_gather_state gather;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    /* gather() takes tasks: promote the coroutines first. */
    asyncio_create_task(&f->a, factorial(&f->fa, "a", 2));
    asyncio_create_task(&f->b, factorial(&f->fb, "b", 3));
    asyncio_create_task(&f->c, factorial(&f->fc, "c", 4));
    f->tasks[0] = &f->a;
    f->tasks[1] = &f->b;
    f->tasks[2] = &f->c;
    AWAIT(asyncio_gather(&f->gather, f->tasks, 3, f->results, 0));
    printf("[%ld, %ld, %ld]\n", (long)f->results[0].value, (long)f->results[1].value,
           (long)f->results[2].value);
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
