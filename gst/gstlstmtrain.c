/* GStreamer seqnn plugin: lstmtrain (skeleton, being written).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlstmtrain.h"

GST_DEBUG_CATEGORY_STATIC (gst_lstm_train_debug);
#define GST_CAT_DEFAULT gst_lstm_train_debug

struct _GstLstmTrain
{
  GstBaseSink parent;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format = (string) { utf8, pango-markup }"));

#define gst_lstm_train_parent_class parent_class
G_DEFINE_TYPE (GstLstmTrain, gst_lstm_train, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (lstmtrain, "lstmtrain", GST_RANK_NONE, GST_TYPE_LSTM_TRAIN);

static void
gst_lstm_train_class_init (GstLstmTrainClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_lstm_train_debug, "seqnntrain", 0, "lstmtrain element");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Sequence classifier trainer",
      "Sink/Text", "Trains an RNN/LSTM/GRU text classifier and writes a model file",
      "gst-seqnn developers");
}

static void
gst_lstm_train_init (GstLstmTrain * self)
{
}
