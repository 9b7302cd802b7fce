/* SPDX-License-Identifier: MIT */
/*
 * A catalogue of misuse: every misuse the headers document returns its
 * documented error AND leaves the loop usable: after each one a small probe
 * (tasks that sleep, wait on an Event, take a Lock, are gathered) must run
 * to completion with the expected results.
 *
 * Misuses already pinned elsewhere are not repeated here: awaiting a
 * gathered task / gathering an awaited one (test_gather.c, gather_notimpl),
 * a second ThreadSafeFlag waiter (test_flag.c), releasing an unheld lock
 * (test_lock.c), create_task EINVAL/EBUSY on a pending task, cancel and
 * result on NULL / never-created tasks, await self, sleep overflow, a
 * running loop re-entered, ENOLOOP, ECORRUPT (test_loop.c, misuse suite),
 * a stream read in flight, ENOBUFS, readinto(0) (test_stream.c).
 *
 * The last section holds the regression tests of the findings of the
 * fuzzers and of this work (FINDING: ...).
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static void virtual_clock(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(misuse_catalogue, .init = virtual_clock, .timeout = 10);
TestSuite(finding, .init = virtual_clock, .timeout = 5);

/* ------------------------------------------------------------------------ */
/* The probe: is the loop still usable?                                     */
/* ------------------------------------------------------------------------ */

static asyncio_event probe_ev;
static asyncio_lock probe_lock;

struct probe_sub {
    asyncio_coro co;
    int id;
};
static int probe_sub_fn(asyncio_coro *co)
{
    struct probe_sub *f = (struct probe_sub *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->id);
    AWAIT_EVENT(&probe_ev);
    AWAIT_LOCK(&probe_lock);
    YIELD;
    asyncio_lock_release(&probe_lock);
    ASYNC_RETURN(f->id * 10);
    ASYNC_END;
}

struct probe {
    asyncio_coro co;
    struct probe_sub sub[3];
    asyncio_task t[3], *tp[3];
    asyncio_outcome out[3];
    asyncio_gather_state g;
};
static int probe_fn(asyncio_coro *co)
{
    struct probe *f = (struct probe *)co;
    int i;
    ASYNC_BEGIN(co);
    for (i = 0; i < 3; i++) {
        f->sub[i].id = i + 1;
        f->tp[i] = &f->t[i];
        cr_assert_eq(asyncio_create_task(&f->t[i], asyncio_coro_init(&f->sub[i].co, probe_sub_fn)),
                     0);
    }
    AWAIT_SLEEP_MS(10);
    asyncio_event_set(&probe_ev);
    AWAIT(asyncio_gather(&f->g, f->tp, 3, f->out, 0));
    for (i = 0; i < 3; i++)
        cr_assert_eq(f->out[i].value, (i + 1) * 10);
    ASYNC_RETURN(42);
    ASYNC_END;
}

/* Run the probe on the current loop: it must work as on a fresh one. */
static void assert_loop_usable(void)
{
    static struct probe p;
    static asyncio_task t;
    asyncio_value v = 0;
    uint32_t t0 = asyncio_ticks_ms();
    memset(&p, 0, sizeof p);
    memset(&t, 0, sizeof t);
    asyncio_event_init(&probe_ev);
    asyncio_lock_init(&probe_lock);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&p.co, probe_fn), &v), 0,
                 "the loop is not usable after the misuse");
    cr_assert_eq(v, 42);
    cr_assert_eq(asyncio_ticks_diff(asyncio_ticks_ms(), t0), 10, "the probe's timing is off");
    cr_assert(!asyncio_lock_locked(&probe_lock));
}

/* A coroutine that returns its id after `ms`. */
struct sleeper {
    asyncio_coro co;
    int id;
    int64_t ms;
};
static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = (struct sleeper *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    ASYNC_RETURN(f->id);
    ASYNC_END;
}
static asyncio_coro *sleeper(struct sleeper *f, int id, int64_t ms)
{
    f->id = id;
    f->ms = ms;
    return asyncio_coro_init(&f->co, sleeper_fn);
}

static int failer_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RAISE(ASYNCIO_EUSER(1));
    ASYNC_END;
}

static void quiet_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    trace("handler: %s", asyncio_strerror(ctx->error));
}

/* ------------------------------------------------------------------------ */
/* NULL arguments to the awaitables: EINVAL, the task carries on            */
/* ------------------------------------------------------------------------ */

struct nulls {
    asyncio_coro co;
    asyncio_gather_state g;
    asyncio_wait_for_state wf;
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
    asyncio_task never;
};
static int nulls_fn(asyncio_coro *co)
{
    struct nulls *f = (struct nulls *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_EVENT(NULL));
    trace("event NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_LOCK(NULL));
    trace("lock NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_FLAG(NULL));
    trace("flag NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_IO(NULL, ASYNCIO_IO_READ));
    trace("io NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_TASK(NULL));
    trace("task NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, NULL, 2, f->out, 0)));
    trace("gather NULL tasks: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->tasks, 2, NULL, 0)));
    trace("gather NULL out: %s", asyncio_strerror(AWAIT_ERROR));
    f->tasks[0] = f->tasks[1] = NULL;
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0)));
    trace("gather NULL task: %s", asyncio_strerror(AWAIT_ERROR));
    f->tasks[0] = f->tasks[1] = &f->never;
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 1)));
    trace("gather never-created tasks: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_gather(NULL, f->tasks, 2, f->out, 0)));
    trace("gather NULL state: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, NULL, 10)));
    trace("wait_for NULL coroutine: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_wait_for_task_ms(&f->wf, &f->never, 10)));
    trace("wait_for a never-created task: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(NULL, NULL, 10)));
    trace("wait_for NULL state: %s", asyncio_strerror(AWAIT_ERROR));
    trace("lock_release NULL: %s", asyncio_strerror(asyncio_lock_release(NULL)));
    ASYNC_END;
}

Test(misuse_catalogue, null_arguments_to_awaitables_are_einval_and_the_task_carries_on)
{
    static struct nulls n;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), quiet_handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&n.co, nulls_fn), NULL), 0);
    assert_trace("event NULL: invalid argument\n"
                 "lock NULL: invalid argument\n"
                 "flag NULL: invalid argument\n"
                 "io NULL: invalid argument\n"
                 "task NULL: invalid argument\n"
                 "gather NULL tasks: invalid argument\n"
                 "gather NULL out: invalid argument\n"
                 "gather NULL task: invalid argument\n"
                 "gather never-created tasks: invalid argument\n"
                 "gather NULL state: invalid argument\n"
                 "wait_for NULL coroutine: invalid argument\n"
                 "wait_for a never-created task: invalid argument\n"
                 "wait_for NULL state: invalid argument\n"
                 "lock_release NULL: invalid argument\n");
    assert_loop_usable();
}

static int bad_io_fn(asyncio_coro *co)
{
    static asyncio_io io;
    ASYNC_BEGIN(co);
    asyncio_io_init(&io, 0);
    ASYNC_TRY(AWAIT_IO(&io, 0));
    trace("io events 0: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_IO(&io, ASYNCIO_IO_READ | ASYNCIO_IO_WRITE));
    trace("io events READ|WRITE: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(misuse_catalogue, awaiting_io_for_no_event_or_two_at_once_is_einval)
{
    static asyncio_coro c;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c, bad_io_fn), NULL), 0);
    assert_trace("io events 0: invalid argument\nio events READ|WRITE: invalid argument\n");
    assert_loop_usable();
}

/* ------------------------------------------------------------------------ */
/* The loop API with a wrong loop, or a closed loop                         */
/* ------------------------------------------------------------------------ */

Test(misuse_catalogue, loop_calls_with_a_null_loop_are_einval)
{
    static struct sleeper s;
    static asyncio_task t;
    cr_assert_eq(asyncio_loop_create_task(NULL, &t, sleeper(&s, 1, 1)), ASYNCIO_EINVAL);
    cr_assert_eq(t.state, ASYNCIO_TASK_NEW, "nothing was scheduled");
    cr_assert_eq(asyncio_loop_run_until_complete(NULL, &t, NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_loop_run_forever(NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_loop_close(NULL), ASYNCIO_EINVAL);
    asyncio_loop_stop(NULL);
    asyncio_loop_set_exception_handler(NULL, quiet_handler);
    cr_assert_null(asyncio_loop_get_exception_handler(asyncio_get_event_loop()));
    cr_assert_null(asyncio_loop_get_exception_handler(NULL));
    cr_assert_eq(asyncio_run(NULL, sleeper(&s, 1, 1), NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_run(&t, NULL, NULL), ASYNCIO_EINVAL);
    assert_loop_usable();
}

Test(misuse_catalogue, every_entry_point_of_a_closed_loop_is_eclosed_until_a_new_loop)
{
    static struct sleeper s1, s2;
    static asyncio_task t1, t2;
    asyncio_loop *loop = asyncio_get_event_loop();
    cr_assert_eq(asyncio_create_task(&t1, sleeper(&s1, 1, 5)), 0);
    cr_assert_eq(asyncio_loop_close(loop), 0);
    cr_assert_eq(asyncio_loop_close(loop), 0, "closing twice is harmless");
    cr_assert_eq(asyncio_run(&t2, sleeper(&s2, 2, 1), NULL), ASYNCIO_ECLOSED);
    cr_assert_eq(asyncio_loop_create_task(loop, &t2, sleeper(&s2, 2, 1)), ASYNCIO_ECLOSED);
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &t1, NULL), ASYNCIO_ECLOSED,
                 "closed, as documented (before saying that t1 was dropped with it)");
    asyncio_loop_stop(loop); /* nothing to stop: nothing happens */
    cr_assert(!asyncio_task_done(&t1));
    cr_assert_eq(asyncio_task_result(&t1, NULL), ASYNCIO_ESTATE);
    cr_assert_not_null(asyncio_new_event_loop());
    assert_loop_usable();
}

/* ------------------------------------------------------------------------ */
/* Tasks                                                                    */
/* ------------------------------------------------------------------------ */

struct reuse {
    asyncio_coro co, fail, fail2;
    asyncio_task t;
};
static int reuse_fn(asyncio_coro *co)
{
    struct reuse *f = (struct reuse *)co;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&f->t, asyncio_coro_init(&f->fail, failer_fn)), 0);
    YIELD; /* it fails; nobody has seen its error yet */
    cr_assert(asyncio_task_done(&f->t));
    trace("create_task on an unreported failure: %s",
          asyncio_strerror(asyncio_create_task(&f->t, asyncio_coro_init(&f->fail2, failer_fn))));
    trace("its result: %s", asyncio_strerror(asyncio_task_result(&f->t, NULL)));
    trace("create_task once retrieved: %s",
          asyncio_strerror(asyncio_create_task(&f->t, asyncio_coro_init(&f->fail2, failer_fn))));
    ASYNC_TRY(AWAIT_TASK(&f->t));
    trace("the new task: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(misuse_catalogue, create_task_on_a_failed_task_not_yet_reported_is_ebusy_until_retrieved)
{
    static struct reuse r;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), quiet_handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&r.co, reuse_fn), NULL), 0);
    assert_trace("create_task on an unreported failure: busy\n"
                 "its result: application error\n"
                 "create_task once retrieved: ok\n"
                 "the new task: application error\n");
    assert_loop_usable();
}

struct stale {
    asyncio_coro co;
    asyncio_task *old;
};
static int stale_fn(asyncio_coro *co)
{
    struct stale *f = (struct stale *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_TASK(f->old));
    trace("await a task of a dropped loop: %s", asyncio_strerror(AWAIT_ERROR));
    trace("cancel it: %d", asyncio_task_cancel(f->old));
    ASYNC_END;
}

Test(misuse_catalogue, tasks_of_a_dropped_loop_cannot_be_awaited_or_cancelled)
{
    static struct sleeper s;
    static struct stale st;
    static asyncio_task old, t;
    cr_assert_eq(asyncio_create_task(&old, sleeper(&s, 1, 100)), 0);
    cr_assert_not_null(asyncio_new_event_loop());
    st.old = &old;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&st.co, stale_fn), NULL), 0);
    assert_trace("await a task of a dropped loop: invalid argument\ncancel it: 0\n");
    assert_loop_usable();
}

static int cancels_self_then_carries_on_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("cancel self: %s", asyncio_strerror(asyncio_task_cancel(asyncio_current_task(NULL))));
    AWAIT_SLEEP_MS(1); /* no cancellation was recorded */
    trace("still running");
    ASYNC_END;
}

Test(misuse_catalogue, cancel_self_is_eself_and_records_no_cancellation)
{
    static asyncio_coro c;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&c, cancels_self_then_carries_on_fn), NULL), 0);
    assert_trace("cancel self: can't cancel self\nstill running\n");
    assert_loop_usable();
}

struct overflow {
    asyncio_coro co;
    asyncio_wait_for_state wf;
    struct sleeper s;
};
static int overflow_fn(asyncio_coro *co)
{
    struct overflow *f = (struct overflow *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_SLEEP_MS((int64_t)ASYNCIO_SLEEP_MAX_MS + 1));
    trace("sleep_ms(max + 1): %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_SLEEP(3e9));
    trace("sleep(3e9 s): %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT_SLEEP(0.0 / 0.0));
    trace("sleep(nan): %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_wait_for(&f->wf, sleeper(&f->s, 1, 1), 1e12)));
    trace("wait_for(1e12 s): %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(misuse_catalogue, sleep_and_wait_for_overflow_are_eoverflow_and_the_loop_goes_on)
{
    static struct overflow o;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), quiet_handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&o.co, overflow_fn), NULL), 0);
    assert_trace("sleep_ms(max + 1): ticks interval overflow\n"
                 "sleep(3e9 s): ticks interval overflow\n"
                 "sleep(nan): ticks interval overflow\n"
                 "wait_for(1e12 s): ticks interval overflow\n");
    assert_loop_usable();
}

/* ------------------------------------------------------------------------ */
/* Streams: closed, never opened, NULL                                      */
/* ------------------------------------------------------------------------ */

struct streams {
    asyncio_coro co;
    asyncio_stream s, never;
    unsigned char buf[16];
    char rbuf[16], wbuf[16];
    int sv[2];
};
static int streams_fn(asyncio_coro *co)
{
    struct streams *f = (struct streams *)co;
    size_t len = 16;
    ASYNC_BEGIN(co);
    asyncio_stream_init(&f->never, NULL, 0, NULL, 0);
    ASYNC_TRY(AWAIT(asyncio_stream_read(&f->never, f->buf, 4)));
    trace("read, never opened: %s", asyncio_strerror(AWAIT_ERROR));
    trace("write, never opened: %s", asyncio_strerror(asyncio_stream_write(&f->never, "x", 1)));
    ASYNC_TRY(AWAIT(asyncio_stream_read(NULL, f->buf, 4)));
    trace("read NULL stream: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_stream_drain(NULL)));
    trace("drain NULL stream: %s", asyncio_strerror(AWAIT_ERROR));
    trace("attach -1: %s", asyncio_strerror(asyncio_stream_attach(&f->s, -1)));
    trace("attach NULL: %s", asyncio_strerror(asyncio_stream_attach(NULL, f->sv[0])));
    trace("attach: %s", asyncio_strerror(asyncio_stream_attach(&f->s, f->sv[0])));
    trace("attach again: %s", asyncio_strerror(asyncio_stream_attach(&f->s, f->sv[1])));
    ASYNC_TRY(AWAIT(asyncio_open_connection(&f->s, "127.0.0.1", 1, NULL)));
    trace("open_connection on an open stream: %s", asyncio_strerror(AWAIT_ERROR));
    trace("still open: %d", asyncio_stream_fd(&f->s) == f->sv[0]);
    trace("write NULL buffer: %s", asyncio_strerror(asyncio_stream_write(&f->s, NULL, 3)));
    ASYNC_TRY(AWAIT(asyncio_stream_read(&f->s, NULL, 3)));
    trace("read into NULL: %s", asyncio_strerror(AWAIT_ERROR));
    asyncio_stream_close(&f->s);
    asyncio_stream_close(&f->s); /* twice: a no-op */
    ASYNC_TRY(AWAIT(asyncio_stream_read(&f->s, f->buf, 4)));
    trace("read, closed: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_stream_readline(&f->s, f->buf, 4)));
    trace("readline, closed: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_stream_readexactly(&f->s, f->buf, 4)));
    trace("readexactly, closed: %s", asyncio_strerror(AWAIT_ERROR));
    trace("write, closed: %s", asyncio_strerror(asyncio_stream_write(&f->s, "x", 1)));
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&f->s)));
    trace("drain, closed: %s", asyncio_strerror(AWAIT_ERROR));
    trace("get_extra_info, closed: %s",
          asyncio_strerror(asyncio_stream_get_extra_info(&f->s, "peername", f->buf, &len)));
    trace("fd, closed: %d", asyncio_stream_fd(&f->s));
    ASYNC_TRY(AWAIT(asyncio_stream_wait_closed(&f->s)));
    trace("wait_closed, closed: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_open_connection(&f->never, "127.0.0.1", 70000, NULL)));
    trace("open_connection to port 70000: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_open_connection(&f->never, NULL, 80, NULL)));
    trace("open_connection to host NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(misuse_catalogue, closed_never_opened_and_null_streams_give_their_documented_errors)
{
    static struct streams st;
    static asyncio_task t;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, st.sv), 0);
    asyncio_stream_init(&st.s, st.rbuf, sizeof st.rbuf, st.wbuf, sizeof st.wbuf);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&st.co, streams_fn), NULL), 0);
    assert_trace("read, never opened: closed\n"
                 "write, never opened: closed\n"
                 "read NULL stream: invalid argument\n"
                 "drain NULL stream: invalid argument\n"
                 "attach -1: invalid argument\n"
                 "attach NULL: invalid argument\n"
                 "attach: ok\n"
                 "attach again: busy\n"
                 "open_connection on an open stream: busy\n"
                 "still open: 1\n"
                 "write NULL buffer: invalid argument\n"
                 "read into NULL: invalid argument\n"
                 "read, closed: closed\n"
                 "readline, closed: closed\n"
                 "readexactly, closed: closed\n"
                 "write, closed: closed\n"
                 "drain, closed: closed\n"
                 "get_extra_info, closed: closed\n"
                 "fd, closed: -1\n"
                 "wait_closed, closed: ok\n"
                 "open_connection to port 70000: invalid argument\n"
                 "open_connection to host NULL: invalid argument\n");
    cr_assert_eq(fcntl(st.sv[0], F_GETFD), -1, "close() closed the attached descriptor");
    close(st.sv[1]);
    assert_loop_usable();
}

/* ======================================================================== */
/* FINDINGS: regression tests. Each failed when its bug was found.          */
/* ======================================================================== */

/*
 * FINDING 1 (asyncio.h, asyncio_task_cancel): a cycle of tasks awaiting
 * each other (A awaits B, B awaits A: a deadlock the API does not refuse)
 * makes cancel() loop forever in its "forward to the innermost awaited
 * task" walk. Expected: cancel() returns (the cycle is broken by the
 * cancellation, or the await that closes the cycle fails with ECANTWAIT).
 */
struct cyc {
    asyncio_coro co;
    asyncio_task *other;
};
static int cyc_fn(asyncio_coro *co)
{
    struct cyc *f = (struct cyc *)co;
    ASYNC_BEGIN(co);
    YIELD; /* both tasks exist before either awaits */
    ASYNC_TRY(AWAIT_TASK(f->other));
    trace("awaited other: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}
struct cyc_main {
    asyncio_coro co;
    struct cyc a, b;
    asyncio_task ta, tb;
};
static int cyc_main_fn(asyncio_coro *co)
{
    struct cyc_main *f = (struct cyc_main *)co;
    ASYNC_BEGIN(co);
    f->a.other = &f->tb;
    f->b.other = &f->ta;
    asyncio_create_task(&f->ta, asyncio_coro_init(&f->a.co, cyc_fn));
    asyncio_create_task(&f->tb, asyncio_coro_init(&f->b.co, cyc_fn));
    AWAIT_SLEEP_MS(10);
    trace("cancel a: %d", asyncio_task_cancel(&f->ta)); /* hangs today */
    trace("cancel b: %d", asyncio_task_cancel(&f->tb));
    AWAIT_SLEEP_MS(10);
    trace("a done %d, b done %d", asyncio_task_done(&f->ta), asyncio_task_done(&f->tb));
    ASYNC_END;
}

Test(finding, cancel_of_a_task_in_an_await_cycle_returns, .timeout = 3)
{
    static struct cyc_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cyc_main_fn), NULL), 0);
    cr_assert(asyncio_task_done(&m.ta) && asyncio_task_done(&m.tb),
              "both tasks end once cancelled");
}

/*
 * FINDING 2 (asyncio.h, asyncio_task_live_ / asyncio_loop_reset_): the
 * loop generation is a uint8_t, so after 256 new_event_loop() calls a task
 * dropped while pending (state PENDING, stale queue links) counts as live
 * again: create_task() on its storage fails with EBUSY, and cancel() tries
 * to unlink it from queues that no longer exist (here: the timer heap of a
 * dropped loop), corrupting the new loop's heap. Expected: a dropped task is
 * never live (create_task 0, cancel 0), whatever the number of loops.
 */
Test(finding, a_task_dropped_256_loops_ago_is_not_live_again)
{
    static struct sleeper s1, s2, s3;
    static asyncio_task old, t, other;
    int i;
    /* `old` sleeps in the heap, next to `other`, when its loop is dropped. */
    cr_assert_eq(asyncio_create_task(&old, sleeper(&s1, 1, 50)), 0);
    cr_assert_eq(asyncio_create_task(&other, sleeper(&s3, 3, 60)), 0);
    cr_assert_eq(asyncio_run(&t, sleeper(&s2, 2, 1), NULL), 0);
    for (i = 0; i < 256; i++)
        cr_assert_not_null(asyncio_new_event_loop());
    cr_assert_eq(asyncio_task_cancel(&old), 0, "a task of a dropped loop is not pending");
    cr_assert_eq(asyncio_create_task(&old, sleeper(&s1, 1, 5)), 0, "its storage is free");
    cr_assert_eq(asyncio_loop_run_until_complete(asyncio_get_event_loop(), &old, NULL), 0);
}

/*
 * FINDING 3 (asyncio_stream.h, asyncio_stream_read_fn_): readline()
 * cancelled after it has moved read-ahead bytes into the caller's buffer
 * reports AWAIT_RESULT == 0: take_line_ advances op->got without updating
 * op->co.value, and the cancellation raised at AWAIT_IO goes through
 * ASYNCIO_RAISE rather than ASYNCIO_STREAM_FAIL_. The bytes are gone from
 * the stream and the caller is told none arrived. The same holds for
 * readall() after its first take from the read buffer. Expected:
 * AWAIT_RESULT == 4 (the "aaaa" stored), as the header documents
 * ("nothing received is lost"). fuzz/regressions/stream/ has the input.
 */
struct lost {
    asyncio_coro co, canceller;
    asyncio_task tc;
    asyncio_stream s;
    unsigned char buf[64];
    char rbuf[64];
    int sv[2];
};
static struct lost lost;
static asyncio_task lost_main;
static int lost_canceller_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(send(lost.sv[1], "aaaa", 4, 0), 4); /* no '\n' yet */
    AWAIT_SLEEP_MS(5);
    asyncio_task_cancel(&lost_main);
    ASYNC_END;
}
static int lost_fn(asyncio_coro *co)
{
    struct lost *f = (struct lost *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->tc, asyncio_coro_init(&f->canceller, lost_canceller_fn));
    memset(f->buf, 0, sizeof f->buf);
    ASYNC_TRY(AWAIT(asyncio_stream_readline(&f->s, f->buf, sizeof f->buf)));
    trace("readline: %s, %d bytes, buffer \"%s\"", asyncio_strerror(AWAIT_ERROR), (int)AWAIT_RESULT,
          (char *)f->buf);
    ASYNC_END;
}

Test(finding, readline_cancelled_after_read_ahead_reports_the_bytes_it_stored)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, lost.sv), 0);
    asyncio_stream_init(&lost.s, lost.rbuf, sizeof lost.rbuf, NULL, 0);
    cr_assert_eq(asyncio_stream_attach(&lost.s, lost.sv[0]), 0);
    cr_assert_eq(asyncio_run(&lost_main, asyncio_coro_init(&lost.co, lost_fn), NULL), 0);
    assert_trace("readline: cancelled, 4 bytes, buffer \"aaaa\"\n");
}

/*
 * FINDING 4 (asyncio_stream.h, asyncio_stream_read_fn_): readexactly(n)
 * after a readline() left m < n bytes in the read buffer returns at once
 * with value m and no error: the "bytes read ahead come first" branch
 * returns for every kind but readall. Expected: it waits for the other
 * n - m bytes (value n), or fails with EEOF at EOF.
 */
struct exact {
    asyncio_coro co;
    asyncio_stream s;
    unsigned char buf[64];
    char rbuf[64];
    int sv[2];
};
static int exact_fn(asyncio_coro *co)
{
    struct exact *f = (struct exact *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_stream_readline(&f->s, f->buf, sizeof f->buf));
    trace("readline: %d", (int)AWAIT_RESULT); /* "cd" stays in the read buffer */
    cr_assert_eq(send(f->sv[1], "efghijkl", 8, 0), 8);
    ASYNC_TRY(AWAIT(asyncio_stream_readexactly(&f->s, f->buf, 10)));
    trace("readexactly(10): %s, %d", asyncio_strerror(AWAIT_ERROR), (int)AWAIT_RESULT);
    ASYNC_END;
}

Test(finding, readexactly_after_a_readline_read_ahead_waits_for_all_n_bytes)
{
    static struct exact e;
    static asyncio_task t;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, e.sv), 0);
    cr_assert_eq(send(e.sv[1], "ab\ncd", 5, 0), 5);
    asyncio_stream_init(&e.s, e.rbuf, sizeof e.rbuf, NULL, 0);
    cr_assert_eq(asyncio_stream_attach(&e.s, e.sv[0]), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&e.co, exact_fn), NULL), 0);
    assert_trace("readline: 3\nreadexactly(10): ok, 10\n");
    asyncio_stream_close(&e.s);
    close(e.sv[1]);
}

/*
 * FINDING 5 (asyncio_stream.h, asyncio_stream_read_fn_): readall(cap)
 * whose `cap` is filled entirely from the read buffer returns success
 * (as if EOF had been reached) although more bytes follow; filled from
 * the socket it correctly fails with ENOBUFS. Expected: ENOBUFS with value
 * `cap` whenever the buffer fills before EOF.
 */
static int readall_fn(asyncio_coro *co)
{
    struct exact *f = (struct exact *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_stream_readall(&f->s, f->buf, 2)));
    trace("readall(2): %s, %d", asyncio_stream_strerror(AWAIT_ERROR), (int)AWAIT_RESULT);
    ASYNC_TRY(AWAIT(asyncio_stream_readall(&f->s, f->buf, 1)));
    trace("readall(1): %s, %d", asyncio_stream_strerror(AWAIT_ERROR), (int)AWAIT_RESULT);
    ASYNC_END;
}

Test(finding, readall_filled_from_the_read_buffer_before_eof_is_enobufs)
{
    static struct exact e;
    static asyncio_task t;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, e.sv), 0);
    cr_assert_eq(send(e.sv[1], "abcdef", 6, 0), 6);
    asyncio_stream_init(&e.s, e.rbuf, sizeof e.rbuf, NULL, 0);
    cr_assert_eq(asyncio_stream_attach(&e.s, e.sv[0]), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&e.co, readall_fn), NULL), 0);
    assert_trace("readall(2): No buffer space available, 2\n"
                 "readall(1): No buffer space available, 1\n");
    asyncio_stream_close(&e.s);
    close(e.sv[1]);
}

/*
 * FINDING 6 (asyncio.h, asyncio_wait_for_fn_ / asyncio_wait_for_runner_fn_,
 * found by fuzz_scheduler): when the task in wait_for is cancelled,
 * wait_for calls asyncio_task_cancel(&wf->runner), but the runner is
 * awaiting the inner task, so the cancel is forwarded to the inner task and
 * the runner itself lives on. When the inner task ends, the runner sees the
 * waiter in the heap, "not cancelled", and wakes it: the waiter, which
 * caught the cancellation and went on to an unrelated sleep, wakes at once
 * from that sleep with no error. Expected: the 500 ms sleep ends at 510.
 */
struct spurious {
    asyncio_coro co, inner;
    asyncio_task ti;
    asyncio_wait_for_state wf;
};
static int spurious_inner_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(1000);
    ASYNC_END;
}
static int spurious_fn(asyncio_coro *co)
{
    struct spurious *f = (struct spurious *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->ti, asyncio_coro_init(&f->inner, spurious_inner_fn));
    ASYNC_TRY(AWAIT(asyncio_wait_for_task_ms(&f->wf, &f->ti, 1000)));
    trace("%u: wait_for: %s", (unsigned)asyncio_ticks_ms(), asyncio_strerror(AWAIT_ERROR));
    AWAIT_SLEEP_MS(500);
    trace("%u: slept 500 ms", (unsigned)asyncio_ticks_ms());
    ASYNC_END;
}
struct spurious_main {
    asyncio_coro co;
    struct spurious s;
    asyncio_task t;
};
static int spurious_main_fn(asyncio_coro *co)
{
    struct spurious_main *f = (struct spurious_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t, asyncio_coro_init(&f->s.co, spurious_fn));
    AWAIT_SLEEP_MS(10);
    asyncio_task_cancel(&f->t);
    AWAIT_TASK(&f->t);
    ASYNC_END;
}

Test(finding, a_cancelled_wait_for_does_not_wake_its_task_from_a_later_sleep)
{
    static struct spurious_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, spurious_main_fn), NULL), 0);
    assert_trace("10: wait_for: cancelled\n510: slept 500 ms\n");
}
