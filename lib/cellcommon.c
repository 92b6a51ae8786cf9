/* The passes every cell family shares: input projection, bias and weight
 * gradients, transposition.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cellcommon.h"

#include <cblas.h>
#undef I /* <complex.h>'s, via cblas.h; I is the input width here */

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

/* Cloned functions stay static: GCC and clang agree on how a file calls
 * its own clones, not on how other files call them. */
SEQNN_VECTORIZE static void
add_column_sums (gint rows, gint GH, const gfloat *dG, gfloat *db)
{
  for (gint r = 0; r < rows; r++) {
    const gfloat *row = dG + (gsize) r * GH;
    for (gint j = 0; j < GH; j++)
      db[j] += row[j];
  }
}

void
seqnn_cells_add_column_sums (gint rows, gint GH, const gfloat *dG, gfloat *db)
{
  add_column_sums (rows, GH, dG, db);
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
