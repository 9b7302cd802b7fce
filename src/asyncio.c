/* SPDX-License-Identifier: MIT */
/*
 * asyncio.c -- the core's one translation unit, for build systems (make,
 * CMake, PlatformIO). Copying by hand? Define ASYNCIO_IMPLEMENTATION in one
 * of your own .c files instead; this file is exactly that.
 */
#define ASYNCIO_IMPLEMENTATION
#include "asyncio.h"
