/* The context filter against values worked out by hand, its lookahead, empty
 * cues, resets, bad input, a long stream; the segmenter.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <seqnn/context.h>

/* Two classes, persistence 0.8 (q = 0.2), equal priors; cues say
 * [0.9 0.1], [0.3 0.7], [0.8 0.2].
 * Forward:
 *   alpha0 = norm ([.5 .5] * [.9 .1])                          = [.9 .1]
 *   T^T alpha0 = [.8*.9 + .2*.1, .8*.1 + .2*.9] = [.74 .26]
 *   alpha1 = norm ([.74*.3, .26*.7]) = [.222 .182] / .404       = [111/202 91/202]
 *   T^T alpha1 = [(.8*111 + .2*91)/202, (.8*91 + .2*111)/202] = [107/202 95/202]
 *   alpha2 = norm ([107*.8, 95*.2]) = [85.6 19] / 104.6         = [428/523 95/523]
 * Backward from cue 2 (beta2 = [1 1]):
 *   beta1 = T [.8 .2] = [.68 .32]
 *   beta0 = T ([.3*.68, .7*.32]) = T [.204 .224] = [.208 .22]
 * Smoothed:
 *   cue 0 with two cues ahead: norm ([.9*.208, .1*.22]) = [.1872 .022] / .2092
 *   cue 1 with one cue ahead:  norm ([111*.68, 91*.32])  = [75.48 29.12] / 104.6 */
static const gfloat cues[3][2] = { {0.9f, 0.1f}, {0.3f, 0.7f}, {0.8f, 0.2f} };
static const gdouble alpha[3][2] = {
  {0.9, 0.1}, {111.0 / 202, 91.0 / 202}, {428.0 / 523, 95.0 / 523} };
static const gdouble smooth0[2] = { 0.1872 / 0.2092, 0.022 / 0.2092 };
static const gdouble smooth1[2] = { 75.48 / 104.6, 29.12 / 104.6 };

static SeqnnContextFilter *
new_filter (gdouble p)
{
  GError *error = NULL;
  SeqnnContextFilter *f = seqnn_context_filter_new (2, p, NULL, &error);
  g_assert_no_error (error);
  return f;
}

static void
assert_probs (const gfloat *got, const gdouble *want)
{
  g_assert_cmpfloat_with_epsilon (got[0], want[0], 1e-6);
  g_assert_cmpfloat_with_epsilon (got[1], want[1], 1e-6);
}

static void
test_causal_by_hand (void)
{
  SeqnnContextFilter *f = new_filter (0.8);
  gfloat out[2];
  for (gint t = 0; t < 3; t++) {
    g_assert_true (seqnn_context_filter_push (f, cues[t], NULL));
    g_assert_cmpuint (seqnn_context_filter_get_n_held (f), ==, 1);
    g_assert_cmpint (seqnn_context_filter_pop (f, out), ==, 0);
    assert_probs (out, alpha[t]);
  }
  /* cue 1 alone would say class 1: the context keeps class 0 */
  g_assert_cmpint (seqnn_context_filter_pop (f, out), ==, -1);
  seqnn_context_filter_free (f);
}

static void
test_lookahead_by_hand (void)
{
  SeqnnContextFilter *f = new_filter (0.8);
  gfloat out[2];
  for (gint t = 0; t < 3; t++)
    g_assert_true (seqnn_context_filter_push (f, cues[t], NULL));
  g_assert_cmpuint (seqnn_context_filter_get_n_held (f), ==, 3);
  g_assert_cmpint (seqnn_context_filter_pop (f, out), ==, 0);
  assert_probs (out, smooth0);
  g_assert_cmpint (seqnn_context_filter_pop (f, out), ==, 0);
  assert_probs (out, smooth1);
  g_assert_cmpint (seqnn_context_filter_pop (f, out), ==, 0);
  assert_probs (out, alpha[2]);
  g_assert_cmpuint (seqnn_context_filter_get_n_held (f), ==, 0);
  seqnn_context_filter_free (f);
}

/* Unnormalised inputs and a prior: p(c|x)/prior is the likelihood. */
static void
test_prior_and_scale (void)
{
  GError *error = NULL;
  const gfloat prior[2] = { 3.0f, 1.0f };   /* normalised: .75 .25 */
  SeqnnContextFilter *f = seqnn_context_filter_new (2, 0.5, prior, &error);
  g_assert_no_error (error);
  const gfloat x[2] = { 1.5f, 0.5f };       /* = [.75 .25]: likelihood ratio 1 */
  gfloat out[2];
  g_assert_true (seqnn_context_filter_push (f, x, NULL));
  seqnn_context_filter_pop (f, out);
  /* persistence 0.5 with 2 classes is no memory: the prior's predictive
   * [.5 .5] times equal likelihoods */
  const gdouble want[2] = { 0.5, 0.5 };
  assert_probs (out, want);
  seqnn_context_filter_free (f);
}

static void
test_empty_cue_keeps_topic (void)
{
  SeqnnContextFilter *f = new_filter (0.8);
  gfloat out[2];
  seqnn_context_filter_push (f, cues[0], NULL);
  seqnn_context_filter_pop (f, out);
  g_assert_true (seqnn_context_filter_push (f, NULL, NULL));
  g_assert_cmpint (seqnn_context_filter_pop (f, out), ==, 0);
  const gdouble pred[2] = { 0.74, 0.26 };   /* T^T alpha0, nothing observed */
  assert_probs (out, pred);
  /* the next cue continues from there, not from the prior */
  seqnn_context_filter_push (f, cues[1], NULL);
  seqnn_context_filter_pop (f, out);
  const gdouble a[2] = { (0.8 * 0.74 + 0.2 * 0.26) * 0.3, (0.8 * 0.26 + 0.2 * 0.74) * 0.7 };
  const gdouble want[2] = { a[0] / (a[0] + a[1]), a[1] / (a[0] + a[1]) };
  assert_probs (out, want);
  seqnn_context_filter_free (f);
}

static void
test_reset (void)
{
  SeqnnContextFilter *f = new_filter (0.8);
  gfloat out[2];
  for (gint t = 0; t < 3; t++)
    seqnn_context_filter_push (f, cues[t], NULL);
  seqnn_context_filter_reset (f);
  g_assert_cmpuint (seqnn_context_filter_get_n_held (f), ==, 0);
  seqnn_context_filter_push (f, cues[1], NULL);
  g_assert_cmpint (seqnn_context_filter_pop (f, out), ==, 1);   /* from the prior again */
  const gdouble want[2] = { 0.3, 0.7 };
  assert_probs (out, want);
  seqnn_context_filter_free (f);
}

static void
test_bad_input (void)
{
  GError *error = NULL;
  g_assert_null (seqnn_context_filter_new (1, 0.9, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (seqnn_context_filter_new (4, 1.0, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (seqnn_context_filter_new (4, NAN, NULL, &error));
  g_clear_error (&error);
  const gfloat bad_prior[2] = { 1.0f, 0.0f };
  g_assert_null (seqnn_context_filter_new (2, 0.9, bad_prior, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  SeqnnContextFilter *f = new_filter (0.8);
  const gfloat nan_probs[2] = { NAN, 0.5f }, neg[2] = { -0.1f, 1.0f }, zero[2] = { 0.0f, 0.0f };
  const gfloat *bad[] = { nan_probs, neg, zero };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (seqnn_context_filter_push (f, bad[i], &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_cmpuint (seqnn_context_filter_get_n_held (f), ==, 0);
  }
  /* untouched: the hand-worked stream still comes out */
  gfloat out[2];
  seqnn_context_filter_push (f, cues[0], NULL);
  seqnn_context_filter_pop (f, out);
  assert_probs (out, alpha[0]);
  seqnn_context_filter_free (f);
}

/* 100,000 cues, extreme and random, with a lookahead window of 50: finite
 * and normalised throughout; certain cues (probability 0 elsewhere) still
 * let the topic change. */
static void
test_long_stream (void)
{
  GError *error = NULL;
  SeqnnContextFilter *f = seqnn_context_filter_new (4, 0.999, NULL, &error);
  g_assert_no_error (error);
  GRand *rand = g_rand_new_with_seed (7);
  gfloat probs[4], out[4];
  for (gint t = 0; t < 100000; t++) {
    gint topic = (t / 1000) % 4;
    for (gint c = 0; c < 4; c++)
      probs[c] = (t % 3 == 0) ? (c == topic ? 1.0f : 0.0f) : (gfloat) g_rand_double (rand);
    g_assert_true (seqnn_context_filter_push (f, (t % 17 == 0) ? NULL : probs, NULL));
    if (seqnn_context_filter_get_n_held (f) > 50) {
      gint best = seqnn_context_filter_pop (f, out);
      gdouble sum = 0.0;
      for (gint c = 0; c < 4; c++) {
        g_assert_true (isfinite (out[c]) && out[c] >= 0.0f);
        sum += out[c];
      }
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
      gint cue = t - 50;
      if (cue % 1000 > 10 && cue % 1000 < 990)   /* well inside its topic */
        g_assert_cmpint (best, ==, (cue / 1000) % 4);
    }
  }
  g_rand_free (rand);
  seqnn_context_filter_free (f);
}

static void
test_segmenter (void)
{
  SeqnnSegmenter *s = seqnn_segmenter_new ();
  SeqnnSegment seg;
  const guint64 S = G_GUINT64_CONSTANT (1000000000);
  /* three segments: 0 0 0 | 2 2 | 1 (the last with no end time) */
  const gint labels[] = { 0, 0, 0, 2, 2, 1 };
  const gdouble conf[] = { 0.9, 0.8, 0.7, 0.6, 0.4, 0.5 };
  SeqnnSegment got[3];
  gint n = 0;
  for (gint i = 0; i < 6; i++) {
    guint64 end = i == 5 ? SEQNN_TIME_NONE : (i + 1) * S - S / 10;
    if (seqnn_segmenter_add (s, i * S, end, labels[i], conf[i], &seg))
      got[n++] = seg;
  }
  g_assert_cmpint (n, ==, 2);
  g_assert_true (seqnn_segmenter_finish (s, &got[n++]));
  g_assert_false (seqnn_segmenter_finish (s, &seg));
  const SeqnnSegment want[3] = {
    { 0, 3 * S - S / 10, 0, 0.8, 3 },
    { 3 * S, 5 * S - S / 10, 2, 0.5, 2 },
    { 5 * S, 5 * S, 1, 0.5, 1 },
  };
  for (gint i = 0; i < 3; i++) {
    g_assert_cmpuint (got[i].start, ==, want[i].start);
    g_assert_cmpuint (got[i].end, ==, want[i].end);
    g_assert_cmpint (got[i].label, ==, want[i].label);
    g_assert_cmpfloat_with_epsilon (got[i].mean_confidence, want[i].mean_confidence, 1e-12);
    g_assert_cmpuint (got[i].n_cues, ==, want[i].n_cues);
  }
  /* after finish, the next cue opens a new segment even with the same label */
  g_assert_false (seqnn_segmenter_add (s, 9 * S, 10 * S, 1, 1.0, &seg));
  g_assert_true (seqnn_segmenter_finish (s, &seg));
  g_assert_cmpuint (seg.start, ==, 9 * S);
  g_assert_cmpuint (seg.n_cues, ==, 1);
  seqnn_segmenter_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/context/causal-by-hand", test_causal_by_hand);
  g_test_add_func ("/context/lookahead-by-hand", test_lookahead_by_hand);
  g_test_add_func ("/context/prior-and-scale", test_prior_and_scale);
  g_test_add_func ("/context/empty-cue", test_empty_cue_keeps_topic);
  g_test_add_func ("/context/reset", test_reset);
  g_test_add_func ("/context/bad-input", test_bad_input);
  g_test_add_func ("/context/long-stream", test_long_stream);
  g_test_add_func ("/context/segmenter", test_segmenter);
  return g_test_run ();
}
