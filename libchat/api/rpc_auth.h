/*
 * libchat/api/rpc_auth.h - signed RPC frames.
 *
 * Every request frame but health ends with field 15 (`mac`, chat.rpc.Request):
 * HMAC-SHA256 of all the bytes before it, under the deployment's RPC key.
 * The key is derived from the signing key of the deployment's shared secret
 * (jwt.secret, which every process of a distributed deployment is configured
 * with), for this one purpose, so a token signature can never pass for a
 * frame's. The signed bytes include the caller's session (user, team, admin),
 * the method, its body and an expiry: a service takes the identity from a
 * frame only because a member of the deployment vouched for it, and only
 * until the frame expires (its timeout plus a grace for clocks that differ).
 * There is no setting that turns this off.
 *
 * Thread safety: an auth is immutable once made; any thread may use it.
 */
#ifndef CHATI_API_RPC_AUTH_H
#define CHATI_API_RPC_AUTH_H

#include <nng/nng.h>

#include "domain/ctx.h"
#include "rpc.pb-c.h"
#include "rpc/rpc.h"

/* A frame is valid until its sender's deadline plus this (clock skew). */
#define CHATI_RPC_SKEW_MS 10000
/* No frame may claim to stay valid longer than this from now. */
#define CHATI_RPC_MAX_VALIDITY_MS (15 * 60 * 1000)

typedef struct chati_rpc_auth chati_rpc_auth;

/* The RPC key of ctx's deployment. invalid_config, saying to set jwt.secret,
 * when ctx has no signing key (jwt.secret unset and no auth service here). */
chat_err chati_rpc_auth_new(chat_ctx *ctx, chati_rpc_auth **out);
/* The same from raw key bytes (tests, tools). */
chat_err chati_rpc_auth_from_key(const uint8_t *key, size_t len, const char *caller,
                                 chati_rpc_auth **out);
void chati_rpc_auth_free(chati_rpc_auth *a);

/* What this process signs as: the first service it runs, else "gateway". */
const char *chati_rpc_auth_caller(const chati_rpc_auth *a);

/* The expiry to put in a frame sent now that waits timeout_ms at most. */
uint64_t chati_rpc_auth_expiry(int64_t timeout_ms);

/* Appends the mac field to msg, a packed Request. */
chat_err chati_rpc_auth_seal(const chati_rpc_auth *a, nng_msg *msg);

/* Whether msg ends with a valid mac: CHAT_OK, not_authed when it carries
 * none, invalid_auth when it does not match; the detail says which. */
chat_err chati_rpc_auth_check(const chati_rpc_auth *a, nng_msg *msg);

/* The signed claims of an unpacked, checked frame: invalid_auth when it has
 * expired or claims to live implausibly long (now_ms: chati_now_ms()). */
chat_err chati_rpc_auth_check_expiry(const Chat__Rpc__Request *rq, int64_t now_ms);

/* The transport's TLS files from cfg (rpc.tls_ca, rpc.tls_cert,
 * rpc.tls_key); the strings belong to cfg. */
void chati_rpc_tls_from_config(const chat_config *cfg, chati_rpc_tls *out);

#endif
