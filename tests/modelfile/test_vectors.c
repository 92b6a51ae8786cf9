/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pretrained word vectors: GloVe and word2vec text files the test writes
 * itself; found rows copied, others kept, malformed files rejected naming the
 * line with the embedding untouched. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "seqnn/seqnn.h"

typedef struct {
  gchar *dir;
  gchar *path;
  SeqnnModel *model;
  SeqnnVocab *vocab;
  gfloat *before; /* the embedding before loading */
} Fixture;

#define E 3

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  f->dir = g_dir_make_tmp ("seqnn-vectors-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "vectors.txt", NULL);
  const gchar *tokens[] = { "<unk>", "<pad>", "the", "cat", "caf\xc3\xa9", "sat" };
  f->vocab = seqnn_vocab_new_from_tokens (tokens, G_N_ELEMENTS (tokens), &error);
  g_assert_no_error (error);
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  config.vocab_size = G_N_ELEMENTS (tokens);
  config.embed_dim = E;
  config.hidden_dim = 2;
  config.padding_idx = 1;
  f->model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (f->model, 5);
  const SeqnnTensorInfo *info = seqnn_model_find_tensor (f->model, "embedding.weight");
  f->before = g_memdup2 (seqnn_model_peek_params (f->model, NULL) + info->offset, info->numel * sizeof (gfloat));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
  seqnn_model_free (f->model);
  seqnn_vocab_unref (f->vocab);
  g_free (f->before);
}

static const gfloat *
row (Fixture *f, gint id)
{
  const SeqnnTensorInfo *info = seqnn_model_find_tensor (f->model, "embedding.weight");
  return seqnn_model_peek_params (f->model, NULL) + info->offset + (gsize) id * E;
}

static void
write_vectors (Fixture *f, const gchar *text)
{
  GError *error = NULL;
  g_file_set_contents (f->path, text, -1, &error);
  g_assert_no_error (error);
}

static void
assert_row (Fixture *f, gint id, gfloat a, gfloat b, gfloat c)
{
  const gfloat *r = row (f, id);
  g_assert_cmpfloat (r[0], ==, a);
  g_assert_cmpfloat (r[1], ==, b);
  g_assert_cmpfloat (r[2], ==, c);
}

static void
assert_row_unchanged (Fixture *f, gint id)
{
  g_assert_true (memcmp (row (f, id), f->before + (gsize) id * E, E * sizeof (gfloat)) == 0);
}

static void
test_glove (Fixture *f, gconstpointer data)
{
  write_vectors (f,
      "the 0.5 -1 2e-3\n"
      "dog 9 9 9\n"             /* not in the vocabulary */
      "caf\xc3\xa9 1 2 3\r\n"   /* CRLF, UTF-8 word */
      "<pad> 7 7 7\n"           /* the padding row stays zero */
      "sat\t-0.25\t0\t1\n"
      "the 0.75 1 1\n"          /* a later duplicate wins */
      "\n");
  gsize n_found = 0;
  GError *error = NULL;
  g_assert_true (seqnn_model_load_word_vectors (f->model, f->vocab, f->path, &n_found, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_found, ==, 3);
  assert_row (f, 2, 0.75f, 1, 1);
  assert_row (f, 4, 1, 2, 3);
  assert_row (f, 5, -0.25f, 0, 1);
  assert_row (f, 1, 0, 0, 0);
  assert_row_unchanged (f, 0);
  assert_row_unchanged (f, 3);
  /* n_found may be NULL */
  g_assert_true (seqnn_model_load_word_vectors (f->model, f->vocab, f->path, NULL, &error));
  g_assert_no_error (error);
}

static void
test_word2vec (Fixture *f, gconstpointer data)
{
  write_vectors (f, "2 3\ncat 1 1 1\nbird 2 2 2\n");
  gsize n_found = 99;
  GError *error = NULL;
  g_assert_true (seqnn_model_load_word_vectors (f->model, f->vocab, f->path, &n_found, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_found, ==, 1);
  assert_row (f, 3, 1, 1, 1);
  assert_row_unchanged (f, 2);
}

static void
assert_fails (Fixture *f, const gchar *text, gint code, const gchar *expect)
{
  write_vectors (f, text);
  GError *error = NULL;
  gsize n_found = 12345;
  g_assert_false (seqnn_model_load_word_vectors (f->model, f->vocab, f->path, &n_found, &error));
  g_assert_error (error, SEQNN_ERROR, code);
  if (strstr (error->message, expect) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", error->message, expect);
  g_error_free (error);
  g_assert_cmpuint (n_found, ==, 12345);
  for (gint id = 0; id < 6; id++)
    assert_row_unchanged (f, id);
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  assert_fails (f, "the 1 2\n", SEQNN_ERROR_PARSE, "vectors.txt:1: vectors have 2 dimensions, the embedding has 3");
  assert_fails (f, "the 1 2 3\ncat 1 2\n", SEQNN_ERROR_PARSE, "vectors.txt:2: expected a word and 3 values, found 3 fields");
  assert_fails (f, "the 1 2 3\ncat 1 2 3 4\n", SEQNN_ERROR_PARSE, "vectors.txt:2:");
  assert_fails (f, "the 1 2 3\n\ncat 1 x 3\n", SEQNN_ERROR_PARSE, "vectors.txt:3: value 2 \"x\" is not a finite number");
  assert_fails (f, "the 1 nan 3\n", SEQNN_ERROR_PARSE, "vectors.txt:1: value 2 \"nan\"");
  assert_fails (f, "the 1 1e39 3\n", SEQNN_ERROR_PARSE, "not a finite number");
  assert_fails (f, "the 1 2 3abc\n", SEQNN_ERROR_PARSE, "value 3");
  assert_fails (f, "3 3\nthe 1 2 3\ncat 1 2 3\n", SEQNN_ERROR_PARSE, "header announces 3 vectors, the file holds 2");
  assert_fails (f, "2 50\nthe 1 2 3\n", SEQNN_ERROR_PARSE, "vectors.txt:1: word2vec header says 50 dimensions");
  assert_fails (f, "", SEQNN_ERROR_PARSE, "no vectors");
  assert_fails (f, "the 1 2 \xff\n", SEQNN_ERROR_PARSE, "vectors.txt:1: not text");
  assert_fails (f, "  \n\t\n", SEQNN_ERROR_PARSE, "no vectors");
  g_unlink (f->path);
  GError *error = NULL;
  g_assert_false (seqnn_model_load_word_vectors (f->model, f->vocab, f->path, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "vectors.txt"));
  g_clear_error (&error);
  /* a vocabulary of the wrong size */
  const gchar *tokens[] = { "<unk>", "<pad>" };
  SeqnnVocab *small = seqnn_vocab_new_from_tokens (tokens, 2, &error);
  g_assert_no_error (error);
  write_vectors (f, "the 1 2 3\n");
  g_assert_false (seqnn_model_load_word_vectors (f->model, small, f->path, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_vocab_unref (small);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/vectors/glove", Fixture, NULL, fixture_setup, test_glove, fixture_teardown);
  g_test_add ("/vectors/word2vec", Fixture, NULL, fixture_setup, test_word2vec, fixture_teardown);
  g_test_add ("/vectors/errors", Fixture, NULL, fixture_setup, test_errors, fixture_teardown);
  return g_test_run ();
}
