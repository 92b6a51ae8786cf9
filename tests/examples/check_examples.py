#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs an example application (examples/classify.py or the C classify) on the
sample subtitle file and on a small labelled CSV, and checks every line it
prints against the JSON lines of `lstmclassify annotate=json` for the same
input: same records in order, same time (or record number), label and
confidence (within the printed precision); the summary's count and accuracy
(labelled input only) agree with the JSON and the CSV's labels; EOS last.

Usage: check_examples.py python|c EXAMPLE
Under the valgrind setup (SEQNN_UNDER_VALGRIND=1) the C example runs under
valgrind on the CSV (the subtitle case needs subparse, whose PCRE2 JIT code
valgrind misreports); the Python example is skipped there (exit 77).
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("SEQNN_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODEL = os.path.join(ROOT, "models", "agnews.model")
SRT = os.path.join(ROOT, "data", "sample-news.srt")
AG_NEWS = ["World", "Sports", "Business", "Sci/Tech"]
CSV_ROWS = [
    (1, "Leaders meet in Brussels", "European Union leaders met to discuss sanctions and the refugee crisis."),
    (1, "UN calls for ceasefire", "The Security Council called for a ceasefire after fighting resumed near the border."),
    (2, "Red Sox beat Yankees", "The Red Sox beat the Yankees 5-3 to take the lead in the American League East."),
    (2, "Williams wins", "Serena Williams advanced to the semifinals at Wimbledon with a straight-sets win."),
    (3, "Stocks fall", "Stocks fell on Wall Street as oil prices climbed above 50 dollars a barrel."),
    (3, "Fed raises rates", "The Federal Reserve raised interest rates by a quarter point, citing inflation."),
    (4, "Windows patch", "Microsoft released a security update for Windows to fix a flaw in its browser."),
    (4, "Water on Mars", "NASA scientists say the Mars rover found new evidence of water beneath the surface."),
]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def reference(path, context="none"):
    parse = "seqtokenize format=csv" if path.endswith(".csv") else "subparse"
    cmd = "gst-launch-1.0 -q filesrc location=%s ! %s ! lstmclassify model=%s context=%s annotate=json ! fdsink" % (
        path, parse, MODEL, context)
    out = subprocess.run(cmd.split(), check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def clock_time(ns):
    ms = ns // 1000000
    return "%02d:%02d:%02d.%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)


def check(kind, example, path, labels=None, context="none"):
    """context (Python only): the example's --context; then each line also
    names the class and confidence of the cue-alone probabilities."""
    cmd = [sys.executable, example] if kind == "python" else [example]
    if kind == "c" and os.environ.get("SEQNN_UNDER_VALGRIND") == "1":
        cmd = ["valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=definite,indirect",
               "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=1", "--num-callers=30",
               "--suppressions=" + os.path.join(ROOT, "tests", "valgrind.supp")] + cmd
    if context != "none":
        cmd = cmd + ["--context=" + context]
    run = subprocess.run(cmd + [path, MODEL], capture_output=True, text=True)
    if run.returncode != 0:
        fail("%s exited with %d: %s" % (" ".join(cmd), run.returncode, run.stderr[-3000:]))
    lines = run.stdout.splitlines()
    ref = reference(path, context)
    print("%s on %s (context=%s): %d lines, %d JSON records" % (kind, os.path.basename(path), context,
                                                               len(lines), len(ref)))
    if not lines or lines[-1] != "EOS":
        fail("the last line is not EOS: %r" % lines[-1:])
    summary = [line for line in lines if line.startswith("summary ")]
    records = [line for line in lines[:-1] if not line.startswith("summary ")]
    if len(records) != len(ref):
        fail("%d records printed, %d in the JSON" % (len(records), len(ref)))
    for i, (line, obj) in enumerate(zip(records, ref)):
        fields = line.split()
        if context != "none":
            cue = obj.get("cue-probabilities")
            want = ["alone", "-"] if cue is None else ["alone", AG_NEWS[cue.index(max(cue))]]
            if fields[3:5] != want or (cue is not None and abs(float(fields[5]) - max(cue)) > 1.5e-6):
                fail("line %d: %r, the JSON's cue-probabilities are %r" % (i + 1, line, cue))
            fields = fields[:3]
        if len(fields) != 3:
            fail("line %d: %r is not 'time label confidence'" % (i + 1, line))
        when = clock_time(obj["pts"]) if obj.get("pts") is not None else "#%d" % (i + 1)
        if fields[0] != when or fields[1] != obj["label"]:
            fail("line %d: %r, the JSON has %s %s" % (i + 1, line, when, obj["label"]))
        if abs(float(fields[2]) - obj["confidence"]) > 1.5e-6:
            fail("line %d: confidence %s, the JSON has %r" % (i + 1, fields[2], obj["confidence"]))
    if labels is None:
        if summary:
            fail("a summary for input without labels: %r" % summary)
        return
    if len(summary) != 1:
        fail("expected one summary line, got %r" % summary)
    f = summary[0].split()
    count, accuracy = int(f[f.index("count") + 1]), float(f[f.index("accuracy") + 1])
    expected = sum(obj["label"] == AG_NEWS[lab - 1] for obj, lab in zip(ref, labels)) / len(ref)
    if count != len(ref) or abs(accuracy - expected) > 1e-4:
        fail("summary %r, expected count %d accuracy %.4f" % (summary[0], len(ref), expected))


def main():
    kind, example = sys.argv[1], sys.argv[2]
    under_valgrind = os.environ.get("SEQNN_UNDER_VALGRIND") == "1"
    if kind == "python":
        if os.environ.get("SEQNN_HAVE_GIR") != "1":
            print("SKIP: built without GObject introspection (no GstSeqnn typelib)")
            sys.exit(77)
        if under_valgrind:
            print("SKIP under valgrind: the Python example runs the interpreter, not the project's code;"
                  " it runs in the normal pass")
            sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "news.csv")
        with open(csv, "w") as out:
            for lab, title, text in CSV_ROWS:
                out.write('"%d","%s","%s"\n' % (lab, title, text))
        check(kind, example, csv, [row[0] for row in CSV_ROWS])
    if under_valgrind:
        print("SKIP of the subtitle case under valgrind (PCRE2 JIT in subparse); it runs in the normal pass")
    else:
        check(kind, example, SRT)
        if kind == "python":
            check(kind, example, SRT, context="smooth")
    print("OK")


if __name__ == "__main__":
    main()
