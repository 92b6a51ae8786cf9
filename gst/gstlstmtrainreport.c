/* GStreamer seqnn: what lstmtrain posts and writes while it trains
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "gstlstmtrainreport.h"

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_train_debug);
#define GST_CAT_DEFAULT gst_lstm_train_debug

/* The header rows; the columns of early stopping and schedules only when used,
 * so that readers of the eight columns keep working. */
static const gchar trial_columns[] = "trial,rung,samples,cell,embed_dim,hidden_dim,layers,"
    "bidirectional,head,dropout,embedding_dropout,head_dropout,min_freq,max_vocab,max_tokens,word_ngrams,learning_rate,lr_schedule,"
    "batch_size,epochs,best_epoch,"
    "epochs_run,val_loss,val_accuracy,vocab_size,model_size,cut,seconds,elapsed_s,best\n";
static const gchar epoch_columns[] = "epoch,samples,train_loss,train_accuracy,val_loss,"
    "val_accuracy,samples_per_second,elapsed_s";

void
gst_lstm_train_report_init (GstLstmTrainReport * r, GstElement * element, const gint * cancel)
{
  memset (r, 0, sizeof *r);
  r->element = element;
  r->cancel = cancel;
  gst_lstm_train_report_start_run (r, 0, 0);
}

gboolean
gst_lstm_train_report_open_metrics (GstLstmTrainReport * r, const gchar * path,
    gboolean trials, gboolean best_columns)
{
  gst_lstm_train_report_close (r);
  r->metrics = g_fopen (path, "w");
  if (r->metrics == NULL) {
    GST_ELEMENT_ERROR (r->element, RESOURCE, OPEN_WRITE,
        ("Cannot write metrics file '%s': %s", path, g_strerror (errno)), (NULL));
    return FALSE;
  }
  r->metrics_best = !trials && best_columns;
  if (trials) {
    fputs (trial_columns, r->metrics);
  } else {
    fputs (epoch_columns, r->metrics);
    fputs (r->metrics_best ? ",learning_rate,best_epoch\n" : "\n", r->metrics);
  }
  fflush (r->metrics);
  return TRUE;
}

void
gst_lstm_train_report_close (GstLstmTrainReport * r)
{
  if (r->metrics != NULL) {
    fclose (r->metrics);
    r->metrics = NULL;
  }
}

void
gst_lstm_train_report_start_run (GstLstmTrainReport * r, gint epochs, gint patience)
{
  r->epochs = epochs;
  r->patience = patience;
  r->final_accuracy = NAN;
  r->final_validation_accuracy = NAN;
  r->best_epoch = 0;
}

void
gst_lstm_train_report_write_error (GstLstmTrainReport * r, const gchar * location,
    const GError * error)
{
  gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_ERROR, "writing the model failed");
  GST_ELEMENT_ERROR (r->element, RESOURCE, WRITE,
      ("Could not write model file '%s': %s", location, error->message), (NULL));
}

static void
write_metrics_row (GstLstmTrainReport * r, const SeqnnTrainProgress * p)
{
  gchar a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], c[G_ASCII_DTOSTR_BUF_SIZE],
      d[G_ASCII_DTOSTR_BUF_SIZE], e[G_ASCII_DTOSTR_BUF_SIZE], f[G_ASCII_DTOSTR_BUF_SIZE];
  gboolean has_val = p->epoch_end && !isnan (p->validation_loss);

  if (r->metrics == NULL)
    return;
  fprintf (r->metrics, "%d,%" G_GUINT64_FORMAT ",%s,%s,%s,%s,%s,%s", p->epoch,
      p->samples_seen,
      g_ascii_formatd (a, sizeof a, "%.6f", p->running_loss),
      g_ascii_formatd (b, sizeof b, "%.6f", p->running_accuracy),
      has_val ? g_ascii_formatd (c, sizeof c, "%.6f", p->validation_loss) : "",
      has_val ? g_ascii_formatd (d, sizeof d, "%.6f", p->validation_accuracy) : "",
      g_ascii_formatd (e, sizeof e, "%.1f", p->samples_per_second),
      g_ascii_formatd (f, sizeof f, "%.3f", p->elapsed_seconds));
  if (r->metrics_best) {
    fprintf (r->metrics, ",%s,%d\n", g_ascii_formatd (a, sizeof a, "%.8g", p->learning_rate),
        p->best_epoch);
    if (p->stopping_early)
      fprintf (r->metrics, "# stopped early after epoch %d: kept epoch %d (validation "
          "accuracy %s)\n", p->epoch, p->best_epoch,
          g_ascii_formatd (b, sizeof b, "%.6f", p->best_validation_accuracy));
  } else {
    fputc ('\n', r->metrics);
  }
  fflush (r->metrics);
}

gboolean
gst_lstm_train_report_progress (const SeqnnTrainProgress * p, gpointer user_data)
{
  GstLstmTrainReport *r = user_data;
  GstStructure *s;
  gchar *text;

  if (g_atomic_int_get (r->cancel))
    return FALSE;

  s = gst_structure_new (p->epoch_end ? "lstmtrain-epoch" : "lstmtrain-progress",
      "epoch", G_TYPE_INT, p->epoch, "epochs", G_TYPE_INT, p->epochs,
      "samples", G_TYPE_UINT64, p->samples_seen,
      "samples-total", G_TYPE_UINT64, p->samples_total,
      "loss", G_TYPE_DOUBLE, p->running_loss,
      "accuracy", G_TYPE_DOUBLE, p->running_accuracy,
      "samples-per-second", G_TYPE_DOUBLE, p->samples_per_second,
      "seconds-left", G_TYPE_DOUBLE, p->seconds_left,
      "elapsed", G_TYPE_DOUBLE, p->elapsed_seconds, NULL);
  if (p->epoch_end && p->n_validation > 0)
    gst_structure_set (s, "validation-loss", G_TYPE_DOUBLE, p->validation_loss,
        "validation-accuracy", G_TYPE_DOUBLE, p->validation_accuracy,
        "best-epoch", G_TYPE_INT, p->best_epoch,
        "best-validation-accuracy", G_TYPE_DOUBLE, p->best_validation_accuracy,
        "stopping-early", G_TYPE_BOOLEAN, p->stopping_early, NULL);
  gst_structure_set (s, "learning-rate", G_TYPE_DOUBLE, p->learning_rate, NULL);
  gst_element_post_message (r->element,
      gst_message_new_element (GST_OBJECT (r->element), s));

  if (p->epoch_end && p->n_validation > 0)
    text = g_strdup_printf ("epoch %d/%d done: loss %.4f, accuracy %.1f%%, validation loss "
        "%.4f, validation accuracy %.1f%%, %.0f samples/s; best epoch %d (%.1f%%)%s",
        p->epoch, p->epochs, p->running_loss, 100.0 * p->running_accuracy, p->validation_loss,
        100.0 * p->validation_accuracy, p->samples_per_second, p->best_epoch,
        100.0 * p->best_validation_accuracy,
        p->stopping_early ? ": stopping early, keeping the best epoch's model" : "");
  else
    text = g_strdup_printf ("epoch %d/%d%s: %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
        " samples, loss %.4f, accuracy %.1f%%, %.0f samples/s, %.0f s left", p->epoch,
        p->epochs, p->epoch_end ? " done" : "", p->samples_seen, p->samples_total,
        p->running_loss, 100.0 * p->running_accuracy, p->samples_per_second, p->seconds_left);
  GST_INFO_OBJECT (r->element, "%s", text);
  gst_element_post_message (r->element, gst_message_new_progress (GST_OBJECT (r->element),
          GST_PROGRESS_TYPE_CONTINUE, "train", text));
  g_free (text);

  write_metrics_row (r, p);
  /* with patience the model written is the best epoch's: its figures */
  if (p->epoch_end && (r->patience <= 0 || p->best_epoch == p->epoch)) {
    r->final_accuracy = p->running_accuracy;
    r->final_validation_accuracy = p->validation_accuracy;
  }
  if (p->epoch_end)
    r->best_epoch = p->best_epoch;
  return !g_atomic_int_get (r->cancel);
}

void
gst_lstm_train_report_post_progress (GstLstmTrainReport * r, GstProgressType type,
    const gchar * text)
{
  gst_element_post_message (r->element,
      gst_message_new_progress (GST_OBJECT (r->element), type, "train", text));
}

void
gst_lstm_train_report_begin (const SeqnnModel * model, gsize n_records, gpointer user_data)
{
  GstLstmTrainReport *r = user_data;
  const SeqnnConfig *config = seqnn_model_get_config (model);
  gchar *text = g_strdup_printf ("training %s on %" G_GSIZE_FORMAT " records, %d classes, "
      "vocabulary %d, %d epochs", seqnn_cell_to_string (config->cell), n_records,
      config->num_classes, config->vocab_size, r->epochs);

  GST_INFO_OBJECT (r->element, "%s", text);
  gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_START, text);
  g_free (text);
}

void
gst_lstm_train_report_fit_error (GstLstmTrainReport * r, const GError * error)
{
  if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED)
      && g_atomic_int_get (r->cancel)) {
    GST_INFO_OBJECT (r->element, "training cancelled: %s", error->message);
    gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_CANCELED, "training cancelled");
    return;
  }
  gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_ERROR, "training failed");
  if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC))
    GST_ELEMENT_ERROR (r->element, STREAM, FAILED, ("Training failed: %s.", error->message),
        ("the model file was not written"));
  else if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_IO))
    GST_ELEMENT_ERROR (r->element, RESOURCE, FAILED, ("Training failed: %s", error->message),
        ("the model file was not written"));
  else
    GST_ELEMENT_ERROR (r->element, STREAM, FAILED, ("Training failed: %s", error->message),
        ("the model file was not written"));
}

/* "text" as a progress message, then "lstmtrain-done" (with "trials" after a search). */
static void
post_done (GstLstmTrainReport * r, const gchar * text, const SeqnnClassifier * classifier,
    const gchar * location, guint64 n_samples, gint epochs, gdouble accuracy,
    gdouble validation_accuracy, gint best_epoch, gint n_trials)
{
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (classifier));
  GstStructure *s = gst_structure_new ("lstmtrain-done",
      "location", G_TYPE_STRING, location,
      "samples", G_TYPE_UINT64, n_samples,
      "classes", G_TYPE_INT, config->num_classes,
      "vocab-size", G_TYPE_INT, config->vocab_size,
      "epochs", G_TYPE_INT, epochs,
      "accuracy", G_TYPE_DOUBLE, accuracy,
      "validation-accuracy", G_TYPE_DOUBLE, validation_accuracy,
      "best-epoch", G_TYPE_INT, best_epoch, NULL);

  if (n_trials > 0)
    gst_structure_set (s, "trials", G_TYPE_INT, n_trials, NULL);
  gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_COMPLETE, text);
  gst_element_post_message (r->element, gst_message_new_element (GST_OBJECT (r->element), s));
  GST_INFO_OBJECT (r->element, "model written to %s", location);
}

void
gst_lstm_train_report_done (GstLstmTrainReport * r, const SeqnnClassifier * classifier,
    const gchar * location, guint64 n_samples)
{
  gchar *text = g_strdup_printf ("model written to %s", location);

  post_done (r, text, classifier, location, n_samples, r->epochs, r->final_accuracy,
      r->final_validation_accuracy, r->best_epoch, 0);
  g_free (text);
}


static void
write_trial_row (GstLstmTrainReport * r, const SeqnnAutotuneTrial * t)
{
  gchar dr[G_ASCII_DTOSTR_BUF_SIZE], edr[G_ASCII_DTOSTR_BUF_SIZE], hdr[G_ASCII_DTOSTR_BUF_SIZE],
      lr[G_ASCII_DTOSTR_BUF_SIZE], vl[G_ASCII_DTOSTR_BUF_SIZE],
      va[G_ASCII_DTOSTR_BUF_SIZE], sec[G_ASCII_DTOSTR_BUF_SIZE], el[G_ASCII_DTOSTR_BUF_SIZE];
  const SeqnnAutotuneParams *p = &t->params;
  gboolean has_val = !isnan (t->validation_accuracy);

  if (r->metrics == NULL)
    return;
  fprintf (r->metrics, "%d,%d,%" G_GSIZE_FORMAT ",%s,%d,%d,%d,%s,%s,%s,%s,%s,%" G_GUINT64_FORMAT
      ",%u,%u,%d,%s,%s,%d,%d,%d,%d,%s,%s,%d,%" G_GUINT64_FORMAT ",%s,%s,%s,%s\n", t->index,
      t->rung, t->n_samples, seqnn_cell_to_string (p->cell),
      p->embed_dim, p->hidden_dim, p->num_layers, p->bidirectional ? "true" : "false",
      seqnn_head_to_string (p->head), g_ascii_formatd (dr, sizeof dr, "%g", p->dropout),
      g_ascii_formatd (edr, sizeof edr, "%g", p->embedding_dropout),
      g_ascii_formatd (hdr, sizeof hdr, "%g", p->head_dropout), p->min_freq, p->max_vocab, p->max_tokens,
      MAX (p->word_ngrams, 1), g_ascii_formatd (lr, sizeof lr, "%g", p->learning_rate),
      seqnn_lr_schedule_to_string (p->lr_schedule), p->batch_size, p->epochs,
      t->best_epoch, t->epochs_run,
      has_val ? g_ascii_formatd (vl, sizeof vl, "%.6f", t->validation_loss) : "",
      has_val ? g_ascii_formatd (va, sizeof va, "%.6f", t->validation_accuracy) : "",
      t->vocab_size, t->model_size, t->cut ? "true" : "false",
      g_ascii_formatd (sec, sizeof sec, "%.3f", t->seconds),
      g_ascii_formatd (el, sizeof el, "%.3f", t->elapsed), t->best ? "true" : "false");
  fflush (r->metrics);
}

gboolean
gst_lstm_train_report_trial (const SeqnnAutotuneTrial * t, gpointer user_data)
{
  GstLstmTrainReport *r = user_data;
  gchar *settings = seqnn_autotune_params_to_string (&t->params);
  gchar *text;

  gst_element_post_message (r->element, gst_message_new_element (GST_OBJECT (r->element),
          gst_structure_new ("lstmtrain-trial", "trial", G_TYPE_INT, t->index,
              "rung", G_TYPE_INT, t->rung, "samples", G_TYPE_UINT64, (guint64) t->n_samples,
              "settings", G_TYPE_STRING, settings,
              "best-epoch", G_TYPE_INT, t->best_epoch, "epochs-run", G_TYPE_INT, t->epochs_run,
              "validation-loss", G_TYPE_DOUBLE, t->validation_loss,
              "validation-accuracy", G_TYPE_DOUBLE, t->validation_accuracy,
              "vocab-size", G_TYPE_INT, t->vocab_size,
              "model-size", G_TYPE_UINT64, t->model_size, "cut", G_TYPE_BOOLEAN, t->cut,
              "seconds", G_TYPE_DOUBLE, t->seconds, "elapsed", G_TYPE_DOUBLE, t->elapsed,
              "best", G_TYPE_BOOLEAN, t->best, NULL)));
  text = g_strdup_printf ("trial %d, rung %d, %" G_GSIZE_FORMAT " rows (%s): validation "
      "accuracy %.1f%% at epoch %d of %d%s, %.1f s%s", t->index, t->rung, t->n_samples,
      settings, 100.0 * t->validation_accuracy, t->best_epoch,
      t->epochs_run, t->cut ? " (cut by the budget)" : t->diverged ? " (diverged)" : "",
      t->seconds, t->best ? ", best so far" : "");
  GST_INFO_OBJECT (r->element, "%s", text);
  gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_CONTINUE, text);
  g_free (text);
  g_free (settings);
  write_trial_row (r, t);
  return !g_atomic_int_get (r->cancel);
}


void
gst_lstm_train_report_autotune_start (GstLstmTrainReport * r, gdouble duration, gsize n_records)
{
  gchar *text = g_strdup_printf ("autotune: searching for %g s on %" G_GSIZE_FORMAT " records",
      duration, n_records);

  GST_INFO_OBJECT (r->element, "%s", text);
  gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_START, text);
  g_free (text);
}

void
gst_lstm_train_report_autotune_error (GstLstmTrainReport * r, const GError * error)
{
  if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED) && g_atomic_int_get (r->cancel)) {
    GST_INFO_OBJECT (r->element, "autotune cancelled: %s", error->message);
    gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_CANCELED, "autotune cancelled");
    return;
  }
  gst_lstm_train_report_post_progress (r, GST_PROGRESS_TYPE_ERROR, "autotune failed");
  GST_ELEMENT_ERROR (r->element, STREAM, FAILED, ("Autotune failed: %s", error->message),
      ("the model file was not written"));
}

void
gst_lstm_train_report_autotune_done (GstLstmTrainReport * r, const SeqnnClassifier * classifier,
    const gchar * location, guint64 n_samples, const SeqnnAutotuneTrial * best, gint n_trials)
{
  const gchar *retrained = seqnn_classifier_get_metadata (classifier, "autotune.retrained");
  const gchar *rows = seqnn_classifier_get_metadata (classifier, "train.samples");
  const gchar *epochs = seqnn_classifier_get_metadata (classifier, "autotune.retrain_epochs");
  const gchar *members = seqnn_classifier_get_metadata (classifier, "autotune.members");
  gboolean ensemble = members != NULL && g_strcmp0 (members, "1") != 0;
  gchar *text = g_strcmp0 (retrained, "true") == 0 && rows != NULL && epochs != NULL
      ? g_strdup_printf ("model of trial %d of %d, retrained on all %s rows for %s epochs%s%s%s, "
      "written to %s", best->index, n_trials, rows, epochs, ensemble ? " as " : "",
      ensemble ? members : "", ensemble ? " networks averaged" : "", location)
      : g_strdup_printf ("model of trial %d of %d written to %s", best->index, n_trials,
      location);

  /* a search's model has no training accuracy of its own */
  post_done (r, text, classifier, location, n_samples, best->epochs_run, NAN,
      best->validation_accuracy, best->best_epoch, n_trials);
  g_free (text);
}
