/* Signed RPC frames; see rpc_auth.h. */
#include <stdio.h>
#include <string.h>

#include "api/rpc_auth.h"

/* Field 15, wire type 2 (bytes), 32 bytes long: the last 34 bytes of a frame. */
#define MAC_TAG 0x7a
#define MAC_LEN 32
#define MAC_FIELD_LEN (2 + MAC_LEN)
/* What the RPC key is derived for, so that no other MAC of the signing key
 * (tokens, upload tickets, webhook URLs) can pass for a frame's. */
#define PURPOSE "libchat rpc frame v1"

struct chati_rpc_auth {
    chati_hmac_key *key;
    char caller[16];
};

chat_err chati_rpc_auth_from_key(const uint8_t *key, size_t len, const char *caller,
                                 chati_rpc_auth **out)
{
    *out = NULL;
    chati_rpc_auth *a = chat_calloc(1, sizeof *a);
    if (a == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rpc auth");
    /* The RPC key: HMAC(signing key, purpose). */
    chati_hmac_key *signing = NULL;
    uint8_t derived[32];
    chat_err rv = chati_hmac_key_new(key, len, &signing);
    if (rv == CHAT_OK) {
        chati_hmac(signing, PURPOSE, strlen(PURPOSE), NULL, 0, derived);
        chati_hmac_key_free(signing);
        rv = chati_hmac_key_new(derived, sizeof derived, &a->key);
        memset(derived, 0, sizeof derived);
    }
    if (rv != CHAT_OK) {
        chat_free(a);
        return rv;
    }
    snprintf(a->caller, sizeof a->caller, "%s", caller ? caller : "");
    *out = a;
    return CHAT_OK;
}

chat_err chati_rpc_auth_new(chat_ctx *ctx, chati_rpc_auth **out)
{
    *out = NULL;
    uint8_t key[CHATI_JWT_KEY_BYTES];
    if (ctx->jwt_key_loaded) {
        memcpy(key, ctx->jwt_key, sizeof key);
    } else {
        /* A bare context (tests, tools) that was never opened: the secret
         * itself, derived as chat_open derives it. */
        const char *secret = ctx->cfg ? chat_config_get(ctx->cfg, "jwt.secret") : NULL;
        if (secret == NULL || strlen(secret) < 16)
            return chati_fail(CHAT_ERR_INVALID_CONFIG,
                              "RPC between processes is signed with a key from jwt.secret: set "
                              "it, the same on every process of the deployment");
        chati_sha256(secret, strlen(secret), key);
    }
    const char *caller = ctx->auth       ? "auth"
                         : ctx->users    ? "user"
                         : ctx->channels ? "channel"
                         : ctx->messages ? "message"
                         : ctx->presence ? "presence"
                                         : "gateway";
    chat_err rv = chati_rpc_auth_from_key(key, sizeof key, caller, out);
    memset(key, 0, sizeof key);
    return rv;
}

void chati_rpc_auth_free(chati_rpc_auth *a)
{
    if (a == NULL)
        return;
    chati_hmac_key_free(a->key);
    chat_free(a);
}

const char *chati_rpc_auth_caller(const chati_rpc_auth *a)
{
    return a->caller;
}

uint64_t chati_rpc_auth_expiry(int64_t timeout_ms)
{
    if (timeout_ms > CHATI_RPC_MAX_VALIDITY_MS - CHATI_RPC_SKEW_MS)
        timeout_ms = CHATI_RPC_MAX_VALIDITY_MS - CHATI_RPC_SKEW_MS;
    return (uint64_t)(chati_now_ms() + timeout_ms + CHATI_RPC_SKEW_MS);
}

chat_err chati_rpc_auth_seal(const chati_rpc_auth *a, nng_msg *msg)
{
    uint8_t field[MAC_FIELD_LEN] = {MAC_TAG, MAC_LEN};
    chati_hmac(a->key, nng_msg_body(msg), nng_msg_len(msg), NULL, 0, field + 2);
    if (nng_msg_append(msg, field, sizeof field) != 0)
        return chati_fail(CHAT_ERR_NOMEM, "rpc frame");
    return CHAT_OK;
}

chat_err chati_rpc_auth_check(const chati_rpc_auth *a, nng_msg *msg)
{
    const uint8_t *p = nng_msg_body(msg);
    size_t n = nng_msg_len(msg);
    if (n < MAC_FIELD_LEN || p[n - MAC_FIELD_LEN] != MAC_TAG ||
        p[n - MAC_FIELD_LEN + 1] != MAC_LEN)
        return chati_fail(CHAT_ERR_NOT_AUTHED, "the frame is not signed");
    uint8_t want[MAC_LEN];
    chati_hmac(a->key, p, n - MAC_FIELD_LEN, NULL, 0, want);
    if (!chati_consttime_eq(want, p + n - MAC_LEN, MAC_LEN))
        return chati_fail(CHAT_ERR_INVALID_AUTH,
                          "bad frame signature (is jwt.secret the same on every process?)");
    return CHAT_OK;
}

chat_err chati_rpc_auth_check_expiry(const Chat__Rpc__Request *rq, int64_t now_ms)
{
    int64_t exp = rq->expires_ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)rq->expires_ms;
    if (exp < now_ms)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "the frame expired %lld ms ago",
                          (long long)(now_ms - exp));
    if (exp - now_ms > CHATI_RPC_MAX_VALIDITY_MS)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "the frame claims to stay valid for %lld s",
                          (long long)((exp - now_ms) / 1000));
    return CHAT_OK;
}

void chati_rpc_tls_from_config(const chat_config *cfg, chati_rpc_tls *out)
{
    out->ca_file = cfg ? chat_config_get(cfg, "rpc.tls_ca") : NULL;
    out->cert_file = cfg ? chat_config_get(cfg, "rpc.tls_cert") : NULL;
    out->key_file = cfg ? chat_config_get(cfg, "rpc.tls_key") : NULL;
}
