/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Datasets: reading files in chunks, provisional ids, vocabulary build and
 * remap, errors and skipped rows; AG News train.csv against the Python figures
 * in tests/fixtures/tokens/agnews_train.txt. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib/gstdio.h>
#include <seqnn/dataset.h>

typedef struct {
  gchar *dir;
  gchar *path;
} TempFile;

/* Thread CPU time in seconds: timings reported on a busy machine stay meaningful. */
static gdouble
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gdouble) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
temp_file_write (TempFile *tf, const gchar *name, const gchar *contents, gssize len)
{
  if (tf->dir == NULL)
    tf->dir = g_dir_make_tmp ("seqnn-dataset-XXXXXX", NULL);
  g_assert_nonnull (tf->dir);
  if (tf->path != NULL) {
    g_remove (tf->path);
    g_free (tf->path);
  }
  tf->path = g_build_filename (tf->dir, name, NULL);
  g_assert_true (g_file_set_contents (tf->path, contents, len, NULL));
}

static void
temp_file_clear (TempFile *tf)
{
  if (tf->path != NULL)
    g_remove (tf->path);
  if (tf->dir != NULL)
    g_rmdir (tf->dir);
  g_free (tf->path);
  g_free (tf->dir);
}

/* The sequence's ids as tokens through vocab, joined by spaces. */
static gchar *
sequence_text (const SeqnnDataset *dataset, const SeqnnVocab *vocab, gsize index, gint *label)
{
  const gint32 *ids;
  gint length;
  seqnn_dataset_get (dataset, index, &ids, &length, label);
  GString *s = g_string_new (NULL);
  for (gint i = 0; i < length; i++)
    g_string_append_printf (s, "%s%s", i > 0 ? " " : "", seqnn_vocab_get_token (vocab, ids[i]));
  return g_string_free (s, FALSE);
}

static void
test_csv_fixture (void)
{
  /* many rows, so that records straddle the 64 KiB reads; a BOM, CRLF,
   * quotes holding line breaks and doubled quotes */
  GString *csv = g_string_new ("\xef\xbb\xbf");
  const guint n_rows = 3000;
  for (guint i = 0; i < n_rows; i++)
    g_string_append_printf (csv, "\"%u\",\"Title %u (Reuters)\",\"Shares of \"\"Acme\"\" rose,\n"
        "again: %s.\"\r\n", i % 4 + 1, i, i % 2 ? "Wall St." : "cafÉ");
  TempFile tf = { 0 };
  temp_file_write (&tf, "mini.csv", csv->str, (gssize) csv->len);
  g_assert_cmpuint (csv->len, >, 3 * 64 * 1024);

  SeqnnDataset *dataset = seqnn_dataset_new ();
  SeqnnLabelSet *labels = seqnn_label_set_new_ag_news ();
  SeqnnReadOptions options;
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_CSV);
  GError *error = NULL;
  guint64 skipped = 99;
  g_assert_false (seqnn_dataset_has_vocab (dataset));
  g_assert_true (seqnn_dataset_read_file (dataset, tf.path, &options, labels, &skipped, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (skipped, ==, 0);
  g_assert_cmpuint (seqnn_dataset_get_size (dataset), ==, n_rows);
  /* title 4 tokens (title, N, (, reuters, )) = 5; description: shares of acme rose , again
   * plus "wall st . ." or "café ." */
  gsize expected_tokens = 0;
  for (guint i = 0; i < n_rows; i++)
    expected_tokens += 5 + 6 + (i % 2 ? 4 : 2);
  g_assert_cmpuint (seqnn_dataset_get_n_tokens (dataset), ==, expected_tokens);

  /* provisional ids are dense indices in order of first appearance */
  const gint32 *ids;
  gint length, label;
  seqnn_dataset_get (dataset, 0, &ids, &length, &label);
  g_assert_cmpint (length, ==, 13);
  g_assert_cmpint (label, ==, 0);
  for (gint i = 0; i < length; i++)
    g_assert_cmpint (ids[i], ==, i);

  SeqnnVocab *vocab = seqnn_dataset_build_vocab (dataset, 1, 0, &error);
  g_assert_no_error (error);
  /* title ( reuters ) shares of acme rose , again . : 3000 each; wall st : 1500; café 1500;
   * and the numbers 0..2999 once each */
  g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, 2 + 14 + n_rows);
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 2), ==, "."); /* 4500 */
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 3), ==, "("); /* 3000, ties by bytes */
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 4), ==, ")");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 5), ==, ",");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 13), ==, "caf\xc3\xa9"); /* 1500 */
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 14), ==, "st");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 16), ==, "0");
  seqnn_dataset_apply_vocab (dataset, vocab);
  g_assert_true (seqnn_dataset_has_vocab (dataset));
  gchar *text = sequence_text (dataset, vocab, 1, &label);
  g_assert_cmpstr (text, ==, "title 1 ( reuters ) shares of acme rose , again wall st . .");
  g_assert_cmpint (label, ==, 1);
  g_free (text);
  text = sequence_text (dataset, vocab, 2998, &label);
  g_assert_cmpstr (text, ==, "title 2998 ( reuters ) shares of acme rose , again caf\xc3\xa9 .");
  g_assert_cmpint (label, ==, 2);
  g_free (text);

  /* new sequences are encoded with the vocabulary; empty ones are kept */
  SeqnnTokens *tokens = seqnn_tokens_new ();
  seqnn_tokenize (NULL, "Acme shares, unseen-word", -1, tokens);
  seqnn_dataset_add (dataset, tokens, 3);
  seqnn_tokenize (NULL, "  ", -1, tokens);
  seqnn_dataset_add (dataset, tokens, -1);
  g_assert_cmpuint (seqnn_dataset_get_size (dataset), ==, n_rows + 2);
  seqnn_dataset_get (dataset, n_rows, &ids, &length, &label);
  g_assert_cmpint (length, ==, 4);
  g_assert_cmpint (ids[0], ==, seqnn_vocab_lookup (vocab, "acme", -1));
  g_assert_cmpint (ids[3], ==, SEQNN_VOCAB_UNK_ID);
  g_assert_cmpint (label, ==, 3);
  seqnn_dataset_get (dataset, n_rows + 1, &ids, &length, &label);
  g_assert_cmpint (length, ==, 0);
  g_assert_cmpint (label, ==, -1);

  /* a second, smaller vocabulary remaps through the tokens */
  SeqnnVocab *small = seqnn_dataset_build_vocab (dataset, 3000, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_vocab_get_size (small), ==, 2 + 11);
  seqnn_dataset_apply_vocab (dataset, small);
  text = sequence_text (dataset, small, 1, NULL);
  g_assert_cmpstr (text, ==, "title <unk> ( reuters ) shares of acme rose , again <unk> <unk> . .");
  g_free (text);

  seqnn_tokens_free (tokens);
  seqnn_vocab_unref (small);
  seqnn_vocab_unref (vocab);
  seqnn_label_set_free (labels);
  seqnn_dataset_free (dataset);
  temp_file_clear (&tf);
  g_string_free (csv, TRUE);
}

static void
test_errors_and_skips (void)
{
  TempFile tf = { 0 };
  const gchar *bad = "1,a,b\n7,out,of range\n,no,label\n2,\"x\"y,z\n3\n4,c,d\n";
  temp_file_write (&tf, "bad.csv", bad, -1);
  SeqnnLabelSet *labels = seqnn_label_set_new_ag_news ();
  SeqnnReadOptions options;
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_CSV);
  GError *error = NULL;
  SeqnnDataset *dataset = seqnn_dataset_new ();
  g_assert_false (seqnn_dataset_read_file (dataset, tf.path, &options, labels, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_assert_cmpstr (error->message, ==, "bad.csv:2: class 7 out of range 1..4");
  g_clear_error (&error);
  seqnn_dataset_free (dataset);

  options.skip_bad_rows = TRUE;
  dataset = seqnn_dataset_new ();
  guint64 skipped = 0;
  g_assert_true (seqnn_dataset_read_file (dataset, tf.path, &options, labels, &skipped, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (skipped, ==, 4);
  g_assert_cmpuint (seqnn_dataset_get_size (dataset), ==, 2);
  seqnn_dataset_free (dataset);

  temp_file_write (&tf, "open.csv", "1,a,b\n2,\"never closed\n\n", -1);
  options.skip_bad_rows = FALSE;
  dataset = seqnn_dataset_new ();
  g_assert_false (seqnn_dataset_read_file (dataset, tf.path, &options, labels, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE);
  g_assert_cmpstr (error->message, ==, "open.csv:2: unterminated quote at the end of the input");
  g_clear_error (&error);
  seqnn_dataset_free (dataset);

  dataset = seqnn_dataset_new ();
  gchar *missing = g_build_filename (tf.dir, "missing.csv", NULL);
  g_assert_false (seqnn_dataset_read_file (dataset, missing, &options, labels, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "missing.csv"));
  g_clear_error (&error);
  g_assert_false (seqnn_dataset_read_file (dataset, tf.path, &options, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (seqnn_dataset_read_file (NULL, tf.path, &options, labels, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (seqnn_dataset_build_vocab (dataset, 0, 0, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_free (missing);
  seqnn_dataset_free (dataset);
  seqnn_dataset_free (NULL);
  seqnn_label_set_free (labels);
  temp_file_clear (&tf);
}

static void
test_other_formats (void)
{
  TempFile tf = { 0 };
  temp_file_write (&tf, "t.tsv", "pos\tGreat <i>movie</i>!\nneg\tBad.\npos\tok\n", -1);
  SeqnnLabelSet *labels = seqnn_label_set_new ();
  SeqnnReadOptions options;
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_TSV);
  g_assert_true (options.grow_labels);
  options.tokenizer.strip_markup = TRUE;
  options.tokenizer.max_tokens = 2;
  GError *error = NULL;
  SeqnnDataset *dataset = seqnn_dataset_new ();
  g_assert_true (seqnn_dataset_read_file (dataset, tf.path, &options, labels, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_label_set_get_n (labels), ==, 2);
  g_assert_cmpstr (seqnn_label_set_get_name (labels, 1), ==, "neg");
  g_assert_cmpuint (seqnn_dataset_get_n_tokens (dataset), ==, 2 + 2 + 1);
  SeqnnVocab *vocab = seqnn_dataset_build_vocab (dataset, 1, 0, &error);
  seqnn_dataset_apply_vocab (dataset, vocab);
  gint label;
  gchar *text = sequence_text (dataset, vocab, 0, &label);
  g_assert_cmpstr (text, ==, "great movie");
  g_assert_cmpint (label, ==, 0);
  g_free (text);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (dataset);

  temp_file_write (&tf, "t.txt", "First line.\n\nSecond line\n", -1);
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_TEXT);
  dataset = seqnn_dataset_new ();
  g_assert_true (seqnn_dataset_read_file (dataset, tf.path, &options, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_dataset_get_size (dataset), ==, 2);
  seqnn_dataset_get (dataset, 1, NULL, NULL, &label);
  g_assert_cmpint (label, ==, -1);
  seqnn_dataset_free (dataset);

  temp_file_write (&tf, "t.ft", "__label__a x y\n__label__b z\n", -1);
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_FASTTEXT);
  options.grow_labels = FALSE;
  dataset = seqnn_dataset_new ();
  g_assert_false (seqnn_dataset_read_file (dataset, tf.path, &options, labels, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_assert_cmpstr (error->message, ==, "t.ft:1: unknown class \"a\"");
  g_clear_error (&error);
  seqnn_dataset_free (dataset);
  seqnn_label_set_free (labels);
  temp_file_clear (&tf);
}

/* A validation file read for a model's classes and vocabulary; labels the
 * training lacks are refused by name. */
static void
test_validation_file (void)
{
  TempFile tf = { 0 };
  const gchar *const classes[] = { "pos", "neg", NULL };
  SeqnnDataset *train = seqnn_dataset_new ();
  SeqnnTokens *tokens = seqnn_tokens_new ();
  seqnn_tokens_append (tokens, "good", -1);
  seqnn_dataset_add (train, tokens, 0);
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_dataset_build_vocab (train, 1, 0, &error);
  g_assert_no_error (error);
  SeqnnFormat format = SEQNN_FORMAT_TEXT;
  g_assert_true (seqnn_format_from_path ("/x/Dev.TSV", &format));
  g_assert_cmpint (format, ==, SEQNN_FORMAT_TSV);
  g_assert_true (seqnn_format_from_path ("d.jsonl", &format));
  g_assert_cmpint (format, ==, SEQNN_FORMAT_JSONL);
  g_assert_false (seqnn_format_from_path ("d.txt", &format));

  SeqnnReadOptions options;
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_TSV);
  temp_file_write (&tf, "dev.tsv", "neg\tgood bad\npos\tgood\n", -1);
  SeqnnDataset *dev = seqnn_dataset_read_validation (tf.path, &options, classes, vocab, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_dataset_get_size (dev), ==, 2);
  g_assert_true (seqnn_dataset_has_vocab (dev));
  gint label;
  gchar *text = sequence_text (dev, vocab, 0, &label);
  g_assert_cmpstr (text, ==, "good <unk>");
  g_assert_cmpint (label, ==, 1);
  g_free (text);
  seqnn_dataset_free (dev);

  temp_file_write (&tf, "dev.tsv", "neg\tx\nHealth\ty\npos\tz\nTravel\tw\nHealth\tv\n", -1);
  g_assert_null (seqnn_dataset_read_validation (tf.path, &options, classes, vocab, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "dev.tsv: labels the training data lacks: \"Health\", \"Travel\"");
  g_clear_error (&error);
  /* JSON Lines, numbers as 1-based classes: 3 is beyond the two */
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_JSONL);
  temp_file_write (&tf, "dev.jsonl", "{\"label\": 2, \"text\": \"good\"}\n{\"label\": 3, \"text\": \"x\"}\n", -1);
  g_assert_null (seqnn_dataset_read_validation (tf.path, &options, classes, vocab, &error));
  g_assert_cmpstr (error->message, ==, "dev.jsonl: labels the training data lacks: \"3\"");
  g_clear_error (&error);

  /* a CSV with a header through the read options' columns */
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_CSV);
  options.columns.label_column = "y";
  options.columns.text_columns = "body";
  temp_file_write (&tf, "dev.csv", "body,y\ngood good,neg\n", -1);
  dev = seqnn_dataset_read_validation (tf.path, &options, classes, vocab, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_dataset_get_size (dev), ==, 1);
  text = sequence_text (dev, vocab, 0, &label);
  g_assert_cmpstr (text, ==, "good good");
  g_assert_cmpint (label, ==, 1);
  g_free (text);
  seqnn_dataset_free (dev);
  options.columns.label_column = "label";
  g_assert_null (seqnn_dataset_read_validation (tf.path, &options, classes, vocab, &error));
  g_assert_cmpstr (error->message, ==,
      "dev.csv:1: the header has no column \"label\" (its columns: \"body\", \"y\")");
  g_clear_error (&error);

  seqnn_tokens_free (tokens);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (train);
  temp_file_clear (&tf);
}

/* "key value" lines of the fixture. */
static GHashTable *
read_figures (void)
{
  gchar *path = g_build_filename (SEQNN_TEST_FIXTURES, "tokens", "agnews_train.txt", NULL);
  gchar *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  GHashTable *figures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gchar **lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    if (lines[i][0] == '#' || lines[i][0] == '\0')
      continue;
    gchar **kv = g_strsplit (lines[i], " ", 2);
    g_assert_nonnull (kv[1]);
    g_hash_table_insert (figures, g_strdup (kv[0]), g_strdup (kv[1]));
    g_strfreev (kv);
  }
  g_strfreev (lines);
  g_free (contents);
  g_free (path);
  return figures;
}

static guint64
figure (GHashTable *figures, const gchar *key)
{
  const gchar *value = g_hash_table_lookup (figures, key);
  g_assert_nonnull (value);
  return g_ascii_strtoull (value, NULL, 10);
}

static void
test_agnews_train (void)
{
  const gchar *data = g_getenv ("SEQNN_SHARED_DATA");
  gchar *csv = data != NULL ? g_build_filename (data, "agnews", "train.csv", NULL) : NULL;
  if (csv == NULL || !g_file_test (csv, G_FILE_TEST_IS_REGULAR)) {
    g_test_skip ("SEQNN_SHARED_DATA/agnews/train.csv not found: AG News figures not checked");
    g_free (csv);
    return;
  }
  GHashTable *figures = read_figures ();
  SeqnnLabelSet *labels = seqnn_label_set_new_ag_news ();
  SeqnnReadOptions options;
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_CSV);
  SeqnnDataset *dataset = seqnn_dataset_new ();
  GError *error = NULL;

  if (g_getenv ("SEQNN_UNDER_VALGRIND") != NULL) {
    /* the first 200 rows only, through a temporary copy */
    FILE *in = fopen (csv, "rb");
    g_assert_nonnull (in);
    GString *head = g_string_new (NULL);
    gchar line[8192];
    for (guint rows = 0; rows < 200 && fgets (line, sizeof line, in) != NULL; rows++)
      g_string_append (head, line);
    fclose (in);
    TempFile tf = { 0 };
    temp_file_write (&tf, "head.csv", head->str, (gssize) head->len);
    g_assert_true (seqnn_dataset_read_file (dataset, tf.path, &options, labels, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (seqnn_dataset_get_size (dataset), ==, 200);
    g_assert_cmpuint (seqnn_dataset_get_n_tokens (dataset), ==,
        figure (figures, "tokens_first_200_rows"));
    temp_file_clear (&tf);
    g_string_free (head, TRUE);
  } else {
    gdouble t0 = cpu_seconds ();
    g_assert_true (seqnn_dataset_read_file (dataset, csv, &options, labels, NULL, &error));
    g_assert_no_error (error);
    gdouble t1 = cpu_seconds ();
    SeqnnVocab *vocab = seqnn_dataset_build_vocab (dataset, 1, 0, &error);
    g_assert_no_error (error);
    seqnn_dataset_apply_vocab (dataset, vocab);
    gdouble t2 = cpu_seconds ();
    g_test_message ("train.csv: read and tokenized in %.3f s, vocabulary built and applied in %.3f s"
        " (CPU time)", t1 - t0, t2 - t1);

    g_assert_cmpuint (seqnn_dataset_get_size (dataset), ==, figure (figures, "rows"));
    g_assert_cmpuint (seqnn_dataset_get_n_tokens (dataset), ==, figure (figures, "tokens"));
    g_assert_cmpuint (seqnn_vocab_get_size (vocab), ==, figure (figures, "distinct") + 2);
    SeqnnVocab *min5 = seqnn_dataset_build_vocab (dataset, 5, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (seqnn_vocab_get_size (min5), ==, figure (figures, "vocab_min_freq_5"));
    seqnn_vocab_unref (min5);

    /* vocabulary order: the top 1000 hashed as the fixture did */
    guint64 h = 0xcbf29ce484222325ull;
    for (gint32 id = 2; id < 1002; id++) {
      if (id > 2)
        h = (h ^ 0x1f) * 0x100000001b3ull;
      for (const guchar *p = (const guchar *) seqnn_vocab_get_token (vocab, id); *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    }
    gchar *hex = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", h);
    g_assert_cmpstr (hex, ==, g_hash_table_lookup (figures, "top_1000_hash"));
    g_free (hex);
    gchar **top = g_strsplit (g_hash_table_lookup (figures, "top_10"), " ", -1);
    for (guint i = 0; top[i] != NULL; i++)
      g_assert_cmpstr (seqnn_vocab_get_token (vocab, (gint32) i + 2), ==, top[i]);
    g_strfreev (top);

    /* class histogram, and ids within the vocabulary */
    guint64 per_class[4] = { 0 };
    gsize n = seqnn_dataset_get_size (dataset), vsize = seqnn_vocab_get_size (vocab);
    for (gsize i = 0; i < n; i++) {
      const gint32 *ids;
      gint length, label;
      seqnn_dataset_get (dataset, i, &ids, &length, &label);
      g_assert_cmpint (label, >=, 0);
      g_assert_cmpint (label, <, 4);
      per_class[label]++;
      for (gint k = 0; k < length; k++)
        g_assert_true (ids[k] >= 2 && (gsize) ids[k] < vsize);
    }
    gchar *hist = g_strdup_printf ("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
        " %" G_GUINT64_FORMAT, per_class[0], per_class[1], per_class[2], per_class[3]);
    g_assert_cmpstr (hist, ==, g_hash_table_lookup (figures, "labels"));
    g_free (hist);
    seqnn_vocab_unref (vocab);
  }
  seqnn_dataset_free (dataset);
  seqnn_label_set_free (labels);
  g_hash_table_unref (figures);
  g_free (csv);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/dataset/csv-fixture", test_csv_fixture);
  g_test_add_func ("/text/dataset/errors-and-skips", test_errors_and_skips);
  g_test_add_func ("/text/dataset/other-formats", test_other_formats);
  g_test_add_func ("/text/dataset/validation-file", test_validation_file);
  g_test_add_func ("/text/dataset/agnews-train", test_agnews_train);
  return g_test_run ();
}
