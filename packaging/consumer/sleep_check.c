/* SPDX-License-Identifier: MIT */
/*
 * sleep_check.c -- the packaging test's consumer of asyncio::asyncio: a
 * coroutine that sleeps (on the POSIX port's virtual clock, so the time is
 * exact) beside a task, and returns a value main checks. Exit status 0 on
 * success.
 */
#include "asyncio.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static char order[8];
static size_t order_len;

struct sleeper {
    asyncio_coro co;
    int32_t ms;
    char tag;
};

static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = (struct sleeper *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    order[order_len++] = f->tag;
    ASYNC_RETURN(f->ms);
    ASYNC_END;
}

static asyncio_coro *sleeper(struct sleeper *f, int32_t ms, char tag)
{
    f->ms = ms;
    f->tag = tag;
    return asyncio_coro_init(&f->co, sleeper_fn);
}

struct main_frame {
    asyncio_coro co;
    struct sleeper a, b;
    asyncio_task bt;
    asyncio_value sum;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->bt, sleeper(&f->b, 10, 'b')); /* wakes first */
    AWAIT(sleeper(&f->a, 30, 'a'));
    f->sum = AWAIT_RESULT;
    AWAIT_TASK(&f->bt);
    f->sum += AWAIT_RESULT;
    ASYNC_RETURN(f->sum);
    ASYNC_END;
}

int main(void)
{
    static asyncio_task task;
    static struct main_frame frame;
    asyncio_value v = 0;
    uint32_t start = 1000;

    CHECK(strcmp(ASYNCIO_VERSION, EXPECT_VERSION) == 0);
    asyncio_posix_virtual_time(1, start);
    CHECK(asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), &v) == 0);
    CHECK(v == 40);
    CHECK(asyncio_ticks_ms() - start == 30);
    CHECK(order_len == 2 && memcmp(order, "ba", 2) == 0);
    printf("sleep_check: asyncio %s, slept 30 ms (virtual), result %ld, order %.2s\n",
           ASYNCIO_VERSION, (long)v, order);
    return 0;
}
