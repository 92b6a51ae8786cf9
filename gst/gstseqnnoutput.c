/* GStreamer seqnn: what lstmclassify writes and posts for a classified buffer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstseqnnoutput.h"
#include "gstseqnnencode.h"

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

/* The values of lstmclassify's annotate property. */
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

static gchar *
buffer_text (GstBuffer *buffer)
{
  GstMapInfo map;
  gchar *text;

  if (gst_buffer_get_size (buffer) == 0 || !gst_buffer_map (buffer, &map, GST_MAP_READ))
    return g_strdup ("");   /* an empty buffer maps to NULL data */
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

/* The shortest decimal that reads back as the same float (0.969373, not
 * 0.96937292814254761): precisions 1..9 tried in turn, 9 always round-trips. */
static void
format_float (gchar buf[G_ASCII_DTOSTR_BUF_SIZE], gfloat value)
{
  static const gchar *const formats[] = {
    "%.1g", "%.2g", "%.3g", "%.4g", "%.5g", "%.6g", "%.7g", "%.8g", "%.9g",
  };

  for (guint p = 0; p < G_N_ELEMENTS (formats); p++) {
    g_ascii_formatd (buf, G_ASCII_DTOSTR_BUF_SIZE, formats[p], value);
    if ((gfloat) g_ascii_strtod (buf, NULL) == value)
      return;
  }
}

/* value as the double nearest to its shortest decimal, for messages: an
 * application that prints the field (Python's repr, %g) sees 0.969373. */
static gdouble
shortest_double (gfloat value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  format_float (buf, value);
  return g_ascii_strtod (buf, NULL);
}

static void
add_double_array (GstStructure *s, const gchar *field, const gfloat *floats, const gdouble *doubles,
    guint n)
{
  GValue array = G_VALUE_INIT, v = G_VALUE_INIT;

  gst_value_array_init (&array, n);
  g_value_init (&v, G_TYPE_DOUBLE);
  for (guint i = 0; i < n; i++) {
    g_value_set_double (&v, floats ? shortest_double (floats[i]) : doubles[i]);
    gst_value_array_append_value (&array, &v);
  }
  g_value_unset (&v);
  gst_structure_take_value (s, field, &array);
}

static void
post_buffer_message (GstElement *element, GstBuffer *buffer, const GstSeqnnClassMeta *meta,
    const gchar *text, const gchar *true_label, const gfloat *cue_probs)
{
  GstStructure *s = gst_structure_new ("lstmclassify",
      "pts", GST_TYPE_CLOCK_TIME, GST_BUFFER_PTS (buffer),
      "duration", GST_TYPE_CLOCK_TIME, GST_BUFFER_DURATION (buffer),
      "label", G_TYPE_STRING, meta->label,
      "class-id", G_TYPE_INT, meta->class_id,
      "confidence", G_TYPE_DOUBLE, shortest_double (meta->confidence), NULL);
  add_double_array (s, "probabilities", meta->probabilities, NULL, meta->n_classes);
  if (cue_probs != NULL)
    add_double_array (s, "cue-probabilities", cue_probs, NULL, meta->n_classes);
  gst_structure_set (s, "text", G_TYPE_STRING, text, NULL);
  if (true_label != NULL)
    gst_structure_set (s, "true-label", G_TYPE_STRING, true_label, NULL);
  gst_element_post_message (element, gst_message_new_element (GST_OBJECT (element), s));
}

static void
append_json_float (GString *json, gfloat value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  format_float (buf, value);
  g_string_append (json, buf);
}

/* A JSON string literal of valid UTF-8 text (RFC 8259 escapes). */
static void
append_json_string (GString *json, const gchar *text)
{
  g_string_append_c (json, '"');
  for (const guchar *c = (const guchar *) text; *c; c++) {
    switch (*c) {
      case '"': g_string_append (json, "\\\""); break;
      case '\\': g_string_append (json, "\\\\"); break;
      case '\n': g_string_append (json, "\\n"); break;
      case '\r': g_string_append (json, "\\r"); break;
      case '\t': g_string_append (json, "\\t"); break;
      default:
        if (*c < 0x20)
          g_string_append_printf (json, "\\u%04x", *c);
        else
          g_string_append_c (json, (gchar) *c);
    }
  }
  g_string_append_c (json, '"');
}

static void
append_json_time (GString *json, GstClockTime time)
{
  if (GST_CLOCK_TIME_IS_VALID (time))
    g_string_append_printf (json, "%" G_GUINT64_FORMAT, (guint64) time);
  else
    g_string_append (json, "null");
}

/* One object and a newline; the key set (and order) is documented in the
 * README: pts, duration, label, class-id, confidence, probabilities,
 * cue-probabilities with context across cues, text, and true-label when the
 * input carried one. */
static gchar *
json_annotation (GstBuffer *buffer, const GstSeqnnClassMeta *meta, const gchar *text,
    const gchar *true_label, const gfloat *cue_probs)
{
  GString *json = g_string_new ("{\"pts\":");

  append_json_time (json, GST_BUFFER_PTS (buffer));
  g_string_append (json, ",\"duration\":");
  append_json_time (json, GST_BUFFER_DURATION (buffer));
  g_string_append (json, ",\"label\":");
  append_json_string (json, meta->label);
  g_string_append_printf (json, ",\"class-id\":%d,\"confidence\":", meta->class_id);
  append_json_float (json, meta->confidence);
  g_string_append (json, ",\"probabilities\":[");
  for (guint i = 0; i < meta->n_classes; i++) {
    if (i > 0)
      g_string_append_c (json, ',');
    append_json_float (json, meta->probabilities[i]);
  }
  g_string_append_c (json, ']');
  if (cue_probs != NULL) {
    g_string_append (json, ",\"cue-probabilities\":[");
    for (guint i = 0; i < meta->n_classes; i++) {
      if (i > 0)
        g_string_append_c (json, ',');
      append_json_float (json, cue_probs[i]);
    }
    g_string_append_c (json, ']');
  }
  g_string_append (json, ",\"text\":");
  append_json_string (json, text);
  if (true_label != NULL) {
    g_string_append (json, ",\"true-label\":");
    append_json_string (json, true_label);
  }
  g_string_append (json, "}\n");
  return g_string_free (json, FALSE);
}

static GstBuffer *
replace_text (GstBuffer *buffer, gchar *text /* owned */)
{
  gsize len = strlen (text);
  gst_buffer_replace_all_memory (buffer, gst_memory_new_wrapped (0, text, len, 0, len, text, g_free));
  return buffer;
}

GstBuffer *
gst_seqnn_output_buffer (GstElement *element, const GstSeqnnOutputSettings *settings,
    GstBuffer *buffer, const GstSeqnnClassMeta *meta, const gchar *true_label,
    const gfloat *cue_probs)
{
  gboolean json = settings->annotate == GST_LSTM_CLASSIFY_ANNOTATE_JSON;
  gchar *text, *plain = NULL;

  if (!settings->post_messages && settings->annotate == GST_LSTM_CLASSIFY_ANNOTATE_NONE)
    return buffer;
  text = buffer_text (buffer);
  /* Messages and JSON carry plain text: markup stripped, entities decoded. */
  if (settings->markup && (settings->post_messages || json))
    plain = markup_to_plain (text);
  if (settings->post_messages)
    post_buffer_message (element, buffer, meta, plain ? plain : text, true_label, cue_probs);
  if (settings->annotate == GST_LSTM_CLASSIFY_ANNOTATE_PREFIX) {
    gchar conf[G_ASCII_DTOSTR_BUF_SIZE];
    gchar *label = settings->markup ? g_markup_escape_text (meta->label, -1)
        : g_strdup (meta->label);
    g_ascii_formatd (conf, sizeof conf, "%.2f", meta->confidence);
    buffer = replace_text (buffer, g_strdup_printf ("[%s %s] %s", label, conf, text));
    g_free (label);
  } else if (json) {
    buffer = replace_text (buffer, json_annotation (buffer, meta, plain ? plain : text,
            true_label, cue_probs));
  }
  g_free (text);
  g_free (plain);
  return buffer;
}

GstBuffer *
gst_seqnn_output_classified (GstElement *element, const GstSeqnnOutputSettings *settings,
    const GstSeqnnModelInUse *model, GstBuffer *buffer, const gfloat *probs,
    const gfloat *cue_probs)
{
  GstSeqnnClassMeta *meta;
  gint true_label;

  buffer = gst_buffer_make_writable (buffer);
  true_label = gst_seqnn_encode_true_label (model, gst_buffer_get_seqnn_tokens_meta (buffer));
  meta = gst_buffer_add_seqnn_class_meta_with_labels (buffer, probs, model->n_labels,
      model->label_block);
  gst_seqnn_class_meta_set_cue_probabilities (meta, cue_probs, cue_probs ? model->n_labels : 0);
  if (true_label >= 0 && model->confusion != NULL)  /* NULL: no memory for n^2 counters */
    seqnn_confusion_add (model->confusion, true_label, meta->class_id);
  GST_LOG_OBJECT (element, "buffer %" GST_TIME_FORMAT ": %s %.3f",
      GST_TIME_ARGS (GST_BUFFER_PTS (buffer)), meta->label, meta->confidence);
  return gst_seqnn_output_buffer (element, settings, buffer, meta,
      true_label >= 0 ? model->labels[true_label] : NULL, cue_probs);
}

void
gst_seqnn_output_post_summary (GstElement *element, const SeqnnConfusion *c,
    const gchar *const *label_names)
{
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
    g_value_set_string (&v, label_names[i]);
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

  GST_INFO_OBJECT (element, "summary: %" GST_PTR_FORMAT, s);
  gst_element_post_message (element, gst_message_new_element (GST_OBJECT (element), s));
}

/* ---- Caps ------------------------------------------------------------------ */

gboolean
gst_seqnn_output_caps_are_markup (const GstCaps *caps)
{
  return g_strcmp0 (gst_structure_get_string (gst_caps_get_structure (caps, 0), "format"),
      "pango-markup") == 0;
}

GstCaps *
gst_seqnn_output_src_caps (GstCaps *sink_caps, gboolean json)
{
  if (json || gst_structure_has_name (gst_caps_get_structure (sink_caps, 0), GST_SEQNN_PLAIN_CAPS))
    return gst_caps_from_string (GST_SEQNN_UTF8_CAPS);
  return gst_caps_ref (sink_caps);
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

GstCaps *
gst_seqnn_output_query_caps (GstPad *pad, GstPad *other, gboolean is_sink, gboolean json,
    GstCaps *filter)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (pad);
  GstCaps *result, *peer;

  if (json && !is_sink) {
    result = gst_caps_from_string (GST_SEQNN_UTF8_CAPS);
  } else if (json) {
    result = gst_caps_ref (templ); /* any text in: the output is utf8 json */
  } else {
    /* What the other side takes (or gives); text/plain in is utf8 out. */
    if (is_sink)
      peer = merge_when (gst_pad_peer_query_caps (other, NULL), GST_SEQNN_UTF8_CAPS,
          GST_SEQNN_PLAIN_CAPS);
    else
      peer = merge_when (gst_pad_peer_query_caps (other, NULL), GST_SEQNN_PLAIN_CAPS,
          GST_SEQNN_UTF8_CAPS);
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
