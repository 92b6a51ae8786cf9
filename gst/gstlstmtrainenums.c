/* GStreamer seqnn: the enum types of lstmtrain's properties
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <seqnn/seqnn.h>

#include "gstlstmtrainenums.h"

/* Registers an enum whose nicks are the library's names of the values
 * (values[i].value_nick is filled from nick ()). */
static GType
register_enum (const gchar * name, GEnumValue * values, const gchar * (*nick) (gint))
{
  for (guint i = 0; values[i].value_name != NULL; i++)
    values[i].value_nick = nick (values[i].value);
  return g_enum_register_static (name, values);
}

static const gchar *
cell_nick (gint value)
{
  return seqnn_cell_to_string ((SeqnnCell) value);
}

static const gchar *
head_nick (gint value)
{
  return seqnn_head_to_string ((SeqnnHead) value);
}

static const gchar *
optimizer_nick (gint value)
{
  return seqnn_optimizer_to_string ((SeqnnOptimizerKind) value);
}

GType
gst_lstm_train_cell_get_type (void)
{
  static GType type = 0;
  static GEnumValue values[] = {
    { SEQNN_CELL_RNN_TANH, "Elman RNN with tanh", NULL },
    { SEQNN_CELL_RNN_RELU, "Elman RNN with ReLU", NULL },
    { SEQNN_CELL_LSTM, "LSTM", NULL },
    { SEQNN_CELL_GRU, "GRU", NULL },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, register_enum ("GstLstmTrainCell", values, cell_nick));
  return type;
}

GType
gst_lstm_train_head_get_type (void)
{
  static GType type = 0;
  static GEnumValue values[] = {
    { SEQNN_HEAD_LAST, "Final hidden state of the top layer", NULL },
    { SEQNN_HEAD_MEAN, "Mean of the top layer's outputs", NULL },
    { SEQNN_HEAD_MAX, "Element-wise max of the top layer's outputs", NULL },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, register_enum ("GstLstmTrainHead", values, head_nick));
  return type;
}

static const gchar *
lr_schedule_nick (gint value)
{
  return seqnn_lr_schedule_to_string ((SeqnnLrSchedule) value);
}

GType
gst_lstm_train_lr_schedule_get_type (void)
{
  static GType type = 0;
  static GEnumValue values[] = {
    { SEQNN_LR_CONSTANT, "The learning rate throughout", NULL },
    { SEQNN_LR_LINEAR, "Down in a straight line to 0 at the last step", NULL },
    { SEQNN_LR_COSINE, "Down along half a cosine to 0 at the last step", NULL },
    { SEQNN_LR_PLATEAU, "Halved after each epoch without a better validation accuracy", NULL },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, register_enum ("GstLstmTrainLrSchedule", values, lr_schedule_nick));
  return type;
}

GType
gst_lstm_train_optimizer_get_type (void)
{
  static GType type = 0;
  static GEnumValue values[] = {
    { SEQNN_OPTIMIZER_ADAM, "Adam", NULL },
    { SEQNN_OPTIMIZER_SGD, "Stochastic gradient descent (with momentum)", NULL },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, register_enum ("GstLstmTrainOptimizer", values, optimizer_nick));
  return type;
}
