/* libseqnn: a complete text classifier (model, tokenizer settings, vocabulary,
 * label names) and its file format.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Model files use the safetensors layout: 8-byte little-endian header length,
 * a JSON header (per tensor dtype "F32", shape, data_offsets; a "__metadata__"
 * map of strings holding the architecture, tokenizer settings, vocabulary,
 * labels, format version and a checksum), then raw little-endian float32 data.
 * Tensor names are the torch state_dict's (see model.h), so Python reads a
 * model with json and numpy alone (models/README-format.md).
 *
 * Layout, byte for byte:
 *   u64 little-endian N | N bytes of UTF-8 JSON, padded with spaces to a multiple of 8 |
 *   data section: each tensor's float32 little-endian values, row-major
 * JSON header, one entry per tensor plus "__metadata__":
 *   "embedding.weight": {"dtype": "F32", "shape": [V, E], "data_offsets": [begin, end]}
 *   offsets in bytes from the start of the data section; the tensors cover it
 *   exactly, without gaps or overlaps.
 * "__metadata__" (every value a string, as safetensors requires):
 *   "format": "seqnn", "seqnn.version": "1",
 *   "seqnn.cell": "rnn-tanh" | "rnn-relu" | "lstm" | "gru",
 *   "seqnn.embed_dim", "seqnn.hidden_dim", "seqnn.num_layers", "seqnn.num_classes",
 *   "seqnn.vocab_size", "seqnn.padding_idx" (-1 for none): decimal integers,
 *   "seqnn.bidirectional": "true" | "false", "seqnn.head": "last" | "mean" | "max",
 *   "seqnn.dropout": decimal float,
 *   "seqnn.tokenizer": JSON object as a string:
 *       {"name": "basic_english", "lowercase": true, "strip_markup": false, "max_tokens": 0},
 *   "seqnn.labels": JSON array of num_classes strings, as a string,
 *   "seqnn.vocab": JSON array of vocab_size tokens in id order, as a string,
 *   "seqnn.checksum": "crc32:" + 8 lowercase hex digits (what seqnn writes), or
 *       "sha256:" + 64 (accepted when reading),
 *   plus free-form user keys (any key not starting with "seqnn." other than "format").
 * The checksum is CRC-32 (zlib's crc32, Python's zlib.crc32) or SHA-256 over,
 * in this order, with field(s) = u64le(byte length) || UTF-8 bytes:
 *   for each tensor in ascending name order (byte order):
 *     field(name) field(dtype) field(shape as "d0" or "d0,d1") field("begin,end");
 *   for each metadata key except "seqnn.checksum" in ascending key order:
 *     field(key) field(value);
 *   then the data section's bytes as stored.
 * So a flipped data byte, an edited label or a swapped tensor is detected.
 * (It guards against damage, not forgery; CRC-32 keeps big models fast.)
 * The header and the JSON metadata strings must be strict RFC 8259 JSON: no
 * single quotes, comments, trailing commas, NaN/Infinity, repeated keys (at
 * any level), \u0000 or unpaired surrogates; nesting at most 16 deep. */
#pragma once

#include <glib.h>
#include "seqnn/error.h"
#include "seqnn/model.h"
#include "seqnn/text.h"

G_BEGIN_DECLS

#define SEQNN_MODEL_FORMAT_VERSION 1

typedef struct _SeqnnClassifier SeqnnClassifier;

/* Takes ownership of model (also on failure: it is then freed); takes a
 * reference on vocab. labels: at least num_classes valid UTF-8 names (only
 * the first num_classes are used). tokenizer NULL for the default (else
 * max_tokens >= 0, word_ngrams as seqnn_check_word_ngrams allows). The
 * vocabulary size must equal the model's vocab_size. */
SeqnnClassifier *seqnn_classifier_new (SeqnnModel *model, SeqnnVocab *vocab,
    const SeqnnTokenizerConfig *tokenizer, const gchar *const *labels, GError **error);
void seqnn_classifier_free (SeqnnClassifier *classifier);
/* Word n-grams (SeqnnTokenizerConfig.word_ngrams above 1, at most
 * SEQNN_WORD_NGRAMS_MAX) are features of a bag of embeddings (num_layers 0):
 * a recurrent layer reads words in order, and n-grams after them would read
 * as more words. FALSE with an error naming the fix otherwise. */
gboolean seqnn_check_word_ngrams (gint word_ngrams, const SeqnnConfig *config, GError **error);

/* Validates everything (header length, strict JSON, dtypes, shapes against the
 * architecture, offsets inside the file and not overlapping, format version,
 * checksum, finite weights); the message says what is wrong:
 * SEQNN_ERROR_CORRUPT for damaged or inconsistent files, SEQNN_ERROR_UNSUPPORTED
 * for a newer format version, another tokenizer or checksum algorithm,
 * SEQNN_ERROR_IO when the file cannot be read. */
SeqnnClassifier *seqnn_classifier_load (const gchar *path, GError **error);
/* Atomic: the file is written beside its target, fsync'd, renamed over it,
 * and the folder fsync'd; a failure leaves an existing file untouched and no
 * temporary behind; the message names the path and the reason (SEQNN_ERROR_IO).
 * The target: path with symbolic links followed (the link stays a link and
 * its target is replaced); refused with SEQNN_ERROR_IO, before anything is
 * written, when it is a dangling link, a folder, not a regular file (a device
 * such as /dev/full, a FIFO...), or a read-only file (no write bit in its
 * mode, checked even for root, or not writable by this user).
 * Temporaries: O_TMPFILE where the filesystem has it (nothing has a name until
 * the data is written, so a kill -9 leaves nothing); else, and for the instant
 * between linkat and rename, ".<name>.seqnn-XXXXXX" beside the target, locked
 * while in use: each save first removes unlocked ones of its target (left by
 * a killed process). The new file keeps an existing target's mode.
 * Non-finite parameters fail with SEQNN_ERROR_NUMERIC.
 * The output is deterministic: saving what was loaded gives the same bytes. */
gboolean seqnn_classifier_save (const SeqnnClassifier *classifier, const gchar *path, GError **error);
/* The checks seqnn_classifier_save makes of path before writing (the target
 * rules above, and that a temporary can be created in its folder), without
 * writing anything: for callers that must refuse a bad path before hours of
 * training. The same errors as seqnn_classifier_save. */
gboolean seqnn_classifier_check_save_path (const gchar *path, GError **error);

/* Borrowed pointers, valid while the classifier lives. */
SeqnnModel *seqnn_classifier_get_model (SeqnnClassifier *classifier);
const SeqnnModel *seqnn_classifier_peek_model (const SeqnnClassifier *classifier);
SeqnnVocab *seqnn_classifier_get_vocab (const SeqnnClassifier *classifier);
const SeqnnTokenizerConfig *seqnn_classifier_get_tokenizer (const SeqnnClassifier *classifier);
/* max_tokens >= 0 and word_ngrams as seqnn_check_word_ngrams allows for the
 * model (else a critical warning and no change). */
void seqnn_classifier_set_tokenizer (SeqnnClassifier *classifier, const SeqnnTokenizerConfig *tokenizer);
guint seqnn_classifier_get_n_labels (const SeqnnClassifier *classifier);
const gchar *seqnn_classifier_get_label (const SeqnnClassifier *classifier, gint id);
/* Free-form string metadata kept in the file (training command, data, accuracy...).
 * value NULL removes the key. Keys starting with "seqnn." and "format" are
 * reserved: setting one is a programming error (g_return_if_fail). Keys and
 * values must be valid UTF-8. */
void seqnn_classifier_set_metadata (SeqnnClassifier *classifier, const gchar *key, const gchar *value);
/* NULL when the key is not set. */
const gchar *seqnn_classifier_get_metadata (const SeqnnClassifier *classifier, const gchar *key);
/* The user metadata keys, sorted; free with g_strfreev. */
gchar **seqnn_classifier_list_metadata (const SeqnnClassifier *classifier);

/* Tokenizes text with the classifier's settings and appends the ids (gint32)
 * to ids; tokens is scratch space. A text without tokens (NULL, empty,
 * blanks) appends one <unk> (seqnn_ids_end_record), as training and
 * evaluation feed it, so every record is a sequence of length >= 1. */
void seqnn_classifier_encode (const SeqnnClassifier *classifier, const gchar *text, gssize len,
    SeqnnTokens *tokens, GArray *ids);

/* ---- Pretrained word vectors --------------------------------------------- */

/* Reads a GloVe or word2vec text file ("word v1 ... vD" per line; a word2vec
 * "count dim" first line is recognised) and copies the vectors of vocabulary
 * words into the embedding; other rows keep their values. D must equal
 * embed_dim. n_found (may be NULL) receives how many vocabulary words were found. */
/* Lines hold exactly D + 1 space/tab separated fields (no words with
 * spaces); every value must be a finite number; a word2vec header's count
 * must match the number of vector lines. Malformed content fails with
 * SEQNN_ERROR_PARSE naming file and line, and then the embedding is left
 * untouched. The padding row (padding_idx) is never overwritten. Later
 * duplicates of a word win. */
gboolean seqnn_model_load_word_vectors (SeqnnModel *model, const SeqnnVocab *vocab,
    const gchar *path, gsize *n_found, GError **error);
/* The vectors' dimension from the file's first line that is not blank (a
 * word2vec "count dim" header, or a vector's number of values) without reading
 * the rest: a mismatch with the embedding is found before any training. -1
 * with SEQNN_ERROR_IO or SEQNN_ERROR_PARSE. */
gint seqnn_word_vectors_get_dim (const gchar *path, GError **error);

G_END_DECLS
