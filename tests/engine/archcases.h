/* Tests run once per architecture: every cell x {1, 2 layers} x {one
 * direction, bidirectional} x every head, and the bag of embeddings (no
 * recurrent layer) with the heads it has.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/model.h"

typedef struct {
  SeqnnCell cell;
  gint num_layers;
  gboolean bidirectional;
  SeqnnHead head;
} ArchCase;

/* Registers func as PREFIX/CELL/lLAYERS-{uni,bi}/HEAD and PREFIX/bag/HEAD
 * with each case as its data. */
static inline void
arch_cases_add (const gchar *prefix, GTestDataFunc func)
{
  static const SeqnnCell cells[] = {
    SEQNN_CELL_RNN_TANH, SEQNN_CELL_RNN_RELU, SEQNN_CELL_LSTM, SEQNN_CELL_GRU,
  };
  static const SeqnnHead heads[] = { SEQNN_HEAD_LAST, SEQNN_HEAD_MEAN, SEQNN_HEAD_MAX };
  /* num_layers 0 has no last state and no direction; its cell is unused. */
  static const SeqnnHead bag_heads[] = { SEQNN_HEAD_MEAN, SEQNN_HEAD_MAX };
  static ArchCase cases[G_N_ELEMENTS (cells) * 2 * 2 * G_N_ELEMENTS (heads)
      + G_N_ELEMENTS (bag_heads)];
  guint n = 0;
  for (guint c = 0; c < G_N_ELEMENTS (cells); c++)
    for (gint layers = 1; layers <= 2; layers++)
      for (gint bidir = 0; bidir <= 1; bidir++)
        for (guint h = 0; h < G_N_ELEMENTS (heads); h++) {
          ArchCase *ac = &cases[n++];
          *ac = (ArchCase) { cells[c], layers, bidir, heads[h] };
          g_autofree gchar *path = g_strdup_printf ("%s/%s/l%d-%s/%s", prefix,
              seqnn_cell_to_string (cells[c]), layers, bidir ? "bi" : "uni",
              seqnn_head_to_string (heads[h]));
          g_test_add_data_func (path, ac, func);
        }
  for (guint h = 0; h < G_N_ELEMENTS (bag_heads); h++) {
    ArchCase *ac = &cases[n++];
    *ac = (ArchCase) { SEQNN_CELL_LSTM, 0, FALSE, bag_heads[h] };
    g_autofree gchar *path = g_strdup_printf ("%s/bag/%s", prefix,
        seqnn_head_to_string (bag_heads[h]));
    g_test_add_data_func (path, ac, func);
  }
}
