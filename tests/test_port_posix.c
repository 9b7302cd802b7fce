/* SPDX-License-Identifier: MIT */
/*
 * port_posix.c's descriptor bookkeeping (both backends; the epoll one keeps
 * one-shot registrations that outlive the asyncio_io that made them): a
 * second asyncio_io on a descriptor still registered by a first, an
 * asyncio_io whose descriptor was closed and opened again under the same
 * number, a reader woken while a writer of the same descriptor waits on,
 * the port unable to create its epoll set (no descriptor left), and the
 * no-op critical section.
 */
#define _POSIX_C_SOURCE 200809L
#include "port_posix.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void setup(void) { asyncio_posix_virtual_time(1, 0); }
TestSuite(port_posix, .init = setup, .timeout = 10);

static int sp[2];
static asyncio_io io_a, io_b;
static asyncio_task main_task, reader_task, writer_task;
static asyncio_coro main_co, reader_co, writer_co;

/* Read one byte of io_a's descriptor once it is readable. */
static int read_one_fn(asyncio_coro *co)
{
    char c;
    ASYNC_BEGIN(co);
    AWAIT_IO(&io_a, ASYNCIO_IO_READ);
    cr_assert_eq(read(io_a.fd, &c, 1), 1);
    trace("%u: read %c", asyncio_ticks_ms(), c);
    ASYNC_END;
}

/* ---- a second asyncio_io on a descriptor the first left registered ---- */
static int two_ios_fn(asyncio_coro *co)
{
    char c;
    ASYNC_BEGIN(co);
    asyncio_io_init(&io_a, sp[0]);
    cr_assert_eq(write(sp[1], "a", 1), 1);
    AWAIT_IO(&io_a, ASYNCIO_IO_READ); /* reported: left registered, disabled */
    cr_assert_eq(read(sp[0], &c, 1), 1);
    asyncio_io_init(&io_b, sp[0]); /* a new asyncio_io, the same descriptor */
    cr_assert_eq(write(sp[1], "b", 1), 1);
    AWAIT_IO(&io_b, ASYNCIO_IO_READ);
    cr_assert_eq(read(sp[0], &c, 1), 1);
    trace("%u: second io read %c", asyncio_ticks_ms(), c);
    AWAIT_SLEEP_MS(5);
    cr_assert_eq(write(sp[1], "c", 1), 1);
    AWAIT_IO(&io_b, ASYNCIO_IO_READ);
    cr_assert_eq(read(sp[0], &c, 1), 1);
    trace("%u: and again %c", asyncio_ticks_ms(), c);
    asyncio_io_forget(&io_b);
    ASYNC_END;
}

Test(port_posix, a_second_io_on_a_descriptor_registered_by_a_first_is_watched)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, two_ios_fn), NULL), 0);
    assert_trace("0: second io read b\n"
                 "5: and again c\n");
    close(sp[0]);
    close(sp[1]);
}

/* ---- a descriptor closed and opened again under the same number ---- */
static int reopened_fn(asyncio_coro *co)
{
    char c;
    int fd, other[2];
    ASYNC_BEGIN(co);
    asyncio_io_init(&io_a, sp[0]);
    cr_assert_eq(write(sp[1], "a", 1), 1);
    AWAIT_IO(&io_a, ASYNCIO_IO_READ);
    cr_assert_eq(read(sp[0], &c, 1), 1);
    /* Close both ends; the lowest free numbers come back with the next
     * socketpair, sp[0]'s first. io_a is kept as it is (not re-initialised). */
    fd = sp[0];
    close(sp[0]);
    close(sp[1]);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
    cr_assert_eq(other[0], fd, "the descriptor number came back");
    sp[0] = other[0];
    sp[1] = other[1];
    cr_assert_eq(write(sp[1], "z", 1), 1);
    AWAIT_IO(&io_a, ASYNCIO_IO_READ);
    cr_assert_eq(read(sp[0], &c, 1), 1);
    trace("%u: reopened descriptor read %c", asyncio_ticks_ms(), c);
    asyncio_io_forget(&io_a);
    ASYNC_END;
}

Test(port_posix, an_io_whose_descriptor_was_closed_and_reopened_is_watched_again)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, reopened_fn), NULL), 0);
    assert_trace("0: reopened descriptor read z\n");
    close(sp[0]);
    close(sp[1]);
}

/* ---- a reader woken while a writer of the same descriptor waits on ---- */
static int wait_writable_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_IO(&io_a, ASYNCIO_IO_WRITE);
    trace("%u: writable", asyncio_ticks_ms());
    ASYNC_END;
}
static char fill[4096];
static int reader_and_writer_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    asyncio_io_init(&io_a, sp[0]);
    cr_assert_eq(asyncio_create_task(&writer_task, asyncio_coro_init(&writer_co, wait_writable_fn)),
                 0);
    cr_assert_eq(asyncio_create_task(&reader_task, asyncio_coro_init(&reader_co, read_one_fn)), 0);
    AWAIT_SLEEP_MS(5); /* both wait: sp[0]'s send buffer is full, nothing to read */
    cr_assert_eq(write(sp[1], "r", 1), 1);
    AWAIT_TASK(&reader_task);
    AWAIT_SLEEP_MS(5);
    trace("%u: writer still waits: %d", asyncio_ticks_ms(), !asyncio_task_done(&writer_task));
    while (read(sp[1], fill, sizeof fill) > 0) /* make room */
        ;
    AWAIT_TASK(&writer_task);
    ASYNC_END;
}

Test(port_posix, a_reader_woken_leaves_the_writer_of_the_same_descriptor_watched)
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    fcntl(sp[0], F_SETFL, O_NONBLOCK);
    fcntl(sp[1], F_SETFL, O_NONBLOCK);
    memset(fill, 'x', sizeof fill);
    while (write(sp[0], fill, sizeof fill) > 0)
        ;
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, reader_and_writer_fn), NULL),
                 0);
    assert_trace("5: read r\n"
                 "10: writer still waits: 1\n"
                 "10: writable\n");
    close(sp[0]);
    close(sp[1]);
}

/* ---- no descriptor left for the epoll set ---- */
static int no_fd_fn(asyncio_coro *co)
{
    struct rlimit rl, low;
    int r;
    ASYNC_BEGIN(co);
    asyncio_io_init(&io_a, sp[0]);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    low = rl;
    low.rlim_cur = (rlim_t)sp[1] + 1; /* every number up to sp[1] is taken */
    cr_assert_eq(write(sp[1], "y", 1), 1);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    ASYNC_TRY(AWAIT_IO(&io_a, ASYNCIO_IO_READ));
    r = AWAIT_ERROR;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    trace("watch without descriptors: %s",
          r == ASYNCIO_OSERROR(EMFILE) ? "EMFILE" : asyncio_strerror(r));
    AWAIT_IO(&io_a, ASYNCIO_IO_READ); /* descriptors again: it works */
    trace("then readable");
    asyncio_io_forget(&io_a);
    ASYNC_END;
}

Test(port_posix, the_port_without_a_descriptor_for_its_epoll_set_refuses_the_watch_then_recovers)
{
    skip_under_valgrind("valgrind emulates RLIMIT_NOFILE");
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    cr_assert_not_null(asyncio_new_event_loop()); /* the wake pipe exists: the port is set up */
    cr_assert_eq(asyncio_run(&main_task, asyncio_coro_init(&main_co, no_fd_fn), NULL), 0);
#ifdef ASYNCIO_POSIX_POLL
    assert_trace("watch without descriptors: ok\n"
                 "then readable\n");
#else
    assert_trace("watch without descriptors: EMFILE\n"
                 "then readable\n");
#endif
    close(sp[0]);
    close(sp[1]);
}

Test(port_posix, the_critical_section_is_a_no_op_on_posix)
{
    uint32_t s = asyncio_port_critical_enter();
    cr_assert_eq(s, 0);
    asyncio_port_critical_exit(s);
}
