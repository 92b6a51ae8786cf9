/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lstmclassify: skeleton, being written */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstlstmclassify.h"

struct _GstLstmClassify {
  GstElement parent;
};

G_DEFINE_TYPE (GstLstmClassify, gst_lstm_classify, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (lstmclassify, "lstmclassify", GST_RANK_NONE, GST_TYPE_LSTM_CLASSIFY);

GType
gst_lstm_classify_annotate_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_LSTM_CLASSIFY_ANNOTATE_NONE, "Buffers unchanged", "none"},
    {GST_LSTM_CLASSIFY_ANNOTATE_PREFIX, "Prefix the text with [label confidence]", "prefix"},
    {GST_LSTM_CLASSIFY_ANNOTATE_JSON, "One JSON object per buffer", "json"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstLstmClassifyAnnotate", values));
  return type;
}

static void
gst_lstm_classify_class_init (GstLstmClassifyClass *klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "Text classifier",
      "Filter/Analyzer/Text", "Classifies text buffers with a recurrent network",
      "gst-seqnn developers");
}

static void
gst_lstm_classify_init (GstLstmClassify *self)
{
}
