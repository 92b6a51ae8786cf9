/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the model loader's seed corpus: tiny valid models of every cell,
 * head and layout, a bag of embeddings (no recurrent layer) among them (a few
 * hundred bytes of weights each), so the fuzzer starts from files that load.
 * Usage: make-seed-models OUTDIR (the committed
 * tests/fuzz/corpus/modelfile/seed-* came from it). */
#include <stdio.h>
#include <stdlib.h>
#include <seqnn/classifier.h>

static const gchar *const words[] = { "<unk>", "<pad>", "the", "sox", "beat", ",", "!" };
/* the same words with two pairs and a triple, for a bag with word n-grams */
static const gchar *const words_ngrams[] = {
  "<unk>", "<pad>", "the", "sox", "beat", ",", "!", "the sox", "sox beat", "the sox beat",
};
static const gchar *const labels[] = { "World", "Sports", "Business" };

typedef struct {
  const gchar *name;
  SeqnnCell cell;
  gint layers;
  gboolean bidirectional;
  SeqnnHead head;
  gint padding_idx;
  SeqnnTokenizerConfig tokenizer;
} Seed;

static const Seed seeds[] = {
  { "seed-rnn-tanh", SEQNN_CELL_RNN_TANH, 1, FALSE, SEQNN_HEAD_LAST, -1, { TRUE, FALSE, 0, 1 } },
  { "seed-rnn-relu-mean", SEQNN_CELL_RNN_RELU, 1, FALSE, SEQNN_HEAD_MEAN, 1, { TRUE, TRUE, 0, 1 } },
  { "seed-lstm-bi", SEQNN_CELL_LSTM, 1, TRUE, SEQNN_HEAD_LAST, 1, { TRUE, FALSE, 5, 1 } },
  { "seed-gru-2-max", SEQNN_CELL_GRU, 2, FALSE, SEQNN_HEAD_MAX, -1, { FALSE, TRUE, 0, 1 } },
  /* layers 0: no rnn.* tensors, fc reads the embedding; the cell is unused */
  { "seed-bag-mean", SEQNN_CELL_LSTM, 0, FALSE, SEQNN_HEAD_MEAN, 1, { TRUE, FALSE, 0, 1 } },
  /* word n-grams: "word_ngrams" in the tokenizer, entries with spaces in the vocabulary */
  { "seed-bag-ngrams", SEQNN_CELL_LSTM, 0, FALSE, SEQNN_HEAD_MEAN, 1, { TRUE, FALSE, 0, 3 } },
};

static gboolean
write_seed (const Seed *seed, const gchar *dir, GError **error)
{
  const gchar *const *tokens = seed->tokenizer.word_ngrams > 1 ? words_ngrams : words;
  gsize n_tokens = seed->tokenizer.word_ngrams > 1 ? G_N_ELEMENTS (words_ngrams) : G_N_ELEMENTS (words);
  SeqnnConfig config;
  seqnn_config_init_default (&config);
  config.cell = seed->cell;
  config.vocab_size = (gint) n_tokens;
  config.embed_dim = 2;
  config.hidden_dim = 2;
  config.num_layers = seed->layers;
  config.bidirectional = seed->bidirectional;
  config.head = seed->head;
  config.num_classes = (gint) G_N_ELEMENTS (labels);
  config.padding_idx = seed->padding_idx;
  config.dropout = seed->layers > 1 ? 0.25f : 0.0f;
  SeqnnModel *model = seqnn_model_new (&config, error);
  if (model == NULL)
    return FALSE;
  seqnn_model_init_params (model, 7);
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (tokens, n_tokens, error);
  if (vocab == NULL) {
    seqnn_model_free (model);
    return FALSE;
  }
  SeqnnClassifier *classifier = seqnn_classifier_new (model, vocab, &seed->tokenizer, labels, error);
  seqnn_vocab_unref (vocab);
  if (classifier == NULL)
    return FALSE;
  seqnn_classifier_set_metadata (classifier, "note", "fuzz seed");
  gchar *path = g_build_filename (dir, seed->name, NULL);
  gboolean ok = seqnn_classifier_save (classifier, path, error);
  g_free (path);
  seqnn_classifier_free (classifier);
  return ok;
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++) {
    GError *error = NULL;
    if (!write_seed (&seeds[i], argv[1], &error)) {
      fprintf (stderr, "%s: %s\n", seeds[i].name, error->message);
      g_error_free (error);
      return 1;
    }
  }
  return 0;
}
