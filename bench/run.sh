#!/usr/bin/env bash
# Benchmarks next to the PyTorch reference, in one run on one machine.
# Usage: bench/run.sh [--quick]
#   Needs ../shared/data/agnews and ../shared/bench/torch_baseline.py, and
#   Debian's python3-torch for the reference (tools/deps.sh --bench).
# Prints the engine's figures (bench-engine), the lesson's one-epoch dev
# accuracy through the GStreamer pipeline, the pipeline's inference
# throughput, PyTorch's figures, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${SEQNN_SHARED_DATA:-$root/../shared/data}
torch_ref=$root/../shared/bench/torch_baseline.py
build=${SEQNN_BUILD_DIR:-$root/build}
quick=0
[[ ${1:-} == --quick ]] && quick=1
[[ -f $data/agnews/train.csv ]] || { echo "bench: $data/agnews/train.csv is missing" >&2; exit 1; }
[[ -f $build/build.ninja ]] || meson setup "$build" --buildtype=debugoptimized >/dev/null
ninja -C "$build" >/dev/null
export GST_PLUGIN_PATH=$build/gst
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

train=$data/agnews/train.csv
dev=$data/agnews/dev.csv
samples=()
if ((quick)); then
  head -n 15000 "$train" > "$tmp/train.csv"
  train=$tmp/train.csv
  samples=(--samples 15000)
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== engine (bench-engine)"
"$build/bench/bench-engine" "$train" | tee "$tmp/engine.txt"

echo "== lesson through GStreamer: filesrc ! seqtokenize format=csv ! lstmtrain (defaults: LSTM E64 H32, batch 16, Adam 0.001, 1 epoch)"
gst-launch-1.0 -q filesrc location="$train" ! seqtokenize format=csv ! \
  lstmtrain model-out="$tmp/lesson.model" metrics-file="$tmp/lesson.csv" n-threads=2 >/dev/null
ours_train_sps=$(tail -n 1 "$tmp/lesson.csv" | cut -d, -f7)
ours_acc=$(bash pipelines/evaluate-csv.sh "$dev" "$tmp/lesson.model" | awk '/^accuracy/ {print $2}')
echo "lstmtrain: ${ours_train_sps} samples/s (training loop), dev accuracy ${ours_acc}"

if [[ -x bench/bench_pipeline.sh ]]; then
  echo "== pipeline inference (bench/bench_pipeline.sh)"
  SEQNN_BUILD_DIR=$build bash bench/bench_pipeline.sh "$tmp/lesson.model" | tee "$tmp/pipeline.txt" || true
fi

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "== PyTorch reference skipped: /usr/bin/python3 has no torch (bash tools/deps.sh --bench)"
  exit 0
fi
echo "== PyTorch reference ($torch_ref, 2 threads)"
/usr/bin/python3 "$torch_ref" "$train" "$dev" --configs seed-lstm-pack "${samples[@]}" | tee "$tmp/torch.jsonl"
/usr/bin/python3 "$torch_ref" "$train" "$dev" --configs big-lstm --samples 3000 | tee -a "$tmp/torch.jsonl"
/usr/bin/python3 bench/torch_batch1.py 43 2 | tee "$tmp/torch_batch1.txt"

echo "== side by side"
python3 - "$tmp" "$ours_acc" <<'PY'
import json, re, sys
tmp, ours_acc = sys.argv[1], float(sys.argv[2])
eng = open(f"{tmp}/engine.txt").read()
torch = {j["config"]: j for j in map(json.loads, open(f"{tmp}/torch.jsonl"))}
def best(pattern):
    """The best figure over the thread counts the engine benchmark tried."""
    found = [float(x) for x in re.findall(pattern, eng)]
    return max(found) if found else None
lesson = best(r"train +lesson LSTM[^\n]*?: ([0-9.]+) samples/s")
large = best(r"train +large LSTM[^\n]*?: ([0-9.]+) samples/s")
inf256 = best(r"inference +lesson LSTM batch 256[^\n]*?: ([0-9.]+) sequences/s")
t, b = torch["seed-lstm-pack"], torch["big-lstm"]
print(f"{'':34}{'seqnn':>12}{'PyTorch':>12}{'ratio':>9}")
print(f"{'lesson LSTM train samples/s':34}{lesson:>12.0f}{t['train_sps']:>12.1f}{lesson / t['train_sps']:>8.1f}x")
print(f"{'lesson LSTM dev accuracy, 1 epoch':34}{ours_acc:>12.4f}{t['test_acc']:>12.4f}{ours_acc - t['test_acc']:>+9.4f}")
if large:
    print(f"{'large LSTM train samples/s':34}{large:>12.0f}{b['train_sps']:>12.1f}{large / b['train_sps']:>8.1f}x")
if inf256:
    print(f"{'lesson LSTM inference seq/s (b256)':34}{inf256:>12.0f}{t['infer_sps']:>12.1f}{inf256 / t['infer_sps']:>8.1f}x")
ours_b1 = [float(x) for x in re.findall(r"inference +lesson LSTM batch 1 [^\n]*median ([0-9.]+) us", eng)]
m = re.search(r"median ([0-9.]+) us", open(f"{tmp}/torch_batch1.txt").read())
if ours_b1 and m:
    b1, tb1 = min(ours_b1), float(m.group(1))
    print(f"{'one sequence at batch 1, median us':34}{b1:>12.1f}{tb1:>12.1f}{tb1 / b1:>8.1f}x")
PY
