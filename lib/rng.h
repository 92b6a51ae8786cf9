/* Internal: a small deterministic random number generator (xoshiro256**
 * seeded through splitmix64) and the helpers initialisation, dropout and the
 * training loop draw from. Same seed, same stream, on every platform.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 s[4];
} SeqnnRng;

/* splitmix64: one step of the seed sequencer; also a good 64-bit mixer. */
guint64 seqnn_splitmix64 (guint64 *state);
/* A well-mixed value from several words (e.g. seed, step, sequence). */
guint64 seqnn_rng_hash (guint64 a, guint64 b, guint64 c);

void seqnn_rng_init (SeqnnRng *rng, guint64 seed);

/* Inline: dropout draws one a masked element, billions in a training run. */
static inline guint64
seqnn_rng_rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static inline guint64
seqnn_rng_next (SeqnnRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = seqnn_rng_rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = seqnn_rng_rotl (s[3], 45);
  return result;
}

/* Uniform in [0, 1), 24 random bits. */
static inline gfloat
seqnn_rng_uniform (SeqnnRng *rng)
{
  return (gfloat) (seqnn_rng_next (rng) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform in [0, 1), 53 random bits. */
gdouble seqnn_rng_uniform_double (SeqnnRng *rng);
/* Uniform in [lo, hi). */
gfloat seqnn_rng_uniform_range (SeqnnRng *rng, gfloat lo, gfloat hi);
/* Standard normal (Box-Muller in double precision). */
gdouble seqnn_rng_normal (SeqnnRng *rng);
/* Uniform integer in [0, n), unbiased; n >= 1. */
guint64 seqnn_rng_below (SeqnnRng *rng, guint64 n);
/* Fisher-Yates shuffle. */
void seqnn_rng_shuffle_gsize (SeqnnRng *rng, gsize *items, gsize n);

/* Fill helpers for parameter initialisation. */
void seqnn_rng_fill_uniform (SeqnnRng *rng, gfloat *dst, gsize n, gfloat lo, gfloat hi);
void seqnn_rng_fill_normal (SeqnnRng *rng, gfloat *dst, gsize n, gfloat mean, gfloat std);

G_END_DECLS
