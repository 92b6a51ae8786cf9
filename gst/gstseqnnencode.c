/* GStreamer seqnn: lstmclassify's input: the token ids of buffers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstseqnnencode.h"

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

/* n, or max_tokens when that is smaller and not 0. */
static guint
capped (guint n, gint max_tokens)
{
  return max_tokens > 0 && (guint) max_tokens < n ? (guint) max_tokens : n;
}

SeqnnTokenizerConfig
gst_seqnn_encode_tokenizer (const SeqnnTokenizerConfig *model, guint max_tokens)
{
  SeqnnTokenizerConfig config = *model;

  if (max_tokens > 0)
    config.max_tokens = (gint) capped (max_tokens, model->max_tokens);
  return config;
}

gboolean
gst_seqnn_encode_is_unclassified (GstBuffer *buffer, const GstSeqnnTokensMeta *meta)
{
  return meta == NULL && GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_GAP)
      && gst_buffer_get_size (buffer) == 0;
}

void
gst_seqnn_encode_tokens (const SeqnnVocab *vocab, const SeqnnTokenizerConfig *tokenizer,
    gboolean markup, GstBuffer *buffer, const GstSeqnnTokensMeta *meta, SeqnnTokens *scratch,
    GArray *ids)
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

SeqnnVocab *
gst_seqnn_encode_on_arrival (GstSeqnnModel *model, guint max_tokens, gboolean markup,
    GstBuffer *buffer, SeqnnTokens *scratch, GArray *ids)
{
  GstSeqnnTokensMeta *meta = gst_buffer_get_seqnn_tokens_meta (buffer);
  gboolean encode = meta != NULL ? meta->ids == NULL && meta->n_tokens > 0
      : !gst_seqnn_encode_is_unclassified (buffer, meta);
  SeqnnTokenizerConfig tokenizer;
  SeqnnVocab *vocab = encode ? gst_seqnn_model_ref_sink_vocab (model, &tokenizer) : NULL;

  g_array_set_size (ids, 0);
  if (vocab != NULL) {
    tokenizer = gst_seqnn_encode_tokenizer (&tokenizer, max_tokens);
    gst_seqnn_encode_tokens (vocab, &tokenizer, markup, buffer, meta, scratch, ids);
  }
  return vocab;
}

gint
gst_seqnn_encode_true_label (const GstSeqnnModelInUse *model, const GstSeqnnTokensMeta *meta)
{
  gint n = (gint) model->n_labels;

  if (meta == NULL)
    return -1;
  if (meta->label != NULL) {
    for (gint i = 0; i < n; i++)
      if (g_strcmp0 (meta->label, model->labels[i]) == 0)
        return i;
    return -1;
  }
  if (meta->label_id >= 0 && meta->label_id < n)
    return meta->label_id;
  return -1;
}

GstSeqnnEncoder *
gst_seqnn_encoder_new (GstElement *element)
{
  GstSeqnnEncoder *enc = g_new0 (GstSeqnnEncoder, 1);

  enc->element = element;
  enc->ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  enc->lengths = g_array_new (FALSE, FALSE, sizeof (gint));
  enc->rows = g_array_new (FALSE, FALSE, sizeof (gint));
  enc->empty = g_array_new (FALSE, FALSE, sizeof (gboolean));
  enc->tokens = seqnn_tokens_new ();
  return enc;
}

void
gst_seqnn_encoder_free (GstSeqnnEncoder *enc)
{
  g_array_free (enc->ids, TRUE);
  g_array_free (enc->lengths, TRUE);
  g_array_free (enc->rows, TRUE);
  g_array_free (enc->empty, TRUE);
  seqnn_tokens_free (enc->tokens);
  g_free (enc);
}

void
gst_seqnn_encoder_reset (GstSeqnnEncoder *enc)
{
  enc->n_buffers = 0;
}

void
gst_seqnn_encoder_new_model (GstSeqnnEncoder *enc)
{
  enc->ids_verified = FALSE;
}

/* Checks the ids of a tokens meta against the model: in range, and (on the
 * first buffer with ids after each model load) the same as its tokens give. */
static GstFlowReturn
check_meta_ids (GstSeqnnEncoder *enc, const GstSeqnnModelInUse *model, GstBuffer *buffer,
    const GstSeqnnTokensMeta *meta, guint64 index)
{
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (model->classifier));
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (model->classifier);

  for (guint i = 0; i < meta->n_tokens; i++) {
    if (meta->ids[i] < 0 || meta->ids[i] >= config->vocab_size) {
      GST_ELEMENT_ERROR (enc->element, STREAM, FORMAT,
          ("Token %u ('%s') of buffer %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT
              ") has id %d, outside the model's vocabulary of %d words: the tokens were "
              "encoded with another vocabulary (give seqtokenize the same model)",
              i, meta->tokens && meta->tokens[i] ? meta->tokens[i] : "?", index,
              GST_TIME_ARGS (GST_BUFFER_PTS (buffer)), meta->ids[i], config->vocab_size),
          ("model '%s'", GST_STR_NULL (model->path)));
      return GST_FLOW_ERROR;
    }
  }
  /* Ids in range may still come from another vocabulary: the first buffer
   * with ids after each model load is checked against its own tokens. */
  if (!enc->ids_verified && meta->n_tokens > 0 && meta->tokens != NULL) {
    for (guint i = 0; i < meta->n_tokens; i++) {
      gint32 id = seqnn_vocab_lookup (vocab, meta->tokens[i], -1);
      if (id != meta->ids[i]) {
        GST_ELEMENT_ERROR (enc->element, STREAM, FORMAT,
            ("Token %u ('%s') of buffer %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT
                ") has id %d in its tokens meta but %d in the model's vocabulary: the tokens "
                "were encoded with another vocabulary (give seqtokenize the same model)",
                i, meta->tokens[i], index, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
                meta->ids[i], id), ("model '%s'", GST_STR_NULL (model->path)));
        return GST_FLOW_ERROR;
      }
    }
    enc->ids_verified = TRUE;
  }
  return GST_FLOW_OK;
}

/* Appends the ids and length of batch buffer i (the index-th buffer of the
 * stream, for errors) to the network's input. */
static GstFlowReturn
encode_buffer (GstSeqnnEncoder *enc, const GstSeqnnModelInUse *model,
    const SeqnnTokenizerConfig *tokenizer, gboolean markup, const GstSeqnnBatch *batch, guint i,
    guint64 index)
{
  GstBuffer *buffer = batch->buffers[i];
  const GstSeqnnBatchSlot *encoded = &batch->slots[i];
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (model->classifier);
  GstSeqnnTokensMeta *meta = gst_buffer_get_seqnn_tokens_meta (buffer);
  guint start = enc->ids->len;
  gboolean empty;
  gint length;

  if (encoded->vocab != NULL && encoded->vocab == vocab
      && (meta != NULL || encoded->markup == markup)) {
    /* Encoded on arrival with this very vocabulary (and tokenizer). */
    g_array_append_vals (enc->ids, &g_array_index (batch->ids, gint32, encoded->start),
        encoded->n_ids);
  } else if (meta != NULL && meta->ids != NULL) {
    GstFlowReturn ret = check_meta_ids (enc, model, buffer, meta, index);
    if (ret != GST_FLOW_OK)
      return ret;
    g_array_append_vals (enc->ids, meta->ids, capped (meta->n_tokens, tokenizer->max_tokens));
  } else {
    gst_seqnn_encode_tokens (vocab, tokenizer, markup, buffer, meta, enc->tokens, enc->ids);
  }
  empty = enc->ids->len == start;
  g_array_append_val (enc->empty, empty);
  seqnn_vocab_append_ngrams (vocab, enc->ids, start, tokenizer->word_ngrams);
  length = seqnn_ids_end_record (enc->ids, start);
  g_array_append_val (enc->lengths, length);
  return GST_FLOW_OK;
}

GstFlowReturn
gst_seqnn_encoder_encode (GstSeqnnEncoder *enc, const GstSeqnnModelInUse *model,
    const SeqnnTokenizerConfig *tokenizer, gboolean markup, const GstSeqnnBatch *batch)
{
  g_array_set_size (enc->ids, 0);
  g_array_set_size (enc->lengths, 0);
  g_array_set_size (enc->empty, 0);
  g_array_set_size (enc->rows, batch->n);
  for (guint i = 0; i < batch->n; i++) {
    GstBuffer *buffer = batch->buffers[i];
    GstFlowReturn ret;

    if (gst_seqnn_encode_is_unclassified (buffer, gst_buffer_get_seqnn_tokens_meta (buffer))) {
      g_array_index (enc->rows, gint, i) = -1;
      continue;
    }
    g_array_index (enc->rows, gint, i) = enc->lengths->len;
    ret = encode_buffer (enc, model, tokenizer, markup, batch, i, enc->n_buffers + i);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  enc->n_buffers += batch->n;
  return GST_FLOW_OK;
}
