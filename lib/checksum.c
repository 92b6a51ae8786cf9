/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The model file's checksum (checksum.h; defined in seqnn/classifier.h). */
#include "checksum.h"

#include <stdlib.h>
#include <string.h>

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

guint32
seqnn_crc32_update (guint32 crc, const guint8 *p, gsize n)
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
    digest->crc = seqnn_crc32_update (digest->crc, data, len);
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
  return strcmp (((const SeqnnTensorEntry *) a)->name, ((const SeqnnTensorEntry *) b)->name);
}

gint
seqnn_compare_entries_by_begin (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const SeqnnTensorEntry *) a)->begin, y = ((const SeqnnTensorEntry *) b)->begin;
  return x < y ? -1 : x > y;
}

static gchar *
shape_string (const SeqnnTensorEntry *entry)
{
  if (entry->ndim == 1)
    return g_strdup_printf ("%" G_GINT64_FORMAT, entry->shape[0]);
  return g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, entry->shape[0], entry->shape[1]);
}

/* Header part of the checksum: tensor entries by name, then metadata by key.
 * entries is re-sorted by name. */
static void
checksum_begin (Digest *digest, gboolean sha256, SeqnnTensorEntry *entries, guint n_entries, GHashTable *meta)
{
  digest->sha256 = sha256 ? g_checksum_new (G_CHECKSUM_SHA256) : NULL;
  digest->crc = 0;
  qsort (entries, n_entries, sizeof (SeqnnTensorEntry), compare_entries_by_name);
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
  qsort (keys, n_keys, sizeof (gchar *), seqnn_compare_strings);
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
    return g_strdup_printf (SEQNN_CRC32_PREFIX "%08x", digest->crc);
  gchar *text = g_strconcat (SEQNN_SHA256_PREFIX, g_checksum_get_string (digest->sha256), NULL);
  g_checksum_free (digest->sha256);
  return text;
}

gchar *
seqnn_model_file_checksum (gboolean sha256, SeqnnTensorEntry *entries, guint n_entries,
    GHashTable *meta, const gfloat *params)
{
  Digest digest;
  checksum_begin (&digest, sha256, entries, n_entries, meta);
  qsort (entries, n_entries, sizeof (SeqnnTensorEntry), seqnn_compare_entries_by_begin);
  for (guint i = 0; i < n_entries; i++)
    digest_update (&digest, params + entries[i].info->offset, entries[i].info->numel * sizeof (gfloat));
  return checksum_finish (&digest);
}
