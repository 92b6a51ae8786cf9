/* Finite-difference gradient checks at model level: every cell x {1, 2}
 * layers x {uni, bidirectional} x head, and the bag of embeddings (no
 * recurrent layer) x {mean, max}, on a packed batch of unequal lengths in
 * unsorted order, for every parameter tensor and the embedding rows used.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The analytic gradient is SeqnnTrainer's; the numeric one is a central
 * difference of the mean cross-entropy computed (in double) from
 * SeqnnInference's float logits. Entries are a seeded random subset of each
 * tensor, so every tensor is checked every run. */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "seqnn/model.h"
#include "archcases.h"

#define V 12
#define E 4
#define H 3
#define C 3
/* Step of the central difference: large enough that float rounding of the
 * loss (~1e-7 relative) stays far below the difference, small enough that
 * the O(eps^2) truncation error does too. */
#ifndef FD_EPS
#define FD_EPS 1e-2
#endif
/* Base of the per-case seeds (model init, ids, entries chosen); -D it to
 * explore other points. Of 100..1000 in steps of 100, 100, 200, 500, 600,
 * 800 and 900 pass; at 300, 400 and 1000 a case's dropout masks move the
 * loss by less than 1e-4, so it would check nothing new and fails; at 700
 * a tanh case's curvature needs a smaller FD_EPS (5e-3 and 3e-3 pass). */
#ifndef GRADCHECK_SEED
#define GRADCHECK_SEED 100
#endif
#define FD_RTOL 2e-2
#define FD_ATOL 2e-4
/* Float rounding of the loss between nearby parameter values. */
#ifndef LOSS_NOISE
#define LOSS_NOISE 1e-7
#endif

static const gint batch_lengths[] = { 5, 2, 7, 1, 3, 5 };
#define BATCH_N ((gint) G_N_ELEMENTS (batch_lengths))

typedef struct {
  SeqnnModel *model;
  SeqnnInference *inference;
  SeqnnTrainer *dropping;  /* with dropout: the loss under the step's fixed masks */
  SeqnnBatch batch;
  gint32 ids[32];
  gint labels[BATCH_N];
  gfloat logits[BATCH_N * C];
} Fixture;

/* Mean cross-entropy of the current parameters, in double from float logits. */
static gdouble
loss_of (Fixture *fx)
{
  GError *error = NULL;
  if (fx->dropping != NULL) {
    /* no update between calls: the same step, the same masks */
    SeqnnStepResult result;
    g_assert_true (seqnn_trainer_compute_gradients (fx->dropping, &fx->batch, &result, &error));
    g_assert_no_error (error);
    return result.loss;
  }
  g_assert_true (seqnn_inference_run (fx->inference, &fx->batch, NULL, fx->logits, &error));
  g_assert_no_error (error);
  gdouble total = 0.0;
  for (gint i = 0; i < fx->batch.n; i++) {
    const gfloat *l = fx->logits + i * C;
    gdouble m = l[0];
    for (gint c = 1; c < C; c++)
      m = MAX (m, l[c]);
    gdouble s = 0.0;
    for (gint c = 0; c < C; c++)
      s += exp (l[c] - m);
    total += m + log (s) - l[fx->labels[i]];
  }
  return total / fx->batch.n;
}

/* Central difference of the loss in parameter at, from float steps of about
 * eps either side (the actual float steps are used); also the two one-sided
 * differences. Leaves the parameter as it was. */
static gdouble
central_difference (Fixture *fx, gfloat *params, gsize at, gdouble loss0, gdouble eps,
    gdouble *d_plus, gdouble *d_minus)
{
  gfloat orig = params[at];
  params[at] = (gfloat) (orig + eps);
  gdouble step_plus = (gdouble) params[at] - orig;
  gdouble loss_plus = loss_of (fx);
  params[at] = (gfloat) (orig - eps);
  gdouble step_minus = orig - (gdouble) params[at];
  gdouble loss_minus = loss_of (fx);
  params[at] = orig;
  *d_plus = (loss_plus - loss0) / step_plus;
  *d_minus = (loss0 - loss_minus) / step_minus;
  return (loss_plus - loss_minus) / (step_plus + step_minus);
}

static gboolean
close_enough (gdouble analytic, gdouble numeric)
{
  return fabs (analytic - numeric) <= FD_RTOL * MAX (fabs (analytic), fabs (numeric)) + FD_ATOL;
}

typedef enum {
  CHECK_PASSED,    /* matches the central difference */
  CHECK_ONE_SIDED, /* at a kink: matches the difference on one side of it */
  CHECK_KINK,      /* kinks close on both sides at every step: not checkable */
  CHECK_FAILED,
} CheckOutcome;

/* Compares the analytic derivative in parameter at with finite differences.
 * Where the loss is smooth: the central difference at FD_EPS, nothing else.
 * Where it may have kinks (relu, max head), a shrinking ladder of steps: at a
 * kink the analytic value is the derivative of one side, so it may match the
 * one-sided difference on that side instead. An entry that matches nothing
 * is a kink only if the kink shows at the smallest step: on a smooth stretch
 * the gap between the one-sided differences is eps * f'' + O(eps^3), so it
 * halves with eps; a kink within eps breaks that. The noise allowance is the
 * float rounding of the loss, LOSS_NOISE, over the step. */
static CheckOutcome
check_entry (Fixture *fx, gfloat *params, gsize at, gdouble loss0, gboolean smooth,
    gdouble analytic, gdouble *numeric, gdouble *d_plus, gdouble *d_minus)
{
  static const gdouble ladder[] = { FD_EPS, FD_EPS / 3, FD_EPS / 8 };
  guint n_steps = smooth ? 1 : G_N_ELEMENTS (ladder);
  for (guint k = 0; k < n_steps; k++) {
    *numeric = central_difference (fx, params, at, loss0, ladder[k], d_plus, d_minus);
    if (close_enough (analytic, *numeric))
      return CHECK_PASSED;
    if (!smooth && (close_enough (analytic, *d_plus) || close_enough (analytic, *d_minus)))
      return CHECK_ONE_SIDED;
  }
  if (smooth)
    return CHECK_FAILED;
  gdouble eps = ladder[n_steps - 1], half_plus, half_minus;
  central_difference (fx, params, at, loss0, eps / 2, &half_plus, &half_minus);
  gdouble gap = *d_plus - *d_minus, half_gap = half_plus - half_minus;
  gdouble noise = 4 * LOSS_NOISE / eps;
  return fabs (gap - 2 * half_gap) > noise + 0.05 * fabs (gap) ? CHECK_KINK : CHECK_FAILED;
}

static gboolean
under_valgrind (void)
{
  return g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
}

/* With dropout: between layers (2 layers), on the embedding output and on
 * the head's features; the numeric loss is the trainer's own under the
 * step's masks (in double from float logits, as inference's). */
static void
run_gradcheck (const ArchCase *gc, gboolean dropout)
{
  /* relu kinks and max-head switches make the loss non-smooth at some
   * points; only there does check_entry look at one-sided differences. */
  gboolean smooth = gc->cell != SEQNN_CELL_RNN_RELU && gc->head != SEQNN_HEAD_MAX;
  guint entries_per_tensor = under_valgrind () ? 3 : 12;

  SeqnnConfig config;
  seqnn_config_init_default (&config);
  config.cell = gc->cell;
  config.vocab_size = V;
  config.embed_dim = E;
  config.hidden_dim = H;
  config.num_layers = gc->num_layers;
  config.bidirectional = gc->bidirectional;
  config.head = gc->head;
  config.num_classes = C;
  config.padding_idx = -1;
  config.dropout = dropout ? 0.3f : 0.0f;

  guint32 seed = GRADCHECK_SEED + gc->cell * 16 + gc->num_layers * 4 + gc->bidirectional * 2 + gc->head;
  GRand *rand = g_rand_new_with_seed (seed);
  GError *error = NULL;
  Fixture fx = { 0 };
  fx.model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (fx.model, seed);
  /* Larger recurrent weights than the default init, so that the recurrence
   * (and its gradient through time) matters. */
  gsize n_params = 0;
  gfloat *params = seqnn_model_get_params (fx.model, &n_params);
  guint n_tensors = seqnn_model_get_n_tensors (fx.model);
  for (guint k = 0; k < n_tensors; k++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (fx.model, k);
    if (g_str_has_prefix (info->name, "rnn.weight_hh"))
      for (gsize i = 0; i < info->numel; i++)
        params[info->offset + i] *= 1.5f;
  }

  /* ids 0 .. V-3: the last two rows are unused and must get no gradient */
  gint n_ids = 0;
  for (gint i = 0; i < BATCH_N; i++)
    n_ids += batch_lengths[i];
  g_assert_cmpint (n_ids, <=, (gint) G_N_ELEMENTS (fx.ids));
  gboolean used[V] = { FALSE };
  guint n_used = 0;
  for (gint j = 0; j < n_ids; j++) {
    fx.ids[j] = g_rand_int_range (rand, 0, V - 2);
    n_used += !used[fx.ids[j]];
    used[fx.ids[j]] = TRUE;
  }
  for (gint i = 0; i < BATCH_N; i++)
    fx.labels[i] = g_rand_int_range (rand, 0, C);
  fx.batch = (SeqnnBatch) { fx.ids, batch_lengths, BATCH_N, fx.labels };
  fx.inference = seqnn_inference_new (fx.model, 1);

  SeqnnOptimizerConfig opt;
  seqnn_optimizer_config_init_default (&opt);
  SeqnnTrainer *trainer = seqnn_trainer_new (fx.model, &opt, 1, seed, &error);
  g_assert_no_error (error);
  seqnn_trainer_set_training (trainer, dropout);
  if (dropout)
    seqnn_trainer_set_dropout (trainer, 0.3f, 0.4f);
  SeqnnStepResult result;
  g_assert_true (seqnn_trainer_compute_gradients (trainer, &fx.batch, &result, &error));
  g_assert_no_error (error);
  gsize n_grads = 0;
  gfloat *grads = g_memdup2 (seqnn_trainer_get_gradients (trainer, &n_grads),
      sizeof (gfloat) * n_params);
  g_assert_cmpuint (n_grads, ==, n_params);

  if (dropout) {
    /* the masks change the loss: else this checks nothing new */
    gdouble plain = loss_of (&fx);
    fx.dropping = trainer;
    g_assert_cmpfloat (fabs (loss_of (&fx) - plain), >, 1e-4);
  }
  gdouble loss0 = loss_of (&fx);
  g_assert_cmpfloat_with_epsilon (result.loss, loss0, 1e-5 * (1.0 + loss0));

  guint n_checked = 0, n_skipped = 0, n_failed = 0, n_one_sided = 0;
  for (guint k = 0; k < n_tensors; k++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (fx.model, k);
    gboolean is_embedding = g_str_equal (info->name, "embedding.weight");
    if (is_embedding) {
      for (gint row = 0; row < V; row++)
        for (gint e = 0; e < E && !used[row]; e++)
          if (grads[info->offset + row * E + e] != 0.0f)
            g_test_fail_printf ("embedding row %d is unused but has gradient %g", row,
                grads[info->offset + row * E + e]);
    }
    /* A bag's (no recurrent layer) whole backward is the head's gradient
     * put on the embedding rows, and under a max head most entries get
     * none (a feature's goes to its argmax row only): a sample could miss
     * every entry that has one, so there every used entry is checked. */
    gboolean every_entry = is_embedding && gc->num_layers == 0;
    guint want = every_entry ? n_used * E : MIN (entries_per_tensor, info->numel);
    guint checked_here = 0, tries = 0;
    gsize next = 0;
    while (checked_here < want && tries < 8 * want && next < info->numel) {
      tries++;
      gsize i = every_entry ? next++ : (gsize) g_rand_int_range (rand, 0, (gint32) info->numel);
      if (is_embedding && !used[i / E])
        continue;
      gsize at = info->offset + i;
      gfloat orig = params[at];
      gdouble analytic = grads[at], numeric, d_plus, d_minus;
      CheckOutcome outcome = check_entry (&fx, params, at, loss0, smooth, analytic,
          &numeric, &d_plus, &d_minus);
      g_assert_true (params[at] == orig);
      if (outcome == CHECK_KINK) {
        n_skipped++;
        continue;
      }
      checked_here++;
      n_checked++;
      n_one_sided += outcome == CHECK_ONE_SIDED;
      if (outcome == CHECK_FAILED) {
        if (n_failed < 8)
          g_printerr ("  %s[%" G_GSIZE_FORMAT "]: analytic %.7g, numeric %.7g (one-sided %.7g, %.7g)\n",
              info->name, i, analytic, numeric, d_plus, d_minus);
        n_failed++;
      }
    }
    if (checked_here == 0)
      g_test_fail_printf ("%s: no entry could be checked", info->name);
  }
  g_test_message ("%u entries checked (%u by a one-sided difference at a kink), %u skipped at kinks",
      n_checked, n_one_sided, n_skipped);
  if (n_failed > 0)
    g_test_fail_printf ("%u of %u gradient entries differ from finite differences",
        n_failed, n_checked);
  /* kinks are rare: a model where most points are skipped would check little */
  if (n_skipped > n_checked)
    g_test_fail_printf ("%u entries skipped at kinks, only %u checked", n_skipped, n_checked);

  g_free (grads);
  seqnn_trainer_free (trainer);
  seqnn_inference_free (fx.inference);
  seqnn_model_free (fx.model);
  g_rand_free (rand);
}

static void
test_gradcheck (gconstpointer data)
{
  run_gradcheck (data, FALSE);
}

static void
test_gradcheck_dropout (gconstpointer data)
{
  run_gradcheck (data, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  arch_cases_add ("/gradcheck", test_gradcheck);
  arch_cases_add ("/gradcheck-dropout", test_gradcheck_dropout);
  return g_test_run ();
}
