/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pretrained word vectors (GloVe or word2vec text) into the embedding. The
 * file is parsed completely into a staging copy first, so a malformed line
 * leaves the model untouched. */
#include "seqnn/classifier.h"
#include "error-private.h"
#include "modelfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean
parse_error (GError **error, const gchar *path, guint64 line, const gchar *format, ...) G_GNUC_PRINTF (4, 5);

static gboolean
parse_error (GError **error, const gchar *path, guint64 line, const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  gchar *message = g_strdup_vprintf (format, args);
  va_end (args);
  gchar *display = g_filename_display_name (path);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE, "%s:%" G_GUINT64_FORMAT ": %s", display, line, message);
  g_free (display);
  g_free (message);
  return FALSE;
}

/* Splits line in place on spaces and tabs; returns the number of fields. */
static guint
split_fields (gchar *line, GPtrArray *fields)
{
  g_ptr_array_set_size (fields, 0);
  gchar *p = line;
  while (*p) {
    while (*p == ' ' || *p == '\t')
      *p++ = '\0';
    if (*p == '\0')
      break;
    g_ptr_array_add (fields, p);
    while (*p && *p != ' ' && *p != '\t')
      p++;
  }
  return fields->len;
}

static gboolean
parse_float (const gchar *text, gfloat *value)
{
  gchar *end = NULL;
  errno = 0;
  gdouble number = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !isfinite (number) || fabs (number) > G_MAXFLOAT)
    return FALSE;
  *value = (gfloat) number;
  return TRUE;
}

/* Reads one line, without its '\n', into line; FALSE at the end of input.
 * Stops at max bytes with *too_long set: a file without line breaks (or an
 * endless device) must not be read into memory whole. */
static gboolean
read_line (FILE *file, GString *line, gsize max, gboolean *too_long)
{
  g_string_truncate (line, 0);
  *too_long = FALSE;
  int c;
  while ((c = getc_unlocked (file)) != EOF) {
    if (c == '\n')
      return TRUE;
    if (line->len >= max) {
      *too_long = TRUE;
      return TRUE;
    }
    g_string_append_c (line, (gchar) c);
  }
  return line->len > 0;
}

static gboolean
is_count (const gchar *text, guint64 *value)
{
  return g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, value, NULL);
}

gboolean
seqnn_model_load_word_vectors (SeqnnModel *model, const SeqnnVocab *vocab,
    const gchar *path, gsize *n_found, GError **error)
{
  if (model == NULL || vocab == NULL || path == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "word vectors need a model, a vocabulary and a path");
    return FALSE;
  }
  const SeqnnConfig *config = seqnn_model_get_config (model);
  if (!seqnn_check_vocab_fits (vocab, config, error))
    return FALSE;
  const gsize vocab_size = (gsize) config->vocab_size;
  const SeqnnTensorInfo *embedding = seqnn_model_find_tensor (model, "embedding.weight");
  if (embedding == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "model has no embedding.weight");
    return FALSE;
  }
  FILE *file = fopen (path, "re");
  if (file == NULL) {
    return seqnn_set_file_error (error, "open", path, errno);
  }

  const gint dim = config->embed_dim;
  gfloat *staging = g_try_new (gfloat, vocab_size * (gsize) dim);
  if (staging == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "cannot allocate a staging copy of the %" G_GSIZE_FORMAT " x %d embedding", vocab_size, dim);
    fclose (file);
    return FALSE;
  }
  guint8 *found = g_new0 (guint8, vocab_size);
  GPtrArray *fields = g_ptr_array_new ();
  GString *line_buffer = g_string_sized_new (4096);
  /* the longest sensible line: a long word and dim values of 64 characters */
  const gsize max_line = (gsize) 1024 * 1024 + (gsize) dim * 64;
  gboolean too_long;
  guint64 line_number = 0, n_vectors = 0, declared_count = 0;
  gboolean has_header = FALSE, ok = TRUE;

  while (read_line (file, line_buffer, max_line, &too_long)) {
    line_number++;
    if (too_long) {
      ok = parse_error (error, path, line_number, "line longer than %" G_GSIZE_FORMAT " bytes", max_line);
      break;
    }
    gchar *line = line_buffer->str;
    gsize len = line_buffer->len;
    if (memchr (line, '\0', len) != NULL || !g_utf8_validate (line, (gssize) len, NULL)) {
      ok = parse_error (error, path, line_number, "not text (binary word2vec files are not supported)");
      break;
    }
    while (len > 0 && line[len - 1] == '\r')
      line[--len] = '\0';
    guint n = split_fields (line, fields);
    if (n == 0)
      continue; /* blank lines, e.g. a trailing one */
    guint64 count = 0, header_dim = 0;
    if (line_number == 1 && n == 2 && is_count (fields->pdata[0], &count) &&
        is_count (fields->pdata[1], &header_dim)) {
      if (header_dim != (guint64) dim) {
        ok = parse_error (error, path, line_number, "word2vec header says %" G_GUINT64_FORMAT
            " dimensions, the embedding has %d", header_dim, dim);
        break;
      }
      has_header = TRUE;
      declared_count = count;
      continue;
    }
    if (n != (guint) dim + 1) {
      if (n_vectors == 0 && !has_header)
        ok = parse_error (error, path, line_number, "vectors have %u dimensions, the embedding has %d", n - 1, dim);
      else
        ok = parse_error (error, path, line_number, "expected a word and %d values, found %u fields", dim, n);
      break;
    }
    const gchar *word = fields->pdata[0];
    gint32 id = seqnn_vocab_lookup (vocab, word, -1);
    gboolean in_vocab = id != SEQNN_VOCAB_UNK_ID || strcmp (word, SEQNN_VOCAB_UNK) == 0;
    gfloat scratch;
    for (gint d = 0; d < dim; d++) {
      gfloat *target = in_vocab ? &staging[(gsize) id * dim + d] : &scratch;
      if (!parse_float (fields->pdata[d + 1], target)) {
        ok = parse_error (error, path, line_number, "value %d \"%.32s\" is not a finite number", d + 1,
            (const gchar *) fields->pdata[d + 1]);
        break;
      }
    }
    if (!ok)
      break;
    if (in_vocab && id != config->padding_idx)
      found[id] = 1;
    n_vectors++;
  }
  if (ok && ferror (file)) {
    ok = seqnn_set_file_error (error, "read", path, errno);
  }
  if (ok && has_header && n_vectors != declared_count)
    ok = parse_error (error, path, line_number, "word2vec header announces %" G_GUINT64_FORMAT
        " vectors, the file holds %" G_GUINT64_FORMAT, declared_count, n_vectors);
  if (ok && n_vectors == 0)
    ok = parse_error (error, path, line_number, "no vectors in the file");

  if (ok) {
    gsize n_params = 0;
    gfloat *params = seqnn_model_get_params (model, &n_params);
    gfloat *rows = params + embedding->offset;
    gsize n = 0;
    for (gsize id = 0; id < vocab_size; id++) {
      if (!found[id])
        continue;
      memcpy (rows + id * dim, staging + id * dim, (gsize) dim * sizeof (gfloat));
      n++;
    }
    if (n_found)
      *n_found = n;
  }
  g_string_free (line_buffer, TRUE);
  fclose (file);
  g_ptr_array_unref (fields);
  g_free (found);
  g_free (staging);
  return ok;
}

gint
seqnn_word_vectors_get_dim (const gchar *path, GError **error)
{
  if (path == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no word vectors file given");
    return -1;
  }
  FILE *file = fopen (path, "re");
  if (file == NULL) {
    seqnn_set_file_error (error, "open", path, errno);
    return -1;
  }
  GString *line = g_string_sized_new (4096);
  GPtrArray *fields = g_ptr_array_new ();
  guint64 line_number = 0, count = 0, header_dim = 0;
  gboolean too_long;
  gint dim = -1;
  guint n = 0;
  /* the first line that is not blank, with the limits of the loader */
  const gsize max_line = (gsize) 16 * 1024 * 1024;
  while (n == 0 && read_line (file, line, max_line, &too_long)) {
    line_number++;
    if (too_long)
      break;
    while (line->len > 0 && line->str[line->len - 1] == '\r')
      g_string_truncate (line, line->len - 1);
    n = split_fields (line->str, fields);
  }
  if (too_long)
    parse_error (error, path, line_number, "line longer than %" G_GSIZE_FORMAT " bytes", max_line);
  else if (n == 2 && line_number == 1 && is_count (fields->pdata[0], &count)
      && is_count (fields->pdata[1], &header_dim) && header_dim >= 1 && header_dim <= G_MAXINT)
    dim = (gint) header_dim;
  else if (n >= 2)
    dim = (gint) MIN (n - 1, (guint) G_MAXINT);
  else
    parse_error (error, path, MAX (line_number, 1), "not a word vector nor a word2vec header");
  g_ptr_array_unref (fields);
  g_string_free (line, TRUE);
  fclose (file);
  return dim;
}
