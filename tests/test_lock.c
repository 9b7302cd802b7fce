/* SPDX-License-Identifier: MIT */
/* Lock: the "lock" and "lock_cancel" conformance rows, and the scoped-lock
 * pattern (Python's `async with lock:`) built on ASYNC_FINALLY. */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(lock, .init = setup, .timeout = 10);

static const char *tf(int b) { return b ? "True" : "False"; }

/* ---- the scoped-lock helper: acquire, await the body, release on every
 * exit path (return, error, cancellation) ---- */
struct with_lock {
    asyncio_coro co;
    asyncio_lock *l;
    asyncio_coro *body;
    int held;
};
static int with_lock_fn(asyncio_coro *co)
{
    struct with_lock *f = (struct with_lock *)co;
    ASYNC_BEGIN(co);
    f->held = 0;
    AWAIT_LOCK(f->l);
    f->held = 1;
    AWAIT(f->body);
    ASYNC_RETURN(AWAIT_RESULT);
    ASYNC_FINALLY;
    if (f->held) {
        f->held = 0;
        asyncio_lock_release(f->l);
    }
    ASYNC_END;
}
static asyncio_coro *with_lock(struct with_lock *f, asyncio_lock *l, asyncio_coro *body)
{
    f->l = l;
    f->body = body;
    f->held = 0;
    return asyncio_coro_init(&f->co, with_lock_fn);
}

/* A body: trace, sleep `ms`, then return `value` or fail with `fail`. */
struct body {
    asyncio_coro co;
    const char *name;
    int32_t ms;
    int fail;
    asyncio_value value;
};
static int body_fn(asyncio_coro *co)
{
    struct body *f = (struct body *)co;
    ASYNC_BEGIN(co);
    trace("%s", f->name);
    if (f->ms >= 0)
        AWAIT_SLEEP_MS(f->ms);
    if (f->fail)
        ASYNC_RAISE(f->fail);
    ASYNC_RETURN(f->value);
    ASYNC_END;
}
static asyncio_coro *body(struct body *f, const char *name, int32_t ms, int fail,
                          asyncio_value value)
{
    f->name = name;
    f->ms = ms;
    f->fail = fail;
    f->value = value;
    return asyncio_coro_init(&f->co, body_fn);
}

/* ======================================================================== */
/* lock: asyncio_lock.py, in one run                                        */
/* ======================================================================== */

struct task_loop {
    asyncio_coro co;
    int id, i;
    asyncio_lock *l;
};
static int task_loop_fn(asyncio_coro *co)
{
    struct task_loop *f = (struct task_loop *)co;
    ASYNC_BEGIN(co);
    trace("task start %d", f->id);
    for (f->i = 0; f->i < 3; f->i++) {
        AWAIT_LOCK(f->l);
        trace("task have %d %d", f->id, f->i);
        asyncio_lock_release(f->l);
    }
    trace("task end %d", f->id);
    ASYNC_END;
}

struct task_sleep {
    asyncio_coro co;
    asyncio_lock *l;
};
static int task_sleep_fn(asyncio_coro *co)
{
    struct task_sleep *f = (struct task_sleep *)co;
    ASYNC_BEGIN(co);
    AWAIT_LOCK(f->l);
    trace("task have %s", tf(asyncio_lock_locked(f->l)));
    AWAIT_SLEEP_MS(200);
    asyncio_lock_release(f->l);
    trace("task release %s", tf(asyncio_lock_locked(f->l)));
    AWAIT_LOCK(f->l);
    trace("task have again");
    asyncio_lock_release(f->l);
    ASYNC_END;
}

struct task_cancel {
    asyncio_coro co;
    int id;
    asyncio_lock *l;
    asyncio_task *to_cancel;
    struct with_lock wl;
    struct body b;
    char name[16];
};
static int task_cancel_fn(asyncio_coro *co)
{
    struct task_cancel *f = (struct task_cancel *)co;
    ASYNC_BEGIN(co);
    snprintf(f->name, sizeof f->name, "task got %d", f->id);
    ASYNC_TRY(AWAIT(with_lock(&f->wl, f->l, body(&f->b, f->name, 100, 0, 0))));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("task cancel %d", f->id);
        ASYNC_RETURN(0);
    }
    trace("task release %d", f->id);
    if (f->to_cancel)
        asyncio_task_cancel(f->to_cancel);
    ASYNC_END;
}
static asyncio_coro *task_cancel(struct task_cancel *f, int id, asyncio_lock *l,
                                 asyncio_task *to_cancel)
{
    f->id = id;
    f->l = l;
    f->to_cancel = to_cancel;
    return asyncio_coro_init(&f->co, task_cancel_fn);
}

struct lock_main {
    asyncio_coro co;
    asyncio_lock l;
    struct with_lock wl;
    struct body b;
    asyncio_task loops[3], sleeper, cancels[6];
    struct task_loop tl[3];
    struct task_sleep ts[2];
    struct task_cancel tc[6];
    int i;
};
static int lock_main_fn(asyncio_coro *co)
{
    struct lock_main *f = (struct lock_main *)co;
    ASYNC_BEGIN(co);
    asyncio_lock_init(&f->l);

    /* Basic acquire / release. */
    trace("%s", tf(asyncio_lock_locked(&f->l)));
    AWAIT_LOCK(&f->l);
    trace("%s", tf(asyncio_lock_locked(&f->l)));
    YIELD;
    asyncio_lock_release(&f->l);
    trace("%s", tf(asyncio_lock_locked(&f->l)));
    YIELD;

    /* Scoped use. */
    AWAIT(with_lock(&f->wl, &f->l, body(&f->b, "have lock", -1, 0, 0)));

    /* Three tasks looping on the lock: FIFO hand-off, 1,2,3,1,2,3. */
    trace("----");
    for (f->i = 0; f->i < 3; f->i++) {
        f->tl[f->i].id = f->i + 1;
        f->tl[f->i].l = &f->l;
        asyncio_create_task(&f->loops[f->i], asyncio_coro_init(&f->tl[f->i].co, task_loop_fn));
    }
    AWAIT_LOCK(&f->l);
    YIELD;
    asyncio_lock_release(&f->l);
    AWAIT_TASK(&f->loops[2]);

    /* Two sleeping tasks both wanting the lock. */
    trace("----");
    f->ts[0].l = f->ts[1].l = &f->l;
    asyncio_create_task(&f->sleeper, asyncio_coro_init(&f->ts[0].co, task_sleep_fn));
    AWAIT_SLEEP_MS(100);
    AWAIT(asyncio_coro_init(&f->ts[1].co, task_sleep_fn));

    /* Three tasks, the first cancelling the second; the third still runs. */
    trace("----");
    asyncio_create_task(&f->cancels[0], task_cancel(&f->tc[0], 0, &f->l, &f->cancels[1]));
    asyncio_create_task(&f->cancels[1], task_cancel(&f->tc[1], 1, &f->l, NULL));
    asyncio_create_task(&f->cancels[2], task_cancel(&f->tc[2], 2, &f->l, NULL));
    AWAIT_SLEEP_MS(300);
    trace("%s", tf(asyncio_lock_locked(&f->l)));

    /* Three tasks, the second and third cancelled while waiting / holding. */
    trace("----");
    asyncio_create_task(&f->cancels[3], task_cancel(&f->tc[3], 0, &f->l, NULL));
    asyncio_create_task(&f->cancels[4], task_cancel(&f->tc[4], 1, &f->l, NULL));
    asyncio_create_task(&f->cancels[5], task_cancel(&f->tc[5], 2, &f->l, NULL));
    AWAIT_SLEEP_MS(50);
    asyncio_task_cancel(&f->cancels[4]);
    AWAIT_SLEEP_MS(100);
    asyncio_task_cancel(&f->cancels[5]);
    AWAIT_SLEEP_MS(100);
    trace("%s", tf(asyncio_lock_locked(&f->l)));
    ASYNC_END;
}

Test(lock, lock_scenario_fifo_handoff_sleepers_and_cancelled_waiters)
{
    static struct lock_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, lock_main_fn), NULL), 0);
    assert_trace("False\n"
                 "True\n"
                 "False\n"
                 "have lock\n"
                 "----\n"
                 "task start 1\n"
                 "task start 2\n"
                 "task start 3\n"
                 "task have 1 0\n"
                 "task have 2 0\n"
                 "task have 3 0\n"
                 "task have 1 1\n"
                 "task have 2 1\n"
                 "task have 3 1\n"
                 "task have 1 2\n"
                 "task end 1\n"
                 "task have 2 2\n"
                 "task end 2\n"
                 "task have 3 2\n"
                 "task end 3\n"
                 "----\n"
                 "task have True\n"
                 "task release False\n"
                 "task have True\n"
                 "task release False\n"
                 "task have again\n"
                 "task have again\n"
                 "----\n"
                 "task got 0\n"
                 "task release 0\n"
                 "task cancel 1\n"
                 "task got 2\n"
                 "task release 2\n"
                 "False\n"
                 "----\n"
                 "task got 0\n"
                 "task cancel 1\n"
                 "task release 0\n"
                 "task got 2\n"
                 "task cancel 2\n"
                 "False\n");
    cr_assert_eq(asyncio_ticks_ms(), 400 + 300 + 250);
    cr_assert_null(m.l.handed_to);
    cr_assert_null(m.l.waiters.tail);
}

/* ---- focused lock behaviours ---- */

Test(lock, release_of_an_unlocked_lock_is_enotheld)
{
    asyncio_lock l;
    asyncio_lock_init(&l);
    cr_assert_eq(asyncio_lock_locked(&l), 0);
    cr_assert_eq(asyncio_lock_release(&l), ASYNCIO_ENOTHELD);
    cr_assert_eq(asyncio_lock_release(NULL), ASYNCIO_EINVAL);
}

/* A waiter that holds the lock briefly. */
struct holder {
    asyncio_coro co;
    const char *name;
    asyncio_lock *l;
};
static int holder_fn(asyncio_coro *co)
{
    struct holder *f = (struct holder *)co;
    ASYNC_BEGIN(co);
    trace("%s waits", f->name);
    AWAIT_LOCK(f->l);
    trace("%s has it, locked %s", f->name, tf(asyncio_lock_locked(f->l)));
    YIELD;
    trace("%s releases", f->name);
    asyncio_lock_release(f->l);
    ASYNC_END;
}
static asyncio_coro *holder(struct holder *f, const char *name, asyncio_lock *l)
{
    f->name = name;
    f->l = l;
    return asyncio_coro_init(&f->co, holder_fn);
}

struct handoff_main {
    asyncio_coro co;
    asyncio_lock l;
    asyncio_task w;
    struct holder h;
};
static int handoff_main_fn(asyncio_coro *co)
{
    struct handoff_main *f = (struct handoff_main *)co;
    ASYNC_BEGIN(co);
    asyncio_lock_init(&f->l);
    AWAIT_LOCK(&f->l);
    asyncio_create_task(&f->w, holder(&f->h, "W", &f->l));
    YIELD;
    asyncio_lock_release(&f->l);
    trace("main released, locked %s", tf(asyncio_lock_locked(&f->l)));
    trace("release during hand-off -> %d", asyncio_lock_release(&f->l));
    AWAIT_LOCK(&f->l); /* a third party: must queue behind the hand-off */
    trace("main has it again, locked %s", tf(asyncio_lock_locked(&f->l)));
    asyncio_lock_release(&f->l);
    trace("main end, locked %s", tf(asyncio_lock_locked(&f->l)));
    ASYNC_END;
}

Test(lock, locked_is_false_during_handoff_yet_a_third_party_acquire_blocks)
{
    static struct handoff_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, handoff_main_fn), NULL), 0);
    assert_trace("W waits\n"
                 "main released, locked False\n"
                 "release during hand-off -> -1008\n"
                 "W has it, locked True\n"
                 "W releases\n"
                 "main has it again, locked True\n"
                 "main end, locked False\n");
}

struct pass_on_main {
    asyncio_coro co;
    asyncio_lock l;
    asyncio_task w[2];
    struct holder h[2];
};
static int pass_on_main_fn(asyncio_coro *co)
{
    struct pass_on_main *f = (struct pass_on_main *)co;
    ASYNC_BEGIN(co);
    asyncio_lock_init(&f->l);
    AWAIT_LOCK(&f->l);
    asyncio_create_task(&f->w[0], holder(&f->h[0], "W1", &f->l));
    asyncio_create_task(&f->w[1], holder(&f->h[1], "W2", &f->l));
    YIELD;
    asyncio_lock_release(&f->l);                             /* handed to W1 ... */
    trace("cancel W1 -> %d", asyncio_task_cancel(&f->w[0])); /* ... which is cancelled */
    AWAIT_TASK(&f->w[1]);
    trace("W1 result %d, locked %s", asyncio_task_result(&f->w[0], NULL),
          tf(asyncio_lock_locked(&f->l)));
    ASYNC_END;
}

Test(lock, waiter_cancelled_after_handoff_passes_the_lock_to_the_next_waiter)
{
    static struct pass_on_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, pass_on_main_fn), NULL), 0);
    assert_trace("W1 waits\n"
                 "W2 waits\n"
                 "cancel W1 -> 1\n"
                 "W2 has it, locked True\n"
                 "W2 releases\n"
                 "W1 result -1000, locked False\n");
    cr_assert_null(m.l.handed_to);
}

/* ======================================================================== */
/* lock_cancel: asyncio_lock_cancel.py                                      */
/* ======================================================================== */

struct lc_task {
    asyncio_coro co;
    int i;
    asyncio_lock *l;
    int *lock_flag;
};
static int lc_task_fn(asyncio_coro *co)
{
    struct lc_task *f = (struct lc_task *)co;
    ASYNC_BEGIN(co);
    trace("task %d start", f->i);
    ASYNC_TRY(AWAIT_LOCK(f->l));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("task %d cancel", f->i);
        ASYNC_RETURN(0);
    }
    trace("task %d lock_flag %s", f->i, tf(*f->lock_flag));
    *f->lock_flag = 1;
    YIELD;
    asyncio_lock_release(f->l);
    *f->lock_flag = 0;
    trace("task %d done", f->i);
    ASYNC_END;
}

struct lc_main {
    asyncio_coro co;
    asyncio_lock l;
    int lock_flag, i;
    asyncio_task t[4];
    struct lc_task f[4];
};
static int lc_main_fn(asyncio_coro *co)
{
    struct lc_main *f = (struct lc_main *)co;
    ASYNC_BEGIN(co);
    asyncio_lock_init(&f->l);
    AWAIT_LOCK(&f->l);
    f->lock_flag = 1;
    for (f->i = 0; f->i < 4; f->i++) {
        f->f[f->i].i = f->i;
        f->f[f->i].l = &f->l;
        f->f[f->i].lock_flag = &f->lock_flag;
        asyncio_create_task(&f->t[f->i], asyncio_coro_init(&f->f[f->i].co, lc_task_fn));
    }
    YIELD;
    asyncio_task_cancel(&f->t[1]);
    asyncio_task_cancel(&f->t[2]);
    asyncio_lock_release(&f->l);
    f->lock_flag = 0;
    for (f->i = 0; f->i < 4; f->i++)
        YIELD;
    trace("%s", tf(asyncio_lock_locked(&f->l)));
    ASYNC_END;
}

Test(lock, cancelled_waiters_report_cancel_and_the_rest_acquire_fifo_one_at_a_time)
{
    static struct lc_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, lc_main_fn), NULL), 0);
    assert_trace("task 0 start\n"
                 "task 1 start\n"
                 "task 2 start\n"
                 "task 3 start\n"
                 "task 1 cancel\n"
                 "task 2 cancel\n"
                 "task 0 lock_flag False\n"
                 "task 0 done\n"
                 "task 3 lock_flag False\n"
                 "task 3 done\n"
                 "False\n");
    for (int i = 0; i < 4; i++)
        cr_assert(asyncio_task_done(&m.t[i]));
}

/* ======================================================================== */
/* The scoped-lock helper: released on return, error and cancellation      */
/* ======================================================================== */

/* A task that runs `body` under the lock and reports how it ended. */
struct scoped {
    asyncio_coro co;
    const char *name;
    asyncio_lock *l;
    struct with_lock wl;
    struct body b;
    int32_t ms;
    int fail;
};
static int scoped_fn(asyncio_coro *co)
{
    struct scoped *f = (struct scoped *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(with_lock(&f->wl, f->l, body(&f->b, f->name, f->ms, f->fail, 42))));
    trace("%s ended: err %d value %ld, locked %s", f->name, AWAIT_ERROR, (long)AWAIT_RESULT,
          tf(asyncio_lock_locked(f->l)));
    ASYNC_END;
}
static asyncio_coro *scoped(struct scoped *f, const char *name, asyncio_lock *l, int32_t ms,
                            int fail)
{
    f->name = name;
    f->l = l;
    f->ms = ms;
    f->fail = fail;
    return asyncio_coro_init(&f->co, scoped_fn);
}

struct scoped_main {
    asyncio_coro co;
    asyncio_lock l;
    asyncio_task t[3];
    struct scoped s[3];
    int mode; /* 0 return, 1 error, 2 cancel while holding, 3 cancel while waiting */
};
static int scoped_main_fn(asyncio_coro *co)
{
    struct scoped_main *f = (struct scoped_main *)co;
    ASYNC_BEGIN(co);
    asyncio_lock_init(&f->l);
    if (f->mode == 3) {
        asyncio_create_task(&f->t[0], scoped(&f->s[0], "A", &f->l, 20, 0));
        asyncio_create_task(&f->t[1], scoped(&f->s[1], "B", &f->l, 10, 0));
        asyncio_create_task(&f->t[2], scoped(&f->s[2], "C", &f->l, 10, 0));
        AWAIT_SLEEP_MS(5);
        trace("cancel B (waiting) -> %d", asyncio_task_cancel(&f->t[1]));
    } else {
        asyncio_create_task(&f->t[0],
                            scoped(&f->s[0], "A", &f->l, 10, f->mode == 1 ? ASYNCIO_EUSER(5) : 0));
        asyncio_create_task(&f->t[1], scoped(&f->s[1], "B", &f->l, 10, 0));
        if (f->mode == 2) {
            AWAIT_SLEEP_MS(5);
            trace("cancel A (holding) -> %d", asyncio_task_cancel(&f->t[0]));
        }
    }
    AWAIT_SLEEP_MS(100);
    trace("main: locked %s at %u", tf(asyncio_lock_locked(&f->l)), asyncio_ticks_ms());
    ASYNC_END;
}

static void run_scoped(int mode)
{
    static struct scoped_main m;
    static asyncio_task t;
    m.mode = mode;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, scoped_main_fn), NULL), 0);
}

Test(lock, scoped_lock_released_on_normal_exit_and_value_returned)
{
    run_scoped(0);
    assert_trace("A\n"
                 "A ended: err 0 value 42, locked False\n"
                 "B\n"
                 "B ended: err 0 value 42, locked False\n"
                 "main: locked False at 100\n");
}

Test(lock, scoped_lock_released_when_the_body_fails_and_the_error_propagates)
{
    run_scoped(1);
    assert_trace("A\n"
                 "A ended: err -2005 value 0, locked False\n"
                 "B\n"
                 "B ended: err 0 value 42, locked False\n"
                 "main: locked False at 100\n");
}

Test(lock, scoped_lock_released_when_cancelled_while_holding_it)
{
    run_scoped(2);
    assert_trace("A\n"
                 "cancel A (holding) -> 1\n"
                 "A ended: err -1000 value 0, locked False\n"
                 "B\n"
                 "B ended: err 0 value 42, locked False\n"
                 "main: locked False at 105\n");
}

Test(lock, scoped_lock_cancelled_while_waiting_does_not_release_the_holders_lock)
{
    run_scoped(3);
    assert_trace("A\n"
                 "cancel B (waiting) -> 1\n"
                 "B ended: err -1000 value 0, locked True\n"
                 "A ended: err 0 value 42, locked False\n"
                 "C\n"
                 "C ended: err 0 value 42, locked False\n"
                 "main: locked False at 105\n");
}
