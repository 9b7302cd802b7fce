# SPDX-License-Identifier: MIT
# packaging/packaging.mk -- the library as others build it: CMake
# (CMakeLists.txt, cmake/), PlatformIO (library.json). Included by the
# Makefile (which defines BUILD, STD, WARN; tests/arm/arm.mk the ARM_*).
#
#   make test-package   each of the checks below, from scratch, under
#                       build/package/:
#     test-package-subdir    a throwaway consumer project (packaging/consumer,
#                            copied out of the tree) that add_subdirectory()s
#                            the tree, builds and runs sleep_check (a coroutine
#                            that sleeps, asyncio::asyncio) and stream_check
#                            (a line over a socketpair, asyncio::stream + TLS)
#     test-package-fetch     the same consumer through FetchContent, from an
#                            archive of the tree (file:// URL and SHA256)
#     test-package-install   cmake --install to build/package/prefix, then the
#                            consumer through find_package(asyncio VERSION EXACT)
#     test-package-arm       the cross build (cmake/arm-none-eabi.cmake,
#                            ASYNCIO_PORT=openmv) makes libasyncio.a; a tiny
#                            freestanding program links against it with
#                            tests/arm's runtime and runs under qemu
#     test-package-pio       library.json parses and matches the tree
#                            (packaging/check_library_json.py), and the files
#                            it builds on PlatformIO's native platform compile
#                            and run sleep_check
#     test-package-version   asyncio.h's ASYNCIO_VERSION is the one README.md
#                            and CHANGELOG.md name, and the parts agree
#   make spdx-check     every tracked source file has its SPDX line

PKG_BUILD   := $(BUILD)/package
PKG_VERSION := $(shell sed -n 's/^\#define ASYNCIO_VERSION "\(.*\)"/\1/p' asyncio.h)
PKG_CMAKE   := cmake
# mbedTLS is one of the build's dependencies (tools/deps.sh): the consumers
# must see TLS in asyncio::stream.
PKG_TLS     := 1
PKG_CONSUMER := packaging/consumer/CMakeLists.txt packaging/consumer/sleep_check.c \
                packaging/consumer/stream_check.c
PKG_LIB_SRCS := CMakeLists.txt cmake/asyncioConfig.cmake.in cmake/asyncioMbedTLS.cmake \
                asyncio.h asyncio_stream.h port_posix.h port_posix.c src/asyncio.c src/asyncio_stream.c

.PHONY: test-package test-package-subdir test-package-fetch test-package-install test-package-arm \
        test-package-pio test-package-version

test-package: test-package-version test-package-subdir test-package-fetch test-package-install \
              test-package-arm test-package-pio
	@echo "test-package: all passed (asyncio $(PKG_VERSION))"

# `cmake --build` runs a make of its own: without MAKEFLAGS (this make's job
# server is not handed down to it) it builds one job at a time, quietly.
PKG_BUILD_CMD := MAKEFLAGS= $(PKG_CMAKE) --build

# $(call pkg_consume,name,cmake arguments): copy the consumer to
# build/package/<name>/src, configure, build, run both programs.
define pkg_consume
	@rm -rf $(PKG_BUILD)/$(1) && mkdir -p $(PKG_BUILD)/$(1)
	cp -r packaging/consumer $(PKG_BUILD)/$(1)/src
	$(PKG_CMAKE) -S $(PKG_BUILD)/$(1)/src -B $(PKG_BUILD)/$(1)/bin -DASYNCIO_CONSUME=$(1) \
	    -DEXPECT_VERSION=$(PKG_VERSION) -DEXPECT_TLS=$(PKG_TLS) $(2) >$(PKG_BUILD)/$(1)/configure.log \
	    || { cat $(PKG_BUILD)/$(1)/configure.log; exit 1; }
	$(PKG_BUILD_CMD) $(PKG_BUILD)/$(1)/bin >$(PKG_BUILD)/$(1)/build.log \
	    || { cat $(PKG_BUILD)/$(1)/build.log; exit 1; }
	$(PKG_BUILD)/$(1)/bin/sleep_check
	$(PKG_BUILD)/$(1)/bin/stream_check
	@echo "ok   package: consumer via $(1)"
endef

test-package-subdir: $(PKG_CONSUMER) $(PKG_LIB_SRCS) | deps
	$(call pkg_consume,subdir,-DASYNCIO_SOURCE_DIR=$(CURDIR) -DASYNCIO_WARNINGS=ON -DASYNCIO_TLS=ON)

# The archive holds what git knows of (tracked, plus new files not ignored),
# as a release archive would, under one top directory.
test-package-fetch: $(PKG_CONSUMER) $(PKG_LIB_SRCS) | deps
	@mkdir -p $(PKG_BUILD)
	git ls-files -co --exclude-standard | while read -r f; do [ -e "$$f" ] && echo "$$f"; done | \
	    tar -czf $(PKG_BUILD)/asyncio-$(PKG_VERSION).tar.gz --transform 's,^,asyncio-$(PKG_VERSION)/,' -T -
	$(call pkg_consume,fetch,-DASYNCIO_URL=file://$(CURDIR)/$(PKG_BUILD)/asyncio-$(PKG_VERSION).tar.gz \
	    -DASYNCIO_URL_HASH=$$(sha256sum $(PKG_BUILD)/asyncio-$(PKG_VERSION).tar.gz | cut -d' ' -f1) \
	    -DASYNCIO_WARNINGS=ON -DASYNCIO_TLS=ON)

PKG_INSTALLED := include/asyncio/asyncio.h include/asyncio/asyncio_stream.h include/asyncio/port_posix.h \
                 lib/libasyncio.a lib/libasyncio_stream.a lib/cmake/asyncio/asyncioConfig.cmake \
                 lib/cmake/asyncio/asyncioConfigVersion.cmake lib/cmake/asyncio/asyncioTargets.cmake \
                 lib/cmake/asyncio/asyncioMbedTLS.cmake share/doc/asyncio/LICENSE
test-package-install: $(PKG_CONSUMER) $(PKG_LIB_SRCS) LICENSE | deps
	@rm -rf $(PKG_BUILD)/lib $(PKG_BUILD)/prefix && mkdir -p $(PKG_BUILD)/lib
	$(PKG_CMAKE) -S . -B $(PKG_BUILD)/lib -DCMAKE_INSTALL_LIBDIR=lib -DASYNCIO_WARNINGS=ON -DASYNCIO_TLS=ON \
	    >$(PKG_BUILD)/lib/configure.log || { cat $(PKG_BUILD)/lib/configure.log; exit 1; }
	$(PKG_BUILD_CMD) $(PKG_BUILD)/lib >$(PKG_BUILD)/lib/build.log \
	    || { cat $(PKG_BUILD)/lib/build.log; exit 1; }
	$(PKG_CMAKE) --install $(PKG_BUILD)/lib --prefix $(CURDIR)/$(PKG_BUILD)/prefix >$(PKG_BUILD)/lib/install.log
	@for f in $(PKG_INSTALLED); do [ -f $(PKG_BUILD)/prefix/$$f ] || \
	    { echo "not installed: $$f" >&2; exit 1; }; done
	$(call pkg_consume,package,-DCMAKE_PREFIX_PATH=$(CURDIR)/$(PKG_BUILD)/prefix)

# The cross build: streams off (this checks the core and the Cortex-M7 port).
# The port is told qemu's 25 MHz clock, as the images of tests/arm are.
test-package-arm: packaging/arm_check.c packaging/arm_check.expected cmake/arm-none-eabi.cmake \
                  $(PKG_LIB_SRCS) port_openmv.c port_openmv.h $(ARM_BUILD)/rt.o | deps
	@rm -rf $(PKG_BUILD)/cm7 && mkdir -p $(PKG_BUILD)/cm7
	$(PKG_CMAKE) -S . -B $(PKG_BUILD)/cm7 -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/arm-none-eabi.cmake \
	    -DASYNCIO_PORT=openmv -DASYNCIO_STREAM=ON -DASYNCIO_TLS=OFF -DASYNCIO_WARNINGS=ON \
	    -DASYNCIO_DEFINITIONS=ASYNCIO_OPENMV_CORE_HZ=25000000u \
	    >$(PKG_BUILD)/cm7/configure.log || { cat $(PKG_BUILD)/cm7/configure.log; exit 1; }
	$(PKG_BUILD_CMD) $(PKG_BUILD)/cm7 >$(PKG_BUILD)/cm7/build.log \
	    || { cat $(PKG_BUILD)/cm7/build.log; exit 1; }
	$(ARM_CC) $(ARM_M7) $(ARM_CFLAGS) -DEXPECT_VERSION='"$(PKG_VERSION)"' -I. -Itests/arm \
	    packaging/arm_check.c $(ARM_BUILD)/rt.o $(PKG_BUILD)/cm7/libasyncio.a \
	    $(ARM_LDFLAGS) $(ARM_LIBS) -o $(PKG_BUILD)/arm_check.elf
	sh tests/arm/run.sh $(PKG_BUILD)/arm_check.elf packaging/arm_check.expected
	@echo "ok   package: Cortex-M7 cross build (CMake, port openmv) links and runs"

test-package-pio: library.json packaging/check_library_json.py packaging/platformio.py \
                  packaging/consumer/sleep_check.c $(PKG_LIB_SRCS) | deps
	@mkdir -p $(PKG_BUILD)/pio
	python3 -m json.tool library.json >/dev/null
	python3 packaging/check_library_json.py
	$(CC) $(STD) $(WARN) -I. -DEXPECT_VERSION='"$(PKG_VERSION)"' -DEXPECT_TLS=0 \
	    $$(python3 packaging/check_library_json.py --sources native) packaging/consumer/sleep_check.c \
	    -o $(PKG_BUILD)/pio/sleep_check -lpthread
	$(PKG_BUILD)/pio/sleep_check
	@echo "ok   package: PlatformIO native selection builds and runs"

pkg_empty :=
pkg_space := $(pkg_empty) $(pkg_empty)
PKG_PARTS := $(shell sed -n 's/^\#define ASYNCIO_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$$/\2/p' asyncio.h)
test-package-version: asyncio.h README.md CHANGELOG.md
	@[ -n "$(PKG_VERSION)" ] || { echo "asyncio.h: no ASYNCIO_VERSION" >&2; exit 1; }
	@[ "$(subst $(pkg_space),.,$(strip $(PKG_PARTS)))" = "$(PKG_VERSION)" ] || \
	    { echo "asyncio.h: ASYNCIO_VERSION $(PKG_VERSION) but MAJOR/MINOR/PATCH say $(PKG_PARTS)" >&2; exit 1; }
	@grep -q '^Version $(PKG_VERSION) ' README.md || \
	    { echo "README.md: no 'Version $(PKG_VERSION)' line" >&2; exit 1; }
	@grep -q '^## \[$(PKG_VERSION)\]' CHANGELOG.md || \
	    { echo "CHANGELOG.md: no '## [$(PKG_VERSION)]' section" >&2; exit 1; }
	@echo "ok   package: version $(PKG_VERSION) in asyncio.h, README.md, CHANGELOG.md"

# Every tracked source file carries its SPDX-License-Identifier line
# (tools/spdx.sh adds them; this only checks).
TEST_TARGETS += spdx-check
.PHONY: spdx-check
spdx-check:
	@bash tools/spdx.sh --check

TEST_TARGETS += test-package
