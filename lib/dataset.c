/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Labelled token sequences in one gint32 arena. Until a vocabulary is
 * applied, ids index the dataset's own counting table (a vocabulary builder),
 * so a file is tokenized and read once: the vocabulary is built from those
 * counts and the ids are then remapped in place. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "seqnn/dataset.h"
#include "dataset-batch.h"
#include "error-private.h"

#define READ_CHUNK (64 * 1024)

struct _SeqnnDataset {
  GArray *ids;     /* gint32, all sequences back to back */
  GArray *offsets; /* guint64, n + 1: sequence i is ids[offsets[i] .. offsets[i + 1]) */
  GArray *labels;  /* gint32 */
  SeqnnVocabBuilder *counts; /* provisional ids and counts */
  SeqnnVocab *vocab;         /* set once applied */
  gint ngrams_counted;       /* counts hold word n-grams up to this many words */
  gint word_ngrams;          /* rows are fed with n-grams up to this many words */
};

SeqnnDataset *
seqnn_dataset_new (void)
{
  SeqnnDataset *dataset = g_new0 (SeqnnDataset, 1);
  dataset->ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  dataset->offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 zero = 0;
  g_array_append_val (dataset->offsets, zero);
  dataset->labels = g_array_new (FALSE, FALSE, sizeof (gint32));
  dataset->counts = seqnn_vocab_builder_new ();
  dataset->ngrams_counted = 1;
  dataset->word_ngrams = 1;
  return dataset;
}

void
seqnn_dataset_free (SeqnnDataset *dataset)
{
  if (dataset == NULL)
    return;
  g_array_unref (dataset->ids);
  g_array_unref (dataset->offsets);
  g_array_unref (dataset->labels);
  seqnn_vocab_builder_free (dataset->counts);
  seqnn_vocab_unref (dataset->vocab);
  g_free (dataset);
}

/* A literal "<unk>" or "<pad>" in the text: the vocabulary's specials, which
 * no run of words is fed through. */
static gboolean
is_special_word (const gchar *word)
{
  return strcmp (word, SEQNN_VOCAB_UNK) == 0 || strcmp (word, SEQNN_VOCAB_PAD) == 0;
}

/* Counts the runs of shortest..longest words of row (its provisional ids
 * joined by spaces) into the counts, never the rows; ngram is scratch. */
static void
count_row_ngrams (SeqnnDataset *dataset, gsize row, gint shortest, gint longest, GString *ngram)
{
  guint64 start = g_array_index (dataset->offsets, guint64, row);
  guint64 end = g_array_index (dataset->offsets, guint64, row + 1);
  const gint32 *ids = (const gint32 *) dataset->ids->data;
  for (guint64 i = start; i + 1 < end; i++) {
    const gchar *word = seqnn_vocab_builder_get_token (dataset->counts, (guint) ids[i]);
    if (is_special_word (word))
      continue;
    g_string_assign (ngram, word);
    for (guint64 j = i + 1; j < end && (gint) (j - i) < longest; j++) {
      word = seqnn_vocab_builder_get_token (dataset->counts, (guint) ids[j]);
      if (is_special_word (word))
        break;
      g_string_append_c (ngram, ' ');
      g_string_append (ngram, word);
      if ((gint) (j - i) + 1 >= shortest)
        seqnn_vocab_builder_intern (dataset->counts, ngram->str, (gssize) ngram->len, 1);
    }
  }
}

void
seqnn_dataset_add (SeqnnDataset *dataset, const SeqnnTokens *tokens, gint label)
{
  g_return_if_fail (dataset != NULL);
  g_return_if_fail (tokens != NULL);
  if (dataset->vocab != NULL) {
    seqnn_vocab_encode (dataset->vocab, tokens, dataset->ids);
  } else {
    guint n = seqnn_tokens_get_n (tokens);
    guint base = dataset->ids->len;
    g_array_set_size (dataset->ids, base + n);
    gint32 *out = &g_array_index (dataset->ids, gint32, base);
    for (guint i = 0; i < n; i++)
      out[i] = (gint32) seqnn_vocab_builder_intern (dataset->counts, seqnn_tokens_get (tokens, i),
          (gssize) seqnn_tokens_get_len (tokens, i), 1);
  }
  guint64 end = dataset->ids->len;
  g_array_append_val (dataset->offsets, end);
  gint32 stored = label < 0 ? -1 : label;
  g_array_append_val (dataset->labels, stored);
  /* a row added after counting is counted as the rows before it were */
  if (dataset->vocab == NULL && dataset->ngrams_counted > 1) {
    GString *ngram = g_string_new (NULL);
    count_row_ngrams (dataset, dataset->labels->len - 1, 2, dataset->ngrams_counted, ngram);
    g_string_free (ngram, TRUE);
  }
}

void
seqnn_read_options_init_default (SeqnnReadOptions *options, SeqnnFormat format)
{
  g_return_if_fail (options != NULL);
  memset (options, 0, sizeof *options);
  options->format = format;
  seqnn_tokenizer_config_init_default (&options->tokenizer);
  options->skip_bad_rows = FALSE;
  options->grow_labels = format == SEQNN_FORMAT_TSV || format == SEQNN_FORMAT_FASTTEXT
      || format == SEQNN_FORMAT_JSONL;
  seqnn_columns_init_default (&options->columns);
}

typedef struct {
  SeqnnDataset *dataset;
  const SeqnnReadOptions *options;
  SeqnnLabelSet *labels;
  const gchar *source_name;
  SeqnnTokens *tokens;
  guint64 n_bad_labels;
} ReadContext;

static gboolean
add_record (const SeqnnRecord *record, gpointer user_data, GError **error)
{
  ReadContext *ctx = user_data;
  gint label = -1;
  if (ctx->options->format != SEQNN_FORMAT_TEXT) {
    GError *local = NULL;
    label = seqnn_label_set_resolve (ctx->labels, ctx->options->format, record,
        ctx->options->grow_labels, ctx->source_name, &local);
    if (label < 0) {
      if (ctx->options->skip_bad_rows) {
        g_clear_error (&local);
        ctx->n_bad_labels++;
        return TRUE;
      }
      g_propagate_error (error, local);
      return FALSE;
    }
  }
  seqnn_tokenize (&ctx->options->tokenizer, record->text, (gssize) record->text_len, ctx->tokens);
  seqnn_dataset_add (ctx->dataset, ctx->tokens, label);
  return TRUE;
}

gboolean
seqnn_dataset_read_file (SeqnnDataset *dataset, const gchar *path,
    const SeqnnReadOptions *options, SeqnnLabelSet *labels, guint64 *n_skipped, GError **error)
{
  if (n_skipped != NULL)
    *n_skipped = 0;
  if (dataset == NULL || path == NULL || options == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "seqnn_dataset_read_file needs a dataset, a path and options");
    return FALSE;
  }
  dataset->word_ngrams = options->tokenizer.word_ngrams;
  if (seqnn_format_to_string (options->format) == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "unknown record format %d",
        (int) options->format);
    return FALSE;
  }
  if (options->format != SEQNN_FORMAT_TEXT && labels == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "%s records are labelled: a label set is needed", seqnn_format_to_string (options->format));
    return FALSE;
  }
  FILE *file = fopen (path, "rb");
  if (file == NULL) {
    return seqnn_set_file_error (error, "open", path, errno);
  }
  gchar *source_name = g_path_get_basename (path);
  SeqnnRecordReader *reader = seqnn_record_reader_new (options->format, source_name);
  seqnn_record_reader_set_skip_bad (reader, options->skip_bad_rows);
  ReadContext ctx = {
    .dataset = dataset, .options = options, .labels = labels, .source_name = source_name,
    .tokens = seqnn_tokens_new (),
  };
  gchar *chunk = g_malloc (READ_CHUNK);
  gboolean ok = TRUE;
  if (seqnn_columns_is_set (&options->columns))
    ok = seqnn_record_reader_set_columns (reader, &options->columns, error);
  while (ok) {
    size_t got = fread (chunk, 1, READ_CHUNK, file);
    if (got > 0 && !seqnn_record_reader_feed (reader, chunk, got, add_record, &ctx, error)) {
      ok = FALSE;
      break;
    }
    if (got < READ_CHUNK) {
      if (ferror (file)) {
        ok = seqnn_set_file_error (error, "read", path, errno);
      }
      break;
    }
  }
  if (ok)
    ok = seqnn_record_reader_finish (reader, add_record, &ctx, error);
  if (n_skipped != NULL)
    *n_skipped = seqnn_record_reader_get_n_skipped (reader) + ctx.n_bad_labels;
  g_free (chunk);
  seqnn_tokens_free (ctx.tokens);
  seqnn_record_reader_free (reader);
  g_free (source_name);
  fclose (file);
  return ok;
}

gboolean
seqnn_format_from_path (const gchar *path, SeqnnFormat *format)
{
  static const struct {
    const gchar *suffix;
    SeqnnFormat format;
  } suffixes[] = {
    { ".csv", SEQNN_FORMAT_CSV }, { ".tsv", SEQNN_FORMAT_TSV }, { ".jsonl", SEQNN_FORMAT_JSONL },
    { ".ndjson", SEQNN_FORMAT_JSONL }, { ".ft", SEQNN_FORMAT_FASTTEXT },
    { ".fasttext", SEQNN_FORMAT_FASTTEXT },
  };
  if (path == NULL)
    return FALSE;
  gchar *lower = g_ascii_strdown (path, -1);
  gboolean found = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (suffixes) && !found; i++) {
    if (g_str_has_suffix (lower, suffixes[i].suffix)) {
      found = TRUE;
      if (format != NULL)
        *format = suffixes[i].format;
    }
  }
  g_free (lower);
  return found;
}

/* "\"Health\", \"Travel\"": the names from first on. */
static gchar *
join_names_from (const SeqnnLabelSet *labels, guint first)
{
  GString *names = g_string_new (NULL);
  for (guint i = first; i < seqnn_label_set_get_n (labels); i++)
    g_string_append_printf (names, "%s\"%s\"", i > first ? ", " : "",
        seqnn_label_set_get_name (labels, (gint) i));
  return g_string_free (names, FALSE);
}

SeqnnDataset *
seqnn_dataset_read_validation (const gchar *path, const SeqnnReadOptions *options,
    const gchar *const *class_names, const SeqnnVocab *vocab, GError **error)
{
  if (path == NULL || options == NULL || class_names == NULL || vocab == NULL
      || options->format == SEQNN_FORMAT_TEXT) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a validation file needs a path, a labelled format, the class names and a vocabulary");
    return NULL;
  }
  SeqnnLabelSet *labels = seqnn_label_set_new_from_strv (class_names);
  guint n_classes = seqnn_label_set_get_n (labels);
  SeqnnReadOptions growing = *options;
  growing.grow_labels = TRUE; /* new names are collected, then refused by name */
  SeqnnDataset *dataset = seqnn_dataset_new ();
  gboolean ok = seqnn_dataset_read_file (dataset, path, &growing, labels, NULL, error);
  if (ok && seqnn_label_set_get_n (labels) > n_classes) {
    gchar *base = g_path_get_basename (path);
    gchar *names = join_names_from (labels, n_classes);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "%s: labels the training data lacks: %s", base, names);
    g_free (names);
    g_free (base);
    ok = FALSE;
  }
  seqnn_label_set_free (labels);
  if (!ok) {
    seqnn_dataset_free (dataset);
    return NULL;
  }
  seqnn_dataset_apply_vocab (dataset, vocab);
  return dataset;
}

SeqnnVocab *
seqnn_dataset_build_vocab (const SeqnnDataset *dataset, guint64 min_freq, gsize max_size,
    GError **error)
{
  return seqnn_dataset_build_vocab_ngrams (dataset, min_freq, max_size, 1, error);
}

gboolean
seqnn_dataset_count_ngrams (SeqnnDataset *dataset, gint word_ngrams, GError **error)
{
  if (dataset == NULL || word_ngrams > SEQNN_WORD_NGRAMS_MAX) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "word n-grams of %d words: at most %d are supported", word_ngrams, SEQNN_WORD_NGRAMS_MAX);
    return FALSE;
  }
  if (word_ngrams <= dataset->ngrams_counted)
    return TRUE;
  if (dataset->vocab != NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "word n-grams can only be counted before a vocabulary is applied to the dataset");
    return FALSE;
  }
  GString *ngram = g_string_new (NULL);
  gsize n_rows = seqnn_dataset_get_size (dataset);
  for (gsize r = 0; r < n_rows; r++)
    count_row_ngrams (dataset, r, dataset->ngrams_counted + 1, word_ngrams, ngram);
  g_string_free (ngram, TRUE);
  dataset->ngrams_counted = word_ngrams;
  return TRUE;
}

SeqnnVocab *
seqnn_dataset_build_vocab_ngrams (const SeqnnDataset *dataset, guint64 min_freq, gsize max_size,
    gint word_ngrams, GError **error)
{
  if (dataset == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no dataset");
    return NULL;
  }
  if (word_ngrams > dataset->ngrams_counted) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "word n-grams of %d words were not counted (seqnn_dataset_count_ngrams)", word_ngrams);
    return NULL;
  }
  return seqnn_vocab_builder_build_ngrams (dataset->counts, min_freq, max_size,
      MAX (word_ngrams, 1), error);
}

void
seqnn_dataset_set_word_ngrams (SeqnnDataset *dataset, gint word_ngrams)
{
  g_return_if_fail (dataset != NULL);
  dataset->word_ngrams = word_ngrams;
}

void
seqnn_dataset_apply_vocab (SeqnnDataset *dataset, const SeqnnVocab *vocab)
{
  g_return_if_fail (dataset != NULL);
  g_return_if_fail (vocab != NULL);
  if (dataset->vocab == vocab)
    return;
  /* old id -> new id, through the token text */
  gsize n_old;
  gint32 *map;
  if (dataset->vocab == NULL) {
    n_old = seqnn_vocab_builder_get_n (dataset->counts);
    map = g_new (gint32, MAX (n_old, 1));
    for (gsize i = 0; i < n_old; i++)
      map[i] = seqnn_vocab_lookup (vocab, seqnn_vocab_builder_get_token (dataset->counts, (guint) i), -1);
  } else {
    n_old = seqnn_vocab_get_size (dataset->vocab);
    map = g_new (gint32, MAX (n_old, 1));
    for (gsize i = 0; i < n_old; i++)
      map[i] = seqnn_vocab_lookup (vocab, seqnn_vocab_get_token (dataset->vocab, (gint32) i), -1);
  }
  gint32 *ids = (gint32 *) dataset->ids->data;
  for (guint k = 0; k < dataset->ids->len; k++)
    ids[k] = map[ids[k]];
  g_free (map);
  SeqnnVocab *old = dataset->vocab;
  dataset->vocab = seqnn_vocab_ref ((SeqnnVocab *) vocab);
  seqnn_vocab_unref (old);
}

gboolean
seqnn_dataset_has_vocab (const SeqnnDataset *dataset)
{
  g_return_val_if_fail (dataset != NULL, FALSE);
  return dataset->vocab != NULL;
}

gsize
seqnn_dataset_get_size (const SeqnnDataset *dataset)
{
  g_return_val_if_fail (dataset != NULL, 0);
  return dataset->labels->len;
}

gsize
seqnn_dataset_get_n_tokens (const SeqnnDataset *dataset)
{
  g_return_val_if_fail (dataset != NULL, 0);
  return dataset->ids->len;
}

void
seqnn_dataset_get (const SeqnnDataset *dataset, gsize index, const gint32 **ids, gint *length,
    gint *label)
{
  if (ids != NULL)
    *ids = NULL;
  if (length != NULL)
    *length = 0;
  if (label != NULL)
    *label = -1;
  g_return_if_fail (dataset != NULL);
  g_return_if_fail (index < dataset->labels->len);
  guint64 start = g_array_index (dataset->offsets, guint64, index);
  guint64 end = g_array_index (dataset->offsets, guint64, index + 1);
  if (ids != NULL)
    *ids = (const gint32 *) dataset->ids->data + start;
  if (length != NULL)
    *length = (gint) (end - start);
  if (label != NULL)
    *label = g_array_index (dataset->labels, gint32, index);
}

gint
seqnn_dataset_append_row (const SeqnnDataset *dataset, gsize index, GArray *ids, gint *label)
{
  const gint32 *seq;
  gint length;
  guint start = ids->len;
  seqnn_dataset_get (dataset, index, &seq, &length, label);
  g_array_append_vals (ids, seq, length);
  if (dataset->vocab != NULL)
    seqnn_vocab_append_ngrams (dataset->vocab, ids, start, dataset->word_ngrams);
  return seqnn_ids_end_record (ids, start);
}

SeqnnDataset *
seqnn_dataset_copy_encoded (const SeqnnDataset *src, const gsize *indices, gsize n_indices,
    const SeqnnVocab *vocab, gint max_tokens, gint word_ngrams)
{
  g_return_val_if_fail (src != NULL && vocab != NULL, NULL);
  gsize n_old = src->vocab != NULL ? seqnn_vocab_get_size (src->vocab)
      : seqnn_vocab_builder_get_n (src->counts);
  gint32 *map = g_new (gint32, MAX (n_old, 1));
  for (gsize i = 0; i < n_old; i++) {
    const gchar *token = src->vocab != NULL ? seqnn_vocab_get_token (src->vocab, (gint32) i)
        : seqnn_vocab_builder_get_token (src->counts, (guint) i);
    map[i] = seqnn_vocab_lookup (vocab, token, -1);
  }
  SeqnnDataset *dst = seqnn_dataset_new ();
  for (gsize k = 0; k < n_indices; k++) {
    const gint32 *ids;
    gint length, label;
    seqnn_dataset_get (src, indices[k], &ids, &length, &label);
    if (max_tokens > 0 && length > max_tokens)
      length = max_tokens;
    guint base = dst->ids->len;
    g_array_set_size (dst->ids, base + length);
    gint32 *out = &g_array_index (dst->ids, gint32, base);
    for (gint t = 0; t < length; t++)
      out[t] = map[ids[t]];
    guint64 end = dst->ids->len;
    g_array_append_val (dst->offsets, end);
    gint32 l = label;
    g_array_append_val (dst->labels, l);
  }
  g_free (map);
  dst->vocab = seqnn_vocab_ref ((SeqnnVocab *) vocab);
  dst->word_ngrams = word_ngrams;
  return dst;
}
