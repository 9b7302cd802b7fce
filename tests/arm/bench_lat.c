/* SPDX-License-Identifier: MIT */
/*
 * bench_lat.c -- the two latency paths of `make bench-arm`, on a Cortex-M7
 * under qemu, counted in executed instructions by tests/arm/bench_arm.py
 * from qemu's `-singlestep -d exec,nochain` trace.
 *
 *  isr_to_task  the loop sits in its idle wait (WFI, nothing runnable, no
 *               timer pending). A hardware timer interrupt (the board's
 *               CMSDK APB Timer0) calls asyncio_openmv_frame_irq(), as a
 *               camera's frame-ready ISR would. Counted: from the first
 *               instruction of the interrupt vector to the first instruction
 *               of the task's body after its AWAIT_FLAG (marker
 *               bench_mark_task).
 *  yield        two tasks take turns with YIELD. Counted: from the
 *               instruction after one task's marker (its YIELD begins) to the
 *               other task's marker (just before its own YIELD), so the
 *               task's loop bookkeeping is included.
 *
 * The markers are one `nop` each with a global label, so the trace can be cut
 * at them by address; they do not change the code around them.
 *
 * The timer: qemu's mps2-an500 maps CMSDK APB Timer0 at 0x40000000 on IRQ 8,
 * clocked at 25 MHz (qemu hw/arm/mps2.c, cmsdk_apb_timer_create). Registers
 * from the CMSDK technical reference manual (ARM DDI 0479C, APB timer):
 * CTRL +0x00 (bit 0 enable, bit 3 interrupt enable), VALUE +0x04 (counts
 * down), RELOAD +0x08, INTSTATUS/INTCLEAR +0x0C (write 1 to clear).
 */
#include "openmv.h"
#include "rt.h"

#define ROUNDS 21

#define TIMER0_IRQ 8u
#define TIMER0_CTRL (*(volatile uint32_t *)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008u)
#define TIMER0_INTCLEAR (*(volatile uint32_t *)0x4000000Cu)
#define VTOR (*(volatile uint32_t *)0xE000ED08u)

#define MARK(name) __asm__ volatile(".global " #name "\n" #name ":\n\tnop" ::: "memory")

/* ---- the interrupt: a vector of its own (no dispatcher in the path) ---- */
void bench_timer_isr(void);
void bench_timer_isr(void)
{
    TIMER0_INTCLEAR = 1u;
    asyncio_openmv_frame_irq();
}

/* The runtime's table copied to RAM with Timer0's entry pointing straight
 * at bench_timer_isr. */
typedef void (*vector)(void);
static vector ram_vectors[16 + RT_NUM_IRQ] __attribute__((aligned(256)));

static void vectors_install(void)
{
    const vector *rom = (const vector *)(uintptr_t)VTOR;
    unsigned i;
    for (i = 0; i < 16u + RT_NUM_IRQ; i++)
        ram_vectors[i] = rom[i];
    ram_vectors[16u + TIMER0_IRQ] = bench_timer_isr;
    VTOR = (uint32_t)(uintptr_t)ram_vectors;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

/* ---- isr_to_task: one frame per timer period (2 ms) ---- */
struct frames {
    asyncio_coro co;
    int i;
};
static int frames_fn(asyncio_coro *co)
{
    struct frames *f = (struct frames *)co;
    ASYNC_BEGIN(co);
    TIMER0_RELOAD = 50000u; /* 2 ms at 25 MHz: the loop is long idle by then */
    TIMER0_VALUE = 50000u;
    TIMER0_CTRL = 0x9u; /* enable, interrupt enable */
    for (f->i = 0; f->i < ROUNDS; f->i++) {
        AWAIT_FLAG(&asyncio_openmv_frame_flag);
        MARK(bench_mark_task);
    }
    TIMER0_CTRL = 0;
    ASYNC_END;
}

/* ---- yield: two tasks take turns ---- */
struct yielder {
    asyncio_coro co;
    int i;
};
static int yield_a_fn(asyncio_coro *co)
{
    struct yielder *f = (struct yielder *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < ROUNDS; f->i++) {
        MARK(bench_mark_a);
        YIELD;
    }
    ASYNC_END;
}
static int yield_b_fn(asyncio_coro *co)
{
    struct yielder *f = (struct yielder *)co;
    ASYNC_BEGIN(co);
    for (f->i = 0; f->i < ROUNDS; f->i++) {
        MARK(bench_mark_b);
        YIELD;
    }
    ASYNC_END;
}

static struct frames fr;
static struct yielder ya, yb;
static asyncio_task t_frames, t_a, t_b;

int main(void)
{
    int r;
    vectors_install();
    rt_irq_enable(TIMER0_IRQ);
    asyncio_get_event_loop();

    r = asyncio_run(&t_frames, asyncio_coro_init(&fr.co, frames_fn), NULL);
    RT_CHECK(r == 0);
    RT_CHECK(asyncio_openmv_frame_count >= ROUNDS);

    r = asyncio_create_task(&t_b, asyncio_coro_init(&yb.co, yield_b_fn));
    RT_CHECK(r == 0);
    r = asyncio_run(&t_a, asyncio_coro_init(&ya.co, yield_a_fn), NULL);
    RT_CHECK(r == 0);
    rt_done();
}
