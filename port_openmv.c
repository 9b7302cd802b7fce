/* SPDX-License-Identifier: MIT */
/*
 * port_openmv.c -- asyncio.h on an OpenMV Cam (Cortex-M7), or any Cortex-M.
 *
 * Only architectural registers are used (SysTick, NVIC/SCB, PRIMASK, DWT),
 * no vendor HAL, so the file builds for ARMv6-M (Cortex-M0+) and ARMv7-M
 * (Cortex-M3/M4/M7) alike.
 *
 *  ticks    a 32-bit millisecond clock kept by SysTick (configured here from
 *           ASYNCIO_OPENMV_CORE_HZ): tickless by default (SysTick is
 *           programmed to the next deadline while the loop idles, see
 *           "Tickless SysTick"), or bumped every millisecond; or the
 *           firmware's own millisecond tick with ASYNCIO_OPENMV_EXTERNAL_TICK.
 *  wait     WFI with interrupts masked by PRIMASK; see "The idle path" below.
 *  wake     one byte store: IRQ-safe, so asyncio_flag_set() works in ISRs.
 *  critical PRIMASK save / cpsid i / restore, or BASEPRI (masking only the
 *           interrupts at or below a priority) with ASYNCIO_OPENMV_BASEPRI:
 *           nestable.
 *  io       none: asyncio_port_io_watch() returns ASYNCIO_EINVAL.
 *  uart     with -DASYNCIO_OPENMV_UART: an interrupt-driven UART transport
 *           for streams (asyncio_uart; the last section of this file).
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
 *                                the OpenMV Cam H7); a multiple of 1000.
 *  ASYNCIO_OPENMV_SYSTICK_REF_HZ SysTick counts the chip's reference clock,
 *                                of this frequency, instead of the core clock
 *                                (e.g. 60000000 for a core clock / 8
 *                                reference at 480 MHz; check the chip's
 *                                reference manual): with
 *                                tickless idle a SysTick period can then
 *                                last 279 ms instead of 34.
 *  ASYNCIO_OPENMV_TICKLESS       1 (default): tickless idle. While every task
 *                                sleeps, SysTick interrupts only at the next
 *                                deadline, or every 34 ms at 480 MHz (the most
 *                                its 24 bits count) when the deadline is
 *                                farther; 1 ms ticks while tasks run. 0: a
 *                                SysTick interrupt every millisecond, always.
 *  ASYNCIO_OPENMV_EXTERNAL_TICK  the firmware owns SysTick (OpenMV's does: it
 *                                drives HAL_GetTick / mp_hal_ticks_ms). The port
 *                                then leaves SysTick alone, defines no handler,
 *                                and reads time from asyncio_openmv_ticks_hook(),
 *                                which the firmware provides. That tick must be
 *                                an interrupt of at most 1 ms period: it is what
 *                                ends each WFI while a sleep runs down. NOT
 *                                tickless (ASYNCIO_OPENMV_TICKLESS is ignored).
 *  ASYNCIO_OPENMV_BASEPRI        undefined (default): critical sections mask
 *                                every interrupt (PRIMASK). Defined to a
 *                                priority value (e.g. 0x40, in the NVIC's
 *                                8-bit form): they set BASEPRI to it instead,
 *                                so interrupts of a more urgent priority
 *                                (a numerically lower value) still run, e.g.
 *                                a camera DMA. Those must not call into
 *                                asyncio, not even asyncio_flag_set(); every
 *                                interrupt that does must have a priority
 *                                value >= it. ARMv7-M and up only.
 *  ASYNCIO_OPENMV_SYSTICK_GUARD  tickless: cycles before a SysTick wrap within
 *                                which its reload is not rewritten (default
 *                                256; must exceed the few instructions from
 *                                the check to the write).
 *  ASYNCIO_OPENMV_SYSTICK_CUT_CYCLES  tickless: SysTick cycles lost when it
 *                                is restarted early (default 2, 0 with the
 *                                reference clock; see "cut").
 *  ASYNCIO_OPENMV_SYSTICK_HANDLER  name of the SysTick vector the port defines
 *                                (default SysTick_Handler).
 *  ASYNCIO_OPENMV_TICKS_START    the counter's first value (default 0); tests
 *                                start it just before 2^32 to cross the wrap.
 *  ASYNCIO_OPENMV_BEFORE_WFI()   test hook, run with interrupts masked right
 *                                before each WFI, i.e. at the worst moment for
 *                                an interrupt to arrive.
 *
 * Sections of this file: configuration, registers, Ticks (external / 1 ms /
 * tickless SysTick), critical sections, the idle path, firmware hooks.
 */
#include "port_openmv.h"

#ifndef ASYNCIO_OPENMV_CORE_HZ
#define ASYNCIO_OPENMV_CORE_HZ 480000000u
#endif
#ifdef ASYNCIO_OPENMV_SYSTICK_REF_HZ /* SysTick's clock, and CSR's CLKSOURCE for it */
#define ASYNCIO_OPENMV_SYSTICK_HZ_ ASYNCIO_OPENMV_SYSTICK_REF_HZ
#define ASYNCIO_OPENMV_SYST_CLK_ 0u
#else
#define ASYNCIO_OPENMV_SYSTICK_HZ_ ASYNCIO_OPENMV_CORE_HZ
#define ASYNCIO_OPENMV_SYST_CLK_ ASYNCIO_OPENMV_SYST_CLKSOURCE
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
#ifndef ASYNCIO_OPENMV_TICKLESS
#define ASYNCIO_OPENMV_TICKLESS 1
#endif
#ifndef ASYNCIO_OPENMV_SYSTICK_GUARD
#define ASYNCIO_OPENMV_SYSTICK_GUARD 256u
#endif
#ifndef ASYNCIO_OPENMV_SYSTICK_CUT_CYCLES
#ifdef ASYNCIO_OPENMV_SYSTICK_REF_HZ
#define ASYNCIO_OPENMV_SYSTICK_CUT_CYCLES 0u /* a load and a store: less than a tick */
#else
#define ASYNCIO_OPENMV_SYSTICK_CUT_CYCLES 2u
#endif
#endif
#if defined(ASYNCIO_OPENMV_BASEPRI) && defined(__ARM_ARCH_6M__)
#error "ASYNCIO_OPENMV_BASEPRI: ARMv6-M (Cortex-M0/M0+) has no BASEPRI"
#endif

/* ---- architectural registers (ARMv6-M / ARMv7-M System Control Space) ---- */
#define ASYNCIO_OPENMV_REG(addr) (*(volatile uint32_t *)(addr))
#define ASYNCIO_OPENMV_SYST_CSR ASYNCIO_OPENMV_REG(0xE000E010u) /* SysTick control */
#define ASYNCIO_OPENMV_SYST_RVR ASYNCIO_OPENMV_REG(0xE000E014u) /* reload value */
#define ASYNCIO_OPENMV_SYST_CVR ASYNCIO_OPENMV_REG(0xE000E018u) /* current value */
#define ASYNCIO_OPENMV_SYST_ENABLE 0x1u
#define ASYNCIO_OPENMV_SYST_TICKINT 0x2u
#define ASYNCIO_OPENMV_SYST_CLKSOURCE 0x4u                  /* the core clock, not the reference */
#define ASYNCIO_OPENMV_ICSR ASYNCIO_OPENMV_REG(0xE000ED04u) /* interrupt control and state */
#define ASYNCIO_OPENMV_ICSR_PENDSTSET (1u << 26)            /* SysTick pending */
#define ASYNCIO_OPENMV_ICSR_PENDSTCLR (1u << 25)
#define ASYNCIO_OPENMV_SHPR3 ASYNCIO_OPENMV_REG(0xE000ED20u) /* SysTick priority: [31:24] */
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
    asyncio_openmv_reload_fits_[(ASYNCIO_OPENMV_SYSTICK_HZ_ / 1000u - 1u) <= 0xFFFFFFu ? 1 : -1];

/* ======================================================================== */
/* Ticks                                                                    */
/* ======================================================================== */

#if defined(ASYNCIO_OPENMV_EXTERNAL_TICK)
/* The firmware's tick: never tickless (its SysTick ends every WFI). */
uint32_t asyncio_port_ticks_ms(void) { return asyncio_openmv_ticks_hook(); }

#elif !ASYNCIO_OPENMV_TICKLESS
/* One writer (the SysTick ISR, every millisecond); an aligned 32-bit load is
 * atomic, so readers need no lock. It wraps at 2^32 and the core only ever
 * takes differences. */
static volatile uint32_t asyncio_openmv_ms_ = ASYNCIO_OPENMV_TICKS_START;

void asyncio_openmv_systick_irq(void) { asyncio_openmv_ms_++; }

void ASYNCIO_OPENMV_SYSTICK_HANDLER(void);
void ASYNCIO_OPENMV_SYSTICK_HANDLER(void) { asyncio_openmv_systick_irq(); }

uint32_t asyncio_port_ticks_ms(void) { return asyncio_openmv_ms_; }

#else
/* ------------------------------------------------------------------------ */
/* Tickless SysTick (ASYNCIO_OPENMV_TICKLESS, the default)                  */
/* ------------------------------------------------------------------------ */
/*
 * SysTick never stops and its count is the clock: the time is the
 * millisecond at which the current SysTick period began plus the cycles
 * counted since, so asyncio_port_ticks_ms() is exact whenever it is read,
 * whatever the period. Every period ends on a millisecond boundary, so the
 * SysTick interrupt (one per period) only moves that base forward.
 *
 *  running   periods of 1 ms (as without the option).
 *  idle      asyncio_port_wait() programs the NEXT period (RVR, which the
 *            counter loads when the current one ends) to end on the
 *            deadline, or after the longest whole number of milliseconds
 *            that fits in 24 bits when the deadline is farther (or there is
 *            none): SysTick then chains periods. The period after the
 *            deadline is 1 ms again. RVR is written only when the current
 *            period is more than ASYNCIO_OPENMV_SYSTICK_GUARD cycles from
 *            its end (else the port waits for that end first), so which
 *            value the counter loaded is never in doubt: nothing is lost
 *            and the clock cannot drift on these paths.
 *  cut       the only path that rewrites the counter: a wait whose deadline
 *            falls before the end of the current (long) period, i.e. the
 *            loop was woken early from a long sleep (a flag, an interrupt)
 *            and now sleeps less than what is left of it. The port then
 *            restarts SysTick so that it ends on the deadline, counting the
 *            cycles already run; the ones between reading the counter and
 *            restarting it (a load and a store apart) are estimated by
 *            ASYNCIO_OPENMV_SYSTICK_CUT_CYCLES. The clock never goes
 *            backwards (the estimate only adds), and an error of a few
 *            cycles per cut (a few ns at 480 MHz) is far below a crystal's.
 *
 * Longest sleep per SysTick wake-up: 2^24 cycles, rounded down to whole ms:
 * 34 ms at 480 MHz (the OpenMV Cam H7: about 290 wake-ups per 10 s of
 * idle), 671 ms at qemu's 25 MHz (15 per 10 s); on a reference clock
 * (ASYNCIO_OPENMV_SYSTICK_REF_HZ) 279 ms at 60 MHz (a 480 MHz core clock
 * / 8), 16.7 s at qemu's 1 MHz. An interrupt that wakes
 * nothing (an unrelated ISR mid-sleep) costs one more pass through the idle
 * check and changes nothing.
 *
 * State (written by the SysTick ISR and by the loop with the ISR masked).
 */
#define ASYNCIO_OPENMV_CPM_ (ASYNCIO_OPENMV_SYSTICK_HZ_ / 1000u)  /* SysTick cycles per ms */
#define ASYNCIO_OPENMV_MAX_MS_ (0x1000000u / ASYNCIO_OPENMV_CPM_) /* longest period */
static volatile uint32_t asyncio_openmv_base_ms_ = ASYNCIO_OPENMV_TICKS_START; /* period start */
static volatile uint32_t asyncio_openmv_end_ms_ = ASYNCIO_OPENMV_TICKS_START + 1u; /* its end */
static volatile uint32_t asyncio_openmv_off_;                       /* cycles run before it */
static volatile uint32_t asyncio_openmv_len_ = ASYNCIO_OPENMV_CPM_; /* its cycles */
static volatile uint32_t asyncio_openmv_next_ms_ = 1u;              /* the next one, ms */

/* A period ended: the next one (RVR) has started. */
static void asyncio_openmv_wrap_(void)
{
    uint32_t base = asyncio_openmv_end_ms_;
    asyncio_openmv_base_ms_ = base;
    asyncio_openmv_off_ = 0;
    asyncio_openmv_len_ = asyncio_openmv_next_ms_ * ASYNCIO_OPENMV_CPM_;
    asyncio_openmv_end_ms_ = base + asyncio_openmv_next_ms_;
}

void asyncio_openmv_systick_irq(void) { asyncio_openmv_wrap_(); }

void ASYNCIO_OPENMV_SYSTICK_HANDLER(void);
void ASYNCIO_OPENMV_SYSTICK_HANDLER(void) { asyncio_openmv_systick_irq(); }

/* With the SysTick interrupt masked: account for a wrap it has not yet
 * handled (and keep it from handling it twice). */
static void asyncio_openmv_settle_(void)
{
    if (ASYNCIO_OPENMV_ICSR & ASYNCIO_OPENMV_ICSR_PENDSTSET) {
        ASYNCIO_OPENMV_ICSR = ASYNCIO_OPENMV_ICSR_PENDSTCLR;
        asyncio_openmv_wrap_();
    }
}

/* The clock, with the SysTick interrupt masked. */
static uint32_t asyncio_openmv_now_(void)
{
    uint32_t v = ASYNCIO_OPENMV_SYST_CVR;
    if (ASYNCIO_OPENMV_ICSR & ASYNCIO_OPENMV_ICSR_PENDSTSET) {
        asyncio_openmv_settle_(); /* it wrapped around the read: read again */
        v = ASYNCIO_OPENMV_SYST_CVR;
        if (v == 0) /* at zero, reloading on the next cycle */
            v = asyncio_openmv_len_ - 1u;
    }
    return asyncio_openmv_base_ms_ +
           (asyncio_openmv_off_ + asyncio_openmv_len_ - 1u - v) / ASYNCIO_OPENMV_CPM_;
}

uint32_t asyncio_port_ticks_ms(void)
{
    uint32_t s = asyncio_port_critical_enter();
    uint32_t now = asyncio_openmv_now_();
    asyncio_port_critical_exit(s);
    return now;
}

/* With the SysTick interrupt masked: make sure the current period has more
 * than the guard band left, waiting out its end if not. */
static void asyncio_openmv_away_from_wrap_(void)
{
    asyncio_openmv_settle_();
    if (ASYNCIO_OPENMV_SYST_CVR > ASYNCIO_OPENMV_SYSTICK_GUARD)
        return;
    while (!(ASYNCIO_OPENMV_ICSR & ASYNCIO_OPENMV_ICSR_PENDSTSET))
        ; /* at most the guard band: a few hundred cycles */
    asyncio_openmv_settle_();
}

/* With the SysTick interrupt masked: the period after the current one
 * lasts `ms` (1 .. MAX_MS_). */
static void asyncio_openmv_set_next_(uint32_t ms)
{
    if (ms == asyncio_openmv_next_ms_)
        return;
    asyncio_openmv_away_from_wrap_();
    ASYNCIO_OPENMV_SYST_RVR = ms * ASYNCIO_OPENMV_CPM_ - 1u;
    asyncio_openmv_next_ms_ = ms;
}

/* With the SysTick interrupt masked: end the current period at `deadline`
 * (a later millisecond than now, before the period's own end), then 1 ms
 * periods. Returns 0 if the deadline is too close to restart SysTick for:
 * do not sleep, it is due within the guard band. */
static int asyncio_openmv_cut_(uint32_t deadline)
{
    uint32_t v, ran, left;
    asyncio_openmv_away_from_wrap_();
    if ((int32_t)(deadline - asyncio_openmv_end_ms_) >= 0)
        return 1; /* the period that began meanwhile already ends in time */
    v = ASYNCIO_OPENMV_SYST_CVR;
    ran = asyncio_openmv_off_ + asyncio_openmv_len_ - 1u - v; /* cycles since base_ms_ */
    left = (deadline - asyncio_openmv_base_ms_) * ASYNCIO_OPENMV_CPM_ - ran;
    if (left <= ASYNCIO_OPENMV_SYSTICK_GUARD)
        return 0;
    /* Restart: writing CVR zeroes it and SysTick reloads RVR on its next
     * clock edge; only once it has may RVR take the following period. */
    ASYNCIO_OPENMV_SYST_RVR = left - 1u - ASYNCIO_OPENMV_SYSTICK_CUT_CYCLES;
    ASYNCIO_OPENMV_SYST_CVR = 0;
    while (ASYNCIO_OPENMV_SYST_CVR == 0)
        ;
    ASYNCIO_OPENMV_SYST_RVR = ASYNCIO_OPENMV_CPM_ - 1u; /* loaded at the next wrap */
    asyncio_openmv_len_ = left - ASYNCIO_OPENMV_SYSTICK_CUT_CYCLES;
    asyncio_openmv_off_ =
        (deadline - asyncio_openmv_base_ms_) * ASYNCIO_OPENMV_CPM_ - asyncio_openmv_len_;
    asyncio_openmv_end_ms_ = deadline;
    asyncio_openmv_next_ms_ = 1u;
    return 1;
}

/* With the SysTick interrupt masked, before sleeping: have SysTick end a
 * period on `deadline` (if has_deadline; a later millisecond than now) and
 * otherwise chain the longest periods. Returns 0 if the caller must not
 * sleep (the deadline is a few cycles away). */
static int asyncio_openmv_program_(int has_deadline, uint32_t deadline)
{
    int32_t beyond;
    if (!has_deadline) {
        asyncio_openmv_set_next_(ASYNCIO_OPENMV_MAX_MS_);
        return 1;
    }
    beyond = (int32_t)(deadline - asyncio_openmv_end_ms_);
    if (beyond < 0)
        return asyncio_openmv_cut_(deadline);
    if (beyond == 0)
        asyncio_openmv_set_next_(1u); /* this period ends on it: then 1 ms again */
    else
        asyncio_openmv_set_next_(
            (uint32_t)beyond < ASYNCIO_OPENMV_MAX_MS_ ? (uint32_t)beyond : ASYNCIO_OPENMV_MAX_MS_);
    return 1;
}
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
    ASYNCIO_OPENMV_SYST_RVR = ASYNCIO_OPENMV_SYSTICK_HZ_ / 1000u - 1u;
    ASYNCIO_OPENMV_SYST_CVR = 0; /* any write clears it and the COUNTFLAG */
#if ASYNCIO_OPENMV_TICKLESS
    /* The lowest priority: masked by the BASEPRI critical section too. */
    ASYNCIO_OPENMV_SHPR3 |= 0xFFu << 24;
#endif
    ASYNCIO_OPENMV_SYST_CSR =
        ASYNCIO_OPENMV_SYST_CLK_ | ASYNCIO_OPENMV_SYST_TICKINT | ASYNCIO_OPENMV_SYST_ENABLE;
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
/* Critical sections: PRIMASK, or BASEPRI with ASYNCIO_OPENMV_BASEPRI        */
/* ======================================================================== */

#ifndef ASYNCIO_OPENMV_BASEPRI
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
#else
/* Interrupts of priority value ASYNCIO_OPENMV_BASEPRI and above (the less
 * urgent ones: every one that calls into asyncio, SysTick included) are
 * held off; more urgent ones still run. BASEPRI_MAX only ever raises the
 * mask, so a nested enter cannot lower it. */
uint32_t asyncio_port_critical_enter(void)
{
    uint32_t basepri;
    __asm__ volatile("mrs %0, basepri\n\tmsr basepri_max, %1"
                     : "=&r"(basepri)
                     : "r"((uint32_t)(ASYNCIO_OPENMV_BASEPRI))
                     : "memory");
    return basepri;
}

void asyncio_port_critical_exit(uint32_t state)
{
    __asm__ volatile("msr basepri, %0" ::"r"(state) : "memory");
}
#endif

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
 *     wait() looks at it masked, so it returns without sleeping and the loop
 *     polls again.
 *  3. After wait() has masked interrupts and found wake_ CLEAR (the window
 *     the "check, then sleep" pattern loses wake-ups in): the interrupt cannot
 *     run yet, it stays pending in the NVIC. WFI ends on a pending interrupt
 *     that only PRIMASK holds off (the architecture makes that exception to
 *     masking for PRIMASK), so WFI returns at once; the unmask after it
 *     (cpsie i; isb) runs the ISR, and wait() then sees wake_ SET and
 *     returns (else it masks again and checks again).
 *  4. During WFI: the same as 3.
 *
 * So every wake() either happens before wake_ is examined (seen) or leaves an
 * interrupt pending across the WFI (which then cannot sleep). Only PRIMASK
 * gives this: an interrupt held off by BASEPRI does NOT end a WFI (WFI wakes
 * for an interrupt that would preempt if PRIMASK were clear, and BASEPRI
 * still counts). So with ASYNCIO_OPENMV_BASEPRI the check runs under
 * BASEPRI (which holds off every interrupt that may call wake(), so wake_
 * cannot change after the check), and then, just for the WFI, the mask is
 * handed over to PRIMASK: `cpsid i` first, then BASEPRI to 0. An interrupt
 * that came after the check is pending and only PRIMASK holds it off now,
 * so the WFI returns at once, as in case 3. Urgent interrupts (above the
 * BASEPRI level) are held off only for those few instructions and the WFI,
 * which they end themselves.
 *
 * The test tests/arm/test_irq.c raises the interrupt in window 3 through the
 * ASYNCIO_OPENMV_BEFORE_WFI() hook, with SysTick stopped, in both builds.
 * (qemu 7.2 ends a WFI on any pending interrupt, masked by BASEPRI or not, so
 * it cannot show the BASEPRI-during-WFI hang itself; the hand-over follows
 * the architecture's rule, not qemu's.)
 *
 * Timeouts: the loop re-checks the deadline after every interrupt. Without
 * tickless SysTick (or the firmware's tick) fires every millisecond, so a
 * sleep ends within the millisecond its deadline falls in; with it, SysTick
 * is programmed to end a period on the deadline (see "Tickless SysTick").
 * wake_ is cleared on the way out: a wake after that is case 1 or 2 of the
 * next idle. Call wait() with interrupts enabled (the loop always does).
 */
static volatile uint8_t asyncio_openmv_wake_;

void asyncio_port_wake(void) { asyncio_openmv_wake_ = 1; }

/* The mask held while deciding to sleep (the critical section's), and the
 * hand-over to PRIMASK for the WFI. After the WFI everything is unmasked
 * (ASYNCIO_OPENMV_RUN_PENDING_): whatever ended it runs there. */
#ifndef ASYNCIO_OPENMV_BASEPRI
#define ASYNCIO_OPENMV_IDLE_MASK_() __asm__ volatile("cpsid i" ::: "memory")
#define ASYNCIO_OPENMV_IDLE_UNMASK_() __asm__ volatile("cpsie i" ::: "memory")
#define ASYNCIO_OPENMV_WFI_() __asm__ volatile("dsb\n\twfi" ::: "memory")
#else
#define ASYNCIO_OPENMV_IDLE_MASK_() (void)asyncio_port_critical_enter()
#define ASYNCIO_OPENMV_IDLE_UNMASK_() asyncio_port_critical_exit(0)
#define ASYNCIO_OPENMV_WFI_()                                                                      \
    __asm__ volatile("cpsid i\n\tmsr basepri, %0\n\tdsb\n\twfi" ::"r"(0u) : "memory")
#endif
#define ASYNCIO_OPENMV_RUN_PENDING_() __asm__ volatile("cpsie i\n\tisb" ::: "memory")

void asyncio_port_wait(int32_t timeout_ms)
{
#if ASYNCIO_OPENMV_TICKLESS && !defined(ASYNCIO_OPENMV_EXTERNAL_TICK)
    uint32_t start = 0, now;
    ASYNCIO_OPENMV_IDLE_MASK_();
    if (timeout_ms > 0)
        start = asyncio_openmv_now_();
    while (!asyncio_openmv_wake_ && timeout_ms != 0) {
        if (timeout_ms > 0) {
            now = asyncio_openmv_now_();
            if (now - start >= (uint32_t)timeout_ms)
                break;
        }
        if (!asyncio_openmv_program_(timeout_ms > 0, start + (uint32_t)timeout_ms))
            continue; /* due within a few cycles: do not sleep */
        ASYNCIO_OPENMV_BEFORE_WFI();
        ASYNCIO_OPENMV_WFI_();
        ASYNCIO_OPENMV_RUN_PENDING_();
        if (asyncio_openmv_wake_)
            goto woken; /* the usual way out after an interrupt: already unmasked */
        ASYNCIO_OPENMV_IDLE_MASK_();
    }
#else
    uint32_t start = asyncio_port_ticks_ms();
    ASYNCIO_OPENMV_IDLE_MASK_();
    while (!asyncio_openmv_wake_ &&
           (timeout_ms < 0 || asyncio_port_ticks_ms() - start < (uint32_t)timeout_ms)) {
        ASYNCIO_OPENMV_BEFORE_WFI();
        ASYNCIO_OPENMV_WFI_();
        ASYNCIO_OPENMV_RUN_PENDING_();
        if (asyncio_openmv_wake_)
            goto woken;
        ASYNCIO_OPENMV_IDLE_MASK_();
    }
#endif
    ASYNCIO_OPENMV_IDLE_UNMASK_();
woken:
    /* Cleared unmasked: a wake from now on is case 1 or 2 of the next idle,
     * and the flag behind one that came just before is seen by the poll
     * that follows this return. */
    asyncio_openmv_wake_ = 0;
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

/* ======================================================================== */
/* UART transport (ASYNCIO_OPENMV_UART)                                     */
/* ======================================================================== */
#ifdef ASYNCIO_OPENMV_UART
/*
 * A stream transport over a UART, driven by its RX and TX interrupts.
 *
 *   UART --RX irq--> rx ring --read()--> stream      (ISR produces, task consumes)
 *   UART <--TX irq-- tx ring <--write()-- stream     (task produces, ISR consumes)
 *
 * The hardware is ARM's CMSDK APB UART (Cortex-M System Design Kit TRM, ARM
 * DDI 0479C, "APB UART"), the UART of the MPS2 boards, as qemu models it
 * (hw/char/cmsdk-apb-uart.c) and maps it on mps2-an500 (hw/arm/mps2.c:
 * UART0..4 at 0x40004000, 0x40005000, 0x40006000, 0x40007000, 0x40009000;
 * RX interrupts 0, 2, 4, 18, 20 and TX one more; PCLK 25 MHz):
 *
 *   0x00 DATA       read: the received byte (clears RXFULL); write: send one
 *   0x04 STATE      bit 0 TXFULL, 1 RXFULL, 2 TX overrun, 3 RX overrun (W1C)
 *   0x08 CTRL       bit 0 TX enable, 1 RX enable, 2 TX interrupt enable,
 *                   3 RX interrupt enable (4, 5: overrun interrupts, unused)
 *   0x0C INTSTATUS  bit 0 TX, 1 RX, 2 TX overrun, 3 RX overrun; writing 1s
 *        INTCLEAR   clears them
 *   0x10 BAUDDIV    baud = PCLK / BAUDDIV, BAUDDIV >= 16
 *
 * One byte of buffer each way. RX interrupt: a byte arrived. TX interrupt: a
 * byte left the holding register (TXFULL went from set to clear); an idle
 * transmitter raises none, so the first byte of a burst is written by the
 * task (the "kick", below) and the ISR sends the rest.
 *
 * Porting to a vendor UART (the OpenMV Cam H7's STM32 USART, say) changes
 * only the "hardware" functions right below: the base addresses, the clock
 * and BAUDDIV arithmetic (BRR), rx_ready/rx_byte (ISR.RXNE / RDR), tx_ready/
 * tx_byte (ISR.TXE / TDR), the overrun check (ISR.ORE, cleared through
 * ICR.ORECF), and the kick: a UART whose TX interrupt is a level ("TX
 * empty") enables that interrupt in tx_kick_ and the ISR disables it when
 * the ring runs dry, instead of writing the first byte. The rings, the
 * overflow accounting and the stream side stay as they are.
 *
 * Sharing with the ISR:
 *  - RX ring, lock-free single producer (ISR) / single consumer (task): the
 *    ISR alone writes rx_in, `lost` and sets `gap`; the task alone writes
 *    rx_out and clears `gap`. Each side stores the bytes first and then
 *    publishes its index, with a barrier between (and loads the other side's
 *    index before the bytes it covers). On one core an ISR observes the
 *    task's accesses in program order, so the barrier's job is to stop the
 *    compiler reordering; it is a `dmb` so that the rings stay correct if the
 *    other side is ever a DMA engine or another core. One barrier per batch,
 *    not per byte.
 *  - TX ring: the task alone writes tx_in (lock-free as above), but tx_out
 *    has two writers: the ISR and the task's kick, which must start an idle
 *    transmitter. The kick therefore runs in the port's critical section
 *    (a few instructions per write() call), so the two never interleave.
 *  - The ISR must not preempt itself: route the RX and TX vectors to
 *    asyncio_openmv_uart_irq() at one priority, and keep that priority one
 *    the port's critical section masks.
 *
 * Ring positions run over [0, 2 * cap): in == out is empty, a distance of
 * cap is full, so the whole capacity holds bytes and no division is needed.
 *
 * Overflow: when a byte arrives with the RX ring full, the ISR drops it,
 * counts it in `lost` and raises `gap`; while `gap` is up it drops every
 * byte (so the loss is one contiguous run). The reader first gets every
 * byte received before the loss, then one read returns ASYNCIO_EOVERRUN
 * (which clears `gap`), then the bytes that arrive from then on. A UART
 * overrun (the ISR itself too late: the UART overwrote a byte) opens a gap
 * the same way, counting the overwritten byte and those dropped after it.
 */

#ifndef ASYNCIO_OPENMV_UART_CLK_HZ
#define ASYNCIO_OPENMV_UART_CLK_HZ ASYNCIO_OPENMV_CORE_HZ /* the UART's PCLK */
#endif
#ifndef ASYNCIO_OPENMV_UART_BASES
#define ASYNCIO_OPENMV_UART_BASES                                                                  \
    {                                                                                              \
        0x40004000u, 0x40005000u, 0x40006000u, 0x40007000u, 0x40009000u                            \
    }
#endif

#define ASYNCIO_OPENMV_UART_BARRIER_() __asm__ volatile("dmb" ::: "memory")

/* ---- hardware: the CMSDK APB UART (what a vendor UART replaces) ---- */
#define ASYNCIO_OPENMV_UART_R_(u, off) (*(volatile uint32_t *)((u)->regs + (off)))
#define ASYNCIO_OPENMV_UART_DATA 0x00u
#define ASYNCIO_OPENMV_UART_STATE 0x04u
#define ASYNCIO_OPENMV_UART_CTRL 0x08u
#define ASYNCIO_OPENMV_UART_INT 0x0Cu /* INTSTATUS (read) / INTCLEAR (write) */
#define ASYNCIO_OPENMV_UART_BAUDDIV 0x10u
#define ASYNCIO_OPENMV_UART_TXFULL 0x1u
#define ASYNCIO_OPENMV_UART_RXFULL 0x2u
#define ASYNCIO_OPENMV_UART_RXOVR 0x8u
#define ASYNCIO_OPENMV_UART_ON 0xFu /* TX, RX, TX interrupt, RX interrupt enabled */

/* Program the divider and start the UART with both interrupts; EINVAL for a
 * baud rate it cannot make. */
static int asyncio_openmv_uart_hw_start_(asyncio_uart *u, uint32_t baud)
{
    uint32_t div = baud ? ASYNCIO_OPENMV_UART_CLK_HZ / baud : 0;
    if (div < 16u || div > 0xFFFFFu)
        return ASYNCIO_EINVAL;
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_CTRL) = 0;
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_BAUDDIV) = div;
    (void)ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_DATA);   /* drop a stale byte */
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_STATE) = 0xCu; /* overrun flags */
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_INT) = 0xFu;
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_CTRL) = ASYNCIO_OPENMV_UART_ON;
    return ASYNCIO_OK;
}

static void asyncio_openmv_uart_hw_stop_(asyncio_uart *u)
{
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_CTRL) = 0;
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_INT) = 0xFu;
}

/* Acknowledge the interrupt before looking at the data, so that a byte that
 * moves afterwards raises it again. */
static void asyncio_openmv_uart_hw_ack_(asyncio_uart *u)
{
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_INT) =
        ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_INT);
}

/* 1 (and cleared) if the UART lost a byte before the ISR could take it. */
static int asyncio_openmv_uart_hw_overrun_(asyncio_uart *u)
{
    if (!(ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_STATE) & ASYNCIO_OPENMV_UART_RXOVR))
        return 0;
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_STATE) = ASYNCIO_OPENMV_UART_RXOVR;
    return 1;
}

static int asyncio_openmv_uart_hw_rx_ready_(asyncio_uart *u)
{
    return (ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_STATE) & ASYNCIO_OPENMV_UART_RXFULL) != 0;
}

static unsigned char asyncio_openmv_uart_hw_rx_byte_(asyncio_uart *u)
{
    return (unsigned char)ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_DATA);
}

static int asyncio_openmv_uart_hw_tx_ready_(asyncio_uart *u)
{
    return !(ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_STATE) & ASYNCIO_OPENMV_UART_TXFULL);
}

static void asyncio_openmv_uart_hw_tx_byte_(asyncio_uart *u, unsigned char b)
{
    ASYNCIO_OPENMV_UART_R_(u, ASYNCIO_OPENMV_UART_DATA) = b;
}

/* ---- the rings ---- */
static uint32_t asyncio_openmv_ring_fill_(uint32_t in, uint32_t out, uint32_t cap)
{
    return in >= out ? in - out : in + 2u * cap - out;
}

static uint32_t asyncio_openmv_ring_next_(uint32_t pos, uint32_t cap)
{
    return pos + 1u == 2u * cap ? 0u : pos + 1u;
}

static uint32_t asyncio_openmv_ring_slot_(uint32_t pos, uint32_t cap)
{
    return pos < cap ? pos : pos - cap;
}

/* Send from the TX ring while the UART takes bytes. Runs in the ISR, or in
 * the task with interrupts masked (the kick): tx_out's two writers. Wakes a
 * writer waiting for room when the ring drains to half. */
static void asyncio_openmv_uart_tx_pump_(asyncio_uart *u)
{
    uint32_t cap = u->tx_cap, in = u->tx_in, out = u->tx_out, before;
    ASYNCIO_OPENMV_UART_BARRIER_(); /* tx_in before the bytes it covers */
    before = asyncio_openmv_ring_fill_(in, out, cap);
    while (out != in && asyncio_openmv_uart_hw_tx_ready_(u)) {
        asyncio_openmv_uart_hw_tx_byte_(u, u->tx[asyncio_openmv_ring_slot_(out, cap)]);
        out = asyncio_openmv_ring_next_(out, cap);
    }
    ASYNCIO_OPENMV_UART_BARRIER_(); /* the bytes read before their slots are freed */
    u->tx_out = out;
    if (before > cap / 2u && asyncio_openmv_ring_fill_(in, out, cap) <= cap / 2u)
        asyncio_flag_set(&u->writable);
}

/* Start an idle transmitter (see "Porting" above for level-triggered UARTs). */
static void asyncio_openmv_uart_tx_kick_(asyncio_uart *u)
{
    uint32_t state = asyncio_port_critical_enter();
    asyncio_openmv_uart_tx_pump_(u);
    asyncio_port_critical_exit(state);
}

void asyncio_openmv_uart_irq(asyncio_uart *u)
{
    uint32_t cap = u->rx_cap, in = u->rx_in, out = u->rx_out;
    uint8_t gap = u->gap, had_gap = gap, was_empty, stored = 0;
    asyncio_openmv_uart_hw_ack_(u);
    if (u->closed)
        return;
    ASYNCIO_OPENMV_UART_BARRIER_(); /* rx_out before writing the slots it frees */
    was_empty = in == out;
    if (asyncio_openmv_uart_hw_overrun_(u)) {
        u->lost++;
        gap = 1;
    }
    while (asyncio_openmv_uart_hw_rx_ready_(u)) {
        unsigned char b = asyncio_openmv_uart_hw_rx_byte_(u);
        if (gap || asyncio_openmv_ring_fill_(in, out, cap) == cap) {
            u->lost++; /* the ISR is its only writer */
            gap = 1;
            continue;
        }
        u->rx[asyncio_openmv_ring_slot_(in, cap)] = b;
        in = asyncio_openmv_ring_next_(in, cap);
        stored = 1;
    }
    ASYNCIO_OPENMV_UART_BARRIER_(); /* the bytes before the position that covers them */
    u->rx_in = in;
    if (gap && !had_gap) {
        ASYNCIO_OPENMV_UART_BARRIER_(); /* the last position before the gap */
        u->gap = 1;
    }
    /* A reader parks only on an empty ring without a gap (uart_wait_). */
    if (was_empty && (stored || (gap && !had_gap)))
        asyncio_flag_set(&u->readable);
    asyncio_openmv_uart_tx_pump_(u);
}

uint32_t asyncio_openmv_uart_dropped(const asyncio_uart *u) { return u->lost; }

/* ---- the transport (called by the stream, in the loop's thread) ---- */
static int asyncio_openmv_uart_read_(asyncio_transport *t, unsigned char *buf, size_t n)
{
    asyncio_uart *u = (asyncio_uart *)(void *)t;
    uint32_t cap = u->rx_cap, out = u->rx_out, in, fill, i;
    uint8_t gap = u->gap;
    ASYNCIO_OPENMV_UART_BARRIER_(); /* the gap, then the position it stands at */
    in = u->rx_in;
    ASYNCIO_OPENMV_UART_BARRIER_(); /* the position before the bytes it covers */
    fill = asyncio_openmv_ring_fill_(in, out, cap);
    if (fill == 0) {
        if (gap) {
            /* Every byte before the loss is delivered: report it, once. The
             * ISR only sets `gap` when it is clear, so this store loses no
             * later loss. */
            u->gap = 0;
            return ASYNCIO_EOVERRUN;
        }
        return u->closed ? 0 : ASYNCIO_AGAIN_READ;
    }
    if (n > fill)
        n = fill;
    for (i = 0; i < n; i++) {
        buf[i] = u->rx[asyncio_openmv_ring_slot_(out, cap)];
        out = asyncio_openmv_ring_next_(out, cap);
    }
    ASYNCIO_OPENMV_UART_BARRIER_(); /* the bytes read before their slots are freed */
    u->rx_out = out;
    return (int)n;
}

static int asyncio_openmv_uart_write_(asyncio_transport *t, const unsigned char *buf, size_t n)
{
    asyncio_uart *u = (asyncio_uart *)(void *)t;
    uint32_t cap = u->tx_cap, in = u->tx_in, out = u->tx_out, room, i;
    if (u->closed)
        return ASYNCIO_ECLOSED;
    ASYNCIO_OPENMV_UART_BARRIER_(); /* tx_out before writing the slots it frees */
    room = cap - asyncio_openmv_ring_fill_(in, out, cap);
    if (room == 0)
        return ASYNCIO_AGAIN_WRITE; /* sending: the TX interrupt frees room */
    if (n > room)
        n = room;
    for (i = 0; i < n; i++) {
        u->tx[asyncio_openmv_ring_slot_(in, cap)] = buf[i];
        in = asyncio_openmv_ring_next_(in, cap);
    }
    ASYNCIO_OPENMV_UART_BARRIER_(); /* the bytes before the position that covers them */
    u->tx_in = in;
    asyncio_openmv_uart_tx_kick_(u);
    return (int)n;
}

/* Ready to read: bytes or a loss to report. Ready to write: the TX ring at
 * most half full (the ISR sets `writable` when it drains to half). */
static int asyncio_openmv_uart_wait_(asyncio_transport *t, unsigned events)
{
    asyncio_uart *u = (asyncio_uart *)(void *)t;
    if (u->closed)
        return ASYNCIO_OK;
    if (events & ASYNCIO_IO_READ) {
        if (u->gap || u->rx_in != u->rx_out)
            return ASYNCIO_OK;
        return asyncio_transport_wait_flag(&u->readable);
    }
    if (asyncio_openmv_ring_fill_(u->tx_in, u->tx_out, u->tx_cap) <= u->tx_cap / 2u)
        return ASYNCIO_OK;
    return asyncio_transport_wait_flag(&u->writable);
}

/* Stop the UART and its interrupts, drop unsent bytes, wake the waiters. */
static void asyncio_openmv_uart_close_(asyncio_transport *t)
{
    asyncio_uart *u = (asyncio_uart *)(void *)t;
    uint32_t state = asyncio_port_critical_enter();
    asyncio_openmv_uart_hw_stop_(u);
    u->closed = 1;
    u->tx_out = u->tx_in;
    asyncio_port_critical_exit(state);
    asyncio_flag_set(&u->readable);
    asyncio_flag_set(&u->writable);
}

static const asyncio_transport_ops asyncio_openmv_uart_ops = {asyncio_openmv_uart_read_,
                                                              asyncio_openmv_uart_write_,
                                                              asyncio_openmv_uart_wait_,
                                                              asyncio_openmv_uart_close_,
                                                              NULL,
                                                              NULL,
                                                              NULL};

int asyncio_openmv_uart_init(asyncio_uart *u, unsigned index, uint32_t baud, void *rx_ring,
                             size_t rx_cap, void *tx_ring, size_t tx_cap)
{
    static const uint32_t bases[ASYNCIO_OPENMV_UART_COUNT] = ASYNCIO_OPENMV_UART_BASES;
    if (!u || index >= ASYNCIO_OPENMV_UART_COUNT || !rx_ring || !tx_ring || rx_cap == 0 ||
        tx_cap == 0 || rx_cap > 0x40000000u || tx_cap > 0x40000000u)
        return ASYNCIO_EINVAL;
    u->base.ops = &asyncio_openmv_uart_ops;
    u->regs = bases[index];
    u->rx = (unsigned char *)rx_ring;
    u->tx = (unsigned char *)tx_ring;
    u->rx_cap = (uint32_t)rx_cap;
    u->tx_cap = (uint32_t)tx_cap;
    u->rx_in = u->rx_out = u->tx_in = u->tx_out = 0;
    u->lost = 0;
    u->gap = 0;
    u->closed = 0;
    asyncio_flag_init(&u->readable);
    asyncio_flag_init(&u->writable);
    if (asyncio_openmv_uart_hw_start_(u, baud) != ASYNCIO_OK) {
        u->base.ops = NULL; /* asyncio_stream_open() refuses it */
        return ASYNCIO_EINVAL;
    }
    return ASYNCIO_OK;
}
#endif /* ASYNCIO_OPENMV_UART */
