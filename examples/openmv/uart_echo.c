/* SPDX-License-Identifier: MIT */
/*
 * uart_echo -- a line echo over a UART: the MicroPython pattern
 *
 *     import asyncio
 *     from machine import UART
 *
 *     async def echo(uart):
 *         reader = asyncio.StreamReader(uart)
 *         writer = asyncio.StreamWriter(uart, {})
 *         while True:
 *             line = await reader.readline()
 *             if not line:
 *                 break
 *             writer.write(line.upper())
 *             await writer.drain()
 *
 *     asyncio.run(echo(UART(0, 115200)))
 *
 * in C, with port_openmv.c's interrupt-driven UART transport. Build the port
 * and this file with -DASYNCIO_OPENMV_UART and link src/asyncio_stream.c
 * (`make arm` builds it for qemu's mps2-an500 as build/arm/uart_echo.elf,
 * with qemu_uart_board.c routing the vectors, and `make test-arm` runs it
 * against tests/arm/run_uart.py --example; tests/arm/test_uart.c is the same
 * loop under a longer test).
 *
 * A lost byte is never silent: when the RX ring overflows (this task fell
 * behind), the next readline fails once with ASYNCIO_EOVERRUN and
 * asyncio_openmv_uart_dropped() says how many bytes were lost; the loop
 * reports it and carries on.
 */
#include "port_openmv.h"

#define UART_INDEX 0u

static unsigned char rx_ring[512], tx_ring[512]; /* filled / drained by the ISR */
static unsigned char rbuf[128], wbuf[128];       /* the stream's buffers */
static asyncio_uart uart;
static asyncio_stream s;

/* The UART's RX and TX interrupt handlers: put these names in the vector
 * table (CMSDK UART0: IRQ 0 and 1; same priority for both). */
void UART0RX_Handler(void);
void UART0TX_Handler(void);
void UART0RX_Handler(void) { asyncio_openmv_uart_irq(&uart); }
void UART0TX_Handler(void) { asyncio_openmv_uart_irq(&uart); }

/* Routes the two vectors to the handlers above where the vector table does
 * not name them (qemu_board.c does for the qemu build), then enables them in
 * the NVIC. The default only enables them. */
void uart_echo_board_irqs(unsigned rx_irq, unsigned tx_irq);
__attribute__((weak)) void uart_echo_board_irqs(unsigned rx_irq, unsigned tx_irq)
{
    volatile uint32_t *iser = (volatile uint32_t *)0xE000E100u; /* NVIC->ISER */
    iser[rx_irq / 32u] = 1u << (rx_irq % 32u);
    iser[tx_irq / 32u] = 1u << (tx_irq % 32u);
}

struct echo {
    asyncio_coro co;
    unsigned char line[128];
    size_t n, i;
};

static int echo_fn(asyncio_coro *co)
{
    struct echo *f = (struct echo *)co;
    ASYNC_BEGIN(co);
    for (;;) {
        ASYNC_TRY(AWAIT(asyncio_stream_readline(&s, f->line, sizeof f->line)));
        if (AWAIT_ERROR == ASYNCIO_EOVERRUN) {
            /* The bytes before the loss were delivered; the line in progress
             * is cut. Say so and go on with the next bytes. */
            AWAIT(asyncio_stream_awrite(&s, "!overrun\n", 9));
            continue;
        }
        if (AWAIT_ERROR)
            ASYNC_RAISE(AWAIT_ERROR);
        f->n = (size_t)AWAIT_RESULT;
        if (f->n == 0)
            break; /* EOF: the transport was closed */
        for (f->i = 0; f->i < f->n; f->i++)
            if (f->line[f->i] >= 'a' && f->line[f->i] <= 'z')
                f->line[f->i] = (unsigned char)(f->line[f->i] - 'a' + 'A');
        AWAIT(asyncio_stream_awrite(&s, f->line, f->n)); /* write + drain */
    }
    ASYNC_END;
}

int main(void)
{
    static asyncio_task task;
    static struct echo frame;
    int err = asyncio_openmv_uart_init(&uart, UART_INDEX, 115200, rx_ring, sizeof rx_ring, tx_ring,
                                       sizeof tx_ring);
    if (err)
        return 1;
    uart_echo_board_irqs(ASYNCIO_OPENMV_UART_RX_IRQ(UART_INDEX),
                         ASYNCIO_OPENMV_UART_TX_IRQ(UART_INDEX));
    asyncio_stream_init(&s, rbuf, sizeof rbuf, wbuf, sizeof wbuf);
    if (asyncio_stream_open(&s, &uart.base) != 0)
        return 1;
    err = asyncio_run(&task, asyncio_coro_init(&frame.co, echo_fn), NULL);
    asyncio_stream_close(&s);
    return err == 0 ? 0 : 1;
}
