/* GStreamer seqnn: seqtokenize's settings: the property values the streaming
 * thread applies, and what it then reads with (the model, the tokenizer
 * settings, the classes, the column layout).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/classifier.h>
#include <seqnn/dataset.h>
#include "gstseqtokenize.h"

G_BEGIN_DECLS

/* The property values a change applies, copied under the object lock. */
typedef struct {
  GstSeqTokenizeFormat format;
  gchar *model;            /* owned, NULL: no model */
  gchar *labels;           /* owned, comma-separated class names, or NULL */
  gboolean lowercase;
  guint max_tokens;
  SeqnnColumns columns;    /* strings owned */
} GstSeqTokenizeProps;

/* What the streaming thread reads with. */
typedef struct {
  GstSeqTokenizeFormat format;
  gchar *model_path;            /* path the classifier was loaded from */
  SeqnnClassifier *classifier;  /* NULL without a model (from the model cache) */
  SeqnnLabelSet *labels;        /* NULL: labels stay names (TSV, fastText) */
  gboolean grow_labels;         /* classes as they come (a column layout, JSON Lines) */
  SeqnnColumns columns;         /* strings owned */
  SeqnnTokenizerConfig tokenizer;
} GstSeqTokenizeActive;

void gst_seq_tokenize_props_clear (GstSeqTokenizeProps * props);
void gst_seq_tokenize_active_init (GstSeqTokenizeActive * active, GstSeqTokenizeFormat format);
void gst_seq_tokenize_active_clear (GstSeqTokenizeActive * active);
SeqnnFormat gst_seq_tokenize_seqnn_format (GstSeqTokenizeFormat format);

/* Applies props (loading the model when its path changed; the model's
 * tokenizer settings and classes win over the properties). *new_reader: the
 * format or the column layout changed, a partial record of the old one is
 * dropped. FALSE after posting an error on element; *retry then says the
 * model did not load (try again before the next record). */
gboolean gst_seq_tokenize_active_apply (GstSeqTokenizeActive * active,
    const GstSeqTokenizeProps * props, GstElement * element, gboolean * new_reader,
    gboolean * retry);

G_END_DECLS
