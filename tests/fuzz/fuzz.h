/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the libFuzzer harnesses share: fatal GLib warnings (the library must
 * never print on input), a per-process scratch file for readers that take a
 * path, and a check that aborts with a message (libFuzzer keeps the input). */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

static inline void
fuzz_check (gboolean ok, const char *what)
{
  if (!ok) {
    fprintf (stderr, "fuzz check failed: %s\n", what);
    abort ();
  }
}

/* A g_warning or g_critical from the library is a finding: abort on it. */
static inline void
fuzz_init_glib (void)
{
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* A file name unique to this process in a RAM-backed folder when there is one
 * (save fsyncs; on tmpfs that costs nothing): $SEQNN_FUZZ_TMPDIR, /dev/shm or
 * the temp folder. The file is removed at exit. */
static gchar *fuzz_scratch_files[8];

static void
fuzz_remove_scratch (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (fuzz_scratch_files) && fuzz_scratch_files[i] != NULL; i++)
    g_unlink (fuzz_scratch_files[i]);
}

static inline const gchar *
fuzz_scratch_path (const gchar *name)
{
  const gchar *dir = g_getenv ("SEQNN_FUZZ_TMPDIR");
  if (dir == NULL)
    dir = g_access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
  guint i = 0;
  while (i < G_N_ELEMENTS (fuzz_scratch_files) && fuzz_scratch_files[i] != NULL)
    i++;
  fuzz_check (i < G_N_ELEMENTS (fuzz_scratch_files), "too many scratch files");
  gchar *base = g_strdup_printf ("seqnn-fuzz-%d-%s", (int) getpid (), name);
  fuzz_scratch_files[i] = g_build_filename (dir, base, NULL);
  g_free (base);
  if (i == 0)
    atexit (fuzz_remove_scratch);
  return fuzz_scratch_files[i];
}

static inline void
fuzz_write_file (const gchar *path, const void *data, gsize len)
{
  GError *error = NULL;
  if (!g_file_set_contents (path, len > 0 ? data : "", (gssize) len, &error)) {
    fprintf (stderr, "fuzz: cannot write the scratch file: %s\n", error->message);
    abort ();
  }
}

/* The whole file; aborts when it cannot be read (a harness problem). */
static inline GBytes *
fuzz_read_file (const gchar *path)
{
  gchar *contents = NULL;
  gsize len = 0;
  GError *error = NULL;
  if (!g_file_get_contents (path, &contents, &len, &error)) {
    fprintf (stderr, "fuzz: cannot read %s: %s\n", path, error->message);
    abort ();
  }
  return g_bytes_new_take (contents, len);
}
