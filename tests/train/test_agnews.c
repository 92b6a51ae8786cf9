/* The lesson on real data: an LSTM classifier (embedding 64, hidden 32,
 * batch 16, Adam 0.001) trained on the first rows of AG News train.csv and
 * evaluated on dev.csv. Skipped when SEQNN_SHARED_DATA is not set.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <seqnn/seqnn.h>

#include <math.h>
#include <stdio.h>

typedef struct {
  SeqnnDataset *dataset;
  SeqnnLabelSet *labels;
  SeqnnTokenizerConfig tokenizer;
  SeqnnTokens *tokens;
  gsize limit;
  guint stride;    /* keep every stride-th record */
  guint64 n_seen;
  const gchar *source;
} Reading;

static gboolean
on_record (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  Reading *r = user_data;
  if (seqnn_dataset_get_size (r->dataset) >= r->limit || r->n_seen++ % r->stride != 0)
    return TRUE;
  gint label = seqnn_label_set_resolve (r->labels, SEQNN_FORMAT_CSV, record, FALSE, r->source, error);
  if (label < 0)
    return FALSE;
  seqnn_tokenize (&r->tokenizer, record->text, record->text_len, r->tokens);
  seqnn_dataset_add (r->dataset, r->tokens, label);
  return TRUE;
}

/* limit rows of an AG News CSV file, every stride-th from the start (the file
 * has runs of one class), read in pieces (never whole). */
static SeqnnDataset *
read_rows (const gchar *path, gsize limit, guint stride, SeqnnLabelSet *labels)
{
  GError *error = NULL;
  Reading r = { seqnn_dataset_new (), labels, { 0 }, seqnn_tokens_new (), limit, stride, 0, path };
  seqnn_tokenizer_config_init_default (&r.tokenizer);
  SeqnnRecordReader *reader = seqnn_record_reader_new (SEQNN_FORMAT_CSV, path);
  FILE *file = fopen (path, "rb");
  g_assert_nonnull (file);
  gchar buf[65536];
  gsize n;
  while (seqnn_dataset_get_size (r.dataset) < limit && (n = fread (buf, 1, sizeof buf, file)) > 0) {
    g_assert_true (seqnn_record_reader_feed (reader, buf, n, on_record, &r, &error));
    g_assert_no_error (error);
  }
  if (seqnn_dataset_get_size (r.dataset) < limit) {
    g_assert_true (seqnn_record_reader_finish (reader, on_record, &r, &error));
    g_assert_no_error (error);
  }
  fclose (file);
  seqnn_record_reader_free (reader);
  seqnn_tokens_free (r.tokens);
  return r.dataset;
}

static gboolean
report (const SeqnnTrainProgress *p, gpointer user_data)
{
  if (p->epoch_end)
    g_test_message ("epoch %d: train loss %.4f accuracy %.4f, validation loss %.4f accuracy %.4f, "
        "%.0f samples/s", p->epoch, p->running_loss, p->running_accuracy, p->validation_loss,
        p->validation_accuracy, p->samples_per_second);
  return TRUE;
}

static void
test_agnews_lesson (void)
{
  const gchar *data_dir = g_getenv ("SEQNN_SHARED_DATA");
  if (data_dir == NULL) {
    g_test_skip ("SEQNN_SHARED_DATA is not set: the AG News data (shared/data/agnews) is needed");
    return;
  }
  gchar *train_path = g_build_filename (data_dir, "agnews", "train.csv", NULL);
  gchar *dev_path = g_build_filename (data_dir, "agnews", "dev.csv", NULL);
  if (!g_file_test (train_path, G_FILE_TEST_EXISTS) || !g_file_test (dev_path, G_FILE_TEST_EXISTS)) {
    g_test_skip ("AG News train.csv/dev.csv not found under SEQNN_SHARED_DATA");
    g_free (dev_path);
    g_free (train_path);
    return;
  }
  gboolean vg = g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
  gsize n_train = vg ? 48 : 20000, n_dev = vg ? 32 : 2000;

  GError *error = NULL;
  SeqnnLabelSet *labels = seqnn_label_set_new_ag_news ();
  /* Under valgrind: few rows, spread over the file so that every class is there. */
  SeqnnDataset *train = read_rows (train_path, n_train, vg ? 40 : 1, labels);
  SeqnnDataset *dev = read_rows (dev_path, n_dev, vg ? 10 : 1, labels);
  g_assert_cmpuint (seqnn_dataset_get_size (train), ==, n_train);
  g_assert_cmpuint (seqnn_dataset_get_size (dev), ==, n_dev);
  SeqnnVocab *vocab = seqnn_dataset_build_vocab (train, 1, 0, &error);
  g_assert_no_error (error);
  seqnn_dataset_apply_vocab (train, vocab);
  seqnn_dataset_apply_vocab (dev, vocab);

  SeqnnConfig config;
  seqnn_config_init_default (&config); /* the lesson's LSTM, 4 classes */
  config.vocab_size = (gint) seqnn_vocab_get_size (vocab);
  SeqnnModel *model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, 1);

  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options); /* batch 16, Adam 0.001 */
  options.epochs = vg ? 1 : 2;
  options.validation_fraction = 0.05;
  options.n_threads = 1;
  options.progress_interval = 0;
  g_assert_true (seqnn_train (model, train, &options, report, NULL, NULL, &error));
  g_assert_no_error (error);

  SeqnnConfusion *confusion = seqnn_confusion_new (4);
  gdouble loss;
  g_assert_true (seqnn_evaluate (model, dev, NULL, 0, 256, 1, &loss, confusion, &error));
  g_assert_no_error (error);
  gdouble accuracy = seqnn_confusion_accuracy (confusion);
  g_test_message ("AG News, %" G_GSIZE_FORMAT " training rows x %d epochs, vocabulary %d: dev loss "
      "%.4f, accuracy %.4f, macro F1 %.4f (F1 World %.3f Sports %.3f Business %.3f Sci/Tech %.3f)",
      n_train, options.epochs, config.vocab_size, loss, accuracy,
      seqnn_confusion_macro_f1 (confusion), seqnn_confusion_f1 (confusion, 0),
      seqnn_confusion_f1 (confusion, 1), seqnn_confusion_f1 (confusion, 2),
      seqnn_confusion_f1 (confusion, 3));
  g_assert_cmpuint (seqnn_confusion_get_count (confusion), ==, n_dev);
  g_assert_true (isfinite (loss));
  if (!vg) {
    /* Well above chance (0.25); the full lesson (60k rows) reaches ~0.85. */
    g_assert_cmpfloat (accuracy, >=, 0.70);
    g_assert_cmpfloat (loss, <, 0.9);
  }

  seqnn_confusion_free (confusion);
  seqnn_model_free (model);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (dev);
  seqnn_dataset_free (train);
  seqnn_label_set_free (labels);
  g_free (dev_path);
  g_free (train_path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/agnews/lesson", test_agnews_lesson);
  return g_test_run ();
}
