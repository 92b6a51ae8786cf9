#!/usr/bin/env python3
"""Formats lstmclassify annotate=json lines (stdin) as a table: time (or record
number when the input had no timestamps), topic, confidence, text."""
import json
import signal
import sys

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head


def clock(ns):
    ms = ns // 1_000_000
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


for n, line in enumerate(line for line in sys.stdin if line.strip()):
    r = json.loads(line)
    text = " ".join(r["text"].split())
    truth = f"  (true: {r['true-label']})" if "true-label" in r else ""
    when = clock(r['pts']) if r['pts'] is not None else f"#{n + 1:<11}"
    print(f"{when}  {r['label']:<9} {r['confidence']:.2f}  {text}{truth}", flush=True)
