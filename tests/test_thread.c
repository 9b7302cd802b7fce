/* SPDX-License-Identifier: MIT */
/*
 * The loop and threads (issue 19, item 7), a plain pthread program (no
 * Criterion, so that it also runs under ThreadSanitizer: `make test-tsan`,
 * tests/sync.mk):
 *  - two asyncio_run() started at once on two threads: exactly one runs, the
 *    other gets EBUSY and its coroutine never runs (claiming the loop is one
 *    atomic exchange);
 *  - with ASYNCIO_CHECK_THREAD (the host test builds), loop calls from a
 *    thread other than the one running the loop fail with ETHREAD (or are
 *    ignored, for the calls that return nothing) and change nothing.
 * The Makefile runs it with Criterion's arguments; it ignores them.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "asyncio.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int go, started, loser_tried; /* touched with __atomic builtins only */

static void set_(int *v, int x) { __atomic_store_n(v, x, __ATOMIC_RELEASE); }
static int get_(int *v) { return __atomic_load_n(v, __ATOMIC_ACQUIRE); }

/* The main task of a run: says it started, then sleeps until the other
 * thread has tried (at most 10 s, so that a bug cannot hang the test). */
struct racer {
    asyncio_coro co;
    long spins;
    int ran;
};
static int racer_fn(asyncio_coro *co)
{
    struct racer *r = (struct racer *)co;
    ASYNC_BEGIN(co);
    r->ran++;
    set_(&started, 1);
    for (r->spins = 0; !get_(&loser_tried) && r->spins < 10000; r->spins++)
        AWAIT_SLEEP_MS(1);
    ASYNC_END;
}

static struct racer racers[2];
static asyncio_task tasks[2];
static int results[2];

static void *racer_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    while (!get_(&go)) {
    }
    results[i] = asyncio_run(&tasks[i], asyncio_coro_init(&racers[i].co, racer_fn), NULL);
    if (results[i] == ASYNCIO_EBUSY)
        set_(&loser_tried, 1);
    return NULL;
}

static void two_runs_on_two_threads_exactly_one_runs(void)
{
    int round;
    for (round = 0; round < 200; round++) {
        pthread_t th[2];
        int i, winner;
        CHECK(asyncio_new_event_loop() != NULL);
        set_(&go, 0);
        set_(&started, 0);
        set_(&loser_tried, 0);
        for (i = 0; i < 2; i++) {
            racers[i].ran = 0;
            tasks[i].state = ASYNCIO_TASK_NEW;
            CHECK(pthread_create(&th[i], NULL, racer_thread, (void *)(intptr_t)i) == 0);
        }
        set_(&go, 1);
        for (i = 0; i < 2; i++)
            CHECK(pthread_join(th[i], NULL) == 0);
        winner = results[0] == 0 ? 0 : 1;
        CHECK(results[winner] == 0);
        CHECK(results[1 - winner] == ASYNCIO_EBUSY);
        CHECK(racers[winner].ran == 1);
        CHECK(racers[1 - winner].ran == 0);
        CHECK(tasks[1 - winner].state == ASYNCIO_TASK_NEW); /* never created */
    }
    puts("[PASS] thread::two_runs_on_two_threads_exactly_one_runs");
}

#ifdef ASYNCIO_CHECK_THREAD
static asyncio_event ev;
static asyncio_lock lock;

static void *loop_thread(void *arg)
{
    (void)arg;
    results[0] = asyncio_run(&tasks[0], asyncio_coro_init(&racers[0].co, racer_fn), NULL);
    return NULL;
}

static int nop_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_END;
}

static void loop_calls_from_another_thread_fail_with_ethread(void)
{
    static asyncio_task x;
    static asyncio_coro xc;
    asyncio_loop *loop;
    pthread_t th;
    int err = 0;
    loop = asyncio_new_event_loop();
    CHECK(loop != NULL);
    asyncio_event_init(&ev);
    asyncio_lock_init(&lock);
    lock.locked = 1; /* held (by nobody in particular): release would succeed */
    set_(&started, 0);
    set_(&loser_tried, 0);
    racers[0].ran = 0;
    CHECK(pthread_create(&th, NULL, loop_thread, NULL) == 0);
    while (!get_(&started)) {
    }
    /* The loop runs on `th`; this thread is not the loop's. */
    CHECK(asyncio_create_task(&x, asyncio_coro_init(&xc, nop_fn)) == ASYNCIO_ETHREAD);
    CHECK(asyncio_loop_create_task(loop, &x, &xc) == ASYNCIO_ETHREAD);
    CHECK(asyncio_task_cancel(&tasks[0]) == ASYNCIO_ETHREAD);
    CHECK(asyncio_task_result(&tasks[0], NULL) == ASYNCIO_ETHREAD);
    CHECK(asyncio_lock_release(&lock) == ASYNCIO_ETHREAD);
    CHECK(asyncio_loop_close(loop) == ASYNCIO_ETHREAD);
    CHECK(asyncio_new_event_loop_err(&err) == NULL && err == ASYNCIO_ETHREAD);
    CHECK(asyncio_new_event_loop() == NULL);
    CHECK(asyncio_run(&x, &xc, NULL) == ASYNCIO_EBUSY);
    CHECK(asyncio_loop_run_forever(loop) == ASYNCIO_EBUSY);
    CHECK(asyncio_loop_run_until_complete(loop, &tasks[0], NULL) == ASYNCIO_EBUSY);
    asyncio_event_set(&ev);                         /* ignored, reported on stderr */
    asyncio_event_clear(&ev);                       /* ignored */
    asyncio_loop_stop(loop);                        /* ignored */
    asyncio_loop_set_exception_handler(loop, NULL); /* ignored */
    set_(&loser_tried, 1);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(results[0] == 0 && racers[0].ran == 1);
    /* Nothing changed: */
    CHECK(x.state == ASYNCIO_TASK_NEW);
    CHECK(!asyncio_event_is_set(&ev));
    CHECK(lock.locked == 1);
    CHECK(asyncio_strerror(ASYNCIO_ETHREAD)[0] != 'u'); /* has its own text */
    /* Between runs the loop is anybody's: this thread may now use it. */
    CHECK(asyncio_run(&x, asyncio_coro_init(&xc, nop_fn), NULL) == 0);
    puts("[PASS] thread::loop_calls_from_another_thread_fail_with_ethread");
}
#endif

int main(void)
{
    two_runs_on_two_threads_exactly_one_runs();
#ifdef ASYNCIO_CHECK_THREAD
    loop_calls_from_another_thread_fail_with_ethread();
#endif
    return 0;
}
