/* Stream training (seqnn_fit with stream_training): the window gradients
 * (loss at several positions, from a carried initial state) against finite
 * differences for every cell and 1-2 layers; the state the trainer carries
 * equals the engine's; training on a made-up topic dataset reaches a stated
 * per-cue accuracy on a stream it never saw, above the cue-alone accuracy;
 * the settings it refuses.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>

#include "seqnn/seqnn.h"
#include "network.h"
#include "streamtrain.h"

/* ---- gradient checks ------------------------------------------------------------- */

#define GV 11
#define GE 4
#define GH 3
#define GC 3
#define NS 3        /* streams */
#define WL 6        /* window length */
#define FD_EPS 1e-2
#define FD_RTOL 2e-2
#define FD_ATOL 3e-4

typedef struct {
  const gchar *name;
  SeqnnCell cell;
  gint layers;
  gboolean dropout;  /* between the layers, on the embedding and on the read positions */
} GradCase;

static const GradCase grad_cases[] = {
  { "rnn-tanh-1", SEQNN_CELL_RNN_TANH, 1, FALSE },
  { "rnn-tanh-2", SEQNN_CELL_RNN_TANH, 2, FALSE },
  { "lstm-1", SEQNN_CELL_LSTM, 1, FALSE },
  { "lstm-2", SEQNN_CELL_LSTM, 2, FALSE },
  { "gru-1", SEQNN_CELL_GRU, 1, FALSE },
  { "gru-2", SEQNN_CELL_GRU, 2, FALSE },
  { "lstm-2-dropout", SEQNN_CELL_LSTM, 2, TRUE },
  { "gru-1-dropout", SEQNN_CELL_GRU, 1, TRUE },
};

typedef struct {
  SeqnnModel *model;
  SeqnnNet *net;
  SeqnnTrainer *dropping;   /* with dropout: the loss under the step's fixed masks */
  gint32 ids[NS * WL];
  gint targets[NS * WL];
  gfloat h0[NS * 2 * GH], c0[NS * 2 * GH];
  gint seqs[NS * WL], steps[NS * WL], labels[NS * WL], P;
} GradFixture;

/* Mean cross-entropy at the targets, in double from the engine's float logits. */
static gdouble
window_loss (GradFixture *fx)
{
  if (fx->dropping != NULL) {
    /* no update between calls: the same step, the same masks; the trainer
     * carries the state on, so it gets copies */
    gfloat h[NS * 2 * GH], c[NS * 2 * GH];
    SeqnnStepResult result;
    GError *error = NULL;
    memcpy (h, fx->h0, sizeof h);
    memcpy (c, fx->c0, sizeof c);
    g_assert_true (seqnn_trainer_compute_window_gradients (fx->dropping, fx->ids, NS, WL,
            fx->targets, h, c, &result, &error));
    g_assert_no_error (error);
    return result.loss;
  }
  const gfloat *params = seqnn_model_peek_params (fx->model, NULL);
  gint lengths[NS];
  for (gint b = 0; b < NS; b++)
    lengths[b] = WL;
  seqnn_net_forward_from (fx->net, params, fx->ids, lengths, NS, fx->h0, fx->c0, FALSE, FALSE, 0, 0);
  seqnn_net_forward_positions (fx->net, params, fx->seqs, fx->steps, fx->P);
  gdouble total = 0;
  for (gint i = 0; i < fx->P; i++) {
    gint arg;
    total += seqnn_cross_entropy_row (fx->net->pos_logits + i * GC, GC, fx->labels[i], &arg);
  }
  return total / fx->P;
}

static void
test_window_gradients (gconstpointer data)
{
  const GradCase *gc = data;
  GError *error = NULL;
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  config.cell = gc->cell;
  config.vocab_size = GV;
  config.embed_dim = GE;
  config.hidden_dim = GH;
  config.num_layers = gc->layers;
  config.num_classes = GC;
  config.dropout = gc->dropout && gc->layers > 1 ? 0.3f : 0.0f;
  GradFixture fx = { 0 };
  fx.model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (fx.model, 21);
  fx.net = seqnn_net_new (seqnn_model_get_layout (fx.model));
  g_assert_true (seqnn_net_reserve (fx.net, NS, NS * WL, FALSE, &error));
  g_assert_true (seqnn_net_reserve_positions (fx.net, NS * WL, FALSE, &error));
  GRand *rand = g_rand_new_with_seed (5);
  for (gint i = 0; i < NS * WL; i++) {
    fx.ids[i] = g_rand_int_range (rand, 0, GV);
    /* several targets per stream, one at the last step, none in places */
    fx.targets[i] = (i % WL == WL - 1 || g_rand_double (rand) < 0.3) ? g_rand_int_range (rand, 0, GC) : -1;
    if (fx.targets[i] >= 0) {
      fx.seqs[fx.P] = i / WL;
      fx.steps[fx.P] = i % WL;
      fx.labels[fx.P++] = fx.targets[i];
    }
  }
  const gint LH = gc->layers * GH;
  for (gint i = 0; i < NS * LH; i++) {
    fx.h0[i] = (gfloat) g_rand_double_range (rand, -0.8, 0.8);
    fx.c0[i] = (gfloat) g_rand_double_range (rand, -1.5, 1.5);
  }

  /* analytic: the trainer's, from copies of the state (it carries them on) */
  SeqnnOptimizerConfig opt;
  seqnn_optimizer_config_init_default (&opt);
  opt.dense_embedding = TRUE;
  SeqnnTrainer *trainer = seqnn_trainer_new (fx.model, &opt, 1, 0, &error);
  g_assert_no_error (error);
  if (gc->dropout)
    seqnn_trainer_set_dropout (trainer, 0.3f, 0.4f);
  gfloat h[NS * 2 * GH], c[NS * 2 * GH];
  memcpy (h, fx.h0, sizeof h);
  memcpy (c, fx.c0, sizeof c);
  SeqnnStepResult result;
  g_assert_true (seqnn_trainer_compute_window_gradients (trainer, fx.ids, NS, WL, fx.targets, h, c,
      &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.n, ==, fx.P);
  gdouble loss0 = window_loss (&fx);
  if (gc->dropout) {
    /* the masks change the loss (else this checks nothing new); the
     * trainer's own loss is the numeric one from here on */
    g_assert_cmpfloat (fabs (result.loss - loss0), >, 1e-4);
    fx.dropping = trainer;
    loss0 = window_loss (&fx);
  }
  g_assert_cmpfloat (fabs (result.loss - loss0), <, 1e-5);
  /* the carried state is the engine's final state over the window (without
   * dropout: with it, the masks make it another) */
  gfloat h_end[NS * 2 * GH], c_end[NS * 2 * GH];
  seqnn_net_copy_states (fx.net, h_end, config.cell == SEQNN_CELL_LSTM ? c_end : NULL);
  for (gint i = 0; i < NS * LH && !gc->dropout; i++) {
    g_assert_cmpfloat (fabsf (h[i] - h_end[i]), <, 1e-6f);
    if (config.cell == SEQNN_CELL_LSTM)
      g_assert_cmpfloat (fabsf (c[i] - c_end[i]), <, 1e-6f);
  }
  gsize n_params;
  const gfloat *grad = seqnn_trainer_get_gradients (trainer, &n_params);
  gfloat *analytic = g_memdup2 (grad, sizeof (gfloat) * n_params);

  /* numeric: central differences on a seeded subset of every tensor */
  gfloat *params = seqnn_model_get_params (fx.model, NULL);
  gint checked = 0;
  for (guint k = 0; k < seqnn_model_get_n_tensors (fx.model); k++) {
    const SeqnnTensorInfo *t = seqnn_model_get_tensor (fx.model, k);
    for (gint pick = 0; pick < 6; pick++) {
      gsize at = t->offset + (gsize) g_rand_int_range (rand, 0, (gint) t->numel);
      if (k == 0) /* embedding: a row the window uses */
        at = (gsize) fx.ids[g_rand_int_range (rand, 0, NS * WL)] * GE + (gsize) g_rand_int_range (rand, 0, GE);
      gfloat orig = params[at];
      params[at] = (gfloat) (orig + FD_EPS);
      gdouble step_plus = (gdouble) params[at] - orig, lp = window_loss (&fx);
      params[at] = (gfloat) (orig - FD_EPS);
      gdouble step_minus = orig - (gdouble) params[at], lm = window_loss (&fx);
      params[at] = orig;
      gdouble numeric = (lp - lm) / (step_plus + step_minus);
      gdouble a = analytic[at];
      if (fabs (a - numeric) > FD_ATOL + FD_RTOL * MAX (fabs (a), fabs (numeric)))
        g_error ("%s: %s[%" G_GSIZE_FORMAT "]: analytic %.6g, numeric %.6g", gc->name, t->name,
            at - t->offset, a, numeric);
      checked++;
    }
  }
  g_assert_cmpint (checked, >=, 6 * 5);
  g_free (analytic);
  g_rand_free (rand);
  seqnn_trainer_free (trainer);
  seqnn_net_free (fx.net);
  seqnn_model_free (fx.model);
}

/* ---- training on a made-up topic stream ------------------------------------------------ */

#define TOPICS 4
#define TOPIC_WORDS 6
#define NOISE_WORDS 30

/* A record of its topic: 12-30 tokens, each a topic word with probability 0.25. */
static void
make_record (GRand *rand, gint topic, SeqnnTokens *tokens)
{
  gint n = g_rand_int_range (rand, 12, 31);
  seqnn_tokens_clear (tokens);
  for (gint i = 0; i < n; i++) {
    gchar word[16];
    if (g_rand_double (rand) < 0.25)
      g_snprintf (word, sizeof word, "t%d_%d", topic, g_rand_int_range (rand, 0, TOPIC_WORDS));
    else
      g_snprintf (word, sizeof word, "n%d", g_rand_int_range (rand, 0, NOISE_WORDS));
    seqnn_tokens_append (tokens, word, -1);
  }
}

static SeqnnDataset *
make_dataset (guint32 seed, gint n)
{
  GRand *rand = g_rand_new_with_seed (seed);
  SeqnnDataset *dataset = seqnn_dataset_new ();
  SeqnnTokens *tokens = seqnn_tokens_new ();
  for (gint i = 0; i < n; i++) {
    gint topic = g_rand_int_range (rand, 0, TOPICS);
    make_record (rand, topic, tokens);
    seqnn_dataset_add (dataset, tokens, topic);
  }
  seqnn_tokens_free (tokens);
  g_rand_free (rand);
  return dataset;
}

static gboolean
record_progress (const SeqnnTrainProgress *p, gpointer user_data)
{
  if (p->epoch_end)
    *(gdouble *) user_data = p->validation_accuracy;
  return TRUE;
}

static void
fit_options (SeqnnFitOptions *options, gdouble *validation_accuracy)
{
  seqnn_fit_options_init_default (options);
  options->model.embed_dim = 16;
  options->model.hidden_dim = 32;
  options->train.epochs = 6;
  options->train.batch_size = 8;
  options->train.seed = 3;
  options->train.n_threads = 1;
  options->train.validation_fraction = 0.2;
  options->train.optimizer.learning_rate = 0.01f;
  options->stream_training = TRUE;
  options->stream.window = 32;
  options->progress = record_progress;
  options->user_data = validation_accuracy;
}

/* Per-cue accuracy on a new broadcast of 300 stories cut into 4-10-token
 * cues: through SeqnnStream (context) and with the state reset before every
 * cue (cue alone). */
static void
broadcast_accuracy (SeqnnClassifier *classifier, gdouble *with_context, gdouble *alone)
{
  GError *error = NULL;
  SeqnnStream *stream = seqnn_stream_new (classifier, 1, &error);
  g_assert_no_error (error);
  SeqnnStream *single = seqnn_stream_new (classifier, 1, &error);
  GRand *rand = g_rand_new_with_seed (99);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (classifier);
  guint64 right = 0, right_alone = 0, n = 0;
  for (gint story = 0; story < 300; story++) {
    gint topic = g_rand_int_range (rand, 0, TOPICS);
    make_record (rand, topic, tokens);
    g_array_set_size (ids, 0);
    seqnn_vocab_encode (vocab, tokens, ids);
    gint len = (gint) ids->len;
    for (gint i = 0; i < len;) {
      gint cue = g_rand_int_range (rand, 4, 11);
      cue = MIN (cue, len - i);
      gfloat probs[TOPICS], probs_alone[TOPICS];
      seqnn_stream_run (stream, &g_array_index (ids, gint32, i), &cue, 1, probs, &error);
      g_assert_no_error (error);
      seqnn_stream_reset (single);
      g_assert_true (seqnn_stream_run (single, &g_array_index (ids, gint32, i), &cue, 1, probs_alone, &error));
      gint arg = 0, arg_alone = 0;
      for (gint c = 1; c < TOPICS; c++) {
        arg = probs[c] > probs[arg] ? c : arg;
        arg_alone = probs_alone[c] > probs_alone[arg_alone] ? c : arg_alone;
      }
      right += arg == topic;
      right_alone += arg_alone == topic;
      n++;
      i += cue;
    }
  }
  *with_context = (gdouble) right / n;
  *alone = (gdouble) right_alone / n;
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
  g_rand_free (rand);
  seqnn_stream_free (single);
  seqnn_stream_free (stream);
}

/* Stated: after 6 epochs on 800 made-up stories (640 trained on), per-cue
 * accuracy >= 0.85 on a new broadcast with context (measured 0.937), at least
 * 0.05 above the same model cue by cue (0.831), and the validation stream's
 * per-cue accuracy >= 0.80 (0.936). */
static void
test_train_topics (void)
{
  GError *error = NULL;
  SeqnnDataset *dataset = make_dataset (1, 800);
  SeqnnLabelSet *labels = seqnn_label_set_new_from_strv ((const gchar *const[]) { "a", "b", "c", "d", NULL });
  SeqnnFitOptions options;
  gdouble validation_accuracy = NAN;
  fit_options (&options, &validation_accuracy);
  SeqnnClassifier *classifier = seqnn_fit (dataset, labels, &options, &error);
  g_assert_no_error (error);
  g_assert_true (seqnn_classifier_is_stream (classifier));
  g_assert_nonnull (seqnn_classifier_get_metadata (classifier, "train.stream"));
  gdouble with_context, alone;
  broadcast_accuracy (classifier, &with_context, &alone);
  g_test_message ("per-cue accuracy: validation stream %.3f, new broadcast %.3f with context, %.3f cue alone",
      validation_accuracy, with_context, alone);
  g_assert_cmpfloat (validation_accuracy, >=, 0.80);
  g_assert_cmpfloat (with_context, >=, 0.85);
  g_assert_cmpfloat (with_context - alone, >=, 0.05);
  seqnn_classifier_free (classifier);
  seqnn_label_set_free (labels);
  seqnn_dataset_free (dataset);
}

/* ---- refusals ----------------------------------------------------------------------- */

typedef struct {
  const gchar *name;
  gboolean bidirectional;
  SeqnnHead head;
  gint window, min_cue, max_cue;
  const gchar *message;
} RefusalCase;

static const RefusalCase refusal_cases[] = {
  { "bidirectional", TRUE, SEQNN_HEAD_LAST, 64, 4, 10, "unidirectional model with head last" },
  { "head max", FALSE, SEQNN_HEAD_MAX, 64, 4, 10, "this one is head max" },
  { "window 0", FALSE, SEQNN_HEAD_LAST, 0, 4, 10, "window must be at least 1" },
  { "cue bounds", FALSE, SEQNN_HEAD_LAST, 64, 6, 5, "1 <= min <= max" },
};

static void
test_refusal (gconstpointer data)
{
  const RefusalCase *rc = data;
  GError *error = NULL;
  SeqnnDataset *dataset = make_dataset (2, 40);
  SeqnnLabelSet *labels = seqnn_label_set_new_from_strv ((const gchar *const[]) { "a", "b", "c", "d", NULL });
  SeqnnFitOptions options;
  gdouble accuracy;
  fit_options (&options, &accuracy);
  options.train.epochs = 1;
  options.model.bidirectional = rc->bidirectional;
  options.model.head = rc->head;
  options.stream.window = rc->window;
  options.stream.min_cue_tokens = rc->min_cue;
  options.stream.max_cue_tokens = rc->max_cue;
  g_assert_null (seqnn_fit (dataset, labels, &options, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, rc->message) == NULL)
    g_error ("%s: \"%s\" lacks \"%s\"", rc->name, error->message, rc->message);
  g_clear_error (&error);
  seqnn_label_set_free (labels);
  seqnn_dataset_free (dataset);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (grad_cases); i++) {
    gchar *name = g_strdup_printf ("/streamtrain/window-gradients/%s", grad_cases[i].name);
    g_test_add_data_func (name, &grad_cases[i], test_window_gradients);
    g_free (name);
  }
  for (guint i = 0; i < G_N_ELEMENTS (refusal_cases); i++) {
    gchar *name = g_strdup_printf ("/streamtrain/refusal/%s", refusal_cases[i].name);
    g_test_add_data_func (name, &refusal_cases[i], test_refusal);
    g_free (name);
  }
  g_test_add_func ("/streamtrain/topics", test_train_topics);
  return g_test_run ();
}
