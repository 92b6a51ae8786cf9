/* seqnn_model_new_ensemble: the merged network's logits are the mean of its
 * members' for every architecture; one member is the member itself; members
 * of different architectures are refused.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "seqnn/model.h"
#include "archcases.h"

#define N_MEMBERS 3
#define N_SEQUENCES 5
#define VOCAB 40
#define CLASSES 3

static SeqnnConfig
member_config (const ArchCase *ac)
{
  SeqnnConfig c;
  seqnn_config_init_default (&c);
  c.cell = ac->cell;
  c.num_layers = ac->num_layers;
  c.bidirectional = ac->bidirectional;
  c.head = ac->head;
  c.vocab_size = VOCAB;
  c.embed_dim = 6;
  c.hidden_dim = 4;
  c.num_classes = CLASSES;
  c.padding_idx = 0;
  c.dropout = ac->num_layers > 1 ? 0.3f : 0.0f;
  return c;
}

static SeqnnModel *
new_member (const SeqnnConfig *c, guint64 seed)
{
  GError *error = NULL;
  SeqnnModel *m = seqnn_model_new (c, &error);
  g_assert_no_error (error);
  seqnn_model_init_params (m, seed);
  return m;
}

/* logits: N_SEQUENCES x CLASSES, of sequences of lengths 1..N_SEQUENCES
 * (the padding id among them). */
static void
run_logits (const SeqnnModel *model, gfloat *logits)
{
  static const gint lengths[N_SEQUENCES] = { 3, 1, 5, 2, 4 };
  gint32 ids[15];
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = (gint32) ((i * 7 + 3) % VOCAB);
  ids[4] = 0;
  SeqnnBatch batch = { ids, lengths, N_SEQUENCES, NULL };
  GError *error = NULL;
  SeqnnInference *inf = seqnn_inference_new (model, 1);
  g_assert_true (seqnn_inference_run (inf, &batch, NULL, logits, &error));
  g_assert_no_error (error);
  seqnn_inference_free (inf);
}

static void
test_mean_of_logits (gconstpointer data)
{
  SeqnnConfig c = member_config (data);
  SeqnnModel *members[N_MEMBERS];
  gfloat mean[N_SEQUENCES * CLASSES] = { 0 };
  for (gint k = 0; k < N_MEMBERS; k++) {
    gfloat logits[N_SEQUENCES * CLASSES];
    members[k] = new_member (&c, 11 + (guint64) k);
    run_logits (members[k], logits);
    for (gint i = 0; i < N_SEQUENCES * CLASSES; i++)
      mean[i] += logits[i] / N_MEMBERS;
  }
  GError *error = NULL;
  SeqnnModel *merged = seqnn_model_new_ensemble (members, N_MEMBERS, &error);
  g_assert_no_error (error);
  const SeqnnConfig *mc = seqnn_model_get_config (merged);
  g_assert_cmpint (mc->embed_dim, ==, N_MEMBERS * c.embed_dim);
  g_assert_cmpint (mc->hidden_dim, ==, c.num_layers > 0 ? N_MEMBERS * c.hidden_dim : c.hidden_dim);
  g_assert_cmpint (mc->num_layers, ==, c.num_layers);
  g_assert_cmpint (mc->padding_idx, ==, 0);
  g_assert_cmpfloat (mc->dropout, ==, c.dropout);

  gfloat got[N_SEQUENCES * CLASSES];
  run_logits (merged, got);
  for (gint i = 0; i < N_SEQUENCES * CLASSES; i++)
    g_assert_cmpfloat_with_epsilon (got[i], mean[i], 1e-5 * (1.0 + fabs (mean[i])));
  /* the padding row stays zero */
  const SeqnnTensorInfo *emb = seqnn_model_find_tensor (merged, "embedding.weight");
  const gfloat *params = seqnn_model_peek_params (merged, NULL);
  for (gint j = 0; j < mc->embed_dim; j++)
    g_assert_cmpfloat (params[emb->offset + j], ==, 0.0f);

  /* one member: that member's weights exactly */
  SeqnnModel *alone = seqnn_model_new_ensemble (members, 1, &error);
  g_assert_no_error (error);
  gsize n_alone, n_member;
  const gfloat *a = seqnn_model_peek_params (alone, &n_alone);
  const gfloat *m = seqnn_model_peek_params (members[0], &n_member);
  g_assert_cmpuint (n_alone, ==, n_member);
  g_assert_cmpmem (a, n_alone * sizeof (gfloat), m, n_member * sizeof (gfloat));

  seqnn_model_free (alone);
  seqnn_model_free (merged);
  for (gint k = 0; k < N_MEMBERS; k++)
    seqnn_model_free (members[k]);
}

typedef struct {
  const gchar *what;
  void (*change) (SeqnnConfig *c);
  const gchar *message;
} MismatchCase;

static void wider_hidden (SeqnnConfig *c) { c->hidden_dim++; }
static void other_vocab (SeqnnConfig *c) { c->vocab_size++; }
static void other_cell (SeqnnConfig *c) { c->cell = SEQNN_CELL_GRU; }
static void other_head (SeqnnConfig *c) { c->head = SEQNN_HEAD_MEAN; }
static void other_dropout (SeqnnConfig *c) { c->dropout = 0.5f; }

static const MismatchCase mismatch_cases[] = {
  { "hidden", wider_hidden, "member 1 has another architecture" },
  { "vocab", other_vocab, "member 1 has another architecture" },
  { "cell", other_cell, "member 1 has another architecture" },
  { "head", other_head, "member 1 has another architecture" },
  { "dropout", other_dropout, "member 1 has another architecture" },
};

static void
test_refused (void)
{
  ArchCase ac = { SEQNN_CELL_LSTM, 2, TRUE, SEQNN_HEAD_MAX };
  SeqnnConfig c = member_config (&ac);
  GError *error = NULL;

  g_assert_null (seqnn_model_new_ensemble (NULL, 2, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "at least one member"));
  g_clear_error (&error);

  SeqnnModel *members[2] = { new_member (&c, 1), NULL };
  g_assert_null (seqnn_model_new_ensemble (members, 0, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (mismatch_cases); i++) {
    SeqnnConfig other = c;
    mismatch_cases[i].change (&other);
    members[1] = new_member (&other, 2);
    g_assert_null (seqnn_model_new_ensemble (members, 2, &error));
    g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
    if (strstr (error->message, mismatch_cases[i].message) == NULL)
      g_error ("%s: unexpected message: %s", mismatch_cases[i].what, error->message);
    g_clear_error (&error);
    seqnn_model_free (members[1]);
  }

  /* wider than a layer may be */
  SeqnnConfig wide = c;
  wide.embed_dim = 40000;
  wide.vocab_size = 2;
  wide.padding_idx = -1;
  wide.num_layers = 0;
  wide.bidirectional = FALSE;
  SeqnnModel *pair[2] = { new_member (&wide, 1), new_member (&wide, 2) };
  g_assert_null (seqnn_model_new_ensemble (pair, 2, &error));
  g_assert_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "wider than 65536"));
  g_clear_error (&error);
  seqnn_model_free (pair[0]);
  seqnn_model_free (pair[1]);
  seqnn_model_free (members[0]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  arch_cases_add ("/ensemble/mean-of-logits", test_mean_of_logits);
  g_test_add_func ("/ensemble/refused", test_refused);
  return g_test_run ();
}
