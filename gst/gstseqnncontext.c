/* GStreamer seqnn: lstmclassify's context across cues
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A cue is held while later cues within its lookahead may still come: it is
 * decided when a cue arrives more than lookahead after its start (the new
 * cue is then not part of its window), or when the context drains (a
 * serialized event, EOS, a reset). Cues without a timestamp are decided
 * at once (causal). Decisions go through seqnn_context_filter_pop, the
 * decided topics through seqnn_segmenter_add. */
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
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstLstmClassifyContext", values));
  return type;
}

typedef struct {
  GstBuffer *buffer;
  gboolean empty;           /* no tokens: cue filled with nothing */
  gfloat cue[];             /* n_classes cue-alone probabilities */
} Held;

struct _GstSeqnnContext {
  GstElement *element;
  GstSeqnnContextRelease release;
  gpointer user_data;
  GstSeqnnContextSettings settings;
  gchar **labels;
  guint n_classes;
  SeqnnContextFilter *filter;
  SeqnnSegmenter *segmenter;
  GQueue held;              /* of Held, oldest first */
  GArray *segments;         /* SeqnnSegment, for the TOC */
  GstClockTime last_end;    /* end of the newest cue, for the gap reset */
  gfloat *probs;            /* n_classes scratch */
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
  seqnn_segmenter_free (ctx->segmenter);
  g_array_free (ctx->segments, TRUE);
  g_strfreev (ctx->labels);
  g_free (ctx->probs);
  g_free (ctx);
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

/* Decides the oldest held cue and releases it. */
static GstFlowReturn
decide_oldest (GstSeqnnContext *ctx)
{
  Held *h = g_queue_pop_head (&ctx->held);
  GstBuffer *buffer = h->buffer;
  GstClockTime pts = GST_BUFFER_PTS (buffer), dur = GST_BUFFER_DURATION (buffer);
  gint label = seqnn_context_filter_pop (ctx->filter, ctx->probs);
  SeqnnSegment ended;
  GstFlowReturn ret;

  if (seqnn_segmenter_add (ctx->segmenter, GST_CLOCK_TIME_IS_VALID (pts) ? pts : SEQNN_TIME_NONE,
          GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (dur) ? pts + dur : SEQNN_TIME_NONE,
          label, ctx->probs[label], &ended))
    post_segment (ctx, &ended);
  ret = ctx->release (ctx->user_data, buffer, ctx->probs, h->empty ? NULL : h->cue);
  g_free (h);
  return ret;
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
      seqnn_context_filter_reset (ctx->filter);
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

  if (ctx->filter == NULL)
    return GST_FLOW_OK;
  ret = release_all (ctx);
  if (restart) {
    if (seqnn_segmenter_finish (ctx->segmenter, &ended))
      post_segment (ctx, &ended);
    seqnn_context_filter_reset (ctx->filter);
    ctx->last_end = GST_CLOCK_TIME_NONE;
  }
  return ret;
}

GstFlowReturn
gst_seqnn_context_configure (GstSeqnnContext *ctx, const gchar *const *labels, guint n_classes,
    const GstSeqnnContextSettings *settings)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GError *error = NULL;
  gboolean same_labels = ctx->labels != NULL && n_classes == ctx->n_classes;

  for (guint i = 0; same_labels && i < n_classes; i++)
    same_labels = g_strcmp0 (labels[i], ctx->labels[i]) == 0;
  ctx->settings.lookahead = settings->lookahead;
  ctx->settings.reset = settings->reset;
  if (settings->mode == GST_LSTM_CLASSIFY_CONTEXT_NONE) {
    ret = gst_seqnn_context_drain (ctx, TRUE);
    g_clear_pointer (&ctx->filter, seqnn_context_filter_free);
    return ret;
  }
  if (same_labels && ctx->filter && settings->persistence == ctx->settings.persistence)
    return GST_FLOW_OK;

  /* A new model or persistence: the held cues are decided the old way first. */
  ret = gst_seqnn_context_drain (ctx, TRUE);
  seqnn_context_filter_free (ctx->filter);
  ctx->filter = seqnn_context_filter_new ((gint) n_classes, settings->persistence, NULL, &error);
  if (ctx->filter == NULL) {   /* the property's range rules this out; a 1-class model does not */
    GST_ELEMENT_ERROR (ctx->element, LIBRARY, SETTINGS,
        ("context=smooth cannot use this model: %s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  ctx->settings.persistence = settings->persistence;
  g_strfreev (ctx->labels);
  ctx->labels = g_strdupv ((gchar **) labels);
  ctx->n_classes = n_classes;
  g_free (ctx->probs);
  ctx->probs = g_new (gfloat, n_classes);
  return ret;
}

static gboolean
starts_afresh (GstSeqnnContext *ctx, GstBuffer *buffer)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);

  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT))
    return TRUE;
  return GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (ctx->last_end)
      && pts > ctx->last_end && pts - ctx->last_end > ctx->settings.reset;
}

GstFlowReturn
gst_seqnn_context_push (GstSeqnnContext *ctx, GstBuffer *buffer, const gfloat *probs,
    gboolean empty)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer), dur = GST_BUFFER_DURATION (buffer);
  const gfloat *cue_probs = empty ? NULL : probs;
  GstFlowReturn ret = GST_FLOW_OK;
  GError *error = NULL;
  Held *h;

  if (ctx->filter == NULL)      /* context=none */
    return ctx->release (ctx->user_data, buffer, probs, NULL);
  if (starts_afresh (ctx, buffer)) {
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
  if (!seqnn_context_filter_push (ctx->filter, cue_probs, &error)) {
    /* The network's probabilities are finite and sum to 1: not reached but by a bug. */
    GST_ELEMENT_ERROR (ctx->element, STREAM, FAILED, ("Context filter refused a cue: %s",
            error->message), (NULL));
    g_error_free (error);
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }
  h = g_malloc (sizeof (Held) + sizeof (gfloat) * ctx->n_classes);
  h->buffer = buffer;
  h->empty = cue_probs == NULL;
  if (cue_probs)
    memcpy (h->cue, cue_probs, sizeof (gfloat) * ctx->n_classes);
  g_queue_push_tail (&ctx->held, h);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    ctx->last_end = GST_CLOCK_TIME_IS_VALID (dur) ? pts + dur : pts;
  if (ctx->settings.lookahead == 0 || !GST_CLOCK_TIME_IS_VALID (pts))
    return release_all (ctx);
  return GST_FLOW_OK;
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
  if (ctx->filter == NULL)
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
  if (ctx->filter)
    seqnn_context_filter_reset (ctx->filter);
  seqnn_segmenter_finish (ctx->segmenter, NULL);
  g_array_set_size (ctx->segments, 0);
  ctx->last_end = GST_CLOCK_TIME_NONE;
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
