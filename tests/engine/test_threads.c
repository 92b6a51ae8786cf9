/* Threads: a batch split into shards gives the same results as one thread up
 * to float rounding, and the same seed, data and thread count give
 * bit-identical weights.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "seqnn/model.h"
#include "network.h"

#define V 300
#define N 48        /* sequences per batch (fewer under valgrind) */
#define MAX_LEN 40

/* Sizes shrink under valgrind, keeping batches big enough to be split. */
static gint n_seqs = N, max_len = MAX_LEN, hidden = 48;

static gboolean
under_valgrind (void)
{
  return g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
}

typedef struct {
  gint32 ids[N * MAX_LEN];
  gint lengths[N];
  gint labels[N];
  SeqnnBatch batch;
  gsize n_tokens;
} Data;

static void
make_batch (Data *d, guint64 seed, gint n)
{
  GRand *rand = g_rand_new_with_seed ((guint32) seed);
  gint total = 0;
  for (gint i = 0; i < n; i++) {
    d->lengths[i] = g_rand_int_range (rand, 1, max_len);
    d->labels[i] = g_rand_int_range (rand, 0, 4);
    for (gint t = 0; t < d->lengths[i]; t++)
      d->ids[total++] = g_rand_int_range (rand, 0, V);
  }
  g_rand_free (rand);
  d->n_tokens = total;
  d->batch = (SeqnnBatch) { d->ids, d->lengths, n, d->labels };
}

static SeqnnModel *
new_model (SeqnnCell cell, gint layers, gboolean bidir, gfloat dropout)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  c.cell = cell;
  c.vocab_size = V;
  c.embed_dim = 16;
  c.hidden_dim = hidden;
  c.num_layers = layers;
  c.bidirectional = bidir;
  c.dropout = dropout;
  c.padding_idx = 1;
  if (layers == 0) {
    /* a bag's work is its embedding rows': wide enough to be split */
    c.embed_dim = 1024;
    c.head = SEQNN_HEAD_MEAN;
  }
  SeqnnModel *m = seqnn_model_new (&c, NULL);
  g_assert_nonnull (m);
  seqnn_model_init_params (m, 99);
  return m;
}

/* The batches here are big enough that two threads really split them. */
static void
assert_sharded (SeqnnModel *m, const Data *d)
{
  g_assert_cmpint (seqnn_choose_n_shards (seqnn_model_get_layout (m), d->batch.n, d->n_tokens, 2), ==, 2);
}

/* One and two threads compute the same loss, correct count and gradients
 * (to float rounding) for m on d, with the given dropouts. */
static void
assert_gradients_match (SeqnnModel *m, const Data *d, gfloat embedding_dropout, gfloat head_dropout)
{
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  SeqnnTrainer *one = seqnn_trainer_new (m, &oc, 1, 17, NULL);
  SeqnnTrainer *two = seqnn_trainer_new (m, &oc, 2, 17, NULL);
  seqnn_trainer_set_dropout (one, embedding_dropout, head_dropout);
  seqnn_trainer_set_dropout (two, embedding_dropout, head_dropout);
  SeqnnStepResult r1, r2;
  g_assert_true (seqnn_trainer_compute_gradients (one, &d->batch, &r1, NULL));
  g_assert_true (seqnn_trainer_compute_gradients (two, &d->batch, &r2, NULL));
  g_assert_cmpfloat_with_epsilon (r1.loss, r2.loss, 1e-6);
  g_assert_cmpint (r1.n_correct, ==, r2.n_correct);
  gsize n;
  const gfloat *g1 = seqnn_trainer_get_gradients (one, &n);
  const gfloat *g2 = seqnn_trainer_get_gradients (two, NULL);
  gdouble norm = 0;
  for (gsize i = 0; i < n; i++) {
    g_assert_cmpfloat (fabs (g1[i] - g2[i]), <=, 1e-6 + 1e-4 * fabs (g1[i]));
    norm += (gdouble) g1[i] * g1[i];
  }
  g_assert_cmpfloat (norm, >, 0.0);
  seqnn_trainer_free (one);
  seqnn_trainer_free (two);
}

/* One and two inference threads give the same probabilities for d. */
static void
assert_probabilities_match (SeqnnInference *one, SeqnnInference *two, const Data *d)
{
  gfloat p1[N * 4], p2[N * 4];
  g_assert_true (seqnn_inference_run (one, &d->batch, p1, NULL, NULL));
  g_assert_true (seqnn_inference_run (two, &d->batch, p2, NULL, NULL));
  for (gint i = 0; i < n_seqs * 4; i++)
    g_assert_cmpfloat_with_epsilon (p1[i], p2[i], 1e-6);
}

static void
test_gradients_match (void)
{
  const SeqnnCell cells[] = { SEQNN_CELL_LSTM, SEQNN_CELL_GRU, SEQNN_CELL_RNN_TANH };
  for (guint ci = 0; ci < G_N_ELEMENTS (cells); ci++) {
    SeqnnModel *m = new_model (cells[ci], 2, TRUE, 0.3f);
    Data d;
    make_batch (&d, 5 + ci, n_seqs);
    assert_sharded (m, &d);
    assert_gradients_match (m, &d, 0.0f, 0.0f);
    seqnn_model_free (m);
  }
}

/* A bag of embeddings (no recurrent layer) is split too: its work is the
 * embedding rows', with both dropouts on. */
static void
test_bag_gradients_match (void)
{
  SeqnnModel *m = new_model (SEQNN_CELL_LSTM, 0, FALSE, 0.0f);
  Data d;
  make_batch (&d, 11, n_seqs);
  assert_sharded (m, &d);
  assert_gradients_match (m, &d, 0.3f, 0.5f);
  SeqnnInference *one = seqnn_inference_new (m, 1), *two = seqnn_inference_new (m, 2);
  assert_probabilities_match (one, two, &d);
  seqnn_inference_free (one);
  seqnn_inference_free (two);
  seqnn_model_free (m);
}

/* Inference: 1 vs 2 threads, to float rounding. */
static void
test_inference_match (void)
{
  SeqnnModel *m = new_model (SEQNN_CELL_LSTM, 2, TRUE, 0.0f);
  Data d;
  make_batch (&d, 3, n_seqs);
  assert_sharded (m, &d);
  SeqnnInference *one = seqnn_inference_new (m, 1), *two = seqnn_inference_new (m, 2);
  assert_probabilities_match (one, two, &d);
  const gfloat *h1 = seqnn_inference_get_final_hidden (one), *h2 = seqnn_inference_get_final_hidden (two);
  for (gint i = 0; i < 4 * n_seqs * hidden; i++)
    g_assert_cmpfloat_with_epsilon (h1[i], h2[i], 1e-6);
  const gint F = 2 * hidden;
  gfloat *o1 = g_new (gfloat, MAX_LEN * F), *o2 = g_new (gfloat, MAX_LEN * F);
  for (gint i = 0; i < n_seqs; i += 7) {
    seqnn_inference_copy_outputs (one, i, o1);
    seqnn_inference_copy_outputs (two, i, o2);
    for (gint k = 0; k < d.lengths[i] * F; k++)
      g_assert_cmpfloat_with_epsilon (o1[k], o2[k], 1e-6);
  }
  g_free (o1);
  g_free (o2);
  seqnn_inference_free (one);
  seqnn_inference_free (two);
  seqnn_model_free (m);
}

static gfloat *
train (gint n_threads, guint64 seed, SeqnnOptimizerKind kind, gint steps)
{
  SeqnnModel *m = new_model (SEQNN_CELL_LSTM, 2, FALSE, 0.25f);
  SeqnnOptimizerConfig oc;
  seqnn_optimizer_config_init_default (&oc);
  oc.kind = kind;
  oc.learning_rate = kind == SEQNN_OPTIMIZER_SGD ? 0.1f : 0.001f;
  oc.momentum = kind == SEQNN_OPTIMIZER_SGD ? 0.5f : 0.0f;
  oc.clip_norm = 5.0f;
  SeqnnTrainer *tr = seqnn_trainer_new (m, &oc, n_threads, seed, NULL);
  for (gint s = 0; s < steps; s++) {
    Data d;
    make_batch (&d, 1000 + s, n_seqs);
    if (s == 0)
      assert_sharded (m, &d);
    GError *error = NULL;
    g_assert_true (seqnn_trainer_step (tr, &d.batch, NULL, &error));
    g_assert_no_error (error);
  }
  gsize n;
  const gfloat *trained = seqnn_model_peek_params (m, &n);
  gfloat *params = g_memdup2 (trained, n * sizeof (gfloat));
  seqnn_trainer_free (tr);
  seqnn_model_free (m);
  return params;
}

static gsize
n_params (void)
{
  SeqnnModel *m = new_model (SEQNN_CELL_LSTM, 2, FALSE, 0.25f);
  gsize n;
  seqnn_model_peek_params (m, &n);
  seqnn_model_free (m);
  return n;
}

static void
test_bit_identical (void)
{
  gint steps = under_valgrind () ? 2 : 5;
  gsize n = n_params ();
  for (gint threads = 1; threads <= 2; threads++) {
    gfloat *a = train (threads, 4, SEQNN_OPTIMIZER_ADAM, steps);
    gfloat *b = train (threads, 4, SEQNN_OPTIMIZER_ADAM, steps);
    g_assert_cmpmem (a, n * sizeof (gfloat), b, n * sizeof (gfloat));
    /* another dropout seed: other weights */
    gfloat *c = train (threads, 5, SEQNN_OPTIMIZER_ADAM, steps);
    g_assert_true (memcmp (a, c, n * sizeof (gfloat)) != 0);
    g_free (a);
    g_free (b);
    g_free (c);
  }
}

/* Dropout masks follow each sequence, so 1 and 2 threads train the same
 * weights up to rounding (SGD: no Adam sign amplification of tiny gradients). */
static void
test_weights_match (void)
{
  gint steps = under_valgrind () ? 2 : 5;
  gsize n = n_params ();
  gfloat *a = train (1, 4, SEQNN_OPTIMIZER_SGD, steps);
  gfloat *b = train (2, 4, SEQNN_OPTIMIZER_SGD, steps);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat (fabs (a[i] - b[i]), <=, 1e-5 * (1 + fabs (a[i])));
  g_free (a);
  g_free (b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (under_valgrind ()) {
    n_seqs = 24;
    max_len = 20;
    hidden = 32;
  }
  g_test_add_func ("/threads/gradients-match", test_gradients_match);
  g_test_add_func ("/threads/bag-gradients-match", test_bag_gradients_match);
  g_test_add_func ("/threads/inference-match", test_inference_match);
  g_test_add_func ("/threads/bit-identical", test_bit_identical);
  g_test_add_func ("/threads/weights-match", test_weights_match);
  return g_test_run ();
}
