# SPDX-License-Identifier: MIT
# tests/arm/arm.mk -- the Cortex-M port under qemu. Included by the Makefile
# (which defines STD, WARN, BUILD).
#
#   make arm        the port (core + port_openmv.c) for Cortex-M7, the core
#                   also for Cortex-M0+ and Cortex-M4, the qemu test images
#                   and the OpenMV examples
#   make test-arm   run the images under qemu-system-arm -M mps2-an500 and
#                   check their output and exit status
#   make size       .text/.data/.bss of the core at -Os on Cortex-M7, and the
#                   sizes of the public structs on 32-bit ARM

ARM_CC      := arm-none-eabi-gcc
ARM_SIZE    := arm-none-eabi-size
ARM_NM      := arm-none-eabi-nm
ARM_BUILD   := $(BUILD)/arm
ARM_CPUS    := cortex-m7 cortex-m4 cortex-m0plus
ARM_FLAGS_cortex-m7     := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16
ARM_FLAGS_cortex-m4     := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
ARM_FLAGS_cortex-m0plus := -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
ARM_M7      := $(ARM_FLAGS_cortex-m7)
ARM_CFLAGS  := $(STD) $(WARN) -O2 -g -ffunction-sections -fdata-sections
# ThreadSafeFlags are set on the loop's own core only, as on a camera: every
# file of an image is compiled so (the flag's inline resume path is in the
# user's coroutines). qemu's mps2 boards clock the core (and SysTick) at 25 MHz.
ARM_CORE_DEFS := -DASYNCIO_SINGLE_CORE
ARM_QEMU    := -DASYNCIO_OPENMV_CORE_HZ=25000000u $(ARM_CORE_DEFS) -I. -Itests/arm
ARM_LDFLAGS := -nostdlib -T tests/arm/mps2.ld -Wl,--gc-sections
ARM_LIBS    := -lgcc
# The runtime implements memcpy & co.: keep gcc from turning them into calls.
ARM_RT_FLAGS := -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns
ARM_DEPS    := asyncio.h asyncio_stream.h port_openmv.c port_openmv.h tests/arm/openmv.h \
               tests/arm/rt.h tests/arm/say.h tests/arm/mps2.ld tests/arm/arm.mk

# ---- images: tests and examples (name, sources, defines, expected output) ----
# basic      tasks, sleeps, Event, Lock, gather, wait_for, cancel; the tick
#            starts 256 ms before 2^32 so the run crosses the wrap
# basic_ext  the same with ASYNCIO_OPENMV_EXTERNAL_TICK (the firmware's tick)
# irq        NVIC-pended frame interrupt -> ThreadSafeFlag -> task, and the
#            interrupt-just-before-WFI race
# irq_lose   the race with a deliberately naive idle path: must hang (124)
# blink      examples/openmv/blink.c, output as the host's examples/blink.expected
# tickless   tickless idle: 10 s sleeps across the wrap, an unrelated
#            interrupt and a frame mid-sleep, the clock against a CMSDK timer
# irq_basepri, irq_lose_basepri
#            irq and irq_lose with BASEPRI critical sections (0x40): the race
#            must still be closed (and the naive port still hang), and an
#            urgent interrupt runs inside a critical section
# basic_basepri, tickless_basepri
#            basic and tickless with BASEPRI critical sections
# tickless_ref  tickless with SysTick on the board's 1 MHz reference clock
# isr_queue  an NVIC-pended interrupt (paced by SysTick) puts 100,000 numbers
#            into an interrupt-safe queue; then the task stalls: overflow
# dump       the task dump (asyncio_dump_tasks) through semihosting, the core
#            built with ASYNCIO_DEBUG (ARM_CORE_dump)
ARM_IMAGES := basic basic_ext irq irq_lose blink tickless irq_basepri irq_lose_basepri \
              basic_basepri tickless_basepri tickless_ref isr_queue dump
# uart       a stream over the UART transport (ASYNCIO_OPENMV_UART) with UART0
#            on a host socket: 1 MiB echoed each way, an RX ring overflow
#            reported (ARM_HOST_IMAGES: tests/arm/run_uart.py is the peer)
# uart_echo  examples/openmv/uart_echo.c, lines echoed upper-cased over the
#            same host socket (run_uart.py --example)
ARM_HOST_IMAGES := uart uart_echo
ARM_HOST_RUN_uart      := python3 tests/arm/run_uart.py
ARM_HOST_RUN_uart_echo := python3 tests/arm/run_uart.py --example
# (its camera runs off a 1 ms SysTick: built without tickless idle)
ARM_IRQ_PORT := -DASYNCIO_OPENMV_SYSTICK_HANDLER=asyncio_openmv_systick_unused \
                '-DASYNCIO_OPENMV_BEFORE_WFI()=test_before_wfi()' -DASYNCIO_OPENMV_TICKLESS=0

ARM_SRC_basic      := tests/arm/test_basic.c
ARM_PORT_basic     := -DASYNCIO_OPENMV_TICKS_START=0xFFFFFF00u
ARM_EXP_basic      := tests/arm/test_basic.expected
ARM_SRC_basic_ext  := tests/arm/test_basic.c
ARM_DEFS_basic_ext := -DASYNCIO_OPENMV_EXTERNAL_TICK
ARM_PORT_basic_ext := -DASYNCIO_OPENMV_EXTERNAL_TICK
ARM_EXP_basic_ext  := tests/arm/test_basic.expected
ARM_SRC_irq        := tests/arm/test_irq.c
ARM_PORT_irq       := $(ARM_IRQ_PORT)
ARM_EXP_irq        := tests/arm/test_irq.expected
ARM_SRC_irq_lose   := tests/arm/test_irq.c
ARM_DEFS_irq_lose  := -DLOSE_WAKE
ARM_PORT_irq_lose  := $(ARM_IRQ_PORT)
ARM_EXP_irq_lose   := tests/arm/test_irq_lose.expected
ARM_STATUS_irq_lose := 124
ARM_SRC_blink      := examples/openmv/blink.c examples/openmv/qemu_board.c
ARM_EXP_blink      := examples/blink.expected
ARM_SRC_tickless   := tests/arm/test_tickless.c
ARM_PORT_tickless  := -DASYNCIO_OPENMV_TICKS_START=0xFFFFEC78u \
                      '-DASYNCIO_OPENMV_BEFORE_WFI()=test_before_wfi()'
ARM_EXP_tickless   := tests/arm/test_tickless.expected
ARM_BASEPRI        := -DASYNCIO_OPENMV_BASEPRI=0x40
ARM_SRC_irq_basepri  := tests/arm/test_irq.c
ARM_DEFS_irq_basepri := $(ARM_BASEPRI)
ARM_PORT_irq_basepri := $(ARM_IRQ_PORT) $(ARM_BASEPRI)
ARM_EXP_irq_basepri  := tests/arm/test_irq_basepri.expected
ARM_SRC_basic_basepri  := tests/arm/test_basic.c
ARM_PORT_basic_basepri := -DASYNCIO_OPENMV_TICKS_START=0xFFFFFF00u $(ARM_BASEPRI)
ARM_EXP_basic_basepri  := tests/arm/test_basic.expected
ARM_SRC_tickless_basepri  := tests/arm/test_tickless.c
ARM_PORT_tickless_basepri := $(ARM_PORT_tickless) $(ARM_BASEPRI)
ARM_EXP_tickless_basepri  := tests/arm/test_tickless.expected
ARM_SRC_tickless_ref  := tests/arm/test_tickless.c
ARM_PORT_tickless_ref := $(ARM_PORT_tickless) -DASYNCIO_OPENMV_SYSTICK_REF_HZ=1000000u
ARM_EXP_tickless_ref  := tests/arm/test_tickless_ref.expected
ARM_SRC_irq_lose_basepri  := tests/arm/test_irq.c
ARM_DEFS_irq_lose_basepri := -DLOSE_WAKE $(ARM_BASEPRI)
ARM_PORT_irq_lose_basepri := $(ARM_IRQ_PORT) $(ARM_BASEPRI)
ARM_EXP_irq_lose_basepri  := tests/arm/test_irq_lose_basepri.expected
ARM_STATUS_irq_lose_basepri := 124
ARM_SRC_uart       := tests/arm/test_uart.c
ARM_DEFS_uart      := -DASYNCIO_OPENMV_UART
ARM_PORT_uart      := -DASYNCIO_OPENMV_UART
ARM_OBJS_uart      := $(ARM_BUILD)/stream.o
ARM_SRC_uart_echo  := examples/openmv/uart_echo.c examples/openmv/qemu_uart_board.c
ARM_DEFS_uart_echo := -DASYNCIO_OPENMV_UART
ARM_PORT_uart_echo := -DASYNCIO_OPENMV_UART
ARM_OBJS_uart_echo := $(ARM_BUILD)/stream.o
ARM_SRC_dump       := tests/arm/test_dump.c
ARM_DEFS_dump      := -DASYNCIO_DEBUG
ARM_PORT_dump      := -DASYNCIO_DEBUG
ARM_CORE_dump      := $(ARM_BUILD)/core-debug.o
ARM_EXP_dump       := tests/arm/test_dump.expected

# Also run on the host's clock (no -icount): checks and exit status only.
ARM_REALTIME := basic irq irq_basepri
ARM_SRC_isr_queue  := tests/arm/test_isr_queue.c
ARM_PORT_isr_queue := $(ARM_IRQ_PORT)
ARM_EXP_isr_queue  := tests/arm/test_isr_queue.expected

ARM_REALTIME += isr_queue

ARM_ELFS := $(foreach i,$(ARM_IMAGES) $(ARM_HOST_IMAGES),$(ARM_BUILD)/$(i).elf)
ARM_LIB  := $(foreach c,$(ARM_CPUS),$(ARM_BUILD)/lib/$(c)/port_openmv.o $(ARM_BUILD)/lib/$(c)/core.o)

.PHONY: arm test-arm size

arm: $(ARM_LIB) $(ARM_ELFS)

# The library: the port (with its UART transport) for every CPU, and the core
# alone for every CPU (ARMv6-M has no atomic exchange: the core then uses the
# port's critical section; this checks that it compiles).
$(ARM_BUILD)/lib/%/port_openmv.o: port_openmv.c port_openmv.h asyncio.h asyncio_stream.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_FLAGS_$*) $(ARM_CFLAGS) -DASYNCIO_OPENMV_UART -c $< -o $@

$(ARM_BUILD)/lib/%/core.o: tests/arm/core_only.c asyncio.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_FLAGS_$*) $(ARM_CFLAGS) -I. -c $< -o $@

$(ARM_BUILD)/rt.o: tests/arm/rt.c tests/arm/rt.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_RT_FLAGS) -c $< -o $@

# The core, compiled once for every image (src/asyncio.c: its own unit), as
# a camera firmware would.
$(ARM_BUILD)/core.o: src/asyncio.c asyncio.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_QEMU) -c $< -o $@

# The streams without sockets (ASYNCIO_STREAM_SOCKETS is 0 off Unix), for the
# images that use the UART transport.
$(ARM_BUILD)/stream.o: src/asyncio_stream.c asyncio_stream.h asyncio.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_QEMU) -c $< -o $@
# The same with the debugging aids (the task dump), for the images that use them.
$(ARM_BUILD)/core-debug.o: src/asyncio.c asyncio.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_QEMU) -DASYNCIO_DEBUG -c $< -o $@

# The camera build the README recommends compiles the core into the port's
# unit (port_openmv.c with -DASYNCIO_IMPLEMENTATION): the interrupt path
# (asyncio_flag_set -> asyncio_port_wake) then inlines across the two. These
# images are built so; the others link the core compiled alone (core.o, or
# ARM_CORE_<image>), so both ways stay tested.
ARM_ONE_UNIT := irq irq_lose irq_basepri irq_lose_basepri blink tickless tickless_basepri \
                tickless_ref isr_queue uart uart_echo
# $(1): image. The core object to link (none when the port's unit has it).
arm_core_of = $(if $(filter $(1),$(ARM_ONE_UNIT)),,$(or $(ARM_CORE_$(1)),$(ARM_BUILD)/core.o))
arm_port_unit_of = $(if $(filter $(1),$(ARM_ONE_UNIT)),-DASYNCIO_IMPLEMENTATION)

# One image: the port built with the image's defines (and openmv.h forced in,
# so its declarations and the port's must agree), the program, the core
# (see ARM_ONE_UNIT), the runtime.
define arm_image
$(ARM_BUILD)/$(1).elf: $(ARM_SRC_$(1)) $(ARM_OBJS_$(1)) $(ARM_BUILD)/rt.o $(call arm_core_of,$(1)) $(ARM_DEPS) | deps
	@mkdir -p $$(dir $$@)
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_QEMU) -include tests/arm/openmv.h $(ARM_PORT_$(1)) \
	    $(call arm_port_unit_of,$(1)) -c port_openmv.c -o $(ARM_BUILD)/$(1)-port.o
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_QEMU) $(ARM_DEFS_$(1)) $(ARM_SRC_$(1)) \
	    $(ARM_BUILD)/$(1)-port.o $(ARM_OBJS_$(1)) $(call arm_core_of,$(1)) \
	    $(ARM_BUILD)/rt.o $(ARM_LDFLAGS) $(ARM_LIBS) -o $$@
endef
$(foreach i,$(ARM_IMAGES) $(ARM_HOST_IMAGES),$(eval $(call arm_image,$(i))))

test-arm: arm
	@set -e; $(foreach i,$(ARM_IMAGES),sh tests/arm/run.sh $(ARM_BUILD)/$(i).elf \
	    $(ARM_EXP_$(i)) $(or $(ARM_STATUS_$(i)),0);)
	@set -e; $(foreach i,$(ARM_REALTIME),sh tests/arm/run.sh --realtime $(ARM_BUILD)/$(i).elf -;)
	@set -e; $(foreach i,$(ARM_HOST_IMAGES),$(ARM_HOST_RUN_$(i)) $(ARM_BUILD)/$(i).elf;)
	@echo "test-arm: all passed"

# ---- size ----
$(ARM_BUILD)/size/core.o: tests/arm/core_only.c asyncio.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -ffunction-sections -fdata-sections -I. -c $< -o $@

$(ARM_BUILD)/size/port_openmv.o: port_openmv.c port_openmv.h asyncio.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -ffunction-sections -fdata-sections -c $< -o $@

$(ARM_BUILD)/size/port_openmv_uart.o: port_openmv.c port_openmv.h asyncio.h asyncio_stream.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -ffunction-sections -fdata-sections -DASYNCIO_OPENMV_UART \
	    -c $< -o $@

$(ARM_BUILD)/size/stream.o: src/asyncio_stream.c asyncio_stream.h asyncio.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -ffunction-sections -fdata-sections -I. -c $< -o $@

$(ARM_BUILD)/size/sizes.o: tests/arm/sizes.c asyncio.h asyncio_stream.h port_openmv.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -I. -c $< -o $@

SIZE_OBJS := core.o port_openmv.o port_openmv_uart.o stream.o
size: $(addprefix $(ARM_BUILD)/size/,$(SIZE_OBJS)) $(ARM_BUILD)/size/sizes.o
	@echo "Cortex-M7 (-mthumb, hard float), -Os, arm-none-eabi-gcc:"
	@$(ARM_SIZE) $(addprefix $(ARM_BUILD)/size/,$(SIZE_OBJS)) | \
	    sed -e 's|$(ARM_BUILD)/size/core.o|core alone (asyncio.h)|' \
	        -e 's|$(ARM_BUILD)/size/port_openmv.o|port_openmv.c alone|' \
	        -e 's|$(ARM_BUILD)/size/port_openmv_uart.o|port_openmv.c with its UART transport|' \
	        -e 's|$(ARM_BUILD)/size/stream.o|asyncio_stream.c (streams, no sockets)|'
	@echo "sizes on 32-bit ARM (bytes):"
	@$(ARM_NM) -S $(ARM_BUILD)/size/sizes.o | while read addr size type name; do \
	    printf '  sizeof(%s) = %d\n' "$${name#sizeof_}" "0x$$size"; done

TEST_TARGETS += test-arm
