/* Internal: the layout of a model's flat parameter buffer (one table of
 * tensors in model.c gives the offsets and the names), and the allocator of
 * such buffers.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/model.h"

G_BEGIN_DECLS

#define SEQNN_MAX_LAYERS 16

/* Offsets (in floats) of every tensor of the flat parameter buffer. */
typedef struct {
  SeqnnCell cell;
  SeqnnHead head;
  gint V, E, H, G, L, D, C;
  gint F;                 /* head features: D * H */
  gint padding_idx;
  gfloat dropout;
  gint in_dim[SEQNN_MAX_LAYERS];
  gsize emb;              /* 0: the embedding comes first */
  gsize emb_numel;        /* V * E; also where the dense part begins */
  gsize w_ih[SEQNN_MAX_LAYERS * 2], w_hh[SEQNN_MAX_LAYERS * 2];
  gsize b_ih[SEQNN_MAX_LAYERS * 2], b_hh[SEQNN_MAX_LAYERS * 2];
  gsize fc_w, fc_b;
  gsize total;
  gsize dense_numel;      /* total - emb_numel */
} SeqnnLayout;

/* config must be valid. */
void seqnn_layout_init (SeqnnLayout *layout, const SeqnnConfig *config);
const SeqnnLayout *seqnn_model_get_layout (const SeqnnModel *model);

/* Zeroed memory for big tables (parameters, gradients, optimizer state):
 * 2 MiB aligned and advised onto transparent huge pages when large, since
 * training touches scattered embedding rows of several such tables per step
 * and would otherwise miss the TLB on nearly each. Free with seqnn_table_free. */
gpointer seqnn_table_alloc0 (gsize n_bytes);
void seqnn_table_free (gpointer table);

G_END_DECLS
