/* SPDX-License-Identifier: MIT */
/*
 * rt.h -- a minimal freestanding runtime for the Cortex-M tests under
 * `qemu-system-arm -M mps2-an500` (Cortex-M7): vector table, reset handler,
 * ARM semihosting output and exit, a small printf, interrupt helpers.
 *
 * Nothing here is part of asyncio.h; it only lets the tests and examples
 * run without a vendor SDK or newlib.
 */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Output through semihosting. Lines are buffered and written on '\n'. */
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_vprintf(const char *fmt, va_list ap);
void rt_flush(void);

/* Leave qemu with exit status `code` (flushes output first). */
void rt_exit(int code) __attribute__((noreturn));

/* Tests report with these; rt_done() prints the summary and exits with
 * status 0 only if no check failed. */
#define RT_CHECK(cond) rt_check((cond) != 0, #cond, __FILE__, __LINE__)
int rt_check(int ok, const char *what, const char *file, int line);
void rt_done(void) __attribute__((noreturn));

/* External interrupts (IRQ 0 .. RT_NUM_IRQ-1): install a handler, enable
 * it in the NVIC, and pend it from software through NVIC->ISPR. */
#define RT_NUM_IRQ 32
typedef void (*rt_handler)(void);
void rt_irq_set(unsigned irq, rt_handler fn);
void rt_irq_enable(unsigned irq);
void rt_irq_disable(unsigned irq);
void rt_irq_pend(unsigned irq);
void rt_irq_priority(unsigned irq, uint8_t prio);

/* The core clock of the emulated board (qemu mps2 boards: 25 MHz). */
#define RT_CORE_HZ 25000000u

#endif
