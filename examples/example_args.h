/* SPDX-License-Identifier: MIT */
/*
 * example_args.h -- the options every example accepts, in one place:
 *
 *   --virtual      run on the virtual clock (asyncio_posix_virtual_time):
 *                  instant and exact, as `make test-examples` runs them
 *   --trace FILE   record a Chrome / Perfetto timeline of the run into FILE
 *                  (tools/trace/asyncio_trace.h; the examples' build defines
 *                  ASYNCIO_TRACE and links tools/trace/asyncio_trace.c)
 *
 * example_args(&argc, argv) applies them, removes them from argv (other
 * arguments keep their order) and returns 1 under --virtual.
 */
#ifndef EXAMPLE_ARGS_H
#define EXAMPLE_ARGS_H

#include "port_posix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef ASYNCIO_TRACE
#include "tools/trace/asyncio_trace.h"
#endif

static int example_args(int *argc, char **argv)
{
    int i, kept = 1, virtual_time = 0;
    const char *trace = NULL;
    for (i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--virtual") == 0)
            virtual_time = 1;
        else if (strcmp(argv[i], "--trace") == 0 && i + 1 < *argc)
            trace = argv[++i];
        else
            argv[kept++] = argv[i];
    }
    *argc = kept;
    argv[kept] = NULL;
    if (virtual_time)
        asyncio_posix_virtual_time(1, 0);
    if (trace) {
#ifdef ASYNCIO_TRACE
        int r = asyncio_trace_start(trace, virtual_time); /* completed at exit */
        if (r != 0) {
            fprintf(stderr, "--trace %s: %s\n", trace, strerror(-r));
            exit(2);
        }
#else
        fprintf(stderr, "--trace: build with -DASYNCIO_TRACE tools/trace/asyncio_trace.c\n");
        exit(2);
#endif
    }
    return virtual_time;
}

#endif
