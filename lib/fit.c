/* libseqnn: a classifier fitted to a labelled dataset in one call (see seqnn/fit.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/fit.h"
#include "trainstate.h"
#include "seqnn/stream.h"
#include "seqnn/autotune.h"
#include "streamtrain.h"

#include <math.h>
#include <string.h>

void
seqnn_fit_options_init_default (SeqnnFitOptions *options)
{
  g_return_if_fail (options != NULL);
  memset (options, 0, sizeof (*options));
  seqnn_config_init_default (&options->model);
  seqnn_train_options_init_default (&options->train);
  options->min_freq = 1;
  options->max_vocab = 0;
  seqnn_tokenizer_config_init_default (&options->tokenizer);
  seqnn_read_options_init_default (&options->validation_read, SEQNN_FORMAT_CSV);
  options->stream.min_cue_tokens = 4;
  options->stream.max_cue_tokens = 10;
  options->stream.window = 64;
}

/* Stream training's architecture: unidirectional, head last. */
static gboolean
check_stream_config (const SeqnnConfig *config, gboolean from_init, GError **error)
{
  if (config->num_layers == 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "stream training needs a recurrent layer (the state carried from cue to cue); %s has "
        "none (layers=0)", from_init ? "the model to continue from" : "this one");
    return FALSE;
  }
  if (!config->bidirectional && config->head == SEQNN_HEAD_LAST)
    return TRUE;
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
      "stream training needs a unidirectional model with head last (the class is read from the "
      "state at each cue's end, and a reverse direction would see the cues to come); %s is %s%s%s",
      from_init ? "the model to continue from" : "this one",
      config->bidirectional ? "bidirectional" : "",
      config->bidirectional && config->head != SEQNN_HEAD_LAST ? ", " : "",
      config->head != SEQNN_HEAD_LAST ? (config->head == SEQNN_HEAD_MAX ? "head max" : "head mean") : "");
  return FALSE;
}

/* One fit: what the checkpoints and the final classifier are made of. */
typedef struct {
  const SeqnnFitOptions *options;
  gsize n_records;
  SeqnnVocab *vocab;
  SeqnnTokenizerConfig tokenizer;
  gchar **labels;
  gdouble final_accuracy;        /* of the last epoch's report (early stopping: the best's) */
  gdouble final_validation_accuracy;
  gint epochs_run;
  gint best_epoch;               /* 0: none */
} Fit;

static void
set_metadata (const Fit *fit, SeqnnClassifier *classifier, guint64 samples_seen, gboolean final)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  gchar *date = seqnn_train_date ();

  if (fit->options->command != NULL)
    seqnn_classifier_set_metadata (classifier, "train.command", fit->options->command);
  g_snprintf (buf, sizeof buf, "%" G_GSIZE_FORMAT, fit->n_records);
  seqnn_classifier_set_metadata (classifier, "train.samples", buf);
  g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, samples_seen);
  seqnn_classifier_set_metadata (classifier, "train.samples_seen", buf);
  g_snprintf (buf, sizeof buf, "%d", fit->options->train.epochs);
  seqnn_classifier_set_metadata (classifier, "train.epochs", buf);
  seqnn_classifier_set_metadata (classifier, "train.date", date);
  seqnn_classifier_set_metadata (classifier, "train.complete", final ? "true" : "false");
  if (fit->options->stream_training) {
    gchar *text = g_strdup_printf ("%d-%d tokens per cue, windows of %d tokens, %d streams",
        fit->options->stream.min_cue_tokens, fit->options->stream.max_cue_tokens,
        fit->options->stream.window, fit->options->train.batch_size);
    seqnn_classifier_set_metadata (classifier, "train.stream", text);
    g_free (text);
  }
  if (final && fit->options->train.patience > 0 && fit->best_epoch > 0) {
    g_snprintf (buf, sizeof buf, "%d", fit->best_epoch);
    seqnn_classifier_set_metadata (classifier, "train.best_epoch", buf);
    g_snprintf (buf, sizeof buf, "%d", fit->epochs_run);
    seqnn_classifier_set_metadata (classifier, "train.epochs_run", buf);
  }
  if (final) {
    seqnn_classifier_set_metadata (classifier, "train.accuracy",
        g_ascii_formatd (buf, sizeof buf, "%.6f", fit->final_accuracy));
    if (!isnan (fit->final_validation_accuracy))
      seqnn_classifier_set_metadata (classifier, "train.validation_accuracy",
          g_ascii_formatd (buf, sizeof buf, "%.6f", fit->final_validation_accuracy));
  }
  g_free (date);
}

/* Takes model (also on failure). */
static SeqnnClassifier *
make_classifier (const Fit *fit, SeqnnModel *model, GError **error)
{
  return seqnn_classifier_new (model, fit->vocab, &fit->tokenizer,
      (const gchar *const *) fit->labels, error);
}

static gboolean
on_progress (const SeqnnTrainProgress *p, gpointer user_data)
{
  Fit *fit = user_data;

  /* with early stopping the model written is the best epoch's: its figures */
  gboolean keep = fit->options->train.patience <= 0 || p->best_epoch == p->epoch;
  if (p->epoch_end) {
    fit->epochs_run = p->epoch;
    fit->best_epoch = p->best_epoch;
  }
  if (p->epoch_end && keep) {
    fit->final_accuracy = p->running_accuracy;
    fit->final_validation_accuracy = p->validation_accuracy;
  }
  if (fit->options->progress == NULL)
    return TRUE;
  return fit->options->progress (p, fit->options->user_data);
}

static gboolean
on_checkpoint (const SeqnnModel *model, const SeqnnTrainProgress *p, gpointer user_data,
    GError **error)
{
  Fit *fit = user_data;
  SeqnnClassifier *classifier;
  gboolean ok;

  if (fit->options->checkpoint_path == NULL)
    return TRUE;
  classifier = make_classifier (fit, seqnn_model_copy (model), error);
  if (classifier == NULL)
    return FALSE;
  if (fit->options->stream_training) /* the architecture was checked before training */
    seqnn_classifier_set_stream (classifier, TRUE, NULL);
  set_metadata (fit, classifier, p->samples_seen, FALSE);
  ok = seqnn_classifier_save (classifier, fit->options->checkpoint_path, error);
  seqnn_classifier_free (classifier);
  if (!ok)
    g_prefix_error (error, "checkpoint not written: ");
  return ok;
}

/* Continuing: the model's vocabulary, labels, tokenizer and a copy of its weights. */
static SeqnnModel *
prepare_from_init (Fit *fit)
{
  const SeqnnClassifier *init = fit->options->init;
  guint n_labels = seqnn_classifier_get_n_labels (init);

  fit->vocab = seqnn_vocab_ref (seqnn_classifier_get_vocab (init));
  fit->labels = g_new0 (gchar *, n_labels + 1);
  for (guint i = 0; i < n_labels; i++)
    fit->labels[i] = g_strdup (seqnn_classifier_get_label (init, (gint) i));
  fit->tokenizer = *seqnn_classifier_get_tokenizer (init);
  if (fit->options->tokenizer.max_tokens > 0)
    fit->tokenizer.max_tokens = fit->options->tokenizer.max_tokens;
  return seqnn_model_copy (seqnn_classifier_peek_model (init));
}

/* The words, and the word n-grams the options ask for, of the data. */
static SeqnnVocab *
vocab_of_data (SeqnnDataset *dataset, const SeqnnFitOptions *options, GError **error)
{
  gint word_ngrams = options->tokenizer.word_ngrams;

  if (!seqnn_dataset_count_ngrams (dataset, word_ngrams, error))
    return NULL;
  return seqnn_dataset_build_vocab_ngrams (dataset, options->min_freq, options->max_vocab,
      word_ngrams, error);
}

/* From scratch: the vocabulary of the data and a freshly initialised network. */
static SeqnnModel *
prepare_new (Fit *fit, SeqnnDataset *dataset, const SeqnnLabelSet *labels, GError **error)
{
  const SeqnnFitOptions *options = fit->options;
  guint n_labels = labels != NULL ? seqnn_label_set_get_n (labels) : 0;
  SeqnnConfig config = options->model;
  SeqnnModel *model;

  if (n_labels < 2) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "all %" G_GSIZE_FORMAT " records have the same label '%s': a classifier needs at "
        "least two classes in the training data", fit->n_records,
        n_labels > 0 ? seqnn_label_set_get_name (labels, 0) : "");
    return NULL;
  }
  fit->labels = seqnn_label_set_to_strv (labels);
  fit->tokenizer = options->tokenizer;
  fit->vocab = vocab_of_data (dataset, options, error);
  if (fit->vocab == NULL) {
    g_prefix_error (error, "cannot build the vocabulary (min-freq %" G_GUINT64_FORMAT
        ", max-vocab %" G_GSIZE_FORMAT "): ", options->min_freq, options->max_vocab);
    return NULL;
  }
  config.vocab_size = (gint) seqnn_vocab_get_size (fit->vocab);
  config.num_classes = (gint) n_labels;
  model = seqnn_model_new (&config, error);
  if (model == NULL) {
    g_prefix_error (error, "invalid network settings: ");
    return NULL;
  }
  seqnn_model_init_params (model, options->train.seed);
  return model;
}

static gboolean
load_vectors (SeqnnModel *model, const Fit *fit, GError **error)
{
  const gchar *path = fit->options->embeddings;

  if (path == NULL || *path == '\0')
    return TRUE;
  if (seqnn_model_load_word_vectors (model, fit->vocab, path, NULL, error))
    return TRUE;
  g_prefix_error (error, "cannot use the word vectors: ");
  return FALSE;
}

/* The validation file, read for the fit's classes and vocabulary. */
static SeqnnDataset *
read_validation (const Fit *fit, GError **error)
{
  SeqnnReadOptions read = fit->options->validation_read;
  SeqnnDataset *validation;

  read.tokenizer = fit->tokenizer;
  validation = seqnn_dataset_read_validation (fit->options->validation_path, &read,
      (const gchar *const *) fit->labels, fit->vocab, error);
  if (validation == NULL)
    g_prefix_error (error, "cannot use the validation file %s: ", fit->options->validation_path);
  return validation;
}

SeqnnClassifier *
seqnn_fit (SeqnnDataset *dataset, const SeqnnLabelSet *labels, const SeqnnFitOptions *options,
    GError **error)
{
  Fit fit = { options, 0, NULL, { 0 }, NULL, NAN, NAN, 0, 0 };
  SeqnnTrainOptions train;
  SeqnnDataset *validation = NULL;
  SeqnnClassifier *classifier = NULL;
  SeqnnModel *model;

  if (dataset == NULL || options == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "seqnn_fit: dataset and options must not be NULL");
    return NULL;
  }
  fit.n_records = seqnn_dataset_get_size (dataset);
  if (options->stream_training && !check_stream_config (options->init != NULL
          ? seqnn_model_get_config (seqnn_classifier_peek_model (options->init)) : &options->model,
          options->init != NULL, error))
    return NULL;
  if (options->init == NULL
      && !seqnn_check_word_ngrams (options->tokenizer.word_ngrams, &options->model, error))
    return NULL;
  model = options->init != NULL ? prepare_from_init (&fit)
      : prepare_new (&fit, dataset, labels, error);
  if (model == NULL)
    goto out;
  seqnn_dataset_apply_vocab (dataset, fit.vocab);
  seqnn_dataset_set_word_ngrams (dataset, fit.tokenizer.word_ngrams);
  if (!load_vectors (model, &fit, error))
    goto out;

  if (options->begin != NULL)
    options->begin (model, fit.n_records, options->user_data);
  train = options->train;
  train.class_names = (const gchar *const *) fit.labels;
  if (options->validation_path != NULL && *options->validation_path != '\0') {
    validation = read_validation (&fit, error);
    if (validation == NULL)
      goto out;
    train.validation = validation;
  }
  if (options->stream_training
      ? !seqnn_stream_train (model, dataset, &train, &options->stream, on_progress, on_checkpoint,
          &fit, error)
      : !seqnn_train (model, dataset, &train, on_progress, on_checkpoint, &fit, error))
    goto out;

  classifier = make_classifier (&fit, model, error);
  model = NULL; /* the classifier's now, or freed by a failing seqnn_classifier_new */
  if (classifier != NULL && options->stream_training
      && !seqnn_classifier_set_stream (classifier, TRUE, error))
    g_clear_pointer (&classifier, seqnn_classifier_free);
  if (classifier != NULL)
    set_metadata (&fit, classifier, (guint64) MAX (fit.epochs_run, 1) * fit.n_records, TRUE);

out:
  g_clear_pointer (&validation, seqnn_dataset_free);
  g_clear_pointer (&model, seqnn_model_free);
  g_clear_pointer (&fit.vocab, seqnn_vocab_unref);
  g_strfreev (fit.labels);
  return classifier;
}

gboolean
seqnn_fit_check_model_size (SeqnnDataset *dataset, const SeqnnLabelSet *labels,
    const SeqnnFitOptions *options, guint64 max_size, GError **error)
{
  if (max_size == 0)
    return TRUE;
  SeqnnConfig config = options->model;
  gint num_classes = (gint) seqnn_label_set_get_n (labels);
  SeqnnVocab *vocab;
  if (options->init != NULL) {
    config = *seqnn_model_get_config (seqnn_classifier_peek_model (options->init));
    vocab = seqnn_vocab_ref (seqnn_classifier_get_vocab (options->init));
    num_classes = config.num_classes;
  } else {
    vocab = vocab_of_data (dataset, options, error);
    if (vocab == NULL)
      return FALSE;
  }
  /* the file's size depends on the architecture and the vocabulary only */
  SeqnnAutotuneParams params = {
    .cell = config.cell, .embed_dim = config.embed_dim, .hidden_dim = config.hidden_dim,
    .num_layers = config.num_layers, .bidirectional = config.bidirectional,
    .head = config.head, .dropout = config.dropout,
  };
  guint64 size = seqnn_autotune_estimate_model_size (&params, vocab, num_classes);
  gsize vocab_size = seqnn_vocab_get_size (vocab);
  seqnn_vocab_unref (vocab);
  if (size <= max_size)
    return TRUE;
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
      "The model would take about %" G_GUINT64_FORMAT " bytes, more than max-model-size=%"
      G_GUINT64_FORMAT ": lower embed-dim, hidden-dim or max-vocab (vocabulary: %"
      G_GSIZE_FORMAT " entries), or set autotune-duration to search within the bound.",
      size, max_size, vocab_size);
  return FALSE;
}
