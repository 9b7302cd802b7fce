# SPDX-License-Identifier: MIT
# tests/sync.mk -- ThreadSanitizer runs: ThreadSafeFlag sets from another
# thread and from signal handlers while the loop blocks in the port's wait,
# and the loop's thread checks (test_thread.c, a plain pthread program: it
# also runs in the gcc build, in test-plain).
# Included by the main Makefile.
#
# Criterion cannot start under TSan (Snaipe/Criterion#274), so these suites
# are built with -DFLAG_TEST_NO_CRITERION: a small built-in runner (one
# forked child per test, as Criterion does) replaces the Criterion macros.
VARIANTS          += tsan
VARIANT_CC_tsan    := clang
VARIANT_FLAGS_tsan := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
TSAN_SUITES := test_flag test_thread test_isr_queue
TSAN_BINS   := $(addprefix $(BUILD)/tsan/nocriterion/,$(TSAN_SUITES))
PLAIN_BINS  := $(patsubst tests/%.c,$(BUILD)/gcc/plain/%,$(PLAIN_TESTS))

$(BUILD)/gcc/plain/%: tests/%.c $(BUILD)/gcc/libasyncio.a | deps
	@mkdir -p $(dir $@)
	gcc $(STD) $(WARN) $(TEST_DEFS) $(VARIANT_FLAGS_gcc) -I. -Itests $< $(BUILD)/gcc/libasyncio.a \
	    -o $@ $(TLS_LIBS) -lpthread

.PHONY: test-plain
test-plain: $(PLAIN_BINS)
	@set -e; for t in $(PLAIN_BINS); do echo "== $$t"; $$t; done

$(BUILD)/tsan/nocriterion/%: tests/%.c tests/trace.h tests/nocriterion.h $(BUILD)/tsan/libasyncio.a | deps
	@mkdir -p $(dir $@)
	clang $(STD) $(WARN) $(TEST_DEFS) $(VARIANT_FLAGS_tsan) -DFLAG_TEST_NO_CRITERION -I. -Itests $< \
	    $(BUILD)/tsan/libasyncio.a -o $@ $(TLS_LIBS) -lpthread

# test_thread.c is a plain pthread program (no Criterion): two asyncio_run
# on two threads, and the ASYNCIO_CHECK_THREAD check.
$(BUILD)/tsan/tests/test_thread: tests/test_thread.c $(CORE)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(STD) $(WARN) $(TSAN_FLAGS) -DASYNCIO_CHECK_THREAD -I. $< port_posix.c -o $@ -lpthread

# The interrupt-safe queue: 100,000 puts from a thread and from a signal
# handler, and overflow under a racing producer (tests/nocriterion.h runner).
$(BUILD)/tsan/tests/test_isr_queue: tests/test_isr_queue.c tests/nocriterion.h $(CORE) tests/trace.h
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(STD) $(WARN) $(TSAN_FLAGS) -I. -Itests $< port_posix.c -o $@ -lpthread

# Any TSan report aborts that test's child, which the runner counts as a
# failure (non-zero exit).
.PHONY: test-tsan
test-tsan: $(TSAN_BINS)
	@set -e; for t in $(TSAN_BINS); do echo "== $$t"; \
	  TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 $(TSAN_OPTIONS)" $$t; done

TEST_TARGETS += test-tsan test-plain
