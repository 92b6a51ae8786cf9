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
 * say format=pango-markup. A record is classified on at most its first
 * #GstLstmClassify:max-tokens tokens (default 4096, or the model's own
 * smaller cap; 0 = the model's setting): text is tokenized only that far,
 * longer tokens metas are cut, so one huge record (a transcript without line
 * breaks) cannot ask for gigabytes of workspace. A buffer that yields no token at all is
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
 * textoverlay take as they are. Numbers are the shortest decimals that read
 * back as the same float, in JSON and in messages.
 *
 * Caps: text/plain (from pocketsphinx and other older elements) is taken as
 * UTF-8 text without markup; such buffers leave as text/x-raw,format=utf8. post-messages=true posts an element message
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

#include <seqnn/seqnn.h>

#include "gstlstmclassify.h"
#include "gstseqnnbatcher.h"
#include "gstseqnncontext.h"
#include "gstseqnnmeta.h"
#include "gstseqnnoutput.h"

GST_DEBUG_CATEGORY (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

#define TEXT_CAPS "text/x-raw, format = (string) { utf8, pango-markup }"
#define UTF8_CAPS "text/x-raw, format = (string) utf8"
/* text/plain (pocketsphinx and other older elements): UTF-8 text without
 * markup, which leaves as text/x-raw, format=utf8. */
#define PLAIN_CAPS "text/plain"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (TEXT_CAPS "; " PLAIN_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (TEXT_CAPS));

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
  GstLstmClassifyContext context_mode;
  GstSeqnnContextSettings context_settings;
  /* Loaded by set_property, taken over by the task at a batch boundary; object lock. */
  SeqnnClassifier *next_classifier;

  /* Between the sink pad and the task (its own lock). */
  GstSeqnnBatcher *batcher;
  /* Encoding on arrival: the tokens of a tokens meta without ids (or the
   * text) are looked up by the sink pad's thread, overlapping the network
   * that the task runs; the task uses those ids when its model has the same
   * vocabulary. */
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
  SeqnnTokenizerConfig tokenizer; /* the model's, max-tokens applied (at each batch) */
  SeqnnTokens *tokens;
  GArray *ids;                /* gint32, the batch's sequences concatenated */
  GArray *lengths;            /* gint */
  GArray *probs;              /* gfloat, n x num_classes */
  GArray *rows;               /* gint per batch buffer: its row in probs, -1 when not classified */
  GstCaps *sink_caps;         /* last caps received */
  gboolean markup;            /* sink caps are pango-markup */
  gboolean json_caps_sent;    /* the caps pushed downstream are the json ones */
  gboolean caps_sent;
  gboolean ids_verified;      /* meta ids were checked against this model's vocabulary */
  guint64 n_buffers;          /* buffers seen since start, to name one in errors */
  /* context != none (the task's) */
  GstSeqnnContext *context;
  GstLstmClassifyContext context_used; /* the mode of the last batch */
  GArray *empty_rows;         /* gboolean per row of probs: the buffer had no tokens */
  GstSeqnnOutputSettings out_settings; /* of the batch or event being processed */
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
static void gst_lstm_classify_close (GstLstmClassify *self);
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
          "(sticky HMM over the cue-alone probabilities)",
          GST_TYPE_LSTM_CLASSIFY_CONTEXT, DEFAULT_PROP_CONTEXT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TOPIC_PERSISTENCE,
      g_param_spec_double ("topic-persistence", "Topic persistence",
          "context=smooth: probability that a cue keeps the topic of the cue before it",
          0.0, 0.9999, DEFAULT_PROP_TOPIC_PERSISTENCE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_LOOKAHEAD,
      g_param_spec_uint64 ("lookahead", "Lookahead",
          "context=smooth: how long (ns) after a cue's start the cues that follow may still "
          "change its class (fixed-lag smoothing; 0 = strictly causal); adds to the latency",
          0, G_MAXUINT64 - 1, DEFAULT_PROP_LOOKAHEAD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CONTEXT_RESET,
      g_param_spec_uint64 ("context-reset", "Context reset",
          "context=smooth: a gap (ns) between cues longer than this starts the context afresh",
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
  self->context_mode = DEFAULT_PROP_CONTEXT;
  self->context_settings.persistence = DEFAULT_PROP_TOPIC_PERSISTENCE;
  self->context_settings.lookahead = DEFAULT_PROP_LOOKAHEAD;
  self->context_settings.reset = DEFAULT_PROP_CONTEXT_RESET;
  self->context = gst_seqnn_context_new (GST_ELEMENT (self), release_decided, self);
  self->empty_rows = g_array_new (FALSE, FALSE, sizeof (gboolean));

  self->batcher = gst_seqnn_batcher_new (GST_ELEMENT (self), self->srcpad);
  gst_seqnn_batcher_set_limits (self->batcher, self->batch_size, self->max_latency);
  self->sink_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->sink_tokens = seqnn_tokens_new ();
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
        ("seqnn_classifier_load: %s error", seqnn_error_code_name (error)));
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
    case PROP_MAX_LATENCY:{
      gboolean latency_changed = FALSE;
      guint batch_size;
      GstClockTime max_latency;

      GST_OBJECT_LOCK (self);
      if (prop_id == PROP_BATCH_SIZE) {
        self->batch_size = g_value_get_int (value);
      } else {
        latency_changed = self->max_latency != g_value_get_uint64 (value);
        self->max_latency = g_value_get_uint64 (value);
      }
      batch_size = self->batch_size;
      max_latency = self->max_latency;
      GST_OBJECT_UNLOCK (self);
      /* A smaller batch may already be complete, the waiting one gets the new deadline. */
      gst_seqnn_batcher_set_limits (self->batcher, batch_size, max_latency);
      if (latency_changed)
        gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
      break;
    }
    case PROP_N_THREADS:
      GST_OBJECT_LOCK (self);
      self->n_threads = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MAX_TOKENS:
      GST_OBJECT_LOCK (self);
      self->max_tokens = g_value_get_uint (value);
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
    case PROP_CONTEXT:
      GST_OBJECT_LOCK (self);
      self->context_mode = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_TOPIC_PERSISTENCE:
      GST_OBJECT_LOCK (self);
      self->context_settings.persistence = g_value_get_double (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_LOOKAHEAD:
      GST_OBJECT_LOCK (self);
      self->context_settings.lookahead = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
      break;
    case PROP_CONTEXT_RESET:
      GST_OBJECT_LOCK (self);
      self->context_settings.reset = g_value_get_uint64 (value);
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
      g_value_set_enum (value, self->context_mode);
      break;
    case PROP_TOPIC_PERSISTENCE:
      g_value_set_double (value, self->context_settings.persistence);
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
  gst_lstm_classify_close (self);
  gst_seqnn_context_free (self->context);
  g_array_free (self->empty_rows, TRUE);
  g_array_free (self->sink_ids, TRUE);
  seqnn_tokens_free (self->sink_tokens);
  gst_caps_replace (&self->sink_caps, NULL);
  g_free (self->model_path);
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
    /* The held cues are decided with the old model's labels; the context
     * starts afresh with the new model. */
    if (self->context_used != GST_LSTM_CLASSIFY_CONTEXT_NONE)
      gst_seqnn_context_drain (self->context, TRUE);
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

/* A buffer without text and without tokens (an empty GAP) is not classified. */
static gboolean
is_unclassified (GstBuffer *buffer, const GstSeqnnTokensMeta *meta)
{
  return meta == NULL && GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_GAP)
      && gst_buffer_get_size (buffer) == 0;
}

/* n, or max_tokens when that is smaller and not 0. */
static guint
capped (guint n, gint max_tokens)
{
  return max_tokens > 0 && (guint) max_tokens < n ? (guint) max_tokens : n;
}

/* The model's tokenizer settings with the record cap of max-tokens applied
 * (the smaller of the two caps; 0 = no cap). */
static SeqnnTokenizerConfig
capped_tokenizer (const SeqnnTokenizerConfig *model, guint max_tokens)
{
  SeqnnTokenizerConfig config = *model;

  if (max_tokens > 0)
    config.max_tokens = (gint) capped (max_tokens, model->max_tokens);
  return config;
}

/* Appends the ids of buffer for vocab: its tokens meta's tokens looked up,
 * or (without meta) its text tokenized, markup stripped for pango-markup
 * caps; at most tokenizer->max_tokens of them. Both the sink pad (on arrival) and the task (after a model swap)
 * encode through here; meta ids are the task's (encode_buffer). */
static void
encode_tokens (const SeqnnVocab *vocab, const SeqnnTokenizerConfig *tokenizer, gboolean markup,
    GstBuffer *buffer, const GstSeqnnTokensMeta *meta, SeqnnTokens *scratch, GArray *ids)
{
  if (meta != NULL) {
    for (guint i = 0; i < capped (meta->n_tokens, tokenizer->max_tokens); i++) {
      gint32 id = seqnn_vocab_lookup (vocab, meta->tokens[i], -1);
      g_array_append_val (ids, id);
    }
  } else {
    SeqnnTokenizerConfig config = *tokenizer;
    GstMapInfo map;

    config.strip_markup = config.strip_markup || markup;  /* max_tokens: the tokenizer stops there */
    if (gst_buffer_map (buffer, &map, GST_MAP_READ)) {
      seqnn_tokenize (&config, (const gchar *) map.data, map.size, scratch);
      seqnn_vocab_encode (vocab, scratch, ids);
      gst_buffer_unmap (buffer, &map);
    }
  }
}

/* Checks the ids of a tokens meta against the model: in range, and (on the
 * first buffer with ids after each model load) the same as its tokens give. */
static GstFlowReturn
check_meta_ids (GstLstmClassify *self, GstBuffer *buffer, const GstSeqnnTokensMeta *meta,
    guint64 index)
{
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (self->classifier));
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (self->classifier);

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
  return GST_FLOW_OK;
}

/* Appends the ids and length of batch buffer i (the index-th buffer of the
 * stream, for errors) to the network's input. */
static GstFlowReturn
encode_buffer (GstLstmClassify *self, const GstSeqnnBatch *batch, guint i, guint64 index)
{
  GstBuffer *buffer = batch->buffers[i];
  const GstSeqnnBatchSlot *encoded = &batch->slots[i];
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (self->classifier);
  GstSeqnnTokensMeta *meta = gst_buffer_get_seqnn_tokens_meta (buffer);
  guint start = self->ids->len;
  gboolean empty;
  gint length;

  if (encoded->vocab != NULL && encoded->vocab == vocab
      && (meta != NULL || encoded->markup == self->markup)) {
    /* Encoded on arrival with this very vocabulary (and tokenizer). */
    g_array_append_vals (self->ids, &g_array_index (batch->ids, gint32, encoded->start),
        encoded->n_ids);
  } else if (meta != NULL && meta->ids != NULL) {
    GstFlowReturn ret = check_meta_ids (self, buffer, meta, index);
    if (ret != GST_FLOW_OK)
      return ret;
    g_array_append_vals (self->ids, meta->ids, capped (meta->n_tokens, self->tokenizer.max_tokens));
  } else {
    encode_tokens (vocab, &self->tokenizer, self->markup, buffer, meta, self->tokens, self->ids);
  }
  empty = self->ids->len == start;
  g_array_append_val (self->empty_rows, empty);
  length = seqnn_ids_end_record (self->ids, start);
  g_array_append_val (self->lengths, length);
  return GST_FLOW_OK;
}

/* Pushes the caps downstream needs for the annotate mode, when they changed. */
static gboolean
caps_are_markup (const GstCaps *caps)
{
  return g_strcmp0 (gst_structure_get_string (gst_caps_get_structure (caps, 0), "format"),
      "pango-markup") == 0;
}

static gboolean
ensure_src_caps (GstLstmClassify *self, gboolean json)
{
  GstCaps *caps;
  gboolean ok;

  if (self->sink_caps == NULL)
    return FALSE;
  if (self->caps_sent && self->json_caps_sent == json)
    return TRUE;
  if (json || gst_structure_has_name (gst_caps_get_structure (self->sink_caps, 0), PLAIN_CAPS))
    caps = gst_caps_from_string (UTF8_CAPS);
  else
    caps = gst_caps_ref (self->sink_caps);
  ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  self->caps_sent = TRUE;
  self->json_caps_sent = json;
  return ok;
}

/* The ids of every classified buffer of the batch into ids/lengths; rows
 * says which row of probs each buffer gets (-1: passes unclassified). */
static GstFlowReturn
encode_batch (GstLstmClassify *self, const GstSeqnnBatch *batch)
{
  g_array_set_size (self->ids, 0);
  g_array_set_size (self->lengths, 0);
  g_array_set_size (self->empty_rows, 0);
  g_array_set_size (self->rows, batch->n);
  for (guint i = 0; i < batch->n; i++) {
    GstBuffer *buffer = batch->buffers[i];
    GstFlowReturn ret;

    if (is_unclassified (buffer, gst_buffer_get_seqnn_tokens_meta (buffer))) {
      g_array_index (self->rows, gint, i) = -1;
      continue;
    }
    g_array_index (self->rows, gint, i) = self->lengths->len;
    ret = encode_buffer (self, batch, i, self->n_buffers + i);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  self->n_buffers += batch->n;
  return GST_FLOW_OK;
}

static GstFlowReturn
run_network (GstLstmClassify *self, guint n_buffers)
{
  guint n_classes = seqnn_classifier_get_n_labels (self->classifier);
  SeqnnBatch input = { (const gint32 *) self->ids->data, (const gint *) self->lengths->data,
    self->lengths->len, NULL };
  GError *error = NULL;

  g_array_set_size (self->probs, self->lengths->len * n_classes);
  if (input.n > 0
      && !seqnn_inference_run (self->inference, &input, (gfloat *) self->probs->data, NULL, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not classify a batch of %u buffers: %s",
            n_buffers, error->message), ("model '%s'", GST_STR_NULL (self->model_path)));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

/* Attaches the class meta (probs) and what the settings ask for to a
 * classified buffer and pushes it. cue_probs: the cue-alone probabilities
 * with context across cues, else NULL. */
static GstFlowReturn
classify_and_push (GstLstmClassify *self, GstBuffer *buffer, const gfloat *probs,
    const gfloat *cue_probs)
{
  guint n_classes = seqnn_classifier_get_n_labels (self->classifier);
  GstSeqnnClassMeta *meta;
  gint true_label;

  buffer = gst_buffer_make_writable (buffer);
  true_label = true_label_of (self, gst_buffer_get_seqnn_tokens_meta (buffer));
  meta = gst_buffer_add_seqnn_class_meta_with_labels (buffer, probs, n_classes, self->label_block);
  if (true_label >= 0 && self->confusion != NULL)  /* NULL: no memory for n^2 counters */
    seqnn_confusion_add (self->confusion, true_label, meta->class_id);
  GST_LOG_OBJECT (self, "buffer %" GST_TIME_FORMAT ": %s %.3f",
      GST_TIME_ARGS (GST_BUFFER_PTS (buffer)), meta->label, meta->confidence);
  buffer = gst_seqnn_output_buffer (GST_ELEMENT (self), &self->out_settings, buffer, meta,
      true_label >= 0 ? self->labels[true_label] : NULL, cue_probs);
  return gst_pad_push (self->srcpad, buffer);
}

/* The context's way out for a decided cue. */
static GstFlowReturn
release_decided (gpointer user_data, GstBuffer *buffer, const gfloat *probs,
    const gfloat *cue_probs)
{
  return classify_and_push (user_data, buffer, probs, cue_probs);
}

/* Pushes the batch's buffers in order (through the context when there is
 * one) until one push fails. */
static GstFlowReturn
push_batch (GstLstmClassify *self, GstSeqnnBatch *batch)
{
  guint n_classes = seqnn_classifier_get_n_labels (self->classifier);
  gboolean context = self->context_used != GST_LSTM_CLASSIFY_CONTEXT_NONE;

  for (guint i = 0; i < batch->n; i++) {
    GstBuffer *buffer = batch->buffers[i];
    gint row = g_array_index (self->rows, gint, i);
    const gfloat *probs = (const gfloat *) self->probs->data + (gsize) MAX (row, 0) * n_classes;
    GstFlowReturn ret = GST_FLOW_OK;

    batch->buffers[i] = NULL;
    if (row >= 0 && context) {
      gboolean empty = g_array_index (self->empty_rows, gboolean, row);
      ret = gst_seqnn_context_push (self->context, buffer, empty ? NULL : probs);
    } else if (row >= 0) {
      ret = classify_and_push (self, buffer, probs, NULL);
    } else {
      /* An unclassified buffer keeps its place after the held cues. */
      if (context)
        ret = gst_seqnn_context_drain (self->context, FALSE);
      if (ret == GST_FLOW_OK)
        ret = gst_pad_push (self->srcpad, buffer);
      else
        gst_buffer_unref (buffer);
    }
    if (ret != GST_FLOW_OK)
      return ret;
  }
  return GST_FLOW_OK;
}

static GstFlowReturn
process_batch (GstLstmClassify *self, GstSeqnnBatch *batch)
{
  GstSeqnnOutputSettings settings;
  GstFlowReturn ret;
  guint max_tokens;
  GstSeqnnContextSettings context_settings;

  take_next_classifier (self);
  GST_OBJECT_LOCK (self);
  settings.post_messages = self->post_messages;
  settings.annotate = self->annotate;
  max_tokens = self->max_tokens;
  self->context_used = self->context_mode;
  context_settings = self->context_settings;
  GST_OBJECT_UNLOCK (self);
  settings.markup = self->markup;
  self->out_settings = settings;

  if (self->classifier == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("No model loaded"),
        ("set the 'model' property to a model file"));
    return GST_FLOW_ERROR;
  }
  self->tokenizer = capped_tokenizer (seqnn_classifier_get_tokenizer (self->classifier), max_tokens);
  if (!ensure_src_caps (self, settings.annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON)
      && self->sink_caps == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("buffers before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  ret = encode_batch (self, batch);
  if (ret == GST_FLOW_OK)
    ret = run_network (self, batch->n);
  if (ret == GST_FLOW_OK && self->context_used != GST_LSTM_CLASSIFY_CONTEXT_NONE)
    ret = gst_seqnn_context_configure (self->context, self->labels,
        seqnn_classifier_get_n_labels (self->classifier), &context_settings);
  if (ret == GST_FLOW_OK)
    ret = push_batch (self, batch);
  return ret;
}

/* Events where the context starts afresh: a new stream, segment or gap, or
 * the application's programme boundary. */
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

/* Before a serialized event leaves, the held cues do (the order stays);
 * before EOS the TOC of the segments follows them. */
static GstFlowReturn
drain_context (GstLstmClassify *self, GstEvent *event)
{
  GstFlowReturn ret;
  GstEvent *toc;

  if (self->context_used == GST_LSTM_CLASSIFY_CONTEXT_NONE)
    return GST_FLOW_OK;
  ret = gst_seqnn_context_drain (self->context, event_restarts_context (event));
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS
      && (toc = gst_seqnn_context_toc_event (self->context)) != NULL)
    gst_pad_push_event (self->srcpad, toc);
  return ret;
}

static GstFlowReturn
process_event (GstLstmClassify *self, GstEvent *event)
{
  GstFlowReturn ret = drain_context (self, event);

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
      self->markup = caps_are_markup (caps);
      GST_OBJECT_LOCK (self);
      json = self->annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON;
      GST_OBJECT_UNLOCK (self);
      gst_event_unref (event);
      self->caps_sent = FALSE;
      ensure_src_caps (self, json);
      return GST_FLOW_OK;
    }
    case GST_EVENT_EOS:
      if (self->confusion != NULL)
        gst_seqnn_output_post_summary (GST_ELEMENT (self), self->confusion, self->labels);
      gst_pad_push_event (self->srcpad, event);
      return GST_FLOW_EOS;
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
  GstEvent *event = gst_seqnn_batcher_take (self->batcher, &batch);
  GstFlowReturn ret;

  if (event == NULL && batch == NULL)
    return; /* flushing: the batcher paused the task */
  ret = event != NULL ? process_event (self, event) : process_batch (self, batch);
  ret = gst_seqnn_batcher_done (self->batcher, ret, event == NULL);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    if (ret != GST_FLOW_ERROR) /* errors were posted where they happened */
      GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
}

/* ---- Sink pad ------------------------------------------------------------ */

static GstFlowReturn
gst_lstm_classify_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstLstmClassify *self = GST_LSTM_CLASSIFY (parent);
  GstSeqnnTokensMeta *meta = gst_buffer_get_seqnn_tokens_meta (buffer);
  /* What the task would otherwise encode: tokens without ids, or text. */
  gboolean encode = meta != NULL ? meta->ids == NULL && meta->n_tokens > 0
      : !is_unclassified (buffer, meta);
  SeqnnTokenizerConfig tokenizer;
  SeqnnVocab *vocab = NULL;

  GST_OBJECT_LOCK (self);
  if (encode && self->sink_vocab != NULL) {
    vocab = seqnn_vocab_ref (self->sink_vocab);
    tokenizer = capped_tokenizer (&self->sink_tokenizer, self->max_tokens);
  }
  GST_OBJECT_UNLOCK (self);
  /* Outside every lock, while the task runs a batch; the task checks that
   * its model has this vocabulary. */
  g_array_set_size (self->sink_ids, 0);
  if (vocab != NULL)
    encode_tokens (vocab, &tokenizer, self->sink_markup, buffer, meta, self->sink_tokens,
        self->sink_ids);
  return gst_seqnn_batcher_push_buffer (self->batcher, buffer, vocab,
      (const gint32 *) self->sink_ids->data, self->sink_ids->len, meta == NULL && self->sink_markup);
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
      if (self->confusion)
        seqnn_confusion_reset (self->confusion);
      gst_seqnn_context_clear (self->context);
      gst_pad_push_event (self->srcpad, event);
      return gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_lstm_classify_loop,
          self->srcpad, NULL) ? GST_FLOW_OK : GST_FLOW_ERROR;
    default:
      if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
        /* For tokenizing on arrival; the task keeps its own flag (markup). */
        GstCaps *caps;
        gst_event_parse_caps (event, &caps);
        self->sink_markup = caps_are_markup (caps);
      }
      if (GST_EVENT_IS_SERIALIZED (event)) {
        gboolean restart;
        GstFlowReturn ret = gst_seqnn_batcher_push_event (self->batcher, event, &restart);
        if (ret != GST_FLOW_OK)
          GST_DEBUG_OBJECT (self, "refused an event: %s", gst_flow_get_name (ret));
        if (restart)
          gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_lstm_classify_loop,
              self->srcpad, NULL);
        return ret;
      }
      return gst_pad_event_default (pad, parent, event) ? GST_FLOW_OK : GST_FLOW_ERROR;
  }
}

/* peer merged with extra when it can take (or give) what when stands for. */
static GstCaps *
merge_when (GstCaps *peer, const gchar *when, const gchar *extra)
{
  GstCaps *when_caps = gst_caps_from_string (when);
  gboolean add = gst_caps_can_intersect (peer, when_caps);

  gst_caps_unref (when_caps);
  return add ? gst_caps_merge (peer, gst_caps_from_string (extra)) : peer;
}

static GstCaps *
query_caps (GstLstmClassify *self, GstPad *pad, GstCaps *filter)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (pad);
  GstCaps *result, *peer;
  gboolean json;

  GST_OBJECT_LOCK (self);
  json = self->annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON;
  GST_OBJECT_UNLOCK (self);

  if (json && pad == self->srcpad) {
    result = gst_caps_from_string (UTF8_CAPS);
  } else if (json) {
    result = gst_caps_ref (templ); /* any text in: the output is utf8 json */
  } else {
    /* What the other side takes (or gives); text/plain in is utf8 out. */
    if (pad == self->sinkpad)
      peer = merge_when (gst_pad_peer_query_caps (self->srcpad, NULL), UTF8_CAPS, PLAIN_CAPS);
    else
      peer = merge_when (gst_pad_peer_query_caps (self->sinkpad, NULL), PLAIN_CAPS, UTF8_CAPS);
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
query_latency (GstLstmClassify *self, GstQuery *query)
{
  gboolean live;
  GstClockTime min, max, max_latency;

  if (!gst_pad_peer_query (self->sinkpad, query))
    return FALSE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (self);
  max_latency = self->max_latency;
  if (self->context_mode != GST_LSTM_CLASSIFY_CONTEXT_NONE)
    max_latency += self->context_settings.lookahead;
  GST_OBJECT_UNLOCK (self);
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
      gst_query_parse_caps (query, &filter);
      caps = query_caps (self, pad, filter);
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
    gst_seqnn_batcher_set_flushing (self->batcher, TRUE);
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
              error->message), ("seqnn_classifier_load: %s error", seqnn_error_code_name (error)));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load model '%s': %s", path,
              error->message), ("seqnn_classifier_load: %s error", seqnn_error_code_name (error)));
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
  self->rows = g_array_new (FALSE, FALSE, sizeof (gint));
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
  if (self->rows)
    g_array_free (self->rows, TRUE);
  self->ids = self->lengths = self->probs = self->rows = NULL;
}

static void
gst_lstm_classify_reset_stream (GstLstmClassify *self)
{
  gst_seqnn_batcher_clear (self->batcher);
  gst_caps_replace (&self->sink_caps, NULL);
  self->caps_sent = FALSE;
  self->json_caps_sent = FALSE;
  self->markup = FALSE;
  self->n_buffers = 0;
  if (self->confusion)
    seqnn_confusion_reset (self->confusion);
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
