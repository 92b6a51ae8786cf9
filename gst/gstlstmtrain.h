/* GStreamer seqnn plugin: lstmtrain, trains a recurrent text classifier
 * from labelled token buffers and writes a model file at EOS.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_LSTM_TRAIN (gst_lstm_train_get_type ())
G_DECLARE_FINAL_TYPE (GstLstmTrain, gst_lstm_train, GST, LSTM_TRAIN, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (lstmtrain);

G_END_DECLS
