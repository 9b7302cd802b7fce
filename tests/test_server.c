/* SPDX-License-Identifier: MIT */
/*
 * Servers under hostile conditions: idle peers holding every slot (idle
 * timeout), descriptor exhaustion at accept() (back-off, reported once),
 * a callback that returns no handler, and the POSIX port giving back every
 * descriptor it opened when the loop closes. Virtual time: the timeouts
 * are exact.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(server, .init = setup, .timeout = 20);

struct handler {
    asyncio_coro co;
    asyncio_stream *s;
    int id;
    unsigned char buf[64];
    char rbuf[64], wbuf[64];
};
static struct handler handlers[2];
static asyncio_server_slot slots[2];
static asyncio_server srv;

/* The handler: reads until EOF or an error, saying what ended it. */
static int reader_handler(asyncio_coro *co)
{
    struct handler *h = (struct handler *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT(asyncio_stream_read(h->s, h->buf, sizeof h->buf));
        if (AWAIT_RESULT == 0)
            break;
        trace("%5u handler %d: read %d", (unsigned)asyncio_ticks_ms(), h->id, (int)AWAIT_RESULT);
    }
    ASYNC_FINALLY;
    trace("%5u handler %d: ends (%s)", (unsigned)asyncio_ticks_ms(), h->id,
          asyncio_strerror(ASYNC_ERROR));
    ASYNC_END;
}

static int next_id;
static asyncio_coro *on_connect(asyncio_stream *s, void *user)
{
    struct handler *h = (struct handler *)user;
    h->s = s;
    h->id = ++next_id;
    return asyncio_coro_init(&h->co, reader_handler);
}

static void server_setup(size_t nslots)
{
    size_t i;
    next_id = 0;
    asyncio_server_init(&srv, slots, nslots);
    for (i = 0; i < nslots; i++)
        asyncio_server_slot_init(&slots[i], handlers[i].rbuf, sizeof handlers[i].rbuf,
                                 handlers[i].wbuf, sizeof handlers[i].wbuf, &handlers[i], NULL);
}

struct client {
    asyncio_coro co;
    asyncio_stream a, b;
    int port;
    unsigned char buf[64];
    char ra[64], wa[64], rb[64], wb[64];
};
static struct client cl;
static asyncio_task main_task;

/* ---- idle timeout: an idle peer loses its slot, the next client gets it ---- */
static int idle_main(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_server_set_timeouts(&srv, 500, 0), 0);
    AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, NULL));
    c->port = asyncio_server_port(&srv);
    cr_assert_eq(asyncio_server_set_timeouts(&srv, 1, 0), ASYNCIO_EINVAL, "too late: started");
    AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", c->port, NULL)); /* takes the one slot */
    AWAIT_SLEEP_MS(300);
    cr_assert_eq(asyncio_stream_write(&c->a, "ping", 4), 0); /* activity restarts the clock */
    AWAIT(asyncio_stream_drain(&c->a));
    AWAIT(asyncio_open_connection(&c->b, "127.0.0.1", c->port, NULL)); /* waits in the backlog */
    AWAIT(asyncio_stream_read(&c->a, c->buf, sizeof c->buf)); /* the server hangs up on us */
    trace("%5u client a: EOF %d", (unsigned)asyncio_ticks_ms(), (int)AWAIT_RESULT);
    cr_assert_eq(asyncio_stream_write(&c->b, "hi", 2), 0);
    AWAIT(asyncio_stream_drain(&c->b));
    AWAIT_SLEEP_MS(100);
    asyncio_stream_close(&c->b);
    asyncio_stream_close(&c->a);
    AWAIT_SLEEP_MS(10);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(server, an_idle_peer_is_cut_off_after_the_idle_timeout_and_the_next_client_is_served)
{
    server_setup(1);
    asyncio_stream_init(&cl.a, cl.ra, sizeof cl.ra, cl.wa, sizeof cl.wa);
    asyncio_stream_init(&cl.b, cl.rb, sizeof cl.rb, cl.wb, sizeof cl.wb);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, idle_main), NULL), 0);
    assert_trace("  300 handler 1: read 4\n"
                 "  800 handler 1: ends (cancelled)\n"
                 "  800 client a: EOF 0\n"
                 "  800 handler 2: read 2\n"
                 "  900 handler 2: ends (ok)\n");
}

/* ---- descriptors run out: accept() backs off, reports once, recovers ---- */
static int reports;
static void count_reports(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    reports++;
    trace("%5u report: %s: %s", (unsigned)asyncio_ticks_ms(), ctx->message,
          asyncio_stream_strerror(ctx->error));
}

static int raw_connect(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int emfile_main(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    static int raw;
    struct rlimit rl;
    int lowest;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&srv, on_connect, "127.0.0.1", 0, 5, NULL));
    c->port = asyncio_server_port(&srv);
    raw = raw_connect(c->port); /* queued in the backlog, not accepted yet */
    /* No descriptor left: the lowest free one becomes the limit. */
    lowest = dup(0);
    close(lowest);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)lowest;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    AWAIT_SLEEP_MS(1000);
    trace("%5u accept attempts that failed: %u", (unsigned)asyncio_ticks_ms(),
          (unsigned)srv.accept_errors);
    /* Give descriptors back: the waiting connection is accepted. (`rl` is
     * a C local: it did not survive the await, so read it again.) */
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    AWAIT_SLEEP_MS(200);
    trace("%5u failures after recovery: %u", (unsigned)asyncio_ticks_ms(),
          (unsigned)srv.accept_errors);
    close(raw);
    AWAIT_SLEEP_MS(10);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(server, accept_out_of_descriptors_backs_off_reports_once_and_recovers)
{
    skip_under_valgrind("valgrind emulates RLIMIT_NOFILE");
    server_setup(2);
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), count_reports);
    asyncio_stream_init(&cl.a, cl.ra, sizeof cl.ra, cl.wa, sizeof cl.wa);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, emfile_main), NULL), 0);
    /* One accept() per 100 ms of back-off, not a busy loop: at 0, 100, ...
     * 900 ms (the 1000 ms one runs after main's own 1000 ms timer, which was
     * set first); reported once; the connection is accepted at 1000 ms once
     * descriptors are back, and its handler sees EOF when the peer closes. */
    assert_trace("    0 report: Server accept failed: backing off: Too many open files\n"
                 " 1000 accept attempts that failed: 10\n"
                 " 1200 failures after recovery: 0\n"
                 " 1200 handler 1: ends (ok)\n");
    cr_assert_eq(reports, 1);
}

/* ---- a callback that returns no handler: the connection is closed ---- */
static asyncio_coro *refuse(asyncio_stream *s, void *user)
{
    (void)s;
    (void)user;
    return NULL;
}

static int refuse_main(asyncio_coro *co)
{
    struct client *c = (struct client *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_start_server(&srv, refuse, "127.0.0.1", 0, 5, NULL));
    c->port = asyncio_server_port(&srv);
    AWAIT(asyncio_open_connection(&c->a, "127.0.0.1", c->port, NULL));
    AWAIT(asyncio_stream_read(&c->a, c->buf, sizeof c->buf));
    trace("refused: EOF %d, slot free: %d", (int)AWAIT_RESULT, !slots[0].busy);
    asyncio_stream_close(&c->a);
    asyncio_server_close(&srv);
    AWAIT(asyncio_server_wait_closed(&srv));
    ASYNC_END;
}

Test(server, a_callback_returning_no_handler_closes_the_connection)
{
    server_setup(1);
    asyncio_stream_init(&cl.a, cl.ra, sizeof cl.ra, cl.wa, sizeof cl.wa);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, refuse_main), NULL), 0);
    assert_trace("refused: EOF 0, slot free: 1\n");
}

/* ---- the port gives back its descriptors on loop close ---- */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    cr_assert_not_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

Test(server, loop_close_releases_every_descriptor_the_port_opened)
{
    int before = count_fds();
    server_setup(1);
    asyncio_stream_init(&cl.a, cl.ra, sizeof cl.ra, cl.wa, sizeof cl.wa);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, refuse_main), NULL), 0);
    cr_assert_gt(count_fds(), before, "the port holds its wake pipe and epoll set");
    cr_assert_eq(asyncio_loop_close(asyncio_get_event_loop()), 0);
    cr_assert_eq(count_fds(), before, "descriptors left open after close");
    /* And the loop opens again after new_event_loop(). */
    cr_assert_not_null(asyncio_new_event_loop());
    trace_len = 0;
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&cl.co, refuse_main), NULL), 0);
    assert_trace("refused: EOF 0, slot free: 1\n");
}
