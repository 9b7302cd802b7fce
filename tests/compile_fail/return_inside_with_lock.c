/* SPDX-License-Identifier: MIT */
/* expect: negative|size
 * Must NOT compile: ASYNC_RETURN inside ASYNC_WITH_LOCK would leave with the
 * lock still held (Python's `async with` releases it). Release first, or
 * return after ASYNC_WITH_END. */
#include "asyncio.h"

struct frame {
    asyncio_coro co;
    asyncio_lock lock;
};

int return_in_with(asyncio_coro *co);
int return_in_with(asyncio_coro *co)
{
    struct frame *f = ASYNC_FRAME(struct frame, co);
    ASYNC_BEGIN(co);
    ASYNC_WITH_LOCK(&f->lock) { ASYNC_RETURN(1); }
    ASYNC_WITH_END(&f->lock);
    ASYNC_END;
}
