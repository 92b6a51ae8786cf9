/* Optimizer updates with torch's exact formulas (torch.optim.Adam and SGD,
 * single-tensor paths of torch 1.13).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/model.h"
#include "network.h"

#include <math.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_SIMD 1
#endif

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
 * p += -lr/bc1 * m / (sqrt(v) / sqrt(bc2) + eps). The same operations in
 * the same order in every path (no FMA), so all paths give the same bits. */
static inline void
adam_scalar (const SeqnnOptimStep *s, gfloat *restrict p, const gfloat *restrict g,
    gfloat *restrict m, gfloat *restrict v, gsize i, gsize n)
{
  const gfloat wd = s->weight_decay;
  for (; i < n; i++) {
    gfloat gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
    gfloat mi = m[i] * s->b1 + s->a1 * gi;
    gfloat vi = v[i] * s->b2 + s->a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] + s->neg_step_size * (mi / (sqrtf (vi) / s->bc2_sqrt + s->eps));
  }
}

#ifdef HAVE_X86_SIMD
/* Explicit AVX-512 and AVX2 variants, picked at run time (the library is built
 * for baseline x86-64); same operations in the same order as adam_scalar. */
__attribute__ ((target ("avx512f"))) static void
adam_avx512 (const SeqnnOptimStep *s, gfloat *restrict p, const gfloat *restrict g,
    gfloat *restrict m, gfloat *restrict v, gsize n)
{
  const __m512 b1 = _mm512_set1_ps (s->b1), b2 = _mm512_set1_ps (s->b2);
  const __m512 a1 = _mm512_set1_ps (s->a1), a2 = _mm512_set1_ps (s->a2);
  const __m512 eps = _mm512_set1_ps (s->eps), wd = _mm512_set1_ps (s->weight_decay);
  const __m512 step = _mm512_set1_ps (s->neg_step_size), bc2 = _mm512_set1_ps (s->bc2_sqrt);
  const gboolean decay = s->weight_decay != 0.0f;
  gsize i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 pi = _mm512_loadu_ps (p + i), gi = _mm512_loadu_ps (g + i);
    if (decay)
      gi = _mm512_add_ps (gi, _mm512_mul_ps (wd, pi));
    __m512 mi = _mm512_add_ps (_mm512_mul_ps (_mm512_loadu_ps (m + i), b1), _mm512_mul_ps (a1, gi));
    __m512 vi = _mm512_add_ps (_mm512_mul_ps (_mm512_loadu_ps (v + i), b2),
        _mm512_mul_ps (_mm512_mul_ps (a2, gi), gi));
    _mm512_storeu_ps (m + i, mi);
    _mm512_storeu_ps (v + i, vi);
    __m512 denom = _mm512_add_ps (_mm512_div_ps (_mm512_sqrt_ps (vi), bc2), eps);
    _mm512_storeu_ps (p + i, _mm512_add_ps (pi, _mm512_mul_ps (step, _mm512_div_ps (mi, denom))));
  }
  adam_scalar (s, p, g, m, v, i, n);
}

__attribute__ ((target ("avx2"))) static void
adam_avx2 (const SeqnnOptimStep *s, gfloat *restrict p, const gfloat *restrict g,
    gfloat *restrict m, gfloat *restrict v, gsize n)
{
  const __m256 b1 = _mm256_set1_ps (s->b1), b2 = _mm256_set1_ps (s->b2);
  const __m256 a1 = _mm256_set1_ps (s->a1), a2 = _mm256_set1_ps (s->a2);
  const __m256 eps = _mm256_set1_ps (s->eps), wd = _mm256_set1_ps (s->weight_decay);
  const __m256 step = _mm256_set1_ps (s->neg_step_size), bc2 = _mm256_set1_ps (s->bc2_sqrt);
  const gboolean decay = s->weight_decay != 0.0f;
  gsize i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pi = _mm256_loadu_ps (p + i), gi = _mm256_loadu_ps (g + i);
    if (decay)
      gi = _mm256_add_ps (gi, _mm256_mul_ps (wd, pi));
    __m256 mi = _mm256_add_ps (_mm256_mul_ps (_mm256_loadu_ps (m + i), b1), _mm256_mul_ps (a1, gi));
    __m256 vi = _mm256_add_ps (_mm256_mul_ps (_mm256_loadu_ps (v + i), b2),
        _mm256_mul_ps (_mm256_mul_ps (a2, gi), gi));
    _mm256_storeu_ps (m + i, mi);
    _mm256_storeu_ps (v + i, vi);
    __m256 denom = _mm256_add_ps (_mm256_div_ps (_mm256_sqrt_ps (vi), bc2), eps);
    _mm256_storeu_ps (p + i, _mm256_add_ps (pi, _mm256_mul_ps (step, _mm256_div_ps (mi, denom))));
  }
  adam_scalar (s, p, g, m, v, i, n);
}

static gint simd_level = -1;  /* 2 avx512f, 1 avx2, 0 none */

static gint
get_simd_level (void)
{
  if (G_UNLIKELY (simd_level < 0)) {
    __builtin_cpu_init ();
    simd_level = __builtin_cpu_supports ("avx512f") ? 2 : __builtin_cpu_supports ("avx2") ? 1 : 0;
  }
  return simd_level;
}
#endif

static void
adam_update (const SeqnnOptimStep *s, gfloat *restrict p, const gfloat *restrict g,
    gfloat *restrict m, gfloat *restrict v, gsize n)
{
#ifdef HAVE_X86_SIMD
  switch (get_simd_level ()) {
    case 2:
      adam_avx512 (s, p, g, m, v, n);
      return;
    case 1:
      adam_avx2 (s, p, g, m, v, n);
      return;
  }
#endif
  adam_scalar (s, p, g, m, v, 0, n);
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
