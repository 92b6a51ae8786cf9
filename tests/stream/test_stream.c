/* Stream models (seqnn/stream.h): the state really carries from run to run
 * (a stream fed in chunks equals one forward pass over the concatenation,
 * read at the cue ends: the ordinary engine over each prefix, since a
 * head=last model's class of a prefix is the top state at its end), reset,
 * cues without tokens, bad input, the mark in the file, the refusal of other
 * models, and a long stream staying finite and allocation-free once warm.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "seqnn/seqnn.h"

#define V 13
#define C 3

static SeqnnClassifier *
make_classifier (SeqnnCell cell, gint layers, gboolean bidirectional, SeqnnHead head, gint H,
    guint64 seed)
{
  GError *error = NULL;
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  config.cell = cell;
  config.vocab_size = V;
  config.embed_dim = 4;
  config.hidden_dim = H;
  config.num_layers = layers;
  config.bidirectional = bidirectional;
  config.head = head;
  config.num_classes = C;
  SeqnnModel *model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, seed);
  const gchar *tokens[V];
  gchar *owned[V];
  for (gint i = 0; i < V; i++) {
    owned[i] = i == 0 ? g_strdup (SEQNN_VOCAB_UNK) : i == 1 ? g_strdup (SEQNN_VOCAB_PAD)
        : g_strdup_printf ("w%d", i);
    tokens[i] = owned[i];
  }
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (tokens, V, &error);
  g_assert_no_error (error);
  for (gint i = 0; i < V; i++)
    g_free (owned[i]);
  static const gchar *const labels[] = { "a", "b", "c", NULL };
  SeqnnClassifier *classifier = seqnn_classifier_new (model, vocab, NULL, labels, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab);
  return classifier;
}

/* What the ordinary engine says of the prefix ids[0 .. n): n x C into probs. */
static void
prefix_probs (SeqnnInference *inference, const gint32 *ids, gint n, gfloat *probs)
{
  GError *error = NULL;
  SeqnnBatch batch = { ids, &n, 1, NULL };
  g_assert_true (seqnn_inference_run (inference, &batch, probs, NULL, &error));
  g_assert_no_error (error);
}

static void
assert_rows_close (const gfloat *a, const gfloat *b, gint n, const gchar *what, gint cue)
{
  for (gint c = 0; c < n; c++)
    if (fabsf (a[c] - b[c]) > 2e-5f)
      g_error ("%s: cue %d class %d: %.7f vs %.7f", what, cue, c, a[c], b[c]);
}

/* ---- chunks equal the concatenation ------------------------------------------ */

typedef struct {
  const gchar *name;
  SeqnnCell cell;
  gint layers;
} ArchCase;

static const ArchCase arch_cases[] = {
  { "rnn-tanh-1", SEQNN_CELL_RNN_TANH, 1 },
  { "rnn-relu-2", SEQNN_CELL_RNN_RELU, 2 },
  { "lstm-1", SEQNN_CELL_LSTM, 1 },
  { "lstm-3", SEQNN_CELL_LSTM, 3 },
  { "gru-1", SEQNN_CELL_GRU, 1 },
  { "gru-2", SEQNN_CELL_GRU, 2 },
};

/* Cue lengths (0: a cue without tokens), and the ways to cut them into runs. */
static const gint cue_lengths[] = { 0, 3, 5, 0, 1, 7, 4, 0, 0, 2, 6, 1 };
#define N_CUES ((gint) G_N_ELEMENTS (cue_lengths))
typedef struct {
  const gchar *name;
  gint runs[N_CUES + 1];   /* cues per run, 0-terminated */
} Chunking;
static const Chunking chunkings[] = {
  { "all at once", { N_CUES } },
  { "one by one", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
  { "uneven", { 2, 3, 1, 4, 2 } },
  { "longer runs", { 1, 5, 6 } },
};

static void
test_chunks_equal_concatenation (gconstpointer data)
{
  const ArchCase *arch = data;
  GError *error = NULL;
  SeqnnClassifier *classifier = make_classifier (arch->cell, arch->layers, FALSE, SEQNN_HEAD_LAST, 5, 7);
  g_assert_true (seqnn_classifier_set_stream (classifier, TRUE, &error));
  g_assert_no_error (error);
  SeqnnInference *inference = seqnn_inference_new (seqnn_classifier_peek_model (classifier), 1);

  gint total = 0;
  for (gint i = 0; i < N_CUES; i++)
    total += cue_lengths[i];
  gint32 ids[64];
  for (gint k = 0; k < total; k++)
    ids[k] = (gint32) ((k * 7 + 3) % V);
  /* Expected row of each cue: the prefix up to its end, the previous one's
   * for a cue without tokens, uniform before any token. */
  gfloat expected[N_CUES * C], prefix[C];
  gint end = 0;
  for (gint i = 0; i < N_CUES; i++) {
    end += cue_lengths[i];
    if (end == 0)
      for (gint c = 0; c < C; c++)
        prefix[c] = 1.0f / C;
    else if (cue_lengths[i] > 0)
      prefix_probs (inference, ids, end, prefix);
    memcpy (expected + i * C, prefix, sizeof prefix);
  }

  SeqnnStream *stream = seqnn_stream_new (classifier, 1, &error);
  g_assert_no_error (error);
  for (guint k = 0; k < G_N_ELEMENTS (chunkings); k++) {
    const Chunking *ch = &chunkings[k];
    gfloat got[N_CUES * C];
    gint cue = 0, token = 0;
    seqnn_stream_reset (stream);
    for (gint r = 0; ch->runs[r] > 0; r++) {
      gint n = ch->runs[r], n_tokens = 0;
      for (gint i = cue; i < cue + n; i++)
        n_tokens += cue_lengths[i];
      g_assert_true (seqnn_stream_run (stream, ids + token, cue_lengths + cue, n, got + cue * C, &error));
      g_assert_no_error (error);
      /* an empty run changes nothing */
      g_assert_true (seqnn_stream_run (stream, NULL, NULL, 0, NULL, &error));
      cue += n;
      token += n_tokens;
    }
    g_assert_cmpint (cue, ==, N_CUES);
    g_assert_cmpuint (seqnn_stream_get_n_tokens (stream), ==, (guint64) total);
    for (gint i = 0; i < N_CUES; i++)
      assert_rows_close (got + i * C, expected + i * C, C, ch->name, i);
  }
  seqnn_stream_free (stream);
  seqnn_inference_free (inference);
  seqnn_classifier_free (classifier);
}

/* ---- reset, empty cues, no allocation once warm --------------------------------- */

static void
test_reset (void)
{
  GError *error = NULL;
  SeqnnClassifier *classifier = make_classifier (SEQNN_CELL_LSTM, 2, FALSE, SEQNN_HEAD_LAST, 6, 3);
  g_assert_true (seqnn_classifier_set_stream (classifier, TRUE, &error));
  SeqnnStream *stream = seqnn_stream_new (classifier, 0, &error);
  g_assert_no_error (error);
  const gint32 a[] = { 2, 3, 4, 5, 6 }, b[] = { 7, 8, 9 };
  const gint la[] = { 5 }, lb[] = { 3 }, l0[] = { 0, 0 };
  gfloat fresh[C], carried[C], after_reset[C], empty[2 * C];

  /* right after creation, a cue without tokens is uniform */
  g_assert_true (seqnn_stream_run (stream, NULL, l0, 2, empty, &error));
  for (gint c = 0; c < 2 * C; c++)
    g_assert_cmpfloat (empty[c], ==, 1.0f / C);
  g_assert_true (seqnn_stream_run (stream, b, lb, 1, fresh, &error));
  seqnn_stream_reset (stream);
  g_assert_true (seqnn_stream_run (stream, a, la, 1, carried, &error));
  /* the empty cues now repeat the last cue's row */
  g_assert_true (seqnn_stream_run (stream, NULL, l0, 2, empty, &error));
  assert_rows_close (empty, carried, C, "empty after a", 0);
  assert_rows_close (empty + C, carried, C, "empty after a", 1);
  g_assert_true (seqnn_stream_run (stream, b, lb, 1, carried, &error));
  seqnn_stream_reset (stream);
  g_assert_true (seqnn_stream_run (stream, NULL, l0, 1, empty, &error));
  g_assert_cmpfloat (empty[0], ==, 1.0f / C);
  g_assert_true (seqnn_stream_run (stream, b, lb, 1, after_reset, &error));
  g_assert_no_error (error);
  /* after a reset, b alone again; carried over a, b differs */
  assert_rows_close (after_reset, fresh, C, "after reset", 0);
  gfloat diff = 0;
  for (gint c = 0; c < C; c++)
    diff += fabsf (carried[c] - fresh[c]);
  g_assert_cmpfloat (diff, >, 1e-4f);
  seqnn_stream_free (stream);
  seqnn_classifier_free (classifier);
}

/* ---- bad input leaves the state as it was --------------------------------------- */

static void
test_bad_input (void)
{
  GError *error = NULL;
  SeqnnClassifier *classifier = make_classifier (SEQNN_CELL_GRU, 1, FALSE, SEQNN_HEAD_LAST, 4, 5);
  g_assert_true (seqnn_classifier_set_stream (classifier, TRUE, &error));
  SeqnnStream *stream = seqnn_stream_new (classifier, 1, &error);
  g_assert_no_error (error);
  static const gint32 ids[] = { 2, 3, 4 }, bad_id[] = { 2, V, 4 }, negative[] = { -1 };
  static const gint l3[] = { 3 }, bad_len[] = { 2, -1 }, l1[] = { 1 };
  gfloat probs[2 * C], first[C], second[C];
  g_assert_true (seqnn_stream_run (stream, ids, l3, 1, first, &error));

  const struct { const gchar *what; const gint32 *ids; const gint *lengths; gint n; const gchar *message; } bad[] = {
    { "id past the vocabulary", bad_id, l3, 1, "outside the vocabulary" },
    { "negative id", negative, l1, 1, "outside the vocabulary" },
    { "negative length", ids, bad_len, 2, "below 0" },
    { "negative count", ids, l3, -1, "below 0" },
    { "no ids", NULL, l3, 1, "needs ids" },
    { "no lengths", ids, NULL, 1, "needs lengths" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++) {
    g_assert_false (seqnn_stream_run (stream, bad[k].ids, bad[k].lengths, bad[k].n, probs, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    if (strstr (error->message, bad[k].message) == NULL)
      g_error ("%s: \"%s\" lacks \"%s\"", bad[k].what, error->message, bad[k].message);
    g_clear_error (&error);
  }
  g_assert_false (seqnn_stream_run (NULL, ids, l3, 1, probs, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (seqnn_stream_run (stream, ids, l3, 1, NULL, &error));
  g_clear_error (&error);

  /* the failures did not move the state: the same as a stream fed only the good runs */
  g_assert_true (seqnn_stream_run (stream, ids, l3, 1, second, &error));
  SeqnnStream *clean = seqnn_stream_new (classifier, 1, &error);
  gfloat expect[C];
  g_assert_true (seqnn_stream_run (clean, ids, l3, 1, expect, &error));
  assert_rows_close (expect, first, C, "first", 0);
  g_assert_true (seqnn_stream_run (clean, ids, l3, 1, expect, &error));
  assert_rows_close (expect, second, C, "second", 0);
  g_assert_no_error (error);
  seqnn_stream_free (clean);

  g_assert_null (seqnn_stream_new (classifier, -1, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_stream_free (stream);
  seqnn_classifier_free (classifier);
}

/* ---- the refusal of other models, the mark and the file ------------------------- */

typedef struct {
  const gchar *name;
  gint layers;
  gboolean bidirectional;
  SeqnnHead head;
  gboolean markable;
  const gchar *message;    /* in check_stream's error (unmarked) */
} MarkCase;

static const MarkCase mark_cases[] = {
  { "bidirectional max", 1, TRUE, SEQNN_HEAD_MAX, FALSE, "cue by cue (bidirectional, head max)" },
  { "bidirectional last", 1, TRUE, SEQNN_HEAD_LAST, FALSE, "cue by cue (bidirectional)" },
  { "mean", 1, FALSE, SEQNN_HEAD_MEAN, FALSE, "cue by cue (head mean)" },
  { "bag of embeddings", 0, FALSE, SEQNN_HEAD_MEAN, FALSE, "cue by cue (without a recurrent layer, head mean)" },
  { "unidirectional last", 1, FALSE, SEQNN_HEAD_LAST, TRUE, "on whole records" },
};

static void
test_mark (gconstpointer data)
{
  const MarkCase *mc = data;
  GError *error = NULL;
  SeqnnClassifier *classifier = make_classifier (SEQNN_CELL_LSTM, mc->layers, mc->bidirectional, mc->head,
      4, 1);
  g_assert_false (seqnn_classifier_is_stream (classifier));
  g_assert_false (seqnn_classifier_check_stream (classifier, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, mc->message) == NULL || strstr (error->message, "stream-training=true") == NULL)
    g_error ("%s: \"%s\"", mc->name, error->message);
  g_clear_error (&error);
  g_assert_null (seqnn_stream_new (classifier, 1, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  gchar *dir = g_dir_make_tmp ("seqnn-stream-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "m.model", NULL);
  g_assert_true (seqnn_classifier_save (classifier, path, &error));
  gchar *text = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &text, &len, NULL));
  g_assert_null (g_strstr_len (text, (gssize) len, "seqnn.stream"));   /* unmarked files are as before */
  g_free (text);

  gboolean ok = seqnn_classifier_set_stream (classifier, TRUE, &error);
  g_assert_cmpint (ok, ==, mc->markable);
  if (!ok) {
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "unidirectional with head last"));
    g_clear_error (&error);
    g_assert_false (seqnn_classifier_is_stream (classifier));
  } else {
    g_assert_true (seqnn_classifier_check_stream (classifier, &error));
    g_assert_true (seqnn_classifier_save (classifier, path, &error));
    SeqnnClassifier *loaded = seqnn_classifier_load (path, &error);
    g_assert_no_error (error);
    g_assert_true (seqnn_classifier_is_stream (loaded));
    g_assert_true (seqnn_classifier_set_stream (loaded, FALSE, &error));
    g_assert_false (seqnn_classifier_is_stream (loaded));
    seqnn_classifier_free (loaded);
  }
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  seqnn_classifier_free (classifier);
}

/* ---- a long stream stays finite ---------------------------------------------- */

static void
test_long_stream (void)
{
  GError *error = NULL;
  const gint n_cues = 100000, per_run = 100;
  /* The cells whose hidden state is bounded (a relu RNN's can grow without
   * bound, in torch as here). */
  static const SeqnnCell cells[] = { SEQNN_CELL_RNN_TANH, SEQNN_CELL_LSTM, SEQNN_CELL_GRU };
  for (guint ci = 0; ci < G_N_ELEMENTS (cells); ci++) {
    const SeqnnCell cell = cells[ci];
    SeqnnClassifier *classifier = make_classifier (cell, 2, FALSE, SEQNN_HEAD_LAST, 8, 11);
    /* weights scaled up so the state saturates if anything can */
    gsize n = 0;
    gfloat *params = seqnn_model_get_params (seqnn_classifier_get_model (classifier), &n);
    for (gsize i = 0; i < n; i++)
      params[i] *= 3.0f;
    g_assert_true (seqnn_classifier_set_stream (classifier, TRUE, &error));
    SeqnnStream *stream = seqnn_stream_new (classifier, 1, &error);
    g_assert_no_error (error);
    GRand *rand = g_rand_new_with_seed (42);
    gint32 ids[10 * 100];
    gint lengths[100];
    gfloat probs[100 * C];
    /* the largest run (100 cues of 10 tokens) once, then the state back to zero */
    for (gint i = 0; i < 10 * per_run; i++)
      ids[i] = i % V;
    for (gint i = 0; i < per_run; i++)
      lengths[i] = 10;
    g_assert_true (seqnn_stream_run (stream, ids, lengths, per_run, probs, &error));
    seqnn_stream_reset (stream);
    const guint64 warm = seqnn_stream_get_n_allocations (stream);
    g_assert_cmpuint (warm, >, 0);
    for (gint done = 0; done < n_cues; done += per_run) {
      gint k = 0;
      for (gint i = 0; i < per_run; i++) {
        lengths[i] = g_rand_int_range (rand, 4, 11);
        for (gint t = 0; t < lengths[i]; t++)
          ids[k++] = g_rand_int_range (rand, 0, V);
      }
      g_assert_true (seqnn_stream_run (stream, ids, lengths, per_run, probs, &error));
      /* warmed by the largest run: no allocation per run */
      g_assert_cmpuint (seqnn_stream_get_n_allocations (stream), ==, warm);
      for (gint i = 0; i < per_run * C; i++)
        if (!isfinite (probs[i]) || probs[i] < 0.0f || probs[i] > 1.0f)
          g_error ("%s: cue %d: probability %g", seqnn_cell_to_string (cell),
              done + i / C, probs[i]);
    }
    g_rand_free (rand);
    seqnn_stream_free (stream);
    seqnn_classifier_free (classifier);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (arch_cases); i++) {
    gchar *name = g_strdup_printf ("/stream/chunks-equal-concatenation/%s", arch_cases[i].name);
    g_test_add_data_func (name, &arch_cases[i], test_chunks_equal_concatenation);
    g_free (name);
  }
  g_test_add_func ("/stream/reset-and-empty-cues", test_reset);
  g_test_add_func ("/stream/bad-input", test_bad_input);
  for (guint i = 0; i < G_N_ELEMENTS (mark_cases); i++) {
    gchar *name = g_strdup_printf ("/stream/mark/%s", mark_cases[i].name);
    g_test_add_data_func (name, &mark_cases[i], test_mark);
    g_free (name);
  }
  g_test_add_func ("/stream/long-stream-finite", test_long_stream);
  return g_test_run ();
}
