/* GStreamer seqnn: what lstmclassify writes and posts for a classified buffer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/seqnn.h>

#include "gstlstmclassify.h"
#include "gstseqnnmeta.h"

G_BEGIN_DECLS

/* How buffers leave: the annotate mode, per-buffer messages, and whether the
 * input text is pango-markup. */
typedef struct {
  GstLstmClassifyAnnotate annotate;
  gboolean post_messages;
  gboolean markup;
} GstSeqnnOutputSettings;

/* Writes the class (meta, already on buffer) into buffer as settings say:
 * annotate=prefix "[label 0.93] text" (label markup-escaped for markup
 * input), annotate=json one JSON object and a newline; posts the
 * "lstmclassify" message from element when asked. Messages and JSON carry
 * plain text (markup stripped, entities decoded). true_label: the input's
 * label, or NULL. cue_probs: with context across cues, the cue-alone
 * probabilities (meta->n_classes), written as "cue-probabilities"; else NULL.
 * Returns the buffer to push (buffer must be writable). */
GstBuffer *gst_seqnn_output_buffer (GstElement *element, const GstSeqnnOutputSettings *settings,
    GstBuffer *buffer, const GstSeqnnClassMeta *meta, const gchar *true_label,
    const gfloat *cue_probs);

/* Posts the "lstmclassify-summary" element message (count, accuracy, macro-f1,
 * labels, precision, recall, f1, confusion) when confusion counted anything. */
void gst_seqnn_output_post_summary (GstElement *element, const SeqnnConfusion *confusion,
    const gchar *const *label_names);

G_END_DECLS
