/* SPDX-License-Identifier: MIT */
/*
 * port_posix.h -- what port_posix.c offers beyond the port interface.
 */
#ifndef ASYNCIO_PORT_POSIX_H
#define ASYNCIO_PORT_POSIX_H

#include "asyncio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A virtual clock for tests: when on, time stands still while tasks run and
 * jumps to the next deadline when the loop idles, so timing scenarios run
 * instantly and exactly. `start_ms` is its first reading. Loop thread only. */
void asyncio_posix_virtual_time(int on, uint32_t start_ms);

#ifdef __cplusplus
}
#endif

#endif /* ASYNCIO_PORT_POSIX_H */
