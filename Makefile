# SPDX-License-Identifier: MIT
# asyncio.h -- build, demo, tests.  `make help` lists the targets.
#
# Every build step depends (order-only) on `deps`, which installs what is
# missing first (Debian/Ubuntu, as root), so `make demo` and `make test`
# both work as the first command on a fresh machine. Nothing here is
# decided from what happens to be installed when make reads this file.
CC       ?= cc
STD      := -std=c99
WARN     := -Wall -Wextra -Wpedantic -Werror -Wimplicit-fallthrough
CFLAGS   ?= -O2 -g
BUILD    := build
HDRS     := asyncio.h asyncio_stream.h port_posix.h
COMPILERS := gcc clang

# tests/test_*.c are Criterion suites, except the plain programs of PLAIN_TESTS
# (they also run under TSan, where Criterion cannot start: tests/sync.mk).
PLAIN_TESTS := tests/test_thread.c
TEST_SRCS := $(filter-out $(PLAIN_TESTS),$(wildcard tests/test_*.c))
TEST_HDRS := $(wildcard tests/*.h)
TLS_LIBS  := -lmbedtls -lmbedx509 -lmbedcrypto
TEST_LIBS := $(TLS_LIBS) -lcriterion -lpthread

# ---- library variants --------------------------------------------------
# A variant is a compiler and flags; each builds the core (src/asyncio.c),
# the streams with TLS (src/asyncio_stream.c) and the POSIX port into
# build/<variant>/libasyncio.a, and links the test programs against it.
#   gcc, clang   the test builds (-O2 -g)
#   poll         gcc with port_posix.c's poll() backend instead of epoll
#   asan, tsan   sanitizer builds (tests/check.mk, tests/sync.mk)
#   fuzz         libFuzzer instrumentation (fuzz/fuzz.mk)
# Test builds also check, at run time, that every loop call comes from the
# loop's thread (ASYNCIO_CHECK_THREAD, where the core offers it).
# They also build the debugging aids: task dump, trace hooks (ASYNCIO_TRACE).
TEST_DEFS       := -DASYNCIO_STREAM_TLS -DASYNCIO_CHECK_THREAD -DASYNCIO_TRACE
VARIANTS        := gcc clang poll
VARIANT_CC_gcc   := gcc
VARIANT_CC_clang := clang
VARIANT_CC_poll  := gcc
VARIANT_FLAGS_gcc   = $(CFLAGS)
VARIANT_FLAGS_clang = $(CFLAGS)
VARIANT_FLAGS_poll  = $(CFLAGS) -DASYNCIO_POSIX_POLL
LIB_SRCS := src/asyncio.c src/asyncio_stream.c port_posix.c

# Fragments add their own targets and append to TEST_TARGETS / DEMO_TARGETS
# (and VARIANTS). They are part of the build: a missing one is an error.
TEST_TARGETS :=
DEMO_TARGETS :=
include examples/examples.mk
include tests/arm/arm.mk
include bench/bench.mk
include bench/bench_arm.mk
include tests/sync.mk
include tests/check.mk
include fuzz/fuzz.mk
include packaging/packaging.mk
include tests/coverage.mk
include tests/faults/faults.mk
-include local.mk

.PHONY: all demo test test-host test-poll test-compile-fail test-strict test-nomalloc deps format format-check clean help FORCE

all: $(foreach v,gcc clang,$(BUILD)/$(v)/libasyncio.a) $(DEMO_BINS)

help:
	@echo "make            build the library and the examples"
	@echo "make demo       run the documented examples on the POSIX port"
	@echo "make test       install what is missing, run every test"
	@echo "make check      sanitizers (ASan+UBSan, TSan) and valgrind (part of make test)"
	@echo "make bench      benchmarks against peers, writes BENCHMARKS.md"
	@echo "make test-arm   the Cortex-M images under qemu (part of make test)"
	@echo "make test-faults  stream suites under injected EINTR/EAGAIN/short I/O (part of make test)"
	@echo "make format     clang-format the sources; make format-check checks"
	@echo "make clean      remove build/"

deps:
	@bash tools/deps.sh

# $(call variant_rules,name): the library and the test programs of one variant.
# build/<v>/config holds the variant's compile line; it is rewritten only when
# that line changes, and everything of the variant depends on it, so a change
# of flags rebuilds what it must.
define variant_rules
VARIANT_DEFS_$(1) ?= $(TEST_DEFS)
$(BUILD)/$(1)/config: FORCE
	@mkdir -p $$(dir $$@)
	@echo '$(VARIANT_CC_$(1)) $(STD) $(WARN) $$(VARIANT_DEFS_$(1)) $(VARIANT_FLAGS_$(1)) $(TEST_LIBS)' \
	  | cmp -s - $$@ || echo '$(VARIANT_CC_$(1)) $(STD) $(WARN) $$(VARIANT_DEFS_$(1)) $(VARIANT_FLAGS_$(1)) $(TEST_LIBS)' >$$@

$(BUILD)/$(1)/lib/%.o: src/%.c $(HDRS) $(BUILD)/$(1)/config | deps
	@mkdir -p $$(dir $$@)
	$(VARIANT_CC_$(1)) $(STD) $(WARN) $$(VARIANT_DEFS_$(1)) $(VARIANT_FLAGS_$(1)) -I. -c $$< -o $$@

$(BUILD)/$(1)/lib/port_posix.o: port_posix.c $(HDRS) $(BUILD)/$(1)/config | deps
	@mkdir -p $$(dir $$@)
	$(VARIANT_CC_$(1)) $(STD) $(WARN) $$(VARIANT_DEFS_$(1)) $(VARIANT_FLAGS_$(1)) -I. -c $$< -o $$@

$(BUILD)/$(1)/libasyncio.a: $(patsubst %.c,$(BUILD)/$(1)/lib/%.o,$(notdir $(LIB_SRCS)))
	@rm -f $$@
	ar rcs $$@ $$^

$(BUILD)/$(1)/tests/%: tests/%.c $(TEST_HDRS) $(BUILD)/$(1)/libasyncio.a | deps
	@mkdir -p $$(dir $$@)
	$(VARIANT_CC_$(1)) $(STD) $(WARN) $$(VARIANT_DEFS_$(1)) $(VARIANT_FLAGS_$(1)) -I. -Itests $$< \
	    $(BUILD)/$(1)/libasyncio.a -o $$@ $(TEST_LIBS)
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

# Host tests, once per compiler. A suite that runs no test fails
# (tools/run_suites.sh reads Criterion's "Tested: N").
HOST_TEST_BINS := $(foreach c,$(COMPILERS),$(patsubst tests/%.c,$(BUILD)/$(c)/tests/%,$(TEST_SRCS)))
test-host: $(HOST_TEST_BINS)
	@bash tools/run_suites.sh $^

# The poll() backend of port_posix.c: the suites that wait on descriptors,
# flags and timers, against a library built without epoll.
POLL_SUITES := test_loop test_flag test_stream test_stream_tls test_misuse
test-poll: $(addprefix $(BUILD)/poll/tests/,$(POLL_SUITES))
	@bash tools/run_suites.sh $^

# Misuse the compiler must reject: every tests/compile_fail/*.c must fail to
# compile under gcc and clang with a message matching its "expect:" line;
# the control, ok_control.c, must compile cleanly.
test-compile-fail: | deps
	@mkdir -p $(BUILD)
	@set -e; n=0; for cc in $(COMPILERS); do \
	  $$cc $(STD) $(WARN) -I. -c tests/compile_fail/ok_control.c -o /dev/null; \
	  for f in tests/compile_fail/*.c; do \
	    case $$f in */ok_*) continue;; esac; \
	    want=$$(sed -n 's|^/\* expect: \(.*\)$$|\1|p' $$f); \
	    if $$cc $(STD) $(WARN) -I. -c $$f -o /dev/null 2>$(BUILD)/cf.log; \
	    then echo "FAIL $$cc accepted $$f" >&2; exit 1; fi; \
	    grep -qE "$$want" $(BUILD)/cf.log || { cat $(BUILD)/cf.log; echo "FAIL $$cc: $$f: no '$$want'" >&2; exit 1; }; \
	    n=$$((n + 1)); done; done; \
	  echo "compile-fail: $$n rejections as expected (gcc, clang), the control compiles"

# User code that includes the headers builds clean under the strict warning
# sets firmware teams use (tests/strict/all_macros.c uses every macro).
STRICT_C := -std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion -Wsign-conversion \
            -Wundef -Wstrict-prototypes -Wmissing-prototypes
test-strict: | deps
	@set -e; f=tests/strict/all_macros.c; \
	gcc $(STRICT_C) -I. -c $$f -o /dev/null; \
	clang $(STRICT_C) -Wextra-semi-stmt -I. -c $$f -o /dev/null; \
	arm-none-eabi-gcc -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 $(STRICT_C) -Wcast-align \
	    -I. -c $$f -o /dev/null; \
	g++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Wold-style-cast -Werror -x c++ -I. -c $$f -o /dev/null; \
	gcc $(STRICT_C) -DASYNCIO_STRICT -I. -c $$f -o /dev/null; \
	gcc $(STRICT_C) -DASYNCIO_TRACE -I. -c $$f -o /dev/null; \
	g++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Wold-style-cast -Werror -DASYNCIO_TRACE -x c++ -I. -c $$f -o /dev/null; \
	echo "strict: every macro builds clean under gcc, clang, arm-none-eabi-gcc (-Wcast-align), g++ -std=c++17 (also with ASYNCIO_TRACE)"

# The core never allocates: its object file references no allocator.
test-nomalloc: $(BUILD)/gcc/lib/asyncio.o
	@if nm -u $< | grep -E ' (malloc|calloc|realloc|free|aligned_alloc|posix_memalign)$$'; \
	  then echo "the core references an allocator" >&2; exit 1; fi; echo "nomalloc: no allocator referenced"

test: test-host test-poll test-compile-fail test-strict test-nomalloc $(TEST_TARGETS)
	@echo "make test: all passed"

demo: $(DEMO_TARGETS)

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)
