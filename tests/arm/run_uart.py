#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run_uart.py [--example] ELF -- run tests/arm/test_uart.c under qemu's
mps2-an500 with UART0 on a unix socket this script listens on, and play the
other end:

  1. echo: 1 MiB of lines out, every byte of the upper-cased echo checked
     (nothing lost, duplicated or reordered);
  2. overflow: "!burst N E", wait for "!ready", send N bytes the firmware does
     not read; expect "!overrun <RX_RING> <N - RX_RING>" and the burst's first
     RX_RING bytes back;
  3. more echo lines after the overrun, then "!quit".

Semihosting stays the firmware's console (qemu's stdout, kept in
build/arm/uart.out); the run passes when every check here holds, qemu exits
with status 0 and the firmware's last line is PASS. No timing assertions.

--example: examples/openmv/uart_echo.c instead: 16 KiB of lines must come
back upper-cased and in order; the example never ends, so qemu is stopped.

qemu runs with -icount shift=10,sleep=off. qemu's CMSDK UART model takes one
received byte per pass of qemu's main loop, and nothing in the model wakes
that loop when the guest has read the byte; with sleep=off an idle guest (in
WFI) makes qemu jump to its next timer at once, which runs the main loop, so
bytes flow about twice as fast as on the host clock (where the loop waits for
its next wake-up). Override with UART_QEMU_CLOCK="" (host clock) or another
-icount setting; UART_ECHO_BYTES shortens the echo for experiments.
"""
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

ECHO_BYTES = int(os.environ.get("UART_ECHO_BYTES", 1 << 20))  # smaller for experiments
RX_RING = 1024  # tests/arm/test_uart.c's RX_RING
BURST = 4 * RX_RING
TIMEOUT = 180  # seconds, the whole run: a hang fails instead of blocking make
STEP = 30  # seconds without progress that fail the run
ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_'\"()"


def fail(elf, why, out=None):
    sys.stderr.write(f"FAIL {elf}: {why}\n")
    if out and os.path.exists(out):
        sys.stderr.write(open(out, errors="replace").read())
    sys.exit(1)


def make_lines(rng, total):
    """Lines of 1..200 bytes (the last counts its newline) adding up to total."""
    out = bytearray()
    while len(out) < total:
        n = min(rng.randint(1, 200), total - len(out))
        out += bytes(rng.choice(ALPHABET) for _ in range(n - 1)) + b"\n"
    return bytes(out)


class Peer:
    def __init__(self, conn):
        self.conn = conn
        self.buf = bytearray()

    def _more(self):
        b = self.conn.recv(65536)
        if not b:
            raise EOFError("the firmware closed UART0")
        self.buf += b

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def line(self):
        while b"\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\n") + 1
        data = bytes(self.buf[:i])
        del self.buf[:i]
        return data


def uart_test(conn, peer):
    """tests/arm/test_uart.c's protocol (see the top of this file)."""
    rng = random.Random(20261201)
    echo = make_lines(rng, ECHO_BYTES)
    burst = bytes(rng.choice(ALPHABET) for _ in range(BURST))  # no newline in it
    after = [b"after the overrun\n", b"bytes still in order\n", b"x\n"]
    t0 = time.monotonic()
    # 1. echo, both directions at once, with at most RX_RING bytes sent
    # and not yet echoed: then the firmware's RX ring cannot overflow,
    # however the host schedules this script and qemu (a UART has no
    # flow control; a stalled reader here would stall the firmware's
    # writes, and its reading, and lose bytes -- the overflow is phase 2).
    conn.setblocking(False)
    tail = b"!burst %d %d\n" % (BURST, ECHO_BYTES)
    sent = 0
    while len(peer.buf) < ECHO_BYTES:
        window = sent - len(peer.buf) < RX_RING and sent < ECHO_BYTES
        r, w, _ = select.select([conn], [conn] if window else [], [], STEP)
        if not r and not w:
            raise AssertionError("echo: no progress")
        if w:
            n = min(RX_RING - (sent - len(peer.buf)), ECHO_BYTES - sent)
            sent += conn.send(echo[sent : sent + n])
        if r:
            peer._more()
        # Let bytes gather: qemu sends one per write, and waking for each
        # would take CPU from qemu itself.
        time.sleep(0.002)
    conn.settimeout(STEP)
    conn.sendall(tail)
    got = peer.exact(ECHO_BYTES)
    want = echo.upper()
    if got != want:
        i = next(i for i in range(ECHO_BYTES) if got[i] != want[i])
        raise AssertionError(f"echo differs at byte {i}: {got[i:i+16]!r} != {want[i:i+16]!r}")
    t_echo = time.monotonic() - t0

    # 2. overflow
    line = peer.line()
    if line != b"!ready\n":
        raise AssertionError(f"expected !ready, got {line!r}")
    conn.sendall(burst)
    line = peer.line()
    want_line = b"!overrun %d %d\n" % (RX_RING, BURST - RX_RING)
    if line != want_line:
        raise AssertionError(f"expected {want_line!r}, got {line!r}")
    kept = peer.exact(RX_RING)
    if kept != burst[:RX_RING]:
        raise AssertionError("the bytes before the overrun are not the burst's first ones")

    # 3. carrying on
    for a in after:
        conn.sendall(a)
        line = peer.line()
        if line != a.upper():
            raise AssertionError(f"after the overrun: sent {a!r}, got {line!r}")
    conn.sendall(b"!quit\n")
    return (f"{ECHO_BYTES} bytes echoed each way in {t_echo:.1f} s, {BURST}-byte burst: "
            f"{RX_RING} kept, {BURST - RX_RING} dropped and reported")


def example_test(conn, peer):
    """examples/openmv/uart_echo.c: lines come back upper-cased, in order; it
    runs until qemu is stopped."""
    rng = random.Random(7)
    lines = make_lines(rng, 16 * 1024).splitlines(keepends=True)
    for ln in lines:
        conn.sendall(ln)
        got = peer.line()
        if got != ln.upper():
            raise AssertionError(f"sent {ln!r}, got {got!r}")
    return f"{len(lines)} lines echoed upper-cased"


def kill(qemu):
    qemu.kill()
    qemu.wait()
    return 0  # the example never ends: stopping it is the end of its test


def main():
    example = sys.argv[1] == "--example"
    elf = sys.argv[2] if example else sys.argv[1]
    protocol = example_test if example else uart_test
    out = elf[: -len(".elf")] + ".out" if elf.endswith(".elf") else elf + ".out"
    clock = os.environ.get("UART_QEMU_CLOCK", "-icount shift=10,sleep=off").split()
    tmp = tempfile.mkdtemp(prefix="asyncio-uart-")
    path = os.path.join(tmp, "uart0")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(20)
    t0 = time.monotonic()
    with open(out + ".raw", "wb") as raw:
        qemu = subprocess.Popen(
            ["qemu-system-arm", "-M", "mps2-an500", "-nographic", "-monitor", "none",
             "-semihosting-config", "enable=on,target=native", *clock,
             "-chardev", f"socket,id=uart0,path={path}", "-serial", "chardev:uart0",
             "-kernel", elf],
            stdin=subprocess.DEVNULL, stdout=raw, stderr=subprocess.STDOUT)
    timer = threading.Timer(TIMEOUT, qemu.kill)
    timer.start()
    err = None
    try:
        conn, _ = srv.accept()
        conn.settimeout(TIMEOUT)
        peer = Peer(conn)

        summary = protocol(conn, peer)
        rc = qemu.wait() if not example else kill(qemu)
    except socket.timeout:
        err = f"no answer for {STEP} s"
        qemu.kill()
        rc = qemu.wait()
    except (AssertionError, EOFError, OSError, StopIteration) as e:
        err = e
        qemu.kill()
        rc = qemu.wait()
    finally:
        timer.cancel()
        srv.close()
        try:
            os.unlink(path)
            os.rmdir(tmp)
        except OSError:
            pass
    elapsed = time.monotonic() - t0
    with open(out + ".raw", "rb") as f:
        text = f.read().decode(errors="replace")
    lines = [ln for ln in text.splitlines() if not ln.startswith("qemu-system-arm: ")]
    with open(out, "w") as f:
        f.write("".join(ln + "\n" for ln in lines))
    if err is not None:
        fail(elf, f"host side: {err} (after {elapsed:.1f} s, qemu exit {rc})", out)
    if rc != 0:
        fail(elf, f"exit status {rc}", out)
    if example:
        print(f"ok   {elf} ({summary}; {elapsed:.1f} s)")
        return
    if not lines or not lines[-1].startswith("PASS"):
        fail(elf, "no PASS line", out)
    print(f"ok   {elf} ({summary}; {elapsed:.1f} s, exit {rc}, {lines[-1]})")


if __name__ == "__main__":
    main()
