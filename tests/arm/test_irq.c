/* SPDX-License-Identifier: MIT */
/*
 * test_irq.c -- a real interrupt wakes a task through the ThreadSafeFlag,
 * and the idle path loses no wake-up, on a Cortex-M7 under qemu.
 *
 * The "camera" is external interrupt FRAME_IRQ, raised from software
 * through the NVIC set-pending register (NVIC->ISPR). Its handler calls
 * asyncio_openmv_frame_irq(), exactly as the firmware's frame-ready ISR
 * would.
 *
 *  1. Frames at 30 fps: SysTick pends the frame interrupt every 33 ms while
 *     the loop sits in WFI; the task waiting on the frame flag wakes.
 *  2. A frame raised by the running task itself (flag already set when the
 *     task waits: the wait returns at once) and wait_for on the flag timing out.
 *  3. The race: with SysTick stopped (nothing else can end a WFI), the
 *     port's ASYNCIO_OPENMV_BEFORE_WFI hook pends the frame interrupt after
 *     the idle path has decided to sleep and just before its WFI, 100 times.
 *     A port that could lose that wake-up hangs here for good.
 *
 * Built with -DLOSE_WAKE, the hook also unmasks interrupts before the WFI,
 * as a naive "check, then sleep" port would: the handler runs before the
 * WFI, the WFI then sleeps forever, and the run must time out. That build
 * shows the race test can fail.
 *
 * Built with -DASYNCIO_OPENMV_BASEPRI=0x40 (port and test), the critical
 * sections mask by priority: the same race must still be closed, and an
 * urgent interrupt (priority 0x00, above the mask) runs inside a critical
 * section while the frame interrupt (0x80) waits for its end.
 */
#include "openmv.h"
#include "rt.h"
#include "say.h"

#define FRAME_IRQ 30
#define FRAME_PERIOD_MS 33
#define RACE_ROUNDS 100

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)

/* ---- the "camera" ---- */
static volatile int frames_on;      /* SysTick raises frames */
static volatile int in_idle;        /* the loop is in its idle wait */
static volatile unsigned idle_irqs; /* frame interrupts taken while idle */
static volatile int race_armed;     /* the hook raises the next frame */
static volatile unsigned wfis;

static void frame_isr(void)
{
    if (in_idle)
        idle_irqs++;
    asyncio_openmv_frame_irq();
}

/* The port's SysTick handler is renamed (ASYNCIO_OPENMV_SYSTICK_HANDLER):
 * this one bumps the port's tick, then plays the camera. */
void SysTick_Handler(void);
void SysTick_Handler(void)
{
    asyncio_openmv_systick_irq();
    if (frames_on && (asyncio_ticks_ms() - say_t0) % FRAME_PERIOD_MS == 0)
        rt_irq_pend(FRAME_IRQ);
}

/* ASYNCIO_OPENMV_BEFORE_WFI(): runs with interrupts masked, after the
 * idle path found no wake pending, right before WFI. */

void test_before_wfi(void)
{
    wfis++;
    in_idle = 1;
    if (race_armed) {
        race_armed = 0;
        rt_irq_pend(FRAME_IRQ); /* masked: stays pending across the WFI */
#ifdef LOSE_WAKE
        /* the naive port: unmask, then WFI */
        __asm__ volatile("msr basepri, %0\n\tcpsie i\n\tisb" ::"r"(0u) : "memory");
#endif
    }
}

/* ---- wait on the frame flag, as a coroutine (for wait_for) ---- */
static int frame_wait_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_FLAG(&asyncio_openmv_frame_flag);
    ASYNC_RETURN(1);
    ASYNC_END;
}

/* ---- the frame consumer ---- */
struct consumer {
    asyncio_coro co;
    int i;
    uint32_t seen;
};
static int consumer_fn(asyncio_coro *co)
{
    struct consumer *f = (struct consumer *)co;
    ASYNC_BEGIN(co);
    say("-- frames at 30 fps from SysTick");
    frames_on = 1;
    for (f->i = 0; f->i < 5; f->i++) {
        AWAIT_FLAG(&asyncio_openmv_frame_flag);
        in_idle = 0;
        say("frame %u", (unsigned)asyncio_openmv_frame_count);
    }
    frames_on = 0;
    RT_CHECK(idle_irqs == 5); /* every frame came while the loop was idle */
    ASYNC_END;
}

struct main_frame {
    asyncio_coro co;
    asyncio_task task;
    struct consumer c;
    asyncio_coro fw;
    asyncio_wait_for_state wf;
    int i;
    uint32_t before;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    asyncio_create_task(&f->task, asyncio_coro_init(&f->c.co, consumer_fn));
    AWAIT_TASK(&f->task);

    say("-- a frame raised by the running task");
    rt_irq_pend(FRAME_IRQ); /* the handler runs now, in this task */
    f->before = asyncio_openmv_frame_count;
    AWAIT_FLAG(&asyncio_openmv_frame_flag);
    say("flag was already set: frame %u", (unsigned)f->before);
    RT_CHECK(asyncio_openmv_frame_count == 6);

    say("-- wait_for on the flag, no frame comes");
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_coro_init(&f->fw, frame_wait_fn), 20)));
    say("wait_for: %s", asyncio_strerror(AWAIT_ERROR));
    RT_CHECK(AWAIT_ERROR == ASYNCIO_ETIMEDOUT);

    say("-- the race: interrupt between the idle check and WFI, SysTick stopped");
    SYST_CSR = 0;
    f->before = wfis;
    for (f->i = 0; f->i < RACE_ROUNDS; f->i++) {
        race_armed = 1;
        AWAIT_FLAG(&asyncio_openmv_frame_flag);
        in_idle = 0;
    }
    SYST_CSR = 7u; /* running again */
    rt_printf("race: %d wake-ups, %u frames, %u WFIs\n", RACE_ROUNDS,
              (unsigned)asyncio_openmv_frame_count, (unsigned)(wfis - f->before));
    RT_CHECK(asyncio_openmv_frame_count == 6 + RACE_ROUNDS);
    RT_CHECK(wfis - f->before == RACE_ROUNDS); /* one WFI per round: it did not sleep on */
    ASYNC_END;
}

static struct main_frame m;
static asyncio_task main_task;

#ifdef ASYNCIO_OPENMV_BASEPRI
#define URGENT_IRQ 29
static volatile unsigned urgent_runs;
static void urgent_isr(void) { urgent_runs++; }

/* An interrupt above the BASEPRI level runs inside a critical section; one
 * at or below it (the frame) is held until the section ends. */
static void basepri_check(void)
{
    uint32_t s, basepri, frames = asyncio_openmv_frame_count;
    rt_irq_set(URGENT_IRQ, urgent_isr);
    rt_irq_priority(URGENT_IRQ, 0x00);
    rt_irq_enable(URGENT_IRQ);
    s = asyncio_port_critical_enter();
    rt_irq_pend(URGENT_IRQ);
    rt_irq_pend(FRAME_IRQ);
    RT_CHECK(urgent_runs == 1);                     /* ran inside */
    RT_CHECK(asyncio_openmv_frame_count == frames); /* held off */
    asyncio_port_critical_exit(s);
    __asm__ volatile("isb" ::: "memory");
    RT_CHECK(asyncio_openmv_frame_count == frames + 1u); /* ran at the exit */
    __asm__ volatile("mrs %0, basepri" : "=r"(basepri));
    RT_CHECK(basepri == 0);
    rt_printf("BASEPRI: urgent interrupt inside the critical section: %u, frame after it: %u\n",
              urgent_runs, (unsigned)(asyncio_openmv_frame_count - frames));
    asyncio_flag_clear(&asyncio_openmv_frame_flag);
    asyncio_openmv_frame_count = 0;
}
#endif

int main(void)
{
    uint32_t s1, s2, primask;
    int r;
    rt_irq_set(FRAME_IRQ, frame_isr);
    rt_irq_priority(FRAME_IRQ, 0x80);
    rt_irq_enable(FRAME_IRQ);

    /* Nestable critical sections restore the caller's mask. */
    s1 = asyncio_port_critical_enter();
    s2 = asyncio_port_critical_enter();
    asyncio_port_critical_exit(s2);
#ifndef ASYNCIO_OPENMV_BASEPRI
    __asm__ volatile("mrs %0, primask" : "=r"(primask));
    RT_CHECK(primask == 1);
    asyncio_port_critical_exit(s1);
    __asm__ volatile("mrs %0, primask" : "=r"(primask));
    RT_CHECK(primask == 0);
#else
    __asm__ volatile("mrs %0, basepri" : "=r"(primask));
    RT_CHECK(primask == (ASYNCIO_OPENMV_BASEPRI));
    asyncio_port_critical_exit(s1);
    __asm__ volatile("mrs %0, basepri" : "=r"(primask));
    RT_CHECK(primask == 0);
    basepri_check();
#endif
    RT_CHECK(asyncio_port_io_watch(NULL, ASYNCIO_IO_READ) == ASYNCIO_EINVAL);

    asyncio_get_event_loop();
    say_t0 = asyncio_ticks_ms();
    r = asyncio_run(&main_task, asyncio_coro_init(&m.co, main_fn), NULL);
    say("run: %d", r);
    RT_CHECK(r == 0);
    rt_done();
}
