#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check a trace written by tools/trace/asyncio_trace.c.

    python3 tools/trace/check.py TRACE.json [TASKS]

It must be trace-event JSON (an object with a "traceEvents" list) whose
events carry the fields their phase needs; every track that has events is
named by a thread_name metadata event; and, with TASKS, exactly TASKS
tracks are tasks (tracks with run slices). Exit status 1 with a message
otherwise."""
import json
import sys


def fail(msg):
    print("check.py: %s: %s" % (sys.argv[1], msg), file=sys.stderr)
    sys.exit(1)


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    events = doc.get("traceEvents") if isinstance(doc, dict) else None
    if not isinstance(events, list) or not events:
        fail("no traceEvents list")
    names, used, task_tracks = {}, set(), set()
    for e in events:
        ph = e.get("ph")
        if ph not in ("X", "i", "M"):
            fail("unexpected phase %r" % (ph,))
        if not isinstance(e.get("pid"), int) or not isinstance(e.get("name"), str):
            fail("event without pid or name: %r" % (e,))
        if ph == "M":
            if e["name"] == "thread_name":
                names[e["tid"]] = e["args"]["name"]
            continue
        if not isinstance(e.get("tid"), int) or not isinstance(e.get("ts"), int):
            fail("event without tid or ts: %r" % (e,))
        used.add(e["tid"])
        if ph == "X":
            if not isinstance(e.get("dur"), int) or e["dur"] < 0:
                fail("slice without a duration: %r" % (e,))
            if "suspended at" in e.get("args", {}) or "ended" in e.get("args", {}):
                task_tracks.add(e["tid"])
    unnamed = used - set(names)
    if unnamed:
        fail("tracks without a name: %s" % sorted(unnamed))
    if len(sys.argv) > 2 and len(task_tracks) != int(sys.argv[2]):
        fail("%d task tracks (%s), expected %s" % (
            len(task_tracks), ", ".join(names[t] for t in sorted(task_tracks)), sys.argv[2]))
    print("%s: %d events, %d task tracks: %s" % (
        sys.argv[1], len(events), len(task_tracks),
        ", ".join(names[t].split(" ")[0] for t in sorted(task_tracks))))


main()
