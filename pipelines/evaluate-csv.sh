#!/usr/bin/env bash
# Evaluate a model on a labelled AG News-style CSV: accuracy, per-class
# precision/recall/F1 and the confusion matrix (lstmclassify's EOS summary).
# Usage: pipelines/evaluate-csv.sh DATA.csv [MODEL]
set -euo pipefail
source "$(dirname "$0")/env.sh"
data=${1:?usage: $0 DATA.csv [MODEL]}
model=${2:-$default_model}
"$gst_launch" -m filesrc location="$data" ! seqtokenize format=csv ! \
  lstmclassify model="$model" batch-size=256 ! fakesink 2>&1 | python3 "$here/format-summary.py"
