/* SPDX-License-Identifier: MIT */
/* trace.h -- record an ordered trace of events and compare it exactly. */
#ifndef TRACE_H
#define TRACE_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char trace_buf[16384];
static size_t trace_len;

/* Append one event (a line) to the trace. */
static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void trace(const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(trace_buf + trace_len, sizeof trace_buf - trace_len, fmt, ap);
    va_end(ap);
    if (n > 0 && trace_len + (size_t)n + 1 < sizeof trace_buf) {
        trace_len += (size_t)n;
        trace_buf[trace_len++] = '\n';
        trace_buf[trace_len] = '\0';
    }
}

/* The trace so far must be exactly `expected` (lines joined by '\n'). */
#define assert_trace(expected) cr_assert_str_eq(trace_buf, expected)

/* A test whose measure is the process itself (its CPU time, its descriptor
 * limit, which valgrind emulates) skips when `make check-valgrind-suites`
 * runs it (it sets ASYNCIO_UNDER_VALGRIND); every other build runs it. */
#define skip_under_valgrind(why)                                                                   \
    do {                                                                                           \
        if (getenv("ASYNCIO_UNDER_VALGRIND"))                                                      \
            cr_skip_test("under valgrind: %s", why);                                               \
    } while (0)

#endif
