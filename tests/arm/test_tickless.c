/* SPDX-License-Identifier: MIT */
/*
 * test_tickless.c -- tickless idle on a Cortex-M7 under qemu (icount time):
 * while every task sleeps, SysTick only ends the longest periods it can
 * count (671 ms at qemu's 25 MHz) and the one ending on the deadline, and
 * asyncio_ticks_ms() stays exact.
 *
 * The clock is checked against an independent one: the board's CMSDK APB
 * Timer1, free-running from 0xFFFFFFFF at the same 25 MHz (never
 * reprogrammed), to the millisecond. The tick starts 5 s before 2^32, so
 * the first sleep crosses the wrap.
 *
 *  1. Every task sleeps 10 s: the idle path's WFIs are counted (each one ends
 *     on an interrupt): that is the idle_wakeups_per_10s of `make bench-arm`.
 *  2. Tasks sleep 10 s again, and two interrupts come mid-sleep: 2.5 s in, a
 *     camera frame (CMSDK Timer0 -> ThreadSafeFlag): the waiting task wakes,
 *     sleeps 7 ms (SysTick is restarted to end on that deadline, inside the
 *     long period) and 1234 ms; 3.3 s in, an unrelated interrupt (Timer0
 *     again, whose handler this time calls nothing in asyncio): one more
 *     wake-up, nothing else. The 10 s sleepers still wake
 *     on time and the clock still agrees with the reference.
 *
 * Why the idle hook spins: under -icount shift=5,sleep=off, qemu 7.2 wakes a
 * core sleeping in WFI one timer period late (it warps the virtual clock to
 * the timer's deadline, the timer reloads, and it warps once more before
 * the core takes the interrupt: every sleep lasts twice as long by the
 * reference timer, with the SysTick wrap in the middle lost). With sleep
 * on, time in WFI follows the loaded host and interrupts come late by its
 * scheduling jitter. So ASYNCIO_OPENMV_BEFORE_WFI() (called with the
 * loop's interrupts masked, right before the WFI) waits in a loop until an
 * interrupt is pending: the WFI then returns at once and virtual time is
 * only ever instructions, exact and reproducible. Everything the port does
 * (programming SysTick, the WFI, the wrap handling) runs as on hardware;
 * the number of WFIs is the number of wake-ups.
 *
 * Timers (qemu hw/arm/mps2.c: cmsdk_apb_timer_create at 0x40000000 on IRQ 8
 * and 0x40001000 on IRQ 9, clocked at 25 MHz; registers from the CMSDK TRM,
 * ARM DDI 0479C: CTRL +0x00 bit 0 enable / bit 3 interrupt enable, VALUE
 * +0x04 counting down, RELOAD +0x08, INTCLEAR +0x0C).
 */
#include "openmv.h"
#include "rt.h"
#include "say.h"

#define T0_IRQ 8u
#define T0_CTRL (*(volatile uint32_t *)0x40000000u)
#define T0_VALUE (*(volatile uint32_t *)0x40000004u)
#define T0_RELOAD (*(volatile uint32_t *)0x40000008u)
#define T0_INTCLEAR (*(volatile uint32_t *)0x4000000Cu)
#define T1_CTRL (*(volatile uint32_t *)0x40001000u)
#define T1_VALUE (*(volatile uint32_t *)0x40001004u)
#define T1_RELOAD (*(volatile uint32_t *)0x40001008u)

#define CYCLES_PER_MS (RT_CORE_HZ / 1000u)

/* ---- the reference clock ---- */
static uint32_t ref_cycles(void) { return 0xFFFFFFFFu - T1_VALUE; }

/* The port's clock and the reference agree to the millisecond over a span. */
static uint32_t span_ticks, span_ref;
static void span_begin(void)
{
    span_ticks = asyncio_ticks_ms();
    span_ref = ref_cycles();
}
static int span_agrees(void)
{
    uint32_t ticks = asyncio_ticks_ms() - span_ticks;
    uint32_t ref_ms = (ref_cycles() - span_ref) / CYCLES_PER_MS;
    int ok = ref_ms + 1u >= ticks && ticks + 1u >= ref_ms;
    if (ok)
        rt_printf("clock: %u ms, the reference agrees to the ms\n", (unsigned)ticks);
    else
        rt_printf("clock: %u ms, reference %u ms\n", (unsigned)ticks, (unsigned)ref_ms);
    return ok;
}

/* ---- WFIs while idle (ASYNCIO_OPENMV_BEFORE_WFI) ---- */
#define ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_VECTPENDING (0x1FFu << 12)
static volatile unsigned wfis;
static uint32_t last_seen = 0xFFFFEC78u; /* the clock, sampled at each WFI */
static unsigned backwards;               /* times it was seen going back */

static void sample_clock(void)
{
    uint32_t now = asyncio_ticks_ms();
    if ((int32_t)(now - last_seen) < 0)
        backwards++;
    last_seen = now;
}

void test_before_wfi(void)
{
    volatile unsigned i;
    wfis++;
    sample_clock();
    /* Sleep in instructions until an interrupt is pending, looking at the
     * NVIC only every few thousand (a register read ends qemu's translation
     * block: that is what is slow): at most ~0.2 ms late, less than any
     * SysTick period, so no wrap can be missed. */
    while (!(ICSR & ICSR_VECTPENDING))
        for (i = 0; i < 1500u; i++)
            ;
}

/* ---- Timer0: one interrupt `ms` from now, unrelated or a frame ---- */
static volatile int t0_frame; /* the interrupt is a camera frame */
static volatile unsigned unrelated_irqs;

static void t0_isr(void)
{
    T0_CTRL = 0; /* one shot */
    T0_INTCLEAR = 1u;
    if (t0_frame)
        asyncio_openmv_frame_irq();
    else
        unrelated_irqs++;
}

static void t0_once(uint32_t ms, int frame)
{
    t0_frame = frame;
    T0_CTRL = 0;
    T0_RELOAD = ms * CYCLES_PER_MS;
    T0_VALUE = ms * CYCLES_PER_MS;
    T0_CTRL = 0x9u; /* enable, interrupt enable */
}

/* ---- a sleeper ---- */
struct sleeper {
    asyncio_coro co;
    int32_t ms;
    const char *name;
};
static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = (struct sleeper *)co;
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    say("%s woke", f->name);
    ASYNC_END;
}
static asyncio_coro *sleeper(struct sleeper *f, const char *name, int32_t ms)
{
    f->name = name;
    f->ms = ms;
    return asyncio_coro_init(&f->co, sleeper_fn);
}

/* ---- the frame task of phase 2 ---- */
static uint32_t armed_at, frame_at;
static int frame_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_FLAG(&asyncio_openmv_frame_flag);
    frame_at = asyncio_ticks_ms();
    say("frame %u, %u ms after its timer was armed", (unsigned)asyncio_openmv_frame_count,
        (unsigned)(frame_at - armed_at));
    RT_CHECK(frame_at - armed_at >= 2500u && frame_at - armed_at <= 2501u);
    /* the unrelated interrupt, 800 ms from now */
    t0_once(800, 0);
    AWAIT_SLEEP_MS(7);
    say("frame task slept 7");
    AWAIT_SLEEP_MS(1234);
    say("frame task slept 1234");
    ASYNC_END;
}

/* ---- main ---- */
struct main_frame {
    asyncio_coro co;
    struct sleeper s1, s2, s3;
    asyncio_coro fc;
    asyncio_task t1, t2, t3, tf;
    unsigned wfis0;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    say("-- 1. every task sleeps 10 s (the tick wraps at 5 s)");
    asyncio_create_task(&f->t1, sleeper(&f->s1, "a", 10000));
    asyncio_create_task(&f->t2, sleeper(&f->s2, "b", 10000));
    span_begin();
    f->wfis0 = wfis;
    AWAIT_SLEEP_MS(10000);
    say("main woke");
    AWAIT_TASK(&f->t1);
    AWAIT_TASK(&f->t2);
    RT_CHECK(span_agrees());
    rt_printf("idle_wakeups_per_10s %u\n", wfis - f->wfis0);
    RT_CHECK(wfis - f->wfis0 <= 20u);

    say("-- 2. 10 s sleeps, a frame at 2.5 s and an unrelated interrupt at 3.3 s");
    span_begin();
    f->wfis0 = wfis;
    asyncio_create_task(&f->t3, sleeper(&f->s3, "c", 10000));
    asyncio_create_task(&f->tf, asyncio_coro_init(&f->fc, frame_fn));
    armed_at = asyncio_ticks_ms();
    t0_once(2500, 1);
    AWAIT_SLEEP_MS(10000);
    say("main woke");
    AWAIT_TASK(&f->t3);
    AWAIT_TASK(&f->tf);
    RT_CHECK(span_agrees());
    RT_CHECK(unrelated_irqs == 1u);
    rt_printf("wake-ups: %u\n", wfis - f->wfis0); /* 16, the frame, its sleeps, the IRQ */
    RT_CHECK(wfis - f->wfis0 <= 25u);
    ASYNC_END;
}

static struct main_frame m;
static asyncio_task main_task;

int main(void)
{
    int r;
    uint32_t t;
    T1_CTRL = 0;
    T1_RELOAD = 0xFFFFFFFFu;
    T1_VALUE = 0xFFFFFFFFu;
    T1_CTRL = 1u; /* enable, no interrupt */
    rt_irq_set(T0_IRQ, t0_isr);
    /* It calls into asyncio: with BASEPRI critical sections (the
     * tickless_basepri image, 0x40) it must be at or below that level. */
    rt_irq_priority(T0_IRQ, 0x80);
    rt_irq_enable(T0_IRQ);

    asyncio_get_event_loop();
    t = asyncio_ticks_ms();
    RT_CHECK(t == 0xFFFFFFFFu - 4999u); /* ASYNCIO_OPENMV_TICKS_START */
    say_t0 = t;
    r = asyncio_run(&main_task, asyncio_coro_init(&m.co, main_fn), NULL);
    say("run: %d", r);
    RT_CHECK(r == 0);
    /* The whole run, from before the loop started, against the reference. */
    span_ticks = t;
    span_ref = 0;
    RT_CHECK(span_agrees());
    RT_CHECK(backwards == 0);
    rt_done();
}
