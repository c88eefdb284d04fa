/*
 * auth/jwt_cache.h - tokens already verified, so a request does not pay for
 * the HMAC and two JSON parses again (internal).
 *
 * Only a token whose signature and claims verified is kept, with its claims;
 * the same string can only ever verify the same way, so a hit changes nothing
 * but the cost. Expiry is checked at every use. Revocation is not the
 * cache's business: chat_auth_verify reads the user's token generation for
 * every request either way.
 *
 * One cache per key and issuer. Thread safety: any thread; a fixed table of
 * slots behind striped mutexes, held only to copy a slot.
 */
#ifndef CHATI_AUTH_JWT_CACHE_H
#define CHATI_AUTH_JWT_CACHE_H

#include "auth/jwt.h"

typedef struct chati_jwt_cache chati_jwt_cache;

chat_err chati_jwt_cache_new(chati_jwt_cache **out);
void chati_jwt_cache_free(chati_jwt_cache *c);

/* chati_jwt_verify through the cache: the same arguments, errors and *out.
 * c may be NULL (no cache). */
chat_err chati_jwt_verify_cached(chati_jwt_cache *c, const uint8_t *key, size_t keylen,
                                 const char *token, const char *expected_iss, int64_t now_s,
                                 chati_jwt_claims *out);

#endif
