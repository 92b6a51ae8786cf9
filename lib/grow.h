/* Internal: growing buffers whose sizes come from input (a batch's token
 * count, a record's length) without aborting: g_try_realloc, and a GError
 * that says how much was asked for when the memory is not there.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* New capacity for at least need items: 1.5x growth, without overflowing
 * a gint (need itself is at most G_MAXINT). */
static inline gint
seqnn_grow_capacity (gint capacity, gint need)
{
  gint64 grown = (gint64) capacity + capacity / 2;
  return (gint) MAX ((gint64) need, MIN (grown, (gint64) G_MAXINT));
}

/* a * b * c, or G_MAXSIZE when that overflows (an allocation that then fails). */
static inline gsize
seqnn_size_mul3 (gsize a, gsize b, gsize c)
{
  gsize ab, abc;
  if (!g_size_checked_mul (&ab, a, b) || !g_size_checked_mul (&abc, ab, c))
    return G_MAXSIZE;
  return abc;
}

/* One buffer to grow: the address of its pointer and its new size. */
typedef struct {
  gpointer *ptr;
  gsize n_bytes;
} SeqnnGrowth;

/* Reallocates every buffer of list to its size (at least one byte each).
 * Stops at the first that cannot be had and returns FALSE: that buffer and
 * the ones after it keep their old memory, the ones before are larger, so
 * every buffer still holds at least its old capacity. *total gets the bytes
 * the whole list asks for (saturating), for the caller's message. */
gboolean seqnn_grow_all (SeqnnGrowth *list, guint n, gsize *total);

/* SEQNN_ERROR_NO_MEMORY: "cannot allocate SIZE for WHAT (DETAIL): ADVICE". */
void seqnn_set_no_memory_error (GError **error, gsize n_bytes, const gchar *what,
    const gchar *detail, const gchar *advice);

G_END_DECLS
