/* lstmtrain element tests: in-process pipelines
 * filesrc ! seqtokenize ! lstmtrain over CSV/TSV written here, bus messages,
 * model and metrics files, errors, fine-tuning, checkpoints, cancellation.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <seqnn/seqnn.h>

static gchar *tmp_dir;

static gboolean
under_valgrind (void)
{
  return g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
}

static gchar *
tmp_path (const gchar *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* Made-up news: class c (0-based; CSV writes c + 1) has marker words
 * "c<c>w<k>" at one or two random places among 3..11 shared noise words. */
static gchar *
make_text (GRand *rand, gint label)
{
  GString *text = g_string_new (NULL);
  gint length = g_rand_int_range (rand, 3, 12);
  gint marker_at = g_rand_int_range (rand, 0, length);
  gint second_at = g_rand_boolean (rand) ? g_rand_int_range (rand, 0, length) : -1;
  for (gint t = 0; t < length; t++) {
    if (t > 0)
      g_string_append_c (text, ' ');
    if (t == marker_at || t == second_at)
      g_string_append_printf (text, "c%dw%d", label, g_rand_int_range (rand, 0, 5));
    else
      g_string_append_printf (text, "n%d", g_rand_int_range (rand, 0, 30));
  }
  return g_string_free (text, FALSE);
}

/* AG News CSV ("class","title","description") with n rows over n_classes classes. */
static gchar *
write_csv (const gchar *name, gint n_classes, guint n, guint32 seed)
{
  gchar *path = tmp_path (name);
  GString *csv = g_string_new (NULL);
  GRand *rand = g_rand_new_with_seed (seed);
  for (guint i = 0; i < n; i++) {
    gint label = i % n_classes;
    gchar *title = make_text (rand, label);
    g_string_append_printf (csv, "\"%d\",\"%s\",\"news\"\n", label + 1, title);
    g_free (title);
  }
  g_assert_true (g_file_set_contents (path, csv->str, csv->len, NULL));
  g_rand_free (rand);
  g_string_free (csv, TRUE);
  return path;
}

typedef struct {
  GPtrArray *messages;   /* every ERROR, EOS, ELEMENT and PROGRESS message, in order */
  gboolean got_eos;
  GError *error;         /* the model_a ERROR */
  gchar *error_debug;
} Run;

static void
run_clear (Run *run)
{
  g_ptr_array_unref (run->messages);
  g_clear_error (&run->error);
  g_free (run->error_debug);
}

/* Runs a gst-launch description to EOS or ERROR and keeps the messages. */
static void
run_pipeline (const gchar *description, Run *run)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipeline);
  memset (run, 0, sizeof (*run));
  run->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_message_unref);

  GstStateChangeReturn ret = gst_element_set_state (pipeline, GST_STATE_PLAYING);
  if (ret != GST_STATE_CHANGE_FAILURE || TRUE) {
    for (;;) {
      GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
          GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT | GST_MESSAGE_PROGRESS);
      g_ptr_array_add (run->messages, msg);
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
        run->got_eos = TRUE;
        break;
      }
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        gst_message_parse_error (msg, &run->error, &run->error_debug);
        GST_INFO ("error: %s (%s)", run->error->message, run->error_debug);
        break;
      }
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

static guint
count_element_messages (const Run *run, const gchar *name)
{
  guint n = 0;
  for (guint i = 0; i < run->messages->len; i++) {
    GstMessage *msg = g_ptr_array_index (run->messages, i);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (gst_message_get_structure (msg), name))
      n++;
  }
  return n;
}

/* Index of the last element message called name, or -1. */
static gint
find_element_message (const Run *run, const gchar *name)
{
  gint found = -1;
  for (guint i = 0; i < run->messages->len; i++) {
    GstMessage *msg = g_ptr_array_index (run->messages, i);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (gst_message_get_structure (msg), name))
      found = i;
  }
  return found;
}

static guint
count_progress (const Run *run, GstProgressType type)
{
  guint n = 0;
  for (guint i = 0; i < run->messages->len; i++) {
    GstMessage *msg = g_ptr_array_index (run->messages, i);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_PROGRESS) {
      GstProgressType t;
      gst_message_parse_progress (msg, &t, NULL, NULL);
      if (t == type)
        n++;
    }
  }
  return n;
}

/* Accuracy of a model file on a fresh made-up set, through the classifier's
 * own tokenizer and the inference engine. */
static gdouble
model_accuracy (const gchar *path, gint n_classes, guint n, guint32 seed)
{
  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (path, &error);
  g_assert_no_error (error);
  SeqnnInference *inference = seqnn_inference_new (seqnn_classifier_peek_model (classifier), 1);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GRand *rand = g_rand_new_with_seed (seed);
  guint correct = 0;
  for (guint i = 0; i < n; i++) {
    gint label = i % n_classes;
    gchar *text = make_text (rand, label);
    gchar *csv_text = g_strconcat (text, " news", NULL); /* as seqtokenize joins the columns */
    g_array_set_size (ids, 0);
    seqnn_classifier_encode (classifier, csv_text, -1, tokens, ids);
    gint length = ids->len;
    SeqnnBatch batch = { (const gint32 *) ids->data, &length, 1, NULL };
    gfloat probs[8];
    g_assert_true (seqnn_inference_run (inference, &batch, probs, NULL, &error));
    gint best = 0;
    for (gint c = 1; c < n_classes; c++)
      if (probs[c] > probs[best])
        best = c;
    correct += best == label;
    g_free (csv_text);
    g_free (text);
  }
  g_rand_free (rand);
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
  seqnn_inference_free (inference);
  seqnn_classifier_free (classifier);
  return (gdouble) correct / n;
}

GST_START_TEST (test_train_and_write_model)
{
  gboolean vg = under_valgrind ();
  guint n_rows = vg ? 48 : 400;
  gint epochs = vg ? 1 : 6;
  gchar *csv = write_csv ("train.csv", 2, n_rows, 1);
  gchar *model = tmp_path ("trained.model");
  gchar *metrics = tmp_path ("metrics.csv");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s metrics-file=%s epochs=%d learning-rate=0.005 "
      "validation-fraction=0.25 progress-interval=100 seed=3 n-threads=1",
      csv, model, metrics, epochs);
  Run run;
  run_pipeline (desc, &run);
  fail_unless (run.error == NULL, "error: %s", run.error ? run.error->message : "");
  fail_unless (run.got_eos);

  /* Messages: progress START/CONTINUE/COMPLETE, per-report and per-epoch, done before EOS. */
  guint n_progress = count_element_messages (&run, "lstmtrain-progress");
  guint n_epoch = count_element_messages (&run, "lstmtrain-epoch");
  gint done_at = find_element_message (&run, "lstmtrain-done");
  fail_unless_equals_int (n_epoch, epochs);
  fail_unless (vg || n_progress >= 2);
  fail_unless_equals_int (count_progress (&run, GST_PROGRESS_TYPE_START), 1);
  fail_unless_equals_int (count_progress (&run, GST_PROGRESS_TYPE_CONTINUE), n_progress + n_epoch);
  fail_unless_equals_int (count_progress (&run, GST_PROGRESS_TYPE_COMPLETE), 1);
  fail_unless (done_at >= 0 && done_at < (gint) run.messages->len - 1);

  const GstStructure *epoch_s = gst_message_get_structure (
      g_ptr_array_index (run.messages, find_element_message (&run, "lstmtrain-epoch")));
  gint epoch;
  guint64 samples;
  gdouble accuracy, val_accuracy, val_loss;
  fail_unless (gst_structure_get_int (epoch_s, "epoch", &epoch));
  fail_unless_equals_int (epoch, epochs);
  fail_unless (gst_structure_get_uint64 (epoch_s, "samples", &samples));
  fail_unless_equals_uint64 (samples, (guint64) epochs * (n_rows - n_rows / 4));
  fail_unless (gst_structure_get_double (epoch_s, "validation-loss", &val_loss));
  fail_unless (isfinite (val_loss));
  fail_unless (gst_structure_get_double (epoch_s, "validation-accuracy", &val_accuracy));

  const GstStructure *done = gst_message_get_structure (g_ptr_array_index (run.messages, done_at));
  fail_unless_equals_string (gst_structure_get_string (done, "location"), model);
  fail_unless (gst_structure_get_double (done, "accuracy", &accuracy));
  GST_INFO ("train accuracy %.4f, validation accuracy %.4f (loss %.4f)", accuracy, val_accuracy,
      val_loss);
  if (!vg) {
    fail_unless (accuracy >= 0.95, "train accuracy %f", accuracy);
    fail_unless (val_accuracy >= 0.9, "validation accuracy %f", val_accuracy);
  }

  /* The model loads, has the AG News names of the classes seen, and classifies. */
  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (seqnn_classifier_get_n_labels (classifier), 2);
  fail_unless_equals_string (seqnn_classifier_get_label (classifier, 0), "World");
  fail_unless_equals_string (seqnn_classifier_get_label (classifier, 1), "Sports");
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (classifier));
  fail_unless_equals_int (config->cell, SEQNN_CELL_LSTM);
  fail_unless_equals_int (config->embed_dim, 64);
  fail_unless_equals_int (config->hidden_dim, 32);
  gchar *epochs_str = g_strdup_printf ("%d", epochs);
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "train.epochs"), epochs_str);
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "train.complete"), "true");
  fail_unless (strstr (seqnn_classifier_get_metadata (classifier, "train.command"),
          "learning-rate=0.005") != NULL);
  fail_unless (seqnn_classifier_get_metadata (classifier, "train.date") != NULL);
  fail_unless (seqnn_classifier_get_metadata (classifier, "train.validation_accuracy") != NULL);
  g_free (epochs_str);
  seqnn_classifier_free (classifier);
  if (!vg) {
    gdouble test_accuracy = model_accuracy (model, 2, 200, 99);
    GST_INFO ("held-out accuracy %.4f", test_accuracy);
    fail_unless (test_accuracy >= 0.95, "held-out accuracy %f", test_accuracy);
  }

  /* metrics-file: header plus one row per report, 8 columns; epoch rows have validation. */
  gchar *contents = NULL;
  fail_unless (g_file_get_contents (metrics, &contents, NULL, NULL));
  gchar **lines = g_strsplit (g_strchomp (contents), "\n", -1);
  fail_unless_equals_string (lines[0],
      "epoch,samples,train_loss,train_accuracy,val_loss,val_accuracy,samples_per_second,elapsed_s");
  fail_unless_equals_int (g_strv_length (lines) - 1, n_progress + n_epoch);
  gchar **last = g_strsplit (lines[g_strv_length (lines) - 1], ",", -1);
  fail_unless_equals_int (g_strv_length (last), 8);
  fail_unless_equals_int (atoi (last[0]), epochs);
  fail_unless (last[4][0] != '\0' && last[5][0] != '\0');
  fail_unless (fabs (g_ascii_strtod (last[5], NULL) - val_accuracy) < 1e-5);
  g_strfreev (last);
  g_strfreev (lines);
  g_free (contents);

  run_clear (&run);
  g_unlink (metrics);
  g_unlink (model);
  g_unlink (csv);
  g_free (desc);
  g_free (metrics);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

/* layers=0: no recurrent layer, the head (mean unless set) reads the word
 * embeddings; it learns the made-up topics as the recurrent default does. */
GST_START_TEST (test_bag_of_embeddings)
{
  gboolean vg = under_valgrind ();
  gchar *csv = write_csv ("bag.csv", 2, vg ? 48 : 400, 5);
  gchar *model = tmp_path ("bag.model");
  static const struct {
    const gchar *settings;
    SeqnnHead head;
    gint word_ngrams;
  } cases[] = {
    { "layers=0", SEQNN_HEAD_MEAN, 1 },
    { "head=max layers=0", SEQNN_HEAD_MAX, 1 },
    { "layers=0 word-ngrams=2", SEQNN_HEAD_MEAN, 2 }, /* the pairs in the vocabulary and the file */
    { "layers=0 layers=1", SEQNN_HEAD_LAST, 1 },  /* the default comes back */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
        "lstmtrain model-out=%s %s epochs=%d learning-rate=0.01 seed=3 n-threads=1", csv, model,
        cases[i].settings, vg ? 1 : 6);
    Run run;
    run_pipeline (desc, &run);
    fail_unless (run.error == NULL, "%s: %s", cases[i].settings, run.error ? run.error->message : "");
    GError *error = NULL;
    SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
    g_assert_no_error (error);
    const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (classifier));
    gboolean bag = cases[i].head != SEQNN_HEAD_LAST;
    fail_unless_equals_int (config->num_layers, bag ? 0 : 1);
    fail_unless_equals_int (config->head, cases[i].head);
    fail_unless_equals_int (seqnn_classifier_get_tokenizer (classifier)->word_ngrams,
        cases[i].word_ngrams);
    fail_unless_equals_int (seqnn_vocab_get_max_ngram (seqnn_classifier_get_vocab (classifier)),
        cases[i].word_ngrams);
    seqnn_classifier_free (classifier);
    if (!vg && bag) {
      gdouble accuracy = model_accuracy (model, 2, 200, 98);
      fail_unless (accuracy >= 0.95, "%s: held-out accuracy %f", cases[i].settings, accuracy);
    }
    run_clear (&run);
    g_unlink (model);
    g_free (desc);
  }
  g_unlink (csv);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

/* Runs a pipeline expected to fail; returns the error message (free it). */
static gchar *
expect_error (const gchar *description)
{
  Run run;
  run_pipeline (description, &run);
  fail_unless (run.error != NULL, "expected an error from: %s", description);
  fail_if (run.got_eos);
  gchar *message = g_strdup (run.error->message);
  GST_INFO ("expected error: %s", message);
  run_clear (&run);
  return message;
}

static gchar *
write_keep_file (const gchar *name)
{
  gchar *path = tmp_path (name);
  g_assert_true (g_file_set_contents (path, "keep me", -1, NULL));
  return path;
}

static void
assert_kept (const gchar *path)
{
  gchar *contents = NULL;
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless_equals_string (contents, "keep me");
  g_free (contents);
}

/* What model-out is in an error case. */
typedef enum {
  MODEL_KEPT,       /* an existing file, which must stay as it was */
  MODEL_NOT_MADE,   /* a new path, where nothing may appear */
  MODEL_NONE,       /* no model-out property */
  MODEL_IN_A_FILE,  /* a path under a plain file: no folder to write in */
} ModelOut;

/* Pipelines that must fail with a message a user can act on, leaving
 * model-out as it was. In the settings, @FILE@ is a plain file holding
 * "keep me" (a damaged model) and @VECTORS@ GloVe vectors of dimension 3. */
static const struct {
  const gchar *what;
  gint n_classes;             /* of the made-up CSV */
  guint n_rows;               /* 0: an empty file */
  const gchar *source;        /* between filesrc and lstmtrain */
  ModelOut model_out;
  const gchar *settings;      /* lstmtrain's other properties */
  const gchar *expect[3];     /* substrings of the error message */
} error_cases[] = {
  { "no data", 2, 0, "seqtokenize format=csv", MODEL_KEPT, "", { "No training data" } },
  { "one class", 1, 20, "seqtokenize format=csv", MODEL_KEPT, "",
    { "same label 'World'", "at least two classes" } },
  /* SGD with a learning rate of 1e30 overflows the weights within a few steps
   * (Adam's steps are bounded by the learning rate, and saturated gates keep
   * the loss huge but finite). */
  { "NaN loss", 2, 64, "seqtokenize format=csv", MODEL_KEPT,
    "optimizer=sgd learning-rate=1e30 epochs=5 n-threads=1 embed-dim=8 hidden-dim=8",
    { "at epoch 1, step", "became", "lower learning-rate or enable clip-norm" } },
  /* found when the pipeline starts, before any data is read */
  { "model-out under a file", 2, 20, "seqtokenize format=csv", MODEL_IN_A_FILE, "",
    { "Cannot write model file" } },
  { "no model-out", 2, 20, "seqtokenize format=csv", MODEL_NONE, "", { "model-out" } },
  { "records without labels", 2, 10, "seqtokenize format=text", MODEL_NOT_MADE, "",
    { "has no label", "seqtokenize format=csv|tsv|fasttext" } },
  { "buffers without tokens", 2, 10, "text/x-raw,format=utf8", MODEL_NOT_MADE, "",
    { "has no tokens" } },
  { "damaged init-model", 2, 20, "seqtokenize format=csv", MODEL_NOT_MADE, "init-model=@FILE@",
    { "Could not load init-model" } },
  { "vectors of another dimension", 2, 20, "seqtokenize format=csv", MODEL_NOT_MADE,
    "embeddings=@VECTORS@", { "Could not use embeddings" } },
  { "no model fits max-model-size", 2, 120, "seqtokenize format=csv", MODEL_KEPT,
    "autotune-duration=5 max-model-size=1000 n-threads=1", { "max-model-size 1000" } },
  { "max-model-size bounds a plain run", 2, 120, "seqtokenize format=csv", MODEL_KEPT,
    "max-model-size=5000 n-threads=1", { "max-model-size=5000" } },
  /* a fixed learning rate far too high, no clipping: every trial diverges */
  { "every autotune trial diverges", 2, 120, "seqtokenize format=csv", MODEL_KEPT,
    "autotune-duration=20 n-threads=1 embed-dim=8 hidden-dim=8 epochs=2 learning-rate=1e30 "
    "optimizer=sgd cell=rnn-relu layers=1 bidirectional=false head=last dropout=0 min-freq=1 "
    "max-vocab=0 max-tokens=0 batch-size=8", { "diverged" } },
  { "a bag of embeddings has no last state", 2, 20, "seqtokenize format=csv", MODEL_KEPT,
    "layers=0 head=last", { "no last state", "head mean or max" } },
  { "a bag of embeddings has no direction", 2, 20, "seqtokenize format=csv", MODEL_KEPT,
    "layers=0 bidirectional=true", { "no direction" } },
  { "word pairs need a bag of embeddings", 2, 20, "seqtokenize format=csv", MODEL_KEPT,
    "word-ngrams=2", { "word-ngrams=2 needs a bag of embeddings (layers=0)" } },
  { "autotune's word pairs with a fixed recurrent layer", 2, 120, "seqtokenize format=csv",
    MODEL_KEPT, "autotune-duration=5 word-ngrams=2 layers=1",
    { "word-ngrams=2 needs a bag of embeddings (layers=0)" } },
  /* the architecture is not the search's to choose */
  { "autotune with init-model", 2, 120, "seqtokenize format=csv", MODEL_KEPT,
    "autotune-duration=5 init-model=@FILE@", { "init-model" } },
};

static gchar *
replace_all (const gchar *text, const gchar *what, const gchar *with)
{
  gchar **parts = g_strsplit (text, what, -1);
  gchar *joined = g_strjoinv (with, parts);
  g_strfreev (parts);
  return joined;
}

GST_START_TEST (test_errors)
{
  gchar *file = write_keep_file ("plain-file");
  gchar *vectors = tmp_path ("vectors.txt");

  g_assert_true (g_file_set_contents (vectors, "n1 0.1 0.2 0.3\nn2 0.3 0.2 0.1\n", -1, NULL));
  for (guint c = 0; c < G_N_ELEMENTS (error_cases); c++) {
    GST_INFO ("case %u: %s", c, error_cases[c].what);
    gchar *csv = error_cases[c].n_rows > 0
        ? write_csv ("errors.csv", error_cases[c].n_classes, error_cases[c].n_rows, 1 + c)
        : tmp_path ("errors.csv");
    if (error_cases[c].n_rows == 0)
      g_assert_true (g_file_set_contents (csv, "", 0, NULL));
    gchar *model = NULL, *model_prop;
    switch (error_cases[c].model_out) {
      case MODEL_KEPT: model = write_keep_file ("errors.model"); break;
      case MODEL_NOT_MADE: model = tmp_path ("errors.model"); break;
      case MODEL_IN_A_FILE: model = g_build_filename (file, "x.model", NULL); break;
      case MODEL_NONE: break;
    }
    model_prop = model != NULL ? g_strdup_printf ("model-out=%s", model) : g_strdup ("");
    gchar *with_file = replace_all (error_cases[c].settings, "@FILE@", file);
    gchar *settings = replace_all (with_file, "@VECTORS@", vectors);
    gchar *desc = g_strdup_printf ("filesrc location=%s ! %s ! lstmtrain %s %s", csv,
        error_cases[c].source, model_prop, settings);

    gchar *message = expect_error (desc);
    for (guint e = 0; e < G_N_ELEMENTS (error_cases[c].expect) && error_cases[c].expect[e]; e++)
      fail_unless (strstr (message, error_cases[c].expect[e]) != NULL, "case %s: %s",
          error_cases[c].what, message);
    if (error_cases[c].model_out == MODEL_KEPT)
      assert_kept (model);
    if (error_cases[c].model_out == MODEL_NOT_MADE)
      fail_if (g_file_test (model, G_FILE_TEST_EXISTS), "case %s: model written",
          error_cases[c].what);
    assert_kept (file);
    if (error_cases[c].model_out == MODEL_KEPT || error_cases[c].model_out == MODEL_NOT_MADE)
      g_unlink (model);
    g_unlink (csv);
    g_free (message);
    g_free (desc);
    g_free (settings);
    g_free (with_file);
    g_free (model_prop);
    g_free (model);
    g_free (csv);
  }
  g_unlink (vectors);
  g_unlink (file);
  g_free (vectors);
  g_free (file);
}
GST_END_TEST;

/* A malformed record upstream ends the stream in an error: lstmtrain must
 * not take the records before it for the whole data (seqtokenize passes no
 * EOS after its error), even when the application is slow to stop. */
GST_START_TEST (test_upstream_error_trains_nothing)
{
  gchar *csv = write_csv ("broken.csv", 2, 40, 5);
  gchar *contents = NULL;
  g_assert_true (g_file_get_contents (csv, &contents, NULL, NULL));
  gchar *broken = g_strconcat (contents, "\"9\",\"bad\",\"class\"\n", contents, NULL);
  g_assert_true (g_file_set_contents (csv, broken, -1, NULL));
  gchar *model = tmp_path ("broken.model");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! lstmtrain "
      "model-out=%s n-threads=1 embed-dim=8 hidden-dim=8", csv, model);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipeline);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (strstr (error->message, "class 9 out of range") != NULL, "%s", error->message);
  g_clear_error (&error);
  gst_message_unref (msg);
  /* the application has not stopped the pipeline yet: no training, no other errors */
  while ((msg = gst_bus_timed_pop_filtered (bus, 500 * GST_MSECOND,
              GST_MESSAGE_ERROR | GST_MESSAGE_EOS)) != NULL) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, NULL);
      /* basesrc's own report of the flow error is the only other one */
      fail_unless (strstr (error->message, "Internal data stream error") != NULL, "%s",
          error->message);
      g_clear_error (&error);
    } else {
      fail ("EOS reached the sink after an upstream error");
    }
    gst_message_unref (msg);
  }
  fail_if (g_file_test (model, G_FILE_TEST_EXISTS), "a model was written from part of the data");
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (broken);
  g_free (contents);
  g_free (csv);
}
GST_END_TEST;

/* A run that cannot start posts its own error, and only that one: not
 * basesink's generic "failed to post a proper error message" after it. */
GST_START_TEST (test_error_at_start_posted_once)
{
  gchar *csv = write_csv ("start.csv", 2, 20, 4);
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! lstmtrain", csv);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipeline);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  guint n_errors = 0;
  GstMessage *msg;
  while ((msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND, GST_MESSAGE_ERROR)) != NULL) {
    gst_message_parse_error (msg, &error, NULL);
    GST_INFO ("error: %s", error->message);
    fail_unless (strstr (error->message, "model-out") != NULL, "%s", error->message);
    fail_unless (strstr (error->message, "proper error message") == NULL, "%s", error->message);
    g_clear_error (&error);
    gst_message_unref (msg);
    n_errors++;
  }
  fail_unless_equals_int (n_errors, 1);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_unlink (csv);
  g_free (desc);
  g_free (csv);
}
GST_END_TEST;

/* Fine-tuning: a second run starts from the first model's vocabulary, labels
 * and weights; labels the model does not know are refused. */
GST_START_TEST (test_init_model_fine_tuning)
{
  gboolean vg = under_valgrind ();
  gchar *csv = write_csv ("tune.csv", 3, vg ? 30 : 300, 7);
  gchar *model_a = tmp_path ("model_a.model");
  gchar *model_b = tmp_path ("model_b.model");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s cell=gru hidden-dim=16 epochs=%d learning-rate=0.005 n-threads=1",
      csv, model_a, vg ? 1 : 4);
  Run run;
  run_pipeline (desc, &run);
  fail_unless (run.error == NULL, "error: %s", run.error ? run.error->message : "");
  run_clear (&run);
  g_free (desc);

  /* Different architecture properties are ignored: the model's are used. */
  desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s init-model=%s cell=lstm hidden-dim=8 epochs=%d "
      "learning-rate=0.005 n-threads=1", csv, model_b, model_a, vg ? 1 : 3);
  run_pipeline (desc, &run);
  fail_unless (run.error == NULL, "error: %s", run.error ? run.error->message : "");
  run_clear (&run);
  g_free (desc);

  GError *error = NULL;
  SeqnnClassifier *a = seqnn_classifier_load (model_a, &error);
  g_assert_no_error (error);
  SeqnnClassifier *b = seqnn_classifier_load (model_b, &error);
  g_assert_no_error (error);
  const SeqnnConfig *ca = seqnn_model_get_config (seqnn_classifier_peek_model (a));
  const SeqnnConfig *cb = seqnn_model_get_config (seqnn_classifier_peek_model (b));
  fail_unless_equals_int (cb->cell, SEQNN_CELL_GRU);
  fail_unless_equals_int (cb->hidden_dim, 16);
  fail_unless_equals_int (cb->vocab_size, ca->vocab_size);
  fail_unless_equals_int (seqnn_classifier_get_n_labels (b), 3);
  fail_unless_equals_string (seqnn_classifier_get_label (b, 2), "Business");
  gsize na, nb;
  const gfloat *pa = seqnn_model_peek_params (seqnn_classifier_peek_model (a), &na);
  const gfloat *pb = seqnn_model_peek_params (seqnn_classifier_peek_model (b), &nb);
  fail_unless_equals_uint64 (na, nb);
  fail_unless (memcmp (pa, pb, na * sizeof (gfloat)) != 0);
  seqnn_classifier_free (b);
  seqnn_classifier_free (a);
  if (!vg) {
    gdouble acc_first = model_accuracy (model_a, 3, 300, 77);
    gdouble acc_second = model_accuracy (model_b, 3, 300, 77);
    GST_INFO ("held-out accuracy: model_a %.4f, fine-tuned %.4f", acc_first, acc_second);
    fail_unless (acc_second >= 0.95, "fine-tuned accuracy %f", acc_second);
  }

  /* TSV data with a label the model lacks */
  gchar *tsv = tmp_path ("tune.tsv");
  g_assert_true (g_file_set_contents (tsv, "World\tc0w1 n2\nWeather\tc1w1 n3\n", -1, NULL));
  desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=tsv ! "
      "lstmtrain model-out=%s init-model=%s", tsv, model_b, model_a);
  gchar *message = expect_error (desc);
  fail_unless (strstr (message, "'Weather'") != NULL, "%s", message);
  fail_unless (strstr (message, "not one of init-model's labels") != NULL, "%s", message);
  g_free (message);
  g_free (desc);

  g_unlink (tsv);
  g_unlink (model_b);
  g_unlink (model_a);
  g_unlink (csv);
  g_free (tsv);
  g_free (model_b);
  g_free (model_a);
  g_free (csv);
}
GST_END_TEST;

/* Pretrained vectors initialise the embedding; frozen, they stay as given. */
GST_START_TEST (test_embeddings_frozen)
{
  gchar *csv = write_csv ("glove.csv", 2, 48, 11);
  gchar *model = tmp_path ("glove.model");
  gchar *glove = tmp_path ("glove.txt");
  /* word2vec header, then two vectors of 4 dimensions */
  g_assert_true (g_file_set_contents (glove, "2 4\nn1 0.5 -0.25 1 2\nc0w1 -1 0.125 0 3\n", -1, NULL));
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s embeddings=%s freeze-embeddings=true embed-dim=4 hidden-dim=4 "
      "epochs=2 n-threads=1", csv, model, glove);
  Run run;
  run_pipeline (desc, &run);
  fail_unless (run.error == NULL, "error: %s", run.error ? run.error->message : "");
  run_clear (&run);

  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  const SeqnnModel *weights = seqnn_classifier_peek_model (classifier);
  const gfloat *params = seqnn_model_peek_params (weights, NULL);
  const SeqnnTensorInfo *emb = seqnn_model_find_tensor (weights, "embedding.weight");
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (classifier);
  const gfloat n1[4] = { 0.5f, -0.25f, 1.0f, 2.0f }, c0w1[4] = { -1.0f, 0.125f, 0.0f, 3.0f };
  gint32 id_n1 = seqnn_vocab_lookup (vocab, "n1", -1), id_c0w1 = seqnn_vocab_lookup (vocab, "c0w1", -1);
  fail_unless (id_n1 > 1 && id_c0w1 > 1);
  for (gint j = 0; j < 4; j++) {
    fail_unless_equals_float (params[emb->offset + id_n1 * 4 + j], n1[j]);
    fail_unless_equals_float (params[emb->offset + id_c0w1 * 4 + j], c0w1[j]);
  }
  seqnn_classifier_free (classifier);
  g_free (desc);

  /* A dimension that does not match is reported at start, before any data. */
  desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s embeddings=%s embed-dim=5", csv, model, glove);
  gchar *message = expect_error (desc);
  fail_unless (strstr (message, "have 4 dimensions but the embedding has 5") != NULL, "%s", message);
  g_free (message);
  g_free (desc);

  g_unlink (glove);
  g_unlink (model);
  g_unlink (csv);
  g_free (glove);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

static void
play_to_eos (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
}

/* The same pipeline run twice (back to READY in between) trains on each run's
 * data only. */
GST_START_TEST (test_run_twice)
{
  gchar *csv = write_csv ("twice.csv", 2, 40, 12);
  gchar *model = tmp_path ("twice.model");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s embed-dim=4 hidden-dim=4 n-threads=1", csv, model);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  for (gint run = 0; run < 2; run++) {
    play_to_eos (pipeline);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_READY),
        GST_STATE_CHANGE_SUCCESS);
    SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
    g_assert_no_error (error);
    fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "train.samples"), "40");
    seqnn_classifier_free (classifier);
    g_unlink (model);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

/* TSV labels by name become classes in order of appearance. */
GST_START_TEST (test_tsv_label_names)
{
  gchar *tsv = tmp_path ("names.tsv");
  GString *data = g_string_new (NULL);
  GRand *rand = g_rand_new_with_seed (8);
  static const gchar *const names[] = { "spam", "ham", "eggs" };
  for (guint i = 0; i < 30; i++) {
    gchar *text = make_text (rand, i % 3);
    g_string_append_printf (data, "%s\t%s\n", names[i % 3], text);
    g_free (text);
  }
  g_assert_true (g_file_set_contents (tsv, data->str, data->len, NULL));
  gchar *model = tmp_path ("names.model");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=tsv ! "
      "lstmtrain model-out=%s cell=rnn-tanh head=mean n-threads=1 embed-dim=8 hidden-dim=8", tsv, model);
  Run run;
  run_pipeline (desc, &run);
  fail_unless (run.error == NULL, "error: %s", run.error ? run.error->message : "");
  run_clear (&run);

  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (seqnn_classifier_get_n_labels (classifier), 3);
  for (gint i = 0; i < 3; i++)
    fail_unless_equals_string (seqnn_classifier_get_label (classifier, i), names[i]);
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (classifier));
  fail_unless_equals_int (config->cell, SEQNN_CELL_RNN_TANH);
  fail_unless_equals_int (config->head, SEQNN_HEAD_MEAN);
  seqnn_classifier_free (classifier);

  g_unlink (model);
  g_unlink (tsv);
  g_free (desc);
  g_free (model);
  g_free (tsv);
  g_rand_free (rand);
  g_string_free (data, TRUE);
}
GST_END_TEST;

/* A TSV of n made-up rows over names (label of row i: names[(i + shift) % n_names]). */
static gchar *
write_tsv (const gchar *name, const gchar *const *names, gint n_names, guint n, guint32 seed,
    gint shift)
{
  gchar *path = tmp_path (name);
  GString *data = g_string_new (NULL);
  GRand *rand = g_rand_new_with_seed (seed);
  for (guint i = 0; i < n; i++) {
    gchar *text = make_text (rand, i % n_names);
    g_string_append_printf (data, "%s\t%s\n", names[(i + shift) % n_names], text);
    g_free (text);
  }
  g_assert_true (g_file_set_contents (path, data->str, data->len, NULL));
  g_rand_free (rand);
  g_string_free (data, TRUE);
  return path;
}

/* validation-location whose labels are the opposite of training's: its accuracy
 * is best early, so patience stops training and the best epoch's model is written. */
GST_START_TEST (test_early_stopping_validation_file)
{
  static const gchar *const names[] = { "spam", "ham", "Health" };
  gchar *train = write_tsv ("es-train.tsv", names, 2, 120, 31, 0);
  gchar *dev = write_tsv ("es-dev.tsv", names, 2, 60, 32, 1);
  gchar *model = tmp_path ("es.model");
  gchar *metrics = tmp_path ("es.csv");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=tsv ! lstmtrain "
      "model-out=%s validation-location=%s patience=2 epochs=12 learning-rate=0.02 "
      "lr-schedule=linear warmup-steps=3 metrics-file=%s n-threads=1 embed-dim=8 hidden-dim=8",
      train, model, dev, metrics);
  Run run;
  run_pipeline (desc, &run);
  fail_unless (run.error == NULL, "error: %s", run.error ? run.error->message : "");
  guint n_epochs = count_element_messages (&run, "lstmtrain-epoch");
  gint last = find_element_message (&run, "lstmtrain-epoch");
  const GstStructure *st = gst_message_get_structure (g_ptr_array_index (run.messages, last));
  gint best_epoch = 0;
  gboolean stopping = FALSE;
  fail_unless (gst_structure_get_int (st, "best-epoch", &best_epoch));
  fail_unless (gst_structure_get_boolean (st, "stopping-early", &stopping));
  fail_unless (stopping);
  fail_unless (n_epochs < 12, "%u epochs", n_epochs);
  fail_unless_equals_int ((gint) n_epochs, best_epoch + 2);
  run_clear (&run);

  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  gchar *best_str = g_strdup_printf ("%d", best_epoch);
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "train.best_epoch"), best_str);
  g_free (best_str);
  seqnn_classifier_free (classifier);

  /* metrics: the two extra columns, and the kept epoch said at the end */
  gchar *contents = NULL;
  fail_unless (g_file_get_contents (metrics, &contents, NULL, NULL));
  fail_unless (g_str_has_prefix (contents, "epoch,samples,train_loss,train_accuracy,val_loss,"
          "val_accuracy,samples_per_second,elapsed_s,learning_rate,best_epoch\n"));
  gchar *kept = g_strdup_printf ("# stopped early after epoch %u: kept epoch %d", n_epochs,
      best_epoch);
  fail_unless (strstr (contents, kept) != NULL, "%s", contents);
  g_free (kept);
  g_free (contents);
  g_free (desc);

  /* errors: labels the training lacks (named), patience without validation data */
  gchar *bad_dev = write_tsv ("es-bad.tsv", names, 3, 9, 33, 0);
  desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=tsv ! lstmtrain "
      "model-out=%s validation-location=%s n-threads=1 embed-dim=8 hidden-dim=8", train, model,
      bad_dev);
  gchar *message = expect_error (desc);
  fail_unless (strstr (message, "labels the training data lacks: \"Health\"") != NULL, "%s",
      message);
  g_free (message);
  g_free (desc);
  desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=tsv ! lstmtrain "
      "model-out=%s patience=3 n-threads=1 embed-dim=8 hidden-dim=8", train, model);
  message = expect_error (desc);
  fail_unless (strstr (message, "needs validation data") != NULL, "%s", message);
  g_free (message);
  g_free (desc);

  g_unlink (bad_dev);
  g_unlink (metrics);
  g_unlink (model);
  g_unlink (dev);
  g_unlink (train);
  g_free (bad_dev);
  g_free (metrics);
  g_free (model);
  g_free (dev);
  g_free (train);
}
GST_END_TEST;

typedef struct {
  const gchar *signal_on; /* the element message that signals cond ("lstmtrain-progress") */
  const gchar *model_path;
  gchar *complete;        /* "train.complete" of the checkpoint seen mid-training */
  GMutex lock;
  GCond cond;
  gboolean saw_signal;     /* a signal_on message came */
  gboolean saw_cancelled;  /* a CANCELED progress message */
  gboolean saw_eos_or_error;
} Watch;

/* Sync handler, in the streaming thread while it trains: on each signal_on
 * message, look at the checkpoint file (with model_path) and signal. */
static GstBusSyncReply
watch_messages (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  Watch *w = user_data;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_PROGRESS) {
    GstProgressType type;
    gst_message_parse_progress (msg, &type, NULL, NULL);
    if (type == GST_PROGRESS_TYPE_CANCELED)
      w->saw_cancelled = TRUE;
  }
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    w->saw_eos_or_error = TRUE;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_structure_has_name (gst_message_get_structure (msg), w->signal_on)) {
    if (w->model_path != NULL && w->complete == NULL
        && g_file_test (w->model_path, G_FILE_TEST_EXISTS)) {
      SeqnnClassifier *classifier = seqnn_classifier_load (w->model_path, NULL);
      if (classifier != NULL) {
        w->complete = g_strdup (seqnn_classifier_get_metadata (classifier, "train.complete"));
        seqnn_classifier_free (classifier);
      }
    }
    g_mutex_lock (&w->lock);
    w->saw_signal = TRUE;
    g_cond_signal (&w->cond);
    g_mutex_unlock (&w->lock);
  }
  return GST_BUS_PASS;
}

/* Plays desc until the first w->signal_on message, then sets the pipeline
 * to NULL (which must succeed); w holds what the bus showed. */
static void
stop_at_first_message (const gchar *desc, Watch *w)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipeline);
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  gst_bus_set_sync_handler (bus, watch_messages, w, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_mutex_lock (&w->lock);
  while (!w->saw_signal)
    g_cond_wait (&w->cond, &w->lock);
  g_mutex_unlock (&w->lock);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

GST_START_TEST (test_checkpoint_written)
{
  gchar *csv = write_csv ("checkpoint.csv", 2, 160, 9);
  gchar *model = tmp_path ("checkpoint.model");
  /* checkpoint after 48 samples (3 batches), a report after 96 */
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s checkpoint-interval=48 progress-interval=96 n-threads=1 "
      "embed-dim=8 hidden-dim=8",
      csv, model);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipeline);
  Watch w = { .signal_on = "lstmtrain-progress", .model_path = model };
  gst_bus_set_sync_handler (bus, watch_messages, &w, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);

  fail_unless (w.saw_signal);
  fail_unless_equals_string (w.complete, "false");
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "train.complete"), "true");
  seqnn_classifier_free (classifier);

  g_free (w.complete);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_unlink (model);
  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

/* Setting the pipeline to NULL during a long training stops it: the state
 * change returns, no EOS, no model written. (A failure hangs until the test
 * timeout.) */
GST_START_TEST (test_cancel_on_state_null)
{
  gchar *csv = write_csv ("cancel.csv", 2, 64, 10);
  gchar *model = tmp_path ("cancel.model");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s epochs=100000 progress-interval=16 n-threads=1 "
      "embed-dim=8 hidden-dim=8", csv, model);
  Watch w = { .signal_on = "lstmtrain-progress" };

  stop_at_first_message (desc, &w);
  /* The bus drops what is still queued when the pipeline reaches NULL: the
   * sync handler saw everything as it was posted. */
  fail_unless (!g_file_test (model, G_FILE_TEST_EXISTS));
  fail_unless (w.saw_cancelled);
  fail_if (w.saw_eos_or_error);

  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

static gchar *
read_file (const gchar *path, gsize *length)
{
  gchar *contents = NULL;
  fail_unless (g_file_get_contents (path, &contents, length, NULL), "cannot read %s", path);
  return contents;
}

/* The tokenizer settings travel in the tokens meta: a queue between
 * seqtokenize and lstmtrain changes nothing, byte for byte (SOURCE_DATE_EPOCH
 * fixes train.date), and the model tokenizes as the data was. */
GST_START_TEST (test_tokenizer_settings_travel)
{
  gchar *csv = tmp_path ("cased.csv");
  GString *data = g_string_new (NULL);
  GRand *rand = g_rand_new_with_seed (13);
  for (guint i = 0; i < 40; i++) {
    gchar *text = make_text (rand, i % 2);
    gchar *upper = g_ascii_strup (text, -1);
    g_string_append_printf (data, "\"%u\",\"News %s\",\"desc\"\n", i % 2 + 1,
        i % 3 ? text : upper);
    g_free (upper);
    g_free (text);
  }
  g_assert_true (g_file_set_contents (csv, data->str, data->len, NULL));
  static const gchar *const middles[] = { "", "queue ! ", "queue ! identity ! " };
  /* one model-out for all: its path is part of the train.command metadata */
  gchar *model = tmp_path ("cased.model");
  gchar *bytes0 = NULL;
  gsize len0 = 0;
  g_setenv ("SOURCE_DATE_EPOCH", "1700000000", TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (middles); i++) {
    gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv lowercase=false "
        "max-tokens=6 ! %slstmtrain model-out=%s embed-dim=8 hidden-dim=8 n-threads=1 seed=5",
        csv, middles[i], model);
    Run run;
    run_pipeline (desc, &run);
    fail_unless (run.error == NULL, "error: %s", run.error ? run.error->message : "");
    run_clear (&run);
    g_free (desc);
    gsize len;
    gchar *bytes = read_file (model, &len);
    if (bytes0 == NULL) {
      bytes0 = bytes;
      len0 = len;
    } else {
      fail_unless (len == len0 && memcmp (bytes0, bytes, len) == 0, "model with '%s' differs",
          middles[i]);
      g_free (bytes);
    }
  }
  g_unsetenv ("SOURCE_DATE_EPOCH");
  g_free (bytes0);

  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  const SeqnnTokenizerConfig *tokenizer = seqnn_classifier_get_tokenizer (classifier);
  fail_if (tokenizer->lowercase);
  fail_if (tokenizer->strip_markup);
  fail_unless_equals_int (tokenizer->max_tokens, 6);
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (classifier);
  fail_unless (seqnn_vocab_lookup (vocab, "News", -1) != SEQNN_VOCAB_UNK_ID);
  fail_unless (seqnn_vocab_lookup (vocab, "news", -1) == SEQNN_VOCAB_UNK_ID);
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "train.date"),
      "2023-11-14T22:13:20Z");
  seqnn_classifier_free (classifier);

  g_unlink (model);
  g_free (model);
  g_unlink (csv);
  g_free (csv);
  g_rand_free (rand);
  g_string_free (data, TRUE);
}
GST_END_TEST;

/* The lstmtrain-trial messages of a run, in order. */
static GPtrArray *
trial_structures (const Run *run)
{
  GPtrArray *trials = g_ptr_array_new ();
  for (guint i = 0; i < run->messages->len; i++) {
    GstMessage *msg = g_ptr_array_index (run->messages, i);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (gst_message_get_structure (msg), "lstmtrain-trial"))
      g_ptr_array_add (trials, (gpointer) gst_message_get_structure (msg));
  }
  return trials;
}

/* autotune-duration: trials reported (messages, progress, metrics rows), the
 * budget kept, the properties set respected, the best model written with
 * its settings (one network: autotune-ensemble=1). */
GST_START_TEST (test_autotune)
{
  gdouble budget = under_valgrind () ? 8.0 : 2.0;
  gchar *csv = write_csv ("autotune.csv", 3, 300, 12);
  gchar *model = tmp_path ("autotune.model");
  gchar *metrics = tmp_path ("autotune-metrics.csv");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s metrics-file=%s autotune-duration=%g n-threads=1 "
      "embed-dim=8 hidden-dim=8 epochs=3 cell=gru max-model-size=200000 autotune-ensemble=1",
      csv, model, metrics, budget);
  Run run;
  GError *error = NULL;

  run_pipeline (desc, &run);
  fail_unless (run.got_eos, "autotune failed: %s", run.error ? run.error->message : "");
  GPtrArray *trials = trial_structures (&run);
  fail_unless (trials->len >= 1);
  gdouble best_accuracy = -1.0, last_elapsed = 0.0;
  for (guint i = 0; i < trials->len; i++) {
    const GstStructure *st = g_ptr_array_index (trials, i);
    const gchar *settings = gst_structure_get_string (st, "settings");
    /* the properties set keep their values in every trial */
    fail_unless (g_str_has_prefix (settings, "cell=gru embed-dim=8 hidden-dim=8 "), "%s",
        settings);
    fail_unless (g_str_has_suffix (settings, " epochs=3"), "%s", settings);
    gdouble accuracy;
    gboolean best;
    guint64 size;
    gint index;
    fail_unless (gst_structure_get_int (st, "trial", &index));
    fail_unless_equals_int (index, (gint) i + 1);
    fail_unless (gst_structure_get_double (st, "validation-accuracy", &accuracy));
    fail_unless (gst_structure_get_double (st, "elapsed", &last_elapsed));
    fail_unless (gst_structure_get_boolean (st, "best", &best));
    fail_unless (gst_structure_get_uint64 (st, "model-size", &size));
    fail_unless (size <= 200000);
    if (best)
      best_accuracy = accuracy;
  }
  /* The budget, plus one validation pass of 30 records. */
  fail_unless (last_elapsed < budget + (under_valgrind () ? 3.0 : 0.5), "%f", last_elapsed);
  /* a START, a CONTINUE per trial and a COMPLETE */
  fail_unless (count_progress (&run, GST_PROGRESS_TYPE_CONTINUE) >= trials->len);
  fail_unless_equals_int (count_progress (&run, GST_PROGRESS_TYPE_COMPLETE), 1);
  fail_unless (find_element_message (&run, "lstmtrain-done") >= 0);

  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (classifier));
  fail_unless_equals_int (config->cell, SEQNN_CELL_GRU);
  fail_unless_equals_int (config->embed_dim, 8);
  fail_unless_equals_int (config->hidden_dim, 8);
  /* autotune-ensemble=1: one network (the default merges up to 3 when time is left) */
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "autotune.members"), "1");
  const gchar *settings = seqnn_classifier_get_metadata (classifier, "autotune.settings");
  fail_unless (settings != NULL && g_str_has_prefix (settings, "cell=gru embed-dim=8"));
  gchar *expected = g_strdup_printf ("%.6f", best_accuracy);
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier,
          "autotune.validation_accuracy"), expected);
  g_free (expected);
  const gchar *command = seqnn_classifier_get_metadata (classifier, "train.command");
  fail_unless (command != NULL && strstr (command, "autotune-duration=") != NULL, "%s", command);
  /* what the user set, not the searched dimensions' unused property values */
  fail_unless (strstr (command, " cell=gru") != NULL && strstr (command, " embed-dim=8") != NULL,
      "%s", command);
  fail_unless (strstr (command, " head=") == NULL && strstr (command, " learning-rate=") == NULL,
      "%s", command);
  seqnn_classifier_free (classifier);
  if (!under_valgrind ()) /* there, a trial or two fit: memory is what is checked */
    fail_unless (model_accuracy (model, 3, 200, 99) > 0.6);

  /* One metrics row per trial after the header. */
  gchar *contents = NULL;
  fail_unless (g_file_get_contents (metrics, &contents, NULL, NULL));
  gchar **lines = g_strsplit (g_strstrip (contents), "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), trials->len + 1);
  fail_unless (g_str_has_prefix (lines[0], "trial,rung,samples,cell,"));
  fail_unless (g_str_has_prefix (lines[1], "1,0,"), "%s", lines[1]);
  fail_unless (strstr (lines[1], ",gru,8,8,") != NULL, "%s", lines[1]);
  g_strfreev (lines);
  g_free (contents);

  g_ptr_array_unref (trials);
  run_clear (&run);
  g_unlink (model);
  g_unlink (metrics);
  g_unlink (csv);
  g_free (desc);
  g_free (metrics);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

/* The text of the last COMPLETE progress message (owned by run). */
static gchar *
complete_text (const Run *run)
{
  gchar *text = NULL;
  for (guint i = 0; i < run->messages->len; i++) {
    GstMessage *msg = g_ptr_array_index (run->messages, i);
    GstProgressType t;
    gchar *msg_text = NULL;
    if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_PROGRESS)
      continue;
    gst_message_parse_progress (msg, &t, NULL, &msg_text);
    if (t == GST_PROGRESS_TYPE_COMPLETE) {
      g_free (text);
      text = g_steal_pointer (&msg_text);
    }
    g_free (msg_text);
  }
  return text;
}

/* autotune-ensemble by default (3) on little data: the model written is the
 * networks merged (each of the fixed sizes), and the done message says so. */
GST_START_TEST (test_autotune_ensemble)
{
  gchar *csv = write_csv ("autotune-ensemble.csv", 3, 300, 12);
  gchar *model = tmp_path ("autotune-ensemble.model");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s autotune-duration=%g n-threads=2 embed-dim=8 hidden-dim=8 "
      "epochs=3 cell=gru", csv, model, under_valgrind () ? 8.0 : 2.0);
  Run run;
  GError *error = NULL;

  run_pipeline (desc, &run);
  fail_unless (run.got_eos, "autotune failed: %s", run.error ? run.error->message : "");
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  const SeqnnConfig *config = seqnn_model_get_config (seqnn_classifier_peek_model (classifier));
  const gchar *members = seqnn_classifier_get_metadata (classifier, "autotune.members");
  fail_unless (members != NULL);
  gint n = atoi (members);
  /* as many as fit in the time left: 3 on an idle machine */
  fail_unless (n >= 1 && n <= 3, "%s", members);
  fail_unless_equals_int (config->embed_dim, 8 * n);
  fail_unless_equals_int (config->hidden_dim, 8 * n);
  fail_unless (strstr (seqnn_classifier_get_metadata (classifier, "train.command"),
          " autotune-ensemble=3") != NULL);
  gchar *text = complete_text (&run);
  gchar *expected = g_strdup_printf (" as %d networks averaged,", n);
  fail_unless (text != NULL && (strstr (text, expected) != NULL) == (n > 1), "%s", text);
  g_free (expected);
  g_free (text);
  seqnn_classifier_free (classifier);
  if (!under_valgrind ())
    fail_unless (model_accuracy (model, 3, 200, 99) > 0.6);

  run_clear (&run);
  g_unlink (model);
  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

/* A budget too short for any epoch: one minimal trial (cut after its first
 * batch, evaluated as it stands) is written, within the budget and a
 * validation pass. */
GST_START_TEST (test_autotune_budget_too_short)
{
  gchar *csv = write_csv ("autotune-short.csv", 2, 400, 14);
  gchar *model = tmp_path ("autotune-short.model");
  gchar *desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! "
      "lstmtrain model-out=%s autotune-duration=0.001 n-threads=1 embed-dim=8 "
      "hidden-dim=8 batch-size=4", csv, model);
  Run run;
  GError *error = NULL;

  run_pipeline (desc, &run);
  fail_unless (run.got_eos, "autotune failed: %s", run.error ? run.error->message : "");
  GPtrArray *trials = trial_structures (&run);
  fail_unless_equals_int (trials->len, 1);
  const GstStructure *st = g_ptr_array_index (trials, 0);
  gboolean cut = FALSE, best = FALSE;
  gint best_epoch = -1;
  gdouble elapsed = 1e9;
  fail_unless (gst_structure_get_boolean (st, "cut", &cut) && cut);
  fail_unless (gst_structure_get_int (st, "best-epoch", &best_epoch));
  fail_unless_equals_int (best_epoch, 0);
  fail_unless (gst_structure_get_double (st, "elapsed", &elapsed));
  fail_unless (elapsed < (under_valgrind () ? 3.0 : 0.5), "%f", elapsed);
  /* reported before its evaluation, so not (yet) the best */
  fail_unless (gst_structure_get_boolean (st, "best", &best));
  SeqnnClassifier *classifier = seqnn_classifier_load (model, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (seqnn_classifier_get_metadata (classifier, "autotune.trials"), "1");
  seqnn_classifier_free (classifier);

  g_ptr_array_unref (trials);
  run_clear (&run);
  g_unlink (model);
  g_unlink (csv);
  g_free (desc);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

/* A cancelled search leaves an existing model-out untouched (bad settings
 * and a failed search: test_errors). */
GST_START_TEST (test_autotune_keeps_model_out)
{
  gchar *csv = write_csv ("autotune-bad.csv", 2, 120, 13);
  gchar *model = write_keep_file ("autotune-keep.model");
  gchar *desc;

  /* Cancelled after the first trial (NULL state): no error, model-out kept. */
  desc = g_strdup_printf ("filesrc location=%s ! seqtokenize format=csv ! lstmtrain "
      "model-out=%s autotune-duration=1000 n-threads=1 embed-dim=8 hidden-dim=8 epochs=2",
      csv, model);
  Watch w = { .signal_on = "lstmtrain-trial" };
  stop_at_first_message (desc, &w);
  fail_unless (w.saw_cancelled);
  fail_if (w.saw_eos_or_error);
  assert_kept (model);
  g_free (desc);

  g_unlink (model);
  g_unlink (csv);
  g_free (model);
  g_free (csv);
}
GST_END_TEST;

static void
setup_tmp (void)
{
  GError *error = NULL;
  tmp_dir = g_dir_make_tmp ("lstmtrain-test-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
teardown_tmp (void)
{
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
}

static Suite *
lstmtrain_suite (void)
{
  Suite *s = suite_create ("lstmtrain");
  TCase *tc = tcase_create ("general");

  tcase_add_checked_fixture (tc, setup_tmp, teardown_tmp);
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_train_and_write_model);
  tcase_add_test (tc, test_bag_of_embeddings);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_error_at_start_posted_once);
  tcase_add_test (tc, test_upstream_error_trains_nothing);
  tcase_add_test (tc, test_init_model_fine_tuning);
  tcase_add_test (tc, test_tsv_label_names);
  tcase_add_test (tc, test_early_stopping_validation_file);
  tcase_add_test (tc, test_embeddings_frozen);
  tcase_add_test (tc, test_run_twice);
  tcase_add_test (tc, test_checkpoint_written);
  tcase_add_test (tc, test_cancel_on_state_null);
  tcase_add_test (tc, test_tokenizer_settings_travel);
  tcase_add_test (tc, test_autotune);
  tcase_add_test (tc, test_autotune_ensemble);
  tcase_add_test (tc, test_autotune_budget_too_short);
  tcase_add_test (tc, test_autotune_keeps_model_out);
  return s;
}

GST_CHECK_MAIN (lstmtrain);
