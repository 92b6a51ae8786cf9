/* The lstmclassify batcher alone (gst/gstseqnnbatcher.c): batches, events in
 * order, max-latency on a test clock, flushing, drain, downstream EOS.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gst/check/gstcheck.h>
#include <gst/check/gsttestclock.h>

#include "gstseqnnbatcher.h"

typedef struct {
  GstElement *element;  /* gives the clock */
  GstPad *srcpad;       /* no task: pausing it does nothing */
  GstSeqnnBatcher *batcher;
} Fixture;

static void
fixture_init (Fixture *f, guint batch_size, GstClockTime max_latency)
{
  f->element = gst_bin_new (NULL);
  f->srcpad = gst_pad_new ("src", GST_PAD_SRC);
  f->batcher = gst_seqnn_batcher_new (f->element, f->srcpad);
  gst_seqnn_batcher_set_limits (f->batcher, batch_size, max_latency);
  gst_seqnn_batcher_set_flushing (f->batcher, FALSE);
}

static void
fixture_clear (Fixture *f)
{
  gst_seqnn_batcher_free (f->batcher);
  gst_object_unref (f->srcpad);
  gst_object_unref (f->element);
}

static GstBuffer *
buffer_at (guint i)
{
  GstBuffer *buffer = gst_buffer_new ();
  GST_BUFFER_PTS (buffer) = i * GST_SECOND;
  return buffer;
}

static void
push_buffers (Fixture *f, guint from, guint to)
{
  for (guint i = from; i < to; i++)
    fail_unless_equals_int (gst_seqnn_batcher_push_buffer (f->batcher, buffer_at (i), NULL, NULL,
            0, FALSE), GST_FLOW_OK);
}

static void
push_event (Fixture *f, GstEvent *event)
{
  gboolean restart;
  fail_unless_equals_int (gst_seqnn_batcher_push_event (f->batcher, event, &restart), GST_FLOW_OK);
  fail_if (restart);
}

/* Takes a batch and checks it holds the buffers from..from+n-1. */
static void
take_batch (Fixture *f, guint from, guint n)
{
  gboolean woke;
  GstSeqnnBatch *batch;
  GstEvent *event = gst_seqnn_batcher_take (f->batcher, &batch, GST_CLOCK_TIME_NONE, &woke);

  fail_unless (event == NULL, "got %s instead of a batch", event ? GST_EVENT_TYPE_NAME (event) : "");
  fail_unless (batch != NULL);
  fail_unless_equals_int (batch->n, n);
  for (guint i = 0; i < n; i++)
    fail_unless_equals_uint64 (GST_BUFFER_PTS (batch->buffers[i]), (from + i) * GST_SECOND);
  fail_unless_equals_int (gst_seqnn_batcher_done (f->batcher, GST_FLOW_OK, TRUE), GST_FLOW_OK);
}

static void
take_event (Fixture *f, GstEventType type)
{
  gboolean woke;
  GstSeqnnBatch *batch;
  GstEvent *event = gst_seqnn_batcher_take (f->batcher, &batch, GST_CLOCK_TIME_NONE, &woke);

  fail_unless (event != NULL, "a batch instead of %s", gst_event_type_get_name (type));
  fail_unless_equals_string (GST_EVENT_TYPE_NAME (event), gst_event_type_get_name (type));
  gst_event_unref (event);
  gst_seqnn_batcher_done (f->batcher, GST_FLOW_OK, FALSE);
}

static GstEvent *
segment_event (void)
{
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  return gst_event_new_segment (&segment);
}

GST_START_TEST (test_full_batches_then_partial_before_event)
{
  Fixture f;

  fixture_init (&f, 3, 0);
  push_buffers (&f, 0, 5);  /* room for two batches: no blocking */
  push_event (&f, gst_event_new_eos ());
  take_batch (&f, 0, 3);
  take_batch (&f, 3, 2);   /* partial: the event is next */
  take_event (&f, GST_EVENT_EOS);
  fixture_clear (&f);
}

GST_END_TEST;

typedef struct {
  Fixture *f;
  guint from, to;
} PushJob;

static gpointer
push_thread (gpointer data)
{
  PushJob *job = data;
  push_buffers (job->f, job->from, job->to);
  return NULL;
}

GST_START_TEST (test_sink_blocks_at_two_batches)
{
  Fixture f;
  PushJob job = { &f, 0, 9 };
  GThread *thread;

  fixture_init (&f, 2, 0);
  thread = g_thread_new ("push", push_thread, &job);
  /* The pusher waits at 4 queued buffers until the task takes. */
  for (guint i = 0; i < 4; i++)
    take_batch (&f, 2 * i, 2);
  g_thread_join (thread);
  push_event (&f, gst_event_new_eos ());
  take_batch (&f, 8, 1);
  take_event (&f, GST_EVENT_EOS);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_encoded_ids_follow_their_buffers)
{
  gboolean woke;
  const gchar *words[] = { "<unk>", "<pad>", "a", "b" };
  SeqnnVocab *vocab = seqnn_vocab_new_from_tokens (words, 4, NULL);
  const gint32 ids[2][3] = { { 2, 3, 2 }, { 3, 0, 0 } };
  GstSeqnnBatch *batch;
  Fixture f;

  fixture_init (&f, 3, 0);
  gst_seqnn_batcher_push_buffer (f.batcher, buffer_at (0), seqnn_vocab_ref (vocab), ids[0], 3, FALSE);
  gst_seqnn_batcher_push_buffer (f.batcher, buffer_at (1), NULL, NULL, 0, FALSE);
  gst_seqnn_batcher_push_buffer (f.batcher, buffer_at (2), seqnn_vocab_ref (vocab), ids[1], 1, TRUE);
  fail_unless (gst_seqnn_batcher_take (f.batcher, &batch, GST_CLOCK_TIME_NONE, &woke) == NULL);
  fail_unless_equals_int (batch->n, 3);
  fail_unless (batch->slots[0].vocab == vocab && batch->slots[1].vocab == NULL
      && batch->slots[2].vocab == vocab);
  fail_unless (!batch->slots[0].markup && batch->slots[2].markup);
  fail_unless_equals_int (batch->slots[0].n_ids, 3);
  fail_unless_equals_int (batch->slots[2].n_ids, 1);
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_int (g_array_index (batch->ids, gint32, batch->slots[0].start + i), ids[0][i]);
  fail_unless_equals_int (g_array_index (batch->ids, gint32, batch->slots[2].start), 3);
  gst_seqnn_batcher_done (f.batcher, GST_FLOW_OK, TRUE);
  fixture_clear (&f);
  seqnn_vocab_unref (vocab);  /* the last reference: the batch released its own */
}

GST_END_TEST;

typedef struct {
  Fixture *f;
  GstEvent *event;
  GstSeqnnBatch *batch;
} TakeJob;

static gpointer
take_thread (gpointer data)
{
  gboolean woke;
  TakeJob *job = data;
  job->event = gst_seqnn_batcher_take (job->f->batcher, &job->batch, GST_CLOCK_TIME_NONE, &woke);
  return NULL;
}

GST_START_TEST (test_max_latency_on_the_clock)
{
  GstClock *clock = gst_test_clock_new ();
  TakeJob job;
  GThread *thread;
  Fixture f;

  fixture_init (&f, 8, 100 * GST_MSECOND);
  gst_element_set_clock (f.element, clock);
  push_buffers (&f, 0, 2);
  job = (TakeJob) { &f, NULL, NULL };
  thread = g_thread_new ("take", take_thread, &job);
  /* The task waits for the oldest buffer's deadline, then takes a partial batch. */
  gst_test_clock_wait_for_next_pending_id (GST_TEST_CLOCK (clock), NULL);
  fail_unless (job.batch == NULL);
  gst_test_clock_set_time (GST_TEST_CLOCK (clock), 100 * GST_MSECOND);
  gst_test_clock_crank (GST_TEST_CLOCK (clock));
  g_thread_join (thread);
  fail_unless (job.event == NULL && job.batch != NULL);
  fail_unless_equals_int (job.batch->n, 2);
  gst_seqnn_batcher_done (f.batcher, GST_FLOW_OK, TRUE);
  fixture_clear (&f);
  gst_object_unref (clock);
}

GST_END_TEST;

GST_START_TEST (test_flushing_wakes_the_task)
{
  TakeJob job;
  GThread *thread;
  Fixture f;

  fixture_init (&f, 4, 0);
  push_buffers (&f, 0, 1);  /* not a full batch: the task waits */
  job = (TakeJob) { &f, NULL, NULL };
  thread = g_thread_new ("take", take_thread, &job);
  g_usleep (20000);
  gst_seqnn_batcher_set_flushing (f.batcher, TRUE);
  g_thread_join (thread);
  fail_unless (job.event == NULL && job.batch == NULL);
  /* While flushing everything is refused with FLUSHING. */
  fail_unless_equals_int (gst_seqnn_batcher_push_buffer (f.batcher, buffer_at (1), NULL, NULL, 0,
          FALSE), GST_FLOW_FLUSHING);
  {
    gboolean restart;
    fail_unless_equals_int (gst_seqnn_batcher_push_event (f.batcher, segment_event (), &restart),
        GST_FLOW_FLUSHING);
  }
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_flush_keeps_sticky_events)
{
  GstCaps *caps;
  Fixture f;

  fixture_init (&f, 4, 0);
  push_event (&f, gst_event_new_stream_start ("s"));
  push_buffers (&f, 0, 2);
  push_event (&f, segment_event ());
  caps = gst_caps_new_empty_simple ("text/x-raw");
  push_event (&f, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  push_buffers (&f, 2, 3);
  gst_seqnn_batcher_set_flushing (f.batcher, TRUE);
  gst_seqnn_batcher_flush (f.batcher);
  gst_seqnn_batcher_set_flushing (f.batcher, FALSE);
  /* STREAM_START and CAPS stay, in order; buffers and SEGMENT went. */
  take_event (&f, GST_EVENT_STREAM_START);
  take_event (&f, GST_EVENT_CAPS);
  push_buffers (&f, 10, 11);
  push_event (&f, gst_event_new_eos ());
  take_batch (&f, 10, 1);
  take_event (&f, GST_EVENT_EOS);
  fixture_clear (&f);
}

GST_END_TEST;

static gpointer
drain_thread (gpointer data)
{
  return GINT_TO_POINTER (gst_seqnn_batcher_drain (data));
}

GST_START_TEST (test_drain_runs_partial_batches)
{
  GThread *thread;
  Fixture f;

  fixture_init (&f, 4, 0);
  push_buffers (&f, 0, 3);
  thread = g_thread_new ("drain", drain_thread, f.batcher);
  take_batch (&f, 0, 3);  /* partial: a drain waits */
  fail_unless (GPOINTER_TO_INT (g_thread_join (thread)));
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_downstream_eos)
{
  gboolean woke;
  GstSeqnnBatch *batch;
  GstEvent *event;
  gboolean restart;
  Fixture f;

  fixture_init (&f, 2, 0);
  push_buffers (&f, 0, 4);
  push_event (&f, gst_event_new_tag (gst_tag_list_new_empty ()));
  fail_unless (gst_seqnn_batcher_take (f.batcher, &batch, GST_CLOCK_TIME_NONE, &woke) == NULL);
  /* Downstream said EOS: what is queued up to a pushable event goes, and
   * buffers are refused with EOS, but the task goes on. */
  fail_unless_equals_int (gst_seqnn_batcher_done (f.batcher, GST_FLOW_EOS, TRUE), GST_FLOW_OK);
  fail_unless_equals_int (gst_seqnn_batcher_push_buffer (f.batcher, buffer_at (9), NULL, NULL, 0,
          FALSE), GST_FLOW_EOS);
  push_event (&f, gst_event_new_eos ());
  take_event (&f, GST_EVENT_EOS);
  /* A new segment plays again. */
  push_event (&f, segment_event ());
  push_buffers (&f, 20, 22);
  take_event (&f, GST_EVENT_SEGMENT);
  take_batch (&f, 20, 2);
  /* After the task pushed EOS on (its done with EOS), a segment restarts it. */
  push_event (&f, gst_event_new_eos ());
  event = gst_seqnn_batcher_take (f.batcher, &batch, GST_CLOCK_TIME_NONE, &woke);
  fail_unless (event != NULL);
  gst_event_unref (event);
  fail_unless_equals_int (gst_seqnn_batcher_done (f.batcher, GST_FLOW_EOS, FALSE), GST_FLOW_EOS);
  fail_unless_equals_int (gst_seqnn_batcher_push_buffer (f.batcher, buffer_at (30), NULL, NULL, 0,
          FALSE), GST_FLOW_EOS);
  fail_unless_equals_int (gst_seqnn_batcher_push_event (f.batcher, segment_event (), &restart),
      GST_FLOW_OK);
  fail_unless (restart);
  fixture_clear (&f);
}

GST_END_TEST;

static Suite *
batcher_suite (void)
{
  Suite *s = suite_create ("batcher");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_full_batches_then_partial_before_event);
  tcase_add_test (tc, test_sink_blocks_at_two_batches);
  tcase_add_test (tc, test_encoded_ids_follow_their_buffers);
  tcase_add_test (tc, test_max_latency_on_the_clock);
  tcase_add_test (tc, test_flushing_wakes_the_task);
  tcase_add_test (tc, test_flush_keeps_sticky_events);
  tcase_add_test (tc, test_drain_runs_partial_batches);
  tcase_add_test (tc, test_downstream_eos);
  return s;
}

GST_CHECK_MAIN (batcher);
