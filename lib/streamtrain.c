/* libseqnn: training a stream model (seqnn/fit.h's stream_training): the
 * records become running streams of caption-sized cues, trained with
 * truncated backpropagation through time over windows of parallel streams,
 * the loss at every cue's end; validation is per cue on a stream built the
 * same way in a fixed order.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "streamtrain.h"
#include "network.h"
#include "grow.h"
#include "rng.h"
#include "trainstate.h"

#include <math.h>
#include <string.h>

/* Stream tags so the epoch streams and the validation stream draw numbers
 * independent of each other and of the split (trainstate.c). */
#define EPOCH_STREAM 0x65706f6368ULL      /* "epoch" */
#define VALIDATION_STREAM 0x76616c6964ULL /* "valid": fixed, whatever the seed */
/* Tokens per forward pass when evaluating (one stream, state carried). */
#define EVAL_CHUNK 1024

/* A running stream: token ids and, at each cue's last token, its record's class. */
typedef struct {
  gint32 *ids;
  gint *targets;     /* -1 but at cue ends */
  gsize n_tokens;
  gsize n_cues;
} StreamText;

static void
stream_text_clear (StreamText *text)
{
  g_free (text->ids);
  g_free (text->targets);
  memset (text, 0, sizeof *text);
}

/* Records indices[0 .. n) (in the given order) cut into cues of lo..hi
 * tokens, back to back (bench/broadcast.py's cut, over tokens). */
static gboolean
build_stream (const SeqnnDataset *dataset, const gsize *indices, gsize n, gint lo, gint hi,
    SeqnnRng *rng, StreamText *text, GError **error)
{
  gsize total = 0;
  for (gsize k = 0; k < n; k++) {
    const gint32 *ids;
    gint length, label;
    seqnn_dataset_get (dataset, indices[k], &ids, &length, &label);
    total += (gsize) length;
  }
  stream_text_clear (text);
  text->ids = total ? g_try_new (gint32, total) : NULL;
  text->targets = total ? g_try_new (gint, total) : NULL;
  if (total > 0 && (text->ids == NULL || text->targets == NULL)) {
    seqnn_set_no_memory_error (error, total * (sizeof (gint32) + sizeof (gint)),
        "the training stream", "every token of the data", "train on fewer records");
    stream_text_clear (text);
    return FALSE;
  }
  gsize at = 0;
  for (gsize k = 0; k < n; k++) {
    const gint32 *ids;
    gint length, label;
    seqnn_dataset_get (dataset, indices[k], &ids, &length, &label);
    if (length <= 0)
      continue;
    memcpy (text->ids + at, ids, sizeof (gint32) * length);
    for (gint t = 0; t < length; t++)
      text->targets[at + t] = -1;
    gint i = 0;
    while (length - i > hi) {
      gint cue = lo + (gint) seqnn_rng_below (rng, (guint64) (hi - lo + 1));
      if (length - i - cue < lo)   /* keep the remainder a full cue */
        cue = length - i - lo;
      i += cue;
      text->targets[at + i - 1] = label;
      text->n_cues++;
    }
    text->targets[at + length - 1] = label;
    text->n_cues++;
    at += (gsize) length;
  }
  text->n_tokens = at;
  return TRUE;
}

/* Per-cue mean loss and accuracy of model over text run as one stream from
 * a zero state. */
static gboolean
stream_evaluate (const SeqnnModel *model, const StreamText *text, gdouble *mean_loss,
    gdouble *accuracy, GError **error)
{
  const SeqnnLayout *lay = seqnn_model_get_layout (model);
  const gfloat *params = seqnn_model_peek_params (model, NULL);
  const gsize LH = (gsize) lay->L * lay->H;
  SeqnnNet *net = seqnn_net_new (lay);
  gfloat *h = g_new0 (gfloat, LH), *c = g_new0 (gfloat, LH);
  gint *seqs = g_new0 (gint, EVAL_CHUNK), *steps = g_new (gint, EVAL_CHUNK), *labels = g_new (gint, EVAL_CHUNK);
  gdouble loss = 0.0;
  guint64 correct = 0, n_cues = 0;
  gboolean ok = seqnn_net_reserve (net, 1, EVAL_CHUNK, FALSE, error)
      && seqnn_net_reserve_positions (net, EVAL_CHUNK, FALSE, error);
  for (gsize start = 0; ok && start < text->n_tokens; start += EVAL_CHUNK) {
    gint len = (gint) MIN ((gsize) EVAL_CHUNK, text->n_tokens - start), P = 0;
    for (gint t = 0; t < len; t++)
      if (text->targets[start + t] >= 0) {
        steps[P] = t;
        labels[P++] = text->targets[start + t];
      }
    seqnn_net_forward_from (net, params, text->ids + start, &len, 1, h, c, FALSE, FALSE, 0, 0);
    seqnn_net_forward_positions (net, params, seqs, steps, P);
    for (gint i = 0; i < P; i++) {
      gint arg;
      loss += seqnn_cross_entropy_row (net->pos_logits + (gsize) i * lay->C, lay->C, labels[i], &arg);
      correct += arg == labels[i];
    }
    n_cues += (guint64) P;
    seqnn_net_copy_states (net, h, lay->cell == SEQNN_CELL_LSTM ? c : NULL);
  }
  *mean_loss = n_cues ? loss / (gdouble) n_cues : NAN;
  *accuracy = n_cues ? (gdouble) correct / (gdouble) n_cues : NAN;
  g_free (seqs);
  g_free (steps);
  g_free (labels);
  g_free (h);
  g_free (c);
  seqnn_net_free (net);
  return ok;
}

static gboolean
check_options (const SeqnnTrainOptions *o, const SeqnnStreamTrainOptions *s, GError **error)
{
  const gchar *problem = NULL;
  gboolean has_validation = o->validation != NULL || o->validation_fraction > 0.0;
  if (o->batch_size < 1)
    problem = "batch size (the number of parallel streams) must be at least 1";
  else if (o->epochs < 1)
    problem = "epochs must be at least 1";
  else if (!(o->validation_fraction >= 0.0 && o->validation_fraction < 1.0))
    problem = "validation fraction must be in [0, 1)";
  else if (o->validation != NULL && o->validation_fraction > 0.0)
    problem = "give either a validation dataset or a validation fraction, not both";
  else if (o->n_threads < 0)
    problem = "n_threads must be 0 (all cores) or more";
  else if (o->patience < 0)
    problem = "patience must be 0 (off) or more epochs";
  else if (o->patience > 0 && !has_validation)
    problem = "early stopping (patience) needs validation data: a validation fraction or dataset";
  else if (seqnn_lr_schedule_to_string (o->lr_schedule) == NULL)
    problem = "unknown learning-rate schedule";
  else if (o->lr_schedule == SEQNN_LR_PLATEAU && !has_validation)
    problem = "the plateau schedule needs validation data: a validation fraction or dataset";
  else if (o->lr_schedule == SEQNN_LR_PLATEAU
      && !(o->plateau_factor > 0.0 && o->plateau_factor < 1.0 && o->plateau_patience >= 1))
    problem = "the plateau schedule needs a factor in (0, 1) and a patience of at least 1 epoch";
  else if (!(o->warmup_fraction >= 0.0 && o->warmup_fraction < 1.0))
    problem = "warm-up fraction must be in [0, 1)";
  else if (s->min_cue_tokens < 1 || s->max_cue_tokens < s->min_cue_tokens)
    problem = "cue lengths must satisfy 1 <= min <= max tokens";
  else if (s->window < 1)
    problem = "the stream window must be at least 1 token";
  if (problem != NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "stream training: %s", problem);
    return FALSE;
  }
  return TRUE;
}

/* Labels and ids in range, tokens somewhere, two classes at least (training). */
static gboolean
check_data (const SeqnnConfig *config, const SeqnnDataset *dataset, const gchar *what,
    gboolean training, GError **error)
{
  gsize n = seqnn_dataset_get_size (dataset), n_tokens = 0;
  if (n == 0 || !seqnn_dataset_has_vocab (dataset)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "the %s data is %s", what,
        n == 0 ? "empty" : "without a vocabulary applied");
    return FALSE;
  }
  gint first = -1;
  gboolean two = FALSE;
  for (gsize i = 0; i < n; i++) {
    const gint32 *ids;
    gint length, label;
    seqnn_dataset_get (dataset, i, &ids, &length, &label);
    if (label < 0 || label >= config->num_classes) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "%s record %" G_GSIZE_FORMAT " has label %d; the model has classes 0..%d", what, i,
          label, config->num_classes - 1);
      return FALSE;
    }
    for (gint t = 0; t < length; t++)
      if (ids[t] < 0 || ids[t] >= config->vocab_size) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
            "%s record %" G_GSIZE_FORMAT " has token id %d, outside the vocabulary of %d",
            what, i, ids[t], config->vocab_size);
        return FALSE;
      }
    n_tokens += (gsize) length;
    if (first < 0)
      first = label;
    else if (label != first)
      two = TRUE;
  }
  if (n_tokens == 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the %s data holds no tokens: no stream to train on", what);
    return FALSE;
  }
  if (training && !two) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "all %" G_GSIZE_FORMAT " records have the same label (%d): a classifier needs at least "
        "two classes in the data", n, first);
    return FALSE;
  }
  return TRUE;
}

static void
report_timing (SeqnnTrainProgress *p, gint64 start_time)
{
  p->elapsed_seconds = (g_get_monotonic_time () - start_time) / 1e6;
  p->samples_per_second = p->elapsed_seconds > 0 ? p->samples_seen / p->elapsed_seconds : 0.0;
  p->seconds_left = p->samples_per_second > 0
      ? (p->samples_total - p->samples_seen) / p->samples_per_second : 0.0;
}

/* One training run's state. */
typedef struct {
  const SeqnnTrainOptions *o;
  const SeqnnStreamTrainOptions *so;
  SeqnnModel *model;
  const SeqnnLayout *lay;
  SeqnnTrainer *trainer;
  SeqnnTrainProgressFunc progress;
  SeqnnCheckpointFunc checkpoint;
  gpointer user_data;
  SeqnnTrainProgress p;
  gint64 start_time;
  guint64 next_progress, next_checkpoint;
  SeqnnLrState lr;
  SeqnnBestKeeper best;     /* early stopping */
  /* a window */
  gint32 *win_ids;
  gint *win_targets;
  gfloat *h, *c;
} Run;

static gboolean
fail_cancelled (Run *run, GError **error)
{
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED,
      "training cancelled at epoch %d after %" G_GUINT64_FORMAT " samples", run->p.epoch,
      run->p.samples_seen);
  return FALSE;
}

/* One epoch over text split into B parallel streams. */
static gboolean
train_epoch (Run *run, const StreamText *text, gint B, gsize n_train, GError **error)
{
  const SeqnnTrainOptions *o = run->o;
  SeqnnTrainProgress *p = &run->p;
  const gsize S = text->n_tokens / (gsize) B;   /* tokens per stream; the rest is dropped */
  const gint W = run->so->window;
  const gsize LH = (gsize) run->lay->L * run->lay->H;
  const guint64 epoch_base = (guint64) (p->epoch - 1) * n_train;
  gdouble loss_sum = 0.0;
  guint64 correct = 0, seen = 0;

  memset (run->h, 0, sizeof (gfloat) * B * LH);
  memset (run->c, 0, sizeof (gfloat) * B * LH);
  seqnn_trainer_set_training (run->trainer, TRUE);
  for (gsize off = 0; off < S; off += (gsize) W) {
    if (o->cancel_flag != NULL && g_atomic_int_get (o->cancel_flag) != 0)
      return fail_cancelled (run, error);
    gint len = (gint) MIN ((gsize) W, S - off);
    for (gint b = 0; b < B; b++) {
      memcpy (run->win_ids + (gsize) b * len, text->ids + (gsize) b * S + off, sizeof (gint32) * len);
      memcpy (run->win_targets + (gsize) b * len, text->targets + (gsize) b * S + off, sizeof (gint) * len);
    }
    if (run->lr.active) {
      p->learning_rate = seqnn_lr_state_rate (&run->lr, p->step);
      seqnn_trainer_set_learning_rate (run->trainer, (gfloat) p->learning_rate);
    }
    SeqnnStepResult result = { NAN, 0, 0 };
    GError *step_error = NULL;
    gboolean ok = seqnn_trainer_compute_window_gradients (run->trainer, run->win_ids, B, len,
        run->win_targets, run->h, run->c, &result, &step_error);
    if (ok && result.n > 0)
      ok = seqnn_trainer_apply_gradients (run->trainer, &step_error);
    if (!ok) {
      if (g_error_matches (step_error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC)) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
            "the loss or gradient became NaN or infinite at epoch %d, step %" G_GUINT64_FORMAT
            " (a window of %d streams x %d tokens): lower learning-rate or enable clip-norm (%s)",
            p->epoch, p->step + 1, B, len, step_error->message);
        g_error_free (step_error);
      } else {
        g_propagate_error (error, step_error);
      }
      return FALSE;
    }
    loss_sum += result.loss * result.n;
    correct += (guint64) result.n_correct;
    seen += (guint64) result.n;
    p->step++;
    p->samples_seen = epoch_base + (guint64) ((gdouble) n_train * (gdouble) (off + len) / (gdouble) S);
    p->running_loss = seen ? loss_sum / (gdouble) seen : NAN;
    p->running_accuracy = seen ? (gdouble) correct / (gdouble) seen : NAN;
    report_timing (p, run->start_time);

    if (p->samples_seen >= run->next_checkpoint) {
      while (run->next_checkpoint <= p->samples_seen)
        run->next_checkpoint += o->checkpoint_interval;
      if (run->checkpoint != NULL) {
        GError *cp_error = NULL;
        seqnn_trainer_sync (run->trainer);
        if (!run->checkpoint (run->model, p, run->user_data, &cp_error)) {
          if (cp_error == NULL)
            g_set_error (&cp_error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED,
                "the checkpoint callback stopped training at epoch %d", p->epoch);
          g_propagate_error (error, cp_error);
          return FALSE;
        }
      }
    }
    if (p->samples_seen >= run->next_progress && off + len < S) {
      while (run->next_progress <= p->samples_seen)
        run->next_progress += o->progress_interval;
      if (run->progress != NULL && !run->progress (p, run->user_data))
        return fail_cancelled (run, error);
    }
  }
  p->samples_seen = epoch_base + n_train;
  while (run->next_progress <= p->samples_seen)
    run->next_progress += o->progress_interval;
  return TRUE;
}

gboolean
seqnn_stream_train (SeqnnModel *model, const SeqnnDataset *dataset,
    const SeqnnTrainOptions *options, const SeqnnStreamTrainOptions *stream,
    SeqnnTrainProgressFunc progress, SeqnnCheckpointFunc checkpoint, gpointer user_data,
    GError **error)
{
  if (model == NULL || dataset == NULL || options == NULL || stream == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "seqnn_stream_train: model, dataset and options must not be NULL");
    return FALSE;
  }
  const SeqnnConfig *config = seqnn_model_get_config (model);
  if (config->bidirectional || config->head != SEQNN_HEAD_LAST) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "stream training needs a unidirectional model with head last");
    return FALSE;
  }
  if (!check_options (options, stream, error)
      || !check_data (config, dataset, "training", TRUE, error)
      || (options->validation != NULL && !check_data (config, options->validation, "validation", FALSE, error)))
    return FALSE;

  Run run = { 0 };
  run.o = options;
  run.so = stream;
  run.model = model;
  run.lay = seqnn_model_get_layout (model);
  run.progress = progress;
  run.checkpoint = checkpoint;
  run.user_data = user_data;

  /* The seeded split, as seqnn_train's: a permutation, the first n_val held out. */
  gsize n = seqnn_dataset_get_size (dataset), n_val;
  gsize *order = seqnn_train_split (options, n, &n_val);
  SeqnnRng rng;
  gsize *train_indices = order + n_val, n_train = n - n_val;

  StreamText text = { 0 }, val_text = { 0 };
  gboolean ok = TRUE;
  /* The validation stream: its records in a fixed order with fixed cuts. */
  if (options->validation != NULL || n_val > 0) {
    const SeqnnDataset *vset = options->validation != NULL ? options->validation : dataset;
    gsize nv = options->validation != NULL ? seqnn_dataset_get_size (vset) : n_val;
    gsize *vidx = g_new (gsize, nv);
    for (gsize i = 0; i < nv; i++)
      vidx[i] = options->validation != NULL ? i : order[i];
    seqnn_rng_init (&rng, seqnn_rng_hash (VALIDATION_STREAM, 0, 0));
    seqnn_rng_shuffle_gsize (&rng, vidx, nv);
    ok = build_stream (vset, vidx, nv, stream->min_cue_tokens, stream->max_cue_tokens, &rng,
        &val_text, error);
    g_free (vidx);
    n_val = nv;
  }

  /* Parallel streams: batch_size of them, fewer when the data is short. */
  gsize train_tokens = 0;
  for (gsize k = 0; k < n_train; k++) {
    const gint32 *ids;
    gint length, label;
    seqnn_dataset_get (dataset, train_indices[k], &ids, &length, &label);
    train_tokens += (gsize) length;
  }
  gint B = (gint) MIN ((gsize) options->batch_size, MAX (train_tokens, 1));
  const gint W = stream->window;
  const gsize S = train_tokens / (gsize) B;
  const gsize LH = (gsize) run.lay->L * run.lay->H;
  if (ok && S == 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the training records hold no tokens: no stream to train on");
    ok = FALSE;
  }
  if (ok) {
    run.win_ids = g_try_new (gint32, (gsize) B * W);
    run.win_targets = g_try_new (gint, (gsize) B * W);
    run.h = g_try_new0 (gfloat, B * LH);
    run.c = g_try_new0 (gfloat, B * LH);
    if (!run.win_ids || !run.win_targets || !run.h || !run.c) {
      seqnn_set_no_memory_error (error, (gsize) B * (W * 8 + LH * 8), "a stream window",
          "", "lower batch-size or the stream window");
      ok = FALSE;
    }
  }
  gint n_threads = options->n_threads > 0 ? options->n_threads : (gint) g_get_num_processors ();
  if (ok && (run.trainer = seqnn_train_new_trainer (model, options, n_threads, error)) == NULL)
    ok = FALSE;

  SeqnnTrainProgress *p = &run.p;
  p->epochs = options->epochs;
  p->samples_total = (guint64) options->epochs * n_train;
  p->validation_loss = p->validation_accuracy = NAN;
  p->n_train = n_train;
  p->n_validation = n_val;
  p->best_validation_accuracy = NAN;
  p->learning_rate = options->optimizer.learning_rate;
  seqnn_lr_state_init (&run.lr, options, (S + (gsize) W - 1) / (gsize) W);
  run.next_progress = options->progress_interval > 0 ? options->progress_interval : G_MAXUINT64;
  run.next_checkpoint = options->checkpoint_interval > 0 ? options->checkpoint_interval : G_MAXUINT64;
  run.start_time = g_get_monotonic_time ();

  for (gint epoch = 1; ok && epoch <= options->epochs; epoch++) {
    p->epoch = epoch;
    p->epoch_end = FALSE;
    p->validation_loss = p->validation_accuracy = NAN;
    seqnn_rng_init (&rng, seqnn_rng_hash (options->seed, EPOCH_STREAM, (guint64) epoch));
    seqnn_rng_shuffle_gsize (&rng, train_indices, n_train);
    if (!build_stream (dataset, train_indices, n_train, stream->min_cue_tokens,
            stream->max_cue_tokens, &rng, &text, error)
        || !train_epoch (&run, &text, B, n_train, error)) {
      ok = FALSE;
      break;
    }
    seqnn_trainer_sync (run.trainer);
    if (val_text.n_tokens > 0) {
      if (!stream_evaluate (model, &val_text, &p->validation_loss, &p->validation_accuracy, error)) {
        ok = FALSE;
        break;
      }
      seqnn_best_keeper_track (&run.best, &run.lr, options, model, p);
    }
    p->epoch_end = TRUE;
    report_timing (p, run.start_time);
    if (progress != NULL && !progress (p, user_data))
      ok = fail_cancelled (&run, error);
    if (p->stopping_early)
      break;
  }

  if (run.trainer != NULL) {
    seqnn_trainer_sync (run.trainer);
    seqnn_trainer_free (run.trainer);
  }
  if (ok)
    seqnn_best_keeper_restore (&run.best, model, p->epoch);
  seqnn_best_keeper_clear (&run.best);
  g_free (run.win_ids);
  g_free (run.win_targets);
  g_free (run.h);
  g_free (run.c);
  stream_text_clear (&text);
  stream_text_clear (&val_text);
  g_free (order);
  return ok;
}
