#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh [--realtime] ELF EXPECTED [STATUS] -- run one Cortex-M image under
# qemu's mps2-an500 and compare its output with EXPECTED; the exit status must
# be STATUS (default 0; 124 means "must hang until the timeout").
#
# By default -icount shift=5,sleep=off: time is counted in instructions and
# skips ahead while the core sleeps in WFI, so SysTick time is exact, runs
# are reproducible and 10 s of firmware time take about a second.
# --realtime: SysTick runs on the host's clock; stamps may then drift by a
# millisecond, so only the exit status and the final PASS line are checked.
icount="-icount shift=5,sleep=off"
realtime=
if [ "$1" = --realtime ]; then
    icount= realtime=1
    shift
fi
elf=$1 expected=$2 want=${3:-0}
out=${elf%.elf}${realtime:+-realtime}.out
limit=20
[ "$want" = 124 ] && limit=3
timeout "$limit" qemu-system-arm -M mps2-an500 -nographic -monitor none \
    -semihosting-config enable=on,target=native $icount \
    -kernel "$elf" </dev/null >"$out.raw" 2>&1
rc=$?
# The program's output (semihosting) without qemu's own messages.
grep -v '^qemu-system-arm: ' "$out.raw" >"$out"
if [ "$rc" != "$want" ]; then
    echo "FAIL $elf: exit status $rc, expected $want" >&2
    cat "$out" >&2
    exit 1
fi
if [ -n "$realtime" ]; then
    if ! tail -n 1 "$out" | grep -q '^PASS'; then
        echo "FAIL $elf (real time): no PASS line" >&2
        cat "$out" >&2
        exit 1
    fi
    echo "ok   $elf (real time, exit $rc, $(tail -n 1 "$out"))"
    exit 0
fi
if ! diff -u "$expected" "$out"; then
    echo "FAIL $elf: output differs from $expected" >&2
    exit 1
fi
echo "ok   $elf (exit $rc, output matches $(basename "$expected"))"
