/* The kept-alive thread pool that runs a batch's shards.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pool.h"

gint
seqnn_resolve_n_threads (gint n_threads)
{
  if (n_threads <= 0)
    n_threads = (gint) g_get_num_processors ();
  return CLAMP (n_threads, 1, SEQNN_MAX_THREADS);
}

/* Hand-offs happen every training step (a few hundred microseconds apart), so
 * both sides spin briefly before sleeping on a condition: a futex wake-up
 * costs tens of microseconds on a busy machine. */
#define SPIN_US 50

struct _SeqnnPool {
  gint n_threads;
  GThread **threads;
  GMutex lock;
  GCond start_cond, done_cond;
  gint generation;   /* atomic; bumped (under lock) for each run */
  gint pending;      /* atomic; tasks not finished yet */
  gint quit;         /* atomic */
  gint n_tasks;
  SeqnnTaskFunc func;
  gpointer data;
};

typedef struct {
  SeqnnPool *pool;
  gint index;
} Worker;

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

/* Spins until *value != unwanted (or quit), for at most SPIN_US. */
static void
spin_while_equal (gint *value, gint unwanted, gint *quit)
{
  gint64 deadline = 0;
  for (guint i = 0;; i++) {
    if (g_atomic_int_get (value) != unwanted || (quit && g_atomic_int_get (quit)))
      return;
    cpu_relax ();
    if ((i & 63) == 63) {
      gint64 now = g_get_monotonic_time ();
      if (deadline == 0)
        deadline = now + SPIN_US;
      else if (now > deadline)
        return;
    }
  }
}

static gpointer
worker_main (gpointer user_data)
{
  Worker *w = user_data;
  SeqnnPool *pool = w->pool;
  gint index = w->index;
  g_free (w);
  gint seen = 0;
  for (;;) {
    spin_while_equal (&pool->generation, seen, &pool->quit);
    g_mutex_lock (&pool->lock);
    while (!g_atomic_int_get (&pool->quit) && g_atomic_int_get (&pool->generation) == seen)
      g_cond_wait (&pool->start_cond, &pool->lock);
    if (g_atomic_int_get (&pool->quit)) {
      g_mutex_unlock (&pool->lock);
      break;
    }
    seen = g_atomic_int_get (&pool->generation);
    SeqnnTaskFunc func = pool->func;
    gpointer data = pool->data;
    gint n_tasks = pool->n_tasks;
    g_mutex_unlock (&pool->lock);
    if (index < n_tasks) {
      func (data, index);
      if (g_atomic_int_dec_and_test (&pool->pending)) {
        g_mutex_lock (&pool->lock);
        g_cond_signal (&pool->done_cond);
        g_mutex_unlock (&pool->lock);
      }
    }
  }
  return NULL;
}

SeqnnPool *
seqnn_pool_new (gint n_threads)
{
  SeqnnPool *pool = g_new0 (SeqnnPool, 1);
  pool->n_threads = MAX (n_threads, 1);
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->start_cond);
  g_cond_init (&pool->done_cond);
  pool->threads = g_new0 (GThread *, pool->n_threads);
  for (gint i = 1; i < pool->n_threads; i++) {
    Worker *w = g_new (Worker, 1);
    w->pool = pool;
    w->index = i;
    pool->threads[i] = g_thread_new ("seqnn-shard", worker_main, w);
  }
  return pool;
}

void
seqnn_pool_free (SeqnnPool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->lock);
  g_atomic_int_set (&pool->quit, 1);
  g_cond_broadcast (&pool->start_cond);
  g_mutex_unlock (&pool->lock);
  for (gint i = 1; i < pool->n_threads; i++)
    g_thread_join (pool->threads[i]);
  g_free (pool->threads);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->start_cond);
  g_cond_clear (&pool->done_cond);
  g_free (pool);
}

void
seqnn_pool_run (SeqnnPool *pool, gint n_tasks, SeqnnTaskFunc func, gpointer data)
{
  n_tasks = MIN (n_tasks, pool->n_threads);
  if (n_tasks <= 1) {
    if (n_tasks == 1)
      func (data, 0);
    return;
  }
  g_mutex_lock (&pool->lock);
  pool->func = func;
  pool->data = data;
  pool->n_tasks = n_tasks;
  /* every worker takes part in a generation; those without a task skip it */
  g_atomic_int_set (&pool->pending, n_tasks - 1);
  g_atomic_int_inc (&pool->generation);
  g_cond_broadcast (&pool->start_cond);
  g_mutex_unlock (&pool->lock);

  func (data, 0);

  gint64 deadline = 0;
  for (guint i = 0; g_atomic_int_get (&pool->pending) > 0; i++) {
    cpu_relax ();
    if ((i & 63) == 63) {
      gint64 now = g_get_monotonic_time ();
      if (deadline == 0)
        deadline = now + SPIN_US;
      else if (now > deadline)
        break;
    }
  }
  if (g_atomic_int_get (&pool->pending) > 0) {
    g_mutex_lock (&pool->lock);
    while (g_atomic_int_get (&pool->pending) > 0)
      g_cond_wait (&pool->done_cond, &pool->lock);
    g_mutex_unlock (&pool->lock);
  }
}
