# SPDX-License-Identifier: MIT
# tests/check.mk -- sanitizers and memcheck.   Included by the Makefile.
#
#   make check-asan      every tests/test_*.c under clang ASan + UBSan
#                        (build/asan/), run (Criterion forks per test: fine)
#   make check-valgrind  valgrind memcheck of every example that runs with
#                        --virtual (those with an examples/<name>.expected),
#                        and of every host suite (the gcc build), following
#                        Criterion's workers: any memcheck error or definite
#                        leak in a test fails it
#   make check           check-asan + test-tsan (tests/sync.mk) + check-valgrind
VARIANTS          += asan
VARIANT_CC_asan    := clang
VARIANT_FLAGS_asan := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
                      -fno-omit-frame-pointer
ASAN_BINS  := $(patsubst tests/%.c,$(BUILD)/asan/tests/%,$(TEST_SRCS))

# Leak checking stays on (a report fails that test), except for what
# Criterion's own runner keeps when a test fails. Every binary runs; the
# target fails at the end if any did.
# How the ASan builds run (here and in test-faults).
ASAN_SUPP := $(BUILD)/asan/lsan.supp
ASAN_RUN_ENV = ASAN_OPTIONS="abort_on_error=1:detect_leaks=1 $(ASAN_OPTIONS)" \
	LSAN_OPTIONS="suppressions=$(CURDIR)/$(ASAN_SUPP):print_suppressions=0" \
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1 $(UBSAN_OPTIONS)"
$(ASAN_SUPP):
	@mkdir -p $(dir $@)
	@printf 'leak:libcriterion.so\n' >$@

.PHONY: check check-asan check-valgrind
check-asan: $(ASAN_BINS) $(ASAN_SUPP)
	@$(ASAN_RUN_ENV) bash tools/run_suites.sh $(ASAN_BINS)

VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all
check-valgrind: $(addprefix $(BUILD)/examples/,$(EXAMPLE_RUN))
	@set -e; for n in $(EXAMPLE_RUN); do echo "== valgrind examples/$$n --virtual"; \
	  $(VALGRIND) $(BUILD)/examples/$$n --virtual >$(BUILD)/examples/$$n.vg.out 2>&1 \
	    || { cat $(BUILD)/examples/$$n.vg.out; exit 1; }; \
	  diff -u examples/$$n.expected $(BUILD)/examples/$$n.vg.out; done

# Every Criterion worker runs under memcheck (--trace-children: Criterion
# starts one process per test). A worker has reported its test before its
# exit-time leak check, so the exit code is not enough: with -q valgrind
# prints nothing but errors, and any "==pid==" line fails the suite. One
# job at a time, 300 s per test. The two tests that measure the process
# itself (CPU time, RLIMIT_NOFILE) skip here (tests/trace.h). ~9 minutes.
VG_SUITES := $(patsubst tests/%.c,$(BUILD)/gcc/tests/%,$(TEST_SRCS))
VG_SUITE  := valgrind -q --trace-children=yes --error-exitcode=97 --leak-check=full \
             --errors-for-leak-kinds=definite --show-leak-kinds=definite
.PHONY: check-valgrind-suites
check-valgrind-suites: $(VG_SUITES)
	@fail=""; for t in $(VG_SUITES); do echo "== valgrind $$t"; \
	  ASYNCIO_UNDER_VALGRIND=1 $(VG_SUITE) $$t --jobs 1 --timeout 300 >$$t.vg.log 2>&1; rc=$$?; tail -n 1 $$t.vg.log; \
	  if [ $$rc -ne 0 ] || ! grep -qE 'Tested: [1-9]' $$t.vg.log || grep -qE '^==[0-9]+==' $$t.vg.log; then \
	    grep -E '^==[0-9]+==|FAIL' $$t.vg.log | head -30; fail="$$fail $$t"; fi; done; \
	if [ -n "$$fail" ]; then echo "check-valgrind-suites: failed:$$fail" >&2; exit 1; fi

check-valgrind: check-valgrind-suites

check: check-asan test-tsan check-valgrind

TEST_TARGETS += check
