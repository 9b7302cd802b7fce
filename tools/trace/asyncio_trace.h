/* SPDX-License-Identifier: MIT */
/*
 * asyncio_trace.h -- a timeline of the loop on POSIX, in the Chrome /
 * Perfetto trace-event JSON format (open it in https://ui.perfetto.dev or
 * chrome://tracing). Built on the core's trace hooks: compile the core, your
 * coroutines and tools/trace/asyncio_trace.c with -DASYNCIO_TRACE.
 *
 * What it writes (README "Debugging" lists every field):
 *   one track per task (tid = the task's number in order of appearance,
 *   named "<root coroutine> (task <address>)"), a complete ("X") slice per
 *   run of the task, named after its root coroutine, with the file:line
 *   it suspended at (or its result); instant events when a task is created,
 *   ends, or has its error reported; a "loop: idle" track with a slice per
 *   idle wait; an "asyncio_flag_set" track with an instant per flag set
 *   (from an interrupt, a signal handler, another thread or a task).
 */
#ifndef ASYNCIO_TRACE_RECORDER_H
#define ASYNCIO_TRACE_RECORDER_H

#include "asyncio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start recording into `path` (truncated). With `virtual_clock` the
 * timestamps are the virtual clock's milliseconds (asyncio_posix_virtual_time)
 * times 1000, plus the event's rank within its millisecond, so that runs
 * which take no virtual time still show, in order, 1 us apart; otherwise
 * microseconds of CLOCK_MONOTONIC since the start. The file is completed by
 * asyncio_trace_stop(), or at exit. Returns 0, or -errno. Loop thread, not
 * while the loop runs. */
int asyncio_trace_start(const char *path, int virtual_clock);

/* Stop recording: name the tracks, close the JSON, close the file. Returns
 * 0, or -errno if writing failed. Does nothing when not recording. */
int asyncio_trace_stop(void);

#ifdef __cplusplus
}
#endif

#endif
