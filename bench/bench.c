/* SPDX-License-Identifier: MIT */
/*
 * bench.c -- the asyncio.h side of `make bench`. One measurement per run,
 * chosen by the first argument; prints one number (see each mode).
 *
 *   switch N M   ns per task switch: N tasks each yield M times
 *   bare N M     the same work as a bare switch/__LINE__ round-robin (floor)
 *   event R      Event ping-pong: round trips per second
 *   lock R       Lock hand-off between two tasks: hand-offs per second
 *   flag R       ThreadSafeFlag set by another thread -> task resumes: round trips per second
 *   timers N     N tasks sleep a random 1..50 ms: CPU ns per timer (schedule + expire)
 */
#define _POSIX_C_SOURCE 200809L
#include "port_posix.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long M_;

/* ---- switch: N tasks, each yielding M times ---- */
struct yielder {
    asyncio_coro co;
    long i;
};
static int yielder_fn(asyncio_coro *co)
{
    struct yielder *f = (struct yielder *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < M_; f->i++)
        YIELD;
    ASYNC_END;
}

/* The same with sleep(0), which must cost about what YIELD does. */
static int sleeper0_fn(asyncio_coro *co)
{
    struct yielder *f = (struct yielder *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < M_; f->i++)
        AWAIT_SLEEP_MS(0);
    ASYNC_END;
}
static asyncio_fn switch_fn_ = yielder_fn;

static struct yielder *ys;
static asyncio_task *yts;
static long N_;

static int spawn_fn(asyncio_coro *co)
{
    long i;
    ASYNC_BEGIN(co);
    for (i = 0; i < N_; i++)
        asyncio_create_task(&yts[i], asyncio_coro_init(&ys[i].co, switch_fn_));
    AWAIT_TASK(&yts[N_ - 1]); /* the last one ends last */
    ASYNC_END;
}

static double bench_switch(long n, long m)
{
    static asyncio_coro main_co;
    static asyncio_task main_t;
    double t0;
    N_ = n;
    M_ = m;
    ys = calloc((size_t)n, sizeof *ys);
    yts = calloc((size_t)n, sizeof *yts);
    t0 = now_s(CLOCK_MONOTONIC);
    asyncio_run(&main_t, asyncio_coro_init(&main_co, spawn_fn), NULL);
    return (now_s(CLOCK_MONOTONIC) - t0) * 1e9 / ((double)n * (double)m);
}

/* ---- bare: the floor, a hand-written switch/__LINE__ round-robin ---- */
struct bare {
    int line;
    long i;
};
typedef int (*bare_fn)(struct bare *);
/* Save the line and return; resume at the same line (one macro line). */
#define BARE_YIELD(b)                                                                              \
    do {                                                                                           \
        (b)->line = __LINE__;                                                                      \
        return 1;                                                                                  \
    case __LINE__:;                                                                                \
    } while (0)
__attribute__((noinline)) static int bare_yielder(struct bare *b)
{
    switch (b->line) {
    case 0:
        for (b->i = 0; b->i < M_; b->i++)
            BARE_YIELD(b);
    }
    return 0;
}

static double bench_bare(long n, long m)
{
    struct bare *bs = calloc((size_t)n, sizeof *bs);
    bare_fn *fns = calloc((size_t)n, sizeof *fns);
    volatile bare_fn entry = bare_yielder;
    long live = n, i;
    double t0;
    M_ = m;
    for (i = 0; i < n; i++)
        fns[i] = entry;
    t0 = now_s(CLOCK_MONOTONIC);
    while (live) {
        live = 0;
        for (i = 0; i < n; i++)
            live += fns[i](&bs[i]);
    }
    t0 = (now_s(CLOCK_MONOTONIC) - t0) * 1e9 / ((double)n * (double)m);
    free(bs);
    free(fns);
    return t0;
}

/* ---- event ping-pong ---- */
static asyncio_event ping, pong;
static long rounds_;
static int pinger_fn(asyncio_coro *co)
{
    static long i;
    ASYNC_BEGIN(co);
    for (i = 0; i < rounds_; i++) {
        asyncio_event_set(&ping);
        AWAIT_EVENT(&pong);
        asyncio_event_clear(&pong);
    }
    ASYNC_END;
}
static int ponger_fn(asyncio_coro *co)
{
    static long i;
    ASYNC_BEGIN(co);
    for (i = 0; i < rounds_; i++) {
        AWAIT_EVENT(&ping);
        asyncio_event_clear(&ping);
        asyncio_event_set(&pong);
    }
    ASYNC_END;
}

/* Run `a` as main and `b` beside it; returns operations per second. */
static double run_pair(asyncio_fn a, asyncio_fn b, long ops)
{
    static asyncio_coro ca, cb;
    static asyncio_task ta, tb;
    double t0 = now_s(CLOCK_MONOTONIC);
    asyncio_create_task(&tb, asyncio_coro_init(&cb, b));
    asyncio_run(&ta, asyncio_coro_init(&ca, a), NULL);
    return (double)ops / (now_s(CLOCK_MONOTONIC) - t0);
}

/* ---- lock hand-off: two tasks take turns ---- */
static asyncio_lock lock;
static long handoffs;
static int locker_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    while (handoffs < rounds_) {
        AWAIT_LOCK(&lock);
        handoffs++;
        YIELD; /* the other task queues on the lock meanwhile */
        asyncio_lock_release(&lock);
    }
    ASYNC_END;
}

/* ---- ThreadSafeFlag from another thread ---- */
static asyncio_flag flag;
static volatile int acked;
static void *setter_thread(void *arg)
{
    long i;
    (void)arg;
    for (i = 0; i < rounds_; i++) {
        while (__atomic_load_n(&acked, __ATOMIC_ACQUIRE) != i)
            ;
        asyncio_flag_set(&flag);
    }
    return NULL;
}
static int flag_waiter_fn(asyncio_coro *co)
{
    static long i;
    ASYNC_BEGIN(co);
    for (i = 0; i < rounds_; i++) {
        AWAIT_FLAG(&flag);
        __atomic_store_n(&acked, (int)(i + 1), __ATOMIC_RELEASE);
    }
    ASYNC_END;
}

static double bench_flag(long r)
{
    static asyncio_coro c;
    static asyncio_task t;
    pthread_t th;
    double t0;
    rounds_ = r;
    asyncio_flag_init(&flag);
    asyncio_get_event_loop();
    t0 = now_s(CLOCK_MONOTONIC);
    pthread_create(&th, NULL, setter_thread, NULL);
    asyncio_run(&t, asyncio_coro_init(&c, flag_waiter_fn), NULL);
    pthread_join(th, NULL);
    return (double)r / (now_s(CLOCK_MONOTONIC) - t0);
}

/* ---- timers: N sleepers with random deadlines ---- */
struct sleeper {
    asyncio_coro co;
    int32_t ms;
};
static long expired;
static int sleeper_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(((struct sleeper *)co)->ms);
    expired++;
    ASYNC_END;
}
static struct sleeper *ss;
static asyncio_task *sts;
static int timers_main_fn(asyncio_coro *co)
{
    long i;
    ASYNC_BEGIN(co);
    for (i = 0; i < N_; i++)
        asyncio_create_task(&sts[i], asyncio_coro_init(&ss[i].co, sleeper_fn));
    while (expired < N_)
        AWAIT_SLEEP_MS(10);
    ASYNC_END;
}

static double bench_timers(long n)
{
    static asyncio_coro c;
    static asyncio_task t;
    long i;
    double t0;
    N_ = n;
    ss = calloc((size_t)n, sizeof *ss);
    sts = calloc((size_t)n, sizeof *sts);
    srand(1);
    for (i = 0; i < n; i++)
        ss[i].ms = 1 + rand() % 50;
    t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    asyncio_run(&t, asyncio_coro_init(&c, timers_main_fn), NULL);
    t0 = (now_s(CLOCK_PROCESS_CPUTIME_ID) - t0) * 1e9 / (double)n;
    for (i = 0; i < n; i++)
        if (!asyncio_task_done(&sts[i]))
            return -1;
    return t0;
}

int main(int argc, char **argv)
{
    long a = argc > 2 ? atol(argv[2]) : 1000, b = argc > 3 ? atol(argv[3]) : 1000;
    const char *mode = argc > 1 ? argv[1] : "switch";
    double v = -1;
    if (!strcmp(mode, "switch"))
        v = bench_switch(a, b);
    else if (!strcmp(mode, "sleep0")) {
        switch_fn_ = sleeper0_fn;
        v = bench_switch(a, b);
    } else if (!strcmp(mode, "bare"))
        v = bench_bare(a, b);
    else if (!strcmp(mode, "event")) {
        rounds_ = a;
        asyncio_event_init(&ping);
        asyncio_event_init(&pong);
        v = run_pair(pinger_fn, ponger_fn, a);
    } else if (!strcmp(mode, "lock")) {
        rounds_ = a;
        asyncio_lock_init(&lock);
        v = run_pair(locker_fn, locker_fn, a);
    } else if (!strcmp(mode, "flag"))
        v = bench_flag(a);
    else if (!strcmp(mode, "timers"))
        v = bench_timers(a);
    else {
        fprintf(stderr, "usage: bench switch|sleep0|bare N M | event|lock|flag R | timers N\n");
        return 2;
    }
    printf("%.3f\n", v);
    return v < 0;
}
