/* GStreamer seqnn plugin: seqtokenize
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-seqtokenize
 * @title: seqtokenize
 *
 * Splits text into records and attaches each record's tokens (torchtext's
 * basic_english tokenizer, from libseqnn) as a #GstSeqnnTokensMeta. The text
 * itself passes unchanged, one buffer per record.
 *
 * Input is either text from a parser (text/x-raw caps, e.g. from subparse:
 * one cue per buffer, timestamps kept, a multi-line cue stays one record) or
 * a plain byte stream (no caps or other caps, e.g. straight from filesrc).
 *
 * With #GstSeqTokenize:format text, each parsed buffer is one record; a byte
 * stream is split at line ends and each output buffer holds one line
 * including its line terminator, so `filesrc ! seqtokenize ! filesink`
 * reproduces the file byte for byte. Formats csv (AG News:
 * "class","title","description"), tsv (label TAB text) and fasttext
 * (__label__name text) always read the input as a byte stream through
 * libseqnn's record reader; each buffer then holds the record's text as the
 * reader gives it (CSV: title and description joined by a space, no line
 * terminator) and the meta carries its label.
 *
 * Records from a byte stream have no timestamps; their buffer offset is the
 * record number (0-based, counted from the start or the last flush), and a
 * BYTES segment from upstream becomes a TIME segment downstream.
 *
 * With #GstSeqTokenize:model set, the tokenizer settings (lowercase,
 * max-tokens) and the vocabulary come from the model file, the meta also
 * carries the token ids, and the model's class names are the default labels.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=movie.srt ! subparse ! seqtokenize ! fakesink silent=false -v
 * ]| Tokenizes every subtitle cue (markup such as <i> is stripped for the tokens).
 * |[
 * gst-launch-1.0 filesrc location=dev.csv ! seqtokenize format=csv model=agnews.model ! lstmclassify ! fakesink
 * ]| Reads AG News records with their labels and token ids.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <seqnn/classifier.h>
#include <seqnn/modelcache.h>
#include <seqnn/dataset.h>
#include <seqnn/text.h>

#include "gstseqnnmeta.h"
#include "gstseqtokenize.h"
#include "gstseqtokenizesettings.h"

GST_DEBUG_CATEGORY (seq_tokenize_debug);
#define GST_CAT_DEFAULT seq_tokenize_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format = (string) { utf8, pango-markup }"));

enum
{
  PROP_0,
  PROP_FORMAT,
  PROP_MODEL,
  PROP_LABELS,
  PROP_LOWERCASE,
  PROP_MAX_TOKENS,
  PROP_DROP_EMPTY,
  PROP_SKIP_BAD_RECORDS,
  PROP_HEADER,
  PROP_LABEL_COLUMN,
  PROP_TEXT_COLUMNS,
  PROP_RECORDS,
  PROP_SKIPPED_RECORDS,
};

#define DEFAULT_PROP_FORMAT GST_SEQ_TOKENIZE_FORMAT_TEXT
#define DEFAULT_PROP_MODEL NULL
#define DEFAULT_PROP_LABELS NULL
#define DEFAULT_PROP_LOWERCASE TRUE
#define DEFAULT_PROP_MAX_TOKENS 0
#define DEFAULT_PROP_DROP_EMPTY FALSE
#define DEFAULT_PROP_SKIP_BAD_RECORDS FALSE
#define DEFAULT_PROP_HEADER SEQNN_HEADER_AUTO

struct _GstSeqTokenize
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* Properties, under the object lock. settings_changed: applied by the
   * streaming thread before the next record. */
  GstSeqTokenizeFormat prop_format;
  gchar *prop_model;
  gchar *prop_labels;
  gboolean prop_lowercase;
  guint prop_max_tokens;
  gboolean prop_drop_empty;
  gboolean prop_skip_bad;
  SeqnnHeader prop_header;
  gchar *prop_label_column;
  gchar *prop_text_columns;
  gboolean settings_changed;
  guint64 n_records;            /* pushed or dropped, for the read-only property */
  guint64 n_skipped;

  /* Active settings, used by the streaming thread only. */
  GstSeqTokenizeActive active;
  gboolean drop_empty;
  gboolean skip_bad;

  /* Stream state. */
  gboolean parsed_input;        /* text/x-raw caps: one buffer is one text */
  gboolean markup;              /* input is pango-markup */
  gboolean seen_stream_start;
  gboolean need_caps;
  gboolean need_segment;
  GstSegment segment;
  guint32 segment_seqnum;
  gboolean discont;
  gchar *source_name;           /* for error messages: upstream file name or "input" */
  SeqnnRecordReader *reader;    /* csv, tsv, fasttext */
  guint64 reader_skipped;       /* reader's skip count already reported */
  guint64 label_skipped;        /* CSV records with a bad class, not yet reported */
  guint64 record_index;         /* next record's number since start or flush */
  SeqnnTokens *tokens;
  GArray *ids;
  GPtrArray *token_ptrs;
  GstFlowReturn record_flow;    /* from the reader callback */
  gboolean failed;              /* posted an error: the records end early, so EOS is not
                                 * passed on (lstmtrain would train on them as a whole) */
};

GType
gst_seq_tokenize_format_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_SEQ_TOKENIZE_FORMAT_TEXT,
        "Text: one record per parsed buffer, or per line of a byte stream", "text"},
    {GST_SEQ_TOKENIZE_FORMAT_CSV, "AG News CSV: \"class\",\"title\",\"description\"", "csv"},
    {GST_SEQ_TOKENIZE_FORMAT_TSV, "Tab-separated: label, tab, text", "tsv"},
    {GST_SEQ_TOKENIZE_FORMAT_FASTTEXT, "fastText: __label__name text", "fasttext"},
    {GST_SEQ_TOKENIZE_FORMAT_JSONL, "JSON Lines: one object per line", "jsonl"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSeqTokenizeFormat", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_SEQ_TOKENIZE_HEADER (gst_seq_tokenize_header_get_type ())
static GType
gst_seq_tokenize_header_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {SEQNN_HEADER_AUTO, "The first row is a header when a column is given by name", "auto"},
    {SEQNN_HEADER_YES, "The first row is a header", "true"},
    {SEQNN_HEADER_NO, "No header row", "false"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSeqTokenizeHeader", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define gst_seq_tokenize_parent_class parent_class
G_DEFINE_TYPE (GstSeqTokenize, gst_seq_tokenize, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (seqtokenize, "seqtokenize", GST_RANK_NONE, GST_TYPE_SEQ_TOKENIZE);

static void gst_seq_tokenize_finalize (GObject *object);
static void gst_seq_tokenize_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec);
static void gst_seq_tokenize_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec);
static GstStateChangeReturn gst_seq_tokenize_change_state (GstElement *element,
    GstStateChange transition);
static GstFlowReturn gst_seq_tokenize_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer);
static gboolean gst_seq_tokenize_sink_event (GstPad *pad, GstObject *parent, GstEvent *event);

static void
gst_seq_tokenize_class_init (GstSeqTokenizeClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_seq_tokenize_finalize;
  gobject_class->set_property = gst_seq_tokenize_set_property;
  gobject_class->get_property = gst_seq_tokenize_get_property;

  /**
   * GstSeqTokenize:format:
   *
   * How the input is split into records.
   */
  g_object_class_install_property (gobject_class, PROP_FORMAT,
      g_param_spec_enum ("format", "Format",
          "How the input is split into records: text (one per parsed buffer, or one per line "
          "of a byte stream), csv (AG News), tsv (label<TAB>text), fasttext (__label__name text) "
          "or jsonl (one JSON object per line)",
          GST_TYPE_SEQ_TOKENIZE_FORMAT, DEFAULT_PROP_FORMAT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model file whose tokenizer settings and vocabulary are used; the tokens meta then "
          "carries token ids (empty: tokens only)",
          DEFAULT_PROP_MODEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LABELS,
      g_param_spec_string ("labels", "Labels",
          "Comma-separated class names in class order, e.g. \"World,Sports,Business,Sci/Tech\": "
          "class number k is the k-th name; \"N=name\" entries name class number N, "
          "e.g. \"0=negative,1=positive\" (empty: the model's names; else the AG News names, "
          "or with a column layout or jsonl the labels as they come, numbers as names)",
          DEFAULT_PROP_LABELS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LOWERCASE,
      g_param_spec_boolean ("lowercase", "Lowercase",
          "Lowercase the text before tokenizing, as basic_english (ignored with a model: "
          "its own setting is used)",
          DEFAULT_PROP_LOWERCASE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_TOKENS,
      g_param_spec_uint ("max-tokens", "Maximum tokens",
          "Keep only the first N tokens of a record (0: all; ignored with a model: its own "
          "setting is used)",
          0, G_MAXINT, DEFAULT_PROP_MAX_TOKENS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_DROP_EMPTY,
      g_param_spec_boolean ("drop-empty", "Drop empty records",
          "Drop records that have no tokens instead of passing them on with an empty meta",
          DEFAULT_PROP_DROP_EMPTY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SKIP_BAD_RECORDS,
      g_param_spec_boolean ("skip-bad-records", "Skip bad records",
          "Skip malformed records (posting a warning with the count) instead of failing with "
          "an error naming the line",
          DEFAULT_PROP_SKIP_BAD_RECORDS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_HEADER,
      g_param_spec_enum ("header", "Header",
          "CSV/TSV: whether the first row names the columns (auto: when label-column or "
          "text-columns gives a name)",
          GST_TYPE_SEQ_TOKENIZE_HEADER, DEFAULT_PROP_HEADER,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LABEL_COLUMN,
      g_param_spec_string ("label-column", "Label column",
          "CSV/TSV: the label's column, a header name or a 1-based number (empty: the first); "
          "jsonl: its key (empty: \"label\")",
          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TEXT_COLUMNS,
      g_param_spec_string ("text-columns", "Text columns",
          "CSV/TSV: comma-separated columns (header names or 1-based numbers) joined with a space "
          "as the text (empty: all but the label's); jsonl: keys (empty: \"text\")",
          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_RECORDS,
      g_param_spec_uint64 ("records", "Records",
          "Records read so far, dropped empty ones included", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SKIPPED_RECORDS,
      g_param_spec_uint64 ("skipped-records", "Skipped records",
          "Malformed records skipped so far (with skip-bad-records)", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Sequence tokenizer",
      "Filter/Text",
      "Splits text into records and attaches their tokens (and token ids) as metadata",
      "gst-seqnn developers <dev@gst-seqnn.invalid>");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_seq_tokenize_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_SEQ_TOKENIZE_FORMAT, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_SEQ_TOKENIZE_HEADER, 0);
  GST_DEBUG_CATEGORY_INIT (seq_tokenize_debug, "seqnntokenize", 0, "seqtokenize element");
}

static void
gst_seq_tokenize_init (GstSeqTokenize *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_seq_tokenize_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_seq_tokenize_sink_event));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->prop_format = DEFAULT_PROP_FORMAT;
  self->prop_model = NULL;
  self->prop_labels = NULL;
  self->prop_lowercase = DEFAULT_PROP_LOWERCASE;
  self->prop_max_tokens = DEFAULT_PROP_MAX_TOKENS;
  self->prop_drop_empty = DEFAULT_PROP_DROP_EMPTY;
  self->prop_skip_bad = DEFAULT_PROP_SKIP_BAD_RECORDS;
  self->prop_header = DEFAULT_PROP_HEADER;
  self->settings_changed = TRUE;

  gst_seq_tokenize_active_init (&self->active, DEFAULT_PROP_FORMAT);
  self->tokens = seqnn_tokens_new ();
  self->ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->token_ptrs = g_ptr_array_new ();
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
}

/* Back to the state before any data: called on stop and in finalize. */
static void
gst_seq_tokenize_reset_stream (GstSeqTokenize *self)
{
  self->parsed_input = FALSE;
  self->markup = FALSE;
  self->seen_stream_start = FALSE;
  self->need_caps = TRUE;
  self->need_segment = TRUE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  self->segment_seqnum = GST_SEQNUM_INVALID;
  self->discont = TRUE;
  g_clear_pointer (&self->source_name, g_free);
  g_clear_pointer (&self->reader, seqnn_record_reader_free);
  self->reader_skipped = 0;
  self->label_skipped = 0;
  self->record_index = 0;
  self->record_flow = GST_FLOW_OK;
  self->failed = FALSE;
}

static void
gst_seq_tokenize_finalize (GObject *object)
{
  GstSeqTokenize *self = GST_SEQ_TOKENIZE (object);

  gst_seq_tokenize_reset_stream (self);
  g_free (self->prop_model);
  g_free (self->prop_labels);
  g_free (self->prop_label_column);
  g_free (self->prop_text_columns);
  gst_seq_tokenize_active_clear (&self->active);
  seqnn_tokens_free (self->tokens);
  g_array_unref (self->ids);
  g_ptr_array_unref (self->token_ptrs);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_seq_tokenize_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstSeqTokenize *self = GST_SEQ_TOKENIZE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_FORMAT:
      self->prop_format = g_value_get_enum (value);
      break;
    case PROP_MODEL:
      g_free (self->prop_model);
      self->prop_model = g_value_dup_string (value);
      if (self->prop_model != NULL && self->prop_model[0] == '\0')
        g_clear_pointer (&self->prop_model, g_free);
      break;
    case PROP_LABELS:
      g_free (self->prop_labels);
      self->prop_labels = g_value_dup_string (value);
      break;
    case PROP_LOWERCASE:
      self->prop_lowercase = g_value_get_boolean (value);
      break;
    case PROP_MAX_TOKENS:
      self->prop_max_tokens = g_value_get_uint (value);
      break;
    case PROP_DROP_EMPTY:
      self->prop_drop_empty = g_value_get_boolean (value);
      break;
    case PROP_SKIP_BAD_RECORDS:
      self->prop_skip_bad = g_value_get_boolean (value);
      break;
    case PROP_HEADER:
      self->prop_header = g_value_get_enum (value);
      break;
    case PROP_LABEL_COLUMN:
      g_free (self->prop_label_column);
      self->prop_label_column = g_value_dup_string (value);
      break;
    case PROP_TEXT_COLUMNS:
      g_free (self->prop_text_columns);
      self->prop_text_columns = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      GST_OBJECT_UNLOCK (self);
      return;
  }
  self->settings_changed = TRUE;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_seq_tokenize_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstSeqTokenize *self = GST_SEQ_TOKENIZE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_FORMAT:
      g_value_set_enum (value, self->prop_format);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->prop_model);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->prop_labels);
      break;
    case PROP_LOWERCASE:
      g_value_set_boolean (value, self->prop_lowercase);
      break;
    case PROP_MAX_TOKENS:
      g_value_set_uint (value, self->prop_max_tokens);
      break;
    case PROP_DROP_EMPTY:
      g_value_set_boolean (value, self->prop_drop_empty);
      break;
    case PROP_SKIP_BAD_RECORDS:
      g_value_set_boolean (value, self->prop_skip_bad);
      break;
    case PROP_HEADER:
      g_value_set_enum (value, self->prop_header);
      break;
    case PROP_LABEL_COLUMN:
      g_value_set_string (value, self->prop_label_column);
      break;
    case PROP_TEXT_COLUMNS:
      g_value_set_string (value, self->prop_text_columns);
      break;
    case PROP_RECORDS:
      g_value_set_uint64 (value, self->n_records);
      break;
    case PROP_SKIPPED_RECORDS:
      g_value_set_uint64 (value, self->n_skipped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* "World, Sports,,Business" -> a label set of the non-empty, trimmed names. */
/* Applies changed properties (loading the model when its path changed).
 * Streaming thread or state change only. FALSE after posting an error. */
static gboolean
gst_seq_tokenize_apply_settings (GstSeqTokenize *self)
{
  GstSeqTokenizeProps props;
  gboolean changed, new_reader, retry, ok;

  GST_OBJECT_LOCK (self);
  changed = self->settings_changed;
  self->settings_changed = FALSE;
  props.format = self->prop_format;
  props.model = g_strdup (self->prop_model);
  props.labels = g_strdup (self->prop_labels);
  props.lowercase = self->prop_lowercase;
  props.max_tokens = self->prop_max_tokens;
  props.columns.header = self->prop_header;
  props.columns.label_column = g_strdup (self->prop_label_column);
  props.columns.text_columns = g_strdup (self->prop_text_columns);
  self->drop_empty = self->prop_drop_empty;
  self->skip_bad = self->prop_skip_bad;
  GST_OBJECT_UNLOCK (self);

  if (!changed) {
    gst_seq_tokenize_props_clear (&props);
    return TRUE;
  }
  ok = gst_seq_tokenize_active_apply (&self->active, &props, GST_ELEMENT (self), &new_reader,
      &retry);
  gst_seq_tokenize_props_clear (&props);
  if (new_reader) {
    g_clear_pointer (&self->reader, seqnn_record_reader_free);
    self->reader_skipped = 0;
  }
  if (retry) {
    GST_OBJECT_LOCK (self);
    self->settings_changed = TRUE;
    GST_OBJECT_UNLOCK (self);
  }
  if (ok && self->reader != NULL)
    seqnn_record_reader_set_skip_bad (self->reader, self->skip_bad);
  if (!ok)
    self->failed = TRUE; /* gst_seq_tokenize_active_apply posted the error */
  return ok;
}

/* The upstream file's base name for error messages ("dev.csv:17: ..."). */
static gchar *
query_source_name (GstSeqTokenize *self)
{
  GstQuery *query = gst_query_new_uri ();
  gchar *name = NULL;

  if (gst_pad_peer_query (self->sinkpad, query)) {
    gchar *uri = NULL;

    gst_query_parse_uri (query, &uri);
    if (uri != NULL) {
      gchar *path = g_filename_from_uri (uri, NULL, NULL);

      if (path != NULL)
        name = g_path_get_basename (path);
      else
        name = g_strdup (uri);
      g_free (path);
      g_free (uri);
    }
  }
  gst_query_unref (query);
  return name != NULL ? name : g_strdup ("input");
}

/* Sticky events downstream needs before data, in order: stream-start, caps,
 * and (with_segment) segment. */
static void
gst_seq_tokenize_ensure_events_full (GstSeqTokenize *self, gboolean with_segment)
{
  if (!self->seen_stream_start) {
    gchar *stream_id = gst_pad_create_stream_id (self->srcpad, GST_ELEMENT (self), NULL);

    gst_pad_push_event (self->srcpad, gst_event_new_stream_start (stream_id));
    g_free (stream_id);
    self->seen_stream_start = TRUE;
  }
  if (self->need_caps) {
    GstCaps *caps = gst_caps_new_simple ("text/x-raw", "format", G_TYPE_STRING,
        self->markup ? "pango-markup" : "utf8", NULL);

    GST_DEBUG_OBJECT (self, "output caps %" GST_PTR_FORMAT, caps);
    gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
    gst_caps_unref (caps);
    self->need_caps = FALSE;
  }
  if (with_segment && self->need_segment) {
    GstEvent *event = gst_event_new_segment (&self->segment);

    if (self->segment_seqnum != GST_SEQNUM_INVALID)
      gst_event_set_seqnum (event, self->segment_seqnum);
    gst_pad_push_event (self->srcpad, event);
    self->need_segment = FALSE;
  }
}

static void
gst_seq_tokenize_ensure_events (GstSeqTokenize *self)
{
  gst_seq_tokenize_ensure_events_full (self, TRUE);
}

/* A buffer holding a copy of data (an empty one for len 0). Allocated memory
 * keeps its header and bytes in one block (gst_buffer_new_memdup would make
 * two allocations for them). */
static GstBuffer *
buffer_new_copy (gconstpointer data, gsize len)
{
  GstBuffer *buffer;

  if (len == 0)
    return gst_buffer_new ();
  buffer = gst_buffer_new_allocate (NULL, len, NULL);
  gst_buffer_fill (buffer, 0, data, len);
  return buffer;
}

/* Tokenizes text into self->tokens (and self->ids with a model). */
static void
gst_seq_tokenize_tokenize (GstSeqTokenize *self, const gchar *text, gsize len)
{
  SeqnnTokenizerConfig config = self->active.tokenizer;

  config.strip_markup = self->markup;
  seqnn_tokenize (&config, text, (gssize) len, self->tokens);
  g_array_set_size (self->ids, 0);
  if (self->active.classifier != NULL)
    seqnn_vocab_encode (seqnn_classifier_get_vocab (self->active.classifier), self->tokens,
        self->ids);
}

static gboolean
remove_tokens_meta (GstBuffer *buffer, GstMeta **meta, gpointer user_data)
{
  if ((*meta)->info->api == GST_SEQNN_TOKENS_META_API_TYPE)
    *meta = NULL;
  return TRUE;
}

/* Attaches the tokens in self->tokens / self->ids to buffer (owned, any
 * writability) and pushes it, or drops it when empty and drop-empty. */
static GstFlowReturn
gst_seq_tokenize_push_record (GstSeqTokenize *self, GstBuffer *buffer, const gchar *label,
    gint label_id)
{
  guint n = seqnn_tokens_get_n (self->tokens);
  const gint32 *ids = NULL;
  GstSeqnnTokensMeta *meta;

  GST_OBJECT_LOCK (self);
  self->n_records++;
  GST_OBJECT_UNLOCK (self);

  if (n == 0 && self->drop_empty) {
    GST_LOG_OBJECT (self, "dropping record %" G_GUINT64_FORMAT " without tokens",
        self->record_index);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }

  buffer = gst_buffer_make_writable (buffer);
  /* A buffer tokenized twice keeps only the latest tokens. */
  gst_buffer_foreach_meta (buffer, remove_tokens_meta, NULL);
  g_ptr_array_set_size (self->token_ptrs, 0);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (self->token_ptrs, (gpointer) seqnn_tokens_get (self->tokens, i));
  g_ptr_array_add (self->token_ptrs, NULL);
  if (self->active.classifier != NULL) {
    static const gint32 no_ids[1] = { 0 };
    /* Non-NULL for an empty record too: the meta then says "a vocabulary was used". */
    ids = self->ids->len > 0 ? (const gint32 *) self->ids->data : no_ids;
  }
  meta = gst_buffer_add_seqnn_tokens_meta (buffer, (const gchar *const *) self->token_ptrs->pdata,
      n, ids, label, label_id);
  /* The settings travel with the tokens (lstmtrain stores them in its model). */
  gst_seqnn_tokens_meta_set_tokenizer (meta, SEQNN_TOKENIZER_BASIC_ENGLISH,
      self->active.tokenizer.lowercase, self->markup, (guint) self->active.tokenizer.max_tokens);

  if (self->discont) {
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }
  gst_seq_tokenize_ensure_events (self);
  GST_LOG_OBJECT (self, "record %" G_GUINT64_FORMAT ": %u tokens, label %s",
      self->record_index, n, GST_STR_NULL (label));
  return gst_pad_push (self->srcpad, buffer);
}

/* SeqnnRecordFunc: a record becomes a buffer (a text line with its bytes as read). */
static gboolean
gst_seq_tokenize_on_record (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  GstSeqTokenize *self = user_data;
  SeqnnFormat format = gst_seq_tokenize_seqnn_format (self->active.format);
  const gchar *label = NULL;
  gchar *owned_label = NULL;
  gint label_id = -1;
  GstBuffer *buffer;
  GstFlowReturn ret;

  if (record->label != NULL) {
    if (self->active.grow_labels || seqnn_record_label_is_number (format, record)) {
      GError *label_error = NULL;

      label_id = seqnn_label_set_resolve (self->active.labels, format, record,
          self->active.grow_labels,
          self->source_name, &label_error);
      if (label_id < 0) {
        if (self->skip_bad) {
          GST_DEBUG_OBJECT (self, "skipping record: %s", label_error->message);
          g_clear_error (&label_error);
          self->label_skipped++;
          return TRUE;
        }
        g_propagate_error (error, label_error);
        return FALSE;
      }
      label = seqnn_label_set_get_name (self->active.labels, label_id);
    } else {
      /* As written, made valid UTF-8 for the meta's readers. */
      label = owned_label = g_utf8_make_valid (record->label, (gssize) record->label_len);
      if (self->active.labels != NULL)
        label_id = seqnn_label_set_lookup (self->active.labels, record->label,
            (gssize) record->label_len);
    }
  }

  gst_seq_tokenize_tokenize (self, record->text, record->text_len);
  if (record->raw != NULL)
    buffer = buffer_new_copy (record->raw, record->raw_len);
  else
    buffer = buffer_new_copy (record->text, record->text_len);
  GST_BUFFER_OFFSET (buffer) = self->record_index;
  ret = gst_seq_tokenize_push_record (self, buffer, label, label_id);
  self->record_index++;
  g_free (owned_label);

  if (ret != GST_FLOW_OK) {
    self->record_flow = ret;
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED, "downstream returned %s",
        gst_flow_get_name (ret));
    return FALSE;
  }
  return TRUE;
}

/* After a reader call: a flow from downstream, or an error to post. */
static GstFlowReturn
gst_seq_tokenize_reader_result (GstSeqTokenize *self, gboolean ok, GError *error)
{
  guint64 skipped = seqnn_record_reader_get_n_skipped (self->reader);
  GstFlowReturn ret = GST_FLOW_OK;

  if (skipped > self->reader_skipped || self->label_skipped > 0) {
    guint64 n_new = skipped - self->reader_skipped + self->label_skipped, total;

    self->reader_skipped = skipped;
    self->label_skipped = 0;
    GST_OBJECT_LOCK (self);
    self->n_skipped += n_new;
    total = self->n_skipped;
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_WARNING (self, STREAM, DECODE,
        ("Skipped %" G_GUINT64_FORMAT " malformed record(s) in '%s'", n_new, self->source_name),
        ("%" G_GUINT64_FORMAT " skipped so far", total));
  }

  if (!ok) {
    if (self->record_flow != GST_FLOW_OK) {
      ret = self->record_flow;
      self->record_flow = GST_FLOW_OK;
    } else {
      GST_ELEMENT_ERROR (self, STREAM, DECODE,
          ("Malformed %s record: %s",
              seqnn_format_to_string (gst_seq_tokenize_seqnn_format (self->active.format)),
              error != NULL ? error->message : "unknown error"),
          ("use skip-bad-records=true to skip malformed records"));
      self->failed = TRUE;
      ret = GST_FLOW_ERROR;
    }
  }
  g_clear_error (&error);
  return ret;
}

static void
gst_seq_tokenize_ensure_reader (GstSeqTokenize *self)
{
  if (self->source_name == NULL)
    self->source_name = query_source_name (self);
  if (self->reader == NULL) {
    self->reader = seqnn_record_reader_new (gst_seq_tokenize_seqnn_format (self->active.format),
        self->source_name);
    seqnn_record_reader_set_skip_bad (self->reader, self->skip_bad);
    /* Text from a byte stream passes through line by line, unbounded as a file is. */
    seqnn_record_reader_set_whole_lines (self->reader, TRUE);
    if (self->active.format == GST_SEQ_TOKENIZE_FORMAT_TEXT)
      seqnn_record_reader_set_max_record_size (self->reader, G_MAXSIZE);
    /* checked when the settings were applied */
    if (!seqnn_record_reader_set_columns (self->reader, &self->active.columns, NULL))
      g_warn_if_reached ();
    self->reader_skipped = 0;
  }
}

static GstFlowReturn
gst_seq_tokenize_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstSeqTokenize *self = GST_SEQ_TOKENIZE (parent);
  GstMapInfo map;
  GstFlowReturn ret;

  if (!gst_seq_tokenize_apply_settings (self)) {
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }
  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT))
    self->discont = TRUE;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Could not read the input buffer"), (NULL));
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }

  if (self->active.format == GST_SEQ_TOKENIZE_FORMAT_TEXT && self->parsed_input) {
    /* One parsed text (a subtitle cue): the buffer itself goes on, timestamps and all. */
    gst_seq_tokenize_tokenize (self, (const gchar *) map.data, map.size);
    gst_buffer_unmap (buffer, &map);
    ret = gst_seq_tokenize_push_record (self, buffer, NULL, -1);
    self->record_index++;
    return ret;
  }

  {
    GError *error = NULL;
    gboolean ok;

    gst_seq_tokenize_ensure_reader (self);
    ok = seqnn_record_reader_feed (self->reader, (const gchar *) map.data, map.size,
        gst_seq_tokenize_on_record, self, &error);
    gst_buffer_unmap (buffer, &map);
    gst_buffer_unref (buffer);
    return gst_seq_tokenize_reader_result (self, ok, error);
  }
}

/* EOS: the last record without a line end, or a CSV error (open quote). */
static GstFlowReturn
gst_seq_tokenize_drain (GstSeqTokenize *self)
{
  if (!gst_seq_tokenize_apply_settings (self))
    return GST_FLOW_ERROR;

  if (self->reader != NULL) {
    GError *error = NULL;
    gboolean ok = seqnn_record_reader_finish (self->reader, gst_seq_tokenize_on_record, self,
        &error);

    return gst_seq_tokenize_reader_result (self, ok, error);
  }
  return GST_FLOW_OK;
}

static void
gst_seq_tokenize_flush (GstSeqTokenize *self)
{
  if (self->reader != NULL)
    seqnn_record_reader_reset (self->reader);
  self->reader_skipped = 0;
  self->label_skipped = 0;
  self->record_index = 0;
  self->record_flow = GST_FLOW_OK;
  self->failed = FALSE;
  self->discont = TRUE;
}

static gboolean
gst_seq_tokenize_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstSeqTokenize *self = GST_SEQ_TOKENIZE (parent);

  GST_LOG_OBJECT (self, "event %" GST_PTR_FORMAT, event);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      self->seen_stream_start = TRUE;
      return gst_pad_push_event (self->srcpad, event);

    case GST_EVENT_CAPS:{
      GstCaps *caps;
      const GstStructure *s;
      gboolean parsed, markup = FALSE;

      gst_event_parse_caps (event, &caps);
      s = gst_caps_get_structure (caps, 0);
      parsed = gst_structure_has_name (s, "text/x-raw");
      if (parsed)
        markup = g_strcmp0 (gst_structure_get_string (s, "format"), "pango-markup") == 0;
      GST_DEBUG_OBJECT (self, "input %" GST_PTR_FORMAT ": %s", caps,
          parsed ? "parsed text" : "byte stream");
      gst_event_unref (event);
      if (parsed != self->parsed_input || markup != self->markup || !gst_pad_has_current_caps (self->srcpad))
        self->need_caps = TRUE;
      self->parsed_input = parsed;
      self->markup = markup;
      /* The segment follows when upstream sends its own. */
      gst_seq_tokenize_ensure_events_full (self, FALSE);
      return TRUE;
    }

    case GST_EVENT_SEGMENT:{
      const GstSegment *segment;

      gst_event_parse_segment (event, &segment);
      if (segment->format == GST_FORMAT_TIME) {
        gst_segment_copy_into (segment, &self->segment);
      } else {
        /* Records of a byte stream have no timestamps: an open TIME segment. */
        GST_DEBUG_OBJECT (self, "replacing %s segment by a TIME segment",
            gst_format_get_name (segment->format));
        gst_segment_init (&self->segment, GST_FORMAT_TIME);
      }
      self->segment_seqnum = gst_event_get_seqnum (event);
      gst_event_unref (event);
      self->need_segment = TRUE;
      gst_seq_tokenize_ensure_events (self);
      return TRUE;
    }

    case GST_EVENT_EOS:{
      GstFlowReturn ret = self->failed ? GST_FLOW_ERROR : gst_seq_tokenize_drain (self);

      GST_DEBUG_OBJECT (self, "drained at EOS: %s", gst_flow_get_name (ret));
      if (self->failed) {
        /* upstream pushes EOS after our error: the application ends the
         * pipeline on the error instead */
        GST_DEBUG_OBJECT (self, "not passing EOS on: the stream failed");
        gst_event_unref (event);
        return TRUE;
      }
      gst_seq_tokenize_ensure_events (self);
      return gst_pad_push_event (self->srcpad, event);
    }

    case GST_EVENT_FLUSH_STOP:
      gst_seq_tokenize_flush (self);
      return gst_pad_push_event (self->srcpad, event);

    default:
      return gst_pad_event_default (pad, parent, event);
  }
}

static GstStateChangeReturn
gst_seq_tokenize_change_state (GstElement *element, GstStateChange transition)
{
  GstSeqTokenize *self = GST_SEQ_TOKENIZE (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      gst_seq_tokenize_reset_stream (self);
      /* Load the model now so that a bad path fails the state change. */
      if (!gst_seq_tokenize_apply_settings (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_seq_tokenize_reset_stream (self);
      GST_OBJECT_LOCK (self);
      self->n_records = 0;
      self->n_skipped = 0;
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      break;
  }
  return ret;
}
