/* libseqnn: the autotune search (see seqnn/autotune.h for what is
 * reproducible and how the budget is kept).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/autotune.h"
#include "seqnn/trainloop.h"
#include "dataset-batch.h"
#include "rng.h"

#include <math.h>
#include <string.h>

#define SPLIT_STREAM 0x6174737031ULL   /* "atsp1": the validation split */
#define SEARCH_STREAM 0x6174736561ULL  /* "atsea": the variations */
#define MIN_RECORDS 10
#define MAX_VARIATION_TRIES 64
/* Everything in a model file but its tensors and vocabulary (header JSON,
 * tokenizer, labels, checksum, the caller's metadata), as an upper bound. */
#define FILE_OVERHEAD 8192

/* ---- The search space ------------------------------------------------------ */

static const SeqnnCell cell_choices[] = { SEQNN_CELL_LSTM, SEQNN_CELL_GRU };
static const gint embed_choices[] = { 32, 64, 100, 128 };
static const gint hidden_choices[] = { 32, 64, 96, 128, 192 };
static const gint layer_choices[] = { 1, 2 };
static const SeqnnHead head_choices[] = { SEQNN_HEAD_MAX, SEQNN_HEAD_MEAN, SEQNN_HEAD_LAST };
static const gfloat dropout_choices[] = { 0.0f, 0.1f, 0.2f, 0.3f };
static const guint64 min_freq_choices[] = { 1, 2, 3, 5 };
static const guint max_vocab_choices[] = { 0, 10000, 30000 };
static const guint max_tokens_choices[] = { 0, 48, 96 };
static const gfloat lr_choices[] = { 0.001f, 0.002f, 0.003f, 0.005f };
static const gint batch_choices[] = { 16, 32, 64, 128 };

/* Known-good starting points for news-like topic classification, best first
 * (the first is the shortest good run: it decides small budgets). */
static const SeqnnAutotuneParams start_points[] = {
  { SEQNN_CELL_LSTM, 64, 64, 1, TRUE, SEQNN_HEAD_MAX, 0.0f, 2, 0, 0, 0.003f, 32, 10 },
  { SEQNN_CELL_GRU, 64, 64, 1, TRUE, SEQNN_HEAD_MAX, 0.0f, 2, 0, 0, 0.003f, 64, 10 },
  { SEQNN_CELL_LSTM, 64, 128, 1, TRUE, SEQNN_HEAD_MAX, 0.0f, 3, 0, 0, 0.001f, 16, 10 },
  { SEQNN_CELL_LSTM, 64, 64, 2, TRUE, SEQNN_HEAD_MAX, 0.2f, 2, 0, 0, 0.002f, 32, 10 },
  { SEQNN_CELL_GRU, 100, 96, 1, TRUE, SEQNN_HEAD_MEAN, 0.0f, 3, 30000, 96, 0.002f, 32, 10 },
};

static gboolean
params_equal (const SeqnnAutotuneParams *a, const SeqnnAutotuneParams *b)
{
  return a->cell == b->cell && a->embed_dim == b->embed_dim && a->hidden_dim == b->hidden_dim
      && a->num_layers == b->num_layers && a->bidirectional == b->bidirectional
      && a->head == b->head && a->dropout == b->dropout && a->min_freq == b->min_freq
      && a->max_vocab == b->max_vocab && a->max_tokens == b->max_tokens
      && a->learning_rate == b->learning_rate && a->batch_size == b->batch_size
      && a->epochs == b->epochs;
}

/* The user's values over the fixed dimensions. */
static void
apply_fixed (SeqnnAutotuneParams *p, const SeqnnAutotuneOptions *o)
{
  const SeqnnAutotuneParams *f = &o->fixed_params;
  guint m = o->fixed;
  if (m & SEQNN_AUTOTUNE_CELL) p->cell = f->cell;
  if (m & SEQNN_AUTOTUNE_EMBED_DIM) p->embed_dim = f->embed_dim;
  if (m & SEQNN_AUTOTUNE_HIDDEN_DIM) p->hidden_dim = f->hidden_dim;
  if (m & SEQNN_AUTOTUNE_LAYERS) p->num_layers = f->num_layers;
  if (m & SEQNN_AUTOTUNE_BIDIRECTIONAL) p->bidirectional = f->bidirectional;
  if (m & SEQNN_AUTOTUNE_HEAD) p->head = f->head;
  if (m & SEQNN_AUTOTUNE_DROPOUT) p->dropout = f->dropout;
  if (m & SEQNN_AUTOTUNE_MIN_FREQ) p->min_freq = f->min_freq;
  if (m & SEQNN_AUTOTUNE_MAX_VOCAB) p->max_vocab = f->max_vocab;
  if (m & SEQNN_AUTOTUNE_MAX_TOKENS) p->max_tokens = f->max_tokens;
  if (m & SEQNN_AUTOTUNE_LEARNING_RATE) p->learning_rate = f->learning_rate;
  if (m & SEQNN_AUTOTUNE_BATCH_SIZE) p->batch_size = f->batch_size;
  if (m & SEQNN_AUTOTUNE_EPOCHS) p->epochs = f->epochs;
}

/* Changes dimension dim (a bit of SeqnnAutotuneDim, not fixed) to another of its choices. */
static void
vary (SeqnnAutotuneParams *p, guint dim, SeqnnRng *rng)
{
#define PICK(field, choices) \
  p->field = choices[seqnn_rng_below (rng, G_N_ELEMENTS (choices))]
  switch (dim) {
    case SEQNN_AUTOTUNE_CELL: PICK (cell, cell_choices); break;
    case SEQNN_AUTOTUNE_EMBED_DIM: PICK (embed_dim, embed_choices); break;
    case SEQNN_AUTOTUNE_HIDDEN_DIM: PICK (hidden_dim, hidden_choices); break;
    case SEQNN_AUTOTUNE_LAYERS: PICK (num_layers, layer_choices); break;
    case SEQNN_AUTOTUNE_BIDIRECTIONAL: p->bidirectional = !p->bidirectional; break;
    case SEQNN_AUTOTUNE_HEAD: PICK (head, head_choices); break;
    case SEQNN_AUTOTUNE_DROPOUT: PICK (dropout, dropout_choices); break;
    case SEQNN_AUTOTUNE_MIN_FREQ: PICK (min_freq, min_freq_choices); break;
    case SEQNN_AUTOTUNE_MAX_VOCAB: PICK (max_vocab, max_vocab_choices); break;
    case SEQNN_AUTOTUNE_MAX_TOKENS: PICK (max_tokens, max_tokens_choices); break;
    case SEQNN_AUTOTUNE_LEARNING_RATE: PICK (learning_rate, lr_choices); break;
    case SEQNN_AUTOTUNE_BATCH_SIZE: PICK (batch_size, batch_choices); break;
    default: break; /* epochs: an upper bound, not searched */
  }
#undef PICK
}

/* ---- Options ---------------------------------------------------------------- */

void
seqnn_autotune_options_init_default (SeqnnAutotuneOptions *options)
{
  g_return_if_fail (options != NULL);
  memset (options, 0, sizeof (*options));
  options->duration = 60.0;
  options->validation_fraction = 0.1;
  options->patience = 1;
  options->parallel = 1;
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  SeqnnAutotuneParams *f = &options->fixed_params;
  f->cell = config.cell;
  f->embed_dim = config.embed_dim;
  f->hidden_dim = config.hidden_dim;
  f->num_layers = config.num_layers;
  f->bidirectional = config.bidirectional;
  f->head = config.head;
  f->dropout = config.dropout;
  f->min_freq = 1;
  f->learning_rate = 0.001f;
  f->batch_size = 16;
  f->epochs = 10;
  seqnn_optimizer_config_init_default (&options->optimizer);
}

static gboolean
check_options (const SeqnnAutotuneOptions *o, GError **error)
{
  const gchar *bad = NULL;
  if (!(o->duration > 0.0 && isfinite (o->duration)))
    bad = "the duration must be a positive number of seconds";
  else if (!(o->validation_fraction > 0.0 && o->validation_fraction < 1.0))
    bad = "the validation fraction must be in (0, 1): the search ranks trials on it";
  else if (o->n_threads < 0 || o->parallel < 0 || o->patience < 0)
    bad = "n_threads, parallel and patience must not be negative";
  else if ((o->fixed & SEQNN_AUTOTUNE_EPOCHS) && o->fixed_params.epochs < 1)
    bad = "a fixed epochs must be at least 1";
  else if ((o->fixed & SEQNN_AUTOTUNE_BATCH_SIZE) && o->fixed_params.batch_size < 1)
    bad = "a fixed batch size must be at least 1";
  else if ((o->fixed & SEQNN_AUTOTUNE_MIN_FREQ) && o->fixed_params.min_freq < 1)
    bad = "a fixed min-freq must be at least 1";
  else if ((o->fixed & SEQNN_AUTOTUNE_LEARNING_RATE) && !(o->fixed_params.learning_rate > 0.0f))
    bad = "a fixed learning rate must be positive";
  if (bad != NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "autotune: %s", bad);
    return FALSE;
  }
  return TRUE;
}

/* ---- Sizes --------------------------------------------------------------------- */

static void
params_to_config (const SeqnnAutotuneParams *p, gint vocab_size, gint num_classes,
    SeqnnConfig *config)
{
  seqnn_config_init_default (config);
  config->cell = p->cell;
  config->vocab_size = vocab_size;
  config->embed_dim = p->embed_dim;
  config->hidden_dim = p->hidden_dim;
  config->num_layers = p->num_layers;
  config->bidirectional = p->bidirectional;
  config->head = p->head;
  config->num_classes = num_classes;
  config->dropout = p->dropout;
}

/* Parameters besides the embedding (torch's layout, model.h). */
static guint64
n_network_params (const SeqnnAutotuneParams *p, gint num_classes)
{
  guint64 gh = (guint64) seqnn_cell_n_gates (p->cell) * p->hidden_dim;
  guint64 dirs = p->bidirectional ? 2 : 1;
  guint64 n = 0;
  for (gint l = 0; l < p->num_layers; l++) {
    guint64 in = l == 0 ? (guint64) p->embed_dim : dirs * p->hidden_dim;
    n += dirs * (gh * in + gh * p->hidden_dim + 2 * gh);
  }
  return n + (guint64) num_classes * dirs * p->hidden_dim + num_classes;
}

guint64
seqnn_autotune_estimate_model_size (const SeqnnAutotuneParams *params, const SeqnnVocab *vocab,
    gint num_classes)
{
  g_return_val_if_fail (params != NULL && vocab != NULL, 0);
  gsize v = seqnn_vocab_get_size (vocab);
  guint64 bytes = FILE_OVERHEAD;
  /* The vocabulary: a JSON array inside a JSON string, so each token costs
   * \"token\", (5 bytes besides its own) and an escaped byte up to 7. */
  for (gsize i = 0; i < v; i++) {
    const guchar *t = (const guchar *) seqnn_vocab_get_token (vocab, (gint32) i);
    bytes += 5;
    for (; *t; t++)
      bytes += (*t < 0x20 || *t == '"' || *t == '\\') ? 7 : 1;
  }
  return bytes + 4 * ((guint64) v * params->embed_dim + n_network_params (params, num_classes));
}

/* ---- Trials ---------------------------------------------------------------------- */

typedef struct {
  /* Set before the trial runs. */
  SeqnnAutotuneTrial info;
  SeqnnVocab *vocab;
  gint n_threads;
  /* The trial's own. */
  SeqnnDataset *train;
  SeqnnDataset *validation;
  SeqnnModel *model;
  SeqnnModel *best_model;    /* weights of the best epoch */
  gint since_best;
  gint64 start_time;
  GError *error;             /* a failure that ends the search */
  gboolean cancelled;        /* the caller's cancel flag */
} Trial;

typedef struct {
  const SeqnnDataset *data;
  const SeqnnAutotuneOptions *options;
  gint num_classes;
  gsize *val_rows;
  gsize n_val;
  gsize *train_rows;
  gsize n_train;
  gint64 start_time;
  gint64 deadline;
} Search;

static void
trial_free (Trial *t)
{
  if (t == NULL)
    return;
  g_clear_pointer (&t->vocab, seqnn_vocab_unref);
  g_clear_pointer (&t->train, seqnn_dataset_free);
  g_clear_pointer (&t->validation, seqnn_dataset_free);
  g_clear_pointer (&t->model, seqnn_model_free);
  g_clear_pointer (&t->best_model, seqnn_model_free);
  g_clear_error (&t->error);
  g_free (t);
}

static gboolean
cancel_requested (const SeqnnAutotuneOptions *o)
{
  return o->cancel_flag != NULL && g_atomic_int_get (o->cancel_flag);
}

typedef struct {
  const Search *search;
  Trial *trial;
} TrialRun;

static gboolean
evaluate_into (const Search *s, Trial *t, const SeqnnModel *model, gdouble *accuracy,
    gdouble *loss, GError **error)
{
  SeqnnConfusion *confusion = seqnn_confusion_new (s->num_classes);
  if (confusion == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NO_MEMORY,
        "cannot allocate a confusion matrix for %d classes", s->num_classes);
    return FALSE;
  }
  gboolean ok = seqnn_evaluate (model, t->validation, NULL, 0, MAX (t->info.params.batch_size, 64),
      t->n_threads, loss, confusion, error);
  *accuracy = seqnn_confusion_accuracy (confusion);
  seqnn_confusion_free (confusion);
  return ok;
}

/* Every batch: the budget and the caller's flag. Every epoch's end: validation,
 * the best epoch's weights, early stopping. */
static gboolean
on_trial_progress (const SeqnnTrainProgress *p, gpointer user_data)
{
  TrialRun *run = user_data;
  const Search *s = run->search;
  Trial *t = run->trial;
  const gint *cancel = s->options->cancel_flag;

  if (cancel != NULL && g_atomic_int_get (cancel)) {
    t->cancelled = TRUE;
    return FALSE;
  }
  if (!p->epoch_end) {
    if (g_get_monotonic_time () >= s->deadline) {
      t->info.cut = TRUE;
      return FALSE;
    }
    return TRUE;
  }
  gdouble accuracy, loss;
  t->info.epochs_run = p->epoch;
  if (!evaluate_into (s, t, t->model, &accuracy, &loss, &t->error))
    return FALSE;
  if (t->info.best_epoch == 0 || accuracy > t->info.validation_accuracy) {
    t->info.best_epoch = p->epoch;
    t->info.validation_accuracy = accuracy;
    t->info.validation_loss = loss;
    g_clear_pointer (&t->best_model, seqnn_model_free);
    t->best_model = seqnn_model_copy (t->model);
    t->since_best = 0;
  } else if (++t->since_best >= MAX (s->options->patience, 1)) {
    return FALSE; /* early stop */
  }
  if (g_get_monotonic_time () >= s->deadline && p->epoch < p->epochs) {
    t->info.cut = TRUE;
    return FALSE;
  }
  return TRUE;
}

/* A cut trial without a finished epoch: the weights as they stand. */
static void
evaluate_as_is (const Search *s, Trial *t)
{
  gdouble accuracy, loss;
  if (evaluate_into (s, t, t->model, &accuracy, &loss, &t->error)) {
    t->info.validation_accuracy = accuracy;
    t->info.validation_loss = loss;
    t->best_model = seqnn_model_copy (t->model);
  }
}

static gpointer
run_trial (gpointer data)
{
  TrialRun *run = data;
  const Search *s = run->search;
  Trial *t = run->trial;
  const SeqnnAutotuneParams *p = &t->info.params;
  SeqnnConfig config;
  GError *error = NULL;

  t->start_time = g_get_monotonic_time ();
  t->info.validation_accuracy = NAN;
  t->info.validation_loss = NAN;
  t->train = seqnn_dataset_copy_encoded (s->data, s->train_rows, s->n_train, t->vocab,
      (gint) p->max_tokens);
  t->validation = seqnn_dataset_copy_encoded (s->data, s->val_rows, s->n_val, t->vocab,
      (gint) p->max_tokens);
  params_to_config (p, (gint) seqnn_vocab_get_size (t->vocab), s->num_classes, &config);
  t->model = seqnn_model_new (&config, &t->error);
  if (t->model == NULL)
    goto done;
  seqnn_model_init_params (t->model, s->options->seed);

  SeqnnTrainOptions train;
  seqnn_train_options_init_default (&train);
  train.batch_size = p->batch_size;
  train.epochs = p->epochs;
  train.seed = s->options->seed;
  train.n_threads = t->n_threads;
  train.optimizer = s->options->optimizer;
  train.optimizer.learning_rate = p->learning_rate;
  train.progress_interval = 1; /* every batch: the budget is checked there */
  train.cancel_flag = s->options->cancel_flag;
  if (!seqnn_train (t->model, t->train, &train, on_trial_progress, NULL, run, &error)) {
    if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC))
      t->info.diverged = TRUE; /* the best epoch before, if any, still counts */
    else if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED))
      t->cancelled = t->cancelled || cancel_requested (s->options); /* else our own stop */
    else if (t->error == NULL)
      g_propagate_error (&t->error, g_steal_pointer (&error));
    g_clear_error (&error);
  }

done:
  /* The datasets are the largest part and no longer needed. */
  g_clear_pointer (&t->train, seqnn_dataset_free);
  if (t->best_model != NULL || !t->info.cut) /* else kept for a minimal trial */
    g_clear_pointer (&t->model, seqnn_model_free);
  t->info.seconds = (g_get_monotonic_time () - t->start_time) / 1e6;
  return NULL;
}

/* ---- The search -------------------------------------------------------------------- */

/* The next smaller choice below value, or value when there is none. */
static gint
smaller_choice (const gint *choices, guint n, gint value)
{
  gint best = value;
  for (guint i = 0; i < n; i++)
    if (choices[i] < value && (best == value || choices[i] > best))
      best = choices[i];
  return best;
}

/* One step towards a smaller network in a free dimension; FALSE when none is left. */
static gboolean
shrink_network (SeqnnAutotuneParams *p, guint fixed)
{
  gint h = smaller_choice (hidden_choices, G_N_ELEMENTS (hidden_choices), p->hidden_dim);
  gint e = smaller_choice (embed_choices, G_N_ELEMENTS (embed_choices), p->embed_dim);
  if (!(fixed & SEQNN_AUTOTUNE_HIDDEN_DIM) && h < p->hidden_dim)
    p->hidden_dim = h;
  else if (!(fixed & SEQNN_AUTOTUNE_EMBED_DIM) && e < p->embed_dim)
    p->embed_dim = e;
  else if (!(fixed & SEQNN_AUTOTUNE_LAYERS) && p->num_layers > 1)
    p->num_layers = 1;
  else if (!(fixed & SEQNN_AUTOTUNE_BIDIRECTIONAL) && p->bidirectional)
    p->bidirectional = FALSE;
  else
    return FALSE;
  return TRUE;
}

/* Builds the vocabulary of p and, when max_model_size is set, lowers max_vocab
 * (unless fixed; not below 100 entries), then the network's free sizes, until
 * the model fits. NULL when it cannot (or on error, then set). */
static SeqnnVocab *
fit_vocab (const Search *s, SeqnnAutotuneParams *p, guint64 *size, GError **error)
{
  const SeqnnAutotuneOptions *o = s->options;
  guint64 limit = o->max_model_size;
  SeqnnAutotuneParams asked = *p;
  for (;;) {
    SeqnnVocab *vocab = seqnn_dataset_build_vocab (s->data, p->min_freq, p->max_vocab, error);
    if (vocab == NULL)
      return NULL;
    *size = seqnn_autotune_estimate_model_size (p, vocab, s->num_classes);
    if (limit == 0 || *size <= limit)
      return vocab;
    gsize v = seqnn_vocab_get_size (vocab);
    seqnn_vocab_unref (vocab);
    if (!(o->fixed & SEQNN_AUTOTUNE_MAX_VOCAB) && v > 100) {
      /* In proportion to the excess, at least by a tenth. */
      gdouble ratio = MIN (0.9, (gdouble) limit / (gdouble) *size);
      p->max_vocab = (guint) MAX (100.0, floor (v * ratio));
      continue;
    }
    /* The network next, with the vocabulary asked for. */
    p->max_vocab = asked.max_vocab;
    if (!shrink_network (p, o->fixed))
      return NULL;
    asked = *p;
  }
}

/* The settings of trial index (1-based): the start points, then variations of best. */
static gboolean
next_params (const Search *s, gint index, const SeqnnAutotuneParams *best, GPtrArray *tried,
    SeqnnAutotuneParams *out)
{
  const SeqnnAutotuneOptions *o = s->options;
  SeqnnRng rng;
  seqnn_rng_init (&rng, seqnn_rng_hash (o->seed, SEARCH_STREAM, (guint64) index));
  guint free_dims = 0;
  for (guint d = SEQNN_AUTOTUNE_CELL; d < SEQNN_AUTOTUNE_EPOCHS; d <<= 1)
    if (!(o->fixed & d))
      free_dims |= d;

  for (gint attempt = 0; attempt < MAX_VARIATION_TRIES + (gint) G_N_ELEMENTS (start_points);
      attempt++) {
    SeqnnAutotuneParams p;
    if (attempt < (gint) G_N_ELEMENTS (start_points)) {
      p = start_points[attempt]; /* those not yet tried come first */
    } else {
      if (best == NULL || free_dims == 0)
        return FALSE;
      p = *best;
      gint n_changes = 1 + (gint) seqnn_rng_below (&rng, 2);
      for (gint c = 0; c < n_changes; c++) {
        guint pick;
        do
          pick = 1u << seqnn_rng_below (&rng, 12);
        while (!(free_dims & pick));
        vary (&p, pick, &rng);
      }
    }
    apply_fixed (&p, o);
    gboolean seen = FALSE;
    for (guint i = 0; i < tried->len && !seen; i++)
      seen = params_equal (g_ptr_array_index (tried, i), &p);
    if (!seen) {
      *out = p;
      return TRUE;
    }
  }
  return FALSE;
}

static void
split_rows (Search *s, gsize n)
{
  gsize *order = g_new (gsize, n);
  for (gsize i = 0; i < n; i++)
    order[i] = i;
  SeqnnRng rng;
  seqnn_rng_init (&rng, seqnn_rng_hash (s->options->seed, SPLIT_STREAM, 0));
  seqnn_rng_shuffle_gsize (&rng, order, n);
  s->n_val = CLAMP ((gsize) llround (s->options->validation_fraction * (gdouble) n), 1, n - 1);
  s->n_train = n - s->n_val;
  s->val_rows = order;
  s->train_rows = order + s->n_val;
}

static gint
count_classes (const SeqnnDataset *data, gint *num_classes)
{
  gint max_label = -1, n_distinct = 0;
  gsize n = seqnn_dataset_get_size (data);
  GHashTable *seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (gsize i = 0; i < n; i++) {
    gint label;
    seqnn_dataset_get (data, i, NULL, NULL, &label);
    max_label = MAX (max_label, label);
    if (label >= 0 && g_hash_table_add (seen, GINT_TO_POINTER (label + 1)))
      n_distinct++;
  }
  g_hash_table_destroy (seen);
  *num_classes = max_label + 1;
  return n_distinct;
}

static gboolean
check_data (const SeqnnDataset *data, const gchar *const *labels, gint *num_classes,
    GError **error)
{
  gsize n = seqnn_dataset_get_size (data);
  if (n < MIN_RECORDS) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "autotune needs at least %d labelled records (a validation share ranks the trials), "
        "got %" G_GSIZE_FORMAT, MIN_RECORDS, n);
    return FALSE;
  }
  if (count_classes (data, num_classes) < 2) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "all %" G_GSIZE_FORMAT " records have the same label: a classifier needs at least "
        "two classes in the data", n);
    return FALSE;
  }
  guint n_labels = labels ? g_strv_length ((gchar **) labels) : 0;
  if (n_labels < (guint) *num_classes) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the data has labels up to %d but only %u label names were given",
        *num_classes - 1, n_labels);
    return FALSE;
  }
  return TRUE;
}

/* Settings of a round of up to n trials; FALSE when the space is exhausted
 * or no setting fits max_model_size (then error may be set). */
static gint
plan_round (const Search *s, Trial **round, gint n, gint first_index, const Trial *best,
    GPtrArray *tried, gint threads_each, GError **error)
{
  gint planned = 0;
  gint index = first_index;
  for (gint attempts = 0; planned < n && attempts < MAX_VARIATION_TRIES; attempts++) {
    SeqnnAutotuneParams p;
    if (!next_params (s, index + attempts, best ? &best->info.params : NULL, tried, &p))
      break;
    SeqnnAutotuneParams *kept = g_memdup2 (&p, sizeof p);
    g_ptr_array_add (tried, kept); /* also when it does not fit: not tried again */
    guint64 size = 0;
    SeqnnVocab *vocab = fit_vocab (s, &p, &size, error);
    if (vocab == NULL) {
      if (error != NULL && *error != NULL)
        return -1;
      continue;
    }
    Trial *t = g_new0 (Trial, 1);
    t->info.index = first_index + planned;
    t->info.params = p;
    t->info.model_size = size;
    t->info.vocab_size = (gint) seqnn_vocab_get_size (vocab);
    t->vocab = vocab;
    t->n_threads = threads_each;
    round[planned++] = t;
  }
  return planned;
}

static void
run_round (const Search *s, Trial **round, gint n)
{
  TrialRun *runs = g_new (TrialRun, n);
  GThread **threads = g_new0 (GThread *, n);
  for (gint i = 0; i < n; i++) {
    runs[i].search = s;
    runs[i].trial = round[i];
    if (i > 0)
      threads[i] = g_thread_try_new ("seqnn-autotune", run_trial, &runs[i], NULL);
  }
  run_trial (&runs[0]);
  for (gint i = 1; i < n; i++) {
    if (threads[i] != NULL)
      g_thread_join (threads[i]);
    else
      run_trial (&runs[i]); /* no thread to be had: in turn */
  }
  g_free (threads);
  g_free (runs);
}

static gboolean
better (const Trial *a, const Trial *b)
{
  if (a->best_model == NULL || isnan (a->info.validation_accuracy))
    return FALSE;
  return b == NULL || a->info.validation_accuracy > b->info.validation_accuracy;
}

/* The train.* keys seqnn_fit writes, for the best trial. */
static void
set_train_metadata (const Search *s, const Trial *best, SeqnnClassifier *c)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  /* SOURCE_DATE_EPOCH (reproducible-builds.org) makes the same search the same file */
  const gchar *epoch = g_getenv ("SOURCE_DATE_EPOCH");
  gint64 seconds;
  GDateTime *now = epoch != NULL && g_ascii_string_to_signed (epoch, 10, 0, G_MAXINT64 / 2,
      &seconds, NULL) ? g_date_time_new_from_unix_utc (seconds) : NULL;
  if (now == NULL)
    now = g_date_time_new_now_utc ();
  gchar *date = g_date_time_format_iso8601 (now);

  if (s->options->command != NULL)
    seqnn_classifier_set_metadata (c, "train.command", s->options->command);
  g_snprintf (buf, sizeof buf, "%" G_GSIZE_FORMAT, s->n_train);
  seqnn_classifier_set_metadata (c, "train.samples", buf);
  g_snprintf (buf, sizeof buf, "%d", best->info.params.epochs);
  seqnn_classifier_set_metadata (c, "train.epochs", buf);
  g_snprintf (buf, sizeof buf, "%d", best->info.best_epoch);
  seqnn_classifier_set_metadata (c, "train.best_epoch", buf);
  g_snprintf (buf, sizeof buf, "%d", best->info.epochs_run);
  seqnn_classifier_set_metadata (c, "train.epochs_run", buf);
  seqnn_classifier_set_metadata (c, "train.validation_accuracy",
      g_ascii_formatd (buf, sizeof buf, "%.6f", best->info.validation_accuracy));
  seqnn_classifier_set_metadata (c, "train.date", date);
  seqnn_classifier_set_metadata (c, "train.complete", "true");
  g_free (date);
  g_date_time_unref (now);
}

static SeqnnClassifier *
make_classifier (const Search *s, Trial *best, const gchar *const *labels,
    const SeqnnTokenizerConfig *tokenizer, gint n_trials, GError **error)
{
  SeqnnTokenizerConfig tok;
  if (tokenizer != NULL)
    tok = *tokenizer;
  else
    seqnn_tokenizer_config_init_default (&tok);
  tok.max_tokens = (gint) best->info.params.max_tokens;
  SeqnnModel *model = best->best_model;
  best->best_model = NULL;
  SeqnnClassifier *c = seqnn_classifier_new (model, best->vocab, &tok, labels, error);
  if (c == NULL)
    return NULL;
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  gchar *settings = seqnn_autotune_params_to_string (&best->info.params);
  gchar *text = g_strdup_printf ("%d", n_trials);
  seqnn_classifier_set_metadata (c, "autotune.settings", settings);
  seqnn_classifier_set_metadata (c, "autotune.trials", text);
  g_free (text);
  text = g_strdup_printf ("%d", best->info.index);
  seqnn_classifier_set_metadata (c, "autotune.best_trial", text);
  g_free (text);
  text = g_strdup_printf ("%d", best->info.best_epoch);
  seqnn_classifier_set_metadata (c, "autotune.best_epoch", text);
  g_free (text);
  seqnn_classifier_set_metadata (c, "autotune.validation_accuracy",
      g_ascii_formatd (buf, sizeof buf, "%.6f", best->info.validation_accuracy));
  seqnn_classifier_set_metadata (c, "autotune.validation_fraction",
      g_ascii_formatd (buf, sizeof buf, "%g", s->options->validation_fraction));
  seqnn_classifier_set_metadata (c, "autotune.duration",
      g_ascii_formatd (buf, sizeof buf, "%g", s->options->duration));
  text = g_strdup_printf ("%" G_GUINT64_FORMAT, s->options->seed);
  seqnn_classifier_set_metadata (c, "autotune.seed", text);
  g_free (text);
  g_free (settings);
  set_train_metadata (s, best, c);
  return c;
}

/* Files trial t (owned by the caller unless it becomes *best or *fallback)
 * and reports it; FALSE with error set when the search must end. */
static gboolean
take_outcome (const Search *s, Trial *t, Trial **best, Trial **fallback,
    SeqnnAutotuneFunc on_trial, gpointer user_data, GError **error)
{
  if (t->error != NULL) {
    g_propagate_error (error, g_steal_pointer (&t->error));
    return FALSE;
  }
  if (t->cancelled || cancel_requested (s->options)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED, "autotune cancelled");
    return FALSE;
  }
  SeqnnAutotuneTrial info = t->info;
  info.best = better (t, *best);
  info.elapsed = (g_get_monotonic_time () - s->start_time) / 1e6;
  if (info.best) {
    trial_free (*best);
    *best = t;
  } else if (t->info.cut && t->best_model == NULL && *fallback == NULL) {
    *fallback = t;
  }
  if (on_trial != NULL && !on_trial (&info, user_data)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED, "autotune cancelled");
    return FALSE;
  }
  return TRUE;
}

/* Runs rounds until the budget is spent or the space is exhausted; keeps the best. */
static gboolean
search_loop (Search *s, gint parallel, gint threads_each, SeqnnAutotuneFunc on_trial,
    gpointer user_data, Trial **best_out, gint *n_trials, GError **error)
{
  GPtrArray *tried = g_ptr_array_new_with_free_func (g_free);
  Trial **round = g_new0 (Trial *, parallel);
  Trial *best = NULL;
  Trial *fallback = NULL; /* the first trial cut before any epoch ended */
  gboolean ok = TRUE;
  gint index = 1;

  /* At least one round, however short the budget (the minimal trial). */
  while (ok && (index == 1 || g_get_monotonic_time () < s->deadline)) {
    gint n = plan_round (s, round, parallel, index, best, tried, threads_each, error);
    if (n < 0) {
      ok = FALSE;
      break;
    }
    if (n == 0)
      break;
    run_round (s, round, n);
    for (gint i = 0; i < n; i++) {
      Trial *t = g_steal_pointer (&round[i]);
      if (ok)
        ok = take_outcome (s, t, &best, &fallback, on_trial, user_data, error);
      if (t != best && t != fallback)
        trial_free (t);
    }
    index += n;
  }
  *n_trials = index - 1;

  if (ok && best == NULL && fallback != NULL) {
    /* The minimal trial: the budget ended before any epoch did. */
    evaluate_as_is (s, fallback);
    if (fallback->error != NULL) {
      g_propagate_error (error, fallback->error);
      fallback->error = NULL;
      ok = FALSE;
    } else {
      best = g_steal_pointer (&fallback);
    }
  }
  if (ok && best == NULL && index == 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "autotune: no setting fits max-model-size %" G_GUINT64_FORMAT " bytes with the fixed "
        "settings; raise it or fix smaller sizes", s->options->max_model_size);
    ok = FALSE;
  }
  if (ok && best == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
        "autotune: every trial diverged (NaN or infinite loss); lower the learning rate "
        "or set clip-norm");
    ok = FALSE;
  }
  trial_free (fallback);
  if (!ok)
    g_clear_pointer (&best, trial_free);
  *best_out = best;
  g_free (round);
  g_ptr_array_unref (tried);
  return ok;
}

/* Refuses a max_model_size that even the smallest setting exceeds, before any training. */
static gboolean
check_size_bound (Search *s, GError **error)
{
  const SeqnnAutotuneOptions *o = s->options;
  if (o->max_model_size == 0)
    return TRUE;
  SeqnnAutotuneParams p = start_points[0];
  apply_fixed (&p, o);
  while (shrink_network (&p, o->fixed))
    ;
  if (!(o->fixed & SEQNN_AUTOTUNE_MAX_VOCAB))
    p.max_vocab = 100;
  SeqnnVocab *vocab = seqnn_dataset_build_vocab (s->data, p.min_freq, p.max_vocab, error);
  if (vocab == NULL)
    return FALSE;
  guint64 size = seqnn_autotune_estimate_model_size (&p, vocab, s->num_classes);
  seqnn_vocab_unref (vocab);
  if (size > o->max_model_size) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "autotune: no model fits in max-model-size %" G_GUINT64_FORMAT " bytes: the smallest "
        "the search (with the fixed settings) can make takes %" G_GUINT64_FORMAT " bytes",
        o->max_model_size, size);
    return FALSE;
  }
  return TRUE;
}

SeqnnClassifier *
seqnn_autotune (const SeqnnDataset *dataset, const gchar *const *labels,
    const SeqnnTokenizerConfig *tokenizer, const SeqnnAutotuneOptions *options,
    SeqnnAutotuneFunc on_trial, gpointer user_data, SeqnnAutotuneTrial *best_info,
    gint *n_trials, GError **error)
{
  Search s = { 0 };
  Trial *best = NULL;
  SeqnnClassifier *classifier = NULL;
  gint ran = 0;

  if (dataset == NULL || options == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "seqnn_autotune: dataset and options must not be NULL");
    return NULL;
  }
  s.data = dataset;
  s.options = options;
  if (!check_options (options, error) || !check_data (dataset, labels, &s.num_classes, error))
    return NULL;
  if (!check_size_bound (&s, error))
    return NULL;

  gint n_threads = options->n_threads > 0 ? options->n_threads : (gint) g_get_num_processors ();
  gint parallel = CLAMP (options->parallel > 0 ? options->parallel : 1, 1, n_threads);
  gint threads_each = MAX (1, n_threads / parallel);
  split_rows (&s, seqnn_dataset_get_size (dataset));
  s.start_time = g_get_monotonic_time ();
  s.deadline = s.start_time + (gint64) (options->duration * 1e6);

  if (search_loop (&s, parallel, threads_each, on_trial, user_data, &best, &ran, error)) {
    if (best_info != NULL) {
      *best_info = best->info;
      best_info->best = TRUE;
    }
    classifier = make_classifier (&s, best, labels, tokenizer, ran, error);
  }
  if (n_trials != NULL)
    *n_trials = ran;
  trial_free (best);
  g_free (s.val_rows);
  return classifier;
}

gchar *
seqnn_autotune_params_to_string (const SeqnnAutotuneParams *p)
{
  gchar dropout[G_ASCII_DTOSTR_BUF_SIZE], lr[G_ASCII_DTOSTR_BUF_SIZE];
  g_return_val_if_fail (p != NULL, NULL);
  return g_strdup_printf ("cell=%s embed-dim=%d hidden-dim=%d layers=%d bidirectional=%s "
      "head=%s dropout=%s min-freq=%" G_GUINT64_FORMAT " max-vocab=%u max-tokens=%u "
      "learning-rate=%s batch-size=%d epochs=%d", seqnn_cell_to_string (p->cell), p->embed_dim,
      p->hidden_dim, p->num_layers, p->bidirectional ? "true" : "false",
      seqnn_head_to_string (p->head), g_ascii_formatd (dropout, sizeof dropout, "%g", p->dropout),
      p->min_freq, p->max_vocab, p->max_tokens,
      g_ascii_formatd (lr, sizeof lr, "%g", p->learning_rate), p->batch_size, p->epochs);
}
