/* SPDX-License-Identifier: MIT */
/*
 * uv_timers.c -- the libuv side of the timer benchmark: N timers with random
 * 1..50 ms timeouts (same seed and distribution as bench.c), run to expiry.
 * Prints CPU ns per timer (start + expire).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

static long fired;
static void on_timer(uv_timer_t *t)
{
    (void)t;
    fired++;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000, i;
    uv_timer_t *timers = calloc((size_t)n, sizeof *timers);
    struct timespec a, b;
    uv_loop_t *loop = uv_default_loop();
    srand(1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (i = 0; i < n; i++) {
        uv_timer_init(loop, &timers[i]);
        uv_timer_start(&timers[i], on_timer, (uint64_t)(1 + rand() % 50), 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    if (fired != n)
        return 1;
    printf("%.3f\n",
           ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n);
    return 0;
}
