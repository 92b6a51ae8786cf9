/* The network over one shard of a batch: embedding gather, recurrent layers
 * (through the cell kernels), dropout, head, fc, softmax cross-entropy, and
 * the backward pass through all of it; splitting a batch into shards.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "network.h"
#include "rng.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Dropout mask streams besides the layers' (1..L-1): the embedding output,
 * the head's features and a read position's features. */
#define DROPOUT_STREAM_EMBEDDING 0
#define DROPOUT_STREAM_HEAD 0x68656164ULL     /* "head" */
#define DROPOUT_STREAM_POSITION 0x706f7331ULL /* "pos1" */

/* The top layer's outputs (N x F, packed) of the last forward: the
 * embedding rows when there is no recurrent layer. */
static gfloat *
top_outputs (const SeqnnNet *net)
{
  const SeqnnLayout *lay = net->lay;
  if (lay->L == 0)
    return net->x0;
  return net->out + (gsize) (lay->L - 1) * net->packer.N * lay->F;
}

/* ---- Workspace ----------------------------------------------------------------- */

SeqnnNet *
seqnn_net_new (const SeqnnLayout *layout)
{
  SeqnnNet *net = g_new0 (SeqnnNet, 1);
  net->lay = layout;
  seqnn_packer_init (&net->packer);
  return net;
}

void
seqnn_net_free (SeqnnNet *net)
{
  if (net == NULL)
    return;
  seqnn_packer_clear (&net->packer);
  g_free (net->x0);
  g_free (net->out);
  g_free (net->drop_in);
  g_free (net->drop_mask);
  g_free (net->emb_mask);
  g_free (net->head_mask);
  g_free (net->pos_mask);
  g_free (net->h_n);
  g_free (net->c_n);
  g_free (net->cache);
  g_free (net->scratch);
  g_free (net->feat);
  g_free (net->argmax_row);
  g_free (net->logits);
  g_free (net->probs);
  g_free (net->dlogits);
  g_free (net->dfeat);
  g_free (net->dh_n);
  g_free (net->dy_a);
  g_free (net->dy_b);
  g_free (net->demb);
  g_free (net->h0);
  g_free (net->c0);
  g_free (net->pos_rows);
  g_free (net->pos_seqs);
  g_free (net->pos_steps);
  g_free (net->pos_labels);
  g_free (net->pos_feat);
  g_free (net->pos_logits);
  g_free (net->pos_probs);
  g_free (net->pos_dlogits);
  g_free (net->pos_dfeat);
  g_free (net);
}

guint64
seqnn_net_get_n_allocs (const SeqnnNet *net)
{
  return net->n_allocs + net->packer.n_allocs;
}

void
seqnn_net_set_dropout (SeqnnNet *net, gfloat embedding, gfloat head)
{
  if ((embedding > 0.0f && net->emb_mask == NULL) || (head > 0.0f && net->head_mask == NULL))
    net->cap_train = FALSE;   /* the next reserve allocates the masks */
  if (head > 0.0f && net->pos_mask == NULL)
    net->cap_P_train = FALSE;
  net->embedding_dropout = embedding;
  net->head_dropout = head;
}

/* Grows every buffer to hold N rows and B sequences; nothing happens when
 * they already fit, so a warmed-up workspace allocates nothing. About
 * (L + 1) x F floats per token for inference and four times that for
 * training: a record of millions of tokens asks for gigabytes, so the
 * sizes come from input and failure is an error, never an abort. */
static gboolean
net_reserve (SeqnnNet *net, gint N, gint B, gboolean training, GError **error)
{
  const SeqnnLayout *lay = net->lay;
  gboolean grow_rows = N > net->cap_N, grow_seqs = B > net->cap_B;
  gboolean grow_train = training && !net->cap_train;
  if (!grow_rows && !grow_seqs && !grow_train)
    return TRUE;
  gint cap_N = grow_rows ? seqnn_grow_capacity (net->cap_N, N) : net->cap_N;
  gint cap_B = grow_seqs ? seqnn_grow_capacity (net->cap_B, B) : net->cap_B;
  gboolean train = net->cap_train || training;
  const gsize F = lay->F, LD = (gsize) lay->L * lay->D, fl = sizeof (gfloat);
  const gsize max_in = MAX (lay->E, lay->F);
  SeqnnGrowth list[26];
  guint k = 0;
#define GROW(ptr, n_bytes) (list[k++] = (SeqnnGrowth) { (gpointer *) &(ptr), (n_bytes) })

  if (grow_rows) {
    GROW (net->x0, seqnn_size_mul3 (cap_N, lay->E, fl));
    GROW (net->out, seqnn_size_mul3 ((gsize) lay->L * cap_N, F, fl));
  }
  if (grow_seqs) {
    GROW (net->h_n, seqnn_size_mul3 (LD * cap_B, lay->H, fl));
    GROW (net->h0, seqnn_size_mul3 (LD * cap_B, lay->H, fl));
    if (lay->cell == SEQNN_CELL_LSTM) {
      GROW (net->c_n, seqnn_size_mul3 (LD * cap_B, lay->H, fl));
      GROW (net->c0, seqnn_size_mul3 (LD * cap_B, lay->H, fl));
    }
    GROW (net->feat, seqnn_size_mul3 (cap_B, F, fl));
    GROW (net->logits, seqnn_size_mul3 (cap_B, lay->C, fl));
    GROW (net->probs, seqnn_size_mul3 (cap_B, lay->C, fl));
    if (lay->head == SEQNN_HEAD_MAX)
      GROW (net->argmax_row, seqnn_size_mul3 (cap_B, F, sizeof (gint)));
  }
  /* Kernel scratch depends on both. */
  gsize scratch = 0;
  for (gint l = 0; l < lay->L; l++)
    scratch = MAX (scratch, seqnn_cell_scratch_size (lay->cell, cap_N, cap_B, lay->in_dim[l], lay->H));
  GROW (net->scratch, seqnn_size_mul3 (scratch, fl, 1));

  gsize cache_block = net->cache_block;
  if (train) {
    cache_block = seqnn_cell_cache_size (lay->cell, cap_N, cap_B, lay->H);
    GROW (net->cache, seqnn_size_mul3 (LD, cache_block, fl));
    if (grow_rows || grow_train) {
      if (lay->L > 1 && lay->dropout > 0.0f) {
        GROW (net->drop_in, seqnn_size_mul3 ((gsize) lay->L * cap_N, F, fl));
        GROW (net->drop_mask, seqnn_size_mul3 ((gsize) lay->L * cap_N, F, fl));
      }
      GROW (net->dy_a, seqnn_size_mul3 (cap_N, max_in, fl));
      GROW (net->dy_b, seqnn_size_mul3 (cap_N, max_in, fl));
      GROW (net->demb, seqnn_size_mul3 (cap_N, lay->E, fl));
      if (net->embedding_dropout > 0.0f)
        GROW (net->emb_mask, seqnn_size_mul3 (cap_N, lay->E, fl));
    }
    if (grow_seqs || grow_train) {
      GROW (net->dlogits, seqnn_size_mul3 (cap_B, lay->C, fl));
      GROW (net->dfeat, seqnn_size_mul3 (cap_B, F, fl));
      GROW (net->dh_n, seqnn_size_mul3 ((gsize) lay->D * cap_B, lay->H, fl));
      if (net->head_dropout > 0.0f)
        GROW (net->head_mask, seqnn_size_mul3 (cap_B, F, fl));
    }
  }
#undef GROW
  g_assert (k <= G_N_ELEMENTS (list));

  gsize total;
  if (!seqnn_grow_all (list, k, &total)) {
    /* Capacities stay as they were: every buffer still holds at least those. */
    gchar *detail = g_strdup_printf ("%s of %d tokens in %d sequence%s",
        train ? "a training batch" : "a batch", N, B, B == 1 ? "" : "s");
    seqnn_set_no_memory_error (error, total, "the network's workspace", detail,
        "lower max-tokens (the longest record) or batch-size");
    g_free (detail);
    return FALSE;
  }
  net->cache_block = cache_block;
  net->cap_N = cap_N;
  net->cap_B = cap_B;
  net->cap_train = train;
  net->n_allocs++;
  return TRUE;
}

gboolean
seqnn_net_reserve (SeqnnNet *net, gint n, gint N, gboolean training, GError **error)
{
  return seqnn_packer_reserve (&net->packer, n, N, error)
      && net_reserve (net, N, n, training, error);
}

static inline void
layer_weights (const SeqnnLayout *lay, const gfloat *params, gint k, SeqnnCellWeights *w)
{
  w->w_ih = params + lay->w_ih[k];
  w->w_hh = params + lay->w_hh[k];
  w->b_ih = params + lay->b_ih[k];
  w->b_hh = params + lay->b_hh[k];
}

/* One row's inverted dropout at rate p: mask (width) drawn from rng,
 * dst = x * mask (dst may be x). */
static inline void
mask_row (SeqnnRng *rng, const gfloat *x, gfloat *dst, gfloat *mask, gint width, gfloat p)
{
  const gfloat keep = 1.0f - p, scale = 1.0f / keep;
  for (gint j = 0; j < width; j++) {
    gfloat m = seqnn_rng_uniform (rng) < keep ? scale : 0.0f;
    mask[j] = m;
    dst[j] = x[j] * m;
  }
}

/* Inverted dropout at rate p on x (N x width, packed) into dst (may be x);
 * masks drawn per sequence and stream (a layer's number, or the embedding's)
 * so they follow the sequence, not its position in a shard. */
static void
apply_dropout (SeqnnNet *net, const gfloat *x, gfloat *dst, gfloat *mask, gint width, gfloat p,
    guint64 stream, guint64 seed, gint first_index)
{
  const SeqnnPacker *pk = &net->packer;
  for (gint b = 0; b < pk->n; b++) {
    SeqnnRng rng;
    seqnn_rng_init (&rng, seqnn_rng_hash (seed, (guint64) (first_index + pk->order[b]), stream));
    for (gint t = 0; t < pk->lengths[b]; t++) {
      gsize r = (gsize) (pk->step_offset[t] + b) * width;
      mask_row (&rng, x + r, dst + r, mask + r, width, p);
    }
  }
}

/* Inverted dropout at rate p on one row of width in place, its mask from
 * rng_seed. */
static void
drop_row (gfloat *x, gfloat *mask, gint width, gfloat p, guint64 rng_seed)
{
  SeqnnRng rng;
  seqnn_rng_init (&rng, rng_seed);
  mask_row (&rng, x, x, mask, width, p);
}

static void
multiply (gfloat *x, const gfloat *mask, gsize n)
{
  for (gsize i = 0; i < n; i++)
    x[i] *= mask[i];
}

/* probs (n x C) = softmax of each row of logits (n x C). */
static void
softmax_rows (const gfloat *logits, gfloat *probs, gint n, gint C)
{
  for (gint b = 0; b < n; b++) {
    const gfloat *z = logits + (gsize) b * C;
    gfloat *pr = probs + (gsize) b * C;
    gfloat zmax = z[0];
    for (gint c = 1; c < C; c++)
      zmax = MAX (zmax, z[c]);
    gfloat sum = 0.0f;
    for (gint c = 0; c < C; c++) {
      pr[c] = expf (z[c] - zmax);
      sum += pr[c];
    }
    gfloat inv = 1.0f / sum;
    for (gint c = 0; c < C; c++)
      pr[c] *= inv;
  }
}

/* Softmax cross-entropy of n logits rows against labels: dz = (p - onehot) * scale. */
static gdouble
loss_rows (const gfloat *logits, const gfloat *probs, gfloat *dlogits, const gint *labels,
    gint n, gint C, gfloat scale, gint *n_correct)
{
  gdouble loss = 0.0;
  gint correct = 0;
  for (gint b = 0; b < n; b++) {
    const gfloat *z = logits + (gsize) b * C;
    const gfloat *pr = probs + (gsize) b * C;
    gfloat *dz = dlogits + (gsize) b * C;
    gint label = labels[b];
    gint arg;
    loss += seqnn_cross_entropy_row (z, C, label, &arg);
    correct += arg == label;
    for (gint c = 0; c < C; c++)
      dz[c] = (pr[c] - (c == label ? 1.0f : 0.0f)) * scale;
  }
  if (n_correct)
    *n_correct = correct;
  return loss;
}

/* logits (n x C) = feat (n x F) fc_w^T + fc_b */
static void
fc_forward (const SeqnnLayout *lay, const gfloat *params, const gfloat *feat, gint n, gfloat *logits)
{
  const gint C = lay->C, F = lay->F;
  const gfloat *fc_w = params + lay->fc_w, *fc_b = params + lay->fc_b;
  for (gint b = 0; b < n; b++)
    memcpy (logits + (gsize) b * C, fc_b, sizeof (gfloat) * C);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, C, F,
      1.0f, feat, F, fc_w, F, 1.0f, logits, C);
}

/* fc backward over n rows: dW += dlogits^T feat, db += sum dlogits, dfeat = dlogits W. */
static void
fc_backward (const SeqnnLayout *lay, const gfloat *params, gfloat *dgrad, const gfloat *feat,
    const gfloat *dlogits, gint n, gfloat *dfeat)
{
  const gint C = lay->C, F = lay->F;
  const gsize base = lay->emb_numel;  /* dgrad[0] is params[base] */
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, C, F, n,
      1.0f, dlogits, C, feat, F, 1.0f, dgrad + (lay->fc_w - base), F);
  gfloat *db = dgrad + (lay->fc_b - base);
  for (gint b = 0; b < n; b++)
    for (gint c = 0; c < C; c++)
      db[c] += dlogits[(gsize) b * C + c];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, F, C,
      1.0f, dlogits, C, params + lay->fc_w, F, 0.0f, dfeat, F);
}

void
seqnn_net_forward (SeqnnNet *net, const gfloat *params, const gint32 *ids,
    const gint *lengths, gint n, gboolean training, gboolean use_dropout,
    guint64 dropout_seed, gint first_index)
{
  seqnn_net_forward_from (net, params, ids, lengths, n, NULL, NULL, training, use_dropout,
      dropout_seed, first_index);
}

/* The caller's states (n x LD x H) into the kernels' blocks (LD x n x H, sorted). */
static void
sort_states (const SeqnnNet *net, const gfloat *src, gfloat *dst)
{
  const SeqnnPacker *p = &net->packer;
  const gint H = net->lay->H, LD = net->lay->L * net->lay->D, B = p->n;
  for (gint k = 0; k < LD; k++)
    for (gint b = 0; b < B; b++)
      memcpy (dst + ((gsize) k * B + b) * H, src + ((gsize) p->order[b] * LD + k) * H,
          sizeof (gfloat) * H);
}

void
seqnn_net_forward_from (SeqnnNet *net, const gfloat *params, const gint32 *ids,
    const gint *lengths, gint n, const gfloat *h0, const gfloat *c0, gboolean training,
    gboolean use_dropout, guint64 dropout_seed, gint first_index)
{
  const SeqnnLayout *lay = net->lay;
  SeqnnPacker *p = &net->packer;
  seqnn_packer_build (p, ids, lengths, n);
  g_assert (p->N <= net->cap_N && n <= net->cap_B && (net->cap_train || !training));

  const gint N = p->N, B = n, H = lay->H, F = lay->F, D = lay->D;
  if (h0)
    sort_states (net, h0, net->h0);
  if (c0 && net->c0)
    sort_states (net, c0, net->c0);
  const gsize NF = (gsize) N * F;
  gboolean dropping = training && use_dropout && lay->dropout > 0.0f && lay->L > 1;
  net->dropped = dropping;
  net->forward_dropping = training && use_dropout;
  net->forward_seed = dropout_seed;
  net->forward_first = first_index;
  net->emb_dropped = net->forward_dropping && net->embedding_dropout > 0.0f;
  net->head_dropped = net->forward_dropping && net->head_dropout > 0.0f;

  seqnn_packer_gather (p, params + lay->emb, lay->E, net->x0);
  if (net->emb_dropped) /* stream 0: the layers' dropout uses 1.. */
    apply_dropout (net, net->x0, net->x0, net->emb_mask, lay->E, net->embedding_dropout,
        DROPOUT_STREAM_EMBEDDING, dropout_seed, first_index);

  const gfloat *x = net->x0;
  for (gint l = 0; l < lay->L; l++) {
    gfloat *y = net->out + l * NF;
    if (l > 0) {
      x = net->out + (l - 1) * NF;
      if (dropping) {
        apply_dropout (net, x, net->drop_in + l * NF, net->drop_mask + l * NF, F, lay->dropout,
            (guint64) l, dropout_seed, first_index);
        x = net->drop_in + l * NF;
      }
    }
    for (gint d = 0; d < D; d++) {
      gint k = l * D + d;
      SeqnnCellWeights w;
      layer_weights (lay, params, k, &w);
      seqnn_cell_forward_from (lay->cell, &p->view, d == 1, lay->in_dim[l], H, x, &w,
          h0 ? net->h0 + (gsize) k * B * H : NULL,
          c0 && net->c0 ? net->c0 + (gsize) k * B * H : NULL,
          y + d * H, F, net->h_n + (gsize) k * B * H,
          net->c_n ? net->c_n + (gsize) k * B * H : NULL,
          training ? net->cache + k * net->cache_block : NULL, net->scratch);
    }
  }

  /* Head: B x F features in sorted order. */
  const gint top = lay->L - 1;
  const gfloat *y = top_outputs (net);
  gfloat *feat = net->feat;
  switch (lay->head) {
    case SEQNN_HEAD_LAST:
      for (gint d = 0; d < D; d++) {
        const gfloat *hn = net->h_n + (gsize) (top * D + d) * B * H;
        for (gint b = 0; b < B; b++)
          memcpy (feat + (gsize) b * F + d * H, hn + (gsize) b * H, sizeof (gfloat) * H);
      }
      break;
    case SEQNN_HEAD_MEAN:
      memset (feat, 0, sizeof (gfloat) * B * F);
      for (gint t = 0; t < p->T; t++) {
        const gfloat *row = y + (gsize) p->step_offset[t] * F;
        gint bs = p->batch_sizes[t];
        for (gint b = 0; b < bs; b++)
          for (gint j = 0; j < F; j++)
            feat[(gsize) b * F + j] += row[(gsize) b * F + j];
      }
      for (gint b = 0; b < B; b++) {
        gfloat inv = 1.0f / (gfloat) p->lengths[b];
        for (gint j = 0; j < F; j++)
          feat[(gsize) b * F + j] *= inv;
      }
      break;
    case SEQNN_HEAD_MAX:
      memcpy (feat, y, sizeof (gfloat) * B * F);  /* step 0 holds every sequence */
      for (gsize i = 0; i < (gsize) B * F; i++)
        net->argmax_row[i] = (gint) (i / F);
      for (gint t = 1; t < p->T; t++) {
        gint off = p->step_offset[t], bs = p->batch_sizes[t];
        for (gint b = 0; b < bs; b++) {
          const gfloat *row = y + (gsize) (off + b) * F;
          for (gint j = 0; j < F; j++)
            if (row[j] > feat[(gsize) b * F + j]) {
              feat[(gsize) b * F + j] = row[j];
              net->argmax_row[(gsize) b * F + j] = off + b;
            }
        }
      }
      break;
  }

  if (net->head_dropped)
    for (gint b = 0; b < B; b++) /* sorted order: keyed by the caller's index */
      drop_row (feat + (gsize) b * F, net->head_mask + (gsize) b * F, F, net->head_dropout,
          seqnn_rng_hash (dropout_seed, (guint64) (first_index + p->order[b]),
              DROPOUT_STREAM_HEAD));
  const gint C = lay->C;
  fc_forward (lay, params, feat, B, net->logits);
  softmax_rows (net->logits, net->probs, B, C);
}

gdouble
seqnn_net_loss (SeqnnNet *net, const gint *labels, gfloat scale, gint *n_correct)
{
  const SeqnnPacker *p = &net->packer;
  const gint C = net->lay->C;
  gdouble loss = 0.0;
  gint correct = 0;
  for (gint b = 0; b < p->n; b++) {
    gint c1 = 0;
    loss += loss_rows (net->logits + (gsize) b * C, net->probs + (gsize) b * C,
        net->dlogits + (gsize) b * C, labels + p->order[b], 1, C, scale, &c1);
    correct += c1;
  }
  if (n_correct)
    *n_correct = correct;
  return loss;
}

/* Backward through the recurrent layers from dy (N x F, the top layer's
 * output gradient; dx_buf the other ping-pong buffer) and, when not NULL, the
 * top layer's final-state gradient dh_n_top (D blocks of B x H). */
static void
backward_layers (SeqnnNet *net, const gfloat *params, gfloat *dgrad, gboolean want_embedding,
    gfloat *dy, gfloat *dx_buf, const gfloat *dh_n_top)
{
  const SeqnnLayout *lay = net->lay;
  const SeqnnPacker *p = &net->packer;
  const gint N = p->N, B = p->n, H = lay->H, F = lay->F, D = lay->D;
  const gsize NF = (gsize) N * F;
  const gsize base = lay->emb_numel;
  const gint top = lay->L - 1;

  if (lay->L == 0) { /* dy is the embedding rows' gradient */
    if (want_embedding) {
      memcpy (net->demb, dy, sizeof (gfloat) * N * lay->E);
      if (net->emb_dropped)
        multiply (net->demb, net->emb_mask, (gsize) N * lay->E);
    }
    return;
  }
  for (gint l = top; l >= 0; l--) {
    const gint in_dim = lay->in_dim[l];
    const gfloat *x;
    gfloat *dx;
    if (l == 0) {
      x = net->x0;
      dx = want_embedding ? net->demb : NULL;
    } else {
      x = net->dropped ? net->drop_in + l * NF : net->out + (l - 1) * NF;
      dx = dx_buf;
    }
    if (dx)
      memset (dx, 0, sizeof (gfloat) * N * in_dim);
    for (gint d = 0; d < D; d++) {
      gint k = l * D + d;
      SeqnnCellWeights w;
      layer_weights (lay, params, k, &w);
      SeqnnCellGrads g = {
        dgrad + (lay->w_ih[k] - base), dgrad + (lay->w_hh[k] - base),
        dgrad + (lay->b_ih[k] - base), dgrad + (lay->b_hh[k] - base),
      };
      const gfloat *dh_n = (l == top && dh_n_top) ? dh_n_top + (gsize) d * B * H : NULL;
      seqnn_cell_backward (lay->cell, &p->view, d == 1, in_dim, H, x, &w, dy + d * H, F, dh_n, NULL,
          net->cache + k * net->cache_block, dx, &g, net->scratch);
    }
    if (l == 0 && dx != NULL && net->emb_dropped)
      multiply (dx, net->emb_mask, (gsize) N * lay->E);
    if (l > 0) {
      if (net->dropped)
        multiply (dx, net->drop_mask + l * NF, NF);
      gfloat *swap = dy;
      dy = dx;
      dx_buf = swap;
    }
  }
}

void
seqnn_net_backward (SeqnnNet *net, const gfloat *params, gfloat *dgrad, gboolean want_embedding)
{
  const SeqnnLayout *lay = net->lay;
  const SeqnnPacker *p = &net->packer;
  const gint N = p->N, B = p->n, H = lay->H, F = lay->F, D = lay->D;
  const gsize NF = (gsize) N * F;

  fc_backward (lay, params, dgrad, net->feat, net->dlogits, B, net->dfeat);
  if (net->head_dropped)
    multiply (net->dfeat, net->head_mask, (gsize) B * F);

  /* Head backward into dy (N x F) and, for LAST, dh_n. */
  gfloat *dy = net->dy_a, *dx_buf = net->dy_b;
  const gfloat *dfeat = net->dfeat;
  gboolean last = lay->head == SEQNN_HEAD_LAST;
  switch (lay->head) {
    case SEQNN_HEAD_LAST:
      memset (dy, 0, sizeof (gfloat) * NF);
      for (gint d = 0; d < D; d++)
        for (gint b = 0; b < B; b++)
          memcpy (net->dh_n + (gsize) (d * B + b) * H, dfeat + (gsize) b * F + d * H, sizeof (gfloat) * H);
      break;
    case SEQNN_HEAD_MEAN:
      for (gint t = 0; t < p->T; t++) {
        gfloat *row = dy + (gsize) p->step_offset[t] * F;
        for (gint b = 0; b < p->batch_sizes[t]; b++) {
          gfloat inv = 1.0f / (gfloat) p->lengths[b];
          for (gint j = 0; j < F; j++)
            row[(gsize) b * F + j] = dfeat[(gsize) b * F + j] * inv;
        }
      }
      break;
    case SEQNN_HEAD_MAX:
      memset (dy, 0, sizeof (gfloat) * NF);
      for (gint b = 0; b < B; b++)
        for (gint j = 0; j < F; j++)
          dy[(gsize) net->argmax_row[(gsize) b * F + j] * F + j] += dfeat[(gsize) b * F + j];
      break;
  }

  backward_layers (net, params, dgrad, want_embedding, dy, dx_buf, last ? net->dh_n : NULL);
}

void
seqnn_net_copy_probs (const SeqnnNet *net, gfloat *dst)
{
  const SeqnnPacker *p = &net->packer;
  const gint C = net->lay->C;
  for (gint b = 0; b < p->n; b++)
    memcpy (dst + (gsize) p->order[b] * C, net->probs + (gsize) b * C, sizeof (gfloat) * C);
}

void
seqnn_net_copy_logits (const SeqnnNet *net, gfloat *dst)
{
  const SeqnnPacker *p = &net->packer;
  const gint C = net->lay->C;
  for (gint b = 0; b < p->n; b++)
    memcpy (dst + (gsize) p->order[b] * C, net->logits + (gsize) b * C, sizeof (gfloat) * C);
}

void
seqnn_net_copy_final_states (const SeqnnNet *net, gfloat *h_dst, gfloat *c_dst,
    gint n_total, gint first)
{
  const SeqnnLayout *lay = net->lay;
  const SeqnnPacker *p = &net->packer;
  const gint H = lay->H, B = p->n;
  for (gint k = 0; k < lay->L * lay->D; k++)
    for (gint b = 0; b < B; b++) {
      gsize dst = ((gsize) k * n_total + first + p->order[b]) * H;
      gsize src = ((gsize) k * B + b) * H;
      memcpy (h_dst + dst, net->h_n + src, sizeof (gfloat) * H);
      if (c_dst && net->c_n)
        memcpy (c_dst + dst, net->c_n + src, sizeof (gfloat) * H);
    }
}

void
seqnn_net_copy_outputs (const SeqnnNet *net, gint i, gfloat *dst)
{
  const SeqnnLayout *lay = net->lay;
  seqnn_packer_copy_sequence (&net->packer, top_outputs (net), lay->F, lay->F, i, dst);
}

/* ---- The top layer read at chosen rows ------------------------------------------ */

gboolean
seqnn_net_reserve_positions (SeqnnNet *net, gint n_positions, gboolean training, GError **error)
{
  const SeqnnLayout *lay = net->lay;
  gboolean grow = n_positions > net->cap_P, grow_train = training && !net->cap_P_train;
  if (!grow && !grow_train)
    return TRUE;
  gint cap = grow ? seqnn_grow_capacity (net->cap_P, n_positions) : net->cap_P;
  gboolean train = training || net->cap_P_train;
  const gsize F = lay->F, C = lay->C, fl = sizeof (gfloat);
  SeqnnGrowth list[10];
  guint k = 0;
#define GROW(ptr, n_bytes) (list[k++] = (SeqnnGrowth) { (gpointer *) &(ptr), (n_bytes) })
  if (grow) {
    GROW (net->pos_rows, seqnn_size_mul3 (cap, sizeof (gint), 1));
    GROW (net->pos_seqs, seqnn_size_mul3 (cap, sizeof (gint), 1));
    GROW (net->pos_steps, seqnn_size_mul3 (cap, sizeof (gint), 1));
    GROW (net->pos_feat, seqnn_size_mul3 (cap, F, fl));
    GROW (net->pos_logits, seqnn_size_mul3 (cap, C, fl));
    GROW (net->pos_probs, seqnn_size_mul3 (cap, C, fl));
  }
  if (train) {
    GROW (net->pos_labels, seqnn_size_mul3 (cap, sizeof (gint), 1));
    GROW (net->pos_dlogits, seqnn_size_mul3 (cap, C, fl));
    GROW (net->pos_dfeat, seqnn_size_mul3 (cap, F, fl));
    if (net->head_dropout > 0.0f)
      GROW (net->pos_mask, seqnn_size_mul3 (cap, F, fl));
  }
#undef GROW
  gsize total;
  if (!seqnn_grow_all (list, k, &total)) {
    gchar *detail = g_strdup_printf ("%d read positions", n_positions);
    seqnn_set_no_memory_error (error, total, "the network's workspace", detail,
        "feed fewer cues at a time");
    g_free (detail);
    return FALSE;
  }
  net->cap_P = cap;
  net->cap_P_train = train;
  net->n_allocs++;
  return TRUE;
}

void
seqnn_net_forward_positions (SeqnnNet *net, const gfloat *params, const gint *seqs,
    const gint *steps, gint n_positions)
{
  const SeqnnLayout *lay = net->lay;
  const SeqnnPacker *p = &net->packer;
  const gint F = lay->F;
  const gfloat *y = top_outputs (net);
  g_assert (n_positions <= net->cap_P);
  for (gint i = 0; i < n_positions; i++) {
    g_assert (seqs[i] >= 0 && seqs[i] < p->n && steps[i] >= 0 && steps[i] < p->lengths[p->pos[seqs[i]]]);
    gint row = seqnn_packer_row (p, steps[i], p->pos[seqs[i]]);
    net->pos_rows[i] = row;
    memcpy (net->pos_feat + (gsize) i * F, y + (gsize) row * F, sizeof (gfloat) * F);
  }
  net->n_pos = n_positions;
  net->pos_dropped = net->forward_dropping && net->head_dropout > 0.0f && net->cap_P_train;
  if (n_positions == 0)
    return;
  if (net->pos_dropped)
    for (gint i = 0; i < n_positions; i++) /* keyed by the caller's sequence and step */
      drop_row (net->pos_feat + (gsize) i * F, net->pos_mask + (gsize) i * F, F, net->head_dropout,
          seqnn_rng_hash (seqnn_rng_hash (net->forward_seed,
              (guint64) (net->forward_first + seqs[i]), DROPOUT_STREAM_POSITION),
              (guint64) steps[i], 0));
  fc_forward (lay, params, net->pos_feat, n_positions, net->pos_logits);
  softmax_rows (net->pos_logits, net->pos_probs, n_positions, lay->C);
}

gdouble
seqnn_net_loss_positions (SeqnnNet *net, const gint *labels, gfloat scale, gint *n_correct)
{
  g_assert (net->cap_P_train);
  return loss_rows (net->pos_logits, net->pos_probs, net->pos_dlogits, labels, net->n_pos,
      net->lay->C, scale, n_correct);
}

void
seqnn_net_backward_positions (SeqnnNet *net, const gfloat *params, gfloat *dgrad,
    gboolean want_embedding)
{
  const SeqnnLayout *lay = net->lay;
  const gint F = lay->F, P = net->n_pos;
  const gsize NF = (gsize) net->packer.N * F;
  if (P > 0)
    fc_backward (lay, params, dgrad, net->pos_feat, net->pos_dlogits, P, net->pos_dfeat);
  if (P > 0 && net->pos_dropped)
    multiply (net->pos_dfeat, net->pos_mask, (gsize) P * F);
  gfloat *dy = net->dy_a;
  memset (dy, 0, sizeof (gfloat) * NF);
  for (gint i = 0; i < P; i++) {
    gfloat *row = dy + (gsize) net->pos_rows[i] * F;
    const gfloat *src = net->pos_dfeat + (gsize) i * F;
    for (gint j = 0; j < F; j++)
      row[j] += src[j];
  }
  backward_layers (net, params, dgrad, want_embedding, dy, net->dy_b, NULL);
}

void
seqnn_net_copy_states (const SeqnnNet *net, gfloat *h_dst, gfloat *c_dst)
{
  const SeqnnLayout *lay = net->lay;
  const SeqnnPacker *p = &net->packer;
  const gint H = lay->H, B = p->n, LD = lay->L * lay->D;
  for (gint k = 0; k < LD; k++)
    for (gint b = 0; b < B; b++) {
      gsize dst = ((gsize) p->order[b] * LD + k) * H;
      gsize src = ((gsize) k * B + b) * H;
      memcpy (h_dst + dst, net->h_n + src, sizeof (gfloat) * H);
      if (c_dst && net->c_n)
        memcpy (c_dst + dst, net->c_n + src, sizeof (gfloat) * H);
    }
}

/* ---- Shards ------------------------------------------------------------------ */

void
seqnn_split_shards (const gint *lengths, gint n, gint n_shards, gint *first)
{
  gint64 total = 0;
  for (gint i = 0; i < n; i++)
    total += lengths[i];
  first[0] = 0;
  gint i = 0;
  gint64 acc = 0;
  for (gint s = 1; s < n_shards; s++) {
    gint64 target = total * s / n_shards;
    /* at least one sequence per shard, and leave one for each shard after */
    while (i < n - (n_shards - s) && (i < s || acc + lengths[i] / 2 < target))
      acc += lengths[i++];
    first[s] = i;
  }
  first[n_shards] = n;
}

gint
seqnn_choose_n_shards (const SeqnnLayout *lay, gint n, gsize n_tokens, gint n_threads)
{
  if (n_threads <= 1 || n <= 1)
    return 1;
  /* Forward multiply-add flops per token over all layers and directions,
   * plus the embedding row's own work (gather, dropout, the head's pooling
   * and the gradient's scatter), which is all a bag of embeddings does:
   * memory-bound, so counted as 16 flops an element. */
  gdouble per_token = 16.0 * lay->E;
  for (gint l = 0; l < lay->L; l++)
    per_token += 2.0 * lay->G * lay->H * (lay->in_dim[l] + lay->H) * lay->D;
  /* A shard must carry enough work to pay for handing it to a thread (some
   * microseconds of wake-up and a cold cache): about 2 MFLOP, i.e. ~100 us. */
  const gdouble min_shard_flops = 2e6;
  gint by_work = (gint) MIN ((gdouble) n_threads, per_token * n_tokens / min_shard_flops);
  return CLAMP (MIN (by_work, n), 1, n_threads);
}
