/* libseqnn: confusion matrix and per-class precision, recall, F1.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/trainloop.h"

#include <string.h>

struct _SeqnnConfusion {
  gint n_classes;
  guint64 total;
  guint64 *counts; /* n_classes x n_classes, row = true label, column = prediction */
};

SeqnnConfusion *
seqnn_confusion_new (gint n_classes)
{
  g_return_val_if_fail (n_classes > 0, NULL);

  /* n_classes^2 counters: tens of GiB for the largest models, so fail softly. */
  guint64 *counts = g_try_new0 (guint64, (gsize) n_classes * n_classes);
  if (counts == NULL)
    return NULL;
  SeqnnConfusion *confusion = g_new0 (SeqnnConfusion, 1);
  confusion->n_classes = n_classes;
  confusion->counts = counts;
  return confusion;
}

void
seqnn_confusion_free (SeqnnConfusion *confusion)
{
  if (confusion == NULL)
    return;
  g_free (confusion->counts);
  g_free (confusion);
}

void
seqnn_confusion_reset (SeqnnConfusion *confusion)
{
  g_return_if_fail (confusion != NULL);
  memset (confusion->counts, 0, sizeof (guint64) * confusion->n_classes * confusion->n_classes);
  confusion->total = 0;
}

void
seqnn_confusion_add (SeqnnConfusion *confusion, gint true_label, gint predicted)
{
  g_return_if_fail (confusion != NULL);
  g_return_if_fail (true_label >= 0 && true_label < confusion->n_classes);
  g_return_if_fail (predicted >= 0 && predicted < confusion->n_classes);
  confusion->counts[(gsize) true_label * confusion->n_classes + predicted]++;
  confusion->total++;
}

gint
seqnn_confusion_get_n_classes (const SeqnnConfusion *confusion)
{
  g_return_val_if_fail (confusion != NULL, 0);
  return confusion->n_classes;
}

guint64
seqnn_confusion_get_count (const SeqnnConfusion *confusion)
{
  g_return_val_if_fail (confusion != NULL, 0);
  return confusion->total;
}

guint64
seqnn_confusion_get (const SeqnnConfusion *confusion, gint true_label, gint predicted)
{
  g_return_val_if_fail (confusion != NULL, 0);
  g_return_val_if_fail (true_label >= 0 && true_label < confusion->n_classes, 0);
  g_return_val_if_fail (predicted >= 0 && predicted < confusion->n_classes, 0);
  return confusion->counts[(gsize) true_label * confusion->n_classes + predicted];
}

gdouble
seqnn_confusion_accuracy (const SeqnnConfusion *confusion)
{
  g_return_val_if_fail (confusion != NULL, 0.0);
  if (confusion->total == 0)
    return 0.0;
  guint64 correct = 0;
  for (gint c = 0; c < confusion->n_classes; c++)
    correct += confusion->counts[(gsize) c * confusion->n_classes + c];
  return (gdouble) correct / (gdouble) confusion->total;
}

gdouble
seqnn_confusion_precision (const SeqnnConfusion *confusion, gint cls)
{
  g_return_val_if_fail (confusion != NULL, 0.0);
  g_return_val_if_fail (cls >= 0 && cls < confusion->n_classes, 0.0);
  guint64 predicted = 0; /* column sum */
  for (gint t = 0; t < confusion->n_classes; t++)
    predicted += confusion->counts[(gsize) t * confusion->n_classes + cls];
  if (predicted == 0)
    return 0.0;
  return (gdouble) confusion->counts[(gsize) cls * confusion->n_classes + cls] / (gdouble) predicted;
}

gdouble
seqnn_confusion_recall (const SeqnnConfusion *confusion, gint cls)
{
  g_return_val_if_fail (confusion != NULL, 0.0);
  g_return_val_if_fail (cls >= 0 && cls < confusion->n_classes, 0.0);
  guint64 actual = 0; /* row sum */
  for (gint p = 0; p < confusion->n_classes; p++)
    actual += confusion->counts[(gsize) cls * confusion->n_classes + p];
  if (actual == 0)
    return 0.0;
  return (gdouble) confusion->counts[(gsize) cls * confusion->n_classes + cls] / (gdouble) actual;
}

gdouble
seqnn_confusion_f1 (const SeqnnConfusion *confusion, gint cls)
{
  gdouble p = seqnn_confusion_precision (confusion, cls);
  gdouble r = seqnn_confusion_recall (confusion, cls);
  if (p + r == 0.0)
    return 0.0;
  return 2.0 * p * r / (p + r);
}

gdouble
seqnn_confusion_macro_f1 (const SeqnnConfusion *confusion)
{
  g_return_val_if_fail (confusion != NULL, 0.0);
  gdouble sum = 0.0;
  for (gint c = 0; c < confusion->n_classes; c++)
    sum += seqnn_confusion_f1 (confusion, c);
  return sum / confusion->n_classes;
}
