/* SPDX-License-Identifier: MIT */
/*
 * Cancellation delivered at the start of every kind of await (issue 21).
 *
 * A cancellation can reach a task while it runs: task V runs, task P awaits
 * V, and V cancels P; the cancel is forwarded to the innermost task P
 * awaits, V itself. V's next await must then raise ECANCELLED at its start,
 * even when it could complete at once (a set Event, a free Lock, a set
 * flag, a readable descriptor, a non-empty queue, a queue with room, a
 * semaphore with permits, a finished task), and must leave the object as
 * it was (the lock free, the item in the queue, the permit unused). A
 * YIELD delivers it before any other task runs.
 *
 * Also: a task cancelled while it waits for writability (drain on a full
 * socket, open_connection in progress) ends with ECANCELLED; what drain had
 * queued stays queued and arrives intact with the next drain, and a
 * cancelled connect leaves the stream closed.
 */
#define _POSIX_C_SOURCE 200809L
#include "asyncio_stream.h"
#include "port_posix.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(cancel_points, .init = setup, .timeout = 10);

enum kind {
    K_YIELD,
    K_TASK,
    K_EVENT,
    K_LOCK,
    K_FLAG,
    K_IO,
    K_GET,
    K_PUT,
    K_SEM,
    K_SLEEP,
    K_SLEEP10,
    K_SLEEP_OP,
    K_GET_OP,
    K_PUT_OP,
    K_ISR_GET,
    K_ISR_GET_OP,
    K_COND,
    K_WAIT_FOR,
    K_WAIT_FOR_TASK,
    K_GATHER
};
static const char *const kind_name[] = {
    "yield",      "task",        "event",           "lock",          "flag",
    "io",         "q.get",       "q.put",           "semaphore",     "sleep",
    "sleep 10",   "sleep_ms op", "queue_get op",    "queue_put op",  "isr q.get",
    "isr_get op", "cond.wait",   "wait_for 100 ms", "wait_for task", "gather"};

static enum kind kind;
static asyncio_task victim_task, parent_task, other_task, done_task;
static asyncio_event ev;
static asyncio_lock lock;
static asyncio_flag flag;
static asyncio_io io;
static int pipefd[2];
static asyncio_queue q;
static asyncio_value qbuf[4];
static asyncio_semaphore sem;
static asyncio_isr_queue isrq;
static asyncio_value isrbuf[4];
static asyncio_lock cond_lock;
static asyncio_condition cond;

static int done_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RETURN(42);
    ASYNC_END;
}
static asyncio_coro done_co;

/* V: cancel the parent (forwarded to V itself), then await `kind`. */
static struct victim {
    asyncio_coro co;
    asyncio_op op;
    asyncio_condition_wait_state cw;
    asyncio_wait_for_state wf;
    asyncio_coro inner;
    asyncio_gather_state g;
    asyncio_task *gathered[1];
    asyncio_outcome out[1];
    int err;
} victim;
static asyncio_task gathered_task;
static asyncio_coro gathered_co;
static int nap_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(1000);
    ASYNC_END;
}
static int victim_fn(asyncio_coro *co)
{
    struct victim *f = (struct victim *)co;
    ASYNC_BEGIN(co);
    if (kind == K_COND)
        AWAIT_LOCK(&cond_lock); /* a condition is waited on holding its lock */
    trace("V: cancel(P) = %d", asyncio_task_cancel(&parent_task));
    /* (if/else: an await cannot sit in a switch of its own inside a body) */
    if (kind == K_YIELD)
        ASYNC_TRY(YIELD);
    else if (kind == K_TASK)
        ASYNC_TRY(AWAIT_TASK(&done_task));
    else if (kind == K_EVENT)
        ASYNC_TRY(AWAIT_EVENT(&ev));
    else if (kind == K_LOCK)
        ASYNC_TRY(AWAIT_LOCK(&lock));
    else if (kind == K_FLAG)
        ASYNC_TRY(AWAIT_FLAG(&flag));
    else if (kind == K_IO)
        ASYNC_TRY(AWAIT_IO(&io, ASYNCIO_IO_READ));
    else if (kind == K_GET)
        ASYNC_TRY(AWAIT_QUEUE_GET(&q));
    else if (kind == K_PUT)
        ASYNC_TRY(AWAIT_QUEUE_PUT(&q, 7));
    else if (kind == K_SEM)
        ASYNC_TRY(AWAIT_SEMAPHORE(&sem));
    else if (kind == K_SLEEP)
        ASYNC_TRY(AWAIT_SLEEP_MS(0));
    else if (kind == K_SLEEP10)
        ASYNC_TRY(AWAIT_SLEEP_MS(10));
    else if (kind == K_SLEEP_OP)
        ASYNC_TRY(AWAIT(asyncio_sleep_ms(&f->op, 10)));
    else if (kind == K_GET_OP)
        ASYNC_TRY(AWAIT(asyncio_queue_get(&f->op, &q)));
    else if (kind == K_PUT_OP)
        ASYNC_TRY(AWAIT(asyncio_queue_put(&f->op, &q, 7)));
    else if (kind == K_ISR_GET)
        ASYNC_TRY(AWAIT_ISR_QUEUE_GET(&isrq));
    else if (kind == K_ISR_GET_OP)
        ASYNC_TRY(AWAIT(asyncio_isr_queue_get(&f->op, &isrq)));
    else if (kind == K_COND)
        ASYNC_TRY(AWAIT(asyncio_condition_wait(&f->cw, &cond)));
    else if (kind == K_WAIT_FOR)
        ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_coro_init(&f->inner, done_fn), 100)));
    else if (kind == K_WAIT_FOR_TASK)
        ASYNC_TRY(AWAIT(asyncio_wait_for_task_ms(&f->wf, &done_task, ASYNCIO_NO_TIMEOUT)));
    else {
        f->gathered[0] = &gathered_task;
        ASYNC_TRY(AWAIT(asyncio_gather(&f->g, f->gathered, 1, f->out, 0)));
    }
    f->err = AWAIT_ERROR;
    if (kind == K_COND) { /* the wait gave the lock up and took it back */
        cr_assert(asyncio_lock_locked(&cond_lock));
        asyncio_lock_release(&cond_lock);
    }
    trace("V: await %s: %s", kind_name[kind], asyncio_strerror(AWAIT_ERROR));
    /* The cancel was consumed: the next await works. */
    AWAIT_SLEEP_MS(1);
    trace("V: then slept");
    ASYNC_RETURN(5);
    ASYNC_END;
}

/* P awaits V. */
static int parent_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT_TASK(&victim_task));
    trace("P: V ended: %s, %d", asyncio_strerror(AWAIT_ERROR), (int)AWAIT_RESULT);
    ASYNC_END;
}

/* O: a bystander, runnable while V runs. */
static int other_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    trace("O: ran");
    ASYNC_END;
}

static asyncio_coro parent_co, other_co, main_co;
static asyncio_task main_task;
static int main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&done_task, asyncio_coro_init(&done_co, done_fn)), 0);
    YIELD; /* done_task finishes */
    cr_assert(asyncio_task_done(&done_task));
    if (kind == K_GATHER)
        cr_assert_eq(asyncio_create_task(&gathered_task, asyncio_coro_init(&gathered_co, nap_fn)),
                     0);
    cr_assert_eq(asyncio_create_task(&parent_task, asyncio_coro_init(&parent_co, parent_fn)), 0);
    cr_assert_eq(asyncio_create_task(&victim_task, asyncio_coro_init(&victim.co, victim_fn)), 0);
    cr_assert_eq(asyncio_create_task(&other_task, asyncio_coro_init(&other_co, other_fn)), 0);
    AWAIT_TASK(&parent_task);
    ASYNC_END;
}

static void run_kind(enum kind k)
{
    char want[512];
    asyncio_value v;
    kind = k;
    trace_len = 0;
    trace_buf[0] = '\0';
    cr_assert_not_null(asyncio_new_event_loop());
    asyncio_event_init(&ev);
    asyncio_event_set(&ev);
    asyncio_lock_init(&lock);
    asyncio_flag_init(&flag);
    asyncio_flag_set(&flag);
    cr_assert_eq(pipe(pipefd), 0);
    cr_assert_eq(write(pipefd[1], "x", 1), 1);
    asyncio_io_init(&io, pipefd[0]);
    cr_assert_eq(asyncio_queue_init(&q, qbuf, 4), 0);
    cr_assert_eq(asyncio_queue_put_nowait(&q, 3), 0);
    asyncio_semaphore_init(&sem, 2);
    cr_assert_eq(asyncio_isr_queue_init(&isrq, isrbuf, 4), 0);
    cr_assert_eq(asyncio_isr_queue_put(&isrq, 9), 0);
    asyncio_lock_init(&cond_lock);
    asyncio_condition_init(&cond, &cond_lock);
    memset(&victim, 0, sizeof victim);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, main_fn), NULL), 0);
    /* Every await ran into the cancellation before any other task ran (P
     * is parked on V; O waits in the run queue behind V). */
    snprintf(want, sizeof want,
             "V: cancel(P) = 1\n"
             "V: await %s: cancelled\n"
             "O: ran\n"
             "V: then slept\n"
             "P: V ended: ok, 5\n",
             kind_name[k]);
    assert_trace(want);
    cr_assert_eq(victim.err, ASYNCIO_ECANCELLED);
    /* The object is as it was: nothing taken, nothing added. */
    cr_assert(asyncio_event_is_set(&ev));
    cr_assert_not(asyncio_lock_locked(&lock));
    cr_assert_eq(asyncio_queue_qsize(&q), 1);
    cr_assert_eq(asyncio_queue_get_nowait(&q, &v), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(asyncio_semaphore_value(&sem), 2);
    cr_assert_eq(asyncio_isr_queue_get_nowait(&isrq, &v), 0);
    cr_assert_eq(v, 9);
    cr_assert_not(asyncio_lock_locked(&cond_lock));
    asyncio_io_forget(&io);
    close(pipefd[0]);
    close(pipefd[1]);
}

Test(cancel_points, a_yield_delivers_a_pending_cancel_before_other_tasks_run) { run_kind(K_YIELD); }
Test(cancel_points, awaiting_a_finished_task_delivers_a_pending_cancel) { run_kind(K_TASK); }
Test(cancel_points, awaiting_a_set_event_delivers_a_pending_cancel) { run_kind(K_EVENT); }
Test(cancel_points, acquiring_a_free_lock_delivers_a_pending_cancel_and_leaves_it_free)
{
    run_kind(K_LOCK);
}
Test(cancel_points, awaiting_a_set_flag_delivers_a_pending_cancel) { run_kind(K_FLAG); }
Test(cancel_points, awaiting_a_readable_descriptor_delivers_a_pending_cancel) { run_kind(K_IO); }
Test(cancel_points, getting_from_a_non_empty_queue_delivers_a_pending_cancel_and_takes_nothing)
{
    run_kind(K_GET);
}
Test(cancel_points, putting_into_a_queue_with_room_delivers_a_pending_cancel_and_adds_nothing)
{
    run_kind(K_PUT);
}
Test(cancel_points, acquiring_a_free_semaphore_delivers_a_pending_cancel_and_keeps_the_permit)
{
    run_kind(K_SEM);
}
Test(cancel_points, sleep_0_delivers_a_pending_cancel) { run_kind(K_SLEEP); }
Test(cancel_points, a_sleep_delivers_a_pending_cancel_at_once_not_at_its_deadline)
{
    run_kind(K_SLEEP10);
}
Test(cancel_points, a_sleep_ms_coroutine_object_delivers_a_pending_cancel) { run_kind(K_SLEEP_OP); }
Test(cancel_points, a_queue_get_coroutine_object_delivers_a_pending_cancel_and_takes_nothing)
{
    run_kind(K_GET_OP);
}
Test(cancel_points, a_queue_put_coroutine_object_delivers_a_pending_cancel_and_adds_nothing)
{
    run_kind(K_PUT_OP);
}
Test(cancel_points, getting_from_a_non_empty_isr_queue_delivers_a_pending_cancel_and_takes_nothing)
{
    run_kind(K_ISR_GET);
}
Test(cancel_points, an_isr_queue_get_coroutine_object_delivers_a_pending_cancel_and_takes_nothing)
{
    run_kind(K_ISR_GET_OP);
}
Test(cancel_points, a_condition_wait_delivers_a_pending_cancel_holding_the_lock_again)
{
    run_kind(K_COND);
}
Test(cancel_points, wait_for_with_a_timeout_delivers_a_pending_cancel_at_its_sleep)
{
    run_kind(K_WAIT_FOR);
}
/* Before the fix gather parked with the cancellation pending and delivered
 * it only when a gathered task ended (here after 1000 ms: O ran first). */
Test(cancel_points, gather_delivers_a_pending_cancel_and_cancels_the_gathered_task)
{
    run_kind(K_GATHER);
    cr_assert_eq(asyncio_task_result(&gathered_task, NULL), ASYNCIO_ECANCELLED);
}
Test(cancel_points, wait_for_a_finished_task_without_timeout_delivers_a_pending_cancel)
{
    run_kind(K_WAIT_FOR_TASK);
}

/* ---- a task cancelled while it waits for writability ---- */

static unsigned char pattern(size_t i) { return (unsigned char)((i * 131u + (i >> 9)) & 0xFF); }

#define DRAIN_TOTAL 60000
static unsigned char out[DRAIN_TOTAL], wbuf[DRAIN_TOTAL], in[DRAIN_TOTAL + 16];
static asyncio_stream st;
static int sv[2];
static asyncio_task drain_task, reader_task;
static struct drainer {
    asyncio_coro co;
    int err;
} drainer, drainer2;
static int drainer_fn(asyncio_coro *co)
{
    struct drainer *f = (struct drainer *)co;
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_stream_drain(&st)));
    f->err = AWAIT_ERROR;
    trace("drain: %s", asyncio_strerror(AWAIT_ERROR));
    ASYNC_END;
}

/* Reads the peer end until EOF. */
static struct raw_reader {
    asyncio_coro co;
    asyncio_io io;
    size_t got;
} rr;
static int raw_reader_fn(asyncio_coro *co)
{
    struct raw_reader *f = (struct raw_reader *)co;
    ssize_t n;
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT_IO(&f->io, ASYNCIO_IO_READ);
        n = read(f->io.fd, in + f->got, sizeof in - f->got);
        if (n == 0)
            break;
        if (n > 0)
            f->got += (size_t)n;
    }
    ASYNC_END;
}

static asyncio_coro drain_main_co;
static size_t pre_read, queued_at_cancel;
static int drain_main(asyncio_coro *co)
{
    size_t i;
    ssize_t n;
    ASYNC_BEGIN(co);
    for (i = 0; i < DRAIN_TOTAL; i++)
        out[i] = pattern(i);
    /* The kernel takes a part at once; the rest is queued. */
    cr_assert_eq(asyncio_stream_write(&st, out, DRAIN_TOTAL), 0);
    cr_assert_gt(st.wlen, 0, "the socket buffer is small: bytes stay queued");
    cr_assert_eq(asyncio_create_task(&drain_task, asyncio_coro_init(&drainer.co, drainer_fn)), 0);
    YIELD; /* the drain parks: nobody reads the peer */
    YIELD;
    cr_assert_neq(asyncio_task_line(&drain_task), 0, "the drain waits for writability");
    /* The peer makes room in the same round as the cancel: the cancelled
     * drain must send nothing more. */
    n = read(sv[1], in, 8192);
    cr_assert_gt(n, 0);
    pre_read = (size_t)n;
    queued_at_cancel = st.wlen;
    trace("cancel(drain) = %d", asyncio_task_cancel(&drain_task));
    AWAIT_TASK(&drain_task);
    cr_assert_eq(st.wlen, queued_at_cancel, "nothing sent after the cancel");
    /* What was not sent stays queued: the next drain sends it, in order. */
    cr_assert_gt(st.wlen, 0);
    memset(&rr, 0, sizeof rr);
    rr.got = pre_read;
    asyncio_io_init(&rr.io, sv[1]);
    cr_assert_eq(asyncio_create_task(&reader_task, asyncio_coro_init(&rr.co, raw_reader_fn)), 0);
    AWAIT(asyncio_coro_init(&drainer2.co, drainer_fn));
    asyncio_stream_close(&st);
    AWAIT_TASK(&reader_task);
    ASYNC_END;
}

Test(cancel_points,
     a_drain_cancelled_while_waiting_for_writability_sends_nothing_more_and_keeps_the_rest_queued)
{
    static asyncio_task t;
    int snd = 4096;
    size_t i;
    cr_assert_not_null(asyncio_new_event_loop());
    trace_len = 0;
    trace_buf[0] = '\0';
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd), 0);
    cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &snd, sizeof snd), 0);
    asyncio_stream_init(&st, NULL, 0, wbuf, sizeof wbuf);
    cr_assert_eq(asyncio_stream_attach(&st, sv[0]), 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&drain_main_co, drain_main), NULL), 0);
    assert_trace("cancel(drain) = 1\n"
                 "drain: cancelled\n"
                 "drain: ok\n");
    cr_assert_eq(rr.got, DRAIN_TOTAL);
    for (i = 0; i < DRAIN_TOTAL; i++)
        cr_assert_eq(in[i], pattern(i), "byte %zu", i);
    close(sv[1]);
}

/* open_connection cancelled while the connect is in progress. */
static int count_fds(void)
{
    int fd, n = 0;
    for (fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}
static asyncio_stream cst;
static asyncio_task connect_task;
static int listen_port;
static int connecter_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_open_connection(&cst, "127.0.0.1", listen_port, NULL)));
    trace("connect: %s, fd %d", asyncio_strerror(AWAIT_ERROR), asyncio_stream_fd(&cst));
    ASYNC_END;
}
static asyncio_coro connecter_co, connect_main_co;
static int connect_main(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    cr_assert_eq(asyncio_create_task(&connect_task, asyncio_coro_init(&connecter_co, connecter_fn)),
                 0);
    YIELD; /* the connect starts and waits for writability */
    trace("cancel(connect) = %d", asyncio_task_cancel(&connect_task));
    AWAIT_TASK(&connect_task);
    ASYNC_END;
}

Test(cancel_points, an_open_connection_cancelled_while_connecting_leaves_the_stream_closed)
{
    static asyncio_task t;
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int lfd, before = count_fds();
    asyncio_loop *loop = asyncio_new_event_loop();
    cr_assert_not_null(loop);
    trace_len = 0;
    trace_buf[0] = '\0';
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(lfd, 4), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    listen_port = ntohs(a.sin_port);
    asyncio_stream_init(&cst, NULL, 0, NULL, 0);
    cr_assert_eq(asyncio_run(&t, asyncio_coro_init(&connect_main_co, connect_main), NULL), 0);
    assert_trace("cancel(connect) = 1\n"
                 "connect: cancelled, fd -1\n");
    cr_assert_null(asyncio_stream_transport(&cst));
    close(lfd);
    cr_assert_eq(asyncio_loop_close(loop), 0); /* the port's own descriptors go */
    cr_assert_eq(count_fds(), before, "the connecting socket is closed");
}

/* ---- cancelled while parked inside an op object (queue get / put, ISR
 * queue get): ECANCELLED, and the queue is left as it was ---- */
struct op_waiter {
    asyncio_coro co;
    asyncio_op op;
    int which;
};
static struct op_waiter op_waiters[3];
static asyncio_task op_tasks[3], op_main_task;
static asyncio_coro op_main_co;
static asyncio_queue fullq;
static asyncio_value fullbuf[1];
static int op_waiter_fn(asyncio_coro *co)
{
    struct op_waiter *f = (struct op_waiter *)co;
    ASYNC_BEGIN(co);
    if (f->which == 0)
        ASYNC_TRY(AWAIT(asyncio_queue_get(&f->op, &q)));
    else if (f->which == 1)
        ASYNC_TRY(AWAIT(asyncio_queue_put(&f->op, &fullq, 8)));
    else
        ASYNC_TRY(AWAIT(asyncio_isr_queue_get(&f->op, &isrq)));
    trace("op %d: %s, value %d", f->which, asyncio_strerror(AWAIT_ERROR), (int)AWAIT_RESULT);
    ASYNC_RETURN(AWAIT_ERROR);
    ASYNC_END;
}
static int op_main_fn(asyncio_coro *co)
{
    int i;
    ASYNC_BEGIN(co);
    for (i = 0; i < 3; i++) {
        op_waiters[i].which = i;
        cr_assert_eq(
            asyncio_create_task(&op_tasks[i], asyncio_coro_init(&op_waiters[i].co, op_waiter_fn)),
            0);
    }
    AWAIT_SLEEP_MS(5); /* all three wait */
    for (i = 0; i < 3; i++)
        cr_assert_eq(asyncio_task_cancel(&op_tasks[i]), 1);
    AWAIT_SLEEP_MS(5);
    for (i = 0; i < 3; i++)
        cr_assert(asyncio_task_done(&op_tasks[i]));
    ASYNC_END;
}

Test(cancel_points, a_task_cancelled_while_parked_in_a_queue_op_object_ends_cancelled)
{
    asyncio_value v;
    cr_assert_not_null(asyncio_new_event_loop());
    cr_assert_eq(asyncio_queue_init(&q, qbuf, 4), 0);
    cr_assert_eq(asyncio_queue_init(&fullq, fullbuf, 1), 0);
    cr_assert_eq(asyncio_queue_put_nowait(&fullq, 1), 0);
    cr_assert_eq(asyncio_isr_queue_init(&isrq, isrbuf, 4), 0);
    cr_assert_eq(asyncio_run(&op_main_task, asyncio_coro_init(&op_main_co, op_main_fn), NULL), 0);
    assert_trace("op 0: cancelled, value 0\n"
                 "op 1: cancelled, value 0\n"
                 "op 2: cancelled, value 0\n");
    cr_assert_eq(asyncio_queue_qsize(&q), 0);
    cr_assert_eq(asyncio_queue_qsize(&fullq), 1);
    cr_assert_eq(asyncio_queue_get_nowait(&fullq, &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(asyncio_isr_queue_qsize(&isrq), 0);
}
