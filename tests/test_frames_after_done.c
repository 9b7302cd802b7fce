/* SPDX-License-Identifier: MIT */
/*
 * The contract of ASYNCIO_BEGIN / ASYNCIO_END, held by every coroutine body
 * the library itself writes (the op frames of asyncio_event_wait & co.,
 * condition wait, gather, wait_for and its runner,
 * the stream and server frames): a finished frame called again returns the
 * error it finished with and leaves its value alone ("every later call says
 * how"); a frame whose resume point matches no await ends with ECORRUPT and
 * value 0; a frame found unwinding with EBREAK (what a `break` out of the
 * body's switch leaves) ends with EBREAK and value 0.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#include <sys/socket.h>
#include <unistd.h>

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(frames_after_done, .init = setup, .timeout = 10);

/* No await of any file sits on this line: a corrupted resume point. */
#define BOGUS_LINE 60000u

/* `co` finished with `err` and `value`: later calls say so and change
 * nothing; then a bogus resume point ends it with ECORRUPT, value 0. */
static void assert_finished_then_corrupted(asyncio_coro *co, int err, asyncio_value value)
{
    cr_assert_eq(co->line, ASYNCIO_LINE_DONE);
    cr_assert_eq(co->err, err, "finished with %d, expected %d", co->err, err);
    cr_assert_eq(co->value, value, "value %ld, expected %ld", (long)co->value, (long)value);
    cr_assert_eq(co->fn(co), err, "a finished frame called again");
    cr_assert_eq(co->fn(co), err, "and again");
    cr_assert_eq(co->value, value, "the value stays");
    cr_assert_eq(co->line, ASYNCIO_LINE_DONE);

    co->line = BOGUS_LINE;
    co->err = 0;
    co->value = 77;
    cr_assert_eq(co->fn(co), ASYNCIO_ECORRUPT, "an unknown resume point");
    cr_assert_eq(co->err, ASYNCIO_ECORRUPT);
    cr_assert_eq(co->value, 0);
    cr_assert_eq(co->line, ASYNCIO_LINE_DONE);
    cr_assert_eq(co->fn(co), ASYNCIO_ECORRUPT, "finished, corrupted: says so again");
}

/* A body without FINALLY found unwinding (line LEAVE) with EBREAK: ends
 * with EBREAK, value 0. */
static void assert_unwinding_ebreak_ends_with_value_0(asyncio_coro *co)
{
    co->line = ASYNCIO_LINE_LEAVE;
    co->err = ASYNCIO_EBREAK;
    co->value = 77;
    cr_assert_eq(co->fn(co), ASYNCIO_EBREAK);
    cr_assert_eq(co->value, 0);
    cr_assert_eq(co->line, ASYNCIO_LINE_DONE);
    cr_assert_eq(co->fn(co), ASYNCIO_EBREAK);
}

static void assert_every_later_call(asyncio_coro *co, int err, asyncio_value value)
{
    assert_finished_then_corrupted(co, err, value);
    assert_unwinding_ebreak_ends_with_value_0(co);
}

/* ------------------------------------------------------------------------ */
/* asyncio.h's op frames, condition wait, gather, wait_for                   */
/* ------------------------------------------------------------------------ */

static int pred_seven(void *arg)
{
    (void)arg;
    return 7;
}

static int returns_42_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(5);
    ASYNC_RETURN(42);
    ASYNC_END;
}

static int raises_eio_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RAISE(ASYNCIO_OSERROR(5));
    ASYNC_END;
}

struct core_main {
    asyncio_coro co;
    asyncio_op event_op, lock_op, flag_op, sleep_op, overflow_op, get_op, put_op, join_op, sem_op,
        isr_op;
    asyncio_event ev;
    asyncio_lock lock;
    asyncio_flag flag;
    asyncio_queue q;
    asyncio_value qbuf[2];
    asyncio_semaphore sem;
    asyncio_isr_queue isrq;
    asyncio_value isrbuf[4];
    asyncio_condition cond;
    asyncio_lock cond_lock;
    asyncio_condition_wait_state cw;
    asyncio_gather_state g;
    asyncio_wait_for_state wf, wf_err;
    asyncio_coro inner, inner_err;
};
static struct core_main cm;

static int core_main_fn(asyncio_coro *co)
{
    struct core_main *m = (struct core_main *)co;
    ASYNC_BEGIN(co);
    asyncio_event_set(&m->ev);
    AWAIT(asyncio_event_wait(&m->event_op, &m->ev));
    AWAIT(asyncio_lock_acquire(&m->lock_op, &m->lock));
    asyncio_lock_release(&m->lock);
    asyncio_flag_set(&m->flag);
    AWAIT(asyncio_flag_wait(&m->flag_op, &m->flag));
    AWAIT(asyncio_sleep_ms(&m->sleep_op, 3));
    ASYNC_TRY(AWAIT(asyncio_sleep_ms(&m->overflow_op, INT64_MAX)));
    cr_assert_eq(AWAIT_ERROR, ASYNCIO_EOVERFLOW);
    cr_assert_eq(asyncio_queue_put_nowait(&m->q, 11), 0);
    AWAIT(asyncio_queue_get(&m->get_op, &m->q));
    AWAIT(asyncio_queue_put(&m->put_op, &m->q, 12));
    cr_assert_eq(asyncio_queue_get_nowait(&m->q, NULL), 0);
    cr_assert_eq(asyncio_queue_task_done(&m->q), 0);
    cr_assert_eq(asyncio_queue_task_done(&m->q), 0);
    AWAIT(asyncio_queue_join(&m->join_op, &m->q));
    AWAIT(asyncio_semaphore_acquire(&m->sem_op, &m->sem));
    cr_assert_eq(asyncio_isr_queue_put(&m->isrq, 13), 0);
    AWAIT(asyncio_isr_queue_get(&m->isr_op, &m->isrq));
    AWAIT(asyncio_condition_wait_for(&m->cw, &m->cond, pred_seven, NULL));
    AWAIT(asyncio_gather(&m->g, NULL, 0, NULL, 0));
    AWAIT(asyncio_wait_for_ms(&m->wf, asyncio_coro_init(&m->inner, returns_42_fn), 100));
    ASYNC_TRY(AWAIT(
        asyncio_wait_for_ms(&m->wf_err, asyncio_coro_init(&m->inner_err, raises_eio_fn), 100)));
    cr_assert_eq(AWAIT_ERROR, ASYNCIO_OSERROR(5));
    AWAIT_SLEEP_MS(1); /* the runners end */
    ASYNC_END;
}

Test(frames_after_done,
     every_op_frame_of_asyncio_h_finished_says_how_and_a_bogus_resume_is_ecorrupt)
{
    static asyncio_task main_task;
    asyncio_event_init(&cm.ev);
    asyncio_lock_init(&cm.lock);
    asyncio_flag_init(&cm.flag);
    cr_assert_eq(asyncio_queue_init(&cm.q, cm.qbuf, 2), 0);
    asyncio_semaphore_init(&cm.sem, 1);
    cr_assert_eq(asyncio_isr_queue_init(&cm.isrq, cm.isrbuf, 4), 0);
    asyncio_lock_init(&cm.cond_lock);
    asyncio_condition_init(&cm.cond, &cm.cond_lock);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cm.co, core_main_fn), NULL), 0);

    assert_every_later_call(&cm.event_op.co, 0, 1);
    assert_every_later_call(&cm.lock_op.co, 0, 1);
    assert_every_later_call(&cm.flag_op.co, 0, 0);
    assert_every_later_call(&cm.sleep_op.co, 0, 0);
    assert_every_later_call(&cm.overflow_op.co, ASYNCIO_EOVERFLOW, 0);
    assert_every_later_call(&cm.get_op.co, 0, 11);
    assert_every_later_call(&cm.put_op.co, 0, 0);
    assert_every_later_call(&cm.join_op.co, 0, 0);
    assert_every_later_call(&cm.sem_op.co, 0, 1);
    assert_every_later_call(&cm.isr_op.co, 0, 13);
    assert_every_later_call(&cm.cw.co, 0, 7);
    assert_every_later_call(&cm.g.co, 0, 0);
    assert_finished_then_corrupted(&cm.wf.co, 0, 42); /* has a FINALLY */
    assert_finished_then_corrupted(&cm.wf_err.co, ASYNCIO_OSERROR(5), 0);
    assert_every_later_call(&cm.wf.runner_co, 0, 0);
    assert_every_later_call(&cm.wf_err.runner_co, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* asyncio_stream.h: the stream ops and the server's frames                  */
/* ------------------------------------------------------------------------ */

struct echo_handler {
    asyncio_coro co;
    asyncio_stream *s;
    char buf[16];
};
static struct echo_handler eh;
static asyncio_server_slot slot;
static char slot_rbuf[64], slot_wbuf[64];
static asyncio_server srv;

/* Echo until EOF. */
static int echo_handler_fn(asyncio_coro *co)
{
    struct echo_handler *h = (struct echo_handler *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT(asyncio_stream_read(h->s, h->buf, sizeof h->buf));
        if (AWAIT_RESULT == 0)
            ASYNC_RETURN(0);
        AWAIT(asyncio_stream_awrite(h->s, h->buf, (size_t)AWAIT_RESULT));
    }
    ASYNC_END;
}
static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    (void)user;
    eh.s = s;
    return asyncio_coro_init(&eh.co, echo_handler_fn);
}

struct stream_main {
    asyncio_coro co;
    asyncio_stream c;
    char rbuf[64], wbuf[64], got[8];
};
static struct stream_main sm;

static int stream_main_fn(asyncio_coro *co)
{
    struct stream_main *m = (struct stream_main *)co;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_server_set_timeouts(&srv, 1000, 0), 0); /* the reaper runs */
    AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 1, NULL));
    assert_every_later_call(&srv.start_co, 0, 0);

    AWAIT(asyncio_open_connection(&m->c, "127.0.0.1", asyncio_server_port(&srv), NULL));
    assert_finished_then_corrupted(&m->c.wop.co, 0, 0);
    cr_assert_eq(asyncio_stream_write(&m->c, "x", 1), 0);
    AWAIT(asyncio_stream_drain(&m->c));
    assert_every_later_call(&m->c.wop.co, 0, 0);
    AWAIT(asyncio_stream_awrite(&m->c, "yz", 2));
    assert_finished_then_corrupted(&m->c.wop.co, 0, 2);
    AWAIT(asyncio_stream_readexactly(&m->c, m->got, 3));
    cr_assert_eq(memcmp(m->got, "xyz", 3), 0);
    assert_finished_then_corrupted(&m->c.rop.co, 0, 3);
    asyncio_stream_close(&m->c);
    AWAIT_SLEEP_MS(10); /* the handler sees EOF, its slot ends */
    assert_finished_then_corrupted(&slot.wrap, 0, 0);

    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    assert_every_later_call(&srv.wait_co, 0, 0);
    AWAIT_SLEEP_MS(10);
    ASYNC_END;
}

Test(frames_after_done,
     every_stream_and_server_frame_finished_says_how_and_a_bogus_resume_is_ecorrupt)
{
    static asyncio_task main_task;
    asyncio_server_init(&srv, &slot, 1);
    asyncio_server_slot_init(&slot, slot_rbuf, sizeof slot_rbuf, slot_wbuf, sizeof slot_wbuf, NULL,
                             NULL);
    asyncio_stream_init(&sm.c, sm.rbuf, sizeof sm.rbuf, sm.wbuf, sizeof sm.wbuf);
    int r = asyncio_run(&main_task, asyncio_coro_init(&sm.co, stream_main_fn), NULL);
    cr_assert_eq(r, 0, "%s", asyncio_strerror(r));
    cr_assert_eq(srv.serve_co.line, ASYNCIO_LINE_DONE);
    assert_finished_then_corrupted(&srv.serve_co, 0, 0);
    assert_every_later_call(&srv.reap_co, ASYNCIO_ECANCELLED, 0);
}
