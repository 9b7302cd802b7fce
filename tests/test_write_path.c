/* SPDX-License-Identifier: MIT */
/*
 * The write path under backpressure (issue 21), byte for byte: partial
 * sends, compaction of the write buffer while a drain is half-way (the
 * buffer is malloc'd at its exact size, so ASan sees a copy past its end),
 * awrite through a tiny buffer with short transfers and "again", a stream
 * closed while its drain waits, and hard send errors (EPIPE) from write()
 * and drain() on a socket and on a pipe (no SIGPIPE).
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "memtransport.h"
#include "port_posix.h"
#include "trace.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void setup(void)
{
    asyncio_posix_virtual_time(1, 0);
    trace_len = 0;
    trace_buf[0] = '\0';
    cr_assert_not_null(asyncio_new_event_loop());
}
TestSuite(write_path, .init = setup, .timeout = 10);

static unsigned char pattern(size_t i) { return (unsigned char)((i * 167u + (i >> 7)) & 0xFF); }

static mem_end ma, mb;
static asyncio_stream st;
static unsigned char *wbuf; /* exactly WCAP bytes on the heap */
#define WCAP 64
static unsigned char src[20000];
static asyncio_task drain_task, main_task;

static void open_stream(asyncio_transport *tr)
{
    size_t i;
    for (i = 0; i < sizeof src; i++)
        src[i] = pattern(i);
    wbuf = malloc(WCAP);
    cr_assert_not_null(wbuf);
    asyncio_stream_init(&st, NULL, 0, wbuf, WCAP);
    cr_assert_eq(asyncio_stream_open(&st, tr), 0);
}

/* Take n bytes out of B's ring (what a reader would do). */
static size_t consume(unsigned char *dst, size_t n)
{
    int r = mem_read(&mb.base, dst, n);
    return r > 0 ? (size_t)r : 0;
}

static struct drainer {
    asyncio_coro co;
    int err;
} dr;
static int drainer_fn(asyncio_coro *co)
{
    struct drainer *f = (struct drainer *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&st)));
    f->err = AWAIT_ERROR;
    trace("drain: %s", asyncio_stream_strerror(AWAIT_ERROR));
    ASYNC_END;
}

/* ---- a write while a drain is half-way compacts the buffer ---- */
#define PREFILL (MEM_RING - 20)
static unsigned char got[MEM_RING * 2];
static int compaction_main(asyncio_coro *co)
{
    static unsigned char junk[MEM_RING];
    static size_t n;
    ASYNC_BEGIN(co);
    /* The peer's ring has room for 20 bytes: write() sends 20 of 40 at once
     * and queues the other 20. */
    mb.len = PREFILL;
    cr_assert_eq(asyncio_stream_write(&st, src, 40), 0);
    cr_assert_eq(ma.written, 20);
    cr_assert_eq(st.wlen, 20);
    cr_assert_eq(asyncio_create_task(&drain_task, asyncio_coro_init(&dr.co, drainer_fn)), 0);
    YIELD; /* the drain waits: the ring is full */
    cr_assert_eq(consume(junk, 10), 10);
    YIELD; /* the drain sends 10 of its 20 and waits again */
    YIELD;
    cr_assert_eq(ma.written, 30);
    cr_assert_eq(st.wpos, 10, "half of the queue is sent");
    cr_assert_eq(st.wlen, 10);
    /* 54 more bytes fit only if the 10 unsent ones move to the front. */
    cr_assert_eq(asyncio_stream_write(&st, src + 40, 54), 0);
    cr_assert_eq(st.wpos, 0);
    cr_assert_eq(st.wlen, 64);
    cr_assert_eq(asyncio_stream_write(&st, src + 94, 1), ASYNCIO_OSERROR(ENOBUFS), "full");
    /* The reader empties the ring as the drain fills it. */
    n = 0;
    while (!asyncio_task_done(&drain_task)) {
        n += consume(got + n, sizeof got - n);
        YIELD;
    }
    n += consume(got + n, sizeof got - n);
    cr_assert_eq(dr.err, 0);
    cr_assert_eq(n, PREFILL - 10 + 94);
    for (n = 0; n < 94; n++)
        cr_assert_eq(got[PREFILL - 10 + n], pattern(n), "byte %zu", n);
    cr_assert_eq(ma.written, 94, "nothing sent twice");
    ASYNC_END;
}

Test(write_path, a_write_during_a_half_done_drain_compacts_the_buffer_and_keeps_every_byte)
{
    static asyncio_coro co;
    mem_pair(&ma, &mb);
    open_stream(&ma.base);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, compaction_main), NULL), 0);
    assert_trace("drain: ok\n");
    asyncio_stream_close(&st);
    free(wbuf);
}

/* ---- awrite through a 64-byte buffer, short transfers and "again" ---- */
static struct reader {
    asyncio_coro co;
    asyncio_stream s;
    unsigned char rbuf[32], buf[50];
    size_t done, bad;
    int err;
} rd;
static int reader_fn(asyncio_coro *co)
{
    struct reader *f = (struct reader *)co;
    size_t i;
    ASYNC_BEGIN(co);
    for (;;) {
        ASYNC_TRY(AWAIT(asyncio_stream_read(&f->s, f->buf, sizeof f->buf)));
        if (AWAIT_ERROR || AWAIT_RESULT == 0) {
            f->err = AWAIT_ERROR;
            break;
        }
        for (i = 0; i < (size_t)AWAIT_RESULT; i++)
            f->bad += f->buf[i] != pattern(f->done + i);
        f->done += (size_t)AWAIT_RESULT;
    }
    ASYNC_END;
}
static asyncio_task reader_task;
static int awrite_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&reader_task, asyncio_coro_init(&rd.co, reader_fn)), 0);
    AWAIT(asyncio_stream_awrite(&st, src, sizeof src));
    cr_assert_eq(AWAIT_RESULT, (asyncio_value)sizeof src);
    asyncio_stream_close(&st);
    AWAIT_TASK(&reader_task);
    ASYNC_END;
}

Test(write_path, awrite_through_a_tiny_buffer_with_short_sends_and_again_moves_every_byte_once)
{
    static asyncio_coro co;
    mem_pair(&ma, &mb);
    ma.max_io = 5;
    ma.again_every = 3;
    mb.max_io = 3;
    mb.again_every = 4;
    open_stream(&ma.base);
    memset(&rd, 0, sizeof rd);
    asyncio_stream_init(&rd.s, rd.rbuf, sizeof rd.rbuf, NULL, 0);
    cr_assert_eq(asyncio_stream_open(&rd.s, &mb.base), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, awrite_main), NULL), 0);
    cr_assert_eq(rd.err, 0, "%s", asyncio_strerror(rd.err));
    cr_assert_eq(rd.done, sizeof src);
    cr_assert_eq(rd.bad, 0);
    cr_assert_eq(ma.written, sizeof src, "nothing sent twice");
    free(wbuf);
}

/* ---- a stream closed while its drain waits ---- */
static int closed_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    mb.len = MEM_RING; /* nothing can go out */
    cr_assert_eq(asyncio_stream_write(&st, src, 30), 0);
    cr_assert_eq(asyncio_create_task(&drain_task, asyncio_coro_init(&dr.co, drainer_fn)), 0);
    YIELD;
    YIELD;
    cr_assert_not(asyncio_task_done(&drain_task), "the drain waits for room");
    trace("close");
    asyncio_stream_close(&st);
    mb.len = 0; /* room again: a drain that went on would send */
    AWAIT_TASK(&drain_task);
    trace("sent after close: %zu", ma.written);
    ASYNC_END;
}

Test(write_path, a_stream_closed_while_its_drain_waits_ends_the_drain_with_eclosed)
{
    static asyncio_coro co;
    mem_pair(&ma, &mb);
    open_stream(&ma.base);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, closed_main), NULL), 0);
    assert_trace("close\n"
                 "drain: closed\n"
                 "sent after close: 0\n");
    cr_assert_eq(dr.err, ASYNCIO_ECLOSED);
    free(wbuf);
}

/* ---- hard send errors on real descriptors ---- */
static int sv[2];
static int epipe_main(asyncio_coro *co)
{
    static int r;
    ASYNC_BEGIN(co);
    close(sv[1]); /* the peer is gone */
    r = asyncio_stream_write(&st, src, 10);
    trace("write: %s", asyncio_stream_strerror(r));
    cr_assert_eq(r, ASYNCIO_OSERROR(EPIPE));
    cr_assert_eq(st.wlen, 0, "nothing queued after a failed send");
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&st)));
    trace("drain with nothing queued: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(write_path, write_to_a_socket_whose_peer_closed_is_epipe_and_queues_nothing)
{
    static asyncio_coro co;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    asyncio_stream_init(&st, NULL, 0, (wbuf = malloc(WCAP)), WCAP);
    cr_assert_eq(asyncio_stream_attach(&st, sv[0]), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, epipe_main), NULL), 0);
    assert_trace("write: Broken pipe\n"
                 "drain with nothing queued: ok\n");
    asyncio_stream_close(&st);
    free(wbuf);
}

/* A drain waiting on a full socket when the peer goes away. */
static int drain_epipe_main(asyncio_coro *co)
{
    static int r;
    ASYNC_BEGIN(co);
    /* Fill the socket until write() has to queue. */
    do
        r = asyncio_stream_write(&st, src, WCAP);
    while (r == 0 && st.wlen == 0);
    cr_assert_eq(r, 0);
    cr_assert_gt(st.wlen, 0);
    cr_assert_eq(asyncio_create_task(&drain_task, asyncio_coro_init(&dr.co, drainer_fn)), 0);
    YIELD;
    cr_assert_not(asyncio_task_done(&drain_task));
    trace("peer closes");
    close(sv[1]);
    AWAIT_TASK(&drain_task);
    ASYNC_END;
}

Test(write_path, a_drain_waiting_on_a_full_socket_fails_with_epipe_when_the_peer_closes)
{
    static asyncio_coro co;
    int snd = 4096;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd), 0);
    asyncio_stream_init(&st, NULL, 0, (wbuf = malloc(WCAP)), WCAP);
    cr_assert_eq(asyncio_stream_attach(&st, sv[0]), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, drain_epipe_main), NULL), 0);
    assert_trace("peer closes\n"
                 "drain: Broken pipe\n");
    cr_assert_eq(dr.err, ASYNCIO_OSERROR(EPIPE));
    asyncio_stream_close(&st);
    free(wbuf);
}

/* A pipe whose reader is gone: EPIPE, not a SIGPIPE that kills the process. */
static int pipe_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("write: %s", asyncio_stream_strerror(asyncio_stream_write(&st, src, 10)));
    ASYNC_END;
}

Test(write_path, write_to_a_pipe_whose_reader_closed_is_epipe_without_sigpipe)
{
    static asyncio_coro co;
    int in[2], out[2];
    signal(SIGPIPE, SIG_DFL);
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    close(out[0]);
    asyncio_stream_init(&st, NULL, 0, (wbuf = malloc(WCAP)), WCAP);
    cr_assert_eq(asyncio_stream_attach_fds(&st, in[0], out[1]), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, pipe_main), NULL), 0);
    assert_trace("write: Broken pipe\n");
    asyncio_stream_close(&st);
    close(in[1]);
    free(wbuf);
}
