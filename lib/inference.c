/* Inference: a reusable workspace over a model; batches are split into
 * contiguous shards run on a kept-alive thread pool when big enough.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/model.h"
#include "network.h"
#include "pool.h"

#include <string.h>

struct _SeqnnInference {
  const SeqnnModel *model;
  const SeqnnLayout *lay;
  gint n_threads;
  SeqnnPool *pool;
  SeqnnNet *nets[SEQNN_MAX_THREADS];
  /* the last run */
  const SeqnnBatch *batch;
  gint n, n_shards;
  gint first[SEQNN_MAX_THREADS + 1];
  gint id_offset[SEQNN_MAX_THREADS];
  gfloat *probs, *logits;       /* the caller's arrays during a run */
  gfloat *final_h, *final_c;    /* (L*D) x n x H */
  gint cap_n;
  guint64 n_allocs;
};

SeqnnInference *
seqnn_inference_new (const SeqnnModel *model, gint n_threads)
{
  g_return_val_if_fail (model != NULL, NULL);
  seqnn_blas_init ();
  SeqnnInference *inf = g_new0 (SeqnnInference, 1);
  inf->model = model;
  inf->lay = seqnn_model_get_layout (model);
  seqnn_inference_set_n_threads (inf, n_threads);
  return inf;
}

void
seqnn_inference_free (SeqnnInference *inf)
{
  if (inf == NULL)
    return;
  seqnn_pool_free (inf->pool);
  for (gint s = 0; s < SEQNN_MAX_THREADS; s++)
    seqnn_net_free (inf->nets[s]);
  g_free (inf->final_h);
  g_free (inf->final_c);
  g_free (inf);
}

void
seqnn_inference_set_n_threads (SeqnnInference *inf, gint n_threads)
{
  g_return_if_fail (inf != NULL);
  n_threads = seqnn_resolve_n_threads (n_threads);
  if (n_threads == inf->n_threads)
    return;
  inf->n_threads = n_threads;
  seqnn_pool_free (inf->pool);
  inf->pool = n_threads > 1 ? seqnn_pool_new (n_threads) : NULL;
  inf->n_shards = 0;  /* outputs of an earlier run stay valid only in shard 0 layout */
  inf->n = 0;
}

static void
run_shard (gpointer data, gint s)
{
  SeqnnInference *inf = data;
  const SeqnnBatch *batch = inf->batch;
  SeqnnNet *net = inf->nets[s];
  gint first = inf->first[s], n = inf->first[s + 1] - first;
  const gfloat *params = seqnn_model_peek_params (inf->model, NULL);
  seqnn_net_forward (net, params, batch->ids + inf->id_offset[s], batch->lengths + first, n,
      FALSE, FALSE, 0, first);
  const gint C = inf->lay->C;
  if (inf->probs)
    seqnn_net_copy_probs (net, inf->probs + (gsize) first * C);
  if (inf->logits)
    seqnn_net_copy_logits (net, inf->logits + (gsize) first * C);
  seqnn_net_copy_final_states (net, inf->final_h, inf->final_c, inf->n, first);
}

gboolean
seqnn_inference_run (SeqnnInference *inf, const SeqnnBatch *batch,
    gfloat *probs, gfloat *logits, GError **error)
{
  if (inf == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "inference is NULL");
    return FALSE;
  }
  const SeqnnLayout *lay = inf->lay;
  if (!seqnn_batch_validate (batch, seqnn_model_get_config (inf->model), error))
    return FALSE;
  const gint n = batch->n;
  inf->n = 0;  /* the last run's views end here, whatever happens below */

  if (n > inf->cap_n) {
    gint cap = seqnn_grow_capacity (inf->cap_n, n);
    gsize bytes = seqnn_size_mul3 ((gsize) lay->L * lay->D * cap, lay->H, sizeof (gfloat));
    SeqnnGrowth list[2] = { { (gpointer *) &inf->final_h, bytes }, { (gpointer *) &inf->final_c, bytes } };
    gsize total;
    if (!seqnn_grow_all (list, lay->cell == SEQNN_CELL_LSTM ? 2 : 1, &total)) {
      gchar *detail = g_strdup_printf ("%d sequences", n);
      seqnn_set_no_memory_error (error, total, "the final states", detail, "lower batch-size");
      g_free (detail);
      return FALSE;
    }
    inf->cap_n = cap;
    inf->n_allocs++;
  }

  gsize n_tokens = 0;
  for (gint i = 0; i < n; i++)
    n_tokens += batch->lengths[i];
  gint n_shards = inf->pool ? seqnn_choose_n_shards (lay, n, n_tokens, inf->n_threads) : 1;
  if (n_shards == 1) {
    inf->first[0] = 0;
    inf->first[1] = n;
  } else {
    seqnn_split_shards (batch->lengths, n, n_shards, inf->first);
  }
  gint offset = 0;
  for (gint s = 0; s < n_shards; s++) {
    inf->id_offset[s] = offset;
    for (gint i = inf->first[s]; i < inf->first[s + 1]; i++)
      offset += batch->lengths[i];
    if (inf->nets[s] == NULL) {
      inf->nets[s] = seqnn_net_new (lay);
      inf->n_allocs++;
    }
    /* Every shard sized for the whole batch: once the largest batch has been
     * seen, no split of a smaller one allocates. */
    if (!seqnn_net_reserve (inf->nets[s], n, (gint) n_tokens, FALSE, error))
      return FALSE;
  }
  inf->batch = batch;
  inf->n = n;
  inf->n_shards = n_shards;
  inf->probs = probs;
  inf->logits = logits;
  if (n_shards == 1)
    run_shard (inf, 0);
  else
    seqnn_pool_run (inf->pool, n_shards, run_shard, inf);
  inf->batch = NULL;
  inf->probs = inf->logits = NULL;
  return TRUE;
}

const gfloat *
seqnn_inference_get_final_hidden (SeqnnInference *inf)
{
  g_return_val_if_fail (inf != NULL, NULL);
  return inf->n > 0 ? inf->final_h : NULL;
}

const gfloat *
seqnn_inference_get_final_cell (SeqnnInference *inf)
{
  g_return_val_if_fail (inf != NULL, NULL);
  return inf->n > 0 ? inf->final_c : NULL;
}

void
seqnn_inference_copy_outputs (SeqnnInference *inf, gint i, gfloat *dst)
{
  g_return_if_fail (inf != NULL && dst != NULL);
  g_return_if_fail (i >= 0 && i < inf->n);
  gint s = 0;
  while (i >= inf->first[s + 1])
    s++;
  seqnn_net_copy_outputs (inf->nets[s], i - inf->first[s], dst);
}

guint64
seqnn_inference_get_n_allocations (const SeqnnInference *inf)
{
  g_return_val_if_fail (inf != NULL, 0);
  guint64 n = inf->n_allocs;
  for (gint s = 0; s < SEQNN_MAX_THREADS; s++)
    if (inf->nets[s])
      n += seqnn_net_get_n_allocs (inf->nets[s]);
  return n;
}
