/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Vocabulary and its builder over one open-addressing table keyed by token
 * bytes: tokens live back to back in an arena, slots hold dense indices. */
#include <string.h>
#include "seqnn/text.h"

typedef struct {
  gchar *arena; /* tokens, each NUL-terminated */
  gsize arena_len, arena_cap;
  gsize *offsets; /* per entry: start in arena */
  guint32 *lens;
  guint32 *hashes;
  guint64 *counts; /* builder only (NULL in a vocabulary) */
  guint n, cap;
  gint32 *slots; /* entry index or -1; capacity a power of two, at most half full */
  guint slot_mask;
} TokenTable;

static inline guint32
hash_bytes (const guchar *p, gsize n)
{
  guint64 h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    guint64 w;
    memcpy (&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  guint64 w = 0;
  for (gsize k = 0; k < n; k++) /* n < 8: cheaper than a memcpy call */
    w |= (guint64) p[k] << (8 * k);
  h = (h ^ w) * 0x94d049bb133111ebull;
  h ^= h >> 32;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return (guint32) h;
}

static void
table_init (TokenTable *t, gboolean with_counts)
{
  memset (t, 0, sizeof *t);
  t->arena_cap = 1024;
  t->arena = g_malloc (t->arena_cap);
  t->cap = 64;
  t->offsets = g_new (gsize, t->cap);
  t->lens = g_new (guint32, t->cap);
  t->hashes = g_new (guint32, t->cap);
  if (with_counts)
    t->counts = g_new (guint64, t->cap);
  t->slot_mask = 127;
  t->slots = g_new (gint32, t->slot_mask + 1);
  memset (t->slots, 0xff, (t->slot_mask + 1) * sizeof (gint32));
}

static void
table_clear (TokenTable *t)
{
  g_free (t->arena);
  g_free (t->offsets);
  g_free (t->lens);
  g_free (t->hashes);
  g_free (t->counts);
  g_free (t->slots);
}

static inline const gchar *
table_token (const TokenTable *t, guint index)
{
  return t->arena + t->offsets[index];
}

/* Entry index of token, or -1; *slot_out gets the slot it is in or would go. */
static inline gint32
table_find (const TokenTable *t, const gchar *token, gsize len, guint32 hash, guint *slot_out)
{
  guint slot = hash & t->slot_mask;
  for (;;) {
    gint32 e = t->slots[slot];
    if (e < 0
        || (t->hashes[e] == hash && t->lens[e] == len
            && memcmp (t->arena + t->offsets[e], token, len) == 0)) {
      if (slot_out != NULL)
        *slot_out = slot;
      return e;
    }
    slot = (slot + 1) & t->slot_mask;
  }
}

static void
table_rehash (TokenTable *t)
{
  guint n_slots = (t->slot_mask + 1) * 2;
  g_free (t->slots);
  t->slots = g_new (gint32, n_slots);
  memset (t->slots, 0xff, n_slots * sizeof (gint32));
  t->slot_mask = n_slots - 1;
  for (guint e = 0; e < t->n; e++) {
    guint slot = t->hashes[e] & t->slot_mask;
    while (t->slots[slot] >= 0)
      slot = (slot + 1) & t->slot_mask;
    t->slots[slot] = (gint32) e;
  }
}

/* Adds token (known absent, its slot given) and returns its index. */
static guint
table_insert (TokenTable *t, const gchar *token, gsize len, guint32 hash, guint slot)
{
  if (t->n == t->cap) {
    t->cap *= 2;
    t->offsets = g_renew (gsize, t->offsets, t->cap);
    t->lens = g_renew (guint32, t->lens, t->cap);
    t->hashes = g_renew (guint32, t->hashes, t->cap);
    if (t->counts != NULL)
      t->counts = g_renew (guint64, t->counts, t->cap);
  }
  if (t->arena_len + len + 1 > t->arena_cap) {
    while (t->arena_len + len + 1 > t->arena_cap)
      t->arena_cap *= 2;
    t->arena = g_realloc (t->arena, t->arena_cap);
  }
  guint e = t->n++;
  t->offsets[e] = t->arena_len;
  memcpy (t->arena + t->arena_len, token, len);
  t->arena[t->arena_len + len] = '\0';
  t->arena_len += len + 1;
  t->lens[e] = (guint32) len;
  t->hashes[e] = hash;
  if (t->counts != NULL)
    t->counts[e] = 0;
  t->slots[slot] = (gint32) e;
  if (2 * t->n > t->slot_mask + 1)
    table_rehash (t);
  return e;
}

/* ---- vocabulary ----------------------------------------------------------- */

/* An n-gram entry "w1 .. wk" is reached from its prefix "w1 .. wk-1" and its
 * last word: key prefix id << 32 | word id, in an open-addressing hash table
 * (about one probe a pair, where a binary search over AG News's 200,000
 * pairs took 18 steps, each likely a cache miss; every record's pairs are
 * looked up at each epoch). */
typedef struct {
  guint64 key;
  gint32 id;   /* -1: an empty slot */
} NgramLink;

struct _SeqnnVocab {
  gatomicrefcount ref;
  TokenTable table;
  NgramLink *links; /* link_mask + 1 slots; NULL when the vocabulary has no n-grams */
  guint64 link_mask;
  guint n_links;
  gint max_ngram;   /* most words in a reachable entry */
};

static SeqnnVocab *
vocab_alloc (void)
{
  SeqnnVocab *vocab = g_new0 (SeqnnVocab, 1);
  g_atomic_ref_count_init (&vocab->ref);
  table_init (&vocab->table, FALSE);
  return vocab;
}

/* Adds a token that must be new; FALSE for a duplicate. */
static gboolean
vocab_add (SeqnnVocab *vocab, const gchar *token, gsize len)
{
  guint32 hash = hash_bytes ((const guchar *) token, len);
  guint slot;
  if (table_find (&vocab->table, token, len, hash, &slot) >= 0)
    return FALSE;
  table_insert (&vocab->table, token, len, hash, slot);
  return TRUE;
}

/* The slot a key's probe starts at (a 64-bit finalizer: ids are dense). */
static inline guint64
link_slot (guint64 key, guint64 mask)
{
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return key & mask;
}

static void
insert_link (SeqnnVocab *vocab, guint64 key, gint32 id)
{
  guint64 i = link_slot (key, vocab->link_mask);
  while (vocab->links[i].id >= 0)
    i = (i + 1) & vocab->link_mask;
  vocab->links[i].key = key;
  vocab->links[i].id = id;
  vocab->n_links++;
}

static gint32
find_link (const SeqnnVocab *vocab, gint32 prefix, gint32 word)
{
  guint64 key = (guint64) (guint32) prefix << 32 | (guint32) word;
  for (guint64 i = link_slot (key, vocab->link_mask);; i = (i + 1) & vocab->link_mask) {
    const NgramLink *l = &vocab->links[i];
    if (l->id < 0 || l->key == key)
      return l->id;
  }
}

static gint
count_words (const gchar *token, gsize len)
{
  gint n = 1;
  for (gsize i = 0; i < len; i++)
    n += token[i] == ' ';
  return n;
}

/* Links every entry of k words to its prefix of k - 1 words and its last
 * word, shorter entries first so that a prefix is known reachable; entries
 * whose parts are missing (cut by max_size) stay unreachable. */
static void
index_ngrams (SeqnnVocab *vocab)
{
  const TokenTable *t = &vocab->table;
  gint8 *n_words = g_new (gint8, MAX (t->n, 1));   /* capped past SEQNN_WORD_NGRAMS_MAX */
  gboolean *reachable = g_new (gboolean, MAX (t->n, 1));
  guint n_multi = 0;

  for (guint e = 0; e < t->n; e++) {
    n_words[e] = (gint8) MIN (count_words (table_token (t, e), t->lens[e]),
        SEQNN_WORD_NGRAMS_MAX + 1);
    reachable[e] = n_words[e] == 1;
    n_multi += n_words[e] > 1;
  }
  vocab->max_ngram = 1;
  if (n_multi > 0) {
    /* at most half full: probes stay short, and a miss always meets an empty slot */
    gsize n_slots = 4;
    while (n_slots < 2 * (gsize) n_multi)
      n_slots *= 2;
    vocab->links = g_new (NgramLink, n_slots);
    for (gsize i = 0; i < n_slots; i++)
      vocab->links[i].id = -1;
    vocab->link_mask = n_slots - 1;
  }
  for (gint k = 2; k <= SEQNN_WORD_NGRAMS_MAX && n_multi > 0; k++) {
    for (guint e = 0; e < t->n; e++) {
      if (n_words[e] != k)
        continue;
      const gchar *token = table_token (t, e);
      const gchar *space = memrchr (token, ' ', t->lens[e]);
      gsize prefix_len = (gsize) (space - token), last_len = t->lens[e] - prefix_len - 1;
      gint32 prefix = table_find (t, token, prefix_len,
          hash_bytes ((const guchar *) token, prefix_len), NULL);
      gint32 last = table_find (t, space + 1, last_len,
          hash_bytes ((const guchar *) space + 1, last_len), NULL);
      if (prefix <= SEQNN_VOCAB_PAD_ID || last <= SEQNN_VOCAB_PAD_ID
          || !reachable[prefix] || n_words[prefix] != k - 1 || n_words[last] != 1)
        continue;
      reachable[e] = TRUE;
      insert_link (vocab, (guint64) (guint32) prefix << 32 | (guint32) last, (gint32) e);
      vocab->max_ngram = k;
    }
  }
  g_free (reachable);
  g_free (n_words);
}

SeqnnVocab *
seqnn_vocab_new_from_tokens (const gchar *const *tokens, gsize n, GError **error)
{
  if (tokens == NULL || n < 2) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a vocabulary needs at least the two tokens %s and %s", SEQNN_VOCAB_UNK, SEQNN_VOCAB_PAD);
    return NULL;
  }
  if (n > G_MAXINT32) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "vocabulary of %" G_GSIZE_FORMAT " tokens is too large", n);
    return NULL;
  }
  if (g_strcmp0 (tokens[0], SEQNN_VOCAB_UNK) != 0 || g_strcmp0 (tokens[1], SEQNN_VOCAB_PAD) != 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a vocabulary must start with %s and %s", SEQNN_VOCAB_UNK, SEQNN_VOCAB_PAD);
    return NULL;
  }
  SeqnnVocab *vocab = vocab_alloc ();
  for (gsize i = 0; i < n; i++) {
    const gchar *token = tokens[i];
    if (token == NULL) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "vocabulary token %" G_GSIZE_FORMAT " is NULL", i);
      seqnn_vocab_unref (vocab);
      return NULL;
    }
    gsize len = strlen (token);
    if (!g_utf8_validate (token, (gssize) len, NULL)) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "vocabulary token %" G_GSIZE_FORMAT " is not valid UTF-8", i);
      seqnn_vocab_unref (vocab);
      return NULL;
    }
    if (!vocab_add (vocab, token, len)) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "vocabulary token %" G_GSIZE_FORMAT " \"%s\" is a duplicate", i, token);
      seqnn_vocab_unref (vocab);
      return NULL;
    }
  }
  index_ngrams (vocab);
  return vocab;
}

SeqnnVocab *
seqnn_vocab_ref (SeqnnVocab *vocab)
{
  g_return_val_if_fail (vocab != NULL, NULL);
  g_atomic_ref_count_inc (&vocab->ref);
  return vocab;
}

void
seqnn_vocab_unref (SeqnnVocab *vocab)
{
  if (vocab == NULL)
    return;
  if (g_atomic_ref_count_dec (&vocab->ref)) {
    table_clear (&vocab->table);
    g_free (vocab->links);
    g_free (vocab);
  }
}

gsize
seqnn_vocab_get_size (const SeqnnVocab *vocab)
{
  g_return_val_if_fail (vocab != NULL, 0);
  return vocab->table.n;
}

gint32
seqnn_vocab_lookup (const SeqnnVocab *vocab, const gchar *token, gssize len)
{
  g_return_val_if_fail (vocab != NULL, SEQNN_VOCAB_UNK_ID);
  if (token == NULL)
    return SEQNN_VOCAB_UNK_ID;
  gsize n = len < 0 ? strlen (token) : (gsize) len;
  gint32 e = table_find (&vocab->table, token, n, hash_bytes ((const guchar *) token, n), NULL);
  return e < 0 ? SEQNN_VOCAB_UNK_ID : e;
}

const gchar *
seqnn_vocab_get_token (const SeqnnVocab *vocab, gint32 id)
{
  g_return_val_if_fail (vocab != NULL, NULL);
  if (id < 0 || (guint) id >= vocab->table.n)
    return NULL;
  return table_token (&vocab->table, (guint) id);
}

void
seqnn_vocab_encode (const SeqnnVocab *vocab, const SeqnnTokens *tokens, GArray *ids)
{
  g_return_if_fail (vocab != NULL);
  g_return_if_fail (tokens != NULL);
  g_return_if_fail (ids != NULL && g_array_get_element_size (ids) == sizeof (gint32));
  guint n = seqnn_tokens_get_n (tokens);
  if (n == 0)
    return; /* an empty array has no data pointer to index */
  guint base = ids->len;
  g_array_set_size (ids, base + n);
  gint32 *out = &g_array_index (ids, gint32, base);
  for (guint i = 0; i < n; i++)
    out[i] = seqnn_vocab_lookup (vocab, seqnn_tokens_get (tokens, i),
        (gssize) seqnn_tokens_get_len (tokens, i));
}

void
seqnn_vocab_append_ngrams (const SeqnnVocab *vocab, GArray *ids, guint start, gint word_ngrams)
{
  g_return_if_fail (vocab != NULL && ids != NULL && start <= ids->len);
  if (word_ngrams <= 1 || vocab->n_links == 0)
    return;
  guint end = ids->len;
  for (guint i = start; i + 1 < end; i++) {
    gint32 prefix = g_array_index (ids, gint32, i);
    for (guint j = i + 1; j < end && (gint) (j - i) < word_ngrams; j++) {
      if (prefix <= SEQNN_VOCAB_PAD_ID)
        break;
      prefix = find_link (vocab, prefix, g_array_index (ids, gint32, j));
      if (prefix < 0)
        break;
      g_array_append_val (ids, prefix);
    }
  }
}

gint
seqnn_vocab_get_max_ngram (const SeqnnVocab *vocab)
{
  g_return_val_if_fail (vocab != NULL, 1);
  return vocab->max_ngram;
}

gint
seqnn_ids_end_record (GArray *ids, guint start)
{
  g_return_val_if_fail (ids != NULL && start <= ids->len, 0);
  if (ids->len == start) {
    const gint32 unk = SEQNN_VOCAB_UNK_ID;
    g_array_append_val (ids, unk);
  }
  return (gint) (ids->len - start);
}

/* ---- builder ------------------------------------------------------------------ */

struct _SeqnnVocabBuilder {
  TokenTable table;
};

SeqnnVocabBuilder *
seqnn_vocab_builder_new (void)
{
  SeqnnVocabBuilder *builder = g_new0 (SeqnnVocabBuilder, 1);
  table_init (&builder->table, TRUE);
  return builder;
}

void
seqnn_vocab_builder_free (SeqnnVocabBuilder *builder)
{
  if (builder == NULL)
    return;
  table_clear (&builder->table);
  g_free (builder);
}

guint
seqnn_vocab_builder_intern (SeqnnVocabBuilder *builder, const gchar *token, gssize len,
    guint64 count)
{
  g_return_val_if_fail (builder != NULL, 0);
  g_return_val_if_fail (token != NULL || len == 0, 0);
  if (token == NULL)
    token = "";
  gsize n = len < 0 ? strlen (token) : (gsize) len;
  TokenTable *t = &builder->table;
  guint32 hash = hash_bytes ((const guchar *) token, n);
  guint slot;
  /* a stored token is valid UTF-8, so only a new one needs checking */
  gint32 e = table_find (t, token, n, hash, &slot);
  gchar *valid = NULL;
  if (e < 0 && G_UNLIKELY (!g_utf8_validate_len (token, n, NULL))) {
    /* as the tokenizer would give it: U+FFFD for invalid bytes, no NUL */
    SeqnnTokens *tokens = seqnn_tokens_new ();
    seqnn_tokens_append (tokens, token, (gssize) n);
    valid = g_strdup (seqnn_tokens_get (tokens, 0));
    seqnn_tokens_free (tokens);
    token = valid;
    n = strlen (valid);
    hash = hash_bytes ((const guchar *) token, n);
    e = table_find (t, token, n, hash, &slot);
  }
  if (e < 0)
    e = (gint32) table_insert (t, token, n, hash, slot);
  /* saturating: a caller's huge counts must not wrap to small ones */
  t->counts[e] = count > G_MAXUINT64 - t->counts[e] ? G_MAXUINT64 : t->counts[e] + count;
  g_free (valid);
  return (guint) e;
}

void
seqnn_vocab_builder_add (SeqnnVocabBuilder *builder, const gchar *token, gssize len, guint64 count)
{
  seqnn_vocab_builder_intern (builder, token, len, count);
}

void
seqnn_vocab_builder_add_tokens (SeqnnVocabBuilder *builder, const SeqnnTokens *tokens)
{
  g_return_if_fail (builder != NULL);
  g_return_if_fail (tokens != NULL);
  guint n = seqnn_tokens_get_n (tokens);
  for (guint i = 0; i < n; i++)
    seqnn_vocab_builder_intern (builder, seqnn_tokens_get (tokens, i),
        (gssize) seqnn_tokens_get_len (tokens, i), 1);
}

gsize
seqnn_vocab_builder_get_n (const SeqnnVocabBuilder *builder)
{
  g_return_val_if_fail (builder != NULL, 0);
  return builder->table.n;
}

const gchar *
seqnn_vocab_builder_get_token (const SeqnnVocabBuilder *builder, guint index)
{
  g_return_val_if_fail (builder != NULL, NULL);
  g_return_val_if_fail (index < builder->table.n, NULL);
  return table_token (&builder->table, index);
}

guint64
seqnn_vocab_builder_get_count (const SeqnnVocabBuilder *builder, guint index)
{
  g_return_val_if_fail (builder != NULL, 0);
  g_return_val_if_fail (index < builder->table.n, 0);
  return builder->table.counts[index];
}

/* Frequency descending, then token bytes ascending (code point order). */
static int
compare_entries (const void *a, const void *b, void *user_data)
{
  const TokenTable *t = user_data;
  guint ea = *(const guint *) a, eb = *(const guint *) b;
  if (t->counts[ea] != t->counts[eb])
    return t->counts[ea] > t->counts[eb] ? -1 : 1;
  guint32 la = t->lens[ea], lb = t->lens[eb];
  int c = memcmp (table_token (t, ea), table_token (t, eb), MIN (la, lb));
  if (c != 0)
    return c;
  return la < lb ? -1 : la > lb ? 1 : 0;
}

SeqnnVocab *
seqnn_vocab_builder_build (const SeqnnVocabBuilder *builder, guint64 min_freq,
    gsize max_size, GError **error)
{
  return seqnn_vocab_builder_build_ngrams (builder, min_freq, max_size, 0, error);
}

SeqnnVocab *
seqnn_vocab_builder_build_ngrams (const SeqnnVocabBuilder *builder, guint64 min_freq,
    gsize max_size, gint max_words, GError **error)
{
  if (builder == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no vocabulary builder");
    return NULL;
  }
  if (min_freq < 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "min_freq must be at least 1, not %" G_GUINT64_FORMAT, min_freq);
    return NULL;
  }
  if (max_size == 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "max_size must be 0 (unlimited) or at least 2 (the specials), not 1");
    return NULL;
  }
  const TokenTable *t = &builder->table;
  guint *order = g_new (guint, MAX (t->n, 1));
  guint n = 0;
  for (guint e = 0; e < t->n; e++) {
    if (t->counts[e] < min_freq)
      continue;
    const gchar *token = table_token (t, e);
    if (strcmp (token, SEQNN_VOCAB_UNK) == 0 || strcmp (token, SEQNN_VOCAB_PAD) == 0)
      continue;
    if (max_words > 0 && count_words (token, t->lens[e]) > max_words)
      continue;
    order[n++] = e;
  }
  g_qsort_with_data (order, (gint) n, sizeof (guint), compare_entries, (gpointer) t);
  gsize keep = n;
  if (max_size > 0 && keep > max_size - 2)
    keep = max_size - 2;
  if (keep + 2 > G_MAXINT32) {
    g_free (order);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "vocabulary is too large");
    return NULL;
  }
  SeqnnVocab *vocab = vocab_alloc ();
  vocab_add (vocab, SEQNN_VOCAB_UNK, strlen (SEQNN_VOCAB_UNK));
  vocab_add (vocab, SEQNN_VOCAB_PAD, strlen (SEQNN_VOCAB_PAD));
  for (gsize i = 0; i < keep; i++) {
    guint e = order[i];
    /* the builder's hash is the vocabulary's: insert without hashing again */
    guint slot;
    table_find (&vocab->table, table_token (t, e), t->lens[e], t->hashes[e], &slot);
    table_insert (&vocab->table, table_token (t, e), t->lens[e], t->hashes[e], slot);
  }
  g_free (order);
  index_ngrams (vocab);
  return vocab;
}
