/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A validating scanner for strict RFC 8259 JSON (see jsonstrict.h). It keeps
 * an explicit stack of at most max_depth open containers instead of
 * recursing, so no input can exhaust the C stack; each open object holds the
 * set of its decoded keys to refuse repeats. */
#include "jsonstrict.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static gboolean
is_ws (gchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static gboolean
read_hex4 (const gchar *p, gsize avail, gunichar *value)
{
  *value = 0;
  if (avail < 4)
    return FALSE;
  for (gint k = 0; k < 4; k++) {
    gint digit = g_ascii_xdigit_value (p[k]);
    if (digit < 0)
      return FALSE;
    *value = *value * 16 + (gunichar) digit;
  }
  return TRUE;
}

static gchar
simple_escape (gchar c)
{
  switch (c) {
  case '"': return '"';
  case '\\': return '\\';
  case '/': return '/';
  case 'b': return '\b';
  case 'f': return '\f';
  case 'n': return '\n';
  case 'r': return '\r';
  case 't': return '\t';
  default: return 0;
  }
}

/* The \uXXXX escape at text[*pos] (the 'u'), a surrogate pair taken whole;
 * *pos ends on its last hex digit. */
static const gchar *
read_unicode_escape (const gchar *text, gsize len, gsize *pos, gunichar *out)
{
  gsize p = *pos;
  gunichar c = 0;
  if (!read_hex4 (text + p + 1, len - p - 1, &c))
    return "bad \\u escape";
  p += 4;
  if (c >= 0xD800 && c < 0xDC00) {
    gunichar low = 0;
    if (len - p < 3 || text[p + 1] != '\\' || text[p + 2] != 'u' ||
        !read_hex4 (text + p + 3, len - p - 3, &low) || low < 0xDC00 || low > 0xDFFF)
      return "unpaired surrogate";
    c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
    p += 6;
  } else if (c >= 0xDC00 && c <= 0xDFFF) {
    return "unpaired surrogate";
  } else if (c == 0) {
    return "NUL character";
  }
  *pos = p;
  *out = c;
  return NULL;
}

const gchar *
seqnn_json_read_string (const gchar *text, gsize len, gsize *pos, GString *out)
{
  gsize p = *pos + 1; /* past the opening quote */
  for (;;) {
    gsize run = p;
    while (p < len && text[p] != '"' && text[p] != '\\' && (guchar) text[p] >= 0x20)
      p++;
    if (out)
      g_string_append_len (out, text + run, (gssize) (p - run));
    if (p >= len) {
      *pos = p;
      return "unterminated string";
    }
    if (text[p] == '"')
      break;
    if (text[p] != '\\') {
      *pos = p;
      return text[p] == '\0' ? "NUL character" : "control character";
    }
    p++;
    if (p >= len) {
      *pos = p;
      return "unterminated string";
    }
    gunichar c = (gunichar) simple_escape (text[p]);
    if (text[p] == 'u') {
      const gchar *why = read_unicode_escape (text, len, &p, &c);
      if (why != NULL) {
        *pos = p - 1; /* the backslash */
        return why;
      }
    } else if (c == 0) {
      *pos = p - 1;
      return "bad escape";
    }
    if (out)
      g_string_append_unichar (out, c);
    p++;
  }
  *pos = p + 1;
  return NULL;
}

/* A number at text[*pos] by RFC 8259's grammar, finite, integers in 64 bits. */
static const gchar *
read_number (const gchar *text, gsize len, gsize *pos)
{
  gsize start = *pos, p = start;
  gboolean integer = TRUE;
  if (p < len && text[p] == '-')
    p++;
  if (p < len && text[p] == '0') {
    p++;
  } else if (p < len && text[p] >= '1' && text[p] <= '9') {
    while (p < len && g_ascii_isdigit (text[p]))
      p++;
  } else {
    *pos = p;
    return "bad number";
  }
  if (p < len && text[p] == '.') {
    integer = FALSE;
    p++;
    if (p >= len || !g_ascii_isdigit (text[p])) {
      *pos = p;
      return "bad number (digits must follow '.')";
    }
    while (p < len && g_ascii_isdigit (text[p]))
      p++;
  }
  if (p < len && (text[p] == 'e' || text[p] == 'E')) {
    integer = FALSE;
    p++;
    if (p < len && (text[p] == '+' || text[p] == '-'))
      p++;
    if (p >= len || !g_ascii_isdigit (text[p])) {
      *pos = p;
      return "bad number (digits must follow the exponent)";
    }
    while (p < len && g_ascii_isdigit (text[p]))
      p++;
  }
  if (p < len && g_ascii_isdigit (text[p])) {
    *pos = p;
    return "bad number (leading zero)";
  }
  gchar *copy = g_strndup (text + start, p - start);
  gboolean ok;
  errno = 0;
  if (integer) {
    (void) g_ascii_strtoll (copy, NULL, 10);
    ok = errno == 0;
  } else {
    ok = isfinite (g_ascii_strtod (copy, NULL));
  }
  g_free (copy);
  if (!ok) {
    *pos = start;
    return integer ? "integer out of the 64-bit range" : "number out of range";
  }
  *pos = p;
  return NULL;
}

/* Names what a refused value starts with: lenient JSON's usual extensions. */
static const gchar *
what_instead_of_value (const gchar *text, gsize len, gsize p)
{
  if (p >= len)
    return "unexpected end (a value was expected)";
  gchar c = text[p];
  if (c == '\'')
    return "single-quoted string (JSON strings use double quotes)";
  if (c == '/')
    return "comment (JSON has no comments)";
  if (c == 'N' || c == 'I' || (c == '-' && p + 1 < len && text[p + 1] == 'I'))
    return "NaN or Infinity (not JSON)";
  if (c == '+' || c == '.')
    return "bad number";
  return "expected a value";
}

static const gchar *
read_literal (const gchar *text, gsize len, gsize *pos)
{
  static const gchar *const literals[] = { "true", "false", "null" };
  for (guint i = 0; i < G_N_ELEMENTS (literals); i++) {
    gsize n = strlen (literals[i]);
    if (len - *pos >= n && memcmp (text + *pos, literals[i], n) == 0) {
      *pos += n;
      return NULL;
    }
  }
  return what_instead_of_value (text, len, *pos);
}

typedef enum {
  EXPECT_VALUE,          /* a value: top level, after ':' or after ',' in an array */
  EXPECT_VALUE_OR_CLOSE, /* just after '[' */
  EXPECT_KEY,            /* after ',' in an object */
  EXPECT_KEY_OR_CLOSE,   /* just after '{' */
  EXPECT_COLON,
  EXPECT_COMMA_OR_CLOSE, /* after a value inside a container */
  EXPECT_END,            /* after the top-level value */
} Expect;

typedef struct {
  gboolean is_object;
  GHashTable *keys; /* objects: decoded keys seen so far */
} Frame;

typedef struct {
  const gchar *text;
  gsize len, pos;
  guint max_depth, depth;
  Frame *stack;       /* max_depth frames */
  Expect expect;
  GString *key;       /* scratch for the key being read */
  gchar *why;         /* set on failure */
} Scanner;

static gboolean
fail_at (Scanner *s, gsize at, const gchar *what)
{
  s->why = g_strdup_printf ("%s at byte %" G_GSIZE_FORMAT, what, at);
  return FALSE;
}

static gboolean
open_container (Scanner *s, gboolean is_object)
{
  if (s->depth == s->max_depth)
    return fail_at (s, s->pos, "nested too deeply");
  Frame *frame = &s->stack[s->depth++];
  frame->is_object = is_object;
  frame->keys = is_object ? g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL) : NULL;
  s->expect = is_object ? EXPECT_KEY_OR_CLOSE : EXPECT_VALUE_OR_CLOSE;
  s->pos++;
  return TRUE;
}

static void
after_value (Scanner *s)
{
  s->expect = s->depth == 0 ? EXPECT_END : EXPECT_COMMA_OR_CLOSE;
}

static void
close_container (Scanner *s)
{
  Frame *frame = &s->stack[--s->depth];
  g_clear_pointer (&frame->keys, g_hash_table_unref);
  s->pos++;
  after_value (s);
}

static gboolean
scan_value (Scanner *s)
{
  gchar c = s->text[s->pos];
  const gchar *why = NULL;
  gsize at = s->pos;
  if (c == '{' || c == '[')
    return open_container (s, c == '{');
  if (c == '"')
    why = seqnn_json_read_string (s->text, s->len, &s->pos, NULL);
  else if (c == '-' || g_ascii_isdigit (c))
    why = (c == '-' && s->pos + 1 < s->len && s->text[s->pos + 1] == 'I')
        ? what_instead_of_value (s->text, s->len, s->pos)
        : read_number (s->text, s->len, &s->pos);
  else
    why = read_literal (s->text, s->len, &s->pos);
  if (why != NULL)
    return fail_at (s, c == '"' || c == '-' || g_ascii_isdigit (c) ? s->pos : at, why);
  after_value (s);
  return TRUE;
}

static gboolean
scan_key (Scanner *s)
{
  gchar c = s->text[s->pos];
  if (c != '"') {
    if (c == '\'')
      return fail_at (s, s->pos, "single-quoted key (JSON strings use double quotes)");
    if (c == '/')
      return fail_at (s, s->pos, "comment (JSON has no comments)");
    return fail_at (s, s->pos, "expected a double-quoted key");
  }
  gsize at = s->pos;
  g_string_truncate (s->key, 0);
  const gchar *why = seqnn_json_read_string (s->text, s->len, &s->pos, s->key);
  if (why != NULL)
    return fail_at (s, s->pos, why);
  GHashTable *keys = s->stack[s->depth - 1].keys;
  if (g_hash_table_contains (keys, s->key->str)) {
    gchar *what = g_strdup_printf ("object repeats a key \"%.64s\"", s->key->str);
    fail_at (s, at, what);
    g_free (what);
    return FALSE;
  }
  g_hash_table_add (keys, g_strndup (s->key->str, s->key->len));
  s->expect = EXPECT_COLON;
  return TRUE;
}

/* After a value inside a container: ',' or the matching close. */
static gboolean
scan_separator (Scanner *s)
{
  gchar c = s->text[s->pos];
  gboolean is_object = s->stack[s->depth - 1].is_object;
  if (c == ',') {
    s->pos++;
    s->expect = is_object ? EXPECT_KEY : EXPECT_VALUE;
    return TRUE;
  }
  if (c == (is_object ? '}' : ']')) {
    close_container (s);
    return TRUE;
  }
  if (c == '/')
    return fail_at (s, s->pos, "comment (JSON has no comments)");
  return fail_at (s, s->pos, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* One step from the current state at a non-space byte. */
static gboolean
scan_step (Scanner *s)
{
  gchar c = s->text[s->pos];
  switch (s->expect) {
  case EXPECT_VALUE_OR_CLOSE:
    if (c == ']') {
      close_container (s);
      return TRUE;
    }
    return scan_value (s);
  case EXPECT_VALUE:
    if (c == ']' && s->depth > 0)
      return fail_at (s, s->pos, "trailing comma");
    return scan_value (s);
  case EXPECT_KEY_OR_CLOSE:
    if (c == '}') {
      close_container (s);
      return TRUE;
    }
    return scan_key (s);
  case EXPECT_KEY:
    if (c == '}')
      return fail_at (s, s->pos, "trailing comma");
    return scan_key (s);
  case EXPECT_COLON:
    if (c != ':')
      return fail_at (s, s->pos, "expected ':' after the key");
    s->pos++;
    s->expect = EXPECT_VALUE;
    return TRUE;
  case EXPECT_COMMA_OR_CLOSE:
    return scan_separator (s);
  case EXPECT_END:
  default:
    return fail_at (s, s->pos, c == '/' ? "comment (JSON has no comments)" : "text after the JSON value");
  }
}

gboolean
seqnn_json_check (const gchar *text, gsize len, guint max_depth, gchar **why)
{
  const gchar *end = NULL;
  if (!g_utf8_validate_len (text, len, &end)) {
    *why = g_strdup_printf ("not valid UTF-8 at byte %" G_GSIZE_FORMAT, (gsize) (end - text));
    return FALSE;
  }
  Scanner s = {
    .text = text, .len = len, .max_depth = max_depth,
    .stack = g_new0 (Frame, MAX (max_depth, 1)), .expect = EXPECT_VALUE, .key = g_string_new (NULL),
  };
  gboolean ok = TRUE;
  for (;;) {
    while (s.pos < len && is_ws (text[s.pos]))
      s.pos++;
    if (s.pos == len)
      break;
    if (!scan_step (&s)) {
      ok = FALSE;
      break;
    }
  }
  if (ok && s.expect != EXPECT_END)
    ok = fail_at (&s, len, len == 0 || (s.expect == EXPECT_VALUE && s.depth == 0)
        ? "empty (no JSON value)" : "unexpected end (unclosed object, array or value)");
  while (s.depth > 0)
    g_clear_pointer (&s.stack[--s.depth].keys, g_hash_table_unref);
  g_free (s.stack);
  g_string_free (s.key, TRUE);
  *why = s.why;
  return ok;
}
