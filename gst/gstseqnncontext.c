/* GStreamer seqnn: lstmclassify's context across cues
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A cue is held while later cues within its lookahead may still come: it is
 * decided when a cue arrives more than lookahead after its start (the new
 * cue is then not part of its window), or when the context drains (a
 * serialized event, EOS, a reset), or live once its deadline (arrival +
 * lookahead on the element's clock) passed. Cues without a timestamp are
 * decided at once (causal). context=smooth decides through
 * seqnn_context_filter_pop over the cue-alone probabilities; context=stream
 * runs each cue through seqnn_stream_run from the carried state and decides
 * with those probabilities, through the same fixed-lag filter when there is
 * a lookahead. The decided topics go through seqnn_segmenter_add. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstseqnncontext.h"

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

/* The values of lstmclassify's context property. */
GType
gst_lstm_classify_context_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_LSTM_CLASSIFY_CONTEXT_NONE, "Every buffer alone (independent records)", "none"},
    {GST_LSTM_CLASSIFY_CONTEXT_SMOOTH, "Topic persistence over the stream (any model)", "smooth"},
    {GST_LSTM_CLASSIFY_CONTEXT_STREAM, "The recurrent state runs on from cue to cue (a stream "
          "model)", "stream"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstLstmClassifyContext", values));
  return type;
}

typedef struct {
  GstBuffer *buffer;
  gboolean empty;           /* no tokens: takes the context's topic */
  GstClockTime deadline;    /* live: decided by then at the latest (NONE: no bound) */
  gfloat probs[];           /* n_classes cue-alone probabilities, then (context=stream)
                             * n_classes stream probabilities */
} Held;

struct _GstSeqnnContext {
  GstElement *element;
  GstSeqnnContextRelease release;
  gpointer user_data;
  GstSeqnnContextSettings settings;
  gchar **labels;
  guint n_classes;
  SeqnnContextFilter *filter;   /* smooth, and stream with lookahead; NULL with none */
  SeqnnStream *stream;          /* context=stream: the carried recurrent state */
  gboolean passthrough;         /* stream without lookahead: the stream decides alone */
  SeqnnSegmenter *segmenter;
  GQueue held;              /* of Held, oldest first */
  GArray *segments;         /* SeqnnSegment, for the TOC */
  GstClockTime last_end;    /* end of the newest cue, for the gap reset */
  gboolean warned_untimed;  /* the lookahead-without-timestamps warning was posted */
  gfloat *probs;            /* n_classes scratch */
  /* context=stream over a batch (run_stream_batch): its cues' stream
   * probabilities, computed ahead, taken in order by push_cue */
  GArray *run_ids, *run_lengths;  /* gint32, gint: the stretch being gathered */
  GArray *ahead;                  /* gfloat, n_classes per classified cue */
  guint n_taken;                  /* cues of ahead taken; ahead unused when it is empty */
};

GstSeqnnContext *
gst_seqnn_context_new (GstElement *element, GstSeqnnContextRelease release, gpointer user_data)
{
  GstSeqnnContext *ctx = g_new0 (GstSeqnnContext, 1);

  ctx->element = element;
  ctx->release = release;
  ctx->user_data = user_data;
  ctx->segmenter = seqnn_segmenter_new ();
  ctx->segments = g_array_new (FALSE, FALSE, sizeof (SeqnnSegment));
  ctx->last_end = GST_CLOCK_TIME_NONE;
  g_queue_init (&ctx->held);
  ctx->run_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  ctx->run_lengths = g_array_new (FALSE, FALSE, sizeof (gint));
  ctx->ahead = g_array_new (FALSE, FALSE, sizeof (gfloat));
  return ctx;
}

static void
held_free (gpointer data)
{
  Held *h = data;
  gst_buffer_unref (h->buffer);
  g_free (h);
}

void
gst_seqnn_context_free (GstSeqnnContext *ctx)
{
  if (ctx == NULL)
    return;
  g_queue_clear_full (&ctx->held, held_free);
  seqnn_context_filter_free (ctx->filter);
  g_clear_pointer (&ctx->stream, seqnn_stream_free);
  seqnn_segmenter_free (ctx->segmenter);
  g_array_free (ctx->segments, TRUE);
  g_strfreev (ctx->labels);
  g_free (ctx->probs);
  g_array_unref (ctx->run_ids);
  g_array_unref (ctx->run_lengths);
  g_array_unref (ctx->ahead);
  g_free (ctx);
}

static gboolean
is_active (const GstSeqnnContext *ctx)
{
  return ctx->filter != NULL || ctx->passthrough;
}

static void
post_segment (GstSeqnnContext *ctx, const SeqnnSegment *seg)
{
  GstStructure *s = gst_structure_new ("lstmclassify-segment",
      "start", GST_TYPE_CLOCK_TIME, (GstClockTime) seg->start,
      "end", GST_TYPE_CLOCK_TIME, (GstClockTime) seg->end,
      "label", G_TYPE_STRING, ctx->labels[seg->label],
      "class-id", G_TYPE_INT, seg->label,
      "confidence", G_TYPE_DOUBLE, seg->mean_confidence,
      "n-cues", G_TYPE_UINT, seg->n_cues, NULL);

  GST_DEBUG_OBJECT (ctx->element, "segment %" GST_PTR_FORMAT, s);
  g_array_append_val (ctx->segments, *seg);
  gst_element_post_message (ctx->element, gst_message_new_element (GST_OBJECT (ctx->element), s));
}

/* The stream's own probabilities decide (first maximum). */
static gint
decide_passthrough (GstSeqnnContext *ctx, const Held *h)
{
  gint best = 0;

  memcpy (ctx->probs, h->probs + ctx->n_classes, sizeof (gfloat) * ctx->n_classes);
  for (guint c = 1; c < ctx->n_classes; c++)
    if (ctx->probs[c] > ctx->probs[best])
      best = (gint) c;
  return best;
}

/* Decides the oldest held cue and releases it. */
static GstFlowReturn
decide_oldest (GstSeqnnContext *ctx)
{
  Held *h = g_queue_pop_head (&ctx->held);
  GstBuffer *buffer = h->buffer;
  GstClockTime pts = GST_BUFFER_PTS (buffer), dur = GST_BUFFER_DURATION (buffer);
  gint label = ctx->passthrough ? decide_passthrough (ctx, h)
      : seqnn_context_filter_pop (ctx->filter, ctx->probs);
  SeqnnSegment ended;
  GstFlowReturn ret;

  if (seqnn_segmenter_add (ctx->segmenter, GST_CLOCK_TIME_IS_VALID (pts) ? pts : SEQNN_TIME_NONE,
          GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (dur) ? pts + dur : SEQNN_TIME_NONE,
          label, ctx->probs[label], &ended))
    post_segment (ctx, &ended);
  ret = ctx->release (ctx->user_data, buffer, ctx->probs, h->empty ? NULL : h->probs);
  g_free (h);
  return ret;
}

/* Forgets the context: the next cue starts from nothing. */
static void
forget (GstSeqnnContext *ctx)
{
  if (ctx->filter)
    seqnn_context_filter_reset (ctx->filter);
  /* a batch run ahead restarted the stream at this cue already */
  if (ctx->stream && ctx->ahead->len == 0)
    seqnn_stream_reset (ctx->stream);
  ctx->last_end = GST_CLOCK_TIME_NONE;
}

static GstFlowReturn
release_all (GstSeqnnContext *ctx)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (!g_queue_is_empty (&ctx->held)) {
    ret = decide_oldest (ctx);
    if (ret != GST_FLOW_OK) {
      /* Downstream refused (flushing, EOS, error): the rest cannot go either. */
      g_queue_clear_full (&ctx->held, held_free);
      forget (ctx);
      break;
    }
  }
  return ret;
}

GstFlowReturn
gst_seqnn_context_drain (GstSeqnnContext *ctx, gboolean restart)
{
  GstFlowReturn ret;
  SeqnnSegment ended;

  if (!is_active (ctx))
    return GST_FLOW_OK;
  ret = release_all (ctx);
  if (restart) {
    if (seqnn_segmenter_finish (ctx->segmenter, &ended))
      post_segment (ctx, &ended);
    forget (ctx);
  }
  return ret;
}

/* Whether the context built for the last batch still fits. */
static gboolean
fits (GstSeqnnContext *ctx, const GstSeqnnModelInUse *model,
    const GstSeqnnContextSettings *settings)
{
  gboolean stream = settings->mode == GST_LSTM_CLASSIFY_CONTEXT_STREAM;
  gdouble persistence = stream ? settings->stream_persistence : settings->persistence;
  gboolean fit = is_active (ctx) && ctx->labels != NULL && model->n_labels == ctx->n_classes
      && settings->mode == ctx->settings.mode && persistence == ctx->settings.persistence
      && (stream && settings->lookahead == 0) == ctx->passthrough
      && (!stream || seqnn_stream_get_classifier (ctx->stream) == model->classifier);

  for (guint i = 0; fit && i < model->n_labels; i++)
    fit = g_strcmp0 (model->labels[i], ctx->labels[i]) == 0;
  return fit;
}

GstFlowReturn
gst_seqnn_context_configure (GstSeqnnContext *ctx, const GstSeqnnModelInUse *model,
    const GstSeqnnContextSettings *settings)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GError *error = NULL;
  gboolean stream = settings->mode == GST_LSTM_CLASSIFY_CONTEXT_STREAM;
  /* The stream's probabilities already carry the past: a filter over them
   * wants a lower persistence than one over cue-alone probabilities. */
  gdouble persistence = stream ? settings->stream_persistence : settings->persistence;

  ctx->settings.lookahead = settings->lookahead;
  ctx->settings.reset = settings->reset;
  if (settings->mode == GST_LSTM_CLASSIFY_CONTEXT_NONE) {
    ret = gst_seqnn_context_drain (ctx, TRUE);
    g_clear_pointer (&ctx->filter, seqnn_context_filter_free);
    g_clear_pointer (&ctx->stream, seqnn_stream_free);
    ctx->passthrough = FALSE;
    ctx->settings.mode = settings->mode;
    return ret;
  }
  if (fits (ctx, model, settings))
    return GST_FLOW_OK;

  /* A new model, mode or persistence: the held cues are decided the old way first. */
  ret = gst_seqnn_context_drain (ctx, TRUE);
  g_clear_pointer (&ctx->filter, seqnn_context_filter_free);
  g_clear_pointer (&ctx->stream, seqnn_stream_free);
  ctx->passthrough = stream && settings->lookahead == 0;
  if (stream && (ctx->stream = seqnn_stream_new (model->classifier, 1, &error)) == NULL) {
    /* The element refuses such a model at start and at a swap: a bug if reached. */
    GST_ELEMENT_ERROR (ctx->element, LIBRARY, SETTINGS,
        ("context=stream cannot use model '%s': %s", model->path, error->message), (NULL));
    g_error_free (error);
    ctx->passthrough = FALSE;
    return GST_FLOW_ERROR;
  }
  if (!ctx->passthrough && (ctx->filter = seqnn_context_filter_new ((gint) model->n_labels,
              persistence, NULL, &error)) == NULL) {
    /* the property's range rules this out; a 1-class model does not */
    GST_ELEMENT_ERROR (ctx->element, LIBRARY, SETTINGS,
        ("context=%s cannot use this model: %s", stream ? "stream" : "smooth", error->message),
        (NULL));
    g_error_free (error);
    g_clear_pointer (&ctx->stream, seqnn_stream_free);
    return GST_FLOW_ERROR;
  }
  ctx->settings.mode = settings->mode;
  ctx->settings.persistence = persistence;   /* the one in use */
  g_strfreev (ctx->labels);
  ctx->labels = g_strdupv ((gchar **) model->labels);
  ctx->n_classes = model->n_labels;
  g_free (ctx->probs);
  ctx->probs = g_new (gfloat, model->n_labels);
  return ret;
}

/* Whether the context restarts at buffer, the newest cue having ended at last_end. */
static gboolean
starts_afresh (const GstSeqnnContext *ctx, GstBuffer *buffer, GstClockTime last_end)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);

  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT))
    return TRUE;
  return GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (last_end)
      && pts > last_end && pts - last_end > ctx->settings.reset;
}

/* Where a cue leaves the newest end for the gap reset. */
static GstClockTime
cue_end (GstBuffer *buffer, GstClockTime last_end)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer), dur = GST_BUFFER_DURATION (buffer);

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return last_end;
  return GST_CLOCK_TIME_IS_VALID (dur) ? pts + dur : pts;
}

/* Adds the next classified cue with its cue-alone probabilities (empty: it
 * has no tokens, the probabilities are the network's for one <unk>) and
 * releases the cues whose lookahead has passed. A DISCONT buffer or a
 * timestamp gap longer than settings->reset restarts the context first.
 * context=stream: its stream probabilities are the next of ctx->ahead
 * (run_stream_batch). arrival: when the buffer came, on the element's clock
 * (live), or GST_CLOCK_TIME_NONE: the cue is then decided at arrival +
 * lookahead at the latest (gst_seqnn_context_expire). With context=none the
 * cue is released at once. */
static GstFlowReturn
push_cue (GstSeqnnContext *ctx, GstBuffer *buffer, const gfloat *probs, gboolean empty,
    GstClockTime arrival)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  guint C = ctx->n_classes;
  GstFlowReturn ret = GST_FLOW_OK;
  GError *error = NULL;
  Held *h;

  if (!is_active (ctx))         /* context=none */
    return ctx->release (ctx->user_data, buffer, probs, NULL);
  if (starts_afresh (ctx, buffer, ctx->last_end)) {
    GST_DEBUG_OBJECT (ctx->element, "context restarts at %" GST_TIME_FORMAT, GST_TIME_ARGS (pts));
    ret = gst_seqnn_context_drain (ctx, TRUE);
  }
  /* Cues whose window ends before this one are complete. */
  while (ret == GST_FLOW_OK && !g_queue_is_empty (&ctx->held)) {
    Held *oldest = g_queue_peek_head (&ctx->held);
    GstClockTime opts = GST_BUFFER_PTS (oldest->buffer);
    if (GST_CLOCK_TIME_IS_VALID (pts) && pts <= opts + ctx->settings.lookahead)
      break;
    ret = decide_oldest (ctx);
  }
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    return ret;
  }
  h = g_malloc (sizeof (Held) + sizeof (gfloat) * C * (ctx->stream ? 2 : 1));
  h->buffer = buffer;
  h->empty = empty;
  h->deadline = GST_CLOCK_TIME_IS_VALID (arrival) ? arrival + ctx->settings.lookahead
      : GST_CLOCK_TIME_NONE;
  memcpy (h->probs, probs, sizeof (gfloat) * C);
  if (ctx->stream) {
    g_assert (ctx->n_taken < ctx->ahead->len / C);   /* run_stream_batch ran the batch */
    memcpy (h->probs + C, &g_array_index (ctx->ahead, gfloat, (gsize) ctx->n_taken * C),
        sizeof (gfloat) * C);
    ctx->n_taken++;
  }
  /* smooth: the cue-alone probabilities feed the filter; stream with
   * lookahead: the stream's; a cue without tokens feeds nothing. */
  if (ctx->filter && !seqnn_context_filter_push (ctx->filter,
          empty ? NULL : h->probs + (ctx->stream ? C : 0), &error)) {
    /* The network's probabilities are finite and sum to 1: not reached but by a bug. */
    GST_ELEMENT_ERROR (ctx->element, STREAM, FAILED, ("Context filter refused a cue: %s",
            error->message), (NULL));
    g_error_free (error);
    held_free (h);
    return GST_FLOW_ERROR;
  }
  g_queue_push_tail (&ctx->held, h);
  ctx->last_end = cue_end (buffer, ctx->last_end);
  if (ctx->settings.lookahead > 0 && !GST_CLOCK_TIME_IS_VALID (pts) && !ctx->warned_untimed) {
    /* Smoothing goes on in arrival order; only the lookahead needs times. */
    GST_ELEMENT_WARNING (ctx->element, STREAM, FORMAT, ("A buffer has no timestamp: the "
            "lookahead does not apply to it, it is decided at once (causal)"),
        ("the lookahead counts in stream time; buffers without a PTS are smoothed in arrival "
            "order with lookahead 0"));
    ctx->warned_untimed = TRUE;
  }
  if (ctx->settings.lookahead == 0 || !GST_CLOCK_TIME_IS_VALID (pts))
    return release_all (ctx);
  return GST_FLOW_OK;
}

/* The gathered stretch of cues through the stream, into ahead. */
static gboolean
run_stretch (GstSeqnnContext *ctx, GstBuffer *first)
{
  guint n = ctx->run_lengths->len, at = ctx->ahead->len;
  GError *error = NULL;

  if (n == 0)
    return TRUE;
  g_array_set_size (ctx->ahead, at + (gsize) n * ctx->n_classes);
  if (seqnn_stream_run (ctx->stream, (const gint32 *) ctx->run_ids->data,
          (const gint *) ctx->run_lengths->data, (gint) n,
          &g_array_index (ctx->ahead, gfloat, at), &error)) {
    g_array_set_size (ctx->run_ids, 0);
    g_array_set_size (ctx->run_lengths, 0);
    return TRUE;
  }
  GST_ELEMENT_ERROR (ctx->element, STREAM, FAILED, ("Could not run the stream model on the "
          "cues from %" GST_TIME_FORMAT ": %s", GST_TIME_ARGS (GST_BUFFER_PTS (first)),
          error->message), (NULL));
  g_error_free (error);
  return FALSE;
}

/* context=stream: the batch's cues run from the carried state ahead of
 * push_cue, one seqnn_stream_run per stretch between fresh
 * starts (one input projection for the stretch instead of one per cue), the
 * state restarting at the cue where push will restart the context. */
static gboolean
run_stream_batch (GstSeqnnContext *ctx, const GstSeqnnBatch *batch, const GstSeqnnEncoder *enc)
{
  const gint32 *ids = (const gint32 *) enc->ids->data;
  GstClockTime last_end = ctx->last_end;
  GstBuffer *first = NULL;
  guint start = 0;

  g_array_set_size (ctx->ahead, 0);
  g_array_set_size (ctx->run_ids, 0);
  g_array_set_size (ctx->run_lengths, 0);
  ctx->n_taken = 0;
  for (guint i = 0; i < batch->n; i++) {
    GstBuffer *buffer = batch->buffers[i];
    gint row = g_array_index (enc->rows, gint, i);
    if (row < 0)
      continue;
    gint length = g_array_index (enc->lengths, gint, row);
    gint run_length = g_array_index (enc->empty, gboolean, row) ? 0 : length;

    if (starts_afresh (ctx, buffer, last_end)) {
      if (!run_stretch (ctx, first))
        return FALSE;
      seqnn_stream_reset (ctx->stream);
      last_end = GST_CLOCK_TIME_NONE;
    }
    if (ctx->run_lengths->len == 0)
      first = buffer;
    g_array_append_vals (ctx->run_ids, ids + start, (guint) run_length);
    g_array_append_val (ctx->run_lengths, run_length);
    start += (guint) length;
    last_end = cue_end (buffer, last_end);
  }
  return run_stretch (ctx, first);
}

GstFlowReturn
gst_seqnn_context_push_batch (GstSeqnnContext *ctx, GstSeqnnBatch *batch,
    const GstSeqnnEncoder *enc, const gfloat *probs, guint n_labels, gboolean live)
{
  GstFlowReturn ret = GST_FLOW_OK;

  if (ctx->stream != NULL && is_active (ctx) && !run_stream_batch (ctx, batch, enc)) {
    g_array_set_size (ctx->ahead, 0);
    return GST_FLOW_ERROR;
  }

  for (guint i = 0; i < batch->n; i++) {
    GstBuffer *buffer = batch->buffers[i];
    gint row = g_array_index (enc->rows, gint, i);

    batch->buffers[i] = NULL;
    if (row >= 0) {
      ret = push_cue (ctx, buffer, probs + (gsize) row * n_labels,
          g_array_index (enc->empty, gboolean, row),
          live ? batch->slots[i].arrival : GST_CLOCK_TIME_NONE);
    } else {
      ret = gst_seqnn_context_push_unclassified (ctx, buffer);
    }
    if (ret != GST_FLOW_OK)
      break;
  }
  g_array_set_size (ctx->ahead, 0);
  return ret;
}

GstClockTime
gst_seqnn_context_next_deadline (const GstSeqnnContext *ctx)
{
  const Held *oldest = g_queue_peek_head ((GQueue *) &ctx->held);

  return oldest != NULL ? oldest->deadline : GST_CLOCK_TIME_NONE;
}

GstFlowReturn
gst_seqnn_context_expire (GstSeqnnContext *ctx, GstClockTime now)
{
  GstFlowReturn ret = GST_FLOW_OK;
  Held *oldest;

  while (ret == GST_FLOW_OK && (oldest = g_queue_peek_head (&ctx->held)) != NULL
      && GST_CLOCK_TIME_IS_VALID (oldest->deadline) && oldest->deadline <= now) {
    GST_LOG_OBJECT (ctx->element, "cue at %" GST_TIME_FORMAT " reached its deadline",
        GST_TIME_ARGS (GST_BUFFER_PTS (oldest->buffer)));
    ret = decide_oldest (ctx);
  }
  if (ret != GST_FLOW_OK) {
    g_queue_clear_full (&ctx->held, held_free);
    forget (ctx);
  }
  return ret;
}

GstFlowReturn
gst_seqnn_context_push_unclassified (GstSeqnnContext *ctx, GstBuffer *buffer)
{
  GstFlowReturn ret = gst_seqnn_context_drain (ctx, FALSE);

  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    return ret;
  }
  return ctx->release (ctx->user_data, buffer, NULL, NULL);
}

/* Events where the context starts afresh: a new stream, segment or gap, the
 * end, or the application's programme boundary. */
static gboolean
event_restarts_context (GstEvent *event)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
    case GST_EVENT_SEGMENT:
    case GST_EVENT_GAP:
    case GST_EVENT_EOS:
      return TRUE;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      return gst_event_has_name (event, GST_SEQNN_CONTEXT_RESET_EVENT);
    default:
      return FALSE;
  }
}

GstFlowReturn
gst_seqnn_context_event (GstSeqnnContext *ctx, GstEvent *event, GstEvent **toc)
{
  GstFlowReturn ret;

  *toc = NULL;
  if (!is_active (ctx))
    return GST_FLOW_OK;
  ret = gst_seqnn_context_drain (ctx, event_restarts_context (event));
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    *toc = gst_seqnn_context_toc_event (ctx);
  return ret;
}

void
gst_seqnn_context_clear (GstSeqnnContext *ctx)
{
  g_queue_clear_full (&ctx->held, held_free);
  forget (ctx);
  seqnn_segmenter_finish (ctx->segmenter, NULL);
  g_array_set_size (ctx->segments, 0);
  ctx->warned_untimed = FALSE;
}

GstEvent *
gst_seqnn_context_toc_event (GstSeqnnContext *ctx)
{
  GstToc *toc;
  GstTocEntry *edition;
  GstEvent *event;

  if (ctx->segments->len == 0)
    return NULL;
  toc = gst_toc_new (GST_TOC_SCOPE_GLOBAL);
  edition = gst_toc_entry_new (GST_TOC_ENTRY_TYPE_EDITION, "topics");
  for (guint i = 0; i < ctx->segments->len; i++) {
    const SeqnnSegment *seg = &g_array_index (ctx->segments, SeqnnSegment, i);
    gchar *uid = g_strdup_printf ("topic-%u", i + 1);
    GstTocEntry *chapter = gst_toc_entry_new (GST_TOC_ENTRY_TYPE_CHAPTER, uid);

    gst_toc_entry_set_start_stop_times (chapter,
        seg->start == SEQNN_TIME_NONE ? -1 : (gint64) seg->start,
        seg->end == SEQNN_TIME_NONE ? -1 : (gint64) seg->end);
    gst_toc_entry_set_tags (chapter, gst_tag_list_new (GST_TAG_TITLE, ctx->labels[seg->label], NULL));
    gst_toc_entry_append_sub_entry (edition, chapter);
    g_free (uid);
  }
  gst_toc_append_entry (toc, edition);
  g_array_set_size (ctx->segments, 0);
  event = gst_event_new_toc (toc, FALSE);
  gst_toc_unref (toc);
  return event;
}

guint
gst_seqnn_context_get_n_held (const GstSeqnnContext *ctx)
{
  return g_queue_get_length ((GQueue *) &ctx->held);
}
