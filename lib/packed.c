/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "packed.h"

#include <string.h>

void
seqnn_packer_init (SeqnnPacker *packer)
{
  memset (packer, 0, sizeof *packer);
}

void
seqnn_packer_clear (SeqnnPacker *packer)
{
  g_free (packer->order);
  g_free (packer->pos);
  g_free (packer->lengths);
  g_free (packer->batch_sizes);
  g_free (packer->step_offset);
  g_free (packer->seq_offset);
  g_free (packer->row_ids);
  g_free (packer->sort_tmp);
  memset (packer, 0, sizeof *packer);
}

gboolean
seqnn_packer_reserve (SeqnnPacker *p, gint n, gint N, GError **error)
{
  gint cap_n = n > p->cap_n ? seqnn_grow_capacity (p->cap_n, n) : p->cap_n;
  gint cap_N = N > p->cap_N ? seqnn_grow_capacity (p->cap_N, N) : p->cap_N;
  SeqnnGrowth list[8];
  guint k = 0;
  if (cap_n > p->cap_n) {
    const gsize bytes = sizeof (gint) * cap_n;
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->order, bytes };
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->pos, bytes };
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->lengths, bytes };
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->seq_offset, bytes };
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->sort_tmp, bytes };
  }
  if (cap_N > p->cap_N) {
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->batch_sizes, sizeof (gint) * cap_N };
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->step_offset, sizeof (gint) * ((gsize) cap_N + 1) };
    list[k++] = (SeqnnGrowth) { (gpointer *) &p->row_ids, sizeof (gint32) * cap_N };
  }
  if (k == 0)
    return TRUE;
  gsize total;
  if (!seqnn_grow_all (list, k, &total)) {
    gchar *detail = g_strdup_printf ("%d tokens in %d sequence%s", N, n, n == 1 ? "" : "s");
    seqnn_set_no_memory_error (error, total, "packing a batch", detail,
        "lower max-tokens or batch-size");
    g_free (detail);
    return FALSE;
  }
  if (cap_n > p->cap_n)
    p->n_allocs++;
  if (cap_N > p->cap_N)
    p->n_allocs++;
  p->cap_n = cap_n;
  p->cap_N = cap_N;
  return TRUE;
}

/* Stable bottom-up merge sort of indices by length, descending. */
static void
sort_by_length (gint *idx, gint *tmp, const gint *lengths, gint n)
{
  gboolean sorted = TRUE;
  for (gint i = 1; i < n && sorted; i++)
    sorted = lengths[idx[i - 1]] >= lengths[idx[i]];
  if (sorted)
    return;
  gint *src = idx, *dst = tmp;
  for (gint width = 1; width < n; width *= 2) {
    for (gint lo = 0; lo < n; lo += 2 * width) {
      gint mid = MIN (lo + width, n), hi = MIN (lo + 2 * width, n);
      gint a = lo, b = mid, k = lo;
      while (a < mid && b < hi)
        dst[k++] = lengths[src[b]] > lengths[src[a]] ? src[b++] : src[a++];
      while (a < mid)
        dst[k++] = src[a++];
      while (b < hi)
        dst[k++] = src[b++];
    }
    gint *swap = src;
    src = dst;
    dst = swap;
  }
  if (src != idx)
    memcpy (idx, src, sizeof (gint) * n);
}

void
seqnn_packer_build (SeqnnPacker *p, const gint32 *ids, const gint *lengths, gint n)
{
  gint N = 0;
  for (gint i = 0; i < n; i++)
    N += lengths[i];
  g_assert (n <= p->cap_n && N <= p->cap_N);  /* reserved by the caller */
  p->n = n;
  p->N = N;

  gint offset = 0;
  for (gint i = 0; i < n; i++) {
    p->order[i] = i;
    p->seq_offset[i] = offset;
    offset += lengths[i];
  }
  sort_by_length (p->order, p->sort_tmp, lengths, n);
  for (gint b = 0; b < n; b++) {
    p->pos[p->order[b]] = b;
    p->lengths[b] = lengths[p->order[b]];
  }

  gint T = p->lengths[0];
  p->T = T;
  gint b = n;
  p->step_offset[0] = 0;
  for (gint t = 0; t < T; t++) {
    while (b > 0 && p->lengths[b - 1] <= t)
      b--;
    p->batch_sizes[t] = b;
    p->step_offset[t + 1] = p->step_offset[t] + b;
    gint32 *row = p->row_ids + p->step_offset[t];
    for (gint s = 0; s < b; s++)
      row[s] = ids[p->seq_offset[p->order[s]] + t];
  }

  p->view.T = T;
  p->view.B = n;
  p->view.N = N;
  p->view.batch_sizes = p->batch_sizes;
  p->view.step_offset = p->step_offset;
  p->view.lengths = p->lengths;
}

void
seqnn_packer_gather (const SeqnnPacker *p, const gfloat *table, gint E, gfloat *dst)
{
  const gsize row_bytes = sizeof (gfloat) * E;
  const gint ahead = 8;  /* rows are scattered over a big table: fetch ahead */
  for (gint r = 0; r < p->N; r++) {
    if (r + ahead < p->N) {
      const gfloat *next = table + (gsize) p->row_ids[r + ahead] * E;
      for (gint k = 0; k < E; k += 16)
        __builtin_prefetch (next + k, 0);
    }
    memcpy (dst + (gsize) r * E, table + (gsize) p->row_ids[r] * E, row_bytes);
  }
}

void
seqnn_packer_copy_sequence (const SeqnnPacker *p, const gfloat *src, gint src_stride,
    gint F, gint i, gfloat *dst)
{
  gint b = p->pos[i];
  gint len = p->lengths[b];
  for (gint t = 0; t < len; t++)
    memcpy (dst + (gsize) t * F, src + (gsize) (p->step_offset[t] + b) * src_stride,
        sizeof (gfloat) * F);
}
