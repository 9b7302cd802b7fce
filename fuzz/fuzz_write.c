/* SPDX-License-Identifier: MIT */
/*
 * fuzz_write.c -- libFuzzer harness: the stream WRITE side (write, drain,
 * drain cut short by wait_for, awrite, a second writer, early close), over
 * plain and TLS streams (TLS with a pre-shared key, so handshakes are
 * cheap), on a transport that injects short transfers, "again" answers and
 * hard send errors (tests/memtransport.h), checked byte for byte against a
 * model.
 *
 * The input:
 *   byte 0   bit 0: TLS; bits 1-2: the write buffer (16, 64, 300, 1024 B);
 *            bits 3-7: the writer end's most bytes per send (0: no limit)
 *   byte 1   "again" every N sends (writer end; 0: never), and every N
 *            receives (reader end: high nibble)
 *   byte 2   the reader's pause between reads (ms, 0..7) and read size
 *   the rest the writers' operations: kind, size (a byte each); when they
 *            run out, the writers drain what is queued and close.
 *
 * The model: every byte write() accepted (0 returned) or awrite() queued
 * (its value) gets the next number of a pattern, in the order they were
 * queued. The reader must see exactly a prefix of that sequence -- nothing
 * lost, duplicated or reordered -- and, unless the stream was closed early
 * or a send failed, all of it.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_write (model)"
#include "fuzz.h"
#include "../tests/memtransport.h"

enum { OP_WRITE, OP_DRAIN, OP_CUT_DRAIN, OP_AWRITE, OP_SLEEP, OP_CLOSE, OP_FAIL, OP_COUNT };

static const uint8_t *in;
static size_t in_len, in_pos;
static unsigned next_byte(void) { return in_pos < in_len ? in[in_pos++] : 0; }

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7u + (i >> 8) + 1u); }

static mem_end wend, rend;
static asyncio_stream ws, rs;
static asyncio_tls wtls, rtls;
static asyncio_tls_config client_cfg, server_cfg;
static unsigned char wbuf[1024], rbuf[64];

/* The model. */
static size_t queued;   /* bytes accepted into the stream so far */
static size_t received; /* bytes the reader has checked */
static int closed_early, send_failed, awrite_busy;
static size_t awrite_len; /* while an awrite runs, its bytes may arrive before it ends */
static int pause_ms;
static size_t read_size;

struct writer {
    asyncio_coro co;
    asyncio_wait_for_state wf;
    unsigned char buf[1100];
    size_t n;
    int kind;
};
static struct writer w1, w2;
static asyncio_task w1_t, w2_t, reader_t, main_t;

static void fill(struct writer *w, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        w->buf[i] = pattern(queued + i);
}

/* One writer: the shared op stream decides what it does next. */
static int writer_fn(asyncio_coro *co)
{
    struct writer *w = (struct writer *)co;
    int r;
    ASYNC_BEGIN(co);
    while (in_pos + 1 < in_len && !closed_early) {
        w->kind = (int)(next_byte() % OP_COUNT);
        w->n = next_byte() * 4u + 1u;
        if (w->kind == OP_WRITE && !awrite_busy) {
            w->n %= 400;
            fill(w, w->n);
            r = asyncio_stream_write(&ws, w->buf, w->n);
            if (r == 0)
                queued += w->n;
            else
                CHECK(r == ASYNCIO_OSERROR(ENOBUFS) || send_failed, "write: %d", r);
        } else if (w->kind == OP_DRAIN) {
            ASYNC_TRY(AWAIT(asyncio_stream_drain(&ws)));
            CHECK(!AWAIT_ERROR || AWAIT_ERROR == ASYNCIO_EBUSY || send_failed || closed_early,
                  "drain: %d", AWAIT_ERROR);
        } else if (w->kind == OP_CUT_DRAIN) {
            ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&w->wf, asyncio_stream_drain(&ws), w->n % 5)));
            CHECK(!AWAIT_ERROR || AWAIT_ERROR == ASYNCIO_ETIMEDOUT ||
                      AWAIT_ERROR == ASYNCIO_EBUSY || send_failed || closed_early,
                  "cut drain: %d", AWAIT_ERROR);
            /* A wait_for whose task was cancelled may still be winding
             * down: it must end before its frame is reused. */
            while (w->wf.runner.state == ASYNCIO_TASK_PENDING)
                YIELD;
        } else if (w->kind == OP_AWRITE && !awrite_busy) {
            w->n = w->n * 4u % sizeof w->buf;
            fill(w, w->n);
            awrite_busy = 1;
            awrite_len = w->n;
            ASYNC_TRY(AWAIT(asyncio_stream_awrite(&ws, w->buf, w->n)));
            awrite_busy = 0;
            if (AWAIT_ERROR == ASYNCIO_EBUSY) {
                CHECK(AWAIT_RESULT == 0, "a busy awrite queued %d", (int)AWAIT_RESULT);
            } else {
                CHECK(!AWAIT_ERROR || send_failed || closed_early, "awrite: %d", AWAIT_ERROR);
                CHECK((size_t)AWAIT_RESULT <= w->n, "awrite value %d", (int)AWAIT_RESULT);
                CHECK(AWAIT_ERROR || (size_t)AWAIT_RESULT == w->n, "awrite short");
                queued += (size_t)AWAIT_RESULT;
            }
        } else if (w->kind == OP_SLEEP) {
            AWAIT_SLEEP_MS(w->n % 4);
        } else if (w->kind == OP_CLOSE && w->n % 16 == 0) {
            closed_early = 1;
            asyncio_stream_close(&ws);
        } else if (w->kind == OP_FAIL && w->n % 32 == 0 && !wend.fail_write) {
            send_failed = 1;
            wend.fail_write = ASYNCIO_OSERROR(ECONNRESET);
        }
    }
    ASYNC_END;
}

static int reader_fn(asyncio_coro *co)
{
    static unsigned char buf[512];
    size_t i, n;
    ASYNC_BEGIN(co);
    for (;;) {
        ASYNC_TRY(AWAIT(asyncio_stream_read(&rs, buf, read_size)));
        if (AWAIT_ERROR) {
            /* The writer closed this end's peer without a TLS close_notify
             * (a failed send), or the stream itself was closed. */
            CHECK(AWAIT_ERROR == ASYNCIO_ECLOSED || AWAIT_ERROR == ASYNCIO_EEOF ||
                      ((send_failed || closed_early) && AWAIT_ERROR < 0),
                  "read: %d", AWAIT_ERROR);
            break;
        }
        n = (size_t)AWAIT_RESULT;
        if (n == 0)
            break;
        for (i = 0; i < n; i++)
            CHECK(buf[i] == pattern(received + i), "byte %zu differs", received + i);
        received += n;
        CHECK(received <= queued + (awrite_busy ? awrite_len : 0),
              "received %zu, more than the %zu queued", received, queued);
        if (pause_ms)
            AWAIT_SLEEP_MS(pause_ms);
    }
    ASYNC_END;
}

static asyncio_coro reader_co;

static int run_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_create_task(&reader_t, asyncio_coro_init(&reader_co, reader_fn));
    asyncio_create_task(&w1_t, asyncio_coro_init(&w1.co, writer_fn));
    asyncio_create_task(&w2_t, asyncio_coro_init(&w2.co, writer_fn));
    AWAIT_TASK(&w1_t);
    AWAIT_TASK(&w2_t);
    /* Out of operations: drain what is queued, then close. */
    if (!closed_early) {
        ASYNC_TRY(AWAIT(asyncio_stream_drain(&ws)));
        CHECK(!AWAIT_ERROR || send_failed, "final drain: %d", AWAIT_ERROR);
        asyncio_stream_close(&ws);
    }
    AWAIT_TASK(&reader_t);
    ASYNC_END;
}

static void tls_setup_once(void)
{
    static int done;
    static const unsigned char psk[16] = "asyncio.h fuzz!";
    static const int suites[] = {MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256, 0};
    if (done)
        return;
    done = 1;
    CHECK(asyncio_tls_config_init(&client_cfg, ASYNCIO_TLS_CLIENT) == 0, "client config");
    CHECK(asyncio_tls_config_init(&server_cfg, ASYNCIO_TLS_SERVER) == 0, "server config");
    asyncio_tls_config_verify_mode(&client_cfg, ASYNCIO_TLS_CERT_NONE);
    CHECK(mbedtls_ssl_conf_psk(&client_cfg.conf, psk, sizeof psk, (const unsigned char *)"f", 1) ==
              0,
          "psk");
    CHECK(mbedtls_ssl_conf_psk(&server_cfg.conf, psk, sizeof psk, (const unsigned char *)"f", 1) ==
              0,
          "psk");
    mbedtls_ssl_conf_ciphersuites(&client_cfg.conf, suites);
    mbedtls_ssl_conf_ciphersuites(&server_cfg.conf, suites);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
    static const size_t wcaps[4] = {16, 64, 300, 1024};
    static asyncio_coro run_co;
    unsigned cfg, again, rd;
    int tls, r;
    in = d;
    in_len = size;
    in_pos = 0;
    cfg = next_byte();
    again = next_byte();
    rd = next_byte();
    tls = (int)(cfg & 1u);
    pause_ms = (int)(rd % 8);
    read_size = 1 + (rd >> 3) * 16u;
    queued = received = 0;
    closed_early = send_failed = awrite_busy = 0;
    memset(&w1, 0, sizeof w1);
    memset(&w2, 0, sizeof w2);
    memset(&w1_t, 0, sizeof w1_t);
    memset(&w2_t, 0, sizeof w2_t);
    memset(&reader_t, 0, sizeof reader_t);
    memset(&main_t, 0, sizeof main_t);

    asyncio_posix_virtual_time(1, 0xFFFFFF00u);
    asyncio_new_event_loop();
    mem_pair(&wend, &rend);
    wend.max_io = cfg >> 3;
    wend.again_every = (again & 15u) < 2 ? 0 : again & 15u; /* 1 would be "never ready" */
    rend.again_every = (again >> 4) < 2 ? 0 : again >> 4;
    asyncio_stream_init(&ws, NULL, 0, wbuf, wcaps[(cfg >> 1) & 3u]);
    asyncio_stream_init(&rs, rbuf, sizeof rbuf, NULL, 0);
    if (tls) {
        tls_setup_once();
        CHECK(asyncio_tls_wrap(&wtls, &client_cfg, &wend.base, NULL) == 0, "wrap");
        CHECK(asyncio_tls_wrap(&rtls, &server_cfg, &rend.base, NULL) == 0, "wrap");
        CHECK(asyncio_stream_open(&ws, &wtls.base) == 0, "open");
        CHECK(asyncio_stream_open(&rs, &rtls.base) == 0, "open");
    } else {
        CHECK(asyncio_stream_open(&ws, &wend.base) == 0, "open");
        CHECK(asyncio_stream_open(&rs, &rend.base) == 0, "open");
    }
    r = asyncio_run(&main_t, asyncio_coro_init(&run_co, run_fn), NULL);
    CHECK(r == 0, "run ended with %d", r);
    CHECK(received <= queued, "received %zu of %zu", received, queued);
    if (!closed_early && !send_failed)
        CHECK(received == queued, "lost bytes: received %zu of %zu queued", received, queued);
    asyncio_stream_close(&ws);
    asyncio_stream_close(&rs);
    if (tls) {
        asyncio_tls_free(&wtls);
        asyncio_tls_free(&rtls);
    }
    return 0;
}
