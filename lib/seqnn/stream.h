/* libseqnn: running a stream model over a stream of cues (context=stream).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A stream model is unidirectional with head=last: its class at the end of
 * a cue is read from the top layer's hidden state there, and its recurrent
 * state runs on from cue to cue instead of starting from zero, so the
 * network reads the story so far. Such a model is trained over running
 * streams (seqnn_fit with SeqnnFitOptions.stream_training, lstmtrain
 * stream-training=true), and its file says so (metadata "seqnn.stream":
 * "true", models/README-format.md). It also works cue by cue, as any model. */
#pragma once

#include <glib.h>
#include "seqnn/error.h"
#include "seqnn/classifier.h"

G_BEGIN_DECLS

/* TRUE when the classifier is marked as a stream model. */
gboolean seqnn_classifier_is_stream (const SeqnnClassifier *classifier);
/* FALSE with SEQNN_ERROR_INVALID_ARGUMENT when it is not one; the message
 * says why (its architecture, or that it was trained on whole records) and
 * how to get one, e.g. "the model was trained cue by cue (bidirectional,
 * head max), not over streams: context=stream needs a stream model (train
 * one with lstmtrain stream-training=true)". */
gboolean seqnn_classifier_check_stream (const SeqnnClassifier *classifier, GError **error);
/* Marks (or unmarks) the classifier as a stream model; marking needs a
 * unidirectional head=last architecture (else SEQNN_ERROR_INVALID_ARGUMENT,
 * saying what is not). The mark is saved with the model. */
gboolean seqnn_classifier_set_stream (SeqnnClassifier *classifier, gboolean stream, GError **error);

typedef struct _SeqnnStream SeqnnStream;        /* carried recurrent state + workspace */

/* A stream over a stream model (seqnn_classifier_check_stream's error when
 * it is not one), its state zero. The classifier must outlive it.
 * n_threads >= 0 (0 = all cores) as elsewhere; a stream is one sequence,
 * each step depending on the one before, so it runs on the calling thread:
 * the value is checked and kept, not used to split the work. */
SeqnnStream *seqnn_stream_new (const SeqnnClassifier *classifier, gint n_threads, GError **error);
void seqnn_stream_free (SeqnnStream *stream);
/* State back to zero (a new programme). */
void seqnn_stream_reset (SeqnnStream *stream);
const SeqnnClassifier *seqnn_stream_get_classifier (const SeqnnStream *stream);
/* Tokens run since the last reset (for messages and tests). */
guint64 seqnn_stream_get_n_tokens (const SeqnnStream *stream);
/* Buffer growth events so far (for tests: constant once runs of a size were seen). */
guint64 seqnn_stream_get_n_allocations (const SeqnnStream *stream);

/* Runs n_cues consecutive cues (ids concatenated: sum of lengths ids, each
 * in [0, vocab_size); lengths[i] >= 0) from the carried state and carries
 * the state on. probs: n_cues x C, row i = the class probabilities at the
 * end of cue i (for a cue with no tokens: the probabilities of the current
 * state, i.e. the previous cue's, or uniform right after a reset). Equal (to
 * float tolerance) to one forward pass over the concatenation of every cue
 * since the last reset, read at the cue ends. n_cues 0 does nothing. Bad
 * arguments fail with SEQNN_ERROR_INVALID_ARGUMENT, a run too big for memory
 * with SEQNN_ERROR_NO_MEMORY; the state is then unchanged. Once a run of a
 * size has been seen, runs up to that size allocate nothing. */
gboolean seqnn_stream_run (SeqnnStream *stream, const gint32 *ids, const gint *lengths,
    gint n_cues, gfloat *probs, GError **error);

G_END_DECLS
