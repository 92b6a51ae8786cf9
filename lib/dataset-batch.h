/* Internal: dataset rows as engine input, shared by training and evaluation.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/dataset.h"

G_BEGIN_DECLS

/* Appends row index's ids (gint32), then its word n-grams (the dataset's
 * word_ngrams), to ids and returns their length; an empty row is fed as one
 * <unk>, as the PyTorch reference feeds it. *label gets
 * the row's label. index must be inside the dataset. */
gint seqnn_dataset_append_row (const SeqnnDataset *dataset, gsize index, GArray *ids, gint *label);

/* A new dataset holding rows indices[0..n_indices) of src (provisional ids, or
 * src's vocabulary) encoded with vocab (tokens it lacks become <unk>), each
 * cut to its first max_tokens (0: all) and fed with n-grams of up to word_ngrams
 * words; src is unchanged, so one read of the data serves trials with
 * different vocabularies. */
SeqnnDataset *seqnn_dataset_copy_encoded (const SeqnnDataset *src, const gsize *indices,
    gsize n_indices, const SeqnnVocab *vocab, gint max_tokens, gint word_ngrams);

G_END_DECLS
