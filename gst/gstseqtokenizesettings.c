/* GStreamer seqnn: seqtokenize's settings (see gstseqtokenizesettings.h)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <seqnn/modelcache.h>
#include <seqnn/text.h>

#include "gstseqtokenizesettings.h"

GST_DEBUG_CATEGORY_EXTERN (seq_tokenize_debug);
#define GST_CAT_DEFAULT seq_tokenize_debug

void
gst_seq_tokenize_props_clear (GstSeqTokenizeProps * props)
{
  g_clear_pointer (&props->model, g_free);
  g_clear_pointer (&props->labels, g_free);
  g_free ((gchar *) props->columns.label_column);
  g_free ((gchar *) props->columns.text_columns);
  props->columns.label_column = props->columns.text_columns = NULL;
}

void
gst_seq_tokenize_active_init (GstSeqTokenizeActive * active, GstSeqTokenizeFormat format)
{
  memset (active, 0, sizeof *active);
  active->format = format;
  seqnn_columns_init_default (&active->columns);
  seqnn_tokenizer_config_init_default (&active->tokenizer);
}

void
gst_seq_tokenize_active_clear (GstSeqTokenizeActive * active)
{
  g_free ((gchar *) active->columns.label_column);
  g_free ((gchar *) active->columns.text_columns);
  active->columns.label_column = active->columns.text_columns = NULL;
  g_clear_pointer (&active->model_path, g_free);
  g_clear_pointer (&active->classifier, seqnn_model_cache_release);
  g_clear_pointer (&active->labels, seqnn_label_set_free);
}

SeqnnFormat
gst_seq_tokenize_seqnn_format (GstSeqTokenizeFormat format)
{
  switch (format) {
    case GST_SEQ_TOKENIZE_FORMAT_CSV:
      return SEQNN_FORMAT_CSV;
    case GST_SEQ_TOKENIZE_FORMAT_TSV:
      return SEQNN_FORMAT_TSV;
    case GST_SEQ_TOKENIZE_FORMAT_FASTTEXT:
      return SEQNN_FORMAT_FASTTEXT;
    case GST_SEQ_TOKENIZE_FORMAT_JSONL:
      return SEQNN_FORMAT_JSONL;
    case GST_SEQ_TOKENIZE_FORMAT_TEXT:
    default:
      return SEQNN_FORMAT_TEXT;
  }
}

static gboolean
same_columns (const SeqnnColumns * a, const SeqnnColumns * b)
{
  return a->header == b->header && g_strcmp0 (a->label_column, b->label_column) == 0
      && g_strcmp0 (a->text_columns, b->text_columns) == 0;
}

/* The model at props->model, when its path changed. FALSE after posting an error. */
static gboolean
load_model (GstSeqTokenizeActive * active, const gchar * path, GstElement * element)
{
  GError *error = NULL;

  if (g_strcmp0 (path, active->model_path) == 0)
    return TRUE;
  g_clear_pointer (&active->classifier, seqnn_model_cache_release);
  g_clear_pointer (&active->model_path, g_free);
  if (path == NULL)
    return TRUE;
  active->classifier = seqnn_model_cache_acquire (path, &error);
  if (active->classifier == NULL) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
        ("Could not load model '%s': %s", path, error->message),
        ("seqnn_classifier_load failed (error domain %s, code %d)",
            g_quark_to_string (error->domain), error->code));
    g_clear_error (&error);
    return FALSE;
  }
  active->model_path = g_strdup (path);
  GST_INFO_OBJECT (element, "loaded model '%s': vocabulary of %" G_GSIZE_FORMAT " tokens",
      path, seqnn_vocab_get_size (seqnn_classifier_get_vocab (active->classifier)));
  return TRUE;
}

/* The classes: given, the model's, or the format's own (seqnn_label_set_new_for_format). */
static void
choose_labels (GstSeqTokenizeActive * active, const gchar * names)
{
  g_clear_pointer (&active->labels, seqnn_label_set_free);
  active->grow_labels = FALSE;
  if (names != NULL && names[0] != '\0') {
    active->labels = seqnn_label_set_new_from_list (names);
  } else if (active->classifier != NULL) {
    guint n = seqnn_classifier_get_n_labels (active->classifier);

    active->labels = seqnn_label_set_new ();
    for (guint i = 0; i < n; i++)
      seqnn_label_set_add (active->labels, seqnn_classifier_get_label (active->classifier,
              (gint) i), -1);
  } else {
    active->labels = seqnn_label_set_new_for_format (gst_seq_tokenize_seqnn_format (active->format),
        seqnn_columns_is_set (&active->columns), &active->grow_labels);
  }
}

gboolean
gst_seq_tokenize_active_apply (GstSeqTokenizeActive * active, const GstSeqTokenizeProps * props,
    GstElement * element, gboolean * new_reader, gboolean * retry)
{
  GError *error = NULL;

  *new_reader = FALSE;
  *retry = FALSE;
  if (!seqnn_columns_check (gst_seq_tokenize_seqnn_format (props->format), &props->columns,
          &error)) {
    GST_ELEMENT_ERROR (element, LIBRARY, SETTINGS,
        ("Invalid header, label-column or text-columns: %s", error->message), (NULL));
    g_clear_error (&error);
    return FALSE;
  }
  if (!same_columns (&props->columns, &active->columns)) {
    /* The next input is read with the new layout. */
    g_free ((gchar *) active->columns.label_column);
    g_free ((gchar *) active->columns.text_columns);
    active->columns.header = props->columns.header;
    active->columns.label_column = g_strdup (props->columns.label_column);
    active->columns.text_columns = g_strdup (props->columns.text_columns);
    *new_reader = TRUE;
  }
  if (!load_model (active, props->model, element)) {
    /* Retried instead of silently running without ids. */
    *retry = TRUE;
    return FALSE;
  }
  if (active->classifier != NULL) {
    /* The ids must be the ones the model was trained on. */
    active->tokenizer = *seqnn_classifier_get_tokenizer (active->classifier);
  } else {
    seqnn_tokenizer_config_init_default (&active->tokenizer);
    active->tokenizer.lowercase = props->lowercase;
    active->tokenizer.max_tokens = (gint) props->max_tokens;
  }
  if (props->format != active->format) {
    /* A partial record of the old format is dropped. */
    *new_reader = TRUE;
    active->format = props->format;
  }
  choose_labels (active, props->labels);
  return TRUE;
}
