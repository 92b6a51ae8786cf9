/* Optimizer updates with torch's exact formulas (torch.optim.Adam and SGD,
 * single-tensor paths of torch 1.13), and the lazy row-sparse embedding
 * mode's closed-form catch-up of skipped steps.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/model.h"
#include "optim.h"
#include "vectorize.h"

#include <float.h>
#include <math.h>
#include <string.h>

const gchar *
seqnn_optimizer_to_string (SeqnnOptimizerKind kind)
{
  switch (kind) {
    case SEQNN_OPTIMIZER_ADAM:
      return "adam";
    case SEQNN_OPTIMIZER_SGD:
      return "sgd";
  }
  return NULL;
}

gboolean
seqnn_optimizer_from_string (const gchar *str, SeqnnOptimizerKind *kind)
{
  SeqnnOptimizerKind k;
  if (str == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (str, "adam") == 0)
    k = SEQNN_OPTIMIZER_ADAM;
  else if (g_ascii_strcasecmp (str, "sgd") == 0)
    k = SEQNN_OPTIMIZER_SGD;
  else
    return FALSE;
  if (kind)
    *kind = k;
  return TRUE;
}

void
seqnn_optimizer_config_init_default (SeqnnOptimizerConfig *config)
{
  g_return_if_fail (config != NULL);
  memset (config, 0, sizeof *config);
  config->kind = SEQNN_OPTIMIZER_ADAM;
  config->learning_rate = 0.001f;
  config->beta1 = 0.9f;
  config->beta2 = 0.999f;
  config->eps = 1e-8f;
  config->momentum = 0.0f;
  config->weight_decay = 0.0f;
  config->clip_norm = 0.0f;
  config->dense_embedding = FALSE;
  config->freeze_embedding = FALSE;
}

void
seqnn_optim_step_init (SeqnnOptimStep *s, const SeqnnOptimizerConfig *c, gfloat lr, guint64 step)
{
  memset (s, 0, sizeof *s);
  s->kind = c->kind;
  s->weight_decay = c->weight_decay;
  s->momentum = c->momentum;
  if (c->kind == SEQNN_OPTIMIZER_ADAM) {
    /* torch computes these scalars in Python doubles; the kernels use floats */
    const gdouble bc1 = 1.0 - pow ((gdouble) c->beta1, (gdouble) step);
    const gdouble bc2 = 1.0 - pow ((gdouble) c->beta2, (gdouble) step);
    s->neg_step_size = (gfloat) (-(gdouble) lr / bc1);
    s->bc2_sqrt = (gfloat) sqrt (bc2);
    s->b1 = c->beta1;
    s->b2 = c->beta2;
    s->a1 = (gfloat) (1.0 - (gdouble) c->beta1);
    s->a2 = (gfloat) (1.0 - (gdouble) c->beta2);
    s->eps = c->eps;
  } else {
    s->neg_step_size = -lr;
  }
}

/* torch.optim.Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g g;
 * p += -lr/bc1 * m / (sqrt(v) / sqrt(bc2) + eps). The clones vectorise this
 * loop without reordering or contracting it (-std=c11 keeps fp-contract off),
 * so every clone gives the same bits. */
SEQNN_VECTORIZE static void
adam_update (const SeqnnOptimStep *s, gfloat *restrict p, const gfloat *restrict g,
    gfloat *restrict m, gfloat *restrict v, gsize n)
{
  const gfloat wd = s->weight_decay, b1 = s->b1, b2 = s->b2, a1 = s->a1, a2 = s->a2;
  const gfloat neg_step = s->neg_step_size, bc2_sqrt = s->bc2_sqrt, eps = s->eps;
  for (gsize i = 0; i < n; i++) {
    gfloat gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
    gfloat mi = m[i] * b1 + a1 * gi;
    gfloat vi = v[i] * b2 + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] + neg_step * (mi / (sqrtf (vi) / bc2_sqrt + eps));
  }
}

/* torch.optim.SGD: d = g + wd p; buf = momentum buf + d (buf starts at the
 * first d, the same as from zero); p += -lr buf */
SEQNN_VECTORIZE static void
sgd_update (const SeqnnOptimStep *s, gfloat *restrict p, const gfloat *restrict g,
    gfloat *restrict buf, gsize n)
{
  const gfloat wd = s->weight_decay, mom = s->momentum, neg_lr = s->neg_step_size;
  if (mom != 0.0f) {
    for (gsize i = 0; i < n; i++) {
      gfloat d = g[i] + wd * p[i];
      if (wd == 0.0f)
        d = g[i];
      buf[i] = buf[i] * mom + d;
      p[i] = p[i] + neg_lr * buf[i];
    }
  } else {
    for (gsize i = 0; i < n; i++) {
      gfloat d = g[i] + wd * p[i];
      if (wd == 0.0f)
        d = g[i];
      p[i] = p[i] + neg_lr * d;
    }
  }
}

void
seqnn_optim_update (const SeqnnOptimStep *s, gfloat *params, const gfloat *grads,
    gfloat *m, gfloat *v, gsize n)
{
  if (s->kind == SEQNN_OPTIMIZER_ADAM)
    adam_update (s, params, grads, m, v, n);
  else
    sgd_update (s, params, grads, m, n);
}

/* ---- Lazy embedding updates ----------------------------------------------
 * torch's dense Adam moves every embedding row every step: a row that got a
 * gradient keeps moving through its momentum m on later steps (gradient 0:
 * m *= beta1, v *= beta2), so a rare word moves ~10x more per occurrence
 * than with an update of the used rows only. The default row-sparse mode
 * gives the dense result at sparse cost: each row remembers the step t0 it
 * is up to date with, and when a batch is about to read it (or on
 * seqnn_trainer_sync (trainer.c)) the k = T - t0 skipped zero-gradient steps are applied
 * in closed form:
 *   p -= S(t0, T) m / sqrt(v)  (elements with v == 0 have m == 0: skipped),
 *   S(t0, T) = sum_{u=t0+1..T} lr_u r^(u-t0) sqrt(1 - beta2^u) / (1 - beta1^u),
 *   r = beta1 / sqrt(beta2);  then m *= beta1^k, v *= beta2^k.
 * That is torch's update for those steps except that eps is neglected against
 * sqrt(v_hat) on the skipped steps. SGD with momentum mu is exact (up to rounding):
 *   p -= S buf with S = sum lr_u mu^(u-t0), buf *= mu^k.
 * S is kept for every t0 of the last W steps in a ring (O(W) per step,
 * W = steps until r^W < 1e-12, 264 for Adam's defaults); a t0 that falls out
 * of the ring keeps its converged sum. When r >= 1 or W would exceed
 * LAZY_MAX_WINDOW the series does not settle and the sparse mode runs the
 * dense update instead. Weight decay is applied on the rows a batch used
 * only (dense torch decays every row every step; there is no closed form
 * for the coupled p, m recursion), so with weight_decay > 0 the sparse mode
 * differs from dense on unused rows. */
#define LAZY_MAX_WINDOW 16384

/* Update u's factor in S: lr_u sqrt(1 - beta2^u) / (1 - beta1^u) (SGD: lr_u). */
static gdouble
lazy_step_coef (const SeqnnLazyRows *lazy, gfloat lr, guint64 u)
{
  if (lazy->kind == SEQNN_OPTIMIZER_SGD)
    return lr;
  const gdouble bc1 = 1.0 - pow ((gdouble) lazy->beta1, (gdouble) u);
  const gdouble bc2 = 1.0 - pow ((gdouble) lazy->beta2, (gdouble) u);
  return (gdouble) lr * sqrt (bc2) / bc1;
}

/* r of the catch-up series for config, or -1 when no state moves on skipped
 * steps (no momentum). */
static gdouble
lazy_ratio (const SeqnnOptimizerConfig *c)
{
  if (c->kind == SEQNN_OPTIMIZER_ADAM)
    return c->beta1 / sqrt ((gdouble) c->beta2);
  return c->momentum == 0.0f ? -1.0 : c->momentum;
}

/* W = steps until r^W < 1e-12 */
static gdouble
lazy_window (gdouble r)
{
  return r > 0.0 ? ceil (log (1e-12) / log (r)) : 1.0;
}

SeqnnLazyMode
seqnn_lazy_mode (const SeqnnOptimizerConfig *c)
{
  if (c->dense_embedding || c->freeze_embedding)
    return SEQNN_LAZY_NONE;
  if (c->kind == SEQNN_OPTIMIZER_ADAM && c->beta2 <= 0.0f)
    return SEQNN_LAZY_AS_DENSE;   /* v is gone after one skipped step: nothing to sum */
  gdouble r = lazy_ratio (c);
  if (c->kind == SEQNN_OPTIMIZER_SGD && r < 0.0)
    return SEQNN_LAZY_NONE;       /* no state: skipped steps do nothing */
  gdouble w = lazy_window (r);
  if (!(r < 1.0) || !(w <= LAZY_MAX_WINDOW))
    return SEQNN_LAZY_AS_DENSE;
  return SEQNN_LAZY_ROWS;
}

gboolean
seqnn_lazy_init (SeqnnLazyRows *lazy, const SeqnnOptimizerConfig *c, gint n_rows)
{
  memset (lazy, 0, sizeof *lazy);
  const gdouble r = lazy_ratio (c);
  const gint W = MAX (1, (gint) lazy_window (r));
  const gdouble d1 = c->kind == SEQNN_OPTIMIZER_ADAM ? c->beta1 : c->momentum;
  const gdouble d2 = c->kind == SEQNN_OPTIMIZER_ADAM ? c->beta2 : 0.0;
  lazy->kind = c->kind;
  lazy->beta1 = c->beta1;
  lazy->beta2 = c->beta2;
  lazy->window = W;
  lazy->ratio = r;
  lazy->row_step = g_try_new0 (guint64, n_rows);
  lazy->ring = g_new0 (gdouble, W);
  lazy->frozen = g_array_new (FALSE, FALSE, sizeof (gdouble));
  lazy->decay1 = g_new (gdouble, W + 1);
  lazy->decay2 = g_new (gdouble, W + 1);
  for (gint k = 0; k <= W; k++) {
    lazy->decay1[k] = pow (d1, k);
    lazy->decay2[k] = pow (d2, k);
  }
  return lazy->row_step != NULL;
}

void
seqnn_lazy_clear (SeqnnLazyRows *lazy)
{
  g_free (lazy->row_step);
  g_free (lazy->ring);
  if (lazy->frozen)
    g_array_unref (lazy->frozen);
  g_free (lazy->decay1);
  g_free (lazy->decay2);
  memset (lazy, 0, sizeof *lazy);
}

/* After update T with rate lr: every S(t0, .) in the ring grows by step T's
 * term; t0 = T - W leaves the ring with its settled sum. */
void
seqnn_lazy_advance (SeqnnLazyRows *lazy, guint64 T, gfloat lr)
{
  const gint W = lazy->window;
  const gdouble c = lazy_step_coef (lazy, lr, T);
  gdouble term = c;
  for (gint d = 1; d <= W && (guint64) d <= T; d++) {
    term *= lazy->ratio;
    lazy->ring[(T - d) % W] += term;
  }
  if (T >= (guint64) W) {
    g_assert (lazy->frozen->len == T - W - lazy->frozen_base);
    g_array_append_val (lazy->frozen, lazy->ring[(T - W) % W]);
  }
  lazy->ring[T % W] = 0.0;
}

/* p -= S m / sqrt(v) where v > 0; m *= beta1^k; v *= beta2^k. Branch-free so
 * it vectorises: v is clamped before the division and the v == 0 lanes
 * (m == 0 there) are dropped by the select. */
SEQNN_VECTORIZE static void
lazy_adam_row (gfloat *restrict p, gfloat *restrict m, gfloat *restrict v, gint n,
    gfloat neg_s, gfloat decay1, gfloat decay2)
{
  for (gint j = 0; j < n; j++) {
    gfloat q = m[j] / sqrtf (v[j] > FLT_MIN ? v[j] : FLT_MIN); /* vmaxps, not a fmaxf call */
    p[j] += v[j] > 0.0f ? neg_s * q : 0.0f;
    m[j] *= decay1;
    v[j] *= decay2;
  }
}

/* SGD momentum: p -= S buf; buf *= momentum^k. */
SEQNN_VECTORIZE static void
lazy_momentum_row (gfloat *restrict p, gfloat *restrict m, gint n, gfloat neg_s, gfloat decay1)
{
  for (gint j = 0; j < n; j++) {
    p[j] += neg_s * m[j];
    m[j] *= decay1;
  }
}

/* b^k from the table b^0..b^W: b^(k mod W) (b^W)^(k div W), pow beyond a few W. */
static inline gdouble
lazy_decay (const gdouble *table, gint W, guint64 k)
{
  if (k <= (guint64) W)
    return table[k];
  guint64 q = k / W;
  if (q > 16)
    return pow (table[1], (gdouble) k);
  gdouble d = table[k % W];
  for (; q > 0 && d != 0.0; q--)
    d *= table[W];
  return d;
}

void
seqnn_lazy_catch_up_row (SeqnnLazyRows *lazy, guint64 T, gint32 row, gint E,
    gfloat *params, gfloat *m, gfloat *v)
{
  const guint64 t0 = lazy->row_step[row];
  if (t0 == T)
    return;
  lazy->row_step[row] = T;
  const guint64 k = T - t0;
  const gint W = lazy->window;
  const gdouble S = k < (guint64) W ? lazy->ring[t0 % W]
      : g_array_index (lazy->frozen, gdouble, t0 - lazy->frozen_base);
  const gfloat neg_s = (gfloat) -S;
  const gfloat decay1 = (gfloat) lazy_decay (lazy->decay1, W, k);
  const gfloat decay2 = (gfloat) lazy_decay (lazy->decay2, W, k);
  const gsize o = (gsize) row * E;
  if (v != NULL)
    lazy_adam_row (params + o, m + o, v + o, E, neg_s, decay1, decay2);
  else
    lazy_momentum_row (params + o, m + o, E, neg_s, decay1);
}

void
seqnn_lazy_forget_settled (SeqnnLazyRows *lazy, guint64 T)
{
  const guint64 W = (guint64) lazy->window;
  g_array_set_size (lazy->frozen, 0);
  lazy->frozen_base = T + 1 >= W ? T + 1 - W : 0;
}
