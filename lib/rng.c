/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rng.h"

#include <math.h>

guint64
seqnn_splitmix64 (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

guint64
seqnn_rng_hash (guint64 a, guint64 b, guint64 c)
{
  guint64 state = a;
  guint64 h = seqnn_splitmix64 (&state);
  state = h ^ b;
  h = seqnn_splitmix64 (&state);
  state = h ^ c;
  return seqnn_splitmix64 (&state);
}

void
seqnn_rng_init (SeqnnRng *rng, guint64 seed)
{
  guint64 state = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = seqnn_splitmix64 (&state);
}

gdouble
seqnn_rng_uniform_double (SeqnnRng *rng)
{
  return (gdouble) (seqnn_rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

gfloat
seqnn_rng_uniform_range (SeqnnRng *rng, gfloat lo, gfloat hi)
{
  gfloat v = lo + (hi - lo) * seqnn_rng_uniform (rng);
  /* Rounding may land on hi; keep the interval half-open. */
  return v < hi ? v : lo;
}

gdouble
seqnn_rng_normal (SeqnnRng *rng)
{
  gdouble u1 = 1.0 - seqnn_rng_uniform_double (rng); /* (0, 1]: log is finite */
  gdouble u2 = seqnn_rng_uniform_double (rng);
  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

guint64
seqnn_rng_below (SeqnnRng *rng, guint64 n)
{
  if (n <= 1)
    return 0;
  /* Rejection sampling keeps it unbiased. */
  guint64 limit = G_MAXUINT64 - (G_MAXUINT64 % n);
  guint64 x;
  do
    x = seqnn_rng_next (rng);
  while (x >= limit);
  return x % n;
}

void
seqnn_rng_shuffle_gsize (SeqnnRng *rng, gsize *items, gsize n)
{
  for (gsize i = n; i > 1; i--) {
    gsize j = (gsize) seqnn_rng_below (rng, i);
    gsize tmp = items[i - 1];
    items[i - 1] = items[j];
    items[j] = tmp;
  }
}

void
seqnn_rng_fill_uniform (SeqnnRng *rng, gfloat *dst, gsize n, gfloat lo, gfloat hi)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = seqnn_rng_uniform_range (rng, lo, hi);
}

void
seqnn_rng_fill_normal (SeqnnRng *rng, gfloat *dst, gsize n, gfloat mean, gfloat std)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = mean + std * (gfloat) seqnn_rng_normal (rng);
}
