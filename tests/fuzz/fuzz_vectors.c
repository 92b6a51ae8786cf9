/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: the word-vector reader (GloVe / word2vec text).
 * Input: byte 0 picks the embedding size (1 + low 2 bits) and, with bit 2, a
 * padding row; the rest is the vector file, read into a small model whose
 * vocabulary holds a few words (see vocab_words and the dictionary).
 * Checked: a refusal is SEQNN_ERROR_PARSE and leaves every parameter as it
 * was; success changes only embedding rows (never the padding row), leaves
 * them finite and counts at most one find per vocabulary word. */
#include <math.h>
#include <seqnn/classifier.h>
#include "fuzz.h"

static const gchar *const vocab_words[] = {
  "<unk>", "<pad>", "the", "cat", "sat", "on", "mat", "é", "日本", "2",
};

static const gchar *vectors_path;
static SeqnnVocab *vocab;
static SeqnnModel *templates[8]; /* by embed size - 1 and padding */

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_glib ();
  vectors_path = fuzz_scratch_path ("vectors.txt");
  GError *error = NULL;
  vocab = seqnn_vocab_new_from_tokens (vocab_words, G_N_ELEMENTS (vocab_words), &error);
  fuzz_check (vocab != NULL, "vocabulary");
  for (guint i = 0; i < G_N_ELEMENTS (templates); i++) {
    SeqnnConfig config;
    seqnn_config_init_default (&config);
    config.vocab_size = (gint) G_N_ELEMENTS (vocab_words);
    config.embed_dim = 1 + (gint) (i % 4);
    config.hidden_dim = 2;
    config.num_classes = 2;
    config.padding_idx = i >= 4 ? SEQNN_VOCAB_PAD_ID : -1;
    templates[i] = seqnn_model_new (&config, &error);
    fuzz_check (templates[i] != NULL, "model");
    seqnn_model_init_params (templates[i], 1 + i);
  }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const SeqnnModel *template = templates[(data[0] & 3) + ((data[0] & 4) ? 4 : 0)];
  const SeqnnConfig *config = seqnn_model_get_config (template);
  fuzz_write_file (vectors_path, data + 1, size - 1);
  SeqnnModel *model = seqnn_model_copy (template);
  gsize n_found = G_MAXSIZE;
  GError *error = NULL;
  gboolean ok = seqnn_model_load_word_vectors (model, vocab, vectors_path, &n_found, &error);

  gsize n_params = 0, n_before = 0;
  const gfloat *after = seqnn_model_peek_params (model, &n_params);
  const gfloat *before = seqnn_model_peek_params (template, &n_before);
  fuzz_check (n_params == n_before, "parameter count changed");
  const SeqnnTensorInfo *embedding = seqnn_model_find_tensor (model, "embedding.weight");
  gsize emb_begin = embedding->offset, emb_end = embedding->offset + embedding->numel;
  if (!ok) {
    fuzz_check (error != NULL && error->domain == SEQNN_ERROR && error->code == SEQNN_ERROR_PARSE,
        "a refused vector file gave no error, or not SEQNN_ERROR_PARSE");
    fuzz_check (memcmp (before, after, n_params * sizeof (gfloat)) == 0,
        "a refused vector file changed the model");
    g_error_free (error);
  } else {
    fuzz_check (error == NULL, "an error set on success");
    fuzz_check (n_found <= G_N_ELEMENTS (vocab_words), "more words found than the vocabulary has");
    for (gsize i = 0; i < n_params; i++) {
      gboolean in_embedding = i >= emb_begin && i < emb_end;
      gboolean in_padding = config->padding_idx >= 0
          && i >= emb_begin + (gsize) config->padding_idx * (gsize) config->embed_dim
          && i < emb_begin + (gsize) (config->padding_idx + 1) * (gsize) config->embed_dim;
      if (!in_embedding || in_padding)
        fuzz_check (memcmp (&before[i], &after[i], sizeof (gfloat)) == 0,
            "a parameter outside the embedding (or the padding row) changed");
      else
        fuzz_check (isfinite (after[i]), "a loaded vector is not finite");
    }
  }
  seqnn_model_free (model);
  return 0;
}
