/* GStreamer seqnn: what lstmclassify writes and posts for a classified buffer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/seqnn.h>

#include "gstlstmclassify.h"
#include "gstseqnnmeta.h"
#include "gstseqnnmodel.h"

G_BEGIN_DECLS

/* The caps lstmclassify takes and gives. text/plain (pocketsphinx and other
 * older elements) is UTF-8 text without markup, which leaves as
 * text/x-raw, format=utf8; so does the JSON of annotate=json. */
#define GST_SEQNN_TEXT_CAPS "text/x-raw, format = (string) { utf8, pango-markup }"
#define GST_SEQNN_UTF8_CAPS "text/x-raw, format = (string) utf8"
#define GST_SEQNN_PLAIN_CAPS "text/plain"

gboolean gst_seqnn_output_caps_are_markup (const GstCaps *caps);
/* The source caps for sink_caps (json: annotate=json). */
GstCaps *gst_seqnn_output_src_caps (GstCaps *sink_caps, gboolean json);
/* The CAPS query of pad (is_sink: the sink pad; other: the element's other
 * pad): the template intersected with what the other side's peer takes or
 * gives, text/plain in standing for utf8 out; with json any text in, utf8
 * out. Then intersected with filter (may be NULL). */
GstCaps *gst_seqnn_output_query_caps (GstPad *pad, GstPad *other, gboolean is_sink,
    gboolean json, GstCaps *filter);

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

/* A decided buffer (taken): its class meta (probs, the model's labels)
 * attached, its true label (from the tokens meta) counted in the model's
 * confusion matrix, then written as settings say (gst_seqnn_output_buffer).
 * Returns the buffer to push. */
GstBuffer *gst_seqnn_output_classified (GstElement *element, const GstSeqnnOutputSettings *settings,
    const GstSeqnnModelInUse *model, GstBuffer *buffer, const gfloat *probs,
    const gfloat *cue_probs);

/* Posts the "lstmclassify-summary" element message (count, accuracy, macro-f1,
 * labels, precision, recall, f1, confusion) when confusion counted anything. */
void gst_seqnn_output_post_summary (GstElement *element, const SeqnnConfusion *confusion,
    const gchar *const *label_names);

G_END_DECLS
