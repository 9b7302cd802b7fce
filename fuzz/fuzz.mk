# SPDX-License-Identifier: MIT
# fuzz/fuzz.mk -- libFuzzer harnesses (clang, with ASan and UBSan).
# Included by the main Makefile:   -include fuzz/fuzz.mk
#
#   make fuzz [FUZZ_SECONDS=60]   build both harnesses, run each that long
#   make fuzz-ci                  the same, 20 s each (part of make test)
#
# Each run starts from the seeds in fuzz/corpus/<name>/ and grows a working
# corpus in build/fuzz/corpus-<name>/ (the seeds are never modified). One
# process per fuzzer (in-process mode, no -jobs). A crash leaves its input in
# build/fuzz/crash-<name>-*; replay it with build/fuzz/fuzz_<name> <file>.
# Inputs in fuzz/regressions/<name>/ (past findings) are replayed first.
# libFuzzer ships with Debian's clang runtime (libclang-rt-14-dev).
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := scheduler stream write
FUZZ_BINS    := $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_NAMES))

# The library the stream harness links: instrumented, without libFuzzer's main.
VARIANTS              += fuzzlib
VARIANT_CC_fuzzlib    := $(FUZZ_CC)
VARIANT_FLAGS_fuzzlib := $(subst fuzzer,fuzzer-no-link,$(FUZZ_FLAGS))

# The scheduler harness compiles the core itself (with its own port); the
# stream harness links the library (core, streams, POSIX port).
$(BUILD)/fuzz/fuzz_scheduler: fuzz/fuzz_scheduler.c fuzz/fuzz.h asyncio.h | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) -I. $< -o $@

$(BUILD)/fuzz/fuzz_stream $(BUILD)/fuzz/fuzz_write: $(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h \
        tests/memtransport.h $(BUILD)/fuzzlib/libasyncio.a | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(TEST_DEFS) $(FUZZ_FLAGS) -I. $< $(BUILD)/fuzzlib/libasyncio.a \
	    -o $@ $(TLS_LIBS)

# $(call fuzz_run,seconds)
define fuzz_run
	@set -e; for n in $(FUZZ_NAMES); do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	  for r in fuzz/regressions/$$n/*; do [ -f "$$r" ] || continue; \
	    $(BUILD)/fuzz/fuzz_$$n -timeout=10 "$$r" >$(BUILD)/fuzz/replay_$$n.log 2>&1 \
	      || { grep -a -m3 -E 'broken|ERROR' $(BUILD)/fuzz/replay_$$n.log; \
	           echo "FAIL fuzz_$$n: regression $$r"; exit 1; }; done; \
	  echo "== fuzz_$$n: $(1) s"; \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(1) -print_final_stats=1 \
	    -timeout=10 -rss_limit_mb=1024 -artifact_prefix=$(BUILD)/fuzz/crash-$$n- \
	    $(BUILD)/fuzz/corpus-$$n fuzz/corpus/$$n 2>$(BUILD)/fuzz/fuzz_$$n.log \
	  || { tail -40 $(BUILD)/fuzz/fuzz_$$n.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^stat::new_units_added' $(BUILD)/fuzz/fuzz_$$n.log; \
	done
endef

.PHONY: fuzz fuzz-build fuzz-ci
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-ci: $(FUZZ_BINS)
	$(call fuzz_run,20)

TEST_TARGETS += fuzz-ci
