/* SPDX-License-Identifier: MIT */
/* Streams over TLS (mbedTLS): handshake + echo, readline, a missing client
 * certificate, a failed verification. Keys and a self-signed certificate
 * are made at test time with the openssl command. Every test build has
 * ASYNCIO_STREAM_TLS: without mbedTLS this suite does not build (make deps
 * installs it), so it can never pass by running nothing. */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#ifndef ASYNCIO_STREAM_TLS
#error "test_stream_tls.c needs ASYNCIO_STREAM_TLS (and mbedTLS: make deps)"
#endif

#include "tls_certs.h"

static void setup(void)
{
    asyncio_posix_virtual_time(0, 0);
    make_test_certificate();
}
TestSuite(stream_tls, .init = setup, .timeout = 20);

/* ---- server fixture with TLS sessions per slot ---- */
struct handler {
    asyncio_coro co;
    asyncio_stream *s;
    int n;
    unsigned char buf[256];
    char rbuf[64], wbuf[256];
};
static struct handler handlers[2];
static asyncio_tls server_tls[2];
static asyncio_server_slot slots[2];
static asyncio_server srv;
static asyncio_tls_config server_ctx, client_ctx;
static asyncio_fn handler_body;
static asyncio_event done_ev;

static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    struct handler *h = (struct handler *)user;
    h->s = s;
    return asyncio_coro_init(&h->co, handler_body);
}

/* A server with the certificate; a client that verifies it by name. */
static void fixture(asyncio_fn body, int require_client_cert, const char *hostname)
{
    int i;
    handler_body = body;
    asyncio_server_init(&srv, slots, 2);
    for (i = 0; i < 2; i++)
        asyncio_server_slot_init(&slots[i], handlers[i].rbuf, sizeof handlers[i].rbuf,
                                 handlers[i].wbuf, sizeof handlers[i].wbuf, &handlers[i],
                                 &server_tls[i]);
    asyncio_event_init(&done_ev);
    cr_assert_eq(asyncio_tls_config_init(&server_ctx, ASYNCIO_TLS_SERVER), 0);
    cr_assert_eq(asyncio_tls_config_load_cert_chain(&server_ctx, cert, cert_len, key, key_len), 0);
    if (require_client_cert) {
        asyncio_tls_config_verify_mode(&server_ctx, ASYNCIO_TLS_CERT_REQUIRED);
        cr_assert_eq(asyncio_tls_config_load_verify(&server_ctx, cert, cert_len), 0);
    }
    cr_assert_eq(asyncio_tls_config_init(&client_ctx, ASYNCIO_TLS_CLIENT), 0);
    cr_assert_eq(asyncio_tls_config_load_verify(&client_ctx, cert, cert_len), 0);
    asyncio_tls_config_server_hostname(&client_ctx, hostname);
}

static void fixture_free(void)
{
    int i;
    for (i = 0; i < 2; i++)
        asyncio_tls_free(&server_tls[i]);
    asyncio_tls_config_free(&server_ctx);
    asyncio_tls_config_free(&client_ctx);
}

struct client {
    asyncio_coro co;
    asyncio_stream s;
    asyncio_tls tls;
    int port, n;
    unsigned char buf[256];
    char rbuf[64], wbuf[256];
};
static struct client cl;
static asyncio_task main_task;

static int run_main(asyncio_fn fn)
{
    int r;
    asyncio_stream_init(&cl.s, cl.rbuf, sizeof cl.rbuf, cl.wbuf, sizeof cl.wbuf);
    asyncio_stream_set_tls(&cl.s, &cl.tls);
    r = asyncio_run(&main_task, asyncio_coro_init(&cl.co, fn), NULL);
    asyncio_tls_free(&cl.tls);
    fixture_free();
    return r;
}
#define H ((struct handler *)co)
#define C ((struct client *)co)

/* One await per line: these are two macros. */
#define START()                                                                                    \
    do {                                                                                           \
        AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, &server_ctx));             \
        C->port = asyncio_server_port(&srv);                                                       \
    } while (0)
#define CONNECT() AWAIT(asyncio_open_connection(&C->s, "127.0.0.1", C->port, &client_ctx))

/* ---- tls_server_client: handshake and echo ---- */
static int echo_handler(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT(asyncio_stream_read(H->s, H->buf, 100));
    H->n = (int)AWAIT_RESULT;
    trace("echo: %.*s", H->n, (const char *)H->buf);
    cr_assert_eq(asyncio_stream_write(H->s, H->buf, (size_t)H->n), 0);
    AWAIT(asyncio_stream_drain(H->s));
    trace("close");
    asyncio_stream_close(H->s);
    ASYNC_END;
}

static int echo_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START();
    CONNECT();
    trace("write: client data");
    cr_assert_eq(asyncio_stream_write(&C->s, "client data", 11), 0);
    AWAIT(asyncio_stream_drain(&C->s));
    AWAIT(asyncio_stream_read(&C->s, C->buf, 100));
    trace("read: %.*s", (int)AWAIT_RESULT, (const char *)C->buf);
    AWAIT(asyncio_stream_read(&C->s, C->buf, 100));
    trace("then EOF: %d", (int)AWAIT_RESULT);
    asyncio_stream_close(&C->s);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(stream_tls, tls_server_client_handshake_and_echo)
{
    fixture(echo_handler, 0, "micropython.local");
    cr_assert_eq(run_main(echo_main), 0);
    assert_trace("write: client data\necho: client data\nclose\nread: client data\nthen EOF: 0\n");
}

/* ---- tls_server_client_readline: the client reads first ---- */
static int lines_handler(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_stream_write(H->s, "line one\nline two\nlast", 22), 0);
    AWAIT(asyncio_stream_drain(H->s));
    asyncio_stream_close(H->s);
    ASYNC_END;
}

static int readline_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START();
    CONNECT();
    for (;;) {
        AWAIT(asyncio_stream_readline(&C->s, C->buf, sizeof C->buf));
        if (AWAIT_RESULT == 0)
            break;
        trace("line: %.*s", (int)AWAIT_RESULT, (const char *)C->buf);
    }
    asyncio_stream_close(&C->s);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(stream_tls, tls_readline_with_the_client_reading_first)
{
    fixture(lines_handler, 0, "micropython.local");
    cr_assert_eq(run_main(readline_main), 0);
    assert_trace("line: line one\n\nline: line two\n\nline: last\n");
}

/* ---- a client certificate is required but none is sent ---- */
static int reporting_handler(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("handle connection");
    ASYNC_TRY(AWAIT(asyncio_stream_read(H->s, H->buf, 100)));
    trace("server: %s", asyncio_stream_strerror(AWAIT_ERROR));
    H->n = asyncio_stream_tls_error(H->s);
    trace("server mbedTLS error: -0x%04x", (unsigned)-H->n);
    asyncio_event_set(&done_ev);
    ASYNC_END;
}

static int failing_client_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    START();
    CONNECT();
    trace("write: client data");
    cr_assert_eq(asyncio_stream_write(&C->s, "client data", 11), 0);
    trace("drain");
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&C->s)));
    trace("client: %s", asyncio_stream_strerror(AWAIT_ERROR));
    AWAIT_EVENT(&done_ev);
    asyncio_stream_close(&C->s);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    trace("done");
    ASYNC_END;
}

Test(stream_tls, tls_missing_client_certificate_is_a_clear_error)
{
    fixture(reporting_handler, 1, "micropython.local");
    cr_assert_eq(run_main(failing_client_main), 0);
    assert_trace("write: client data\ndrain\nhandle connection\n"
                 "server: TLS: no client certificate\nserver mbedTLS error: -0x7480\n"
                 "client: TLS: fatal alert from the peer\ndone\n");
}

Test(stream_tls, tls_failed_verification_is_a_clear_error)
{
    fixture(reporting_handler, 0, "foobar.local"); /* the certificate says micropython.local */
    cr_assert_eq(run_main(failing_client_main), 0);
    assert_trace("write: client data\ndrain\nhandle connection\n"
                 "client: TLS: certificate verification failed\n"
                 "server: TLS: fatal alert from the peer\nserver mbedTLS error: -0x7780\ndone\n");
}

/* ---- why verification failed: the error's text, with the reason ---- */
static int why_client_main(asyncio_coro *co)
{
    static char why[256];
    ASYNC_BEGIN(co);
    START();
    CONNECT();
    cr_assert_eq(asyncio_stream_write(&C->s, "client data", 11), 0);
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&C->s)));
    trace("client: %s", asyncio_stream_strerror(AWAIT_ERROR));
    C->n = asyncio_stream_tls_error_text(&C->s, why, sizeof why);
    trace("code: -0x%04x", (unsigned)-C->n);
    trace("text: %s", why);
    AWAIT_EVENT(&done_ev);
    asyncio_stream_close(&C->s);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(stream_tls, tls_error_text_says_why_verification_failed)
{
    fixture(reporting_handler, 0, "foobar.local"); /* the certificate says micropython.local */
    cr_assert_eq(run_main(why_client_main), 0);
    cr_assert(strstr(trace_buf, "client: TLS: certificate verification failed\n"
                                "code: -0x2700\n"
                                "text: X509 - Certificate verification failed") != NULL,
              "%s", trace_buf);
    cr_assert(strstr(trace_buf, "Common Name (CN) does not match") != NULL,
              "the reason (a name mismatch) is in the text: %s", trace_buf);
    fixture_free();
}

/* ---- a peer that never finishes its handshake loses its slot ---- */
static int stalled_handler(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT(asyncio_stream_read(H->s, H->buf, 100));
    ASYNC_FINALLY;
    trace("%u handler: %s", (unsigned)asyncio_ticks_ms(), asyncio_strerror(ASYNC_ERROR));
    ASYNC_END;
}

static int stalled_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_server_set_timeouts(&srv, 0, 300), 0);
    START();
    /* A plain TCP client that says nothing: the TLS handshake never starts. */
    AWAIT(asyncio_open_connection(&C->s, "127.0.0.1", C->port, NULL));
    AWAIT(asyncio_stream_read(&C->s, C->buf, 100));
    trace("%u client: EOF %d", (unsigned)asyncio_ticks_ms(), (int)AWAIT_RESULT);
    asyncio_stream_close(&C->s);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(stream_tls, a_stalled_handshake_is_cut_off_after_the_handshake_timeout)
{
    asyncio_posix_virtual_time(1, 0);
    fixture(stalled_handler, 0, "micropython.local");
    asyncio_stream_init(&cl.s, cl.rbuf, sizeof cl.rbuf, cl.wbuf, sizeof cl.wbuf);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, stalled_main), NULL), 0);
    assert_trace("300 handler: cancelled\n300 client: EOF 0\n");
    fixture_free();
}
