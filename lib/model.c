/* The model: configuration, the flat parameter buffer and its tensor table,
 * torch's initialisation, batch validation.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "names.h"
#include "seqnn/model.h"
#include "layout.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct _SeqnnModel {
  SeqnnConfig config;
  SeqnnLayout layout;
  gfloat *params;
  guint n_tensors;
  SeqnnTensorInfo *tensors;
  gchar **names;         /* owned strings behind tensors[i].name */
};

static const gchar *const cell_names[] = { "rnn-tanh", "rnn-relu", "lstm", "gru" };
static const gchar *const head_names[] = { "last", "mean", "max" };

const gchar *
seqnn_cell_to_string (SeqnnCell cell)
{
  return seqnn_name_of (cell_names, G_N_ELEMENTS (cell_names), (guint) cell);
}

gboolean
seqnn_cell_from_string (const gchar *str, SeqnnCell *cell)
{
  guint value;

  if (!seqnn_name_lookup (cell_names, G_N_ELEMENTS (cell_names), str, &value))
    return FALSE;
  if (cell != NULL)
    *cell = (SeqnnCell) value;
  return TRUE;
}

const gchar *
seqnn_head_to_string (SeqnnHead head)
{
  return seqnn_name_of (head_names, G_N_ELEMENTS (head_names), (guint) head);
}

gboolean
seqnn_head_from_string (const gchar *str, SeqnnHead *head)
{
  guint value;

  if (!seqnn_name_lookup (head_names, G_N_ELEMENTS (head_names), str, &value))
    return FALSE;
  if (head != NULL)
    *head = (SeqnnHead) value;
  return TRUE;
}

gint
seqnn_cell_n_gates (SeqnnCell cell)
{
  switch (cell) {
    case SEQNN_CELL_LSTM:
      return 4;
    case SEQNN_CELL_GRU:
      return 3;
    default:
      return 1;
  }
}

void
seqnn_config_init_default (SeqnnConfig *config)
{
  g_return_if_fail (config != NULL);
  memset (config, 0, sizeof *config);
  config->cell = SEQNN_CELL_LSTM;
  config->vocab_size = 0;
  config->embed_dim = 64;
  config->hidden_dim = 32;
  config->num_layers = 1;
  config->bidirectional = FALSE;
  config->head = SEQNN_HEAD_LAST;
  config->num_classes = 4;
  config->padding_idx = -1;
  config->dropout = 0.0f;
}

#define MAX_DIM (1 << 16)
/* 64 GiB of float32 per parameter table: beyond it an allocation would only
 * fail late (or be killed), so seqnn_model_new refuses such a config up front. */
#define MAX_PARAMS (G_GUINT64_CONSTANT (1) << 34)

/* The parameter count of a config whose fields are in range, in double so
 * that no product overflows. */
static gdouble
n_params_of (const SeqnnConfig *c)
{
  gdouble dirs = c->bidirectional ? 2 : 1, gates = seqnn_cell_n_gates (c->cell), H = c->hidden_dim;
  gdouble total = (gdouble) c->vocab_size * c->embed_dim;
  for (gint l = 0; l < c->num_layers; l++) {
    gdouble input = l == 0 ? c->embed_dim : dirs * H;
    total += dirs * gates * H * (input + H + 2);
  }
  gdouble features = c->num_layers == 0 ? c->embed_dim : dirs * H;
  return total + c->num_classes * (features + 1);
}

gboolean
seqnn_config_validate (const SeqnnConfig *c, GError **error)
{
  const gchar *what = NULL;
  if (c == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "config is NULL");
    return FALSE;
  }
  if ((guint) c->cell > SEQNN_CELL_GRU)
    what = "cell: unknown cell type";
  else if ((guint) c->head > SEQNN_HEAD_MAX)
    what = "head: unknown head type";
  else if (c->vocab_size < 1)
    what = "vocab_size must be >= 1";
  else if (c->embed_dim < 1 || c->embed_dim > MAX_DIM)
    what = "embed_dim must be in [1, 65536]";
  else if (c->hidden_dim < 1 || c->hidden_dim > MAX_DIM)
    what = "hidden_dim must be in [1, 65536]";
  else if (c->num_layers < 0 || c->num_layers > SEQNN_MAX_LAYERS)
    what = "num_layers must be in [0, 16]";
  else if (c->num_layers == 0 && c->head == SEQNN_HEAD_LAST)
    what = "num_layers 0 (a bag of embeddings) has no last state: use head mean or max";
  else if (c->num_layers == 0 && c->bidirectional)
    what = "num_layers 0 (a bag of embeddings) has no direction: bidirectional must be false";
  else if (c->num_classes < 1 || c->num_classes > MAX_DIM)
    what = "num_classes must be in [1, 65536]";
  else if (c->padding_idx < -1 || c->padding_idx >= c->vocab_size)
    what = "padding_idx must be -1 or in [0, vocab_size)";
  else if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
    what = "dropout must be in [0, 1)";
  else if ((guint64) c->vocab_size * (guint64) c->embed_dim > MAX_PARAMS)
    what = "vocab_size * embed_dim is too large";

  if (what) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "invalid model config: %s", what);
    return FALSE;
  }
  return TRUE;
}

/* ---- The parameter layout: one table ----------------------------------------
 * Every tensor of the flat buffer in file order (torch's state_dict order):
 * the embedding, then per layer and direction W_ih, W_hh, b_ih, b_hh, then
 * the classifier. Offsets follow from the order and the shapes; the names
 * are torch's state_dict keys. */

typedef enum {
  TENSOR_EMBEDDING, TENSOR_W_IH, TENSOR_W_HH, TENSOR_B_IH, TENSOR_B_HH, TENSOR_FC_W, TENSOR_FC_B,
} TensorKind;

static const struct {
  const gchar *name;   /* recurrent: "rnn.NAME_lL" plus "_reverse" for the second direction */
  gboolean recurrent;
  gint ndim;
} tensor_kinds[] = {
  [TENSOR_EMBEDDING] = { "embedding.weight", FALSE, 2 },
  [TENSOR_W_IH] = { "weight_ih", TRUE, 2 },
  [TENSOR_W_HH] = { "weight_hh", TRUE, 2 },
  [TENSOR_B_IH] = { "bias_ih", TRUE, 1 },
  [TENSOR_B_HH] = { "bias_hh", TRUE, 1 },
  [TENSOR_FC_W] = { "fc.weight", FALSE, 2 },
  [TENSOR_FC_B] = { "fc.bias", FALSE, 1 },
};

typedef struct {
  TensorKind kind;
  gint layer, dir;     /* recurrent tensors */
  gint rows, cols;     /* cols 1 for vectors */
} TensorSpec;

#define MAX_TENSORS (1 + 4 * SEQNN_MAX_LAYERS * 2 + 2)

/* The layout's tensors in file order; lay's dimensions must be set. */
static guint
list_tensors (const SeqnnLayout *lay, TensorSpec *out)
{
  const gint GH = lay->G * lay->H;
  guint n = 0;
  out[n++] = (TensorSpec) { TENSOR_EMBEDDING, 0, 0, lay->V, lay->E };
  for (gint l = 0; l < lay->L; l++)
    for (gint d = 0; d < lay->D; d++) {
      out[n++] = (TensorSpec) { TENSOR_W_IH, l, d, GH, lay->in_dim[l] };
      out[n++] = (TensorSpec) { TENSOR_W_HH, l, d, GH, lay->H };
      out[n++] = (TensorSpec) { TENSOR_B_IH, l, d, GH, 1 };
      out[n++] = (TensorSpec) { TENSOR_B_HH, l, d, GH, 1 };
    }
  out[n++] = (TensorSpec) { TENSOR_FC_W, 0, 0, lay->C, lay->F };
  out[n++] = (TensorSpec) { TENSOR_FC_B, 0, 0, lay->C, 1 };
  return n;
}

/* Where the layout keeps the offset of tensor t. */
static gsize *
offset_of (SeqnnLayout *lay, const TensorSpec *t)
{
  const gint k = t->layer * lay->D + t->dir;
  switch (t->kind) {
    case TENSOR_EMBEDDING: return &lay->emb;
    case TENSOR_W_IH: return &lay->w_ih[k];
    case TENSOR_W_HH: return &lay->w_hh[k];
    case TENSOR_B_IH: return &lay->b_ih[k];
    case TENSOR_B_HH: return &lay->b_hh[k];
    case TENSOR_FC_W: return &lay->fc_w;
    case TENSOR_FC_B: return &lay->fc_b;
  }
  g_assert_not_reached ();
}

static gchar *
tensor_name (const TensorSpec *t)
{
  if (!tensor_kinds[t->kind].recurrent)
    return g_strdup (tensor_kinds[t->kind].name);
  return g_strdup_printf ("rnn.%s_l%d%s", tensor_kinds[t->kind].name, t->layer,
      t->dir ? "_reverse" : "");
}

void
seqnn_layout_init (SeqnnLayout *lay, const SeqnnConfig *c)
{
  memset (lay, 0, sizeof *lay);
  lay->cell = c->cell;
  lay->head = c->head;
  lay->V = c->vocab_size;
  lay->E = c->embed_dim;
  lay->H = c->hidden_dim;
  lay->G = seqnn_cell_n_gates (c->cell);
  lay->L = c->num_layers;
  lay->D = c->bidirectional ? 2 : 1;
  lay->C = c->num_classes;
  /* Without a recurrent layer the head reads the embedding rows. */
  lay->F = lay->L == 0 ? lay->E : lay->D * lay->H;
  lay->padding_idx = c->padding_idx;
  lay->dropout = c->dropout;
  for (gint l = 0; l < lay->L; l++)
    lay->in_dim[l] = l == 0 ? lay->E : lay->F;

  TensorSpec tensors[MAX_TENSORS];
  guint n = list_tensors (lay, tensors);
  gsize off = 0;
  for (guint i = 0; i < n; i++) {
    *offset_of (lay, &tensors[i]) = off;
    off += (gsize) tensors[i].rows * tensors[i].cols;
  }
  lay->emb_numel = (gsize) lay->V * lay->E;
  lay->total = off;
  lay->dense_numel = off - lay->emb_numel;
}

static void
build_table (SeqnnModel *m)
{
  TensorSpec tensors[MAX_TENSORS];
  guint n = list_tensors (&m->layout, tensors);
  m->tensors = g_new0 (SeqnnTensorInfo, n);
  m->names = g_new0 (gchar *, n + 1);
  m->n_tensors = n;
  for (guint i = 0; i < n; i++) {
    const TensorSpec *spec = &tensors[i];
    SeqnnTensorInfo *t = &m->tensors[i];
    m->names[i] = tensor_name (spec);
    t->name = m->names[i];
    t->ndim = tensor_kinds[spec->kind].ndim;
    t->shape[0] = spec->rows;
    t->shape[1] = spec->cols;
    t->offset = *offset_of (&m->layout, spec);
    t->numel = (gsize) spec->rows * spec->cols;
  }
}

SeqnnModel *
seqnn_model_new (const SeqnnConfig *config, GError **error)
{
  if (!seqnn_config_validate (config, error))
    return NULL;
  if (n_params_of (config) > (gdouble) MAX_PARAMS) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "invalid model config: %.3g parameters, more than 2^34: lower hidden_dim, num_layers or "
        "num_classes", n_params_of (config));
    return NULL;
  }
  SeqnnModel *m = g_new0 (SeqnnModel, 1);
  m->config = *config;
  seqnn_layout_init (&m->layout, config);
  m->params = seqnn_table_alloc0 (sizeof (gfloat) * m->layout.total);
  if (m->params == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "cannot allocate %" G_GSIZE_FORMAT " parameters", m->layout.total);
    g_free (m);
    return NULL;
  }
  build_table (m);
  return m;
}

SeqnnModel *
seqnn_model_copy (const SeqnnModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  SeqnnModel *m = seqnn_model_new (&model->config, NULL);
  if (m)
    memcpy (m->params, model->params, sizeof (gfloat) * model->layout.total);
  return m;
}

void
seqnn_model_free (SeqnnModel *model)
{
  if (model == NULL)
    return;
  seqnn_table_free (model->params);
  g_free (model->tensors);
  g_strfreev (model->names);
  g_free (model);
}

void
seqnn_model_init_params (SeqnnModel *model, guint64 seed)
{
  g_return_if_fail (model != NULL);
  const SeqnnLayout *lay = &model->layout;
  gfloat *p = model->params;
  /* One stream per tensor, so adding layers leaves earlier tensors unchanged. */
  for (guint i = 0; i < model->n_tensors; i++) {
    const SeqnnTensorInfo *t = &model->tensors[i];
    SeqnnRng rng;
    seqnn_rng_init (&rng, seqnn_rng_hash (seed, 0x5eedULL, i));
    if (i == 0) {
      seqnn_rng_fill_normal (&rng, p + t->offset, t->numel, 0.0f, 1.0f);
      if (lay->padding_idx >= 0)
        memset (p + t->offset + (gsize) lay->padding_idx * lay->E, 0, sizeof (gfloat) * lay->E);
    } else if (t->offset >= lay->fc_w) {
      /* nn.Linear: kaiming_uniform(a = sqrt(5)) for the weight and
       * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias: both bound 1/sqrt(F). */
      gfloat bound = 1.0f / sqrtf ((gfloat) lay->F);
      seqnn_rng_fill_uniform (&rng, p + t->offset, t->numel, -bound, bound);
    } else {
      gfloat bound = 1.0f / sqrtf ((gfloat) lay->H);
      seqnn_rng_fill_uniform (&rng, p + t->offset, t->numel, -bound, bound);
    }
  }
}

const SeqnnConfig *
seqnn_model_get_config (const SeqnnModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return &model->config;
}

gfloat *
seqnn_model_get_params (SeqnnModel *model, gsize *n_params)
{
  g_return_val_if_fail (model != NULL, NULL);
  if (n_params)
    *n_params = model->layout.total;
  return model->params;
}

const gfloat *
seqnn_model_peek_params (const SeqnnModel *model, gsize *n_params)
{
  g_return_val_if_fail (model != NULL, NULL);
  if (n_params)
    *n_params = model->layout.total;
  return model->params;
}

guint
seqnn_model_get_n_tensors (const SeqnnModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->n_tensors;
}

const SeqnnTensorInfo *
seqnn_model_get_tensor (const SeqnnModel *model, guint index)
{
  g_return_val_if_fail (model != NULL, NULL);
  return index < model->n_tensors ? &model->tensors[index] : NULL;
}

const SeqnnTensorInfo *
seqnn_model_find_tensor (const SeqnnModel *model, const gchar *name)
{
  g_return_val_if_fail (model != NULL, NULL);
  for (guint i = 0; name && i < model->n_tensors; i++)
    if (strcmp (model->tensors[i].name, name) == 0)
      return &model->tensors[i];
  return NULL;
}

const SeqnnLayout *
seqnn_model_get_layout (const SeqnnModel *model)
{
  return &model->layout;
}

gboolean
seqnn_batch_validate (const SeqnnBatch *batch, const SeqnnConfig *config, GError **error)
{
  if (batch == NULL || config == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        batch == NULL ? "batch is NULL" : "config is NULL");
    return FALSE;
  }
  if (batch->n < 1) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "batch has %d sequences; at least one is needed", batch->n);
    return FALSE;
  }
  if (batch->lengths == NULL || batch->ids == NULL) {
    g_set_error_literal (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        batch->lengths == NULL ? "batch lengths are NULL" : "batch ids are NULL");
    return FALSE;
  }
  const gint32 *ids = batch->ids;
  gint64 total = 0;
  for (gint i = 0; i < batch->n; i++) {
    gint len = batch->lengths[i];
    if (len < 1) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "sequence %d is empty (length %d); every sequence needs at least one token", i, len);
      return FALSE;
    }
    total += len;
    if (total > G_MAXINT) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
          "batch has too many tokens (more than %d)", G_MAXINT);
      return FALSE;
    }
    for (gint t = 0; t < len; t++)
      if ((guint32) ids[t] >= (guint32) config->vocab_size) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
            "sequence %d, position %d: token id %d is outside the vocabulary [0, %d)",
            i, t, ids[t], config->vocab_size);
        return FALSE;
      }
    ids += len;
    if (batch->labels && (batch->labels[i] < 0 || batch->labels[i] >= config->num_classes)) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
          "sequence %d: label %d is outside [0, %d)", i, batch->labels[i], config->num_classes);
      return FALSE;
    }
  }
  return TRUE;
}

#define HUGE_PAGE (2u << 20)

/* Before every table: how to give it back (map_len 0: calloc'd). 64 bytes,
 * so the table keeps calloc's alignment. */
typedef union {
  struct {
    gpointer base;
    gsize map_len;
  };
  guint8 pad[64];
} TableHeader;

/* Large tables are mapped, not allocated and cleared: fresh anonymous pages
 * are zero, and clearing them first touched every page twice (a tenth of a
 * bag of embeddings' training time went to the kernel's and memset's zeroing). */
gpointer
seqnn_table_alloc0 (gsize n_bytes)
{
  TableHeader *h;
  if (n_bytes < 2 * HUGE_PAGE) {
    h = calloc (1, sizeof (TableHeader) + MAX (n_bytes, 1));
    if (h == NULL)
      return NULL;
    h->base = h;
    h->map_len = 0;
    return h + 1;
  }
  gsize rounded = (n_bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  /* a huge page of slack: the mapping starts on a page, so the first huge
   * page boundary past the header is at most HUGE_PAGE in */
  gsize map_len = rounded + HUGE_PAGE;
  if (map_len < rounded)
    return NULL;
  void *base = mmap (NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    return NULL;
  guintptr table = ((guintptr) base + sizeof (TableHeader) + HUGE_PAGE - 1) & ~(guintptr) (HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
  madvise ((gpointer) table, rounded, MADV_HUGEPAGE);  /* advice only: failure is harmless */
#endif
  h = (TableHeader *) table - 1;
  h->base = base;
  h->map_len = map_len;
  return (gpointer) table;
}

void
seqnn_table_free (gpointer table)
{
  if (table == NULL)
    return;
  TableHeader *h = (TableHeader *) table - 1;
  if (h->map_len > 0)
    munmap (h->base, h->map_len);
  else
    free (h->base);
}
