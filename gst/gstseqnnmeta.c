/* GStreamer seqnn metas: tokens attached by seqtokenize, classes attached by
 * lstmclassify.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both metas are registered without tags: they describe the text of the
 * buffer, not its memory layout or geometry, so elements that drop tagged
 * metas on transformation keep them. A full copy of the buffer (including
 * gst_buffer_make_writable) copies them; a copy of only a part of the buffer
 * drops them, because the tokens or class of the whole text no longer
 * describe the part.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "gstseqnnmeta.h"

/* TRUE when a transform copies the whole buffer (metas describe whole texts). */
static gboolean
seqnn_meta_transform_copies_whole (GstBuffer *buffer, GQuark type, gpointer data)
{
  if (GST_META_TRANSFORM_IS_COPY (type)) {
    const GstMetaTransformCopy *copy = data;

    if (!copy->region)
      return TRUE;
    /* A region that still spans the whole buffer. */
    return copy->offset == 0 && (copy->size == (gsize) - 1 || copy->size == gst_buffer_get_size (buffer));
  }
  /* Other transforms (e.g. video scaling) leave the text's meaning alone. */
  return TRUE;
}

/* ---- GstSeqnnTokensMeta --------------------------------------------------- */

static gboolean
gst_seqnn_tokens_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstSeqnnTokensMeta *tmeta = (GstSeqnnTokensMeta *) meta;

  tmeta->n_tokens = 0;
  tmeta->tokens = NULL;
  tmeta->ids = NULL;
  tmeta->label = NULL;
  tmeta->label_id = -1;
  return TRUE;
}

static void
gst_seqnn_tokens_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstSeqnnTokensMeta *tmeta = (GstSeqnnTokensMeta *) meta;

  g_strfreev (tmeta->tokens);
  g_free (tmeta->ids);
  g_free (tmeta->label);
  tmeta->tokens = NULL;
  tmeta->ids = NULL;
  tmeta->label = NULL;
  tmeta->n_tokens = 0;
}

/* Fills an initialised meta with copies of the values. */
static void
gst_seqnn_tokens_meta_set (GstSeqnnTokensMeta *tmeta, const gchar *const *tokens, guint n_tokens,
    const gint32 *ids, const gchar *label, gint label_id)
{
  tmeta->n_tokens = n_tokens;
  tmeta->tokens = g_new (gchar *, n_tokens + 1);
  for (guint i = 0; i < n_tokens; i++)
    tmeta->tokens[i] = g_strdup (tokens[i]);
  tmeta->tokens[n_tokens] = NULL;
  /* ids stay non-NULL for an empty record too: "a vocabulary was given". */
  tmeta->ids = NULL;
  if (ids != NULL) {
    tmeta->ids = g_new0 (gint32, MAX (n_tokens, 1));
    if (n_tokens > 0)
      memcpy (tmeta->ids, ids, (gsize) n_tokens * sizeof (gint32));
  }
  tmeta->label = g_strdup (label);
  tmeta->label_id = label_id;
}

static gboolean
gst_seqnn_tokens_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  GstSeqnnTokensMeta *smeta = (GstSeqnnTokensMeta *) meta;
  GstSeqnnTokensMeta *dmeta;

  if (!seqnn_meta_transform_copies_whole (buffer, type, data))
    return FALSE;
  dmeta = (GstSeqnnTokensMeta *) gst_buffer_add_meta (dest, GST_SEQNN_TOKENS_META_INFO, NULL);
  if (dmeta == NULL)
    return FALSE;
  gst_seqnn_tokens_meta_set (dmeta, (const gchar *const *) smeta->tokens, smeta->n_tokens, smeta->ids,
      smeta->label, smeta->label_id);
  return TRUE;
}

GType
gst_seqnn_tokens_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType api = gst_meta_api_type_register ("GstSeqnnTokensMetaAPI", tags);
    g_once_init_leave (&type, api);
  }
  return type;
}

const GstMetaInfo *
gst_seqnn_tokens_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_SEQNN_TOKENS_META_API_TYPE, "GstSeqnnTokensMeta",
        sizeof (GstSeqnnTokensMeta), gst_seqnn_tokens_meta_init, gst_seqnn_tokens_meta_free,
        gst_seqnn_tokens_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) mi);
  }
  return info;
}

/**
 * gst_buffer_add_seqnn_tokens_meta:
 * @buffer: a writable #GstBuffer
 * @tokens: (array length=n_tokens) (nullable): the tokens, NULL allowed when @n_tokens is 0
 * @n_tokens: number of tokens
 * @ids: (array length=n_tokens) (nullable): vocabulary ids, or NULL
 * @label: (nullable): the record's label as written
 * @label_id: the label's class index, -1 when unknown
 *
 * Returns: (transfer none): the new meta, holding copies of everything.
 */
GstSeqnnTokensMeta *
gst_buffer_add_seqnn_tokens_meta (GstBuffer *buffer, const gchar *const *tokens, guint n_tokens,
    const gint32 *ids, const gchar *label, gint label_id)
{
  GstSeqnnTokensMeta *tmeta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);
  g_return_val_if_fail (tokens != NULL || n_tokens == 0, NULL);

  tmeta = (GstSeqnnTokensMeta *) gst_buffer_add_meta (buffer, GST_SEQNN_TOKENS_META_INFO, NULL);
  if (tmeta == NULL)
    return NULL;
  gst_seqnn_tokens_meta_set (tmeta, tokens, n_tokens, ids, label, label_id);
  return tmeta;
}

/* ---- GstSeqnnClassMeta ---------------------------------------------------- */

static gboolean
gst_seqnn_class_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstSeqnnClassMeta *cmeta = (GstSeqnnClassMeta *) meta;

  cmeta->class_id = -1;
  cmeta->label = NULL;
  cmeta->confidence = 0.0f;
  cmeta->n_classes = 0;
  cmeta->probabilities = NULL;
  cmeta->labels = NULL;
  return TRUE;
}

static void
gst_seqnn_class_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstSeqnnClassMeta *cmeta = (GstSeqnnClassMeta *) meta;

  g_free (cmeta->label);
  g_free (cmeta->probabilities);
  g_strfreev (cmeta->labels);
  cmeta->label = NULL;
  cmeta->probabilities = NULL;
  cmeta->labels = NULL;
  cmeta->n_classes = 0;
}

static void
gst_seqnn_class_meta_set (GstSeqnnClassMeta *cmeta, const gfloat *probabilities,
    const gchar *const *labels, guint n_classes)
{
  gint best = -1;

  cmeta->n_classes = n_classes;
  cmeta->probabilities = n_classes > 0 ? g_memdup2 (probabilities, n_classes * sizeof (gfloat)) : NULL;
  if (labels != NULL) {
    cmeta->labels = g_new (gchar *, n_classes + 1);
    for (guint i = 0; i < n_classes; i++)
      cmeta->labels[i] = g_strdup (labels[i]);
    cmeta->labels[n_classes] = NULL;
  } else {
    cmeta->labels = NULL;
  }
  /* First maximum, as torch.argmax; a NaN never wins. */
  for (guint i = 0; i < n_classes; i++)
    if (best < 0 ? !isnan (probabilities[i]) : probabilities[i] > probabilities[best])
      best = (gint) i;
  if (best < 0 && n_classes > 0)
    best = 0;
  cmeta->class_id = best;
  cmeta->confidence = best >= 0 ? probabilities[best] : 0.0f;
  cmeta->label = (best >= 0 && labels != NULL) ? g_strdup (labels[best]) : NULL;
}

static gboolean
gst_seqnn_class_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  GstSeqnnClassMeta *smeta = (GstSeqnnClassMeta *) meta;
  GstSeqnnClassMeta *dmeta;

  if (!seqnn_meta_transform_copies_whole (buffer, type, data))
    return FALSE;
  dmeta = (GstSeqnnClassMeta *) gst_buffer_add_meta (dest, GST_SEQNN_CLASS_META_INFO, NULL);
  if (dmeta == NULL)
    return FALSE;
  gst_seqnn_class_meta_set (dmeta, smeta->probabilities, (const gchar *const *) smeta->labels,
      smeta->n_classes);
  /* Keep the source's choice exactly (ties or NaN resolved as the source did). */
  dmeta->class_id = smeta->class_id;
  dmeta->confidence = smeta->confidence;
  g_free (dmeta->label);
  dmeta->label = g_strdup (smeta->label);
  return TRUE;
}

GType
gst_seqnn_class_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType api = gst_meta_api_type_register ("GstSeqnnClassMetaAPI", tags);
    g_once_init_leave (&type, api);
  }
  return type;
}

const GstMetaInfo *
gst_seqnn_class_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_SEQNN_CLASS_META_API_TYPE, "GstSeqnnClassMeta",
        sizeof (GstSeqnnClassMeta), gst_seqnn_class_meta_init, gst_seqnn_class_meta_free,
        gst_seqnn_class_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) mi);
  }
  return info;
}

/**
 * gst_buffer_add_seqnn_class_meta:
 * @buffer: a writable #GstBuffer
 * @probabilities: (array length=n_classes): softmax over the classes
 * @labels: (array length=n_classes) (nullable): class names in order, or NULL
 * @n_classes: number of classes
 *
 * class_id and confidence are derived from @probabilities (first maximum;
 * NaN entries never win). With @labels NULL, label and labels stay NULL.
 *
 * Returns: (transfer none): the new meta, holding copies of everything.
 */
GstSeqnnClassMeta *
gst_buffer_add_seqnn_class_meta (GstBuffer *buffer, const gfloat *probabilities,
    const gchar *const *labels, guint n_classes)
{
  GstSeqnnClassMeta *cmeta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);
  g_return_val_if_fail (probabilities != NULL || n_classes == 0, NULL);

  cmeta = (GstSeqnnClassMeta *) gst_buffer_add_meta (buffer, GST_SEQNN_CLASS_META_INFO, NULL);
  if (cmeta == NULL)
    return NULL;
  gst_seqnn_class_meta_set (cmeta, probabilities, labels, n_classes);
  return cmeta;
}
