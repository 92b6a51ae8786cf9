/* The model: tensor table, configuration, initialisation, batch validation,
 * packing invisibility and an allocation-free inference workspace.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "seqnn/model.h"

static const SeqnnCell all_cells[] = { SEQNN_CELL_RNN_TANH, SEQNN_CELL_RNN_RELU, SEQNN_CELL_LSTM, SEQNN_CELL_GRU };
static const SeqnnHead all_heads[] = { SEQNN_HEAD_LAST, SEQNN_HEAD_MEAN, SEQNN_HEAD_MAX };

static SeqnnConfig
small_config (SeqnnCell cell, gint layers, gboolean bidir, SeqnnHead head)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  c.cell = cell;
  c.vocab_size = 50;
  c.embed_dim = 7;
  c.hidden_dim = 5;
  c.num_layers = layers;
  c.bidirectional = bidir;
  c.head = head;
  c.num_classes = 3;
  return c;
}

static SeqnnModel *
new_model (const SeqnnConfig *c, guint64 seed)
{
  GError *error = NULL;
  SeqnnModel *m = seqnn_model_new (c, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  seqnn_model_init_params (m, seed);
  return m;
}

static void
test_strings (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (all_cells); i++) {
    SeqnnCell back;
    g_assert_true (seqnn_cell_from_string (seqnn_cell_to_string (all_cells[i]), &back));
    g_assert_cmpint (back, ==, all_cells[i]);
  }
  for (guint i = 0; i < G_N_ELEMENTS (all_heads); i++) {
    SeqnnHead back;
    g_assert_true (seqnn_head_from_string (seqnn_head_to_string (all_heads[i]), &back));
    g_assert_cmpint (back, ==, all_heads[i]);
  }
  g_assert_cmpstr (seqnn_cell_to_string (SEQNN_CELL_LSTM), ==, "lstm");
  g_assert_cmpstr (seqnn_head_to_string (SEQNN_HEAD_MEAN), ==, "mean");
  g_assert_false (seqnn_cell_from_string ("transformer", NULL));
  g_assert_false (seqnn_head_from_string (NULL, NULL));
  g_assert_cmpint (seqnn_cell_n_gates (SEQNN_CELL_LSTM), ==, 4);
  g_assert_cmpint (seqnn_cell_n_gates (SEQNN_CELL_GRU), ==, 3);
  g_assert_cmpint (seqnn_cell_n_gates (SEQNN_CELL_RNN_RELU), ==, 1);
}

static void
test_config (void)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  g_assert_cmpint (c.cell, ==, SEQNN_CELL_LSTM);
  g_assert_cmpint (c.embed_dim, ==, 64);
  g_assert_cmpint (c.hidden_dim, ==, 32);
  g_assert_cmpint (c.num_classes, ==, 4);
  g_assert_cmpint (c.head, ==, SEQNN_HEAD_LAST);
  g_assert_cmpint (c.padding_idx, ==, -1);
  GError *error = NULL;
  g_assert_false (seqnn_config_validate (&c, &error)); /* vocab_size 0 */
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "vocab_size"));
  g_clear_error (&error);
  c.vocab_size = 10;
  g_assert_true (seqnn_config_validate (&c, &error));
  g_assert_no_error (error);

  static const gchar *const fields[] = {
    "embed_dim", "hidden_dim", "num_layers", "num_classes", "padding_idx", "dropout",
  };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++) {
    SeqnnConfig b = c;
    switch (i) {
      case 0: b.embed_dim = 0; break;
      case 1: b.hidden_dim = -3; break;
      case 2: b.num_layers = -1; break;
      case 3: b.num_classes = 0; break;
      case 4: b.padding_idx = 10; break;
      case 5: b.dropout = 1.0f; break;
    }
    g_assert_false (seqnn_config_validate (&b, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, fields[i]));
    g_clear_error (&error);
    g_assert_null (seqnn_model_new (&b, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
  SeqnnConfig nan_dropout = c;
  nan_dropout.dropout = NAN;
  g_assert_false (seqnn_config_validate (&nan_dropout, NULL));
  g_assert_false (seqnn_config_validate (NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

/* Names, shapes and offsets as torch's state_dict for every architecture. */
static void
test_tensor_table (void)
{
  for (guint ci = 0; ci < G_N_ELEMENTS (all_cells); ci++)
    for (gint layers = 1; layers <= 3; layers++)
      for (gint bidir = 0; bidir <= 1; bidir++) {
        SeqnnConfig c = small_config (all_cells[ci], layers, bidir, SEQNN_HEAD_LAST);
        SeqnnModel *m = new_model (&c, 1);
        gint G = seqnn_cell_n_gates (c.cell), D = bidir ? 2 : 1, H = c.hidden_dim;
        g_assert_cmpuint (seqnn_model_get_n_tensors (m), ==, 1 + 4 * layers * D + 2);
        gsize n_params;
        seqnn_model_peek_params (m, &n_params);
        gsize expect_offset = 0;
        guint index = 0;
        /* the expected table, built independently */
        for (gint k = 0; k < 1 + 4 * layers * D + 2; k++) {
          gchar *name;
          gint rows, cols, ndim;
          if (k == 0) {
            name = g_strdup ("embedding.weight");
            rows = c.vocab_size, cols = c.embed_dim, ndim = 2;
          } else if (k > 4 * layers * D) {
            gboolean w = k == 4 * layers * D + 1;
            name = g_strdup (w ? "fc.weight" : "fc.bias");
            rows = c.num_classes, cols = w ? D * H : 1, ndim = w ? 2 : 1;
          } else {
            gint j = k - 1, l = j / (4 * D), d = (j / 4) % D, kind = j % 4;
            static const gchar *kinds[] = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" };
            name = g_strdup_printf ("rnn.%s_l%d%s", kinds[kind], l, d ? "_reverse" : "");
            rows = G * H;
            cols = kind == 0 ? (l == 0 ? c.embed_dim : D * H) : kind == 1 ? H : 1;
            ndim = kind < 2 ? 2 : 1;
          }
          const SeqnnTensorInfo *t = seqnn_model_get_tensor (m, index++);
          g_assert_nonnull (t);
          g_assert_cmpstr (t->name, ==, name);
          g_assert_cmpint (t->ndim, ==, ndim);
          g_assert_cmpint (t->shape[0], ==, rows);
          g_assert_cmpint (t->shape[1], ==, cols);
          g_assert_cmpuint (t->numel, ==, (gsize) rows * cols);
          g_assert_cmpuint (t->offset, ==, expect_offset);
          g_assert_true (seqnn_model_find_tensor (m, name) == t);
          expect_offset += t->numel;
          g_free (name);
        }
        g_assert_cmpuint (expect_offset, ==, n_params);
        g_assert_null (seqnn_model_get_tensor (m, index));
        g_assert_null (seqnn_model_find_tensor (m, "rnn.weight_ih_l9"));
        seqnn_model_free (m);
      }
}

static void
moments (const gfloat *x, gsize n, gdouble *mean, gdouble *var, gfloat *lo, gfloat *hi)
{
  gdouble s = 0, s2 = 0;
  *lo = G_MAXFLOAT, *hi = -G_MAXFLOAT;
  for (gsize i = 0; i < n; i++) {
    s += x[i];
    s2 += (gdouble) x[i] * x[i];
    *lo = MIN (*lo, x[i]);
    *hi = MAX (*hi, x[i]);
  }
  *mean = s / n;
  *var = s2 / n - *mean * *mean;
}

static void
test_init (void)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  c.vocab_size = 2000;
  c.padding_idx = 1;
  c.num_layers = 2;
  c.bidirectional = TRUE;
  SeqnnModel *m = new_model (&c, 42);
  const gfloat *p = seqnn_model_peek_params (m, NULL);
  gdouble mean, var;
  gfloat lo, hi;

  const SeqnnTensorInfo *emb = seqnn_model_find_tensor (m, "embedding.weight");
  for (gint j = 0; j < c.embed_dim; j++)
    g_assert_cmpfloat (p[emb->offset + 1 * c.embed_dim + j], ==, 0.0f);
  moments (p + emb->offset, emb->numel, &mean, &var, &lo, &hi);
  /* N(0,1) over 128k draws: mean within ~5 sigma of 0.003, var near 1 */
  g_assert_cmpfloat (fabs (mean), <, 0.015);
  g_assert_cmpfloat (fabs (var - 1.0), <, 0.03);

  for (guint i = 1; i < seqnn_model_get_n_tensors (m); i++) {
    const SeqnnTensorInfo *t = seqnn_model_get_tensor (m, i);
    gboolean fc = g_str_has_prefix (t->name, "fc.");
    gdouble bound = fc ? 1.0 / sqrt (2 * c.hidden_dim) : 1.0 / sqrt (c.hidden_dim);
    moments (p + t->offset, t->numel, &mean, &var, &lo, &hi);
    g_assert_cmpfloat (lo, >=, -bound);
    g_assert_cmpfloat (hi, <, bound);
    if (t->numel >= 1000) {
      /* U(-b, b): variance b^2/3, spread over most of the interval */
      g_assert_cmpfloat (fabs (var / (bound * bound / 3.0) - 1.0), <, 0.1);
      g_assert_cmpfloat (hi - lo, >, 1.9 * bound);
    }
  }

  /* Same seed, same bytes; another seed, other values. */
  SeqnnModel *same = new_model (&c, 42), *other = new_model (&c, 43);
  gsize n;
  seqnn_model_peek_params (m, &n);
  g_assert_cmpmem (p, n * sizeof (gfloat), seqnn_model_peek_params (same, NULL), n * sizeof (gfloat));
  g_assert_true (memcmp (p, seqnn_model_peek_params (other, NULL), n * sizeof (gfloat)) != 0);
  SeqnnModel *copy = seqnn_model_copy (m);
  g_assert_cmpmem (p, n * sizeof (gfloat), seqnn_model_peek_params (copy, NULL), n * sizeof (gfloat));
  g_assert_true (seqnn_model_get_config (copy)->bidirectional);
  seqnn_model_free (copy);
  seqnn_model_free (same);
  seqnn_model_free (other);
  seqnn_model_free (m);

  /* A fresh model is all zeros until initialised. */
  SeqnnModel *zero = seqnn_model_new (&c, NULL);
  const gfloat *z = seqnn_model_peek_params (zero, &n);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat (z[i], ==, 0.0f);
  seqnn_model_free (zero);
}

static void
expect_batch_error (SeqnnModel *m, const SeqnnBatch *batch, gint code, const gchar *needle)
{
  GError *error = NULL;
  g_assert_false (seqnn_batch_validate (batch, seqnn_model_get_config (m), &error));
  g_assert_error (error, SEQNN_ERROR, code);
  if (needle && !strstr (error->message, needle))
    g_error ("message \"%s\" lacks \"%s\"", error->message, needle);
  g_clear_error (&error);

  SeqnnInference *inf = seqnn_inference_new (m, 1);
  gfloat probs[64];
  g_assert_false (seqnn_inference_run (inf, batch, probs, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, code);
  g_clear_error (&error);
  seqnn_inference_free (inf);

  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  SeqnnTrainer *tr = seqnn_trainer_new (m, &oc, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_false (seqnn_trainer_step (tr, batch, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, code);
  g_clear_error (&error);
  g_assert_cmpuint (seqnn_trainer_get_step (tr), ==, 0);
  seqnn_trainer_free (tr);
}

static void
test_batch_validation (void)
{
  SeqnnConfig c = small_config (SEQNN_CELL_LSTM, 1, FALSE, SEQNN_HEAD_LAST);
  SeqnnModel *m = new_model (&c, 3);
  gint32 ids[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  gint lengths[] = { 3, 4, 1 };
  gint labels[] = { 0, 2, 1 };
  SeqnnBatch ok = { ids, lengths, 3, labels };
  g_assert_true (seqnn_batch_validate (&ok, &c, NULL));

  expect_batch_error (m, NULL, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");
  SeqnnBatch b = ok;
  b.n = 0;
  expect_batch_error (m, &b, SEQNN_ERROR_INVALID_ARGUMENT, NULL);
  b = ok;
  b.ids = NULL;
  expect_batch_error (m, &b, SEQNN_ERROR_INVALID_ARGUMENT, "ids");
  b = ok;
  b.lengths = NULL;
  expect_batch_error (m, &b, SEQNN_ERROR_INVALID_ARGUMENT, "lengths");

  gint empty_lengths[] = { 3, 4, 0 };
  b = ok;
  b.lengths = empty_lengths;
  expect_batch_error (m, &b, SEQNN_ERROR_INVALID_ARGUMENT, "sequence 2 is empty");

  gint32 bad_ids[] = { 1, 2, 3, 4, 5, 6, 50, 8 };  /* sequence 1, position 3 */
  b = ok;
  b.ids = bad_ids;
  expect_batch_error (m, &b, SEQNN_ERROR_OUT_OF_RANGE, "sequence 1, position 3");
  gint32 neg_ids[] = { 1, -1, 3, 4, 5, 6, 7, 8 };
  b.ids = neg_ids;
  expect_batch_error (m, &b, SEQNN_ERROR_OUT_OF_RANGE, "sequence 0, position 1");

  gint bad_labels[] = { 0, 3, 1 };
  b = ok;
  b.labels = bad_labels;
  expect_batch_error (m, &b, SEQNN_ERROR_OUT_OF_RANGE, "sequence 1: label 3");

  /* Training needs labels. */
  GError *error = NULL;
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  SeqnnTrainer *tr = seqnn_trainer_new (m, &oc, 1, 0, NULL);
  b = ok;
  b.labels = NULL;
  g_assert_false (seqnn_trainer_compute_gradients (tr, &b, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_trainer_free (tr);
  g_assert_false (seqnn_inference_run (NULL, &ok, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_model_free (m);
}

/* Every sequence gives the same logits, outputs and final states alone as packed. */
static void
check_packed_vs_alone (SeqnnCell cell, gint layers, gboolean bidir, SeqnnHead head, gint n_threads)
{
  SeqnnConfig c = small_config (cell, layers, bidir, head);
  SeqnnModel *m = new_model (&c, 11 + cell * 7 + layers);
  static const gint lengths[] = { 4, 9, 1, 9, 6, 2, 7 };
  const gint n = G_N_ELEMENTS (lengths);
  gint32 ids[64];
  gint total = 0;
  for (gint i = 0; i < n; i++)
    for (gint t = 0; t < lengths[i]; t++, total++)
      ids[total] = (gint32) ((total * 37 + 11) % c.vocab_size);
  const gint D = bidir ? 2 : 1, F = D * c.hidden_dim, LD = layers * D, H = c.hidden_dim, C = c.num_classes;

  SeqnnInference *packed = seqnn_inference_new (m, n_threads);
  SeqnnInference *alone = seqnn_inference_new (m, 1);
  gfloat logits[7 * 3], probs[7 * 3];
  SeqnnBatch batch = { ids, lengths, n, NULL };
  GError *error = NULL;
  g_assert_true (seqnn_inference_run (packed, &batch, probs, logits, &error));
  g_assert_no_error (error);
  const gfloat *hn = seqnn_inference_get_final_hidden (packed);
  const gfloat *cn = seqnn_inference_get_final_cell (packed);
  g_assert_true ((cn != NULL) == (cell == SEQNN_CELL_LSTM));

  gint offset = 0;
  for (gint i = 0; i < n; i++) {
    SeqnnBatch one = { ids + offset, &lengths[i], 1, NULL };
    gfloat l1[3], p1[3];
    g_assert_true (seqnn_inference_run (alone, &one, p1, l1, &error));
    gdouble psum = 0;
    for (gint k = 0; k < C; k++) {
      g_assert_cmpfloat_with_epsilon (logits[i * C + k], l1[k], 1e-5);
      g_assert_cmpfloat_with_epsilon (probs[i * C + k], p1[k], 1e-6);
      psum += probs[i * C + k];
    }
    g_assert_cmpfloat_with_epsilon (psum, 1.0, 1e-5);
    const gfloat *h1 = seqnn_inference_get_final_hidden (alone);
    const gfloat *c1 = seqnn_inference_get_final_cell (alone);
    for (gint k = 0; k < LD; k++)
      for (gint j = 0; j < H; j++) {
        g_assert_cmpfloat_with_epsilon (hn[(k * n + i) * H + j], h1[k * H + j], 1e-5);
        if (cn)
          g_assert_cmpfloat_with_epsilon (cn[(k * n + i) * H + j], c1[k * H + j], 1e-5);
      }
    gfloat *out_packed = g_new (gfloat, lengths[i] * F), *out_alone = g_new (gfloat, lengths[i] * F);
    seqnn_inference_copy_outputs (packed, i, out_packed);
    seqnn_inference_copy_outputs (alone, 0, out_alone);
    for (gint k = 0; k < lengths[i] * F; k++)
      g_assert_cmpfloat_with_epsilon (out_packed[k], out_alone[k], 1e-5);
    /* the top layer's last (forward) / first (reverse) output is its h_n */
    const gint top = (layers - 1) * D;
    for (gint j = 0; j < H; j++) {
      g_assert_cmpfloat (out_alone[(lengths[i] - 1) * F + j], ==, h1[top * H + j]);
      if (bidir)
        g_assert_cmpfloat (out_alone[H + j], ==, h1[(top + 1) * H + j]);
    }
    g_free (out_packed);
    g_free (out_alone);
    offset += lengths[i];
  }
  seqnn_inference_free (packed);
  seqnn_inference_free (alone);
  seqnn_model_free (m);
}

static void
test_packed_vs_alone (void)
{
  for (guint ci = 0; ci < G_N_ELEMENTS (all_cells); ci++)
    for (guint hi = 0; hi < G_N_ELEMENTS (all_heads); hi++)
      for (gint layers = 1; layers <= 2; layers++)
        for (gint bidir = 0; bidir <= 1; bidir++)
          check_packed_vs_alone (all_cells[ci], layers, bidir, all_heads[hi], 1);
  check_packed_vs_alone (SEQNN_CELL_LSTM, 2, TRUE, SEQNN_HEAD_MEAN, 2);
}

enum { NA_N = 32, NA_LEN = 24 };

/* The largest batch first, then smaller ones of varied lengths. */
static void
run_workload (SeqnnInference *inf, const gint32 *ids, gint rounds)
{
  gint lengths[NA_N];
  gfloat probs[NA_N * 3];
  for (gint i = 0; i < NA_N; i++)
    lengths[i] = NA_LEN;
  SeqnnBatch big = { ids, lengths, NA_N, NULL };
  g_assert_true (seqnn_inference_run (inf, &big, probs, NULL, NULL));
  for (gint round = 0; round < rounds; round++) {
    gint n = 1 + (round * 7) % NA_N;
    for (gint i = 0; i < n; i++)
      lengths[i] = 1 + (i * 5 + round) % NA_LEN;
    SeqnnBatch b = { ids, lengths, n, NULL };
    g_assert_true (seqnn_inference_run (inf, &b, probs, NULL, NULL));
  }
}

/* Once it has seen the largest batch, the workspace allocates nothing more,
 * however later batches are split into shards. */
static void
test_inference_no_alloc (void)
{
  gint rounds = g_getenv ("SEQNN_UNDER_VALGRIND") ? 5 : 20;
  gint32 ids[NA_N * NA_LEN];
  for (gint threads = 1; threads <= 2; threads++) {
    SeqnnConfig c = small_config (SEQNN_CELL_GRU, 2, TRUE, SEQNN_HEAD_MAX);
    c.hidden_dim = 32;
    for (gint i = 0; i < NA_N * NA_LEN; i++)
      ids[i] = (i * 13) % c.vocab_size;
    SeqnnModel *m = new_model (&c, 5);
    SeqnnInference *inf = seqnn_inference_new (m, threads);
    run_workload (inf, ids, 0);
    guint64 warm = seqnn_inference_get_n_allocations (inf);
    g_assert_cmpuint (warm, >, 0);
    run_workload (inf, ids, rounds);
    run_workload (inf, ids, rounds);
    g_assert_cmpuint (seqnn_inference_get_n_allocations (inf), ==, warm);
    seqnn_inference_free (inf);
    seqnn_model_free (m);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/strings", test_strings);
  g_test_add_func ("/model/config", test_config);
  g_test_add_func ("/model/tensor-table", test_tensor_table);
  g_test_add_func ("/model/init", test_init);
  g_test_add_func ("/model/batch-validation", test_batch_validation);
  g_test_add_func ("/model/packed-vs-alone", test_packed_vs_alone);
  g_test_add_func ("/model/inference-no-alloc", test_inference_no_alloc);
  return g_test_run ();
}
