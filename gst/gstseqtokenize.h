/* seqtokenize: splits text into records and attaches their tokens.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_SEQ_TOKENIZE (gst_seq_tokenize_get_type ())
G_DECLARE_FINAL_TYPE (GstSeqTokenize, gst_seq_tokenize, GST, SEQ_TOKENIZE, GstElement)

GST_ELEMENT_REGISTER_DECLARE (seqtokenize);

/**
 * GstSeqTokenizeFormat:
 * @GST_SEQ_TOKENIZE_FORMAT_TEXT: one record per buffer from a text parser, per line from a byte stream
 * @GST_SEQ_TOKENIZE_FORMAT_CSV: AG News CSV: "class","title","description"
 * @GST_SEQ_TOKENIZE_FORMAT_TSV: label<TAB>text
 * @GST_SEQ_TOKENIZE_FORMAT_FASTTEXT: __label__name text
 * @GST_SEQ_TOKENIZE_FORMAT_JSONL: JSON Lines, one object per line
 */
typedef enum {
  GST_SEQ_TOKENIZE_FORMAT_TEXT,
  GST_SEQ_TOKENIZE_FORMAT_CSV,
  GST_SEQ_TOKENIZE_FORMAT_TSV,
  GST_SEQ_TOKENIZE_FORMAT_FASTTEXT,
  GST_SEQ_TOKENIZE_FORMAT_JSONL,
} GstSeqTokenizeFormat;

#define GST_TYPE_SEQ_TOKENIZE_FORMAT (gst_seq_tokenize_format_get_type ())
GType gst_seq_tokenize_format_get_type (void);

G_END_DECLS
