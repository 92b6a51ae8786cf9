/* One loaded copy of a model file per process, reference-counted, keyed by
 * the file's identity and modification (see seqnn/modelcache.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two tables under one lock: by_key holds the copies a new user may share
 * (at most one per key, possibly still loading), by_classifier every copy
 * alive, so that release finds its entry. A file is loaded outside the lock;
 * others asking for the same key meanwhile wait for that load instead of
 * starting their own. */
#include "seqnn/modelcache.h"

#include <sys/stat.h>

typedef struct {
  dev_t dev;
  ino_t ino;
  gint64 mtime_sec;
  gint64 mtime_nsec;
  gint64 size;
} FileKey;

typedef struct {
  FileKey key;
  SeqnnClassifier *classifier; /* NULL while loading */
  gint ref_count;
  gboolean loading;
  gboolean shared;             /* in by_key */
} CacheEntry;

static GMutex cache_lock;
static GCond cache_cond;            /* a load finished */
static GHashTable *by_key;          /* FileKey * (in the entry) -> CacheEntry * */
static GHashTable *by_classifier;   /* SeqnnClassifier * -> CacheEntry * */

static guint
file_key_hash (gconstpointer p)
{
  const FileKey *k = p;
  guint64 h = (guint64) k->ino * 0x9e3779b97f4a7c15u;

  h ^= (guint64) k->dev + ((guint64) k->mtime_nsec << 20) + (guint64) k->mtime_sec + (guint64) k->size;
  return (guint) (h ^ (h >> 32));
}

static gboolean
file_key_equal (gconstpointer a, gconstpointer b)
{
  const FileKey *x = a, *y = b;

  return x->dev == y->dev && x->ino == y->ino && x->mtime_sec == y->mtime_sec
      && x->mtime_nsec == y->mtime_nsec && x->size == y->size;
}

/* FALSE when path cannot be stat'ed or is not a regular file: then the load
 * itself says what is wrong, and nothing is shared. */
static gboolean
file_key_of_path (const gchar *path, FileKey *key)
{
  struct stat st;

  if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    return FALSE;
  key->dev = st.st_dev;
  key->ino = st.st_ino;
  key->mtime_sec = st.st_mtim.tv_sec;
  key->mtime_nsec = st.st_mtim.tv_nsec;
  key->size = st.st_size;
  return TRUE;
}

/* Cache lock held. */
static void
ensure_tables (void)
{
  if (by_key != NULL)
    return;
  by_key = g_hash_table_new (file_key_hash, file_key_equal);
  by_classifier = g_hash_table_new (g_direct_hash, g_direct_equal);
}

/* Cache lock held: forgets entry (and the tables once empty). */
static void
entry_remove (CacheEntry *entry)
{
  if (entry->shared)
    g_hash_table_remove (by_key, &entry->key);
  if (entry->classifier != NULL)
    g_hash_table_remove (by_classifier, entry->classifier);
  g_free (entry);
  if (g_hash_table_size (by_key) == 0 && g_hash_table_size (by_classifier) == 0) {
    g_clear_pointer (&by_key, g_hash_table_unref);
    g_clear_pointer (&by_classifier, g_hash_table_unref);
  }
}

/* A file that could not be keyed: loaded privately, still released through
 * the cache. */
static SeqnnClassifier *
load_unshared (const gchar *path, GError **error)
{
  SeqnnClassifier *classifier = seqnn_classifier_load (path, error);
  CacheEntry *entry;

  if (classifier == NULL)
    return NULL;
  entry = g_new0 (CacheEntry, 1);
  entry->classifier = classifier;
  entry->ref_count = 1;
  g_mutex_lock (&cache_lock);
  ensure_tables ();
  g_hash_table_insert (by_classifier, classifier, entry);
  g_mutex_unlock (&cache_lock);
  return classifier;
}

SeqnnClassifier *
seqnn_model_cache_acquire (const gchar *path, GError **error)
{
  FileKey key, after;
  CacheEntry *entry;
  SeqnnClassifier *classifier;

  if (path == NULL || !file_key_of_path (path, &key))
    return load_unshared (path, error);

  g_mutex_lock (&cache_lock);
  ensure_tables ();
  while ((entry = g_hash_table_lookup (by_key, &key)) != NULL && entry->loading)
    g_cond_wait (&cache_cond, &cache_lock);
  if (entry != NULL) {
    entry->ref_count++;
    g_mutex_unlock (&cache_lock);
    return entry->classifier;
  }
  entry = g_new0 (CacheEntry, 1);
  entry->key = key;
  entry->ref_count = 1;
  entry->loading = TRUE;
  entry->shared = TRUE;
  g_hash_table_insert (by_key, &entry->key, entry);
  g_mutex_unlock (&cache_lock);

  /* Reads and checks the whole file: outside the lock. */
  classifier = seqnn_classifier_load (path, error);

  g_mutex_lock (&cache_lock);
  entry->loading = FALSE;
  if (classifier == NULL) {
    entry_remove (entry);  /* waiters load for themselves and get their own error */
  } else {
    entry->classifier = classifier;
    g_hash_table_insert (by_classifier, classifier, entry);
    /* Changed while being read: this copy may not be what key describes. */
    if (!file_key_of_path (path, &after) || !file_key_equal (&key, &after)) {
      g_hash_table_remove (by_key, &entry->key);
      entry->shared = FALSE;
    }
  }
  g_cond_broadcast (&cache_cond);
  g_mutex_unlock (&cache_lock);
  return classifier;
}

void
seqnn_model_cache_release (SeqnnClassifier *classifier)
{
  CacheEntry *entry;
  SeqnnClassifier *to_free = NULL;

  if (classifier == NULL)
    return;
  g_mutex_lock (&cache_lock);
  entry = by_classifier != NULL ? g_hash_table_lookup (by_classifier, classifier) : NULL;
  if (entry == NULL) {
    g_mutex_unlock (&cache_lock);
    g_critical ("seqnn_model_cache_release: %p was not acquired from the model cache", (void *) classifier);
    return;
  }
  if (--entry->ref_count == 0) {
    to_free = classifier;
    entry_remove (entry);
  }
  g_mutex_unlock (&cache_lock);
  seqnn_classifier_free (to_free);
}

guint
seqnn_model_cache_get_n_loaded (void)
{
  guint n;

  g_mutex_lock (&cache_lock);
  n = by_classifier != NULL ? g_hash_table_size (by_classifier) : 0;
  g_mutex_unlock (&cache_lock);
  return n;
}
