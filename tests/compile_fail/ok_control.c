/* SPDX-License-Identifier: MIT */
/* expect: compiles -- the control case for every file here: the same
 * shapes written the right way (state in the frame, block-scoped locals
 * that end before an await, one await per line, the lock released by the
 * macros) compile with no diagnostic under gcc and clang. */
#include "asyncio.h"

struct frame {
    asyncio_coro co;
    int i;
    asyncio_lock lock;
};

int control(asyncio_coro *co);
int control(asyncio_coro *co)
{
    struct frame *f = ASYNC_FRAME(struct frame, co);
    ASYNC_BEGIN(co);
    {
        int x = 5; /* a local that ends before the next await: fine */
        f->i = x;
    }
    AWAIT_SLEEP_MS(1);
    AWAIT_SLEEP_MS(2);
    for (f->i = 0; f->i < 3; f->i++)
        AWAIT_SLEEP_MS(1);
    /* one await per line, whatever the formatter prefers: */
    // clang-format off
    ASYNC_WITH_LOCK(&f->lock) {
        AWAIT_SLEEP_MS(1);
    } ASYNC_WITH_END(&f->lock);
    // clang-format on
    ASYNC_TRY_BLOCK
    {
        AWAIT_SLEEP_MS(1);
        AWAIT_SLEEP_MS(1);
    }
    ASYNC_EXCEPT(ASYNCIO_ECANCELLED) { ASYNC_RETURN(-1); }
    ASYNC_TRY_END;
    ASYNC_RETURN(f->i);
    ASYNC_END;
}
