/* SPDX-License-Identifier: MIT */
/*
 * asyncio_trace.c -- the trace-event JSON recorder (see asyncio_trace.h).
 *
 * Everything but the flag hook runs on the loop's thread and writes the
 * file directly. asyncio_flag_set() may run in a signal handler or another
 * thread: its hook only claims a slot of a lock-free ring (an atomic
 * increment), stores the flag and a timestamp, and publishes the slot; the
 * loop thread turns published slots into events at its next hook. A full
 * ring drops the event (counted in the file's metadata).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "asyncio_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ASYNCIO_TRACE
#error "build the core and this recorder with -DASYNCIO_TRACE"
#endif

#define RING 256u

struct track {
    const asyncio_task *task;
    const char *name; /* the root coroutine's function, once known */
};

static struct {
    FILE *out;
    int virtual_clock;
    int events;
    uint64_t last_ts; /* the last timestamp given out (virtual: ms * 1000 + rank) */
    struct timespec t0;
    struct track *tracks;
    size_t ntracks, cap;
    const asyncio_task *running; /* the task whose slice is open ... */
    uint64_t run_ts;             /* ... since */
    uint64_t idle_ts;
    int32_t idle_timeout;
    int write_error;
    /* the flag ring: written by any context, read by the loop thread */
    struct {
        asyncio_flag *flag;
        uint64_t ts;
        unsigned seq; /* slot published when seq == claim index + 1 */
    } ring[RING];
    unsigned claimed, drained, dropped;
} R;

#define TID_IDLE 1
#define TID_FLAGS 2
#define TID_FIRST_TASK 3

/* Microseconds since the start (CLOCK_MONOTONIC: async-signal-safe). */
static uint64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)(ts.tv_sec - R.t0.tv_sec) * 1000000u + (uint64_t)ts.tv_nsec / 1000u -
           (uint64_t)R.t0.tv_nsec / 1000u;
}

/* A timestamp for an event happening now on the loop thread. */
static uint64_t now_ts(void)
{
    uint64_t ts;
    if (R.virtual_clock) {
        ts = (uint64_t)asyncio_ticks_ms() * 1000u;
        if (ts <= R.last_ts && R.last_ts - ts < 999u)
            ts = R.last_ts + 1u; /* the event's rank within its millisecond */
    } else {
        ts = real_us();
        if (ts < R.last_ts)
            ts = R.last_ts;
    }
    R.last_ts = ts;
    return ts;
}

/* A JSON string (names are identifiers and paths; escape anyway). */
static void put_str(const char *s)
{
    fputc('"', R.out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', R.out);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, R.out);
    }
    fputc('"', R.out);
}

/* The separator before the file's next event object. */
static void next_event(void) { fputs(R.events++ ? ",\n" : "\n", R.out); }

/* Start an event object: the fields every event has. */
static void begin_event(const char *ph, const char *name, int tid, uint64_t ts)
{
    next_event();
    fprintf(R.out, "{\"ph\":\"%s\",\"pid\":1,\"tid\":%d,\"ts\":%llu,\"name\":", ph, tid,
            (unsigned long long)ts);
    put_str(name);
}

static const char *coro_name(const asyncio_coro *co)
{
    const char *name = NULL;
    if (co)
        asyncio_coro_where(co, &name, NULL);
    return name;
}

/* The track of task `t` (created on first sight), its tid. */
static int track_of(const asyncio_task *t)
{
    size_t i;
    for (i = 0; i < R.ntracks; i++)
        if (R.tracks[i].task == t)
            break;
    if (i == R.ntracks) {
        if (R.ntracks == R.cap) {
            size_t cap = R.cap ? 2 * R.cap : 16;
            struct track *n = realloc(R.tracks, cap * sizeof *n);
            if (!n)
                return TID_FIRST_TASK - 1 + (int)R.ntracks; /* out of memory: share one */
            R.tracks = n;
            R.cap = cap;
        }
        R.tracks[i].task = t;
        R.tracks[i].name = NULL;
        R.ntracks++;
    }
    if (!R.tracks[i].name)
        R.tracks[i].name = coro_name(t->coro);
    return TID_FIRST_TASK + (int)i;
}

static const char *task_label(const asyncio_task *t)
{
    const char *n = coro_name(t->coro);
    return n ? n : "task";
}

/* Turn the flag sets published by other contexts into instant events. */
static void drain_flags(void)
{
    char buf[64];
    while (R.drained != __atomic_load_n(&R.claimed, __ATOMIC_ACQUIRE)) {
        unsigned i = R.drained % RING;
        uint64_t ts;
        if (__atomic_load_n(&R.ring[i].seq, __ATOMIC_ACQUIRE) != R.drained + 1u)
            break; /* claimed, not yet published */
        ts = R.ring[i].ts;
        if (ts < R.last_ts)
            ts = R.last_ts; /* keep the file's order */
        begin_event("i", "flag set", TID_FLAGS, ts);
        snprintf(buf, sizeof buf, "%p", (void *)R.ring[i].flag);
        fputs(",\"s\":\"t\",\"args\":{\"flag\":", R.out);
        put_str(buf);
        fputs("}}", R.out);
        __atomic_store_n(&R.drained, R.drained + 1u, __ATOMIC_RELEASE);
    }
}

/* Close the running task's open slice now, with `key`: `value` as its args. */
static void end_slice(const asyncio_task *t, const char *key, const char *value)
{
    uint64_t ts = now_ts();
    int tid = track_of(t);
    begin_event("X", task_label(t), tid, R.run_ts);
    fprintf(R.out, ",\"dur\":%llu,\"args\":{", (unsigned long long)(ts - R.run_ts));
    put_str(key);
    fputc(':', R.out);
    put_str(value);
    fputs("}}", R.out);
    R.running = NULL;
}

static void on_created(void *ctx, asyncio_task *t)
{
    (void)ctx;
    drain_flags();
    begin_event("i", "created", track_of(t), now_ts());
    fputs(",\"s\":\"t\"}", R.out);
}

static void on_resumed(void *ctx, asyncio_task *t)
{
    (void)ctx;
    drain_flags();
    if (asyncio_task_done(t)) { /* the pass that reports its error */
        begin_event("i", "error reported to the exception handler", track_of(t), now_ts());
        fputs(",\"s\":\"t\"}", R.out);
        return;
    }
    R.running = t;
    R.run_ts = now_ts();
}

static void on_suspended(void *ctx, asyncio_task *t)
{
    char at[256];
    const asyncio_coro *co = t->coro;
    const char *name, *file;
    unsigned line;
    (void)ctx;
    drain_flags();
    if (R.running != t)
        return;
    while (co->child && asyncio_coro_where(co->child, NULL, NULL))
        co = co->child; /* the innermost coroutine: where it really waits */
    line = asyncio_coro_where(co, &name, &file);
    snprintf(at, sizeof at, "%s:%u %s", file ? file : "?", line, name ? name : "?");
    end_slice(t, "suspended at", at);
}

static void on_done(void *ctx, asyncio_task *t, int err)
{
    char res[96];
    (void)ctx;
    drain_flags();
    snprintf(res, sizeof res, "%s (%d)", asyncio_strerror(err), err);
    if (R.running == t)
        end_slice(t, "ended", res);
    begin_event("i", err ? "failed" : "done", track_of(t), now_ts());
    fputs(",\"s\":\"t\",\"args\":{\"result\":", R.out);
    put_str(res);
    fputs("}}", R.out);
}

/* Any context: claim a slot (unless the ring is full), fill it, publish it. */
static void on_flag(void *ctx, asyncio_flag *f)
{
    unsigned i = __atomic_load_n(&R.claimed, __ATOMIC_ACQUIRE);
    (void)ctx;
    do {
        if (i - __atomic_load_n(&R.drained, __ATOMIC_ACQUIRE) >= RING) {
            __atomic_fetch_add(&R.dropped, 1u, __ATOMIC_RELAXED);
            return;
        }
    } while (!__atomic_compare_exchange_n(&R.claimed, &i, i + 1u, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    R.ring[i % RING].flag = f;
    R.ring[i % RING].ts = R.virtual_clock ? (uint64_t)asyncio_ticks_ms() * 1000u : real_us();
    __atomic_store_n(&R.ring[i % RING].seq, i + 1u, __ATOMIC_RELEASE);
}

static void on_idle_enter(void *ctx, int32_t timeout_ms)
{
    (void)ctx;
    drain_flags();
    R.idle_ts = now_ts();
    R.idle_timeout = timeout_ms;
}

static void on_idle_exit(void *ctx)
{
    uint64_t ts = now_ts();
    (void)ctx;
    begin_event("X", "idle", TID_IDLE, R.idle_ts);
    fprintf(R.out, ",\"dur\":%llu,\"args\":{\"timeout_ms\":%d}}",
            (unsigned long long)(ts - R.idle_ts), (int)R.idle_timeout);
    drain_flags(); /* a wake-up from an interrupt shows right after the idle slice */
}

static const asyncio_trace_hooks hooks = {NULL,    on_created, on_resumed,    on_suspended,
                                          on_done, on_flag,    on_idle_enter, on_idle_exit};

/* Metadata: a name per track, in order. */
static void name_track(int tid, const char *name)
{
    next_event();
    fprintf(R.out,
            "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":", tid);
    put_str(name);
    fprintf(R.out,
            "}},\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_sort_index\","
            "\"args\":{\"sort_index\":%d}}",
            tid, tid);
}

int asyncio_trace_stop(void)
{
    size_t i;
    char name[160];
    int r;
    if (!R.out)
        return 0;
    asyncio_trace_set(NULL);
    drain_flags();
    next_event();
    fputs("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"asyncio loop\"}}",
          R.out);
    name_track(TID_IDLE, "loop: idle");
    name_track(TID_FLAGS, "asyncio_flag_set (IRQ, signal, thread)");
    for (i = 0; i < R.ntracks; i++) {
        snprintf(name, sizeof name, "%s (task %p)", R.tracks[i].name ? R.tracks[i].name : "task",
                 (const void *)R.tracks[i].task);
        name_track(TID_FIRST_TASK + (int)i, name);
    }
    fprintf(R.out,
            "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"clock\":\"%s\","
            "\"flag_events_dropped\":%u}}\n",
            R.virtual_clock ? "virtual ms * 1000 + rank" : "CLOCK_MONOTONIC us", R.dropped);
    r = ferror(R.out) ? -EIO : 0;
    if (fclose(R.out) != 0 && r == 0)
        r = -errno;
    R.out = NULL;
    free(R.tracks);
    R.tracks = NULL;
    R.ntracks = R.cap = 0;
    return r;
}

static void stop_at_exit(void) { asyncio_ignore_(asyncio_trace_stop()); }

int asyncio_trace_start(const char *path, int virtual_clock)
{
    static int registered;
    if (R.out)
        asyncio_ignore_(asyncio_trace_stop());
    R.out = fopen(path, "w");
    if (!R.out)
        return -errno;
    R.virtual_clock = virtual_clock;
    R.events = 0;
    R.last_ts = 0;
    R.running = NULL;
    R.claimed = R.drained = R.dropped = 0;
    memset(R.ring, 0, sizeof R.ring);
    clock_gettime(CLOCK_MONOTONIC, &R.t0);
    fputs("{\"traceEvents\":[", R.out);
    if (!registered && atexit(stop_at_exit) == 0)
        registered = 1;
    asyncio_trace_set(&hooks);
    return 0;
}
