#!/usr/bin/env bash
# Install what the build and tests need, if it is missing (Debian, as root).
set -e
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pkgs=(gcc clang make libcriterion-dev clang-format gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm valgrind
      libmbedtls-dev openssl libclang-rt-14-dev)
# `tools/deps.sh bench` adds what the benchmarks compare against.
[ "${1:-}" = bench ] && pkgs+=(libuv1-dev python3)
for p in "${pkgs[@]}"; do
    have_pkg "$p" || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "deps: installing ${need[*]}"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "deps: missing ${need[*]} and cannot apt-get install them (need root on Debian)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
