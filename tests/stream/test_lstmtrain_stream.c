/* lstmtrain stream-training=true (issue 10) in in-process pipelines
 * filesrc ! seqtokenize format=csv ! lstmtrain over made-up topic stories:
 * the model written is a stream model with its settings, the epoch messages
 * carry the per-cue validation accuracy, and the settings it cannot train
 * are refused at start with a message saying why.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <seqnn/seqnn.h>

static gchar *tmp_dir;

/* AG News CSV: n stories of 12-30 words over 4 topics; a word is one of its
 * topic's 6 words with probability 0.25, else one of 30 shared ones. */
static gchar *
write_stories (guint n, guint32 seed)
{
  gchar *path = g_build_filename (tmp_dir, "stories.csv", NULL);
  GString *csv = g_string_new (NULL);
  GRand *rand = g_rand_new_with_seed (seed);
  for (guint i = 0; i < n; i++) {
    gint topic = g_rand_int_range (rand, 0, 4), words = g_rand_int_range (rand, 12, 31);
    g_string_append_printf (csv, "\"%d\",\"", topic + 1);
    for (gint w = 0; w < words; w++) {
      if (g_rand_double (rand) < 0.25)
        g_string_append_printf (csv, "%st%dx%d", w ? " " : "", topic, g_rand_int_range (rand, 0, 6));
      else
        g_string_append_printf (csv, "%sn%d", w ? " " : "", g_rand_int_range (rand, 0, 30));
    }
    g_string_append (csv, "\",\"\"\n");
  }
  g_assert_true (g_file_set_contents (path, csv->str, csv->len, NULL));
  g_rand_free (rand);
  g_string_free (csv, TRUE);
  return path;
}

typedef struct {
  gboolean eos;
  gchar *error;              /* the ERROR message's text */
  gdouble validation_accuracy; /* the last lstmtrain-epoch's */
  guint n_epochs;
} Outcome;

static void
run (const gchar *description, Outcome *out)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipeline);
  memset (out, 0, sizeof *out);
  out->validation_accuracy = NAN;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT);
    g_assert_nonnull (msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
      const GstStructure *s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "lstmtrain-epoch")) {
        out->n_epochs++;
        gst_structure_get_double (s, "validation-accuracy", &out->validation_accuracy);
      }
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      out->eos = TRUE;
    } else {
      GError *e = NULL;
      gst_message_parse_error (msg, &e, NULL);
      out->error = g_strdup (e->message);
      g_error_free (e);
    }
    gboolean done = GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT;
    gst_message_unref (msg);
    if (done)
      break;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

#define TRAIN_ARGS "embed-dim=16 hidden-dim=32 epochs=6 batch-size=8 learning-rate=0.01 " \
  "validation-fraction=0.2 seed=3 n-threads=1 stream-window=32 progress-interval=0"

/* Stated: 6 epochs on 800 stories give a per-cue validation accuracy of at
 * X. */
static void
test_stream_training (void)
{
  gchar *csv = write_stories (800, 7);
  gchar *model = g_build_filename (tmp_dir, "stream.model", NULL);
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! seqtokenize format=csv ! "
      "lstmtrain model-out=\"%s\" stream-training=true " TRAIN_ARGS, csv, model);
  Outcome out;
  run (desc, &out);
  g_assert_null (out.error);
  g_assert_true (out.eos);
  g_assert_cmpuint (out.n_epochs, ==, 6);
  g_test_message ("per-cue validation accuracy %.3f", out.validation_accuracy);
  g_assert_cmpfloat (out.validation_accuracy, >=, 0.80);

  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  g_assert_true (seqnn_classifier_is_stream (classifier));
  const gchar *command = seqnn_classifier_get_metadata (classifier, "train.command");
  g_assert_nonnull (strstr (command, "stream-training=true"));
  g_assert_nonnull (strstr (command, "stream-window=32"));
  g_assert_cmpstr (seqnn_classifier_get_metadata (classifier, "train.stream"), ==,
      "4-10 tokens per cue, windows of 32 tokens, 8 streams");
  seqnn_classifier_free (classifier);
  g_unlink (model);
  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (csv);
}

typedef struct {
  const gchar *name;
  const gchar *settings;
  const gchar *message;
} RefusalCase;

static const RefusalCase refusal_cases[] = {
  { "bidirectional", "bidirectional=true", "needs a unidirectional model with head last" },
  { "head max", "head=max", "set bidirectional=false head=last" },
  { "bag of embeddings", "layers=0", "needs a recurrent layer" },
  { "autotune", "autotune-duration=5", "cannot be combined with autotune-duration" },
};

static void
test_refusal (gconstpointer data)
{
  const RefusalCase *rc = data;
  gchar *csv = write_stories (40, 8);
  gchar *model = g_build_filename (tmp_dir, "refused.model", NULL);
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! seqtokenize format=csv ! "
      "lstmtrain model-out=\"%s\" stream-training=true %s " TRAIN_ARGS, csv, model, rc->settings);
  Outcome out;
  run (desc, &out);
  g_assert_nonnull (out.error);
  if (strstr (out.error, rc->message) == NULL)
    g_error ("%s: \"%s\" lacks \"%s\"", rc->name, out.error, rc->message);
  g_assert_cmpuint (out.n_epochs, ==, 0);
  g_assert_false (g_file_test (model, G_FILE_TEST_EXISTS));
  g_free (out.error);
  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (csv);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("seqnn-lstmtrain-stream-XXXXXX", NULL);
  g_test_add_func ("/lstmtrain-stream/train", test_stream_training);
  for (guint i = 0; i < G_N_ELEMENTS (refusal_cases); i++) {
    gchar *name = g_strdup_printf ("/lstmtrain-stream/refusal/%s", refusal_cases[i].name);
    g_test_add_data_func (name, &refusal_cases[i], test_refusal);
    g_free (name);
  }
  int rc = g_test_run ();
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return rc;
}
