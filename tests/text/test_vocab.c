/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Vocabulary: construction, ordering (frequency, then bytes), min_freq,
 * max_size, lookups, unknowns, encoding, and the builder's dense indices. */
#include <string.h>
#include <seqnn/text.h>

static void
test_from_tokens (void)
{
  const gchar *tokens[] = { "<unk>", "<pad>", "the", "cat", "ελληνικά" };
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (tokens, G_N_ELEMENTS (tokens), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, 5);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "<unk>", -1), ==, SEQNN_VOCAB_UNK_ID);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "<pad>", -1), ==, SEQNN_VOCAB_PAD_ID);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "the", -1), ==, 2);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "cat", -1), ==, 3);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "ελληνικά", -1), ==, 4);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "cats", 3), ==, 3); /* by length */
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "cats", -1), ==, SEQNN_VOCAB_UNK_ID);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "", -1), ==, SEQNN_VOCAB_UNK_ID);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "th", -1), ==, SEQNN_VOCAB_UNK_ID);
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 3), ==, "cat");
  g_assert_null (seqnn_vocab_get_token (vocab, 5));
  g_assert_null (seqnn_vocab_get_token (vocab, -1));

  SeqnnVocab *ref = seqnn_vocab_ref (vocab);
  g_assert_true (ref == vocab);
  seqnn_vocab_unref (ref);
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, 5);

  SeqnnTokens *toks = seqnn_tokens_new ();
  seqnn_tokenize (NULL, "The cat, the dog", -1, toks);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  gint32 first = 77;
  g_array_append_val (ids, first);
  seqnn_vocab_encode (vocab, toks, ids); /* appends */
  gint32 expected[] = { 77, 2, 3, 0, 2, 0 };
  g_assert_cmpmem (ids->data, ids->len * sizeof (gint32), expected, sizeof expected);
  g_array_unref (ids);
  seqnn_tokens_free (toks);
  seqnn_vocab_unref (vocab);
  seqnn_vocab_unref (NULL);
}

static void
check_invalid (const gchar *const *tokens, gsize n, const gchar *fragment)
{
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (tokens, n, &error);
  g_assert_null (vocab);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, fragment));
  g_error_free (error);
}

static void
test_from_tokens_invalid (void)
{
  const gchar *no_specials[] = { "a", "b" };
  const gchar *swapped[] = { "<pad>", "<unk>" };
  const gchar *dup[] = { "<unk>", "<pad>", "a", "b", "a" };
  const gchar *dup_special[] = { "<unk>", "<pad>", "<unk>" };
  const gchar *invalid[] = { "<unk>", "<pad>", "ok", "bad\xff" };
  const gchar *null_entry[] = { "<unk>", "<pad>", NULL };
  check_invalid (no_specials, 2, "<unk>");
  check_invalid (swapped, 2, "<unk>");
  check_invalid (dup, 5, "duplicate");
  check_invalid (dup_special, 3, "duplicate");
  check_invalid (invalid, 4, "UTF-8");
  check_invalid (null_entry, 3, "NULL");
  check_invalid (no_specials, 1, "at least");
  check_invalid (NULL, 0, "at least");
}

static void
test_builder_ordering (void)
{
  SeqnnVocabBuilder *b = seqnn_vocab_builder_new ();
  /* counts: the 5, b 3, a 3, c 3, é 3 (bytes C3 A9 sort after ASCII), z 1, <unk> 9 (dropped) */
  seqnn_vocab_builder_add (b, "the", -1, 5);
  seqnn_vocab_builder_add (b, "z", -1, 1);
  seqnn_vocab_builder_add (b, "\xc3\xa9", -1, 3);
  seqnn_vocab_builder_add (b, "c", -1, 2);
  seqnn_vocab_builder_add (b, "c", -1, 1);
  seqnn_vocab_builder_add (b, "b", -1, 3);
  seqnn_vocab_builder_add (b, "ab", 1, 3); /* "a" */
  seqnn_vocab_builder_add (b, "<unk>", -1, 9);
  seqnn_vocab_builder_add (b, "aa", -1, 3); /* prefix ties: "a" < "aa" < "b" */
  g_assert_cmpuint (seqnn_vocab_builder_get_n (b), ==, 8);
  g_assert_cmpuint (seqnn_vocab_builder_intern (b, "c", -1, 0), ==, 3);
  g_assert_cmpstr (seqnn_vocab_builder_get_token (b, 3), ==, "c");
  g_assert_cmpuint (seqnn_vocab_builder_get_count (b, 3), ==, 3);

  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_vocab_builder_build (b, 1, 0, &error);
  g_assert_no_error (error);
  const gchar *expected[] = { "<unk>", "<pad>", "the", "a", "aa", "b", "c", "\xc3\xa9", "z" };
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++) {
    g_assert_cmpstr (seqnn_vocab_get_token (vocab, (gint32) i), ==, expected[i]);
    g_assert_cmpint (seqnn_vocab_lookup (vocab, expected[i], -1), ==, (gint32) i);
  }
  seqnn_vocab_unref (vocab);

  /* min_freq 3 drops z; max_size 5 keeps the specials and the first three */
  vocab = seqnn_vocab_builder_build (b, 3, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, 8);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "z", -1), ==, SEQNN_VOCAB_UNK_ID);
  seqnn_vocab_unref (vocab);
  vocab = seqnn_vocab_builder_build (b, 1, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, 5);
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 4), ==, "aa");
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "b", -1), ==, SEQNN_VOCAB_UNK_ID);
  seqnn_vocab_unref (vocab);
  vocab = seqnn_vocab_builder_build (b, 100, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, 2);
  seqnn_vocab_unref (vocab);

  g_assert_null (seqnn_vocab_builder_build (b, 0, 0, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (seqnn_vocab_builder_build (b, 1, 1, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (seqnn_vocab_builder_build (NULL, 1, 0, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_vocab_builder_free (b);
  seqnn_vocab_builder_free (NULL);
}

static void
test_builder_tokens_and_invalid (void)
{
  SeqnnVocabBuilder *b = seqnn_vocab_builder_new ();
  SeqnnTokens *toks = seqnn_tokens_new ();
  seqnn_tokenize (NULL, "a b a c a b", -1, toks);
  seqnn_vocab_builder_add_tokens (b, toks);
  seqnn_vocab_builder_add (b, "x\xff", -1, 2); /* stored as x U+FFFD */
  g_assert_cmpuint (seqnn_vocab_builder_get_n (b), ==, 4);
  g_assert_cmpstr (seqnn_vocab_builder_get_token (b, 3), ==, "x\xef\xbf\xbd");
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_vocab_builder_build (b, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "a", -1), ==, 2);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "b", -1), ==, 3);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "x\xef\xbf\xbd", -1), ==, 4);
  g_assert_cmpint (seqnn_vocab_lookup (vocab, "c", -1), ==, 5);
  seqnn_vocab_unref (vocab);
  seqnn_tokens_free (toks);
  seqnn_vocab_builder_free (b);
}

/* Many tokens: the table grows and rehashes; every token keeps its id. */
static void
test_many_tokens (void)
{
  const guint n = g_getenv ("SEQNN_UNDER_VALGRIND") != NULL ? 5000 : 100000;
  SeqnnVocabBuilder *b = seqnn_vocab_builder_new ();
  for (guint i = 0; i < n; i++) {
    gchar token[32];
    g_snprintf (token, sizeof token, "tok%u", i);
    /* counts n - i: ids follow i */
    g_assert_cmpuint (seqnn_vocab_builder_intern (b, token, -1, n - i), ==, i);
  }
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_vocab_builder_build (b, 1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, n + 2);
  for (guint i = 0; i < n; i++) {
    gchar token[32];
    g_snprintf (token, sizeof token, "tok%u", i);
    g_assert_cmpint (seqnn_vocab_lookup (vocab, token, -1), ==, (gint32) i + 2);
    g_snprintf (token, sizeof token, "unk%u", i);
    g_assert_cmpint (seqnn_vocab_lookup (vocab, token, -1), ==, SEQNN_VOCAB_UNK_ID);
  }
  seqnn_vocab_unref (vocab);
  seqnn_vocab_builder_free (b);
}

/* An empty token list appends nothing, also to an array that has never held
 * an element (its data pointer is NULL: UBSan caught NULL + 0 here). */
static void
test_encode_empty (void)
{
  static const gchar *const words[] = { SEQNN_VOCAB_UNK, SEQNN_VOCAB_PAD, "a" };
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (words, G_N_ELEMENTS (words), NULL);
  SeqnnTokens *toks = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  seqnn_vocab_encode (vocab, toks, ids);
  g_assert_cmpuint (ids->len, ==, 0);
  seqnn_tokens_append (toks, "a", -1);
  seqnn_vocab_encode (vocab, toks, ids);
  seqnn_tokens_clear (toks);
  seqnn_vocab_encode (vocab, toks, ids);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 2);
  g_array_unref (ids);
  seqnn_tokens_free (toks);
  seqnn_vocab_unref (vocab);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/vocab/from-tokens", test_from_tokens);
  g_test_add_func ("/text/vocab/from-tokens-invalid", test_from_tokens_invalid);
  g_test_add_func ("/text/vocab/builder-ordering", test_builder_ordering);
  g_test_add_func ("/text/vocab/builder-tokens-invalid", test_builder_tokens_and_invalid);
  g_test_add_func ("/text/vocab/many-tokens", test_many_tokens);
  g_test_add_func ("/text/vocab/encode-empty", test_encode_empty);
  return g_test_run ();
}
