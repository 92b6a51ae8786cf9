/* Optimizers against hand-computed updates: Adam (bias correction, weight
 * decay), SGD (momentum, weight decay), clipping by global norm, row-sparse
 * and dense embedding updates, freezing, and NaN handling.
 * The expected values are computed here in double from the gradient the
 * trainer reports, with torch's formulas written out.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "seqnn/model.h"

#define V 6
#define E 3
#define TOL 2e-6

static SeqnnModel *
tiny_model (gint padding_idx)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  c.cell = SEQNN_CELL_RNN_TANH;
  c.vocab_size = V;
  c.embed_dim = E;
  c.hidden_dim = 2;
  c.num_classes = 2;
  c.padding_idx = padding_idx;
  SeqnnModel *m = seqnn_model_new (&c, NULL);
  g_assert_nonnull (m);
  seqnn_model_init_params (m, 7);
  return m;
}

/* Batch A uses embedding rows {1, 2, 3}; batch B rows {3, 4}. */
static const gint32 ids_a[] = { 2, 3, 1, 2 };
static const gint lengths_a[] = { 3, 1 };
static const gint labels_a[] = { 1, 0 };
static const gint32 ids_b[] = { 3, 4, 4, 3, 4 };
static const gint lengths_b[] = { 2, 3 };
static const gint labels_b[] = { 0, 1 };

static SeqnnBatch
batch_a (void)
{
  SeqnnBatch b = { ids_a, lengths_a, 2, labels_a };
  return b;
}

static SeqnnBatch
batch_b (void)
{
  SeqnnBatch b = { ids_b, lengths_b, 2, labels_b };
  return b;
}

static SeqnnTrainer *
new_trainer (SeqnnModel *m, const SeqnnOptimizerConfig *oc)
{
  GError *error = NULL;
  SeqnnTrainer *tr = seqnn_trainer_new (m, oc, 1, 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (tr);
  return tr;
}

/* compute_gradients, keep copies of the gradient and parameters, apply. */
static void
step_capture (SeqnnTrainer *tr, SeqnnModel *m, const SeqnnBatch *b, gdouble *g, gdouble *p0)
{
  GError *error = NULL;
  gsize n, ng;
  const gfloat *params = seqnn_model_peek_params (m, &n);
  g_assert_true (seqnn_trainer_compute_gradients (tr, b, NULL, &error));
  g_assert_no_error (error);
  const gfloat *grad = seqnn_trainer_get_gradients (tr, &ng);
  g_assert_cmpuint (n, ==, ng);
  for (gsize i = 0; i < n; i++) {
    g[i] = grad[i];
    p0[i] = params[i];
  }
  g_assert_true (seqnn_trainer_apply_gradients (tr, &error));
  g_assert_no_error (error);
}

static void
assert_params (SeqnnModel *m, const gdouble *expect)
{
  gsize n;
  const gfloat *p = seqnn_model_peek_params (m, &n);
  for (gsize i = 0; i < n; i++)
    if (fabs (p[i] - expect[i]) > TOL * (1.0 + fabs (expect[i])))
      g_error ("parameter %" G_GSIZE_FORMAT ": %.9g, expected %.9g", i, p[i], expect[i]);
}

/* torch.optim.Adam, dense embedding, with and without weight decay. */
static void
check_adam (gfloat weight_decay)
{
  SeqnnModel *m = tiny_model (-1);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  oc.learning_rate = 0.01f;
  oc.dense_embedding = TRUE;
  oc.weight_decay = weight_decay;
  SeqnnTrainer *tr = new_trainer (m, &oc);
  gsize n;
  seqnn_model_peek_params (m, &n);
  gdouble *g = g_new (gdouble, n), *p = g_new (gdouble, n), *mo = g_new0 (gdouble, n),
      *ve = g_new0 (gdouble, n), *expect = g_new (gdouble, n);
  const gdouble b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.01;
  for (gint t = 1; t <= 3; t++) {
    SeqnnBatch b = t == 2 ? batch_b () : batch_a ();
    step_capture (tr, m, &b, g, p);
    for (gsize i = 0; i < n; i++) {
      gdouble gi = g[i] + weight_decay * p[i];
      mo[i] = b1 * mo[i] + (1 - b1) * gi;
      ve[i] = b2 * ve[i] + (1 - b2) * gi * gi;
      gdouble mhat = mo[i] / (1 - pow (b1, t)), vhat = ve[i] / (1 - pow (b2, t));
      expect[i] = p[i] - lr * mhat / (sqrt (vhat) + eps);
    }
    assert_params (m, expect);
    g_assert_cmpuint (seqnn_trainer_get_step (tr), ==, t);
  }
  /* Step 1 by hand: m_hat = g, v_hat = g^2, so each moved parameter moved by lr * sign(g). */
  g_free (g);
  g_free (p);
  g_free (mo);
  g_free (ve);
  g_free (expect);
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
}

static void
test_adam (void)
{
  check_adam (0.0f);
}

static void
test_adam_weight_decay (void)
{
  check_adam (0.1f);
}

static void
test_adam_first_step_sign (void)
{
  SeqnnModel *m = tiny_model (-1);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  SeqnnTrainer *tr = new_trainer (m, &oc);
  gsize n;
  seqnn_model_peek_params (m, &n);
  gdouble *g = g_new (gdouble, n), *p = g_new (gdouble, n);
  SeqnnBatch b = batch_a ();
  step_capture (tr, m, &b, g, p);
  const gfloat *now = seqnn_model_peek_params (m, NULL);
  gint moved = 0;
  for (gsize i = 0; i < n; i++) {
    gdouble expect = fabs (g[i]) > 1e-4 ? p[i] - 0.001 * (g[i] > 0 ? 1 : -1) : p[i] - 0.001 * g[i] / (fabs (g[i]) + 1e-8);
    g_assert_cmpfloat (fabs (now[i] - expect), <, 1e-6);
    moved += g[i] != 0.0;
  }
  g_assert_cmpint (moved, >, 10);
  g_free (g);
  g_free (p);
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
}

static void
check_sgd (gfloat momentum, gfloat weight_decay)
{
  SeqnnModel *m = tiny_model (-1);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  oc.kind = SEQNN_OPTIMIZER_SGD;
  oc.learning_rate = 0.5f;
  oc.momentum = momentum;
  oc.weight_decay = weight_decay;
  oc.dense_embedding = TRUE;
  SeqnnTrainer *tr = new_trainer (m, &oc);
  gsize n;
  seqnn_model_peek_params (m, &n);
  gdouble *g = g_new (gdouble, n), *p = g_new (gdouble, n), *buf = g_new0 (gdouble, n),
      *expect = g_new (gdouble, n);
  for (gint t = 1; t <= 3; t++) {
    SeqnnBatch b = t == 2 ? batch_b () : batch_a ();
    step_capture (tr, m, &b, g, p);
    for (gsize i = 0; i < n; i++) {
      gdouble d = g[i] + weight_decay * p[i];
      if (momentum != 0.0f) {
        buf[i] = t == 1 ? d : momentum * buf[i] + d;
        d = buf[i];
      }
      expect[i] = p[i] - 0.5 * d;
    }
    assert_params (m, expect);
  }
  g_free (g);
  g_free (p);
  g_free (buf);
  g_free (expect);
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
}

static void
test_sgd (void)
{
  check_sgd (0.0f, 0.0f);
}

static void
test_sgd_momentum (void)
{
  check_sgd (0.9f, 0.0f);
}

static void
test_sgd_momentum_weight_decay (void)
{
  check_sgd (0.9f, 0.05f);
}

/* torch's clip_grad_norm_: scale by clip / (norm + 1e-6) when that is < 1. */
static void
test_clipping (void)
{
  for (gint active = 0; active <= 1; active++) {
    SeqnnModel *m = tiny_model (-1);
    SeqnnOptimizerConfig oc;
    seqnn_optimizer_config_init_default (&oc);
    oc.kind = SEQNN_OPTIMIZER_SGD;
    oc.learning_rate = 0.1f;
    oc.clip_norm = active ? 0.01f : 1000.0f;
    SeqnnTrainer *tr = new_trainer (m, &oc);
    gsize n;
    seqnn_model_peek_params (m, &n);
    gdouble *g = g_new (gdouble, n), *p = g_new (gdouble, n), *expect = g_new (gdouble, n);
    SeqnnBatch b = batch_a ();
    step_capture (tr, m, &b, g, p);
    gdouble norm = 0;
    for (gsize i = 0; i < n; i++)
      norm += g[i] * g[i];
    norm = sqrt (norm);
    g_assert_cmpfloat (norm, >, 0.02);  /* so that 0.01 clips */
    gdouble coef = active ? 0.01 / (norm + 1e-6) : 1.0;
    for (gsize i = 0; i < n; i++)
      expect[i] = p[i] - 0.1 * coef * g[i];
    assert_params (m, expect);
    g_free (g);
    g_free (p);
    g_free (expect);
    seqnn_trainer_free (tr);
    seqnn_model_free (m);
  }
}

static void
copy_row (SeqnnModel *m, gint row, gfloat *dst)
{
  memcpy (dst, seqnn_model_peek_params (m, NULL) + row * E, sizeof (gfloat) * E);
}

/* Sparse (default, lazy): rows not in the batch are not touched by the step
 * (their skipped updates land when a batch reads them or on sync); the step
 * count is global. Dense: every row's moments decay each step. */
static void
test_sparse_vs_dense_embedding (void)
{
  for (gint dense = 0; dense <= 1; dense++) {
    SeqnnModel *m = tiny_model (1);
    SeqnnOptimizerConfig oc;
    seqnn_optimizer_config_init_default (&oc);
    oc.learning_rate = 0.01f;
    oc.dense_embedding = dense;
    oc.weight_decay = 0.01f;  /* must still leave the padding row at zero */
    SeqnnTrainer *tr = new_trainer (m, &oc);
    gsize n;
    seqnn_model_peek_params (m, &n);
    gdouble *g = g_new (gdouble, n), *p = g_new (gdouble, n);
    gfloat row0_init[E], row2_after1[E], row2_after2[E], row5_init[E], row0_now[E], row5_now[E];
    copy_row (m, 0, row0_init);
    copy_row (m, 5, row5_init);

    SeqnnBatch a = batch_a (), b = batch_b ();
    step_capture (tr, m, &a, g, p);
    gdouble row2_g1[E];  /* row 2's step-1 gradient with weight decay */
    for (gint j = 0; j < E; j++)
      row2_g1[j] = g[2 * E + j] + 0.01 * p[2 * E + j];
    for (gint j = 0; j < E; j++) {
      g_assert_cmpfloat (g[1 * E + j], ==, 0.0);  /* padding row: no gradient */
      g_assert_cmpfloat (g[2 * E + j], !=, 0.0);
      g_assert_cmpfloat (g[4 * E + j], ==, 0.0);
    }
    copy_row (m, 2, row2_after1);
    step_capture (tr, m, &b, g, p);
    copy_row (m, 2, row2_after2);
    for (gint j = 0; j < E; j++) {
      /* only the rows of batch B carry a gradient now; row 2's was cleared */
      g_assert_cmpfloat (g[2 * E + j], ==, 0.0);
      g_assert_cmpfloat (g[4 * E + j], !=, 0.0);
    }
    /* Row 4 first seen at step 2: bias correction of step 2 (one global count). */
    for (gint j = 0; j < E; j++) {
      gdouble gi = g[4 * E + j] + 0.01 * p[4 * E + j];
      gdouble mhat = 0.1 * gi / (1 - 0.9 * 0.9), vhat = 0.001 * gi * gi / (1 - 0.999 * 0.999);
      gdouble expect = p[4 * E + j] - 0.01 * mhat / (sqrt (vhat) + 1e-8);
      if (!dense)
        g_assert_cmpfloat (fabs (seqnn_model_peek_params (m, NULL)[4 * E + j] - expect), <, TOL);
    }
    copy_row (m, 0, row0_now);
    copy_row (m, 5, row5_now);
    const gfloat *params = seqnn_model_peek_params (m, NULL);
    for (gint j = 0; j < E; j++)
      g_assert_cmpfloat (params[1 * E + j], ==, 0.0f);
    if (!dense) {
      g_assert_cmpmem (row2_after1, sizeof row2_after1, row2_after2, sizeof row2_after2);
      g_assert_cmpmem (row0_init, sizeof row0_init, row0_now, sizeof row0_now);
      g_assert_cmpmem (row5_init, sizeof row5_init, row5_now, sizeof row5_now);
      /* sync: row 2's step-2 update through its momentum lands (eps neglected):
       * p -= lr sqrt(1 - b2^2) / (1 - b1^2) * (b1 m) / sqrt(b2 v); rows never
       * used have no moments and, in sparse mode, no weight decay either */
      seqnn_trainer_sync (tr);
      copy_row (m, 2, row2_after2);
      for (gint j = 0; j < E; j++) {
        gdouble m1 = 0.1 * row2_g1[j], v1 = 0.001 * row2_g1[j] * row2_g1[j];
        gdouble expect = row2_after1[j]
            - 0.01 * sqrt (1 - 0.999 * 0.999) / (1 - 0.9 * 0.9) * (0.9 * m1) / sqrt (0.999 * v1);
        g_assert_cmpfloat (fabs (row2_after2[j] - expect), <, TOL);
        g_assert_cmpfloat (row2_after2[j], !=, row2_after1[j]);
      }
      copy_row (m, 0, row0_now);
      copy_row (m, 5, row5_now);
      g_assert_cmpmem (row0_init, sizeof row0_init, row0_now, sizeof row0_now);
      g_assert_cmpmem (row5_init, sizeof row5_init, row5_now, sizeof row5_now);
    } else {
      /* row 2's moments from step 1 keep moving it; rows never used move by weight decay */
      g_assert_true (memcmp (row2_after1, row2_after2, sizeof row2_after1) != 0);
      g_assert_true (memcmp (row0_init, row0_now, sizeof row0_now) != 0);
    }
    g_free (g);
    g_free (p);
    seqnn_trainer_free (tr);
    seqnn_model_free (m);
  }
}

static void
test_freeze_embedding (void)
{
  SeqnnModel *m = tiny_model (-1);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  oc.freeze_embedding = TRUE;
  oc.dense_embedding = TRUE;
  SeqnnTrainer *tr = new_trainer (m, &oc);
  gsize n;
  const gfloat *params = seqnn_model_peek_params (m, &n);
  gfloat *before = g_memdup2 (params, n * sizeof (gfloat));
  SeqnnBatch a = batch_a ();
  for (gint t = 0; t < 3; t++)
    g_assert_true (seqnn_trainer_step (tr, &a, NULL, NULL));
  const gfloat *grad = seqnn_trainer_get_gradients (tr, NULL);
  for (gint i = 0; i < V * E; i++)
    g_assert_cmpfloat (grad[i], ==, 0.0f);
  g_assert_cmpmem (before, V * E * sizeof (gfloat), params, V * E * sizeof (gfloat));
  g_assert_true (memcmp (before + V * E, params + V * E, (n - V * E) * sizeof (gfloat)) != 0);
  g_free (before);
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
}

/* A NaN loss fails the step with SEQNN_ERROR_NUMERIC naming it; nothing changes. */
static void
test_nan (void)
{
  SeqnnModel *m = tiny_model (-1);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  SeqnnTrainer *tr = new_trainer (m, &oc);
  gsize n;
  gfloat *params = seqnn_model_get_params (m, &n);
  const SeqnnTensorInfo *fc_b = seqnn_model_find_tensor (m, "fc.bias");
  SeqnnBatch a = batch_a ();
  GError *error = NULL;

  for (gint round = 0; round < 2; round++) {
    gfloat saved = params[fc_b->offset];
    params[fc_b->offset] = round ? INFINITY : NAN;
    gfloat *before = g_memdup2 (params, n * sizeof (gfloat));
    guint64 step = seqnn_trainer_get_step (tr);
    gchar *needle = g_strdup_printf ("step %" G_GUINT64_FORMAT, step + 1);
    SeqnnStepResult r;
    g_assert_false (seqnn_trainer_step (tr, &a, &r, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC);
    g_assert_nonnull (strstr (error->message, needle));
    g_clear_error (&error);
    g_assert_cmpmem (before, n * sizeof (gfloat), params, n * sizeof (gfloat));
    g_assert_cmpuint (seqnn_trainer_get_step (tr), ==, step);
    /* nothing to apply after a failed computation */
    g_assert_false (seqnn_trainer_apply_gradients (tr, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    params[fc_b->offset] = saved;
    g_free (before);
    g_free (needle);
    /* and training goes on */
    g_assert_true (seqnn_trainer_step (tr, &a, &r, &error));
    g_assert_no_error (error);
    g_assert_true (isfinite (r.loss));
    g_assert_true (seqnn_trainer_step (tr, &a, &r, &error));
  }
  g_assert_cmpuint (seqnn_trainer_get_step (tr), ==, 4);
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
}

static void
test_config_and_api (void)
{
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  g_assert_cmpint (oc.kind, ==, SEQNN_OPTIMIZER_ADAM);
  g_assert_cmpfloat (oc.learning_rate, ==, 0.001f);
  g_assert_cmpfloat (oc.beta1, ==, 0.9f);
  g_assert_cmpfloat (oc.beta2, ==, 0.999f);
  g_assert_cmpfloat (oc.eps, ==, 1e-8f);
  g_assert_false (oc.dense_embedding);
  SeqnnOptimizerKind kind;
  g_assert_true (seqnn_optimizer_from_string ("sgd", &kind));
  g_assert_cmpint (kind, ==, SEQNN_OPTIMIZER_SGD);
  g_assert_cmpstr (seqnn_optimizer_to_string (SEQNN_OPTIMIZER_ADAM), ==, "adam");
  g_assert_false (seqnn_optimizer_from_string ("rmsprop", &kind));

  SeqnnModel *m = tiny_model (-1);
  GError *error = NULL;
  const gchar *fields[] = { "learning_rate", "beta1", "clip_norm", "momentum" };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++) {
    SeqnnOptimizerConfig bad = oc;
    switch (i) {
      case 0: bad.learning_rate = -1.0f; break;
      case 1: bad.beta1 = 1.0f; break;
      case 2: bad.clip_norm = -0.5f; break;
      case 3: bad.momentum = NAN; break;
    }
    g_assert_null (seqnn_trainer_new (m, &bad, 1, 0, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, fields[i]));
    g_clear_error (&error);
  }
  g_assert_null (seqnn_trainer_new (NULL, &oc, 1, 0, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* learning rate 0 (SGD): nothing moves, yet the step counts */
  oc.kind = SEQNN_OPTIMIZER_SGD;
  SeqnnTrainer *tr = new_trainer (m, &oc);
  g_assert_false (seqnn_trainer_apply_gradients (tr, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_trainer_set_learning_rate (tr, 0.0f);
  gsize n;
  const gfloat *params = seqnn_model_peek_params (m, &n);
  gfloat *before = g_memdup2 (params, n * sizeof (gfloat));
  SeqnnBatch a = batch_a ();
  SeqnnStepResult r;
  g_assert_true (seqnn_trainer_step (tr, &a, &r, NULL));
  g_assert_cmpint (r.n, ==, 2);
  g_assert_cmpint (r.n_correct, >=, 0);
  g_assert_cmpint (r.n_correct, <=, 2);
  g_assert_cmpfloat (r.loss, >, 0.0);
  g_assert_cmpmem (before, n * sizeof (gfloat), params, n * sizeof (gfloat));
  g_assert_cmpuint (seqnn_trainer_get_step (tr), ==, 1);
  g_free (before);
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
}

/* ---- Lazy sparse embedding updates against dense ------------------------ */

#define LV 24
#define LE 4

typedef struct {
  SeqnnOptimizerKind kind;
  gfloat eps, momentum, lr;
  gint n_steps;
  gboolean vary_lr;
  gdouble tol;   /* on |lazy - dense| / (|dense| + 0.1) */
} LazyCase;

/* Batch of step t: two sequences over a few frequent rows (1..6) and a rare
 * row or two; row LV-1 is used at steps 2 and n-10 only (a gap longer than the
 * catch-up ring), row LV-2 at step 2 only (it catches up on sync alone). */
static gint
lazy_batch (GRand *rand, gint t, gint n_steps, gint32 *ids, gint *lengths, gint *labels)
{
  gint n_ids = 0;
  for (gint s = 0; s < 2; s++) {
    gint len = g_rand_int_range (rand, 1, 6);
    for (gint j = 0; j < len; j++) {
      gint32 row;
      if (g_rand_int_range (rand, 0, 3) > 0)
        row = g_rand_int_range (rand, 0, 7);  /* 0 is the padding row */
      else
        row = g_rand_int_range (rand, 7, LV - 2);
      ids[n_ids++] = row;
    }
    if (s == 0 && (t == 2 || t == n_steps - 10))
      ids[n_ids - 1] = LV - 1;
    if (s == 1 && t == 2)
      ids[n_ids - 1] = LV - 2;
    lengths[s] = len;
    labels[s] = g_rand_int_range (rand, 0, 3);
  }
  return n_ids;
}

static gdouble
max_rel_diff (SeqnnModel *a, SeqnnModel *b, gsize first, gsize end)
{
  const gfloat *pa = seqnn_model_peek_params (a, NULL), *pb = seqnn_model_peek_params (b, NULL);
  gdouble worst = 0.0;
  for (gsize i = first; i < end; i++)
    worst = MAX (worst, fabs ((gdouble) pa[i] - pb[i]) / (fabs (pb[i]) + 0.1));
  return worst;
}

static void
test_lazy_vs_dense (gconstpointer data)
{
  const LazyCase *lc = data;
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  c.vocab_size = LV;
  c.embed_dim = LE;
  c.hidden_dim = 3;
  c.num_classes = 3;
  c.padding_idx = 0;
  SeqnnModel *dense_model = seqnn_model_new (&c, NULL);
  seqnn_model_init_params (dense_model, 11);
  SeqnnModel *lazy_model = seqnn_model_copy (dense_model);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  oc.kind = lc->kind;
  oc.eps = lc->eps;
  oc.momentum = lc->momentum;
  oc.learning_rate = lc->lr;
  oc.dense_embedding = TRUE;
  SeqnnTrainer *dense = new_trainer (dense_model, &oc);
  oc.dense_embedding = FALSE;
  SeqnnTrainer *lazy = new_trainer (lazy_model, &oc);
  const gsize n_emb = LV * LE;
  gsize n;
  seqnn_model_peek_params (dense_model, &n);

  GRand *rand = g_rand_new_with_seed (5);
  gint32 ids[16];
  gint lengths[2], labels[2];
  gboolean saw_stale = FALSE;
  for (gint t = 0; t < lc->n_steps; t++) {
    lazy_batch (rand, t, lc->n_steps, ids, lengths, labels);
    SeqnnBatch b = { ids, lengths, 2, labels };
    if (lc->vary_lr && t % 37 == 0) {
      gfloat lr = lc->lr * (1.0f + (t / 37) % 3);
      seqnn_trainer_set_learning_rate (dense, lr);
      seqnn_trainer_set_learning_rate (lazy, lr);
    }
    g_assert_true (seqnn_trainer_step (dense, &b, NULL, NULL));
    g_assert_true (seqnn_trainer_step (lazy, &b, NULL, NULL));
    if (t == lc->n_steps / 2) {
      /* rows not read since step 2 lag behind until synced */
      gdouble stale = max_rel_diff (lazy_model, dense_model, (LV - 2) * LE, n_emb);
      g_test_message ("step %d: rows skipped since step 2 lag by %.3g before sync", t, stale);
      saw_stale = stale > 1e-3;
      seqnn_trainer_sync (lazy);
      g_assert_cmpfloat (max_rel_diff (lazy_model, dense_model, 0, n), <, lc->tol);
    }
  }
  g_assert_true (saw_stale);
  g_assert_cmpuint (seqnn_trainer_get_step (lazy), ==, lc->n_steps);
  /* freeing the trainer applies what is pending (row LV-1: a gap past the ring) */
  seqnn_trainer_free (lazy);
  gdouble emb = max_rel_diff (lazy_model, dense_model, 0, n_emb);
  gdouble all = max_rel_diff (lazy_model, dense_model, 0, n);
  g_test_message ("%d steps: embedding %.3g, all parameters %.3g (tolerance %.3g)",
      lc->n_steps, emb, all, lc->tol);
  g_assert_cmpfloat (all, <, lc->tol);
  /* the padding row stays zero */
  for (gint j = 0; j < LE; j++)
    g_assert_cmpfloat (seqnn_model_peek_params (lazy_model, NULL)[j], ==, 0.0f);
  g_rand_free (rand);
  seqnn_trainer_free (dense);
  seqnn_model_free (dense_model);
  seqnn_model_free (lazy_model);
}

static const LazyCase lazy_adam_exact = { SEQNN_OPTIMIZER_ADAM, 1e-12f, 0.0f, 0.001f, 600, TRUE, 1e-5 };
static const LazyCase lazy_adam_default = { SEQNN_OPTIMIZER_ADAM, 1e-8f, 0.0f, 0.001f, 600, FALSE, 1e-4 };
static const LazyCase lazy_sgd_momentum = { SEQNN_OPTIMIZER_SGD, 0.0f, 0.9f, 0.05f, 600, TRUE, 5e-5 };

/* When beta1 >= sqrt(beta2) the skipped-step series does not settle: the
 * sparse mode runs the dense update, bit for bit. */
static void
test_lazy_fallback_dense (void)
{
  SeqnnModel *dense_model = tiny_model (1), *sparse_model = seqnn_model_copy (dense_model);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  oc.beta1 = 0.9f;
  oc.beta2 = 0.5f;
  oc.dense_embedding = TRUE;
  SeqnnTrainer *dense = new_trainer (dense_model, &oc);
  oc.dense_embedding = FALSE;
  SeqnnTrainer *sparse = new_trainer (sparse_model, &oc);
  for (gint t = 0; t < 4; t++) {
    SeqnnBatch b = t % 2 ? batch_b () : batch_a ();
    g_assert_true (seqnn_trainer_step (dense, &b, NULL, NULL));
    g_assert_true (seqnn_trainer_step (sparse, &b, NULL, NULL));
  }
  gsize n;
  const gfloat *pd = seqnn_model_peek_params (dense_model, &n);
  g_assert_cmpmem (pd, n * sizeof (gfloat), seqnn_model_peek_params (sparse_model, NULL),
      n * sizeof (gfloat));
  seqnn_trainer_free (dense);
  seqnn_trainer_free (sparse);
  seqnn_model_free (dense_model);
  seqnn_model_free (sparse_model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/optim/adam", test_adam);
  g_test_add_func ("/optim/adam-weight-decay", test_adam_weight_decay);
  g_test_add_func ("/optim/adam-first-step-sign", test_adam_first_step_sign);
  g_test_add_func ("/optim/sgd", test_sgd);
  g_test_add_func ("/optim/sgd-momentum", test_sgd_momentum);
  g_test_add_func ("/optim/sgd-momentum-weight-decay", test_sgd_momentum_weight_decay);
  g_test_add_func ("/optim/clipping", test_clipping);
  g_test_add_func ("/optim/sparse-vs-dense-embedding", test_sparse_vs_dense_embedding);
  g_test_add_data_func ("/optim/lazy-vs-dense/adam-eps-1e-12", &lazy_adam_exact, test_lazy_vs_dense);
  g_test_add_data_func ("/optim/lazy-vs-dense/adam-default-eps", &lazy_adam_default, test_lazy_vs_dense);
  g_test_add_data_func ("/optim/lazy-vs-dense/sgd-momentum", &lazy_sgd_momentum, test_lazy_vs_dense);
  g_test_add_func ("/optim/lazy-fallback-dense", test_lazy_fallback_dense);
  g_test_add_func ("/optim/freeze-embedding", test_freeze_embedding);
  g_test_add_func ("/optim/nan", test_nan);
  g_test_add_func ("/optim/config-and-api", test_config_and_api);
  return g_test_run ();
}
