/* Confusion matrix metrics against values worked out by hand.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <seqnn/seqnn.h>

/* 3 classes; (true, predicted) pairs:
 *   true 0: predicted 0,0,0,1      -> row 0 = [3 1 0]
 *   true 1: predicted 1,1,2        -> row 1 = [0 2 1]
 *   true 2: predicted 0,2          -> row 2 = [1 0 1]
 * total 9, correct 6 -> accuracy 2/3.
 * precision: c0 3/(3+0+1)=0.75  c1 2/(1+2+0)=2/3  c2 1/(0+1+1)=0.5
 * recall:    c0 3/4=0.75        c1 2/3          c2 1/2
 * F1 = p (p == r): 0.75, 2/3, 0.5; macro F1 = (0.75+2/3+0.5)/3 = 0.638888... */
static void
fill_example (SeqnnConfusion *c)
{
  static const gint pairs[][2] = {
    {0, 0}, {0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 1}, {1, 2}, {2, 0}, {2, 2},
  };
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    seqnn_confusion_add (c, pairs[i][0], pairs[i][1]);
}

static void
test_confusion_by_hand (void)
{
  SeqnnConfusion *c = seqnn_confusion_new (3);
  fill_example (c);

  g_assert_cmpint (seqnn_confusion_get_n_classes (c), ==, 3);
  g_assert_cmpuint (seqnn_confusion_get_count (c), ==, 9);
  g_assert_cmpuint (seqnn_confusion_get (c, 0, 0), ==, 3);
  g_assert_cmpuint (seqnn_confusion_get (c, 0, 1), ==, 1);
  g_assert_cmpuint (seqnn_confusion_get (c, 1, 2), ==, 1);
  g_assert_cmpuint (seqnn_confusion_get (c, 2, 0), ==, 1);
  g_assert_cmpuint (seqnn_confusion_get (c, 2, 1), ==, 0);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_accuracy (c), 6.0 / 9.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_precision (c, 0), 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_precision (c, 1), 2.0 / 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_precision (c, 2), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_recall (c, 0), 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_recall (c, 1), 2.0 / 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_recall (c, 2), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_f1 (c, 0), 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_f1 (c, 2), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_macro_f1 (c), (0.75 + 2.0 / 3.0 + 0.5) / 3.0, 1e-12);

  seqnn_confusion_reset (c);
  g_assert_cmpuint (seqnn_confusion_get_count (c), ==, 0);
  g_assert_cmpuint (seqnn_confusion_get (c, 0, 0), ==, 0);
  seqnn_confusion_free (c);
}

/* Precision and recall differ: 2 classes, true 0 x4 all predicted 0, true 1 x4
 * predicted 0,0,1,1. c0: p = 4/6, r = 1, F1 = 2*(2/3)/(5/3) = 0.8;
 * c1: p = 1, r = 0.5, F1 = 2/3. */
static void
test_confusion_asymmetric (void)
{
  SeqnnConfusion *c = seqnn_confusion_new (2);
  for (gint i = 0; i < 4; i++)
    seqnn_confusion_add (c, 0, 0);
  seqnn_confusion_add (c, 1, 0);
  seqnn_confusion_add (c, 1, 0);
  seqnn_confusion_add (c, 1, 1);
  seqnn_confusion_add (c, 1, 1);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_accuracy (c), 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_precision (c, 0), 4.0 / 6.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_recall (c, 0), 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_f1 (c, 0), 0.8, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_precision (c, 1), 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_recall (c, 1), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_f1 (c, 1), 2.0 / 3.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_macro_f1 (c), (0.8 + 2.0 / 3.0) / 2.0, 1e-12);
  seqnn_confusion_free (c);
}

/* Undefined metrics are 0: a class never predicted and never present. */
static void
test_confusion_undefined (void)
{
  SeqnnConfusion *c = seqnn_confusion_new (3);
  g_assert_cmpfloat (seqnn_confusion_accuracy (c), ==, 0.0);
  g_assert_cmpfloat (seqnn_confusion_macro_f1 (c), ==, 0.0);
  seqnn_confusion_add (c, 0, 0);
  seqnn_confusion_add (c, 1, 0);
  g_assert_cmpfloat (seqnn_confusion_precision (c, 2), ==, 0.0);
  g_assert_cmpfloat (seqnn_confusion_recall (c, 2), ==, 0.0);
  g_assert_cmpfloat (seqnn_confusion_f1 (c, 2), ==, 0.0);
  g_assert_cmpfloat (seqnn_confusion_precision (c, 1), ==, 0.0); /* never predicted */
  g_assert_cmpfloat (seqnn_confusion_recall (c, 1), ==, 0.0);    /* present, never right */
  g_assert_cmpfloat_with_epsilon (seqnn_confusion_precision (c, 0), 0.5, 1e-12);
  seqnn_confusion_free (c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train/confusion/by-hand", test_confusion_by_hand);
  g_test_add_func ("/train/confusion/asymmetric", test_confusion_asymmetric);
  g_test_add_func ("/train/confusion/undefined", test_confusion_undefined);
  return g_test_run ();
}
