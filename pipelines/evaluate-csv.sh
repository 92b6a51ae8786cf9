#!/usr/bin/env bash
# Evaluate a model on a labelled file: accuracy, per-class precision/recall/F1
# and the confusion matrix (lstmclassify's EOS summary).
# Usage: pipelines/evaluate-csv.sh DATA [MODEL [seqtokenize property=value ...]]
#   AG News-style CSV by default; other layouts with seqtokenize's properties, e.g.
#   pipelines/evaluate-csv.sh test.tsv my.model format=tsv label-column=label text-columns=sentence
set -euo pipefail
source "$(dirname "$0")/env.sh"
data=${1:?usage: $0 DATA [MODEL [seqtokenize property=value ...]]}
model=${2:-$default_model}
shift $(( $# < 2 ? $# : 2 ))
"$gst_launch" -m filesrc location="$data" ! seqtokenize format=csv model="$model" "$@" ! \
  lstmclassify model="$model" batch-size=256 ! fakesink 2>&1 | python3 "$here/format-summary.py"
