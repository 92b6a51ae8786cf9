/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Model files: bit-exact save/load round trips over several architectures,
 * every kind of damage rejected with a message saying what is wrong (never a
 * crash), atomic saves that leave an existing file intact on failure. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "seqnn/seqnn.h"

static gboolean under_valgrind;

/* ---- helpers --------------------------------------------------------------- */

static SeqnnClassifier *
make_classifier (const SeqnnConfig *config, guint64 seed)
{
  GError *error = NULL;
  SeqnnModel *model = seqnn_model_new (config, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (model, seed);
  GPtrArray *tokens = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (tokens, g_strdup (SEQNN_VOCAB_UNK));
  g_ptr_array_add (tokens, g_strdup (SEQNN_VOCAB_PAD));
  static const gchar *const words[] = { "the", "news", "caf\xc3\xa9", "\"quoted\"", "back\\slash", "\xe2\x82\xac" };
  for (gint i = 2; i < config->vocab_size; i++) {
    if ((gsize) (i - 2) < G_N_ELEMENTS (words))
      g_ptr_array_add (tokens, g_strdup (words[i - 2]));
    else
      g_ptr_array_add (tokens, g_strdup_printf ("w%d", i));
  }
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens ((const gchar *const *) tokens->pdata, tokens->len, &error);
  g_assert_no_error (error);
  g_ptr_array_unref (tokens);
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);
  for (gint i = 0; i < config->num_classes; i++)
    g_ptr_array_add (labels, g_strdup_printf ("class %d \xc3\xa9", i));
  g_ptr_array_add (labels, NULL);
  SeqnnTokenizerConfig tokenizer;
  seqnn_tokenizer_config_init_default (&tokenizer);
  SeqnnClassifier *classifier = seqnn_classifier_new (model, vocab, &tokenizer,
      (const gchar *const *) labels->pdata, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab);
  g_ptr_array_unref (labels);
  return classifier;
}

static void
small_config (SeqnnConfig *config)
{
  seqnn_config_init_default (config);
  config->vocab_size = 12;
  config->embed_dim = 5;
  config->hidden_dim = 3;
  config->num_classes = 3;
}

static gchar *
temp_dir (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("seqnn-modelfile-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
remove_dir (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  if (d) {
    const gchar *name;
    while ((name = g_dir_read_name (d)) != NULL) {
      gchar *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        remove_dir (path);
      else
        g_unlink (path);
      g_free (path);
    }
    g_dir_close (d);
  }
  g_rmdir (dir);
}

static guint
count_entries (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  guint n = 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  return n;
}

static GBytes *
read_file (const gchar *path)
{
  gchar *contents = NULL;
  gsize len = 0;
  GError *error = NULL;
  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, len);
}

/* Plain stdio: g_file_set_contents fsyncs, far too slow for thousands of damaged copies. */
static void
write_file (const gchar *path, const void *data, gsize len)
{
  FILE *f = fopen (path, "wb");
  g_assert_nonnull (f);
  g_assert_cmpuint (fwrite (data, 1, len, f), ==, len);
  g_assert_cmpint (fclose (f), ==, 0);
}

static void
assert_classifiers_equal (const SeqnnClassifier *a, const SeqnnClassifier *b)
{
  const SeqnnModel *ma = seqnn_classifier_peek_model (a), *mb = seqnn_classifier_peek_model (b);
  const SeqnnConfig *ca = seqnn_model_get_config (ma), *cb = seqnn_model_get_config (mb);
  g_assert_cmpint (ca->cell, ==, cb->cell);
  g_assert_cmpint (ca->vocab_size, ==, cb->vocab_size);
  g_assert_cmpint (ca->embed_dim, ==, cb->embed_dim);
  g_assert_cmpint (ca->hidden_dim, ==, cb->hidden_dim);
  g_assert_cmpint (ca->num_layers, ==, cb->num_layers);
  g_assert_cmpint (ca->bidirectional, ==, cb->bidirectional);
  g_assert_cmpint (ca->head, ==, cb->head);
  g_assert_cmpint (ca->num_classes, ==, cb->num_classes);
  g_assert_cmpint (ca->padding_idx, ==, cb->padding_idx);
  g_assert_true (memcmp (&ca->dropout, &cb->dropout, sizeof (gfloat)) == 0);
  gsize na = 0, nb = 0;
  const gfloat *pa = seqnn_model_peek_params (ma, &na), *pb = seqnn_model_peek_params (mb, &nb);
  g_assert_cmpuint (na, ==, nb);
  g_assert_true (memcmp (pa, pb, na * sizeof (gfloat)) == 0);
  g_assert_cmpuint (seqnn_model_get_n_tensors (ma), ==, seqnn_model_get_n_tensors (mb));
  SeqnnVocab *va = seqnn_classifier_get_vocab (a), *vb = seqnn_classifier_get_vocab (b);
  g_assert_cmpuint (seqnn_vocab_get_size (va), ==, seqnn_vocab_get_size (vb));
  for (gsize i = 0; i < seqnn_vocab_get_size (va); i++)
    g_assert_cmpstr (seqnn_vocab_get_token (va, (gint32) i), ==, seqnn_vocab_get_token (vb, (gint32) i));
  g_assert_cmpuint (seqnn_classifier_get_n_labels (a), ==, seqnn_classifier_get_n_labels (b));
  for (guint i = 0; i < seqnn_classifier_get_n_labels (a); i++)
    g_assert_cmpstr (seqnn_classifier_get_label (a, (gint) i), ==, seqnn_classifier_get_label (b, (gint) i));
  const SeqnnTokenizerConfig *ta = seqnn_classifier_get_tokenizer (a), *tb = seqnn_classifier_get_tokenizer (b);
  g_assert_cmpint (ta->lowercase, ==, tb->lowercase);
  g_assert_cmpint (ta->strip_markup, ==, tb->strip_markup);
  g_assert_cmpint (ta->max_tokens, ==, tb->max_tokens);
  gchar **ka = seqnn_classifier_list_metadata (a), **kb = seqnn_classifier_list_metadata (b);
  g_assert_cmpstrv (ka, kb);
  for (guint i = 0; ka[i]; i++)
    g_assert_cmpstr (seqnn_classifier_get_metadata (a, ka[i]), ==, seqnn_classifier_get_metadata (b, ka[i]));
  g_strfreev (ka);
  g_strfreev (kb);
}

/* ---- round trips ----------------------------------------------------------- */

static void
test_roundtrip (void)
{
  gchar *dir = temp_dir ();
  gchar *path = g_build_filename (dir, "m.model", NULL);
  gchar *path2 = g_build_filename (dir, "m2.model", NULL);
  struct { SeqnnCell cell; gint layers; gboolean bidir; SeqnnHead head; gint padding; gfloat dropout; } archs[] = {
    { SEQNN_CELL_LSTM, 1, FALSE, SEQNN_HEAD_LAST, -1, 0.0f },
    { SEQNN_CELL_GRU, 2, TRUE, SEQNN_HEAD_LAST, -1, 0.0f },
    { SEQNN_CELL_RNN_TANH, 1, FALSE, SEQNN_HEAD_MEAN, 1, 0.1f },
    { SEQNN_CELL_RNN_RELU, 3, TRUE, SEQNN_HEAD_MAX, 1, 0.3333333f },
    { SEQNN_CELL_LSTM, 2, TRUE, SEQNN_HEAD_MEAN, 0, 0.5f },
  };
  for (guint k = 0; k < G_N_ELEMENTS (archs); k++) {
    SeqnnConfig config;
    small_config (&config);
    config.cell = archs[k].cell;
    config.num_layers = archs[k].layers;
    config.bidirectional = archs[k].bidir;
    config.head = archs[k].head;
    config.padding_idx = archs[k].padding;
    config.dropout = archs[k].dropout;
    config.num_classes = 2 + (gint) k;
    SeqnnClassifier *a = make_classifier (&config, 100 + k);
    SeqnnTokenizerConfig tokenizer = { k % 2 == 0, k % 2 == 1, (gint) k * 7, 1 };
    seqnn_classifier_set_tokenizer (a, &tokenizer);
    seqnn_classifier_set_metadata (a, "trained_on", "AG News \xe2\x80\x94 first 100 rows");
    seqnn_classifier_set_metadata (a, "accuracy", "0.91");
    seqnn_classifier_set_metadata (a, "removed", "x");
    seqnn_classifier_set_metadata (a, "removed", NULL);
    g_assert_null (seqnn_classifier_get_metadata (a, "removed"));
    GError *error = NULL;
    g_assert_true (seqnn_classifier_save (a, path, &error));
    g_assert_no_error (error);
    SeqnnClassifier *b = seqnn_classifier_load (path, &error);
    g_assert_no_error (error);
    g_assert_nonnull (b);
    assert_classifiers_equal (a, b);
    g_assert_cmpstr (seqnn_classifier_get_metadata (b, "accuracy"), ==, "0.91");
    /* saving what was loaded gives the same bytes: the format is deterministic */
    g_assert_true (seqnn_classifier_save (b, path2, &error));
    g_assert_no_error (error);
    GBytes *x = read_file (path), *y = read_file (path2);
    g_assert_true (g_bytes_equal (x, y));
    /* safetensors framing: header length multiple of 8, data = 4 bytes per parameter */
    gsize len = 0;
    const guint8 *bytes = g_bytes_get_data (x, &len);
    guint64 header_len = GUINT64_FROM_LE (*(const guint64 *) bytes);
    g_assert_cmpuint (header_len % 8, ==, 0);
    gsize n_params = 0;
    seqnn_model_peek_params (seqnn_classifier_peek_model (a), &n_params);
    g_assert_cmpuint (len - 8 - header_len, ==, n_params * 4);
    g_assert_cmpint (bytes[8], ==, '{');
    g_bytes_unref (x);
    g_bytes_unref (y);
    seqnn_classifier_free (a);
    seqnn_classifier_free (b);
  }
  /* replacing an existing file works and leaves no temporary behind */
  g_assert_cmpuint (count_entries (dir), ==, 2);
  g_free (path);
  g_free (path2);
  remove_dir (dir);
  g_free (dir);
}

static void
test_classifier_api (void)
{
  SeqnnConfig config;
  small_config (&config);
  GError *error = NULL;
  const gchar *tokens[] = { "<unk>", "<pad>", "a" };
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (tokens, 3, &error);
  g_assert_no_error (error);
  const gchar *labels[] = { "x", "y", "z", NULL };
  /* vocabulary size mismatch: error, model freed (no leak under valgrind) */
  SeqnnClassifier *c = seqnn_classifier_new (seqnn_model_new (&config, NULL), vocab, NULL, labels, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "vocab"));
  g_clear_error (&error);
  /* too few labels */
  config.vocab_size = 3;
  const gchar *two[] = { "x", "y", NULL };
  c = seqnn_classifier_new (seqnn_model_new (&config, NULL), vocab, NULL, two, &error);
  g_assert_null (c);
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "label 2"));
  g_clear_error (&error);
  c = seqnn_classifier_new (seqnn_model_new (&config, NULL), vocab, NULL, labels, &error);
  g_assert_no_error (error);
  seqnn_vocab_unref (vocab); /* the classifier holds its own reference */
  g_assert_cmpuint (seqnn_classifier_get_n_labels (c), ==, 3);
  g_assert_cmpstr (seqnn_classifier_get_label (c, 2), ==, "z");
  g_assert_null (seqnn_classifier_get_label (c, 3));
  g_assert_null (seqnn_classifier_get_label (c, -1));
  g_assert_true (seqnn_classifier_get_tokenizer (c)->lowercase);
  SeqnnTokens *scratch = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  seqnn_classifier_encode (c, "A b, a.", -1, scratch, ids);
  g_assert_cmpuint (ids->len, ==, 5); /* a b , a . */
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 2);
  g_assert_cmpint (g_array_index (ids, gint32, 1), ==, SEQNN_VOCAB_UNK_ID);
  g_assert_cmpint (g_array_index (ids, gint32, 3), ==, 2);
  g_array_set_size (ids, 0);
  seqnn_classifier_encode (c, "   ", -1, scratch, ids);
  g_assert_cmpuint (ids->len, ==, 1); /* no token: one <unk> */
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, SEQNN_VOCAB_UNK_ID);
  seqnn_tokens_free (scratch);
  g_array_unref (ids);
  gchar **keys = seqnn_classifier_list_metadata (c);
  g_assert_cmpuint (g_strv_length (keys), ==, 0);
  g_strfreev (keys);
  seqnn_classifier_free (c);
}

/* ---- damage ---------------------------------------------------------------- */

typedef struct {
  gchar *dir;
  gchar *good;       /* a valid model file */
  gchar *bad;        /* scratch path for damaged copies */
  GBytes *bytes;     /* the valid file's bytes */
  guint64 header_len;
} Damage;

static void
damage_setup (Damage *d)
{
  d->dir = temp_dir ();
  d->good = g_build_filename (d->dir, "good.model", NULL);
  d->bad = g_build_filename (d->dir, "bad.model", NULL);
  SeqnnConfig config;
  small_config (&config);
  config.cell = SEQNN_CELL_GRU;
  config.bidirectional = TRUE;
  config.num_layers = 2;
  SeqnnClassifier *c = make_classifier (&config, 7);
  seqnn_classifier_set_metadata (c, "note", "damage test");
  GError *error = NULL;
  g_assert_true (seqnn_classifier_save (c, d->good, &error));
  g_assert_no_error (error);
  seqnn_classifier_free (c);
  d->bytes = read_file (d->good);
  d->header_len = GUINT64_FROM_LE (*(const guint64 *) g_bytes_get_data (d->bytes, NULL));
}

static void
damage_teardown (Damage *d)
{
  g_bytes_unref (d->bytes);
  g_free (d->good);
  g_free (d->bad);
  remove_dir (d->dir);
  g_free (d->dir);
}

/* Loading path must fail with one of the codes, the message holding expect (if given). */
static void
assert_load_fails (const gchar *path, gint code, gint other_code, const gchar *expect)
{
  GError *error = NULL;
  SeqnnClassifier *c = seqnn_classifier_load (path, &error);
  if (c != NULL)
    g_error ("damaged file loaded (expected \"%s\")", expect ? expect : "an error");
  g_assert_nonnull (error);
  g_assert_true (error->domain == SEQNN_ERROR);
  if (error->code != code && error->code != other_code)
    g_error ("code %d, expected %d: %s", error->code, code, error->message);
  g_assert_cmpuint (strlen (error->message), >, 10);
  if (expect && strstr (error->message, expect) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", error->message, expect);
  g_error_free (error);
}

static void
test_truncation (void)
{
  Damage d;
  damage_setup (&d);
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data (d.bytes, &len);
  GArray *cuts = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize boundaries[] = { 0, 1, 7, 8, 9, 8 + d.header_len - 1, 8 + d.header_len, 8 + d.header_len + 1,
                         8 + d.header_len + 4, len - 4, len - 1 };
  g_array_append_vals (cuts, boundaries, G_N_ELEMENTS (boundaries));
  gsize step = MAX (1, len / (under_valgrind ? 23 : 211));
  for (gsize cut = 2; cut < len; cut += step)
    g_array_append_val (cuts, cut);
  for (guint i = 0; i < cuts->len; i++) {
    gsize cut = g_array_index (cuts, gsize, i);
    write_file (d.bad, bytes, cut);
    const gchar *expect = cut < 8 ? "too short" : NULL;
    if (cut >= 8 && cut < 8 + d.header_len)
      expect = "exceeds";
    else if (cut >= 8 + d.header_len)
      expect = "data section";
    assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, expect);
  }
  /* appended garbage is damage too */
  GByteArray *longer = g_byte_array_new ();
  g_byte_array_append (longer, bytes, len);
  g_byte_array_append (longer, (const guint8 *) "xyzw", 4);
  write_file (d.bad, longer->data, longer->len);
  assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "data section");
  g_byte_array_unref (longer);
  g_array_unref (cuts);
  damage_teardown (&d);
}

static void
test_flips (void)
{
  Damage d;
  damage_setup (&d);
  gsize len = 0;
  guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (d.bytes), &len);
  /* every byte of the length field and the header, then data bytes: a flipped
   * low bit keeps the header ASCII, so JSON checks, metadata checks and the
   * checksum all get exercised; a flipped high bit breaks UTF-8. */
  gsize stride = under_valgrind ? 5 : 1;
  guint n_tried = 0;
  /* one copy patched in place: rewriting (truncating) a file thousands of
   * times makes ext4 flush each time */
  write_file (d.bad, copy, len);
  int fd = open (d.bad, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  for (gsize pos = 0; pos < len; pos += (pos < 8 + d.header_len ? stride : 4 * stride + 3)) {
    for (guint m = 0; m < 2; m++) {
      guint8 flipped = copy[pos] ^ (m ? 0x80 : 0x01);
      g_assert_cmpint (pwrite (fd, &flipped, 1, (off_t) pos), ==, 1);
      /* data bytes: only the checksum can tell */
      assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_UNSUPPORTED,
          pos >= 8 + d.header_len ? "checksum mismatch" : NULL);
      g_assert_cmpint (pwrite (fd, &copy[pos], 1, (off_t) pos), ==, 1);
      n_tried++;
    }
  }
  close (fd);
  /* restored in place: loads again */
  SeqnnClassifier *c = seqnn_classifier_load (d.bad, NULL);
  g_assert_nonnull (c);
  seqnn_classifier_free (c);
  g_assert_cmpuint (n_tried, >, 100);
  g_free (copy);
  damage_teardown (&d);
}

/* Rewrites the good file's JSON header through edit, keeping the data (or
 * replacing it), and checks that loading fails with code and message. */
typedef void (*HeaderEdit) (JsonObject *root, JsonObject *meta);

static void
check_edit (Damage *d, HeaderEdit edit, gint code, const gchar *expect)
{
  gsize len = 0;
  const gchar *bytes = g_bytes_get_data (d->bytes, &len);
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  json_parser_load_from_data (parser, bytes + 8, (gssize) d->header_len, &error);
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  edit (root, json_object_get_object_member (root, "__metadata__"));
  gchar *json = json_to_string (json_parser_get_root (parser), FALSE);
  guint64 n = GUINT64_TO_LE ((guint64) strlen (json));
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) &n, 8);
  g_byte_array_append (out, (const guint8 *) json, (guint) strlen (json));
  g_byte_array_append (out, (const guint8 *) bytes + 8 + d->header_len, (guint) (len - 8 - d->header_len));
  write_file (d->bad, out->data, out->len);
  g_byte_array_unref (out);
  g_free (json);
  g_object_unref (parser);
  assert_load_fails (d->bad, code, code, expect);
}

static void
set_offsets (JsonObject *root, const gchar *name, gint64 begin, gint64 end)
{
  JsonArray *offsets = json_object_get_array_member (json_object_get_object_member (root, name), "data_offsets");
  json_node_set_int (json_array_get_element (offsets, 0), begin);
  json_node_set_int (json_array_get_element (offsets, 1), end);
}

static gint64
get_offset (JsonObject *root, const gchar *name, guint i)
{
  return json_array_get_int_element (
      json_object_get_array_member (json_object_get_object_member (root, name), "data_offsets"), i);
}

static void edit_nothing (JsonObject *r, JsonObject *m) { }
static void edit_remove_tensor (JsonObject *r, JsonObject *m) { json_object_remove_member (r, "rnn.bias_hh_l1_reverse"); }
static void
edit_extra_tensor (JsonObject *r, JsonObject *m)
{
  JsonNode *copy = json_node_copy (json_object_get_member (r, "fc.bias"));
  json_object_set_member (r, "fc2.bias", copy);
}
static void edit_dtype (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (json_object_get_object_member (r, "fc.weight"), "dtype", "F16");
}
static void edit_shape (JsonObject *r, JsonObject *m)
{
  JsonArray *shape = json_object_get_array_member (json_object_get_object_member (r, "rnn.weight_ih_l0"), "shape");
  json_node_set_int (json_array_get_element (shape, 0), 12); /* 4H for a GRU of H 3: LSTM-sized */
}
static void edit_shape_rank (JsonObject *r, JsonObject *m)
{
  JsonArray *shape = json_object_get_array_member (json_object_get_object_member (r, "fc.bias"), "shape");
  json_array_add_int_element (shape, 1);
}
static void edit_shape_string (JsonObject *r, JsonObject *m)
{
  JsonArray *shape = json_object_get_array_member (json_object_get_object_member (r, "fc.bias"), "shape");
  json_node_set_string (json_array_get_element (shape, 0), "3");
}
static void edit_offsets_past_end (JsonObject *r, JsonObject *m)
{
  set_offsets (r, "fc.bias", G_GINT64_CONSTANT (1) << 40, (G_GINT64_CONSTANT (1) << 40) + 12);
}
static void edit_offsets_negative (JsonObject *r, JsonObject *m) { set_offsets (r, "fc.bias", -12, 0); }
static void edit_offsets_overlap (JsonObject *r, JsonObject *m)
{
  /* fc.bias (3 floats) placed over the start of fc.weight */
  gint64 b = get_offset (r, "fc.weight", 0);
  set_offsets (r, "fc.bias", b, b + 12);
}
static void edit_offsets_span (JsonObject *r, JsonObject *m)
{
  gint64 b = get_offset (r, "fc.bias", 0);
  set_offsets (r, "fc.bias", b, b + 8);
}
static void edit_offsets_swap (JsonObject *r, JsonObject *m)
{
  /* same shapes, still tiling the data: only the checksum notices */
  gint64 a0 = get_offset (r, "rnn.bias_ih_l0", 0), a1 = get_offset (r, "rnn.bias_ih_l0", 1);
  gint64 b0 = get_offset (r, "rnn.bias_hh_l0", 0), b1 = get_offset (r, "rnn.bias_hh_l0", 1);
  set_offsets (r, "rnn.bias_ih_l0", b0, b1);
  set_offsets (r, "rnn.bias_hh_l0", a0, a1);
}
static void edit_offsets_float (JsonObject *r, JsonObject *m)
{
  JsonArray *offsets = json_object_get_array_member (json_object_get_object_member (r, "fc.bias"), "data_offsets");
  json_node_set_double (json_array_get_element (offsets, 0), 1.5);
}
static void edit_no_metadata (JsonObject *r, JsonObject *m) { json_object_remove_member (r, "__metadata__"); }
static void edit_format (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "format", "pt"); }
static void edit_no_format (JsonObject *r, JsonObject *m) { json_object_remove_member (m, "format"); }
static void edit_version_new (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.version", "2"); }
static void edit_version_bad (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.version", "one"); }
static void edit_embed_nan (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.embed_dim", "five"); }
static void edit_hidden_neg (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.hidden_dim", "-3"); }
static void edit_hidden_huge (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.hidden_dim", "60000"); }
static void edit_layers_big (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.num_layers", "99999999999"); }
static void edit_cell (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.cell", "transformer"); }
static void edit_cell_lstm (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.cell", "lstm"); }
static void edit_head (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.head", "first"); }
static void edit_bidir (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.bidirectional", "yes"); }
static void edit_dropout (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.dropout", "1.5"); }
static void edit_padding (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.padding_idx", "12"); }
static void edit_vocab_size (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.vocab_size", "13"); }
static void edit_missing_key (JsonObject *r, JsonObject *m) { json_object_remove_member (m, "seqnn.num_classes"); }
static void edit_not_string (JsonObject *r, JsonObject *m) { json_object_set_int_member (m, "seqnn.embed_dim", 5); }
static void edit_unknown_key (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.future", "1"); }
static void edit_labels_count (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.labels", "[\"a\",\"b\"]"); }
static void edit_labels_json (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.labels", "[\"a\",\"b\""); }
static void edit_labels_types (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.labels", "[\"a\",2,\"c\"]"); }
static void
edit_vocab_dup (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab",
      "[\"<unk>\",\"<pad>\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"b\",\"h\",\"i\"]");
}
static void
edit_vocab_specials (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab",
      "[\"<pad>\",\"<unk>\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"x\",\"h\",\"i\"]");
}
static void edit_vocab_count (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.vocab", "[\"<unk>\",\"<pad>\"]"); }
static void edit_tokenizer (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.tokenizer", "{\"name\": \"bpe\", \"lowercase\": true, \"strip_markup\": false, \"max_tokens\": 0}");
}
static void edit_tokenizer_bad (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.tokenizer", "{\"name\": \"basic_english\", \"lowercase\": 1, \"strip_markup\": false, \"max_tokens\": 0}");
}
static void edit_tokenizer_ngrams_range (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.tokenizer", "{\"name\": \"basic_english\", \"lowercase\": true, \"strip_markup\": false, \"max_tokens\": 0, \"word_ngrams\": 9}");
}
static void edit_tokenizer_ngrams_recurrent (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.tokenizer", "{\"name\": \"basic_english\", \"lowercase\": true, \"strip_markup\": false, \"max_tokens\": 0, \"word_ngrams\": 2}");
}
static void edit_checksum_algo (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "seqnn.checksum", "md5:00"); }
static void edit_no_checksum (JsonObject *r, JsonObject *m) { json_object_remove_member (m, "seqnn.checksum"); }
static void edit_user_meta (JsonObject *r, JsonObject *m) { json_object_set_string_member (m, "note", "edited"); }
static void edit_label_text (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.labels", "[\"class 0 \xc3\xa9\",\"class 1 \xc3\xa9\",\"class 9 \xc3\xa9\"]");
}
static void edit_tensor_string (JsonObject *r, JsonObject *m) { json_object_set_string_member (r, "fc.bias", "oops"); }

static void
test_header_edits (void)
{
  Damage d;
  damage_setup (&d);
  struct { HeaderEdit edit; gint code; const gchar *expect; } cases[] = {
    { edit_remove_tensor, SEQNN_ERROR_CORRUPT, "missing tensor \"rnn.bias_hh_l1_reverse\"" },
    { edit_extra_tensor, SEQNN_ERROR_CORRUPT, "unexpected tensor \"fc2.bias\"" },
    { edit_dtype, SEQNN_ERROR_CORRUPT, "dtype \"F16\"" },
    { edit_shape, SEQNN_ERROR_CORRUPT, "tensor \"rnn.weight_ih_l0\" has shape [12,5], expected [9, 5]" },
    { edit_shape_rank, SEQNN_ERROR_CORRUPT, "tensor \"fc.bias\" has shape" },
    { edit_shape_string, SEQNN_ERROR_CORRUPT, "tensor \"fc.bias\" has shape" },
    { edit_offsets_past_end, SEQNN_ERROR_CORRUPT, "outside the" },
    { edit_offsets_negative, SEQNN_ERROR_CORRUPT, "outside the" },
    { edit_offsets_overlap, SEQNN_ERROR_CORRUPT, "overlaps" },
    { edit_offsets_span, SEQNN_ERROR_CORRUPT, "span 8 bytes, its shape needs 12" },
    { edit_offsets_swap, SEQNN_ERROR_CORRUPT, "checksum mismatch" },
    { edit_offsets_float, SEQNN_ERROR_CORRUPT, "integer data_offsets" },
    { edit_no_metadata, SEQNN_ERROR_CORRUPT, "no \"__metadata__\"" },
    { edit_format, SEQNN_ERROR_CORRUPT, "\"format\" is \"pt\"" },
    { edit_no_format, SEQNN_ERROR_CORRUPT, "\"format\" is missing" },
    { edit_version_new, SEQNN_ERROR_UNSUPPORTED, "version 2 is newer" },
    { edit_version_bad, SEQNN_ERROR_CORRUPT, "\"seqnn.version\" is \"one\"" },
    { edit_embed_nan, SEQNN_ERROR_CORRUPT, "\"seqnn.embed_dim\" is \"five\", not an integer" },
    { edit_hidden_neg, SEQNN_ERROR_CORRUPT, "\"seqnn.hidden_dim\" is -3" },
    { edit_hidden_huge, SEQNN_ERROR_CORRUPT, "data section is" },
    { edit_layers_big, SEQNN_ERROR_CORRUPT, "\"seqnn.num_layers\" is \"99999999999\"" },
    { edit_cell, SEQNN_ERROR_CORRUPT, "\"seqnn.cell\" is \"transformer\"" },
    { edit_cell_lstm, SEQNN_ERROR_CORRUPT, "data section is" },
    { edit_head, SEQNN_ERROR_CORRUPT, "\"seqnn.head\" is \"first\"" },
    { edit_bidir, SEQNN_ERROR_CORRUPT, "\"seqnn.bidirectional\" is \"yes\"" },
    { edit_dropout, SEQNN_ERROR_CORRUPT, "\"seqnn.dropout\" is \"1.5\"" },
    { edit_padding, SEQNN_ERROR_CORRUPT, "padding_idx" },
    { edit_vocab_size, SEQNN_ERROR_CORRUPT, "has 12 tokens but vocab_size is 13" },
    { edit_missing_key, SEQNN_ERROR_CORRUPT, "\"seqnn.num_classes\" is missing" },
    { edit_not_string, SEQNN_ERROR_CORRUPT, "\"seqnn.embed_dim\" is not a string" },
    { edit_unknown_key, SEQNN_ERROR_CORRUPT, "unknown reserved metadata key \"seqnn.future\"" },
    { edit_labels_count, SEQNN_ERROR_CORRUPT, "has 2 names but num_classes is 3" },
    { edit_labels_json, SEQNN_ERROR_CORRUPT, "\"seqnn.labels\" is not JSON" },
    { edit_labels_types, SEQNN_ERROR_CORRUPT, "element 1 is not a string" },
    { edit_vocab_dup, SEQNN_ERROR_CORRUPT, "\"b\" appears twice (ids 3 and 9)" },
    { edit_vocab_specials, SEQNN_ERROR_CORRUPT, "not a valid vocabulary" },
    { edit_vocab_count, SEQNN_ERROR_CORRUPT, "has 2 tokens but vocab_size is 12" },
    { edit_tokenizer, SEQNN_ERROR_UNSUPPORTED, "tokenizer \"bpe\"" },
    { edit_tokenizer_bad, SEQNN_ERROR_CORRUPT, "\"lowercase\" is missing or not a boolean" },
    { edit_tokenizer_ngrams_range, SEQNN_ERROR_CORRUPT, "\"word_ngrams\" is not an integer from 1 to 5" },
    { edit_tokenizer_ngrams_recurrent, SEQNN_ERROR_CORRUPT, "word-ngrams=2 needs a bag of embeddings (layers=0)" },
    { edit_checksum_algo, SEQNN_ERROR_UNSUPPORTED, "checksum \"md5:00\"" },
    { edit_no_checksum, SEQNN_ERROR_CORRUPT, "\"seqnn.checksum\" is missing" },
    { edit_user_meta, SEQNN_ERROR_CORRUPT, "checksum mismatch" },
    { edit_label_text, SEQNN_ERROR_CORRUPT, "checksum mismatch" },
    { edit_tensor_string, SEQNN_ERROR_CORRUPT, "tensor \"fc.bias\" is not a JSON object" },
  };
  /* the rewrite itself (no padding, json-glib's spacing) keeps the file valid */
  {
    gsize len = 0;
    const gchar *bytes = g_bytes_get_data (d.bytes, &len);
    JsonParser *parser = json_parser_new ();
    g_assert_true (json_parser_load_from_data (parser, bytes + 8, (gssize) d.header_len, NULL));
    gchar *json = json_to_string (json_parser_get_root (parser), TRUE);
    guint64 n = GUINT64_TO_LE ((guint64) strlen (json));
    GByteArray *out = g_byte_array_new ();
    g_byte_array_append (out, (const guint8 *) &n, 8);
    g_byte_array_append (out, (const guint8 *) json, (guint) strlen (json));
    g_byte_array_append (out, (const guint8 *) bytes + 8 + d.header_len, (guint) (len - 8 - d.header_len));
    write_file (d.bad, out->data, out->len);
    g_byte_array_unref (out);
    g_free (json);
    g_object_unref (parser);
    GError *error = NULL;
    SeqnnClassifier *c = seqnn_classifier_load (d.bad, &error);
    g_assert_no_error (error);
    seqnn_classifier_free (c);
  }
  (void) edit_nothing;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    check_edit (&d, cases[i].edit, cases[i].code, cases[i].expect);
  damage_teardown (&d);
}

/* Damage written directly as bytes: framing and JSON-level problems. */
static void
write_raw (const gchar *path, guint64 header_len, const gchar *header, gsize data_len)
{
  GByteArray *out = g_byte_array_new ();
  guint64 n = GUINT64_TO_LE (header_len);
  g_byte_array_append (out, (const guint8 *) &n, 8);
  g_byte_array_append (out, (const guint8 *) header, (guint) strlen (header));
  for (gsize i = 0; i < data_len; i++)
    g_byte_array_append (out, (const guint8 *) "\0", 1);
  write_file (path, out->data, out->len);
  g_byte_array_unref (out);
}

static void
test_framing (void)
{
  Damage d;
  damage_setup (&d);
  /* [declared header length, header bytes, zero bytes after them, message] */
  static const struct {
    guint64 declared;
    const gchar *header;
    gsize data_len;
    const gchar *message;
  } cases[] = {
    { 200u * 1024 * 1024, "{}", 0, "is absurd" },
    { G_MAXUINT64, "{}", 0, "is absurd" },
    { 1000, "{}", 0, "exceeds" },
    { 0, "", 0, "too small" },
    { 9, "{not json", 16, "not valid JSON" },
    { 5, "[1,2]", 0, "not a JSON object" },
    { 8, "\"string\"", 0, "not a JSON object" },
    { 4, "{\xff\xfe}", 0, "UTF-8" },
    { 2, "{}", 0, "__metadata__" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    write_raw (d.bad, cases[c].declared, cases[c].header, cases[c].data_len);
    assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, cases[c].message);
  }
  /* a deeply nested header must not exhaust the stack */
  GString *deep = g_string_new ("{\"a\":");
  for (gint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  write_raw (d.bad, deep->len, deep->str, 0);
  assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "nested too deeply");
  g_string_free (deep, TRUE);
  /* a NUL inside the header */
  GByteArray *nul = g_byte_array_new ();
  guint64 n = GUINT64_TO_LE (4);
  g_byte_array_append (nul, (const guint8 *) &n, 8);
  g_byte_array_append (nul, (const guint8 *) "{\0 }", 4);
  write_file (d.bad, nul->data, nul->len);
  g_byte_array_unref (nul);
  assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "NUL");
  /* unreadable paths are I/O errors naming the path */
  gchar *missing = g_build_filename (d.dir, "missing.model", NULL);
  assert_load_fails (missing, SEQNN_ERROR_IO, SEQNN_ERROR_IO, "missing.model");
  assert_load_fails (missing, SEQNN_ERROR_IO, SEQNN_ERROR_IO, g_strerror (ENOENT));
  g_free (missing);
  assert_load_fails (d.dir, SEQNN_ERROR_IO, SEQNN_ERROR_IO, g_strerror (EISDIR));
  /* a FIFO is refused without waiting for a writer */
  gchar *fifo = g_build_filename (d.dir, "fifo.model", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  assert_load_fails (fifo, SEQNN_ERROR_IO, SEQNN_ERROR_IO, "not a regular file");
  g_unlink (fifo);
  g_free (fifo);
  assert_load_fails ("/dev/null", SEQNN_ERROR_IO, SEQNN_ERROR_IO, "not a regular file");
  /* a duplicated tensor key: json-glib keeps one, the other's bytes are a gap */
  {
    gsize len = 0;
    const gchar *bytes = g_bytes_get_data (d.bytes, &len);
    gchar *header = g_strndup (bytes + 8, d.header_len);
    gchar *at = strstr (header, "\"fc.bias\":");
    g_assert_nonnull (at);
    gchar *dup = g_strdup_printf ("{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},%s", header + 1);
    GByteArray *out = g_byte_array_new ();
    guint64 dup_len = GUINT64_TO_LE ((guint64) strlen (dup));
    g_byte_array_append (out, (const guint8 *) &dup_len, 8);
    g_byte_array_append (out, (const guint8 *) dup, (guint) strlen (dup));
    g_byte_array_append (out, (const guint8 *) bytes + 8 + d.header_len, (guint) (len - 8 - d.header_len));
    write_file (d.bad, out->data, out->len);
    g_byte_array_unref (out);
    assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "repeats a key");
    g_free (dup);
    /* a repeated metadata key too */
    gchar *meta_at = strstr (header, "\"__metadata__\":{");
    g_assert_nonnull (meta_at);
    gsize prefix = (gsize) (meta_at - header) + strlen ("\"__metadata__\":{");
    dup = g_strdup_printf ("%.*s\"format\":\"seqnn\",%s", (int) prefix, header, header + prefix);
    out = g_byte_array_new ();
    dup_len = GUINT64_TO_LE ((guint64) strlen (dup));
    g_byte_array_append (out, (const guint8 *) &dup_len, 8);
    g_byte_array_append (out, (const guint8 *) dup, (guint) strlen (dup));
    g_byte_array_append (out, (const guint8 *) bytes + 8 + d.header_len, (guint) (len - 8 - d.header_len));
    write_file (d.bad, out->data, out->len);
    g_byte_array_unref (out);
    assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "repeats a key");
    g_free (dup);
    g_free (header);
  }
  damage_teardown (&d);
}

/* ---- the checksum as documented in classifier.h ----------------------------- */

/* Either SHA-256 or a bit-by-bit CRC-32 (zlib's), independent of the library's tables. */
typedef struct {
  GChecksum *sha256;
  guint32 crc;
} DocDigest;

static void
doc_update (DocDigest *digest, const void *data, gsize len)
{
  if (digest->sha256) {
    g_checksum_update (digest->sha256, data, len);
    return;
  }
  const guint8 *p = data;
  guint32 crc = ~digest->crc;
  for (gsize i = 0; i < len; i++) {
    crc ^= p[i];
    for (gint k = 0; k < 8; k++)
      crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
  }
  digest->crc = ~crc;
}

static void
doc_field (DocDigest *checksum, const gchar *text)
{
  guint64 len = GUINT64_TO_LE ((guint64) strlen (text));
  doc_update (checksum, &len, 8);
  doc_update (checksum, text, strlen (text));
}

static gint
compare_cstr (gconstpointer a, gconstpointer b)
{
  return strcmp (a, b);
}

/* Written from the documentation alone, to hold the library to it. */
static gchar *
doc_checksum (JsonObject *root, const guint8 *data, gsize data_len, gboolean sha256)
{
  DocDigest digest = { sha256 ? g_checksum_new (G_CHECKSUM_SHA256) : NULL, 0 };
  DocDigest *checksum = &digest;
  GList *names = g_list_sort (json_object_get_members (root), compare_cstr);
  for (GList *l = names; l; l = l->next) {
    if (strcmp (l->data, "__metadata__") == 0)
      continue;
    JsonObject *tensor = json_object_get_object_member (root, l->data);
    JsonArray *shape = json_object_get_array_member (tensor, "shape");
    JsonArray *offsets = json_object_get_array_member (tensor, "data_offsets");
    GString *shape_text = g_string_new (NULL);
    for (guint d = 0; d < json_array_get_length (shape); d++)
      g_string_append_printf (shape_text, "%s%" G_GINT64_FORMAT, d ? "," : "", json_array_get_int_element (shape, d));
    gchar *offsets_text = g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT,
        json_array_get_int_element (offsets, 0), json_array_get_int_element (offsets, 1));
    doc_field (checksum, l->data);
    doc_field (checksum, json_object_get_string_member (tensor, "dtype"));
    doc_field (checksum, shape_text->str);
    doc_field (checksum, offsets_text);
    g_string_free (shape_text, TRUE);
    g_free (offsets_text);
  }
  g_list_free (names);
  JsonObject *meta = json_object_get_object_member (root, "__metadata__");
  GList *keys = g_list_sort (json_object_get_members (meta), compare_cstr);
  for (GList *l = keys; l; l = l->next) {
    if (strcmp (l->data, "seqnn.checksum") == 0)
      continue;
    doc_field (checksum, l->data);
    doc_field (checksum, json_object_get_string_member (meta, l->data));
  }
  g_list_free (keys);
  doc_update (checksum, data, data_len);
  if (!sha256)
    return g_strdup_printf ("crc32:%08x", digest.crc);
  gchar *text = g_strconcat ("sha256:", g_checksum_get_string (digest.sha256), NULL);
  g_checksum_free (digest.sha256);
  return text;
}

/* Sets fc.bias[0] to value, re-signs the file with the documented checksum. */
static void
write_patched (Damage *d, gfloat value)
{
  gsize len = 0;
  guint8 *bytes = g_bytes_unref_to_data (g_bytes_ref (d->bytes), &len);
  JsonParser *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, (const gchar *) bytes + 8, (gssize) d->header_len, NULL));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  guint8 *data = bytes + 8 + d->header_len;
  gsize data_len = len - 8 - d->header_len;
  gchar *stored = g_strdup (json_object_get_string_member (json_object_get_object_member (root, "__metadata__"),
      "seqnn.checksum"));
  gchar *computed = doc_checksum (root, data, data_len, FALSE);
  g_assert_cmpstr (computed, ==, stored);
  gint64 at = get_offset (root, "fc.bias", 0);
  memcpy (data + at, &value, sizeof value);
  gchar *resigned = doc_checksum (root, data, data_len, FALSE);
  g_assert_cmpstr (resigned, !=, stored);
  g_assert_cmpuint (strlen (resigned), ==, strlen (stored));
  /* same length, so patch the header text in place */
  gchar *where = g_strstr_len ((gchar *) bytes + 8, (gssize) d->header_len, stored);
  g_assert_nonnull (where);
  memcpy (where, resigned, strlen (resigned));
  write_file (d->bad, bytes, len);
  g_free (stored);
  g_free (computed);
  g_free (resigned);
  g_object_unref (parser);
  g_free (bytes);
}

static void
test_checksum_definition (void)
{
  Damage d;
  damage_setup (&d);
  /* a re-signed change loads: the checksum is exactly what the header documents */
  write_patched (&d, 0.5f);
  GError *error = NULL;
  SeqnnClassifier *c = seqnn_classifier_load (d.bad, &error);
  g_assert_no_error (error);
  const SeqnnModel *model = seqnn_classifier_peek_model (c);
  const SeqnnTensorInfo *bias = seqnn_model_find_tensor (model, "fc.bias");
  g_assert_cmpfloat (seqnn_model_peek_params (model, NULL)[bias->offset], ==, 0.5f);
  /* a non-finite weight with a valid checksum is still refused */
  write_patched (&d, NAN);
  assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "not a finite number");
  write_patched (&d, -INFINITY);
  assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "not a finite number");
  /* SHA-256 signatures are accepted too, and checked */
  {
    gsize len = 0;
    guint8 *bytes = g_bytes_unref_to_data (g_bytes_ref (d.bytes), &len);
    JsonParser *parser = json_parser_new ();
    g_assert_true (json_parser_load_from_data (parser, (const gchar *) bytes + 8, (gssize) d.header_len, NULL));
    JsonObject *root = json_node_get_object (json_parser_get_root (parser));
    guint8 *data = bytes + 8 + d.header_len;
    gsize data_len = len - 8 - d.header_len;
    gchar *sha = doc_checksum (root, data, data_len, TRUE);
    json_object_set_string_member (json_object_get_object_member (root, "__metadata__"), "seqnn.checksum", sha);
    gchar *json = json_to_string (json_parser_get_root (parser), FALSE);
    for (gint flip = 0; flip < 2; flip++) {
      data[data_len / 2] ^= (guint8) flip;
      GByteArray *out = g_byte_array_new ();
      guint64 n = GUINT64_TO_LE ((guint64) strlen (json));
      g_byte_array_append (out, (const guint8 *) &n, 8);
      g_byte_array_append (out, (const guint8 *) json, (guint) strlen (json));
      g_byte_array_append (out, data, (guint) data_len);
      write_file (d.bad, out->data, out->len);
      g_byte_array_unref (out);
      if (flip) {
        assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, "checksum mismatch");
      } else {
        SeqnnClassifier *s2 = seqnn_classifier_load (d.bad, &error);
        g_assert_no_error (error);
        seqnn_classifier_free (s2);
      }
    }
    g_free (json);
    g_free (sha);
    g_object_unref (parser);
    g_free (bytes);
  }
  /* and never saved */
  seqnn_model_get_params (seqnn_classifier_get_model (c), NULL)[bias->offset + 1] = NAN;
  gchar *path = g_build_filename (d.dir, "nan.model", NULL);
  g_assert_false (seqnn_classifier_save (c, path, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_NUMERIC);
  g_assert_nonnull (strstr (error->message, "fc.bias[1]"));
  g_clear_error (&error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_free (path);
  seqnn_classifier_free (c);
  damage_teardown (&d);
}

/* Edits the header, re-signs it with the documented checksum, writes d->bad. */
static void
write_resigned (Damage *d, HeaderEdit edit)
{
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data (d->bytes, &len);
  JsonParser *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, (const gchar *) bytes + 8, (gssize) d->header_len, NULL));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonObject *meta = json_object_get_object_member (root, "__metadata__");
  edit (root, meta);
  const guint8 *data = bytes + 8 + d->header_len;
  gsize data_len = len - 8 - d->header_len;
  gchar *checksum = doc_checksum (root, data, data_len, FALSE);
  json_object_set_string_member (meta, "seqnn.checksum", checksum);
  gchar *json = json_to_string (json_parser_get_root (parser), FALSE);
  GByteArray *out = g_byte_array_new ();
  guint64 n = GUINT64_TO_LE ((guint64) strlen (json));
  g_byte_array_append (out, (const guint8 *) &n, 8);
  g_byte_array_append (out, (const guint8 *) json, (guint) strlen (json));
  g_byte_array_append (out, data, (guint) data_len);
  write_file (d->bad, out->data, out->len);
  g_byte_array_unref (out);
  g_free (json);
  g_free (checksum);
  g_object_unref (parser);
}

#define VOCAB_TAIL ",\"w8\",\"w9\",\"w10\",\"w11\"]"
static void edit_vocab_escapes (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab", " [ \"<unk>\" , \"<pad>\",\"caf\\u00e9\",\"\\ud83d\\ude00\",\"a\\\"b\","
      "\"back\\\\slash\",\"tab\\there\",\"\\/x\"" VOCAB_TAIL " ");
}
static void edit_vocab_lone_surrogate (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab", "[\"<unk>\",\"<pad>\",\"a\",\"\\ud83d\",\"b\",\"c\",\"d\",\"e\"" VOCAB_TAIL);
}
static void edit_vocab_nul (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab", "[\"<unk>\",\"<pad>\",\"a\",\"x\\u0000y\",\"b\",\"c\",\"d\",\"e\"" VOCAB_TAIL);
}
static void edit_vocab_bad_escape (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab", "[\"<unk>\",\"<pad>\",\"a\",\"\\x41\",\"b\",\"c\",\"d\",\"e\"" VOCAB_TAIL);
}
static void edit_vocab_control (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab", "[\"<unk>\",\"<pad>\",\"a\",\"new\nline\",\"b\",\"c\",\"d\",\"e\"" VOCAB_TAIL);
}
static void edit_vocab_trailing (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab", "[\"<unk>\",\"<pad>\",\"a\",\"z\",\"b\",\"c\",\"d\",\"e\"" VOCAB_TAIL "x");
}
static void edit_vocab_comma (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.vocab", "[\"<unk>\",\"<pad>\",\"a\",\"z\",\"b\",\"c\",\"d\",\"e\"" ",\"w8\",\"w9\",\"w10\",\"w11\",]");
}

static void
test_vocab_escapes (void)
{
  Damage d;
  damage_setup (&d);
  write_resigned (&d, edit_vocab_escapes);
  GError *error = NULL;
  SeqnnClassifier *c = seqnn_classifier_load (d.bad, &error);
  g_assert_no_error (error);
  SeqnnVocab *vocab = seqnn_classifier_get_vocab (c);
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 2), ==, "caf\xc3\xa9");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 3), ==, "\xf0\x9f\x98\x80");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 4), ==, "a\"b");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 5), ==, "back\\slash");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 6), ==, "tab\there");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 7), ==, "/x");
  g_assert_cmpstr (seqnn_vocab_get_token (vocab, 11), ==, "w11");
  seqnn_classifier_free (c);
  struct { HeaderEdit edit; const gchar *expect; } bad[] = {
    { edit_vocab_lone_surrogate, "unpaired surrogate in element 3" },
    { edit_vocab_nul, "element 3 holds a NUL" },
    { edit_vocab_bad_escape, "bad escape in element 3" },
    { edit_vocab_control, "control character in element 3" },
    { edit_vocab_trailing, "text after the array" },
    { edit_vocab_comma, "element 12 is not a string" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    write_resigned (&d, bad[i].edit);
    assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, bad[i].expect);
  }
  damage_teardown (&d);
}

/* Tensors stored in another order (the safetensors package sorts by name):
 * loaded by their offsets, same parameters. */
static void
test_data_order (void)
{
  Damage d;
  damage_setup (&d);
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data (d.bytes, &len);
  JsonParser *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, (const gchar *) bytes + 8, (gssize) d.header_len, NULL));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  const guint8 *data = bytes + 8 + d.header_len;
  gsize data_len = len - 8 - d.header_len;
  GList *names = g_list_sort (json_object_get_members (root), compare_cstr);
  names = g_list_reverse (names);
  GByteArray *moved = g_byte_array_new ();
  for (GList *l = names; l; l = l->next) {
    if (strcmp (l->data, "__metadata__") == 0)
      continue;
    gint64 b = get_offset (root, l->data, 0), e = get_offset (root, l->data, 1);
    gint64 at = moved->len;
    g_byte_array_append (moved, data + b, (guint) (e - b));
    set_offsets (root, l->data, at, at + (e - b));
  }
  g_list_free (names);
  g_assert_cmpuint (moved->len, ==, data_len);
  g_assert_false (memcmp (moved->data, data, data_len) == 0);
  JsonObject *meta = json_object_get_object_member (root, "__metadata__");
  gchar *checksum = doc_checksum (root, moved->data, moved->len, FALSE);
  json_object_set_string_member (meta, "seqnn.checksum", checksum);
  gchar *json = json_to_string (json_parser_get_root (parser), FALSE);
  GByteArray *out = g_byte_array_new ();
  guint64 n = GUINT64_TO_LE ((guint64) strlen (json));
  g_byte_array_append (out, (const guint8 *) &n, 8);
  g_byte_array_append (out, (const guint8 *) json, (guint) strlen (json));
  g_byte_array_append (out, moved->data, moved->len);
  write_file (d.bad, out->data, out->len);
  GError *error = NULL;
  SeqnnClassifier *a = seqnn_classifier_load (d.good, &error);
  g_assert_no_error (error);
  SeqnnClassifier *b = seqnn_classifier_load (d.bad, &error);
  g_assert_no_error (error);
  assert_classifiers_equal (a, b);
  seqnn_classifier_free (a);
  seqnn_classifier_free (b);
  g_byte_array_unref (out);
  g_byte_array_unref (moved);
  g_free (json);
  g_free (checksum);
  g_object_unref (parser);
  damage_teardown (&d);
}

/* ---- strict JSON: crafted headers and metadata (issue 9) ------------------- */

#define DEEP 75000

/* "[[[...]]]" nested DEEP levels. */
static gchar *
deep_arrays (void)
{
  GString *s = g_string_new (NULL);
  for (gint i = 0; i < DEEP; i++)
    g_string_append_c (s, '[');
  for (gint i = 0; i < DEEP; i++)
    g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* The good file with its header text replaced by header (data kept). */
static void
write_header_text (Damage *d, const gchar *header)
{
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data (d->bytes, &len);
  GByteArray *out = g_byte_array_new ();
  guint64 n = GUINT64_TO_LE ((guint64) strlen (header));
  g_byte_array_append (out, (const guint8 *) &n, 8);
  g_byte_array_append (out, (const guint8 *) header, (guint) strlen (header));
  g_byte_array_append (out, bytes + 8 + d->header_len, (guint) (len - 8 - d->header_len));
  write_file (d->bad, out->data, out->len);
  g_byte_array_unref (out);
}

/* The good header with the first find replaced by replace. */
static gchar *
header_replace (Damage *d, const gchar *find, const gchar *replace)
{
  gchar *header = g_strndup ((const gchar *) g_bytes_get_data (d->bytes, NULL) + 8, d->header_len);
  g_strchomp (header);
  gchar *at = strstr (header, find);
  g_assert_nonnull (at);
  *at = '\0';
  gchar *out = g_strconcat (header, replace, at + strlen (find), NULL);
  g_free (header);
  return out;
}

static gchar *tokenizer_text;
static void edit_tokenizer_text (JsonObject *r, JsonObject *m)
{
  json_object_set_string_member (m, "seqnn.tokenizer", tokenizer_text);
}

static void
test_strict_json (void)
{
  Damage d;
  damage_setup (&d);
  gchar *deep = deep_arrays ();
  const gchar *tok = "\"name\":\"basic_english\",\"lowercase\":true,\"strip_markup\":false,\"max_tokens\":0";
  /* Header: prefix inserted after the opening '{', or a replacement. */
  struct { const gchar *find, *replace; const gchar *expect; } header_cases[] = {
    /* json-glib's lenient syntax once hid deep nesting from the old guard */
    { "{", "{\"a\":'\"',\"deep\":%s,", "single-quoted string (JSON strings use double quotes) at byte 5 " },
    { "{", "{/* \" */\"deep\":%s,", "comment (JSON has no comments) at byte 1 " },
    { "{", "{\"deep\":%s,", "nested too deeply at byte 23 " },
    { "{", "{\"fc.bias\":{},", "object repeats a key \"fc.bias\" at byte " },
    { "\"dtype\":\"F32\"", "\"dtype\":\"F32\",\"dtype\":\"F16\"", "object repeats a key \"dtype\"" },
    { "\"note\":", "\"note\":\"x\",\"note\":", "object repeats a key \"note\"" },
    { "\"shape\":[", "\"shape\":[1,", "tensor \"" }, /* strict but wrong: reaches the shape check */
    { "\"shape\":[", "\"shape\":[NaN,", "NaN or Infinity (not JSON)" },
    { "\"shape\":[", "\"shape\":[-Infinity,", "NaN or Infinity (not JSON)" },
    { "\"shape\":[", "\"shape\":[1e999,", "number out of range" },
    { "\"shape\":[", "\"shape\":[99999999999999999999,", "integer out of the 64-bit range" },
    { "\"shape\":[", "\"shape\":[01,", "leading zero" },
    { "\"data_offsets\":[", "\"data_offsets\":[0,", "tensor \"" },
    { "],\"data_offsets\"", ",],\"data_offsets\"", "trailing comma" },
    { "{\"dtype\"", "{\"dtype\":\"F32\",}, \"x\":{\"dtype\"", "trailing comma" },
    { "\"dtype\":", "'dtype':", "single-quoted key" },
    { "\"dtype\":", "\"dtype\" // c\n:", "expected ':' after the key" },
    { "\"format\":\"seqnn\"", "\"format\":\"seq\\u0000nn\"", "NUL character" },
    { "\"format\":\"seqnn\"", "\"format\":\"\\udc00\"", "unpaired surrogate" },
    { "\"format\":\"seqnn\"", "\"format\":\"seqnn\" /* c */", "comment (JSON has no comments)" },
    { "\"format\":\"seqnn\"", "\"format\":\"seq\tnn\"", "control character" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (header_cases); i++) {
    gchar *replace = g_strdup_printf (header_cases[i].replace, deep);
    gchar *header = header_replace (&d, header_cases[i].find, replace);
    write_header_text (&d, header);
    assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, header_cases[i].expect);
    g_free (header);
    g_free (replace);
  }
  /* whole-header shapes: a comment after the object, nothing, a second value */
  struct { const gchar *suffix; const gchar *expect; } tails[] = {
    { " // end", "comment (JSON has no comments)" },
    { " {}", "text after the JSON value" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (tails); i++) {
    gchar *header = header_replace (&d, "{", "{");
    gchar *crafted = g_strconcat (header, tails[i].suffix, NULL);
    write_header_text (&d, crafted);
    assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, tails[i].expect);
    g_free (crafted);
    g_free (header);
  }
  /* Metadata strings, re-signed so that only their JSON is wrong. */
  struct { const gchar *format; const gchar *expect; } meta_cases[] = {
    { "{'\"':1,\"x\":%2$s,%1$s}", "single-quoted key (JSON strings use double quotes) at byte 1 of the value" },
    { "{/* \" */\"x\":%2$s,%1$s}", "comment (JSON has no comments) at byte 1 of the value" },
    { "{\"x\":%2$s,%1$s}", "nested too deeply at byte 20 of the value" },
    { "{%1$s,\"lowercase\":false}", "object repeats a key \"lowercase\"" },
    { "{%1$s,\"x\":{\"a\":1,\"a\":2}}", "object repeats a key \"a\"" },
    { "{%1$s,}", "trailing comma" },
    { "{%1$s,\"x\":[1,]}", "trailing comma" },
    { "{%1$s,\"x\":NaN}", "NaN or Infinity (not JSON)" },
    { "{%1$s} // c", "comment (JSON has no comments)" },
    { "{%1$s,\"x\":1}", NULL }, /* strict JSON with an unknown member: loads */
  };
  for (guint i = 0; i < G_N_ELEMENTS (meta_cases); i++) {
    tokenizer_text = g_strdup_printf (meta_cases[i].format, tok, deep);
    write_resigned (&d, edit_tokenizer_text);
    if (meta_cases[i].expect) {
      assert_load_fails (d.bad, SEQNN_ERROR_CORRUPT, SEQNN_ERROR_CORRUPT, meta_cases[i].expect);
    } else {
      GError *error = NULL;
      SeqnnClassifier *c = seqnn_classifier_load (d.bad, &error);
      g_assert_no_error (error);
      seqnn_classifier_free (c);
    }
    g_clear_pointer (&tokenizer_text, g_free);
  }
  g_free (deep);
  damage_teardown (&d);
}

/* ---- atomic saves ---------------------------------------------------------- */

static void
assert_save_fails (const SeqnnClassifier *c, const gchar *path, const gchar *expect)
{
  GError *error = NULL;
  g_assert_false (seqnn_classifier_save (c, path, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  if (strstr (error->message, expect) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", error->message, expect);
  g_error_free (error);
}

static void
test_save_failures (void)
{
  Damage d;
  damage_setup (&d);
  SeqnnClassifier *c = seqnn_classifier_load (d.good, NULL);
  g_assert_nonnull (c);
  guint n_before = count_entries (d.dir);

  gchar *in_missing = g_build_filename (d.dir, "no-such-folder", "x.model", NULL);
  assert_save_fails (c, in_missing, "no-such-folder/x.model");
  assert_save_fails (c, in_missing, g_strerror (ENOENT));
  g_free (in_missing);

  /* a directory at the path: refused, the directory untouched */
  gchar *sub = g_build_filename (d.dir, "sub", NULL);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  assert_save_fails (c, sub, g_strerror (EISDIR));
  g_assert_true (g_file_test (sub, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (count_entries (sub), ==, 0);

  /* a folder we may not write to (root ignores modes; /proc refuses everyone) */
  if (geteuid () != 0) {
    g_assert_cmpint (g_chmod (sub, 0555), ==, 0);
    gchar *locked = g_build_filename (sub, "x.model", NULL);
    assert_save_fails (c, locked, g_strerror (EACCES));
    g_free (locked);
    g_chmod (sub, 0755);
  }
  assert_save_fails (c, "/proc/seqnn-test.model", "/proc/seqnn-test.model");
  g_assert_cmpuint (count_entries (sub), ==, 0);
  g_rmdir (sub);
  g_free (sub);
  g_assert_cmpuint (count_entries (d.dir), ==, n_before);
  seqnn_classifier_free (c);
  damage_teardown (&d);
}

/* Both the pre-training check and the save refuse path, saying expect. */
static void
assert_target_refused (const SeqnnClassifier *c, const gchar *path, const gchar *expect)
{
  GError *error = NULL;
  g_assert_false (seqnn_classifier_check_save_path (path, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  if (strstr (error->message, expect) == NULL)
    g_error ("check: message \"%s\" lacks \"%s\"", error->message, expect);
  g_clear_error (&error);
  assert_save_fails (c, path, expect);
}

static void
assert_check_passes (const gchar *path)
{
  GError *error = NULL;
  g_assert_true (seqnn_classifier_check_save_path (path, &error));
  g_assert_no_error (error);
}

/* Read-only targets, symbolic links, things that are not regular files. */
static void
test_save_targets (void)
{
  Damage d;
  damage_setup (&d);
  SeqnnClassifier *c = seqnn_classifier_load (d.good, NULL);
  g_assert_nonnull (c);
  seqnn_classifier_set_metadata (c, "note", "second save");
  GBytes *before = read_file (d.good);
  guint n_before = count_entries (d.dir);

  /* the check writes nothing: a new path and an existing file pass */
  gchar *fresh = g_build_filename (d.dir, "fresh.model", NULL);
  assert_check_passes (fresh);
  assert_check_passes (d.good);
  g_assert_cmpuint (count_entries (d.dir), ==, n_before);

  /* read-only (mode 0444): refused even as root, the file untouched */
  g_assert_cmpint (g_chmod (d.good, 0444), ==, 0);
  assert_target_refused (c, d.good, "read-only (mode 0444)");
  GBytes *after = read_file (d.good);
  g_assert_true (g_bytes_equal (before, after));
  g_bytes_unref (after);
  g_assert_cmpint (g_chmod (d.good, 0640), ==, 0);

  /* a link (relative, through a second link) is followed: its target is
   * replaced atomically, the links stay links, nothing else is left */
  gchar *sub = g_build_filename (d.dir, "sub", NULL);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  gchar *real = g_build_filename (sub, "real.model", NULL);
  g_assert_cmpint (rename (d.good, real), ==, 0);
  gchar *link = g_build_filename (d.dir, "link.model", NULL);
  gchar *link2 = g_build_filename (d.dir, "link2.model", NULL);
  g_assert_cmpint (symlink ("sub/real.model", link), ==, 0);
  g_assert_cmpint (symlink (link, link2), ==, 0);
  assert_check_passes (link2);
  GError *error = NULL;
  g_assert_true (seqnn_classifier_save (c, link2, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_test (link2, G_FILE_TEST_IS_SYMLINK));
  gchar *points = g_file_read_link (link, NULL);
  g_assert_cmpstr (points, ==, "sub/real.model");
  g_free (points);
  struct stat st;
  g_assert_cmpint (lstat (real, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0640); /* the old file's mode kept */
  SeqnnClassifier *back = seqnn_classifier_load (real, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (seqnn_classifier_get_metadata (back, "note"), ==, "second save");
  seqnn_classifier_free (back);
  g_assert_cmpuint (count_entries (sub), ==, 1);
  g_assert_cmpuint (count_entries (d.dir), ==, n_before + 2); /* sub, link, link2; good moved away */
  /* a link to a read-only file is refused too, saying where it points */
  g_assert_cmpint (g_chmod (real, 0444), ==, 0);
  assert_target_refused (c, link, "(a link to '");
  assert_target_refused (c, link, "read-only (mode 0444)");
  g_chmod (real, 0644);

  /* a dangling link, a link to a folder, a device (directly or by a link) */
  gchar *dangling = g_build_filename (d.dir, "dangling.model", NULL);
  g_assert_cmpint (symlink ("sub/none.model", dangling), ==, 0);
  assert_target_refused (c, dangling, "which does not exist (not writing through a dangling link)");
  g_assert_false (g_file_test (dangling, G_FILE_TEST_EXISTS)); /* still dangling */
  gchar *to_dir = g_build_filename (d.dir, "to-dir.model", NULL);
  g_assert_cmpint (symlink ("sub", to_dir), ==, 0);
  assert_target_refused (c, to_dir, g_strerror (EISDIR));
  assert_target_refused (c, sub, g_strerror (EISDIR));
  gchar *to_full = g_build_filename (d.dir, "full.model", NULL);
  g_assert_cmpint (symlink ("/dev/full", to_full), ==, 0);
  assert_target_refused (c, to_full, "it is a character device, not a regular file");
  assert_target_refused (c, "/dev/full", "it is a character device, not a regular file");
  gchar *fifo = g_build_filename (d.dir, "fifo.model", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  assert_target_refused (c, fifo, "it is a FIFO, not a regular file");
  gchar *loop = g_build_filename (d.dir, "loop.model", NULL);
  g_assert_cmpint (symlink ("loop.model", loop), ==, 0);
  assert_target_refused (c, loop, g_strerror (ELOOP));
  g_assert_cmpuint (count_entries (sub), ==, 1);

  g_free (loop);
  g_free (fifo);
  g_free (to_full);
  g_free (to_dir);
  g_free (dangling);
  g_free (link2);
  g_free (link);
  g_free (real);
  g_free (sub);
  g_free (fresh);
  g_bytes_unref (before);
  seqnn_classifier_free (c);
  damage_teardown (&d);
}

/* Names in dir starting with prefix. */
static guint
count_prefixed (const gchar *dir, const gchar *prefix)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  guint n = 0;
  const gchar *name;
  while ((name = g_dir_read_name (d)) != NULL)
    n += g_str_has_prefix (name, prefix);
  g_dir_close (d);
  return n;
}

/* Temporaries a killed save left (unlocked) are removed by the next save of
 * the same target; a live one (locked) and the user's other files are not. */
static void
test_save_stale_temps (void)
{
  Damage d;
  damage_setup (&d);
  SeqnnClassifier *c = seqnn_classifier_load (d.good, NULL);
  g_assert_nonnull (c);
  gchar *stale = g_build_filename (d.dir, ".good.model.seqnn-AAAAAA", NULL);
  gchar *live = g_build_filename (d.dir, ".good.model.seqnn-BBBBBB", NULL);
  gchar *other = g_build_filename (d.dir, ".other.model.seqnn-CCCCCC", NULL);
  gchar *backup = g_build_filename (d.dir, "good.model.backup", NULL);
  const gchar *const files[] = { stale, live, other, backup };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    write_file (files[i], (const guint8 *) "x", 1);
  int lock_fd = open (live, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (lock_fd, >=, 0);
  g_assert_cmpint (flock (lock_fd, LOCK_EX), ==, 0);
  GError *error = NULL;
  g_assert_true (seqnn_classifier_save (c, d.good, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (live, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (other, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (backup, G_FILE_TEST_EXISTS));
  close (lock_fd); /* its owner "dies" */
  g_assert_true (seqnn_classifier_save (c, d.good, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (live, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_prefixed (d.dir, ".good.model"), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    g_free ((gchar *) files[i]);
  seqnn_classifier_free (c);
  damage_teardown (&d);
}

/* kill -9 at random moments of saving: the target is always a whole model
 * (old or new), and after the next save no temporary is left. */
static void
test_save_killed (void)
{
  Damage d;
  damage_setup (&d);
  SeqnnConfig config;
  small_config (&config);
  config.vocab_size = 4000;
  config.embed_dim = 64; /* ~1 MB: a save takes a moment */
  SeqnnClassifier *c = make_classifier (&config, 5);
  gchar *target = g_build_filename (d.dir, "target.model", NULL);
  GError *error = NULL;
  g_assert_true (seqnn_classifier_save (c, target, &error));
  g_assert_no_error (error);
  GRand *rand = g_rand_new_with_seed (9);
  guint kills = under_valgrind ? 4 : 30, left = 0;
  for (guint k = 0; k < kills; k++) {
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
      for (;;)
        seqnn_classifier_save (c, target, NULL);
    }
    g_usleep (g_rand_int_range (rand, 1000, under_valgrind ? 400000 : 40000));
    g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
    int status = 0;
    g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    g_assert_true (WIFSIGNALED (status));
    left += count_prefixed (d.dir, ".target.model");
    SeqnnClassifier *back = seqnn_classifier_load (target, &error);
    g_assert_no_error (error);
    seqnn_classifier_free (back);
  }
  g_test_message ("%u kills left %u temporaries behind (O_TMPFILE leaves none while writing)", kills, left);
  g_assert_true (seqnn_classifier_save (c, target, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_prefixed (d.dir, ".target.model"), ==, 0);
  g_rand_free (rand);
  g_free (target);
  seqnn_classifier_free (c);
  damage_teardown (&d);
}

/* A short write, made by a file size limit in a child process: the error says
 * why, the existing file is byte-identical, no temporary is left. */
static void
short_write_child (void)
{
  const gchar *dir = g_getenv ("SEQNN_SHORT_WRITE_DIR");
  gchar *target = g_build_filename (dir, "target.model", NULL);
  SeqnnConfig config;
  small_config (&config);
  config.vocab_size = 2000;
  config.embed_dim = 64; /* ~512 KB: more than the limit below */
  SeqnnClassifier *c = make_classifier (&config, 3);
  signal (SIGXFSZ, SIG_IGN);
  struct rlimit limit = { 64 * 1024, 64 * 1024 };
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  GError *error = NULL;
  g_assert_false (seqnn_classifier_save (c, target, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_IO);
  g_print ("%s\n", error->message);
  g_error_free (error);
  seqnn_classifier_free (c);
  g_free (target);
}

static void
test_short_write (void)
{
  if (g_test_subprocess ()) {
    short_write_child ();
    return;
  }
  Damage d;
  damage_setup (&d);
  gchar *target = g_build_filename (d.dir, "target.model", NULL);
  g_assert_cmpint (rename (d.good, target), ==, 0);
  GBytes *before = read_file (target);
  guint n_before = count_entries (d.dir);
  g_setenv ("SEQNN_SHORT_WRITE_DIR", d.dir, TRUE); /* inherited by the child */
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("SEQNN_SHORT_WRITE_DIR");
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*cannot write*target.model*File too large*");
  GBytes *after = read_file (target);
  g_assert_true (g_bytes_equal (before, after));
  g_assert_cmpuint (count_entries (d.dir), ==, n_before);
  GError *error = NULL;
  SeqnnClassifier *c = seqnn_classifier_load (target, &error);
  g_assert_no_error (error);
  seqnn_classifier_free (c);
  g_bytes_unref (before);
  g_bytes_unref (after);
  g_free (target);
  damage_teardown (&d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  under_valgrind = g_strcmp0 (g_getenv ("SEQNN_UNDER_VALGRIND"), "1") == 0;
  g_test_add_func ("/modelfile/roundtrip", test_roundtrip);
  g_test_add_func ("/modelfile/classifier-api", test_classifier_api);
  g_test_add_func ("/modelfile/vocab-escapes", test_vocab_escapes);
  g_test_add_func ("/modelfile/data-order", test_data_order);
  g_test_add_func ("/modelfile/damage/truncation", test_truncation);
  g_test_add_func ("/modelfile/damage/flips", test_flips);
  g_test_add_func ("/modelfile/damage/header-edits", test_header_edits);
  g_test_add_func ("/modelfile/damage/framing", test_framing);
  g_test_add_func ("/modelfile/damage/strict-json", test_strict_json);
  g_test_add_func ("/modelfile/checksum-definition", test_checksum_definition);
  g_test_add_func ("/modelfile/save/failures", test_save_failures);
  g_test_add_func ("/modelfile/save/short-write", test_short_write);
  g_test_add_func ("/modelfile/save/targets", test_save_targets);
  g_test_add_func ("/modelfile/save/stale-temps", test_save_stale_temps);
  g_test_add_func ("/modelfile/save/killed", test_save_killed);
  return g_test_run ();
}
