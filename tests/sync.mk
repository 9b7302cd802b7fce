# tests/sync.mk -- ThreadSanitizer run of the ThreadSafeFlag tests (sets from
# another thread and from signal handlers, loop blocked in the port's wait)
# and of the interrupt-safe queue tests (100,000 puts from a thread and from a
# signal handler, overflow). Included by the main Makefile:
#   -include tests/sync.mk
#
# Criterion cannot start under TSan (Snaipe/Criterion#274), so test_flag.c and
# test_isr_queue.c are built with -DFLAG_TEST_NO_CRITERION: a small runner
# (one forked child per test, as Criterion does; test_flag.c's inline, the
# other's in tests/nocriterion.h) replaces the few Criterion macros used.
TSAN_CC    ?= clang
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer -DFLAG_TEST_NO_CRITERION
TSAN_BINS  := $(BUILD)/tsan/tests/test_flag $(BUILD)/tsan/tests/test_isr_queue

$(BUILD)/tsan/tests/test_flag: tests/test_flag.c $(CORE) tests/trace.h
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(STD) $(WARN) $(TSAN_FLAGS) -I. -Itests $< port_posix.c -o $@ -lpthread

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

TEST_TARGETS += test-tsan
