/*
 * The S3 blob store ("s3://[ACCESS:SECRET@]BUCKET[/PREFIX]?endpoint=...", see
 * s3_conf.h), signed with AWS Signature V4 (sigv4.c) over libcurl.
 *
 * A blob is the S3 object PREFIX + key, holding exactly the caller's bytes.
 * Its SHA-256 travels twice: as x-amz-content-sha256, so the server refuses a
 * body damaged on the way, and as user metadata x-amz-meta-sha256, which a get
 * checks against the bytes it received (checksum_mismatch otherwise), like the
 * header of the file store. Objects written by others, without that metadata,
 * are returned unchecked.
 *
 * A put of more than part_size bytes is a multipart upload (s3_multipart.c);
 * on any failure the upload is aborted, so no half-written object or orphaned
 * parts stay behind. A single PUT and a completed multipart upload both
 * replace the object atomically.
 *
 * S3 deletes absent objects without complaint, so remove asks HEAD first to
 * report not_found (a concurrent remover may make both succeed).
 *
 * Errors: no answer (refused, reset, timed out) -> service_unavailable; HTTP
 * 403 (bad signature, unknown key) -> invalid_config; see chati_s3_fail.
 *
 * Thread safety: all calls may run concurrently (s3_client.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/blob_check.h"
#include "backends/builtin.h"
#include "backends/s3/s3_client.h"
#include "backends/s3/s3_multipart.h"
#include "core/internal.h"

/* A server that keeps metadata apart from the bytes (a filesystem-backed one)
 * may pair the new checksum with the old bytes while a key is overwritten; a
 * get that sees a mismatch reads again before it reports one. */
#define GET_TRIES 3

/* PREFIX + key into buf (checked first). */
static chat_err object_name(chati_s3 *s, const char *key, char *buf, size_t n)
{
    chat_err rv = chati_blob_check_key(key);
    if (rv != CHAT_OK)
        return rv;
    int w = snprintf(buf, n, "%s%s", chati_s3_conf_of(s)->prefix, key);
    if (w < 0 || (size_t)w >= n)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob key too long with the prefix");
    return CHAT_OK;
}

/* Makes the bucket, or finds it already ours. */
static chat_err create_bucket(chati_s3 *s)
{
    const chati_s3_conf *c = chati_s3_conf_of(s);
    chati_buf body = {0};
    chat_err rv = CHAT_OK;
    /* us-east-1 is the default location and refuses to be named. */
    if (strcmp(c->region, "us-east-1") != 0)
        rv = chati_buf_printf(&body,
                              "<CreateBucketConfiguration><LocationConstraint>%s"
                              "</LocationConstraint></CreateBucketConfiguration>",
                              c->region);
    chati_s3_req rq = {.method = "PUT", .query = "", .body = body.data, .body_len = body.len};
    chati_s3_resp resp;
    if (rv == CHAT_OK) {
        rv = chati_s3_call(s, &rq, &resp);
        if (rv == CHAT_OK && resp.status != 200) {
            char code[64];
            chati_s3_xml_text(resp.body.data, "Code", code, sizeof code);
            if (strcmp(code, "BucketAlreadyOwnedByYou") != 0)
                rv = chati_s3_fail(s, &rq, &resp);
        }
        chati_s3_resp_free(&resp);
    }
    chati_buf_free(&body);
    return rv;
}

/* Lists at most one object: proves the endpoint, bucket and credentials (a
 * bad signature is reported here, at open, with S3's error code). */
static chat_err check_bucket(chati_s3 *s)
{
    chati_s3_req rq = {.method = "GET", .query = "list-type=2&max-keys=1"};
    chati_s3_resp resp;
    chat_err rv = chati_s3_call(s, &rq, &resp);
    if (rv == CHAT_OK && resp.status != 200) {
        char code[64];
        chati_s3_xml_text(resp.body.data, "Code", code, sizeof code);
        if (resp.status == 404 && strcmp(code, "NoSuchBucket") == 0 &&
            chati_s3_conf_of(s)->create_bucket)
            rv = create_bucket(s);
        else
            rv = chati_s3_fail(s, &rq, &resp);
    }
    chati_s3_resp_free(&resp);
    return rv;
}

static chat_err s3blob_open(const char *url, const chat_config *cfg, void **impl)
{
    chati_s3 *s = NULL;
    chat_err rv = chati_s3_new(url, cfg, &s);
    if (rv != CHAT_OK)
        return rv;
    if ((rv = check_bucket(s)) != CHAT_OK) {
        chati_s3_free(s);
        return rv;
    }
    *impl = s;
    return CHAT_OK;
}

static void s3blob_close(void *impl)
{
    chati_s3_free(impl);
}

static chat_err put_single(chati_s3 *s, const char *obj, const void *data, size_t len,
                           const char *sum)
{
    chati_sigv4_header meta = {"x-amz-meta-sha256", sum};
    chati_s3_req rq = {.method = "PUT", .key = obj, .query = "", .body = data,
                       .body_len = len, .body_sha256 = sum, .extra = &meta, .n_extra = 1};
    chati_s3_resp resp;
    chat_err rv = chati_s3_call_ok(s, &rq, &resp);
    chati_s3_resp_free(&resp);
    return rv;
}

static chat_err s3blob_put(void *impl, const char *key, const void *data, size_t len,
                           char sha256_hex[65])
{
    chati_s3 *s = impl;
    char obj[512];
    chat_err rv = object_name(s, key, obj, sizeof obj);
    if (rv != CHAT_OK)
        return rv;
    if (data == NULL && len > 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob data is NULL");
    char sum[65];
    chati_sha256_hex(data ? data : "", len, sum);
    if (len > chati_s3_conf_of(s)->part_size)
        rv = chati_s3_put_multipart(s, obj, data, len, sum);
    else
        rv = put_single(s, obj, data ? data : "", len, sum);
    if (rv == CHAT_OK && sha256_hex)
        memcpy(sha256_hex, sum, 65);
    return rv;
}

static chat_err s3blob_get(void *impl, const char *key, void **data, size_t *len)
{
    chati_s3 *s = impl;
    char obj[512];
    chat_err rv = object_name(s, key, obj, sizeof obj);
    if (rv != CHAT_OK)
        return rv;
    if (data == NULL || len == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob get needs data and len");
    chati_s3_req rq = {.method = "GET", .key = obj, .query = ""};
    for (int attempt = 1;; attempt++) {
        chati_s3_resp resp;
        rv = chati_s3_call(s, &rq, &resp);
        if (rv == CHAT_OK && resp.status != 200)
            rv = resp.status == 404 ? chati_fail(CHAT_ERR_NOT_FOUND, "no blob %s", key)
                                    : chati_s3_fail(s, &rq, &resp);
        if (rv == CHAT_OK && resp.content_length >= 0 &&
            (size_t)resp.content_length != resp.body.len)
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                            "s3: GET %s: %zu of %lld bytes arrived", obj, resp.body.len,
                            (long long)resp.content_length);
        if (rv == CHAT_OK && resp.sha256[0]) {
            char got[65];
            chati_sha256_hex(resp.body.data ? resp.body.data : "", resp.body.len, got);
            if (strcmp(got, resp.sha256) != 0)
                rv = chati_fail(CHAT_ERR_CHECKSUM_MISMATCH,
                                "blob %s: stored bytes are damaged (SHA-256 %s, metadata says %s)",
                                key, got, resp.sha256);
        }
        if (rv == CHAT_OK) {
            /* An empty object still gets a buffer, as the file store's does. */
            if (resp.body.data == NULL && chati_buf_reserve(&resp.body, 0) != CHAT_OK) {
                chati_s3_resp_free(&resp);
                return chati_fail(CHAT_ERR_NOMEM, "blob %s", key);
            }
            *len = resp.body.len;
            *data = chati_buf_steal(&resp.body);
            return CHAT_OK;
        }
        chati_s3_resp_free(&resp);
        if (rv != CHAT_ERR_CHECKSUM_MISMATCH || attempt >= GET_TRIES)
            return rv;
    }
}

/* HEAD: size of the object, not_found when absent. */
static chat_err head(chati_s3 *s, const char *key, const char *obj, int64_t *size)
{
    chati_s3_req rq = {.method = "HEAD", .key = obj, .query = ""};
    chati_s3_resp resp;
    chat_err rv = chati_s3_call(s, &rq, &resp);
    if (rv == CHAT_OK && resp.status != 200)
        rv = resp.status == 404 ? chati_fail(CHAT_ERR_NOT_FOUND, "no blob %s", key)
                                : chati_s3_fail(s, &rq, &resp);
    if (rv == CHAT_OK && resp.content_length < 0)
        rv = chati_fail(CHAT_ERR_STORAGE, "s3: HEAD %s: no Content-Length", obj);
    if (rv == CHAT_OK && size)
        *size = resp.content_length;
    chati_s3_resp_free(&resp);
    return rv;
}

static chat_err s3blob_remove(void *impl, const char *key)
{
    chati_s3 *s = impl;
    char obj[512];
    chat_err rv = object_name(s, key, obj, sizeof obj);
    if (rv != CHAT_OK || (rv = head(s, key, obj, NULL)) != CHAT_OK)
        return rv;
    chati_s3_req rq = {.method = "DELETE", .key = obj, .query = ""};
    chati_s3_resp resp;
    rv = chati_s3_call_ok(s, &rq, &resp);
    chati_s3_resp_free(&resp);
    return rv;
}

static chat_err s3blob_stat(void *impl, const char *key, int64_t *size)
{
    chati_s3 *s = impl;
    char obj[512];
    chat_err rv = object_name(s, key, obj, sizeof obj);
    if (rv != CHAT_OK)
        return rv;
    return head(s, key, obj, size);
}

const chat_blob_ops chati_s3_blob_ops = {
    .version = CHAT_BLOB_V1,
    .scheme = "s3",
    .open = s3blob_open,
    .close = s3blob_close,
    .put = s3blob_put,
    .get = s3blob_get,
    .remove = s3blob_remove,
    .stat = s3blob_stat,
};
