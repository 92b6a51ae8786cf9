/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Class names and the mapping from a record's label to a class id. */
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include "seqnn/dataset.h"

struct _SeqnnLabelSet {
  GPtrArray *names;  /* owned strings, index = id */
  GHashTable *index; /* name (borrowed from names) -> id + 1; a class that
                      * seqnn_label_set_resolve_indexed added unnamed has its
                      * number as name and no entry here until a record names it */
  GHashTable *numbers; /* a list with "N=name" entries: its class numbers (N, or
                        * the 1-based position of a plain name) -> id + 1; else NULL */
  guint n_word_names;  /* names that are not decimal numbers: then numbers
                        * that name no class count 1-based */
};

SeqnnLabelSet *
seqnn_label_set_new (void)
{
  SeqnnLabelSet *set = g_new0 (SeqnnLabelSet, 1);
  set->names = g_ptr_array_new_with_free_func (g_free);
  set->index = g_hash_table_new (g_str_hash, g_str_equal);
  return set;
}

SeqnnLabelSet *
seqnn_label_set_new_from_strv (const gchar *const *names)
{
  SeqnnLabelSet *set = seqnn_label_set_new ();
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    seqnn_label_set_add (set, names[i], -1);
  return set;
}

SeqnnLabelSet *
seqnn_label_set_new_ag_news (void)
{
  static const gchar *const names[] = { "World", "Sports", "Business", "Sci/Tech", NULL };
  return seqnn_label_set_new_from_strv (names);
}

/* "N=name" (N decimal digits): the class number N names the class; *name
 * is then past the '='. */
static gboolean
split_numbered (gchar **entry, guint64 *number)
{
  gchar *eq = strchr (*entry, '=');
  if (eq == NULL || eq == *entry)
    return FALSE;
  for (const gchar *c = *entry; c < eq; c++)
    if (!g_ascii_isdigit (*c) && *c != ' ' && *c != '\t')
      return FALSE;
  *eq = '\0';
  gboolean ok = g_ascii_string_to_unsigned (g_strstrip (*entry), 10, 0, G_MAXUINT32, number, NULL)
      && *g_strstrip (eq + 1) != '\0';
  if (ok)
    *entry = eq + 1;
  else
    *eq = '=';
  return ok;
}

SeqnnLabelSet *
seqnn_label_set_new_from_list (const gchar *list)
{
  SeqnnLabelSet *set = seqnn_label_set_new ();
  gchar **entries = g_strsplit (list != NULL ? list : "", ",", -1);
  GHashTable *numbers = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  gboolean numbered = FALSE;
  guint position = 0;
  for (gchar **e = entries; *e != NULL; e++) {
    gchar *name = g_strstrip (*e);
    guint64 number;
    if (*name == '\0')
      continue;
    position++;
    if (split_numbered (&name, &number))
      numbered = TRUE;
    else
      number = position;
    gint id = seqnn_label_set_add (set, name, -1);
    gint64 *key = g_new (gint64, 1);
    *key = (gint64) number;
    g_hash_table_insert (numbers, key, GINT_TO_POINTER (id + 1));
  }
  g_strfreev (entries);
  /* plain names keep the plain rule (numbers are 1-based positions) */
  if (numbered)
    set->numbers = numbers;
  else
    g_hash_table_destroy (numbers);
  return set;
}

SeqnnLabelSet *
seqnn_label_set_new_for_format (SeqnnFormat format, gboolean column_layout, gboolean *grow)
{
  gboolean grows = column_layout || format == SEQNN_FORMAT_JSONL;
  if (grow != NULL)
    *grow = grows;
  if (grows)
    return seqnn_label_set_new ();
  if (format == SEQNN_FORMAT_CSV)
    return seqnn_label_set_new_ag_news ();
  return NULL;
}

#define LABEL_FILE_MAX_BYTES (16 * 1024 * 1024)

SeqnnLabelSet *
seqnn_label_set_new_from_file (const gchar *path, GError **error)
{
  if (path == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no class file given");
    return NULL;
  }
  /* A class list is small: refuse what is not a regular file (a FIFO, /dev/zero)
   * or is larger than any list of names, instead of reading it into memory. */
  GStatBuf st;
  if (g_stat (path, &st) == 0 && (!S_ISREG (st.st_mode) || st.st_size > LABEL_FILE_MAX_BYTES)) {
    gchar *display = g_filename_display_name (path);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "cannot read class names from '%s': %s", display,
        S_ISREG (st.st_mode) ? "larger than 16 MiB" : "not a regular file");
    g_free (display);
    return NULL;
  }
  gchar *contents = NULL;
  gsize length = 0;
  GError *local = NULL;
  if (!g_file_get_contents (path, &contents, &length, &local)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_IO, "%s", local->message);
    g_error_free (local);
    return NULL;
  }
  gchar *base = g_path_get_basename (path);
  SeqnnLabelSet *set = seqnn_label_set_new ();
  const gchar *text = contents;
  if (length >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
    text += 3;
  if (!g_utf8_validate_len (text, length - (gsize) (text - contents), NULL)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE, "%s: not UTF-8 text", base);
    goto fail;
  }
  gchar **lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    gchar *name = g_strstrip (lines[i]); /* also drops a \r */
    if (*name == '\0')
      continue;
    if (seqnn_label_set_lookup (set, name, -1) >= 0) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE, "%s:%u: duplicate class name \"%s\"",
          base, i + 1, name);
      g_strfreev (lines);
      goto fail;
    }
    seqnn_label_set_add (set, name, -1);
  }
  g_strfreev (lines);
  if (set->names->len == 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE, "%s: no class names", base);
    goto fail;
  }
  g_free (base);
  g_free (contents);
  return set;
fail:
  g_free (base);
  g_free (contents);
  seqnn_label_set_free (set);
  return NULL;
}

void
seqnn_label_set_free (SeqnnLabelSet *set)
{
  if (set == NULL)
    return;
  g_hash_table_destroy (set->index);
  if (set->numbers != NULL)
    g_hash_table_destroy (set->numbers);
  g_ptr_array_unref (set->names);
  g_free (set);
}

guint
seqnn_label_set_get_n (const SeqnnLabelSet *set)
{
  g_return_val_if_fail (set != NULL, 0);
  return set->names->len;
}

const gchar *
seqnn_label_set_get_name (const SeqnnLabelSet *set, gint id)
{
  g_return_val_if_fail (set != NULL, NULL);
  if (id < 0 || (guint) id >= set->names->len)
    return NULL;
  return g_ptr_array_index (set->names, id);
}

gint
seqnn_label_set_lookup (const SeqnnLabelSet *set, const gchar *name, gssize len)
{
  g_return_val_if_fail (set != NULL, -1);
  if (name == NULL)
    return -1;
  gpointer value;
  if (len < 0) {
    value = g_hash_table_lookup (set->index, name);
  } else {
    gchar stack[128];
    gchar *key = (gsize) len < sizeof stack ? stack : g_malloc ((gsize) len + 1);
    memcpy (key, name, (gsize) len);
    key[len] = '\0';
    value = g_hash_table_lookup (set->index, key);
    if (key != stack)
      g_free (key);
  }
  return GPOINTER_TO_INT (value) - 1;
}

/* A name that is a class number (decimal digits only). */
static gboolean
is_number_name (const gchar *name)
{
  if (*name == '\0')
    return FALSE;
  for (; *name != '\0'; name++)
    if (!g_ascii_isdigit (*name))
      return FALSE;
  return TRUE;
}

gint
seqnn_label_set_add (SeqnnLabelSet *set, const gchar *name, gssize len)
{
  g_return_val_if_fail (set != NULL, -1);
  g_return_val_if_fail (name != NULL, -1);
  gint id = seqnn_label_set_lookup (set, name, len);
  if (id >= 0)
    return id;
  gchar *copy = len < 0 ? g_strdup (name) : g_strndup (name, (gsize) len);
  if (!g_utf8_validate (copy, -1, NULL)) {
    gchar *valid = g_utf8_make_valid (copy, -1);
    g_free (copy);
    copy = valid;
    id = seqnn_label_set_lookup (set, copy, -1);
    if (id >= 0) {
      g_free (copy);
      return id;
    }
  }
  id = (gint) set->names->len;
  g_ptr_array_add (set->names, copy);
  g_hash_table_insert (set->index, copy, GINT_TO_POINTER (id + 1));
  if (!is_number_name (copy))
    set->n_word_names++;
  return id;
}

gchar **
seqnn_label_set_to_strv (const SeqnnLabelSet *set)
{
  g_return_val_if_fail (set != NULL, NULL);
  gchar **strv = g_new (gchar *, set->names->len + 1);
  for (guint i = 0; i < set->names->len; i++)
    strv[i] = g_strdup (g_ptr_array_index (set->names, i));
  strv[set->names->len] = NULL;
  return strv;
}

/* A CSV class: decimal digits, spaces around allowed (as Python's int()). */
static gboolean
parse_class_number (const gchar *s, gsize len, guint64 *value)
{
  gsize i = 0;
  while (i < len && g_ascii_isspace (s[i]))
    i++;
  if (i < len && s[i] == '+')
    i++;
  gsize digits = i;
  guint64 v = 0;
  while (i < len && g_ascii_isdigit (s[i])) {
    if (v < G_MAXUINT32)
      v = v * 10 + (guint64) (s[i] - '0');
    i++;
  }
  if (i == digits)
    return FALSE;
  while (i < len && g_ascii_isspace (s[i]))
    i++;
  *value = v;
  return i == len;
}

gboolean
seqnn_record_label_is_number (SeqnnFormat format, const SeqnnRecord *record)
{
  guint64 number;
  if (record == NULL || record->label == NULL || format == SEQNN_FORMAT_TEXT)
    return FALSE;
  if (!record->column_layout)
    return format == SEQNN_FORMAT_CSV;
  return parse_class_number (record->label, record->label_len, &number);
}

/* The AG News CSV layout's class: a 1-based number; with grow, the classes
 * up to it are added, named by their numbers. */
static gint
resolve_class_number (SeqnnLabelSet *set, guint64 number, gboolean grow,
    const gchar *source_name, guint64 line, GError **error)
{
  guint n = set->names->len;
  if (number >= 1 && number <= n)
    return (gint) number - 1;
  if (grow && number >= 1 && number <= 65536) {
    /* unnamed classes up to this one, named by their number; a set that
     * already names another class so would leave the id out of range */
    for (guint64 k = n + 1; k <= number; k++) {
      gchar name[24];
      g_snprintf (name, sizeof name, "%" G_GUINT64_FORMAT, k);
      if (seqnn_label_set_lookup (set, name, -1) >= 0) {
        g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
            "%s:%" G_GUINT64_FORMAT ": class %" G_GUINT64_FORMAT " cannot be added: the label "
            "set already names class %d \"%s\"", source_name, line, number,
            seqnn_label_set_lookup (set, name, -1) + 1, name);
        return -1;
      }
    }
    for (guint64 k = n + 1; k <= number; k++) {
      gchar name[24];
      g_snprintf (name, sizeof name, "%" G_GUINT64_FORMAT, k);
      seqnn_label_set_add (set, name, -1);
    }
    return (gint) number - 1;
  }
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
      "%s:%" G_GUINT64_FORMAT ": class %" G_GUINT64_FORMAT " out of range 1..%u", source_name,
      line, number, n);
  return -1;
}

static gint
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

/* A number in a column layout or JSON Lines: the class a labels list gives
 * that number; else a class of that name ("0" and "1" of a 0-based data
 * set); else, when the set names its classes with words, the 1-based class
 * number; else, with grow, a new class named by the number (as fastText
 * takes labels). */
static gint
resolve_column_number (SeqnnLabelSet *set, guint64 number, gboolean grow,
    const gchar *source_name, guint64 line, GError **error)
{
  gchar name[24];
  guint n = set->names->len;

  if (set->numbers != NULL) {
    gint64 key = (gint64) number;
    gint id = GPOINTER_TO_INT (g_hash_table_lookup (set->numbers, &key)) - 1;
    if (id >= 0)
      return id;
  } else {
    g_snprintf (name, sizeof name, "%" G_GUINT64_FORMAT, number);
    gint id = seqnn_label_set_lookup (set, name, -1);
    if (id >= 0)
      return id;
    if (set->n_word_names > 0 && number >= 1 && number <= n)
      return (gint) number - 1;
  }
  if (grow) {
    g_snprintf (name, sizeof name, "%" G_GUINT64_FORMAT, number);
    return seqnn_label_set_add (set, name, -1);
  }
  if (set->numbers != NULL) {
    GString *known = g_string_new (NULL);
    GList *keys = g_list_sort (g_hash_table_get_keys (set->numbers), compare_int64);
    for (GList *k = keys; k != NULL; k = k->next)
      g_string_append_printf (known, "%s%" G_GINT64_FORMAT, known->len ? ", " : "",
          *(gint64 *) k->data);
    g_list_free (keys);
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
        "%s:%" G_GUINT64_FORMAT ": class %" G_GUINT64_FORMAT " is not one of the numbers the "
        "labels list names (%s; \"N=name\" entries name others, such as 0)", source_name, line,
        number, known->str);
    g_string_free (known, TRUE);
  } else {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
        "%s:%" G_GUINT64_FORMAT ": class %" G_GUINT64_FORMAT " out of range 1..%u", source_name,
        line, number, n);
  }
  return -1;
}

gint
seqnn_label_set_resolve (SeqnnLabelSet *set, SeqnnFormat format, const SeqnnRecord *record,
    gboolean grow, const gchar *source_name, GError **error)
{
  if (set == NULL || record == NULL) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no label set or record");
    return -1;
  }
  if (source_name == NULL)
    source_name = "<input>";
  if (format == SEQNN_FORMAT_TEXT)
    return -1; /* unlabelled, not an error */
  if (record->label == NULL || record->label_len == 0) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE, "%s:%" G_GUINT64_FORMAT ": missing label",
        source_name, record->line);
    return -1;
  }
  if (seqnn_record_label_is_number (format, record)) {
    guint64 number;
    if (!parse_class_number (record->label, record->label_len, &number)) {
      g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_PARSE,
          "%s:%" G_GUINT64_FORMAT ": class \"%.*s\" is not a number%s", source_name, record->line,
          (int) MIN (record->label_len, 64), record->label, record->line == 1
          ? " (if the first line is a header, set header=true or name the columns)" : "");
      return -1;
    }
    if (record->column_layout || set->numbers != NULL)
      return resolve_column_number (set, number, grow, source_name, record->line, error);
    return resolve_class_number (set, number, grow, source_name, record->line, error);
  }
  gint id = seqnn_label_set_lookup (set, record->label, (gssize) record->label_len);
  if (id >= 0)
    return id;
  if (grow)
    return seqnn_label_set_add (set, record->label, (gssize) record->label_len);
  g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
      "%s:%" G_GUINT64_FORMAT ": unknown class \"%.*s\"", source_name, record->line,
      (int) MIN (record->label_len, 64), record->label);
  return -1;
}

/* Class id was added without a name (see the struct) and may still get one. */
static gboolean
is_unnamed (const SeqnnLabelSet *set, guint id)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (set->index, g_ptr_array_index (set->names, id)))
      != (gint) id + 1;
}

static gint
resolve_fixed (const SeqnnLabelSet *set, const gchar *name, gint index, const gchar *set_name,
    GError **error)
{
  gint id = seqnn_label_set_lookup (set, name, -1);
  guint64 number;

  if (id >= 0)
    return id;
  /* a purely numeric name is a class number, not a name */
  if ((name == NULL || g_ascii_string_to_unsigned (name, 10, 0, G_MAXUINT64, &number, NULL))
      && index >= 0 && (guint) index < set->names->len)
    return index;
  GString *names = g_string_new (NULL);
  for (guint i = 0; i < set->names->len; i++)
    g_string_append_printf (names, "%s'%s'", i ? ", " : "", (const gchar *) set->names->pdata[i]);
  if (name != NULL)
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE, "label '%s' is not one of %s: %s",
        name, set_name, names->str);
  else
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
        "class %d is not one of the %u classes of %s: %s", index, set->names->len, set_name,
        names->str);
  g_string_free (names, TRUE);
  return -1;
}

/* Names class id, which must be unnamed or have that name already. */
static gboolean
name_class (SeqnnLabelSet *set, guint id, const gchar *name, GError **error)
{
  const gchar *known = g_ptr_array_index (set->names, id);

  if (!is_unnamed (set, id)) {
    if (strcmp (known, name) == 0)
      return TRUE;
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "class %u came as label '%s' before and as '%s' now", id, known, name);
    return FALSE;
  }
  gchar *copy = g_utf8_make_valid (name, -1);
  if (!is_number_name (copy))
    set->n_word_names++; /* the unnamed class's number was a number name */
  g_free (g_ptr_array_index (set->names, id));
  g_ptr_array_index (set->names, id) = copy;
  g_hash_table_insert (set->index, copy, GINT_TO_POINTER ((gint) id + 1));
  return TRUE;
}

gint
seqnn_label_set_resolve_indexed (SeqnnLabelSet *set, const gchar *name, gint index,
    gboolean grow, const gchar *set_name, GError **error)
{
  if (set == NULL || (name == NULL && index < 0)) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT, "no label set or no label");
    return -1;
  }
  if (set_name == NULL)
    set_name = "the labels";
  if (!grow)
    return resolve_fixed (set, name, index, set_name, error);

  gint known = seqnn_label_set_lookup (set, name, -1);
  if (index < 0)
    return known >= 0 ? known : seqnn_label_set_add (set, name, -1);
  if (known >= 0 && known != index) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_INVALID_ARGUMENT,
        "label '%s' came as class %d before and as class %d now", name, known, index);
    return -1;
  }
  if (index >= 65536) {
    g_set_error (error, SEQNN_ERROR, SEQNN_ERROR_OUT_OF_RANGE,
        "class %d out of range 0..65535", index);
    return -1;
  }
  while (set->names->len <= (guint) index)
    g_ptr_array_add (set->names, g_strdup_printf ("%u", set->names->len + 1));
  if (name != NULL && !name_class (set, (guint) index, name, error))
    return -1;
  return index;
}
