/* SPDX-License-Identifier: MIT */
/*
 * openmv.h -- what the Cortex-M tests add to the OpenMV port. The port's own
 * extras (frame flag, LED and report hooks...) are declared in port_openmv.h.
 */
#ifndef OPENMV_H
#define OPENMV_H

#include "port_openmv.h"

/* Test hook: test_irq.c builds the port with
 * -DASYNCIO_OPENMV_BEFORE_WFI()=test_before_wfi() */
void test_before_wfi(void);

#endif
