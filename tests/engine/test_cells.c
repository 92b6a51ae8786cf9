/* Cell kernels at kernel level: forward against a double-precision reference
 * of torch's equations, finite-difference gradient checks, packed vs alone.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <string.h>
#include <glib.h>

#include "cellcommon.h"

/* ---- Fixtures ----------------------------------------------------------- */

static gint
n_gates (SeqnnCell cell)
{
  return cell == SEQNN_CELL_LSTM ? 4 : cell == SEQNN_CELL_GRU ? 3 : 1;
}

static const gchar *
cell_name (SeqnnCell cell)
{
  static const gchar *names[] = { "rnn-tanh", "rnn-relu", "lstm", "gru" };
  return names[cell];
}

typedef struct {
  gint T, B, N;
  gint lengths[16];
  gint batch_sizes[128];
  gint step_offset[129];
  SeqnnPack pack;
} Pack;

/* lengths must be sorted descending */
static void
pack_init (Pack *p, const gint *lengths, gint B)
{
  memset (p, 0, sizeof *p);
  p->B = B;
  p->T = lengths[0];
  for (gint b = 0; b < B; b++)
    p->lengths[b] = lengths[b];
  for (gint t = 0; t < p->T; t++) {
    gint bs = 0;
    for (gint b = 0; b < B; b++)
      bs += lengths[b] > t;
    p->batch_sizes[t] = bs;
    p->step_offset[t + 1] = p->step_offset[t] + bs;
  }
  p->N = p->step_offset[p->T];
  p->pack = (SeqnnPack) { p->T, p->B, p->N, p->batch_sizes, p->step_offset, p->lengths };
}

static gint
row_of (const Pack *p, gint t, gint b)
{
  return p->step_offset[t] + b;
}

typedef struct {
  SeqnnCell cell;
  gint I, H, G;
  gfloat *params;                 /* w_ih | w_hh | b_ih | b_hh */
  gsize n_params;
  SeqnnCellWeights w;
} Weights;

static void
fill_uniform (GRand *rand, gfloat *a, gsize n, gdouble lo, gdouble hi)
{
  for (gsize i = 0; i < n; i++)
    a[i] = (gfloat) g_rand_double_range (rand, lo, hi);
}

static void
weights_init (Weights *wt, SeqnnCell cell, gint I, gint H, GRand *rand, gdouble scale)
{
  wt->cell = cell;
  wt->I = I;
  wt->H = H;
  wt->G = n_gates (cell);
  gsize GH = (gsize) wt->G * H;
  wt->n_params = GH * I + GH * H + 2 * GH;
  wt->params = g_new (gfloat, wt->n_params);
  fill_uniform (rand, wt->params, wt->n_params, -scale, scale);
  wt->w.w_ih = wt->params;
  wt->w.w_hh = wt->params + GH * I;
  wt->w.b_ih = wt->params + GH * I + GH * H;
  wt->w.b_hh = wt->params + GH * I + GH * H + GH;
}

/* Forward outputs of one run, y with a stride wider than H and an offset,
 * as the reverse half of a bidirectional layer writes. */
typedef struct {
  gint y_stride, y_offset;
  gfloat *y, *h_n, *c_n, *cache, *scratch;
} Run;

static void
run_forward (Run *run, const Weights *wt, const Pack *p, gboolean reverse, const gfloat *x,
    gboolean with_cache)
{
  const gint H = wt->H;
  run->y_offset = H;
  run->y_stride = 2 * H + 1;
  run->y = g_new0 (gfloat, (gsize) p->N * run->y_stride);
  run->h_n = g_new0 (gfloat, (gsize) p->B * H);
  run->c_n = g_new0 (gfloat, (gsize) p->B * H);
  run->cache = with_cache ? g_new0 (gfloat, seqnn_cell_cache_size (wt->cell, p->N, p->B, H)) : NULL;
  run->scratch = g_new0 (gfloat, seqnn_cell_scratch_size (wt->cell, p->N, p->B, wt->I, H));
  for (gsize i = 0; i < (gsize) p->N * run->y_stride; i++)
    run->y[i] = 42.0f;  /* the columns outside this direction's H must survive */
  seqnn_cell_forward (wt->cell, &p->pack, reverse, wt->I, H, x, &wt->w,
      run->y + run->y_offset, run->y_stride, run->h_n,
      wt->cell == SEQNN_CELL_LSTM ? run->c_n : NULL, run->cache, run->scratch);
}

static void
run_clear (Run *run)
{
  g_free (run->y);
  g_free (run->h_n);
  g_free (run->c_n);
  g_free (run->cache);
  g_free (run->scratch);
}

static gfloat
run_y (const Run *run, gint r, gint j)
{
  return run->y[(gsize) r * run->y_stride + run->y_offset + j];
}

/* ---- Double-precision reference of torch's equations -------------------- */

static gdouble
sigmoid (gdouble v)
{
  return 1.0 / (1.0 + exp (-v));
}

/* y: N x H packed, h_n/c_n: B x H */
static void
reference_forward (const Weights *wt, const Pack *p, gboolean reverse, const gfloat *x,
    gdouble *y, gdouble *h_n, gdouble *c_n)
{
  const gint I = wt->I, H = wt->H, GH = wt->G * H;
  gdouble *h = g_new (gdouble, H), *c = g_new (gdouble, H);
  gdouble *gi = g_new (gdouble, GH), *gh = g_new (gdouble, GH);

  for (gint b = 0; b < p->B; b++) {
    const gint L = p->lengths[b];
    memset (h, 0, sizeof (gdouble) * H);
    memset (c, 0, sizeof (gdouble) * H);
    for (gint s = 0; s < L; s++) {
      const gint t = reverse ? L - 1 - s : s;
      const gint r = row_of (p, t, b);
      for (gint j = 0; j < GH; j++) {
        gdouble a = wt->w.b_ih[j], e = wt->w.b_hh[j];
        for (gint k = 0; k < I; k++)
          a += (gdouble) wt->w.w_ih[(gsize) j * I + k] * x[(gsize) r * I + k];
        for (gint k = 0; k < H; k++)
          e += (gdouble) wt->w.w_hh[(gsize) j * H + k] * h[k];
        gi[j] = a;
        gh[j] = e;
      }
      for (gint j = 0; j < H; j++) {
        switch (wt->cell) {
          case SEQNN_CELL_RNN_TANH:
            h[j] = tanh (gi[j] + gh[j]);
            break;
          case SEQNN_CELL_RNN_RELU:
            h[j] = MAX (0.0, gi[j] + gh[j]);
            break;
          case SEQNN_CELL_LSTM: {
            gdouble ig = sigmoid (gi[j] + gh[j]);
            gdouble fg = sigmoid (gi[H + j] + gh[H + j]);
            gdouble gg = tanh (gi[2 * H + j] + gh[2 * H + j]);
            gdouble og = sigmoid (gi[3 * H + j] + gh[3 * H + j]);
            c[j] = fg * c[j] + ig * gg;
            h[j] = og * tanh (c[j]);
            break;
          }
          case SEQNN_CELL_GRU: {
            gdouble rg = sigmoid (gi[j] + gh[j]);
            gdouble zg = sigmoid (gi[H + j] + gh[H + j]);
            gdouble ng = tanh (gi[2 * H + j] + rg * gh[2 * H + j]);
            h[j] = (1.0 - zg) * ng + zg * h[j];
            break;
          }
        }
      }
      memcpy (y + (gsize) r * H, h, sizeof (gdouble) * H);
    }
    memcpy (h_n + (gsize) b * H, h, sizeof (gdouble) * H);
    memcpy (c_n + (gsize) b * H, c, sizeof (gdouble) * H);
  }
  g_free (h);
  g_free (c);
  g_free (gi);
  g_free (gh);
}

/* ---- Test cases --------------------------------------------------------- */

/* |a - b| <= tol, relative beyond magnitude 1 (relu outputs grow unbounded). */
#define assert_close(a, b, tol) \
  g_assert_cmpfloat_with_epsilon ((a), (b), (tol) * MAX (1.0, fabs ((gdouble) (b))))

typedef struct {
  SeqnnCell cell;
  gboolean reverse;
  gint I, H;
} Case;

static const gint lengths_main[] = { 5, 3, 3, 1 };

static void
check_forward_reference (const Case *tc, const gint *lengths, gint B)
{
  GRand *rand = g_rand_new_with_seed (11);
  Pack p;
  Weights wt;
  Run run;
  pack_init (&p, lengths, B);
  weights_init (&wt, tc->cell, tc->I, tc->H, rand, 0.6);
  gfloat *x = g_new (gfloat, (gsize) p.N * tc->I);
  fill_uniform (rand, x, (gsize) p.N * tc->I, -1.5, 1.5);
  const gint H = tc->H;

  gdouble *y = g_new (gdouble, (gsize) p.N * H);
  gdouble *h_n = g_new (gdouble, (gsize) p.B * H), *c_n = g_new (gdouble, (gsize) p.B * H);
  reference_forward (&wt, &p, tc->reverse, x, y, h_n, c_n);

  for (gint with_cache = 0; with_cache < 2; with_cache++) {
    run_forward (&run, &wt, &p, tc->reverse, x, with_cache);
    for (gint r = 0; r < p.N; r++) {
      for (gint j = 0; j < H; j++)
        assert_close (run_y (&run, r, j), y[(gsize) r * H + j], 1e-5);
      /* columns outside [y_offset, y_offset + H) untouched */
      for (gint j = 0; j < run.y_stride; j++)
        if (j < run.y_offset || j >= run.y_offset + H)
          g_assert_cmpfloat (run.y[(gsize) r * run.y_stride + j], ==, 42.0f);
    }
    for (gint i = 0; i < p.B * H; i++) {
      assert_close (run.h_n[i], h_n[i], 1e-5);
      if (tc->cell == SEQNN_CELL_LSTM)
        assert_close (run.c_n[i], c_n[i], 1e-5);
    }
    run_clear (&run);
  }

  g_free (y);
  g_free (h_n);
  g_free (c_n);
  g_free (x);
  g_free (wt.params);
  g_rand_free (rand);
}

static void
test_forward_reference (gconstpointer data)
{
  static const gint equal[] = { 4, 4, 4 };
  static const gint single[] = { 1 };
  static const gint steep[] = { 12, 2, 1, 1, 1 };
  check_forward_reference (data, lengths_main, G_N_ELEMENTS (lengths_main));
  check_forward_reference (data, equal, G_N_ELEMENTS (equal));
  check_forward_reference (data, single, G_N_ELEMENTS (single));
  check_forward_reference (data, steep, G_N_ELEMENTS (steep));
}

/* Loss = <Ry, y> + <Rh, h_n> + <Rc, c_n>, in double. */
typedef struct {
  gfloat *Ry, *Rh, *Rc;  /* Ry: N x H (packed, contiguous) */
} LossWeights;

static gdouble
loss_of (const Run *run, const LossWeights *lw, const Pack *p, gint H, gboolean lstm)
{
  gdouble loss = 0.0;
  for (gint r = 0; r < p->N; r++)
    for (gint j = 0; j < H; j++)
      loss += (gdouble) lw->Ry[(gsize) r * H + j] * run_y (run, r, j);
  for (gint i = 0; i < p->B * H; i++) {
    loss += (gdouble) lw->Rh[i] * run->h_n[i];
    if (lstm)
      loss += (gdouble) lw->Rc[i] * run->c_n[i];
  }
  return loss;
}

/* For relu, the pattern of active units: a finite difference across the kink
 * measures nothing, so such elements are skipped (and counted). */
static guint
active_pattern_hash (const Run *run, const Pack *p, gint H)
{
  guint hash = 5381;
  for (gint r = 0; r < p->N; r++)
    for (gint j = 0; j < H; j++)
      hash = hash * 33 + (run_y (run, r, j) > 0.0f) + 1;
  return hash;
}

static gdouble
loss_at (const Weights *wt, const Pack *p, gboolean reverse, const gfloat *x, const LossWeights *lw,
    guint *pattern)
{
  Run run;
  run_forward (&run, wt, p, reverse, x, FALSE);
  gdouble loss = loss_of (&run, lw, p, wt->H, wt->cell == SEQNN_CELL_LSTM);
  *pattern = active_pattern_hash (&run, p, wt->H);
  run_clear (&run);
  return loss;
}

/* Central difference of the loss in each element of v[0..n), compared with
 * the analytic gradient g. */
static void
check_gradient (const gchar *what, gfloat *v, const gfloat *g, gsize n, const Weights *wt,
    const Pack *p, gboolean reverse, const gfloat *x, const LossWeights *lw)
{
  const gboolean relu = wt->cell == SEQNN_CELL_RNN_RELU;
  const gfloat eps = relu ? 1e-3f : 5e-3f;  /* relu: fewer kink crossings; it is piecewise smooth */
  guint base_pattern, up_pattern, down_pattern;
  gsize skipped = 0, checked = 0;
  /* Under valgrind, every 7th element of the larger tensors. */
  const gsize stride = g_getenv ("SEQNN_UNDER_VALGRIND") && n > 50 ? 7 : 1;
  loss_at (wt, p, reverse, x, lw, &base_pattern);
  for (gsize i = 0; i < n; i += stride) {
    checked++;
    gfloat saved = v[i];
    v[i] = saved + eps;
    gdouble up = loss_at (wt, p, reverse, x, lw, &up_pattern);
    v[i] = saved - eps;
    gdouble down = loss_at (wt, p, reverse, x, lw, &down_pattern);
    v[i] = saved;
    if (relu && (up_pattern != base_pattern || down_pattern != base_pattern)) {
      skipped++;
      continue;
    }
    gdouble numeric = (up - down) / (2.0 * eps);
    gdouble tol = 5e-4 + 1e-2 * fabs (numeric);
    if (fabs (numeric - g[i]) > tol)
      g_error ("%s[%" G_GSIZE_FORMAT "]: analytic %.6g, numeric %.6g", what, i, g[i], numeric);
  }
  if (skipped)
    g_test_message ("%s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " elements skipped (relu kink)",
        what, skipped, checked);
  g_assert_cmpuint (skipped * 4, <=, checked);
}

static void
test_gradients (gconstpointer data)
{
  const Case *tc = data;
  GRand *rand = g_rand_new_with_seed (23);
  Pack p;
  Weights wt;
  Run run;
  pack_init (&p, lengths_main, G_N_ELEMENTS (lengths_main));
  weights_init (&wt, tc->cell, tc->I, tc->H, rand, 0.6);
  const gint I = tc->I, H = tc->H, GH = wt.G * H;
  const gboolean lstm = tc->cell == SEQNN_CELL_LSTM;
  gfloat *x = g_new (gfloat, (gsize) p.N * I);
  fill_uniform (rand, x, (gsize) p.N * I, -1.5, 1.5);
  LossWeights lw = {
    g_new (gfloat, (gsize) p.N * H), g_new (gfloat, (gsize) p.B * H), g_new (gfloat, (gsize) p.B * H),
  };
  fill_uniform (rand, lw.Ry, (gsize) p.N * H, -1, 1);
  fill_uniform (rand, lw.Rh, (gsize) p.B * H, -1, 1);
  fill_uniform (rand, lw.Rc, (gsize) p.B * H, -1, 1);

  /* dy in the same strided layout as y */
  run_forward (&run, &wt, &p, tc->reverse, x, TRUE);
  gfloat *dy = g_new0 (gfloat, (gsize) p.N * run.y_stride);
  for (gint r = 0; r < p.N; r++)
    for (gint j = 0; j < H; j++)
      dy[(gsize) r * run.y_stride + run.y_offset + j] = lw.Ry[(gsize) r * H + j];

  /* Gradients start non-zero: backward must accumulate. */
  const gfloat base = 0.25f;
  gfloat *grad_params = g_new (gfloat, wt.n_params);
  gfloat *dx = g_new (gfloat, (gsize) p.N * I);
  for (gsize i = 0; i < wt.n_params; i++)
    grad_params[i] = base;
  for (gsize i = 0; i < (gsize) p.N * I; i++)
    dx[i] = base;
  SeqnnCellGrads grads = {
    grad_params, grad_params + (gsize) GH * I, grad_params + (gsize) GH * (I + H),
    grad_params + (gsize) GH * (I + H + 1),
  };
  seqnn_cell_backward (tc->cell, &p.pack, tc->reverse, I, H, x, &wt.w, dy + run.y_offset,
      run.y_stride, lw.Rh, lstm ? lw.Rc : NULL, run.cache, dx, &grads, run.scratch);
  for (gsize i = 0; i < wt.n_params; i++)
    grad_params[i] -= base;
  for (gsize i = 0; i < (gsize) p.N * I; i++)
    dx[i] -= base;

  check_gradient ("w_ih", wt.params, grads.w_ih, (gsize) GH * I, &wt, &p, tc->reverse, x, &lw);
  check_gradient ("w_hh", wt.params + (gsize) GH * I, grads.w_hh, (gsize) GH * H, &wt, &p,
      tc->reverse, x, &lw);
  check_gradient ("b_ih", wt.params + (gsize) GH * (I + H), grads.b_ih, GH, &wt, &p,
      tc->reverse, x, &lw);
  check_gradient ("b_hh", wt.params + (gsize) GH * (I + H + 1), grads.b_hh, GH, &wt, &p,
      tc->reverse, x, &lw);
  check_gradient ("x", x, dx, (gsize) p.N * I, &wt, &p, tc->reverse, x, &lw);

  /* dx NULL and missing final-state gradients are accepted: with dh_n, dc_n
   * NULL and dy zero everywhere, every gradient stays zero. */
  memset (grad_params, 0, sizeof (gfloat) * wt.n_params);
  memset (dy, 0, sizeof (gfloat) * (gsize) p.N * run.y_stride);
  seqnn_cell_backward (tc->cell, &p.pack, tc->reverse, I, H, x, &wt.w, dy + run.y_offset,
      run.y_stride, NULL, NULL, run.cache, NULL, &grads, run.scratch);
  for (gsize i = 0; i < wt.n_params; i++)
    g_assert_cmpfloat (grad_params[i], ==, 0.0f);

  /* dy NULL is a zero dy: same gradients as an explicit zero array. */
  gfloat *grad_null = g_new0 (gfloat, wt.n_params);
  SeqnnCellGrads grads_null = {
    grad_null, grad_null + (gsize) GH * I, grad_null + (gsize) GH * (I + H),
    grad_null + (gsize) GH * (I + H + 1),
  };
  seqnn_cell_backward (tc->cell, &p.pack, tc->reverse, I, H, x, &wt.w, dy + run.y_offset,
      run.y_stride, lw.Rh, lstm ? lw.Rc : NULL, run.cache, NULL, &grads, run.scratch);
  seqnn_cell_backward (tc->cell, &p.pack, tc->reverse, I, H, x, &wt.w, NULL, 0,
      lw.Rh, lstm ? lw.Rc : NULL, run.cache, NULL, &grads_null, run.scratch);
  for (gsize i = 0; i < wt.n_params; i++)
    g_assert_cmpfloat (grad_null[i], ==, grad_params[i]);
  g_free (grad_null);

  run_clear (&run);
  g_free (dy);
  g_free (dx);
  g_free (grad_params);
  g_free (lw.Ry);
  g_free (lw.Rh);
  g_free (lw.Rc);
  g_free (x);
  g_free (wt.params);
  g_rand_free (rand);
}

/* Each sequence run alone gives the same outputs and final states as in the batch. */
static void
test_packed_vs_alone (gconstpointer data)
{
  const Case *tc = data;
  GRand *rand = g_rand_new_with_seed (5);
  static const gint lengths[] = { 9, 7, 7, 4, 2, 1 };
  Pack p;
  Weights wt;
  Run batch;
  pack_init (&p, lengths, G_N_ELEMENTS (lengths));
  /* relu does not contract: smaller weights keep rounding differences between
   * the batch's and a lone sequence's BLAS paths from growing over the steps. */
  weights_init (&wt, tc->cell, tc->I, tc->H, rand, tc->cell == SEQNN_CELL_RNN_RELU ? 0.3 : 0.6);
  const gint I = tc->I, H = tc->H;
  gfloat *x = g_new (gfloat, (gsize) p.N * I);
  fill_uniform (rand, x, (gsize) p.N * I, -1.5, 1.5);
  run_forward (&batch, &wt, &p, tc->reverse, x, TRUE);

  for (gint b = 0; b < p.B; b++) {
    Pack one;
    Run alone;
    pack_init (&one, &p.lengths[b], 1);
    gfloat *x1 = g_new (gfloat, (gsize) one.N * I);
    for (gint t = 0; t < one.T; t++)
      memcpy (x1 + (gsize) t * I, x + (gsize) row_of (&p, t, b) * I, sizeof (gfloat) * I);
    run_forward (&alone, &wt, &one, tc->reverse, x1, TRUE);
    for (gint t = 0; t < one.T; t++)
      for (gint j = 0; j < H; j++)
        assert_close (run_y (&alone, t, j), run_y (&batch, row_of (&p, t, b), j), 1e-6);
    for (gint j = 0; j < H; j++) {
      assert_close (alone.h_n[j], batch.h_n[(gsize) b * H + j], 1e-6);
      assert_close (alone.c_n[j], batch.c_n[(gsize) b * H + j], 1e-6);
    }
    run_clear (&alone);
    g_free (x1);
  }

  run_clear (&batch);
  g_free (x);
  g_free (wt.params);
  g_rand_free (rand);
}

/* Saturated inputs: outputs stay finite and within the activations' ranges. */
static void
test_saturation (gconstpointer data)
{
  const Case *tc = data;
  GRand *rand = g_rand_new_with_seed (99);
  Pack p;
  Weights wt;
  Run run;
  pack_init (&p, lengths_main, G_N_ELEMENTS (lengths_main));
  weights_init (&wt, tc->cell, tc->I, tc->H, rand, 40.0);
  gfloat *x = g_new (gfloat, (gsize) p.N * tc->I);
  fill_uniform (rand, x, (gsize) p.N * tc->I, -100, 100);
  run_forward (&run, &wt, &p, tc->reverse, x, TRUE);
  for (gint r = 0; r < p.N; r++)
    for (gint j = 0; j < tc->H; j++) {
      gfloat v = run_y (&run, r, j);
      g_assert_true (isfinite (v));
      if (tc->cell != SEQNN_CELL_RNN_RELU)
        g_assert_cmpfloat (fabsf (v), <=, 1.0f);
    }
  run_clear (&run);

  /* A NaN input reaches that row's outputs (the trainer detects it there). */
  x[0] = NAN;
  run_forward (&run, &wt, &p, tc->reverse, x, TRUE);
  for (gint j = 0; j < tc->H; j++)
    g_assert_true (isnan (run_y (&run, 0, j)));
  run_clear (&run);
  g_free (x);
  g_free (wt.params);
  g_rand_free (rand);
}

/* The kernels' exp, sigmoid and tanh against libm in double. */
static void
test_math_accuracy (void)
{
  gdouble worst_exp = 0, worst_sig = 0, worst_tanh = 0;
  const gint stride = g_getenv ("SEQNN_UNDER_VALGRIND") ? 37 : 1;
  for (gint i = -2000000; i <= 2000000; i += stride) {
    gfloat v = i * 4.35e-5f;          /* [-87, 87] */
    gdouble e = exp ((gdouble) v);
    worst_exp = MAX (worst_exp, fabs (cell_expf (v) - e) / e);
    gfloat s = v / 4.0f;              /* [-21.75, 21.75] */
    gdouble sg = 1.0 / (1.0 + exp (-(gdouble) s));
    worst_sig = MAX (worst_sig, fabs (cell_sigmoidf (s) - sg) / sg);
    gdouble th = tanh ((gdouble) s);
    if (th != 0.0)
      worst_tanh = MAX (worst_tanh, fabs (cell_tanhf (s) - th) / fabs (th));
  }
  g_test_message ("max relative error: expf %.3g, sigmoid %.3g, tanh %.3g",
      worst_exp, worst_sig, worst_tanh);
  g_assert_cmpfloat (worst_exp, <, 3e-7);
  g_assert_cmpfloat (worst_sig, <, 3e-7);
  g_assert_cmpfloat (worst_tanh, <, 3e-7);
  /* No overflow at the extremes. */
  g_assert_cmpfloat (cell_sigmoidf (-1e30f), ==, cell_sigmoidf (-1e30f));
  g_assert_cmpfloat (cell_sigmoidf (-1e30f), <, 1e-30f);
  g_assert_cmpfloat (cell_sigmoidf (1e30f), ==, 1.0f);
  g_assert_cmpfloat (cell_tanhf (1e30f), ==, 1.0f);
  g_assert_cmpfloat (cell_tanhf (-1e30f), ==, -1.0f);
  /* NaN propagates (the trainer detects it), infinities saturate. */
  g_assert_true (isnan (cell_sigmoidf (NAN)));
  g_assert_true (isnan (cell_tanhf (NAN)));
  g_assert_cmpfloat (cell_sigmoidf (INFINITY), ==, 1.0f);
  g_assert_cmpfloat (cell_sigmoidf (-INFINITY), <, 1e-30f);
  g_assert_cmpfloat (cell_tanhf (-INFINITY), ==, -1.0f);
}

static const Case small_cases_template[] = {
  { SEQNN_CELL_RNN_TANH, FALSE, 4, 3 },
  { SEQNN_CELL_RNN_RELU, FALSE, 4, 3 },
  { SEQNN_CELL_LSTM, FALSE, 4, 3 },
  { SEQNN_CELL_GRU, FALSE, 4, 3 },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cells/math-accuracy", test_math_accuracy);

  /* Two sizes: tiny, and one wider than a vector register with a remainder. */
  static const gint sizes[][2] = { { 4, 3 }, { 7, 19 } };
  static Case cases[G_N_ELEMENTS (small_cases_template) * 2 * 2];
  gint n = 0;
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (guint c = 0; c < G_N_ELEMENTS (small_cases_template); c++)
      for (gint rev = 0; rev < 2; rev++) {
        Case *tc = &cases[n++];
        *tc = small_cases_template[c];
        tc->reverse = rev;
        tc->I = sizes[s][0];
        tc->H = sizes[s][1];
        const gchar *name = cell_name (tc->cell);
        gchar *base = g_strdup_printf ("/cells/%s/%s/I%d-H%d", name, rev ? "reverse" : "forward",
            tc->I, tc->H);
        gchar *path;
        path = g_strconcat (base, "/forward-reference", NULL);
        g_test_add_data_func (path, tc, test_forward_reference);
        g_free (path);
        path = g_strconcat (base, "/gradients", NULL);
        g_test_add_data_func (path, tc, test_gradients);
        g_free (path);
        path = g_strconcat (base, "/packed-vs-alone", NULL);
        g_test_add_data_func (path, tc, test_packed_vs_alone);
        g_free (path);
        path = g_strconcat (base, "/saturation", NULL);
        g_test_add_data_func (path, tc, test_saturation);
        g_free (path);
        g_free (base);
      }
  return g_test_run ();
}
