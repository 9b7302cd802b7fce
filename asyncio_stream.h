/*
 * asyncio_stream.h -- MicroPython's asyncio TCP streams on top of asyncio.h.
 *
 * One header. Its implementation is compiled in the translation unit that
 * defines ASYNCIO_STREAM_IMPLEMENTATION (port_posix.c does, right after the
 * core). POSIX sockets; TLS through mbedTLS when ASYNCIO_STREAM_TLS is
 * defined (define it for every file, or for none). No malloc: every stream,
 * server and buffer belongs to the caller.
 *
 * ---------------------------------------------------------------------------
 * IN SHORT
 * ---------------------------------------------------------------------------
 *
 *     static char rbuf[256], wbuf[256];
 *     static asyncio_stream s;
 *     ...
 *     asyncio_stream_init(&s, rbuf, sizeof rbuf, wbuf, sizeof wbuf);
 *     AWAIT(asyncio_open_connection(&s, "127.0.0.1", 8080, NULL));
 *     asyncio_stream_write(&s, "hello\n", 6);       // buffers, never blocks
 *     AWAIT(asyncio_stream_drain(&s));
 *     AWAIT(asyncio_stream_readline(&s, f->line, sizeof f->line));
 *     n = AWAIT_RESULT;                              // bytes, 0 at EOF
 *     asyncio_stream_close(&s);
 *     AWAIT(asyncio_stream_wait_closed(&s));
 *
 * A stream is both Python's reader and writer. Its operations are coroutine
 * objects whose frames live inside the stream: one read operation (read,
 * readinto, readexactly, readline, open_connection's handshake) and one write
 * operation (drain, open_connection) may be in flight at a time, each in any
 * task; starting a second one while the first is suspended gives EBUSY.
 * The byte count is the operation's value (AWAIT_RESULT). When an operation
 * fails part-way (EOF in readexactly, a reset, a cancellation) AWAIT_RESULT
 * (under ASYNC_TRY) still holds the number of bytes already stored in the
 * caller's buffer: nothing received is lost.
 *
 * As in MicroPython, every read operation first waits for the socket to be
 * readable (so a read always lets other tasks run), and drain() with nothing
 * buffered is a sleep(0).
 *
 * A server accepts connections into a caller-owned pool of slots (task +
 * stream + buffers + your handler frame) and runs the callback's coroutine
 * as a new task per connection. When every slot is busy the server stops
 * accepting (connections wait in the kernel's listen backlog) until a
 * handler ends: back-pressure, never a dropped connection.
 *
 * Scoped use (Python's `async with server:`) is ASYNC_FINALLY:
 *
 *     AWAIT(asyncio_start_server(&srv, cb, "0.0.0.0", 8080, 5, NULL));
 *     ... use the server ...
 *     ASYNC_FINALLY;
 *     asyncio_server_close(&srv);
 *     AWAIT(asyncio_server_wait_closed(&srv));
 *     ASYNC_END;
 *
 * Memory: sizeof(asyncio_stream) is 120 bytes on a 32-bit Cortex-M (232 on
 * LP64 hosts), plus the two buffers you give it. A server slot (stream
 * included) is 184 bytes on Cortex-M (352 on LP64) plus your handler frame
 * and buffers; asyncio_server is 140 bytes (Cortex-M). With TLS, each stream also needs an
 * asyncio_tls session (mbedTLS's context; mbedTLS allocates its own record buffers).
 *
 * IRQ safety: none of these functions is IRQ-safe; call them from the loop's
 * thread only.
 */
#ifndef ASYNCIO_STREAM_H
#define ASYNCIO_STREAM_H

#include "asyncio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Errors: asyncio.h's codes, including the streams' own ASYNCIO_ENOHOST and
 * ASYNCIO_ETLS*, and ASYNCIO_OSERROR(errno). */

/* asyncio_strerror(), with the C library's text for OSError codes (never NULL). */
const char *asyncio_stream_strerror(int err);

typedef struct asyncio_stream asyncio_stream;
struct asyncio_tls;        /* a TLS session (ASYNCIO_STREAM_TLS) */
struct asyncio_tls_config; /* Python's SSLContext (ASYNCIO_STREAM_TLS) */

/* The frame of one stream operation (private). */
typedef struct asyncio_stream_op {
    asyncio_coro co;
    unsigned char *buf;
    size_t n;   /* bytes wanted / buffer capacity / port */
    size_t got; /* bytes stored so far (also the op's value) */
    uint8_t kind;
    uint8_t want;      /* ASYNCIO_IO_READ or _WRITE: what to wait for next */
    uint8_t must_wait; /* the last transfer said "again": wait before retrying */
} asyncio_stream_op;

/*
 * A TCP stream (reader and writer in one). The read buffer holds bytes
 * received but not yet consumed (readline reads ahead into it); the write
 * buffer holds what write() could not send at once. Fields are private.
 */
struct asyncio_stream {
    asyncio_io io; /* io.fd is the socket, -1 when not open */
    unsigned char *rbuf, *wbuf;
    size_t rcap, rpos, rlen; /* unread bytes: rbuf[rpos .. rpos + rlen) */
    size_t wcap, wpos, wlen; /* unsent bytes: wbuf[wpos .. wpos + wlen) */
    asyncio_stream_op rop, wop;
    struct asyncio_tls *tls; /* NULL: plain TCP */
    uint8_t state;           /* private: never opened / open / closed */
};

/*
 * Prepare a stream with its read and write buffers (either may be NULL with
 * capacity 0: then readline reads byte by byte, and write() accepts nothing
 * but the empty message). Not IRQ-safe; no errors.
 */
void asyncio_stream_init(asyncio_stream *s, void *rbuf, size_t rcap, void *wbuf, size_t wcap);

/*
 * open_connection(host, port, ssl): AWAIT it; resolves `host` (blocking, as
 * MicroPython does), connects without blocking and, with `ssl` non-NULL,
 * runs the TLS handshake. The stream must be initialised and not open; on
 * any failure it is left closed. Value 0. Errors: ENOHOST (unresolvable),
 * ASYNCIO_OSERROR(ECONNREFUSED and other errnos), ETLS*, ECANCELLED,
 * EINVAL (bad arguments, or ssl without ASYNCIO_STREAM_TLS), EBUSY (open).
 */
asyncio_coro *asyncio_open_connection(asyncio_stream *s, const char *host, int port,
                                      struct asyncio_tls_config *ssl);

/* Wrap an already-connected socket `fd` (made non-blocking here). 0, or
 * EINVAL (fd < 0) / EBUSY (stream open). */
int asyncio_stream_attach(asyncio_stream *s, int fd);

/*
 * read(n): AWAIT it; waits for data and stores up to `n` bytes in `buf`.
 * Value: the count, 0 at EOF (and for n == 0). Errors: OSError (e.g.
 * ECONNRESET), ECLOSED, ECANCELLED, EBUSY (a read is in flight), EINVAL.
 */
asyncio_coro *asyncio_stream_read(asyncio_stream *s, void *buf, size_t n);

/*
 * read(-1): AWAIT it; reads until EOF into `buf` (capacity `cap`). Value:
 * the count. Errors: ENOBUFS (OSError) if `cap` fills before EOF (the value
 * is then `cap`), and those of read().
 */
asyncio_coro *asyncio_stream_readall(asyncio_stream *s, void *buf, size_t cap);

/* readinto(buf): read() into a buffer that must be non-NULL and non-empty
 * (EINVAL otherwise, as Python's TypeError). */
asyncio_coro *asyncio_stream_readinto(asyncio_stream *s, void *buf, size_t n);

/*
 * readexactly(n): AWAIT it; value `n` once `n` bytes are in `buf`; n == 0
 * returns at once. Errors: EEOF when the peer closes first -- the bytes that
 * did arrive are in `buf` and their count is AWAIT_RESULT; those of read().
 */
asyncio_coro *asyncio_stream_readexactly(asyncio_stream *s, void *buf, size_t n);

/*
 * readline(): AWAIT it; stores bytes up to and including '\n' (at most
 * `cap`: a longer line comes in pieces). Value: the count; 0 at EOF; a last
 * line without '\n' is returned as is. Reads ahead into the read buffer.
 * Errors: those of read().
 */
asyncio_coro *asyncio_stream_readline(asyncio_stream *s, void *buf, size_t cap);

/*
 * write(buf): queue `n` bytes; never blocks. With nothing queued it tries to
 * send at once; the rest goes to the write buffer. If the write buffer
 * cannot hold all `n` bytes nothing is written (no partial message) and the
 * error is ASYNCIO_OSERROR(ENOBUFS): drain() and retry. 0 on success.
 * Errors also: ECLOSED (not open / closed), OSError from send().
 */
int asyncio_stream_write(asyncio_stream *s, const void *buf, size_t n);

/*
 * drain(): AWAIT it; waits until the write buffer is sent (a sleep(0) when
 * it is empty). Value 0. Errors: ECLOSED, OSError (EPIPE, ECONNRESET...),
 * ETLS*, ECANCELLED (what was sent stays sent, the rest stays queued),
 * EBUSY (a drain is in flight).
 */
asyncio_coro *asyncio_stream_drain(asyncio_stream *s);

/* close(): close the socket now; unsent bytes are dropped (drain first).
 * Tasks blocked on the stream wake with ECLOSED. A second close is a no-op. */
void asyncio_stream_close(asyncio_stream *s);

/* wait_closed(): AWAIT it; closes the stream if needed; value 0. */
asyncio_coro *asyncio_stream_wait_closed(asyncio_stream *s);

/*
 * get_extra_info(name): "peername" (and "sockname") fill `out` with a
 * struct sockaddr of *len bytes at most (struct sockaddr_storage fits) and
 * set *len. 0, or EINVAL (unknown name, NULL), ECLOSED, OSError.
 */
int asyncio_stream_get_extra_info(asyncio_stream *s, const char *name, void *out, size_t *len);

/* The stream's socket, -1 when not open. */
int asyncio_stream_fd(const asyncio_stream *s);

/* The last mbedTLS error code seen on this stream (0: none). */
int asyncio_stream_tls_error(const asyncio_stream *s);

/* ======================================================================== */
/* Server                                                                    */
/* ======================================================================== */

typedef struct asyncio_server asyncio_server;

/* Build the handler coroutine for a new connection (Python's client_connected
 * callback): keep its frame in `user` (the slot's memory). NULL: the
 * connection is closed at once. */
typedef asyncio_coro *(*asyncio_server_cb)(asyncio_stream *s, void *user);

/* One connection slot of a server's pool (caller-owned; fields private). */
typedef struct asyncio_server_slot {
    asyncio_task task; /* runs the handler */
    asyncio_coro wrap; /* runs the handler, then closes the stream */
    asyncio_coro *handler;
    asyncio_server *server;
    void *user;
    asyncio_stream stream;
    uint8_t busy;
} asyncio_server_slot;

/* Prepare a slot: the stream buffers for its connections, the `user` pointer
 * handed to the callback, and (TLS servers) its session, else NULL. */
void asyncio_server_slot_init(asyncio_server_slot *slot, void *rbuf, size_t rcap, void *wbuf,
                              size_t wcap, void *user, struct asyncio_tls *tls);

/* A TCP server (fields private). */
struct asyncio_server {
    asyncio_coro start_co, serve_co, wait_co;
    asyncio_task task; /* the accept loop */
    asyncio_io io;     /* the listening socket */
    asyncio_event slot_freed;
    asyncio_server_slot *slots;
    size_t nslots, next;
    asyncio_server_cb cb;
    struct asyncio_tls_config *ssl;
    const char *host;
    int port, backlog;
    uint8_t closing, started;
};

/* Give the server its pool of `n` slots (before start_server). */
void asyncio_server_init(asyncio_server *srv, asyncio_server_slot *slots, size_t n);

/*
 * start_server(cb, host, port, backlog, ssl): AWAIT it; binds (SO_REUSEADDR)
 * and listens, starts the accept loop as a task, and lets it run once
 * (sleep(0)). Port 0 picks a free port (asyncio_server_port()). Value 0.
 * Errors: ASYNCIO_OSERROR(EADDRINUSE) and other errnos, ENOHOST, EINVAL,
 * EBUSY (already started), ECANCELLED (the accept loop is cancelled too).
 */
asyncio_coro *asyncio_start_server(asyncio_server *srv, asyncio_server_cb cb, const char *host,
                                   int port, int backlog, struct asyncio_tls_config *ssl);

/* Server.close(): stop accepting; the listening socket closes once the
 * accept loop sees it. Running handlers carry on. */
void asyncio_server_close(asyncio_server *srv);

/* Server.wait_closed(): AWAIT it (one waiter at a time); 0 once the accept
 * loop has ended after close(). ECANCELLED if the accept loop was cancelled
 * any other way (e.g. through a task awaiting it). */
asyncio_coro *asyncio_server_wait_closed(asyncio_server *srv);

/* The port the server listens on (useful with port 0), or an error. */
int asyncio_server_port(const asyncio_server *srv);

#ifdef ASYNCIO_STREAM_TLS
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

/* ======================================================================== */
/* TLS (mbedTLS), with ASYNCIO_STREAM_TLS                                    */
/* ======================================================================== */

#define ASYNCIO_TLS_CLIENT 0
#define ASYNCIO_TLS_SERVER 1
#define ASYNCIO_TLS_CERT_NONE 0     /* don't verify the peer */
#define ASYNCIO_TLS_CERT_OPTIONAL 1 /* verify if it sends a certificate */
#define ASYNCIO_TLS_CERT_REQUIRED 2 /* the peer must send a valid certificate */

/* Python's SSLContext. Caller-owned; fields private. */
typedef struct asyncio_tls_config {
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt own_cert, ca;
    mbedtls_pk_context key;
    const char *server_hostname;
    int endpoint;
} asyncio_tls_config;

/* One TLS session, one per stream (give it to asyncio_stream_set_tls or to
 * a server slot). Caller-owned; fields private. */
typedef struct asyncio_tls {
    mbedtls_ssl_context ssl;
    asyncio_stream *s;
    int last_err, sys_err;
    uint8_t ready, handshaken;
} asyncio_tls;

/* SSLContext(PROTOCOL_TLS_CLIENT / _SERVER). Clients default to
 * CERT_REQUIRED, servers to CERT_NONE. 0, or ETLS. */
int asyncio_tls_config_init(asyncio_tls_config *c, int endpoint);
/* load_cert_chain(cert, key): PEM (NUL-terminated) or DER. 0, or ETLS. */
int asyncio_tls_config_load_cert_chain(asyncio_tls_config *c, const unsigned char *cert,
                                       size_t cert_len, const unsigned char *key, size_t key_len);
/* load_verify_locations(cadata): PEM or DER CA certificates. 0, or ETLS. */
int asyncio_tls_config_load_verify(asyncio_tls_config *c, const unsigned char *ca, size_t len);
/* verify_mode = ASYNCIO_TLS_CERT_*. */
void asyncio_tls_config_verify_mode(asyncio_tls_config *c, int mode);
/* server_hostname for open_connection (default: the host argument). */
void asyncio_tls_config_server_hostname(asyncio_tls_config *c, const char *name);
/* Release what mbedTLS allocated for the config. */
void asyncio_tls_config_free(asyncio_tls_config *c);

/* Use session `t` for the stream's next open_connection. */
void asyncio_stream_set_tls(asyncio_stream *s, asyncio_tls *t);
/* Release what mbedTLS allocated for a session (after close). */
void asyncio_tls_free(asyncio_tls *t);
#endif /* ASYNCIO_STREAM_TLS */

#ifdef __cplusplus
}
#endif

#endif /* ASYNCIO_STREAM_H */

/* ######################################################################## */
/* Implementation                                                           */
/* ######################################################################## */
#if defined(ASYNCIO_STREAM_IMPLEMENTATION) && !defined(ASYNCIO_STREAM_IMPLEMENTATION_DONE_)
#define ASYNCIO_STREAM_IMPLEMENTATION_DONE_

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#define ASYNCIO_STREAM_SENDFLAGS_ MSG_NOSIGNAL
#else
#define ASYNCIO_STREAM_SENDFLAGS_ 0
#endif

enum { ASYNCIO_STREAM_IDLE_, ASYNCIO_STREAM_OPEN_, ASYNCIO_STREAM_CLOSED_ };
enum {
    ASYNCIO_OP_READ_,
    ASYNCIO_OP_READALL_,
    ASYNCIO_OP_READINTO_,
    ASYNCIO_OP_EXACT_,
    ASYNCIO_OP_LINE_,
    ASYNCIO_OP_DRAIN_,
    ASYNCIO_OP_CONNECT_
};
/* Internal outcomes of one transfer: try again once readable / writable. */
#define ASYNCIO_STREAM_AGAIN_READ_ (-1058)
#define ASYNCIO_STREAM_AGAIN_WRITE_ (-1059)

const char *asyncio_stream_strerror(int err)
{
    if (err < 0 && err > -1000)
        return strerror(-err);
    return asyncio_strerror(err);
}

/* Two coroutine objects that need no frame of their own. */
static int asyncio_stream_busy_fn_(asyncio_coro *co)
{
    (void)co;
    return ASYNCIO_EBUSY;
}
static int asyncio_stream_done_fn_(asyncio_coro *co)
{
    (void)co;
    return ASYNCIO_OK;
}
static asyncio_coro asyncio_stream_busy_co_ = {.fn = asyncio_stream_busy_fn_};
static asyncio_coro asyncio_stream_done_co_ = {.fn = asyncio_stream_done_fn_};

static void asyncio_stream_nonblock_(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int asyncio_stream_errno_(void) { return ASYNCIO_OSERROR(errno ? errno : EIO); }

void asyncio_stream_init(asyncio_stream *s, void *rbuf, size_t rcap, void *wbuf, size_t wcap)
{
    memset(s, 0, sizeof *s);
    asyncio_io_init(&s->io, -1);
    s->rbuf = (unsigned char *)rbuf;
    s->rcap = rbuf ? rcap : 0;
    s->wbuf = (unsigned char *)wbuf;
    s->wcap = wbuf ? wcap : 0;
}

int asyncio_stream_fd(const asyncio_stream *s) { return s ? s->io.fd : -1; }

static void asyncio_stream_open_(asyncio_stream *s, int fd)
{
    asyncio_io_init(&s->io, fd);
    s->rpos = s->rlen = s->wpos = s->wlen = 0;
    s->state = ASYNCIO_STREAM_OPEN_;
}

int asyncio_stream_attach(asyncio_stream *s, int fd)
{
    if (!s || fd < 0)
        return ASYNCIO_EINVAL;
    if (s->state == ASYNCIO_STREAM_OPEN_)
        return ASYNCIO_EBUSY;
    asyncio_stream_nonblock_(fd);
    asyncio_stream_open_(s, fd);
    return ASYNCIO_OK;
}

/* A coroutine frame is busy while it is suspended half-way. */
static int asyncio_stream_busy_(const asyncio_coro *co)
{
    return co->line != 0 && co->line != ASYNCIO_LINE_DONE;
}
#define asyncio_stream_op_busy_(op) asyncio_stream_busy_(&(op)->co)

/* ------------------------------------------------------------------------ */
/* Transfers: plain sockets or TLS                                          */
/* ------------------------------------------------------------------------ */

#ifdef ASYNCIO_STREAM_TLS
static int asyncio_tls_recv_(asyncio_stream *s, unsigned char *buf, size_t n);
static int asyncio_tls_send_(asyncio_stream *s, const unsigned char *buf, size_t n);
static int asyncio_tls_handshake_(asyncio_stream *s);
static int asyncio_tls_pending_(const asyncio_stream *s);
static int asyncio_tls_start_(asyncio_stream *s, asyncio_tls_config *c, const char *host);
static void asyncio_tls_stop_(asyncio_stream *s);
#endif

/* > 0 bytes, 0 at EOF, AGAIN_READ_/AGAIN_WRITE_, or an error. */
static int asyncio_stream_recv_(asyncio_stream *s, unsigned char *buf, size_t n, int peek)
{
    ssize_t r;
    if (n > 0x40000000u)
        n = 0x40000000u;
#ifdef ASYNCIO_STREAM_TLS
    if (s->tls)
        return asyncio_tls_recv_(s, buf, n);
#endif
    do
        r = recv(s->io.fd, buf, n, peek ? MSG_PEEK : 0);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return ASYNCIO_STREAM_AGAIN_READ_;
    return asyncio_stream_errno_();
}

static int asyncio_stream_send_(asyncio_stream *s, const unsigned char *buf, size_t n)
{
    ssize_t r;
    if (n > 0x40000000u)
        n = 0x40000000u;
#ifdef ASYNCIO_STREAM_TLS
    if (s->tls)
        return asyncio_tls_send_(s, buf, n);
#endif
    do
        r = send(s->io.fd, buf, n, ASYNCIO_STREAM_SENDFLAGS_);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return ASYNCIO_STREAM_AGAIN_WRITE_;
    return asyncio_stream_errno_();
}

/* Work a read can do before the socket is readable: TLS bytes already
 * decrypted, or a handshake not started yet (a client speaks first). */
static int asyncio_stream_pending_(const asyncio_stream *s)
{
#ifdef ASYNCIO_STREAM_TLS
    if (s->tls)
        return asyncio_tls_pending_(s);
#else
    (void)s;
#endif
    return 0;
}

/* TLS handshake step: 0 done (or plain TCP), AGAIN_*, or an error. */
static int asyncio_stream_handshake_(asyncio_stream *s)
{
#ifdef ASYNCIO_STREAM_TLS
    if (s->tls)
        return asyncio_tls_handshake_(s);
#else
    (void)s;
#endif
    return ASYNCIO_OK;
}

int asyncio_stream_tls_error(const asyncio_stream *s)
{
#ifdef ASYNCIO_STREAM_TLS
    if (s && s->tls)
        return ((const asyncio_tls *)s->tls)->last_err;
#else
    (void)s;
#endif
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Read operations (the `rop` frame)                                        */
/* ------------------------------------------------------------------------ */

/* Take up to `n` buffered bytes (read-ahead of readline) into `dst`. */
static size_t asyncio_stream_take_(asyncio_stream *s, unsigned char *dst, size_t n)
{
    if (n > s->rlen)
        n = s->rlen;
    memcpy(dst, s->rbuf + s->rpos, n);
    s->rpos += n;
    s->rlen -= n;
    return n;
}

/* Move buffered bytes up to and including '\n' to the op; 1 if a whole line
 * (or a full buffer) is there. */
static int asyncio_stream_take_line_(asyncio_stream *s, asyncio_stream_op *op)
{
    size_t room = op->n - op->got, n = s->rlen < room ? s->rlen : room;
    const unsigned char *nl = n ? (const unsigned char *)memchr(s->rbuf + s->rpos, '\n', n) : NULL;
    if (nl)
        n = (size_t)(nl - (s->rbuf + s->rpos)) + 1;
    op->got += asyncio_stream_take_(s, op->buf + op->got, n);
    return nl != NULL || op->got == op->n;
}

static int asyncio_stream_read_fn_(asyncio_coro *co)
{
    asyncio_stream_op *op = (asyncio_stream_op *)(void *)co;
    asyncio_stream *s = (asyncio_stream *)(void *)((char *)op - offsetof(asyncio_stream, rop));
    unsigned char probe;
    int r;
    ASYNCIO_BEGIN(co);
    if (s->state != ASYNCIO_STREAM_OPEN_)
        ASYNCIO_RAISE(ASYNCIO_ECLOSED);
    if (op->kind == ASYNCIO_OP_READINTO_ && (!op->buf || op->n == 0))
        ASYNCIO_RAISE(ASYNCIO_EINVAL);
    if (!op->buf && op->n)
        ASYNCIO_RAISE(ASYNCIO_EINVAL);
    if (op->n == 0)
        ASYNCIO_RETURN(0); /* read(0), readexactly(0) */
    /* Bytes read ahead by readline come first. */
    if (op->kind == ASYNCIO_OP_LINE_) {
        if (asyncio_stream_take_line_(s, op))
            ASYNCIO_RETURN(op->got);
    } else if (s->rlen) {
        op->got = asyncio_stream_take_(s, op->buf, op->n);
        if (op->kind == ASYNCIO_OP_READALL_) {
            if (s->rlen) /* the buffer is full and EOF is not reached */
                ASYNCIO_RAISE(ASYNCIO_OSERROR(ENOBUFS));
        } else if (op->kind != ASYNCIO_OP_EXACT_ || op->got == op->n) {
            ASYNCIO_RETURN(op->got); /* readexactly reads on for the rest */
        }
    }
    op->want = ASYNCIO_IO_READ;
    op->must_wait = 0;
    for (;;) {
        /* As MicroPython: wait first, unless TLS has work to do already. */
        if (op->must_wait || !asyncio_stream_pending_(s)) {
            ASYNCIO_AWAIT_IO(&s->io, op->want);
            if (s->state != ASYNCIO_STREAM_OPEN_)
                ASYNCIO_RAISE(ASYNCIO_ECLOSED);
        }
        op->must_wait = 0;
        r = asyncio_stream_handshake_(s);
        if (r == ASYNCIO_OK) {
            if (op->kind == ASYNCIO_OP_LINE_ && s->rcap) {
                r = asyncio_stream_recv_(s, s->rbuf, s->rcap, 0);
                if (r > 0) {
                    s->rpos = 0;
                    s->rlen = (size_t)r;
                    if (asyncio_stream_take_line_(s, op))
                        ASYNCIO_RETURN(op->got);
                    continue;
                }
            } else if (op->got == op->n) {
                /* read(-1) with a full buffer: is EOF next? A byte read to
                 * find out stays in the read buffer. */
                if (s->rcap) {
                    r = asyncio_stream_recv_(s, s->rbuf, 1, 0);
                    if (r > 0) {
                        s->rpos = 0;
                        s->rlen = 1;
                    }
                } else {
                    r = s->tls ? 1 : asyncio_stream_recv_(s, &probe, 1, 1);
                }
                if (r > 0)
                    ASYNCIO_RAISE(ASYNCIO_OSERROR(ENOBUFS));
            } else {
                size_t want = op->kind == ASYNCIO_OP_LINE_ ? 1 : op->n - op->got;
                r = asyncio_stream_recv_(s, op->buf + op->got, want, 0);
                if (r > 0) {
                    op->got += (size_t)r;
                    op->co.value = (asyncio_value)op->got;
                    if (op->kind == ASYNCIO_OP_READ_ || op->kind == ASYNCIO_OP_READINTO_ ||
                        (op->got == op->n && op->kind != ASYNCIO_OP_READALL_) ||
                        (op->kind == ASYNCIO_OP_LINE_ && op->buf[op->got - 1] == '\n'))
                        ASYNCIO_RETURN(op->got);
                    continue;
                }
            }
        }
        if (r == ASYNCIO_STREAM_AGAIN_READ_ || r == ASYNCIO_STREAM_AGAIN_WRITE_) {
            op->want = r == ASYNCIO_STREAM_AGAIN_READ_ ? ASYNCIO_IO_READ : ASYNCIO_IO_WRITE;
            op->must_wait = 1;
            continue;
        }
        if (r < 0)
            ASYNCIO_RAISE(r);
        /* EOF */
        if (op->kind == ASYNCIO_OP_EXACT_)
            ASYNCIO_RAISE(ASYNCIO_EEOF);
        ASYNCIO_RETURN(op->got);
    }
    ASYNCIO_FINALLY;
    /* However the read ends (done, EOF, error, cancelled), its value is the
     * count of bytes that reached the caller's buffer: nothing is lost. */
    co->value = (asyncio_value)op->got;
    ASYNCIO_END;
}

static asyncio_coro *asyncio_stream_read_op_(asyncio_stream *s, void *buf, size_t n, int kind)
{
    asyncio_stream_op *op;
    if (!s)
        return NULL;
    op = &s->rop;
    if (asyncio_stream_op_busy_(op))
        return &asyncio_stream_busy_co_;
    op->buf = (unsigned char *)buf;
    op->n = n;
    op->got = 0;
    op->kind = (uint8_t)kind;
    op->want = ASYNCIO_IO_READ;
    return asyncio_coro_init(&op->co, asyncio_stream_read_fn_);
}

asyncio_coro *asyncio_stream_read(asyncio_stream *s, void *buf, size_t n)
{
    return asyncio_stream_read_op_(s, buf, n, ASYNCIO_OP_READ_);
}

asyncio_coro *asyncio_stream_readall(asyncio_stream *s, void *buf, size_t cap)
{
    return asyncio_stream_read_op_(s, buf, cap, ASYNCIO_OP_READALL_);
}

asyncio_coro *asyncio_stream_readinto(asyncio_stream *s, void *buf, size_t n)
{
    return asyncio_stream_read_op_(s, buf, n, ASYNCIO_OP_READINTO_);
}

asyncio_coro *asyncio_stream_readexactly(asyncio_stream *s, void *buf, size_t n)
{
    return asyncio_stream_read_op_(s, buf, n, ASYNCIO_OP_EXACT_);
}

asyncio_coro *asyncio_stream_readline(asyncio_stream *s, void *buf, size_t cap)
{
    return asyncio_stream_read_op_(s, buf, cap, ASYNCIO_OP_LINE_);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

int asyncio_stream_write(asyncio_stream *s, const void *buf, size_t n)
{
    const unsigned char *p = (const unsigned char *)buf;
    int r;
    if (!s || (!buf && n))
        return ASYNCIO_EINVAL;
    if (s->state != ASYNCIO_STREAM_OPEN_)
        return ASYNCIO_ECLOSED;
    if (n > s->wcap - s->wlen)
        return ASYNCIO_OSERROR(ENOBUFS); /* all or nothing */
    if (n == 0)
        return ASYNCIO_OK;
    if (s->wlen == 0 && !s->tls) {
        /* Nothing queued: try to send at once, as MicroPython does. */
        s->wpos = 0;
        r = asyncio_stream_send_(s, p, n);
        if (r == ASYNCIO_STREAM_AGAIN_WRITE_)
            r = 0;
        if (r < 0)
            return r;
        p += r;
        n -= (size_t)r;
    }
    if (s->wpos + s->wlen + n > s->wcap) {
        memmove(s->wbuf, s->wbuf + s->wpos, s->wlen);
        s->wpos = 0;
    }
    if (n)
        memcpy(s->wbuf + s->wpos + s->wlen, p, n);
    s->wlen += n;
    return ASYNCIO_OK;
}

static int asyncio_stream_drain_fn_(asyncio_coro *co)
{
    asyncio_stream_op *op = (asyncio_stream_op *)(void *)co;
    asyncio_stream *s = (asyncio_stream *)(void *)((char *)op - offsetof(asyncio_stream, wop));
    int r;
    ASYNCIO_BEGIN(co);
    if (s->state != ASYNCIO_STREAM_OPEN_)
        ASYNCIO_RAISE(ASYNCIO_ECLOSED);
    if (s->wlen == 0 && !s->tls) {
        ASYNCIO_YIELD; /* drain always yields */
        ASYNCIO_RETURN(0);
    }
    op->want = ASYNCIO_IO_WRITE;
    for (;;) {
        ASYNCIO_AWAIT_IO(&s->io, op->want);
        if (s->state != ASYNCIO_STREAM_OPEN_)
            ASYNCIO_RAISE(ASYNCIO_ECLOSED);
        r = asyncio_stream_handshake_(s);
        if (r == ASYNCIO_OK) {
            if (s->wlen == 0)
                break;
            r = asyncio_stream_send_(s, s->wbuf + s->wpos, s->wlen);
            if (r >= 0) {
                s->wpos += (size_t)r;
                s->wlen -= (size_t)r;
                if (s->wlen == 0)
                    break;
                op->want = ASYNCIO_IO_WRITE;
                continue;
            }
        }
        if (r == ASYNCIO_STREAM_AGAIN_READ_ || r == ASYNCIO_STREAM_AGAIN_WRITE_) {
            op->want = r == ASYNCIO_STREAM_AGAIN_READ_ ? ASYNCIO_IO_READ : ASYNCIO_IO_WRITE;
            continue;
        }
        ASYNCIO_RAISE(r);
    }
    s->wpos = 0;
    ASYNCIO_RETURN(0);
    ASYNCIO_END;
}

asyncio_coro *asyncio_stream_drain(asyncio_stream *s)
{
    if (!s)
        return NULL;
    if (asyncio_stream_op_busy_(&s->wop))
        return &asyncio_stream_busy_co_;
    s->wop.kind = ASYNCIO_OP_DRAIN_;
    return asyncio_coro_init(&s->wop.co, asyncio_stream_drain_fn_);
}

/* ------------------------------------------------------------------------ */
/* Closing and information                                                  */
/* ------------------------------------------------------------------------ */

void asyncio_stream_close(asyncio_stream *s)
{
    int fd;
    if (!s || s->state != ASYNCIO_STREAM_OPEN_)
        return;
    fd = s->io.fd;
    s->state = ASYNCIO_STREAM_CLOSED_;
    asyncio_io_forget(&s->io); /* stop watching before the fd goes; wake waiters */
#ifdef ASYNCIO_STREAM_TLS
    if (s->tls)
        asyncio_tls_stop_(s);
#endif
    close(fd);
    s->io.fd = -1;
    s->rpos = s->rlen = s->wpos = s->wlen = 0;
}

asyncio_coro *asyncio_stream_wait_closed(asyncio_stream *s)
{
    asyncio_stream_close(s);
    return &asyncio_stream_done_co_;
}

int asyncio_stream_get_extra_info(asyncio_stream *s, const char *name, void *out, size_t *len)
{
    socklen_t sl;
    int r;
    if (!s || !name || !out || !len)
        return ASYNCIO_EINVAL;
    if (s->state != ASYNCIO_STREAM_OPEN_)
        return ASYNCIO_ECLOSED;
    sl = (socklen_t)*len;
    if (strcmp(name, "peername") == 0)
        r = getpeername(s->io.fd, (struct sockaddr *)out, &sl);
    else if (strcmp(name, "sockname") == 0)
        r = getsockname(s->io.fd, (struct sockaddr *)out, &sl);
    else
        return ASYNCIO_EINVAL;
    if (r < 0)
        return asyncio_stream_errno_();
    *len = (size_t)sl;
    return ASYNCIO_OK;
}

/* ------------------------------------------------------------------------ */
/* open_connection (the `wop` frame)                                        */
/* ------------------------------------------------------------------------ */

/* getaddrinfo(host, port): the first address, or ENOHOST / OSError. */
static int asyncio_stream_resolve_(const char *host, int port, int passive, struct addrinfo **ai)
{
    struct addrinfo hints;
    char service[16];
    int r;
    if (!host || port < 0 || port > 65535)
        return ASYNCIO_EINVAL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    snprintf(service, sizeof service, "%d", port);
    r = getaddrinfo(host, service, &hints, ai);
    if (r == 0)
        return ASYNCIO_OK;
    if (r == EAI_SYSTEM)
        return asyncio_stream_errno_();
    return r == EAI_MEMORY ? ASYNCIO_OSERROR(ENOMEM) : ASYNCIO_ENOHOST;
}

static int asyncio_stream_connect_start_(asyncio_stream *s, const char *host, int port)
{
    struct addrinfo *ai = NULL;
    int fd, r = asyncio_stream_resolve_(host, port, 0, &ai);
    if (r)
        return r;
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
        r = asyncio_stream_errno_();
        freeaddrinfo(ai);
        return r;
    }
    asyncio_stream_nonblock_(fd);
    r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
        r = asyncio_stream_errno_();
        freeaddrinfo(ai);
        close(fd);
        return r;
    }
    freeaddrinfo(ai);
    asyncio_stream_open_(s, fd);
    return ASYNCIO_OK;
}

static int asyncio_stream_connect_fn_(asyncio_coro *co)
{
    asyncio_stream_op *op = (asyncio_stream_op *)(void *)co;
    asyncio_stream *s = (asyncio_stream *)(void *)((char *)op - offsetof(asyncio_stream, wop));
    int r;
    socklen_t len = sizeof r;
    ASYNCIO_BEGIN(co);
    if (s->state == ASYNCIO_STREAM_OPEN_)
        ASYNCIO_RAISE(ASYNCIO_EBUSY);
#ifndef ASYNCIO_STREAM_TLS
    if (op->buf)
        ASYNCIO_RAISE(ASYNCIO_EINVAL); /* ssl without TLS support */
#endif
    ASYNCIO_AWAIT_OUTCOME_(asyncio_stream_connect_start_(s, (const char *)op->got, (int)op->n));
    /* Wait until the connection is made (writable), then ask how it went. */
    ASYNCIO_AWAIT_IO(&s->io, ASYNCIO_IO_WRITE);
    if (s->state != ASYNCIO_STREAM_OPEN_)
        ASYNCIO_RAISE(ASYNCIO_ECLOSED);
    if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
        ASYNCIO_RAISE(asyncio_stream_errno_());
    if (r)
        ASYNCIO_RAISE(ASYNCIO_OSERROR(r));
#ifdef ASYNCIO_STREAM_TLS
    if (op->buf) {
        asyncio_tls_config *c = (asyncio_tls_config *)(void *)op->buf;
        ASYNCIO_AWAIT_OUTCOME_(asyncio_tls_start_(
            s, c, c->server_hostname ? c->server_hostname : (const char *)op->got));
    }
#endif
    ASYNCIO_RETURN(0);
    ASYNCIO_FINALLY;
    if (ASYNCIO_ERROR && s->state == ASYNCIO_STREAM_OPEN_ && ASYNCIO_ERROR != ASYNCIO_EBUSY)
        asyncio_stream_close(s); /* failed or cancelled: leave it closed */
    ASYNCIO_END;
}

asyncio_coro *asyncio_open_connection(asyncio_stream *s, const char *host, int port,
                                      struct asyncio_tls_config *ssl)
{
    asyncio_stream_op *op;
    if (!s)
        return NULL;
    op = &s->wop;
    if (asyncio_stream_op_busy_(op))
        return &asyncio_stream_busy_co_;
    op->buf = (unsigned char *)(void *)ssl;
    op->got = (size_t)(uintptr_t)host; /* the host name, until connected */
    op->n = (size_t)port;
    op->kind = ASYNCIO_OP_CONNECT_;
    return asyncio_coro_init(&op->co, asyncio_stream_connect_fn_);
}

/* ------------------------------------------------------------------------ */
/* Server                                                                   */
/* ------------------------------------------------------------------------ */

void asyncio_server_slot_init(asyncio_server_slot *slot, void *rbuf, size_t rcap, void *wbuf,
                              size_t wcap, void *user, struct asyncio_tls *tls)
{
    memset(slot, 0, sizeof *slot);
    asyncio_stream_init(&slot->stream, rbuf, rcap, wbuf, wcap);
    slot->stream.tls = tls;
    slot->user = user;
}

void asyncio_server_init(asyncio_server *srv, asyncio_server_slot *slots, size_t n)
{
    memset(srv, 0, sizeof *srv);
    asyncio_io_init(&srv->io, -1);
    asyncio_event_init(&srv->slot_freed);
    srv->slots = slots;
    srv->nslots = slots ? n : 0;
}

static void asyncio_server_close_socket_(asyncio_server *srv)
{
    if (srv->io.fd >= 0) {
        int fd = srv->io.fd;
        asyncio_io_forget(&srv->io);
        close(fd);
        srv->io.fd = -1;
    }
}

/* The task of one connection: the handler, then the stream is closed and
 * the slot goes back to the pool. The handler's errors reach the loop's
 * exception handler, as in MicroPython. */
static int asyncio_server_slot_fn_(asyncio_coro *co)
{
    asyncio_server_slot *sl =
        (asyncio_server_slot *)(void *)((char *)co - offsetof(asyncio_server_slot, wrap));
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT(sl->handler);
    ASYNCIO_FINALLY;
    asyncio_stream_close(&sl->stream);
    sl->busy = 0;
    asyncio_event_set(&sl->server->slot_freed);
    ASYNCIO_END;
}

/* A slot whose connection has ended (or NULL). Round robin from `next`.
 * *soon: a slot is free but its task still waits for the loop to report
 * its error (one pass). */
static asyncio_server_slot *asyncio_server_free_slot_(asyncio_server *srv, int *soon)
{
    size_t i;
    *soon = 0;
    for (i = 0; i < srv->nslots; i++) {
        asyncio_server_slot *sl = &srv->slots[(srv->next + i) % srv->nslots];
        if (sl->busy)
            continue;
        /* Done (or never used) and out of every queue: reusable. */
        if (sl->task.state != ASYNCIO_TASK_PENDING && sl->task.where == 0) {
            srv->next = (srv->next + i + 1) % srv->nslots;
            return sl;
        }
        *soon = 1;
    }
    return NULL;
}

static void asyncio_server_accept_(asyncio_server *srv, asyncio_server_slot *sl)
{
    int fd;
    do
        fd = accept(srv->io.fd, NULL, NULL);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return; /* a failed accept is ignored, as in MicroPython */
    sl->server = srv;
    asyncio_stream_attach(&sl->stream, fd);
#ifdef ASYNCIO_STREAM_TLS
    if (srv->ssl && (!sl->stream.tls || asyncio_tls_start_(&sl->stream, srv->ssl, NULL))) {
        asyncio_stream_close(&sl->stream);
        return;
    }
#endif
    sl->handler = srv->cb ? srv->cb(&sl->stream, sl->user) : NULL;
    if (!sl->handler ||
        asyncio_create_task(&sl->task, asyncio_coro_init(&sl->wrap, asyncio_server_slot_fn_))) {
        asyncio_stream_close(&sl->stream);
        return;
    }
    sl->busy = 1;
}

static int asyncio_server_serve_fn_(asyncio_coro *co)
{
    asyncio_server *srv =
        (asyncio_server *)(void *)((char *)co - offsetof(asyncio_server, serve_co));
    asyncio_server_slot *sl;
    int soon;
    ASYNCIO_BEGIN(co);
    for (;;) {
        ASYNCIO_AWAIT_IO(&srv->io, ASYNCIO_IO_READ);
        sl = asyncio_server_free_slot_(srv, &soon);
        if (sl) {
            asyncio_server_accept_(srv, sl);
        } else if (soon) {
            ASYNCIO_YIELD;
        } else {
            /* Pool exhausted: leave connections in the backlog until a
             * handler ends. */
            asyncio_event_clear(&srv->slot_freed);
            ASYNCIO_AWAIT_EVENT(&srv->slot_freed);
        }
    }
    ASYNCIO_FINALLY;
    asyncio_server_close_socket_(srv);
    if (ASYNCIO_ERROR == ASYNCIO_ECANCELLED && srv->closing)
        ASYNCIO_RETURN(0); /* closed on purpose: not an error */
    ASYNCIO_END;
}

/* socket + SO_REUSEADDR + bind + listen. */
static int asyncio_server_listen_(asyncio_server *srv)
{
    struct addrinfo *ai = NULL;
    int one = 1, fd, r = asyncio_stream_resolve_(srv->host, srv->port, 1, &ai);
    if (r)
        return r;
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
        r = asyncio_stream_errno_();
    } else {
        asyncio_stream_nonblock_(fd);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, srv->backlog) < 0) {
            r = asyncio_stream_errno_();
            close(fd);
        } else {
            asyncio_io_init(&srv->io, fd);
        }
    }
    freeaddrinfo(ai);
    return r;
}

static int asyncio_server_start_fn_(asyncio_coro *co)
{
    asyncio_server *srv =
        (asyncio_server *)(void *)((char *)co - offsetof(asyncio_server, start_co));
    ASYNCIO_BEGIN(co);
    if (srv->started)
        ASYNCIO_RAISE(ASYNCIO_EBUSY);
    ASYNCIO_AWAIT_OUTCOME_(asyncio_server_listen_(srv));
    srv->started = 1;
    srv->closing = 0;
    asyncio_create_task(&srv->task, asyncio_coro_init(&srv->serve_co, asyncio_server_serve_fn_));
    /* Let the accept loop start, so that it is there to handle a cancel. */
    ASYNCIO_TRY(ASYNCIO_YIELD);
    if (ASYNCIO_AWAIT_ERROR) {
        asyncio_task_cancel(&srv->task);
        asyncio_server_close_socket_(srv); /* in case it never ran */
        ASYNCIO_RAISE(ASYNCIO_AWAIT_ERROR);
    }
    ASYNCIO_RETURN(0);
    ASYNCIO_END;
}

asyncio_coro *asyncio_start_server(asyncio_server *srv, asyncio_server_cb cb, const char *host,
                                   int port, int backlog, struct asyncio_tls_config *ssl)
{
    if (!srv)
        return NULL;
    if (asyncio_stream_busy_(&srv->start_co))
        return &asyncio_stream_busy_co_;
    srv->cb = cb;
    srv->host = host;
    srv->port = port;
    srv->backlog = backlog > 0 ? backlog : 5;
    srv->ssl = ssl;
    return asyncio_coro_init(&srv->start_co, asyncio_server_start_fn_);
}

void asyncio_server_close(asyncio_server *srv)
{
    if (!srv || !srv->started)
        return;
    srv->closing = 1;
    asyncio_task_cancel(&srv->task);
}

static int asyncio_server_wait_fn_(asyncio_coro *co)
{
    asyncio_server *srv =
        (asyncio_server *)(void *)((char *)co - offsetof(asyncio_server, wait_co));
    ASYNCIO_BEGIN(co);
    if (srv->started)
        ASYNCIO_AWAIT_TASK(&srv->task);
    srv->started = 0; /* may be started again */
    ASYNCIO_END;
}

asyncio_coro *asyncio_server_wait_closed(asyncio_server *srv)
{
    if (!srv)
        return NULL;
    if (asyncio_stream_busy_(&srv->wait_co))
        return &asyncio_stream_busy_co_;
    return asyncio_coro_init(&srv->wait_co, asyncio_server_wait_fn_);
}

int asyncio_server_port(const asyncio_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!srv || srv->io.fd < 0)
        return ASYNCIO_ECLOSED;
    if (getsockname(srv->io.fd, (struct sockaddr *)&ss, &len) < 0)
        return asyncio_stream_errno_();
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
    return ASYNCIO_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* TLS through mbedTLS                                                      */
/* ------------------------------------------------------------------------ */
#ifdef ASYNCIO_STREAM_TLS
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>

int asyncio_tls_config_init(asyncio_tls_config *c, int endpoint)
{
    static const unsigned char pers[] = "asyncio_stream";
    memset(c, 0, sizeof *c);
    c->endpoint = endpoint;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    mbedtls_x509_crt_init(&c->own_cert);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_pk_init(&c->key);
    if (mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, pers, sizeof pers - 1) ||
        mbedtls_ssl_config_defaults(&c->conf,
                                    endpoint == ASYNCIO_TLS_SERVER ? MBEDTLS_SSL_IS_SERVER
                                                                   : MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT))
        return ASYNCIO_ETLS;
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    asyncio_tls_config_verify_mode(c, endpoint == ASYNCIO_TLS_SERVER ? ASYNCIO_TLS_CERT_NONE
                                                                     : ASYNCIO_TLS_CERT_REQUIRED);
    return ASYNCIO_OK;
}

int asyncio_tls_config_load_cert_chain(asyncio_tls_config *c, const unsigned char *cert,
                                       size_t cert_len, const unsigned char *key, size_t key_len)
{
    if (mbedtls_x509_crt_parse(&c->own_cert, cert, cert_len) ||
        mbedtls_pk_parse_key(&c->key, key, key_len, NULL, 0) ||
        mbedtls_ssl_conf_own_cert(&c->conf, &c->own_cert, &c->key))
        return ASYNCIO_ETLS;
    return ASYNCIO_OK;
}

int asyncio_tls_config_load_verify(asyncio_tls_config *c, const unsigned char *ca, size_t len)
{
    if (mbedtls_x509_crt_parse(&c->ca, ca, len))
        return ASYNCIO_ETLS;
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    return ASYNCIO_OK;
}

void asyncio_tls_config_verify_mode(asyncio_tls_config *c, int mode)
{
    mbedtls_ssl_conf_authmode(&c->conf,
                              mode == ASYNCIO_TLS_CERT_REQUIRED   ? MBEDTLS_SSL_VERIFY_REQUIRED
                              : mode == ASYNCIO_TLS_CERT_OPTIONAL ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                                  : MBEDTLS_SSL_VERIFY_NONE);
}

void asyncio_tls_config_server_hostname(asyncio_tls_config *c, const char *name)
{
    c->server_hostname = name;
}

void asyncio_tls_config_free(asyncio_tls_config *c)
{
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    mbedtls_x509_crt_free(&c->own_cert);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_pk_free(&c->key);
}

void asyncio_stream_set_tls(asyncio_stream *s, asyncio_tls *t) { s->tls = t; }

void asyncio_tls_free(asyncio_tls *t)
{
    if (t && t->ready) {
        mbedtls_ssl_free(&t->ssl);
        t->ready = 0;
    }
}

/* mbedTLS's transport: the stream's non-blocking socket. */
static int asyncio_tls_bio_send_(void *ctx, const unsigned char *buf, size_t n)
{
    asyncio_tls *t = (asyncio_tls *)ctx;
    ssize_t r;
    do
        r = send(t->s->io.fd, buf, n, ASYNCIO_STREAM_SENDFLAGS_);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    t->sys_err = errno;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int asyncio_tls_bio_recv_(void *ctx, unsigned char *buf, size_t n)
{
    asyncio_tls *t = (asyncio_tls *)ctx;
    ssize_t r;
    do
        r = recv(t->s->io.fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_WANT_READ;
    t->sys_err = errno;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* An mbedTLS outcome as a stream outcome. */
static int asyncio_tls_map_(asyncio_tls *t, int r)
{
    if (r >= 0)
        return r;
    if (r == MBEDTLS_ERR_SSL_WANT_READ)
        return ASYNCIO_STREAM_AGAIN_READ_;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE)
        return ASYNCIO_STREAM_AGAIN_WRITE_;
    if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
        return 0; /* EOF */
    t->last_err = r;
    switch (r) {
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE: return ASYNCIO_ETLS_NOCERT;
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: return ASYNCIO_ETLS_VERIFY;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: return ASYNCIO_ETLS_ALERT;
    case MBEDTLS_ERR_SSL_CONN_EOF: return ASYNCIO_EEOF; /* the peer hung up mid-handshake */
    case MBEDTLS_ERR_NET_CONN_RESET: return ASYNCIO_OSERROR(t->sys_err ? t->sys_err : ECONNRESET);
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_NET_RECV_FAILED: return ASYNCIO_OSERROR(t->sys_err ? t->sys_err : EIO);
    default: return ASYNCIO_ETLS;
    }
}

/* Set the session up on a connected stream (the handshake comes lazily,
 * with the first read or drain, as MicroPython's do_handshake_on_connect=
 * False). `host`: the name to verify (clients), NULL for servers. */
static int asyncio_tls_start_(asyncio_stream *s, asyncio_tls_config *c, const char *host)
{
    asyncio_tls *t = s->tls;
    if (!t)
        return ASYNCIO_EINVAL;
    asyncio_tls_free(t);
    mbedtls_ssl_init(&t->ssl);
    t->ready = 1;
    t->handshaken = 0;
    t->last_err = 0;
    t->sys_err = 0;
    t->s = s;
    if ((t->last_err = mbedtls_ssl_setup(&t->ssl, &c->conf)) != 0 ||
        (host && (t->last_err = mbedtls_ssl_set_hostname(&t->ssl, host)) != 0))
        return ASYNCIO_ETLS;
    mbedtls_ssl_set_bio(&t->ssl, t, asyncio_tls_bio_send_, asyncio_tls_bio_recv_, NULL);
    return ASYNCIO_OK;
}

static int asyncio_tls_handshake_(asyncio_stream *s)
{
    asyncio_tls *t = s->tls;
    int r;
    if (t->handshaken)
        return ASYNCIO_OK;
    r = mbedtls_ssl_handshake(&t->ssl);
    if (r == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
        /* mbedTLS 2 hangs up silently here: tell the client why. */
        mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
    r = asyncio_tls_map_(t, r);
    if (r == 0)
        t->handshaken = 1;
    return r;
}

static int asyncio_tls_recv_(asyncio_stream *s, unsigned char *buf, size_t n)
{
    return asyncio_tls_map_(s->tls, mbedtls_ssl_read(&s->tls->ssl, buf, n));
}

static int asyncio_tls_send_(asyncio_stream *s, const unsigned char *buf, size_t n)
{
    return asyncio_tls_map_(s->tls, mbedtls_ssl_write(&s->tls->ssl, buf, n));
}

static int asyncio_tls_pending_(const asyncio_stream *s)
{
    const asyncio_tls *t = s->tls;
    return !t->handshaken || mbedtls_ssl_get_bytes_avail(&t->ssl) > 0;
}

static void asyncio_tls_stop_(asyncio_stream *s)
{
    if (s->tls->handshaken)
        mbedtls_ssl_close_notify(&s->tls->ssl); /* best effort, never blocks */
    s->tls->handshaken = 0;
}
#endif /* ASYNCIO_STREAM_TLS */

#endif /* ASYNCIO_STREAM_IMPLEMENTATION */
