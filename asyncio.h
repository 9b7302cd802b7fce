/* SPDX-License-Identifier: MIT */
/*
 * asyncio.h -- MicroPython's asyncio as stackless C coroutines.
 *
 * One header, stb-style. In exactly one .c file of your program:
 *
 *     #define ASYNCIO_IMPLEMENTATION
 *     #include "asyncio.h"
 *
 * (or compile src/asyncio.c, which is just that). Every other file just
 * includes it. Link one port (port_posix.c, port_openmv.c, or yours: see
 * "The port interface" below). C99; the core never allocates.
 *
 * ---------------------------------------------------------------------------
 * A FIVE-MINUTE TUTORIAL
 * ---------------------------------------------------------------------------
 *
 * A coroutine is a function `int fn(asyncio_coro *co)` plus a frame struct
 * that starts with an `asyncio_coro` and holds every local that must live
 * across an await (C locals do NOT survive a suspension):
 *
 *     struct say_after {
 *         asyncio_coro co;           // must come first
 *         int32_t delay_ms;          // arguments ...
 *         const char *what;          // ... and locals live here
 *     };
 *
 *     static int say_after_fn(asyncio_coro *co)
 *     {
 *         struct say_after *f = (struct say_after *)co;
 *         ASYNC_BEGIN(co);
 *         AWAIT_SLEEP_MS(f->delay_ms);
 *         printf("%s\n", f->what);
 *         ASYNC_END;
 *     }
 *
 * A "coroutine object" (Python's `say_after(1, "hello")`) is a frame whose
 * header was initialised with asyncio_coro_init(); a constructor keeps that
 * tidy:
 *
 *     static asyncio_coro *say_after(struct say_after *f, int32_t ms,
 *                                    const char *what)
 *     {
 *         f->delay_ms = ms;
 *         f->what = what;
 *         return asyncio_coro_init(&f->co, say_after_fn);
 *     }
 *
 * (A constructor resets the frame: call it only for a frame nothing runs.
 * create_task(&t, say_after(&f, ...)) while `t` still runs `f` ends `t`
 * with ASYNCIO_EREINIT, as a restart from the top would go unnoticed.)
 *
 * Await it from another coroutine (it runs inline, like `await coro`), or
 * wrap it in a task (caller-owned storage) to run it concurrently:
 *
 *     AWAIT(say_after(&f->child, 1000, "hello"));     // value: AWAIT_RESULT
 *     asyncio_create_task(&f->task, say_after(&f->child2, 2000, "world"));
 *     AWAIT_TASK(&f->task);
 *
 * and run the top level with asyncio_run(&main_task, main(&main_frame), &v).
 *
 * Errors are values. Every await either succeeds or yields a negative
 * error code (ASYNCIO_ECANCELLED, ASYNCIO_ETIMEDOUT, -errno, ...). By default
 * an error propagates: the coroutine stops, runs its ASYNC_FINALLY section if
 * it has one, and returns the error to whoever awaits it. To handle errors
 * yourself (Python's try/except), around any number of awaits:
 *
 *     ASYNC_TRY_BLOCK {
 *         AWAIT_SLEEP_MS(1000);
 *         AWAIT(say_after(&f->child, 10, "hi"));
 *     } ASYNC_EXCEPT(ASYNCIO_ECANCELLED) {          // or _EXCEPT_IF(cond), _ANY
 *         puts("cancelled, but I carry on");       // ASYNC_RERAISE to pass it on
 *     } ASYNC_TRY_END;
 *
 * or, for one await, ASYNC_TRY(AWAIT_SLEEP_MS(1000)); then test AWAIT_ERROR.
 * Python's `async with lock:` is
 *
 *     ASYNC_WITH_LOCK(&f->lock) {
 *         ...                                      // released however it ends
 *     } ASYNC_WITH_END(&f->lock);
 *
 * Every wait is also a coroutine object (an asyncio_op kept in the frame),
 * so wait_for and gather take it directly; Python's
 * `await asyncio.wait_for(ev.wait(), 0.1)` is
 *
 *     AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_event_wait(&f->op, &f->ev), 100));
 *
 * Cleanup that must run however the body ends (try/finally):
 *
 *     ASYNC_BEGIN(co);
 *     ...
 *     ASYNC_FINALLY;                 // reached on return, error or cancel
 *     release_things(f);             // may await; ASYNC_ERROR says why
 *     ASYNC_END;
 *
 * Rules of the macro language (the price of having no per-task stack), and
 * what catches each (details: "Coroutine macros" below):
 *  - locals do not survive an await: keep them in the frame (a local
 *    initialised in the body and live across an await is a compile error);
 *  - one await per source line (two are a compile error: duplicate case);
 *  - leave with ASYNC_RETURN / ASYNC_RAISE, never a plain `return`
 *    (ASYNCIO_ERETURN at run time), no top-level `break` (ASYNCIO_EBREAK);
 *  - no await inside a `switch` of your own (ASYNCIO_ECORRUPT on resume);
 *  - source files up to 32767 lines (checked at compile time).
 *
 * ---------------------------------------------------------------------------
 * IRQ SAFETY
 * ---------------------------------------------------------------------------
 * Only asyncio_flag_set() (and asyncio_port_wake()) may be called from an
 * interrupt handler, a POSIX signal handler or another thread, plus
 * asyncio_isr_queue_put() (from one producer context at a time: it is the
 * way to pass data, not just a wake-up, out of an interrupt) and the
 * read-only asyncio_isr_queue_dropped() / _qsize(). Everything else
 * (Event, Lock, Queue, Semaphore, Condition included) belongs to the thread
 * that runs the loop.
 *
 * Debug check: build the core with -DASYNCIO_CHECK_THREAD (on a port that
 * provides asyncio_port_thread_id(), as port_posix.c does) and, while the
 * loop runs, a loop call from any other thread is refused: create_task,
 * task_cancel, task_result, lock_release, loop_close and new_event_loop_err
 * fail with ASYNCIO_ETHREAD; event_set / event_clear / loop_stop /
 * set_exception_handler do nothing and say so through
 * ASYNCIO_THREAD_REPORT(name) (stderr by default). Starting a run while the
 * loop runs is EBUSY from any thread: claiming the loop is one atomic
 * exchange, so of two asyncio_run() on two threads exactly one runs.
 * Between runs the loop belongs to whichever thread uses it.
 *
 * ---------------------------------------------------------------------------
 * TASK STATE MACHINE (asyncio_task.state / .where)
 * ---------------------------------------------------------------------------
 *
 *      create_task                   leaf await parks it
 *   NEW ----------> PENDING/RUNQ --------------------------> PENDING/HEAP
 *                    ^    |  ^  \                              (sleeping)
 *          wake,     |    |  |   `-----------------------> PENDING/WAITQ
 *          cancel,   |    |  |                     (Event, Lock, flag, task,
 *          timer     `----|--+-------------------------------  gather)
 *                         v
 *                      running  --- body returns or fails ---> DONE
 *                                                               |
 *                      DONE/RUNQ <-- error nobody awaited ------'
 *           (one more pass, then the loop's exception handler sees it)
 *
 * A task sits in at most one queue at a time, so the queues share its links.
 * A task in a wait queue (or parked by gather) is also on one of the loop's
 * two rings of parked tasks (threaded through its timer fields; a task
 * waiting on a flag is on the ring the loop polls), so that new_event_loop()
 * and loop_close() can take every task out of every queue: see "Wait queues"
 * in the implementation.
 *
 * ---------------------------------------------------------------------------
 * COMPILE-TIME OPTIONS (define before including, the same in every file)
 * ---------------------------------------------------------------------------
 *   ASYNCIO_IMPLEMENTATION  compile the core in this file (exactly one file;
 *                           on a camera, the port's: README "Building for
 *                           the camera")
 *   ASYNCIO_NO_SHORT_NAMES  only the ASYNCIO_-prefixed macros (no ASYNC_BEGIN,
 *                           AWAIT, YIELD, ...)
 *   ASYNCIO_STRICT          nodiscard also on create_task, cancel, lock_release
 *   ASYNCIO_NO_NODISCARD    no nodiscard attributes at all
 *   ASYNCIO_SINGLE_CORE     every asyncio_flag_set() runs on the loop's core
 *                           (interrupts): the flag needs no hardware barriers.
 *                           A file built without it is correct, only slower
 *   ASYNCIO_NO_ATOMIC_XCHG  no atomic exchange instruction: the flag uses the
 *                           port's critical section (automatic on ARMv6-M)
 *   ASYNCIO_DEBUG           asyncio_dump_tasks(), asyncio_coro_where()
 *   ASYNCIO_TRACE           trace hooks (implies ASYNCIO_DEBUG); or define the
 *                           ASYNCIO_TRACE_* hook macros yourself (core's file)
 *   ASYNCIO_CHECK_THREAD    loop calls from another thread fail (ETHREAD);
 *                           ASYNCIO_THREAD_REPORT(name) reports the ignored ones
 *   ASYNCIO_REPORT(ctx)     where unretrieved errors go (core's file; default
 *                           asyncio_port_report())
 *   ASYNCIO_STALL_ROUNDS    rounds with a frozen clock before ESTALL (1000000;
 *                           0: off; core's file)
 * Streams (asyncio_stream.h) have their own: ASYNCIO_STREAM_IMPLEMENTATION,
 * ASYNCIO_STREAM_TLS, ASYNCIO_STREAM_SOCKETS (see that header); the ports
 * theirs (port_openmv.c: ASYNCIO_OPENMV_*; port_posix.c: ASYNCIO_POSIX_*).
 */
#ifndef ASYNCIO_H
#define ASYNCIO_H

/* The library's version (semantic versioning; CHANGELOG.md). */
#define ASYNCIO_VERSION_MAJOR 0
#define ASYNCIO_VERSION_MINOR 1
#define ASYNCIO_VERSION_PATCH 0
#define ASYNCIO_VERSION "0.1.0"

#include <stddef.h>
#include <stdint.h>

/* Results the caller must look at, marked so the compiler warns when one is
 * ignored ([[nodiscard]] in C++17 and C23, warn_unused_result in GNU C;
 * nothing elsewhere). ASYNCIO_NODISCARD marks those whose loss is data or a
 * broken invariant (a stream write refused, a transport not set up) and is
 * always on. ASYNCIO_NODISCARD_STRICT marks create_task, cancel and
 * lock_release, whose errors are programming mistakes (ESELF, ENOTHELD,
 * EBUSY): on with -DASYNCIO_STRICT (gcc's C warning cannot be silenced with
 * a (void) cast, so it is opt-in). -DASYNCIO_NO_NODISCARD turns both off. */
#if defined(ASYNCIO_NO_NODISCARD)
#define ASYNCIO_NODISCARD
#elif defined(__cplusplus) && __cplusplus >= 201703L
#define ASYNCIO_NODISCARD [[nodiscard]]
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ > 201710L
#define ASYNCIO_NODISCARD [[nodiscard]]
#elif defined(__GNUC__) || defined(__clang__)
#define ASYNCIO_NODISCARD __attribute__((warn_unused_result))
#else
#define ASYNCIO_NODISCARD
#endif
#ifdef ASYNCIO_STRICT
#define ASYNCIO_NODISCARD_STRICT ASYNCIO_NODISCARD
#else
#define ASYNCIO_NODISCARD_STRICT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Errors                                                                    */
/* ======================================================================== */

/*
 * 0 is success. Negative values are errors:
 *   -1 .. -999      OSError(errno), as -errno (ASYNCIO_OSERROR(ECONNRESET)).
 *   -1000 .. -1049  asyncio's own errors, below.
 *   -1050 .. -1059  streams (asyncio_stream.h): host and TLS errors, below.
 *   -2000 .. -32000 free for applications: ASYNCIO_EUSER(n), n in 0..30000.
 * Error codes travel in 16 bits inside a frame; codes outside that range are
 * replaced by ASYNCIO_EINVAL when raised.
 */
#define ASYNCIO_OK 0
#define ASYNCIO_ECANCELLED (-1000)  /* CancelledError */
#define ASYNCIO_ETIMEDOUT (-1001)   /* asyncio.TimeoutError */
#define ASYNCIO_EEOF (-1002)        /* EOFError */
#define ASYNCIO_ESELF (-1003)       /* RuntimeError: can't cancel self */
#define ASYNCIO_ECANTWAIT (-1004)   /* RuntimeError: can't wait (task is gathered / is you) */
#define ASYNCIO_ECANTGATHER (-1005) /* RuntimeError: can't gather (task already awaited) */
#define ASYNCIO_ENOLOOP (-1006)     /* RuntimeError: no running event loop / not in a task */
#define ASYNCIO_EBUSY (-1007)     /* already scheduled / flag already has a waiter / loop running */
#define ASYNCIO_ENOTHELD (-1008)  /* RuntimeError: Lock not acquired */
#define ASYNCIO_EOVERFLOW (-1009) /* OverflowError: sleep longer than half the tick period */
#define ASYNCIO_EINVAL (-1010)    /* ValueError/TypeError: bad argument (NULL, zero length...) */
#define ASYNCIO_ECLOSED (-1011)   /* the loop (or stream) is closed */
#define ASYNCIO_ECORRUPT (-1012)  /* a coroutine was resumed at an unknown point, or lost */
#define ASYNCIO_ESTATE (-1013)    /* InvalidStateError: result of a task that is not done */
#define ASYNCIO_EREINIT (-1014)   /* create_task re-initialised the coroutine its task still runs */
#define ASYNCIO_ETHREAD (-1015)   /* a loop call from a thread that is not the loop's (debug) */
#define ASYNCIO_ESTALL (-1016)    /* the clock stood still while a timer was pending (reported) */
#define ASYNCIO_ERETURN (-1017)   /* a coroutine body used a plain `return` (use ASYNC_RETURN) */
#define ASYNCIO_EBREAK (-1018)    /* a `break` left a coroutine body's switch (its top level) */
#define ASYNCIO_ENOHOST (-1050)   /* streams: getaddrinfo could not resolve the host */
#define ASYNCIO_ETLS (-1051)      /* streams: TLS failure (asyncio_stream_tls_error() tells more) */
#define ASYNCIO_ETLS_NOCERT (-1052) /* streams: TLS peer sent no certificate, one is required */
#define ASYNCIO_ETLS_VERIFY (-1053) /* streams: TLS peer's certificate failed verification */
#define ASYNCIO_ETLS_ALERT (-1054)  /* streams: TLS peer ended the handshake with a fatal alert */
/* Queue, Semaphore, interrupt-safe queue (codes -1020 upward). */
#define ASYNCIO_EQUEUEEMPTY (-1020)  /* asyncio.QueueEmpty: get_nowait on an empty queue */
#define ASYNCIO_EQUEUEFULL (-1021)   /* asyncio.QueueFull: put_nowait on a full queue */
#define ASYNCIO_EOVERRELEASE (-1022) /* ValueError: BoundedSemaphore released too many times */
#define ASYNCIO_ETASKDONE (-1023)    /* ValueError: task_done() called too many times */
#define ASYNCIO_EOVERRUN (-1024)     /* a ring overflowed: items or received bytes dropped */
#define ASYNCIO_OSERROR(e) (-(e))
#define ASYNCIO_EUSER(n) (-2000 - (n))

/* A short, static description of an error code (never NULL). */
const char *asyncio_strerror(int err);

/* ======================================================================== */
/* Coroutines                                                                */
/* ======================================================================== */

/* A coroutine's result: an integer or a pointer, whichever you need. */
typedef intptr_t asyncio_value;

typedef struct asyncio_coro asyncio_coro;

/* A coroutine body. Returns ASYNCIO_PENDING while suspended, then 0 or an
 * error code once (and every later call) when finished. */
typedef int (*asyncio_fn)(asyncio_coro *co);

#define ASYNCIO_PENDING 1

/* The header of every coroutine frame (16 bytes on 32-bit targets). */
struct asyncio_coro {
    asyncio_fn fn;       /* the body */
    asyncio_coro *child; /* the coroutine this one is awaiting inline */
    asyncio_value value; /* the return value, once returned */
    uint16_t line;       /* resume point: 0 = not started */
    int16_t err;         /* the error being raised, 0 = none */
};

/* Make `co` a fresh coroutine object running `fn`. Returns `co`. */
asyncio_coro *asyncio_coro_init(asyncio_coro *co, asyncio_fn fn);

/* End a coroutine written WITHOUT the ASYNC_ macros: `return
 * asyncio_coro_finish(co, err);` (a plain return would be taken for the
 * plain-return mistake, ASYNCIO_ERETURN). Returns `err`. */
int asyncio_coro_finish(asyncio_coro *co, int err);

/* Resume-point sentinels (line numbers are 1..65533). */
#define ASYNCIO_LINE_LEAVE 0xFFFE /* unwinding to FINALLY / END */
#define ASYNCIO_LINE_DONE 0xFFFF  /* finished */

/* ======================================================================== */
/* Tasks                                                                     */
/* ======================================================================== */

typedef struct asyncio_task asyncio_task;

/* A link of the loop's ring of parked tasks (private). */
typedef struct asyncio_link {
    struct asyncio_link *next, *prev;
} asyncio_link;

/* A FIFO of waiting tasks: the tail of a ring threaded through the tasks. */
typedef struct asyncio_waitq {
    asyncio_task *tail;
} asyncio_waitq;

/*
 * A task: 32 bytes on a 32-bit target, caller-owned (static, in a frame, in
 * an array). Zero it (or leave it static) before its first create_task; it
 * may be reused once done. The fields are private.
 */
struct asyncio_task {
    union {
        struct { /* in the run queue */
            asyncio_task *next;
        } run;
        struct { /* in a wait queue: Event, Lock, flag, awaited task */
            asyncio_task *next, *prev;
            asyncio_waitq *queue; /* NULL while parked by gather */
        } wait;
        struct { /* in the timer heap (pairing heap) */
            asyncio_task *child, *sibling;
            asyncio_task *prev; /* parent if first child, else left sibling */
        } heap;
    } link;
    union {
        struct {          /* in the timer heap */
            uint32_t key; /* wake-up tick */
            uint32_t seq; /* FIFO order among equal wake-up ticks */
        } timer;
        asyncio_link parked; /* parked (in a wait queue, or by gather): the loop's ring */
    } aux;
    asyncio_coro *coro; /* the root coroutine; holds the result when done */
    union {
        asyncio_waitq awaiters;              /* tasks awaiting this one */
        struct asyncio_gather_state *gather; /* the gather this task belongs to */
    } done_to;
    uint8_t state; /* ASYNCIO_TASK_NEW / _PENDING / _DONE */
    uint8_t where; /* which queue holds it (private) */
    uint8_t flags; /* private */
    uint8_t gen;   /* the loop generation it belongs to (new_event_loop) */
};

#define ASYNCIO_TASK_NEW 0
#define ASYNCIO_TASK_PENDING 1
#define ASYNCIO_TASK_DONE 2
#define ASYNCIO_TASK_DROPPED 3 /* pending when new_event_loop()/close() dropped it */

/*
 * Schedule `coro` as a new task stored in `t`; it first runs at the loop's
 * next pass (Python's create_task). Errors: EINVAL (NULL, or a coroutine
 * that has already started), EBUSY (`t` is still pending, or failed and its
 * error is not yet reported or retrieved), ECLOSED (loop closed), EREINIT
 * (`t` is still pending and `coro` is the very frame it runs: the
 * constructor, e.g. say_after(&f, ...), has already reset that frame, so
 * `t` cannot go on: it ends with EREINIT instead of silently restarting,
 * and the exception handler is told). Not IRQ-safe.
 */
ASYNCIO_NODISCARD_STRICT int asyncio_create_task(asyncio_task *t, asyncio_coro *coro);

/* The running task, or NULL with *err = ENOLOOP outside a running task
 * (`err` may be NULL). */
asyncio_task *asyncio_current_task(int *err);

/* True once the task has returned or failed (Task.done()). */
int asyncio_task_done(const asyncio_task *t);

/*
 * Task.cancel(): 1 if a cancellation was requested (delivered at the task's
 * next resume, forwarded to the innermost task it awaits), 0 if the task is
 * already done. Errors: ESELF (a task cancelling itself), EINVAL (NULL or a
 * task never created).
 */
ASYNCIO_NODISCARD_STRICT int asyncio_task_cancel(asyncio_task *t);

/* The result of a done task: its error (0 = success), and through `value`
 * (may be NULL) its return value. ESTATE if it is not done, EINVAL if NULL.
 * Marks the error as retrieved (the exception handler will not see it). */
int asyncio_task_result(asyncio_task *t, asyncio_value *value);

/* Where the task is suspended: the source line of the await in its innermost
 * coroutine (the one it is really waiting in), for debugging and task dumps.
 * 0 if it has not started, is done, or is NULL. */
unsigned asyncio_task_line(const asyncio_task *t);

/* ======================================================================== */
/* The loop                                                                  */
/* ======================================================================== */

typedef struct asyncio_loop asyncio_loop;

/* What the exception handler is told (Python's context dict). */
typedef struct asyncio_context {
    const char *message; /* "Task exception wasn't retrieved", ... */
    int error;           /* the error code */
    asyncio_task *task;  /* the task ("future"), may be NULL */
} asyncio_context;

typedef void (*asyncio_exception_handler)(asyncio_loop *loop, const asyncio_context *ctx);

/* The (single) event loop. */
asyncio_loop *asyncio_get_event_loop(void);

/* Reset the loop: every task it held (runnable, sleeping, or parked in an
 * Event, Lock, flag, another task's awaiters, a gather or on a descriptor)
 * is dropped (state ASYNCIO_TASK_DROPPED): it is taken out of those objects,
 * the port stops watching its descriptors, and it never runs again, so its
 * memory may be reused or freed at once. A Lock held by (or being handed to)
 * a dropped task stays taken. The exception handler is cleared; a closed
 * loop opens again. Returns the loop, or NULL with *err (`err` may be NULL)
 * set to EBUSY if called while the loop is running; *err is 0 on success.
 * Not IRQ-safe. */
asyncio_loop *asyncio_new_event_loop_err(int *err);

/* The same, for a caller that needs no error code (NULL means EBUSY). */
asyncio_loop *asyncio_new_event_loop(void);

/* asyncio.run(coro): create_task(t, coro), run until it ends. Returns main's
 * error (0 = success) with its value in *value (may be NULL); other tasks are
 * left as they are. Errors also: those of create_task, EBUSY if the loop is
 * already running. */
int asyncio_run(asyncio_task *t, asyncio_coro *coro, asyncio_value *value);

/* Loop.create_task(coro): same as asyncio_create_task(). */
ASYNCIO_NODISCARD_STRICT int asyncio_loop_create_task(asyncio_loop *loop, asyncio_task *t,
                                                      asyncio_coro *coro);

/* Run until task `t` (already created) is done; returns its error and value.
 * A task that is already done returns at once. EINVAL for a task never
 * created, EBUSY if the loop is already running, ECLOSED if closed.
 * Stalls: if the clock does not move for ASYNCIO_STALL_ROUNDS (default
 * 1000000, 0: off) rounds of the run queue while a timer is pending (tasks
 * that only ever sleep(0) under the POSIX virtual clock, which moves only
 * when the loop idles), the exception handler gets ASYNCIO_ESTALL (once per
 * run, task NULL) and the loop idles until the next deadline, which moves a
 * virtual clock there, so sleepers wake instead of the program hanging.
 * The same holds for asyncio_run and run_forever. */
int asyncio_loop_run_until_complete(asyncio_loop *loop, asyncio_task *t, asyncio_value *value);

/* Run until asyncio_loop_stop(). Returns 0, or EBUSY / ECLOSED. */
int asyncio_loop_run_forever(asyncio_loop *loop);

/* Make run_forever() return at its next pass, before tasks created after
 * this call run. A second stop(), or one outside run_forever, does nothing. */
void asyncio_loop_stop(asyncio_loop *loop);

/* Close the loop: pending tasks are dropped, wherever they wait, as by
 * asyncio_new_event_loop(); create_task and run_* then fail with ECLOSED
 * until asyncio_new_event_loop(). EBUSY while running. */
int asyncio_loop_close(asyncio_loop *loop);

/* Set (NULL: back to the default) and get (NULL: the default is in use) the
 * handler called for errors nobody retrieved. */
void asyncio_loop_set_exception_handler(asyncio_loop *loop, asyncio_exception_handler handler);
asyncio_exception_handler asyncio_loop_get_exception_handler(asyncio_loop *loop);

/* The default handler: reports through ASYNCIO_REPORT (stderr by default). */
void asyncio_loop_default_exception_handler(asyncio_loop *loop, const asyncio_context *ctx);

/* Call the current handler (or the default one) with `ctx`. */
void asyncio_loop_call_exception_handler(asyncio_loop *loop, const asyncio_context *ctx);

/* ======================================================================== */
/* Time                                                                      */
/* ======================================================================== */

/* Milliseconds, wrapping at 2^32 (MicroPython's ticks_ms / ticks_diff /
 * ticks_add). The longest sleep is 2^31 - 1 ms (about 24.8 days). */
uint32_t asyncio_ticks_ms(void);
static inline int32_t asyncio_ticks_diff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }
static inline uint32_t asyncio_ticks_add(uint32_t t, int32_t d) { return t + (uint32_t)d; }
#define ASYNCIO_SLEEP_MAX_MS 0x7FFFFFFF

/* ======================================================================== */
/* Synchronisation                                                           */
/* ======================================================================== */

/* Event: starts cleared; any number of waiters, woken in FIFO order. */
typedef struct asyncio_event {
    asyncio_waitq waiters;
    uint8_t is_set;
} asyncio_event;

void asyncio_event_init(asyncio_event *e);
/* Wake every waiter (FIFO, behind tasks already runnable) and stay set.
 * Loop thread only: from an IRQ use a flag. */
void asyncio_event_set(asyncio_event *e);
void asyncio_event_clear(asyncio_event *e);
int asyncio_event_is_set(const asyncio_event *e);

/* Lock: FIFO hand-off; release passes the lock straight to the head waiter. */
typedef struct asyncio_lock {
    asyncio_waitq waiters;
    asyncio_task *handed_to; /* waiter the lock was handed to, not yet resumed */
    uint8_t locked;
} asyncio_lock;

void asyncio_lock_init(asyncio_lock *l);
/* True while held (false during a hand-off, as in MicroPython). */
int asyncio_lock_locked(const asyncio_lock *l);
/* Release: 0, or ENOTHELD if the lock is not held. Loop thread only. */
ASYNCIO_NODISCARD_STRICT int asyncio_lock_release(asyncio_lock *l);

/* ThreadSafeFlag: set from anywhere; one waiter; wait() clears it. */
typedef struct asyncio_flag {
    volatile int state;    /* written by set() from IRQs/threads: atomic */
    asyncio_waitq waiters; /* at most one task (on the loop's flag_waiters ring) */
} asyncio_flag;

void asyncio_flag_init(asyncio_flag *f);
/* Set the flag and wake the loop. IRQ-, signal- and thread-safe: one atomic
 * store plus asyncio_port_wake(). */
void asyncio_flag_set(asyncio_flag *f);
/* Clear the flag (loop thread). */
void asyncio_flag_clear(asyncio_flag *f);

/* ------------------------------------------------------------------------ */
/* Queue, Semaphore, Condition, interrupt-safe queue; coroutine objects     */
/* for every wait (issue 15, issue 12 item 4)                               */
/* ------------------------------------------------------------------------ */

/*
 * One awaitable operation as a coroutine object: the small frame of
 * ev.wait(), lock.acquire(), flag.wait(), sleep_ms(ms), q.get(), q.put(v),
 * q.join(), sem.acquire(), cond.acquire(), isrq.get(). Keep it in the
 * awaiting frame (or next to the task that runs it) and hand the coroutine
 * to AWAIT, asyncio_wait_for_ms() or asyncio_create_task() (for gather):
 *
 *     AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_event_wait(&f->op, &f->ev), 100));
 *
 * Its value (AWAIT_RESULT) is what Python returns: True (1) for the waits
 * and acquires, the item for get, 0 otherwise. One operation per asyncio_op
 * at a time; it may be reused once the operation has ended.
 */
typedef struct asyncio_op {
    asyncio_coro co;   /* first: this is the coroutine object you AWAIT */
    void *obj;         /* the Event, Lock, flag, Queue, Semaphore... */
    asyncio_value arg; /* sleep: ms (-1: overflow); put: the item */
} asyncio_op;

/* Coroutine objects of the existing waits; errors as their AWAIT_ forms.
 * Loop thread only, like every await (NULL op: NULL, which AWAIT turns into
 * EINVAL). */
asyncio_coro *asyncio_event_wait(asyncio_op *op, asyncio_event *e);
asyncio_coro *asyncio_lock_acquire(asyncio_op *op, asyncio_lock *l);
asyncio_coro *asyncio_flag_wait(asyncio_op *op, asyncio_flag *f);
/* sleep_ms(ms) / sleep(s): EOVERFLOW beyond ASYNCIO_SLEEP_MAX_MS. */
asyncio_coro *asyncio_sleep_ms(asyncio_op *op, int64_t ms);
asyncio_coro *asyncio_sleep(asyncio_op *op, double seconds);

/*
 * Queue / LifoQueue / PriorityQueue (CPython's asyncio.Queue semantics).
 *
 * Storage: a fixed-capacity ring of asyncio_value the caller provides
 * (`maxsize` slots). Values, not intrusive items, because an item is an
 * integer or a pointer (asyncio_value holds either), the same value may sit
 * in several queues or twice in one, and put() must block at maxsize as in
 * CPython (an intrusive list has no capacity, so nothing would ever make a
 * putter wait). The same ring serves LIFO (pop the newest) and priority
 * order (a binary heap in the ring), so those two cost a few lines.
 * CPython's "maxsize <= 0 is unbounded" has no equivalent: maxsize >= 1.
 *
 * Getters and putters wait in FIFO order. As in CPython, put wakes the first
 * getter, which takes an item when it runs; if another task took it first
 * (get_nowait), the getter waits again at the back. A getter cancelled while
 * waiting takes nothing; one cancelled after being woken passes the wake-up
 * to the next getter. The same for putters. Loop thread only.
 */
typedef struct asyncio_queue {
    asyncio_waitq getters, putters;
    asyncio_event finished; /* set while every item put is done (join) */
    asyncio_value *buf;
    int (*cmp)(asyncio_value a, asyncio_value b); /* PriorityQueue order */
    uint32_t maxsize, head, count, unfinished;
    uint8_t kind; /* private */
} asyncio_queue;

/* asyncio.Queue(maxsize) over buf[maxsize]. 0, or EINVAL (NULL, maxsize 0). */
int asyncio_queue_init(asyncio_queue *q, asyncio_value *buf, size_t maxsize);
/* asyncio.LifoQueue(maxsize): get() returns the newest item. */
int asyncio_lifo_queue_init(asyncio_queue *q, asyncio_value *buf, size_t maxsize);
/* asyncio.PriorityQueue(maxsize): get() returns the smallest item, by
 * cmp(a, b) < 0 meaning a first (NULL: as signed integers). */
int asyncio_priority_queue_init(asyncio_queue *q, asyncio_value *buf, size_t maxsize,
                                int (*cmp)(asyncio_value a, asyncio_value b));
/* qsize() / empty() / full() / maxsize: plain reads (loop thread). */
size_t asyncio_queue_qsize(const asyncio_queue *q);
int asyncio_queue_empty(const asyncio_queue *q);
int asyncio_queue_full(const asyncio_queue *q);
size_t asyncio_queue_maxsize(const asyncio_queue *q);
/* put_nowait: 0, EQUEUEFULL, EINVAL. Wakes the first getter. */
int asyncio_queue_put_nowait(asyncio_queue *q, asyncio_value item);
/* get_nowait: 0 with the item in *item, EQUEUEEMPTY, EINVAL. Wakes the
 * first putter. */
int asyncio_queue_get_nowait(asyncio_queue *q, asyncio_value *item);
/* task_done: 0, ETASKDONE (more calls than items put), EINVAL. */
int asyncio_queue_task_done(asyncio_queue *q);
/* Coroutine objects of get (value: the item) / put / join. Loop thread. */
asyncio_coro *asyncio_queue_get(asyncio_op *op, asyncio_queue *q);
asyncio_coro *asyncio_queue_put(asyncio_op *op, asyncio_queue *q, asyncio_value item);
asyncio_coro *asyncio_queue_join(asyncio_op *op, asyncio_queue *q);

/*
 * Semaphore / BoundedSemaphore (CPython 3.11+): acquire waits while the
 * value is 0 or others wait (FIFO: a new acquire queues behind them);
 * release increments and hands a permit to the first waiter; a waiter
 * cancelled after that hand-off gives the permit back and passes it on.
 * Loop thread only.
 */
typedef struct asyncio_semaphore {
    asyncio_waitq waiters;
    uint32_t value, bound; /* bound: BoundedSemaphore's initial value */
    uint16_t handed;       /* waiters handed a permit, not yet resumed */
    uint8_t bounded;
} asyncio_semaphore;

/* Semaphore(value) / BoundedSemaphore(value). Loop thread, no waiters. */
void asyncio_semaphore_init(asyncio_semaphore *s, uint32_t value);
void asyncio_bounded_semaphore_init(asyncio_semaphore *s, uint32_t value);
/* True if acquire() would wait (value 0, or waiters ahead). */
int asyncio_semaphore_locked(const asyncio_semaphore *s);
/* The free permits (CPython's _value). */
uint32_t asyncio_semaphore_value(const asyncio_semaphore *s);
/* release: 0, EOVERRELEASE (a BoundedSemaphore above its initial value),
 * EINVAL. */
int asyncio_semaphore_release(asyncio_semaphore *s);
/* Coroutine object of acquire (value 1, True). */
asyncio_coro *asyncio_semaphore_acquire(asyncio_op *op, asyncio_semaphore *s);

/*
 * Condition(lock) (CPython 3.11): acquire / release / locked go to the lock
 * (its own when none is given). wait() releases the lock, waits for a
 * notify, and re-acquires the lock before it returns, also when cancelled:
 * it then raises the cancellation holding the lock. Loop thread only.
 */
typedef struct asyncio_condition {
    asyncio_waitq waiters;
    asyncio_lock *lock;
    asyncio_lock own;
} asyncio_condition;

/* Condition(lock); `lock` NULL: the condition uses its own. Loop thread. */
void asyncio_condition_init(asyncio_condition *c, asyncio_lock *lock);
/* locked(): the lock's (false during a Lock hand-off, as Lock's is). */
int asyncio_condition_locked(const asyncio_condition *c);
/* release: 0, ENOTHELD, EINVAL. */
int asyncio_condition_release(asyncio_condition *c);
/* notify(n) / notify_all(): wake up to n waiters (FIFO). 0, ENOTHELD (the
 * lock is not held), EINVAL. */
int asyncio_condition_notify(asyncio_condition *c, size_t n);
int asyncio_condition_notify_all(asyncio_condition *c);
/* Coroutine object of acquire. */
asyncio_coro *asyncio_condition_acquire(asyncio_op *op, asyncio_condition *c);

/* wait() and wait_for(predicate) hold state across two waits: their frame. */
typedef struct asyncio_condition_wait_state {
    asyncio_coro co; /* first: this is the coroutine object you AWAIT */
    asyncio_condition *c;
    int (*pred)(void *arg);
    void *arg;
    int err; /* a cancellation caught while re-acquiring the lock */
} asyncio_condition_wait_state;

/* wait(): value 1. Errors: ENOTHELD (lock not held), ECANCELLED (the lock
 * is held again). */
asyncio_coro *asyncio_condition_wait(asyncio_condition_wait_state *w, asyncio_condition *c);
/* wait_for(predicate): wait() until pred(arg) is non-zero; value: that. */
asyncio_coro *asyncio_condition_wait_for(asyncio_condition_wait_state *w, asyncio_condition *c,
                                         int (*pred)(void *arg), void *arg);

/*
 * Interrupt-safe queue (peterhinch's ThreadSafeQueue): a ring of
 * asyncio_value the caller provides. put() never blocks and is safe from
 * ONE producer context at a time: an interrupt handler, a POSIX signal
 * handler or another thread (single producer; for several, serialise their
 * puts, e.g. inside asyncio_port_critical_enter/exit on one core). One task
 * awaits get() (a second concurrent getter gets EBUSY). A put that finds the
 * ring full drops the item, counts it, and the consumer's get reports
 * EOVERRUN once at the place of the loss, then carries on (when new losses
 * race with that report, the next one may come early, before the items put
 * ahead of the loss: never after it). asyncio_isr_queue_dropped() tells how
 * many were lost. Only single-writer loads and stores are shared (no
 * read-modify-write), so no core, ARMv6-M included, needs a critical
 * section.
 */
typedef struct asyncio_isr_queue {
    asyncio_flag flag; /* set by put: wakes the consumer */
    asyncio_value *buf;
    uint32_t size;
    volatile uint32_t head;     /* items put (producer writes) */
    volatile uint32_t tail;     /* items taken (consumer writes) */
    volatile uint32_t dropped;  /* items dropped, ring full (producer writes) */
    volatile uint32_t drop_at;  /* head at the first unreported drop (producer) */
    volatile uint32_t reported; /* drops already reported (consumer writes) */
} asyncio_isr_queue;

/* Loop thread, before the producer starts: 0, or EINVAL (NULL, size 0). */
int asyncio_isr_queue_init(asyncio_isr_queue *q, asyncio_value *buf, size_t size);
/* Put without blocking: 0, or EQUEUEFULL (dropped and counted). IRQ-,
 * signal- and thread-safe for one producer; wakes the loop. */
int asyncio_isr_queue_put(asyncio_isr_queue *q, asyncio_value item);
/* get_nowait: 0 with *item, EQUEUEEMPTY, or EOVERRUN (items were dropped
 * here; reported once). Loop thread. */
int asyncio_isr_queue_get_nowait(asyncio_isr_queue *q, asyncio_value *item);
/* Items dropped so far (any context). */
uint32_t asyncio_isr_queue_dropped(const asyncio_isr_queue *q);
/* Items waiting (any context; a snapshot). */
size_t asyncio_isr_queue_qsize(const asyncio_isr_queue *q);
/* Coroutine object of get (value: the item). */
asyncio_coro *asyncio_isr_queue_get(asyncio_op *op, asyncio_isr_queue *q);

/* Await forms. A finish that finds it must wait again (an item taken by
 * someone else first) parks the task again and returns ASYNCIO_PENDING:
 * the coroutine then suspends at the same resume point. */
#define ASYNCIO_AWAIT_AGAIN_(await)                                                                \
    do {                                                                                           \
        await;                                                                                     \
        if (asyncio_err_ == ASYNCIO_PENDING)                                                       \
            return ASYNCIO_PENDING;                                                                \
    } while (0)

/* q.get(): the item in AWAIT_RESULT. Errors: ECANCELLED, EINVAL. */
#define ASYNCIO_AWAIT_QUEUE_GET(q)                                                                 \
    ASYNCIO_AWAIT_AGAIN_(                                                                          \
        ASYNCIO_AWAIT_ON_(asyncio_queue, q, asyncio_queue_get_start_, asyncio_queue_get_finish_))

/* q.put(item). `q` is evaluated once; `item` again on resume: pass a frame
 * field or a constant, not a C local. Errors: ECANCELLED, EINVAL. */
#define ASYNCIO_AWAIT_QUEUE_PUT(q, item)                                                           \
    ASYNCIO_AWAIT_AGAIN_(ASYNCIO_AWAIT_OBJ_(                                                       \
        asyncio_queue, q,                                                                          \
        asyncio_queue_put_start_(ASYNCIO_ARG_(asyncio_queue), asyncio_to_value_(item)),            \
        asyncio_queue_put_finish_(ASYNCIO_ARG_(asyncio_queue), asyncio_to_value_(item))))

/* q.join(): until every item put has been marked task_done. */
#define ASYNCIO_AWAIT_QUEUE_JOIN(q)                                                                \
    ASYNCIO_AWAIT_LEAF_(asyncio_queue_join_start_(q), ASYNCIO_RESUMED_())

/* sem.acquire(). Errors: ECANCELLED, EINVAL. */
#define ASYNCIO_AWAIT_SEMAPHORE(s)                                                                 \
    ASYNCIO_AWAIT_OBJ_(asyncio_semaphore, s,                                                       \
                       asyncio_semaphore_acquire_start_(ASYNCIO_ARG_(asyncio_semaphore)),          \
                       asyncio_semaphore_acquire_finish_(ASYNCIO_ARG_(asyncio_semaphore)))

/* cond.acquire() (the condition's lock). */
#define ASYNCIO_AWAIT_CONDITION_ACQUIRE(c) ASYNCIO_AWAIT_LOCK(asyncio_condition_lock_(c))

/* cond.wait() / cond.wait_for(pred): these hold state across waits, so they
 * take the frame `w` (an asyncio_condition_wait_state in your frame). */
#define ASYNCIO_AWAIT_CONDITION_WAIT(c, w) ASYNCIO_AWAIT(asyncio_condition_wait(w, c))
#define ASYNCIO_AWAIT_CONDITION_WAIT_FOR(c, w, pred, arg)                                          \
    ASYNCIO_AWAIT(asyncio_condition_wait_for(w, c, pred, arg))

/* isrq.get(): the item in AWAIT_RESULT. Errors: EOVERRUN (items dropped
 * here, reported once), EBUSY (another task is getting), ECANCELLED. */
#define ASYNCIO_AWAIT_ISR_QUEUE_GET(q)                                                             \
    ASYNCIO_AWAIT_AGAIN_(ASYNCIO_AWAIT_ON_(asyncio_isr_queue, q, asyncio_isr_queue_get_start_,     \
                                           asyncio_isr_queue_get_finish_))

#ifndef ASYNCIO_NO_SHORT_NAMES
#define AWAIT_QUEUE_GET ASYNCIO_AWAIT_QUEUE_GET
#define AWAIT_QUEUE_PUT ASYNCIO_AWAIT_QUEUE_PUT
#define AWAIT_QUEUE_JOIN ASYNCIO_AWAIT_QUEUE_JOIN
#define AWAIT_SEMAPHORE ASYNCIO_AWAIT_SEMAPHORE
#define AWAIT_CONDITION_ACQUIRE ASYNCIO_AWAIT_CONDITION_ACQUIRE
#define AWAIT_CONDITION_WAIT ASYNCIO_AWAIT_CONDITION_WAIT
#define AWAIT_CONDITION_WAIT_FOR ASYNCIO_AWAIT_CONDITION_WAIT_FOR
#define AWAIT_ISR_QUEUE_GET ASYNCIO_AWAIT_ISR_QUEUE_GET
#endif

/* Private: called by the macros above. */
int asyncio_queue_get_start_(asyncio_queue *q, asyncio_value *item);
int asyncio_queue_get_finish_(asyncio_queue *q, asyncio_value *item);
int asyncio_queue_put_start_(asyncio_queue *q, asyncio_value item);
int asyncio_queue_put_finish_(asyncio_queue *q, asyncio_value item);
int asyncio_queue_join_start_(asyncio_queue *q);
int asyncio_semaphore_acquire_start_(asyncio_semaphore *s);
int asyncio_semaphore_acquire_finish_(asyncio_semaphore *s);
asyncio_lock *asyncio_condition_lock_(asyncio_condition *c);
int asyncio_isr_queue_get_start_(asyncio_isr_queue *q, asyncio_value *item);
int asyncio_isr_queue_get_finish_(asyncio_isr_queue *q, asyncio_value *item);

/* One outcome of a gathered task: its error (0 = success) and value. */
typedef struct asyncio_outcome {
    asyncio_value value;
    int err;
} asyncio_outcome;

/* gather(*tasks): a coroutine object; keep it in the awaiting frame. */
typedef struct asyncio_gather_state {
    asyncio_coro co; /* first: this is the coroutine object you AWAIT */
    asyncio_task **tasks;
    asyncio_outcome *out;
    asyncio_task *waiter;
    size_t n;
    size_t remaining;
    int err;
    int return_exceptions;
} asyncio_gather_state;

/*
 * AWAIT(asyncio_gather(&g, tasks, n, out, return_exceptions)): wait for the
 * `n` tasks (created already); their outcomes land in `out` in argument
 * order and the value is `n`. Without return_exceptions the first error is
 * raised at once (the other tasks keep running); with it, errors sit in
 * `out`. Cancelling the gatherer cancels the tasks still running.
 * Errors: ECANTGATHER (a task is already awaited or gathered), EINVAL.
 */
asyncio_coro *asyncio_gather(asyncio_gather_state *g, asyncio_task **tasks, size_t n,
                             asyncio_outcome *out, int return_exceptions);

/* wait_for: a coroutine object; keep it in the awaiting frame. */
typedef struct asyncio_wait_for_state {
    asyncio_coro co;        /* first: this is the coroutine object you AWAIT */
    asyncio_coro runner_co; /* the runner: awaits the inner task, wakes us */
    asyncio_task runner;
    asyncio_task inner; /* the inner task, when given a coroutine */
    asyncio_task *aw;   /* the task waited for */
    asyncio_coro *aw_coro;
    asyncio_task *waiter;
    asyncio_value value; /* the inner task's outcome, handed over by the runner */
    int64_t timeout_ms;
    int err;
    int finished; /* the runner saw the inner task end */
} asyncio_wait_for_state;

#define ASYNCIO_NO_TIMEOUT INT64_MIN /* wait_for(aw, None) */

/*
 * AWAIT(asyncio_wait_for_ms(&wf, coro, ms)): run `coro` as a task (stored in
 * `wf`) and wait at most `ms` (ASYNCIO_NO_TIMEOUT: forever). On timeout the
 * task is cancelled, waited for (it may ignore the cancel), and ETIMEDOUT
 * raised. Its value or error otherwise. Errors also: EOVERFLOW, EINVAL.
 * If the awaiting task is cancelled, wait_for cancels the inner task and
 * returns at once (as MicroPython does): `wf` then stays in use until
 * asyncio_task_done(&wf.runner), so do not reuse or free it before.
 */
asyncio_coro *asyncio_wait_for_ms(asyncio_wait_for_state *wf, asyncio_coro *coro,
                                  int64_t timeout_ms);
/* The same with the timeout in seconds. */
asyncio_coro *asyncio_wait_for(asyncio_wait_for_state *wf, asyncio_coro *coro, double timeout_s);
/* The same for a task that already exists. */
asyncio_coro *asyncio_wait_for_task_ms(asyncio_wait_for_state *wf, asyncio_task *t,
                                       int64_t timeout_ms);

/* ======================================================================== */
/* I/O readiness (for asyncio_stream.h and other drivers)                    */
/* ======================================================================== */

#define ASYNCIO_IO_READ 1u  /* readable, or error / hang-up */
#define ASYNCIO_IO_WRITE 2u /* writable, or error / hang-up */

/* One descriptor (a socket on POSIX) that tasks wait on. */
typedef struct asyncio_io {
    asyncio_waitq readers, writers;
    int fd;
    uint8_t watching; /* events the port watches for it (loop-private) */
    uint8_t port;     /* the port's own state for it (port_posix.c: epoll's) */
} asyncio_io;

void asyncio_io_init(asyncio_io *io, int fd);
/* The port calls this from asyncio_port_wait() when `io` is ready: wakes
 * its readers and/or writers, and stops watching what nobody waits for. */
void asyncio_io_ready(asyncio_io *io, unsigned events);
/* Stop watching `io` (before closing its descriptor); its waiters are woken
 * and see whatever the descriptor reports next. */
void asyncio_io_forget(asyncio_io *io);

/* ======================================================================== */
/* Debugging: task dump, coroutine names, trace hooks                        */
/* ======================================================================== */
/*
 * Off by default (the core and the macros then compile exactly as without
 * this section). Build the core AND your coroutines with:
 *
 *   -DASYNCIO_DEBUG  asyncio_dump_tasks() and asyncio_coro_where(); every
 *                    coroutine body records its function name (__func__) and
 *                    file (__FILE__) in a static of its own, linked into a
 *                    registry on its first resume (RAM: 20 B per coroutine
 *                    FUNCTION on 32-bit, none per task or frame), and every
 *                    await on an object (Lock, flag, Event, task, and any
 *                    primitive built on ASYNCIO_AWAIT_ON_) records what it
 *                    waits on in a static per await site (12 B).
 *   -DASYNCIO_TRACE  (implies ASYNCIO_DEBUG) the trace hooks below call the
 *                    table set with asyncio_trace_set(); tools/trace/ has a
 *                    recorder writing a Chrome / Perfetto timeline.
 *
 * Or, without either, define the ASYNCIO_TRACE_* macros yourself where the
 * core is compiled (as FreeRTOS's trace macros): see "Trace hooks" in the
 * implementation. Undefined, they are nothing.
 *
 * Neither option changes a struct, so files built with and without them
 * link together safely: a body compiled without ASYNCIO_DEBUG is shown by
 * its function's address, an await of it as "wait queue <addr>".
 *
 * A new primitive gets its "waits on" name for free when its await macro is
 * built on ASYNCIO_AWAIT_ON_(T, obj, ...) (the dump prints T without its
 * "asyncio_" prefix and the object's address); one built directly on
 * ASYNCIO_AWAIT_LEAF_ names itself with ASYNCIO_DEBUG_SITE_("asyncio_x", 0)
 * placed before the leaf (as ASYNCIO_AWAIT_EVENT does; 0: print the wait
 * queue's address).
 */
#if defined(ASYNCIO_TRACE) && !defined(ASYNCIO_DEBUG)
#define ASYNCIO_DEBUG
#endif

#ifdef ASYNCIO_DEBUG
/* One coroutine function, as its body registers itself (private fields). */
typedef struct asyncio_await_site {
    const char *kind;                /* "asyncio_lock", "asyncio_event", ... */
    struct asyncio_await_site *next; /* the function's other sites */
    uint16_t line;                   /* the await's resume point */
    uint8_t on_value;                /* the object is in the frame's value slot */
    uint8_t linked;
} asyncio_await_site;

typedef struct asyncio_coro_info {
    const char *name, *file;
    asyncio_fn fn;
    struct asyncio_coro_info *next;
    asyncio_await_site *sites;
} asyncio_coro_info;

/* The dump's output: called once per line (no newline); non-zero stops. */
typedef int (*asyncio_print_fn)(void *ctx, const char *line);

/*
 * Print every live task of the loop: the running one, the runnable ones
 * (run-queue order), the sleeping ones (timer-heap order), the waiting ones
 * (oldest parked first; those waiting on a flag, which the loop keeps on a
 * ring of their own, last). Per task a header line
 *     task <addr> <root fn>: <state>[: <waits on>][, cancel pending]
 * then one line per coroutine of its await chain, root to innermost:
 *     <file>:<line> <fn>
 * (the README's "Debugging" section lists every field). Returns the number
 * of tasks printed, or the first non-zero value `print` returned. Reads the
 * loop without changing it: call it from a task, between runs, or from a
 * debugger; not from an interrupt (it would race the loop). No allocation;
 * each line is formatted in a 160-byte buffer on the stack.
 */
int asyncio_dump_tasks(asyncio_print_fn print, void *ctx);

/* Where a coroutine is: its function's registered name and file (NULL when
 * its body never ran in a build with ASYNCIO_DEBUG) and its resume line (0:
 * not started, leaving or done; `name`, `file` may be NULL). Loop thread. */
unsigned asyncio_coro_where(const asyncio_coro *co, const char **name, const char **file);

/* Register a coroutine function by hand (a hand-written body, or to name a
 * task before its first run); `info` must stay alive (static). Loop thread,
 * once per `info`. */
void asyncio_coro_register(asyncio_coro_info *info, asyncio_fn fn, const char *name,
                           const char *file);

/* Private: called by the macros (the values travel as arguments, not as
 * initialisers, whose commas would split an enclosing macro's arguments). */
void asyncio_debug_register_(asyncio_coro_info *info, asyncio_fn fn, const char *name,
                             const char *file);
void asyncio_debug_site_(asyncio_coro_info *info, asyncio_await_site *site, const char *kind,
                         unsigned line, int on_value);
#endif

#ifdef ASYNCIO_TRACE
/*
 * The trace hooks, as a table of callbacks (any may be NULL). `ctx` is
 * passed back. flag_set runs wherever asyncio_flag_set() is called (an
 * interrupt, a signal handler, another thread): it must be IRQ-safe. Every
 * other hook runs on the loop's thread:
 *   task_created   create_task scheduled `t`
 *   task_resumed   the loop steps `t` (its body runs next; or, when `t` is
 *                  already done, its unretrieved error goes to the
 *                  exception handler, and no suspended / done follows)
 *   task_suspended its body returned pending (asyncio_task_line(t) and
 *                  asyncio_coro_where() tell where); `done` follows if it
 *                  parked nowhere (ECORRUPT)
 *   task_done      `t` ended with `err` (0 = success)
 *   idle_enter     nothing runnable: the loop waits up to `timeout_ms`
 *                  (-1: no limit) ...
 *   idle_exit      ... and is back
 */
typedef struct asyncio_trace_hooks {
    void *ctx;
    void (*task_created)(void *ctx, asyncio_task *t);
    void (*task_resumed)(void *ctx, asyncio_task *t);
    void (*task_suspended)(void *ctx, asyncio_task *t);
    void (*task_done)(void *ctx, asyncio_task *t, int err);
    void (*flag_set)(void *ctx, asyncio_flag *f);
    void (*idle_enter)(void *ctx, int32_t timeout_ms);
    void (*idle_exit)(void *ctx);
} asyncio_trace_hooks;

/* Install `hooks` (NULL: none). Loop thread, while no flag is being set
 * elsewhere (set it before interrupts or threads start). The table must
 * stay alive while installed. */
void asyncio_trace_set(const asyncio_trace_hooks *hooks);
#endif

/* ======================================================================== */
/* Values, casts and results the macros use (private)                        */
/* ======================================================================== */
#ifdef __cplusplus
}
template <typename T> inline asyncio_value asyncio_to_value_(T v)
{
    return static_cast<asyncio_value>(v);
}
template <typename T> inline asyncio_value asyncio_to_value_(T *v)
{
    return reinterpret_cast<asyncio_value>(v);
}
inline asyncio_value asyncio_to_value_(decltype(nullptr)) { return 0; }
inline void *asyncio_value_ptr_(asyncio_value v) { return reinterpret_cast<void *>(v); }
extern "C" {
#else
#define asyncio_to_value_(v) ((asyncio_value)(v))
static inline void *asyncio_value_ptr_(asyncio_value v) { return (void *)v; }
#endif
/* Use a result on purpose without using it (even gcc's warn_unused_result). */
static inline void asyncio_ignore_(int r) { (void)r; }

/* ======================================================================== */
/* Coroutine macros                                                          */
/* ======================================================================== */
/*
 * How a body is built (the continuation layer: nothing here knows about the
 * scheduler; it only calls the await functions declared at the end of this
 * header):
 *
 *   ASYNC_BEGIN(co)   switch (co->line) { case 0: {          resume points
 *   AWAIT...          co->line = __LINE__; return PENDING;   are `case`
 *                     case __LINE__: ...                      labels of this
 *   ASYNC_FINALLY     } case LEAVE: {                         one switch
 *   ASYNC_END         } default: corrupt } -> DONE
 *
 * What the macros check for you (the pitfalls of a switch/__LINE__ body):
 *   - a C local initialised in the body and still in scope at an await:
 *     a compile error (gcc: -Wjump-misses-init, clang: -W*uninitialized,
 *     C++: the language itself), raised inside coroutine bodies only;
 *   - two awaits on one line: a compile error (duplicate case);
 *   - ASYNC_RETURN inside ASYNC_WITH_LOCK: a compile error (it would skip
 *     the release);
 *   - a plain `return` in a body: the coroutine fails with ASYNCIO_ERETURN;
 *   - a `break` that leaves the body's switch: ASYNCIO_EBREAK;
 *   - an await inside your own `switch` (its `case` would capture the resume
 *     point): ASYNCIO_ECORRUPT when the coroutine is resumed.
 * Every macro argument is evaluated once.
 */

/* Compiler plumbing: pragmas that hold inside a body, casts C++ accepts. */
#if defined(__GNUC__) || defined(__clang__)
#define ASYNCIO_PRAGMA_(x) _Pragma(#x)
#define ASYNCIO_DIAG_PUSH_ ASYNCIO_PRAGMA_(GCC diagnostic push)
#define ASYNCIO_DIAG_POP_ ASYNCIO_PRAGMA_(GCC diagnostic pop)
#define ASYNCIO_SHADOW_OK_ ASYNCIO_PRAGMA_(GCC diagnostic ignored "-Wshadow")
#if defined(__cplusplus)
#define ASYNCIO_BODY_CHECKS_ /* C++ itself rejects a jump past an initialisation */
#elif defined(__clang__)
#define ASYNCIO_BODY_CHECKS_                                                                       \
    ASYNCIO_PRAGMA_(clang diagnostic error "-Wuninitialized")                                      \
    ASYNCIO_PRAGMA_(clang diagnostic error "-Wsometimes-uninitialized")                            \
    ASYNCIO_PRAGMA_(clang diagnostic error "-Wconditional-uninitialized")
#else
#define ASYNCIO_BODY_CHECKS_ ASYNCIO_PRAGMA_(GCC diagnostic error "-Wjump-misses-init")
#endif
#else
#define ASYNCIO_DIAG_PUSH_
#define ASYNCIO_DIAG_POP_
#define ASYNCIO_SHADOW_OK_
#define ASYNCIO_BODY_CHECKS_
#endif
#ifdef __cplusplus
#define ASYNCIO_CAST_(T, x) static_cast<T>(x)
#else
#define ASYNCIO_CAST_(T, x) ((T)(x))
#endif

/* A coroutine's frame from its header: ASYNC_FRAME(struct my_frame, co).
 * (Through void *, so -Wcast-align stays quiet for frames with 8-byte
 * members; the frame is always the header's own object.) */
#define ASYNCIO_FRAME(type, co) ASYNCIO_CAST_(type *, ASYNCIO_CAST_(void *, co))

/* With ASYNCIO_DEBUG: a body registers its function's name and file on its
 * first resume, an await on an object what it waits on (asyncio.h's
 * "Debugging"). Without: nothing. */
#ifdef ASYNCIO_DEBUG
#define ASYNCIO_DEBUG_BEGIN_                                                                       \
    static asyncio_coro_info asyncio_info_;                                                        \
    if (!asyncio_info_.fn)                                                                         \
        asyncio_debug_register_(&asyncio_info_, asyncio_co_->fn, __func__, __FILE__);
#define ASYNCIO_DEBUG_SITE_(kind, on_value)                                                        \
    {                                                                                              \
        static asyncio_await_site asyncio_site_;                                                   \
        if (!asyncio_site_.linked)                                                                 \
            asyncio_debug_site_(&asyncio_info_, &asyncio_site_, kind, __LINE__, on_value);         \
    }
#else
#define ASYNCIO_DEBUG_BEGIN_
#define ASYNCIO_DEBUG_SITE_(kind, on_value)
#endif

/*
 * Open the body of coroutine `co` (an asyncio_coro *). The body is one
 * `switch` on the resume point. Shadowing enums tell the macros, at compile
 * time, where they stand: catching (ASYNC_TRY), in FINALLY, inside a try
 * block (the handler's resume point), inside ASYNC_WITH_LOCK.
 */
#define ASYNCIO_BEGIN(co)                                                                          \
    ASYNCIO_DIAG_PUSH_ ASYNCIO_BODY_CHECKS_ asyncio_coro *const asyncio_co_ = (co);                \
    int asyncio_err_ = 0;                                                                          \
    asyncio_value asyncio_result_ = 0;                                                             \
    enum {                                                                                         \
        asyncio_catching_ = 0,                                                                     \
        asyncio_in_finally_ = 0,                                                                   \
        asyncio_try_at_ = 0,                                                                       \
        asyncio_in_with_ = 0                                                                       \
    };                                                                                             \
    (void)asyncio_err_;                                                                            \
    (void)asyncio_result_;                                                                         \
    ASYNCIO_DEBUG_BEGIN_                                                                           \
    asyncio_dispatch_:                                                                             \
    switch (asyncio_co_->line) {                                                                   \
    case ASYNCIO_LINE_DONE: return asyncio_co_->err; /* finished: every later call says how */     \
    case 0: {                                                                                      \
        (void)0

/* Start of the cleanup section: runs when the body returns, fails or is
 * cancelled. ASYNC_ERROR tells which; ASYNC_RETURN here replaces the outcome
 * (so it can swallow an error). An error raised in here ends the coroutine. */
#define ASYNCIO_FINALLY                                                                            \
    asyncio_co_->value = 0; /* fell off the body: value 0 */                                       \
    }                                                                                              \
    if (0) {                                                                                       \
    case ASYNCIO_LINE_LEAVE:;                                                                      \
    }                                                                                              \
    {                                                                                              \
        ASYNCIO_DIAG_PUSH_ ASYNCIO_SHADOW_OK_ enum { asyncio_in_finally_ = 1 };                    \
        ASYNCIO_DIAG_POP_(void) 0

/* Close the body. Falling off the end returns 0 with value 0. A resume
 * point that matches no await (a corrupted frame, or an await captured by a
 * user's switch) ends with ECORRUPT; a `break` out of the body's switch with
 * EBREAK. */
#define ASYNCIO_END                                                                                \
    if (asyncio_in_finally_ == 0)                                                                  \
        asyncio_co_->value = 0; /* fell off the body: value 0 */                                   \
    asyncio_co_->line = ASYNCIO_LINE_LEAVE;                                                        \
    }                                                                                              \
    if (0) {                                                                                       \
    default:                                                                                       \
        if (asyncio_co_->line == ASYNCIO_LINE_LEAVE)                                               \
            goto asyncio_end_; /* leaving, and no FINALLY */                                       \
        asyncio_co_->err = ASYNCIO_ECORRUPT;                                                       \
        asyncio_co_->line = ASYNCIO_LINE_LEAVE;                                                    \
    }                                                                                              \
    }                                                                                              \
    if (0)                                                                                         \
        goto asyncio_dispatch_;                                                                    \
    if (asyncio_co_->line != ASYNCIO_LINE_LEAVE)                                                   \
        asyncio_co_->err = ASYNCIO_EBREAK; /* a `break` left the body's switch */                  \
    asyncio_end_:                                                                                  \
    if (asyncio_co_->err == ASYNCIO_ECORRUPT || asyncio_co_->err == ASYNCIO_EBREAK)                \
        asyncio_co_->value = 0;                                                                    \
    asyncio_co_->line = ASYNCIO_LINE_DONE;                                                         \
    ASYNCIO_DIAG_POP_ return asyncio_co_->err

/* Leave the body: to FINALLY if there is one, else to the end; from inside
 * FINALLY straight to the end. */
#define ASYNCIO_LEAVE_()                                                                           \
    do {                                                                                           \
        asyncio_co_->line = ASYNCIO_LINE_LEAVE;                                                    \
        if (asyncio_in_finally_ != 0)                                                              \
            goto asyncio_end_;                                                                     \
        goto asyncio_dispatch_;                                                                    \
    } while (0)

/* Compile-time assertion inside a body. */
#define ASYNCIO_STATIC_CHECK_(cond) ((void)sizeof(char[(cond) ? 1 : -1]))

/* Return `v` (after the FINALLY section, if any). Not inside
 * ASYNC_WITH_LOCK (a compile error: it would skip the release). */
#define ASYNCIO_RETURN(v)                                                                          \
    do {                                                                                           \
        ASYNCIO_STATIC_CHECK_(asyncio_in_with_ == 0); /* release the lock first */                 \
        asyncio_co_->value = asyncio_to_value_(v);                                                 \
        asyncio_co_->err = 0;                                                                      \
        ASYNCIO_LEAVE_();                                                                          \
    } while (0)

/* Raise error `e` where the code stands: to the handler of the innermost
 * try block, else out of the coroutine (after FINALLY). */
#define ASYNCIO_THROW_(e)                                                                          \
    do {                                                                                           \
        if (asyncio_try_at_ != 0) {                                                                \
            asyncio_err_ = asyncio_error_code_(e);                                                 \
            asyncio_co_->line = asyncio_try_at_;                                                   \
            goto asyncio_dispatch_;                                                                \
        }                                                                                          \
        asyncio_co_->value = 0;                                                                    \
        asyncio_co_->err = ASYNCIO_CAST_(int16_t, asyncio_error_code_(e));                         \
        ASYNCIO_LEAVE_();                                                                          \
    } while (0)

/* Fail with error code `e` (negative; 0 is turned into EINVAL): Python's
 * raise. Inside a try block its handler sees it. */
#define ASYNCIO_RAISE(e) ASYNCIO_THROW_(e)

/* The error this coroutine is unwinding with (in FINALLY), 0 if none. */
#define ASYNCIO_ERROR ASYNCIO_CAST_(int, asyncio_co_->err)

/* Run `stmt` (one await) catching its error instead of propagating it; the
 * error (0 = none) is then in AWAIT_ERROR. The one-line try/except. */
#define ASYNCIO_TRY(stmt)                                                                          \
    do {                                                                                           \
        ASYNCIO_DIAG_PUSH_ ASYNCIO_SHADOW_OK_ enum { asyncio_catching_ = 1 };                      \
        ASYNCIO_DIAG_POP_ stmt;                                                                    \
    } while (0)

/*
 * try / except across any number of awaits, nestable, also inside FINALLY:
 *
 *     ASYNC_TRY_BLOCK {                         try:
 *         AWAIT(...);                               ...
 *         AWAIT(...);                               ...
 *     } ASYNC_EXCEPT(ASYNCIO_ECANCELLED) {      except CancelledError:
 *         ...                                       ...
 *     } ASYNC_TRY_END;
 *
 * ASYNC_EXCEPT(e) catches one error code, ASYNC_EXCEPT_IF(cond) those for
 * which `cond` holds (AWAIT_ERROR is the error: a set of codes, a range),
 * ASYNC_EXCEPT_ANY every error. Others propagate to the enclosing try block
 * or out of the coroutine, as does an error raised in the handler;
 * ASYNC_RERAISE raises AWAIT_ERROR again. In the handler AWAIT_ERROR is the
 * caught error until the handler's own first await (copy it to keep it).
 */
/* A try block's handler is resumed at ASYNCIO_TRY_POINT_ + its line (so
 * that it never meets an await's resume point: ASYNC_WITH_LOCK puts both on
 * one line); files with try blocks are limited to 32767 lines. */
#define ASYNCIO_TRY_POINT_ 0x8000
#define ASYNCIO_TRY_BLOCK                                                                          \
    {                                                                                              \
        ASYNCIO_DIAG_PUSH_ ASYNCIO_SHADOW_OK_ enum { asyncio_try_outer_ = asyncio_try_at_ };       \
        {                                                                                          \
            enum { asyncio_try_at_ = ASYNCIO_TRY_POINT_ + __LINE__ };                              \
            ASYNCIO_DIAG_POP_ ASYNCIO_STATIC_CHECK_(__LINE__ < ASYNCIO_TRY_POINT_);                \
            if (1)

#define ASYNCIO_EXCEPT_IF(cond)                                                                    \
    else case asyncio_try_at_:                                                                     \
    {                                                                                              \
        ASYNCIO_DIAG_PUSH_ ASYNCIO_SHADOW_OK_ enum { asyncio_try_at_ = asyncio_try_outer_ };       \
        ASYNCIO_DIAG_POP_ if (!(cond)) ASYNCIO_THROW_(asyncio_err_);                               \
        else

#define ASYNCIO_EXCEPT(e) ASYNCIO_EXCEPT_IF(asyncio_err_ == (e))
#define ASYNCIO_EXCEPT_ANY ASYNCIO_EXCEPT_IF(1)
#define ASYNCIO_TRY_END                                                                            \
    }                                                                                              \
    }                                                                                              \
    }                                                                                              \
    (void)0

/* Raise the caught error again (in an except handler). */
#define ASYNCIO_RERAISE ASYNCIO_THROW_(asyncio_err_)

/*
 * async with lock: acquire, run the block, release however it ends (an
 * error or a cancellation is raised again after the release):
 *
 *     ASYNC_WITH_LOCK(&f->lock) {
 *         ...                       (awaits allowed; ASYNC_RETURN is not)
 *     } ASYNC_WITH_END(&f->lock);
 */
#define ASYNCIO_WITH_LOCK(l)                                                                       \
    ASYNCIO_AWAIT_LOCK(l);                                                                         \
    {                                                                                              \
        ASYNCIO_DIAG_PUSH_ ASYNCIO_SHADOW_OK_ enum { asyncio_in_with_ = 1 };                       \
        ASYNCIO_DIAG_POP_ ASYNCIO_TRY_BLOCK

#define ASYNCIO_WITH_END(l)                                                                        \
    ASYNCIO_EXCEPT_ANY                                                                             \
    {                                                                                              \
        asyncio_ignore_(asyncio_lock_release(l));                                                  \
        ASYNCIO_RERAISE;                                                                           \
    }                                                                                              \
    ASYNCIO_TRY_END;                                                                               \
    }                                                                                              \
    asyncio_ignore_(asyncio_lock_release(l))

/* After an await: its error (only under ASYNC_TRY) and its value. */
#define ASYNCIO_AWAIT_ERROR asyncio_err_
#define ASYNCIO_AWAIT_RESULT asyncio_result_

/* Compile-time check that a resume point fits in 15 bits. */
#define ASYNCIO_LINE_CHECK_() ASYNCIO_STATIC_CHECK_(__LINE__ < ASYNCIO_LINE_LEAVE)

/* Handle the outcome of an await: keep it, or propagate the error. */
#define ASYNCIO_AWAIT_OUTCOME_(r)                                                                  \
    do {                                                                                           \
        asyncio_err_ = (r);                                                                        \
        if (asyncio_err_ < 0 && asyncio_catching_ == 0)                                            \
            ASYNCIO_THROW_(asyncio_err_);                                                          \
    } while (0)

/* On resume: 0, or the cancellation (or reset frame) waiting for the task;
 * one test inline, a call only when something is pending. */
#define ASYNCIO_RESUMED_() ((asyncio_running_->flags & ASYNCIO_F_CANCEL_) ? asyncio_resume_() : 0)

/*
 * The one suspension mechanism every await uses. `start` parks the current
 * task and returns ASYNCIO_PENDING, or completes at once (0 / error);
 * `finish` runs on resume and returns 0 / error. Both may store a value in
 * asyncio_result_.
 */
#define ASYNCIO_AWAIT_LEAF_(start, finish)                                                         \
    do {                                                                                           \
        ASYNCIO_LINE_CHECK_();                                                                     \
        asyncio_result_ = 0;                                                                       \
        asyncio_err_ = (start);                                                                    \
        if (asyncio_err_ > 0) { /* PENDING, or YIELDED_ */                                         \
            asyncio_co_->line = __LINE__;                                                          \
            return asyncio_err_;                                                                   \
        case __LINE__: asyncio_result_ = 0; asyncio_err_ = (finish);                               \
        }                                                                                          \
        ASYNCIO_AWAIT_OUTCOME_(asyncio_err_);                                                      \
    } while (0)

/* A leaf await on an object `obj` of type T that its `finish` needs again on
 * resume: `obj` is evaluated once and kept, while the coroutine waits, in
 * the frame's value slot (unused until the body returns). `start_fn` and
 * `finish_fn` take (T *, asyncio_value *result); ASYNCIO_AWAIT_OBJ_ takes
 * any expressions of ASYNCIO_ARG_(T) instead. */
#define ASYNCIO_AWAIT_ON_(T, obj, start_fn, finish_fn)                                             \
    ASYNCIO_AWAIT_OBJ_(T, obj, start_fn(ASYNCIO_ARG_(T), &asyncio_result_),                        \
                       finish_fn(ASYNCIO_ARG_(T), &asyncio_result_))
/* The same with any start / finish expressions of ASYNCIO_ARG_(T). */
#define ASYNCIO_AWAIT_OBJ_(T, obj, start, finish)                                                  \
    do {                                                                                           \
        ASYNCIO_DEBUG_SITE_(#T, 1)                                                                 \
        asyncio_co_->value = asyncio_to_value_(obj);                                               \
        ASYNCIO_AWAIT_LEAF_(start, finish);                                                        \
    } while (0)
#define ASYNCIO_ARG_(T) ASYNCIO_CAST_(T *, asyncio_value_ptr_(asyncio_co_->value))

/* await coro: run coroutine object `c` inline until it ends; its value is in
 * AWAIT_RESULT. */
#define ASYNCIO_AWAIT(c)                                                                           \
    do {                                                                                           \
        ASYNCIO_LINE_CHECK_();                                                                     \
        asyncio_co_->child = (c);                                                                  \
        asyncio_co_->line = __LINE__;                                                              \
        if (0) {                                                                                   \
        case __LINE__:;                                                                            \
        }                                                                                          \
        asyncio_err_ = asyncio_step_child_(asyncio_co_->child, &asyncio_result_);                  \
        if (asyncio_err_ > 0)                                                                      \
            return asyncio_err_; /* suspended inside: PENDING or YIELDED_ */                       \
        ASYNCIO_AWAIT_OUTCOME_(asyncio_err_);                                                      \
    } while (0)

/* await task: wait for task `t` to end; its value is in AWAIT_RESULT. Errors:
 * its error, ECANCELLED, ECANTWAIT (`t` is gathered, is the caller, or waits
 * for the caller: a deadlock), EINVAL (NULL, never created, dropped). */
#define ASYNCIO_AWAIT_TASK(t)                                                                      \
    ASYNCIO_AWAIT_ON_(asyncio_task, t, asyncio_await_task_start_, asyncio_await_task_finish_)

/* sleep_ms(ms): int64 milliseconds; negative is 0 (a yield); more than
 * ASYNCIO_SLEEP_MAX_MS is EOVERFLOW. */
#define ASYNCIO_AWAIT_SLEEP_MS(ms)                                                                 \
    ASYNCIO_AWAIT_LEAF_(asyncio_sleep_or_yield_(ASYNCIO_CAST_(int64_t, ms)), ASYNCIO_RESUMED_())

/* sleep(s): seconds as a double (truncated to whole ms, like MicroPython). */
#define ASYNCIO_AWAIT_SLEEP(s)                                                                     \
    ASYNCIO_AWAIT_SLEEP_MS(asyncio_seconds_to_ms_(ASYNCIO_CAST_(double, s)))

/* sleep(0): let every other runnable task run once. */
#define ASYNCIO_YIELD ASYNCIO_AWAIT_LEAF_(ASYNCIO_YIELDED_, ASYNCIO_RESUMED_())

/* Event.wait(): returns at once if set. (For the dump its site names the
 * kind; the Event is not kept in the frame, so the address shown is its
 * wait queue's, the Event's first member.) */
#define ASYNCIO_AWAIT_EVENT(e)                                                                     \
    do {                                                                                           \
        ASYNCIO_DEBUG_SITE_("asyncio_event", 0)                                                    \
        ASYNCIO_AWAIT_LEAF_(asyncio_event_wait_start_(e), ASYNCIO_RESUMED_());                     \
    } while (0)

/* Lock.acquire(): FIFO; a waiter cancelled after the hand-off passes it on. */
#define ASYNCIO_AWAIT_LOCK(l)                                                                      \
    ASYNCIO_AWAIT_ON_(asyncio_lock, l, asyncio_lock_acquire_start_, asyncio_lock_acquire_finish_)

/* ThreadSafeFlag.wait(): returns at once (clearing it) if set; one waiter
 * only (a second one gets EBUSY). */
#define ASYNCIO_AWAIT_FLAG(f)                                                                      \
    ASYNCIO_AWAIT_OBJ_(asyncio_flag, f, asyncio_flag_wait_start_(ASYNCIO_ARG_(asyncio_flag)),      \
                       asyncio_flag_resumed_(ASYNCIO_ARG_(asyncio_flag)))

/* Wait until `io` is ready for ASYNCIO_IO_READ or ASYNCIO_IO_WRITE. Errors:
 * EINVAL if the port cannot watch descriptors. */
#define ASYNCIO_AWAIT_IO(io, events)                                                               \
    ASYNCIO_AWAIT_LEAF_(asyncio_io_wait_start_(io, events), ASYNCIO_RESUMED_())

/* Short names, unless the includer opts out. */
#ifndef ASYNCIO_NO_SHORT_NAMES
#define ASYNC_BEGIN ASYNCIO_BEGIN
#define ASYNC_END ASYNCIO_END
#define ASYNC_FINALLY ASYNCIO_FINALLY
#define ASYNC_RETURN ASYNCIO_RETURN
#define ASYNC_RAISE ASYNCIO_RAISE
#define ASYNC_RERAISE ASYNCIO_RERAISE
#define ASYNC_ERROR ASYNCIO_ERROR
#define ASYNC_TRY ASYNCIO_TRY
#define ASYNC_TRY_BLOCK ASYNCIO_TRY_BLOCK
#define ASYNC_EXCEPT ASYNCIO_EXCEPT
#define ASYNC_EXCEPT_IF ASYNCIO_EXCEPT_IF
#define ASYNC_EXCEPT_ANY ASYNCIO_EXCEPT_ANY
#define ASYNC_TRY_END ASYNCIO_TRY_END
#define ASYNC_WITH_LOCK ASYNCIO_WITH_LOCK
#define ASYNC_WITH_END ASYNCIO_WITH_END
#define ASYNC_FRAME ASYNCIO_FRAME
#define AWAIT ASYNCIO_AWAIT
#define AWAIT_ERROR ASYNCIO_AWAIT_ERROR
#define AWAIT_RESULT ASYNCIO_AWAIT_RESULT
#define AWAIT_TASK ASYNCIO_AWAIT_TASK
#define AWAIT_SLEEP ASYNCIO_AWAIT_SLEEP
#define AWAIT_SLEEP_MS ASYNCIO_AWAIT_SLEEP_MS
#define YIELD ASYNCIO_YIELD
#define AWAIT_EVENT ASYNCIO_AWAIT_EVENT
#define AWAIT_LOCK ASYNCIO_AWAIT_LOCK
#define AWAIT_FLAG ASYNCIO_AWAIT_FLAG
#define AWAIT_IO ASYNCIO_AWAIT_IO
#endif

/* ======================================================================== */
/* The port interface: what a port file provides                             */
/* ======================================================================== */
/*
 * A port is these functions (port_posix.c, port_openmv.c are examples). It
 * is only the port: the core is compiled where ASYNCIO_IMPLEMENTATION is
 * defined, never inside a port file.
 *
 *  asyncio_port_init()        before the loop is first used (and again after
 *                             asyncio_port_deinit()).
 *  asyncio_port_deinit()      release what init took (descriptors...); the
 *                             loop calls it from asyncio_loop_close().
 *  asyncio_port_ticks_ms()    a free-running millisecond counter, wrapping
 *                             at 2^32.
 *  asyncio_port_wait(ms)      idle: return after `ms` milliseconds (ms < 0:
 *                             no limit), or earlier when asyncio_port_wake()
 *                             is called, INCLUDING a wake that came after
 *                             the loop decided to idle but before this call
 *                             (a wake is never lost). Early returns are fine.
 *  asyncio_port_wake()        IRQ-, signal- and thread-safe: end the current
 *                             or next asyncio_port_wait().
 *  asyncio_port_critical_enter() / _exit(state)
 *                             a nestable critical section (interrupts
 *                             masked); used where an atomic read-and-clear is
 *                             not available.
 *  asyncio_port_io_watch(io, events)
 *                             watch io->fd for ASYNCIO_IO_* `events` (0: stop)
 *                             and call asyncio_io_ready() from
 *                             asyncio_port_wait() when it is ready. Return 0,
 *                             or ASYNCIO_EINVAL where there is no I/O.
 *  asyncio_port_report(ctx)   the default exception handler's output (stderr
 *                             on a host, a hook on a device); unused when
 *                             ASYNCIO_REPORT is defined.
 *
 * Optional:
 *  asyncio_port_thread_id()   a non-zero id of the calling thread (equal for
 *                             calls from one thread, different across
 *                             threads). Only builds with ASYNCIO_CHECK_THREAD
 *                             call it; a port without threads leaves it out
 *                             (and that check off: the default).
 */
void asyncio_port_init(void);
void asyncio_port_deinit(void);
uint32_t asyncio_port_ticks_ms(void);
void asyncio_port_wait(int32_t timeout_ms);
void asyncio_port_wake(void);
uint32_t asyncio_port_critical_enter(void);
void asyncio_port_critical_exit(uint32_t state);
int asyncio_port_io_watch(asyncio_io *io, unsigned events);
void asyncio_port_report(const asyncio_context *ctx);
uintptr_t asyncio_port_thread_id(void);

/* ======================================================================== */
/* Private: called by the macros above; not part of the API                  */
/* ======================================================================== */
/* The task running now, and the task flag the await macros test inline on
 * resume (a cancellation, or a reset frame, waits to be delivered). */
extern asyncio_task *asyncio_running_;
#define ASYNCIO_F_CANCEL_ 0x01u
/* What a body returns to be put back in the run queue at once (sleep(0)):
 * the loop does it, so a yield calls nothing. */
#define ASYNCIO_YIELDED_ 2
int asyncio_sleep_ms_start_(int64_t ms);
/* sleep(ms): a timer, or for ms <= 0 a yield the loop does itself. */
static inline int asyncio_sleep_or_yield_(int64_t ms)
{
    return ms <= 0 ? ASYNCIO_YIELDED_ : asyncio_sleep_ms_start_(ms);
}

int asyncio_error_code_(int e);
int asyncio_step_child_(asyncio_coro *child, asyncio_value *value);
int asyncio_resume_(void);
int64_t asyncio_seconds_to_ms_(double seconds);
int asyncio_await_task_start_(asyncio_task *t, asyncio_value *value);
int asyncio_await_task_finish_(asyncio_task *t, asyncio_value *value);
int asyncio_event_wait_start_(asyncio_event *e);
int asyncio_lock_acquire_start_(asyncio_lock *l, asyncio_value *result);
int asyncio_lock_acquire_finish_(asyncio_lock *l, asyncio_value *result);
int asyncio_flag_wait_start_(asyncio_flag *f);
int asyncio_flag_wait_finish_(asyncio_flag *f, asyncio_value *result);
/*
 * Memory order of the flag's state. A port whose flags are only ever set on
 * the loop's own core (interrupt handlers on a single-core MCU) defines
 * ASYNCIO_SINGLE_CORE: a core sees its own stores in program order, so
 * compiler barriers are enough and the hardware barriers (DMB) go.
 */
#ifdef ASYNCIO_SINGLE_CORE
#define ASYNCIO_ACQUIRE_ __ATOMIC_RELAXED
#define ASYNCIO_RELEASE_ __ATOMIC_RELAXED
#define ASYNCIO_ACQ_REL_ __ATOMIC_RELAXED
#define ASYNCIO_BARRIER_() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#else
#define ASYNCIO_ACQUIRE_ __ATOMIC_ACQUIRE
#define ASYNCIO_RELEASE_ __ATOMIC_RELEASE
#define ASYNCIO_ACQ_REL_ __ATOMIC_ACQ_REL
#define ASYNCIO_BARRIER_() ((void)0)
#endif
/* Store the flag's state (set, clear, and wait's consume on one core). */
static inline void asyncio_flag_store_(asyncio_flag *f, int v)
{
    ASYNCIO_BARRIER_();
    __atomic_store_n(&f->state, v, ASYNCIO_RELEASE_);
}
/* Atomically read and clear the flag. Cores without an atomic exchange
 * (ARMv6-M) use the port's critical section instead. */
static inline int asyncio_flag_take_(asyncio_flag *f)
{
#if defined(__ARM_ARCH_6M__) || defined(ASYNCIO_NO_ATOMIC_XCHG)
    uint32_t s = asyncio_port_critical_enter();
    int v = f->state;
    f->state = 0;
    asyncio_port_critical_exit(s);
    return v;
#else
    int v;
    ASYNCIO_BARRIER_();
    v = __atomic_exchange_n(&f->state, 0, ASYNCIO_ACQ_REL_);
    ASYNCIO_BARRIER_();
    return v;
#endif
}

/* flag.wait() resumed: consume the flag, or deliver the cancellation
 * instead. Inline: it is on the interrupt-to-task path. On one core a store
 * is enough (the loop woke the task because the flag was set; an interrupt
 * sees the core's accesses in program order). Across cores it must be an
 * exchange: a store may still sit in the store buffer while the task's next
 * loads (the item a producer put, then set the flag for) read old values,
 * and land after that producer's set, erasing the wake-up for an item the
 * task never saw (x86 included: a ping-pong of 300,000 items lost 49 with
 * a store; tests/test_isr_queue.c pins it). */
static inline int asyncio_flag_resumed_(asyncio_flag *f)
{
    if (asyncio_running_->flags & ASYNCIO_F_CANCEL_)
        return asyncio_resume_();
#ifdef ASYNCIO_SINGLE_CORE
    asyncio_flag_store_(f, 0);
    ASYNCIO_BARRIER_(); /* the compiler keeps the task's next loads after it */
#else
    (void)asyncio_flag_take_(f);
#endif
    return ASYNCIO_OK;
}
int asyncio_io_wait_start_(asyncio_io *io, unsigned events);

#ifdef __cplusplus
}
#endif

#endif /* ASYNCIO_H */

/* ######################################################################## */
/* Implementation                                                           */
/* ######################################################################## */
#if defined(ASYNCIO_IMPLEMENTATION) && !defined(ASYNCIO_IMPLEMENTATION_DONE_)
#define ASYNCIO_IMPLEMENTATION_DONE_

/* How the default exception handler reports: through the port, unless the
 * translation unit that compiles the core defines its own. */
#ifndef ASYNCIO_REPORT
#define ASYNCIO_REPORT(ctx) asyncio_port_report(ctx)
#endif

#if defined(ASYNCIO_CHECK_THREAD) && !defined(ASYNCIO_THREAD_REPORT)
#include <stdio.h>
#define ASYNCIO_THREAD_REPORT(name)                                                                \
    fprintf(stderr, "asyncio: %s called from a thread that is not the loop's: ignored\n", (name))
#endif

/* Stall detection: after this many rounds of the run queue (every task
 * runnable at a round's start has run once) with a timer pending and the
 * clock not moving, the loop reports ASYNCIO_ESTALL (once per run) and
 * idles until the next deadline (see asyncio_loop_run_until_complete).
 * 0 turns it off. Counting rounds, not passes, keeps a million tasks that
 * each run once from looking like a stall; a real millisecond clock always
 * moves long before a million rounds (a round takes at least a few ns). */
#ifndef ASYNCIO_STALL_ROUNDS
#define ASYNCIO_STALL_ROUNDS 1000000
#endif

/*
 * Trace hooks. Each is one statement at one point of the core; defined by
 * ASYNCIO_TRACE as calls into the asyncio_trace_set() table, by you (before
 * this point, where the core is compiled) as anything, or else nothing, so
 * a build without them compiles to the same code as one without hooks.
 *   ASYNCIO_TRACE_TASK_CREATED(t)    create_task scheduled t
 *   ASYNCIO_TRACE_TASK_RESUMED(t)    the loop steps t (see asyncio_trace_hooks)
 *   ASYNCIO_TRACE_TASK_SUSPENDED(t)  t's body returned pending
 *   ASYNCIO_TRACE_TASK_DONE(t, err)  t ended with err
 *   ASYNCIO_TRACE_FLAG_SET(f)        asyncio_flag_set(f): IRQ / signal / thread context
 *   ASYNCIO_TRACE_IDLE_ENTER(ms)     the loop idles up to ms (-1: no limit)
 *   ASYNCIO_TRACE_IDLE_EXIT()        and is back
 */
#ifdef ASYNCIO_TRACE
static const asyncio_trace_hooks *asyncio_trace_;
void asyncio_trace_set(const asyncio_trace_hooks *hooks)
{
    __atomic_store_n(&asyncio_trace_, hooks, __ATOMIC_RELEASE);
}
#define ASYNCIO_TRACE_CALL_(hook, ...)                                                             \
    do {                                                                                           \
        const asyncio_trace_hooks *h_ = __atomic_load_n(&asyncio_trace_, __ATOMIC_ACQUIRE);        \
        if (h_ && h_->hook)                                                                        \
            h_->hook(h_->ctx, __VA_ARGS__);                                                        \
    } while (0)
#ifndef ASYNCIO_TRACE_TASK_CREATED
#define ASYNCIO_TRACE_TASK_CREATED(t) ASYNCIO_TRACE_CALL_(task_created, t)
#endif
#ifndef ASYNCIO_TRACE_TASK_RESUMED
#define ASYNCIO_TRACE_TASK_RESUMED(t) ASYNCIO_TRACE_CALL_(task_resumed, t)
#endif
#ifndef ASYNCIO_TRACE_TASK_SUSPENDED
#define ASYNCIO_TRACE_TASK_SUSPENDED(t) ASYNCIO_TRACE_CALL_(task_suspended, t)
#endif
#ifndef ASYNCIO_TRACE_TASK_DONE
#define ASYNCIO_TRACE_TASK_DONE(t, err) ASYNCIO_TRACE_CALL_(task_done, t, err)
#endif
#ifndef ASYNCIO_TRACE_FLAG_SET
#define ASYNCIO_TRACE_FLAG_SET(f) ASYNCIO_TRACE_CALL_(flag_set, f)
#endif
#ifndef ASYNCIO_TRACE_IDLE_ENTER
#define ASYNCIO_TRACE_IDLE_ENTER(ms) ASYNCIO_TRACE_CALL_(idle_enter, ms)
#endif
#ifndef ASYNCIO_TRACE_IDLE_EXIT
#define ASYNCIO_TRACE_IDLE_EXIT()                                                                  \
    do {                                                                                           \
        const asyncio_trace_hooks *h_ = __atomic_load_n(&asyncio_trace_, __ATOMIC_ACQUIRE);        \
        if (h_ && h_->idle_exit)                                                                   \
            h_->idle_exit(h_->ctx);                                                                \
    } while (0)
#endif
#endif /* ASYNCIO_TRACE */
#ifndef ASYNCIO_TRACE_TASK_CREATED
#define ASYNCIO_TRACE_TASK_CREATED(t) ((void)0)
#endif
#ifndef ASYNCIO_TRACE_TASK_RESUMED
#define ASYNCIO_TRACE_TASK_RESUMED(t) ((void)0)
#endif
#ifndef ASYNCIO_TRACE_TASK_SUSPENDED
#define ASYNCIO_TRACE_TASK_SUSPENDED(t) ((void)0)
#endif
#ifndef ASYNCIO_TRACE_TASK_DONE
#define ASYNCIO_TRACE_TASK_DONE(t, err) ((void)0)
#endif
#ifndef ASYNCIO_TRACE_FLAG_SET
#define ASYNCIO_TRACE_FLAG_SET(f) ((void)0)
#endif
#ifndef ASYNCIO_TRACE_IDLE_ENTER
#define ASYNCIO_TRACE_IDLE_ENTER(ms) ((void)0)
#endif
#ifndef ASYNCIO_TRACE_IDLE_EXIT
#define ASYNCIO_TRACE_IDLE_EXIT() ((void)0)
#endif

/* asyncio_loop.work: the kinds of work that can wake a task. */
#define ASYNCIO_WORK_FLAGS_ 0x01u  /* tasks waiting on flags */
#define ASYNCIO_WORK_IO_ 0x02u     /* watched descriptors */
#define ASYNCIO_WORK_TIMERS_ 0x04u /* sleeping tasks */

/* Where a task is (asyncio_task.where). */
enum { ASYNCIO_IN_NONE_, ASYNCIO_IN_RUNQ_, ASYNCIO_IN_HEAP_, ASYNCIO_IN_WAITQ_ };

/* asyncio_task.flags */
#define ASYNCIO_F_RETRIEVED_ 0x02u /* its outcome was taken (no handler call) */
#define ASYNCIO_F_GATHERED_ 0x04u  /* done_to.gather is in use */
/* Which kind of wait queue holds it (two bits, one value each): */
#define ASYNCIO_F_QUEUE_KIND_ 0x18u
#define ASYNCIO_F_ON_TASK_ 0x08u  /* another task's awaiters */
#define ASYNCIO_F_ON_READ_ 0x10u  /* an asyncio_io's readers */
#define ASYNCIO_F_ON_WRITE_ 0x18u /* an asyncio_io's writers */
#define ASYNCIO_F_REINIT_ 0x20u   /* its frame was reset while it ran: end it (with F_CANCEL_) */
#define ASYNCIO_F_REPORT_ 0x40u   /* done, queued for its exception-handler pass */

struct asyncio_loop {
    asyncio_task *run_head, *run_tail; /* FIFO of runnable tasks (tail: while head is set) */
    asyncio_task *heap;                /* sleeping tasks, earliest first */
    asyncio_task *main;                /* run_until_complete returns when it ends */
    asyncio_link parked;               /* ring of every parked task but flag waiters */
    asyncio_link flag_waiters;         /* ring of the tasks waiting on a flag: the loop polls */
    unsigned io_watched;               /* descriptors the port watches */
    uint8_t work; /* ASYNCIO_WORK_*_: what may exist for the loop to look at (a hint: a bit
                     is set when its first item is added, cleared by the loop when it finds
                     none left) */
    asyncio_exception_handler handler;
    uint32_t seq;
    uint8_t gen;
    uint8_t running; /* claimed by one atomic exchange (asyncio_loop_claim_) */
    uint8_t closed, ready, stop_pending;
    uint8_t stall_reported;   /* ESTALL reported in this run */
    uint32_t stall_now;       /* the tick the clock stood at ... */
    uint32_t stall_rounds;    /* ... for this many rounds with a timer pending */
    asyncio_task *round_mark; /* run queue tail when the round began (compared only) */
    asyncio_task stopper;     /* run_forever runs until this one is scheduled */
    asyncio_coro stopper_co;
    /* gather's "a gathered task ended", set by gather itself: a program that
     * never gathers does not link it (the minimal app is 40 B smaller). */
    void (*gather_notify)(struct asyncio_gather_state *g, asyncio_task *t);
#ifdef ASYNCIO_CHECK_THREAD
    uintptr_t owner; /* the thread running the loop, 0 when not running */
#endif
};

static asyncio_loop asyncio_L_;
asyncio_task *asyncio_running_; /* the task running now (the macros read its flags) */

/* Is the loop running (possibly on another thread)? */
static int asyncio_loop_running_(void)
{
    return __atomic_load_n(&asyncio_L_.running, __ATOMIC_ACQUIRE);
}

#ifdef ASYNCIO_CHECK_THREAD
/* While the loop runs, is the caller another thread than the one running
 * it? (The owner is stored just after the claim and cleared just before
 * the release: a caller that sees it unset is another thread, too.) */
static int asyncio_wrong_thread_(void)
{
    return asyncio_loop_running_() &&
           __atomic_load_n(&asyncio_L_.owner, __ATOMIC_ACQUIRE) != asyncio_port_thread_id();
}
#define ASYNCIO_THREAD_CHECK_(ret)                                                                 \
    do {                                                                                           \
        if (asyncio_wrong_thread_())                                                               \
            return (ret);                                                                          \
    } while (0)
#define ASYNCIO_THREAD_CHECK_VOID_(name)                                                           \
    do {                                                                                           \
        if (asyncio_wrong_thread_()) {                                                             \
            ASYNCIO_THREAD_REPORT(name);                                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#else
#define ASYNCIO_THREAD_CHECK_(ret) ((void)0)
#define ASYNCIO_THREAD_CHECK_VOID_(name) ((void)0)
#endif

/* Claim the loop for a run: 1 if it was free. One atomic exchange, so two
 * threads starting a run at once cannot both get it. Cores without an
 * atomic exchange (ARMv6-M) use the port's critical section. */
static int asyncio_loop_claim_(void)
{
    int was;
#if defined(__ARM_ARCH_6M__) || defined(ASYNCIO_NO_ATOMIC_XCHG)
    uint32_t s = asyncio_port_critical_enter();
    was = asyncio_L_.running;
    asyncio_L_.running = 1;
    asyncio_port_critical_exit(s);
#else
    was = __atomic_exchange_n(&asyncio_L_.running, (uint8_t)1, __ATOMIC_ACQ_REL);
#endif
    if (was)
        return 0;
#ifdef ASYNCIO_CHECK_THREAD
    __atomic_store_n(&asyncio_L_.owner, asyncio_port_thread_id(), __ATOMIC_RELEASE);
#endif
    return 1;
}

static void asyncio_loop_release_(void)
{
#ifdef ASYNCIO_CHECK_THREAD
    __atomic_store_n(&asyncio_L_.owner, (uintptr_t)0, __ATOMIC_RELEASE);
#endif
    __atomic_store_n(&asyncio_L_.running, (uint8_t)0, __ATOMIC_RELEASE);
}

const char *asyncio_strerror(int err)
{
    switch (err) {
    case ASYNCIO_OK: return "ok";
    case ASYNCIO_ECANCELLED: return "cancelled";
    case ASYNCIO_ETIMEDOUT: return "timed out";
    case ASYNCIO_EEOF: return "end of stream";
    case ASYNCIO_ESELF: return "can't cancel self";
    case ASYNCIO_ECANTWAIT: return "can't wait";
    case ASYNCIO_ECANTGATHER: return "can't gather";
    case ASYNCIO_ENOLOOP: return "no running event loop";
    case ASYNCIO_EBUSY: return "busy";
    case ASYNCIO_ENOTHELD: return "Lock not acquired";
    case ASYNCIO_EOVERFLOW: return "ticks interval overflow";
    case ASYNCIO_EINVAL: return "invalid argument";
    case ASYNCIO_ECLOSED: return "closed";
    case ASYNCIO_ECORRUPT: return "coroutine state corrupted";
    case ASYNCIO_ESTATE: return "invalid state";
    case ASYNCIO_EREINIT: return "coroutine reset while running";
    case ASYNCIO_ETHREAD: return "not the loop's thread";
    case ASYNCIO_ESTALL: return "clock stalled";
    case ASYNCIO_ERETURN: return "plain return in a coroutine body";
    case ASYNCIO_EBREAK: return "break at a coroutine body's top level";
    case ASYNCIO_EQUEUEEMPTY: return "QueueEmpty";
    case ASYNCIO_EQUEUEFULL: return "QueueFull";
    case ASYNCIO_EOVERRELEASE: return "BoundedSemaphore released too many times";
    case ASYNCIO_ETASKDONE: return "task_done() called too many times";
    case ASYNCIO_EOVERRUN: return "overrun: a full ring dropped data";
    case ASYNCIO_ENOHOST: return "host not found";
    case ASYNCIO_ETLS: return "TLS error";
    case ASYNCIO_ETLS_NOCERT: return "TLS: no client certificate";
    case ASYNCIO_ETLS_VERIFY: return "TLS: certificate verification failed";
    case ASYNCIO_ETLS_ALERT: return "TLS: fatal alert from the peer";
    default: break;
    }
    if (err < 0 && err > -1000)
        return "OSError";
    return err <= ASYNCIO_EUSER(0) ? "application error" : "unknown error";
}

int asyncio_error_code_(int e) { return (e < 0 && e >= -32768) ? e : ASYNCIO_EINVAL; }

asyncio_coro *asyncio_coro_init(asyncio_coro *co, asyncio_fn fn)
{
    if (co) {
        co->fn = fn;
        co->child = NULL;
        co->value = 0;
        co->line = 0;
        co->err = 0;
    }
    return co;
}

uint32_t asyncio_ticks_ms(void) { return asyncio_port_ticks_ms(); }

/* ------------------------------------------------------------------------ */
/* Run queue: FIFO, singly linked                                           */
/* ------------------------------------------------------------------------ */

static void asyncio_runq_push_(asyncio_task *t)
{
    t->where = ASYNCIO_IN_RUNQ_;
    t->link.run.next = NULL;
    if (asyncio_L_.run_head)
        asyncio_L_.run_tail->link.run.next = t;
    else
        asyncio_L_.run_head = t;
    asyncio_L_.run_tail = t;
}

/* Unlink `t` from the run queue (O(n); only for storage being reused). */
static void asyncio_runq_remove_(asyncio_task *t)
{
    asyncio_task **link = &asyncio_L_.run_head, *prev = NULL;
    while (*link && *link != t) {
        prev = *link;
        link = &prev->link.run.next;
    }
    if (!*link)
        return;
    if (asyncio_L_.round_mark == t)
        asyncio_L_.round_mark = NULL;
    *link = t->link.run.next;
    if (asyncio_L_.run_tail == t)
        asyncio_L_.run_tail = prev;
    t->where = ASYNCIO_IN_NONE_;
}

/* run_tail is meaningful only while run_head is set: popping the last task
 * leaves it stale (push looks at run_head), one store fewer per step. */
static asyncio_task *asyncio_runq_pop_(void)
{
    asyncio_task *t = asyncio_L_.run_head;
    if (t) {
        asyncio_L_.run_head = t->link.run.next;
        t->where = ASYNCIO_IN_NONE_;
    }
    return t;
}

/* ------------------------------------------------------------------------ */
/* Timer heap: a pairing heap ordered by (wake tick, seq), so O(1) insert,  */
/* O(log n) amortised pop and delete, FIFO among equal wake ticks.          */
/* ------------------------------------------------------------------------ */

static int asyncio_heap_before_(const asyncio_task *a, const asyncio_task *b)
{
    int32_t d = asyncio_ticks_diff(a->aux.timer.key, b->aux.timer.key);
    return d < 0 || (d == 0 && (int32_t)(a->aux.timer.seq - b->aux.timer.seq) < 0);
}

/* Meld two heap roots; the later one becomes the first child of the other. */
static asyncio_task *asyncio_heap_meld_(asyncio_task *a, asyncio_task *b)
{
    asyncio_task *tmp;
    if (!a)
        return b;
    if (!b)
        return a;
    if (asyncio_heap_before_(b, a)) {
        tmp = a;
        a = b;
        b = tmp;
    }
    b->link.heap.prev = a;
    b->link.heap.sibling = a->link.heap.child;
    if (a->link.heap.child)
        a->link.heap.child->link.heap.prev = b;
    a->link.heap.child = b;
    return a;
}

/* Two-pass pairing of a sibling list into one heap. */
static asyncio_task *asyncio_heap_pair_(asyncio_task *first)
{
    asyncio_task *pairs = NULL, *root = NULL;
    while (first) {
        asyncio_task *a = first, *b = a->link.heap.sibling, *m;
        first = b ? b->link.heap.sibling : NULL;
        a->link.heap.sibling = a->link.heap.prev = NULL;
        if (b)
            b->link.heap.sibling = b->link.heap.prev = NULL;
        m = asyncio_heap_meld_(a, b);
        m->link.heap.sibling = pairs; /* stack of pairs, last first */
        pairs = m;
    }
    while (pairs) {
        asyncio_task *next = pairs->link.heap.sibling;
        pairs->link.heap.sibling = NULL;
        root = asyncio_heap_meld_(root, pairs);
        pairs = next;
    }
    return root;
}

static void asyncio_heap_push_(asyncio_task *t, uint32_t wake)
{
    t->where = ASYNCIO_IN_HEAP_;
    t->aux.timer.key = wake;
    t->aux.timer.seq = asyncio_L_.seq++;
    t->link.heap.child = t->link.heap.sibling = t->link.heap.prev = NULL;
    asyncio_L_.heap = asyncio_heap_meld_(asyncio_L_.heap, t);
    asyncio_L_.work |= ASYNCIO_WORK_TIMERS_;
}

static asyncio_task *asyncio_heap_pop_(void)
{
    asyncio_task *t = asyncio_L_.heap;
    asyncio_L_.heap = asyncio_heap_pair_(t->link.heap.child);
    if (!asyncio_L_.heap)
        asyncio_L_.round_mark = NULL; /* rounds are counted only with timers */
    t->link.heap.child = NULL;
    t->where = ASYNCIO_IN_NONE_;
    return t;
}

static void asyncio_heap_remove_(asyncio_task *t)
{
    asyncio_task *p = t->link.heap.prev, *sub;
    if (t == asyncio_L_.heap) {
        asyncio_heap_pop_();
        return;
    }
    if (p->link.heap.child == t)
        p->link.heap.child = t->link.heap.sibling;
    else
        p->link.heap.sibling = t->link.heap.sibling;
    if (t->link.heap.sibling)
        t->link.heap.sibling->link.heap.prev = p;
    sub = asyncio_heap_pair_(t->link.heap.child);
    t->link.heap.child = t->link.heap.sibling = t->link.heap.prev = NULL;
    asyncio_L_.heap = asyncio_heap_meld_(asyncio_L_.heap, sub);
    t->where = ASYNCIO_IN_NONE_;
}

/* ------------------------------------------------------------------------ */
/* Wait queues: a ring of tasks, O(1) append, pop and removal               */
/*                                                                          */
/* Every parked task (in any wait queue, or parked by gather) is also on    */
/* one of the loop's two rings, `parked`, or `flag_waiters` for a task      */
/* waiting on a flag (the ring the loop polls; doubly linked, the loop      */
/* holds the sentinels),                                                    */
/* threaded through the task's aux.parked link: the timer fields, unused    */
/* while it is parked, so the task stays 32 bytes on 32-bit targets.        */
/* Joining and leaving it is O(1), branch-free, and done here, inside       */
/* asyncio_waitq_push_ / _remove_ (and so _pop_, _wake_all_), and in        */
/* gather's park/notify: any primitive built on these helpers (Event, Lock, */
/* flag, task awaiters, I/O, Queue, Semaphore, ...) is covered with no      */
/* bookkeeping of its own. new_event_loop() and close() walk both rings:   */
/* each parked task is unlinked from its queue (a descriptor nobody waits   */
/* on any more is unwatched, as on any removal) and marked DROPPED, so no   */
/* object of the old loop keeps a pointer to it and nothing wakes it in the */
/* new loop.                                                                */
/* ------------------------------------------------------------------------ */

/* Join ring `head` (the parked ring, or flag_waiters) as its newest. */
static void asyncio_parked_add_(asyncio_task *t, asyncio_link *head)
{
    asyncio_link *l = &t->aux.parked;
    l->next = head->next;
    l->prev = head;
    head->next->prev = l;
    head->next = l;
}

static void asyncio_parked_del_(asyncio_task *t)
{
    asyncio_link *l = &t->aux.parked;
    l->prev->next = l->next;
    l->next->prev = l->prev;
}

/* The task of a ring link. */
static asyncio_task *asyncio_parked_task_(asyncio_link *l)
{
    return (asyncio_task *)(void *)((char *)l - offsetof(asyncio_task, aux.parked));
}

/* The newest task on ring `head`, or NULL. */
static asyncio_task *asyncio_parked_first_(asyncio_link *head)
{
    return head->next == head ? NULL : asyncio_parked_task_(head->next);
}

/* Append `t` to wait queue `q`; it joins ring `ring`. */
static void asyncio_waitq_push_on_(asyncio_waitq *q, asyncio_task *t, asyncio_link *ring)
{
    asyncio_task *tail = q->tail;
    asyncio_parked_add_(t, ring);
    t->where = ASYNCIO_IN_WAITQ_;
    t->link.wait.queue = q;
    if (!tail) {
        t->link.wait.next = t->link.wait.prev = t;
    } else {
        t->link.wait.next = tail->link.wait.next;
        t->link.wait.prev = tail;
        tail->link.wait.next->link.wait.prev = t;
        tail->link.wait.next = t;
    }
    q->tail = t;
}

static void asyncio_waitq_push_(asyncio_waitq *q, asyncio_task *t)
{
    asyncio_waitq_push_on_(q, t, &asyncio_L_.parked);
}

static void asyncio_waitq_remove_(asyncio_waitq *q, asyncio_task *t)
{
    if (t->link.wait.next == t) {
        q->tail = NULL;
    } else {
        t->link.wait.prev->link.wait.next = t->link.wait.next;
        t->link.wait.next->link.wait.prev = t->link.wait.prev;
        if (q->tail == t)
            q->tail = t->link.wait.prev;
    }
    asyncio_parked_del_(t);
    t->where = ASYNCIO_IN_NONE_;
    t->flags &= (uint8_t)~ASYNCIO_F_QUEUE_KIND_;
}

static asyncio_task *asyncio_waitq_pop_(asyncio_waitq *q)
{
    asyncio_task *head = q->tail ? q->tail->link.wait.next : NULL;
    if (head)
        asyncio_waitq_remove_(q, head);
    return head;
}

/* Move every waiter of `q`, in order, to the back of the run queue. */
static void asyncio_waitq_wake_all_(asyncio_waitq *q)
{
    asyncio_task *t;
    while ((t = asyncio_waitq_pop_(q)) != NULL)
        asyncio_runq_push_(t);
}

static int asyncio_io_rewatch_(asyncio_io *io);

/* The asyncio_io whose readers (kind ON_READ_) or writers (ON_WRITE_) queue
 * `q` is; NULL for any other kind of queue. */
static asyncio_io *asyncio_io_of_(asyncio_waitq *q, unsigned kind)
{
    if (kind == ASYNCIO_F_ON_READ_)
        return (asyncio_io *)(void *)((char *)q - offsetof(asyncio_io, readers));
    if (kind == ASYNCIO_F_ON_WRITE_)
        return (asyncio_io *)(void *)((char *)q - offsetof(asyncio_io, writers));
    return NULL;
}

/* Take `t` out of whichever queue holds it; a descriptor nobody waits on
 * any more is no longer watched. */
static void asyncio_unqueue_(asyncio_task *t)
{
    if (t->where == ASYNCIO_IN_HEAP_) {
        asyncio_heap_remove_(t);
    } else if (t->where == ASYNCIO_IN_WAITQ_ && t->link.wait.queue) {
        asyncio_io *io = asyncio_io_of_(t->link.wait.queue, t->flags & ASYNCIO_F_QUEUE_KIND_);
        asyncio_waitq_remove_(t->link.wait.queue, t);
        if (io)
            asyncio_io_rewatch_(io);
    } else if (t->where == ASYNCIO_IN_WAITQ_) {
        asyncio_parked_del_(t); /* parked by gather */
    }
    t->where = ASYNCIO_IN_NONE_;
}

/* Bring a parked task to the back of the run queue "now", as cancel() does:
 * a task already runnable (or whose wake tick has passed) keeps its place. */
static void asyncio_wake_now_(asyncio_task *t)
{
    if (t->where == ASYNCIO_IN_WAITQ_ ||
        (t->where == ASYNCIO_IN_HEAP_ &&
         asyncio_ticks_diff(t->aux.timer.key, asyncio_port_ticks_ms()) > 0)) {
        asyncio_unqueue_(t);
        asyncio_runq_push_(t);
    }
}

/* ------------------------------------------------------------------------ */
/* Tasks                                                                    */
/* ------------------------------------------------------------------------ */

static asyncio_loop *asyncio_ready_loop_(void)
{
    if (!asyncio_L_.ready) {
        asyncio_L_.parked.next = asyncio_L_.parked.prev = &asyncio_L_.parked;
        asyncio_L_.flag_waiters.next = asyncio_L_.flag_waiters.prev = &asyncio_L_.flag_waiters;
        asyncio_port_init();
        asyncio_L_.ready = 1;
    }
    return &asyncio_L_;
}

/* Created in this loop (pending or done), not dropped by new_event_loop
 * (the generation alone is not enough: it wraps after 256 loops). */
static int asyncio_task_of_loop_(const asyncio_task *t)
{
    return t && (t->state == ASYNCIO_TASK_PENDING || t->state == ASYNCIO_TASK_DONE) &&
           t->gen == asyncio_L_.gen;
}

/* Pending, and in this loop (not dropped by new_event_loop). */
static int asyncio_task_live_(const asyncio_task *t)
{
    return t->state == ASYNCIO_TASK_PENDING && t->gen == asyncio_L_.gen;
}

static void asyncio_task_start_(asyncio_task *t, asyncio_coro *coro)
{
    t->coro = coro;
    t->done_to.awaiters.tail = NULL;
    t->state = ASYNCIO_TASK_PENDING;
    t->flags = 0;
    t->gen = asyncio_L_.gen;
    t->where = ASYNCIO_IN_NONE_;
}

/* create_task(t, ctor(&frame)) while `t` still runs that very frame: the
 * constructor has already reset the frame's header (resume point, child),
 * so the task can no longer resume where it was. Rather than let it restart
 * silently from the top, end it with EREINIT (at its next step, or at its
 * next await if it is the caller) and report it now. */
static int asyncio_reinit_live_(asyncio_task *t)
{
    asyncio_context ctx;
    /* CANCEL too, so the hot paths test one bit, as for a cancellation. */
    t->flags |= ASYNCIO_F_REINIT_ | ASYNCIO_F_CANCEL_ | ASYNCIO_F_RETRIEVED_;
    if (t != asyncio_running_)
        asyncio_wake_now_(t);
    ctx.message = "create_task reset a running task's coroutine";
    ctx.error = ASYNCIO_EREINIT;
    ctx.task = t;
    asyncio_loop_call_exception_handler(&asyncio_L_, &ctx);
    return ASYNCIO_EREINIT;
}

int asyncio_create_task(asyncio_task *t, asyncio_coro *coro)
{
    asyncio_ready_loop_();
    ASYNCIO_THREAD_CHECK_(ASYNCIO_ETHREAD);
    if (!t || !coro || !coro->fn || coro->line != 0)
        return ASYNCIO_EINVAL;
    if (asyncio_L_.closed)
        return ASYNCIO_ECLOSED;
    if (asyncio_task_live_(t))
        return t->coro == coro ? asyncio_reinit_live_(t) : ASYNCIO_EBUSY;
    if (t->gen == asyncio_L_.gen && t->where == ASYNCIO_IN_RUNQ_) {
        /* Done, but queued for its exception-handler pass. */
        if (!(t->flags & ASYNCIO_F_RETRIEVED_))
            return ASYNCIO_EBUSY; /* its error has not been reported yet */
        asyncio_runq_remove_(t);
    }
    asyncio_task_start_(t, coro);
    asyncio_runq_push_(t);
    ASYNCIO_TRACE_TASK_CREATED(t);
    return ASYNCIO_OK;
}

int asyncio_loop_create_task(asyncio_loop *loop, asyncio_task *t, asyncio_coro *coro)
{
    return loop == &asyncio_L_ ? asyncio_create_task(t, coro) : ASYNCIO_EINVAL;
}

asyncio_task *asyncio_current_task(int *err)
{
    if (err)
        *err = asyncio_running_ ? ASYNCIO_OK : ASYNCIO_ENOLOOP;
    return asyncio_running_;
}

int asyncio_task_done(const asyncio_task *t) { return t && t->state == ASYNCIO_TASK_DONE; }

/* The task `t` is blocked on, when it waits for another task to end. */
static asyncio_task *asyncio_awaited_by_(const asyncio_task *t)
{
    if (t->where != ASYNCIO_IN_WAITQ_ || (t->flags & ASYNCIO_F_QUEUE_KIND_) != ASYNCIO_F_ON_TASK_)
        return NULL;
    return (asyncio_task *)(void *)((char *)t->link.wait.queue -
                                    offsetof(asyncio_task, done_to.awaiters));
}

/* Does `t` (transitively) wait for `target`, or is it `target`? */
static int asyncio_awaits_(const asyncio_task *t, const asyncio_task *target)
{
    for (; t; t = asyncio_awaited_by_(t))
        if (t == target)
            return 1;
    return 0;
}

int asyncio_task_cancel(asyncio_task *t)
{
    ASYNCIO_THREAD_CHECK_(ASYNCIO_ETHREAD);
    if (!t || t->state == ASYNCIO_TASK_NEW)
        return ASYNCIO_EINVAL;
    if (!asyncio_task_live_(t))
        return 0;
    if (t == asyncio_running_)
        return ASYNCIO_ESELF;
    /* Forward to the innermost task being awaited (awaits never form a
     * cycle: the await that would close one fails with ECANTWAIT). */
    while (asyncio_awaited_by_(t))
        t = asyncio_awaited_by_(t);
    asyncio_wake_now_(t);
    t->flags |= ASYNCIO_F_CANCEL_;
    return 1;
}

int asyncio_task_result(asyncio_task *t, asyncio_value *value)
{
    ASYNCIO_THREAD_CHECK_(ASYNCIO_ETHREAD);
    if (!t)
        return ASYNCIO_EINVAL;
    if (t->state != ASYNCIO_TASK_DONE)
        return ASYNCIO_ESTATE;
    t->flags |= ASYNCIO_F_RETRIEVED_;
    if (value)
        *value = t->coro->value;
    return t->coro->err;
}

/* A resume point where a coroutine waits (not unstarted, leaving or done). */
static int asyncio_suspended_at_(const asyncio_coro *co)
{
    return co && co->line != 0 && co->line < ASYNCIO_LINE_LEAVE;
}

unsigned asyncio_task_line(const asyncio_task *t)
{
    const asyncio_coro *co;
    if (!t || t->state != ASYNCIO_TASK_PENDING || !asyncio_suspended_at_(t->coro))
        return 0;
    co = t->coro;
    while (asyncio_suspended_at_(co->child)) /* a finished child is left behind */
        co = co->child;
    return co->line;
}

/* The task's body has ended with `err`: record it and tell whoever waits. */
static void asyncio_task_finish_(asyncio_task *t, int err)
{
    int awaited = (t == asyncio_L_.main);
    ASYNCIO_TRACE_TASK_DONE(t, err);
    t->state = ASYNCIO_TASK_DONE;
    t->flags &= (uint8_t)~ASYNCIO_F_CANCEL_;
    if (t->flags & ASYNCIO_F_GATHERED_) {
        asyncio_gather_state *g = t->done_to.gather;
        t->flags &= (uint8_t)~ASYNCIO_F_GATHERED_;
        t->done_to.awaiters.tail = NULL;
        asyncio_L_.gather_notify(g, t);
        awaited = 1;
    } else if (t->done_to.awaiters.tail) {
        asyncio_waitq_wake_all_(&t->done_to.awaiters);
        awaited = 1;
    }
    if (awaited) {
        t->flags |= ASYNCIO_F_RETRIEVED_;
    } else if (err != ASYNCIO_OK && err != ASYNCIO_ECANCELLED) {
        t->flags |= ASYNCIO_F_REPORT_;
        asyncio_runq_push_(t); /* one more pass, then the exception handler */
    }
}

/* A failed task nobody awaited comes round once more: report its error,
 * unless somebody retrieved it meanwhile. */
static void asyncio_report_(asyncio_task *t)
{
    asyncio_context ctx;
    if (t->flags & ASYNCIO_F_RETRIEVED_)
        return;
    t->flags |= ASYNCIO_F_RETRIEVED_;
    ctx.message = "Task exception wasn't retrieved";
    ctx.error = t->coro->err;
    ctx.task = t;
    asyncio_loop_call_exception_handler(&asyncio_L_, &ctx);
}

/* End a coroutine from outside its body with error `err`. */
static int asyncio_coro_abort_(asyncio_coro *co, int err)
{
    co->err = (int16_t)err;
    co->line = ASYNCIO_LINE_DONE;
    return err;
}

int asyncio_coro_finish(asyncio_coro *co, int err) { return asyncio_coro_abort_(co, err); }

/* A body returned something other than PENDING: fine if it ended through
 * ASYNC_END (resume point DONE); a plain `return` in the body leaves its
 * resume point behind, and the value and FINALLY would be lost silently. */
static int asyncio_coro_ended_(asyncio_coro *co, int r)
{
    if (co->line == ASYNCIO_LINE_DONE)
        return r;
    co->value = 0;
    return asyncio_coro_abort_(co, ASYNCIO_ERETURN);
}

/* Run one task for one step. Returns 1 when the main task has just ended.
 * One test of the flags keeps the rare cases (the report pass, a task
 * cancelled before it ever ran, a reset frame: F_REINIT_ comes with
 * F_CANCEL_) off the common path. */
static int asyncio_step_(asyncio_task *t)
{
    asyncio_coro *co = t->coro;
    int r;
    asyncio_running_ = t;
    ASYNCIO_TRACE_TASK_RESUMED(t);
    if (!(t->flags & (ASYNCIO_F_REPORT_ | ASYNCIO_F_CANCEL_))) {
        r = co->fn(co);
        if (r == ASYNCIO_YIELDED_ && !(t->flags & ASYNCIO_F_CANCEL_)) {
            ASYNCIO_TRACE_TASK_SUSPENDED(t);
            asyncio_runq_push_(t); /* sleep(0): back of the queue */
            return 0;
        }
    } else if (t->state == ASYNCIO_TASK_DONE) {
        t->flags &= (uint8_t)~ASYNCIO_F_REPORT_;
        asyncio_report_(t);
        return 0;
    } else if ((t->flags & ASYNCIO_F_CANCEL_) && co->line == 0) {
        /* cancelled before it ever ran, or its frame was re-initialised */
        r = asyncio_coro_abort_(co, (t->flags & ASYNCIO_F_REINIT_) ? ASYNCIO_EREINIT
                                                                   : ASYNCIO_ECANCELLED);
    } else {
        r = co->fn(co);
    }
    /* A yield with a cancellation waiting: resume at once to deliver it, as
     * the await would have at its start. */
    while (r == ASYNCIO_YIELDED_) {
        if (!(t->flags & ASYNCIO_F_CANCEL_)) {
            ASYNCIO_TRACE_TASK_SUSPENDED(t);
            asyncio_runq_push_(t);
            return 0;
        }
        r = co->fn(co);
    }
    if (r == ASYNCIO_PENDING) {
        ASYNCIO_TRACE_TASK_SUSPENDED(t);
        if (t->where != ASYNCIO_IN_NONE_)
            return 0;
        /* Suspended without parking anywhere: it would be lost forever. */
        r = asyncio_coro_abort_(co, ASYNCIO_ECORRUPT);
    }
    r = asyncio_coro_ended_(co, r);
    asyncio_task_finish_(t, r);
    return t == asyncio_L_.main;
}

/* ------------------------------------------------------------------------ */
/* Leaf awaits: start parks the current task, finish runs on resume          */
/* ------------------------------------------------------------------------ */

/* A cancellation (or a reset frame, F_REINIT_) reached the current task:
 * deliver it. A reset frame stays flagged: every later await fails too. */
static int asyncio_deliver_cancel_(asyncio_task *cur)
{
    if (cur->flags & ASYNCIO_F_REINIT_)
        return ASYNCIO_EREINIT;
    cur->flags &= (uint8_t)~ASYNCIO_F_CANCEL_;
    return ASYNCIO_ECANCELLED;
}

/* Before parking: there must be a running task, and a cancellation that
 * reached it while it ran is delivered here, at its next await. */
static int asyncio_park_check_(void)
{
    asyncio_task *cur = asyncio_running_;
    if (!cur)
        return ASYNCIO_ENOLOOP;
    if (cur->flags & ASYNCIO_F_CANCEL_)
        return asyncio_deliver_cancel_(cur);
    return ASYNCIO_OK;
}

/* On resume: was the task woken to receive a cancellation? */
int asyncio_resume_(void) { return asyncio_park_check_(); }

int asyncio_step_child_(asyncio_coro *child, asyncio_value *value)
{
    int r;
    if (!child || !child->fn)
        return ASYNCIO_EINVAL;
    r = child->fn(child);
    if (r != ASYNCIO_PENDING && r != ASYNCIO_YIELDED_) { /* ended (or a plain return) */
        r = asyncio_coro_ended_(child, r);
        *value = child->value;
    }
    return r;
}

int64_t asyncio_seconds_to_ms_(double seconds)
{
    double ms = seconds * 1000.0;
    if (!(ms == ms) || ms >= 9.0e18)
        return INT64_MAX; /* NaN or huge: an overflow error */
    if (ms <= -9.0e18)
        return -1;
    return (int64_t)ms; /* truncates toward zero, like int() */
}

int asyncio_sleep_ms_start_(int64_t ms)
{
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (ms > ASYNCIO_SLEEP_MAX_MS)
        return ASYNCIO_EOVERFLOW;
    /* ms > 0: asyncio_sleep_or_yield_() makes the rest a yield */
    asyncio_heap_push_(asyncio_running_, asyncio_ticks_add(asyncio_port_ticks_ms(), (int32_t)ms));
    return ASYNCIO_PENDING;
}

/* The outcome of a done task, as an await sees it. */
static int asyncio_task_outcome_(asyncio_task *t, asyncio_value *value)
{
    t->flags |= ASYNCIO_F_RETRIEVED_;
    *value = t->coro->value;
    return t->coro->err;
}

int asyncio_await_task_start_(asyncio_task *t, asyncio_value *value)
{
    asyncio_task *cur = asyncio_running_;
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!asyncio_task_of_loop_(t))
        return ASYNCIO_EINVAL;
    if (t->flags & ASYNCIO_F_GATHERED_ || asyncio_awaits_(t, cur))
        return ASYNCIO_ECANTWAIT; /* gathered, or awaiting it would close a cycle */
    if (t->state == ASYNCIO_TASK_DONE)
        return asyncio_task_outcome_(t, value);
    asyncio_waitq_push_(&t->done_to.awaiters, cur);
    cur->flags |= ASYNCIO_F_ON_TASK_;
    return ASYNCIO_PENDING;
}

int asyncio_await_task_finish_(asyncio_task *t, asyncio_value *value)
{
    int r = asyncio_resume_();
    return r ? r : asyncio_task_outcome_(t, value);
}

/* ------------------------------------------------------------------------ */
/* Event                                                                    */
/* ------------------------------------------------------------------------ */

void asyncio_event_init(asyncio_event *e)
{
    e->waiters.tail = NULL;
    e->is_set = 0;
}

void asyncio_event_set(asyncio_event *e)
{
    ASYNCIO_THREAD_CHECK_VOID_("asyncio_event_set");
    asyncio_waitq_wake_all_(&e->waiters);
    e->is_set = 1;
}

void asyncio_event_clear(asyncio_event *e)
{
    ASYNCIO_THREAD_CHECK_VOID_("asyncio_event_clear");
    e->is_set = 0;
}

int asyncio_event_is_set(const asyncio_event *e) { return e->is_set; }

int asyncio_event_wait_start_(asyncio_event *e)
{
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!e)
        return ASYNCIO_EINVAL;
    if (e->is_set)
        return ASYNCIO_OK;
    asyncio_waitq_push_(&e->waiters, asyncio_running_);
    return ASYNCIO_PENDING;
}

/* ------------------------------------------------------------------------ */
/* Lock: released straight to the head waiter (FIFO hand-off)               */
/* ------------------------------------------------------------------------ */

void asyncio_lock_init(asyncio_lock *l)
{
    l->waiters.tail = NULL;
    l->handed_to = NULL;
    l->locked = 0;
}

int asyncio_lock_locked(const asyncio_lock *l) { return l->locked; }

int asyncio_lock_release(asyncio_lock *l)
{
    asyncio_task *next;
    ASYNCIO_THREAD_CHECK_(ASYNCIO_ETHREAD);
    if (!l)
        return ASYNCIO_EINVAL;
    if (!l->locked)
        return ASYNCIO_ENOTHELD;
    l->locked = 0;
    next = asyncio_waitq_pop_(&l->waiters);
    if (next) {
        l->handed_to = next; /* still taken: acquire() by others blocks */
        asyncio_runq_push_(next);
    }
    return ASYNCIO_OK;
}

int asyncio_lock_acquire_start_(asyncio_lock *l, asyncio_value *result)
{
    (void)result;
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!l)
        return ASYNCIO_EINVAL;
    if (!l->locked && !l->handed_to) {
        l->locked = 1;
        return ASYNCIO_OK;
    }
    asyncio_waitq_push_(&l->waiters, asyncio_running_);
    return ASYNCIO_PENDING;
}

int asyncio_lock_acquire_finish_(asyncio_lock *l, asyncio_value *result)
{
    (void)result;
    int r = asyncio_resume_();
    int mine = (l->handed_to == asyncio_running_);
    if (mine) {
        l->handed_to = NULL;
        l->locked = 1;
    }
    if (r && mine)
        asyncio_ignore_(asyncio_lock_release(l)); /* cancelled after the hand-off: pass it on */
    return r;
}

/* ------------------------------------------------------------------------ */
/* ThreadSafeFlag                                                           */
/* ------------------------------------------------------------------------ */

void asyncio_flag_init(asyncio_flag *f)
{
    f->state = 0;
    f->waiters.tail = NULL;
    asyncio_ready_loop_(); /* the port can be woken before an IRQ/thread sets f */
}

void asyncio_flag_set(asyncio_flag *f)
{
    asyncio_flag_store_(f, 1);
    ASYNCIO_BARRIER_();
    ASYNCIO_TRACE_FLAG_SET(f);
    asyncio_port_wake();
}

void asyncio_flag_clear(asyncio_flag *f) { asyncio_flag_store_(f, 0); }

int asyncio_flag_wait_start_(asyncio_flag *f)
{
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!f)
        return ASYNCIO_EINVAL;
    if (f->waiters.tail)
        return ASYNCIO_EBUSY; /* one waiter only */
    if (asyncio_flag_take_(f))
        return ASYNCIO_OK;
    asyncio_waitq_push_on_(&f->waiters, asyncio_running_, &asyncio_L_.flag_waiters);
    asyncio_L_.work |= ASYNCIO_WORK_FLAGS_;
    return ASYNCIO_PENDING;
}

int asyncio_flag_wait_finish_(asyncio_flag *f, asyncio_value *result)
{
    (void)result;
    if (!asyncio_running_)
        return ASYNCIO_ENOLOOP;
    return asyncio_flag_resumed_(f);
}

/* Wake the tasks whose flag was set, oldest waiter first. The loop polls
 * the waiters, not the flags: it never holds a pointer to a flag nobody
 * waits on, so a flag can go away as soon as its waiter is done with it.
 * With none left, the loop stops looking (clears ASYNCIO_WORK_FLAGS_). */
static void asyncio_poll_flags_(void)
{
    asyncio_link *ring = &asyncio_L_.flag_waiters, *l = ring->prev;
    if (l == ring)
        asyncio_L_.work &= (uint8_t)~ASYNCIO_WORK_FLAGS_;
    while (l != ring) {
        asyncio_task *t = asyncio_parked_task_(l);
        asyncio_waitq *q = t->link.wait.queue; /* its flag's `waiters` */
        asyncio_flag *f = (asyncio_flag *)(void *)((char *)q - offsetof(asyncio_flag, waiters));
        l = l->prev;
        if (__atomic_load_n(&f->state, ASYNCIO_ACQUIRE_)) {
            ASYNCIO_BARRIER_();
            /* asyncio_waitq_remove_ for a queue of one task that is in no
             * kind-tagged queue (flag waiters never are): runq_push_ sets
             * `where`. On the interrupt-to-task path, hence by hand. */
            q->tail = NULL;
            asyncio_parked_del_(t);
            asyncio_runq_push_(t);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Queue, Semaphore, Condition, interrupt-safe queue; coroutine objects     */
/* ------------------------------------------------------------------------ */

/* asyncio_task.flags: woken by a hand-off (an item made available, a permit
 * given), not yet resumed. Its finish tells a cancelled waiter that was
 * handed something (and must pass it on) from one cancelled while waiting. */
#define ASYNCIO_F_HANDED_ 0x80u

/* Wake the first waiter of `q` with a hand-off. Returns it, or NULL. */
static asyncio_task *asyncio_waitq_hand_(asyncio_waitq *q)
{
    asyncio_task *t = asyncio_waitq_pop_(q);
    if (t) {
        t->flags |= ASYNCIO_F_HANDED_;
        asyncio_runq_push_(t);
    }
    return t;
}

/* On resume: was the current task woken by a hand-off? (clears the mark) */
static int asyncio_handed_take_(void)
{
    asyncio_task *cur = asyncio_running_;
    int handed = cur && (cur->flags & ASYNCIO_F_HANDED_);
    if (cur)
        cur->flags &= (uint8_t)~ASYNCIO_F_HANDED_;
    return handed;
}

/* Park the current task in `q` again (a finish that must wait once more). */
static int asyncio_repark_(asyncio_waitq *q)
{
    asyncio_waitq_push_(q, asyncio_running_);
    return ASYNCIO_PENDING;
}

/* ---- coroutine objects: one leaf await each ---- */

static int asyncio_op_event_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_EVENT((asyncio_event *)op->obj);
    ASYNCIO_RETURN(1);
    ASYNCIO_END;
}

static int asyncio_op_lock_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_LOCK((asyncio_lock *)op->obj);
    ASYNCIO_RETURN(1);
    ASYNCIO_END;
}

static int asyncio_op_flag_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_FLAG((asyncio_flag *)op->obj);
    ASYNCIO_END;
}

static int asyncio_op_sleep_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    if (op->arg < 0)
        ASYNCIO_RAISE(ASYNCIO_EOVERFLOW);
    ASYNCIO_AWAIT_SLEEP_MS(op->arg);
    ASYNCIO_END;
}

static int asyncio_op_queue_get_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_QUEUE_GET((asyncio_queue *)op->obj);
    ASYNCIO_RETURN(ASYNCIO_AWAIT_RESULT);
    ASYNCIO_END;
}

static int asyncio_op_queue_put_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_QUEUE_PUT((asyncio_queue *)op->obj, op->arg);
    ASYNCIO_END;
}

static int asyncio_op_queue_join_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_QUEUE_JOIN((asyncio_queue *)op->obj);
    ASYNCIO_END;
}

static int asyncio_op_semaphore_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_SEMAPHORE((asyncio_semaphore *)op->obj);
    ASYNCIO_RETURN(1);
    ASYNCIO_END;
}

static int asyncio_op_isr_queue_fn_(asyncio_coro *co)
{
    asyncio_op *op = (asyncio_op *)(void *)co;
    ASYNCIO_BEGIN(co);
    ASYNCIO_AWAIT_ISR_QUEUE_GET((asyncio_isr_queue *)op->obj);
    ASYNCIO_RETURN(ASYNCIO_AWAIT_RESULT);
    ASYNCIO_END;
}

static asyncio_coro *asyncio_op_init_(asyncio_op *op, asyncio_fn fn, void *obj, asyncio_value arg)
{
    if (!op)
        return NULL;
    op->obj = obj;
    op->arg = arg;
    return asyncio_coro_init(&op->co, fn);
}

asyncio_coro *asyncio_event_wait(asyncio_op *op, asyncio_event *e)
{
    return asyncio_op_init_(op, asyncio_op_event_fn_, e, 0);
}

asyncio_coro *asyncio_lock_acquire(asyncio_op *op, asyncio_lock *l)
{
    return asyncio_op_init_(op, asyncio_op_lock_fn_, l, 0);
}

asyncio_coro *asyncio_flag_wait(asyncio_op *op, asyncio_flag *f)
{
    return asyncio_op_init_(op, asyncio_op_flag_fn_, f, 0);
}

asyncio_coro *asyncio_sleep_ms(asyncio_op *op, int64_t ms)
{
    asyncio_value v = ms > ASYNCIO_SLEEP_MAX_MS ? -1 : ms < 0 ? 0 : (asyncio_value)ms;
    return asyncio_op_init_(op, asyncio_op_sleep_fn_, NULL, v);
}

asyncio_coro *asyncio_sleep(asyncio_op *op, double seconds)
{
    return asyncio_sleep_ms(op, asyncio_seconds_to_ms_(seconds));
}

asyncio_coro *asyncio_queue_get(asyncio_op *op, asyncio_queue *q)
{
    return asyncio_op_init_(op, asyncio_op_queue_get_fn_, q, 0);
}

asyncio_coro *asyncio_queue_put(asyncio_op *op, asyncio_queue *q, asyncio_value item)
{
    return asyncio_op_init_(op, asyncio_op_queue_put_fn_, q, item);
}

asyncio_coro *asyncio_queue_join(asyncio_op *op, asyncio_queue *q)
{
    return asyncio_op_init_(op, asyncio_op_queue_join_fn_, q, 0);
}

asyncio_coro *asyncio_semaphore_acquire(asyncio_op *op, asyncio_semaphore *s)
{
    return asyncio_op_init_(op, asyncio_op_semaphore_fn_, s, 0);
}

asyncio_coro *asyncio_condition_acquire(asyncio_op *op, asyncio_condition *c)
{
    return asyncio_lock_acquire(op, asyncio_condition_lock_(c));
}

asyncio_coro *asyncio_isr_queue_get(asyncio_op *op, asyncio_isr_queue *q)
{
    return asyncio_op_init_(op, asyncio_op_isr_queue_fn_, q, 0);
}

/* ---- Queue ---- */

enum { ASYNCIO_QUEUE_FIFO_, ASYNCIO_QUEUE_LIFO_, ASYNCIO_QUEUE_PRIORITY_ };

static int asyncio_queue_init_(asyncio_queue *q, asyncio_value *buf, size_t maxsize, uint8_t kind)
{
    if (!q || !buf || maxsize == 0 || maxsize > 0x7FFFFFFFu)
        return ASYNCIO_EINVAL;
    q->getters.tail = q->putters.tail = NULL;
    asyncio_event_init(&q->finished);
    asyncio_event_set(&q->finished);
    q->buf = buf;
    q->cmp = NULL;
    q->maxsize = (uint32_t)maxsize;
    q->head = q->count = q->unfinished = 0;
    q->kind = kind;
    return ASYNCIO_OK;
}

int asyncio_queue_init(asyncio_queue *q, asyncio_value *buf, size_t maxsize)
{
    return asyncio_queue_init_(q, buf, maxsize, ASYNCIO_QUEUE_FIFO_);
}

int asyncio_lifo_queue_init(asyncio_queue *q, asyncio_value *buf, size_t maxsize)
{
    return asyncio_queue_init_(q, buf, maxsize, ASYNCIO_QUEUE_LIFO_);
}

int asyncio_priority_queue_init(asyncio_queue *q, asyncio_value *buf, size_t maxsize,
                                int (*cmp)(asyncio_value a, asyncio_value b))
{
    int r = asyncio_queue_init_(q, buf, maxsize, ASYNCIO_QUEUE_PRIORITY_);
    if (r == ASYNCIO_OK)
        q->cmp = cmp;
    return r;
}

size_t asyncio_queue_qsize(const asyncio_queue *q) { return q ? q->count : 0; }
int asyncio_queue_empty(const asyncio_queue *q) { return !q || q->count == 0; }
int asyncio_queue_full(const asyncio_queue *q) { return q && q->count >= q->maxsize; }
size_t asyncio_queue_maxsize(const asyncio_queue *q) { return q ? q->maxsize : 0; }

static int asyncio_queue_before_(const asyncio_queue *q, asyncio_value a, asyncio_value b)
{
    return q->cmp ? q->cmp(a, b) < 0 : a < b;
}

/* The ring's _put / _get, by kind (the caller checked full / empty). */
static void asyncio_queue_push_(asyncio_queue *q, asyncio_value v)
{
    uint32_t i = q->count++;
    if (q->kind != ASYNCIO_QUEUE_PRIORITY_) {
        q->buf[(q->head + i) % q->maxsize] = v;
        return;
    }
    while (i > 0 && asyncio_queue_before_(q, v, q->buf[(i - 1) / 2])) { /* sift up */
        q->buf[i] = q->buf[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->buf[i] = v;
}

static asyncio_value asyncio_queue_pop_(asyncio_queue *q)
{
    asyncio_value v, last;
    uint32_t i = 0, n;
    if (q->kind == ASYNCIO_QUEUE_LIFO_)
        return q->buf[(q->head + --q->count) % q->maxsize];
    if (q->kind == ASYNCIO_QUEUE_FIFO_) {
        v = q->buf[q->head];
        q->head = (q->head + 1) % q->maxsize;
        q->count--;
        return v;
    }
    v = q->buf[0];
    n = --q->count;
    last = q->buf[n];
    for (;;) { /* sift the last item down from the root */
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && asyncio_queue_before_(q, q->buf[c + 1], q->buf[c]))
            c++;
        if (!asyncio_queue_before_(q, q->buf[c], last))
            break;
        q->buf[i] = q->buf[c];
        i = c;
    }
    q->buf[i] = last;
    return v;
}

int asyncio_queue_put_nowait(asyncio_queue *q, asyncio_value item)
{
    if (!q)
        return ASYNCIO_EINVAL;
    if (q->count >= q->maxsize)
        return ASYNCIO_EQUEUEFULL;
    asyncio_queue_push_(q, item);
    q->unfinished++;
    asyncio_event_clear(&q->finished);
    asyncio_waitq_hand_(&q->getters);
    return ASYNCIO_OK;
}

int asyncio_queue_get_nowait(asyncio_queue *q, asyncio_value *item)
{
    asyncio_value v;
    if (!q)
        return ASYNCIO_EINVAL;
    if (q->count == 0)
        return ASYNCIO_EQUEUEEMPTY;
    v = asyncio_queue_pop_(q);
    if (item)
        *item = v;
    asyncio_waitq_hand_(&q->putters);
    return ASYNCIO_OK;
}

int asyncio_queue_task_done(asyncio_queue *q)
{
    if (!q)
        return ASYNCIO_EINVAL;
    if (q->unfinished == 0)
        return ASYNCIO_ETASKDONE;
    if (--q->unfinished == 0)
        asyncio_event_set(&q->finished);
    return ASYNCIO_OK;
}

int asyncio_queue_get_start_(asyncio_queue *q, asyncio_value *item)
{
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!q)
        return ASYNCIO_EINVAL;
    if (q->count)
        return asyncio_queue_get_nowait(q, item);
    return asyncio_repark_(&q->getters);
}

int asyncio_queue_get_finish_(asyncio_queue *q, asyncio_value *item)
{
    int handed = asyncio_handed_take_();
    int r = asyncio_resume_();
    if (r) {
        if (handed && q->count) /* woken for an item, but cancelled: pass it on */
            asyncio_waitq_hand_(&q->getters);
        return r;
    }
    if (q->count == 0)
        return asyncio_repark_(&q->getters); /* somebody took it first */
    return asyncio_queue_get_nowait(q, item);
}

int asyncio_queue_put_start_(asyncio_queue *q, asyncio_value item)
{
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!q)
        return ASYNCIO_EINVAL;
    if (q->count < q->maxsize)
        return asyncio_queue_put_nowait(q, item);
    return asyncio_repark_(&q->putters);
}

int asyncio_queue_put_finish_(asyncio_queue *q, asyncio_value item)
{
    int handed = asyncio_handed_take_();
    int r = asyncio_resume_();
    if (r) {
        if (handed && q->count < q->maxsize) /* woken for a slot, but cancelled */
            asyncio_waitq_hand_(&q->putters);
        return r;
    }
    if (q->count >= q->maxsize)
        return asyncio_repark_(&q->putters); /* somebody filled it first */
    return asyncio_queue_put_nowait(q, item);
}

int asyncio_queue_join_start_(asyncio_queue *q)
{
    return q ? asyncio_event_wait_start_(&q->finished) : ASYNCIO_EINVAL;
}

/* ---- Semaphore ---- */

void asyncio_semaphore_init(asyncio_semaphore *s, uint32_t value)
{
    s->waiters.tail = NULL;
    s->value = s->bound = value;
    s->handed = 0;
    s->bounded = 0;
}

void asyncio_bounded_semaphore_init(asyncio_semaphore *s, uint32_t value)
{
    asyncio_semaphore_init(s, value);
    s->bounded = 1;
}

int asyncio_semaphore_locked(const asyncio_semaphore *s)
{
    return s->value == 0 || s->waiters.tail || s->handed;
}

uint32_t asyncio_semaphore_value(const asyncio_semaphore *s) { return s->value; }

/* Give a permit to the first waiter, if any (CPython's _wake_up_next). */
static void asyncio_semaphore_wake_next_(asyncio_semaphore *s)
{
    if (asyncio_waitq_hand_(&s->waiters)) {
        s->value--;
        s->handed++;
    }
}

int asyncio_semaphore_release(asyncio_semaphore *s)
{
    if (!s)
        return ASYNCIO_EINVAL;
    if (s->bounded && s->value >= s->bound)
        return ASYNCIO_EOVERRELEASE;
    s->value++;
    asyncio_semaphore_wake_next_(s);
    return ASYNCIO_OK;
}

int asyncio_semaphore_acquire_start_(asyncio_semaphore *s)
{
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!s)
        return ASYNCIO_EINVAL;
    if (!asyncio_semaphore_locked(s)) {
        s->value--;
        return ASYNCIO_OK;
    }
    return asyncio_repark_(&s->waiters);
}

int asyncio_semaphore_acquire_finish_(asyncio_semaphore *s)
{
    int handed = asyncio_handed_take_();
    int r = asyncio_resume_();
    if (handed)
        s->handed--;
    if (r) {
        if (handed) { /* given a permit, but cancelled: give it back, pass it on */
            s->value++;
            asyncio_semaphore_wake_next_(s);
        }
        return r;
    }
    if (s->value > 0)
        asyncio_semaphore_wake_next_(s);
    return ASYNCIO_OK;
}

/* ---- Condition ---- */

void asyncio_condition_init(asyncio_condition *c, asyncio_lock *lock)
{
    c->waiters.tail = NULL;
    asyncio_lock_init(&c->own);
    c->lock = lock ? lock : &c->own;
}

asyncio_lock *asyncio_condition_lock_(asyncio_condition *c) { return c ? c->lock : NULL; }

int asyncio_condition_locked(const asyncio_condition *c) { return asyncio_lock_locked(c->lock); }

int asyncio_condition_release(asyncio_condition *c)
{
    return c ? asyncio_lock_release(c->lock) : ASYNCIO_EINVAL;
}

int asyncio_condition_notify(asyncio_condition *c, size_t n)
{
    if (!c)
        return ASYNCIO_EINVAL;
    if (!asyncio_lock_locked(c->lock))
        return ASYNCIO_ENOTHELD;
    for (; n > 0 && asyncio_waitq_hand_(&c->waiters); n--) {
    }
    return ASYNCIO_OK;
}

int asyncio_condition_notify_all(asyncio_condition *c)
{
    return asyncio_condition_notify(c, SIZE_MAX);
}

static int asyncio_condition_park_start_(asyncio_condition *c)
{
    int r = asyncio_park_check_();
    return r ? r : asyncio_repark_(&c->waiters);
}

static int asyncio_condition_wait_fn_(asyncio_coro *co)
{
    asyncio_condition_wait_state *w = (asyncio_condition_wait_state *)(void *)co;
    asyncio_value v;
    ASYNCIO_BEGIN(co);
    if (!w->c)
        ASYNCIO_RAISE(ASYNCIO_EINVAL);
    for (;;) {
        if (w->pred && (v = w->pred(w->arg)) != 0)
            ASYNCIO_RETURN(v); /* wait_for: the predicate holds */
        if (!asyncio_lock_locked(w->c->lock))
            ASYNCIO_RAISE(ASYNCIO_ENOTHELD); /* cannot wait on un-acquired lock */
        asyncio_lock_release(w->c->lock);
        ASYNCIO_TRY(ASYNCIO_AWAIT_LEAF_(asyncio_condition_park_start_(w->c), ASYNCIO_RESUMED_()));
        w->err = ASYNCIO_AWAIT_ERROR;
        asyncio_handed_take_(); /* notified or not: nothing to pass on (CPython 3.11) */
        do {                    /* re-acquire the lock, even when cancelled (then again) */
            ASYNCIO_TRY(ASYNCIO_AWAIT_LOCK(w->c->lock));
            if (ASYNCIO_AWAIT_ERROR && ASYNCIO_AWAIT_ERROR != ASYNCIO_ECANCELLED)
                ASYNCIO_RAISE(ASYNCIO_AWAIT_ERROR);
            if (ASYNCIO_AWAIT_ERROR)
                w->err = ASYNCIO_AWAIT_ERROR;
        } while (ASYNCIO_AWAIT_ERROR);
        if (w->err)
            ASYNCIO_RAISE(w->err); /* holding the lock */
        if (!w->pred)
            ASYNCIO_RETURN(1);
    }
    ASYNCIO_END;
}

asyncio_coro *asyncio_condition_wait_for(asyncio_condition_wait_state *w, asyncio_condition *c,
                                         int (*pred)(void *arg), void *arg)
{
    if (!w)
        return NULL;
    w->c = c;
    w->pred = pred;
    w->arg = arg;
    w->err = 0;
    return asyncio_coro_init(&w->co, asyncio_condition_wait_fn_);
}

asyncio_coro *asyncio_condition_wait(asyncio_condition_wait_state *w, asyncio_condition *c)
{
    return asyncio_condition_wait_for(w, c, NULL, NULL);
}

/* ---- Interrupt-safe queue: single producer, single consumer ---- */

int asyncio_isr_queue_init(asyncio_isr_queue *q, asyncio_value *buf, size_t size)
{
    if (!q || !buf || size == 0 || size > 0x7FFFFFFFu)
        return ASYNCIO_EINVAL;
    asyncio_flag_init(&q->flag);
    q->buf = buf;
    q->size = (uint32_t)size;
    q->head = q->tail = q->dropped = q->drop_at = q->reported = 0;
    return ASYNCIO_OK;
}

int asyncio_isr_queue_put(asyncio_isr_queue *q, asyncio_value item)
{
    uint32_t h = __atomic_load_n(&q->head, __ATOMIC_RELAXED); /* ours */
    uint32_t t = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
    if (h - t >= q->size) {
        uint32_t d = __atomic_load_n(&q->dropped, __ATOMIC_RELAXED); /* ours */
        if (d == __atomic_load_n(&q->reported, __ATOMIC_ACQUIRE))
            __atomic_store_n(&q->drop_at, h, __ATOMIC_RELAXED); /* first unreported */
        __atomic_store_n(&q->dropped, d + 1, __ATOMIC_RELEASE);
        asyncio_flag_set(&q->flag);
        return ASYNCIO_EQUEUEFULL;
    }
    q->buf[h % q->size] = item; /* the slot is ours until head moves past it */
    __atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE);
    asyncio_flag_set(&q->flag);
    return ASYNCIO_OK;
}

int asyncio_isr_queue_get_nowait(asyncio_isr_queue *q, asyncio_value *item)
{
    uint32_t t, d;
    if (!q)
        return ASYNCIO_EINVAL;
    t = __atomic_load_n(&q->tail, __ATOMIC_RELAXED); /* ours */
    d = __atomic_load_n(&q->dropped, __ATOMIC_ACQUIRE);
    /* Report drops where they happened: once every item put before them has
     * been taken. */
    if (d != q->reported && (int32_t)(t - __atomic_load_n(&q->drop_at, __ATOMIC_RELAXED)) >= 0) {
        __atomic_store_n(&q->reported, d, __ATOMIC_RELEASE);
        return ASYNCIO_EOVERRUN;
    }
    if (t == __atomic_load_n(&q->head, __ATOMIC_ACQUIRE))
        return ASYNCIO_EQUEUEEMPTY;
    if (item)
        *item = q->buf[t % q->size];
    __atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE); /* the slot is free again */
    return ASYNCIO_OK;
}

uint32_t asyncio_isr_queue_dropped(const asyncio_isr_queue *q)
{
    return __atomic_load_n(&q->dropped, __ATOMIC_ACQUIRE);
}

size_t asyncio_isr_queue_qsize(const asyncio_isr_queue *q)
{
    uint32_t t = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) - t;
}

/* Take an item, or park on the flag. The producer stores the item, then sets
 * the flag; we clear the flag (taking it), then look again: no wake-up is
 * lost in between. */
static int asyncio_isr_queue_take_or_park_(asyncio_isr_queue *q, asyncio_value *item)
{
    for (;;) {
        int r = asyncio_isr_queue_get_nowait(q, item);
        if (r != ASYNCIO_EQUEUEEMPTY)
            return r;
        r = asyncio_flag_wait_start_(&q->flag);
        if (r != ASYNCIO_OK)
            return r; /* parked (PENDING), or an error */
    }
}

int asyncio_isr_queue_get_start_(asyncio_isr_queue *q, asyncio_value *item)
{
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!q)
        return ASYNCIO_EINVAL;
    if (q->flag.waiters.tail)
        return ASYNCIO_EBUSY; /* one getter only */
    return asyncio_isr_queue_take_or_park_(q, item);
}

int asyncio_isr_queue_get_finish_(asyncio_isr_queue *q, asyncio_value *item)
{
    int r = asyncio_flag_wait_finish_(&q->flag, item);
    return r ? r : asyncio_isr_queue_take_or_park_(q, item);
}

/* ------------------------------------------------------------------------ */
/* I/O readiness                                                            */
/* ------------------------------------------------------------------------ */

void asyncio_io_init(asyncio_io *io, int fd)
{
    io->readers.tail = io->writers.tail = NULL;
    io->fd = fd;
    io->watching = 0;
    io->port = 0;
}

/* Ask the port to watch exactly the events somebody waits for. */
static int asyncio_io_rewatch_(asyncio_io *io)
{
    unsigned want =
        (io->readers.tail ? ASYNCIO_IO_READ : 0u) | (io->writers.tail ? ASYNCIO_IO_WRITE : 0u);
    int r = ASYNCIO_OK;
    if (want == io->watching)
        return r;
    r = asyncio_port_io_watch(io, want);
    if (r == ASYNCIO_OK) {
        asyncio_L_.io_watched += (want != 0) - (io->watching != 0);
        asyncio_L_.work |= ASYNCIO_WORK_IO_;
        io->watching = (uint8_t)want;
    }
    return r;
}

int asyncio_io_wait_start_(asyncio_io *io, unsigned events)
{
    asyncio_waitq *q;
    int r = asyncio_park_check_();
    if (r)
        return r;
    if (!io || (events != ASYNCIO_IO_READ && events != ASYNCIO_IO_WRITE))
        return ASYNCIO_EINVAL;
    q = events == ASYNCIO_IO_READ ? &io->readers : &io->writers;
    asyncio_waitq_push_(q, asyncio_running_);
    asyncio_running_->flags |= events == ASYNCIO_IO_READ ? ASYNCIO_F_ON_READ_ : ASYNCIO_F_ON_WRITE_;
    r = asyncio_io_rewatch_(io);
    if (r) {
        asyncio_waitq_remove_(q, asyncio_running_);
        return r;
    }
    return ASYNCIO_PENDING;
}

void asyncio_io_ready(asyncio_io *io, unsigned events)
{
    if (events & ASYNCIO_IO_READ)
        asyncio_waitq_wake_all_(&io->readers);
    if (events & ASYNCIO_IO_WRITE)
        asyncio_waitq_wake_all_(&io->writers);
    asyncio_io_rewatch_(io);
}

void asyncio_io_forget(asyncio_io *io) { asyncio_io_ready(io, ASYNCIO_IO_READ | ASYNCIO_IO_WRITE); }

/* ------------------------------------------------------------------------ */
/* gather                                                                   */
/* ------------------------------------------------------------------------ */

/* Park the current task until something moves it (gather's wait); a
 * cancellation that reached it while it ran is delivered instead. */
static int asyncio_park_(void)
{
    asyncio_task *cur = asyncio_running_;
    int r = asyncio_park_check_();
    if (r)
        return r;
    asyncio_parked_add_(cur, &asyncio_L_.parked);
    cur->where = ASYNCIO_IN_WAITQ_;
    cur->link.wait.queue = NULL;
    return ASYNCIO_PENDING;
}

static int asyncio_gather_parked_(const asyncio_gather_state *g)
{
    return g->waiter->where == ASYNCIO_IN_WAITQ_ && !g->waiter->link.wait.queue;
}

/* A gathered task ended: wake the gatherer on the first error (unless
 * return_exceptions) or when the last one ends. */
static void asyncio_gather_notify_(asyncio_gather_state *g, asyncio_task *t)
{
    if (!asyncio_gather_parked_(g))
        return; /* already woken: by an earlier error, or cancelled */
    if (!g->return_exceptions && t->coro->err != ASYNCIO_OK)
        g->err = t->coro->err;
    else if (--g->remaining)
        return;
    asyncio_parked_del_(g->waiter);
    asyncio_runq_push_(g->waiter);
}

/* Take the outcomes of the tasks that ended; let go of the others
 * (cancelling them if the gatherer was cancelled). */
static void asyncio_gather_collect_(asyncio_gather_state *g, int cancel_rest)
{
    size_t i;
    for (i = 0; i < g->n; i++) {
        asyncio_task *t = g->tasks[i];
        if ((t->flags & ASYNCIO_F_GATHERED_) && t->done_to.gather == g) {
            t->flags &= (uint8_t)~ASYNCIO_F_GATHERED_;
            t->done_to.awaiters.tail = NULL;
            g->out[i].value = 0;
            g->out[i].err = ASYNCIO_ESTATE;
            if (cancel_rest)
                asyncio_ignore_(asyncio_task_cancel(t));
        } else {
            g->out[i].err = asyncio_task_outcome_(t, &g->out[i].value);
        }
    }
}

/* Check the tasks and hook the pending ones to this gather. */
static int asyncio_gather_register_(asyncio_gather_state *g)
{
    size_t i;
    for (i = 0; i < g->n; i++) {
        asyncio_task *t = g->tasks[i];
        if (!asyncio_task_of_loop_(t))
            return ASYNCIO_EINVAL;
        if ((t->flags & ASYNCIO_F_GATHERED_) ||
            (t->state == ASYNCIO_TASK_PENDING && t->done_to.awaiters.tail))
            return ASYNCIO_ECANTGATHER;
    }
    g->remaining = 0;
    g->err = ASYNCIO_OK;
    g->waiter = asyncio_running_;
    asyncio_L_.gather_notify = asyncio_gather_notify_;
    for (i = 0; i < g->n; i++) {
        asyncio_task *t = g->tasks[i];
        if (t->state == ASYNCIO_TASK_DONE) {
            if (!g->return_exceptions && t->coro->err != ASYNCIO_OK && g->err == ASYNCIO_OK)
                g->err = t->coro->err;
            continue;
        }
        if (t->flags & ASYNCIO_F_GATHERED_) {
            /* The same pending task twice: can't gather; let go of the
             * tasks hooked so far (they would wait for this gather). */
            while (i--) {
                t = g->tasks[i];
                if ((t->flags & ASYNCIO_F_GATHERED_) && t->done_to.gather == g) {
                    t->flags &= (uint8_t)~ASYNCIO_F_GATHERED_;
                    t->done_to.awaiters.tail = NULL;
                }
            }
            return ASYNCIO_ECANTGATHER;
        }
        t->flags |= ASYNCIO_F_GATHERED_;
        t->done_to.gather = g;
        g->remaining++;
    }
    return ASYNCIO_OK;
}

static int asyncio_gather_fn_(asyncio_coro *co)
{
    asyncio_gather_state *g = (asyncio_gather_state *)(void *)co;
    ASYNCIO_BEGIN(co);
    if (g->n == 0)
        ASYNCIO_RETURN(0); /* gather() with no tasks: [] at once */
    if (!g->tasks || !g->out)
        ASYNCIO_RAISE(ASYNCIO_EINVAL);
    ASYNCIO_AWAIT_OUTCOME_(asyncio_gather_register_(g));
    if (g->remaining && g->err == ASYNCIO_OK) {
        ASYNCIO_TRY(ASYNCIO_AWAIT_LEAF_(asyncio_park_(), ASYNCIO_RESUMED_()));
        asyncio_gather_collect_(g, ASYNCIO_AWAIT_ERROR == ASYNCIO_ECANCELLED);
        ASYNCIO_AWAIT_OUTCOME_(ASYNCIO_AWAIT_ERROR);
    } else {
        asyncio_gather_collect_(g, 0);
    }
    if (g->err)
        ASYNCIO_RAISE(g->err);
    ASYNCIO_RETURN(g->n);
    ASYNCIO_END;
}

asyncio_coro *asyncio_gather(asyncio_gather_state *g, asyncio_task **tasks, size_t n,
                             asyncio_outcome *out, int return_exceptions)
{
    if (!g)
        return NULL;
    g->tasks = tasks;
    g->out = out;
    g->n = n;
    g->return_exceptions = return_exceptions;
    g->waiter = NULL;
    g->remaining = 0;
    g->err = 0;
    return asyncio_coro_init(&g->co, asyncio_gather_fn_);
}

/* ------------------------------------------------------------------------ */
/* wait_for: MicroPython's design. A runner task awaits the inner task and  */
/* wakes the waiter early; the waiter sleeps for the timeout.               */
/* ------------------------------------------------------------------------ */

static int asyncio_wait_for_runner_fn_(asyncio_coro *co)
{
    asyncio_wait_for_state *wf =
        (asyncio_wait_for_state *)(void *)((char *)co -
                                           offsetof(asyncio_wait_for_state, runner_co));
    asyncio_task *w;
    ASYNCIO_BEGIN(co);
    ASYNCIO_TRY(ASYNCIO_AWAIT_TASK(wf->aw));
    wf->err = ASYNCIO_AWAIT_ERROR;
    wf->value = ASYNCIO_AWAIT_RESULT;
    w = wf->waiter;
    /* Still sleeping in wait_for (not cancelled, not gone on): wake it. A
     * wait_for that has ended has let go of its task (waiter NULL). */
    if (w && !(w->flags & ASYNCIO_F_CANCEL_) &&
        (w->where == ASYNCIO_IN_HEAP_ || w->where == ASYNCIO_IN_RUNQ_)) {
        wf->finished = 1;
        asyncio_wake_now_(w);
    }
    ASYNCIO_END;
}

static int asyncio_wait_for_fn_(asyncio_coro *co)
{
    asyncio_wait_for_state *wf = (asyncio_wait_for_state *)(void *)co;
    ASYNCIO_BEGIN(co);
    if (!wf->aw) {
        ASYNCIO_AWAIT_OUTCOME_(asyncio_create_task(&wf->inner, wf->aw_coro));
        wf->aw = &wf->inner;
    }
    if (wf->timeout_ms == ASYNCIO_NO_TIMEOUT) {
        ASYNCIO_AWAIT_TASK(wf->aw);
        ASYNCIO_RETURN(ASYNCIO_AWAIT_RESULT);
    }
    if (wf->timeout_ms > ASYNCIO_SLEEP_MAX_MS)
        ASYNCIO_RAISE(ASYNCIO_EOVERFLOW);
    wf->waiter = asyncio_running_;
    wf->finished = 0;
    ASYNCIO_AWAIT_OUTCOME_(asyncio_create_task(
        &wf->runner, asyncio_coro_init(&wf->runner_co, asyncio_wait_for_runner_fn_)));
    ASYNCIO_TRY(ASYNCIO_AWAIT_SLEEP_MS(wf->timeout_ms));
    if (ASYNCIO_AWAIT_ERROR) {
        asyncio_ignore_(asyncio_task_cancel(&wf->runner)); /* cancelled from outside */
        ASYNCIO_RAISE(ASYNCIO_AWAIT_ERROR);
    }
    if (wf->finished) {
        if (wf->err)
            ASYNCIO_RAISE(wf->err);
        ASYNCIO_RETURN(wf->value);
    }
    asyncio_ignore_(asyncio_task_cancel(&wf->runner)); /* timed out */
    ASYNCIO_AWAIT_TASK(&wf->runner);
    ASYNCIO_RAISE(ASYNCIO_ETIMEDOUT);
    ASYNCIO_FINALLY;
    wf->waiter = NULL; /* a runner still going (after a cancel) wakes nobody */
    ASYNCIO_END;
}

static asyncio_coro *asyncio_wait_for_init_(asyncio_wait_for_state *wf, asyncio_task *t,
                                            asyncio_coro *c, int64_t ms)
{
    if (!wf)
        return NULL;
    wf->aw = t;
    wf->aw_coro = c;
    wf->timeout_ms = ms < 0 && ms != ASYNCIO_NO_TIMEOUT ? 0 : ms;
    wf->waiter = NULL;
    wf->finished = 0;
    wf->err = 0;
    wf->value = 0;
    return asyncio_coro_init(&wf->co, asyncio_wait_for_fn_);
}

asyncio_coro *asyncio_wait_for_ms(asyncio_wait_for_state *wf, asyncio_coro *coro,
                                  int64_t timeout_ms)
{
    return asyncio_wait_for_init_(wf, NULL, coro, timeout_ms);
}

asyncio_coro *asyncio_wait_for(asyncio_wait_for_state *wf, asyncio_coro *coro, double timeout_s)
{
    return asyncio_wait_for_init_(wf, NULL, coro, asyncio_seconds_to_ms_(timeout_s));
}

asyncio_coro *asyncio_wait_for_task_ms(asyncio_wait_for_state *wf, asyncio_task *t,
                                       int64_t timeout_ms)
{
    return asyncio_wait_for_init_(wf, t, NULL, timeout_ms);
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                 */
/* ------------------------------------------------------------------------ */

/* The clock has not moved for ASYNCIO_STALL_ROUNDS rounds although a timer
 * is pending (tasks that only ever yield, under a virtual clock that only
 * moves when the loop idles): report it once per run, then idle until the
 * next deadline, which moves a virtual clock there. */
static void asyncio_stalled_(uint32_t now)
{
    int32_t timeout = asyncio_ticks_diff(asyncio_L_.heap->aux.timer.key, now);
    asyncio_L_.stall_rounds = 0;
    if (!asyncio_L_.stall_reported) {
        asyncio_context ctx;
        asyncio_L_.stall_reported = 1;
        ctx.message = "clock stood still with a timer pending";
        ctx.error = ASYNCIO_ESTALL;
        ctx.task = NULL;
        asyncio_loop_call_exception_handler(&asyncio_L_, &ctx);
    }
    if (timeout > 0)
        asyncio_port_wait(timeout);
}

/* Move every sleeper whose time has come to the run queue, in wake order. */
static void asyncio_expire_timers_(void)
{
    uint32_t now = asyncio_port_ticks_ms();
#if ASYNCIO_STALL_ROUNDS
    /* A round ends when the task that was last in the run queue when it
     * began comes to the head: every task runnable then has run once. (The
     * mark is only compared; it is cleared when it could leave the run
     * queue unseen: the heap emptying, runq_remove_, a loop reset.) */
    if (asyncio_L_.run_head == asyncio_L_.round_mark || !asyncio_L_.round_mark) {
        asyncio_L_.round_mark = asyncio_L_.run_head ? asyncio_L_.run_tail : NULL;
        if (now != asyncio_L_.stall_now) {
            asyncio_L_.stall_now = now;
            asyncio_L_.stall_rounds = 0;
        } else if (++asyncio_L_.stall_rounds >= (uint32_t)ASYNCIO_STALL_ROUNDS) {
            asyncio_stalled_(now);
            now = asyncio_port_ticks_ms();
        }
    }
#endif
    while (asyncio_L_.heap && asyncio_ticks_diff(asyncio_L_.heap->aux.timer.key, now) <= 0)
        asyncio_runq_push_(asyncio_heap_pop_());
}

/* Nothing is runnable: sleep until the next deadline or a wake-up. Returns
 * 0 when nothing could ever wake a task and there is no main task to wait
 * for (the loop is finished). */
static int asyncio_idle_(void)
{
    int32_t timeout = -1;
    if (asyncio_L_.heap) {
        timeout = asyncio_ticks_diff(asyncio_L_.heap->aux.timer.key, asyncio_port_ticks_ms());
        if (timeout < 0)
            timeout = 0;
    } else if (!asyncio_parked_first_(&asyncio_L_.flag_waiters) && !asyncio_L_.io_watched &&
               (!asyncio_L_.main || asyncio_L_.main->state == ASYNCIO_TASK_DONE)) {
        return 0;
    }
    ASYNCIO_TRACE_IDLE_ENTER(timeout);
    asyncio_port_wait(timeout);
    ASYNCIO_TRACE_IDLE_EXIT();
    return 1;
}

/* After the flag waiters (the loop polls them first): wake the tasks whose
 * descriptor is ready (polled before every step, as MicroPython does) or
 * whose time has come, in that order. A kind's bit is cleared when the loop
 * finds none of it left. */
static void asyncio_look_(void)
{
    if (asyncio_L_.work & ASYNCIO_WORK_IO_) {
        if (asyncio_L_.io_watched)
            asyncio_port_wait(0);
        else
            asyncio_L_.work &= (uint8_t)~ASYNCIO_WORK_IO_;
    }
    if (asyncio_L_.work & ASYNCIO_WORK_TIMERS_) {
        if (asyncio_L_.heap)
            asyncio_expire_timers_();
        if (!asyncio_L_.heap)
            asyncio_L_.work &= (uint8_t)~ASYNCIO_WORK_TIMERS_;
    }
}

/* The scheduler: run tasks until the main task ends (or, with none, until
 * nothing is left that could run). `inline`: its one caller must take it in,
 * or gcc (ARM, -O2) reloads &asyncio_running_ on every step (interrupt to
 * task 81 instructions instead of 80, YIELD 54 instead of 53). */
static inline void asyncio_run_loop_(void)
{
    for (;;) {
        asyncio_task *t;
        /* Two tests for the three kinds of work that can wake a task (most
         * steps of a busy loop have none of them): the flag waiters first,
         * alone, which keeps the interrupt-to-task path short. */
        if (asyncio_L_.work & ASYNCIO_WORK_FLAGS_)
            asyncio_poll_flags_();
        if (asyncio_L_.work & (ASYNCIO_WORK_IO_ | ASYNCIO_WORK_TIMERS_))
            asyncio_look_();
        t = asyncio_runq_pop_();
        if (!t) {
            if (!asyncio_idle_())
                return;
            continue;
        }
        if (asyncio_step_(t))
            return;
    }
}

/* Mark a task of a loop being dropped: it never runs again and is no longer
 * pending, so its stale links are never followed. */
static void asyncio_drop_(asyncio_task *t)
{
    if (t->state == ASYNCIO_TASK_PENDING)
        t->state = ASYNCIO_TASK_DROPPED;
    t->where = ASYNCIO_IN_NONE_;
}

/* Drop every task of the loop: from the run queue, the timer heap and every
 * wait queue (through the parked and flag_waiters rings: Event, Lock, flag,
 * awaited task, gather, I/O, and whatever else parks through the wait-queue
 * helpers). Descriptors nobody waits on are unwatched as their waiters
 * leave. Afterwards no object the application keeps (an Event, a
 * Lock, an asyncio_io...) points to a task of the old loop. */
static void asyncio_loop_reset_(void)
{
    asyncio_task *t;
    while ((t = asyncio_runq_pop_()) != NULL)
        asyncio_drop_(t);
    while (asyncio_L_.heap)
        asyncio_drop_(asyncio_heap_pop_());
    while ((t = asyncio_parked_first_(&asyncio_L_.parked)) != NULL ||
           (t = asyncio_parked_first_(&asyncio_L_.flag_waiters)) != NULL) {
        asyncio_unqueue_(t);
        asyncio_drop_(t);
    }
    asyncio_L_.run_head = asyncio_L_.run_tail = NULL;
    asyncio_L_.round_mark = NULL;
    asyncio_running_ = NULL;
    asyncio_L_.main = NULL;
    asyncio_L_.io_watched = 0;
    asyncio_L_.work = 0; /* nothing of any kind is left */
    asyncio_L_.stop_pending = 0;
    asyncio_L_.gen++; /* tasks of the old loop are no longer live */
}

asyncio_loop *asyncio_get_event_loop(void) { return asyncio_ready_loop_(); }

asyncio_loop *asyncio_new_event_loop_err(int *err)
{
    int r = asyncio_loop_running_() ? ASYNCIO_EBUSY : ASYNCIO_OK;
    asyncio_ready_loop_();
#ifdef ASYNCIO_CHECK_THREAD
    if (asyncio_wrong_thread_())
        r = ASYNCIO_ETHREAD;
#endif
    if (err)
        *err = r;
    if (r)
        return NULL;
    asyncio_loop_reset_();
    asyncio_L_.handler = NULL;
    asyncio_L_.closed = 0;
    return &asyncio_L_;
}

asyncio_loop *asyncio_new_event_loop(void) { return asyncio_new_event_loop_err(NULL); }

/* Run the loop, claimed by the caller (and not closed: every caller has
 * checked), until `t` is done; release it. */
static int asyncio_run_claimed_(asyncio_task *t, asyncio_value *value)
{
    asyncio_value ignored;
    int r;
    asyncio_L_.main = t;
    asyncio_L_.stall_reported = 0;
    asyncio_L_.stall_rounds = 0;
    asyncio_L_.round_mark = NULL;
    asyncio_run_loop_();
    asyncio_L_.main = NULL;
    asyncio_running_ = NULL;
    r = asyncio_task_outcome_(t, value ? value : &ignored);
    asyncio_loop_release_();
    return r;
}

int asyncio_loop_run_until_complete(asyncio_loop *loop, asyncio_task *t, asyncio_value *value)
{
    asyncio_ready_loop_();
    if (asyncio_loop_running_())
        return ASYNCIO_EBUSY; /* before looking at `t`: the loop may run elsewhere */
    if (loop != &asyncio_L_)
        return ASYNCIO_EINVAL;
    if (asyncio_L_.closed)
        return ASYNCIO_ECLOSED; /* before `t`: close() dropped every task */
    if (!asyncio_task_of_loop_(t))
        return ASYNCIO_EINVAL;
    if (!asyncio_loop_claim_())
        return ASYNCIO_EBUSY;
    return asyncio_run_claimed_(t, value);
}

int asyncio_run(asyncio_task *t, asyncio_coro *coro, asyncio_value *value)
{
    int r;
    asyncio_ready_loop_();
    if (!asyncio_loop_claim_())
        return ASYNCIO_EBUSY; /* running: here, or on another thread */
    r = asyncio_create_task(t, coro);
    if (r) {
        asyncio_loop_release_();
        return r;
    }
    return asyncio_run_claimed_(t, value);
}

static int asyncio_stopper_fn_(asyncio_coro *co)
{
    ASYNCIO_BEGIN(co);
    ASYNCIO_END;
}

int asyncio_loop_run_forever(asyncio_loop *loop)
{
    asyncio_task *s = &asyncio_L_.stopper;
    asyncio_ready_loop_();
    if (loop != &asyncio_L_)
        return ASYNCIO_EINVAL;
    if (!asyncio_loop_claim_())
        return ASYNCIO_EBUSY;
    if (asyncio_L_.closed) {
        asyncio_loop_release_();
        return ASYNCIO_ECLOSED;
    }
    /* The stopper is pending but not scheduled: stop() schedules it. */
    asyncio_task_start_(s, asyncio_coro_init(&asyncio_L_.stopper_co, asyncio_stopper_fn_));
    asyncio_L_.stop_pending = 1;
    asyncio_run_claimed_(s, NULL);
    asyncio_L_.stop_pending = 0;
    return ASYNCIO_OK;
}

void asyncio_loop_stop(asyncio_loop *loop)
{
    ASYNCIO_THREAD_CHECK_VOID_("asyncio_loop_stop");
    if (loop == &asyncio_L_ && asyncio_L_.stop_pending) {
        asyncio_runq_push_(&asyncio_L_.stopper);
        asyncio_L_.stop_pending = 0; /* a second stop() does nothing */
    }
}

int asyncio_loop_close(asyncio_loop *loop)
{
    ASYNCIO_THREAD_CHECK_(ASYNCIO_ETHREAD);
    if (loop != &asyncio_L_)
        return ASYNCIO_EINVAL;
    if (asyncio_loop_running_())
        return ASYNCIO_EBUSY;
    asyncio_loop_reset_();
    asyncio_L_.closed = 1;
    asyncio_port_deinit(); /* the port's descriptors go too; new_event_loop() re-inits */
    asyncio_L_.ready = 0;
    return ASYNCIO_OK;
}

void asyncio_loop_set_exception_handler(asyncio_loop *loop, asyncio_exception_handler handler)
{
    ASYNCIO_THREAD_CHECK_VOID_("asyncio_loop_set_exception_handler");
    if (loop == &asyncio_L_)
        asyncio_L_.handler = handler;
}

asyncio_exception_handler asyncio_loop_get_exception_handler(asyncio_loop *loop)
{
    return loop == &asyncio_L_ ? asyncio_L_.handler : NULL;
}

void asyncio_loop_default_exception_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    if (ctx) {
        ASYNCIO_REPORT(ctx);
    }
}

void asyncio_loop_call_exception_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    if (asyncio_L_.handler)
        asyncio_L_.handler(loop, ctx);
    else
        asyncio_loop_default_exception_handler(loop, ctx);
}

#ifdef ASYNCIO_DEBUG
/* ------------------------------------------------------------------------ */
/* Debugging: the coroutine registry and the task dump                      */
/*                                                                          */
/* No registry of tasks: every live task is already reachable. A pending    */
/* task is in exactly one place: running (loop.current), the run queue, the */
/* timer heap, or parked (a wait queue or gather: the loop's two rings).    */
/* The only exception is run_forever's private stopper, unscheduled until  */
/* stop(). So the dump costs no RAM per task.                               */
/* ------------------------------------------------------------------------ */

static asyncio_coro_info *asyncio_infos_; /* registered coroutine functions */

void asyncio_debug_register_(asyncio_coro_info *info, asyncio_fn fn, const char *name,
                             const char *file)
{
    info->name = name;
    info->file = file;
    info->fn = fn;
    info->next = asyncio_infos_;
    asyncio_infos_ = info;
}

void asyncio_coro_register(asyncio_coro_info *info, asyncio_fn fn, const char *name,
                           const char *file)
{
    info->sites = NULL;
    asyncio_debug_register_(info, fn, name, file);
}

void asyncio_debug_site_(asyncio_coro_info *info, asyncio_await_site *site, const char *kind,
                         unsigned line, int on_value)
{
    site->kind = kind;
    site->line = (uint16_t)line;
    site->on_value = (uint8_t)on_value;
    site->linked = 1;
    site->next = info->sites;
    info->sites = site;
}

static const asyncio_coro_info *asyncio_info_of_(asyncio_fn fn)
{
    const asyncio_coro_info *i;
    for (i = asyncio_infos_; i; i = i->next)
        if (i->fn == fn)
            return i;
    return NULL;
}

unsigned asyncio_coro_where(const asyncio_coro *co, const char **name, const char **file)
{
    const asyncio_coro_info *i = co ? asyncio_info_of_(co->fn) : NULL;
    if (name)
        *name = i ? i->name : NULL;
    if (file)
        *file = i ? i->file : NULL;
    return asyncio_suspended_at_(co) ? co->line : 0;
}

/* One line of the dump, formatted without stdio (freestanding targets). */
typedef struct asyncio_dump_line_ {
    char buf[160];
    size_t n;
} asyncio_dump_line_;

static void asyncio_put_(asyncio_dump_line_ *l, const char *s)
{
    while (*s && l->n < sizeof l->buf - 1)
        l->buf[l->n++] = *s++;
    l->buf[l->n] = '\0';
}

static void asyncio_put_num_(asyncio_dump_line_ *l, uintptr_t v, unsigned base)
{
    char d[2 * sizeof v + 1];
    size_t i = sizeof d - 1;
    d[i] = '\0';
    do {
        d[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    asyncio_put_(l, d + i);
}

static void asyncio_put_int_(asyncio_dump_line_ *l, long v)
{
    if (v < 0)
        asyncio_put_(l, "-");
    asyncio_put_num_(l, v < 0 ? (uintptr_t)(-(v + 1)) + 1u : (uintptr_t)v, 10);
}

static void asyncio_put_ptr_(asyncio_dump_line_ *l, uintptr_t p)
{
    asyncio_put_(l, "0x");
    asyncio_put_num_(l, p, 16);
}

/* A coroutine's function: its registered name, else its address. */
static void asyncio_put_fn_(asyncio_dump_line_ *l, const asyncio_coro *co)
{
    const asyncio_coro_info *i = asyncio_info_of_(co->fn);
    if (i) {
        asyncio_put_(l, i->name);
        return;
    }
    asyncio_put_(l, "fn ");
    asyncio_put_ptr_(l, (uintptr_t)co->fn);
}

/* The coroutine a task really waits in: the innermost of its await chain. */
static const asyncio_coro *asyncio_innermost_(const asyncio_coro *co)
{
    while (asyncio_suspended_at_(co->child))
        co = co->child;
    return co;
}

/* A type's name without its "asyncio_" prefix: "lock", "event", "flag". */
static const char *asyncio_kind_name_(const char *kind)
{
    const char *p = "asyncio_", *k = kind;
    while (*p && *k == *p) {
        p++;
        k++;
    }
    return *p ? kind : k;
}

/* What a parked task waits on (the task is ASYNCIO_IN_WAITQ_). */
static void asyncio_put_waits_on_(asyncio_dump_line_ *l, const asyncio_task *t)
{
    const asyncio_coro *in = asyncio_innermost_(t->coro);
    asyncio_waitq *q = t->link.wait.queue;
    const asyncio_coro_info *i = asyncio_info_of_(in->fn);
    const asyncio_await_site *s;
    unsigned kind = t->flags & ASYNCIO_F_QUEUE_KIND_;
    const asyncio_io *io = asyncio_io_of_(q, kind);
    if (!q) {
        const asyncio_gather_state *g = (const asyncio_gather_state *)(const void *)in;
        asyncio_put_(l, "gather");
        if (in->fn == asyncio_gather_fn_) {
            asyncio_put_(l, " (");
            asyncio_put_num_(l, g->remaining, 10);
            asyncio_put_(l, " of ");
            asyncio_put_num_(l, g->n, 10);
            asyncio_put_(l, " tasks pending)");
        }
        return;
    }
    if (kind == ASYNCIO_F_ON_TASK_) {
        const asyncio_task *a = asyncio_awaited_by_(t);
        asyncio_put_(l, "task ");
        asyncio_put_ptr_(l, (uintptr_t)a);
        asyncio_put_(l, " ");
        asyncio_put_fn_(l, a->coro);
        return;
    }
    if (io) {
        asyncio_put_(l, "I/O fd ");
        asyncio_put_int_(l, io->fd);
        asyncio_put_(l, kind == ASYNCIO_F_ON_READ_ ? " read" : " write");
        return;
    }
    /* Any other wait queue: the await site says what it is (its macro
     * recorded the object's type), the frame's value slot which object. */
    for (s = i ? i->sites : NULL; s; s = s->next)
        if (s->line == in->line)
            break;
    if (!s) {
        asyncio_put_(l, "wait queue ");
        asyncio_put_ptr_(l, (uintptr_t)q);
        return;
    }
    asyncio_put_(l, asyncio_kind_name_(s->kind));
    asyncio_put_(l, " ");
    asyncio_put_ptr_(l, s->on_value ? (uintptr_t)in->value : (uintptr_t)q);
}

/* One task: its header line, then its await chain. */
static int asyncio_dump_task_(asyncio_print_fn print, void *ctx, const asyncio_task *t,
                              uint32_t now)
{
    asyncio_dump_line_ l;
    const asyncio_coro *co = t->coro;
    int r;
    l.n = 0;
    asyncio_put_(&l, "task ");
    asyncio_put_ptr_(&l, (uintptr_t)t);
    asyncio_put_(&l, " ");
    asyncio_put_fn_(&l, co);
    asyncio_put_(&l, ": ");
    if (t->state == ASYNCIO_TASK_DONE) {
        asyncio_put_(&l, "done, error not yet reported: ");
        asyncio_put_(&l, asyncio_strerror(co->err));
        asyncio_put_(&l, " (");
        asyncio_put_int_(&l, co->err);
        asyncio_put_(&l, ")");
    } else if (t == asyncio_running_) {
        asyncio_put_(&l, "running");
    } else if (t->where == ASYNCIO_IN_RUNQ_) {
        asyncio_put_(&l, co->line == 0 ? "runnable, not started" : "runnable");
    } else if (t->where == ASYNCIO_IN_HEAP_) {
        asyncio_put_(&l, "sleeping: until tick ");
        asyncio_put_num_(&l, t->aux.timer.key, 10);
        asyncio_put_(&l, " (in ");
        asyncio_put_int_(&l, asyncio_ticks_diff(t->aux.timer.key, now));
        asyncio_put_(&l, " ms)");
    } else {
        asyncio_put_(&l, "waiting: ");
        asyncio_put_waits_on_(&l, t);
    }
    if (t->state == ASYNCIO_TASK_PENDING && (t->flags & ASYNCIO_F_CANCEL_))
        asyncio_put_(&l, (t->flags & ASYNCIO_F_REINIT_) ? ", frame reset (EREINIT) pending"
                                                        : ", cancel pending");
    if ((r = print(ctx, l.buf)) != 0)
        return r;
    for (; t->state == ASYNCIO_TASK_PENDING && asyncio_suspended_at_(co);
         co = asyncio_suspended_at_(co->child) ? co->child : NULL) {
        const asyncio_coro_info *i = asyncio_info_of_(co->fn);
        l.n = 0;
        asyncio_put_(&l, "    ");
        asyncio_put_(&l, i ? i->file : "?");
        asyncio_put_(&l, ":");
        asyncio_put_num_(&l, co->line, 10);
        asyncio_put_(&l, " ");
        asyncio_put_fn_(&l, co);
        if ((r = print(ctx, l.buf)) != 0)
            return r;
    }
    return 0;
}

/* The timer heap in preorder, without a stack: a node's prev is its parent
 * when it is the first child, else its left sibling. */
static const asyncio_task *asyncio_heap_next_(const asyncio_task *t)
{
    if (t->link.heap.child)
        return t->link.heap.child;
    while (t) {
        if (t->link.heap.sibling)
            return t->link.heap.sibling;
        while (t->link.heap.prev && t->link.heap.prev->link.heap.child != t)
            t = t->link.heap.prev;
        t = t->link.heap.prev;
    }
    return NULL;
}

int asyncio_dump_tasks(asyncio_print_fn print, void *ctx)
{
    const asyncio_task *t, *cur = asyncio_running_;
    asyncio_link *p;
    uint32_t now;
    int n = 0, r;
    asyncio_dump_line_ l;
    if (!print)
        return ASYNCIO_EINVAL;
    asyncio_ready_loop_();
    now = asyncio_port_ticks_ms();
    l.n = 0;
    asyncio_put_(&l, "asyncio tasks at tick ");
    asyncio_put_num_(&l, now, 10);
    if ((r = print(ctx, l.buf)) != 0)
        return r;
#define ASYNCIO_DUMP_ONE_(task)                                                                    \
    do {                                                                                           \
        if ((r = asyncio_dump_task_(print, ctx, (task), now)) != 0)                                \
            return r;                                                                              \
        n++;                                                                                       \
    } while (0)
    if (cur && cur->state == ASYNCIO_TASK_PENDING)
        ASYNCIO_DUMP_ONE_(cur);
    for (t = asyncio_L_.run_head; t; t = t->link.run.next)
        if (t != cur)
            ASYNCIO_DUMP_ONE_(t);
    for (t = asyncio_L_.heap; t; t = asyncio_heap_next_(t))
        if (t != cur)
            ASYNCIO_DUMP_ONE_(t);
    for (p = asyncio_L_.parked.prev; p && p != &asyncio_L_.parked; p = p->prev)
        if ((t = asyncio_parked_task_(p)) != cur)
            ASYNCIO_DUMP_ONE_(t);
    for (p = asyncio_L_.flag_waiters.prev; p && p != &asyncio_L_.flag_waiters; p = p->prev)
        if ((t = asyncio_parked_task_(p)) != cur)
            ASYNCIO_DUMP_ONE_(t);
#undef ASYNCIO_DUMP_ONE_
    return n;
}
#endif /* ASYNCIO_DEBUG */

#endif /* ASYNCIO_IMPLEMENTATION */
