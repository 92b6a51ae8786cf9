/* libseqnn: several networks of one architecture as one network whose logits
 * are the mean of theirs.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Members side by side: member k owns embedding columns [kE, (k+1)E) and,
 * in every layer and direction, hidden units [kH, (k+1)H) of each gate.
 * Every weight between two members is zero, and a cell's gates act unit by
 * unit, so each member's units compute exactly what that member computes
 * alone. The heads (last, mean, max) act feature by feature too; the
 * classifier reads all the members' features with each member's weights
 * divided by K, and its bias is the members' mean. */
#include "seqnn/model.h"

#include <string.h>

/* Where member k's unit j of a width-wide block of one member lands in the
 * merged block of K members: the blocks of a bidirectional output
 * ([forward H | reverse H]) are split by direction first. */
static gsize
merged_column (gint column, gint width, gint k, gint n_members)
{
  gint block = column / width;
  return (gsize) block * width * n_members + (gsize) k * width + (column % width);
}

static gboolean
check_members (SeqnnModel *const *members, guint n_members, GError **error)
{
  if (members == NULL || n_members == 0) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "an ensemble needs at least one member");
    return FALSE;
  }
  const SeqnnConfig *first = seqnn_model_get_config (members[0]);
  for (guint k = 1; k < n_members; k++) {
    const SeqnnConfig *c = seqnn_model_get_config (members[k]);
    if (c->cell != first->cell || c->vocab_size != first->vocab_size
        || c->embed_dim != first->embed_dim || c->hidden_dim != first->hidden_dim
        || c->num_layers != first->num_layers || c->bidirectional != first->bidirectional
        || c->head != first->head || c->num_classes != first->num_classes
        || c->padding_idx != first->padding_idx || c->dropout != first->dropout) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "ensemble member %u has another architecture than member 0 (members must differ "
          "in their weights only)", k);
      return FALSE;
    }
  }
  if ((gint64) first->embed_dim * n_members > 65536
      || (gint64) first->hidden_dim * n_members > 65536) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "an ensemble of %u members of embedding %d and hidden size %d is wider than 65536",
        n_members, first->embed_dim, first->hidden_dim);
    return FALSE;
  }
  return TRUE;
}

/* The width of the blocks of a tensor's columns: the embedding's for the
 * embedding itself, the first layer (and a bag's classifier), the hidden
 * size after it. */
static gint
input_block (const SeqnnConfig *c, const gchar *name)
{
  if (g_str_equal (name, "embedding.weight") || g_str_has_prefix (name, "rnn.weight_ih_l0"))
    return c->embed_dim;
  if (g_str_equal (name, "fc.weight") && c->num_layers == 0)
    return c->embed_dim;
  return c->hidden_dim;
}

/* Copies member k's tensor into the merged one. dst: [rows_m, cols_m],
 * src: [rows, cols]; row blocks of hidden_dim (gates), column blocks of
 * input_block (none for the embedding's rows and the classifier's rows). */
static void
place_tensor (const SeqnnConfig *c, const SeqnnTensorInfo *src_info, const gfloat *src,
    const SeqnnTensorInfo *dst_info, gfloat *dst, gint k, gint n_members)
{
  const gchar *name = src_info->name;
  gboolean is_embedding = g_str_equal (name, "embedding.weight");
  gboolean is_fc = g_str_has_prefix (name, "fc.");
  gint rows = src_info->shape[0];
  gint cols = src_info->ndim == 2 ? src_info->shape[1] : 1;
  gint cols_m = dst_info->ndim == 2 ? dst_info->shape[1] : 1;
  gint col_block = input_block (c, name);
  gfloat scale = is_fc ? 1.0f / n_members : 1.0f;

  if (g_str_equal (name, "fc.bias")) {
    for (gint r = 0; r < rows; r++)
      dst[r] += src[r] * scale;
    return;
  }
  for (gint r = 0; r < rows; r++) {
    /* the embedding's rows are words, the classifier's classes: shared */
    gsize r_m = is_embedding || is_fc ? (gsize) r
        : merged_column (r, c->hidden_dim, k, n_members);
    gfloat *dst_row = dst + r_m * cols_m;
    const gfloat *src_row = src + (gsize) r * cols;
    if (src_info->ndim == 1) {
      dst_row[0] = src_row[0];
      continue;
    }
    for (gint j = 0; j < cols; j++)
      dst_row[merged_column (j, col_block, k, n_members)] = src_row[j] * scale;
  }
}

SeqnnModel *
seqnn_model_new_ensemble (SeqnnModel *const *members, guint n_members, GError **error)
{
  if (!check_members (members, n_members, error))
    return NULL;
  SeqnnConfig config = *seqnn_model_get_config (members[0]);
  config.embed_dim *= (gint) n_members;
  if (config.num_layers > 0)
    config.hidden_dim *= (gint) n_members;
  SeqnnModel *merged = seqnn_model_new (&config, error);
  if (merged == NULL)
    return NULL;

  gfloat *dst = seqnn_model_get_params (merged, NULL);
  const SeqnnConfig *member_config = seqnn_model_get_config (members[0]);
  for (guint k = 0; k < n_members; k++) {
    const gfloat *src = seqnn_model_peek_params (members[k], NULL);
    for (guint i = 0; i < seqnn_model_get_n_tensors (members[k]); i++) {
      const SeqnnTensorInfo *from = seqnn_model_get_tensor (members[k], i);
      const SeqnnTensorInfo *to = seqnn_model_find_tensor (merged, from->name);
      place_tensor (member_config, from, src + from->offset, to, dst + to->offset,
          (gint) k, (gint) n_members);
    }
  }
  return merged;
}
