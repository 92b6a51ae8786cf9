/* Internal: the parameter layout, the per-shard forward/backward workspace,
 * and the small thread pool that runs shards.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <math.h>
#include "seqnn/model.h"
#include "cells.h"
#include "packed.h"

G_BEGIN_DECLS

#define SEQNN_MAX_LAYERS 16
#define SEQNN_MAX_THREADS 64

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

/* Sets OpenBLAS to one thread once per process: the engine threads by shards. */
void seqnn_blas_init (void);
/* n_threads 0 = number of cores; clamped to [1, SEQNN_MAX_THREADS]. */
gint seqnn_resolve_n_threads (gint n_threads);

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
  gboolean have_demb;
  gboolean dropped;       /* last forward used dropout */
  guint64 n_allocs;       /* growth events */
} SeqnnNet;

SeqnnNet *seqnn_net_new (const SeqnnLayout *layout);
void seqnn_net_free (SeqnnNet *net);
guint64 seqnn_net_get_n_allocs (const SeqnnNet *net);
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
/* Softmax cross-entropy on the last forward; labels in the caller's order.
 * dlogits = (p - onehot) * scale. Returns the summed loss (double). */
gdouble seqnn_net_loss (SeqnnNet *net, const gint *labels, gfloat scale, gint *n_correct);
/* Backward; accumulates (+=) the non-embedding gradients into dgrad, which is
 * indexed from layout->emb_numel (dgrad[0] is the first recurrent weight).
 * want_embedding: leave the embedding-row gradients in net->demb (N x E, rows
 * in packed order, ids in net->packer.row_ids). */
void seqnn_net_backward (SeqnnNet *net, const gfloat *params, gfloat *dgrad, gboolean want_embedding);

/* Results of the last forward, written to the caller's order. */
void seqnn_net_copy_probs (const SeqnnNet *net, gfloat *dst);   /* n x C */
void seqnn_net_copy_logits (const SeqnnNet *net, gfloat *dst);  /* n x C */
/* Into (L*D) x n_total x H arrays, at rows first .. first + n - 1. */
void seqnn_net_copy_final_states (const SeqnnNet *net, gfloat *h_dst, gfloat *c_dst,
    gint n_total, gint first);
/* Top-layer outputs of local sequence i: length x F. */
void seqnn_net_copy_outputs (const SeqnnNet *net, gint i, gfloat *dst);

/* ---- Thread pool ----------------------------------------------------------- */

typedef void (*SeqnnTaskFunc) (gpointer data, gint task);
typedef struct _SeqnnPool SeqnnPool;

/* n_threads total, the caller included; the other threads live as long as the pool. */
SeqnnPool *seqnn_pool_new (gint n_threads);
void seqnn_pool_free (SeqnnPool *pool);
/* Runs func(data, 0 .. n_tasks - 1), task 0 on the caller, task k on worker k;
 * n_tasks <= n_threads. Returns when all are done. */
void seqnn_pool_run (SeqnnPool *pool, gint n_tasks, SeqnnTaskFunc func, gpointer data);

/* Splits n sequences into n_shards contiguous ranges of about equal token
 * counts: shard s is [first[s], first[s+1]). */
void seqnn_split_shards (const gint *lengths, gint n, gint n_shards, gint *first);
/* How many shards a batch is worth (1 when small). */
gint seqnn_choose_n_shards (const SeqnnLayout *layout, gint n, gsize n_tokens, gint n_threads);

/* ---- Optimizer updates (optim.c) ------------------------------------------------ */

/* The scalars of one update (bias corrections etc.), computed once per step. */
typedef struct {
  SeqnnOptimizerKind kind;
  gfloat neg_step_size;  /* Adam: -lr / (1 - beta1^t); SGD: -lr */
  gfloat bc2_sqrt;       /* sqrt(1 - beta2^t) */
  gfloat b1, b2, a1, a2; /* beta1, beta2, 1 - beta1, 1 - beta2 */
  gfloat eps, weight_decay, momentum;
} SeqnnOptimStep;

/* step is this update's 1-based count (Adam's bias correction). */
void seqnn_optim_step_init (SeqnnOptimStep *s, const SeqnnOptimizerConfig *config, gfloat lr,
    guint64 step);
/* One update of n consecutive parameters. m: Adam's first moment or SGD's
 * momentum buffer; v: Adam's second moment (unused by SGD). */
void seqnn_optim_update (const SeqnnOptimStep *s, gfloat *params, const gfloat *grads,
    gfloat *m, gfloat *v, gsize n);

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
