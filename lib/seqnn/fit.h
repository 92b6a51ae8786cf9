/* libseqnn: fit a classifier to a labelled dataset in one call.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What lstmtrain, the benchmarks and a search over settings share: the
 * vocabulary (or the one of a model to continue from), the network and its
 * initial weights, pretrained word vectors, the training loop with progress
 * and checkpoints, and the classifier with its training metadata. */
#pragma once

#include <glib.h>
#include "seqnn/classifier.h"
#include "seqnn/dataset.h"
#include "seqnn/trainloop.h"

G_BEGIN_DECLS

/* Called once the network exists, before the first step (e.g. to announce
 * the vocabulary size). */
typedef void (*SeqnnFitBeginFunc) (const SeqnnModel *model, gsize n_records, gpointer user_data);

/* Stream training (seqnn/stream.h): the training data becomes running
 * streams the way broadcasts look. Each epoch the records, in a new random
 * order, are cut into cues of min_cue_tokens to max_cue_tokens tokens (a
 * record's last cue keeps at least min_cue_tokens unless the record is
 * shorter) and laid back to back; that stream is split into train.batch_size
 * parallel streams, which are trained over windows of window tokens
 * (truncated backpropagation through time: the recurrent state is carried
 * from window to window, the gradient stops at the window's start), with the
 * loss at the end of every cue against its record's class, so also right
 * after a change of topic. Validation is the per-cue accuracy on a stream
 * built the same way from the validation records in a fixed order. */
typedef struct {
  gint min_cue_tokens;        /* 4 */
  gint max_cue_tokens;        /* 10 */
  gint window;                /* tokens per stream per step: 64 */
} SeqnnStreamTrainOptions;

typedef struct {
  SeqnnConfig model;          /* architecture (seqnn_config_init_default: the lesson's LSTM);
                               * vocab_size and num_classes come from the data */
  SeqnnTrainOptions train;    /* loop and optimizer (seqnn_train_options_init_default) */
  guint64 min_freq;           /* words seen fewer times become <unk>: 1 */
  gsize max_vocab;            /* at most this many tokens, the specials included; 0 = unlimited */
  SeqnnTokenizerConfig tokenizer; /* how the records were tokenized: stored in the model */
  const SeqnnClassifier *init;/* NULL, or continue from it: its architecture, vocabulary,
                               * labels, tokenizer and weights are used (model, min_freq,
                               * max_vocab and tokenizer are then ignored, except a
                               * tokenizer.max_tokens above 0, which replaces its cap) */
  const gchar *embeddings;    /* GloVe / word2vec text file for the embedding, or NULL */
  const gchar *validation_path; /* a labelled file evaluated at each epoch's end in place of
                               * train.validation_fraction, or NULL: read with
                               * validation_read (format, columns; its tokenizer is the
                               * model's), labels the training lacks refused by name
                               * (seqnn_dataset_read_validation) */
  SeqnnReadOptions validation_read;
  const gchar *checkpoint_path; /* with train.checkpoint_interval: where checkpoints are
                               * saved (atomically; metadata train.complete "false") */
  const gchar *command;       /* "train.command" metadata (the settings as text), or NULL */
  gboolean stream_training;   /* train a stream model (above); needs a unidirectional
                               * model with head last (refused otherwise) and marks the
                               * result as a stream model; validation accuracies are then
                               * per cue */
  SeqnnStreamTrainOptions stream;
  SeqnnFitBeginFunc begin;    /* may be NULL */
  SeqnnTrainProgressFunc progress; /* may be NULL; FALSE cancels */
  gpointer user_data;         /* for begin and progress */
} SeqnnFitOptions;

void seqnn_fit_options_init_default (SeqnnFitOptions *options);

/* Fits a classifier to dataset (its ids provisional, as added; the vocabulary
 * is applied to it in place). labels names the classes, ids as in the dataset
 * (ignored with options->init, whose labels the ids must be). The result
 * carries the metadata train.command, train.samples, train.samples_seen,
 * train.epochs, train.date, train.complete ("true"), train.accuracy and, with
 * a validation split, train.validation_accuracy (train.date is the time of
 * the fit, or SOURCE_DATE_EPOCH when set: the same fit gives the same file); with early
 * stopping (train.patience) also train.best_epoch and train.epochs_run, the
 * accuracies then being the best epoch's, whose weights it has. Fails with the loop's errors
 * (no data, a NaN loss, SEQNN_ERROR_CANCELLED) and on fewer than two classes,
 * bad settings, a bad vectors file or a checkpoint that cannot be written; the
 * message says which. */
SeqnnClassifier *seqnn_fit (SeqnnDataset *dataset, const SeqnnLabelSet *labels,
    const SeqnnFitOptions *options, GError **error);

/* Before a fit: TRUE when the model file seqnn_fit would write for these
 * options (the vocabulary built as it builds it, or options->init's) takes at
 * most max_size bytes (0: no bound). Else FALSE with SEQNN_ERROR_INVALID_ARGUMENT
 * giving the size, the vocabulary and what to lower, or the vocabulary's error. */
gboolean seqnn_fit_check_model_size (SeqnnDataset *dataset, const SeqnnLabelSet *labels,
    const SeqnnFitOptions *options, guint64 max_size, GError **error);

G_END_DECLS
