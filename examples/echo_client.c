/* SPDX-License-Identifier: MIT */
/* echo_client.c -- send a line to a TCP echo server and print the reply.
 *
 *     build/examples/echo_client [host] [port] [message]
 *     (defaults: 127.0.0.1 8888 "hello, echo")
 */
#define _POSIX_C_SOURCE 200809L
#define ASYNCIO_IMPLEMENTATION        /* this file compiles the core ... */
#define ASYNCIO_STREAM_IMPLEMENTATION /* ... and the streams (stb-style) */
#include "asyncio_stream.h"
#include "example_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

struct client {
    asyncio_coro co;
    asyncio_stream s;
    const char *host, *msg;
    int port;
    char line[512];
    char rbuf[256], wbuf[512];
};

static int client_fn(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    ASYNC_BEGIN(co);
    asyncio_stream_init(&c->s, c->rbuf, sizeof c->rbuf, c->wbuf, sizeof c->wbuf);
    AWAIT(asyncio_open_connection(&c->s, c->host, c->port, NULL));
    printf("sent: %s\n", c->msg);
    if (asyncio_stream_write(&c->s, c->msg, strlen(c->msg)) || asyncio_stream_write(&c->s, "\n", 1))
        ASYNC_RAISE(ASYNCIO_OSERROR(ENOBUFS));
    AWAIT(asyncio_stream_drain(&c->s));
    AWAIT(asyncio_stream_readline(&c->s, c->line, sizeof c->line - 1));
    c->line[AWAIT_RESULT] = '\0';
    printf("got:  %s", c->line);
    ASYNC_FINALLY;
    asyncio_stream_close(&c->s);
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static struct client c;
    static asyncio_task t;
    int r;
    example_args(&argc, argv); /* --trace FILE */
    c.host = argc > 1 ? argv[1] : "127.0.0.1";
    c.port = argc > 2 ? atoi(argv[2]) : 8888;
    c.msg = argc > 3 ? argv[3] : "hello, echo";
    r = asyncio_run(&t, asyncio_coro_init(&c.co, client_fn), NULL);
    if (r)
        fprintf(stderr, "echo_client: %s\n", asyncio_stream_strerror(r));
    return r ? 1 : 0;
}
