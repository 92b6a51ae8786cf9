/* Tests of the seqtokenize element: parsed cues, byte streams cut at every
 * position, CSV / TSV / fastText records with labels, token ids from a
 * model, errors on the bus, events and timestamps, a small pipeline.
 * Expected tokens come from libseqnn itself (seqnn_tokenize, the record
 * reader, seqnn_classifier_encode) plus a few golden token lists.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include <seqnn/classifier.h>
#include <seqnn/dataset.h>
#include <seqnn/text.h>

#include "gstseqnnmeta.h"
#include "seqnn-test-plugins.h"

/* ---- helpers --------------------------------------------------------------- */

/* A harness around a seqtokenize whose properties are set before it starts. */
static GstHarness *
new_harness (const gchar *first_property, ...)
{
  GstElement *element = gst_element_factory_make ("seqtokenize", NULL);
  GstHarness *h;
  va_list args;

  fail_unless (element != NULL, "seqtokenize not found: is GST_PLUGIN_PATH_1_0 set?");
  if (first_property != NULL) {
    va_start (args, first_property);
    g_object_set_valist (G_OBJECT (element), first_property, args);
    va_end (args);
  }
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  return h;
}

static GstBuffer *
text_buffer (const gchar *text, gssize len)
{
  if (len < 0)
    len = (gssize) strlen (text);
  return len > 0 ? gst_buffer_new_memdup (text, (gsize) len) : gst_buffer_new ();
}

static void
push_text (GstHarness *h, const gchar *text, gssize len, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *buffer = text_buffer (text, len);
  GstEvent *segment = gst_pad_get_sticky_event (h->srcpad, GST_EVENT_SEGMENT, 0);

  /* Without caps the harness sends no segment: send a BYTES one, as filesrc does. */
  if (segment == NULL) {
    GstSegment bytes;

    gst_segment_init (&bytes, GST_FORMAT_BYTES);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&bytes)));
  } else {
    gst_event_unref (segment);
  }

  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = duration;
  fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
}

static void
push_eos (GstHarness *h)
{
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
}

/* Every buffer the element has output so far. */
static GPtrArray *
pull_all (GstHarness *h)
{
  GPtrArray *buffers = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  GstBuffer *buffer;

  while ((buffer = gst_harness_try_pull (h)) != NULL)
    g_ptr_array_add (buffers, buffer);
  return buffers;
}

static gchar *
buffer_text (GstBuffer *buffer, gsize *len)
{
  gsize size = gst_buffer_get_size (buffer);
  gchar *text = g_malloc (size + 1);

  gst_buffer_extract (buffer, 0, text, size);
  text[size] = '\0';
  if (len != NULL)
    *len = size;
  return text;
}

static void
assert_buffer_text (GstBuffer *buffer, const gchar *expected, gssize expected_len)
{
  gsize len;
  gchar *text = buffer_text (buffer, &len);

  if (expected_len < 0)
    expected_len = (gssize) strlen (expected);
  fail_unless_equals_int (len, expected_len);
  fail_unless (memcmp (text, expected, len) == 0, "text '%s' != '%.*s'", text,
      (int) expected_len, expected);
  g_free (text);
}

static GstSeqnnTokensMeta *
get_tokens_meta (GstBuffer *buffer)
{
  GstSeqnnTokensMeta *meta = gst_buffer_get_seqnn_tokens_meta (buffer);

  fail_unless (meta != NULL, "output buffer without a tokens meta");
  fail_unless (meta->tokens != NULL);
  fail_unless_equals_int (g_strv_length (meta->tokens), meta->n_tokens);
  return meta;
}

/* Golden tokens: space-separated ("" for none). */
static void
assert_tokens_are (GstSeqnnTokensMeta *meta, const gchar *expected)
{
  gchar **want = g_strsplit (expected, " ", -1);
  guint n_want = expected[0] == '\0' ? 0 : g_strv_length (want);

  fail_unless_equals_int (meta->n_tokens, n_want);
  for (guint i = 0; i < n_want; i++)
    fail_unless_equals_string (meta->tokens[i], want[i]);
  g_strfreev (want);
}

/* The tokens libseqnn gives for text with the default settings. */
static void
assert_tokens_of (GstSeqnnTokensMeta *meta, const gchar *text, gssize len, gboolean markup)
{
  SeqnnTokenizerConfig config;
  SeqnnTokens *tokens = seqnn_tokens_new ();

  seqnn_tokenizer_config_init_default (&config);
  config.strip_markup = markup;
  seqnn_tokenize (&config, text, len, tokens);
  fail_unless_equals_int (meta->n_tokens, seqnn_tokens_get_n (tokens));
  for (guint i = 0; i < meta->n_tokens; i++)
    fail_unless_equals_string (meta->tokens[i], seqnn_tokens_get (tokens, i));
  seqnn_tokens_free (tokens);
}

static void
assert_output_caps (GstHarness *h, const gchar *format)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  const GstStructure *s;

  fail_unless (caps != NULL, "no output caps");
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "text/x-raw"));
  fail_unless_equals_string (gst_structure_get_string (s, "format"), format);
  gst_caps_unref (caps);
}

/* A bus on the harnessed element, to read its error and warning messages. */
static GstBus *
watch_bus (GstHarness *h)
{
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (h->element, bus);
  return bus;
}

/* Drops pending messages (they hold the element) and detaches the bus. */
static void
unwatch_bus (GstHarness *h, GstBus *bus)
{
  gst_bus_set_flushing (bus, TRUE);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
}

/* The text of the first message of that type ("" checks none was posted). */
static gchar *
pop_message_text (GstBus *bus, GstMessageType type)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, type);
  GError *error = NULL;
  gchar *debug = NULL, *text;

  if (msg == NULL)
    return NULL;
  if (type == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &error, &debug);
  else
    gst_message_parse_warning (msg, &error, &debug);
  text = g_strdup (error->message);
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (msg);
  return text;
}

/* ---- parsed text (subtitle cues) -------------------------------------------- */

GST_START_TEST (test_cue_markup)
{
  GstHarness *h = new_harness (NULL);
  const gchar *cue = "<i>Hello</i>, <b>world</b>!\n<font color=\"#ff0000\">Tom &amp; Jerry</font>";
  GPtrArray *out;
  GstBuffer *buffer;
  GstSeqnnTokensMeta *meta;

  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)pango-markup");
  push_text (h, cue, -1, 1 * GST_SECOND, 2 * GST_SECOND);
  push_text (h, "It&apos;s <u>fine</u> &lt;3", -1, 5 * GST_SECOND, GST_SECOND);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  assert_output_caps (h, "pango-markup");

  /* Text unchanged (markup and all), timestamps kept, markup stripped for the tokens. */
  buffer = out->pdata[0];
  assert_buffer_text (buffer, cue, -1);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), 1 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buffer), 2 * GST_SECOND);
  meta = get_tokens_meta (buffer);
  assert_tokens_are (meta, "hello , world ! tom & jerry");
  fail_unless (meta->ids == NULL);
  fail_unless (meta->label == NULL);
  fail_unless_equals_int (meta->label_id, -1);

  buffer = out->pdata[1];
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), 5 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buffer), GST_SECOND);
  meta = get_tokens_meta (buffer);
  assert_tokens_are (meta, "it ' s fine <3");

  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_cue_two_lines_is_one_record)
{
  GstHarness *h = new_harness (NULL);
  const gchar *cue = "You're a fool for traveling alone,\nso completely unprepared.";
  GPtrArray *out;

  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)utf8");
  push_text (h, cue, -1, 148 * GST_SECOND, 3 * GST_SECOND);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  assert_output_caps (h, "utf8");
  assert_buffer_text (out->pdata[0], cue, -1);
  assert_tokens_are (get_tokens_meta (out->pdata[0]),
      "you ' re a fool for traveling alone , so completely unprepared .");
  assert_tokens_of (get_tokens_meta (out->pdata[0]), cue, -1, FALSE);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out->pdata[0]), 148 * GST_SECOND);
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_cue_empty)
{
  const gchar *empty_cues[] = { "", "   \n ", "<i></i>", "\"\"" };
  GstHarness *h = new_harness (NULL);
  GPtrArray *out;

  /* Records without tokens pass with an empty meta... */
  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)pango-markup");
  for (guint i = 0; i < G_N_ELEMENTS (empty_cues); i++)
    push_text (h, empty_cues[i], -1, i * GST_SECOND, GST_SECOND);
  out = pull_all (h);
  fail_unless_equals_int (out->len, G_N_ELEMENTS (empty_cues));
  for (guint i = 0; i < out->len; i++) {
    GstSeqnnTokensMeta *meta = get_tokens_meta (out->pdata[i]);

    fail_unless_equals_int (meta->n_tokens, 0);
    assert_buffer_text (out->pdata[i], empty_cues[i], -1);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out->pdata[i]), i * GST_SECOND);
  }
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  /* ...or are dropped with drop-empty. */
  h = new_harness ("drop-empty", TRUE, NULL);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)pango-markup");
  for (guint i = 0; i < G_N_ELEMENTS (empty_cues); i++)
    push_text (h, empty_cues[i], -1, i * GST_SECOND, GST_SECOND);
  push_text (h, "<b>Kept</b>", -1, 9 * GST_SECOND, GST_SECOND);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  assert_tokens_are (get_tokens_meta (out->pdata[0]), "kept");
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out->pdata[0]), 9 * GST_SECOND);
  g_ptr_array_unref (out);
  {
    guint64 records;

    g_object_get (h->element, "records", &records, NULL);
    fail_unless_equals_uint64 (records, G_N_ELEMENTS (empty_cues) + 1);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_invalid_utf8)
{
  const gchar bad[] = "caf\xe9 au lait \xff\xfe ok \xc3";
  GstHarness *h = new_harness (NULL);
  GPtrArray *out;
  GstSeqnnTokensMeta *meta;

  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)utf8");
  push_text (h, bad, sizeof bad - 1, 0, GST_SECOND);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  assert_buffer_text (out->pdata[0], bad, sizeof bad - 1);
  meta = get_tokens_meta (out->pdata[0]);
  fail_unless (meta->n_tokens >= 4);
  for (guint i = 0; i < meta->n_tokens; i++)
    fail_unless (g_utf8_validate (meta->tokens[i], -1, NULL), "token %u is not UTF-8", i);
  assert_tokens_of (meta, bad, sizeof bad - 1, FALSE);
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  /* The same bytes in a byte stream, and broken markup, entities and a cut sequence. */
  h = new_harness (NULL);
  push_text (h, bad, sizeof bad - 1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_text (h, "\n<i>&#xZZ; &amp</i>\xf0\x9f\n", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  for (guint k = 0; k < out->len; k++) {
    meta = get_tokens_meta (out->pdata[k]);
    for (guint i = 0; i < meta->n_tokens; i++)
      fail_unless (g_utf8_validate (meta->tokens[i], -1, NULL));
  }
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- plain byte streams ------------------------------------------------------ */

static const gchar plain_text[] =
    "Hello world.\nSecond line, here\r\n\n  \n\xef\xbb\xbf" "BOM, (not first)\nlast one without newline";
static const gchar *plain_lines[] = {
  "Hello world.\n", "Second line, here\r\n", "\n", "  \n", "\xef\xbb\xbf" "BOM, (not first)\n",
  "last one without newline",
};

/* Every cut of the text into two buffers gives the same records. */
GST_START_TEST (test_plain_lines_every_cut)
{
  const gsize len = sizeof plain_text - 1;

  for (gsize cut = 0; cut <= len; cut++) {
    GstHarness *h = new_harness (NULL);
    GPtrArray *out;
    GString *joined = g_string_new (NULL);

    push_text (h, plain_text, (gssize) cut, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
    push_text (h, plain_text + cut, (gssize) (len - cut), GST_CLOCK_TIME_NONE,
        GST_CLOCK_TIME_NONE);
    push_eos (h);
    out = pull_all (h);
    fail_unless_equals_int (out->len, G_N_ELEMENTS (plain_lines));
    for (guint i = 0; i < out->len; i++) {
      GstBuffer *buffer = out->pdata[i];
      GstSeqnnTokensMeta *meta = get_tokens_meta (buffer);
      const gchar *line = plain_lines[i];
      gsize text_len = strlen (line);
      gchar *text;

      /* The line with its terminator; the tokens of the line without it. */
      assert_buffer_text (buffer, line, -1);
      while (text_len > 0 && (line[text_len - 1] == '\n' || line[text_len - 1] == '\r'))
        text_len--;
      assert_tokens_of (meta, line, (gssize) text_len, FALSE);
      fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buffer), i);
      fail_unless (!GST_BUFFER_PTS_IS_VALID (buffer));
      text = buffer_text (buffer, NULL);
      g_string_append_len (joined, text, (gssize) gst_buffer_get_size (buffer));
      g_free (text);
    }
    assert_tokens_are (get_tokens_meta (out->pdata[0]), "hello world .");
    assert_tokens_are (get_tokens_meta (out->pdata[1]), "second line , here");
    fail_unless_equals_int (get_tokens_meta (out->pdata[2])->n_tokens, 0);
    fail_unless_equals_int (get_tokens_meta (out->pdata[3])->n_tokens, 0);
    /* Only a BOM at the very start of the stream is skipped: here it is part of a word. */
    fail_unless_equals_int (get_tokens_meta (out->pdata[4])->n_tokens, 6);
    assert_tokens_are (get_tokens_meta (out->pdata[5]), "last one without newline");
    /* Byte for byte the input again. */
    fail_unless_equals_int (joined->len, len);
    fail_unless (memcmp (joined->str, plain_text, len) == 0);
    assert_output_caps (h, "utf8");
    g_string_free (joined, TRUE);
    g_ptr_array_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_plain_bom_and_split_bytes)
{
  /* A stream fed one byte at a time, starting with a BOM. */
  const gchar text[] = "\xef\xbb\xbf" "Caf\xc3\xa9 ouvert\nfin";
  GstHarness *h = new_harness (NULL);
  GPtrArray *out;

  for (gsize i = 0; i < sizeof text - 1; i++)
    push_text (h, text + i, 1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  assert_buffer_text (out->pdata[0], "\xef\xbb\xbf" "Caf\xc3\xa9 ouvert\n", -1);
  assert_tokens_are (get_tokens_meta (out->pdata[0]), "caf\xc3\xa9 ouvert");
  assert_tokens_are (get_tokens_meta (out->pdata[1]), "fin");
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Events downstream from a byte stream: stream-start, caps, and a TIME segment
 * in place of upstream's BYTES one. */
GST_START_TEST (test_plain_events)
{
  GstHarness *h = new_harness (NULL);
  GstSegment bytes;
  GstEvent *event;
  const GstSegment *segment;
  GPtrArray *out;

  gst_segment_init (&bytes, GST_FORMAT_BYTES);
  event = gst_event_new_segment (&bytes);
  gst_event_set_seqnum (event, 4242);
  fail_unless (gst_harness_push_event (h, event));
  push_text (h, "one\ntwo", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);

  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_STREAM_START);
  gst_event_unref (event);
  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_CAPS);
  gst_event_unref (event);
  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_SEGMENT);
  gst_event_parse_segment (event, &segment);
  fail_unless_equals_int (segment->format, GST_FORMAT_TIME);
  fail_unless_equals_int (gst_event_get_seqnum (event), 4242);
  gst_event_unref (event);
  event = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (event), GST_EVENT_EOS);
  gst_event_unref (event);

  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  fail_unless (GST_BUFFER_FLAG_IS_SET (out->pdata[0], GST_BUFFER_FLAG_DISCONT));
  fail_if (GST_BUFFER_FLAG_IS_SET (out->pdata[1], GST_BUFFER_FLAG_DISCONT));
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A TIME segment from a parser goes on unchanged. */
GST_START_TEST (test_parsed_segment_forwarded)
{
  GstHarness *h = new_harness (NULL);
  GstSegment time;
  GstEvent *event;
  const GstSegment *segment;

  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)utf8");
  gst_segment_init (&time, GST_FORMAT_TIME);
  time.start = 10 * GST_SECOND;
  time.rate = 2.0;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&time)));
  push_text (h, "hi", -1, 11 * GST_SECOND, GST_SECOND);

  /* stream-start, caps, the harness's own segment, then ours */
  while ((event = gst_harness_try_pull_event (h)) != NULL) {
    if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
      gst_event_parse_segment (event, &segment);
      fail_unless_equals_int (segment->format, GST_FORMAT_TIME);
      if (segment->start == 10 * GST_SECOND) {
        fail_unless_equals_float (segment->rate, 2.0);
        gst_event_unref (event);
        break;
      }
    }
    gst_event_unref (event);
  }
  fail_unless (event != NULL, "segment not forwarded");
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_flush_resets)
{
  GstHarness *h = new_harness (NULL);
  GPtrArray *out;

  push_text (h, "first\npartial", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  push_text (h, "after\n", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  assert_buffer_text (out->pdata[0], "first\n", -1);
  /* "partial" was flushed away; numbering starts again. */
  assert_buffer_text (out->pdata[1], "after\n", -1);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out->pdata[1]), 0);
  fail_unless (GST_BUFFER_FLAG_IS_SET (out->pdata[1], GST_BUFFER_FLAG_DISCONT));
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Caps that are not text/x-raw mean a byte stream: records are lines. */
GST_START_TEST (test_caps_input)
{
  GstHarness *h = new_harness (NULL);
  GPtrArray *out;

  gst_harness_set_src_caps_str (h, "text/plain");
  push_text (h, "alpha beta\ngamma\n", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  assert_output_caps (h, "utf8");
  assert_tokens_are (get_tokens_meta (out->pdata[1]), "gamma");
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  /* text/x-raw: each buffer is one record, newlines and all. */
  h = new_harness (NULL);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)utf8");
  push_text (h, "alpha beta\ngamma\n", -1, 0, GST_SECOND);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  assert_tokens_are (get_tokens_meta (out->pdata[0]), "alpha beta gamma");
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  /* lowercase and max-tokens without a model. */
  h = new_harness ("lowercase", FALSE, "max-tokens", 2, NULL);
  push_text (h, "Alpha Beta Gamma\n", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  assert_tokens_are (get_tokens_meta (out->pdata[0]), "Alpha Beta");
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- CSV, TSV, fastText ----------------------------------------------------- */

static const gchar csv_text[] =
    "\"3\",\"Wall St. Bears Claw Back\",\"Reuters - Short-sellers, \"\"quoted\"\" here.\"\n"
    "\"1\",\"Multi\nline title\",\"desc with, comma\"\r\n"
    "\"2\",\"Sports\",\"Goal!\"";

typedef struct {
  GPtrArray *texts;
  GPtrArray *labels;
} ReaderRecords;

static gboolean
collect_record (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  ReaderRecords *records = user_data;

  g_ptr_array_add (records->texts, g_strndup (record->text, record->text_len));
  g_ptr_array_add (records->labels, record->label != NULL ?
      g_strndup (record->label, record->label_len) : NULL);
  return TRUE;
}

/* The records libseqnn's reader finds in the whole text at once. */
static ReaderRecords
read_records (SeqnnFormat format, const gchar *text, gsize len)
{
  ReaderRecords records = { g_ptr_array_new_with_free_func (g_free),
    g_ptr_array_new_with_free_func (g_free) };
  SeqnnRecordReader *reader = seqnn_record_reader_new (format, "input");
  GError *error = NULL;

  fail_unless (seqnn_record_reader_feed (reader, text, len, collect_record, &records, &error));
  fail_unless (seqnn_record_reader_finish (reader, collect_record, &records, &error));
  seqnn_record_reader_free (reader);
  return records;
}

static void
reader_records_clear (ReaderRecords *records)
{
  g_ptr_array_unref (records->texts);
  g_ptr_array_unref (records->labels);
}

GST_START_TEST (test_csv_every_cut)
{
  const gsize len = sizeof csv_text - 1;
  const gchar *names[] = { "Business", "World", "Sports" };
  const gint ids[] = { 2, 0, 1 };
  ReaderRecords expected = read_records (SEQNN_FORMAT_CSV, csv_text, len);

  fail_unless_equals_int (expected.texts->len, 3);
  fail_unless_equals_string (expected.texts->pdata[0],
      "Wall St. Bears Claw Back Reuters - Short-sellers, \"quoted\" here.");
  fail_unless_equals_string (expected.texts->pdata[1], "Multi\nline title desc with, comma");

  for (gsize cut = 0; cut <= len; cut++) {
    GstHarness *h = new_harness ("format", 1 /* csv */, NULL);
    GPtrArray *out;

    push_text (h, csv_text, (gssize) cut, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
    push_text (h, csv_text + cut, (gssize) (len - cut), GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
    push_eos (h);
    out = pull_all (h);
    fail_unless (out->len == 3, "cut at %" G_GSIZE_FORMAT ": %u records", cut, out->len);
    for (guint i = 0; i < out->len; i++) {
      GstSeqnnTokensMeta *meta = get_tokens_meta (out->pdata[i]);

      assert_buffer_text (out->pdata[i], expected.texts->pdata[i], -1);
      assert_tokens_of (meta, expected.texts->pdata[i], -1, FALSE);
      fail_unless_equals_string (meta->label, names[i]);
      fail_unless_equals_int (meta->label_id, ids[i]);
      fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out->pdata[i]), i);
    }
    assert_tokens_are (get_tokens_meta (out->pdata[2]), "sports goal !");
    assert_output_caps (h, "utf8");
    g_ptr_array_unref (out);
    gst_harness_teardown (h);
  }
  reader_records_clear (&expected);
}

GST_END_TEST;

GST_START_TEST (test_csv_labels_property)
{
  GstHarness *h = new_harness ("format", 1, "labels", " w, s ,b,t", NULL);
  GPtrArray *out;

  gst_harness_set_src_caps_str (h, "application/x-csv");
  push_text (h, csv_text, sizeof csv_text - 1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 3);
  fail_unless_equals_string (get_tokens_meta (out->pdata[0])->label, "b");
  fail_unless_equals_string (get_tokens_meta (out->pdata[1])->label, "w");
  fail_unless_equals_string (get_tokens_meta (out->pdata[2])->label, "s");
  fail_unless_equals_int (get_tokens_meta (out->pdata[2])->label_id, 1);
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Column layouts: header, label-column and text-columns for CSV, TSV and JSON
 * Lines; records as "label_id|label|text", the input cut at every byte. */
static const struct {
  const gchar *format, *header, *label_column, *text_columns, *labels, *input, *expected;
} column_cases[] = {
  /* detected header (a name is given), quoted, any column order; names become classes */
  { "csv", "auto", "label", "title,body", NULL,
    "\"body\",\"label\",\"title\"\n\"b one\",pos,T1\nb2,neg,T2\nb3,pos,T3\n",
    "0|pos|T1 b one\n1|neg|T2 b2\n0|pos|T3 b3" },
  /* numbers, no header; class numbers mapped through labels= */
  { "csv", "false", "3", "1", "World,Sports", "t1,x,2\nt2,y,1\n", "1|Sports|t1\n0|World|t2" },
  /* header=true with the AG News layout: the header row is skipped; without names,
   * numbers are names (classes as they come, as fastText takes labels) */
  { "csv", "true", NULL, NULL, NULL, "Class Index,Title,Description\n2,a,b\n1,c,d\n",
    "0|2|a b\n1|1|c d" },
  /* 0-based numbers (SST-2, IMDB exports): named by N=name entries */
  { "tsv", "auto", "label", "sentence", "0=negative,1=positive",
    "label\tsentence\n1\tfine\n0\tdull\n", "1|positive|fine\n0|negative|dull" },
  { "tsv", "auto", "label", "sentence", NULL, "label\tsentence\n1\tfine\n0\tdull\n",
    "0|1|fine\n1|0|dull" },
  { "tsv", "auto", "sentiment", "review", NULL, "review\tsentiment\ngreat\tpos\nawful\tneg\n",
    "0|pos|great\n1|neg|awful" },
  { "jsonl", "auto", NULL, NULL, NULL,
    "{\"text\": \"hello\", \"label\": \"greet\"}\n{\"label\": \"bye\", \"text\": \"see you\"}\n",
    "0|greet|hello\n1|bye|see you" },
  { "jsonl", "auto", "y", "title,body", "A,B",
    "{\"y\": 2, \"title\": \"t\", \"body\": \"b\"}\n", "1|B|t b" },
};

GST_START_TEST (test_column_layouts)
{
  for (guint c = 0; c < G_N_ELEMENTS (column_cases); c++) {
    const gchar *input = column_cases[c].input;
    gsize len = strlen (input);

    for (gsize cut = 0; cut <= len; cut++) {
      GstHarness *h = new_harness (NULL);
      GString *got = g_string_new (NULL);
      GPtrArray *out;

      gst_util_set_object_arg (G_OBJECT (h->element), "format", column_cases[c].format);
      gst_util_set_object_arg (G_OBJECT (h->element), "header", column_cases[c].header);
      g_object_set (h->element, "label-column", column_cases[c].label_column,
          "text-columns", column_cases[c].text_columns, "labels", column_cases[c].labels, NULL);
      push_text (h, input, (gssize) cut, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
      push_text (h, input + cut, (gssize) (len - cut), GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
      push_eos (h);
      out = pull_all (h);
      for (guint i = 0; i < out->len; i++) {
        GstSeqnnTokensMeta *meta = get_tokens_meta (out->pdata[i]);
        gsize text_len;
        gchar *text = buffer_text (out->pdata[i], &text_len);

        g_string_append_printf (got, "%s%d|%s|%s", i > 0 ? "\n" : "", meta->label_id, meta->label,
            text);
        assert_tokens_of (meta, text, -1, FALSE);
        g_free (text);
      }
      fail_unless (strcmp (got->str, column_cases[c].expected) == 0,
          "case %u cut at %" G_GSIZE_FORMAT ": got \"%s\"", c, cut, got->str);
      g_string_free (got, TRUE);
      g_ptr_array_unref (out);
      gst_harness_teardown (h);
    }
  }
}

GST_END_TEST;

/* Pushes text as push_text does, whatever flow comes back (an error here). */
static void
push_text_flow (GstHarness *h, const gchar *text)
{
  GstSegment bytes;

  gst_segment_init (&bytes, GST_FORMAT_BYTES);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&bytes)));
  (void) gst_harness_push (h, text_buffer (text, -1));
}

/* Errors name the column or line: a header without the named column, a JSON
 * line that is not an object, a setting no format allows. */
GST_START_TEST (test_column_errors)
{
  const struct {
    const gchar *format, *label_column, *input, *message;
  } cases[] = {
    { "csv", "topic", "label,text\n1,a\n", "the header has no column \"topic\"" },
    { "jsonl", NULL, "{\"label\":\"a\",\"text\":\"b\"}\n[1]\n", "input:2: not a JSON object" },
    { "tsv", "0", "a\tb\n", "columns are numbered from 1" },
    { "fasttext", "1", "__label__a b\n", "fasttext format has no header or columns" },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    GstHarness *h = new_harness (NULL);
    GstBus *bus = watch_bus (h);
    gchar *message;

    gst_util_set_object_arg (G_OBJECT (h->element), "format", cases[c].format);
    g_object_set (h->element, "label-column", cases[c].label_column, NULL);
    push_text_flow (h, cases[c].input);
    push_eos (h);
    message = pop_message_text (bus, GST_MESSAGE_ERROR);
    fail_unless (message != NULL, "case %u: no error", c);
    fail_unless (strstr (message, cases[c].message) != NULL, "case %u: %s", c, message);
    g_free (message);
    unwatch_bus (h, bus);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_csv_unterminated_quote)
{
  const gchar text[] = "\"1\",\"fine\",\"row\"\n\"2\",\"open quote,never closed\n";
  GstHarness *h = new_harness ("format", 1, NULL);
  GstBus *bus = watch_bus (h);
  GPtrArray *out;
  gchar *message;

  push_text (h, text, -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  fail_unless (pop_message_text (bus, GST_MESSAGE_ERROR) == NULL);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  message = pop_message_text (bus, GST_MESSAGE_ERROR);
  fail_unless (message != NULL, "no error for an open quote at EOS");
  fail_unless (strstr (message, "input:2") != NULL, "error does not name line 2: %s", message);
  g_free (message);
  g_ptr_array_unref (out);
  unwatch_bus (h, bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_csv_bad_class)
{
  const gchar text[] = "\"1\",\"a\",\"b\"\n\"9\",\"bad\",\"class\"\n\"2\",\"c\",\"d\"\n";
  GstHarness *h = new_harness ("format", 1, NULL);
  GstBus *bus = watch_bus (h);
  GstBuffer *buffer;
  gchar *message;

  /* The chain returns an error: the first record went out, then the error names line 2. */
  push_text (h, "", 0, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  buffer = text_buffer (text, -1);
  fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_ERROR);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  message = pop_message_text (bus, GST_MESSAGE_ERROR);
  fail_unless (message != NULL);
  fail_unless (strstr (message, "input:2") != NULL, "error does not name line 2: %s", message);
  g_free (message);
  unwatch_bus (h, bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_csv_skip_bad_records)
{
  const gchar text[] = "\"1\",\"a\",\"b\"\n\"9\",\"bad\",\"class\"\n\"2\",\"c\",\"d\"\n"
      "\"0\",\"also\",\"bad\"\n\"4\",\"e\",\"f\"";
  GstHarness *h = new_harness ("format", 1, "skip-bad-records", TRUE, NULL);
  GstBus *bus = watch_bus (h);
  GPtrArray *out;
  gchar *message;
  guint64 skipped, records;

  push_text (h, text, -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 3);
  fail_unless_equals_string (get_tokens_meta (out->pdata[0])->label, "World");
  fail_unless_equals_string (get_tokens_meta (out->pdata[1])->label, "Sports");
  fail_unless_equals_string (get_tokens_meta (out->pdata[2])->label, "Sci/Tech");
  /* (popping one type discards the others before it: warnings first) */
  message = pop_message_text (bus, GST_MESSAGE_WARNING);
  fail_unless (message != NULL, "no warning for skipped records");
  fail_unless (strstr (message, "Skipped") != NULL, "%s", message);
  g_free (message);
  fail_unless (pop_message_text (bus, GST_MESSAGE_ERROR) == NULL);
  g_object_get (h->element, "skipped-records", &skipped, "records", &records, NULL);
  fail_unless_equals_uint64 (skipped, 2);
  fail_unless_equals_uint64 (records, 3);
  g_ptr_array_unref (out);
  unwatch_bus (h, bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_tsv_and_fasttext)
{
  const gchar tsv[] = "Sports\tGreat game tonight!\nWorld\tElection news\nOther\tx\n";
  const gchar fasttext[] = "__label__Sports Great game tonight!\n__label__World Election news\n";
  GstHarness *h;
  GPtrArray *out;
  GstSeqnnTokensMeta *meta;

  /* Names as written; ids from labels. */
  h = new_harness ("format", 2 /* tsv */, "labels", "World,Sports", NULL);
  push_text (h, tsv, -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 3);
  meta = get_tokens_meta (out->pdata[0]);
  assert_buffer_text (out->pdata[0], "Great game tonight!", -1);
  assert_tokens_are (meta, "great game tonight !");
  fail_unless_equals_string (meta->label, "Sports");
  fail_unless_equals_int (meta->label_id, 1);
  meta = get_tokens_meta (out->pdata[1]);
  fail_unless_equals_string (meta->label, "World");
  fail_unless_equals_int (meta->label_id, 0);
  meta = get_tokens_meta (out->pdata[2]);
  fail_unless_equals_string (meta->label, "Other");
  fail_unless_equals_int (meta->label_id, -1);
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  /* Without labels the ids stay -1. */
  h = new_harness ("format", 3 /* fasttext */, NULL);
  push_text (h, fasttext, -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  meta = get_tokens_meta (out->pdata[0]);
  assert_tokens_are (meta, "great game tonight !");
  fail_unless_equals_string (meta->label, "Sports");
  fail_unless_equals_int (meta->label_id, -1);
  meta = get_tokens_meta (out->pdata[1]);
  fail_unless_equals_string (meta->label, "World");
  assert_tokens_are (meta, "election news");
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Random bytes in random pieces, in every format: never a crash; every
 * output has a meta of valid UTF-8 tokens. */
GST_START_TEST (test_random_bytes)
{
  GRand *rand = g_rand_new_with_seed (20261128);
  const gchar alphabet[] = "\"\"\",,\n\n\r\t _lbe<>&;#x12AZaz\xc3\xa9\xff\x80";
  const guint n_rounds = g_getenv ("SEQNN_UNDER_VALGRIND") != NULL ? 8 : 60;

  for (guint round = 0; round < n_rounds; round++) {
    gint format = round % 4;
    GstHarness *h = new_harness ("format", format, "skip-bad-records", (gboolean) (round % 8 < 4),
        NULL);
    GstBus *bus = watch_bus (h);
    gsize len = g_rand_int_range (rand, 0, 400);
    gchar *bytes = g_malloc (len + 1);
    GPtrArray *out;

    if (round % 2 == 1)
      gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)pango-markup");
    for (gsize i = 0; i < len; i++)
      bytes[i] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
    for (gsize off = 0; off < len;) {
      gsize piece = (gsize) g_rand_int_range (rand, 1, 40);
      GstBuffer *buffer;

      piece = MIN (piece, len - off);
      buffer = text_buffer (bytes + off, (gssize) piece);

      if (off == 0 && round % 2 == 0)
        push_text (h, "", 0, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
      /* Malformed records may end the stream with an error: that is fine here. */
      if (gst_harness_push (h, buffer) != GST_FLOW_OK)
        break;
      off += piece;
    }
    gst_harness_push_event (h, gst_event_new_eos ());
    out = pull_all (h);
    for (guint i = 0; i < out->len; i++) {
      GstSeqnnTokensMeta *meta = get_tokens_meta (out->pdata[i]);

      for (guint t = 0; t < meta->n_tokens; t++)
        fail_unless (g_utf8_validate (meta->tokens[t], -1, NULL));
      fail_unless (meta->label == NULL || g_utf8_validate (meta->label, -1, NULL));
    }
    g_ptr_array_unref (out);
    g_free (bytes);
    unwatch_bus (h, bus);
    gst_harness_teardown (h);
  }
  g_rand_free (rand);
}

GST_END_TEST;

/* A buffer that already carries tokens (tokenized twice) keeps only the new ones. */
GST_START_TEST (test_retokenize_replaces_meta)
{
  GstHarness *h = new_harness ("lowercase", FALSE, NULL);
  const gchar *old_tokens[] = { "old", "tokens", "here" };
  GstBuffer *buffer = text_buffer ("New Text", -1);
  GPtrArray *out;
  guint n_metas = 0;
  gpointer state = NULL;
  GstMeta *meta;

  gst_buffer_add_seqnn_tokens_meta (buffer, old_tokens, 3, NULL, "x", 2);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)utf8");
  fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  while ((meta = gst_buffer_iterate_meta_filtered (out->pdata[0], &state,
              GST_SEQNN_TOKENS_META_API_TYPE)) != NULL)
    n_metas++;
  fail_unless_equals_int (n_metas, 1);
  assert_tokens_are (get_tokens_meta (out->pdata[0]), "New Text");
  fail_unless (get_tokens_meta (out->pdata[0])->label == NULL);
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- model: token ids -------------------------------------------------------- */

/* A small classifier saved into dir; returns it (for encode) and its path. */
static SeqnnClassifier *
make_model (const gchar *dir, const gchar *name, gboolean lowercase, const gchar *const *labels,
    guint n_labels, gchar **path)
{
  const gchar *words[] = { SEQNN_VOCAB_UNK, SEQNN_VOCAB_PAD, "hello", "world", "the", "cat",
    "Hello", ".", "great" };
  SeqnnConfig config;
  SeqnnTokenizerConfig tokenizer;
  SeqnnModel *model;
  SeqnnVocab *vocab;
  SeqnnClassifier *classifier;
  GError *error = NULL;

  seqnn_config_init_default (&config);
  config.vocab_size = G_N_ELEMENTS (words);
  config.embed_dim = 4;
  config.hidden_dim = 3;
  config.num_classes = (gint) n_labels;
  model = seqnn_model_new (&config, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  seqnn_model_init_params (model, 7);
  vocab = seqnn_vocab_new_from_tokens (words, G_N_ELEMENTS (words), &error);
  fail_unless (vocab != NULL, "%s", error ? error->message : "");
  seqnn_tokenizer_config_init_default (&tokenizer);
  tokenizer.lowercase = lowercase;
  classifier = seqnn_classifier_new (model, vocab, &tokenizer, labels, &error);
  fail_unless (classifier != NULL, "%s", error ? error->message : "");
  seqnn_vocab_unref (vocab);
  *path = g_build_filename (dir, name, NULL);
  fail_unless (seqnn_classifier_save (classifier, *path, &error), "%s", error ? error->message : "");
  return classifier;
}

static void
assert_ids_are_encoded (GstSeqnnTokensMeta *meta, SeqnnClassifier *classifier, const gchar *text)
{
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));

  seqnn_classifier_encode (classifier, text, -1, tokens, ids);
  fail_unless (meta->ids != NULL, "no ids with a model");
  fail_unless_equals_int (meta->n_tokens, ids->len);
  for (guint i = 0; i < ids->len; i++)
    fail_unless_equals_int (meta->ids[i], g_array_index (ids, gint32, i));
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
}

GST_START_TEST (test_model_ids)
{
  const gchar *labels[] = { "neg", "pos" };
  gchar *dir = g_dir_make_tmp ("seqtokenize-XXXXXX", NULL);
  gchar *path, *cased_path;
  SeqnnClassifier *classifier = make_model (dir, "lower.model", TRUE, labels, 2, &path);
  SeqnnClassifier *cased = make_model (dir, "cased.model", FALSE, labels, 2, &cased_path);
  GstHarness *h;
  GPtrArray *out;
  GstSeqnnTokensMeta *meta;

  h = new_harness ("model", path, NULL);
  push_text (h, "Hello the dog, WORLD.\n\nthe cat\n", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 3);
  meta = get_tokens_meta (out->pdata[0]);
  assert_ids_are_encoded (meta, classifier, "Hello the dog, WORLD.");
  /* hello the dog(unk) , (unk) world . */
  fail_unless_equals_int (meta->n_tokens, 6);
  fail_unless_equals_int (meta->ids[0], 2);
  fail_unless_equals_int (meta->ids[1], 4);
  fail_unless_equals_int (meta->ids[2], SEQNN_VOCAB_UNK_ID);
  fail_unless_equals_int (meta->ids[4], 3);
  fail_unless_equals_int (meta->ids[5], 7);
  /* An empty record still says "ids given". */
  meta = get_tokens_meta (out->pdata[1]);
  fail_unless_equals_int (meta->n_tokens, 0);
  fail_unless (meta->ids != NULL);
  assert_ids_are_encoded (get_tokens_meta (out->pdata[2]), classifier, "the cat");
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  /* The model's tokenizer settings win over the element's lowercase property. */
  h = new_harness ("model", cased_path, "lowercase", TRUE, NULL);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)utf8");
  push_text (h, "Hello hello", -1, 0, GST_SECOND);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 1);
  meta = get_tokens_meta (out->pdata[0]);
  assert_tokens_are (meta, "Hello hello");
  fail_unless_equals_int (meta->ids[0], 6);
  fail_unless_equals_int (meta->ids[1], 2);
  assert_ids_are_encoded (meta, cased, "Hello hello");
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  /* TSV labels resolve against the model's class names by default. */
  h = new_harness ("model", path, "format", 2, NULL);
  push_text (h, "pos\tgreat\nneg\tthe cat\nmeh\tx\n", -1, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 3);
  fail_unless_equals_int (get_tokens_meta (out->pdata[0])->label_id, 1);
  fail_unless_equals_int (get_tokens_meta (out->pdata[0])->ids[0], 8);
  fail_unless_equals_int (get_tokens_meta (out->pdata[1])->label_id, 0);
  fail_unless_equals_int (get_tokens_meta (out->pdata[2])->label_id, -1);
  g_ptr_array_unref (out);
  gst_harness_teardown (h);

  seqnn_classifier_free (classifier);
  seqnn_classifier_free (cased);
  g_unlink (path);
  g_unlink (cased_path);
  g_rmdir (dir);
  g_free (path);
  g_free (cased_path);
  g_free (dir);
}

GST_END_TEST;

/* Properties set while playing apply from the next buffer on. */
GST_START_TEST (test_settings_while_playing)
{
  const gchar *labels[] = { "neg", "pos" };
  gchar *dir = g_dir_make_tmp ("seqtokenize-XXXXXX", NULL);
  gchar *path, *message;
  SeqnnClassifier *classifier = make_model (dir, "m.model", TRUE, labels, 2, &path);
  GstHarness *h = new_harness (NULL);
  GstBus *bus = watch_bus (h);
  GPtrArray *out;

  gst_harness_set_src_caps_str (h, "text/x-raw, format=(string)utf8");
  push_text (h, "the cat", -1, 0, GST_SECOND);
  g_object_set (h->element, "model", path, NULL);
  push_text (h, "the cat", -1, GST_SECOND, GST_SECOND);
  out = pull_all (h);
  fail_unless_equals_int (out->len, 2);
  fail_unless (get_tokens_meta (out->pdata[0])->ids == NULL);
  assert_ids_are_encoded (get_tokens_meta (out->pdata[1]), classifier, "the cat");
  g_ptr_array_unref (out);

  /* A model that cannot be loaded: an error naming it, and the stream stops. */
  g_object_set (h->element, "model", "/nonexistent/late.model", NULL);
  fail_unless_equals_int (gst_harness_push (h, text_buffer ("x", -1)), GST_FLOW_ERROR);
  message = pop_message_text (bus, GST_MESSAGE_ERROR);
  fail_unless (message != NULL);
  fail_unless (strstr (message, "/nonexistent/late.model") != NULL, "%s", message);
  g_free (message);

  unwatch_bus (h, bus);
  gst_harness_teardown (h);
  seqnn_classifier_free (classifier);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_model_missing_or_corrupt)
{
  gchar *dir = g_dir_make_tmp ("seqtokenize-XXXXXX", NULL);
  gchar *corrupt = g_build_filename (dir, "corrupt.model", NULL);
  const gchar *paths[] = { "/nonexistent/dir/x.model", corrupt };

  fail_unless (g_file_set_contents (corrupt, "\x10\x00\x00\x00\x00\x00\x00\x00{not json", 17, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    GstElement *element = gst_element_factory_make ("seqtokenize", NULL);
    GstBus *bus = gst_bus_new ();
    GstMessage *msg;
    GError *error = NULL;
    gchar *debug = NULL, *want;

    gst_element_set_bus (element, bus);
    g_object_set (element, "model", paths[i], NULL);
    fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL, "no error message for model '%s'", paths[i]);
    gst_message_parse_error (msg, &error, &debug);
    want = g_strdup_printf ("Could not load model '%s': ", paths[i]);
    fail_unless (g_str_has_prefix (error->message, want), "message: %s", error->message);
    /* ...followed by libseqnn's reason. */
    fail_unless (strlen (error->message) > strlen (want) + 3);
    g_free (want);
    g_clear_error (&error);
    g_free (debug);
    gst_message_unref (msg);
    gst_element_set_state (element, GST_STATE_NULL);
    gst_bus_set_flushing (bus, TRUE);
    gst_element_set_bus (element, NULL);
    gst_object_unref (bus);
    gst_object_unref (element);
  }
  g_unlink (corrupt);
  g_rmdir (dir);
  g_free (corrupt);
  g_free (dir);
}

GST_END_TEST;

/* ---- pipelines --------------------------------------------------------------- */

static gboolean have_pipeline_plugins;

/* subparse's regular expressions run as PCRE2 JIT code, which valgrind
 * reports as uninitialised reads: these pipelines are skipped under it. */
static gboolean
skip_subparse_pipeline (const gchar *test)
{
  if (!have_pipeline_plugins)
    return TRUE;
  if (g_getenv ("SEQNN_UNDER_VALGRIND") != NULL) {
    g_printerr ("SKIP %s under valgrind (PCRE2 JIT in subparse)\n", test);
    return TRUE;
  }
  return FALSE;
}


static void
count_buffer (GstElement *sink, GstBuffer *buffer, GstPad *pad, gpointer user_data)
{
  GPtrArray *buffers = user_data;

  g_ptr_array_add (buffers, gst_buffer_ref (buffer));
}

/* Runs "<description> ! fakesink" to EOS; the buffers reaching the sink.
 * With error_message, an error ends the run and its text is returned there. */
static GPtrArray *
run_pipeline_full (const gchar *description, gchar **error_message)
{
  gchar *full = g_strdup_printf ("%s ! fakesink name=sink signal-handoffs=true sync=false",
      description);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (full, &error);
  GPtrArray *buffers = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  GstElement *sink;
  GstBus *bus;
  GstMessage *msg;

  fail_unless (pipeline != NULL, "%s: %s", full, error ? error->message : "");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (count_buffer), buffers);
  gst_object_unref (sink);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "pipeline timed out");
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gchar *debug = NULL;

    gst_message_parse_error (msg, &error, &debug);
    fail_unless (error_message != NULL, "pipeline error: %s (%s)", error->message, debug);
    *error_message = g_strdup (error->message);
    g_clear_error (&error);
    g_free (debug);
  } else if (error_message != NULL) {
    *error_message = NULL;
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (full);
  return buffers;
}

static GPtrArray *
run_pipeline (const gchar *description)
{
  return run_pipeline_full (description, NULL);
}

/* filesrc straight into seqtokenize: lines, CSV records, and errors that name the file. */
GST_START_TEST (test_pipeline_filesrc)
{
  const gchar text[] = "First line.\n\nThird, and last\n";
  const gchar csv[] = "\"1\",\"a\",\"b\"\n\"4\",\"c\",\"d\"\n";
  const gchar bad_csv[] = "\"1\",\"a\",\"b\"\n\"2\",\"never closed\n";
  gchar *dir, *text_path, *csv_path, *bad_path, *description, *message = NULL;
  GPtrArray *buffers;

  if (!have_pipeline_plugins)
    return;
  dir = g_dir_make_tmp ("seqtokenize-XXXXXX", NULL);
  text_path = g_build_filename (dir, "small.txt", NULL);
  csv_path = g_build_filename (dir, "small.csv", NULL);
  bad_path = g_build_filename (dir, "bad.csv", NULL);
  fail_unless (g_file_set_contents (text_path, text, -1, NULL));
  fail_unless (g_file_set_contents (csv_path, csv, -1, NULL));
  fail_unless (g_file_set_contents (bad_path, bad_csv, -1, NULL));

  /* A real sink accepts the TIME segment made from filesrc's BYTES one. */
  description = g_strdup_printf ("filesrc location=\"%s\" blocksize=5 ! seqtokenize", text_path);
  buffers = run_pipeline (description);
  fail_unless_equals_int (buffers->len, 3);
  assert_buffer_text (buffers->pdata[0], "First line.\n", -1);
  assert_tokens_are (get_tokens_meta (buffers->pdata[2]), "third , and last");
  g_ptr_array_unref (buffers);
  g_free (description);

  description = g_strdup_printf ("filesrc location=\"%s\" ! seqtokenize format=csv drop-empty=true",
      csv_path);
  buffers = run_pipeline (description);
  fail_unless_equals_int (buffers->len, 2);
  fail_unless_equals_string (get_tokens_meta (buffers->pdata[1])->label, "Sci/Tech");
  g_ptr_array_unref (buffers);
  g_free (description);

  description = g_strdup_printf ("filesrc location=\"%s\" ! seqtokenize format=csv", bad_path);
  buffers = run_pipeline_full (description, &message);
  fail_unless (message != NULL, "no error for an unterminated quote");
  fail_unless (strstr (message, "bad.csv:2") != NULL, "error does not name bad.csv:2: %s", message);
  g_free (message);
  g_ptr_array_unref (buffers);
  g_free (description);

  g_unlink (text_path);
  g_unlink (csv_path);
  g_unlink (bad_path);
  g_rmdir (dir);
  g_free (text_path);
  g_free (csv_path);
  g_free (bad_path);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_pipeline_subparse)
{
  const gchar srt[] =
      "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> there,\ngeneral Kenobi!\n\n"
      "2\n00:00:03,000 --> 00:00:04,000\nYou are a bold one.\n\n"
      "3\n00:00:05,000 --> 00:00:06,000\n<b>Kill him!</b>\n";
  gchar *dir, *path, *description;
  GPtrArray *buffers;

  if (skip_subparse_pipeline ("test_pipeline_subparse"))
    return;
  dir = g_dir_make_tmp ("seqtokenize-XXXXXX", NULL);
  path = g_build_filename (dir, "small.srt", NULL);
  fail_unless (g_file_set_contents (path, srt, -1, NULL));
  description = g_strdup_printf ("filesrc location=\"%s\" ! subparse ! seqtokenize", path);
  buffers = run_pipeline (description);
  fail_unless_equals_int (buffers->len, 3);
  assert_tokens_are (get_tokens_meta (buffers->pdata[0]), "hello there , general kenobi !");
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buffers->pdata[0]), 1 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buffers->pdata[0]), 1500 * GST_MSECOND);
  assert_tokens_are (get_tokens_meta (buffers->pdata[1]), "you are a bold one .");
  assert_tokens_are (get_tokens_meta (buffers->pdata[2]), "kill him !");
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buffers->pdata[2]), 5 * GST_SECOND);
  g_ptr_array_unref (buffers);
  g_free (description);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

/* Real data: every cue of the shared subtitle files is one record. */
GST_START_TEST (test_pipeline_real_subtitles)
{
  const gchar *data = g_getenv ("SEQNN_SHARED_DATA");
  GPtrArray *files;
  gchar *voa_dir;
  GDir *dir;

  if (skip_subparse_pipeline ("test_pipeline_real_subtitles"))
    return;
  if (data == NULL || !g_file_test (data, G_FILE_TEST_IS_DIR)) {
    g_printerr ("SKIP test_pipeline_real_subtitles: SEQNN_SHARED_DATA not set or missing\n");
    return;
  }
  files = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (files, g_strdup ("sintel_en.srt"));
  g_ptr_array_add (files, g_strdup ("gst_subrip.srt"));
  g_ptr_array_add (files, g_strdup ("elephants_dream_captions.en.vtt"));
  g_ptr_array_add (files, g_strdup ("elephants_dream_descriptions.en.vtt"));
  /* The VOA clips start with a byte order mark. */
  voa_dir = g_build_filename (data, "subtitles", "voa", NULL);
  dir = g_dir_open (voa_dir, 0, NULL);
  if (dir != NULL) {
    const gchar *name;

    while ((name = g_dir_read_name (dir)) != NULL)
      if (g_str_has_suffix (name, ".srt"))
        g_ptr_array_add (files, g_build_filename ("voa", name, NULL));
    g_dir_close (dir);
  }
  g_free (voa_dir);

  for (guint f = 0; f < files->len; f++) {
    const gchar *file = files->pdata[f];
    gchar *path = g_build_filename (data, "subtitles", file, NULL);
    gchar *contents, *description;
    gsize len;
    guint n_cues = 0;
    GPtrArray *buffers;

    if (!g_file_get_contents (path, &contents, &len, NULL)) {
      g_printerr ("SKIP %s: not readable\n", path);
      g_free (path);
      continue;
    }
    for (const gchar *p = contents; (p = strstr (p, "-->")) != NULL; p += 3)
      n_cues++;
    description = g_strdup_printf ("filesrc location=\"%s\" ! subparse ! seqtokenize", path);
    buffers = run_pipeline (description);
    fail_unless (buffers->len == n_cues, "%s: %u buffers for %u cues", file, buffers->len, n_cues);
    for (guint i = 0; i < buffers->len; i++) {
      gchar *text = buffer_text (buffers->pdata[i], NULL);

      /* subparse emits pango-markup: the tokens are those of the stripped text. */
      assert_tokens_of (get_tokens_meta (buffers->pdata[i]), text, -1, TRUE);
      fail_unless (GST_BUFFER_PTS_IS_VALID (buffers->pdata[i]));
      g_free (text);
    }
    g_ptr_array_unref (buffers);
    g_free (description);
    g_free (contents);
    g_free (path);
  }
  fail_unless (files->len >= 4);
  g_ptr_array_unref (files);
}

GST_END_TEST;

/* Real data: a transcript pushed in 4 KiB pieces comes back byte for byte, one record per line. */
GST_START_TEST (test_real_transcript_roundtrip)
{
  const gchar *data = g_getenv ("SEQNN_SHARED_DATA");
  gchar *path, *contents;
  gsize len;
  guint n_lines = 0;
  GstHarness *h;
  GPtrArray *out;
  GString *joined;

  if (data == NULL) {
    g_printerr ("SKIP test_real_transcript_roundtrip: SEQNN_SHARED_DATA not set\n");
    return;
  }
  path = g_build_filename (data, "transcripts", "earnings21_4341191_general_electric.txt", NULL);
  if (!g_file_get_contents (path, &contents, &len, NULL)) {
    g_printerr ("SKIP test_real_transcript_roundtrip: %s not readable\n", path);
    g_free (path);
    return;
  }
  if (g_getenv ("SEQNN_UNDER_VALGRIND") != NULL && len > 64 * 1024)
    len = 64 * 1024;
  for (gsize i = 0; i < len; i++)
    n_lines += contents[i] == '\n';
  if (len > 0 && contents[len - 1] != '\n')
    n_lines++;

  h = new_harness (NULL);
  for (gsize off = 0; off < len; off += 4096)
    push_text (h, contents + off, (gssize) MIN (4096, len - off), GST_CLOCK_TIME_NONE,
        GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, n_lines);
  joined = g_string_new (NULL);
  for (guint i = 0; i < out->len; i++) {
    gsize n;
    gchar *text = buffer_text (out->pdata[i], &n);

    g_string_append_len (joined, text, (gssize) n);
    g_free (text);
  }
  fail_unless_equals_int (joined->len, len);
  fail_unless (memcmp (joined->str, contents, len) == 0);
  g_string_free (joined, TRUE);
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
  g_free (contents);
  g_free (path);
}

GST_END_TEST;

/* Real data: AG News dev.csv in 4 KiB pieces gives the records and labels
 * libseqnn's reader gives for the whole text. */
GST_START_TEST (test_real_agnews_csv)
{
  const gchar *data = g_getenv ("SEQNN_SHARED_DATA");
  gchar *path, *contents;
  gsize len;
  GstHarness *h;
  GPtrArray *out;
  ReaderRecords expected;

  if (data == NULL) {
    g_printerr ("SKIP test_real_agnews_csv: SEQNN_SHARED_DATA not set\n");
    return;
  }
  path = g_build_filename (data, "agnews", "dev.csv", NULL);
  if (!g_file_get_contents (path, &contents, &len, NULL)) {
    g_printerr ("SKIP test_real_agnews_csv: %s not readable\n", path);
    g_free (path);
    return;
  }
  if (g_getenv ("SEQNN_UNDER_VALGRIND") != NULL && len > 64 * 1024) {
    /* The first records only: cut before a line that starts a new record. */
    const gchar *cut = g_strrstr_len (contents, 64 * 1024, "\n\"");

    len = (gsize) (cut - contents) + 1;
  }
  expected = read_records (SEQNN_FORMAT_CSV, contents, len);
  if (g_getenv ("SEQNN_UNDER_VALGRIND") == NULL)
    fail_unless_equals_int (expected.texts->len, 4000);

  h = new_harness ("format", 1, NULL);
  for (gsize off = 0; off < len; off += 4096)
    push_text (h, contents + off, (gssize) MIN (4096, len - off), GST_CLOCK_TIME_NONE,
        GST_CLOCK_TIME_NONE);
  push_eos (h);
  out = pull_all (h);
  fail_unless_equals_int (out->len, expected.texts->len);
  for (guint i = 0; i < out->len; i++) {
    GstSeqnnTokensMeta *meta = get_tokens_meta (out->pdata[i]);
    gint class_id = atoi (expected.labels->pdata[i]) - 1;

    assert_buffer_text (out->pdata[i], expected.texts->pdata[i], -1);
    fail_unless_equals_int (meta->label_id, class_id);
    fail_unless (meta->label_id >= 0 && meta->label_id < 4);
    fail_unless (meta->n_tokens > 0);
  }
  g_ptr_array_unref (out);
  gst_harness_teardown (h);
  reader_records_clear (&expected);
  g_free (contents);
  g_free (path);
}

GST_END_TEST;

static Suite *
seqtokenize_suite (void)
{
  Suite *s = suite_create ("seqtokenize");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_cue_markup);
  tcase_add_test (tc, test_cue_two_lines_is_one_record);
  tcase_add_test (tc, test_cue_empty);
  tcase_add_test (tc, test_invalid_utf8);
  tcase_add_test (tc, test_plain_lines_every_cut);
  tcase_add_test (tc, test_plain_bom_and_split_bytes);
  tcase_add_test (tc, test_plain_events);
  tcase_add_test (tc, test_parsed_segment_forwarded);
  tcase_add_test (tc, test_flush_resets);
  tcase_add_test (tc, test_caps_input);
  tcase_add_test (tc, test_csv_every_cut);
  tcase_add_test (tc, test_csv_labels_property);
  tcase_add_test (tc, test_csv_unterminated_quote);
  tcase_add_test (tc, test_column_layouts);
  tcase_add_test (tc, test_column_errors);
  tcase_add_test (tc, test_csv_bad_class);
  tcase_add_test (tc, test_csv_skip_bad_records);
  tcase_add_test (tc, test_tsv_and_fasttext);
  tcase_add_test (tc, test_random_bytes);
  tcase_add_test (tc, test_retokenize_replaces_meta);
  tcase_add_test (tc, test_model_ids);
  tcase_add_test (tc, test_settings_while_playing);
  tcase_add_test (tc, test_model_missing_or_corrupt);
  tcase_add_test (tc, test_pipeline_filesrc);
  tcase_add_test (tc, test_pipeline_subparse);
  tcase_add_test (tc, test_pipeline_real_subtitles);
  tcase_add_test (tc, test_real_transcript_roundtrip);
  tcase_add_test (tc, test_real_agnews_csv);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  {
    const gchar *names[] = { "coreelements", "subparse", NULL };

    have_pipeline_plugins = seqnn_test_load_system_plugins (names);
  }
  return gst_check_run_suite (seqtokenize_suite (), "seqtokenize", __FILE__);
}
