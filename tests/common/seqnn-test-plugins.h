/* Test helper: GStreamer's own plugins for pipeline tests.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* The test environment hides the system plugins (GST_PLUGIN_PATH_1_0 is the
 * build's): loads each of names (NULL-terminated, e.g. "coreelements",
 * "subparse") from GST_SYSTEM_PLUGINS_DIR unless already registered. FALSE,
 * with a message saying which tests skip, when one is missing. */
gboolean seqnn_test_load_system_plugins (const gchar *const *names);

G_END_DECLS
