/* libseqnn: epochs over a dataset, validation, metrics.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/error.h"
#include "seqnn/model.h"
#include "seqnn/dataset.h"

G_BEGIN_DECLS

/* ---- Confusion matrix and per-class metrics ------------------------------- */

typedef struct _SeqnnConfusion SeqnnConfusion;

/* n_classes >= 1; NULL when its n_classes^2 counters cannot be allocated. */
SeqnnConfusion *seqnn_confusion_new (gint n_classes);
void seqnn_confusion_free (SeqnnConfusion *confusion);
void seqnn_confusion_reset (SeqnnConfusion *confusion);
void seqnn_confusion_add (SeqnnConfusion *confusion, gint true_label, gint predicted);
gint seqnn_confusion_get_n_classes (const SeqnnConfusion *confusion);
guint64 seqnn_confusion_get_count (const SeqnnConfusion *confusion); /* total */
guint64 seqnn_confusion_get (const SeqnnConfusion *confusion, gint true_label, gint predicted);
gdouble seqnn_confusion_accuracy (const SeqnnConfusion *confusion);
/* 0 when undefined (no predictions / no examples of the class). */
gdouble seqnn_confusion_precision (const SeqnnConfusion *confusion, gint cls);
gdouble seqnn_confusion_recall (const SeqnnConfusion *confusion, gint cls);
gdouble seqnn_confusion_f1 (const SeqnnConfusion *confusion, gint cls);
gdouble seqnn_confusion_macro_f1 (const SeqnnConfusion *confusion);

/* ---- Evaluation ------------------------------------------------------------- */

/* Runs the model over a dataset that has a vocabulary applied; empty sequences
 * are fed as one <unk>. mean_loss (may be NULL) is the mean cross-entropy;
 * confusion (may be NULL) receives every (label, prediction). */
gboolean seqnn_evaluate (const SeqnnModel *model, const SeqnnDataset *dataset,
    const gsize *indices, gsize n_indices, /* NULL: the whole dataset */
    gint batch_size, gint n_threads, gdouble *mean_loss, SeqnnConfusion *confusion,
    GError **error);

/* ---- Learning-rate schedules --------------------------------------------------- */

typedef enum {
  SEQNN_LR_CONSTANT, /* the optimizer's learning rate throughout (after any warm-up) */
  SEQNN_LR_LINEAR,   /* after warm-up, down in a straight line to 0 at the last step */
  SEQNN_LR_COSINE,   /* after warm-up, half a cosine down to 0 at the last step */
  SEQNN_LR_PLATEAU,  /* times plateau_factor after plateau_patience epochs without a better
                      * validation accuracy (needs validation data) */
} SeqnnLrSchedule;

const gchar *seqnn_lr_schedule_to_string (SeqnnLrSchedule schedule); /* "constant", "linear", ... */
gboolean seqnn_lr_schedule_from_string (const gchar *str, SeqnnLrSchedule *schedule);

/* The rate of step (0-based) out of total_steps: base times the warm-up ramp
 * (step + 1) / warmup_steps over the first warmup_steps steps, times the
 * decay over the steps after warm-up (linear: (total - step) / (total -
 * warmup); cosine: (1 + cos (pi (step - warmup) / (total - warmup))) / 2;
 * constant and plateau: 1), times scale (plateau's reductions so far). */
gdouble seqnn_lr_schedule_rate (SeqnnLrSchedule schedule, gdouble base, guint64 step,
    guint64 total_steps, guint64 warmup_steps, gdouble scale);

/* ---- Training loop ---------------------------------------------------------- */

typedef struct {
  gint batch_size;              /* 16 */
  gint epochs;                  /* 1 */
  guint64 seed;                 /* shuffling, validation split, dropout: 0 */
  gdouble validation_fraction;  /* 0: none; else that share held out (seeded) */
  gint n_threads;               /* 0 = all cores */
  SeqnnOptimizerConfig optimizer;
  guint64 progress_interval;    /* samples between progress reports: 2000 */
  guint64 checkpoint_interval;  /* samples between checkpoint callbacks; 0 = off */
  /* When not NULL, checked (atomically) before every batch: non-zero stops the
   * loop with SEQNN_ERROR_CANCELLED. Lets another thread cancel promptly
   * between progress reports (e.g. a GStreamer element going to NULL). */
  const gint *cancel_flag;
  /* A separate validation set (vocabulary applied, the model's classes), in
   * place of validation_fraction (which must then be 0): training uses all
   * of dataset. Every class it holds must occur in the training data. */
  const SeqnnDataset *validation;
  /* Early stopping: with validation data, training stops once the validation
   * accuracy has not improved for patience epochs, and the model is left with
   * the weights of the best epoch (the highest accuracy, the earliest on a
   * tie), not the last; epochs is then the upper bound. 0 = off. */
  gint patience;
  SeqnnLrSchedule lr_schedule;  /* constant */
  guint64 warmup_steps;         /* 0; when 0, warmup_fraction of all steps */
  gdouble warmup_fraction;      /* 0, in [0, 1) */
  gdouble plateau_factor;       /* plateau: 0.5, in (0, 1) */
  gint plateau_patience;        /* plateau: 1 epoch */
  /* Class names for messages (NULL-terminated, class order); may be NULL. */
  const gchar *const *class_names;
  /* Dropout besides the model's (between layers), in [0, 1): on the embedding
   * output and on the head's features (seqnn_trainer_set_dropout): 0. */
  gfloat embedding_dropout;
  gfloat head_dropout;
} SeqnnTrainOptions;

void seqnn_train_options_init_default (SeqnnTrainOptions *options);

typedef struct {
  gint epoch;                   /* 1-based */
  gint epochs;
  guint64 samples_seen;         /* over all epochs */
  guint64 samples_total;        /* epochs * training samples */
  gdouble running_loss;         /* mean over the current epoch so far */
  gdouble running_accuracy;
  gdouble samples_per_second;
  gdouble seconds_left;
  gboolean epoch_end;           /* TRUE on the report at an epoch's end */
  gdouble validation_loss;      /* NaN unless epoch_end and a validation split */
  gdouble validation_accuracy;
  gdouble elapsed_seconds;      /* since training started, validation included */
  guint64 step;                 /* batches done, over all epochs */
  guint64 n_train;              /* training samples per epoch (after the validation split) */
  guint64 n_validation;         /* held-out samples */
  gdouble learning_rate;        /* of the last step */
  gint best_epoch;              /* the best validation accuracy's epoch so far; 0 = none */
  gdouble best_validation_accuracy; /* NaN when none */
  /* On the epoch-end report after which early stopping ends training (the
   * model is then set back to best_epoch's weights). */
  gboolean stopping_early;
} SeqnnTrainProgress;

/* Return FALSE to cancel (the loop then fails with SEQNN_ERROR_CANCELLED). */
typedef gboolean (*SeqnnTrainProgressFunc) (const SeqnnTrainProgress *progress, gpointer user_data);
/* Called every checkpoint_interval samples with the model as trained so far;
 * returning FALSE with error set stops training with that error. */
typedef gboolean (*SeqnnCheckpointFunc) (const SeqnnModel *model, const SeqnnTrainProgress *progress,
    gpointer user_data, GError **error);

/* Trains model in place on dataset (vocabulary applied, labels in range).
 * Empty sequences are fed as one <unk>. Fails on no data, fewer than two
 * classes present, a NaN loss (the message gives epoch and step), patience or
 * the plateau schedule without validation data, validation classes that the
 * training data lacks (the message names them). */
gboolean seqnn_train (SeqnnModel *model, const SeqnnDataset *dataset, const SeqnnTrainOptions *options,
    SeqnnTrainProgressFunc progress, SeqnnCheckpointFunc checkpoint, gpointer user_data,
    GError **error);

G_END_DECLS
