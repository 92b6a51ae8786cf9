/* Packing is invisible: each sequence's logits, top-layer outputs (the
 * embedding rows without a recurrent layer) and final states are the same
 * whether it runs alone or packed with others of any lengths, in any order,
 * on one thread or two; and training is reproducible: same seed, same data,
 * same n_threads give bit-identical parameters.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "seqnn/model.h"
#include "archcases.h"

#define V 40
#define E 6
#define H 5
#define C 4
#define MAX_LEN 30
#define POOL 12
#define PACK_TOL 1e-6

static gboolean
under_valgrind (void)
{
  return g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
}

static SeqnnModel *
new_model (SeqnnCell cell, gint layers, gboolean bidir, SeqnnHead head, gfloat dropout,
    guint64 seed)
{
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  config.cell = cell;
  config.vocab_size = V;
  config.embed_dim = E;
  config.hidden_dim = H;
  config.num_layers = layers;
  config.bidirectional = bidir;
  config.head = head;
  config.num_classes = C;
  config.padding_idx = -1;
  config.dropout = dropout;
  GError *error = NULL;
  SeqnnModel *model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  seqnn_model_init_params (model, seed);
  return model;
}

/* Width of the outputs: the top layer's, or the embedding rows of a bag. */
static gint
n_features (const SeqnnConfig *config)
{
  return config->num_layers == 0 ? config->embed_dim
      : (config->bidirectional ? 2 : 1) * config->hidden_dim;
}

/* One sequence's results, from a run alone or its slot in a packed run. */
typedef struct {
  gfloat logits[C];
  gfloat *outputs; /* len x F */
  gfloat *h_n;     /* layers*dirs x H (none without a layer) */
  gfloat *c_n;     /* same, LSTM only */
} SeqResult;

static void
collect (SeqnnInference *inference, const SeqnnConfig *config, gint n, gint i, gint len,
    const gfloat *logits, SeqResult *r)
{
  gint dirs = config->bidirectional ? 2 : 1, LD = config->num_layers * dirs;
  memcpy (r->logits, logits + i * C, sizeof r->logits);
  r->outputs = g_new (gfloat, len * n_features (config));
  seqnn_inference_copy_outputs (inference, i, r->outputs);
  /* h_n is (layers*dirs) x n x H: gather sequence i's rows */
  const gfloat *h_n = seqnn_inference_get_final_hidden (inference);
  const gfloat *c_n = seqnn_inference_get_final_cell (inference);
  r->h_n = g_new (gfloat, LD * H);
  r->c_n = c_n != NULL ? g_new (gfloat, LD * H) : NULL;
  for (gint l = 0; l < LD; l++) {
    memcpy (r->h_n + l * H, h_n + ((gsize) l * n + i) * H, H * sizeof (gfloat));
    if (c_n != NULL)
      memcpy (r->c_n + l * H, c_n + ((gsize) l * n + i) * H, H * sizeof (gfloat));
  }
}

static void
seq_result_clear (SeqResult *r)
{
  g_free (r->outputs);
  g_free (r->h_n);
  g_free (r->c_n);
}

static guint
count_far (const gfloat *a, const gfloat *b, gsize n, gdouble *worst)
{
  guint bad = 0;
  for (gsize i = 0; i < n; i++) {
    gdouble d = fabs ((gdouble) a[i] - b[i]);
    if (!(d <= PACK_TOL * (1.0 + fabs (b[i]))))
      bad++;
    if (d > *worst || isnan (d))
      *worst = d;
  }
  return bad;
}

static void
test_packed_equals_alone (gconstpointer data)
{
  const ArchCase *pc = data;
  guint64 seed = 7 + pc->cell * 16 + pc->num_layers * 4 + pc->bidirectional * 2 + pc->head;
  SeqnnModel *model = new_model (pc->cell, pc->num_layers, pc->bidirectional, pc->head, 0.0f,
      seed);
  const SeqnnConfig *config = seqnn_model_get_config (model);
  gint dirs = pc->bidirectional ? 2 : 1, LD = pc->num_layers * dirs, F = n_features (config);
  GRand *rand = g_rand_new_with_seed ((guint32) seed);

  /* A pool of sequences of random lengths 1..MAX_LEN, with the extremes and
   * a repeated length among them. */
  gint lengths[POOL];
  gint32 *seqs[POOL];
  for (gint s = 0; s < POOL; s++) {
    if (s == 0)
      lengths[s] = 1;
    else if (s == 1)
      lengths[s] = MAX_LEN;
    else if (s == 3)
      lengths[s] = lengths[2]; /* equal lengths: ties in the packing sort */
    else
      lengths[s] = g_rand_int_range (rand, 1, MAX_LEN + 1);
    seqs[s] = g_new (gint32, lengths[s]);
    for (gint t = 0; t < lengths[s]; t++)
      seqs[s][t] = g_rand_int_range (rand, 0, V);
  }

  /* Each alone. */
  SeqnnInference *inference = seqnn_inference_new (model, 1);
  SeqnnInference *threaded = seqnn_inference_new (model, 2);
  SeqResult alone[POOL];
  GError *error = NULL;
  for (gint s = 0; s < POOL; s++) {
    SeqnnBatch one = { seqs[s], &lengths[s], 1, NULL };
    gfloat logits[C];
    g_assert_true (seqnn_inference_run (inference, &one, NULL, logits, &error));
    g_assert_no_error (error);
    collect (inference, config, 1, 0, lengths[s], logits, &alone[s]);
  }

  /* Batches: the whole pool in random order, ascending, descending, and
   * random subsets (sizes 2..POOL) in random order. */
  gint n_batches = under_valgrind () ? 4 : 8;
  gdouble worst_all = 0.0;
  for (gint b = 0; b < n_batches; b++) {
    gint order[POOL], n = POOL;
    for (gint s = 0; s < POOL; s++)
      order[s] = s;
    for (gint s = POOL - 1; s > 0; s--) { /* Fisher-Yates */
      gint j = g_rand_int_range (rand, 0, s + 1), tmp = order[s];
      order[s] = order[j];
      order[j] = tmp;
    }
    if (b == 1 || b == 2) { /* by length, ascending then descending */
      for (gint x = 1; x < POOL; x++)
        for (gint y = x; y > 0; y--) {
          gboolean swap = b == 1 ? lengths[order[y - 1]] > lengths[order[y]]
              : lengths[order[y - 1]] < lengths[order[y]];
          if (swap) {
            gint tmp = order[y];
            order[y] = order[y - 1];
            order[y - 1] = tmp;
          }
        }
    } else if (b >= 3) {
      n = g_rand_int_range (rand, 2, POOL + 1);
    }

    gint total = 0, blengths[POOL];
    for (gint k = 0; k < n; k++)
      total += blengths[k] = lengths[order[k]];
    g_autofree gint32 *ids = g_new (gint32, total);
    for (gint k = 0, at = 0; k < n; at += blengths[k], k++)
      memcpy (ids + at, seqs[order[k]], blengths[k] * sizeof (gint32));
    SeqnnBatch batch = { ids, blengths, n, NULL };
    g_autofree gfloat *logits = g_new (gfloat, n * C);
    g_autofree gfloat *probs = g_new (gfloat, n * C);
    /* odd batches run on two threads: the split must not show either */
    SeqnnInference *packed_inference = b % 2 ? threaded : inference;
    g_assert_true (seqnn_inference_run (packed_inference, &batch, probs, logits, &error));
    g_assert_no_error (error);

    for (gint k = 0; k < n; k++) {
      SeqResult packed;
      collect (packed_inference, config, n, k, blengths[k], logits, &packed);
      const SeqResult *ref = &alone[order[k]];
      gdouble worst = 0.0;
      guint bad = count_far (packed.logits, ref->logits, C, &worst)
          + count_far (packed.outputs, ref->outputs, (gsize) blengths[k] * F, &worst)
          + count_far (packed.h_n, ref->h_n, (gsize) LD * H, &worst);
      if (ref->c_n != NULL)
        bad += count_far (packed.c_n, ref->c_n, (gsize) LD * H, &worst);
      /* probs sum to one */
      gdouble sum = 0.0;
      for (gint c = 0; c < C; c++)
        sum += probs[k * C + c];
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
      worst_all = MAX (worst_all, worst);
      if (bad > 0)
        g_test_fail_printf ("batch %d slot %d (sequence %d, length %d of %d sequences): "
            "%u values differ from the sequence alone (worst %.3g)", b, k, order[k],
            blengths[k], n, bad, worst);
      seq_result_clear (&packed);
    }
  }

  g_test_message ("largest packed-versus-alone difference: %.3g", worst_all);
  for (gint s = 0; s < POOL; s++) {
    seq_result_clear (&alone[s]);
    g_free (seqs[s]);
  }
  seqnn_inference_free (inference);
  seqnn_inference_free (threaded);
  seqnn_model_free (model);
  g_rand_free (rand);
}

/* ---- Reproducibility ---------------------------------------------------- */

typedef struct {
  SeqnnCell cell;
  gint n_threads;
  SeqnnOptimizerKind optimizer;
} ReproCase;

/* Trains a fresh 2-layer bidirectional model with dropout (so the trainer's
 * seed matters) for a few steps on fixed batches; returns its parameters. */
static gfloat *
train_some (const ReproCase *rc, gsize *n_params)
{
  SeqnnModel *model = new_model (rc->cell, 2, TRUE, SEQNN_HEAD_MEAN, 0.3f, 42);
  SeqnnOptimizerConfig opt;
  seqnn_optimizer_config_init_default (&opt);
  opt.kind = rc->optimizer;
  opt.learning_rate = rc->optimizer == SEQNN_OPTIMIZER_SGD ? 0.1f : 0.01f;
  opt.momentum = rc->optimizer == SEQNN_OPTIMIZER_SGD ? 0.9f : 0.0f;
  GError *error = NULL;
  SeqnnTrainer *trainer = seqnn_trainer_new (model, &opt, rc->n_threads, 1234, &error);
  g_assert_no_error (error);
  seqnn_trainer_set_training (trainer, TRUE);

  GRand *rand = g_rand_new_with_seed (99);
  gint steps = under_valgrind () ? 3 : 6;
  for (gint step = 0; step < steps; step++) {
    gint n = g_rand_int_range (rand, 3, 17), lengths[16], labels[16], total = 0;
    for (gint i = 0; i < n; i++) {
      total += lengths[i] = g_rand_int_range (rand, 1, MAX_LEN + 1);
      labels[i] = g_rand_int_range (rand, 0, C);
    }
    g_autofree gint32 *ids = g_new (gint32, total);
    for (gint j = 0; j < total; j++)
      ids[j] = g_rand_int_range (rand, 0, V);
    SeqnnBatch batch = { ids, lengths, n, labels };
    SeqnnStepResult result;
    g_assert_true (seqnn_trainer_step (trainer, &batch, &result, &error));
    g_assert_no_error (error);
  }
  g_rand_free (rand);
  const gfloat *params = seqnn_model_peek_params (model, n_params);
  gfloat *copy = g_memdup2 (params, *n_params * sizeof (gfloat));
  seqnn_trainer_free (trainer);
  seqnn_model_free (model);
  return copy;
}

static void
test_reproducible (gconstpointer data)
{
  const ReproCase *rc = data;
  gsize n1 = 0, n2 = 0;
  g_autofree gfloat *first = train_some (rc, &n1);
  g_autofree gfloat *second = train_some (rc, &n2);
  g_assert_cmpuint (n1, ==, n2);
  /* training moved the parameters: compare against an untrained model */
  SeqnnModel *fresh = new_model (rc->cell, 2, TRUE, SEQNN_HEAD_MEAN, 0.3f, 42);
  g_assert_true (memcmp (first, seqnn_model_peek_params (fresh, NULL), n1 * sizeof (gfloat)) != 0);
  seqnn_model_free (fresh);
  g_assert_true (memcmp (first, second, n1 * sizeof (gfloat)) == 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  arch_cases_add ("/packed", test_packed_equals_alone);

  static const SeqnnCell cells[] = {
    SEQNN_CELL_RNN_TANH, SEQNN_CELL_RNN_RELU, SEQNN_CELL_LSTM, SEQNN_CELL_GRU,
  };
  static ReproCase repro[G_N_ELEMENTS (cells) * 2 + 2];
  guint n = 0;
  for (guint c = 0; c < G_N_ELEMENTS (cells); c++)
    for (gint threads = 1; threads <= 2; threads++) {
      ReproCase *rc = &repro[n++];
      *rc = (ReproCase) { cells[c], threads, SEQNN_OPTIMIZER_ADAM };
      g_autofree gchar *path = g_strdup_printf ("/reproducible/%s/adam/threads-%d",
          seqnn_cell_to_string (cells[c]), threads);
      g_test_add_data_func (path, rc, test_reproducible);
    }
  for (gint threads = 1; threads <= 2; threads++) {
    ReproCase *rc = &repro[n++];
    *rc = (ReproCase) { SEQNN_CELL_LSTM, threads, SEQNN_OPTIMIZER_SGD };
    g_autofree gchar *path = g_strdup_printf ("/reproducible/lstm/sgd/threads-%d", threads);
    g_test_add_data_func (path, rc, test_reproducible);
  }
  return g_test_run ();
}
