/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: the streaming record readers, every format, and label
 * resolution of what they read.
 * Input: byte 0 the format (low 4 bits, modulo the number of formats), bit 4
 * skip bad rows, bit 5 a small record size limit (byte 1 + 1 bytes), bit 6
 * whole lines (seqnn_record_reader_set_whole_lines); byte 2
 * the number of piece lengths that follow (modulo 16); then those lengths
 * (bytes, used in turn; 0 feeds an empty piece as (NULL, 0)); the rest is
 * the input.
 * Checked: the input fed whole and fed in those pieces gives the same records,
 * the same error and the same skipped count; a finished reader reads the input
 * again the same way; labels resolve without crashing; with whole lines, a
 * text input read to its end comes back byte for byte from the raw records. */
#include <seqnn/dataset.h>
#include "fuzz.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

typedef struct {
  SeqnnFormat format;
  GString *out;         /* every record, then the outcome */
  SeqnnLabelSet *labels; /* NULL: do not resolve */
  GString *raw;         /* the records' raw bytes, joined */
} Collect;

static gboolean
collect (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  Collect *c = user_data;
  fuzz_check (record->text != NULL || record->text_len == 0, "record without text");
  fuzz_check ((record->label == NULL) == (c->format == SEQNN_FORMAT_TEXT), "label presence");
  g_string_append_printf (c->out, "%" G_GUINT64_FORMAT " %" G_GSIZE_FORMAT ":", record->line,
      record->label_len);
  if (record->label != NULL)
    g_string_append_len (c->out, record->label, (gssize) record->label_len);
  g_string_append_printf (c->out, " %" G_GSIZE_FORMAT ":", record->text_len);
  g_string_append_len (c->out, record->text, (gssize) record->text_len);
  g_string_append_c (c->out, '\n');
  fuzz_check (record->raw != NULL || record->raw_len == 0, "raw length without raw bytes");
  if (record->raw != NULL)
    g_string_append_len (c->raw, record->raw, (gssize) record->raw_len);
  if (c->labels != NULL) {
    GError *local = NULL;
    gint id = seqnn_label_set_resolve (c->labels, c->format, record, TRUE, "fuzz", &local);
    fuzz_check ((id < 0) == (local != NULL) || c->format == SEQNN_FORMAT_TEXT,
        "resolve: an id with an error, or neither");
    fuzz_check (id < (gint) seqnn_label_set_get_n (c->labels), "resolved id out of the set");
    g_clear_error (&local);
  }
  return TRUE;
}

static void
note_outcome (GString *out, gboolean ok, GError *error)
{
  fuzz_check (ok == (error == NULL), "failure without an error, or an error with success");
  if (error != NULL) {
    fuzz_check (error->domain == SEQNN_ERROR && error->code == SEQNN_ERROR_PARSE,
        "reader error not SEQNN_ERROR_PARSE");
    g_string_append_printf (out, "ERROR %s\n", error->message);
  } else {
    g_string_append (out, "OK\n");
  }
}

/* Feeds input in pieces of the given lengths, in turn (none: whole). */
static void
read_input (SeqnnRecordReader *reader, Collect *c, const gchar *input, gsize len,
    const guint8 *lengths, guint n_lengths)
{
  GError *error = NULL;
  gboolean ok = TRUE;
  gsize at = 0;
  for (guint k = 0; ok && at < len; k++) {
    gsize piece = n_lengths == 0 ? len - at : MIN ((gsize) lengths[k % n_lengths], len - at);
    /* each piece through its own copy, so ASan sees any read past it */
    gchar *copy = piece > 0 ? g_memdup2 (input + at, piece) : NULL;
    ok = seqnn_record_reader_feed (reader, copy, piece, collect, c, &error);
    g_free (copy);
    at += piece;
    if (n_lengths > 0 && k > len + n_lengths) /* only zero lengths: give the rest whole */
      n_lengths = 0;
  }
  if (ok)
    ok = seqnn_record_reader_finish (reader, collect, c, &error);
  note_outcome (c->out, ok, error);
  g_clear_error (&error);
}

static guint
n_formats (void)
{
  guint n = 0;
  while (seqnn_format_to_string ((SeqnnFormat) n) != NULL)
    n++;
  return n;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 3)
    return 0;
  SeqnnFormat format = (SeqnnFormat) ((data[0] & 0x0f) % n_formats ());
  gboolean skip_bad = (data[0] & 0x10) != 0;
  gsize max_record = (data[0] & 0x20) != 0 ? (gsize) data[1] + 1 : 0;
  gboolean whole_lines = (data[0] & 0x40) != 0;
  guint n_lengths = data[2] % 16;
  if (size < 3 + (gsize) n_lengths)
    return 0;
  const guint8 *lengths = data + 3;
  const gchar *input = (const gchar *) data + 3 + n_lengths;
  gsize len = size - 3 - n_lengths;

  SeqnnRecordReader *whole_reader = seqnn_record_reader_new (format, "fuzz");
  SeqnnRecordReader *pieces_reader = seqnn_record_reader_new (format, "fuzz");
  seqnn_record_reader_set_skip_bad (whole_reader, skip_bad);
  seqnn_record_reader_set_skip_bad (pieces_reader, skip_bad);
  seqnn_record_reader_set_max_record_size (whole_reader, max_record);
  seqnn_record_reader_set_max_record_size (pieces_reader, max_record);
  seqnn_record_reader_set_whole_lines (whole_reader, whole_lines);
  seqnn_record_reader_set_whole_lines (pieces_reader, whole_lines);

  Collect whole = { format, g_string_new (NULL), seqnn_label_set_new (), g_string_new (NULL) };
  Collect pieces = { format, g_string_new (NULL), NULL, g_string_new (NULL) };
  read_input (whole_reader, &whole, input, len, NULL, 0);
  read_input (pieces_reader, &pieces, input, len, lengths, n_lengths);
  fuzz_check (g_string_equal (whole.out, pieces.out),
      "records depend on where the input is cut");
  guint64 skipped = seqnn_record_reader_get_n_skipped (whole_reader);
  fuzz_check (skipped == seqnn_record_reader_get_n_skipped (pieces_reader),
      "skipped count depends on where the input is cut");

  /* finish leaves the reader at its start (after an error, reset is needed) */
  /* records may hold NUL bytes: compare lengths and bytes, never C strings */
  gboolean read_ok = whole.out->len >= 3
      && memcmp (whole.out->str + whole.out->len - 3, "OK\n", 3) == 0;
  if (read_ok && whole_lines && format == SEQNN_FORMAT_TEXT)
    fuzz_check (whole.raw->len == len && memcmp (whole.raw->str, input, len) == 0,
        "whole lines: the raw records are not the input");
  fuzz_check (g_string_equal (whole.raw, pieces.raw), "raw records depend on where the input is cut");
  if (read_ok) {
    Collect again = { format, g_string_new (NULL), NULL, g_string_new (NULL) };
    read_input (whole_reader, &again, input, len, NULL, 0);
    fuzz_check (g_string_equal (whole.out, again.out), "a finished reader reads differently");
    fuzz_check (seqnn_record_reader_get_n_skipped (whole_reader) == 2 * skipped,
        "skipped count not kept across finish");
    g_string_free (again.out, TRUE);
    g_string_free (again.raw, TRUE);
  }
  seqnn_record_reader_reset (pieces_reader);
  fuzz_check (seqnn_record_reader_get_n_skipped (pieces_reader) == 0, "reset kept the skipped count");

  g_string_free (whole.out, TRUE);
  g_string_free (pieces.out, TRUE);
  g_string_free (whole.raw, TRUE);
  g_string_free (pieces.raw, TRUE);
  seqnn_label_set_free (whole.labels);
  seqnn_record_reader_free (whole_reader);
  seqnn_record_reader_free (pieces_reader);
  return 0;
}
