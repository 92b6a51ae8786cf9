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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static gchar *
tokenizer_to_json (const SeqnnTokenizerConfig *tokenizer)
{
  /* word_ngrams only when used: files without n-grams stay as they were */
  gchar *ngrams = tokenizer->word_ngrams > 1
      ? g_strdup_printf (", \"word_ngrams\": %d", tokenizer->word_ngrams) : g_strdup ("");
  gchar *json = g_strdup_printf ("{\"name\": \"" SEQNN_TOKENIZER_NAME "\", \"lowercase\": %s, "
      "\"strip_markup\": %s, \"max_tokens\": %d%s}",
      tokenizer->lowercase ? "true" : "false",
      tokenizer->strip_markup ? "true" : "false", tokenizer->max_tokens, ngrams);
  g_free (ngrams);
  return json;
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
  if (classifier->stream) /* absent = false: other files keep their bytes */
    put (meta, "seqnn.stream", g_strdup ("true"));
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

/* ---- The save target: links followed, kind and mode checked ------------------- */

#define MAX_LINK_HOPS 40
/* Temporaries are ".<target name>.seqnn-XXXXXX" beside the target: hidden, and
 * distinct enough that sweeping stale ones never touches a user's file. */
#define TEMP_INFIX ".seqnn-"
#define TEMP_SUFFIX_LEN 6

typedef struct {
  const gchar *path;  /* as given */
  gchar *target;      /* path with symbolic links followed: the file written */
  gchar *dir, *base;  /* target's folder and name */
  gboolean exists;
  struct stat st;     /* the target's, when it exists */
} SaveTarget;

static void
save_target_clear (SaveTarget *t)
{
  g_free (t->target);
  g_free (t->dir);
  g_free (t->base);
}

/* SEQNN_ERROR_IO "cannot write 'PATH' [(a link to 'TARGET')]: WHY", WHY the
 * OS's reason for errsv when why is NULL. Returns FALSE. */
static gboolean
save_error (GError **error, const SaveTarget *t, int errsv, const gchar *why)
{
  if (t->target == NULL || strcmp (t->target, t->path) == 0) {
    if (why == NULL)
      return seqnn_set_file_error (error, "write", t->path, errsv);
    gchar *display = g_filename_display_name (t->path);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot write '%s': %s", display, why);
    g_free (display);
    return FALSE;
  }
  gchar *display = g_filename_display_name (t->path);
  gchar *target = g_filename_display_name (t->target);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot write '%s' (a link to '%s'): %s", display,
      target, why ? why : g_strerror (errsv));
  g_free (target);
  g_free (display);
  return FALSE;
}

/* Follows symbolic links from t->path to what they name; a dangling link is
 * refused (as cp does) rather than creating a file somewhere unexpected. */
static gboolean
resolve_target (SaveTarget *t, GError **error)
{
  gchar *current = g_strdup (t->path);
  for (guint hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    if (lstat (current, &t->st) != 0) {
      int errsv = errno;
      if (errsv == ENOENT && hop > 0) {
        gchar *display = g_filename_display_name (current);
        gchar *why = g_strdup_printf ("it is a symbolic link to '%s', which does not exist "
            "(not writing through a dangling link)", display);
        save_error (error, t, 0, why);
        g_free (why);
        g_free (display);
        g_free (current);
        return FALSE;
      }
      if (errsv != ENOENT) {
        g_free (current);
        return save_error (error, t, errsv, NULL);
      }
      t->exists = FALSE;
      break;
    }
    if (!S_ISLNK (t->st.st_mode)) {
      t->exists = TRUE;
      break;
    }
    GError *local = NULL;
    gchar *link = g_file_read_link (current, &local);
    if (link == NULL) {
      save_error (error, t, 0, local->message);
      g_error_free (local);
      g_free (current);
      return FALSE;
    }
    gchar *next = link;
    if (!g_path_is_absolute (link)) {
      gchar *dir = g_path_get_dirname (current);
      next = g_build_filename (dir, link, NULL);
      g_free (dir);
      g_free (link);
    }
    g_free (current);
    current = next;
    if (hop == MAX_LINK_HOPS) {
      g_free (current);
      return save_error (error, t, ELOOP, NULL);
    }
  }
  t->target = current;
  t->dir = g_path_get_dirname (current);
  t->base = g_path_get_basename (current);
  return TRUE;
}

static const gchar *
file_kind (mode_t mode)
{
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a plain file";
}

/* An existing target must be a regular file we may write: the mode bits are
 * read directly, since root passes every access() check. */
static gboolean
check_target_file (const SaveTarget *t, GError **error)
{
  if (!t->exists)
    return TRUE;
  if (S_ISDIR (t->st.st_mode))
    return save_error (error, t, EISDIR, NULL);
  gchar *why = NULL;
  if (!S_ISREG (t->st.st_mode))
    why = g_strdup_printf ("it is %s, not a regular file; a model is written only to a regular file "
        "or a new path", file_kind (t->st.st_mode));
  else if ((t->st.st_mode & 0222) == 0)
    why = g_strdup_printf ("the file is read-only (mode %04o); make it writable (chmod u+w) or "
        "choose another path", (guint) (t->st.st_mode & 07777));
  else if (access (t->target, W_OK) != 0 && errno == EACCES)
    why = g_strdup_printf ("the file is not writable by this user (mode %04o); make it writable or "
        "choose another path", (guint) (t->st.st_mode & 07777));
  else if (access (t->target, W_OK) != 0)
    return save_error (error, t, errno, NULL);
  if (why == NULL)
    return TRUE;
  save_error (error, t, 0, why);
  g_free (why);
  return FALSE;
}

static gboolean
prepare_target (SaveTarget *t, GError **error)
{
  if (!resolve_target (t, error))
    return FALSE;
  return check_target_file (t, error);
}

/* ---- Temporaries ------------------------------------------------------------------ */

typedef struct {
  int fd;
  gchar *name;        /* NULL while anonymous (O_TMPFILE, not yet linked) */
} Temp;

static gchar *
temp_name (const SaveTarget *t)
{
  static const gchar chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  gchar suffix[TEMP_SUFFIX_LEN + 1];
  for (int i = 0; i < TEMP_SUFFIX_LEN; i++)
    suffix[i] = chars[g_random_int_range (0, (gint32) sizeof chars - 1)];
  suffix[TEMP_SUFFIX_LEN] = '\0';
  gchar *name = g_strconcat (".", t->base, TEMP_INFIX, suffix, NULL);
  gchar *path = g_build_filename (t->dir, name, NULL);
  g_free (name);
  return path;
}

/* A named temporary, created exclusively and locked at once: the lock, which
 * the kernel drops when its process dies, tells live temporaries from stale. */
static gboolean
open_named_temp (const SaveTarget *t, Temp *temp, int *errsv)
{
  for (int attempt = 0; attempt < 100; attempt++) {
    gchar *candidate = temp_name (t);
    int fd = open (candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) == 0) {
      temp->fd = fd;
      temp->name = candidate;
      return TRUE;
    }
    *errsv = errno;
    if (fd >= 0)
      close (fd); /* a sweeper holds it and removes it: take another name */
    g_free (candidate);
    if (fd < 0 && *errsv != EEXIST)
      return FALSE;
  }
  return FALSE;
}

/* O_TMPFILE where the filesystem has it: nothing has a name until the data is
 * written, so a kill leaves nothing behind. Else a named, locked temporary. */
static gboolean
create_temp (const SaveTarget *t, gboolean anonymous, Temp *temp, int *errsv)
{
  if (anonymous) {
    int fd = open (t->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd >= 0) {
      (void) flock (fd, LOCK_EX); /* for the instant it has a name (link_temp) */
      temp->fd = fd;
      return TRUE;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      *errsv = errno;
      return FALSE;
    }
  }
  return open_named_temp (t, temp, errsv);
}

/* Gives an anonymous temporary a temporary name (linkat cannot replace the
 * target; rename then does, atomically). */
static gboolean
link_temp (const SaveTarget *t, Temp *temp, int *errsv)
{
  gchar proc_path[64];
  g_snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d", temp->fd);
  for (int attempt = 0; attempt < 100; attempt++) {
    gchar *candidate = temp_name (t);
    int rc = linkat (AT_FDCWD, proc_path, AT_FDCWD, candidate, AT_SYMLINK_FOLLOW);
    if (rc != 0 && errno == ENOENT) /* no /proc: the privileged way */
      rc = linkat (temp->fd, "", AT_FDCWD, candidate, AT_EMPTY_PATH);
    if (rc == 0) {
      temp->name = candidate;
      return TRUE;
    }
    *errsv = errno;
    g_free (candidate);
    if (*errsv != EEXIST)
      return FALSE;
  }
  return FALSE;
}

static void
discard_temp (Temp *temp)
{
  if (temp->fd >= 0)
    close (temp->fd);
  temp->fd = -1;
  if (temp->name) {
    unlink (temp->name);
    g_clear_pointer (&temp->name, g_free);
  }
}

/* Removes temporaries of this target left by a killed save: ".<name>.seqnn-XXXXXX"
 * files whose lock is free (a live save holds its lock). Best effort. */
static void
sweep_stale_temps (const SaveTarget *t)
{
  GDir *dir = g_dir_open (t->dir, 0, NULL);
  if (dir == NULL)
    return;
  gchar *prefix = g_strconcat (".", t->base, TEMP_INFIX, NULL);
  gsize prefix_len = strlen (prefix);
  const gchar *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    if (!g_str_has_prefix (name, prefix) || strlen (name) != prefix_len + TEMP_SUFFIX_LEN)
      continue;
    gchar *path = g_build_filename (t->dir, name, NULL);
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && flock (fd, LOCK_EX | LOCK_NB) == 0)
      unlink (path);
    if (fd >= 0)
      close (fd);
    g_free (path);
  }
  g_free (prefix);
  g_dir_close (dir);
}

/* ---- Saving: named steps over one context ----------------------------------- */

typedef struct {
  const SeqnnClassifier *classifier;
  GError **error;
  SaveTarget target;
  const gfloat *params;
  SeqnnTensorEntry *entries; /* n_tensors, in file order */
  guint n_tensors;
  gchar *header;             /* header_len bytes, space-padded */
  gsize header_len;
  Temp temp;
} Saver;

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

/* The whole file into the temporary, fsync'd. */
static gboolean
write_temp (Saver *sv, gboolean anonymous)
{
  int errsv = 0;
  if (!create_temp (&sv->target, anonymous, &sv->temp, &errsv))
    return save_error (sv->error, &sv->target, errsv, NULL);
  if (sv->target.exists)
    (void) fchmod (sv->temp.fd, sv->target.st.st_mode & 07777); /* keep the old file's mode; best effort */
  guint64 header_len_le = GUINT64_TO_LE ((guint64) sv->header_len);
  if (!write_all (sv->temp.fd, &header_len_le, sizeof header_len_le, &errsv) ||
      !write_all (sv->temp.fd, sv->header, sv->header_len, &errsv))
    return save_error (sv->error, &sv->target, errsv, NULL);
  for (guint i = 0; i < sv->n_tensors; i++) {
    const SeqnnTensorInfo *info = sv->entries[i].info;
    if (!write_all (sv->temp.fd, sv->params + info->offset, info->numel * sizeof (gfloat), &errsv))
      return save_error (sv->error, &sv->target, errsv, NULL);
  }
  if (fsync (sv->temp.fd) != 0)
    return save_error (sv->error, &sv->target, errno, NULL);
  return TRUE;
}

/* The temporary takes the target's name (over it: a link to it stays a link);
 * then the rename itself is made durable (no directory fsync: EINVAL). */
static gboolean
commit_temp (Saver *sv)
{
  int rc = close (sv->temp.fd);
  sv->temp.fd = -1;
  if (rc != 0)
    return save_error (sv->error, &sv->target, errno, NULL);
  if (rename (sv->temp.name, sv->target.target) != 0)
    return save_error (sv->error, &sv->target, errno, NULL);
  g_clear_pointer (&sv->temp.name, g_free);
  int dir_fd = open (sv->target.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return TRUE;
  int errsv = fsync (dir_fd) == 0 ? 0 : errno;
  close (dir_fd);
  if (errsv != 0 && errsv != EINVAL && errsv != ENOTSUP) {
    gchar *why = g_strdup_printf ("cannot sync its folder: %s", g_strerror (errsv));
    save_error (sv->error, &sv->target, 0, why);
    g_free (why);
    return FALSE;
  }
  return TRUE;
}

/* Writes through an anonymous temporary; where one cannot be given a name
 * (no /proc, no privilege), once more through a named one. */
static gboolean
write_and_commit (Saver *sv)
{
  if (!write_temp (sv, TRUE))
    return FALSE;
  int errsv = 0;
  if (sv->temp.name == NULL && !link_temp (&sv->target, &sv->temp, &errsv)) {
    discard_temp (&sv->temp);
    if (!write_temp (sv, FALSE))
      return FALSE;
  }
  return commit_temp (sv);
}

gboolean
seqnn_classifier_check_save_path (const gchar *path, GError **error)
{
  if (path == NULL || *path == '\0') {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no model file path given");
    return FALSE;
  }
  SaveTarget target = { .path = path };
  Temp temp = { .fd = -1 };
  int errsv = 0;
  gboolean ok = prepare_target (&target, error);
  if (!ok)
    goto free_target;
  ok = create_temp (&target, TRUE, &temp, &errsv);
  if (!ok)
    save_error (error, &target, errsv, NULL);
  discard_temp (&temp);
free_target:
  save_target_clear (&target);
  return ok;
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
  Saver sv = {
    .classifier = classifier, .error = error, .target = { .path = path }, .temp = { .fd = -1 },
  };
  gboolean ok = FALSE;
  if (!prepare_target (&sv.target, error) || !check_finite_params (&sv))
    goto free_target;
  lay_out_file (&sv);
  sweep_stale_temps (&sv.target);
  ok = write_and_commit (&sv);

  discard_temp (&sv.temp); /* what a failed write left */
  g_free (sv.header);
  g_free (sv.entries);
free_target:
  save_target_clear (&sv.target);
  return ok;
}
