# SPDX-License-Identifier: MIT
# bench/bench_arm.mk -- `make bench-arm`: the Cortex-M7 port's idle wake-ups
# and latency paths, counted under qemu-system-arm -M mps2-an500. Included
# by the Makefile after tests/arm/arm.mk (uses its ARM_* variables).
#
# Prints, for -O2 and then -Os (medians, Cortex-M7, arm-none-eabi-gcc; the
# core compiled into the port's unit, as the README recommends for a camera):
#   idle_wakeups_per_10s N      interrupts taken while every task sleeps 10 s
#                               (tests/arm/test_tickless.c, phase 1)
#   isr_to_task_instructions N  timer IRQ vector -> first instruction of the
#                               woken task's body (tests/arm/bench_lat.c)
#   yield_instructions N        YIELD -> YIELD between two tasks
# Instructions are counted from qemu's `-singlestep -d exec,nochain` trace
# (one line per executed instruction) by bench/bench_arm.py.

ARM_BENCH     := $(ARM_BUILD)/bench
ARM_BENCH_OPT := O2 Os
ARM_BENCH_QEMU := qemu-system-arm -M mps2-an500 -nographic -monitor none \
                  -semihosting-config enable=on,target=native
ARM_BENCH_IDLE_PORT := -DASYNCIO_OPENMV_TICKS_START=0xFFFFEC78u \
                       '-DASYNCIO_OPENMV_BEFORE_WFI()=test_before_wfi()'

.PHONY: bench-arm

# name, -O level, sources, port defines, and the core: empty for the camera
# build the README recommends (the core compiled into the port's unit,
# -DASYNCIO_IMPLEMENTATION on port_openmv.c, so the interrupt path inlines
# across the two), else the core's object, compiled in a unit of its own.
define arm_bench_image
$(ARM_BENCH)/$(1)-$(2).elf: $(3) $(ARM_BUILD)/rt.o $(5) $(ARM_DEPS) bench/bench_arm.mk | deps
	@mkdir -p $$(dir $$@)
	$(ARM_CC) $(ARM_M7) $(filter-out -O2,$(ARM_CFLAGS)) -$(2) $(ARM_QEMU) -include tests/arm/openmv.h \
	    $(4) $(if $(5),,-DASYNCIO_IMPLEMENTATION) -c port_openmv.c -o $(ARM_BENCH)/$(1)-$(2)-port.o
	$(ARM_CC) $(ARM_M7) $(filter-out -O2,$(ARM_CFLAGS)) -$(2) $(ARM_QEMU) $(3) \
	    $(ARM_BENCH)/$(1)-$(2)-port.o $(5) $(ARM_BUILD)/rt.o $(ARM_LDFLAGS) $(ARM_LIBS) -o $$@
endef
$(foreach o,$(ARM_BENCH_OPT),$(eval $(call arm_bench_image,lat,$(o),tests/arm/bench_lat.c,)))
$(foreach o,$(ARM_BENCH_OPT),$(eval $(call arm_bench_image,idle,$(o),tests/arm/test_tickless.c,$(ARM_BENCH_IDLE_PORT))))
# For comparison: the latency image with the core in a unit of its own
# (src/asyncio.c at -O2: tests/arm's core.o), as the packages build it.
$(eval $(call arm_bench_image,lat-split,O2,tests/arm/bench_lat.c,,$(ARM_BUILD)/core.o))

# $(1): image (without .elf). Runs it under the instruction trace and prints
# its two counts (prefixed by $(2)).
define arm_bench_lat
	$(ARM_BENCH_QEMU) -singlestep -d exec,nochain -D $(ARM_BENCH)/$(1).log \
	    -kernel $(ARM_BENCH)/$(1).elf </dev/null >$(ARM_BENCH)/$(1).out 2>&1; \
	grep -q '^PASS' $(ARM_BENCH)/$(1).out; \
	python3 bench/bench_arm.py lat $(ARM_BENCH)/$(1).elf $(ARM_BENCH)/$(1).log | sed 's/^/$(2)/'; \
	rm -f $(ARM_BENCH)/$(1).log;
endef

bench-arm: $(foreach o,$(ARM_BENCH_OPT),$(ARM_BENCH)/lat-$(o).elf $(ARM_BENCH)/idle-$(o).elf) \
           $(ARM_BENCH)/lat-split-O2.elf
	@set -e; for o in $(ARM_BENCH_OPT); do \
	  echo "# Cortex-M7 -$$o, $$($(ARM_CC) --version | head -n 1), core and port in one unit"; \
	  $(ARM_BENCH_QEMU) -icount shift=5,sleep=off -kernel $(ARM_BENCH)/idle-$$o.elf \
	      </dev/null >$(ARM_BENCH)/idle-$$o.out 2>&1; \
	  python3 bench/bench_arm.py idle $(ARM_BENCH)/idle-$$o.out; \
	  $(call arm_bench_lat,lat-$$o,) \
	done
	@echo "# Cortex-M7 -O2, the core in a unit of its own (src/asyncio.c):"
	@set -e; $(call arm_bench_lat,lat-split-O2,# )
