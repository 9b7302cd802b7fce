/*
 * port_posix.c -- asyncio.h on Linux / POSIX.
 *
 *  ticks    CLOCK_MONOTONIC in milliseconds (wrapping at 2^32), or a virtual
 *           clock for tests (asyncio_posix_virtual_time).
 *  wait     poll() on a self-pipe: asyncio_port_wake() writes one byte, so a
 *           wake that arrives before the loop starts waiting is still seen.
 *  wake     write() is async-signal-safe and thread-safe: asyncio_flag_set()
 *           works from signal handlers and other threads.
 *  critical nothing to mask on a host; the flag uses atomics instead.
 *
 * This file holds the one implementation of the core.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define ASYNCIO_IMPLEMENTATION
#include "asyncio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

static int asyncio_posix_pipe_[2] = {-1, -1};
static int asyncio_posix_virtual_;          /* virtual clock on? */
static uint32_t asyncio_posix_virtual_now_; /* its reading */

static void asyncio_posix_nonblocking_(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void asyncio_port_init(void)
{
    if (asyncio_posix_pipe_[0] >= 0)
        return;
    if (pipe(asyncio_posix_pipe_) == 0) {
        asyncio_posix_nonblocking_(asyncio_posix_pipe_[0]);
        asyncio_posix_nonblocking_(asyncio_posix_pipe_[1]);
    }
}

void asyncio_posix_virtual_time(int on, uint32_t start_ms)
{
    asyncio_posix_virtual_ = on;
    asyncio_posix_virtual_now_ = start_ms;
}

uint32_t asyncio_port_ticks_ms(void)
{
    struct timespec ts;
    if (asyncio_posix_virtual_)
        return asyncio_posix_virtual_now_;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Empty the wake pipe; returns whether a wake was pending. */
static int asyncio_posix_drain_(void)
{
    char buf[64];
    int woken = 0;
    while (read(asyncio_posix_pipe_[0], buf, sizeof buf) > 0)
        woken = 1;
    return woken;
}

void asyncio_port_wait(int32_t timeout_ms)
{
    struct pollfd p;
    if (asyncio_posix_virtual_ && timeout_ms >= 0) {
        /* Virtual time: a pending wake ends the wait at once; otherwise the
         * clock jumps straight to the deadline. */
        if (!asyncio_posix_drain_())
            asyncio_posix_virtual_now_ += (uint32_t)timeout_ms;
        return;
    }
    p.fd = asyncio_posix_pipe_[0];
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, timeout_ms) > 0)
        asyncio_posix_drain_();
}

void asyncio_port_wake(void)
{
    int saved = errno; /* may run in a signal handler */
    char one = 1;
    if (asyncio_posix_pipe_[1] >= 0 && write(asyncio_posix_pipe_[1], &one, 1) < 0) {
        /* EAGAIN: the pipe is full, so a wake is already pending. */
    }
    errno = saved;
}

uint32_t asyncio_port_critical_enter(void) { return 0; }

void asyncio_port_critical_exit(uint32_t state) { (void)state; }

int asyncio_port_io_watch(asyncio_io *io, unsigned events)
{
    (void)io;
    (void)events;
    return ASYNCIO_EINVAL; /* streams: not yet */
}
