/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seqnn/error.h"

G_DEFINE_QUARK (seqnn-error-quark, seqnn_error)
