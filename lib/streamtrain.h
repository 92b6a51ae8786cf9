/* Internal: training a stream model (streamtrain.c) and the trainer's step
 * over a window of parallel streams (trainer.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/model.h"
#include "seqnn/fit.h"

G_BEGIN_DECLS

/* One step's gradients (then seqnn_trainer_apply_gradients) over a window of
 * n_streams parallel streams of length tokens each: ids and targets are
 * n_streams x length, stream-major; targets[i] is the class whose loss sits
 * at token i (a cue's last token) or -1 for none. h, c: n_streams x L x H
 * (c for LSTM only, else ignored), the states the streams start from; on
 * return the states at the window's end (the next window's start), while the
 * gradient treats the starting states as constants (truncated BPTT). The
 * result's loss is the mean over the targets, n their number. The model
 * must be unidirectional. */
gboolean seqnn_trainer_compute_window_gradients (SeqnnTrainer *trainer, const gint32 *ids,
    gint n_streams, gint length, const gint *targets, gfloat *h, gfloat *c,
    SeqnnStepResult *result, GError **error);

/* seqnn_train for a stream model (seqnn/fit.h's stream_training): the same
 * options, progress and checkpoints, the samples being records. */
gboolean seqnn_stream_train (SeqnnModel *model, const SeqnnDataset *dataset,
    const SeqnnTrainOptions *options, const SeqnnStreamTrainOptions *stream,
    SeqnnTrainProgressFunc progress, SeqnnCheckpointFunc checkpoint, gpointer user_data,
    GError **error);

G_END_DECLS
