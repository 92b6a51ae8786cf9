#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Pipeline throughput against the engine's own, on the same model and rows:
#   pipeline: filesrc ! seqtokenize format=csv ! lstmclassify model=M ! fakesink
#   engine:   the same rows read, tokenized and encoded by libseqnn beforehand,
#             then seqnn_inference_run over batches of the same size
# and prints both in sequences/s and their ratio (target: pipeline >= 0.5 x engine).
# Run it on an otherwise idle machine: the pipeline overlaps parsing,
# tokenizing and vocabulary lookups (upstream thread) with the network
# (lstmclassify's task), the engine runs one thread, so under CPU contention
# the ratio drops. The CPU time (user+sys) of the pipeline is printed too: it
# is what contention shares out, and it moves less with the load than the
# elapsed time does (median of the three runs, start-up's subtracted).
#
# Usage: bench/bench_pipeline.sh [MODEL]
#   MODEL defaults to models/agnews.model; when that is absent a lesson-shaped
#   LSTM (E64 H32, vocabulary of train.csv, random weights: speed does not
#   depend on the weights) is created in a temporary folder.
# Environment: SEQNN_BUILD_DIR (default build), SEQNN_SHARED_DATA (default
#   ../shared/data), BATCH (16), THREADS (1), COPIES (10: dev.csv is repeated
#   that many times in a temporary file so the run is long enough to time;
#   gst-launch start-up, measured on one row, is subtracted).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SEQNN_BUILD_DIR:-$root/build}
[[ $build = /* ]] || build=$root/$build
data=${SEQNN_SHARED_DATA:-$root/../shared/data}
batch=${BATCH:-16}
threads=${THREADS:-1}
copies=${COPIES:-10}
model=${1:-}

dev=$data/agnews/dev.csv
train=$data/agnews/train.csv
if [[ ! -f $dev ]]; then
  echo "bench_pipeline: $dev not found (set SEQNN_SHARED_DATA)" >&2
  exit 77
fi
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" --buildtype=debugoptimized >/dev/null
fi
ninja -C "$build" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The engine side: a small C program over the build's libseqnn.
cat >"$work/bench-classify.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <seqnn/seqnn.h>

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
die (GError *error)
{
  fprintf (stderr, "bench-classify: %s\n", error->message);
  exit (1);
}

/* create TRAIN.csv OUT.model: lesson LSTM over the training vocabulary. */
static int
create (const char *train, const char *out)
{
  GError *error = NULL;
  SeqnnDataset *ds = seqnn_dataset_new ();
  SeqnnReadOptions opt;
  SeqnnLabelSet *labels = seqnn_label_set_new_ag_news ();
  SeqnnConfig config;
  seqnn_read_options_init_default (&opt, SEQNN_FORMAT_CSV);
  if (!seqnn_dataset_read_file (ds, train, &opt, labels, NULL, &error))
    die (error);
  SeqnnVocab *vocab = seqnn_dataset_build_vocab (ds, 1, 0, &error);
  if (!vocab)
    die (error);
  seqnn_config_init_default (&config);
  config.vocab_size = (gint) seqnn_vocab_get_size (vocab);
  SeqnnModel *model = seqnn_model_new (&config, &error);
  if (!model)
    die (error);
  seqnn_model_init_params (model, 1);
  gchar **names = seqnn_label_set_to_strv (labels);
  SeqnnClassifier *c = seqnn_classifier_new (model, vocab, &opt.tokenizer,
      (const gchar *const *) names, &error);
  if (!c || !seqnn_classifier_save (c, out, &error))
    die (error);
  seqnn_classifier_free (c);
  seqnn_vocab_unref (vocab);
  g_strfreev (names);
  seqnn_label_set_free (labels);
  seqnn_dataset_free (ds);
  return 0;
}

/* engine MODEL CSV BATCH THREADS: prints rows, then sequences/s of inference
 * alone (fastest pass) and of read + tokenize + that pass. */
static int
engine (const char *path, const char *csv, int batch_size, int threads)
{
  GError *error = NULL;
  SeqnnClassifier *c = seqnn_classifier_load (path, &error);
  if (!c)
    die (error);
  SeqnnReadOptions opt;
  seqnn_read_options_init_default (&opt, SEQNN_FORMAT_CSV);
  opt.tokenizer = *seqnn_classifier_get_tokenizer (c);
  SeqnnLabelSet *labels = seqnn_label_set_new_ag_news ();
  SeqnnDataset *ds = seqnn_dataset_new ();
  double t0 = now ();
  if (!seqnn_dataset_read_file (ds, csv, &opt, labels, NULL, &error))
    die (error);
  seqnn_dataset_apply_vocab (ds, seqnn_classifier_get_vocab (c));
  double t_read = now () - t0;

  gsize n = seqnn_dataset_get_size (ds);
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (c));
  SeqnnInference *inf = seqnn_inference_new (seqnn_classifier_peek_model (c), threads);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  gint *lengths = g_new (gint, batch_size);
  gfloat *probs = g_new (gfloat, (gsize) batch_size * config->num_classes);
  double t_infer = 0.0, best = 1e300;
  int passes = 0;
  /* Whole passes, at least three and two seconds; the fastest counts (the
   * pipeline side is a best of three too). */
  while (passes < 3 || t_infer < 2.0) {
    double t1 = now ();
    for (gsize start = 0; start < n; start += batch_size) {
      gint m = (gint) MIN ((gsize) batch_size, n - start);
      g_array_set_size (ids, 0);
      for (gint i = 0; i < m; i++) {
        const gint32 *seq;
        gint len, label;
        seqnn_dataset_get (ds, start + i, &seq, &len, &label);
        if (len == 0) {
          gint32 unk = SEQNN_VOCAB_UNK_ID;
          g_array_append_val (ids, unk);
          len = 1;
        } else {
          g_array_append_vals (ids, seq, len);
        }
        lengths[i] = len;
      }
      SeqnnBatch b = { (const gint32 *) ids->data, lengths, m, NULL };
      if (!seqnn_inference_run (inf, &b, probs, NULL, &error))
        die (error);
    }
    double t_pass = now () - t1;
    t_infer += t_pass;
    best = MIN (best, t_pass);
    passes++;
  }
  printf ("%" G_GSIZE_FORMAT " %.1f %.1f\n", n, n / best, n / (t_read + best));
  g_array_free (ids, TRUE);
  g_free (lengths);
  g_free (probs);
  seqnn_inference_free (inf);
  seqnn_dataset_free (ds);
  seqnn_label_set_free (labels);
  seqnn_classifier_free (c);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 4 && strcmp (argv[1], "create") == 0)
    return create (argv[2], argv[3]);
  if (argc == 6 && strcmp (argv[1], "engine") == 0)
    return engine (argv[2], argv[3], atoi (argv[4]), atoi (argv[5]));
  fprintf (stderr, "usage: bench-classify create TRAIN OUT | engine MODEL CSV BATCH THREADS\n");
  return 2;
}
EOF
# shellcheck disable=SC2046
cc -std=c11 -O2 -D_GNU_SOURCE -o "$work/bench-classify" "$work/bench-classify.c" \
  -I"$root/lib" $(pkg-config --cflags --libs glib-2.0) \
  -L"$build/lib" -lseqnn -Wl,-rpath,"$build/lib" -lm

if [[ -z $model ]]; then
  if [[ -f $root/models/agnews.model ]]; then
    model=$root/models/agnews.model
  else
    [[ -f $train ]] || { echo "bench_pipeline: no model and no $train to build one" >&2; exit 77; }
    model=$work/bench.model
    echo "model: none in models/, creating a lesson-shaped LSTM over train.csv's vocabulary (random weights)"
    "$work/bench-classify" create "$train" "$model"
  fi
fi
echo "model: $model"

input=$work/dev-x$copies.csv
for ((i = 0; i < copies; i++)); do cat "$dev"; done >"$input"
head -n 1 "$dev" >"$work/one.csv"

read -r rows engine_sps engine_e2e_sps < <("$work/bench-classify" engine "$model" "$input" "$batch" "$threads")

export GST_PLUGIN_PATH=$build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# Prints "elapsed cpu" in seconds (cpu: user+sys of gst-launch-1.0).
run_pipeline () {
  local t0 t1 cpu
  t0=$(date +%s.%N)
  cpu=$( { TIMEFORMAT='%U %S'; time gst-launch-1.0 -q filesrc location="$1" blocksize=65536 \
      ! seqtokenize format=csv ! lstmclassify model="$model" batch-size="$batch" \
      n-threads="$threads" ! fakesink >/dev/null 2>"$work/gst.err"; } 2>&1 ) \
    || { cat "$work/gst.err" >&2; echo "bench_pipeline: the pipeline failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t0 $t1 $cpu" | awk '{ printf "%.6f %.3f\n", $2 - $1, $3 + $4 }'
}
# Best of three elapsed, start-up (one row) subtracted; CPU: medians.
for _ in 1 2 3; do run_pipeline "$work/one.csv"; done >"$work/startup.txt"
for _ in 1 2 3; do run_pipeline "$input"; done >"$work/runs.txt"
startup=$(sort -g "$work/startup.txt" | head -n 1 | cut -d' ' -f1)
elapsed=$(sort -g "$work/runs.txt" | head -n 1 | cut -d' ' -f1)
startup_cpu=$(cut -d' ' -f2 "$work/startup.txt" | sort -g | sed -n 2p)
cpu=$(cut -d' ' -f2 "$work/runs.txt" | sort -g | sed -n 2p)

awk -v rows="$rows" -v t="$elapsed" -v s="$startup" -v e="$engine_sps" -v e2e="$engine_e2e_sps" \
    -v cpu="$cpu" -v scpu="$startup_cpu" \
    -v b="$batch" -v th="$threads" -v copies="$copies" 'BEGIN {
  p = rows / (t - s);
  printf "rows: %d (dev.csv x %d), batch %d, %d thread(s)\n", rows, copies, b, th;
  printf "engine   inference only:            %10.0f sequences/s\n", e;
  printf "engine   read+tokenize+inference:   %10.0f sequences/s\n", e2e;
  printf "pipeline filesrc ! seqtokenize ! lstmclassify ! fakesink: %.0f sequences/s (%.3f s, start-up %.3f s subtracted)\n", p, t - s, s;
  printf "ratio    pipeline / engine inference: %.2f (target >= 0.50)\n", p / e;
  printf "ratio    pipeline / engine end-to-end: %.2f\n", p / e2e;
  printf "cpu      pipeline user+sys: %.3f s per %d records (median of 3, start-up %.3f s subtracted); engine inference alone: %.3f s\n", cpu - scpu, rows, scpu, rows / e;
}'
