#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Per-cue accuracy of a stream model on a broadcast, through the library.

Builds the broadcast exactly as bench/broadcast.py does (its build_broadcast:
stories of a labelled AG News CSV in a fixed random order, each cut into cues
of 4 to 10 words, back to back), runs every cue's text through
tests/stream/seqnn-stream-cues (seqnn_stream_run with the state carried from
cue to cue, no lookahead; and with --alone, the state reset before each cue)
and prints per-cue accuracy and topic-boundary F1 for both.

Usage: models/eval-agnews-stream.py [--data dev.csv] [--model M] [--seed N]
Environment: SEQNN_BUILD_DIR (default build), SEQNN_SHARED_DATA (../shared/data).
Only dev.csv is for tuning.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import broadcast  # noqa: E402


def srt_texts(path):
    """The text of each SRT block, in order."""
    with open(path, encoding="utf-8") as f:
        blocks = f.read().strip("\n").split("\n\n")
    return [" ".join(b.split("\n")[2:]) for b in blocks]


def classify(tool, model, texts, alone):
    cmd = [tool, model] + (["--alone"] if alone else [])
    t0 = time.monotonic()
    p = subprocess.run(cmd, input="\n".join(texts) + "\n", capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("eval: %s" % p.stderr.strip())
    return np.array([int(x) for x in p.stdout.split()]), time.monotonic() - t0


def main():
    data = os.environ.get("SEQNN_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
    build = os.environ.get("SEQNN_BUILD_DIR", os.path.join(ROOT, "build"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(data, "agnews", "dev.csv"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "agnews-stream.model"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    tool = os.path.join(build, "tests", "stream", "seqnn-stream-cues")
    with tempfile.TemporaryDirectory() as tmp:
        srt, stories = os.path.join(tmp, "b.srt"), os.path.join(tmp, "s.csv")
        labels, _, n_stories = broadcast.build_broadcast(broadcast.read_stories(args.data), args.seed,
                                                         srt, stories)
        texts = srt_texts(srt)
    assert len(texts) == len(labels), (len(texts), len(labels))
    print("broadcast: %d stories from %s, %d cues, seed %d; model %s" % (
        n_stories, os.path.basename(args.data), len(texts), args.seed, os.path.relpath(args.model, ROOT)))
    for name, alone in (("stream, lookahead 0", False), ("same model, cue alone", True)):
        pred, seconds = classify(tool, args.model, texts, alone)
        print("%-22s per-cue accuracy %.4f  boundary-F1 %.4f  (%.1f s, %.0f cues/s)" % (
            name, np.mean(pred == labels), broadcast.boundary_f1(labels, pred), seconds,
            len(texts) / max(seconds, 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
