/* SPDX-License-Identifier: MIT */
/*
 * fuzz_scheduler.c -- libFuzzer harness: the scheduler driven by a random
 * program of operations, with the loop's invariants checked after every step.
 *
 * The core is compiled into this file (ASYNCIO_IMPLEMENTATION) with a tiny
 * virtual-time port of its own, so the harness can walk the loop's private
 * queues. The input is a byte program:
 *
 *   byte 0        where the virtual clock starts (0, just below the 2^32
 *                 wrap, just below 2^31, or a value from the input);
 *   then ops      decoded by the director (the main task): create a worker
 *                 in one of 64 slots (with a script of up to 6 steps), cancel
 *                 one, set/clear an Event, set/clear a ThreadSafeFlag, sleep,
 *                 yield, release a lock nobody holds, retrieve a result,
 *                 make a (fake) descriptor ready, and reset the loop: the
 *                 director returns with tasks parked everywhere and the
 *                 harness calls new_event_loop() (or loop_close() first),
 *                 then starts a new director in the new loop.
 *
 * Worker steps: sleep (0, negative, huge, overflowing), yield, Event wait,
 * Lock acquire/hold/release, await another task, gather up to 3 tasks,
 * wait_for_ms on a child coroutine, wait_for_task_ms on another task,
 * ThreadSafeFlag wait, raise, return, swallow the next cancellation, cancel
 * another task (or self: ESELF), create a task in another slot, wait for a
 * fake descriptor (the harness's port watches it and reports it ready).
 *
 * Invariants, checked at every resume of every worker and of the director:
 *  - the run queue is a proper list, every member says it is in the run queue;
 *  - the timer heap is a pairing heap: parent before child by (key, seq),
 *    consistent back links, members say they are in the heap;
 *  - every wait queue (Events, Locks, flags, tasks' awaiters) is a proper
 *    ring whose members point back to it;
 *  - no task is in two queues, and `where` matches the queue it is in;
 *  - a lock is held by at most one task, a handed-over lock's new owner is
 *    runnable, nobody waits on a free lock; a set Event has no waiters;
 *    a flag with a waiter is polled by the loop;
 *  - a sleeper wakes exactly at its deadline (virtual time);
 *  - the loop never idles forever while the director is pending;
 *  - every task ends exactly once (its FINALLY runs once, or it was
 *    cancelled before it started), every error nobody retrieved reaches the
 *    exception handler at most once;
 *  - the loop's list of parked tasks holds exactly the tasks in wait queues
 *    (or parked by gather); the port watches exactly what the core says;
 *  - after a loop reset every task that was pending is DROPPED and in no
 *    queue, no Event/Lock/flag/descriptor has a waiter, no flag is armed,
 *    the port watches nothing, and no task of an old loop ever runs or
 *    appears in a queue again;
 *  - at the end (every pending task cancelled until none is left) all
 *    queues are empty, the lock is free, every flag is disarmed.
 *
 * Queue, Semaphore, Condition (issue 15; the "sync" section below): a
 * worker step gets or puts a Queue item, holds a BoundedSemaphore permit, or
 * waits on a Condition (wait / wait_for); a director op puts / gets without
 * waiting, notifies (with and without the lock), calls task_done,
 * over-releases the semaphore. Their invariants, checked with the others: no
 * item lost or duplicated, FIFO order, no getter (putter) waiting while an
 * item (a free slot) has no woken task on its way to it; permits conserved
 * (free + handed + held = the initial value), nobody waits while a permit is
 * free and none is handed; the Condition's lock is held on every return from
 * wait (cancelled too) and by one task at most.
 *
 * Awaits that would close a cycle (A awaits B awaits A) are attempted too
 * and must fail with ECANTWAIT; a cycle found in the queues is a crash (it
 * would make cancel() loop forever).
 */
#define ASYNCIO_IMPLEMENTATION
#include "asyncio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS 64
#define MAX_STEPS 6
#define MAX_OPS 400
#define NEVENTS 3
#define NLOCKS 2
#define NFLAGS 2
#define NIOS 2

#define FUZZ_NAME "fuzz_scheduler (invariant)"
#include "fuzz.h"

/* ------------------------------------------------------------------------ */
/* A virtual-time port                                                      */
/* ------------------------------------------------------------------------ */

static uint64_t vnow;  /* absolute virtual time, never wraps */
static uint32_t vbase; /* tick reading at vnow == 0 */
static int wake_pending;
static int director_alive;
static asyncio_io ios[NIOS];            /* fake descriptors */
static unsigned port_watching[NIOS];    /* what the core asked the port to watch */
static unsigned io_ready_pending[NIOS]; /* readiness the director made up */

void asyncio_port_init(void) {}
void asyncio_port_deinit(void) {}
void asyncio_port_report(const asyncio_context *ctx) { (void)ctx; }
uint32_t asyncio_port_ticks_ms(void) { return vbase + (uint32_t)vnow; }
void asyncio_port_wait(int32_t timeout_ms)
{
    int k, delivered = 0;
    for (k = 0; k < NIOS; k++) {
        unsigned e = io_ready_pending[k] & port_watching[k];
        if (e) {
            io_ready_pending[k] &= ~e;
            asyncio_io_ready(&ios[k], e);
            delivered = 1;
        }
    }
    if (delivered)
        return;
    if (timeout_ms < 0)
        CHECK(!director_alive, "the loop idles forever while the director is pending");
    if (wake_pending) {
        wake_pending = 0;
        return;
    }
    if (timeout_ms > 0)
        vnow += (uint32_t)timeout_ms;
}
void asyncio_port_wake(void) { wake_pending = 1; }
uint32_t asyncio_port_critical_enter(void) { return 0; }
void asyncio_port_critical_exit(uint32_t state) { (void)state; }
int asyncio_port_io_watch(asyncio_io *io, unsigned events)
{
    long k = io - ios;
    CHECK(k >= 0 && k < NIOS, "io_watch on an unknown descriptor");
    CHECK(io->watching == port_watching[k], "io %ld: the core thinks %u is watched, the port %u", k,
          io->watching, port_watching[k]);
    CHECK(events <= (ASYNCIO_IO_READ | ASYNCIO_IO_WRITE), "io_watch events %u", events);
    port_watching[k] = events;
    return ASYNCIO_OK;
}

/* ------------------------------------------------------------------------ */
/* The input                                                                */
/* ------------------------------------------------------------------------ */

static const uint8_t *in;
static size_t in_len, in_pos;
static unsigned next_byte(void) { return in_pos < in_len ? in[in_pos++] : 0; }

/* Milliseconds from one byte: small ones, zero and negative ones, seconds,
 * the longest sleep and one past it. */
static int64_t decode_ms(unsigned b)
{
    switch (b) {
    case 255: return ASYNCIO_SLEEP_MAX_MS;
    case 254: return (int64_t)ASYNCIO_SLEEP_MAX_MS + 1;
    case 253: return -100000;
    case 252: return INT64_MIN;
    case 251: return (int64_t)ASYNCIO_SLEEP_MAX_MS / 2;
    default: break;
    }
    if (b < 8)
        return (int64_t)b - 3;
    if (b < 200)
        return (int64_t)b - 8;
    return ((int64_t)b - 200) * 1000;
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */
/* ------------------------------------------------------------------------ */

enum {
    ST_SLEEP,
    ST_YIELD,
    ST_EVENT,
    ST_LOCK,
    ST_AWAIT,
    ST_GATHER,
    ST_WAIT_FOR,
    ST_WAIT_FOR_TASK,
    ST_FLAG,
    ST_RAISE,
    ST_RETURN,
    ST_IGNORE_CANCEL,
    ST_CANCEL,
    ST_CREATE,
    ST_SYNC,         /* a Queue / Semaphore / Condition step (sync section) */
    ST_COUNT,        /* kinds chosen by byte % ST_COUNT (bytes below 252) */
    ST_IO = ST_COUNT /* bytes 252..255 */
};

struct step {
    uint8_t kind, a, b, c;
};

/* The child coroutine run by wait_for: sleeps, may swallow one cancel. */
struct child {
    asyncio_coro co;
    int64_t ms;
    int stubborn;
    unsigned epoch; /* the loop it was created in */
};

/* ---- sync (issue 15): Queue, Semaphore, Condition: types ---- */

#define SYNC_QSIZE 3
#define SYNC_PERMITS 2
#define SYNC_MAX_ITEMS 4096
enum { SYNC_NONE, SYNC_GET, SYNC_PUT, SYNC_SEM, SYNC_COND };

/* One worker step on the sync primitives: a coroutine of its own. */
struct sync_step {
    asyncio_coro co;
    struct worker *w;
    uint8_t kind, a, b;
    int item;         /* the item being put */
    int holding_sem;  /* holds a permit */
    int holding_cond; /* holds the Condition's lock */
    asyncio_condition_wait_state cw;
};

struct worker {
    asyncio_coro co;
    int slot;
    uint8_t nsteps, pc;
    struct step steps[MAX_STEPS];
    int holding; /* index of the lock held, -1: none */
    int ignore_cancel;
    int started, finished;
    uint64_t deadline;
    int runner_alive; /* a wait_for runner was still pending when it slept */
    int would_cycle;  /* the await under way would close a cycle */
    asyncio_gather_state g;
    asyncio_task *gt[3];
    asyncio_outcome gout[3];
    asyncio_wait_for_state wf;
    struct child child;
    struct sync_step sync;
};

struct slot {
    asyncio_task task;
    struct worker w;
    unsigned created, reported;
    unsigned epoch; /* the loop its task was created in */
};

static struct slot slots[NSLOTS];
static asyncio_event events[NEVENTS];
static asyncio_lock locks[NLOCKS];
static asyncio_flag flags[NFLAGS];
static int holders[NLOCKS];
static asyncio_task director_task, flusher_task;
static asyncio_coro director_co, flusher_co;
static unsigned handler_calls;
static unsigned epoch; /* loops reset so far in this input */
static int reset_kind; /* the director asks for: 1 new_event_loop, 2 close first */

/* ------------------------------------------------------------------------ */
/* The walker                                                               */
/* ------------------------------------------------------------------------ */

#define NTASKS (NSLOTS * 3 + 2)
enum { IN_NOTHING, IN_RUNQ, IN_HEAP, IN_WAITQ };
static uint8_t seen_in[NTASKS];
static const asyncio_waitq *seen_q[NTASKS];

/* Every task the harness knows: index, or -1. */
static int task_index(const asyncio_task *t)
{
    const char *p = (const char *)t, *base = (const char *)slots;
    if (t == &director_task)
        return NSLOTS * 3;
    if (t == &flusher_task)
        return NSLOTS * 3 + 1;
    if (p >= base && p < base + sizeof slots) {
        size_t i = (size_t)(p - base) / sizeof slots[0];
        if (t == &slots[i].task)
            return (int)i * 3;
        if (t == &slots[i].w.wf.runner)
            return (int)i * 3 + 1;
        if (t == &slots[i].w.wf.inner)
            return (int)i * 3 + 2;
    }
    return -1;
}

static asyncio_task *task_at(int i)
{
    if (i == NSLOTS * 3)
        return &director_task;
    if (i == NSLOTS * 3 + 1)
        return &flusher_task;
    if (i % 3 == 0)
        return &slots[i / 3].task;
    return i % 3 == 1 ? &slots[i / 3].w.wf.runner : &slots[i / 3].w.wf.inner;
}

static void mark(const asyncio_task *t, int where, const asyncio_waitq *q)
{
    int i = task_index(t);
    CHECK(i >= 0, "unknown task %p in a queue", (const void *)t);
    CHECK(t->gen == asyncio_L_.gen && t->state != ASYNCIO_TASK_DROPPED,
          "task %d of a dropped loop is in a queue", i);
    CHECK(seen_in[i] == IN_NOTHING, "task %d in two queues (%d and %d)", i, seen_in[i], where);
    seen_in[i] = (uint8_t)where;
    seen_q[i] = q;
}

static void walk_waitq(const asyncio_waitq *q, int on_task)
{
    const asyncio_task *t, *tail = q->tail;
    int n = 0;
    if (!tail)
        return;
    t = tail;
    do {
        const asyncio_task *next = t->link.wait.next;
        CHECK(++n <= NTASKS, "wait queue %p does not close", (const void *)q);
        CHECK(t->where == ASYNCIO_IN_WAITQ_, "task %d in a wait queue says where=%d", task_index(t),
              t->where);
        CHECK(t->link.wait.queue == q, "task %d in wait queue %p points to %p", task_index(t),
              (const void *)q, (const void *)t->link.wait.queue);
        CHECK(next->link.wait.prev == t, "broken back link in wait queue");
        CHECK(((t->flags & ASYNCIO_F_QUEUE_KIND_) == ASYNCIO_F_ON_TASK_) == on_task,
              "task %d: queue kind %u", task_index(t),
              (unsigned)(t->flags & ASYNCIO_F_QUEUE_KIND_));
        mark(t, IN_WAITQ, q);
        t = next;
    } while (t != tail);
}

static void walk_heap(void)
{
    static const asyncio_task *stack[NTASKS + 1];
    int sp = 0;
    if (!asyncio_L_.heap)
        return;
    stack[sp++] = asyncio_L_.heap;
    while (sp) {
        const asyncio_task *t = stack[--sp], *c, *prev = t;
        CHECK(t->where == ASYNCIO_IN_HEAP_, "task %d in the heap says where=%d", task_index(t),
              t->where);
        mark(t, IN_HEAP, NULL);
        for (c = t->link.heap.child; c; prev = c, c = c->link.heap.sibling) {
            CHECK(!asyncio_heap_before_(c, t),
                  "heap order: child %d (key %u seq %u) before parent %d (key %u seq %u)",
                  task_index(c), c->aux.timer.key, c->aux.timer.seq, task_index(t),
                  t->aux.timer.key, t->aux.timer.seq);
            CHECK(c->link.heap.prev == prev, "heap back link of task %d", task_index(c));
            CHECK(sp < NTASKS, "heap too big");
            stack[sp++] = c;
        }
    }
}

/* The loop's two rings of parked tasks (`parked`, and `flag_waiters` that
 * the loop polls): proper, and together exactly the tasks whose `where`
 * says they are in a wait queue (or parked by gather). on_ring[i] is 1 or
 * 2: which ring task i is on. */
static uint8_t on_ring[NTASKS];

static void walk_ring(const asyncio_link *head, uint8_t which)
{
    const asyncio_link *l, *prev = head;
    const asyncio_task *t;
    int i, n = 0;
    for (l = head->next; l != head; prev = l, l = l->next) {
        t = (const asyncio_task *)(const void *)((const char *)l -
                                                 offsetof(asyncio_task, aux.parked));
        i = task_index(t);
        CHECK(++n <= NTASKS, "ring %u does not close", which);
        CHECK(i >= 0, "unknown task on ring %u", which);
        CHECK(l->prev == prev, "ring %u: broken back link at task %d", which, i);
        CHECK(t->where == ASYNCIO_IN_WAITQ_, "task %d on ring %u says where=%d", i, which,
              t->where);
        CHECK(t->gen == asyncio_L_.gen, "task %d of a dropped loop on ring %u", i, which);
        CHECK(!on_ring[i], "task %d on ring %u and ring %u", i, on_ring[i], which);
        on_ring[i] = which;
    }
    CHECK(head->prev == prev, "ring %u: the sentinel's back link is wrong", which);
}

static void walk_parked(void)
{
    const asyncio_task *t;
    int i;
    memset(on_ring, 0, sizeof on_ring);
    walk_ring(&asyncio_L_.parked, 1);
    walk_ring(&asyncio_L_.flag_waiters, 2);
    for (i = 0; i < NTASKS; i++) {
        t = task_at(i);
        if (t->gen == asyncio_L_.gen && t->state == ASYNCIO_TASK_PENDING &&
            t->where == ASYNCIO_IN_WAITQ_)
            CHECK(on_ring[i], "parked task %d is on neither of the loop's rings", i);
    }
}

static int flag_ring_empty(void)
{
    return asyncio_L_.flag_waiters.next == &asyncio_L_.flag_waiters;
}
static void sync_check(void);

static void check_all(void)
{
    const asyncio_task *t, *last = NULL;
    int i, n = 0;
    memset(seen_in, 0, sizeof seen_in);
    CHECK(!asyncio_running_ || (asyncio_running_->gen == asyncio_L_.gen &&
                                asyncio_running_->state == ASYNCIO_TASK_PENDING),
          "the running task belongs to a dropped loop");
    walk_parked();
    /* Run queue. */
    for (t = asyncio_L_.run_head; t; last = t, t = t->link.run.next) {
        CHECK(++n <= NTASKS, "run queue does not end");
        CHECK(t->where == ASYNCIO_IN_RUNQ_, "task %d in the run queue says where=%d", task_index(t),
              t->where);
        mark(t, IN_RUNQ, NULL);
    }
    CHECK(!asyncio_L_.run_head || asyncio_L_.run_tail == last, "run queue tail is wrong");
    /* A kind of work the loop would not look at is a lost wake-up. */
    CHECK(flag_ring_empty() || (asyncio_L_.work & ASYNCIO_WORK_FLAGS_), "flag waiters unpolled");
    CHECK(!asyncio_L_.heap || (asyncio_L_.work & ASYNCIO_WORK_TIMERS_), "timers unexpired");
    CHECK(!asyncio_L_.io_watched || (asyncio_L_.work & ASYNCIO_WORK_IO_), "descriptors unpolled");
    walk_heap();
    for (i = 0; i < NEVENTS; i++) {
        walk_waitq(&events[i].waiters, 0);
        CHECK(!events[i].is_set || !events[i].waiters.tail, "a set Event has waiters");
    }
    for (i = 0; i < NLOCKS; i++) {
        const asyncio_lock *l = &locks[i];
        walk_waitq(&l->waiters, 0);
        CHECK(holders[i] <= 1, "lock %d held by %d tasks", i, holders[i]);
        CHECK(!holders[i] || (l->locked && !l->handed_to), "lock %d held but not locked", i);
        CHECK(holders[i] || !l->locked, "lock %d locked with no holder", i);
        CHECK(!l->handed_to || l->handed_to->where == ASYNCIO_IN_RUNQ_ ||
                  l->handed_to == asyncio_running_,
              "lock %d handed to a task that is not runnable", i);
        CHECK(!l->waiters.tail || l->locked || l->handed_to, "waiters on a free lock %d", i);
    }
    sync_check();
    for (i = 0; i < NFLAGS; i++) {
        walk_waitq(&flags[i].waiters, 0);
        CHECK(!flags[i].waiters.tail || on_ring[task_index(flags[i].waiters.tail)] == 2,
              "flag %d has a waiter the loop does not poll", i);
    }
    for (i = 0; i < NIOS; i++) {
        unsigned want = (ios[i].readers.tail ? ASYNCIO_IO_READ : 0u) |
                        (ios[i].writers.tail ? ASYNCIO_IO_WRITE : 0u);
        walk_waitq(&ios[i].readers, 0);
        walk_waitq(&ios[i].writers, 0);
        CHECK(ios[i].watching == want && port_watching[i] == want,
              "io %d: waited for %u, core watches %u, port %u", i, want, ios[i].watching,
              port_watching[i]);
    }
    for (i = 0; i < NTASKS; i++) {
        t = task_at(i);
        if (t->state == ASYNCIO_TASK_PENDING && t->gen == asyncio_L_.gen &&
            !(t->flags & ASYNCIO_F_GATHERED_))
            walk_waitq(&t->done_to.awaiters, 1);
        if (t->state == ASYNCIO_TASK_DONE)
            CHECK(!t->done_to.awaiters.tail, "done task %d still has awaiters", i);
    }
    /* Every task is where it says it is, and nowhere else. */
    for (i = 0; i < NTASKS; i++) {
        t = task_at(i);
        /* Only this loop's tasks: a dropped one may carry the current gen
         * after 256 resets (the 8-bit generation wraps). */
        if (t->gen != asyncio_L_.gen || t->state == ASYNCIO_TASK_NEW ||
            t->state == ASYNCIO_TASK_DROPPED)
            continue;
        switch (t->where) {
        case ASYNCIO_IN_NONE_:
            CHECK(seen_in[i] == IN_NOTHING, "task %d says it is nowhere but is in %d", i,
                  seen_in[i]);
            CHECK(t->state == ASYNCIO_TASK_DONE || t == asyncio_running_ || t == &director_task ||
                      t == &flusher_task,
                  "pending task %d is in no queue and not running (lost)", i);
            break;
        case ASYNCIO_IN_RUNQ_:
            CHECK(seen_in[i] == IN_RUNQ, "task %d not in the run queue", i);
            break;
        case ASYNCIO_IN_HEAP_:
            CHECK(seen_in[i] == IN_HEAP, "task %d not in the heap", i);
            CHECK(t->state == ASYNCIO_TASK_PENDING, "done task %d in the heap", i);
            CHECK(asyncio_ticks_diff(t->aux.timer.key, asyncio_port_ticks_ms()) > 0 ||
                      t == asyncio_running_,
                  "task %d overslept in the heap", i);
            break;
        case ASYNCIO_IN_WAITQ_:
            CHECK(t->state == ASYNCIO_TASK_PENDING, "done task %d in a wait queue", i);
            if (t->link.wait.queue)
                CHECK(seen_in[i] == IN_WAITQ && seen_q[i] == t->link.wait.queue,
                      "task %d not in its wait queue", i);
            else
                CHECK(seen_in[i] == IN_NOTHING, "gather-parked task %d is in a queue", i);
            break;
        default: FAIL("task %d: where=%d", i, t->where);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* sync (issue 15): Queue, Semaphore, Condition                              */
/* ------------------------------------------------------------------------ */

static asyncio_queue sync_q; /* a FIFO Queue(SYNC_QSIZE) */
static asyncio_value sync_qbuf[SYNC_QSIZE];
static asyncio_semaphore sync_sem;              /* BoundedSemaphore(SYNC_PERMITS) */
static asyncio_condition sync_cond;             /* with its own lock */
static int sync_sem_holders, sync_cond_holders; /* tasks holding a permit / the lock */
static int sync_pred_value;                     /* what wait_for's predicate reads */
static int sync_next_item;                      /* items are 0, 1, 2, ... */
static uint8_t sync_item_state[SYNC_MAX_ITEMS]; /* 0 never put, 1 queued, 2 taken */
static uint32_t sync_put_seq[SYNC_MAX_ITEMS];   /* when it was put (FIFO check) */
static uint32_t sync_put_count, sync_last_got_seq;
static uint8_t sync_on[NTASKS]; /* what each task waits on (SYNC_*) */

static void sync_init(void)
{
    CHECK(asyncio_queue_init(&sync_q, sync_qbuf, SYNC_QSIZE) == 0, "queue init");
    asyncio_bounded_semaphore_init(&sync_sem, SYNC_PERMITS);
    asyncio_condition_init(&sync_cond, NULL);
    sync_sem_holders = sync_cond_holders = sync_pred_value = sync_next_item = 0;
    memset(sync_item_state, 0, sizeof sync_item_state);
    sync_put_count = sync_last_got_seq = 0;
    memset(sync_on, 0, sizeof sync_on);
}

static int sync_new_item(void) { return sync_next_item < SYNC_MAX_ITEMS ? sync_next_item++ : -1; }

static void sync_put_done(int item)
{
    CHECK(sync_item_state[item] == 0, "item %d put twice", item);
    sync_item_state[item] = 1;
    sync_put_seq[item] = ++sync_put_count;
}

static void sync_got(asyncio_value v)
{
    int item = (int)v;
    CHECK(item >= 0 && item < sync_next_item, "got %d, an item never made", item);
    CHECK(sync_item_state[item] == 1, "got item %d in state %d (duplicated or never put)", item,
          sync_item_state[item]);
    CHECK(sync_put_seq[item] > sync_last_got_seq, "FIFO order broken at item %d", item);
    sync_last_got_seq = sync_put_seq[item];
    sync_item_state[item] = 2;
}

static void sync_waits_on(int on)
{
    int i = task_index(asyncio_current_task(NULL));
    CHECK(i >= 0, "sync wait outside a known task");
    sync_on[i] = (uint8_t)on;
}

/* Tasks woken by a hand-off (an item, a slot, a permit) that have not taken
 * it yet, among those waiting on `on`. */
static int sync_handed(int on)
{
    int i, n = 0;
    for (i = 0; i < NTASKS; i++) {
        const asyncio_task *t = task_at(i);
        if (sync_on[i] == on && t->state == ASYNCIO_TASK_PENDING && t->gen == asyncio_L_.gen &&
            (t->flags & ASYNCIO_F_HANDED_))
            n++;
    }
    return n;
}

static void sync_check(void)
{
    static uint8_t in_ring[SYNC_MAX_ITEMS];
    uint32_t k;
    int i, queued = 0;
    walk_waitq(&sync_q.getters, 0);
    walk_waitq(&sync_q.putters, 0);
    walk_waitq(&sync_sem.waiters, 0);
    walk_waitq(&sync_cond.waiters, 0);
    walk_waitq(&sync_cond.own.waiters, 0);
    /* Queue: the ring holds exactly the items put and not taken, once each. */
    memset(in_ring, 0, sizeof in_ring);
    CHECK(sync_q.count <= SYNC_QSIZE, "queue over its maxsize");
    for (k = 0; k < sync_q.count; k++) {
        asyncio_value v = sync_qbuf[(sync_q.head + k) % SYNC_QSIZE];
        CHECK(v >= 0 && v < sync_next_item && sync_item_state[v] == 1 && !in_ring[v],
              "queue slot %u holds item %ld in state %d (twice: %d)", (unsigned)k, (long)v,
              v >= 0 && v < SYNC_MAX_ITEMS ? sync_item_state[v] : -1,
              v >= 0 && v < SYNC_MAX_ITEMS ? in_ring[v] : -1);
        in_ring[v] = 1;
    }
    for (i = 0; i < sync_next_item; i++)
        queued += sync_item_state[i] == 1;
    CHECK(queued == (int)sync_q.count, "%d items put and not taken, %u in the queue (lost)", queued,
          (unsigned)sync_q.count);
    /* No lost wake-up: while getters wait, every queued item has a woken
     * getter on its way; while putters wait, every free slot a putter. */
    if (sync_q.getters.tail)
        CHECK((int)sync_q.count <= sync_handed(SYNC_GET),
              "%u items queued, getters waiting, %d woken (lost wake-up)", (unsigned)sync_q.count,
              sync_handed(SYNC_GET));
    if (sync_q.putters.tail)
        CHECK(SYNC_QSIZE - (int)sync_q.count <= sync_handed(SYNC_PUT),
              "%d free slots, putters waiting, %d woken (lost wake-up)",
              SYNC_QSIZE - (int)sync_q.count, sync_handed(SYNC_PUT));
    /* Semaphore: permits conserved; nobody waits for a free permit. */
    CHECK((int)sync_sem.value + sync_sem.handed + sync_sem_holders == SYNC_PERMITS,
          "permits: %u free + %u handed + %d held != %d", (unsigned)sync_sem.value,
          (unsigned)sync_sem.handed, sync_sem_holders, SYNC_PERMITS);
    CHECK(sync_sem.handed == sync_handed(SYNC_SEM), "semaphore: %u handed, %d tasks woken",
          (unsigned)sync_sem.handed, sync_handed(SYNC_SEM));
    CHECK(!sync_sem.waiters.tail || sync_sem.value == 0 || sync_sem.handed > 0,
          "semaphore waiters while %u permits are free", (unsigned)sync_sem.value);
    /* Condition: its lock held by one task at most. */
    CHECK(sync_cond_holders <= 1, "Condition lock held by %d tasks", sync_cond_holders);
    CHECK(!sync_cond_holders || (sync_cond.own.locked && !sync_cond.own.handed_to),
          "Condition lock held but not locked");
    CHECK(sync_cond_holders || !sync_cond.own.locked, "Condition lock locked with no holder");
}

static void sync_check_end(void)
{
    int i;
    sync_check();
    CHECK(!sync_q.getters.tail && !sync_q.putters.tail, "queue waiters at the end");
    CHECK(sync_sem.value == SYNC_PERMITS && !sync_sem.handed && !sync_sem.waiters.tail,
          "semaphore not back to %d permits at the end", SYNC_PERMITS);
    CHECK(!sync_cond.waiters.tail && !sync_cond.own.locked && !sync_cond.own.handed_to &&
              !sync_cond.own.waiters.tail,
          "Condition not free at the end");
    for (i = 0; i < NTASKS; i++)
        CHECK(!(task_at(i)->flags & ASYNCIO_F_HANDED_) || task_at(i)->state != ASYNCIO_TASK_PENDING,
              "task %d still marked handed at the end", i);
}

static int sync_pred(void *arg) { return sync_pred_value >= *(const int *)arg; }

/* A worker's step: get, put, hold a permit, wait on the Condition. */
static int sync_step_fn(asyncio_coro *co)
{
    struct sync_step *f = (struct sync_step *)co;
    static const int thresholds[4] = {0, 1, 2, 3};
    int r;
    check_all();
    ASYNC_BEGIN(co);
    f->holding_sem = f->holding_cond = 0;
    if (f->kind == 0) {
        sync_waits_on(SYNC_GET);
        ASYNC_TRY(AWAIT_QUEUE_GET(&sync_q));
        sync_waits_on(SYNC_NONE);
        CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED, "get: %d", AWAIT_ERROR);
        if (AWAIT_ERROR)
            ASYNC_RAISE(AWAIT_ERROR);
        sync_got(AWAIT_RESULT);
    } else if (f->kind == 1) {
        f->item = sync_new_item();
        if (f->item < 0)
            ASYNC_RETURN(0);
        sync_waits_on(SYNC_PUT);
        ASYNC_TRY(AWAIT_QUEUE_PUT(&sync_q, f->item));
        sync_waits_on(SYNC_NONE);
        CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED, "put: %d", AWAIT_ERROR);
        if (AWAIT_ERROR)
            ASYNC_RAISE(AWAIT_ERROR);
        sync_put_done(f->item);
    } else if (f->kind == 2) {
        sync_waits_on(SYNC_SEM);
        ASYNC_TRY(AWAIT_SEMAPHORE(&sync_sem));
        sync_waits_on(SYNC_NONE);
        CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED, "acquire: %d", AWAIT_ERROR);
        if (AWAIT_ERROR)
            ASYNC_RAISE(AWAIT_ERROR);
        f->holding_sem = 1;
        sync_sem_holders++;
        check_all();
        AWAIT_SLEEP_MS(f->b % 20);
    } else {
        AWAIT_CONDITION_ACQUIRE(&sync_cond);
        CHECK(sync_cond_holders == 0, "Condition lock acquired while held");
        f->holding_cond = 1;
        sync_waits_on(SYNC_COND);
        /* wait() releases the lock at once; it is ours again when it returns */
        if (f->kind == 3) {
            ASYNC_TRY(AWAIT_CONDITION_WAIT(&sync_cond, &f->cw));
        } else {
            ASYNC_TRY(AWAIT_CONDITION_WAIT_FOR(&sync_cond, &f->cw, sync_pred,
                                               (void *)&thresholds[f->b % 4]));
            CHECK(AWAIT_ERROR || (AWAIT_RESULT && sync_pred((void *)&thresholds[f->b % 4])),
                  "wait_for returned with its predicate false");
        }
        sync_waits_on(SYNC_NONE);
        CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED, "wait: %d", AWAIT_ERROR);
        CHECK(sync_cond.own.locked && !sync_cond.own.handed_to && sync_cond_holders == 0,
              "Condition wait returned (%d) without the lock", AWAIT_ERROR);
        sync_cond_holders++;
        if (AWAIT_ERROR)
            ASYNC_RAISE(AWAIT_ERROR);
        check_all();
        AWAIT_SLEEP_MS(f->b % 5);
    }
    ASYNC_FINALLY;
    if (f->holding_sem) {
        sync_sem_holders--;
        r = asyncio_semaphore_release(&sync_sem);
        CHECK(r == 0, "semaphore release by a holder: %d", r);
    }
    if (f->holding_cond) {
        sync_cond_holders -= sync_cond_holders > 0; /* 0 if wait failed before re-taking it */
        r = asyncio_condition_release(&sync_cond);
        CHECK(r == 0, "Condition release by its holder: %d", r);
    }
    f->holding_sem = f->holding_cond = 0;
    ASYNC_END;
}

static asyncio_coro *sync_step(struct sync_step *f, struct worker *w, uint8_t a, uint8_t b,
                               uint8_t c)
{
    f->w = w;
    f->kind = (uint8_t)(a % 5);
    f->a = c;
    f->b = b;
    return asyncio_coro_init(&f->co, sync_step_fn);
}

/* The director's op: put / get without waiting, notify with or without the
 * lock, task_done, a BoundedSemaphore released by nobody holding it. */
struct sync_director {
    asyncio_coro co;
    unsigned j, op;
};

static int sync_director_fn(asyncio_coro *co)
{
    struct sync_director *f = (struct sync_director *)co;
    asyncio_value v;
    int r, item;
    ASYNC_BEGIN(co);
    f->op = f->j % 6;
    if (f->op == 0) {
        item = sync_new_item();
        if (item >= 0) {
            r = asyncio_queue_put_nowait(&sync_q, item);
            CHECK(r == 0 || (r == ASYNCIO_EQUEUEFULL && asyncio_queue_full(&sync_q)),
                  "put_nowait: %d", r);
            if (r == 0)
                sync_put_done(item);
        }
    } else if (f->op == 1) {
        r = asyncio_queue_get_nowait(&sync_q, &v);
        CHECK(r == 0 || (r == ASYNCIO_EQUEUEEMPTY && asyncio_queue_empty(&sync_q)),
              "get_nowait: %d", r);
        if (r == 0)
            sync_got(v);
    } else if (f->op == 2) {
        r = asyncio_condition_notify(&sync_cond, f->j % 3 + 1);
        CHECK(r == (asyncio_condition_locked(&sync_cond) ? 0 : ASYNCIO_ENOTHELD), "notify: %d", r);
    } else if (f->op == 3) {
        r = asyncio_queue_task_done(&sync_q);
        CHECK(r == 0 || r == ASYNCIO_ETASKDONE, "task_done: %d", r);
    } else if (f->op == 4) {
        if (sync_sem_holders == 0 && sync_sem.handed == 0) {
            r = asyncio_semaphore_release(&sync_sem);
            CHECK(r == ASYNCIO_EOVERRELEASE, "BoundedSemaphore over-release: %d", r);
        }
    } else {
        sync_pred_value++;
        /* Only when the lock is free: the director never waits for it. */
        if (!sync_cond.own.locked && !sync_cond.own.handed_to && !sync_cond.own.waiters.tail) {
            AWAIT_CONDITION_ACQUIRE(&sync_cond);
            r = asyncio_condition_notify_all(&sync_cond);
            CHECK(r == 0, "notify_all holding the lock: %d", r);
            r = asyncio_condition_release(&sync_cond);
            CHECK(r == 0, "Condition release: %d", r);
        }
    }
    ASYNC_END;
}

static asyncio_coro *sync_director(struct sync_director *f, unsigned j)
{
    f->j = j;
    return asyncio_coro_init(&f->co, sync_director_fn);
}

/* ------------------------------------------------------------------------ */
/* Await cycles (known finding: cancel() would loop forever)                */
/* ------------------------------------------------------------------------ */

/* The task `t` waits on, if it awaits a task. */
static asyncio_task *awaited_by(const asyncio_task *t)
{
    if (t->state != ASYNCIO_TASK_PENDING || t->where != ASYNCIO_IN_WAITQ_ ||
        (t->flags & ASYNCIO_F_QUEUE_KIND_) != ASYNCIO_F_ON_TASK_)
        return NULL;
    return (asyncio_task *)(void *)((char *)t->link.wait.queue -
                                    offsetof(asyncio_task, done_to.awaiters));
}

/* Does following what `t` awaits lead to `target` (or round a cycle)? */
static int chain_reaches(const asyncio_task *t, const asyncio_task *target)
{
    int n = 0;
    for (; t; t = awaited_by(t)) {
        if (t == target || ++n > NTASKS)
            return 1;
    }
    return 0;
}

static int cancel_safely(asyncio_task *t)
{
    CHECK(!chain_reaches(awaited_by(t), t),
          "a cycle of tasks awaiting each other: cancel() would never return");
    return asyncio_task_cancel(t);
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */
/* ------------------------------------------------------------------------ */

static int child_fn(asyncio_coro *co)
{
    struct child *c = (struct child *)co;
    CHECK(c->epoch == epoch, "a wait_for child of loop %u ran in loop %u", c->epoch, epoch);
    check_all();
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_SLEEP_MS(c->ms));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED && c->stubborn)
        AWAIT_SLEEP_MS(1); /* ignores the cancellation once */
    else if (AWAIT_ERROR)
        ASYNC_RAISE(AWAIT_ERROR);
    ASYNC_RETURN(c->ms);
    ASYNC_END;
}

static int worker_fn(asyncio_coro *co);

static int slot_reusable(int j)
{
    struct slot *s = &slots[j];
    return s->task.state != ASYNCIO_TASK_PENDING && s->w.wf.runner.state != ASYNCIO_TASK_PENDING &&
           s->w.wf.inner.state != ASYNCIO_TASK_PENDING;
}

/* The previous incarnation of slot j ended exactly once. */
static void check_ended_once(int j)
{
    struct slot *s = &slots[j];
    if (!s->created)
        return;
    CHECK(s->task.state == ASYNCIO_TASK_DONE, "slot %d never ended", j);
    if (s->w.started)
        CHECK(s->w.finished == 1, "slot %d ended %d times", j, s->w.finished);
    else
        CHECK(s->w.finished == 0 && s->task.coro->err == ASYNCIO_ECANCELLED,
              "slot %d ended without running, error %d", j, s->task.coro->err);
}

/* Create a worker in slot j, its script read from the input. */
static int create_worker(int j)
{
    struct slot *s = &slots[j];
    struct worker *w = &s->w;
    int i, r;
    static asyncio_coro fresh;
    if (!slot_reusable(j)) {
        if (s->task.state == ASYNCIO_TASK_PENDING) {
            r = asyncio_create_task(&s->task, asyncio_coro_init(&fresh, worker_fn));
            CHECK(r == ASYNCIO_EBUSY, "create_task on pending slot %d: %d", j, r);
        }
        return 0;
    }
    if (s->task.state == ASYNCIO_TASK_DONE && s->task.where == ASYNCIO_IN_RUNQ_ &&
        !(s->task.flags & ASYNCIO_F_RETRIEVED_)) {
        /* Done, its error not reported yet: create_task must refuse, and
         * its coroutine (holding the error) must not be touched. */
        r = asyncio_create_task(&s->task, asyncio_coro_init(&fresh, worker_fn));
        CHECK(r == ASYNCIO_EBUSY, "create_task on an unreported task %d: %d", j, r);
        return 0;
    }
    check_ended_once(j);
    w->slot = j;
    w->nsteps = (uint8_t)(next_byte() % (MAX_STEPS + 1));
    w->pc = 0;
    for (i = 0; i < w->nsteps; i++) {
        unsigned k = next_byte();
        w->steps[i].kind = (uint8_t)(k < 252 ? k % ST_COUNT : ST_IO);
        w->steps[i].a = (uint8_t)next_byte();
        w->steps[i].b = (uint8_t)next_byte();
        w->steps[i].c = (uint8_t)next_byte();
    }
    w->holding = -1;
    w->ignore_cancel = 0;
    w->started = w->finished = 0;
    r = asyncio_create_task(&s->task, asyncio_coro_init(&w->co, worker_fn));
    CHECK(r == 0, "create_task failed: %d", r);
    s->epoch = epoch;
    s->created++;
    s->reported = 0;
    return 1;
}

/* An error from an await: carry on, unless it is a cancellation this
 * worker does not swallow. */
static int must_raise(struct worker *w, int err)
{
    if (err != ASYNCIO_ECANCELLED)
        return 0;
    if (w->ignore_cancel > 0) {
        w->ignore_cancel--;
        return 0;
    }
    return 1;
}

#define STEP (&w->steps[w->pc])
#define OTHER (&slots[STEP->a % NSLOTS].task)

static int worker_fn(asyncio_coro *co)
{
    struct worker *w = (struct worker *)co;
    int r, i;
    CHECK(!w->finished, "slot %d resumed after it ended", w->slot);
    CHECK(slots[w->slot].epoch == epoch, "slot %d of loop %u ran in loop %u", w->slot,
          slots[w->slot].epoch, epoch);
    check_all();
    ASYNC_BEGIN(co);
    w->started = 1;
    for (w->pc = 0; w->pc < w->nsteps; w->pc++) {
        if (STEP->kind == ST_SLEEP) {
            int64_t ms = decode_ms(STEP->a);
            w->deadline = vnow + (uint64_t)(ms > 0 && ms <= ASYNCIO_SLEEP_MAX_MS ? ms : 0);
            w->runner_alive = w->wf.runner.state == ASYNCIO_TASK_PENDING;
            ASYNC_TRY(AWAIT_SLEEP_MS(ms));
            if (AWAIT_ERROR == 0)
                CHECK(vnow == w->deadline, "slot %d woke at %llu, deadline %llu", w->slot,
                      (unsigned long long)vnow, (unsigned long long)w->deadline);
            else if (decode_ms(STEP->a) > ASYNCIO_SLEEP_MAX_MS)
                CHECK(AWAIT_ERROR == ASYNCIO_EOVERFLOW || AWAIT_ERROR == ASYNCIO_ECANCELLED,
                      "sleep overflow gave %d", AWAIT_ERROR);
            else
                CHECK(AWAIT_ERROR == ASYNCIO_ECANCELLED, "sleep failed with %d", AWAIT_ERROR);
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_YIELD) {
            ASYNC_TRY(YIELD);
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_EVENT) {
            ASYNC_TRY(AWAIT_EVENT(&events[STEP->a % NEVENTS]));
            CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED, "event wait: %d",
                  AWAIT_ERROR);
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_LOCK) {
            ASYNC_TRY(AWAIT_LOCK(&locks[STEP->a % NLOCKS]));
            if (AWAIT_ERROR == 0) {
                w->holding = STEP->a % NLOCKS;
                holders[w->holding]++;
                check_all();
                ASYNC_TRY(AWAIT_SLEEP_MS(decode_ms(STEP->b) % 50));
                holders[w->holding]--;
                r = asyncio_lock_release(&locks[w->holding]);
                CHECK(r == 0, "release of a held lock: %d", r);
                w->holding = -1;
            }
            CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED, "lock: %d", AWAIT_ERROR);
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_AWAIT) {
            /* Awaiting self, or a task that (transitively) awaits us. */
            w->would_cycle = chain_reaches(OTHER, &slots[w->slot].task);
            ASYNC_TRY(AWAIT_TASK(OTHER));
            if (w->would_cycle)
                CHECK(AWAIT_ERROR == ASYNCIO_ECANTWAIT || AWAIT_ERROR == ASYNCIO_ECANCELLED,
                      "an await closing a cycle gave %d", AWAIT_ERROR);
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_GATHER) {
            w->gt[0] = &slots[STEP->a % NSLOTS].task;
            w->gt[1] = &slots[STEP->b % NSLOTS].task;
            w->gt[2] = &slots[STEP->c % NSLOTS].task;
            ASYNC_TRY(AWAIT(asyncio_gather(&w->g, w->gt, 1 + STEP->c % 3, w->gout, STEP->b & 1)));
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_WAIT_FOR || STEP->kind == ST_WAIT_FOR_TASK) {
            if (!(w->wf.runner.state != ASYNCIO_TASK_PENDING &&
                  w->wf.inner.state != ASYNCIO_TASK_PENDING))
                continue; /* the last wait_for's tasks still run: its storage is busy */
            if (STEP->kind == ST_WAIT_FOR) {
                w->child.ms = decode_ms(STEP->a) % 300;
                w->child.stubborn = STEP->c & 1;
                w->child.epoch = epoch;
                ASYNC_TRY(AWAIT(asyncio_wait_for_ms(
                    &w->wf, asyncio_coro_init(&w->child.co, child_fn), decode_ms(STEP->b))));
            } else {
                ASYNC_TRY(AWAIT(asyncio_wait_for_task_ms(&w->wf, OTHER, decode_ms(STEP->b))));
            }
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_FLAG) {
            ASYNC_TRY(AWAIT_FLAG(&flags[STEP->a % NFLAGS]));
            CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED ||
                      AWAIT_ERROR == ASYNCIO_EBUSY,
                  "flag wait: %d", AWAIT_ERROR);
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_IO) {
            ASYNC_TRY(
                AWAIT_IO(&ios[STEP->a % NIOS], (STEP->b & 1) ? ASYNCIO_IO_WRITE : ASYNCIO_IO_READ));
            CHECK(AWAIT_ERROR == 0 || AWAIT_ERROR == ASYNCIO_ECANCELLED, "io wait: %d",
                  AWAIT_ERROR);
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        } else if (STEP->kind == ST_RAISE) {
            ASYNC_RAISE(ASYNCIO_EUSER(STEP->a));
        } else if (STEP->kind == ST_RETURN) {
            ASYNC_RETURN(STEP->a);
        } else if (STEP->kind == ST_IGNORE_CANCEL) {
            w->ignore_cancel += STEP->a % 3;
        } else if (STEP->kind == ST_CANCEL) {
            r = cancel_safely(OTHER);
            if (OTHER == &slots[w->slot].task)
                CHECK(r == ASYNCIO_ESELF, "cancel self: %d", r);
        } else if (STEP->kind == ST_CREATE) {
            i = STEP->a % NSLOTS;
            if (i != w->slot)
                create_worker(i);
        } else if (STEP->kind == ST_SYNC) {
            ASYNC_TRY(AWAIT(sync_step(&w->sync, w, STEP->a, STEP->b, STEP->c)));
            if (must_raise(w, AWAIT_ERROR))
                ASYNC_RAISE(AWAIT_ERROR);
        }
    }
    ASYNC_FINALLY;
    check_all();
    if (w->holding >= 0) {
        holders[w->holding]--;
        r = asyncio_lock_release(&locks[w->holding]);
        CHECK(r == 0, "release in finally: %d", r);
        w->holding = -1;
    }
    CHECK(w->finished == 0, "slot %d: FINALLY ran twice", w->slot);
    w->finished = 1;
    ASYNC_END;
}

/* ------------------------------------------------------------------------ */
/* The director (main task) and the end                                     */
/* ------------------------------------------------------------------------ */

static void on_exception(asyncio_loop *loop, const asyncio_context *ctx)
{
    int i = ctx->task ? task_index(ctx->task) : -1;
    (void)loop;
    handler_calls++;
    CHECK(i >= 0, "exception handler: unknown task");
    CHECK(ctx->task->state == ASYNCIO_TASK_DONE, "exception handler: task %d not done", i);
    CHECK(ctx->error != 0 && ctx->error != ASYNCIO_ECANCELLED, "exception handler: error %d",
          ctx->error);
    if (i % 3 == 0 && i < NSLOTS * 3) {
        CHECK(slots[i / 3].reported == 0, "slot %d reported twice", i / 3);
        slots[i / 3].reported++;
    }
}

/* Cancel every pending task; the number cancelled. */
static int cancel_all(void)
{
    int i, n = 0;
    for (i = 0; i < NSLOTS * 3; i++) {
        asyncio_task *t = task_at(i);
        if (t->state == ASYNCIO_TASK_PENDING && t->gen == asyncio_L_.gen) {
            n++;
            cancel_safely(t);
        }
    }
    return n;
}

static unsigned director_rounds;
static struct sync_director director_sync;
static asyncio_flag *flag_watched;
static const asyncio_task *flag_waiter;

static int director_fn(asyncio_coro *co)
{
    unsigned op;
    int r, j;
    check_all();
    /* A flag set with a waiter: after one pass the waiter must have left it. */
    if (flag_watched) {
        CHECK(flag_watched->waiters.tail != flag_waiter || flag_waiter->where != ASYNCIO_IN_WAITQ_,
              "flag set but its waiter was not woken (lost wake-up)");
        flag_watched = NULL;
    }
    ASYNC_BEGIN(co);
    while (in_pos < in_len && director_rounds < MAX_OPS) {
        director_rounds++;
        op = next_byte();
        op = op < 252 ? op % 13 : op - 239; /* 12: sync; 13, 14: reset; 15, 16: I/O ready */
        j = (int)(next_byte() % NSLOTS);
        if (op == 13 || op == 14) {
            reset_kind = op - 12;
            break; /* end this loop's director with everything left parked */
        } else if (op >= 15) {
            /* READ, WRITE or both, on one of the descriptors */
            io_ready_pending[(op & 1) % NIOS] |= 1u + (unsigned)j % 3u;
            YIELD;
        } else if (op <= 2) {
            create_worker(j);
        } else if (op == 3) {
            if (slots[j].task.state != ASYNCIO_TASK_NEW)
                cancel_safely(&slots[j].task);
        } else if (op == 4) {
            asyncio_event_set(&events[j % NEVENTS]);
            CHECK(!events[j % NEVENTS].waiters.tail, "Event set left waiters");
        } else if (op == 5) {
            asyncio_event_clear(&events[j % NEVENTS]);
        } else if (op == 6) {
            flag_watched = &flags[j % NFLAGS];
            flag_waiter = flag_watched->waiters.tail;
            if (!flag_waiter)
                flag_watched = NULL;
            asyncio_flag_set(&flags[j % NFLAGS]);
            YIELD;
        } else if (op == 7) {
            asyncio_flag_clear(&flags[j % NFLAGS]);
        } else if (op == 8) {
            AWAIT_SLEEP_MS(decode_ms(next_byte()) % 1000);
        } else if (op == 9) {
            YIELD;
        } else if (op == 12) {
            AWAIT(sync_director(&director_sync, (unsigned)j));
        } else if (op == 10) {
            if (!locks[j % NLOCKS].locked) {
                r = asyncio_lock_release(&locks[j % NLOCKS]);
                CHECK(r == ASYNCIO_ENOTHELD, "release of a free lock: %d", r);
            }
        } else {
            asyncio_value v;
            if (slots[j].task.state != ASYNCIO_TASK_NEW) {
                r = asyncio_task_result(&slots[j].task, &v);
                CHECK((r == ASYNCIO_ESTATE) == (slots[j].task.state != ASYNCIO_TASK_DONE),
                      "task_result %d on a task in state %d", r, slots[j].task.state);
            }
        }
    }
    if (reset_kind)
        ASYNC_RETURN(0);
    /* The end: cancel whatever is pending until nothing is. */
    for (director_rounds = 0; cancel_all(); director_rounds++) {
        CHECK(director_rounds < 10000, "tasks that never end despite cancellation");
        if (director_rounds % 8 == 7)
            AWAIT_SLEEP_MS(1);
        else
            YIELD;
    }
    ASYNC_END;
}

static int flusher_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    YIELD; /* report passes of failed tasks, flags disarmed */
    YIELD;
    ASYNC_END;
}

/* The director asked for a reset: new_event_loop() (after loop_close() for
 * kind 2) with whatever is parked; check that every task of the old loop
 * is dropped and that no object the harness keeps still refers to one. */
static void reset_loop(int kind)
{
    static uint8_t was_pending[NTASKS];
    asyncio_loop *loop = asyncio_get_event_loop();
    int i, r;
    check_all();
    for (i = 0; i < NTASKS; i++) {
        const asyncio_task *t = task_at(i);
        was_pending[i] = t->state == ASYNCIO_TASK_PENDING && t->gen == asyncio_L_.gen;
    }
    if (kind == 2) {
        static asyncio_task t;
        static asyncio_coro c;
        r = asyncio_loop_close(loop);
        CHECK(r == 0, "loop_close: %d", r);
        r = asyncio_create_task(&t, asyncio_coro_init(&c, flusher_fn));
        CHECK(r == ASYNCIO_ECLOSED, "create_task on a closed loop: %d", r);
    }
    loop = asyncio_new_event_loop();
    CHECK(loop != NULL, "new_event_loop failed");
    asyncio_loop_set_exception_handler(loop, on_exception);
    epoch++;
    for (i = 0; i < NTASKS; i++) {
        const asyncio_task *t = task_at(i);
        CHECK(t->state != ASYNCIO_TASK_PENDING || t->gen == asyncio_L_.gen,
              "task %d of the old loop is still pending", i);
        if (was_pending[i])
            CHECK(t->state == ASYNCIO_TASK_DROPPED && t->where == ASYNCIO_IN_NONE_,
                  "task %d was not dropped (state %d, where %d)", i, t->state, t->where);
    }
    CHECK(!asyncio_L_.run_head && !asyncio_L_.run_tail && !asyncio_L_.heap &&
              asyncio_L_.parked.next == &asyncio_L_.parked,
          "the new loop's queues are not empty");
    CHECK(flag_ring_empty() && !asyncio_L_.io_watched, "the new loop polls something");
    for (i = 0; i < NEVENTS; i++)
        CHECK(!events[i].waiters.tail, "Event %d still has waiters", i);
    for (i = 0; i < NFLAGS; i++)
        CHECK(!flags[i].waiters.tail, "flag %d still has a waiter", i);
    for (i = 0; i < NIOS; i++) {
        CHECK(!ios[i].readers.tail && !ios[i].writers.tail, "io %d still has waiters", i);
        CHECK(!ios[i].watching && !port_watching[i], "io %d is still watched", i);
        io_ready_pending[i] = 0;
    }
    for (i = 0; i < NLOCKS; i++) {
        CHECK(!locks[i].waiters.tail, "lock %d still has waiters", i);
        /* A lock held by (or handed to) a dropped task stays taken; the
         * application starts over with a fresh one. */
        asyncio_lock_init(&locks[i]);
        holders[i] = 0;
    }
    /* Likewise for the Queue, Semaphore and Condition: a permit or an item
     * handed to a dropped task is gone with it, so start them over too. */
    CHECK(!sync_q.getters.tail && !sync_q.putters.tail && !sync_sem.waiters.tail &&
              !sync_cond.waiters.tail,
          "a Queue, Semaphore or Condition still has waiters");
    sync_init();
    for (i = 0; i < NSLOTS; i++) {
        struct slot *s = &slots[i];
        if (s->task.state == ASYNCIO_TASK_DROPPED) {
            s->created = 0; /* that incarnation never ends: no FINALLY */
            s->w.holding = -1;
        }
    }
    flag_watched = NULL;
    check_all();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int i, r;
    static const uint32_t starts[4] = {0, 0xFFFFFFFFu - 1000u, 0x7FFFFFFFu - 500u, 0};
    in = data;
    in_len = size;
    in_pos = 0;
    memset(slots, 0, sizeof slots);
    memset(holders, 0, sizeof holders);
    memset(&director_task, 0, sizeof director_task);
    memset(&flusher_task, 0, sizeof flusher_task);
    for (i = 0; i < NEVENTS; i++)
        asyncio_event_init(&events[i]);
    for (i = 0; i < NLOCKS; i++)
        asyncio_lock_init(&locks[i]);
    for (i = 0; i < NFLAGS; i++)
        asyncio_flag_init(&flags[i]);
    sync_init();
    handler_calls = 0;
    director_rounds = 0;
    epoch = 0;
    memset(port_watching, 0, sizeof port_watching);
    memset(io_ready_pending, 0, sizeof io_ready_pending);
    for (i = 0; i < NIOS; i++)
        asyncio_io_init(&ios[i], i);
    flag_watched = NULL;
    wake_pending = 0;
    vnow = 0;
    r = (int)next_byte();
    vbase = starts[r & 3];
    if ((r & 3) == 3)
        vbase = (uint32_t)next_byte() << 24 | (uint32_t)next_byte() << 16;
    asyncio_new_event_loop();
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), on_exception);

    for (;;) {
        reset_kind = 0;
        director_alive = 1;
        r = asyncio_run(&director_task, asyncio_coro_init(&director_co, director_fn), NULL);
        director_alive = 0;
        CHECK(r == 0, "director failed: %d", r);
        if (!reset_kind)
            break;
        reset_loop(reset_kind);
    }
    director_alive = 1;
    r = asyncio_run(&flusher_task, asyncio_coro_init(&flusher_co, flusher_fn), NULL);
    director_alive = 0;
    CHECK(r == 0, "flusher failed: %d", r);

    /* Everything ended exactly once; every queue is empty. */
    check_all();
    for (i = 0; i < NSLOTS; i++)
        check_ended_once(i);
    for (i = 0; i < NSLOTS * 3; i++) {
        asyncio_task *t = task_at(i);
        CHECK(t->state != ASYNCIO_TASK_PENDING, "task %d still pending at the end", i);
        CHECK(t->where == ASYNCIO_IN_NONE_, "task %d still queued at the end (%d)", i, t->where);
    }
    CHECK(!asyncio_L_.run_head && !asyncio_L_.heap, "queues not empty at the end");
    CHECK(flag_ring_empty(), "a task still waits on a flag at the end");
    for (i = 0; i < NLOCKS; i++)
        CHECK(!locks[i].locked && !locks[i].handed_to && !locks[i].waiters.tail,
              "lock %d not free at the end", i);
    sync_check_end();
    return 0;
}
