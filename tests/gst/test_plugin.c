/* The plugin's metadata: no placeholders (an unknown origin is said with
 * GStreamer's own wording), and its three elements.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gst/check/gstcheck.h>

GST_START_TEST (test_plugin_metadata)
{
  GstPlugin *plugin = gst_registry_find_plugin (gst_registry_get (), "seqnn");
  const gchar *const elements[] = { "seqtokenize", "lstmclassify", "lstmtrain" };

  fail_unless (plugin != NULL, "plugin seqnn not found: is GST_PLUGIN_PATH_1_0 set?");
  fail_unless_equals_string (gst_plugin_get_origin (plugin), "Unknown package origin");
  fail_unless_equals_string (gst_plugin_get_package (plugin), "gst-seqnn");
  fail_unless_equals_string (gst_plugin_get_license (plugin), "LGPL");
  fail_unless_equals_string (gst_plugin_get_version (plugin), SEQNN_VERSION);
  for (guint i = 0; i < G_N_ELEMENTS (elements); i++) {
    GstPluginFeature *f = gst_registry_lookup_feature (gst_registry_get (), elements[i]);

    fail_unless (f != NULL, "%s not registered", elements[i]);
    fail_unless_equals_string (gst_plugin_feature_get_plugin_name (f), "seqnn");
    gst_object_unref (f);
  }
  gst_object_unref (plugin);
}

GST_END_TEST;

static Suite *
plugin_suite (void)
{
  Suite *s = suite_create ("plugin");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_plugin_metadata);
  return s;
}

GST_CHECK_MAIN (plugin);
