/* SPDX-License-Identifier: MIT */
/* gather: the "gather", "gather_finished_early" and "gather_notimpl"
 * conformance rows. Python's ValueError(n) is ASYNCIO_EUSER(n). */
#include "port_posix.h"
#include "trace.h"

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(gather, .init = setup, .timeout = 10);
TestSuite(gather_finished_early, .init = setup, .timeout = 10);
TestSuite(gather_notimpl, .init = setup, .timeout = 10);

/* Python's repr of one outcome. */
static const char *repr(const asyncio_outcome *o, char *buf, size_t size)
{
    if (o->err == ASYNCIO_OK && o->value == 0)
        snprintf(buf, size, "None");
    else if (o->err == ASYNCIO_OK)
        snprintf(buf, size, "%ld", (long)o->value);
    else if (o->err == ASYNCIO_ECANCELLED)
        snprintf(buf, size, "CancelledError()");
    else if (o->err <= ASYNCIO_EUSER(0))
        snprintf(buf, size, "ValueError(%d)", ASYNCIO_EUSER(0) - o->err);
    else
        snprintf(buf, size, "error %d", o->err);
    return buf;
}

/* Python's print() of a gather's result list. */
static void trace_list(const char *prefix, const asyncio_outcome *out, size_t n, const char *suffix)
{
    char line[256], one[64];
    size_t len = (size_t)snprintf(line, sizeof line, "%s[", prefix);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", i ? ", " : "",
                                repr(&out[i], one, sizeof one));
    snprintf(line + len, sizeof line - len, "]%s", suffix);
    trace("%s", line);
}

static void trace_error(int err)
{
    asyncio_outcome o;
    char one[64];
    o.err = err;
    o.value = 0;
    trace("%s", repr(&o, one, sizeof one));
}

static void handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    trace("handler: %s (%d)", asyncio_strerror(ctx->error), ctx->error);
}

/* ---- the sub-tasks of asyncio_gather.py ---- */
struct factorial {
    asyncio_coro co;
    char name;
    int number, i;
    long f;
};
static int factorial_fn(asyncio_coro *co)
{
    struct factorial *f = (struct factorial *)co;
    ASYNC_BEGIN(co);
    f->f = 1;
    for (f->i = 2; f->i <= f->number; f->i++) {
        trace("Task %c: Compute factorial(%d)...", f->name, f->i);
        AWAIT_SLEEP_MS(10);
        f->f *= f->i;
    }
    trace("Task %c: factorial(%d) = %ld", f->name, f->number, f->f);
    ASYNC_RETURN(f->f);
    ASYNC_END;
}
static asyncio_coro *factorial(struct factorial *f, char name, int number)
{
    f->name = name;
    f->number = number;
    return asyncio_coro_init(&f->co, factorial_fn);
}

/* task(id, t): start, sleep, end, return id; task_raise(id, t): start,
 * sleep, raise ValueError(id); task_loop(id): loop for ever. */
enum kind { TASK, TASK_RAISE, TASK_LOOP };
struct sub {
    asyncio_coro co;
    enum kind kind;
    int id;
    int32_t ms;
};
static int sub_fn(asyncio_coro *co)
{
    struct sub *f = (struct sub *)co;
    ASYNC_BEGIN(co);
    if (f->kind == TASK_LOOP) {
        trace("task_loop start %d", f->id);
        for (;;) {
            AWAIT_SLEEP_MS(100);
            trace("task_loop loop %d", f->id);
        }
    }
    trace(f->kind == TASK ? "start %d" : "task_raise start %d", f->id);
    AWAIT_SLEEP_MS(f->ms);
    if (f->kind == TASK_RAISE) {
        trace("task_raise raise %d", f->id);
        ASYNC_RAISE(ASYNCIO_EUSER(f->id));
    }
    trace("end %d", f->id);
    ASYNC_RETURN(f->id);
    ASYNC_END;
}
static asyncio_coro *sub(struct sub *f, enum kind kind, int id, int32_t ms)
{
    f->kind = kind;
    f->id = id;
    f->ms = ms;
    return asyncio_coro_init(&f->co, sub_fn);
}

/* gather_task(t0, t1): creates the two tasks, gathers them. */
struct gather_task {
    asyncio_coro co;
    asyncio_coro *c[2];
    asyncio_task t[2];
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
    asyncio_gather_state g;
};
static int gather_task_fn(asyncio_coro *co)
{
    struct gather_task *f = (struct gather_task *)co;
    ASYNC_BEGIN(co);
    trace("gather_task");
    asyncio_create_task(&f->t[0], f->c[0]);
    asyncio_create_task(&f->t[1], f->c[1]);
    f->tasks[0] = &f->t[0];
    f->tasks[1] = &f->t[1];
    AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0));
    trace("gather_task2");
    ASYNC_END;
}
static asyncio_coro *gather_task(struct gather_task *f, asyncio_coro *c0, asyncio_coro *c1)
{
    f->c[0] = c0;
    f->c[1] = c1;
    return asyncio_coro_init(&f->co, gather_task_fn);
}

/* ======================================================================== */
/* gather                                                                   */
/* ======================================================================== */

struct values_main {
    asyncio_coro co;
    struct factorial fa[3];
    asyncio_task t[3];
    asyncio_task *tasks[3];
    asyncio_outcome out[3];
    asyncio_gather_state g;
};
static int values_main_fn(asyncio_coro *co)
{
    struct values_main *f = (struct values_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t[0], factorial(&f->fa[0], 'A', 2));
    asyncio_create_task(&f->t[1], factorial(&f->fa[1], 'B', 3));
    asyncio_create_task(&f->t[2], factorial(&f->fa[2], 'C', 4));
    for (int i = 0; i < 3; i++)
        f->tasks[i] = &f->t[i];
    AWAIT(asyncio_gather(&f->g, f->tasks, 3, f->out, 0));
    trace("gather value %ld at %u", (long)AWAIT_RESULT, asyncio_ticks_ms());
    trace_list("", f->out, 3, "");
    ASYNC_END;
}

Test(gather, results_come_back_in_argument_order)
{
    static struct values_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, values_main_fn), NULL), 0);
    assert_trace("Task A: Compute factorial(2)...\n"
                 "Task B: Compute factorial(2)...\n"
                 "Task C: Compute factorial(2)...\n"
                 "Task A: factorial(2) = 2\n"
                 "Task B: Compute factorial(3)...\n"
                 "Task C: Compute factorial(3)...\n"
                 "Task B: factorial(3) = 6\n"
                 "Task C: Compute factorial(4)...\n"
                 "Task C: factorial(4) = 24\n"
                 "gather value 3 at 30\n"
                 "[2, 6, 24]\n");
}

struct empty_main {
    asyncio_coro co;
    asyncio_task *tasks[1];
    asyncio_outcome out[1];
    asyncio_gather_state g;
};
static int empty_main_fn(asyncio_coro *co)
{
    struct empty_main *f = (struct empty_main *)co;
    ASYNC_BEGIN(co);
    AWAIT(asyncio_gather(&f->g, NULL, 0, NULL, 0));
    trace("gather() -> %ld", (long)AWAIT_RESULT);
    AWAIT(asyncio_gather(&f->g, f->tasks, 0, f->out, 1));
    trace("gather(return_exceptions) -> %ld", (long)AWAIT_RESULT);
    trace_list("", f->out, 0, "");
    ASYNC_END;
}

Test(gather, an_empty_gather_gives_an_empty_result_at_once)
{
    static struct empty_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, empty_main_fn), NULL), 0);
    assert_trace("gather() -> 0\ngather(return_exceptions) -> 0\n[]\n");
}

/* return_exceptions: one task cancelled before it ran, one fine; then one
 * failing, one fine. */
struct retexc_main {
    asyncio_coro co;
    struct sub s[4];
    asyncio_task t[4];
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
    asyncio_gather_state g;
};
static int retexc_main_fn(asyncio_coro *co)
{
    struct retexc_main *f = (struct retexc_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t[0], sub(&f->s[0], TASK, 1, 100));
    asyncio_create_task(&f->t[1], sub(&f->s[1], TASK, 2, 100));
    trace("cancel -> %d", asyncio_task_cancel(&f->t[0]));
    f->tasks[0] = &f->t[0];
    f->tasks[1] = &f->t[1];
    AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 1));
    trace_list("", f->out, 2, "");
    trace("====");
    asyncio_create_task(&f->t[2], sub(&f->s[2], TASK, 1, 100));
    asyncio_create_task(&f->t[3], sub(&f->s[3], TASK_RAISE, 2, 100));
    f->tasks[0] = &f->t[2];
    f->tasks[1] = &f->t[3];
    AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 1));
    trace_list("", f->out, 2, "");
    ASYNC_END;
}

Test(gather, return_exceptions_puts_cancellations_and_errors_in_the_list)
{
    static struct retexc_main m;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, retexc_main_fn), NULL), 0);
    assert_trace("cancel -> 1\n"
                 "start 2\n"
                 "end 2\n"
                 "[CancelledError(), 2]\n"
                 "====\n"
                 "start 1\n"
                 "task_raise start 2\n"
                 "end 1\n"
                 "task_raise raise 2\n"
                 "[1, ValueError(2)]\n");
}

/* Without return_exceptions: the first error is raised at once and the
 * other task keeps running (not cancelled). */
struct first_err_main {
    asyncio_coro co;
    struct sub s[2];
    asyncio_task t[2];
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
    asyncio_gather_state g;
};
static int first_err_main_fn(asyncio_coro *co)
{
    struct first_err_main *f = (struct first_err_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t[0], sub(&f->s[0], TASK_LOOP, 1, 0));
    asyncio_create_task(&f->t[1], sub(&f->s[1], TASK_RAISE, 2, 100));
    f->tasks[0] = &f->t[0];
    f->tasks[1] = &f->t[1];
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0)));
    trace_error(AWAIT_ERROR);
    trace("%s %s at %u", asyncio_task_done(&f->t[0]) ? "True" : "False",
          asyncio_task_done(&f->t[1]) ? "True" : "False", asyncio_ticks_ms());
    trace("cancel -> %d %d", asyncio_task_cancel(&f->t[0]), asyncio_task_cancel(&f->t[1]));
    AWAIT_SLEEP_MS(200);
    trace("loop task result %d", asyncio_task_result(&f->t[0], NULL));
    ASYNC_END;
}

Test(gather, first_error_is_raised_at_once_and_the_other_tasks_keep_running)
{
    static struct first_err_main m;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, first_err_main_fn), NULL), 0);
    assert_trace("task_loop start 1\n"
                 "task_raise start 2\n"
                 "task_loop loop 1\n"
                 "task_raise raise 2\n"
                 "ValueError(2)\n"
                 "False True at 100\n"
                 "cancel -> 1 0\n"
                 "loop task result -1000\n");
}

/* Both tasks fail between the gather starting and ending: the first error
 * is raised; the second counts as retrieved (no exception handler call). */
struct both_fail_main {
    asyncio_coro co;
    struct sub s[2];
    asyncio_task t[2];
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
    asyncio_gather_state g;
};
static int both_fail_main_fn(asyncio_coro *co)
{
    struct both_fail_main *f = (struct both_fail_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t[0], sub(&f->s[0], TASK_RAISE, 1, 0));
    asyncio_create_task(&f->t[1], sub(&f->s[1], TASK_RAISE, 2, 0));
    f->tasks[0] = &f->t[0];
    f->tasks[1] = &f->t[1];
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0)));
    trace_error(AWAIT_ERROR);
    trace("%s %s", asyncio_task_done(&f->t[0]) ? "True" : "False",
          asyncio_task_done(&f->t[1]) ? "True" : "False");
    AWAIT_SLEEP_MS(10);
    trace("main end");
    ASYNC_END;
}

Test(gather, both_tasks_fail_the_first_error_wins_and_nothing_is_unretrieved)
{
    static struct both_fail_main m;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), handler);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, both_fail_main_fn), NULL), 0);
    assert_trace("task_raise start 1\n"
                 "task_raise start 2\n"
                 "task_raise raise 1\n"
                 "task_raise raise 2\n"
                 "ValueError(1)\n"
                 "True True\n"
                 "main end\n");
}

/* Cancelling the task running gather cancels the sub-tasks still running:
 * after 50 ms (both asleep), and just as they are created / ending (the
 * gatherer is cancelled after 1, 2 or 3 yields of main). */
struct cancel_main {
    asyncio_coro co;
    int yields, i;
    int32_t ms;
    asyncio_task gt;
    struct gather_task g;
    struct sub s[2];
};
static int cancel_main_fn(asyncio_coro *co)
{
    struct cancel_main *f = (struct cancel_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(
        &f->gt, gather_task(&f->g, sub(&f->s[0], TASK, 1, f->ms), sub(&f->s[1], TASK, 2, f->ms)));
    if (f->yields == 0)
        AWAIT_SLEEP_MS(50);
    for (f->i = 0; f->i < f->yields; f->i++)
        YIELD;
    trace("cancel -> %d", asyncio_task_cancel(&f->gt));
    AWAIT_SLEEP_MS(200);
    trace("gather_task %d, sub-tasks %d %d", asyncio_task_result(&f->gt, NULL),
          asyncio_task_result(&f->g.t[0], NULL), asyncio_task_result(&f->g.t[1], NULL));
    ASYNC_END;
}

static void run_cancel(int yields, int32_t ms)
{
    static struct cancel_main m;
    static asyncio_task t;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), handler);
    m.yields = yields;
    m.ms = ms;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, cancel_main_fn), NULL), 0);
}

Test(gather, cancelling_the_gatherer_cancels_the_sleeping_subtasks)
{
    run_cancel(0, 100);
    assert_trace("gather_task\n"
                 "start 1\n"
                 "start 2\n"
                 "cancel -> 1\n"
                 "gather_task -1000, sub-tasks -1000 -1000\n");
}

Test(gather, gatherer_cancelled_before_subtasks_ran_cancels_them)
{
    run_cancel(1, 0);
    assert_trace("gather_task\n"
                 "cancel -> 1\n"
                 "start 1\n"
                 "start 2\n"
                 "gather_task -1000, sub-tasks -1000 -1000\n");
}

Test(gather, gatherer_cancelled_as_subtasks_end_is_cancelled_and_they_finish)
{
    run_cancel(2, 0);
    assert_trace("gather_task\n"
                 "start 1\n"
                 "start 2\n"
                 "cancel -> 1\n"
                 "end 1\n"
                 "end 2\n"
                 "gather_task -1000, sub-tasks 0 0\n");
}

Test(gather, gatherer_cancelled_after_subtasks_ended_is_still_cancelled)
{
    run_cancel(3, 0);
    assert_trace("gather_task\n"
                 "start 1\n"
                 "start 2\n"
                 "end 1\n"
                 "end 2\n"
                 "cancel -> 1\n"
                 "gather_task -1000, sub-tasks 0 0\n");
}

/* ======================================================================== */
/* gather_finished_early: asyncio_gather_finished_early.py                  */
/* ======================================================================== */

static void silent_handler(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    (void)ctx;
}

struct early {
    asyncio_coro co;
    char id;
    asyncio_event *ev;
    int fail;
};
static int early_fn(asyncio_coro *co)
{
    struct early *f = (struct early *)co;
    ASYNC_BEGIN(co);
    trace("task_that_finishes_early %c", f->id);
    asyncio_event_set(f->ev);
    if (f->fail)
        ASYNC_RAISE(ASYNCIO_EUSER(f->id - 'a' + 1));
    ASYNC_END;
}

struct runs {
    asyncio_coro co;
    int i;
};
static int runs_fn(asyncio_coro *co)
{
    struct runs *f = (struct runs *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < 5; f->i++) {
        trace("task_that_runs %d", f->i);
        YIELD;
    }
    ASYNC_END;
}

struct fe_main {
    asyncio_coro co;
    int start_runs, fail, retexc;
    asyncio_event ea, eb;
    asyncio_task t[3];
    struct runs r;
    struct early e[2];
    asyncio_task *tasks[3];
    asyncio_outcome out[3];
    size_t n;
    int err, done0;
    asyncio_gather_state g;
};
static int fe_main_fn(asyncio_coro *co)
{
    struct fe_main *f = (struct fe_main *)co;
    ASYNC_BEGIN(co);
    trace("== start %s %s %s", f->start_runs ? "True" : "False", f->fail ? "True" : "False",
          f->retexc ? "True" : "False");
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), silent_handler);
    asyncio_event_init(&f->ea);
    asyncio_event_init(&f->eb);
    f->n = 0;
    if (f->start_runs) {
        asyncio_create_task(&f->t[f->n], asyncio_coro_init(&f->r.co, runs_fn));
        f->tasks[f->n] = &f->t[f->n];
        f->n++;
    }
    f->e[0].id = 'a';
    f->e[0].ev = &f->ea;
    f->e[0].fail = f->fail;
    f->e[1].id = 'b';
    f->e[1].ev = &f->eb;
    f->e[1].fail = f->fail;
    for (int i = 0; i < 2; i++) {
        asyncio_create_task(&f->t[f->n], asyncio_coro_init(&f->e[i].co, early_fn));
        f->tasks[f->n] = &f->t[f->n];
        f->n++;
    }
    AWAIT_EVENT(&f->ea);
    AWAIT_EVENT(&f->eb);
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->tasks, f->n, f->out, f->retexc)));
    f->err = AWAIT_ERROR;
    f->done0 = f->start_runs && asyncio_task_done(f->tasks[0]);
    if (f->start_runs)
        AWAIT_TASK(f->tasks[0]);
    if (f->err) {
        asyncio_outcome o;
        char one[64];
        o.err = f->err;
        o.value = 0;
        trace("('exception', %s, %s)", repr(&o, one, sizeof one), f->done0 ? "True" : "False");
    } else {
        trace_list("('complete', ", f->out, f->n, ")");
    }
    ASYNC_END;
}

static void run_early(int start_runs, int fail, int retexc)
{
    static struct fe_main m;
    static asyncio_task t;
    m.start_runs = start_runs;
    m.fail = fail;
    m.retexc = retexc;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, fe_main_fn), NULL), 0);
}

Test(gather_finished_early, finished_ok_gives_the_results)
{
    run_early(0, 0, 0);
    assert_trace("== start False False False\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "('complete', [None, None])\n");
}

Test(gather_finished_early, finished_ok_with_return_exceptions_gives_the_results)
{
    run_early(0, 0, 1);
    assert_trace("== start False False True\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "('complete', [None, None])\n");
}

Test(gather_finished_early, finished_failed_raises_the_first_error_at_once)
{
    run_early(0, 1, 0);
    assert_trace("== start False True False\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "('exception', ValueError(1), False)\n");
}

Test(gather_finished_early, finished_failed_with_return_exceptions_lists_the_errors)
{
    run_early(0, 1, 1);
    assert_trace("== start False True True\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "('complete', [ValueError(1), ValueError(2)])\n");
}

Test(gather_finished_early, finished_ok_plus_running_waits_for_the_running_task)
{
    run_early(1, 0, 0);
    assert_trace("== start True False False\n"
                 "task_that_runs 0\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "task_that_runs 1\n"
                 "task_that_runs 2\n"
                 "task_that_runs 3\n"
                 "task_that_runs 4\n"
                 "('complete', [None, None, None])\n");
}

Test(gather_finished_early, finished_ok_plus_running_with_return_exceptions_waits_too)
{
    run_early(1, 0, 1);
    assert_trace("== start True False True\n"
                 "task_that_runs 0\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "task_that_runs 1\n"
                 "task_that_runs 2\n"
                 "task_that_runs 3\n"
                 "task_that_runs 4\n"
                 "('complete', [None, None, None])\n");
}

Test(gather_finished_early, finished_failed_plus_running_raises_without_waiting)
{
    run_early(1, 1, 0);
    assert_trace("== start True True False\n"
                 "task_that_runs 0\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "task_that_runs 1\n"
                 "task_that_runs 2\n"
                 "task_that_runs 3\n"
                 "task_that_runs 4\n"
                 "('exception', ValueError(1), False)\n");
}

Test(gather_finished_early, finished_failed_plus_running_with_return_exceptions_lists_errors)
{
    run_early(1, 1, 1);
    assert_trace("== start True True True\n"
                 "task_that_runs 0\n"
                 "task_that_finishes_early a\n"
                 "task_that_finishes_early b\n"
                 "task_that_runs 1\n"
                 "task_that_runs 2\n"
                 "task_that_runs 3\n"
                 "task_that_runs 4\n"
                 "('complete', [None, ValueError(1), ValueError(2)])\n");
}

/* ======================================================================== */
/* gather_notimpl: asyncio_gather_notimpl.py                                */
/* ======================================================================== */

struct ni_task {
    asyncio_coro co;
    int id;
};
static int ni_task_fn(asyncio_coro *co)
{
    struct ni_task *f = (struct ni_task *)co;
    ASYNC_BEGIN(co);
    trace("task start %d", f->id);
    AWAIT_SLEEP_MS(10);
    trace("task end %d", f->id);
    ASYNC_RETURN(f->id);
    ASYNC_END;
}

struct ni_gather {
    asyncio_coro co;
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
    asyncio_gather_state g;
};
static int ni_gather_fn(asyncio_coro *co)
{
    struct ni_gather *f = (struct ni_gather *)co;
    ASYNC_BEGIN(co);
    trace("gather_task start");
    AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0));
    trace("gather_task end");
    ASYNC_END;
}

struct ni_main {
    asyncio_coro co;
    asyncio_task t[4], gt[2];
    struct ni_task nt[4];
    struct ni_gather ng[2];
};
static int ni_main_fn(asyncio_coro *co)
{
    struct ni_main *f = (struct ni_main *)co;
    ASYNC_BEGIN(co);
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), handler);
    for (int i = 0; i < 4; i++)
        f->nt[i].id = i % 2 + 1;

    /* Can't wait on a task being gathered. */
    asyncio_create_task(&f->t[0], asyncio_coro_init(&f->nt[0].co, ni_task_fn));
    asyncio_create_task(&f->t[1], asyncio_coro_init(&f->nt[1].co, ni_task_fn));
    f->ng[0].tasks[0] = &f->t[0];
    f->ng[0].tasks[1] = &f->t[1];
    asyncio_create_task(&f->gt[0], asyncio_coro_init(&f->ng[0].co, ni_gather_fn));
    YIELD;
    ASYNC_TRY(AWAIT_TASK(&f->t[0]));
    trace("await gathered task: %s (%d)", asyncio_strerror(AWAIT_ERROR), AWAIT_ERROR);
    AWAIT_TASK(&f->gt[0]);

    trace("====");
    /* Can't gather a task being awaited. */
    asyncio_create_task(&f->t[2], asyncio_coro_init(&f->nt[2].co, ni_task_fn));
    asyncio_create_task(&f->t[3], asyncio_coro_init(&f->nt[3].co, ni_task_fn));
    f->ng[1].tasks[0] = &f->t[2];
    f->ng[1].tasks[1] = &f->t[3];
    asyncio_create_task(&f->gt[1], asyncio_coro_init(&f->ng[1].co, ni_gather_fn));
    AWAIT_TASK(&f->t[2]);
    AWAIT_TASK(&f->t[3]);
    trace("main end: gather task result %d", asyncio_task_result(&f->gt[1], NULL));
    ASYNC_END;
}

Test(gather_notimpl, awaiting_a_gathered_task_is_cantwait_gathering_an_awaited_one_is_cantgather)
{
    static struct ni_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, ni_main_fn), NULL), 0);
    assert_trace("task start 1\n"
                 "task start 2\n"
                 "gather_task start\n"
                 "await gathered task: can't wait (-1004)\n"
                 "task end 1\n"
                 "task end 2\n"
                 "gather_task end\n"
                 "====\n"
                 "task start 1\n"
                 "task start 2\n"
                 "gather_task start\n"
                 "handler: can't gather (-1005)\n"
                 "task end 1\n"
                 "task end 2\n"
                 "main end: gather task result -1005\n");
}

/* The same running task twice in one gather is "can't gather" too (it is
 * already part of this gather), not a gather that waits for ever. */
struct dup_main {
    asyncio_coro co;
    struct sub s;
    asyncio_task t;
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
    asyncio_gather_state g;
};
static int dup_main_fn(asyncio_coro *co)
{
    struct dup_main *f = (struct dup_main *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t, sub(&f->s, TASK, 1, 10));
    f->tasks[0] = f->tasks[1] = &f->t;
    ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0)));
    trace("gather(t, t): %s (%d)", asyncio_strerror(AWAIT_ERROR), AWAIT_ERROR);
    AWAIT_TASK(&f->t);
    trace("await t -> %ld at %u", (long)AWAIT_RESULT, asyncio_ticks_ms());
    ASYNC_END;
}

Test(gather_notimpl, the_same_running_task_twice_is_cantgather_and_leaves_it_awaitable)
{
    static struct dup_main m;
    static asyncio_task t;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&m.co, dup_main_fn), NULL), 0);
    assert_trace("gather(t, t): can't gather (-1005)\n"
                 "start 1\n"
                 "end 1\n"
                 "await t -> 1 at 10\n");
}
