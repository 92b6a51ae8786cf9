/* Internal: recurrent cell kernels over packed sequences (llm.c style: plain
 * functions over flat float arrays, backward accumulates with +=).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Packed layout (torch's PackedSequence): sequences sorted by length,
 * longest first; step t holds the first batch_sizes[t] sequences; row r of a
 * packed N x D array is (step t, sequence b) with r = step_offset[t] + b.
 * No row exists for padding. */
#pragma once

#include <glib.h>
#include "seqnn/model.h"

G_BEGIN_DECLS

typedef struct {
  gint T;                 /* steps = longest length */
  gint B;                 /* sequences = batch_sizes[0] */
  gint N;                 /* rows = sum of lengths */
  const gint *batch_sizes;/* T entries, non-increasing, >= 1 */
  const gint *step_offset;/* T + 1 entries: prefix sums of batch_sizes */
  const gint *lengths;    /* B entries, sorted descending */
} SeqnnPack;

/* One direction of one layer; G = seqnn_cell_n_gates(cell). Row-major as torch. */
typedef struct {
  const gfloat *w_ih;  /* G*H x I */
  const gfloat *w_hh;  /* G*H x H */
  const gfloat *b_ih;  /* G*H */
  const gfloat *b_hh;  /* G*H */
} SeqnnCellWeights;

typedef struct {
  gfloat *w_ih, *w_hh, *b_ih, *b_hh;  /* same shapes, accumulated with += */
} SeqnnCellGrads;

/* Floats of per-run cache the backward pass needs (activations, gates).
 * A buffer sized for larger N, B serves any smaller batch. */
gsize seqnn_cell_cache_size (SeqnnCell cell, gint N, gint B, gint H);
/* Floats of scratch space either pass needs; nothing in it survives a call,
 * so one scratch buffer can serve every layer, direction and pass of a thread. */
gsize seqnn_cell_scratch_size (SeqnnCell cell, gint N, gint B, gint I, gint H);

/* Forward over the packed batch. x: N x I (row stride I). Writes the H outputs
 * of row r at y[r * y_stride + 0 .. H-1] (the caller offsets y for the reverse
 * half of a bidirectional layer). reverse: each sequence runs from its own last
 * step back to step 0, starting from a zero state. h_n, c_n: B x H final
 * states in packed (sorted) order; c_n only for LSTM, else may be NULL.
 * cache may be NULL when no backward will follow. */
void seqnn_cell_forward (SeqnnCell cell, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w,
    gfloat *y, gint y_stride, gfloat *h_n, gfloat *c_n,
    gfloat *cache, gfloat *scratch);
/* The same from an initial state: h0, c0 (B x H, packed sorted order, like
 * h_n) are each sequence's state before its first step (its first row in
 * the direction run); NULL = zero, which is seqnn_cell_forward. c0 only for
 * LSTM. The backward pass needs nothing more (the cache keeps h0 as the
 * first step's h_prev); it gives no gradient of h0 or c0: a carried state
 * is treated as a constant (truncated backpropagation through time).
 * A single sequence (B == 1) with h0 and no cache (a stream's inference run)
 * reads W_hh as it is, one sgemv a step, instead of transposing it for
 * sgemm: the same values to float rounding, several times faster for the
 * few tokens of a cue. */
void seqnn_cell_forward_from (SeqnnCell cell, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w, const gfloat *h0, const gfloat *c0,
    gfloat *y, gint y_stride, gfloat *h_n, gfloat *c_n,
    gfloat *cache, gfloat *scratch);

/* Backward through time. dy: gradient of y (same layout/stride as forward;
 * NULL = zero); dh_n, dc_n: gradients of the final states (either may be
 * NULL = zero). dx (N x I) and grads are accumulated (+=); dx may be NULL
 * (layer 0 input whose embedding gradient is not needed), as may any of the
 * grads pointers (that tensor's gradient is skipped). x and w must be the
 * forward's; y itself is not needed (the cache holds what is).
 * Kernels never allocate, keep no state between calls (reentrant) and call
 * BLAS as given (the caller sets OpenBLAS to one thread per worker).
 * Note: OpenBLAS's cblas.h defines I (<complex.h>); include this header
 * before it or #undef I after it. */
void seqnn_cell_backward (SeqnnCell cell, const SeqnnPack *pack, gboolean reverse, gint I, gint H,
    const gfloat *x, const SeqnnCellWeights *w,
    const gfloat *dy, gint dy_stride, const gfloat *dh_n, const gfloat *dc_n,
    const gfloat *cache, gfloat *dx, SeqnnCellGrads *grads, gfloat *scratch);

G_END_DECLS
