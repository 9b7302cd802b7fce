# SPDX-License-Identifier: MIT
"""Run every benchmark of `make bench`, print one table, write BENCHMARKS.md.

Peers are measured in the same run on the same machine: shared, noisy
machines make absolute times drift, ratios hold. Each timed figure is the
best of several runs; instruction counts come from callgrind (stable).
"""
import datetime
import os
import platform
import re
import subprocess
import sys
import time

B = os.environ.get("BENCH_BUILD", "build/bench")
ARM = os.environ.get("ARM_SIZE_DIR", "build/arm/size")
REPEAT = 5


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def best(cmd, lower_is_better=True):
    vals = [float(run(*cmd)) for _ in range(REPEAT)]
    return min(vals) if lower_is_better else max(vals)


CALLGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def callgrind_refs(stderr):
    """The instruction count callgrind reports on standard error."""
    return int(re.search(r"refs:\s+([\d,]+)", stderr).group(1).replace(",", ""))


def callgrind_instructions(*cmd):
    return callgrind_refs(subprocess.run([*CALLGRIND, *cmd], check=True, capture_output=True,
                                         text=True).stderr)


def echo_under_tool(argv, port, n, secs, stop):
    """Start `argv` (an echo server on `port`, under a measuring tool), drive it
    with echo_load (n connections, secs seconds), then stop(server). Returns the
    messages echoed and the tool's standard error."""
    srv = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # echo_load retries refused connections while the tool starts the server.
        messages = float(run(f"{B}/echo_load", str(port), str(n), str(secs))) * secs
    finally:
        stop(srv)
        err = srv.communicate()[1]
    return messages, err


def echo_syscalls_per_message(server, port, n, secs=2.0):
    """Run an echo server under `strace -c` with n connections for secs; return the
    server's system calls (every thread) per echoed message. strace slows the server,
    so the rate measured here is not reported; the ratio is what it counts."""
    out = f"{B}/strace-{port}-{n}.txt"

    def stop(srv):
        for pid in run("pgrep", "-P", str(srv.pid)).split():
            os.kill(int(pid), 9)  # the traced server: strace then writes its summary

    messages, _ = echo_under_tool(["strace", "-f", "-c", "-qq", "-o", out, server, str(port)],
                                  port, n, secs, stop)
    with open(out) as f:
        total = [line.split() for line in f if line.rstrip().endswith(" total")][0]
    return int(total[3]) / messages


def echo_instructions_per_message(server, port, n):
    """User-space instructions per echoed message of a server under callgrind
    (stable where the rates are not): two runs, 1 s and 3 s of load, and the
    difference, so start-up and accepting the connections cancel out."""
    counts = []
    for k, secs in enumerate((1, 3)):
        messages, err = echo_under_tool([*CALLGRIND, server, str(port + k)], port + k, n, secs,
                                        lambda srv: srv.terminate())  # callgrind still reports on SIGTERM
        counts.append((callgrind_refs(err), messages))
    (i1, m1), (i3, m3) = counts
    return (i3 - i1) / (m3 - m1)


def sizes(path):
    """type -> size from `nm -S` of tests/arm/sizes.c's `sizeof_asyncio_<type>` globals."""
    nm = "arm-none-eabi-nm" if "arm" in path else "nm"
    out = {}
    for line in run(nm, "-S", path).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith("sizeof_asyncio_"):
            out[parts[3][len("sizeof_asyncio_"):]] = int(parts[1], 16)
    return out


def text_size(path):
    out = run("arm-none-eabi-size", path).splitlines()[1].split()
    return int(out[0]), int(out[1]), int(out[2])


ARM_HEADING = "## Cortex-M7 under qemu (`make bench-arm`)"


def arm_section():
    """The `make bench-arm` figures as a BENCHMARKS.md section, with the peers'
    figures from issue 14 (measured by its author, same counting method)."""
    out = subprocess.run(["make", "-s", "bench-arm"], check=True, capture_output=True,
                         text=True).stdout
    blocks, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^# Cortex-M7 -(O\w+)(.*)", line)
        if m:
            cur = blocks.setdefault(m.group(1) + ("-split" if "own" in m.group(2) else ""), {})
            continue
        parts = line.lstrip("# ").split()
        if cur is not None and len(parts) == 2 and parts[1].isdigit():
            cur[parts[0]] = int(parts[1])
    o2, os_, split = blocks["O2"], blocks["Os"], blocks["O2-split"]
    rows = [
        ("interrupts taken while every task sleeps 10 s (`idle_wakeups_per_10s`)",
         "idle_wakeups_per_10s", "", "", "<= 20"),
        ("IRQ vector -> first instruction of the woken task (`isr_to_task_instructions`)",
         "isr_to_task_instructions", "190 (task)", "64 (process)", "<= 80"),
        ("YIELD -> YIELD between two tasks (`yield_instructions`)",
         "yield_instructions", "62 (taskYIELD)", "98 (PROCESS_PAUSE)", "<= 60"),
    ]
    lines = ["| measurement | asyncio.h -O2 | asyncio.h -Os | FreeRTOS | Contiki-NG | target (-O2) | |",
             "|---|---|---|---|---|---|---|"]
    for name, key, frt, ctk, target in rows:
        limit = int(target.split()[-1])
        lines.append("| %s | %d | %d | %s | %s | %s | %s |" % (
            name, o2[key], os_[key], frt, ctk, target, "met" if o2[key] <= limit else "MISSED"))
    text = [ARM_HEADING, "",
            "qemu-system-arm -M mps2-an500 (Cortex-M7), arm-none-eabi-gcc, medians. Instructions are "
            "counted from qemu's `-singlestep -d exec,nochain` trace between marker labels "
            "(tests/arm/bench_lat.c, bench/bench_arm.py); the idle figure is the number of WFIs "
            "(each ended by an interrupt) in tests/arm/test_tickless.c's 10 s sleep, with tickless "
            "idle (a 1 kHz tick takes 10,000). FreeRTOS and Contiki-NG: the figures quoted in "
            "issue 14, measured by its author the same way, not re-run here. The images are the "
            "camera build the README recommends: the core compiled into the port's unit "
            "(port_openmv.c with `-DASYNCIO_IMPLEMENTATION`, every file with "
            "`-DASYNCIO_SINGLE_CORE`). With the core in a unit of its own (src/asyncio.c): "
            "IRQ -> task %d, YIELD -> YIELD %d at -O2 (`asyncio_flag_set()` then calls the "
            "port's wake across units)." % (split["isr_to_task_instructions"],
                                            split["yield_instructions"]), "",
            "\n".join(lines), "",
            "Where the -O2 instructions go (from the trace, at the time of writing). IRQ -> task, 80: "
            "the handler and `asyncio_openmv_frame_irq()` (clear the timer, frame count, flag "
            "store, wake byte) 14; the port's idle wait returning 6; the loop 47: back to its top "
            "1, the flags' work bit 3, the flag waiters' ring 26 (is it empty 3, the waiter's "
            "flag and its state 6, the waiter out of the flag's queue and the ring and onto the "
            "run queue 14, the ring's end 3), the I/O and timer bits 3, run-queue pop and step "
            "14; the task's resume `switch` 5; the flag's resume inline in the await "
            "(cancellation check, flag cleared) 8. YIELD -> YIELD, 53: the task stores its "
            "resume point and returns 4; the loop 34: the step's result (yielded, no "
            "cancellation) 6, run-queue append 9, the flags' and the I/O and timer bits 5, "
            "pop and step 14; the other task's resume `switch` 5, its cancellation check 5, "
            "and the benchmark's own loop 5.",
            "",
            "How to reproduce: `make bench-arm` (needs arm-none-eabi-gcc and qemu-system-arm: "
            "`bash tools/deps.sh`).", ""]
    return "\n".join(text)


def write_arm_section(path="BENCHMARKS.md"):
    """Replace (or append) the Cortex-M7 section of BENCHMARKS.md."""
    section = arm_section()
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    at = old.find(ARM_HEADING)
    body = (old[:at] if at >= 0 else old.rstrip("\n") + "\n\n") + section
    with open(path, "w") as f:
        f.write(body)
    print(section)


def main():
    rows = []  # (measurement, ours, peer, ratio, target, met)

    def row(name, ours, peer="", ratio="", target="", met=None):
        rows.append((name, ours, peer, ratio, target, "" if met is None else ("met" if met else "MISSED")))

    # Switch cost.
    n, m = 1000, 1000
    ours = best([f"{B}/bench", "switch", str(n), str(m)])
    bare = best([f"{B}/bench", "bare", str(n), str(m)])
    cpy = best(["python3", "bench/peers.py", "switch", "1000", "100"])
    row("switch: ns per task switch (1000 tasks x 1000 yields)", f"{ours:.1f}",
        f"bare round-robin {bare:.1f}", f"{ours / bare:.2f}x the floor", "<= 2x", ours <= 2 * bare)
    row("switch vs CPython asyncio (ns per switch)", f"{ours:.1f}", f"CPython {cpy:.0f}",
        f"{cpy / ours:.0f}x cheaper", ">= 200x", cpy / ours >= 200)
    def per_switch(mode):
        """Instructions per switch: 100 tasks x 10,000 switches, less the same with 1."""
        base = callgrind_instructions(f"{B}/bench", mode, "100", "1")
        return (callgrind_instructions(f"{B}/bench", mode, "100", "10000") - base) / 1e6

    ins, ins_bare = per_switch("switch"), per_switch("bare")
    row("switch: instructions per switch (callgrind)", f"{ins:.0f}",
        f"bare {ins_bare:.0f}; Contiki-NG protothreads 24, FreeRTOS co-routines 62, "
        f"Contiki-NG process 100 (issue 16)", f"{ins / ins_bare:.2f}x the floor", "<= 50", ins <= 50)
    ins0 = per_switch("sleep0")
    row("sleep(0): instructions per switch (callgrind)", f"{ins0:.0f}", f"YIELD {ins:.0f}",
        f"{ins0 - ins:+.0f}", "<= YIELD + 10", ins0 <= ins + 10)

    # Wake latency.
    ev = best([f"{B}/bench", "event", "200000"], lower_is_better=False)
    cev = best(["python3", "bench/peers.py", "event", "20000"], lower_is_better=False)
    row("Event ping-pong: round trips per second", f"{ev / 1e6:.2f} M", f"CPython {cev / 1e3:.0f} k",
        f"{ev / cev:.0f}x")
    lk = best([f"{B}/bench", "lock", "200000"], lower_is_better=False)
    row("Lock hand-off: hand-offs per second", f"{lk / 1e6:.2f} M")
    fl = best([f"{B}/bench", "flag", "20000"], lower_is_better=False)
    row("ThreadSafeFlag set by a thread -> task resumes: round trips per second", f"{fl / 1e3:.0f} k")

    # Timers.
    per = {}
    for n in (1000, 10000, 100000, 1000000):
        reps = REPEAT if n <= 100000 else 2
        o = min(float(run(f"{B}/bench", "timers", str(n))) for _ in range(reps))
        u = min(float(run(f"{B}/uv_timers", str(n))) for _ in range(reps))
        per[n] = o
        row(f"timers: CPU ns per timer at N = {n:,}", f"{o:.0f}", f"libuv {u:.0f}", f"{o / u:.2f}x",
            "no slower than libuv", o <= u)
    row("timers: cost at 1M / cost at 1k", f"{per[1000000] / per[1000]:.2f}x", "", "", "<= 3x",
        per[1000000] / per[1000] <= 3)

    # Streams: one load client drives each echo server in turn.
    servers = [("asyncio.h", [f"{B}/echo_server", "9700"], 9700),
               ("libuv", [f"{B}/uv_echo", "9701"], 9701),
               ("CPython", ["python3", "bench/peers.py", "echo-server", "9702"], 9702)]
    # The servers run side by side and are measured in turn, three rounds
    # (best of three each): a slow spell of this shared machine then hits
    # every server, not just the one measured during it.
    echo = {}
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name, cmd, port in servers]
    try:
        time.sleep(1.0)  # CPython's server takes a moment to listen
        for n in (1, 100, 1000):
            for _ in range(3):
                for name, cmd, port in servers:
                    r = float(run(f"{B}/echo_load", str(port), str(n), "2"))
                    echo[name, n] = max(echo.get((name, n), 0.0), r)
    finally:
        for srv in procs:
            srv.kill()
            srv.wait()
    for n in (1, 100, 1000):
        o, u, c = echo["asyncio.h", n], echo["libuv", n], echo["CPython", n]
        row(f"TCP echo, 64-byte messages/s, {n} connection(s)", f"{o / 1e3:.1f} k",
            f"libuv {u / 1e3:.1f} k, CPython {c / 1e3:.1f} k", f"{o / u:.2f}x libuv, {o / c:.1f}x CPython",
            "at least libuv's" if n == 1000 else "", (o >= u) if n == 1000 else None)
    # User-space instructions per message (callgrind: stable, unlike the rates).
    o = echo_instructions_per_message(f"{B}/echo_server", 9710, 100)
    u = echo_instructions_per_message(f"{B}/uv_echo", 9712, 100)
    row("TCP echo, user-space instructions per message (callgrind), 100 connections",
        f"{o:.0f}", f"libuv {u:.0f}", f"{o / u:.2f}x")
    # System calls per message (a separate run under strace -c, which slows the servers).
    for n in (100, 1000):
        o = echo_syscalls_per_message(f"{B}/echo_server", 9700, n)
        u = echo_syscalls_per_message(f"{B}/uv_echo", 9701, n)
        row(f"TCP echo, system calls per message (strace -c), {n} connections", f"{o:.2f}",
            f"libuv {u:.2f}", f"{o / u:.2f}x")

    # Memory.
    host = sizes(f"{B}/sizes.o")
    arm = sizes(f"{ARM}/sizes.o")
    for name in ("task", "coro", "task_plus_frame", "event", "lock", "flag", "gather_state",
                 "wait_for_state", "io", "stream", "server_slot", "server"):
        if name in host:
            met = None
            target = ""
            if name == "task":
                target, met = "<= 32 B on Cortex-M7", arm.get(name, 99) <= 32
            row(f"memory: bytes per {name.replace('_', ' ')} (x86-64 / Cortex-M7)",
                f"{host[name]} / {arm.get(name, 'n/a')}", "", "", target, met)

    # Code size.
    text, data, bss = text_size(f"{ARM}/core.o")
    row("code: whole core (every feature) .text / .data / .bss, Cortex-M7 -Os",
        f"{text} / {data} / {bss}", "", "", "<= 3072 B .text", text <= 3072)
    text, data, bss = text_size(f"{B}/size_min.elf")
    row("code: core linked into a minimal app (tasks + sleep, --gc-sections)",
        f"{text} / {data} / {bss}", "", "", "<= 3072 B .text", text <= 3072)
    if os.path.exists(f"{B}/stream_x86.txt"):
        row("code: streams .text on x86-64 at -Os (POSIX sockets; no Cortex-M build)",
            open(f"{B}/stream_x86.txt").read().strip())

    # Print and save.
    head = ("measurement", "asyncio.h", "peer (same run)", "ratio", "target", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in [head] + rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    table = "\n".join(lines)
    print(table)
    cpu = ""
    try:
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
    except (OSError, IndexError):
        pass
    with open("BENCHMARKS.md", "w") as f:
        f.write("# Benchmarks\n\n")
        f.write("Written by `make bench` (bench/run.py). Peers are measured in the same run on the\n"
                "same machine; timed figures are the best of %d runs, instruction counts come from\n"
                "callgrind.\n\n" % REPEAT)
        f.write("- date: %s\n- machine: %s, %d cores, %s\n- compiler: %s\n- python: %s\n\n" % (
            datetime.date.today().isoformat(), cpu or platform.machine(), os.cpu_count() or 0,
            platform.platform(), run("cc", "--version").splitlines()[0], platform.python_version()))
        f.write(table + "\n\n")
        f.write("Commands: `%s/bench switch|bare N M`, `%s/bench event|lock|flag R`, "
                "`%s/bench timers N`, `%s/uv_timers N`, `python3 bench/peers.py switch|event ...`,\n"
                "`valgrind --tool=callgrind %s/bench switch 100 10000`, sizes from `nm -S` and "
                "`arm-none-eabi-size`.\n"
                "Echo: `%s/echo_server PORT` and `%s/uv_echo PORT` driven by `%s/echo_load PORT N SECONDS`; "
                "instructions: the server under `valgrind --tool=callgrind`, loads of 1 s and 3 s, "
                "the difference; system calls: the server under `strace -f -c`.\n" % ((B,) * 8))
    try:
        write_arm_section()
    except (subprocess.CalledProcessError, OSError, KeyError) as e:
        print("bench/run.py: no Cortex-M7 section (make bench-arm failed: %s)" % e, file=sys.stderr)
    return 0


if __name__ == "__main__":
    # `python3 bench/run.py arm`: only the Cortex-M7 section (make bench-arm).
    sys.exit(write_arm_section() if sys.argv[1:] == ["arm"] else main())
