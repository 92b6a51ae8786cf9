#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The metas from Python through GObject introspection (GstSeqnn-1.0.typelib):
arrays come out as lists of the right length, strings as str, a buffer
without a meta gives None; then the metas of a real pipeline
(subparse ! seqtokenize model= ! lstmclassify context=none|smooth) read from
an appsink, the cue-alone probabilities with them."""
import math
import os
import sys

if os.environ.get("SEQNN_HAVE_GIR") != "1":
    print("SKIP: built without GObject introspection (no GstSeqnn typelib)")
    sys.exit(77)
if os.environ.get("SEQNN_UNDER_VALGRIND") == "1":
    print("SKIP under valgrind: runs the Python interpreter; the accessors are covered by gst-meta under valgrind")
    sys.exit(77)

import gi  # noqa: E402
gi.require_version("Gst", "1.0")
gi.require_version("GstSeqnn", "1.0")
from gi.repository import Gst, GstSeqnn  # noqa: E402

ROOT = os.environ["SEQNN_SOURCE_ROOT"]
MODEL = os.path.join(ROOT, "models", "agnews.model")
SRT = os.path.join(ROOT, "data", "sample-news.srt")
AG_NEWS = ["World", "Sports", "Business", "Sci/Tech"]


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)


def test_made_here():
    buf = Gst.Buffer.new_wrapped(b"the game")
    check(GstSeqnn.buffer_get_seqnn_class_meta(buf) is None, "no class meta gives None")
    check(GstSeqnn.buffer_get_seqnn_tokens_meta(buf) is None, "no tokens meta gives None")
    GstSeqnn.buffer_add_seqnn_tokens_meta(buf, ["the", "game"], [2, 7], "Sports", 1)
    GstSeqnn.buffer_add_seqnn_class_meta(buf, [0.25, 0.75], ["a", "b"])
    m = GstSeqnn.buffer_get_seqnn_class_meta(buf)
    check((m.label, m.class_id, m.n_classes) == ("b", 1, 2), "class meta fields %r" % ((m.label, m.class_id),))
    check(isinstance(m.label, str) and m.confidence == 0.75, "label str, confidence 0.75")
    check(m.get_probabilities() == [0.25, 0.75], "probabilities %r" % m.get_probabilities())
    check(m.get_labels() == ["a", "b"], "labels %r" % m.get_labels())
    check(m.get_cue_probabilities() == [], "no cue-alone probabilities: %r" % m.get_cue_probabilities())
    m.set_cue_probabilities([0.5, 0.5])
    check(m.get_cue_probabilities() == [0.5, 0.5] and m.class_id == 1, "cue-alone probabilities set")
    m.set_cue_probabilities(None)
    check(m.get_cue_probabilities() == [], "cue-alone probabilities removed")
    t = GstSeqnn.buffer_get_seqnn_tokens_meta(buf)
    check(t.get_tokens() == ["the", "game"] and t.get_ids() == [2, 7], "tokens %r ids %r" % (t.get_tokens(), t.get_ids()))
    check((t.label, t.label_id, t.n_tokens) == ("Sports", 1, 2), "tokens meta label")
    # no vocabulary, no label, no names
    buf = Gst.Buffer.new()
    t = GstSeqnn.buffer_add_seqnn_tokens_meta(buf, ["x"], None, None, -1)
    m = GstSeqnn.buffer_add_seqnn_class_meta(buf, [1.0], None)
    check(t.get_ids() == [] and t.label is None and t.get_tokens() == ["x"], "tokens meta without ids")
    check(m.get_labels() == [] and m.label is None, "class meta without names: %r" % m.get_labels())


def test_pipeline(context):
    """context: lstmclassify's context property; with smooth every cue also
    carries its cue-alone probabilities, which differ from the decided ones
    somewhere (the context moved them) and sum to 1."""
    pipeline = Gst.parse_launch(
        "filesrc location=%s ! subparse ! seqtokenize model=%s ! lstmclassify model=%s context=%s"
        " ! appsink name=out sync=false" % (SRT, MODEL, MODEL, context))
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    n = moved = 0
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buf = sample.get_buffer()
        m = GstSeqnn.buffer_get_seqnn_class_meta(buf)
        t = GstSeqnn.buffer_get_seqnn_tokens_meta(buf)
        check(m is not None and t is not None, "buffer %d has both metas" % n)
        probs = m.get_probabilities()
        check(len(probs) == 4 and abs(math.fsum(probs) - 1.0) < 1e-5, "probabilities %r" % probs)
        check(m.get_labels() == AG_NEWS and m.label == AG_NEWS[m.class_id], "labels %r" % m.get_labels())
        check(m.confidence == max(probs) == probs[m.class_id], "confidence is the top probability")
        cue = m.get_cue_probabilities()
        if context == "none":
            check(cue == [], "context=none: no cue-alone probabilities, got %r" % cue)
        else:
            check(len(cue) == 4 and abs(math.fsum(cue) - 1.0) < 1e-5, "cue-alone probabilities %r" % cue)
            moved += max(abs(a - b) for a, b in zip(cue, probs)) > 1e-3
        tokens, ids = t.get_tokens(), t.get_ids()
        check(len(tokens) == t.n_tokens == len(ids) > 0, "tokens %r ids %r" % (tokens, ids))
        check(all(isinstance(x, str) for x in tokens) and all(isinstance(i, int) and i >= 0 for i in ids),
              "tokens str, ids int")
        n += 1
    msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    check(msg is None, "pipeline error %r" % (msg.parse_error()[0].message if msg else None))
    check(n == 12, "12 cues, got %d" % n)
    check(context == "none" or moved > 0, "context=smooth moved no cue's probabilities")


Gst.init(None)
test_made_here()
test_pipeline("none")
test_pipeline("smooth")
print("OK")
