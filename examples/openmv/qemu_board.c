/* SPDX-License-Identifier: MIT */
/*
 * qemu_board.c -- the "board" for running the OpenMV examples under qemu
 * (mps2-an500): the LED and log hooks print, stamped with the port's
 * millisecond clock in the host examples' format.
 */
#include "port_openmv.h"
#include "rt.h"

void blink_log(const char *what);

static void stamp(void)
{
    uint32_t ms = asyncio_ticks_ms(); /* the port's tick starts at 0 */
    rt_printf("[%2u.%03u] ", (unsigned)(ms / 1000u), (unsigned)(ms % 1000u));
}

void asyncio_openmv_led(int led, int on)
{
    stamp();
    rt_printf("LED%d %s\n", led, on ? "on" : "off");
}

void blink_log(const char *what)
{
    stamp();
    rt_printf("%s\n", what);
}
