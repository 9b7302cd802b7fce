/* sizes.c -- each object's size is sizeof(a type); `make size` reads them
 * back with nm -S, so no target run is needed. */
#include "asyncio.h"

#define SIZE_OF(type) const char sizeof_##type[sizeof(type)] = {0};
SIZE_OF(asyncio_task)
SIZE_OF(asyncio_coro)
SIZE_OF(asyncio_event)
SIZE_OF(asyncio_lock)
SIZE_OF(asyncio_flag)
SIZE_OF(asyncio_gather_state)
SIZE_OF(asyncio_wait_for_state)
