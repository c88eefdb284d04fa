/*
 * backends/s3/s3_conf.h - the S3 blob store's URL, parsed.
 *
 *   s3://[ACCESS:SECRET@]BUCKET[/PREFIX][?param=value&...]
 *
 *   endpoint=URL        http(s)://host[:port]; default https://s3.REGION.amazonaws.com
 *   region=NAME         signing region; default us-east-1
 *   style=path|virtual  bucket in the path or in the host name; default virtual
 *                       for AWS's own endpoint, path for a custom one
 *   create_bucket=1     create the bucket on open when it does not exist
 *   part_size=BYTES     multipart part size (>= 5 MiB); objects larger than one
 *                       part are uploaded in parts; default 8 MiB
 *   timeout_ms=N        connect timeout, and how long a transfer may stall;
 *                       default 5000
 *   ca_file=PATH        PEM certificates to trust for an https endpoint
 *                       (default: the system's CA store)
 *
 * ACCESS and SECRET are percent-decoded (AWS secrets may hold '/' and '+').
 * Without them the config keys s3.access_key / s3.secret_key (and optional
 * s3.session_token) are used, then the environment's AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN, for temporary credentials).
 * A bucket name with dots defaults to path style: TLS wildcards do not cover
 * "a.b.s3.amazonaws.com".
 */
#ifndef CHATI_S3_CONF_H
#define CHATI_S3_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/internal.h"

typedef struct chati_s3_conf {
    char *base;                 /* "http://127.0.0.1:9000" or "https://b.s3.x.amazonaws.com" */
    char *host;                 /* Host header value, port included when not default */
    char *bucket;
    char *prefix;               /* "" or ends with '/' */
    char *region;
    char *access_key;
    char *secret_key;
    char *session_token;        /* NULL when none; sent as x-amz-security-token */
    char *ca_file;              /* NULL: the system's CA store */
    bool path_style;
    bool create_bucket;
    size_t part_size;
    long timeout_ms;
} chati_s3_conf;

/* Fills c from url (and cfg for credentials); invalid_config with a detail on
 * anything wrong. On failure c holds nothing to free. */
chat_err chati_s3_conf_parse(const char *url, const chat_config *cfg, chati_s3_conf *c);
void chati_s3_conf_free(chati_s3_conf *c);

#endif
