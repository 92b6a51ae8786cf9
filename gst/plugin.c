/* The seqnn GStreamer plugin: seqtokenize, lstmclassify, lstmtrain.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstseqtokenize.h"
#include "gstlstmclassify.h"
#include "gstlstmtrain.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (seqtokenize, plugin);
  ret |= GST_ELEMENT_REGISTER (lstmclassify, plugin);
  ret |= GST_ELEMENT_REGISTER (lstmtrain, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, seqnn,
    "Recurrent neural network text classification (RNN, LSTM, GRU)",
    plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
