/* GStreamer seqnn: lstmtrain's run at EOS (see gstlstmtrainrun.h)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmtrainrun.h"

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_train_debug);
#define GST_CAT_DEFAULT gst_lstm_train_debug

void
gst_lstm_train_settings_clear (GstLstmTrainSettings * s)
{
  g_clear_pointer (&s->metrics_file, g_free);
  g_clear_pointer (&s->validation_location, g_free);
  g_clear_pointer (&s->model_out, g_free);
  g_clear_pointer (&s->init_model, g_free);
  g_clear_pointer (&s->embeddings, g_free);
}

gboolean
gst_lstm_train_settings_use_best (const GstLstmTrainSettings * s)
{
  const SeqnnTrainOptions *t = &s->fit.train;
  return t->patience > 0 || t->lr_schedule != SEQNN_LR_CONSTANT || t->warmup_steps > 0
      || t->warmup_fraction > 0.0
      || (s->validation_location != NULL && *s->validation_location != '\0');
}

void
gst_lstm_train_settings_copy (GstLstmTrainSettings * dst, const GstLstmTrainSettings * src)
{
  *dst = *src;
  dst->metrics_file = g_strdup (src->metrics_file);
  dst->validation_location = g_strdup (src->validation_location);
  dst->model_out = g_strdup (src->model_out);
  dst->init_model = g_strdup (src->init_model);
  dst->embeddings = g_strdup (src->embeddings);
}

/* The run's properties as the search's options: those set fix their dimension. */
static void
autotune_options_from_settings (const GstLstmTrainData * data, const GstLstmTrainSettings * run,
    SeqnnAutotuneOptions * o)
{
  const SeqnnConfig *m = &run->fit.model;
  const SeqnnTrainOptions *t = &run->fit.train;
  SeqnnAutotuneParams *f = &o->fixed_params;

  seqnn_autotune_options_init_default (o);
  o->duration = run->autotune_duration;
  o->max_model_size = run->max_model_size;
  o->max_members = run->autotune_ensemble;
  o->seed = t->seed;
  o->n_threads = t->n_threads;
  if (t->validation_fraction > 0.0)
    o->validation_fraction = t->validation_fraction;
  if (t->patience > 0)
    o->patience = t->patience;
  o->fixed = run->user_set;
  f->cell = m->cell;
  f->embed_dim = m->embed_dim;
  f->hidden_dim = m->hidden_dim;
  f->num_layers = m->num_layers;
  f->bidirectional = m->bidirectional;
  f->head = m->head;
  f->dropout = m->dropout;
  f->embedding_dropout = t->embedding_dropout;
  f->head_dropout = t->head_dropout;
  f->min_freq = run->fit.min_freq;
  f->max_vocab = (guint) run->fit.max_vocab;
  f->max_tokens = (guint) run->fit.tokenizer.max_tokens;
  f->word_ngrams = run->fit.tokenizer.word_ngrams;
  /* Records cut upstream (seqtokenize max-tokens) stay cut: the model keeps that cap. */
  if (data->tokenizer.max_tokens > 0 && (!(o->fixed & SEQNN_AUTOTUNE_MAX_TOKENS)
          || f->max_tokens == 0 || (guint) data->tokenizer.max_tokens < f->max_tokens)) {
    o->fixed |= SEQNN_AUTOTUNE_MAX_TOKENS;
    f->max_tokens = (guint) data->tokenizer.max_tokens;
  }
  f->learning_rate = t->optimizer.learning_rate;
  f->batch_size = t->batch_size;
  f->epochs = t->epochs;
  f->lr_schedule = t->lr_schedule;
  o->optimizer = t->optimizer;
  o->cancel_flag = data->cancel;
}

/* The search, then model-out written once with the best model; a failure or
 * cancellation leaves an existing model-out untouched. FALSE after posting an
 * error (or when cancelled). */
static gboolean
run_autotune (const GstLstmTrainData * data, const GstLstmTrainSettings * run,
    const gchar * command)
{
  SeqnnAutotuneOptions options;
  SeqnnAutotuneTrial best;
  SeqnnTokenizerConfig tokenizer = data->tokenizer;
  SeqnnClassifier *classifier;
  gsize n = seqnn_dataset_get_size (data->dataset);
  gchar **labels = seqnn_label_set_to_strv (data->labels);
  GError *error = NULL;
  gint n_trials = 0;
  gboolean ok = FALSE;

  autotune_options_from_settings (data, run, &options);
  options.command = command;
  gst_lstm_train_report_autotune_start (data->report, run->autotune_duration, n);
  classifier = seqnn_autotune (data->dataset, (const gchar * const *) labels, &tokenizer,
      &options, gst_lstm_train_report_trial, data->report, &best, &n_trials, &error);
  if (classifier == NULL) {
    gst_lstm_train_report_autotune_error (data->report, error);
    goto done;
  }
  if (!seqnn_classifier_save (classifier, run->model_out, &error)) {
    gst_lstm_train_report_write_error (data->report, run->model_out, error);
    goto done;
  }
  gst_lstm_train_report_autotune_done (data->report, classifier, run->model_out, n, &best,
      n_trials);
  ok = TRUE;

done:
  g_clear_error (&error);
  g_clear_pointer (&classifier, seqnn_classifier_free);
  g_strfreev (labels);
  return ok;
}

gboolean
gst_lstm_train_run (const GstLstmTrainData * data, GstLstmTrainSettings * run,
    const gchar * command)
{
  GstElement *self = data->element;   /* for GST_ELEMENT_ERROR */
  SeqnnClassifier *classifier = NULL;
  GError *error = NULL;
  gboolean ok = FALSE;

  gst_lstm_train_report_start_run (data->report, run->fit.train.epochs, run->fit.train.patience);

  if (seqnn_dataset_get_size (data->dataset) == 0) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("No training data: the stream ended without any labelled record."),
        ("check the input file and the seqtokenize format"));
    goto done;
  }
  if (run->autotune_duration > 0.0) {
    ok = run_autotune (data, run, command);
    goto done;
  }
  SeqnnFitOptions *fit = &run->fit;
  /* The model tokenizes as the data was; max-tokens caps it further. */
  if (fit->tokenizer.max_tokens == 0 || (data->tokenizer.max_tokens > 0
          && data->tokenizer.max_tokens < fit->tokenizer.max_tokens))
    fit->tokenizer.max_tokens = data->tokenizer.max_tokens;
  fit->tokenizer.lowercase = data->tokenizer.lowercase;
  fit->tokenizer.strip_markup = data->tokenizer.strip_markup;
  fit->init = data->init;
  /* max-model-size without autotune: what would exceed it is refused before training */
  if (!seqnn_fit_check_model_size (data->dataset, data->labels, fit, run->max_model_size, &error)) {
    if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT))
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("%s", error->message), (NULL));
    else
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Training failed: %s", error->message), (NULL));
    goto done;
  }
  fit->embeddings = run->embeddings;
  if (run->validation_location != NULL && *run->validation_location != '\0') {
    SeqnnFormat format = SEQNN_FORMAT_CSV;

    seqnn_format_from_path (run->validation_location, &format); /* checked when preparing */
    seqnn_read_options_init_default (&fit->validation_read, format);
    fit->validation_path = run->validation_location;
  }
  fit->checkpoint_path = run->model_out;
  fit->command = command;
  fit->train.cancel_flag = data->cancel;
  fit->begin = gst_lstm_train_report_begin;
  fit->progress = gst_lstm_train_report_progress;
  fit->user_data = data->report;

  classifier = seqnn_fit (data->dataset, data->labels, fit, &error);
  if (classifier == NULL) {
    gst_lstm_train_report_fit_error (data->report, error);
    goto done;
  }
  if (!seqnn_classifier_save (classifier, run->model_out, &error)) {
    gst_lstm_train_report_write_error (data->report, run->model_out, error);
    goto done;
  }
  gst_lstm_train_report_done (data->report, classifier, run->model_out,
      seqnn_dataset_get_size (data->dataset));
  ok = TRUE;

done:
  g_clear_error (&error);
  g_clear_pointer (&classifier, seqnn_classifier_free);
  return ok;
}
