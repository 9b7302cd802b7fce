/* SPDX-License-Identifier: MIT */
/*
 * fuzz_stream.c -- libFuzzer harness: the stream reader (read, readinto,
 * readexactly, readline) fed random bytes in random chunks over a
 * socketpair, checked against a model of what must come out.
 *
 * The input:
 *   byte 0   the read buffer's size (0, 1, 3, 16, 64 or 200) and how the
 *            peer ends: shutdown(SHUT_WR), close() (both EOF), or close()
 *            with unread data on its side (ECONNRESET, after the data);
 *   byte 1   a third party cancels the reader every N ms (0: never);
 *   byte 2   a third party closes the stream after N ms (0: never);
 *   byte 3   the number of chunks (up to 32), then per chunk its length
 *            (0..63), the delay before it (ms) and its bytes;
 *   the rest the reader's operations (kind, size); when they run out the
 *            reader reads on until EOF so every byte is checked.
 *
 * The model: the bytes come out in order, none lost or duplicated, each op
 * obeys its contract (read: 1..n bytes, 0 only at EOF; readexactly: n bytes
 * or EEOF with what did arrive; readline: up to and including the first
 * '\n', or `cap` bytes, or the rest at EOF), and an op that fails part-way
 * (cancelled, closed, reset) reports in AWAIT_RESULT the bytes it stored.
 * Virtual time (port_posix.c): delays cost nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_NAME "fuzz_stream (model)"
#include "fuzz.h"

#define MAX_CHUNKS 32
#define MAX_DATA (MAX_CHUNKS * 64)

enum { END_SHUTDOWN, END_CLOSE, END_RESET };
enum { OP_READ, OP_READINTO, OP_EXACT, OP_LINE, OP_READALL, OP_COUNT };

static const uint8_t *in;
static size_t in_len, in_pos;
static unsigned next_byte(void) { return in_pos < in_len ? in[in_pos++] : 0; }

/* What the peer sends. */
static unsigned char data[MAX_DATA];
static size_t total;
static struct {
    size_t off, len;
    int delay;
} chunks[MAX_CHUNKS];
static int nchunks, end_kind, cancel_every, close_after;

/* The model: how far the reader has got, and what it has seen. */
static size_t pos;
static int closed_by_us, ended, reset_seen;
static int verbose; /* FUZZ_VERBOSE=1: trace every op (to replay a finding) */

static asyncio_stream s;
static unsigned char rbuf[256];
static int peer = -1;

static const char *const op_names[] = {"read", "readinto", "readexactly", "readline", "readall"};

struct reader {
    asyncio_coro co;
    int kind;
    size_t n;
    unsigned char buf[128];
    asyncio_task writer_t, canceller_t, closer_t;
    asyncio_coro writer, canceller, closer;
};
static struct reader rd;
static asyncio_task reader_t;

static int chunk; /* the writer's next chunk */
static int writer_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (chunk = 0; chunk < nchunks; chunk++) {
        AWAIT_SLEEP_MS(chunks[chunk].delay);
        /* (The reader side may be closed already: EPIPE, no signal.) */
        if (chunks[chunk].len &&
            send(peer, data + chunks[chunk].off, chunks[chunk].len, MSG_NOSIGNAL) < 0)
            CHECK(errno == EPIPE && closed_by_us, "send: %s", strerror(errno));
    }
    if (end_kind == END_SHUTDOWN) {
        shutdown(peer, SHUT_WR);
    } else {
        close(peer); /* with END_RESET, a byte we never read waits on this side */
        peer = -1;
    }
    ASYNC_END;
}

static int canceller_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT_SLEEP_MS(cancel_every);
        asyncio_task_cancel(&reader_t);
    }
    ASYNC_END;
}

static int closer_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(close_after);
    closed_by_us = 1;
    asyncio_stream_close(&s);
    ASYNC_END;
}

/* The `got` bytes the op stored must be the next ones of the data. */
static void take(const unsigned char *buf, size_t got, const char *what)
{
    CHECK(got <= total - pos, "%s: %zu bytes but only %zu remain", what, got, total - pos);
    CHECK(memcmp(buf, data + pos, got) == 0, "%s: %zu bytes at offset %zu differ", what, got, pos);
    pos += got;
}

/* Check one op's outcome against the model. 1: go on reading. */
static int check_op(int kind, size_t n, const unsigned char *buf, int err, size_t got)
{
    const char *name = op_names[kind];
    size_t i;
    if (verbose)
        fprintf(stderr, "t=%u %s(%zu): err %d, %zu bytes \"%.*s\" (at %zu of %zu)\n",
                (unsigned)asyncio_ticks_ms(), name, n, err, got, (int)got, (const char *)buf, pos,
                total);
    if (err == 0) {
        if (kind == OP_READINTO)
            CHECK(n > 0, "readinto(0) succeeded");
        take(buf, got, name);
        if (n == 0) {
            CHECK(got == 0, "%s(0) gave %zu", name, got);
            return 1;
        }
        if (got == 0) {
            CHECK(pos == total && kind != OP_EXACT, "%s: 0 (EOF) with %zu bytes unread", name,
                  total - pos);
            ended = 1;
            return 0;
        }
        CHECK(got <= n, "%s(%zu) gave %zu bytes", name, n, got);
        if (kind == OP_EXACT)
            CHECK(got == n, "readexactly(%zu) gave %zu", n, got);
        if (kind == OP_READALL) {
            CHECK(pos == total, "readall: %zu bytes left before EOF", total - pos);
            ended = 1;
            return 0;
        }
        if (kind == OP_LINE) {
            for (i = 0; i + 1 < got; i++)
                CHECK(buf[i] != '\n', "readline: a '\\n' inside the line at %zu of %zu", i, got);
            CHECK(buf[got - 1] == '\n' || got == n || pos == total,
                  "readline(%zu): %zu bytes without '\\n' and not at EOF", n, got);
        }
        return 1;
    }
    /* Failed part-way: the bytes stored must still be the right ones. */
    take(buf, got, name);
    if (err == ASYNCIO_ECANCELLED) {
        CHECK(cancel_every, "%s cancelled with no canceller", name);
        return 1;
    }
    if (err == ASYNCIO_OSERROR(ENOBUFS)) {
        CHECK(kind == OP_READALL && got == n, "%s(%zu): ENOBUFS after %zu", name, n, got);
        return 1;
    }
    if (err == ASYNCIO_EINVAL) {
        CHECK(kind == OP_READINTO && n == 0 && got == 0, "%s(%zu): EINVAL", name, n);
        return 1;
    }
    if (err == ASYNCIO_ECLOSED) {
        CHECK(closed_by_us, "%s: ECLOSED but nobody closed the stream", name);
        return 0;
    }
    if (err == ASYNCIO_EEOF) {
        CHECK(kind == OP_EXACT && got < n && pos == total,
              "%s(%zu): EEOF after %zu bytes, %zu unread", name, n, got, total - pos);
        ended = 1;
        return 0;
    }
    if (err == ASYNCIO_OSERROR(ECONNRESET)) {
        CHECK(end_kind == END_RESET, "%s: ECONNRESET without a reset", name);
        CHECK(pos == total, "%s: ECONNRESET with %zu bytes never delivered", name, total - pos);
        reset_seen = 1;
        return 0;
    }
    FAIL("%s(%zu): unexpected error %d (%s)", name, n, err, asyncio_stream_strerror(err));
    return 0;
}

static int reader_fn(asyncio_coro *co)
{
    struct reader *f = (struct reader *)co;
    asyncio_coro *op;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->writer_t, asyncio_coro_init(&f->writer, writer_fn));
    if (cancel_every)
        asyncio_create_task(&f->canceller_t, asyncio_coro_init(&f->canceller, canceller_fn));
    if (close_after)
        asyncio_create_task(&f->closer_t, asyncio_coro_init(&f->closer, closer_fn));
    for (;;) {
        if (in_pos + 1 < in_len) {
            f->kind = (int)(next_byte() % OP_COUNT);
            f->n = next_byte() % 80;
        } else {
            f->kind = OP_READ; /* out of ops: read on until the end */
            f->n = sizeof f->buf;
        }
        memset(f->buf, 0xEE, sizeof f->buf);
        if (f->kind == OP_READ)
            op = asyncio_stream_read(&s, f->buf, f->n);
        else if (f->kind == OP_READINTO)
            op = asyncio_stream_readinto(&s, f->buf, f->n);
        else if (f->kind == OP_EXACT)
            op = asyncio_stream_readexactly(&s, f->buf, f->n);
        else if (f->kind == OP_LINE)
            op = asyncio_stream_readline(&s, f->buf, f->n);
        else
            op = asyncio_stream_readall(&s, f->buf, f->n);
        ASYNC_TRY(AWAIT(op));
        if (!check_op(f->kind, f->n, f->buf, AWAIT_ERROR, (size_t)AWAIT_RESULT))
            break;
    }
    ASYNC_FINALLY;
    /* Whatever happened, the helpers stop. */
    asyncio_task_cancel(&f->canceller_t);
    asyncio_task_cancel(&f->closer_t);
    asyncio_task_cancel(&f->writer_t);
    ASYNC_END;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
    static const size_t rcaps[6] = {0, 1, 3, 16, 64, 200};
    int sv[2], i, r;
    unsigned cfg;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    in = d;
    in_len = size;
    in_pos = 0;
    cfg = next_byte();
    end_kind = (int)((cfg >> 4) % 3);
    cancel_every = (int)next_byte() % 64;
    close_after = (int)next_byte();
    close_after = close_after > 200 ? close_after - 200 : 0;
    nchunks = (int)(next_byte() % (MAX_CHUNKS + 1));
    total = 0;
    for (i = 0; i < nchunks; i++) {
        size_t k;
        chunks[i].len = next_byte() % 64;
        chunks[i].delay = (int)(next_byte() % 8);
        chunks[i].off = total;
        for (k = 0; k < chunks[i].len; k++)
            data[total++] = (unsigned char)next_byte();
    }
    pos = 0;
    closed_by_us = ended = reset_seen = 0;
    memset(&rd, 0, sizeof rd);
    memset(&reader_t, 0, sizeof reader_t);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %s", strerror(errno));
    peer = sv[1];
    if (end_kind == END_RESET) /* unread data on the peer's side: its close resets */
        CHECK(send(sv[0], "x", 1, 0) == 1, "send");
    asyncio_posix_virtual_time(1, 0xFFFFFF00u);
    asyncio_new_event_loop();
    asyncio_stream_init(&s, rbuf, rcaps[cfg % 6], NULL, 0);
    CHECK(asyncio_stream_attach(&s, sv[0]) == 0, "attach");
    r = asyncio_run(&reader_t, asyncio_coro_init(&rd.co, reader_fn), NULL);
    CHECK(r == 0, "reader ended with %d", r);
    if (!closed_by_us && !reset_seen)
        CHECK(ended && pos == total, "the reader stopped at %zu of %zu", pos, total);
    asyncio_stream_close(&s);
    if (peer >= 0)
        close(peer);
    peer = -1;
    return 0;
}
