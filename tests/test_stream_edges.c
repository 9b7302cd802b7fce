/* SPDX-License-Identifier: MIT */
/*
 * Stream API edges the other suites leave out (issue 21, coverage): bad
 * arguments and busy frames of every constructor, open() of an open stream
 * or a transport missing an operation, get_extra_info through transports
 * without info() (memory, TLS over memory) and with it (TLS over a
 * socketpair), readall with a full buffer and no read buffer, readline
 * without a read buffer, a read of more than 1 GiB, awrite hitting a hard
 * error, start_server on a host that does not resolve, connect errors
 * reported by connect() itself.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "memtransport.h"
#include "port_posix.h"
#include "tls_certs.h"
#include "trace.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static void setup(void)
{
    asyncio_posix_virtual_time(1, 0);
    trace_len = 0;
    trace_buf[0] = '\0';
    cr_assert_not_null(asyncio_new_event_loop());
}
TestSuite(stream_edges, .init = setup, .timeout = 10);

static mem_end ma, mb;
static asyncio_stream sa, sb;
static unsigned char ra[32], wa[32], rb[32], wb[32], buf[64];
static asyncio_task main_task;
static asyncio_tls tls_x;
static asyncio_tls_config cfg_x;

static void open_mem(void)
{
    mem_pair(&ma, &mb);
    asyncio_stream_init(&sa, ra, sizeof ra, wa, sizeof wa);
    asyncio_stream_init(&sb, rb, sizeof rb, wb, sizeof wb);
    cr_assert_eq(asyncio_stream_open(&sa, &ma.base), 0);
    cr_assert_eq(asyncio_stream_open(&sb, &mb.base), 0);
}

Test(stream_edges, bad_arguments_and_open_streams_are_refused_without_a_loop)
{
    static const asyncio_transport_ops no_wait = {mem_read, mem_write, NULL, mem_close,
                                                  NULL,     NULL,      NULL};
    asyncio_transport bad = {&no_wait}, none = {NULL};
    asyncio_fd_transport fdt;
    size_t len = sizeof buf;
    open_mem();
    cr_assert_eq(asyncio_stream_open(NULL, &ma.base), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_open(&sa, NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_open(&sa, &none), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_open(&sa, &bad), ASYNCIO_EINVAL, "a transport without wait()");
    cr_assert_eq(asyncio_stream_open(&sa, &ma.base), ASYNCIO_EBUSY, "already open");
    cr_assert_eq(asyncio_stream_transport(&sa), &ma.base);
    cr_assert_null(asyncio_stream_transport(NULL));
    cr_assert_eq(asyncio_stream_fd(&sa), -1, "not over descriptors");
    cr_assert_eq(asyncio_stream_fd(NULL), -1);
    cr_assert_null(asyncio_stream_read(NULL, buf, 1));
    cr_assert_null(asyncio_stream_drain(NULL));
    cr_assert_null(asyncio_stream_awrite(NULL, buf, 1));
    cr_assert_null(asyncio_open_connection(NULL, "localhost", 1, NULL));
    cr_assert_null(asyncio_start_server(NULL, NULL, "localhost", 0, 0, NULL));
    cr_assert_null(asyncio_server_wait_closed(NULL));
    asyncio_server_close(NULL);
    cr_assert_eq(asyncio_server_port(NULL), ASYNCIO_ECLOSED);
    cr_assert_eq(asyncio_stream_write(NULL, buf, 1), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_write(&sa, NULL, 1), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_write(&sa, buf, 0), 0, "the empty message");
    cr_assert_eq(ma.written, 0);
    cr_assert_eq(asyncio_stream_get_extra_info(NULL, "peername", buf, &len), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, NULL, buf, &len), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, "peername", NULL, &len), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, "peername", buf, NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, "peername", buf, &len), ASYNCIO_EINVAL,
                 "the memory transport has no info()");
    cr_assert_eq(asyncio_fd_transport_init(NULL, 0, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_fd_transport_init(&fdt, -1, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_fd_transport_init(&fdt, 0, -1), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_attach_fds(NULL, 0, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_attach(&sa, 0), ASYNCIO_EBUSY, "open over memory");
    cr_assert_null(asyncio_stream_tls(NULL));
    cr_assert_null(asyncio_stream_tls(&sa), "a plain stream");
    cr_assert_eq(asyncio_tls_wrap(NULL, NULL, NULL, NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_stream_tls_error(NULL), 0);
    cr_assert_eq(asyncio_stream_tls_error_text(NULL, (char *)buf, sizeof buf), 0);
    cr_assert_eq(buf[0], '\0');
    {
        static const asyncio_transport_ops no_read = {NULL, mem_write, mem_wait, mem_close,
                                                      NULL, NULL,      NULL};
        static const asyncio_transport_ops no_write = {mem_read, NULL, mem_wait, mem_close,
                                                       NULL,     NULL, NULL};
        static const asyncio_transport_ops no_close = {mem_read, mem_write, mem_wait, NULL,
                                                       NULL,     NULL,      NULL};
        asyncio_transport t1 = {&no_read}, t2 = {&no_write}, t3 = {&no_close};
        asyncio_stream_ref r = asyncio_stream_ref_of(NULL), live = asyncio_stream_ref_of(&sa);
        asyncio_stream fresh;
        asyncio_stream_init(&fresh, NULL, 0, NULL, 0);
        cr_assert_eq(asyncio_stream_open(&fresh, &t1), ASYNCIO_EINVAL, "no read()");
        cr_assert_eq(asyncio_stream_open(&fresh, &t2), ASYNCIO_EINVAL, "no write()");
        cr_assert_eq(asyncio_stream_open(&fresh, &t3), ASYNCIO_EINVAL, "no close()");
        cr_assert_eq(r.gen, 0);
        cr_assert_eq(asyncio_stream_deref(live), &sa, "the same connection");
        live.gen++;
        cr_assert_neq(asyncio_stream_deref(live), &sa, "another connection");
        cr_assert_neq(asyncio_stream_deref(r), NULL,
                      "a NULL reference resolves to a closed stream");
        cr_assert_eq(asyncio_stream_write(asyncio_stream_deref(r), "x", 1), ASYNCIO_ECLOSED);
        cr_assert_eq(asyncio_tls_wrap(&tls_x, NULL, &ma.base, NULL), ASYNCIO_EINVAL);
        cr_assert_eq(asyncio_tls_wrap(&tls_x, &cfg_x, NULL, NULL), ASYNCIO_EINVAL);
        cr_assert_eq(asyncio_tls_wrap(&tls_x, &cfg_x, &none, NULL), ASYNCIO_EINVAL);
        asyncio_tls_free(NULL);
        cr_assert_eq(asyncio_stream_tls_error(&sa), 0, "no TLS session");
        cr_assert_eq(asyncio_stream_tls_error_text(&sa, NULL, 0), 0);
        cr_assert_eq(asyncio_stream_tls_error_text(&sa, (char *)buf, 0), 0);
    }
    asyncio_stream_close(NULL);
    asyncio_stream_close(&sa);
    asyncio_stream_close(&sa); /* a second close is a no-op */
    cr_assert_null(asyncio_stream_tls(&sa), "closed");
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, "peername", buf, &len), ASYNCIO_ECLOSED);
    cr_assert_eq(asyncio_stream_write(&sa, buf, 1), ASYNCIO_ECLOSED);
    asyncio_stream_close(&sb);
}

/* ---- busy frames: a second operation of a side while one is in flight ---- */
static int busy_main(asyncio_coro *co)
{
    static asyncio_coro *first;
    ASYNC_BEGIN(co);
    first = asyncio_stream_drain(&sa); /* made, not yet awaited: the frame is taken */
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&sa)));
    trace("second drain: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_stream_awrite(&sa, buf, 1)));
    trace("awrite: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_open_connection(&sa, "127.0.0.1", 1, NULL)));
    trace("open_connection: %s", asyncio_strerror(AWAIT_ERROR));
    AWAIT(first);
    trace("first drain: ok");
    ASYNC_END;
}

Test(stream_edges, a_second_operation_on_a_taken_write_frame_is_ebusy)
{
    static asyncio_coro co;
    open_mem();
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, busy_main), NULL), 0);
    assert_trace("second drain: busy\nawrite: busy\nopen_connection: busy\nfirst drain: ok\n");
    asyncio_stream_close(&sa);
    asyncio_stream_close(&sb);
}

/* ---- reads without a read buffer, and a read of more than 1 GiB ----
 * (Under UBSan this found asyncio_stream_take_() computing rbuf + rpos with
 * rbuf NULL: readline on a stream made without a read buffer.) */
static asyncio_stream su;
static int unbuffered_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_stream_write(&sb, "ab\ncdefgh", 9), 0);
    AWAIT(asyncio_stream_drain(&sb));
    /* readline byte by byte: stops at the newline */
    AWAIT(asyncio_stream_readline(&su, buf, sizeof buf));
    trace("line: %.*s", (int)AWAIT_RESULT, (const char *)buf);
    /* readall into 3 bytes with more to come: no read buffer to look past */
    ASYNC_TRY(AWAIT(asyncio_stream_readall(&su, buf, 3)));
    trace("readall: %s after %.*s", asyncio_stream_strerror(AWAIT_ERROR), (int)AWAIT_RESULT,
          (const char *)buf);
    /* a read asking for more than 1 GiB gets what is there */
    AWAIT(asyncio_stream_read(&su, buf, (size_t)3 << 30));
    trace("huge read: %.*s", (int)AWAIT_RESULT, (const char *)buf);
    ASYNC_END;
}

Test(stream_edges, readline_without_a_read_buffer_does_no_arithmetic_on_its_null_buffer_ubsan)
{
    static asyncio_coro co;
    open_mem();
    asyncio_stream_close(&sa);
    mem_pair(&ma, &mb);
    asyncio_stream_init(&su, NULL, 0, NULL, 0);
    asyncio_stream_init(&sb, rb, sizeof rb, wb, sizeof wb);
    cr_assert_eq(asyncio_stream_open(&su, &ma.base), 0);
    cr_assert_eq(asyncio_stream_open(&sb, &mb.base), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, unbuffered_main), NULL), 0);
    assert_trace("line: ab\n\n"
                 "readall: No buffer space available after cde\n"
                 "huge read: fgh\n");
    asyncio_stream_close(&su);
    asyncio_stream_close(&sb);
}

/* readall filled from readline's read-ahead with bytes still buffered */
static int readahead_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_stream_write(&sb, "x\n0123456789", 12), 0);
    AWAIT(asyncio_stream_drain(&sb));
    AWAIT(asyncio_stream_readline(&sa, buf, sizeof buf)); /* reads ahead the digits */
    ASYNC_TRY(AWAIT(asyncio_stream_readall(&sa, buf, 4)));
    trace("readall: %s after %.*s", asyncio_stream_strerror(AWAIT_ERROR), (int)AWAIT_RESULT,
          (const char *)buf);
    AWAIT(asyncio_stream_read(&sa, buf, sizeof buf));
    trace("then: %.*s", (int)AWAIT_RESULT, (const char *)buf);
    ASYNC_END;
}

Test(stream_edges, readall_from_the_read_ahead_with_bytes_left_is_enobufs_and_loses_none)
{
    static asyncio_coro co;
    open_mem();
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, readahead_main), NULL), 0);
    assert_trace("readall: No buffer space available after 0123\n"
                 "then: 456789\n");
    asyncio_stream_close(&sa);
    asyncio_stream_close(&sb);
}

/* ---- awrite hitting a hard error: the bytes queued so far are its value ---- */
static int awrite_fail_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ma.fail_write = ASYNCIO_OSERROR(ECONNRESET);
    ASYNC_TRY(AWAIT(asyncio_stream_awrite(&sa, buf, 50)));
    trace("awrite: %s, queued %d", asyncio_stream_strerror(AWAIT_ERROR), (int)AWAIT_RESULT);
    ASYNC_END;
}

Test(stream_edges, awrite_hitting_a_hard_error_reports_it_and_the_bytes_queued)
{
    static asyncio_coro co;
    open_mem();
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, awrite_fail_main), NULL), 0);
    assert_trace("awrite: Connection reset by peer, queued 32\n");
    asyncio_stream_close(&sa);
    asyncio_stream_close(&sb);
}

/* ---- get_extra_info through TLS ---- */
static asyncio_tls_config sctx, cctx;
static asyncio_tls ta, tb;
Test(stream_edges, get_extra_info_through_tls_asks_the_transport_below)
{
    int sv[2];
    asyncio_fd_transport fa, fb;
    struct sockaddr_storage ss;
    size_t len = sizeof ss;
    make_test_certificate();
    cr_assert_eq(asyncio_tls_config_init(&sctx, ASYNCIO_TLS_SERVER), 0);
    cr_assert_eq(asyncio_tls_config_load_cert_chain(&sctx, cert, cert_len, key, key_len), 0);
    cr_assert_eq(asyncio_tls_config_init(&cctx, ASYNCIO_TLS_CLIENT), 0);
    /* over memory: no info() below */
    mem_pair(&ma, &mb);
    asyncio_stream_init(&sa, ra, sizeof ra, wa, sizeof wa);
    cr_assert_eq(asyncio_tls_wrap(&ta, &cctx, &ma.base, "x"), 0);
    cr_assert_eq(asyncio_stream_open(&sa, &ta.base), 0);
    cr_assert_eq(asyncio_stream_tls(&sa), &ta);
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, "peername", &ss, &len), ASYNCIO_EINVAL);
    asyncio_stream_close(&sa);
    /* over a socketpair: the socket answers; unknown names are EINVAL */
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(asyncio_fd_transport_init(&fa, sv[0], sv[0]), 0);
    cr_assert_eq(asyncio_fd_transport_init(&fb, sv[1], sv[1]), 0);
    cr_assert_eq(asyncio_tls_wrap(&ta, &cctx, &fa.base, "x"), 0);
    cr_assert_eq(asyncio_stream_open(&sa, &ta.base), 0);
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, "sockname", &ss, &len), 0);
    cr_assert_eq(ss.ss_family, AF_UNIX);
    len = sizeof ss;
    cr_assert_eq(asyncio_stream_get_extra_info(&sa, "cipher", &ss, &len), ASYNCIO_EINVAL);
    asyncio_stream_close(&sa);
    fb.base.ops->close(&fb.base);
    /* a pipe is no socket: getpeername fails with the OS error */
    {
        int p[2];
        asyncio_stream_init(&sb, rb, sizeof rb, wb, sizeof wb);
        cr_assert_eq(pipe(p), 0);
        cr_assert_eq(asyncio_stream_attach_fds(&sb, p[0], p[1]), 0);
        len = sizeof ss;
        cr_assert_eq(asyncio_stream_get_extra_info(&sb, "peername", &ss, &len),
                     ASYNCIO_OSERROR(ENOTSOCK));
        asyncio_stream_close(&sb);
    }
    asyncio_tls_free(&ta);
    asyncio_tls_free(&tb);
    asyncio_tls_config_free(&sctx);
    asyncio_tls_config_free(&cctx);
}

/* ---- start_server and connect errors ---- */
static asyncio_server srv;
static asyncio_server_slot slot;
static int server_errors_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_start_server(&srv, NULL, "no-such-host.invalid", 0, 0, NULL)));
    trace("start_server on an unknown host: %s", asyncio_stream_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_start_server(&srv, NULL, "127.0.0.1", 70000, 0, NULL)));
    trace("start_server on a bad port: %s", asyncio_stream_strerror(AWAIT_ERROR));
    trace("port of a server not started: %s", asyncio_stream_strerror(asyncio_server_port(&srv)));
    asyncio_server_close(&srv); /* not started: nothing to do */
    AWAIT(asyncio_server_wait_closed(&srv));
    trace("wait_closed of a server not started: ok");
    cr_assert_eq(asyncio_server_set_timeouts(&srv, -1, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_server_set_timeouts(NULL, 0, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_server_set_timeouts(&srv, 0, -1), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_server_set_timeouts(&srv, 5, 6), 0);
    /* connect() itself refuses a broadcast address */
    ASYNC_TRY(AWAIT(asyncio_open_connection(&sa, "255.255.255.255", 9, NULL)));
    trace("connect to broadcast: error %d, fd %d", AWAIT_ERROR != 0, asyncio_stream_fd(&sa));
    ASYNC_END;
}

Test(stream_edges, start_server_and_connect_errors_leave_nothing_open)
{
    static asyncio_coro co;
    asyncio_server_init(&srv, &slot, 1);
    asyncio_server_slot_init(&slot, rb, sizeof rb, wb, sizeof wb, NULL, NULL);
    asyncio_stream_init(&sa, ra, sizeof ra, wa, sizeof wa);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&co, server_errors_main), NULL), 0);
    assert_trace("start_server on an unknown host: host not found\n"
                 "start_server on a bad port: invalid argument\n"
                 "port of a server not started: closed\n"
                 "wait_closed of a server not started: ok\n"
                 "connect to broadcast: error 1, fd -1\n");
}
