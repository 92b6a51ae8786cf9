/* The autotune search on small made-up datasets: the budget, the best trial,
 * fixed settings, the model-size bound, reproducibility, bad input.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <seqnn/seqnn.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

static gboolean
under_valgrind (void)
{
  return g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
}

/* n records over n_classes classes (label i % n_classes): one class marker
 * word among 2..7 shared noise words, and a share of records whose marker is
 * another class's (label noise), so trials differ in what they reach. */
static SeqnnDataset *
make_noisy_dataset (gint n_classes, gsize n, guint32 seed, gint noise_in_10)
{
  SeqnnDataset *dataset = seqnn_dataset_new ();
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < n; i++) {
    gint label = (gint) (i % n_classes);
    gint length = g_rand_int_range (rand, 2, 8);
    gint marker_at = g_rand_int_range (rand, 0, length);
    gint marker_class = g_rand_int_range (rand, 0, 10) < noise_in_10
        ? g_rand_int_range (rand, 0, n_classes) : label;
    seqnn_tokens_clear (tokens);
    for (gint t = 0; t < length; t++) {
      gchar word[32];
      if (t == marker_at)
        g_snprintf (word, sizeof word, "c%dw%d", marker_class, g_rand_int_range (rand, 0, 8));
      else
        g_snprintf (word, sizeof word, "n%d", g_rand_int_range (rand, 0, 20));
      seqnn_tokens_append (tokens, word, -1);
    }
    seqnn_dataset_add (dataset, tokens, label);
  }
  g_rand_free (rand);
  seqnn_tokens_free (tokens);
  return dataset;
}

/* A tenth of the markers another class's. */
static SeqnnDataset *
make_dataset (gint n_classes, gsize n, guint32 seed)
{
  return make_noisy_dataset (n_classes, n, seed, 1);
}

/* Field by field, through the printed form (no padding bytes compared). */
static gboolean
params_same (const SeqnnAutotuneParams *a, const SeqnnAutotuneParams *b)
{
  gchar *x = seqnn_autotune_params_to_string (a), *y = seqnn_autotune_params_to_string (b);
  gboolean same = strcmp (x, y) == 0;
  g_free (x);
  g_free (y);
  return same;
}

static const gchar *const labels[] = { "a", "b", "c", NULL };

/* Small networks keep each trial short (also under valgrind): the search
 * then varies cell, direction, head, vocabulary, learning rate, batch size. */
static void
small_options (SeqnnAutotuneOptions *o, gdouble duration)
{
  seqnn_autotune_options_init_default (o);
  o->duration = duration;
  o->seed = 7;
  o->n_threads = 1;
  o->validation_fraction = 0.25;
  o->fixed = SEQNN_AUTOTUNE_EMBED_DIM | SEQNN_AUTOTUNE_HIDDEN_DIM | SEQNN_AUTOTUNE_LAYERS
      | SEQNN_AUTOTUNE_EPOCHS | SEQNN_AUTOTUNE_MAX_TOKENS;
  o->fixed_params.embed_dim = 8;
  o->fixed_params.hidden_dim = 8;
  o->fixed_params.num_layers = 1;
  o->fixed_params.epochs = 4;
  o->fixed_params.max_tokens = 0;
}

static gboolean
collect (const SeqnnAutotuneTrial *trial, gpointer user_data)
{
  gchar *settings = seqnn_autotune_params_to_string (&trial->params);
  g_test_message ("trial %d: %s: epoch %d of %d, accuracy %.3f, %.2f s%s%s", trial->index,
      settings, trial->best_epoch, trial->epochs_run, trial->validation_accuracy,
      trial->seconds, trial->cut ? ", cut" : "", trial->best ? ", best" : "");
  g_free (settings);
  g_array_append_val ((GArray *) user_data, *trial);
  return TRUE;
}

static void
test_budget_and_best (void)
{
  gdouble budget = under_valgrind () ? 8.0 : 2.0;
  SeqnnDataset *data = make_dataset (3, 600, 1);
  SeqnnAutotuneOptions o;
  SeqnnAutotuneTrial best;
  GArray *trials = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
  GError *error = NULL;
  gint n_trials = 0;

  small_options (&o, budget);
  gint64 start = g_get_monotonic_time ();
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, collect, trials, &best,
      &n_trials, &error);
  gdouble took = (g_get_monotonic_time () - start) / 1e6;
  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_assert_cmpint (n_trials, ==, (gint) trials->len);
  /* The budget plus one validation pass of 60 records (generous for valgrind). */
  g_assert_cmpfloat (took, <, budget + (under_valgrind () ? 3.0 : 0.5));

  gdouble worst = 2.0, top = -1.0;
  gint n_results = 0;
  for (guint i = 0; i < trials->len; i++) {
    const SeqnnAutotuneTrial *t = &g_array_index (trials, SeqnnAutotuneTrial, i);
    g_assert_cmpint (t->index, ==, (gint) i + 1);
    g_assert_cmpint (t->params.embed_dim, ==, 8);
    g_assert_cmpint (t->params.epochs, ==, 4);
    g_assert_cmpint (t->epochs_run, <=, 4);
    if (isnan (t->validation_accuracy))
      continue;
    n_results++;
    worst = MIN (worst, t->validation_accuracy);
    top = MAX (top, t->validation_accuracy);
  }
  g_assert_cmpint (n_results, >=, 1);
  /* the top, or a setting before it that the top did not beat by more than chance
   * (a standard error of the 150 validation rows) */
  gdouble se = sqrt (best.validation_accuracy * (1.0 - best.validation_accuracy) / 150.0);
  g_assert_cmpfloat (best.validation_accuracy, <=, top);
  g_assert_cmpfloat (top, <=, best.validation_accuracy + se + 1e-9);
  if (!under_valgrind ()) {
    /* Several trials fit in two seconds, and they differ. */
    g_assert_cmpint (n_results, >=, 3);
    g_assert_cmpfloat (best.validation_accuracy, >, worst);
  }

  /* The returned weights are the best trial's: the same accuracy on its validation share
   * is not observable here, but the model beats chance clearly and the file says how. */
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (c));
  g_assert_cmpint (config->cell, ==, best.params.cell);
  g_assert_cmpint (config->bidirectional, ==, best.params.bidirectional);
  g_assert_cmpint (config->vocab_size, ==, best.vocab_size);
  if (!under_valgrind ()) /* there, a trial or two fit: memory is what is checked */
    g_assert_cmpfloat (best.validation_accuracy, >, 0.6);
  gchar *settings = seqnn_autotune_params_to_string (&best.params);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "autotune.settings"), ==, settings);
  g_free (settings);
  g_assert_nonnull (seqnn_classifier_get_metadata (c, "autotune.validation_accuracy"));

  seqnn_classifier_free (c);
  g_array_unref (trials);
  seqnn_dataset_free (data);
}

static void
test_fixed_respected (void)
{
  SeqnnDataset *data = make_dataset (3, 150, 2);
  SeqnnAutotuneOptions o;
  GArray *trials = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
  GError *error = NULL;

  small_options (&o, under_valgrind () ? 4.0 : 1.0);
  o.fixed |= SEQNN_AUTOTUNE_CELL | SEQNN_AUTOTUNE_HEAD | SEQNN_AUTOTUNE_LEARNING_RATE;
  o.fixed_params.cell = SEQNN_CELL_GRU;
  o.fixed_params.head = SEQNN_HEAD_MEAN;
  o.fixed_params.learning_rate = 0.004f;
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, collect, trials, NULL, NULL,
      &error);
  g_assert_no_error (error);
  for (guint i = 0; i < trials->len; i++) {
    const SeqnnAutotuneTrial *t = &g_array_index (trials, SeqnnAutotuneTrial, i);
    g_assert_cmpint (t->params.cell, ==, SEQNN_CELL_GRU);
    g_assert_cmpint (t->params.head, ==, SEQNN_HEAD_MEAN);
    g_assert_cmpfloat (t->params.learning_rate, ==, 0.004f);
    g_assert_cmpint (t->params.hidden_dim, ==, 8);
    /* Every trial differs from the others on as many rows in some free setting. */
    for (guint j = 0; j < i; j++) {
      const SeqnnAutotuneTrial *u = &g_array_index (trials, SeqnnAutotuneTrial, j);
      if (u->n_samples == t->n_samples && u->rung == t->rung)
        g_assert_false (params_same (&t->params, &u->params));
    }
  }
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (c));
  g_assert_cmpint (config->cell, ==, SEQNN_CELL_GRU);
  g_assert_cmpint (config->head, ==, SEQNN_HEAD_MEAN);
  /* each of the retrain's networks has the fixed size */
  gint members = atoi (seqnn_classifier_get_metadata (c, "autotune.members"));
  g_assert_cmpint (members, >=, 1);
  g_assert_cmpint (config->hidden_dim, ==, 8 * members);
  seqnn_classifier_free (c);

  /* Everything fixed: one trial, the user's settings. */
  g_array_set_size (trials, 0);
  o.fixed = ~0u;
  o.fixed_params.embed_dim = 8;
  o.fixed_params.min_freq = 1;
  o.fixed_params.batch_size = 16;
  o.duration = 30.0;
  c = seqnn_autotune (data, labels, NULL, &o, collect, trials, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (trials->len, ==, 1);
  g_assert_true (params_same (&g_array_index (trials, SeqnnAutotuneTrial, 0).params,
          &o.fixed_params));
  seqnn_classifier_free (c);
  g_array_unref (trials);
  seqnn_dataset_free (data);
}

static void
test_model_size (void)
{
  SeqnnDataset *data = make_dataset (3, 150, 3);
  SeqnnAutotuneOptions o;
  GArray *trials = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("seqnn-autotune-XXXXXX", &error);
  g_assert_no_error (error);
  gchar *path = g_build_filename (dir, "m.model", NULL);

  /* The estimate against the file written, for a free-form search result. */
  small_options (&o, under_valgrind () ? 3.0 : 0.5);
  o.fixed &= ~(guint) (SEQNN_AUTOTUNE_EMBED_DIM | SEQNN_AUTOTUNE_HIDDEN_DIM);
  o.max_model_size = 80000;
  SeqnnAutotuneTrial best;
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, collect, trials, &best, NULL,
      &error);
  g_assert_no_error (error);
  for (guint i = 0; i < trials->len; i++)
    g_assert_cmpuint (g_array_index (trials, SeqnnAutotuneTrial, i).model_size, <=, 80000);
  g_assert_true (seqnn_classifier_save (c, path, &error));
  g_assert_no_error (error);
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint ((guint64) st.st_size, <=, best.model_size);
  g_assert_cmpuint ((guint64) st.st_size + 8192, >=, best.model_size);
  g_assert_cmpuint ((guint64) st.st_size, <=, 80000);
  seqnn_classifier_free (c);

  /* Too small for any model: refused before training. */
  g_array_set_size (trials, 0);
  o.max_model_size = 2000;
  c = seqnn_autotune (data, labels, NULL, &o, collect, trials, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "max-model-size 2000"));
  g_assert_cmpuint (trials->len, ==, 0);
  g_clear_error (&error);

  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  g_array_unref (trials);
  seqnn_dataset_free (data);
}

/* Trials that end by themselves give the same settings and results every run. */
static void
test_reproducible (void)
{
  SeqnnDataset *data = make_dataset (3, 150, 4);
  SeqnnAutotuneOptions o;
  GArray *runs[2];
  GError *error = NULL;

  small_options (&o, under_valgrind () ? 4.0 : 1.0);
  o.fixed_params.epochs = 2;
  o.parallel = 2;
  o.n_threads = 2;
  for (gint r = 0; r < 2; r++) {
    runs[r] = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
    SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, collect, runs[r], NULL, NULL,
        &error);
    g_assert_no_error (error);
    seqnn_classifier_free (c);
  }
  guint n = MIN (runs[0]->len, runs[1]->len);
  guint compared = 0;
  for (guint i = 0; i < n; i++) {
    const SeqnnAutotuneTrial *a = &g_array_index (runs[0], SeqnnAutotuneTrial, i);
    const SeqnnAutotuneTrial *b = &g_array_index (runs[1], SeqnnAutotuneTrial, i);
    if (a->cut || b->cut || a->rung != b->rung || a->n_samples != b->n_samples)
      break; /* the budget's end: the rounds after depend on it */
    g_assert_true (params_same (&a->params, &b->params));
    g_assert_cmpint (a->best_epoch, ==, b->best_epoch);
    g_assert_cmpfloat (a->validation_accuracy, ==, b->validation_accuracy);
    g_assert_cmpfloat (a->validation_loss, ==, b->validation_loss);
    compared++;
  }
  if (!under_valgrind ())
    g_assert_cmpuint (compared, >=, 2);
  g_array_unref (runs[0]);
  g_array_unref (runs[1]);
  seqnn_dataset_free (data);
}

/* Successive halving: many settings on a share of the rows, the best third
 * of them on three times as many, the best of those on all the training
 * rows; every promoted setting is one of the best of the rung before. */
static void
test_successive_halving (void)
{
  if (under_valgrind ()) {
    /* 24,000 records are too many there (the ASan run covers this path) */
    g_test_skip ("successive halving needs much data: too slow under valgrind");
    return;
  }
  gdouble budget = 10.0;
  SeqnnDataset *data = make_dataset (3, 24000, 8);
  SeqnnAutotuneOptions o;
  SeqnnAutotuneTrial best;
  GArray *trials = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
  GError *error = NULL;

  small_options (&o, budget);
  o.fixed &= ~(guint) SEQNN_AUTOTUNE_EPOCHS;  /* the plan chooses the epochs */
  o.validation_fraction = 0.1;
  gint64 start = g_get_monotonic_time ();
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, collect, trials, &best, NULL,
      &error);
  gdouble took = (g_get_monotonic_time () - start) / 1e6;
  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_assert_cmpfloat (took, <, budget + (under_valgrind () ? 3.0 : 0.5));

  gsize n_train = seqnn_dataset_get_size (data) - seqnn_dataset_get_size (data) / 10;
  guint n0 = 0, n1 = 0;
  gsize rows0 = 0, rows1 = 0;
  for (guint i = 0; i < trials->len; i++) {
    const SeqnnAutotuneTrial *t = &g_array_index (trials, SeqnnAutotuneTrial, i);
    if (t->rung == 0) {
      g_assert_cmpuint (n1, ==, 0); /* rung 0 first */
      rows0 = t->n_samples;
      n0++;
    } else if (t->rung == 1) {
      rows1 = t->n_samples;
      /* one of the best third of rung 0 */
      guint better_in_rung0 = 0;
      const SeqnnAutotuneTrial *same = NULL;
      for (guint j = 0; j < n0; j++) {
        const SeqnnAutotuneTrial *u = &g_array_index (trials, SeqnnAutotuneTrial, j);
        if (params_same (&u->params, &t->params))
          same = u;
      }
      g_assert_nonnull (same);
      for (guint j = 0; j < n0; j++) {
        const SeqnnAutotuneTrial *u = &g_array_index (trials, SeqnnAutotuneTrial, j);
        better_in_rung0 += u->validation_accuracy > same->validation_accuracy;
      }
      g_assert_cmpuint (better_in_rung0, <, (n0 + 2) / 3);
      n1++;
    }
  }
  g_assert_cmpuint (n0, >=, 3);
  g_assert_cmpuint (n1, >=, 1);
  g_assert_cmpuint (rows1, ==, MIN (3 * rows0, n_train));
  g_assert_cmpuint (n0, >, n1);
  /* the final run, on all the training rows, is the best */
  g_assert_cmpuint (best.n_samples, ==, n_train);
  g_assert_cmpint (best.rung, ==, 2);
  g_assert_cmpfloat (best.validation_accuracy, >, 0.6);
  g_assert_cmpuint (rows0, <, n_train);
  const gchar *samples = seqnn_classifier_get_metadata (c, "autotune.samples");
  gchar *expected = g_strdup_printf ("%" G_GSIZE_FORMAT, best.n_samples);
  g_assert_cmpstr (samples, ==, expected);
  g_free (expected);
  seqnn_classifier_free (c);
  g_array_unref (trials);
  seqnn_dataset_free (data);
}

/* Little data (under 20,000 rows): a share of it would rank settings by
 * noise, so each start point trains on all the training rows, validated at
 * every epoch's end (early stopping, the best epoch kept); the result is the
 * first setting unless another beat it by more than a standard error (or
 * matched its accuracy with a lower loss). */
static void
test_little_data (void)
{
  gdouble budget = under_valgrind () ? 30.0 : 4.0;
  SeqnnDataset *data = make_dataset (3, under_valgrind () ? 600 : 3000, 10);
  SeqnnAutotuneOptions o;
  SeqnnAutotuneTrial best;
  GArray *trials = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
  GError *error = NULL;

  small_options (&o, budget);
  o.fixed &= ~(guint) SEQNN_AUTOTUNE_EPOCHS;
  o.validation_fraction = 0.1;
  o.patience = 2;
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, collect, trials, &best, NULL,
      &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);

  gsize n = seqnn_dataset_get_size (data), n_val = n / 10, n_train = n - n_val;
  guint n0 = 0;
  const SeqnnAutotuneTrial *first = NULL;
  gdouble top = -1.0;
  for (guint i = 0; i < trials->len; i++) {
    const SeqnnAutotuneTrial *t = &g_array_index (trials, SeqnnAutotuneTrial, i);
    g_assert_cmpuint (t->n_samples, ==, n_train);   /* never a share */
    if (t->rung == 0) {
      n0++;
      if (first == NULL)
        first = t;
    }
    if (!isnan (t->validation_accuracy)) {
      top = MAX (top, t->validation_accuracy);
      /* validated every epoch: the kept epoch is one that ran */
      g_assert_cmpint (t->best_epoch, >=, 1);
      g_assert_cmpint (t->best_epoch, <=, t->epochs_run);
    }
  }
  g_assert_cmpuint (n0, >=, 3);
  g_assert_nonnull (first);
  gdouble se = sqrt (best.validation_accuracy * (1.0 - best.validation_accuracy) / n_val);
  g_assert_cmpfloat (top, <=, best.validation_accuracy + se + 1e-9);
  if (!isnan (first->validation_accuracy) && !params_same (&best.params, &first->params)) {
    gdouble p = first->validation_accuracy;
    g_assert_true (best.validation_accuracy > p + sqrt (p * (1.0 - p) / n_val)
        || (best.validation_accuracy == p && best.validation_loss < first->validation_loss));
  }
  seqnn_classifier_free (c);
  g_array_unref (trials);
  seqnn_dataset_free (data);
}

/* Accuracy of c on fresh made-up records. */
static gdouble
fresh_accuracy (SeqnnClassifier *c, guint32 seed)
{
  SeqnnDataset *fresh = make_dataset (3, 300, seed);
  SeqnnConfusion *confusion = seqnn_confusion_new (3);
  GError *error = NULL;
  gdouble loss;
  seqnn_dataset_apply_vocab (fresh, seqnn_classifier_get_vocab (c));
  seqnn_dataset_set_word_ngrams (fresh, seqnn_classifier_get_tokenizer (c)->word_ngrams);
  g_assert_true (seqnn_evaluate (seqnn_classifier_peek_model (c), fresh, NULL, 0, 64, 1, &loss,
          confusion, &error));
  g_assert_no_error (error);
  gdouble accuracy = seqnn_confusion_accuracy (confusion);
  seqnn_confusion_free (confusion);
  seqnn_dataset_free (fresh);
  return accuracy;
}

/* No recurrent layer (num_layers 0, a bag of embeddings): one of the little
 * data's start points; fixed by the user, every trial keeps it, with a head
 * that reads the embedding rows (mean or max), one direction, and the unused
 * cell and state size the same in all (variations of them would train the
 * same network twice). A direction or a last-state head with it is refused. */
static void
test_bag_of_embeddings (void)
{
  SeqnnDataset *data = make_dataset (3, 1500, 12);
  SeqnnAutotuneOptions o;
  GArray *trials = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
  GError *error = NULL;

  /* Free depth, on records whose marker always tells the class: the bag is
   * among the start points, and a tie with a recurrent network goes to it
   * (the simpler); a recurrent result means every bag scored lower. */
  SeqnnDataset *clean = make_noisy_dataset (3, under_valgrind () ? 300 : 3000, 12, 0);
  SeqnnAutotuneTrial best;
  small_options (&o, under_valgrind () ? 20.0 : 3.0);
  o.fixed &= ~(guint) SEQNN_AUTOTUNE_LAYERS;
  if (!under_valgrind ()) /* there, the first start point's 10 epochs would take the budget */
    o.fixed &= ~(guint) SEQNN_AUTOTUNE_EPOCHS;
  o.validation_fraction = 0.1;
  o.fixed_params.embed_dim = 32; /* wide enough for a bag to learn the markers */
  o.fixed |= SEQNN_AUTOTUNE_WORD_NGRAMS; /* the markers are words: n-grams only dilute them */
  o.fixed_params.word_ngrams = 1;
  SeqnnClassifier *c = seqnn_autotune (clean, labels, NULL, &o, collect, trials, &best, NULL,
      &error);
  g_assert_no_error (error);
  seqnn_dataset_free (clean);
  guint n_bags = 0;
  gdouble top = -1.0, top_bag = -1.0;
  for (guint i = 0; i < trials->len; i++) {
    const SeqnnAutotuneTrial *t = &g_array_index (trials, SeqnnAutotuneTrial, i);
    if (isnan (t->validation_accuracy))
      continue;
    top = MAX (top, t->validation_accuracy);
    if (t->params.num_layers == 0) {
      n_bags++;
      top_bag = MAX (top_bag, t->validation_accuracy);
    }
  }
  g_assert_cmpuint (n_bags, >=, 1);
  g_test_message ("top %.4f, top bag %.4f, kept %.4f (layers %d)", top, top_bag,
      best.validation_accuracy, best.params.num_layers);
  if (!under_valgrind ()) /* the markers are one word: the bag learns them as well */
    g_assert_cmpfloat (top_bag, ==, top);
  if (best.params.num_layers > 0)
    g_assert_cmpfloat (top_bag, <, best.validation_accuracy);
  seqnn_classifier_free (c);

  /* Fixed at 0. */
  g_array_set_size (trials, 0);
  small_options (&o, under_valgrind () ? 8.0 : 1.5);
  o.fixed &= ~(guint) SEQNN_AUTOTUNE_HIDDEN_DIM;
  o.fixed_params.num_layers = 0;
  c = seqnn_autotune (data, labels, NULL, &o, collect, trials, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (trials->len, >=, under_valgrind () ? 1 : 3);
  for (guint i = 0; i < trials->len; i++) {
    const SeqnnAutotuneTrial *t = &g_array_index (trials, SeqnnAutotuneTrial, i);
    g_assert_cmpint (t->params.num_layers, ==, 0);
    g_assert_false (t->params.bidirectional);
    g_assert_cmpint (t->params.head, !=, SEQNN_HEAD_LAST);
    g_assert_cmpint (t->params.hidden_dim, ==, g_array_index (trials, SeqnnAutotuneTrial, 0)
        .params.hidden_dim);
    g_assert_cmpint (t->params.cell, ==, g_array_index (trials, SeqnnAutotuneTrial, 0)
        .params.cell);
    for (guint j = 0; j < i; j++) {
      const SeqnnAutotuneTrial *u = &g_array_index (trials, SeqnnAutotuneTrial, j);
      if (u->n_samples == t->n_samples && u->rung == t->rung)
        g_assert_false (params_same (&t->params, &u->params));
    }
  }
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (c));
  g_assert_cmpint (config->num_layers, ==, 0);
  g_assert_cmpfloat (fresh_accuracy (c, 13), >, 0.6);
  seqnn_classifier_free (c);
  if (trials->len >= 2) { /* the bag start point's word pairs, searched */
    gboolean pairs = FALSE;
    for (guint i = 0; i < trials->len; i++)
      pairs = pairs || g_array_index (trials, SeqnnAutotuneTrial, i).params.word_ngrams == 2;
    g_assert_true (pairs);
  }

  /* Refused before training. */
  o.fixed |= SEQNN_AUTOTUNE_BIDIRECTIONAL;
  o.fixed_params.bidirectional = TRUE;
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "bidirectional"));
  g_clear_error (&error);
  o.fixed_params.bidirectional = FALSE;
  o.fixed |= SEQNN_AUTOTUNE_HEAD;
  o.fixed_params.head = SEQNN_HEAD_LAST;
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "head mean or max"));
  g_clear_error (&error);

  g_array_unref (trials);
  seqnn_dataset_free (data);
}

/* A user's word-ngrams (n-grams are a bag's) makes every trial a bag of
 * embeddings with them, and the model's tokenizer and vocabulary carry them;
 * with a fixed recurrent depth it is refused before training. */
static void
test_word_ngrams (void)
{
  SeqnnDataset *data = make_dataset (3, 1500, 21);
  SeqnnAutotuneOptions o;
  GArray *trials = g_array_new (FALSE, FALSE, sizeof (SeqnnAutotuneTrial));
  GError *error = NULL;

  small_options (&o, under_valgrind () ? 8.0 : 1.5);
  o.fixed &= ~(guint) SEQNN_AUTOTUNE_LAYERS;
  o.fixed |= SEQNN_AUTOTUNE_WORD_NGRAMS;
  o.fixed_params.word_ngrams = 2;
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, collect, trials, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (trials->len, >=, 1);
  for (guint i = 0; i < trials->len; i++) {
    const SeqnnAutotuneTrial *t = &g_array_index (trials, SeqnnAutotuneTrial, i);
    g_assert_cmpint (t->params.num_layers, ==, 0);
    g_assert_cmpint (t->params.word_ngrams, ==, 2);
  }
  g_assert_cmpint (seqnn_classifier_get_tokenizer (c)->word_ngrams, ==, 2);
  g_assert_cmpint (seqnn_vocab_get_max_ngram (seqnn_classifier_get_vocab (c)), ==, 2);
  g_assert_cmpfloat (fresh_accuracy (c, 22), >, 0.6);
  seqnn_classifier_free (c);

  small_options (&o, 1.0); /* one recurrent layer, fixed */
  o.fixed |= SEQNN_AUTOTUNE_WORD_NGRAMS;
  o.fixed_params.word_ngrams = 2;
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "needs a bag of embeddings (layers=0)"));
  g_clear_error (&error);

  g_array_unref (trials);
  seqnn_dataset_free (data);
}

static gboolean
set_flag (const SeqnnAutotuneTrial *trial, gpointer user_data)
{
  (void) trial;
  g_atomic_int_set ((gint *) user_data, 1);
  return TRUE; /* the search goes on, to the retrain, which sees the flag */
}

/* One setting (everything fixed: a bidirectional LSTM of 8 over an
 * embedding of 8, max head, 6 epochs) and a generous budget. */
static void
one_setting_options (SeqnnAutotuneOptions *o)
{
  small_options (o, 30.0);
  o->fixed = ~0u;
  o->fixed_params.embed_dim = 8;
  o->fixed_params.min_freq = 1;
  o->fixed_params.batch_size = 16;
  o->fixed_params.learning_rate = 0.01f;
  o->fixed_params.cell = SEQNN_CELL_LSTM;
  o->fixed_params.bidirectional = TRUE;
  o->fixed_params.head = SEQNN_HEAD_MAX;
  o->fixed_params.epochs = 6;
}

/* Time left after the search: the best setting is trained again on all the
 * rows, for the best trial's best epoch; with no time left, the best
 * trial's own model comes back. */
static void
test_retrain_all_rows (void)
{
  SeqnnDataset *data = make_dataset (3, 400, 9);
  SeqnnAutotuneOptions o;
  SeqnnAutotuneTrial best;
  GError *error = NULL;
  gint n_trials = 0;

  one_setting_options (&o);
  gint64 start = g_get_monotonic_time ();
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, &best, &n_trials,
      &error);
  gdouble took = (g_get_monotonic_time () - start) / 1e6;
  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_assert_cmpfloat (took, <, o.duration);
  g_assert_cmpint (n_trials, ==, 1);
  g_assert_cmpuint (best.n_samples, ==, 300); /* the training share */
  g_assert_cmpint (best.best_epoch, >=, 1);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "autotune.retrained"), ==, "true");
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "train.samples"), ==, "400");
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "autotune.samples"), ==, "300");
  gchar *epochs = g_strdup_printf ("%d", best.best_epoch);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "autotune.retrain_epochs"), ==, epochs);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "train.epochs_run"), ==, epochs);
  g_free (epochs);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "train.epochs"), ==, "6");
  /* trained on the validation rows too: no validation figure of its own */
  g_assert_null (seqnn_classifier_get_metadata (c, "train.validation_accuracy"));
  g_assert_nonnull (seqnn_classifier_get_metadata (c, "autotune.validation_accuracy"));
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (c));
  g_assert_cmpint (config->vocab_size, ==, best.vocab_size);
  gdouble retrained = fresh_accuracy (c, 90);
  g_test_message ("best trial: validation %.3f at epoch %d; retrained: %.3f on fresh records",
      best.validation_accuracy, best.best_epoch, retrained);
  g_assert_cmpfloat (retrained, >, 0.6);
  seqnn_classifier_free (c);

  /* The same again: the retrain is reproducible (the same weights, so the
   * same accuracy on the same records). */
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "autotune.retrained"), ==, "true");
  g_assert_cmpfloat (fresh_accuracy (c, 90), ==, retrained);
  seqnn_classifier_free (c);

  /* Cancelled in the retrain (the flag set once the trial is reported):
   * no model. */
  gint flag = 0;
  o.cancel_flag = &flag;
  c = seqnn_autotune (data, labels, NULL, &o, set_flag, &flag, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_clear_error (&error);
  o.cancel_flag = NULL;

  /* A budget too short: the best (minimal) trial's model, not retrained. */
  o.duration = 1e-6;
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, &best, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_assert_true (best.cut);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "autotune.retrained"), ==, "false");
  g_assert_null (seqnn_classifier_get_metadata (c, "autotune.retrain_epochs"));
  gchar *samples = g_strdup_printf ("%" G_GSIZE_FORMAT, best.n_samples);
  g_assert_cmpstr (seqnn_classifier_get_metadata (c, "train.samples"), ==, samples);
  g_free (samples);
  g_assert_nonnull (seqnn_classifier_get_metadata (c, "train.validation_accuracy"));
  seqnn_classifier_free (c);
  seqnn_dataset_free (data);
}

/* The retrain on little data as an ensemble: max_members networks of the
 * best setting (the first the one network of max_members 1, the others
 * with seeds of their own), merged; max_model_size caps their number. */
static void
test_ensemble (void)
{
  SeqnnDataset *data = make_dataset (3, 400, 9);
  SeqnnAutotuneOptions o;
  SeqnnAutotuneTrial best;
  GError *error = NULL;

  one_setting_options (&o);
  o.max_members = 1;
  SeqnnClassifier *one = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, &best, NULL,
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (seqnn_classifier_get_metadata (one, "autotune.members"), ==, "1");
  g_assert_cmpstr (seqnn_classifier_get_metadata (one, "autotune.retrained"), ==, "true");

  o.max_members = 3;
  o.n_threads = 2; /* two networks at a time */
  gint64 start = g_get_monotonic_time ();
  SeqnnClassifier *three = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, &best, NULL,
      &error);
  gdouble took = (g_get_monotonic_time () - start) / 1e6;
  g_assert_no_error (error);
  g_assert_cmpfloat (took, <, o.duration);
  g_assert_cmpstr (seqnn_classifier_get_metadata (three, "autotune.members"), ==, "3");
  const SeqnnModel *m1 = seqnn_classifier_peek_model (one);
  const SeqnnModel *m3 = seqnn_classifier_peek_model (three);
  const SeqnnConfig *c3 = seqnn_model_get_config (m3);
  g_assert_cmpint (c3->embed_dim, ==, 3 * 8);
  g_assert_cmpint (c3->hidden_dim, ==, 3 * 8);
  g_assert_true (c3->bidirectional);
  /* member 0 is the one network (the same seed, the same rows: two threads
   * train the same weights as one), the others differ from it */
  const SeqnnTensorInfo *e1 = seqnn_model_find_tensor (m1, "embedding.weight");
  const SeqnnTensorInfo *e3 = seqnn_model_find_tensor (m3, "embedding.weight");
  const gfloat *p1 = seqnn_model_peek_params (m1, NULL) + e1->offset;
  const gfloat *p3 = seqnn_model_peek_params (m3, NULL) + e3->offset;
  gsize differ = 0;
  for (gint w = 0; w < c3->vocab_size; w++)
    for (gint j = 0; j < 8; j++) {
      g_assert_cmpfloat (p3[(gsize) w * 24 + j], ==, p1[(gsize) w * 8 + j]);
      differ += p3[(gsize) w * 24 + 8 + j] != p1[(gsize) w * 8 + j];
      differ += p3[(gsize) w * 24 + 16 + j] != p1[(gsize) w * 8 + j];
    }
  g_assert_cmpuint (differ, >, (gsize) c3->vocab_size * 8);
  gdouble acc1 = fresh_accuracy (one, 90), acc3 = fresh_accuracy (three, 90);
  g_test_message ("one network %.3f, three %.3f on fresh records", acc1, acc3);
  g_assert_cmpfloat (acc3, >, 0.6);

  /* A size bound below three networks' file: fewer networks, within it. */
  SeqnnAutotuneParams p = best.params;
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (three);
  p.embed_dim = 2 * 8;
  p.hidden_dim = 2 * 8;
  guint64 two_size = seqnn_autotune_estimate_model_size (&p, vocab, 3);
  p.embed_dim = 3 * 8;
  p.hidden_dim = 3 * 8;
  g_assert_cmpuint (two_size, <, seqnn_autotune_estimate_model_size (&p, vocab, 3));
  seqnn_classifier_free (three);
  o.max_model_size = two_size;
  SeqnnClassifier *two = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (seqnn_classifier_get_metadata (two, "autotune.members"), ==, "2");
  g_assert_cmpint (seqnn_model_get_config (seqnn_classifier_peek_model (two))->hidden_dim, ==,
      16);
  seqnn_classifier_free (two);

  /* members out of range */
  o.max_members = 0;
  g_assert_null (seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "members must be 1 to 8"));
  g_clear_error (&error);
  o.max_members = 9;
  g_assert_null (seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_classifier_free (one);
  seqnn_dataset_free (data);
}

static gboolean
cancel_after_first (const SeqnnAutotuneTrial *trial, gpointer user_data)
{
  (void) trial;
  (void) user_data;
  return FALSE;
}

static void
test_bad_input (void)
{
  SeqnnDataset *data = make_dataset (3, 150, 5);
  SeqnnAutotuneOptions o;
  SeqnnAutotuneTrial best;
  GError *error = NULL;
  gint n_trials = -1;

  /* A budget far too short for an epoch: one minimal trial, cut after a batch. */
  small_options (&o, 1e-6);
  SeqnnClassifier *c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, &best, &n_trials,
      &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_assert_cmpint (n_trials, ==, 1);
  g_assert_true (best.cut);
  g_assert_cmpint (best.best_epoch, ==, 0);
  g_assert_false (isnan (best.validation_accuracy));
  seqnn_classifier_free (c);

  /* The callback cancels. */
  small_options (&o, 10.0);
  c = seqnn_autotune (data, labels, NULL, &o, cancel_after_first, NULL, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_clear_error (&error);

  /* The cancel flag, already set. */
  gint flag = 1;
  o.cancel_flag = &flag;
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_clear_error (&error);
  o.cancel_flag = NULL;

  /* No budget, no validation share, too few labels. */
  o.duration = 0.0;
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  o.duration = 1.0;
  o.validation_fraction = 0.0;
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  o.validation_fraction = 0.2;
  const gchar *const two[] = { "a", "b", NULL };
  c = seqnn_autotune (data, two, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (c);
  seqnn_dataset_free (data);

  /* Too little data. */
  data = make_dataset (3, 9, 6);
  c = seqnn_autotune (data, labels, NULL, &o, NULL, NULL, NULL, NULL, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "at least 10"));
  g_clear_error (&error);
  seqnn_dataset_free (data);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/autotune/budget-and-best", test_budget_and_best);
  g_test_add_func ("/train/autotune/fixed-respected", test_fixed_respected);
  g_test_add_func ("/train/autotune/model-size", test_model_size);
  g_test_add_func ("/train/autotune/reproducible", test_reproducible);
  g_test_add_func ("/train/autotune/successive-halving", test_successive_halving);
  g_test_add_func ("/train/autotune/little-data", test_little_data);
  g_test_add_func ("/train/autotune/bag-of-embeddings", test_bag_of_embeddings);
  g_test_add_func ("/train/autotune/word-ngrams", test_word_ngrams);
  g_test_add_func ("/train/autotune/bad-input", test_bad_input);
  g_test_add_func ("/train/autotune/retrain-all-rows", test_retrain_all_rows);
  g_test_add_func ("/train/autotune/ensemble", test_ensemble);
  return g_test_run ();
}
