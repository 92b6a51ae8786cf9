/* libseqnn: a stream model run cue after cue with its state carried (see
 * seqnn/stream.h): one sequence per run, from the state the last run left,
 * read at the cue ends.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/stream.h"
#include "modelfile.h"
#include "network.h"
#include "pool.h"

#include <string.h>

/* ---- The mark ---------------------------------------------------------------- */

gboolean
seqnn_classifier_is_stream (const SeqnnClassifier *classifier)
{
  g_return_val_if_fail (classifier != NULL, FALSE);
  return classifier->stream;
}

/* NULL when the architecture can run as a stream, else what is wrong with it
 * ("bidirectional, head max"); free with g_free. */
static gchar *
architecture_unfit (const SeqnnConfig *config)
{
  GString *why = g_string_new (NULL);
  if (config->num_layers == 0)
    g_string_append (why, "without a recurrent layer");
  if (config->bidirectional)
    g_string_append_printf (why, "%sbidirectional", why->len ? ", " : "");
  if (config->head != SEQNN_HEAD_LAST)
    g_string_append_printf (why, "%shead %s", why->len ? ", " : "", seqnn_head_to_string (config->head));
  return g_string_free (why, why->len == 0);
}

gboolean
seqnn_classifier_check_stream (const SeqnnClassifier *classifier, GError **error)
{
  if (classifier == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "classifier is NULL");
    return FALSE;
  }
  if (classifier->stream)
    return TRUE;
  gchar *why = architecture_unfit (seqnn_model_get_config (classifier->model));
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
      "the model was trained cue by cue (%s), not over streams: context=stream needs a stream "
      "model (train one with lstmtrain stream-training=true)",
      why ? why : "on whole records, though unidirectional with head last");
  g_free (why);
  return FALSE;
}

gboolean
seqnn_classifier_set_stream (SeqnnClassifier *classifier, gboolean stream, GError **error)
{
  if (classifier == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "classifier is NULL");
    return FALSE;
  }
  if (stream) {
    gchar *why = architecture_unfit (seqnn_model_get_config (classifier->model));
    if (why) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "a stream model must be unidirectional with head last; this one is %s", why);
      g_free (why);
      return FALSE;
    }
  }
  classifier->stream = stream != FALSE;
  return TRUE;
}

/* ---- The stream ---------------------------------------------------------------- */

struct _SeqnnStream {
  const SeqnnClassifier *classifier;
  const SeqnnModel *model;
  const SeqnnLayout *lay;
  gint n_threads;
  SeqnnNet *net;
  gfloat *h, *c;        /* carried state: L x H (c for LSTM) */
  gfloat *probs;        /* C: of the current state (uniform after a reset) */
  gboolean fresh;       /* no token since the reset: the state is zero */
  guint64 n_tokens;
  gint *seqs, *steps;   /* per cue with tokens: (0, its last step) */
  gint cap_cues;
  guint64 n_allocs;     /* growth of seqs, steps (the net counts its own) */
};

SeqnnStream *
seqnn_stream_new (const SeqnnClassifier *classifier, gint n_threads, GError **error)
{
  if (!seqnn_classifier_check_stream (classifier, error))
    return NULL;
  if (n_threads < 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "n_threads is %d; it must be 0 (all cores) or more", n_threads);
    return NULL;
  }
  seqnn_blas_init ();
  SeqnnStream *stream = g_new0 (SeqnnStream, 1);
  stream->classifier = classifier;
  stream->model = classifier->model;
  stream->lay = seqnn_model_get_layout (stream->model);
  stream->n_threads = seqnn_resolve_n_threads (n_threads);
  stream->net = seqnn_net_new (stream->lay);
  const gsize LH = (gsize) stream->lay->L * stream->lay->D * stream->lay->H;
  stream->h = g_new0 (gfloat, LH);
  if (stream->lay->cell == SEQNN_CELL_LSTM)
    stream->c = g_new0 (gfloat, LH);
  stream->probs = g_new (gfloat, stream->lay->C);
  seqnn_stream_reset (stream);
  return stream;
}

void
seqnn_stream_free (SeqnnStream *stream)
{
  if (stream == NULL)
    return;
  seqnn_net_free (stream->net);
  g_free (stream->h);
  g_free (stream->c);
  g_free (stream->probs);
  g_free (stream->seqs);
  g_free (stream->steps);
  g_free (stream);
}

void
seqnn_stream_reset (SeqnnStream *stream)
{
  g_return_if_fail (stream != NULL);
  const SeqnnLayout *lay = stream->lay;
  const gsize LH = (gsize) lay->L * lay->D * lay->H;
  memset (stream->h, 0, sizeof (gfloat) * LH);
  if (stream->c)
    memset (stream->c, 0, sizeof (gfloat) * LH);
  for (gint c = 0; c < lay->C; c++)
    stream->probs[c] = 1.0f / (gfloat) lay->C;
  stream->fresh = TRUE;
  stream->n_tokens = 0;
}

const SeqnnClassifier *
seqnn_stream_get_classifier (const SeqnnStream *stream)
{
  g_return_val_if_fail (stream != NULL, NULL);
  return stream->classifier;
}

guint64
seqnn_stream_get_n_tokens (const SeqnnStream *stream)
{
  g_return_val_if_fail (stream != NULL, 0);
  return stream->n_tokens;
}

guint64
seqnn_stream_get_n_allocations (const SeqnnStream *stream)
{
  g_return_val_if_fail (stream != NULL, 0);
  return stream->n_allocs + seqnn_net_get_n_allocs (stream->net);
}

/* Checks the arguments; *n_tokens and *n_read (cues with tokens) on success. */
static gboolean
check_run (const SeqnnStream *stream, const gint32 *ids, const gint *lengths, gint n_cues,
    const gfloat *probs, gint *n_tokens, gint *n_read, GError **error)
{
  if (stream == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "stream is NULL");
    return FALSE;
  }
  if (n_cues < 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "n_cues is %d, below 0", n_cues);
    return FALSE;
  }
  if (n_cues > 0 && (lengths == NULL || probs == NULL)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a run of %d cues needs lengths and probs", n_cues);
    return FALSE;
  }
  gint64 total = 0;
  gint read = 0;
  for (gint i = 0; i < n_cues; i++) {
    if (lengths[i] < 0) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "cue %d has length %d, below 0", i, lengths[i]);
      return FALSE;
    }
    total += lengths[i];
    read += lengths[i] > 0;
    if (total > G_MAXINT32 / 2) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "a run of %d cues holds more than %d tokens; feed fewer cues at a time", n_cues,
          G_MAXINT32 / 2);
      return FALSE;
    }
  }
  if (total > 0 && ids == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "a run of %" G_GINT64_FORMAT " tokens needs ids", total);
    return FALSE;
  }
  const gint V = stream->lay->V;
  for (gint64 k = 0; k < total; k++)
    if (ids[k] < 0 || ids[k] >= V) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "token %" G_GINT64_FORMAT " of the run has id %d, outside the vocabulary [0, %d)",
          k, ids[k], V);
      return FALSE;
    }
  *n_tokens = (gint) total;
  *n_read = read;
  return TRUE;
}

static gboolean
reserve_cues (SeqnnStream *stream, gint n, GError **error)
{
  if (n <= stream->cap_cues)
    return TRUE;
  gint cap = seqnn_grow_capacity (stream->cap_cues, n);
  SeqnnGrowth list[2] = {
    { (gpointer *) &stream->seqs, seqnn_size_mul3 (cap, sizeof (gint), 1) },
    { (gpointer *) &stream->steps, seqnn_size_mul3 (cap, sizeof (gint), 1) },
  };
  gsize total;
  if (!seqnn_grow_all (list, 2, &total)) {
    gchar *detail = g_strdup_printf ("%d cues", n);
    seqnn_set_no_memory_error (error, total, "a stream run's cue list", detail,
        "feed fewer cues at a time");
    g_free (detail);
    return FALSE;
  }
  stream->cap_cues = cap;
  stream->n_allocs++;
  return TRUE;
}

gboolean
seqnn_stream_run (SeqnnStream *stream, const gint32 *ids, const gint *lengths,
    gint n_cues, gfloat *probs, GError **error)
{
  gint n_tokens = 0, n_read = 0;
  if (!check_run (stream, ids, lengths, n_cues, probs, &n_tokens, &n_read, error))
    return FALSE;
  const SeqnnLayout *lay = stream->lay;
  const gint C = lay->C;
  if (n_tokens == 0) {
    for (gint i = 0; i < n_cues; i++)
      memcpy (probs + (gsize) i * C, stream->probs, sizeof (gfloat) * C);
    return TRUE;
  }
  SeqnnNet *net = stream->net;
  if (!seqnn_net_reserve (net, 1, n_tokens, FALSE, error)
      || !seqnn_net_reserve_positions (net, n_read, FALSE, error)
      || !reserve_cues (stream, n_read, error))
    return FALSE;

  gint end = 0, k = 0;
  for (gint i = 0; i < n_cues; i++) {
    end += lengths[i];
    if (lengths[i] > 0) {
      stream->seqs[k] = 0;
      stream->steps[k++] = end - 1;
    }
  }
  const gfloat *params = seqnn_model_peek_params (stream->model, NULL);
  /* The state is passed even when zero (after a reset): the kernels then take
   * their one-row path (sgemv), the same from the first cue on. */
  seqnn_net_forward_from (net, params, ids, &n_tokens, 1, stream->h, stream->c, FALSE, FALSE, 0, 0);
  seqnn_net_forward_positions (net, params, stream->seqs, stream->steps, n_read);

  const gfloat *current = stream->probs;
  k = 0;
  for (gint i = 0; i < n_cues; i++) {
    if (lengths[i] > 0)
      current = net->pos_probs + (gsize) k++ * C;
    memcpy (probs + (gsize) i * C, current, sizeof (gfloat) * C);
  }
  memcpy (stream->probs, current, sizeof (gfloat) * C);
  seqnn_net_copy_states (net, stream->h, stream->c);
  stream->fresh = FALSE;
  stream->n_tokens += (guint64) n_tokens;
  return TRUE;
}
