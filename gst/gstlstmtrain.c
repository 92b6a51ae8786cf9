/* GStreamer seqnn plugin: lstmtrain
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/**
 * SECTION:element-lstmtrain
 * @title: lstmtrain
 *
 * Trains a recurrent text classifier (Elman RNN, LSTM or GRU; the network of
 * libseqnn, weight-compatible with torch.nn) on labelled token buffers and
 * writes it to #GstLstmTrain:model-out when the stream ends.
 *
 * Input buffers must carry a #GstSeqnnTokensMeta with a label, as
 * `seqtokenize format=csv|tsv|fasttext` attaches. The element collects every
 * record, and on EOS builds the vocabulary (or takes it, with the
 * architecture, labels and weights, from #GstLstmTrain:init-model), trains for
 * #GstLstmTrain:epochs epochs in the streaming thread and writes the model
 * file atomically; only then does EOS reach the bus. Setting the pipeline to
 * NULL (or READY) while training, or interrupting gst-launch-1.0 with Ctrl-C
 * (without -e), stops it before the next batch and leaves an existing model
 * file untouched; a flushing seek does too (the data then comes again).
 * Pausing waits for the training to end. With checkpoint-interval, model-out
 * is rewritten (atomically) during training; init-model resumes from it.
 *
 * Errors (posted as element errors, the model file left as it was): no
 * model-out, or a folder where it cannot be written (found when the element
 * starts), a bad init-model or embeddings file (at start), buffers without
 * labels, no data, a single class, a NaN loss.
 *
 * Progress is posted as GST_MESSAGE_PROGRESS (START, CONTINUE, COMPLETE;
 * gst-launch-1.0 prints them) and as element messages:
 *
 * - "lstmtrain-progress": epoch, epochs (int), samples, samples-total (guint64),
 *   loss, accuracy (running, over the epoch so far), samples-per-second,
 *   seconds-left, elapsed (double), every #GstLstmTrain:progress-interval samples;
 * - "lstmtrain-epoch": the same at each epoch's end, plus validation-loss and
 *   validation-accuracy when #GstLstmTrain:validation-fraction is above 0;
 * - "lstmtrain-done": location (string), samples (guint64), classes, vocab-size,
 *   epochs (int), accuracy and validation-accuracy (double, NaN without a split),
 *   after the model was written.
 *
 * #GstLstmTrain:metrics-file receives one CSV row per report, flushed as it goes:
 * `epoch,samples,train_loss,train_accuracy,val_loss,val_accuracy,samples_per_second,elapsed_s`.
 *
 * With #GstLstmTrain:autotune-duration (seconds) the element searches the
 * architecture and optimisation within that budget instead of training once
 * (seqnn_autotune: trials ranked on a seeded validation-fraction split, 0.1
 * when unset; the properties that were set keep their values and the search
 * varies the rest; epochs is each trial's upper bound) and writes the best
 * model once, its settings in "autotune.*" metadata. However short the
 * budget, one trial runs (cut after a batch if need be and evaluated as it
 * stands). Each trial is posted as "lstmtrain-trial" (trial, settings,
 * best-epoch, epochs-run, validation-loss, validation-accuracy, vocab-size,
 * model-size, cut, seconds, elapsed, best), as a progress message, and as a
 * metrics-file row `trial,cell,...,val_accuracy,vocab_size,model_size,cut,
 * seconds,elapsed_s,best`. A failed or cancelled search leaves model-out as
 * it was. autotune-duration cannot be combined with init-model, embeddings or
 * validation-location (an error when the element starts).
 * #GstLstmTrain:max-model-size bounds the file: the search shrinks the
 * vocabulary, then the network, to fit; a plain run refuses settings that
 * exceed it before training.
 *
 * With #GstLstmTrain:stream-training the element trains a stream model for
 * `lstmclassify context=stream` (seqnn_fit's stream_training): each epoch the
 * records, in a new random order, are cut into cues of 4 to 10 tokens and
 * laid back to back, split into batch-size parallel streams and trained over
 * windows of #GstLstmTrain:stream-window tokens with the recurrent state
 * carried from window to window, the loss at every cue's end against its
 * record's class. Samples in messages are records; accuracies (training and
 * validation) are per cue, the validation stream built the same way from the
 * validation records in a fixed order. It needs bidirectional=false and
 * head=last (an error at start otherwise) and cannot be combined with
 * autotune-duration.
 *
 * Labels: a record's label_id (CSV class numbers) gives the class index and
 * its label name the class name; records with only a name (TSV, fastText)
 * get classes in order of first appearance. With init-model the names must
 * be the model's (a purely numeric label falls back to its label_id).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=train.csv ! seqtokenize format=csv ! \
 *     lstmtrain model-out=agnews.model epochs=5 validation-fraction=0.05 \
 *     metrics-file=metrics.csv
 * ]| trains the lesson's LSTM classifier on AG News and writes agnews.model.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmtrain.h"
#include "gstlstmtrainenums.h"
#include "gstlstmtrainreport.h"
#include "gstlstmtrainrun.h"
#include "gstseqnnmeta.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <seqnn/seqnn.h>

GST_DEBUG_CATEGORY (gst_lstm_train_debug);
#define GST_CAT_DEFAULT gst_lstm_train_debug

struct _GstLstmTrain
{
  GstBaseSink parent;

  GstLstmTrainSettings settings; /* under the object lock */

  /* Streaming state, reset when the element prepares a run. */
  SeqnnDataset *dataset;
  SeqnnTokens *tokens;
  SeqnnClassifier *init_classifier; /* loaded from init-model when preparing */
  SeqnnLabelSet *labels;            /* class id -> name, collected (or init-model's) */
  gboolean strip_markup;            /* input caps were pango-markup */
  SeqnnTokenizerConfig tokenizer;   /* how the records were tokenized (the first one's meta) */
  guint64 n_buffers;
  gboolean failed;                  /* an error was posted: no training at EOS */
  gint cancel;                      /* atomic: set by unlock/state change, read by the loop */
  GstLstmTrainReport report;        /* messages and the metrics file */
};

enum
{
  PROP_0,
  PROP_CELL,
  PROP_EMBED_DIM,
  PROP_HIDDEN_DIM,
  PROP_LAYERS,
  PROP_BIDIRECTIONAL,
  PROP_HEAD,
  PROP_DROPOUT,
  PROP_EMBEDDING_DROPOUT,
  PROP_HEAD_DROPOUT,
  PROP_OPTIMIZER,
  PROP_LEARNING_RATE,
  PROP_MOMENTUM,
  PROP_WEIGHT_DECAY,
  PROP_CLIP_NORM,
  PROP_BATCH_SIZE,
  PROP_EPOCHS,
  PROP_SEED,
  PROP_VALIDATION_FRACTION,
  PROP_VALIDATION_LOCATION,
  PROP_PATIENCE,
  PROP_LR_SCHEDULE,
  PROP_WARMUP_STEPS,
  PROP_WARMUP_FRACTION,
  PROP_CHECKPOINT_INTERVAL,
  PROP_METRICS_FILE,
  PROP_MODEL_OUT,
  PROP_INIT_MODEL,
  PROP_MIN_FREQ,
  PROP_MAX_VOCAB,
  PROP_MAX_TOKENS,
  PROP_WORD_NGRAMS,
  PROP_N_THREADS,
  PROP_EMBEDDINGS,
  PROP_FREEZE_EMBEDDINGS,
  PROP_PROGRESS_INTERVAL,
  PROP_AUTOTUNE_DURATION,
  PROP_MAX_MODEL_SIZE,
  PROP_AUTOTUNE_ENSEMBLE,
  PROP_STREAM_TRAINING,
  PROP_STREAM_WINDOW,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format = (string) { utf8, pango-markup }"));

#define gst_lstm_train_parent_class parent_class
G_DEFINE_TYPE (GstLstmTrain, gst_lstm_train, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (lstmtrain, "lstmtrain", GST_RANK_NONE, GST_TYPE_LSTM_TRAIN);

static void gst_lstm_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_lstm_train_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_lstm_train_finalize (GObject * object);
static GstStateChangeReturn gst_lstm_train_change_state (GstElement * element,
    GstStateChange transition);
static gboolean gst_lstm_train_set_caps (GstBaseSink * sink, GstCaps * caps);
static gboolean gst_lstm_train_event (GstBaseSink * sink, GstEvent * event);
static GstFlowReturn gst_lstm_train_render (GstBaseSink * sink, GstBuffer * buffer);
static gboolean gst_lstm_train_unlock (GstBaseSink * sink);

static void
gst_lstm_train_class_init (GstLstmTrainClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;
  SeqnnFitOptions d; /* the library's defaults are the properties' */

  seqnn_fit_options_init_default (&d);
  GST_DEBUG_CATEGORY_INIT (gst_lstm_train_debug, "seqnntrain", 0, "lstmtrain element");

  gobject_class->set_property = gst_lstm_train_set_property;
  gobject_class->get_property = gst_lstm_train_get_property;
  gobject_class->finalize = gst_lstm_train_finalize;

  /**
   * GstLstmTrain:cell:
   *
   * The recurrent cell. Ignored with #GstLstmTrain:init-model (the model's is used).
   */
  g_object_class_install_property (gobject_class, PROP_CELL,
      g_param_spec_enum ("cell", "Cell", "Recurrent cell: rnn-tanh, rnn-relu, lstm or gru "
          "(ignored with init-model)", GST_TYPE_LSTM_TRAIN_CELL, d.model.cell, flags));
  g_object_class_install_property (gobject_class, PROP_EMBED_DIM,
      g_param_spec_int ("embed-dim", "Embedding size", "Size of the word embedding vectors "
          "(ignored with init-model)", 1, 4096, d.model.embed_dim, flags));
  g_object_class_install_property (gobject_class, PROP_HIDDEN_DIM,
      g_param_spec_int ("hidden-dim", "Hidden size", "Size of the recurrent hidden state "
          "(ignored with init-model)", 1, 4096, d.model.hidden_dim, flags));
  g_object_class_install_property (gobject_class, PROP_LAYERS,
      g_param_spec_int ("layers", "Layers", "Number of stacked recurrent layers; 0: none, the "
          "head reads the word embeddings (a bag of embeddings, fastText's model without "
          "n-grams; head mean unless set) (ignored with init-model)", 0, 16, d.model.num_layers,
          flags));
  g_object_class_install_property (gobject_class, PROP_BIDIRECTIONAL,
      g_param_spec_boolean ("bidirectional", "Bidirectional", "Run every layer forwards and "
          "backwards (ignored with init-model)", d.model.bidirectional, flags));
  g_object_class_install_property (gobject_class, PROP_HEAD,
      g_param_spec_enum ("head", "Head", "What the classifier reads: the last hidden state, "
          "or the mean or max of the outputs (ignored with init-model)",
          GST_TYPE_LSTM_TRAIN_HEAD, d.model.head, flags));
  g_object_class_install_property (gobject_class, PROP_DROPOUT,
      g_param_spec_float ("dropout", "Dropout", "Dropout probability between stacked layers "
          "while training", 0.0f, 0.99f, d.model.dropout, flags));
  g_object_class_install_property (gobject_class, PROP_EMBEDDING_DROPOUT,
      g_param_spec_float ("embedding-dropout", "Embedding dropout", "Dropout probability on "
          "the embedding output (every token's vector) while training", 0.0f, 0.99f,
          d.train.embedding_dropout, flags));
  g_object_class_install_property (gobject_class, PROP_HEAD_DROPOUT,
      g_param_spec_float ("head-dropout", "Head dropout", "Dropout probability on the head's "
          "features (before the linear layer) while training", 0.0f, 0.99f,
          d.train.head_dropout, flags));
  g_object_class_install_property (gobject_class, PROP_OPTIMIZER,
      g_param_spec_enum ("optimizer", "Optimizer", "Optimization algorithm",
          GST_TYPE_LSTM_TRAIN_OPTIMIZER, d.train.optimizer.kind, flags));
  g_object_class_install_property (gobject_class, PROP_LEARNING_RATE,
      g_param_spec_float ("learning-rate", "Learning rate", "Optimizer step size",
          0.0f, G_MAXFLOAT, d.train.optimizer.learning_rate, flags));
  g_object_class_install_property (gobject_class, PROP_MOMENTUM,
      g_param_spec_float ("momentum", "Momentum", "SGD momentum (0 = plain SGD)",
          0.0f, 1.0f, d.train.optimizer.momentum, flags));
  g_object_class_install_property (gobject_class, PROP_WEIGHT_DECAY,
      g_param_spec_float ("weight-decay", "Weight decay", "L2 penalty added to the gradient",
          0.0f, G_MAXFLOAT, d.train.optimizer.weight_decay, flags));
  g_object_class_install_property (gobject_class, PROP_CLIP_NORM,
      g_param_spec_float ("clip-norm", "Clip norm", "Clip the global gradient norm to this "
          "value (0 = off); helps when the loss becomes NaN", 0.0f, G_MAXFLOAT,
          d.train.optimizer.clip_norm, flags));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int ("batch-size", "Batch size", "Sequences per optimizer step",
          1, 65536, d.train.batch_size, flags));
  g_object_class_install_property (gobject_class, PROP_EPOCHS,
      g_param_spec_int ("epochs", "Epochs", "Passes over the training data",
          1, 100000, d.train.epochs, flags));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the initial weights, shuffling, "
          "validation split and dropout (same seed, same model)", 0, G_MAXUINT64,
          d.train.seed, flags));
  g_object_class_install_property (gobject_class, PROP_VALIDATION_FRACTION,
      g_param_spec_double ("validation-fraction", "Validation fraction", "Share of the "
          "records held out of training and evaluated at each epoch's end (0 = none)",
          0.0, 0.9, d.train.validation_fraction, flags));
  g_object_class_install_property (gobject_class, PROP_VALIDATION_LOCATION,
      g_param_spec_string ("validation-location", "Validation file", "Labelled file evaluated "
          "at each epoch's end instead of a validation-fraction split; its format from its "
          "name (.csv as AG News, .tsv, .jsonl, .ft); NULL for none", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_PATIENCE,
      g_param_spec_int ("patience", "Patience", "Stop after this many epochs without a better "
          "validation accuracy and write the best epoch's model (epochs is then the upper "
          "bound); 0 = off. Needs validation-fraction or validation-location",
          0, 100000, d.train.patience, flags));
  g_object_class_install_property (gobject_class, PROP_LR_SCHEDULE,
      g_param_spec_enum ("lr-schedule", "Learning-rate schedule", "How the learning rate "
          "changes: constant, linear or cosine decay to 0, or plateau (halved after an epoch "
          "without a better validation accuracy)",
          GST_TYPE_LSTM_TRAIN_LR_SCHEDULE, d.train.lr_schedule, flags));
  g_object_class_install_property (gobject_class, PROP_WARMUP_STEPS,
      g_param_spec_uint64 ("warmup-steps", "Warm-up steps", "Steps over which the learning "
          "rate rises linearly to learning-rate (0: warmup-fraction)", 0, G_MAXUINT64,
          d.train.warmup_steps, flags));
  g_object_class_install_property (gobject_class, PROP_WARMUP_FRACTION,
      g_param_spec_double ("warmup-fraction", "Warm-up fraction", "Share of all steps spent "
          "warming up when warmup-steps is 0", 0.0, 0.99, d.train.warmup_fraction, flags));
  g_object_class_install_property (gobject_class, PROP_CHECKPOINT_INTERVAL,
      g_param_spec_uint64 ("checkpoint-interval", "Checkpoint interval", "Write the model "
          "to model-out every this many training samples (0 = only at the end); resume "
          "with init-model", 0, G_MAXUINT64, d.train.checkpoint_interval, flags));
  g_object_class_install_property (gobject_class, PROP_METRICS_FILE,
      g_param_spec_string ("metrics-file", "Metrics file", "CSV file that receives a row "
          "per progress report (for gnuplot); NULL for none", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_MODEL_OUT,
      g_param_spec_string ("model-out", "Model file", "Where to write the trained model "
          "(required; replaced atomically)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_INIT_MODEL,
      g_param_spec_string ("init-model", "Initial model", "Model file to continue training "
          "from (architecture, vocabulary, labels and weights); NULL to start from scratch",
          NULL, flags));
  g_object_class_install_property (gobject_class, PROP_MIN_FREQ,
      g_param_spec_uint64 ("min-freq", "Minimum frequency", "Words seen fewer times than "
          "this become <unk>", 1, G_MAXUINT64, d.min_freq, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_VOCAB,
      g_param_spec_uint ("max-vocab", "Maximum vocabulary", "Keep at most this many words, "
          "most frequent first, <unk> and <pad> included (0 = unlimited)", 0, G_MAXINT,
          (guint) d.max_vocab, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_TOKENS,
      g_param_spec_uint ("max-tokens", "Maximum tokens", "Keep only the first this many "
          "tokens of each record (0 = all); stored in the model for classification",
          0, G_MAXINT, (guint) d.tokenizer.max_tokens, flags));
  g_object_class_install_property (gobject_class, PROP_WORD_NGRAMS,
      g_param_spec_int ("word-ngrams", "Word n-grams", "With layers=0 (a bag of embeddings): "
          "also learn a vector for every run of 2..N adjacent words seen at least min-freq "
          "times, as fastText's -wordNgrams (1 = words only); stored in the model "
          "(ignored with init-model: the model's own)",
          1, SEQNN_WORD_NGRAMS_MAX, d.tokenizer.word_ngrams, flags));
  g_object_class_install_property (gobject_class, PROP_N_THREADS,
      g_param_spec_int ("n-threads", "Threads", "Worker threads (0 = all cores)",
          0, 1024, d.train.n_threads, flags));
  g_object_class_install_property (gobject_class, PROP_EMBEDDINGS,
      g_param_spec_string ("embeddings", "Pretrained embeddings", "GloVe or word2vec text "
          "file whose vectors initialise the embedding (dimension must equal embed-dim)",
          NULL, flags));
  g_object_class_install_property (gobject_class, PROP_FREEZE_EMBEDDINGS,
      g_param_spec_boolean ("freeze-embeddings", "Freeze embeddings", "Do not update the "
          "embedding while training", d.train.optimizer.freeze_embedding, flags));
  g_object_class_install_property (gobject_class, PROP_PROGRESS_INTERVAL,
      g_param_spec_uint64 ("progress-interval", "Progress interval", "Training samples "
          "between progress reports (0 = only at epoch ends)", 0, G_MAXUINT64,
          d.train.progress_interval, flags));
  /**
   * GstLstmTrain:autotune-duration:
   *
   * Seconds to search the settings in (0: train once with the properties).
   */
  g_object_class_install_property (gobject_class, PROP_AUTOTUNE_DURATION,
      g_param_spec_double ("autotune-duration", "Autotune duration", "Seconds to search "
          "the architecture and optimisation on a validation split (validation-fraction, "
          "else 0.1) before writing the best model; properties that are set keep their "
          "values (0 = off: train once with the properties)", 0.0, 1e7, 0.0, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_MODEL_SIZE,
      g_param_spec_uint64 ("max-model-size", "Maximum model size", "Largest model file in "
          "bytes: autotune keeps to it, training without autotune refuses settings that "
          "exceed it (0 = no limit)", 0, G_MAXUINT64, 0, flags));
  /**
   * GstLstmTrain:autotune-ensemble:
   *
   * On little data (under 20,000 training rows), autotune's retrain on all
   * the rows trains up to this many networks of the best setting, each with a
   * seed of its own, and writes them merged into one network whose logits
   * are their mean, as many as fit in the time left and max-model-size.
   */
  g_object_class_install_property (gobject_class, PROP_AUTOTUNE_ENSEMBLE,
      g_param_spec_int ("autotune-ensemble", "Autotune ensemble", "On little data (under "
          "20,000 training rows): the most networks of the best setting, each with its own "
          "seed, that autotune's retrain on all the rows trains and merges into one model "
          "averaging their logits, as many as fit in the time left and max-model-size (1 = "
          "one network: the fastest classifier)", 1, 8, 3, flags));
  /**
   * GstLstmTrain:stream-training:
   *
   * Train a stream model for lstmclassify context=stream (seqnn/fit.h's
   * stream_training): records in random order, cut into cues of 4 to 10
   * tokens, back to back, trained over the running stream with the loss at
   * every cue's end. Needs bidirectional=false and head=last.
   */
  g_object_class_install_property (gobject_class, PROP_STREAM_TRAINING,
      g_param_spec_boolean ("stream-training", "Stream training", "Train a stream model for "
          "lstmclassify context=stream: the records, shuffled and cut into cues of 4-10 tokens, "
          "run back to back as batch-size parallel streams with the state carried, the class "
          "learnt at every cue's end (needs bidirectional=false, head=last)",
          d.stream_training, flags));
  g_object_class_install_property (gobject_class, PROP_STREAM_WINDOW,
      g_param_spec_int ("stream-window", "Stream window", "With stream-training: tokens of "
          "each stream per optimizer step (truncated backpropagation through time; the state "
          "carries across windows)", 1, 1 << 20, d.stream.window, flags));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Sequence classifier trainer",
      "Sink/Text", "Trains an RNN, LSTM or GRU text classifier on labelled token "
      "buffers and writes a model file", "gst-seqnn developers");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_lstm_train_change_state);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_lstm_train_set_caps);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_lstm_train_event);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_lstm_train_render);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_lstm_train_unlock);


  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TRAIN_CELL, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TRAIN_HEAD, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TRAIN_OPTIMIZER, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TRAIN_LR_SCHEDULE, 0);
}

static void
gst_lstm_train_init (GstLstmTrain * self)
{
  seqnn_fit_options_init_default (&self->settings.fit);
  self->settings.autotune_ensemble = 3;
  gst_lstm_train_report_init (&self->report, GST_ELEMENT (self), &self->cancel);

  /* A training sink consumes as fast as it can and keeps no buffer. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}

static void
gst_lstm_train_reset (GstLstmTrain * self)
{
  g_clear_pointer (&self->dataset, seqnn_dataset_free);
  g_clear_pointer (&self->tokens, seqnn_tokens_free);
  g_clear_pointer (&self->init_classifier, seqnn_classifier_free);
  g_clear_pointer (&self->labels, seqnn_label_set_free);
  gst_lstm_train_report_close (&self->report);
  self->n_buffers = 0;
  self->failed = FALSE;
}

static void
gst_lstm_train_finalize (GObject * object)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);

  gst_lstm_train_reset (self);
  gst_lstm_train_settings_clear (&self->settings);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
set_string (gchar ** field, const GValue * value)
{
  g_free (*field);
  *field = g_value_dup_string (value);
}

/* The autotune dimension a property fixes when set, 0 for the others. */
static guint
autotune_dim (guint prop_id)
{
  switch (prop_id) {
    case PROP_CELL: return SEQNN_AUTOTUNE_CELL;
    case PROP_EMBED_DIM: return SEQNN_AUTOTUNE_EMBED_DIM;
    case PROP_HIDDEN_DIM: return SEQNN_AUTOTUNE_HIDDEN_DIM;
    case PROP_LAYERS: return SEQNN_AUTOTUNE_LAYERS;
    case PROP_BIDIRECTIONAL: return SEQNN_AUTOTUNE_BIDIRECTIONAL;
    case PROP_HEAD: return SEQNN_AUTOTUNE_HEAD;
    case PROP_DROPOUT: return SEQNN_AUTOTUNE_DROPOUT;
    case PROP_EMBEDDING_DROPOUT: return SEQNN_AUTOTUNE_EMBEDDING_DROPOUT;
    case PROP_HEAD_DROPOUT: return SEQNN_AUTOTUNE_HEAD_DROPOUT;
    case PROP_MIN_FREQ: return SEQNN_AUTOTUNE_MIN_FREQ;
    case PROP_MAX_VOCAB: return SEQNN_AUTOTUNE_MAX_VOCAB;
    case PROP_MAX_TOKENS: return SEQNN_AUTOTUNE_MAX_TOKENS;
    case PROP_WORD_NGRAMS: return SEQNN_AUTOTUNE_WORD_NGRAMS;
    case PROP_LEARNING_RATE: return SEQNN_AUTOTUNE_LEARNING_RATE;
    case PROP_BATCH_SIZE: return SEQNN_AUTOTUNE_BATCH_SIZE;
    case PROP_EPOCHS: return SEQNN_AUTOTUNE_EPOCHS;
    case PROP_LR_SCHEDULE: return SEQNN_AUTOTUNE_LR_SCHEDULE;
    default: return 0;
  }
}

static void
gst_lstm_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);
  GstLstmTrainSettings *s = &self->settings;
  SeqnnConfig *m = &s->fit.model;
  SeqnnTrainOptions *t = &s->fit.train;

  GST_OBJECT_LOCK (self);
  s->user_set |= autotune_dim (prop_id);
  switch (prop_id) {
    case PROP_CELL: m->cell = g_value_get_enum (value); break;
    case PROP_EMBED_DIM: m->embed_dim = g_value_get_int (value); break;
    case PROP_HIDDEN_DIM: m->hidden_dim = g_value_get_int (value); break;
    case PROP_LAYERS:
      m->num_layers = g_value_get_int (value);
      /* No recurrent layer has no last state: the head's default becomes mean. */
      if (!(s->user_set & SEQNN_AUTOTUNE_HEAD))
        m->head = m->num_layers == 0 ? SEQNN_HEAD_MEAN : SEQNN_HEAD_LAST;
      break;
    case PROP_BIDIRECTIONAL: m->bidirectional = g_value_get_boolean (value); break;
    case PROP_HEAD: m->head = g_value_get_enum (value); break;
    case PROP_DROPOUT: m->dropout = g_value_get_float (value); break;
    case PROP_EMBEDDING_DROPOUT: t->embedding_dropout = g_value_get_float (value); break;
    case PROP_HEAD_DROPOUT: t->head_dropout = g_value_get_float (value); break;
    case PROP_OPTIMIZER: t->optimizer.kind = g_value_get_enum (value); break;
    case PROP_LEARNING_RATE: t->optimizer.learning_rate = g_value_get_float (value); break;
    case PROP_MOMENTUM: t->optimizer.momentum = g_value_get_float (value); break;
    case PROP_WEIGHT_DECAY: t->optimizer.weight_decay = g_value_get_float (value); break;
    case PROP_CLIP_NORM: t->optimizer.clip_norm = g_value_get_float (value); break;
    case PROP_BATCH_SIZE: t->batch_size = g_value_get_int (value); break;
    case PROP_EPOCHS: t->epochs = g_value_get_int (value); break;
    case PROP_SEED: t->seed = g_value_get_uint64 (value); break;
    case PROP_VALIDATION_FRACTION: t->validation_fraction = g_value_get_double (value); break;
    case PROP_VALIDATION_LOCATION: set_string (&s->validation_location, value); break;
    case PROP_PATIENCE: t->patience = g_value_get_int (value); break;
    case PROP_LR_SCHEDULE: t->lr_schedule = g_value_get_enum (value); break;
    case PROP_WARMUP_STEPS: t->warmup_steps = g_value_get_uint64 (value); break;
    case PROP_WARMUP_FRACTION: t->warmup_fraction = g_value_get_double (value); break;
    case PROP_CHECKPOINT_INTERVAL: t->checkpoint_interval = g_value_get_uint64 (value); break;
    case PROP_METRICS_FILE: set_string (&s->metrics_file, value); break;
    case PROP_MODEL_OUT: set_string (&s->model_out, value); break;
    case PROP_INIT_MODEL: set_string (&s->init_model, value); break;
    case PROP_MIN_FREQ: s->fit.min_freq = g_value_get_uint64 (value); break;
    case PROP_MAX_VOCAB: s->fit.max_vocab = g_value_get_uint (value); break;
    case PROP_MAX_TOKENS: s->fit.tokenizer.max_tokens = (gint) g_value_get_uint (value); break;
    case PROP_WORD_NGRAMS: s->fit.tokenizer.word_ngrams = g_value_get_int (value); break;
    case PROP_N_THREADS: t->n_threads = g_value_get_int (value); break;
    case PROP_EMBEDDINGS: set_string (&s->embeddings, value); break;
    case PROP_FREEZE_EMBEDDINGS: t->optimizer.freeze_embedding = g_value_get_boolean (value); break;
    case PROP_PROGRESS_INTERVAL: t->progress_interval = g_value_get_uint64 (value); break;
    case PROP_AUTOTUNE_DURATION: s->autotune_duration = g_value_get_double (value); break;
    case PROP_MAX_MODEL_SIZE: s->max_model_size = g_value_get_uint64 (value); break;
    case PROP_AUTOTUNE_ENSEMBLE: s->autotune_ensemble = g_value_get_int (value); break;
    case PROP_STREAM_TRAINING: s->fit.stream_training = g_value_get_boolean (value); break;
    case PROP_STREAM_WINDOW: s->fit.stream.window = g_value_get_int (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lstm_train_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);
  const GstLstmTrainSettings *s = &self->settings;
  const SeqnnConfig *m = &s->fit.model;
  const SeqnnTrainOptions *t = &s->fit.train;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CELL: g_value_set_enum (value, m->cell); break;
    case PROP_EMBED_DIM: g_value_set_int (value, m->embed_dim); break;
    case PROP_HIDDEN_DIM: g_value_set_int (value, m->hidden_dim); break;
    case PROP_LAYERS: g_value_set_int (value, m->num_layers); break;
    case PROP_BIDIRECTIONAL: g_value_set_boolean (value, m->bidirectional); break;
    case PROP_HEAD: g_value_set_enum (value, m->head); break;
    case PROP_DROPOUT: g_value_set_float (value, m->dropout); break;
    case PROP_EMBEDDING_DROPOUT: g_value_set_float (value, t->embedding_dropout); break;
    case PROP_HEAD_DROPOUT: g_value_set_float (value, t->head_dropout); break;
    case PROP_OPTIMIZER: g_value_set_enum (value, t->optimizer.kind); break;
    case PROP_LEARNING_RATE: g_value_set_float (value, t->optimizer.learning_rate); break;
    case PROP_MOMENTUM: g_value_set_float (value, t->optimizer.momentum); break;
    case PROP_WEIGHT_DECAY: g_value_set_float (value, t->optimizer.weight_decay); break;
    case PROP_CLIP_NORM: g_value_set_float (value, t->optimizer.clip_norm); break;
    case PROP_BATCH_SIZE: g_value_set_int (value, t->batch_size); break;
    case PROP_EPOCHS: g_value_set_int (value, t->epochs); break;
    case PROP_SEED: g_value_set_uint64 (value, t->seed); break;
    case PROP_VALIDATION_FRACTION: g_value_set_double (value, t->validation_fraction); break;
    case PROP_VALIDATION_LOCATION: g_value_set_string (value, s->validation_location); break;
    case PROP_PATIENCE: g_value_set_int (value, t->patience); break;
    case PROP_LR_SCHEDULE: g_value_set_enum (value, t->lr_schedule); break;
    case PROP_WARMUP_STEPS: g_value_set_uint64 (value, t->warmup_steps); break;
    case PROP_WARMUP_FRACTION: g_value_set_double (value, t->warmup_fraction); break;
    case PROP_CHECKPOINT_INTERVAL: g_value_set_uint64 (value, t->checkpoint_interval); break;
    case PROP_METRICS_FILE: g_value_set_string (value, s->metrics_file); break;
    case PROP_MODEL_OUT: g_value_set_string (value, s->model_out); break;
    case PROP_INIT_MODEL: g_value_set_string (value, s->init_model); break;
    case PROP_MIN_FREQ: g_value_set_uint64 (value, s->fit.min_freq); break;
    case PROP_MAX_VOCAB: g_value_set_uint (value, (guint) s->fit.max_vocab); break;
    case PROP_MAX_TOKENS: g_value_set_uint (value, (guint) s->fit.tokenizer.max_tokens); break;
    case PROP_WORD_NGRAMS: g_value_set_int (value, s->fit.tokenizer.word_ngrams); break;
    case PROP_N_THREADS: g_value_set_int (value, t->n_threads); break;
    case PROP_EMBEDDINGS: g_value_set_string (value, s->embeddings); break;
    case PROP_FREEZE_EMBEDDINGS: g_value_set_boolean (value, t->optimizer.freeze_embedding); break;
    case PROP_PROGRESS_INTERVAL: g_value_set_uint64 (value, t->progress_interval); break;
    case PROP_AUTOTUNE_DURATION: g_value_set_double (value, s->autotune_duration); break;
    case PROP_MAX_MODEL_SIZE: g_value_set_uint64 (value, s->max_model_size); break;
    case PROP_AUTOTUNE_ENSEMBLE: g_value_set_int (value, s->autotune_ensemble); break;
    case PROP_STREAM_TRAINING: g_value_set_boolean (value, s->fit.stream_training); break;
    case PROP_STREAM_WINDOW: g_value_set_int (value, s->fit.stream.window); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* The library's save checks (read-only, not a regular file, dangling link,
 * folder not writable), so that a bad model-out is found before any training. */
static gboolean
check_writable (const gchar * path, GError ** error)
{
  return seqnn_classifier_check_save_path (path, error);
}

/* The vectors must fit the embedding: found before any data is read. */
static gboolean
check_embeddings (GstLstmTrain * self, const gchar * path, gint embed_dim)
{
  GError *error = NULL;
  gint dim = seqnn_word_vectors_get_dim (path, &error);

  if (self->init_classifier != NULL)
    embed_dim = seqnn_model_get_config (seqnn_classifier_peek_model (self->init_classifier))->embed_dim;
  if (dim < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not use embeddings '%s': %s", path, error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  if (dim != embed_dim) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not use embeddings '%s': its vectors have %d dimensions but the embedding "
            "has %d; set embed-dim=%d or use a file with %d-dimensional vectors.",
            path, dim, embed_dim, dim, embed_dim), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* Everything a run needs that can fail (paths, init-model, vectors, metrics
 * file), checked on READY to PAUSED before any data. FALSE after posting an
 * error. (Not basesink's start(): basesink would follow a failing start with
 * its generic "failed to post a proper error message" error.) */
static gboolean
gst_lstm_train_prepare (GstLstmTrain * self)
{
  gchar *model_out, *init_model, *metrics_file, *embeddings, *validation;
  gint embed_dim;
  gboolean metrics_best, autotune, stream_training, stream_unfit, bag;
  SeqnnConfig network;
  gint word_ngrams;
  GError *error = NULL;

  GST_OBJECT_LOCK (self);
  stream_training = self->settings.fit.stream_training;
  stream_unfit = self->settings.fit.model.bidirectional
      || self->settings.fit.model.head != SEQNN_HEAD_LAST;
  bag = self->settings.fit.model.num_layers == 0;
  network = self->settings.fit.model;
  word_ngrams = self->settings.fit.tokenizer.word_ngrams;
  if (self->settings.autotune_duration > 0.0 && !(self->settings.user_set & SEQNN_AUTOTUNE_LAYERS))
    network.num_layers = 0; /* the search keeps to bags with n-grams */
  metrics_best = gst_lstm_train_settings_use_best (&self->settings);
  autotune = self->settings.autotune_duration > 0.0;
  validation = g_strdup (self->settings.validation_location);
  model_out = g_strdup (self->settings.model_out);
  init_model = g_strdup (self->settings.init_model);
  metrics_file = g_strdup (self->settings.metrics_file);
  embeddings = g_strdup (self->settings.embeddings);
  embed_dim = self->settings.fit.model.embed_dim;
  GST_OBJECT_UNLOCK (self);

  gst_lstm_train_reset (self);
  g_atomic_int_set (&self->cancel, 0);
  self->dataset = seqnn_dataset_new ();
  self->tokens = seqnn_tokens_new ();
  self->strip_markup = FALSE;

  if (model_out == NULL || *model_out == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No model file given: set the model-out property (e.g. model-out=news.model)."),
        (NULL));
    goto fail;
  }
  if (!check_writable (model_out, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot write model file '%s': %s", model_out, error->message),
        ("checked before training by creating a temporary file beside it"));
    goto fail;
  }
  if (autotune && ((init_model != NULL && *init_model != '\0')
          || (embeddings != NULL && *embeddings != '\0')
          || (validation != NULL && *validation != '\0'))) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("autotune-duration searches the architecture on its own validation split: it "
            "cannot start from init-model or embeddings, nor rank on validation-location; "
            "unset them or set autotune-duration=0."), (NULL));
    goto fail;
  }
  if (stream_training && autotune) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("stream-training cannot be combined with autotune-duration (the search trains "
            "record by record); set autotune-duration=0."), (NULL));
    goto fail;
  }
  if (stream_training && bag && (init_model == NULL || *init_model == '\0')) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("stream-training needs a recurrent layer (the state carried from cue to cue); "
            "layers=0 has none: set layers to 1 or more."), (NULL));
    goto fail;
  }
  if (stream_training && stream_unfit && (init_model == NULL || *init_model == '\0')) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("stream-training needs a unidirectional model with head last (the class is read "
            "from the state at each cue's end); set bidirectional=false head=last."), (NULL));
    goto fail;
  }
  if ((init_model == NULL || *init_model == '\0')
      && !seqnn_check_word_ngrams (word_ngrams, &network, &error)) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("%s.", error->message), (NULL));
    goto fail;
  }
  if (init_model != NULL && *init_model != '\0') {
    self->init_classifier = seqnn_classifier_load (init_model, &error);
    if (self->init_classifier == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Could not load init-model '%s': %s", init_model, error->message),
          ("init-model must be a model file written by lstmtrain or the seqnn tools"));
      goto fail;
    }
  }
  self->labels = seqnn_label_set_new ();
  for (guint i = 0; self->init_classifier != NULL
      && i < seqnn_classifier_get_n_labels (self->init_classifier); i++)
    seqnn_label_set_add (self->labels, seqnn_classifier_get_label (self->init_classifier, i), -1);
  if (embeddings != NULL && *embeddings != '\0' && !check_embeddings (self, embeddings, embed_dim))
    goto fail;
  if (validation != NULL && *validation != '\0' && !seqnn_format_from_path (validation, NULL)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Cannot use validation-location '%s': its format cannot be told from its name; "
            "use .csv (AG News), .tsv, .jsonl or .ft", validation), (NULL));
    goto fail;
  }
  if (metrics_file != NULL && *metrics_file != '\0') {
    if (!gst_lstm_train_report_open_metrics (&self->report, metrics_file, autotune,
            metrics_best))
      goto fail;
  }
  g_free (model_out);
  g_free (init_model);
  g_free (metrics_file);
  g_free (embeddings);
  g_free (validation);
  return TRUE;

fail:
  g_clear_error (&error);
  g_free (validation);
  gst_lstm_train_reset (self);
  g_free (model_out);
  g_free (init_model);
  g_free (metrics_file);
  g_free (embeddings);
  return FALSE;
}

/* TRUE when this element or a bin holding it is going to READY or NULL. */
static gboolean
is_shutting_down (GstLstmTrain * self)
{
  gboolean down = FALSE;
  GstObject *object = gst_object_ref (GST_OBJECT (self));

  while (object != NULL && !down) {
    GstObject *parent;

    GST_OBJECT_LOCK (object);
    if (GST_IS_ELEMENT (object) && GST_STATE_TARGET (object) <= GST_STATE_READY)
      down = TRUE;
    parent = GST_OBJECT_PARENT (object) ? gst_object_ref (GST_OBJECT_PARENT (object)) : NULL;
    GST_OBJECT_UNLOCK (object);
    gst_object_unref (object);
    object = parent;
  }
  if (object != NULL)
    gst_object_unref (object);
  return down;
}

/* basesink calls this on flush-start, on PLAYING to PAUSED and when
 * deactivating. Training (in the streaming thread, on EOS) stops before its
 * next batch when the pipeline is flushing or shutting down; a mere pause
 * waits for the training to end. */
static gboolean
gst_lstm_train_unlock (GstBaseSink * sink)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (sink);

  if (GST_PAD_IS_FLUSHING (GST_BASE_SINK_PAD (sink)) || is_shutting_down (self)) {
    GST_DEBUG_OBJECT (self, "flushing or shutting down: cancelling any training");
    g_atomic_int_set (&self->cancel, 1);
  }
  return TRUE;
}

static GstStateChangeReturn
gst_lstm_train_change_state (GstElement * element, GstStateChange transition)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (element);
  GstStateChangeReturn ret;

  /* Before chaining up: basesink then waits for the streaming thread, which
   * may be training. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY
      || (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED && is_shutting_down (self)))
    g_atomic_int_set (&self->cancel, 1);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !gst_lstm_train_prepare (self))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_lstm_train_reset (self);
  return ret;
}

static gboolean
gst_lstm_train_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (sink);
  const gchar *format = gst_structure_get_string (gst_caps_get_structure (caps, 0), "format");

  self->strip_markup = g_strcmp0 (format, "pango-markup") == 0;
  return TRUE;
}

/* The tokenizer settings travel in the meta (whatever sits between seqtokenize
 * and us); a meta that does not say means basic_english's defaults over the
 * caps' markup. All records must agree with the first. FALSE after posting an
 * error. */
static gboolean
take_tokenizer (GstLstmTrain * self, const GstSeqnnTokensMeta * meta)
{
  SeqnnTokenizerConfig config;

  seqnn_tokenizer_config_init_default (&config);
  config.strip_markup = self->strip_markup;
  if (meta->tokenizer != NULL) {
    if (strcmp (meta->tokenizer, SEQNN_TOKENIZER_BASIC_ENGLISH) != 0) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Record %" G_GUINT64_FORMAT " was tokenized by '%s': models use %s.",
              self->n_buffers, meta->tokenizer, SEQNN_TOKENIZER_BASIC_ENGLISH), (NULL));
      self->failed = TRUE;
      return FALSE;
    }
    config.lowercase = meta->lowercase;
    config.strip_markup = meta->strip_markup;
    config.max_tokens = (gint) MIN (meta->max_tokens, (guint) G_MAXINT);
  }
  if (self->n_buffers == 1) {
    self->tokenizer = config;
    return TRUE;
  }
  if (config.lowercase == self->tokenizer.lowercase
      && config.strip_markup == self->tokenizer.strip_markup
      && config.max_tokens == self->tokenizer.max_tokens)
    return TRUE;
  GST_ELEMENT_ERROR (self, STREAM, FORMAT,
      ("Record %" G_GUINT64_FORMAT " was tokenized with other settings than the first "
          "(lowercase %d, strip-markup %d, max-tokens %d instead of %d, %d, %d): one model "
          "needs one tokenizer.", self->n_buffers, config.lowercase, config.strip_markup,
          config.max_tokens, self->tokenizer.lowercase, self->tokenizer.strip_markup,
          self->tokenizer.max_tokens), (NULL));
  self->failed = TRUE;
  return FALSE;
}

static GstFlowReturn
gst_lstm_train_render (GstBaseSink * sink, GstBuffer * buffer)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (sink);
  GstSeqnnTokensMeta *meta = gst_buffer_get_seqnn_tokens_meta (buffer);
  GError *error = NULL;
  guint max_tokens;

  if (self->failed)
    return GST_FLOW_ERROR;
  self->n_buffers++;
  if (meta == NULL || (meta->label == NULL && meta->label_id < 0)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Buffer %" G_GUINT64_FORMAT " has no %s: put `seqtokenize format=csv|tsv|fasttext` "
            "in front of lstmtrain to parse labelled records.", self->n_buffers,
            meta == NULL ? "tokens" : "label"),
        ("lstmtrain needs a GstSeqnnTokensMeta with a label on every buffer"));
    self->failed = TRUE;
    return GST_FLOW_ERROR;
  }
  /* A record's label_id (CSV class numbers) is its class and its name the
   * class name; names alone get classes in order of first appearance. With
   * init-model the names must be the model's. */
  gint label = seqnn_label_set_resolve_indexed (self->labels, meta->label, meta->label_id,
      self->init_classifier == NULL, "init-model's labels", &error);
  if (label < 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Record %" G_GUINT64_FORMAT ": %s", self->n_buffers, error->message), (NULL));
    g_error_free (error);
    self->failed = TRUE;
    return GST_FLOW_ERROR;
  }

  if (!take_tokenizer (self, meta))
    return GST_FLOW_ERROR;

  GST_OBJECT_LOCK (self);
  max_tokens = (guint) self->settings.fit.tokenizer.max_tokens;
  GST_OBJECT_UNLOCK (self);

  guint n = meta->n_tokens;
  if (max_tokens > 0 && n > max_tokens)
    n = max_tokens;
  seqnn_tokens_clear (self->tokens);
  for (guint i = 0; i < n; i++)
    seqnn_tokens_append (self->tokens, meta->tokens[i], -1);
  seqnn_dataset_add (self->dataset, self->tokens, label);
  return GST_FLOW_OK;
}

/* "cell=lstm embed-dim=64 ..." : the element's settings, stored in the model
 * in place of a command line. With autotune, the dimensions it searched are
 * left out (their property values were not used: autotune.settings has what
 * was). */
static gchar *
describe_settings (GstLstmTrain * self)
{
  GString *str = g_string_new ("lstmtrain");
  GParamSpec **specs;
  guint n_specs, searched = 0;

  GST_OBJECT_LOCK (self);
  if (self->settings.autotune_duration > 0)
    searched = ~self->settings.user_set;
  GST_OBJECT_UNLOCK (self);
  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_specs);
  for (guint i = 0; i < n_specs; i++) {
    if (specs[i]->owner_type != GST_TYPE_LSTM_TRAIN
        || (autotune_dim (specs[i]->param_id) & searched) != 0)
      continue;
    GValue value = G_VALUE_INIT;
    g_value_init (&value, specs[i]->value_type);
    g_object_get_property (G_OBJECT (self), specs[i]->name, &value);
    gchar *text;
    if (G_VALUE_HOLDS_STRING (&value))
      text = g_strdup (g_value_get_string (&value));
    else if (G_VALUE_HOLDS_FLOAT (&value) || G_VALUE_HOLDS_DOUBLE (&value)) {
      gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
      gdouble v = G_VALUE_HOLDS_FLOAT (&value) ? g_value_get_float (&value)
          : g_value_get_double (&value);
      text = g_strdup (g_ascii_formatd (buf, sizeof buf, "%g", v));
    } else
      text = gst_value_serialize (&value);
    if (text != NULL) {
      if (strpbrk (text, " \t\"'\\") != NULL) {
        gchar *quoted = g_shell_quote (text);
        g_free (text);
        text = quoted;
      }
      g_string_append_printf (str, " %s=%s", specs[i]->name, text);
    }
    g_free (text);
    g_value_unset (&value);
  }
  g_free (specs);
  return g_string_free (str, FALSE);
}

/* On EOS: the library fits the classifier, the element writes it. Returns
 * FALSE after posting an error (or when cancelled). */
static gboolean
gst_lstm_train_train (GstLstmTrain * self)
{
  GstLstmTrainData data = { GST_ELEMENT (self), self->dataset, self->labels,
    self->init_classifier, self->tokenizer, &self->cancel, &self->report
  };
  GstLstmTrainSettings run;
  gchar *command = describe_settings (self);
  gboolean ok;

  GST_OBJECT_LOCK (self);
  gst_lstm_train_settings_copy (&run, &self->settings);
  GST_OBJECT_UNLOCK (self);
  ok = gst_lstm_train_run (&data, &run, command);
  gst_lstm_train_settings_clear (&run);
  g_free (command);
  return ok;
}

static gboolean
gst_lstm_train_event (GstBaseSink * sink, GstEvent * event)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (sink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP && self->dataset != NULL) {
    /* A flushing seek sends the data again: collect from scratch. */
    g_atomic_int_set (&self->cancel, 0);
    g_clear_pointer (&self->dataset, seqnn_dataset_free);
    self->dataset = seqnn_dataset_new ();
    if (self->init_classifier == NULL) {
      seqnn_label_set_free (self->labels);
      self->labels = seqnn_label_set_new ();
    }
    self->n_buffers = 0;
    self->failed = FALSE;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    /* Train before chaining up: EOS reaches the bus only once the model is written.
     * After an error on the data there is nothing to train on. */
    if (self->failed || !gst_lstm_train_train (self)) {
      gst_event_unref (event);
      return FALSE;
    }
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}
