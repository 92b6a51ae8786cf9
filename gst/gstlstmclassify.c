/* GStreamer seqnn: text classification with a recurrent network
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-lstmclassify
 * @title: lstmclassify
 *
 * Classifies each text buffer (one subtitle cue, transcript line or news
 * record) with a libseqnn model file (RNN, LSTM or GRU) and attaches a
 * #GstSeqnnClassMeta with the predicted class, its confidence and the full
 * probability vector. Buffers leave in the order they came, with their
 * timestamps, and unchanged unless #GstLstmClassify:annotate says otherwise.
 *
 * Tokens: a #GstSeqnnTokensMeta from seqtokenize is used when present: its
 * ids when seqtokenize was given the same model, else its tokens looked up
 * in the model's vocabulary. Ids outside the vocabulary, or ids that disagree
 * with their tokens (checked on the first such buffer after each model load),
 * are an error naming the buffer. Without the meta the text is tokenized here
 * with the model's tokenizer settings, Pango markup stripped when the caps
 * say format=pango-markup. A buffer that yields no token at all is
 * classified as a single `<unk>`, as libseqnn's training and evaluation do,
 * so the element's accuracy equals the library's on the same data. A buffer
 * flagged GAP with no bytes passes through without a meta.
 *
 * Batching and threads: buffers are collected into batches of
 * #GstLstmClassify:batch-size and run together. All batches are run, and all
 * buffers and serialized events pushed, by one thread: the source pad's
 * streaming task. The sink pad only queues (at most two batches, then it
 * blocks), so upstream parsing and tokenizing overlap the network; the
 * tokens of a tokens meta without ids are looked up in the model's vocabulary
 * there too, as they arrive, and so is the text of a buffer without tokens
 * meta (done again if the model changes before their batch runs). Per classified buffer nothing is allocated besides the
 * class meta, which shares the model's label names. A
 * serialized event (CAPS, SEGMENT, GAP, EOS...) or query makes the buffers
 * before it run as a partial batch and leave before it does; FLUSH_START/STOP
 * drop the pending buffers. With #GstLstmClassify:max-latency > 0 a partial
 * batch also runs once its oldest buffer has waited that long on the
 * element's clock (the monotonic clock when it has none), and the LATENCY
 * query adds max-latency to upstream's minimum and maximum.
 * #GstLstmClassify:n-threads defaults to 1: batches of a few short texts gain
 * little from more, and the other elements need the cores.
 *
 * Ends and stops, as GstQueue does: once downstream returns EOS (a sink
 * with num-buffers), buffers are dropped and refused with EOS, but EOS,
 * SEGMENT and STREAM_START still go through, so the pipeline ends (a new
 * segment plays again). While flushing, or once downstream returned
 * FLUSHING, a serialized event gets the FLUSHING flow back (upstream keeps a
 * sticky one for the restart), never an error: stopping posts nothing.
 *
 * Model swap: setting #GstLstmClassify:model from READY on loads the file at
 * once, in the caller's thread; the new model takes over at the next batch
 * boundary and no buffer is lost or reordered. A file that fails to load
 * posts a WARNING message and the current model stays (the property keeps
 * the old path). Setting the same path again reloads the file, e.g. after
 * lstmtrain rewrote it. In the NULL->READY change a model that cannot be
 * loaded is an ERROR (RESOURCE NOT_FOUND or OPEN_READ, with the library's
 * reason).
 *
 * Outputs: with annotate=prefix the text becomes "[Sports 0.93] text"
 * (label markup-escaped for pango-markup caps, which stay). With
 * annotate=json each buffer becomes one JSON object on its own line: "pts"
 * and "duration" (nanoseconds, null when unset), "label", "class-id",
 * "confidence", "probabilities" (label order), "text" (plain: Pango markup
 * stripped, entities decoded) and "true-label" when the input carried one;
 * the source caps are then text/x-raw,format=utf8, which filesink, fdsink and
 * textoverlay take as they are. post-messages=true posts an element message
 * "lstmclassify" per buffer with fields pts, duration, label, class-id,
 * confidence, probabilities, text (plain) and true-label when known.
 *
 * Evaluation: when the input carries labels (a tokens meta whose label is
 * one of the model's names, or whose label_id is in range), a confusion
 * matrix is kept and on EOS, before EOS goes on, an element message
 * "lstmclassify-summary" is posted with count, accuracy, macro-f1, labels,
 * precision, recall, f1 (arrays in label order) and confusion (rows by true
 * label, columns by prediction). The counts restart after a flush and after
 * a model swap.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=talk.srt ! subparse ! lstmclassify model=news.model post-messages=true ! fakesink
 * gst-launch-1.0 filesrc location=dev.csv ! seqtokenize format=csv ! lstmclassify model=news.model annotate=json ! filesink location=out.jsonl
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <json-glib/json-glib.h>
#include <gst/base/gstqueuearray.h>
#include <seqnn/seqnn.h>

#include "gstlstmclassify.h"
#include "gstseqnnmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

#define TEXT_CAPS "text/x-raw, format = (string) { utf8, pango-markup }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (TEXT_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (TEXT_CAPS));

enum {
  PROP_0,
  PROP_MODEL,
  PROP_BATCH_SIZE,
  PROP_MAX_LATENCY,
  PROP_N_THREADS,
  PROP_POST_MESSAGES,
  PROP_ANNOTATE,
};

#define DEFAULT_PROP_MODEL NULL
#define DEFAULT_PROP_BATCH_SIZE 16
#define DEFAULT_PROP_MAX_LATENCY 0
#define DEFAULT_PROP_N_THREADS 1
#define DEFAULT_PROP_POST_MESSAGES FALSE
#define DEFAULT_PROP_ANNOTATE GST_LSTM_CLASSIFY_ANNOTATE_NONE

/* A queued buffer or serialized event and when it came (for max-latency). */
typedef struct {
  GstMiniObject *object;
  GstClockTime arrival;
  gboolean arrival_on_clock; /* arrival read from the element's clock, else monotonic ns */
  SeqnnVocab *vocab;         /* a buffer encoded on arrival: the vocabulary used (a ref), else NULL */
  guint n_ids;               /* and its number of ids, queued in queued_ids */
  gboolean markup;           /* its text was tokenized as pango-markup (no tokens meta) */
} QueueItem;

/* A buffer of the batch being run: what its QueueItem said about its ids. */
typedef struct {
  SeqnnVocab *vocab;         /* the item's reference, or NULL */
  guint start, n_ids;        /* its ids in batch_ids */
  gboolean markup;
} BatchSlot;

struct _GstLstmClassify {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* Properties, under the object lock. */
  gchar *model_path;
  gint batch_size;
  GstClockTime max_latency;
  gint n_threads;
  gboolean post_messages;
  GstLstmClassifyAnnotate annotate;
  /* Loaded by set_property, taken over by the task at a batch boundary; object lock. */
  SeqnnClassifier *next_classifier;

  /* Between the sink pad and the task, under lock; cond signals any change. */
  GMutex lock;
  GCond cond;
  GstQueueArray *queue;       /* QueueItem, arrival order */
  guint n_queued_buffers;
  guint n_queued_events;
  gboolean busy;              /* the task is running or pushing a batch it took */
  gboolean drain;             /* a serialized query waits: run partial batches now */
  gboolean flushing;
  gboolean downstream_eos;    /* downstream returned EOS: buffers are refused with EOS
                               * until a SEGMENT or STREAM_START, events still pass */
  GstFlowReturn srcresult;
  GstClockID wait_id;         /* the task's max-latency wait, to unschedule */
  /* Encoding on arrival: the tokens of a tokens meta without ids are looked up
   * by the sink pad's thread, overlapping the network that the task runs;
   * the task uses those ids when its model has the same vocabulary. */
  GArray *queued_ids;         /* gint32: the queued encoded buffers' ids in queue order... */
  guint queued_ids_head;      /* ...from this index on */
  SeqnnVocab *sink_vocab;     /* object lock: the vocabulary of the latest loaded model... */
  SeqnnTokenizerConfig sink_tokenizer; /* ...and its tokenizer settings */
  gboolean sink_markup;       /* sink pad's streaming thread: the last caps are pango-markup */
  SeqnnTokens *sink_tokens;   /* sink pad's streaming thread's scratch */
  GArray *sink_ids;           /* gint32, the sink pad's streaming thread's scratch */

  /* The task's own state (and the state-change thread's while it is stopped). */
  SeqnnClassifier *classifier;
  SeqnnInference *inference;
  gint inference_threads;
  GstSeqnnLabels *label_block; /* the classifier's names, shared by every class meta */
  const gchar *const *labels;   /* their strv, owned by label_block */
  SeqnnConfusion *confusion;
  SeqnnTokens *tokens;
  GArray *ids;                /* gint32, the batch's sequences concatenated */
  GArray *lengths;            /* gint */
  GArray *probs;              /* gfloat, n x num_classes */
  GstBuffer **batch;          /* batch_size buffers taken from the queue */
  BatchSlot *slots;           /* per batch buffer */
  GArray *batch_ids;          /* gint32, the encoded ids of the batch taken */
  gint *rows;                 /* per batch buffer: its row in probs, -1 when not classified */
  guint batch_alloc;
  GstCaps *sink_caps;         /* last caps received */
  gboolean markup;            /* sink caps are pango-markup */
  gboolean json_caps_sent;    /* the caps pushed downstream are the json ones */
  gboolean caps_sent;
  gboolean ids_verified;      /* meta ids were checked against this model's vocabulary */
  guint64 n_buffers;          /* buffers seen since start, to name one in errors */
};

G_DEFINE_TYPE (GstLstmClassify, gst_lstm_classify, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (lstmclassify, "lstmclassify", GST_RANK_NONE, GST_TYPE_LSTM_CLASSIFY);

GType
gst_lstm_classify_annotate_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_LSTM_CLASSIFY_ANNOTATE_NONE, "Buffers pass unchanged, the class is in the meta", "none"},
    {GST_LSTM_CLASSIFY_ANNOTATE_PREFIX, "Text prefixed with \"[label confidence] \"", "prefix"},
    {GST_LSTM_CLASSIFY_ANNOTATE_JSON, "Each buffer replaced by a JSON object and a newline (utf8 caps)",
        "json"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstLstmClassifyAnnotate", values));
  return type;
}

static void gst_lstm_classify_finalize (GObject *object);
static void gst_lstm_classify_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void gst_lstm_classify_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn gst_lstm_classify_change_state (GstElement *element,
    GstStateChange transition);
static GstFlowReturn gst_lstm_classify_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer);
static GstFlowReturn gst_lstm_classify_sink_event (GstPad *pad, GstObject *parent,
    GstEvent *event);
static gboolean gst_lstm_classify_sink_query (GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_lstm_classify_src_query (GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_lstm_classify_src_activate_mode (GstPad *pad, GstObject *parent,
    GstPadMode mode, gboolean active);
static gboolean gst_lstm_classify_sink_activate_mode (GstPad *pad, GstObject *parent,
    GstPadMode mode, gboolean active);
static void gst_lstm_classify_loop (GstPad *pad);
static void gst_lstm_classify_close (GstLstmClassify *self);

static void
gst_lstm_classify_class_init (GstLstmClassifyClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_lstm_classify_set_property;
  gobject_class->get_property = gst_lstm_classify_get_property;
  gobject_class->finalize = gst_lstm_classify_finalize;

  /**
   * GstLstmClassify:model:
   *
   * The model file (written by lstmtrain or seqnn-train). Loaded when the
   * element goes to READY; set later, it is loaded at once and replaces the
   * current model at the next batch boundary (a bad file posts a warning and
   * the current model stays).
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model file",
          "Path of the classifier model file (from lstmtrain); may be changed while playing",
          DEFAULT_PROP_MODEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int ("batch-size", "Batch size",
          "Number of buffers classified together (larger is faster, adds latency)",
          1, 1024, DEFAULT_PROP_BATCH_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MAX_LATENCY,
      g_param_spec_uint64 ("max-latency", "Maximum latency",
          "Longest time (ns) a buffer waits for its batch to fill before a partial batch "
          "runs; 0 = no limit (batches run when full, or at EOS and other events)",
          0, G_MAXUINT64 - 1, DEFAULT_PROP_MAX_LATENCY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_N_THREADS,
      g_param_spec_int ("n-threads", "Threads",
          "Threads the network uses per batch (0 = one per core)",
          0, 256, DEFAULT_PROP_N_THREADS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message \"lstmclassify\" with the class of every buffer",
          DEFAULT_PROP_POST_MESSAGES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ANNOTATE,
      g_param_spec_enum ("annotate", "Annotate",
          "Write the class into the text: none (metas only), prefix \"[label 0.93] \", "
          "or json (one object per line, utf8 caps)",
          GST_TYPE_LSTM_CLASSIFY_ANNOTATE, DEFAULT_PROP_ANNOTATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Text classifier",
      "Filter/Analyzer/Text",
      "Classifies each text buffer with a recurrent network (RNN, LSTM, GRU) and attaches "
      "the class as a meta", "gst-seqnn developers");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_lstm_classify_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_CLASSIFY_ANNOTATE, 0);
  GST_DEBUG_CATEGORY_INIT (gst_lstm_classify_debug, "seqnnclassify", 0, "lstmclassify element");
}

static void
gst_lstm_classify_init (GstLstmClassify *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_lstm_classify_chain));
  gst_pad_set_event_full_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_classify_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_lstm_classify_sink_query));
  gst_pad_set_activatemode_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_classify_sink_activate_mode));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_lstm_classify_src_query));
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_lstm_classify_src_activate_mode));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->batch_size = DEFAULT_PROP_BATCH_SIZE;
  self->max_latency = DEFAULT_PROP_MAX_LATENCY;
  self->n_threads = DEFAULT_PROP_N_THREADS;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->annotate = DEFAULT_PROP_ANNOTATE;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->queue = gst_queue_array_new_for_struct (sizeof (QueueItem), 32);
  self->queued_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->sink_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->sink_tokens = seqnn_tokens_new ();
  self->batch_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->flushing = TRUE;
  self->srcresult = GST_FLOW_FLUSHING;
}

/* ---- Queue (call with lock held) ------------------------------------------ */

static void
queue_item_clear (QueueItem *item)
{
  gst_mini_object_unref (item->object);
  g_clear_pointer (&item->vocab, seqnn_vocab_unref);
}

static void
queue_clear_locked (GstLstmClassify *self)
{
  QueueItem *item;
  while ((item = gst_queue_array_pop_head_struct (self->queue)) != NULL)
    queue_item_clear (item);
  self->n_queued_buffers = 0;
  self->n_queued_events = 0;
  g_array_set_size (self->queued_ids, 0);
  self->queued_ids_head = 0;
}

/* Appends the ids of a buffer being queued (queued_ids is a FIFO whose front
 * is compacted away once it is at least half of the array). */
static void
queued_ids_push_locked (GstLstmClassify *self, const gint32 *ids, guint n)
{
  GArray *fifo = self->queued_ids;

  if (self->queued_ids_head > 0 && self->queued_ids_head * 2 >= fifo->len) {
    guint keep = fifo->len - self->queued_ids_head;
    memmove (fifo->data, &g_array_index (fifo, gint32, self->queued_ids_head), keep * sizeof (gint32));
    g_array_set_size (fifo, keep);
    self->queued_ids_head = 0;
  }
  g_array_append_vals (fifo, ids, n);
}

/* Moves the next n queued ids to the end of to (or drops them when NULL). */
static void
queued_ids_pop_locked (GstLstmClassify *self, guint n, GArray *to)
{
  if (to != NULL)
    g_array_append_vals (to, &g_array_index (self->queued_ids, gint32, self->queued_ids_head), n);
  self->queued_ids_head += n;
  if (self->queued_ids_head == self->queued_ids->len) {
    g_array_set_size (self->queued_ids, 0);
    self->queued_ids_head = 0;
  }
}

/* A flush drops the pending buffers, but sticky events still queued (STREAM_START,
 * CAPS, TAG...) describe the stream after the flush too: they stay, as in
 * GstQueue; SEGMENT and EOS do not. */
static void
queue_flush_locked (GstLstmClassify *self)
{
  guint n = gst_queue_array_get_length (self->queue);

  for (guint i = 0; i < n; i++) {
    QueueItem item = *(QueueItem *) gst_queue_array_pop_head_struct (self->queue);
    if (GST_IS_EVENT (item.object) && GST_EVENT_IS_STICKY (item.object)
        && GST_EVENT_TYPE (item.object) != GST_EVENT_SEGMENT
        && GST_EVENT_TYPE (item.object) != GST_EVENT_EOS)
      gst_queue_array_push_tail_struct (self->queue, &item);
    else
      queue_item_clear (&item);
  }
  self->n_queued_buffers = 0;
  /* Every buffer went, and with them all queued ids. */
  g_array_set_size (self->queued_ids, 0);
  self->queued_ids_head = 0;
  self->n_queued_events = gst_queue_array_get_length (self->queue);
}

static gboolean
is_pushable_after_eos (GstMiniObject *object)
{
  return GST_IS_EVENT (object) && (GST_EVENT_TYPE (object) == GST_EVENT_EOS
      || GST_EVENT_TYPE (object) == GST_EVENT_SEGMENT
      || GST_EVENT_TYPE (object) == GST_EVENT_STREAM_START);
}

/* Downstream returned EOS. As GstQueue does: what is queued before the next
 * EOS, SEGMENT or STREAM_START is dropped (those still go, so the pipeline
 * ends or a new segment plays); with none queued, new buffers are refused
 * with EOS until one comes. */
static void
queue_drop_to_pushable_locked (GstLstmClassify *self)
{
  QueueItem *head;

  while ((head = gst_queue_array_peek_head_struct (self->queue)) != NULL
      && !is_pushable_after_eos (head->object)) {
    QueueItem item = *(QueueItem *) gst_queue_array_pop_head_struct (self->queue);
    if (GST_IS_BUFFER (item.object)) {
      self->n_queued_buffers--;
      if (item.vocab != NULL)
        queued_ids_pop_locked (self, item.n_ids, NULL);
    } else {
      self->n_queued_events--;
    }
    queue_item_clear (&item);
  }
  self->downstream_eos = head == NULL;
}

static void
set_flushing_locked (GstLstmClassify *self, gboolean flushing)
{
  self->flushing = flushing;
  self->srcresult = flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
  self->downstream_eos = FALSE;
  if (flushing && self->wait_id)
    gst_clock_id_unschedule (self->wait_id);
  g_cond_broadcast (&self->cond);
}

/* A batch is ready to run when full, or before an event, or for a drain. */
static gboolean
batch_ready_locked (GstLstmClassify *self, gint batch_size)
{
  return self->n_queued_buffers >= (guint) batch_size || self->n_queued_events > 0 || self->drain;
}

static void
wake_task_locked (GstLstmClassify *self)
{
  if (self->wait_id)
    gst_clock_id_unschedule (self->wait_id);
  g_cond_broadcast (&self->cond);
}

/* The kind of a libseqnn error, for debug strings. */
static const gchar *
library_error_kind (const GError *error)
{
  if (error->domain != SEQNN_ERROR)
    return g_quark_to_string (error->domain);
  switch ((SeqnnError) error->code) {
    case SEQNN_ERROR_INVALID_ARGUMENT: return "invalid-argument";
    case SEQNN_ERROR_OUT_OF_RANGE: return "out-of-range";
    case SEQNN_ERROR_NUMERIC: return "numeric";
    case SEQNN_ERROR_PARSE: return "parse";
    case SEQNN_ERROR_CORRUPT: return "corrupt";
    case SEQNN_ERROR_IO: return "io";
    case SEQNN_ERROR_UNSUPPORTED: return "unsupported";
    case SEQNN_ERROR_CANCELLED: return "cancelled";
    case SEQNN_ERROR_NO_MEMORY: return "no-memory";
  }
  return "unknown";
}

/* ---- Properties ---------------------------------------------------------- */

static void
free_model_state (GstLstmClassify *self)
{
  g_clear_pointer (&self->inference, seqnn_inference_free);
  g_clear_pointer (&self->classifier, seqnn_model_cache_release);
  g_clear_pointer (&self->label_block, gst_seqnn_labels_unref);
  self->labels = NULL;
  g_clear_pointer (&self->confusion, seqnn_confusion_free);
}

/* Makes classifier (owned) the one in use; the task or a stopped element only. */
static void
use_classifier (GstLstmClassify *self, SeqnnClassifier *classifier, gint n_threads)
{
  const gchar **names;
  guint n, i;

  free_model_state (self);
  self->classifier = classifier;
  self->inference = seqnn_inference_new (seqnn_classifier_peek_model (classifier), n_threads);
  self->inference_threads = n_threads;
  n = seqnn_classifier_get_n_labels (classifier);
  names = g_new0 (const gchar *, n + 1);
  for (i = 0; i < n; i++)
    names[i] = seqnn_classifier_get_label (classifier, i);
  self->label_block = gst_seqnn_labels_new (names, n);
  self->labels = gst_seqnn_labels_get_strv (self->label_block);
  g_free (names);
  self->confusion = seqnn_confusion_new (n);
  self->ids_verified = FALSE;
}

static void
gst_lstm_classify_set_model (GstLstmClassify *self, const gchar *path)
{
  SeqnnClassifier *classifier;
  GError *error = NULL;
  gboolean loaded_now;

  GST_OBJECT_LOCK (self);
  loaded_now = GST_STATE (self) >= GST_STATE_READY || GST_STATE_PENDING (self) >= GST_STATE_READY;
  if (!loaded_now || path == NULL) {
    g_free (self->model_path);
    self->model_path = g_strdup (path);
    GST_OBJECT_UNLOCK (self);
    return;
  }
  GST_OBJECT_UNLOCK (self);

  /* Loading reads and checks the whole file: outside every lock. */
  classifier = seqnn_model_cache_acquire (path, &error);
  if (classifier == NULL) {
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
        ("Could not load model '%s', keeping the current model: %s", path, error->message),
        ("seqnn_classifier_load: %s error", library_error_kind (error)));
    g_error_free (error);
    return;
  }
  GST_INFO_OBJECT (self, "model '%s' loaded, used from the next batch", path);
  GST_OBJECT_LOCK (self);
  g_free (self->model_path);
  self->model_path = g_strdup (path);
  if (self->next_classifier)
    seqnn_model_cache_release (self->next_classifier);
  self->next_classifier = classifier;
  g_clear_pointer (&self->sink_vocab, seqnn_vocab_unref);
  self->sink_vocab = seqnn_vocab_ref (seqnn_classifier_get_vocab (classifier));
  self->sink_tokenizer = *seqnn_classifier_get_tokenizer (classifier);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lstm_classify_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (object);

  switch (prop_id) {
    case PROP_MODEL:
      gst_lstm_classify_set_model (self, g_value_get_string (value));
      break;
    case PROP_BATCH_SIZE:
      GST_OBJECT_LOCK (self);
      self->batch_size = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      /* A smaller batch may already be complete. */
      g_mutex_lock (&self->lock);
      wake_task_locked (self);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_MAX_LATENCY:{
      guint64 max_latency = g_value_get_uint64 (value);
      gboolean changed;

      GST_OBJECT_LOCK (self);
      changed = self->max_latency != max_latency;
      self->max_latency = max_latency;
      GST_OBJECT_UNLOCK (self);
      if (changed) {
        /* The waiting batch gets the new deadline; the pipeline recomputes its latency. */
        g_mutex_lock (&self->lock);
        wake_task_locked (self);
        g_mutex_unlock (&self->lock);
        gst_element_post_message (GST_ELEMENT (self),
            gst_message_new_latency (GST_OBJECT (self)));
      }
      break;
    }
    case PROP_N_THREADS:
      GST_OBJECT_LOCK (self);
      self->n_threads = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_POST_MESSAGES:
      GST_OBJECT_LOCK (self);
      self->post_messages = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_ANNOTATE:
      GST_OBJECT_LOCK (self);
      self->annotate = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_lstm_classify_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_int (value, self->batch_size);
      break;
    case PROP_MAX_LATENCY:
      g_value_set_uint64 (value, self->max_latency);
      break;
    case PROP_N_THREADS:
      g_value_set_int (value, self->n_threads);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_ANNOTATE:
      g_value_set_enum (value, self->annotate);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lstm_classify_finalize (GObject *object)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (object);

  queue_clear_locked (self);
  gst_queue_array_free (self->queue);
  gst_lstm_classify_close (self);
  g_array_free (self->queued_ids, TRUE);
  g_array_free (self->sink_ids, TRUE);
  seqnn_tokens_free (self->sink_tokens);
  g_array_free (self->batch_ids, TRUE);
  gst_caps_replace (&self->sink_caps, NULL);
  g_free (self->model_path);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_lstm_classify_parent_class)->finalize (object);
}

/* ---- Batches (task thread) ------------------------------------------------ */

static void
take_next_classifier (GstLstmClassify *self)
{
  SeqnnClassifier *next;
  gint n_threads;

  GST_OBJECT_LOCK (self);
  next = self->next_classifier;
  self->next_classifier = NULL;
  n_threads = self->n_threads;
  GST_OBJECT_UNLOCK (self);

  if (next) {
    GST_INFO_OBJECT (self, "switching to the new model (%u labels)",
        seqnn_classifier_get_n_labels (next));
    use_classifier (self, next, n_threads);
  } else if (self->inference && n_threads != self->inference_threads) {
    seqnn_inference_set_n_threads (self->inference, n_threads);
    self->inference_threads = n_threads;
  }
}

/* The true class of a buffer from its tokens meta: the label name when it is
 * one of the model's, else label_id when in range; -1 when unknown. */
static gint
true_label_of (GstLstmClassify *self, const GstSeqnnTokensMeta *meta)
{
  gint n = (gint) seqnn_classifier_get_n_labels (self->classifier);

  if (meta == NULL)
    return -1;
  if (meta->label != NULL) {
    for (gint i = 0; i < n; i++)
      if (g_strcmp0 (meta->label, self->labels[i]) == 0)
        return i;
  }
  if (meta->label_id >= 0 && meta->label_id < n)
    return meta->label_id;
  return -1;
}

static GstFlowReturn
encode_buffer (GstLstmClassify *self, guint slot, guint64 index)
{
  GstBuffer *buffer = self->batch[slot];
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (self->classifier));
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (self->classifier);
  GstSeqnnTokensMeta *meta = gst_buffer_get_seqnn_tokens_meta (buffer);
  guint start = self->ids->len;
  const BatchSlot *encoded = &self->slots[slot];
  gint length;

  if (encoded->vocab != NULL && encoded->vocab == vocab
      && (meta != NULL || encoded->markup == self->markup)) {
    /* Encoded on arrival with this very vocabulary (and tokenizer). */
    g_array_append_vals (self->ids, &g_array_index (self->batch_ids, gint32, encoded->start),
        encoded->n_ids);
  } else if (meta != NULL && meta->ids != NULL) {
    for (guint i = 0; i < meta->n_tokens; i++) {
      if (meta->ids[i] < 0 || meta->ids[i] >= config->vocab_size) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT,
            ("Token %u ('%s') of buffer %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT
                ") has id %d, outside the model's vocabulary of %d words: the tokens were "
                "encoded with another vocabulary (give seqtokenize the same model)",
                i, meta->tokens && meta->tokens[i] ? meta->tokens[i] : "?", index,
                GST_TIME_ARGS (GST_BUFFER_PTS (buffer)), meta->ids[i], config->vocab_size),
            ("model '%s'", GST_STR_NULL (self->model_path)));
        return GST_FLOW_ERROR;
      }
    }
    /* Ids in range may still come from another vocabulary: the first buffer
     * with ids after each model load is checked against its own tokens. */
    if (!self->ids_verified && meta->n_tokens > 0 && meta->tokens != NULL) {
      for (guint i = 0; i < meta->n_tokens; i++) {
        gint32 id = seqnn_vocab_lookup (vocab, meta->tokens[i], -1);
        if (id != meta->ids[i]) {
          GST_ELEMENT_ERROR (self, STREAM, FORMAT,
              ("Token %u ('%s') of buffer %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT
                  ") has id %d in its tokens meta but %d in the model's vocabulary: the tokens "
                  "were encoded with another vocabulary (give seqtokenize the same model)",
                  i, meta->tokens[i], index, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
                  meta->ids[i], id), ("model '%s'", GST_STR_NULL (self->model_path)));
          return GST_FLOW_ERROR;
        }
      }
      self->ids_verified = TRUE;
    }
    g_array_append_vals (self->ids, meta->ids, meta->n_tokens);
  } else if (meta != NULL) {
    for (guint i = 0; i < meta->n_tokens; i++) {
      gint32 id = seqnn_vocab_lookup (vocab, meta->tokens[i], -1);
      g_array_append_val (self->ids, id);
    }
  } else {
    GstMapInfo map;
    SeqnnTokenizerConfig tokenizer = *seqnn_classifier_get_tokenizer (self->classifier);

    if (self->markup)
      tokenizer.strip_markup = TRUE;
    if (gst_buffer_map (buffer, &map, GST_MAP_READ)) {
      seqnn_tokenize (&tokenizer, (const gchar *) map.data, map.size, self->tokens);
      seqnn_vocab_encode (vocab, self->tokens, self->ids);
      gst_buffer_unmap (buffer, &map);
    }
  }
  /* No token: one <unk>, as training and evaluation feed empty records. */
  if (self->ids->len == start) {
    gint32 unk = SEQNN_VOCAB_UNK_ID;
    g_array_append_val (self->ids, unk);
  }
  length = self->ids->len - start;
  g_array_append_val (self->lengths, length);
  return GST_FLOW_OK;
}

static gchar *
buffer_text (GstBuffer *buffer)
{
  GstMapInfo map;
  gchar *text;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return g_strdup ("");
  text = g_utf8_make_valid ((const gchar *) map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  return text;
}

/* A GST_TYPE_ARRAY of doubles, which gst-launch-1.0 -m prints. */
static void
collect_markup_text (GMarkupParseContext *context, const gchar *text, gsize len, gpointer user_data,
    GError **error)
{
  g_string_append_len (user_data, text, len);
}

/* Pango markup is GMarkup: its text with tags dropped and entities decoded.
 * Text that does not parse is returned as it is. */
static gchar *
markup_to_plain (const gchar *markup)
{
  static const GMarkupParser parser = { NULL, NULL, collect_markup_text, NULL, NULL };
  GString *plain = g_string_new (NULL);
  GMarkupParseContext *context = g_markup_parse_context_new (&parser, 0, plain, NULL);
  gboolean ok = g_markup_parse_context_parse (context, "<m>", -1, NULL)
      && g_markup_parse_context_parse (context, markup, -1, NULL)
      && g_markup_parse_context_parse (context, "</m>", -1, NULL)
      && g_markup_parse_context_end_parse (context, NULL);

  g_markup_parse_context_free (context);
  if (!ok) {
    g_string_free (plain, TRUE);
    return g_strdup (markup);
  }
  return g_string_free (plain, FALSE);
}

static void
add_double_array (GstStructure *s, const gchar *field, const gfloat *floats, const gdouble *doubles,
    guint n)
{
  GValue array = G_VALUE_INIT, v = G_VALUE_INIT;

  gst_value_array_init (&array, n);
  g_value_init (&v, G_TYPE_DOUBLE);
  for (guint i = 0; i < n; i++) {
    g_value_set_double (&v, floats ? floats[i] : doubles[i]);
    gst_value_array_append_value (&array, &v);
  }
  g_value_unset (&v);
  gst_structure_take_value (s, field, &array);
}

static void
post_buffer_message (GstLstmClassify *self, GstBuffer *buffer, const GstSeqnnClassMeta *meta,
    const gchar *text, gint true_label)
{
  GstStructure *s = gst_structure_new ("lstmclassify",
      "pts", GST_TYPE_CLOCK_TIME, GST_BUFFER_PTS (buffer),
      "duration", GST_TYPE_CLOCK_TIME, GST_BUFFER_DURATION (buffer),
      "label", G_TYPE_STRING, meta->label,
      "class-id", G_TYPE_INT, meta->class_id,
      "confidence", G_TYPE_DOUBLE, (gdouble) meta->confidence, NULL);
  add_double_array (s, "probabilities", meta->probabilities, NULL, meta->n_classes);
  gst_structure_set (s, "text", G_TYPE_STRING, text, NULL);
  if (true_label >= 0)
    gst_structure_set (s, "true-label", G_TYPE_STRING, self->labels[true_label], NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

static gchar *
json_annotation (GstLstmClassify *self, GstBuffer *buffer, const GstSeqnnClassMeta *meta,
    const gchar *text, gint true_label)
{
  JsonBuilder *builder = json_builder_new ();
  JsonGenerator *generator = json_generator_new ();
  JsonNode *root;
  gchar *json, *line;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "pts");
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    json_builder_add_int_value (builder, (gint64) GST_BUFFER_PTS (buffer));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "duration");
  if (GST_BUFFER_DURATION_IS_VALID (buffer))
    json_builder_add_int_value (builder, (gint64) GST_BUFFER_DURATION (buffer));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "label");
  json_builder_add_string_value (builder, meta->label);
  json_builder_set_member_name (builder, "class-id");
  json_builder_add_int_value (builder, meta->class_id);
  json_builder_set_member_name (builder, "confidence");
  json_builder_add_double_value (builder, meta->confidence);
  json_builder_set_member_name (builder, "probabilities");
  json_builder_begin_array (builder);
  for (guint i = 0; i < meta->n_classes; i++)
    json_builder_add_double_value (builder, meta->probabilities[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "text");
  json_builder_add_string_value (builder, text);
  if (true_label >= 0) {
    json_builder_set_member_name (builder, "true-label");
    json_builder_add_string_value (builder, self->labels[true_label]);
  }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);
  line = g_strconcat (json, "\n", NULL);
  g_free (json);
  json_node_unref (root);
  g_object_unref (generator);
  g_object_unref (builder);
  return line;
}

static GstBuffer *
replace_text (GstBuffer *buffer, gchar *text /* owned */)
{
  gsize len = strlen (text);
  gst_buffer_replace_all_memory (buffer, gst_memory_new_wrapped (0, text, len, 0, len, text, g_free));
  return buffer;
}

/* Pushes the caps downstream needs for the annotate mode, when they changed. */
static gboolean
ensure_src_caps (GstLstmClassify *self, gboolean json)
{
  GstCaps *caps;
  gboolean ok;

  if (self->sink_caps == NULL)
    return FALSE;
  if (self->caps_sent && self->json_caps_sent == json)
    return TRUE;
  if (json)
    caps = gst_caps_new_simple ("text/x-raw", "format", G_TYPE_STRING, "utf8", NULL);
  else
    caps = gst_caps_ref (self->sink_caps);
  ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  self->caps_sent = TRUE;
  self->json_caps_sent = json;
  return ok;
}

static GstFlowReturn
process_batch (GstLstmClassify *self, guint n)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GError *error = NULL;
  SeqnnBatch batch;
  gboolean post_messages;
  GstLstmClassifyAnnotate annotate;
  guint n_classes, i;

  take_next_classifier (self);
  GST_OBJECT_LOCK (self);
  post_messages = self->post_messages;
  annotate = self->annotate;
  GST_OBJECT_UNLOCK (self);

  if (self->classifier == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("No model loaded"),
        ("set the 'model' property to a model file"));
    ret = GST_FLOW_ERROR;
    goto done;
  }
  if (!ensure_src_caps (self, annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON)) {
    ret = self->sink_caps == NULL ? GST_FLOW_NOT_NEGOTIATED : GST_FLOW_OK;
    if (ret != GST_FLOW_OK) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("buffers before caps"));
      goto done;
    }
  }

  g_array_set_size (self->ids, 0);
  g_array_set_size (self->lengths, 0);
  for (i = 0; i < n; i++) {
    GstBuffer *buffer = self->batch[i];
    /* An empty GAP buffer holds no text: it passes through, unclassified. */
    if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_GAP) && gst_buffer_get_size (buffer) == 0
        && gst_buffer_get_seqnn_tokens_meta (buffer) == NULL) {
      self->rows[i] = -1;
      continue;
    }
    self->rows[i] = self->lengths->len;
    ret = encode_buffer (self, i, self->n_buffers + i);
    if (ret != GST_FLOW_OK)
      goto done;
  }
  self->n_buffers += n;

  n_classes = seqnn_classifier_get_n_labels (self->classifier);
  g_array_set_size (self->probs, self->lengths->len * n_classes);
  batch.ids = (const gint32 *) self->ids->data;
  batch.lengths = (const gint *) self->lengths->data;
  batch.n = self->lengths->len;
  batch.labels = NULL;
  if (batch.n > 0
      && !seqnn_inference_run (self->inference, &batch, (gfloat *) self->probs->data, NULL, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not classify a batch of %u buffers: %s", n,
            error->message), ("model '%s'", GST_STR_NULL (self->model_path)));
    g_error_free (error);
    ret = GST_FLOW_ERROR;
    goto done;
  }

  for (i = 0; i < n; i++) {
    GstBuffer *buffer = self->batch[i];
    const gfloat *probs = (const gfloat *) self->probs->data + (gsize) self->rows[i] * n_classes;
    GstSeqnnClassMeta *meta;
    gint true_label;
    gchar *text = NULL, *plain = NULL;

    self->batch[i] = NULL;
    if (self->rows[i] < 0) {
      ret = gst_pad_push (self->srcpad, buffer);
      if (ret != GST_FLOW_OK) {
        i++;
        break;
      }
      continue;
    }
    buffer = gst_buffer_make_writable (buffer);
    true_label = true_label_of (self, gst_buffer_get_seqnn_tokens_meta (buffer));
    meta = gst_buffer_add_seqnn_class_meta_with_labels (buffer, probs, n_classes, self->label_block);
    if (true_label >= 0 && self->confusion != NULL)  /* NULL: no memory for n^2 counters */
      seqnn_confusion_add (self->confusion, true_label, meta->class_id);
    GST_LOG_OBJECT (self, "buffer %" GST_TIME_FORMAT ": %s %.3f", GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
        meta->label, meta->confidence);

    if (post_messages || annotate != GST_LSTM_CLASSIFY_ANNOTATE_NONE)
      text = buffer_text (buffer);
    /* Messages and JSON carry plain text: markup stripped, entities decoded. */
    if (self->markup && (post_messages || annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON))
      plain = markup_to_plain (text);
    if (post_messages)
      post_buffer_message (self, buffer, meta, plain ? plain : text, true_label);
    if (annotate == GST_LSTM_CLASSIFY_ANNOTATE_PREFIX) {
      gchar conf[G_ASCII_DTOSTR_BUF_SIZE];
      gchar *label = self->markup ? g_markup_escape_text (meta->label, -1) : g_strdup (meta->label);
      g_ascii_formatd (conf, sizeof conf, "%.2f", meta->confidence);
      buffer = replace_text (buffer, g_strdup_printf ("[%s %s] %s", label, conf, text));
      g_free (label);
    } else if (annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON) {
      buffer = replace_text (buffer, json_annotation (self, buffer, meta, plain ? plain : text,
              true_label));
    }
    g_free (text);
    g_free (plain);

    ret = gst_pad_push (self->srcpad, buffer);
    if (ret != GST_FLOW_OK) {
      i++;
      break;
    }
  }

done:
  for (i = 0; i < n; i++) {
    if (self->batch[i])
      gst_buffer_unref (self->batch[i]);
    g_clear_pointer (&self->slots[i].vocab, seqnn_vocab_unref);
  }
  memset (self->batch, 0, n * sizeof (GstBuffer *));
  return ret;
}

static void
post_summary (GstLstmClassify *self)
{
  SeqnnConfusion *c = self->confusion;
  GstStructure *s;
  GValue labels = G_VALUE_INIT, rows = G_VALUE_INIT, v = G_VALUE_INIT;
  gint n, i, j;
  gdouble *metric;

  if (c == NULL || seqnn_confusion_get_count (c) == 0)
    return;
  n = seqnn_confusion_get_n_classes (c);
  if (n <= 0)
    return;
  s = gst_structure_new ("lstmclassify-summary",
      "count", G_TYPE_UINT64, seqnn_confusion_get_count (c),
      "accuracy", G_TYPE_DOUBLE, seqnn_confusion_accuracy (c),
      "macro-f1", G_TYPE_DOUBLE, seqnn_confusion_macro_f1 (c), NULL);

  gst_value_array_init (&labels, n);
  g_value_init (&v, G_TYPE_STRING);
  for (i = 0; i < n; i++) {
    g_value_set_string (&v, self->labels[i]);
    gst_value_array_append_value (&labels, &v);
  }
  g_value_unset (&v);
  gst_structure_take_value (s, "labels", &labels);

  metric = g_new (gdouble, n);
  for (i = 0; i < n; i++)
    metric[i] = seqnn_confusion_precision (c, i);
  add_double_array (s, "precision", NULL, metric, n);
  for (i = 0; i < n; i++)
    metric[i] = seqnn_confusion_recall (c, i);
  add_double_array (s, "recall", NULL, metric, n);
  for (i = 0; i < n; i++)
    metric[i] = seqnn_confusion_f1 (c, i);
  add_double_array (s, "f1", NULL, metric, n);
  g_free (metric);

  gst_value_array_init (&rows, n);
  for (i = 0; i < n; i++) {
    GValue row = G_VALUE_INIT;
    gst_value_array_init (&row, n);
    g_value_init (&v, G_TYPE_UINT64);
    for (j = 0; j < n; j++) {
      g_value_set_uint64 (&v, seqnn_confusion_get (c, i, j));
      gst_value_array_append_value (&row, &v);
    }
    g_value_unset (&v);
    gst_value_array_append_and_take_value (&rows, &row);
  }
  gst_structure_take_value (s, "confusion", &rows);

  GST_INFO_OBJECT (self, "summary: %" GST_PTR_FORMAT, s);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

static GstFlowReturn
process_event (GstLstmClassify *self, GstEvent *event)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      const gchar *format;
      gboolean json;

      gst_event_parse_caps (event, &caps);
      gst_caps_replace (&self->sink_caps, caps);
      format = gst_structure_get_string (gst_caps_get_structure (caps, 0), "format");
      self->markup = g_strcmp0 (format, "pango-markup") == 0;
      GST_OBJECT_LOCK (self);
      json = self->annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON;
      GST_OBJECT_UNLOCK (self);
      gst_event_unref (event);
      self->caps_sent = FALSE;
      ensure_src_caps (self, json);
      return GST_FLOW_OK;
    }
    case GST_EVENT_EOS:
      post_summary (self);
      gst_pad_push_event (self->srcpad, event);
      return GST_FLOW_EOS;
    default:
      gst_pad_push_event (self->srcpad, event);
      return GST_FLOW_OK;
  }
}

static GstClockTime
now_ns (GstLstmClassify *self, gboolean *on_clock)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
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

/* Waits, lock held, until the oldest buffer's max-latency deadline or a
 * wake-up; TRUE when the deadline passed. */
static gboolean
wait_deadline_locked (GstLstmClassify *self, const QueueItem *oldest, GstClockTime max_latency)
{
  GstClockTime deadline = oldest->arrival + max_latency;
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  gboolean passed = FALSE;

  if (clock && oldest->arrival_on_clock) {
    GstClockID id = gst_clock_new_single_shot_id (clock, deadline);
    GstClockReturn cret;

    self->wait_id = id;
    g_mutex_unlock (&self->lock);
    cret = gst_clock_id_wait (id, NULL);
    g_mutex_lock (&self->lock);
    self->wait_id = NULL;
    gst_clock_id_unref (id);
    passed = cret == GST_CLOCK_OK || cret == GST_CLOCK_EARLY;
  } else if (!clock && !oldest->arrival_on_clock) {
    GstClockTime now = (GstClockTime) g_get_monotonic_time () * GST_USECOND;
    gint64 end = g_get_monotonic_time () + (gint64) ((deadline - MIN (deadline, now)) / GST_USECOND);
    passed = !g_cond_wait_until (&self->cond, &self->lock, end);
  } else {
    passed = TRUE; /* the clock came or went since: run now */
  }
  if (clock)
    gst_object_unref (clock);
  return passed;
}

static void
gst_lstm_classify_loop (GstPad *pad)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (GST_PAD_PARENT (pad));
  GstFlowReturn ret = GST_FLOW_OK;
  QueueItem *head;
  gint batch_size;
  GstClockTime max_latency;
  guint n = 0;
  GstEvent *event = NULL;

  g_mutex_lock (&self->lock);
  for (;;) {
    /* Properties may change while we wait (their setters wake us). */
    GST_OBJECT_LOCK (self);
    batch_size = self->batch_size;
    max_latency = self->max_latency;
    GST_OBJECT_UNLOCK (self);
    if (self->flushing)
      goto flushing;
    head = gst_queue_array_peek_head_struct (self->queue);
    if (head != NULL && GST_IS_EVENT (head->object)) {
      event = GST_EVENT (head->object);
      gst_queue_array_pop_head_struct (self->queue);
      self->n_queued_events--;
      break;
    }
    if (head != NULL && batch_ready_locked (self, batch_size))
      break;
    if (head != NULL && max_latency > 0) {
      if (wait_deadline_locked (self, head, max_latency) && !self->flushing
          && gst_queue_array_get_length (self->queue) > 0)
        break;
      continue;
    }
    self->drain = FALSE; /* nothing left to run */
    g_cond_broadcast (&self->cond);
    g_cond_wait (&self->cond, &self->lock);
  }

  if (event == NULL) {
    if (self->batch_alloc < (guint) batch_size) {
      self->batch_alloc = (guint) batch_size;
      self->batch = g_renew (GstBuffer *, self->batch, self->batch_alloc);
      self->rows = g_renew (gint, self->rows, self->batch_alloc);
      self->slots = g_renew (BatchSlot, self->slots, self->batch_alloc);
    }
    g_array_set_size (self->batch_ids, 0);
    while (n < (guint) batch_size && (head = gst_queue_array_peek_head_struct (self->queue)) != NULL
        && GST_IS_BUFFER (head->object)) {
      BatchSlot *slot = &self->slots[n];
      slot->vocab = head->vocab; /* the item's reference moves to the batch */
      slot->start = self->batch_ids->len;
      slot->n_ids = head->n_ids;
      slot->markup = head->markup;
      if (head->vocab != NULL)
        queued_ids_pop_locked (self, head->n_ids, self->batch_ids);
      self->batch[n++] = GST_BUFFER (head->object);
      gst_queue_array_pop_head_struct (self->queue);
    }
    self->n_queued_buffers -= n;
  }
  self->busy = TRUE;
  g_cond_broadcast (&self->cond); /* room for the sink pad */
  g_mutex_unlock (&self->lock);

  if (event != NULL)
    ret = process_event (self, event);
  else
    ret = process_batch (self, n);

  g_mutex_lock (&self->lock);
  self->busy = FALSE;
  g_cond_broadcast (&self->cond);
  if (ret == GST_FLOW_EOS && event == NULL && !self->flushing) {
    /* Downstream is EOS: keep running to pass on the EOS that will come. */
    GST_DEBUG_OBJECT (self, "downstream is EOS, dropping buffers until EOS or a new segment");
    queue_drop_to_pushable_locked (self);
    ret = GST_FLOW_OK;
  }
  if (ret != GST_FLOW_OK && !self->flushing)
    self->srcresult = ret;
  if (ret != GST_FLOW_OK)
    goto pause;
  g_mutex_unlock (&self->lock);
  return;

  /* Paused with the lock held, so that a restart by the sink pad (FLUSH_STOP,
   * a SEGMENT after EOS) cannot come between the decision and the pause. */
flushing:
  GST_DEBUG_OBJECT (self, "flushing, pausing the task");
  gst_pad_pause_task (pad);
  g_mutex_unlock (&self->lock);
  return;

pause:
  GST_DEBUG_OBJECT (self, "pausing the task: %s", gst_flow_get_name (ret));
  gst_pad_pause_task (pad);
  g_mutex_unlock (&self->lock);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    if (ret != GST_FLOW_ERROR) /* errors were posted where they happened */
      GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
}

/* ---- Sink pad ------------------------------------------------------------ */

static GstFlowReturn
enqueue (GstLstmClassify *self, GstMiniObject *object)
{
  QueueItem item = { object, 0, FALSE, NULL, 0, FALSE };
  GstFlowReturn ret;
  gboolean is_buffer = GST_IS_BUFFER (object);
  GstBuffer *buffer = is_buffer ? GST_BUFFER (object) : NULL;
  GstSeqnnTokensMeta *meta = is_buffer ? gst_buffer_get_seqnn_tokens_meta (buffer) : NULL;
  /* What the task would otherwise encode: tokens without ids, or the text of
   * a buffer without tokens meta (not an empty GAP, which stays unclassified). */
  gboolean encode = meta != NULL ? meta->ids == NULL && meta->n_tokens > 0
      : is_buffer && !(GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_GAP)
      && gst_buffer_get_size (buffer) == 0);
  SeqnnTokenizerConfig tokenizer;
  guint batch_size;
  GstClockTime max_latency;
  gboolean restart = FALSE;

  GST_OBJECT_LOCK (self);
  batch_size = self->batch_size;
  max_latency = self->max_latency;
  if (encode && self->sink_vocab != NULL) {
    item.vocab = seqnn_vocab_ref (self->sink_vocab);
    tokenizer = self->sink_tokenizer;
  }
  GST_OBJECT_UNLOCK (self);
  if (is_buffer && max_latency > 0)
    item.arrival = now_ns (self, &item.arrival_on_clock);
  /* Tokenized and looked up here, outside the lock, while the task runs a
   * batch; the task checks that its model has this vocabulary. */
  if (item.vocab != NULL && meta != NULL) {
    gint32 *ids;

    g_array_set_size (self->sink_ids, meta->n_tokens);
    ids = (gint32 *) self->sink_ids->data;
    for (guint i = 0; i < meta->n_tokens; i++)
      ids[i] = seqnn_vocab_lookup (item.vocab, meta->tokens[i], -1);
    item.n_ids = meta->n_tokens;
  } else if (item.vocab != NULL) {
    GstMapInfo map;

    g_array_set_size (self->sink_ids, 0);
    if (gst_buffer_map (buffer, &map, GST_MAP_READ)) {
      tokenizer.strip_markup = self->sink_markup;
      seqnn_tokenize (&tokenizer, (const gchar *) map.data, map.size, self->sink_tokens);
      seqnn_vocab_encode (item.vocab, self->sink_tokens, self->sink_ids);
      gst_buffer_unmap (buffer, &map);
    }
    item.n_ids = self->sink_ids->len;
    item.markup = self->sink_markup;
  }

  g_mutex_lock (&self->lock);
  while (is_buffer && self->srcresult == GST_FLOW_OK && self->n_queued_buffers >= 2 * batch_size)
    g_cond_wait (&self->cond, &self->lock);
  /* A new segment or stream after downstream EOS is played again (GstQueue). */
  if (!is_buffer && is_pushable_after_eos (object) && GST_EVENT_TYPE (object) != GST_EVENT_EOS) {
    self->downstream_eos = FALSE;
    if (self->srcresult == GST_FLOW_EOS) {
      self->srcresult = GST_FLOW_OK;
      restart = TRUE;
    }
  }
  ret = self->srcresult;
  if (ret == GST_FLOW_OK && is_buffer && self->downstream_eos)
    ret = GST_FLOW_EOS;
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->lock);
    queue_item_clear (&item);
    return ret;
  }
  if (item.vocab != NULL)
    queued_ids_push_locked (self, (const gint32 *) self->sink_ids->data, item.n_ids);
  gst_queue_array_push_tail_struct (self->queue, &item);
  if (is_buffer)
    self->n_queued_buffers++;
  else
    self->n_queued_events++;
  /* Wake the task only when it has something to do: a complete batch, an
   * event, or a first buffer whose max-latency deadline it must start
   * waiting for. Not on every buffer: each wake-up is a context switch. */
  if (!is_buffer || self->n_queued_buffers == batch_size
      || (max_latency > 0 && self->n_queued_buffers == 1))
    wake_task_locked (self);
  g_mutex_unlock (&self->lock);
  if (restart)
    gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_lstm_classify_loop, self->srcpad, NULL);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_lstm_classify_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  return enqueue (GST_LSTM_CLASSIFY (parent), GST_MINI_OBJECT_CAST (buffer));
}

/* Waits until everything queued has been pushed (for serialized queries). */
static gboolean
drain (GstLstmClassify *self)
{
  gboolean ok;

  g_mutex_lock (&self->lock);
  self->drain = TRUE;
  wake_task_locked (self);
  while (self->srcresult == GST_FLOW_OK
      && (gst_queue_array_get_length (self->queue) > 0 || self->busy))
    g_cond_wait (&self->cond, &self->lock);
  self->drain = FALSE;
  ok = self->srcresult == GST_FLOW_OK;
  g_mutex_unlock (&self->lock);
  return ok;
}

/* A GstFlowReturn, not a gboolean: a serialized event refused while flushing
 * (or after EOS) returns FLUSHING (or EOS), which upstream's pad keeps as it
 * is (a sticky event is sent again after the restart) instead of turning a
 * FALSE into an error flow. */
static GstFlowReturn
gst_lstm_classify_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  GST_LOG_OBJECT (self, "event %" GST_PTR_FORMAT, event);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      set_flushing_locked (self, TRUE);
      g_mutex_unlock (&self->lock);
      gst_pad_push_event (self->srcpad, event);
      /* Waits for the task to finish the batch it runs (its pushes now fail). */
      gst_pad_pause_task (self->srcpad);
      return GST_FLOW_OK;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      queue_flush_locked (self);
      set_flushing_locked (self, FALSE);
      g_mutex_unlock (&self->lock);
      /* The task is paused: its state is ours to reset. */
      if (self->confusion)
        seqnn_confusion_reset (self->confusion);
      gst_pad_push_event (self->srcpad, event);
      return gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_lstm_classify_loop,
          self->srcpad, NULL) ? GST_FLOW_OK : GST_FLOW_ERROR;
    default:
      if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
        /* For tokenizing on arrival; the task keeps its own flag (markup). */
        GstCaps *caps;
        gst_event_parse_caps (event, &caps);
        self->sink_markup = g_strcmp0 (gst_structure_get_string (gst_caps_get_structure (caps, 0),
                "format"), "pango-markup") == 0;
      }
      if (GST_EVENT_IS_SERIALIZED (event)) {
        GstFlowReturn ret = enqueue (self, GST_MINI_OBJECT_CAST (event));
        if (ret != GST_FLOW_OK)
          GST_DEBUG_OBJECT (self, "refused an event: %s", gst_flow_get_name (ret));
        return ret;
      }
      return gst_pad_event_default (pad, parent, event) ? GST_FLOW_OK : GST_FLOW_ERROR;
  }
}

static GstCaps *
query_caps (GstLstmClassify *self, GstPad *pad, GstCaps *filter)
{
  GstPad *other = pad == self->sinkpad ? self->srcpad : self->sinkpad;
  GstCaps *templ = gst_pad_get_pad_template_caps (pad);
  GstCaps *result;
  gboolean json;

  GST_OBJECT_LOCK (self);
  json = self->annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON;
  GST_OBJECT_UNLOCK (self);

  if (json && pad == self->srcpad) {
    result = gst_caps_from_string ("text/x-raw, format = (string) utf8");
  } else if (json) {
    result = gst_caps_ref (templ); /* any text in: the output is utf8 json */
  } else {
    GstCaps *peer = gst_pad_peer_query_caps (other, filter);
    result = gst_caps_intersect_full (peer, templ, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (peer);
  }
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, result, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = tmp;
  }
  gst_caps_unref (templ);
  return result;
}

static gboolean
gst_lstm_classify_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:{
      GstCaps *filter, *caps;
      gst_query_parse_caps (query, &filter);
      caps = query_caps (self, pad, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_ALLOCATION:
      return FALSE; /* we output the buffers we get (or our own memory) */
    default:
      if (GST_QUERY_IS_SERIALIZED (query) && !drain (self))
        return FALSE;
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_lstm_classify_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:{
      GstCaps *filter, *caps;
      gst_query_parse_caps (query, &filter);
      caps = query_caps (self, pad, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_LATENCY:{
      gboolean live;
      GstClockTime min, max, max_latency;

      if (!gst_pad_peer_query (self->sinkpad, query))
        return FALSE;
      gst_query_parse_latency (query, &live, &min, &max);
      GST_OBJECT_LOCK (self);
      max_latency = self->max_latency;
      GST_OBJECT_UNLOCK (self);
      min += max_latency;
      if (GST_CLOCK_TIME_IS_VALID (max))
        max += max_latency;
      GST_DEBUG_OBJECT (self, "latency: live %d min %" GST_TIME_FORMAT " max %" GST_TIME_FORMAT,
          live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
      gst_query_set_latency (query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

/* ---- Activation and states ------------------------------------------------ */

static gboolean
gst_lstm_classify_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->lock);
  set_flushing_locked (self, !active);
  g_mutex_unlock (&self->lock);
  if (active)
    return gst_pad_start_task (pad, (GstTaskFunction) gst_lstm_classify_loop, pad, NULL);
  return gst_pad_stop_task (pad);
}

static gboolean
gst_lstm_classify_sink_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (!active) {
    /* Unblock a chain waiting for room before the pad takes the stream lock. */
    g_mutex_lock (&self->lock);
    set_flushing_locked (self, TRUE);
    g_mutex_unlock (&self->lock);
  }
  return TRUE;
}

static gboolean
gst_lstm_classify_open (GstLstmClassify *self)
{
  SeqnnClassifier *classifier;
  GError *error = NULL;
  gchar *path;
  gint n_threads;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  n_threads = self->n_threads;
  GST_OBJECT_UNLOCK (self);

  if (path == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model file given"),
        ("set the 'model' property to a model file written by lstmtrain"));
    return FALSE;
  }
  classifier = seqnn_model_cache_acquire (path, &error);
  if (classifier == NULL) {
    if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_IO)
        && !g_file_test (path, G_FILE_TEST_EXISTS))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Could not load model '%s': %s", path,
              error->message), ("seqnn_classifier_load: %s error", library_error_kind (error)));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load model '%s': %s", path,
              error->message), ("seqnn_classifier_load: %s error", library_error_kind (error)));
    g_error_free (error);
    g_free (path);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "loaded model '%s'", path);
  g_free (path);
  use_classifier (self, classifier, n_threads);
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->sink_vocab, seqnn_vocab_unref);
  self->sink_vocab = seqnn_vocab_ref (seqnn_classifier_get_vocab (classifier));
  self->sink_tokenizer = *seqnn_classifier_get_tokenizer (classifier);
  GST_OBJECT_UNLOCK (self);
  self->tokens = seqnn_tokens_new ();
  self->ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->lengths = g_array_new (FALSE, FALSE, sizeof (gint));
  self->probs = g_array_new (FALSE, FALSE, sizeof (gfloat));
  return TRUE;
}

static void
gst_lstm_classify_close (GstLstmClassify *self)
{
  free_model_state (self);
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->next_classifier, seqnn_model_cache_release);
  g_clear_pointer (&self->sink_vocab, seqnn_vocab_unref);
  GST_OBJECT_UNLOCK (self);
  g_clear_pointer (&self->tokens, seqnn_tokens_free);
  if (self->ids)
    g_array_free (self->ids, TRUE);
  if (self->lengths)
    g_array_free (self->lengths, TRUE);
  if (self->probs)
    g_array_free (self->probs, TRUE);
  self->ids = self->lengths = self->probs = NULL;
  g_clear_pointer (&self->batch, g_free);
  g_clear_pointer (&self->rows, g_free);
  g_clear_pointer (&self->slots, g_free);
  self->batch_alloc = 0;
}

static void
gst_lstm_classify_reset_stream (GstLstmClassify *self)
{
  g_mutex_lock (&self->lock);
  queue_clear_locked (self);
  self->drain = FALSE;
  g_mutex_unlock (&self->lock);
  gst_caps_replace (&self->sink_caps, NULL);
  self->caps_sent = FALSE;
  self->json_caps_sent = FALSE;
  self->markup = FALSE;
  self->n_buffers = 0;
  if (self->confusion)
    seqnn_confusion_reset (self->confusion);
}

static GstStateChangeReturn
gst_lstm_classify_change_state (GstElement *element, GstStateChange transition)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_lstm_classify_open (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      gst_lstm_classify_reset_stream (self);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_lstm_classify_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_NULL_TO_READY)
      gst_lstm_classify_close (self);
    return ret;
  }

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* The pads are deactivated: the task is stopped. */
      gst_lstm_classify_reset_stream (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_lstm_classify_close (self);
      break;
    default:
      break;
  }
  return ret;
}
