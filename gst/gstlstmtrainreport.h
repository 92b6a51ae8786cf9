/* GStreamer seqnn: what lstmtrain posts and writes while it trains: progress
 * and element messages ("lstmtrain-epoch", "lstmtrain-progress",
 * "lstmtrain-trial", "lstmtrain-done"), the metrics file's rows, and the
 * errors of a failed run, for the element (gstlstmtrain.c) to hand the
 * library's callbacks.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <gst/gst.h>
#include <seqnn/autotune.h>
#include <seqnn/fit.h>

G_BEGIN_DECLS

typedef struct {
  GstElement *element;        /* the lstmtrain posting (not owned) */
  const gint *cancel;         /* its cancel flag (atomic): callbacks then return FALSE */
  FILE *metrics;              /* the metrics file, NULL: none */
  gboolean metrics_best;      /* epoch rows also carry learning_rate and best_epoch */
  gint epochs;                /* of the run */
  gint patience;              /* of the run: > 0 keeps the best epoch's figures */
  /* The run's outcome, from the progress reports. */
  gdouble final_accuracy;     /* with patience: the best epoch's, whose model is written */
  gdouble final_validation_accuracy;
  gint best_epoch;            /* the best validation accuracy's epoch; 0 = none */
} GstLstmTrainReport;

void gst_lstm_train_report_init (GstLstmTrainReport * r, GstElement * element,
    const gint * cancel);
/* Creates the metrics file with its header: trial rows (autotune) or epoch
 * rows, those with the best-epoch columns when best_columns. FALSE after
 * posting an error. */
gboolean gst_lstm_train_report_open_metrics (GstLstmTrainReport * r, const gchar * path,
    gboolean trials, gboolean best_columns);
void gst_lstm_train_report_close (GstLstmTrainReport * r);
/* Before a run: its epochs and patience; the outcome cleared. */
void gst_lstm_train_report_start_run (GstLstmTrainReport * r, gint epochs, gint patience);
void gst_lstm_train_report_post_progress (GstLstmTrainReport * r, GstProgressType type,
    const gchar * text);

/* SeqnnFitBeginFunc, SeqnnTrainProgressFunc, SeqnnAutotuneFunc: user_data is the report. */
void gst_lstm_train_report_begin (const SeqnnModel * model, gsize n_records, gpointer user_data);
gboolean gst_lstm_train_report_progress (const SeqnnTrainProgress * p, gpointer user_data);
gboolean gst_lstm_train_report_trial (const SeqnnAutotuneTrial * t, gpointer user_data);

/* A failed fit or search as an element error (a progress message only when
 * it was cancelled); a model that could not be written. */
void gst_lstm_train_report_fit_error (GstLstmTrainReport * r, const GError * error);
void gst_lstm_train_report_autotune_error (GstLstmTrainReport * r, const GError * error);
void gst_lstm_train_report_write_error (GstLstmTrainReport * r, const gchar * location,
    const GError * error);
/* The model written: a progress message and "lstmtrain-done". */
void gst_lstm_train_report_done (GstLstmTrainReport * r, const SeqnnClassifier * classifier,
    const gchar * location, guint64 n_samples);
void gst_lstm_train_report_autotune_start (GstLstmTrainReport * r, gdouble duration,
    gsize n_records);
void gst_lstm_train_report_autotune_done (GstLstmTrainReport * r,
    const SeqnnClassifier * classifier, const gchar * location, guint64 n_samples,
    const SeqnnAutotuneTrial * best, gint n_trials);

G_END_DECLS
