/* The public API boundary with bad input: every entry point that takes data
 * must answer with a GError in SEQNN_ERROR (right code, a message that names
 * the problem), never crash, abort or leak.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "seqnn/seqnn.h"

/* Checks error is set in SEQNN_ERROR with code and that its message holds
 * needle (case-insensitive), then clears it. */
#define assert_seqnn_error(errp, code, needle) assert_error_impl (errp, code, needle, __LINE__)

static void
assert_error_impl (GError **error, gint code, const gchar *needle, gint line)
{
  if (*error == NULL)
    g_error ("line %d: expected an error with code %d mentioning \"%s\", got none", line, code, needle);
  if ((*error)->domain != SEQNN_ERROR || (*error)->code != code)
    g_error ("line %d: expected SEQNN_ERROR code %d, got %s code %d: %s", line, code,
        g_quark_to_string ((*error)->domain), (*error)->code, (*error)->message);
  gchar *message = g_ascii_strdown ((*error)->message, -1);
  gchar *want = g_ascii_strdown (needle, -1);
  if (strstr (message, want) == NULL)
    g_error ("line %d: message \"%s\" does not mention \"%s\"", line, (*error)->message, needle);
  g_free (message);
  g_free (want);
  g_clear_error (error);
}

static SeqnnConfig
small_config (void)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  c.vocab_size = 8;
  c.embed_dim = 4;
  c.hidden_dim = 3;
  c.num_classes = 3;
  return c;
}

static SeqnnModel *
small_model (void)
{
  SeqnnConfig c = small_config ();
  SeqnnModel *m = seqnn_model_new (&c, NULL);
  g_assert_nonnull (m);
  seqnn_model_init_params (m, 1);
  return m;
}

static SeqnnVocab *
small_vocab (void)
{
  const gchar *tokens[] = { "<unk>", "<pad>", "a", "b", "c", "d", "e", "f" };
  SeqnnVocab *v = seqnn_vocab_new_from_tokens (tokens, G_N_ELEMENTS (tokens), NULL);
  g_assert_nonnull (v);
  return v;
}

static gchar *
write_temp (const gchar *dir, const gchar *name, const gchar *contents, gssize len)
{
  gchar *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  return path;
}

/* Applies bad edit number i to c; returns what the error must mention, NULL past the last. */
static const gchar *
edit_config (SeqnnConfig *c, guint i)
{
  switch (i) {
    case 0: c->cell = (SeqnnCell) 9; return "cell";
    case 1: c->cell = (SeqnnCell) -1; return "cell";
    case 2: c->head = (SeqnnHead) 7; return "head";
    case 3: c->vocab_size = 0; return "vocab_size";
    case 4: c->vocab_size = -5; return "vocab_size";
    case 5: c->embed_dim = 0; return "embed_dim";
    case 6: c->embed_dim = -1; return "embed_dim";
    case 7: c->embed_dim = G_MAXINT; return "embed_dim";
    case 8: c->hidden_dim = -3; return "hidden_dim";
    case 9: c->hidden_dim = 1 << 20; return "hidden_dim";
    case 10: c->num_layers = -1; return "num_layers";
    case 11: c->num_layers = 17; return "num_layers";
    case 12: c->num_classes = 0; return "num_classes";
    case 13: c->num_classes = G_MININT; return "num_classes";
    case 14: c->padding_idx = -2; return "padding_idx";
    case 15: c->padding_idx = 8; return "padding_idx";
    case 16: c->dropout = NAN; return "dropout";
    case 17: c->dropout = 1.0f; return "dropout";
    case 18: c->dropout = -0.5f; return "dropout";
    case 19: c->vocab_size = G_MAXINT; c->embed_dim = 65536; return "too large";
    case 20: c->num_layers = 0; c->head = SEQNN_HEAD_LAST; return "no last state";
    case 21: c->num_layers = 0; c->head = SEQNN_HEAD_MEAN; c->bidirectional = TRUE; return "no direction";

    default: return NULL;
  }
}

/* Applies bad edit number i to o; returns what the error must mention, NULL past the last. */
static const gchar *
edit_optimizer (SeqnnOptimizerConfig *o, guint i)
{
  switch (i) {
    case 0: o->kind = (SeqnnOptimizerKind) 5; return "optimizer";
    case 1: o->learning_rate = NAN; return "learning_rate";
    case 2: o->learning_rate = -1e-3f; return "learning_rate";
    case 3: o->learning_rate = INFINITY; return "learning_rate";
    case 4: o->beta1 = 1.0f; return "beta1";
    case 5: o->beta2 = -0.1f; return "beta2";
    case 6: o->eps = NAN; return "eps";
    case 7: o->momentum = -1.0f; return "momentum";
    case 8: o->weight_decay = INFINITY; return "weight_decay";
    case 9: o->clip_norm = -2.0f; return "clip_norm";
    default: return NULL;
  }
}

/* Applies bad edit number i to o; returns what the error must mention, NULL past the last. */
static const gchar *
edit_train_options (SeqnnTrainOptions *o, guint i)
{
  switch (i) {
    case 0: o->batch_size = 0; return "batch size";
    case 1: o->batch_size = G_MININT; return "batch size";
    case 2: o->epochs = 0; return "epochs";
    case 3: o->validation_fraction = NAN; return "validation fraction";
    case 4: o->validation_fraction = 1.0; return "validation fraction";
    case 5: o->validation_fraction = -0.1; return "validation fraction";
    case 6: o->n_threads = -1; return "n_threads";
    case 7: o->optimizer.learning_rate = NAN; return "learning_rate";
    default: return NULL;
  }
}

/* ---- configuration and model -------------------------------------------- */

static void
test_config (void)
{
  GError *error = NULL;
  g_assert_false (seqnn_config_validate (NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");

  const gchar *needle;
  for (guint i = 0;; i++) {
    SeqnnConfig c = small_config ();
    if ((needle = edit_config (&c, i)) == NULL)
      break;
    g_assert_false (seqnn_config_validate (&c, &error));
    assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, needle);
    g_assert_null (seqnn_model_new (&c, &error));
    assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, needle);
  }

  /* Valid fields but more than 2^34 parameters: refused before allocating. */
  SeqnnConfig huge = small_config ();
  huge.hidden_dim = 65536;
  huge.num_layers = 16;
  huge.bidirectional = TRUE;
  g_assert_true (seqnn_config_validate (&huge, NULL));
  g_assert_null (seqnn_model_new (&huge, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "more than 2^34");

  SeqnnCell cell = SEQNN_CELL_GRU;
  SeqnnHead head = SEQNN_HEAD_MAX;
  SeqnnOptimizerKind kind = SEQNN_OPTIMIZER_SGD;
  g_assert_false (seqnn_cell_from_string (NULL, &cell));
  g_assert_false (seqnn_cell_from_string ("lstm2", &cell));
  g_assert_false (seqnn_head_from_string ("", &head));
  g_assert_false (seqnn_optimizer_from_string ("adamw", &kind));
  g_assert_cmpint (cell, ==, SEQNN_CELL_GRU);
  g_assert_cmpint (head, ==, SEQNN_HEAD_MAX);
  g_assert_cmpint (kind, ==, SEQNN_OPTIMIZER_SGD);
  g_assert_null (seqnn_cell_to_string ((SeqnnCell) 42));
  g_assert_null (seqnn_head_to_string ((SeqnnHead) -1));
}

/* ---- batches, inference and training steps -------------------------------- */

static const gint32 good_ids[] = { 2, 3, 4, 5 };
static const gint good_lengths[] = { 3, 1 };
static const gint good_labels[] = { 0, 2 };

static void
check_bad_batches (gboolean (*run) (gpointer, const SeqnnBatch *, GError **), gpointer ctx)
{
  GError *error = NULL;
  g_assert_false (run (ctx, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "batch is NULL");

  SeqnnBatch b = { good_ids, good_lengths, 0, good_labels };
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "0 sequences");
  b.n = -4;
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "-4 sequences");

  b = (SeqnnBatch) { NULL, good_lengths, 2, good_labels };
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "ids are NULL");
  b = (SeqnnBatch) { good_ids, NULL, 2, good_labels };
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "lengths are NULL");

  const gint empty[] = { 3, 0 }, negative[] = { -1, 2 };
  b = (SeqnnBatch) { good_ids, empty, 2, good_labels };
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "sequence 1 is empty");
  b.lengths = negative;
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "length -1");

  /* The second length pushes the total past G_MAXINT: refused before any id is read. */
  const gint overflow[] = { 1, G_MAXINT };
  b = (SeqnnBatch) { good_ids, overflow, 2, good_labels };
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "too many tokens");

  const gint32 too_big[] = { 2, 3, 8, 5 }, negative_id[] = { 2, 3, 4, -1 };
  b = (SeqnnBatch) { too_big, good_lengths, 2, good_labels };
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "token id 8");
  b.ids = negative_id;
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "token id -1");

  const gint bad_label[] = { 0, 3 }, negative_label[] = { -1, 0 };
  b = (SeqnnBatch) { good_ids, good_lengths, 2, bad_label };
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "label 3");
  b.labels = negative_label;
  g_assert_false (run (ctx, &b, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "label -1");
}

static gboolean
run_validate (gpointer ctx, const SeqnnBatch *batch, GError **error)
{
  return seqnn_batch_validate (batch, seqnn_model_get_config (ctx), error);
}

static gboolean
run_inference (gpointer ctx, const SeqnnBatch *batch, GError **error)
{
  gfloat probs[2 * 3];
  return seqnn_inference_run (ctx, batch, probs, NULL, error);
}

static gboolean
run_train_step (gpointer ctx, const SeqnnBatch *batch, GError **error)
{
  SeqnnStepResult result;
  return seqnn_trainer_step (ctx, batch, &result, error);
}

static void
test_batches (void)
{
  GError *error = NULL;
  SeqnnModel *model = small_model ();
  gsize n_params = 0;
  const gfloat *initial = seqnn_model_peek_params (model, &n_params);
  gfloat *before = g_memdup2 (initial, n_params * sizeof (gfloat));

  check_bad_batches (run_validate, model);
  SeqnnBatch good = { good_ids, good_lengths, 2, good_labels };
  g_assert_false (seqnn_batch_validate (&good, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "config is NULL");

  for (gint threads = 1; threads <= 2; threads++) {
    SeqnnInference *inf = seqnn_inference_new (model, threads);
    check_bad_batches (run_inference, inf);
    gfloat probs[2 * 3];
    g_assert_true (seqnn_inference_run (inf, &good, probs, NULL, &error));
    g_assert_no_error (error);
    seqnn_inference_free (inf);
  }
  g_assert_false (seqnn_inference_run (NULL, &good, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");

  SeqnnOptimizerConfig opt;
  seqnn_optimizer_config_init_default (&opt);
  SeqnnTrainer *tr = seqnn_trainer_new (model, &opt, 1, 0, &error);
  g_assert_no_error (error);
  check_bad_batches (run_train_step, tr);
  /* No update happened after any of those. */
  g_assert_cmpuint (seqnn_trainer_get_step (tr), ==, 0);
  g_assert_cmpmem (seqnn_model_peek_params (model, NULL), n_params * sizeof (gfloat),
      before, n_params * sizeof (gfloat));

  SeqnnBatch unlabelled = { good_ids, good_lengths, 2, NULL };
  SeqnnStepResult result;
  g_assert_false (seqnn_trainer_step (tr, &unlabelled, &result, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "labels");
  g_assert_false (seqnn_trainer_compute_gradients (tr, &unlabelled, &result, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "labels");
  g_assert_false (seqnn_trainer_apply_gradients (tr, &error));
  g_assert_nonnull (error);
  g_assert_true (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  g_assert_false (seqnn_trainer_step (NULL, &good, &result, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");
  g_assert_false (seqnn_trainer_apply_gradients (NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");

  /* A non-finite parameter: a numeric error, the parameters as they were. */
  gfloat *params = seqnn_model_get_params (model, NULL);
  const SeqnnTensorInfo *fc = seqnn_model_find_tensor (model, "fc.bias");
  params[fc->offset] = NAN;
  g_free (before);
  before = g_memdup2 (params, n_params * sizeof (gfloat));
  g_assert_false (seqnn_trainer_step (tr, &good, &result, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_NUMERIC, "not finite");
  g_assert_cmpuint (seqnn_trainer_get_step (tr), ==, 0);
  g_assert_cmpmem (params, n_params * sizeof (gfloat), before, n_params * sizeof (gfloat));
  /* Inference over it still runs (NaN in, NaN out: no error is promised there). */
  SeqnnInference *inf = seqnn_inference_new (model, 1);
  gfloat probs[2 * 3];
  g_assert_true (seqnn_inference_run (inf, &good, probs, NULL, &error));
  g_assert_true (isnan (probs[0]));
  seqnn_inference_free (inf);

  seqnn_trainer_free (tr);
  g_free (before);
  seqnn_model_free (model);
}

static void
test_trainer_config (void)
{
  GError *error = NULL;
  SeqnnModel *model = small_model ();
  SeqnnOptimizerConfig opt;
  seqnn_optimizer_config_init_default (&opt);
  g_assert_null (seqnn_trainer_new (NULL, &opt, 1, 0, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "model is NULL");
  g_assert_null (seqnn_trainer_new (model, NULL, 1, 0, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "config is NULL");

  const gchar *needle;
  for (guint i = 0;; i++) {
    SeqnnOptimizerConfig o = opt;
    if ((needle = edit_optimizer (&o, i)) == NULL)
      break;
    g_assert_null (seqnn_trainer_new (model, &o, 1, 0, &error));
    assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, needle);
  }
  seqnn_model_free (model);
}

/* ---- text: vocabulary, records, labels ------------------------------------- */

static void
test_vocab (void)
{
  GError *error = NULL;
  g_assert_null (seqnn_vocab_new_from_tokens (NULL, 5, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "<unk>");
  const gchar *one[] = { "<unk>" };
  g_assert_null (seqnn_vocab_new_from_tokens (one, 1, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "at least");
  const gchar *swapped[] = { "<pad>", "<unk>", "a" };
  g_assert_null (seqnn_vocab_new_from_tokens (swapped, 3, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "start with");
  const gchar *dup[] = { "<unk>", "<pad>", "a", "b", "a" };
  g_assert_null (seqnn_vocab_new_from_tokens (dup, 5, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "duplicate");
  const gchar *bad_utf8[] = { "<unk>", "<pad>", "ok", "\xff\xfe" };
  g_assert_null (seqnn_vocab_new_from_tokens (bad_utf8, 4, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "UTF-8");
  const gchar *with_null[] = { "<unk>", "<pad>", NULL, "x" };
  g_assert_null (seqnn_vocab_new_from_tokens (with_null, 4, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");
  /* Huge n is refused before any token is read. */
  const gchar *specials[] = { "<unk>", "<pad>" };
  g_assert_null (seqnn_vocab_new_from_tokens (specials, (gsize) G_MAXINT32 + 1, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "too large");

  SeqnnVocab *vocab = small_vocab ();
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "\xff", 1), ==, SEQNN_VOCAB_UNK_ID);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "a\0b", 3), ==, SEQNN_VOCAB_UNK_ID);
  g_assert_null (seqnn_vocab_get_token (vocab, -1));
  g_assert_null (seqnn_vocab_get_token (vocab, 8));
  g_assert_null (seqnn_vocab_get_token (vocab, G_MAXINT32));
  seqnn_vocab_unref (vocab);

  SeqnnVocabBuilder *builder = seqnn_vocab_builder_new ();
  seqnn_vocab_builder_add (builder, "x", -1, 3);
  seqnn_vocab_builder_add (builder, "\xc3", 1, G_MAXUINT64); /* invalid UTF-8, huge count */
  g_assert_null (seqnn_vocab_builder_build (builder, 0, 0, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "min_freq");
  g_assert_null (seqnn_vocab_builder_build (builder, 1, 1, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "max_size");
  seqnn_vocab_builder_add (builder, "\xc3", 1, 5); /* saturates instead of wrapping to 4 */
  g_assert_cmpuint (seqnn_vocab_builder_get_count (builder, 1), ==, G_MAXUINT64);
  vocab = seqnn_vocab_builder_build (builder, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, 4);
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 2), ==, "\xef\xbf\xbd"); /* U+FFFD first: count */
  seqnn_vocab_unref (vocab);
  seqnn_vocab_builder_free (builder);
}

typedef struct {
  guint n;
  gboolean stop;
} RecordCount;

static gboolean
count_record (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  RecordCount *count = user_data;
  count->n++;
  return !count->stop;
}

static void
feed_expect_error (SeqnnFormat format, const gchar *input, gint code, const gchar *needle)
{
  GError *error = NULL;
  SeqnnRecordReader *reader = seqnn_record_reader_new (format, "in.csv");
  RecordCount count = { 0, FALSE };
  gboolean ok = seqnn_record_reader_feed (reader, input, strlen (input), count_record, &count, &error);
  if (ok)
    ok = seqnn_record_reader_finish (reader, count_record, &count, &error);
  g_assert_false (ok);
  assert_seqnn_error (&error, code, needle);
  seqnn_record_reader_free (reader);
}

static void
test_records (void)
{
  feed_expect_error (SEQNN_FORMAT_CSV, "\"1\",\"title\",\"never closed\n", SEQNN_ERROR_PARSE, "in.csv:1");
  feed_expect_error (SEQNN_FORMAT_CSV, "\"1\",\"t\"x,\"d\"\n", SEQNN_ERROR_PARSE, "in.csv:1");
  feed_expect_error (SEQNN_FORMAT_CSV, "\"1\",\"a\"\n\"\",\"b\"\n", SEQNN_ERROR_PARSE, "in.csv:2");
  feed_expect_error (SEQNN_FORMAT_CSV, "\"1\",\"a\"\nonlyonecolumn\n", SEQNN_ERROR_PARSE, "in.csv:2");
  feed_expect_error (SEQNN_FORMAT_FASTTEXT, "no label here\n", SEQNN_ERROR_PARSE, "label");
  feed_expect_error (SEQNN_FORMAT_TSV, "no tab here\n", SEQNN_ERROR_PARSE, "in.csv:1");

  /* A record over the size cap fails, even when skipping bad rows. */
  GError *error = NULL;
  SeqnnRecordReader *reader = seqnn_record_reader_new (SEQNN_FORMAT_CSV, "big.csv");
  seqnn_record_reader_set_max_record_size (reader, 64);
  seqnn_record_reader_set_skip_bad (reader, TRUE);
  gchar *input = g_strdup_printf ("\"1\",\"%0200d", 0);
  g_assert_false (seqnn_record_reader_feed (reader, input, strlen (input), NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_PARSE, "big.csv:1");
  g_free (input);
  seqnn_record_reader_free (reader);

  /* A callback that stops without an error: CANCELLED. */
  reader = seqnn_record_reader_new (SEQNN_FORMAT_TEXT, NULL);
  RecordCount count = { 0, TRUE };
  g_assert_false (seqnn_record_reader_feed (reader, "a\nb\n", 4, count_record, &count, &error));
  g_assert_cmpuint (count.n, ==, 1);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_clear_error (&error);
  seqnn_record_reader_free (reader);
}

static void
resolve_expect_error (SeqnnLabelSet *set, SeqnnFormat format, const gchar *label, gboolean grow,
    gint code, const gchar *needle)
{
  GError *error = NULL;
  SeqnnRecord record = { "text", 4, label, label ? strlen (label) : 0, 17, FALSE, NULL, 0 };
  g_assert_cmpint (seqnn_label_set_resolve (set, format, &record, grow, "x.csv", &error), ==, -1);
  assert_seqnn_error (&error, code, needle);
}

static void
test_labels (void)
{
  GError *error = NULL;
  SeqnnLabelSet *set = seqnn_label_set_new_ag_news ();
  resolve_expect_error (NULL, SEQNN_FORMAT_CSV, "1", FALSE, SEQNN_ERROR_INVALID_ARGUMENT, "label set");
  resolve_expect_error (set, SEQNN_FORMAT_CSV, NULL, FALSE, SEQNN_ERROR_PARSE, "x.csv:17: missing label");
  resolve_expect_error (set, SEQNN_FORMAT_CSV, "one", FALSE, SEQNN_ERROR_PARSE, "not a number");
  resolve_expect_error (set, SEQNN_FORMAT_CSV, "-1", FALSE, SEQNN_ERROR_PARSE, "not a number");
  resolve_expect_error (set, SEQNN_FORMAT_CSV, "0", FALSE, SEQNN_ERROR_OUT_OF_RANGE, "class 0 out of range 1..4");
  resolve_expect_error (set, SEQNN_FORMAT_CSV, "5", FALSE, SEQNN_ERROR_OUT_OF_RANGE, "class 5 out of range");
  /* Growing is bounded: a damaged class number must not add billions of names. */
  resolve_expect_error (set, SEQNN_FORMAT_CSV, "99999999999999999999", TRUE, SEQNN_ERROR_OUT_OF_RANGE,
      "out of range");
  resolve_expect_error (set, SEQNN_FORMAT_CSV, "65537", TRUE, SEQNN_ERROR_OUT_OF_RANGE, "out of range");
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 4);
  resolve_expect_error (set, SEQNN_FORMAT_TSV, "Weather", FALSE, SEQNN_ERROR_OUT_OF_RANGE, "unknown class");
  seqnn_label_set_free (set);

  /* Growing to class 3 when the set already calls class 1 "3": an error, not an id
   * past the end of the set. */
  const gchar *names[] = { "3", NULL };
  set = seqnn_label_set_new_from_strv (names);
  resolve_expect_error (set, SEQNN_FORMAT_CSV, "3", TRUE, SEQNN_ERROR_OUT_OF_RANGE, "already names class 1");
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 1);
  SeqnnRecord two = { "t", 1, "2", 1, 1, FALSE, NULL, 0 };
  g_assert_cmpint (seqnn_label_set_resolve (set, SEQNN_FORMAT_CSV, &two, TRUE, NULL, &error), ==, 1);
  g_assert_no_error (error);
  seqnn_label_set_free (set);

  g_assert_null (seqnn_label_set_new_from_file ("/nonexistent/classes.txt", &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "classes.txt");
  /* An endless device is refused, not read until memory runs out. */
  g_assert_null (seqnn_label_set_new_from_file ("/dev/zero", &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "not a regular file");
  g_assert_null (seqnn_label_set_new_from_file ("/", &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "not a regular file");
}

/* ---- datasets, evaluation, training loop ----------------------------------- */

static SeqnnDataset *
small_dataset (const gint *labels, gint n)
{
  SeqnnDataset *ds = seqnn_dataset_new ();
  SeqnnTokens *tokens = seqnn_tokens_new ();
  for (gint i = 0; i < n; i++) {
    seqnn_tokenize (NULL, i % 2 ? "a b c" : "d e", -1, tokens);
    seqnn_dataset_add (ds, tokens, labels[i]);
  }
  seqnn_tokens_free (tokens);
  return ds;
}

static void
test_dataset_and_training (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("seqnn-api-XXXXXX", NULL);
  g_assert_nonnull (dir);
  SeqnnReadOptions options;
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_CSV);
  SeqnnLabelSet *set = seqnn_label_set_new_ag_news ();
  SeqnnDataset *ds = seqnn_dataset_new ();
  guint64 skipped = 7;

  g_assert_false (seqnn_dataset_read_file (NULL, "x", &options, set, &skipped, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "");
  g_assert_cmpuint (skipped, ==, 0);
  g_assert_false (seqnn_dataset_read_file (ds, "/nonexistent/train.csv", &options, set, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "train.csv");
  gchar *csv = write_temp (dir, "bad.csv", "\"1\",\"fine\",\"row\"\n\"9\",\"bad\",\"class\"\n", -1);
  g_assert_false (seqnn_dataset_read_file (ds, csv, &options, set, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "bad.csv:2");
  g_assert_cmpuint (seqnn_dataset_get_size (ds), ==, 1);
  /* CSV without a label set: an error, not a crash. */
  g_assert_false (seqnn_dataset_read_file (ds, csv, &options, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == SEQNN_ERROR);
  g_clear_error (&error);
  g_assert_null (seqnn_dataset_build_vocab (ds, 0, 0, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "min_freq");
  seqnn_dataset_free (ds);
  g_unlink (csv);
  g_free (csv);

  SeqnnModel *model = small_model ();
  SeqnnVocab *vocab = small_vocab ();
  const gint labels[] = { 0, 1, 2, 0, 1, 2 };
  ds = small_dataset (labels, 6);
  SeqnnTrainOptions topt;
  seqnn_train_options_init_default (&topt);

  /* Evaluation. */
  g_assert_false (seqnn_evaluate (NULL, ds, NULL, 0, 4, 1, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");
  g_assert_false (seqnn_evaluate (model, ds, NULL, 0, 4, 1, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "no vocabulary");
  g_assert_false (seqnn_train (model, ds, &topt, NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  seqnn_dataset_apply_vocab (ds, vocab);
  g_assert_false (seqnn_evaluate (model, ds, NULL, 0, 0, 1, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "batch size");
  g_assert_false (seqnn_evaluate (model, ds, NULL, 0, -8, 1, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "batch size");
  const gsize bad_index[] = { 0, 6 };
  g_assert_false (seqnn_evaluate (model, ds, bad_index, 2, 4, 1, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "index 6");
  g_assert_false (seqnn_evaluate (model, ds, bad_index, 0, 4, 1, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "no samples");
  SeqnnConfusion *wrong = seqnn_confusion_new (5);
  g_assert_false (seqnn_evaluate (model, ds, NULL, 0, 4, 1, NULL, wrong, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "5 classes");
  seqnn_confusion_free (wrong);
  /* A huge batch size over a small dataset allocates for the dataset, not the size. */
  gdouble loss = NAN;
  g_assert_true (seqnn_evaluate (model, ds, NULL, 0, G_MAXINT, 1, &loss, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (isfinite (loss));

  /* Training options. */
  const gchar *needle;
  for (guint i = 0;; i++) {
    SeqnnTrainOptions o = topt;
    if ((needle = edit_train_options (&o, i)) == NULL)
      break;
    g_assert_false (seqnn_train (model, ds, &o, NULL, NULL, NULL, &error));
    assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, needle);
  }
  g_assert_false (seqnn_train (model, ds, NULL, NULL, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "NULL");
  /* Labels outside the model's classes, a single class, no data. */
  const gint out_of_range[] = { 0, 1, 5 }, one_class[] = { 1, 1, 1 };
  SeqnnDataset *bad = small_dataset (out_of_range, 3);
  seqnn_dataset_apply_vocab (bad, vocab);
  g_assert_false (seqnn_train (model, bad, &topt, NULL, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "5");
  g_assert_false (seqnn_evaluate (model, bad, NULL, 0, 4, 1, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_OUT_OF_RANGE, "label 5");
  seqnn_dataset_free (bad);
  bad = small_dataset (one_class, 3);
  seqnn_dataset_apply_vocab (bad, vocab);
  g_assert_false (seqnn_train (model, bad, &topt, NULL, NULL, NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "two classes");
  seqnn_dataset_free (bad);
  bad = seqnn_dataset_new ();
  seqnn_dataset_apply_vocab (bad, vocab);
  g_assert_false (seqnn_train (model, bad, &topt, NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == SEQNN_ERROR);
  g_clear_error (&error);
  seqnn_dataset_free (bad);
  /* A huge batch size trains (one batch per epoch) without allocating for it. */
  SeqnnTrainOptions huge = topt;
  huge.batch_size = G_MAXINT;
  huge.validation_fraction = 0.5;
  g_assert_true (seqnn_train (model, ds, &huge, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  seqnn_dataset_free (ds);
  seqnn_vocab_unref (vocab);
  seqnn_model_free (model);
  seqnn_label_set_free (set);
  g_rmdir (dir);
  g_free (dir);
}

/* ---- classifier files and word vectors ------------------------------------- */

static void
test_classifier (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("seqnn-api-XXXXXX", NULL);
  g_assert_nonnull (dir);
  const gchar *names[] = { "x", "y", "z", NULL };
  SeqnnVocab *vocab = small_vocab ();

  g_assert_null (seqnn_classifier_new (NULL, vocab, NULL, names, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "model");
  g_assert_null (seqnn_classifier_new (small_model (), NULL, NULL, names, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "vocabulary");
  const gchar *two[] = { "x", "y", NULL };
  g_assert_null (seqnn_classifier_new (small_model (), vocab, NULL, two, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "label 2 of 3 is missing");
  const gchar *bad_utf8[] = { "x", "\xc0\x80", "z", NULL };
  g_assert_null (seqnn_classifier_new (small_model (), vocab, NULL, bad_utf8, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "UTF-8");
  SeqnnTokenizerConfig tok;
  seqnn_tokenizer_config_init_default (&tok);
  tok.max_tokens = -1;
  g_assert_null (seqnn_classifier_new (small_model (), vocab, &tok, names, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "max_tokens");
  SeqnnConfig other = small_config ();
  other.vocab_size = 9;
  g_assert_null (seqnn_classifier_new (seqnn_model_new (&other, NULL), vocab, NULL, names, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "vocab_size is 9");

  /* Loading damaged files. */
  g_assert_null (seqnn_classifier_load (NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "path");
  g_assert_null (seqnn_classifier_load ("/nonexistent/m.model", &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "m.model");
  g_assert_null (seqnn_classifier_load (dir, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "");
  struct {
    const gchar *name;
    const gchar *bytes;
    gssize len;
    const gchar *needle;
  } const files[] = {
    { "empty.model", "", 0, "too short" },
    { "short.model", "\x10\0\0\0", 4, "too short" },
    { "huge-header.model", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10, "absurd" },
    { "past-end.model", "\x40\0\0\0\0\0\0\0{}", 10, "exceeds" },
    { "tiny-header.model", "\x01\0\0\0\0\0\0\0{", 9, "too small" },
    { "not-json.model", "\x04\0\0\0\0\0\0\0{{{{", 12, "not valid json" },
    { "array.model", "\x02\0\0\0\0\0\0\0[]", 10, "not a json object" },
    { "no-meta.model", "\x02\0\0\0\0\0\0\0{}", 10, "__metadata__" },
    { "nul.model", "\x04\0\0\0\0\0\0\0{\0}  ", 12, "nul" },
    { "deep.model", "\x48\0\0\0\0\0\0\0"
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 80, "json" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    gchar *path = write_temp (dir, files[i].name, files[i].bytes, files[i].len);
    g_assert_null (seqnn_classifier_load (path, &error));
    assert_seqnn_error (&error, SEQNN_ERROR_CORRUPT, files[i].needle);
    g_unlink (path);
    g_free (path);
  }

  /* Saving: an unwritable place, non-finite weights. */
  SeqnnClassifier *classifier = seqnn_classifier_new (small_model (), vocab, NULL, names, &error);
  g_assert_no_error (error);
  g_assert_false (seqnn_classifier_save (classifier, "/nonexistent/dir/m.model", &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "/nonexistent/dir");
  gchar *saved = g_build_filename (dir, "nan.model", NULL);
  gfloat *params = seqnn_model_get_params (seqnn_classifier_get_model (classifier), NULL);
  params[0] = NAN;
  g_assert_false (seqnn_classifier_save (classifier, saved, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_NUMERIC, "");
  g_assert_false (g_file_test (saved, G_FILE_TEST_EXISTS));
  params[0] = 0.0f;
  g_free (saved);

  /* Word vectors. */
  SeqnnModel *model = seqnn_classifier_get_model (classifier);
  const gfloat *before = g_memdup2 (params, sizeof (gfloat) * 8 * 4);
  g_assert_false (seqnn_model_load_word_vectors (model, vocab, "/nonexistent/v.txt", NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_IO, "v.txt");
  struct {
    const gchar *text;
    const gchar *needle;
  } const vectors[] = {
    { "a 1 2 3\n", "3 dimensions" },
    { "2 5\na 1 2 3 4\nb 1 2 3 4\n", "header says 5" },
    { "3 4\na 1 2 3 4\nb 1 2 3 4\n", "announces 3" },
    { "a 1 2 3 4\nb 1 2 nan 4\n", "v.txt:2" },
    { "a 1 2 3 4\nb 1 2 1e999 4\n", "finite" },
    { "a 1 2 3 4\nb 1 2 3\n", "v.txt:2" },
    { "a 1 2 3 4\n\xff 1 2 3 4\n", "not text" },
    { "\n\n", "no vectors" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++) {
    gchar *path = write_temp (dir, "v.txt", vectors[i].text, -1);
    g_assert_false (seqnn_model_load_word_vectors (model, vocab, path, NULL, &error));
    assert_seqnn_error (&error, SEQNN_ERROR_PARSE, vectors[i].needle);
    g_assert_cmpmem (params, sizeof (gfloat) * 8 * 4, before, sizeof (gfloat) * 8 * 4);
    g_unlink (path);
    g_free (path);
  }
  /* An endless line (here /dev/zero's) fails at a bound instead of filling memory. */
  g_assert_false (seqnn_model_load_word_vectors (model, vocab, "/dev/zero", NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_PARSE, "line longer than");
  SeqnnVocab *small = seqnn_vocab_new_from_tokens ((const gchar *[]) { "<unk>", "<pad>" }, 2, NULL);
  g_assert_false (seqnn_model_load_word_vectors (model, small, "/nonexistent/v.txt", NULL, &error));
  assert_seqnn_error (&error, SEQNN_ERROR_INVALID_ARGUMENT, "vocab_size");
  seqnn_vocab_unref (small);
  g_free ((gpointer) before);

  seqnn_classifier_free (classifier);
  seqnn_vocab_unref (vocab);
  g_rmdir (dir);
  g_free (dir);
}

/* ---- One huge record under a memory limit ---------------------------------
 * A 10.5 M-token record (a transcript without line breaks) asks the lesson
 * LSTM for gigabytes of workspace: the library must answer with
 * SEQNN_ERROR_NO_MEMORY saying how much and what to lower, never abort, and
 * stay usable. Run in a subprocess whose address space is capped at what it
 * uses now plus 1 GiB. */

#define HUGE_RECORD_TOKENS 10500000

/* Bytes of address space in use, from /proc/self/statm (in pages). */
static gsize
address_space_in_use (void)
{
  gchar *statm = NULL;
  gsize pages = 0;
  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    pages = g_ascii_strtoull (statm, NULL, 10);
  g_free (statm);
  return pages * (gsize) sysconf (_SC_PAGESIZE);
}

static void
huge_record_child (void)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);  /* the lesson: LSTM E64 H32, about 1 KB per token to train */
  c.vocab_size = 8;
  SeqnnModel *model = seqnn_model_new (&c, NULL);
  seqnn_model_init_params (model, 1);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  SeqnnTrainer *trainer = seqnn_trainer_new (model, &oc, 1, 1, NULL);
  SeqnnInference *inference = seqnn_inference_new (model, 1);
  gint32 *ids = g_new (gint32, HUGE_RECORD_TOKENS);
  for (gint i = 0; i < HUGE_RECORD_TOKENS; i++)
    ids[i] = 2 + i % 5;
  gint length = HUGE_RECORD_TOKENS, label = 1;
  SeqnnBatch huge = { ids, &length, 1, &label };
  gint small_length = 4;
  SeqnnBatch small = { ids, &small_length, 1, &label };
  gfloat probs[4];
  GError *error = NULL;

  struct rlimit limit = { address_space_in_use () + ((gsize) 1 << 30), RLIM_INFINITY };
  g_assert_cmpint (setrlimit (RLIMIT_AS, &limit), ==, 0);

  g_assert_false (seqnn_inference_run (inference, &huge, probs, NULL, &error));
  printf ("inference: %s\n", error->message);
  assert_seqnn_error (&error, SEQNN_ERROR_NO_MEMORY, "lower max-tokens");
  g_assert_null (seqnn_inference_get_final_hidden (inference));
  g_assert_false (seqnn_trainer_step (trainer, &huge, NULL, &error));
  printf ("training: %s\n", error->message);
  assert_seqnn_error (&error, SEQNN_ERROR_NO_MEMORY, "lower max-tokens");
  g_assert_cmpuint (seqnn_trainer_get_step (trainer), ==, 0);

  /* Both still work on a record that fits. */
  g_assert_true (seqnn_inference_run (inference, &small, probs, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (probs[0] + probs[1] + probs[2] + probs[3], 1.0f, 1e-5f);
  g_assert_true (seqnn_trainer_step (trainer, &small, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_trainer_get_step (trainer), ==, 1);

  g_free (ids);
  seqnn_inference_free (inference);
  seqnn_trainer_free (trainer);
  seqnn_model_free (model);
}

static void
test_huge_record (void)
{
#if defined(__SANITIZE_ADDRESS__)
  g_test_skip ("AddressSanitizer reserves terabytes of address space: no RLIMIT_AS test");
  return;
#endif
  if (g_getenv ("SEQNN_UNDER_VALGRIND") != NULL) {
    g_test_skip ("valgrind manages the address space itself: no RLIMIT_AS test");
    return;
  }
  if (g_test_subprocess ()) {
    huge_record_child ();
    return;
  }
  g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*inference: cannot allocate *GiB for the network's workspace*");
  g_test_trap_assert_stdout ("*training: cannot allocate *GiB for *");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/api-errors/config", test_config);
  g_test_add_func ("/api-errors/batches", test_batches);
  g_test_add_func ("/api-errors/trainer-config", test_trainer_config);
  g_test_add_func ("/api-errors/vocab", test_vocab);
  g_test_add_func ("/api-errors/records", test_records);
  g_test_add_func ("/api-errors/labels", test_labels);
  g_test_add_func ("/api-errors/dataset-and-training", test_dataset_and_training);
  g_test_add_func ("/api-errors/classifier", test_classifier);
  g_test_add_func ("/api-errors/huge-record", test_huge_record);
  return g_test_run ();
}
