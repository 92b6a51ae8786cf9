/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "grow.h"
#include "seqnn/error.h"

gboolean
seqnn_grow_all (SeqnnGrowth *list, guint n, gsize *total)
{
  gsize sum = 0;
  for (guint i = 0; i < n; i++)
    if (!g_size_checked_add (&sum, sum, list[i].n_bytes))
      sum = G_MAXSIZE;
  *total = sum;
  for (guint i = 0; i < n; i++) {
    gpointer grown = g_try_realloc (*list[i].ptr, MAX (list[i].n_bytes, 1));
    if (grown == NULL)
      return FALSE;
    *list[i].ptr = grown;
  }
  return TRUE;
}

void
seqnn_set_no_memory_error (GError **error, gsize n_bytes, const gchar *what,
    const gchar *detail, const gchar *advice)
{
  gchar *size = n_bytes == G_MAXSIZE ? g_strdup ("more than the address space")
      : g_format_size_full (n_bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_NO_MEMORY, "cannot allocate %s for %s (%s): %s",
      size, what, detail, advice);
  g_free (size);
}
