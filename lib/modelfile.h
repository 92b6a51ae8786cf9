/* The model file format's shared parts (internal to libseqnn): the
 * classifier's fields, the tensor table entry, names and limits; the format
 * itself is documented in seqnn/classifier.h.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * classifier.c owns the object, modelsave.c writes files, modelload.c reads
 * them, checksum.c defines their checksum, jsonutil.c the JSON they hold.
 * Floats are written and read as the host's bytes, so only little-endian
 * hosts are supported (every platform this project targets); a big-endian
 * build refuses with SEQNN_ERROR_UNSUPPORTED instead of misreading. */
#pragma once

#include <glib.h>
#include "seqnn/classifier.h"

G_BEGIN_DECLS

#define SEQNN_HEADER_MAX_BYTES (100u * 1024u * 1024u)
#define SEQNN_FORMAT_NAME "seqnn"
#define SEQNN_CRC32_PREFIX "crc32:"
#define SEQNN_SHA256_PREFIX "sha256:"
#define SEQNN_TOKENIZER_NAME SEQNN_TOKENIZER_BASIC_ENGLISH

struct _SeqnnClassifier {
  SeqnnModel *model;
  SeqnnVocab *vocab;
  SeqnnTokenizerConfig tokenizer;
  gchar **labels;        /* num_classes names, NULL-terminated */
  GHashTable *metadata;  /* user keys -> values, both owned */
  gboolean stream;       /* a stream model ("seqnn.stream", seqnn/stream.h) */
};

/* One tensor of the header's table. */
typedef struct {
  const gchar *name;
  gint ndim;
  gint64 shape[2];
  guint64 begin, end;   /* bytes in the data section */
  const SeqnnTensorInfo *info;
} SeqnnTensorEntry;

/* "seqnn." keys and "format" belong to the format, not to the user. */
gboolean seqnn_classifier_is_reserved_key (const gchar *key);

/* SEQNN_ERROR_INVALID_ARGUMENT unless vocab has exactly config's vocab_size tokens. */
gboolean seqnn_check_vocab_fits (const SeqnnVocab *vocab, const SeqnnConfig *config, GError **error);

/* strcmp over two gchar * array elements, for qsort. */
gint seqnn_compare_strings (gconstpointer a, gconstpointer b);

G_END_DECLS
