# asyncio_stream.mk -- streams: header dependency, TLS detection, examples.
# Included by the main Makefile; stream tests are ordinary tests/test_stream*.c.

STREAM_HDR := asyncio_stream.h

# Every host test links port_posix.c, which compiles the stream implementation.
$(foreach c,$(COMPILERS),$(patsubst tests/%.c,$(BUILD)/$(c)/tests/%,$(TEST_SRCS))): $(STREAM_HDR)
$(BUILD)/%/port_posix.o: $(STREAM_HDR)

# TLS: with mbedTLS installed (Debian: libmbedtls-dev) test_stream_tls is
# built with ASYNCIO_STREAM_TLS and linked with mbedTLS; without it, it
# builds as a skipped test and nothing else depends on mbedTLS.
MBEDTLS_INC  ?= /usr/include
MBEDTLS_LIBS ?= -lmbedtls -lmbedx509 -lmbedcrypto
HAVE_MBEDTLS := $(shell test -f $(MBEDTLS_INC)/mbedtls/ssl.h && echo 1)
ifeq ($(HAVE_MBEDTLS),1)
STREAM_TLS_TESTS := $(foreach c,$(COMPILERS),$(BUILD)/$(c)/tests/test_stream_tls)
$(STREAM_TLS_TESTS): CFLAGS += -DASYNCIO_STREAM_TLS
$(STREAM_TLS_TESTS): TEST_LIBS += $(MBEDTLS_LIBS)
endif

# Examples (built by examples/examples.mk's rule): build/examples/echo_server
# and build/examples/echo_client.
.PHONY: stream-examples
stream-examples: $(BUILD)/examples/echo_server $(BUILD)/examples/echo_client
