/* What the training loops keep across epochs (see trainstate.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "trainstate.h"
#include "rng.h"

#include <math.h>
#include <string.h>

#define SPLIT_STREAM 0x73706c6974ULL   /* "split": the rng stream of the split */

gsize *
seqnn_train_split (const SeqnnTrainOptions *options, gsize n, gsize *n_val)
{
  *n_val = 0;
  if (options->validation_fraction > 0.0 && n >= 2) {
    *n_val = (gsize) llround (options->validation_fraction * (gdouble) n);
    *n_val = CLAMP (*n_val, 1, n - 1);
  }
  gsize *order = g_new (gsize, n);
  for (gsize i = 0; i < n; i++)
    order[i] = i;
  if (*n_val > 0) {
    SeqnnRng rng;
    seqnn_rng_init (&rng, seqnn_rng_hash (options->seed, SPLIT_STREAM, 0));
    seqnn_rng_shuffle_gsize (&rng, order, n);
  }
  return order;
}

gchar *
seqnn_train_date (void)
{
  const gchar *epoch = g_getenv ("SOURCE_DATE_EPOCH");
  gint64 seconds;
  GDateTime *now = epoch != NULL && g_ascii_string_to_signed (epoch, 10, 0, G_MAXINT64 / 2,
      &seconds, NULL) ? g_date_time_new_from_unix_utc (seconds) : NULL;
  if (now == NULL)
    now = g_date_time_new_now_utc ();
  gchar *date = g_date_time_format_iso8601 (now);
  g_date_time_unref (now);
  return date;
}

void
seqnn_lr_state_init (SeqnnLrState *lr, const SeqnnTrainOptions *options, guint64 steps_per_epoch)
{
  lr->kind = options->lr_schedule;
  lr->base = options->optimizer.learning_rate;
  lr->scale = 1.0;
  lr->total = (guint64) options->epochs * steps_per_epoch;
  lr->warmup = options->warmup_steps > 0 ? options->warmup_steps
      : (guint64) llround (options->warmup_fraction * (gdouble) lr->total);
  lr->active = lr->kind != SEQNN_LR_CONSTANT || lr->warmup > 0;
  lr->plateau_wait = 0;
}

gdouble
seqnn_lr_state_rate (const SeqnnLrState *lr, guint64 step)
{
  return seqnn_lr_schedule_rate (lr->kind, lr->base, step, lr->total, lr->warmup, lr->scale);
}

void
seqnn_best_keeper_track (SeqnnBestKeeper *best, SeqnnLrState *lr,
    const SeqnnTrainOptions *options, const SeqnnModel *model, SeqnnTrainProgress *p)
{
  gboolean improved = p->best_epoch == 0 || p->validation_accuracy > p->best_validation_accuracy;
  if (improved) {
    p->best_epoch = p->epoch;
    p->best_validation_accuracy = p->validation_accuracy;
    best->since_best = 0;
    lr->plateau_wait = 0;
    if (options->patience > 0) {
      gsize n_params;
      const gfloat *params = seqnn_model_peek_params (model, &n_params);
      if (best->params == NULL)
        best->params = g_new (gfloat, n_params);
      memcpy (best->params, params, n_params * sizeof (gfloat));
      best->kept_epoch = p->epoch;
    }
    return;
  }
  best->since_best++;
  if (lr->kind == SEQNN_LR_PLATEAU && ++lr->plateau_wait >= options->plateau_patience) {
    lr->scale *= options->plateau_factor;
    lr->plateau_wait = 0;
  }
  if (options->patience > 0 && best->since_best >= options->patience && p->epoch < p->epochs)
    p->stopping_early = TRUE;
}

void
seqnn_best_keeper_restore (const SeqnnBestKeeper *best, SeqnnModel *model, gint last_epoch)
{
  if (best->params == NULL || best->kept_epoch == last_epoch)
    return;
  gsize n_params;
  gfloat *params = seqnn_model_get_params (model, &n_params);
  memcpy (params, best->params, n_params * sizeof (gfloat));
}

void
seqnn_best_keeper_clear (SeqnnBestKeeper *best)
{
  g_clear_pointer (&best->params, g_free);
}

SeqnnTrainer *
seqnn_train_new_trainer (SeqnnModel *model, const SeqnnTrainOptions *options, gint n_threads,
    GError **error)
{
  if (!(options->embedding_dropout >= 0.0f && options->embedding_dropout < 1.0f
          && options->head_dropout >= 0.0f && options->head_dropout < 1.0f)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "embedding and head dropout must be in [0, 1), got %g and %g",
        (gdouble) options->embedding_dropout, (gdouble) options->head_dropout);
    return NULL;
  }
  SeqnnTrainer *trainer = seqnn_trainer_new (model, &options->optimizer, n_threads,
      options->seed, error);
  if (trainer != NULL)
    seqnn_trainer_set_dropout (trainer, options->embedding_dropout, options->head_dropout);
  return trainer;
}
