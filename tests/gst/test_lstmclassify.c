/* lstmclassify element tests: GstHarness per case, models made here with libseqnn,
 * results compared with the engine's own inference on the same ids.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <seqnn/seqnn.h>

#include "gstseqnnmeta.h"
#include "seqnn-test-plugins.h"

#define PROB_TOLERANCE 1e-6

static const gchar *const VOCAB[] = {
  "<unk>", "<pad>", "the", "team", "won", "match", "stocks", "fell", "market", "new",
  "chip", "launched", "by", "company", "war", "talks", "in", "city", ".", ",", "&", "!",
};
static const gchar *const NEWS_LABELS[] = { "World", "Sports", "Business", "Sci/Tech", NULL };
static const gchar *const OTHER_LABELS[] = { "Alpha", "Beta", "Gamma", "Delta", NULL };

static const gchar *const TEXTS[] = {
  "the team won the match", "stocks fell in the market .", "new chip launched by the company",
  "war talks in the city", "the company won", "market , market , market !",
  "chip", "unknown words only", "the war", "talks fell by the team .", "company",
  "new new new team", "match in the city", "stocks", "fell", "the the the",
};
#define N_TEXTS G_N_ELEMENTS (TEXTS)

static void load_system_plugins (void);

static gchar *tmp_dir;
static gchar *news_model_path;  /* LSTM, NEWS_LABELS */
static gchar *other_model_path; /* GRU, OTHER_LABELS, another seed */
static SeqnnClassifier *news_classifier;
static SeqnnClassifier *other_classifier;

static SeqnnClassifier *
make_classifier (SeqnnCell cell, const gchar *const *labels, guint64 seed)
{
  SeqnnConfig config;
  SeqnnModel *model;
  SeqnnVocab *vocab;
  SeqnnTokenizerConfig tokenizer;
  SeqnnClassifier *classifier;
  GError *error = NULL;

  seqnn_config_init_default (&config);
  config.cell = cell;
  config.vocab_size = G_N_ELEMENTS (VOCAB);
  config.embed_dim = 8;
  config.hidden_dim = 6;
  model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, seed);
  vocab = seqnn_vocab_new_from_tokens (VOCAB, G_N_ELEMENTS (VOCAB), &error);
  g_assert_no_error (error);
  seqnn_tokenizer_config_init_default (&tokenizer);
  classifier = seqnn_classifier_new (model, vocab, &tokenizer, labels, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab);
  return classifier;
}

static gchar *
save_classifier (SeqnnClassifier *classifier, const gchar *name)
{
  GError *error = NULL;
  gchar *path = g_build_filename (tmp_dir, name, NULL);
  g_assert_true (seqnn_classifier_save (classifier, path, &error));
  g_assert_no_error (error);
  return path;
}

static void
setup_models (void)
{
  GError *error = NULL;
  load_system_plugins ();
  tmp_dir = g_dir_make_tmp ("lstmclassify-XXXXXX", &error);
  g_assert_no_error (error);
  news_classifier = make_classifier (SEQNN_CELL_LSTM, NEWS_LABELS, 7);
  other_classifier = make_classifier (SEQNN_CELL_GRU, OTHER_LABELS, 11);
  news_model_path = save_classifier (news_classifier, "news.model");
  other_model_path = save_classifier (other_classifier, "other.model");
}

static void
teardown_models (void)
{
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  const gchar *name;
  while (dir && (name = g_dir_read_name (dir)) != NULL) {
    gchar *path = g_build_filename (tmp_dir, name, NULL);
    g_unlink (path);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&news_model_path, g_free);
  g_clear_pointer (&other_model_path, g_free);
  g_clear_pointer (&news_classifier, seqnn_classifier_free);
  g_clear_pointer (&other_classifier, seqnn_classifier_free);
}

/* The engine's probabilities for ids alone (a batch of one). */
static void
engine_probs_ids (SeqnnClassifier *classifier, const gint32 *ids, gint length, gfloat *probs)
{
  SeqnnInference *inference = seqnn_inference_new (seqnn_classifier_peek_model (classifier), 1);
  SeqnnBatch batch = { ids, &length, 1, NULL };
  GError *error = NULL;
  g_assert_true (seqnn_inference_run (inference, &batch, probs, NULL, &error));
  g_assert_no_error (error);
  seqnn_inference_free (inference);
}

/* ... and for a text, tokenized as the element must (markup stripped when asked). */
static void
engine_probs_text (SeqnnClassifier *classifier, const gchar *text, gboolean markup, gfloat *probs)
{
  SeqnnTokenizerConfig tokenizer = *seqnn_classifier_get_tokenizer (classifier);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));

  tokenizer.strip_markup = markup;
  seqnn_tokenize (&tokenizer, text, -1, tokens);
  seqnn_vocab_encode (seqnn_classifier_get_vocab (classifier), tokens, ids);
  if (ids->len == 0) {
    gint32 unk = SEQNN_VOCAB_UNK_ID;
    g_array_append_val (ids, unk);
  }
  engine_probs_ids (classifier, (const gint32 *) ids->data, ids->len, probs);
  g_array_free (ids, TRUE);
  seqnn_tokens_free (tokens);
}

static gint
argmax (const gfloat *p, guint n)
{
  gint best = 0;
  for (guint i = 1; i < n; i++)
    if (p[i] > p[best])
      best = i;
  return best;
}

/* The shortest "%.Ng" of value that strtof reads back as value. */
static gchar *
shortest_float (gfloat value)
{
  for (gint precision = 1; precision < 9; precision++) {
    gchar *text = g_strdup_printf ("%.*g", precision, value);
    if (strtof (text, NULL) == value)
      return text;
    g_free (text);
  }
  return g_strdup_printf ("%.9g", value);
}

static GstBuffer *
text_buffer (const gchar *text, GstClockTime pts, GstClockTime duration)
{
  gsize len = strlen (text);
  GstBuffer *buffer = len ? gst_buffer_new_memdup (text, len) : gst_buffer_new ();
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = duration;
  return buffer;
}

static gchar *
buffer_string (GstBuffer *buffer)
{
  GstMapInfo map;
  gchar *s;
  g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
  s = g_strndup ((const gchar *) map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  return s;
}

/* Checks a class meta against the engine's probabilities. */
static void
assert_class_meta (GstBuffer *buffer, SeqnnClassifier *classifier, const gfloat *expected)
{
  GstSeqnnClassMeta *meta = gst_buffer_get_seqnn_class_meta (buffer);
  guint n = seqnn_classifier_get_n_labels (classifier);

  fail_unless (meta != NULL, "buffer without class meta");
  fail_unless_equals_int (meta->n_classes, n);
  for (guint i = 0; i < n; i++) {
    fail_unless (fabsf (meta->probabilities[i] - expected[i]) <= PROB_TOLERANCE,
        "class %u: %g != engine %g", i, meta->probabilities[i], expected[i]);
    fail_unless_equals_string (meta->labels[i], seqnn_classifier_get_label (classifier, i));
  }
  fail_unless_equals_int (meta->class_id, argmax (meta->probabilities, n));
  fail_unless_equals_string (meta->label, seqnn_classifier_get_label (classifier, meta->class_id));
  fail_unless_equals_float (meta->confidence, meta->probabilities[meta->class_id]);
}

static GstElement *
make_element (const gchar *model_path)
{
  GstElement *element = gst_element_factory_make ("lstmclassify", NULL);
  fail_unless (element != NULL, "lstmclassify not found: is GST_PLUGIN_PATH_1_0 set?");
  gst_object_ref_sink (element);
  if (model_path)
    g_object_set (element, "model", model_path, NULL);
  return element;
}

/* The harness every case runs in: lstmclassify's sink fed caps, its
 * source pulled. start_on: on an element the caller keeps; start: on a new
 * one with model_path, which is then h->element (the harness holds it). */
static GstHarness *
start_on (GstElement *element, const gchar *caps)
{
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");

  gst_harness_set_src_caps_str (h, caps);
  return h;
}

static GstHarness *
start (const gchar *model_path, const gchar *caps)
{
  GstElement *element = make_element (model_path);
  GstHarness *h = start_on (element, caps);

  gst_object_unref (element);
  return h;
}

/* Pulls events until EOS; fails when none comes. */
static void
wait_eos (GstHarness *h)
{
  for (;;) {
    GstEvent *event = gst_harness_pull_event (h);
    fail_unless (event != NULL, "no EOS");
    if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
      gst_event_unref (event);
      return;
    }
    gst_event_unref (event);
  }
}

/* The element posts before pushing EOS, so after EOS came out a message is
 * there or never comes: no waiting. */
static GstMessage *
pop_element_message (GstBus *bus, const gchar *name)
{
  for (;;) {
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
    if (msg == NULL)
      return NULL;
    if (gst_message_has_name (msg, name))
      return msg;
    gst_message_unref (msg);
  }
}

/* ---- Batching -------------------------------------------------------------- */

/* Texts pushed one per second (lasting half a second), EOS, and every
 * buffer out in order, its text unchanged, its meta the engine's. */
typedef struct {
  const gchar *caps;        /* sink caps */
  gint batch_size;
  guint n_buffers;          /* texts[i % n_texts] */
  const gchar *out_format;  /* the source caps' format */
} TextsCase;

static void
check_texts (const TextsCase *c, const gchar *const *texts, guint n_texts)
{
  GstHarness *h = start (news_model_path, c->caps);
  gboolean markup = strstr (c->caps, "pango-markup") != NULL;
  GstCaps *caps;

  g_object_set (h->element, "batch-size", c->batch_size, NULL);
  for (guint i = 0; i < c->n_buffers; i++)
    fail_unless_equals_int (gst_harness_push (h, text_buffer (texts[i % n_texts], i * GST_SECOND,
                GST_SECOND / 2)), GST_FLOW_OK);
  gst_harness_push_event (h, gst_event_new_eos ());

  for (guint i = 0; i < c->n_buffers; i++) {
    GstBuffer *out = gst_harness_pull (h);
    gfloat expected[4];
    gchar *text;

    fail_unless (out != NULL, "%s, batch-size %d: buffer %u missing", c->caps, c->batch_size, i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 2);
    text = buffer_string (out);
    fail_unless_equals_string (text, texts[i % n_texts]);
    engine_probs_text (news_classifier, text, markup, expected);
    assert_class_meta (out, news_classifier, expected);
    g_free (text);
    gst_buffer_unref (out);
  }
  wait_eos (h);
  fail_unless (gst_harness_try_pull (h) == NULL);
  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless_equals_string (gst_structure_get_string (gst_caps_get_structure (caps, 0), "format"),
      c->out_format);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

/* Batch sizes 1..5, 2N+k buffers: full batches, then a partial one at EOS. */
static const TextsCase batching_cases[] = {
  { "text/x-raw, format=utf8", 1, 2, "utf8" },
  { "text/x-raw, format=utf8", 2, 5, "utf8" },
  { "text/x-raw, format=utf8", 3, 8, "utf8" },
  { "text/x-raw, format=utf8", 4, 11, "utf8" },
  { "text/x-raw, format=utf8", 5, 14, "utf8" },
};

/* Markup is stripped before tokenizing and kept in the output; text/plain
 * is text without markup and leaves as utf8. */
static const gchar *const MARKUP_TEXTS[] = {
  "<i>the team</i> won &amp; <font color=\"red\">lost</font>", "stocks <b>fell</b>",
  "&lt;new&gt; chip", "  ",
};
static const TextsCase caps_cases[] = {
  { "text/x-raw, format=pango-markup", 3, 7, "pango-markup" },
  { "text/plain", 3, 7, "utf8" },
  { "text/plain", 1, 2, "utf8" },
};

GST_START_TEST (test_batching_order_and_metas)
{
  for (guint k = 0; k < G_N_ELEMENTS (batching_cases); k++)
    check_texts (&batching_cases[k], TEXTS, N_TEXTS);
}

GST_END_TEST;

GST_START_TEST (test_caps_variants)
{
  for (guint k = 0; k < G_N_ELEMENTS (caps_cases); k++)
    check_texts (&caps_cases[k], MARKUP_TEXTS, G_N_ELEMENTS (MARKUP_TEXTS));
}

GST_END_TEST;

GST_START_TEST (test_tokens_meta_ids_and_tokens)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  const gchar *tokens[] = { "the", "team", "zebra", "won" };
  const gint32 ids[] = { 2, 3, 0, 4 };
  gfloat expected[4];
  GstBuffer *in, *out;

  /* Ids win over the text. */
  in = text_buffer ("ignored text", 0, GST_CLOCK_TIME_NONE);
  gst_buffer_add_seqnn_tokens_meta (in, tokens, 4, ids, NULL, -1);
  gst_harness_push (h, in);
  /* Tokens without ids are looked up in the model's vocabulary. */
  in = text_buffer ("ignored text", GST_SECOND, GST_CLOCK_TIME_NONE);
  gst_buffer_add_seqnn_tokens_meta (in, tokens, 4, NULL, NULL, -1);
  gst_harness_push (h, in);
  gst_harness_push_event (h, gst_event_new_eos ());

  engine_probs_ids (news_classifier, ids, 4, expected);
  for (gint i = 0; i < 2; i++) {
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    assert_class_meta (out, news_classifier, expected);
    gst_buffer_unref (out);
  }
  wait_eos (h);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A bag of embeddings with word pairs (word_ngrams 2): the element feeds each
 * record's words, then the pairs its vocabulary holds, exactly as
 * seqnn_classifier_encode does, whether the buffer comes as text, as tokens,
 * or as tokens with ids (ids are words; the pairs are added to them). */
GST_START_TEST (test_word_ngrams)
{
  static const gchar *const pairs[] = {
    "the team", "team won", "won the", "the match", "stocks fell", "the market", "the company",
    "in the", "the city", "new new",
  };
  GPtrArray *tokens = g_ptr_array_new ();
  SeqnnConfig config;
  SeqnnTokenizerConfig tokenizer;
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (VOCAB); i++)
    g_ptr_array_add (tokens, (gpointer) VOCAB[i]);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    g_ptr_array_add (tokens, (gpointer) pairs[i]);
  seqnn_config_init_default (&config);
  config.num_layers = 0;
  config.head = SEQNN_HEAD_MEAN;
  config.vocab_size = (gint) tokens->len;
  config.embed_dim = 8;
  SeqnnModel *model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, 5);
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens ((const gchar *const *) tokens->pdata,
      tokens->len, &error);
  g_assert_no_error (error);
  seqnn_tokenizer_config_init_default (&tokenizer);
  tokenizer.word_ngrams = 2;
  SeqnnClassifier *bag = seqnn_classifier_new (model, vocab, &tokenizer, NEWS_LABELS, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab);
  g_ptr_array_unref (tokens);
  gchar *path = save_classifier (bag, "bag-pairs.model");

  GstHarness *h = start (path, "text/x-raw, format=utf8");
  g_object_set (h->element, "batch-size", 3, NULL);
  for (guint i = 0; i < N_TEXTS; i++)
    gst_harness_push (h, text_buffer (TEXTS[i], i * GST_SECOND, GST_CLOCK_TIME_NONE));
  const gchar *meta_tokens[] = { "the", "team", "won", "the", "match" };
  const gint32 meta_ids[] = { 2, 3, 4, 2, 5 };
  GstBuffer *in = text_buffer ("ignored", N_TEXTS * GST_SECOND, GST_CLOCK_TIME_NONE);
  gst_buffer_add_seqnn_tokens_meta (in, meta_tokens, 5, meta_ids, NULL, -1);
  gst_harness_push (h, in);
  in = text_buffer ("ignored", (N_TEXTS + 1) * GST_SECOND, GST_CLOCK_TIME_NONE);
  gst_buffer_add_seqnn_tokens_meta (in, meta_tokens, 5, NULL, NULL, -1);
  gst_harness_push (h, in);
  gst_harness_push_event (h, gst_event_new_eos ());

  SeqnnTokens *scratch = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < N_TEXTS + 2; i++) {
    const gchar *text = i < N_TEXTS ? TEXTS[i] : "the team won the match";
    gfloat expected[4], words_only[4];
    g_array_set_size (ids, 0);
    seqnn_classifier_encode (bag, text, -1, scratch, ids);
    engine_probs_ids (bag, (const gint32 *) ids->data, (gint) ids->len, expected);
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL, "buffer %u missing", i);
    assert_class_meta (out, bag, expected);
    if (i == 0 || i >= N_TEXTS) { /* four pairs: they must have counted */
      fail_unless_equals_int (ids->len, 9);
      engine_probs_ids (bag, (const gint32 *) ids->data, 5, words_only);
      fail_unless (fabsf (words_only[0] - expected[0]) > 1e-4, "the pairs changed nothing");
    }
    gst_buffer_unref (out);
  }
  wait_eos (h);
  gst_harness_teardown (h);
  g_array_unref (ids);
  seqnn_tokens_free (scratch);
  seqnn_classifier_free (bag);
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

/* Pushes token lists from..to-1 (NULL-terminated) at i seconds: as tokens
 * metas without ids, or as_text joined into the buffers' text. */
static void
push_token_lists (GstHarness *h, const gchar *tokens[][4], guint from, guint to, gboolean as_text)
{
  for (guint i = from; i < to; i++) {
    gchar *text = g_strjoinv (" ", (gchar **) tokens[i]);
    GstBuffer *in = text_buffer (as_text ? text : "ignored", i * GST_SECOND, GST_SECOND);
    if (!as_text)
      gst_buffer_add_seqnn_tokens_meta (in, tokens[i], g_strv_length ((gchar **) tokens[i]), NULL,
          NULL, -1);
    gst_harness_push (h, in);
    g_free (text);
  }
}

/* Pulls n buffers: each the engine's result for its token list. */
static void
pull_token_lists (GstHarness *h, SeqnnClassifier *classifier, const gchar *tokens[][4], guint n)
{
  for (guint i = 0; i < n; i++) {
    GstBuffer *out = gst_harness_pull (h);
    gfloat expected[4];
    gchar *text = g_strjoinv (" ", (gchar **) tokens[i]);
    engine_probs_text (classifier, text, FALSE, expected);
    assert_class_meta (out, classifier, expected);
    gst_buffer_unref (out);
    g_free (text);
  }
}

/* Tokens without ids (and texts without tokens) are looked up when they
 * arrive, with the vocabulary of the latest loaded model; buffers that then
 * run with another model (a swap between arrival and their batch) are looked
 * up again in that model's own. */
GST_START_TEST (test_tokens_looked_up_on_arrival_and_swap)
{
  /* VOCAB with its words in reverse order: the same tokens, other ids. */
  const gchar *reversed[G_N_ELEMENTS (VOCAB)];
  const gsize n_vocab = G_N_ELEMENTS (VOCAB);
  const gchar *tokens[4][4] = {
    { "the", "team", "won", NULL }, { "stocks", "fell", "zebra", NULL },
    { "new", "chip", ".", NULL }, { "war", "in", "city", NULL },
  };
  SeqnnConfig config;
  SeqnnModel *model;
  SeqnnVocab *vocab;
  SeqnnTokenizerConfig tokenizer;
  SeqnnClassifier *reversed_classifier;
  GError *error = NULL;
  gchar *reversed_path;
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;

  reversed[0] = VOCAB[0];
  reversed[1] = VOCAB[1];
  for (gsize k = 2; k < n_vocab; k++)
    reversed[k] = VOCAB[n_vocab + 1 - k];
  seqnn_config_init_default (&config);
  config.vocab_size = n_vocab;
  config.embed_dim = 8;
  config.hidden_dim = 6;
  model = seqnn_model_new (&config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, 5);
  vocab = seqnn_vocab_new_from_tokens (reversed, n_vocab, &error);
  g_assert_no_error (error);
  seqnn_tokenizer_config_init_default (&tokenizer);
  reversed_classifier = seqnn_classifier_new (model, vocab, &tokenizer, OTHER_LABELS, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab);
  reversed_path = save_classifier (reversed_classifier, "reversed.model");

  g_object_set (element, "batch-size", 4, NULL);
  /* A full batch with the first model. */
  push_token_lists (h, tokens, 0, 4, FALSE);
  pull_token_lists (h, news_classifier, tokens, 4);
  /* Two buffers wait for their batch (looked up with the first vocabulary),
   * the model changes, two more complete the batch: all four run with the
   * new model and its vocabulary. */
  push_token_lists (h, tokens, 0, 2, FALSE);
  g_object_set (element, "model", reversed_path, NULL);
  push_token_lists (h, tokens, 2, 4, FALSE);
  pull_token_lists (h, reversed_classifier, tokens, 4);
  /* The same for texts without tokens meta (tokenized on arrival): back to
   * the first model while two of them wait. */
  push_token_lists (h, tokens, 0, 2, TRUE);
  g_object_set (element, "model", news_model_path, NULL);
  push_token_lists (h, tokens, 2, 4, TRUE);
  pull_token_lists (h, news_classifier, tokens, 4);
  /* Queued buffers dropped by a flush release what their lookup held. */
  push_token_lists (h, tokens, 0, 3, FALSE);
  gst_harness_push_event (h, gst_event_new_flush_start ());
  gst_harness_push_event (h, gst_event_new_flush_stop (TRUE));
  gst_harness_teardown (h);
  seqnn_classifier_free (reversed_classifier);
  g_free (reversed_path);
}

GST_END_TEST;

GST_START_TEST (test_no_tokens_and_gap)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  const gint32 unk = SEQNN_VOCAB_UNK_ID;
  gfloat expected[4];
  GstBuffer *gap, *out;

  gst_harness_push (h, text_buffer ("", 0, GST_SECOND));
  gst_harness_push (h, text_buffer ("   \n", GST_SECOND, GST_SECOND));
  gap = gst_buffer_new ();
  GST_BUFFER_FLAG_SET (gap, GST_BUFFER_FLAG_GAP);
  GST_BUFFER_PTS (gap) = 2 * GST_SECOND;
  gst_harness_push (h, gap);
  gst_harness_push (h, text_buffer ("the team", 3 * GST_SECOND, GST_SECOND));
  gst_harness_push_event (h, gst_event_new_eos ());

  /* No tokens: classified as a single <unk>, as training and evaluation do. */
  engine_probs_ids (news_classifier, &unk, 1, expected);
  for (gint i = 0; i < 2; i++) {
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    assert_class_meta (out, news_classifier, expected);
    gst_buffer_unref (out);
  }
  /* An empty GAP buffer passes, in order, without a meta. */
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 2 * GST_SECOND);
  fail_unless (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_GAP));
  fail_unless (gst_buffer_get_seqnn_class_meta (out) == NULL);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  engine_probs_text (news_classifier, "the team", FALSE, expected);
  assert_class_meta (out, news_classifier, expected);
  gst_buffer_unref (out);
  wait_eos (h);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* max-tokens: a record is classified on its first N tokens, from text,
 * tokens or ids; the default is documented as 4096. */
GST_START_TEST (test_max_tokens_cap)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  const gchar *tokens[] = { "the", "team", "won", "the", "match" };
  const gint32 ids[] = { 2, 3, 4, 2, 5 };
  gfloat expected[4], all[4];
  guint max_tokens;
  GstBuffer *in, *out;

  g_object_get (element, "max-tokens", &max_tokens, NULL);
  fail_unless_equals_int (max_tokens, 4096);
  g_object_set (element, "max-tokens", 3, "batch-size", 3, NULL);
  gst_harness_push (h, text_buffer ("the team won the match", 0, GST_SECOND));
  in = text_buffer ("ignored", GST_SECOND, GST_SECOND);
  gst_buffer_add_seqnn_tokens_meta (in, tokens, 5, NULL, NULL, -1);
  gst_harness_push (h, in);
  in = text_buffer ("ignored", 2 * GST_SECOND, GST_SECOND);
  gst_buffer_add_seqnn_tokens_meta (in, tokens, 5, ids, NULL, -1);
  gst_harness_push (h, in);
  engine_probs_ids (news_classifier, ids, 3, expected);
  engine_probs_ids (news_classifier, ids, 5, all);
  fail_unless (fabsf (expected[0] - all[0]) > PROB_TOLERANCE, "the cap would not show");
  for (gint i = 0; i < 3; i++) {
    out = gst_harness_pull (h);
    assert_class_meta (out, news_classifier, expected);
    gst_buffer_unref (out);
  }
  /* 0: the model's setting (no cap here). */
  g_object_set (element, "max-tokens", 0, "batch-size", 1, NULL);
  gst_harness_push (h, text_buffer ("the team won the match", 3 * GST_SECOND, GST_SECOND));
  out = gst_harness_pull (h);
  assert_class_meta (out, news_classifier, all);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* text/plain (pocketsphinx and older elements) is accepted as UTF-8 text
 * without markup and leaves as text/x-raw, format=utf8. */
GST_START_TEST (test_text_plain_caps)
{
  for (gint annotate = 0; annotate < 2; annotate++) {
    GstHarness *h = start (news_model_path, "text/plain");
    GstBuffer *out;
    GstCaps *caps;
    gfloat expected[4];
    gchar *text;

    g_object_set (h->element, "annotate", annotate, NULL);
    fail_unless_equals_int (gst_harness_push (h, text_buffer ("<i>the team</i> won", 0, GST_SECOND)),
        GST_FLOW_OK);
    gst_harness_push_event (h, gst_event_new_eos ());
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    engine_probs_text (news_classifier, "<i>the team</i> won", FALSE, expected);
    assert_class_meta (out, news_classifier, expected);
    text = buffer_string (out);
    fail_unless (annotate == 0 ? strcmp (text, "<i>the team</i> won") == 0
        : g_str_has_prefix (text, "[") && g_str_has_suffix (text, "] <i>the team</i> won"), "%s", text);
    g_free (text);
    caps = gst_pad_get_current_caps (h->sinkpad);
    fail_unless (gst_structure_has_name (gst_caps_get_structure (caps, 0), "text/x-raw"));
    fail_unless_equals_string (gst_structure_get_string (gst_caps_get_structure (caps, 0), "format"),
        "utf8");
    gst_caps_unref (caps);
    gst_buffer_unref (out);
    wait_eos (h);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_pango_markup_input)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=pango-markup");
  const gchar *markup = "<i>the team</i> won &amp; <font color=\"red\">lost</font>";
  gfloat expected[4], plain[4];
  GstBuffer *out;
  gchar *text;

  gst_harness_push (h, text_buffer (markup, 0, GST_SECOND));
  gst_harness_push_event (h, gst_event_new_eos ());
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  engine_probs_text (news_classifier, markup, TRUE, expected);
  engine_probs_text (news_classifier, "the team won & lost", FALSE, plain);
  for (gint i = 0; i < 4; i++)
    fail_unless (fabsf (expected[i] - plain[i]) <= PROB_TOLERANCE);
  assert_class_meta (out, news_classifier, expected);
  text = buffer_string (out);
  fail_unless_equals_string (text, markup); /* content unchanged */
  g_free (text);
  gst_buffer_unref (out);
  wait_eos (h);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- Flush, latency, max-latency ------------------------------------------------ */

GST_START_TEST (test_flush_drops_pending)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstSegment segment;

  g_object_set (element, "batch-size", 4, NULL);
  gst_harness_push (h, text_buffer (TEXTS[0], 0, GST_SECOND));
  gst_harness_push (h, text_buffer (TEXTS[1], GST_SECOND, GST_SECOND));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  for (guint i = 10; i < 15; i++)
    fail_unless_equals_int (gst_harness_push (h, text_buffer (TEXTS[i % N_TEXTS], i * GST_SECOND,
                GST_SECOND)), GST_FLOW_OK);
  gst_harness_push_event (h, gst_event_new_eos ());
  /* Only the buffers after the flush come out. */
  for (guint i = 10; i < 15; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    gst_buffer_unref (out);
  }
  wait_eos (h);
  fail_unless_equals_int (gst_harness_buffers_received (h), 5);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_serialized_events_and_queries_drain)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstQuery *query;
  GstEvent *event;
  gboolean saw_gap = FALSE;

  g_object_set (element, "batch-size", 4, NULL);

  /* A GAP event runs the partial batch, whose buffers leave before it. */
  gst_harness_push (h, text_buffer (TEXTS[0], 0, GST_SECOND));
  gst_harness_push (h, text_buffer (TEXTS[1], GST_SECOND, GST_SECOND));
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (2 * GST_SECOND, GST_SECOND)));
  for (guint i = 0; i < 2; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL, "the GAP event did not drain the batch");
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    gst_buffer_unref (out);
  }
  while (!saw_gap && (event = gst_harness_pull_event (h)) != NULL) {
    saw_gap = GST_EVENT_TYPE (event) == GST_EVENT_GAP;
    gst_event_unref (event);
  }
  fail_unless (saw_gap);

  /* A serialized query returns only once everything before it is out. */
  gst_harness_push (h, text_buffer (TEXTS[2], 3 * GST_SECOND, GST_SECOND));
  query = gst_query_new_drain ();
  gst_pad_peer_query (h->srcpad, query);
  gst_query_unref (query);
  fail_unless_equals_int (gst_harness_buffers_received (h), 3);

  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstBus *bus = gst_bus_new ();
  GstQuery *query;
  GstMessage *msg;
  gboolean live;
  GstClockTime min, max;

  gst_element_set_bus (element, bus);
  g_object_set (element, "max-latency", (guint64) (50 * GST_MSECOND), NULL);
  gst_harness_set_upstream_latency (h, 10 * GST_MSECOND);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 60 * GST_MSECOND);

  query = gst_query_new_latency ();
  fail_unless (gst_pad_peer_query (h->sinkpad, query));
  gst_query_parse_latency (query, &live, &min, &max);
  fail_unless_equals_uint64 (min, 60 * GST_MSECOND);
  fail_unless (max == GST_CLOCK_TIME_NONE || max >= 60 * GST_MSECOND);
  gst_query_unref (query);

  /* Changed while playing: a LATENCY message, and the query follows. */
  gst_bus_set_flushing (bus, TRUE); /* drop the messages so far */
  gst_bus_set_flushing (bus, FALSE);
  g_object_set (element, "max-latency", (guint64) (200 * GST_MSECOND), NULL);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_LATENCY);
  fail_unless (msg != NULL, "no latency message");
  gst_message_unref (msg);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 210 * GST_MSECOND);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_max_latency_partial_batch)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstTestClock *clock;

  g_object_set (element, "batch-size", 8, "max-latency", (guint64) (100 * GST_MSECOND), NULL);
  gst_harness_use_testclock (h);
  clock = gst_harness_get_testclock (h);

  for (guint i = 0; i < 3; i++)
    gst_harness_push (h, text_buffer (TEXTS[i], i * GST_SECOND, GST_SECOND));
  /* The partial batch waits on the clock for the oldest buffer's deadline. */
  gst_test_clock_wait_for_next_pending_id (clock, NULL);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless (gst_harness_crank_single_clock_wait (h));
  fail_unless_equals_uint64 (gst_clock_get_time (GST_CLOCK (clock)), 100 * GST_MSECOND);
  for (guint i = 0; i < 3; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    fail_unless (gst_buffer_get_seqnn_class_meta (out) != NULL);
    gst_buffer_unref (out);
  }
  /* A full batch does not wait. */
  for (guint i = 3; i < 11; i++)
    gst_harness_push (h, text_buffer (TEXTS[i], i * GST_SECOND, GST_SECOND));
  for (guint i = 3; i < 11; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    gst_buffer_unref (out);
  }
  gst_object_unref (clock);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_max_latency_without_clock)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;

  /* No clock on the element: the wait falls back to the monotonic clock. */
  g_object_set (element, "batch-size", 8, "max-latency", (guint64) (20 * GST_MSECOND), NULL);
  gst_element_set_clock (element, NULL);
  fail_unless (GST_ELEMENT_CLOCK (element) == NULL);
  for (guint i = 0; i < 2; i++)
    gst_harness_push (h, text_buffer (TEXTS[i], i * GST_SECOND, GST_SECOND));
  /* No EOS, no full batch: only the deadline lets these out. */
  for (guint i = 0; i < 2; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL, "partial batch never ran");
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- Annotations and messages ------------------------------------------------ */

GST_START_TEST (test_annotate_prefix)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  gfloat expected[4];
  GstBuffer *out;
  gchar *text, *want, conf[G_ASCII_DTOSTR_BUF_SIZE];
  gint cls;

  g_object_set (element, "annotate", 1 /* prefix */, NULL);
  gst_harness_push (h, text_buffer (TEXTS[0], 0, GST_SECOND));
  gst_harness_push_event (h, gst_event_new_eos ());
  out = gst_harness_pull (h);
  engine_probs_text (news_classifier, TEXTS[0], FALSE, expected);
  cls = argmax (expected, 4);
  g_ascii_formatd (conf, sizeof conf, "%.2f", expected[cls]);
  want = g_strdup_printf ("[%s %s] %s", NEWS_LABELS[cls], conf, TEXTS[0]);
  text = buffer_string (out);
  fail_unless_equals_string (text, want);
  assert_class_meta (out, news_classifier, expected);
  g_free (text);
  g_free (want);
  gst_buffer_unref (out);
  wait_eos (h);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_annotate_prefix_markup)
{
  static const gchar *const labels[] = { "Q&A", "<b>", "x", "y", NULL };
  SeqnnClassifier *classifier = make_classifier (SEQNN_CELL_RNN_TANH, labels, 3);
  gchar *path = save_classifier (classifier, "markup.model");
  GstHarness *h = start (path, "text/x-raw, format=pango-markup");
  GstElement *element = h->element;
  const gchar *markup = "<i>the team</i> won";
  gfloat expected[4];
  GstBuffer *out;
  gchar *text, *want, *escaped, conf[G_ASCII_DTOSTR_BUF_SIZE];
  gint cls;

  g_object_set (element, "annotate", 1 /* prefix */, NULL);
  gst_harness_push (h, text_buffer (markup, 0, GST_SECOND));
  gst_harness_push_event (h, gst_event_new_eos ());
  out = gst_harness_pull (h);
  engine_probs_text (classifier, markup, TRUE, expected);
  cls = argmax (expected, 4);
  g_ascii_formatd (conf, sizeof conf, "%.2f", expected[cls]);
  /* The label is escaped, the markup kept: the output is still pango-markup. */
  escaped = g_markup_escape_text (labels[cls], -1);
  want = g_strdup_printf ("[%s %s] %s", escaped, conf, markup);
  text = buffer_string (out);
  fail_unless_equals_string (text, want);
  g_free (text);
  g_free (want);
  g_free (escaped);
  gst_buffer_unref (out);
  wait_eos (h);
  gst_harness_teardown (h);
  g_unlink (path);
  g_free (path);
  seqnn_classifier_free (classifier);
}

GST_END_TEST;

GST_START_TEST (test_annotate_json)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=pango-markup");
  GstElement *element = h->element;
  const gchar *text_in = "<b>stocks</b> fell \"hard\" &amp; &lt;more&gt; in the market\n";
  const gchar *tokens[] = { "stocks", "fell", "hard", "in", "the", "market" };
  gfloat expected[4];
  GstBuffer *in, *out;
  GstCaps *caps;
  gchar *line;
  JsonParser *parser;
  JsonObject *obj;
  JsonArray *probs;
  GError *error = NULL;
  gint cls;

  g_object_set (element, "annotate", 2 /* json */, NULL);
  in = text_buffer (text_in, 5 * GST_SECOND, GST_CLOCK_TIME_NONE);
  gst_buffer_add_seqnn_tokens_meta (in, tokens, G_N_ELEMENTS (tokens), NULL, "Business", 2);
  gst_harness_push (h, in);
  gst_harness_push_event (h, gst_event_new_eos ());
  out = gst_harness_pull (h);
  fail_unless (out != NULL);

  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (caps, 0), "text/x-raw"));
  fail_unless_equals_string (gst_structure_get_string (gst_caps_get_structure (caps, 0), "format"),
      "utf8");
  gst_caps_unref (caps);

  line = buffer_string (out);
  fail_unless (g_str_has_suffix (line, "}\n"), "not one line: %s", line);
  fail_unless (strchr (line, '\n') == line + strlen (line) - 1);
  parser = json_parser_new ();
  fail_unless (json_parser_load_from_data (parser, line, -1, &error), "bad json: %s", line);
  g_assert_no_error (error);
  obj = json_node_get_object (json_parser_get_root (parser));

  {
    gint32 ids[G_N_ELEMENTS (tokens)];
    for (guint i = 0; i < G_N_ELEMENTS (tokens); i++)
      ids[i] = seqnn_vocab_lookup (seqnn_classifier_get_vocab (news_classifier), tokens[i], -1);
    engine_probs_ids (news_classifier, ids, G_N_ELEMENTS (tokens), expected);
  }
  cls = argmax (expected, 4);
  fail_unless_equals_int64 (json_object_get_int_member (obj, "pts"), 5 * GST_SECOND);
  fail_unless (json_object_get_null_member (obj, "duration"));
  fail_unless_equals_string (json_object_get_string_member (obj, "label"), NEWS_LABELS[cls]);
  fail_unless_equals_int (json_object_get_int_member (obj, "class-id"), cls);
  fail_unless (fabs (json_object_get_double_member (obj, "confidence") - expected[cls]) <= PROB_TOLERANCE);
  probs = json_object_get_array_member (obj, "probabilities");
  fail_unless_equals_int (json_array_get_length (probs), 4);
  for (guint i = 0; i < 4; i++)
    fail_unless (fabs (json_array_get_double_element (probs, i) - expected[i]) <= PROB_TOLERANCE);
  /* plain text: markup stripped, entities decoded */
  fail_unless_equals_string (json_object_get_string_member (obj, "text"),
      "stocks fell \"hard\" & <more> in the market\n");
  fail_unless_equals_string (json_object_get_string_member (obj, "true-label"), "Business");
  fail_unless_equals_int (json_object_get_size (obj), 8);
  assert_class_meta (out, news_classifier, expected);
  /* Numbers as the shortest decimals that read back as the meta's floats. */
  {
    GstSeqnnClassMeta *meta = gst_buffer_get_seqnn_class_meta (out);
    gchar *want = shortest_float (meta->confidence);
    gchar *key = g_strdup_printf ("\"confidence\":%s,", want);
    fail_unless (strstr (line, key) != NULL, "%s not in %s", key, line);
    g_free (key);
    g_free (want);
    for (guint i = 0; i < 4; i++) {
      want = shortest_float (meta->probabilities[i]);
      fail_unless (strstr (line, want) != NULL, "%s not in %s", want, line);
      fail_unless ((gfloat) json_array_get_double_element (probs, i) == meta->probabilities[i]);
      g_free (want);
    }
  }

  g_object_unref (parser);
  g_free (line);
  gst_buffer_unref (out);
  wait_eos (h);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_post_messages)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  const GstStructure *s;
  const GValue *probs;
  GstClockTime pts, duration;
  gfloat expected[4];
  gdouble confidence;
  gint cls, class_id;

  gst_element_set_bus (element, bus);
  g_object_set (element, "post-messages", TRUE, NULL);
  gst_harness_push (h, text_buffer (TEXTS[2], 3 * GST_SECOND, 2 * GST_SECOND));
  gst_harness_push_event (h, gst_event_new_eos ());
  gst_buffer_unref (gst_harness_pull (h));
  wait_eos (h);

  msg = pop_element_message (bus, "lstmclassify");
  fail_unless (msg != NULL, "no lstmclassify message");
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (element));
  s = gst_message_get_structure (msg);
  engine_probs_text (news_classifier, TEXTS[2], FALSE, expected);
  cls = argmax (expected, 4);
  fail_unless (gst_structure_get_clock_time (s, "pts", &pts));
  fail_unless (gst_structure_get_clock_time (s, "duration", &duration));
  fail_unless_equals_uint64 (pts, 3 * GST_SECOND);
  fail_unless_equals_uint64 (duration, 2 * GST_SECOND);
  fail_unless_equals_string (gst_structure_get_string (s, "label"), NEWS_LABELS[cls]);
  fail_unless (gst_structure_get_int (s, "class-id", &class_id));
  fail_unless_equals_int (class_id, cls);
  fail_unless (gst_structure_get_double (s, "confidence", &confidence));
  fail_unless (fabs (confidence - expected[cls]) <= PROB_TOLERANCE);
  {
    /* the double of the float's shortest decimal (Python prints 0.969373) */
    gchar *shortest = shortest_float ((gfloat) confidence);
    fail_unless (confidence == g_ascii_strtod (shortest, NULL), "%.17g", confidence);
    g_free (shortest);
  }
  probs = gst_structure_get_value (s, "probabilities");
  fail_unless (GST_VALUE_HOLDS_ARRAY (probs));
  fail_unless_equals_int (gst_value_array_get_size (probs), 4);
  for (guint i = 0; i < 4; i++)
    fail_unless (fabs (g_value_get_double (gst_value_array_get_value (probs, i)) - expected[i])
        <= PROB_TOLERANCE);
  fail_unless_equals_string (gst_structure_get_string (s, "text"), TEXTS[2]);
  fail_unless (!gst_structure_has_field (s, "true-label"));
  gst_message_unref (msg);
  /* Without labels in the input there is no summary. */
  fail_unless (pop_element_message (bus, "lstmclassify-summary") == NULL);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_eos_summary)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  const GstStructure *s;
  const GValue *rows;
  guint64 confusion[4][4] = { { 0 } }, count, n_labelled = 0, n_correct = 0;
  gdouble accuracy;

  gst_element_set_bus (element, bus);
  g_object_set (element, "batch-size", 3, NULL);
  for (guint i = 0; i < N_TEXTS; i++) {
    GstBuffer *in = text_buffer (TEXTS[i], i * GST_SECOND, GST_SECOND);
    SeqnnTokens *tokens = seqnn_tokens_new ();
    const gchar **strv = g_new0 (const gchar *, 64);
    gint true_label = i % 4;
    gfloat expected[4];

    seqnn_tokenize (seqnn_classifier_get_tokenizer (news_classifier), TEXTS[i], -1, tokens);
    for (guint t = 0; t < seqnn_tokens_get_n (tokens); t++)
      strv[t] = seqnn_tokens_get (tokens, t);
    gboolean counted = i % 5 != 4 && i % 7 != 6;
    if (i % 5 == 4) {
      /* unlabelled: not counted */
      gst_buffer_add_seqnn_tokens_meta (in, strv, seqnn_tokens_get_n (tokens), NULL, NULL, -1);
    } else if (i % 7 == 6) {
      /* a name the model lacks, with an id from another label set: not counted */
      gst_buffer_add_seqnn_tokens_meta (in, strv, seqnn_tokens_get_n (tokens), NULL, "0",
          true_label);
    } else if (i % 2 == 0) {
      /* by name only */
      gst_buffer_add_seqnn_tokens_meta (in, strv, seqnn_tokens_get_n (tokens), NULL,
          NEWS_LABELS[true_label], -1);
    } else {
      /* by id only */
      gst_buffer_add_seqnn_tokens_meta (in, strv, seqnn_tokens_get_n (tokens), NULL, NULL,
          true_label);
    }
    if (counted) {
      engine_probs_text (news_classifier, TEXTS[i], FALSE, expected);
      confusion[true_label][argmax (expected, 4)]++;
      n_labelled++;
      n_correct += argmax (expected, 4) == true_label;
    }
    g_free (strv);
    seqnn_tokens_free (tokens);
    gst_harness_push (h, in);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  for (guint i = 0; i < N_TEXTS; i++)
    gst_buffer_unref (gst_harness_pull (h));
  wait_eos (h);

  msg = pop_element_message (bus, "lstmclassify-summary");
  fail_unless (msg != NULL, "no summary");
  s = gst_message_get_structure (msg);
  fail_unless (gst_structure_get_uint64 (s, "count", &count));
  fail_unless_equals_uint64 (count, n_labelled);
  fail_unless (gst_structure_get_double (s, "accuracy", &accuracy));
  fail_unless (fabs (accuracy - (gdouble) n_correct / n_labelled) < 1e-12);
  rows = gst_structure_get_value (s, "confusion");
  fail_unless_equals_int (gst_value_array_get_size (rows), 4);
  for (guint t = 0; t < 4; t++) {
    const GValue *row = gst_value_array_get_value (rows, t);
    fail_unless_equals_int (gst_value_array_get_size (row), 4);
    for (guint p = 0; p < 4; p++)
      fail_unless_equals_uint64 (g_value_get_uint64 (gst_value_array_get_value (row, p)),
          confusion[t][p]);
  }
  for (guint c = 0; c < 4; c++) {
    guint64 tp = confusion[c][c], predicted = 0, actual = 0;
    gdouble precision, recall;
    for (guint k = 0; k < 4; k++) {
      predicted += confusion[k][c];
      actual += confusion[c][k];
    }
    precision = predicted ? (gdouble) tp / predicted : 0.0;
    recall = actual ? (gdouble) tp / actual : 0.0;
    fail_unless (fabs (g_value_get_double (gst_value_array_get_value (gst_structure_get_value (s,
                        "precision"), c)) - precision) < 1e-12);
    fail_unless (fabs (g_value_get_double (gst_value_array_get_value (gst_structure_get_value (s,
                        "recall"), c)) - recall) < 1e-12);
  }
  fail_unless_equals_string (g_value_get_string (gst_value_array_get_value (gst_structure_get_value
              (s, "labels"), 3)), "Sci/Tech");
  gst_message_unref (msg);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GST_END_TEST;

/* ---- Model swap ------------------------------------------------------------- */

GST_START_TEST (test_model_swap_while_playing)
{
  GstElement *element = make_element (news_model_path);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstMessage *msg;
  gchar *path, *missing;
  guint i;

  gst_element_set_bus (element, bus);
  g_object_set (element, "batch-size", 4, NULL);
  h = start_on (element, "text/x-raw, format=utf8");

  /* A full batch with the first model. */
  for (i = 0; i < 4; i++)
    gst_harness_push (h, text_buffer (TEXTS[i], i * GST_SECOND, GST_SECOND));
  for (i = 0; i < 4; i++) {
    GstBuffer *out = gst_harness_pull (h);
    gfloat expected[4];
    engine_probs_text (news_classifier, TEXTS[i], FALSE, expected);
    assert_class_meta (out, news_classifier, expected);
    gst_buffer_unref (out);
  }

  /* A file that does not load: a warning, the old model stays. */
  missing = g_build_filename (tmp_dir, "missing.model", NULL);
  g_object_set (element, "model", missing, NULL);
  msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning for a bad model");
  gst_message_unref (msg);
  g_object_get (element, "model", &path, NULL);
  fail_unless_equals_string (path, news_model_path);
  g_free (path);
  g_free (missing);

  /* Two buffers queued (a partial batch), then the swap, then more: every
   * buffer out, in order; those after the swap carry the new labels. */
  gst_harness_push (h, text_buffer (TEXTS[4], 4 * GST_SECOND, GST_SECOND));
  gst_harness_push (h, text_buffer (TEXTS[5], 5 * GST_SECOND, GST_SECOND));
  g_object_set (element, "model", other_model_path, NULL);
  for (i = 6; i < 11; i++)
    gst_harness_push (h, text_buffer (TEXTS[i], i * GST_SECOND, GST_SECOND));
  gst_harness_push_event (h, gst_event_new_eos ());
  for (i = 4; i < 11; i++) {
    GstBuffer *out = gst_harness_pull (h);
    GstSeqnnClassMeta *meta;
    fail_unless (out != NULL, "buffer %u lost", i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
    meta = gst_buffer_get_seqnn_class_meta (out);
    fail_unless (meta != NULL);
    if (i >= 6) {
      gfloat expected[4];
      engine_probs_text (other_classifier, TEXTS[i], FALSE, expected);
      assert_class_meta (out, other_classifier, expected);
    } else {
      /* queued before the swap, batch not complete: either model, whole batch */
      fail_unless (g_strv_contains (NEWS_LABELS, meta->label)
          || g_strv_contains (OTHER_LABELS, meta->label));
    }
    gst_buffer_unref (out);
  }
  wait_eos (h);
  g_object_get (element, "model", &path, NULL);
  fail_unless_equals_string (path, other_model_path);
  g_free (path);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (element);
}

GST_END_TEST;

/* ---- Errors ------------------------------------------------------------------ */

static void
assert_ready_fails (const gchar *model_path, GQuark domain, gint code, const gchar *in_message)
{
  GstElement *element = make_element (model_path);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *error = NULL;

  gst_element_set_bus (element, bus);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_READY),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (error->domain == domain && error->code == code, "error %s %d: %s",
      g_quark_to_string (error->domain), error->code, error->message);
  fail_unless (strstr (error->message, in_message) != NULL, "message '%s' lacks '%s'",
      error->message, in_message);
  g_error_free (error);
  gst_message_unref (msg);
  gst_element_set_state (element, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (element);
}

GST_START_TEST (test_error_missing_model)
{
  gchar *missing = g_build_filename (tmp_dir, "nope.model", NULL);
  assert_ready_fails (missing, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "nope.model");
  assert_ready_fails (NULL, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "No model");
  g_free (missing);
}

GST_END_TEST;

GST_START_TEST (test_error_damaged_model)
{
  gchar *contents, *damaged = g_build_filename (tmp_dir, "damaged.model", NULL);
  gsize len;

  fail_unless (g_file_get_contents (news_model_path, &contents, &len, NULL));
  /* Truncated: the tensors run past the end. */
  fail_unless (g_file_set_contents (damaged, contents, len / 2, NULL));
  assert_ready_fails (damaged, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ, "damaged.model");
  /* Garbage. */
  fail_unless (g_file_set_contents (damaged, "not a model at all", -1, NULL));
  assert_ready_fails (damaged, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ, "damaged.model");
  g_free (contents);
  g_unlink (damaged);
  g_free (damaged);
}

GST_END_TEST;

GST_START_TEST (test_error_wrong_caps)
{
  GstElement *element = make_element (news_model_path);
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");

  gst_harness_set_src_caps_str (h, "audio/x-raw, format=S16LE, rate=8000, channels=1");
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_allocate (NULL, 16, NULL)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
  gst_object_unref (element);
}

GST_END_TEST;

GST_START_TEST (test_error_ids_out_of_range)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstBus *bus = gst_bus_new ();
  const gchar *tokens[] = { "the", "far" };
  const gint32 ids[] = { 2, 5000 };
  GstMessage *msg;
  GError *error = NULL;
  GstBuffer *in;
  GstFlowReturn ret = GST_FLOW_OK;

  gst_element_set_bus (element, bus);
  g_object_set (element, "batch-size", 2, NULL);
  gst_harness_push (h, text_buffer ("the team", 0, GST_SECOND));
  in = text_buffer ("the far", GST_SECOND, GST_SECOND);
  gst_buffer_add_seqnn_tokens_meta (in, tokens, 2, ids, NULL, -1);
  gst_harness_push (h, in);

  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error for an id outside the vocabulary");
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (error->domain == GST_STREAM_ERROR);
  fail_unless (strstr (error->message, "buffer 1") != NULL, "message: %s", error->message);
  fail_unless (strstr (error->message, "5000") != NULL, "message: %s", error->message);
  g_error_free (error);
  gst_message_unref (msg);
  /* Upstream learns it too. */
  for (gint i = 0; i < 100 && ret == GST_FLOW_OK; i++)
    ret = gst_harness_push (h, text_buffer ("the", (2 + i) * GST_SECOND, GST_SECOND));
  fail_unless_equals_int (ret, GST_FLOW_ERROR);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_error_ids_from_other_vocabulary)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstBus *bus = gst_bus_new ();
  const gchar *tokens[] = { "the", "team" };
  const gint32 ids[] = { 3, 2 }; /* in range, but swapped */
  GstMessage *msg;
  GError *error = NULL;
  GstBuffer *in;

  gst_element_set_bus (element, bus);
  in = text_buffer ("the team", 0, GST_SECOND);
  gst_buffer_add_seqnn_tokens_meta (in, tokens, 2, ids, NULL, -1);
  gst_harness_push (h, in);
  gst_harness_push_event (h, gst_event_new_eos ());
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error for ids of another vocabulary");
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (strstr (error->message, "buffer 0") != NULL, "message: %s", error->message);
  fail_unless (strstr (error->message, "another vocabulary") != NULL, "message: %s", error->message);
  g_error_free (error);
  gst_message_unref (msg);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GST_END_TEST;

/* ---- Life cycle ------------------------------------------------------------ */

GST_START_TEST (test_repeated_states_and_instances)
{
  GstElement *a = make_element (news_model_path), *b = make_element (other_model_path);

  for (gint round = 0; round < 3; round++) {
    fail_unless_equals_int (gst_element_set_state (a, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (b, GST_STATE_PAUSED), GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (a, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (b, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (a, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  }
  /* Both still classify after all that, side by side. */
  for (gint round = 0; round < 2; round++) {
    GstHarness *ha = start_on (a, "text/x-raw, format=utf8");
    GstHarness *hb = start_on (b, "text/x-raw, format=utf8");
    GstBuffer *out;
    gfloat expected[4];

    g_object_set (a, "batch-size", 1, NULL);
    g_object_set (b, "batch-size", 1, NULL);
    gst_harness_push (ha, text_buffer (TEXTS[3], 0, GST_SECOND));
    gst_harness_push (hb, text_buffer (TEXTS[3], 0, GST_SECOND));
    out = gst_harness_pull (ha);
    engine_probs_text (news_classifier, TEXTS[3], FALSE, expected);
    assert_class_meta (out, news_classifier, expected);
    gst_buffer_unref (out);
    out = gst_harness_pull (hb);
    engine_probs_text (other_classifier, TEXTS[3], FALSE, expected);
    assert_class_meta (out, other_classifier, expected);
    gst_buffer_unref (out);
    gst_harness_teardown (ha);
    gst_harness_teardown (hb);
  }
  gst_object_unref (a);
  gst_object_unref (b);
}

GST_END_TEST;

/* ---- Real data through whole pipelines -------------------------------------- */

static gboolean have_pipeline_plugins;

/* The test environment hides the system plugins; load the two the pipelines need. */
static void
load_system_plugins (void)
{
  static const gchar *const names[] = { "coreelements", "subparse", NULL };

  have_pipeline_plugins = seqnn_test_load_system_plugins (names);
}

static gchar *
shared_data_path (const gchar *relative)
{
  const gchar *root = g_getenv ("SEQNN_SHARED_DATA");
  gchar *path;

  if (root == NULL) {
    g_printerr ("SEQNN_SHARED_DATA not set: skipping the test on %s\n", relative);
    return NULL;
  }
  path = g_build_filename (root, relative, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_printerr ("%s missing: skipping that test\n", path);
    g_free (path);
    return NULL;
  }
  return path;
}

static void
collect_buffer (GstElement *sink, GstBuffer *buffer, GstPad *pad, gpointer user_data)
{
  g_ptr_array_add (user_data, gst_buffer_ref (buffer));
}

/* Runs a launch line ending in "fakesink name=sink" to EOS; returns the
 * buffers the sink got and, in summary, the lstmclassify-summary if any. */
static GPtrArray *
run_pipeline (const gchar *launch, GstStructure **summary)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (launch, &error);
  GPtrArray *buffers = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  GstElement *sink;
  GstBus *bus;
  gboolean done = FALSE;

  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "signal-handoffs", TRUE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (collect_buffer), buffers);
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  if (summary)
    *summary = NULL;
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "pipeline stalled: %s", launch);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *debug = NULL;
      gst_message_parse_error (msg, &err, &debug);
      fail ("pipeline error: %s (%s)", err->message, debug);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      done = TRUE;
    } else if (summary && gst_message_has_name (msg, "lstmclassify-summary")) {
      *summary = gst_structure_copy (gst_message_get_structure (msg));
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return buffers;
}

GST_START_TEST (test_pipeline_subtitles)
{
  gchar *srt = shared_data_path ("subtitles/sintel_en.srt"), *launch;
  GPtrArray *buffers;

  if (srt == NULL || !have_pipeline_plugins) {
    g_free (srt);
    return;
  }
  /* subparse's regular expressions run as PCRE2 JIT code, whose reads valgrind
   * reports as uninitialised: the same path is covered by the markup test. */
  if (g_getenv ("SEQNN_UNDER_VALGRIND") != NULL) {
    g_printerr ("SKIP test_pipeline_subtitles under valgrind (PCRE2 JIT in subparse)\n");
    g_free (srt);
    return;
  }
  /* subparse gives pango-markup, one cue per buffer: markup is stripped
   * before tokenizing, the text itself is left alone. */
  launch = g_strdup_printf ("filesrc location=\"%s\" ! subparse ! lstmclassify model=\"%s\" "
      "batch-size=7 ! fakesink name=sink", srt, news_model_path);
  buffers = run_pipeline (launch, NULL);
  fail_unless (buffers->len >= 20, "only %u cues", buffers->len);
  for (guint i = 0; i < buffers->len; i++) {
    GstBuffer *buffer = g_ptr_array_index (buffers, i);
    gchar *text = buffer_string (buffer);
    gfloat expected[4];

    engine_probs_text (news_classifier, text, TRUE, expected);
    assert_class_meta (buffer, news_classifier, expected);
    if (i > 0)
      fail_unless (GST_BUFFER_PTS (buffer) >= GST_BUFFER_PTS (g_ptr_array_index (buffers, i - 1)));
    g_free (text);
  }
  g_ptr_array_unref (buffers);
  g_free (launch);
  g_free (srt);
}

GST_END_TEST;

GST_START_TEST (test_pipeline_dev_csv_summary)
{
  gchar *dev = shared_data_path ("agnews/dev.csv"), *contents, *launch, *part;
  gsize len, n_rows = g_getenv ("SEQNN_UNDER_VALGRIND") ? 200 : 4000, cut = 0, rows = 0;
  GstStructure *summary;
  GPtrArray *buffers;
  SeqnnDataset *dataset;
  SeqnnReadOptions options;
  SeqnnLabelSet *label_set;
  SeqnnInference *inference;
  guint64 confusion[4][4] = { { 0 } }, count;
  const GValue *matrix;
  GError *error = NULL;

  if (dev == NULL || !have_pipeline_plugins) {
    g_free (dev);
    return;
  }
  /* The first rows, in a temporary file. */
  fail_unless (g_file_get_contents (dev, &contents, &len, NULL));
  while (cut < len && rows < n_rows) {
    const gchar *nl = memchr (contents + cut, '\n', len - cut);
    cut = nl ? (gsize) (nl - contents) + 1 : len;
    rows++;
  }
  part = g_build_filename (tmp_dir, "dev-part.csv", NULL);
  fail_unless (g_file_set_contents (part, contents, cut, NULL));
  g_free (contents);

  /* The element's counts... */
  launch = g_strdup_printf ("filesrc location=\"%s\" ! seqtokenize format=csv model=\"%s\" "
      "! lstmclassify model=\"%s\" ! fakesink name=sink", part, news_model_path, news_model_path);
  buffers = run_pipeline (launch, &summary);
  fail_unless_equals_int (buffers->len, rows);
  fail_unless (summary != NULL, "no summary");

  /* ... against the engine on the library's own reading of the same rows. */
  dataset = seqnn_dataset_new ();
  seqnn_read_options_init_default (&options, SEQNN_FORMAT_CSV);
  options.tokenizer = *seqnn_classifier_get_tokenizer (news_classifier);
  label_set = seqnn_label_set_new_from_strv (NEWS_LABELS);
  fail_unless (seqnn_dataset_read_file (dataset, part, &options, label_set, NULL, &error));
  g_assert_no_error (error);
  seqnn_dataset_apply_vocab (dataset, seqnn_classifier_get_vocab (news_classifier));
  fail_unless_equals_int (seqnn_dataset_get_size (dataset), rows);
  inference = seqnn_inference_new (seqnn_classifier_peek_model (news_classifier), 1);
  for (gsize i = 0; i < rows; i++) {
    const gint32 *ids;
    const gint32 unk = SEQNN_VOCAB_UNK_ID;
    gint length, label;
    gfloat probs[4];
    SeqnnBatch batch = { NULL, &length, 1, NULL };

    seqnn_dataset_get (dataset, i, &ids, &length, &label);
    if (length == 0) {
      ids = &unk;
      length = 1;
    }
    batch.ids = ids;
    fail_unless (seqnn_inference_run (inference, &batch, probs, NULL, NULL));
    confusion[label][argmax (probs, 4)]++;
    /* the same class on the buffer */
    fail_unless_equals_int (gst_buffer_get_seqnn_class_meta (g_ptr_array_index (buffers,
                i))->class_id, argmax (probs, 4));
  }
  fail_unless (gst_structure_get_uint64 (summary, "count", &count));
  fail_unless_equals_uint64 (count, rows);
  matrix = gst_structure_get_value (summary, "confusion");
  for (guint t = 0; t < 4; t++)
    for (guint p = 0; p < 4; p++)
      fail_unless_equals_uint64 (g_value_get_uint64 (gst_value_array_get_value
              (gst_value_array_get_value (matrix, t), p)), confusion[t][p]);

  seqnn_inference_free (inference);
  seqnn_label_set_free (label_set);
  seqnn_dataset_free (dataset);
  gst_structure_free (summary);
  g_ptr_array_unref (buffers);
  g_unlink (part);
  g_free (part);
  g_free (launch);
  g_free (dev);
}

GST_END_TEST;

/* ---- Ends, stops and seeks ------------------------------------------------------ */

/* A CSV of n AG News style rows made of TEXTS, in tmp_dir. */
static gchar *
write_csv (const gchar *name, guint n)
{
  GString *csv = g_string_new (NULL);
  gchar *path = g_build_filename (tmp_dir, name, NULL);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (csv, "\"%u\",\"%s\",\"%s\"\n", i % 4 + 1, TEXTS[i % N_TEXTS],
        TEXTS[(i * 7 + 3) % N_TEXTS]);
  fail_unless (g_file_set_contents (path, csv->str, csv->len, NULL));
  g_string_free (csv, TRUE);
  return path;
}

/* An SRT of n cues, cue i at i seconds, in tmp_dir. */
static gchar *
write_srt (const gchar *name, guint n)
{
  GString *srt = g_string_new (NULL);
  gchar *path = g_build_filename (tmp_dir, name, NULL);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (srt, "%u\n%02u:%02u:%02u,000 --> %02u:%02u:%02u,500\n%s\n\n", i + 1,
        i / 3600, i / 60 % 60, i % 60, i / 3600, i / 60 % 60, i % 60, TEXTS[i % N_TEXTS]);
  fail_unless (g_file_set_contents (path, srt->str, srt->len, NULL));
  g_string_free (srt, TRUE);
  return path;
}

/* Downstream EOS (fakesink num-buffers) must end the pipeline: the EOS that
 * upstream then sends still goes through. */
GST_START_TEST (test_downstream_eos_ends_pipeline)
{
  gchar *csv, *srt, *launch;
  GPtrArray *buffers;

  if (!have_pipeline_plugins)
    return;
  csv = write_csv ("eos.csv", 200);
  for (gint batch_size = 1; batch_size <= 16; batch_size *= 4) {
    launch = g_strdup_printf ("filesrc location=\"%s\" ! seqtokenize format=csv ! lstmclassify "
        "model=\"%s\" batch-size=%d ! fakesink name=sink num-buffers=10", csv, news_model_path,
        batch_size);
    buffers = run_pipeline (launch, NULL);
    fail_unless_equals_int (buffers->len, 10);
    g_ptr_array_unref (buffers);
    g_free (launch);
  }
  g_unlink (csv);
  g_free (csv);
  if (g_getenv ("SEQNN_UNDER_VALGRIND") != NULL)
    return; /* subparse: PCRE2 JIT, see test_pipeline_subtitles */
  srt = write_srt ("eos.srt", 40);
  launch = g_strdup_printf ("filesrc location=\"%s\" ! subparse ! lstmclassify model=\"%s\" "
      "! fakesink name=sink num-buffers=5", srt, news_model_path);
  buffers = run_pipeline (launch, NULL);
  fail_unless_equals_int (buffers->len, 5);
  g_ptr_array_unref (buffers);
  g_free (launch);
  g_unlink (srt);
  g_free (srt);
}

GST_END_TEST;

/* Downstream flushing: the task paused on FLUSHING; events from upstream then
 * get FLUSHING back (kept sticky for the restart), never an error flow. */
GST_START_TEST (test_events_while_downstream_flushing)
{
  GstHarness *h = start (news_model_path, "text/x-raw, format=utf8");
  GstElement *element = h->element;
  GstSegment segment;
  GstFlowReturn ret = GST_FLOW_OK;
  GstBuffer *out;

  g_object_set (element, "batch-size", 1, NULL);
  gst_pad_set_active (h->sinkpad, FALSE);
  for (guint i = 0; i < 200 && ret == GST_FLOW_OK; i++) {
    ret = gst_harness_push (h, text_buffer (TEXTS[0], i * GST_SECOND, GST_SECOND));
    g_usleep (1000);
  }
  fail_unless_equals_int (ret, GST_FLOW_FLUSHING);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = 100 * GST_SECOND;
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  /* The refused SEGMENT is sent again before the next buffer: FLUSHING, not ERROR. */
  fail_unless_equals_int (gst_harness_push (h, text_buffer (TEXTS[1], 0, GST_SECOND)),
      GST_FLOW_FLUSHING);
  gst_harness_push_event (h, gst_event_new_tag (gst_tag_list_new_empty ()));
  fail_unless_equals_int (gst_harness_push (h, text_buffer (TEXTS[1], 0, GST_SECOND)),
      GST_FLOW_FLUSHING);

  /* After a flush (and a new segment) the stream goes on. */
  gst_pad_set_active (h->sinkpad, TRUE);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  fail_unless_equals_int (gst_harness_push (h, text_buffer (TEXTS[2], 101 * GST_SECOND,
              GST_SECOND)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 101 * GST_SECOND);
  fail_unless (gst_buffer_get_seqnn_class_meta (out) != NULL);
  gst_buffer_unref (out);
  {
    GstEvent *event = gst_pad_get_sticky_event (h->sinkpad, GST_EVENT_SEGMENT, 0);
    const GstSegment *seen;
    fail_unless (event != NULL);
    gst_event_parse_segment (event, &seen);
    fail_unless_equals_uint64 (seen->start, 100 * GST_SECOND);
    gst_event_unref (event);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

typedef struct {
  guint index;
  guint n_restarts;
  const gchar *csv, *srt;    /* srt: through subparse, else csv through seqtokenize */
  guint n_errors;
  gchar *first_error;
} StopperRun;

/* Counts the ERROR messages on a bus, keeping the first one's text. */
static void
count_errors (GstBus *bus, StopperRun *run)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR)) != NULL) {
    if (run->n_errors++ == 0) {
      GError *error = NULL;
      gchar *debug = NULL;
      gst_message_parse_error (msg, &error, &debug);
      run->first_error = g_strdup_printf ("%s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          error->message, debug);
      g_error_free (error);
      g_free (debug);
    }
    gst_message_unref (msg);
  }
}

/* One application stream: PLAYING, data flows for a random while (a model
 * swap now and then), NULL; again and again. */
static gpointer
stopper_thread (gpointer data)
{
  StopperRun *run = data;
  GRand *rand = g_rand_new_with_seed (run->index + 1);
  /* Half through subparse (pango-markup cues), half through seqtokenize. */
  gchar *launch = g_strdup_printf ("filesrc location=\"%s\" ! %s ! lstmclassify name=c "
      "model=\"%s\" batch-size=%u ! fakesink", run->srt ? run->srt : run->csv,
      run->srt ? "subparse" : "seqtokenize format=csv", news_model_path, 1 + run->index % 5);
  GstElement *pipeline = gst_parse_launch (launch, NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstBus *bus = gst_element_get_bus (pipeline);

  for (guint i = 0; i < run->n_restarts; i++) {
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    /* Often at once (the stream's first events and buffers are on their
     * way), sometimes later (batches flow, or EOS is near). */
    g_usleep (g_rand_int_range (rand, 0, 3) ? g_rand_int_range (rand, 0, 2000)
        : g_rand_int_range (rand, 0, 20000));
    if (g_rand_int_range (rand, 0, 4) == 0)
      g_object_set (classify, "model", i % 2 ? news_model_path : other_model_path, NULL);
    g_usleep (g_rand_int_range (rand, 0, 1000));
    gst_element_set_state (pipeline, GST_STATE_NULL);
    count_errors (bus, run);
    if (g_rand_int_range (rand, 0, 3) == 0)  /* a swap while stopped */
      g_object_set (classify, "model", i % 2 ? other_model_path : news_model_path, NULL);
  }
  gst_object_unref (bus);
  gst_object_unref (classify);
  gst_object_unref (pipeline);
  g_free (launch);
  g_rand_free (rand);
  return NULL;
}

/* Stopping pipelines while data flows posts no error (issue 9). */
GST_START_TEST (test_restarts_post_no_error)
{
  gboolean valgrind = g_getenv ("SEQNN_UNDER_VALGRIND") != NULL;
  guint n_pipelines = valgrind ? 2 : 8, n_restarts = valgrind ? 6 : 60;
  StopperRun runs[8];
  GThread *threads[8];
  gchar *csv, *srt;

  if (!have_pipeline_plugins)
    return;
  /* Small enough to end within some of the runs. */
  csv = write_csv ("restarts.csv", 300);
  srt = write_srt ("restarts.srt", 150);
  for (guint p = 0; p < n_pipelines; p++) {
    /* subparse only outside valgrind (PCRE2 JIT, see test_pipeline_subtitles) */
    runs[p] = (StopperRun) { p, n_restarts, csv, p % 2 && !valgrind ? srt : NULL, 0, NULL };
    threads[p] = g_thread_new ("stopper", stopper_thread, &runs[p]);
  }
  for (guint p = 0; p < n_pipelines; p++)
    g_thread_join (threads[p]);
  for (guint p = 0; p < n_pipelines; p++) {
    fail_unless (runs[p].n_errors == 0, "pipeline %u: %u errors in %u restarts, the first: %s", p,
        runs[p].n_errors, n_restarts, runs[p].first_error);
  }
  for (guint p = 0; p < n_pipelines; p++)
    g_free (runs[p].first_error);
  g_unlink (csv);
  g_free (csv);
  g_unlink (srt);
  g_free (srt);
}

GST_END_TEST;

static GstPadProbeReturn
collect_pts_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);

  fail_unless (gst_buffer_get_seqnn_class_meta (buffer) != NULL);
  g_mutex_lock (&((GstObject *) pad)->lock);
  g_array_append_val (user_data, GST_BUFFER_PTS (buffer));
  g_mutex_unlock (&((GstObject *) pad)->lock);
  return GST_PAD_PROBE_OK;
}

/* The seek test's lstmclassify settings: cue by cue, and context=smooth
 * with cues held for lookahead (held cues are dropped by the flush). */
static const gchar *const seek_modes[] = {
  "",
  "context=smooth lookahead=3000000000",
};

/* A flushing seek in the middle of a subtitle stream: output resumes from
 * the new position, no error. */
GST_START_TEST (test_flushing_seek_in_subtitles)
{
  gchar *srt, *launch;
  GstElement *pipeline, *sink;
  GstPad *pad;
  GstBus *bus;
  GArray *pts;
  GstMessage *msg;
  guint before = 0;

  if (!have_pipeline_plugins || g_getenv ("SEQNN_UNDER_VALGRIND") != NULL)
    return; /* subparse: PCRE2 JIT, see test_pipeline_subtitles */
  pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  srt = write_srt ("seek.srt", 120);
  launch = g_strdup_printf ("filesrc location=\"%s\" ! subparse ! lstmclassify model=\"%s\" "
      "batch-size=4 %s ! fakesink name=sink sync=false", srt, news_model_path, seek_modes[__i__]);
  pipeline = gst_parse_launch (launch, NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_pts_probe, pts, NULL);
  bus = gst_element_get_bus (pipeline);

  /* Prerolled at the first cue, then a flushing seek to 60 s before playing. */
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipeline, NULL, NULL, 10 * GST_SECOND)
      == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_seek_simple (pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, 60 * GST_SECOND));
  fail_unless (gst_element_get_state (pipeline, NULL, NULL, 10 * GST_SECOND)
      == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no EOS after the seek");
  fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "error after the seek");
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  /* Before the seek: some of the first cues (the preroll; subparse then
   * sends the file's first cues again for a moment while it restarts, as
   * seen with identity or queue in lstmclassify's place); then every cue
   * from 60 s on, in order, each once. */
  while (before < pts->len && g_array_index (pts, GstClockTime, before) < 60 * GST_SECOND)
    fail_unless (g_array_index (pts, GstClockTime, before++) < 20 * GST_SECOND);
  fail_unless (before >= 1 && before <= 20, "%u cues before the seek", before);
  fail_unless_equals_int (pts->len - before, 60);
  for (guint i = before; i < pts->len; i++)
    fail_unless_equals_uint64 (g_array_index (pts, GstClockTime, i), (60 + i - before) * GST_SECOND);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);

  gst_object_unref (bus);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_array_free (pts, TRUE);
  g_free (launch);
  g_unlink (srt);
  g_free (srt);
}

GST_END_TEST;

static Suite *
lstmclassify_suite (void)
{
  Suite *s = suite_create ("lstmclassify");
  TCase *tc = tcase_create ("general");

  tcase_add_unchecked_fixture (tc, setup_models, teardown_models);
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_batching_order_and_metas);
  tcase_add_test (tc, test_caps_variants);
  tcase_add_test (tc, test_tokens_meta_ids_and_tokens);
  tcase_add_test (tc, test_word_ngrams);
  tcase_add_test (tc, test_no_tokens_and_gap);
  tcase_add_test (tc, test_pango_markup_input);
  tcase_add_test (tc, test_max_tokens_cap);
  tcase_add_test (tc, test_text_plain_caps);
  tcase_add_test (tc, test_flush_drops_pending);
  tcase_add_test (tc, test_serialized_events_and_queries_drain);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_max_latency_partial_batch);
  tcase_add_test (tc, test_max_latency_without_clock);
  tcase_add_test (tc, test_annotate_prefix);
  tcase_add_test (tc, test_annotate_prefix_markup);
  tcase_add_test (tc, test_annotate_json);
  tcase_add_test (tc, test_post_messages);
  tcase_add_test (tc, test_eos_summary);
  tcase_add_test (tc, test_model_swap_while_playing);
  tcase_add_test (tc, test_tokens_looked_up_on_arrival_and_swap);
  tcase_add_test (tc, test_error_missing_model);
  tcase_add_test (tc, test_error_damaged_model);
  tcase_add_test (tc, test_error_wrong_caps);
  tcase_add_test (tc, test_error_ids_out_of_range);
  tcase_add_test (tc, test_error_ids_from_other_vocabulary);
  tcase_add_test (tc, test_repeated_states_and_instances);
  tcase_add_test (tc, test_pipeline_subtitles);
  tcase_add_test (tc, test_pipeline_dev_csv_summary);
  tcase_add_test (tc, test_downstream_eos_ends_pipeline);
  tcase_add_test (tc, test_events_while_downstream_flushing);
  tcase_add_test (tc, test_restarts_post_no_error);
  tcase_add_loop_test (tc, test_flushing_seek_in_subtitles, 0, G_N_ELEMENTS (seek_modes));
  return s;
}

GST_CHECK_MAIN (lstmclassify);
