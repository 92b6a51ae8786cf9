/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Record readers (CSV as Python's csv module reads AG News, TSV, fastText,
 * text): every input is also fed cut at every byte position and byte by
 * byte, and must give the same records and the same error. Label sets. */
#include <string.h>
#include <glib/gstdio.h>
#include <seqnn/dataset.h>

/* The readers' record size limit (0: the default). */
static gsize test_max_record = 0;
/* The column layout the readers get (NULL: the format's default). */
static const SeqnnColumns *test_columns = NULL;
/* Readers set to whole lines (records then also show their raw bytes). */
static gboolean whole_lines = FALSE;

/* "line|label|text" per record, label "-" when none; or "ERROR <message>". */
static gboolean
collect (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  GPtrArray *out = user_data;
  gchar *label = record->label != NULL ? g_strndup (record->label, record->label_len) : g_strdup ("-");
  gchar *text = g_strndup (record->text, record->text_len);
  g_assert_cmpuint (strlen (text), ==, record->text_len);
  if (record->raw != NULL) {
    gchar *raw = g_strndup (record->raw, record->raw_len);
    g_assert_cmpuint (strlen (raw), ==, record->raw_len);
    g_ptr_array_add (out, g_strdup_printf ("%" G_GUINT64_FORMAT "|%s|%s|raw=%s", record->line,
        label, text, raw));
    g_free (raw);
  } else {
    g_ptr_array_add (out, g_strdup_printf ("%" G_GUINT64_FORMAT "|%s|%s", record->line, label,
        text));
  }
  g_free (label);
  g_free (text);
  return TRUE;
}

/* Reads input fed in the pieces that cuts (sorted offsets) give. */
static gchar *
read_pieces (SeqnnFormat format, const gchar *input, gsize len, const gsize *cuts, guint n_cuts,
    gboolean skip_bad, guint64 *n_skipped)
{
  SeqnnRecordReader *reader = seqnn_record_reader_new (format, "t.csv");
  seqnn_record_reader_set_skip_bad (reader, skip_bad);
  seqnn_record_reader_set_max_record_size (reader, test_max_record);
  seqnn_record_reader_set_whole_lines (reader, whole_lines);
  if (test_columns != NULL)
    g_assert_true (seqnn_record_reader_set_columns (reader, test_columns, NULL));
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GError *error = NULL;
  gsize at = 0;
  gboolean ok = TRUE;
  for (guint i = 0; i <= n_cuts && ok; i++) {
    gsize end = i < n_cuts ? cuts[i] : len;
    /* each piece through its own copy, so valgrind sees any overread */
    gchar *piece = g_memdup2 (input + at, end - at);
    ok = seqnn_record_reader_feed (reader, piece, end - at, collect, out, &error);
    g_free (piece);
    at = end;
  }
  if (ok)
    ok = seqnn_record_reader_finish (reader, collect, out, &error);
  if (!ok) {
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE);
    g_ptr_array_add (out, g_strdup_printf ("ERROR %s", error->message));
    g_error_free (error);
  }
  if (n_skipped != NULL)
    *n_skipped = seqnn_record_reader_get_n_skipped (reader);
  seqnn_record_reader_free (reader);
  g_ptr_array_add (out, NULL);
  gchar *joined = g_strjoinv ("\n", (gchar **) out->pdata);
  g_ptr_array_unref (out);
  return joined;
}

/* Checks input against expected (records joined by \n) whole, in two pieces
 * cut at every position, and byte by byte. */
static void
check_records_full (SeqnnFormat format, const gchar *input, gssize input_len, gboolean skip_bad,
    const gchar *expected, guint64 expected_skipped)
{
  gsize len = input_len < 0 ? strlen (input) : (gsize) input_len;
  guint64 skipped = 0;
  gchar *whole = read_pieces (format, input, len, NULL, 0, skip_bad, &skipped);
  g_assert_cmpstr (whole, ==, expected);
  g_assert_cmpuint (skipped, ==, expected_skipped);
  for (gsize cut = 0; cut <= len; cut++) {
    gchar *got = read_pieces (format, input, len, &cut, 1, skip_bad, &skipped);
    if (strcmp (got, expected) != 0)
      g_test_message ("cut at byte %" G_GSIZE_FORMAT, cut);
    g_assert_cmpstr (got, ==, expected);
    g_assert_cmpuint (skipped, ==, expected_skipped);
    g_free (got);
  }
  gsize *cuts = g_new (gsize, len + 1);
  for (gsize i = 0; i < len; i++)
    cuts[i] = i + 1;
  gchar *bytewise = read_pieces (format, input, len, cuts, (guint) len, skip_bad, &skipped);
  g_assert_cmpstr (bytewise, ==, expected);
  g_assert_cmpuint (skipped, ==, expected_skipped);
  g_free (bytewise);
  g_free (cuts);
  g_free (whole);
}

static void
check_records (SeqnnFormat format, const gchar *input, const gchar *expected)
{
  check_records_full (format, input, -1, FALSE, expected, 0);
}

static void
test_csv_basic (void)
{
  /* AG News rows: backslashes are plain characters, columns joined by a space */
  check_records (SEQNN_FORMAT_CSV,
      "\"3\",\"Wall St. Bears\",\"Reuters - Short-sellers, Wall Street's dwindling\\band\"\n"
      "\"1\",\"T\",\"D\"\n",
      "1|3|Wall St. Bears Reuters - Short-sellers, Wall Street's dwindling\\band\n2|1|T D");
  check_records (SEQNN_FORMAT_CSV, "\"3\",\"a\\\",\"b\\n #36;\"",
      "1|3|a\\ b\\n #36;");
  /* doubled quotes, no final newline */
  check_records (SEQNN_FORMAT_CSV, "\"2\",\"He said \"\"hi\"\"\",\"\"\"x\"\"\"",
      "1|2|He said \"hi\" \"x\"");
  /* unquoted and empty fields, more columns, a quote inside an unquoted field */
  check_records (SEQNN_FORMAT_CSV, "4,,desc\n4,title,\n4,\"\",\"\"\n1,a,b,c\n1,ab\"c,d\n",
      "1|4| desc\n2|4|title \n3|4| \n4|1|a b c\n5|1|ab\"c d");
  /* the first column is the label even if quoted with spaces */
  check_records (SEQNN_FORMAT_CSV, " 3 ,x", "1| 3 |x");
}

static void
test_csv_line_breaks (void)
{
  /* line breaks inside quotes are kept and counted; \r\n, lone \r, empty lines */
  check_records (SEQNN_FORMAT_CSV, "\"1\",\"a\nb\",\"c\r\nd\"\r\n\"2\",\"e\",f\r\n",
      "1|1|a\nb c\r\nd\n4|2|e f");
  check_records (SEQNN_FORMAT_CSV, "1,a,b\r2,c,d\r\n\r\n3,e,f", "1|1|a b\n2|2|c d\n4|3|e f");
  check_records (SEQNN_FORMAT_CSV, "\n\n1,a,b\n\n\r\n", "3|1|a b");
  check_records (SEQNN_FORMAT_CSV, "1,\"x\r\r\ny\",z\n2,w,v", "1|1|x\r\r\ny z\n4|2|w v");
  check_records (SEQNN_FORMAT_CSV, "", "");
  check_records (SEQNN_FORMAT_CSV, "\r\n", "");
}

static void
test_csv_bom (void)
{
  check_records (SEQNN_FORMAT_CSV, "\xef\xbb\xbf\"1\",\"x\",\"y\"\n", "1|1|x y");
  check_records (SEQNN_FORMAT_CSV, "\xef\xbb\xbf", "");
  /* only at the very start */
  check_records (SEQNN_FORMAT_CSV, "1,a,b\n\xef\xbb\xbf" "2,c,d", "1|1|a b\n2|\xef\xbb\xbf" "2|c d");
}

static void
test_csv_errors (void)
{
  check_records (SEQNN_FORMAT_CSV, "1,a,b\n2,\"open\nmore\n",
      "1|1|a b\nERROR t.csv:2: unterminated quote at the end of the input");
  check_records (SEQNN_FORMAT_CSV, "1,a,b\n\n,a,b\n", "1|1|a b\nERROR t.csv:3: missing label");
  check_records (SEQNN_FORMAT_CSV, "\"\",a\n", "ERROR t.csv:1: missing label");
  check_records (SEQNN_FORMAT_CSV, "1,a\n3\n",
      "1|1|a\nERROR t.csv:2: missing text (only one column)");
  check_records (SEQNN_FORMAT_CSV, "1,\"a\nb\"x,b\n",
      "ERROR t.csv:2: unexpected character after a closing quote");
  check_records (SEQNN_FORMAT_CSV, "1,\"a\" ,b\n",
      "ERROR t.csv:1: unexpected character after a closing quote");
}

static void
test_csv_skip_bad (void)
{
  check_records_full (SEQNN_FORMAT_CSV,
      "1,a,b\n,x,y\n2,\"q\"z,w\n3\n4,c,d\n5,\"unterminated\nline", -1, TRUE,
      "1|1|a b\n5|4|c d", 4);
  /* a skipped row ends where Python's lenient mode ends it, quotes and all */
  check_records_full (SEQNN_FORMAT_CSV, "1,\"a\"x,\"b\nc\"\n2,d,e\n3,\"\"y\"z\n", -1, TRUE,
      "3|2|d e", 2);
}

static void
test_line_formats (void)
{
  check_records (SEQNN_FORMAT_TSV, "World\tSome text\twith tab\r\nSports\tb\n\nx\t\n",
      "1|World|Some text\twith tab\n2|Sports|b\n4|x|");
  check_records (SEQNN_FORMAT_TSV, "a\tb\n\tno label\n", "1|a|b\nERROR t.csv:2: missing label");
  check_records (SEQNN_FORMAT_TSV, "nolabeltab\n",
      "ERROR t.csv:1: missing text (no tab after the label)");
  check_records_full (SEQNN_FORMAT_TSV, "\tx\ny\nok\tfine", -1, TRUE, "3|ok|fine", 2);

  check_records (SEQNN_FORMAT_FASTTEXT,
      "__label__sports __label__x Hello world\n__label__a\ttab text\r\n  __label__b  lead\n",
      "1|sports|Hello world\n2|a|tab text\n3|b|lead");
  check_records (SEQNN_FORMAT_FASTTEXT, "no label\n",
      "ERROR t.csv:1: missing label (no __label__ prefix)");
  check_records (SEQNN_FORMAT_FASTTEXT, "__label__ x\n",
      "ERROR t.csv:1: missing label (empty __label__)");
  check_records (SEQNN_FORMAT_FASTTEXT, "__label__c  \n", "ERROR t.csv:1: missing text");
  check_records_full (SEQNN_FORMAT_FASTTEXT, "no label\n__label__ x\n__label__c\n__label__d d", -1,
      TRUE, "4|d|d", 3);

  check_records (SEQNN_FORMAT_TEXT, "\xef\xbb\xbfline one\r\n\r\nline two\r",
      "1|-|line one\n3|-|line two");
  /* a partial BOM is text */
  check_records (SEQNN_FORMAT_TEXT, "\xef\xbb" "abc\n\xef", "1|-|\xef\xbb" "abc\n2|-|\xef");
  check_records (SEQNN_FORMAT_TEXT, "a \"quoted\", text\n", "1|-|a \"quoted\", text");
}

/* Whole lines (seqtokenize's text from a byte stream): every line is a
 * record, empty ones too, and the raw bytes put back together are the input. */
static void
test_whole_lines (void)
{
  static const struct {
    SeqnnFormat format;
    const gchar *input;
    const gchar *expected;
  } cases[] = {
    { SEQNN_FORMAT_TEXT, "one\n\ntwo\r\n  \nlast",
      "1|-|one|raw=one\n\n2|-||raw=\n\n3|-|two|raw=two\r\n\n4|-|  |raw=  \n\n5|-|last|raw=last" },
    /* the BOM stays in the first line's raw bytes, out of its text; a later one is text */
    { SEQNN_FORMAT_TEXT, "\xef\xbb\xbf" "Caf\xc3\xa9\n\xef\xbb\xbf" "x\n",
      "1|-|Caf\xc3\xa9|raw=\xef\xbb\xbf" "Caf\xc3\xa9\n\n2|-|\xef\xbb\xbf" "x|raw=\xef\xbb\xbf" "x\n" },
    { SEQNN_FORMAT_TEXT, "\xef\xbb", "1|-|\xef\xbb|raw=\xef\xbb" },
    { SEQNN_FORMAT_TEXT, "\n", "1|-||raw=\n" },
    { SEQNN_FORMAT_TEXT, "", "" },
    /* the other formats ignore the setting */
    { SEQNN_FORMAT_TSV, "a\tb\n\nc\td\n", "1|a|b\n3|c|d" },
  };
  whole_lines = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    check_records (cases[i].format, cases[i].input, cases[i].expected);
  whole_lines = FALSE;
}

static void
test_max_record_size (void)
{
  test_max_record = 10;
  check_records (SEQNN_FORMAT_TSV, "a\tshort\nb\tthis is too long\nc\td\n",
      "1|a|short\nERROR t.csv:2: record longer than 10 bytes");
  check_records (SEQNN_FORMAT_TEXT, "0123456789\n01234567890",
      "1|-|0123456789\nERROR t.csv:2: record longer than 10 bytes");
  /* label and text bytes, whatever the quoting; even when skipping */
  check_records (SEQNN_FORMAT_CSV, "1,\"abcd\",\"efgh\"\n2,\"a\nb\",\"\"\"\"\"\"\"\"\"\"\"\"\"\"\n3,x,y",
      "1|1|abcd efgh\nERROR t.csv:2: record longer than 10 bytes (an unbalanced quote?)");
  check_records_full (SEQNN_FORMAT_CSV, "1,a,b\n2,\"stray,quote\n3,c,d\n", -1, TRUE,
      "1|1|a b\nERROR t.csv:2: record longer than 10 bytes (an unbalanced quote?)", 0);
  test_max_record = 0;
}

/* Records read with header, label_column and text_columns (NULL: default). */
static void
check_columns_full (SeqnnFormat format, SeqnnHeader header, const gchar *label_column,
    const gchar *text_columns, const gchar *input, gboolean skip_bad, const gchar *expected,
    guint64 expected_skipped)
{
  SeqnnColumns columns = { header, label_column, text_columns };
  test_columns = &columns;
  check_records_full (format, input, -1, skip_bad, expected, expected_skipped);
  test_columns = NULL;
}

static void
check_columns (SeqnnFormat format, SeqnnHeader header, const gchar *label_column,
    const gchar *text_columns, const gchar *input, const gchar *expected)
{
  check_columns_full (format, header, label_column, text_columns, input, FALSE, expected, 0);
}

static void
test_csv_header (void)
{
  const SeqnnHeader A = SEQNN_HEADER_AUTO, Y = SEQNN_HEADER_YES, N = SEQNN_HEADER_NO;
  /* names: the header is detected (auto), quoted or not, BOM before it; any column order */
  check_columns (SEQNN_FORMAT_CSV, A, "label", "title,body",
      "\xef\xbb\xbf\"body\",\"label\",title\r\n\"b 1\",pos,\"t, 1\"\n\nb2,neg,t2\n",
      "2|pos|t, 1 b 1\n4|neg|t2 b2");
  /* the text columns in the order given; a header name with quotes and a line break */
  check_columns (SEQNN_FORMAT_CSV, A, "y", "b,\"q\" x\nz",
      "\"\"\"q\"\" x\nz\",y,b\n1,2,3\n", "3|2|3 1");
  /* header=yes with the default columns: the first row is skipped, label first */
  check_columns (SEQNN_FORMAT_CSV, Y, NULL, NULL, "class,title,text\n3,a,b\n", "2|3|a b");
  /* numbers: no header detected; label anywhere, every other column joined */
  check_columns (SEQNN_FORMAT_CSV, A, "3", NULL, "a,b,World\nc,d,Sports\n", "1|World|a b\n2|Sports|c d");
  check_columns (SEQNN_FORMAT_CSV, N, "2", "3, 1", "a,1,c\n", "1|1|c a");
  check_columns (SEQNN_FORMAT_CSV, Y, "2", "1", "h1,h2\nx,lab\n", "2|lab|x");
  /* names and numbers mixed */
  check_columns (SEQNN_FORMAT_CSV, A, "1", "text", "l,text\nz,hello\n", "2|z|hello");
  /* a header row counts for lines; each input has its own header (finish restarts) */
  check_columns (SEQNN_FORMAT_CSV, A, "label", "text", "label,text\n", "");
  /* bad input: a header without the named column, a short row, an empty label */
  check_columns (SEQNN_FORMAT_CSV, A, "topic", "title",
      "\n\"label\",\"title\"\n1,a\n",
      "ERROR t.csv:2: the header has no column \"topic\" (its columns: \"label\", \"title\")");
  check_columns (SEQNN_FORMAT_CSV, A, "label", "title,body",
      "label,title,body\n1,a,b\n2,c\n", "2|1|a b\nERROR t.csv:3: missing column \"body\" (the row has 2)");
  check_columns (SEQNN_FORMAT_CSV, N, "4", NULL, "1,2,3\n", "ERROR t.csv:1: missing column 4 (the row has 3)");
  check_columns (SEQNN_FORMAT_CSV, N, "1", NULL, "\"\",x\n", "ERROR t.csv:1: missing label");
  check_columns (SEQNN_FORMAT_CSV, Y, NULL, NULL, "l,t\nonly\n",
      "ERROR t.csv:2: missing text (only one column)");
  /* skipping: short rows, bad quotes counted; the header is never skipped */
  check_columns_full (SEQNN_FORMAT_CSV, A, "label", "text",
      "text,label\nonly\n\"a\"x,1\nfine,2\n,\n", TRUE, "4|2|fine", 3);
}

static void
test_tsv_header (void)
{
  const SeqnnHeader A = SEQNN_HEADER_AUTO, Y = SEQNN_HEADER_YES;
  check_columns (SEQNN_FORMAT_TSV, A, "label", "text",
      "id\ttext\tlabel\r\n7\tgood film\tpos\n\n8\tbad, \"really\"\tneg\n",
      "2|pos|good film\n4|neg|bad, \"really\"");
  /* a column layout splits at every tab; empty fields stay */
  check_columns (SEQNN_FORMAT_TSV, Y, NULL, NULL, "l\ta\tb\nx\t\tz\n", "2|x| z");
  check_columns (SEQNN_FORMAT_TSV, A, "2", "1", "hello\t3\n", "1|3|hello");
  check_columns (SEQNN_FORMAT_TSV, A, "label", NULL, "text\tlabels\n",
      "ERROR t.csv:1: the header has no column \"label\" (its columns: \"text\", \"labels\")");
  check_columns (SEQNN_FORMAT_TSV, A, "2", "1,3", "a\tb\n", "ERROR t.csv:1: missing column 3 (the row has 2)");
}

static void
test_jsonl (void)
{
  const SeqnnHeader A = SEQNN_HEADER_AUTO;
  /* default keys; labels as strings or integers; other keys ignored; UTF-8 text */
  check_records (SEQNN_FORMAT_JSONL,
      "\xef\xbb\xbf{\"text\": \"caf\\u00e9 \\\"ok\\\"\", \"label\": \"pos\", \"id\": 1}\r\n\n"
      "{\"label\": 2, \"text\": \"line\\nbreak\"}\n",
      "1|pos|caf\xc3\xa9 \"ok\"\n3|2|line\nbreak");
  /* keys given; digits are keys too; several text keys joined */
  check_columns (SEQNN_FORMAT_JSONL, A, "y", "title,1",
      "{\"1\": \"body\", \"title\": \"T\", \"y\": \"World\"}", "1|World|T body");
  check_records (SEQNN_FORMAT_JSONL, "{\"label\":\"a\",\"text\":\"x\"}\n[1, 2]\n",
      "1|a|x\nERROR t.csv:2: not a JSON object");
  check_records (SEQNN_FORMAT_JSONL, "\"just a string\"\n", "ERROR t.csv:1: not a JSON object");
  check_records (SEQNN_FORMAT_JSONL, "{\"label\":\"a\",\"text\":\"\xff\"}\n",
      "ERROR t.csv:1: not valid UTF-8");
  check_records (SEQNN_FORMAT_JSONL, "{\"label\":\"a\"}\n", "ERROR t.csv:1: missing column \"text\"");
  check_records (SEQNN_FORMAT_JSONL, "{\"label\":\"a\",\"text\":3}\n",
      "ERROR t.csv:1: column \"text\" is not a string");
  check_records (SEQNN_FORMAT_JSONL, "{\"label\":1.5,\"text\":\"x\"}\n",
      "ERROR t.csv:1: column \"label\" is not a string or an integer");
  check_records (SEQNN_FORMAT_JSONL, "{\"label\":\"\",\"text\":\"x\"}\n", "ERROR t.csv:1: missing label");
  /* invalid JSON is a bad row: counted when skipping */
  check_records_full (SEQNN_FORMAT_JSONL,
      "{\"label\": \"a\", \"text\": \"x\"\n7\n{\"text\":\"t\"}\n{\"label\":\"b\",\"text\":\"y\"}", -1, TRUE,
      "4|b|y", 3);
}

static void
test_columns_errors (void)
{
  struct {
    SeqnnFormat format;
    SeqnnColumns columns;
    const gchar *message;
  } cases[] = {
    { SEQNN_FORMAT_CSV, { SEQNN_HEADER_AUTO, "0", NULL }, "column 0: columns are numbered from 1" },
    { SEQNN_FORMAT_CSV, { SEQNN_HEADER_AUTO, NULL, "a,,b" }, "empty column in the column list" },
    { SEQNN_FORMAT_TSV, { SEQNN_HEADER_NO, "label", NULL }, "columns given by name need a header" },
    { SEQNN_FORMAT_JSONL, { SEQNN_HEADER_YES, NULL, NULL }, "JSON Lines has no header line" },
    { SEQNN_FORMAT_TEXT, { SEQNN_HEADER_YES, NULL, NULL }, "the text format has no header" },
    { SEQNN_FORMAT_FASTTEXT, { SEQNN_HEADER_AUTO, "1", NULL }, "the fasttext format has no header" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    SeqnnRecordReader *reader = seqnn_record_reader_new (cases[i].format, "t.csv");
    GError *error = NULL;
    g_assert_false (seqnn_record_reader_set_columns (reader, &cases[i].columns, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    g_assert_true (g_str_has_prefix (error->message, cases[i].message));
    g_clear_error (&error);
    seqnn_record_reader_free (reader);
  }
  /* the default columns are accepted by every format */
  SeqnnColumns none;
  seqnn_columns_init_default (&none);
  g_assert_false (seqnn_columns_is_set (&none));
  SeqnnRecordReader *reader = seqnn_record_reader_new (SEQNN_FORMAT_TEXT, "t.txt");
  g_assert_true (seqnn_record_reader_set_columns (reader, &none, NULL));
  seqnn_record_reader_free (reader);
}

static gboolean
stop_at_second (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  guint *count = user_data;
  if (++*count == 2) {
    if (record->line == 2)
      return FALSE; /* no error set: the reader reports a cancellation */
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE, "custom");
    return FALSE;
  }
  return TRUE;
}

static void
test_callback_errors (void)
{
  SeqnnRecordReader *reader = seqnn_record_reader_new (SEQNN_FORMAT_TSV, "x.tsv");
  guint count = 0;
  GError *error = NULL;
  g_assert_false (seqnn_record_reader_feed (reader, "a\tb\nc\td\ne\tf\n", 12, stop_at_second, &count,
      &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CANCELLED);
  g_assert_nonnull (strstr (error->message, "x.tsv:2"));
  g_clear_error (&error);
  seqnn_record_reader_reset (reader);
  count = 0;
  g_assert_false (seqnn_record_reader_feed (reader, "a\tb\n\nc\td\n", 9, stop_at_second, &count, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_clear_error (&error);
  /* reset: back to line 1; a NULL callback only parses */
  seqnn_record_reader_reset (reader);
  g_assert_true (seqnn_record_reader_feed (reader, "a\tb\n", 4, NULL, NULL, &error));
  g_assert_true (seqnn_record_reader_finish (reader, NULL, NULL, &error));
  g_assert_no_error (error);
  /* the skipped count survives finish, and reset clears it */
  seqnn_record_reader_set_skip_bad (reader, TRUE);
  g_assert_true (seqnn_record_reader_feed (reader, "no tab\na\tb\nbad", 14, NULL, NULL, &error));
  g_assert_cmpuint (seqnn_record_reader_get_n_skipped (reader), ==, 1);
  g_assert_true (seqnn_record_reader_finish (reader, NULL, NULL, &error));
  g_assert_cmpuint (seqnn_record_reader_get_n_skipped (reader), ==, 2);
  g_assert_true (seqnn_record_reader_feed (reader, "x\n", 2, NULL, NULL, &error));
  g_assert_cmpuint (seqnn_record_reader_get_n_skipped (reader), ==, 3);
  seqnn_record_reader_reset (reader);
  g_assert_cmpuint (seqnn_record_reader_get_n_skipped (reader), ==, 0);
  g_assert_no_error (error);
  g_assert_false (seqnn_record_reader_feed (NULL, "x", 1, NULL, NULL, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  seqnn_record_reader_free (reader);
  seqnn_record_reader_free (NULL);
}

static void
test_formats (void)
{
  SeqnnFormat format = SEQNN_FORMAT_TEXT;
  const gchar *names[] = { "text", "csv", "tsv", "fasttext", "jsonl" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_assert_cmpstr (seqnn_format_to_string ((SeqnnFormat) i), ==, names[i]);
    g_assert_true (seqnn_format_from_string (names[i], &format));
    g_assert_cmpint (format, ==, (SeqnnFormat) i);
  }
  g_assert_true (seqnn_format_from_string ("CSV", &format));
  g_assert_cmpint (format, ==, SEQNN_FORMAT_CSV);
  g_assert_false (seqnn_format_from_string ("json", &format));
  g_assert_false (seqnn_format_from_string (NULL, &format));
  g_assert_null (seqnn_format_to_string ((SeqnnFormat) 42));
}

static gint
resolve (SeqnnLabelSet *set, SeqnnFormat format, const gchar *label, guint64 line, gboolean grow,
    GError **error)
{
  SeqnnRecord record = { .text = "t", .text_len = 1, .label = label,
    .label_len = label != NULL ? strlen (label) : 0, .line = line };
  return seqnn_label_set_resolve (set, format, &record, grow, "train.csv", error);
}

static void
test_labels (void)
{
  SeqnnLabelSet *set = seqnn_label_set_new_ag_news ();
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 4);
  g_assert_cmpstr (seqnn_label_set_get_name (set, 3), ==, "Sci/Tech");
  g_assert_null (seqnn_label_set_get_name (set, 4));
  g_assert_null (seqnn_label_set_get_name (set, -1));
  g_assert_cmpint (seqnn_label_set_lookup (set, "Sports", -1), ==, 1);
  g_assert_cmpint (seqnn_label_set_lookup (set, "Sportsman", 6), ==, 1);
  g_assert_cmpint (seqnn_label_set_lookup (set, "sports", -1), ==, -1);

  GError *error = NULL;
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "3", 1, FALSE, &error), ==, 2);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "1", 1, FALSE, &error), ==, 0);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, " 4 ", 1, FALSE, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "7", 17, FALSE, &error), ==, -1);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_assert_cmpstr (error->message, ==, "train.csv:17: class 7 out of range 1..4");
  g_clear_error (&error);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "0", 2, FALSE, &error), ==, -1);
  g_assert_cmpstr (error->message, ==, "train.csv:2: class 0 out of range 1..4");
  g_clear_error (&error);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "World", 5, FALSE, &error), ==, -1);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE);
  g_assert_cmpstr (error->message, ==, "train.csv:5: class \"World\" is not a number");
  g_clear_error (&error);
  /* on the first line, most likely a header */
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "class", 1, FALSE, &error), ==, -1);
  g_assert_cmpstr (error->message, ==, "train.csv:1: class \"class\" is not a number (if the "
      "first line is a header, set header=true or name the columns)");
  g_clear_error (&error);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "", 6, FALSE, &error), ==, -1);
  g_assert_cmpstr (error->message, ==, "train.csv:6: missing label");
  g_clear_error (&error);
  /* text records have no label, which is no error */
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_TEXT, NULL, 1, FALSE, &error), ==, -1);
  g_assert_no_error (error);
  /* names for TSV / fastText, grown on request */
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_TSV, "Business", 1, FALSE, &error), ==, 2);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_FASTTEXT, "Health", 9, FALSE, &error), ==, -1);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_assert_cmpstr (error->message, ==, "train.csv:9: unknown class \"Health\"");
  g_clear_error (&error);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_FASTTEXT, "Health", 9, TRUE, &error), ==, 4);
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_TSV, "Health", 10, FALSE, &error), ==, 4);
  g_assert_no_error (error);
  gchar **names = seqnn_label_set_to_strv (set);
  g_assert_cmpuint (g_strv_length (names), ==, 5);
  g_assert_cmpstr (names[4], ==, "Health");
  g_strfreev (names);
  g_assert_cmpint (seqnn_label_set_add (set, "World", -1), ==, 0);
  g_assert_cmpint (seqnn_label_set_add (set, "Arts and more", 4), ==, 5);
  g_assert_cmpstr (seqnn_label_set_get_name (set, 5), ==, "Arts");
  seqnn_label_set_free (set);

  /* CSV classes beyond an empty set, grown: named by their numbers */
  set = seqnn_label_set_new ();
  g_assert_cmpint (resolve (set, SEQNN_FORMAT_CSV, "3", 1, TRUE, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 3);
  g_assert_cmpstr (seqnn_label_set_get_name (set, 0), ==, "1");
  seqnn_label_set_free (set);
  seqnn_label_set_free (NULL);

  const gchar *strv[] = { "neg", "pos", "neg", NULL };
  set = seqnn_label_set_new_from_strv (strv);
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 2);
  seqnn_label_set_free (set);
}

/* Column layouts and JSON Lines: numbers are 1-based classes, other labels names. */
/* The label sets the readers' callers start from. */
static void
test_label_set_defaults (void)
{
  SeqnnLabelSet *set = seqnn_label_set_new_from_list (" World, Sports,,Sci/Tech ,");
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 3);
  g_assert_cmpstr (seqnn_label_set_get_name (set, 0), ==, "World");
  g_assert_cmpstr (seqnn_label_set_get_name (set, 2), ==, "Sci/Tech");
  seqnn_label_set_free (set);
  set = seqnn_label_set_new_from_list ("");
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 0);
  seqnn_label_set_free (set);

  static const struct {
    SeqnnFormat format;
    gboolean column_layout;
    gint n;          /* classes in the set; -1: no set */
    gboolean grow;
  } cases[] = {
    { SEQNN_FORMAT_CSV, FALSE, 4, FALSE },
    { SEQNN_FORMAT_CSV, TRUE, 0, TRUE },
    { SEQNN_FORMAT_TSV, TRUE, 0, TRUE },
    { SEQNN_FORMAT_JSONL, FALSE, 0, TRUE },
    { SEQNN_FORMAT_TSV, FALSE, -1, FALSE },
    { SEQNN_FORMAT_FASTTEXT, FALSE, -1, FALSE },
    { SEQNN_FORMAT_TEXT, FALSE, -1, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gboolean grow = !cases[i].grow;
    set = seqnn_label_set_new_for_format (cases[i].format, cases[i].column_layout, &grow);
    g_assert_cmpint (set != NULL ? (gint) seqnn_label_set_get_n (set) : -1, ==, cases[i].n);
    g_assert_cmpint (grow, ==, cases[i].grow);
    if (cases[i].n == 4)
      g_assert_cmpstr (seqnn_label_set_get_name (set, 3), ==, "Sci/Tech");
    if (set != NULL)
      seqnn_label_set_free (set);
  }
}

static void
test_labels_columns (void)
{
  SeqnnLabelSet *set = seqnn_label_set_new_ag_news ();
  GError *error = NULL;
  SeqnnRecord number = { .text = "t", .text_len = 1, .label = " 2", .label_len = 2, .line = 3,
    .column_layout = TRUE };
  SeqnnRecord name = { .text = "t", .text_len = 1, .label = "Sci/Tech", .label_len = 8, .line = 4,
    .column_layout = TRUE };
  g_assert_true (seqnn_record_label_is_number (SEQNN_FORMAT_TSV, &number));
  g_assert_false (seqnn_record_label_is_number (SEQNN_FORMAT_CSV, &name));
  g_assert_cmpint (seqnn_label_set_resolve (set, SEQNN_FORMAT_JSONL, &number, FALSE, "d.jsonl", &error), ==, 1);
  g_assert_cmpint (seqnn_label_set_resolve (set, SEQNN_FORMAT_CSV, &name, FALSE, "d.csv", &error), ==, 3);
  number.label = "9";
  number.label_len = 1;
  g_assert_cmpint (seqnn_label_set_resolve (set, SEQNN_FORMAT_TSV, &number, FALSE, "d.tsv", &error), ==, -1);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
  g_assert_cmpstr (error->message, ==, "d.tsv:3: class 9 out of range 1..4");
  g_clear_error (&error);
  /* the AG News layout keeps numbers only */
  name.column_layout = FALSE;
  g_assert_true (seqnn_record_label_is_number (SEQNN_FORMAT_CSV, &name));
  g_assert_false (seqnn_record_label_is_number (SEQNN_FORMAT_TSV, &name));
  seqnn_label_set_free (set);
}

/* Numbers in column layouts and JSON Lines, as a table: each case starts
 * from a set (NULL: empty and growing; "AG": AG News's names; else a labels
 * list) and resolves its labels in turn; expect holds the ids, -1 an error
 * whose message is error. */
static void
test_labels_column_numbers (void)
{
  static const struct {
    const gchar *set;
    gboolean grow;
    const gchar *labels[5];
    gint expect[5];
    const gchar *names;      /* the set's names afterwards, comma-joined */
    const gchar *error;      /* of the first -1 */
  } cases[] = {
    /* 0-based data without names: numbers are names, classes as they come */
    { NULL, TRUE, { "1", "0", " 1", "0" }, { 0, 1, 0, 1 }, "1,0", NULL },
    /* 1-based data too: no placeholder classes for numbers never seen */
    { NULL, TRUE, { "5", "1" }, { 0, 1 }, "5,1", NULL },
    /* word names: 1-based class numbers (AG News columns) */
    { "AG", FALSE, { "1", "4", "Sports" }, { 0, 3, 1 }, "World,Sports,Business,Sci/Tech", NULL },
    { "AG", FALSE, { "0" }, { -1 }, NULL, "d.tsv:7: class 0 out of range 1..4" },
    /* a plain list: the k-th name */
    { "neg,pos", FALSE, { "2", "1", "pos" }, { 1, 0, 1 }, "neg,pos", NULL },
    /* a list of number names: names first */
    { "0,1", FALSE, { "1", "0" }, { 1, 0 }, "0,1", NULL },
    /* N=name: 0-based data named; numbers sharing a name are one class */
    { "0=negative, 1=positive", FALSE, { "1", "0", "negative" }, { 1, 0, 0 }, "negative,positive",
      NULL },
    { "1=bad,2=bad,4=good,5=good", FALSE, { "5", "2", "4", "1" }, { 1, 0, 1, 0 }, "bad,good",
      NULL },
    { "0=negative,1=positive", FALSE, { "2" }, { -1 }, NULL,
      "d.tsv:7: class 2 is not one of the numbers the labels list names (0, 1; \"N=name\" "
      "entries name others, such as 0)" },
    /* a validation set grows past the training names: the new ones are refused by name */
    { "AG", TRUE, { "2", "7" }, { 1, 4 }, "World,Sports,Business,Sci/Tech,7", NULL },
    /* "=x" and "a=b" are names, not numbered entries */
    { "=x,a=b", FALSE, { "2", "=x" }, { 1, 0 }, "=x,a=b", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    SeqnnLabelSet *set = cases[i].set == NULL ? seqnn_label_set_new ()
        : g_strcmp0 (cases[i].set, "AG") == 0 ? seqnn_label_set_new_ag_news ()
        : seqnn_label_set_new_from_list (cases[i].set);
    for (guint j = 0; j < G_N_ELEMENTS (cases[i].labels) && cases[i].labels[j] != NULL; j++) {
      SeqnnRecord record = { .text = "t", .text_len = 1, .label = cases[i].labels[j],
        .label_len = strlen (cases[i].labels[j]), .line = 7, .column_layout = TRUE };
      GError *error = NULL;
      gint id = seqnn_label_set_resolve (set, SEQNN_FORMAT_TSV, &record, cases[i].grow, "d.tsv",
          &error);
      g_test_message ("case %u, label %u: %d", i, j, id);
      g_assert_cmpint (id, ==, cases[i].expect[j]);
      if (id < 0) {
        g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE);
        g_assert_cmpstr (error->message, ==, cases[i].error);
        g_clear_error (&error);
      }
      g_assert_no_error (error);
    }
    if (cases[i].names != NULL) {
      gchar **names = seqnn_label_set_to_strv (set);
      gchar *joined = g_strjoinv (",", names);
      g_assert_cmpstr (joined, ==, cases[i].names);
      g_free (joined);
      g_strfreev (names);
    }
    seqnn_label_set_free (set);
  }
}

static void
test_labels_from_file (void)
{
  gchar *dir = g_dir_make_tmp ("seqnn-labels-XXXXXX", NULL);
  g_assert_nonnull (dir);
  gchar *path = g_build_filename (dir, "classes.txt", NULL);
  GError *error = NULL;
  g_assert_true (g_file_set_contents (path, "\xef\xbb\xbfWorld\r\nSports\n\n  Business \nSci/Tech", -1, NULL));
  SeqnnLabelSet *set = seqnn_label_set_new_from_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seqnn_label_set_get_n (set), ==, 4);
  g_assert_cmpstr (seqnn_label_set_get_name (set, 0), ==, "World");
  g_assert_cmpstr (seqnn_label_set_get_name (set, 2), ==, "Business");
  g_assert_cmpstr (seqnn_label_set_get_name (set, 3), ==, "Sci/Tech");
  seqnn_label_set_free (set);

  g_assert_true (g_file_set_contents (path, "a\nb\na\n", -1, NULL));
  g_assert_null (seqnn_label_set_new_from_file (path, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE);
  g_assert_cmpstr (error->message, ==, "classes.txt:3: duplicate class name \"a\"");
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "\n \n", -1, NULL));
  g_assert_null (seqnn_label_set_new_from_file (path, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "ok\n\xff\n", -1, NULL));
  g_assert_null (seqnn_label_set_new_from_file (path, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE);
  g_clear_error (&error);
  g_remove (path);
  g_assert_null (seqnn_label_set_new_from_file (path, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  g_clear_error (&error);

  const gchar *data = g_getenv ("SEQNN_SHARED_DATA");
  gchar *classes = data != NULL ? g_build_filename (data, "agnews", "classes.txt", NULL) : NULL;
  if (classes != NULL && g_file_test (classes, G_FILE_TEST_IS_REGULAR)) {
    set = seqnn_label_set_new_from_file (classes, &error);
    g_assert_no_error (error);
    SeqnnLabelSet *builtin = seqnn_label_set_new_ag_news ();
    g_assert_cmpuint (seqnn_label_set_get_n (set), ==, seqnn_label_set_get_n (builtin));
    for (guint i = 0; i < seqnn_label_set_get_n (set); i++)
      g_assert_cmpstr (seqnn_label_set_get_name (set, (gint) i), ==,
          seqnn_label_set_get_name (builtin, (gint) i));
    seqnn_label_set_free (builtin);
    seqnn_label_set_free (set);
  } else {
    g_test_message ("SEQNN_SHARED_DATA/agnews/classes.txt not found: not compared");
  }
  g_free (classes);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

/* Empty pieces (NULL, 0) anywhere change nothing, in every format (UBSan
 * caught NULL + 0 on an empty feed after the start). */
static void
test_empty_feed (void)
{
  static const struct { SeqnnFormat format; const gchar *input; } cases[] = {
    { SEQNN_FORMAT_TEXT, "a b" }, { SEQNN_FORMAT_CSV, "1,a b" },
    { SEQNN_FORMAT_TSV, "1\ta b" }, { SEQNN_FORMAT_FASTTEXT, "__label__1 a b" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    SeqnnRecordReader *reader = seqnn_record_reader_new (cases[i].format, "e");
    GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
    GError *error = NULL;
    gsize len = strlen (cases[i].input);
    g_assert_true (seqnn_record_reader_feed (reader, NULL, 0, collect, out, &error));
    g_assert_true (seqnn_record_reader_feed (reader, cases[i].input, 2, collect, out, &error));
    g_assert_true (seqnn_record_reader_feed (reader, NULL, 0, collect, out, &error));
    g_assert_true (seqnn_record_reader_feed (reader, cases[i].input + 2, len - 2, collect, out, &error));
    g_assert_true (seqnn_record_reader_feed (reader, NULL, 0, collect, out, &error));
    g_assert_true (seqnn_record_reader_finish (reader, collect, out, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (out->len, ==, 1);
    g_assert_true (g_str_has_suffix (g_ptr_array_index (out, 0), "|a b"));
    g_ptr_array_unref (out);
    seqnn_record_reader_free (reader);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/records/csv-basic", test_csv_basic);
  g_test_add_func ("/text/records/csv-line-breaks", test_csv_line_breaks);
  g_test_add_func ("/text/records/csv-bom", test_csv_bom);
  g_test_add_func ("/text/records/csv-errors", test_csv_errors);
  g_test_add_func ("/text/records/csv-skip-bad", test_csv_skip_bad);
  g_test_add_func ("/text/records/line-formats", test_line_formats);
  g_test_add_func ("/text/records/whole-lines", test_whole_lines);
  g_test_add_func ("/text/records/label-set-defaults", test_label_set_defaults);
  g_test_add_func ("/text/records/max-record-size", test_max_record_size);
  g_test_add_func ("/text/records/csv-header", test_csv_header);
  g_test_add_func ("/text/records/tsv-header", test_tsv_header);
  g_test_add_func ("/text/records/jsonl", test_jsonl);
  g_test_add_func ("/text/records/columns-errors", test_columns_errors);
  g_test_add_func ("/text/records/callback-errors", test_callback_errors);
  g_test_add_func ("/text/records/formats", test_formats);
  g_test_add_func ("/text/records/empty-feed", test_empty_feed);
  g_test_add_func ("/text/labels/resolve", test_labels);
  g_test_add_func ("/text/labels/columns", test_labels_columns);
  g_test_add_func ("/text/labels/column-numbers", test_labels_column_numbers);
  g_test_add_func ("/text/labels/from-file", test_labels_from_file);
  return g_test_run ();
}
