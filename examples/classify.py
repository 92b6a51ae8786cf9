#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Classifies a subtitle file (or a labelled AG News CSV) with lstmclassify and
prints every buffer's class, read from its GstSeqnnClassMeta in a pad probe,
then the EOS summary that lstmclassify posts when the records carry labels.
With --context=smooth (or stream) the class is the context-aware one, and
each line also gives what the cue alone said (the meta's cue-alone
probabilities: "alone LABEL CONFIDENCE", or "alone -" for a cue without
tokens).

Usage: examples/classify.py [--context=none|smooth|stream] FILE.srt|FILE.vtt|FILE.csv [MODEL]
Needs python3-gi, gir1.2-gstreamer-1.0 and the GstSeqnn typelib (uninstalled:
GI_TYPELIB_PATH and LD_LIBRARY_PATH = build/gst, GST_PLUGIN_PATH = build/gst;
`meson devenv -C build` sets all three).
"""
import sys

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstSeqnn", "1.0")
from gi.repository import Gst, GstSeqnn  # noqa: E402


def clock_time(t):
    if t == Gst.CLOCK_TIME_NONE:
        return None
    ms = t // Gst.MSECOND
    return "%02d:%02d:%02d.%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)


def main(argv):
    context = "none"
    if len(argv) > 1 and argv[1].startswith("--context="):
        context = argv.pop(1).split("=", 1)[1]
    if len(argv) not in (2, 3):
        print("Usage: classify.py [--context=none|smooth|stream] FILE.srt|FILE.vtt|FILE.csv [MODEL]",
              file=sys.stderr)
        return 2
    path, model = argv[1], argv[2] if len(argv) == 3 else "models/agnews.model"
    Gst.init(None)
    # subtitles: one record per cue (with its time); CSV: one per row (with its label)
    parse = "seqtokenize format=csv" if path.endswith(".csv") else "subparse"
    pipeline = Gst.parse_launch("filesrc name=src ! %s ! lstmclassify name=classify ! fakesink" % parse)
    pipeline.get_by_name("src").set_property("location", path)
    classify = pipeline.get_by_name("classify")
    classify.set_property("model", model)
    Gst.util_set_object_arg(classify, "context", context)
    count = 0

    def on_buffer(pad, info):
        nonlocal count
        buf = info.get_buffer()
        meta = GstSeqnn.buffer_get_seqnn_class_meta(buf)
        count += 1
        if meta is not None:
            when = clock_time(buf.pts) or "#%d" % count
            line = "%-12s  %-8s  %.6f" % (when, meta.label, meta.confidence)
            if context != "none":
                cue = meta.get_cue_probabilities()   # [] for a cue without tokens
                best = max(range(len(cue)), key=cue.__getitem__) if cue else None
                line += "  alone %-8s %.6f" % (meta.get_labels()[best], cue[best]) if cue else "  alone -"
            print(line)
        return Gst.PadProbeReturn.OK

    classify.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        return follow_bus(pipeline.get_bus())
    finally:
        pipeline.set_state(Gst.State.NULL)


def follow_bus(bus):
    """Prints the EOS summary (labelled input), then EOS; 1 on an error."""
    while True:
        msg = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE,
                                     Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s.get_name() == "lstmclassify-summary":
                print("summary       count %d  accuracy %.4f  macro-F1 %.4f"
                      % (s.get_value("count"), s.get_value("accuracy"), s.get_value("macro-f1")))
            continue
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print("error: %s (%s)" % (err.message, debug), file=sys.stderr)
            return 1
        print("EOS")
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
