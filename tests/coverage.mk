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
# The last table leaves out the lines of ASYNCIO_BEGIN / ASYNCIO_END: each
# coroutine body's resume switch has cases no correct coroutine reaches (a
# finished frame resumed, a corrupted resume point: ECORRUPT, a `break` out
# of the body: EBREAK), some 2-5 branches per body, which the library's ~30
# internal bodies would otherwise count. tests/test_core_misuse.c and
# test_macros.c exercise them once, on bodies of their own.
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
	@echo "== $(2): branches without the lines of ASYNCIO_BEGIN / ASYNCIO_END"
	@gcovr -r . $(COV_FILTER) --exclude-unreachable-branches -b \
	  --exclude-lines-by-pattern '.*ASYNCIO_(BEGIN|END)\b.*' $(BUILD)/$(1) | sed -n '/^File/,$$$$p'
endef
$(eval $(call coverage_run,cov,epoll backend))
$(eval $(call coverage_run,covpoll,poll() backend))
# One after the other: gcov writes its files in the working directory.
coverage-run-covpoll: | coverage-run-cov

coverage: coverage-run-cov coverage-run-covpoll
