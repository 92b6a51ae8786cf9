/* GStreamer seqnn: lstmtrain's run at EOS: its settings (the property
 * values, copied under the object lock when training starts) as the
 * library's options, the fit (seqnn_fit) or the search (seqnn_autotune), and
 * the model written once.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/seqnn.h>
#include "gstlstmtrainreport.h"

G_BEGIN_DECLS

/* Property values, copied under the object lock when training starts. The
 * numbers live in the library's options (their defaults are the library's);
 * the paths are the element's. */
typedef struct {
  SeqnnFitOptions fit;
  gchar *validation_location;
  gchar *metrics_file;
  gchar *model_out;
  gchar *init_model;
  gchar *embeddings;
  gdouble autotune_duration;  /* seconds, 0: train once */
  guint64 max_model_size;     /* bytes, 0: no bound */
  gint autotune_ensemble;     /* the retrain's most networks on little data: 3 */
  guint user_set;             /* SeqnnAutotuneDim bits of the properties set: autotune keeps them */
} GstLstmTrainSettings;

void gst_lstm_train_settings_clear (GstLstmTrainSettings * s);
void gst_lstm_train_settings_copy (GstLstmTrainSettings * dst, const GstLstmTrainSettings * src);
/* Early stopping, a schedule or a validation file in use (the metrics file's
 * best-epoch columns). */
gboolean gst_lstm_train_settings_use_best (const GstLstmTrainSettings * s);

/* What a run needs from the element. */
typedef struct {
  GstElement *element;              /* posts the errors */
  SeqnnDataset *dataset;            /* the records collected (the vocabulary is applied to it) */
  const SeqnnLabelSet *labels;      /* class id -> name */
  const SeqnnClassifier *init;      /* init-model, or NULL */
  SeqnnTokenizerConfig tokenizer;   /* how the records were tokenized */
  const gint *cancel;               /* atomic: non-zero stops the run */
  GstLstmTrainReport *report;
} GstLstmTrainData;

/* Fits (or, with autotune_duration, searches) and writes run->model_out;
 * command is the settings as text for the model's metadata. A failure or a
 * cancellation leaves an existing model-out untouched. FALSE after posting an
 * error (or when cancelled). */
gboolean gst_lstm_train_run (const GstLstmTrainData * data, GstLstmTrainSettings * run,
    const gchar * command);

G_END_DECLS
