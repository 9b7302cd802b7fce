/* SPDX-License-Identifier: MIT */
/* uv_echo.c -- a libuv echo server, the peer in the stream benchmark.
 *     build/bench/uv_echo PORT */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

struct conn {
    uv_tcp_t tcp;
    uv_write_t req;
    char buf[256];
};

static void on_close(uv_handle_t *h) { free(h); }

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = (struct conn *)h;
    (void)hint;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = (struct conn *)req->data;
    if (status < 0)
        uv_close((uv_handle_t *)&c->tcp, on_close);
    else
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = (struct conn *)s;
    uv_buf_t out;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0)
        return;
    uv_read_stop(s); /* one buffer per connection: echo it, then read again */
    out = uv_buf_init(b->base, (unsigned)n);
    c->req.data = c;
    uv_write(&c->req, s, &out, 1, on_written);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct conn *c;
    if (status < 0)
        return;
    c = calloc(1, sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

int main(int argc, char **argv)
{
    static uv_tcp_t server;
    struct sockaddr_in addr;
    struct rlimit rl = {4096, 4096};
    setrlimit(RLIMIT_NOFILE, &rl);
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 9001, &addr);
    uv_tcp_init(uv_default_loop(), &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) ||
        uv_listen((uv_stream_t *)&server, 1024, on_connection))
        return 1;
    return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
