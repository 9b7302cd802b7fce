/* SPDX-License-Identifier: MIT */
/*
 * blink -- two LEDs blinking at their own pace for 10 s.
 *
 *     async def blink(led, period_ms):
 *         while True:
 *             led.on()
 *             await asyncio.sleep_ms(5)
 *             led.off()
 *             await asyncio.sleep_ms(period_ms)
 *
 *     async def main(led1, led2):
 *         asyncio.create_task(blink(led1, 700))
 *         asyncio.create_task(blink(led2, 400))
 *         await asyncio.sleep_ms(10_000)
 *
 * On POSIX an LED is simulated: each change is printed with the loop's
 * clock. (examples/openmv/ holds the version for the camera's real LEDs.)
 *
 * Run: build/examples/blink [--virtual] [--trace FILE]   (10 s in real time)
 */
#define ASYNCIO_IMPLEMENTATION /* this file compiles the core (stb-style) */
#include "asyncio.h"
#include "example_args.h"
#include "port_posix.h"

#include <stdio.h>
#include <string.h>

static uint32_t start_ms;

/* Print a line stamped with the loop's clock, in seconds. */
static void stamp(const char *what, int id)
{
    uint32_t ms = (uint32_t)asyncio_ticks_diff(asyncio_ticks_ms(), start_ms);
    printf("[%2lu.%03lu] ", (unsigned long)(ms / 1000), (unsigned long)(ms % 1000));
    if (id)
        printf("LED%d ", id);
    puts(what);
}

/* A simulated LED. */
struct led {
    int id;
};
static void led_on(const struct led *led) { stamp("on", led->id); }
static void led_off(const struct led *led) { stamp("off", led->id); }

struct blink {
    asyncio_coro co;
    const struct led *led;
    int32_t period_ms;
};

static int blink_fn(asyncio_coro *co)
{
    struct blink *f = (struct blink *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        led_on(f->led);
        AWAIT_SLEEP_MS(5);
        led_off(f->led);
        AWAIT_SLEEP_MS(f->period_ms);
    }
    ASYNC_END;
}

static asyncio_coro *blink(struct blink *f, const struct led *led, int32_t period_ms)
{
    f->led = led;
    f->period_ms = period_ms;
    return asyncio_coro_init(&f->co, blink_fn);
}

struct main_frame {
    asyncio_coro co;
    const struct led *led1, *led2;
    struct blink b1, b2;
    asyncio_task t1, t2;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->t1, blink(&f->b1, f->led1, 700));
    asyncio_create_task(&f->t2, blink(&f->b2, f->led2, 400));
    AWAIT_SLEEP_MS(10000);
    stamp("main done", 0);
    ASYNC_END;
}

int main(int argc, char **argv)
{
    static const struct led led1 = {1}, led2 = {2};
    static asyncio_task task;
    static struct main_frame frame;
    int err;
    example_args(&argc, argv); /* --virtual, --trace FILE */
    setvbuf(stdout, NULL, _IOLBF, 0);
    start_ms = asyncio_ticks_ms();
    frame.led1 = &led1;
    frame.led2 = &led2;
    err = asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), NULL);
    asyncio_new_event_loop(); /* like asyncio.run: drop the blinking tasks */
    return err == 0 ? 0 : 1;
}
