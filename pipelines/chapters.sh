#!/usr/bin/env bash
# Topic chapters of a subtitle file as a WebVTT chapters track (<track kind="chapters">).
# Usage: pipelines/chapters.sh FILE.srt|FILE.vtt OUT.vtt [MODEL]
# Runs filesrc ! subparse ! lstmclassify context=smooth lookahead=5 s ! fakesink
# (CONTEXT=stream with a stream model, e.g. models/agnews-stream.model: context=stream)
# and turns its lstmclassify-segment messages into chapter cues (the label is the title).
set -euo pipefail
source "$(dirname "$0")/env.sh"
file=${1:?usage: $0 FILE.srt|FILE.vtt OUT.vtt [MODEL]}
out=${2:?usage: $0 FILE.srt|FILE.vtt OUT.vtt [MODEL]}
model=${3:-$default_model}
context=${CONTEXT:-smooth}
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$gst_launch" -m filesrc location="$file" ! subparse ! \
  lstmclassify model="$model" context="$context" lookahead=5000000000 ! fakesink |
python3 -c '
import re, sys
def ts(ns):
    ms = int(ns) // 1000000
    return "%02d:%02d:%02d.%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)
print("WEBVTT\n")
n = 0
for line in sys.stdin:
    if "lstmclassify-segment" not in line:
        continue
    f = dict(re.findall(r"([a-z-]+)=\([a-z0-9]+\)(\"(?:[^\"\\\\]|\\\\.)*\"|[^,;]*)", line))
    n += 1
    label = f["label"].strip("\"").replace("\\\\", "")
    print("%d\n%s --> %s\n%s\n" % (n, ts(f["start"]), ts(f["end"]), label))
if n == 0:
    sys.exit("chapters: no segments (is the file empty?)")
' > "$tmp"
mv "$tmp" "$out"
trap - EXIT
