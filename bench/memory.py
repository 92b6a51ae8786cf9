#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Resident memory of one process running N lstmclassify pipelines on one model.

Each count runs in a fresh child process: N pipelines
  filesrc location=SRT ! subparse ! lstmclassify model=MODEL ! fakesink
are set to READY (every model loaded, nothing run yet), then to PLAYING
together, and once every one has reached EOS (every workspace used, every
streaming thread started) the child reads its VmRSS (/proc/self/status) and
the Rss sum of /proc/self/smaps_rollup, in kB. The growth per added pipeline
is (RSS(N) - RSS(1)) / (N - 1).

Usage: bench/memory.py [--model M] [--srt S] [--counts 1,4,16] [--build DIR]
                       [--element identity]   (the same pipelines without lstmclassify)
                       [--props "batch-size=1"]  (properties of the element)
Needs python3-gi and gir1.2-gstreamer-1.0; finds the plugin in DIR/gst
(default: build).
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kb():
    status = open("/proc/self/status").read()
    vmrss = int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])
    rollup = open("/proc/self/smaps_rollup").read()
    smaps = int(next(l for l in rollup.splitlines() if l.startswith("Rss:")).split()[1])
    return vmrss, smaps


def child(n, model, srt, element, props):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipelines = []
    for _ in range(n):
        p = Gst.parse_launch("filesrc name=src ! subparse ! %s name=c %s ! fakesink" % (element, props))
        p.get_by_name("src").set_property("location", srt)
        if element == "lstmclassify":
            p.get_by_name("c").set_property("model", model)
        pipelines.append(p)
    for p in pipelines:
        if p.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
            sys.exit("memory.py: a pipeline failed to load its model")
    ready = rss_kb()[0]
    for p in pipelines:
        if p.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            sys.exit("memory.py: a pipeline failed to start")
    for p in pipelines:
        msg = p.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None or msg.type != Gst.MessageType.EOS:
            sys.exit("memory.py: a pipeline did not reach EOS: %s" % (msg.parse_error()[0].message if msg else "timeout"))
    vmrss, smaps = rss_kb()
    for p in pipelines:
        p.set_state(Gst.State.NULL)
    print(ready, vmrss, smaps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "agnews.model"))
    ap.add_argument("--srt", default=os.path.join(ROOT, "data", "sample-news.srt"))
    ap.add_argument("--counts", default="1,4,16")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--element", default="lstmclassify")
    ap.add_argument("--props", default="", help="element properties, e.g. batch-size=1")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.model, a.srt, a.element, a.props)
        return
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(os.path.abspath(a.build), "gst"),
               OPENBLAS_NUM_THREADS="1")
    counts = [int(c) for c in a.counts.split(",")]
    results = {}
    print("             models loaded (READY)     after EOS")
    print("pipelines   VmRSS kB  per added kB   VmRSS kB  per added kB  smaps Rss kB")
    for n in counts:
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--model", a.model, "--srt", a.srt,
                              "--element", a.element, "--props", a.props],
                             env=env, check=True, capture_output=True, text=True).stdout.split()
        results[n] = [int(x) for x in out]
        first = counts[0]

        def per(i):
            return "" if n == first else "%.0f" % ((results[n][i] - results[first][i]) / (n - first))
        print("%9d  %9d  %12s  %9d  %12s  %12d" % (n, results[n][0], per(0), results[n][1], per(1), results[n][2]))


if __name__ == "__main__":
    main()
