# asyncio.h -- build, demo, tests.  `make help` lists the targets.
CC       ?= cc
STD      := -std=c99
WARN     := -Wall -Wextra -Wpedantic -Werror -Wimplicit-fallthrough
CFLAGS   ?= -O2 -g
BUILD    := build
CORE     := asyncio.h port_posix.c
COMPILERS := gcc clang

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_LIBS := -lcriterion -lpthread

# Fragments add their own targets and append to TEST_TARGETS / DEMO_TARGETS.
TEST_TARGETS :=
DEMO_TARGETS :=
-include examples/examples.mk
-include tests/arm/arm.mk
-include bench/bench.mk
-include bench/bench_arm.mk
-include asyncio_stream.mk
-include tests/sync.mk
-include tests/check.mk
-include fuzz/fuzz.mk

.PHONY: all demo test test-host test-compile-fail test-nomalloc deps format format-check clean help

all: $(BUILD)/gcc/port_posix.o $(DEMO_BINS)

help:
	@echo "make            build the core (and the examples)"
	@echo "make demo       run the documented examples on the POSIX port"
	@echo "make test       install what is missing, run every test"
	@echo "make format     clang-format the sources; make format-check checks"
	@echo "make clean      remove build/"

deps:
	@bash tools/deps.sh

$(BUILD)/%/port_posix.o: port_posix.c asyncio.h
	@mkdir -p $(dir $@)
	$* $(STD) $(WARN) $(CFLAGS) -c $< -o $@

# Host tests, once per compiler.
define host_tests
$(BUILD)/$(1)/tests/%: tests/%.c $(CORE) tests/trace.h tests/coros.h
	@mkdir -p $$(dir $$@)
	$(1) $(STD) $(WARN) $$(CFLAGS) -I. -Itests $$< port_posix.c -o $$@ $$(TEST_LIBS)
endef
$(foreach c,$(COMPILERS),$(eval $(call host_tests,$(c))))

HOST_TEST_BINS := $(foreach c,$(COMPILERS),$(patsubst tests/%.c,$(BUILD)/$(c)/tests/%,$(TEST_SRCS)))

test-host: deps $(HOST_TEST_BINS)
	@set -e; for t in $(HOST_TEST_BINS); do echo "== $$t"; $$t --jobs 2; done

# Misuse the compiler must reject, with the control case that must compile.
test-compile-fail:
	@set -e; for cc in $(COMPILERS); do \
	  $$cc $(STD) $(WARN) -I. -c tests/compile_fail/one_await_per_line.c -o /dev/null; \
	  if $$cc $(STD) $(WARN) -I. -c tests/compile_fail/two_awaits_on_one_line.c -o /dev/null 2>$(BUILD)/cf.log; \
	  then echo "$$cc accepted two awaits on one line" >&2; exit 1; fi; \
	  grep -q "duplicate case" $(BUILD)/cf.log; done; echo "compile-fail: 2 compilers reject two awaits on one line"

# The core never allocates: its object file references no allocator.
test-nomalloc: $(BUILD)/gcc/port_posix.o
	@if nm -u $< | grep -E ' (malloc|calloc|realloc|free|aligned_alloc|posix_memalign)$$'; \
	  then echo "the core references an allocator" >&2; exit 1; fi; echo "nomalloc: no allocator referenced"

test: test-host test-compile-fail test-nomalloc $(TEST_TARGETS)
	@echo "make test: all passed"

demo: $(DEMO_TARGETS)

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)
