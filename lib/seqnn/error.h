/* libseqnn: recurrent text classifiers over OpenBLAS.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Every failing libseqnn call sets a GError in this domain; the library
 * never prints, exits or aborts on bad input. */
#define SEQNN_ERROR (seqnn_error_quark ())
GQuark seqnn_error_quark (void);

typedef enum {
  SEQNN_ERROR_INVALID_ARGUMENT, /* NULL, bad sizes, empty sequence, bad option */
  SEQNN_ERROR_OUT_OF_RANGE,     /* token id or label outside the model's range */
  SEQNN_ERROR_NUMERIC,          /* NaN or infinite loss or gradient */
  SEQNN_ERROR_PARSE,            /* malformed input record (message names file and line) */
  SEQNN_ERROR_CORRUPT,          /* damaged or inconsistent model file */
  SEQNN_ERROR_IO,               /* a file could not be read or written */
  SEQNN_ERROR_UNSUPPORTED,      /* valid but not supported (e.g. newer format version) */
  SEQNN_ERROR_CANCELLED,        /* a callback asked to stop */
  SEQNN_ERROR_NO_MEMORY,        /* memory for an input-sized request (a huge batch or
                                 * record) was not there; the message says how much */
} SeqnnError;

/* A short stable name for the kind of error, for logs and debug strings:
 * "invalid-argument", "out-of-range", "numeric", "parse", "corrupt", "io",
 * "unsupported", "cancelled", "no-memory"; an error of another domain gives that
 * domain's name. */
const gchar *seqnn_error_code_name (const GError *error);

G_END_DECLS
