/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* torchtext's basic_english tokenizer as one pass over the bytes.
 *
 * basic_english is line.lower(), then the regex replacements
 *   '  -> " '  "    "  -> ""        .  -> " . "    <br /> -> " "
 *   ,  -> " , "     (  -> " ( "     )  -> " ) "    !  -> " ! "
 *   ?  -> " ? "     ;  -> " "       :  -> " "      \s+ -> " "
 * and split(). Working through their interactions gives a simple scanner over
 * the lowercased text with '"' deleted (that deletion is the only rule that can
 * create a "<br />": '<b"r />' is one; the spaces that ' and . insert never
 * complete one, as the character next to the inserted space is the ' or .):
 *   - "<br />" (matched left to right, never overlapping) separates;
 *   - Unicode whitespace (Python's str.isspace), ';' and ':' separate;
 *   - ' . , ( ) ! ? are tokens of their own;
 *   - every other character is part of a token.
 * Python's lower() is g_unichar_tolower except for U+0130 (-> "i\u0307"), the
 * context-dependent capital sigma and two ranges GLib leaves alone (Roman
 * numerals and circled letters), all handled here. */
#include <string.h>
#include "seqnn/text.h"

struct _SeqnnTokens {
  gchar *arena; /* tokens back to back, each NUL-terminated */
  gsize arena_len, arena_cap;
  gsize *starts; /* byte offset of each token in arena */
  guint n, starts_cap;
  GString *scratch; /* markup-stripped text */
};

/* ---- token list ------------------------------------------------------------ */

SeqnnTokens *
seqnn_tokens_new (void)
{
  SeqnnTokens *tokens = g_new0 (SeqnnTokens, 1);
  tokens->arena_cap = 256;
  tokens->arena = g_malloc (tokens->arena_cap);
  tokens->starts_cap = 64;
  tokens->starts = g_new (gsize, tokens->starts_cap);
  return tokens;
}

void
seqnn_tokens_free (SeqnnTokens *tokens)
{
  if (tokens == NULL)
    return;
  g_free (tokens->arena);
  g_free (tokens->starts);
  if (tokens->scratch != NULL)
    g_string_free (tokens->scratch, TRUE);
  g_free (tokens);
}

void
seqnn_tokens_clear (SeqnnTokens *tokens)
{
  g_return_if_fail (tokens != NULL);
  tokens->arena_len = 0;
  tokens->n = 0;
}

guint
seqnn_tokens_get_n (const SeqnnTokens *tokens)
{
  g_return_val_if_fail (tokens != NULL, 0);
  return tokens->n;
}

const gchar *
seqnn_tokens_get (const SeqnnTokens *tokens, guint index)
{
  g_return_val_if_fail (tokens != NULL, NULL);
  g_return_val_if_fail (index < tokens->n, NULL);
  return tokens->arena + tokens->starts[index];
}

gsize
seqnn_tokens_get_len (const SeqnnTokens *tokens, guint index)
{
  g_return_val_if_fail (tokens != NULL, 0);
  g_return_val_if_fail (index < tokens->n, 0);
  gsize end = index + 1 < tokens->n ? tokens->starts[index + 1] : tokens->arena_len;
  return end - tokens->starts[index] - 1;
}

static G_GNUC_NO_INLINE void
tokens_grow_arena (SeqnnTokens *tokens, gsize need)
{
  while (tokens->arena_cap < tokens->arena_len + need)
    tokens->arena_cap *= 2;
  tokens->arena = g_realloc (tokens->arena, tokens->arena_cap);
}

/* Room for need more bytes. */
static inline void
tokens_reserve (SeqnnTokens *tokens, gsize need)
{
  if (G_UNLIKELY (tokens->arena_len + need > tokens->arena_cap))
    tokens_grow_arena (tokens, need);
}

static inline void
tokens_begin (SeqnnTokens *tokens)
{
  if (G_UNLIKELY (tokens->n == tokens->starts_cap)) {
    tokens->starts_cap *= 2;
    tokens->starts = g_renew (gsize, tokens->starts, tokens->starts_cap);
  }
  tokens->starts[tokens->n++] = tokens->arena_len;
}

static inline void
tokens_end (SeqnnTokens *tokens)
{
  tokens_reserve (tokens, 1);
  tokens->arena[tokens->arena_len++] = '\0';
}

/* ---- UTF-8 decoding as CPython's decoder with errors='replace' ------------- */

#define REPLACEMENT_CHAR 0xFFFDu

/* Decodes one character at s (len > 0 bytes left) into *c and returns the
 * bytes consumed. An invalid sequence gives U+FFFD and consumes its maximal
 * valid prefix (at least one byte), the "maximal subpart" rule of Unicode
 * and CPython. */
static inline gsize
decode_utf8 (const guchar *s, gsize len, gunichar *c)
{
  guchar b0 = s[0];
  if (b0 < 0x80) {
    *c = b0;
    return 1;
  }
  gsize need;
  guchar lo = 0x80, hi = 0xBF; /* range of the second byte */
  gunichar value;
  if (b0 < 0xC2) {
    *c = REPLACEMENT_CHAR;
    return 1;
  } else if (b0 < 0xE0) {
    need = 1;
    value = b0 & 0x1F;
  } else if (b0 < 0xF0) {
    need = 2;
    value = b0 & 0x0F;
    if (b0 == 0xE0)
      lo = 0xA0;
    else if (b0 == 0xED)
      hi = 0x9F;
  } else if (b0 < 0xF5) {
    need = 3;
    value = b0 & 0x07;
    if (b0 == 0xF0)
      lo = 0x90;
    else if (b0 == 0xF4)
      hi = 0x8F;
  } else {
    *c = REPLACEMENT_CHAR;
    return 1;
  }
  gsize i;
  for (i = 1; i <= need; i++) {
    if (i >= len) {
      *c = REPLACEMENT_CHAR;
      return i;
    }
    guchar b = s[i];
    if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
      *c = REPLACEMENT_CHAR;
      return i;
    }
    value = (value << 6) | (b & 0x3F);
  }
  *c = value;
  return need + 1;
}

static inline gsize
encode_utf8 (gunichar c, gchar *out)
{
  if (c < 0x80) {
    out[0] = (gchar) c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (gchar) (0xC0 | (c >> 6));
    out[1] = (gchar) (0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (gchar) (0xE0 | (c >> 12));
    out[1] = (gchar) (0x80 | ((c >> 6) & 0x3F));
    out[2] = (gchar) (0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (gchar) (0xF0 | (c >> 18));
  out[1] = (gchar) (0x80 | ((c >> 12) & 0x3F));
  out[2] = (gchar) (0x80 | ((c >> 6) & 0x3F));
  out[3] = (gchar) (0x80 | (c & 0x3F));
  return 4;
}

void
seqnn_tokens_append (SeqnnTokens *tokens, const gchar *token, gssize len)
{
  g_return_if_fail (tokens != NULL);
  g_return_if_fail (token != NULL || len == 0);
  gsize n = len < 0 ? strlen (token) : (gsize) len;
  const guchar *s = (const guchar *) token;
  tokens_begin (tokens);
  tokens_reserve (tokens, n + 1);
  for (gsize i = 0; i < n;) {
    if (s[i] != 0 && s[i] < 0x80) {
      tokens->arena[tokens->arena_len++] = (gchar) s[i++];
      continue;
    }
    gunichar c;
    i += decode_utf8 (s + i, n - i, &c);
    if (c == 0)
      c = REPLACEMENT_CHAR;
    tokens_reserve (tokens, 4 + 1);
    tokens->arena_len += encode_utf8 (c, tokens->arena + tokens->arena_len);
  }
  tokens_end (tokens);
}

/* ---- character classes ------------------------------------------------------ */

enum {
  CLS_WORD = 0,   /* part of a token */
  CLS_SEP = 1,    /* whitespace ; : */
  CLS_SOLO = 2,   /* ' . , ( ) ! ? */
  CLS_DROP = 3,   /* " */
  CLS_LT = 4,     /* < may open "<br />" */
  CLS_NUL = 5,    /* U+0000 becomes U+FFFD */
};

/* ASCII flags for the final-sigma context. */
#define ASCII_CASED 0x10
#define ASCII_IGNORABLE 0x20
#define ASCII_CLASS_MASK 0x0F

static guint8 ascii_table[128];
static gchar ascii_lower[128];

static void
init_tables (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    for (int c = 0; c < 128; c++) {
      ascii_table[c] = CLS_WORD;
      ascii_lower[c] = (gchar) ((c >= 'A' && c <= 'Z') ? c + 32 : c);
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        ascii_table[c] |= ASCII_CASED;
    }
    /* Python's whitespace in ASCII: \t \n \v \f \r, the separators 0x1C-0x1F, space */
    for (int c = 0x09; c <= 0x0D; c++)
      ascii_table[c] = CLS_SEP;
    for (int c = 0x1C; c <= 0x20; c++)
      ascii_table[c] = CLS_SEP;
    ascii_table[';'] = CLS_SEP;
    ascii_table[':'] = CLS_SEP | ASCII_IGNORABLE;
    ascii_table['\''] = CLS_SOLO | ASCII_IGNORABLE;
    ascii_table['.'] = CLS_SOLO | ASCII_IGNORABLE;
    ascii_table[','] = CLS_SOLO;
    ascii_table['('] = CLS_SOLO;
    ascii_table[')'] = CLS_SOLO;
    ascii_table['!'] = CLS_SOLO;
    ascii_table['?'] = CLS_SOLO;
    ascii_table['"'] = CLS_DROP;
    ascii_table['<'] = CLS_LT;
    ascii_table[0] = CLS_NUL;
    /* ^ and ` are modifier symbols, so case-ignorable */
    ascii_table['^'] |= ASCII_IGNORABLE;
    ascii_table['`'] |= ASCII_IGNORABLE;
    g_once_init_leave (&done, 1);
  }
}

/* Python's str.isspace outside ASCII. */
static inline gboolean
is_unicode_space (gunichar c)
{
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000:
      return TRUE;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

/* Unicode's Case_Ignorable (as CPython's _PyUnicode_IsCaseIgnorable). */
static gboolean
is_case_ignorable (gunichar c)
{
  if (c < 0x80)
    return (ascii_table[c] & ASCII_IGNORABLE) != 0;
  switch (g_unichar_type (c)) {
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_FORMAT:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_MODIFIER_SYMBOL:
      return TRUE;
    default:
      break;
  }
  /* Word_Break MidLetter and MidNumLet */
  switch (c) {
    case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07:
    case 0xFF0E: case 0xFF1A:
      return TRUE;
    default:
      return FALSE;
  }
}

/* Unicode's Cased, for characters that are not case-ignorable. */
static gboolean
is_cased (gunichar c)
{
  if (c < 0x80)
    return (ascii_table[c] & ASCII_CASED) != 0;
  switch (g_unichar_type (c)) {
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
      return TRUE;
    default:
      break;
  }
  /* Other_Lowercase / Other_Uppercase that are neither letters Lu/Ll/Lt nor ignorable */
  return c == 0xAA || c == 0xBA || (c >= 0x2160 && c <= 0x217F) || (c >= 0x24B6 && c <= 0x24E9);
}

/* Python's lower() for one character other than U+0130 and U+03A3. */
static inline gunichar
python_tolower (gunichar c)
{
  if (c >= 0x2160 && c <= 0x216F)
    return c + 0x10;
  if (c >= 0x24B6 && c <= 0x24CF)
    return c + 0x1A;
  return g_unichar_tolower (c);
}

/* Final_Sigma's look-ahead: is a cased letter next, after case-ignorables? */
static gboolean
cased_follows (const guchar *s, gsize len)
{
  gsize i = 0;
  while (i < len) {
    gunichar c;
    i += decode_utf8 (s + i, len - i, &c);
    if (!is_case_ignorable (c))
      return is_cased (c);
  }
  return FALSE;
}

/* Does "<br />" start at s[0] == '<', with '"' deleted in between (and
 * uppercase letters when lowercasing)? Returns its length in bytes, or 0. */
static gsize
match_br (const guchar *s, gsize len, gboolean lowercase)
{
  static const gchar pattern[] = "br />";
  gsize i = 1;
  for (const gchar *p = pattern; *p != '\0'; p++) {
    while (i < len && s[i] == '"')
      i++;
    if (i >= len)
      return 0;
    guchar c = s[i];
    if (lowercase && c >= 'A' && c <= 'Z')
      c += 32;
    if (c != (guchar) *p)
      return 0;
    i++;
  }
  return i;
}

/* ---- markup ------------------------------------------------------------------ */

static inline gboolean
is_ascii_alpha (guchar c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of a tag at s[0] == '<', or 0 when it is text. *breaks is set for
 * tags that separate words (br, p, div). */
static gsize
match_tag (const guchar *s, gsize len, gboolean *breaks)
{
  gsize i = 1;
  if (i < len && s[i] == '/')
    i++;
  if (i >= len || !is_ascii_alpha (s[i]))
    return 0;
  gsize name_start = i;
  while (i < len && (g_ascii_isalnum (s[i]) || s[i] == '.' || s[i] == '_' || s[i] == ':' || s[i] == '-'))
    i++;
  gsize name_len = i - name_start;
  if (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '/')) {
    while (i < len && s[i] != '>' && s[i] != '<')
      i++;
  }
  if (i >= len || s[i] != '>')
    return 0;
  const gchar *name = (const gchar *) s + name_start;
  *breaks = (name_len == 2 && g_ascii_strncasecmp (name, "br", 2) == 0)
      || (name_len == 1 && g_ascii_strncasecmp (name, "p", 1) == 0)
      || (name_len == 3 && g_ascii_strncasecmp (name, "div", 3) == 0);
  return i + 1;
}

/* Length of an entity at s[0] == '&' with its character in *c, or 0. */
static gsize
match_entity (const guchar *s, gsize len, gunichar *c)
{
  static const struct { const gchar *name; gunichar c; } named[] = {
    { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
    { "nbsp;", 0xA0 },
  };
  if (len >= 2 && s[1] == '#') {
    gsize i = 2;
    gboolean hex = i < len && (s[i] == 'x' || s[i] == 'X');
    if (hex)
      i++;
    gsize digits_start = i;
    guint64 value = 0;
    while (i < len && (hex ? g_ascii_isxdigit (s[i]) : g_ascii_isdigit (s[i]))) {
      if (value <= 0x10FFFF)
        value = value * (hex ? 16 : 10) + (guint64) (hex ? g_ascii_xdigit_value (s[i]) : s[i] - '0');
      i++;
    }
    if (i == digits_start || i >= len || s[i] != ';')
      return 0;
    if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value < 0xE000))
      value = REPLACEMENT_CHAR;
    *c = (gunichar) value;
    return i + 1;
  }
  for (guint k = 0; k < G_N_ELEMENTS (named); k++) {
    gsize n = strlen (named[k].name);
    if (len >= 1 + n && memcmp (s + 1, named[k].name, n) == 0) {
      *c = named[k].c;
      return 1 + n;
    }
  }
  return 0;
}

static void
strip_markup (const guchar *s, gsize len, GString *out)
{
  g_string_truncate (out, 0);
  gsize i = 0, run = 0;
  while (i < len) {
    guchar b = s[i];
    gsize n = 0;
    gboolean breaks = FALSE;
    gunichar c = 0;
    if (b == '<')
      n = match_tag (s + i, len - i, &breaks);
    else if (b == '&')
      n = match_entity (s + i, len - i, &c);
    if (n == 0) {
      i++;
      continue;
    }
    g_string_append_len (out, (const gchar *) s + run, (gssize) (i - run));
    if (b == '<') {
      if (breaks)
        g_string_append_c (out, ' ');
    } else {
      g_string_append_unichar (out, c);
    }
    i += n;
    run = i;
  }
  g_string_append_len (out, (const gchar *) s + run, (gssize) (len - run));
}

/* ---- tokenizer ---------------------------------------------------------------- */

void
seqnn_tokenizer_config_init_default (SeqnnTokenizerConfig *config)
{
  g_return_if_fail (config != NULL);
  config->lowercase = TRUE;
  config->strip_markup = FALSE;
  config->max_tokens = 0;
  config->word_ngrams = 1;
}

/* Closes the token being built, if any; TRUE when that reaches the cap. */
static inline gboolean
end_token (SeqnnTokens *out, gboolean *in_token, guint max_tokens)
{
  if (!*in_token)
    return FALSE;
  tokens_end (out);
  *in_token = FALSE;
  return out->n >= max_tokens;
}

/* Appends a character to the token being built, opening one if needed. */
static inline void
put_char (SeqnnTokens *out, gboolean *in_token, gunichar c)
{
  if (!*in_token) {
    tokens_begin (out);
    *in_token = TRUE;
  }
  tokens_reserve (out, 8);
  out->arena_len += encode_utf8 (c, out->arena + out->arena_len);
}

void
seqnn_tokenize (const SeqnnTokenizerConfig *config, const gchar *text, gssize len,
    SeqnnTokens *out)
{
  g_return_if_fail (out != NULL);
  seqnn_tokens_clear (out);
  if (text == NULL)
    return;
  init_tables ();

  SeqnnTokenizerConfig defaults;
  if (config == NULL) {
    seqnn_tokenizer_config_init_default (&defaults);
    config = &defaults;
  }
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  const guchar *s = (const guchar *) text;
  if (config->strip_markup) {
    if (out->scratch == NULL)
      out->scratch = g_string_sized_new (n + 1);
    strip_markup (s, n, out->scratch);
    s = (const guchar *) out->scratch->str;
    n = out->scratch->len;
  }
  const gboolean lowercase = config->lowercase;
  const guint max_tokens = config->max_tokens > 0 ? (guint) config->max_tokens : G_MAXUINT;

  gboolean in_token = FALSE;
  /* Final_Sigma's look-behind: was the last character that is not
   * case-ignorable a cased one? */
  gboolean prev_cased = FALSE;
  gsize i = 0;

  while (i < n) {
    guchar b = s[i];
    if (b < 0x80) {
      guint8 flags = ascii_table[b];
      switch (flags & ASCII_CLASS_MASK) {
        case CLS_WORD: {
          /* the whole run of plain ASCII word characters at once */
          gsize end = i + 1;
          while (end < n && s[end] < 0x80 && (ascii_table[s[end]] & ASCII_CLASS_MASK) == CLS_WORD)
            end++;
          if (!in_token) {
            tokens_begin (out);
            in_token = TRUE;
          }
          tokens_reserve (out, end - i);
          gchar *dst = out->arena + out->arena_len;
          if (lowercase) {
            for (gsize k = i; k < end; k++)
              *dst++ = ascii_lower[s[k]];
          } else {
            memcpy (dst, s + i, end - i);
          }
          out->arena_len += end - i;
          /* for the sigma context: the run's last character that is not
           * case-ignorable (^ and ` are), if any */
          for (gsize k = end; k > i; k--) {
            flags = ascii_table[s[k - 1]];
            if (!(flags & ASCII_IGNORABLE))
              break;
          }
          i = end;
          break;
        }
        case CLS_SEP:
          if (end_token (out, &in_token, max_tokens))
            return;
          i++;
          break;
        case CLS_SOLO:
          if (end_token (out, &in_token, max_tokens))
            return;
          tokens_begin (out);
          tokens_reserve (out, 2);
          out->arena[out->arena_len++] = (gchar) b;
          out->arena[out->arena_len++] = '\0';
          if (out->n >= max_tokens)
            return;
          i++;
          break;
        case CLS_DROP:
          i++;
          break;
        case CLS_LT: {
          gsize br = match_br (s + i, n - i, lowercase);
          if (br > 0) {
            if (end_token (out, &in_token, max_tokens))
              return;
            i += br;
            prev_cased = FALSE; /* it ends with '>', neither cased nor ignorable */
            continue;
          }
          put_char (out, &in_token, '<');
          i++;
          break;
        }
        case CLS_NUL:
          put_char (out, &in_token, REPLACEMENT_CHAR);
          i++;
          break;
        default:
          g_assert_not_reached ();
      }
      if (!(flags & ASCII_IGNORABLE))
        prev_cased = (flags & ASCII_CASED) != 0;
      continue;
    }

    gunichar c;
    gsize used = decode_utf8 (s + i, n - i, &c);
    if (is_unicode_space (c)) {
      if (end_token (out, &in_token, max_tokens))
        return;
    } else if (!lowercase) {
      put_char (out, &in_token, c);
    } else if (c == 0x130) {
      put_char (out, &in_token, 'i');
      put_char (out, &in_token, 0x307);
    } else if (c == 0x3A3) {
      gboolean final = prev_cased && !cased_follows (s + i + used, n - i - used);
      put_char (out, &in_token, final ? 0x3C2 : 0x3C3);
    } else {
      put_char (out, &in_token, python_tolower (c));
    }
    if (lowercase && !is_case_ignorable (c))
      prev_cased = is_cased (c);
    i += used;
  }
  end_token (out, &in_token, max_tokens);
}
