/*
 * libchat/gateway/pbjson.h - Slack Web API arguments <-> protobuf-c messages
 * <-> Slack JSON, driven by protobuf-c descriptors.
 *
 * Every API method has a request and a response message whose field names are
 * Slack's parameter and response names, so one generic converter serves all:
 *
 *   query string + body  --gw_args_parse_form/_json, gw_args_merge-->  gw_args
 *   gw_args  --gw_args_to_pb-->  request message
 *   response message  --gw_pb_to_json-->  {"ok":true,...}
 *
 * Argument rules (gw_args_to_pb), by field type:
 *   string, bytes     text; a JSON number or bool becomes its text ("12", "true")
 *   bool              "true"/"false" (any case), "1"/"0"; JSON true/false, 0/1
 *   int32..uint64     decimal text or JSON number (integral), range-checked
 *   float, double     decimal text or JSON number; finite, in range
 *   enum              value number or value name ("BLUE" / "7"), must be known
 *   message           JSON object, or text holding one (profile={"status_text":..})
 *   repeated          JSON array, text holding a JSON array ("[...]"), or, for
 *                     scalars, comma-separated text ("U1,U2", items trimmed,
 *                     empty items dropped); repeated keys append
 *                     (users=U1&users=U2); a lone JSON scalar is one element
 *   repeated message  JSON array of objects, or text holding one
 *   Empty text for a non-string singular field, and JSON null anywhere outside
 *   an array, mean "not given". A later singular value replaces an earlier one.
 *   Unknown keys are ignored. Wrong types give CHAT_ERR_INVALID_ARGUMENTS;
 *   a text value over GW_MAX_STRING bytes gives CHAT_ERR_TOO_LONG; sub-messages
 *   nested deeper than GW_MAX_DEPTH give CHAT_ERR_INVALID_ARGUMENTS. Each names
 *   the field: "limit", "profile.status_text", "attachments[1].fields[0].short".
 *
 * Output rules (gw_pb_to_json), what Slack SDKs expect:
 *   strings/bytes omitted when empty, except names in pbjson.c's always-emit
 *   table ("next_cursor"); numbers and bools always; int64 as JSON numbers;
 *   enums as numbers; non-finite doubles as null; repeated fields always
 *   (maybe []); sub-messages when set; a set oneof member always; proto2
 *   optional scalars when has_; required fields always. Strings are UTF-8 with
 *   control characters, '"', '\\', U+2028, U+2029 and "</" escaped (the last
 *   as "<\/"); other non-ASCII is written raw; invalid UTF-8 (possible in
 *   bytes) becomes U+FFFD.
 *
 * Map fields are not special-cased (they convert as repeated key/value
 * messages). Memory is chat_malloc'd, so protobuf_c_message_free_unpacked(m,
 * NULL) frees what gw_args_to_pb builds.
 *
 * Thread safety: all functions are reentrant; a gw_args is used by one thread
 * at a time. Error detail text goes to libchat's thread-local error message
 * (chati_errmsg()).
 */
#ifndef CHAT_GW_PBJSON_H
#define CHAT_GW_PBJSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "core/internal.h"

/* Fields of a message type of this name (in any package) with one string
 * member, raw, carry any JSON value
 * as its text: gw_args_to_pb fills raw with a JSON value's compact text, or
 * with a text value as given (so Slack's blocks='[...]' form arguments and
 * JSON bodies' "blocks":[...] arrive alike; the handler checks what it
 * holds), and gw_pb_to_json writes raw back unquoted, as the JSON it is.
 * An empty raw is written as null. */
#define GW_JSON_TYPE "Json"

/* Largest text value gw_args_to_pb accepts for one field or element. */
#define GW_MAX_STRING ((size_t)1 << 20)
/* Deepest message nesting gw_args_to_pb builds (the request itself is 1). */
#define GW_MAX_DEPTH 16
/* Deepest JSON nesting gw_args_parse_json accepts (objects + arrays; each
 * message level may add an object and an array). */
#define GW_JSON_MAX_DEPTH (2 * GW_MAX_DEPTH)
/* Deepest message nesting gw_pb_to_json writes (our own services' output). */
#define GW_OUT_MAX_DEPTH 64

/* One argument. key and value are NUL-terminated UTF-8 without NUL bytes. */
typedef struct gw_arg {
    char *key;
    char *value;        /* text form: form values, JSON strings as their
                         * contents, other JSON values as compact JSON */
    size_t value_len;
    json_t *json;       /* JSON-body values: a reference to the value as
                         * parsed (any type); NULL for form values */
} gw_arg;

/* An ordered key -> value bag; keys may repeat. Zero-initialise it (or use
 * GW_ARGS_INIT / gw_args_init) and release with gw_args_free. */
typedef struct gw_args {
    gw_arg *items;
    size_t n;
    size_t cap;
} gw_args;

#define GW_ARGS_INIT {NULL, 0, 0}

void gw_args_init(gw_args *a);

/* Frees every entry; a is left empty and reusable. NULL is a no-op. */
void gw_args_free(gw_args *a);

/*
 * Appends the pairs of an application/x-www-form-urlencoded body or a query
 * string (without or with one leading '?') to out. '+' is a space, %XX a byte;
 * a '%' not followed by two hex digits is kept literally (as browsers and PHP
 * do). "k" alone is k = ""; empty pairs and pairs with an empty key are
 * skipped. Decoded keys and values must be valid UTF-8 without NUL, else
 * CHAT_ERR_INVALID_UTF8. On failure out is as before the call.
 */
chat_err gw_args_parse_form(const char *body, size_t len, gw_args *out);

/*
 * Appends the members of a JSON object body to out, keeping each value as
 * JSON (gw_arg.json) so objects, arrays, numbers and bools reach
 * gw_args_to_pb intact. Members whose value is null are skipped. An empty or
 * all-whitespace body has no arguments. Anything else that is not one JSON
 * object, or nests deeper than GW_JSON_MAX_DEPTH, is CHAT_ERR_INVALID_JSON;
 * invalid UTF-8 is CHAT_ERR_INVALID_UTF8. On failure out is as before the call.
 */
chat_err gw_args_parse_json(const char *body, size_t len, gw_args *out);

/* Appends key = value[0..len) as a text argument (copies both; e.g. from a
 * multipart body). CHAT_ERR_INVALID_UTF8 when either is not valid UTF-8. */
chat_err gw_args_add(gw_args *a, const char *key, const char *value, size_t len);

/*
 * Moves every entry of src to the end of dst, first dropping dst's entries
 * whose key appears in src: merge(query, body) makes the body win, as Slack
 * does. src is left empty. On failure (CHAT_ERR_NOMEM) both are unchanged.
 */
chat_err gw_args_merge(gw_args *dst, gw_args *src);

/* The last entry with this key, or NULL. Valid until a is changed. */
const gw_arg *gw_args_find(const gw_args *a, const char *key);

/* The text of the last value of key (see gw_arg.value), or NULL when absent. */
const char *gw_args_get(const gw_args *a, const char *key);

/* Removes every entry with this key (e.g. "token"); returns how many. */
size_t gw_args_remove(gw_args *a, const char *key);

/*
 * Builds a message of type d from the arguments, matching keys to field
 * names (rules at the top of this file). a may be NULL (no arguments).
 * On success *out is a new message: free it with
 * protobuf_c_message_free_unpacked(*out, NULL); errfield (n bytes, may be
 * NULL / 0) gets "". On failure *out is NULL, errfield names the offending
 * field (truncated to n - 1 bytes) and the detail text says what is wrong.
 */
chat_err gw_args_to_pb(const gw_args *a, const ProtobufCMessageDescriptor *d,
                       ProtobufCMessage **out, char *errfield, size_t n);

/*
 * Appends m's fields as JSON object members ("k":v,"k2":v2) without braces.
 * It joins onto what out holds: a comma goes before the first member unless
 * out is empty or ends in '{' or ','; when there is no member to write and
 * out ends in ',', that comma is removed. So `{"ok":true,` + members + `}`
 * and `{"ok":true` + members + `}` are both valid JSON. No allocation other
 * than out's growth. On failure (CHAT_ERR_NOMEM, or CHAT_ERR_INTERNAL beyond
 * GW_OUT_MAX_DEPTH) out is as before the call.
 */
chat_err gw_pb_to_json(const ProtobufCMessage *m, chati_buf *out);

/* Appends m as a whole JSON object ({...}); failure as gw_pb_to_json. */
chat_err gw_pb_to_json_object(const ProtobufCMessage *m, chati_buf *out);

/* Appends s[0..len) as a quoted JSON string with the escaping above (for the
 * gateway's own members, e.g. "error"). Failure: CHAT_ERR_NOMEM, out as before. */
chat_err gw_json_put_string(chati_buf *out, const char *s, size_t len);

#endif
