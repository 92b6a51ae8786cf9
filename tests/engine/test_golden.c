/* Golden tests: libseqnn against PyTorch, forward, gradients and optimizer
 * steps, on the fixtures tests/fixtures/make_golden.py wrote (see there for
 * the file format and what each case covers).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "seqnn/model.h"

/* Forward and updated parameters: |engine - torch| <= TOL * (1 + |torch|). */
#define FORWARD_TOL 1e-5
#define UPDATE_TOL 1e-5
/* Gradients: relative, with a small absolute floor for entries near zero. */
#define GRAD_RTOL 1e-4
#define GRAD_ATOL 1e-7

/* ---- Fixture file ------------------------------------------------------- */

typedef struct {
  gint ndim;
  gint dims[3];
  gsize n;
  gdouble *values;
} GoldenTensor;

typedef struct {
  gchar *path;
  GHashTable *config;  /* key -> value string */
  GHashTable *tensors; /* name -> GoldenTensor */
} Golden;

static void
golden_tensor_free (gpointer data)
{
  GoldenTensor *t = data;
  g_free (t->values);
  g_free (t);
}

static void
golden_free (Golden *golden)
{
  if (golden == NULL)
    return;
  g_free (golden->path);
  g_hash_table_unref (golden->config);
  g_hash_table_unref (golden->tensors);
  g_free (golden);
}

/* Reads the whole file or fails the test with the line that is wrong. */
static Golden *
golden_load (const gchar *path)
{
  gchar *text = NULL;
  GError *error = NULL;
  if (!g_file_get_contents (path, &text, NULL, &error)) {
    g_test_fail_printf ("%s", error->message);
    g_clear_error (&error);
    return NULL;
  }
  Golden *golden = g_new0 (Golden, 1);
  golden->path = g_strdup (path);
  golden->config = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  golden->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, golden_tensor_free);

  gchar **lines = g_strsplit (text, "\n", -1);
  g_free (text);
  GoldenTensor *open = NULL; /* tensor whose values are being read */
  gsize filled = 0;
  gboolean ok = TRUE;
  for (guint li = 0; lines[li] != NULL && ok; li++) {
    gchar *line = g_strstrip (lines[li]);
    if (line[0] == '\0' || line[0] == '#')
      continue;
    gchar **words = g_strsplit_set (line, " \t", -1);
    guint nw = g_strv_length (words);
    if (open != NULL) {
      for (guint w = 0; w < nw && ok; w++) {
        if (words[w][0] == '\0')
          continue;
        gchar *end = NULL;
        gdouble v = g_ascii_strtod (words[w], &end);
        if (end == words[w] || *end != '\0' || filled >= open->n) {
          g_test_fail_printf ("%s:%u: bad or extra value '%s'", path, li + 1, words[w]);
          ok = FALSE;
          break;
        }
        open->values[filled++] = v;
      }
      if (filled == open->n)
        open = NULL;
    } else if (nw == 3 && g_str_equal (words[0], "config")) {
      g_hash_table_replace (golden->config, g_strdup (words[1]), g_strdup (words[2]));
    } else if (nw >= 4 && g_str_equal (words[0], "tensor")) {
      GoldenTensor *t = g_new0 (GoldenTensor, 1);
      t->ndim = (gint) g_ascii_strtoll (words[2], NULL, 10);
      if (t->ndim < 1 || t->ndim > 3 || nw != (guint) (3 + t->ndim)) {
        g_test_fail_printf ("%s:%u: bad tensor header", path, li + 1);
        g_free (t);
        ok = FALSE;
      } else {
        t->n = 1;
        for (gint d = 0; d < t->ndim; d++) {
          t->dims[d] = (gint) g_ascii_strtoll (words[3 + d], NULL, 10);
          t->n *= (gsize) t->dims[d];
        }
        t->values = g_new0 (gdouble, t->n);
        g_hash_table_replace (golden->tensors, g_strdup (words[1]), t);
        filled = 0;
        open = t->n > 0 ? t : NULL;
      }
    } else {
      g_test_fail_printf ("%s:%u: unknown line '%s'", path, li + 1, line);
      ok = FALSE;
    }
    g_strfreev (words);
  }
  g_strfreev (lines);
  if (ok && open != NULL) {
    g_test_fail_printf ("%s: file ends inside a tensor", path);
    ok = FALSE;
  }
  if (!ok) {
    golden_free (golden);
    return NULL;
  }
  return golden;
}

static const GoldenTensor *
golden_tensor (const Golden *golden, const gchar *name)
{
  const GoldenTensor *t = g_hash_table_lookup (golden->tensors, name);
  if (t == NULL)
    g_error ("%s: no tensor %s", golden->path, name);
  return t;
}

static const gchar *
golden_config (const Golden *golden, const gchar *key)
{
  const gchar *v = g_hash_table_lookup (golden->config, key);
  if (v == NULL)
    g_error ("%s: no config %s", golden->path, key);
  return v;
}

static gint
golden_int (const Golden *golden, const gchar *key)
{
  return (gint) g_ascii_strtoll (golden_config (golden, key), NULL, 10);
}

static gfloat
golden_float (const Golden *golden, const gchar *key)
{
  return (gfloat) g_ascii_strtod (golden_config (golden, key), NULL);
}

/* ---- Comparison --------------------------------------------------------- */

typedef enum { KIND_FORWARD, KIND_GRAD, KIND_UPDATE, N_KINDS } CheckKind;
static const gchar *const kind_names[N_KINDS] = { "forward", "gradients", "updates" };
static const gdouble kind_atol[N_KINDS] = { FORWARD_TOL, GRAD_ATOL, UPDATE_TOL };
static const gdouble kind_rtol[N_KINDS] = { FORWARD_TOL, GRAD_RTOL, UPDATE_TOL };
/* Largest |engine - torch| / allowed in the current test, per kind, reported
 * with g_test_message so that the margin under each tolerance is visible. */
static gdouble worst_ratio[N_KINDS];

/* Counts entries with |got - want| > atol + rtol * |want| and reports the
 * first few with their indices; fails the test when any. */
static gboolean
check_close (const gchar *what, const gfloat *got, const gdouble *want, gsize n, CheckKind kind)
{
  gdouble atol = kind_atol[kind], rtol = kind_rtol[kind];
  gsize bad = 0;
  gdouble worst = 0.0;
  for (gsize i = 0; i < n; i++) {
    gdouble diff = fabs ((gdouble) got[i] - want[i]);
    gdouble allowed = atol + rtol * fabs (want[i]);
    if (!(diff <= allowed)) { /* NaN fails too */
      if (bad < 4)
        g_printerr ("  %s[%" G_GSIZE_FORMAT "]: engine %.9g, torch %.9g (diff %.3g)\n",
            what, i, got[i], want[i], diff);
      bad++;
    }
    if (diff > worst || isnan (diff))
      worst = diff;
    worst_ratio[kind] = MAX (worst_ratio[kind], diff / allowed);
  }
  if (bad > 0)
    g_test_fail_printf ("%s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
        " entries differ from torch (worst %.3g)", what, bad, n, worst);
  return bad == 0;
}

/* ---- One case ----------------------------------------------------------- */

typedef struct {
  gchar *path;
  gint n_threads;
} CaseData;

static void
case_data_free (gpointer data)
{
  CaseData *cd = data;
  g_free (cd->path);
  g_free (cd);
}

static SeqnnModel *
model_from_golden (const Golden *golden)
{
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  g_assert_true (seqnn_cell_from_string (golden_config (golden, "cell"), &config.cell));
  g_assert_true (seqnn_head_from_string (golden_config (golden, "head"), &config.head));
  config.vocab_size = golden_int (golden, "vocab_size");
  config.embed_dim = golden_int (golden, "embed_dim");
  config.hidden_dim = golden_int (golden, "hidden_dim");
  config.num_layers = golden_int (golden, "num_layers");
  config.bidirectional = golden_int (golden, "bidirectional") != 0;
  config.num_classes = golden_int (golden, "num_classes");
  config.padding_idx = golden_int (golden, "padding_idx");
  config.dropout = 0.0f;

  GError *error = NULL;
  SeqnnModel *model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);

  /* Every tensor of the model comes from the fixture, and the fixture has no other. */
  gsize n_params = 0;
  gfloat *params = seqnn_model_get_params (model, &n_params);
  guint n_tensors = seqnn_model_get_n_tensors (model);
  guint n_golden = 0;
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, golden->tensors);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    n_golden += g_str_has_prefix (key, "param/");
  g_assert_cmpuint (n_tensors, ==, n_golden);
  gsize total = 0;
  for (guint k = 0; k < n_tensors; k++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, k);
    g_autofree gchar *name = g_strconcat ("param/", info->name, NULL);
    const GoldenTensor *t = golden_tensor (golden, name);
    g_assert_true (seqnn_model_find_tensor (model, info->name) == info);
    g_assert_cmpint (info->ndim, ==, t->ndim);
    g_assert_cmpint (info->shape[0], ==, t->dims[0]);
    g_assert_cmpint (info->shape[1], ==, t->ndim == 2 ? t->dims[1] : 1);
    g_assert_cmpuint (info->numel, ==, t->n);
    g_assert_cmpuint (info->offset + info->numel, <=, n_params);
    for (gsize i = 0; i < t->n; i++)
      params[info->offset + i] = (gfloat) t->values[i];
    total += info->numel;
  }
  g_assert_cmpuint (total, ==, n_params);
  return model;
}

typedef struct {
  gint32 *ids;
  gint *lengths;
  gint *labels;
  SeqnnBatch batch;
} GoldenBatch;

static void
golden_batch_load (GoldenBatch *gb, const Golden *golden, gint step)
{
  g_autofree gchar *ids_name = g_strdup_printf ("s%d/ids", step);
  g_autofree gchar *len_name = g_strdup_printf ("s%d/lengths", step);
  g_autofree gchar *lab_name = g_strdup_printf ("s%d/labels", step);
  const GoldenTensor *ids = golden_tensor (golden, ids_name);
  const GoldenTensor *lengths = golden_tensor (golden, len_name);
  const GoldenTensor *labels = golden_tensor (golden, lab_name);
  gb->ids = g_new (gint32, ids->n);
  gb->lengths = g_new (gint, lengths->n);
  gb->labels = g_new (gint, labels->n);
  for (gsize i = 0; i < ids->n; i++)
    gb->ids[i] = (gint32) ids->values[i];
  for (gsize i = 0; i < lengths->n; i++)
    gb->lengths[i] = (gint) lengths->values[i];
  for (gsize i = 0; i < labels->n; i++)
    gb->labels[i] = (gint) labels->values[i];
  gb->batch = (SeqnnBatch) { gb->ids, gb->lengths, (gint) lengths->n, gb->labels };
}

static void
golden_batch_clear (GoldenBatch *gb)
{
  g_free (gb->ids);
  g_free (gb->lengths);
  g_free (gb->labels);
}

static void
optimizer_from_golden (SeqnnOptimizerConfig *opt, const Golden *golden, gboolean dense_embedding)
{
  seqnn_optimizer_config_init_default (opt);
  g_assert_true (seqnn_optimizer_from_string (golden_config (golden, "optimizer"), &opt->kind));
  opt->learning_rate = golden_float (golden, "learning_rate");
  opt->beta1 = golden_float (golden, "beta1");
  opt->beta2 = golden_float (golden, "beta2");
  opt->eps = golden_float (golden, "eps");
  opt->momentum = golden_float (golden, "momentum");
  opt->weight_decay = golden_float (golden, "weight_decay");
  opt->clip_norm = golden_float (golden, "clip_norm");
  opt->dense_embedding = dense_embedding;
  opt->freeze_embedding = FALSE;
}

/* Forward of one step's batch through SeqnnInference against torch. */
static void
check_forward (const Golden *golden, const SeqnnModel *model, gint step, gint n_threads,
    const SeqnnBatch *batch)
{
  const SeqnnConfig *config = seqnn_model_get_config (model);
  gint n = batch->n, C = config->num_classes, H = config->hidden_dim;
  gint dirs = config->bidirectional ? 2 : 1;
  /* outputs: the top layer's, or the embedding rows without a layer */
  gint F = config->num_layers == 0 ? config->embed_dim : dirs * H;
  SeqnnInference *inference = seqnn_inference_new (model, n_threads);
  g_autofree gfloat *logits = g_new (gfloat, n * C);
  g_autofree gfloat *probs = g_new (gfloat, n * C);
  GError *error = NULL;
  g_assert_true (seqnn_inference_run (inference, batch, probs, logits, &error));
  g_assert_no_error (error);

  g_autofree gchar *prefix = g_strdup_printf ("s%d/", step);
  g_autofree gchar *name = NULL;
#define GOLDEN_NAMED(suffix) (g_free (name), name = g_strconcat (prefix, suffix, NULL), \
    golden_tensor (golden, name))
  const GoldenTensor *t = GOLDEN_NAMED ("logits");
  g_assert_cmpuint (t->n, ==, (gsize) (n * C));
  check_close (name, logits, t->values, t->n, KIND_FORWARD);
  t = GOLDEN_NAMED ("probs");
  check_close (name, probs, t->values, t->n, KIND_FORWARD);

  if (config->num_layers == 0) {
    /* a bag of embeddings has no state, and torch wrote none */
    for (gint k = 0; k < 2; k++) {
      g_autofree gchar *state = g_strconcat (prefix, k ? "c_n" : "h_n", NULL);
      g_assert_false (g_hash_table_contains (golden->tensors, state));
    }
  } else {
    t = GOLDEN_NAMED ("h_n");
    g_assert_cmpuint (t->n, ==, (gsize) (config->num_layers * dirs * n * H));
    check_close (name, seqnn_inference_get_final_hidden (inference), t->values, t->n,
        KIND_FORWARD);
    if (config->cell == SEQNN_CELL_LSTM) {
      t = GOLDEN_NAMED ("c_n");
      const gfloat *c_n = seqnn_inference_get_final_cell (inference);
      g_assert_nonnull (c_n);
      check_close (name, c_n, t->values, t->n, KIND_FORWARD);
    } else {
      g_assert_null (seqnn_inference_get_final_cell (inference));
    }
  }

  for (gint i = 0; i < n; i++) {
    g_autofree gchar *out_name = g_strdup_printf ("outputs/%d", i);
    t = GOLDEN_NAMED (out_name);
    g_assert_cmpuint (t->n, ==, (gsize) (batch->lengths[i] * F));
    g_autofree gfloat *outputs = g_new (gfloat, t->n);
    seqnn_inference_copy_outputs (inference, i, outputs);
    check_close (name, outputs, t->values, t->n, KIND_FORWARD);
  }
#undef GOLDEN_NAMED
  seqnn_inference_free (inference);
}

/* Compares a flat parameter-layout buffer with the fixture's PREFIX/<tensor>. */
static void
check_tensors (const Golden *golden, const SeqnnModel *model, const gchar *prefix,
    const gfloat *buffer, CheckKind kind)
{
  guint n_tensors = seqnn_model_get_n_tensors (model);
  for (guint k = 0; k < n_tensors; k++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, k);
    g_autofree gchar *name = g_strconcat (prefix, info->name, NULL);
    const GoldenTensor *t = golden_tensor (golden, name);
    g_assert_cmpuint (t->n, ==, info->numel);
    check_close (name, buffer + info->offset, t->values, t->n, kind);
  }
}

static void
report_margins (void)
{
  for (gint k = 0; k < N_KINDS; k++)
    if (worst_ratio[k] > 0.0)
      g_test_message ("%s: worst error %.3g of the tolerance", kind_names[k], worst_ratio[k]);
  if (g_getenv ("SEQNN_GOLDEN_MARGINS") != NULL)
    g_printerr ("%s: forward %.3g, gradients %.3g, updates %.3g of tolerance\n",
        g_test_get_path (), worst_ratio[KIND_FORWARD], worst_ratio[KIND_GRAD],
        worst_ratio[KIND_UPDATE]);
  memset (worst_ratio, 0, sizeof worst_ratio);
}

static void
test_golden_case (gconstpointer data)
{
  const CaseData *cd = data;
  Golden *golden = golden_load (cd->path);
  if (golden == NULL)
    return;
  SeqnnModel *model = model_from_golden (golden);
  SeqnnOptimizerConfig opt;
  optimizer_from_golden (&opt, golden, TRUE);
  GError *error = NULL;
  SeqnnTrainer *trainer = seqnn_trainer_new (model, &opt, cd->n_threads, 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (trainer);
  seqnn_trainer_set_training (trainer, FALSE);

  gint steps = golden_int (golden, "steps");
  for (gint step = 0; step < steps; step++) {
    GoldenBatch gb;
    golden_batch_load (&gb, golden, step);
    check_forward (golden, model, step, cd->n_threads, &gb.batch);

    SeqnnStepResult result = { 0 };
    g_assert_true (seqnn_trainer_compute_gradients (trainer, &gb.batch, &result, &error));
    g_assert_no_error (error);
    g_autofree gchar *loss_name = g_strdup_printf ("s%d/loss", step);
    const GoldenTensor *loss = golden_tensor (golden, loss_name);
    g_assert_cmpfloat_with_epsilon (result.loss, loss->values[0],
        FORWARD_TOL * (1.0 + fabs (loss->values[0])));
    g_assert_cmpint (result.n, ==, gb.batch.n);
    /* n_correct: argmax of torch's logits against the labels */
    g_autofree gchar *logits_name = g_strdup_printf ("s%d/logits", step);
    const GoldenTensor *logits = golden_tensor (golden, logits_name);
    gint C = logits->dims[1], n_correct = 0;
    for (gint i = 0; i < gb.batch.n; i++) {
      gint best = 0;
      for (gint c = 1; c < C; c++)
        if (logits->values[i * C + c] > logits->values[i * C + best])
          best = c;
      n_correct += best == gb.labels[i];
    }
    g_assert_cmpint (result.n_correct, ==, n_correct);

    gsize n_grads = 0, n_params = 0;
    const gfloat *grads = seqnn_trainer_get_gradients (trainer, &n_grads);
    seqnn_model_peek_params (model, &n_params);
    g_assert_cmpuint (n_grads, ==, n_params);
    g_autofree gchar *grad_prefix = g_strdup_printf ("s%d/grad/", step);
    check_tensors (golden, model, grad_prefix, grads, KIND_GRAD);

    g_assert_true (seqnn_trainer_apply_gradients (trainer, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (seqnn_trainer_get_step (trainer), ==, (guint64) step + 1);
    g_autofree gchar *upd_prefix = g_strdup_printf ("s%d/updated/", step);
    check_tensors (golden, model, upd_prefix, seqnn_model_peek_params (model, NULL),
        KIND_UPDATE);
    golden_batch_clear (&gb);
  }
  seqnn_trainer_free (trainer);
  seqnn_model_free (model);
  golden_free (golden);
  report_margins ();
}

/* The default sparse embedding update: a first Adam step on the rows the
 * batch used equals torch's dense step (moments start at zero, so the two
 * agree exactly there); rows the batch did not use stay as they were; every
 * other tensor follows torch. */
static void
test_sparse_first_step (gconstpointer data)
{
  const CaseData *cd = data;
  Golden *golden = golden_load (cd->path);
  if (golden == NULL)
    return;
  SeqnnModel *model = model_from_golden (golden);
  SeqnnOptimizerConfig opt;
  optimizer_from_golden (&opt, golden, FALSE);
  g_assert_cmpint (opt.kind, ==, SEQNN_OPTIMIZER_ADAM);
  GError *error = NULL;
  SeqnnTrainer *trainer = seqnn_trainer_new (model, &opt, cd->n_threads, 1, &error);
  g_assert_no_error (error);
  seqnn_trainer_set_training (trainer, FALSE);

  GoldenBatch gb;
  golden_batch_load (&gb, golden, 0);
  SeqnnStepResult result = { 0 };
  g_assert_true (seqnn_trainer_step (trainer, &gb.batch, &result, &error));
  g_assert_no_error (error);

  const SeqnnConfig *config = seqnn_model_get_config (model);
  gint V = config->vocab_size, E = config->embed_dim;
  g_autofree gboolean *used = g_new0 (gboolean, V);
  gsize n_ids = 0;
  for (gint i = 0; i < gb.batch.n; i++)
    n_ids += gb.lengths[i];
  for (gsize j = 0; j < n_ids; j++)
    used[gb.ids[j]] = TRUE;

  const gfloat *params = seqnn_model_peek_params (model, NULL);
  const SeqnnTensorInfo *emb = seqnn_model_find_tensor (model, "embedding.weight");
  g_assert_nonnull (emb);
  const GoldenTensor *initial = golden_tensor (golden, "param/embedding.weight");
  const GoldenTensor *updated = golden_tensor (golden, "s0/updated/embedding.weight");
  gint n_used = 0, n_unused = 0;
  for (gint row = 0; row < V; row++) {
    g_autofree gchar *what = g_strdup_printf ("embedding row %d (%s)", row,
        used[row] ? "used" : "unused");
    const gfloat *got = params + emb->offset + (gsize) row * E;
    if (used[row]) {
      check_close (what, got, updated->values + (gsize) row * E, E, KIND_UPDATE);
      n_used++;
    } else {
      /* untouched rows keep their exact values */
      for (gint e = 0; e < E; e++)
        if (got[e] != (gfloat) initial->values[row * E + e])
          g_test_fail_printf ("%s[%d] changed: %.9g -> %.9g", what, e,
              initial->values[row * E + e], got[e]);
      n_unused++;
    }
  }
  g_assert_cmpint (n_used, >, 0);
  g_assert_cmpint (n_unused, >, 0); /* make_golden.py leaves the last rows unused */

  guint n_tensors = seqnn_model_get_n_tensors (model);
  for (guint k = 0; k < n_tensors; k++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, k);
    if (info == emb)
      continue;
    g_autofree gchar *name = g_strconcat ("s0/updated/", info->name, NULL);
    const GoldenTensor *t = golden_tensor (golden, name);
    check_close (name, params + info->offset, t->values, t->n, KIND_UPDATE);
  }
  golden_batch_clear (&gb);
  seqnn_trainer_free (trainer);
  seqnn_model_free (model);
  golden_free (golden);
  report_margins ();
}

/* The sparse check applies where torch's dense first step leaves unused rows
 * alone: Adam without weight decay or clipping (clipping scales by the norm
 * of all gradients, which both modes share, but keep the case plain). */
static gboolean
golden_is_plain_adam (const gchar *path)
{
  Golden *golden = golden_load (path);
  if (golden == NULL)
    return FALSE;
  gboolean plain = g_str_equal (golden_config (golden, "optimizer"), "adam") &&
      golden_float (golden, "weight_decay") == 0.0f && golden_float (golden, "clip_norm") == 0.0f;
  golden_free (golden);
  return plain;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autofree gchar *dir = g_build_filename (SEQNN_TEST_FIXTURES, "golden", NULL);
  GError *error = NULL;
  GDir *gdir = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *entry;
  while ((entry = g_dir_read_name (gdir)) != NULL)
    if (g_str_has_suffix (entry, ".txt"))
      g_ptr_array_add (names, g_strndup (entry, strlen (entry) - 4));
  g_dir_close (gdir);
  g_ptr_array_sort (names, compare_names);
  g_assert_cmpuint (names->len, >=, 16); /* every cell x layers x direction at least */

  /* The cases own their data until the end of the run. */
  GPtrArray *cases = g_ptr_array_new_with_free_func (case_data_free);
  for (guint i = 0; i < names->len; i++) {
    const gchar *name = names->pdata[i];
    g_autofree gchar *file = g_strconcat (name, ".txt", NULL);
    g_autofree gchar *path = g_build_filename (dir, file, NULL);
    gboolean plain_adam = golden_is_plain_adam (path);
    for (gint threads = 1; threads <= 2; threads++) {
      CaseData *cd = g_new0 (CaseData, 1);
      cd->path = g_strdup (path);
      cd->n_threads = threads;
      g_ptr_array_add (cases, cd);
      g_autofree gchar *test = g_strdup_printf ("/golden/threads-%d/%s", threads, name);
      g_test_add_data_func (test, cd, test_golden_case);
      if (plain_adam) {
        g_autofree gchar *sparse = g_strdup_printf ("/golden-sparse/threads-%d/%s", threads, name);
        g_test_add_data_func (sparse, cd, test_sparse_first_step);
      }
    }
  }
  int rc = g_test_run ();
  g_ptr_array_unref (cases);
  g_ptr_array_unref (names);
  return rc;
}
