/* libseqnn: searching architecture and optimisation within a wall-clock budget.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * seqnn_autotune ranks settings on a seeded split of the data (the
 * validation share held out) and returns the best trial's classifier. On
 * much data (20,000 training rows or more) the search is sample-first
 * (successive halving); on little data every trial trains on all the
 * training rows:
 *
 * - a plan, from the budget, the data's size and a nominal speed only (not
 *   the clock): how many settings to screen, on how many training rows, with
 *   how many epochs. Rung 0 trains k settings (the start points for the
 *   data's size, then seeded variations of one or two free settings of the
 *   first). On much data each trains one epoch on the first m rows of a
 *   seeded order of the training share, ranked on 2,000 validation rows;
 *   rung 1 trains the best third on 3m rows, ranked on the whole validation
 *   share. On little data (a share would rank settings by noise) rung 0 is
 *   the only rung: 3 to 6 start points (regularized: two layers, dropout
 *   between them, on the embedding and on the head) each on all the
 *   training rows for the final run's epochs, validated every epoch as a
 *   final run is. With too little time to screen much data,
 *   rung 0 is a short probe of the first start point (the recipe), with two
 *   threads beside one of the faster second, taken when the recipe's planned
 *   epochs would not fit.
 * - the final run: the best setting of the last rung whose planned epochs
 *   fit in the time left by its measured speed, on all the training rows,
 *   for as many epochs as fit (up to 3 on much data, 10 on little; fixed
 *   epochs are kept), validated at every epoch's end, stopped early after
 *   `patience` epochs without a better one (a higher accuracy, or the same
 *   with a lower validation loss: the epoch kept); when the budget cuts it, the
 *   weights as they stand are evaluated too (one validation pass past the
 *   budget). On much data, time left after it gives the other survivors
 *   final runs of their own (the same epochs) while one fits. The speed is
 *   measured between a trial's first and last batch, its set-up counted once.
 * - time left after that (little data): variations of the best on all the
 *   rows, `parallel` at a time, while a round fits.
 * - the retrain (as fastText's autotune does): once the search has chosen,
 *   the best trial's setting is trained again on all the rows (the training
 *   share and the validation share), with its vocabulary, seed and schedule
 *   (over its epochs), stopped after its best epoch, with all n_threads and
 *   no validation; only when the best trial trained on all the training rows
 *   and the retrain is predicted, by that trial's measured speed, to fit in
 *   the time left. On little data the retrain is an ensemble: up to
 *   max_members networks of that setting, the first with the trial's seed,
 *   the others with seeds of their own, `parallel` at a time, as many as
 *   fit in the time left and max_model_size, merged into one network whose
 *   logits are their mean (seqnn_model_new_ensemble: the seeds' errors
 *   partly cancel, worth most where single networks vary most from seed to
 *   seed). The other survivors' final runs and the little-data variations
 *   start only when the retrain (its networks) still fits after them (if it
 *   fits at all). Like any trial each network is cut at a batch boundary by
 *   the budget; cut (or diverged), it is dropped, and with none left the
 *   best trial's model is returned.
 *
 * The best trial is the one with the highest validation accuracy, except
 * between two trials on all the training rows: there a later one takes
 * over only when it is higher by more than one standard error of the
 * earlier one's (sqrt(p (1 - p) / n) on n validation rows), or as high
 * with a lower validation loss (ties are common on few rows), since the
 * highest of many noisy scores is mostly the luckiest and the start points
 * come best first.
 *
 * Every trial's learning rate decays linearly to 0 over its own steps (a
 * fixed lr_schedule replaces it). Trials of a rung run `parallel` at a time
 * with n_threads / parallel threads each, each worker taking the next trial
 * when it is free; the final run uses all n_threads.
 * Dimensions in `fixed` keep the value in `fixed_params`; the search varies
 * the rest (with everything fixed, one trial runs).
 *
 * Reproducible for a seed, thread count, `parallel`, budget and data: the
 * plan, the settings of every screening trial and the result of every trial
 * the budget does not cut are the same on every run. What depends on the
 * clock (the measured speed): whether rung 1 still fits, which survivor
 * the final run takes and its epochs (or share of the rows), the trials the
 * budget cuts, whether the retrain runs and how many networks it has (each
 * network run to its end has the same weights on every run for the same
 * best trial). When the budget ends before any trial has a result, the
 * first trial is evaluated as it stands (a minimal trial: however short the
 * budget, a model comes back). The search returns within the budget plus
 * one validation pass (the retrain has none); the caller's final write
 * comes after. The cancel flag is checked in the retrain too.
 *
 * The model returned is the retrained one when the retrain ran to its end
 * (metadata "autotune.retrained" "true", "autotune.retrain_epochs" its
 * epochs, "autotune.members" the networks merged in it: its embedding and
 * hidden sizes are the setting's times that), else the best trial's, trained
 * on the training share (or a part of it; "autotune.retrained" "false",
 * "autotune.members" "1"). Its settings are in metadata keys
 * "autotune.*" (autotune.samples and autotune.validation_accuracy: the best
 * trial's) and, as seqnn_fit writes them, train.command (options->command),
 * train.samples (the rows it trained on: all of them when retrained),
 * train.epochs (of the schedule), train.best_epoch, train.epochs_run (the
 * retrain's epochs when retrained), train.validation_accuracy (not when
 * retrained: the validation rows were trained on), train.complete and
 * train.date (SOURCE_DATE_EPOCH when set). best receives the best trial's
 * figures (of the search, not of the retrain). */
#pragma once

#include <glib.h>
#include "seqnn/error.h"
#include "seqnn/model.h"
#include "seqnn/dataset.h"
#include "seqnn/classifier.h"
#include "seqnn/trainloop.h"

G_BEGIN_DECLS

/* The searched dimensions, as bits of SeqnnAutotuneOptions.fixed. */
typedef enum {
  SEQNN_AUTOTUNE_CELL = 1 << 0,
  SEQNN_AUTOTUNE_EMBED_DIM = 1 << 1,
  SEQNN_AUTOTUNE_HIDDEN_DIM = 1 << 2,
  SEQNN_AUTOTUNE_LAYERS = 1 << 3,
  SEQNN_AUTOTUNE_BIDIRECTIONAL = 1 << 4,
  SEQNN_AUTOTUNE_HEAD = 1 << 5,
  SEQNN_AUTOTUNE_DROPOUT = 1 << 6,
  SEQNN_AUTOTUNE_MIN_FREQ = 1 << 7,
  SEQNN_AUTOTUNE_MAX_VOCAB = 1 << 8,
  SEQNN_AUTOTUNE_MAX_TOKENS = 1 << 9,
  SEQNN_AUTOTUNE_LEARNING_RATE = 1 << 10,
  SEQNN_AUTOTUNE_BATCH_SIZE = 1 << 11,
  SEQNN_AUTOTUNE_EPOCHS = 1 << 12,
  SEQNN_AUTOTUNE_LR_SCHEDULE = 1 << 13,
  SEQNN_AUTOTUNE_EMBEDDING_DROPOUT = 1 << 14,
  SEQNN_AUTOTUNE_HEAD_DROPOUT = 1 << 15,
  SEQNN_AUTOTUNE_WORD_NGRAMS = 1 << 16,
} SeqnnAutotuneDim;

/* One trial's settings (names as lstmtrain's properties). */
typedef struct {
  SeqnnCell cell;
  gint embed_dim;
  gint hidden_dim;
  gint num_layers;
  gboolean bidirectional;
  SeqnnHead head;
  gfloat dropout;        /* between layers: no effect with one layer */
  guint64 min_freq;      /* >= 1 */
  guint max_vocab;       /* 0: no limit */
  guint max_tokens;      /* tokens kept per record, 0: all */
  gfloat learning_rate;  /* of SeqnnAutotuneOptions.optimizer's kind */
  gint batch_size;
  gint epochs;           /* the trial's epochs (early stopping may end it before) */
  SeqnnLrSchedule lr_schedule; /* linear unless fixed (plateau is refused) */
  gfloat embedding_dropout; /* on the embedding output (SeqnnTrainOptions) */
  gfloat head_dropout;      /* on the head's features */
  gint word_ngrams;         /* a bag's n-grams of up to this many words; 1: words only */
} SeqnnAutotuneParams;

typedef struct {
  gdouble duration;             /* seconds, > 0 */
  guint64 max_model_size;       /* bytes of the model file; 0: no bound */
  guint64 seed;                 /* split, initialisation, shuffles, the search: 0 */
  gint n_threads;               /* in all, 0: one per core */
  gint parallel;                /* screening trials run at once (threads shared out);
                                 * 0: one per thread */
  gdouble validation_fraction;  /* 0.1, in (0, 1) */
  gint patience;                /* epochs without a better validation accuracy (runs on all
                                 * the training rows; screening trials run their epochs): 3 */
  guint fixed;                  /* SeqnnAutotuneDim bits taken from fixed_params */
  SeqnnAutotuneParams fixed_params;
  /* Kind, momentum, weight decay, clip norm; the learning rate is searched. */
  SeqnnOptimizerConfig optimizer;
  /* Checked (atomically) before every batch: non-zero stops the search with
   * SEQNN_ERROR_CANCELLED. */
  const gint *cancel_flag;
  const gchar *command;         /* "train.command" metadata (the settings as text), or NULL */
  /* The retrain on little data (under 20,000 training rows): up to this many
   * networks of the best setting, each with a seed of its own, merged into
   * one whose logits are their mean (seqnn_model_new_ensemble), as many as
   * fit in the time left and max_model_size: 3, in [1, 8]; 1: one network. */
  gint max_members;
} SeqnnAutotuneOptions;

/* Defaults above; fixed_params the lesson's settings, epochs 10. */
void seqnn_autotune_options_init_default (SeqnnAutotuneOptions *options);

typedef struct {
  gint index;                   /* 1-based, in the order of the search */
  gint rung;                    /* 0, 1: screening rungs; the final run's is the last */
  gsize n_samples;              /* training rows it trained on (a prefix of a seeded order) */
  SeqnnAutotuneParams params;
  gint vocab_size;
  guint64 model_size;           /* estimated bytes of the model file */
  gint epochs_run;
  gint best_epoch;              /* the epoch kept, 0: cut before its first epoch ended */
  gdouble validation_accuracy;  /* of the kept weights; NaN: no result (cut, diverged) */
  gdouble validation_loss;
  gboolean cut;                 /* stopped by the budget */
  gboolean diverged;            /* a NaN or infinite loss ended it (the search goes on) */
  gdouble seconds;              /* the trial's wall time */
  gdouble elapsed;              /* since the search started, when it ended */
  gboolean best;                /* the best so far, this one included */
} SeqnnAutotuneTrial;

/* Called in the caller's thread after each trial (in index order); return
 * FALSE to cancel the search (SEQNN_ERROR_CANCELLED). */
typedef gboolean (*SeqnnAutotuneFunc) (const SeqnnAutotuneTrial *trial, gpointer user_data);

/* dataset: labelled records as read (no vocabulary applied: each trial builds
 * its own with its min_freq and max_vocab), at least 10 and two classes.
 * labels: at least as many names as the labels used; tokenizer: the settings
 * the data was read with (max_tokens is set from the best trial). best (may
 * be NULL) receives the winning trial, n_trials (may be NULL) how many ran.
 * Fails before training on bad options, too little data, or a
 * max_model_size no trial fits in (the message gives the smallest size). */
SeqnnClassifier *seqnn_autotune (SeqnnDataset *dataset, const gchar *const *labels,
    const SeqnnTokenizerConfig *tokenizer, const SeqnnAutotuneOptions *options,
    SeqnnAutotuneFunc on_trial, gpointer user_data, SeqnnAutotuneTrial *best, gint *n_trials,
    GError **error);

/* "cell=lstm embed-dim=64 ... epochs=10", lstmtrain's property syntax. Free with g_free. */
gchar *seqnn_autotune_params_to_string (const SeqnnAutotuneParams *params);

/* The model file's size in bytes for these settings and vocabulary,
 * within a few hundred bytes of what seqnn_classifier_save writes. */
guint64 seqnn_autotune_estimate_model_size (const SeqnnAutotuneParams *params,
    const SeqnnVocab *vocab, gint num_classes);

G_END_DECLS
