/* SPDX-License-Identifier: MIT */
/* expect: jump-misses-init|uninitialized
 * Must NOT compile: a C local initialised in the body does not survive an
 * await (the resume jumps past its initialisation, and it reads garbage).
 * gcc rejects the jump (-Wjump-misses-init), clang the uninitialised use,
 * both raised to errors inside coroutine bodies only. */
#include "asyncio.h"

int show(int x);

int local_across_await(asyncio_coro *co);
int local_across_await(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    int x = 5;
    AWAIT_SLEEP_MS(10);
    show(x);
    ASYNC_END;
}
