/* GStreamer seqnn: the queue between lstmclassify's sink pad and its task
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/base/gstqueuearray.h>

#include "gstseqnnbatcher.h"

/* A queued buffer or serialized event and when it came (for max-latency). */
typedef struct {
  GstMiniObject *object;
  GstClockTime arrival;
  gboolean arrival_on_clock; /* read from the element's clock, else monotonic ns */
  SeqnnVocab *vocab;         /* a buffer encoded on arrival: the vocabulary (a ref), else NULL */
  guint n_ids;               /* and its number of ids, queued in queued_ids */
  gboolean markup;
} QueueItem;

struct _GstSeqnnBatcher {
  GstElement *element;        /* for its clock */
  GstPad *srcpad;             /* whose task takes */

  /* All below under lock; cond signals any change. */
  GMutex lock;
  GCond cond;
  guint batch_size;
  GstClockTime max_latency;
  gboolean stamp_arrivals;    /* every buffer gets its arrival time (live lookahead) */
  GstQueueArray *queue;       /* QueueItem, arrival order */
  guint n_queued_buffers;
  guint n_queued_events;
  gboolean busy;              /* the task runs or pushes what it took */
  gboolean drain;             /* a serialized query waits: run partial batches now */
  gboolean flushing;
  gboolean downstream_eos;    /* downstream returned EOS: buffers are refused with EOS
                               * until a SEGMENT or STREAM_START, events still pass */
  GstFlowReturn srcresult;
  GstClockID wait_id;         /* the task's max-latency wait, to unschedule */
  GArray *queued_ids;         /* gint32: the queued encoded buffers' ids in queue order... */
  guint queued_ids_head;      /* ...from this index on */

  GstSeqnnBatch batch;        /* the task's: what it took last */
  guint batch_alloc;
};

GstSeqnnBatcher *
gst_seqnn_batcher_new (GstElement *element, GstPad *srcpad)
{
  GstSeqnnBatcher *b = g_new0 (GstSeqnnBatcher, 1);

  b->element = element;
  b->srcpad = srcpad;
  g_mutex_init (&b->lock);
  g_cond_init (&b->cond);
  b->batch_size = 1;
  b->queue = gst_queue_array_new_for_struct (sizeof (QueueItem), 32);
  b->queued_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  b->batch.ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  b->flushing = TRUE;
  b->srcresult = GST_FLOW_FLUSHING;
  return b;
}

static void
queue_item_clear (QueueItem *item)
{
  gst_mini_object_unref (item->object);
  g_clear_pointer (&item->vocab, seqnn_vocab_unref);
}

static void
batch_release (GstSeqnnBatch *batch)
{
  for (guint i = 0; i < batch->n; i++) {
    if (batch->buffers[i] != NULL)
      gst_buffer_unref (batch->buffers[i]);
    batch->buffers[i] = NULL;
    g_clear_pointer (&batch->slots[i].vocab, seqnn_vocab_unref);
  }
  batch->n = 0;
  g_array_set_size (batch->ids, 0);
}

static void
clear_locked (GstSeqnnBatcher *b)
{
  QueueItem *item;

  while ((item = gst_queue_array_pop_head_struct (b->queue)) != NULL)
    queue_item_clear (item);
  b->n_queued_buffers = 0;
  b->n_queued_events = 0;
  g_array_set_size (b->queued_ids, 0);
  b->queued_ids_head = 0;
  b->drain = FALSE;
}

void
gst_seqnn_batcher_free (GstSeqnnBatcher *b)
{
  if (b == NULL)
    return;
  clear_locked (b);
  batch_release (&b->batch);
  gst_queue_array_free (b->queue);
  g_array_free (b->queued_ids, TRUE);
  g_array_free (b->batch.ids, TRUE);
  g_free (b->batch.buffers);
  g_free (b->batch.slots);
  g_mutex_clear (&b->lock);
  g_cond_clear (&b->cond);
  g_free (b);
}

static void
wake_task_locked (GstSeqnnBatcher *b)
{
  if (b->wait_id)
    gst_clock_id_unschedule (b->wait_id);
  g_cond_broadcast (&b->cond);
}

void
gst_seqnn_batcher_set_stamp_arrivals (GstSeqnnBatcher *b, gboolean stamp)
{
  g_mutex_lock (&b->lock);
  b->stamp_arrivals = stamp;
  g_mutex_unlock (&b->lock);
}

GstClockTime
gst_seqnn_batcher_clock_time (GstSeqnnBatcher *b)
{
  GstClock *clock = gst_element_get_clock (b->element);
  GstClockTime now = GST_CLOCK_TIME_NONE;

  if (clock) {
    now = gst_clock_get_time (clock);
    gst_object_unref (clock);
  }
  return now;
}

void
gst_seqnn_batcher_set_limits (GstSeqnnBatcher *b, guint batch_size, GstClockTime max_latency)
{
  g_mutex_lock (&b->lock);
  b->batch_size = MAX (batch_size, 1);
  b->max_latency = max_latency;
  wake_task_locked (b);
  g_mutex_unlock (&b->lock);
}

/* ---- The ids FIFO ---------------------------------------------------------- */

/* Appends the ids of a buffer being queued (a FIFO whose front is compacted
 * away once it is at least half of the array). */
static void
queued_ids_push_locked (GstSeqnnBatcher *b, const gint32 *ids, guint n)
{
  GArray *fifo = b->queued_ids;

  if (b->queued_ids_head > 0 && b->queued_ids_head * 2 >= fifo->len) {
    guint keep = fifo->len - b->queued_ids_head;
    memmove (fifo->data, &g_array_index (fifo, gint32, b->queued_ids_head), keep * sizeof (gint32));
    g_array_set_size (fifo, keep);
    b->queued_ids_head = 0;
  }
  g_array_append_vals (fifo, ids, n);
}

/* Moves the next n queued ids to the end of to (or drops them when NULL). */
static void
queued_ids_pop_locked (GstSeqnnBatcher *b, guint n, GArray *to)
{
  if (to != NULL)
    g_array_append_vals (to, &g_array_index (b->queued_ids, gint32, b->queued_ids_head), n);
  b->queued_ids_head += n;
  if (b->queued_ids_head == b->queued_ids->len) {
    g_array_set_size (b->queued_ids, 0);
    b->queued_ids_head = 0;
  }
}

/* ---- Sink side --------------------------------------------------------------- */

static GstClockTime
now_ns (GstSeqnnBatcher *b, gboolean *on_clock)
{
  GstClock *clock = gst_element_get_clock (b->element);
  GstClockTime now;

  if (clock) {
    now = gst_clock_get_time (clock);
    gst_object_unref (clock);
    *on_clock = TRUE;
  } else {
    now = (GstClockTime) g_get_monotonic_time () * GST_USECOND;
    *on_clock = FALSE;
  }
  return now;
}

static gboolean
is_pushable_after_eos (GstMiniObject *object)
{
  return GST_IS_EVENT (object) && (GST_EVENT_TYPE (object) == GST_EVENT_EOS
      || GST_EVENT_TYPE (object) == GST_EVENT_SEGMENT
      || GST_EVENT_TYPE (object) == GST_EVENT_STREAM_START);
}

/* Queues item (taken), or drops it and returns why not. */
static GstFlowReturn
push_item (GstSeqnnBatcher *b, QueueItem *item, const gint32 *ids, gboolean *restart)
{
  gboolean is_buffer = GST_IS_BUFFER (item->object);
  GstFlowReturn ret;

  g_mutex_lock (&b->lock);
  while (is_buffer && b->srcresult == GST_FLOW_OK && b->n_queued_buffers >= 2 * b->batch_size)
    g_cond_wait (&b->cond, &b->lock);
  /* A new segment or stream after downstream EOS is played again (GstQueue). */
  if (!is_buffer && is_pushable_after_eos (item->object)
      && GST_EVENT_TYPE (item->object) != GST_EVENT_EOS) {
    b->downstream_eos = FALSE;
    if (b->srcresult == GST_FLOW_EOS) {
      b->srcresult = GST_FLOW_OK;
      *restart = TRUE;
    }
  }
  ret = b->srcresult;
  if (ret == GST_FLOW_OK && is_buffer && b->downstream_eos)
    ret = GST_FLOW_EOS;
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&b->lock);
    queue_item_clear (item);
    return ret;
  }
  if (item->vocab != NULL)
    queued_ids_push_locked (b, ids, item->n_ids);
  gst_queue_array_push_tail_struct (b->queue, item);
  if (is_buffer)
    b->n_queued_buffers++;
  else
    b->n_queued_events++;
  /* Wake the task only when it has something to do: a complete batch, an
   * event, or a first buffer whose max-latency deadline it must start
   * waiting for. Not on every buffer: each wake-up is a context switch. */
  if (!is_buffer || b->n_queued_buffers == b->batch_size
      || (b->max_latency > 0 && b->n_queued_buffers == 1))
    wake_task_locked (b);
  g_mutex_unlock (&b->lock);
  return GST_FLOW_OK;
}

GstFlowReturn
gst_seqnn_batcher_push_buffer (GstSeqnnBatcher *b, GstBuffer *buffer, SeqnnVocab *vocab,
    const gint32 *ids, guint n_ids, gboolean markup)
{
  QueueItem item = { GST_MINI_OBJECT_CAST (buffer), 0, FALSE, vocab, vocab ? n_ids : 0, markup };
  gboolean restart = FALSE;
  GstClockTime max_latency;

  gboolean stamp;

  g_mutex_lock (&b->lock);
  max_latency = b->max_latency;
  stamp = b->stamp_arrivals;
  g_mutex_unlock (&b->lock);
  if (max_latency > 0 || stamp)
    item.arrival = now_ns (b, &item.arrival_on_clock);
  return push_item (b, &item, ids, &restart);
}

GstFlowReturn
gst_seqnn_batcher_push_event (GstSeqnnBatcher *b, GstEvent *event, gboolean *restart)
{
  QueueItem item = { GST_MINI_OBJECT_CAST (event), 0, FALSE, NULL, 0, FALSE };

  *restart = FALSE;
  return push_item (b, &item, NULL, restart);
}

gboolean
gst_seqnn_batcher_drain (GstSeqnnBatcher *b)
{
  gboolean ok;

  g_mutex_lock (&b->lock);
  b->drain = TRUE;
  wake_task_locked (b);
  while (b->srcresult == GST_FLOW_OK && (gst_queue_array_get_length (b->queue) > 0 || b->busy))
    g_cond_wait (&b->cond, &b->lock);
  b->drain = FALSE;
  ok = b->srcresult == GST_FLOW_OK;
  g_mutex_unlock (&b->lock);
  return ok;
}

void
gst_seqnn_batcher_set_flushing (GstSeqnnBatcher *b, gboolean flushing)
{
  g_mutex_lock (&b->lock);
  b->flushing = flushing;
  b->srcresult = flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
  b->downstream_eos = FALSE;
  wake_task_locked (b);
  g_mutex_unlock (&b->lock);
}

void
gst_seqnn_batcher_flush (GstSeqnnBatcher *b)
{
  guint n;

  g_mutex_lock (&b->lock);
  n = gst_queue_array_get_length (b->queue);
  for (guint i = 0; i < n; i++) {
    QueueItem item = *(QueueItem *) gst_queue_array_pop_head_struct (b->queue);
    if (GST_IS_EVENT (item.object) && GST_EVENT_IS_STICKY (item.object)
        && GST_EVENT_TYPE (item.object) != GST_EVENT_SEGMENT
        && GST_EVENT_TYPE (item.object) != GST_EVENT_EOS)
      gst_queue_array_push_tail_struct (b->queue, &item);
    else
      queue_item_clear (&item);
  }
  b->n_queued_buffers = 0;
  /* Every buffer went, and with them all queued ids. */
  g_array_set_size (b->queued_ids, 0);
  b->queued_ids_head = 0;
  b->n_queued_events = gst_queue_array_get_length (b->queue);
  g_mutex_unlock (&b->lock);
}

void
gst_seqnn_batcher_clear (GstSeqnnBatcher *b)
{
  g_mutex_lock (&b->lock);
  clear_locked (b);
  g_mutex_unlock (&b->lock);
}

/* ---- Task side --------------------------------------------------------------- */

/* A batch is ready to run when full, or before an event, or for a drain. */
static gboolean
batch_ready_locked (GstSeqnnBatcher *b)
{
  return b->n_queued_buffers >= b->batch_size || b->n_queued_events > 0 || b->drain;
}

/* Waits, lock held, until deadline (on the element's clock when on_clock,
 * else monotonic ns) or a wake-up; TRUE when the deadline passed. */
static gboolean
wait_deadline_locked (GstSeqnnBatcher *b, GstClockTime deadline, gboolean on_clock)
{
  GstClock *clock = gst_element_get_clock (b->element);
  gboolean passed = FALSE;

  if (clock && on_clock) {
    GstClockID id = gst_clock_new_single_shot_id (clock, deadline);
    GstClockReturn cret;

    b->wait_id = id;
    g_mutex_unlock (&b->lock);
    cret = gst_clock_id_wait (id, NULL);
    g_mutex_lock (&b->lock);
    b->wait_id = NULL;
    gst_clock_id_unref (id);
    passed = cret == GST_CLOCK_OK || cret == GST_CLOCK_EARLY;
  } else if (!clock && !on_clock) {
    GstClockTime now = (GstClockTime) g_get_monotonic_time () * GST_USECOND;
    gint64 end = g_get_monotonic_time () + (gint64) ((deadline - MIN (deadline, now)) / GST_USECOND);
    passed = !g_cond_wait_until (&b->cond, &b->lock, end);
  } else {
    passed = TRUE; /* the clock came or went since: run now */
  }
  if (clock)
    gst_object_unref (clock);
  return passed;
}

/* Moves up to batch-size buffers from the queue's head into the batch. */
static void
take_batch_locked (GstSeqnnBatcher *b)
{
  GstSeqnnBatch *batch = &b->batch;
  QueueItem *head;

  if (b->batch_alloc < b->batch_size) {
    b->batch_alloc = b->batch_size;
    batch->buffers = g_renew (GstBuffer *, batch->buffers, b->batch_alloc);
    batch->slots = g_renew (GstSeqnnBatchSlot, batch->slots, b->batch_alloc);
  }
  batch->n = 0;
  g_array_set_size (batch->ids, 0);
  while (batch->n < b->batch_size && (head = gst_queue_array_peek_head_struct (b->queue)) != NULL
      && GST_IS_BUFFER (head->object)) {
    GstSeqnnBatchSlot *slot = &batch->slots[batch->n];
    slot->arrival = head->arrival_on_clock ? head->arrival : GST_CLOCK_TIME_NONE;
    slot->vocab = head->vocab; /* the item's reference moves to the batch */
    slot->start = batch->ids->len;
    slot->n_ids = head->n_ids;
    slot->markup = head->markup;
    if (head->vocab != NULL)
      queued_ids_pop_locked (b, head->n_ids, batch->ids);
    batch->buffers[batch->n++] = GST_BUFFER (head->object);
    gst_queue_array_pop_head_struct (b->queue);
  }
  b->n_queued_buffers -= batch->n;
}

GstEvent *
gst_seqnn_batcher_take (GstSeqnnBatcher *b, GstSeqnnBatch **batch, GstClockTime wake_at,
    gboolean *woke)
{
  GstEvent *event = NULL;
  QueueItem *head;

  *batch = NULL;
  *woke = FALSE;
  g_mutex_lock (&b->lock);
  for (;;) {
    if (b->flushing) {
      /* Paused with the lock held: a FLUSH_STOP's restart cannot come in between. */
      gst_pad_pause_task (b->srcpad);
      g_mutex_unlock (&b->lock);
      return NULL;
    }
    head = gst_queue_array_peek_head_struct (b->queue);
    if (head != NULL && GST_IS_EVENT (head->object)) {
      event = GST_EVENT (head->object);
      gst_queue_array_pop_head_struct (b->queue);
      b->n_queued_events--;
      break;
    }
    if (head != NULL && batch_ready_locked (b))
      break;
    if (head != NULL && b->max_latency > 0
        && (!GST_CLOCK_TIME_IS_VALID (wake_at) || !head->arrival_on_clock
            || head->arrival + b->max_latency <= wake_at)) {
      if (wait_deadline_locked (b, head->arrival + b->max_latency, head->arrival_on_clock)
          && !b->flushing && gst_queue_array_get_length (b->queue) > 0)
        break;
      continue;
    }
    b->drain = FALSE; /* nothing left to run */
    g_cond_broadcast (&b->cond);
    if (GST_CLOCK_TIME_IS_VALID (wake_at)) {
      /* The caller's own deadline comes first (or alone). */
      if (wait_deadline_locked (b, wake_at, TRUE) && !b->flushing) {
        *woke = TRUE;
        break;
      }
      continue;
    }
    g_cond_wait (&b->cond, &b->lock);
  }
  if (event == NULL && !*woke) {
    take_batch_locked (b);
    *batch = &b->batch;
  }
  b->busy = TRUE;
  g_cond_broadcast (&b->cond); /* room for the sink side */
  g_mutex_unlock (&b->lock);
  return event;
}

/* Downstream returned EOS. As GstQueue does: what is queued before the next
 * EOS, SEGMENT or STREAM_START is dropped (those still go, so the pipeline
 * ends or a new segment plays); with none queued, new buffers are refused
 * with EOS until one comes. */
static void
drop_to_pushable_locked (GstSeqnnBatcher *b)
{
  QueueItem *head;

  while ((head = gst_queue_array_peek_head_struct (b->queue)) != NULL
      && !is_pushable_after_eos (head->object)) {
    QueueItem item = *(QueueItem *) gst_queue_array_pop_head_struct (b->queue);
    if (GST_IS_BUFFER (item.object)) {
      b->n_queued_buffers--;
      if (item.vocab != NULL)
        queued_ids_pop_locked (b, item.n_ids, NULL);
    } else {
      b->n_queued_events--;
    }
    queue_item_clear (&item);
  }
  b->downstream_eos = head == NULL;
}

GstFlowReturn
gst_seqnn_batcher_done (GstSeqnnBatcher *b, GstFlowReturn ret, gboolean from_batch)
{
  batch_release (&b->batch);
  g_mutex_lock (&b->lock);
  b->busy = FALSE;
  g_cond_broadcast (&b->cond);
  if (ret == GST_FLOW_EOS && from_batch && !b->flushing) {
    GST_DEBUG_OBJECT (b->element, "downstream is EOS, dropping buffers until EOS or a segment");
    drop_to_pushable_locked (b);
    ret = GST_FLOW_OK;
  }
  if (ret != GST_FLOW_OK && !b->flushing)
    b->srcresult = ret;
  if (ret != GST_FLOW_OK) {
    /* Under the lock, as in take: a restart cannot come in between. */
    GST_DEBUG_OBJECT (b->element, "pausing the task: %s", gst_flow_get_name (ret));
    gst_pad_pause_task (b->srcpad);
  }
  g_mutex_unlock (&b->lock);
  return ret;
}
