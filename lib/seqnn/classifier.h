/* libseqnn: a complete text classifier (model, tokenizer settings, vocabulary,
 * label names) and its file format.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Model files use the safetensors layout: 8-byte little-endian header length,
 * a JSON header (per tensor dtype "F32", shape, data_offsets; a "__metadata__"
 * map of strings holding the architecture, tokenizer settings, vocabulary,
 * labels, format version and a checksum), then raw little-endian float32 data.
 * Tensor names are the torch state_dict's (see model.h), so Python reads a
 * model with json and numpy alone. */
#pragma once

#include <glib.h>
#include "seqnn/error.h"
#include "seqnn/model.h"
#include "seqnn/text.h"

G_BEGIN_DECLS

#define SEQNN_MODEL_FORMAT_VERSION 1

typedef struct _SeqnnClassifier SeqnnClassifier;

/* Takes ownership of model; takes a reference on vocab. labels: num_classes
 * names. The vocabulary size must equal the model's vocab_size. */
SeqnnClassifier *seqnn_classifier_new (SeqnnModel *model, SeqnnVocab *vocab,
    const SeqnnTokenizerConfig *tokenizer, const gchar *const *labels, GError **error);
void seqnn_classifier_free (SeqnnClassifier *classifier);

/* Validates everything (header length, JSON, dtypes, shapes against the
 * architecture, offsets inside the file and not overlapping, format version,
 * checksum); the message says what is wrong. */
SeqnnClassifier *seqnn_classifier_load (const gchar *path, GError **error);
/* Atomic: temp file in the same folder, fsync, rename; a failure leaves an
 * existing file at path untouched. */
gboolean seqnn_classifier_save (const SeqnnClassifier *classifier, const gchar *path, GError **error);

SeqnnModel *seqnn_classifier_get_model (SeqnnClassifier *classifier);
const SeqnnModel *seqnn_classifier_peek_model (const SeqnnClassifier *classifier);
SeqnnVocab *seqnn_classifier_get_vocab (const SeqnnClassifier *classifier);
const SeqnnTokenizerConfig *seqnn_classifier_get_tokenizer (const SeqnnClassifier *classifier);
void seqnn_classifier_set_tokenizer (SeqnnClassifier *classifier, const SeqnnTokenizerConfig *tokenizer);
guint seqnn_classifier_get_n_labels (const SeqnnClassifier *classifier);
const gchar *seqnn_classifier_get_label (const SeqnnClassifier *classifier, gint id);
/* Free-form string metadata kept in the file (training command, data, accuracy...).
 * Keys starting with "seqnn." are reserved. */
void seqnn_classifier_set_metadata (SeqnnClassifier *classifier, const gchar *key, const gchar *value);
const gchar *seqnn_classifier_get_metadata (const SeqnnClassifier *classifier, const gchar *key);

/* Tokenizes text with the classifier's settings and appends the ids (gint32)
 * to ids; tokens is scratch space. */
void seqnn_classifier_encode (const SeqnnClassifier *classifier, const gchar *text, gssize len,
    SeqnnTokens *tokens, GArray *ids);

/* ---- Pretrained word vectors --------------------------------------------- */

/* Reads a GloVe or word2vec text file ("word v1 ... vD" per line; a word2vec
 * "count dim" first line is recognised) and copies the vectors of vocabulary
 * words into the embedding; other rows keep their values. D must equal
 * embed_dim. n_found (may be NULL) receives how many vocabulary words were found. */
gboolean seqnn_model_load_word_vectors (SeqnnModel *model, const SeqnnVocab *vocab,
    const gchar *path, gsize *n_found, GError **error);

G_END_DECLS
