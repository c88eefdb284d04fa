/*
 * core/encode.c - base64url, hex, percent-escapes, SHA-256 and pagination
 * cursors.
 */
#include "core/internal.h"

#include <string.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t chati_b64url_len(size_t n)
{
    static const size_t tail[3] = {0, 2, 3};
    return n / 3 * 4 + tail[n % 3];
}

void chati_b64url_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *out++ = b64url_alphabet[v >> 18 & 63];
        *out++ = b64url_alphabet[v >> 12 & 63];
        *out++ = b64url_alphabet[v >> 6 & 63];
        *out++ = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *out++ = b64url_alphabet[v >> 18 & 63];
        *out++ = b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *out++ = b64url_alphabet[v >> 18 & 63];
        *out++ = b64url_alphabet[v >> 12 & 63];
        *out++ = b64url_alphabet[v >> 6 & 63];
    }
    *out = '\0';
}

/* 0..63, or -1 for anything outside the url-safe alphabet ('=' included:
 * we never pad). */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool chati_b64url_decode(const char *in, size_t n, void *out, size_t *outlen)
{
    uint8_t *o = out;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t len = 0;

    /* One leftover character carries only 6 bits: never a whole byte. */
    if (n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[len++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Non-zero leftover bits mean a second spelling of the same bytes; tokens
     * and cursors must have exactly one. */
    if (acc != 0)
        return false;
    if (outlen != NULL)
        *outlen = len;
    return true;
}

void chati_hex_encode(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;

    for (size_t i = 0; i < n; i++) {
        *out++ = digits[p[i] >> 4];
        *out++ = digits[p[i] & 15];
    }
    *out = '\0';
}

void chati_sha256(const void *data, size_t len, uint8_t out[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_sha256(data, len, out, 0);
#else
    mbedtls_sha256_ret(data, len, out, 0);
#endif
}

void chati_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[32];
    chati_sha256(data, len, md);
    chati_hex_encode(md, sizeof md, out);
}

/* Cursors carry a version tag so their format can change without old tokens
 * being misread; anything else is refused. */
#define CURSOR_TAG "c1:"
#define CURSOR_TAG_LEN 3
/* Keys are ids, timestamps or short composites; this bounds the work a hostile
 * cursor can cause. */
#define CURSOR_MAX_CHARS 4096

chat_err chati_cursor_encode(const char *key, char **out)
{
    if (key == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "cursor key is NULL");
    size_t klen = strlen(key);
    size_t rawlen = CURSOR_TAG_LEN + klen;
    if (chati_b64url_len(rawlen) > CURSOR_MAX_CHARS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "cursor key too long (%zu bytes)",
                          klen);

    char *raw = chat_malloc(rawlen);
    char *enc = chat_malloc(chati_b64url_len(rawlen) + 1);
    if (raw == NULL || enc == NULL) {
        chat_free(raw);
        chat_free(enc);
        return chati_fail(CHAT_ERR_NOMEM, "cursor");
    }
    memcpy(raw, CURSOR_TAG, CURSOR_TAG_LEN);
    memcpy(raw + CURSOR_TAG_LEN, key, klen);
    chati_b64url_encode(raw, rawlen, enc);
    chat_free(raw);
    *out = enc;
    return CHAT_OK;
}

chat_err chati_cursor_decode(const char *cursor, char **key_out)
{
    if (key_out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "key_out is NULL");
    *key_out = NULL;
    if (cursor == NULL || *cursor == '\0')
        return chati_fail(CHAT_ERR_INVALID_CURSOR, "empty cursor");
    size_t n = strnlen(cursor, CURSOR_MAX_CHARS + 1);
    if (n > CURSOR_MAX_CHARS)
        return chati_fail(CHAT_ERR_INVALID_CURSOR, "cursor too long");

    char *raw = chat_malloc(n + 1);
    if (raw == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "cursor");
    size_t rawlen = 0;
    if (!chati_b64url_decode(cursor, n, raw, &rawlen) || rawlen < CURSOR_TAG_LEN ||
        memcmp(raw, CURSOR_TAG, CURSOR_TAG_LEN) != 0 ||
        memchr(raw, '\0', rawlen) != NULL) {
        chat_free(raw);
        return chati_fail(CHAT_ERR_INVALID_CURSOR, "cursor was not issued by this server");
    }
    /* Reuse the buffer for the key: move it over the tag. */
    memmove(raw, raw + CURSOR_TAG_LEN, rawlen - CURSOR_TAG_LEN);
    raw[rawlen - CURSOR_TAG_LEN] = '\0';
    *key_out = raw;
    return CHAT_OK;
}

uint64_t chati_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    return h;
}

int chati_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *chati_pct_decode(const char *s, size_t n)
{
    char *out = chat_malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? chati_hex_digit(s[i + 1]) : -1;
        int lo = hi >= 0 ? chati_hex_digit(s[i + 2]) : -1;
        if (lo < 0) {
            chat_free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}
