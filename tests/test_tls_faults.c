/* SPDX-License-Identifier: MIT */
/*
 * TLS and connection faults (issue 21): bytes mbedTLS decrypted but the
 * reader did not take yet (a second read must not wait for the transport),
 * a drain through a handshake that must read first (it waits for
 * readability: CPU time bounded), send and receive errors mid-handshake
 * (the lower transport's error, not a generic one), a peer hanging up
 * mid-handshake, bad certificate / key / CA data, a TLS start that fails
 * (at accept: the connection is closed, no handler runs; at connect: the
 * stream is left closed); and connection faults: a server started twice,
 * connect errors other than refused / unresolved.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "memtransport.h"
#include "port_posix.h"
#include "tls_certs.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/net_sockets.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void setup(void)
{
    asyncio_posix_virtual_time(1, 0);
    trace_len = 0;
    trace_buf[0] = '\0';
    cr_assert_not_null(asyncio_new_event_loop());
}
TestSuite(tls_faults, .init = setup, .timeout = 20);

static unsigned char pattern(size_t i) { return (unsigned char)((i * 89u + 7u) & 0xFF); }

static asyncio_tls_config server_ctx, client_ctx;
static void tls_configs(void)
{
    make_test_certificate();
    cr_assert_eq(asyncio_tls_config_init(&server_ctx, ASYNCIO_TLS_SERVER), 0);
    cr_assert_eq(asyncio_tls_config_load_cert_chain(&server_ctx, cert, cert_len, key, key_len), 0);
    cr_assert_eq(asyncio_tls_config_init(&client_ctx, ASYNCIO_TLS_CLIENT), 0);
    cr_assert_eq(asyncio_tls_config_load_verify(&client_ctx, cert, cert_len), 0);
}

/* A transport over one end of a memory pair whose reads can be made to fail
 * and whose alert records can be refused ("again", as from a full socket). */
struct faulty {
    asyncio_transport base;
    mem_end *e;
    int fail_read;
    int refuse_alerts; /* alert records to answer "again" to first */
};
static int faulty_read(asyncio_transport *t, unsigned char *buf, size_t n)
{
    struct faulty *f = (struct faulty *)(void *)t;
    return f->fail_read ? f->fail_read : mem_read(&f->e->base, buf, n);
}
static int faulty_write(asyncio_transport *t, const unsigned char *buf, size_t n)
{
    struct faulty *f = (struct faulty *)(void *)t;
    if (f->refuse_alerts && n > 0 && buf[0] == MBEDTLS_SSL_MSG_ALERT) { /* an alert record */
        f->refuse_alerts--;
        return ASYNCIO_AGAIN_WRITE;
    }
    return mem_write(&f->e->base, buf, n);
}
static int faulty_wait(asyncio_transport *t, unsigned events)
{
    return mem_wait(&((struct faulty *)(void *)t)->e->base, events);
}
static void faulty_close(asyncio_transport *t)
{
    mem_close(&((struct faulty *)(void *)t)->e->base);
}
static const asyncio_transport_ops faulty_ops = {
    faulty_read, faulty_write, faulty_wait, faulty_close, NULL, NULL, NULL};

static mem_end ma, mb;
static struct faulty fa;
struct end {
    asyncio_coro co;
    asyncio_stream s;
    asyncio_tls tls;
    asyncio_wait_for_state wf;
    unsigned char rbuf[64], wbuf[256], buf[128];
    size_t got;
    int err;
};
static struct end cli, srvend;
static asyncio_task cli_task, srv_task, main_task;
static asyncio_coro main_co;

/* client over `ma` (through the faulty wrapper), server over `mb`; the
 * client verifies the name `host` (the certificate's is micropython.local) */
static void open_pair_verifying(const char *host)
{
    tls_configs();
    mem_pair(&ma, &mb);
    fa.base.ops = &faulty_ops;
    fa.e = &ma;
    fa.fail_read = 0;
    fa.refuse_alerts = 0;
    memset(&cli, 0, sizeof cli);
    memset(&srvend, 0, sizeof srvend);
    asyncio_stream_init(&cli.s, NULL, 0, cli.wbuf, sizeof cli.wbuf);
    asyncio_stream_init(&srvend.s, srvend.rbuf, sizeof srvend.rbuf, srvend.wbuf,
                        sizeof srvend.wbuf);
    cr_assert_eq(asyncio_tls_wrap(&cli.tls, &client_ctx, &fa.base, host), 0);
    cr_assert_eq(asyncio_tls_wrap(&srvend.tls, &server_ctx, &mb.base, NULL), 0);
    cr_assert_eq(asyncio_stream_open(&cli.s, &cli.tls.base), 0);
    cr_assert_eq(asyncio_stream_open(&srvend.s, &srvend.tls.base), 0);
}
static void open_pair(void) { open_pair_verifying("micropython.local"); }
static void close_pair(void)
{
    asyncio_stream_close(&cli.s);
    asyncio_stream_close(&srvend.s);
    asyncio_tls_free(&cli.tls);
    asyncio_tls_free(&srvend.tls);
    asyncio_tls_config_free(&server_ctx);
    asyncio_tls_config_free(&client_ctx);
}

/* ---- decrypted bytes held inside mbedTLS between two reads ---- */
static asyncio_event client_done;
static int held_server_fn(asyncio_coro *co)
{
    struct end *e = (struct end *)co;
    size_t i;
    ASYNC_BEGIN(co);
    for (i = 0; i < 100; i++)
        e->buf[i] = pattern(i);
    cr_assert_eq(asyncio_stream_write(&e->s, e->buf, 100), 0);
    AWAIT(asyncio_stream_drain(&e->s)); /* one record of 100 bytes */
    AWAIT_EVENT(&client_done);          /* then nothing more arrives */
    ASYNC_END;
}
static int held_client_fn(asyncio_coro *co)
{
    struct end *e = (struct end *)co;
    ASYNC_BEGIN(co);
    while (e->got < 100) {
        /* Ten bytes at a time: the first read decrypts the whole record. */
        ASYNC_TRY(AWAIT(
            asyncio_wait_for_ms(&e->wf, asyncio_stream_read(&e->s, e->buf + e->got, 10), 1000)));
        if (AWAIT_ERROR) {
            trace("read after %zu: %s", e->got, asyncio_stream_strerror(AWAIT_ERROR));
            break;
        }
        e->got += (size_t)AWAIT_RESULT;
        trace("read %d at %u", (int)AWAIT_RESULT, asyncio_ticks_ms());
    }
    asyncio_event_set(&client_done);
    ASYNC_END;
}
static int held_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_event_init(&client_done);
    cr_assert_eq(asyncio_create_task(&srv_task, asyncio_coro_init(&srvend.co, held_server_fn)), 0);
    cr_assert_eq(asyncio_create_task(&cli_task, asyncio_coro_init(&cli.co, held_client_fn)), 0);
    AWAIT_TASK(&cli_task);
    AWAIT_TASK(&srv_task);
    ASYNC_END;
}

Test(tls_faults, bytes_mbedtls_decrypted_are_read_without_waiting_for_the_transport)
{
    size_t i;
    open_pair();
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, held_main), NULL), 0);
    assert_trace("read 10 at 0\nread 10 at 0\nread 10 at 0\nread 10 at 0\nread 10 at 0\n"
                 "read 10 at 0\nread 10 at 0\nread 10 at 0\nread 10 at 0\nread 10 at 0\n");
    for (i = 0; i < 100; i++)
        cr_assert_eq(cli.buf[i], pattern(i), "byte %zu", i);
    close_pair();
}

/* ---- errors mid-handshake ---- */
static int drain_fn(asyncio_coro *co)
{
    struct end *e = (struct end *)co;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_stream_write(&e->s, "hi", 2), 0);
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&e->s)));
    e->err = AWAIT_ERROR;
    trace("%s drain: %s", e == &cli ? "client" : "server", asyncio_stream_strerror(AWAIT_ERROR));
    asyncio_stream_close(&e->s);
    ASYNC_END;
}
static int read_fn(asyncio_coro *co)
{
    struct end *e = (struct end *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_stream_read(&e->s, e->buf, sizeof e->buf)));
    e->err = AWAIT_ERROR;
    trace("%s read: %s", e == &cli ? "client" : "server", asyncio_stream_strerror(AWAIT_ERROR));
    asyncio_stream_close(&e->s);
    ASYNC_END;
}
static int both_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&srv_task, asyncio_coro_init(&srvend.co, read_fn)), 0);
    cr_assert_eq(asyncio_create_task(&cli_task, asyncio_coro_init(&cli.co, drain_fn)), 0);
    AWAIT_TASK(&cli_task);
    AWAIT_TASK(&srv_task);
    ASYNC_END;
}

Test(tls_faults, a_send_error_mid_handshake_is_the_transports_error_and_the_peer_sees_eof)
{
    open_pair();
    /* The server reads the ClientHello, then cannot send its answer. */
    mb.fail_write = ASYNCIO_OSERROR(EPIPE);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, both_main), NULL), 0);
    assert_trace("server read: Broken pipe\n"
                 "client drain: end of stream\n");
    cr_assert_eq(srvend.err, ASYNCIO_OSERROR(EPIPE));
    cr_assert_eq(cli.err, ASYNCIO_EEOF, "the peer hung up mid-handshake");
    close_pair();
}

Test(tls_faults, a_receive_error_mid_handshake_is_the_transports_error)
{
    open_pair();
    /* The client sends its ClientHello, then its reads fail. */
    fa.fail_read = ASYNCIO_OSERROR(ECONNRESET);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, both_main), NULL), 0);
    cr_assert_eq(cli.err, ASYNCIO_OSERROR(ECONNRESET), "%s", asyncio_stream_strerror(cli.err));
    cr_assert_eq(cli.tls.last_err, MBEDTLS_ERR_NET_RECV_FAILED);
    /* A stream opened over asyncio_tls_wrap() tells its TLS error too. */
    cr_assert_eq(asyncio_stream_tls_error(&cli.s), MBEDTLS_ERR_NET_RECV_FAILED);
    close_pair();
}

Test(tls_faults, a_client_send_error_at_the_first_flight_is_the_transports_error)
{
    open_pair();
    ma.fail_write = ASYNCIO_OSERROR(ECONNRESET);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, both_main), NULL), 0);
    cr_assert_eq(cli.err, ASYNCIO_OSERROR(ECONNRESET), "%s", asyncio_stream_strerror(cli.err));
    cr_assert_eq(cli.tls.last_err, MBEDTLS_ERR_NET_SEND_FAILED);
    close_pair();
}

Test(tls_faults, a_fatal_alert_cut_short_by_a_full_socket_still_reaches_the_peer)
{
    open_pair_verifying("foobar.local"); /* the client's check of the name fails */
    fa.refuse_alerts = 1;                /* its alert telling the server why: "again" at first */
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, both_main), NULL), 0);
    cr_assert_eq(fa.refuse_alerts, 0, "the client's alert was refused once");
    /* The client reports its error once the alert is out. (It used to
     * report it at once and leave the alert unsent: the server learned
     * nothing, waited while the client kept the stream open, and failed
     * with a broken pipe when it closed.) */
    cr_assert_eq(cli.err, ASYNCIO_ETLS_VERIFY, "%s", asyncio_stream_strerror(cli.err));
    cr_assert_eq(srvend.err, ASYNCIO_ETLS_ALERT, "%s", asyncio_stream_strerror(srvend.err));
    close_pair();
}

/* ---- a drain whose handshake must read first waits, it does not spin ---- */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
static double cpu_while_server_slept;
static struct end sk_cli, sk_srv;
static asyncio_fd_transport fd_cli, fd_srv;
static int slow_server_fn(asyncio_coro *co)
{
    static double t0;
    struct end *e = (struct end *)co;
    ASYNC_BEGIN(co);
    t0 = cpu_ms();
    AWAIT_SLEEP_MS(400); /* the client's drain waits for our ServerHello */
    cpu_while_server_slept = cpu_ms() - t0;
    AWAIT(asyncio_stream_readexactly(&e->s, e->buf, 2));
    trace("server got %.2s", (const char *)e->buf);
    ASYNC_END;
}
static int fast_client_fn(asyncio_coro *co)
{
    struct end *e = (struct end *)co;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_stream_write(&e->s, "hi", 2), 0);
    AWAIT(asyncio_stream_drain(&e->s));
    trace("client drained");
    ASYNC_END;
}
static int spin_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&srv_task, asyncio_coro_init(&sk_srv.co, slow_server_fn)), 0);
    cr_assert_eq(asyncio_create_task(&cli_task, asyncio_coro_init(&sk_cli.co, fast_client_fn)), 0);
    AWAIT_TASK(&cli_task);
    AWAIT_TASK(&srv_task);
    ASYNC_END;
}

Test(tls_faults, a_drain_through_a_handshake_that_must_read_waits_without_spinning)
{
    skip_under_valgrind("it measures CPU time");
    int sv[2];
    asyncio_posix_virtual_time(0, 0); /* real time: a spin shows as CPU time */
    tls_configs();
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(&sk_cli, 0, sizeof sk_cli);
    memset(&sk_srv, 0, sizeof sk_srv);
    asyncio_stream_init(&sk_cli.s, sk_cli.rbuf, sizeof sk_cli.rbuf, sk_cli.wbuf,
                        sizeof sk_cli.wbuf);
    asyncio_stream_init(&sk_srv.s, sk_srv.rbuf, sizeof sk_srv.rbuf, sk_srv.wbuf,
                        sizeof sk_srv.wbuf);
    cr_assert_eq(asyncio_fd_transport_init(&fd_cli, sv[0], sv[0]), 0);
    cr_assert_eq(asyncio_fd_transport_init(&fd_srv, sv[1], sv[1]), 0);
    cr_assert_eq(asyncio_tls_wrap(&sk_cli.tls, &client_ctx, &fd_cli.base, "micropython.local"), 0);
    cr_assert_eq(asyncio_tls_wrap(&sk_srv.tls, &server_ctx, &fd_srv.base, NULL), 0);
    cr_assert_eq(asyncio_stream_open(&sk_cli.s, &sk_cli.tls.base), 0);
    cr_assert_eq(asyncio_stream_open(&sk_srv.s, &sk_srv.tls.base), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, spin_main), NULL), 0);
    assert_trace("client drained\nserver got hi\n");
    /* Waiting costs nothing; spinning for 400 ms costs far more than this
     * even with a fraction of a core on a loaded machine. */
    cr_assert_lt(cpu_while_server_slept, 80.0, "drain spun: %.1f ms CPU", cpu_while_server_slept);
    asyncio_stream_close(&sk_cli.s);
    asyncio_stream_close(&sk_srv.s);
    asyncio_tls_free(&sk_cli.tls);
    asyncio_tls_free(&sk_srv.tls);
    asyncio_tls_config_free(&server_ctx);
    asyncio_tls_config_free(&client_ctx);
}

/* ---- bad certificate, key and CA data ---- */
Test(tls_faults, bad_certificate_key_or_ca_data_is_etls)
{
    static const unsigned char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
                                        "-----END CERTIFICATE-----\n";
    static const unsigned char junk_key[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                            "-----END PRIVATE KEY-----\n";
    asyncio_tls_config c;
    make_test_certificate();
    cr_assert_eq(asyncio_tls_config_init(&c, ASYNCIO_TLS_SERVER), 0);
    cr_assert_eq(asyncio_tls_config_load_cert_chain(&c, junk, sizeof junk, key, key_len),
                 ASYNCIO_ETLS, "a bad certificate");
    asyncio_tls_config_free(&c);
    cr_assert_eq(asyncio_tls_config_init(&c, ASYNCIO_TLS_SERVER), 0);
    cr_assert_eq(asyncio_tls_config_load_cert_chain(&c, cert, cert_len, junk_key, sizeof junk_key),
                 ASYNCIO_ETLS, "a bad key");
    asyncio_tls_config_free(&c);
    cr_assert_eq(asyncio_tls_config_init(&c, ASYNCIO_TLS_SERVER), 0);
    cr_assert_eq(asyncio_tls_config_load_cert_chain(&c, cert, cert_len, cert, cert_len),
                 ASYNCIO_ETLS, "a certificate where the key should be");
    asyncio_tls_config_free(&c);
    cr_assert_eq(asyncio_tls_config_init(&c, ASYNCIO_TLS_CLIENT), 0);
    cr_assert_eq(asyncio_tls_config_load_verify(&c, junk, sizeof junk), ASYNCIO_ETLS, "bad CA");
    cr_assert_eq(asyncio_tls_config_load_verify(&c, key, key_len), ASYNCIO_ETLS, "a key as CA");
    cr_assert_eq(asyncio_tls_config_load_verify(&c, cert, cert_len), 0, "the good one loads");
    asyncio_tls_config_free(&c);
    /* The good pair loads. */
    cr_assert_eq(asyncio_tls_config_init(&c, ASYNCIO_TLS_SERVER), 0);
    cr_assert_eq(asyncio_tls_config_load_cert_chain(&c, cert, cert_len, key, key_len), 0);
    asyncio_tls_config_free(&c);
}

/* ---- a TLS start that fails ---- */
struct handler {
    asyncio_coro co;
    asyncio_stream *s;
    unsigned char rbuf[64], wbuf[64];
};
static struct handler handlers[2];
static asyncio_server_slot slots[2];
static asyncio_server srv;
static int handlers_made;
static int handler_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("handler ran");
    ASYNC_END;
}
static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    struct handler *h = (struct handler *)user;
    h->s = s;
    handlers_made++;
    return asyncio_coro_init(&h->co, handler_fn);
}
static void server_setup(void)
{
    size_t i;
    handlers_made = 0;
    asyncio_server_init(&srv, slots, 2);
    for (i = 0; i < 2; i++)
        asyncio_server_slot_init(&slots[i], handlers[i].rbuf, sizeof handlers[i].rbuf,
                                 handlers[i].wbuf, sizeof handlers[i].wbuf, &handlers[i],
                                 NULL /* no TLS session: TLS cannot start */);
}
static struct client {
    asyncio_coro co;
    asyncio_stream a, b;
    asyncio_tls tls;
    asyncio_wait_for_state wf;
    int port, i;
    unsigned char buf[64], ra[64], wa[64];
} cl;
static int no_session_main(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, &server_ctx));
    c->port = asyncio_server_port(&srv);
    for (c->i = 0; c->i < 3; c->i++) {
        AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", c->port, NULL));
        ASYNC_TRY(AWAIT(
            asyncio_wait_for_ms(&c->wf, asyncio_stream_read(&c->a, c->buf, sizeof c->buf), 1000)));
        trace("connection %d: %s, %d", c->i, asyncio_stream_strerror(AWAIT_ERROR),
              (int)AWAIT_RESULT);
        asyncio_stream_close(&c->a);
    }
    trace("slots free: %d %d", !slots[0].busy, !slots[1].busy);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(tls_faults, a_tls_start_that_fails_at_accept_closes_the_connection_and_runs_no_handler)
{
    tls_configs();
    server_setup();
    asyncio_stream_init(&cl.a, cl.ra, sizeof cl.ra, cl.wa, sizeof cl.wa);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, no_session_main), NULL), 0);
    assert_trace("connection 0: ok, 0\n"
                 "connection 1: ok, 0\n"
                 "connection 2: ok, 0\n"
                 "slots free: 1 1\n");
    cr_assert_eq(handlers_made, 0);
    asyncio_tls_config_free(&server_ctx);
    asyncio_tls_config_free(&client_ctx);
}

static char long_name[400];
static int count_fds(void)
{
    int fd, n = 0;
    for (fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}
static int client_start_main(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, NULL));
    c->port = asyncio_server_port(&srv);
    /* ssl without a session */
    ASYNC_TRY(AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", c->port, &client_ctx)));
    trace("no session: %s, fd %d", asyncio_stream_strerror(AWAIT_ERROR), asyncio_stream_fd(&c->a));
    /* a server name mbedTLS refuses (longer than 255) */
    asyncio_stream_set_tls(&c->a, &c->tls);
    asyncio_tls_config_server_hostname(&client_ctx, long_name);
    ASYNC_TRY(AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", c->port, &client_ctx)));
    trace("bad name: %s, fd %d", asyncio_stream_strerror(AWAIT_ERROR), asyncio_stream_fd(&c->a));
    /* the same stream connects fine afterwards (plain) */
    asyncio_stream_set_tls(&c->a, NULL);
    AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", c->port, NULL));
    trace("plain: fd >= 0: %d", asyncio_stream_fd(&c->a) >= 0);
    /* a second open_connection on an open stream: refused before it makes
     * a socket (none leaks) */
    c->i = count_fds();
    ASYNC_TRY(AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", c->port, NULL)));
    trace("open again: %s, still open: %d, descriptors leaked: %d",
          asyncio_stream_strerror(AWAIT_ERROR), asyncio_stream_fd(&c->a) >= 0, count_fds() - c->i);
    asyncio_stream_close(&c->a);
    /* the server started twice */
    ASYNC_TRY(AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, NULL)));
    trace("start again: %s, same port: %d", asyncio_stream_strerror(AWAIT_ERROR),
          asyncio_server_port(&srv) == c->port);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(tls_faults, a_tls_start_that_fails_at_connect_leaves_the_stream_closed)
{
    tls_configs();
    server_setup();
    memset(long_name, 'a', sizeof long_name - 1);
    asyncio_stream_init(&cl.a, cl.ra, sizeof cl.ra, cl.wa, sizeof cl.wa);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, client_start_main), NULL), 0);
    /* (the TCP connection was made each time: the server's handler runs) */
    assert_trace("no session: invalid argument, fd -1\n"
                 "handler ran\n"
                 "bad name: TLS error, fd -1\n"
                 "handler ran\n"
                 "plain: fd >= 0: 1\n"
                 "open again: busy, still open: 1, descriptors leaked: 0\n"
                 "start again: busy, same port: 1\n"
                 "handler ran\n");
    asyncio_tls_free(&cl.tls);
    asyncio_tls_config_free(&server_ctx);
    asyncio_tls_config_free(&client_ctx);
}

/* ---- connect errors beyond refused / unresolved ---- */
static int emfile_main(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    struct rlimit rl;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_open_connection(&c->a, NULL, 80, NULL)));
    trace("no host: %s", asyncio_stream_strerror(AWAIT_ERROR));
    ASYNC_TRY(AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", -1, NULL)));
    trace("negative port: %s", asyncio_stream_strerror(AWAIT_ERROR));
    /* no descriptor left for the socket */
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = 0;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ASYNC_TRY(AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", 9, NULL)));
    c->i = AWAIT_ERROR;
    rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    trace("out of descriptors: %s, fd %d", asyncio_stream_strerror(c->i), asyncio_stream_fd(&c->a));
    ASYNC_END;
}

Test(tls_faults, connect_without_host_with_a_bad_port_or_without_descriptors_fails_cleanly)
{
    asyncio_stream_init(&cl.a, cl.ra, sizeof cl.ra, cl.wa, sizeof cl.wa);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, emfile_main), NULL), 0);
    assert_trace("no host: invalid argument\n"
                 "negative port: invalid argument\n"
                 "out of descriptors: Too many open files, fd -1\n");
}
