/* Classifies a subtitle file (or a labelled AG News CSV) with lstmclassify and
 * prints every buffer's class, read from its GstSeqnnClassMeta in a pad probe,
 * then the EOS summary that lstmclassify posts when the records carry labels.
 * The C twin of classify.py, line for line the same output.
 *
 * Build: cc classify.c -o classify $(pkg-config --cflags --libs gstreamer-seqnn-1.0)
 * Usage: classify FILE.srt|FILE.vtt|FILE.csv [MODEL]
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gst/gst.h>
#include <gst/seqnn/gstseqnnmeta.h>

static GstPadProbeReturn
on_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  guint *count = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstSeqnnClassMeta *meta = gst_buffer_get_seqnn_class_meta (buf);
  gchar *when;

  ++*count;
  if (meta == NULL)
    return GST_PAD_PROBE_OK;
  if (GST_BUFFER_PTS_IS_VALID (buf)) {
    guint64 ms = GST_BUFFER_PTS (buf) / GST_MSECOND;
    when = g_strdup_printf ("%02u:%02u:%02u.%03u", (guint) (ms / 3600000), (guint) (ms / 60000 % 60),
        (guint) (ms / 1000 % 60), (guint) (ms % 1000));
  } else {
    when = g_strdup_printf ("#%u", *count);
  }
  g_print ("%-12s  %-8s  %.6f\n", when, meta->label ? meta->label : "", meta->confidence);
  g_free (when);
  return GST_PAD_PROBE_OK;
}

static void
print_summary (const GstStructure *s)
{
  guint64 count = 0;
  gdouble accuracy = 0.0, macro_f1 = 0.0;

  gst_structure_get (s, "count", G_TYPE_UINT64, &count, "accuracy", G_TYPE_DOUBLE, &accuracy,
      "macro-f1", G_TYPE_DOUBLE, &macro_f1, NULL);
  g_print ("summary       count %" G_GUINT64_FORMAT "  accuracy %.4f  macro-F1 %.4f\n", count,
      accuracy, macro_f1);
}

/* Follows the bus to EOS or an error; returns the exit status. */
static int
follow_bus (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  int status = -1;

  while (status < 0) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    const GstStructure *s;
    GError *err = NULL;
    gchar *debug = NULL;

    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ELEMENT:
        s = gst_message_get_structure (msg);
        if (gst_structure_has_name (s, "lstmclassify-summary"))
          print_summary (s);
        break;
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, &debug);
        g_printerr ("error: %s (%s)\n", err->message, debug ? debug : "");
        g_clear_error (&err);
        g_free (debug);
        status = 1;
        break;
      default:
        g_print ("EOS\n");
        status = 0;
        break;
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return status;
}

int
main (int argc, char **argv)
{
  const gchar *path, *model;
  GstElement *pipeline, *src, *classify;
  GstPad *srcpad;
  GError *error = NULL;
  guint count = 0;
  int status;

  gst_init (&argc, &argv);
  if (argc != 2 && argc != 3) {
    g_printerr ("Usage: %s FILE.srt|FILE.vtt|FILE.csv [MODEL]\n", argv[0]);
    return 2;
  }
  path = argv[1];
  model = argc == 3 ? argv[2] : "models/agnews.model";
  /* subtitles: one record per cue (with its time); CSV: one per row (with its label) */
  pipeline = gst_parse_launch (g_str_has_suffix (path, ".csv")
      ? "filesrc name=src ! seqtokenize format=csv ! lstmclassify name=classify ! fakesink"
      : "filesrc name=src ! subparse ! lstmclassify name=classify ! fakesink", &error);
  if (pipeline == NULL) {
    g_printerr ("error: %s\n", error->message);
    g_clear_error (&error);
    return 1;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  classify = gst_bin_get_by_name (GST_BIN (pipeline), "classify");
  g_object_set (src, "location", path, NULL);
  g_object_set (classify, "model", model, NULL);
  srcpad = gst_element_get_static_pad (classify, "src");
  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &count, NULL);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  status = follow_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  gst_object_unref (srcpad);
  gst_object_unref (classify);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  gst_deinit ();
  return status;
}
