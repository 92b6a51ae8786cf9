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
  SEQNN_FORMAT_JSONL,    /* JSON Lines: one object per line; "label" and "text" keys unless set */
} SeqnnFormat;

/* "text", "csv", "tsv", "fasttext", "jsonl" */
const gchar *seqnn_format_to_string (SeqnnFormat format);
gboolean seqnn_format_from_string (const gchar *str, SeqnnFormat *format);

/* One parsed record; pointers valid only during the callback. */
typedef struct {
  const gchar *text;  /* CSV: the columns after the class joined with a space, as torchtext */
  gsize text_len;
  const gchar *label; /* as written (CSV: "1".."N"), NULL when the format has none */
  gsize label_len;
  guint64 line;       /* 1-based line where the record starts */
  /* Read with a column layout (seqnn_record_reader_set_columns) or from JSON
   * Lines: the label may be a name or a 1-based class number. */
  gboolean column_layout;
  /* With seqnn_record_reader_set_whole_lines: the line's bytes as read, its
   * terminator (and, on the first line, a BOM) included; else NULL, 0. */
  const gchar *raw;
  gsize raw_len;
} SeqnnRecord;

typedef gboolean (*SeqnnRecordFunc) (const SeqnnRecord *record, gpointer user_data, GError **error);

/* Incremental parser: feed bytes in pieces of any size (a record may span
 * pieces, CSV quotes may hold newlines); it calls func once per record, and
 * the records do not depend on where the pieces were cut.
 * A UTF-8 BOM at the start is skipped; empty lines are no records.
 * CSV: as Python's csv module (excel dialect): "" inside quotes, line breaks
 * inside quotes kept, records end at \n, \r\n or \r, backslashes are plain
 * characters, a quote inside an unquoted field is a plain character; the
 * first column is the label, the others are joined with one space. Errors (or
 * skipped rows): characters after a closing quote, an empty label, a row of
 * one column, a quote still open at the end.
 * TSV: the label is what precedes the first tab, the text all that follows it
 * (further tabs stay in the text, where the tokenizer treats them as spaces).
 * fastText: "__label__A [__label__B ...] text": the first label is taken.
 * TSV, fastText, text: lines end at \n; a \r before it is dropped.
 * func may be NULL (parse only). When func returns FALSE without setting an
 * error, feed fails with SEQNN_ERROR_CANCELLED. After an error, reset the
 * reader before feeding it again. */
typedef struct _SeqnnRecordReader SeqnnRecordReader;

/* source_name appears in error messages ("train.csv:17: unterminated quote"). */
SeqnnRecordReader *seqnn_record_reader_new (SeqnnFormat format, const gchar *source_name);
void seqnn_record_reader_free (SeqnnRecordReader *reader);
/* Bad rows are skipped and counted instead of failing (the count survives
 * seqnn_record_reader_finish; seqnn_record_reader_reset clears it). */
void seqnn_record_reader_set_skip_bad (SeqnnRecordReader *reader, gboolean skip);
guint64 seqnn_record_reader_get_n_skipped (const SeqnnRecordReader *reader);
/* The longest record (label and text bytes, a line's bytes) before feed fails
 * with SEQNN_ERROR_PARSE, even when skipping: a stray quote cannot pull a whole
 * file into memory. 0 restores the default. */
#define SEQNN_RECORD_MAX_BYTES_DEFAULT ((gsize) 64 * 1024 * 1024)
void seqnn_record_reader_set_max_record_size (SeqnnRecordReader *reader, gsize max_bytes);
gboolean seqnn_record_reader_feed (SeqnnRecordReader *reader, const gchar *data, gsize len,
    SeqnnRecordFunc func, gpointer user_data, GError **error);
/* End of input: flushes a last record without a newline; an open quote is an
 * error. The reader is then back at its start state, ready for a new input. */
gboolean seqnn_record_reader_finish (SeqnnRecordReader *reader, SeqnnRecordFunc func,
    gpointer user_data, GError **error);
/* Back to the start state (e.g. after a flush), skipped count cleared. */
void seqnn_record_reader_reset (SeqnnRecordReader *reader);
/* Text format, for passing a byte stream through line by line: every line is
 * a record, empty ones too, with record.raw its bytes as read, so the raw
 * records put back together are the input; record.text is the line without
 * its terminator (and without a leading BOM on the first line). Before the
 * first feed; ignored by the other formats. */
void seqnn_record_reader_set_whole_lines (SeqnnRecordReader *reader, gboolean whole_lines);

/* Column layouts for CSV, TSV and JSON Lines.
 * A column is a name from the header (JSON Lines: an object's key) or a
 * 1-based number (digits only; JSON Lines keys are always names).
 * header: SEQNN_HEADER_AUTO (the default) takes the first row of each input as
 * the header exactly when label_column or text_columns names a column (names
 * exist only in a header); YES always, NO never (names are then refused).
 * A header that lacks a named column is an error naming it.
 * With a header or any column given, a CSV or TSV row is split into fields
 * (TSV: at every tab); the label is label_column (default: the first column)
 * and the text the text_columns joined with one space, in the order given
 * (default: every other column in row order). A row too short for a column is
 * a bad row ("missing column ..."). Without any of them CSV and TSV keep the
 * AG News and label<TAB>text layouts above.
 * JSON Lines (parsed with json-glib): each non-empty line one object; the
 * label a string or an integer, text columns strings (default keys "label"
 * and "text"); invalid UTF-8, invalid JSON, a line that is not an object, a
 * missing key or a value of another type is a bad row. */
typedef enum {
  SEQNN_HEADER_AUTO,
  SEQNN_HEADER_YES,
  SEQNN_HEADER_NO,
} SeqnnHeader;

typedef struct {
  SeqnnHeader header;
  const gchar *label_column; /* NULL: the first column (JSON Lines: "label") */
  const gchar *text_columns; /* comma-separated; NULL: every other column (JSON Lines: "text") */
} SeqnnColumns;

void seqnn_columns_init_default (SeqnnColumns *columns);
/* TRUE when columns asks for anything but the format's default layout. */
gboolean seqnn_columns_is_set (const SeqnnColumns *columns);
/* Before the first feed (resets the reader). Fails (SEQNN_ERROR_INVALID_ARGUMENT)
 * on an empty or zero column, names with header NO, a header with JSON
 * Lines, or columns for the text and fastText formats. */
gboolean seqnn_record_reader_set_columns (SeqnnRecordReader *reader, const SeqnnColumns *columns,
    GError **error);
/* The same checks without a reader (e.g. when a setting is changed). */
gboolean seqnn_columns_check (SeqnnFormat format, const SeqnnColumns *columns, GError **error);

/* ---- Labels ------------------------------------------------------------- */

typedef struct _SeqnnLabelSet SeqnnLabelSet;

SeqnnLabelSet *seqnn_label_set_new (void);
SeqnnLabelSet *seqnn_label_set_new_from_strv (const gchar *const *names);
/* AG News: World, Sports, Business, Sci/Tech. */
SeqnnLabelSet *seqnn_label_set_new_ag_news (void);
/* Names separated by commas ("World, Sports,Business"): blanks around each
 * trimmed, empty ones skipped; a record's class number k is the k-th name.
 * An entry "N=name" gives class number N that name instead ("0=negative,
 * 1=positive" for 0-based data; "1=bad,2=bad,4=good,5=good": numbers that
 * share a name are one class); the plain names of such a list keep their
 * 1-based positions. */
SeqnnLabelSet *seqnn_label_set_new_from_list (const gchar *list);
/* The classes records of a format resolve against when nobody names them:
 * with a column layout or JSON Lines, an empty set that grows (*grow TRUE:
 * labels in the order they come, numbers as names: "0" and "1"); the AG News CSV
 * layout, AG News's four; otherwise NULL (TSV and fastText labels stay
 * names, without class ids). */
SeqnnLabelSet *seqnn_label_set_new_for_format (SeqnnFormat format, gboolean column_layout,
    gboolean *grow);
/* One name per line (AG News classes.txt); empty lines ignored. A regular
 * file of at most 16 MiB, else SEQNN_ERROR_IO. */
SeqnnLabelSet *seqnn_label_set_new_from_file (const gchar *path, GError **error);
void seqnn_label_set_free (SeqnnLabelSet *set);
guint seqnn_label_set_get_n (const SeqnnLabelSet *set);
const gchar *seqnn_label_set_get_name (const SeqnnLabelSet *set, gint id);
gint seqnn_label_set_lookup (const SeqnnLabelSet *set, const gchar *name, gssize len); /* -1 when absent */
gint seqnn_label_set_add (SeqnnLabelSet *set, const gchar *name, gssize len);  /* existing or new id */
/* NULL-terminated copy of the names in id order. */
gchar **seqnn_label_set_to_strv (const SeqnnLabelSet *set);
/* A record's label as an id: AG News CSV labels are 1-based numbers checked
 * against the set's size ("train.csv:17: class 7 out of range 1..4"; with
 * grow, classes up to the number are added, named by their numbers); TSV/
 * fastText names are looked up, and added when grow is TRUE. A number in a
 * column layout or JSON Lines is the class a labels list gives that number
 * ("N=name" entries), else the class named by the number, else (a set whose
 * names are words) the 1-based class number, else with grow a new class
 * named by the number. TEXT records give -1 without error. The error names
 * the source and line. */
gint seqnn_label_set_resolve (SeqnnLabelSet *set, SeqnnFormat format, const SeqnnRecord *record,
    gboolean grow, const gchar *source_name, GError **error);
/* Whether resolve reads the record's label as a class number: always in the
 * AG News CSV layout, for a decimal number in a column layout or JSON Lines;
 * other labels are names. */
gboolean seqnn_record_label_is_number (SeqnnFormat format, const SeqnnRecord *record);
/* A label that comes as a name, a 0-based class index (-1: none), or both, as
 * a tokens meta carries it (seqtokenize format=csv: "World" as class 0; tsv:
 * the name only). With grow (a set being collected): an index is that class,
 * the set growing to hold it (classes added so are named by their 1-based
 * numbers until a label names them); a name alone is looked up or added; a
 * name seen as another class, or a class seen with another name, is an error.
 * Without grow (a fixed set, e.g. a model's): the name is looked up; a missing
 * or purely numeric name falls back to an index in range; else the error lists
 * the set's names. set_name ("init-model's labels") words the errors. */
gint seqnn_label_set_resolve_indexed (SeqnnLabelSet *set, const gchar *name, gint index,
    gboolean grow, const gchar *set_name, GError **error);

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
  gboolean grow_labels; /* TSV/fastText/JSON Lines: unknown label names become new classes */
  SeqnnColumns columns; /* header and columns; the format's layout by default */
} SeqnnReadOptions;

/* Default tokenizer, no skipping; grow_labels TRUE for TSV and fastText. */
void seqnn_read_options_init_default (SeqnnReadOptions *options, SeqnnFormat format);

/* Streams a file in 64 KiB reads (never holding it whole), tokenizes and adds
 * every record; labels resolved through the set (which may be NULL for TEXT).
 * Error messages name the file's base name and line. With skip_bad_rows, rows
 * the reader rejects and rows whose label does not resolve are counted in
 * n_skipped (may be NULL). On failure the rows read before the error stay. */
gboolean seqnn_dataset_read_file (SeqnnDataset *dataset, const gchar *path,
    const SeqnnReadOptions *options, SeqnnLabelSet *labels, guint64 *n_skipped, GError **error);
/* The format a file's name suggests: .csv, .tsv, .jsonl (or .ndjson), .ft or
 * .fasttext; FALSE for any other name. */
gboolean seqnn_format_from_path (const gchar *path, SeqnnFormat *format);

/* A validation (or test) file for training with class_names (NULL-terminated,
 * class order) and vocab: read with options (format, tokenizer, columns;
 * grow_labels is ignored), labels resolved to the training classes, vocab
 * applied. Labels the training classes lack are refused, the message naming
 * them ("dev.tsv: labels the training data lacks: \"Health\""). */
SeqnnDataset *seqnn_dataset_read_validation (const gchar *path, const SeqnnReadOptions *options,
    const gchar *const *class_names, const SeqnnVocab *vocab, GError **error);

/* Vocabulary of the words from the provisional counts (min_freq, max_size as
 * the builder); sequences added after a vocabulary was applied are not counted. */
SeqnnVocab *seqnn_dataset_build_vocab (const SeqnnDataset *dataset, guint64 min_freq,
    gsize max_size, GError **error);
/* Counts the runs of 2..word_ngrams adjacent words ("new york") of every
 * sequence as vocabulary candidates; only before a vocabulary is applied (an
 * error after). Counting again to the same or fewer words does nothing;
 * sequences added later are counted as they come. A run through a literal
 * <unk> or <pad> is not counted: it is never fed. */
gboolean seqnn_dataset_count_ngrams (SeqnnDataset *dataset, gint word_ngrams, GError **error);
/* seqnn_dataset_build_vocab with the counted word n-grams of up to word_ngrams
 * words beside the words, competing for min_freq and max_size alike (an error
 * when they were not counted that far). word_ngrams <= 1: the words only. */
SeqnnVocab *seqnn_dataset_build_vocab_ngrams (const SeqnnDataset *dataset, guint64 min_freq,
    gsize max_size, gint word_ngrams, GError **error);
/* Sequences are fed to training and evaluation with the applied vocabulary's
 * n-grams of up to word_ngrams words after their words
 * (seqnn_vocab_append_ngrams); 1 (the default): words only.
 * seqnn_dataset_read_file sets it from the options' tokenizer. */
void seqnn_dataset_set_word_ngrams (SeqnnDataset *dataset, gint word_ngrams);
/* Remaps the ids in place (tokens missing from vocab become <unk>) and keeps a
 * reference to vocab; applying another vocabulary later remaps again. */
void seqnn_dataset_apply_vocab (SeqnnDataset *dataset, const SeqnnVocab *vocab);
gboolean seqnn_dataset_has_vocab (const SeqnnDataset *dataset);
gsize seqnn_dataset_get_size (const SeqnnDataset *dataset);
gsize seqnn_dataset_get_n_tokens (const SeqnnDataset *dataset);
/* ids point into the dataset (valid until the next add or apply); any output may be NULL. */
void seqnn_dataset_get (const SeqnnDataset *dataset, gsize index, const gint32 **ids,
    gint *length, gint *label);

G_END_DECLS
