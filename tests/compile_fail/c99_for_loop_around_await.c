/* SPDX-License-Identifier: MIT */
/* expect: jump-misses-init|uninitialized
 * Must NOT compile: a C99 loop variable around an await is a local too; on
 * resume its initialisation is skipped (the loop would run forever, or not
 * at all). Keep the counter in the frame. */
#include "asyncio.h"

int c99_for(asyncio_coro *co);
int c99_for(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (int i = 0; i < 3; i++)
        AWAIT_SLEEP_MS(10);
    ASYNC_END;
}
