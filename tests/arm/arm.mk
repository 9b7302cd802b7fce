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
# qemu's mps2 boards clock the core (and SysTick) at 25 MHz.
ARM_QEMU    := -DASYNCIO_OPENMV_CORE_HZ=25000000u -I. -Itests/arm
ARM_LDFLAGS := -nostdlib -T tests/arm/mps2.ld -Wl,--gc-sections
ARM_LIBS    := -lgcc
# The runtime implements memcpy & co.: keep gcc from turning them into calls.
ARM_RT_FLAGS := -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns
ARM_DEPS    := asyncio.h port_openmv.c tests/arm/openmv.h tests/arm/rt.h tests/arm/say.h tests/arm/mps2.ld \
               tests/arm/arm.mk

# ---- images: tests and examples (name, sources, defines, expected output) ----
# basic      tasks, sleeps, Event, Lock, gather, wait_for, cancel; the tick
#            starts 256 ms before 2^32 so the run crosses the wrap
# basic_ext  the same with ASYNCIO_OPENMV_EXTERNAL_TICK (the firmware's tick)
# irq        NVIC-pended frame interrupt -> ThreadSafeFlag -> task, and the
#            interrupt-just-before-WFI race
# irq_lose   the race with a deliberately naive idle path: must hang (124)
# blink      examples/openmv/blink.c, output as the host's examples/blink.expected
# isr_queue  an NVIC-pended interrupt (paced by SysTick) puts 100,000 numbers
#            into an interrupt-safe queue; then the task stalls: overflow
ARM_IMAGES := basic basic_ext irq irq_lose blink isr_queue
ARM_IRQ_PORT := -DASYNCIO_OPENMV_SYSTICK_HANDLER=asyncio_openmv_systick_unused \
                '-DASYNCIO_OPENMV_BEFORE_WFI()=test_before_wfi()'

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
ARM_SRC_isr_queue  := tests/arm/test_isr_queue.c
ARM_PORT_isr_queue := $(ARM_IRQ_PORT)
ARM_EXP_isr_queue  := tests/arm/test_isr_queue.expected

# Also run on the host's clock (no -icount): checks and exit status only.
ARM_REALTIME := basic irq
ARM_REALTIME += isr_queue

ARM_ELFS := $(foreach i,$(ARM_IMAGES),$(ARM_BUILD)/$(i).elf)
ARM_LIB  := $(foreach c,$(ARM_CPUS),$(ARM_BUILD)/lib/$(c)/port_openmv.o $(ARM_BUILD)/lib/$(c)/core.o)

.PHONY: arm test-arm size

arm: $(ARM_LIB) $(ARM_ELFS)

# The library: the port (with the core inside) for Cortex-M7, and the core
# alone for every CPU (ARMv6-M has no atomic exchange: the core then uses the
# port's critical section; this checks that it compiles).
$(ARM_BUILD)/lib/%/port_openmv.o: port_openmv.c asyncio.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_FLAGS_$*) $(ARM_CFLAGS) -c $< -o $@

$(ARM_BUILD)/lib/%/core.o: tests/arm/core_only.c asyncio.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_FLAGS_$*) $(ARM_CFLAGS) -I. -c $< -o $@

$(ARM_BUILD)/rt.o: tests/arm/rt.c tests/arm/rt.h tests/arm/arm.mk | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_RT_FLAGS) -c $< -o $@

# One image: the port built with the image's defines (and openmv.h forced in,
# so its declarations and the port's must agree), the program, the runtime.
define arm_image
$(ARM_BUILD)/$(1).elf: $(ARM_SRC_$(1)) $(ARM_BUILD)/rt.o $(ARM_DEPS) | deps
	@mkdir -p $$(dir $$@)
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_QEMU) -include tests/arm/openmv.h $(ARM_PORT_$(1)) \
	    -c port_openmv.c -o $(ARM_BUILD)/$(1)-port.o
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) $(ARM_QEMU) $(ARM_DEFS_$(1)) $(ARM_SRC_$(1)) \
	    $(ARM_BUILD)/$(1)-port.o $(ARM_BUILD)/rt.o $(ARM_LDFLAGS) $(ARM_LIBS) -o $$@
endef
$(foreach i,$(ARM_IMAGES),$(eval $(call arm_image,$(i))))

test-arm: arm
	@set -e; $(foreach i,$(ARM_IMAGES),sh tests/arm/run.sh $(ARM_BUILD)/$(i).elf \
	    $(ARM_EXP_$(i)) $(or $(ARM_STATUS_$(i)),0);)
	@set -e; $(foreach i,$(ARM_REALTIME),sh tests/arm/run.sh --realtime $(ARM_BUILD)/$(i).elf -;)
	@echo "test-arm: all passed"

# ---- size ----
$(ARM_BUILD)/size/core.o: tests/arm/core_only.c asyncio.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -ffunction-sections -fdata-sections -I. -c $< -o $@

$(ARM_BUILD)/size/port_openmv.o: port_openmv.c asyncio.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -ffunction-sections -fdata-sections -c $< -o $@

$(ARM_BUILD)/size/sizes.o: tests/arm/sizes.c asyncio.h asyncio_stream.h | deps
	@mkdir -p $(dir $@)
	$(ARM_CC) $(ARM_M7) $(STD) $(WARN) -Os -I. -c $< -o $@

size: $(ARM_BUILD)/size/core.o $(ARM_BUILD)/size/port_openmv.o $(ARM_BUILD)/size/sizes.o
	@echo "Cortex-M7 (-mthumb, hard float), -Os, arm-none-eabi-gcc:"
	@$(ARM_SIZE) $(ARM_BUILD)/size/core.o $(ARM_BUILD)/size/port_openmv.o | \
	    sed -e 's|$(ARM_BUILD)/size/core.o|core alone (asyncio.h)|' \
	        -e 's|$(ARM_BUILD)/size/port_openmv.o|core + port_openmv.c|'
	@echo "sizes on 32-bit ARM (bytes):"
	@$(ARM_NM) -S $(ARM_BUILD)/size/sizes.o | while read addr size type name; do \
	    printf '  sizeof(%s) = %d\n' "$${name#sizeof_}" "0x$$size"; done

TEST_TARGETS += test-arm
