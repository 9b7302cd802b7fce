/* SPDX-License-Identifier: MIT */
/*
 * blink -- the seed's example on the OpenMV Cam: two LEDs blinking at their
 * own pace for 10 s, each on for 5 ms per period.
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
 *     # Running on an OpenMV Cam
 *     from machine import LED
 *     asyncio.run(main(LED(1), LED(2)))
 *
 * Link it with port_openmv.c. The LEDs are the port's hook
 * asyncio_openmv_led(led, on), which the firmware overrides to drive its
 * pins; time is SysTick's. Under qemu (make test-arm) qemu_board.c
 * overrides the hooks to print each change, and the output must match the
 * host version's, examples/blink.expected, line for line.
 */
#include "port_openmv.h"

/* The port's LED hook (port_openmv.c; the firmware overrides it). */

/* Where the board says what happened: nowhere by default (the camera has no
 * console here); qemu_board.c prints. */
void blink_log(const char *what);
__attribute__((weak)) void blink_log(const char *what) { (void)what; }

struct blink {
    asyncio_coro co;
    int led;
    int32_t period_ms;
};

static int blink_fn(asyncio_coro *co)
{
    struct blink *f = (struct blink *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        asyncio_openmv_led(f->led, 1);
        AWAIT_SLEEP_MS(5);
        asyncio_openmv_led(f->led, 0);
        AWAIT_SLEEP_MS(f->period_ms);
    }
    ASYNC_END;
}

static asyncio_coro *blink(struct blink *f, int led, int32_t period_ms)
{
    f->led = led;
    f->period_ms = period_ms;
    return asyncio_coro_init(&f->co, blink_fn);
}

struct main_frame {
    asyncio_coro co;
    int led1, led2;
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
    blink_log("main done");
    ASYNC_END;
}

int main(void)
{
    static asyncio_task task;
    static struct main_frame frame;
    int err;
    frame.led1 = 1; /* LED(1) */
    frame.led2 = 2; /* LED(2) */
    err = asyncio_run(&task, asyncio_coro_init(&frame.co, main_fn), NULL);
    asyncio_new_event_loop(); /* like asyncio.run: drop the blinking tasks */
    return err == 0 ? 0 : 1;
}
