/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: the model file loader. The input is a model file.
 * Checked: a refusal is SEQNN_ERROR_CORRUPT or SEQNN_ERROR_UNSUPPORTED with a
 * message; an accepted model encodes and classifies a sentence, and saving it,
 * loading that and saving again gives the same bytes twice. */
#include <seqnn/classifier.h>
#include "fuzz.h"

static const gchar *input_path, *saved_path, *resaved_path;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_glib ();
  input_path = fuzz_scratch_path ("input.model");
  saved_path = fuzz_scratch_path ("saved.model");
  resaved_path = fuzz_scratch_path ("resaved.model");
  return 0;
}

/* One sentence through the model: the network must run on any accepted
 * architecture without reading out of bounds. */
static void
classify (SeqnnClassifier *classifier)
{
  static const gchar text[] = "The Red Sox beat the Yankees, 5-3 (again)!";
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  seqnn_classifier_encode (classifier, text, -1, tokens, ids);
  if (ids->len == 0) {
    gint32 unk = SEQNN_VOCAB_UNK_ID;
    g_array_append_val (ids, unk);
  }
  const SeqnnModel *model = seqnn_classifier_peek_model (classifier);
  gint length = (gint) ids->len;
  SeqnnBatch batch = { .ids = (const gint32 *) ids->data, .lengths = &length, .n = 1 };
  gfloat *probs = g_new (gfloat, seqnn_model_get_config (model)->num_classes);
  SeqnnInference *inference = seqnn_inference_new (model, 1);
  GError *error = NULL;
  fuzz_check (seqnn_inference_run (inference, &batch, probs, NULL, &error), "inference failed");
  seqnn_inference_free (inference);
  g_free (probs);
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
}

static void
save (SeqnnClassifier *classifier, const gchar *path)
{
  GError *error = NULL;
  if (!seqnn_classifier_save (classifier, path, &error)) {
    fprintf (stderr, "saving a loaded model failed: %s\n", error->message);
    abort ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_write_file (input_path, data, size);
  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (input_path, &error);
  if (classifier == NULL) {
    fuzz_check (error != NULL && error->domain == SEQNN_ERROR
        && (error->code == SEQNN_ERROR_CORRUPT || error->code == SEQNN_ERROR_UNSUPPORTED),
        "a refused model file gave no error, or not CORRUPT or UNSUPPORTED");
    fuzz_check (error->message != NULL && *error->message != '\0', "empty error message");
    g_error_free (error);
    return 0;
  }
  fuzz_check (error == NULL, "an error set on success");
  classify (classifier);
  save (classifier, saved_path);
  seqnn_classifier_free (classifier);

  SeqnnClassifier *reloaded = seqnn_classifier_load (saved_path, &error);
  if (reloaded == NULL) {
    fprintf (stderr, "a saved model does not load: %s\n", error->message);
    abort ();
  }
  save (reloaded, resaved_path);
  seqnn_classifier_free (reloaded);
  GBytes *saved = fuzz_read_file (saved_path);
  GBytes *resaved = fuzz_read_file (resaved_path);
  fuzz_check (g_bytes_equal (saved, resaved), "load and save again changed the bytes");
  g_bytes_unref (saved);
  g_bytes_unref (resaved);
  return 0;
}
