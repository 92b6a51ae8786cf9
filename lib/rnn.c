/* Elman RNN cell over packed sequences, torch.nn.RNN's equation:
 *   h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cellcommon.h"
#include "cellfamilies.h"

#include <cblas.h>
#undef I /* <complex.h>'s, via cblas.h; I is the input width here */

/* Cache: h_prev (N x H) | h (N x H) */
gsize
seqnn_rnn_cache_size (gint N, gint B, gint H)
{
  return (gsize) 2 * N * H;
}

/* Forward: pre-activations when no cache (N x H), W_hh^T (H x H), a zero row (H).
 * Backward: dG (N x H) + dh (B x H) + a zero row (H) + db (H). */
gsize
seqnn_rnn_scratch_size (gint N, gint B, gint I, gint H)
{
  gsize fwd = (gsize) N * H + (gsize) H * H + H;
  gsize bwd = (gsize) N * H + (gsize) B * H + 2 * H;
  return MAX (fwd, bwd);
}

/* One row: pre holds the pre-activations and gets h', also written to y. */
SEQNN_VECTORIZE static void
rnn_row_forward_tanh (gint H, gfloat *restrict pre, gfloat *restrict y)
{
  for (gint j = 0; j < H; j++) {
    gfloat h = cell_tanhf (pre[j]);
    pre[j] = h;
    y[j] = h;
  }
}

SEQNN_VECTORIZE static void
rnn_row_forward_relu (gint H, gfloat *restrict pre, gfloat *restrict y)
{
  for (gint j = 0; j < H; j++) {
    gfloat h = pre[j] < 0.0f ? 0.0f : pre[j];  /* NaN stays NaN, as torch's relu */
    pre[j] = h;
    y[j] = h;
  }
}

void
seqnn_rnn_forward (gboolean relu, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, gfloat *y, gint y_stride,
    gfloat *h_n, gfloat *cache, gfloat *scratch)
{
  const gint N = pack->N;
  gfloat *h_prev_cache = cache;
  gfloat *pre = cache ? cache + (gsize) N * H : scratch;
  gfloat *w_hh_t = scratch + (cache ? 0 : (gsize) N * H);   /* H x H */
  gfloat *zeros = w_hh_t + (gsize) H * H;                    /* H */

  memset (zeros, 0, sizeof (gfloat) * H);
  /* A stream (one sequence run from a carried state, no backward to follow):
   * one row a step, so W_hh is read as it is (sgemv) and not transposed. */
  const gboolean one_row = h0 != NULL && cache == NULL && pack->B == 1;
  if (!one_row)
    seqnn_cells_transpose (H, H, w->w_hh, w_hh_t);
  seqnn_cells_input_projection (N, I, H, H, x, w, pre);

  for (gint k = 0; k < pack->T; k++) {
    const gint t = cell_step (pack, reverse, k);
    const gint rows = pack->batch_sizes[t], off = pack->step_offset[t];
    const gint n_cont = cell_n_cont (pack, reverse, t);
    const gfloat *h_prev = n_cont > 0 ? y + (gsize) pack->step_offset[cell_prev_step (reverse, t)] * y_stride : NULL;
    gfloat *p_t = pre + (gsize) off * H;

    if (one_row) /* p_t (H) += W_hh (H x H) . h_prev */
      cblas_sgemv (CblasRowMajor, CblasNoTrans, H, H, 1.0f, w->w_hh, H,
          n_cont > 0 ? h_prev : h0, 1, 1.0f, p_t, 1);
    else {
      if (n_cont > 0) /* p_t[0..n_cont) += h_prev (n_cont x H) . W_hh^T (H x H) */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n_cont, H, H,
            1.0f, h_prev, y_stride, w_hh_t, H, 1.0f, p_t, H);
      if (h0 && rows > n_cont) /* rows starting here start from h0 */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows - n_cont, H, H,
            1.0f, h0 + (gsize) n_cont * H, H, w_hh_t, H, 1.0f, p_t + (gsize) n_cont * H, H);
    }

    for (gint b = 0; b < rows; b++) {
      const gsize r = (gsize) off + b;
      if (cache)
        memcpy (h_prev_cache + r * H, b < n_cont ? h_prev + (gsize) b * y_stride
            : h0 ? h0 + (gsize) b * H : zeros, sizeof (gfloat) * H);
      if (relu)
        rnn_row_forward_relu (H, p_t + (gsize) b * H, y + r * y_stride);
      else
        rnn_row_forward_tanh (H, p_t + (gsize) b * H, y + r * y_stride);
    }

    if (h_n)
      for (gint b = cell_n_final (pack, reverse, t); b < rows; b++)
        memcpy (h_n + (gsize) b * H, y + ((gsize) off + b) * y_stride, sizeof (gfloat) * H);
  }
}

/* One row: dG = (dh + dy) * act'(h) */
SEQNN_VECTORIZE static void
rnn_row_backward_tanh (gint H, const gfloat *restrict h, const gfloat *restrict dy,
    const gfloat *restrict dh, gfloat *restrict dG)
{
  for (gint j = 0; j < H; j++)
    dG[j] = (dh[j] + dy[j]) * (1.0f - h[j] * h[j]);
}

SEQNN_VECTORIZE static void
rnn_row_backward_relu (gint H, const gfloat *restrict h, const gfloat *restrict dy,
    const gfloat *restrict dh, gfloat *restrict dG)
{
  for (gint j = 0; j < H; j++) {
    gfloat d = dh[j] + dy[j];
    dG[j] = h[j] > 0.0f ? d : 0.0f;
  }
}

void
seqnn_rnn_backward (gboolean relu, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *dy, gint dy_stride,
    const gfloat *dh_n, const gfloat *cache, gfloat *dx, SeqnnCellGrads *grads, gfloat *scratch)
{
  const gint N = pack->N, B = pack->B;
  const gfloat *h_prev_cache = cache;
  const gfloat *h_cache = cache + (gsize) N * H;
  gfloat *dG = scratch;                  /* N x H */
  gfloat *dh = dG + (gsize) N * H;       /* B x H */
  gfloat *zeros = dh + (gsize) B * H;    /* H: dy when there is none */
  gfloat *db = zeros + H;                /* H: column sums of dG */

  memset (zeros, 0, sizeof (gfloat) * H);
  memset (db, 0, sizeof (gfloat) * H);
  for (gint k = pack->T - 1; k >= 0; k--) {
    const gint t = cell_step (pack, reverse, k);
    const gint rows = pack->batch_sizes[t], off = pack->step_offset[t];
    const gint n_cont = cell_n_cont (pack, reverse, t);

    for (gint b = cell_n_final (pack, reverse, t); b < rows; b++)
      cell_copy_row (dh + (gsize) b * H, dh_n ? dh_n + (gsize) b * H : NULL, H);
    for (gint b = 0; b < rows; b++) {
      const gsize r = (gsize) off + b;
      const gfloat *dy_r = dy ? dy + r * dy_stride : zeros;
      if (relu)
        rnn_row_backward_relu (H, h_cache + r * H, dy_r, dh + (gsize) b * H, dG + r * H);
      else
        rnn_row_backward_tanh (H, h_cache + r * H, dy_r, dh + (gsize) b * H, dG + r * H);
    }
    seqnn_cells_add_column_sums (rows, H, dG + (gsize) off * H, db);
    if (n_cont > 0) /* dh[0..n_cont) = dG_t (n_cont x H) . W_hh (H x H) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n_cont, H, H,
          1.0f, dG + (gsize) off * H, H, w->w_hh, H, 0.0f, dh, H);
  }

  seqnn_cells_backward_params (N, I, H, H, x, h_prev_cache, dG, dG, db, db, w, dx, grads);
}
