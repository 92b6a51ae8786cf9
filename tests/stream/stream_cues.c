/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * seqnn-stream-cues MODEL [--alone]: reads cues from stdin, one a line, and
 * prints for each the class id the stream model gives at its end with the
 * state carried from the cues before (seqnn/stream.h), or with --alone, the
 * state reset before every cue. A line "#reset" resets the stream (nothing
 * printed). Lets Python scripts evaluate stream models on broadcasts
 * (models/eval-agnews-stream.py) through the library. Exit 1 with the error. */
#include <stdio.h>
#include <string.h>

#include "seqnn/seqnn.h"

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: seqnn-stream-cues MODEL [--alone] < cues.txt\n");
    return 2;
  }
  gboolean alone = argc > 2 && strcmp (argv[2], "--alone") == 0;
  GError *error = NULL;
  SeqnnClassifier *classifier = seqnn_classifier_load (argv[1], &error);
  SeqnnStream *stream = classifier ? seqnn_stream_new (classifier, 1, &error) : NULL;
  if (stream == NULL) {
    fprintf (stderr, "seqnn-stream-cues: %s: %s\n", argv[1], error->message);
    g_error_free (error);
    seqnn_classifier_free (classifier);
    return 1;
  }
  const gint C = (gint) seqnn_classifier_get_n_labels (classifier);
  gfloat *probs = g_new (gfloat, C);
  SeqnnTokens *tokens = seqnn_tokens_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  gchar line[65536];
  int rc = 0;
  while (fgets (line, sizeof line, stdin) != NULL) {
    line[strcspn (line, "\r\n")] = '\0';
    if (strcmp (line, "#reset") == 0) {
      seqnn_stream_reset (stream);
      continue;
    }
    g_array_set_size (ids, 0);
    seqnn_tokenize (seqnn_classifier_get_tokenizer (classifier), line, -1, tokens);
    seqnn_vocab_encode (seqnn_classifier_get_vocab (classifier), tokens, ids);
    gint n = (gint) ids->len;   /* a cue without tokens keeps the current class */
    if (alone)
      seqnn_stream_reset (stream);
    if (!seqnn_stream_run (stream, (const gint32 *) ids->data, &n, 1, probs, &error)) {
      fprintf (stderr, "seqnn-stream-cues: %s\n", error->message);
      g_clear_error (&error);
      rc = 1;
      break;
    }
    gint arg = 0;
    for (gint c = 1; c < C; c++)
      if (probs[c] > probs[arg])
        arg = c;
    printf ("%d\n", arg);
  }
  g_array_unref (ids);
  seqnn_tokens_free (tokens);
  g_free (probs);
  seqnn_stream_free (stream);
  seqnn_classifier_free (classifier);
  return rc;
}
