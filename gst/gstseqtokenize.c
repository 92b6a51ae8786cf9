/* seqtokenize: splits text into records and attaches their tokens.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * (skeleton: the full element follows) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstseqtokenize.h"

struct _GstSeqTokenize {
  GstElement parent;
  GstPad *sinkpad;
  GstPad *srcpad;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("text/x-raw, format = (string) { utf8, pango-markup }"));

GType
gst_seq_tokenize_format_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_SEQ_TOKENIZE_FORMAT_TEXT, "Plain text", "text" },
    { GST_SEQ_TOKENIZE_FORMAT_CSV, "AG News CSV", "csv" },
    { GST_SEQ_TOKENIZE_FORMAT_TSV, "Tab-separated label and text", "tsv" },
    { GST_SEQ_TOKENIZE_FORMAT_FASTTEXT, "fastText __label__", "fasttext" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSeqTokenizeFormat", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define gst_seq_tokenize_parent_class parent_class
G_DEFINE_TYPE (GstSeqTokenize, gst_seq_tokenize, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (seqtokenize, "seqtokenize", GST_RANK_NONE, GST_TYPE_SEQ_TOKENIZE);

static void
gst_seq_tokenize_class_init (GstSeqTokenizeClass *klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Sequence tokenizer", "Filter/Text",
      "Splits text into records and attaches their tokens", "gst-seqnn developers");
}

static void
gst_seq_tokenize_init (GstSeqTokenize *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
