/* SPDX-License-Identifier: MIT */
/*
 * arm_check.c -- the packaging test's Cortex-M7 program: linked against the
 * libasyncio.a of the CMake cross build (core + port_openmv.c, toolchain
 * file cmake/arm-none-eabi.cmake) and tests/arm/rt.c, run under qemu
 * (mps2-an500). Two sleepers on SysTick time; output in arm_check.expected.
 */
#include "asyncio.h"
#include "port_openmv.h"
#include "rt.h"

/* EXPECT_VERSION: the version string the build expects (from asyncio.h). */
static int same_string(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static char order[4];
static unsigned order_len;

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
    rt_printf("%c woke\n", f->tag);
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
    asyncio_create_task(&f->bt, sleeper(&f->b, 10, 'b'));
    AWAIT(sleeper(&f->a, 20, 'a'));
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
    uint32_t start, slept;
    int err;

    rt_printf("arm_check: the CMake-built core and port_openmv.c\n");
    start = asyncio_ticks_ms();
    err = asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), &v);
    slept = asyncio_ticks_ms() - start;
    RT_CHECK(same_string(ASYNCIO_VERSION, EXPECT_VERSION));
    RT_CHECK(err == 0);
    RT_CHECK(v == 30);
    RT_CHECK(order_len == 2 && order[0] == 'b' && order[1] == 'a');
    RT_CHECK(slept >= 20 && slept <= 22); /* SysTick ms, whole ticks */
    rt_done();
}
