/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/error.h"
#include "error-private.h"

G_DEFINE_QUARK (seqnn-error-quark, seqnn_error)

gboolean
seqnn_set_file_error (GError **error, const gchar *what, const gchar *path, int errsv)
{
  gchar *display = g_filename_display_name (path);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot %s '%s': %s", what, display,
      g_strerror (errsv));
  g_free (display);
  return FALSE;
}
