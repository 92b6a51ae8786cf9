/* Cell kernel timing: forward + backward per packed batch, one thread.
 * Usage: bench-cells [CELL] [SECONDS_PER_CONFIG] [SIZE]
 *   CELL: rnn-tanh, rnn-relu, lstm, gru, all; SIZE: small (I=64 H=32 B=16),
 *   large (I=128 H=256 B=64), both (default)
 * Prints per config the time per batch and GFLOP/s counted as
 * 6 N GH (I + H) (forward 2 N GH (I+H), backward twice that), and a
 * reference sgemm rate (1024^3) for the machine's single-thread peak.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <glib.h>

#include "cells.h"
#include <cblas.h>
#undef I

static gdouble
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust on a busy machine */
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static gint
n_gates (SeqnnCell cell)
{
  return cell == SEQNN_CELL_LSTM ? 4 : cell == SEQNN_CELL_GRU ? 3 : 1;
}

static gint
cmp_desc (const void *a, const void *b)
{
  return *(const gint *) b - *(const gint *) a;
}

/* AG News-like token counts (basic_english: mean 43, sd 13), clipped to [10, 100]. */
static void
make_lengths (GRand *rand, gint B, gint *lengths)
{
  for (gint b = 0; b < B; b++) {
    gdouble u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);
    gdouble gauss = sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
    lengths[b] = CLAMP ((gint) lround (43.0 + 13.0 * gauss), 10, 100);
  }
  qsort (lengths, B, sizeof (gint), cmp_desc);
}

static void
bench_config (SeqnnCell cell, const gchar *cell_name, gint I, gint H, gint B, gdouble seconds)
{
  GRand *rand = g_rand_new_with_seed (7);
  gint *lengths = g_new (gint, B);
  make_lengths (rand, B, lengths);
  const gint T = lengths[0];
  gint *batch_sizes = g_new0 (gint, T), *step_offset = g_new0 (gint, T + 1);
  for (gint t = 0; t < T; t++) {
    for (gint b = 0; b < B; b++)
      batch_sizes[t] += lengths[b] > t;
    step_offset[t + 1] = step_offset[t] + batch_sizes[t];
  }
  const gint N = step_offset[T];
  SeqnnPack pack = { T, B, N, batch_sizes, step_offset, lengths };

  const gint GH = n_gates (cell) * H;
  gsize n_params = (gsize) GH * (I + H + 2);
  gfloat *params = g_new (gfloat, n_params), *grad = g_new0 (gfloat, n_params);
  gdouble bound = 1.0 / sqrt (H);
  for (gsize i = 0; i < n_params; i++)
    params[i] = g_rand_double_range (rand, -bound, bound);
  SeqnnCellWeights w = { params, params + (gsize) GH * I, params + (gsize) GH * (I + H),
    params + (gsize) GH * (I + H + 1) };
  SeqnnCellGrads g = { grad, grad + (gsize) GH * I, grad + (gsize) GH * (I + H),
    grad + (gsize) GH * (I + H + 1) };
  gfloat *x = g_new (gfloat, (gsize) N * I), *dx = g_new0 (gfloat, (gsize) N * I);
  for (gsize i = 0; i < (gsize) N * I; i++)
    x[i] = g_rand_double_range (rand, -1, 1);
  gfloat *y = g_new0 (gfloat, (gsize) N * H), *dy = g_new (gfloat, (gsize) N * H);
  for (gsize i = 0; i < (gsize) N * H; i++)
    dy[i] = g_rand_double_range (rand, -0.01, 0.01);
  gfloat *h_n = g_new0 (gfloat, (gsize) B * H), *c_n = g_new0 (gfloat, (gsize) B * H);
  gfloat *dh_n = g_new0 (gfloat, (gsize) B * H);
  for (gsize i = 0; i < (gsize) B * H; i++)
    dh_n[i] = g_rand_double_range (rand, -1, 1);
  gfloat *cache = g_new0 (gfloat, seqnn_cell_cache_size (cell, N, B, H));
  gfloat *scratch = g_new0 (gfloat, seqnn_cell_scratch_size (cell, N, B, I, H));
  gfloat *c_out = cell == SEQNN_CELL_LSTM ? c_n : NULL;

  gdouble t_fwd = 0, t_bwd = 0;
  gint reps = 0;
  gdouble start = now ();
  do {
    gdouble t0 = now ();
    seqnn_cell_forward (cell, &pack, FALSE, I, H, x, &w, y, H, h_n, c_out, cache, scratch);
    gdouble t1 = now ();
    seqnn_cell_backward (cell, &pack, FALSE, I, H, x, &w, dy, H, dh_n, NULL, cache, dx, &g, scratch);
    gdouble t2 = now ();
    if (reps >= 3) { /* warm-up excluded */
      t_fwd += t1 - t0;
      t_bwd += t2 - t1;
    }
    reps++;
  } while (now () - start < seconds || reps < 13);
  reps -= 3;
  gdouble per_batch = (t_fwd + t_bwd) / reps;
  gdouble flops = 6.0 * N * GH * (gdouble) (I + H);
  printf ("%-8s I=%-4d H=%-4d B=%-3d T=%-3d N=%-5d  fwd %8.3f ms  bwd %8.3f ms  "
      "fwd+bwd %8.3f ms  %6.1f GFLOP/s  %8.0f seq/s\n",
      cell_name, I, H, B, T, N, 1e3 * t_fwd / reps, 1e3 * t_bwd / reps, 1e3 * per_batch,
      flops / per_batch * 1e-9, B / per_batch);

  g_free (lengths); g_free (batch_sizes); g_free (step_offset);
  g_free (params); g_free (grad); g_free (x); g_free (dx); g_free (y); g_free (dy);
  g_free (h_n); g_free (c_n); g_free (dh_n); g_free (cache); g_free (scratch);
  g_rand_free (rand);
}

static void
bench_sgemm_peak (void)
{
  const gint n = 1024;
  gfloat *a = g_new (gfloat, (gsize) n * n), *b = g_new (gfloat, (gsize) n * n);
  gfloat *c = g_new0 (gfloat, (gsize) n * n);
  for (gsize i = 0; i < (gsize) n * n; i++)
    a[i] = b[i] = 1e-3f * (i % 97);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
  gdouble t0 = now ();
  const gint reps = 5;
  for (gint r = 0; r < reps; r++)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
  gdouble dt = now () - t0;
  printf ("sgemm 1024^3 reference: %.1f GFLOP/s\n", 2.0 * n * n * n * reps / dt * 1e-9);
  g_free (a); g_free (b); g_free (c);
}

int
main (int argc, char **argv)
{
  const gchar *which = argc > 1 ? argv[1] : "all";
  gdouble seconds = argc > 2 ? g_ascii_strtod (argv[2], NULL) : 1.0;
  const gchar *size = argc > 3 ? argv[3] : "both";
  gboolean small = strcmp (size, "large") != 0, large = strcmp (size, "small") != 0;
  static const struct { SeqnnCell cell; const gchar *name; } cells[] = {
    { SEQNN_CELL_RNN_TANH, "rnn-tanh" }, { SEQNN_CELL_RNN_RELU, "rnn-relu" },
    { SEQNN_CELL_LSTM, "lstm" }, { SEQNN_CELL_GRU, "gru" },
  };
  openblas_set_num_threads (1);
  bench_sgemm_peak ();
  for (guint c = 0; c < G_N_ELEMENTS (cells); c++) {
    if (strcmp (which, "all") != 0 && strcmp (which, cells[c].name) != 0)
      continue;
    if (small)
      bench_config (cells[c].cell, cells[c].name, 64, 32, 16, seconds);
    if (large)
      bench_config (cells[c].cell, cells[c].name, 128, 256, 64, seconds);
  }
  return 0;
}
