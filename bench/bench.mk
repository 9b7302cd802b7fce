# SPDX-License-Identifier: MIT
# `make bench`: speed, memory and size against peers measured in the same run.
BENCH := $(BUILD)/bench

.PHONY: bench bench-deps
bench-deps:
	@bash tools/deps.sh bench

# The programs link a release build of the library: gcc -O2, the streams
# with TLS, none of the test builds' debug checks.
VARIANTS          += rel
VARIANT_CC_rel    := gcc
VARIANT_FLAGS_rel := -O2
VARIANT_DEFS_rel  := -DASYNCIO_STREAM_TLS
BENCH_LIB := $(BUILD)/rel/libasyncio.a
$(BENCH)/bench: bench/bench.c $(BENCH_LIB)
	@mkdir -p $(dir $@)
	gcc $(STD) $(WARN) $(VARIANT_DEFS_rel) -O2 -I. $< $(BENCH_LIB) -o $@ $(TLS_LIBS) -lpthread
$(BENCH)/echo_server: bench/echo_server.c $(BENCH_LIB)
	@mkdir -p $(dir $@)
	gcc $(STD) $(WARN) $(VARIANT_DEFS_rel) -O2 -I. $< $(BENCH_LIB) -o $@ $(TLS_LIBS) -lpthread
$(BENCH)/echo_load: bench/echo_load.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 $< -o $@
$(BENCH)/uv_%: bench/uv_%.c
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -O2 $< -o $@ -luv
# Struct sizes on the host (the ARM ones come from tests/arm/arm.mk's `size`).
$(BENCH)/sizes.o: tests/arm/sizes.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) -I. -c $< -o $@
# The core as a minimal application carries it: linked with --gc-sections.
$(BENCH)/size_min.elf: bench/size_min.c asyncio.h
	@mkdir -p $(dir $@)
	arm-none-eabi-gcc $(STD) $(WARN) $(ARM_M7) -Os -ffunction-sections -fdata-sections -I. $< \
	  -nostdlib -Wl,--gc-sections -Wl,-e,size_min_entry -lgcc -o $@

bench: bench-deps $(BENCH)/bench $(BENCH)/uv_timers $(BENCH)/echo_server $(BENCH)/uv_echo \
       $(BENCH)/echo_load $(BENCH)/sizes.o $(BENCH)/size_min.elf \
       $(ARM_BUILD)/size/sizes.o $(ARM_BUILD)/size/core.o
	BENCH_BUILD=$(BENCH) ARM_SIZE_DIR=$(ARM_BUILD)/size python3 bench/run.py
