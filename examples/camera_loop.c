/* SPDX-License-Identifier: MIT */
/*
 * camera_loop -- the classic `while True: img = csi0.snapshot()` loop folded
 * into main as tasks: a frame task woken by the camera's frame interrupt
 * through a ThreadSafeFlag, beside a heartbeat and a "network" task.
 *
 *     frame_ready = asyncio.ThreadSafeFlag()   # set by the frame IRQ
 *
 *     async def camera(n):
 *         for i in range(n):
 *             await frame_ready.wait()
 *             img = csi0.snapshot()
 *
 *     async def main():
 *         asyncio.create_task(heartbeat(250))
 *         asyncio.create_task(network(400))
 *         await camera(30)
 *
 * On POSIX the camera is simulated. In real time a POSIX interval timer
 * (setitimer, SIGALRM every 33 ms) plays the frame interrupt: its signal
 * handler calls asyncio_flag_set(), the one call that is safe there. Under
 * --virtual a signal cannot follow the virtual clock, so a "sensor" task
 * sets the flag every 33 ms of virtual time instead: the task's wake-up
 * path is the same, and the output is exact.
 *
 * Run: build/examples/camera_loop [--virtual] [--trace FILE]   (1 s in real time)
 */
#define _XOPEN_SOURCE 700      /* setitimer, sigaction */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define FRAME_MS 33
#define FRAMES 30

static asyncio_flag frame_ready; /* set by the (simulated) frame interrupt */
static int frames_done;          /* read by the network task */
static uint32_t start_ms;

static void stamp(const char *fmt, ...)
{
    va_list ap;
    uint32_t ms = (uint32_t)asyncio_ticks_diff(asyncio_ticks_ms(), start_ms);
    printf("[%lu.%03lu] ", (unsigned long)(ms / 1000), (unsigned long)(ms % 1000));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* ---- the frame interrupt, real time: a timer signal ---- */
static void frame_irq(int sig)
{
    (void)sig;
    asyncio_flag_set(&frame_ready); /* IRQ- and signal-safe */
}

static void frame_timer(int on)
{
    struct itimerval it;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = frame_irq;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (on)
        sigaction(SIGALRM, &sa, NULL);
    it.it_interval.tv_sec = it.it_value.tv_sec = 0;
    it.it_interval.tv_usec = it.it_value.tv_usec = on ? FRAME_MS * 1000 : 0;
    setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- the frame interrupt, virtual time: a task on a virtual schedule ---- */
static int sensor_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    for (;;) {
        AWAIT_SLEEP_MS(FRAME_MS);
        asyncio_flag_set(&frame_ready);
    }
    ASYNC_END;
}

/* ---- the camera: one frame per flag ---- */
struct camera {
    asyncio_coro co;
    int frames;
};

static int camera_fn(asyncio_coro *co)
{
    struct camera *f = (struct camera *)co;
    ASYNC_BEGIN(co);
    asyncio_flag_clear(&frame_ready); /* forget a frame that came too early */
    for (f->frames = 1; f->frames <= FRAMES; f->frames++) {
        AWAIT_FLAG(&frame_ready);
        frames_done = f->frames; /* img = csi0.snapshot() */
        stamp("frame %d", f->frames);
    }
    ASYNC_RETURN(FRAMES);
    ASYNC_END;
}

/* ---- a periodic task: heartbeat or network ---- */
struct periodic {
    asyncio_coro co;
    int32_t period_ms;
    int network; /* 1: report the frames to the "network" */
};

static int periodic_fn(asyncio_coro *co)
{
    struct periodic *f = (struct periodic *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        if (f->network)
            stamp("network: sent %d frames", frames_done);
        else
            stamp("heartbeat");
        AWAIT_SLEEP_MS(f->period_ms);
    }
    ASYNC_FINALLY;
    stamp("%s stopped (%s)", f->network ? "network" : "heartbeat", asyncio_strerror(ASYNC_ERROR));
    ASYNC_END;
}

static asyncio_coro *periodic(struct periodic *f, int32_t period_ms, int network)
{
    f->period_ms = period_ms;
    f->network = network;
    return asyncio_coro_init(&f->co, periodic_fn);
}

/* ---- main ---- */
struct main_frame {
    asyncio_coro co;
    int virtual_time;
    struct camera camera;
    struct periodic heartbeat, network;
    asyncio_coro sensor;
    asyncio_task camera_task, heartbeat_task, network_task, sensor_task;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->heartbeat_task, periodic(&f->heartbeat, 250, 0));
    asyncio_create_task(&f->network_task, periodic(&f->network, 400, 1));
    asyncio_create_task(&f->camera_task, asyncio_coro_init(&f->camera.co, camera_fn));
    if (f->virtual_time)
        asyncio_create_task(&f->sensor_task, asyncio_coro_init(&f->sensor, sensor_fn));
    else
        frame_timer(1);

    AWAIT_TASK(&f->camera_task);
    stamp("%ld frames: shutting down", (long)AWAIT_RESULT);
    if (f->virtual_time)
        asyncio_task_cancel(&f->sensor_task);
    else
        frame_timer(0);
    asyncio_task_cancel(&f->heartbeat_task);
    asyncio_task_cancel(&f->network_task);
    ASYNC_TRY(AWAIT_TASK(&f->heartbeat_task)); /* they end cancelled: expected */
    ASYNC_TRY(AWAIT_TASK(&f->network_task));
    stamp("done");
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static asyncio_task task;
    static struct main_frame frame;
    frame.virtual_time = example_args(&argc, argv); /* --virtual, --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);
    asyncio_flag_init(&frame_ready);
    start_ms = asyncio_ticks_ms();
    return asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), NULL) == 0 ? 0 : 1;
}
