#!/usr/bin/env bash
# A live-paced run: cues are released at their own times (clocksync), and
# lstmclassify runs a partial batch once its oldest cue has waited
# max-latency, so each result arrives within that bound of its cue.
# Usage: pipelines/live-classify.sh FILE.srt [MODEL] [MAX_LATENCY_MS]
set -euo pipefail
source "$(dirname "$0")/env.sh"
file=${1:?usage: $0 FILE.srt [MODEL] [MAX_LATENCY_MS]}
model=${2:-$default_model}
latency_ms=${3:-200}
"$gst_launch" -q filesrc location="$file" ! subparse ! clocksync ! \
  lstmclassify model="$model" batch-size=8 max-latency=$((latency_ms * 1000000)) annotate=json ! \
  fdsink fd=1 sync=true | python3 "$here/format-jsonl.py"
