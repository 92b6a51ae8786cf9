/* LSTM cell over packed sequences, torch.nn.LSTM's equations:
 *   i, f, g, o = σ, σ, tanh, σ of (x W_ih^T + b_ih + h W_hh^T + b_hh), rows in that order
 *   c' = f*c + i*g,  h' = o*tanh(c')
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cellcommon.h"
#include "cellfamilies.h"

#include <cblas.h>
#undef I /* <complex.h>'s, via cblas.h; I is the input width here */

/* Cache: h_prev (N x H) | gates i,f,g,o activated (N x 4H) | c_prev (N x H) | tanh(c) (N x H) */
gsize
seqnn_lstm_cache_size (gint N, gint B, gint H)
{
  return (gsize) 7 * N * H;
}

/* Forward: gates when no cache (N x 4H), W_hh^T (H x 4H), c state (B x H),
 * a zero row and a sink row pair (H, 2H).
 * Backward: dG (N x 4H) + dh, dc (B x H each) + a zero row (H) + db (4H). */
gsize
seqnn_lstm_scratch_size (gint N, gint B, gint I, gint H)
{
  gsize fwd = (gsize) 4 * N * H + (gsize) 4 * H * H + (gsize) B * H + (gsize) 3 * H;
  gsize bwd = (gsize) 4 * N * H + (gsize) 2 * B * H + H + (gsize) 4 * H;
  return MAX (fwd, bwd);
}

/* One row: gates holds the pre-activations (4H) and gets the activations;
 * c holds c_prev and gets c'; c_prev and tanh(c') also go to the cache rows. */
static inline __attribute__ ((always_inline)) void
lstm_row_forward (gint H, gfloat *restrict gates, gfloat *restrict c, gfloat *restrict h,
    gfloat *restrict c_prev_out, gfloat *restrict tanh_c_out)
{
  gfloat *gi = gates, *gf = gates + H, *gg = gates + 2 * H, *go = gates + 3 * H;
  for (gint j = 0; j < H; j++) {
    gfloat i = cell_sigmoidf (gi[j]);
    gfloat f = cell_sigmoidf (gf[j]);
    gfloat g = cell_tanhf (gg[j]);
    gfloat o = cell_sigmoidf (go[j]);
    gfloat cp = c[j];
    gfloat cn = f * cp + i * g;
    gfloat tc = cell_tanhf (cn);
    gi[j] = i;
    gf[j] = f;
    gg[j] = g;
    go[j] = o;
    c[j] = cn;
    h[j] = o * tc;
    c_prev_out[j] = cp;
    tanh_c_out[j] = tc;
  }
}

/* All rows of a step: gates (rows x 4H), c (rows x H), y rows at y_stride;
 * c_prev/tanh_c rows at out_stride (0 for the sink when there is no cache). */
SEQNN_VECTORIZE static void
lstm_step_forward (gint H, gint rows, gfloat *restrict gates, gfloat *restrict c,
    gfloat *restrict y, gint y_stride, gfloat *restrict c_prev_out,
    gfloat *restrict tanh_c_out, gint out_stride)
{
  for (gint b = 0; b < rows; b++)
    lstm_row_forward (H, gates + (gsize) b * 4 * H, c + (gsize) b * H, y + (gsize) b * y_stride,
        c_prev_out + (gsize) b * out_stride, tanh_c_out + (gsize) b * out_stride);
}

void
seqnn_lstm_forward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, const gfloat *c0,
    gfloat *y, gint y_stride, gfloat *h_n, gfloat *c_n, gfloat *cache, gfloat *scratch)
{
  const gint N = pack->N, B = pack->B, GH = 4 * H;
  gfloat *h_prev_cache = cache;
  gfloat *gates = cache ? cache + (gsize) N * H : scratch;
  gfloat *c_prev_cache = cache ? gates + (gsize) N * GH : NULL;
  gfloat *tanh_c_cache = cache ? c_prev_cache + (gsize) N * H : NULL;
  gfloat *w_hh_t = scratch + (cache ? 0 : (gsize) N * GH);   /* H x 4H */
  gfloat *c_state = w_hh_t + (gsize) H * GH;                  /* B x H */
  gfloat *zeros = c_state + (gsize) B * H;                    /* H */
  gfloat *sink = zeros + H;                                   /* 2H, cache rows when no cache */

  memset (zeros, 0, sizeof (gfloat) * H);
  /* A stream (one sequence run from a carried state, no backward to follow):
   * one row a step, so W_hh is read as it is (sgemv) and not transposed. */
  const gboolean one_row = h0 != NULL && cache == NULL && pack->B == 1;
  if (!one_row)
    seqnn_cells_transpose (GH, H, w->w_hh, w_hh_t);
  seqnn_cells_input_projection (N, I, GH, GH, x, w, gates);

  for (gint k = 0; k < pack->T; k++) {
    const gint t = cell_step (pack, reverse, k);
    const gint rows = pack->batch_sizes[t], off = pack->step_offset[t];
    const gint n_cont = cell_n_cont (pack, reverse, t);
    const gfloat *h_prev = n_cont > 0 ? y + (gsize) pack->step_offset[cell_prev_step (reverse, t)] * y_stride : NULL;
    gfloat *g_t = gates + (gsize) off * GH;

    if (one_row) /* g_t (4H) += W_hh (4H x H) . h_prev */
      cblas_sgemv (CblasRowMajor, CblasNoTrans, GH, H, 1.0f, w->w_hh, H,
          n_cont > 0 ? h_prev : h0, 1, 1.0f, g_t, 1);
    else {
      if (n_cont > 0) /* g_t[0..n_cont) += h_prev (n_cont x H) . W_hh^T (H x 4H) */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n_cont, GH, H,
            1.0f, h_prev, y_stride, w_hh_t, GH, 1.0f, g_t, GH);
      if (h0 && rows > n_cont) /* rows starting here start from h0 */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows - n_cont, GH, H,
            1.0f, h0 + (gsize) n_cont * H, H, w_hh_t, GH, 1.0f, g_t + (gsize) n_cont * GH, GH);
    }
    if (c0)
      memcpy (c_state + (gsize) n_cont * H, c0 + (gsize) n_cont * H, sizeof (gfloat) * H * (rows - n_cont));
    else
      memset (c_state + (gsize) n_cont * H, 0, sizeof (gfloat) * H * (rows - n_cont));

    if (cache)
      for (gint b = 0; b < rows; b++)
        memcpy (h_prev_cache + ((gsize) off + b) * H, b < n_cont ? h_prev + (gsize) b * y_stride
            : h0 ? h0 + (gsize) b * H : zeros, sizeof (gfloat) * H);
    lstm_step_forward (H, rows, g_t, c_state, y + (gsize) off * y_stride, y_stride,
        cache ? c_prev_cache + (gsize) off * H : sink,
        cache ? tanh_c_cache + (gsize) off * H : sink + H, cache ? H : 0);

    for (gint b = cell_n_final (pack, reverse, t); b < rows; b++) {
      if (h_n)
        memcpy (h_n + (gsize) b * H, y + ((gsize) off + b) * y_stride, sizeof (gfloat) * H);
      if (c_n)
        memcpy (c_n + (gsize) b * H, c_state + (gsize) b * H, sizeof (gfloat) * H);
    }
  }
}

/* One row: dh is the carried gradient of h (dy added here), dc the carried
 * gradient of c, which becomes that of c_prev. Writes dG (4H) of the pre-activations. */
SEQNN_VECTORIZE static void
lstm_row_backward (gint H, const gfloat *restrict gates, const gfloat *restrict c_prev,
    const gfloat *restrict tanh_c, const gfloat *restrict dy, const gfloat *restrict dh,
    gfloat *restrict dc, gfloat *restrict dG)
{
  const gfloat *gi = gates, *gf = gates + H, *gg = gates + 2 * H, *go = gates + 3 * H;
  for (gint j = 0; j < H; j++) {
    gfloat i = gi[j], f = gf[j], g = gg[j], o = go[j], tc = tanh_c[j];
    gfloat dhj = dh[j] + dy[j];
    gfloat dcj = dc[j] + dhj * o * (1.0f - tc * tc);
    dG[j] = dcj * g * i * (1.0f - i);
    dG[H + j] = dcj * c_prev[j] * f * (1.0f - f);
    dG[2 * H + j] = dcj * i * (1.0f - g * g);
    dG[3 * H + j] = dhj * tc * o * (1.0f - o);
    dc[j] = dcj * f;
  }
}

void
seqnn_lstm_backward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *dy, gint dy_stride,
    const gfloat *dh_n, const gfloat *dc_n, const gfloat *cache, gfloat *dx,
    SeqnnCellGrads *grads, gfloat *scratch)
{
  const gint N = pack->N, B = pack->B, GH = 4 * H;
  const gfloat *h_prev_cache = cache;
  const gfloat *gates = cache + (gsize) N * H;
  const gfloat *c_prev_cache = gates + (gsize) N * GH;
  const gfloat *tanh_c_cache = c_prev_cache + (gsize) N * H;
  gfloat *dG = scratch;                        /* N x 4H */
  gfloat *dh = dG + (gsize) N * GH;            /* B x H */
  gfloat *dc = dh + (gsize) B * H;             /* B x H */
  gfloat *zeros = dc + (gsize) B * H;          /* H: dy when there is none */
  gfloat *db = zeros + H;                      /* 4H: column sums of dG */

  memset (zeros, 0, sizeof (gfloat) * H);
  memset (db, 0, sizeof (gfloat) * GH);
  for (gint k = pack->T - 1; k >= 0; k--) {
    const gint t = cell_step (pack, reverse, k);
    const gint rows = pack->batch_sizes[t], off = pack->step_offset[t];
    const gint n_cont = cell_n_cont (pack, reverse, t);

    for (gint b = cell_n_final (pack, reverse, t); b < rows; b++) {
      cell_copy_row (dh + (gsize) b * H, dh_n ? dh_n + (gsize) b * H : NULL, H);
      cell_copy_row (dc + (gsize) b * H, dc_n ? dc_n + (gsize) b * H : NULL, H);
    }
    for (gint b = 0; b < rows; b++) {
      const gsize r = (gsize) off + b;
      lstm_row_backward (H, gates + r * GH, c_prev_cache + r * H, tanh_c_cache + r * H,
          dy ? dy + r * dy_stride : zeros, dh + (gsize) b * H, dc + (gsize) b * H, dG + r * GH);
    }
    seqnn_cells_add_column_sums (rows, GH, dG + (gsize) off * GH, db);
    if (n_cont > 0) /* dh[0..n_cont) = dG_t (n_cont x 4H) . W_hh (4H x H) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n_cont, H, GH,
          1.0f, dG + (gsize) off * GH, GH, w->w_hh, H, 0.0f, dh, H);
  }

  seqnn_cells_backward_params (N, I, H, GH, x, h_prev_cache, dG, dG, db, db, w, dx, grads);
}
