#!/usr/bin/env bash
# Classify each line (utterance) of a plain-text transcript.
# Usage: pipelines/classify-transcript.sh FILE.txt [MODEL]
set -euo pipefail
source "$(dirname "$0")/env.sh"
file=${1:?usage: $0 FILE.txt [MODEL]}
model=${2:-$default_model}
"$gst_launch" -q filesrc location="$file" ! seqtokenize format=text drop-empty=true ! \
  lstmclassify model="$model" annotate=json ! fdsink fd=1 | python3 "$here/format-jsonl.py"
