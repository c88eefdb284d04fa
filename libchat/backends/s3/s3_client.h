/*
 * backends/s3/s3_client.h - signed S3 requests over libcurl.
 *
 * One chati_s3 per opened store: its parsed URL plus a small pool of idle curl
 * easy handles, so consecutive requests reuse their connections (curl keeps a
 * connection cache per easy handle). A request takes a handle from the pool
 * (or makes one), runs without any lock held and gives it back.
 *
 * Thread safety: every function may be called concurrently on one chati_s3.
 */
#ifndef CHATI_S3_CLIENT_H
#define CHATI_S3_CLIENT_H

#include <stdint.h>

#include "backends/s3/s3_conf.h"
#include "backends/s3/sigv4.h"

typedef struct chati_s3 chati_s3;

/* Parses url (see s3_conf.h) into a new client; nothing is sent yet. */
chat_err chati_s3_new(const char *url, const chat_config *cfg, chati_s3 **out);
void chati_s3_free(chati_s3 *s);
const chati_s3_conf *chati_s3_conf_of(const chati_s3 *s);

typedef struct chati_s3_req {
    const char *method;         /* GET HEAD PUT POST DELETE */
    const char *key;            /* full object key, or NULL for the bucket itself */
    const char *query;          /* canonical query string (sigv4.h), "" for none */
    const void *body;           /* PUT/POST body (not copied; lives until the call returns) */
    size_t body_len;
    const char *body_sha256;    /* hex SHA-256 of body, or NULL to compute it here */
    const chati_sigv4_header *extra; /* more headers to send and sign (x-amz-meta-...) */
    size_t n_extra;
} chati_s3_req;

typedef struct chati_s3_resp {
    long status;                /* HTTP status */
    chati_buf body;             /* response body (free with chati_s3_resp_free) */
    int64_t content_length;     /* Content-Length header, -1 when absent */
    char etag[130];             /* ETag header as sent (quotes included), "" when absent */
    char sha256[65];            /* x-amz-meta-sha256 header, "" when absent */
    bool is_head;               /* set by chati_s3_call: no body will follow */
} chati_s3_resp;

/* Sends rq and fills resp (which the caller frees with chati_s3_resp_free,
 * also on failure). Fails only when no HTTP answer came: service_unavailable
 * with curl's reason (refused, timed out, reset...) in the detail. Any HTTP
 * status is CHAT_OK here: the caller decides, with chati_s3_fail for errors.
 * Requests other than POST are retried (up to 3 tries, short backoff) when
 * the connection broke mid-request or S3 answered 500 or 503. */
chat_err chati_s3_call(chati_s3 *s, const chati_s3_req *rq, chati_s3_resp *resp);
void chati_s3_resp_free(chati_s3_resp *resp);
/* chati_s3_call, and an HTTP status outside 2xx is an error (chati_s3_fail). */
chat_err chati_s3_call_ok(chati_s3 *s, const chati_s3_req *rq, chati_s3_resp *resp);

/* The error for an unexpected HTTP answer, with S3's <Code> and <Message> in
 * the detail: 403 -> invalid_config (credentials, signature, permissions),
 * 404 -> not_found (NoSuchBucket: invalid_config), 5xx -> service_unavailable,
 * anything else -> storage_error. */
chat_err chati_s3_fail(const chati_s3 *s, const chati_s3_req *rq, const chati_s3_resp *resp);

/* The text of the first <tag>...</tag> in xml into out ("" when absent). */
void chati_s3_xml_text(const char *xml, const char *tag, char *out, size_t n);

#endif
