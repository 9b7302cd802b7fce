/*
 * port_openmv.c -- asyncio.h on an OpenMV Cam (Cortex-M7), or any Cortex-M.
 *
 * Only architectural registers are used (SysTick, NVIC/SCB, PRIMASK, DWT),
 * no vendor HAL, so the file builds for ARMv6-M (Cortex-M0+) and ARMv7-M
 * (Cortex-M3/M4/M7) alike.
 *
 *  ticks    a 32-bit millisecond counter bumped by SysTick (configured here
 *           from ASYNCIO_OPENMV_CORE_HZ), or the firmware's own millisecond
 *           tick with ASYNCIO_OPENMV_EXTERNAL_TICK.
 *  wait     WFI with interrupts masked by PRIMASK; see "The idle path" below.
 *  wake     one byte store: IRQ-safe, so asyncio_flag_set() works in ISRs.
 *  critical PRIMASK save / cpsid i / restore: nestable.
 *  io       none: asyncio_port_io_watch() returns ASYNCIO_EINVAL.
 *
 * Firmware hooks (declared below):
 *  asyncio_openmv_frame_irq()   call it from the camera's frame-ready ISR; it
 *                               sets asyncio_openmv_frame_flag, so a task
 *                               doing AWAIT_FLAG(&asyncio_openmv_frame_flag)
 *                               runs once per frame (frames that arrive while
 *                               the flag is still set coalesce; the count is
 *                               in asyncio_openmv_frame_count).
 *  asyncio_openmv_led(led, on)  weak no-op: the firmware overrides it.
 *  asyncio_openmv_report(ctx)   weak no-op: errors no task retrieved (there is
 *                               no stdio on the camera).
 *
 * Configuration macros (define them when compiling this file):
 *  ASYNCIO_OPENMV_CORE_HZ        core clock feeding SysTick (default 480 MHz,
 *                                the OpenMV Cam H7); SysTick fires at 1 kHz.
 *  ASYNCIO_OPENMV_EXTERNAL_TICK  the firmware owns SysTick (OpenMV's does: it
 *                                drives HAL_GetTick / mp_hal_ticks_ms). The port
 *                                then leaves SysTick alone, defines no handler,
 *                                and reads time from asyncio_openmv_ticks_hook(),
 *                                which the firmware provides. That tick must be
 *                                an interrupt of at most 1 ms period: it is what
 *                                ends each WFI while a sleep runs down.
 *  ASYNCIO_OPENMV_SYSTICK_HANDLER  name of the SysTick vector the port defines
 *                                (default SysTick_Handler).
 *  ASYNCIO_OPENMV_TICKS_START    the counter's first value (default 0); tests
 *                                start it just before 2^32 to cross the wrap.
 *  ASYNCIO_OPENMV_BEFORE_WFI()   test hook, run with interrupts masked right
 *                                before each WFI, i.e. at the worst moment for
 *                                an interrupt to arrive.
 */
#include "port_openmv.h"

#ifndef ASYNCIO_OPENMV_CORE_HZ
#define ASYNCIO_OPENMV_CORE_HZ 480000000u
#endif
#ifndef ASYNCIO_OPENMV_SYSTICK_HANDLER
#define ASYNCIO_OPENMV_SYSTICK_HANDLER SysTick_Handler
#endif
#ifndef ASYNCIO_OPENMV_TICKS_START
#define ASYNCIO_OPENMV_TICKS_START 0u
#endif
#ifndef ASYNCIO_OPENMV_BEFORE_WFI
#define ASYNCIO_OPENMV_BEFORE_WFI() ((void)0)
#endif

/* ---- architectural registers (ARMv6-M / ARMv7-M System Control Space) ---- */
#define ASYNCIO_OPENMV_REG(addr) (*(volatile uint32_t *)(addr))
#define ASYNCIO_OPENMV_SYST_CSR ASYNCIO_OPENMV_REG(0xE000E010u) /* SysTick control */
#define ASYNCIO_OPENMV_SYST_RVR ASYNCIO_OPENMV_REG(0xE000E014u) /* reload value */
#define ASYNCIO_OPENMV_SYST_CVR ASYNCIO_OPENMV_REG(0xE000E018u) /* current value */
#define ASYNCIO_OPENMV_SYST_ENABLE 0x1u
#define ASYNCIO_OPENMV_SYST_TICKINT 0x2u
#define ASYNCIO_OPENMV_SYST_CLKSOURCE 0x4u /* the core clock, not the reference */
#define ASYNCIO_OPENMV_DEMCR ASYNCIO_OPENMV_REG(0xE000EDFCu)
#define ASYNCIO_OPENMV_DEMCR_TRCENA (1u << 24)
#define ASYNCIO_OPENMV_DWT_CTRL ASYNCIO_OPENMV_REG(0xE0001000u)
#define ASYNCIO_OPENMV_DWT_CYCCNT ASYNCIO_OPENMV_REG(0xE0001004u)
#define ASYNCIO_OPENMV_DWT_LAR ASYNCIO_OPENMV_REG(0xE0001FB0u) /* lock access (M7) */
#define ASYNCIO_OPENMV_DWT_NOCYCCNT (1u << 25)
#define ASYNCIO_OPENMV_DWT_CYCCNTENA 0x1u

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
#define ASYNCIO_OPENMV_HAVE_DWT_ 1
#else
#define ASYNCIO_OPENMV_HAVE_DWT_ 0 /* ARMv6-M: no cycle counter */
#endif

/* SysTick counts 24 bits: the reload for 1 ms must fit. */
typedef char
    asyncio_openmv_reload_fits_[(ASYNCIO_OPENMV_CORE_HZ / 1000u - 1u) <= 0xFFFFFFu ? 1 : -1];

/* ======================================================================== */
/* Ticks                                                                    */
/* ======================================================================== */

#ifndef ASYNCIO_OPENMV_EXTERNAL_TICK
/* One writer (the SysTick ISR); an aligned 32-bit load is atomic, so readers
 * need no lock. It wraps at 2^32 and the core only ever takes differences. */
static volatile uint32_t asyncio_openmv_ms_ = ASYNCIO_OPENMV_TICKS_START;

void asyncio_openmv_systick_irq(void) { asyncio_openmv_ms_++; }

void ASYNCIO_OPENMV_SYSTICK_HANDLER(void);
void ASYNCIO_OPENMV_SYSTICK_HANDLER(void) { asyncio_openmv_systick_irq(); }

uint32_t asyncio_port_ticks_ms(void) { return asyncio_openmv_ms_; }
#else
uint32_t asyncio_port_ticks_ms(void) { return asyncio_openmv_ticks_hook(); }
#endif

static uint8_t asyncio_openmv_cycles_on_;

uint32_t asyncio_openmv_cycles(void)
{
#if ASYNCIO_OPENMV_HAVE_DWT_
    if (asyncio_openmv_cycles_on_)
        return ASYNCIO_OPENMV_DWT_CYCCNT;
#endif
    return 0;
}

void asyncio_port_init(void)
{
    static uint8_t done;
    if (done)
        return;
    done = 1;
#ifndef ASYNCIO_OPENMV_EXTERNAL_TICK
    ASYNCIO_OPENMV_SYST_CSR = 0;
    ASYNCIO_OPENMV_SYST_RVR = ASYNCIO_OPENMV_CORE_HZ / 1000u - 1u;
    ASYNCIO_OPENMV_SYST_CVR = 0; /* any write clears it and the COUNTFLAG */
    ASYNCIO_OPENMV_SYST_CSR =
        ASYNCIO_OPENMV_SYST_CLKSOURCE | ASYNCIO_OPENMV_SYST_TICKINT | ASYNCIO_OPENMV_SYST_ENABLE;
#endif
#if ASYNCIO_OPENMV_HAVE_DWT_
    /* The cycle counter, for benchmarks (asyncio_openmv_cycles), if this
     * core has one: trace on, unlock the DWT (Cortex-M7), start CYCCNT. */
    ASYNCIO_OPENMV_DEMCR |= ASYNCIO_OPENMV_DEMCR_TRCENA;
    ASYNCIO_OPENMV_DWT_LAR = 0xC5ACCE55u;
    if (!(ASYNCIO_OPENMV_DWT_CTRL & ASYNCIO_OPENMV_DWT_NOCYCCNT)) {
        if (!(ASYNCIO_OPENMV_DWT_CTRL & ASYNCIO_OPENMV_DWT_CYCCNTENA)) {
            ASYNCIO_OPENMV_DWT_CYCCNT = 0; /* not already running for the firmware */
            ASYNCIO_OPENMV_DWT_CTRL |= ASYNCIO_OPENMV_DWT_CYCCNTENA;
        }
        asyncio_openmv_cycles_on_ = 1;
    }
#else
    (void)asyncio_openmv_cycles_on_;
#endif
}

/* ======================================================================== */
/* Critical sections: PRIMASK save / restore                                */
/* ======================================================================== */

uint32_t asyncio_port_critical_enter(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

void asyncio_port_critical_exit(uint32_t state)
{
    /* Restores the caller's mask: an inner exit leaves interrupts masked. */
    __asm__ volatile("msr primask, %0" ::"r"(state) : "memory");
}

/* ======================================================================== */
/* The idle path                                                            */
/* ======================================================================== */
/*
 * asyncio_openmv_wake_ is the only state shared with interrupts:
 *
 *      asyncio_port_wake() (any ISR, any time)      asyncio_port_wait() (loop)
 *   CLEAR ---------------------------------> SET ------------------> CLEAR
 *                                                  read and cleared with
 *                                                  interrupts masked
 *
 * The loop decides to idle in asyncio_run_loop_(): it polls the armed flags,
 * finds the run queue empty, computes the timeout and calls wait(). An
 * interrupt can set a ThreadSafeFlag (flag store, then wake()) at any point
 * of that sequence. The cases:
 *
 *  1. Before the loop polls the flags: the poll sees the flag and the task
 *     runs. wake_ stays SET, so the next wait() returns at once: one spurious
 *     loop pass, nothing lost.
 *  2. After the poll, before wait() masks interrupts: wake_ is SET when
 *     wait() looks at it under PRIMASK, so it returns without sleeping and the
 *     loop polls again.
 *  3. After wait() has masked interrupts and found wake_ CLEAR (the window
 *     the "check, then sleep" pattern loses wake-ups in): the interrupt cannot
 *     run yet, it stays pending in the NVIC. WFI ends on a pending interrupt
 *     that only PRIMASK holds off (the architecture makes that exception to
 *     masking for PRIMASK), so WFI returns at once; the brief unmask
 *     (cpsie i; isb) runs the ISR; the loop masks again and now sees wake_
 *     SET.
 *  4. During WFI: the same as 3.
 *
 * So every wake() either happens before wake_ is examined (seen) or leaves an
 * interrupt pending across the WFI (which then cannot sleep). Only PRIMASK
 * gives this: an interrupt held off by BASEPRI does not end a WFI. The test
 * tests/arm/test_irq.c raises the interrupt in window 3 through the
 * ASYNCIO_OPENMV_BEFORE_WFI() hook, with SysTick stopped.
 *
 * Timeouts: the loop re-checks the deadline after every interrupt. SysTick
 * (or the firmware's tick) fires every millisecond, so a sleep ends within
 * the millisecond its deadline falls in. wake_ is cleared on the way out:
 * a wake after that is case 1 or 2 of the next idle. Call wait() with
 * interrupts enabled (the loop always does).
 */
static volatile uint8_t asyncio_openmv_wake_;

void asyncio_port_wake(void) { asyncio_openmv_wake_ = 1; }

void asyncio_port_wait(int32_t timeout_ms)
{
    uint32_t start = asyncio_port_ticks_ms();
    __asm__ volatile("cpsid i" ::: "memory");
    while (!asyncio_openmv_wake_ &&
           (timeout_ms < 0 || asyncio_port_ticks_ms() - start < (uint32_t)timeout_ms)) {
        ASYNCIO_OPENMV_BEFORE_WFI();
        __asm__ volatile("dsb\n\twfi" ::: "memory");
        /* Whatever ended the WFI is pending: let it run, then mask again. */
        __asm__ volatile("cpsie i\n\tisb\n\tcpsid i" ::: "memory");
    }
    asyncio_openmv_wake_ = 0;
    __asm__ volatile("cpsie i" ::: "memory");
}

int asyncio_port_io_watch(asyncio_io *io, unsigned events)
{
    (void)io;
    (void)events;
    return ASYNCIO_EINVAL; /* no descriptors on the camera */
}

/* ======================================================================== */
/* Firmware hooks                                                           */
/* ======================================================================== */

asyncio_flag asyncio_openmv_frame_flag; /* zeroed = asyncio_flag_init()'s state */
volatile uint32_t asyncio_openmv_frame_count;

void asyncio_openmv_frame_irq(void)
{
    asyncio_openmv_frame_count++; /* only this ISR writes it */
    asyncio_flag_set(&asyncio_openmv_frame_flag);
}

__attribute__((weak)) void asyncio_openmv_led(int led, int on)
{
    (void)led;
    (void)on;
}

__attribute__((weak)) void asyncio_openmv_report(const asyncio_context *ctx) { (void)ctx; }

void asyncio_port_report(const asyncio_context *ctx) { asyncio_openmv_report(ctx); }

/* SysTick keeps counting: other firmware may read the tick after close(). */
void asyncio_port_deinit(void) {}
