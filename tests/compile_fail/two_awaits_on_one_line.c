/* SPDX-License-Identifier: MIT */
/* expect: duplicate case
 * Must NOT compile: two awaits on one source line share a resume point. The
 * compiler rejects it (duplicate case value) instead of corrupting state. */
#include "asyncio.h"

int two_awaits(asyncio_coro *co);
int two_awaits(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    // clang-format off
    AWAIT_SLEEP_MS(1); AWAIT_SLEEP_MS(2);
    // clang-format on
    ASYNC_END;
}
