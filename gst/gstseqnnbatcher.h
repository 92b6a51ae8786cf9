/* GStreamer seqnn: the queue between lstmclassify's sink pad and its task
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/seqnn.h>

G_BEGIN_DECLS

/* A small queue element's core: the sink pad's threads push buffers and
 * serialized events, the source pad's task takes batches of buffers (full,
 * before an event, for a drain, or once the oldest buffer waited max-latency
 * on the element's clock) and events, in arrival order. It blocks the sink
 * side at two batches, handles flushing and downstream EOS as GstQueue does,
 * and keeps the ids a buffer was encoded to on arrival. Thread-safe. */
typedef struct _GstSeqnnBatcher GstSeqnnBatcher;

/* What a taken buffer was encoded to on arrival, and when it came. */
typedef struct {
  GstClockTime arrival; /* on the element's clock, when stamped (max-latency, stamp-arrivals), else NONE */
  SeqnnVocab *vocab;   /* the vocabulary used (a reference), NULL when not encoded */
  gboolean markup;     /* its text was tokenized as pango-markup */
  guint start, n_ids;  /* its ids in the batch's ids */
} GstSeqnnBatchSlot;

/* A batch taken by the task, owned by the batcher until the next take. */
typedef struct {
  GstBuffer **buffers;       /* n buffers, owned by the taker (set to NULL once given away) */
  GstSeqnnBatchSlot *slots;  /* per buffer; vocab references owned by the batch */
  guint n;
  GArray *ids;               /* gint32, the encoded buffers' ids */
} GstSeqnnBatch;

/* element gives the clock for max-latency; srcpad's task is paused by
 * gst_seqnn_batcher_take/_done (under the batcher's lock, so that a restart
 * cannot come between the decision and the pause). Neither is referenced. */
GstSeqnnBatcher *gst_seqnn_batcher_new (GstElement *element, GstPad *srcpad);
void gst_seqnn_batcher_free (GstSeqnnBatcher *batcher);

/* Every buffer gets its arrival time on the element's clock (for a deadline
 * after the batch, e.g. the live lookahead bound), not only with max-latency. */
void gst_seqnn_batcher_set_stamp_arrivals (GstSeqnnBatcher *batcher, gboolean stamp);
/* The element's clock time now, GST_CLOCK_TIME_NONE without a clock. */
GstClockTime gst_seqnn_batcher_clock_time (GstSeqnnBatcher *batcher);

/* Wakes the task: a smaller batch may be complete, a deadline changed. */
void gst_seqnn_batcher_set_limits (GstSeqnnBatcher *batcher, guint batch_size,
    GstClockTime max_latency);

/* Sink side. Queues buffer (taken), with the ids it was encoded to when vocab
 * is not NULL (vocab: a reference, taken). Blocks while two batches wait.
 * Returns the flow to give upstream: FLUSHING, EOS after downstream EOS, a
 * downstream error; the buffer is then dropped. */
GstFlowReturn gst_seqnn_batcher_push_buffer (GstSeqnnBatcher *batcher, GstBuffer *buffer,
    SeqnnVocab *vocab, const gint32 *ids, guint n_ids, gboolean markup);
/* Queues a serialized event (taken). A SEGMENT or STREAM_START after
 * downstream EOS plays again: *restart is then TRUE and the caller starts the
 * task. Refused (and dropped) with the flow as for buffers. */
GstFlowReturn gst_seqnn_batcher_push_event (GstSeqnnBatcher *batcher, GstEvent *event,
    gboolean *restart);
/* Waits until everything queued has been pushed (serialized queries); FALSE
 * when flushing or downstream failed. */
gboolean gst_seqnn_batcher_drain (GstSeqnnBatcher *batcher);

/* FLUSH_START and deactivation: everything waiting returns FLUSHING. */
void gst_seqnn_batcher_set_flushing (GstSeqnnBatcher *batcher, gboolean flushing);
/* FLUSH_STOP: drops the buffers (and SEGMENT, EOS); the other sticky events
 * still queued describe the stream after the flush too and stay, as in GstQueue. */
void gst_seqnn_batcher_flush (GstSeqnnBatcher *batcher);
/* Drops everything (state changes). */
void gst_seqnn_batcher_clear (GstSeqnnBatcher *batcher);

/* Task side. Waits for work: returns an event (owned by the caller), or NULL
 * with *batch set to the buffers to run (at most batch-size), or NULL with
 * *batch NULL when flushing (the task is then paused), or, with wake_at a
 * time on the element's clock (else GST_CLOCK_TIME_NONE), NULL with *woke
 * TRUE once wake_at passed while nothing was ready (the caller's own work,
 * e.g. held cues to release; call gst_seqnn_batcher_done after it, as after
 * a batch). */
GstEvent *gst_seqnn_batcher_take (GstSeqnnBatcher *batcher, GstSeqnnBatch **batch,
    GstClockTime wake_at, gboolean *woke);
/* After running what take gave: ret is the flow of pushing it (from_batch:
 * it was a batch, not an event). Downstream EOS after a batch drops what is
 * queued up to the next EOS, SEGMENT or STREAM_START and returns OK (those
 * still go, so the pipeline ends). Any other failure is kept for the sink
 * side, pauses the task, and is returned. Releases the batch's buffers and
 * references that the caller left. */
GstFlowReturn gst_seqnn_batcher_done (GstSeqnnBatcher *batcher, GstFlowReturn ret,
    gboolean from_batch);

G_END_DECLS
