/* GStreamer seqnn: the enum types of lstmtrain's properties (cell, head,
 * optimizer, lr-schedule); their values are libseqnn's and their nicks the
 * library's names of them ("lstm", "max", "adam", "cosine").
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define GST_TYPE_LSTM_TRAIN_CELL (gst_lstm_train_cell_get_type ())
GType gst_lstm_train_cell_get_type (void);
#define GST_TYPE_LSTM_TRAIN_HEAD (gst_lstm_train_head_get_type ())
GType gst_lstm_train_head_get_type (void);
#define GST_TYPE_LSTM_TRAIN_LR_SCHEDULE (gst_lstm_train_lr_schedule_get_type ())
GType gst_lstm_train_lr_schedule_get_type (void);
#define GST_TYPE_LSTM_TRAIN_OPTIMIZER (gst_lstm_train_optimizer_get_type ())
GType gst_lstm_train_optimizer_get_type (void);

G_END_DECLS
