/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SeqnnClassifier: a model with its vocabulary, tokenizer settings, label
 * names and user metadata. Its file format is in modelsave.c/modelload.c. */
#include "modelfile.h"

#include <stdlib.h>
#include <string.h>

gboolean
seqnn_classifier_is_reserved_key (const gchar *key)
{
  return g_str_has_prefix (key, "seqnn.") || strcmp (key, "format") == 0;
}

gboolean
seqnn_check_vocab_fits (const SeqnnVocab *vocab, const SeqnnConfig *config, GError **error)
{
  gsize vocab_size = seqnn_vocab_get_size (vocab);
  if (vocab_size == (gsize) config->vocab_size)
    return TRUE;
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
      "vocabulary has %" G_GSIZE_FORMAT " tokens but the model's vocab_size is %d",
      vocab_size, config->vocab_size);
  return FALSE;
}

gboolean
seqnn_check_word_ngrams (gint word_ngrams, const SeqnnConfig *config, GError **error)
{
  if (word_ngrams < 0 || word_ngrams > SEQNN_WORD_NGRAMS_MAX) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "word-ngrams is %d; it must be 1 (words only) to %d", word_ngrams, SEQNN_WORD_NGRAMS_MAX);
    return FALSE;
  }
  if (word_ngrams <= 1 || config->num_layers == 0)
    return TRUE;
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
      "word-ngrams=%d needs a bag of embeddings (layers=0): a recurrent layer reads the words "
      "in order, and n-grams after them would read as more words; this network has %d "
      "recurrent layer%s", word_ngrams, config->num_layers, config->num_layers == 1 ? "" : "s");
  return FALSE;
}

SeqnnClassifier *
seqnn_classifier_new (SeqnnModel *model, SeqnnVocab *vocab,
    const SeqnnTokenizerConfig *tokenizer, const gchar *const *labels, GError **error)
{
  if (model == NULL || vocab == NULL || labels == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "classifier needs a model, a vocabulary and labels");
    if (model)
      seqnn_model_free (model);
    return NULL;
  }
  if (tokenizer != NULL && tokenizer->max_tokens < 0) {
    /* the file stores it and load refuses a negative cap: fail here, not at load */
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "tokenizer max_tokens is %d; it must be 0 (no cap) or more", tokenizer->max_tokens);
    seqnn_model_free (model);
    return NULL;
  }
  const SeqnnConfig *config = seqnn_model_get_config (model);
  if (tokenizer != NULL && !seqnn_check_word_ngrams (tokenizer->word_ngrams, config, error)) {
    seqnn_model_free (model);
    return NULL;
  }
  if (!seqnn_check_vocab_fits (vocab, config, error)) {
    seqnn_model_free (model);
    return NULL;
  }
  for (gint i = 0; i < config->num_classes; i++) {
    if (labels[i] == NULL || !g_utf8_validate (labels[i], -1, NULL)) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "label %d of %d is %s", i, config->num_classes,
          labels[i] == NULL ? "missing" : "not valid UTF-8");
      seqnn_model_free (model);
      return NULL;
    }
  }
  SeqnnClassifier *classifier = g_new0 (SeqnnClassifier, 1);
  classifier->model = model;
  classifier->vocab = seqnn_vocab_ref (vocab);
  if (tokenizer)
    classifier->tokenizer = *tokenizer;
  else
    seqnn_tokenizer_config_init_default (&classifier->tokenizer);
  classifier->labels = g_new0 (gchar *, config->num_classes + 1);
  for (gint i = 0; i < config->num_classes; i++)
    classifier->labels[i] = g_strdup (labels[i]);
  classifier->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return classifier;
}

void
seqnn_classifier_free (SeqnnClassifier *classifier)
{
  if (classifier == NULL)
    return;
  seqnn_model_free (classifier->model);
  seqnn_vocab_unref (classifier->vocab);
  g_strfreev (classifier->labels);
  g_hash_table_unref (classifier->metadata);
  g_free (classifier);
}

SeqnnModel *
seqnn_classifier_get_model (SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return classifier->model;
}

const SeqnnModel *
seqnn_classifier_peek_model (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return classifier->model;
}

SeqnnVocab *
seqnn_classifier_get_vocab (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return classifier->vocab;
}

const SeqnnTokenizerConfig *
seqnn_classifier_get_tokenizer (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return &classifier->tokenizer;
}

void
seqnn_classifier_set_tokenizer (SeqnnClassifier *classifier, const SeqnnTokenizerConfig *tokenizer)
{
  g_return_if_fail (classifier != NULL && tokenizer != NULL);
  g_return_if_fail (tokenizer->max_tokens >= 0);
  /* a programming error, as a negative cap: the loader would refuse the saved file */
  g_return_if_fail (seqnn_check_word_ngrams (tokenizer->word_ngrams,
          seqnn_model_get_config (classifier->model), NULL));
  classifier->tokenizer = *tokenizer;
}

guint
seqnn_classifier_get_n_labels (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, 0);
  return g_strv_length (classifier->labels);
}

const gchar *
seqnn_classifier_get_label (const SeqnnClassifier *classifier, gint id)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  if (id < 0 || id >= seqnn_model_get_config (classifier->model)->num_classes)
    return NULL; /* labels holds exactly num_classes names */
  return classifier->labels[id];
}

void
seqnn_classifier_set_metadata (SeqnnClassifier *classifier, const gchar *key, const gchar *value)
{
  g_return_if_fail (classifier != NULL && key != NULL);
  g_return_if_fail (!seqnn_classifier_is_reserved_key (key));
  g_return_if_fail (g_utf8_validate (key, -1, NULL));
  g_return_if_fail (value == NULL || g_utf8_validate (value, -1, NULL));
  if (value == NULL)
    g_hash_table_remove (classifier->metadata, key);
  else
    g_hash_table_insert (classifier->metadata, g_strdup (key), g_strdup (value));
}

const gchar *
seqnn_classifier_get_metadata (const SeqnnClassifier *classifier, const gchar *key)
{
  g_return_val_if_fail (classifier != NULL && key != NULL, NULL);
  return g_hash_table_lookup (classifier->metadata, key);
}

gint
seqnn_compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

gchar **
seqnn_classifier_list_metadata (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  guint n = 0;
  gchar **keys = (gchar **) g_hash_table_get_keys_as_array (classifier->metadata, &n);
  qsort (keys, n, sizeof (gchar *), seqnn_compare_strings);
  gchar **copy = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    copy[i] = g_strdup (keys[i]);
  g_free (keys);
  return copy;
}

void
seqnn_classifier_encode (const SeqnnClassifier *classifier, const gchar *text, gssize len,
    SeqnnTokens *tokens, GArray *ids)
{
  guint start;

  g_return_if_fail (classifier != NULL && tokens != NULL && ids != NULL);
  start = ids->len;
  if (text != NULL) {
    seqnn_tokenize (&classifier->tokenizer, text, len, tokens);
    seqnn_vocab_encode (classifier->vocab, tokens, ids);
    seqnn_vocab_append_ngrams (classifier->vocab, ids, start, classifier->tokenizer.word_ngrams);
  }
  seqnn_ids_end_record (ids, start);
}
