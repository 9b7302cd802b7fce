/* SPDX-License-Identifier: MIT */
/*
 * Core edges (issue 21, coverage of asyncio.h): every coroutine object of
 * the primitives (Event.wait, Lock.acquire, flag wait, sleep, Queue get /
 * put / join, Semaphore.acquire, the interrupt-safe queue's get,
 * Condition.wait, wait_for) cancelled while it waits and failing on a NULL
 * object; the accessors with NULL; asyncio_strerror for every code; wait_for
 * without a timeout and with a negative one.
 */
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

static void setup(void)
{
    asyncio_posix_virtual_time(1, 0);
    trace_len = 0;
    trace_buf[0] = '\0';
    cr_assert_not_null(asyncio_new_event_loop());
}
TestSuite(core_edges, .init = setup, .timeout = 10);

static asyncio_event ev;
static asyncio_lock lock;
static asyncio_flag flag;
static asyncio_queue q;
static asyncio_value qbuf[2];
static asyncio_semaphore sem;
static asyncio_isr_queue iq;
static asyncio_value iqbuf[2];
static asyncio_condition cond;
static asyncio_condition_wait_state cw;
static asyncio_wait_for_state wf;
static asyncio_op op, op2;

enum {
    W_EVENT,
    W_LOCK,
    W_FLAG,
    W_SLEEP,
    W_GET,
    W_PUT,
    W_JOIN,
    W_SEM,
    W_ISR,
    W_COND,
    W_WAIT_FOR,
    W_N
};
static const char *const names[W_N] = {"event", "lock", "flag",  "sleep", "get",     "put",
                                       "join",  "sem",  "isr q", "cond",  "wait_for"};

/* The coroutine object of kind k, on a primitive that makes it wait. */
static asyncio_coro *waiting_op(int k)
{
    switch (k) {
    case W_EVENT: return asyncio_event_wait(&op, &ev);
    case W_LOCK: return asyncio_lock_acquire(&op, &lock);
    case W_FLAG: return asyncio_flag_wait(&op, &flag);
    case W_SLEEP: return asyncio_sleep_ms(&op, 1000);
    case W_GET: return asyncio_queue_get(&op, &q);
    case W_PUT: return asyncio_queue_put(&op, &q, 9);
    case W_JOIN: return asyncio_queue_join(&op, &q);
    case W_SEM: return asyncio_semaphore_acquire(&op, &sem);
    case W_ISR: return asyncio_isr_queue_get(&op, &iq);
    case W_COND: return asyncio_condition_wait(&cw, &cond);
    default: return asyncio_wait_for_ms(&wf, asyncio_sleep_ms(&op2, 5000), 3000);
    }
}

/* The same kind on a NULL object. */
static asyncio_coro *null_op(int k)
{
    switch (k) {
    case W_EVENT: return asyncio_event_wait(&op, NULL);
    case W_LOCK: return asyncio_lock_acquire(&op, NULL);
    case W_FLAG: return asyncio_flag_wait(&op, NULL);
    case W_SLEEP: return asyncio_sleep_ms(NULL, 1);
    case W_GET: return asyncio_queue_get(&op, NULL);
    case W_PUT: return asyncio_queue_put(&op, NULL, 9);
    case W_JOIN: return asyncio_queue_join(&op, NULL);
    case W_SEM: return asyncio_semaphore_acquire(&op, NULL);
    case W_ISR: return asyncio_isr_queue_get(&op, NULL);
    case W_COND: return asyncio_condition_wait(&cw, NULL);
    default: return asyncio_wait_for_ms(&wf, NULL, 10);
    }
}

static int kind;
static struct waiter {
    asyncio_coro co;
    int err;
} wt;
static int waiter_fn(asyncio_coro *co)
{
    struct waiter *f = (struct waiter *)co;
    ASYNC_BEGIN(co);
    if (kind == W_COND)
        AWAIT(asyncio_condition_acquire(&op2, &cond)); /* wait() needs the lock */
    ASYNC_TRY(AWAIT(waiting_op(kind)));
    f->err = AWAIT_ERROR;
    if (kind == W_COND)
        trace("cond: lock held again: %d", asyncio_condition_locked(&cond));
    ASYNC_END;
}
static asyncio_task waiter_task;
static int cancel_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&waiter_task, asyncio_coro_init(&wt.co, waiter_fn)), 0);
    AWAIT_SLEEP_MS(10);
    cr_assert_not(asyncio_task_done(&waiter_task), "%s does not wait", names[kind]);
    trace("cancel: %d", asyncio_task_cancel(&waiter_task));
    AWAIT_TASK(&waiter_task);
    trace("%s: %s at %u", names[kind], asyncio_strerror(wt.err), asyncio_ticks_ms());
    /* on a NULL object */
    ASYNC_TRY(AWAIT(null_op(kind)));
    trace("NULL: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

static void prepare(void)
{
    asyncio_event_init(&ev);
    asyncio_lock_init(&lock);
    lock.locked = 1; /* held by nobody in particular: acquire waits */
    asyncio_flag_init(&flag);
    cr_assert_eq(asyncio_queue_init(&q, qbuf, 2), 0);
    asyncio_semaphore_init(&sem, 0);
    cr_assert_eq(asyncio_isr_queue_init(&iq, iqbuf, 2), 0);
    asyncio_condition_init(&cond, NULL);
}

Test(core_edges, every_primitives_coroutine_object_is_cancelled_while_waiting_and_rejects_null)
{
    static asyncio_task t;
    static asyncio_coro co;
    char want[256];
    for (kind = 0; kind < W_N; kind++) {
        trace_len = 0;
        trace_buf[0] = '\0';
        cr_assert_not_null(asyncio_new_event_loop());
        asyncio_posix_virtual_time(1, 0);
        prepare();
        if (kind == W_PUT) {
            cr_assert_eq(asyncio_queue_put_nowait(&q, 1), 0);
            cr_assert_eq(asyncio_queue_put_nowait(&q, 2), 0); /* full: put waits */
        }
        if (kind == W_JOIN)
            cr_assert_eq(asyncio_queue_put_nowait(&q, 1), 0); /* unfinished: join waits */
        memset(&wt, 0, sizeof wt);
        cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, cancel_main), NULL), 0);
        snprintf(want, sizeof want, "cancel: 1\n%s%s: cancelled at 10\nNULL: invalid argument\n",
                 kind == W_COND ? "cond: lock held again: 1\n" : "", names[kind]);
        assert_trace(want);
    }
}

Test(core_edges, accessors_and_nowait_calls_reject_null)
{
    asyncio_value v;
    asyncio_op o;
    cr_assert_eq(asyncio_queue_qsize(NULL), 0);
    cr_assert_eq(asyncio_queue_empty(NULL), 1);
    cr_assert_eq(asyncio_queue_full(NULL), 0);
    cr_assert_eq(asyncio_queue_maxsize(NULL), 0);
    cr_assert_eq(asyncio_queue_put_nowait(NULL, 1), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_queue_get_nowait(NULL, &v), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_queue_task_done(NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_queue_init(NULL, qbuf, 2), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_queue_init(&q, NULL, 2), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_queue_init(&q, qbuf, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_lifo_queue_init(&q, qbuf, 0), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_semaphore_release(NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_condition_release(NULL), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_condition_notify(NULL, 1), ASYNCIO_EINVAL);
    cr_assert_null(asyncio_condition_wait_for(NULL, &cond, NULL, NULL));
    cr_assert_eq(asyncio_isr_queue_get_nowait(NULL, &v), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_isr_queue_init(NULL, iqbuf, 2), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_isr_queue_init(&iq, NULL, 2), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_isr_queue_init(&iq, iqbuf, 0), ASYNCIO_EINVAL);
    cr_assert_null(asyncio_event_wait(NULL, &ev));
    cr_assert_null(asyncio_wait_for_ms(NULL, NULL, 1));
    cr_assert_eq(asyncio_queue_init(&q, qbuf, (size_t)0x80000000u), ASYNCIO_EINVAL, "too big");
    cr_assert_eq(asyncio_isr_queue_init(&iq, iqbuf, (size_t)0x80000000u), ASYNCIO_EINVAL);
    cr_assert_eq(asyncio_priority_queue_init(&q, qbuf, 0, NULL), ASYNCIO_EINVAL);
    cr_assert_null(asyncio_coro_init(NULL, NULL));
    {
        int err = 0;
        cr_assert_null(asyncio_current_task(&err), "outside a task");
        cr_assert_eq(err, ASYNCIO_ENOLOOP);
    }
    asyncio_loop_default_exception_handler(asyncio_get_event_loop(), NULL); /* nothing to say */
    (void)o;
}

/* ---- coroutine objects that are not: no function, no lock ---- */
static asyncio_coro no_fn;
static int bad_objects_main(asyncio_coro *co)
{
    static asyncio_task t;
    ASYNC_BEGIN(co);
    memset(&no_fn, 0, sizeof no_fn);
    ASYNC_TRY(AWAIT(&no_fn));
    trace("await a frame without a function: %s", asyncio_strerror(AWAIT_ERROR));
    trace("create_task with it: %s", asyncio_strerror(asyncio_create_task(&t, &no_fn)));
    ASYNC_TRY(AWAIT(asyncio_condition_acquire(&op, NULL)));
    trace("acquire a NULL condition: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(core_edges, awaiting_a_frame_without_a_function_or_a_null_condition_is_einval)
{
    static asyncio_task t;
    static asyncio_coro co;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, bad_objects_main), NULL), 0);
    assert_trace("await a frame without a function: invalid argument\n"
                 "create_task with it: invalid argument\n"
                 "acquire a NULL condition: invalid argument\n");
}

Test(core_edges, strerror_names_every_code)
{
    static const int codes[] = {
        ASYNCIO_ECANCELLED,  ASYNCIO_ETIMEDOUT,   ASYNCIO_EEOF,         ASYNCIO_ESELF,
        ASYNCIO_ECANTWAIT,   ASYNCIO_ECANTGATHER, ASYNCIO_ENOLOOP,      ASYNCIO_EBUSY,
        ASYNCIO_ENOTHELD,    ASYNCIO_EOVERFLOW,   ASYNCIO_EINVAL,       ASYNCIO_ECLOSED,
        ASYNCIO_ECORRUPT,    ASYNCIO_ESTATE,      ASYNCIO_EREINIT,      ASYNCIO_ETHREAD,
        ASYNCIO_ESTALL,      ASYNCIO_ERETURN,     ASYNCIO_EBREAK,       ASYNCIO_ENOHOST,
        ASYNCIO_ETLS,        ASYNCIO_ETLS_NOCERT, ASYNCIO_ETLS_VERIFY,  ASYNCIO_ETLS_ALERT,
        ASYNCIO_EQUEUEEMPTY, ASYNCIO_EQUEUEFULL,  ASYNCIO_EOVERRELEASE, ASYNCIO_ETASKDONE,
        ASYNCIO_EOVERRUN};
    size_t i, j;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = asyncio_strerror(codes[i]);
        cr_assert_str_neq(s, "unknown error", "code %d", codes[i]);
        for (j = 0; j < i; j++)
            cr_assert_str_neq(s, asyncio_strerror(codes[j]), "codes %d and %d", codes[i], codes[j]);
    }
    cr_assert_str_eq(asyncio_strerror(0), "ok");
    cr_assert_str_eq(asyncio_strerror(-5), "OSError");
    cr_assert_str_eq(asyncio_strerror(ASYNCIO_EUSER(3)), "application error");
    cr_assert_str_eq(asyncio_strerror(7), "unknown error");
    cr_assert_str_eq(asyncio_strerror(-1040), "unknown error");
}

/* ---- wait_for without a timeout, and with a negative one ---- */
static int failing_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(5);
    ASYNC_RAISE(ASYNCIO_EUSER(1));
    ASYNC_END;
}
static asyncio_coro failing_co;
static asyncio_task failing_task;
static int wait_for_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&failing_task, asyncio_coro_init(&failing_co, failing_fn)), 0);
    ASYNC_TRY(AWAIT(asyncio_wait_for_task_ms(&wf, &failing_task, ASYNCIO_NO_TIMEOUT)));
    trace("no timeout: %s at %u", asyncio_strerror(AWAIT_ERROR), asyncio_ticks_ms());
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&wf, asyncio_sleep_ms(&op2, 50), -5)));
    trace("negative timeout: %s at %u", asyncio_strerror(AWAIT_ERROR), asyncio_ticks_ms());
    ASYNC_END;
}

Test(core_edges, wait_for_without_a_timeout_and_with_a_negative_one)
{
    static asyncio_task t;
    static asyncio_coro co;
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, wait_for_main), NULL), 0);
    assert_trace("no timeout: application error at 5\n"
                 "negative timeout: timed out at 5\n");
}

/* ---- a failed task, its error retrieved before its report pass, reused at
 * once: it leaves the run queue from the middle and from the tail ---- */
static int reports;
static void count_reports(asyncio_loop *loop, const asyncio_context *ctx)
{
    (void)loop;
    (void)ctx;
    reports++;
}
static int fail_now_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("F fails");
    ASYNC_RAISE(ASYNCIO_EUSER(2));
    ASYNC_END;
}
static int say_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("task runs");
    ASYNC_END;
}
static int yielder_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    YIELD;
    trace("X runs again");
    ASYNC_END;
}
static asyncio_task tx, tf, ty;
static asyncio_coro cx, cf, cf2, cy;
static struct reuse {
    asyncio_coro co;
    int round;
} ru;
static int reuse_main(asyncio_coro *co)
{
    struct reuse *f = (struct reuse *)co;
    asyncio_value v;
    ASYNC_BEGIN(co);
    for (f->round = 0; f->round < 2; f->round++) {
        cr_assert_eq(asyncio_create_task(&tx, asyncio_coro_init(&cx, yielder_fn)), 0);
        cr_assert_eq(asyncio_create_task(&tf, asyncio_coro_init(&cf, fail_now_fn)), 0);
        YIELD;             /* X yields, F fails and waits in the run queue for its report */
        if (f->round == 0) /* a task behind F: F leaves from the middle */
            cr_assert_eq(asyncio_create_task(&ty, asyncio_coro_init(&cy, say_fn)), 0);
        cr_assert_eq(asyncio_task_result(&tf, &v), ASYNCIO_EUSER(2));
        cr_assert_eq(asyncio_create_task(&tf, asyncio_coro_init(&cf2, say_fn)), 0);
        trace("F reused");
        AWAIT_TASK(&tf);
        AWAIT_TASK(&tx);
    }
    ASYNC_END;
}

Test(core_edges, a_failed_task_retrieved_before_its_report_is_reused_from_any_place_in_the_queue)
{
    static asyncio_task t;
    reports = 0;
    asyncio_loop_set_exception_handler(asyncio_get_event_loop(), count_reports);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&ru.co, reuse_main), NULL), 0);
    assert_trace("F fails\nF reused\nX runs again\ntask runs\ntask runs\n"
                 "F fails\nF reused\nX runs again\ntask runs\n");
    cr_assert_eq(reports, 0, "the retrieved error is not reported");
}

/* ---- a task of a previous loop cannot be awaited in the next one ---- */
static asyncio_task old_task;
static asyncio_coro old_co;
static int old_loop_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_TASK(&old_task));
    trace("await a task of the previous loop: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

Test(core_edges, a_finished_task_of_a_previous_loop_is_not_awaitable_in_the_next)
{
    static asyncio_task t;
    static asyncio_coro co;
    cr_assert_eq(asyncio_run(&old_task, asyncio_coro_init(&old_co, say_fn), NULL), 0);
    cr_assert_not_null(asyncio_new_event_loop());
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&co, old_loop_main), NULL), 0);
    assert_trace("task runs\nawait a task of the previous loop: invalid argument\n");
}
