/*
 * backends/s3/sigv4.h - AWS Signature Version 4 for S3 requests.
 *
 * Pure functions over strings: no I/O, no global state, so every call may run
 * concurrently. Debian's libs3 signs with Signature V2 only, which AWS refuses
 * for buckets in regions opened since 2014 (and S3-compatible servers are
 * dropping), hence this file.
 */
#ifndef CHATI_S3_SIGV4_H
#define CHATI_S3_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

/* One signed header: name in lower case, value already trimmed. */
typedef struct chati_sigv4_header {
    const char *name;
    const char *value;
} chati_sigv4_header;

typedef struct chati_sigv4_request {
    const char *method;         /* "GET", "PUT", ... */
    const char *path;           /* canonical URI: already encoded (chati_sigv4_encode) */
    const char *query;          /* canonical query string, "" when none (see below) */
    const chati_sigv4_header *headers; /* any order; must include host and x-amz-date */
    size_t n_headers;
    const char *payload_hash;   /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;       /* "YYYYMMDDTHHMMSSZ", the x-amz-date value */
    const char *region;         /* "us-east-1" */
    const char *service;        /* "s3" */
    const char *access_key;
    const char *secret_key;
} chati_sigv4_request;

/* Appends s[0..n) URI-encoded the SigV4 way: A-Z a-z 0-9 - . _ ~ stay, every
 * other byte becomes %XX (upper-case hex); '/' stays when keep_slash (object
 * key paths) and is encoded otherwise (query names and values). */
chat_err chati_sigv4_encode(chati_buf *out, const char *s, size_t n, bool keep_slash);

/* The signing key HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region),
 * service), "aws4_request"); date8 is "YYYYMMDD". */
void chati_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                             const char *service, uint8_t key[32]);

/* Signs r: authz receives the Authorization header value (without the name).
 * canonical and to_sign (each may be NULL) receive the canonical request and
 * the string to sign, for tests and debugging. The caller frees the buffers
 * (chati_buf_free). The query must already be canonical: names sorted, names
 * and values encoded with keep_slash false, "name=value" joined by '&' (an
 * empty value still has its '='); the same string is then used on the wire. */
chat_err chati_sigv4_sign(const chati_sigv4_request *r, chati_buf *authz, chati_buf *canonical,
                          chati_buf *to_sign);

/* Formats t (seconds since the epoch, UTC) as "YYYYMMDDTHHMMSSZ". */
void chati_sigv4_amz_date(int64_t t, char out[17]);

#endif
