/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/error.h"
#include "error-private.h"

G_DEFINE_QUARK (seqnn-error-quark, seqnn_error)

const gchar *
seqnn_error_code_name (const GError *error)
{
  g_return_val_if_fail (error != NULL, "unknown");
  if (error->domain != SEQNN_ERROR)
    return g_quark_to_string (error->domain);
  switch ((SeqnnError) error->code) {
    case SEQNN_ERROR_INVALID_ARGUMENT: return "invalid-argument";
    case SEQNN_ERROR_OUT_OF_RANGE: return "out-of-range";
    case SEQNN_ERROR_NUMERIC: return "numeric";
    case SEQNN_ERROR_PARSE: return "parse";
    case SEQNN_ERROR_CORRUPT: return "corrupt";
    case SEQNN_ERROR_IO: return "io";
    case SEQNN_ERROR_UNSUPPORTED: return "unsupported";
    case SEQNN_ERROR_CANCELLED: return "cancelled";
    case SEQNN_ERROR_NO_MEMORY: return "no-memory";
  }
  return "unknown";
}

gboolean
seqnn_set_file_error (GError **error, const gchar *what, const gchar *path, int errsv)
{
  gchar *display = g_filename_display_name (path);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot %s '%s': %s", what, display,
      g_strerror (errsv));
  g_free (display);
  return FALSE;
}
