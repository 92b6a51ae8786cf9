/* GRU cell over packed sequences, torch.nn.GRU's equations (gate rows r, z, n):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1-z)*n + z*h
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cellcommon.h"
#include "cellfamilies.h"

#include <cblas.h>
#undef I /* <complex.h>'s, via cblas.h; I is the input width here */

/* Cache: h_prev (N x H) | gates r,z,n activated (N x 3H) | W_hn h + b_hn (N x H) */
gsize
seqnn_gru_cache_size (gint N, gint B, gint H)
{
  return (gsize) 5 * N * H;
}

/* Forward: gates when no cache (N x 3H), W_hh^T (H x 3H), h W_hh^T of a step
 * (B x 3H), a zero row (3H) and a sink row (H).
 * Backward: dG, dG_hh (N x 3H each) + dh (B x H) + a zero row (H) + their
 * column sums (3H each). */
gsize
seqnn_gru_scratch_size (gint N, gint B, gint I, gint H)
{
  gsize fwd = (gsize) 3 * N * H + (gsize) 3 * H * H + (gsize) 3 * B * H + (gsize) 4 * H;
  gsize bwd = (gsize) 6 * N * H + (gsize) B * H + H + (gsize) 6 * H;
  return MAX (fwd, bwd);
}

/* One row: gates holds x W_ih^T + b_ih (+ b_hr, b_hz) and gets r, z, n;
 * hh is h_prev W_hh^T (zeros when fresh, as is h_prev). */
SEQNN_VECTORIZE static void
gru_row_forward (gint H, gfloat *restrict gates, const gfloat *restrict hh,
    const gfloat *restrict b_hh, const gfloat *restrict h_prev, gfloat *restrict h,
    gfloat *restrict hh_n_out)
{
  gfloat *gr = gates, *gz = gates + H, *gn = gates + 2 * H;
  const gfloat *b_hn = b_hh + 2 * H;
  for (gint j = 0; j < H; j++) {
    gfloat r = cell_sigmoidf (gr[j] + hh[j]);
    gfloat z = cell_sigmoidf (gz[j] + hh[H + j]);
    gfloat hn = b_hn[j] + hh[2 * H + j];
    gfloat n = cell_tanhf (gn[j] + r * hn);
    gr[j] = r;
    gz[j] = z;
    gn[j] = n;
    h[j] = (1.0f - z) * n + z * h_prev[j];
    hh_n_out[j] = hn;
  }
}

void
seqnn_gru_forward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, gfloat *y, gint y_stride,
    gfloat *h_n, gfloat *cache, gfloat *scratch)
{
  const gint N = pack->N, B = pack->B, GH = 3 * H;
  gfloat *h_prev_cache = cache;
  gfloat *gates = cache ? cache + (gsize) N * H : scratch;
  gfloat *hh_n_cache = cache ? gates + (gsize) N * GH : NULL;
  gfloat *w_hh_t = scratch + (cache ? 0 : (gsize) N * GH);   /* H x 3H */
  gfloat *hh = w_hh_t + (gsize) H * GH;                       /* B x 3H */
  gfloat *zeros = hh + (gsize) B * GH;                        /* 3H */
  gfloat *sink = zeros + GH;                                  /* H: hh_n when no cache */

  memset (zeros, 0, sizeof (gfloat) * GH);
  /* A stream (one sequence run from a carried state, no backward to follow):
   * one row a step, so W_hh is read as it is (sgemv) and not transposed. */
  const gboolean one_row = h0 != NULL && cache == NULL && pack->B == 1;
  if (!one_row)
    seqnn_cells_transpose (GH, H, w->w_hh, w_hh_t);
  seqnn_cells_input_projection (N, I, GH, 2 * H, x, w, gates);

  for (gint k = 0; k < pack->T; k++) {
    const gint t = cell_step (pack, reverse, k);
    const gint rows = pack->batch_sizes[t], off = pack->step_offset[t];
    const gint n_cont = cell_n_cont (pack, reverse, t);
    const gfloat *h_prev = n_cont > 0 ? y + (gsize) pack->step_offset[cell_prev_step (reverse, t)] * y_stride : NULL;
    gfloat *g_t = gates + (gsize) off * GH;

    if (one_row) /* hh (3H) = W_hh (3H x H) . h_prev */
      cblas_sgemv (CblasRowMajor, CblasNoTrans, GH, H, 1.0f, w->w_hh, H,
          n_cont > 0 ? h_prev : h0, 1, 0.0f, hh, 1);
    else {
      if (n_cont > 0) /* hh (n_cont x 3H) = h_prev (n_cont x H) . W_hh^T (H x 3H) */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n_cont, GH, H,
            1.0f, h_prev, y_stride, w_hh_t, GH, 0.0f, hh, GH);
      if (h0 && rows > n_cont) /* rows starting here start from h0 */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows - n_cont, GH, H,
            1.0f, h0 + (gsize) n_cont * H, H, w_hh_t, GH, 0.0f, hh + (gsize) n_cont * GH, GH);
    }

    for (gint b = 0; b < rows; b++) {
      const gsize r = (gsize) off + b;
      const gboolean fresh = b >= n_cont && h0 == NULL;
      const gfloat *hp = b < n_cont ? h_prev + (gsize) b * y_stride : h0 ? h0 + (gsize) b * H : zeros;
      if (cache)
        memcpy (h_prev_cache + r * H, hp, sizeof (gfloat) * H);
      gru_row_forward (H, g_t + (gsize) b * GH, fresh ? zeros : hh + (gsize) b * GH, w->b_hh, hp,
          y + r * y_stride, cache ? hh_n_cache + r * H : sink);
    }

    if (h_n)
      for (gint b = cell_n_final (pack, reverse, t); b < rows; b++)
        memcpy (h_n + (gsize) b * H, y + ((gsize) off + b) * y_stride, sizeof (gfloat) * H);
  }
}

/* One row: dh is the carried gradient of h (dy added here) and gets the
 * direct part z*dh of h_prev's gradient; writes dG (3H) of the input-side
 * pre-activations and dG_hh (3H) of the hidden-side ones (n's is scaled by r). */
SEQNN_VECTORIZE static void
gru_row_backward (gint H, const gfloat *restrict gates, const gfloat *restrict hh_n,
    const gfloat *restrict h_prev, const gfloat *restrict dy, gfloat *restrict dh,
    gfloat *restrict dG, gfloat *restrict dG_hh)
{
  const gfloat *gr = gates, *gz = gates + H, *gn = gates + 2 * H;
  for (gint j = 0; j < H; j++) {
    gfloat r = gr[j], z = gz[j], n = gn[j];
    gfloat dhj = dh[j] + dy[j];
    gfloat dn = dhj * (1.0f - z) * (1.0f - n * n);
    gfloat dz = dhj * (h_prev[j] - n) * z * (1.0f - z);
    gfloat dr = dn * hh_n[j] * r * (1.0f - r);
    dG[j] = dr;
    dG[H + j] = dz;
    dG[2 * H + j] = dn;
    dG_hh[j] = dr;
    dG_hh[H + j] = dz;
    dG_hh[2 * H + j] = dn * r;
    dh[j] = dhj * z;
  }
}

void
seqnn_gru_backward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *dy, gint dy_stride,
    const gfloat *dh_n, const gfloat *cache, gfloat *dx, SeqnnCellGrads *grads, gfloat *scratch)
{
  const gint N = pack->N, B = pack->B, GH = 3 * H;
  const gfloat *h_prev_cache = cache;
  const gfloat *gates = cache + (gsize) N * H;
  const gfloat *hh_n_cache = gates + (gsize) N * GH;
  gfloat *dG = scratch;                          /* N x 3H */
  gfloat *dG_hh = dG + (gsize) N * GH;           /* N x 3H */
  gfloat *dh = dG_hh + (gsize) N * GH;           /* B x H */
  gfloat *zeros = dh + (gsize) B * H;            /* H: dy when there is none */
  gfloat *db_ih = zeros + H;                     /* 3H: column sums of dG */
  gfloat *db_hh = db_ih + GH;                    /* 3H: column sums of dG_hh */

  memset (zeros, 0, sizeof (gfloat) * H);
  memset (db_ih, 0, sizeof (gfloat) * 2 * GH);
  for (gint k = pack->T - 1; k >= 0; k--) {
    const gint t = cell_step (pack, reverse, k);
    const gint rows = pack->batch_sizes[t], off = pack->step_offset[t];
    const gint n_cont = cell_n_cont (pack, reverse, t);

    for (gint b = cell_n_final (pack, reverse, t); b < rows; b++)
      cell_copy_row (dh + (gsize) b * H, dh_n ? dh_n + (gsize) b * H : NULL, H);
    for (gint b = 0; b < rows; b++) {
      const gsize r = (gsize) off + b;
      gru_row_backward (H, gates + r * GH, hh_n_cache + r * H, h_prev_cache + r * H,
          dy ? dy + r * dy_stride : zeros, dh + (gsize) b * H, dG + r * GH, dG_hh + r * GH);
    }
    seqnn_cells_add_column_sums (rows, GH, dG + (gsize) off * GH, db_ih);
    seqnn_cells_add_column_sums (rows, GH, dG_hh + (gsize) off * GH, db_hh);
    if (n_cont > 0) /* dh[0..n_cont) += dG_hh_t (n_cont x 3H) . W_hh (3H x H) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n_cont, H, GH,
          1.0f, dG_hh + (gsize) off * GH, GH, w->w_hh, H, 1.0f, dh, H);
  }

  seqnn_cells_backward_params (N, I, H, GH, x, h_prev_cache, dG, dG_hh, db_ih, db_hh, w, dx, grads);
}
