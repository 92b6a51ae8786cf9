#!/usr/bin/env bash
# Train a classifier from an AG News-style CSV ("class","title","description").
# Usage: pipelines/train-csv.sh TRAIN.csv OUT.model [lstmtrain property=value ...]
# Example: pipelines/train-csv.sh ../shared/data/agnews/train.csv my.model epochs=3 metrics-file=m.csv
set -euo pipefail
source "$(dirname "$0")/env.sh"
train=${1:?usage: $0 TRAIN.csv OUT.model [property=value ...]}
out=${2:?usage: $0 TRAIN.csv OUT.model [property=value ...]}
shift 2
"$gst_launch" filesrc location="$train" ! seqtokenize format=csv ! lstmtrain model-out="$out" "$@"
