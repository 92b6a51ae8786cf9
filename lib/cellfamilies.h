/* Internal: the kernels of each cell family (rnn.c, lstm.c, gru.c), which
 * seqnn_cell_* (cells.c) dispatches to.
 *
 * The three files are parallel on purpose: each has the same shape (cache
 * and scratch sizes, forward with the one-row stream path, backward) over its
 * own equations and buffer layout; what they share is in cellcommon.c.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "cells.h"

G_BEGIN_DECLS

gsize seqnn_rnn_cache_size (gint N, gint B, gint H);
gsize seqnn_rnn_scratch_size (gint N, gint B, gint I, gint H);
void seqnn_rnn_forward (gboolean relu, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, gfloat *y, gint y_stride,
    gfloat *h_n, gfloat *cache, gfloat *scratch);
void seqnn_rnn_backward (gboolean relu, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *dy, gint dy_stride,
    const gfloat *dh_n, const gfloat *cache, gfloat *dx, SeqnnCellGrads *grads, gfloat *scratch);

gsize seqnn_lstm_cache_size (gint N, gint B, gint H);
gsize seqnn_lstm_scratch_size (gint N, gint B, gint I, gint H);
void seqnn_lstm_forward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, const gfloat *c0,
    gfloat *y, gint y_stride, gfloat *h_n, gfloat *c_n, gfloat *cache, gfloat *scratch);
void seqnn_lstm_backward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *dy, gint dy_stride,
    const gfloat *dh_n, const gfloat *dc_n, const gfloat *cache, gfloat *dx,
    SeqnnCellGrads *grads, gfloat *scratch);

gsize seqnn_gru_cache_size (gint N, gint B, gint H);
gsize seqnn_gru_scratch_size (gint N, gint B, gint I, gint H);
void seqnn_gru_forward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, gfloat *y, gint y_stride,
    gfloat *h_n, gfloat *cache, gfloat *scratch);
void seqnn_gru_backward (const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *dy, gint dy_stride,
    const gfloat *dh_n, const gfloat *cache, gfloat *dx, SeqnnCellGrads *grads, gfloat *scratch);
G_END_DECLS
