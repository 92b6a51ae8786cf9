#!/usr/bin/env bash
# Time to accuracy (issue 11): fastText and lstmtrain side by side, in one run
# on one machine, each trained on the same train.csv and scored on dev.csv.
# Usage: bench/time-to-accuracy.sh [--quick] [--budgets "30 60 120"]
#   --quick: the first 15,000 training rows (a smoke run, not the figures).
# Needs ../shared/data/agnews; fastText rows need Debian's `fasttext` (0.9.2),
# and the autotune rows an lstmtrain with autotune-duration (skipped otherwise).
# Prints one row per run: name, training wall seconds, CPU seconds (user + system; the
# machine's other load shows as wall above CPU / 2), dev accuracy; and the load (uptime)
# before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${SEQNN_SHARED_DATA:-$root/../shared/data}
build=${SEQNN_BUILD_DIR:-$root/build}
quick=0
budgets="30 60 120"
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --budgets) budgets=$2; shift ;;
    *) echo "usage: $0 [--quick] [--budgets \"30 60 120\"]" >&2; exit 2 ;;
  esac
  shift
done
train=$data/agnews/train.csv
dev=$data/agnews/dev.csv
[[ -f $train && -f $dev ]] || { echo "bench: $train or $dev is missing" >&2; exit 1; }
[[ -f $build/build.ninja ]] || meson setup "$build" --buildtype=debugoptimized >/dev/null
ninja -C "$build" >/dev/null
export GST_PLUGIN_PATH=$build/gst
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ((quick)); then
  head -n 15000 "$train" > "$tmp/train.csv"
  train=$tmp/train.csv
fi
source bench/common.sh

# ---- lstmtrain ----------------------------------------------------------------------
# One training pipeline; prints its wall seconds, leaves the model in $tmp/$name.model.
lstm_run () {
  local name=$1; shift
  timed "$tmp/$name.log" gst-launch-1.0 -q filesrc location="$train" ! seqtokenize format=csv ! \
    lstmtrain model-out="$tmp/$name.model" n-threads=2 "$@"
}

lstm_row () {
  local label=$1 name=$2; shift 2
  local secs acc
  secs=$(lstm_run "$name" "$@")
  acc=$(bash pipelines/evaluate-csv.sh "$dev" "$tmp/$name.model" | awk '/^accuracy/ {print $2}')
  add_row "$label" "$secs" "$acc"
}

echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== train: $(wc -l < "$train") rows; dev: $(wc -l < "$dev") rows"
echo "== load before: $(uptime)"
lstm_row "lstmtrain, lesson defaults (1 epoch)" lesson
lstm_row "lstmtrain, shipped recipe (models/README.md)" shipped \
  cell=lstm layers=1 bidirectional=true head=max embed-dim=128 hidden-dim=64 \
  min-freq=2 max-vocab=17000 epochs=3 batch-size=64 optimizer=adam learning-rate=0.006 \
  lr-schedule=linear seed=0
# the recipe autotune starts from (README: time to accuracy), two epochs
lstm_row "lstmtrain, fast recipe (2 epochs)" fast \
  cell=lstm bidirectional=true head=max embed-dim=128 hidden-dim=64 min-freq=2 \
  batch-size=64 learning-rate=0.006 lr-schedule=linear epochs=2 seed=0
# no recurrent layer: the mean of the word vectors (autotune's little-data start point, 5 epochs)
lstm_row "lstmtrain layers=0 (bag of embeddings)" bag \
  layers=0 embed-dim=100 min-freq=2 batch-size=32 learning-rate=0.005 lr-schedule=linear \
  embedding-dropout=0.3 head-dropout=0.5 epochs=5 seed=0
# the same with word pairs (fastText's -wordNgrams 2): much data's bag start point in autotune
lstm_row "lstmtrain layers=0 word-ngrams=2 (3 epochs)" bagpairs \
  layers=0 word-ngrams=2 embed-dim=100 min-freq=2 batch-size=64 learning-rate=0.02 \
  lr-schedule=linear embedding-dropout=0.3 head-dropout=0.5 epochs=3 seed=0
lstm_row "lstmtrain, early stopping (patience 1, 10%)" early \
  cell=lstm bidirectional=true head=max embed-dim=64 hidden-dim=64 min-freq=3 \
  epochs=8 patience=1 validation-fraction=0.1 learning-rate=0.002 lr-schedule=cosine \
  warmup-fraction=0.02 seed=0
# (the listing read whole: grep -q would end the pipe early, and pipefail read that as a failure)
if [[ $(gst-inspect-1.0 lstmtrain 2>/dev/null) == *autotune-duration* ]]; then
  for b in $budgets; do
    lstm_row "lstmtrain autotune-duration=$b" "autotune$b" autotune-duration="$b" seed=0
  done
else
  echo "(lstmtrain has no autotune-duration yet: autotune rows skipped)"
fi

# ---- fastText -----------------------------------------------------------------------
if command -v fasttext >/dev/null; then
  # the same rows in fastText's format, tokenized as basic_english (lowercase, punctuation apart)
  to_ft () {
    python3 - "$1" "$2" <<'PY'
import csv, re, sys
pat = re.compile(r"([.,!?()\"';:])")
with open(sys.argv[1], newline='', encoding='utf-8') as f, open(sys.argv[2], 'w') as out:
    for row in csv.reader(f):
        if len(row) < 2:
            continue
        text = pat.sub(r" \1 ", " ".join(row[1:]).lower().replace("<br />", " "))
        out.write("__label__%s %s\n" % (row[0], " ".join(text.split())))
PY
  }
  to_ft "$train" "$tmp/train.ft"
  to_ft "$dev" "$tmp/dev.ft"
  ft_row () {
    local label=$1 name=$2; shift 2
    local secs acc
    local input=$1; shift
    secs=$(timed "$tmp/$name.log" fasttext supervised -input "$input" -output "$tmp/$name" \
      -thread 2 "$@")
    acc=$(fasttext test "$tmp/$name.bin" "$tmp/dev.ft" | awk '/^P@1/ {print $2}')
    add_row "$label" "$secs" "$acc"
  }
  # the AG News settings of the fastText paper (bigrams, 10 hidden units, 5 epochs)
  ft_row "fasttext, paper settings (-wordNgrams 2)" ftpaper "$tmp/train.ft" \
    -dim 10 -lr 0.25 -wordNgrams 2 -minCount 1 -bucket 10000000 -epoch 5
  # autotune chooses on a tenth of train.csv held out (as lstmtrain's validation split), never dev
  n=$(wc -l < "$tmp/train.ft")
  head -n $((n - n / 10)) "$tmp/train.ft" > "$tmp/train90.ft"
  tail -n $((n / 10)) "$tmp/train.ft" > "$tmp/valid10.ft"
  for b in $budgets; do
    ft_row "fasttext -autotune-duration $b" "ftauto$b" "$tmp/train90.ft" \
      -autotune-validation "$tmp/valid10.ft" -autotune-duration "$b"
  done
else
  echo "(no fasttext: apt-get install fasttext for its rows)"
fi

echo "== load after: $(uptime)"
echo "== side by side (training wall and CPU time, dev accuracy)"
printf '%s\n' "${rows[@]}"
