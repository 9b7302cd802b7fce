/* SPDX-License-Identifier: MIT */
/*
 * port_posix.c -- the asyncio.h port for Linux / POSIX: the port interface
 * (see asyncio.h) and nothing else. The core is compiled where
 * ASYNCIO_IMPLEMENTATION is defined; port_posix.h declares this port's
 * extras.
 *
 *  ticks    CLOCK_MONOTONIC in milliseconds (wrapping at 2^32), or a virtual
 *           clock for tests (asyncio_posix_virtual_time).
 *  wait     poll() on a self-pipe: asyncio_port_wake() writes one byte, so a
 *           wake that arrives before the loop starts waiting is still seen.
 *  wake     write() is async-signal-safe and thread-safe: asyncio_flag_set()
 *           works from signal handlers and other threads.
 *  critical nothing to mask on a host; the flag uses atomics instead.
 *  thread   asyncio_port_thread_id() is pthread_self(), for the debug check
 *           ASYNCIO_CHECK_THREAD.
 *  io       epoll on Linux, poll() elsewhere (or with -DASYNCIO_POSIX_POLL)
 *           over the watched descriptors plus the wake pipe.
 *  deinit   closes the wake pipe and the epoll descriptor (loop_close()).
 *  report   the default exception handler prints to stderr.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "port_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
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

/* I/O readiness (below): wait on the wake pipe plus the watched descriptors;
 * returns the number of descriptors found ready and sets *woken. */
static int asyncio_posix_io_wait_(int timeout_ms, int *woken);
static int asyncio_posix_io_active_(void);

void asyncio_port_wait(int32_t timeout_ms)
{
    struct pollfd p;
    int woken = 0;
    if (asyncio_posix_io_active_()) {
        if (asyncio_posix_virtual_ && timeout_ms >= 0) {
            /* Virtual time: look at the descriptors without waiting; only if
             * nothing is ready (and no wake is pending) does the clock jump. */
            if (asyncio_posix_io_wait_(0, &woken) == 0 && !woken)
                asyncio_posix_virtual_now_ += (uint32_t)timeout_ms;
            return;
        }
        asyncio_posix_io_wait_(timeout_ms, &woken);
        return;
    }
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

void asyncio_port_report(const asyncio_context *ctx)
{
    fprintf(stderr, "asyncio: %s: %s (%d), task %p\n", ctx->message, asyncio_strerror(ctx->error),
            ctx->error, (void *)ctx->task);
}
/* The optional thread id for ASYNCIO_CHECK_THREAD (pthread_t is an integer
 * or a pointer on the systems this port targets; never 0 for a thread). */
uintptr_t asyncio_port_thread_id(void) { return (uintptr_t)pthread_self(); }

uint32_t asyncio_port_critical_enter(void) { return 0; }

void asyncio_port_critical_exit(uint32_t state) { (void)state; }

/* ------------------------------------------------------------------------ */
/* I/O readiness: epoll on Linux (O(ready) per wake; the asyncio_io* rides   */
/* in epoll_data.ptr), poll() over a fixed table elsewhere. Level-triggered: */
/* the core watches only what somebody waits for, so a descriptor leaves    */
/* the set as soon as its waiters are woken.                                */
/* ------------------------------------------------------------------------ */

static void asyncio_posix_io_deinit_(void);

void asyncio_port_deinit(void)
{
    int i;
    asyncio_posix_io_deinit_();
    for (i = 0; i < 2; i++) {
        if (asyncio_posix_pipe_[i] >= 0)
            close(asyncio_posix_pipe_[i]);
        asyncio_posix_pipe_[i] = -1;
    }
}

#if defined(__linux__) && !defined(ASYNCIO_POSIX_POLL)
#include <sys/epoll.h>

static int asyncio_posix_epfd_ = -1;

static int asyncio_posix_io_active_(void) { return asyncio_posix_epfd_ >= 0; }

static void asyncio_posix_io_deinit_(void)
{
    if (asyncio_posix_epfd_ >= 0)
        close(asyncio_posix_epfd_);
    asyncio_posix_epfd_ = -1;
}

/* Create the epoll set (with the wake pipe in it) on first use. */
static int asyncio_posix_epoll_(void)
{
    struct epoll_event ev;
    if (asyncio_posix_epfd_ >= 0)
        return asyncio_posix_epfd_;
    asyncio_port_init();
    asyncio_posix_epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (asyncio_posix_epfd_ < 0)
        return -1;
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* NULL: the wake pipe */
    if (epoll_ctl(asyncio_posix_epfd_, EPOLL_CTL_ADD, asyncio_posix_pipe_[0], &ev) < 0) {
        close(asyncio_posix_epfd_);
        asyncio_posix_epfd_ = -1;
    }
    return asyncio_posix_epfd_;
}

/*
 * Registrations are one-shot (EPOLLONESHOT): once a descriptor reports, the
 * kernel disables it, so the usual "stop watching it" that follows costs no
 * system call, and the next wait re-arms it with one EPOLL_CTL_MOD (instead
 * of a DEL and an ADD per message). io->port says where it stands:
 */
enum { ASYNCIO_EP_NONE_, ASYNCIO_EP_ARMED_, ASYNCIO_EP_SPENT_ };

static int asyncio_posix_ctl_(int epfd, int op, asyncio_io *io, unsigned events)
{
    struct epoll_event ev;
    ev.events = ((events & ASYNCIO_IO_READ) ? (uint32_t)EPOLLIN : 0u) |
                ((events & ASYNCIO_IO_WRITE) ? (uint32_t)EPOLLOUT : 0u) | (uint32_t)EPOLLONESHOT;
    ev.data.ptr = io;
    return epoll_ctl(epfd, op, io->fd, &ev);
}

int asyncio_port_io_watch(asyncio_io *io, unsigned events)
{
    int r, epfd = asyncio_posix_epoll_();
    if (epfd < 0)
        return ASYNCIO_OSERROR(errno);
    if (events == 0) {
        /* A spent registration is disabled already: nothing to do. */
        if (io->port == ASYNCIO_EP_ARMED_) {
            if (asyncio_posix_ctl_(epfd, EPOLL_CTL_DEL, io, 0) < 0 && errno != EBADF &&
                errno != ENOENT)
                return ASYNCIO_OSERROR(errno);
            io->port = ASYNCIO_EP_NONE_;
        }
        return ASYNCIO_OK;
    }
    if (io->port == ASYNCIO_EP_NONE_) {
        r = asyncio_posix_ctl_(epfd, EPOLL_CTL_ADD, io, events);
        if (r < 0 && errno == EEXIST) /* left registered (disabled) by an earlier io */
            r = asyncio_posix_ctl_(epfd, EPOLL_CTL_MOD, io, events);
    } else {
        r = asyncio_posix_ctl_(epfd, EPOLL_CTL_MOD, io, events);
        if (r < 0 && errno == ENOENT) /* the descriptor was closed and opened again */
            r = asyncio_posix_ctl_(epfd, EPOLL_CTL_ADD, io, events);
    }
    if (r < 0)
        return ASYNCIO_OSERROR(errno);
    io->port = ASYNCIO_EP_ARMED_;
    return ASYNCIO_OK;
}

static int asyncio_posix_io_wait_(int timeout_ms, int *woken)
{
    struct epoll_event evs[64];
    int i, n, ready = 0;
    n = epoll_wait(asyncio_posix_epfd_, evs, (int)(sizeof evs / sizeof evs[0]), timeout_ms);
    for (i = 0; i < n; i++) {
        asyncio_io *io = (asyncio_io *)evs[i].data.ptr;
        uint32_t e = evs[i].events;
        unsigned what = 0;
        if (!io) {
            *woken |= asyncio_posix_drain_();
            continue;
        }
        io->port = ASYNCIO_EP_SPENT_; /* one-shot: disabled until re-armed */
        if (e & (EPOLLERR | EPOLLHUP))
            what = ASYNCIO_IO_READ | ASYNCIO_IO_WRITE;
        if (e & EPOLLIN)
            what |= ASYNCIO_IO_READ;
        if (e & EPOLLOUT)
            what |= ASYNCIO_IO_WRITE;
        asyncio_io_ready(io, what);
        /* Somebody still waits (the other direction): arm it again. */
        if (io->watching && io->port == ASYNCIO_EP_SPENT_ &&
            asyncio_posix_ctl_(asyncio_posix_epfd_, EPOLL_CTL_MOD, io, io->watching) == 0)
            io->port = ASYNCIO_EP_ARMED_;
        ready++;
    }
    return ready;
}

#else /* poll() over a table of watched descriptors */

#ifndef ASYNCIO_POSIX_MAX_IO
#define ASYNCIO_POSIX_MAX_IO 256
#endif
static asyncio_io *asyncio_posix_ios_[ASYNCIO_POSIX_MAX_IO];
static struct pollfd asyncio_posix_pfds_[ASYNCIO_POSIX_MAX_IO + 1];
static int asyncio_posix_nio_;

static int asyncio_posix_io_active_(void) { return asyncio_posix_nio_ > 0; }

static void asyncio_posix_io_deinit_(void) { asyncio_posix_nio_ = 0; }

int asyncio_port_io_watch(asyncio_io *io, unsigned events)
{
    int i;
    for (i = 0; i < asyncio_posix_nio_ && asyncio_posix_ios_[i] != io; i++) {
    }
    if (events == 0) {
        if (i < asyncio_posix_nio_)
            asyncio_posix_ios_[i] = asyncio_posix_ios_[--asyncio_posix_nio_];
        return ASYNCIO_OK;
    }
    if (i == asyncio_posix_nio_) {
        if (i == ASYNCIO_POSIX_MAX_IO)
            return ASYNCIO_OSERROR(ENOMEM);
        asyncio_posix_ios_[asyncio_posix_nio_++] = io;
    }
    return ASYNCIO_OK; /* the events are read from io->watching at wait time */
}

static int asyncio_posix_io_wait_(int timeout_ms, int *woken)
{
    int i, n = asyncio_posix_nio_, ready = 0;
    asyncio_io *ios[ASYNCIO_POSIX_MAX_IO];
    asyncio_port_init();
    for (i = 0; i < n; i++) {
        /* A descriptor being added reports its new events after the core
         * updates io->watching, i.e. before this wait: both are read here. */
        unsigned w = asyncio_posix_ios_[i]->watching;
        ios[i] = asyncio_posix_ios_[i];
        asyncio_posix_pfds_[i].fd = ios[i]->fd;
        asyncio_posix_pfds_[i].events =
            (short)(((w & ASYNCIO_IO_READ) ? POLLIN : 0) | ((w & ASYNCIO_IO_WRITE) ? POLLOUT : 0));
        asyncio_posix_pfds_[i].revents = 0;
    }
    asyncio_posix_pfds_[n].fd = asyncio_posix_pipe_[0];
    asyncio_posix_pfds_[n].events = POLLIN;
    asyncio_posix_pfds_[n].revents = 0;
    if (poll(asyncio_posix_pfds_, (nfds_t)n + 1, timeout_ms) <= 0)
        return 0;
    if (asyncio_posix_pfds_[n].revents)
        *woken |= asyncio_posix_drain_();
    for (i = 0; i < n; i++) {
        short e = asyncio_posix_pfds_[i].revents;
        unsigned what = 0;
        if (!e)
            continue;
        if (e & (POLLERR | POLLHUP | POLLNVAL))
            what = ASYNCIO_IO_READ | ASYNCIO_IO_WRITE;
        if (e & POLLIN)
            what |= ASYNCIO_IO_READ;
        if (e & POLLOUT)
            what |= ASYNCIO_IO_WRITE;
        asyncio_io_ready(ios[i], what);
        ready++;
    }
    return ready;
}
#endif
