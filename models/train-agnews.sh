#!/usr/bin/env bash
# Trains models/agnews.model exactly as shipped, with the project's own
# gst-launch-1.0 pipeline, then evaluates it on the dev split.
# Usage: models/train-agnews.sh [OUT.model]   (default: models/agnews.model)
# Needs ../shared/data/agnews (train.csv, dev.csv) and a build (tools/quickstart.sh or meson).
set -euo pipefail
cd "$(dirname "$0")/.."
source pipelines/env.sh
data=${SEQNN_SHARED_DATA:-$root/../shared/data}
out=${1:-models/agnews.model}
metrics=${out%.model}-metrics.csv

# Same seed, same data and same n-threads give a bit-identical model.
time gst-launch-1.0 filesrc location="$data/agnews/train.csv" ! seqtokenize format=csv ! \
  lstmtrain model-out="$out" metrics-file="$metrics" \
    cell=lstm layers=1 bidirectional=true head=max embed-dim=128 hidden-dim=64 \
    min-freq=2 max-vocab=17000 epochs=3 batch-size=64 optimizer=adam learning-rate=0.006 \
    lr-schedule=linear seed=0 n-threads=2

bash pipelines/evaluate-csv.sh "$data/agnews/dev.csv" "$out"
ls -l "$out"
