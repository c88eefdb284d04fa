/*
 * libchat/backends/etcd/etcd.h - a small client of etcd's v3 API through its
 * JSON gateway (HTTP/1.1 over libcurl), enough for service discovery: leases,
 * keys under one prefix, and a watch that keeps a copy of them.
 *
 * URL: etcd://host:port[,host:port...][/prefix][?timeout_ms=N]
 *   The prefix (default "libchat") keeps several deployments apart on one
 *   etcd; keys are "/<prefix>/services/<service>/<address>", the value the
 *   address. Requests go to the endpoint that last answered and move on to
 *   the next when it fails; timeout_ms (default 2000) bounds each attempt.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef CHATI_BACKENDS_ETCD_H
#define CHATI_BACKENDS_ETCD_H

#include <jansson.h>

#include "core/internal.h"

typedef struct chati_etcd chati_etcd;

chat_err chati_etcd_new(const char *url, chati_etcd **out);
void chati_etcd_free(chati_etcd *e);

/* "/<prefix>/services/" */
const char *chati_etcd_root(const chati_etcd *e);
/* Endpoints ("http://host:port") and the one that answered last. */
size_t chati_etcd_endpoints(const chati_etcd *e);
const char *chati_etcd_endpoint(const chati_etcd *e, size_t i);
size_t chati_etcd_preferred(const chati_etcd *e);
long chati_etcd_timeout_ms(const chati_etcd *e);

/* POSTs body (taken, may be NULL for {}) to path ("/v3/kv/put") and parses
 * the answer into *reply (the caller's). service_unavailable when no endpoint
 * answers, internal when one answers with an error (etcd's message in the
 * detail). */
chat_err chati_etcd_call(chati_etcd *e, const char *path, json_t *body, json_t **reply);

/* Standard base64 (etcd's JSON bytes) of s[0..n): a new JSON string. */
json_t *chati_etcd_b64(const void *s, size_t n);
/* Decodes the base64 JSON string j into a new NUL-terminated string, NULL
 * when j is not one. */
char *chati_etcd_unb64(const json_t *j);
/* etcd's int64 fields come as JSON strings; 0 when absent or malformed. */
int64_t chati_etcd_int(const json_t *obj, const char *name);
/* The range end that covers every key starting with prefix. */
char *chati_etcd_prefix_end(const char *prefix);

/* ---- the watched copy of the services (watch.c) ---- */

typedef struct chati_etcd_cache chati_etcd_cache;

/* Keeps a copy of every key under chati_etcd_root(e), filled by a range and
 * then by a watch on a thread of its own, resynchronised after any break. */
chat_err chati_etcd_cache_start(chati_etcd *e, chati_etcd_cache **out);
void chati_etcd_cache_stop(chati_etcd_cache *c);
/* The addresses of service (CHAT_LIST_STRINGS) when the copy is in sync and
 * has seen revision min_rev; false otherwise (then ask etcd directly). */
bool chati_etcd_cache_lookup(chati_etcd_cache *c, const char *service, int64_t min_rev,
                             chat_list **out);
/* Whatever the copy holds, in sync or not (a fallback while etcd is down);
 * false when it was never filled. */
bool chati_etcd_cache_stale(chati_etcd_cache *c, const char *service, chat_list **out);

#endif
