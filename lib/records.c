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
 * A UTF-8 byte order mark at the start of the input is skipped in all formats. */
#include <string.h>
#include "seqnn/dataset.h"

static const gchar *const format_names[] = { "text", "csv", "tsv", "fasttext" };

const gchar *
seqnn_format_to_string (SeqnnFormat format)
{
  if ((guint) format >= G_N_ELEMENTS (format_names))
    return NULL;
  return format_names[format];
}

gboolean
seqnn_format_from_string (const gchar *str, SeqnnFormat *format)
{
  if (str == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (format_names); i++) {
    if (g_ascii_strcasecmp (str, format_names[i]) == 0) {
      if (format != NULL)
        *format = (SeqnnFormat) i;
      return TRUE;
    }
  }
  return FALSE;
}

typedef enum {
  CSV_RECORD_START, /* nothing of the record seen yet */
  CSV_FIELD_START,  /* after a comma */
  CSV_UNQUOTED,
  CSV_QUOTED,
  CSV_QUOTE_IN_QUOTED, /* a quote inside quotes: "" or the closing one */
} CsvState;

struct _SeqnnRecordReader {
  SeqnnFormat format;
  gchar *source_name;
  gboolean skip_bad;
  guint64 n_skipped;
  gsize max_record;

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
};

static const guchar utf8_bom[3] = { 0xEF, 0xBB, 0xBF };

static void reader_restart (SeqnnRecordReader *reader);

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
  reader->max_record = SEQNN_RECORD_MAX_BYTES_DEFAULT;
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
}

void
seqnn_record_reader_reset (SeqnnRecordReader *reader)
{
  g_return_if_fail (reader != NULL);
  reader_restart (reader);
  reader->n_skipped = 0;
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

/* ---- CSV ------------------------------------------------------------------------- */

static void
csv_start_record (SeqnnRecordReader *reader)
{
  reader->state = CSV_RECORD_START;
  reader->n_fields = 0;
  reader->row_bad = FALSE;
  g_string_truncate (reader->label, 0);
  g_string_truncate (reader->text, 0);
}

/* The current field's buffer: the label, or the text the others share. */
static inline GString *
csv_field_target (SeqnnRecordReader *reader)
{
  return reader->n_fields == 1 ? reader->label : reader->text;
}

static void
csv_begin_field (SeqnnRecordReader *reader)
{
  reader->n_fields++;
  if (reader->n_fields >= 3)
    g_string_append_c (reader->text, ' ');
  reader->state = CSV_FIELD_START;
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

static gboolean
process_line (SeqnnRecordReader *reader, const gchar *line, gsize len, SeqnnRecordFunc func,
    gpointer user_data, GError **error)
{
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
      ok = process_line (reader, p, (gsize) (nl - p), func, user_data, error);
    } else {
      g_string_append_len (reader->buf, p, nl - p);
      ok = process_line (reader, reader->buf->str, reader->buf->len, func, user_data, error);
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
  gboolean ok = process_line (reader, reader->buf->str, reader->buf->len, func, user_data, error);
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
  const guchar *s = (const guchar *) data;
  if (!reader->past_start) {
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
