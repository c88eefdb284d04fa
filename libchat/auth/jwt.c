/*
 * auth/jwt.c - HS256 JSON Web Tokens (RFC 7519) with jansson and mbedtls.
 */
#include "auth/jwt.h"

#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <mbedtls/md.h>

#define HS256_BYTES 32
#define HS256_B64_LEN 43        /* chati_b64url_len(32) */

/* The one header we make. Verification parses instead of comparing bytes, so
 * tokens from other HS256 producers sharing the key still verify. */
static const char jwt_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static bool hs256(const uint8_t *key, size_t keylen, const void *data, size_t len,
                  uint8_t mac[HS256_BYTES])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return md != NULL && mbedtls_md_hmac(md, key, keylen, data, len, mac) == 0;
}

chat_err chati_jwt_new_jti(char jti[CHATI_JWT_JTI_SIZE])
{
    uint8_t raw[16];
    chat_err rv = chati_random(raw, sizeof raw);
    if (rv != CHAT_OK)
        return rv;
    chati_b64url_encode(raw, sizeof raw, jti); /* 22 chars + NUL */
    return CHAT_OK;
}

/* A claim string: NUL-terminated inside its array and valid UTF-8 (jansson
 * refuses anything else). */
static bool claim_str_ok(const char *s, size_t size, bool allow_empty)
{
    const char *nul = memchr(s, '\0', size);
    return nul != NULL && (allow_empty || nul != s) && chati_utf8_valid(s, (size_t)(nul - s), NULL);
}

/* The payload as compact JSON in a chat_malloc'd buffer (no NUL needed). */
static chat_err payload_json(const chati_jwt_claims *c, const char *jti, char **out,
                             size_t *outlen)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", c->iss, "sub", c->sub,
                          "team", c->team, "iat", (json_int_t)c->iat, "exp",
                          (json_int_t)c->exp, "gen", (json_int_t)c->gen, "jti", jti);
    if (o == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "jwt payload");
    if (c->knd[0] != '\0' && (json_object_set_new(o, "knd", json_string(c->knd)) != 0 ||
                               json_object_set_new(o, "app", json_string(c->app)) != 0)) {
        json_decref(o);
        return chati_fail(CHAT_ERR_NOMEM, "jwt payload");
    }
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    char *buf = n > 0 ? chat_malloc(n) : NULL;
    if (buf == NULL || json_dumpb(o, buf, n, JSON_COMPACT) != n) {
        json_decref(o);
        chat_free(buf);
        return chati_fail(CHAT_ERR_NOMEM, "jwt payload");
    }
    json_decref(o);
    *out = buf;
    *outlen = n;
    return CHAT_OK;
}

chat_err chati_jwt_sign(const uint8_t *key, size_t keylen, const chati_jwt_claims *c,
                        char **token_out)
{
    char jti[CHATI_JWT_JTI_SIZE];
    char *payload = NULL;
    size_t plen = 0;
    chat_err rv;

    if (token_out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "token_out is NULL");
    *token_out = NULL;
    if (key == NULL || c == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "jwt key or claims is NULL");
    if (keylen < CHATI_JWT_MIN_KEY_BYTES)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "jwt key is %zu bytes; HS256 needs %d",
                          keylen, CHATI_JWT_MIN_KEY_BYTES);
    if (!claim_str_ok(c->iss, sizeof c->iss, false) || !claim_str_ok(c->sub, sizeof c->sub, false) ||
        !claim_str_ok(c->team, sizeof c->team, false) || !claim_str_ok(c->jti, sizeof c->jti, true) ||
        !claim_str_ok(c->knd, sizeof c->knd, true) ||
        !claim_str_ok(c->app, sizeof c->app, c->knd[0] == '\0'))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "jwt claims: bad iss, sub, team, jti or app");

    if (c->jti[0] != '\0')
        memcpy(jti, c->jti, sizeof jti);
    else if ((rv = chati_jwt_new_jti(jti)) != CHAT_OK)
        return rv;
    if ((rv = payload_json(c, jti, &payload, &plen)) != CHAT_OK)
        return rv;

    size_t hlen = sizeof jwt_header - 1;
    size_t hb = chati_b64url_len(hlen), pb = chati_b64url_len(plen);
    size_t total = hb + 1 + pb + 1 + HS256_B64_LEN;
    if (total > CHATI_JWT_MAX_LEN) {
        chat_free(payload);
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "jwt would be %zu bytes", total);
    }
    char *tok = chat_malloc(total + 1);
    if (tok == NULL) {
        chat_free(payload);
        return chati_fail(CHAT_ERR_NOMEM, "jwt");
    }
    chati_b64url_encode(jwt_header, hlen, tok);
    tok[hb] = '.';
    chati_b64url_encode(payload, plen, tok + hb + 1);
    tok[hb + 1 + pb] = '.';
    chat_free(payload);

    uint8_t mac[HS256_BYTES];
    if (!hs256(key, keylen, tok, hb + 1 + pb, mac)) {
        chat_free(tok);
        return chati_fail(CHAT_ERR_INTERNAL, "HMAC-SHA256 failed");
    }
    chati_b64url_encode(mac, sizeof mac, tok + hb + 1 + pb + 1);
    *token_out = tok;
    return CHAT_OK;
}

/* Decodes one base64url segment and parses it as a JSON object. */
static json_t *segment_json(const char *seg, size_t n)
{
    char buf[CHATI_JWT_MAX_LEN];
    size_t len;

    if (n == 0 || !chati_b64url_decode(seg, n, buf, &len))
        return NULL;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Whether the header names HS256 and nothing we would have to understand. */
static bool header_ok(const json_t *h)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const json_t *typ = json_object_get(h, "typ");

    if (alg == NULL || strcmp(alg, "HS256") != 0)
        return false;
    if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return false;
    /* RFC 7515 4.1.11: extensions marked critical must be understood; we know none. */
    return json_object_get(h, "crit") == NULL;
}

static bool get_str(const json_t *o, const char *k, char *dst, size_t size)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        return false;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len == 0 || len >= size || memchr(s, '\0', len) != NULL)
        return false;
    memcpy(dst, s, len + 1);
    return true;
}

static bool get_int(const json_t *o, const char *k, int64_t *dst)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        return false;
    *dst = (int64_t)json_integer_value(v);
    return true;
}

static bool claims_from_json(const json_t *p, chati_jwt_claims *c)
{
    /* knd and app come together or not at all. */
    bool app_ok = json_object_get(p, "knd") == NULL
                      ? json_object_get(p, "app") == NULL
                      : get_str(p, "knd", c->knd, sizeof c->knd) &&
                            get_str(p, "app", c->app, sizeof c->app);
    return get_str(p, "iss", c->iss, sizeof c->iss) && get_str(p, "sub", c->sub, sizeof c->sub) &&
           get_str(p, "team", c->team, sizeof c->team) && get_int(p, "iat", &c->iat) &&
           get_int(p, "exp", &c->exp) && get_int(p, "gen", &c->gen) &&
           get_str(p, "jti", c->jti, sizeof c->jti) && app_ok;
}

chat_err chati_jwt_verify(const uint8_t *key, size_t keylen, const char *token,
                          const char *expected_iss, int64_t now_s, chati_jwt_claims *out)
{
    chati_jwt_claims c;

    if (out == NULL || key == NULL || expected_iss == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "jwt key, issuer or out is NULL");
    memset(out, 0, sizeof *out);
    if (keylen < CHATI_JWT_MIN_KEY_BYTES)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "jwt key is %zu bytes; HS256 needs %d",
                          keylen, CHATI_JWT_MIN_KEY_BYTES);
    if (token == NULL)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "no token");
    size_t n = strnlen(token, CHATI_JWT_MAX_LEN + 1);
    if (n > CHATI_JWT_MAX_LEN)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "token longer than %d bytes",
                          CHATI_JWT_MAX_LEN);

    const char *dot1 = memchr(token, '.', n);
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "token is not header.payload.signature");
    const char *sig = dot2 + 1;
    size_t siglen = n - (size_t)(sig - token);

    json_t *h = segment_json(token, (size_t)(dot1 - token));
    bool hdr_ok = h != NULL && header_ok(h);
    json_decref(h);
    if (!hdr_ok)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "token header is malformed or not HS256");

    uint8_t got[HS256_BYTES + 3], want[HS256_BYTES];
    size_t gotlen = 0;
    if (siglen != HS256_B64_LEN || !chati_b64url_decode(sig, siglen, got, &gotlen) ||
        gotlen != HS256_BYTES)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "token signature is malformed");
    if (!hs256(key, keylen, token, (size_t)(dot2 - token), want))
        return chati_fail(CHAT_ERR_INTERNAL, "HMAC-SHA256 failed");
    if (!chati_consttime_eq(got, want, HS256_BYTES))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "token signature does not match");

    /* Signed by us from here on, but still parsed defensively. */
    memset(&c, 0, sizeof c);
    json_t *p = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    bool claims_ok = p != NULL && claims_from_json(p, &c);
    json_decref(p);
    if (!claims_ok)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "token claims are malformed");
    if (strcmp(c.iss, expected_iss) != 0)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "token issuer is not %s", expected_iss);
    *out = c;
    if (c.exp <= now_s)
        return chati_fail(CHAT_ERR_TOKEN_EXPIRED, "token expired");
    return CHAT_OK;
}
