/* Tests of the seqnn tokens and class metas: contents, deep copies on buffer
 * copy and make_writable, partial copies, no tags.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>

#include <gst/check/gstcheck.h>

#include "gstseqnnmeta.h"

static GstBuffer *
text_buffer (const gchar *text)
{
  gsize len = strlen (text);

  return len > 0 ? gst_buffer_new_memdup (text, len) : gst_buffer_new ();
}

static void
assert_tokens_meta_equal (const GstSeqnnTokensMeta *a, const GstSeqnnTokensMeta *b)
{
  fail_unless_equals_int (a->n_tokens, b->n_tokens);
  fail_unless_equals_int (g_strv_length (a->tokens), a->n_tokens);
  fail_unless_equals_int (g_strv_length (b->tokens), b->n_tokens);
  for (guint i = 0; i < a->n_tokens; i++)
    fail_unless_equals_string (a->tokens[i], b->tokens[i]);
  fail_unless_equals_int (a->ids == NULL, b->ids == NULL);
  if (a->ids != NULL)
    fail_unless (memcmp (a->ids, b->ids, a->n_tokens * sizeof (gint32)) == 0);
  fail_unless_equals_string (a->label, b->label);
  fail_unless_equals_int (a->label_id, b->label_id);
}

GST_START_TEST (test_tokens_meta_add)
{
  GstBuffer *buffer = text_buffer ("Hello world!");
  gchar *tokens[] = { g_strdup ("hello"), g_strdup ("world"), g_strdup ("!"), NULL };
  gint32 ids[] = { 7, 3, 0 };
  gchar *label = g_strdup ("Sci/Tech");
  GstSeqnnTokensMeta *meta;

  meta = gst_buffer_add_seqnn_tokens_meta (buffer, (const gchar *const *) tokens, 3, ids, label, 3);
  fail_unless (meta != NULL);
  /* The meta holds copies: changing the caller's data leaves it alone. */
  tokens[0][0] = 'X';
  ids[0] = 99;
  label[0] = 'X';
  meta = gst_buffer_get_seqnn_tokens_meta (buffer);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_tokens, 3);
  fail_unless_equals_string (meta->tokens[0], "hello");
  fail_unless_equals_string (meta->tokens[1], "world");
  fail_unless_equals_string (meta->tokens[2], "!");
  fail_unless (meta->tokens[3] == NULL);
  fail_unless_equals_int (meta->ids[0], 7);
  fail_unless_equals_int (meta->ids[1], 3);
  fail_unless_equals_int (meta->ids[2], 0);
  fail_unless_equals_string (meta->label, "Sci/Tech");
  fail_unless_equals_int (meta->label_id, 3);
  /* The other meta is not there. */
  fail_unless (gst_buffer_get_seqnn_class_meta (buffer) == NULL);

  for (gchar **t = tokens; *t != NULL; t++)
    g_free (*t);
  g_free (label);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

GST_START_TEST (test_tokens_meta_empty)
{
  GstBuffer *buffer = text_buffer ("");
  GstSeqnnTokensMeta *meta;
  gint32 no_ids[1] = { 0 };

  /* No tokens, no ids, no label. */
  meta = gst_buffer_add_seqnn_tokens_meta (buffer, NULL, 0, NULL, NULL, -1);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_tokens, 0);
  fail_unless (meta->tokens != NULL && meta->tokens[0] == NULL);
  fail_unless (meta->ids == NULL);
  fail_unless (meta->label == NULL);
  fail_unless_equals_int (meta->label_id, -1);
  gst_buffer_unref (buffer);

  /* An empty record encoded with a vocabulary keeps a non-NULL ids. */
  buffer = text_buffer ("   ");
  meta = gst_buffer_add_seqnn_tokens_meta (buffer, NULL, 0, no_ids, NULL, -1);
  fail_unless (meta->ids != NULL);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

GST_START_TEST (test_tokens_meta_copy)
{
  GstBuffer *buffer = text_buffer ("the cat sat");
  const gchar *tokens[] = { "the", "cat", "sat" };
  const gint32 ids[] = { 2, 5, 9 };
  GstSeqnnTokensMeta *meta, *copy_meta;
  GstBuffer *copy, *writable;

  meta = gst_buffer_add_seqnn_tokens_meta (buffer, tokens, 3, ids, "World", 0);

  /* A full copy carries a deep copy. */
  copy = gst_buffer_copy (buffer);
  copy_meta = gst_buffer_get_seqnn_tokens_meta (copy);
  fail_unless (copy_meta != NULL);
  fail_unless (copy_meta != meta);
  fail_unless (copy_meta->tokens != meta->tokens);
  fail_unless (copy_meta->ids != meta->ids);
  fail_unless (copy_meta->label != meta->label);
  assert_tokens_meta_equal (meta, copy_meta);
  gst_buffer_unref (copy);

  /* make_writable on a shared buffer copies, meta included; the original keeps its own. */
  gst_buffer_ref (buffer);
  writable = gst_buffer_make_writable (buffer);
  fail_unless (writable != buffer);
  copy_meta = gst_buffer_get_seqnn_tokens_meta (writable);
  fail_unless (copy_meta != NULL);
  assert_tokens_meta_equal (meta, copy_meta);
  gst_buffer_unref (writable);
  fail_unless (gst_buffer_get_seqnn_tokens_meta (buffer) == meta);

  /* A copy of the whole buffer through copy_region is still a full copy. */
  copy = gst_buffer_copy_region (buffer, GST_BUFFER_COPY_ALL, 0, gst_buffer_get_size (buffer));
  fail_unless (gst_buffer_get_seqnn_tokens_meta (copy) != NULL);
  gst_buffer_unref (copy);

  /* A part of the text: its tokens are no longer those of the whole, so the meta is dropped. */
  copy = gst_buffer_copy_region (buffer, GST_BUFFER_COPY_ALL, 4, 3);
  fail_unless (gst_buffer_get_seqnn_tokens_meta (copy) == NULL);
  gst_buffer_unref (copy);
  copy = gst_buffer_copy_region (buffer, GST_BUFFER_COPY_ALL, 0, 3);
  fail_unless (gst_buffer_get_seqnn_tokens_meta (copy) == NULL);
  gst_buffer_unref (copy);

  gst_buffer_unref (buffer);
}

GST_END_TEST;

GST_START_TEST (test_tokens_meta_copy_empty)
{
  GstBuffer *buffer = text_buffer ("");
  GstBuffer *copy;
  GstSeqnnTokensMeta *meta;
  gint32 no_ids[1] = { 0 };

  gst_buffer_add_seqnn_tokens_meta (buffer, NULL, 0, no_ids, NULL, -1);
  copy = gst_buffer_copy (buffer);
  meta = gst_buffer_get_seqnn_tokens_meta (copy);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_tokens, 0);
  fail_unless (meta->tokens != NULL && meta->tokens[0] == NULL);
  fail_unless (meta->ids != NULL);
  fail_unless (meta->label == NULL);
  gst_buffer_unref (copy);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

GST_START_TEST (test_metas_have_no_tags)
{
  const gchar *const *tags;

  tags = gst_meta_api_type_get_tags (GST_SEQNN_TOKENS_META_API_TYPE);
  fail_unless (tags == NULL || tags[0] == NULL);
  tags = gst_meta_api_type_get_tags (GST_SEQNN_CLASS_META_API_TYPE);
  fail_unless (tags == NULL || tags[0] == NULL);
  fail_if (gst_meta_api_type_has_tag (GST_SEQNN_TOKENS_META_API_TYPE, GST_META_TAG_MEMORY));
  fail_if (gst_meta_api_type_has_tag (GST_SEQNN_CLASS_META_API_TYPE, GST_META_TAG_MEMORY));
  fail_unless (GST_SEQNN_TOKENS_META_INFO->api == GST_SEQNN_TOKENS_META_API_TYPE);
  fail_unless (GST_SEQNN_CLASS_META_INFO->api == GST_SEQNN_CLASS_META_API_TYPE);
  fail_unless (GST_SEQNN_TOKENS_META_API_TYPE != GST_SEQNN_CLASS_META_API_TYPE);
}

GST_END_TEST;

GST_START_TEST (test_meta_other_transform)
{
  /* A transform that is not a copy (e.g. a video scale) keeps the metas. */
  GstBuffer *buffer = text_buffer ("abc");
  GstBuffer *dest = gst_buffer_new ();
  const gchar *tokens[] = { "abc" };
  const gfloat probs[] = { 0.25f, 0.75f };
  const gchar *labels[] = { "neg", "pos" };
  GQuark other = g_quark_from_static_string ("gst-video-scale");
  GstMeta *meta;

  meta = (GstMeta *) gst_buffer_add_seqnn_tokens_meta (buffer, tokens, 1, NULL, "x", -1);
  fail_unless (meta->info->transform_func (dest, meta, buffer, other, NULL));
  meta = (GstMeta *) gst_buffer_add_seqnn_class_meta (buffer, probs, labels, 2);
  fail_unless (meta->info->transform_func (dest, meta, buffer, other, NULL));
  fail_unless_equals_string (gst_buffer_get_seqnn_tokens_meta (dest)->tokens[0], "abc");
  fail_unless_equals_string (gst_buffer_get_seqnn_class_meta (dest)->label, "pos");
  gst_buffer_unref (dest);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

GST_START_TEST (test_class_meta_add)
{
  GstBuffer *buffer = text_buffer ("Stocks fell sharply");
  gfloat probs[] = { 0.1f, 0.05f, 0.8f, 0.05f };
  const gchar *labels[] = { "World", "Sports", "Business", "Sci/Tech" };
  GstSeqnnClassMeta *meta;

  meta = gst_buffer_add_seqnn_class_meta (buffer, probs, labels, 4);
  probs[2] = 0.0f;
  meta = gst_buffer_get_seqnn_class_meta (buffer);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->class_id, 2);
  fail_unless_equals_string (meta->label, "Business");
  fail_unless_equals_float (meta->confidence, 0.8f);
  fail_unless_equals_int (meta->n_classes, 4);
  fail_unless_equals_float (meta->probabilities[2], 0.8f);
  fail_unless_equals_float (meta->probabilities[3], 0.05f);
  fail_unless_equals_int (g_strv_length (meta->labels), 4);
  fail_unless_equals_string (meta->labels[3], "Sci/Tech");
  fail_unless (gst_buffer_get_seqnn_tokens_meta (buffer) == NULL);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

GST_START_TEST (test_class_meta_argmax)
{
  GstBuffer *buffer;
  GstSeqnnClassMeta *meta;
  const gfloat tie[] = { 0.4f, 0.4f, 0.2f };
  const gfloat with_nan[] = { NAN, 0.3f, 0.7f };
  const gfloat all_nan[] = { NAN, NAN };
  const gchar *labels[] = { "a", "b", "c" };

  /* Ties go to the first maximum, as torch.argmax. */
  buffer = text_buffer ("x");
  meta = gst_buffer_add_seqnn_class_meta (buffer, tie, labels, 3);
  fail_unless_equals_int (meta->class_id, 0);
  fail_unless_equals_string (meta->label, "a");
  gst_buffer_unref (buffer);

  /* A NaN never wins. */
  buffer = text_buffer ("x");
  meta = gst_buffer_add_seqnn_class_meta (buffer, with_nan, labels, 3);
  fail_unless_equals_int (meta->class_id, 2);
  fail_unless_equals_float (meta->confidence, 0.7f);
  gst_buffer_unref (buffer);

  buffer = text_buffer ("x");
  meta = gst_buffer_add_seqnn_class_meta (buffer, all_nan, labels, 2);
  fail_unless_equals_int (meta->class_id, 0);
  gst_buffer_unref (buffer);

  /* No labels: the class is still chosen, the names stay NULL. */
  buffer = text_buffer ("x");
  meta = gst_buffer_add_seqnn_class_meta (buffer, tie + 1, NULL, 2);
  fail_unless_equals_int (meta->class_id, 0);
  fail_unless (meta->label == NULL);
  fail_unless (meta->labels == NULL);
  gst_buffer_unref (buffer);

  /* No classes at all. */
  buffer = text_buffer ("x");
  meta = gst_buffer_add_seqnn_class_meta (buffer, NULL, NULL, 0);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->class_id, -1);
  fail_unless (meta->probabilities == NULL);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

GST_START_TEST (test_class_meta_copy)
{
  GstBuffer *buffer = text_buffer ("Goal in the last minute");
  const gfloat probs[] = { 0.1f, 0.7f, 0.1f, 0.1f };
  const gchar *labels[] = { "World", "Sports", "Business", "Sci/Tech" };
  GstSeqnnClassMeta *meta, *copy_meta;
  GstBuffer *copy;

  meta = gst_buffer_add_seqnn_class_meta (buffer, probs, labels, 4);
  gst_buffer_ref (buffer);
  copy = gst_buffer_make_writable (buffer);
  fail_unless (copy != buffer);
  copy_meta = gst_buffer_get_seqnn_class_meta (copy);
  fail_unless (copy_meta != NULL);
  fail_unless (copy_meta->probabilities != meta->probabilities);
  fail_unless (copy_meta->labels != meta->labels);
  fail_unless_equals_int (copy_meta->class_id, 1);
  fail_unless_equals_string (copy_meta->label, "Sports");
  fail_unless_equals_float (copy_meta->confidence, 0.7f);
  fail_unless_equals_int (copy_meta->n_classes, 4);
  for (guint i = 0; i < 4; i++) {
    fail_unless_equals_float (copy_meta->probabilities[i], probs[i]);
    fail_unless_equals_string (copy_meta->labels[i], labels[i]);
  }
  gst_buffer_unref (copy);

  copy = gst_buffer_copy_region (buffer, GST_BUFFER_COPY_ALL, 5, 2);
  fail_unless (gst_buffer_get_seqnn_class_meta (copy) == NULL);
  gst_buffer_unref (copy);

  /* Both metas on one buffer travel together. */
  {
    const gchar *tokens[] = { "goal" };
    gst_buffer_add_seqnn_tokens_meta (buffer, tokens, 1, NULL, NULL, -1);
  }
  copy = gst_buffer_copy (buffer);
  fail_unless (gst_buffer_get_seqnn_class_meta (copy) != NULL);
  fail_unless (gst_buffer_get_seqnn_tokens_meta (copy) != NULL);
  gst_buffer_unref (copy);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

/* The tokens, ids and label of a meta live in one block, in that order:
 * pointers, ids, label, token bytes; a copy has its own block. */
GST_START_TEST (test_tokens_meta_one_block)
{
  GstBuffer *buffer = text_buffer ("one two");
  const gchar *tokens[] = { "one", "two" };
  const gint32 ids[] = { 4, 5 };
  GstSeqnnTokensMeta *meta, *copy_meta;
  GstBuffer *copy;
  const gchar *start, *end;

  meta = gst_buffer_add_seqnn_tokens_meta (buffer, tokens, 2, ids, "World", 0);
  start = (const gchar *) meta->tokens;
  end = start + 3 * sizeof (gchar *) + 2 * sizeof (gint32) + sizeof "World" + sizeof "one" + sizeof "two";
  fail_unless ((const gchar *) meta->ids == start + 3 * sizeof (gchar *));
  fail_unless (meta->label == (const gchar *) (meta->ids + 2));
  fail_unless (meta->tokens[0] == meta->label + sizeof "World");
  fail_unless (meta->tokens[1] == meta->tokens[0] + sizeof "one");
  fail_unless (meta->tokens[1] + sizeof "two" == end);

  gst_buffer_ref (buffer);
  copy = gst_buffer_make_writable (buffer);
  copy_meta = gst_buffer_get_seqnn_tokens_meta (copy);
  assert_tokens_meta_equal (meta, copy_meta);
  fail_unless (copy_meta->tokens != meta->tokens);
  fail_unless (copy_meta->tokens[0] != meta->tokens[0]);
  gst_buffer_unref (copy);
  gst_buffer_unref (buffer);
}

GST_END_TEST;

/* Metas added with a label block share it (and its names) and keep it alive. */
GST_START_TEST (test_class_meta_shared_labels)
{
  const gchar *names[] = { "World", "Sports", "Business", "Sci/Tech" };
  const gfloat p1[] = { 0.1f, 0.7f, 0.1f, 0.1f }, p2[] = { 0.6f, 0.2f, 0.1f, 0.1f };
  GstSeqnnLabels *labels = gst_seqnn_labels_new (names, 4);
  GstBuffer *a = text_buffer ("a"), *b = text_buffer ("b"), *copy;
  GstSeqnnClassMeta *ma, *mb, *mc;

  fail_unless_equals_int (gst_seqnn_labels_get_n (labels), 4);
  fail_unless_equals_int (g_strv_length ((gchar **) gst_seqnn_labels_get_strv (labels)), 4);
  ma = gst_buffer_add_seqnn_class_meta_with_labels (a, p1, 4, labels);
  mb = gst_buffer_add_seqnn_class_meta_with_labels (b, p2, 4, labels);
  fail_unless ((const gchar *const *) ma->labels == gst_seqnn_labels_get_strv (labels));
  fail_unless (ma->labels == mb->labels);
  fail_unless (ma->label == ma->labels[1]);
  fail_unless_equals_string (mb->label, "World");
  fail_unless_equals_float (mb->confidence, 0.6f);
  fail_unless (ma->probabilities != mb->probabilities);
  /* The metas hold their own references. */
  gst_seqnn_labels_unref (labels);
  fail_unless_equals_string (ma->labels[3], "Sci/Tech");
  fail_unless_equals_string (ma->label, "Sports");

  /* A copy owns its names. */
  gst_buffer_ref (a);
  copy = gst_buffer_make_writable (a);
  mc = gst_buffer_get_seqnn_class_meta (copy);
  fail_unless (mc->labels != ma->labels);
  fail_unless_equals_string (mc->label, "Sports");
  fail_unless_equals_int (mc->class_id, 1);
  gst_buffer_unref (copy);
  gst_buffer_unref (a);
  gst_buffer_unref (b);

  /* No label block: names stay NULL. */
  a = text_buffer ("a");
  ma = gst_buffer_add_seqnn_class_meta_with_labels (a, p1, 4, NULL);
  fail_unless (ma->labels == NULL && ma->label == NULL);
  fail_unless_equals_int (ma->class_id, 1);
  gst_buffer_unref (a);
}

GST_END_TEST;

/* More classes than the meta stores inline. */
GST_START_TEST (test_class_meta_many_classes)
{
  enum { N = 40 };
  gfloat probs[N];
  gchar *names[N + 1];
  GstBuffer *buffer = text_buffer ("x"), *copy;
  GstSeqnnClassMeta *meta, *copy_meta;

  for (guint i = 0; i < N; i++) {
    probs[i] = i == 33 ? 0.5f : 0.5f / (N - 1);
    names[i] = g_strdup_printf ("class%u", i);
  }
  names[N] = NULL;
  meta = gst_buffer_add_seqnn_class_meta (buffer, probs, (const gchar *const *) names, N);
  fail_unless_equals_int (meta->class_id, 33);
  fail_unless_equals_string (meta->label, "class33");
  fail_unless_equals_int (g_strv_length (meta->labels), N);
  copy = gst_buffer_copy (buffer);
  copy_meta = gst_buffer_get_seqnn_class_meta (copy);
  fail_unless (copy_meta->probabilities != meta->probabilities);
  for (guint i = 0; i < N; i++) {
    fail_unless_equals_float (copy_meta->probabilities[i], probs[i]);
    fail_unless_equals_string (copy_meta->labels[i], names[i]);
  }
  gst_buffer_unref (copy);
  gst_buffer_unref (buffer);
  for (guint i = 0; i < N; i++)
    g_free (names[i]);
}

GST_END_TEST;

/* The accessors bindings use return the fields, with their lengths. */
GST_START_TEST (test_meta_accessors)
{
  GstBuffer *buf = gst_buffer_new ();
  const gchar *tokens[] = { "a", "bb" };
  const gint32 ids[] = { 5, 6 };
  const gfloat probs[] = { 0.2f, 0.8f };
  const gchar *labels[] = { "x", "y" };
  GstSeqnnTokensMeta *t;
  GstSeqnnClassMeta *c;
  guint n = 99;

  fail_unless (gst_buffer_get_seqnn_tokens_meta (buf) == NULL);
  fail_unless (gst_buffer_get_seqnn_class_meta (buf) == NULL);
  gst_buffer_add_seqnn_tokens_meta (buf, tokens, 2, ids, "lab", 1);
  gst_buffer_add_seqnn_class_meta (buf, probs, labels, 2);
  t = gst_buffer_get_seqnn_tokens_meta (buf);
  c = gst_buffer_get_seqnn_class_meta (buf);
  fail_unless (t != NULL && c != NULL);
  fail_unless (gst_seqnn_tokens_meta_get_tokens (t) == (const gchar *const *) t->tokens);
  fail_unless_equals_int (g_strv_length ((gchar **) gst_seqnn_tokens_meta_get_tokens (t)), 2);
  fail_unless (gst_seqnn_tokens_meta_get_ids (t, &n) == t->ids);
  fail_unless_equals_int (n, 2);
  fail_unless (gst_seqnn_class_meta_get_probabilities (c, &n) == c->probabilities);
  fail_unless_equals_int (n, 2);
  fail_unless (gst_seqnn_class_meta_get_labels (c) == (const gchar *const *) c->labels);
  fail_unless (gst_seqnn_class_meta_get_probabilities (c, NULL) != NULL);
  gst_buffer_unref (buf);

  /* No vocabulary: no ids, length 0; no names: NULL labels. */
  buf = gst_buffer_new ();
  t = gst_buffer_add_seqnn_tokens_meta (buf, tokens, 2, NULL, NULL, -1);
  c = gst_buffer_add_seqnn_class_meta (buf, probs, NULL, 2);
  n = 99;
  fail_unless (gst_seqnn_tokens_meta_get_ids (t, &n) == NULL);
  fail_unless_equals_int (n, 0);
  fail_unless (gst_seqnn_class_meta_get_labels (c) == NULL);
  fail_unless (G_TYPE_IS_BOXED (GST_SEQNN_TYPE_LABELS));
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* Cue-alone probabilities: absent by default, copied in (inline up to 16
 * classes, on the heap above), carried by a whole copy, removed with NULL. */
GST_START_TEST (test_class_meta_cue_probabilities)
{
  static const guint n_classes_cases[] = { 2, 4, 16, 17, 40 };

  for (guint c = 0; c < G_N_ELEMENTS (n_classes_cases); c++) {
    guint n = n_classes_cases[c], got = 99;
    gfloat *probs = g_new (gfloat, n), *cue = g_new (gfloat, n);
    GstBuffer *buffer = text_buffer ("x"), *copy;
    GstSeqnnClassMeta *meta, *copy_meta;

    for (guint i = 0; i < n; i++) {
      probs[i] = i == 0 ? 0.9f : 0.1f / (n - 1);
      cue[i] = i == n - 1 ? 0.6f : 0.4f / (n - 1);
    }
    meta = gst_buffer_add_seqnn_class_meta (buffer, probs, NULL, n);
    fail_unless (meta->cue_probabilities == NULL);
    fail_unless (gst_seqnn_class_meta_get_cue_probabilities (meta, &got) == NULL);
    fail_unless_equals_int (got, 0);

    gst_seqnn_class_meta_set_cue_probabilities (meta, cue, n);
    cue[n - 1] = 0.0f;    /* copied, not referenced */
    fail_unless (gst_seqnn_class_meta_get_cue_probabilities (meta, &got) == meta->cue_probabilities);
    fail_unless_equals_int (got, n);
    fail_unless_equals_float (meta->cue_probabilities[n - 1], 0.6f);
    fail_unless_equals_float (meta->cue_probabilities[0], 0.4f / (n - 1));
    fail_unless_equals_int (meta->class_id, 0);   /* the decided class stays */

    gst_buffer_ref (buffer);
    copy = gst_buffer_make_writable (buffer);
    copy_meta = gst_buffer_get_seqnn_class_meta (copy);
    fail_unless (copy_meta->cue_probabilities != NULL);
    fail_unless (copy_meta->cue_probabilities != meta->cue_probabilities);
    fail_unless_equals_float (copy_meta->cue_probabilities[n - 1], 0.6f);
    gst_buffer_unref (copy);

    gst_seqnn_class_meta_set_cue_probabilities (meta, NULL, 0);
    fail_unless (meta->cue_probabilities == NULL);
    fail_unless (gst_seqnn_class_meta_get_cue_probabilities (meta, &got) == NULL);
    fail_unless_equals_int (got, 0);
    gst_buffer_unref (buffer);
    g_free (probs);
    g_free (cue);
  }
}

GST_END_TEST;

static Suite *
seqnn_meta_suite (void)
{
  Suite *s = suite_create ("seqnnmeta");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_tokens_meta_add);
  tcase_add_test (tc, test_tokens_meta_empty);
  tcase_add_test (tc, test_tokens_meta_copy);
  tcase_add_test (tc, test_tokens_meta_copy_empty);
  tcase_add_test (tc, test_metas_have_no_tags);
  tcase_add_test (tc, test_meta_other_transform);
  tcase_add_test (tc, test_class_meta_add);
  tcase_add_test (tc, test_class_meta_argmax);
  tcase_add_test (tc, test_class_meta_copy);
  tcase_add_test (tc, test_tokens_meta_one_block);
  tcase_add_test (tc, test_class_meta_shared_labels);
  tcase_add_test (tc, test_class_meta_many_classes);
  tcase_add_test (tc, test_meta_accessors);
  tcase_add_test (tc, test_class_meta_cue_probabilities);
  return s;
}

GST_CHECK_MAIN (seqnn_meta);
