/*
 * AWS Signature Version 4, as S3 wants it (header-based, single chunk):
 *
 *   canonical = METHOD \n URI \n QUERY \n (name:value \n)* \n names;... \n payload-hash
 *   to_sign   = "AWS4-HMAC-SHA256" \n amz-date \n date8/region/service/aws4_request \n
 *               hex(sha256(canonical))
 *   signature = hex(HMAC(signing key, to_sign))
 *
 * S3 differs from the other services in two ways that matter here: the URI
 * path is encoded once, not twice, and it is not normalised ("/./" stays).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>

#include "backends/s3/sigv4.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

chat_err chati_sigv4_encode(chati_buf *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    chat_err rv = chati_buf_reserve(out, n * 3 + 1);
    if (rv != CHAT_OK)
        return rv;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = hex[c >> 4];
            out->data[out->len++] = hex[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return CHAT_OK;
}

static void hmac(const uint8_t *key, size_t klen, const char *msg, size_t mlen, uint8_t out[32])
{
    /* Cannot fail for SHA-256 with valid pointers. */
    (void)mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, klen,
                          (const unsigned char *)msg, mlen, out);
}

void chati_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                             const char *service, uint8_t key[32])
{
    size_t slen = strlen(secret);
    char *k0 = chat_malloc(slen + 5);
    uint8_t k[32];
    if (k0 == NULL) {
        /* Without memory there is no key; a zero key just fails the request. */
        memset(key, 0, 32);
        return;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen + 1);
    hmac((const uint8_t *)k0, slen + 4, date8, strlen(date8), k);
    memset(k0, 0, slen + 4);
    chat_free(k0);
    hmac(k, 32, region, strlen(region), k);
    hmac(k, 32, service, strlen(service), k);
    hmac(k, 32, "aws4_request", 12, key);
    memset(k, 0, sizeof k);
}

static int cmp_header(const void *a, const void *b)
{
    const chati_sigv4_header *x = *(const chati_sigv4_header *const *)a;
    const chati_sigv4_header *y = *(const chati_sigv4_header *const *)b;
    return strcmp(x->name, y->name);
}

chat_err chati_sigv4_sign(const chati_sigv4_request *r, chati_buf *authz, chati_buf *canonical,
                          chati_buf *to_sign)
{
    if (r->n_headers == 0 || r->n_headers > 32 || strlen(r->amz_date) != 16)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "sigv4: bad request description");
    const chati_sigv4_header *sorted[32];
    for (size_t i = 0; i < r->n_headers; i++)
        sorted[i] = &r->headers[i];
    qsort(sorted, r->n_headers, sizeof sorted[0], cmp_header);

    chati_buf canon = {0}, names = {0}, sts = {0};
    chat_err rv = chati_buf_printf(&canon, "%s\n%s\n%s\n", r->method, r->path, r->query);
    for (size_t i = 0; rv == CHAT_OK && i < r->n_headers; i++) {
        rv = chati_buf_printf(&canon, "%s:%s\n", sorted[i]->name, sorted[i]->value);
        if (rv == CHAT_OK)
            rv = chati_buf_printf(&names, "%s%s", i ? ";" : "", sorted[i]->name);
    }
    if (rv == CHAT_OK)
        rv = chati_buf_printf(&canon, "\n%s\n%s", names.data, r->payload_hash);

    char date8[9], canon_hash[65];
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    if (rv == CHAT_OK) {
        chati_sha256_hex(canon.data, canon.len, canon_hash);
        rv = chati_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                              r->amz_date, date8, r->region, r->service, canon_hash);
    }
    if (rv == CHAT_OK) {
        uint8_t key[32], sig[32];
        char sig_hex[65];
        chati_sigv4_signing_key(r->secret_key, date8, r->region, r->service, key);
        hmac(key, sizeof key, sts.data, sts.len, sig);
        memset(key, 0, sizeof key);
        chati_hex_encode(sig, sizeof sig, sig_hex);
        rv = chati_buf_printf(authz,
                              "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,"
                              "SignedHeaders=%s,Signature=%s",
                              r->access_key, date8, r->region, r->service, names.data, sig_hex);
    }
    if (rv == CHAT_OK && canonical)
        rv = chati_buf_append(canonical, canon.data, canon.len);
    if (rv == CHAT_OK && to_sign)
        rv = chati_buf_append(to_sign, sts.data, sts.len);
    chati_buf_free(&canon);
    chati_buf_free(&names);
    chati_buf_free(&sts);
    return rv;
}

void chati_sigv4_amz_date(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
