/* Optimizer updates with torch's exact formulas (torch.optim.Adam and SGD,
 * single-tensor paths of torch 1.13).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/model.h"
#include "network.h"

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

/* Vectorised builds for AVX2 and AVX-512 beside the baseline. */
#define OPTIM_VECTORIZE __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* torch.optim.Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g g;
 * p += -lr/bc1 * m / (sqrt(v) / sqrt(bc2) + eps). The clones vectorise this
 * loop without reordering or contracting it (-std=c11 keeps fp-contract off),
 * so every clone gives the same bits. */
OPTIM_VECTORIZE static void
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
OPTIM_VECTORIZE static void
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
