/* The model cache: one loaded copy per file, a changed file loaded again,
 * concurrent first use loading once, errors passed on.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "seqnn/seqnn.h"
#include "seqnn/modelcache.h"

/* A tiny classifier saved at dir/name; its first label is first_label. */
static gchar *
save_small_model (const gchar *dir, const gchar *name, const gchar *first_label)
{
  const gchar *tokens[] = { SEQNN_VOCAB_UNK, SEQNN_VOCAB_PAD, "news", "sport" };
  const gchar *labels[] = { first_label, "b", NULL };
  GError *error = NULL;
  SeqnnConfig config;
  SeqnnModel *model;
  SeqnnVocab *vocab;
  SeqnnClassifier *classifier;
  gchar *path = g_build_filename (dir, name, NULL);

  seqnn_config_init_default (&config);
  config.vocab_size = 4;
  config.embed_dim = 3;
  config.hidden_dim = 2;
  config.num_classes = 2;
  model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, 1);
  vocab = seqnn_vocab_new_from_tokens (tokens, G_N_ELEMENTS (tokens), &error);
  g_assert_no_error (error);
  classifier = seqnn_classifier_new (model, vocab, NULL, labels, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab);
  g_assert_true (seqnn_classifier_save (classifier, path, &error));
  g_assert_no_error (error);
  seqnn_classifier_free (classifier);
  return path;
}

static gchar *
temp_dir (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("seqnn-modelcache-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_dir (gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *p = g_build_filename (dir, name, NULL);
    g_assert_cmpint (g_remove (p), ==, 0);
    g_free (p);
  }
  g_dir_close (d);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_free (dir);
}

/* Sets the file's modification time (an explicit one: a second write within
 * the file system's timestamp granularity would keep the old one). */
static void
set_mtime (const gchar *path, time_t sec)
{
  struct timespec times[2] = { { sec, 0 }, { sec, 0 } };

  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

static void
test_same_file_shared (void)
{
  gchar *dir = temp_dir ();
  gchar *path = save_small_model (dir, "m.model", "a");
  gchar *hard = g_build_filename (dir, "hard.model", NULL);
  GError *error = NULL;
  SeqnnClassifier *a, *b, *c;

  g_assert_cmpint (link (path, hard), ==, 0);
  a = seqnn_model_cache_acquire (path, &error);
  g_assert_no_error (error);
  b = seqnn_model_cache_acquire (path, &error);
  g_assert_no_error (error);
  /* The file's identity, not its name: a hard link is the same file. */
  c = seqnn_model_cache_acquire (hard, &error);
  g_assert_no_error (error);
  g_assert_true (a == b);
  g_assert_true (a == c);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 1);
  g_assert_cmpstr (seqnn_classifier_get_label (a, 0), ==, "a");
  seqnn_model_cache_release (a);
  seqnn_model_cache_release (b);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 1);
  /* Still the same copy while one reference remains. */
  b = seqnn_model_cache_acquire (path, &error);
  g_assert_true (b == c);
  seqnn_model_cache_release (b);
  seqnn_model_cache_release (c);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 0);
  seqnn_model_cache_release (NULL);
  g_free (hard);
  g_free (path);
  remove_dir (dir);
}

static void
test_changed_file_reloaded (void)
{
  gchar *dir = temp_dir ();
  gchar *path = save_small_model (dir, "m.model", "old");
  gchar *other;
  GError *error = NULL;
  SeqnnClassifier *a, *b, *c, *d;

  set_mtime (path, 1000000000);
  a = seqnn_model_cache_acquire (path, &error);
  g_assert_no_error (error);
  /* Touched: the same bytes, but a user asking now gets a fresh load. */
  set_mtime (path, 1000000001);
  b = seqnn_model_cache_acquire (path, &error);
  g_assert_no_error (error);
  g_assert_true (a != b);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 2);
  /* Replaced by a rename (as lstmtrain saves): new inode, new content. */
  other = save_small_model (dir, "new.model", "new");
  g_assert_cmpint (g_rename (other, path), ==, 0);
  c = seqnn_model_cache_acquire (path, &error);
  g_assert_no_error (error);
  g_assert_true (c != a && c != b);
  g_assert_cmpstr (seqnn_classifier_get_label (c, 0), ==, "new");
  /* Earlier users keep their copies untouched. */
  g_assert_cmpstr (seqnn_classifier_get_label (a, 0), ==, "old");
  g_assert_cmpstr (seqnn_classifier_get_label (b, 0), ==, "old");
  d = seqnn_model_cache_acquire (path, &error);
  g_assert_true (d == c);
  seqnn_model_cache_release (a);
  seqnn_model_cache_release (b);
  seqnn_model_cache_release (c);
  seqnn_model_cache_release (d);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 0);
  g_free (other);
  g_free (path);
  remove_dir (dir);
}

static void
test_errors (void)
{
  gchar *dir = temp_dir ();
  gchar *missing = g_build_filename (dir, "missing.model", NULL);
  gchar *bad = g_build_filename (dir, "bad.model", NULL);
  GError *error = NULL;

  g_assert_null (seqnn_model_cache_acquire (missing, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "missing.model"));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (bad, "not a model", -1, NULL));
  g_assert_null (seqnn_model_cache_acquire (bad, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CORRUPT);
  g_clear_error (&error);
  /* A failure is not cached: the same key fails again with its error. */
  g_assert_null (seqnn_model_cache_acquire (bad, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_null (seqnn_model_cache_acquire (dir, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  g_clear_error (&error);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 0);
  g_free (missing);
  g_free (bad);
  remove_dir (dir);
}

#define N_THREADS 8
#define N_ROUNDS 20

typedef struct {
  const gchar *path;
  GAsyncQueue *start;
  SeqnnClassifier *seen[N_ROUNDS];
} Worker;

static gpointer
worker_run (gpointer data)
{
  Worker *w = data;

  g_async_queue_pop (w->start);
  for (gint r = 0; r < N_ROUNDS; r++) {
    GError *error = NULL;
    SeqnnClassifier *c = seqnn_model_cache_acquire (w->path, &error);

    g_assert_no_error (error);
    w->seen[r] = c;
    /* Keep every second one: releases and acquisitions interleave. */
    if (r % 2 == 1)
      seqnn_model_cache_release (c);
  }
  return NULL;
}

/* Threads released together onto one unloaded file load it once and all
 * get that copy (the first reference is held throughout so it stays). */
static void
test_concurrent (void)
{
  gchar *dir = temp_dir ();
  gchar *path = save_small_model (dir, "m.model", "a");
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  GAsyncQueue *start = g_async_queue_new ();

  for (gint t = 0; t < N_THREADS; t++) {
    workers[t].path = path;
    workers[t].start = start;
    threads[t] = g_thread_new ("cache-user", worker_run, &workers[t]);
  }
  for (gint t = 0; t < N_THREADS; t++)
    g_async_queue_push (start, GINT_TO_POINTER (1));
  for (gint t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 1);
  for (gint t = 0; t < N_THREADS; t++)
    for (gint r = 0; r < N_ROUNDS; r++)
      g_assert_true (workers[t].seen[r] == workers[0].seen[0]);
  for (gint t = 0; t < N_THREADS; t++)
    for (gint r = 0; r < N_ROUNDS; r += 2)
      seqnn_model_cache_release (workers[t].seen[r]);
  g_assert_cmpuint (seqnn_model_cache_get_n_loaded (), ==, 0);
  g_async_queue_unref (start);
  g_free (path);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/modelcache/same-file-shared", test_same_file_shared);
  g_test_add_func ("/modelcache/changed-file-reloaded", test_changed_file_reloaded);
  g_test_add_func ("/modelcache/errors", test_errors);
  g_test_add_func ("/modelcache/concurrent", test_concurrent);
  return g_test_run ();
}
