#!/usr/bin/env bash
# Classify every cue of a SubRip (.srt) or WebVTT (.vtt) file by topic.
# Usage: pipelines/classify-subtitles.sh FILE.srt|FILE.vtt [MODEL]
set -euo pipefail
source "$(dirname "$0")/env.sh"
file=${1:?usage: $0 FILE.srt|FILE.vtt [MODEL]}
model=${2:-$default_model}
"$gst_launch" -q filesrc location="$file" ! subparse ! \
  lstmclassify model="$model" annotate=json ! fdsink fd=1 | python3 "$here/format-jsonl.py"
