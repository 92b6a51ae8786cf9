/* Internal: dataset rows as engine input, shared by training and evaluation.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include "seqnn/dataset.h"

G_BEGIN_DECLS

/* Appends row index's ids (gint32) to ids and returns its length; an empty
 * row is fed as one <unk>, as the PyTorch reference feeds it. *label gets
 * the row's label. index must be inside the dataset. */
gint seqnn_dataset_append_row (const SeqnnDataset *dataset, gsize index, GArray *ids, gint *label);

G_END_DECLS
