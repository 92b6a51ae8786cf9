#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Context across cues, measured: a news broadcast built from labelled stories.

Builds a broadcast from a labelled AG News CSV (stories in a fixed random order,
each cut into cues of 4 to 10 words, about 2.5 s each, back to back, written as
SRT), runs it through

    gst-launch-1.0 filesrc ! subparse ! lstmclassify annotate=json [context=...] ! fdsink

with the uninstalled plugin from the build folder, and prints for each mode the
per-cue accuracy (the cue's story's class is the truth), the topic-boundary F1
(a predicted change of topic counts when it lies within one cue of a true one;
each true change is matched at most once) and the pipeline's cues/s next to
context=none's (per CPU second of the
gst-launch-1.0 process, start-up subtracted). The ceiling row classifies each story whole (seqtokenize
format=csv) and gives every cue its story's result.

Modes the element does not offer (an older build) and a missing stream model
(models/agnews-stream.model, or --stream-model) are printed as n/a.
--tune runs context=none once and sweeps topic-persistence offline over the
cue-alone probabilities with the same sticky-HMM filter as lib/context.c (a
numpy copy, for choosing the default; the element's own rows are the measure);
--tune-stream does the same for stream-persistence over the probabilities of
context=stream (lookahead 0) with the stream model.

Usage: bench/broadcast.py [--data dev.csv] [--model M] [--stream-model M]
                          [--seed N] [--keep DIR] [--tune | --tune-stream]
Environment: SEQNN_BUILD_DIR (default build), SEQNN_SHARED_DATA (../shared/data).
Tune only on broadcasts built from dev.csv.
"""
import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUE_WORDS = (4, 10)
SECONDS_PER_WORD = 2.5 / 7.0   # a 7-word cue lasts 2.5 s
GAP_S = 0.1                     # between cues


def read_stories(path):
    stories = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if len(row) < 2:
                continue
            stories.append((int(row[0]) - 1, " ".join(row[1:])))
    return stories


def cut_cues(words, rng):
    """Cues of 4..10 words; the last keeps at least 4 unless the story is shorter."""
    cues, i, n = [], 0, len(words)
    lo, hi = CUE_WORDS
    while n - i > hi:
        k = int(rng.integers(lo, hi + 1))
        if n - i - k < lo:          # keep the remainder a full cue
            k = n - i - lo
        cues.append(words[i:i + k])
        i += k
    if i < n:
        cues.append(words[i:])
    return cues


def srt_time(t):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d,%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)


def build_broadcast(stories, seed, srt_path, csv_path):
    """Writes the SRT and the stories in broadcast order (CSV); returns per-cue
    labels and story indices (in broadcast order)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(stories))
    labels, story_of = [], []
    t = 0.0
    with open(srt_path, "w", encoding="utf-8") as srt, \
            open(csv_path, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out, quoting=csv.QUOTE_ALL)
        n = 0
        for s, idx in enumerate(order):
            label, text = stories[idx]
            w.writerow([str(label + 1), text])
            for cue in cut_cues(text.split(), rng):
                dur = len(cue) * SECONDS_PER_WORD
                n += 1
                srt.write("%d\n%s --> %s\n%s\n\n" % (n, srt_time(t), srt_time(t + dur), " ".join(cue)))
                t += dur + GAP_S
                labels.append(label)
                story_of.append(s)
    return np.array(labels), np.array(story_of), len(order)


def env():
    e = dict(os.environ)
    build = e.get("SEQNN_BUILD_DIR", os.path.join(ROOT, "build"))
    e["GST_PLUGIN_PATH"] = os.path.join(build, "gst") + (":" + e["GST_PLUGIN_PATH"] if e.get("GST_PLUGIN_PATH") else "")
    return e


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_pipeline(source, props):
    """Returns (list of JSON objects, CPU seconds (user + sys) of the run), or
    (None, error text). CPU time, not elapsed: on a shared machine it moves
    far less with the load."""
    cmd = ["gst-launch-1.0", "-q"] + source + ["!", "lstmclassify", "annotate=json"] + props + ["!", "fdsink", "fd=1"]
    t0 = cpu_children()
    p = subprocess.run(cmd, env=env(), capture_output=True, text=True)
    wall = cpu_children() - t0
    if p.returncode != 0:
        return None, (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:] or ["exit %d" % p.returncode]
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")], wall


def boundaries(seq):
    return [i for i in range(1, len(seq)) if seq[i] != seq[i - 1]]


def boundary_f1(true_seq, pred_seq, tol=1):
    true_b, pred_b = boundaries(true_seq), boundaries(pred_seq)
    if not true_b and not pred_b:
        return 1.0
    used, hits, j = set(), 0, 0
    for b in pred_b:              # both sorted: greedy nearest free true boundary
        while j < len(true_b) and true_b[j] < b - tol:
            j += 1
        for k in range(j, len(true_b)):
            if true_b[k] > b + tol:
                break
            if k not in used:
                used.add(k)
                hits += 1
                break
    p = hits / len(pred_b) if pred_b else 0.0
    r = hits / len(true_b) if true_b else 0.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def sticky_filter(probs, persistence, lag):
    """numpy copy of lib/context.c's filter: posterior/prior as likelihood,
    forward filtering, fixed-lag smoothing over `lag` following cues."""
    n, C = probs.shape
    off = (1.0 - persistence) / (C - 1)
    like = np.maximum(probs, 1e-30) * C
    alpha = np.empty_like(probs)
    a = np.full(C, 1.0 / C)
    for t in range(n):
        a = like[t] * (persistence * a + off * (1.0 - a))
        a /= a.sum()
        alpha[t] = a
    out = np.empty(n, dtype=int)
    for t in range(n):
        beta = np.ones(C)
        for s in range(min(n - 1, t + lag), t, -1):
            lb = like[s] * beta
            beta = persistence * lb + off * (lb.sum() - lb)
            beta /= beta.sum()
        out[t] = int(np.argmax(alpha[t] * beta))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = os.environ.get("SEQNN_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--data", default=os.path.join(data, "agnews", "dev.csv"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "agnews.model"))
    ap.add_argument("--stream-model", default=os.path.join(ROOT, "models", "agnews-stream.model"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="folder to keep the broadcast (SRT, CSV) in")
    ap.add_argument("--tune", action="store_true", help="offline topic-persistence sweep")
    ap.add_argument("--tune-stream", action="store_true",
                    help="offline stream-persistence sweep over context=stream's probabilities")
    args = ap.parse_args()
    if not os.path.exists(args.data):
        print("broadcast: %s not found (set SEQNN_SHARED_DATA)" % args.data, file=sys.stderr)
        return 77

    tmp = tempfile.TemporaryDirectory()
    folder = args.keep or tmp.name
    os.makedirs(folder, exist_ok=True)
    srt, stories_csv = os.path.join(folder, "broadcast.srt"), os.path.join(folder, "stories.csv")
    one = os.path.join(folder, "one.srt")
    labels, story_of, n_stories = build_broadcast(read_stories(args.data), args.seed, srt, stories_csv)
    with open(one, "w") as f:
        f.write("1\n00:00:00,000 --> 00:00:01,000\nstart up\n\n")
    n = len(labels)
    print("broadcast: %d stories from %s, %d cues, seed %d" %
          (n_stories, os.path.basename(args.data), n, args.seed))

    if args.tune:
        return tune(srt, args.model, labels, [])
    if args.tune_stream:
        return tune(srt, args.stream_model, labels, ["context=stream"])

    la1, la2 = "2500000000", "5000000000"
    modes = [
        ("none", args.model, []),
        ("smooth lookahead 0", args.model, ["context=smooth"]),
        ("smooth lookahead 2.5 s", args.model, ["context=smooth", "lookahead=" + la1]),
        ("smooth lookahead 5 s", args.model, ["context=smooth", "lookahead=" + la2]),
        ("stream lookahead 0", args.stream_model, ["context=stream"]),
        ("stream lookahead 2.5 s", args.stream_model, ["context=stream", "lookahead=" + la1]),
        ("stream lookahead 5 s", args.stream_model, ["context=stream", "lookahead=" + la2]),
    ]
    print("%-24s %9s %12s %9s %9s" % ("mode", "accuracy", "boundary-F1", "cues/cpu-s", "x none"))
    base = None
    for name, model, props in modes:
        props = ["model=" + model] + props
        if not os.path.exists(model):
            print("%-24s n/a (%s not found)" % (name, os.path.relpath(model, ROOT)))
            continue
        res, wall = run_pipeline(["filesrc", "location=" + srt, "!", "subparse"], props)
        if res is None:
            print("%-24s n/a (%s)" % (name, " ".join(wall)))
            continue
        _, start = run_pipeline(["filesrc", "location=" + one, "!", "subparse"], props)
        if len(res) != n:
            print("%-24s n/a (%d results for %d cues)" % (name, len(res), n))
            continue
        pred = np.array([r["class-id"] for r in res])
        cps = n / max(wall - (start if isinstance(start, float) else 0.0), 1e-9)
        base = base or cps
        print("%-24s %9.4f %12.4f %9.0f %8.2fx" % (name, np.mean(pred == labels),
              boundary_f1(labels, pred), cps, cps / base))
    res, _ = run_pipeline(["filesrc", "location=" + stories_csv, "!", "seqtokenize", "format=csv"],
                          ["model=" + args.model, "batch-size=64"])
    if res is None or len(res) != n_stories:
        print("%-24s n/a" % "ceiling (story whole)")
    else:
        story_pred = np.array([r["class-id"] for r in res])
        pred = story_pred[story_of]
        print("%-24s %9.4f %12.4f %9s   (story accuracy %.4f)" % ("ceiling (story whole)",
              np.mean(pred == labels), boundary_f1(labels, pred), "-",
              np.mean(story_pred == labels[np.searchsorted(story_of, np.arange(n_stories))])))
    return 0


def tune(srt, model, labels, props):
    """Sweeps the filter's persistence offline over the probabilities the
    element gives with props (none: cue alone; context=stream: the stream's),
    lag in cues."""
    res, wall = run_pipeline(["filesrc", "location=" + srt, "!", "subparse"], ["model=" + model] + props)
    if res is None:
        print("tune: " + " ".join(wall), file=sys.stderr)
        return 1
    probs = np.array([r["probabilities"] for r in res], dtype=np.float64)
    print("%s: accuracy %.4f boundary-F1 %.4f" % (" ".join(props) or "none", np.mean(probs.argmax(1) == labels),
          boundary_f1(labels, probs.argmax(1))))
    print("%-12s %s" % ("persistence", "  ".join("lag%d acc / F1  " % l for l in (0, 1, 2))))
    for p in (0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99):
        cells = []
        for lag in (0, 1, 2):
            pred = sticky_filter(probs, p, lag)
            cells.append("%.4f / %.4f" % (np.mean(pred == labels), boundary_f1(labels, pred)))
        print("%-12s %s" % (p, "  ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
