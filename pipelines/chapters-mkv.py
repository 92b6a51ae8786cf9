#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Subtitles and their topic chapters in one Matroska file.

Usage: pipelines/chapters-mkv.py FILE.srt OUT.mkv [MODEL]

matroskamux writes chapters with its header, before the first buffer, so the
chapters must be known first: pass 1 runs
    filesrc ! subparse ! lstmclassify context=smooth lookahead=5 s ! fakesink
and takes the TOC that lstmclassify sends before EOS (one chapter per topic
segment, the label as title); pass 2 runs
    filesrc ! subparse ! matroskamux ! filesink
with that TOC set on the muxer (GstTocSetter). matroskademux, mkvinfo and
players show the chapters.
"""
import os
import sys

import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
build = os.environ.get("SEQNN_BUILD_DIR", os.path.join(root, "build"))
if os.path.isdir(os.path.join(build, "gst")):
    os.environ["GST_PLUGIN_PATH"] = os.path.join(build, "gst") + \
        (":" + os.environ["GST_PLUGIN_PATH"] if os.environ.get("GST_PLUGIN_PATH") else "")


def run(pipeline):
    """Plays to EOS; returns the first TOC posted (or None)."""
    toc = None
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    while True:
        msg = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE,
                                     Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.TOC)
        if msg.type == Gst.MessageType.TOC:
            toc = toc or msg.parse_toc()[0]
            continue
        pipeline.set_state(Gst.State.NULL)
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            sys.exit("chapters-mkv: %s" % err.message)
        return toc


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2])
    srt, out = sys.argv[1], sys.argv[2]
    model = sys.argv[3] if len(sys.argv) > 3 else os.path.join(root, "models", "agnews.model")
    Gst.init(None)
    p1 = Gst.parse_launch("filesrc name=src ! subparse ! lstmclassify name=cls context=smooth "
                          "lookahead=5000000000 ! fakesink")
    p1.get_by_name("src").set_property("location", srt)
    p1.get_by_name("cls").set_property("model", model)
    toc = run(p1)
    if toc is None:
        sys.exit("chapters-mkv: no topic segments in %s" % srt)
    tmp = out + ".part"
    p2 = Gst.parse_launch("filesrc name=src ! subparse ! matroskamux name=mux ! filesink name=sink")
    p2.get_by_name("src").set_property("location", srt)
    p2.get_by_name("sink").set_property("location", tmp)
    p2.get_by_name("mux").set_toc(toc)
    run(p2)
    os.replace(tmp, out)
    for edition in toc.get_entries():
        for ch in edition.get_sub_entries():
            _, start, stop = ch.get_start_stop_times()
            ok, title = ch.get_tags().get_string(Gst.TAG_TITLE)
            print("%8.3f s  %8.3f s  %s" % (start / 1e9, stop / 1e9, title))


if __name__ == "__main__":
    main()
