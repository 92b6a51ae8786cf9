/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Streaming record readers: bytes go in in pieces of any size, records come
 * out identical wherever the pieces were cut.
 *
 * CSV follows Python's csv module (excel dialect) as torch_baseline reads
 * AG News: RFC 4180 quotes, "" for a quote inside quotes, line breaks inside
 * quotes kept, records end at \n, \r\n or a lone \r, backslashes are plain
 * characters, a quote inside an unquoted field is a plain character. Unlike
 * Python's lenient mode, characters after a closing quote are an error (when
 * skipping bad rows, the row still ends where the lenient mode ends it). The
 * first column is the label, the others are joined with one space; an empty
 * line is no record.
 *
 * TSV, fastText and text are line formats: lines end at \n, a \r before it is
 * dropped, empty lines are no record. TSV: the label is everything before the
 * first tab, the text everything after it (further tabs stay in the text and
 * separate tokens like any whitespace). fastText: one or more "__label__NAME"
 * words, the first one's NAME is the label, the rest of the line the text.
 * A UTF-8 byte order mark at the start of the input is skipped in all formats.
 *
 * Column layouts (seqnn_record_reader_set_columns): CSV and TSV rows are split
 * into fields kept back to back in one buffer with their bounds, then the
 * label and text columns are picked; JSON Lines is a line format whose lines
 * json-glib parses. The header, when expected, is the first row of each input. */
#include <string.h>
#include <json-glib/json-glib.h>
#include "names.h"
#include "seqnn/dataset.h"

static const gchar *const format_names[] = { "text", "csv", "tsv", "fasttext", "jsonl" };

const gchar *
seqnn_format_to_string (SeqnnFormat format)
{
  return seqnn_name_of (format_names, G_N_ELEMENTS (format_names), (guint) format);
}

gboolean
seqnn_format_from_string (const gchar *str, SeqnnFormat *format)
{
  guint value;

  if (!seqnn_name_lookup (format_names, G_N_ELEMENTS (format_names), str, &value))
    return FALSE;
  if (format != NULL)
    *format = (SeqnnFormat) value;
  return TRUE;
}

typedef enum {
  CSV_RECORD_START, /* nothing of the record seen yet */
  CSV_FIELD_START,  /* after a comma */
  CSV_UNQUOTED,
  CSV_QUOTED,
  CSV_QUOTE_IN_QUOTED, /* a quote inside quotes: "" or the closing one */
} CsvState;

/* A column as given: a name, or a number (then name is NULL in rows' terms). */
typedef struct {
  gchar *given;   /* as written, for messages and JSON keys */
  gboolean named; /* a header name, resolved to index when the header is read */
  guint index;    /* 0-based */
} ColumnSpec;

struct _SeqnnRecordReader {
  SeqnnFormat format;
  gchar *source_name;
  gboolean skip_bad;
  guint64 n_skipped;
  gsize max_record;
  gboolean whole_lines; /* text: every line a record, raw bytes kept */

  guint bom_matched; /* bytes of the BOM seen at the start */
  gboolean past_start;

  guint64 line;        /* line of the next byte */
  gboolean pending_cr; /* CSV: a \r ended a line; a following \n belongs to it */
  gboolean quoted_cr;  /* CSV: the last character inside quotes was a \r */

  /* CSV */
  CsvState state;
  guint n_fields;
  gboolean row_bad; /* skipping: the row is parsed to its end, then dropped */
  guint64 record_line, quote_line;
  GString *label;
  GString *text;

  /* line formats: the current line */
  GString *buf;
  const gchar *raw;    /* whole lines: the current line's bytes as read */
  gsize raw_len;

  /* column layouts */
  gboolean column_layout;   /* JSON Lines, or CSV/TSV split into fields */
  gboolean header_expected; /* the first row of each input is the header */
  gboolean header_pending;  /* ...not read yet in this input */
  ColumnSpec label_column;  /* given NULL: the default */
  GArray *text_columns;     /* of ColumnSpec; empty: every other column */
  GArray *bounds;           /* CSV: the current row's field starts in text */
  GArray *row_bounds;       /* TSV: a line's field bounds */
  GString *joined;          /* the text columns joined */
  JsonParser *json;
};

static const guchar utf8_bom[3] = { 0xEF, 0xBB, 0xBF };

static void reader_restart (SeqnnRecordReader *reader);

static void
clear_columns (SeqnnRecordReader *reader)
{
  g_clear_pointer (&reader->label_column.given, g_free);
  for (guint i = 0; i < reader->text_columns->len; i++)
    g_free (g_array_index (reader->text_columns, ColumnSpec, i).given);
  g_array_set_size (reader->text_columns, 0);
}

SeqnnRecordReader *
seqnn_record_reader_new (SeqnnFormat format, const gchar *source_name)
{
  g_return_val_if_fail ((guint) format < G_N_ELEMENTS (format_names), NULL);
  SeqnnRecordReader *reader = g_new0 (SeqnnRecordReader, 1);
  reader->format = format;
  reader->source_name = g_strdup (source_name != NULL ? source_name : "<input>");
  reader->label = g_string_new (NULL);
  reader->text = g_string_new (NULL);
  reader->buf = g_string_new (NULL);
  reader->text_columns = g_array_new (FALSE, TRUE, sizeof (ColumnSpec));
  reader->bounds = g_array_new (FALSE, FALSE, sizeof (gsize));
  reader->row_bounds = g_array_new (FALSE, FALSE, sizeof (gsize));
  reader->joined = g_string_new (NULL);
  reader->column_layout = format == SEQNN_FORMAT_JSONL;
  reader->max_record = SEQNN_RECORD_MAX_BYTES_DEFAULT;
  if (format == SEQNN_FORMAT_JSONL) {
    SeqnnColumns keys;
    reader->json = json_parser_new_immutable ();
    seqnn_columns_init_default (&keys);
    seqnn_record_reader_set_columns (reader, &keys, NULL); /* the default keys */
  }
  reader_restart (reader);
  return reader;
}

void
seqnn_record_reader_free (SeqnnRecordReader *reader)
{
  if (reader == NULL)
    return;
  g_free (reader->source_name);
  g_string_free (reader->label, TRUE);
  g_string_free (reader->text, TRUE);
  g_string_free (reader->buf, TRUE);
  clear_columns (reader);
  g_array_unref (reader->text_columns);
  g_array_unref (reader->bounds);
  g_array_unref (reader->row_bounds);
  g_string_free (reader->joined, TRUE);
  g_clear_object (&reader->json);
  g_free (reader);
}

/* Start state; the skipped count stays. */
static void
reader_restart (SeqnnRecordReader *reader)
{
  reader->bom_matched = 0;
  reader->past_start = FALSE;
  reader->line = 1;
  reader->pending_cr = FALSE;
  reader->state = CSV_RECORD_START;
  reader->n_fields = 0;
  reader->row_bad = FALSE;
  reader->record_line = reader->quote_line = 1;
  g_string_truncate (reader->label, 0);
  g_string_truncate (reader->text, 0);
  g_string_truncate (reader->buf, 0);
  g_array_set_size (reader->bounds, 0);
  reader->header_pending = reader->header_expected;
}

void
seqnn_record_reader_reset (SeqnnRecordReader *reader)
{
  g_return_if_fail (reader != NULL);
  reader_restart (reader);
  reader->n_skipped = 0;
}

void
seqnn_record_reader_set_whole_lines (SeqnnRecordReader *reader, gboolean whole_lines)
{
  g_return_if_fail (reader != NULL);
  reader->whole_lines = whole_lines && reader->format == SEQNN_FORMAT_TEXT;
  reader_restart (reader);
}

void
seqnn_record_reader_set_skip_bad (SeqnnRecordReader *reader, gboolean skip)
{
  g_return_if_fail (reader != NULL);
  reader->skip_bad = skip;
}

void
seqnn_record_reader_set_max_record_size (SeqnnRecordReader *reader, gsize max_bytes)
{
  g_return_if_fail (reader != NULL);
  reader->max_record = max_bytes > 0 ? max_bytes : SEQNN_RECORD_MAX_BYTES_DEFAULT;
}

/* ---- column layouts ---------------------------------------------------------------- */

void
seqnn_columns_init_default (SeqnnColumns *columns)
{
  g_return_if_fail (columns != NULL);
  columns->header = SEQNN_HEADER_AUTO;
  columns->label_column = NULL;
  columns->text_columns = NULL;
}

gboolean
seqnn_columns_is_set (const SeqnnColumns *columns)
{
  return columns != NULL && (columns->header == SEQNN_HEADER_YES
      || (columns->label_column != NULL && columns->label_column[0] != '\0')
      || (columns->text_columns != NULL && columns->text_columns[0] != '\0'));
}

/* One column as written (spaces around it dropped); FALSE for an empty one or 0. */
static gboolean
parse_column (const gchar *given, gboolean keys_only, ColumnSpec *spec, GError **error)
{
  gchar *name = g_strstrip (g_strdup (given));
  if (name[0] == '\0') {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "empty column in the column list");
    g_free (name);
    return FALSE;
  }
  gsize digits = strspn (name, "0123456789");
  spec->given = name;
  spec->named = keys_only || name[digits] != '\0';
  spec->index = 0;
  if (!spec->named) {
    guint64 number = g_ascii_strtoull (name, NULL, 10);
    if (number < 1 || number > G_MAXINT) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "column %s: columns are numbered from 1", name);
      g_free (name);
      spec->given = NULL;
      return FALSE;
    }
    spec->index = (guint) number - 1;
  }
  return TRUE;
}

static gboolean
check_columns_fit (SeqnnFormat format, const SeqnnColumns *columns, gboolean any_name,
    GError **error)
{
  if (format != SEQNN_FORMAT_CSV && format != SEQNN_FORMAT_TSV && format != SEQNN_FORMAT_JSONL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "the %s format has no header or columns (CSV, TSV and JSON Lines have)",
        format_names[format]);
    return FALSE;
  }
  if (format == SEQNN_FORMAT_JSONL && columns->header == SEQNN_HEADER_YES) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "JSON Lines has no header line (its columns are the objects' keys)");
    return FALSE;
  }
  if (any_name && columns->header == SEQNN_HEADER_NO) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "columns given by name need a header line, but header is off");
    return FALSE;
  }
  return TRUE;
}

gboolean
seqnn_record_reader_set_columns (SeqnnRecordReader *reader, const SeqnnColumns *columns,
    GError **error)
{
  if (reader == NULL || columns == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no reader or no columns");
    return FALSE;
  }
  gboolean jsonl = reader->format == SEQNN_FORMAT_JSONL;
  const gchar *label = columns->label_column;
  const gchar *texts = columns->text_columns;
  if (jsonl && (label == NULL || label[0] == '\0'))
    label = "label";
  if (jsonl && (texts == NULL || texts[0] == '\0'))
    texts = "text";
  clear_columns (reader);
  gboolean ok = TRUE, any_name = FALSE;
  if (label != NULL && label[0] != '\0') {
    ok = parse_column (label, jsonl, &reader->label_column, error);
    any_name = ok && reader->label_column.named;
  }
  gchar **items = texts != NULL && texts[0] != '\0' ? g_strsplit (texts, ",", -1) : NULL;
  for (guint i = 0; ok && items != NULL && items[i] != NULL; i++) {
    ColumnSpec spec;
    ok = parse_column (items[i], jsonl, &spec, error);
    if (ok) {
      any_name = any_name || spec.named;
      g_array_append_val (reader->text_columns, spec);
    }
  }
  g_strfreev (items);
  if (ok && seqnn_columns_is_set (columns))
    ok = check_columns_fit (reader->format, columns, any_name && !jsonl, error);
  if (!ok) {
    clear_columns (reader);
    reader->column_layout = jsonl;
    reader->header_expected = FALSE;
    reader_restart (reader);
    return FALSE;
  }
  reader->column_layout = jsonl || seqnn_columns_is_set (columns);
  reader->header_expected = !jsonl && (columns->header == SEQNN_HEADER_YES
      || (columns->header == SEQNN_HEADER_AUTO && any_name));
  reader_restart (reader);
  return TRUE;
}

gboolean
seqnn_columns_check (SeqnnFormat format, const SeqnnColumns *columns, GError **error)
{
  if ((guint) format >= G_N_ELEMENTS (format_names)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "unknown record format %d",
        (int) format);
    return FALSE;
  }
  SeqnnRecordReader *reader = seqnn_record_reader_new (format, NULL);
  gboolean ok = seqnn_record_reader_set_columns (reader, columns, error);
  seqnn_record_reader_free (reader);
  return ok;
}

/* A record over the size limit: an error even when skipping, as where it
 * ends is unknown (typically a stray quote). */
static gboolean
record_too_long (SeqnnRecordReader *reader, guint64 line, GError **error)
{
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE,
      "%s:%" G_GUINT64_FORMAT ": record longer than %" G_GSIZE_FORMAT " bytes%s",
      reader->source_name, line, reader->max_record,
      reader->format == SEQNN_FORMAT_CSV ? " (an unbalanced quote?)" : "");
  return FALSE;
}

guint64
seqnn_record_reader_get_n_skipped (const SeqnnRecordReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->n_skipped;
}

/* A bad row: counted when skipping (returns TRUE), else an error naming the line. */
static gboolean G_GNUC_PRINTF (4, 5)
bad_row (SeqnnRecordReader *reader, guint64 line, GError **error, const gchar *format, ...)
{
  if (reader->skip_bad) {
    reader->n_skipped++;
    return TRUE;
  }
  va_list args;
  va_start (args, format);
  gchar *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE, "%s:%" G_GUINT64_FORMAT ": %s",
      reader->source_name, line, message);
  g_free (message);
  return FALSE;
}

static gboolean
emit (SeqnnRecordReader *reader, const gchar *text, gsize text_len, const gchar *label,
    gsize label_len, guint64 line, SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  if (func == NULL)
    return TRUE;
  SeqnnRecord record = {
    .text = text, .text_len = text_len, .label = label, .label_len = label_len, .line = line,
    .column_layout = reader->column_layout, .raw = reader->raw, .raw_len = reader->raw_len,
  };
  GError *local = NULL;
  if (!func (&record, user_data, &local)) {
    if (local == NULL)
      local = g_error_new (SEQNN_ERROR, SEQNN_ERROR_CANCELLED, "%s:%" G_GUINT64_FORMAT
          ": stopped by the record callback", reader->source_name, line);
    g_propagate_error (error, local);
    return FALSE;
  }
  return TRUE;
}

/* ---- rows split into fields (CSV and TSV column layouts) ---------------------------- */

/* bounds[i] is where field i starts in base; a field ends sep bytes (its
 * separator: 1 for TSV's tab, 0 for CSV's unquoted fields) before the next
 * start, bounds[n_fields] being the start of a virtual field after the row. */
typedef struct {
  const gchar *base;
  const gsize *bounds;
  guint n_fields;
  guint sep;
} Row;

static inline const gchar *
row_field (const Row *row, guint i, gsize *len)
{
  *len = row->bounds[i + 1] - row->bounds[i] - row->sep;
  return row->base + row->bounds[i];
}

static gint
row_find (const Row *row, const gchar *name)
{
  gsize name_len = strlen (name);
  for (guint i = 0; i < row->n_fields; i++) {
    gsize len;
    const gchar *field = row_field (row, i, &len);
    if (len == name_len && memcmp (field, name, len) == 0)
      return (gint) i;
  }
  return -1;
}

static gboolean
resolve_name (SeqnnRecordReader *reader, const Row *row, ColumnSpec *spec, guint64 line,
    GError **error)
{
  if (!spec->named)
    return TRUE;
  gint index = row_find (row, spec->given);
  if (index >= 0) {
    spec->index = (guint) index;
    return TRUE;
  }
  GString *names = g_string_new (NULL);
  for (guint i = 0; i < row->n_fields; i++) {
    gsize len;
    const gchar *field = row_field (row, i, &len);
    g_string_append_printf (names, "%s\"%.*s\"", i > 0 ? ", " : "", (int) MIN (len, 64), field);
  }
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE,
      "%s:%" G_GUINT64_FORMAT ": the header has no column \"%s\" (its columns: %s)",
      reader->source_name, line, spec->given, names->str);
  g_string_free (names, TRUE);
  return FALSE;
}

/* The header row: named columns become indices. Not skippable: without it
 * no row can be read. */
static gboolean
read_header (SeqnnRecordReader *reader, const Row *row, guint64 line, GError **error)
{
  reader->header_pending = FALSE;
  if (reader->label_column.given != NULL
      && !resolve_name (reader, row, &reader->label_column, line, error))
    return FALSE;
  for (guint i = 0; i < reader->text_columns->len; i++)
    if (!resolve_name (reader, row, &g_array_index (reader->text_columns, ColumnSpec, i), line,
            error))
      return FALSE;
  return TRUE;
}

static gboolean
missing_column (SeqnnRecordReader *reader, const ColumnSpec *spec, const Row *row,
    guint64 line, GError **error)
{
  return bad_row (reader, line, error, "missing column %s%s%s (the row has %u)",
      spec->named ? "\"" : "", spec->given, spec->named ? "\"" : "", row->n_fields);
}

static gboolean
emit_row (SeqnnRecordReader *reader, const Row *row, guint64 line, SeqnnRecordFunc func,
    gpointer user_data, GError **error)
{
  if (reader->header_pending)
    return read_header (reader, row, line, error);
  const ColumnSpec *label_spec = &reader->label_column;
  guint label_index = label_spec->given != NULL ? label_spec->index : 0;
  if (label_index >= row->n_fields)
    return missing_column (reader, label_spec, row, line, error);
  gsize label_len, len;
  const gchar *label = row_field (row, label_index, &label_len);
  if (label_len == 0)
    return bad_row (reader, line, error, "missing label");
  GString *joined = reader->joined;
  g_string_truncate (joined, 0);
  if (reader->text_columns->len == 0) {
    if (row->n_fields < 2)
      return bad_row (reader, line, error, "missing text (only one column)");
    gboolean first = TRUE;
    for (guint i = 0; i < row->n_fields; i++) {
      if (i == label_index)
        continue;
      const gchar *field = row_field (row, i, &len);
      if (!first)
        g_string_append_c (joined, ' ');
      g_string_append_len (joined, field, (gssize) len);
      first = FALSE;
    }
  } else {
    for (guint i = 0; i < reader->text_columns->len; i++) {
      const ColumnSpec *spec = &g_array_index (reader->text_columns, ColumnSpec, i);
      if (spec->index >= row->n_fields)
        return missing_column (reader, spec, row, line, error);
      const gchar *field = row_field (row, spec->index, &len);
      if (i > 0)
        g_string_append_c (joined, ' ');
      g_string_append_len (joined, field, (gssize) len);
    }
  }
  return emit (reader, joined->str, joined->len, label, label_len, line, func, user_data, error);
}

/* ---- CSV ------------------------------------------------------------------------- */

static void
csv_start_record (SeqnnRecordReader *reader)
{
  reader->state = CSV_RECORD_START;
  reader->n_fields = 0;
  reader->row_bad = FALSE;
  g_string_truncate (reader->label, 0);
  g_string_truncate (reader->text, 0);
  g_array_set_size (reader->bounds, 0);
}

/* The current field's buffer: the label, or the text the others share; in a
 * column layout all fields share the text, split by bounds. */
static inline GString *
csv_field_target (SeqnnRecordReader *reader)
{
  return reader->n_fields == 1 && !reader->column_layout ? reader->label : reader->text;
}

static void
csv_begin_field (SeqnnRecordReader *reader)
{
  reader->n_fields++;
  if (reader->column_layout)
    g_array_append_val (reader->bounds, reader->text->len);
  else if (reader->n_fields >= 3)
    g_string_append_c (reader->text, ' ');
  reader->state = CSV_FIELD_START;
}

static gboolean
csv_emit_fields (SeqnnRecordReader *reader, SeqnnRecordFunc func, gpointer user_data,
    GError **error)
{
  g_array_append_val (reader->bounds, reader->text->len);
  Row row = { reader->text->str, (const gsize *) reader->bounds->data, reader->n_fields, 0 };
  return emit_row (reader, &row, reader->record_line, func, user_data, error);
}

static gboolean
csv_end_record (SeqnnRecordReader *reader, SeqnnRecordFunc func, gpointer user_data,
    GError **error)
{
  gboolean ok;
  if (G_UNLIKELY (reader->label->len + reader->text->len > reader->max_record))
    return record_too_long (reader, reader->record_line, error);
  if (reader->row_bad)
    ok = TRUE; /* already counted */
  else if (reader->column_layout)
    ok = csv_emit_fields (reader, func, user_data, error);
  else if (reader->label->len == 0)
    ok = bad_row (reader, reader->record_line, error, "missing label");
  else if (reader->n_fields < 2)
    ok = bad_row (reader, reader->record_line, error, "missing text (only one column)");
  else
    ok = emit (reader, reader->text->str, reader->text->len, reader->label->str,
        reader->label->len, reader->record_line, func, user_data, error);
  csv_start_record (reader);
  return ok;
}

/* A line break outside quotes (c is '\r' or '\n'). */
static gboolean
csv_line_break (SeqnnRecordReader *reader, guchar c, SeqnnRecordFunc func, gpointer user_data,
    GError **error)
{
  reader->line++;
  reader->pending_cr = c == '\r';
  switch (reader->state) {
    case CSV_RECORD_START: /* an empty line */
      return TRUE;
    default:
      return csv_end_record (reader, func, user_data, error);
  }
}

/* Bytes that end a run of field characters: 1 outside quotes (, \n \r),
 * 2 inside quotes (" \n \r). */
static const guint8 csv_stops[256] = {
  ['\n'] = 3, ['\r'] = 3, [','] = 1, ['"'] = 2,
};

static gboolean
csv_feed (SeqnnRecordReader *reader, const guchar *s, gsize len, SeqnnRecordFunc func,
    gpointer user_data, GError **error)
{
  gsize i = 0;
  while (i < len) {
    guchar c = s[i];
    if (reader->pending_cr) {
      /* the \n of a \r\n that ended a line */
      reader->pending_cr = FALSE;
      if (c == '\n') {
        i++;
        continue;
      }
    }
    switch (reader->state) {
      case CSV_RECORD_START:
        if (c == '\n' || c == '\r') {
          i++;
          if (!csv_line_break (reader, c, func, user_data, error))
            return FALSE;
          continue;
        }
        reader->record_line = reader->line;
        csv_begin_field (reader);
        continue;
      case CSV_FIELD_START:
        if (c == '"') {
          reader->state = CSV_QUOTED;
          reader->quote_line = reader->line;
          reader->quoted_cr = FALSE;
          i++;
        } else {
          reader->state = CSV_UNQUOTED;
        }
        continue;
      case CSV_UNQUOTED: {
        gsize run = i;
        while (i < len && !(csv_stops[s[i]] & 1))
          i++;
        g_string_append_len (csv_field_target (reader), (const gchar *) s + run, (gssize) (i - run));
        if (G_UNLIKELY (reader->label->len + reader->text->len > reader->max_record))
          return record_too_long (reader, reader->record_line, error);
        if (i == len)
          return TRUE;
        c = s[i++];
        if (c == ',')
          csv_begin_field (reader);
        else if (!csv_line_break (reader, c, func, user_data, error))
          return FALSE;
        continue;
      }
      case CSV_QUOTED: {
        gsize run = i;
        while (i < len && !(csv_stops[s[i]] & 2))
          i++;
        GString *target = csv_field_target (reader);
        if (i > run) {
          g_string_append_len (target, (const gchar *) s + run, (gssize) (i - run));
          reader->quoted_cr = FALSE;
          if (G_UNLIKELY (reader->label->len + reader->text->len > reader->max_record))
            return record_too_long (reader, reader->record_line, error);
        }
        if (i == len)
          return TRUE;
        c = s[i++];
        if (c == '"') {
          reader->state = CSV_QUOTE_IN_QUOTED;
        } else {
          /* line breaks inside quotes are kept; \r\n is one line */
          g_string_append_c (target, (gchar) c);
          if (!(c == '\n' && reader->quoted_cr))
            reader->line++;
          reader->quoted_cr = c == '\r';
        }
        continue;
      }
      case CSV_QUOTE_IN_QUOTED:
        if (c == '"') {
          g_string_append_c (csv_field_target (reader), '"');
          reader->state = CSV_QUOTED;
          reader->quoted_cr = FALSE;
          i++;
        } else if (c == ',') {
          csv_begin_field (reader);
          i++;
        } else if (c == '\n' || c == '\r') {
          i++;
          if (!csv_line_break (reader, c, func, user_data, error))
            return FALSE;
        } else {
          if (!reader->row_bad
              && !bad_row (reader, reader->line, error, "unexpected character after a closing quote"))
            return FALSE;
          /* skipping: on to the row's end as Python's lenient mode reads it */
          reader->row_bad = TRUE;
          reader->state = CSV_UNQUOTED;
        }
        continue;
    }
  }
  return TRUE;
}

static gboolean
csv_finish (SeqnnRecordReader *reader, SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  switch (reader->state) {
    case CSV_RECORD_START:
      return TRUE;
    case CSV_QUOTED: {
      guint64 line = reader->quote_line;
      gboolean counted = reader->row_bad;
      csv_start_record (reader);
      return counted || bad_row (reader, line, error, "unterminated quote at the end of the input");
    }
    default:
      return csv_end_record (reader, func, user_data, error);
  }
}

/* ---- line formats ------------------------------------------------------------------- */

static inline gboolean
is_blank (gchar c)
{
  return c == ' ' || c == '\t';
}

/* A JSON Lines value that is a string, as the text or the label. */
static gboolean
jsonl_string (SeqnnRecordReader *reader, JsonObject *object, const gchar *key, gboolean label,
    gchar number[24], const gchar **value, guint64 line_no, GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  if (node == NULL)
    return bad_row (reader, line_no, error, "missing column \"%s\"", key);
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING) {
    *value = json_node_get_string (node);
    return TRUE;
  }
  if (label && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64) {
    g_snprintf (number, 24, "%" G_GINT64_FORMAT, json_node_get_int (node));
    *value = number;
    return TRUE;
  }
  return bad_row (reader, line_no, error, "column \"%s\" is not a string%s", key,
      label ? " or an integer" : "");
}

static gboolean
jsonl_line (SeqnnRecordReader *reader, const gchar *line, gsize len, guint64 line_no,
    SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  if (!g_utf8_validate_len (line, len, NULL))
    return bad_row (reader, line_no, error, "not valid UTF-8");
  GError *parse_error = NULL;
  if (!json_parser_load_from_data (reader->json, line, (gssize) len, &parse_error)) {
    gboolean ok = bad_row (reader, line_no, error, "not valid JSON (%s)", parse_error->message);
    g_error_free (parse_error);
    return ok;
  }
  JsonNode *root = json_parser_get_root (reader->json);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return bad_row (reader, line_no, error, "not a JSON object");
  JsonObject *object = json_node_get_object (root);
  gchar number[24];
  const gchar *label = NULL, *text;
  if (!jsonl_string (reader, object, reader->label_column.given, TRUE, number, &label, line_no,
          error))
    return FALSE;
  if (label == NULL) /* bad row, skipped */
    return TRUE;
  if (label[0] == '\0')
    return bad_row (reader, line_no, error, "missing label");
  GString *joined = reader->joined;
  g_string_truncate (joined, 0);
  for (guint i = 0; i < reader->text_columns->len; i++) {
    text = NULL;
    if (!jsonl_string (reader, object, g_array_index (reader->text_columns, ColumnSpec, i).given,
            FALSE, number, &text, line_no, error))
      return FALSE;
    if (text == NULL)
      return TRUE;
    if (i > 0)
      g_string_append_c (joined, ' ');
    g_string_append (joined, text);
  }
  return emit (reader, joined->str, joined->len, label, strlen (label), line_no, func, user_data,
      error);
}

static gboolean
tsv_emit_fields (SeqnnRecordReader *reader, const gchar *line, gsize len, guint64 line_no,
    SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  GArray *bounds = reader->row_bounds;
  g_array_set_size (bounds, 0);
  gsize start = 0;
  g_array_append_val (bounds, start);
  for (gsize i = 0; i < len; i++)
    if (line[i] == '\t') {
      gsize next = i + 1;
      g_array_append_val (bounds, next);
    }
  gsize end = len + 1; /* as if a tab ended the line */
  g_array_append_val (bounds, end);
  Row row = { line, (const gsize *) bounds->data, bounds->len - 1, 1 };
  return emit_row (reader, &row, line_no, func, user_data, error);
}

/* Whole lines: the line as read (terminated: a \n follows line[len - 1]). */
static gboolean
whole_line (SeqnnRecordReader *reader, const gchar *line, gsize len, gboolean terminated,
    SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  guint64 line_no = reader->line++;
  const gchar *text = line;
  gsize text_len = len;
  if (text_len > 0 && text[text_len - 1] == '\r')
    text_len--;
  /* Only a BOM at the very start of the input is not part of the first word. */
  if (line_no == 1 && text_len >= 3 && memcmp (text, utf8_bom, 3) == 0) {
    text += 3;
    text_len -= 3;
  }
  reader->raw = line;
  reader->raw_len = len + (terminated ? 1 : 0);
  gboolean ok = emit (reader, text, text_len, NULL, 0, line_no, func, user_data, error);
  reader->raw = NULL;
  reader->raw_len = 0;
  return ok;
}

static gboolean
process_line (SeqnnRecordReader *reader, const gchar *line, gsize len, gboolean terminated,
    SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  if (reader->whole_lines)
    return whole_line (reader, line, len, terminated, func, user_data, error);
  guint64 line_no = reader->line++;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len == 0)
    return TRUE;
  const gchar *end = line + len;
  switch (reader->format) {
    case SEQNN_FORMAT_TEXT:
      return emit (reader, line, len, NULL, 0, line_no, func, user_data, error);
    case SEQNN_FORMAT_TSV: {
      if (reader->column_layout)
        return tsv_emit_fields (reader, line, len, line_no, func, user_data, error);
      const gchar *tab = memchr (line, '\t', len);
      if (tab == NULL)
        return bad_row (reader, line_no, error, "missing text (no tab after the label)");
      if (tab == line)
        return bad_row (reader, line_no, error, "missing label");
      return emit (reader, tab + 1, (gsize) (end - tab - 1), line, (gsize) (tab - line), line_no,
          func, user_data, error);
    }
    case SEQNN_FORMAT_FASTTEXT: {
      static const gchar prefix[] = "__label__";
      const gsize prefix_len = sizeof prefix - 1;
      const gchar *p = line, *label = NULL;
      gsize label_len = 0;
      while (p < end && is_blank (*p))
        p++;
      while ((gsize) (end - p) >= prefix_len && memcmp (p, prefix, prefix_len) == 0) {
        const gchar *name = p + prefix_len;
        p = name;
        while (p < end && !is_blank (*p))
          p++;
        if (label == NULL) {
          label = name;
          label_len = (gsize) (p - name);
        }
        while (p < end && is_blank (*p))
          p++;
      }
      if (label == NULL)
        return bad_row (reader, line_no, error, "missing label (no __label__ prefix)");
      if (label_len == 0)
        return bad_row (reader, line_no, error, "missing label (empty __label__)");
      if (p == end)
        return bad_row (reader, line_no, error, "missing text");
      return emit (reader, p, (gsize) (end - p), label, label_len, line_no, func, user_data, error);
    }
    case SEQNN_FORMAT_JSONL:
      return jsonl_line (reader, line, len, line_no, func, user_data, error);
    default:
      g_assert_not_reached ();
  }
  return FALSE;
}

static gboolean
lines_feed (SeqnnRecordReader *reader, const guchar *s, gsize len, SeqnnRecordFunc func,
    gpointer user_data, GError **error)
{
  const gchar *p = (const gchar *) s, *end = p + len;
  while (p < end) {
    const gchar *nl = memchr (p, '\n', (gsize) (end - p));
    if (nl == NULL) {
      g_string_append_len (reader->buf, p, end - p);
      if (G_UNLIKELY (reader->buf->len > reader->max_record))
        return record_too_long (reader, reader->line, error);
      return TRUE;
    }
    if (G_UNLIKELY (reader->buf->len + (gsize) (nl - p) > reader->max_record))
      return record_too_long (reader, reader->line, error);
    gboolean ok;
    if (reader->buf->len == 0) {
      ok = process_line (reader, p, (gsize) (nl - p), TRUE, func, user_data, error);
    } else {
      /* the \n too, so that a whole line's raw bytes are contiguous */
      g_string_append_len (reader->buf, p, nl - p + 1);
      ok = process_line (reader, reader->buf->str, reader->buf->len - 1, TRUE, func, user_data,
          error);
      g_string_truncate (reader->buf, 0);
    }
    if (!ok)
      return FALSE;
    p = nl + 1;
  }
  return TRUE;
}

static gboolean
lines_finish (SeqnnRecordReader *reader, SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  if (reader->buf->len == 0)
    return TRUE;
  gboolean ok = process_line (reader, reader->buf->str, reader->buf->len, FALSE, func, user_data,
      error);
  g_string_truncate (reader->buf, 0);
  return ok;
}

/* ---- entry points ------------------------------------------------------------------- */

static gboolean
feed_body (SeqnnRecordReader *reader, const guchar *s, gsize len, SeqnnRecordFunc func,
    gpointer user_data, GError **error)
{
  if (reader->format == SEQNN_FORMAT_CSV)
    return csv_feed (reader, s, len, func, user_data, error);
  return lines_feed (reader, s, len, func, user_data, error);
}

gboolean
seqnn_record_reader_feed (SeqnnRecordReader *reader, const gchar *data, gsize len,
    SeqnnRecordFunc func, gpointer user_data, GError **error)
{
  if (reader == NULL || (data == NULL && len > 0)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no reader or no data");
    return FALSE;
  }
  if (len == 0)
    return TRUE; /* data may be NULL: no pointer arithmetic on it */
  const guchar *s = (const guchar *) data;
  /* Whole lines keep a BOM in the first line's raw bytes (whole_line skips it). */
  if (!reader->past_start && !reader->whole_lines) {
    /* the BOM may itself arrive in pieces */
    while (len > 0 && reader->bom_matched < 3 && s[0] == utf8_bom[reader->bom_matched]) {
      reader->bom_matched++;
      s++;
      len--;
    }
    if (reader->bom_matched == 3) {
      reader->past_start = TRUE;
    } else if (len > 0) {
      reader->past_start = TRUE;
      if (reader->bom_matched > 0
          && !feed_body (reader, utf8_bom, reader->bom_matched, func, user_data, error))
        return FALSE;
    } else {
      return TRUE;
    }
  }
  return feed_body (reader, s, len, func, user_data, error);
}

gboolean
seqnn_record_reader_finish (SeqnnRecordReader *reader, SeqnnRecordFunc func,
    gpointer user_data, GError **error)
{
  if (reader == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no reader");
    return FALSE;
  }
  gboolean ok = TRUE;
  if (!reader->past_start && reader->bom_matched > 0 && reader->bom_matched < 3)
    ok = feed_body (reader, utf8_bom, reader->bom_matched, func, user_data, error);
  if (ok) {
    if (reader->format == SEQNN_FORMAT_CSV)
      ok = csv_finish (reader, func, user_data, error);
    else
      ok = lines_finish (reader, func, user_data, error);
  }
  reader_restart (reader);
  return ok;
}
