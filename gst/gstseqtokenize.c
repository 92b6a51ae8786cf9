/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder: being written */
typedef int seqnn_placeholder_gstseqtokenize;
