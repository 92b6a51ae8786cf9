/* Recurrent cell kernels: seqnn_cell_* dispatches on the cell to its family.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cells.h"
#include "cellfamilies.h"

gsize
seqnn_cell_cache_size (SeqnnCell cell, gint N, gint B, gint H)
{
  switch (cell) {
    case SEQNN_CELL_RNN_TANH:
    case SEQNN_CELL_RNN_RELU:
      return seqnn_rnn_cache_size (N, B, H);
    case SEQNN_CELL_LSTM:
      return seqnn_lstm_cache_size (N, B, H);
    case SEQNN_CELL_GRU:
      return seqnn_gru_cache_size (N, B, H);
  }
  return 0;
}

gsize
seqnn_cell_scratch_size (SeqnnCell cell, gint N, gint B, gint I, gint H)
{
  switch (cell) {
    case SEQNN_CELL_RNN_TANH:
    case SEQNN_CELL_RNN_RELU:
      return seqnn_rnn_scratch_size (N, B, I, H);
    case SEQNN_CELL_LSTM:
      return seqnn_lstm_scratch_size (N, B, I, H);
    case SEQNN_CELL_GRU:
      return seqnn_gru_scratch_size (N, B, I, H);
  }
  return 0;
}

void
seqnn_cell_forward (SeqnnCell cell, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w,
    gfloat *y, gint y_stride, gfloat *h_n, gfloat *c_n,
    gfloat *cache, gfloat *scratch)
{
  seqnn_cell_forward_from (cell, pack, reverse, I, H, x, w, NULL, NULL, y, y_stride, h_n, c_n,
      cache, scratch);
}

void
seqnn_cell_forward_from (SeqnnCell cell, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, const gfloat *c0,
    gfloat *y, gint y_stride, gfloat *h_n, gfloat *c_n,
    gfloat *cache, gfloat *scratch)
{
  if (pack->N <= 0 || pack->T <= 0)
    return;
  switch (cell) {
    case SEQNN_CELL_RNN_TANH:
    case SEQNN_CELL_RNN_RELU:
      seqnn_rnn_forward (cell == SEQNN_CELL_RNN_RELU, pack, reverse, I, H, x, w, h0, y, y_stride,
          h_n, cache, scratch);
      break;
    case SEQNN_CELL_LSTM:
      seqnn_lstm_forward (pack, reverse, I, H, x, w, h0, c0, y, y_stride, h_n, c_n, cache, scratch);
      break;
    case SEQNN_CELL_GRU:
      seqnn_gru_forward (pack, reverse, I, H, x, w, h0, y, y_stride, h_n, cache, scratch);
      break;
  }
}

void
seqnn_cell_backward (SeqnnCell cell, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w,
    const gfloat *dy, gint dy_stride, const gfloat *dh_n, const gfloat *dc_n,
    const gfloat *cache, gfloat *dx, SeqnnCellGrads *grads, gfloat *scratch)
{
  if (pack->N <= 0 || pack->T <= 0)
    return;
  switch (cell) {
    case SEQNN_CELL_RNN_TANH:
    case SEQNN_CELL_RNN_RELU:
      seqnn_rnn_backward (cell == SEQNN_CELL_RNN_RELU, pack, reverse, I, H, x, w, dy, dy_stride,
          dh_n, cache, dx, grads, scratch);
      break;
    case SEQNN_CELL_LSTM:
      seqnn_lstm_backward (pack, reverse, I, H, x, w, dy, dy_stride, dh_n, dc_n, cache, dx,
          grads, scratch);
      break;
    case SEQNN_CELL_GRU:
      seqnn_gru_backward (pack, reverse, I, H, x, w, dy, dy_stride, dh_n, cache, dx, grads,
          scratch);
      break;
  }
}
