/* Internal: what the training loops (trainloop.c over records, streamtrain.c
 * over streams) share: the seeded validation split, across epochs the
 * learning-rate schedule's state, and
 * the best epoch's weights for early stopping with the validation tracking
 * that decides them.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/trainloop.h"

G_BEGIN_DECLS

/* The seeded split of n records: a permutation of 0..n-1 (free with g_free)
 * whose first *n_val (validation_fraction of n, at least 1 and at most n - 1
 * when the fraction is above 0; else 0, and the identity) are held out. */
gsize *seqnn_train_split (const SeqnnTrainOptions *options, gsize n, gsize *n_val);

/* The "train.date" metadata of a model trained now: ISO 8601 UTC, or the
 * time SOURCE_DATE_EPOCH gives (reproducible-builds.org), so that the same
 * training gives the same file. Free with g_free. */
gchar *seqnn_train_date (void);

/* A trainer for options: the optimizer, seed and threads, and the
 * embedding and head dropout; NULL with error set on bad options. */
SeqnnTrainer *seqnn_train_new_trainer (SeqnnModel *model, const SeqnnTrainOptions *options,
    gint n_threads, GError **error);

/* The learning rate of every step. */
typedef struct {
  gboolean active;        /* FALSE: the optimizer's rate throughout, never set */
  SeqnnLrSchedule kind;
  gdouble base, scale;    /* scale: plateau's reductions */
  guint64 total, warmup;  /* steps */
  gint plateau_wait;      /* epochs without improvement since the last reduction */
} SeqnnLrState;

/* steps_per_epoch: the optimizer steps of one epoch (batches, or windows). */
void seqnn_lr_state_init (SeqnnLrState *lr, const SeqnnTrainOptions *options,
    guint64 steps_per_epoch);
gdouble seqnn_lr_state_rate (const SeqnnLrState *lr, guint64 step);

/* Early stopping's memory: the best epoch's weights. */
typedef struct {
  gfloat *params;         /* NULL until a best epoch is kept (patience > 0 only) */
  gint kept_epoch;
  gint since_best;        /* epochs without improvement */
} SeqnnBestKeeper;

/* After an epoch's validation (p->validation_accuracy): the best so far
 * (p->best_epoch, p->best_validation_accuracy, its weights kept with
 * patience), plateau reductions of lr, and p->stopping_early when early
 * stopping ends training here. */
void seqnn_best_keeper_track (SeqnnBestKeeper *best, SeqnnLrState *lr,
    const SeqnnTrainOptions *options, const SeqnnModel *model, SeqnnTrainProgress *p);
/* At the end: back to the best epoch's weights when it was not the last. */
void seqnn_best_keeper_restore (const SeqnnBestKeeper *best, SeqnnModel *model, gint last_epoch);
void seqnn_best_keeper_clear (SeqnnBestKeeper *best);

G_END_DECLS
