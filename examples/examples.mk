# SPDX-License-Identifier: MIT
# examples/examples.mk -- build, run and check the documented examples.
# Included by the Makefile (which defines STD, WARN, CFLAGS, BUILD, HDRS).
#
#   make                      builds every examples/*.c that has a main()
#   make demo [VIRTUAL=1]     runs them in turn (real time, or --virtual)
#   make test-examples        runs each with --virtual, diffs its output
#                             (stdout and stderr) with examples/<name>.expected,
#                             and checks camera_loop --virtual --trace FILE
#                             (trace-event JSON, one track per task)
#   make test-readme          compiles every ```c block of README.md
#
# An example takes part in the demo and the test when it has an
# examples/<name>.expected file (that is its self-contained mode: it must
# accept --virtual). Examples without one (the TCP echo server and client,
# which need each other) are only built.

EXAMPLE_CC    ?= gcc
EXAMPLE_LIBS  ?=
EXAMPLE_SRCS  := $(shell grep -l '^int main' examples/*.c 2>/dev/null)
EXAMPLE_NAMES := $(patsubst examples/%.c,%,$(EXAMPLE_SRCS))
EXAMPLE_RUN   := $(patsubst examples/%.expected,%,$(wildcard examples/*.expected))
EXAMPLE_RUN   := $(filter $(EXAMPLE_NAMES),$(EXAMPLE_RUN))
# The README's order first, then any other example.
EXAMPLE_ORDER := hello_world heartbeat say_after nested sleepy factorial blink camera_loop \
                 cancellation
EXAMPLE_RUN   := $(filter $(EXAMPLE_RUN),$(EXAMPLE_ORDER)) $(filter-out $(EXAMPLE_ORDER),$(EXAMPLE_RUN))
# Every example accepts --virtual and --trace FILE (examples/example_args.h):
# the core is built with the trace hooks and linked with the recorder.
EXAMPLE_DEFS  := -DASYNCIO_TRACE
EXAMPLE_DEPS  := $(HDRS) examples/example_args.h tools/trace/asyncio_trace.h tools/trace/asyncio_trace.c
EXAMPLE_LINK  := port_posix.c tools/trace/asyncio_trace.c

DEMO_BINS     += $(addprefix $(BUILD)/examples/,$(EXAMPLE_NAMES))
DEMO_TARGETS  += demo-examples
TEST_TARGETS  += test-examples test-readme

$(BUILD)/examples/%: examples/%.c $(EXAMPLE_DEPS) | deps
	@mkdir -p $(dir $@)
	$(EXAMPLE_CC) $(STD) $(WARN) $(CFLAGS) $(EXAMPLE_DEFS) -I. $< $(EXAMPLE_LINK) -o $@ $(EXAMPLE_LIBS)

.PHONY: demo-examples test-examples test-readme stream-examples

# The TCP echo server and client: build/examples/echo_server and echo_client.
stream-examples: $(BUILD)/examples/echo_server $(BUILD)/examples/echo_client

demo-examples: $(addprefix $(BUILD)/examples/,$(EXAMPLE_NAMES))
	@set -e; for n in $(EXAMPLE_RUN); do \
	    echo "=================== examples/$$n.c $(if $(VIRTUAL),(virtual time))"; \
	    $(BUILD)/examples/$$n $(if $(VIRTUAL),--virtual); \
	    echo; \
	done

test-examples: $(addprefix $(BUILD)/examples/,$(EXAMPLE_NAMES))
	@fail=0; for n in $(EXAMPLE_RUN); do \
	    out=$(BUILD)/examples/$$n.out; \
	    timeout 20 $(BUILD)/examples/$$n --virtual >$$out 2>&1; rc=$$?; \
	    if [ $$rc -ne 0 ]; then echo "FAIL examples/$$n: exit status $$rc"; fail=1; \
	    elif ! diff -u examples/$$n.expected $$out; then echo "FAIL examples/$$n: output differs"; fail=1; \
	    else echo "ok   examples/$$n"; fi; \
	done; \
	t=$(BUILD)/examples/camera_loop.trace.json; \
	if timeout 20 $(BUILD)/examples/camera_loop --virtual --trace $$t >/dev/null 2>&1 && \
	   python3 -m json.tool $$t >/dev/null && python3 tools/trace/check.py $$t 5; \
	then echo "ok   camera_loop --virtual --trace: trace-event JSON, a track per task"; \
	else echo "FAIL camera_loop --virtual --trace $$t"; fail=1; fi; exit $$fail

test-readme: README.md tools/readme/check.sh $(HDRS) | deps
	@CC="$(EXAMPLE_CC)" CFLAGS="$(STD) $(WARN) $(CFLAGS)" bash tools/readme/check.sh README.md $(BUILD)/readme
