/* GStreamer seqnn: what lstmclassify writes and posts for a classified buffer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <json-glib/json-glib.h>

#include "gstseqnnoutput.h"

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

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
post_buffer_message (GstElement *element, GstBuffer *buffer, const GstSeqnnClassMeta *meta,
    const gchar *text, const gchar *true_label)
{
  GstStructure *s = gst_structure_new ("lstmclassify",
      "pts", GST_TYPE_CLOCK_TIME, GST_BUFFER_PTS (buffer),
      "duration", GST_TYPE_CLOCK_TIME, GST_BUFFER_DURATION (buffer),
      "label", G_TYPE_STRING, meta->label,
      "class-id", G_TYPE_INT, meta->class_id,
      "confidence", G_TYPE_DOUBLE, (gdouble) meta->confidence, NULL);
  add_double_array (s, "probabilities", meta->probabilities, NULL, meta->n_classes);
  gst_structure_set (s, "text", G_TYPE_STRING, text, NULL);
  if (true_label != NULL)
    gst_structure_set (s, "true-label", G_TYPE_STRING, true_label, NULL);
  gst_element_post_message (element, gst_message_new_element (GST_OBJECT (element), s));
}

static gchar *
json_annotation (GstBuffer *buffer, const GstSeqnnClassMeta *meta, const gchar *text,
    const gchar *true_label)
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
  if (true_label != NULL) {
    json_builder_set_member_name (builder, "true-label");
    json_builder_add_string_value (builder, true_label);
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

GstBuffer *
gst_seqnn_output_buffer (GstElement *element, const GstSeqnnOutputSettings *settings,
    GstBuffer *buffer, const GstSeqnnClassMeta *meta, const gchar *true_label)
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
    post_buffer_message (element, buffer, meta, plain ? plain : text, true_label);
  if (settings->annotate == GST_LSTM_CLASSIFY_ANNOTATE_PREFIX) {
    gchar conf[G_ASCII_DTOSTR_BUF_SIZE];
    gchar *label = settings->markup ? g_markup_escape_text (meta->label, -1)
        : g_strdup (meta->label);
    g_ascii_formatd (conf, sizeof conf, "%.2f", meta->confidence);
    buffer = replace_text (buffer, g_strdup_printf ("[%s %s] %s", label, conf, text));
    g_free (label);
  } else if (json) {
    buffer = replace_text (buffer, json_annotation (buffer, meta, plain ? plain : text,
            true_label));
  }
  g_free (text);
  g_free (plain);
  return buffer;
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
