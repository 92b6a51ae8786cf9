/* libseqnn: the network, its parameters, inference and training steps.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Equations and weight layout are torch.nn.RNN/LSTM/GRU's, so a state_dict
 * moves between the two unchanged:
 *   LSTM gates i,f,g,o (rows 0..H-1, H..2H-1, ...) in weight_ih/weight_hh,
 *   GRU gates r,z,n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
 *   Elman RNN h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu.
 */
#pragma once

#include <glib.h>
#include "seqnn/error.h"

G_BEGIN_DECLS

typedef enum {
  SEQNN_CELL_RNN_TANH,
  SEQNN_CELL_RNN_RELU,
  SEQNN_CELL_LSTM,
  SEQNN_CELL_GRU,
} SeqnnCell;

typedef enum {
  SEQNN_HEAD_LAST, /* top layer's final hidden state; [forward, reverse] when bidirectional */
  SEQNN_HEAD_MEAN, /* mean of the top layer's outputs over each sequence's real steps */
  SEQNN_HEAD_MAX,  /* element-wise max of those outputs */
} SeqnnHead;

/* "rnn-tanh", "rnn-relu", "lstm", "gru" / "last", "mean", "max" */
const gchar *seqnn_cell_to_string (SeqnnCell cell);
gboolean seqnn_cell_from_string (const gchar *str, SeqnnCell *cell);
const gchar *seqnn_head_to_string (SeqnnHead head);
gboolean seqnn_head_from_string (const gchar *str, SeqnnHead *head);
/* Gate count: 1 (RNN), 4 (LSTM), 3 (GRU). */
gint seqnn_cell_n_gates (SeqnnCell cell);

typedef struct {
  SeqnnCell cell;
  gint vocab_size;
  gint embed_dim;
  gint hidden_dim;
  gint num_layers;  /* 0: no recurrent layer, the head reads the embedding rows (a
                     * bag of embeddings, fastText's model without n-grams);
                     * then head mean or max, one direction, cell and
                     * hidden_dim unused */
  gboolean bidirectional;
  SeqnnHead head;
  gint num_classes;
  gint padding_idx; /* -1 for none; that embedding row stays zero and gets no gradient, as torch's */
  gfloat dropout;   /* on the inputs of layers 2..n while training, as torch's */
} SeqnnConfig;

/* The lesson's classifier: LSTM, embed 64, hidden 32, 1 layer, one direction,
 * last-state head, 4 classes, no padding_idx, no dropout; vocab_size 0 (set it). */
void seqnn_config_init_default (SeqnnConfig *config);
/* Checks sizes and ranges; the message says which field is wrong. */
gboolean seqnn_config_validate (const SeqnnConfig *config, GError **error);

/* One tensor of the flat parameter buffer. Names and order are the torch
 * state_dict's: "embedding.weight", then per layer l and direction
 * "rnn.weight_ih_l{l}[_reverse]", "rnn.weight_hh_l{l}[_reverse]",
 * "rnn.bias_ih_l{l}[_reverse]", "rnn.bias_hh_l{l}[_reverse]", then
 * "fc.weight", "fc.bias". Gradients and optimizer state use the same table. */
typedef struct {
  const gchar *name;
  gint ndim;       /* 1 or 2 */
  gint shape[2];   /* shape[1] is 1 when ndim == 1 */
  gsize offset;    /* in floats, from the start of the parameter buffer */
  gsize numel;
} SeqnnTensorInfo;

typedef struct _SeqnnModel SeqnnModel;

/* All parameters zero; see seqnn_model_init_params. Fails (besides an invalid
 * config) when the model would hold more than 2^34 parameters. */
SeqnnModel *seqnn_model_new (const SeqnnConfig *config, GError **error);
SeqnnModel *seqnn_model_copy (const SeqnnModel *model);
void seqnn_model_free (SeqnnModel *model);
/* torch's initialisation: N(0,1) embedding (padding row zero), U(-1/sqrt(H), 1/sqrt(H))
 * for every recurrent tensor, nn.Linear's default for fc. Deterministic in seed. */
void seqnn_model_init_params (SeqnnModel *model, guint64 seed);
const SeqnnConfig *seqnn_model_get_config (const SeqnnModel *model);
gfloat *seqnn_model_get_params (SeqnnModel *model, gsize *n_params);
const gfloat *seqnn_model_peek_params (const SeqnnModel *model, gsize *n_params);
guint seqnn_model_get_n_tensors (const SeqnnModel *model);
const SeqnnTensorInfo *seqnn_model_get_tensor (const SeqnnModel *model, guint index);
const SeqnnTensorInfo *seqnn_model_find_tensor (const SeqnnModel *model, const gchar *name);

/* One model whose logits are the mean of the members' (an ensemble in one
 * network of the same kind, so every reader of model files runs it): the
 * members side by side, embedding and hidden sizes times n_members, the
 * weights between members zero. The members must share the architecture
 * (and so the vocabulary's size); they are not taken. A recurrent layer's
 * matrices grow with the square of n_members (their zero blocks included),
 * an embedding and a bag's classifier linearly. */
SeqnnModel *seqnn_model_new_ensemble (SeqnnModel *const *members, guint n_members,
    GError **error);

/* A batch of token-id sequences of any lengths (>= 1 each), in the caller's
 * order; the engine packs them (sorted by length, shrinking per-step batch)
 * and returns results in the caller's order. */
typedef struct {
  const gint32 *ids;    /* all sequences' ids, concatenated */
  const gint *lengths;  /* n entries */
  gint n;               /* number of sequences */
  const gint *labels;   /* n entries in [0, num_classes), or NULL for inference */
} SeqnnBatch;

/* Checks ids < vocab_size, lengths >= 1, labels in range; message names the entry. */
gboolean seqnn_batch_validate (const SeqnnBatch *batch, const SeqnnConfig *config, GError **error);

/* ---- Inference ---------------------------------------------------------- */

/* A reusable workspace bound to a model (which must outlive it and may be
 * updated between runs). Buffers grow to the largest batch seen, then
 * nothing is allocated per run. */
typedef struct _SeqnnInference SeqnnInference;

SeqnnInference *seqnn_inference_new (const SeqnnModel *model, gint n_threads);
void seqnn_inference_free (SeqnnInference *inference);
void seqnn_inference_set_n_threads (SeqnnInference *inference, gint n_threads);
/* probs and logits: n x num_classes, row-major, either may be NULL. */
gboolean seqnn_inference_run (SeqnnInference *inference, const SeqnnBatch *batch,
    gfloat *probs, gfloat *logits, GError **error);
/* Views of the last run, for tests and tools. Final states in torch's h_n
 * layout: (num_layers * dirs) x n x hidden, batch in the caller's order.
 * final_cell is NULL unless the cell is LSTM. */
const gfloat *seqnn_inference_get_final_hidden (SeqnnInference *inference);
const gfloat *seqnn_inference_get_final_cell (SeqnnInference *inference);
/* Copies sequence i's top-layer outputs: lengths[i] x (dirs * hidden), or
 * its embedding rows (lengths[i] x embed_dim) without a recurrent layer. */
void seqnn_inference_copy_outputs (SeqnnInference *inference, gint i, gfloat *dst);
/* Buffer growth events so far (for tests: constant once warmed up). */
guint64 seqnn_inference_get_n_allocations (const SeqnnInference *inference);

/* ---- Training ----------------------------------------------------------- */

typedef enum {
  SEQNN_OPTIMIZER_ADAM,
  SEQNN_OPTIMIZER_SGD,
} SeqnnOptimizerKind;

const gchar *seqnn_optimizer_to_string (SeqnnOptimizerKind kind); /* "adam", "sgd" */
gboolean seqnn_optimizer_from_string (const gchar *str, SeqnnOptimizerKind *kind);

typedef struct {
  SeqnnOptimizerKind kind;
  gfloat learning_rate;    /* 0.001 */
  gfloat beta1, beta2, eps;/* Adam: 0.9, 0.999, 1e-8, with bias correction */
  gfloat momentum;         /* SGD: 0 */
  gfloat weight_decay;     /* added to the gradient (torch's weight_decay): 0 */
  gfloat clip_norm;        /* clip by global gradient norm; 0 = off */
  gboolean dense_embedding;/* TRUE: torch.optim.Adam (or SGD) step for step, every row, every
                            * step: O(vocab x embed) per step. FALSE (default): lazy row-sparse,
                            * the same result at the cost of the rows a batch uses: a row
                            * catches up the steps it skipped (its momentum keeps moving it,
                            * as in dense) in closed form when a batch reads it or on
                            * seqnn_trainer_sync. Differences from dense: Adam's eps is
                            * neglected against sqrt(v_hat) on skipped steps, and weight_decay
                            * acts on the rows a batch used only. */
  gboolean freeze_embedding;
} SeqnnOptimizerConfig;

void seqnn_optimizer_config_init_default (SeqnnOptimizerConfig *config);

typedef struct _SeqnnTrainer SeqnnTrainer;

typedef struct {
  gdouble loss;   /* mean cross-entropy over the batch */
  gint n_correct; /* argmax == label */
  gint n;
} SeqnnStepResult;

/* Updates model in place; model must outlive the trainer. seed drives dropout. */
SeqnnTrainer *seqnn_trainer_new (SeqnnModel *model, const SeqnnOptimizerConfig *config,
    gint n_threads, guint64 seed, GError **error);
void seqnn_trainer_free (SeqnnTrainer *trainer);
/* Forward, backward and one optimizer update. A NaN or infinite loss or
 * gradient fails with SEQNN_ERROR_NUMERIC naming the step, parameters untouched. */
gboolean seqnn_trainer_step (SeqnnTrainer *trainer, const SeqnnBatch *batch,
    SeqnnStepResult *result, GError **error);
/* The two halves of a step, for gradient checks and custom loops. */
gboolean seqnn_trainer_compute_gradients (SeqnnTrainer *trainer, const SeqnnBatch *batch,
    SeqnnStepResult *result, GError **error);
/* Gradient of the mean loss, dense, same layout as the parameters. */
const gfloat *seqnn_trainer_get_gradients (SeqnnTrainer *trainer, gsize *n);
gboolean seqnn_trainer_apply_gradients (SeqnnTrainer *trainer, GError **error);
/* Dropout on (TRUE, default) or off. */
void seqnn_trainer_set_training (SeqnnTrainer *trainer, gboolean training);
/* Dropout besides the config's (between layers): on the embedding output,
 * each token's vector (nn.Dropout after nn.Embedding), and on the head's
 * features before the linear layer (nn.Dropout before nn.Linear); rates in
 * [0, 1), both 0 by default. Masks are drawn per sequence from the seed, the
 * step and the sequence's index in its batch, so they do not depend on the
 * thread count. Training only: inference never drops. */
void seqnn_trainer_set_dropout (SeqnnTrainer *trainer, gfloat embedding, gfloat head);
void seqnn_trainer_set_learning_rate (SeqnnTrainer *trainer, gfloat lr); /* finite, >= 0 */
void seqnn_trainer_set_n_threads (SeqnnTrainer *trainer, gint n_threads);
guint64 seqnn_trainer_get_step (const SeqnnTrainer *trainer);
/* Applies the pending lazy embedding updates (default row-sparse mode); call
 * before reading or saving the model's parameters while the trainer lives.
 * O(vocab x embed); nothing to do in dense mode. seqnn_trainer_free syncs too,
 * and seqnn_train syncs before every validation, checkpoint and its return.
 * (compute_gradients brings the rows its batch reads up to date first, so a
 * step that fails has still applied those rows' pending updates: the values
 * dense Adam would hold, nothing new.) */
void seqnn_trainer_sync (SeqnnTrainer *trainer);

G_END_DECLS
