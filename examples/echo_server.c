/* SPDX-License-Identifier: MIT */
/* echo_server.c -- a TCP echo server on asyncio_stream.h.
 *
 *     build/examples/echo_server 8888        (then: build/examples/echo_client 127.0.0.1 8888 hi)
 *
 * Up to 16 clients at once; a 17th waits in the listen backlog until one
 * leaves. Each handler echoes what it reads until the client closes.
 */
#define _POSIX_C_SOURCE 200809L
#define ASYNCIO_IMPLEMENTATION        /* this file compiles the core ... */
#define ASYNCIO_STREAM_IMPLEMENTATION /* ... and the streams (stb-style) */
#include "asyncio_stream.h"
#include "example_args.h"

#include <stdio.h>
#include <stdlib.h>

#define SLOTS 16

/* One connection's handler frame plus its stream buffers. */
struct conn {
    asyncio_coro co;
    asyncio_stream *s;
    int n;
    char buf[512];
    char rbuf[64], wbuf[512];
};

static int echo(asyncio_coro *co)
{
    struct conn *c = (struct conn *)co;
    ASYNC_BEGIN(co);
    printf("client connected\n");
    for (;;) {
        AWAIT(asyncio_stream_read(c->s, c->buf, sizeof c->buf));
        c->n = (int)AWAIT_RESULT;
        if (c->n == 0)
            break;                                                /* EOF */
        AWAIT(asyncio_stream_awrite(c->s, c->buf, (size_t)c->n)); /* write + drain */
    }
    ASYNC_FINALLY;
    printf("client gone (%s)\n", asyncio_stream_strerror(ASYNC_ERROR));
    ASYNC_END; /* the server closes the stream and frees the slot */
}

static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    struct conn *c = (struct conn *)user;
    c->s = s;
    return asyncio_coro_init(&c->co, echo);
}

static struct conn conns[SLOTS];
static asyncio_server_slot slots[SLOTS];
static asyncio_server server;

struct main_frame {
    asyncio_coro co;
    int port;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&server, on_connect, "0.0.0.0", f->port, 16, NULL));
    printf("echo server on port %d\n", asyncio_server_port(&server));
    fflush(stdout);
    AWAIT(asyncio_server_wait_closed(&server)); /* forever */
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static struct main_frame m;
    static asyncio_task t;
    int i, r;
    setvbuf(stdout, NULL, _IOLBF, 0);
    example_args(&argc, argv); /* --trace FILE */
    m.port = argc > 1 ? atoi(argv[1]) : 8888;
    asyncio_server_init(&server, slots, SLOTS);
    for (i = 0; i < SLOTS; i++)
        asyncio_server_slot_init(&slots[i], conns[i].rbuf, sizeof conns[i].rbuf, conns[i].wbuf,
                                 sizeof conns[i].wbuf, &conns[i], NULL);
    r = asyncio_run(&t, asyncio_coro_init(&m.co, main_fn), NULL);
    if (r)
        fprintf(stderr, "echo_server: %s\n", asyncio_stream_strerror(r));
    return r ? 1 : 0;
}
