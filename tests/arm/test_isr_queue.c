/* SPDX-License-Identifier: MIT */
/*
 * test_isr_queue.c -- the interrupt-safe queue on a Cortex-M7 under qemu:
 * a real interrupt puts sequence numbers, a task awaits them.
 *
 * The producer is external interrupt PROD_IRQ, pended through the NVIC
 * (NVIC->ISPR) from SysTick every millisecond while it has numbers to give;
 * each run of its handler puts BATCH numbers with asyncio_isr_queue_put(),
 * as a DMA or UART ISR would. The handler interrupts the loop and the task
 * anywhere, including in the middle of a get.
 *
 *  1. 100,000 numbers, the task keeping up: every number arrives, in order,
 *     nothing is dropped.
 *  2. 10,000 more, the task stalling (busy, interrupts still on) for 20 ms
 *     after the first 1,000: the ring fills, the handler's puts fail and
 *     are counted, the task's get reports EOVERRUN once where the numbers
 *     are missing, the gap is exactly the count, and the task carries on.
 */
#include "openmv.h"
#include "rt.h"
#include "say.h"

#define PROD_IRQ 29
#define BATCH 64
#define RING 256
#define N1 100000u
#define N2 10000u
#define STALL_AFTER 1000u
#define STALL_MS 20

static asyncio_isr_queue q;
static asyncio_value ring[RING];
static volatile uint32_t next_put, put_limit; /* the producer's numbers */
static volatile uint32_t full_puts;           /* puts that found the ring full */

static void producer_isr(void)
{
    for (int k = 0; k < BATCH && next_put < put_limit; k++) {
        if (asyncio_isr_queue_put(&q, (asyncio_value)next_put) == ASYNCIO_EQUEUEFULL)
            full_puts++;
        next_put++;
    }
}

/* The port's SysTick handler is renamed (ASYNCIO_OPENMV_SYSTICK_HANDLER):
 * this one bumps the port's tick, then pends the producer. */
void SysTick_Handler(void);
void SysTick_Handler(void)
{
    asyncio_openmv_systick_irq();
    if (next_put < put_limit)
        rt_irq_pend(PROD_IRQ);
}

void test_before_wfi(void) {}

struct main_frame {
    asyncio_coro co;
    uint32_t expect, got, gaps, lost, overruns, gap_at_report, end;
    int bad;
};

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    uint32_t v, t;
    ASYNC_BEGIN(co);
    say("-- %u numbers from an interrupt, the task keeping up", (unsigned)N1);
    put_limit = N1;
    for (f->expect = 0; f->expect < N1;) {
        AWAIT_ISR_QUEUE_GET(&q);
        v = (uint32_t)AWAIT_RESULT;
        if (v != f->expect)
            f->bad++;
        f->expect = v + 1;
        f->got++;
    }
    say("received %u in order (%d out of place), %u dropped", (unsigned)f->got, f->bad,
        (unsigned)asyncio_isr_queue_dropped(&q));
    RT_CHECK(f->got == N1 && f->bad == 0 && asyncio_isr_queue_dropped(&q) == 0);

    say("-- %u more, the task stalls %d ms after %u", (unsigned)N2, STALL_MS,
        (unsigned)STALL_AFTER);
    f->got = 0;
    f->end = N1 + N2;
    put_limit = f->end;
    while (f->expect < f->end) {
        ASYNC_TRY(AWAIT_ISR_QUEUE_GET(&q));
        if (AWAIT_ERROR == ASYNCIO_EOVERRUN) {
            f->overruns++;
            say("overrun reported after %u, %u dropped so far", (unsigned)f->got,
                (unsigned)asyncio_isr_queue_dropped(&q));
            f->gap_at_report = 1;
            continue;
        }
        if (AWAIT_ERROR) {
            f->bad++;
            continue;
        }
        v = (uint32_t)AWAIT_RESULT;
        if (v < f->expect)
            f->bad++; /* duplicated or reordered */
        if (v > f->expect) {
            f->gaps++;
            f->lost += v - f->expect;
            if (!f->gap_at_report)
                f->bad++; /* a silent loss, or reported late */
            say("gap: %u to %u", (unsigned)f->expect, (unsigned)v);
        }
        f->gap_at_report = 0;
        f->expect = v + 1;
        if (++f->got == STALL_AFTER) {
            t = asyncio_ticks_ms();
            while (asyncio_ticks_diff(asyncio_ticks_ms(), t) < STALL_MS)
                ; /* busy: the loop does not run, the interrupt does */
        }
    }
    say("received %u, %u lost in %u gap(s), %u overrun report(s), %u dropped, %u full puts",
        (unsigned)f->got, (unsigned)f->lost, (unsigned)f->gaps, (unsigned)f->overruns,
        (unsigned)asyncio_isr_queue_dropped(&q), (unsigned)full_puts);
    RT_CHECK(f->bad == 0);
    RT_CHECK(f->lost > 0 && f->lost == asyncio_isr_queue_dropped(&q));
    RT_CHECK(f->lost == full_puts);
    RT_CHECK(f->got + f->lost == N2);
    RT_CHECK(f->overruns == 1 && f->gaps == 1);
    ASYNC_END;
}

static struct main_frame m;
static asyncio_task main_task;

int main(void)
{
    int r;
    rt_irq_set(PROD_IRQ, producer_isr);
    rt_irq_priority(PROD_IRQ, 0x80);
    rt_irq_enable(PROD_IRQ);
    asyncio_get_event_loop();
    RT_CHECK(asyncio_isr_queue_init(&q, ring, RING) == 0);
    say_t0 = asyncio_ticks_ms();
    r = asyncio_run(&main_task, asyncio_coro_init(&m.co, main_fn), NULL);
    say("run: %d", r);
    RT_CHECK(r == 0);
    rt_done();
}
