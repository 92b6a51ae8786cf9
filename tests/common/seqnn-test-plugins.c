/* Test helper: GStreamer's own plugins for pipeline tests.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn-test-plugins.h"

gboolean
seqnn_test_load_system_plugins (const gchar *const *names)
{
  gboolean all = TRUE;

  for (guint i = 0; names[i] != NULL; i++) {
    GstPlugin *plugin = gst_registry_find_plugin (gst_registry_get (), names[i]);
    GError *error = NULL;
    gchar *file, *path;

    if (plugin != NULL) {
      gst_object_unref (plugin);
      continue;
    }
    file = g_strdup_printf ("libgst%s.so", names[i]);
    path = g_build_filename (GST_SYSTEM_PLUGINS_DIR, file, NULL);
    plugin = gst_plugin_load_file (path, &error);
    if (plugin == NULL) {
      g_printerr ("pipeline tests skipped: %s\n", error->message);
      g_clear_error (&error);
      all = FALSE;
    } else {
      gst_object_unref (plugin);
    }
    g_free (path);
    g_free (file);
  }
  return all;
}
