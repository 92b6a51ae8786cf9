/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SeqnnClassifier (model + vocabulary + tokenizer settings + labels) and its
 * file format, documented in seqnn/classifier.h: the safetensors layout with
 * seqnn metadata and a checksum (CRC-32, or SHA-256 when a file says so).
 *
 * Floats are written and read as the host's bytes, so only little-endian
 * hosts are supported (every platform this project targets); a big-endian
 * build refuses with SEQNN_ERROR_UNSUPPORTED instead of misreading. */
#include "seqnn/classifier.h"
#include "network.h"
#include "jsonstrict.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#define HEADER_MAX_BYTES (100u * 1024u * 1024u)
#define FORMAT_NAME "seqnn"
#define CRC32_PREFIX "crc32:"
#define SHA256_PREFIX "sha256:"
#define TOKENIZER_NAME "basic_english"

struct _SeqnnClassifier {
  SeqnnModel *model;
  SeqnnVocab *vocab;
  SeqnnTokenizerConfig tokenizer;
  gchar **labels;        /* num_classes names, NULL-terminated */
  GHashTable *metadata;  /* user keys -> values, both owned */
};

static gboolean
is_reserved_key (const gchar *key)
{
  return g_str_has_prefix (key, "seqnn.") || strcmp (key, "format") == 0;
}

/* ---- Classifier --------------------------------------------------------- */

SeqnnClassifier *
seqnn_classifier_new (SeqnnModel *model, SeqnnVocab *vocab,
    const SeqnnTokenizerConfig *tokenizer, const gchar *const *labels, GError **error)
{
  if (model == NULL || vocab == NULL || labels == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "classifier needs a model, a vocabulary and labels");
    if (model)
      seqnn_model_free (model);
    return NULL;
  }
  if (tokenizer != NULL && tokenizer->max_tokens < 0) {
    /* the file stores it and load refuses a negative cap: fail here, not at load */
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "tokenizer max_tokens is %d; it must be 0 (no cap) or more", tokenizer->max_tokens);
    seqnn_model_free (model);
    return NULL;
  }
  const SeqnnConfig *config = seqnn_model_get_config (model);
  gsize vocab_size = seqnn_vocab_get_size (vocab);
  if (vocab_size != (gsize) config->vocab_size) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "vocabulary has %" G_GSIZE_FORMAT " tokens but the model's vocab_size is %d",
        vocab_size, config->vocab_size);
    seqnn_model_free (model);
    return NULL;
  }
  for (gint i = 0; i < config->num_classes; i++) {
    if (labels[i] == NULL || !g_utf8_validate (labels[i], -1, NULL)) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "label %d of %d is %s", i, config->num_classes,
          labels[i] == NULL ? "missing" : "not valid UTF-8");
      seqnn_model_free (model);
      return NULL;
    }
  }
  SeqnnClassifier *classifier = g_new0 (SeqnnClassifier, 1);
  classifier->model = model;
  classifier->vocab = seqnn_vocab_ref (vocab);
  if (tokenizer)
    classifier->tokenizer = *tokenizer;
  else
    seqnn_tokenizer_config_init_default (&classifier->tokenizer);
  classifier->labels = g_new0 (gchar *, config->num_classes + 1);
  for (gint i = 0; i < config->num_classes; i++)
    classifier->labels[i] = g_strdup (labels[i]);
  classifier->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return classifier;
}

void
seqnn_classifier_free (SeqnnClassifier *classifier)
{
  if (classifier == NULL)
    return;
  seqnn_model_free (classifier->model);
  seqnn_vocab_unref (classifier->vocab);
  g_strfreev (classifier->labels);
  g_hash_table_unref (classifier->metadata);
  g_free (classifier);
}

SeqnnModel *
seqnn_classifier_get_model (SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return classifier->model;
}

const SeqnnModel *
seqnn_classifier_peek_model (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return classifier->model;
}

SeqnnVocab *
seqnn_classifier_get_vocab (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return classifier->vocab;
}

const SeqnnTokenizerConfig *
seqnn_classifier_get_tokenizer (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  return &classifier->tokenizer;
}

void
seqnn_classifier_set_tokenizer (SeqnnClassifier *classifier, const SeqnnTokenizerConfig *tokenizer)
{
  g_return_if_fail (classifier != NULL && tokenizer != NULL);
  g_return_if_fail (tokenizer->max_tokens >= 0);
  classifier->tokenizer = *tokenizer;
}

guint
seqnn_classifier_get_n_labels (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, 0);
  return g_strv_length (classifier->labels);
}

const gchar *
seqnn_classifier_get_label (const SeqnnClassifier *classifier, gint id)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  if (id < 0 || id >= seqnn_model_get_config (classifier->model)->num_classes)
    return NULL; /* labels holds exactly num_classes names */
  return classifier->labels[id];
}

void
seqnn_classifier_set_metadata (SeqnnClassifier *classifier, const gchar *key, const gchar *value)
{
  g_return_if_fail (classifier != NULL && key != NULL);
  g_return_if_fail (!is_reserved_key (key));
  g_return_if_fail (g_utf8_validate (key, -1, NULL));
  g_return_if_fail (value == NULL || g_utf8_validate (value, -1, NULL));
  if (value == NULL)
    g_hash_table_remove (classifier->metadata, key);
  else
    g_hash_table_insert (classifier->metadata, g_strdup (key), g_strdup (value));
}

const gchar *
seqnn_classifier_get_metadata (const SeqnnClassifier *classifier, const gchar *key)
{
  g_return_val_if_fail (classifier != NULL && key != NULL, NULL);
  return g_hash_table_lookup (classifier->metadata, key);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

gchar **
seqnn_classifier_list_metadata (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, NULL);
  guint n = 0;
  gchar **keys = (gchar **) g_hash_table_get_keys_as_array (classifier->metadata, &n);
  qsort (keys, n, sizeof (gchar *), compare_strings);
  gchar **copy = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    copy[i] = g_strdup (keys[i]);
  g_free (keys);
  return copy;
}

void
seqnn_classifier_encode (const SeqnnClassifier *classifier, const gchar *text, gssize len,
    SeqnnTokens *tokens, GArray *ids)
{
  g_return_if_fail (classifier != NULL && tokens != NULL && ids != NULL);
  if (text == NULL)
    return;
  seqnn_tokenize (&classifier->tokenizer, text, len, tokens);
  seqnn_vocab_encode (classifier->vocab, tokens, ids);
}

/* ---- Metadata (both directions) ----------------------------------------- */

static gchar *
strv_to_json_array (const gchar *const *strv, gsize n)
{
  JsonArray *array = json_array_sized_new (n);
  for (gsize i = 0; i < n; i++)
    json_array_add_string_element (array, strv[i]);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, array);
  gchar *text = json_to_string (node, FALSE);
  json_node_unref (node);
  return text;
}

static gchar *
tokenizer_to_json (const SeqnnTokenizerConfig *tokenizer)
{
  return g_strdup_printf ("{\"name\": \"" TOKENIZER_NAME "\", \"lowercase\": %s, "
      "\"strip_markup\": %s, \"max_tokens\": %d}",
      tokenizer->lowercase ? "true" : "false",
      tokenizer->strip_markup ? "true" : "false", tokenizer->max_tokens);
}

/* Every metadata entry the file carries except the checksum, as owned strings. */
static GHashTable *
build_metadata (const SeqnnClassifier *classifier)
{
  const SeqnnConfig *config = seqnn_model_get_config (classifier->model);
  GHashTable *meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, classifier->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (meta, g_strdup (key), g_strdup (value));

#define PUT(k, v) g_hash_table_insert (meta, g_strdup (k), (v))
  gchar dropout[G_ASCII_DTOSTR_BUF_SIZE];
  /* %.9g round-trips every float exactly */
  g_ascii_formatd (dropout, sizeof dropout, "%.9g", (gdouble) config->dropout);
  PUT ("format", g_strdup (FORMAT_NAME));
  PUT ("seqnn.version", g_strdup_printf ("%d", SEQNN_MODEL_FORMAT_VERSION));
  PUT ("seqnn.cell", g_strdup (seqnn_cell_to_string (config->cell)));
  PUT ("seqnn.embed_dim", g_strdup_printf ("%d", config->embed_dim));
  PUT ("seqnn.hidden_dim", g_strdup_printf ("%d", config->hidden_dim));
  PUT ("seqnn.num_layers", g_strdup_printf ("%d", config->num_layers));
  PUT ("seqnn.bidirectional", g_strdup (config->bidirectional ? "true" : "false"));
  PUT ("seqnn.head", g_strdup (seqnn_head_to_string (config->head)));
  PUT ("seqnn.num_classes", g_strdup_printf ("%d", config->num_classes));
  PUT ("seqnn.vocab_size", g_strdup_printf ("%d", config->vocab_size));
  PUT ("seqnn.padding_idx", g_strdup_printf ("%d", config->padding_idx));
  PUT ("seqnn.dropout", g_strdup (dropout));
  PUT ("seqnn.tokenizer", tokenizer_to_json (&classifier->tokenizer));
  PUT ("seqnn.labels", strv_to_json_array ((const gchar *const *) classifier->labels,
      (gsize) config->num_classes));

  gsize vocab_size = seqnn_vocab_get_size (classifier->vocab);
  const gchar **tokens = g_new (const gchar *, vocab_size + 1);
  for (gsize i = 0; i < vocab_size; i++)
    tokens[i] = seqnn_vocab_get_token (classifier->vocab, (gint32) i);
  tokens[vocab_size] = NULL;
  PUT ("seqnn.vocab", strv_to_json_array (tokens, vocab_size));
  g_free (tokens);
#undef PUT
  return meta;
}

/* ---- Checksum ------------------------------------------------------------ */

typedef struct {
  const gchar *name;
  gint ndim;
  gint64 shape[2];
  guint64 begin, end;   /* bytes in the data section */
  const SeqnnTensorInfo *info;
} TensorEntry;

/* CRC-32 as zlib's crc32() (reflected 0xEDB88320), slicing by 8: the
 * default checksum, a few GB/s where GLib's SHA-256 manages tens of MB/s,
 * and Python computes it with zlib.crc32. It is for damage, not tampering;
 * files signed with SHA-256 are still accepted. */
static guint32 crc32_table[8][256];

static gpointer
crc32_init_tables (gpointer unused)
{
  for (guint32 i = 0; i < 256; i++) {
    guint32 c = i;
    for (gint k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    crc32_table[0][i] = c;
  }
  for (guint32 i = 0; i < 256; i++)
    for (gint s = 1; s < 8; s++)
      crc32_table[s][i] = (crc32_table[s - 1][i] >> 8) ^ crc32_table[0][crc32_table[s - 1][i] & 0xff];
  return NULL;
}

static guint32
crc32_update (guint32 crc, const guint8 *p, gsize n)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, crc32_init_tables, NULL);
  crc = ~crc;
  while (n >= 8) {
    guint32 a, b;
    memcpy (&a, p, 4);
    memcpy (&b, p + 4, 4);
    a = GUINT32_FROM_LE (a) ^ crc;
    b = GUINT32_FROM_LE (b);
    crc = crc32_table[7][a & 0xff] ^ crc32_table[6][(a >> 8) & 0xff] ^
          crc32_table[5][(a >> 16) & 0xff] ^ crc32_table[4][a >> 24] ^
          crc32_table[3][b & 0xff] ^ crc32_table[2][(b >> 8) & 0xff] ^
          crc32_table[1][(b >> 16) & 0xff] ^ crc32_table[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--)
    crc = crc32_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

typedef struct {
  GChecksum *sha256; /* NULL: CRC-32 */
  guint32 crc;
} Digest;

static void
digest_update (Digest *digest, const void *data, gsize len)
{
  if (digest->sha256)
    g_checksum_update (digest->sha256, data, len);
  else
    digest->crc = crc32_update (digest->crc, data, len);
}

static void
checksum_field (Digest *digest, const gchar *text)
{
  gsize len = strlen (text);
  guint64 len_le = GUINT64_TO_LE ((guint64) len);
  digest_update (digest, &len_le, sizeof len_le);
  digest_update (digest, text, len);
}

static gint
compare_entries_by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (((const TensorEntry *) a)->name, ((const TensorEntry *) b)->name);
}

static gint
compare_entries_by_begin (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const TensorEntry *) a)->begin, y = ((const TensorEntry *) b)->begin;
  return x < y ? -1 : x > y;
}

static gchar *
shape_string (const TensorEntry *entry)
{
  if (entry->ndim == 1)
    return g_strdup_printf ("%" G_GINT64_FORMAT, entry->shape[0]);
  return g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, entry->shape[0], entry->shape[1]);
}

/* Header part of the checksum: tensor entries by name, then metadata by key.
 * entries is re-sorted by name. */
static void
checksum_begin (Digest *digest, gboolean sha256, TensorEntry *entries, guint n_entries, GHashTable *meta)
{
  digest->sha256 = sha256 ? g_checksum_new (G_CHECKSUM_SHA256) : NULL;
  digest->crc = 0;
  qsort (entries, n_entries, sizeof (TensorEntry), compare_entries_by_name);
  for (guint i = 0; i < n_entries; i++) {
    gchar *shape = shape_string (&entries[i]);
    gchar *offsets = g_strdup_printf ("%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT,
        entries[i].begin, entries[i].end);
    checksum_field (digest, entries[i].name);
    checksum_field (digest, "F32");
    checksum_field (digest, shape);
    checksum_field (digest, offsets);
    g_free (shape);
    g_free (offsets);
  }
  guint n_keys = 0;
  gchar **keys = (gchar **) g_hash_table_get_keys_as_array (meta, &n_keys);
  qsort (keys, n_keys, sizeof (gchar *), compare_strings);
  for (guint i = 0; i < n_keys; i++) {
    if (strcmp (keys[i], "seqnn.checksum") == 0)
      continue;
    checksum_field (digest, keys[i]);
    checksum_field (digest, g_hash_table_lookup (meta, keys[i]));
  }
  g_free (keys);
}

/* "crc32:" + 8 lowercase hex digits, or "sha256:" + 64. */
static gchar *
checksum_finish (Digest *digest)
{
  if (digest->sha256 == NULL)
    return g_strdup_printf (CRC32_PREFIX "%08x", digest->crc);
  gchar *text = g_strconcat (SHA256_PREFIX, g_checksum_get_string (digest->sha256), NULL);
  g_checksum_free (digest->sha256);
  return text;
}

/* ---- Saving -------------------------------------------------------------- */

static gboolean
set_io_error (GError **error, const gchar *what, const gchar *path, int errsv)
{
  gchar *display = g_filename_display_name (path);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot %s '%s': %s", what, display,
      g_strerror (errsv));
  g_free (display);
  return FALSE;
}

static gboolean
write_all (int fd, const void *data, gsize len, int *errsv)
{
  const guint8 *p = data;
  while (len > 0) {
    ssize_t n = write (fd, p, MIN (len, (gsize) 1 << 30));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      *errsv = errno;
      return FALSE;
    }
    if (n == 0) {
      *errsv = ENOSPC;
      return FALSE;
    }
    p += n;
    len -= (gsize) n;
  }
  return TRUE;
}

/* The JSON header, padded with spaces to a multiple of 8. */
static gchar *
build_header (TensorEntry *entries, guint n_entries, GHashTable *meta, gsize *len)
{
  JsonObject *root = json_object_new ();
  for (guint i = 0; i < n_entries; i++) {
    JsonObject *tensor = json_object_new ();
    json_object_set_string_member (tensor, "dtype", "F32");
    JsonArray *shape = json_array_new ();
    for (gint d = 0; d < entries[i].ndim; d++)
      json_array_add_int_element (shape, entries[i].shape[d]);
    json_object_set_array_member (tensor, "shape", shape);
    JsonArray *offsets = json_array_new ();
    json_array_add_int_element (offsets, (gint64) entries[i].begin);
    json_array_add_int_element (offsets, (gint64) entries[i].end);
    json_object_set_array_member (tensor, "data_offsets", offsets);
    json_object_set_object_member (root, entries[i].name, tensor);
  }
  JsonObject *metadata = json_object_new ();
  guint n_keys = 0;
  gchar **keys = (gchar **) g_hash_table_get_keys_as_array (meta, &n_keys);
  qsort (keys, n_keys, sizeof (gchar *), compare_strings);
  for (guint i = 0; i < n_keys; i++)
    json_object_set_string_member (metadata, keys[i], g_hash_table_lookup (meta, keys[i]));
  g_free (keys);
  json_object_set_object_member (root, "__metadata__", metadata);

  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, root);
  gsize json_len = 0;
  gchar *json = json_to_string (node, FALSE);
  json_node_unref (node);
  json_len = strlen (json);
  gsize padded = (json_len + 7) & ~(gsize) 7;
  gchar *header = g_realloc (json, padded + 1);
  memset (header + json_len, ' ', padded - json_len);
  header[padded] = '\0';
  *len = padded;
  return header;
}

/* Opens "<path>.XXXXXX" exclusively, mode 0666 less the umask (as any new file). */
static int
open_temp_beside (const gchar *path, gchar **tmp_path, int *errsv)
{
  static const gchar chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (int attempt = 0; attempt < 100; attempt++) {
    gchar suffix[7];
    for (int i = 0; i < 6; i++)
      suffix[i] = chars[g_random_int_range (0, (gint32) sizeof chars - 1)];
    suffix[6] = '\0';
    gchar *candidate = g_strconcat (path, ".", suffix, NULL);
    int fd = open (candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      *tmp_path = candidate;
      *errsv = 0; /* an earlier EEXIST is not a failure */
      return fd;
    }
    *errsv = errno;
    g_free (candidate);
    if (*errsv != EEXIST)
      return -1;
  }
  return -1;
}

gboolean
seqnn_classifier_save (const SeqnnClassifier *classifier, const gchar *path, GError **error)
{
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_UNSUPPORTED, "model files need a little-endian host");
  return FALSE;
#endif
  if (classifier == NULL || path == NULL || *path == '\0') {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "save needs a classifier and a path");
    return FALSE;
  }
  struct stat target;
  gboolean target_exists = stat (path, &target) == 0;
  if (target_exists && S_ISDIR (target.st_mode))
    return set_io_error (error, "write", path, EISDIR);

  const SeqnnModel *model = classifier->model;
  guint n_tensors = seqnn_model_get_n_tensors (model);
  gsize n_params = 0;
  const gfloat *params = seqnn_model_peek_params (model, &n_params);
  /* A file that loading would refuse is not written. */
  for (guint i = 0; i < n_tensors; i++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, i);
    for (gsize j = 0; j < info->numel; j++) {
      if (!isfinite (params[info->offset + j])) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
            "cannot save: %s[%" G_GSIZE_FORMAT "] is not a finite number", info->name, j);
        return FALSE;
      }
    }
  }
  TensorEntry *entries = g_new0 (TensorEntry, n_tensors);
  guint64 offset = 0;
  for (guint i = 0; i < n_tensors; i++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, i);
    entries[i].name = info->name;
    entries[i].ndim = info->ndim;
    entries[i].shape[0] = info->shape[0];
    entries[i].shape[1] = info->ndim == 2 ? info->shape[1] : 1;
    entries[i].begin = offset;
    entries[i].end = offset + (guint64) info->numel * sizeof (gfloat);
    entries[i].info = info;
    offset = entries[i].end;
  }

  GHashTable *meta = build_metadata (classifier);
  Digest digest;
  checksum_begin (&digest, FALSE, entries, n_tensors, meta);
  qsort (entries, n_tensors, sizeof (TensorEntry), compare_entries_by_begin);
  for (guint i = 0; i < n_tensors; i++)
    digest_update (&digest, params + entries[i].info->offset, entries[i].info->numel * sizeof (gfloat));
  g_hash_table_insert (meta, g_strdup ("seqnn.checksum"), checksum_finish (&digest));
  gsize header_len = 0;
  gchar *header = build_header (entries, n_tensors, meta, &header_len);
  g_hash_table_unref (meta);

  gboolean ok = FALSE;
  int errsv = 0;
  gchar *tmp_path = NULL;
  const gchar *failed = "write";
  int fd = open_temp_beside (path, &tmp_path, &errsv);
  if (fd < 0)
    goto out;
  if (target_exists && S_ISREG (target.st_mode))
    (void) fchmod (fd, target.st_mode & 07777); /* keep the old file's mode; best effort */
  guint64 header_len_le = GUINT64_TO_LE ((guint64) header_len);
  if (!write_all (fd, &header_len_le, sizeof header_len_le, &errsv) ||
      !write_all (fd, header, header_len, &errsv))
    goto out;
  for (guint i = 0; i < n_tensors; i++) {
    if (!write_all (fd, params + entries[i].info->offset,
            entries[i].info->numel * sizeof (gfloat), &errsv))
      goto out;
  }
  if (fsync (fd) != 0) {
    errsv = errno;
    goto out;
  }
  int rc = close (fd);
  fd = -1;
  if (rc != 0) {
    errsv = errno;
    goto out;
  }
  if (rename (tmp_path, path) != 0) {
    errsv = errno;
    goto out;
  }
  g_clear_pointer (&tmp_path, g_free);
  /* Make the rename itself durable; filesystems without directory fsync say EINVAL. */
  gchar *dir = g_path_get_dirname (path);
  int dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    if (fsync (dir_fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
      errsv = errno;
      failed = "sync the folder of";
    }
    close (dir_fd);
  }
  g_free (dir);
  ok = errsv == 0;

out:
  if (fd >= 0)
    close (fd);
  if (tmp_path) {
    unlink (tmp_path);
    g_free (tmp_path);
  }
  if (!ok)
    set_io_error (error, failed, path, errsv);
  g_free (header);
  g_free (entries);
  return ok;
}

/* ---- Loading ------------------------------------------------------------- */

static gboolean
corrupt (GError **error, const gchar *path, const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
corrupt (GError **error, const gchar *path, const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  gchar *message = g_strdup_vprintf (format, args);
  va_end (args);
  gchar *display = g_filename_display_name (path);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_CORRUPT, "'%s': %s", display, message);
  g_free (display);
  g_free (message);
  return FALSE;
}

/* Parses text as strict JSON; NULL with *why set when it is not. json-glib
 * only sees text the strict scanner accepted (it is lenient and recursive). */
static JsonNode *
parse_json (const gchar *text, gsize len, gchar **why)
{
  if (!seqnn_json_check (text, len, SEQNN_JSON_MAX_DEPTH, why))
    return NULL;
  JsonParser *parser = json_parser_new_immutable ();
  GError *local = NULL;
  JsonNode *root = NULL;
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local)) {
    *why = g_strdup (local->message);
    g_error_free (local);
  } else if (json_parser_get_root (parser) == NULL) {
    *why = g_strdup ("empty");
  } else {
    root = json_node_ref (json_parser_get_root (parser));
  }
  g_object_unref (parser);
  return root;
}

/* A JSON integer node's value, FALSE for anything else (doubles, strings...). */
static gboolean
json_get_integer (JsonNode *node, gint64 *value)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
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

/* A JSON array of strings, parsed directly: vocabularies run to hundreds of
 * thousands of tokens, where json-glib's node tree costs ~2 us per element.
 * As strict as seqnn_json_check (the same string decoder); nothing nests. */
static gsize
skip_ws (const gchar *text, gsize p)
{
  while (text[p] == ' ' || text[p] == '\t' || text[p] == '\n' || text[p] == '\r')
    p++;
  return p;
}

/* One element at text[*pos] appended to out; NULL, or why it is refused. */
static gchar *
parse_array_element (const gchar *text, gsize len, gsize *pos, GPtrArray *out, GString *token)
{
  if (text[*pos] != '"') {
    if (text[*pos] == '\0')
      return g_strdup_printf ("not JSON: unterminated array at byte %" G_GSIZE_FORMAT, *pos);
    return g_strdup_printf ("element %u is not a string (byte %" G_GSIZE_FORMAT ")", out->len, *pos);
  }
  g_string_truncate (token, 0);
  const gchar *why = seqnn_json_read_string (text, len, pos, token);
  if (why != NULL && strcmp (why, "NUL character") == 0)
    return g_strdup_printf ("element %u holds a NUL character (byte %" G_GSIZE_FORMAT ")", out->len, *pos);
  if (why != NULL)
    return g_strdup_printf ("not JSON: %s in element %u at byte %" G_GSIZE_FORMAT, why, out->len, *pos);
  g_ptr_array_add (out, g_strndup (token->str, token->len));
  return NULL;
}

/* The elements after '[' up to and past the closing ']'. */
static gchar *
parse_array_elements (const gchar *text, gsize len, gsize *pos, GPtrArray *out)
{
  GString *token = g_string_new (NULL);
  gchar *why = NULL;
  gsize p = skip_ws (text, *pos);
  if (text[p] == ']') {
    *pos = p + 1;
    goto free_token;
  }
  for (;;) {
    p = skip_ws (text, p);
    why = parse_array_element (text, len, &p, out, token);
    if (why != NULL)
      goto free_token;
    p = skip_ws (text, p);
    if (text[p] == ']')
      break;
    if (text[p] != ',') {
      why = g_strdup_printf ("not JSON: expected ',' or ']' after element %u at byte %" G_GSIZE_FORMAT,
          out->len - 1, p);
      goto free_token;
    }
    p++;
  }
  *pos = p + 1;
free_token:
  g_string_free (token, TRUE);
  return why;
}

/* A NULL-terminated vector, or NULL with *why set. */
static gchar **
parse_string_array (const gchar *text, gchar **why)
{
  gsize len = strlen (text);
  gsize p = skip_ws (text, 0);
  if (text[p] != '[') {
    *why = g_strdup ("not a JSON array");
    return NULL;
  }
  p++;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  *why = parse_array_elements (text, len, &p, out);
  if (*why != NULL)
    goto free_out;
  p = skip_ws (text, p);
  if (p != len) {
    *why = g_strdup_printf ("not JSON: text after the array at byte %" G_GSIZE_FORMAT, p);
    goto free_out;
  }
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
free_out:
  g_ptr_array_unref (out);
  return NULL;
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
  gchar **strv = parse_string_array (value, &why);
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
  JsonNode *node = parse_json (value, strlen (value), &why);
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
  if (strcmp (json_node_get_string (name), TOKENIZER_NAME) != 0) {
    gchar *display = g_filename_display_name (reader->path);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_UNSUPPORTED,
        "'%s': tokenizer \"%s\" is not supported (only " TOKENIZER_NAME ")", display,
        json_node_get_string (name));
    g_free (display);
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
  if (!json_get_integer (json_object_get_member (object, "max_tokens"), &max_tokens) ||
      max_tokens < 0 || max_tokens > G_MAXINT32) {
    corrupt (error, reader->path, "metadata \"%s\": \"max_tokens\" is missing or not an integer >= 0", key);
    goto out;
  }
  tokenizer->max_tokens = (gint) max_tokens;
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
      !meta_get_int (reader, "seqnn.num_layers", 1, &config->num_layers, error) ||
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

static gboolean
read_exact (FILE *file, void *buffer, gsize len)
{
  return len == 0 || fread (buffer, 1, len, file) == len;
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
  gchar *header = NULL;
  JsonNode *root = NULL;
  GHashTable *meta = NULL;
  gchar **labels = NULL, **tokens = NULL;
  SeqnnModel *model = NULL;
  SeqnnVocab *vocab = NULL;
  TensorEntry *entries = NULL;
  guint n_entries = 0;

  /* O_NONBLOCK: a FIFO at path must not hang the caller; it is refused below. */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    set_io_error (error, "open", path, errno);
    return NULL;
  }
  struct stat st;
  if (fstat (fd, &st) != 0) {
    set_io_error (error, "read", path, errno);
    close (fd);
    return NULL;
  }
  if (!S_ISREG (st.st_mode)) {
    if (S_ISDIR (st.st_mode)) {
      set_io_error (error, "read", path, EISDIR);
    } else {
      gchar *display = g_filename_display_name (path);
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot read '%s': not a regular file", display);
      g_free (display);
    }
    close (fd);
    return NULL;
  }
  (void) fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  FILE *file = fdopen (fd, "rb");
  if (file == NULL) {
    set_io_error (error, "read", path, errno);
    close (fd);
    return NULL;
  }
  guint64 file_size = (guint64) st.st_size;
  if (file_size < 8) {
    corrupt (error, path, "file is %" G_GUINT64_FORMAT " bytes, too short for a model file", file_size);
    goto out;
  }
  guint64 header_len_le = 0;
  if (!read_exact (file, &header_len_le, 8)) {
    set_io_error (error, "read", path, ferror (file) ? errno : EIO);
    goto out;
  }
  guint64 header_len = GUINT64_FROM_LE (header_len_le);
  if (header_len > HEADER_MAX_BYTES) {
    corrupt (error, path, "header length %" G_GUINT64_FORMAT " is absurd (limit %u bytes)", header_len,
        HEADER_MAX_BYTES);
    goto out;
  }
  if (header_len > file_size - 8) {
    corrupt (error, path, "header length %" G_GUINT64_FORMAT " exceeds the file's %" G_GUINT64_FORMAT
        " bytes after the length field", header_len, file_size - 8);
    goto out;
  }
  if (header_len < 2) {
    corrupt (error, path, "header length %" G_GUINT64_FORMAT " is too small for a JSON header", header_len);
    goto out;
  }
  guint64 data_size = file_size - 8 - header_len;
  header = g_malloc (header_len + 1);
  if (!read_exact (file, header, header_len)) {
    set_io_error (error, "read", path, ferror (file) ? errno : EIO);
    goto out;
  }
  header[header_len] = '\0';
  if (memchr (header, '\0', header_len) != NULL) {
    corrupt (error, path, "header holds a NUL byte");
    goto out;
  }

  gchar *why = NULL;
  root = parse_json (header, header_len, &why);
  if (root == NULL) {
    corrupt (error, path, "header is not valid JSON (strict RFC 8259): %s of the header", why);
    g_free (why);
    goto out;
  }
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    corrupt (error, path, "header is not a JSON object");
    goto out;
  }
  JsonObject *object = json_node_get_object (root);

  /* Metadata: a map of strings. */
  JsonNode *meta_node = json_object_get_member (object, "__metadata__");
  if (meta_node == NULL || !JSON_NODE_HOLDS_OBJECT (meta_node)) {
    corrupt (error, path, "header has no \"__metadata__\" object: not a seqnn model");
    goto out;
  }
  meta = g_hash_table_new (g_str_hash, g_str_equal);
  {
    JsonObjectIter iter;
    const gchar *key;
    JsonNode *value;
    json_object_iter_init (&iter, json_node_get_object (meta_node));
    while (json_object_iter_next (&iter, &key, &value)) {
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING) {
        corrupt (error, path, "metadata \"%s\" is not a string", key);
        goto out;
      }
      g_hash_table_insert (meta, (gpointer) key, (gpointer) json_node_get_string (value));
    }
  }
  MetaReader reader = { path, meta };
  const gchar *format = g_hash_table_lookup (meta, "format");
  if (format == NULL || strcmp (format, FORMAT_NAME) != 0) {
    corrupt (error, path, "metadata \"format\" is %s%s%s, not \"" FORMAT_NAME "\": not a seqnn model",
        format ? "\"" : "", format ? format : "missing", format ? "\"" : "");
    goto out;
  }
  const gchar *version = meta_get (&reader, "seqnn.version", error);
  if (version == NULL)
    goto out;
  guint64 version_number = 0;
  if (!g_ascii_string_to_unsigned (version, 10, 1, G_MAXUINT32, &version_number, NULL)) {
    corrupt (error, path, "metadata \"seqnn.version\" is \"%s\", not a version number", version);
    goto out;
  }
  if (version_number > SEQNN_MODEL_FORMAT_VERSION) {
    gchar *display = g_filename_display_name (path);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_UNSUPPORTED,
        "'%s': format version %" G_GUINT64_FORMAT " is newer than this library's (%d)", display,
        version_number, SEQNN_MODEL_FORMAT_VERSION);
    g_free (display);
    goto out;
  }
  static const gchar *const known_keys[] = {
    "seqnn.version", "seqnn.cell", "seqnn.embed_dim", "seqnn.hidden_dim", "seqnn.num_layers",
    "seqnn.bidirectional", "seqnn.head", "seqnn.num_classes", "seqnn.vocab_size",
    "seqnn.padding_idx", "seqnn.dropout", "seqnn.tokenizer", "seqnn.labels", "seqnn.vocab",
    "seqnn.checksum", NULL,
  };
  {
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init (&iter, meta);
    while (g_hash_table_iter_next (&iter, &key, NULL)) {
      if (g_str_has_prefix (key, "seqnn.") && !g_strv_contains (known_keys, key)) {
        corrupt (error, path, "unknown reserved metadata key \"%s\"", (const gchar *) key);
        goto out;
      }
    }
  }

  SeqnnConfig config;
  seqnn_config_init_default (&config);
  if (!read_config (&reader, &config, error))
    goto out;
  GError *local = NULL;
  if (!seqnn_config_validate (&config, &local)) {
    corrupt (error, path, "architecture metadata is invalid: %s", local->message);
    g_error_free (local);
    goto out;
  }
  SeqnnTokenizerConfig tokenizer;
  if (!meta_get_tokenizer (&reader, &tokenizer, error))
    goto out;
  labels = meta_get_string_array (&reader, "seqnn.labels", error);
  if (labels == NULL)
    goto out;
  if (g_strv_length (labels) != (guint) config.num_classes) {
    corrupt (error, path, "metadata \"seqnn.labels\" has %u names but num_classes is %d",
        g_strv_length (labels), config.num_classes);
    goto out;
  }
  tokens = meta_get_string_array (&reader, "seqnn.vocab", error);
  if (tokens == NULL)
    goto out;
  guint n_tokens = g_strv_length (tokens);
  if (n_tokens != (guint) config.vocab_size) {
    corrupt (error, path, "metadata \"seqnn.vocab\" has %u tokens but vocab_size is %d",
        n_tokens, config.vocab_size);
    goto out;
  }
  {
    GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
    for (guint i = 0; i < n_tokens; i++) {
      gpointer first = NULL;
      if (g_hash_table_lookup_extended (seen, tokens[i], NULL, &first)) {
        corrupt (error, path, "vocabulary token \"%s\" appears twice (ids %u and %u)", tokens[i],
            GPOINTER_TO_UINT (first), i);
        g_hash_table_unref (seen);
        goto out;
      }
      g_hash_table_insert (seen, tokens[i], GUINT_TO_POINTER (i));
    }
    g_hash_table_unref (seen);
  }
  vocab = seqnn_vocab_new_from_tokens ((const gchar *const *) tokens, n_tokens, &local);
  if (vocab == NULL) {
    corrupt (error, path, "metadata \"seqnn.vocab\" is not a valid vocabulary: %s", local->message);
    g_error_free (local);
    goto out;
  }
  const gchar *stored_checksum = meta_get (&reader, "seqnn.checksum", error);
  if (stored_checksum == NULL)
    goto out;
  gboolean use_sha256 = g_str_has_prefix (stored_checksum, SHA256_PREFIX);
  if (!use_sha256 && !g_str_has_prefix (stored_checksum, CRC32_PREFIX)) {
    gchar *display = g_filename_display_name (path);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_UNSUPPORTED,
        "'%s': checksum \"%.40s\" is neither " CRC32_PREFIX "... nor " SHA256_PREFIX "...", display,
        stored_checksum);
    g_free (display);
    goto out;
  }

  /* Size check before allocating: a damaged dimension must not cost gigabytes. */
  SeqnnLayout layout; /* validated config: at most 2^34 parameters */
  seqnn_layout_init (&layout, &config);
  if ((guint64) layout.total * sizeof (gfloat) != data_size) {
    corrupt (error, path, "data section is %" G_GUINT64_FORMAT " bytes but the architecture needs %"
        G_GSIZE_FORMAT " floats", data_size, layout.total);
    goto out;
  }
  model = seqnn_model_new (&config, &local);
  if (model == NULL) {
    corrupt (error, path, "cannot build the model: %s", local->message);
    g_error_free (local);
    goto out;
  }

  /* Tensors: exactly the model's table, F32, right shapes, offsets tiling the data. */
  guint n_tensors = seqnn_model_get_n_tensors (model);
  guint n_members = json_object_get_size (object) - 1;
  entries = g_new0 (TensorEntry, n_tensors);
  {
    JsonObjectIter iter;
    const gchar *name;
    JsonNode *node;
    json_object_iter_init (&iter, object);
    while (json_object_iter_next (&iter, &name, &node)) {
      if (strcmp (name, "__metadata__") == 0)
        continue;
      const SeqnnTensorInfo *info = seqnn_model_find_tensor (model, name);
      if (info == NULL) {
        corrupt (error, path, "unexpected tensor \"%s\" for a %s model", name,
            seqnn_cell_to_string (config.cell));
        goto out;
      }
      if (n_entries >= n_tensors) { /* cannot happen: names are unique */
        corrupt (error, path, "too many tensors");
        goto out;
      }
      if (!JSON_NODE_HOLDS_OBJECT (node)) {
        corrupt (error, path, "tensor \"%s\" is not a JSON object", name);
        goto out;
      }
      JsonObject *tensor = json_node_get_object (node);
      JsonNode *dtype = json_object_get_member (tensor, "dtype");
      if (dtype == NULL || !JSON_NODE_HOLDS_VALUE (dtype) ||
          json_node_get_value_type (dtype) != G_TYPE_STRING) {
        corrupt (error, path, "tensor \"%s\" has no dtype", name);
        goto out;
      }
      if (strcmp (json_node_get_string (dtype), "F32") != 0) {
        corrupt (error, path, "tensor \"%s\" has dtype \"%s\"; only F32 is supported", name,
            json_node_get_string (dtype));
        goto out;
      }
      JsonNode *shape_node = json_object_get_member (tensor, "shape");
      if (shape_node == NULL || !JSON_NODE_HOLDS_ARRAY (shape_node)) {
        corrupt (error, path, "tensor \"%s\" has no shape array", name);
        goto out;
      }
      JsonArray *shape = json_node_get_array (shape_node);
      TensorEntry *entry = &entries[n_entries];
      entry->name = info->name;
      entry->info = info;
      entry->ndim = (gint) json_array_get_length (shape);
      gboolean shape_ok = entry->ndim == info->ndim;
      for (gint d = 0; shape_ok && d < entry->ndim; d++) {
        if (!json_get_integer (json_array_get_element (shape, d), &entry->shape[d]))
          shape_ok = FALSE;
        else if (entry->shape[d] != info->shape[d])
          shape_ok = FALSE;
      }
      if (!shape_ok) {
        gchar *shape_text = json_to_string (shape_node, FALSE);
        gchar *expected = info->ndim == 1 ? g_strdup_printf ("[%d]", info->shape[0])
                                          : g_strdup_printf ("[%d, %d]", info->shape[0], info->shape[1]);
        corrupt (error, path, "tensor \"%s\" has shape %s, expected %s for this architecture",
            name, shape_text, expected);
        g_free (shape_text);
        g_free (expected);
        goto out;
      }
      JsonNode *offsets_node = json_object_get_member (tensor, "data_offsets");
      gint64 begin = 0, end = 0;
      if (offsets_node == NULL || !JSON_NODE_HOLDS_ARRAY (offsets_node) ||
          json_array_get_length (json_node_get_array (offsets_node)) != 2 ||
          !json_get_integer (json_array_get_element (json_node_get_array (offsets_node), 0), &begin) ||
          !json_get_integer (json_array_get_element (json_node_get_array (offsets_node), 1), &end)) {
        corrupt (error, path, "tensor \"%s\" has no [begin, end] integer data_offsets", name);
        goto out;
      }
      if (begin < 0 || end < begin || (guint64) end > data_size) {
        corrupt (error, path, "tensor \"%s\" data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
            "] lie outside the %" G_GUINT64_FORMAT "-byte data section", name, begin, end, data_size);
        goto out;
      }
      if ((guint64) (end - begin) != info->numel * sizeof (gfloat)) {
        corrupt (error, path, "tensor \"%s\" data_offsets span %" G_GINT64_FORMAT " bytes, its shape needs %"
            G_GSIZE_FORMAT, name, end - begin, info->numel * sizeof (gfloat));
        goto out;
      }
      entry->begin = (guint64) begin;
      entry->end = (guint64) end;
      n_entries++;
    }
  }
  if (n_members != n_tensors || n_entries != n_tensors) {
    for (guint i = 0; i < n_tensors; i++) {
      const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, i);
      if (!json_object_has_member (object, info->name)) {
        corrupt (error, path, "missing tensor \"%s\"", info->name);
        goto out;
      }
    }
    corrupt (error, path, "expected %u tensors, found %u", n_tensors, n_members);
    goto out;
  }
  qsort (entries, n_entries, sizeof (TensorEntry), compare_entries_by_begin);
  guint64 expected_begin = 0;
  for (guint i = 0; i < n_entries; i++) {
    if (entries[i].begin != expected_begin) {
      corrupt (error, path, "tensor \"%s\" starts at byte %" G_GUINT64_FORMAT " of the data section: %s "
          "at %" G_GUINT64_FORMAT, entries[i].name, entries[i].begin,
          entries[i].begin < expected_begin ? "it overlaps the previous tensor, which ends" : "a gap, expected it",
          expected_begin);
      goto out;
    }
    expected_begin = entries[i].end;
  }
  if (expected_begin != data_size) {
    corrupt (error, path, "tensors cover %" G_GUINT64_FORMAT " of the data section's %" G_GUINT64_FORMAT
        " bytes", expected_begin, data_size);
    goto out;
  }

  /* Data in file order straight into the parameters, then the checksum over it all. */
  gsize total_params = 0;
  gfloat *params = seqnn_model_get_params (model, &total_params);
  for (guint i = 0; i < n_entries; i++) {
    if (!read_exact (file, params + entries[i].info->offset, entries[i].info->numel * sizeof (gfloat))) {
      set_io_error (error, "read", path, ferror (file) ? errno : EIO);
      goto out;
    }
  }
  Digest digest;
  checksum_begin (&digest, use_sha256, entries, n_entries, meta);
  qsort (entries, n_entries, sizeof (TensorEntry), compare_entries_by_begin);
  for (guint i = 0; i < n_entries; i++)
    digest_update (&digest, params + entries[i].info->offset, entries[i].info->numel * sizeof (gfloat));
  gchar *actual_checksum = checksum_finish (&digest);
  gboolean checksum_ok = strcmp (actual_checksum, stored_checksum) == 0;
  g_free (actual_checksum);
  if (!checksum_ok) {
    corrupt (error, path, "checksum mismatch: the tensors or metadata were altered or damaged");
    goto out;
  }
  for (gsize i = 0; i < total_params; i++) {
    if (!isfinite (params[i])) {
      corrupt (error, path, "parameter %" G_GSIZE_FORMAT " is not a finite number", i);
      goto out;
    }
  }

  classifier = seqnn_classifier_new (model, vocab, &tokenizer, (const gchar *const *) labels, &local);
  model = NULL; /* owned (or freed) by seqnn_classifier_new */
  if (classifier == NULL) {
    corrupt (error, path, "%s", local->message);
    g_error_free (local);
    goto out;
  }
  {
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init (&iter, meta);
    while (g_hash_table_iter_next (&iter, &key, &value)) {
      if (!is_reserved_key (key))
        g_hash_table_insert (classifier->metadata, g_strdup (key), g_strdup (value));
    }
  }

out:
  fclose (file);
  g_free (entries);
  if (model)
    seqnn_model_free (model);
  if (vocab)
    seqnn_vocab_unref (vocab);
  g_strfreev (tokens);
  g_strfreev (labels);
  if (meta)
    g_hash_table_unref (meta);
  if (root)
    json_node_unref (root);
  g_free (header);
  return classifier;
}
