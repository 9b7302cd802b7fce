/* SPDX-License-Identifier: MIT */
/*
 * asyncio_stream.c -- the streams' one translation unit, for build systems.
 * Build it with the same ASYNCIO_STREAM_TLS / ASYNCIO_STREAM_SOCKETS as the
 * rest of the program.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define ASYNCIO_STREAM_IMPLEMENTATION
#include "asyncio_stream.h"
