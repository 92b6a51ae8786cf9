/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: the tokenizer with every option, and a vocabulary over
 * its tokens.
 * Input: byte 0 the options (bit 0 lowercase, bit 1 strip_markup, bit 2: byte 1
 * is max_tokens), byte 1 max_tokens, the rest the text.
 * Checked: tokens are non-empty valid UTF-8 without whitespace, separators or
 * '"'; the punctuation basic_english splits off stands alone; a cap keeps a
 * prefix of the uncapped tokens; the NUL-terminated call agrees; strip_markup
 * changes nothing in text without '<' or '&'; the vocabulary built from the
 * tokens encodes each one to its own id. */
#include <seqnn/text.h>
#include "fuzz.h"

static SeqnnTokens *tokens, *uncapped, *other;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_glib ();
  /* kept across inputs: reuse must not leak one input into the next */
  tokens = seqnn_tokens_new ();
  uncapped = seqnn_tokens_new ();
  other = seqnn_tokens_new ();
  return 0;
}

static void
check_token (const gchar *token, gsize len)
{
  fuzz_check (len > 0 && strlen (token) == len, "token empty or with a NUL");
  fuzz_check (g_utf8_validate_len (token, len, NULL), "token not valid UTF-8");
  gboolean punct = FALSE;
  for (const gchar *p = token; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    fuzz_check (!g_unichar_isspace (c), "whitespace inside a token");
    fuzz_check (c != ';' && c != ':' && c != '"', "a separator or quote inside a token");
    if (c < 128 && strchr ("'.,()!?", (int) c) != NULL)
      punct = TRUE;
  }
  fuzz_check (!punct || len == 1, "punctuation not a token of its own");
}

static gboolean
same_tokens (const SeqnnTokens *a, const SeqnnTokens *b, guint n)
{
  if (seqnn_tokens_get_n (a) < n || seqnn_tokens_get_n (b) < n)
    return FALSE;
  for (guint i = 0; i < n; i++) {
    if (seqnn_tokens_get_len (a, i) != seqnn_tokens_get_len (b, i)
        || memcmp (seqnn_tokens_get (a, i), seqnn_tokens_get (b, i), seqnn_tokens_get_len (a, i)) != 0)
      return FALSE;
  }
  return TRUE;
}

static void
check_vocab (const SeqnnTokens *list)
{
  SeqnnVocabBuilder *builder = seqnn_vocab_builder_new ();
  seqnn_vocab_builder_add_tokens (builder, list);
  GError *error = NULL;
  SeqnnVocab *vocab = seqnn_vocab_builder_build (builder, 1, 0, &error);
  fuzz_check (vocab != NULL, "vocabulary build failed");
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  seqnn_vocab_encode (vocab, list, ids);
  guint n = seqnn_tokens_get_n (list);
  fuzz_check (ids->len == n, "encode gave another number of ids");
  for (guint i = 0; i < n; i++) {
    gint32 id = g_array_index (ids, gint32, i);
    const gchar *token = seqnn_tokens_get (list, i);
    fuzz_check (id >= 0 && (gsize) id < seqnn_vocab_get_size (vocab), "id out of range");
    fuzz_check (g_strcmp0 (seqnn_vocab_get_token (vocab, id), token) == 0,
        "a token encodes to another token's id");
  }
  /* an empty list appends nothing (and computes no pointer into an empty array) */
  SeqnnTokens *empty = seqnn_tokens_new ();
  GArray *none = g_array_new (FALSE, FALSE, sizeof (gint32));
  seqnn_vocab_encode (vocab, empty, none);
  fuzz_check (none->len == 0, "an empty token list gave ids");
  g_array_unref (none);
  seqnn_tokens_free (empty);
  g_array_unref (ids);
  seqnn_vocab_unref (vocab);
  seqnn_vocab_builder_free (builder);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  SeqnnTokenizerConfig config;
  seqnn_tokenizer_config_init_default (&config);
  config.lowercase = (data[0] & 1) != 0;
  config.strip_markup = (data[0] & 2) != 0;
  config.max_tokens = (data[0] & 4) != 0 ? data[1] : 0;
  const gchar *text = (const gchar *) data + 2;
  gsize len = size - 2;

  seqnn_tokenize (&config, text, (gssize) len, tokens);
  guint n = seqnn_tokens_get_n (tokens);
  for (guint i = 0; i < n; i++)
    check_token (seqnn_tokens_get (tokens, i), seqnn_tokens_get_len (tokens, i));

  SeqnnTokenizerConfig no_cap = config;
  no_cap.max_tokens = 0;
  seqnn_tokenize (&no_cap, text, (gssize) len, uncapped);
  guint n_all = seqnn_tokens_get_n (uncapped);
  fuzz_check (n == (config.max_tokens > 0 ? MIN ((guint) config.max_tokens, n_all) : n_all),
      "max_tokens kept another number of tokens");
  fuzz_check (same_tokens (tokens, uncapped, n), "capped tokens are not a prefix of all tokens");

  if (memchr (text, '\0', len) == NULL) {
    gchar *copy = g_strndup (text, len);
    seqnn_tokenize (&config, copy, -1, other);
    fuzz_check (seqnn_tokens_get_n (other) == n && same_tokens (tokens, other, n),
        "the NUL-terminated call gave other tokens");
    g_free (copy);
  }
  if (memchr (text, '<', len) == NULL && memchr (text, '&', len) == NULL) {
    SeqnnTokenizerConfig flipped = config;
    flipped.strip_markup = !config.strip_markup;
    seqnn_tokenize (&flipped, text, (gssize) len, other);
    fuzz_check (seqnn_tokens_get_n (other) == n && same_tokens (tokens, other, n),
        "strip_markup changed text without markup");
  }
  check_vocab (tokens);
  return 0;
}
