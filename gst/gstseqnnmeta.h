/* GStreamer seqnn metas: tokens attached by seqtokenize, classes attached by
 * lstmclassify. Installed as <gst/seqnn/gstseqnnmeta.h>; link with
 * gstreamer-seqnn-1.0.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* ---- GstSeqnnTokensMeta --------------------------------------------------- */

#define GST_SEQNN_TOKENS_META_API_TYPE (gst_seqnn_tokens_meta_api_get_type ())
#define GST_SEQNN_TOKENS_META_INFO (gst_seqnn_tokens_meta_get_info ())

/**
 * GstSeqnnTokensMeta:
 * @meta: parent
 * @n_tokens: number of tokens (0 for a record with no tokens)
 * @tokens: (array length=n_tokens): @n_tokens NUL-terminated UTF-8 strings, then a NULL (a GStrv)
 * @ids: (array length=n_tokens) (nullable): @n_tokens vocabulary ids, or NULL when no vocabulary was given (a record
 *   without tokens encoded with a vocabulary has a non-NULL @ids of length 0)
 * @label: (nullable): the record's label as written in the data (CSV: its class name), or NULL
 * @label_id: the label's class index (0-based), -1 when unknown or absent
 * @tokenizer: (nullable): the tokenizer that made @tokens ("basic_english"), or NULL when
 *   the meta does not say (then the three fields after it mean nothing); a static string
 * @lowercase: the text was lowercased before tokenizing
 * @strip_markup: markup was removed (and entities decoded) before tokenizing
 * @max_tokens: the tokenizer kept at most this many tokens (0: no cap)
 *
 * The tokens of one record (one text buffer). The buffer's text is left unchanged.
 *
 * Memory: @tokens (the pointer array and its strings), @ids and @label live
 * in ONE block owned by the meta (one allocation per record instead of one
 * per token). They are read-only: never free or reallocate a token, @ids or
 * @label individually. A copy of the meta duplicates the whole block.
 *
 * Both metas have no tags, so transformations keep them: a copy of the whole
 * buffer (gst_buffer_copy, gst_buffer_make_writable) carries a deep copy; a
 * copy of only part of the buffer drops them, as they describe the whole text.
 */
typedef struct {
  GstMeta meta;
  guint n_tokens;
  gchar **tokens;
  gint32 *ids;
  gchar *label;
  gint label_id;
  /* appended: the fields above keep their offsets */
  const gchar *tokenizer;
  gboolean lowercase;
  gboolean strip_markup;
  guint max_tokens;
} GstSeqnnTokensMeta;

GType gst_seqnn_tokens_meta_api_get_type (void);
const GstMetaInfo *gst_seqnn_tokens_meta_get_info (void);
/* Copies tokens (n entries; may be NULL when n == 0), ids (may be NULL) and label (may be NULL). */
GstSeqnnTokensMeta *gst_buffer_add_seqnn_tokens_meta (GstBuffer *buffer, const gchar *const *tokens,
    guint n_tokens, const gint32 *ids, const gchar *label, gint label_id);
/* The buffer's tokens meta, or NULL. */
GstSeqnnTokensMeta *gst_buffer_get_seqnn_tokens_meta (GstBuffer *buffer);
/* Records how the tokens were made, so that the settings travel with the data
 * (lstmtrain stores them in the model). name is interned. */
void gst_seqnn_tokens_meta_set_tokenizer (GstSeqnnTokensMeta *meta, const gchar *name,
    gboolean lowercase, gboolean strip_markup, guint max_tokens);
/* For bindings, where the fields above cannot be arrays: @tokens and @ids. */
const gchar *const *gst_seqnn_tokens_meta_get_tokens (const GstSeqnnTokensMeta *meta);
const gint32 *gst_seqnn_tokens_meta_get_ids (const GstSeqnnTokensMeta *meta, guint *n_ids);

/* ---- GstSeqnnClassMeta ---------------------------------------------------- */

#define GST_SEQNN_CLASS_META_API_TYPE (gst_seqnn_class_meta_api_get_type ())
#define GST_SEQNN_CLASS_META_INFO (gst_seqnn_class_meta_get_info ())

/**
 * GstSeqnnClassMeta:
 * @meta: parent
 * @class_id: predicted class (argmax of @probabilities)
 * @label: (nullable): its name (NULL when the meta was added without names)
 * @confidence: @probabilities[@class_id]
 * @n_classes: length of @probabilities and @labels
 * @probabilities: (array length=n_classes): softmax over the classes, in label order
 * @labels: (array zero-terminated=1) (nullable): every class name in order, NULL-terminated
 * @cue_probabilities: (array length=n_classes) (nullable): with context across cues
 *   (lstmclassify context=smooth), the probabilities of the buffer read alone, before the
 *   context made @probabilities of them; NULL with context=none and for a cue without
 *   tokens (it took the context's topic)
 *
 * The class of one text buffer, attached by lstmclassify. @class_id,
 * @confidence and @probabilities are the result lstmclassify decided
 * (context-aware when it used context); @cue_probabilities, when set, what
 * the network said of the buffer alone.
 *
 * Memory: @probabilities and @cue_probabilities are stored inside the meta, and @labels (with @label,
 * which points at one of its names) is an immutable #GstSeqnnLabels block that
 * the meta holds a reference to, shared with the element that attached it and
 * with the other buffers it classified. All read-only: free nothing.
 */
typedef struct {
  GstMeta meta;
  gint class_id;
  gchar *label;
  gfloat confidence;
  guint n_classes;
  gfloat *probabilities;
  gchar **labels;
  /* appended: the fields above keep their offsets */
  gfloat *cue_probabilities;
} GstSeqnnClassMeta;

GType gst_seqnn_class_meta_api_get_type (void);
const GstMetaInfo *gst_seqnn_class_meta_get_info (void);
/* Copies probabilities (n_classes floats) and labels (n_classes names); class_id
 * and confidence are derived from the probabilities (first maximum). */
GstSeqnnClassMeta *gst_buffer_add_seqnn_class_meta (GstBuffer *buffer, const gfloat *probabilities,
    const gchar *const *labels, guint n_classes);

/**
 * GstSeqnnLabels:
 *
 * An immutable, reference-counted list of class names in one block, shared by
 * class metas so that they need not copy the names per buffer. Thread-safe
 * reference counting.
 */
typedef struct _GstSeqnnLabels GstSeqnnLabels;

#define GST_SEQNN_TYPE_LABELS (gst_seqnn_labels_get_type ())
GType gst_seqnn_labels_get_type (void);

/* Copies n_labels names (none NULL) into a new block with a reference count of 1. */
GstSeqnnLabels *gst_seqnn_labels_new (const gchar *const *labels, guint n_labels);
GstSeqnnLabels *gst_seqnn_labels_ref (GstSeqnnLabels *labels);
void gst_seqnn_labels_unref (GstSeqnnLabels *labels);
guint gst_seqnn_labels_get_n (const GstSeqnnLabels *labels);
/* The names, NULL-terminated, valid as long as a reference is held. */
const gchar *const *gst_seqnn_labels_get_strv (const GstSeqnnLabels *labels);

/* As gst_buffer_add_seqnn_class_meta, but the meta references labels (may be
 * NULL; else it must hold n_classes names) instead of copying the names. */
GstSeqnnClassMeta *gst_buffer_add_seqnn_class_meta_with_labels (GstBuffer *buffer,
    const gfloat *probabilities, guint n_classes, GstSeqnnLabels *labels);
/* The buffer's class meta, or NULL. */
GstSeqnnClassMeta *gst_buffer_get_seqnn_class_meta (GstBuffer *buffer);
/* For bindings, where the fields above cannot be arrays: @probabilities and @labels. */
const gfloat *gst_seqnn_class_meta_get_probabilities (const GstSeqnnClassMeta *meta, guint *n_classes);
const gchar *const *gst_seqnn_class_meta_get_labels (const GstSeqnnClassMeta *meta);
/* Copies the cue-alone probabilities into the meta: n must be its n_classes;
 * NULL (n 0) removes them. */
void gst_seqnn_class_meta_set_cue_probabilities (GstSeqnnClassMeta *meta,
    const gfloat *cue_probabilities, guint n);
/* @cue_probabilities for bindings: NULL (and *n_classes 0) when not set. */
const gfloat *gst_seqnn_class_meta_get_cue_probabilities (const GstSeqnnClassMeta *meta,
    guint *n_classes);

G_END_DECLS
