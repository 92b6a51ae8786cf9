/* Elements of one process share one loaded copy of a model file (the
 * libseqnn model cache); a model swap in one element leaves the others alone.
 * The test links the same libseqnn as the plugin, so it sees the cache.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <seqnn/seqnn.h>

#include "gstseqnnmeta.h"

static const gchar *const VOCAB[] = { "<unk>", "<pad>", "the", "game", "market", "vote" };
static const gchar *const FIRST_LABELS[] = { "World", "Sports", NULL };
static const gchar *const SECOND_LABELS[] = { "Alpha", "Beta", NULL };

static gchar *tmp_dir;
static gchar *first_path;
static gchar *second_path;

static gchar *
save_model (const gchar *const *labels, guint64 seed, const gchar *name)
{
  SeqnnConfig config;
  SeqnnModel *model;
  SeqnnVocab *vocab;
  SeqnnClassifier *classifier;
  GError *error = NULL;
  gchar *path = g_build_filename (tmp_dir, name, NULL);

  seqnn_config_init_default (&config);
  config.vocab_size = G_N_ELEMENTS (VOCAB);
  config.embed_dim = 4;
  config.hidden_dim = 3;
  config.num_classes = 2;
  model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, seed);
  vocab = seqnn_vocab_new_from_tokens (VOCAB, G_N_ELEMENTS (VOCAB), &error);
  g_assert_no_error (error);
  classifier = seqnn_classifier_new (model, vocab, NULL, labels, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab);
  g_assert_true (seqnn_classifier_save (classifier, path, &error));
  g_assert_no_error (error);
  seqnn_classifier_free (classifier);
  return path;
}

static void
setup_models (void)
{
  GError *error = NULL;

  tmp_dir = g_dir_make_tmp ("modelshare-XXXXXX", &error);
  g_assert_no_error (error);
  first_path = save_model (FIRST_LABELS, 3, "first.model");
  second_path = save_model (SECOND_LABELS, 5, "second.model");
}

static void
teardown_models (void)
{
  g_unlink (first_path);
  g_unlink (second_path);
  g_rmdir (tmp_dir);
  g_clear_pointer (&first_path, g_free);
  g_clear_pointer (&second_path, g_free);
  g_clear_pointer (&tmp_dir, g_free);
}

/* factory with model set before the harness starts it. */
static GstHarness *
model_harness (const gchar *factory, const gchar *model_path)
{
  GstElement *element = gst_element_factory_make (factory, NULL);
  GstHarness *h;

  fail_unless (element != NULL, "%s not found: is GST_PLUGIN_PATH_1_0 set?", factory);
  g_object_set (element, "model", model_path, NULL);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  return h;
}

static GstHarness *
classify_harness (const gchar *model_path)
{
  GstHarness *h = model_harness ("lstmclassify", model_path);

  g_object_set (h->element, "batch-size", 1, NULL);
  return h;
}

/* Pushes one text and returns the label lstmclassify gave it. */
static gchar *
classify_label (GstHarness *h, const gchar *text)
{
  GstBuffer *in = gst_buffer_new_memdup (text, strlen (text));
  GstBuffer *out;
  GstSeqnnClassMeta *meta;
  gchar *label;

  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  meta = gst_buffer_get_seqnn_class_meta (out);
  fail_unless (meta != NULL);
  label = g_strdup (meta->label);
  gst_buffer_unref (out);
  return label;
}

static void
assert_label_in (GstHarness *h, const gchar *const *labels)
{
  gchar *label = classify_label (h, "the game");

  fail_unless (g_strv_contains (labels, label), "label '%s'", label);
  g_free (label);
}

GST_START_TEST (test_two_elements_share)
{
  GstHarness *a, *b;

  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 0);
  a = classify_harness (first_path);
  b = classify_harness (first_path);
  assert_label_in (a, FIRST_LABELS);
  assert_label_in (b, FIRST_LABELS);
  /* Two elements, one copy. */
  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 1);

  /* A swap in a: loaded now, used from its next batch; b keeps the first. */
  g_object_set (a->element, "model", second_path, NULL);
  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 2);
  assert_label_in (a, SECOND_LABELS);
  assert_label_in (b, FIRST_LABELS);
  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 2);

  /* b's copy goes with b, a's with a. */
  gst_harness_teardown (b);
  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 1);
  gst_harness_teardown (a);
  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 0);
}

GST_END_TEST;

/* seqtokenize model= takes the same copy as lstmclassify. */
GST_START_TEST (test_tokenize_and_classify_share)
{
  GstHarness *c = classify_harness (first_path);
  GstHarness *t = model_harness ("seqtokenize", first_path);
  GstBuffer *out;
  GstSeqnnTokensMeta *meta;

  fail_unless_equals_int (gst_harness_push (t, gst_buffer_new_memdup ("the vote", 8)), GST_FLOW_OK);
  out = gst_harness_pull (t);
  meta = gst_buffer_get_seqnn_tokens_meta (out);
  fail_unless (meta != NULL && meta->ids != NULL);
  fail_unless_equals_int (meta->n_tokens, 2);
  fail_unless_equals_int (meta->ids[1], 5);
  gst_buffer_unref (out);
  assert_label_in (c, FIRST_LABELS);
  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 1);
  gst_harness_teardown (t);
  gst_harness_teardown (c);
  fail_unless_equals_int (seqnn_model_cache_get_n_loaded (), 0);
}

GST_END_TEST;

static Suite *
modelshare_suite (void)
{
  Suite *s = suite_create ("modelshare");
  TCase *tc = tcase_create ("general");

  tcase_add_unchecked_fixture (tc, setup_models, teardown_models);
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_two_elements_share);
  tcase_add_test (tc, test_tokenize_and_classify_share);
  return s;
}

GST_CHECK_MAIN (modelshare);
