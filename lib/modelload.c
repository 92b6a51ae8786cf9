/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Reading model files (format in seqnn/classifier.h): every byte checked,
 * every refusal a GError saying what is wrong. */
#include "modelfile.h"
#include "checksum.h"
#include "error-private.h"
#include "jsonutil.h"
#include "network.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* "'PATH': MESSAGE" in SEQNN_ERROR with code; returns FALSE. */
static gboolean
file_problem (GError **error, gint code, const gchar *path, const gchar *format, va_list args)
{
  gchar *message = g_strdup_vprintf (format, args);
  gchar *display = g_filename_display_name (path);
  g_set_error (error, SEQNN_ERROR, code, "'%s': %s", display, message);
  g_free (display);
  g_free (message);
  return FALSE;
}

/* Damaged or inconsistent: SEQNN_ERROR_CORRUPT. */
static gboolean
corrupt (GError **error, const gchar *path, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
corrupt (GError **error, const gchar *path, const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  file_problem (error, SEQNN_ERROR_CORRUPT, path, format, args);
  va_end (args);
  return FALSE;
}

/* Valid but beyond this library: SEQNN_ERROR_UNSUPPORTED. */
static gboolean
unsupported (GError **error, const gchar *path, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
unsupported (GError **error, const gchar *path, const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  file_problem (error, SEQNN_ERROR_UNSUPPORTED, path, format, args);
  va_end (args);
  return FALSE;
}

typedef struct {
  const gchar *path;
  GHashTable *meta;     /* borrowed strings from the header's JSON */
} MetaReader;

static const gchar *
meta_get (MetaReader *reader, const gchar *key, GError **error)
{
  const gchar *value = g_hash_table_lookup (reader->meta, key);
  if (value == NULL)
    corrupt (error, reader->path, "metadata \"%s\" is missing", key);
  return value;
}

static gboolean
meta_get_int (MetaReader *reader, const gchar *key, gint64 min, gint *out, GError **error)
{
  const gchar *value = meta_get (reader, key, error);
  if (value == NULL)
    return FALSE;
  gint64 number = 0;
  if (!g_ascii_string_to_signed (value, 10, G_MININT32, G_MAXINT32, &number, NULL))
    return corrupt (error, reader->path, "metadata \"%s\" is \"%s\", not an integer", key, value);
  if (number < min)
    return corrupt (error, reader->path, "metadata \"%s\" is %" G_GINT64_FORMAT ", below %" G_GINT64_FORMAT,
        key, number, min);
  *out = (gint) number;
  return TRUE;
}

static gboolean
meta_get_bool (MetaReader *reader, const gchar *key, gboolean *out, GError **error)
{
  const gchar *value = meta_get (reader, key, error);
  if (value == NULL)
    return FALSE;
  if (strcmp (value, "true") == 0)
    *out = TRUE;
  else if (strcmp (value, "false") == 0)
    *out = FALSE;
  else
    return corrupt (error, reader->path, "metadata \"%s\" is \"%s\", not true or false", key, value);
  return TRUE;
}

/* A metadata value holding a JSON array of strings (the text is valid UTF-8:
 * it came out of the header's JSON). */
static gchar **
meta_get_string_array (MetaReader *reader, const gchar *key, GError **error)
{
  const gchar *value = meta_get (reader, key, error);
  if (value == NULL)
    return NULL;
  gchar *why = NULL;
  gchar **strv = seqnn_json_parse_string_array (value, &why);
  if (strv == NULL) {
    corrupt (error, reader->path, "metadata \"%s\" is %s%s", key,
        g_str_has_prefix (why, "not ") ? "" : "not a JSON array of strings: ", why);
    g_free (why);
  }
  return strv;
}

static gboolean
meta_get_tokenizer (MetaReader *reader, SeqnnTokenizerConfig *tokenizer, GError **error)
{
  const gchar *key = "seqnn.tokenizer";
  const gchar *value = meta_get (reader, key, error);
  if (value == NULL)
    return FALSE;
  gchar *why = NULL;
  JsonNode *node = seqnn_json_parse (value, strlen (value), &why);
  if (node == NULL) {
    corrupt (error, reader->path, "metadata \"%s\" is not valid JSON (strict RFC 8259): %s of the value", key, why);
    g_free (why);
    return FALSE;
  }
  gboolean ok = FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    corrupt (error, reader->path, "metadata \"%s\" is not a JSON object", key);
    goto out;
  }
  JsonObject *object = json_node_get_object (node);
  JsonNode *name = json_object_get_member (object, "name");
  if (name == NULL || !JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING) {
    corrupt (error, reader->path, "metadata \"%s\" has no tokenizer name", key);
    goto out;
  }
  if (strcmp (json_node_get_string (name), SEQNN_TOKENIZER_NAME) != 0) {
    unsupported (error, reader->path, "tokenizer \"%s\" is not supported (only " SEQNN_TOKENIZER_NAME ")",
        json_node_get_string (name));
    goto out;
  }
  seqnn_tokenizer_config_init_default (tokenizer);
  const gchar *bools[] = { "lowercase", "strip_markup" };
  gboolean *targets[] = { &tokenizer->lowercase, &tokenizer->strip_markup };
  for (guint i = 0; i < G_N_ELEMENTS (bools); i++) {
    JsonNode *member = json_object_get_member (object, bools[i]);
    if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
        json_node_get_value_type (member) != G_TYPE_BOOLEAN) {
      corrupt (error, reader->path, "metadata \"%s\": \"%s\" is missing or not a boolean", key, bools[i]);
      goto out;
    }
    *targets[i] = json_node_get_boolean (member);
  }
  gint64 max_tokens = 0;
  if (!seqnn_json_get_integer (json_object_get_member (object, "max_tokens"), &max_tokens) ||
      max_tokens < 0 || max_tokens > G_MAXINT32) {
    corrupt (error, reader->path, "metadata \"%s\": \"max_tokens\" is missing or not an integer >= 0", key);
    goto out;
  }
  tokenizer->max_tokens = (gint) max_tokens;
  gint64 word_ngrams = 1; /* absent: words only, as files before n-grams */
  JsonNode *ngrams = json_object_get_member (object, "word_ngrams");
  if (ngrams != NULL && (!seqnn_json_get_integer (ngrams, &word_ngrams)
          || word_ngrams < 1 || word_ngrams > SEQNN_WORD_NGRAMS_MAX)) {
    corrupt (error, reader->path, "metadata \"%s\": \"word_ngrams\" is not an integer from 1 to %d",
        key, SEQNN_WORD_NGRAMS_MAX);
    goto out;
  }
  tokenizer->word_ngrams = (gint) word_ngrams;
  ok = TRUE;
out:
  json_node_unref (node);
  return ok;
}

/* Architecture from the metadata; sizes checked before anything is allocated. */
static gboolean
read_config (MetaReader *reader, SeqnnConfig *config, GError **error)
{
  const gchar *value = meta_get (reader, "seqnn.cell", error);
  if (value == NULL)
    return FALSE;
  if (!seqnn_cell_from_string (value, &config->cell))
    return corrupt (error, reader->path, "metadata \"seqnn.cell\" is \"%s\", not rnn-tanh, rnn-relu, lstm or gru", value);
  value = meta_get (reader, "seqnn.head", error);
  if (value == NULL)
    return FALSE;
  if (!seqnn_head_from_string (value, &config->head))
    return corrupt (error, reader->path, "metadata \"seqnn.head\" is \"%s\", not last, mean or max", value);
  if (!meta_get_int (reader, "seqnn.embed_dim", 1, &config->embed_dim, error) ||
      !meta_get_int (reader, "seqnn.hidden_dim", 1, &config->hidden_dim, error) ||
      !meta_get_int (reader, "seqnn.num_layers", 0, &config->num_layers, error) ||
      !meta_get_int (reader, "seqnn.num_classes", 1, &config->num_classes, error) ||
      !meta_get_int (reader, "seqnn.vocab_size", 1, &config->vocab_size, error) ||
      !meta_get_int (reader, "seqnn.padding_idx", -1, &config->padding_idx, error) ||
      !meta_get_bool (reader, "seqnn.bidirectional", &config->bidirectional, error))
    return FALSE;
  value = meta_get (reader, "seqnn.dropout", error);
  if (value == NULL)
    return FALSE;
  gchar *end = NULL;
  gdouble dropout = g_ascii_strtod (value, &end);
  if (*value == '\0' || end == NULL || *end != '\0' || !isfinite (dropout) || dropout < 0 || dropout >= 1)
    return corrupt (error, reader->path, "metadata \"seqnn.dropout\" is \"%s\", not a number in [0, 1)", value);
  config->dropout = (gfloat) dropout;
  return TRUE;
}

/* ---- The loader: named steps over one context ----------------------------- */

typedef struct {
  const gchar *path;
  GError **error;
  FILE *file;
  guint64 file_size;
  guint64 data_size;        /* bytes after the header */
  gchar *header;            /* header_len bytes and a NUL */
  guint64 header_len;
  JsonNode *root;
  JsonObject *object;       /* root's, borrowed */
  GHashTable *meta;         /* key -> value, borrowed from root */
  MetaReader reader;
  SeqnnConfig config;
  SeqnnTokenizerConfig tokenizer;
  gboolean stream;          /* "seqnn.stream" (optional, false when absent) */
  gchar **labels;
  gchar **tokens;
  SeqnnVocab *vocab;
  const gchar *stored_checksum; /* borrowed from meta */
  gboolean use_sha256;
  SeqnnModel *model;
  SeqnnTensorEntry *entries;    /* n_entries of the model's n_tensors */
  guint n_entries;
} Loader;

static gboolean
read_exact (FILE *file, void *buffer, gsize len)
{
  return len == 0 || fread (buffer, 1, len, file) == len;
}

static gboolean
read_error (Loader *ld)
{
  return seqnn_set_file_error (ld->error, "read", ld->path, ferror (ld->file) ? errno : EIO);
}

/* A regular file, opened without blocking: a FIFO at path must not hang the caller. */
static gboolean
open_file (Loader *ld)
{
  int fd = open (ld->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return seqnn_set_file_error (ld->error, "open", ld->path, errno);
  struct stat st;
  if (fstat (fd, &st) != 0) {
    seqnn_set_file_error (ld->error, "read", ld->path, errno);
    goto close_fd;
  }
  if (S_ISDIR (st.st_mode)) {
    seqnn_set_file_error (ld->error, "read", ld->path, EISDIR);
    goto close_fd;
  }
  if (!S_ISREG (st.st_mode)) {
    gchar *display = g_filename_display_name (ld->path);
    g_set_error (ld->error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot read '%s': not a regular file", display);
    g_free (display);
    goto close_fd;
  }
  (void) fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  ld->file = fdopen (fd, "rb");
  if (ld->file == NULL) {
    seqnn_set_file_error (ld->error, "read", ld->path, errno);
    goto close_fd;
  }
  ld->file_size = (guint64) st.st_size;
  return TRUE;
close_fd:
  close (fd);
  return FALSE;
}

/* The length field and the header bytes, bounded by the file and a limit. */
static gboolean
read_header (Loader *ld)
{
  const gchar *path = ld->path;
  if (ld->file_size < 8)
    return corrupt (ld->error, path, "file is %" G_GUINT64_FORMAT " bytes, too short for a model file",
        ld->file_size);
  guint64 header_len_le = 0;
  if (!read_exact (ld->file, &header_len_le, 8))
    return read_error (ld);
  guint64 header_len = GUINT64_FROM_LE (header_len_le);
  if (header_len > SEQNN_HEADER_MAX_BYTES)
    return corrupt (ld->error, path, "header length %" G_GUINT64_FORMAT " is absurd (limit %u bytes)",
        header_len, SEQNN_HEADER_MAX_BYTES);
  if (header_len > ld->file_size - 8)
    return corrupt (ld->error, path, "header length %" G_GUINT64_FORMAT " exceeds the file's %"
        G_GUINT64_FORMAT " bytes after the length field", header_len, ld->file_size - 8);
  if (header_len < 2)
    return corrupt (ld->error, path, "header length %" G_GUINT64_FORMAT " is too small for a JSON header",
        header_len);
  ld->header_len = header_len;
  ld->data_size = ld->file_size - 8 - header_len;
  ld->header = g_malloc (header_len + 1);
  if (!read_exact (ld->file, ld->header, header_len)) {
    read_error (ld);
    goto free_header;
  }
  ld->header[header_len] = '\0';
  if (memchr (ld->header, '\0', header_len) != NULL) {
    corrupt (ld->error, path, "header holds a NUL byte");
    goto free_header;
  }
  return TRUE;
free_header:
  g_clear_pointer (&ld->header, g_free);
  return FALSE;
}

/* Strict JSON (jsonstrict.c) holding one object. */
static gboolean
parse_header (Loader *ld)
{
  gchar *why = NULL;
  ld->root = seqnn_json_parse (ld->header, ld->header_len, &why);
  if (ld->root == NULL) {
    corrupt (ld->error, ld->path, "header is not valid JSON (strict RFC 8259): %s of the header", why);
    g_free (why);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_OBJECT (ld->root))
    return corrupt (ld->error, ld->path, "header is not a JSON object");
  ld->object = json_node_get_object (ld->root);
  return TRUE;
}

/* "__metadata__": a map of strings. */
static gboolean
collect_metadata (Loader *ld)
{
  JsonNode *meta_node = json_object_get_member (ld->object, "__metadata__");
  if (meta_node == NULL || !JSON_NODE_HOLDS_OBJECT (meta_node))
    return corrupt (ld->error, ld->path, "header has no \"__metadata__\" object: not a seqnn model");
  ld->meta = g_hash_table_new (g_str_hash, g_str_equal);
  ld->reader = (MetaReader) { ld->path, ld->meta };
  JsonObjectIter iter;
  const gchar *key;
  JsonNode *value;
  json_object_iter_init (&iter, json_node_get_object (meta_node));
  while (json_object_iter_next (&iter, &key, &value)) {
    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
      return corrupt (ld->error, ld->path, "metadata \"%s\" is not a string", key);
    g_hash_table_insert (ld->meta, (gpointer) key, (gpointer) json_node_get_string (value));
  }
  return TRUE;
}

/* "format" is seqnn, the version one this library reads. */
static gboolean
check_format (Loader *ld)
{
  const gchar *format = g_hash_table_lookup (ld->meta, "format");
  if (format == NULL || strcmp (format, SEQNN_FORMAT_NAME) != 0)
    return corrupt (ld->error, ld->path, "metadata \"format\" is %s%s%s, not \"" SEQNN_FORMAT_NAME
        "\": not a seqnn model", format ? "\"" : "", format ? format : "missing", format ? "\"" : "");
  const gchar *version = meta_get (&ld->reader, "seqnn.version", ld->error);
  if (version == NULL)
    return FALSE;
  guint64 number = 0;
  if (!g_ascii_string_to_unsigned (version, 10, 1, G_MAXUINT32, &number, NULL))
    return corrupt (ld->error, ld->path, "metadata \"seqnn.version\" is \"%s\", not a version number", version);
  if (number > SEQNN_MODEL_FORMAT_VERSION)
    return unsupported (ld->error, ld->path, "format version %" G_GUINT64_FORMAT
        " is newer than this library's (%d)", number, SEQNN_MODEL_FORMAT_VERSION);
  return TRUE;
}

static gboolean
check_reserved_keys (Loader *ld)
{
  static const gchar *const known_keys[] = {
    "seqnn.version", "seqnn.cell", "seqnn.embed_dim", "seqnn.hidden_dim", "seqnn.num_layers",
    "seqnn.bidirectional", "seqnn.head", "seqnn.num_classes", "seqnn.vocab_size",
    "seqnn.padding_idx", "seqnn.dropout", "seqnn.tokenizer", "seqnn.labels", "seqnn.vocab",
    "seqnn.checksum", "seqnn.stream", NULL,
  };
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, ld->meta);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    if (g_str_has_prefix (key, "seqnn.") && !g_strv_contains (known_keys, key))
      return corrupt (ld->error, ld->path, "unknown reserved metadata key \"%s\"", (const gchar *) key);
  }
  return TRUE;
}

static gboolean
read_architecture (Loader *ld)
{
  seqnn_config_init_default (&ld->config);
  if (!read_config (&ld->reader, &ld->config, ld->error))
    return FALSE;
  GError *local = NULL;
  if (!seqnn_config_validate (&ld->config, &local)) {
    corrupt (ld->error, ld->path, "architecture metadata is invalid: %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  if (!meta_get_tokenizer (&ld->reader, &ld->tokenizer, ld->error))
    return FALSE;
  if (!seqnn_check_word_ngrams (ld->tokenizer.word_ngrams, &ld->config, &local)) {
    corrupt (ld->error, ld->path, "metadata \"seqnn.tokenizer\": %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  /* Optional: a stream model (seqnn/stream.h) must be able to run as one. */
  if (g_hash_table_contains (ld->meta, "seqnn.stream")
      && !meta_get_bool (&ld->reader, "seqnn.stream", &ld->stream, ld->error))
    return FALSE;
  if (ld->stream && (ld->config.bidirectional || ld->config.head != SEQNN_HEAD_LAST))
    return corrupt (ld->error, ld->path, "metadata \"seqnn.stream\" is \"true\" but the model "
        "(bidirectional %s, head %s) is not unidirectional with head last, as a stream model is",
        ld->config.bidirectional ? "true" : "false", seqnn_head_to_string (ld->config.head));
  return TRUE;
}

static gboolean
read_labels (Loader *ld)
{
  ld->labels = meta_get_string_array (&ld->reader, "seqnn.labels", ld->error);
  if (ld->labels == NULL)
    return FALSE;
  if (g_strv_length (ld->labels) != (guint) ld->config.num_classes)
    return corrupt (ld->error, ld->path, "metadata \"seqnn.labels\" has %u names but num_classes is %d",
        g_strv_length (ld->labels), ld->config.num_classes);
  return TRUE;
}

static gboolean
check_unique_tokens (Loader *ld, guint n_tokens)
{
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < n_tokens; i++) {
    gpointer first = NULL;
    if (g_hash_table_lookup_extended (seen, ld->tokens[i], NULL, &first))
      ok = corrupt (ld->error, ld->path, "vocabulary token \"%s\" appears twice (ids %u and %u)",
          ld->tokens[i], GPOINTER_TO_UINT (first), i);
    g_hash_table_insert (seen, ld->tokens[i], GUINT_TO_POINTER (i));
  }
  g_hash_table_unref (seen);
  return ok;
}

static gboolean
read_vocabulary (Loader *ld)
{
  ld->tokens = meta_get_string_array (&ld->reader, "seqnn.vocab", ld->error);
  if (ld->tokens == NULL)
    return FALSE;
  guint n_tokens = g_strv_length (ld->tokens);
  if (n_tokens != (guint) ld->config.vocab_size)
    return corrupt (ld->error, ld->path, "metadata \"seqnn.vocab\" has %u tokens but vocab_size is %d",
        n_tokens, ld->config.vocab_size);
  if (!check_unique_tokens (ld, n_tokens))
    return FALSE;
  GError *local = NULL;
  ld->vocab = seqnn_vocab_new_from_tokens ((const gchar *const *) ld->tokens, n_tokens, &local);
  if (ld->vocab == NULL) {
    corrupt (ld->error, ld->path, "metadata \"seqnn.vocab\" is not a valid vocabulary: %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_checksum_kind (Loader *ld)
{
  ld->stored_checksum = meta_get (&ld->reader, "seqnn.checksum", ld->error);
  if (ld->stored_checksum == NULL)
    return FALSE;
  ld->use_sha256 = g_str_has_prefix (ld->stored_checksum, SEQNN_SHA256_PREFIX);
  if (!ld->use_sha256 && !g_str_has_prefix (ld->stored_checksum, SEQNN_CRC32_PREFIX))
    return unsupported (ld->error, ld->path, "checksum \"%.40s\" is neither " SEQNN_CRC32_PREFIX
        "... nor " SEQNN_SHA256_PREFIX "...", ld->stored_checksum);
  return TRUE;
}

/* Size check before allocating: a damaged dimension must not cost gigabytes. */
static gboolean
build_model (Loader *ld)
{
  SeqnnLayout layout; /* validated config: at most 2^34 parameters */
  seqnn_layout_init (&layout, &ld->config);
  if ((guint64) layout.total * sizeof (gfloat) != ld->data_size)
    return corrupt (ld->error, ld->path, "data section is %" G_GUINT64_FORMAT
        " bytes but the architecture needs %" G_GSIZE_FORMAT " floats", ld->data_size, layout.total);
  GError *local = NULL;
  ld->model = seqnn_model_new (&ld->config, &local);
  if (ld->model == NULL) {
    corrupt (ld->error, ld->path, "cannot build the model: %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

/* A tensor's shape node against the architecture's. */
static gboolean
check_tensor_shape (Loader *ld, const gchar *name, JsonNode *shape_node, SeqnnTensorEntry *entry)
{
  const SeqnnTensorInfo *info = entry->info;
  JsonArray *shape = json_node_get_array (shape_node);
  entry->ndim = (gint) json_array_get_length (shape);
  gboolean shape_ok = entry->ndim == info->ndim;
  for (gint d = 0; shape_ok && d < entry->ndim; d++) {
    if (!seqnn_json_get_integer (json_array_get_element (shape, d), &entry->shape[d]) ||
        entry->shape[d] != info->shape[d])
      shape_ok = FALSE;
  }
  if (shape_ok)
    return TRUE;
  gchar *shape_text = json_to_string (shape_node, FALSE);
  gchar *expected = info->ndim == 1 ? g_strdup_printf ("[%d]", info->shape[0])
                                    : g_strdup_printf ("[%d, %d]", info->shape[0], info->shape[1]);
  corrupt (ld->error, ld->path, "tensor \"%s\" has shape %s, expected %s for this architecture",
      name, shape_text, expected);
  g_free (shape_text);
  g_free (expected);
  return FALSE;
}

/* [begin, end] integers inside the data section, spanning the tensor's bytes. */
static gboolean
check_tensor_offsets (Loader *ld, const gchar *name, JsonNode *offsets_node, SeqnnTensorEntry *entry)
{
  gint64 begin = 0, end = 0;
  if (offsets_node == NULL || !JSON_NODE_HOLDS_ARRAY (offsets_node) ||
      json_array_get_length (json_node_get_array (offsets_node)) != 2 ||
      !seqnn_json_get_integer (json_array_get_element (json_node_get_array (offsets_node), 0), &begin) ||
      !seqnn_json_get_integer (json_array_get_element (json_node_get_array (offsets_node), 1), &end))
    return corrupt (ld->error, ld->path, "tensor \"%s\" has no [begin, end] integer data_offsets", name);
  if (begin < 0 || end < begin || (guint64) end > ld->data_size)
    return corrupt (ld->error, ld->path, "tensor \"%s\" data_offsets [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "] lie outside the %" G_GUINT64_FORMAT "-byte data section", name, begin, end,
        ld->data_size);
  if ((guint64) (end - begin) != entry->info->numel * sizeof (gfloat))
    return corrupt (ld->error, ld->path, "tensor \"%s\" data_offsets span %" G_GINT64_FORMAT
        " bytes, its shape needs %" G_GSIZE_FORMAT, name, end - begin, entry->info->numel * sizeof (gfloat));
  entry->begin = (guint64) begin;
  entry->end = (guint64) end;
  return TRUE;
}

/* One header member other than "__metadata__": a tensor of this model, F32. */
static gboolean
read_tensor_entry (Loader *ld, const gchar *name, JsonNode *node)
{
  const SeqnnTensorInfo *info = seqnn_model_find_tensor (ld->model, name);
  if (info == NULL)
    return corrupt (ld->error, ld->path, "unexpected tensor \"%s\" for a %s model", name,
        seqnn_cell_to_string (ld->config.cell));
  if (ld->n_entries >= seqnn_model_get_n_tensors (ld->model)) /* cannot happen: names are unique */
    return corrupt (ld->error, ld->path, "too many tensors");
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return corrupt (ld->error, ld->path, "tensor \"%s\" is not a JSON object", name);
  JsonObject *tensor = json_node_get_object (node);
  JsonNode *dtype = json_object_get_member (tensor, "dtype");
  if (dtype == NULL || !JSON_NODE_HOLDS_VALUE (dtype) || json_node_get_value_type (dtype) != G_TYPE_STRING)
    return corrupt (ld->error, ld->path, "tensor \"%s\" has no dtype", name);
  if (strcmp (json_node_get_string (dtype), "F32") != 0)
    return corrupt (ld->error, ld->path, "tensor \"%s\" has dtype \"%s\"; only F32 is supported", name,
        json_node_get_string (dtype));
  JsonNode *shape_node = json_object_get_member (tensor, "shape");
  if (shape_node == NULL || !JSON_NODE_HOLDS_ARRAY (shape_node))
    return corrupt (ld->error, ld->path, "tensor \"%s\" has no shape array", name);
  SeqnnTensorEntry *entry = &ld->entries[ld->n_entries];
  entry->name = info->name;
  entry->info = info;
  if (!check_tensor_shape (ld, name, shape_node, entry) ||
      !check_tensor_offsets (ld, name, json_object_get_member (tensor, "data_offsets"), entry))
    return FALSE;
  ld->n_entries++;
  return TRUE;
}

/* Exactly the model's tensors, and their offsets tile the data section. */
static gboolean
check_tensor_tiling (Loader *ld)
{
  guint n_tensors = seqnn_model_get_n_tensors (ld->model);
  guint n_members = json_object_get_size (ld->object) - 1;
  if (n_members != n_tensors || ld->n_entries != n_tensors) {
    for (guint i = 0; i < n_tensors; i++) {
      const SeqnnTensorInfo *info = seqnn_model_get_tensor (ld->model, i);
      if (!json_object_has_member (ld->object, info->name))
        return corrupt (ld->error, ld->path, "missing tensor \"%s\"", info->name);
    }
    return corrupt (ld->error, ld->path, "expected %u tensors, found %u", n_tensors, n_members);
  }
  qsort (ld->entries, ld->n_entries, sizeof (SeqnnTensorEntry), seqnn_compare_entries_by_begin);
  guint64 expected_begin = 0;
  for (guint i = 0; i < ld->n_entries; i++) {
    const SeqnnTensorEntry *entry = &ld->entries[i];
    if (entry->begin != expected_begin)
      return corrupt (ld->error, ld->path, "tensor \"%s\" starts at byte %" G_GUINT64_FORMAT
          " of the data section: %s at %" G_GUINT64_FORMAT, entry->name, entry->begin,
          entry->begin < expected_begin ? "it overlaps the previous tensor, which ends" : "a gap, expected it",
          expected_begin);
    expected_begin = entry->end;
  }
  if (expected_begin != ld->data_size)
    return corrupt (ld->error, ld->path, "tensors cover %" G_GUINT64_FORMAT " of the data section's %"
        G_GUINT64_FORMAT " bytes", expected_begin, ld->data_size);
  return TRUE;
}

static gboolean
read_tensor_table (Loader *ld)
{
  ld->entries = g_new0 (SeqnnTensorEntry, seqnn_model_get_n_tensors (ld->model));
  JsonObjectIter iter;
  const gchar *name;
  JsonNode *node;
  json_object_iter_init (&iter, ld->object);
  while (json_object_iter_next (&iter, &name, &node)) {
    if (strcmp (name, "__metadata__") != 0 && !read_tensor_entry (ld, name, node))
      return FALSE;
  }
  return check_tensor_tiling (ld);
}

/* Data in file order (entries are sorted by begin) straight into the parameters. */
static gboolean
read_tensor_data (Loader *ld)
{
  gfloat *params = seqnn_model_get_params (ld->model, NULL);
  for (guint i = 0; i < ld->n_entries; i++) {
    const SeqnnTensorInfo *info = ld->entries[i].info;
    if (!read_exact (ld->file, params + info->offset, info->numel * sizeof (gfloat)))
      return read_error (ld);
  }
  return TRUE;
}

static gboolean
verify_checksum (Loader *ld)
{
  const gfloat *params = seqnn_model_peek_params (ld->model, NULL);
  gchar *actual = seqnn_model_file_checksum (ld->use_sha256, ld->entries, ld->n_entries, ld->meta, params);
  gboolean ok = strcmp (actual, ld->stored_checksum) == 0;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  ok = TRUE; /* tests/fuzz's copy of the library: mutated files get past this step */
#endif
  g_free (actual);
  if (!ok)
    return corrupt (ld->error, ld->path, "checksum mismatch: the tensors or metadata were altered or damaged");
  return TRUE;
}

static gboolean
check_finite (Loader *ld)
{
  gsize total = 0;
  const gfloat *params = seqnn_model_peek_params (ld->model, &total);
  for (gsize i = 0; i < total; i++) {
    if (!isfinite (params[i]))
      return corrupt (ld->error, ld->path, "parameter %" G_GSIZE_FORMAT " is not a finite number", i);
  }
  return TRUE;
}

/* The classifier, with the file's user metadata; takes the model. */
static SeqnnClassifier *
make_classifier (Loader *ld)
{
  GError *local = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_new (ld->model, ld->vocab, &ld->tokenizer,
      (const gchar *const *) ld->labels, &local);
  ld->model = NULL; /* owned (or freed) by seqnn_classifier_new */
  if (classifier == NULL) {
    corrupt (ld->error, ld->path, "%s", local->message);
    g_error_free (local);
    return NULL;
  }
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, ld->meta);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    if (!seqnn_classifier_is_reserved_key (key))
      seqnn_classifier_set_metadata (classifier, key, value);
  }
  classifier->stream = ld->stream;
  return classifier;
}

SeqnnClassifier *
seqnn_classifier_load (const gchar *path, GError **error)
{
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_UNSUPPORTED, "model files need a little-endian host");
  return NULL;
#endif
  if (path == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "load needs a path");
    return NULL;
  }
  SeqnnClassifier *classifier = NULL;
  Loader ld = { .path = path, .error = error };
  if (!open_file (&ld))
    return NULL;
  if (!read_header (&ld))
    goto close_file;
  if (!parse_header (&ld) || !collect_metadata (&ld) || !check_format (&ld) ||
      !check_reserved_keys (&ld) || !read_architecture (&ld))
    goto free_header;
  if (!read_labels (&ld) || !read_vocabulary (&ld) || !read_checksum_kind (&ld) || !build_model (&ld))
    goto free_description;
  if (!read_tensor_table (&ld) || !read_tensor_data (&ld) || !verify_checksum (&ld) || !check_finite (&ld))
    goto free_model;
  classifier = make_classifier (&ld);

free_model:
  g_free (ld.entries);
  if (ld.model)
    seqnn_model_free (ld.model);
free_description:
  if (ld.vocab)
    seqnn_vocab_unref (ld.vocab);
  g_strfreev (ld.tokens);
  g_strfreev (ld.labels);
free_header:
  if (ld.meta)
    g_hash_table_unref (ld.meta);
  if (ld.root)
    json_node_unref (ld.root);
  g_free (ld.header);
close_file:
  fclose (ld.file);
  return classifier;
}
