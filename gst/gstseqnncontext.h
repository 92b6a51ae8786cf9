/* GStreamer seqnn: lstmclassify's context across cues (context=smooth or
 * stream): holds cues for the lookahead, runs a stream model's carried state
 * (seqnn_stream_run), decides them through libseqnn's context filter,
 * restarts where the stream does, posts topic segments and builds the TOC.
 * With context=none it passes every cue straight through.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/seqnn.h>

#include "gstlstmclassify.h"
#include "gstseqnnmodel.h"
#include "gstseqnnencode.h"

G_BEGIN_DECLS

/* The custom downstream event (serialized) an application sends to mark a
 * programme boundary: context starts afresh there.
 * gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new_empty (NAME)) */
#define GST_SEQNN_CONTEXT_RESET_EVENT "seqnn-context-reset"

typedef struct {
  GstLstmClassifyContext mode;
  gdouble persistence;      /* topic-persistence (smooth) */
  gdouble stream_persistence; /* stream-persistence (stream with a lookahead) */
  GstClockTime lookahead;   /* ns a cue may wait for the cues after it */
  GstClockTime reset;       /* a timestamp gap longer than this restarts the context */
} GstSeqnnContextSettings;

/* Called for every buffer, in stream order, once decided: attach probs
 * (context-aware) and cue_probs (the cue alone; NULL for a cue with no
 * tokens, and with context=none) and push; probs NULL: an unclassified
 * buffer, pushed as it is. Takes buffer. */
typedef GstFlowReturn (*GstSeqnnContextRelease) (gpointer user_data, GstBuffer *buffer,
    const gfloat *probs, const gfloat *cue_probs);

typedef struct _GstSeqnnContext GstSeqnnContext;

GstSeqnnContext *gst_seqnn_context_new (GstElement *element, GstSeqnnContextRelease release,
    gpointer user_data);
void gst_seqnn_context_free (GstSeqnnContext *context);

/* Before each batch is pushed: the model's labels and the settings. A change
 * of mode, labels or persistence first decides the held cues and restarts the
 * context. */
GstFlowReturn gst_seqnn_context_configure (GstSeqnnContext *context,
    const GstSeqnnModelInUse *model, const GstSeqnnContextSettings *settings);
/* The time by which the oldest held cue must be decided, or
 * GST_CLOCK_TIME_NONE (none held, or no bound). */
GstClockTime gst_seqnn_context_next_deadline (const GstSeqnnContext *context);
/* Decides and releases the held cues whose deadline is at or before now. */
GstFlowReturn gst_seqnn_context_expire (GstSeqnnContext *context, GstClockTime now);
/* Pushes the buffers of batch in order (taken from it) until one push fails:
 * each classified one with its row of probs (encoder's rows, n_labels a
 * row, the model's) as the next cues, its arrival when live, the others
 * through gst_seqnn_context_push_unclassified. */
GstFlowReturn gst_seqnn_context_push_batch (GstSeqnnContext *context, GstSeqnnBatch *batch,
    const GstSeqnnEncoder *encoder, const gfloat *probs, guint n_labels, gboolean live);
/* An unclassified buffer (an empty GAP): it leaves after the held cues. */
GstFlowReturn gst_seqnn_context_push_unclassified (GstSeqnnContext *context, GstBuffer *buffer);
/* A serialized event is about to leave: the held cues go first; STREAM_START,
 * SEGMENT, GAP, EOS and the reset event restart the context, and before EOS
 * *toc is set to the TOC of the segments (or NULL), to push before it. */
GstFlowReturn gst_seqnn_context_event (GstSeqnnContext *context, GstEvent *event, GstEvent **toc);
/* Decides and releases every held cue; restart: then end the running
 * segment (posting it) and forget the context. */
GstFlowReturn gst_seqnn_context_drain (GstSeqnnContext *context, gboolean restart);
/* Flush: drops the held cues and forgets context and segments. */
void gst_seqnn_context_clear (GstSeqnnContext *context);
/* The segments posted since the start (or the last clear) as a TOC event:
 * one edition with a chapter per segment (start/stop times, the label as
 * title); NULL when there were none. Call after drain (ctx, TRUE). */
GstEvent *gst_seqnn_context_toc_event (GstSeqnnContext *context);
/* Held cues (for tests and the lookahead bound). */
guint gst_seqnn_context_get_n_held (const GstSeqnnContext *context);

G_END_DECLS
