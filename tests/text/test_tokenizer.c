/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tokenizer against the Python rules: hand-written and random cases
 * (tests/fixtures/make_tokens.py wrote their expected tokens) and every row of
 * AG News dev.csv (hashes of the Python tokens in tests/fixtures/tokens). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <seqnn/dataset.h>
#include "tokenizer_cases.h"

/* Thread CPU time in seconds: timings reported on a busy machine stay meaningful. */
static gdouble
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gdouble) ts.tv_sec + ts.tv_nsec / 1e9;
}

static gchar *
join_tokens (const SeqnnTokens *tokens)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < seqnn_tokens_get_n (tokens); i++) {
    if (i > 0)
      g_string_append_c (s, '\037');
    g_string_append (s, seqnn_tokens_get (tokens, i));
  }
  return g_string_free (s, FALSE);
}

/* Tokens as a readable list for failure messages. */
static gchar *
show_joined (const gchar *joined)
{
  gchar **parts = g_strsplit (joined, "\037", -1);
  GString *s = g_string_new ("[");
  for (guint i = 0; parts[i] != NULL && *joined != '\0'; i++) {
    gchar *esc = g_strescape (parts[i], NULL);
    g_string_append_printf (s, "%s\"%s\"", i > 0 ? ", " : "", esc);
    g_free (esc);
  }
  g_string_append_c (s, ']');
  g_strfreev (parts);
  return g_string_free (s, FALSE);
}

static void
check_tokens (const gchar *what, const SeqnnTokens *tokens, const gchar *expected)
{
  gchar *got = join_tokens (tokens);
  if (strcmp (got, expected) != 0) {
    gchar *a = show_joined (got), *b = show_joined (expected);
    g_test_message ("%s:\n  got      %s\n  expected %s", what, a, b);
    g_free (a);
    g_free (b);
  }
  g_assert_cmpstr (got, ==, expected);
  /* the lengths agree with the strings, and every token is valid UTF-8 */
  for (guint i = 0; i < seqnn_tokens_get_n (tokens); i++) {
    g_assert_cmpuint (seqnn_tokens_get_len (tokens, i), ==, strlen (seqnn_tokens_get (tokens, i)));
    g_assert_true (g_utf8_validate (seqnn_tokens_get (tokens, i), -1, NULL));
    g_assert_cmpuint (seqnn_tokens_get_len (tokens, i), >, 0);
  }
  g_free (got);
}

static void
test_hand_cases (void)
{
  SeqnnTokens *tokens = seqnn_tokens_new ();
  for (guint i = 0; i < G_N_ELEMENTS (tokenizer_cases); i++) {
    const TokenizerCase *c = &tokenizer_cases[i];
    SeqnnTokenizerConfig config;
    seqnn_tokenizer_config_init_default (&config);
    config.lowercase = c->lowercase;
    config.strip_markup = c->strip_markup;
    config.max_tokens = c->max_tokens;
    /* through a copy of exactly input_len bytes, so valgrind sees any overread */
    gchar *input = g_memdup2 (c->input, (gsize) c->input_len);
    seqnn_tokenize (&config, input, c->input_len, tokens);
    gchar *esc = g_strescape (c->input, NULL);
    gchar *what = g_strdup_printf ("case %u \"%s\"", i, esc);
    check_tokens (what, tokens, c->expected);
    g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, (guint) c->n_tokens);
    g_free (what);
    g_free (esc);
    g_free (input);
  }
  seqnn_tokens_free (tokens);
}

static guchar *
unhex (const gchar *hex, gsize *len)
{
  gsize n = strlen (hex) / 2;
  guchar *out = g_malloc (n + 1);
  for (gsize i = 0; i < n; i++)
    out[i] = (guchar) (g_ascii_xdigit_value (hex[2 * i]) * 16 + g_ascii_xdigit_value (hex[2 * i + 1]));
  out[n] = 0;
  *len = n;
  return out;
}

static void
test_random_cases (void)
{
  gchar *path = g_build_filename (SEQNN_TEST_FIXTURES, "tokens", "random_cases.txt", NULL);
  gchar *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  gchar **lines = g_strsplit (contents, "\n", -1);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  guint n_cases = 0;
  for (guint i = 0; lines[i] != NULL; i++) {
    if (lines[i][0] == '#' || lines[i][0] == '\0')
      continue;
    gchar **f = g_strsplit (lines[i], " ", 3);
    g_assert_nonnull (f[0]);
    g_assert_nonnull (f[1]);
    g_assert_nonnull (f[2]);
    gsize in_len, exp_len;
    guchar *input = unhex (f[0], &in_len);
    guchar *expected = strcmp (f[2], "-") == 0 ? (guchar *) g_strdup ("") : unhex (f[2], &exp_len);
    SeqnnTokenizerConfig config;
    seqnn_tokenizer_config_init_default (&config);
    config.strip_markup = f[1][0] == '1';
    seqnn_tokenize (&config, (const gchar *) input, (gssize) in_len, tokens);
    gchar *what = g_strdup_printf ("random case line %u (%s)", i + 1, f[0]);
    check_tokens (what, tokens, (const gchar *) expected);
    g_free (what);
    g_free (input);
    g_free (expected);
    g_strfreev (f);
    n_cases++;
  }
  g_assert_cmpuint (n_cases, >=, 500);
  seqnn_tokens_free (tokens);
  g_strfreev (lines);
  g_free (contents);
  g_free (path);
}

/* Every character Python's lower() changes, and every Python whitespace
 * character, from tests/fixtures/tokens/unicode.txt. */
static void
test_unicode_tables (void)
{
  gchar *path = g_build_filename (SEQNN_TEST_FIXTURES, "tokens", "unicode.txt", NULL);
  gchar *contents = NULL;
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  gchar **lines = g_strsplit (contents, "\n", -1);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  guint n_lower = 0, n_space = 0;
  for (guint i = 0; lines[i] != NULL; i++) {
    if (lines[i][0] == '#' || lines[i][0] == '\0')
      continue;
    gchar **f = g_strsplit (lines[i], " ", -1);
    gunichar c = (gunichar) g_ascii_strtoull (f[1], NULL, 16);
    gchar input[16];
    if (strcmp (f[0], "lower") == 0) {
      /* a lone character is one token: its lowercase */
      GString *expected = g_string_new (NULL);
      for (guint k = 2; f[k] != NULL; k++)
        g_string_append_unichar (expected, (gunichar) g_ascii_strtoull (f[k], NULL, 16));
      input[g_unichar_to_utf8 (c, input)] = '\0';
      seqnn_tokenize (NULL, input, -1, tokens);
      if (seqnn_tokens_get_n (tokens) != 1 || strcmp (seqnn_tokens_get (tokens, 0), expected->str) != 0)
        g_test_message ("U+%04X lowercases to \"%s\" in Python", c, expected->str);
      g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 1);
      g_assert_cmpstr (seqnn_tokens_get (tokens, 0), ==, expected->str);
      g_string_free (expected, TRUE);
      n_lower++;
    } else {
      g_assert_cmpstr (f[0], ==, "space");
      gsize at = 0;
      input[at++] = 'a';
      at += (gsize) g_unichar_to_utf8 (c, input + at);
      input[at++] = 'b';
      input[at] = '\0';
      seqnn_tokenize (NULL, input, -1, tokens);
      if (seqnn_tokens_get_n (tokens) != 2)
        g_test_message ("U+%04X is whitespace in Python", c);
      g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 2);
      n_space++;
    }
    g_strfreev (f);
  }
  g_assert_cmpuint (n_lower, >, 1000);
  g_assert_cmpuint (n_space, ==, 29);
  /* look-alikes that Python does not split on */
  const gchar *joined[] = { "a\u200bb", "a\ufeffb", "a\u180eb", "a\u2060b" };
  for (guint i = 0; i < G_N_ELEMENTS (joined); i++) {
    seqnn_tokenize (NULL, joined[i], -1, tokens);
    g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 1);
  }
  seqnn_tokens_free (tokens);
  g_strfreev (lines);
  g_free (contents);
  g_free (path);
}

static guint64
fnv1a64_tokens (const SeqnnTokens *tokens)
{
  guint64 h = 0xcbf29ce484222325ull;
  for (guint i = 0; i < seqnn_tokens_get_n (tokens); i++) {
    if (i > 0)
      h = (h ^ 0x1f) * 0x100000001b3ull;
    for (const guchar *p = (const guchar *) seqnn_tokens_get (tokens, i); *p; p++)
      h = (h ^ *p) * 0x100000001b3ull;
  }
  return h;
}

typedef struct {
  GPtrArray *texts; /* GBytes */
  GArray *lines;    /* guint64 */
  guint limit;
} DevRows;

static gboolean
collect_dev_row (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  DevRows *rows = user_data;
  if (rows->texts->len < rows->limit) {
    g_ptr_array_add (rows->texts, g_bytes_new (record->text, record->text_len));
    g_array_append_val (rows->lines, record->line);
  }
  return TRUE;
}

static void
test_agnews_dev_parity (void)
{
  const gchar *data = g_getenv ("SEQNN_SHARED_DATA");
  gchar *csv = data != NULL ? g_build_filename (data, "agnews", "dev.csv", NULL) : NULL;
  if (csv == NULL || !g_file_test (csv, G_FILE_TEST_IS_REGULAR)) {
    g_test_skip ("SEQNN_SHARED_DATA/agnews/dev.csv not found: AG News tokenizer parity not checked");
    g_free (csv);
    return;
  }
  gchar *fixture = g_build_filename (SEQNN_TEST_FIXTURES, "tokens", "agnews_dev.txt", NULL);
  gchar *expected = NULL;
  g_assert_true (g_file_get_contents (fixture, &expected, NULL, NULL));
  gchar **lines = g_strsplit (expected, "\n", -1);
  GPtrArray *wanted = g_ptr_array_new ();
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '#' && lines[i][0] != '\0')
      g_ptr_array_add (wanted, lines[i]);

  /* the rows through the CSV reader (as Python's csv module reads them) */
  gchar *contents = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (csv, &contents, &len, NULL));
  DevRows rows = {
    .texts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref),
    .lines = g_array_new (FALSE, FALSE, sizeof (guint64)),
    .limit = g_getenv ("SEQNN_UNDER_VALGRIND") != NULL ? 200 : G_MAXUINT,
  };
  SeqnnRecordReader *reader = seqnn_record_reader_new (SEQNN_FORMAT_CSV, "dev.csv");
  GError *error = NULL;
  g_assert_true (seqnn_record_reader_feed (reader, contents, len, collect_dev_row, &rows, &error));
  g_assert_no_error (error);
  g_assert_true (seqnn_record_reader_finish (reader, collect_dev_row, &rows, &error));
  g_assert_no_error (error);
  if (rows.limit == G_MAXUINT)
    g_assert_cmpuint (rows.texts->len, ==, wanted->len);
  else
    g_assert_cmpuint (rows.texts->len, ==, MIN (rows.limit, wanted->len));

  /* throughput over all rows first (reported, not asserted) */
  SeqnnTokens *tokens = seqnn_tokens_new ();
  gsize bytes = 0;
  gdouble t0 = cpu_seconds ();
  for (guint r = 0; r < rows.texts->len; r++) {
    gsize n;
    const gchar *text = g_bytes_get_data (g_ptr_array_index (rows.texts, r), &n);
    seqnn_tokenize (NULL, text, (gssize) n, tokens);
    bytes += n;
  }
  gdouble elapsed = cpu_seconds () - t0;

  for (guint r = 0; r < rows.texts->len; r++) {
    gsize n;
    const gchar *text = g_bytes_get_data (g_ptr_array_index (rows.texts, r), &n);
    seqnn_tokenize (NULL, text, (gssize) n, tokens);
    guint expected_n = 0;
    guint64 expected_hash = 0;
    g_assert_cmpint (sscanf (g_ptr_array_index (wanted, r), "%u %" G_GINT64_MODIFIER "x",
        &expected_n, &expected_hash), ==, 2);
    guint64 hash = fnv1a64_tokens (tokens);
    if (hash != expected_hash || seqnn_tokens_get_n (tokens) != expected_n) {
      gchar *got = join_tokens (tokens);
      gchar *shown = show_joined (got);
      gchar *copy = g_strndup (text, n);
      g_test_message ("dev.csv row %u (line %" G_GUINT64_FORMAT "): %u tokens, Python %u\n"
          "  text %s\n  got %s", r + 1, g_array_index (rows.lines, guint64, r),
          seqnn_tokens_get_n (tokens), expected_n, copy, shown);
      g_free (copy);
      g_free (shown);
      g_free (got);
    }
    g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, expected_n);
    g_assert_cmpuint (hash, ==, expected_hash);
  }
  g_test_message ("dev.csv: %u rows match the Python tokens; tokenizer %.1f MB/s (CPU time)",
      rows.texts->len, elapsed > 0 ? bytes / elapsed / 1e6 : 0.0);

  seqnn_tokens_free (tokens);
  seqnn_record_reader_free (reader);
  g_ptr_array_unref (rows.texts);
  g_array_unref (rows.lines);
  g_ptr_array_unref (wanted);
  g_strfreev (lines);
  g_free (contents);
  g_free (expected);
  g_free (fixture);
  g_free (csv);
}

static void
test_tokens_api (void)
{
  SeqnnTokens *tokens = seqnn_tokens_new ();
  g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 0);
  seqnn_tokens_append (tokens, "abc", -1);
  seqnn_tokens_append (tokens, "xyz", 2);
  seqnn_tokens_append (tokens, "a\xff" "b", 3);    /* invalid byte replaced */
  seqnn_tokens_append (tokens, "\xe2\x82", 2);   /* truncated sequence: one U+FFFD */
  seqnn_tokens_append (tokens, "", 0);
  g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 5);
  g_assert_cmpstr (seqnn_tokens_get (tokens, 0), ==, "abc");
  g_assert_cmpstr (seqnn_tokens_get (tokens, 1), ==, "xy");
  g_assert_cmpstr (seqnn_tokens_get (tokens, 2), ==, "a\xef\xbf\xbd" "b");
  g_assert_cmpstr (seqnn_tokens_get (tokens, 3), ==, "\xef\xbf\xbd");
  g_assert_cmpstr (seqnn_tokens_get (tokens, 4), ==, "");
  g_assert_cmpuint (seqnn_tokens_get_len (tokens, 2), ==, 5);
  g_assert_cmpuint (seqnn_tokens_get_len (tokens, 4), ==, 0);
  /* tokenize clears first; a long text grows the arena */
  GString *big = g_string_new (NULL);
  for (guint i = 0; i < 5000; i++)
    g_string_append_printf (big, "Word%u, ", i);
  seqnn_tokenize (NULL, big->str, -1, tokens);
  g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 10000);
  g_assert_cmpstr (seqnn_tokens_get (tokens, 9998), ==, "word4999");
  g_assert_cmpstr (seqnn_tokens_get (tokens, 9999), ==, ",");
  /* len -1 stops at the NUL; an explicit length reads past it */
  seqnn_tokenize (NULL, "a\0b", -1, tokens);
  g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 1);
  seqnn_tokenize (NULL, "a\0b", 3, tokens);
  g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 1);
  g_assert_cmpstr (seqnn_tokens_get (tokens, 0), ==, "a\xef\xbf\xbd" "b");
  seqnn_tokenize (NULL, NULL, 0, tokens);
  g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 0);
  seqnn_tokens_clear (tokens);
  g_assert_cmpuint (seqnn_tokens_get_n (tokens), ==, 0);
  g_string_free (big, TRUE);
  seqnn_tokens_free (tokens);
  seqnn_tokens_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/tokenizer/hand-cases", test_hand_cases);
  g_test_add_func ("/text/tokenizer/random-cases", test_random_cases);
  g_test_add_func ("/text/tokenizer/unicode-tables", test_unicode_tables);
  g_test_add_func ("/text/tokenizer/tokens-api", test_tokens_api);
  g_test_add_func ("/text/tokenizer/agnews-dev-parity", test_agnews_dev_parity);
  return g_test_run ();
}
