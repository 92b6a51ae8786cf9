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

static void
adam_update (const SeqnnOptimizerConfig *c, gfloat lr, guint64 step,
    gfloat *restrict p, const gfloat *restrict g, gfloat *restrict m, gfloat *restrict v, gsize n)
{
  /* torch computes these scalars in Python doubles, then the kernels use floats */
  const gdouble bc1 = 1.0 - pow ((gdouble) c->beta1, (gdouble) step);
  const gdouble bc2 = 1.0 - pow ((gdouble) c->beta2, (gdouble) step);
  const gfloat neg_step_size = (gfloat) (-(gdouble) lr / bc1);
  const gfloat bc2_sqrt = (gfloat) sqrt (bc2);
  const gfloat b1 = c->beta1, b2 = c->beta2, eps = c->eps, wd = c->weight_decay;
  const gfloat a1 = (gfloat) (1.0 - (gdouble) c->beta1), a2 = (gfloat) (1.0 - (gdouble) c->beta2);
  if (wd != 0.0f) {
    for (gsize i = 0; i < n; i++) {
      gfloat gi = g[i] + wd * p[i];
      m[i] = m[i] * b1 + a1 * gi;
      v[i] = v[i] * b2 + a2 * gi * gi;
      p[i] = p[i] + neg_step_size * (m[i] / (sqrtf (v[i]) / bc2_sqrt + eps));
    }
  } else {
    for (gsize i = 0; i < n; i++) {
      gfloat gi = g[i];
      m[i] = m[i] * b1 + a1 * gi;
      v[i] = v[i] * b2 + a2 * gi * gi;
      p[i] = p[i] + neg_step_size * (m[i] / (sqrtf (v[i]) / bc2_sqrt + eps));
    }
  }
}

static void
sgd_update (const SeqnnOptimizerConfig *c, gfloat lr,
    gfloat *restrict p, const gfloat *restrict g, gfloat *restrict buf, gsize n)
{
  const gfloat wd = c->weight_decay, mom = c->momentum, neg_lr = -lr;
  for (gsize i = 0; i < n; i++) {
    gfloat d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
    if (mom != 0.0f) {
      /* torch starts the buffer at the first gradient: mom * 0 + d is the same */
      buf[i] = buf[i] * mom + d;
      d = buf[i];
    }
    p[i] = p[i] + neg_lr * d;
  }
}

void
seqnn_optim_update (const SeqnnOptimizerConfig *config, gfloat lr, guint64 step,
    gfloat *params, const gfloat *grads, gfloat *m, gfloat *v, gsize n)
{
  if (config->kind == SEQNN_OPTIMIZER_ADAM)
    adam_update (config, lr, step, params, grads, m, v, n);
  else
    sgd_update (config, lr, params, grads, m, n);
}
