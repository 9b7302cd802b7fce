#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Render a trace written by tools/trace/asyncio_trace.c as an SVG timeline.

    python3 tools/trace/render.py TRACE.json OUT.svg [--from MS] [--to MS] [--width PX]
                                  [--title TEXT]

One row per track, in the recorder's order (idle, flag sets, then the tasks
in order of appearance), named as in the trace's metadata. A run slice is a
box (at least 2 px wide, so runs that take no virtual time still show), an
idle wait a grey box, an instant event a tick: a flag set orange, a task's
creation and end dark. No dependency beyond the standard library."""
import json
import sys
from xml.sax.saxutils import escape


def main(argv):
    args = {"--from": None, "--to": None, "--width": "960", "--title": None}
    pos = []
    i = 1
    while i < len(argv):
        if argv[i] in args:
            args[argv[i]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) != 2:
        sys.exit(__doc__)
    with open(pos[0]) as f:
        events = json.load(f)["traceEvents"]

    names, order = {}, {}
    for e in events:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        elif e["ph"] == "M" and e["name"] == "thread_sort_index":
            order[e["tid"]] = e["args"]["sort_index"]
    timed = [e for e in events if e["ph"] in ("X", "i")]
    t0 = float(args["--from"]) * 1000 if args["--from"] else min(e["ts"] for e in timed)
    t1 = float(args["--to"]) * 1000 if args["--to"] else max(e["ts"] + e.get("dur", 0)
                                                              for e in timed)
    tids = sorted({e["tid"] for e in timed} | set(names), key=lambda t: order.get(t, t))

    width, label_w, row_h, top = int(args["--width"]), 280, 22, 30
    plot_w = width - label_w - 10
    height = top + row_h * len(tids) + 30
    x = lambda ts: label_w + (ts - t0) * plot_w / (t1 - t0)
    row = {t: top + i * row_h for i, t in enumerate(tids)}
    palette = ["#4e79a7", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
               "#ff9da7"]

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="monospace" font-size="11">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>']
    for i, t in enumerate(tids):
        y = row[t]
        if i % 2:
            out.append('<rect x="0" y="%d" width="%d" height="%d" fill="#f4f4f4"/>'
                       % (y, width, row_h))
        out.append('<text x="4" y="%d">%s</text>' % (y + 15, escape(names.get(t, str(t)))))
    # the time axis: a tick every "nice" number of ms
    span_ms = (t1 - t0) / 1000.0
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
                if span_ms / s <= 12)
    ms = int(t0 / 1000 / step) * step
    while ms * 1000 <= t1:
        if ms * 1000 >= t0:
            xx = x(ms * 1000)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ccc"/>'
                       % (xx, top - 4, xx, height - 24))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%g ms</text>'
                       % (xx, height - 10, ms))
        ms += step
    out.append('<text x="4" y="16" font-weight="bold">%s</text>'
               % escape(args["--title"] or "asyncio timeline: %s" % pos[0].split("/")[-1]))
    for e in timed:
        end = e["ts"] + e.get("dur", 0)
        if end < t0 or e["ts"] > t1:
            continue
        y = row[e["tid"]]
        if e["ph"] == "X":
            x0, x1 = max(x(e["ts"]), label_w), min(x(end), width - 10)
            w = max(x1 - x0, 2.0)
            idle = e["name"] == "idle"
            color = "#d0d0d0" if idle else palette[e["tid"] % len(palette)]
            tip = "%s %s" % (e["name"], ", ".join("%s: %s" % kv for kv in e.get("args", {}).items()))
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s">'
                       '<title>%s</title></rect>' % (x0, y + 3, w, row_h - 6, color, escape(tip)))
        else:
            xx = x(e["ts"])
            color = "#f28e2b" if e["name"] == "flag set" else "#333"
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.5">'
                       '<title>%s</title></line>' % (xx, y + 1, xx, y + row_h - 1, color,
                                                     escape(e["name"])))
    out.append("</svg>")
    with open(pos[1], "w") as f:
        f.write("\n".join(out) + "\n")


main(sys.argv)
