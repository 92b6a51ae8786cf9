/* Recurrent cell kernels: per-cell dispatch and the passes all families share.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cellkernels.h"

#include <cblas.h>
#undef I /* <complex.h>'s, via cblas.h; I is the input width here */

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
  if (pack->N <= 0 || pack->T <= 0)
    return;
  switch (cell) {
    case SEQNN_CELL_RNN_TANH:
    case SEQNN_CELL_RNN_RELU:
      seqnn_rnn_forward (cell == SEQNN_CELL_RNN_RELU, pack, reverse, I, H, x, w, y, y_stride,
          h_n, cache, scratch);
      break;
    case SEQNN_CELL_LSTM:
      seqnn_lstm_forward (pack, reverse, I, H, x, w, y, y_stride, h_n, c_n, cache, scratch);
      break;
    case SEQNN_CELL_GRU:
      seqnn_gru_forward (pack, reverse, I, H, x, w, y, y_stride, h_n, cache, scratch);
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

void
seqnn_cells_input_projection (gint N, gint I, gint GH, gint n_hh_bias,
    const gfloat *x, const SeqnnCellWeights *w, gfloat *gates)
{
  /* Biases first (row 0 built, then copied), so the sgemm adds onto them. */
  for (gint j = 0; j < GH; j++)
    gates[j] = w->b_ih[j] + (j < n_hh_bias ? w->b_hh[j] : 0.0f);
  for (gint r = 1; r < N; r++)
    memcpy (gates + (gsize) r * GH, gates, sizeof (gfloat) * GH);
  /* gates (N x GH) += x (N x I) . W_ih^T (I x GH) */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, GH, I,
      1.0f, x, I, w->w_ih, I, 1.0f, gates, GH);
}

CELL_VECTORIZE void
seqnn_cells_add_column_sums (gint rows, gint GH, const gfloat *dG, gfloat *db)
{
  for (gint r = 0; r < rows; r++) {
    const gfloat *row = dG + (gsize) r * GH;
    for (gint j = 0; j < GH; j++)
      db[j] += row[j];
  }
}

void
seqnn_cells_backward_params (gint N, gint I, gint H, gint GH,
    const gfloat *x, const gfloat *h_prev, const gfloat *dG, const gfloat *dG_hh,
    const gfloat *db_ih, const gfloat *db_hh,
    const SeqnnCellWeights *w, gfloat *dx, SeqnnCellGrads *grads)
{
  if (grads && grads->w_ih) /* dW_ih (GH x I) += dG^T (GH x N) . x (N x I) */
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, GH, I, N,
        1.0f, dG, GH, x, I, 1.0f, grads->w_ih, I);
  if (grads && grads->w_hh) /* dW_hh (GH x H) += dG_hh^T (GH x N) . h_prev (N x H) */
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, GH, H, N,
        1.0f, dG_hh, GH, h_prev, H, 1.0f, grads->w_hh, H);
  if (grads && grads->b_ih)
    seqnn_cells_add_column_sums (1, GH, db_ih, grads->b_ih);
  if (grads && grads->b_hh)
    seqnn_cells_add_column_sums (1, GH, db_hh, grads->b_hh);
  if (dx) /* dx (N x I) += dG (N x GH) . W_ih (GH x I) */
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, GH,
        1.0f, dG, GH, w->w_ih, I, 1.0f, dx, I);
}

void
seqnn_cells_transpose (gint rows, gint cols, const gfloat *src, gfloat *dst)
{
  /* 16 x 16 tiles keep both the reads and the strided writes in cache. */
  for (gint r0 = 0; r0 < rows; r0 += 16)
    for (gint c0 = 0; c0 < cols; c0 += 16) {
      const gint r1 = MIN (r0 + 16, rows), c1 = MIN (c0 + 16, cols);
      for (gint r = r0; r < r1; r++)
        for (gint c = c0; c < c1; c++)
          dst[(gsize) c * rows + r] = src[(gsize) r * cols + c];
    }
}
