/* The control case: the same coroutine, one await per line, compiles. */
#include "asyncio.h"

int two_awaits(asyncio_coro *co);
int two_awaits(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(1);
    AWAIT_SLEEP_MS(2);
    ASYNC_END;
}
