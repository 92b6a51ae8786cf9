/* GStreamer seqnn: lstmclassify's input: the token ids of a buffer, and of a
 * batch, for a model.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <seqnn/seqnn.h>

#include "gstseqnnbatcher.h"
#include "gstseqnnmeta.h"
#include "gstseqnnmodel.h"

G_BEGIN_DECLS

/* The model's tokenizer settings with the record cap of max-tokens applied
 * (the smaller of the two caps; 0 = no cap). */
SeqnnTokenizerConfig gst_seqnn_encode_tokenizer (const SeqnnTokenizerConfig *model,
    guint max_tokens);
/* A buffer without text and without tokens (an empty GAP) is not classified. */
gboolean gst_seqnn_encode_is_unclassified (GstBuffer *buffer, const GstSeqnnTokensMeta *meta);
/* Appends the ids of buffer for vocab: its tokens meta's tokens looked up,
 * or (without meta) its text tokenized, markup stripped for pango-markup
 * caps; at most tokenizer->max_tokens of them. Both the sink pad (on arrival)
 * and the task (after a model swap) encode through here; meta ids are
 * checked by gst_seqnn_encoder_encode. */
void gst_seqnn_encode_tokens (const SeqnnVocab *vocab, const SeqnnTokenizerConfig *tokenizer,
    gboolean markup, GstBuffer *buffer, const GstSeqnnTokensMeta *meta, SeqnnTokens *scratch,
    GArray *ids);
/* Sink pad: encodes buffer on arrival when the task would have to (tokens
 * without ids, or text) and a model is loaded: ids (cleared first) get its
 * ids for the newest model's vocabulary, which is returned (a reference);
 * else NULL. The task checks that its model has this vocabulary. */
SeqnnVocab *gst_seqnn_encode_on_arrival (GstSeqnnModel *model, guint max_tokens, gboolean markup,
    GstBuffer *buffer, SeqnnTokens *scratch, GArray *ids);
/* The true class of a buffer from its tokens meta: the label name when it is
 * one of the model's (a name that is not is no class: ids of another label
 * set, such as one seqtokenize grew in order of appearance, would score
 * against the wrong classes), label_id when in range for a label without a
 * name; -1 when unknown. */
gint gst_seqnn_encode_true_label (const GstSeqnnModelInUse *model, const GstSeqnnTokensMeta *meta);

/* The task's encoder: the network input of a batch. The arrays are its
 * output, valid until the next encode. */
typedef struct {
  GstElement *element;   /* errors are posted from it */
  GArray *ids;           /* gint32, the classified buffers' sequences concatenated */
  GArray *lengths;       /* gint per classified buffer */
  GArray *rows;          /* gint per batch buffer: its row (index in lengths), -1 when not classified */
  GArray *empty;         /* gboolean per row: the buffer had no tokens (classified as one <unk>) */
  SeqnnTokens *tokens;   /* scratch */
  gboolean ids_verified; /* meta ids were checked against the model's vocabulary */
  guint64 n_buffers;     /* buffers encoded since the reset, to name one in errors */
} GstSeqnnEncoder;

GstSeqnnEncoder *gst_seqnn_encoder_new (GstElement *element);
void gst_seqnn_encoder_free (GstSeqnnEncoder *encoder);
/* A new stream: buffers are counted from 0. */
void gst_seqnn_encoder_reset (GstSeqnnEncoder *encoder);
/* A new model: the first meta ids are checked against it again. */
void gst_seqnn_encoder_new_model (GstSeqnnEncoder *encoder);
/* Encodes every classified buffer of batch for model (tokenizer: its
 * settings, max-tokens applied; markup: the sink caps are pango-markup),
 * using the ids encoded on arrival when they came from this vocabulary.
 * Meta ids outside the vocabulary, or (first buffer after a new model) not
 * those its tokens give, post an ERROR naming the buffer. */
GstFlowReturn gst_seqnn_encoder_encode (GstSeqnnEncoder *encoder, const GstSeqnnModelInUse *model,
    const SeqnnTokenizerConfig *tokenizer, gboolean markup, const GstSeqnnBatch *batch);

G_END_DECLS
