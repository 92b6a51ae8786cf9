#!/usr/bin/env bash
# lstmtrain beside fastText on the four public data sets of bench/unseen-splits.py (data the
# project was not tuned on: spam, sentence sentiment twice, a topic pair), each through
# bench/vs-fasttext.sh in its own column layout.
# Usage: bench/unseen.sh DIR [--budget S] [sms sst2 mr bbc]   (DIR: bench/unseen-splits.py's output)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: $0 DIR [--budget S] [sms sst2 mr bbc]}
shift
budget=(--budget 120)
if [[ ${1:-} == --budget ]]; then
  budget=(--budget "$2")
  shift 2
fi
sets=("$@")
((${#sets[@]})) || sets=(sms sst2 mr bbc)
for d in "${sets[@]}"; do
  case $d in
    sms) args=("$dir/sms-train.tsv" "$dir/sms-test.tsv" format=tsv label-column=Label text-columns=SMS) ;;
    sst2) args=("$dir/sst2-train.tsv" "$dir/sst2-test.tsv" format=tsv label-column=label text-columns=sentence) ;;
    mr) args=("$dir/mr-train.jsonl" "$dir/mr-test.jsonl" format=jsonl label-column=sentiment text-columns=review) ;;
    bbc) args=("$dir/bbc-train.csv" "$dir/bbc-test.csv" format=csv label-column=category text-columns=text) ;;
    *) echo "unknown data set $d (sms, sst2, mr, bbc)" >&2; exit 2 ;;
  esac
  if [[ ! -f ${args[0]} ]]; then
    echo "== $d: ${args[0]} is missing (bench/unseen-splits.py makes it): skipped"
    continue
  fi
  echo "== $d"
  bash bench/vs-fasttext.sh "${budget[@]}" "${args[@]}" | sed -n '/^== [0-9]* cores/p; /side by side/,$p'
done
