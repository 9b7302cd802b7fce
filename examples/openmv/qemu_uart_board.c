/* SPDX-License-Identifier: MIT */
/*
 * qemu_uart_board.c -- the "board" for uart_echo under qemu (mps2-an500):
 * tests/arm/rt.c dispatches external interrupts through a table rather than
 * by vector name, so the UART's two vectors are routed here, then enabled.
 */
#include "port_openmv.h"
#include "rt.h"

void UART0RX_Handler(void);
void UART0TX_Handler(void);
void uart_echo_board_irqs(unsigned rx_irq, unsigned tx_irq);

void uart_echo_board_irqs(unsigned rx_irq, unsigned tx_irq)
{
    rt_irq_set(rx_irq, UART0RX_Handler);
    rt_irq_set(tx_irq, UART0TX_Handler);
    rt_irq_priority(rx_irq, 0x80); /* one priority for both */
    rt_irq_priority(tx_irq, 0x80);
    rt_irq_enable(rx_irq);
    rt_irq_enable(tx_irq);
}
