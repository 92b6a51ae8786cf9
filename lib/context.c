/* Context across cues: the sticky-HMM filter with fixed-lag smoothing, and
 * the segmenter that turns decided cues into topic segments.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With C classes and persistence p, the transition matrix is
 *   T[i][j] = p (i == j), q = (1 - p) / (C - 1) (i != j),
 * so a product with it costs O(C): (T^T a)[j] = p a[j] + q (sum(a) - a[j]).
 * Forward:  alpha_t = normalise (like_t * T^T alpha_{t-1}), alpha_{-1} = prior.
 * Backward over the held cues t..t+k: beta_{t+k} = 1,
 *   beta_s = normalise (T (like_{s+1} * beta_{s+1})),
 * and cue t's smoothed posterior is normalise (alpha_t * beta_t). T is
 * symmetric, so the same O(C) product serves both directions. */
#include "seqnn/context.h"

#include <math.h>
#include <string.h>

/* Floor of a likelihood: a class the classifier rules out for one cue stays
 * reachable (a posterior of exactly 0 would pin the filter forever). */
#define LIKE_FLOOR 1e-30

struct _SeqnnContextFilter {
  gint C;
  gdouble p, q;
  gdouble *prior;      /* C */
  gdouble *cur;        /* C: alpha of the newest cue (prior after a reset) */
  /* held cues, oldest at head: alpha and likelihood rows of C */
  gdouble *alpha, *like;
  guint head, n, cap;
  gdouble *beta, *tmp; /* C each: scratch of pop */
};

static void
sticky_product (const SeqnnContextFilter *f, const gdouble *a, gdouble *out)
{
  gdouble sum = 0.0;
  for (gint c = 0; c < f->C; c++)
    sum += a[c];
  for (gint c = 0; c < f->C; c++)
    out[c] = f->p * a[c] + f->q * (sum - a[c]);
}

/* Scales a to sum 1; a sum that is not positive and finite (it cannot be with
 * floored likelihoods, but a filter must never emit NaN) becomes uniform. */
static void
normalise (gdouble *a, gint C)
{
  gdouble sum = 0.0;
  for (gint c = 0; c < C; c++)
    sum += a[c];
  if (!(sum > 0.0) || !isfinite (sum)) {
    for (gint c = 0; c < C; c++)
      a[c] = 1.0 / C;
    return;
  }
  for (gint c = 0; c < C; c++)
    a[c] /= sum;
}

SeqnnContextFilter *
seqnn_context_filter_new (gint n_classes, gdouble persistence, const gfloat *prior,
    GError **error)
{
  if (n_classes < 2) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the context filter needs at least 2 classes (got %d)", n_classes);
    return NULL;
  }
  if (!(persistence >= 0.0 && persistence < 1.0)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "topic persistence must be in [0, 1) (got %g): 1 would never let the topic change",
        persistence);
    return NULL;
  }
  gdouble prior_sum = 0.0;
  for (gint c = 0; prior && c < n_classes; c++) {
    if (!(prior[c] > 0.0f) || !isfinite (prior[c])) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "class prior %d must be positive and finite (got %g)", c, (gdouble) prior[c]);
      return NULL;
    }
    prior_sum += prior[c];
  }
  SeqnnContextFilter *f = g_new0 (SeqnnContextFilter, 1);
  f->C = n_classes;
  f->p = persistence;
  f->q = (1.0 - persistence) / (n_classes - 1);
  f->prior = g_new (gdouble, 4 * n_classes);
  f->cur = f->prior + n_classes;
  f->beta = f->cur + n_classes;
  f->tmp = f->beta + n_classes;
  for (gint c = 0; c < n_classes; c++)
    f->prior[c] = prior ? prior[c] / prior_sum : 1.0 / n_classes;
  seqnn_context_filter_reset (f);
  return f;
}

void
seqnn_context_filter_free (SeqnnContextFilter *f)
{
  if (f == NULL)
    return;
  g_free (f->prior);
  g_free (f->alpha);
  g_free (f->like);
  g_free (f);
}

gint
seqnn_context_filter_get_n_classes (const SeqnnContextFilter *f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->C;
}

gdouble
seqnn_context_filter_get_persistence (const SeqnnContextFilter *f)
{
  g_return_val_if_fail (f != NULL, 0.0);
  return f->p;
}

void
seqnn_context_filter_reset (SeqnnContextFilter *f)
{
  g_return_if_fail (f != NULL);
  memcpy (f->cur, f->prior, sizeof (gdouble) * f->C);
  f->head = f->n = 0;
}

guint
seqnn_context_filter_get_n_held (const SeqnnContextFilter *f)
{
  g_return_val_if_fail (f != NULL, 0);
  return f->n;
}

/* Room for one more held row at head + n. */
static void
reserve_row (SeqnnContextFilter *f)
{
  if (f->head + f->n < f->cap)
    return;
  if (f->head > 0) {          /* slide the held rows to the front */
    gsize C = f->C;
    memmove (f->alpha, f->alpha + f->head * C, sizeof (gdouble) * f->n * C);
    memmove (f->like, f->like + f->head * C, sizeof (gdouble) * f->n * C);
    f->head = 0;
    if (f->n < f->cap)
      return;
  }
  f->cap = MAX (8u, f->cap * 2);
  f->alpha = g_renew (gdouble, f->alpha, (gsize) f->cap * f->C);
  f->like = g_renew (gdouble, f->like, (gsize) f->cap * f->C);
}

static gboolean
check_probs (const SeqnnContextFilter *f, const gfloat *probs, GError **error)
{
  gboolean any = FALSE;
  for (gint c = 0; c < f->C; c++) {
    if (!(probs[c] >= 0.0f) || !isfinite (probs[c])) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "cue probability %d is %g: probabilities must be finite and >= 0", c, (gdouble) probs[c]);
      return FALSE;
    }
    any |= probs[c] > 0.0f;
  }
  if (!any)
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "cue probabilities are all 0");
  return any;
}

gboolean
seqnn_context_filter_push (SeqnnContextFilter *f, const gfloat *probs, GError **error)
{
  if (f == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "filter is NULL");
    return FALSE;
  }
  if (probs && !check_probs (f, probs, error))
    return FALSE;
  reserve_row (f);
  gdouble *alpha = f->alpha + (gsize) (f->head + f->n) * f->C;
  gdouble *like = f->like + (gsize) (f->head + f->n) * f->C;
  for (gint c = 0; c < f->C; c++)
    like[c] = probs ? MAX ((gdouble) probs[c], LIKE_FLOOR) / f->prior[c] : 1.0;
  normalise (like, f->C);   /* only the ratios matter; keeps the scale near 1 */
  sticky_product (f, f->cur, alpha);
  for (gint c = 0; c < f->C; c++)
    alpha[c] *= like[c];
  normalise (alpha, f->C);
  memcpy (f->cur, alpha, sizeof (gdouble) * f->C);
  f->n++;
  return TRUE;
}

gint
seqnn_context_filter_pop (SeqnnContextFilter *f, gfloat *probs)
{
  g_return_val_if_fail (f != NULL, -1);
  if (f->n == 0)
    return -1;
  const gint C = f->C;
  const gdouble *alpha = f->alpha + (gsize) f->head * C;
  gdouble *beta = f->beta, *tmp = f->tmp;
  for (gint c = 0; c < C; c++)
    beta[c] = 1.0;
  for (guint s = f->n - 1; s >= 1; s--) {
    const gdouble *like = f->like + (gsize) (f->head + s) * C;
    for (gint c = 0; c < C; c++)
      tmp[c] = like[c] * beta[c];
    sticky_product (f, tmp, beta);
    normalise (beta, C);
  }
  gint best = 0;
  for (gint c = 0; c < C; c++)
    tmp[c] = alpha[c] * beta[c];
  normalise (tmp, C);
  for (gint c = 0; c < C; c++) {
    if (tmp[c] > tmp[best])
      best = c;
    if (probs)
      probs[c] = (gfloat) tmp[c];
  }
  f->head++;
  f->n--;
  if (f->n == 0)
    f->head = 0;
  return best;
}

/* ---- Segmenter ---------------------------------------------------------------- */

struct _SeqnnSegmenter {
  gboolean open;
  SeqnnSegment cur;
  gdouble conf_sum;
};

SeqnnSegmenter *
seqnn_segmenter_new (void)
{
  return g_new0 (SeqnnSegmenter, 1);
}

void
seqnn_segmenter_free (SeqnnSegmenter *s)
{
  g_free (s);
}

gboolean
seqnn_segmenter_finish (SeqnnSegmenter *s, SeqnnSegment *ended)
{
  g_return_val_if_fail (s != NULL, FALSE);
  if (!s->open)
    return FALSE;
  s->cur.mean_confidence = s->conf_sum / s->cur.n_cues;
  if (ended)
    *ended = s->cur;
  s->open = FALSE;
  return TRUE;
}

gboolean
seqnn_segmenter_add (SeqnnSegmenter *s, guint64 start, guint64 end, gint label,
    gdouble confidence, SeqnnSegment *ended)
{
  g_return_val_if_fail (s != NULL, FALSE);
  gboolean done = FALSE;
  if (s->open && label != s->cur.label)
    done = seqnn_segmenter_finish (s, ended);
  if (end == SEQNN_TIME_NONE)
    end = start;
  if (!s->open) {
    s->open = TRUE;
    s->cur = (SeqnnSegment) { .start = start, .end = end, .label = label, .n_cues = 0 };
    s->conf_sum = 0.0;
  }
  if (s->cur.start == SEQNN_TIME_NONE)
    s->cur.start = start;
  if (end != SEQNN_TIME_NONE && (s->cur.end == SEQNN_TIME_NONE || end > s->cur.end))
    s->cur.end = end;
  s->cur.n_cues++;
  s->conf_sum += confidence;
  return done;
}
