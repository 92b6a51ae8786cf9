/* lstmclassify: classifies each text buffer with a libseqnn model.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_LSTM_CLASSIFY (gst_lstm_classify_get_type ())
G_DECLARE_FINAL_TYPE (GstLstmClassify, gst_lstm_classify, GST, LSTM_CLASSIFY, GstElement)

/**
 * GstLstmClassifyAnnotate:
 * @GST_LSTM_CLASSIFY_ANNOTATE_NONE: buffers pass unchanged (metas only)
 * @GST_LSTM_CLASSIFY_ANNOTATE_PREFIX: text becomes "[Label 0.93] original text"
 * @GST_LSTM_CLASSIFY_ANNOTATE_JSON: each buffer becomes one JSON object and a newline
 */
typedef enum {
  GST_LSTM_CLASSIFY_ANNOTATE_NONE,
  GST_LSTM_CLASSIFY_ANNOTATE_PREFIX,
  GST_LSTM_CLASSIFY_ANNOTATE_JSON,
} GstLstmClassifyAnnotate;

#define GST_TYPE_LSTM_CLASSIFY_ANNOTATE (gst_lstm_classify_annotate_get_type ())
GType gst_lstm_classify_annotate_get_type (void);

/**
 * GstLstmClassifyContext:
 * @GST_LSTM_CLASSIFY_CONTEXT_NONE: every buffer alone (independent records)
 * @GST_LSTM_CLASSIFY_CONTEXT_SMOOTH: topic persistence over the stream (any model)
 * @GST_LSTM_CLASSIFY_CONTEXT_STREAM: the recurrent state runs on from cue to cue (a stream model)
 */
typedef enum {
  GST_LSTM_CLASSIFY_CONTEXT_NONE,
  GST_LSTM_CLASSIFY_CONTEXT_SMOOTH,
  GST_LSTM_CLASSIFY_CONTEXT_STREAM,
} GstLstmClassifyContext;

#define GST_TYPE_LSTM_CLASSIFY_CONTEXT (gst_lstm_classify_context_get_type ())
GType gst_lstm_classify_context_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (lstmclassify);

G_END_DECLS
