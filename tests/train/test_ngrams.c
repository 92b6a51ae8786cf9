/* Word n-grams for a bag of embeddings (fastText's -wordNgrams): the
 * vocabulary's n-gram entries and how they are appended, the builder and the
 * dataset counting them, a word-order task only n-grams can learn, the model
 * file keeping word_ngrams, and the refusals (n-grams need layers=0).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <seqnn/seqnn.h>
#include "dataset-batch.h" /* internal: the rows as training and evaluation feed them */

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

static GArray *
ids_new (void)
{
  return g_array_new (FALSE, FALSE, sizeof (gint32));
}

/* "2 3 4" for messages */
static gchar *
ids_to_string (const gint32 *ids, guint n)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i > 0 ? " " : "", ids[i]);
  return g_string_free (s, FALSE);
}

static void
assert_ids (const gchar *what, const GArray *ids, const gint32 *expected, guint n_expected)
{
  if (ids->len == n_expected
      && memcmp (ids->data, expected, n_expected * sizeof (gint32)) == 0)
    return;
  gchar *got = ids_to_string ((const gint32 *) ids->data, ids->len);
  gchar *want = ids_to_string (expected, n_expected);
  g_error ("%s: ids [%s], expected [%s]", what, got, want);
}

/* The vocabulary's tokens, id order, as one string "<unk>|<pad>|new|..." */
static gchar *
vocab_to_string (const SeqnnVocab *vocab)
{
  GString *s = g_string_new (NULL);
  for (gsize i = 0; i < seqnn_vocab_get_size (vocab); i++)
    g_string_append_printf (s, "%s%s", i > 0 ? "|" : "", seqnn_vocab_get_token (vocab, (gint32) i));
  return g_string_free (s, FALSE);
}

static void
assert_vocab (const gchar *what, const SeqnnVocab *vocab, const gchar *expected)
{
  gchar *got = vocab_to_string (vocab);
  if (g_strcmp0 (got, expected) != 0)
    g_error ("%s: vocabulary %s, expected %s", what, got, expected);
  g_free (got);
}

static gboolean
vocab_has_space (const SeqnnVocab *vocab)
{
  for (gsize i = 0; i < seqnn_vocab_get_size (vocab); i++)
    if (strchr (seqnn_vocab_get_token (vocab, (gint32) i), ' ') != NULL)
      return TRUE;
  return FALSE;
}

/* ---- /train/ngrams/vocab ---------------------------------------------------------- */

/* ids: new 2, york 3, city 4, "new york" 5, "new york city" 6, "york city" 7,
 * "city new" 8, "a b" 9 (unreachable: neither a nor b is a word of it) */
static const gchar *const city_tokens[] = {
  "<unk>", "<pad>", "new", "york", "city", "new york", "new york city", "york city", "city new", "a b",
};

typedef struct {
  const gchar *text;
  gint word_ngrams;
  gint32 expected[12];
  guint n_expected;
} AppendCase;

static const AppendCase append_cases[] = {
  /* words only: nothing appended */
  { "new york city new", 1, { 2, 3, 4, 2 }, 4 },
  { "new york city new", 0, { 2, 3, 4, 2 }, 4 },
  { "new york city new", -3, { 2, 3, 4, 2 }, 4 },
  /* bigrams by start position: new york, york city, city new */
  { "new york city new", 2, { 2, 3, 4, 2, 5, 7, 8 }, 7 },
  /* start then length: new york, new york city, york city ("york city new" is
   * missing), city new */
  { "new york city new", 3, { 2, 3, 4, 2, 5, 6, 7, 8 }, 8 },
  { "new york city new", SEQNN_WORD_NGRAMS_MAX, { 2, 3, 4, 2, 5, 6, 7, 8 }, 8 },
  /* an unknown word ends every run through it */
  { "new zzz york", 2, { 2, 0, 3 }, 3 },
  { "new zzz york", 3, { 2, 0, 3 }, 3 },
  { "zzz new york", 3, { 0, 2, 3, 5 }, 4 },
  /* the missing "york new" ends the runs from york: no "york new york" */
  { "york new york city", 3, { 3, 2, 3, 4, 5, 6, 7 }, 7 },
  /* "a b" is unreachable; a one-word text has no run */
  { "a b", 2, { 0, 0 }, 2 },
  { "city", 3, { 4 }, 1 },
  { "", 3, { 0 }, 0 },
};

static void
test_vocab (void)
{
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (city_tokens, G_N_ELEMENTS (city_tokens), &error);
  g_assert_no_error (error);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = ids_new ();

  for (guint c = 0; c < G_N_ELEMENTS (append_cases); c++) {
    const AppendCase *ac = &append_cases[c];
    gchar *what = g_strdup_printf ("\"%s\" word_ngrams %d", ac->text, ac->word_ngrams);
    seqnn_tokenize (NULL, ac->text, -1, tokens);
    g_array_set_size (ids, 0);
    seqnn_vocab_encode (vocab, tokens, ids);
    seqnn_vocab_append_ngrams (vocab, ids, 0, ac->word_ngrams);
    assert_ids (what, ids, ac->expected, ac->n_expected);
    g_free (what);
  }

  /* start: the record before it is neither read nor changed: "new york" then
   * "city new" gives city new only (no new york, no york city across records) */
  {
    const gint32 before[] = { 2, 3 };
    const gint32 expected[] = { 2, 3, 4, 2, 8 };
    g_array_set_size (ids, 0);
    g_array_append_vals (ids, before, G_N_ELEMENTS (before));
    seqnn_tokenize (NULL, "city new", -1, tokens);
    seqnn_vocab_encode (vocab, tokens, ids);
    seqnn_vocab_append_ngrams (vocab, ids, 2, 3);
    assert_ids ("start 2", ids, expected, G_N_ELEMENTS (expected));
    /* start at the end: nothing to read */
    seqnn_vocab_append_ngrams (vocab, ids, ids->len, 3);
    assert_ids ("start at the end", ids, expected, G_N_ELEMENTS (expected));
  }
  /* the record's ids may be anything after start: a second record appended
   * after the first one's n-grams gets its own */
  {
    const gint32 expected[] = { 2, 3, 5, 3, 4, 7 };
    g_array_set_size (ids, 0);
    seqnn_tokenize (NULL, "new york", -1, tokens);
    seqnn_vocab_encode (vocab, tokens, ids);
    seqnn_vocab_append_ngrams (vocab, ids, 0, 2);
    guint start = ids->len;
    seqnn_tokenize (NULL, "york city", -1, tokens);
    seqnn_vocab_encode (vocab, tokens, ids);
    seqnn_vocab_append_ngrams (vocab, ids, start, 2);
    assert_ids ("two records", ids, expected, G_N_ELEMENTS (expected));
  }
  g_assert_cmpint (seqnn_vocab_get_max_ngram (vocab), ==, 3);
  seqnn_vocab_unref (vocab);

  /* the longest reachable entry */
  static const struct {
    const gchar *tokens[8];
    guint n;
    gint max_ngram;
  } max_cases[] = {
    { { "<unk>", "<pad>", "new", "york", "city" }, 5, 1 },
    { { "<unk>", "<pad>" }, 2, 1 },
    { { "<unk>", "<pad>", "new", "york", "new york" }, 5, 2 },
    /* "a b" lacks its words */
    { { "<unk>", "<pad>", "new", "york", "a b" }, 5, 1 },
    /* "new york city" lacks its prefix "new york" */
    { { "<unk>", "<pad>", "new", "york", "city", "new york city" }, 6, 1 },
    /* its last word */
    { { "<unk>", "<pad>", "new", "york", "new york", "new york city" }, 6, 2 },
    /* a five-word chain */
    { { "<unk>", "<pad>", "a", "a a", "a a a", "a a a a", "a a a a a" }, 7, 5 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (max_cases); c++) {
    vocab = seqnn_vocab_new_from_tokens (max_cases[c].tokens, max_cases[c].n, &error);
    g_assert_no_error (error);
    if (seqnn_vocab_get_max_ngram (vocab) != max_cases[c].max_ngram)
      g_error ("max ngram case %u: %d, expected %d", c, seqnn_vocab_get_max_ngram (vocab),
          max_cases[c].max_ngram);
    seqnn_vocab_unref (vocab);
  }

  /* an unreachable trigram is never appended */
  {
    const gchar *const t[] = { "<unk>", "<pad>", "new", "york", "city", "new york city" };
    const gint32 expected[] = { 2, 3, 4 };
    vocab = seqnn_vocab_new_from_tokens (t, G_N_ELEMENTS (t), &error);
    g_assert_no_error (error);
    seqnn_tokenize (NULL, "new york city", -1, tokens);
    g_array_set_size (ids, 0);
    seqnn_vocab_encode (vocab, tokens, ids);
    seqnn_vocab_append_ngrams (vocab, ids, 0, 3);
    assert_ids ("unreachable trigram", ids, expected, G_N_ELEMENTS (expected));
    seqnn_vocab_unref (vocab);
  }
  /* five words: every run from each start */
  {
    const gchar *const t[] = { "<unk>", "<pad>", "a", "a a", "a a a", "a a a a", "a a a a a" };
    const gint32 expected[] = { 2, 2, 2, 2, 3, 4, 5, 3, 4, 3 };
    vocab = seqnn_vocab_new_from_tokens (t, G_N_ELEMENTS (t), &error);
    g_assert_no_error (error);
    seqnn_tokenize (NULL, "a a a a", -1, tokens);
    g_array_set_size (ids, 0);
    seqnn_vocab_encode (vocab, tokens, ids);
    seqnn_vocab_append_ngrams (vocab, ids, 0, 5);
    assert_ids ("a a a a", ids, expected, G_N_ELEMENTS (expected));
    seqnn_vocab_unref (vocab);
  }
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
}

/* ---- /train/ngrams/builder -------------------------------------------------------- */

typedef struct {
  guint64 min_freq;
  gsize max_size;
  gint max_words;
  const gchar *expected; /* the vocabulary, id order */
  gint max_ngram;
} BuildCase;

/* counts: the 10, cat 6, "the cat" 6, sat 4, "cat sat" 4, "the cat sat" 3,
 * on 2, "sat on" 2, "the cat sat on" 2, mat 1, "on mat" 1; ties by bytes */
static const BuildCase build_cases[] = {
  { 1, 0, 1, "<unk>|<pad>|the|cat|sat|on|mat", 1 },
  { 1, 0, 2, "<unk>|<pad>|the|cat|the cat|cat sat|sat|on|sat on|mat|on mat", 2 },
  { 1, 0, 3, "<unk>|<pad>|the|cat|the cat|cat sat|sat|the cat sat|on|sat on|mat|on mat", 3 },
  { 1, 0, 0, "<unk>|<pad>|the|cat|the cat|cat sat|sat|the cat sat|on|sat on|the cat sat on|mat|on mat", 4 },
  { 1, 0, 4, "<unk>|<pad>|the|cat|the cat|cat sat|sat|the cat sat|on|sat on|the cat sat on|mat|on mat", 4 },
  /* min_freq cuts n-grams as words */
  { 3, 0, 2, "<unk>|<pad>|the|cat|the cat|cat sat|sat", 2 },
  { 3, 0, 0, "<unk>|<pad>|the|cat|the cat|cat sat|sat|the cat sat", 3 },
  { 5, 0, 2, "<unk>|<pad>|the|cat|the cat", 2 },
  { 7, 0, 2, "<unk>|<pad>|the", 1 },
  /* max_size counts n-grams as entries */
  { 1, 5, 2, "<unk>|<pad>|the|cat|the cat", 2 },
  { 1, 5, 1, "<unk>|<pad>|the|cat|sat", 1 },
  /* "cat sat" kept, its last word "sat" cut: unreachable */
  { 1, 6, 2, "<unk>|<pad>|the|cat|the cat|cat sat", 2 },
  { 1, 2, 2, "<unk>|<pad>", 1 },
};

static SeqnnVocabBuilder *
make_builder (void)
{
  static const struct { const gchar *token; guint64 count; } counts[] = {
    { "on mat", 1 }, { "the", 10 }, { "the cat sat on", 2 }, { "cat", 6 }, { "sat on", 2 },
    { "the cat", 6 }, { "sat", 4 }, { "mat", 1 }, { "cat sat", 4 }, { "the cat sat", 3 },
    { "on", 2 },
  };
  SeqnnVocabBuilder *builder = seqnn_vocab_builder_new ();
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    seqnn_vocab_builder_add (builder, counts[i].token, -1, counts[i].count);
  return builder;
}

static void
test_builder (void)
{
  GError *error = NULL;
  SeqnnVocabBuilder *builder = make_builder ();

  for (guint c = 0; c < G_N_ELEMENTS (build_cases); c++) {
    const BuildCase *bc = &build_cases[c];
    gchar *what = g_strdup_printf ("min_freq %" G_GUINT64_FORMAT " max_size %" G_GSIZE_FORMAT
        " max_words %d", bc->min_freq, bc->max_size, bc->max_words);
    SeqnnVocab *vocab = seqnn_vocab_builder_build_ngrams (builder, bc->min_freq, bc->max_size,
        bc->max_words, &error);
    g_assert_no_error (error);
    assert_vocab (what, vocab, bc->expected);
    if (seqnn_vocab_get_max_ngram (vocab) != bc->max_ngram)
      g_error ("%s: max ngram %d, expected %d", what, seqnn_vocab_get_max_ngram (vocab), bc->max_ngram);
    if (bc->max_words == 1)
      g_assert_false (vocab_has_space (vocab));
    seqnn_vocab_unref (vocab);
    g_free (what);
  }

  /* seqnn_vocab_builder_build keeps every entry (max_words 0) */
  SeqnnVocab *all = seqnn_vocab_builder_build (builder, 1, 0, &error);
  g_assert_no_error (error);
  assert_vocab ("build", all, build_cases[3].expected);
  seqnn_vocab_unref (all);

  /* the unreachable "cat sat" (its last word cut by max_size) adds nothing */
  SeqnnVocab *cut = seqnn_vocab_builder_build_ngrams (builder, 1, 6, 2, &error);
  g_assert_no_error (error);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = ids_new ();
  seqnn_tokenize (NULL, "the cat sat", -1, tokens);
  seqnn_vocab_encode (cut, tokens, ids);
  seqnn_vocab_append_ngrams (cut, ids, 0, 2);
  const gint32 expected[] = { 2, 3, 0, 4 }; /* the, cat, <unk>, "the cat" */
  assert_ids ("cut vocabulary", ids, expected, G_N_ELEMENTS (expected));
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
  seqnn_vocab_unref (cut);

  /* the builder's own checks still apply */
  g_assert_null (seqnn_vocab_builder_build_ngrams (builder, 0, 0, 2, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (seqnn_vocab_builder_build_ngrams (NULL, 1, 0, 2, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_vocab_builder_free (builder);
}

/* ---- /train/ngrams/dataset -------------------------------------------------------- */

/* new 4, york 4, city 2, the 1, car 1; "new york" 3, "york city" 2,
 * "city new" 1, "the new" 1, "new car" 1 */
static const gchar *const dataset_texts[] = {
  "new york city", "new york", "york city new york", "the new car",
};
static const gint dataset_labels[] = { 0, 1, 0, 1 };

static SeqnnDataset *
make_small_dataset (void)
{
  SeqnnDataset *dataset = seqnn_dataset_new ();
  SeqnnTokens *tokens = seqnn_tokens_new ();
  for (guint i = 0; i < G_N_ELEMENTS (dataset_texts); i++) {
    seqnn_tokenize (NULL, dataset_texts[i], -1, tokens);
    seqnn_dataset_add (dataset, tokens, dataset_labels[i]);
  }
  seqnn_tokens_free (tokens);
  return dataset;
}

/* A bag (embed_dim 2, mean head, 2 classes) whose logits are the mean of its
 * rows: every row zero but "york city" [10, 0] and "new car" [0, 10]; fc the
 * identity, no bias. So a record's loss shows how many ids it was fed and
 * whether those two bigrams were among them. */
static SeqnnModel *
make_bigram_probe (const SeqnnVocab *vocab)
{
  GError *error = NULL;
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  config.num_layers = 0;
  config.head = SEQNN_HEAD_MEAN;
  config.bidirectional = FALSE;
  config.embed_dim = 2;
  config.num_classes = 2;
  config.vocab_size = (gint) seqnn_vocab_get_size (vocab);
  SeqnnModel *model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  gfloat *params = seqnn_model_get_params (model, NULL); /* all zero */
  const SeqnnTensorInfo *emb = seqnn_model_find_tensor (model, "embedding.weight");
  const SeqnnTensorInfo *fc = seqnn_model_find_tensor (model, "fc.weight");
  g_assert_nonnull (emb);
  g_assert_nonnull (fc);
  g_assert_cmpint (emb->shape[1], ==, 2);
  g_assert_cmpint (fc->shape[0], ==, 2);
  g_assert_cmpint (fc->shape[1], ==, 2);
  gint32 york_city = seqnn_vocab_lookup (vocab, "york city", -1);
  gint32 new_car = seqnn_vocab_lookup (vocab, "new car", -1);
  g_assert_cmpint (york_city, >, SEQNN_VOCAB_PAD_ID);
  g_assert_cmpint (new_car, >, SEQNN_VOCAB_PAD_ID);
  params[emb->offset + (gsize) york_city * 2 + 0] = 10.0f;
  params[emb->offset + (gsize) new_car * 2 + 1] = 10.0f;
  params[fc->offset + 0] = 1.0f; /* fc.weight [2, 2], row-major */
  params[fc->offset + 3] = 1.0f;
  return model;
}

/* log (1 + e^-m): the loss of a two-class record whose right logit is m above the other */
static gdouble
softplus_neg (gdouble m)
{
  return log1p (exp (-m));
}

static void
test_dataset (void)
{
  GError *error = NULL;
  SeqnnDataset *dataset = make_small_dataset ();

  /* n-grams not counted yet */
  g_assert_null (seqnn_dataset_build_vocab_ngrams (dataset, 1, 0, 2, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "not counted"));
  g_clear_error (&error);
  /* words only need no counting */
  SeqnnVocab *words = seqnn_dataset_build_vocab_ngrams (dataset, 1, 0, 1, &error);
  g_assert_no_error (error);
  assert_vocab ("words", words, "<unk>|<pad>|new|york|city|car|the");
  seqnn_vocab_unref (words);
  /* too long */
  g_assert_false (seqnn_dataset_count_ngrams (dataset, SEQNN_WORD_NGRAMS_MAX + 1, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (seqnn_dataset_count_ngrams (dataset, 2, &error));
  g_assert_no_error (error);
  /* counting again to as many or fewer words changes nothing (else "new
   * york" would count 6 and come before "new" and "york") */
  g_assert_true (seqnn_dataset_count_ngrams (dataset, 2, &error));
  g_assert_true (seqnn_dataset_count_ngrams (dataset, 1, &error));
  g_assert_no_error (error);

  static const struct {
    guint64 min_freq;
    gsize max_size;
    gint word_ngrams;
    const gchar *expected;
  } cases[] = {
    { 2, 0, 2, "<unk>|<pad>|new|york|new york|city|york city" },
    { 3, 0, 2, "<unk>|<pad>|new|york|new york" },
    { 1, 0, 2, "<unk>|<pad>|new|york|new york|city|york city|car|city new|new car|the|the new" },
    { 1, 4, 2, "<unk>|<pad>|new|york" },
    { 1, 5, 2, "<unk>|<pad>|new|york|new york" },
    { 1, 0, 1, "<unk>|<pad>|new|york|city|car|the" },
    { 1, 0, 0, "<unk>|<pad>|new|york|city|car|the" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    gchar *what = g_strdup_printf ("dataset min_freq %" G_GUINT64_FORMAT " max_size %"
        G_GSIZE_FORMAT " word_ngrams %d", cases[c].min_freq, cases[c].max_size, cases[c].word_ngrams);
    SeqnnVocab *vocab = seqnn_dataset_build_vocab_ngrams (dataset, cases[c].min_freq,
        cases[c].max_size, cases[c].word_ngrams, &error);
    g_assert_no_error (error);
    assert_vocab (what, vocab, cases[c].expected);
    seqnn_vocab_unref (vocab);
    g_free (what);
  }
  /* seqnn_dataset_build_vocab stays words only */
  words = seqnn_dataset_build_vocab (dataset, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_false (vocab_has_space (words));
  g_assert_cmpuint (seqnn_vocab_get_size (words), ==, 7);
  seqnn_vocab_unref (words);
  /* counted to 2: 3 is refused */
  g_assert_null (seqnn_dataset_build_vocab_ngrams (dataset, 1, 0, 3, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  SeqnnVocab *vocab = seqnn_dataset_build_vocab_ngrams (dataset, 1, 0, 2, &error);
  g_assert_no_error (error);
  seqnn_dataset_apply_vocab (dataset, vocab);
  /* after the vocabulary: no more counting, though what was counted is fine */
  g_assert_false (seqnn_dataset_count_ngrams (dataset, 3, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "before a vocabulary is applied"));
  g_clear_error (&error);
  g_assert_true (seqnn_dataset_count_ngrams (dataset, 2, &error));
  g_assert_no_error (error);

  /* the stored rows stay the words; the n-grams are appended when fed */
  gint32 new_ = seqnn_vocab_lookup (vocab, "new", -1), york = seqnn_vocab_lookup (vocab, "york", -1);
  gint32 city = seqnn_vocab_lookup (vocab, "city", -1);
  gint32 new_york = seqnn_vocab_lookup (vocab, "new york", -1);
  gint32 york_city = seqnn_vocab_lookup (vocab, "york city", -1);
  const gint32 *row;
  gint length, label;
  seqnn_dataset_get (dataset, 0, &row, &length, &label);
  g_assert_cmpint (length, ==, 3);
  GArray *ids = ids_new ();
  {
    const gint32 fed1[] = { new_, york, city };
    const gint32 fed2[] = { new_, york, city, new_york, york_city };
    g_assert_cmpint (seqnn_dataset_append_row (dataset, 0, ids, &label), ==, 3); /* default 1 */
    assert_ids ("row 0, word_ngrams 1", ids, fed1, G_N_ELEMENTS (fed1));
    seqnn_dataset_set_word_ngrams (dataset, 2);
    g_array_set_size (ids, 0);
    g_assert_cmpint (seqnn_dataset_append_row (dataset, 0, ids, &label), ==, 5);
    g_assert_cmpint (label, ==, 0);
    assert_ids ("row 0, word_ngrams 2", ids, fed2, G_N_ELEMENTS (fed2));
    seqnn_dataset_get (dataset, 0, &row, &length, NULL);
    g_assert_cmpint (length, ==, 3);
    g_assert_cmpuint (seqnn_dataset_get_n_tokens (dataset), ==, 3 + 2 + 4 + 3);
  }

  /* evaluation feeds them: the probe's mean loss over the four records */
  SeqnnModel *probe = make_bigram_probe (vocab);
  gdouble loss = NAN;
  SeqnnConfusion *confusion = seqnn_confusion_new (2);
  g_assert_true (seqnn_evaluate (probe, dataset, NULL, 0, 4, 1, &loss, confusion, &error));
  g_assert_no_error (error);
  /* "new york city": 5 ids, york city [10, 0] -> margin 2; "new york": 3 ids,
   * nothing -> ln 2; "york city new york": 4 words + york city, city new,
   * new york -> 10/7; "the new car": 3 words + the new, new car -> 2 */
  gdouble expected = (softplus_neg (2.0) + log (2.0) + softplus_neg (10.0 / 7.0) + softplus_neg (2.0)) / 4;
  g_test_message ("probe loss with bigrams %.6f, expected %.6f", loss, expected);
  g_assert_cmpfloat_with_epsilon (loss, expected, 1e-5);
  g_assert_cmpuint (seqnn_confusion_get (confusion, 0, 0), ==, 2);
  g_assert_cmpuint (seqnn_confusion_get (confusion, 1, 1), >=, 1); /* "new york" ties */
  g_assert_cmpuint (seqnn_confusion_get_count (confusion), ==, 4);
  /* words only: every mean zero, every loss ln 2 */
  seqnn_dataset_set_word_ngrams (dataset, 1);
  g_assert_true (seqnn_evaluate (probe, dataset, NULL, 0, 4, 1, &loss, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (loss, log (2.0), 1e-6);
  seqnn_confusion_free (confusion);
  seqnn_model_free (probe);

  /* a copy for a trial keeps the n-grams it is given */
  {
    const gsize rows[] = { 3 };
    SeqnnDataset *copy = seqnn_dataset_copy_encoded (dataset, rows, 1, vocab, 0, 2);
    gint32 the = seqnn_vocab_lookup (vocab, "the", -1), car = seqnn_vocab_lookup (vocab, "car", -1);
    const gint32 fed[] = { the, new_, car, seqnn_vocab_lookup (vocab, "the new", -1),
      seqnn_vocab_lookup (vocab, "new car", -1) };
    g_array_set_size (ids, 0);
    g_assert_cmpint (seqnn_dataset_append_row (copy, 0, ids, NULL), ==, 5);
    assert_ids ("copy, word_ngrams 2", ids, fed, G_N_ELEMENTS (fed));
    seqnn_dataset_free (copy);
  }
  g_array_unref (ids);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (dataset);

  /* counting 3 at once, then reading to 2 and to 3 */
  dataset = make_small_dataset ();
  g_assert_true (seqnn_dataset_count_ngrams (dataset, 3, &error));
  g_assert_no_error (error);
  vocab = seqnn_dataset_build_vocab_ngrams (dataset, 1, 0, 2, &error);
  g_assert_no_error (error);
  assert_vocab ("counted to 3, built to 2", vocab, cases[2].expected);
  seqnn_vocab_unref (vocab);
  vocab = seqnn_dataset_build_vocab_ngrams (dataset, 1, 0, 3, &error);
  g_assert_no_error (error);
  assert_vocab ("counted to 3, built to 3", vocab,
      "<unk>|<pad>|new|york|new york|city|york city|car|city new|city new york|new car|"
      "new york city|the|the new|the new car|york city new");
  g_assert_cmpint (seqnn_vocab_get_max_ngram (vocab), ==, 3);
  seqnn_vocab_unref (vocab);
  /* counting 2 then 3 gives the same counts as 3 at once */
  SeqnnDataset *stepwise = make_small_dataset ();
  g_assert_true (seqnn_dataset_count_ngrams (stepwise, 2, &error));
  g_assert_true (seqnn_dataset_count_ngrams (stepwise, 3, &error));
  g_assert_no_error (error);
  vocab = seqnn_dataset_build_vocab_ngrams (stepwise, 1, 0, 3, &error);
  g_assert_no_error (error);
  assert_vocab ("counted 2 then 3", vocab,
      "<unk>|<pad>|new|york|new york|city|york city|car|city new|city new york|new car|"
      "new york city|the|the new|the new car|york city new");
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (stepwise);
  seqnn_dataset_free (dataset);
}

/* ---- /train/ngrams/counting ------------------------------------------------------- */

static void
add_words (SeqnnDataset *dataset, const gchar *text, gint label)
{
  SeqnnTokens *tokens = seqnn_tokens_new ();
  gchar **words = g_strsplit (text, " ", -1);
  for (gchar **w = words; *w != NULL; w++)
    seqnn_tokens_append (tokens, *w, -1);
  seqnn_dataset_add (dataset, tokens, label);
  g_strfreev (words);
  seqnn_tokens_free (tokens);
}

/* Runs through a literal <unk> or <pad> are never fed (the specials link to
 * nothing), so they are not counted: they would take max_size slots. Rows
 * added after counting are counted as the rows before them. */
static void
test_counting (void)
{
  static const gchar *const texts[] = {
    "a <unk> b", "a <unk> b", "<pad> a b", "a b <pad>", "c d e",
  };
  static const gchar *const expected[] = {
    "<unk>|<pad>|a|b|a b",                 /* after the first 4 rows */
    "<unk>|<pad>|a|b|a b|c|c d|c d e|d|d e|e", /* after the fifth */
  };
  GError *error = NULL;
  SeqnnDataset *before = seqnn_dataset_new (), *after = seqnn_dataset_new ();
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    add_words (before, texts[i], 0);
  g_assert_true (seqnn_dataset_count_ngrams (before, 3, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 4; i++)
    add_words (after, texts[i], 0);
  g_assert_true (seqnn_dataset_count_ngrams (after, 3, &error));
  g_assert_no_error (error);
  SeqnnVocab *vocab = seqnn_dataset_build_vocab_ngrams (after, 1, 0, 3, &error);
  g_assert_no_error (error);
  assert_vocab ("counted, 4 rows", vocab, expected[0]);
  seqnn_vocab_unref (vocab);
  add_words (after, texts[4], 0);

  SeqnnDataset *both[] = { before, after };
  for (guint d = 0; d < G_N_ELEMENTS (both); d++) {
    vocab = seqnn_dataset_build_vocab_ngrams (both[d], 1, 0, 3, &error);
    g_assert_no_error (error);
    assert_vocab (d == 0 ? "counted after the rows" : "rows added after counting", vocab, expected[1]);
    seqnn_vocab_unref (vocab);
    /* with max_size, the specials' runs no longer push out real entries */
    vocab = seqnn_dataset_build_vocab_ngrams (both[d], 1, 5, 3, &error);
    g_assert_no_error (error);
    assert_vocab ("max_size 5", vocab, "<unk>|<pad>|a|b|a b");
    seqnn_vocab_unref (vocab);
    seqnn_dataset_free (both[d]);
  }
}

/* ---- /train/ngrams/word-order ----------------------------------------------------- */

#define N_FILLERS 40

/* A record: 3..8 filler words ("f17") with the two markers adjacent at a
 * random place, "x y" for class 0 and "y x" for class 1: the same words in
 * both classes, only their order differs. */
static gchar *
make_order_text (GRand *rand, gint label)
{
  GString *s = g_string_new (NULL);
  gint n_fillers = g_rand_int_range (rand, 3, 9);
  gint markers_at = g_rand_int_range (rand, 0, n_fillers + 1);
  for (gint i = 0; i <= n_fillers; i++) {
    if (i == markers_at)
      g_string_append (s, label == 0 ? " x y" : " y x");
    if (i < n_fillers)
      g_string_append_printf (s, " f%d", g_rand_int_range (rand, 0, N_FILLERS));
  }
  return g_string_free (s, FALSE);
}

static SeqnnDataset *
make_order_dataset (gsize n, guint32 seed)
{
  SeqnnDataset *dataset = seqnn_dataset_new ();
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < n; i++) {
    gint label = (gint) (i % 2);
    gchar *text = make_order_text (rand, label);
    seqnn_tokenize (NULL, text, -1, tokens);
    seqnn_dataset_add (dataset, tokens, label);
    g_free (text);
  }
  g_rand_free (rand);
  seqnn_tokens_free (tokens);
  return dataset;
}

/* Fresh texts with their labels. */
static GPtrArray *
make_order_texts (gsize n, guint32 seed, gint **labels)
{
  GPtrArray *texts = g_ptr_array_new_with_free_func (g_free);
  GRand *rand = g_rand_new_with_seed (seed);
  *labels = g_new (gint, n);
  for (gsize i = 0; i < n; i++) {
    (*labels)[i] = g_rand_boolean (rand) ? 1 : 0;
    g_ptr_array_add (texts, make_order_text (rand, (*labels)[i]));
  }
  g_rand_free (rand);
  return texts;
}

/* Probabilities (n x num_classes) of texts through the classifier's own
 * encoding (seqnn_classifier_encode: words, then n-grams). */
static gfloat *
classify_texts (const SeqnnClassifier *classifier, const gchar *const *texts, gsize n)
{
  GError *error = NULL;
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = ids_new ();
  gint *lengths = g_new (gint, n);
  for (gsize i = 0; i < n; i++) {
    guint start = ids->len;
    seqnn_classifier_encode (classifier, texts[i], -1, tokens, ids);
    lengths[i] = (gint) (ids->len - start);
  }
  const SeqnnModel *model = seqnn_classifier_peek_model (classifier);
  gint n_classes = seqnn_model_get_config (model)->num_classes;
  gfloat *probs = g_new (gfloat, n * (gsize) n_classes);
  SeqnnInference *inference = seqnn_inference_new (model, 1);
  SeqnnBatch batch = { (const gint32 *) ids->data, lengths, (gint) n, NULL };
  g_assert_true (seqnn_inference_run (inference, &batch, probs, NULL, &error));
  g_assert_no_error (error);
  seqnn_inference_free (inference);
  g_free (lengths);
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
  return probs;
}

static gdouble
order_accuracy (const SeqnnClassifier *classifier, gsize n, guint32 seed)
{
  gint *labels;
  GPtrArray *texts = make_order_texts (n, seed, &labels);
  gfloat *probs = classify_texts (classifier, (const gchar *const *) texts->pdata, n);
  gsize right = 0;
  for (gsize i = 0; i < n; i++)
    right += (probs[2 * i + 1] > probs[2 * i] ? 1 : 0) == labels[i];
  g_free (probs);
  g_free (labels);
  g_ptr_array_unref (texts);
  return (gdouble) right / (gdouble) n;
}

#define ORDER_TRAIN_ROWS 1200
#define ORDER_TEST_ROWS 400

/* The two fits of the word-order task, made once for word-order and roundtrip. */
static SeqnnClassifier *order_fits[3];
static gdouble order_fit_seconds[3];

static SeqnnClassifier *
get_order_fit (gint word_ngrams)
{
  g_assert_true (word_ngrams == 1 || word_ngrams == 2);
  if (order_fits[word_ngrams] != NULL)
    return order_fits[word_ngrams];
  GError *error = NULL;
  SeqnnDataset *dataset = make_order_dataset (ORDER_TRAIN_ROWS, 17);
  SeqnnLabelSet *labels = seqnn_label_set_new_from_strv ((const gchar *const[]) { "xy", "yx", NULL });
  SeqnnFitOptions options;
  seqnn_fit_options_init_default (&options);
  options.model.num_layers = 0;
  options.model.head = SEQNN_HEAD_MEAN;
  options.model.bidirectional = FALSE;
  options.model.embed_dim = 16;
  options.tokenizer.word_ngrams = word_ngrams;
  options.train.epochs = 4;
  options.train.batch_size = 32;
  options.train.seed = 5;
  options.train.n_threads = 1;
  options.train.optimizer.kind = SEQNN_OPTIMIZER_ADAM;
  options.train.optimizer.learning_rate = 0.01f;
  gint64 t0 = g_get_monotonic_time ();
  SeqnnClassifier *classifier = seqnn_fit (dataset, labels, &options, &error);
  order_fit_seconds[word_ngrams] = (g_get_monotonic_time () - t0) / 1e6;
  g_assert_no_error (error);
  g_assert_nonnull (classifier);
  g_assert_cmpint (seqnn_classifier_get_tokenizer (classifier)->word_ngrams, ==, word_ngrams);
  g_assert_true (seqnn_dataset_has_vocab (dataset));
  seqnn_label_set_free (labels);
  seqnn_dataset_free (dataset);
  order_fits[word_ngrams] = classifier;
  return classifier;
}

static void
test_word_order (void)
{
  SeqnnClassifier *words = get_order_fit (1);
  SeqnnClassifier *bigrams = get_order_fit (2);
  SeqnnVocab *wv = seqnn_classifier_get_vocab (words), *bv = seqnn_classifier_get_vocab (bigrams);

  /* the vocabularies: words only, then words and bigrams with both orders */
  g_assert_false (vocab_has_space (wv));
  g_assert_cmpuint (seqnn_vocab_get_size (wv), ==, 2 + N_FILLERS + 2);
  g_assert_cmpint (seqnn_vocab_get_max_ngram (wv), ==, 1);
  g_assert_cmpint (seqnn_vocab_lookup (bv, "x y", -1), >, SEQNN_VOCAB_PAD_ID);
  g_assert_cmpint (seqnn_vocab_lookup (bv, "y x", -1), >, SEQNN_VOCAB_PAD_ID);
  g_assert_cmpint (seqnn_vocab_get_max_ngram (bv), ==, 2);
  g_assert_cmpuint (seqnn_vocab_get_size (bv), >, seqnn_vocab_get_size (wv));
  g_assert_cmpint (seqnn_model_get_config (seqnn_classifier_peek_model (bigrams))->vocab_size, ==,
      (gint) seqnn_vocab_get_size (bv));

  /* the classifier's encoding appends the n-grams: "f1 x y" gives f1, x, y,
   * then "f1 x" (when in the vocabulary) and "x y" */
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = ids_new ();
  seqnn_classifier_encode (bigrams, "x y", -1, tokens, ids);
  const gint32 xy[] = { seqnn_vocab_lookup (bv, "x", -1), seqnn_vocab_lookup (bv, "y", -1),
    seqnn_vocab_lookup (bv, "x y", -1) };
  assert_ids ("encode \"x y\"", ids, xy, G_N_ELEMENTS (xy));
  g_array_set_size (ids, 0);
  seqnn_classifier_encode (words, "x y", -1, tokens, ids);
  g_assert_cmpuint (ids->len, ==, 2);
  g_array_unref (ids);
  seqnn_tokens_free (tokens);

  gdouble acc_words = order_accuracy (words, ORDER_TEST_ROWS, 99);
  gdouble acc_bigrams = order_accuracy (bigrams, ORDER_TEST_ROWS, 99);
  g_test_message ("word order on %d fresh records: words only %.3f (fit %.2f s), "
      "with bigrams %.3f (fit %.2f s)", ORDER_TEST_ROWS, acc_words, order_fit_seconds[1],
      acc_bigrams, order_fit_seconds[2]);
  /* the same words in both classes: a bag of words is guessing */
  g_assert_cmpfloat (acc_words, <=, 0.65);
  g_assert_cmpfloat (acc_bigrams, >=, 0.95);
}

/* ---- /train/ngrams/roundtrip ------------------------------------------------------ */

static gchar *
read_whole (const gchar *path, gsize *len)
{
  GError *error = NULL;
  gchar *data = NULL;
  g_assert_true (g_file_get_contents (path, &data, len, &error));
  g_assert_no_error (error);
  return data;
}

/* memmem: the file begins with a little-endian length holding NUL bytes */
static gboolean
contains (const gchar *data, gsize len, const gchar *needle)
{
  gsize n = strlen (needle);
  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static void
test_roundtrip (void)
{
  GError *error = NULL;
  SeqnnClassifier *bigrams = get_order_fit (2);
  SeqnnClassifier *words = get_order_fit (1);
  gchar *dir = g_dir_make_tmp ("seqnn-ngrams-XXXXXX", &error);
  g_assert_no_error (error);
  gchar *path = g_build_filename (dir, "bigrams.seqnn", NULL);
  gchar *path_again = g_build_filename (dir, "bigrams-again.seqnn", NULL);
  gchar *path_words = g_build_filename (dir, "words.seqnn", NULL);

  g_assert_true (seqnn_classifier_save (bigrams, path, &error));
  g_assert_no_error (error);
  SeqnnClassifier *loaded = seqnn_classifier_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_cmpint (seqnn_classifier_get_tokenizer (loaded)->word_ngrams, ==, 2);
  g_assert_cmpuint (seqnn_vocab_get_size (seqnn_classifier_get_vocab (loaded)), ==,
      seqnn_vocab_get_size (seqnn_classifier_get_vocab (bigrams)));
  g_assert_cmpint (seqnn_vocab_get_max_ngram (seqnn_classifier_get_vocab (loaded)), ==, 2);

  const gchar *const texts[] = {
    "f1 x y f2 f3", "f4 y x", "x y", "y x f39 f0", "f5 f6 f7 x y f8", "", "zzz x y zzz",
  };
  gsize n = G_N_ELEMENTS (texts);
  gfloat *before = classify_texts (bigrams, texts, n);
  gfloat *after = classify_texts (loaded, texts, n);
  for (gsize i = 0; i < 2 * n; i++)
    if (before[i] != after[i])
      g_error ("text \"%s\" class %d: %.9g before saving, %.9g after loading", texts[i / 2],
          (gint) (i % 2), before[i], after[i]);
  /* and they are the n-gram model's: "x y" and "y x" apart */
  g_assert_cmpfloat (before[2 * 2 + 0], >, 0.8);
  g_assert_cmpfloat (before[2 * 3 + 1], >, 0.8);
  g_free (before);
  g_free (after);

  /* saving what was loaded gives the same bytes */
  g_assert_true (seqnn_classifier_save (loaded, path_again, &error));
  g_assert_no_error (error);
  gsize len, len_again, len_words;
  gchar *file = read_whole (path, &len);
  gchar *file_again = read_whole (path_again, &len_again);
  g_assert_cmpmem (file, len, file_again, len_again);
  g_assert_true (contains (file, len, "word_ngrams"));

  /* a words-only model's file is as before n-grams existed */
  g_assert_true (seqnn_classifier_save (words, path_words, &error));
  g_assert_no_error (error);
  gchar *file_words = read_whole (path_words, &len_words);
  g_assert_false (contains (file_words, len_words, "word_ngrams"));
  SeqnnClassifier *loaded_words = seqnn_classifier_load (path_words, &error);
  g_assert_no_error (error);
  g_assert_cmpint (seqnn_classifier_get_tokenizer (loaded_words)->word_ngrams, ==, 1);
  seqnn_classifier_free (loaded_words);

  g_free (file);
  g_free (file_again);
  g_free (file_words);
  seqnn_classifier_free (loaded);
  g_unlink (path);
  g_unlink (path_again);
  g_unlink (path_words);
  g_rmdir (dir);
  g_free (path);
  g_free (path_again);
  g_free (path_words);
  g_free (dir);
}

/* ---- /train/ngrams/refusals ------------------------------------------------------- */

typedef struct {
  gint word_ngrams;
  gint num_layers;
  gboolean ok;
  const gchar *message; /* a part of the refusal's message */
} NgramCheckCase;

static const NgramCheckCase check_cases[] = {
  { 0, 0, TRUE, NULL },
  { 1, 0, TRUE, NULL },
  { 0, 1, TRUE, NULL },
  { 1, 1, TRUE, NULL },
  { 1, 3, TRUE, NULL },
  { 2, 0, TRUE, NULL },
  { 3, 0, TRUE, NULL },
  { 5, 0, TRUE, NULL },
  { 2, 1, FALSE, "needs a bag of embeddings (layers=0)" },
  { 3, 2, FALSE, "needs a bag of embeddings (layers=0)" },
  { 5, 1, FALSE, "needs a bag of embeddings (layers=0)" },
  { 6, 0, FALSE, "1 (words only) to 5" },
  { 6, 1, FALSE, "1 (words only) to 5" },
  { -1, 0, FALSE, "1 (words only) to 5" },
  { -1, 1, FALSE, "1 (words only) to 5" },
};

static void
test_refusals (void)
{
  GError *error = NULL;

  /* seqnn_check_word_ngrams */
  for (guint c = 0; c < G_N_ELEMENTS (check_cases); c++) {
    const NgramCheckCase *cc = &check_cases[c];
    SeqnnConfig config;
    seqnn_config_init_default (&config);
    config.num_layers = cc->num_layers;
    if (cc->num_layers == 0)
      config.head = SEQNN_HEAD_MEAN;
    gboolean ok = seqnn_check_word_ngrams (cc->word_ngrams, &config, &error);
    if (ok != cc->ok)
      g_error ("word_ngrams %d layers %d: %s, expected %s (%s)", cc->word_ngrams, cc->num_layers,
          ok ? "accepted" : "refused", cc->ok ? "accepted" : "refused",
          error != NULL ? error->message : "");
    if (cc->ok) {
      g_assert_no_error (error);
      continue;
    }
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    if (strstr (error->message, cc->message) == NULL)
      g_error ("word_ngrams %d layers %d: \"%s\" lacks \"%s\"", cc->word_ngrams, cc->num_layers,
          error->message, cc->message);
    g_clear_error (&error);
  }

  /* seqnn_fit refuses before touching the data */
  static const struct {
    gint word_ngrams;
    gint num_layers;
    const gchar *message;
  } fit_cases[] = {
    { 2, 1, "needs a bag of embeddings (layers=0)" },
    { 5, 2, "needs a bag of embeddings (layers=0)" },
    { 6, 0, "1 (words only) to 5" },
    { -1, 0, "1 (words only) to 5" },
  };
  SeqnnLabelSet *labels = seqnn_label_set_new_from_strv ((const gchar *const[]) { "xy", "yx", NULL });
  for (guint c = 0; c < G_N_ELEMENTS (fit_cases); c++) {
    SeqnnDataset *dataset = make_order_dataset (40, 3);
    SeqnnFitOptions options;
    seqnn_fit_options_init_default (&options);
    options.model.num_layers = fit_cases[c].num_layers;
    options.model.embed_dim = 8;
    options.model.hidden_dim = 8;
    if (fit_cases[c].num_layers == 0)
      options.model.head = SEQNN_HEAD_MEAN;
    options.tokenizer.word_ngrams = fit_cases[c].word_ngrams;
    options.train.n_threads = 1;
    g_assert_null (seqnn_fit (dataset, labels, &options, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    if (strstr (error->message, fit_cases[c].message) == NULL)
      g_error ("fit word_ngrams %d layers %d: \"%s\" lacks \"%s\"", fit_cases[c].word_ngrams,
          fit_cases[c].num_layers, error->message, fit_cases[c].message);
    g_clear_error (&error);
    /* early: no vocabulary was applied, so the data can still be fitted */
    g_assert_false (seqnn_dataset_has_vocab (dataset));
    g_assert_true (seqnn_dataset_count_ngrams (dataset, 3, &error));
    g_assert_no_error (error);
    seqnn_dataset_free (dataset);
  }
  seqnn_label_set_free (labels);

  /* seqnn_classifier_new: a recurrent model with n-grams is refused (and
   * freed), a bag with them is taken */
  const gchar *const tokens[] = { "<unk>", "<pad>", "x", "y", "x y" };
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (tokens, G_N_ELEMENTS (tokens), &error);
  g_assert_no_error (error);
  const gchar *const names[] = { "xy", "yx", NULL };
  for (gint layers = 0; layers <= 1; layers++) {
    for (gint n = 1; n <= 3; n++) {
      SeqnnConfig config;
      seqnn_config_init_default (&config);
      config.num_layers = layers;
      config.head = layers == 0 ? SEQNN_HEAD_MEAN : SEQNN_HEAD_LAST;
      config.embed_dim = 4;
      config.hidden_dim = 4;
      config.num_classes = 2;
      config.vocab_size = (gint) seqnn_vocab_get_size (vocab);
      SeqnnModel *model = seqnn_model_new (&config, &error);
      g_assert_no_error (error);
      SeqnnTokenizerConfig tok;
      seqnn_tokenizer_config_init_default (&tok);
      tok.word_ngrams = n;
      SeqnnClassifier *classifier = seqnn_classifier_new (model, vocab, &tok, names, &error);
      if (layers == 0 || n == 1) {
        g_assert_no_error (error);
        g_assert_nonnull (classifier);
        g_assert_cmpint (seqnn_classifier_get_tokenizer (classifier)->word_ngrams, ==, n);
        seqnn_classifier_free (classifier);
      } else {
        g_assert_null (classifier);
        g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull (strstr (error->message, "needs a bag of embeddings (layers=0)"));
        g_clear_error (&error);
      }
    }
  }
  /* the default tokenizer is words only */
  SeqnnTokenizerConfig def;
  seqnn_tokenizer_config_init_default (&def);
  g_assert_cmpint (def.word_ngrams, ==, 1);
  seqnn_vocab_unref (vocab);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/ngrams/vocab", test_vocab);
  g_test_add_func ("/train/ngrams/builder", test_builder);
  g_test_add_func ("/train/ngrams/dataset", test_dataset);
  g_test_add_func ("/train/ngrams/counting", test_counting);
  g_test_add_func ("/train/ngrams/word-order", test_word_order);
  g_test_add_func ("/train/ngrams/roundtrip", test_roundtrip);
  g_test_add_func ("/train/ngrams/refusals", test_refusals);
  gint status = g_test_run ();
  for (guint i = 0; i < G_N_ELEMENTS (order_fits); i++)
    g_clear_pointer (&order_fits[i], seqnn_classifier_free);
  return status;
}
