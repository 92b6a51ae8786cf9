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
 * With #GstLstmTrain:autotune-duration (seconds), the element searches the
 * architecture and optimisation within that budget instead (seqnn_autotune:
 * trials ranked on a validation split, validation-fraction or 0.1, each
 * stopped early and kept at its best epoch; properties that were set keep
 * their values, epochs is each trial's upper bound) and writes the best
 * model once, its settings in "autotune.*" metadata. However short the
 * budget, one trial runs (cut after a batch if need be). Each trial is posted
 * as "lstmtrain-trial" (trial, settings, best-epoch, epochs-run,
 * validation-loss, validation-accuracy, model-size, cut, seconds, elapsed,
 * best), as a progress message, and as a metrics-file row
 * `trial,cell,...,val_accuracy,vocab_size,model_size,cut,seconds,elapsed_s,best`.
 * #GstLstmTrain:max-model-size bounds the file (autotune shrinks the
 * vocabulary, then the network, to fit; a plain run refuses settings over it).
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
#include "gstseqnnmeta.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <seqnn/seqnn.h>

GST_DEBUG_CATEGORY_STATIC (gst_lstm_train_debug);
#define GST_CAT_DEFAULT gst_lstm_train_debug

/* Property values, copied under the object lock when training starts. */
typedef struct {
  SeqnnCell cell;
  gint embed_dim;
  gint hidden_dim;
  gint layers;
  gboolean bidirectional;
  SeqnnHead head;
  gfloat dropout;
  SeqnnOptimizerKind optimizer;
  gfloat learning_rate;
  gfloat momentum;
  gfloat weight_decay;
  gfloat clip_norm;
  gint batch_size;
  gint epochs;
  guint64 seed;
  gdouble validation_fraction;
  guint64 checkpoint_interval;
  gchar *metrics_file;
  gchar *model_out;
  gchar *init_model;
  guint64 min_freq;
  guint max_vocab;
  guint max_tokens;
  gint n_threads;
  gchar *embeddings;
  gboolean freeze_embeddings;
  guint64 progress_interval;
  guint autotune_duration;
  guint64 max_model_size;
  guint user_set;         /* SeqnnAutotuneDim bits of the properties set: autotune keeps them */
} Settings;

struct _GstLstmTrain
{
  GstBaseSink parent;

  Settings settings; /* under the object lock */

  /* Streaming state, reset in start(). */
  SeqnnDataset *dataset;
  SeqnnTokens *tokens;
  SeqnnClassifier *init_classifier; /* loaded from init-model in start() */
  GPtrArray *label_names;           /* class id -> name (NULL until seen) */
  GHashTable *label_ids;            /* name -> class id + 1 */
  gboolean strip_markup;            /* input caps were pango-markup */
  guint64 n_buffers;
  gboolean failed;                  /* an error was posted: no training at EOS */
  FILE *metrics;
  gint cancel;                      /* atomic: set by unlock/state change, read by the loop */

  /* Valid during training only (progress and checkpoint callbacks). */
  Settings *run;
  SeqnnVocab *run_vocab;
  gchar **run_labels;
  SeqnnTokenizerConfig run_tokenizer;
  gdouble final_accuracy;
  gdouble final_validation_accuracy;
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
  PROP_OPTIMIZER,
  PROP_LEARNING_RATE,
  PROP_MOMENTUM,
  PROP_WEIGHT_DECAY,
  PROP_CLIP_NORM,
  PROP_BATCH_SIZE,
  PROP_EPOCHS,
  PROP_SEED,
  PROP_VALIDATION_FRACTION,
  PROP_CHECKPOINT_INTERVAL,
  PROP_METRICS_FILE,
  PROP_MODEL_OUT,
  PROP_INIT_MODEL,
  PROP_MIN_FREQ,
  PROP_MAX_VOCAB,
  PROP_MAX_TOKENS,
  PROP_N_THREADS,
  PROP_EMBEDDINGS,
  PROP_FREEZE_EMBEDDINGS,
  PROP_PROGRESS_INTERVAL,
  PROP_AUTOTUNE_DURATION,
  PROP_MAX_MODEL_SIZE,
};

#define DEFAULT_PROP_CELL SEQNN_CELL_LSTM
#define DEFAULT_PROP_EMBED_DIM 64
#define DEFAULT_PROP_HIDDEN_DIM 32
#define DEFAULT_PROP_LAYERS 1
#define DEFAULT_PROP_BIDIRECTIONAL FALSE
#define DEFAULT_PROP_HEAD SEQNN_HEAD_LAST
#define DEFAULT_PROP_DROPOUT 0.0f
#define DEFAULT_PROP_OPTIMIZER SEQNN_OPTIMIZER_ADAM
#define DEFAULT_PROP_LEARNING_RATE 0.001f
#define DEFAULT_PROP_MOMENTUM 0.0f
#define DEFAULT_PROP_WEIGHT_DECAY 0.0f
#define DEFAULT_PROP_CLIP_NORM 0.0f
#define DEFAULT_PROP_BATCH_SIZE 16
#define DEFAULT_PROP_EPOCHS 1
#define DEFAULT_PROP_SEED 0
#define DEFAULT_PROP_VALIDATION_FRACTION 0.0
#define DEFAULT_PROP_CHECKPOINT_INTERVAL 0
#define DEFAULT_PROP_MIN_FREQ 1
#define DEFAULT_PROP_MAX_VOCAB 0
#define DEFAULT_PROP_MAX_TOKENS 0
#define DEFAULT_PROP_N_THREADS 0
#define DEFAULT_PROP_FREEZE_EMBEDDINGS FALSE
#define DEFAULT_PROP_PROGRESS_INTERVAL 5000
#define DEFAULT_PROP_AUTOTUNE_DURATION 0
#define DEFAULT_PROP_MAX_MODEL_SIZE 0

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format = (string) { utf8, pango-markup }"));

#define GST_TYPE_LSTM_TRAIN_CELL (gst_lstm_train_cell_get_type ())
static GType
gst_lstm_train_cell_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { SEQNN_CELL_RNN_TANH, "Elman RNN with tanh", "rnn-tanh" },
    { SEQNN_CELL_RNN_RELU, "Elman RNN with ReLU", "rnn-relu" },
    { SEQNN_CELL_LSTM, "LSTM", "lstm" },
    { SEQNN_CELL_GRU, "GRU", "gru" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLstmTrainCell", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_LSTM_TRAIN_HEAD (gst_lstm_train_head_get_type ())
static GType
gst_lstm_train_head_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { SEQNN_HEAD_LAST, "Final hidden state of the top layer", "last" },
    { SEQNN_HEAD_MEAN, "Mean of the top layer's outputs", "mean" },
    { SEQNN_HEAD_MAX, "Element-wise max of the top layer's outputs", "max" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLstmTrainHead", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_LSTM_TRAIN_OPTIMIZER (gst_lstm_train_optimizer_get_type ())
static GType
gst_lstm_train_optimizer_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { SEQNN_OPTIMIZER_ADAM, "Adam", "adam" },
    { SEQNN_OPTIMIZER_SGD, "Stochastic gradient descent (with momentum)", "sgd" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLstmTrainOptimizer", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

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
static gboolean gst_lstm_train_start (GstBaseSink * sink);
static gboolean gst_lstm_train_stop (GstBaseSink * sink);
static gboolean gst_lstm_train_set_caps (GstBaseSink * sink, GstCaps * caps);
static gboolean gst_lstm_train_event (GstBaseSink * sink, GstEvent * event);
static GstFlowReturn gst_lstm_train_render (GstBaseSink * sink, GstBuffer * buffer);
static gboolean gst_lstm_train_unlock (GstBaseSink * sink);

static void
settings_clear (Settings * s)
{
  g_clear_pointer (&s->metrics_file, g_free);
  g_clear_pointer (&s->model_out, g_free);
  g_clear_pointer (&s->init_model, g_free);
  g_clear_pointer (&s->embeddings, g_free);
}

static void
settings_copy (Settings * dst, const Settings * src)
{
  *dst = *src;
  dst->metrics_file = g_strdup (src->metrics_file);
  dst->model_out = g_strdup (src->model_out);
  dst->init_model = g_strdup (src->init_model);
  dst->embeddings = g_strdup (src->embeddings);
}

static void
gst_lstm_train_class_init (GstLstmTrainClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

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
          "(ignored with init-model)", GST_TYPE_LSTM_TRAIN_CELL, DEFAULT_PROP_CELL, flags));
  g_object_class_install_property (gobject_class, PROP_EMBED_DIM,
      g_param_spec_int ("embed-dim", "Embedding size", "Size of the word embedding vectors "
          "(ignored with init-model)", 1, 4096, DEFAULT_PROP_EMBED_DIM, flags));
  g_object_class_install_property (gobject_class, PROP_HIDDEN_DIM,
      g_param_spec_int ("hidden-dim", "Hidden size", "Size of the recurrent hidden state "
          "(ignored with init-model)", 1, 4096, DEFAULT_PROP_HIDDEN_DIM, flags));
  g_object_class_install_property (gobject_class, PROP_LAYERS,
      g_param_spec_int ("layers", "Layers", "Number of stacked recurrent layers "
          "(ignored with init-model)", 1, 16, DEFAULT_PROP_LAYERS, flags));
  g_object_class_install_property (gobject_class, PROP_BIDIRECTIONAL,
      g_param_spec_boolean ("bidirectional", "Bidirectional", "Run every layer forwards and "
          "backwards (ignored with init-model)", DEFAULT_PROP_BIDIRECTIONAL, flags));
  g_object_class_install_property (gobject_class, PROP_HEAD,
      g_param_spec_enum ("head", "Head", "What the classifier reads: the last hidden state, "
          "or the mean or max of the outputs (ignored with init-model)",
          GST_TYPE_LSTM_TRAIN_HEAD, DEFAULT_PROP_HEAD, flags));
  g_object_class_install_property (gobject_class, PROP_DROPOUT,
      g_param_spec_float ("dropout", "Dropout", "Dropout probability between stacked layers "
          "while training", 0.0f, 0.99f, DEFAULT_PROP_DROPOUT, flags));
  g_object_class_install_property (gobject_class, PROP_OPTIMIZER,
      g_param_spec_enum ("optimizer", "Optimizer", "Optimization algorithm",
          GST_TYPE_LSTM_TRAIN_OPTIMIZER, DEFAULT_PROP_OPTIMIZER, flags));
  g_object_class_install_property (gobject_class, PROP_LEARNING_RATE,
      g_param_spec_float ("learning-rate", "Learning rate", "Optimizer step size",
          0.0f, G_MAXFLOAT, DEFAULT_PROP_LEARNING_RATE, flags));
  g_object_class_install_property (gobject_class, PROP_MOMENTUM,
      g_param_spec_float ("momentum", "Momentum", "SGD momentum (0 = plain SGD)",
          0.0f, 1.0f, DEFAULT_PROP_MOMENTUM, flags));
  g_object_class_install_property (gobject_class, PROP_WEIGHT_DECAY,
      g_param_spec_float ("weight-decay", "Weight decay", "L2 penalty added to the gradient",
          0.0f, G_MAXFLOAT, DEFAULT_PROP_WEIGHT_DECAY, flags));
  g_object_class_install_property (gobject_class, PROP_CLIP_NORM,
      g_param_spec_float ("clip-norm", "Clip norm", "Clip the global gradient norm to this "
          "value (0 = off); helps when the loss becomes NaN", 0.0f, G_MAXFLOAT,
          DEFAULT_PROP_CLIP_NORM, flags));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int ("batch-size", "Batch size", "Sequences per optimizer step",
          1, 65536, DEFAULT_PROP_BATCH_SIZE, flags));
  g_object_class_install_property (gobject_class, PROP_EPOCHS,
      g_param_spec_int ("epochs", "Epochs", "Passes over the training data",
          1, 100000, DEFAULT_PROP_EPOCHS, flags));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Seed of the initial weights, shuffling, "
          "validation split and dropout (same seed, same model)", 0, G_MAXUINT64,
          DEFAULT_PROP_SEED, flags));
  g_object_class_install_property (gobject_class, PROP_VALIDATION_FRACTION,
      g_param_spec_double ("validation-fraction", "Validation fraction", "Share of the "
          "records held out of training and evaluated at each epoch's end (0 = none)",
          0.0, 0.9, DEFAULT_PROP_VALIDATION_FRACTION, flags));
  g_object_class_install_property (gobject_class, PROP_CHECKPOINT_INTERVAL,
      g_param_spec_uint64 ("checkpoint-interval", "Checkpoint interval", "Write the model "
          "to model-out every this many training samples (0 = only at the end); resume "
          "with init-model", 0, G_MAXUINT64, DEFAULT_PROP_CHECKPOINT_INTERVAL, flags));
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
          "this become <unk>", 1, G_MAXUINT64, DEFAULT_PROP_MIN_FREQ, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_VOCAB,
      g_param_spec_uint ("max-vocab", "Maximum vocabulary", "Keep at most this many words, "
          "most frequent first, <unk> and <pad> included (0 = unlimited)", 0, G_MAXINT,
          DEFAULT_PROP_MAX_VOCAB, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_TOKENS,
      g_param_spec_uint ("max-tokens", "Maximum tokens", "Keep only the first this many "
          "tokens of each record (0 = all); stored in the model for classification",
          0, G_MAXINT, DEFAULT_PROP_MAX_TOKENS, flags));
  g_object_class_install_property (gobject_class, PROP_N_THREADS,
      g_param_spec_int ("n-threads", "Threads", "Worker threads (0 = all cores)",
          0, 1024, DEFAULT_PROP_N_THREADS, flags));
  g_object_class_install_property (gobject_class, PROP_EMBEDDINGS,
      g_param_spec_string ("embeddings", "Pretrained embeddings", "GloVe or word2vec text "
          "file whose vectors initialise the embedding (dimension must equal embed-dim)",
          NULL, flags));
  g_object_class_install_property (gobject_class, PROP_FREEZE_EMBEDDINGS,
      g_param_spec_boolean ("freeze-embeddings", "Freeze embeddings", "Do not update the "
          "embedding while training", DEFAULT_PROP_FREEZE_EMBEDDINGS, flags));
  g_object_class_install_property (gobject_class, PROP_PROGRESS_INTERVAL,
      g_param_spec_uint64 ("progress-interval", "Progress interval", "Training samples "
          "between progress reports (0 = only at epoch ends)", 0, G_MAXUINT64,
          DEFAULT_PROP_PROGRESS_INTERVAL, flags));

  g_object_class_install_property (gobject_class, PROP_AUTOTUNE_DURATION,
      g_param_spec_uint ("autotune-duration", "Autotune duration",
          "Seconds to search the architecture and optimisation on the validation split "
          "(validation-fraction, else 0.1) before writing the best model; the properties "
          "set keep their values (0 = off: train once with the properties)", 0, G_MAXINT,
          DEFAULT_PROP_AUTOTUNE_DURATION, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_MODEL_SIZE,
      g_param_spec_uint64 ("max-model-size", "Maximum model size",
          "Largest model file in bytes: autotune keeps to it, training without autotune "
          "refuses settings that exceed it (0 = no limit)", 0, G_MAXUINT64,
          DEFAULT_PROP_MAX_MODEL_SIZE, flags));
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Sequence classifier trainer",
      "Sink/Text", "Trains an RNN, LSTM or GRU text classifier on labelled token "
      "buffers and writes a model file", "gst-seqnn developers");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_lstm_train_change_state);
  basesink_class->start = GST_DEBUG_FUNCPTR (gst_lstm_train_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_lstm_train_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_lstm_train_set_caps);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_lstm_train_event);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_lstm_train_render);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_lstm_train_unlock);

  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TRAIN_CELL, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TRAIN_HEAD, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LSTM_TRAIN_OPTIMIZER, 0);
}

static void
gst_lstm_train_init (GstLstmTrain * self)
{
  Settings *s = &self->settings;

  s->cell = DEFAULT_PROP_CELL;
  s->embed_dim = DEFAULT_PROP_EMBED_DIM;
  s->hidden_dim = DEFAULT_PROP_HIDDEN_DIM;
  s->layers = DEFAULT_PROP_LAYERS;
  s->bidirectional = DEFAULT_PROP_BIDIRECTIONAL;
  s->head = DEFAULT_PROP_HEAD;
  s->dropout = DEFAULT_PROP_DROPOUT;
  s->optimizer = DEFAULT_PROP_OPTIMIZER;
  s->learning_rate = DEFAULT_PROP_LEARNING_RATE;
  s->momentum = DEFAULT_PROP_MOMENTUM;
  s->weight_decay = DEFAULT_PROP_WEIGHT_DECAY;
  s->clip_norm = DEFAULT_PROP_CLIP_NORM;
  s->batch_size = DEFAULT_PROP_BATCH_SIZE;
  s->epochs = DEFAULT_PROP_EPOCHS;
  s->seed = DEFAULT_PROP_SEED;
  s->validation_fraction = DEFAULT_PROP_VALIDATION_FRACTION;
  s->checkpoint_interval = DEFAULT_PROP_CHECKPOINT_INTERVAL;
  s->min_freq = DEFAULT_PROP_MIN_FREQ;
  s->max_vocab = DEFAULT_PROP_MAX_VOCAB;
  s->max_tokens = DEFAULT_PROP_MAX_TOKENS;
  s->n_threads = DEFAULT_PROP_N_THREADS;
  s->freeze_embeddings = DEFAULT_PROP_FREEZE_EMBEDDINGS;
  s->progress_interval = DEFAULT_PROP_PROGRESS_INTERVAL;
  s->autotune_duration = DEFAULT_PROP_AUTOTUNE_DURATION;
  s->max_model_size = DEFAULT_PROP_MAX_MODEL_SIZE;
  s->user_set = 0;

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
  g_clear_pointer (&self->label_names, g_ptr_array_unref);
  g_clear_pointer (&self->label_ids, g_hash_table_unref);
  if (self->metrics != NULL) {
    fclose (self->metrics);
    self->metrics = NULL;
  }
  self->n_buffers = 0;
  self->failed = FALSE;
}

static void
gst_lstm_train_finalize (GObject * object)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);

  gst_lstm_train_reset (self);
  settings_clear (&self->settings);
  G_OBJECT_CLASS (parent_class)->finalize (object);
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
    case PROP_MIN_FREQ: return SEQNN_AUTOTUNE_MIN_FREQ;
    case PROP_MAX_VOCAB: return SEQNN_AUTOTUNE_MAX_VOCAB;
    case PROP_MAX_TOKENS: return SEQNN_AUTOTUNE_MAX_TOKENS;
    case PROP_LEARNING_RATE: return SEQNN_AUTOTUNE_LEARNING_RATE;
    case PROP_BATCH_SIZE: return SEQNN_AUTOTUNE_BATCH_SIZE;
    case PROP_EPOCHS: return SEQNN_AUTOTUNE_EPOCHS;
    default: return 0;
  }
}

static void
gst_lstm_train_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (object);
  Settings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  s->user_set |= autotune_dim (prop_id);
  switch (prop_id) {
    case PROP_CELL: s->cell = g_value_get_enum (value); break;
    case PROP_EMBED_DIM: s->embed_dim = g_value_get_int (value); break;
    case PROP_HIDDEN_DIM: s->hidden_dim = g_value_get_int (value); break;
    case PROP_LAYERS: s->layers = g_value_get_int (value); break;
    case PROP_BIDIRECTIONAL: s->bidirectional = g_value_get_boolean (value); break;
    case PROP_HEAD: s->head = g_value_get_enum (value); break;
    case PROP_DROPOUT: s->dropout = g_value_get_float (value); break;
    case PROP_OPTIMIZER: s->optimizer = g_value_get_enum (value); break;
    case PROP_LEARNING_RATE: s->learning_rate = g_value_get_float (value); break;
    case PROP_MOMENTUM: s->momentum = g_value_get_float (value); break;
    case PROP_WEIGHT_DECAY: s->weight_decay = g_value_get_float (value); break;
    case PROP_CLIP_NORM: s->clip_norm = g_value_get_float (value); break;
    case PROP_BATCH_SIZE: s->batch_size = g_value_get_int (value); break;
    case PROP_EPOCHS: s->epochs = g_value_get_int (value); break;
    case PROP_SEED: s->seed = g_value_get_uint64 (value); break;
    case PROP_VALIDATION_FRACTION: s->validation_fraction = g_value_get_double (value); break;
    case PROP_CHECKPOINT_INTERVAL: s->checkpoint_interval = g_value_get_uint64 (value); break;
    case PROP_METRICS_FILE:
      g_free (s->metrics_file);
      s->metrics_file = g_value_dup_string (value);
      break;
    case PROP_MODEL_OUT:
      g_free (s->model_out);
      s->model_out = g_value_dup_string (value);
      break;
    case PROP_INIT_MODEL:
      g_free (s->init_model);
      s->init_model = g_value_dup_string (value);
      break;
    case PROP_MIN_FREQ: s->min_freq = g_value_get_uint64 (value); break;
    case PROP_MAX_VOCAB: s->max_vocab = g_value_get_uint (value); break;
    case PROP_MAX_TOKENS: s->max_tokens = g_value_get_uint (value); break;
    case PROP_N_THREADS: s->n_threads = g_value_get_int (value); break;
    case PROP_EMBEDDINGS:
      g_free (s->embeddings);
      s->embeddings = g_value_dup_string (value);
      break;
    case PROP_FREEZE_EMBEDDINGS: s->freeze_embeddings = g_value_get_boolean (value); break;
    case PROP_PROGRESS_INTERVAL: s->progress_interval = g_value_get_uint64 (value); break;
    case PROP_AUTOTUNE_DURATION: s->autotune_duration = g_value_get_uint (value); break;
    case PROP_MAX_MODEL_SIZE: s->max_model_size = g_value_get_uint64 (value); break;
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
  const Settings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CELL: g_value_set_enum (value, s->cell); break;
    case PROP_EMBED_DIM: g_value_set_int (value, s->embed_dim); break;
    case PROP_HIDDEN_DIM: g_value_set_int (value, s->hidden_dim); break;
    case PROP_LAYERS: g_value_set_int (value, s->layers); break;
    case PROP_BIDIRECTIONAL: g_value_set_boolean (value, s->bidirectional); break;
    case PROP_HEAD: g_value_set_enum (value, s->head); break;
    case PROP_DROPOUT: g_value_set_float (value, s->dropout); break;
    case PROP_OPTIMIZER: g_value_set_enum (value, s->optimizer); break;
    case PROP_LEARNING_RATE: g_value_set_float (value, s->learning_rate); break;
    case PROP_MOMENTUM: g_value_set_float (value, s->momentum); break;
    case PROP_WEIGHT_DECAY: g_value_set_float (value, s->weight_decay); break;
    case PROP_CLIP_NORM: g_value_set_float (value, s->clip_norm); break;
    case PROP_BATCH_SIZE: g_value_set_int (value, s->batch_size); break;
    case PROP_EPOCHS: g_value_set_int (value, s->epochs); break;
    case PROP_SEED: g_value_set_uint64 (value, s->seed); break;
    case PROP_VALIDATION_FRACTION: g_value_set_double (value, s->validation_fraction); break;
    case PROP_CHECKPOINT_INTERVAL: g_value_set_uint64 (value, s->checkpoint_interval); break;
    case PROP_METRICS_FILE: g_value_set_string (value, s->metrics_file); break;
    case PROP_MODEL_OUT: g_value_set_string (value, s->model_out); break;
    case PROP_INIT_MODEL: g_value_set_string (value, s->init_model); break;
    case PROP_MIN_FREQ: g_value_set_uint64 (value, s->min_freq); break;
    case PROP_MAX_VOCAB: g_value_set_uint (value, s->max_vocab); break;
    case PROP_MAX_TOKENS: g_value_set_uint (value, s->max_tokens); break;
    case PROP_N_THREADS: g_value_set_int (value, s->n_threads); break;
    case PROP_EMBEDDINGS: g_value_set_string (value, s->embeddings); break;
    case PROP_FREEZE_EMBEDDINGS: g_value_set_boolean (value, s->freeze_embeddings); break;
    case PROP_PROGRESS_INTERVAL: g_value_set_uint64 (value, s->progress_interval); break;
    case PROP_AUTOTUNE_DURATION: g_value_set_uint (value, s->autotune_duration); break;
    case PROP_MAX_MODEL_SIZE: g_value_set_uint64 (value, s->max_model_size); break;
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

/* Dimension of a GloVe / word2vec text file from its first line ("count dim"
 * header, or "word v1 ... vD"), so that a mismatch is reported before any
 * data is read; the library checks every line again when it loads them. */
static gint
word_vectors_dim (const gchar * path, GError ** error)
{
  FILE *file = g_fopen (path, "rb");
  gchar line[65536];
  gint dim = -1;

  if (file == NULL) {
    gint saved = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s", g_strerror (saved));
    return -1;
  }
  if (fgets (line, sizeof line, file) != NULL) {
    gchar **fields = g_strsplit_set (g_strstrip (line), " \t", -1);
    guint n = 0;
    for (gchar ** f = fields; *f; f++)
      n += **f != '\0';
    if (n == 2 && g_ascii_string_to_unsigned (fields[0], 10, 0, G_MAXINT, NULL, NULL)) {
      guint64 header_dim;
      if (g_ascii_string_to_unsigned (fields[1], 10, 1, G_MAXINT, &header_dim, NULL))
        dim = (gint) header_dim;
    }
    if (dim < 0 && n >= 2)
      dim = (gint) n - 1;
    g_strfreev (fields);
  }
  fclose (file);
  if (dim < 0)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "the first line is not a word vector nor a word2vec header");
  return dim;
}

static gboolean
gst_lstm_train_start (GstBaseSink * sink)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (sink);
  gchar *model_out, *init_model, *metrics_file, *embeddings;
  gint embed_dim;
  guint autotune;
  GError *error = NULL;

  GST_OBJECT_LOCK (self);
  model_out = g_strdup (self->settings.model_out);
  init_model = g_strdup (self->settings.init_model);
  metrics_file = g_strdup (self->settings.metrics_file);
  embeddings = g_strdup (self->settings.embeddings);
  embed_dim = self->settings.embed_dim;
  autotune = self->settings.autotune_duration;
  GST_OBJECT_UNLOCK (self);

  gst_lstm_train_reset (self);
  g_atomic_int_set (&self->cancel, 0);
  self->dataset = seqnn_dataset_new ();
  self->tokens = seqnn_tokens_new ();
  self->label_names = g_ptr_array_new_with_free_func (g_free);
  self->label_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
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
  if (autotune > 0 && ((init_model != NULL && *init_model != '\0')
          || (embeddings != NULL && *embeddings != '\0'))) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("autotune-duration searches the architecture: it cannot start from init-model or "
            "embeddings; unset them or set autotune-duration=0."), (NULL));
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
  if (embeddings != NULL && *embeddings != '\0') {
    gint dim = word_vectors_dim (embeddings, &error);
    if (self->init_classifier != NULL)
      embed_dim = seqnn_model_get_config (seqnn_classifier_peek_model (self->init_classifier))->embed_dim;
    if (dim < 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Could not use embeddings '%s': %s", embeddings, error->message), (NULL));
      goto fail;
    }
    if (dim != embed_dim) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Could not use embeddings '%s': its vectors have %d dimensions but the embedding "
              "has %d; set embed-dim=%d or use a file with %d-dimensional vectors.",
              embeddings, dim, embed_dim, dim, embed_dim), (NULL));
      goto fail;
    }
  }
  if (metrics_file != NULL && *metrics_file != '\0') {
    self->metrics = g_fopen (metrics_file, "w");
    if (self->metrics == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Cannot write metrics file '%s': %s", metrics_file, g_strerror (errno)), (NULL));
      goto fail;
    }
    if (autotune > 0)
      fputs ("trial,cell,embed_dim,hidden_dim,layers,bidirectional,head,dropout,min_freq,"
          "max_vocab,max_tokens,learning_rate,batch_size,epochs,best_epoch,epochs_run,"
          "val_loss,val_accuracy,vocab_size,model_size,cut,seconds,elapsed_s,best\n",
          self->metrics);
    else
      fputs ("epoch,samples,train_loss,train_accuracy,val_loss,val_accuracy,"
          "samples_per_second,elapsed_s\n", self->metrics);
    fflush (self->metrics);
  }
  g_free (model_out);
  g_free (init_model);
  g_free (metrics_file);
  g_free (embeddings);
  return TRUE;

fail:
  g_clear_error (&error);
  gst_lstm_train_reset (self);
  g_free (model_out);
  g_free (init_model);
  g_free (metrics_file);
  g_free (embeddings);
  return FALSE;
}

static gboolean
gst_lstm_train_stop (GstBaseSink * sink)
{
  gst_lstm_train_reset (GST_LSTM_TRAIN (sink));
  return TRUE;
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
  /* Another run after READY: start over (start() prepared the first one). */
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && self->dataset == NULL
      && !gst_lstm_train_start (GST_BASE_SINK (self)))
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

static gboolean
is_number (const gchar * s)
{
  if (s == NULL || *s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

/* The class id of a record, or -1 with error set. See the section comment. */
static gint
resolve_label (GstLstmTrain * self, const GstSeqnnTokensMeta * meta, GError ** error)
{
  if (self->init_classifier != NULL) {
    guint n = seqnn_classifier_get_n_labels (self->init_classifier);
    if (meta->label != NULL)
      for (guint i = 0; i < n; i++)
        if (g_strcmp0 (seqnn_classifier_get_label (self->init_classifier, i), meta->label) == 0)
          return i;
    if ((meta->label == NULL || is_number (meta->label)) && meta->label_id >= 0
        && (guint) meta->label_id < n)
      return meta->label_id;
    GString *names = g_string_new (NULL);
    for (guint i = 0; i < n; i++)
      g_string_append_printf (names, "%s'%s'", i ? ", " : "",
          seqnn_classifier_get_label (self->init_classifier, i));
    if (meta->label != NULL)
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "label '%s' is not one of init-model's labels: %s", meta->label, names->str);
    else
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "class %d is not one of init-model's %u classes: %s", meta->label_id, n, names->str);
    g_string_free (names, TRUE);
    return -1;
  }

  gint id = -1;
  if (meta->label != NULL) {
    gpointer value = g_hash_table_lookup (self->label_ids, meta->label);
    if (value != NULL)
      id = GPOINTER_TO_INT (value) - 1;
  }
  if (meta->label_id >= 0) {
    if (id >= 0 && id != meta->label_id) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "label '%s' came as class %d before and as class %d now", meta->label, id,
          meta->label_id);
      return -1;
    }
    id = meta->label_id;
  } else if (id < 0) {
    id = self->label_names->len;
  }
  if ((guint) id >= self->label_names->len)
    g_ptr_array_set_size (self->label_names, id + 1);
  if (meta->label != NULL) {
    const gchar *known = g_ptr_array_index (self->label_names, id);
    if (known == NULL) {
      g_ptr_array_index (self->label_names, id) = g_strdup (meta->label);
      g_hash_table_insert (self->label_ids, g_strdup (meta->label), GINT_TO_POINTER (id + 1));
    } else if (strcmp (known, meta->label) != 0) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "class %d came as label '%s' before and as '%s' now", id, known, meta->label);
      return -1;
    }
  }
  return id;
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
  gint label = resolve_label (self, meta, &error);
  if (label < 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Record %" G_GUINT64_FORMAT ": %s", self->n_buffers, error->message), (NULL));
    g_error_free (error);
    self->failed = TRUE;
    return GST_FLOW_ERROR;
  }

  GST_OBJECT_LOCK (self);
  max_tokens = self->settings.max_tokens;
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
 * in place of a command line. */
static gchar *
describe_settings (GstLstmTrain * self)
{
  GString *str = g_string_new ("lstmtrain");
  GParamSpec **specs;
  guint n_specs;

  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_specs);
  for (guint i = 0; i < n_specs; i++) {
    if (specs[i]->owner_type != GST_TYPE_LSTM_TRAIN)
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

static void
write_metrics_row (GstLstmTrain * self, const SeqnnTrainProgress * p)
{
  gchar a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], c[G_ASCII_DTOSTR_BUF_SIZE],
      d[G_ASCII_DTOSTR_BUF_SIZE], e[G_ASCII_DTOSTR_BUF_SIZE], f[G_ASCII_DTOSTR_BUF_SIZE];
  gboolean has_val = p->epoch_end && !isnan (p->validation_loss);

  if (self->metrics == NULL)
    return;
  fprintf (self->metrics, "%d,%" G_GUINT64_FORMAT ",%s,%s,%s,%s,%s,%s\n", p->epoch,
      p->samples_seen,
      g_ascii_formatd (a, sizeof a, "%.6f", p->running_loss),
      g_ascii_formatd (b, sizeof b, "%.6f", p->running_accuracy),
      has_val ? g_ascii_formatd (c, sizeof c, "%.6f", p->validation_loss) : "",
      has_val ? g_ascii_formatd (d, sizeof d, "%.6f", p->validation_accuracy) : "",
      g_ascii_formatd (e, sizeof e, "%.1f", p->samples_per_second),
      g_ascii_formatd (f, sizeof f, "%.3f", p->elapsed_seconds));
  fflush (self->metrics);
}

static gboolean
on_progress (const SeqnnTrainProgress * p, gpointer user_data)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (user_data);
  GstStructure *s;
  gchar *text;

  if (g_atomic_int_get (&self->cancel))
    return FALSE;

  s = gst_structure_new (p->epoch_end ? "lstmtrain-epoch" : "lstmtrain-progress",
      "epoch", G_TYPE_INT, p->epoch, "epochs", G_TYPE_INT, p->epochs,
      "samples", G_TYPE_UINT64, p->samples_seen,
      "samples-total", G_TYPE_UINT64, p->samples_total,
      "loss", G_TYPE_DOUBLE, p->running_loss,
      "accuracy", G_TYPE_DOUBLE, p->running_accuracy,
      "samples-per-second", G_TYPE_DOUBLE, p->samples_per_second,
      "seconds-left", G_TYPE_DOUBLE, p->seconds_left,
      "elapsed", G_TYPE_DOUBLE, p->elapsed_seconds, NULL);
  if (p->epoch_end && p->n_validation > 0)
    gst_structure_set (s, "validation-loss", G_TYPE_DOUBLE, p->validation_loss,
        "validation-accuracy", G_TYPE_DOUBLE, p->validation_accuracy, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));

  if (p->epoch_end && p->n_validation > 0)
    text = g_strdup_printf ("epoch %d/%d done: loss %.4f, accuracy %.1f%%, validation loss "
        "%.4f, validation accuracy %.1f%%, %.0f samples/s", p->epoch, p->epochs,
        p->running_loss, 100.0 * p->running_accuracy, p->validation_loss,
        100.0 * p->validation_accuracy, p->samples_per_second);
  else
    text = g_strdup_printf ("epoch %d/%d%s: %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
        " samples, loss %.4f, accuracy %.1f%%, %.0f samples/s, %.0f s left", p->epoch,
        p->epochs, p->epoch_end ? " done" : "", p->samples_seen, p->samples_total,
        p->running_loss, 100.0 * p->running_accuracy, p->samples_per_second, p->seconds_left);
  GST_INFO_OBJECT (self, "%s", text);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_progress (GST_OBJECT (self),
          GST_PROGRESS_TYPE_CONTINUE, "train", text));
  g_free (text);

  write_metrics_row (self, p);
  if (p->epoch_end) {
    self->final_accuracy = p->running_accuracy;
    self->final_validation_accuracy = p->validation_accuracy;
  }
  return !g_atomic_int_get (&self->cancel);
}

/* A classifier over a copy of model, with the run's vocabulary, labels and tokenizer. */
static SeqnnClassifier *
make_classifier (GstLstmTrain * self, SeqnnModel * model, GError ** error)
{
  return seqnn_classifier_new (model, self->run_vocab, &self->run_tokenizer,
      (const gchar * const *) self->run_labels, error);
}

static void
set_metadata (GstLstmTrain * self, SeqnnClassifier * classifier, guint64 samples_seen,
    gboolean final)
{
  gchar *settings = describe_settings (self);
  gchar *samples = g_strdup_printf ("%" G_GSIZE_FORMAT, seqnn_dataset_get_size (self->dataset));
  gchar *seen = g_strdup_printf ("%" G_GUINT64_FORMAT, samples_seen);
  gchar *epochs = g_strdup_printf ("%d", self->run->epochs);
  GDateTime *now = g_date_time_new_now_utc ();
  gchar *date = g_date_time_format_iso8601 (now);

  seqnn_classifier_set_metadata (classifier, "train.command", settings);
  seqnn_classifier_set_metadata (classifier, "train.samples", samples);
  seqnn_classifier_set_metadata (classifier, "train.samples_seen", seen);
  seqnn_classifier_set_metadata (classifier, "train.epochs", epochs);
  seqnn_classifier_set_metadata (classifier, "train.date", date);
  seqnn_classifier_set_metadata (classifier, "train.complete", final ? "true" : "false");
  if (final) {
    gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
    if (!isnan (self->final_accuracy))
      seqnn_classifier_set_metadata (classifier, "train.accuracy",
          g_ascii_formatd (buf, sizeof buf, "%.6f", self->final_accuracy));
    if (!isnan (self->final_validation_accuracy))
      seqnn_classifier_set_metadata (classifier, "train.validation_accuracy",
          g_ascii_formatd (buf, sizeof buf, "%.6f", self->final_validation_accuracy));
  }
  g_free (date);
  g_date_time_unref (now);
  g_free (epochs);
  g_free (seen);
  g_free (samples);
  g_free (settings);
}

static gboolean
on_checkpoint (const SeqnnModel * model, const SeqnnTrainProgress * p, gpointer user_data,
    GError ** error)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (user_data);
  SeqnnClassifier *classifier = make_classifier (self, seqnn_model_copy (model), error);

  if (classifier == NULL)
    return FALSE;
  set_metadata (self, classifier, p->samples_seen, FALSE);
  gboolean ok = seqnn_classifier_save (classifier, self->run->model_out, error);
  seqnn_classifier_free (classifier);
  if (ok)
    GST_INFO_OBJECT (self, "checkpoint after %" G_GUINT64_FORMAT " samples written to %s",
        p->samples_seen, self->run->model_out);
  return ok;
}

static void
post_progress (GstLstmTrain * self, GstProgressType type, const gchar * text)
{
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), type, "train", text));
}

/* The model must tokenize as the training data was: when seqtokenize feeds
 * us directly, take its lowercase setting (default TRUE, basic_english's). */
static gboolean
upstream_lowercase (GstLstmTrain * self)
{
  gboolean lowercase = TRUE;
  GstPad *peer = gst_pad_get_peer (GST_BASE_SINK_PAD (self));
  GstObject *upstream = peer ? gst_pad_get_parent (peer) : NULL;

  if (upstream != NULL && g_strcmp0 (G_OBJECT_TYPE_NAME (upstream), "GstSeqTokenize") == 0
      && g_object_class_find_property (G_OBJECT_GET_CLASS (upstream), "lowercase") != NULL)
    g_object_get (upstream, "lowercase", &lowercase, NULL);
  if (upstream != NULL)
    gst_object_unref (upstream);
  if (peer != NULL)
    gst_object_unref (peer);
  return lowercase;
}

/* ---- autotune-duration: the search in the library, trials as messages ---- */

static void
write_trial_row (GstLstmTrain * self, const SeqnnAutotuneTrial * t)
{
  gchar dr[G_ASCII_DTOSTR_BUF_SIZE], lr[G_ASCII_DTOSTR_BUF_SIZE], vl[G_ASCII_DTOSTR_BUF_SIZE],
      va[G_ASCII_DTOSTR_BUF_SIZE], sec[G_ASCII_DTOSTR_BUF_SIZE], el[G_ASCII_DTOSTR_BUF_SIZE];
  const SeqnnAutotuneParams *p = &t->params;
  gboolean has_val = !isnan (t->validation_accuracy);

  if (self->metrics == NULL)
    return;
  fprintf (self->metrics, "%d,%s,%d,%d,%d,%s,%s,%s,%" G_GUINT64_FORMAT ",%u,%u,%s,%d,%d,%d,%d,"
      "%s,%s,%d,%" G_GUINT64_FORMAT ",%s,%s,%s,%s\n", t->index, seqnn_cell_to_string (p->cell),
      p->embed_dim, p->hidden_dim, p->num_layers, p->bidirectional ? "true" : "false",
      seqnn_head_to_string (p->head), g_ascii_formatd (dr, sizeof dr, "%g", p->dropout),
      p->min_freq, p->max_vocab, p->max_tokens,
      g_ascii_formatd (lr, sizeof lr, "%g", p->learning_rate), p->batch_size, p->epochs,
      t->best_epoch, t->epochs_run,
      has_val ? g_ascii_formatd (vl, sizeof vl, "%.6f", t->validation_loss) : "",
      has_val ? g_ascii_formatd (va, sizeof va, "%.6f", t->validation_accuracy) : "",
      t->vocab_size, t->model_size, t->cut ? "true" : "false",
      g_ascii_formatd (sec, sizeof sec, "%.3f", t->seconds),
      g_ascii_formatd (el, sizeof el, "%.3f", t->elapsed), t->best ? "true" : "false");
  fflush (self->metrics);
}

/* Each trial: an element message "lstmtrain-trial", a progress message, a metrics row. */
static gboolean
on_trial (const SeqnnAutotuneTrial * t, gpointer user_data)
{
  GstLstmTrain *self = GST_LSTM_TRAIN (user_data);
  gchar *settings = seqnn_autotune_params_to_string (&t->params);
  gchar *text;

  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("lstmtrain-trial", "trial", G_TYPE_INT, t->index,
              "settings", G_TYPE_STRING, settings,
              "best-epoch", G_TYPE_INT, t->best_epoch, "epochs-run", G_TYPE_INT, t->epochs_run,
              "validation-loss", G_TYPE_DOUBLE, t->validation_loss,
              "validation-accuracy", G_TYPE_DOUBLE, t->validation_accuracy,
              "model-size", G_TYPE_UINT64, t->model_size, "cut", G_TYPE_BOOLEAN, t->cut,
              "seconds", G_TYPE_DOUBLE, t->seconds, "elapsed", G_TYPE_DOUBLE, t->elapsed,
              "best", G_TYPE_BOOLEAN, t->best, NULL)));
  text = g_strdup_printf ("trial %d (%s): validation accuracy %.1f%% at epoch %d of %d%s, "
      "%.1f s%s", t->index, settings, 100.0 * t->validation_accuracy, t->best_epoch,
      t->epochs_run, t->cut ? " (cut by the budget)" : t->diverged ? " (diverged)" : "",
      t->seconds, t->best ? ", best so far" : "");
  GST_INFO_OBJECT (self, "%s", text);
  post_progress (self, GST_PROGRESS_TYPE_CONTINUE, text);
  g_free (text);
  g_free (settings);
  write_trial_row (self, t);
  return !g_atomic_int_get (&self->cancel);
}

static void
autotune_options_from_settings (const Settings * run, SeqnnAutotuneOptions * o)
{
  seqnn_autotune_options_init_default (o);
  o->duration = run->autotune_duration;
  o->max_model_size = run->max_model_size;
  o->seed = run->seed;
  o->n_threads = run->n_threads;
  if (run->validation_fraction > 0.0)
    o->validation_fraction = run->validation_fraction;
  o->fixed = run->user_set;
  o->fixed_params.cell = run->cell;
  o->fixed_params.embed_dim = run->embed_dim;
  o->fixed_params.hidden_dim = run->hidden_dim;
  o->fixed_params.num_layers = run->layers;
  o->fixed_params.bidirectional = run->bidirectional;
  o->fixed_params.head = run->head;
  o->fixed_params.dropout = run->dropout;
  o->fixed_params.min_freq = run->min_freq;
  o->fixed_params.max_vocab = run->max_vocab;
  o->fixed_params.max_tokens = run->max_tokens;
  o->fixed_params.learning_rate = run->learning_rate;
  o->fixed_params.batch_size = run->batch_size;
  o->fixed_params.epochs = run->epochs;
  o->optimizer.kind = run->optimizer;
  o->optimizer.momentum = run->momentum;
  o->optimizer.weight_decay = run->weight_decay;
  o->optimizer.clip_norm = run->clip_norm;
}

/* The search, then model-out written once with the best model; any failure or
 * cancellation leaves an existing model-out untouched. Called from
 * gst_lstm_train_train with the run's labels and tokenizer set. */
static gboolean
gst_lstm_train_autotune (GstLstmTrain * self, Settings * run, gsize n)
{
  SeqnnAutotuneOptions options;
  SeqnnAutotuneTrial best;
  SeqnnClassifier *classifier;
  GError *error = NULL;
  gint n_trials = 0;
  gchar *text;

  autotune_options_from_settings (run, &options);
  options.cancel_flag = &self->cancel;
  text = g_strdup_printf ("autotune: searching for %u s on %" G_GSIZE_FORMAT " records",
      run->autotune_duration, n);
  GST_INFO_OBJECT (self, "%s", text);
  post_progress (self, GST_PROGRESS_TYPE_START, text);
  g_free (text);

  classifier = seqnn_autotune (self->dataset, (const gchar * const *) self->run_labels,
      &self->run_tokenizer, &options, on_trial, self, &best, &n_trials, &error);
  if (classifier == NULL) {
    if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED)
        && g_atomic_int_get (&self->cancel)) {
      GST_INFO_OBJECT (self, "autotune cancelled: %s", error->message);
      post_progress (self, GST_PROGRESS_TYPE_CANCELED, "autotune cancelled");
    } else {
      post_progress (self, GST_PROGRESS_TYPE_ERROR, "autotune failed");
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Autotune failed: %s", error->message),
          ("the model file was not written"));
    }
    g_clear_error (&error);
    return FALSE;
  }

  run->epochs = best.best_epoch;
  self->final_accuracy = NAN;
  self->final_validation_accuracy = best.validation_accuracy;
  set_metadata (self, classifier, (guint64) best.best_epoch * n, TRUE);
  if (!seqnn_classifier_save (classifier, run->model_out, &error)) {
    post_progress (self, GST_PROGRESS_TYPE_ERROR, "writing the model failed");
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write model file '%s': %s", run->model_out, error->message), (NULL));
    g_clear_error (&error);
    seqnn_classifier_free (classifier);
    return FALSE;
  }

  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (classifier));
  text = g_strdup_printf ("model of trial %d of %d written to %s", best.index, n_trials,
      run->model_out);
  post_progress (self, GST_PROGRESS_TYPE_COMPLETE, text);
  g_free (text);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("lstmtrain-done",
              "location", G_TYPE_STRING, run->model_out,
              "samples", G_TYPE_UINT64, (guint64) n,
              "classes", G_TYPE_INT, config->num_classes,
              "vocab-size", G_TYPE_INT, config->vocab_size,
              "epochs", G_TYPE_INT, best.best_epoch,
              "accuracy", G_TYPE_DOUBLE, (gdouble) NAN,
              "validation-accuracy", G_TYPE_DOUBLE, best.validation_accuracy,
              "trials", G_TYPE_INT, n_trials, NULL)));
  GST_INFO_OBJECT (self, "model written to %s", run->model_out);
  seqnn_classifier_free (classifier);
  return TRUE;
}

/* max-model-size without autotune: refuse before training what would exceed it. */
static gboolean
check_model_size (GstLstmTrain * self, const Settings * run, const SeqnnModel * model,
    const SeqnnVocab * vocab)
{
  const SeqnnConfig *c = seqnn_model_get_config (model);
  SeqnnAutotuneParams p = { c->cell, c->embed_dim, c->hidden_dim, c->num_layers,
    c->bidirectional, c->head, c->dropout, run->min_freq, run->max_vocab, run->max_tokens,
    run->learning_rate, run->batch_size, run->epochs
  };
  guint64 size;

  if (run->max_model_size == 0)
    return TRUE;
  size = seqnn_autotune_estimate_model_size (&p, vocab, c->num_classes);
  if (size <= run->max_model_size)
    return TRUE;
  GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
      ("The model would take about %" G_GUINT64_FORMAT " bytes, more than max-model-size=%"
          G_GUINT64_FORMAT ": lower embed-dim, hidden-dim or max-vocab (vocabulary: %"
          G_GSIZE_FORMAT " entries), or set autotune-duration to search within the bound.",
          size, run->max_model_size, seqnn_vocab_get_size (vocab)), (NULL));
  return FALSE;
}

/* On EOS: vocabulary, model, training, model file. Returns FALSE after posting an
 * error (or when cancelled). */
static gboolean
gst_lstm_train_train (GstLstmTrain * self)
{
  Settings run;
  SeqnnModel *model = NULL;
  SeqnnVocab *vocab = NULL;
  SeqnnClassifier *classifier = NULL;
  GError *error = NULL;
  gboolean ok = FALSE;
  gsize n = seqnn_dataset_get_size (self->dataset);

  GST_OBJECT_LOCK (self);
  settings_copy (&run, &self->settings);
  GST_OBJECT_UNLOCK (self);
  self->run = &run;
  self->final_accuracy = NAN;
  self->final_validation_accuracy = NAN;

  if (n == 0) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("No training data: the stream ended without any labelled record."),
        ("check the input file and the seqtokenize format"));
    goto done;
  }

  /* Vocabulary, labels, tokenizer settings. */
  if (self->init_classifier != NULL) {
    vocab = seqnn_vocab_ref (seqnn_classifier_get_vocab (self->init_classifier));
    guint n_labels = seqnn_classifier_get_n_labels (self->init_classifier);
    self->run_labels = g_new0 (gchar *, n_labels + 1);
    for (guint i = 0; i < n_labels; i++)
      self->run_labels[i] = g_strdup (seqnn_classifier_get_label (self->init_classifier, i));
    self->run_tokenizer = *seqnn_classifier_get_tokenizer (self->init_classifier);
    if (run.max_tokens > 0)
      self->run_tokenizer.max_tokens = run.max_tokens;
    model = seqnn_model_copy (seqnn_classifier_peek_model (self->init_classifier));
  } else {
    guint n_labels = self->label_names->len;
    self->run_labels = g_new0 (gchar *, n_labels + 1);
    for (guint i = 0; i < n_labels; i++) {
      const gchar *name = g_ptr_array_index (self->label_names, i);
      self->run_labels[i] = name ? g_strdup (name) : g_strdup_printf ("class-%u", i);
    }
    seqnn_tokenizer_config_init_default (&self->run_tokenizer);
    self->run_tokenizer.lowercase = upstream_lowercase (self);
    self->run_tokenizer.strip_markup = self->strip_markup;
    self->run_tokenizer.max_tokens = run.max_tokens;

    if (n_labels < 2) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("All %" G_GSIZE_FORMAT " records have the same label '%s': a classifier needs "
              "at least two classes in the training data.", n,
              n_labels ? self->run_labels[0] : ""), (NULL));
      goto done;
    }
    if (run.autotune_duration > 0) {
      ok = gst_lstm_train_autotune (self, &run, n);
      goto done;
    }
    vocab = seqnn_dataset_build_vocab (self->dataset, run.min_freq, run.max_vocab, &error);
    if (vocab == NULL) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("Could not build the vocabulary: %s", error->message),
          ("min-freq=%" G_GUINT64_FORMAT " max-vocab=%u", run.min_freq, run.max_vocab));
      goto done;
    }

    SeqnnConfig config;
    seqnn_config_init_default (&config);
    config.cell = run.cell;
    config.vocab_size = (gint) seqnn_vocab_get_size (vocab);
    config.embed_dim = run.embed_dim;
    config.hidden_dim = run.hidden_dim;
    config.num_layers = run.layers;
    config.bidirectional = run.bidirectional;
    config.head = run.head;
    config.num_classes = n_labels;
    config.dropout = run.dropout;
    model = seqnn_model_new (&config, &error);
    if (model == NULL) {
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
          ("Invalid network settings: %s", error->message), (NULL));
      goto done;
    }
    seqnn_model_init_params (model, run.seed);
  }
  self->run_vocab = vocab;
  if (!check_model_size (self, &run, model, vocab))
    goto done;
  seqnn_dataset_apply_vocab (self->dataset, vocab);

  if (run.embeddings != NULL && *run.embeddings != '\0') {
    gsize n_found = 0;
    if (!seqnn_model_load_word_vectors (model, vocab, run.embeddings, &n_found, &error)) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Could not use embeddings '%s': %s", run.embeddings, error->message),
          ("embed-dim=%d", seqnn_model_get_config (model)->embed_dim));
      goto done;
    }
    GST_INFO_OBJECT (self, "%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " vocabulary words "
        "found in %s", n_found, seqnn_vocab_get_size (vocab), run.embeddings);
  }

  SeqnnTrainOptions options;
  seqnn_train_options_init_default (&options);
  options.batch_size = run.batch_size;
  options.epochs = run.epochs;
  options.seed = run.seed;
  options.validation_fraction = run.validation_fraction;
  options.n_threads = run.n_threads;
  options.optimizer.kind = run.optimizer;
  options.optimizer.learning_rate = run.learning_rate;
  options.optimizer.momentum = run.momentum;
  options.optimizer.weight_decay = run.weight_decay;
  options.optimizer.clip_norm = run.clip_norm;
  options.optimizer.freeze_embedding = run.freeze_embeddings;
  options.progress_interval = run.progress_interval;
  options.checkpoint_interval = run.checkpoint_interval;
  options.cancel_flag = &self->cancel;

  {
    const SeqnnConfig *config = seqnn_model_get_config (model);
    gchar *text = g_strdup_printf ("training %s on %" G_GSIZE_FORMAT " records, %d classes, "
        "vocabulary %d, %d epochs", seqnn_cell_to_string (config->cell), n,
        config->num_classes, config->vocab_size, run.epochs);
    GST_INFO_OBJECT (self, "%s", text);
    post_progress (self, GST_PROGRESS_TYPE_START, text);
    g_free (text);
  }

  if (!seqnn_train (model, self->dataset, &options, on_progress, on_checkpoint, self, &error)) {
    if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED)
        && g_atomic_int_get (&self->cancel)) {
      GST_INFO_OBJECT (self, "training cancelled: %s", error->message);
      post_progress (self, GST_PROGRESS_TYPE_CANCELED, "training cancelled");
    } else {
      post_progress (self, GST_PROGRESS_TYPE_ERROR, "training failed");
      if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC))
        GST_ELEMENT_ERROR (self, STREAM, FAILED,
            ("Training failed: %s.", error->message),
            ("the model file was not written"));
      else if (error->domain == SEQNN_ERROR && error->code == SEQNN_ERROR_IO)
        GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
            ("Could not write checkpoint to '%s': %s", run.model_out, error->message), (NULL));
      else
        GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Training failed: %s", error->message),
            (NULL));
    }
    goto done;
  }

  classifier = make_classifier (self, model, &error);
  model = NULL; /* owned by the classifier, or freed by a failing seqnn_classifier_new */
  if (classifier == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
        ("Could not assemble the trained classifier: %s", error->message), (NULL));
    goto done;
  }
  set_metadata (self, classifier, (guint64) run.epochs * n, TRUE);
  if (!seqnn_classifier_save (classifier, run.model_out, &error)) {
    post_progress (self, GST_PROGRESS_TYPE_ERROR, "writing the model failed");
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write model file '%s': %s", run.model_out, error->message), (NULL));
    goto done;
  }

  {
    const SeqnnConfig *config = seqnn_classifier_peek_model (classifier) ?
        seqnn_model_get_config (seqnn_classifier_peek_model (classifier)) : NULL;
    gchar *text = g_strdup_printf ("model written to %s", run.model_out);
    post_progress (self, GST_PROGRESS_TYPE_COMPLETE, text);
    g_free (text);
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
            gst_structure_new ("lstmtrain-done",
                "location", G_TYPE_STRING, run.model_out,
                "samples", G_TYPE_UINT64, (guint64) n,
                "classes", G_TYPE_INT, config ? config->num_classes : 0,
                "vocab-size", G_TYPE_INT, config ? config->vocab_size : 0,
                "epochs", G_TYPE_INT, run.epochs,
                "accuracy", G_TYPE_DOUBLE, self->final_accuracy,
                "validation-accuracy", G_TYPE_DOUBLE, self->final_validation_accuracy,
                NULL)));
  }
  GST_INFO_OBJECT (self, "model written to %s", run.model_out);
  ok = TRUE;

done:
  g_clear_error (&error);
  g_clear_pointer (&classifier, seqnn_classifier_free);
  g_clear_pointer (&model, seqnn_model_free);
  g_clear_pointer (&vocab, seqnn_vocab_unref);
  g_clear_pointer (&self->run_labels, g_strfreev);
  self->run_vocab = NULL;
  self->run = NULL;
  settings_clear (&run);
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
    g_ptr_array_set_size (self->label_names, 0);
    g_hash_table_remove_all (self->label_ids);
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
