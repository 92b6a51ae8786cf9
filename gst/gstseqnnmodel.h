/* GStreamer seqnn: lstmclassify's model: the one its task uses, the one
 * loaded for the next batch boundary, and what follows from the model in use
 * (inference workspace, label block, confusion matrix).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/seqnn.h>

#include "gstseqnnmeta.h"

G_BEGIN_DECLS

/* The fields are the task's (or, while the element is stopped, the
 * state-change thread's): read them, change them only through the calls
 * below. The waiting model and the sink vocabulary are behind the slot's
 * own lock. */
typedef struct {
  SeqnnClassifier *classifier;   /* in use; NULL before open */
  gchar *path;                   /* its file, for messages */
  SeqnnInference *inference;
  gint n_threads;                /* inference's */
  GstSeqnnLabels *label_block;   /* the classifier's names, shared by every class meta */
  const gchar *const *labels;    /* their strv, owned by label_block */
  guint n_labels;
  SeqnnConfusion *confusion;     /* NULL when there was no memory for n^2 counters */
} GstSeqnnModelInUse;

typedef struct _GstSeqnnModel GstSeqnnModel;

GstSeqnnModel *gst_seqnn_model_new (GstElement *element);
void gst_seqnn_model_free (GstSeqnnModel *model);
const GstSeqnnModelInUse *gst_seqnn_model_in_use (const GstSeqnnModel *model);

/* NULL->READY: loads path (shared through the model cache) and uses it; a
 * missing path or a file that does not load posts an ERROR (RESOURCE
 * NOT_FOUND or OPEN_READ, with the library's reason) and returns FALSE. */
gboolean gst_seqnn_model_open (GstSeqnnModel *model, const gchar *path, gint n_threads);
/* READY->NULL: releases both models. */
void gst_seqnn_model_close (GstSeqnnModel *model);

/* READY->PAUSED with context=stream: a model in use that is not a stream
 * model posts an ERROR naming its file and why (the library's reason) and
 * returns FALSE. */
gboolean gst_seqnn_model_check_stream (GstSeqnnModel *model);

/* From READY on (any thread): loads path at once, outside every lock, as the
 * model the task takes at its next batch boundary. A file that does not load,
 * or (stream: context=stream) is not a stream model, posts a WARNING and
 * returns FALSE (the current model stays). */
gboolean gst_seqnn_model_load_next (GstSeqnnModel *model, const gchar *path, gboolean stream);
/* Task: the model waiting to be used (owned by the caller, with its path in
 * *path, owned too), or NULL. */
SeqnnClassifier *gst_seqnn_model_take_next (GstSeqnnModel *model, gchar **path);
/* Task: makes classifier (taken) the one in use. */
void gst_seqnn_model_use (GstSeqnnModel *model, SeqnnClassifier *classifier, const gchar *path,
    gint n_threads);
/* Task: the threads of the inference, when they changed. */
void gst_seqnn_model_set_n_threads (GstSeqnnModel *model, gint n_threads);

/* Task: runs the network on the encoded sequences (ids concatenated,
 * lengths) into probs (resized to n x n_labels); an ERROR is posted when the
 * library fails. */
GstFlowReturn gst_seqnn_model_run (GstSeqnnModel *model, GArray *ids, GArray *lengths,
    GArray *probs);
/* The confusion matrix restarts (flush, new stream). */
void gst_seqnn_model_reset_counts (GstSeqnnModel *model);

/* Sink pad: a reference to the vocabulary of the newest loaded model and
 * its tokenizer settings (for encoding on arrival), or NULL. */
SeqnnVocab *gst_seqnn_model_ref_sink_vocab (GstSeqnnModel *model, SeqnnTokenizerConfig *tokenizer);

G_END_DECLS
