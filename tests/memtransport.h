/* SPDX-License-Identifier: MIT */
/* memtransport.h -- an in-memory transport pair with injected faults, for
 * tests and fuzzers: short transfers, "again" answers, hard errors, all
 * deterministic. Each end reads what the other wrote through a ring; a task
 * waits on a ThreadSafeFlag (the path a device transport such as a UART
 * takes), set when the other end writes (readable) or reads (writable). */
#ifndef MEMTRANSPORT_H
#define MEMTRANSPORT_H

#include "asyncio_stream.h"

#include <errno.h>
#include <string.h>

#define MEM_RING 512

typedef struct mem_end mem_end;
struct mem_end {
    asyncio_transport base; /* first: what a stream is opened over */
    mem_end *peer;
    unsigned char ring[MEM_RING]; /* bytes the peer wrote, for this end to read */
    size_t head, len;
    asyncio_flag readable, writable;
    size_t max_io;        /* most bytes one read or write moves (0: no limit) */
    unsigned again_every; /* every Nth read/write answers "again" (0: never) */
    unsigned calls;
    int fail_write; /* an error code for every write (0: none) */
    int eof;        /* the peer closed: reads see EOF once the ring is empty */
    int closed;
    int injected;   /* the last "again" was injected: readiness comes a pass later */
    size_t written; /* bytes this end's write() accepted in all */
};

static int mem_again_(mem_end *e, int again)
{
    e->injected = e->again_every && ++e->calls % e->again_every == 0;
    return e->injected ? again : 0;
}

static size_t mem_cap_(const mem_end *e, size_t n)
{
    return e->max_io && n > e->max_io ? e->max_io : n;
}

static int mem_read(asyncio_transport *t, unsigned char *buf, size_t n)
{
    mem_end *e = (mem_end *)(void *)t;
    size_t i;
    int r = mem_again_(e, ASYNCIO_AGAIN_READ);
    if (r)
        return r;
    if (e->len == 0)
        return e->eof ? 0 : ASYNCIO_AGAIN_READ;
    n = mem_cap_(e, n < e->len ? n : e->len);
    for (i = 0; i < n; i++)
        buf[i] = e->ring[(e->head + i) % MEM_RING];
    e->head = (e->head + n) % MEM_RING;
    e->len -= n;
    asyncio_flag_set(&e->peer->writable); /* room for the peer's writes */
    return (int)n;
}

static int mem_write(asyncio_transport *t, const unsigned char *buf, size_t n)
{
    mem_end *e = (mem_end *)(void *)t, *p = e->peer;
    size_t i, room = MEM_RING - p->len;
    int r = mem_again_(e, ASYNCIO_AGAIN_WRITE);
    if (r)
        return r;
    if (e->fail_write)
        return e->fail_write;
    if (p->closed)
        return ASYNCIO_OSERROR(EPIPE);
    if (room == 0)
        return ASYNCIO_AGAIN_WRITE;
    n = mem_cap_(e, n < room ? n : room);
    for (i = 0; i < n; i++)
        p->ring[(p->head + p->len + i) % MEM_RING] = buf[i];
    p->len += n;
    e->written += n;
    asyncio_flag_set(&p->readable);
    return (int)n;
}

static int mem_wait(asyncio_transport *t, unsigned events)
{
    mem_end *e = (mem_end *)(void *)t;
    asyncio_flag *f = events == ASYNCIO_IO_READ ? &e->readable : &e->writable;
    int ready = events == ASYNCIO_IO_READ ? e->len || e->eof : e->peer->len < MEM_RING;
    int r;
    if (e->injected && ready) {
        /* Ready, but only after the other runnable tasks had their turn:
         * park, then set the flag the next poll will see. (Not when it is
         * really not ready: then it waits for the peer, or a virtual clock
         * could never move on.) */
        e->injected = 0;
        r = asyncio_transport_wait_flag(f);
        if (r == ASYNCIO_PENDING)
            asyncio_flag_set(f);
        return r;
    }
    e->injected = 0;
    return ready ? 0 : asyncio_transport_wait_flag(f);
}

static void mem_close(asyncio_transport *t)
{
    mem_end *e = (mem_end *)(void *)t;
    e->closed = 1;
    e->peer->eof = 1;
    asyncio_flag_set(&e->peer->readable);
    asyncio_flag_set(&e->readable); /* wake this end's own waiters */
    asyncio_flag_set(&e->writable);
}

static const asyncio_transport_ops mem_ops = {mem_read, mem_write, mem_wait, mem_close,
                                              NULL,     NULL,      NULL};

/* Two connected ends. */
static void mem_pair(mem_end *a, mem_end *b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->base.ops = b->base.ops = &mem_ops;
    a->peer = b;
    b->peer = a;
    asyncio_flag_init(&a->readable);
    asyncio_flag_init(&a->writable);
    asyncio_flag_init(&b->readable);
    asyncio_flag_init(&b->writable);
}

#endif
