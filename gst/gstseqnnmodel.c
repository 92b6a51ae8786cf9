/* GStreamer seqnn: lstmclassify's model in use and the one waiting for the
 * next batch boundary.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstseqnnmodel.h"

GST_DEBUG_CATEGORY_EXTERN (gst_lstm_classify_debug);
#define GST_CAT_DEFAULT gst_lstm_classify_debug

struct _GstSeqnnModel {
  GstElement *element;
  GstSeqnnModelInUse cur;
  GMutex lock;                  /* guards the rest */
  SeqnnClassifier *next;        /* loaded, taken over at a batch boundary */
  gchar *next_path;
  SeqnnVocab *sink_vocab;       /* the newest loaded model's vocabulary... */
  SeqnnTokenizerConfig sink_tokenizer; /* ...and tokenizer settings */
};

GstSeqnnModel *
gst_seqnn_model_new (GstElement *element)
{
  GstSeqnnModel *model = g_new0 (GstSeqnnModel, 1);

  model->element = element;
  g_mutex_init (&model->lock);
  return model;
}

void
gst_seqnn_model_free (GstSeqnnModel *model)
{
  gst_seqnn_model_close (model);
  g_mutex_clear (&model->lock);
  g_free (model);
}

const GstSeqnnModelInUse *
gst_seqnn_model_in_use (const GstSeqnnModel *model)
{
  return &model->cur;
}

static void
clear_in_use (GstSeqnnModelInUse *cur)
{
  g_clear_pointer (&cur->inference, seqnn_inference_free);
  g_clear_pointer (&cur->classifier, seqnn_model_cache_release);
  g_clear_pointer (&cur->label_block, gst_seqnn_labels_unref);
  g_clear_pointer (&cur->confusion, seqnn_confusion_free);
  g_clear_pointer (&cur->path, g_free);
  cur->labels = NULL;
  cur->n_labels = 0;
}

/* The newest loaded model's vocabulary for the sink pad. */
static void
set_sink_vocab (GstSeqnnModel *model, SeqnnClassifier *classifier)
{
  g_clear_pointer (&model->sink_vocab, seqnn_vocab_unref);
  model->sink_vocab = seqnn_vocab_ref (seqnn_classifier_get_vocab (classifier));
  model->sink_tokenizer = *seqnn_classifier_get_tokenizer (classifier);
}

void
gst_seqnn_model_use (GstSeqnnModel *model, SeqnnClassifier *classifier, const gchar *path,
    gint n_threads)
{
  GstSeqnnModelInUse *cur = &model->cur;
  const gchar **names;

  clear_in_use (cur);
  cur->classifier = classifier;
  cur->path = g_strdup (path);
  cur->inference = seqnn_inference_new (seqnn_classifier_peek_model (classifier), n_threads);
  cur->n_threads = n_threads;
  cur->n_labels = seqnn_classifier_get_n_labels (classifier);
  names = g_new0 (const gchar *, cur->n_labels + 1);
  for (guint i = 0; i < cur->n_labels; i++)
    names[i] = seqnn_classifier_get_label (classifier, i);
  cur->label_block = gst_seqnn_labels_new (names, cur->n_labels);
  cur->labels = gst_seqnn_labels_get_strv (cur->label_block);
  g_free (names);
  cur->confusion = seqnn_confusion_new (cur->n_labels);
}

void
gst_seqnn_model_set_n_threads (GstSeqnnModel *model, gint n_threads)
{
  if (model->cur.inference && n_threads != model->cur.n_threads) {
    seqnn_inference_set_n_threads (model->cur.inference, n_threads);
    model->cur.n_threads = n_threads;
  }
}

gboolean
gst_seqnn_model_open (GstSeqnnModel *model, const gchar *path, gint n_threads)
{
  SeqnnClassifier *classifier;
  GError *error = NULL;

  if (path == NULL) {
    GST_ELEMENT_ERROR (model->element, RESOURCE, NOT_FOUND, ("No model file given"),
        ("set the 'model' property to a model file written by lstmtrain"));
    return FALSE;
  }
  classifier = seqnn_model_cache_acquire (path, &error);
  if (classifier == NULL) {
    if (g_error_matches (error, SEQNN_ERROR, SEQNN_ERROR_IO)
        && !g_file_test (path, G_FILE_TEST_EXISTS))
      GST_ELEMENT_ERROR (model->element, RESOURCE, NOT_FOUND, ("Could not load model '%s': %s",
              path, error->message), ("seqnn_classifier_load: %s error",
              seqnn_error_code_name (error)));
    else
      GST_ELEMENT_ERROR (model->element, RESOURCE, OPEN_READ, ("Could not load model '%s': %s",
              path, error->message), ("seqnn_classifier_load: %s error",
              seqnn_error_code_name (error)));
    g_error_free (error);
    return FALSE;
  }
  GST_INFO_OBJECT (model->element, "loaded model '%s'", path);
  gst_seqnn_model_use (model, classifier, path, n_threads);
  g_mutex_lock (&model->lock);
  set_sink_vocab (model, classifier);
  g_mutex_unlock (&model->lock);
  return TRUE;
}

void
gst_seqnn_model_close (GstSeqnnModel *model)
{
  clear_in_use (&model->cur);
  g_mutex_lock (&model->lock);
  g_clear_pointer (&model->next, seqnn_model_cache_release);
  g_clear_pointer (&model->next_path, g_free);
  g_clear_pointer (&model->sink_vocab, seqnn_vocab_unref);
  g_mutex_unlock (&model->lock);
}

gboolean
gst_seqnn_model_check_stream (GstSeqnnModel *model)
{
  GError *error = NULL;

  if (model->cur.classifier == NULL
      || seqnn_classifier_check_stream (model->cur.classifier, &error))
    return TRUE;
  GST_ELEMENT_ERROR (model->element, LIBRARY, SETTINGS,
      ("Model '%s' cannot be used with context=stream: %s", model->cur.path, error->message),
      ("seqnn_classifier_check_stream: %s error", seqnn_error_code_name (error)));
  g_error_free (error);
  return FALSE;
}

gboolean
gst_seqnn_model_load_next (GstSeqnnModel *model, const gchar *path, gboolean stream)
{
  GError *error = NULL;
  /* Loading reads and checks the whole file: outside every lock. */
  SeqnnClassifier *classifier = seqnn_model_cache_acquire (path, &error);

  if (classifier == NULL) {
    GST_ELEMENT_WARNING (model->element, RESOURCE, OPEN_READ,
        ("Could not load model '%s', keeping the current model: %s", path, error->message),
        ("seqnn_classifier_load: %s error", seqnn_error_code_name (error)));
    g_error_free (error);
    return FALSE;
  }
  if (stream && !seqnn_classifier_check_stream (classifier, &error)) {
    GST_ELEMENT_WARNING (model->element, LIBRARY, SETTINGS,
        ("Model '%s' cannot be used with context=stream, keeping the current model: %s", path,
            error->message), ("seqnn_classifier_check_stream: %s error",
            seqnn_error_code_name (error)));
    g_error_free (error);
    seqnn_model_cache_release (classifier);
    return FALSE;
  }
  GST_INFO_OBJECT (model->element, "model '%s' loaded, used from the next batch", path);
  g_mutex_lock (&model->lock);
  if (model->next)
    seqnn_model_cache_release (model->next);
  model->next = classifier;
  g_free (model->next_path);
  model->next_path = g_strdup (path);
  set_sink_vocab (model, classifier);
  g_mutex_unlock (&model->lock);
  return TRUE;
}

SeqnnClassifier *
gst_seqnn_model_take_next (GstSeqnnModel *model, gchar **path)
{
  SeqnnClassifier *next;

  g_mutex_lock (&model->lock);
  next = model->next;
  *path = model->next_path;
  model->next = NULL;
  model->next_path = NULL;
  g_mutex_unlock (&model->lock);
  return next;
}

SeqnnVocab *
gst_seqnn_model_ref_sink_vocab (GstSeqnnModel *model, SeqnnTokenizerConfig *tokenizer)
{
  SeqnnVocab *vocab = NULL;

  g_mutex_lock (&model->lock);
  if (model->sink_vocab != NULL) {
    vocab = seqnn_vocab_ref (model->sink_vocab);
    *tokenizer = model->sink_tokenizer;
  }
  g_mutex_unlock (&model->lock);
  return vocab;
}

GstFlowReturn
gst_seqnn_model_run (GstSeqnnModel *model, GArray *ids, GArray *lengths, GArray *probs)
{
  GstSeqnnModelInUse *cur = &model->cur;
  SeqnnBatch input = { (const gint32 *) ids->data, (const gint *) lengths->data, lengths->len,
    NULL };
  GError *error = NULL;

  g_array_set_size (probs, lengths->len * cur->n_labels);
  if (input.n > 0
      && !seqnn_inference_run (cur->inference, &input, (gfloat *) probs->data, NULL, &error)) {
    GST_ELEMENT_ERROR (model->element, STREAM, FAILED, ("Could not classify a batch of %u "
            "buffers: %s", lengths->len, error->message), ("model '%s'", GST_STR_NULL (cur->path)));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

void
gst_seqnn_model_reset_counts (GstSeqnnModel *model)
{
  if (model->cur.confusion)
    seqnn_confusion_reset (model->cur.confusion);
}
