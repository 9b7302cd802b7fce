/* SPDX-License-Identifier: MIT */
/* 1,000 concurrent echo connections in one loop, every byte checked. */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#include <sys/resource.h>

#define N 1000
#define MSG 64
#define ROUNDS 3

static void setup(void)
{
    struct rlimit rl;
    asyncio_posix_virtual_time(0, 0);
    /* Two descriptors per connection plus a few: raise the soft limit. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * N + 64) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}
TestSuite(stream_many, .init = setup, .timeout = 60);

/* Server side: echo until EOF. */
struct conn {
    asyncio_coro co;
    asyncio_stream *s;
    unsigned char buf[MSG];
    unsigned char rbuf[MSG], wbuf[2 * MSG];
};
static struct conn conns[N];
static asyncio_server_slot slots[N];
static asyncio_server srv;
static int open_handlers, max_open_handlers;
static long echoed;

static int echo_fn(asyncio_coro *co)
{
    struct conn *c = (struct conn *)co;
    ASYNC_BEGIN(co);
    if (++open_handlers > max_open_handlers)
        max_open_handlers = open_handlers;
    for (;;) {
        AWAIT(asyncio_stream_read(c->s, c->buf, sizeof c->buf));
        if (AWAIT_RESULT == 0)
            break;
        echoed += (long)AWAIT_RESULT;
        cr_assert_eq(asyncio_stream_write(c->s, c->buf, (size_t)AWAIT_RESULT), 0);
        AWAIT(asyncio_stream_drain(c->s));
    }
    ASYNC_FINALLY;
    open_handlers--;
    ASYNC_END;
}

static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    struct conn *c = (struct conn *)user;
    c->s = s;
    return asyncio_coro_init(&c->co, echo_fn);
}

/* Client side. */
struct client {
    asyncio_coro co;
    asyncio_stream s;
    int id, round, i;
    unsigned char out[MSG], in[MSG];
    unsigned char rbuf[MSG], wbuf[MSG];
};
static struct client clients[N];
static asyncio_task client_tasks[N];
static asyncio_event all_connected, all_verified;
static int connected, verified, port;

static int client_fn(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_open_connection(&c->s, "127.0.0.1", port, NULL));
    if (++connected == N)
        asyncio_event_set(&all_connected);
    AWAIT_EVENT(&all_connected); /* all 1,000 open at once */
    for (c->round = 0; c->round < ROUNDS; c->round++) {
        for (c->i = 0; c->i < MSG; c->i++)
            c->out[c->i] = (unsigned char)(c->id * 31 + c->round * 7 + c->i);
        cr_assert_eq(asyncio_stream_write(&c->s, c->out, MSG), 0);
        AWAIT(asyncio_stream_drain(&c->s));
        AWAIT(asyncio_stream_readexactly(&c->s, c->in, MSG));
        cr_assert_eq(memcmp(c->in, c->out, MSG), 0, "client %d round %d", c->id, c->round);
        verified++;
    }
    if (verified == N * ROUNDS)
        asyncio_event_set(&all_verified);
    AWAIT_EVENT(&all_verified); /* hold every connection until all are checked */
    asyncio_stream_close(&c->s);
    ASYNC_END;
}

static struct {
    asyncio_coro co;
    asyncio_task *tasks[N];
    asyncio_outcome out[N];
    asyncio_gather_state g;
} m;

static int main_fn(asyncio_coro *co)
{
    int i;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, N, NULL));
    port = asyncio_server_port(&srv);
    for (i = 0; i < N; i++) {
        clients[i].id = i;
        asyncio_stream_init(&clients[i].s, clients[i].rbuf, MSG, clients[i].wbuf, MSG);
        asyncio_create_task(&client_tasks[i], asyncio_coro_init(&clients[i].co, client_fn));
        m.tasks[i] = &client_tasks[i];
    }
    AWAIT(asyncio_gather(&m.g, m.tasks, N, m.out, 0));
    while (open_handlers)
        YIELD; /* the handlers see EOF and end */
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(stream_many, thousand_concurrent_echo_connections)
{
    static asyncio_task t;
    int i;
    uint32_t t0 = asyncio_ticks_ms();
    asyncio_server_init(&srv, slots, N);
    for (i = 0; i < N; i++)
        asyncio_server_slot_init(&slots[i], conns[i].rbuf, MSG, conns[i].wbuf, 2 * MSG, &conns[i],
                                 NULL);
    asyncio_event_init(&all_connected);
    asyncio_event_init(&all_verified);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, main_fn), NULL), 0);
    cr_assert_eq(connected, N);
    cr_assert_eq(max_open_handlers, N, "every connection was open at the same time");
    cr_assert_eq(verified, N * ROUNDS);
    cr_assert_eq(echoed, (long)N * ROUNDS * MSG);
    cr_assert_eq(open_handlers, 0);
    printf("%d connections x %d rounds x %d bytes echoed in %u ms; sizeof(asyncio_stream) = %zu, "
           "sizeof(asyncio_server_slot) = %zu\n",
           N, ROUNDS, MSG, asyncio_ticks_ms() - t0, sizeof(asyncio_stream),
           sizeof(asyncio_server_slot));
}
