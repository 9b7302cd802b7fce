/* SPDX-License-Identifier: MIT */
/* The task dump and the trace hooks (ASYNCIO_DEBUG / ASYNCIO_TRACE: the test
 * builds define ASYNCIO_TRACE). */
#define _POSIX_C_SOURCE 200809L
#include "port_posix.h"
#include "trace.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static void setup(void) { asyncio_posix_virtual_time(1, 1000); }
TestSuite(debug, .init = setup, .timeout = 10);

/* The dump's lines, collected into the trace. */
static int collect(void *ctx, const char *line)
{
    (void)ctx;
    trace("%s", line);
    return 0;
}

static char expected[8192];
static size_t expected_len;
static void expect(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void expect(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    expected_len +=
        (size_t)vsnprintf(expected + expected_len, sizeof expected - expected_len, fmt, ap);
    va_end(ap);
    expected[expected_len++] = '\n';
    expected[expected_len] = '\0';
}
#define P(p) ((unsigned long)(uintptr_t)(p))

/* ---- the scenario's objects and coroutines ---- */
static asyncio_event ev;
static asyncio_lock lock;
static asyncio_flag flag;
static asyncio_task sleeper_task, ev_task, lock_task, flag_task, await_task, g1_task, g2_task,
    gather_task, late_task, main_task;

struct nap {
    asyncio_coro co;
    int32_t ms;
};
static const unsigned NAP_LINE = __LINE__ + 6;
static int nap_fn(asyncio_coro *co)
{
    struct nap *f = ASYNC_FRAME(struct nap, co);
    ASYNC_BEGIN(co);
    (void)f;
    AWAIT_SLEEP_MS(f->ms);
    ASYNC_END;
}

struct sleeper {
    asyncio_coro co;
    struct nap nap;
};
static const unsigned SLEEPER_LINE = __LINE__ + 6;
static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = ASYNC_FRAME(struct sleeper, co);
    ASYNC_BEGIN(co);
    f->nap.ms = 500;
    AWAIT(asyncio_coro_init(&f->nap.co, nap_fn));
    ASYNC_END;
}

static const unsigned EV_LINE = __LINE__ + 4;
static int ev_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_EVENT(&ev);
    ASYNC_END;
}

static const unsigned LOCK_LINE = __LINE__ + 4;
static int lock_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_LOCK(&lock);
    ASYNC_END;
}

static const unsigned FLAG_LINE = __LINE__ + 4;
static int flag_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_FLAG(&flag);
    ASYNC_END;
}

static const unsigned AWAIT_LINE = __LINE__ + 4;
static int await_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_TASK(&sleeper_task);
    ASYNC_END;
}

struct gatherer {
    asyncio_coro co;
    asyncio_gather_state g;
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
};
static const unsigned GATHER_LINE = __LINE__ + 7;
static int gatherer_fn(asyncio_coro *co)
{
    struct gatherer *f = ASYNC_FRAME(struct gatherer, co);
    ASYNC_BEGIN(co);
    f->tasks[0] = &g1_task;
    f->tasks[1] = &g2_task;
    AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0));
    ASYNC_END;
}

static int quick_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_END;
}

static int late_fn(asyncio_coro *co) /* never runs: not registered */
{
    ASYNC_BEGIN(co);
    ASYNC_END;
}

static struct sleeper sleeper_f;
static struct nap g1_f;
static struct gatherer gather_f;
static asyncio_coro ev_co, lock_co, flag_co, await_co, g2_co, late_co, main_co;
static int dumped;

/* print for the dump that fails (returns 7) at its *ctx-th line */
static int stop_at_line(void *ctx, const char *line)
{
    int *left = (int *)ctx;
    (void)line;
    return --*left == 0 ? 7 : 0;
}

static const unsigned MAIN_LINE = __LINE__ + 18;
static int main_fn(asyncio_coro *co)
{
    int k, left;
    ASYNC_BEGIN(co);
    asyncio_event_init(&ev);
    asyncio_lock_init(&lock);
    asyncio_flag_init(&flag);
    AWAIT_LOCK(&lock); /* held by main: lock_fn waits */
    asyncio_create_task(&sleeper_task, asyncio_coro_init(&sleeper_f.co, sleeper_fn));
    asyncio_create_task(&ev_task, asyncio_coro_init(&ev_co, ev_fn));
    asyncio_create_task(&lock_task, asyncio_coro_init(&lock_co, lock_fn));
    asyncio_create_task(&flag_task, asyncio_coro_init(&flag_co, flag_fn));
    asyncio_create_task(&await_task, asyncio_coro_init(&await_co, await_fn));
    g1_f.ms = 300;
    asyncio_create_task(&g1_task, asyncio_coro_init(&g1_f.co, nap_fn));
    asyncio_create_task(&g2_task, asyncio_coro_init(&g2_co, quick_fn));
    asyncio_create_task(&gather_task, asyncio_coro_init(&gather_f.co, gatherer_fn));
    YIELD; /* every task runs once and parks */
    asyncio_create_task(&late_task, asyncio_coro_init(&late_co, late_fn));
    asyncio_ignore_(asyncio_task_cancel(&late_task));
    dumped = asyncio_dump_tasks(collect, NULL);
    /* print failing at any line (a flag waiter's, a gatherer's...) stops
     * the dump there with print's value */
    for (k = 1; k <= 20; k++) { /* the dump's 20 lines */
        left = k;
        cr_assert_eq(asyncio_dump_tasks(stop_at_line, &left), 7, "print fails at line %d", k);
        cr_assert_eq(left, 0);
    }
    left = 21;
    cr_assert_eq(asyncio_dump_tasks(stop_at_line, &left), 9, "20 lines: print never fails");
    ASYNC_END;
}

/* A "task" line and its chain. */
static void expect_task(asyncio_task *t, const char *name, const char *state)
{
    expect("task 0x%lx %s: %s", P(t), name, state);
}
static void expect_at(unsigned line, const char *fn) { expect("    %s:%u %s", __FILE__, line, fn); }

Test(debug, dump_names_every_live_task_with_what_it_waits_on_and_where)
{
    const char *gname, *gfile;
    unsigned gline;
    char buf[128];
    asyncio_new_event_loop();
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, main_fn), NULL), 0);
    gline = asyncio_coro_where(&gather_f.g.co, &gname, &gfile);
    cr_assert_str_eq(gname, "asyncio_gather_fn_");

    expect("asyncio tasks at tick 1000");
    expect_task(&main_task, "main_fn", "running");
    expect_at(MAIN_LINE, "main_fn");
    snprintf(buf, sizeof buf, "runnable, not started, cancel pending");
    expect("task 0x%lx fn 0x%lx: %s", P(&late_task), (unsigned long)(uintptr_t)late_fn, buf);
    expect_task(&g1_task, "nap_fn", "sleeping: until tick 1300 (in 300 ms)");
    expect_at(NAP_LINE, "nap_fn");
    expect_task(&sleeper_task, "sleeper_fn", "sleeping: until tick 1500 (in 500 ms)");
    expect_at(SLEEPER_LINE, "sleeper_fn");
    expect_at(NAP_LINE, "nap_fn");
    snprintf(buf, sizeof buf, "waiting: event 0x%lx", P(&ev));
    expect_task(&ev_task, "ev_fn", buf);
    expect_at(EV_LINE, "ev_fn");
    snprintf(buf, sizeof buf, "waiting: lock 0x%lx", P(&lock));
    expect_task(&lock_task, "lock_fn", buf);
    expect_at(LOCK_LINE, "lock_fn");
    snprintf(buf, sizeof buf, "waiting: task 0x%lx sleeper_fn", P(&sleeper_task));
    expect_task(&await_task, "await_fn", buf);
    expect_at(AWAIT_LINE, "await_fn");
    expect_task(&gather_task, "gatherer_fn", "waiting: gather (1 of 2 tasks pending)");
    expect_at(GATHER_LINE, "gatherer_fn");
    expect("    %s:%u asyncio_gather_fn_", gfile, gline);
    /* flag waiters last: the loop polls them on a ring of their own */
    snprintf(buf, sizeof buf, "waiting: flag 0x%lx", P(&flag));
    expect_task(&flag_task, "flag_fn", buf);
    expect_at(FLAG_LINE, "flag_fn");
    assert_trace(expected);
    cr_assert_eq(dumped, 9);
    asyncio_new_event_loop();
}

/* The print callback stops the dump with its non-zero value. */
static int stop_after_two(void *ctx, const char *line)
{
    int *n = (int *)ctx;
    trace("%s", line);
    return ++*n == 2 ? 7 : 0;
}

static asyncio_task two_tasks[2];
static asyncio_coro two_cos[2];
Test(debug, dump_stops_when_print_returns_non_zero)
{
    int n = 0;
    asyncio_new_event_loop();
    cr_assert_eq(asyncio_create_task(&two_tasks[0], asyncio_coro_init(&two_cos[0], quick_fn)), 0);
    cr_assert_eq(asyncio_create_task(&two_tasks[1], asyncio_coro_init(&two_cos[1], quick_fn)), 0);
    cr_assert_eq(asyncio_dump_tasks(stop_after_two, &n), 7);
    cr_assert_eq(n, 2);
    cr_assert_eq(asyncio_dump_tasks(NULL, NULL), ASYNCIO_EINVAL);
    asyncio_new_event_loop();
    trace_len = 0;
    cr_assert_eq(asyncio_dump_tasks(collect, NULL), 0); /* a fresh loop: no task */
    assert_trace("asyncio tasks at tick 1000\n");
}

/* A failed task nobody awaited is live until its report pass: it shows as
 * done, with its error. */
static int fail_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RAISE(ASYNCIO_EUSER(5));
    ASYNC_END;
}
static asyncio_task fail_task, fail_main_task;
static asyncio_coro fail_co, fail_main_co;
static const unsigned FAIL_MAIN_LINE = __LINE__ + 5;
static int fail_main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_create_task(&fail_task, asyncio_coro_init(&fail_co, fail_fn));
    YIELD;
    asyncio_dump_tasks(collect, NULL);
    ASYNC_END;
}
static void quiet(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    (void)ctx;
}
Test(debug, dump_shows_a_failed_task_waiting_for_its_report)
{
    char buf[512];
    asyncio_loop *loop = asyncio_new_event_loop();
    asyncio_loop_set_exception_handler(loop, quiet);
    cr_assert_eq(asyncio_run(&fail_main_task, asyncio_coro_init(&fail_main_co, fail_main_fn), NULL),
                 0);
    snprintf(buf, sizeof buf,
             "asyncio tasks at tick 1000\n"
             "task 0x%lx fail_main_fn: running\n"
             "    %s:%u fail_main_fn\n"
             "task 0x%lx fail_fn: done, error not yet reported: application error (-2005)\n",
             P(&fail_main_task), __FILE__, FAIL_MAIN_LINE, P(&fail_task));
    assert_trace(buf);
    asyncio_new_event_loop();
}

/* ---- trace hooks ---- */
static const char *task_name(asyncio_task *t)
{
    const char *name;
    asyncio_coro_where(t->coro, &name, NULL);
    return name ? name : "?";
}
static void on_created(void *ctx, asyncio_task *t)
{
    (void)ctx;
    trace("created %s", task_name(t));
}
static void on_resumed(void *ctx, asyncio_task *t)
{
    (void)ctx;
    trace("resumed %s", task_name(t));
}
static void on_suspended(void *ctx, asyncio_task *t)
{
    (void)ctx;
    trace("suspended %s at line %u", task_name(t), asyncio_task_line(t));
}
static void on_done(void *ctx, asyncio_task *t, int err)
{
    (void)ctx;
    trace("done %s %d", task_name(t), err);
}
static void on_flag(void *ctx, asyncio_flag *f)
{
    trace("flag set %s", f == (asyncio_flag *)ctx ? "(the flag)" : "?");
}
static void on_idle_enter(void *ctx, int32_t ms)
{
    (void)ctx;
    trace("idle %d ms at %u", (int)ms, asyncio_ticks_ms());
}
static void on_idle_exit(void *ctx)
{
    (void)ctx;
    trace("awake at %u", asyncio_ticks_ms());
}

static const unsigned SETTER_LINE = __LINE__ + 4;
static int setter_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(20);
    asyncio_flag_set(&flag);
    ASYNC_END;
}
static asyncio_task setter_task, hook_main_task;
static asyncio_coro setter_co, hook_main_co, hook_flag_co;
static const unsigned HOOK_MAIN_LINE = __LINE__ + 5;
static int hook_main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_create_task(&setter_task, asyncio_coro_init(&setter_co, setter_fn));
    AWAIT(asyncio_coro_init(&hook_flag_co, flag_fn));
    ASYNC_RAISE(ASYNCIO_EUSER(1));
    ASYNC_END;
}

Test(debug, hooks_see_create_resume_suspend_done_flag_and_idle)
{
    asyncio_trace_hooks hooks = {&flag,   on_created, on_resumed,    on_suspended,
                                 on_done, on_flag,    on_idle_enter, on_idle_exit};
    char buf[1024];
    asyncio_new_event_loop();
    asyncio_flag_init(&flag);
    asyncio_trace_set(&hooks);
    cr_assert_eq(asyncio_run(&hook_main_task, asyncio_coro_init(&hook_main_co, hook_main_fn), NULL),
                 ASYNCIO_EUSER(1));
    asyncio_trace_set(NULL);
    /* A task's name is its root coroutine's function, known once its body
     * has run (registered on its first resume): "?" before. */
    snprintf(buf, sizeof buf,
             "created ?\n"
             "resumed ?\n"
             "created ?\n"
             "suspended hook_main_fn at line %u\n"
             "resumed ?\n"
             "suspended setter_fn at line %u\n"
             "idle 20 ms at 1000\n"
             "awake at 1020\n"
             "resumed setter_fn\n"
             "flag set (the flag)\n"
             "done setter_fn 0\n"
             "resumed hook_main_fn\n"
             "done hook_main_fn -2001\n",
             FLAG_LINE, SETTER_LINE);
    (void)HOOK_MAIN_LINE;
    assert_trace(buf);
    asyncio_new_event_loop();
}

/* ---- a yield, and a yield after a delivered cancellation, traced ---- */
static asyncio_task yielder_task, cancel_main_task;
static asyncio_coro yielder_co, cancel_main_co;
static const unsigned YIELDER_LINE = __LINE__ + 4;
static int yielder_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_SLEEP_MS(100)); /* cancelled here */
    trace("yielder: %s", asyncio_strerror(AWAIT_ERROR));
    YIELD; /* suspends at once, from the loop's cancel-delivery pass */
    trace("yielder ends");
    ASYNC_END;
}
static const unsigned CANCEL_MAIN_LINE = __LINE__ + 5;
static int cancel_main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_create_task(&yielder_task, asyncio_coro_init(&yielder_co, yielder_fn));
    YIELD;
    cr_assert_eq(asyncio_task_cancel(&yielder_task), 1);
    AWAIT_TASK(&yielder_task);
    ASYNC_END;
}

Test(debug, hooks_see_the_suspension_of_a_yield_and_of_a_yield_after_a_caught_cancellation)
{
    asyncio_trace_hooks hooks = {NULL,    on_created, on_resumed,    on_suspended,
                                 on_done, on_flag,    on_idle_enter, on_idle_exit};
    char buf[1024];
    asyncio_new_event_loop();
    asyncio_trace_set(&hooks);
    cr_assert_eq(
        asyncio_run(&cancel_main_task, asyncio_coro_init(&cancel_main_co, cancel_main_fn), NULL),
        0);
    asyncio_trace_set(NULL);
    snprintf(buf, sizeof buf,
             "created ?\n"
             "resumed ?\n"
             "created ?\n"
             "suspended cancel_main_fn at line %u\n"
             "resumed ?\n"
             "suspended yielder_fn at line %u\n"
             "resumed cancel_main_fn\n"
             "suspended cancel_main_fn at line %u\n"
             "resumed yielder_fn\n"
             "yielder: cancelled\n"
             "suspended yielder_fn at line %u\n"
             "resumed yielder_fn\n"
             "yielder ends\n"
             "done yielder_fn 0\n"
             "resumed cancel_main_fn\n"
             "done cancel_main_fn 0\n",
             CANCEL_MAIN_LINE, YIELDER_LINE, CANCEL_MAIN_LINE + 2, YIELDER_LINE + 2);
    assert_trace(buf);
    asyncio_new_event_loop();
}

/* A table whose hooks are all NULL: nothing is called, the run is the same. */
Test(debug, a_hook_table_without_functions_calls_nothing_and_changes_nothing)
{
    asyncio_trace_hooks none = {&flag, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    asyncio_new_event_loop();
    asyncio_flag_init(&flag);
    asyncio_trace_set(&none);
    cr_assert_eq(asyncio_run(&hook_main_task, asyncio_coro_init(&hook_main_co, hook_main_fn), NULL),
                 ASYNCIO_EUSER(1));
    cr_assert_eq(asyncio_ticks_ms(), 1020);
    cr_assert_eq(
        asyncio_run(&cancel_main_task, asyncio_coro_init(&cancel_main_co, cancel_main_fn), NULL),
        0);
    asyncio_trace_set(NULL);
    assert_trace("yielder: cancelled\n"
                 "yielder ends\n");
    asyncio_new_event_loop();
}

/* ---- more of what a task can wait in: I/O both ways, a second await site,
 * a condition's wait queue, a started task in the run queue, a reset frame;
 * several sleepers; print failing at any line ---- */
static int rw[2], full[2]; /* a socketpair nobody writes to, one whose buffer is full */
static asyncio_io rio, wio;
static asyncio_event ev_a, ev_b;
static asyncio_lock cond_lock;
static asyncio_condition cond;
static asyncio_task reader_task, writer_task, site1_task, site2_task, cond_task, spin_task,
    reset_task, naps_tasks[3], more_main_task;
static asyncio_coro reader_co, writer_co, spin_co, more_main_co;
static struct nap naps[3], reset_nap;

static const unsigned READER_LINE = __LINE__ + 4;
static int reader_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_IO(&rio, ASYNCIO_IO_READ);
    ASYNC_END;
}
static const unsigned WRITER_LINE = __LINE__ + 4;
static int writer_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_IO(&wio, ASYNCIO_IO_WRITE);
    ASYNC_END;
}

struct two_sites {
    asyncio_coro co;
    asyncio_event *first, *second;
};
static struct two_sites site1_f, site2_f;
static const unsigned TWO_SITES_LINE = __LINE__ + 5;
static int two_sites_fn(asyncio_coro *co)
{
    struct two_sites *f = ASYNC_FRAME(struct two_sites, co);
    ASYNC_BEGIN(co);
    AWAIT_EVENT(f->first);
    AWAIT_EVENT(f->second);
    ASYNC_END;
}

struct cond_waiter {
    asyncio_coro co;
    asyncio_condition_wait_state w;
};
static struct cond_waiter cond_f;
static const unsigned COND_LINE = __LINE__ + 6;
static int cond_fn(asyncio_coro *co)
{
    struct cond_waiter *f = ASYNC_FRAME(struct cond_waiter, co);
    ASYNC_BEGIN(co);
    AWAIT_LOCK(&cond_lock);
    AWAIT(asyncio_condition_wait(&f->w, &cond));
    ASYNC_END;
}

static const unsigned SPIN_LINE = __LINE__ + 5;
static int spin_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (;;)
        YIELD;
    ASYNC_END;
}

static int more_lines, more_dumped;
static const unsigned MORE_MAIN_LINE = __LINE__ + 22;
static int more_main_fn(asyncio_coro *co)
{
    int k, left;
    ASYNC_BEGIN(co);
    asyncio_create_task(&reader_task, asyncio_coro_init(&reader_co, reader_fn));
    asyncio_create_task(&writer_task, asyncio_coro_init(&writer_co, writer_fn));
    site1_f.first = &ev_a; /* set: waits at the second site */
    site1_f.second = &ev_b;
    asyncio_create_task(&site1_task, asyncio_coro_init(&site1_f.co, two_sites_fn));
    site2_f.first = &ev_b; /* waits at the first site */
    site2_f.second = &ev_b;
    asyncio_create_task(&site2_task, asyncio_coro_init(&site2_f.co, two_sites_fn));
    asyncio_create_task(&cond_task, asyncio_coro_init(&cond_f.co, cond_fn));
    naps[0].ms = 700;
    naps[1].ms = 100;
    naps[2].ms = 400;
    for (k = 0; k < 3; k++)
        asyncio_create_task(&naps_tasks[k], asyncio_coro_init(&naps[k].co, nap_fn));
    reset_nap.ms = 900;
    asyncio_create_task(&reset_task, asyncio_coro_init(&reset_nap.co, nap_fn));
    asyncio_create_task(&spin_task, asyncio_coro_init(&spin_co, spin_fn));
    YIELD; /* every task runs once: spin_fn is back in the run queue, started */
    trace("reset: %s", asyncio_strerror(asyncio_create_task(
                           &reset_task, asyncio_coro_init(&reset_nap.co, nap_fn))));
    more_dumped = asyncio_dump_tasks(collect, NULL);
    more_lines = 0;
    for (k = 0; trace_buf[k]; k++)
        more_lines += trace_buf[k] == '\n';
    more_lines -= 1; /* the "reset:" line */
    for (k = 1; k <= more_lines; k++) {
        left = k;
        cr_assert_eq(asyncio_dump_tasks(stop_at_line, &left), 7, "print fails at line %d", k);
        cr_assert_eq(left, 0);
    }
    asyncio_io_forget(&rio);
    asyncio_io_forget(&wio);
    ASYNC_RETURN(0);
    ASYNC_END;
}

Test(debug, dump_shows_io_waits_the_await_site_a_task_is_at_a_condition_queue_and_a_reset_frame)
{
    char buf[4096], line[128];
    const char *cname, *cfile;
    unsigned cline;
    asyncio_new_event_loop();
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, rw), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, full), 0);
    fcntl(full[0], F_SETFL, O_NONBLOCK);
    memset(buf, 'x', sizeof buf);
    while (write(full[0], buf, sizeof buf) > 0)
        ;
    asyncio_io_init(&rio, rw[0]);
    asyncio_io_init(&wio, full[0]);
    asyncio_event_init(&ev_a);
    asyncio_event_init(&ev_b);
    asyncio_event_set(&ev_a);
    asyncio_lock_init(&cond_lock);
    asyncio_condition_init(&cond, &cond_lock);
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), quiet);
    cr_assert_eq(asyncio_run(&more_main_task, asyncio_coro_init(&more_main_co, more_main_fn), NULL),
                 0);
    cline = asyncio_coro_where(&cond_f.w.co, &cname, &cfile);
    cr_assert_str_eq(cname, "asyncio_condition_wait_fn_");

    expect("reset: coroutine reset while running");
    expect("asyncio tasks at tick 1000");
    expect_task(&more_main_task, "more_main_fn", "running");
    expect_at(MORE_MAIN_LINE, "more_main_fn");
    expect_task(&spin_task, "spin_fn", "runnable");
    expect_at(SPIN_LINE, "spin_fn");
    expect_task(&reset_task, "nap_fn", "runnable, not started, frame reset (EREINIT) pending");
    expect_task(&naps_tasks[1], "nap_fn", "sleeping: until tick 1100 (in 100 ms)");
    expect_at(NAP_LINE, "nap_fn");
    expect_task(&naps_tasks[2], "nap_fn", "sleeping: until tick 1400 (in 400 ms)");
    expect_at(NAP_LINE, "nap_fn");
    expect_task(&naps_tasks[0], "nap_fn", "sleeping: until tick 1700 (in 700 ms)");
    expect_at(NAP_LINE, "nap_fn");
    snprintf(line, sizeof line, "waiting: I/O fd %d read", rw[0]);
    expect_task(&reader_task, "reader_fn", line);
    expect_at(READER_LINE, "reader_fn");
    snprintf(line, sizeof line, "waiting: I/O fd %d write", full[0]);
    expect_task(&writer_task, "writer_fn", line);
    expect_at(WRITER_LINE, "writer_fn");
    snprintf(line, sizeof line, "waiting: event 0x%lx", P(&ev_b));
    expect_task(&site1_task, "two_sites_fn", line);
    expect_at(TWO_SITES_LINE + 1, "two_sites_fn");
    expect_task(&site2_task, "two_sites_fn", line);
    expect_at(TWO_SITES_LINE, "two_sites_fn");
    /* The condition's own await has no site of its kind: its wait queue. */
    snprintf(line, sizeof line, "waiting: wait queue 0x%lx", P(&cond.waiters));
    expect_task(&cond_task, "cond_fn", line);
    expect_at(COND_LINE, "cond_fn");
    expect("    %s:%u asyncio_condition_wait_fn_", cfile, cline);
    assert_trace(expected);
    cr_assert_eq(more_dumped, 11);
    cr_assert_eq(more_lines, 23); /* the header, 11 tasks, 11 chain lines */
    /* Outside the loop: no task is running. */
    trace_len = 0;
    cr_assert_eq(asyncio_dump_tasks(collect, NULL), 10);
    cr_assert_eq(strncmp(trace_buf, "asyncio tasks at tick 1000\ntask ", 32), 0);
    close(rw[0]);
    close(rw[1]);
    close(full[0]);
    close(full[1]);
    asyncio_new_event_loop();
}

/* coro_where: nothing for NULL, no name or file for a coroutine whose body
 * never ran (registered on its first resume); name and file may be NULL. */
Test(debug, coro_where_names_nothing_for_null_or_a_body_that_never_ran)
{
    asyncio_coro never;
    const char *name = "x", *file = "y";
    cr_assert_eq(asyncio_coro_where(NULL, &name, &file), 0);
    cr_assert_null(name);
    cr_assert_null(file);
    asyncio_coro_init(&never, late_fn);
    name = file = "x";
    cr_assert_eq(asyncio_coro_where(&never, &name, &file), 0);
    cr_assert_null(name);
    cr_assert_null(file);
    cr_assert_eq(asyncio_coro_where(&never, NULL, NULL), 0);
}

/* ---- a primitive of the user's own, built on ASYNCIO_AWAIT_ON_ ---- */
typedef struct gate {
    asyncio_event opened;
} gate;
static int gate_start(gate *g, asyncio_value *result)
{
    (void)result;
    return asyncio_event_wait_start_(&g->opened);
}
static int gate_finish(gate *g, asyncio_value *result)
{
    (void)g;
    (void)result;
    return ASYNCIO_RESUMED_();
}
#define AWAIT_GATE(g) ASYNCIO_AWAIT_ON_(gate, g, gate_start, gate_finish)

static gate the_gate;
static asyncio_task gate_task, gate_main_task;
static asyncio_coro gate_co, gate_main_co;
/* A name long enough to fill a dump line (160 bytes with its NUL). */
#define LONG_NAME                                                                                  \
    a_coroutine_with_a_name_long_enough_that_its_dump_line_does_not_fit_in_the_one_hundred_and_sixty_bytes_of_the_line_buffer_fn
static const unsigned LONG_LINE = __LINE__ + 4;
static int LONG_NAME(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_GATE(&the_gate);
    ASYNC_END;
}
static const unsigned GATE_MAIN_LINE = __LINE__ + 5;
static int gate_main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_create_task(&gate_task, asyncio_coro_init(&gate_co, LONG_NAME));
    YIELD;
    trace_len = 0;
    cr_assert_eq(asyncio_dump_tasks(collect, NULL), 2);
    asyncio_event_set(&the_gate.opened);
    AWAIT_TASK(&gate_task);
    ASYNC_END;
}

#define STR_(x) #x
#define XSTR_(x) STR_(x)
/* expect(), the line cut to the dump's 159 characters. */
static void expect_cut(const char *line)
{
    char cut[160];
    snprintf(cut, sizeof cut, "%s", line);
    expect("%s", cut);
}

Test(debug, dump_names_a_user_primitive_by_its_type_and_cuts_a_long_line_at_159_characters)
{
    char line[320];
    asyncio_new_event_loop();
    asyncio_event_init(&the_gate.opened);
    cr_assert_eq(asyncio_run(&gate_main_task, asyncio_coro_init(&gate_main_co, gate_main_fn), NULL),
                 0);
    expect("asyncio tasks at tick 1000");
    expect_task(&gate_main_task, "gate_main_fn", "running");
    expect_at(GATE_MAIN_LINE, "gate_main_fn");
    snprintf(line, sizeof line, "task 0x%lx %s: waiting: gate 0x%lx", P(&gate_task),
             XSTR_(LONG_NAME), P(&the_gate));
    cr_assert_gt(strlen(line), 159);
    expect_cut(line);
    snprintf(line, sizeof line, "    %s:%u %s", __FILE__, LONG_LINE, XSTR_(LONG_NAME));
    expect_cut(line);
    assert_trace(expected);
}
