/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * JSON helpers for the model file (jsonutil.h). */
#include "jsonutil.h"
#include "jsonstrict.h"

#include <string.h>

/* Parses text as strict JSON; NULL with *why set when it is not. json-glib
 * only sees text the strict scanner accepted (it is lenient and recursive). */
JsonNode *
seqnn_json_parse (const gchar *text, gsize len, gchar **why)
{
  if (!seqnn_json_check (text, len, SEQNN_JSON_MAX_DEPTH, why))
    return NULL;
  JsonParser *parser = json_parser_new_immutable ();
  GError *local = NULL;
  JsonNode *root = NULL;
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local)) {
    *why = g_strdup (local->message);
    g_error_free (local);
  } else if (json_parser_get_root (parser) == NULL) {
    *why = g_strdup ("empty");
  } else {
    root = json_node_ref (json_parser_get_root (parser));
  }
  g_object_unref (parser);
  return root;
}

/* A JSON integer node's value, FALSE for anything else (doubles, strings...). */
gboolean
seqnn_json_get_integer (JsonNode *node, gint64 *value)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

/* A JSON array of strings, parsed directly: vocabularies run to hundreds of
 * thousands of tokens, where json-glib's node tree costs ~2 us per element.
 * As strict as seqnn_json_check (the same string decoder); nothing nests. */
static gsize
skip_ws (const gchar *text, gsize p)
{
  while (text[p] == ' ' || text[p] == '\t' || text[p] == '\n' || text[p] == '\r')
    p++;
  return p;
}

/* One element at text[*pos] appended to out; NULL, or why it is refused. */
static gchar *
parse_array_element (const gchar *text, gsize len, gsize *pos, GPtrArray *out, GString *token)
{
  if (text[*pos] != '"') {
    if (text[*pos] == '\0')
      return g_strdup_printf ("not JSON: unterminated array at byte %" G_GSIZE_FORMAT, *pos);
    return g_strdup_printf ("element %u is not a string (byte %" G_GSIZE_FORMAT ")", out->len, *pos);
  }
  g_string_truncate (token, 0);
  const gchar *why = seqnn_json_read_string (text, len, pos, token);
  if (why != NULL && strcmp (why, "NUL character") == 0)
    return g_strdup_printf ("element %u holds a NUL character (byte %" G_GSIZE_FORMAT ")", out->len, *pos);
  if (why != NULL)
    return g_strdup_printf ("not JSON: %s in element %u at byte %" G_GSIZE_FORMAT, why, out->len, *pos);
  g_ptr_array_add (out, g_strndup (token->str, token->len));
  return NULL;
}

/* The elements after '[' up to and past the closing ']'. */
static gchar *
parse_array_elements (const gchar *text, gsize len, gsize *pos, GPtrArray *out)
{
  GString *token = g_string_new (NULL);
  gchar *why = NULL;
  gsize p = skip_ws (text, *pos);
  if (text[p] == ']') {
    *pos = p + 1;
    goto free_token;
  }
  for (;;) {
    p = skip_ws (text, p);
    why = parse_array_element (text, len, &p, out, token);
    if (why != NULL)
      goto free_token;
    p = skip_ws (text, p);
    if (text[p] == ']')
      break;
    if (text[p] != ',') {
      why = g_strdup_printf ("not JSON: expected ',' or ']' after element %u at byte %" G_GSIZE_FORMAT,
          out->len - 1, p);
      goto free_token;
    }
    p++;
  }
  *pos = p + 1;
free_token:
  g_string_free (token, TRUE);
  return why;
}

/* A NULL-terminated vector, or NULL with *why set. */
gchar **
seqnn_json_parse_string_array (const gchar *text, gchar **why)
{
  gsize len = strlen (text);
  gsize p = skip_ws (text, 0);
  if (text[p] != '[') {
    *why = g_strdup_printf ("not a JSON array (byte %" G_GSIZE_FORMAT ")", p);
    return NULL;
  }
  p++;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  *why = parse_array_elements (text, len, &p, out);
  if (*why != NULL)
    goto free_out;
  p = skip_ws (text, p);
  if (p != len) {
    *why = g_strdup_printf ("not JSON: text after the array at byte %" G_GSIZE_FORMAT, p);
    goto free_out;
  }
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
free_out:
  g_ptr_array_unref (out);
  return NULL;
}

gchar *
seqnn_json_string_array (const gchar *const *strv, gsize n)
{
  JsonArray *array = json_array_sized_new (n);
  for (gsize i = 0; i < n; i++)
    json_array_add_string_element (array, strv[i]);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, array);
  gchar *text = json_to_string (node, FALSE);
  json_node_unref (node);
  return text;
}
