/* libseqnn: context across the cues of a stream (topic persistence) and
 * the topic segments it decides.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The smoothing filter is a "sticky" hidden Markov model over the classes:
 * the topic of cue t stays the topic of cue t-1 with probability persistence,
 * else moves to any other class with equal probability. A classifier's
 * cue-alone posterior p(c | cue) serves as a scaled likelihood,
 * p(cue | c) ∝ p(c | cue) / prior(c). Cues are pushed as they come and decided
 * oldest first: a cue decided while k later cues are held gets the fixed-lag
 * smoothed posterior p(c_t | cues 0..t+k) (forward filtering, then a backward
 * pass over the held cues); with k = 0 it is the causal filter p(c_t | cues
 * 0..t). Every step is renormalised in double precision, so any number of cues
 * stays finite. */
#pragma once

#include <glib.h>
#include "seqnn/error.h"

G_BEGIN_DECLS

/* Measured on broadcasts built from AG News dev.csv with models/agnews.model
 * (bench/broadcast.py --tune): best per-cue accuracy with no lookahead and
 * with two cues of it. */
#define SEQNN_CONTEXT_DEFAULT_PERSISTENCE 0.97
/* The same filter over a stream model's probabilities (lstmclassify
 * context=stream with a lookahead), which already carry the story so far:
 * the best per-cue accuracy with one and two cues of lookahead on the dev
 * broadcast (bench/broadcast.py --tune-stream); 0.97 there does worse than
 * no lookahead at all. */
#define SEQNN_CONTEXT_DEFAULT_STREAM_PERSISTENCE 0.6

typedef struct _SeqnnContextFilter SeqnnContextFilter;

/* n_classes >= 2; 0 <= persistence < 1; prior: n_classes positive values
 * (normalised here), or NULL for equal priors. */
SeqnnContextFilter *seqnn_context_filter_new (gint n_classes, gdouble persistence,
    const gfloat *prior, GError **error);
void seqnn_context_filter_free (SeqnnContextFilter *filter);
gint seqnn_context_filter_get_n_classes (const SeqnnContextFilter *filter);
gdouble seqnn_context_filter_get_persistence (const SeqnnContextFilter *filter);

/* Forgets the stream: the next cue starts from the prior. Cues still held
 * are dropped; decide (pop) them first to keep their results. */
void seqnn_context_filter_reset (SeqnnContextFilter *filter);

/* Adds the next cue with its cue-alone probabilities (n_classes values >= 0,
 * finite, not all 0; they need not sum to 1), or probs NULL for a cue that
 * has no tokens: it then takes the context's current topic and changes
 * nothing. The cue is held until popped. Bad values fail with
 * SEQNN_ERROR_INVALID_ARGUMENT and leave the filter as it was. */
gboolean seqnn_context_filter_push (SeqnnContextFilter *filter, const gfloat *probs,
    GError **error);
/* Cues pushed and not yet popped. */
guint seqnn_context_filter_get_n_held (const SeqnnContextFilter *filter);
/* Decides the oldest held cue from it and every later held cue: writes its
 * context-aware class probabilities to probs (n_classes, may be NULL) and
 * returns the most probable class (the first on ties), or -1 when no cue is
 * held. */
gint seqnn_context_filter_pop (SeqnnContextFilter *filter, gfloat *probs);

/* ---- Topic segments --------------------------------------------------------- */

/* Times in nanoseconds; SEQNN_TIME_NONE when unknown. */
#define SEQNN_TIME_NONE G_MAXUINT64

/* A run of consecutive decided cues of one class. */
typedef struct {
  guint64 start;            /* the first cue's start */
  guint64 end;              /* the last cue's end (its start when it has no end) */
  gint label;               /* class id */
  gdouble mean_confidence;  /* mean of the cues' decided confidences */
  guint n_cues;
} SeqnnSegment;

typedef struct _SeqnnSegmenter SeqnnSegmenter;

SeqnnSegmenter *seqnn_segmenter_new (void);
void seqnn_segmenter_free (SeqnnSegmenter *segmenter);
/* Adds a decided cue (in stream order). When its label differs from the
 * running segment's, that segment ends: it is written to *ended (may be NULL)
 * and TRUE returned; the cue starts the next one. end may be SEQNN_TIME_NONE. */
gboolean seqnn_segmenter_add (SeqnnSegmenter *segmenter, guint64 start, guint64 end,
    gint label, gdouble confidence, SeqnnSegment *ended);
/* Ends the running segment (end of stream, context reset): TRUE and *ended
 * filled when there was one. */
gboolean seqnn_segmenter_finish (SeqnnSegmenter *segmenter, SeqnnSegment *ended);

G_END_DECLS
