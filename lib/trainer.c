/* Training steps: forward and backward over shards of a batch on a
 * kept-alive thread pool, a fixed-order reduction (bit-identical results for
 * the same seed, data and thread count), clipping and the optimizer update.
 * The embedding gradient of a step lives in a compact slot per row the batch
 * used, so a step costs the same for any vocabulary; the dense view of
 * seqnn_trainer_get_gradients is written only when asked for.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/model.h"
#include "network.h"
#include "optim.h"
#include "pool.h"
#include "rng.h"
#include "streamtrain.h"

#include <math.h>
#include <string.h>

struct _SeqnnTrainer {
  SeqnnModel *model;
  const SeqnnLayout *lay;
  SeqnnOptimizerConfig opt;
  gfloat lr;
  guint64 seed;
  gboolean training;
  gfloat embedding_dropout, head_dropout; /* seqnn_trainer_set_dropout */
  guint64 step;            /* completed updates */
  gint n_threads;
  SeqnnPool *pool;
  SeqnnNet *nets[SEQNN_MAX_THREADS];
  gfloat *shard_grad[SEQNN_MAX_THREADS]; /* dense parts of shards 1..; shard 0 uses grad */

  gfloat *grad;            /* total floats, the parameters' layout; embedding rows
                            * only filled by get_gradients (export) */
  gfloat *m, *v;           /* optimizer state, same layout (v: Adam only) */
  gint32 *row_slot;        /* V: slot of a row in grad_rows this step, or -1 */
  gint32 *touched;         /* slot -> row, in first-touch order */
  gsize n_touched;
  gfloat *grad_rows;       /* n_touched x E: this step's embedding-row gradients */
  gsize cap_slots;
  gfloat *zero_row;        /* E zeros: the gradient of rows a batch did not use */
  gint32 *exported;        /* rows written into grad's embedding part by the last export */
  gsize n_exported;
  gboolean have_grads;

  /* Lazy row-sparse embedding updates (optim.h's SEQNN_LAZY_*). */
  gboolean lazy;           /* sparse mode with momentum: rows catch up skipped steps */
  gboolean sparse_as_dense;/* sparse mode whose catch-up series does not converge: run dense */
  SeqnnLazyRows rows;      /* lazy: each row's step and the catch-up sums */

  /* the batch being run */
  const SeqnnBatch *batch;
  gint n_shards;
  gint first[SEQNN_MAX_THREADS + 1];
  gint id_offset[SEQNN_MAX_THREADS];
  gfloat scale;
  guint64 dropout_seed;
  gdouble shard_loss[SEQNN_MAX_THREADS];
  gint shard_correct[SEQNN_MAX_THREADS];

  /* a window of parallel streams being run (seqnn_trainer_compute_window_gradients) */
  const gint *win_targets; /* n x length: a cue's label at its last token, else -1 */
  gfloat *win_h, *win_c;   /* n x L x H carried states, updated in place */
  gint win_length;
  gint *win_lengths;       /* cap_win entries of win_length */
  gint cap_win;
  gint shard_targets[SEQNN_MAX_THREADS];
};

static gboolean
optimizer_config_validate (const SeqnnOptimizerConfig *c, GError **error)
{
  const gchar *what = NULL;
  if ((guint) c->kind > SEQNN_OPTIMIZER_SGD)
    what = "kind: unknown optimizer";
  else if (!(c->learning_rate >= 0.0f && isfinite (c->learning_rate)))
    what = "learning_rate must be finite and >= 0";
  else if (c->kind == SEQNN_OPTIMIZER_ADAM && !(c->beta1 >= 0.0f && c->beta1 < 1.0f))
    what = "beta1 must be in [0, 1)";
  else if (c->kind == SEQNN_OPTIMIZER_ADAM && !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
    what = "beta2 must be in [0, 1)";
  else if (c->kind == SEQNN_OPTIMIZER_ADAM && !(c->eps >= 0.0f && isfinite (c->eps)))
    what = "eps must be finite and >= 0";
  else if (!(c->momentum >= 0.0f && isfinite (c->momentum)))
    what = "momentum must be finite and >= 0";
  else if (!(c->weight_decay >= 0.0f && isfinite (c->weight_decay)))
    what = "weight_decay must be finite and >= 0";
  else if (!(c->clip_norm >= 0.0f && isfinite (c->clip_norm)))
    what = "clip_norm must be finite and >= 0 (0 = off)";
  if (what) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "invalid optimizer config: %s", what);
    return FALSE;
  }
  return TRUE;
}

/* Lazy row-sparse embedding updates: the algebra is in optim.c
 * (seqnn_lazy_*); the trainer decides when a row catches up. */
static gboolean
lazy_init (SeqnnTrainer *tr)
{
  switch (seqnn_lazy_mode (&tr->opt)) {
    case SEQNN_LAZY_NONE:
      return TRUE;
    case SEQNN_LAZY_AS_DENSE:
      tr->sparse_as_dense = TRUE;
      return TRUE;
    case SEQNN_LAZY_ROWS:
      tr->lazy = TRUE;
      return seqnn_lazy_init (&tr->rows, &tr->opt, tr->lay->V);
  }
  return TRUE;
}

/* Brings one row from its step up to the current step. */
static void
lazy_catch_up_row (SeqnnTrainer *tr, gfloat *params, gint32 row)
{
  seqnn_lazy_catch_up_row (&tr->rows, tr->step, row, tr->lay->E, params, tr->m, tr->v);
}

/* The rows a batch is about to read, brought up to date before the forward
 * pass. Called after clear_embedding_grad: row_slot is all -1 and touched is
 * free, so they serve as the seen-marks and the list of distinct stale rows,
 * which are then fetched a few rows ahead (they are scattered over three
 * big tables). */
static void
lazy_catch_up_batch (SeqnnTrainer *tr, const SeqnnBatch *batch)
{
  gfloat *params = seqnn_model_get_params (tr->model, NULL);
  const gint pad = tr->lay->padding_idx;
  const guint64 T = tr->step;
  gsize n_tokens = 0;
  for (gint i = 0; i < batch->n; i++)
    n_tokens += batch->lengths[i];
  gint32 *stale = tr->touched;
  gsize n_stale = 0;
  for (gsize i = 0; i < n_tokens; i++) {
    gint32 row = batch->ids[i];
    if (row != pad && tr->rows.row_step[row] != T && tr->row_slot[row] < 0) {
      tr->row_slot[row] = 0;
      stale[n_stale++] = row;
    }
  }
  const gsize ahead = 6, E = (gsize) tr->lay->E;
  for (gsize i = 0; i < n_stale; i++) {
    if (i + ahead < n_stale) {
      gsize o = (gsize) stale[i + ahead] * E;
      for (gsize k = 0; k < E; k += 16) {
        __builtin_prefetch (params + o + k, 1);
        __builtin_prefetch (tr->m + o + k, 1);
        if (tr->v)
          __builtin_prefetch (tr->v + o + k, 1);
      }
    }
    tr->row_slot[stale[i]] = -1;
    lazy_catch_up_row (tr, params, stale[i]);
  }
}

void
seqnn_trainer_sync (SeqnnTrainer *tr)
{
  g_return_if_fail (tr != NULL);
  if (!tr->lazy)
    return;
  gfloat *params = seqnn_model_get_params (tr->model, NULL);
  for (gint row = 0; row < tr->lay->V; row++)
    if (row != tr->lay->padding_idx)
      lazy_catch_up_row (tr, params, row);
  seqnn_lazy_forget_settled (&tr->rows, tr->step);
}

SeqnnTrainer *
seqnn_trainer_new (SeqnnModel *model, const SeqnnOptimizerConfig *config,
    gint n_threads, guint64 seed, GError **error)
{
  if (model == NULL || config == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        model == NULL ? "model is NULL" : "optimizer config is NULL");
    return NULL;
  }
  if (!optimizer_config_validate (config, error))
    return NULL;
  seqnn_blas_init ();
  const SeqnnLayout *lay = seqnn_model_get_layout (model);
  SeqnnTrainer *tr = g_new0 (SeqnnTrainer, 1);
  tr->model = model;
  tr->lay = lay;
  tr->opt = *config;
  tr->lr = config->learning_rate;
  tr->seed = seed;
  tr->training = TRUE;
  tr->grad = seqnn_table_alloc0 (sizeof (gfloat) * lay->total);
  tr->m = seqnn_table_alloc0 (sizeof (gfloat) * lay->total);
  if (config->kind == SEQNN_OPTIMIZER_ADAM)
    tr->v = seqnn_table_alloc0 (sizeof (gfloat) * lay->total);
  tr->row_slot = g_try_new (gint32, lay->V);
  tr->touched = g_try_new (gint32, lay->V);
  tr->exported = g_try_new (gint32, lay->V);
  tr->zero_row = g_new0 (gfloat, lay->E);
  if (!tr->grad || !tr->m || (config->kind == SEQNN_OPTIMIZER_ADAM && !tr->v)
      || !tr->row_slot || !tr->touched || !tr->exported) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "cannot allocate training state for %" G_GSIZE_FORMAT " parameters", lay->total);
    seqnn_trainer_free (tr);
    return NULL;
  }
  for (gint r = 0; r < lay->V; r++)
    tr->row_slot[r] = -1;
  if (!lazy_init (tr)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "cannot allocate the lazy embedding state for %d rows", lay->V);
    seqnn_trainer_free (tr);
    return NULL;
  }
  seqnn_trainer_set_n_threads (tr, n_threads);
  return tr;
}

void
seqnn_trainer_free (SeqnnTrainer *tr)
{
  if (tr == NULL)
    return;
  /* The model outlives the trainer: never leave it with pending row updates. */
  if (tr->lazy && tr->rows.row_step != NULL)
    seqnn_trainer_sync (tr);
  seqnn_pool_free (tr->pool);
  for (gint s = 0; s < SEQNN_MAX_THREADS; s++) {
    seqnn_net_free (tr->nets[s]);
    g_free (tr->shard_grad[s]);
  }
  seqnn_table_free (tr->grad);
  seqnn_table_free (tr->m);
  seqnn_table_free (tr->v);
  g_free (tr->row_slot);
  g_free (tr->touched);
  g_free (tr->exported);
  g_free (tr->zero_row);
  g_free (tr->grad_rows);
  g_free (tr->win_lengths);
  seqnn_lazy_clear (&tr->rows);
  g_free (tr);
}

void
seqnn_trainer_set_training (SeqnnTrainer *tr, gboolean training)
{
  g_return_if_fail (tr != NULL);
  tr->training = training;
}

void
seqnn_trainer_set_dropout (SeqnnTrainer *tr, gfloat embedding, gfloat head)
{
  g_return_if_fail (tr != NULL);
  g_return_if_fail (embedding >= 0.0f && embedding < 1.0f && head >= 0.0f && head < 1.0f);
  tr->embedding_dropout = embedding;
  tr->head_dropout = head;
  for (gint s = 0; s < SEQNN_MAX_THREADS; s++)
    if (tr->nets[s] != NULL)
      seqnn_net_set_dropout (tr->nets[s], embedding, head);
}

void
seqnn_trainer_set_learning_rate (SeqnnTrainer *tr, gfloat lr)
{
  g_return_if_fail (tr != NULL);
  g_return_if_fail (lr >= 0.0f && isfinite (lr)); /* NaN would poison every parameter */
  tr->lr = lr;
}

void
seqnn_trainer_set_n_threads (SeqnnTrainer *tr, gint n_threads)
{
  g_return_if_fail (tr != NULL);
  n_threads = seqnn_resolve_n_threads (n_threads);
  if (n_threads == tr->n_threads)
    return;
  tr->n_threads = n_threads;
  seqnn_pool_free (tr->pool);
  tr->pool = n_threads > 1 ? seqnn_pool_new (n_threads) : NULL;
}

guint64
seqnn_trainer_get_step (const SeqnnTrainer *tr)
{
  g_return_val_if_fail (tr != NULL, 0);
  return tr->step;
}

const gfloat *
seqnn_trainer_get_gradients (SeqnnTrainer *tr, gsize *n)
{
  g_return_val_if_fail (tr != NULL, NULL);
  const SeqnnLayout *lay = tr->lay;
  if (n)
    *n = lay->total;
  /* Export the compact embedding rows into the dense view. */
  const gint E = lay->E;
  for (gsize i = 0; i < tr->n_exported; i++)
    memset (tr->grad + (gsize) tr->exported[i] * E, 0, sizeof (gfloat) * E);
  for (gsize i = 0; i < tr->n_touched; i++) {
    memcpy (tr->grad + (gsize) tr->touched[i] * E, tr->grad_rows + i * E, sizeof (gfloat) * E);
    tr->exported[i] = tr->touched[i];
  }
  tr->n_exported = tr->n_touched;
  return tr->grad;
}

/* Forgets the last batch's rows. */
static void
clear_embedding_grad (SeqnnTrainer *tr)
{
  for (gsize i = 0; i < tr->n_touched; i++)
    tr->row_slot[tr->touched[i]] = -1;
  tr->n_touched = 0;
}

/* A shard of a stream window: streams first .. first + n - 1 from their
 * carried states, the loss at every cue end, the states carried on. */
static void
window_shard (SeqnnTrainer *tr, gint s, const gfloat *params, gfloat *dgrad)
{
  const SeqnnLayout *lay = tr->lay;
  SeqnnNet *net = tr->nets[s];
  const gint first = tr->first[s], n = tr->first[s + 1] - first, W = tr->win_length;
  const gsize LH = (gsize) lay->L * lay->D * lay->H;
  const gint *targets = tr->win_targets + (gsize) first * W;
  gint P = 0;
  for (gint b = 0; b < n; b++)
    for (gint t = 0; t < W; t++) {
      gint label = targets[(gsize) b * W + t];
      if (label >= 0) {
        net->pos_seqs[P] = b;
        net->pos_steps[P] = t;
        net->pos_labels[P++] = label;
      }
    }
  gfloat *h = tr->win_h + (gsize) first * LH, *c = tr->win_c ? tr->win_c + (gsize) first * LH : NULL;
  seqnn_net_forward_from (net, params, tr->batch->ids + tr->id_offset[s], tr->batch->lengths + first,
      n, h, c, TRUE, tr->training, tr->dropout_seed, first);
  seqnn_net_forward_positions (net, params, net->pos_seqs, net->pos_steps, P);
  tr->shard_correct[s] = 0;
  tr->shard_loss[s] = seqnn_net_loss_positions (net, net->pos_labels, tr->scale, &tr->shard_correct[s]);
  tr->shard_targets[s] = P;
  seqnn_net_backward_positions (net, params, dgrad, !tr->opt.freeze_embedding);
  seqnn_net_copy_states (net, h, c);
}

static void
shard_task (gpointer data, gint s)
{
  SeqnnTrainer *tr = data;
  const SeqnnLayout *lay = tr->lay;
  const SeqnnBatch *batch = tr->batch;
  SeqnnNet *net = tr->nets[s];
  gint first = tr->first[s], n = tr->first[s + 1] - first;
  const gfloat *params = seqnn_model_peek_params (tr->model, NULL);
  gfloat *dgrad = s == 0 ? tr->grad + lay->emb_numel : tr->shard_grad[s];
  if (s > 0)
    memset (dgrad, 0, sizeof (gfloat) * lay->dense_numel);
  if (tr->win_targets != NULL) {
    window_shard (tr, s, params, dgrad);
    return;
  }
  seqnn_net_forward (net, params, batch->ids + tr->id_offset[s], batch->lengths + first, n,
      TRUE, tr->training, tr->dropout_seed, first);
  tr->shard_loss[s] = seqnn_net_loss (net, batch->labels + first, tr->scale, &tr->shard_correct[s]);
  seqnn_net_backward (net, params, dgrad, !tr->opt.freeze_embedding);
}

/* Room for n_tokens embedding-row gradients in grad_rows (a batch uses at
 * most that many distinct rows): input-sized, so failure is an error. */
static gboolean
reserve_row_slots (SeqnnTrainer *tr, gsize n_tokens, GError **error)
{
  if (n_tokens <= tr->cap_slots)
    return TRUE;
  gsize cap = MAX (n_tokens, tr->cap_slots + tr->cap_slots / 2);
  SeqnnGrowth growth = { (gpointer *) &tr->grad_rows, seqnn_size_mul3 (cap, tr->lay->E, sizeof (gfloat)) };
  gsize total;
  if (!seqnn_grow_all (&growth, 1, &total)) {
    gchar *detail = g_strdup_printf ("%" G_GSIZE_FORMAT " tokens", n_tokens);
    seqnn_set_no_memory_error (error, total, "a training batch's embedding gradients", detail,
        "lower max-tokens or batch-size");
    g_free (detail);
    return FALSE;
  }
  tr->cap_slots = cap;
  return TRUE;
}

/* Adds a shard's embedding-row gradients into the row slots, in packed row
 * order; the slots were reserved for the whole batch. */
static void
scatter_embedding_grad (SeqnnTrainer *tr, const SeqnnNet *net)
{
  const gint E = tr->lay->E, pad = tr->lay->padding_idx;
  const SeqnnPacker *p = &net->packer;
  g_assert (tr->n_touched + p->N <= tr->cap_slots);
  for (gint r = 0; r < p->N; r++) {
    gint32 row = p->row_ids[r];
    if (row == pad)
      continue;
    const gfloat *src = net->demb + (gsize) r * E;
    gint32 slot = tr->row_slot[row];
    if (slot < 0) {
      slot = (gint32) tr->n_touched++;
      tr->row_slot[row] = slot;
      tr->touched[slot] = row;
      memcpy (tr->grad_rows + (gsize) slot * E, src, sizeof (gfloat) * E);
    } else {
      gfloat *dst = tr->grad_rows + (gsize) slot * E;
      for (gint j = 0; j < E; j++)
        dst[j] += src[j];
    }
  }
}

/* The work of a step over a validated batch (ids, lengths; labels for an
 * ordinary step, tr->win_* set for a stream window, whose n_targets losses
 * are averaged). */
static gboolean
run_step (SeqnnTrainer *tr, const SeqnnBatch *batch, gint n_targets, SeqnnStepResult *result,
    GError **error)
{
  const SeqnnLayout *lay = tr->lay;
  tr->have_grads = FALSE;
  const gint n = batch->n;

  clear_embedding_grad (tr);
  memset (tr->grad + lay->emb_numel, 0, sizeof (gfloat) * lay->dense_numel);
  /* The forward pass must read rows as dense Adam would have left them. */
  if (tr->lazy)
    lazy_catch_up_batch (tr, batch);

  gsize n_tokens = 0;
  for (gint i = 0; i < n; i++)
    n_tokens += batch->lengths[i];
  gint n_shards = tr->pool ? seqnn_choose_n_shards (lay, n, n_tokens, tr->n_threads) : 1;
  if (n_shards == 1) {
    tr->first[0] = 0;
    tr->first[1] = n;
  } else {
    seqnn_split_shards (batch->lengths, n, n_shards, tr->first);
  }
  if (!tr->opt.freeze_embedding && !reserve_row_slots (tr, n_tokens, error))
    return FALSE;
  gint offset = 0;
  for (gint s = 0; s < n_shards; s++) {
    tr->id_offset[s] = offset;
    for (gint i = tr->first[s]; i < tr->first[s + 1]; i++)
      offset += batch->lengths[i];
    if (tr->nets[s] == NULL) {
      tr->nets[s] = seqnn_net_new (lay);
      seqnn_net_set_dropout (tr->nets[s], tr->embedding_dropout, tr->head_dropout);
    }
    /* Allocations here, on the caller's thread, where an error can be returned. */
    if (!seqnn_net_reserve (tr->nets[s], tr->first[s + 1] - tr->first[s],
            offset - tr->id_offset[s], TRUE, error))
      return FALSE;
    if (tr->win_targets != NULL && !seqnn_net_reserve_positions (tr->nets[s],
            offset - tr->id_offset[s], TRUE, error))
      return FALSE;
    if (s > 0 && tr->shard_grad[s] == NULL)
      tr->shard_grad[s] = g_try_new (gfloat, lay->dense_numel);
    if (s > 0 && tr->shard_grad[s] == NULL) {
      seqnn_set_no_memory_error (error, sizeof (gfloat) * lay->dense_numel,
          "a shard's gradients", "one per training thread", "lower n-threads");
      return FALSE;
    }
  }
  tr->n_shards = n_shards;
  tr->batch = batch;
  tr->scale = 1.0f / (gfloat) MAX (n_targets, 1);
  tr->dropout_seed = seqnn_rng_hash (tr->seed, tr->step, 0xd0d0);
  if (n_shards == 1)
    shard_task (tr, 0);
  else
    seqnn_pool_run (tr->pool, n_shards, shard_task, tr);
  tr->batch = NULL;

  /* Fixed-order reduction: shard 0, then 1, ... */
  gdouble loss = 0.0;
  gint correct = 0;
  gfloat *dense = tr->grad + lay->emb_numel;
  for (gint s = 0; s < n_shards; s++) {
    loss += tr->shard_loss[s];
    correct += tr->shard_correct[s];
    if (s > 0) {
      const gfloat *src = tr->shard_grad[s];
      for (gsize i = 0; i < lay->dense_numel; i++)
        dense[i] += src[i];
    }
    if (!tr->opt.freeze_embedding)
      scatter_embedding_grad (tr, tr->nets[s]);
  }
  loss /= MAX (n_targets, 1);
  if (result) {
    result->loss = loss;
    result->n_correct = correct;
    result->n = n_targets;
  }
  if (!isfinite (loss)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
        "step %" G_GUINT64_FORMAT ": the loss is not finite (%g)", tr->step + 1, loss);
    return FALSE;
  }
  tr->have_grads = TRUE;
  return TRUE;
}

gboolean
seqnn_trainer_compute_gradients (SeqnnTrainer *tr, const SeqnnBatch *batch,
    SeqnnStepResult *result, GError **error)
{
  if (tr == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "trainer is NULL");
    return FALSE;
  }
  if (!seqnn_batch_validate (batch, seqnn_model_get_config (tr->model), error))
    return FALSE;
  if (batch->labels == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a training batch needs labels");
    return FALSE;
  }
  tr->win_targets = NULL;
  return run_step (tr, batch, batch->n, result, error);
}

gboolean
seqnn_trainer_compute_window_gradients (SeqnnTrainer *tr, const gint32 *ids, gint n_streams,
    gint length, const gint *targets, gfloat *h, gfloat *c, SeqnnStepResult *result,
    GError **error)
{
  if (tr == NULL || ids == NULL || targets == NULL || h == NULL
      || (c == NULL && tr->lay->cell == SEQNN_CELL_LSTM) || n_streams < 1 || length < 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a stream window needs a trainer, ids, targets, states (c for LSTM) and at least one "
        "stream (%d) and one step (%d)", n_streams, length);
    return FALSE;
  }
  if (tr->lay->D != 1) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "stream training needs a unidirectional model");
    return FALSE;
  }
  if ((gint64) n_streams * length > G_MAXINT32 / 2) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a window of %d streams of %d steps is too large", n_streams, length);
    return FALSE;
  }
  const gint C = tr->lay->C;
  gint n_targets = 0;
  for (gsize i = 0; i < (gsize) n_streams * length; i++) {
    if (targets[i] < -1 || targets[i] >= C) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "target %" G_GSIZE_FORMAT " of the window is %d, not -1 or a class in [0, %d)",
          i, targets[i], C);
      return FALSE;
    }
    n_targets += targets[i] >= 0;
  }
  if (n_streams > tr->cap_win) {
    gint cap = seqnn_grow_capacity (tr->cap_win, n_streams);
    SeqnnGrowth growth = { (gpointer *) &tr->win_lengths, seqnn_size_mul3 (cap, sizeof (gint), 1) };
    gsize total;
    if (!seqnn_grow_all (&growth, 1, &total)) {
      seqnn_set_no_memory_error (error, total, "a stream window's lengths", "", "lower batch-size");
      return FALSE;
    }
    tr->cap_win = cap;
  }
  for (gint i = 0; i < n_streams; i++)
    tr->win_lengths[i] = length;
  SeqnnBatch batch = { ids, tr->win_lengths, n_streams, NULL };
  if (!seqnn_batch_validate (&batch, seqnn_model_get_config (tr->model), error))
    return FALSE;
  tr->win_targets = targets;
  tr->win_h = h;
  tr->win_c = tr->lay->cell == SEQNN_CELL_LSTM ? c : NULL;
  tr->win_length = length;
  gboolean ok = run_step (tr, &batch, n_targets, result, error);
  tr->win_targets = NULL;
  tr->win_h = tr->win_c = NULL;
  return ok;
}

/* Sum of squares in double, eight independent partial sums (no serial add chain). */
static gdouble
sum_squares (const gfloat *x, gsize n)
{
  gdouble acc[8] = { 0 };
  gsize i = 0;
  for (; i + 8 <= n; i += 8)
    for (gint k = 0; k < 8; k++)
      acc[k] += (gdouble) x[i + k] * x[i + k];
  for (; i < n; i++)
    acc[0] += (gdouble) x[i] * x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* Squared L2 norm of the gradient (touched embedding rows + dense part). */
static gdouble
grad_norm_sq (const SeqnnTrainer *tr)
{
  const SeqnnLayout *lay = tr->lay;
  return sum_squares (tr->grad_rows, tr->n_touched * lay->E)
      + sum_squares (tr->grad + lay->emb_numel, lay->dense_numel);
}

static void
scale_grads (SeqnnTrainer *tr, gfloat coef)
{
  const SeqnnLayout *lay = tr->lay;
  for (gsize i = 0; i < tr->n_touched * lay->E; i++)
    tr->grad_rows[i] *= coef;
  gfloat *g = tr->grad + lay->emb_numel;
  for (gsize i = 0; i < lay->dense_numel; i++)
    g[i] *= coef;
}

gboolean
seqnn_trainer_apply_gradients (SeqnnTrainer *tr, GError **error)
{
  if (tr == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "trainer is NULL");
    return FALSE;
  }
  if (!tr->have_grads) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "no gradients to apply: call seqnn_trainer_compute_gradients first");
    return FALSE;
  }
  const SeqnnLayout *lay = tr->lay;
  gdouble norm = sqrt (grad_norm_sq (tr));
  if (!isfinite (norm)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
        "step %" G_GUINT64_FORMAT ": the gradient is not finite", tr->step + 1);
    return FALSE;
  }
  /* torch's clip_grad_norm_ */
  if (tr->opt.clip_norm > 0.0f) {
    gfloat coef = (gfloat) (tr->opt.clip_norm / (norm + 1e-6));
    if (coef < 1.0f)
      scale_grads (tr, coef);
  }

  tr->have_grads = FALSE;
  tr->step++;
  gfloat *params = seqnn_model_get_params (tr->model, NULL);
  const SeqnnOptimizerConfig *opt = &tr->opt;
  SeqnnOptimStep os;
  seqnn_optim_step_init (&os, opt, tr->lr, tr->step);
  gfloat *v = tr->v;
  gsize b = lay->emb_numel;
  seqnn_optim_update (&os, params + b, tr->grad + b, tr->m + b, v ? v + b : NULL, lay->dense_numel);

  if (tr->lazy)
    seqnn_lazy_advance (&tr->rows, tr->step, tr->lr);
  if (opt->freeze_embedding)
    return TRUE;
  const gint E = lay->E;
  if (opt->dense_embedding || tr->sparse_as_dense) {
    /* torch.optim.Adam on the whole table: every row's moments move each step. */
    const gfloat *zero_row = tr->zero_row;
    for (gint row = 0; row < lay->V; row++) {
      if (row == lay->padding_idx)
        continue;
      gsize o = (gsize) row * E;
      gint32 slot = tr->row_slot[row];
      const gfloat *g = slot >= 0 ? tr->grad_rows + (gsize) slot * E : zero_row;
      seqnn_optim_update (&os, params + o, g, tr->m + o, v ? v + o : NULL, E);
    }
  } else {
    /* Rows are scattered over three big tables: fetch a few rows ahead. */
    const gsize ahead = 4;
    for (gsize i = 0; i < tr->n_touched; i++) {
      if (i + ahead < tr->n_touched) {
        gsize next = (gsize) tr->touched[i + ahead] * E;
        for (gsize k = 0; k < (gsize) E; k += 16) {
          __builtin_prefetch (params + next + k, 1);
          __builtin_prefetch (tr->m + next + k, 1);
          if (v)
            __builtin_prefetch (v + next + k, 1);
        }
      }
      gsize o = (gsize) tr->touched[i] * E;
      seqnn_optim_update (&os, params + o, tr->grad_rows + i * E, tr->m + o, v ? v + o : NULL, E);
      if (tr->lazy)
        tr->rows.row_step[tr->touched[i]] = tr->step;
    }
  }
  return TRUE;
}

gboolean
seqnn_trainer_step (SeqnnTrainer *tr, const SeqnnBatch *batch,
    SeqnnStepResult *result, GError **error)
{
  return seqnn_trainer_compute_gradients (tr, batch, result, error)
      && seqnn_trainer_apply_gradients (tr, error);
}
