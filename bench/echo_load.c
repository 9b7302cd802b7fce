/* SPDX-License-Identifier: MIT */
/*
 * echo_load.c -- the client that drives every echo server in the stream
 * benchmark: N connections to 127.0.0.1:PORT, each sending a 64-byte message
 * and waiting for it to come back, over and over for SECONDS. Prints echoed
 * messages per second (and fails if a byte comes back wrong).
 *     build/bench/echo_load PORT N SECONDS
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

struct conn {
    int fd;
    size_t got;
    char in[MSG];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial(int port)
{
    struct sockaddr_in a;
    struct timespec pause = {0, 10 * 1000 * 1000};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, tries;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (tries = 0; tries < 200; tries++) {
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        if (errno != ECONNREFUSED)
            break;
        close(fd); /* a refused socket cannot connect again */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        nanosleep(&pause, NULL); /* the server is still starting */
    }
    return -1;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 9000, n = argc > 2 ? atoi(argv[2]) : 1, i;
    double secs = argc > 3 ? atof(argv[3]) : 1.0, end;
    struct rlimit rl = {4096, 4096};
    struct conn *cs = calloc((size_t)n, sizeof *cs);
    struct epoll_event ev, evs[256];
    char msg[MSG];
    long echoed = 0;
    int ep = epoll_create1(0);
    setrlimit(RLIMIT_NOFILE, &rl);
    for (i = 0; i < MSG; i++)
        msg[i] = (char)('a' + i % 26);
    for (i = 0; i < n; i++) {
        if ((cs[i].fd = dial(port)) < 0) {
            fprintf(stderr, "echo_load: connect %d failed\n", i);
            return 1;
        }
        ev.events = EPOLLIN;
        ev.data.ptr = &cs[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        if (write(cs[i].fd, msg, MSG) != MSG)
            return 1;
    }
    end = now() + secs;
    while (now() < end) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->in + c->got, MSG - c->got);
            if (r <= 0) {
                fprintf(stderr, "echo_load: connection lost\n");
                return 1;
            }
            c->got += (size_t)r;
            if (c->got == MSG) {
                if (memcmp(c->in, msg, MSG)) {
                    fprintf(stderr, "echo_load: corrupted echo\n");
                    return 1;
                }
                c->got = 0;
                echoed++;
                if (write(c->fd, msg, MSG) != MSG)
                    return 1;
            }
        }
    }
    printf("%.0f\n", (double)echoed / secs);
    for (i = 0; i < n; i++)
        close(cs[i].fd);
    return 0;
}
