/* Internal to the cell families (rnn.c, lstm.c, gru.c): walking a packed
 * batch in either direction, the passes every family shares (cellcommon.c),
 * and accurate, vectorisable exp/sigmoid/tanh. The families use this; the
 * dispatch (cells.c) sits above them and does not.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <string.h>
#include <glib.h>
#include "cells.h"
#include "vectorize.h"

G_BEGIN_DECLS

/* ---- Walking the packed batch -------------------------------------------
 * Steps are visited in "time" order k = 0..T-1: step t = k forward, T-1-k in
 * reverse. Row b of step t continues from row b of the step visited before it
 * (t-1 forward, t+1 reverse) when b < n_cont(t), else starts from zero.
 * Rows b >= n_final(t) have no later step: their state is the final one. */

static inline gint
cell_step (const SeqnnPack *p, gboolean reverse, gint k)
{
  return reverse ? p->T - 1 - k : k;
}

static inline gint
cell_prev_step (gboolean reverse, gint t)
{
  return reverse ? t + 1 : t - 1;
}

static inline gint
cell_n_cont (const SeqnnPack *p, gboolean reverse, gint t)
{
  if (reverse)
    return t < p->T - 1 ? p->batch_sizes[t + 1] : 0;
  return t > 0 ? p->batch_sizes[t] : 0;
}

static inline gint
cell_n_final (const SeqnnPack *p, gboolean reverse, gint t)
{
  if (reverse)
    return t > 0 ? p->batch_sizes[t] : 0;
  return t < p->T - 1 ? p->batch_sizes[t + 1] : 0;
}

/* ---- Shared passes (cellcommon.c) -------------------------------------------- */

/* gates (N x GH) = x W_ih^T + b_ih, plus b_hh on the first n_hh_bias columns
 * (all of them for RNN/LSTM; r and z only for GRU, whose b_hn sits inside r*). */
void seqnn_cells_input_projection (gint N, gint I, gint GH, gint n_hh_bias,
    const gfloat *x, const SeqnnCellWeights *w, gfloat *gates);

/* db (GH) += column sums of dG (rows x GH); the backward loops call it per
 * step, while that step's rows are still in cache. */
void seqnn_cells_add_column_sums (gint rows, gint GH, const gfloat *dG, gfloat *db);

/* After the backward loop: dW_ih += dG^T x, dW_hh += dG_hh^T h_prev,
 * b_ih += db_ih, b_hh += db_hh (the column sums of dG, dG_hh), dx += dG W_ih.
 * dG_hh is dG itself except for GRU. grads and dx may be NULL. */
void seqnn_cells_backward_params (gint N, gint I, gint H, gint GH,
    const gfloat *x, const gfloat *h_prev, const gfloat *dG, const gfloat *dG_hh,
    const gfloat *db_ih, const gfloat *db_hh,
    const SeqnnCellWeights *w, gfloat *dx, SeqnnCellGrads *grads);

/* Copies a state row, or zeros it when src is NULL. */
static inline void
cell_copy_row (gfloat *dst, const gfloat *src, gint H)
{
  if (src)
    memcpy (dst, src, sizeof (gfloat) * H);
  else
    memset (dst, 0, sizeof (gfloat) * H);
}

/* Transposes src (rows x cols) into dst (cols x rows): W_hh^T lets the
 * per-step product run as NoTrans x NoTrans, OpenBLAS's fastest small case. */
void seqnn_cells_transpose (gint rows, gint cols, const gfloat *src, gfloat *dst);

/* ---- Math ---------------------------------------------------------------
 * Cephes-style expf: round-to-nearest range reduction by ln 2 (split in two
 * for exactness), degree-6 polynomial, exponent built in the bits. Relative
 * error ~1e-7 over the clamped range; written branch-free so loops over it
 * vectorise. */

static inline gfloat
cell_expf (gfloat x)
{
  const gfloat round_magic = 12582912.0f; /* 1.5 * 2^23 */
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  gfloat fn = x * 1.44269504088896341f + round_magic;
  gint32 bits;
  memcpy (&bits, &fn, sizeof bits);
  gint32 n = bits - 0x4B400000;            /* the rounded integer */
  fn -= round_magic;
  gfloat r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  gfloat p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  /* Unsigned: a NaN input gives an arbitrary n, and a signed shift of it
   * would be undefined (the result is NaN through p either way). */
  guint32 ebits = ((guint32) n + 127u) << 23;
  gfloat scale;
  memcpy (&scale, &ebits, sizeof scale);
  return p * scale;
}

/* 1 / (1 + e^-x); e^-x saturates at e^87, so no overflow. */
static inline gfloat
cell_sigmoidf (gfloat x)
{
  return 1.0f / (1.0f + cell_expf (-x));
}

/* Odd polynomial near zero (keeps relative accuracy), 1 - 2/(e^2|x| + 1)
 * elsewhere; both computed and selected so the loop stays branch-free. */
static inline gfloat
cell_tanhf (gfloat x)
{
  gfloat ax = x < 0.0f ? -x : x;
  gfloat z = x * x;
  gfloat small = -5.70498872745e-3f;
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  gfloat large = 1.0f - 2.0f / (cell_expf (2.0f * ax) + 1.0f);
  large = x < 0.0f ? -large : large;
  return ax < 0.625f ? small : large;
}

G_END_DECLS
