#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the build and the tests need, if it is missing. Debian
# (bookworm, trixie) or Ubuntu (22.04, 24.04), as root or with sudo, with the
# distribution's package mirror reachable.
#
#   tools/deps.sh          what `make demo` and `make test` need
#   tools/deps.sh bench    plus what `make bench` compares against
#   tools/deps.sh coverage plus gcovr, for `make coverage`
#
# Package names differ between releases (clang's runtime libraries are
# libclang-rt-dev on newer ones, libclang-rt-NN-dev or
# libclang-common-NN-dev on older ones): each need lists its candidates and
# the first one the mirror offers is taken.
set -e
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

needs=(gcc g++ clang make libcriterion-dev clang-format gcc-arm-none-eabi libnewlib-arm-none-eabi
       qemu-system-arm python3 valgrind libmbedtls-dev openssl binutils cmake
       "libclang-rt-dev|libclang-rt-14-dev|libclang-common-14-dev|libclang-common-15-dev")
case "${1:-}" in
bench) needs+=(libuv1-dev strace) ;;
coverage) needs+=(gcovr) ;;
esac

sudo=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null && sudo=sudo
fi

# The first candidate of "a|b|c" that is installed; else empty.
installed_of() {
    local c
    for c in ${1//|/ }; do have_pkg "$c" && { echo "$c"; return; }; done
}

missing=()
for n in "${needs[@]}"; do
    [ -n "$(installed_of "$n")" ] || missing+=("$n")
done

if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null || { [ "$(id -u)" != 0 ] && [ -z "$sudo" ]; }; then
        echo "deps: missing ${missing[*]//|/ or } and cannot install them (needs apt-get as root or sudo)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "deps: installing what is missing (apt-get update first)..."
    $sudo apt-get update -qq
    pick=()
    for n in "${missing[@]}"; do
        chosen=
        for c in ${n//|/ }; do
            if apt-cache show "$c" >/dev/null 2>&1; then chosen=$c; break; fi
        done
        [ -n "$chosen" ] || { echo "deps: no package for '${n//|/ or }' on this release" >&2; exit 1; }
        pick+=("$chosen")
    done
    echo "deps: installing ${pick[*]}"
    $sudo apt-get install -y -qq --no-install-recommends "${pick[@]}" >/dev/null
fi

# What the build relies on, checked where it is used: fail loudly here rather
# than skip anything later.
[ -f /usr/include/mbedtls/ssl.h ] || {
    echo "deps: mbedTLS headers are missing (libmbedtls-dev): the TLS tests cannot be built" >&2
    exit 1
}
exit 0
