/* libseqnn: tokenizer and vocabulary.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/error.h"

G_BEGIN_DECLS

/* ---- Tokenizer: torchtext's basic_english ------------------------------- */

/* The tokenizer's name, as model files and the tokens meta record it. */
#define SEQNN_TOKENIZER_BASIC_ENGLISH "basic_english"

typedef struct {
  gboolean lowercase;    /* TRUE: str.lower() first, as basic_english */
  gboolean strip_markup; /* FALSE: when TRUE, Pango/HTML tags (<i>, <font ...>) are removed
                          * and entities (&amp; &#39; &#x2019;) decoded before tokenizing */
  gint max_tokens;       /* 0 = no cap; else keep the first max_tokens */
  gint word_ngrams;      /* 1 (0 alike) = words only; N (2..SEQNN_WORD_NGRAMS_MAX): the words are
                          * followed by the vocabulary's runs of 2..N adjacent words, as
                          * fastText's -wordNgrams (seqnn_vocab_append_ngrams; a bag of
                          * embeddings only: the tokens themselves stay the words) */
} SeqnnTokenizerConfig;

#define SEQNN_WORD_NGRAMS_MAX 5

void seqnn_tokenizer_config_init_default (SeqnnTokenizerConfig *config);

/* A reusable list of tokens (one string arena), cleared by each tokenize. */
typedef struct _SeqnnTokens SeqnnTokens;

SeqnnTokens *seqnn_tokens_new (void);
void seqnn_tokens_free (SeqnnTokens *tokens);
void seqnn_tokens_clear (SeqnnTokens *tokens);
void seqnn_tokens_append (SeqnnTokens *tokens, const gchar *token, gssize len);
guint seqnn_tokens_get_n (const SeqnnTokens *tokens);
/* NUL-terminated, valid UTF-8, owned by tokens. */
const gchar *seqnn_tokens_get (const SeqnnTokens *tokens, guint index);
/* Byte length of token index (without the NUL). */
gsize seqnn_tokens_get_len (const SeqnnTokens *tokens, guint index);

/* Never fails: invalid UTF-8 is replaced by U+FFFD (one per maximal invalid
 * subpart, as Python's bytes.decode (errors='replace')); len -1 for NUL-terminated.
 * The tokens equal basic_english's (Python 3.11's str.lower, including 'İ' and
 * final sigma, and its Unicode whitespace) with one deviation: an embedded
 * U+0000 (only possible with len >= 0) becomes U+FFFD, so tokens stay C strings.
 * strip_markup: tags '<' '/'? letter [A-Za-z0-9._:-]* ([ \t\r\n/] [^<>]*)? '>' are
 * removed (<br>, <p>, <div> become a space), then &amp; &lt; &gt; &quot; &apos;
 * &nbsp; &#N; &#xH; are decoded (invalid code points give U+FFFD, unknown
 * entities stay as written); a '<' that does not open such a tag stays text. */
void seqnn_tokenize (const SeqnnTokenizerConfig *config, const gchar *text, gssize len,
    SeqnnTokens *out);

/* ---- Vocabulary ----------------------------------------------------------- */

#define SEQNN_VOCAB_UNK "<unk>"
#define SEQNN_VOCAB_PAD "<pad>"
#define SEQNN_VOCAB_UNK_ID 0
#define SEQNN_VOCAB_PAD_ID 1

/* Immutable token <-> id map with <unk> = 0 and <pad> = 1. */
typedef struct _SeqnnVocab SeqnnVocab;

/* tokens[0] must be "<unk>", tokens[1] "<pad>"; duplicates or invalid UTF-8 are errors. */
SeqnnVocab *seqnn_vocab_new_from_tokens (const gchar *const *tokens, gsize n, GError **error);
SeqnnVocab *seqnn_vocab_ref (SeqnnVocab *vocab);
void seqnn_vocab_unref (SeqnnVocab *vocab);
gsize seqnn_vocab_get_size (const SeqnnVocab *vocab);
/* SEQNN_VOCAB_UNK_ID when absent; len -1 for NUL-terminated. */
gint32 seqnn_vocab_lookup (const SeqnnVocab *vocab, const gchar *token, gssize len);
/* NULL when id is out of range. */
const gchar *seqnn_vocab_get_token (const SeqnnVocab *vocab, gint32 id);
/* Appends one gint32 id per token to ids (a GArray of gint32). */
void seqnn_vocab_encode (const SeqnnVocab *vocab, const SeqnnTokens *tokens, GArray *ids);

/* Word n-grams are vocabulary entries of 2 or more words joined by one space
 * ("new york"); tokens never hold a space, so they cannot collide with words.
 * Appends to ids, after the word ids at ids[start..], the id of every run of
 * 2..word_ngrams adjacent words that the vocabulary holds, by start position
 * then length; a run through an unknown word (<unk>) or one the vocabulary
 * lacks adds nothing (and ends the longer runs from that position). word_ngrams
 * <= 1 adds nothing. */
void seqnn_vocab_append_ngrams (const SeqnnVocab *vocab, GArray *ids, guint start, gint word_ngrams);
/* The most words in a reachable n-gram entry (1: words only). */
gint seqnn_vocab_get_max_ngram (const SeqnnVocab *vocab);

/* Ends a record whose ids were appended to ids from index start on, and
 * returns its length: a record without tokens becomes one <unk>, as the
 * PyTorch reference feeds it (a sequence needs length >= 1). Training,
 * evaluation, seqnn_classifier_encode and lstmclassify all use this rule. */
gint seqnn_ids_end_record (GArray *ids, guint start);

/* Counts tokens, then builds a vocabulary ordered by frequency (ties broken by
 * token bytes ascending, as torchtext's build_vocab_from_iterator), after the two specials. */
typedef struct _SeqnnVocabBuilder SeqnnVocabBuilder;

SeqnnVocabBuilder *seqnn_vocab_builder_new (void);
void seqnn_vocab_builder_free (SeqnnVocabBuilder *builder);
void seqnn_vocab_builder_add (SeqnnVocabBuilder *builder, const gchar *token, gssize len, guint64 count);
void seqnn_vocab_builder_add_tokens (SeqnnVocabBuilder *builder, const SeqnnTokens *tokens);
/* Adds count to token and returns its dense index in the builder (0, 1, ...
 * in order of first appearance); invalid UTF-8 is replaced as by the tokenizer. */
guint seqnn_vocab_builder_intern (SeqnnVocabBuilder *builder, const gchar *token, gssize len,
    guint64 count);
/* Number of distinct tokens, and each one's text and count, by dense index. */
gsize seqnn_vocab_builder_get_n (const SeqnnVocabBuilder *builder);
const gchar *seqnn_vocab_builder_get_token (const SeqnnVocabBuilder *builder, guint index);
guint64 seqnn_vocab_builder_get_count (const SeqnnVocabBuilder *builder, guint index);
/* min_freq >= 1; max_size 0 = unlimited, else the total size including the specials (>= 2).
 * The specials "<unk>" and "<pad>" are never counted twice: occurrences in the
 * text are dropped before sorting (and before max_size applies). */
SeqnnVocab *seqnn_vocab_builder_build (const SeqnnVocabBuilder *builder, guint64 min_freq,
    gsize max_size, GError **error);
/* As seqnn_vocab_builder_build, keeping only entries of at most max_words
 * space-separated words (0: all); word n-grams compete with the words for
 * min_freq and max_size alike. */
SeqnnVocab *seqnn_vocab_builder_build_ngrams (const SeqnnVocabBuilder *builder, guint64 min_freq,
    gsize max_size, gint max_words, GError **error);

G_END_DECLS
