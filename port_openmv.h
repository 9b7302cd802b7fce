/*
 * port_openmv.h -- what port_openmv.c offers beyond the port interface: the
 * camera's frame interrupt, LED and report hooks, the tick and cycle
 * counters. Include it from firmware that uses them.
 */
#ifndef ASYNCIO_PORT_OPENMV_H
#define ASYNCIO_PORT_OPENMV_H

#include "asyncio.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The flag a frame task awaits; asyncio_openmv_frame_irq() sets it. */
extern asyncio_flag asyncio_openmv_frame_flag;
/* Frames seen by asyncio_openmv_frame_irq() (written by that ISR only). */
extern volatile uint32_t asyncio_openmv_frame_count;
/* Call from the camera's frame-ready ISR. IRQ-safe. */
void asyncio_openmv_frame_irq(void);
/* Weak no-op hooks the firmware overrides: an LED, and errors no task
 * retrieved (the default exception handler's output). */
void asyncio_openmv_led(int led, int on);
void asyncio_openmv_report(const asyncio_context *ctx);
/* The SysTick handler's work (without ASYNCIO_OPENMV_EXTERNAL_TICK). */
void asyncio_openmv_systick_irq(void);
/* With ASYNCIO_OPENMV_EXTERNAL_TICK: the firmware's millisecond tick. */
uint32_t asyncio_openmv_ticks_hook(void);
/* The DWT cycle counter, 0 where the core has none. */
uint32_t asyncio_openmv_cycles(void);

#ifdef __cplusplus
}
#endif

#endif /* ASYNCIO_PORT_OPENMV_H */
