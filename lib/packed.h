/* Internal: packing a batch of variable-length sequences (torch's
 * pack_sequence with enforce_sorted=False): a stable sort by length,
 * descending, the per-step batch sizes, and the token id of each packed row.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "cells.h"
#include "grow.h"

G_BEGIN_DECLS

typedef struct {
  gint n;              /* sequences */
  gint T;              /* longest length */
  gint N;              /* packed rows = sum of lengths */
  gint *order;         /* n: sorted position -> caller's (local) index */
  gint *pos;           /* n: caller's index -> sorted position */
  gint *lengths;       /* n: lengths in sorted order (descending) */
  gint *batch_sizes;   /* T */
  gint *step_offset;   /* T + 1 */
  gint *seq_offset;    /* n: caller's index -> offset of its first id in the batch */
  gint32 *row_ids;     /* N: the token id behind each packed row */
  SeqnnPack view;      /* what the cell kernels take */
  /* capacities; buffers only grow */
  gint cap_n, cap_N;
  gint *sort_tmp;
  guint64 n_allocs;    /* growth events, for the allocation-free checks */
} SeqnnPacker;

void seqnn_packer_init (SeqnnPacker *packer);
void seqnn_packer_clear (SeqnnPacker *packer);
/* Grows the buffers to hold n sequences of N tokens in all; FALSE with
 * SEQNN_ERROR_NO_MEMORY (the packer still usable for what it held) when
 * the memory is not there. */
gboolean seqnn_packer_reserve (SeqnnPacker *packer, gint n, gint N, GError **error);
/* lengths must be >= 1 (validated by the caller) and the packer reserved
 * for them: building never allocates. */
void seqnn_packer_build (SeqnnPacker *packer, const gint32 *ids, const gint *lengths, gint n);
/* dst (N x E) row r = table row row_ids[r]. */
void seqnn_packer_gather (const SeqnnPacker *packer, const gfloat *table, gint E, gfloat *dst);
/* Copies the rows of caller's sequence i out of a packed array (row stride
 * src_stride, F floats each) into dst (length x F, time order). */
void seqnn_packer_copy_sequence (const SeqnnPacker *packer, const gfloat *src, gint src_stride,
    gint F, gint i, gfloat *dst);

static inline gint
seqnn_packer_row (const SeqnnPacker *packer, gint t, gint sorted_b)
{
  return packer->step_offset[t] + sorted_b;
}

G_END_DECLS
