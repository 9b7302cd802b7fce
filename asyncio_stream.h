/* SPDX-License-Identifier: MIT */
/*
 * asyncio_stream.h -- MicroPython's asyncio streams on top of asyncio.h.
 *
 * One header, stb-style: its implementation is compiled in the one
 * translation unit that defines ASYNCIO_STREAM_IMPLEMENTATION (the build
 * uses src/asyncio_stream.c). TLS through mbedTLS when ASYNCIO_STREAM_TLS
 * is defined (define it for every file, or for none). No malloc: every
 * stream, server, transport and buffer belongs to the caller.
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
 * A stream is both Python's StreamReader and StreamWriter. Its operations
 * are coroutine objects whose frames live inside the stream: one read
 * operation (read, readinto, readexactly, readline) and one write operation
 * (drain, awrite, open_connection) may be in flight at a time, each in any
 * task; making a second one while the first has not ended (started or not:
 * say, handed to wait_for) gives EBUSY. An operation made but never awaited
 * keeps its side busy until asyncio_stream_close().
 * The byte count is the operation's value (AWAIT_RESULT). When an operation
 * fails part-way (EOF in readexactly, a reset, a cancellation) AWAIT_RESULT
 * (under ASYNC_TRY) still holds the number of bytes already stored in the
 * caller's buffer: nothing received is lost.
 *
 * As in MicroPython, every read operation first waits for the transport to
 * be readable (so a read always lets other tasks run), and drain() with
 * nothing buffered is a sleep(0).
 *
 * ---------------------------------------------------------------------------
 * LAYERS
 * ---------------------------------------------------------------------------
 *
 *     Stream API (read/readline/write/drain/...)      transport-agnostic
 *        |  asyncio_transport: read, write, wait, close (+ pending, flush, info)
 *        v
 *     TLS (mbedTLS) ----> any transport below it
 *     socket / descriptor (POSIX: TCP, pipe, tty)     port_posix.c's epoll/poll
 *     UART (port_openmv.c: interrupt-driven rings)    ThreadSafeFlag wake-ups
 *
 * A transport moves bytes without blocking and tells how a task waits for
 * it to become ready; the stream code holds no socket call. open_connection
 * and start_server (POSIX sockets) set up socket transports.
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
 * IRQ safety: none of these functions is IRQ-safe; call them from the loop's
 * thread only. (A transport's own interrupt handlers, such as the UART's,
 * talk to the loop only through ThreadSafeFlags.)
 */
#ifndef ASYNCIO_STREAM_H
#define ASYNCIO_STREAM_H

#include "asyncio.h"

/* Compile-time options (define them for every file, or for none):
 *  ASYNCIO_STREAM_TLS      TLS through mbedTLS (link -lmbedtls -lmbedx509
 *                          -lmbedcrypto).
 *  ASYNCIO_STREAM_SOCKETS  1: POSIX descriptor and socket transports,
 *                          open_connection and start_server; 0: none (a
 *                          device: streams over your own transports only).
 *                          Default: 1 on Unix-like systems, else 0. */
#ifndef ASYNCIO_STREAM_SOCKETS
#if defined(__unix__) || defined(__unix) || defined(__APPLE__)
#define ASYNCIO_STREAM_SOCKETS 1
#else
#define ASYNCIO_STREAM_SOCKETS 0
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Errors: asyncio.h's codes, including the streams' own ASYNCIO_ENOHOST,
 * ASYNCIO_ETLS* and ASYNCIO_EOVERRUN, and ASYNCIO_OSERROR(errno). */

/* asyncio_strerror(), with the C library's text for OSError codes (never NULL). */
const char *asyncio_stream_strerror(int err);

/* ======================================================================== */
/* Transports                                                               */
/* ======================================================================== */

/* What a transport's read/write/flush return besides a count or an error:
 * nothing can move now; wait for ASYNCIO_IO_READ / _WRITE, then try again.
 * (TLS may need to read before it can write, and the other way round.) */
#define ASYNCIO_AGAIN_READ (-1058)
#define ASYNCIO_AGAIN_WRITE (-1059)

typedef struct asyncio_transport asyncio_transport;

/*
 * A transport: a byte pipe that never blocks. Write one in a few lines:
 * embed an asyncio_transport first in your struct and point it at a table
 * of these functions (all called from the loop's thread):
 *
 *  read(t, buf, n)   n > 0. Returns bytes stored (> 0), 0 at end of stream,
 *                    ASYNCIO_AGAIN_READ / _WRITE, or an error code.
 *  write(t, buf, n)  n > 0. Returns bytes taken (> 0), AGAIN_*, or an error.
 *                    After AGAIN the stream calls again with the same bytes
 *                    first (more may follow them).
 *  wait(t, events)   park the running task until the transport may be ready
 *                    for `events` (ASYNCIO_IO_READ or ASYNCIO_IO_WRITE), by
 *                    returning what asyncio_transport_wait_io() or
 *                    asyncio_transport_wait_flag() returns; or 0 if ready
 *                    now. Spurious wake-ups are fine (the stream retries).
 *  close(t)          release the transport and wake every task parked in
 *                    wait() (they then see the stream closed).
 *  pending(t)        optional: 1 if read() can make progress without
 *                    waiting (bytes already decoded, a protocol step due).
 *  flush(t)          optional: protocol work that drain() must finish even
 *                    with nothing queued (TLS: the handshake): 0 when done,
 *                    AGAIN_*, or an error.
 *  info(t, name, out, len)  optional: get_extra_info(name); ASYNCIO_EINVAL
 *                    for names it does not know.
 */
typedef struct asyncio_transport_ops {
    int (*read)(asyncio_transport *t, unsigned char *buf, size_t n);
    int (*write)(asyncio_transport *t, const unsigned char *buf, size_t n);
    int (*wait)(asyncio_transport *t, unsigned events);
    void (*close)(asyncio_transport *t);
    int (*pending)(const asyncio_transport *t);
    int (*flush)(asyncio_transport *t);
    int (*info)(asyncio_transport *t, const char *name, void *out, size_t *len);
} asyncio_transport_ops;

struct asyncio_transport {
    const asyncio_transport_ops *ops;
};

/* For wait(): park the running task on a descriptor the port watches
 * (POSIX), or on a ThreadSafeFlag an interrupt handler sets (devices).
 * Both return ASYNCIO_PENDING (parked), 0 (ready now) or an error. */
int asyncio_transport_wait_io(asyncio_io *io, unsigned events);
int asyncio_transport_wait_flag(asyncio_flag *f);

#if ASYNCIO_STREAM_SOCKETS
/* A non-blocking POSIX descriptor transport: a socket, a tty, or a pair of
 * pipes (read from `rfd`, write to `wfd`). Fields are private. */
typedef struct asyncio_fd_transport {
    asyncio_transport base;
    asyncio_io io;     /* rfd: reads (and writes when wfd == rfd) */
    asyncio_io wio;    /* wfd when it is another descriptor, else fd -1 */
    uint8_t is_socket; /* writes use send(MSG_NOSIGNAL) */
} asyncio_fd_transport;

/* Make `t` a transport over descriptors `rfd` (reads) and `wfd` (writes;
 * pass rfd again for a socket or tty); both are made non-blocking and are
 * closed by the transport's close(). When `wfd` is not a socket and SIGPIPE
 * has its default action, SIGPIPE is ignored from then on (as CPython does),
 * so a vanished reader is an EPIPE error, not a dead process. 0, or EINVAL
 * (a negative fd). */
ASYNCIO_NODISCARD int asyncio_fd_transport_init(asyncio_fd_transport *t, int rfd, int wfd);
#endif

/* ======================================================================== */
/* Streams                                                                  */
/* ======================================================================== */

typedef struct asyncio_stream asyncio_stream;
struct asyncio_tls;        /* a TLS session (ASYNCIO_STREAM_TLS) */
struct asyncio_tls_config; /* Python's SSLContext (ASYNCIO_STREAM_TLS) */

/* The frame of one stream operation (private). */
typedef struct asyncio_stream_op {
    asyncio_coro co;
    const unsigned char *buf;
    size_t n;   /* bytes wanted / buffer capacity / port */
    size_t got; /* bytes stored (read) or queued (awrite) so far: the op's value */
    const char *host;
    uint8_t kind;
    uint8_t want;      /* ASYNCIO_IO_READ or _WRITE: what to wait for next */
    uint8_t must_wait; /* the last transfer said "again": wait before retrying */
    uint8_t claimed;   /* handed out by a constructor, until the op ends */
} asyncio_stream_op;

/*
 * A stream (reader and writer in one) over a transport. The read buffer
 * holds bytes received but not yet consumed (readline reads ahead into it);
 * the write buffer holds what write() could not send at once. Fields are
 * private.
 */
struct asyncio_stream {
    asyncio_transport *tr; /* the bytes' way in and out; NULL until opened */
    unsigned char *rbuf, *wbuf;
    size_t rcap, rpos, rlen; /* unread bytes: rbuf[rpos .. rpos + rlen) */
    size_t wcap, wpos, wlen; /* unsent bytes: wbuf[wpos .. wpos + wlen) */
    asyncio_stream_op rop, wop;
    struct asyncio_tls *tls; /* TLS session for open_connection / a server slot */
#if ASYNCIO_STREAM_SOCKETS
    asyncio_fd_transport sock; /* the socket or descriptors, when it uses them */
#endif
    uint32_t gen;     /* bumped at every open: see asyncio_stream_ref */
    uint32_t last_io; /* tick of the last byte moved (or of the open) */
    uint8_t state;    /* private: never opened / open / closed */
};

/*
 * Prepare a stream with its read and write buffers (either may be NULL with
 * capacity 0: then readline reads byte by byte, and write() accepts nothing
 * but the empty message). Not IRQ-safe; no errors.
 */
void asyncio_stream_init(asyncio_stream *s, void *rbuf, size_t rcap, void *wbuf, size_t wcap);

/* Open the stream over transport `tr` (a UART, a TLS session, your own).
 * 0, or EINVAL (NULL, a transport without read/write/wait/close), EBUSY
 * (the stream is open). */
ASYNCIO_NODISCARD int asyncio_stream_open(asyncio_stream *s, asyncio_transport *tr);

/* The transport the stream runs over (NULL when not open). */
asyncio_transport *asyncio_stream_transport(const asyncio_stream *s);

#if ASYNCIO_STREAM_SOCKETS
/*
 * open_connection(host, port, ssl): AWAIT it; resolves `host` (blocking, as
 * MicroPython does) and connects without blocking. With `ssl` non-NULL (and
 * a session given by asyncio_stream_set_tls) the stream runs TLS; as in
 * MicroPython (do_handshake_on_connect=False) the handshake runs with the
 * first read or drain, so a certificate error surfaces there. The stream
 * must be initialised and not open; on any failure it is left closed.
 * Value 0. Errors: ENOHOST (unresolvable), ASYNCIO_OSERROR(ECONNREFUSED and
 * other errnos), ETLS* (setting TLS up), ECANCELLED, EINVAL (bad arguments,
 * ssl without ASYNCIO_STREAM_TLS or without a session), EBUSY (open).
 */
asyncio_coro *asyncio_open_connection(asyncio_stream *s, const char *host, int port,
                                      struct asyncio_tls_config *ssl);

/* Open the stream over an already-connected socket or tty `fd` (made
 * non-blocking here; closed with the stream). 0, or EINVAL (fd < 0) /
 * EBUSY (stream open). */
ASYNCIO_NODISCARD int asyncio_stream_attach(asyncio_stream *s, int fd);

/* The same over two descriptors: read `rfd`, write `wfd` (a pipe pair). */
ASYNCIO_NODISCARD int asyncio_stream_attach_fds(asyncio_stream *s, int rfd, int wfd);

/* The stream's (read) descriptor, -1 when not open or not over descriptors. */
int asyncio_stream_fd(const asyncio_stream *s);
#endif

/*
 * read(n): AWAIT it; waits for data and stores up to `n` bytes in `buf`.
 * Value: the count, 0 at EOF (and for n == 0). Errors: OSError (e.g.
 * ECONNRESET), ECLOSED, ECANCELLED, EBUSY (a read is in flight), EINVAL,
 * EOVERRUN (a device transport dropped bytes: reported once, then reading
 * carries on).
 */
asyncio_coro *asyncio_stream_read(asyncio_stream *s, void *buf, size_t n);

/*
 * read(-1): AWAIT it; reads until EOF into `buf` (capacity `cap`). Value:
 * the count. Errors: ENOBUFS (OSError) if `cap` fills before EOF (the value
 * is then `cap`; with no read buffer a stream cannot look past `cap`, so an
 * exact fill is ENOBUFS too), and those of read().
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
 * line without '\n' is returned as is. The bytes are NOT NUL-terminated (a
 * line may contain NUL bytes): use the count, or pass cap - 1 and add the
 * NUL yourself. Reads ahead into the read buffer. Errors: those of read().
 */
asyncio_coro *asyncio_stream_readline(asyncio_stream *s, void *buf, size_t cap);

/*
 * write(buf): queue `n` bytes; never blocks. With nothing queued it tries to
 * send at once; the rest goes to the write buffer. If the write buffer
 * cannot hold all `n` bytes nothing is written (no partial message) and the
 * error is ASYNCIO_OSERROR(ENOBUFS): drain() and retry, or use awrite().
 * 0 on success. Errors also: ECLOSED (not open / closed), OSError.
 */
ASYNCIO_NODISCARD int asyncio_stream_write(asyncio_stream *s, const void *buf, size_t n);

/*
 * drain(): AWAIT it; waits until the write buffer is sent (a sleep(0) when
 * it is empty). Value 0. Errors: ECLOSED, OSError (EPIPE, ECONNRESET...),
 * ETLS*, ECANCELLED (what was sent stays sent, the rest stays queued),
 * EBUSY (a drain is in flight).
 */
asyncio_coro *asyncio_stream_drain(asyncio_stream *s);

/*
 * awrite(buf): AWAIT it; write + drain for any length (MicroPython's
 * Stream.awrite): streams `n` bytes through the write buffer with
 * back-pressure. `buf` must stay valid until it ends. Value: `n`. On an
 * error or cancellation AWAIT_RESULT holds the bytes queued so far (they
 * stay queued). Errors: those of write() and drain(); EINVAL if the stream
 * has no write buffer and n > 0.
 */
asyncio_coro *asyncio_stream_awrite(asyncio_stream *s, const void *buf, size_t n);

/* close(): close the transport now; unsent bytes are dropped (drain first).
 * Tasks blocked on the stream wake with ECLOSED. A second close is a no-op. */
void asyncio_stream_close(asyncio_stream *s);

/* wait_closed(): AWAIT it; closes the stream if needed; value 0. */
asyncio_coro *asyncio_stream_wait_closed(asyncio_stream *s);

/*
 * get_extra_info(name): asks the transport. Sockets: "peername" and
 * "sockname" fill `out` with a struct sockaddr of *len bytes at most (struct
 * sockaddr_storage fits) and set *len. 0, or EINVAL (unknown name, NULL),
 * ECLOSED, OSError.
 */
int asyncio_stream_get_extra_info(asyncio_stream *s, const char *name, void *out, size_t *len);

/*
 * A stream reference that outlives its connection safely: a connection
 * handler's stream is reused for the next client once the handler ends, so
 * a task that the handler spawned must not keep the bare pointer. Give it an
 * asyncio_stream_ref instead and resolve it before each use:
 * asyncio_stream_deref() returns the stream while the same connection is
 * open, and a closed stream (every operation: ECLOSED) once it has ended --
 * never the next client's stream.
 */
typedef struct asyncio_stream_ref {
    asyncio_stream *s;
    uint32_t gen;
} asyncio_stream_ref;
asyncio_stream_ref asyncio_stream_ref_of(asyncio_stream *s);
asyncio_stream *asyncio_stream_deref(asyncio_stream_ref r);

/* The last TLS library error seen on this stream (mbedTLS code, 0: none),
 * and its text in `buf` (may be NULL; always NUL-terminated when cap > 0):
 * why a certificate failed (unknown CA, hostname mismatch, expired...). */
int asyncio_stream_tls_error(const asyncio_stream *s);
int asyncio_stream_tls_error_text(const asyncio_stream *s, char *buf, size_t cap);

#if ASYNCIO_STREAM_SOCKETS
/* ======================================================================== */
/* Server (POSIX sockets)                                                   */
/* ======================================================================== */

typedef struct asyncio_server asyncio_server;

/* Build the handler coroutine for a new connection (Python's client_connected
 * callback): keep its frame in `user` (the slot's memory). Returning NULL
 * (Python's cb=None, or no handler for this peer) closes the connection at
 * once. */
typedef asyncio_coro *(*asyncio_server_cb)(asyncio_stream *s, void *user);

/* One connection slot of a server's pool (caller-owned; fields private). */
typedef struct asyncio_server_slot {
    asyncio_task task; /* runs the handler */
    asyncio_coro wrap; /* runs the handler, then closes the stream */
    asyncio_coro *handler;
    asyncio_server *server;
    void *user;
    asyncio_stream stream;
    uint32_t since; /* tick of the connection's accept */
    uint8_t busy;
} asyncio_server_slot;

/* Prepare a slot: the stream buffers for its connections, the `user` pointer
 * handed to the callback, and (TLS servers) its session, else NULL. */
void asyncio_server_slot_init(asyncio_server_slot *slot, void *rbuf, size_t rcap, void *wbuf,
                              size_t wcap, void *user, struct asyncio_tls *tls);

/* A TCP server (fields private). */
struct asyncio_server {
    asyncio_coro start_co, serve_co, wait_co, reap_co;
    asyncio_task task;   /* the accept loop */
    asyncio_task reaper; /* closes idle / stalled connections (with timeouts) */
    asyncio_io io;       /* the listening socket */
    asyncio_event slot_freed;
    asyncio_server_slot *slots;
    size_t nslots, next;
    asyncio_server_cb cb;
    struct asyncio_tls_config *ssl;
    const char *host;
    int port, backlog;
    int32_t idle_ms, handshake_ms; /* 0: no limit */
    uint32_t accept_errors;        /* accept() failures (EMFILE...) since start */
    uint8_t closing, started;
};

/* Give the server its pool of `n` slots (before start_server). */
void asyncio_server_init(asyncio_server *srv, asyncio_server_slot *slots, size_t n);

/*
 * Limits that keep a small pool from being held by idle peers (before
 * start_server; 0 = no limit, the default): a connection that moves no byte
 * either way for `idle_ms`, or (TLS) has not finished its handshake
 * `handshake_ms` after it was accepted, has its handler task cancelled (its
 * FINALLY runs; the stream is then closed and the slot freed). EINVAL for a
 * negative value or a server already started.
 */
ASYNCIO_NODISCARD int asyncio_server_set_timeouts(asyncio_server *srv, int32_t idle_ms,
                                                  int32_t handshake_ms);

/*
 * start_server(cb, host, port, backlog, ssl): AWAIT it; binds (SO_REUSEADDR)
 * and listens, starts the accept loop as a task, and lets it run once
 * (sleep(0)). Port 0 picks a free port (asyncio_server_port()). Value 0.
 * Errors: ASYNCIO_OSERROR(EADDRINUSE) and other errnos, ENOHOST, EINVAL,
 * EBUSY (already started), ECANCELLED (the accept loop is cancelled too).
 * When accept() fails for lack of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM) the accept loop reports it once through the loop's
 * exception handler and stops accepting for ASYNCIO_SERVER_BACKOFF_MS
 * (100 ms) at a time until accept() works again: no busy loop.
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
#endif /* ASYNCIO_STREAM_SOCKETS */

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

/* One TLS session: a transport layered over another transport. One per
 * stream (give it to asyncio_stream_set_tls, to a server slot, or wrap any
 * transport with asyncio_tls_wrap). Caller-owned; fields private. */
typedef struct asyncio_tls {
    asyncio_transport base; /* the TLS transport the stream uses */
    asyncio_transport *lower;
    mbedtls_ssl_context ssl;
    size_t inflight; /* bytes of a record mbedTLS holds half-sent (see write) */
    int last_err;    /* last mbedTLS error */
    int lower_err;   /* the lower transport's error behind a failed I/O */
    int failed;      /* the handshake's error, once it has failed (0: it has not) */
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

/*
 * Layer session `t` over `lower` (any transport: a socket, a pipe pair, a
 * UART) with config `c`; `hostname` is the name to verify (clients), NULL
 * for servers. Then asyncio_stream_open(s, &t->base). The handshake runs
 * with the first read, write or drain. 0, or EINVAL, ETLS.
 */
ASYNCIO_NODISCARD int asyncio_tls_wrap(asyncio_tls *t, asyncio_tls_config *c,
                                       asyncio_transport *lower, const char *hostname);

/* The stream's TLS session (NULL for plain streams): a handler can look at
 * its own connection, e.g. mbedtls_ssl_get_peer_cert(&tls->ssl). */
asyncio_tls *asyncio_stream_tls(const asyncio_stream *s);

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
#include <string.h>

enum { ASYNCIO_STREAM_IDLE_, ASYNCIO_STREAM_OPEN_, ASYNCIO_STREAM_CLOSED_ };
enum {
    ASYNCIO_OP_READ_,
    ASYNCIO_OP_READALL_,
    ASYNCIO_OP_READINTO_,
    ASYNCIO_OP_EXACT_,
    ASYNCIO_OP_LINE_,
    ASYNCIO_OP_DRAIN_,
    ASYNCIO_OP_AWRITE_,
    ASYNCIO_OP_CONNECT_
};

const char *asyncio_stream_strerror(int err)
{
    if (err < 0 && err > -1000)
        return strerror(-err);
    return asyncio_strerror(err);
}

/* Two coroutine objects that need no frame of their own. */
static int asyncio_stream_busy_fn_(asyncio_coro *co)
{
    return asyncio_coro_finish(co, ASYNCIO_EBUSY);
}
static int asyncio_stream_done_fn_(asyncio_coro *co) { return asyncio_coro_finish(co, ASYNCIO_OK); }
static asyncio_coro asyncio_stream_busy_frame_, asyncio_stream_done_frame_;
/* They keep no state: one frame serves every caller, made anew each time. */
#define asyncio_stream_busy_co_                                                                    \
    (*asyncio_coro_init(&asyncio_stream_busy_frame_, asyncio_stream_busy_fn_))
#define asyncio_stream_done_co_                                                                    \
    (*asyncio_coro_init(&asyncio_stream_done_frame_, asyncio_stream_done_fn_))

/* What a stale asyncio_stream_ref resolves to: closed for good. */
static asyncio_stream asyncio_stream_gone_;

int asyncio_transport_wait_io(asyncio_io *io, unsigned events)
{
    return asyncio_io_wait_start_(io, events);
}

int asyncio_transport_wait_flag(asyncio_flag *f) { return asyncio_flag_wait_start_(f); }

void asyncio_stream_init(asyncio_stream *s, void *rbuf, size_t rcap, void *wbuf, size_t wcap)
{
    memset(s, 0, sizeof *s);
    s->rbuf = (unsigned char *)rbuf;
    s->rcap = rbuf ? rcap : 0;
    s->wbuf = (unsigned char *)wbuf;
    s->wcap = wbuf ? wcap : 0;
#if ASYNCIO_STREAM_SOCKETS
    asyncio_io_init(&s->sock.io, -1);
    asyncio_io_init(&s->sock.wio, -1);
#endif
}

int asyncio_stream_open(asyncio_stream *s, asyncio_transport *tr)
{
    const asyncio_transport_ops *o;
    if (!s || !tr || !(o = tr->ops) || !o->read || !o->write || !o->wait || !o->close)
        return ASYNCIO_EINVAL;
    if (s->state == ASYNCIO_STREAM_OPEN_)
        return ASYNCIO_EBUSY;
    s->tr = tr;
    s->rpos = s->rlen = s->wpos = s->wlen = 0;
    s->gen++;
    s->last_io = asyncio_ticks_ms();
    s->state = ASYNCIO_STREAM_OPEN_;
    return ASYNCIO_OK;
}

asyncio_transport *asyncio_stream_transport(const asyncio_stream *s)
{
    return s && s->state == ASYNCIO_STREAM_OPEN_ ? s->tr : NULL;
}

asyncio_stream_ref asyncio_stream_ref_of(asyncio_stream *s)
{
    asyncio_stream_ref r;
    r.s = s;
    r.gen = s ? s->gen : 0;
    return r;
}

asyncio_stream *asyncio_stream_deref(asyncio_stream_ref r)
{
    if (!r.s || r.s->gen != r.gen || r.s->state != ASYNCIO_STREAM_OPEN_)
        return &asyncio_stream_gone_;
    return r.s;
}

/* Take an operation frame of the stream for a new operation: 1, or 0 if it
 * is still taken. A frame is taken from the constructor's call until that
 * operation ends, started or not: a frame handed to a task that has not run
 * yet must not be handed out again (both would run it). */
static int asyncio_stream_claim_(asyncio_stream_op *op)
{
    if (op->claimed && op->co.line != ASYNCIO_LINE_DONE)
        return 0;
    op->claimed = 1;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The transport seam: every byte moves through these                       */
/* ------------------------------------------------------------------------ */

/* Note when bytes move (server idle timeouts). */
static int asyncio_stream_moved_(asyncio_stream *s, int r)
{
    if (r > 0)
        s->last_io = asyncio_ticks_ms();
    return r;
}

static int asyncio_stream_recv_(asyncio_stream *s, unsigned char *buf, size_t n)
{
    if (n > 0x40000000u)
        n = 0x40000000u;
    return asyncio_stream_moved_(s, s->tr->ops->read(s->tr, buf, n));
}

static int asyncio_stream_send_(asyncio_stream *s, const unsigned char *buf, size_t n)
{
    int r;
    if (n > 0x40000000u)
        n = 0x40000000u;
    r = s->tr->ops->write(s->tr, buf, n);
    /* A write that takes nothing without saying "again" would spin the
     * drain loop: wait for writability as if it had said so. */
    return r == 0 ? ASYNCIO_AGAIN_WRITE : asyncio_stream_moved_(s, r);
}

/* Work a read can do before the transport is readable (TLS: bytes already
 * decrypted, or a handshake to start: a client speaks first). */
static int asyncio_stream_pending_(const asyncio_stream *s)
{
    return s->tr->ops->pending && s->tr->ops->pending(s->tr);
}

static int asyncio_stream_flush_(asyncio_stream *s)
{
    return s->tr->ops->flush ? s->tr->ops->flush(s->tr) : ASYNCIO_OK;
}

static int asyncio_stream_wait_start_(asyncio_stream *s, unsigned events)
{
    if (s->state != ASYNCIO_STREAM_OPEN_)
        return ASYNCIO_ECLOSED;
    return s->tr->ops->wait(s->tr, events);
}

/* Wait for the stream's transport; a stream closed meanwhile is ECLOSED. */
#define ASYNCIO_STREAM_AWAIT_READY_(s, events)                                                     \
    do {                                                                                           \
        ASYNCIO_AWAIT_LEAF_(asyncio_stream_wait_start_(s, events), asyncio_resume_());             \
        if ((s)->state != ASYNCIO_STREAM_OPEN_)                                                    \
            ASYNCIO_RAISE(ASYNCIO_ECLOSED);                                                        \
    } while (0)

static int asyncio_stream_again_(int r)
{
    return r == ASYNCIO_AGAIN_READ || r == ASYNCIO_AGAIN_WRITE;
}

static uint8_t asyncio_stream_want_(int again)
{
    return again == ASYNCIO_AGAIN_READ ? ASYNCIO_IO_READ : ASYNCIO_IO_WRITE;
}

/* ------------------------------------------------------------------------ */
/* Read operations (the `rop` frame)                                        */
/* ------------------------------------------------------------------------ */

/* Take up to `n` buffered bytes (read-ahead of readline) into `dst`. */
static size_t asyncio_stream_take_(asyncio_stream *s, unsigned char *dst, size_t n)
{
    if (n > s->rlen)
        n = s->rlen;
    if (n == 0)
        return 0; /* without a read buffer rbuf is NULL: no arithmetic on it */
    memcpy(dst, s->rbuf + s->rpos, n);
    s->rpos += n;
    s->rlen -= n;
    return n;
}

static unsigned char *asyncio_stream_dst_(asyncio_stream_op *op)
{
    return (unsigned char *)(uintptr_t)op->buf + op->got;
}

/* Move buffered bytes up to and including '\n' to the op; 1 if a whole line
 * (or a full buffer) is there. */
static int asyncio_stream_take_line_(asyncio_stream *s, asyncio_stream_op *op)
{
    size_t room = op->n - op->got, n = s->rlen < room ? s->rlen : room;
    const unsigned char *nl = n ? (const unsigned char *)memchr(s->rbuf + s->rpos, '\n', n) : NULL;
    if (nl)
        n = (size_t)(nl - (s->rbuf + s->rpos)) + 1;
    op->got += asyncio_stream_take_(s, asyncio_stream_dst_(op), n);
    return nl != NULL || op->got == op->n;
}

/* One transfer for a read op once the transport may be ready: > 0 when the
 * op is complete, 0 to go on, or an outcome (EOF as ASYNCIO_EEOF, AGAIN_*,
 * an error). */
static int asyncio_stream_read_step_(asyncio_stream *s, asyncio_stream_op *op)
{
    int r;
    if (op->kind == ASYNCIO_OP_LINE_ && s->rcap) {
        r = asyncio_stream_recv_(s, s->rbuf, s->rcap);
        if (r <= 0)
            return r == 0 ? ASYNCIO_EEOF : r;
        s->rpos = 0;
        s->rlen = (size_t)r;
        return asyncio_stream_take_line_(s, op);
    }
    if (op->got == op->n) {
        /* read(-1) with a full buffer: is EOF next? A byte read to find out
         * stays in the read buffer; without one the stream cannot tell. */
        if (!s->rcap)
            return ASYNCIO_OSERROR(ENOBUFS);
        r = asyncio_stream_recv_(s, s->rbuf, 1);
        if (r <= 0)
            return r == 0 ? ASYNCIO_EEOF : r;
        s->rpos = 0;
        s->rlen = 1;
        return ASYNCIO_OSERROR(ENOBUFS);
    }
    r = asyncio_stream_recv_(s, asyncio_stream_dst_(op),
                             op->kind == ASYNCIO_OP_LINE_ ? 1 : op->n - op->got);
    if (r <= 0)
        return r == 0 ? ASYNCIO_EEOF : r;
    op->got += (size_t)r;
    op->co.value = (asyncio_value)op->got;
    if (op->kind == ASYNCIO_OP_READ_ || op->kind == ASYNCIO_OP_READINTO_)
        return 1;
    if (op->kind == ASYNCIO_OP_LINE_)
        return op->buf[op->got - 1] == '\n' || op->got == op->n;
    return op->got == op->n && op->kind != ASYNCIO_OP_READALL_;
}

static int asyncio_stream_read_fn_(asyncio_coro *co)
{
    asyncio_stream_op *op = (asyncio_stream_op *)(void *)co;
    asyncio_stream *s = (asyncio_stream *)(void *)((char *)op - offsetof(asyncio_stream, rop));
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
        op->got = asyncio_stream_take_(s, asyncio_stream_dst_(op), op->n);
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
        if (op->must_wait || !asyncio_stream_pending_(s))
            ASYNCIO_STREAM_AWAIT_READY_(s, op->want);
        op->must_wait = 0;
        r = asyncio_stream_read_step_(s, op);
        if (r > 0)
            ASYNCIO_RETURN(op->got);
        if (r == 0)
            continue;
        if (asyncio_stream_again_(r)) {
            op->want = asyncio_stream_want_(r);
            op->must_wait = 1;
            continue;
        }
        if (r != ASYNCIO_EEOF || op->kind == ASYNCIO_OP_EXACT_)
            ASYNCIO_RAISE(r);
        ASYNCIO_RETURN(op->got); /* EOF */
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
    if (!asyncio_stream_claim_(op))
        return &asyncio_stream_busy_co_;
    op->buf = (const unsigned char *)buf;
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

/* Append `n` bytes to the write buffer (the caller checked the room). */
static void asyncio_stream_queue_(asyncio_stream *s, const unsigned char *p, size_t n)
{
    if (s->wpos + s->wlen + n > s->wcap) {
        memmove(s->wbuf, s->wbuf + s->wpos, s->wlen);
        s->wpos = 0;
    }
    if (n)
        memcpy(s->wbuf + s->wpos + s->wlen, p, n);
    s->wlen += n;
}

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
    if (s->wlen == 0 && !s->tr->ops->flush) {
        /* Nothing queued: try to send at once, as MicroPython does. (A
         * protocol transport, one with flush(), such as TLS, gets the bytes
         * at drain(): fewer, fuller records.) */
        s->wpos = 0;
        r = asyncio_stream_send_(s, p, n);
        if (asyncio_stream_again_(r))
            r = 0;
        if (r < 0)
            return r;
        p += r;
        n -= (size_t)r;
    }
    asyncio_stream_queue_(s, p, n);
    return ASYNCIO_OK;
}

/* Send what is queued (or, with nothing queued, finish the transport's
 * protocol work): 0 when all is out, AGAIN_*, or an error. */
static int asyncio_stream_send_queued_(asyncio_stream *s)
{
    int r;
    while (s->wlen) {
        r = asyncio_stream_send_(s, s->wbuf + s->wpos, s->wlen);
        if (r < 0)
            return r;
        s->wpos += (size_t)r;
        s->wlen -= (size_t)r;
    }
    s->wpos = 0;
    return asyncio_stream_flush_(s);
}

static int asyncio_stream_drain_fn_(asyncio_coro *co)
{
    asyncio_stream_op *op = (asyncio_stream_op *)(void *)co;
    asyncio_stream *s = (asyncio_stream *)(void *)((char *)op - offsetof(asyncio_stream, wop));
    int r;
    ASYNCIO_BEGIN(co);
    if (s->state != ASYNCIO_STREAM_OPEN_)
        ASYNCIO_RAISE(ASYNCIO_ECLOSED);
    if (s->wlen == 0 && !s->tr->ops->flush) {
        ASYNCIO_YIELD; /* drain always yields */
        ASYNCIO_RETURN(0);
    }
    op->want = ASYNCIO_IO_WRITE;
    for (;;) {
        ASYNCIO_STREAM_AWAIT_READY_(s, op->want);
        r = asyncio_stream_send_queued_(s);
        if (r == ASYNCIO_OK)
            break;
        if (!asyncio_stream_again_(r))
            ASYNCIO_RAISE(r);
        op->want = asyncio_stream_want_(r);
    }
    ASYNCIO_RETURN(0);
    ASYNCIO_END;
}

asyncio_coro *asyncio_stream_drain(asyncio_stream *s)
{
    if (!s)
        return NULL;
    if (!asyncio_stream_claim_(&s->wop))
        return &asyncio_stream_busy_co_;
    s->wop.kind = ASYNCIO_OP_DRAIN_;
    return asyncio_coro_init(&s->wop.co, asyncio_stream_drain_fn_);
}

/* awrite: fill the write buffer, send, wait, repeat. */
static int asyncio_stream_awrite_fn_(asyncio_coro *co)
{
    asyncio_stream_op *op = (asyncio_stream_op *)(void *)co;
    asyncio_stream *s = (asyncio_stream *)(void *)((char *)op - offsetof(asyncio_stream, wop));
    size_t room;
    int r;
    ASYNCIO_BEGIN(co);
    if (s->state != ASYNCIO_STREAM_OPEN_)
        ASYNCIO_RAISE(ASYNCIO_ECLOSED);
    if ((!op->buf || !s->wcap) && op->n)
        ASYNCIO_RAISE(ASYNCIO_EINVAL);
    op->want = ASYNCIO_IO_WRITE;
    for (;;) {
        room = s->wcap - s->wlen;
        if (room > op->n - op->got)
            room = op->n - op->got;
        asyncio_stream_queue_(s, op->buf + op->got, room);
        op->got += room;
        ASYNCIO_STREAM_AWAIT_READY_(s, op->want);
        r = asyncio_stream_send_queued_(s);
        if (r == ASYNCIO_OK && op->got == op->n)
            break;
        if (r != ASYNCIO_OK && !asyncio_stream_again_(r))
            ASYNCIO_RAISE(r);
        op->want = r == ASYNCIO_OK ? ASYNCIO_IO_WRITE : asyncio_stream_want_(r);
    }
    ASYNCIO_RETURN(op->n);
    ASYNCIO_FINALLY;
    if (ASYNCIO_ERROR)
        co->value = (asyncio_value)op->got; /* queued so far: they stay queued */
    ASYNCIO_END;
}

asyncio_coro *asyncio_stream_awrite(asyncio_stream *s, const void *buf, size_t n)
{
    if (!s)
        return NULL;
    if (!asyncio_stream_claim_(&s->wop))
        return &asyncio_stream_busy_co_;
    s->wop.kind = ASYNCIO_OP_AWRITE_;
    s->wop.buf = (const unsigned char *)buf;
    s->wop.n = n;
    s->wop.got = 0;
    return asyncio_coro_init(&s->wop.co, asyncio_stream_awrite_fn_);
}

/* ------------------------------------------------------------------------ */
/* Closing and information                                                  */
/* ------------------------------------------------------------------------ */

void asyncio_stream_close(asyncio_stream *s)
{
    if (!s || s->state != ASYNCIO_STREAM_OPEN_)
        return;
    s->state = ASYNCIO_STREAM_CLOSED_;
    s->tr->ops->close(s->tr); /* wakes the stream's waiters: they see ECLOSED */
    /* An operation made but never awaited gives its frame back. */
    if (s->rop.co.line == 0)
        s->rop.claimed = 0;
    if (s->wop.co.line == 0)
        s->wop.claimed = 0;
    s->rpos = s->rlen = s->wpos = s->wlen = 0;
}

asyncio_coro *asyncio_stream_wait_closed(asyncio_stream *s)
{
    asyncio_stream_close(s);
    return &asyncio_stream_done_co_;
}

int asyncio_stream_get_extra_info(asyncio_stream *s, const char *name, void *out, size_t *len)
{
    if (!s || !name || !out || !len)
        return ASYNCIO_EINVAL;
    if (s->state != ASYNCIO_STREAM_OPEN_)
        return ASYNCIO_ECLOSED;
    if (!s->tr->ops->info)
        return ASYNCIO_EINVAL;
    return s->tr->ops->info(s->tr, name, out, len);
}

#if ASYNCIO_STREAM_SOCKETS
/* ------------------------------------------------------------------------ */
/* Descriptor transport (POSIX): sockets, ttys, pipe pairs                  */
/* ------------------------------------------------------------------------ */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#define ASYNCIO_STREAM_SENDFLAGS_ MSG_NOSIGNAL
#else
#define ASYNCIO_STREAM_SENDFLAGS_ 0
#endif

#ifndef ASYNCIO_SERVER_BACKOFF_MS
#define ASYNCIO_SERVER_BACKOFF_MS 100
#endif

static void asyncio_stream_nonblock_(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int asyncio_stream_errno_(void) { return ASYNCIO_OSERROR(errno ? errno : EIO); }

static int asyncio_fd_is_socket_(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The errno of a failed transfer, or "again" for `again`. */
static int asyncio_fd_outcome_(ssize_t r, int again)
{
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return again;
    return asyncio_stream_errno_();
}

static asyncio_io *asyncio_fd_wio_(asyncio_fd_transport *t)
{
    return t->wio.fd >= 0 ? &t->wio : &t->io;
}

static int asyncio_fd_read_(asyncio_transport *tr, unsigned char *buf, size_t n)
{
    asyncio_fd_transport *t = (asyncio_fd_transport *)(void *)tr;
    ssize_t r;
    do
        r = read(t->io.fd, buf, n);
    while (r < 0 && errno == EINTR);
    return asyncio_fd_outcome_(r, ASYNCIO_AGAIN_READ);
}

static int asyncio_fd_write_(asyncio_transport *tr, const unsigned char *buf, size_t n)
{
    asyncio_fd_transport *t = (asyncio_fd_transport *)(void *)tr;
    int fd = asyncio_fd_wio_(t)->fd;
    ssize_t r;
    do
        r = t->is_socket ? send(fd, buf, n, ASYNCIO_STREAM_SENDFLAGS_) : write(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return asyncio_fd_outcome_(r, ASYNCIO_AGAIN_WRITE);
}

static int asyncio_fd_wait_(asyncio_transport *tr, unsigned events)
{
    asyncio_fd_transport *t = (asyncio_fd_transport *)(void *)tr;
    return asyncio_transport_wait_io(events == ASYNCIO_IO_WRITE ? asyncio_fd_wio_(t) : &t->io,
                                     events);
}

/* Stop watching a descriptor (waking its waiters), then close it. */
static void asyncio_fd_release_(asyncio_io *io)
{
    int fd = io->fd;
    if (fd < 0)
        return;
    asyncio_io_forget(io);
    close(fd);
    io->fd = -1;
}

static void asyncio_fd_close_(asyncio_transport *tr)
{
    asyncio_fd_transport *t = (asyncio_fd_transport *)(void *)tr;
    asyncio_fd_release_(&t->wio);
    asyncio_fd_release_(&t->io);
}

static int asyncio_fd_info_(asyncio_transport *tr, const char *name, void *out, size_t *len)
{
    asyncio_fd_transport *t = (asyncio_fd_transport *)(void *)tr;
    socklen_t sl = (socklen_t)*len;
    int r;
    if (strcmp(name, "peername") == 0)
        r = getpeername(t->io.fd, (struct sockaddr *)out, &sl);
    else if (strcmp(name, "sockname") == 0)
        r = getsockname(t->io.fd, (struct sockaddr *)out, &sl);
    else
        return ASYNCIO_EINVAL;
    if (r < 0)
        return asyncio_stream_errno_();
    *len = (size_t)sl;
    return ASYNCIO_OK;
}

static const asyncio_transport_ops asyncio_fd_ops_ = {
    asyncio_fd_read_, asyncio_fd_write_, asyncio_fd_wait_, asyncio_fd_close_, NULL, NULL,
    asyncio_fd_info_};

/* A write to a pipe or tty whose reader has gone raises SIGPIPE, which kills
 * the process unless it is handled (sockets use MSG_NOSIGNAL instead). As
 * CPython does at start-up, ignore it if nobody handles it: the write then
 * fails with EPIPE, which the stream reports. */
static void asyncio_fd_no_sigpipe_(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL)
        return;
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int asyncio_fd_transport_init(asyncio_fd_transport *t, int rfd, int wfd)
{
    int wsock;
    if (!t || rfd < 0 || wfd < 0)
        return ASYNCIO_EINVAL;
    wsock = asyncio_fd_is_socket_(wfd); /* asked once: an fstat per connection */
    if (!wsock)
        asyncio_fd_no_sigpipe_();
    t->base.ops = &asyncio_fd_ops_;
    asyncio_stream_nonblock_(rfd);
    asyncio_io_init(&t->io, rfd);
    asyncio_io_init(&t->wio, -1);
    t->is_socket = (uint8_t)(wfd == rfd && wsock);
    if (wfd != rfd) {
        asyncio_stream_nonblock_(wfd);
        asyncio_io_init(&t->wio, wfd);
    }
    return ASYNCIO_OK;
}

int asyncio_stream_attach_fds(asyncio_stream *s, int rfd, int wfd)
{
    if (!s || rfd < 0 || wfd < 0)
        return ASYNCIO_EINVAL;
    if (s->state == ASYNCIO_STREAM_OPEN_)
        return ASYNCIO_EBUSY;
    asyncio_ignore_(asyncio_fd_transport_init(&s->sock, rfd, wfd));
    return asyncio_stream_open(s, &s->sock.base);
}

int asyncio_stream_attach(asyncio_stream *s, int fd)
{
    return asyncio_stream_attach_fds(s, fd, fd);
}

int asyncio_stream_fd(const asyncio_stream *s)
{
    return s && s->state == ASYNCIO_STREAM_OPEN_ && s->tr ? s->sock.io.fd : -1;
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
    return asyncio_stream_attach(s, fd);
}

#ifdef ASYNCIO_STREAM_TLS
static int asyncio_tls_start_(asyncio_stream *s, asyncio_tls_config *c, const char *host);
#endif

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
    ASYNCIO_AWAIT_OUTCOME_(asyncio_stream_connect_start_(s, op->host, (int)op->n));
    /* Wait until the connection is made (writable), then ask how it went. */
    ASYNCIO_STREAM_AWAIT_READY_(s, ASYNCIO_IO_WRITE);
    if (getsockopt(s->sock.io.fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
        ASYNCIO_RAISE(asyncio_stream_errno_());
    if (r)
        ASYNCIO_RAISE(ASYNCIO_OSERROR(r));
#ifdef ASYNCIO_STREAM_TLS
    if (op->buf) {
        asyncio_tls_config *c = (asyncio_tls_config *)(void *)(uintptr_t)op->buf;
        ASYNCIO_AWAIT_OUTCOME_(
            asyncio_tls_start_(s, c, c->server_hostname ? c->server_hostname : op->host));
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
    if (!asyncio_stream_claim_(op))
        return &asyncio_stream_busy_co_;
    op->buf = (const unsigned char *)(void *)ssl;
    op->host = host;
    op->n = (size_t)port;
    op->kind = ASYNCIO_OP_CONNECT_;
    return asyncio_coro_init(&op->co, asyncio_stream_connect_fn_);
}

/* ------------------------------------------------------------------------ */
/* Server                                                                   */
/* ------------------------------------------------------------------------ */

/* A coroutine frame is busy while it is suspended half-way. */
static int asyncio_stream_busy_(const asyncio_coro *co)
{
    return co->line != 0 && co->line != ASYNCIO_LINE_DONE;
}

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

int asyncio_server_set_timeouts(asyncio_server *srv, int32_t idle_ms, int32_t handshake_ms)
{
    if (!srv || idle_ms < 0 || handshake_ms < 0 || srv->started)
        return ASYNCIO_EINVAL;
    srv->idle_ms = idle_ms;
    srv->handshake_ms = handshake_ms;
    return ASYNCIO_OK;
}

static void asyncio_server_close_socket_(asyncio_server *srv) { asyncio_fd_release_(&srv->io); }

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

/* accept() failed for lack of resources: back off instead of spinning. */
static int asyncio_server_starved_(int err)
{
    return err == ASYNCIO_OSERROR(EMFILE) || err == ASYNCIO_OSERROR(ENFILE) ||
           err == ASYNCIO_OSERROR(ENOBUFS) || err == ASYNCIO_OSERROR(ENOMEM);
}

/* Accept one connection into `sl`: 0, or accept()'s error. */
static int asyncio_server_accept_(asyncio_server *srv, asyncio_server_slot *sl)
{
    int fd;
    do
        fd = accept(srv->io.fd, NULL, NULL);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return asyncio_stream_errno_();
    sl->server = srv;
    asyncio_ignore_(asyncio_stream_attach(&sl->stream, fd));
    sl->since = sl->stream.last_io;
#ifdef ASYNCIO_STREAM_TLS
    if (srv->ssl && (!sl->stream.tls || asyncio_tls_start_(&sl->stream, srv->ssl, NULL))) {
        asyncio_stream_close(&sl->stream);
        return ASYNCIO_OK;
    }
#endif
    sl->handler = srv->cb ? srv->cb(&sl->stream, sl->user) : NULL;
    if (!sl->handler ||
        asyncio_create_task(&sl->task, asyncio_coro_init(&sl->wrap, asyncio_server_slot_fn_))) {
        asyncio_stream_close(&sl->stream);
        return ASYNCIO_OK;
    }
    sl->busy = 1;
    return ASYNCIO_OK;
}

static void asyncio_server_report_(asyncio_server *srv, int err)
{
    asyncio_context ctx;
    ctx.message = "Server accept failed: backing off";
    ctx.error = err;
    ctx.task = &srv->task;
    asyncio_loop_call_exception_handler(asyncio_get_event_loop(), &ctx);
}

static int asyncio_server_serve_fn_(asyncio_coro *co)
{
    asyncio_server *srv =
        (asyncio_server *)(void *)((char *)co - offsetof(asyncio_server, serve_co));
    asyncio_server_slot *sl;
    int soon, r;
    ASYNCIO_BEGIN(co);
    for (;;) {
        ASYNCIO_AWAIT_IO(&srv->io, ASYNCIO_IO_READ);
        sl = asyncio_server_free_slot_(srv, &soon);
        if (sl) {
            r = asyncio_server_accept_(srv, sl);
            if (asyncio_server_starved_(r)) {
                /* Out of descriptors: say so once per episode, and stop
                 * watching the socket for a while (no busy loop). */
                if (srv->accept_errors++ == 0)
                    asyncio_server_report_(srv, r);
                ASYNCIO_AWAIT_SLEEP_MS(ASYNCIO_SERVER_BACKOFF_MS);
            } else if (r == ASYNCIO_OK) {
                srv->accept_errors = 0;
            }
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
    if (srv->reaper.state == ASYNCIO_TASK_PENDING)
        asyncio_ignore_(asyncio_task_cancel(&srv->reaper));
    if (ASYNCIO_ERROR == ASYNCIO_ECANCELLED && srv->closing)
        ASYNCIO_RETURN(0); /* closed on purpose: not an error */
    ASYNCIO_END;
}

/* Milliseconds until slot `sl` outstays a limit (<= 0: it has), or
 * ASYNCIO_SLEEP_MAX_MS when no limit applies. */
static int32_t asyncio_server_slot_left_(const asyncio_server *srv, const asyncio_server_slot *sl,
                                         uint32_t now)
{
    int32_t left = ASYNCIO_SLEEP_MAX_MS, l;
    if (srv->idle_ms) {
        l = srv->idle_ms - asyncio_ticks_diff(now, sl->stream.last_io);
        left = l < left ? l : left;
    }
#ifdef ASYNCIO_STREAM_TLS
    if (srv->handshake_ms && sl->stream.tls && !sl->stream.tls->handshaken) {
        l = srv->handshake_ms - asyncio_ticks_diff(now, sl->since);
        left = l < left ? l : left;
    }
#endif
    return left;
}

/* The reaper: cancels connections that stay idle (or in their handshake)
 * too long, then sleeps until the next one could. */
static int asyncio_server_reap_fn_(asyncio_coro *co)
{
    asyncio_server *srv =
        (asyncio_server *)(void *)((char *)co - offsetof(asyncio_server, reap_co));
    int32_t next, left;
    uint32_t now;
    size_t i;
    ASYNCIO_BEGIN(co);
    for (;;) {
        now = asyncio_ticks_ms();
        next = srv->idle_ms ? srv->idle_ms : srv->handshake_ms;
        for (i = 0; i < srv->nslots; i++) {
            asyncio_server_slot *sl = &srv->slots[i];
            if (!sl->busy || sl->task.state != ASYNCIO_TASK_PENDING)
                continue;
            left = asyncio_server_slot_left_(srv, sl, now);
            if (left <= 0) {
                asyncio_ignore_(asyncio_task_cancel(&sl->task));
                sl->since = sl->stream.last_io = now; /* its cleanup gets a period */
            } else if (left < next) {
                next = left;
            }
        }
        ASYNCIO_AWAIT_SLEEP_MS(next);
    }
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
    srv->accept_errors = 0;
    ASYNCIO_AWAIT_OUTCOME_(asyncio_create_task(
        &srv->task, asyncio_coro_init(&srv->serve_co, asyncio_server_serve_fn_)));
    if (srv->idle_ms || srv->handshake_ms)
        ASYNCIO_AWAIT_OUTCOME_(asyncio_create_task(
            &srv->reaper, asyncio_coro_init(&srv->reap_co, asyncio_server_reap_fn_)));
    /* Let the accept loop start, so that it is there to handle a cancel. */
    ASYNCIO_TRY(ASYNCIO_YIELD);
    if (ASYNCIO_AWAIT_ERROR) {
        asyncio_ignore_(asyncio_task_cancel(&srv->task));
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
    asyncio_ignore_(asyncio_task_cancel(&srv->task));
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
#endif /* ASYNCIO_STREAM_SOCKETS */

/* ------------------------------------------------------------------------ */
/* TLS through mbedTLS: a transport over any other transport                */
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

static const asyncio_transport_ops asyncio_tls_ops_;

/* The stream's TLS session, open or not: set with asyncio_stream_set_tls /
 * a server slot, or the transport it was opened over (asyncio_tls_wrap). */
static asyncio_tls *asyncio_stream_tls_session_(const asyncio_stream *s)
{
    if (!s)
        return NULL;
    if (s->tls)
        return s->tls;
    if (s->tr && s->tr->ops == &asyncio_tls_ops_)
        return (asyncio_tls *)(void *)s->tr;
    return NULL;
}

asyncio_tls *asyncio_stream_tls(const asyncio_stream *s)
{
    if (!s || s->state != ASYNCIO_STREAM_OPEN_ || s->tr->ops != &asyncio_tls_ops_)
        return NULL;
    return (asyncio_tls *)(void *)s->tr;
}

void asyncio_tls_free(asyncio_tls *t)
{
    if (t && t->ready) {
        mbedtls_ssl_free(&t->ssl);
        t->ready = 0;
    }
}

/* mbedTLS's I/O callbacks: the lower transport, "again" as WANT_*. A lower
 * error is kept in lower_err and reported as such (asyncio_tls_map_). */
static int asyncio_tls_bio_outcome_(asyncio_tls *t, int r, int failed)
{
    if (r >= 0)
        return r;
    if (r == ASYNCIO_AGAIN_READ)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (r == ASYNCIO_AGAIN_WRITE)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    t->lower_err = r;
    return failed;
}

static int asyncio_tls_bio_send_(void *ctx, const unsigned char *buf, size_t n)
{
    asyncio_tls *t = (asyncio_tls *)ctx;
    return asyncio_tls_bio_outcome_(t, t->lower->ops->write(t->lower, buf, n),
                                    MBEDTLS_ERR_NET_SEND_FAILED);
}

static int asyncio_tls_bio_recv_(void *ctx, unsigned char *buf, size_t n)
{
    asyncio_tls *t = (asyncio_tls *)ctx;
    return asyncio_tls_bio_outcome_(t, t->lower->ops->read(t->lower, buf, n),
                                    MBEDTLS_ERR_NET_RECV_FAILED);
}

/* An mbedTLS outcome as a transport outcome. */
static int asyncio_tls_map_(asyncio_tls *t, int r)
{
    if (r >= 0)
        return r;
    if (r == MBEDTLS_ERR_SSL_WANT_READ)
        return ASYNCIO_AGAIN_READ;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE)
        return ASYNCIO_AGAIN_WRITE;
    if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
        return 0; /* EOF */
    t->last_err = r;
    switch (r) {
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE: return ASYNCIO_ETLS_NOCERT;
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: return ASYNCIO_ETLS_VERIFY;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: return ASYNCIO_ETLS_ALERT;
    case MBEDTLS_ERR_SSL_CONN_EOF: return ASYNCIO_EEOF; /* the peer hung up mid-handshake */
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_NET_RECV_FAILED: return t->lower_err ? t->lower_err : ASYNCIO_OSERROR(EIO);
    default: return ASYNCIO_ETLS;
    }
}

/*
 * The handshake failed because the peer hung up while we were still sending
 * (EPIPE / ECONNRESET): a peer that refuses us sends a fatal alert first and
 * closes, and the alert may be waiting unread. Look at what arrived: if it
 * holds an alert record (plaintext during the handshake: type 21, then
 * version, length, level 2 = fatal, description), report the alert rather
 * than the broken pipe, as MicroPython's client does. Returns `r` otherwise.
 */
static int asyncio_tls_alert_behind_(asyncio_tls *t, int r)
{
    unsigned char rec[256];
    size_t have = 0, at = 0;
    int n, tries = 0;
    if (r != ASYNCIO_OSERROR(EPIPE) && r != ASYNCIO_OSERROR(ECONNRESET))
        return r;
    /* What has arrived (a device transport may say "again" once or twice
     * with bytes still on their way in: a few tries, never a wait). */
    while (have < sizeof rec && tries < 4) {
        n = t->lower->ops->read(t->lower, rec + have, sizeof rec - have);
        if (n > 0)
            have += (size_t)n;
        else if (n == ASYNCIO_AGAIN_READ || n == ASYNCIO_AGAIN_WRITE)
            tries++;
        else
            break;
    }
    while (at + 5 <= have) {
        size_t len = (size_t)rec[at + 3] << 8 | rec[at + 4];
        if (rec[at] == MBEDTLS_SSL_MSG_ALERT && len >= 2 && at + 7 <= have &&
            rec[at + 5] == MBEDTLS_SSL_ALERT_LEVEL_FATAL) {
            t->last_err = MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE;
            return ASYNCIO_ETLS_ALERT;
        }
        at += 5 + len;
    }
    return r;
}

/*
 * Send the rest of what mbedTLS has queued (after a failed handshake: its
 * fatal alert, cut short by a full socket): 0 when all is out or it cannot
 * go (the peer is gone), else AGAIN_WRITE. With output pending,
 * mbedtls_ssl_send_alert_message() only flushes it (mbedTLS 2.28 ssl_msg.c),
 * so no second alert is built.
 */
static int asyncio_tls_flush_queued_(asyncio_tls *t)
{
    int r;
    if (t->ssl.out_left == 0)
        return ASYNCIO_OK;
    r = mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
    return r == MBEDTLS_ERR_SSL_WANT_WRITE ? ASYNCIO_AGAIN_WRITE : ASYNCIO_OK;
}

/* Run the handshake until done: 0, AGAIN_*, or its error. A failed handshake
 * stays failed; its error is reported once the alert telling the peer why
 * is out (as CPython's transport sends it), so a peer that waits for us
 * learns the reason instead of hanging. */
static int asyncio_tls_handshake_(asyncio_tls *t)
{
    int r;
    if (t->handshaken)
        return ASYNCIO_OK;
    if (!t->failed) {
        r = mbedtls_ssl_handshake(&t->ssl);
        if (r == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
            /* mbedTLS 2 hangs up silently here: tell the client why. */
            mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                           MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
        r = asyncio_tls_alert_behind_(t, asyncio_tls_map_(t, r));
        if (r == 0)
            t->handshaken = 1;
        if (r >= 0 || asyncio_stream_again_(r))
            return r;
        t->failed = r;
    }
    r = asyncio_tls_flush_queued_(t);
    return r ? r : t->failed;
}

static int asyncio_tls_read_(asyncio_transport *tr, unsigned char *buf, size_t n)
{
    asyncio_tls *t = (asyncio_tls *)(void *)tr;
    int r = asyncio_tls_handshake_(t);
    return r ? r : asyncio_tls_map_(t, mbedtls_ssl_read(&t->ssl, buf, n));
}

/*
 * mbedTLS's retry contract: after WANT_WRITE the record it built is still
 * half-sent, and the next mbedtls_ssl_write() must pass the same length (it
 * flushes the record and reports that length as written, whatever length it
 * is given: a longer one would lose the difference). The stream keeps the
 * bytes queued at the front of its buffer, so offering exactly `inflight`
 * of them again is always right: it either completes the record, or (when
 * no record was built) sends a shorter one.
 */
static int asyncio_tls_write_(asyncio_transport *tr, const unsigned char *buf, size_t n)
{
    asyncio_tls *t = (asyncio_tls *)(void *)tr;
    int r = asyncio_tls_handshake_(t), max;
    if (r)
        return r;
    if (t->inflight)
        n = t->inflight;
    r = mbedtls_ssl_write(&t->ssl, buf, n);
    if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
        return ASYNCIO_OSERROR(EPIPE); /* the peer has closed: nothing more goes out */
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE && !t->inflight) {
        max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
        t->inflight = max > 0 && (size_t)max < n ? (size_t)max : n;
    } else if (r != MBEDTLS_ERR_SSL_WANT_WRITE && r != MBEDTLS_ERR_SSL_WANT_READ) {
        t->inflight = 0;
    }
    return asyncio_tls_map_(t, r);
}

static int asyncio_tls_wait_(asyncio_transport *tr, unsigned events)
{
    asyncio_tls *t = (asyncio_tls *)(void *)tr;
    return t->lower->ops->wait(t->lower, events);
}

static void asyncio_tls_close_(asyncio_transport *tr)
{
    asyncio_tls *t = (asyncio_tls *)(void *)tr;
    if (t->handshaken)
        mbedtls_ssl_close_notify(&t->ssl); /* best effort, never blocks */
    t->handshaken = 0;
    t->inflight = 0;
    t->lower->ops->close(t->lower);
}

static int asyncio_tls_pending_(const asyncio_transport *tr)
{
    const asyncio_tls *t = (const asyncio_tls *)(const void *)tr;
    return !t->handshaken || mbedtls_ssl_get_bytes_avail(&t->ssl) > 0;
}

static int asyncio_tls_flush_(asyncio_transport *tr)
{
    return asyncio_tls_handshake_((asyncio_tls *)(void *)tr);
}

static int asyncio_tls_info_(asyncio_transport *tr, const char *name, void *out, size_t *len)
{
    asyncio_tls *t = (asyncio_tls *)(void *)tr;
    if (!t->lower->ops->info)
        return ASYNCIO_EINVAL;
    return t->lower->ops->info(t->lower, name, out, len);
}

static const asyncio_transport_ops asyncio_tls_ops_ = {
    asyncio_tls_read_,    asyncio_tls_write_, asyncio_tls_wait_, asyncio_tls_close_,
    asyncio_tls_pending_, asyncio_tls_flush_, asyncio_tls_info_};

int asyncio_tls_wrap(asyncio_tls *t, asyncio_tls_config *c, asyncio_transport *lower,
                     const char *hostname)
{
    if (!t || !c || !lower || !lower->ops)
        return ASYNCIO_EINVAL;
    asyncio_tls_free(t);
    mbedtls_ssl_init(&t->ssl);
    t->base.ops = &asyncio_tls_ops_;
    t->lower = lower;
    t->ready = 1;
    t->handshaken = 0;
    t->inflight = 0;
    t->last_err = 0;
    t->lower_err = 0;
    t->failed = 0;
    if ((t->last_err = mbedtls_ssl_setup(&t->ssl, &c->conf)) != 0 ||
        (hostname && (t->last_err = mbedtls_ssl_set_hostname(&t->ssl, hostname)) != 0))
        return ASYNCIO_ETLS;
    mbedtls_ssl_set_bio(&t->ssl, t, asyncio_tls_bio_send_, asyncio_tls_bio_recv_, NULL);
    return ASYNCIO_OK;
}

#if ASYNCIO_STREAM_SOCKETS
/* Put the stream's session over its (open) socket. `host`: the name to
 * verify (clients), NULL for servers. */
static int asyncio_tls_start_(asyncio_stream *s, asyncio_tls_config *c, const char *host)
{
    int r;
    if (!s->tls)
        return ASYNCIO_EINVAL;
    r = asyncio_tls_wrap(s->tls, c, &s->sock.base, host);
    if (r == ASYNCIO_OK)
        s->tr = &s->tls->base;
    return r;
}
#endif
#endif /* ASYNCIO_STREAM_TLS */

int asyncio_stream_tls_error(const asyncio_stream *s)
{
#ifdef ASYNCIO_STREAM_TLS
    const asyncio_tls *t = asyncio_stream_tls_session_(s);
    if (t)
        return t->last_err;
#else
    (void)s;
#endif
    return 0;
}

int asyncio_stream_tls_error_text(const asyncio_stream *s, char *buf, size_t cap)
{
    int e = asyncio_stream_tls_error(s);
    if (buf && cap) {
        buf[0] = '\0';
#ifdef ASYNCIO_STREAM_TLS
        const asyncio_tls *t = asyncio_stream_tls_session_(s); /* e != 0: there is one */
        if (e)
            mbedtls_strerror(e, buf, cap);
        if (e == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && t->ready) {
            /* Why: unknown CA, name mismatch, expired... (one line each). */
            size_t n = strlen(buf);
            uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
            if (n + 2 < cap && flags != (uint32_t)-1) {
                char *end;
                buf[n++] = ':';
                buf[n++] = ' ';
                mbedtls_x509_crt_verify_info(buf + n, cap - n, "", flags);
                for (end = buf + n; *end; end++)
                    if (*end == '\n')
                        *end = (end[1] ? ';' : '\0');
            }
        }
#endif
    }
    return e;
}

#endif /* ASYNCIO_STREAM_IMPLEMENTATION */
