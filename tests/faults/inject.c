/* SPDX-License-Identifier: MIT */
/*
 * inject.c -- an LD_PRELOAD library that makes the system calls the streams
 * use behave as badly as POSIX allows, on non-blocking sockets and pipes:
 * read(), recv(), write() and send() sometimes fail with EINTR, fail with
 * EAGAIN although the descriptor is ready, or move fewer bytes than asked
 * (at least one). Blocking descriptors and regular files are left alone.
 *
 *   ASYNCIO_FAULT_PERCENT  share of calls that misbehave (default 30)
 *   ASYNCIO_FAULT_SEED     seed of the choices (default 1); print it with a
 *                          failure to replay the same sequence of choices
 *   ASYNCIO_FAULT_LOG      set: one line on stderr per injected fault
 *
 * tests/faults/faults.mk runs the stream suites under it (make test-faults).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum { PASS, FAIL_EINTR, FAIL_EAGAIN, SHORT };

static uint64_t state;
static int percent = -1;

static void configure(void)
{
    const char *p = getenv("ASYNCIO_FAULT_PERCENT"), *s = getenv("ASYNCIO_FAULT_SEED");
    percent = p ? atoi(p) : 30;
    state = 0x9E3779B97F4A7C15ull * (s ? strtoull(s, NULL, 10) + 1u : 2u);
}

/* xorshift64: the same seed gives the same choices, call after call */
static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 11);
}

static int eligible(int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || !(fl & O_NONBLOCK) || fstat(fd, &st) != 0)
        return 0;
    return S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode);
}

static void note(int fd, size_t n, const char *what)
{
    char line[80];
    int len;
    if (!getenv("ASYNCIO_FAULT_LOG"))
        return;
    len = snprintf(line, sizeof line, "[fault: fd %d, %zu bytes: %s]\n", fd, n, what);
    if (len > 0) /* the raw call: write() here would be our own */
        (void)syscall(SYS_write, 2, line, (size_t)len);
}

/* What this call does; *n shrinks for a short transfer. */
static int choose(int fd, size_t *n)
{
    int c;
    if (percent < 0)
        configure();
    if (*n == 0 || !eligible(fd) || (int)(next() % 100u) >= percent)
        return PASS;
    c = (int)(next() % 3u) + FAIL_EINTR;
    if (c == SHORT && *n < 2)
        c = FAIL_EAGAIN;
    if (c == SHORT)
        *n = 1 + next() % (*n - 1);
    note(fd, *n, c == FAIL_EINTR ? "EINTR" : c == FAIL_EAGAIN ? "EAGAIN" : "short");
    return c;
}

/* -1 with errno for a failure choice, else 0 (go on with *n bytes). */
static int inject(int fd, size_t *n)
{
    switch (choose(fd, n)) {
    case FAIL_EINTR: errno = EINTR; return -1;
    case FAIL_EAGAIN: errno = EAGAIN; return -1;
    default: return 0;
    }
}

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
/* The C library's function (dlsym's object pointer to a function pointer
 * through a union: ISO C has no cast between the two). */
#define REAL(type, name)                                                                           \
    static type real;                                                                              \
    if (!real) {                                                                                   \
        union {                                                                                    \
            void *p;                                                                               \
            type f;                                                                                \
        } u;                                                                                       \
        u.p = dlsym(RTLD_NEXT, #name);                                                             \
        real = u.f;                                                                                \
    }

ssize_t read(int fd, void *buf, size_t n)
{
    REAL(read_fn, read);
    return inject(fd, &n) ? -1 : real(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write_fn, write);
    return inject(fd, &n) ? -1 : real(fd, buf, n);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    REAL(recv_fn, recv);
    return inject(fd, &n) ? -1 : real(fd, buf, n, flags);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    REAL(send_fn, send);
    return inject(fd, &n) ? -1 : real(fd, buf, n, flags);
}
