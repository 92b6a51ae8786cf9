/* libseqnn: one loaded copy of a model file per process, shared by every user.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A server that classifies many streams with one model file loads it once:
 * seqnn_model_cache_acquire returns the classifier already loaded from the
 * same file (same device and inode, same modification time and size) and
 * counts a reference; a file changed since (rewritten, replaced by a rename,
 * touched) is loaded again, and users of the earlier copy keep theirs until
 * they release it. Thread-safe; concurrent first acquisitions of one file
 * load it once. As make does, it trusts that key: a file replaced within one
 * file-system timestamp tick by another of the same size that reuses the
 * freed inode number is not noticed.
 *
 * A shared classifier is IMMUTABLE: call only its const accessors
 * (seqnn_classifier_peek_model, _get_vocab, _get_tokenizer, _get_label,
 * _encode, ...; a vocabulary reference may be kept), never
 * seqnn_classifier_free, _set_tokenizer, _set_metadata or
 * seqnn_classifier_get_model's writable model. Each user runs it through
 * its own SeqnnInference workspace, so users in different threads run at
 * the same time. To modify a model (fine-tuning), load a private copy with
 * seqnn_classifier_load. */
#pragma once

#include <glib.h>
#include "seqnn/classifier.h"

G_BEGIN_DECLS

/* The classifier of the model file at path, loaded now or shared; NULL with
 * the error of seqnn_classifier_load (SEQNN_ERROR_IO naming the path when it
 * cannot be read) on failure. Release with seqnn_model_cache_release. */
SeqnnClassifier *seqnn_model_cache_acquire (const gchar *path, GError **error);
/* Drops one reference taken by seqnn_model_cache_acquire (NULL: nothing);
 * the last one frees the classifier. */
void seqnn_model_cache_release (SeqnnClassifier *classifier);
/* Number of distinct loaded classifiers alive (for tests and diagnostics). */
guint seqnn_model_cache_get_n_loaded (void);

G_END_DECLS
