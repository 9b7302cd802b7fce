/* SPDX-License-Identifier: MIT */
/*
 * Edges of the loop (issue 21): a second stop() must not make the next
 * run_forever return at once; run_forever / run_until_complete with a
 * wrong loop; a port that refuses to watch a descriptor (epoll: a regular
 * file; poll(): a full table); a ThreadSafeFlag set from another thread
 * while the loop blocks with a socket watched (it wakes, and the loop then
 * blocks again instead of spinning: CPU time bounded); the idle wait with
 * a timer that fell due after the timers were expired (a clock stepped
 * forward meanwhile): the loop must poll, not wait forever.
 */
#define _POSIX_C_SOURCE 200809L
#include "port_posix.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void virtual_clock(void) { asyncio_posix_virtual_time(1, 0); }
static void real_clock(void) { asyncio_posix_virtual_time(0, 0); }
TestSuite(loop_edges, .init = virtual_clock, .timeout = 10);
TestSuite(loop_edges_real, .init = real_clock, .timeout = 20);

static void trace_reset(void)
{
    trace_len = 0;
    trace_buf[0] = '\0';
}

/* ---- a second stop() ---- */
struct ticker {
    asyncio_coro co;
    int id, n, stops;
};
static int ticker_fn(asyncio_coro *co)
{
    struct ticker *f = (struct ticker *)co;
    int i;
    ASYNC_BEGIN(co);
    for (f->n = 0; f->n < 3; f->n++) {
        AWAIT_SLEEP_MS(5);
        trace("task %d tick %d at %u", f->id, f->n, asyncio_ticks_ms());
    }
    for (i = 0; i < f->stops; i++)
        asyncio_loop_stop(asyncio_get_event_loop());
    trace("task %d stopped the loop %d times", f->id, f->stops);
    ASYNC_END;
}

Test(loop_edges, a_second_stop_does_not_make_the_next_run_forever_return_at_once)
{
    static struct ticker a, b;
    static asyncio_task ta, tb;
    asyncio_loop *loop = asyncio_new_event_loop();
    trace_reset();
    a.id = 1;
    a.stops = 2;
    cr_assert_eq(asyncio_create_task(&ta, asyncio_coro_init(&a.co, ticker_fn)), 0);
    cr_assert_eq(asyncio_loop_run_forever(loop), 0);
    trace("run_forever returned at %u", asyncio_ticks_ms());
    b.id = 2;
    b.stops = 1;
    cr_assert_eq(asyncio_create_task(&tb, asyncio_coro_init(&b.co, ticker_fn)), 0);
    cr_assert_eq(asyncio_loop_run_forever(loop), 0);
    trace("run_forever returned at %u", asyncio_ticks_ms());
    assert_trace("task 1 tick 0 at 5\n"
                 "task 1 tick 1 at 10\n"
                 "task 1 tick 2 at 15\n"
                 "task 1 stopped the loop 2 times\n"
                 "run_forever returned at 15\n"
                 "task 2 tick 0 at 20\n"
                 "task 2 tick 1 at 25\n"
                 "task 2 tick 2 at 30\n"
                 "task 2 stopped the loop 1 times\n"
                 "run_forever returned at 30\n");
    cr_assert(asyncio_task_done(&ta));
    cr_assert(asyncio_task_done(&tb));
}

Test(loop_edges, run_forever_and_run_until_complete_reject_another_loop_pointer)
{
    static struct ticker a;
    static asyncio_task ta;
    asyncio_loop *loop = asyncio_new_event_loop();
    cr_assert_eq(asyncio_loop_run_forever((asyncio_loop *)(void *)&ta), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_loop_run_forever(NULL), ASYNCIO_EINVAL);
    a.id = 1;
    cr_assert_eq(asyncio_create_task(&ta, asyncio_coro_init(&a.co, ticker_fn)), 0);
    cr_assert_eq(asyncio_loop_run_until_complete(NULL, &ta, NULL), ASYNCIO_EINVAL);
    /* The loop was not claimed by the refusals: it runs. */
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &ta, NULL), 0);
    cr_assert_eq(asyncio_loop_close(loop), 0);
    cr_assert_eq(asyncio_loop_run_forever(loop), ASYNCIO_ECLOSED);
    cr_assert_not_null(asyncio_new_event_loop(), "the refused run_forever released the loop");
}

/* ---- a port that refuses to watch a descriptor ---- */
#ifdef ASYNCIO_POSIX_POLL
#define NPIPES 256 /* ASYNCIO_POSIX_MAX_IO: the poll() table */
#else
#define NPIPES 2
#endif
#ifdef ASYNCIO_POSIX_POLL
#define REFUSED_ERRNO ENOMEM
#else
#define REFUSED_ERRNO EPERM
#endif
static int pipes[NPIPES][2];
static asyncio_io ios[NPIPES + 1];
static asyncio_task waiters[NPIPES + 1];
static struct io_waiter {
    asyncio_coro co;
    int i, err;
} iw[NPIPES + 1];
static int io_waiter_fn(asyncio_coro *co)
{
    struct io_waiter *f = (struct io_waiter *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_IO(&ios[f->i], ASYNCIO_IO_READ));
    f->err = AWAIT_ERROR;
    ASYNC_END;
}
static int refused_file_fd = -1;
static struct refuse_main {
    asyncio_coro co;
    int i;
} rm;
static int refuse_main_fn(asyncio_coro *co)
{
    struct refuse_main *f = (struct refuse_main *)co;
    char c;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i <= NPIPES; f->i++) {
        iw[f->i].i = f->i;
        iw[f->i].err = 1;
        cr_assert_eq(
            asyncio_create_task(&waiters[f->i], asyncio_coro_init(&iw[f->i].co, io_waiter_fn)), 0);
    }
    YIELD; /* every waiter has tried to park */
    /* The refused one failed at once; the others still wait. */
    cr_assert_eq(iw[NPIPES].err, ASYNCIO_OSERROR(REFUSED_ERRNO));
    cr_assert(asyncio_task_done(&waiters[NPIPES]));
    for (f->i = 0; f->i < NPIPES; f->i++)
        cr_assert_not(asyncio_task_done(&waiters[f->i]), "waiter %d", f->i);
    /* ... and the loop still serves them: wake them all. */
    for (f->i = 0; f->i < NPIPES; f->i++)
        cr_assert_eq(write(pipes[f->i][1], "x", 1), 1);
    for (f->i = 0; f->i < NPIPES; f->i++) {
        AWAIT_TASK(&waiters[f->i]);
        cr_assert_eq(iw[f->i].err, 0);
        cr_assert_eq(read(pipes[f->i][0], &c, 1), 1);
    }
    ASYNC_END;
}

Test(loop_edges, a_descriptor_the_port_refuses_to_watch_fails_its_waiter_and_the_others_go_on)
{
    static asyncio_task t;
    char path[] = "/tmp/asyncio_refuseXXXXXX";
    int i;
    cr_assert_not_null(asyncio_new_event_loop());
    for (i = 0; i < NPIPES; i++) {
        cr_assert_eq(pipe(pipes[i]), 0);
        asyncio_io_init(&ios[i], pipes[i][0]);
    }
    /* epoll refuses a regular file (EPERM); poll() refuses one more
     * descriptor than its table holds (ENOMEM). */
    refused_file_fd = mkstemp(path);
    cr_assert_geq(refused_file_fd, 0);
    unlink(path);
    asyncio_io_init(&ios[NPIPES], refused_file_fd);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&rm.co, refuse_main_fn), NULL), 0);
    for (i = 0; i < NPIPES; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    close(refused_file_fd);
}

/* ---- a ThreadSafeFlag set from a thread while the loop blocks on I/O ---- */
static asyncio_flag tflag;
static int sp[2];
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
static void *setter(void *arg)
{
    (void)arg;
    sleep_ms(50);
    asyncio_flag_set(&tflag);
    return NULL;
}
static struct sock_reader {
    asyncio_coro co;
    asyncio_io io;
    char c;
} sr;
static int sock_reader_fn(asyncio_coro *co)
{
    struct sock_reader *f = (struct sock_reader *)co;
    ASYNC_BEGIN(co);
    AWAIT_IO(&f->io, ASYNCIO_IO_READ);
    cr_assert_eq(read(f->io.fd, &f->c, 1), 1);
    trace("socket read %c", f->c);
    ASYNC_END;
}
static asyncio_task reader_t;
static double cpu_during_wait;
static int flag_main_fn(asyncio_coro *co)
{
    static double t0;
    ASYNC_BEGIN(co);
    asyncio_io_init(&sr.io, sp[0]);
    cr_assert_eq(asyncio_create_task(&reader_t, asyncio_coro_init(&sr.co, sock_reader_fn)), 0);
    YIELD;              /* the reader watches the socket */
    AWAIT_FLAG(&tflag); /* the loop blocks in the port's wait until the thread sets it */
    trace("flag woke the loop");
    /* The wake-up was consumed: while the socket stays silent, the loop
     * blocks again instead of spinning on a wake it already saw. */
    t0 = cpu_ms();
    AWAIT_SLEEP_MS(400);
    cpu_during_wait = cpu_ms() - t0;
    trace("slept");
    cr_assert_eq(write(sp[1], "z", 1), 1);
    AWAIT_TASK(&reader_t);
    ASYNC_END;
}

Test(loop_edges_real, a_flag_set_by_a_thread_wakes_a_loop_blocked_on_a_socket_without_spinning)
{
    static asyncio_task t;
    static asyncio_coro co;
    pthread_t th;
    cr_assert_not_null(asyncio_new_event_loop());
    trace_reset();
    asyncio_flag_init(&tflag);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    cr_assert_eq(pthread_create(&th, NULL, setter, NULL), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, flag_main_fn), NULL), 0);
    pthread_join(th, NULL);
    assert_trace("flag woke the loop\n"
                 "slept\n"
                 "socket read z\n");
    /* A loop spinning for 400 ms burns far more than this, even with a
     * quarter of a core on a loaded machine. */
    cr_assert_lt(cpu_during_wait, 60.0, "the loop spun: %.1f ms CPU in a 400 ms wait",
                 cpu_during_wait);
    close(sp[0]);
    close(sp[1]);
}

/* ---- the idle wait with a timer already due ----
 * The loop expires due timers, finds nothing runnable, then computes how
 * long to wait from the next deadline. If the clock moves between the two
 * (here: another thread steps the virtual clock forward every 20 us), that
 * deadline is already past and the wait must be a poll (0), never a
 * negative timeout (POSIX: wait forever). Each run hits that window many
 * times in 200000 sleeps; a loop that waited forever would never finish. */
static volatile int stepping;
static void *stepper(void *arg)
{
    struct timespec ts = {0, 20000}; /* 20 us */
    (void)arg;
    while (stepping) {
        nanosleep(&ts, NULL);
        asyncio_posix_virtual_time(1, asyncio_port_ticks_ms() + 1000);
    }
    return NULL;
}
static struct many_sleeps {
    asyncio_coro co;
    int n;
} ms_;
static int many_sleeps_fn(asyncio_coro *co)
{
    struct many_sleeps *f = (struct many_sleeps *)co;
    ASYNC_BEGIN(co);
    for (f->n = 0; f->n < 200000; f->n++)
        AWAIT_SLEEP_MS(1);
    ASYNC_END;
}

Test(loop_edges, an_overdue_timer_at_the_idle_wait_is_polled_not_waited_on_forever, .timeout = 20)
{
    static asyncio_task t;
    pthread_t th;
    cr_assert_not_null(asyncio_new_event_loop());
    stepping = 1;
    cr_assert_eq(pthread_create(&th, NULL, stepper, NULL), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&ms_.co, many_sleeps_fn), NULL), 0);
    stepping = 0;
    pthread_join(th, NULL);
    cr_assert_eq(ms_.n, 200000);
}
