/* libseqnn: streaming record readers and compact in-memory datasets.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/error.h"
#include "seqnn/text.h"

G_BEGIN_DECLS

typedef enum {
  SEQNN_FORMAT_TEXT,     /* one record per line, no label */
  SEQNN_FORMAT_CSV,      /* AG News: "class","title","description"; class 1-based */
  SEQNN_FORMAT_TSV,      /* label<TAB>text */
  SEQNN_FORMAT_FASTTEXT, /* __label__name text */
} SeqnnFormat;

const gchar *seqnn_format_to_string (SeqnnFormat format); /* "text", "csv", "tsv", "fasttext" */
gboolean seqnn_format_from_string (const gchar *str, SeqnnFormat *format);

/* One parsed record; pointers valid only during the callback. */
typedef struct {
  const gchar *text;  /* CSV: the columns after the class joined with a space, as torchtext */
  gsize text_len;
  const gchar *label; /* as written (CSV: "1".."N"), NULL when the format has none */
  gsize label_len;
  guint64 line;       /* 1-based line where the record starts */
} SeqnnRecord;

typedef gboolean (*SeqnnRecordFunc) (const SeqnnRecord *record, gpointer user_data, GError **error);

/* Incremental parser: feed bytes in pieces of any size (a record may span
 * pieces, CSV quotes may hold newlines); it calls func once per record. */
typedef struct _SeqnnRecordReader SeqnnRecordReader;

/* source_name appears in error messages ("train.csv:17: unterminated quote"). */
SeqnnRecordReader *seqnn_record_reader_new (SeqnnFormat format, const gchar *source_name);
void seqnn_record_reader_free (SeqnnRecordReader *reader);
/* Bad rows are skipped and counted instead of failing. */
void seqnn_record_reader_set_skip_bad (SeqnnRecordReader *reader, gboolean skip);
guint64 seqnn_record_reader_get_n_skipped (const SeqnnRecordReader *reader);
gboolean seqnn_record_reader_feed (SeqnnRecordReader *reader, const gchar *data, gsize len,
    SeqnnRecordFunc func, gpointer user_data, GError **error);
/* End of input: flushes a last record without a newline; an open quote is an error. */
gboolean seqnn_record_reader_finish (SeqnnRecordReader *reader, SeqnnRecordFunc func,
    gpointer user_data, GError **error);
/* Back to the start state (e.g. after a flush). */
void seqnn_record_reader_reset (SeqnnRecordReader *reader);

/* ---- Labels ------------------------------------------------------------- */

typedef struct _SeqnnLabelSet SeqnnLabelSet;

SeqnnLabelSet *seqnn_label_set_new (void);
SeqnnLabelSet *seqnn_label_set_new_from_strv (const gchar *const *names);
/* AG News: World, Sports, Business, Sci/Tech. */
SeqnnLabelSet *seqnn_label_set_new_ag_news (void);
/* One name per line (AG News classes.txt); empty lines ignored. */
SeqnnLabelSet *seqnn_label_set_new_from_file (const gchar *path, GError **error);
void seqnn_label_set_free (SeqnnLabelSet *set);
guint seqnn_label_set_get_n (const SeqnnLabelSet *set);
const gchar *seqnn_label_set_get_name (const SeqnnLabelSet *set, gint id);
gint seqnn_label_set_lookup (const SeqnnLabelSet *set, const gchar *name, gssize len); /* -1 when absent */
gint seqnn_label_set_add (SeqnnLabelSet *set, const gchar *name, gssize len);  /* existing or new id */
/* NULL-terminated copy of the names in id order. */
gchar **seqnn_label_set_to_strv (const SeqnnLabelSet *set);
/* A record's label as an id: CSV labels are 1-based numbers checked against the
 * set's size; TSV/fastText names are looked up, and added when grow is TRUE.
 * The error names the source and line. */
gint seqnn_label_set_resolve (SeqnnLabelSet *set, SeqnnFormat format, const SeqnnRecord *record,
    gboolean grow, const gchar *source_name, GError **error);

/* ---- Datasets ------------------------------------------------------------ */

/* Labelled token sequences kept compactly: one gint32 arena of ids plus
 * offsets. Before a vocabulary is applied, ids are provisional (one per
 * distinct token, counted as they come); seqnn_dataset_apply_vocab remaps
 * them in place, after which new sequences are encoded with that vocabulary. */
typedef struct _SeqnnDataset SeqnnDataset;

SeqnnDataset *seqnn_dataset_new (void);
void seqnn_dataset_free (SeqnnDataset *dataset);
/* label -1 for unlabelled. An empty token list is kept as an empty sequence. */
void seqnn_dataset_add (SeqnnDataset *dataset, const SeqnnTokens *tokens, gint label);

typedef struct {
  SeqnnFormat format;
  SeqnnTokenizerConfig tokenizer;
  gboolean skip_bad_rows;
  gboolean grow_labels; /* TSV/fastText: unknown label names become new classes */
} SeqnnReadOptions;

void seqnn_read_options_init_default (SeqnnReadOptions *options, SeqnnFormat format);

/* Streams a file (never holding it whole), tokenizes and adds every record;
 * labels resolved through the set. n_skipped may be NULL. */
gboolean seqnn_dataset_read_file (SeqnnDataset *dataset, const gchar *path,
    const SeqnnReadOptions *options, SeqnnLabelSet *labels, guint64 *n_skipped, GError **error);
/* Vocabulary from the provisional counts (min_freq, max_size as the builder). */
SeqnnVocab *seqnn_dataset_build_vocab (const SeqnnDataset *dataset, guint64 min_freq,
    gsize max_size, GError **error);
void seqnn_dataset_apply_vocab (SeqnnDataset *dataset, const SeqnnVocab *vocab);
gboolean seqnn_dataset_has_vocab (const SeqnnDataset *dataset);
gsize seqnn_dataset_get_size (const SeqnnDataset *dataset);
gsize seqnn_dataset_get_n_tokens (const SeqnnDataset *dataset);
void seqnn_dataset_get (const SeqnnDataset *dataset, gsize index, const gint32 **ids,
    gint *length, gint *label);

G_END_DECLS
