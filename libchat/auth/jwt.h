/*
 * auth/jwt.h - HS256 JSON Web Tokens (internal).
 *
 * Only HS256 is made and only HS256 is accepted: the algorithm is fixed by the
 * server, never chosen by the token ("alg":"none" and every other value are
 * refused). Claims: iss, sub (user id), team, iat, exp, gen (the user's token
 * generation, for revocation), jti (a random token id), and for an app's
 * tokens knd ("bot" or "app") and app (its id), where gen is the app's.
 *
 * Thread safety: pure functions, safe from any thread.
 */
#ifndef CHATI_AUTH_JWT_H
#define CHATI_AUTH_JWT_H

#include "core/internal.h"

/* Longest token signed or accepted, in bytes. */
#define CHATI_JWT_MAX_LEN 4096
/* RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits). */
#define CHATI_JWT_MIN_KEY_BYTES 32
#define CHATI_JWT_ISS_SIZE 64
#define CHATI_JWT_JTI_SIZE 32

typedef struct chati_jwt_claims {
    char iss[CHATI_JWT_ISS_SIZE];
    char sub[CHAT_ID_SIZE];     /* user id */
    char team[CHAT_ID_SIZE];    /* team id */
    int64_t iat;                /* issued at, unix seconds */
    int64_t exp;                /* expires at, unix seconds */
    int64_t gen;                /* token generation of the user when issued */
    char jti[CHATI_JWT_JTI_SIZE]; /* random id; chati_jwt_sign fills an empty one */
    char knd[8];                /* "" for a person's token, "bot" or "app" */
    char app[CHAT_ID_SIZE];     /* the app of a bot or app token, else "" */
} chati_jwt_claims;

/* Fills jti with a fresh random id (22 base64url characters). */
chat_err chati_jwt_new_jti(char jti[CHATI_JWT_JTI_SIZE]);

/* Signs c with key (at least CHATI_JWT_MIN_KEY_BYTES bytes). An empty c->jti is
 * replaced by a random one in the token (c is not changed). On success
 * *token_out is the compact token, free with chat_free. Errors:
 * invalid_arguments (short key, a claim string that is not NUL-terminated
 * within its array or not UTF-8, empty iss/sub/team), nomem. */
chat_err chati_jwt_sign(const uint8_t *key, size_t keylen, const chati_jwt_claims *c,
                        char **token_out);

/* Verifies token with key: compact form, header {"alg":"HS256"} (typ, if any,
 * "JWT"; no "crit"), signature, every claim present with the right type and
 * size, iss == expected_iss, exp > now_s. Errors: invalid_auth for anything
 * malformed, forged or from another issuer; token_expired when exp <= now_s
 * (the signature is good then and *out is filled, for logging);
 * invalid_arguments when key/expected_iss/out is NULL or the key is short.
 * On any other error *out is zeroed. */
chat_err chati_jwt_verify(const uint8_t *key, size_t keylen, const char *token,
                          const char *expected_iss, int64_t now_s, chati_jwt_claims *out);

#endif
