/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * seqnn-load-check FILE...: loads each model file with libseqnn and prints
 * "ok" or the error message, one line per file; exit 0. Lets Python tests put
 * the C reader beside models/convert.py on the same files. */
#include <stdio.h>

#include "seqnn/seqnn.h"

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    GError *error = NULL;
    SeqnnClassifier *classifier = seqnn_classifier_load (argv[i], &error);
    if (classifier != NULL)
      printf ("ok\n");
    else
      printf ("error %d: %s\n", error->code, error->message);
    g_clear_error (&error);
    seqnn_classifier_free (classifier);
  }
  return 0;
}
