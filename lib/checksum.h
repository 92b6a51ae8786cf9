/* The model file's checksum (internal to libseqnn), as seqnn/classifier.h
 * defines it: CRC-32 (zlib's) or SHA-256 over the tensor table, the
 * metadata and the data section.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "modelfile.h"

G_BEGIN_DECLS

/* zlib's crc32 (reflected 0xEDB88320) continued from crc over n bytes. */
guint32 seqnn_crc32_update (guint32 crc, const guint8 *p, gsize n);

/* "crc32:" + 8 lowercase hex digits, or "sha256:" + 64 when sha256, over
 * the n entries (re-sorted: by name, then by begin), every meta value but
 * "seqnn.checksum", and the tensors' data read from params in file order. */
gchar *seqnn_model_file_checksum (gboolean sha256, SeqnnTensorEntry *entries, guint n_entries,
    GHashTable *meta, const gfloat *params);

/* qsort order of entries by their place in the data section. */
gint seqnn_compare_entries_by_begin (gconstpointer a, gconstpointer b);

G_END_DECLS
