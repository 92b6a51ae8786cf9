/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Writing model files (format in seqnn/classifier.h). */
#include "modelfile.h"
#include "checksum.h"
#include "error-private.h"
#include "jsonutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static gchar *
tokenizer_to_json (const SeqnnTokenizerConfig *tokenizer)
{
  return g_strdup_printf ("{\"name\": \"" SEQNN_TOKENIZER_NAME "\", \"lowercase\": %s, "
      "\"strip_markup\": %s, \"max_tokens\": %d}",
      tokenizer->lowercase ? "true" : "false",
      tokenizer->strip_markup ? "true" : "false", tokenizer->max_tokens);
}

static void
put (GHashTable *meta, const gchar *key, gchar *value)
{
  g_hash_table_insert (meta, g_strdup (key), value);
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

  gchar dropout[G_ASCII_DTOSTR_BUF_SIZE];
  /* %.9g round-trips every float exactly */
  g_ascii_formatd (dropout, sizeof dropout, "%.9g", (gdouble) config->dropout);
  put (meta, "format", g_strdup (SEQNN_FORMAT_NAME));
  put (meta, "seqnn.version", g_strdup_printf ("%d", SEQNN_MODEL_FORMAT_VERSION));
  put (meta, "seqnn.cell", g_strdup (seqnn_cell_to_string (config->cell)));
  put (meta, "seqnn.embed_dim", g_strdup_printf ("%d", config->embed_dim));
  put (meta, "seqnn.hidden_dim", g_strdup_printf ("%d", config->hidden_dim));
  put (meta, "seqnn.num_layers", g_strdup_printf ("%d", config->num_layers));
  put (meta, "seqnn.bidirectional", g_strdup (config->bidirectional ? "true" : "false"));
  put (meta, "seqnn.head", g_strdup (seqnn_head_to_string (config->head)));
  put (meta, "seqnn.num_classes", g_strdup_printf ("%d", config->num_classes));
  put (meta, "seqnn.vocab_size", g_strdup_printf ("%d", config->vocab_size));
  put (meta, "seqnn.padding_idx", g_strdup_printf ("%d", config->padding_idx));
  put (meta, "seqnn.dropout", g_strdup (dropout));
  put (meta, "seqnn.tokenizer", tokenizer_to_json (&classifier->tokenizer));
  put (meta, "seqnn.labels", seqnn_json_string_array ((const gchar *const *) classifier->labels,
      (gsize) config->num_classes));

  gsize vocab_size = seqnn_vocab_get_size (classifier->vocab);
  const gchar **tokens = g_new (const gchar *, vocab_size + 1);
  for (gsize i = 0; i < vocab_size; i++)
    tokens[i] = seqnn_vocab_get_token (classifier->vocab, (gint32) i);
  tokens[vocab_size] = NULL;
  put (meta, "seqnn.vocab", seqnn_json_string_array (tokens, vocab_size));
  g_free (tokens);
  return meta;
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
build_header (SeqnnTensorEntry *entries, guint n_entries, GHashTable *meta, gsize *len)
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
  qsort (keys, n_keys, sizeof (gchar *), seqnn_compare_strings);
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

/* ---- Saving: named steps over one context ----------------------------------- */

typedef struct {
  const SeqnnClassifier *classifier;
  const gchar *path;
  GError **error;
  struct stat target;        /* valid when target_exists */
  gboolean target_exists;
  const gfloat *params;
  SeqnnTensorEntry *entries; /* n_tensors, in file order */
  guint n_tensors;
  gchar *header;             /* header_len bytes, space-padded */
  gsize header_len;
  int fd;                    /* the temporary file, -1 when closed */
  gchar *tmp_path;           /* its name, NULL once renamed */
} Saver;

static gboolean
check_target (Saver *sv)
{
  sv->target_exists = stat (sv->path, &sv->target) == 0;
  if (sv->target_exists && S_ISDIR (sv->target.st_mode))
    return seqnn_set_file_error (sv->error, "write", sv->path, EISDIR);
  return TRUE;
}

/* A file that loading would refuse is not written. */
static gboolean
check_finite_params (Saver *sv)
{
  const SeqnnModel *model = sv->classifier->model;
  sv->n_tensors = seqnn_model_get_n_tensors (model);
  sv->params = seqnn_model_peek_params (model, NULL);
  for (guint i = 0; i < sv->n_tensors; i++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, i);
    for (gsize j = 0; j < info->numel; j++) {
      if (!isfinite (sv->params[info->offset + j])) {
        g_set_error (sv->error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC,
            "cannot save: %s[%" G_GSIZE_FORMAT "] is not a finite number", info->name, j);
        return FALSE;
      }
    }
  }
  return TRUE;
}

/* Tensors in the model's order, back to back; the header with the checksum. */
static void
lay_out_file (Saver *sv)
{
  const SeqnnModel *model = sv->classifier->model;
  sv->entries = g_new0 (SeqnnTensorEntry, sv->n_tensors);
  guint64 offset = 0;
  for (guint i = 0; i < sv->n_tensors; i++) {
    const SeqnnTensorInfo *info = seqnn_model_get_tensor (model, i);
    SeqnnTensorEntry *entry = &sv->entries[i];
    entry->name = info->name;
    entry->ndim = info->ndim;
    entry->shape[0] = info->shape[0];
    entry->shape[1] = info->ndim == 2 ? info->shape[1] : 1;
    entry->begin = offset;
    entry->end = offset + (guint64) info->numel * sizeof (gfloat);
    entry->info = info;
    offset = entry->end;
  }
  GHashTable *meta = build_metadata (sv->classifier);
  put (meta, "seqnn.checksum", seqnn_model_file_checksum (FALSE, sv->entries, sv->n_tensors, meta, sv->params));
  sv->header = build_header (sv->entries, sv->n_tensors, meta, &sv->header_len);
  g_hash_table_unref (meta);
}

/* The whole file into the temporary, fsync'd and closed. */
static gboolean
write_temp (Saver *sv)
{
  int errsv = 0;
  sv->fd = open_temp_beside (sv->path, &sv->tmp_path, &errsv);
  if (sv->fd < 0)
    return seqnn_set_file_error (sv->error, "write", sv->path, errsv);
  if (sv->target_exists && S_ISREG (sv->target.st_mode))
    (void) fchmod (sv->fd, sv->target.st_mode & 07777); /* keep the old file's mode; best effort */
  guint64 header_len_le = GUINT64_TO_LE ((guint64) sv->header_len);
  if (!write_all (sv->fd, &header_len_le, sizeof header_len_le, &errsv) ||
      !write_all (sv->fd, sv->header, sv->header_len, &errsv))
    return seqnn_set_file_error (sv->error, "write", sv->path, errsv);
  for (guint i = 0; i < sv->n_tensors; i++) {
    const SeqnnTensorInfo *info = sv->entries[i].info;
    if (!write_all (sv->fd, sv->params + info->offset, info->numel * sizeof (gfloat), &errsv))
      return seqnn_set_file_error (sv->error, "write", sv->path, errsv);
  }
  if (fsync (sv->fd) != 0)
    return seqnn_set_file_error (sv->error, "write", sv->path, errno);
  int rc = close (sv->fd);
  sv->fd = -1;
  if (rc != 0)
    return seqnn_set_file_error (sv->error, "write", sv->path, errno);
  return TRUE;
}

/* The temporary takes the target's name; then the rename itself is made durable
 * (filesystems without directory fsync say EINVAL). */
static gboolean
commit_temp (Saver *sv)
{
  if (rename (sv->tmp_path, sv->path) != 0)
    return seqnn_set_file_error (sv->error, "write", sv->path, errno);
  g_clear_pointer (&sv->tmp_path, g_free);
  gchar *dir = g_path_get_dirname (sv->path);
  int dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_free (dir);
  if (dir_fd < 0)
    return TRUE;
  int errsv = fsync (dir_fd) == 0 ? 0 : errno;
  close (dir_fd);
  if (errsv != 0 && errsv != EINVAL && errsv != ENOTSUP)
    return seqnn_set_file_error (sv->error, "sync the folder of", sv->path, errsv);
  return TRUE;
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
  Saver sv = { .classifier = classifier, .path = path, .error = error, .fd = -1 };
  gboolean ok = FALSE;
  if (!check_target (&sv) || !check_finite_params (&sv))
    return FALSE;
  lay_out_file (&sv);
  if (!write_temp (&sv))
    goto remove_temp;
  ok = commit_temp (&sv);

remove_temp:
  if (sv.fd >= 0)
    close (sv.fd);
  if (sv.tmp_path) {
    unlink (sv.tmp_path);
    g_free (sv.tmp_path);
  }
  g_free (sv.header);
  g_free (sv.entries);
  return ok;
}
