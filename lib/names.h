/* Internal: the names of an enum's values, in a table indexed by the value.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What seqnn_cell_*, seqnn_head_*, seqnn_format_* and seqnn_lr_schedule_*
 * _to_string/_from_string share: property values and model-file fields are
 * matched without regard to ASCII case. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* names[value], or NULL for a value outside the table. */
static inline const gchar *
seqnn_name_of (const gchar *const *names, guint n_names, guint value)
{
  return value < n_names ? names[value] : NULL;
}

/* TRUE and *value (when not NULL) the index of str in names; FALSE for
 * NULL or a name not in the table. */
static inline gboolean
seqnn_name_lookup (const gchar *const *names, guint n_names, const gchar *str, guint *value)
{
  for (guint i = 0; str != NULL && i < n_names; i++) {
    if (g_ascii_strcasecmp (str, names[i]) == 0) {
      if (value != NULL)
        *value = i;
      return TRUE;
    }
  }
  return FALSE;
}

G_END_DECLS
