/* SPDX-License-Identifier: MIT */
/*
 * size_min.c -- the smallest useful application: two tasks that sleep. Linked
 * for Cortex-M7 with --gc-sections and this file's entry point, it shows the
 * core code such a firmware really carries (features it does not use, like
 * gather or wait_for, are dropped by the linker). The port functions are
 * empty stand-ins so that only the core is measured.
 */
#define ASYNCIO_REPORT(ctx) ((void)(ctx))
#define ASYNCIO_IMPLEMENTATION
#include "asyncio.h"

void asyncio_port_init(void) {}
void asyncio_port_deinit(void) {}
void asyncio_port_report(const asyncio_context *ctx) { (void)ctx; }
uint32_t asyncio_port_ticks_ms(void) { return 0; }
void asyncio_port_wait(int32_t timeout_ms) { (void)timeout_ms; }
void asyncio_port_wake(void) {}
uint32_t asyncio_port_critical_enter(void) { return 0; }
void asyncio_port_critical_exit(uint32_t state) { (void)state; }
int asyncio_port_io_watch(asyncio_io *io, unsigned events)
{
    (void)io;
    (void)events;
    return ASYNCIO_EINVAL;
}

static int blink_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (;;)
        AWAIT_SLEEP_MS(400);
    ASYNC_END;
}

static asyncio_coro blinker, main_co;
static asyncio_task blink_task, main_task;

static int main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_create_task(&blink_task, asyncio_coro_init(&blinker, blink_fn));
    AWAIT_SLEEP_MS(10000);
    ASYNC_END;
}

void size_min_entry(void);
void size_min_entry(void) { asyncio_run(&main_task, asyncio_coro_init(&main_co, main_fn), 0); }
