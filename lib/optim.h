/* Internal: optimizer arithmetic (optim.c): torch's Adam and SGD updates
 * over runs of parameters, and the closed-form catch-up of embedding rows
 * that skipped steps (the lazy row-sparse mode; see optim.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/model.h"

G_BEGIN_DECLS

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

/* ---- Lazy embedding rows --------------------------------------------------- */

typedef enum {
  SEQNN_LAZY_NONE,      /* no optimizer state moves on skipped steps: update used rows only */
  SEQNN_LAZY_ROWS,      /* rows catch up the steps they skipped when read (SeqnnLazyRows) */
  SEQNN_LAZY_AS_DENSE,  /* the catch-up series does not settle: update every row every step */
} SeqnnLazyMode;

/* Which mode the row-sparse embedding update needs for config (dense_embedding
 * and freeze_embedding give SEQNN_LAZY_NONE: nothing lazy to do). */
SeqnnLazyMode seqnn_lazy_mode (const SeqnnOptimizerConfig *config);

typedef struct {
  SeqnnOptimizerKind kind;
  gfloat beta1, beta2;
  gint window;             /* W: steps after which a catch-up sum stops changing */
  gdouble ratio;           /* r: Adam beta1 / sqrt(beta2), SGD momentum */
  gdouble *ring;           /* W: S(t0, step) for t0 in (step - W, step], slot t0 % W */
  GArray *frozen;          /* gdouble S(t0, t0 + W) for older t0, index t0 - frozen_base */
  guint64 frozen_base;
  gdouble *decay1, *decay2;/* W + 1: beta1^k, beta2^k (SGD: momentum^k) */
  guint64 *row_step;       /* n_rows: the step a row's value and moments are up to date with */
} SeqnnLazyRows;

/* For a config whose mode is SEQNN_LAZY_ROWS; FALSE (lazy cleared) when the
 * per-row state cannot be allocated. */
gboolean seqnn_lazy_init (SeqnnLazyRows *lazy, const SeqnnOptimizerConfig *config, gint n_rows);
void seqnn_lazy_clear (SeqnnLazyRows *lazy);
/* After update step (1-based) with rate lr. */
void seqnn_lazy_advance (SeqnnLazyRows *lazy, guint64 step, gfloat lr);
/* Brings row (E floats at row * E of params, m and v; v NULL for SGD) from
 * its step up to step. */
void seqnn_lazy_catch_up_row (SeqnnLazyRows *lazy, guint64 step, gint32 row, gint E,
    gfloat *params, gfloat *m, gfloat *v);
/* After every row was brought up to step: the settled sums are no longer needed. */
void seqnn_lazy_forget_settled (SeqnnLazyRows *lazy, guint64 step);

G_END_DECLS
