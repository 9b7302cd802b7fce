/* SPDX-License-Identifier: MIT */
/*
 * say.h -- the Cortex-M tests' trace: one line per event, stamped with the
 * milliseconds since say_t0 (which each test sets when it starts), and the
 * port's report hook printing errors nobody retrieved into the same trace.
 * Included by one test file per image.
 */
#ifndef SAY_H
#define SAY_H

#include <stdarg.h>
#include <stdint.h>

#include "asyncio.h"
#include "rt.h"

static uint32_t say_t0;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    rt_printf("[%4u] ", (unsigned)(asyncio_ticks_ms() - say_t0));
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
    rt_printf("\n");
}

/* Errors nobody retrieved (the port's weak report hook, overridden). */
void asyncio_openmv_report(const asyncio_context *ctx)
{
    say("report: %s: %s", ctx->message, asyncio_strerror(ctx->error));
}

#endif
