/* libseqnn: batched evaluation of a model over a labelled dataset.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/trainloop.h"
#include "network.h"
#include "dataset-batch.h"

#include <math.h>

/* The one id an empty sequence is fed as, so that it still gets a prediction. */

gboolean
seqnn_evaluate (const SeqnnModel *model, const SeqnnDataset *dataset,
    const gsize *indices, gsize n_indices, gint batch_size, gint n_threads,
    gdouble *mean_loss, SeqnnConfusion *confusion, GError **error)
{
  if (model == NULL || dataset == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "evaluate: model and dataset must not be NULL");
    return FALSE;
  }
  if (batch_size < 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "evaluate: batch size must be at least 1, got %d", batch_size);
    return FALSE;
  }
  if (!seqnn_dataset_has_vocab (dataset)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "evaluate: the dataset has no vocabulary applied (seqnn_dataset_apply_vocab)");
    return FALSE;
  }
  const SeqnnConfig *config = seqnn_model_get_config (model);
  gint C = config->num_classes;
  if (confusion != NULL && seqnn_confusion_get_n_classes (confusion) != C) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "evaluate: confusion matrix has %d classes, the model %d",
        seqnn_confusion_get_n_classes (confusion), C);
    return FALSE;
  }
  gsize dataset_size = seqnn_dataset_get_size (dataset);
  gsize n = indices != NULL ? n_indices : dataset_size;
  if (n == 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "evaluate: no samples to evaluate");
    return FALSE;
  }

  SeqnnInference *inference = seqnn_inference_new (model, n_threads > 0 ? n_threads
      : (gint) g_get_num_processors ());
  /* Buffers for the largest batch that occurs: a huge batch_size over a
   * small dataset must not allocate (or abort on) batch_size entries. */
  gsize max_batch = MIN ((gsize) batch_size, n);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  gint *lengths = g_new (gint, max_batch);
  gint *labels = g_new (gint, max_batch);
  gfloat *logits = g_new (gfloat, max_batch * C);
  gdouble loss_sum = 0.0;
  gboolean ok = TRUE;

  for (gsize start = 0; start < n && ok; start += batch_size) {
    gint b = (gint) MIN ((gsize) batch_size, n - start);
    g_array_set_size (ids, 0);
    for (gint i = 0; i < b; i++) {
      gsize index = indices != NULL ? indices[start + i] : start + i;
      if (index >= dataset_size) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
            "evaluate: index %" G_GSIZE_FORMAT " is outside the dataset (%" G_GSIZE_FORMAT " sequences)",
            index, dataset_size);
        ok = FALSE;
        break;
      }
      gint label;
      lengths[i] = seqnn_dataset_append_row (dataset, index, ids, &label);
      if (label < 0 || label >= C) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
            "evaluate: sequence %" G_GSIZE_FORMAT " has label %d, the model has classes 0..%d",
            index, label, C - 1);
        ok = FALSE;
        break;
      }
      labels[i] = label;
    }
    if (!ok)
      break;

    SeqnnBatch batch = { (const gint32 *) ids->data, lengths, b, labels };
    if (!seqnn_inference_run (inference, &batch, NULL, logits, error)) {
      ok = FALSE;
      break;
    }
    for (gint i = 0; i < b; i++) {
      gint best;
      loss_sum += seqnn_cross_entropy_row (logits + (gsize) i * C, C, labels[i], &best);
      if (confusion != NULL)
        seqnn_confusion_add (confusion, labels[i], best);
    }
  }

  if (ok && mean_loss != NULL)
    *mean_loss = loss_sum / (gdouble) n;

  g_free (logits);
  g_free (labels);
  g_free (lengths);
  g_array_unref (ids);
  seqnn_inference_free (inference);
  return ok;
}
