/* SPDX-License-Identifier: MIT */
/* sizes.c -- each object's size is sizeof(a type); `make size` and
 * `make bench` read them back with nm -S (on ARM and on the host), so no
 * target run is needed. */
#include "asyncio_stream.h"
#ifdef __arm__
#define ASYNCIO_OPENMV_UART /* the UART transport's struct (port_openmv.h) */
#include "port_openmv.h"
#endif

/* A task plus the frame of a typical coroutine: a header and four locals. */
typedef struct {
    asyncio_task task;
    asyncio_coro co;
    int32_t a, b, c, d;
} asyncio_task_plus_frame;

#define SIZE_OF(type) const char sizeof_##type[sizeof(type)] = {0};
SIZE_OF(asyncio_task)
SIZE_OF(asyncio_coro)
SIZE_OF(asyncio_task_plus_frame)
SIZE_OF(asyncio_event)
SIZE_OF(asyncio_lock)
SIZE_OF(asyncio_flag)
SIZE_OF(asyncio_gather_state)
SIZE_OF(asyncio_wait_for_state)
SIZE_OF(asyncio_io)
SIZE_OF(asyncio_stream)
#if ASYNCIO_STREAM_SOCKETS /* servers are socket-only (not on a device) */
SIZE_OF(asyncio_server_slot)
SIZE_OF(asyncio_server)
SIZE_OF(asyncio_op)
SIZE_OF(asyncio_queue)
SIZE_OF(asyncio_semaphore)
SIZE_OF(asyncio_condition)
SIZE_OF(asyncio_condition_wait_state)
SIZE_OF(asyncio_isr_queue)
#endif
#ifdef __arm__
SIZE_OF(asyncio_uart)
#endif
