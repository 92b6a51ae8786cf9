/* Error helpers shared inside libseqnn.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/error.h"

G_BEGIN_DECLS

/* SEQNN_ERROR_IO "cannot WHAT 'PATH': REASON" from errsv (an errno value),
 * the path in the filename encoding made displayable. Returns FALSE. */
gboolean seqnn_set_file_error (GError **error, const gchar *what, const gchar *path, int errsv);

G_END_DECLS
