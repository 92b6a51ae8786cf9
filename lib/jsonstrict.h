/* Strict RFC 8259 JSON, checked without recursion (internal to libseqnn).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * json-glib accepts more than JSON (single quotes, comments, repeated keys,
 * NaN) and parses recursively, so a model file's header and metadata strings
 * pass seqnn_json_check first and json-glib only ever sees text it accepted.
 * models/convert.py applies the same rules, so both readers agree. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Deepest nesting of objects and arrays a model file needs is 3; the limit
 * leaves room and keeps every parser's stack small. */
#define SEQNN_JSON_MAX_DEPTH 16

/* TRUE when text[0..len) is one strict JSON value: valid UTF-8; only
 * double-quoted strings with RFC escapes, no control characters, no
 * unpaired surrogate escapes and no U+0000 (C strings cannot hold it); no
 * comments, trailing commas, NaN/Infinity or other literals; numbers finite
 * (integers within 64 bits); no key twice in any object; nesting at most
 * max_depth. Otherwise FALSE and *why (free it) says what and at which byte
 * offset, e.g. "object repeats a key \"a\" at byte 17". */
gboolean seqnn_json_check (const gchar *text, gsize len, guint max_depth, gchar **why);

/* Decodes the JSON string starting at text[*pos] (a '"'), appending its
 * UTF-8 to out (may be NULL); on success *pos is past the closing quote.
 * On failure returns a static reason ("bad escape", "unpaired surrogate",
 * "control character", "unterminated string", "NUL character") and *pos is
 * the offending byte. NULL on success. */
const gchar *seqnn_json_read_string (const gchar *text, gsize len, gsize *pos, GString *out);

G_END_DECLS
