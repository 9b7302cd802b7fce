/* SPDX-License-Identifier: MIT */
/*
 * stream_check.c -- the packaging test's consumer of asyncio::stream: two
 * streams over the ends of a socketpair; one task writes a line, the other
 * reads it and answers. ASYNCIO_STREAM_TLS must reach this file exactly when
 * the library was built with TLS (EXPECT_TLS), and then the TLS code must
 * link. Exit status 0 on success.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "asyncio.h"
#include "asyncio_stream.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#ifdef ASYNCIO_STREAM_TLS
#define HAVE_TLS 1
#else
#define HAVE_TLS 0
#endif

static asyncio_stream left, right;
static char lr[64], lw[64], rr[64], rw[64];

struct echo_frame {
    asyncio_coro co;
    char line[32];
    asyncio_value n;
};

/* The right end: read a line, answer it upper-cased. */
static int echo_fn(asyncio_coro *co)
{
    struct echo_frame *f = (struct echo_frame *)co;
    size_t i;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_stream_readline(&right, f->line, sizeof f->line));
    f->n = AWAIT_RESULT;
    for (i = 0; i < (size_t)f->n; i++)
        if (f->line[i] >= 'a' && f->line[i] <= 'z')
            f->line[i] = (char)(f->line[i] - 'a' + 'A');
    AWAIT(asyncio_stream_awrite(&right, f->line, (size_t)f->n));
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

struct main_frame {
    asyncio_coro co;
    struct echo_frame echo;
    asyncio_task echo_task;
    char reply[32];
    asyncio_value n;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->echo_task, asyncio_coro_init(&f->echo.co, echo_fn));
    if (asyncio_stream_write(&left, "ping\n", 5) != 0)
        ASYNC_RAISE(ASYNCIO_ECLOSED);
    AWAIT(asyncio_stream_drain(&left));
    AWAIT(asyncio_stream_readexactly(&left, f->reply, 5));
    f->n = AWAIT_RESULT;
    AWAIT_TASK(&f->echo_task);
    asyncio_stream_close(&left);
    asyncio_stream_close(&right);
    ASYNC_RETURN(f->n);
    ASYNC_END;
}

int main(void)
{
    static asyncio_task task;
    static struct main_frame frame;
    asyncio_value v = 0;
    int sv[2];

    CHECK(strcmp(ASYNCIO_VERSION, EXPECT_VERSION) == 0);
    CHECK(HAVE_TLS == EXPECT_TLS);
#ifdef ASYNCIO_STREAM_TLS
    {
        /* The TLS code and mbedTLS link: set a client context up and free it. */
        static asyncio_tls_config cfg;
        CHECK(asyncio_tls_config_init(&cfg, ASYNCIO_TLS_CLIENT) == 0);
        asyncio_tls_config_free(&cfg);
    }
#endif
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    asyncio_stream_init(&left, lr, sizeof lr, lw, sizeof lw);
    asyncio_stream_init(&right, rr, sizeof rr, rw, sizeof rw);
    CHECK(asyncio_stream_attach(&left, sv[0]) == 0);
    CHECK(asyncio_stream_attach(&right, sv[1]) == 0);
    CHECK(asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), &v) == 0);
    CHECK(v == 5 && memcmp(frame.reply, "PING\n", 5) == 0);
    printf("stream_check: asyncio %s, TLS %s, socketpair echo \"%.4s\"\n", ASYNCIO_VERSION,
           HAVE_TLS ? "on" : "off", frame.reply);
    return 0;
}
