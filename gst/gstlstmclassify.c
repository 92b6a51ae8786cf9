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
 * Tokens (gstseqnnencode.c): a #GstSeqnnTokensMeta from seqtokenize is used
 * when present (its ids when seqtokenize was given the same model, else its
 * tokens looked up; ids from another vocabulary are an error naming the
 * buffer); without it the text is tokenized with the model's settings, Pango
 * markup stripped for format=pango-markup caps; text/plain is UTF-8 without
 * markup and leaves as utf8. At most #GstLstmClassify:max-tokens tokens a
 * record. A buffer with no token is classified as one `<unk>`, as libseqnn's
 * training and evaluation do; an empty GAP buffer passes without a meta.
 *
 * Batching (gstseqnnbatcher.c): buffers run in batches of
 * #GstLstmClassify:batch-size on the source pad's task, the sink pad only
 * queues (two batches at most) and encodes on arrival. A serialized event or
 * query makes the buffers before it run and leave first; with
 * #GstLstmClassify:max-latency a partial batch runs once its oldest buffer
 * waited that long on the element's clock. Downstream EOS and flushing are
 * handled as GstQueue does; stopping posts nothing.
 *
 * Model swap (gstseqnnmodel.c): setting #GstLstmClassify:model from READY on
 * loads the file at once; it takes over at the next batch boundary, no buffer
 * lost or reordered. A file that fails to load then posts a WARNING and the
 * current model stays; in NULL->READY it is an ERROR.
 *
 * Outputs (gstseqnnoutput.c): annotate=prefix "[Sports 0.93] text",
 * annotate=json one JSON object a line (utf8 caps), post-messages=true an
 * element message "lstmclassify" per buffer; with labelled input the
 * "lstmclassify-summary" message (accuracy, macro-f1, confusion...) on EOS.
 *
 * Context (gstseqnncontext.c): #GstLstmClassify:context=smooth carries the
 * topic from cue to cue (lib/context.c), context=stream a stream model's
 * recurrent state (lib/stream.c; another model is refused at start), with
 * #GstLstmClassify:lookahead, restarts at stream boundaries and at a model
 * swap, "lstmclassify-segment" messages and a #GstToc before EOS. The README ("The elements", "Context across cues")
 * documents every field and rule.
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

#include <seqnn/seqnn.h>

#include "gstlstmclassify.h"
#include "gstseqnnbatcher.h"
#include "gstseqnncontext.h"
#include "gstseqnnencode.h"
#include "gstseqnnmeta.h"
#include "gstseqnnmodel.h"
#include "gstseqnnoutput.h"

GST_DEBUG_CATEGORY (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_SEQNN_TEXT_CAPS "; " GST_SEQNN_PLAIN_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_SEQNN_TEXT_CAPS));

enum {
  PROP_0,
  PROP_MODEL,
  PROP_BATCH_SIZE,
  PROP_MAX_LATENCY,
  PROP_N_THREADS,
  PROP_MAX_TOKENS,
  PROP_POST_MESSAGES,
  PROP_ANNOTATE,
  PROP_CONTEXT,
  PROP_TOPIC_PERSISTENCE,
  PROP_STREAM_PERSISTENCE,
  PROP_LOOKAHEAD,
  PROP_CONTEXT_RESET,
};

#define DEFAULT_PROP_MODEL NULL
#define DEFAULT_PROP_BATCH_SIZE 16
#define DEFAULT_PROP_MAX_LATENCY 0
#define DEFAULT_PROP_N_THREADS 1
/* Far above a subtitle cue or a news item, and a bounded workspace (about
 * 1 KB per token) for a transcript without line breaks. */
#define DEFAULT_PROP_MAX_TOKENS 4096
#define DEFAULT_PROP_POST_MESSAGES FALSE
#define DEFAULT_PROP_ANNOTATE GST_LSTM_CLASSIFY_ANNOTATE_NONE
#define DEFAULT_PROP_CONTEXT GST_LSTM_CLASSIFY_CONTEXT_NONE
#define DEFAULT_PROP_TOPIC_PERSISTENCE SEQNN_CONTEXT_DEFAULT_PERSISTENCE
#define DEFAULT_PROP_STREAM_PERSISTENCE SEQNN_CONTEXT_DEFAULT_STREAM_PERSISTENCE
#define DEFAULT_PROP_LOOKAHEAD 0
#define DEFAULT_PROP_CONTEXT_RESET (10 * GST_SECOND)

struct _GstLstmClassify {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* Properties, under the object lock. */
  gchar *model_path;
  gint batch_size;
  GstClockTime max_latency;
  gint n_threads;
  guint max_tokens;
  gboolean post_messages;
  GstLstmClassifyAnnotate annotate;
  GstSeqnnContextSettings context_settings;  /* context, topic-persistence, lookahead, context-reset */
  gboolean live;               /* upstream said live in the last LATENCY query */

  /* Units (each with its own locking, see their headers). */
  GstSeqnnModel *model;        /* in use (the task's) and the next one */
  GstSeqnnBatcher *batcher;    /* between the sink pad and the task */
  GstSeqnnEncoder *encoder;    /* the task's network input */
  GstSeqnnContext *context;    /* the task's context across cues */

  /* The sink pad's streaming thread: encoding on arrival (tokens of a meta
   * without ids, or the text), overlapping the network that the task runs;
   * the task uses those ids when its model has the same vocabulary. */
  gboolean sink_markup;        /* the last caps are pango-markup */
  SeqnnTokens *sink_tokens;
  GArray *sink_ids;            /* gint32 */

  /* Negotiated state and scratch, the task's (and the state-change thread's
   * while it is stopped). */
  GstCaps *sink_caps;          /* last caps received */
  gboolean markup;             /* sink caps are pango-markup */
  gboolean caps_sent;
  gboolean json_caps_sent;     /* the caps pushed downstream are the json ones */
  GArray *probs;               /* gfloat, rows x n_labels */
  GstSeqnnOutputSettings out_settings; /* of the batch being pushed */
};

G_DEFINE_TYPE (GstLstmClassify, gst_lstm_classify, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (lstmclassify, "lstmclassify", GST_RANK_NONE, GST_TYPE_LSTM_CLASSIFY);

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
static gboolean gst_lstm_classify_query (GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_lstm_classify_src_activate_mode (GstPad *pad, GstObject *parent,
    GstPadMode mode, gboolean active);
static gboolean gst_lstm_classify_sink_activate_mode (GstPad *pad, GstObject *parent,
    GstPadMode mode, gboolean active);
static void gst_lstm_classify_loop (GstPad *pad);
static GstFlowReturn release_decided (gpointer user_data, GstBuffer *buffer, const gfloat *probs,
    const gfloat *cue_probs);

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
  /**
   * GstLstmClassify:max-tokens:
   *
   * A record is classified on its first max-tokens tokens (text tokenized
   * only that far, longer tokens metas cut), or on fewer when the model's
   * own tokenizer setting is smaller; 0 keeps the model's setting (which
   * may be no cap at all).
   */
  g_object_class_install_property (gobject_class, PROP_MAX_TOKENS,
      g_param_spec_uint ("max-tokens", "Maximum tokens",
          "Classify each record on at most its first N tokens (or the model's smaller cap); "
          "0 = the model's setting",
          0, G_MAXINT32, DEFAULT_PROP_MAX_TOKENS,
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
  g_object_class_install_property (gobject_class, PROP_CONTEXT,
      g_param_spec_enum ("context", "Context",
          "none: every buffer alone; smooth: a topic tends to continue from cue to cue "
          "(sticky HMM over the cue-alone probabilities); stream: the model's recurrent state "
          "runs on from cue to cue (a stream model, lstmtrain stream-training=true)",
          GST_TYPE_LSTM_CLASSIFY_CONTEXT, DEFAULT_PROP_CONTEXT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TOPIC_PERSISTENCE,
      g_param_spec_double ("topic-persistence", "Topic persistence",
          "context=smooth: probability that a cue keeps the topic of the cue before it",
          0.0, 0.9999, DEFAULT_PROP_TOPIC_PERSISTENCE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STREAM_PERSISTENCE,
      g_param_spec_double ("stream-persistence", "Stream persistence",
          "context=stream with a lookahead: the same probability in the fixed-lag filter over "
          "the stream's probabilities (lower: they already carry the past)",
          0.0, 0.9999, DEFAULT_PROP_STREAM_PERSISTENCE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_LOOKAHEAD,
      g_param_spec_uint64 ("lookahead", "Lookahead",
          "context=smooth|stream: how long (ns) after a cue's start the cues that follow may "
          "still change its class (fixed-lag smoothing; 0 = strictly causal); adds to the latency",
          0, G_MAXUINT64 - 1, DEFAULT_PROP_LOOKAHEAD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CONTEXT_RESET,
      g_param_spec_uint64 ("context-reset", "Context reset",
          "context=smooth|stream: a gap (ns) between cues longer than this starts the context "
          "afresh",
          0, G_MAXUINT64 - 1, DEFAULT_PROP_CONTEXT_RESET,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Text classifier",
      "Filter/Analyzer/Text",
      "Classifies each text buffer with a recurrent network (RNN, LSTM, GRU) and attaches "
      "the class as a meta", "gst-seqnn developers");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_lstm_classify_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_CLASSIFY_ANNOTATE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_CLASSIFY_CONTEXT, 0);
  GST_DEBUG_CATEGORY_INIT (gst_lstm_classify_debug, "seqnnclassify", 0, "lstmclassify element");
}

static void
gst_lstm_classify_init (GstLstmClassify *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_lstm_classify_chain));
  gst_pad_set_event_full_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_classify_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_lstm_classify_query));
  gst_pad_set_activatemode_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_lstm_classify_sink_activate_mode));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_lstm_classify_query));
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_lstm_classify_src_activate_mode));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->batch_size = DEFAULT_PROP_BATCH_SIZE;
  self->max_latency = DEFAULT_PROP_MAX_LATENCY;
  self->n_threads = DEFAULT_PROP_N_THREADS;
  self->max_tokens = DEFAULT_PROP_MAX_TOKENS;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->annotate = DEFAULT_PROP_ANNOTATE;
  self->context_settings.mode = DEFAULT_PROP_CONTEXT;
  self->context_settings.persistence = DEFAULT_PROP_TOPIC_PERSISTENCE;
  self->context_settings.stream_persistence = DEFAULT_PROP_STREAM_PERSISTENCE;
  self->context_settings.lookahead = DEFAULT_PROP_LOOKAHEAD;
  self->context_settings.reset = DEFAULT_PROP_CONTEXT_RESET;

  self->model = gst_seqnn_model_new (GST_ELEMENT (self));
  self->batcher = gst_seqnn_batcher_new (GST_ELEMENT (self), self->srcpad);
  gst_seqnn_batcher_set_limits (self->batcher, self->batch_size, self->max_latency);
  self->encoder = gst_seqnn_encoder_new (GST_ELEMENT (self));
  self->context = gst_seqnn_context_new (GST_ELEMENT (self), release_decided, self);
  self->sink_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->sink_tokens = seqnn_tokens_new ();
  self->probs = g_array_new (FALSE, FALSE, sizeof (gfloat));
}

/* ---- Properties ---------------------------------------------------------- */

static void
gst_lstm_classify_set_model (GstLstmClassify *self, const gchar *path)
{
  gboolean loaded_now, stream;

  GST_OBJECT_LOCK (self);
  loaded_now = GST_STATE (self) >= GST_STATE_READY || GST_STATE_PENDING (self) >= GST_STATE_READY;
  stream = self->context_settings.mode == GST_LSTM_CLASSIFY_CONTEXT_STREAM;
  GST_OBJECT_UNLOCK (self);
  /* Loading reads and checks the whole file: outside every lock. A file
   * that does not load (or context=stream cannot use) keeps the path and
   * model of before. */
  if (loaded_now && path != NULL && !gst_seqnn_model_load_next (self->model, path, stream))
    return;
  GST_OBJECT_LOCK (self);
  g_free (self->model_path);
  self->model_path = g_strdup (path);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lstm_classify_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (object);
  gboolean limits_changed = FALSE, latency_changed = FALSE;
  guint batch_size;
  GstClockTime max_latency;

  if (prop_id == PROP_MODEL) {   /* may load a file: outside the lock */
    gst_lstm_classify_set_model (self, g_value_get_string (value));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_int (value);
      limits_changed = TRUE;
      break;
    case PROP_MAX_LATENCY:
      latency_changed = self->max_latency != g_value_get_uint64 (value);
      self->max_latency = g_value_get_uint64 (value);
      limits_changed = TRUE;
      break;
    case PROP_N_THREADS:
      self->n_threads = g_value_get_int (value);
      break;
    case PROP_MAX_TOKENS:
      self->max_tokens = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_ANNOTATE:
      self->annotate = g_value_get_enum (value);
      break;
    case PROP_CONTEXT:
      self->context_settings.mode = g_value_get_enum (value);
      break;
    case PROP_TOPIC_PERSISTENCE:
      self->context_settings.persistence = g_value_get_double (value);
      break;
    case PROP_STREAM_PERSISTENCE:
      self->context_settings.stream_persistence = g_value_get_double (value);
      break;
    case PROP_LOOKAHEAD:
      self->context_settings.lookahead = g_value_get_uint64 (value);
      latency_changed = TRUE;
      break;
    case PROP_CONTEXT_RESET:
      self->context_settings.reset = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  batch_size = self->batch_size;
  max_latency = self->max_latency;
  GST_OBJECT_UNLOCK (self);
  /* A smaller batch may already be complete, the waiting one gets the new deadline. */
  if (limits_changed)
    gst_seqnn_batcher_set_limits (self->batcher, batch_size, max_latency);
  if (latency_changed)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
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
    case PROP_MAX_TOKENS:
      g_value_set_uint (value, self->max_tokens);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_ANNOTATE:
      g_value_set_enum (value, self->annotate);
      break;
    case PROP_CONTEXT:
      g_value_set_enum (value, self->context_settings.mode);
      break;
    case PROP_TOPIC_PERSISTENCE:
      g_value_set_double (value, self->context_settings.persistence);
      break;
    case PROP_STREAM_PERSISTENCE:
      g_value_set_double (value, self->context_settings.stream_persistence);
      break;
    case PROP_LOOKAHEAD:
      g_value_set_uint64 (value, self->context_settings.lookahead);
      break;
    case PROP_CONTEXT_RESET:
      g_value_set_uint64 (value, self->context_settings.reset);
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

  gst_seqnn_batcher_free (self->batcher);
  gst_seqnn_model_free (self->model);
  gst_seqnn_encoder_free (self->encoder);
  gst_seqnn_context_free (self->context);
  g_array_free (self->probs, TRUE);
  g_array_free (self->sink_ids, TRUE);
  seqnn_tokens_free (self->sink_tokens);
  gst_caps_replace (&self->sink_caps, NULL);
  g_free (self->model_path);
  G_OBJECT_CLASS (gst_lstm_classify_parent_class)->finalize (object);
}

/* ---- Batches (task thread) ------------------------------------------------ */

/* Takes over a model loaded while playing (at a batch boundary) and the
 * threads setting. The held cues are decided with the old model's labels;
 * the context starts afresh with the new model. */
static void
take_next_model (GstLstmClassify *self)
{
  gchar *path = NULL;
  SeqnnClassifier *next = gst_seqnn_model_take_next (self->model, &path);
  gint n_threads;

  GST_OBJECT_LOCK (self);
  n_threads = self->n_threads;
  GST_OBJECT_UNLOCK (self);
  if (next) {
    GST_INFO_OBJECT (self, "switching to the new model (%u labels)",
        seqnn_classifier_get_n_labels (next));
    gst_seqnn_context_drain (self->context, TRUE);
    gst_seqnn_model_use (self->model, next, path, n_threads);
    gst_seqnn_encoder_new_model (self->encoder);
    g_free (path);
  } else {
    gst_seqnn_model_set_n_threads (self->model, n_threads);
  }
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
  caps = gst_seqnn_output_src_caps (self->sink_caps, json);
  ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  self->caps_sent = TRUE;
  self->json_caps_sent = json;
  return ok;
}

/* The context's way out for a buffer, once decided: with probs, the class
 * meta and what the settings ask for are attached (cue_probs: the
 * cue-alone probabilities with context across cues, else NULL). */
static GstFlowReturn
release_decided (gpointer user_data, GstBuffer *buffer, const gfloat *probs,
    const gfloat *cue_probs)
{
  GstLstmClassify *self = user_data;

  if (probs != NULL)
    buffer = gst_seqnn_output_classified (GST_ELEMENT (self), &self->out_settings,
        gst_seqnn_model_in_use (self->model), buffer, probs, cue_probs);
  return gst_pad_push (self->srcpad, buffer);
}

static GstFlowReturn
process_batch (GstLstmClassify *self, GstSeqnnBatch *batch)
{
  const GstSeqnnModelInUse *model;
  GstSeqnnContextSettings context_settings;
  SeqnnTokenizerConfig tokenizer;
  GstFlowReturn ret;
  guint max_tokens;
  gboolean live;

  take_next_model (self);
  GST_OBJECT_LOCK (self);
  self->out_settings.post_messages = self->post_messages;
  self->out_settings.annotate = self->annotate;
  max_tokens = self->max_tokens;
  context_settings = self->context_settings;
  live = self->live;
  GST_OBJECT_UNLOCK (self);
  self->out_settings.markup = self->markup;

  model = gst_seqnn_model_in_use (self->model);
  if (model->classifier == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("No model loaded"),
        ("set the 'model' property to a model file"));
    return GST_FLOW_ERROR;
  }
  tokenizer = gst_seqnn_encode_tokenizer (seqnn_classifier_get_tokenizer (model->classifier),
      max_tokens);
  if (!ensure_src_caps (self, self->out_settings.annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON)
      && self->sink_caps == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("buffers before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  ret = gst_seqnn_encoder_encode (self->encoder, model, &tokenizer, self->markup, batch);
  if (ret == GST_FLOW_OK)
    ret = gst_seqnn_model_run (self->model, self->encoder->ids, self->encoder->lengths,
        self->probs);
  if (ret == GST_FLOW_OK)
    ret = gst_seqnn_context_configure (self->context, model, &context_settings);
  if (ret == GST_FLOW_OK)
    ret = gst_seqnn_context_push_batch (self->context, batch, self->encoder,
        (const gfloat *) self->probs->data, model->n_labels, live);
  return ret;
}

static GstFlowReturn
process_event (GstLstmClassify *self, GstEvent *event)
{
  GstEvent *toc;
  /* The held cues leave before the event (the order stays), the TOC before EOS. */
  GstFlowReturn ret = gst_seqnn_context_event (self->context, event, &toc);

  if (toc != NULL)
    gst_pad_push_event (self->srcpad, toc);
  if (ret != GST_FLOW_OK && ret != GST_FLOW_EOS && GST_EVENT_TYPE (event) != GST_EVENT_EOS) {
    gst_event_unref (event);
    return ret;
  }
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gboolean json;

      gst_event_parse_caps (event, &caps);
      gst_caps_replace (&self->sink_caps, caps);
      self->markup = gst_seqnn_output_caps_are_markup (caps);
      GST_OBJECT_LOCK (self);
      json = self->annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON;
      GST_OBJECT_UNLOCK (self);
      gst_event_unref (event);
      self->caps_sent = FALSE;
      ensure_src_caps (self, json);
      return GST_FLOW_OK;
    }
    case GST_EVENT_EOS:{
      const GstSeqnnModelInUse *model = gst_seqnn_model_in_use (self->model);
      if (model->confusion != NULL)
        gst_seqnn_output_post_summary (GST_ELEMENT (self), model->confusion, model->labels);
      gst_pad_push_event (self->srcpad, event);
      return GST_FLOW_EOS;
    }
    default:
      gst_pad_push_event (self->srcpad, event);
      return GST_FLOW_OK;
  }
}

static void
gst_lstm_classify_loop (GstPad *pad)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (GST_PAD_PARENT (pad));
  GstSeqnnBatch *batch;
  gboolean woke;
  /* Live with a lookahead: the oldest held cue's deadline wakes the task. */
  GstEvent *event = gst_seqnn_batcher_take (self->batcher, &batch,
      gst_seqnn_context_next_deadline (self->context), &woke);
  GstFlowReturn ret;

  if (event == NULL && batch == NULL && !woke)
    return; /* flushing: the batcher paused the task */
  if (woke)
    ret = gst_seqnn_context_expire (self->context, gst_seqnn_batcher_clock_time (self->batcher));
  else
    ret = event != NULL ? process_event (self, event) : process_batch (self, batch);
  ret = gst_seqnn_batcher_done (self->batcher, ret, event == NULL);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    if (ret != GST_FLOW_ERROR) /* errors were posted where they happened */
      GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
}

/* ---- Sink pad ------------------------------------------------------------ */

static gboolean
start_task (GstLstmClassify *self)
{
  return gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_lstm_classify_loop, self->srcpad,
      NULL);
}

static GstFlowReturn
gst_lstm_classify_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);
  guint max_tokens;
  SeqnnVocab *vocab;

  GST_OBJECT_LOCK (self);
  max_tokens = self->max_tokens;
  GST_OBJECT_UNLOCK (self);
  /* Outside every lock, while the task runs a batch. */
  vocab = gst_seqnn_encode_on_arrival (self->model, max_tokens, self->sink_markup, buffer,
      self->sink_tokens, self->sink_ids);
  return gst_seqnn_batcher_push_buffer (self->batcher, buffer, vocab,
      (const gint32 *) self->sink_ids->data, self->sink_ids->len,
      gst_buffer_get_seqnn_tokens_meta (buffer) == NULL && self->sink_markup);
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
      gst_seqnn_batcher_set_flushing (self->batcher, TRUE);
      gst_pad_push_event (self->srcpad, event);
      /* Waits for the task to finish the batch it runs (its pushes now fail). */
      gst_pad_pause_task (self->srcpad);
      return GST_FLOW_OK;
    case GST_EVENT_FLUSH_STOP:
      gst_seqnn_batcher_flush (self->batcher);
      gst_seqnn_batcher_set_flushing (self->batcher, FALSE);
      /* The task is paused: its state is ours to reset. */
      gst_seqnn_model_reset_counts (self->model);
      gst_seqnn_context_clear (self->context);
      gst_pad_push_event (self->srcpad, event);
      return start_task (self) ? GST_FLOW_OK : GST_FLOW_ERROR;
    default:
      if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
        /* For tokenizing on arrival; the task keeps its own flag (markup). */
        GstCaps *caps;
        gst_event_parse_caps (event, &caps);
        self->sink_markup = gst_seqnn_output_caps_are_markup (caps);
      }
      if (GST_EVENT_IS_SERIALIZED (event)) {
        gboolean restart;
        GstFlowReturn ret = gst_seqnn_batcher_push_event (self->batcher, event, &restart);
        if (ret != GST_FLOW_OK)
          GST_DEBUG_OBJECT (self, "refused an event: %s", gst_flow_get_name (ret));
        if (restart)
          start_task (self);
        return ret;
      }
      return gst_pad_event_default (pad, parent, event) ? GST_FLOW_OK : GST_FLOW_ERROR;
  }
}

static gboolean
query_latency (GstLstmClassify *self, GstQuery *query)
{
  gboolean live;
  GstClockTime min, max, max_latency;

  if (!gst_pad_peer_query (self->sinkpad, query))
    return FALSE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (self);
  max_latency = self->max_latency;
  if (self->context_settings.mode != GST_LSTM_CLASSIFY_CONTEXT_NONE)
    max_latency += self->context_settings.lookahead;
  self->live = live;
  GST_OBJECT_UNLOCK (self);
  /* Live: each held cue leaves by its arrival + lookahead (a clock wait). */
  gst_seqnn_batcher_set_stamp_arrivals (self->batcher, live);
  min += max_latency;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += max_latency;
  GST_DEBUG_OBJECT (self, "latency: live %d min %" GST_TIME_FORMAT " max %" GST_TIME_FORMAT,
      live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
  gst_query_set_latency (query, live, min, max);
  return TRUE;
}

/* The query function of both pads. */
static gboolean
gst_lstm_classify_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:{
      GstCaps *filter, *caps;
      gboolean json;

      GST_OBJECT_LOCK (self);
      json = self->annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON;
      GST_OBJECT_UNLOCK (self);
      gst_query_parse_caps (query, &filter);
      caps = gst_seqnn_output_query_caps (pad, pad == self->sinkpad ? self->srcpad : self->sinkpad,
          pad == self->sinkpad, json, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_ALLOCATION:
      if (pad == self->sinkpad)
        return FALSE; /* we output the buffers we get (or our own memory) */
      break;
    case GST_QUERY_LATENCY:
      if (pad == self->srcpad)
        return query_latency (self, query);
      break;
    default:
      /* A serialized query waits for what is queued before it to leave. */
      if (pad == self->sinkpad && GST_QUERY_IS_SERIALIZED (query)
          && !gst_seqnn_batcher_drain (self->batcher))
        return FALSE;
      break;
  }
  return gst_pad_query_default (pad, parent, query);
}

/* ---- Activation and states ------------------------------------------------ */

static gboolean
gst_lstm_classify_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  gst_seqnn_batcher_set_flushing (self->batcher, !active);
  if (active)
    return start_task (self);
  return gst_pad_stop_task (pad);
}

static gboolean
gst_lstm_classify_sink_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  /* Unblock a chain waiting for room before the pad takes the stream lock. */
  if (!active)
    gst_seqnn_batcher_set_flushing (self->batcher, TRUE);
  return TRUE;
}

static gboolean
gst_lstm_classify_open (GstLstmClassify *self)
{
  gchar *path;
  gint n_threads;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  n_threads = self->n_threads;
  GST_OBJECT_UNLOCK (self);
  ok = gst_seqnn_model_open (self->model, path, n_threads);
  gst_seqnn_encoder_new_model (self->encoder);
  g_free (path);
  return ok;
}

static void
gst_lstm_classify_reset_stream (GstLstmClassify *self)
{
  gst_seqnn_batcher_clear (self->batcher);
  gst_caps_replace (&self->sink_caps, NULL);
  self->caps_sent = FALSE;
  self->json_caps_sent = FALSE;
  self->markup = FALSE;
  gst_seqnn_encoder_reset (self->encoder);
  gst_seqnn_model_reset_counts (self->model);
  GST_OBJECT_LOCK (self);
  self->live = FALSE;
  GST_OBJECT_UNLOCK (self);
  gst_seqnn_batcher_set_stamp_arrivals (self->batcher, FALSE);
  gst_seqnn_context_clear (self->context);
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
    case GST_STATE_CHANGE_READY_TO_PAUSED:{
      gboolean stream;

      GST_OBJECT_LOCK (self);
      stream = self->context_settings.mode == GST_LSTM_CLASSIFY_CONTEXT_STREAM;
      GST_OBJECT_UNLOCK (self);
      if (stream && !gst_seqnn_model_check_stream (self->model))
        return GST_STATE_CHANGE_FAILURE;
      gst_lstm_classify_reset_stream (self);
      break;
    }
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_lstm_classify_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_NULL_TO_READY)
      gst_seqnn_model_close (self->model);
    return ret;
  }

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* The pads are deactivated: the task is stopped. */
      gst_lstm_classify_reset_stream (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_seqnn_model_close (self->model);
      break;
    default:
      break;
  }
  return ret;
}
