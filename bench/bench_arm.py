# SPDX-License-Identifier: MIT
"""`make bench-arm` (bench/bench_arm.mk): read the Cortex-M7 images' results.

    python3 bench/bench_arm.py lat ELF LOG
        cuts qemu's instruction trace of tests/arm/bench_lat.c at its markers:
        prints `isr_to_task_instructions N` and `yield_instructions N`
    python3 bench/bench_arm.py idle OUT
        prints `idle_wakeups_per_10s N` from tests/arm/test_tickless.c's output

LOG is `qemu-system-arm -singlestep -d exec,nochain -D LOG`: one "Trace" line
per executed translation block, and with -singlestep a block is one
instruction. The counts are medians over the rounds (the first round of each
path is left out: it runs code for the first time, e.g. arming the flag).
"""
import re
import statistics
import subprocess
import sys


def symbols(elf):
    out = {}
    for line in subprocess.run(["arm-none-eabi-nm", elf], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16) & ~1
    return out


def trace(log):
    pat = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
    with open(log) as f:
        for line in f:
            m = pat.match(line)
            if m:
                yield int(m.group(1), 16)


def lat(elf, log):
    sym = symbols(elf)
    isr, task = sym["bench_timer_isr"], sym["bench_mark_task"]
    a, b = sym["bench_mark_a"], sym["bench_mark_b"]
    isr_counts, yield_counts = [], []
    isr_at = None
    last_mark = None  # (address, index) of the last yield marker
    for i, pc in enumerate(trace(log)):
        if pc == isr:
            isr_at = i
        elif pc == task and isr_at is not None:
            isr_counts.append(i - isr_at)  # vector entry .. before the body's first instruction
            isr_at = None
        elif pc in (a, b):
            if last_mark is not None and last_mark[0] != pc:
                yield_counts.append(i - last_mark[1] - 1)  # after one marker .. before the next
            last_mark = (pc, i)
    if len(isr_counts) < 3 or len(yield_counts) < 3:
        sys.exit("bench_arm.py: too few rounds in %s (%d, %d)" % (log, len(isr_counts),
                                                                  len(yield_counts)))
    print("isr_to_task_instructions %d" % statistics.median_low(isr_counts[1:]))
    print("yield_instructions %d" % statistics.median_low(yield_counts[1:]))


def idle(out):
    text = open(out).read()
    m = re.search(r"^idle_wakeups_per_10s (\d+)$", text, re.M)
    if not m or "PASS" not in text:
        sys.exit("bench_arm.py: %s: no PASS / idle_wakeups_per_10s line:\n%s" % (out, text))
    print(m.group(0))


if __name__ == "__main__":
    if sys.argv[1] == "lat":
        lat(sys.argv[2], sys.argv[3])
    else:
        idle(sys.argv[2])
