/* SPDX-License-Identifier: MIT */
/*
 * Conformance: tasks, scheduling and the loop (conformance.md, first table).
 * Each test replays one MicroPython scenario on the virtual clock and asserts
 * the exact trace MicroPython prints (its .exp file, or CPython's output
 * where MicroPython compares against CPython).
 */
#include "port_posix.h"
#include "trace.h"
#include "coros.h"

static void virtual_clock(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(tasks, .init = virtual_clock, .timeout = 10);

/* ------------------------------------------------------------------------ */
/* Small reusable coroutines                                                */
/* ------------------------------------------------------------------------ */

/* Returns `value` at once (foo() / nested()). */
struct ret {
    asyncio_coro co;
    asyncio_value value;
};
static int ret_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RETURN(((struct ret *)co)->value);
    ASYNC_END;
}
static asyncio_coro *ret(struct ret *f, asyncio_value v)
{
    f->value = v;
    return asyncio_coro_init(&f->co, ret_fn);
}

/* Sleeps `ms`, then traces `text` (delay_print). */
struct delay_print {
    asyncio_coro co;
    int64_t ms;
    const char *text;
};
static int delay_print_fn(asyncio_coro *co)
{
    struct delay_print *f = (struct delay_print *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    trace("%s", f->text);
    ASYNC_END;
}
static asyncio_coro *delay_print(struct delay_print *f, int64_t ms, const char *text)
{
    f->ms = ms;
    f->text = text;
    return asyncio_coro_init(&f->co, delay_print_fn);
}

/* Traces `text`, then fails with `err` (task_raise). */
struct raiser {
    asyncio_coro co;
    const char *text;
    int err;
};
static int raiser_fn(asyncio_coro *co)
{
    struct raiser *f = (struct raiser *)co;
    ASYNC_BEGIN(co);
    if (f->text)
        trace("%s", f->text);
    ASYNC_RAISE(f->err);
    ASYNC_END;
}
static asyncio_coro *raiser(struct raiser *f, const char *text, int err)
{
    f->text = text;
    f->err = err;
    return asyncio_coro_init(&f->co, raiser_fn);
}

#define EVALUE ASYNCIO_EUSER(1) /* stands for Python's ValueError */

/* ------------------------------------------------------------------------ */
/* await_return                                                             */
/* ------------------------------------------------------------------------ */

struct await_return {
    asyncio_coro co;
    struct ret foo;
    asyncio_task task;
};
static int await_return_main(asyncio_coro *co)
{
    struct await_return *f = (struct await_return *)co;
    ASYNC_BEGIN(co);
    AWAIT(ret(&f->foo, 42));
    trace("%ld", (long)AWAIT_RESULT);
    asyncio_create_task(&f->task, ret(&f->foo, 42));
    AWAIT_TASK(&f->task);
    trace("%ld", (long)AWAIT_RESULT);
    ASYNC_END;
}

Test(tasks, await_return_gives_the_value_from_a_coroutine_and_from_its_task)
{
    static struct await_return m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, await_return_main), NULL), 0);
    assert_trace("42\n42\n");
}

/* ------------------------------------------------------------------------ */
/* basic                                                                    */
/* ------------------------------------------------------------------------ */

struct basic {
    asyncio_coro co;
    struct delay_print dp;
    uint32_t t0, t1, t2, t3;
};
static int basic_main(asyncio_coro *co)
{
    struct basic *f = (struct basic *)co;
    ASYNC_BEGIN(co);
    trace("start");
    AWAIT_SLEEP(0.001);
    trace("after sleep");
    f->t0 = asyncio_ticks_ms();
    AWAIT(delay_print(&f->dp, asyncio_seconds_to_ms_(0.2), "short"));
    f->t1 = asyncio_ticks_ms();
    AWAIT(delay_print(&f->dp, asyncio_seconds_to_ms_(0.4), "long"));
    f->t2 = asyncio_ticks_ms();
    AWAIT(delay_print(&f->dp, asyncio_seconds_to_ms_(-1), "negative"));
    f->t3 = asyncio_ticks_ms();
    trace("took %d %d %d", asyncio_ticks_diff(f->t1, f->t0), asyncio_ticks_diff(f->t2, f->t1),
          asyncio_ticks_diff(f->t3, f->t2));
    ASYNC_END;
}

Test(tasks, basic_sleeps_take_their_time_and_a_negative_sleep_returns_at_once)
{
    static struct basic m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, basic_main), NULL), 0);
    assert_trace("start\nafter sleep\nshort\nlong\nnegative\ntook 200 400 0\n");
}

/* ------------------------------------------------------------------------ */
/* basic2                                                                   */
/* ------------------------------------------------------------------------ */

static int forever_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("forever start");
    AWAIT_SLEEP(10);
    trace("forever end");
    ASYNC_END;
}

struct basic2 {
    asyncio_coro co;
    asyncio_coro forever;
    asyncio_task side;
};
static int basic2_main(asyncio_coro *co)
{
    struct basic2 *f = (struct basic2 *)co;
    ASYNC_BEGIN(co);
    trace("main start");
    asyncio_create_task(&f->side, asyncio_coro_init(&f->forever, forever_fn));
    AWAIT_SLEEP(0.001);
    trace("main done");
    ASYNC_RETURN(42);
    ASYNC_END;
}

Test(tasks, basic2_run_returns_when_main_ends_leaving_a_sleeping_task_alone)
{
    static struct basic2 m;
    static asyncio_task t;
    asyncio_value v = 0;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, basic2_main), &v), 0);
    trace("%ld", (long)v);
    assert_trace("main start\nforever start\nmain done\n42\n");
    cr_assert_eq(asyncio_ticks_ms(), 1, "run() did not wait for the side task");
    cr_assert(!asyncio_task_done(&m.side), "the side task was neither awaited nor cancelled");
}

/* ------------------------------------------------------------------------ */
/* cancel_fair                                                              */
/* ------------------------------------------------------------------------ */

static asyncio_task fair_tasks[3];

struct canceller {
    asyncio_coro co;
    int id, other, i;
};
static int canceller_fn(asyncio_coro *co)
{
    struct canceller *f = (struct canceller *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < 3; f->i++) {
        trace("start %d", f->id);
        ASYNC_TRY(YIELD);
        if (AWAIT_ERROR == ASYNCIO_ECANCELLED)
            trace("cancelled %d", f->id);
        else
            trace("done %d", f->id);
        if (f->other >= 0) {
            trace("%d cancels %d", f->id, f->other);
            asyncio_task_cancel(&fair_tasks[f->other]);
        }
    }
    ASYNC_END;
}
static asyncio_coro *canceller(struct canceller *f, int id, int other)
{
    f->id = id;
    f->other = other;
    return asyncio_coro_init(&f->co, canceller_fn);
}

struct cancel_fair {
    asyncio_coro co;
    struct canceller c[3];
};
static int cancel_fair_main(asyncio_coro *co)
{
    struct cancel_fair *f = (struct cancel_fair *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&fair_tasks[0], canceller(&f->c[0], 0, 1));
    asyncio_create_task(&fair_tasks[1], canceller(&f->c[1], 1, 0));
    asyncio_create_task(&fair_tasks[2], canceller(&f->c[2], 2, -1));
    AWAIT_TASK(&fair_tasks[2]);
    ASYNC_END;
}

Test(tasks, cancel_fair_a_cancel_queues_the_target_behind_tasks_already_runnable)
{
    static struct cancel_fair m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_fair_main), NULL), 0);
    assert_trace("start 0\nstart 1\nstart 2\ndone 0\n0 cancels 1\nstart 0\ncancelled 1\n"
                 "1 cancels 0\nstart 1\ndone 2\nstart 2\ncancelled 0\n0 cancels 1\nstart 0\n"
                 "cancelled 1\n1 cancels 0\nstart 1\ndone 2\nstart 2\ncancelled 0\n0 cancels 1\n"
                 "cancelled 1\n1 cancels 0\ndone 2\n");
}

/* ------------------------------------------------------------------------ */
/* cancel_fair2                                                             */
/* ------------------------------------------------------------------------ */

static int task_a_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (;;) {
        trace("sleep a");
        ASYNC_TRY(YIELD);
        if (AWAIT_ERROR == ASYNCIO_ECANCELLED)
            break;
    }
    trace("cancelled a");
    ASYNC_END;
}

struct task_b {
    asyncio_coro co;
    int id;
    asyncio_task *other;
};
static int task_b_fn(asyncio_coro *co)
{
    struct task_b *f = (struct task_b *)co;
    ASYNC_BEGIN(co);
    while (asyncio_task_cancel(f->other) == 1) {
        trace("sleep b %d", f->id);
        YIELD;
    }
    trace("done b %d", f->id);
    ASYNC_END;
}

struct cancel_fair2 {
    asyncio_coro co, a;
    asyncio_task ta, tb[3];
    struct task_b b[3];
    int i;
};
static int cancel_fair2_main(asyncio_coro *co)
{
    struct cancel_fair2 *f = (struct cancel_fair2 *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->ta, asyncio_coro_init(&f->a, task_a_fn));
    for (f->i = 0; f->i < 3; f->i++) {
        f->b[f->i].id = f->i;
        f->b[f->i].other = &f->ta;
        asyncio_create_task(&f->tb[f->i], asyncio_coro_init(&f->b[f->i].co, task_b_fn));
    }
    AWAIT_TASK(&f->ta);
    ASYNC_END;
}

Test(tasks, cancel_fair2_cancel_returns_true_while_pending_and_is_seen_on_the_next_resume)
{
    static struct cancel_fair2 m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_fair2_main), NULL), 0);
    assert_trace("sleep a\nsleep b 0\nsleep b 1\nsleep b 2\ncancelled a\ndone b 0\ndone b 1\n"
                 "done b 2\n");
}

/* ------------------------------------------------------------------------ */
/* cancel_self                                                              */
/* ------------------------------------------------------------------------ */

static asyncio_task self_task;

static int cancel_self_task(asyncio_coro *co)
{
    int r;
    ASYNC_BEGIN(co);
    trace("task start");
    r = asyncio_task_cancel(&self_task);
    if (r < 0)
        ASYNC_RAISE(r);
    ASYNC_END;
}

struct cancel_self {
    asyncio_coro co, task;
};
static int cancel_self_main(asyncio_coro *co)
{
    struct cancel_self *f = (struct cancel_self *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&self_task, asyncio_coro_init(&f->task, cancel_self_task));
    ASYNC_TRY(AWAIT_TASK(&self_task));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED)
        trace("main cancel");
    else if (AWAIT_ERROR)
        ASYNC_RAISE(AWAIT_ERROR);
    trace("main done");
    ASYNC_END;
}

Test(tasks, cancel_self_is_a_runtime_error_that_propagates_out_of_run)
{
    static struct cancel_self m;
    static asyncio_task t;
    int r = asyncio_run(&t, asyncio_coro_init(&m.co, cancel_self_main), NULL);
    trace("%s", asyncio_strerror(r));
    cr_assert_eq(r, ASYNCIO_ESELF);
    assert_trace("task start\ncan't cancel self\n");
}

/* ------------------------------------------------------------------------ */
/* cancel_task                                                              */
/* ------------------------------------------------------------------------ */

struct ctask {
    asyncio_coro co;
    int64_t ms;
    int allow_cancel;
};
static int ctask_fn(asyncio_coro *co)
{
    struct ctask *f = (struct ctask *)co;
    ASYNC_BEGIN(co);
    trace("task start");
    ASYNC_TRY(AWAIT_SLEEP_MS(f->ms));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("task cancel");
        if (f->allow_cancel)
            ASYNC_RAISE(AWAIT_ERROR);
    } else {
        trace("task done");
    }
    ASYNC_END;
}
static asyncio_coro *ctask(struct ctask *f, int64_t ms, int allow_cancel)
{
    f->ms = ms;
    f->allow_cancel = allow_cancel;
    return asyncio_coro_init(&f->co, ctask_fn);
}

struct task2 {
    asyncio_coro co;
    struct ctask inner;
    asyncio_task t;
    int allow_cancel;
};
static int task2_fn(asyncio_coro *co)
{
    struct task2 *f = (struct task2 *)co;
    ASYNC_BEGIN(co);
    trace("task 2");
    asyncio_create_task(&f->t, ctask(&f->inner, 50, f->allow_cancel));
    ASYNC_TRY(AWAIT_TASK(&f->t));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED) {
        trace("task 2 cancel");
        ASYNC_RAISE(AWAIT_ERROR);
    }
    trace("task 2 done");
    ASYNC_END;
}

struct cancel_task {
    asyncio_coro co;
    struct ctask c[4]; /* each pending task needs its own frame and task */
    struct task2 t2[2];
    asyncio_task t[6];
    int i;
};
static int cancel_task_main(asyncio_coro *co)
{
    struct cancel_task *f = (struct cancel_task *)co;
    ASYNC_BEGIN(co);
    /* Cancel a task before it runs. */
    asyncio_create_task(&f->t[0], ctask(&f->c[0], 2000, 1));
    trace("%s", asyncio_task_cancel(&f->t[0]) == 1 ? "True" : "False");
    /* Cancel a task after it started. */
    asyncio_create_task(&f->t[1], ctask(&f->c[1], 2000, 1));
    AWAIT_SLEEP_MS(10);
    trace("%s", asyncio_task_cancel(&f->t[1]) == 1 ? "True" : "False");
    trace("main sleep");
    AWAIT_SLEEP_MS(10);
    /* Cancel it several times. */
    asyncio_create_task(&f->t[2], ctask(&f->c[2], 2000, 1));
    AWAIT_SLEEP_MS(10);
    for (f->i = 0; f->i < 4; f->i++)
        trace("%s", asyncio_task_cancel(&f->t[2]) == 1 ? "True" : "False");
    trace("main sleep");
    AWAIT_SLEEP_MS(10);
    /* Await a cancelled task. */
    trace("main wait");
    ASYNC_TRY(AWAIT_TASK(&f->t[2]));
    if (AWAIT_ERROR == ASYNCIO_ECANCELLED)
        trace("main got CancelledError");
    /* Cancel a finished task. */
    asyncio_create_task(&f->t[3], ctask(&f->c[3], 10, 0));
    AWAIT_SLEEP_MS(50);
    trace("%s", asyncio_task_cancel(&f->t[3]) == 1 ? "True" : "False");
    /* Nested: the cancel is forwarded to the inner task, which re-raises. */
    trace("----");
    f->t2[0].allow_cancel = 1;
    asyncio_create_task(&f->t[4], asyncio_coro_init(&f->t2[0].co, task2_fn));
    AWAIT_SLEEP_MS(10);
    trace("main cancel");
    asyncio_task_cancel(&f->t[4]);
    trace("main sleep");
    AWAIT_SLEEP_MS(100);
    /* Nested: the inner task swallows it, so task 2 carries on. */
    trace("----");
    f->t2[1].allow_cancel = 0;
    asyncio_create_task(&f->t[5], asyncio_coro_init(&f->t2[1].co, task2_fn));
    AWAIT_SLEEP_MS(10);
    trace("main cancel");
    asyncio_task_cancel(&f->t[5]);
    trace("main sleep");
    AWAIT_SLEEP_MS(100);
    ASYNC_END;
}

Test(tasks, cancel_task_before_start_while_sleeping_repeatedly_after_finish_and_nested)
{
    static struct cancel_task m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_task_main), NULL), 0);
    assert_trace("True\ntask start\nTrue\nmain sleep\ntask cancel\ntask start\nTrue\nTrue\nTrue\n"
                 "True\nmain sleep\ntask cancel\nmain wait\nmain got CancelledError\ntask start\n"
                 "task done\nFalse\n----\ntask 2\ntask start\nmain cancel\nmain sleep\n"
                 "task cancel\ntask 2 cancel\n----\ntask 2\ntask start\nmain cancel\nmain sleep\n"
                 "task cancel\ntask 2 done\n");
}

/* ------------------------------------------------------------------------ */
/* cancel_wait_on_finished                                                  */
/* ------------------------------------------------------------------------ */

static int sleep_task_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("sleep_task sleep");
    YIELD;
    trace("sleep_task wake");
    ASYNC_END;
}

struct wait_task {
    asyncio_coro co;
    asyncio_task *t;
};
static int wait_task_fn(asyncio_coro *co)
{
    struct wait_task *f = (struct wait_task *)co;
    ASYNC_BEGIN(co);
    trace("wait_task wait");
    AWAIT_TASK(f->t);
    trace("wait_task wake");
    ASYNC_END;
}

struct cancel_wait_on_finished {
    asyncio_coro co, sleeper;
    struct wait_task waiter;
    asyncio_task ts, tw;
};
static int cwof_main(asyncio_coro *co)
{
    struct cancel_wait_on_finished *f = (struct cancel_wait_on_finished *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->ts, asyncio_coro_init(&f->sleeper, sleep_task_fn));
    f->waiter.t = &f->ts;
    asyncio_create_task(&f->tw, asyncio_coro_init(&f->waiter.co, wait_task_fn));
    trace("main sleep");
    YIELD;
    trace("main sleep");
    YIELD;
    asyncio_task_cancel(&f->tw);
    trace("main wait");
    ASYNC_TRY(AWAIT_TASK(&f->tw));
    trace("%s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(tasks, cancel_wait_on_finished_a_woken_waiter_still_receives_the_cancel)
{
    static struct cancel_wait_on_finished m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cwof_main), NULL), 0);
    assert_trace("main sleep\nsleep_task sleep\nwait_task wait\nmain sleep\nsleep_task wake\n"
                 "main wait\ncancelled\n");
}

/* ------------------------------------------------------------------------ */
/* current_task                                                             */
/* ------------------------------------------------------------------------ */

struct current {
    asyncio_coro co;
    asyncio_task **result;
};
static int current_fn(asyncio_coro *co)
{
    struct current *f = (struct current *)co;
    ASYNC_BEGIN(co);
    *f->result = asyncio_current_task(NULL);
    ASYNC_END;
}

struct current_main {
    asyncio_coro co;
    struct current c;
    asyncio_task t;
    asyncio_task *result;
};
static int current_main_fn(asyncio_coro *co)
{
    struct current_main *f = (struct current_main *)co;
    ASYNC_BEGIN(co);
    f->c.result = &f->result;
    asyncio_create_task(&f->t, asyncio_coro_init(&f->c.co, current_fn));
    YIELD;
    YIELD;
    trace("%s", f->result == &f->t ? "True" : "False");
    ASYNC_END;
}

Test(tasks, current_task_is_the_running_task_and_an_error_outside_the_loop)
{
    static struct current_main m;
    static asyncio_task t;
    int err = 0;
    cr_assert_null(asyncio_current_task(&err));
    cr_assert_eq(err, ASYNCIO_ENOLOOP);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, current_main_fn), NULL), 0);
    cr_assert_null(asyncio_current_task(&err));
    cr_assert_eq(err, ASYNCIO_ENOLOOP);
    assert_trace("True\n");
}

/* ------------------------------------------------------------------------ */
/* exception                                                                */
/* ------------------------------------------------------------------------ */

static int exc_main1(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("main start");
    ASYNC_RAISE(ASYNCIO_EUSER(1));
    trace("main done");
    ASYNC_END;
}

struct exc_main2 {
    asyncio_coro co;
    struct raiser r;
    asyncio_task t;
    int create_only;
};
static int exc_main2(asyncio_coro *co)
{
    struct exc_main2 *f = (struct exc_main2 *)co;
    ASYNC_BEGIN(co);
    trace("main start");
    asyncio_create_task(&f->t, raiser(&f->r, "task start", ASYNCIO_EUSER(2)));
    if (f->create_only)
        ASYNC_RAISE(ASYNCIO_EUSER(3));
    AWAIT_TASK(&f->t);
    trace("main done");
    ASYNC_END;
}

Test(tasks, exception_in_main_or_awaited_task_propagates_out_of_run)
{
    static asyncio_coro m1;
    static struct exc_main2 m2, m3;
    static asyncio_task t1, t2, t3;
    trace("ValueError %d", -2000 - asyncio_run(&t1, asyncio_coro_init(&m1, exc_main1), NULL));
    trace("ValueError %d", -2000 - asyncio_run(&t2, asyncio_coro_init(&m2.co, exc_main2), NULL));
    m3.create_only = 1;
    trace("ValueError %d", -2000 - asyncio_run(&t3, asyncio_coro_init(&m3.co, exc_main2), NULL));
    assert_trace("main start\nValueError 1\nmain start\ntask start\nValueError 2\n"
                 "main start\nValueError 3\n");
    cr_assert(!asyncio_task_done(&m3.t), "the sub-task of a failed main never ran");
}

/* ------------------------------------------------------------------------ */
/* fair                                                                     */
/* ------------------------------------------------------------------------ */

struct worker {
    asyncio_coro co;
    int id;
    int64_t ms;
};
static int worker_fn(asyncio_coro *co)
{
    struct worker *f = (struct worker *)co;
    ASYNC_BEGIN(co);
    trace("task start %d", f->id);
    for (;;) {
        if (f->ms > 0)
            trace("task work %d", f->id);
        AWAIT_SLEEP_MS(f->ms);
    }
    ASYNC_END;
}

struct fair {
    asyncio_coro co;
    struct worker w[4];
    asyncio_task t[4];
    int i;
};
static int fair_main(asyncio_coro *co)
{
    static const int64_t periods[4] = {-10, 100, 180, -100000};
    struct fair *f = (struct fair *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < 4; f->i++) {
        f->w[f->i].id = f->i + 1;
        f->w[f->i].ms = periods[f->i];
        asyncio_create_task(&f->t[f->i], asyncio_coro_init(&f->w[f->i].co, worker_fn));
    }
    AWAIT_SLEEP_MS(450);
    for (f->i = 0; f->i < 4; f->i++)
        asyncio_task_cancel(&f->t[f->i]);
    trace("finish");
    ASYNC_END;
}

/* Busy tasks never let the loop idle, so virtual time would stand still: like
 * MicroPython, this one runs on the real clock (its order has 20 ms margins). */
Test(tasks, fair_busy_yielding_tasks_do_not_starve_timed_tasks)
{
    static struct fair m;
    static asyncio_task t;
    asyncio_posix_virtual_time(0, 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, fair_main), NULL), 0);
    assert_trace("task start 1\ntask start 2\ntask work 2\ntask start 3\ntask work 3\n"
                 "task start 4\ntask work 2\ntask work 3\ntask work 2\ntask work 2\n"
                 "task work 3\ntask work 2\nfinish\n");
}

/* ------------------------------------------------------------------------ */
/* get_event_loop                                                           */
/* ------------------------------------------------------------------------ */

static int gel_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("start");
    AWAIT_SLEEP_MS(10);
    trace("end");
    ASYNC_END;
}

Test(tasks, get_event_loop_then_run_until_complete)
{
    static asyncio_coro m;
    static asyncio_task t;
    asyncio_loop *loop = asyncio_get_event_loop();
    cr_assert_not_null(loop);
    cr_assert_eq(asyncio_loop_create_task(loop, &t, asyncio_coro_init(&m, gel_main)), 0);
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &t, NULL), 0);
    assert_trace("start\nend\n");
}

/* ------------------------------------------------------------------------ */
/* loop_stop                                                                */
/* ------------------------------------------------------------------------ */

static int stop_task_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("task");
    ASYNC_END;
}

struct loop_stop {
    asyncio_coro co, task;
    asyncio_task t;
};
static int loop_stop_main(asyncio_coro *co)
{
    struct loop_stop *f = (struct loop_stop *)co;
    asyncio_loop *loop = asyncio_get_event_loop();
    ASYNC_BEGIN(co);
    trace("start");
    asyncio_loop_stop(loop);
    asyncio_loop_stop(loop); /* a second stop() does nothing */
    trace("sleep");
    YIELD;
    asyncio_loop_stop(loop); /* stop, then a new task, then yield */
    asyncio_create_task(&f->t, asyncio_coro_init(&f->task, stop_task_fn));
    YIELD;
    trace("end");
    asyncio_loop_stop(loop);
    ASYNC_END;
}

Test(tasks, loop_stop_returns_from_run_forever_at_the_next_yield_and_it_can_be_reentered)
{
    static struct loop_stop m;
    static asyncio_task t;
    asyncio_loop *loop = asyncio_new_event_loop();
    int i;
    asyncio_loop_create_task(loop, &t, asyncio_coro_init(&m.co, loop_stop_main));
    for (i = 0; i < 3; i++) {
        trace("run %d", i);
        cr_assert_eq(asyncio_loop_run_forever(loop), 0);
    }
    assert_trace("run 0\nstart\nsleep\nrun 1\nrun 2\ntask\nend\n");
}

/* ------------------------------------------------------------------------ */
/* micropython: sleep_ms overflow, wait_for_ms                              */
/* ------------------------------------------------------------------------ */

struct mp_main {
    asyncio_coro co;
    struct mp_task task;
    asyncio_wait_for_state wf;
    uint32_t t0;
};
static int mp_main_fn(asyncio_coro *co)
{
    struct mp_main *f = (struct mp_main *)co;
    ASYNC_BEGIN(co);
    f->t0 = asyncio_ticks_ms();
    AWAIT_SLEEP_MS(1);
    trace("%s", asyncio_ticks_diff(asyncio_ticks_ms(), f->t0) < 100 ? "True" : "False");
    /* 1 ms beyond the longest sleep: half the tick period. */
    ASYNC_TRY(AWAIT_SLEEP_MS((int64_t)ASYNCIO_SLEEP_MAX_MS + 1));
    if (AWAIT_ERROR == ASYNCIO_EOVERFLOW)
        trace("OverflowError");
    AWAIT(asyncio_wait_for_ms(&f->wf, mp_task(&f->task, 1, 5), 50));
    trace("%ld", (long)AWAIT_RESULT);
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, mp_task(&f->task, 2, 50), 5)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        trace("timeout");
    trace("finish");
    ASYNC_END;
}

Test(tasks, micropython_sleep_ms_overflow_and_wait_for_ms)
{
    static struct mp_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, mp_main_fn), NULL), 0);
    assert_trace("True\nOverflowError\ntask start 1\ntask end 1\n2\ntask start 2\ntimeout\n"
                 "finish\n");
}

Test(tasks, the_longest_sleep_is_half_the_tick_period_minus_one)
{
    static struct delay_print dp;
    static asyncio_task t;
    asyncio_posix_virtual_time(1, 0xFFFFFF00u); /* across the wrap, too */
    cr_assert_eq(asyncio_run(&t, delay_print(&dp, ASYNCIO_SLEEP_MAX_MS, "woke"), NULL), 0);
    cr_assert_eq(asyncio_ticks_ms(), 0xFFFFFF00u + 0x7FFFFFFFu);
    assert_trace("woke\n");
}

/* ------------------------------------------------------------------------ */
/* new_event_loop                                                           */
/* ------------------------------------------------------------------------ */

static int nel_task(asyncio_coro *co)
{
    static int i;
    ASYNC_BEGIN(co);
    for (i = 0; i < 4; i++) {
        trace("task %d", i);
        YIELD;
        YIELD;
    }
    ASYNC_END;
}

struct nel_main {
    asyncio_coro co, task;
    asyncio_task t;
};
static int nel_main_fn(asyncio_coro *co)
{
    struct nel_main *f = (struct nel_main *)co;
    asyncio_loop *loop = asyncio_get_event_loop();
    ASYNC_BEGIN(co);
    trace("start");
    asyncio_loop_create_task(loop, &f->t, asyncio_coro_init(&f->task, nel_task));
    YIELD;
    trace("stop");
    asyncio_loop_stop(loop);
    ASYNC_END;
}

static void silent_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    trace("handler %s", ctx->message);
}

Test(tasks, new_event_loop_drops_the_old_loops_tasks)
{
    static struct nel_main m1, m2;
    static asyncio_task t1, t2;
    asyncio_loop *loop = asyncio_get_event_loop();
    asyncio_loop_set_exception_handler(loop, silent_handler);
    asyncio_loop_create_task(loop, &t1, asyncio_coro_init(&m1.co, nel_main_fn));
    cr_assert_eq(asyncio_loop_run_forever(loop), 0);
    cr_assert_eq(asyncio_loop_close(loop), 0);
    loop = asyncio_new_event_loop();
    cr_assert_null(asyncio_loop_get_exception_handler(loop), "a new loop has no handler");
    asyncio_loop_set_exception_handler(loop, silent_handler);
    asyncio_loop_create_task(loop, &t2, asyncio_coro_init(&m2.co, nel_main_fn));
    cr_assert_eq(asyncio_loop_run_forever(loop), 0);
    cr_assert_eq(asyncio_loop_close(loop), 0);
    assert_trace("start\ntask 0\nstop\nstart\ntask 0\nstop\n");
    cr_assert(!asyncio_task_done(&m1.t), "the first loop's task never ran again");
}

/* ------------------------------------------------------------------------ */
/* set_exception_handler                                                    */
/* ------------------------------------------------------------------------ */

static void custom_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    cr_assert_str_eq(ctx->message, "Task exception wasn't retrieved");
    cr_assert_not_null(ctx->task);
    trace("custom_handler ValueError(%d)", -2000 - ctx->error);
}

struct seh {
    asyncio_coro co;
    struct raiser r[4];
    asyncio_task t[4];
    int i;
};
static int seh_main(asyncio_coro *co)
{
    struct seh *f = (struct seh *)co;
    asyncio_loop *loop = asyncio_get_event_loop();
    ASYNC_BEGIN(co);
    trace("%s", asyncio_loop_get_exception_handler(loop) ? "handler" : "None");
    asyncio_loop_set_exception_handler(loop, custom_handler);
    trace("%s", asyncio_loop_get_exception_handler(loop) == custom_handler ? "True" : "False");
    asyncio_create_task(&f->t[0], raiser(&f->r[0], NULL, ASYNCIO_EUSER(0)));
    trace("sleep");
    for (f->i = 0; f->i < 2; f->i++)
        YIELD;
    asyncio_create_task(&f->t[1], raiser(&f->r[1], NULL, ASYNCIO_EUSER(1)));
    asyncio_create_task(&f->t[2], raiser(&f->r[2], NULL, ASYNCIO_EUSER(2)));
    trace("sleep");
    for (f->i = 0; f->i < 2; f->i++)
        YIELD;
    asyncio_create_task(&f->t[3], raiser(&f->r[3], NULL, ASYNCIO_EUSER(3)));
    YIELD;
    ASYNC_TRY(AWAIT_TASK(&f->t[3]));
    trace("ValueError(%d)", -2000 - AWAIT_ERROR);
    trace("done");
    ASYNC_END;
}

Test(tasks, set_exception_handler_sees_unretrieved_errors_one_pass_later_in_task_order)
{
    static struct seh m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, seh_main), NULL), 0);
    assert_trace("None\nTrue\nsleep\ncustom_handler ValueError(0)\nsleep\n"
                 "custom_handler ValueError(1)\ncustom_handler ValueError(2)\nValueError(3)\n"
                 "done\n");
}

Test(tasks, call_exception_handler_uses_the_default_handler_when_none_is_set)
{
    asyncio_loop *loop = asyncio_get_event_loop();
    asyncio_context ctx = {"from a test", ASYNCIO_EUSER(5), NULL};
    asyncio_loop_call_exception_handler(loop, &ctx); /* prints to stderr */
    asyncio_loop_set_exception_handler(loop, silent_handler);
    asyncio_loop_call_exception_handler(loop, &ctx);
    asyncio_loop_set_exception_handler(loop, NULL);
    cr_assert_null(asyncio_loop_get_exception_handler(loop));
    assert_trace("handler from a test\n");
}

/* ------------------------------------------------------------------------ */
/* task_done                                                                */
/* ------------------------------------------------------------------------ */

struct td_task {
    asyncio_coro co;
    int64_t ms;
    int err;
};
static int td_task_fn(asyncio_coro *co)
{
    struct td_task *f = (struct td_task *)co;
    ASYNC_BEGIN(co);
    trace("task start");
    if (f->ms >= 0)
        AWAIT_SLEEP_MS(f->ms);
    if (f->err)
        ASYNC_RAISE(f->err);
    trace("task done");
    ASYNC_END;
}

struct td_main {
    asyncio_coro co;
    struct td_task c;
    asyncio_task t;
    int round;
};
static int td_main_fn(asyncio_coro *co)
{
    static const int64_t ms[4] = {-1, 10, -1, 10};
    static const int err[4] = {0, 0, EVALUE, EVALUE};
    struct td_main *f = (struct td_main *)co;
    ASYNC_BEGIN(co);
    for (f->round = 0; f->round < 4; f->round++) {
        trace("==========");
        f->c.ms = ms[f->round];
        f->c.err = err[f->round];
        asyncio_create_task(&f->t, asyncio_coro_init(&f->c.co, td_task_fn));
        trace("%s", asyncio_task_done(&f->t) ? "True" : "False");
        YIELD;
        trace("%s", asyncio_task_done(&f->t) ? "True" : "False");
        ASYNC_TRY(AWAIT_TASK(&f->t));
        if (AWAIT_ERROR == EVALUE)
            trace("ValueError()");
        trace("%s", asyncio_task_done(&f->t) ? "True" : "False");
    }
    ASYNC_END;
}

Test(tasks, task_done_is_false_until_the_task_returns_or_fails)
{
    static struct td_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, td_main_fn), NULL), 0);
    assert_trace("==========\nFalse\ntask start\ntask done\nTrue\nTrue\n"
                 "==========\nFalse\ntask start\nFalse\ntask done\nTrue\n"
                 "==========\nFalse\ntask start\nTrue\nValueError()\nTrue\n"
                 "==========\nFalse\ntask start\nFalse\nValueError()\nTrue\n");
}

/* ------------------------------------------------------------------------ */
/* wait_for_linked_task                                                     */
/* ------------------------------------------------------------------------ */

struct job {
    asyncio_coro co;
    asyncio_task *prerequisite;
    const char *name;
};
static int job_fn(asyncio_coro *co)
{
    struct job *f = (struct job *)co;
    ASYNC_BEGIN(co);
    if (f->prerequisite)
        AWAIT_TASK(f->prerequisite);
    AWAIT_SLEEP_MS(100);
    trace("%s work completed", f->name);
    ASYNC_END;
}

struct worker_pool {
    struct job jobs[3];
    asyncio_task tasks[3];
};
static void plan_tasks(struct worker_pool *w)
{
    static const char *names[3] = {"task0", "task1", "task2"};
    asyncio_loop *loop = asyncio_get_event_loop();
    int i;
    for (i = 0; i < 3; i++) {
        w->jobs[i].prerequisite = i ? &w->tasks[i - 1] : NULL;
        w->jobs[i].name = names[i];
        asyncio_loop_create_task(loop, &w->tasks[i], asyncio_coro_init(&w->jobs[i].co, job_fn));
    }
}

struct async_test {
    asyncio_coro co;
    struct worker_pool w;
};
static int async_test_fn(asyncio_coro *co)
{
    struct async_test *f = (struct async_test *)co;
    ASYNC_BEGIN(co);
    trace("--- async test");
    plan_tasks(&f->w);
    AWAIT_TASK(&f->w.tasks[0]);
    trace("-> task0 done");
    AWAIT_TASK(&f->w.tasks[2]);
    trace("-> task2 done");
    ASYNC_END;
}

Test(tasks, wait_for_linked_task_awaiting_and_repeated_run_until_complete)
{
    static struct async_test m;
    static struct worker_pool w;
    static asyncio_task t;
    asyncio_loop *loop = asyncio_get_event_loop();
    asyncio_loop_create_task(loop, &t, asyncio_coro_init(&m.co, async_test_fn));
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &t, NULL), 0);
    trace("--- sync test");
    plan_tasks(&w);
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &w.tasks[0], NULL), 0);
    trace("-> task0 done");
    cr_assert_eq(asyncio_loop_run_until_complete(loop, &w.tasks[2], NULL), 0);
    trace("-> task2 done");
    assert_trace("--- async test\ntask0 work completed\n-> task0 done\ntask1 work completed\n"
                 "task2 work completed\n-> task2 done\n--- sync test\ntask0 work completed\n"
                 "-> task0 done\ntask1 work completed\ntask2 work completed\n-> task2 done\n");
}

/* ------------------------------------------------------------------------ */
/* wait_task                                                                */
/* ------------------------------------------------------------------------ */

struct print_task {
    asyncio_coro co;
    int n;
};
static int print_task_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("task %d", ((struct print_task *)co)->n);
    ASYNC_END;
}

static void ignore_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    (void)ctx;
}

struct wt_main {
    asyncio_coro co;
    struct print_task p;
    struct delay_print d1, d2;
    struct raiser r;
    asyncio_task t, ts1, ts2;
    uint32_t t0, t1, t2;
    int i;
};
static int wt_main_fn(asyncio_coro *co)
{
    struct wt_main *f = (struct wt_main *)co;
    ASYNC_BEGIN(co);
    trace("start");
    f->p.n = 1;
    asyncio_create_task(&f->t, asyncio_coro_init(&f->p.co, print_task_fn));
    AWAIT_TASK(&f->t);
    f->p.n = 2;
    asyncio_create_task(&f->t, asyncio_coro_init(&f->p.co, print_task_fn));
    AWAIT_SLEEP_MS(1);
    AWAIT_TASK(&f->t); /* already done */
    AWAIT_TASK(&f->t); /* and again */
    trace("----");
    asyncio_create_task(&f->ts1, delay_print(&f->d1, 200, "hello"));
    asyncio_create_task(&f->ts2, delay_print(&f->d2, 400, "world"));
    trace("start");
    f->t0 = asyncio_ticks_ms();
    AWAIT_TASK(&f->ts1);
    f->t1 = asyncio_ticks_ms();
    AWAIT_TASK(&f->ts2);
    f->t2 = asyncio_ticks_ms();
    trace("took %d %d", asyncio_ticks_diff(f->t1, f->t0), asyncio_ticks_diff(f->t2, f->t1));
    asyncio_create_task(&f->t, raiser(&f->r, "task_raise", EVALUE));
    ASYNC_TRY(AWAIT_TASK(&f->t));
    if (AWAIT_ERROR == EVALUE)
        trace("ValueError");
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), ignore_handler);
    asyncio_create_task(&f->t, raiser(&f->r, "task_raise", EVALUE));
    for (f->i = 0; f->i < 5; f->i++)
        YIELD;
    ASYNC_TRY(AWAIT_TASK(&f->t)); /* long after it failed */
    if (AWAIT_ERROR == EVALUE)
        trace("ValueError");
    ASYNC_END;
}

Test(tasks, wait_task_done_or_not_twice_in_parallel_and_long_after_it_failed)
{
    static struct wt_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, wt_main_fn), NULL), 0);
    assert_trace("start\ntask 1\ntask 2\n----\nstart\nhello\nworld\ntook 200 200\ntask_raise\n"
                 "ValueError\ntask_raise\nValueError\n");
}

/* ------------------------------------------------------------------------ */
/* heaplock: scheduling and sleep_ms never allocate (the core has no        */
/* malloc at all; tests/test_nomalloc checks the link); pinned interleaving */
/* ------------------------------------------------------------------------ */

struct counter_task {
    asyncio_coro co;
    int id, n, i;
    int64_t ms;
};
static int counter_task_fn(asyncio_coro *co)
{
    struct counter_task *f = (struct counter_task *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < f->n; f->i++) {
        trace("%d %d", f->id, f->i);
        AWAIT_SLEEP_MS(f->ms);
    }
    ASYNC_END;
}

struct heaplock {
    asyncio_coro co;
    struct counter_task c1, c2;
    asyncio_task t1, t2;
};
static int heaplock_main(asyncio_coro *co)
{
    struct heaplock *f = (struct heaplock *)co;
    ASYNC_BEGIN(co);
    f->c1.id = 1, f->c1.n = 4, f->c1.ms = 100;
    f->c2.id = 2, f->c2.n = 2, f->c2.ms = 250;
    asyncio_create_task(&f->t1, asyncio_coro_init(&f->c1.co, counter_task_fn));
    asyncio_create_task(&f->t2, asyncio_coro_init(&f->c2.co, counter_task_fn));
    trace("start");
    AWAIT_SLEEP_MS(5);
    trace("sleep");
    AWAIT_SLEEP_MS(350);
    trace("finish");
    ASYNC_END;
}

Test(tasks, heaplock_100ms_and_250ms_tasks_interleave_as_pinned)
{
    static struct heaplock m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, heaplock_main), NULL), 0);
    assert_trace("start\n1 0\n2 0\nsleep\n1 1\n1 2\n2 1\n1 3\nfinish\n");
}
