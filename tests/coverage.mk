# SPDX-License-Identifier: MIT
# tests/coverage.mk -- line and branch coverage of the host suites (gcc
# --coverage, -O0, gcovr).   Included by the Makefile; not part of make test.
#
#   make coverage    build the library and every host suite twice (the epoll
#                    backend: build/cov/, the poll() backend: build/covpoll/),
#                    run them, print gcovr's line and branch table per file
#                    for each backend
#
# Counters accumulate across runs: each run starts by deleting the .gcda
# files of its variant, so the table is that of this run only.
#
# Each coroutine body's resume switch (ASYNCIO_BEGIN / ASYNCIO_END) has
# cases no correct coroutine reaches: a finished frame called again, a
# corrupted resume point (ECORRUPT), a `break` out of the body (EBREAK).
# tests/test_frames_after_done.c drives every library body the tests can
# reach (all but run_forever's stopper, private to the loop) through the
# first two, and through an EBREAK unwind where the body has no FINALLY;
# test_macros.c does the `break` on a body of its own. What stays untaken
# in the library's bodies: the EBREAK test (no library body breaks), and in
# the six with a FINALLY also the default case's "leaving" test (their
# LEAVE has a case of its own) and the EBREAK value test: 1 branch per
# body, 3 with a FINALLY.
VARIANTS             += cov covpoll
VARIANT_CC_cov       := gcc
VARIANT_CC_covpoll   := gcc
VARIANT_FLAGS_cov     = -O0 -g --coverage
VARIANT_FLAGS_covpoll = -O0 -g --coverage -DASYNCIO_POSIX_POLL
COV_SUITES := $(patsubst tests/%.c,%,$(TEST_SRCS))
COV_FILTER := --filter 'asyncio\.h\Z' --filter 'asyncio_stream\.h\Z' --filter 'port_posix\.c\Z'
# The poll() backend's table holds ASYNCIO_POSIX_MAX_IO (256) descriptors:
# the thousand-connection suite is for epoll only.
COV_SUITES_cov     := $(COV_SUITES)
COV_SUITES_covpoll := $(filter-out test_stream_many,$(COV_SUITES))
# The plain programs (no Criterion: tests/test_thread.c) run as they are.
COV_PLAIN := $(patsubst tests/%.c,%,$(PLAIN_TESTS))

.PHONY: coverage coverage-deps coverage-run-cov coverage-run-covpoll
coverage-deps:
	@bash tools/deps.sh coverage

# $(1): the variant. Runs every suite (failures fail the target), then the table.
define coverage_run
coverage-run-$(1): coverage-deps $(addprefix $(BUILD)/$(1)/tests/,$(COV_SUITES_$(1)) $(COV_PLAIN))
	@find $(BUILD)/$(1) -name '*.gcda' -delete
	@set -e; for t in $(COV_PLAIN); do $(BUILD)/$(1)/tests/$$$$t >$(BUILD)/$(1)/$$$$t.log 2>&1 \
	  || { cat $(BUILD)/$(1)/$$$$t.log; exit 1; }; done
	@bash tools/run_suites.sh $(addprefix $(BUILD)/$(1)/tests/,$(COV_SUITES_$(1))) >$(BUILD)/$(1)/suites.log 2>&1 \
	  || { grep -E '^FAIL|Assert' $(BUILD)/$(1)/suites.log; exit 1; }
	@echo "== coverage, $(2): $(words $(COV_SUITES_$(1))) suites and $(words $(COV_PLAIN)) plain program passed"
	@gcovr -r . $(COV_FILTER) --exclude-unreachable-branches --json $(BUILD)/$(1)/coverage.json $(BUILD)/$(1)
	@gcovr -r . -a $(BUILD)/$(1)/coverage.json | sed -n '/^File/,$$$$p'
	@gcovr -r . -a $(BUILD)/$(1)/coverage.json -b | sed -n '/^File/,$$$$p'
endef
$(eval $(call coverage_run,cov,epoll backend))
$(eval $(call coverage_run,covpoll,poll() backend))
# One after the other: gcov writes its files in the working directory.
coverage-run-covpoll: | coverage-run-cov

coverage: coverage-run-cov coverage-run-covpoll
