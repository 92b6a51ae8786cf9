/* Internal: the small kept-alive thread pool that runs a batch's shards,
 * and the engine's thread settings.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SEQNN_MAX_THREADS 64

/* Sets OpenBLAS to one thread once per process: the engine threads by shards. */
void seqnn_blas_init (void);
/* n_threads 0 = number of cores; clamped to [1, SEQNN_MAX_THREADS]. */
gint seqnn_resolve_n_threads (gint n_threads);

typedef void (*SeqnnTaskFunc) (gpointer data, gint task);
typedef struct _SeqnnPool SeqnnPool;

/* n_threads total, the caller included; the other threads live as long as the pool. */
SeqnnPool *seqnn_pool_new (gint n_threads);
void seqnn_pool_free (SeqnnPool *pool);
/* Runs func(data, 0 .. n_tasks - 1), task 0 on the caller, task k on worker k;
 * n_tasks <= n_threads. Returns when all are done. */
void seqnn_pool_run (SeqnnPool *pool, gint n_tasks, SeqnnTaskFunc func, gpointer data);

G_END_DECLS
