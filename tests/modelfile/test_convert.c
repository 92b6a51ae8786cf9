/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Conversion parity: torch classifiers converted by models/convert.py
 * (tests/fixtures/convert, made by tests/fixtures/make_convert_fixtures.py)
 * give torch's probabilities on the first 500 AG News dev rows, read from
 * SEQNN_SHARED_DATA and tokenized by libseqnn, within 1e-5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "seqnn/seqnn.h"

#define TOLERANCE 1e-5
#define BATCH 64

/* The fixture's rows: n_tokens id_sum p_0 .. p_C-1 */
typedef struct {
  gint n_rows, n_classes;
  gint *n_tokens;
  gint64 *id_sum;
  gdouble *probs;
} Expected;

static void
expected_load (Expected *e, const gchar *path)
{
  gchar *text = NULL;
  GError *error = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  gchar **lines = g_strsplit (text, "\n", -1);
  g_free (text);
  g_assert_cmpint (sscanf (lines[0], "# rows %d classes %d", &e->n_rows, &e->n_classes), ==, 2);
  e->n_tokens = g_new (gint, e->n_rows);
  e->id_sum = g_new (gint64, e->n_rows);
  e->probs = g_new (gdouble, (gsize) e->n_rows * e->n_classes);
  for (gint r = 0; r < e->n_rows; r++) {
    gchar **fields = g_strsplit (lines[r + 1], " ", -1);
    g_assert_cmpuint (g_strv_length (fields), ==, (guint) e->n_classes + 2);
    e->n_tokens[r] = atoi (fields[0]);
    e->id_sum[r] = g_ascii_strtoll (fields[1], NULL, 10);
    for (gint c = 0; c < e->n_classes; c++)
      e->probs[(gsize) r * e->n_classes + c] = g_ascii_strtod (fields[c + 2], NULL);
    g_strfreev (fields);
  }
  g_strfreev (lines);
}

static void
expected_clear (Expected *e)
{
  g_free (e->n_tokens);
  g_free (e->id_sum);
  g_free (e->probs);
}

/* AG News CSV rows ("class","title","description"), text = the columns after
 * the class joined with a space, as Python's csv module + torch_baseline.py. */
static GPtrArray *
read_agnews_texts (const gchar *path, gint max_rows)
{
  gchar *data = NULL;
  gsize len = 0;
  GError *error = NULL;
  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  GPtrArray *texts = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  GString *text = g_string_new (NULL);
  gint column = 0;
  gboolean quoted = FALSE, any = FALSE;
  for (gsize i = 0; i <= len && (gint) texts->len < max_rows; i++) {
    gchar c = i < len ? data[i] : '\n';
    if (quoted) {
      if (c == '"' && i + 1 < len && data[i + 1] == '"') {
        g_string_append_c (field, '"');
        i++;
      } else if (c == '"') {
        quoted = FALSE;
      } else {
        g_string_append_c (field, c);
      }
      continue;
    }
    if (c == '"') {
      quoted = TRUE;
      any = TRUE;
    } else if (c == ',' || c == '\n') {
      if (column >= 1) {
        if (column >= 2)
          g_string_append_c (text, ' ');
        g_string_append_len (text, field->str, (gssize) field->len);
      }
      g_string_truncate (field, 0);
      column++;
      if (c == '\n') {
        if (any || column > 1)
          g_ptr_array_add (texts, g_strdup (text->str));
        g_string_truncate (text, 0);
        column = 0;
        any = FALSE;
      }
    } else if (c != '\r') {
      g_string_append_c (field, c);
      any = TRUE;
    }
  }
  g_string_free (field, TRUE);
  g_string_free (text, TRUE);
  g_free (data);
  return texts;
}

static void
check_model (const gchar *name)
{
  gchar *model_path = g_strdup_printf ("%s/convert/%s.model", SEQNN_TEST_FIXTURES, name);
  gchar *probs_path = g_strdup_printf ("%s/convert/%s.probs", SEQNN_TEST_FIXTURES, name);
  GError *error = NULL;
  /* the converted file loads whether or not the data is here */
  SeqnnClassifier *classifier = seqnn_classifier_load (model_path, &error);
  g_assert_no_error (error);
  Expected e;
  expected_load (&e, probs_path);
  g_assert_cmpuint (seqnn_classifier_get_n_labels (classifier), ==, (guint) e.n_classes);
  g_assert_cmpstr (seqnn_classifier_get_label (classifier, 1), ==, "Sports");
  const gchar *shared = g_getenv ("SEQNN_SHARED_DATA");
  gchar *dev = shared ? g_build_filename (shared, "agnews", "dev.csv", NULL) : NULL;
  if (dev == NULL || !g_file_test (dev, G_FILE_TEST_IS_REGULAR)) {
    g_test_skip ("AG News dev.csv not found (set SEQNN_SHARED_DATA to ../shared/data): parity not checked");
    expected_clear (&e);
    seqnn_classifier_free (classifier);
    g_free (model_path);
    g_free (probs_path);
    g_free (dev);
    return;
  }
  gint n_rows = e.n_rows;
  if (g_strcmp0 (g_getenv ("SEQNN_UNDER_VALGRIND"), "1") == 0)
    n_rows = MIN (n_rows, 64);
  GPtrArray *texts = read_agnews_texts (dev, n_rows);
  g_assert_cmpuint (texts->len, ==, (guint) n_rows);

  /* encode as the fixture script: an empty text becomes one <unk> (as
   * seqnn_classifier_encode does) */
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  gint *lengths = g_new (gint, n_rows);
  gint n_mismatch = 0;
  for (gint r = 0; r < n_rows; r++) {
    guint start = ids->len;
    seqnn_classifier_encode (classifier, texts->pdata[r], -1, tokens, ids);
    lengths[r] = (gint) (ids->len - start);
    gint64 sum = 0;
    for (guint i = start; i < ids->len; i++)
      sum += g_array_index (ids, gint32, i);
    if (lengths[r] != e.n_tokens[r] || sum != e.id_sum[r]) {
      if (n_mismatch++ < 5)
        g_printerr ("row %d: %d tokens, id sum %" G_GINT64_FORMAT "; torch had %d, %" G_GINT64_FORMAT "\n",
            r, lengths[r], sum, e.n_tokens[r], e.id_sum[r]);
    }
  }
  /* a tokenizer or vocabulary difference, not an engine one */
  g_assert_cmpint (n_mismatch, ==, 0);

  const SeqnnModel *model = seqnn_classifier_peek_model (classifier);
  SeqnnInference *inference = seqnn_inference_new (model, 1);
  gfloat *probs = g_new (gfloat, (gsize) BATCH * e.n_classes);
  gsize offset = 0;
  gdouble max_diff = 0;
  for (gint r0 = 0; r0 < n_rows; r0 += BATCH) {
    SeqnnBatch batch = { 0 };
    batch.n = MIN (BATCH, n_rows - r0);
    batch.ids = &g_array_index (ids, gint32, offset);
    batch.lengths = lengths + r0;
    g_assert_true (seqnn_inference_run (inference, &batch, probs, NULL, &error));
    g_assert_no_error (error);
    for (gint b = 0; b < batch.n; b++) {
      offset += (gsize) lengths[r0 + b];
      for (gint c = 0; c < e.n_classes; c++) {
        gdouble diff = fabs (probs[b * e.n_classes + c] - e.probs[(gsize) (r0 + b) * e.n_classes + c]);
        max_diff = MAX (max_diff, diff);
        if (diff > TOLERANCE)
          g_error ("%s row %d class %d: %.9g, torch %.9g", name, r0 + b, c,
              probs[b * e.n_classes + c], e.probs[(gsize) (r0 + b) * e.n_classes + c]);
      }
    }
  }
  g_test_message ("%s: %d rows, max |p - p_torch| = %.3g", name, n_rows, max_diff);
  g_free (probs);
  seqnn_inference_free (inference);
  g_free (lengths);
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
  g_ptr_array_unref (texts);
  expected_clear (&e);
  seqnn_classifier_free (classifier);
  g_free (model_path);
  g_free (probs_path);
  g_free (dev);
}

static void
test_model (gconstpointer name)
{
  check_model (name);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/convert/lstm", "lstm", test_model);
  g_test_add_data_func ("/convert/gru2-bi", "gru2-bi", test_model);
  g_test_add_data_func ("/convert/rnn-tanh-mean", "rnn-tanh-mean", test_model);
  g_test_add_data_func ("/convert/bag-mean", "bag-mean", test_model);
  return g_test_run ();
}
