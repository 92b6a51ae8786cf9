/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: the class-name file reader (one name per line). The
 * input is the file.
 * Checked: a refusal is SEQNN_ERROR_PARSE; an accepted file gives at least one
 * name, each non-empty, valid UTF-8, without surrounding whitespace or a line
 * break, unique, found again by lookup and by a TSV record naming it. */
#include <seqnn/dataset.h>
#include "fuzz.h"

static const gchar *labels_path;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_glib ();
  labels_path = fuzz_scratch_path ("classes.txt");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_write_file (labels_path, data, size);
  GError *error = NULL;
  SeqnnLabelSet *set = seqnn_label_set_new_from_file (labels_path, &error);
  if (set == NULL) {
    fuzz_check (error != NULL && error->domain == SEQNN_ERROR && error->code == SEQNN_ERROR_PARSE,
        "a refused class file gave no error, or not SEQNN_ERROR_PARSE");
    g_error_free (error);
    return 0;
  }
  fuzz_check (error == NULL, "an error set on success");
  guint n = seqnn_label_set_get_n (set);
  fuzz_check (n >= 1, "a class file accepted without names");
  gchar **names = seqnn_label_set_to_strv (set);
  fuzz_check (g_strv_length (names) == n, "to_strv length");
  for (guint i = 0; i < n; i++) {
    const gchar *name = seqnn_label_set_get_name (set, (gint) i);
    gsize len = strlen (name);
    fuzz_check (len > 0 && g_utf8_validate (name, (gssize) len, NULL), "empty or invalid name");
    fuzz_check (!g_ascii_isspace (name[0]) && !g_ascii_isspace (name[len - 1])
        && strchr (name, '\n') == NULL, "whitespace around or inside a name");
    fuzz_check (strcmp (names[i], name) == 0, "to_strv differs from get_name");
    fuzz_check (seqnn_label_set_lookup (set, name, -1) == (gint) i, "lookup of a name");
    SeqnnRecord record = { .text = "x", .text_len = 1, .label = name, .label_len = len, .line = 1 };
    fuzz_check (seqnn_label_set_resolve (set, SEQNN_FORMAT_TSV, &record, FALSE, "fuzz", NULL)
        == (gint) i, "a TSV record naming a class resolves elsewhere");
  }
  fuzz_check (seqnn_label_set_get_name (set, (gint) n) == NULL, "a name past the end");
  g_strfreev (names);
  seqnn_label_set_free (set);
  return 0;
}
