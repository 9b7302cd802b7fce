/* SPDX-License-Identifier: MIT */
/* core_only.c -- the core alone (no port), to measure its size: make size. */
#define ASYNCIO_REPORT(ctx) ((void)(ctx))
#define ASYNCIO_IMPLEMENTATION
#include "asyncio.h"
