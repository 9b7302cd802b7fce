/* SPDX-License-Identifier: MIT */
/*
 * new_event_loop() / loop_close() with tasks parked everywhere (issue 19,
 * item 2): a task of the old loop parked in an Event, a Lock, a flag, the
 * awaiters of another task, a gather or on a descriptor is dropped from that
 * queue, the port stops watching its descriptor, and nothing the new loop
 * does (set, release, readiness) ever runs it again or follows a pointer to
 * it (its memory may be reused or freed right after the reset).
 */
#include "port_posix.h"
#include "trace.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(reset, .init = setup, .timeout = 10);

/* ---- a task that parks somewhere, and traces if it ever runs again ---- */
enum { P_EVENT, P_LOCK, P_FLAG, P_TASK, P_GATHER, P_IO };

struct parker {
    asyncio_coro co;
    const char *name;
    int kind;
    asyncio_event *ev;
    asyncio_lock *lock;
    asyncio_flag *flag;
    asyncio_task *task;
    asyncio_io *io;
    asyncio_gather_state g;
    asyncio_task *gt[2];
    asyncio_outcome out[2];
};
static int parker_fn(asyncio_coro *co)
{
    struct parker *f = (struct parker *)co;
    ASYNC_BEGIN(co);
    trace("%s parks", f->name);
    if (f->kind == P_EVENT) {
        ASYNC_TRY(AWAIT_EVENT(f->ev));
    } else if (f->kind == P_LOCK) {
        ASYNC_TRY(AWAIT_LOCK(f->lock));
    } else if (f->kind == P_FLAG) {
        ASYNC_TRY(AWAIT_FLAG(f->flag));
    } else if (f->kind == P_TASK) {
        ASYNC_TRY(AWAIT_TASK(f->task));
    } else if (f->kind == P_GATHER) {
        ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->gt, 2, f->out, 0)));
    } else {
        ASYNC_TRY(AWAIT_IO(f->io, ASYNCIO_IO_READ));
    }
    trace("%s ran again (%s)", f->name, asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}
static asyncio_coro *parker(struct parker *f, const char *name, int kind)
{
    f->name = name;
    f->kind = kind;
    return asyncio_coro_init(&f->co, parker_fn);
}

/* ---- the old loop: start the parkers, let them park, end ---- */
#define NPARK 4
static asyncio_task ptask[NPARK];
static struct parker pf[NPARK];
static int nparked;
static asyncio_lock lock;

static int old_main_fn(asyncio_coro *co)
{
    static int i;
    ASYNC_BEGIN(co);
    AWAIT_LOCK(&lock); /* held by main: the lock's waiters stay parked */
    for (i = 0; i < nparked; i++)
        cr_assert_eq(asyncio_create_task(&ptask[i], &pf[i].co), 0);
    for (i = 0; i < 3; i++)
        YIELD;
    trace("old main ends");
    ASYNC_END;
}

static void run_old_loop(int n)
{
    static asyncio_coro co;
    static asyncio_task t;
    nparked = n;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, old_main_fn), NULL), 0);
}

/* Every parker of the old loop is dropped; none is pending any more. */
static void assert_parkers_dropped(void)
{
    int i;
    for (i = 0; i < nparked; i++)
        cr_assert_eq(ptask[i].state, ASYNCIO_TASK_DROPPED, "parker %d is not dropped", i);
}

/* ---- the new loop: set / release / make ready, then let time pass ---- */
static asyncio_event ev;
static asyncio_flag flag;
static int pipefd[2];

struct new_main {
    asyncio_coro co;
    int i;
};
static int new_main_fn(asyncio_coro *co)
{
    struct new_main *f = (struct new_main *)co;
    ASYNC_BEGIN(co);
    asyncio_event_set(&ev);
    trace("release: %s", asyncio_strerror(asyncio_lock_release(&lock)));
    asyncio_flag_set(&flag);
    if (pipefd[1] >= 0)
        cr_assert_eq(write(pipefd[1], "x", 1), 1);
    for (f->i = 0; f->i < 3; f->i++)
        YIELD;
    AWAIT_SLEEP_MS(10); /* idle: the port looks at its descriptors */
    trace("new main ends");
    ASYNC_END;
}

static void run_new_loop(void)
{
    static struct new_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, new_main_fn), NULL), 0);
}

static void init_objects(void)
{
    asyncio_event_init(&ev);
    asyncio_lock_init(&lock);
    asyncio_flag_init(&flag);
    pipefd[0] = pipefd[1] = -1;
}

#define NEW_LOOP_TRACE "release: ok\nnew main ends\n"

Test(reset, a_task_parked_in_an_event_never_runs_after_new_event_loop)
{
    init_objects();
    pf[0].ev = &ev;
    parker(&pf[0], "event waiter", P_EVENT);
    run_old_loop(1);
    cr_assert_not_null(asyncio_new_event_loop());
    assert_parkers_dropped();
    cr_assert_null(ev.waiters.tail, "the Event no longer holds the old task");
    run_new_loop();
    assert_trace("event waiter parks\nold main ends\n" NEW_LOOP_TRACE);
}

Test(reset, tasks_parked_in_a_lock_never_run_after_loop_close)
{
    init_objects();
    pf[0].lock = &lock;
    pf[1].lock = &lock;
    parker(&pf[0], "lock waiter 1", P_LOCK);
    parker(&pf[1], "lock waiter 2", P_LOCK);
    run_old_loop(2);
    cr_assert_eq(asyncio_loop_close(asyncio_get_event_loop()), 0);
    cr_assert_not_null(asyncio_new_event_loop());
    assert_parkers_dropped();
    cr_assert_null(lock.waiters.tail, "the Lock no longer holds the old tasks");
    run_new_loop();
    cr_assert(!asyncio_lock_locked(&lock), "released to nobody");
    assert_trace("lock waiter 1 parks\nlock waiter 2 parks\nold main ends\n" NEW_LOOP_TRACE);
}

/* The new loop's own waiter gets the flag (it is not "busy" with the old
 * waiter, and it is polled again); the old waiter never runs. */
struct flag_main {
    asyncio_coro co;
};
static int flag_main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_flag_set(&flag);
    ASYNC_TRY(AWAIT_FLAG(&flag));
    trace("new waiter: %s", asyncio_strerror(AWAIT_ERROR));
    YIELD;
    ASYNC_TRY(AWAIT_FLAG(&flag)); /* parks: the flag must be polled */
    trace("new waiter again: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}
struct flag_setter {
    asyncio_coro co;
};
static int flag_setter_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(5);
    asyncio_flag_set(&flag);
    ASYNC_END;
}

Test(reset, a_task_parked_on_a_flag_never_runs_and_the_flag_serves_the_new_loop)
{
    static struct flag_main m;
    static struct flag_setter s;
    static asyncio_task t, st;
    init_objects();
    pf[0].flag = &flag;
    parker(&pf[0], "flag waiter", P_FLAG);
    run_old_loop(1);
    cr_assert_not_null(asyncio_new_event_loop());
    assert_parkers_dropped();
    cr_assert_null(flag.waiters.tail);
    cr_assert_eq(asyncio_create_task(&st, asyncio_coro_init(&s.co, flag_setter_fn)), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, flag_main_fn), NULL), 0);
    assert_trace("flag waiter parks\nold main ends\nnew waiter: ok\nnew waiter again: ok\n");
}

/* A task awaiting another task (itself parked in an Event), and a gather of
 * two tasks parked in the Event: setting it in the new loop runs nobody. */
Test(reset, tasks_awaiting_a_task_or_a_gather_never_run_after_new_event_loop)
{
    init_objects();
    pf[0].ev = &ev;
    parker(&pf[0], "awaited", P_EVENT);
    pf[1].task = &ptask[0];
    parker(&pf[1], "awaiter", P_TASK);
    pf[2].ev = &ev;
    parker(&pf[2], "gathered", P_EVENT);
    /* The gatherer waits for "gathered" (in the Event) and for "awaiter"
     * (awaiting "awaited"; an awaited task can't be gathered, its awaiter
     * can). */
    pf[3].gt[0] = &ptask[2];
    pf[3].gt[1] = &ptask[1];
    parker(&pf[3], "gatherer", P_GATHER);
    run_old_loop(4);
    cr_assert_eq(ptask[3].state, ASYNCIO_TASK_PENDING, "the gatherer is parked");
    cr_assert_not_null(asyncio_new_event_loop());
    assert_parkers_dropped();
    cr_assert_null(ev.waiters.tail);
    cr_assert_null(ptask[0].done_to.awaiters.tail, "the awaited task has no awaiters");
    run_new_loop();
    assert_trace("awaited parks\nawaiter parks\ngathered parks\ngatherer parks\nold main "
                 "ends\n" NEW_LOOP_TRACE);
}

/* A task waiting for a pipe or a socket to be readable: the descriptor
 * becomes readable in the new loop; the port no longer watches it. */
static void io_case(int use_socket)
{
    static asyncio_io io;
    init_objects();
    if (use_socket)
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pipefd), 0);
    else
        cr_assert_eq(pipe(pipefd), 0);
    asyncio_io_init(&io, pipefd[0]);
    pf[0].io = &io;
    parker(&pf[0], "reader", P_IO);
    run_old_loop(1);
    cr_assert_eq(io.watching, ASYNCIO_IO_READ);
    cr_assert_not_null(asyncio_new_event_loop());
    assert_parkers_dropped();
    cr_assert_null(io.readers.tail);
    cr_assert_eq(io.watching, 0u, "the port no longer watches the descriptor");
    run_new_loop();
    assert_trace("reader parks\nold main ends\n" NEW_LOOP_TRACE);
    close(pipefd[0]);
    close(pipefd[1]);
}

Test(reset, a_task_waiting_on_a_pipe_never_runs_after_new_event_loop) { io_case(0); }

Test(reset, a_task_waiting_on_a_socket_never_runs_after_new_event_loop) { io_case(1); }

/* ---- the old task's memory reused and freed right after the reset ---- */
struct heap_parker {
    asyncio_task task;
    struct parker p;
    asyncio_io io;
};

static int old_heap_main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_LOCK(&lock);
    YIELD;
    YIELD;
    ASYNC_END;
}

/* Park one task on the Event and one on a pipe, both in malloc'd memory;
 * reset; overwrite and free that memory; set the Event and make the pipe
 * readable in the new loop. Under ASan (make check-asan) any access to the
 * old memory is a heap-use-after-free; elsewhere the garbage would crash. */
Test(reset, the_old_tasks_memory_may_be_overwritten_and_freed_after_new_event_loop)
{
    static asyncio_coro co;
    static asyncio_task t;
    struct heap_parker *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    cr_assert(a && b);
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    init_objects();
    cr_assert_eq(pipe(pipefd), 0);
    a->p.ev = &ev;
    asyncio_io_init(&b->io, pipefd[0]);
    b->p.io = &b->io;
    cr_assert_eq(asyncio_create_task(&a->task, parker(&a->p, "heap event waiter", P_EVENT)), 0);
    cr_assert_eq(asyncio_create_task(&b->task, parker(&b->p, "heap reader", P_IO)), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, old_heap_main_fn), NULL), 0);
    cr_assert_eq(a->task.state, ASYNCIO_TASK_PENDING);
    cr_assert_eq(b->task.state, ASYNCIO_TASK_PENDING);
    cr_assert_not_null(asyncio_new_event_loop());
    memset(a, 0xA5, sizeof *a);
    memset(b, 0xA5, sizeof *b);
    free(a);
    free(b);
    run_new_loop();
    assert_trace("heap event waiter parks\nheap reader parks\n" NEW_LOOP_TRACE);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* The loop generation is 8 bits: 256 resets later a dropped task has the
 * generation of the loop again, and must still not count as one of its
 * tasks (awaiting it would park forever on a task that never runs). */
struct await_old {
    asyncio_coro co;
};
static int await_old_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_TASK(&ptask[0]));
    trace("await a task dropped 256 loops ago: %s", asyncio_strerror(AWAIT_ERROR));
    trace("cancel it: %d", asyncio_task_cancel(&ptask[0]));
    ASYNC_END;
}

Test(reset, a_task_dropped_256_loops_ago_is_still_not_of_the_loop)
{
    static struct await_old m;
    static asyncio_task t;
    int i;
    init_objects();
    pf[0].ev = &ev;
    parker(&pf[0], "event waiter", P_EVENT);
    run_old_loop(1);
    for (i = 0; i < 256; i++)
        cr_assert_not_null(asyncio_new_event_loop());
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, await_old_fn), NULL), 0);
    cr_assert_eq(ptask[0].gen, t.gen, "the generation has wrapped");
    assert_trace("event waiter parks\nold main ends\n"
                 "await a task dropped 256 loops ago: invalid argument\ncancel it: 0\n");
}
