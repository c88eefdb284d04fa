/*
 * core/hmac.c - HMAC-SHA256 with the key's two padded blocks hashed once
 * (RFC 2104): each MAC then clones the two prepared states instead of
 * hashing the key again, which halves the work for the short messages that
 * are MACed on every RPC.
 */
#include <string.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "core/internal.h"

#if MBEDTLS_VERSION_NUMBER < 0x03000000 /* 2.x: the returning names */
#define mbedtls_sha256_starts mbedtls_sha256_starts_ret
#define mbedtls_sha256_update mbedtls_sha256_update_ret
#define mbedtls_sha256_finish mbedtls_sha256_finish_ret
#endif

struct chati_hmac_key {
    mbedtls_sha256_context inner;   /* after (key ^ ipad) */
    mbedtls_sha256_context outer;   /* after (key ^ opad) */
};

chat_err chati_hmac_key_new(const void *key, size_t len, chati_hmac_key **out)
{
    *out = NULL;
    chati_hmac_key *k = chat_calloc(1, sizeof *k);
    if (k == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "hmac key");
    uint8_t block[64] = {0}, pad[64];
    if (len > sizeof block)
        chati_sha256(key, len, block);
    else
        memcpy(block, key, len);
    mbedtls_sha256_init(&k->inner);
    mbedtls_sha256_init(&k->outer);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = block[i] ^ 0x36;
    int e = mbedtls_sha256_starts(&k->inner, 0) || mbedtls_sha256_update(&k->inner, pad, 64);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = block[i] ^ 0x5c;
    e = e || mbedtls_sha256_starts(&k->outer, 0) || mbedtls_sha256_update(&k->outer, pad, 64);
    memset(block, 0, sizeof block);
    memset(pad, 0, sizeof pad);
    if (e) {
        chati_hmac_key_free(k);
        return chati_fail(CHAT_ERR_INTERNAL, "hmac key");
    }
    *out = k;
    return CHAT_OK;
}

void chati_hmac_key_free(chati_hmac_key *k)
{
    if (k == NULL)
        return;
    mbedtls_sha256_free(&k->inner);
    mbedtls_sha256_free(&k->outer);
    chat_free(k);
}

void chati_hmac(const chati_hmac_key *k, const void *a, size_t alen, const void *b, size_t blen,
                uint8_t out[32])
{
    mbedtls_sha256_context c;
    uint8_t ih[32];
    mbedtls_sha256_init(&c);
    mbedtls_sha256_clone(&c, &k->inner);
    mbedtls_sha256_update(&c, a, alen);
    if (blen > 0)
        mbedtls_sha256_update(&c, b, blen);
    mbedtls_sha256_finish(&c, ih);
    mbedtls_sha256_clone(&c, &k->outer);
    mbedtls_sha256_update(&c, ih, sizeof ih);
    mbedtls_sha256_finish(&c, out);
    mbedtls_sha256_free(&c);
}
