/* SPDX-License-Identifier: MIT */
/* Streams over loopback TCP: the "Streams" table of the conformance list.
 * Server and client live in one process and one loop; ports are picked by
 * the kernel (port 0) so tests can run in parallel. */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(stream, .init = setup, .timeout = 20);

/* ---- a server fixture: 4 slots, one handler body per test ---- */
struct handler {
    asyncio_coro co;
    asyncio_stream *s;
    int i, n;
    unsigned char buf[256];
    char rbuf[64], wbuf[256];
};
static struct handler handlers[4];
static asyncio_server_slot slots[4];
static asyncio_server srv;
static asyncio_fn handler_body;
static asyncio_event done_ev;

static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    struct handler *h = (struct handler *)user;
    h->s = s;
    return asyncio_coro_init(&h->co, handler_body);
}

static void server_setup(asyncio_fn body)
{
    int i;
    handler_body = body;
    asyncio_server_init(&srv, slots, 4);
    for (i = 0; i < 4; i++)
        asyncio_server_slot_init(&slots[i], handlers[i].rbuf, sizeof handlers[i].rbuf,
                                 handlers[i].wbuf, sizeof handlers[i].wbuf, &handlers[i], NULL);
    asyncio_event_init(&done_ev);
}

#define HANDLER(name) static int name(asyncio_coro *co)
#define H ((struct handler *)co)

/* The client side: one stream and its buffers. */
struct client {
    asyncio_coro co;
    asyncio_stream s;
    int n, i, port;
    unsigned char buf[256];
    char rbuf[64], wbuf[256];
};
static struct client cl;
static asyncio_task main_task;

static int run_main(asyncio_fn fn)
{
    asyncio_value v = 0;
    asyncio_stream_init(&cl.s, cl.rbuf, sizeof cl.rbuf, cl.wbuf, sizeof cl.wbuf);
    return asyncio_run(&main_task, asyncio_coro_init(&cl.co, fn), &v);
}
#define C ((struct client *)co)

/* Start the fixture server on 127.0.0.1, port chosen by the kernel. */
#define START_SERVER()                                                                             \
    do {                                                                                           \
        AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, NULL));                    \
        C->port = asyncio_server_port(&srv);                                                       \
    } while (0)
#define CONNECT() AWAIT(asyncio_open_connection(&C->s, "127.0.0.1", C->port, NULL))
#define STOP_SERVER()                                                                              \
    do {                                                                                           \
        asyncio_server_close(&srv);                                                                \
        AWAIT(asyncio_server_wait_closed(&srv));                                                   \
    } while (0)

/* ======================================================================== */
/* loopback: the pinned order of client and handler events                  */
/* ======================================================================== */

HANDLER(loopback_handler)
{
    ASYNC_BEGIN(co);
    trace("handler reading");
    AWAIT_SLEEP_MS(100);
    AWAIT(asyncio_stream_readexactly(H->s, H->buf, 100));
    trace("handler got %d bytes", (int)AWAIT_RESULT);
    trace("handler writing");
    cr_assert_eq(asyncio_stream_write(H->s, H->buf, 100), 0);
    AWAIT(asyncio_stream_drain(H->s));
    trace("handler closing");
    asyncio_stream_close(H->s);
    AWAIT(asyncio_stream_wait_closed(H->s));
    trace("handler closed");
    ASYNC_END;
}

static int loopback_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("create server");
    START_SERVER();
    trace("server started");
    trace("client open_connection");
    CONNECT();
    memset(C->buf, 'A', 100);
    trace("client writing");
    cr_assert_eq(asyncio_stream_write(&C->s, C->buf, 100), 0);
    AWAIT(asyncio_stream_drain(&C->s));
    AWAIT_SLEEP_MS(100);
    trace("client reading");
    memset(C->buf, 0, sizeof C->buf);
    AWAIT(asyncio_stream_readexactly(&C->s, C->buf, 100));
    trace("client got %d bytes", (int)AWAIT_RESULT);
    for (C->i = 0; C->i < 100; C->i++)
        cr_assert_eq(C->buf[C->i], 'A');
    trace("client closing");
    asyncio_stream_close(&C->s);
    AWAIT(asyncio_stream_wait_closed(&C->s));
    trace("client closed");
    ASYNC_FINALLY; /* async with server: */
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    trace("server closed");
    ASYNC_END;
}

Test(stream, loopback_echo_in_pinned_order)
{
    server_setup(loopback_handler);
    cr_assert_eq(run_main(loopback_main), 0);
    assert_trace("create server\nserver started\nclient open_connection\nclient writing\n"
                 "handler reading\nclient reading\nhandler got 100 bytes\nhandler writing\n"
                 "handler closing\nhandler closed\nclient got 100 bytes\nclient closing\n"
                 "client closed\nserver closed\n");
    cr_assert_eq(asyncio_ticks_ms(), 100, "the two 100 ms sleeps overlap");
}

/* ======================================================================== */
/* start_server                                                              */
/* ======================================================================== */

static asyncio_server srv2;
static struct server_task {
    asyncio_coro co;
    asyncio_server srv;
    int n;
} st;
static asyncio_task st_task;

static int server_task_fn(asyncio_coro *co)
{
    struct server_task *f = (struct server_task *)co;
    ASYNC_BEGIN(co);
    trace("create task server %d", f->n);
    AWAIT(asyncio_start_server(&f->srv, NULL, "127.0.0.1", 0, 5, NULL));
    AWAIT(asyncio_server_wait_closed(&f->srv));
    trace("task finished"); /* unreachable */
    ASYNC_END;
}

static int start_server_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("create server1");
    START_SERVER();
    trace("create server2");
    asyncio_server_init(&srv2, NULL, 0);
    ASYNC_TRY(AWAIT(asyncio_start_server(&srv2, NULL, "127.0.0.1", C->port, 5, NULL)));
    trace("server2: %s", AWAIT_ERROR == ASYNCIO_OSERROR(EADDRINUSE) ? "EADDRINUSE" : "?");
    trace("sleep");
    YIELD;
    STOP_SERVER();
    cr_assert_eq(asyncio_server_port(&srv), ASYNCIO_ECLOSED);

    /* The port is free again: close + wait_closed succeed, no cancellation. */
    trace("create server4");
    AWAIT(asyncio_start_server(&srv, NULL, "127.0.0.1", C->port, 5, NULL));
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    trace("server4 closed");

    /* Cancelling a task inside start_server / wait_closed. */
    for (C->n = 0; C->n < 5; C->n++) {
        trace("sleep %d", C->n);
        st.n = C->n;
        asyncio_server_init(&st.srv, NULL, 0);
        cr_assert_eq(asyncio_create_task(&st_task, asyncio_coro_init(&st.co, server_task_fn)), 0);
        for (C->i = 0; C->i < C->n; C->i++)
            YIELD;
        cr_assert_eq(asyncio_task_cancel(&st_task), 1);
        ASYNC_TRY(AWAIT_TASK(&st_task));
        trace("%s", AWAIT_ERROR == ASYNCIO_ECANCELLED ? "CancelledError" : "?");
        cr_assert(st.srv.io.fd < 0, "the listening socket is closed");
    }
    trace("done");
    ASYNC_END;
}

Test(stream, start_server_addrinuse_close_and_cancellation)
{
    server_setup(NULL);
    cr_assert_eq(run_main(start_server_main), 0);
    assert_trace("create server1\ncreate server2\nserver2: EADDRINUSE\nsleep\ncreate server4\n"
                 "server4 closed\nsleep 0\nCancelledError\nsleep 1\ncreate task server 1\n"
                 "CancelledError\nsleep 2\ncreate task server 2\nCancelledError\nsleep 3\n"
                 "create task server 3\nCancelledError\nsleep 4\ncreate task server 4\n"
                 "CancelledError\ndone\n");
}

/* async with server: an error in the body still closes the server. */
static int scoped_body(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    ASYNC_RAISE(ASYNCIO_OSERROR(EIO));
    ASYNC_FINALLY;
    trace("closing on %d", ASYNC_ERROR);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(stream, scoped_server_closes_when_the_body_fails)
{
    server_setup(NULL);
    cr_assert_eq(run_main(scoped_body), ASYNCIO_OSERROR(EIO));
    assert_trace("closing on -5\n");
    cr_assert_eq(srv.io.fd, -1);
}

/* ======================================================================== */
/* cancel_stream: cancelling a task blocked in read()                       */
/* ======================================================================== */

static asyncio_task reader_task;
static struct reader {
    asyncio_coro co;
    asyncio_stream *s;
    unsigned char buf[8];
} rd;

static int reader_fn(asyncio_coro *co)
{
    struct reader *f = (struct reader *)co;
    ASYNC_BEGIN(co);
    trace("reader reading");
    ASYNC_TRY(AWAIT(asyncio_stream_read(f->s, f->buf, sizeof f->buf)));
    trace("reader: %s, %d bytes", asyncio_stream_strerror(AWAIT_ERROR), (int)AWAIT_RESULT);
    ASYNC_RAISE(AWAIT_ERROR);
    ASYNC_END;
}

HANDLER(late_writer)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(50);
    cr_assert_eq(asyncio_stream_write(H->s, "late", 4), 0);
    AWAIT(asyncio_stream_drain(H->s));
    AWAIT_EVENT(&done_ev);
    ASYNC_END;
}

static int cancel_stream_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    rd.s = &C->s;
    asyncio_create_task(&reader_task, asyncio_coro_init(&rd.co, reader_fn));
    AWAIT_SLEEP_MS(10);
    trace("cancel: %d", asyncio_task_cancel(&reader_task));
    ASYNC_TRY(AWAIT_TASK(&reader_task));
    trace("reader task: %s", asyncio_stream_strerror(AWAIT_ERROR));
    /* The stream is still consistent: the next read gets the data. */
    AWAIT(asyncio_stream_read(&C->s, C->buf, sizeof C->buf));
    trace("read %.*s at %u", (int)AWAIT_RESULT, (const char *)C->buf, asyncio_ticks_ms());
    asyncio_event_set(&done_ev);
    asyncio_stream_close(&C->s);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, cancel_a_task_blocked_in_read)
{
    server_setup(late_writer);
    cr_assert_eq(run_main(cancel_stream_main), 0);
    assert_trace("reader reading\ncancel: 1\nreader: cancelled, 0 bytes\n"
                 "reader task: cancelled\nread late at 50\n");
}

/* ======================================================================== */
/* tcp_client_rst: a peer reset makes read() fail with ECONNRESET           */
/* ======================================================================== */

HANDLER(rst_handler)
{
    ASYNC_BEGIN(co);
    AWAIT(asyncio_stream_read(H->s, H->buf, 10));
    trace("handler read %.*s", (int)AWAIT_RESULT, (const char *)H->buf);
    AWAIT_SLEEP_MS(200); /* the client drops the connection meanwhile */
    /* Linux still hands out the bytes that arrived before the reset. */
    for (;;) {
        ASYNC_TRY(AWAIT(asyncio_stream_read(H->s, H->buf, 100)));
        if (AWAIT_ERROR || AWAIT_RESULT == 0)
            break;
        trace("handler read %d bytes", (int)AWAIT_RESULT);
    }
    trace("handler: %s", AWAIT_ERROR == ASYNCIO_OSERROR(ECONNRESET)
                             ? "OSError ECONNRESET"
                             : asyncio_stream_strerror(AWAIT_ERROR));
    asyncio_event_set(&done_ev);
    ASYNC_END;
}

static int rst_main(asyncio_coro *co)
{
    struct linger lg;
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    cr_assert_eq(asyncio_stream_write(&C->s, "GET / HTTP/1.0\r\n\r\n", 18), 0);
    AWAIT(asyncio_stream_drain(&C->s));
    AWAIT_SLEEP_MS(100);
    lg.l_onoff = 1;
    lg.l_linger = 0; /* close() sends a TCP RST */
    setsockopt(asyncio_stream_fd(&C->s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    asyncio_stream_close(&C->s);
    AWAIT_EVENT(&done_ev);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, tcp_client_rst_gives_econnreset)
{
    server_setup(rst_handler);
    cr_assert_eq(run_main(rst_main), 0);
    assert_trace("handler read GET / HTTP\nhandler read 8 bytes\nhandler: OSError ECONNRESET\n");
}

/* ======================================================================== */
/* tcp_close_write                                                          */
/* ======================================================================== */

HANDLER(close_write_handler)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_stream_write(H->s, "x", 1), 0);
    AWAIT(asyncio_stream_drain(H->s));
    AWAIT(asyncio_stream_read(H->s, H->buf, 100));
    trace("server read: %d bytes", (int)AWAIT_RESULT);
    trace("server close");
    asyncio_stream_close(H->s);
    AWAIT(asyncio_stream_wait_closed(H->s));
    trace("server done");
    asyncio_event_set(&done_ev);
    ASYNC_END;
}

static int close_write_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    AWAIT(asyncio_stream_read(&C->s, C->buf, 1));
    trace("client read: %.*s", (int)AWAIT_RESULT, (const char *)C->buf);
    trace("client close");
    asyncio_stream_close(&C->s);
    AWAIT(asyncio_stream_wait_closed(&C->s));
    trace("client write");
    trace("write: %s", asyncio_stream_strerror(asyncio_stream_write(&C->s, "x", 1)));
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&C->s)));
    trace("drain: %s", asyncio_stream_strerror(AWAIT_ERROR));
    AWAIT_EVENT(&done_ev);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, tcp_close_write_read_gives_0_and_write_after_close_fails)
{
    server_setup(close_write_handler);
    cr_assert_eq(run_main(close_write_main), 0);
    assert_trace("client read: x\nclient close\nclient write\nwrite: closed\ndrain: closed\n"
                 "server read: 0 bytes\nserver close\nserver done\n");
}

/* ======================================================================== */
/* tcp_readall / tcp_readexactly / tcp_readinto: a writer with a pause      */
/* ======================================================================== */

static const char *split_parts[5]; /* NULL-terminated: at most four parts */
HANDLER(split_writer)
{
    ASYNC_BEGIN(co);
    for (H->i = 0; split_parts[H->i]; H->i++) {
        cr_assert_eq(asyncio_stream_write(H->s, split_parts[H->i], strlen(split_parts[H->i])), 0);
        AWAIT(asyncio_stream_drain(H->s));
        if (H->i == 0)
            AWAIT_SLEEP_MS(1000); /* the client must wait for the next byte */
    }
    trace("close");
    asyncio_stream_close(H->s);
    AWAIT(asyncio_stream_wait_closed(H->s));
    trace("done");
    ASYNC_END;
}

static int readall_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    AWAIT(asyncio_stream_readall(&C->s, C->buf, sizeof C->buf));
    trace("read(-1): %.*s at %u", (int)AWAIT_RESULT, (const char *)C->buf, asyncio_ticks_ms());
    AWAIT(asyncio_stream_readall(&C->s, C->buf, sizeof C->buf));
    trace("read(-1): %d bytes", (int)AWAIT_RESULT);
    AWAIT(asyncio_stream_read(&C->s, C->buf, 1));
    trace("read(1): %d bytes", (int)AWAIT_RESULT);
    asyncio_stream_close(&C->s);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, tcp_readall_until_eof_across_delayed_writes)
{
    static const char *parts[] = {"a", "b", "c", NULL};
    memcpy(split_parts, parts, sizeof parts);
    server_setup(split_writer);
    cr_assert_eq(run_main(readall_main), 0);
    assert_trace("close\ndone\nread(-1): abc at 1000\nread(-1): 0 bytes\nread(1): 0 bytes\n");
}

static int readall_small_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    ASYNC_TRY(AWAIT(asyncio_stream_readall(&C->s, C->buf, 2)));
    trace("read(-1) into 2: %s, %.*s", asyncio_stream_strerror(AWAIT_ERROR), (int)AWAIT_RESULT,
          (const char *)C->buf);
    AWAIT(asyncio_stream_readall(&C->s, C->buf, 1)); /* exactly what is left, then EOF */
    trace("rest: %.*s", (int)AWAIT_RESULT, (const char *)C->buf);
    asyncio_stream_close(&C->s);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, readall_reports_a_full_buffer_without_losing_bytes)
{
    static const char *parts[] = {"a", "b", "c", NULL};
    memcpy(split_parts, parts, sizeof parts);
    server_setup(split_writer);
    cr_assert_eq(run_main(readall_small_main), 0);
    assert_trace("close\ndone\nread(-1) into 2: No buffer space available, ab\nrest: c\n");
}

static int readexactly_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    AWAIT(asyncio_stream_readexactly(&C->s, C->buf, 2));
    trace("%.*s at %u", (int)AWAIT_RESULT, (const char *)C->buf, asyncio_ticks_ms());
    AWAIT(asyncio_stream_readexactly(&C->s, C->buf, 0));
    trace("readexactly(0): %d bytes", (int)AWAIT_RESULT);
    AWAIT(asyncio_stream_readexactly(&C->s, C->buf, 1));
    trace("%.*s", (int)AWAIT_RESULT, (const char *)C->buf);
    memset(C->buf, 0, sizeof C->buf);
    ASYNC_TRY(AWAIT(asyncio_stream_readexactly(&C->s, C->buf, 2)));
    trace("%s, partial %d: %.*s", AWAIT_ERROR == ASYNCIO_EEOF ? "EOFError" : "?", (int)AWAIT_RESULT,
          (int)AWAIT_RESULT, (const char *)C->buf);
    AWAIT(asyncio_stream_readexactly(&C->s, C->buf, 0));
    trace("readexactly(0): %d bytes", (int)AWAIT_RESULT);
    asyncio_stream_close(&C->s);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, tcp_readexactly_split_zero_and_short_read_at_eof)
{
    static const char *parts[] = {"a", "b", "c", "d"};
    memcpy(split_parts, parts, sizeof parts);
    server_setup(split_writer);
    split_parts[3] = "d";
    cr_assert_eq(run_main(readexactly_main), 0);
    assert_trace("ab at 1000\nreadexactly(0): 0 bytes\nc\nclose\ndone\n"
                 "EOFError, partial 1: d\nreadexactly(0): 0 bytes\n");
}

static int readinto_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    AWAIT_SLEEP_MS(1); /* let both writes arrive */
    AWAIT(asyncio_stream_readinto(&C->s, C->buf, 2));
    trace("%d: %.*s", (int)AWAIT_RESULT, (int)AWAIT_RESULT, (const char *)C->buf);
    AWAIT(asyncio_stream_readinto(&C->s, C->buf, 2));
    trace("%d: %.*s", (int)AWAIT_RESULT, (int)AWAIT_RESULT, (const char *)C->buf);
    ASYNC_TRY(AWAIT(asyncio_stream_readinto(&C->s, NULL, 5)));
    trace("NULL buffer: %s", asyncio_stream_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_stream_readinto(&C->s, C->buf, 0)));
    trace("empty buffer: %s", asyncio_stream_strerror(AWAIT_ERROR));
    asyncio_stream_close(&C->s);
    STOP_SERVER();
    ASYNC_END;
}

HANDLER(ab_c_writer)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_stream_write(H->s, "ab", 2), 0);
    AWAIT(asyncio_stream_drain(H->s));
    cr_assert_eq(asyncio_stream_write(H->s, "c", 1), 0);
    AWAIT(asyncio_stream_drain(H->s));
    trace("close");
    asyncio_stream_close(H->s);
    trace("done");
    ASYNC_END;
}

Test(stream, tcp_readinto_counts_and_rejects_bad_buffers)
{
    server_setup(ab_c_writer);
    cr_assert_eq(run_main(readinto_main), 0);
    assert_trace("close\ndone\n2: ab\n1: c\nNULL buffer: invalid argument\n"
                 "empty buffer: invalid argument\n");
}

/* ======================================================================== */
/* tcp_read_headers: readline() until the empty line, then the body          */
/* ======================================================================== */

HANDLER(headers_handler)
{
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT(asyncio_stream_readline(H->s, H->buf, sizeof H->buf));
        H->n = (int)AWAIT_RESULT;
        if (H->n == 0 || (H->n == 2 && H->buf[0] == '\r'))
            break;
        trace("header %.*s", H->n - 2, (const char *)H->buf);
    }
    AWAIT(asyncio_stream_readexactly(H->s, H->buf, 4));
    trace("body %.4s", (const char *)H->buf);
    AWAIT(asyncio_stream_readline(H->s, H->buf, sizeof H->buf));
    trace("last line without newline: %.*s", (int)AWAIT_RESULT, (const char *)H->buf);
    AWAIT(asyncio_stream_readline(H->s, H->buf, sizeof H->buf));
    trace("eof: %d", (int)AWAIT_RESULT);
    asyncio_event_set(&done_ev);
    ASYNC_END;
}

static int headers_main(asyncio_coro *co)
{
    static const char req[] = "GET / HTTP/1.0\r\nHost: example\r\nAccept: */*\r\n"
                              "X-Long: 0123456789012345678901234567890123456789"
                              "0123456789012345678901234567890123456789\r\n\r\nBODYtail";
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    /* In two pieces, the cut inside a line. */
    cr_assert_eq(asyncio_stream_write(&C->s, req, 20), 0);
    AWAIT(asyncio_stream_drain(&C->s));
    AWAIT_SLEEP_MS(10);
    cr_assert_eq(asyncio_stream_write(&C->s, req + 20, sizeof req - 1 - 20), 0);
    AWAIT(asyncio_stream_drain(&C->s));
    asyncio_stream_close(&C->s);
    AWAIT_EVENT(&done_ev);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, tcp_read_headers_with_readline)
{
    server_setup(headers_handler);
    cr_assert_eq(run_main(headers_main), 0);
    assert_trace("header GET / HTTP/1.0\nheader Host: example\nheader Accept: */*\n"
                 "header X-Long: 0123456789012345678901234567890123456789"
                 "0123456789012345678901234567890123456789\n"
                 "body BODY\nlast line without newline: tail\neof: 0\n");
}

/* ======================================================================== */
/* tcp_server_client: echo and peername                                     */
/* ======================================================================== */

static struct sockaddr_storage peer;
static size_t peer_len;

HANDLER(echo_handler)
{
    ASYNC_BEGIN(co);
    peer_len = sizeof peer;
    cr_assert_eq(asyncio_stream_get_extra_info(H->s, "peername", &peer, &peer_len), 0);
    AWAIT(asyncio_stream_read(H->s, H->buf, 100));
    H->n = (int)AWAIT_RESULT;
    trace("echo: %.*s", H->n, (const char *)H->buf);
    cr_assert_eq(asyncio_stream_write(H->s, H->buf, (size_t)H->n), 0);
    AWAIT(asyncio_stream_drain(H->s));
    trace("close");
    asyncio_stream_close(H->s);
    AWAIT(asyncio_stream_wait_closed(H->s));
    trace("done");
    ASYNC_END;
}

static int server_client_main(asyncio_coro *co)
{
    struct sockaddr_in me;
    size_t len = sizeof me;
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    trace("write: client data");
    cr_assert_eq(asyncio_stream_write(&C->s, "client data", 11), 0);
    AWAIT(asyncio_stream_drain(&C->s));
    AWAIT(asyncio_stream_read(&C->s, C->buf, 100));
    trace("read: %.*s", (int)AWAIT_RESULT, (const char *)C->buf);
    cr_assert_eq(asyncio_stream_get_extra_info(&C->s, "sockname", &me, &len), 0);
    cr_assert_eq(peer.ss_family, AF_INET);
    cr_assert_eq(((struct sockaddr_in *)&peer)->sin_port, me.sin_port);
    cr_assert_eq(((struct sockaddr_in *)&peer)->sin_addr.s_addr, htonl(0x7f000001));
    cr_assert_eq(asyncio_stream_get_extra_info(&C->s, "nonsense", &me, &len), ASYNCIO_EINVAL);
    asyncio_stream_close(&C->s);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, tcp_server_client_echo_and_peername)
{
    server_setup(echo_handler);
    cr_assert_eq(run_main(server_client_main), 0);
    assert_trace("write: client data\necho: client data\nclose\ndone\nread: client data\n");
}

/* ======================================================================== */
/* Errors and misuse                                                        */
/* ======================================================================== */

static int connect_errors_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    STOP_SERVER(); /* nobody listens on that port now */
    ASYNC_TRY(CONNECT());
    trace("refused: %d", AWAIT_ERROR == ASYNCIO_OSERROR(ECONNREFUSED));
    cr_assert_eq(asyncio_stream_fd(&C->s), -1, "left closed");
    ASYNC_TRY(AWAIT(asyncio_open_connection(&C->s, "no-such-host.invalid", 80, NULL)));
    trace("unresolvable: %s", asyncio_stream_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_open_connection(&C->s, "127.0.0.1", 70000, NULL)));
    trace("bad port: %s", asyncio_stream_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_stream_read(&C->s, C->buf, 1)));
    trace("read on a closed stream: %s", asyncio_stream_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(stream, connect_errors_are_clear)
{
    server_setup(NULL);
    cr_assert_eq(run_main(connect_errors_main), 0);
    assert_trace("refused: 1\nunresolvable: host not found\nbad port: invalid argument\n"
                 "read on a closed stream: closed\n");
}

static struct reader rd2;
static asyncio_task reader2_task;

HANDLER(hold_handler)
{
    ASYNC_BEGIN(co);
    AWAIT_EVENT(&done_ev);
    ASYNC_END;
}

static int misuse_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    /* A second read while one is in flight: EBUSY; the first is unharmed. */
    rd.s = rd2.s = &C->s;
    asyncio_create_task(&reader_task, asyncio_coro_init(&rd.co, reader_fn));
    asyncio_create_task(&reader2_task, asyncio_coro_init(&rd2.co, reader_fn));
    YIELD;
    ASYNC_TRY(AWAIT_TASK(&reader2_task));
    cr_assert_eq(AWAIT_ERROR, ASYNCIO_EBUSY);
    /* write() is all or nothing: 300 bytes never fit a 256-byte buffer. */
    memset(C->buf, 'z', sizeof C->buf);
    trace("write 300: %s", asyncio_stream_strerror(asyncio_stream_write(&C->s, C->buf, 300)));
    /* Closing wakes the blocked reader with ECLOSED. */
    asyncio_stream_close(&C->s);
    asyncio_stream_close(&C->s); /* a no-op */
    ASYNC_TRY(AWAIT_TASK(&reader_task));
    cr_assert_eq(AWAIT_ERROR, ASYNCIO_ECLOSED);
    asyncio_event_set(&done_ev);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, misuse_is_reported)
{
    server_setup(hold_handler);
    cr_assert_eq(run_main(misuse_main), 0);
    assert_trace("reader reading\nreader reading\nreader: busy, 0 bytes\n"
                 "write 300: No buffer space available\nreader: closed, 0 bytes\n");
}

/* A write buffer that fills: write() refuses, drain() empties it. */
static int backpressure_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START_SERVER();
    CONNECT();
    memset(C->buf, 'q', sizeof C->buf);
    /* Fill the socket until write() has to queue, then until it refuses. */
    C->n = 0;
    while (asyncio_stream_write(&C->s, C->buf, sizeof C->buf) == 0)
        C->n++;
    trace("refused once the buffer is full: %d", C->s.wlen + sizeof C->buf > C->s.wcap);
    cr_assert_gt(C->n, 10);
    asyncio_event_set(&done_ev); /* the handler starts reading everything */
    AWAIT(asyncio_stream_drain(&C->s));
    trace("drained: %d", (int)C->s.wlen);
    asyncio_stream_close(&C->s);
    AWAIT_EVENT(&done_ev);
    STOP_SERVER();
    ASYNC_END;
}

static long sink_total;
HANDLER(sink_handler)
{
    ASYNC_BEGIN(co);
    AWAIT_EVENT(&done_ev);
    for (;;) {
        AWAIT(asyncio_stream_read(H->s, H->buf, sizeof H->buf));
        if (AWAIT_RESULT == 0)
            break;
        for (H->i = 0; H->i < (int)AWAIT_RESULT; H->i++)
            cr_assert_eq(H->buf[H->i], 'q');
        sink_total += (long)AWAIT_RESULT;
    }
    ASYNC_END;
}

Test(stream, write_buffer_backpressure_and_drain)
{
    server_setup(sink_handler);
    cr_assert_eq(run_main(backpressure_main), 0);
    assert_trace("refused once the buffer is full: 1\ndrained: 0\n");
    cr_assert_eq(sink_total % 256, 0);
    cr_assert_gt(sink_total, 256 * 10);
}

/* One slot only: the second connection waits in the backlog. */
HANDLER(slow_echo)
{
    ASYNC_BEGIN(co);
    trace("handler %d start at %u", (int)(H - handlers), asyncio_ticks_ms());
    AWAIT_SLEEP_MS(100);
    ASYNC_END;
}

static struct client cl2;
static int pool_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, NULL));
    C->port = asyncio_server_port(&srv);
    CONNECT();
    asyncio_stream_init(&cl2.s, cl2.rbuf, sizeof cl2.rbuf, cl2.wbuf, sizeof cl2.wbuf);
    AWAIT(asyncio_open_connection(&cl2.s, "127.0.0.1", C->port, NULL));
    trace("both connected");
    /* Each read ends when its handler's slot closes the stream (EOF). */
    AWAIT(asyncio_stream_read(&C->s, C->buf, 1));
    trace("client 1 eof at %u", asyncio_ticks_ms());
    AWAIT(asyncio_stream_read(&cl2.s, C->buf, 1));
    trace("client 2 eof at %u", asyncio_ticks_ms());
    asyncio_stream_close(&C->s);
    asyncio_stream_close(&cl2.s);
    STOP_SERVER();
    ASYNC_END;
}

Test(stream, exhausted_pool_leaves_connections_in_the_backlog)
{
    server_setup(slow_echo);
    asyncio_server_init(&srv, slots, 1);
    cr_assert_eq(run_main(pool_main), 0);
    assert_trace("handler 0 start at 0\nboth connected\nclient 1 eof at 100\n"
                 "handler 0 start at 100\nclient 2 eof at 200\n");
}
