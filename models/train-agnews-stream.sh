#!/usr/bin/env bash
# Trains models/agnews-stream.model (the stream model for lstmclassify context=stream)
# exactly as shipped, with the project's own gst-launch-1.0 pipeline, then evaluates it
# on a broadcast built from the dev split (models/eval-agnews-stream.py).
# Usage: models/train-agnews-stream.sh [OUT.model]   (default: models/agnews-stream.model)
# Needs ../shared/data/agnews (train.csv, dev.csv), a build and /usr/bin/python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
source pipelines/env.sh
data=${SEQNN_SHARED_DATA:-$root/../shared/data}
out=${1:-models/agnews-stream.model}
metrics=${out%.model}-metrics.csv

# Same seed, same data and same n-threads give a bit-identical model. dev.csv is the
# validation stream (per-cue accuracy at each epoch's end); it does not train.
time gst-launch-1.0 filesrc location="$data/agnews/train.csv" ! seqtokenize format=csv ! \
  lstmtrain model-out="$out" metrics-file="$metrics" stream-training=true \
    cell=lstm layers=1 bidirectional=false head=last embed-dim=64 hidden-dim=128 \
    epochs=4 min-freq=3 batch-size=32 stream-window=32 optimizer=adam learning-rate=0.002 \
    clip-norm=5 seed=0 n-threads=1 validation-location="$data/agnews/dev.csv"

/usr/bin/python3 models/eval-agnews-stream.py --data "$data/agnews/dev.csv" --model "$out"
ls -l "$out"
