/* Engine benchmark: training and inference throughput on AG News.
 * Usage: bench-engine [--quick] [--threads N] [--seconds S] [--only lesson|large|inference] [TRAIN.csv]
 * Without a path it reads $SEQNN_SHARED_DATA/agnews/train.csv; when that is
 * absent it falls back to synthetic data with AG News-like lengths.
 * Reports:
 *   lesson: LSTM E64 H32 batch 16 Adam, packed, one epoch (or --seconds) per thread count
 *   large:  LSTM E128 H256 batch 64 Adam: samples/s and GFLOP/s against OpenBLAS sgemm peak
 *   inference: sequences/s at batch 256; latency of one sequence at batch 1
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib.h>

#include "seqnn/seqnn.h"
#include "rng.h"
#include "network.h"
#include "pool.h"
#include <cblas.h>  /* after cells.h: its complex.h defines I */

static gdouble
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process: on a busy machine, samples per CPU-second
 * of a one-thread run is what an idle core would give. */
static gdouble
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The corpus as flat arrays; empty sequences become one <unk>. */
typedef struct {
  gint32 *ids;
  gsize *offset;
  gint *length;
  gint *label;
  gsize n;
  gint vocab_size;
  gboolean real;
} Corpus;

static gboolean
load_agnews (Corpus *c, const gchar *path)
{
  GError *error = NULL;
  SeqnnDataset *ds = seqnn_dataset_new ();
  SeqnnReadOptions opt;
  seqnn_read_options_init_default (&opt, SEQNN_FORMAT_CSV);
  SeqnnLabelSet *labels = seqnn_label_set_new_ag_news ();
  gdouble t0 = now ();
  if (!seqnn_dataset_read_file (ds, path, &opt, labels, NULL, &error)) {
    fprintf (stderr, "bench-engine: %s\n", error->message);
    g_clear_error (&error);
    seqnn_dataset_free (ds);
    seqnn_label_set_free (labels);
    return FALSE;
  }
  SeqnnVocab *vocab = seqnn_dataset_build_vocab (ds, 1, 0, &error);
  g_assert_no_error (error);
  seqnn_dataset_apply_vocab (ds, vocab);
  c->n = seqnn_dataset_get_size (ds);
  c->vocab_size = (gint) seqnn_vocab_get_size (vocab);
  gsize n_tokens = seqnn_dataset_get_n_tokens (ds) + c->n;
  c->ids = g_new (gint32, n_tokens);
  c->offset = g_new (gsize, c->n);
  c->length = g_new (gint, c->n);
  c->label = g_new (gint, c->n);
  gsize off = 0;
  for (gsize i = 0; i < c->n; i++) {
    const gint32 *ids;
    gint len, label;
    seqnn_dataset_get (ds, i, &ids, &len, &label);
    c->offset[i] = off;
    if (len == 0) {
      c->ids[off++] = SEQNN_VOCAB_UNK_ID;
      len = 1;
    } else {
      memcpy (c->ids + off, ids, sizeof (gint32) * len);
      off += len;
    }
    c->length[i] = len;
    c->label[i] = label;
  }
  c->real = TRUE;
  printf ("data: %s: %" G_GSIZE_FORMAT " rows, %" G_GSIZE_FORMAT " tokens (mean %.1f), vocab %d, read in %.2f s\n",
      path, c->n, off, (gdouble) off / c->n, c->vocab_size, now () - t0);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (ds);
  seqnn_label_set_free (labels);
  return TRUE;
}

static void
synthetic (Corpus *c, gsize n)
{
  SeqnnRng rng;
  seqnn_rng_init (&rng, 1);
  c->n = n;
  c->vocab_size = 60000;
  c->offset = g_new (gsize, n);
  c->length = g_new (gint, n);
  c->label = g_new (gint, n);
  gsize total = 0;
  for (gsize i = 0; i < n; i++) {
    /* AG News-like: mean ~43, spread 15..110 */
    gint len = (gint) (43 + 12 * seqnn_rng_normal (&rng));
    c->length[i] = CLAMP (len, 8, 110);
    c->offset[i] = total;
    total += c->length[i];
    c->label[i] = (gint) seqnn_rng_below (&rng, 4);
  }
  c->ids = g_new (gint32, total);
  for (gsize k = 0; k < total; k++) {
    /* Zipf-ish: frequent words dominate, as in text */
    gdouble u = seqnn_rng_uniform_double (&rng);
    c->ids[k] = (gint32) MIN (2 + (gint64) (exp (u * log (60000.0)) - 1), 59999);
  }
  c->real = FALSE;
  printf ("data: synthetic: %" G_GSIZE_FORMAT " rows, %" G_GSIZE_FORMAT " tokens, vocab 60000\n", n, total);
}

static void
corpus_clear (Corpus *c)
{
  g_free (c->ids);
  g_free (c->offset);
  g_free (c->length);
  g_free (c->label);
}

/* Gathers rows order[first .. first+n) into a batch. */
typedef struct {
  GArray *ids;
  gint *lengths, *labels;
  SeqnnBatch batch;
} BatchBuf;

static void
fill_batch (BatchBuf *b, const Corpus *c, const gsize *order, gsize first, gint n)
{
  g_array_set_size (b->ids, 0);
  for (gint k = 0; k < n; k++) {
    gsize i = order[first + k];
    g_array_append_vals (b->ids, c->ids + c->offset[i], c->length[i]);
    b->lengths[k] = c->length[i];
    b->labels[k] = c->label[i];
  }
  b->batch = (SeqnnBatch) { (const gint32 *) b->ids->data, b->lengths, n, b->labels };
}

static SeqnnModel *
lstm_model (const Corpus *c, gint E, gint H)
{
  SeqnnConfig cfg;
  seqnn_config_init_default (&cfg);
  cfg.vocab_size = c->vocab_size;
  cfg.embed_dim = E;
  cfg.hidden_dim = H;
  SeqnnModel *m = seqnn_model_new (&cfg, NULL);
  seqnn_model_init_params (m, 0);
  return m;
}

typedef struct {
  gdouble samples_per_s, samples_per_cpu_s, cpu_seconds, seconds, loss_first, loss_last, acc_last, tokens;
  gsize samples;
} TrainResult;

/* Trains over a shuffled pass, stopping after max_seconds. */
static TrainResult
train_run (const Corpus *c, gint E, gint H, gint batch, gint threads, gint blas_threads,
    gdouble max_seconds, gsize max_samples)
{
  SeqnnModel *m = lstm_model (c, E, H);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  SeqnnTrainer *tr = seqnn_trainer_new (m, &oc, threads, 0, NULL);
  if (blas_threads > 0)
    openblas_set_num_threads (blas_threads);  /* instead of the engine's 1 */
  gsize *order = g_new (gsize, c->n);
  for (gsize i = 0; i < c->n; i++)
    order[i] = i;
  SeqnnRng rng;
  seqnn_rng_init (&rng, 7);
  seqnn_rng_shuffle_gsize (&rng, order, c->n);
  BatchBuf b = { g_array_new (FALSE, FALSE, sizeof (gint32)), g_new (gint, batch), g_new (gint, batch), { 0 } };
  TrainResult r = { 0 };
  gdouble window_loss = 0, window_correct = 0;
  gsize window_n = 0;
  gdouble t0 = now (), c0 = cpu_now ();
  gsize limit = MIN (c->n, max_samples);
  for (gsize first = 0; first + batch <= limit; first += batch) {
    fill_batch (&b, c, order, first, batch);
    SeqnnStepResult sr;
    GError *error = NULL;
    if (!seqnn_trainer_step (tr, &b.batch, &sr, &error)) {
      fprintf (stderr, "bench-engine: %s\n", error->message);
      g_clear_error (&error);
      break;
    }
    for (gint k = 0; k < batch; k++)
      r.tokens += b.lengths[k];
    r.samples += batch;
    window_loss += sr.loss * sr.n;
    window_correct += sr.n_correct;
    window_n += sr.n;
    if (r.samples == (gsize) batch * 100)
      r.loss_first = window_loss / window_n;
    if (window_n >= 2000 && first + 2 * batch <= limit) {
      window_loss = window_correct = 0;
      window_n = 0;
    }
    if ((r.samples % 1024) < (gsize) batch && now () - t0 > max_seconds)
      break;
  }
  r.seconds = now () - t0;
  r.cpu_seconds = cpu_now () - c0;
  r.samples_per_s = r.samples / r.seconds;
  r.samples_per_cpu_s = r.samples / r.cpu_seconds;
  openblas_set_num_threads (1);
  r.loss_last = window_n ? window_loss / window_n : NAN;
  r.acc_last = window_n ? window_correct / window_n : NAN;
  g_array_unref (b.ids);
  g_free (b.lengths);
  g_free (b.labels);
  g_free (order);
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
  return r;
}

/* OpenBLAS sgemm rate on 1024^3, with the given thread count; per_cpu
 * (may be NULL) receives the rate per CPU-second. */
static gdouble
sgemm_gflops (gint threads, gdouble *per_cpu)
{
  const gint n = 1024;
  gfloat *a = g_new (gfloat, n * n), *b = g_new (gfloat, n * n), *cm = g_new0 (gfloat, n * n);
  for (gint i = 0; i < n * n; i++)
    a[i] = b[i] = (gfloat) ((i % 17) - 8) * 0.01f;
  openblas_set_num_threads (threads);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, cm, n);
  gint reps = 0;
  gdouble t0 = now (), c0 = cpu_now (), t;
  do {
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, cm, n);
    reps++;
  } while ((t = now () - t0) < 0.5);
  if (per_cpu)
    *per_cpu = 2.0 * n * n * n * reps / (cpu_now () - c0) / 1e9;
  openblas_set_num_threads (1);
  g_free (a);
  g_free (b);
  g_free (cm);
  return 2.0 * n * n * n * reps / t / 1e9;
}

static int
compare_double (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

static void
inference_bench (const Corpus *c, gint threads, gdouble seconds)
{
  SeqnnModel *m = lstm_model (c, 64, 32);
  SeqnnInference *inf = seqnn_inference_new (m, threads);
  gsize *order = g_new (gsize, c->n);
  for (gsize i = 0; i < c->n; i++)
    order[i] = i;
  const gint big = 256;
  BatchBuf b = { g_array_new (FALSE, FALSE, sizeof (gint32)), g_new (gint, big), g_new (gint, big), { 0 } };
  gfloat *probs = g_new (gfloat, big * 4);
  gsize done = 0, first = 0;
  gdouble t0 = now (), t;
  do {
    if (first + big > c->n)
      first = 0;
    fill_batch (&b, c, order, first, big);
    seqnn_inference_run (inf, &b.batch, probs, NULL, NULL);
    first += big;
    done += big;
  } while ((t = now () - t0) < seconds);
  printf ("inference  lesson LSTM batch 256, %d thread(s): %.0f sequences/s\n", threads, done / t);

  /* batch 1: per-sequence latency, batch assembly outside the timing */
  gsize n1 = MIN (c->n, (gsize) 20000);
  gdouble *lat = g_new (gdouble, n1);
  gsize k;
  t0 = now ();
  for (k = 0; k < n1 && now () - t0 < seconds; k++) {
    SeqnnBatch one = { c->ids + c->offset[k], &c->length[k], 1, NULL };
    gdouble s = now ();
    seqnn_inference_run (inf, &one, probs, NULL, NULL);
    lat[k] = now () - s;
  }
  gdouble sum = 0, mean_len = 0;
  for (gsize j = 0; j < k; j++) {
    sum += lat[j];
    mean_len += c->length[j];
  }
  qsort (lat, k, sizeof (gdouble), compare_double);
  printf ("inference  lesson LSTM batch 1 (mean %.1f tokens), %d thread(s): mean %.1f us, median %.1f us, p99 %.1f us\n",
      mean_len / k, threads, 1e6 * sum / k, 1e6 * lat[k / 2], 1e6 * lat[(gsize) (k * 0.99)]);
  g_free (lat);
  g_free (probs);
  g_array_unref (b.ids);
  g_free (b.lengths);
  g_free (b.labels);
  g_free (order);
  seqnn_inference_free (inf);
  seqnn_model_free (m);
}

int
main (int argc, char **argv)
{
  gboolean quick = FALSE;
  gint only_threads = 0;
  gdouble seconds = 0;
  const gchar *path = NULL, *only = NULL;
  for (gint i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--quick") == 0)
      quick = TRUE;
    else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      only_threads = atoi (argv[++i]);
    else if (strcmp (argv[i], "--only") == 0 && i + 1 < argc)
      only = argv[++i];
    else if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else
      path = argv[i];
  }
  if (seconds <= 0)
    seconds = quick ? 2.0 : 1e9;
  gchar *default_path = NULL;
  if (path == NULL && g_getenv ("SEQNN_SHARED_DATA"))
    path = default_path = g_build_filename (g_getenv ("SEQNN_SHARED_DATA"), "agnews", "train.csv", NULL);
  Corpus c = { 0 };
  if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS) || !load_agnews (&c, path))
    synthetic (&c, 60000);
  g_free (default_path);

  seqnn_blas_init ();  /* the engine's OpenBLAS setup, as training would do it */
  gint max_threads = (gint) g_get_num_processors ();
  printf ("machine: %d cores\n", max_threads);
  for (gint th = 1; th <= max_threads; th++) {
    if ((only_threads && th != only_threads) || (only && strcmp (only, "lesson") != 0))
      continue;
    TrainResult r = train_run (&c, 64, 32, 16, th, 0, seconds, G_MAXSIZE);
    printf ("train      lesson LSTM E64 H32 batch 16 Adam, %d thread(s): %.0f samples/s, %.0f per CPU-second "
        "(%" G_GSIZE_FORMAT " samples in %.2f s; loss %.3f after 100 steps, last 2000: loss %.3f acc %.3f)\n",
        th, r.samples_per_s, r.samples_per_cpu_s, r.samples, r.seconds, r.loss_first, r.loss_last, r.acc_last);
  }

  gdouble peak1_cpu = 0;
  gdouble peak1 = 0, peak = 0;
  if (!only || strcmp (only, "large") == 0) {
    peak1 = sgemm_gflops (1, &peak1_cpu);
    peak = max_threads > 1 ? sgemm_gflops (max_threads, NULL) : peak1;
    printf ("sgemm      1024^3 OpenBLAS (%s kernels): %.1f GFLOP/s on 1 thread (%.1f per CPU-second), %.1f GFLOP/s on %d\n",
        openblas_get_corename (), peak1, peak1_cpu, peak, max_threads);
  }
  for (gint th = 1; th <= max_threads; th++) {
    if (only_threads && th != only_threads)
      continue;
    if (only && strcmp (only, "large") != 0)
      continue;
    /* the engine's shards on one OpenBLAS thread each; then, for comparison,
     * one shard with OpenBLAS threading */
    for (gint variant = 0; variant < (th > 1 ? 2 : 1); variant++) {
      gint engine_threads = variant ? 1 : th, blas_threads = variant ? th : 0;
      TrainResult r = train_run (&c, 128, 256, 64, engine_threads, blas_threads, quick ? 3.0 : 15.0, G_MAXSIZE);
      /* per token: 3 x 2 x 4H (E + H) multiply-adds x 2 flops (forward, dx, dW) */
      gdouble flops = r.tokens * 24.0 * 256 * (128 + 256) / r.seconds / 1e9;
      gdouble cpu_flops = r.tokens * 24.0 * 256 * (128 + 256) / r.cpu_seconds / 1e9;
      gdouble p = th == 1 ? peak1 : peak;
      printf ("train      large LSTM E128 H256 batch 64 Adam, %d engine thread(s), %d OpenBLAS thread(s): %.0f samples/s, "
          "%.1f GFLOP/s = %.0f%% of sgemm peak (%.1f GFLOP per CPU-second = %.0f%% of one core's peak)\n",
          engine_threads, MAX (blas_threads, 1), r.samples_per_s, flops, 100 * flops / p, cpu_flops,
          peak1_cpu > 0 ? 100 * cpu_flops / peak1_cpu : 0.0);
    }
  }
  for (gint th = 1; th <= max_threads; th++)
    if ((!only_threads || th == only_threads) && (!only || strcmp (only, "inference") == 0))
      inference_bench (&c, th, quick ? 1.0 : 3.0);
  corpus_clear (&c);
  return 0;
}
