#!/usr/bin/env python3
"""Formats lstmclassify annotate=json lines (stdin) as a table: time, topic, confidence, text."""
import json
import sys


def clock(ns):
    if ns is None:
        return "--:--:--.---"
    ms = ns // 1_000_000
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    text = " ".join(r["text"].split())
    truth = f"  (true: {r['true-label']})" if "true-label" in r else ""
    print(f"{clock(r['pts'])}  {r['label']:<9} {r['confidence']:.2f}  {text}{truth}", flush=True)
