/* Internal: the network over one shard of a batch (its workspace, forward,
 * loss and backward), how a batch is split into shards, and the
 * cross-entropy of a logits row.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <math.h>
#include "seqnn/model.h"
#include "cells.h"
#include "layout.h"
#include "packed.h"

G_BEGIN_DECLS

/* ---- One shard's workspace ------------------------------------------------ */

typedef struct {
  const SeqnnLayout *lay;
  SeqnnPacker packer;
  gint cap_N, cap_B;      /* buffers below are sized for these */
  gboolean cap_train;     /* backward buffers allocated */
  gfloat *x0;             /* N x E: embedding rows in packed order */
  gfloat *out;            /* L blocks of N x F: every layer's outputs */
  gfloat *drop_in;        /* L blocks of N x F: dropped inputs of layers 1.. (training) */
  gfloat *drop_mask;      /* L blocks of N x F: scaled masks (0 or 1/(1-p)) */
  gfloat *h_n, *c_n;      /* L*D blocks of B x H, sorted order */
  gfloat *cache;          /* L*D blocks of cache_size floats (training) */
  gsize cache_block;      /* floats per (layer, direction) cache block */
  gfloat *scratch;
  gfloat *feat;           /* B x F: head output, sorted order */
  gint *argmax_row;       /* B x F: MAX head: packed row of each maximum */
  gfloat *logits;         /* B x C, sorted order */
  gfloat *probs;          /* B x C, sorted order */
  /* backward */
  gfloat *dlogits, *dfeat;/* B x C, B x F */
  gfloat *dh_n;           /* D blocks of B x H */
  gfloat *dy_a, *dy_b;    /* N x F ping-pong */
  gfloat *demb;           /* N x E: embedding-row gradients, packed order */
  /* initial states (forward_from): L*D blocks of B x H, sorted order */
  gfloat *h0, *c0;
  /* reading the top layer at chosen rows (stream models) */
  gint cap_P, n_pos;
  gboolean cap_P_train;
  gint *pos_rows;         /* P: packed rows read */
  gint *pos_seqs, *pos_steps; /* P: scratch for callers' positions */
  gint *pos_labels;       /* P: scratch for callers' labels (training) */
  gfloat *pos_feat;       /* P x F */
  gfloat *pos_logits, *pos_probs; /* P x C */
  gfloat *pos_dlogits, *pos_dfeat;/* P x C, P x F (training) */
  gboolean dropped;       /* last forward used dropout */
  /* Dropout on the embedding output and on the head's features (training
   * options, seqnn_net_set_dropout), with their scaled masks and whether the
   * last forward applied them. */
  gfloat embedding_dropout, head_dropout;
  gfloat *emb_mask;       /* N x E, packed order */
  gfloat *head_mask;      /* B x F, sorted order */
  gfloat *pos_mask;       /* P x F */
  gboolean emb_dropped, head_dropped, pos_dropped;
  gboolean forward_dropping; /* the last forward's training && use_dropout */
  guint64 forward_seed;   /* its dropout seed and first index (the positions' masks) */
  gint forward_first;
  guint64 n_allocs;       /* growth events */
} SeqnnNet;

SeqnnNet *seqnn_net_new (const SeqnnLayout *layout);
void seqnn_net_free (SeqnnNet *net);
guint64 seqnn_net_get_n_allocs (const SeqnnNet *net);
/* Inverted dropout while training on the embedding output (each token's
 * vector) and on the head's features (each sequence's, or each read
 * position's, before the linear layer); rates in [0, 1). The masks are
 * allocated by the next reserve. */
void seqnn_net_set_dropout (SeqnnNet *net, gfloat embedding, gfloat head);
/* Grows the workspace for n sequences of N tokens in all (forward only
 * unless training). FALSE with SEQNN_ERROR_NO_MEMORY, saying how much was
 * asked for, when the memory is not there; the workspace keeps what it had. */
gboolean seqnn_net_reserve (SeqnnNet *net, gint n, gint N, gboolean training, GError **error);

/* Forward over n sequences (validated), in a workspace reserved for at
 * least them (so it never allocates). training: keep the caches for a
 * backward pass and apply dropout with masks drawn per sequence from
 * (dropout_seed, first_index + i), so they do not depend on sharding. */
void seqnn_net_forward (SeqnnNet *net, const gfloat *params, const gint32 *ids,
    const gint *lengths, gint n, gboolean training, gboolean use_dropout,
    guint64 dropout_seed, gint first_index);
/* The same from initial states h0, c0: n x (L*D) x H in the caller's order
 * (sequence i's state of layer l, direction d at (i * L*D + l*D + d) * H);
 * either may be NULL (zero); c0 only for LSTM. The backward pass treats
 * them as constants (no gradient flows into them). */
void seqnn_net_forward_from (SeqnnNet *net, const gfloat *params, const gint32 *ids,
    const gint *lengths, gint n, const gfloat *h0, const gfloat *c0, gboolean training,
    gboolean use_dropout, guint64 dropout_seed, gint first_index);
/* Softmax cross-entropy on the last forward; labels in the caller's order.
 * dlogits = (p - onehot) * scale. Returns the summed loss (double). */
gdouble seqnn_net_loss (SeqnnNet *net, const gint *labels, gfloat scale, gint *n_correct);
/* Backward; accumulates (+=) the non-embedding gradients into dgrad, which is
 * indexed from layout->emb_numel (dgrad[0] is the first recurrent weight).
 * want_embedding: leave the embedding-row gradients in net->demb (N x E, rows
 * in packed order, ids in net->packer.row_ids). */
void seqnn_net_backward (SeqnnNet *net, const gfloat *params, gfloat *dgrad, gboolean want_embedding);

/* ---- The top layer read at chosen positions (stream models) ----------------
 * In place of the head: the class of (sequence seqs[i], step steps[i]) is
 * fc + softmax of the top layer's output at that step, so a loss can sit at
 * many positions of a sequence. Meaningful for unidirectional networks (a
 * reverse direction has seen the steps after). The workspace must also be
 * reserved for the forward pass (seqnn_net_reserve, training for backward). */
gboolean seqnn_net_reserve_positions (SeqnnNet *net, gint n_positions, gboolean training, GError **error);
/* After a forward: logits and probabilities (net->pos_logits, net->pos_probs,
 * n_positions x C, in the order given) at positions within the lengths. */
void seqnn_net_forward_positions (SeqnnNet *net, const gfloat *params, const gint *seqs,
    const gint *steps, gint n_positions);
/* Cross-entropy of those rows against labels (n_positions, the order given);
 * dlogits = (p - onehot) * scale. Returns the summed loss. */
gdouble seqnn_net_loss_positions (SeqnnNet *net, const gint *labels, gfloat scale, gint *n_correct);
/* Backward from the position losses (the forward was a training one):
 * accumulates as seqnn_net_backward does. */
void seqnn_net_backward_positions (SeqnnNet *net, const gfloat *params, gfloat *dgrad,
    gboolean want_embedding);
/* The final states of the last forward, n x (L*D) x H in the caller's order
 * (seqnn_net_forward_from's layout, so they feed the next window). */
void seqnn_net_copy_states (const SeqnnNet *net, gfloat *h_dst, gfloat *c_dst);

/* Results of the last forward, written to the caller's order. */
void seqnn_net_copy_probs (const SeqnnNet *net, gfloat *dst);   /* n x C */
void seqnn_net_copy_logits (const SeqnnNet *net, gfloat *dst);  /* n x C */
/* Into (L*D) x n_total x H arrays, at rows first .. first + n - 1. */
void seqnn_net_copy_final_states (const SeqnnNet *net, gfloat *h_dst, gfloat *c_dst,
    gint n_total, gint first);
/* Top-layer outputs of local sequence i: length x F. */
void seqnn_net_copy_outputs (const SeqnnNet *net, gint i, gfloat *dst);

/* Splits n sequences into n_shards contiguous ranges of about equal token
 * counts: shard s is [first[s], first[s+1]). */
void seqnn_split_shards (const gint *lengths, gint n, gint n_shards, gint *first);
/* How many shards a batch is worth (1 when small). */
gint seqnn_choose_n_shards (const SeqnnLayout *layout, gint n, gsize n_tokens, gint n_threads);

/* Cross-entropy of one row of C logits against label, log-sum-exp in double
 * (the loss is reported, not back-propagated); *argmax gets the first
 * maximum. Shared by training steps and evaluation so both report the same. */
static inline gdouble
seqnn_cross_entropy_row (const gfloat *z, gint C, gint label, gint *argmax)
{
  gdouble zmax = z[0];
  gint arg = 0;
  for (gint c = 1; c < C; c++)
    if (z[c] > zmax) {
      zmax = z[c];
      arg = c;
    }
  gdouble sum = 0.0;
  for (gint c = 0; c < C; c++)
    sum += exp ((gdouble) z[c] - zmax);
  *argmax = arg;
  return zmax + log (sum) - (gdouble) z[label];
}

G_END_DECLS
