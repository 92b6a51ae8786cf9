/* JSON helpers for the model file (internal to libseqnn).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Parses text as strict JSON (seqnn_json_check first, then json-glib);
 * NULL with *why set (free it) when it is not, saying what and at which byte. */
JsonNode *seqnn_json_parse (const gchar *text, gsize len, gchar **why);

/* A JSON integer node's value; FALSE for anything else (doubles, strings...). */
gboolean seqnn_json_get_integer (JsonNode *node, gint64 *value);

/* text (NUL-terminated) as a JSON array of strings: a NULL-terminated
 * vector, or NULL with *why set. Parsed directly, strictly: vocabularies run
 * to hundreds of thousands of tokens, where json-glib's tree costs ~2 us each. */
gchar **seqnn_json_parse_string_array (const gchar *text, gchar **why);

/* The first n strings of strv as compact JSON array text. */
gchar *seqnn_json_string_array (const gchar *const *strv, gsize n);

G_END_DECLS
