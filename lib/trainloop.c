/* libseqnn: the training loop (epochs, shuffling, validation split, progress,
 * checkpoints, cancellation).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "names.h"
#include "seqnn/trainloop.h"
#include "rng.h"
#include "dataset-batch.h"
#include "trainstate.h"

#include <math.h>
#include <string.h>

/* The epoch shuffles' stream tag, independent of the split's (trainstate.c) for one seed. */
#define SHUFFLE_STREAM 0x73687566ULL   /* "shuf" */

void
seqnn_train_options_init_default (SeqnnTrainOptions *options)
{
  g_return_if_fail (options != NULL);
  memset (options, 0, sizeof (*options));
  options->batch_size = 16;
  options->epochs = 1;
  options->seed = 0;
  options->validation_fraction = 0.0;
  options->n_threads = 0;
  seqnn_optimizer_config_init_default (&options->optimizer);
  options->progress_interval = 2000;
  options->checkpoint_interval = 0;
  options->cancel_flag = NULL;
  options->validation = NULL;
  options->patience = 0;
  options->lr_schedule = SEQNN_LR_CONSTANT;
  options->warmup_steps = 0;
  options->warmup_fraction = 0.0;
  options->plateau_factor = 0.5;
  options->plateau_patience = 1;
  options->class_names = NULL;
}

static const gchar *const schedule_names[] = { "constant", "linear", "cosine", "plateau" };

const gchar *
seqnn_lr_schedule_to_string (SeqnnLrSchedule schedule)
{
  return seqnn_name_of (schedule_names, G_N_ELEMENTS (schedule_names), (guint) schedule);
}

gboolean
seqnn_lr_schedule_from_string (const gchar *str, SeqnnLrSchedule *schedule)
{
  guint value;

  if (!seqnn_name_lookup (schedule_names, G_N_ELEMENTS (schedule_names), str, &value))
    return FALSE;
  if (schedule != NULL)
    *schedule = (SeqnnLrSchedule) value;
  return TRUE;
}

gdouble
seqnn_lr_schedule_rate (SeqnnLrSchedule schedule, gdouble base, guint64 step,
    guint64 total_steps, guint64 warmup_steps, gdouble scale)
{
  gdouble rate = base * scale;
  if (step < warmup_steps)
    return rate * (gdouble) (step + 1) / (gdouble) warmup_steps;
  if (total_steps <= warmup_steps || step >= total_steps)
    return schedule == SEQNN_LR_LINEAR || schedule == SEQNN_LR_COSINE ? 0.0 : rate;
  gdouble span = (gdouble) (total_steps - warmup_steps);
  gdouble done = (gdouble) (step - warmup_steps);
  switch (schedule) {
    case SEQNN_LR_LINEAR:
      return rate * (span - done) / span;
    case SEQNN_LR_COSINE:
      return rate * 0.5 * (1.0 + cos (G_PI * done / span));
    case SEQNN_LR_CONSTANT:
    case SEQNN_LR_PLATEAU:
    default:
      return rate;
  }
}

/* Checks the whole dataset once, before any work: vocabulary, id and label ranges,
 * at least two distinct classes. present (num_classes long, zeroed) gets the
 * classes that occur. */
static gboolean
check_dataset (const SeqnnConfig *config, const SeqnnDataset *dataset, gboolean *present,
    GError **error)
{
  gsize n = seqnn_dataset_get_size (dataset);
  if (n == 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "no training data: the dataset is empty");
    return FALSE;
  }
  if (!seqnn_dataset_has_vocab (dataset)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the dataset has no vocabulary applied (build one and call seqnn_dataset_apply_vocab)");
    return FALSE;
  }
  gint n_distinct = 0;
  gint first_label = -1;
  gboolean ok = TRUE;
  for (gsize i = 0; i < n && ok; i++) {
    const gint32 *ids;
    gint length, label;
    seqnn_dataset_get (dataset, i, &ids, &length, &label);
    if (label < 0) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "sequence %" G_GSIZE_FORMAT " has no label; training needs a label on every sequence", i);
      ok = FALSE;
    } else if (label >= config->num_classes) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "sequence %" G_GSIZE_FORMAT " has label %d but the model has %d classes (0..%d)",
          i, label, config->num_classes, config->num_classes - 1);
      ok = FALSE;
    } else {
      if (!present[label]) {
        present[label] = TRUE;
        n_distinct++;
        if (first_label < 0)
          first_label = label;
      }
      for (gint t = 0; t < length; t++)
        if (ids[t] < 0 || ids[t] >= config->vocab_size) {
          g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
              "sequence %" G_GSIZE_FORMAT " has token id %d at position %d, outside the model's "
              "vocabulary of %d", i, ids[t], t, config->vocab_size);
          ok = FALSE;
          break;
        }
    }
  }
  if (ok && n_distinct < 2) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "all %" G_GSIZE_FORMAT " sequences have the same label (%d): a classifier needs "
        "at least two classes in the data", n, first_label);
    ok = FALSE;
  }
  return ok;
}

static gboolean
check_schedule_options (const SeqnnTrainOptions *options, GError **error)
{
  gboolean has_validation = options->validation != NULL || options->validation_fraction > 0.0;
  const gchar *problem = NULL;
  if (options->validation != NULL && options->validation_fraction > 0.0)
    problem = "give either a validation dataset or a validation fraction, not both";
  else if (options->patience < 0)
    problem = "patience must be 0 (off) or more epochs";
  else if (options->patience > 0 && !has_validation)
    problem = "early stopping (patience) needs validation data: a validation fraction or dataset";
  else if (seqnn_lr_schedule_to_string (options->lr_schedule) == NULL)
    problem = "unknown learning-rate schedule";
  else if (options->lr_schedule == SEQNN_LR_PLATEAU && !has_validation)
    problem = "the plateau schedule needs validation data: a validation fraction or dataset";
  else if (!(options->warmup_fraction >= 0.0 && options->warmup_fraction < 1.0))
    problem = "warm-up fraction must be in [0, 1)";
  else if (options->lr_schedule == SEQNN_LR_PLATEAU
      && !(options->plateau_factor > 0.0 && options->plateau_factor < 1.0))
    problem = "plateau factor must be in (0, 1)";
  else if (options->lr_schedule == SEQNN_LR_PLATEAU && options->plateau_patience < 1)
    problem = "plateau patience must be at least 1 epoch";
  if (problem != NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "%s", problem);
    return FALSE;
  }
  return TRUE;
}

static void
append_class_name (GString *out, const gchar *const *names, gint label)
{
  guint n_names = names != NULL ? g_strv_length ((gchar **) names) : 0;
  if (out->len > 0)
    g_string_append (out, ", ");
  if (label >= 0 && (guint) label < n_names)
    g_string_append_printf (out, "\"%s\"", names[label]);
  else
    g_string_append_printf (out, "class %d", label);
}

/* The separate validation set: vocabulary applied, ids in range, and only
 * classes the training data has (train_present, config->num_classes long). */
static gboolean
check_validation (const SeqnnConfig *config, const SeqnnDataset *validation,
    const gboolean *train_present, const gchar *const *class_names, GError **error)
{
  gsize n = seqnn_dataset_get_size (validation);
  if (n == 0 || !seqnn_dataset_has_vocab (validation)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the validation dataset is %s", n == 0 ? "empty" : "without a vocabulary applied");
    return FALSE;
  }
  GHashTable *lacking = g_hash_table_new (NULL, NULL);
  GArray *order = g_array_new (FALSE, FALSE, sizeof (gint));
  gboolean ok = TRUE;
  for (gsize i = 0; i < n && ok; i++) {
    const gint32 *ids;
    gint length, label;
    seqnn_dataset_get (validation, i, &ids, &length, &label);
    if (label < 0) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "validation sequence %" G_GSIZE_FORMAT " has no label", i);
      ok = FALSE;
    } else if ((label >= config->num_classes || !train_present[label])
        && !g_hash_table_contains (lacking, GINT_TO_POINTER (label + 1))) {
      g_hash_table_add (lacking, GINT_TO_POINTER (label + 1));
      g_array_append_val (order, label);
    }
    for (gint t = 0; ok && t < length; t++)
      if (ids[t] < 0 || ids[t] >= config->vocab_size) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
            "validation sequence %" G_GSIZE_FORMAT " has token id %d outside the model's "
            "vocabulary of %d", i, ids[t], config->vocab_size);
        ok = FALSE;
      }
  }
  if (ok && order->len > 0) {
    GString *names = g_string_new (NULL);
    for (guint i = 0; i < order->len; i++)
      append_class_name (names, class_names, g_array_index (order, gint, i));
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the validation data has labels the training data lacks: %s", names->str);
    g_string_free (names, TRUE);
    ok = FALSE;
  }
  g_array_unref (order);
  g_hash_table_unref (lacking);
  return ok;
}

static gboolean
check_options (const SeqnnTrainOptions *options, GError **error)
{
  if (options->batch_size < 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "batch size must be at least 1, got %d", options->batch_size);
    return FALSE;
  }
  if (options->epochs < 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "epochs must be at least 1, got %d", options->epochs);
    return FALSE;
  }
  if (!(options->validation_fraction >= 0.0 && options->validation_fraction < 1.0)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "validation fraction must be in [0, 1), got %g", options->validation_fraction);
    return FALSE;
  }
  if (options->n_threads < 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "n_threads must be 0 (all cores) or more, got %d", options->n_threads);
    return FALSE;
  }
  return check_schedule_options (options, error);
}

static gboolean
is_cancelled (const SeqnnTrainOptions *options)
{
  return options->cancel_flag != NULL && g_atomic_int_get (options->cancel_flag) != 0;
}

static void
set_cancelled (GError **error, const SeqnnTrainProgress *p)
{
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED,
      "training cancelled at epoch %d after %" G_GUINT64_FORMAT " samples", p->epoch, p->samples_seen);
}

/* What went wrong in a step that failed numerically (the trainer fills the loss first). */
static const gchar *
describe_non_finite (gdouble loss)
{
  if (isnan (loss))
    return "loss became NaN";
  if (isinf (loss))
    return "loss became infinite";
  return "gradient became NaN or infinite";
}

gboolean
seqnn_train (SeqnnModel *model, const SeqnnDataset *dataset, const SeqnnTrainOptions *options,
    SeqnnTrainProgressFunc progress, SeqnnCheckpointFunc checkpoint, gpointer user_data,
    GError **error)
{
  if (model == NULL || dataset == NULL || options == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "seqnn_train: model, dataset and options must not be NULL");
    return FALSE;
  }
  if (!check_options (options, error))
    return FALSE;
  const SeqnnConfig *config = seqnn_model_get_config (model);
  gboolean *present = g_new0 (gboolean, config->num_classes);
  gboolean checked = check_dataset (config, dataset, present, error)
      && (options->validation == NULL
          || check_validation (config, options->validation, present, options->class_names, error));
  g_free (present);
  if (!checked)
    return FALSE;

  gint n_threads = options->n_threads > 0 ? options->n_threads : (gint) g_get_num_processors ();
  gsize n = seqnn_dataset_get_size (dataset);

  gsize n_val;
  gsize *order = seqnn_train_split (options, n, &n_val);
  SeqnnRng rng;
  gsize *train_indices = order + n_val;
  gsize n_train = n - n_val;
  /* Validation: the held-out split, or the separate set. */
  const SeqnnDataset *val_set = options->validation != NULL ? options->validation : dataset;
  const gsize *val_indices = options->validation != NULL ? NULL : order;
  if (options->validation != NULL)
    n_val = seqnn_dataset_get_size (options->validation);
  SeqnnConfusion *val_confusion = NULL;
  if (n_val > 0 && (val_confusion = seqnn_confusion_new (config->num_classes)) == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "cannot allocate the validation confusion matrix for %d classes", config->num_classes);
    g_free (order);
    return FALSE;
  }

  SeqnnTrainer *trainer = seqnn_train_new_trainer (model, options, n_threads, error);
  if (trainer == NULL) {
    seqnn_confusion_free (val_confusion);
    g_free (order);
    return FALSE;
  }

  gint B = options->batch_size;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  /* Sized for the largest batch that occurs (n_train >= 1), not batch_size. */
  gsize max_batch = MIN ((gsize) B, n_train);
  gint *lengths = g_new (gint, max_batch);
  gint *labels = g_new (gint, max_batch);
  seqnn_rng_init (&rng, seqnn_rng_hash (options->seed, SHUFFLE_STREAM, 0));

  SeqnnTrainProgress p = { 0 };
  p.epochs = options->epochs;
  p.samples_total = (guint64) options->epochs * n_train;
  p.validation_loss = NAN;
  p.validation_accuracy = NAN;
  p.n_train = n_train;
  p.n_validation = n_val;
  p.best_validation_accuracy = NAN;
  p.learning_rate = options->optimizer.learning_rate;

  SeqnnLrState schedule;
  seqnn_lr_state_init (&schedule, options,
      (n_train + (guint64) options->batch_size - 1) / (guint64) options->batch_size);
  SeqnnBestKeeper best = { 0 };

  guint64 next_progress = options->progress_interval > 0 ? options->progress_interval : G_MAXUINT64;
  guint64 next_checkpoint = options->checkpoint_interval > 0 ? options->checkpoint_interval
      : G_MAXUINT64;
  gint64 start_time = g_get_monotonic_time ();
  gboolean ok = TRUE;

  for (gint epoch = 1; epoch <= options->epochs && ok; epoch++) {
    p.epoch = epoch;
    p.epoch_end = FALSE;
    p.validation_loss = NAN;
    p.validation_accuracy = NAN;
    seqnn_rng_shuffle_gsize (&rng, train_indices, n_train);
    seqnn_trainer_set_training (trainer, TRUE);
    gdouble epoch_loss_sum = 0.0;
    guint64 epoch_correct = 0, epoch_seen = 0;
    guint64 batch_in_epoch = 0;

    for (gsize start = 0; start < n_train; start += B) {
      if (is_cancelled (options)) {
        set_cancelled (error, &p);
        ok = FALSE;
        break;
      }
      gint b = (gint) MIN ((gsize) B, n_train - start);
      g_array_set_size (ids, 0);
      for (gint i = 0; i < b; i++) {
        lengths[i] = seqnn_dataset_append_row (dataset, train_indices[start + i], ids, &labels[i]);
      }
      batch_in_epoch++;
      if (schedule.active) {
        p.learning_rate = seqnn_lr_state_rate (&schedule, p.step);
        seqnn_trainer_set_learning_rate (trainer, (gfloat) p.learning_rate);
      }

      SeqnnBatch batch = { (const gint32 *) ids->data, lengths, b, labels };
      SeqnnStepResult result = { NAN, 0, 0 };
      GError *step_error = NULL;
      if (!seqnn_trainer_step (trainer, &batch, &result, &step_error)) {
        if (g_error_matches (step_error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC)) {
          g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
              "%s at epoch %d, step %" G_GUINT64_FORMAT " (batch of %d): "
              "lower learning-rate or enable clip-norm (%s)", describe_non_finite (result.loss),
              epoch, batch_in_epoch, b, step_error->message);
          g_error_free (step_error);
        } else {
          g_propagate_error (error, step_error);
        }
        ok = FALSE;
        break;
      }
      if (!isfinite (result.loss)) {
        /* The trainer should have caught this; never let it through silently. */
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
            "%s at epoch %d, step %" G_GUINT64_FORMAT " (batch of %d): "
            "lower learning-rate or enable clip-norm", describe_non_finite (result.loss),
            epoch, batch_in_epoch, b);
        ok = FALSE;
        break;
      }

      epoch_loss_sum += result.loss * b;
      epoch_correct += result.n_correct;
      epoch_seen += b;
      p.step++;
      p.samples_seen += b;
      p.running_loss = epoch_loss_sum / (gdouble) epoch_seen;
      p.running_accuracy = (gdouble) epoch_correct / (gdouble) epoch_seen;
      p.elapsed_seconds = (g_get_monotonic_time () - start_time) / 1e6;
      p.samples_per_second = p.elapsed_seconds > 0 ? p.samples_seen / p.elapsed_seconds : 0.0;
      p.seconds_left = p.samples_per_second > 0
          ? (p.samples_total - p.samples_seen) / p.samples_per_second : 0.0;

      if (p.samples_seen >= next_checkpoint) {
        while (next_checkpoint <= p.samples_seen)
          next_checkpoint += options->checkpoint_interval;
        if (checkpoint != NULL) {
          GError *cp_error = NULL;
          seqnn_trainer_sync (trainer);
          if (!checkpoint (model, &p, user_data, &cp_error)) {
            if (cp_error == NULL)
              g_set_error (&cp_error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED,
                  "the checkpoint callback stopped training at epoch %d", epoch);
            g_propagate_error (error, cp_error);
            ok = FALSE;
            break;
          }
        }
      }
      /* The epoch-end report below covers the last batch of an epoch. */
      if (p.samples_seen >= next_progress && start + b < n_train) {
        while (next_progress <= p.samples_seen)
          next_progress += options->progress_interval;
        if (progress != NULL && !progress (&p, user_data)) {
          set_cancelled (error, &p);
          ok = FALSE;
          break;
        }
      }
    }
    if (!ok)
      break;
    while (next_progress <= p.samples_seen)
      next_progress += options->progress_interval;

    /* Pending lazy embedding updates land before anyone reads the model. */
    seqnn_trainer_sync (trainer);
    if (n_val > 0) {
      seqnn_confusion_reset (val_confusion);
      if (!seqnn_evaluate (model, val_set, val_indices, val_indices != NULL ? n_val : 0,
              MAX (B, 64), n_threads, &p.validation_loss, val_confusion, error)) {
        ok = FALSE;
        break;
      }
      p.validation_accuracy = seqnn_confusion_accuracy (val_confusion);
      seqnn_best_keeper_track (&best, &schedule, options, model, &p);
    }
    p.epoch_end = TRUE;
    p.elapsed_seconds = (g_get_monotonic_time () - start_time) / 1e6;
    p.samples_per_second = p.elapsed_seconds > 0 ? p.samples_seen / p.elapsed_seconds : 0.0;
    p.seconds_left = p.samples_per_second > 0
        ? (p.samples_total - p.samples_seen) / p.samples_per_second : 0.0;
    if (progress != NULL && !progress (&p, user_data)) {
      set_cancelled (error, &p);
      ok = FALSE;
    }
    if (p.stopping_early)
      break;
  }

  seqnn_confusion_free (val_confusion);
  g_free (labels);
  g_free (lengths);
  g_array_unref (ids);
  seqnn_trainer_sync (trainer); /* also on failure: the model is left consistent */
  seqnn_trainer_free (trainer);
  if (ok)
    seqnn_best_keeper_restore (&best, model, p.epoch);
  seqnn_best_keeper_clear (&best);
  g_free (order);
  return ok;
}
