/* tests/bench/lg_json.h - chat_loadgen's JSON reader: validates a whole
 * frame and decodes one top-level string member (lg_json.c). */
#ifndef LG_JSON_H
#define LG_JSON_H

#include <stddef.h>

/* Checks that json[0..len) is one JSON value; when it is an object with a
 * string member `name` at its top level, decodes that string into
 * out[0..cap) (cut to fit, NUL-terminated; *outlen its full length) and
 * returns 1. 0: valid, no such member. -1: not JSON. */
int lg_json_member(const char *json, size_t len, const char *name, char *out, size_t cap,
                   size_t *outlen);

#endif
