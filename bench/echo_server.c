/* SPDX-License-Identifier: MIT */
/*
 * echo_server.c -- the asyncio.h echo server `make bench` drives: like
 * examples/echo_server.c, but quiet and with a slot for every connection.
 *     build/bench/echo_server PORT
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"

#include <stdlib.h>
#include <sys/resource.h>

#define SLOTS 1100

struct conn {
    asyncio_coro co;
    asyncio_stream *s;
    char buf[256];
    char rbuf[256], wbuf[256];
};

static int echo(asyncio_coro *co)
{
    struct conn *c = (struct conn *)co;
    ASYNC_BEGIN(co);
    for (;;) { /* until EOF, or an error such as the client's reset */
        ASYNC_TRY(AWAIT(asyncio_stream_read(c->s, c->buf, sizeof c->buf)));
        if (AWAIT_ERROR || AWAIT_RESULT == 0)
            break;
        if (asyncio_stream_write(c->s, c->buf, (size_t)AWAIT_RESULT) != 0)
            break; /* the buffer holds a whole message: only a dead stream refuses */
        ASYNC_TRY(AWAIT(asyncio_stream_drain(c->s)));
        if (AWAIT_ERROR)
            break;
    }
    ASYNC_END;
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
static int port;

static int main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&server, on_connect, "127.0.0.1", port, 1024, NULL));
    AWAIT(asyncio_server_wait_closed(&server));
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_coro m;
    static asyncio_task t;
    struct rlimit rl = {4096, 4096};
    int i;
    setrlimit(RLIMIT_NOFILE, &rl);
    port = argc > 1 ? atoi(argv[1]) : 9000;
    asyncio_server_init(&server, slots, SLOTS);
    for (i = 0; i < SLOTS; i++)
        asyncio_server_slot_init(&slots[i], conns[i].rbuf, sizeof conns[i].rbuf, conns[i].wbuf,
                                 sizeof conns[i].wbuf, &conns[i], NULL);
    return asyncio_run(&t, asyncio_coro_init(&m, main_fn), NULL) ? 1 : 0;
}
