/* The training loop and evaluation on small made-up datasets.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <seqnn/seqnn.h>

#include <math.h>
#include <string.h>

static gboolean
under_valgrind (void)
{
  return g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
}

/* n sequences over n_classes classes (label i % n_classes). Each holds one or
 * two of its class's marker words ("c1w3") at random places among 3..11 noise
 * words ("n17") shared by all classes: separable, but the class can sit
 * anywhere, so the network has to carry it along the sequence. */
static SeqnnDataset *
make_dataset_shifted (gint n_classes, gsize n, guint32 seed, gint label_shift);

static SeqnnDataset *
make_dataset (gint n_classes, gsize n, guint32 seed)
{
  return make_dataset_shifted (n_classes, n, seed, 0);
}

/* As make_dataset, but each sequence labelled (class + label_shift) % n_classes:
 * with a shift, the opposite of what training on make_dataset teaches. */
static SeqnnDataset *
make_dataset_shifted (gint n_classes, gsize n, guint32 seed, gint label_shift)
{
  SeqnnDataset *dataset = seqnn_dataset_new ();
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < n; i++) {
    gint label = (gint) (i % n_classes);
    gint length = g_rand_int_range (rand, 3, 12);
    gint marker_at = g_rand_int_range (rand, 0, length);
    gint second_at = g_rand_boolean (rand) ? g_rand_int_range (rand, 0, length) : -1;
    seqnn_tokens_clear (tokens);
    for (gint t = 0; t < length; t++) {
      gchar word[32];
      if (t == marker_at || t == second_at)
        g_snprintf (word, sizeof word, "c%dw%d", label, g_rand_int_range (rand, 0, 5));
      else
        g_snprintf (word, sizeof word, "n%d", g_rand_int_range (rand, 0, 30));
      seqnn_tokens_append (tokens, word, -1);
    }
    seqnn_dataset_add (dataset, tokens, (label + label_shift) % n_classes);
  }
  g_rand_free (rand);
  seqnn_tokens_free (tokens);
  return dataset;
}

static SeqnnVocab *
build_and_apply_vocab (SeqnnDataset *dataset)
{
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_dataset_build_vocab (dataset, 1, 0, &error);
  g_assert_no_error (error);
  seqnn_dataset_apply_vocab (dataset, vocab);
  return vocab;
}

/* The lesson's sizes (embed 64, hidden 32), or small ones where only the
 * loop's bookkeeping is tested (keeps the valgrind run short). */
static SeqnnModel *
make_model_sized (SeqnnCell cell, const SeqnnVocab *vocab, gint n_classes, guint64 seed,
    gboolean small)
{
  GError *error = NULL;
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  if (small) {
    config.embed_dim = 8;
    config.hidden_dim = 8;
  }
  config.cell = cell;
  config.vocab_size = (gint) seqnn_vocab_get_size (vocab);
  config.num_classes = n_classes;
  SeqnnModel *model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, seed);
  return model;
}

static SeqnnModel *
make_model (SeqnnCell cell, const SeqnnVocab *vocab, gint n_classes, guint64 seed)
{
  return make_model_sized (cell, vocab, n_classes, seed, FALSE);
}

typedef struct {
  guint n_reports;
  guint n_epoch_ends;
  guint n_checkpoints;
  guint64 last_samples;
  SeqnnTrainProgress last_epoch_end;
  const SeqnnModel *model;
  guint stop_after_reports;   /* 0: never; else return FALSE at that report */
  gint *cancel_flag;          /* set at the first report when not NULL */
  gboolean fail_checkpoint;
  gboolean monotonic;
} Recorder;

static gboolean
record_progress (const SeqnnTrainProgress *p, gpointer user_data)
{
  Recorder *r = user_data;
  r->n_reports++;
  if (p->samples_seen < r->last_samples)
    r->monotonic = FALSE;
  r->last_samples = p->samples_seen;
  if (p->epoch_end) {
    r->n_epoch_ends++;
    r->last_epoch_end = *p;
  }
  if (r->cancel_flag != NULL)
    g_atomic_int_set (r->cancel_flag, 1);
  return r->stop_after_reports == 0 || r->n_reports < r->stop_after_reports;
}

static gboolean
record_checkpoint (const SeqnnModel *model, const SeqnnTrainProgress *p, gpointer user_data,
    GError **error)
{
  Recorder *r = user_data;
  g_assert_true (model == r->model);
  r->n_checkpoints++;
  if (r->fail_checkpoint) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "disk full (test)");
    return FALSE;
  }
  return TRUE;
}

/* Trains on 600 made-up sequences and checks accuracy on 300 others. */
static void
check_separable (SeqnnCell cell)
{
  GError *error = NULL;
  gboolean vg = under_valgrind ();
  gsize n_train = vg ? 64 : 600;
  SeqnnDataset *train = make_dataset (3, n_train, 1);
  SeqnnVocab *vocab = build_and_apply_vocab (train);
  SeqnnDataset *test = make_dataset (3, vg ? 30 : 300, 2);
  seqnn_dataset_apply_vocab (test, vocab);
  SeqnnModel *model = make_model (cell, vocab, 3, 7);

  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.epochs = vg ? 1 : 10;
  options.optimizer.learning_rate = 0.005f;
  options.n_threads = 1;
  Recorder r = { .monotonic = TRUE, .model = model };
  gboolean ok = seqnn_train (model, train, &options, record_progress, record_checkpoint, &r, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (r.n_epoch_ends, ==, options.epochs);
  g_assert_cmpuint (r.n_checkpoints, ==, 0);
  g_assert_cmpuint (r.last_epoch_end.samples_seen, ==, options.epochs * n_train);
  g_assert_cmpuint (r.last_epoch_end.samples_total, ==, options.epochs * n_train);
  g_assert_true (isnan (r.last_epoch_end.validation_loss));
  g_assert_true (isfinite (r.last_epoch_end.running_loss));

  SeqnnConfusion *confusion = seqnn_confusion_new (3);
  gdouble loss = NAN;
  ok = seqnn_evaluate (model, test, NULL, 0, 32, 1, &loss, confusion, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (seqnn_confusion_get_count (confusion), ==, seqnn_dataset_get_size (test));
  g_test_message ("%s: final epoch loss %.4f accuracy %.4f; test loss %.4f accuracy %.4f "
      "macro F1 %.4f", seqnn_cell_to_string (cell), r.last_epoch_end.running_loss,
      r.last_epoch_end.running_accuracy, loss, seqnn_confusion_accuracy (confusion),
      seqnn_confusion_macro_f1 (confusion));
  if (!vg) {
    g_assert_cmpfloat (r.last_epoch_end.running_accuracy, >=, 0.95);
    g_assert_cmpfloat (seqnn_confusion_accuracy (confusion), >=, 0.95);
    g_assert_cmpfloat (loss, <, 0.3);
  }

  seqnn_confusion_free (confusion);
  seqnn_model_free (model);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (test);
  seqnn_dataset_free (train);
}

static void
test_train_lstm_separable (void)
{
  check_separable (SEQNN_CELL_LSTM);
}

static void
test_train_gru_separable (void)
{
  check_separable (SEQNN_CELL_GRU);
}

/* A 25 % seeded split: sizes, validation metrics at each epoch end, and the
 * same seed giving the same weights while another seed does not. */
static void
test_train_validation_split (void)
{
  GError *error = NULL;
  SeqnnDataset *data = make_dataset (2, 200, 3);
  SeqnnVocab *vocab = build_and_apply_vocab (data);
  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.epochs = 2;
  options.validation_fraction = 0.25;
  options.n_threads = 1;
  options.seed = 11;

  SeqnnModel *models[3];
  for (gint k = 0; k < 3; k++) {
    models[k] = make_model_sized (SEQNN_CELL_LSTM, vocab, 2, 5, TRUE);
    if (k == 2)
      options.seed = 12;
    Recorder r = { .monotonic = TRUE, .model = models[k] };
    g_assert_true (seqnn_train (models[k], data, &options, record_progress, NULL, &r, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (r.n_epoch_ends, ==, 2);
    g_assert_cmpuint (r.last_epoch_end.n_validation, ==, 50);
    g_assert_cmpuint (r.last_epoch_end.n_train, ==, 150);
    g_assert_cmpuint (r.last_epoch_end.samples_total, ==, 300);
    g_assert_cmpuint (r.last_epoch_end.samples_seen, ==, 300);
    g_assert_true (isfinite (r.last_epoch_end.validation_loss));
    g_assert_cmpfloat (r.last_epoch_end.validation_loss, >, 0.0);
    g_assert_cmpfloat (r.last_epoch_end.validation_accuracy, >=, 0.0);
    g_assert_cmpfloat (r.last_epoch_end.validation_accuracy, <=, 1.0);
    g_assert_true (r.monotonic);
  }
  gsize n0, n1, n2;
  const gfloat *p0 = seqnn_model_peek_params (models[0], &n0);
  const gfloat *p1 = seqnn_model_peek_params (models[1], &n1);
  const gfloat *p2 = seqnn_model_peek_params (models[2], &n2);
  g_assert_cmpuint (n0, ==, n1);
  g_assert_cmpmem (p0, n0 * sizeof (gfloat), p1, n1 * sizeof (gfloat));
  g_assert_true (memcmp (p0, p2, n0 * sizeof (gfloat)) != 0);

  for (gint k = 0; k < 3; k++)
    seqnn_model_free (models[k]);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (data);
}

/* Every epoch end's figures and the model's weights then. */
typedef struct {
  SeqnnModel *model;
  GPtrArray *params;       /* gfloat copies, one per epoch */
  GArray *accuracies;      /* validation accuracy per epoch */
  GArray *rates;           /* the learning rate of every step, in step order */
  SeqnnTrainProgress last;
} EpochLog;

static gboolean
log_epochs (const SeqnnTrainProgress *p, gpointer user_data)
{
  EpochLog *log = user_data;
  if (log->rates != NULL) {
    g_assert_cmpuint (log->rates->len + 1, ==, p->step); /* a report after every step */
    g_array_append_val (log->rates, p->learning_rate);
  }
  if (!p->epoch_end)
    return TRUE;
  gsize n;
  const gfloat *params = seqnn_model_peek_params (log->model, &n);
  g_ptr_array_add (log->params, g_memdup2 (params, n * sizeof (gfloat)));
  g_array_append_val (log->accuracies, p->validation_accuracy);
  log->last = *p;
  return TRUE;
}

static void
epoch_log_init (EpochLog *log, SeqnnModel *model, gboolean rates)
{
  log->model = model;
  log->params = g_ptr_array_new_with_free_func (g_free);
  log->accuracies = g_array_new (FALSE, FALSE, sizeof (gdouble));
  log->rates = rates ? g_array_new (FALSE, FALSE, sizeof (gdouble)) : NULL;
}

static void
epoch_log_clear (EpochLog *log)
{
  g_ptr_array_unref (log->params);
  g_array_unref (log->accuracies);
  if (log->rates != NULL)
    g_array_unref (log->rates);
}

/* Validation whose labels are the opposite of training's: its accuracy is best
 * before training has taught much, so early stopping must keep that epoch's
 * weights and stop patience epochs later, well before the bound. */
static void
test_train_early_stopping (void)
{
  GError *error = NULL;
  SeqnnDataset *train = make_dataset (2, 160, 21);
  SeqnnVocab *vocab = build_and_apply_vocab (train);
  SeqnnDataset *validation = make_dataset_shifted (2, 80, 22, 1);
  seqnn_dataset_apply_vocab (validation, vocab);
  SeqnnModel *model = make_model_sized (SEQNN_CELL_LSTM, vocab, 2, 5, TRUE);
  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.epochs = 20;
  options.patience = 2;
  options.validation = validation;
  options.optimizer.learning_rate = 0.02f;
  options.n_threads = 1;
  EpochLog log;
  epoch_log_init (&log, model, FALSE);
  g_assert_true (seqnn_train (model, train, &options, log_epochs, NULL, &log, &error));
  g_assert_no_error (error);

  /* the best epoch by the log: the highest accuracy, the earliest on a tie */
  gint best = 1;
  for (guint e = 1; e < log.accuracies->len; e++)
    if (g_array_index (log.accuracies, gdouble, e) > g_array_index (log.accuracies, gdouble, best - 1))
      best = (gint) e + 1;
  gint run = (gint) log.accuracies->len;
  g_test_message ("early stopping: %d epochs run, best epoch %d (validation accuracy %.3f)", run,
      best, g_array_index (log.accuracies, gdouble, best - 1));
  g_assert_cmpint (run, <, options.epochs);
  g_assert_cmpint (run, ==, best + options.patience);
  g_assert_cmpint (log.last.best_epoch, ==, best);
  g_assert_true (log.last.stopping_early);
  g_assert_cmpfloat (log.last.best_validation_accuracy, ==,
      g_array_index (log.accuracies, gdouble, best - 1));
  g_assert_cmpfloat (g_array_index (log.accuracies, gdouble, run - 1), <,
      g_array_index (log.accuracies, gdouble, best - 1) + 1e-12);
  g_assert_cmpuint (log.last.n_validation, ==, 80);
  g_assert_cmpuint (log.last.n_train, ==, 160);
  /* the model holds the best epoch's weights, not the last epoch's */
  gsize n;
  const gfloat *params = seqnn_model_peek_params (model, &n);
  g_assert_cmpmem (params, n * sizeof (gfloat), log.params->pdata[best - 1], n * sizeof (gfloat));
  g_assert_true (memcmp (params, log.params->pdata[run - 1], n * sizeof (gfloat)) != 0);
  epoch_log_clear (&log);

  /* without patience: every epoch runs and the last weights stay */
  options.patience = 0;
  options.epochs = 3;
  seqnn_model_init_params (model, 5);
  epoch_log_init (&log, model, FALSE);
  g_assert_true (seqnn_train (model, train, &options, log_epochs, NULL, &log, &error));
  g_assert_cmpuint (log.accuracies->len, ==, 3);
  g_assert_false (log.last.stopping_early);
  params = seqnn_model_peek_params (model, &n);
  g_assert_cmpmem (params, n * sizeof (gfloat), log.params->pdata[2], n * sizeof (gfloat));
  epoch_log_clear (&log);

  seqnn_model_free (model);
  seqnn_dataset_free (validation);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (train);
}

/* The schedules' rates, step by step, by the formula and inside the loop. */
static void
test_lr_schedules (void)
{
  /* 10 steps, 2 of warm-up, base 1 */
  const gdouble linear[] = { 0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125 };
  const gdouble constant[] = { 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0 };
  for (guint64 t = 0; t < 10; t++) {
    g_assert_cmpfloat_with_epsilon (seqnn_lr_schedule_rate (SEQNN_LR_LINEAR, 1.0, t, 10, 2, 1.0),
        linear[t], 1e-12);
    g_assert_cmpfloat_with_epsilon (seqnn_lr_schedule_rate (SEQNN_LR_CONSTANT, 1.0, t, 10, 2, 1.0),
        constant[t], 1e-12);
    g_assert_cmpfloat_with_epsilon (seqnn_lr_schedule_rate (SEQNN_LR_PLATEAU, 2.0, t, 10, 2, 0.25),
        constant[t] * 0.5, 1e-12);
    gdouble cosine = t < 2 ? (t + 1) / 2.0 : 0.5 * (1.0 + cos (G_PI * (t - 2) / 8.0));
    g_assert_cmpfloat_with_epsilon (seqnn_lr_schedule_rate (SEQNN_LR_COSINE, 1.0, t, 10, 2, 1.0),
        cosine, 1e-12);
  }
  g_assert_cmpfloat (seqnn_lr_schedule_rate (SEQNN_LR_COSINE, 1.0, 6, 10, 2, 1.0), ==, 0.5);
  g_assert_cmpfloat (seqnn_lr_schedule_rate (SEQNN_LR_LINEAR, 1.0, 0, 4, 0, 1.0), ==, 1.0);
  SeqnnLrSchedule kind;
  g_assert_true (seqnn_lr_schedule_from_string ("Cosine", &kind));
  g_assert_cmpint (kind, ==, SEQNN_LR_COSINE);
  g_assert_cmpstr (seqnn_lr_schedule_to_string (SEQNN_LR_PLATEAU), ==, "plateau");
  g_assert_false (seqnn_lr_schedule_from_string ("step", &kind));

  /* in the loop: 64 sequences, batches of 16, 3 epochs = 12 steps, a report after each */
  GError *error = NULL;
  SeqnnDataset *train = make_dataset (2, 64, 31);
  SeqnnVocab *vocab = build_and_apply_vocab (train);
  SeqnnDataset *validation = make_dataset_shifted (2, 32, 32, 1);
  seqnn_dataset_apply_vocab (validation, vocab);
  SeqnnModel *model = make_model_sized (SEQNN_CELL_GRU, vocab, 2, 5, TRUE);
  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.epochs = 3;
  options.progress_interval = 16;
  options.n_threads = 1;
  options.optimizer.learning_rate = 0.01f;
  options.lr_schedule = SEQNN_LR_COSINE;
  options.warmup_fraction = 0.25; /* 3 steps */
  EpochLog log;
  epoch_log_init (&log, model, TRUE);
  g_assert_true (seqnn_train (model, train, &options, log_epochs, NULL, &log, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (log.rates->len, ==, 12);
  for (guint t = 0; t < 12; t++)
    g_assert_cmpfloat_with_epsilon (g_array_index (log.rates, gdouble, t),
        seqnn_lr_schedule_rate (SEQNN_LR_COSINE, 0.01f, t, 12, 3, 1.0), 1e-9);
  g_assert_cmpfloat (g_array_index (log.rates, gdouble, 0), <, g_array_index (log.rates, gdouble, 2));
  epoch_log_clear (&log);

  /* plateau: the rate halves after each epoch without a better validation accuracy */
  options.lr_schedule = SEQNN_LR_PLATEAU;
  options.warmup_fraction = 0.0;
  options.validation = validation;
  options.epochs = 4;
  seqnn_model_init_params (model, 5);
  epoch_log_init (&log, model, TRUE);
  g_assert_true (seqnn_train (model, train, &options, log_epochs, NULL, &log, &error));
  g_assert_no_error (error);
  gdouble scale = 1.0, best = -1.0;
  for (guint e = 0; e < 4; e++) {
    for (guint b = 0; b < 4; b++)
      g_assert_cmpfloat_with_epsilon (g_array_index (log.rates, gdouble, e * 4 + b),
          0.01f * scale, 1e-9);
    gdouble accuracy = g_array_index (log.accuracies, gdouble, e);
    if (accuracy > best)
      best = accuracy;
    else
      scale *= 0.5;
  }
  epoch_log_clear (&log);

  seqnn_model_free (model);
  seqnn_dataset_free (validation);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (train);
}

/* Bad validation settings: refused before any training, naming what is wrong. */
static void
test_train_validation_errors (void)
{
  SeqnnDataset *train = make_dataset (2, 40, 41);
  SeqnnVocab *vocab = build_and_apply_vocab (train);
  SeqnnDataset *validation = make_dataset (3, 30, 42); /* class 2 is not in training */
  seqnn_dataset_apply_vocab (validation, vocab);
  SeqnnDataset *unlabelled = seqnn_dataset_new ();
  SeqnnModel *model = make_model_sized (SEQNN_CELL_LSTM, vocab, 3, 5, TRUE);
  const gchar *const names[] = { "World", "Sports", "Health", NULL };
  gsize n;
  const gfloat *initial = seqnn_model_peek_params (model, &n);
  gfloat *before = g_memdup2 (initial, n * sizeof (gfloat));
  const struct {
    const SeqnnDataset *validation;
    gdouble fraction;
    gint patience;
    SeqnnLrSchedule schedule;
    const gchar *const *names;
    const gchar *message;
  } cases[] = {
    { validation, 0, 1, SEQNN_LR_CONSTANT, names,
      "the validation data has labels the training data lacks: \"Health\"" },
    { validation, 0, 0, SEQNN_LR_CONSTANT, NULL,
      "the validation data has labels the training data lacks: class 2" },
    { NULL, 0, 2, SEQNN_LR_CONSTANT, NULL, "early stopping (patience) needs validation data" },
    { NULL, 0, 0, SEQNN_LR_PLATEAU, NULL, "the plateau schedule needs validation data" },
    { validation, 0.2, 0, SEQNN_LR_CONSTANT, NULL, "give either a validation dataset or" },
    { unlabelled, 0, 0, SEQNN_LR_CONSTANT, NULL, "the validation dataset is empty" },
    { NULL, 0, -1, SEQNN_LR_CONSTANT, NULL, "patience must be 0" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    SeqnnTrainOptions options;
    GError *error = NULL;
    seqnn_train_options_init_default (&options);
    options.validation = cases[c].validation;
    options.validation_fraction = cases[c].fraction;
    options.patience = cases[c].patience;
    options.lr_schedule = cases[c].schedule;
    options.class_names = cases[c].names;
    g_assert_false (seqnn_train (model, train, &options, NULL, NULL, NULL, &error));
    g_assert_nonnull (error);
    if (!g_str_has_prefix (error->message, cases[c].message))
      g_error ("case %u: %s", c, error->message);
    g_clear_error (&error);
  }
  g_assert_cmpmem (seqnn_model_peek_params (model, &n), n * sizeof (gfloat), before, n * sizeof (gfloat));
  g_free (before);
  seqnn_model_free (model);
  seqnn_dataset_free (unlabelled);
  seqnn_dataset_free (validation);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (train);
}

/* 200 sequences, batches of 16 (12 full, then 8), 2 epochs, a report every 50
 * samples and a checkpoint every 100. Batches end at 16, 32, ... 192, 200 in
 * epoch 1 and 216 ... 400 in epoch 2. Progress thresholds 50..400 are crossed
 * at 64, 112, 160, 200, 256, 304, 352, 400; the two at epoch ends (200, 400)
 * are covered by the epoch-end report: 6 intermediate + 2 epoch-end reports.
 * Checkpoints at 112, 200, 304, 400: 4. */
static void
test_train_progress_and_checkpoints (void)
{
  GError *error = NULL;
  SeqnnDataset *data = make_dataset (2, 200, 4);
  SeqnnVocab *vocab = build_and_apply_vocab (data);
  SeqnnModel *model = make_model_sized (SEQNN_CELL_GRU, vocab, 2, 1, TRUE);
  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.epochs = 2;
  options.progress_interval = 50;
  options.checkpoint_interval = 100;
  options.n_threads = 1;
  Recorder r = { .monotonic = TRUE, .model = model };
  g_assert_true (seqnn_train (model, data, &options, record_progress, record_checkpoint, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.n_reports, ==, 8);
  g_assert_cmpuint (r.n_epoch_ends, ==, 2);
  g_assert_cmpuint (r.n_checkpoints, ==, 4);
  g_assert_true (r.monotonic);
  g_assert_cmpfloat (r.last_epoch_end.samples_per_second, >, 0.0);
  g_assert_cmpfloat (r.last_epoch_end.seconds_left, ==, 0.0);
  g_assert_cmpuint (r.last_epoch_end.step, ==, 2 * 13);

  /* A failing checkpoint stops training with its error. */
  Recorder f = { .monotonic = TRUE, .model = model, .fail_checkpoint = TRUE };
  g_assert_false (seqnn_train (model, data, &options, record_progress, record_checkpoint, &f, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  g_assert_cmpuint (f.n_checkpoints, ==, 1);
  g_assert_cmpuint (f.last_samples, <=, 112);
  g_clear_error (&error);

  seqnn_model_free (model);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (data);
}

/* The default lazy row-sparse update is brought up to date before anything
 * outside the trainer reads the model: checkpoints, validation and the end of
 * training see what dense Adam gives (eps 1e-12 removes the one documented
 * difference). Without the syncs, rows a batch has not read lag by ~1e-2. */
typedef struct {
  GPtrArray *snapshots;
  gsize n_params;
} Snapshots;

static gboolean
snapshot_checkpoint (const SeqnnModel *model, const SeqnnTrainProgress *p, gpointer user_data,
    GError **error)
{
  Snapshots *s = user_data;
  const gfloat *params = seqnn_model_peek_params (model, &s->n_params);
  g_ptr_array_add (s->snapshots, g_memdup2 (params, s->n_params * sizeof (gfloat)));
  return TRUE;
}

static gboolean
snapshot_progress (const SeqnnTrainProgress *p, gpointer user_data)
{
  return TRUE;
}

static gdouble
max_rel_diff (const gfloat *a, const gfloat *b, gsize n)
{
  gdouble worst = 0.0;
  for (gsize i = 0; i < n; i++)
    worst = MAX (worst, fabs ((gdouble) a[i] - b[i]) / (fabs (b[i]) + 0.1));
  return worst;
}

static void
test_train_lazy_synced (void)
{
  GError *error = NULL;
  SeqnnDataset *data = make_dataset (2, 200, 9);
  SeqnnVocab *vocab = build_and_apply_vocab (data);
  SeqnnModel *models[2];
  models[0] = make_model_sized (SEQNN_CELL_GRU, vocab, 2, 3, TRUE);
  models[1] = seqnn_model_copy (models[0]);
  Snapshots snaps[2];
  gdouble val_loss[2];
  for (gint dense = 0; dense <= 1; dense++) {
    SeqnnTrainOptions options;
    seqnn_train_options_init_default (&options);
    options.epochs = 2;
    options.checkpoint_interval = 48;
    options.validation_fraction = 0.2;
    options.progress_interval = 0;
    options.n_threads = 1;
    options.optimizer.learning_rate = 0.01f;
    options.optimizer.eps = 1e-12f;
    options.optimizer.dense_embedding = dense;
    snaps[dense].snapshots = g_ptr_array_new_with_free_func (g_free);
    g_assert_true (seqnn_train (models[dense], data, &options, snapshot_progress,
            snapshot_checkpoint, &snaps[dense], &error));
    g_assert_no_error (error);
    /* validation loss of the final model, on the same held-out split */
    SeqnnConfusion *c = seqnn_confusion_new (2);
    g_assert_true (seqnn_evaluate (models[dense], data, NULL, 0, 64, 1, &val_loss[dense], c, &error));
    g_assert_no_error (error);
    seqnn_confusion_free (c);
  }
  gsize n = snaps[0].n_params;
  g_assert_cmpuint (snaps[0].snapshots->len, ==, 6);
  g_assert_cmpuint (snaps[1].snapshots->len, ==, snaps[0].snapshots->len);
  for (guint i = 0; i < snaps[0].snapshots->len; i++)
    g_assert_cmpfloat (max_rel_diff (snaps[0].snapshots->pdata[i], snaps[1].snapshots->pdata[i], n),
        <, 1e-4);
  g_assert_cmpfloat (max_rel_diff (seqnn_model_peek_params (models[0], NULL),
          seqnn_model_peek_params (models[1], NULL), n), <, 1e-4);
  g_assert_cmpfloat (fabs (val_loss[0] - val_loss[1]), <, 1e-4);
  for (gint i = 0; i < 2; i++) {
    g_ptr_array_unref (snaps[i].snapshots);
    seqnn_model_free (models[i]);
  }
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (data);
}

static void
test_train_cancel (void)
{
  GError *error = NULL;
  SeqnnDataset *data = make_dataset (2, 200, 5);
  SeqnnVocab *vocab = build_and_apply_vocab (data);
  SeqnnModel *model = make_model_sized (SEQNN_CELL_LSTM, vocab, 2, 1, TRUE);
  SeqnnModel *untouched = seqnn_model_copy (model);
  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.epochs = 3;
  options.progress_interval = 32;
  options.n_threads = 1;

  /* The progress callback returns FALSE at its second report (64 samples). */
  Recorder r = { .monotonic = TRUE, .model = model, .stop_after_reports = 2 };
  g_assert_false (seqnn_train (model, data, &options, record_progress, NULL, &r, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_assert_cmpuint (r.n_reports, ==, 2);
  g_assert_cmpuint (r.last_samples, ==, 64);
  g_clear_error (&error);

  /* The flag, set from the first report, stops before the next batch. */
  gint cancel = 0;
  options.cancel_flag = &cancel;
  Recorder c = { .monotonic = TRUE, .model = model, .cancel_flag = &cancel };
  g_assert_false (seqnn_train (model, data, &options, record_progress, NULL, &c, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_assert_cmpuint (c.n_reports, ==, 1);
  g_clear_error (&error);

  /* Already set: nothing trained, weights unchanged. */
  SeqnnModel *fresh = seqnn_model_copy (untouched);
  Recorder z = { .monotonic = TRUE, .model = fresh };
  g_assert_false (seqnn_train (fresh, data, &options, record_progress, NULL, &z, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_assert_cmpuint (z.n_reports, ==, 0);
  g_clear_error (&error);
  gsize n1, n2;
  const gfloat *p1 = seqnn_model_peek_params (fresh, &n1);
  const gfloat *p2 = seqnn_model_peek_params (untouched, &n2);
  g_assert_cmpmem (p1, n1 * sizeof (gfloat), p2, n2 * sizeof (gfloat));

  seqnn_model_free (fresh);
  seqnn_model_free (untouched);
  seqnn_model_free (model);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (data);
}

static void
add_words (SeqnnDataset *dataset, const gchar *text, gint label)
{
  SeqnnTokenizerConfig config;
  seqnn_tokenizer_config_init_default (&config);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  seqnn_tokenize (&config, text, -1, tokens);
  seqnn_dataset_add (dataset, tokens, label);
  seqnn_tokens_free (tokens);
}

static void
test_train_errors (void)
{
  GError *error = NULL;
  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.n_threads = 1;

  /* A model to train; its vocabulary comes from a two-class dataset. */
  SeqnnDataset *good = make_dataset (2, 40, 6);
  SeqnnVocab *vocab = build_and_apply_vocab (good);
  SeqnnModel *model = make_model (SEQNN_CELL_LSTM, vocab, 2, 1);

  /* empty */
  SeqnnDataset *empty = seqnn_dataset_new ();
  seqnn_dataset_apply_vocab (empty, vocab);
  g_assert_false (seqnn_train (model, empty, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);

  /* no vocabulary applied */
  SeqnnDataset *raw = seqnn_dataset_new ();
  add_words (raw, "c0w1 n3", 0);
  add_words (raw, "c1w1 n4", 1);
  g_assert_false (seqnn_train (model, raw, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "vocabulary"));
  g_clear_error (&error);

  /* a single class */
  seqnn_dataset_free (raw);
  raw = seqnn_dataset_new ();
  seqnn_dataset_apply_vocab (raw, vocab);
  add_words (raw, "c0w1 n3", 1);
  add_words (raw, "c0w2 n5", 1);
  g_assert_false (seqnn_train (model, raw, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "two classes"));
  g_clear_error (&error);

  /* a label outside the model's classes */
  add_words (raw, "c0w2 n5", 2);
  g_assert_false (seqnn_train (model, raw, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_assert_nonnull (strstr (error->message, "sequence 2"));
  g_clear_error (&error);

  /* an unlabelled sequence */
  seqnn_dataset_free (raw);
  raw = seqnn_dataset_new ();
  seqnn_dataset_apply_vocab (raw, vocab);
  add_words (raw, "c0w1 n3", 0);
  add_words (raw, "c0w2 n5", -1);
  g_assert_false (seqnn_train (model, raw, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_assert_nonnull (strstr (error->message, "no label"));
  g_clear_error (&error);

  /* bad options */
  options.batch_size = 0;
  g_assert_false (seqnn_train (model, good, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  options.batch_size = 16;
  options.validation_fraction = 1.0;
  g_assert_false (seqnn_train (model, good, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  options.validation_fraction = 0.0;

  /* SGD with a learning rate of 1e30 overflows the weights within a few steps
   * (Adam's steps are bounded by the learning rate: huge but finite losses). */
  options.optimizer.kind = SEQNN_OPTIMIZER_SGD;
  options.optimizer.learning_rate = 1e30f;
  options.epochs = 5;
  SeqnnModel *exploding = seqnn_model_copy (model);
  g_assert_false (seqnn_train (exploding, good, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC);
  g_test_message ("SGD 1e30: %s", error->message);
  g_assert_nonnull (strstr (error->message, "at epoch 1, step "));
  g_clear_error (&error);
  seqnn_model_free (exploding);
  seqnn_optimizer_config_init_default (&options.optimizer);
  options.epochs = 1;

  /* A NaN in the weights: the first step's loss is NaN. */
  SeqnnModel *broken = seqnn_model_copy (model);
  const SeqnnTensorInfo *fc_bias = seqnn_model_find_tensor (broken, "fc.bias");
  g_assert_nonnull (fc_bias);
  seqnn_model_get_params (broken, NULL)[fc_bias->offset] = NAN;
  g_assert_false (seqnn_train (broken, good, &options, NULL, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC);
  g_test_message ("NaN message: %s", error->message);
  g_assert_nonnull (strstr (error->message, "loss became NaN at epoch 1, step 1 (batch of 16)"));
  g_assert_nonnull (strstr (error->message, "lower learning-rate or enable clip-norm"));
  g_clear_error (&error);
  seqnn_model_free (broken);

  seqnn_dataset_free (raw);
  seqnn_dataset_free (empty);
  seqnn_model_free (model);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (good);
}

/* seqnn_evaluate against the inference engine run by hand, an empty sequence
 * fed as one <unk>, and an index subset. */
static void
test_evaluate (void)
{
  GError *error = NULL;
  SeqnnDataset *data = make_dataset (3, 30, 8);
  SeqnnVocab *vocab = build_and_apply_vocab (data);
  SeqnnTokens *none = seqnn_tokens_new ();
  seqnn_dataset_add (data, none, 2); /* index 30: empty */
  seqnn_tokens_free (none);
  SeqnnModel *model = make_model (SEQNN_CELL_GRU, vocab, 3, 9);
  gsize n = seqnn_dataset_get_size (data);
  g_assert_cmpuint (n, ==, 31);

  /* Expected: one inference run over everything, the empty one as [<unk>]. */
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  gint lengths[31], labels[31];
  for (gsize i = 0; i < n; i++) {
    const gint32 *seq;
    gint length, label;
    seqnn_dataset_get (data, i, &seq, &length, &label);
    if (length == 0) {
      gint32 unk = SEQNN_VOCAB_UNK_ID;
      g_array_append_val (ids, unk);
      length = 1;
    } else {
      g_array_append_vals (ids, seq, length);
    }
    lengths[i] = length;
    labels[i] = label;
  }
  gfloat probs[31 * 3];
  SeqnnInference *inference = seqnn_inference_new (model, 1);
  SeqnnBatch batch = { (const gint32 *) ids->data, lengths, (gint) n, labels };
  g_assert_true (seqnn_inference_run (inference, &batch, probs, NULL, &error));
  g_assert_no_error (error);
  gdouble expected_loss = 0.0;
  guint64 expected_counts[3][3] = { { 0 } };
  for (gsize i = 0; i < n; i++) {
    expected_loss -= log (probs[i * 3 + labels[i]]);
    gint best = 0;
    for (gint c = 1; c < 3; c++)
      if (probs[i * 3 + c] > probs[i * 3 + best])
        best = c;
    expected_counts[labels[i]][best]++;
  }
  expected_loss /= n;

  /* batch sizes that do and do not divide n */
  gint batch_sizes[] = { 1, 7, 64 };
  for (guint k = 0; k < G_N_ELEMENTS (batch_sizes); k++) {
    SeqnnConfusion *confusion = seqnn_confusion_new (3);
    gdouble loss = NAN;
    g_assert_true (seqnn_evaluate (model, data, NULL, 0, batch_sizes[k], 1, &loss, confusion, &error));
    g_assert_no_error (error);
    g_assert_cmpfloat_with_epsilon (loss, expected_loss, 1e-4);
    for (gint t = 0; t < 3; t++)
      for (gint p = 0; p < 3; p++)
        g_assert_cmpuint (seqnn_confusion_get (confusion, t, p), ==, expected_counts[t][p]);
    seqnn_confusion_free (confusion);
  }

  /* subset: the empty sequence alone */
  gsize only_empty = 30;
  gdouble loss = NAN;
  g_assert_true (seqnn_evaluate (model, data, &only_empty, 1, 4, 1, &loss, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (loss, -log (probs[30 * 3 + 2]), 1e-5);

  /* errors */
  gsize outside = 31;
  g_assert_false (seqnn_evaluate (model, data, &outside, 1, 4, 1, &loss, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_clear_error (&error);
  g_assert_false (seqnn_evaluate (model, data, NULL, 0, 0, 1, &loss, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  SeqnnConfusion *wrong = seqnn_confusion_new (2);
  g_assert_false (seqnn_evaluate (model, data, NULL, 0, 4, 1, &loss, wrong, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_confusion_free (wrong);

  seqnn_inference_free (inference);
  g_array_unref (ids);
  seqnn_model_free (model);
  seqnn_vocab_unref (vocab);
  seqnn_dataset_free (data);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/loop/lstm-separable", test_train_lstm_separable);
  g_test_add_func ("/train/loop/gru-separable", test_train_gru_separable);
  g_test_add_func ("/train/loop/validation-split", test_train_validation_split);
  g_test_add_func ("/train/loop/progress-and-checkpoints", test_train_progress_and_checkpoints);
  g_test_add_func ("/train/loop/lazy-synced", test_train_lazy_synced);
  g_test_add_func ("/train/loop/cancel", test_train_cancel);
  g_test_add_func ("/train/loop/errors", test_train_errors);
  g_test_add_func ("/train/loop/early-stopping", test_train_early_stopping);
  g_test_add_func ("/train/loop/lr-schedules", test_lr_schedules);
  g_test_add_func ("/train/loop/validation-errors", test_train_validation_errors);
  g_test_add_func ("/train/evaluate", test_evaluate);
  return g_test_run ();
}
