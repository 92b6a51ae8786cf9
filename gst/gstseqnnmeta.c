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

/* The registered meta: the public struct plus the block its pointers point into. */
typedef struct {
  GstSeqnnTokensMeta meta;
  gpointer block; /* [n + 1 token pointers][ids][label NUL][token NUL]...: one allocation */
} SeqnnTokensMetaImpl;

static gboolean
gst_seqnn_tokens_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  SeqnnTokensMetaImpl *impl = (SeqnnTokensMetaImpl *) meta;
  GstSeqnnTokensMeta *tmeta = &impl->meta;

  tmeta->n_tokens = 0;
  tmeta->tokens = NULL;
  tmeta->ids = NULL;
  tmeta->label = NULL;
  tmeta->label_id = -1;
  tmeta->tokenizer = NULL;
  tmeta->lowercase = FALSE;
  tmeta->strip_markup = FALSE;
  tmeta->max_tokens = 0;
  impl->block = NULL;
  return TRUE;
}

static void
gst_seqnn_tokens_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  SeqnnTokensMetaImpl *impl = (SeqnnTokensMetaImpl *) meta;
  GstSeqnnTokensMeta *tmeta = &impl->meta;

  g_free (impl->block);
  impl->block = NULL;
  tmeta->tokens = NULL;
  tmeta->ids = NULL;
  tmeta->label = NULL;
  tmeta->n_tokens = 0;
}

/* Fills an initialised meta with copies of the values, all in one block: a
 * record of 40 tokens costs one allocation, not 43. */
static void
gst_seqnn_tokens_meta_set (GstSeqnnTokensMeta *tmeta, const gchar *const *tokens, guint n_tokens,
    const gint32 *ids, const gchar *label, gint label_id)
{
  SeqnnTokensMetaImpl *impl = (SeqnnTokensMetaImpl *) tmeta;
  gsize ptrs_size = ((gsize) n_tokens + 1) * sizeof (gchar *);
  /* ids stay non-NULL for an empty record too: "a vocabulary was given". */
  gsize ids_size = ids != NULL ? (gsize) MAX (n_tokens, 1) * sizeof (gint32) : 0;
  gsize chars_size = label != NULL ? strlen (label) + 1 : 0;
  gchar **ptrs;
  gint32 *id_copy;
  gchar *arena;

  for (guint i = 0; i < n_tokens; i++)
    chars_size += strlen (tokens[i]) + 1;
  /* Pointers first (their alignment), then the gint32 ids, then bytes. */
  ptrs = g_malloc (ptrs_size + ids_size + chars_size);
  id_copy = (gint32 *) (ptrs + n_tokens + 1);
  arena = (gchar *) id_copy + ids_size;

  tmeta->ids = NULL;
  if (ids != NULL) {
    if (n_tokens > 0)
      memcpy (id_copy, ids, (gsize) n_tokens * sizeof (gint32));
    else
      id_copy[0] = 0;
    tmeta->ids = id_copy;
  }
  tmeta->label = NULL;
  if (label != NULL) {
    tmeta->label = arena;
    arena = g_stpcpy (arena, label) + 1;
  }
  for (guint i = 0; i < n_tokens; i++) {
    ptrs[i] = arena;
    arena = g_stpcpy (arena, tokens[i]) + 1;
  }
  ptrs[n_tokens] = NULL;
  tmeta->tokens = ptrs;
  tmeta->n_tokens = n_tokens;
  tmeta->label_id = label_id;
  impl->block = ptrs;
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
  gst_seqnn_tokens_meta_set_tokenizer (dmeta, smeta->tokenizer, smeta->lowercase,
      smeta->strip_markup, smeta->max_tokens);
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
        sizeof (SeqnnTokensMetaImpl), gst_seqnn_tokens_meta_init, gst_seqnn_tokens_meta_free,
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

/**
 * gst_buffer_get_seqnn_tokens_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the tokens meta of @buffer, or %NULL.
 */
GstSeqnnTokensMeta *
gst_buffer_get_seqnn_tokens_meta (GstBuffer *buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return (GstSeqnnTokensMeta *) gst_buffer_get_meta (buffer, GST_SEQNN_TOKENS_META_API_TYPE);
}

/**
 * gst_seqnn_tokens_meta_set_tokenizer:
 * @meta: a #GstSeqnnTokensMeta
 * @name: (nullable): the tokenizer's name ("basic_english"), NULL for unknown
 * @lowercase: the text was lowercased first
 * @strip_markup: markup was removed first
 * @max_tokens: the tokenizer's cap (0: none)
 *
 * Records the settings that made the tokens (copies of the meta keep them).
 */
void
gst_seqnn_tokens_meta_set_tokenizer (GstSeqnnTokensMeta *meta, const gchar *name,
    gboolean lowercase, gboolean strip_markup, guint max_tokens)
{
  g_return_if_fail (meta != NULL);
  meta->tokenizer = g_intern_string (name);
  meta->lowercase = lowercase;
  meta->strip_markup = strip_markup;
  meta->max_tokens = max_tokens;
}

/**
 * gst_seqnn_tokens_meta_get_tokens:
 * @meta: a #GstSeqnnTokensMeta
 *
 * Returns: (transfer none) (array zero-terminated=1): the record's tokens
 *   (n_tokens of them), owned by the meta.
 */
const gchar *const *
gst_seqnn_tokens_meta_get_tokens (const GstSeqnnTokensMeta *meta)
{
  static const gchar *const none[] = { NULL };

  g_return_val_if_fail (meta != NULL, NULL);
  return meta->tokens != NULL ? (const gchar *const *) meta->tokens : none;
}

/**
 * gst_seqnn_tokens_meta_get_ids:
 * @meta: a #GstSeqnnTokensMeta
 * @n_ids: (out) (optional): the number of ids (n_tokens)
 *
 * Returns: (transfer none) (array length=n_ids) (nullable): the tokens'
 *   vocabulary ids, owned by the meta; %NULL when the tokens were not looked
 *   up in a vocabulary (then @n_ids is 0).
 */
const gint32 *
gst_seqnn_tokens_meta_get_ids (const GstSeqnnTokensMeta *meta, guint *n_ids)
{
  g_return_val_if_fail (meta != NULL, NULL);
  if (n_ids != NULL)
    *n_ids = meta->ids != NULL ? meta->n_tokens : 0;
  return meta->ids;
}

/* ---- GstSeqnnLabels ------------------------------------------------------- */

struct _GstSeqnnLabels {
  gint ref_count;
  guint n_labels;
  gchar *strv[]; /* n_labels + 1 pointers, then the names' bytes */
};

G_DEFINE_BOXED_TYPE (GstSeqnnLabels, gst_seqnn_labels, gst_seqnn_labels_ref, gst_seqnn_labels_unref)

/**
 * gst_seqnn_labels_new:
 * @labels: (array length=n_labels): class names, none NULL
 * @n_labels: number of names
 *
 * Returns: (transfer full): a block holding copies of the names.
 */
GstSeqnnLabels *
gst_seqnn_labels_new (const gchar *const *labels, guint n_labels)
{
  gsize ptrs_size = ((gsize) n_labels + 1) * sizeof (gchar *);
  gsize chars_size = 0;
  GstSeqnnLabels *block;
  gchar *arena;

  g_return_val_if_fail (labels != NULL || n_labels == 0, NULL);
  for (guint i = 0; i < n_labels; i++) {
    g_return_val_if_fail (labels[i] != NULL, NULL);
    chars_size += strlen (labels[i]) + 1;
  }
  block = g_malloc (sizeof (GstSeqnnLabels) + ptrs_size + chars_size);
  block->ref_count = 1;
  block->n_labels = n_labels;
  arena = (gchar *) block->strv + ptrs_size;
  for (guint i = 0; i < n_labels; i++) {
    block->strv[i] = arena;
    arena = g_stpcpy (arena, labels[i]) + 1;
  }
  block->strv[n_labels] = NULL;
  return block;
}

/**
 * gst_seqnn_labels_ref:
 * @labels: a #GstSeqnnLabels
 *
 * Returns: (transfer full): @labels, with one more reference.
 */
GstSeqnnLabels *
gst_seqnn_labels_ref (GstSeqnnLabels *labels)
{
  g_return_val_if_fail (labels != NULL, NULL);
  g_atomic_int_inc (&labels->ref_count);
  return labels;
}

void
gst_seqnn_labels_unref (GstSeqnnLabels *labels)
{
  g_return_if_fail (labels != NULL);
  if (g_atomic_int_dec_and_test (&labels->ref_count))
    g_free (labels);
}

guint
gst_seqnn_labels_get_n (const GstSeqnnLabels *labels)
{
  g_return_val_if_fail (labels != NULL, 0);
  return labels->n_labels;
}

/**
 * gst_seqnn_labels_get_strv:
 * @labels: a #GstSeqnnLabels
 *
 * Returns: (transfer none) (array zero-terminated=1): the names, valid as
 *   long as a reference is held.
 */
const gchar *const *
gst_seqnn_labels_get_strv (const GstSeqnnLabels *labels)
{
  g_return_val_if_fail (labels != NULL, NULL);
  return (const gchar *const *) labels->strv;
}

/* ---- GstSeqnnClassMeta ---------------------------------------------------- */

/* Room in the meta itself for the probabilities of this many classes. */
#define CLASS_META_INLINE_CLASSES 16

/* The registered meta: the public struct, the label block it references and
 * its probabilities (inline up to CLASS_META_INLINE_CLASSES): no allocation
 * per buffer besides GStreamer's own for the meta. */
typedef struct {
  GstSeqnnClassMeta meta;
  GstSeqnnLabels *label_block;
  gfloat *heap_probabilities;
  gfloat *heap_cue_probabilities;
  gfloat inline_probabilities[CLASS_META_INLINE_CLASSES];
  gfloat inline_cue_probabilities[CLASS_META_INLINE_CLASSES];
} SeqnnClassMetaImpl;

static gboolean
gst_seqnn_class_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  SeqnnClassMetaImpl *impl = (SeqnnClassMetaImpl *) meta;
  GstSeqnnClassMeta *cmeta = &impl->meta;

  cmeta->class_id = -1;
  cmeta->label = NULL;
  cmeta->confidence = 0.0f;
  cmeta->n_classes = 0;
  cmeta->probabilities = NULL;
  cmeta->labels = NULL;
  cmeta->cue_probabilities = NULL;
  impl->label_block = NULL;
  impl->heap_probabilities = NULL;
  impl->heap_cue_probabilities = NULL;
  return TRUE;
}

static void
gst_seqnn_class_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  SeqnnClassMetaImpl *impl = (SeqnnClassMetaImpl *) meta;
  GstSeqnnClassMeta *cmeta = &impl->meta;

  g_clear_pointer (&impl->label_block, gst_seqnn_labels_unref);
  g_clear_pointer (&impl->heap_probabilities, g_free);
  g_clear_pointer (&impl->heap_cue_probabilities, g_free);
  cmeta->label = NULL;
  cmeta->probabilities = NULL;
  cmeta->cue_probabilities = NULL;
  cmeta->labels = NULL;
  cmeta->n_classes = 0;
}

/* Fills an initialised meta; takes the reference to labels (may be NULL). */
static void
gst_seqnn_class_meta_set (GstSeqnnClassMeta *cmeta, const gfloat *probabilities, guint n_classes,
    GstSeqnnLabels *labels)
{
  SeqnnClassMetaImpl *impl = (SeqnnClassMetaImpl *) cmeta;
  gint best = -1;

  cmeta->n_classes = n_classes;
  cmeta->probabilities = NULL;
  if (n_classes > CLASS_META_INLINE_CLASSES)
    cmeta->probabilities = impl->heap_probabilities =
        g_memdup2 (probabilities, n_classes * sizeof (gfloat));
  else if (n_classes > 0)
    cmeta->probabilities = memcpy (impl->inline_probabilities, probabilities,
        n_classes * sizeof (gfloat));
  impl->label_block = labels;
  cmeta->labels = labels != NULL ? labels->strv : NULL;
  /* First maximum, as torch.argmax; a NaN never wins. */
  for (guint i = 0; i < n_classes; i++)
    if (best < 0 ? !isnan (probabilities[i]) : probabilities[i] > probabilities[best])
      best = (gint) i;
  if (best < 0 && n_classes > 0)
    best = 0;
  cmeta->class_id = best;
  cmeta->confidence = best >= 0 ? probabilities[best] : 0.0f;
  cmeta->label = (best >= 0 && labels != NULL) ? labels->strv[best] : NULL;
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
  /* A copy owns its own names (copies are rare; classified buffers share). */
  gst_seqnn_class_meta_set (dmeta, smeta->probabilities, smeta->n_classes,
      smeta->labels != NULL ? gst_seqnn_labels_new ((const gchar *const *) smeta->labels,
          smeta->n_classes) : NULL);
  gst_seqnn_class_meta_set_cue_probabilities (dmeta, smeta->cue_probabilities,
      smeta->cue_probabilities != NULL ? smeta->n_classes : 0);
  /* Keep the source's choice exactly (ties or NaN resolved as the source did). */
  dmeta->class_id = smeta->class_id;
  dmeta->confidence = smeta->confidence;
  dmeta->label = (dmeta->labels != NULL && smeta->class_id >= 0
      && (guint) smeta->class_id < dmeta->n_classes) ? dmeta->labels[smeta->class_id] : NULL;
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
        sizeof (SeqnnClassMetaImpl), gst_seqnn_class_meta_init, gst_seqnn_class_meta_free,
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
  gst_seqnn_class_meta_set (cmeta, probabilities, n_classes,
      labels != NULL ? gst_seqnn_labels_new (labels, n_classes) : NULL);
  return cmeta;
}

/**
 * gst_buffer_add_seqnn_class_meta_with_labels:
 * @buffer: a writable #GstBuffer
 * @probabilities: (array length=n_classes): softmax over the classes
 * @n_classes: number of classes
 * @labels: (nullable): the class names (@n_classes of them), or NULL
 *
 * As gst_buffer_add_seqnn_class_meta(), but the meta takes a reference to
 * @labels instead of copying the names: no allocation per buffer.
 *
 * Returns: (transfer none): the new meta.
 */
GstSeqnnClassMeta *
gst_buffer_add_seqnn_class_meta_with_labels (GstBuffer *buffer, const gfloat *probabilities,
    guint n_classes, GstSeqnnLabels *labels)
{
  GstSeqnnClassMeta *cmeta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);
  g_return_val_if_fail (probabilities != NULL || n_classes == 0, NULL);
  g_return_val_if_fail (labels == NULL || labels->n_labels == n_classes, NULL);

  cmeta = (GstSeqnnClassMeta *) gst_buffer_add_meta (buffer, GST_SEQNN_CLASS_META_INFO, NULL);
  if (cmeta == NULL)
    return NULL;
  gst_seqnn_class_meta_set (cmeta, probabilities, n_classes,
      labels != NULL ? gst_seqnn_labels_ref (labels) : NULL);
  return cmeta;
}

/**
 * gst_buffer_get_seqnn_class_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the class meta of @buffer, or %NULL.
 */
GstSeqnnClassMeta *
gst_buffer_get_seqnn_class_meta (GstBuffer *buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return (GstSeqnnClassMeta *) gst_buffer_get_meta (buffer, GST_SEQNN_CLASS_META_API_TYPE);
}

/**
 * gst_seqnn_class_meta_get_probabilities:
 * @meta: a #GstSeqnnClassMeta
 * @n_classes: (out) (optional): the number of classes
 *
 * Returns: (transfer none) (array length=n_classes): the softmax over the
 *   classes in label order, owned by the meta.
 */
const gfloat *
gst_seqnn_class_meta_get_probabilities (const GstSeqnnClassMeta *meta, guint *n_classes)
{
  g_return_val_if_fail (meta != NULL, NULL);
  if (n_classes != NULL)
    *n_classes = meta->n_classes;
  return meta->probabilities;
}

/**
 * gst_seqnn_class_meta_get_labels:
 * @meta: a #GstSeqnnClassMeta
 *
 * Returns: (transfer none) (array zero-terminated=1) (nullable): every class
 *   name in order (n_classes of them), owned by the meta; %NULL when the meta
 *   was added without names.
 */
const gchar *const *
gst_seqnn_class_meta_get_labels (const GstSeqnnClassMeta *meta)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return (const gchar *const *) meta->labels;
}

/**
 * gst_seqnn_class_meta_set_cue_probabilities:
 * @meta: a #GstSeqnnClassMeta
 * @cue_probabilities: (array length=n) (nullable): the probabilities of the
 *   buffer read alone, in label order, copied; %NULL removes them
 * @n: their number: @meta's n_classes (0 with %NULL)
 *
 * Sets @meta's cue_probabilities (lstmclassify with context across cues).
 */
void
gst_seqnn_class_meta_set_cue_probabilities (GstSeqnnClassMeta *meta,
    const gfloat *cue_probabilities, guint n)
{
  SeqnnClassMetaImpl *impl = (SeqnnClassMetaImpl *) meta;

  g_return_if_fail (meta != NULL);
  g_return_if_fail (cue_probabilities == NULL || n == meta->n_classes);
  g_clear_pointer (&impl->heap_cue_probabilities, g_free);
  meta->cue_probabilities = NULL;
  if (cue_probabilities == NULL || meta->n_classes == 0)
    return;
  if (meta->n_classes > CLASS_META_INLINE_CLASSES)
    meta->cue_probabilities = impl->heap_cue_probabilities =
        g_memdup2 (cue_probabilities, meta->n_classes * sizeof (gfloat));
  else
    meta->cue_probabilities = memcpy (impl->inline_cue_probabilities, cue_probabilities,
        meta->n_classes * sizeof (gfloat));
}

/**
 * gst_seqnn_class_meta_get_cue_probabilities:
 * @meta: a #GstSeqnnClassMeta
 * @n_classes: (out) (optional): the number of values (0 when there are none)
 *
 * Returns: (transfer none) (array length=n_classes) (nullable): the
 *   probabilities of the buffer read alone, in label order, owned by the
 *   meta; %NULL with context=none and for a cue without tokens (an empty
 *   list in Python).
 */
const gfloat *
gst_seqnn_class_meta_get_cue_probabilities (const GstSeqnnClassMeta *meta, guint *n_classes)
{
  g_return_val_if_fail (meta != NULL, NULL);
  if (n_classes != NULL)
    *n_classes = meta->cue_probabilities != NULL ? meta->n_classes : 0;
  return meta->cue_probabilities;
}
