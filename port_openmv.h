/* SPDX-License-Identifier: MIT */
/*
 * port_openmv.h -- what port_openmv.c offers beyond the port interface: the
 * camera's frame interrupt, LED and report hooks, the tick and cycle
 * counters, and (with ASYNCIO_OPENMV_UART) the UART stream transport.
 * Include it from firmware that uses them.
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

#ifdef ASYNCIO_OPENMV_UART
/* ======================================================================== */
/* UART transport (build port_openmv.c and your files with                  */
/* -DASYNCIO_OPENMV_UART, and link src/asyncio_stream.c)                    */
/* ======================================================================== */
#include "asyncio_stream.h"

/* The CMSDK APB UARTs of the MPS2 boards (qemu -M mps2-an500): UART n's RX
 * and TX interrupt numbers (external IRQs, i.e. vector 16 + n). From qemu's
 * hw/arm/mps2.c (AN385/AN386/AN500 share the map): UART0..4 at 0x40004000,
 * 0x40005000, 0x40006000, 0x40007000, 0x40009000; RX IRQ 0, 2, 4, 18, 20;
 * TX IRQ one more. */
#define ASYNCIO_OPENMV_UART_COUNT 5u
#define ASYNCIO_OPENMV_UART_RX_IRQ(n) ((n) < 3u ? 2u * (n) : 12u + 2u * (n))
#define ASYNCIO_OPENMV_UART_TX_IRQ(n) (ASYNCIO_OPENMV_UART_RX_IRQ(n) + 1u)

/*
 * An interrupt-driven UART transport: the ISR moves bytes between the UART
 * and two rings of caller-owned size; the stream reads and writes the rings.
 * Fields are private (the ISR owns the *_in indices and `lost`, the task the
 * *_out ones; see port_openmv.c).
 */
typedef struct asyncio_uart {
    asyncio_transport base; /* first: asyncio_stream_open(&s, &u.base) */
    uintptr_t regs;         /* the UART's register block */
    unsigned char *rx, *tx; /* the rings */
    uint32_t rx_cap, tx_cap;
    volatile uint32_t rx_in, rx_out; /* ring positions in [0, 2 * cap) */
    volatile uint32_t tx_in, tx_out;
    volatile uint32_t lost;  /* bytes dropped since init (ISR) */
    volatile uint8_t gap;    /* set by the ISR at an overflow, cleared once reported */
    volatile uint8_t closed; /* close() ran: reads see EOF */
    asyncio_flag readable;   /* set by the ISR: bytes (or an overflow) arrived */
    asyncio_flag writable;   /* set by the ISR: the TX ring drained to half */
} asyncio_uart;

/*
 * Make `u` a transport over UART `index` (0 .. ASYNCIO_OPENMV_UART_COUNT-1)
 * at `baud` (8N1), receiving into `rx_ring` (rx_cap bytes) and sending from
 * `tx_ring` (tx_cap bytes); enables the UART and its RX and TX interrupts
 * in the UART (not in the NVIC: route both vectors to
 * asyncio_openmv_uart_irq(u) and enable them, at one priority). Then
 * asyncio_stream_open(&s, &u->base). Call it again to reopen after a
 * close. Not IRQ-safe (the UART's interrupts must not run meanwhile).
 * 0, or EINVAL (index, baud out of the UART's range, NULL or empty rings).
 */
int asyncio_openmv_uart_init(asyncio_uart *u, unsigned index, uint32_t baud, void *rx_ring,
                             size_t rx_cap, void *tx_ring, size_t tx_cap);

/* The UART's interrupt work: call it from the UART's RX and TX handlers
 * (the same priority for both, so it never preempts itself). IRQ-only. */
void asyncio_openmv_uart_irq(asyncio_uart *u);

/* Bytes received and dropped since init: the RX ring was full (the reader
 * fell behind) or the UART overran. Each loss makes the next read fail once
 * with ASYNCIO_EOVERRUN at the place of the gap. IRQ-safe; no errors. */
uint32_t asyncio_openmv_uart_dropped(const asyncio_uart *u);
#endif /* ASYNCIO_OPENMV_UART */

#ifdef __cplusplus
}
#endif

#endif /* ASYNCIO_PORT_OPENMV_H */
