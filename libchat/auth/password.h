/*
 * auth/password.h - argon2id password hashing (internal).
 *
 * Hashes are PHC strings, "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", with a
 * 16-byte random salt and a 32-byte hash. Verification reads the parameters
 * from the string, so raising the costs later leaves old hashes valid.
 *
 * Thread safety: every function may be called from any thread. Each call
 * allocates m_cost KiB for its duration and is CPU-bound (~tens of ms with the
 * defaults): keep it off event loops.
 */
#ifndef CHATI_AUTH_PASSWORD_H
#define CHATI_AUTH_PASSWORD_H

#include "core/internal.h"

/* OWASP Password Storage Cheat Sheet, argon2id option 2. */
#define CHATI_ARGON2_DEFAULT_T 2u
#define CHATI_ARGON2_DEFAULT_M_KIB 19456u
#define CHATI_ARGON2_DEFAULT_P 1u

/* Bounds accepted from configuration and from stored hashes. The floors are
 * argon2's own (tests use tiny costs); the ceilings stop a bad config value or
 * a tampered hash from pinning a CPU or exhausting memory. */
#define CHATI_ARGON2_MAX_T 64u
#define CHATI_ARGON2_MAX_M_KIB (1024u * 1024u) /* 1 GiB */
#define CHATI_ARGON2_MAX_P 64u

#define CHATI_PASSWORD_SALT_BYTES 16
#define CHATI_PASSWORD_HASH_BYTES 32

typedef struct chati_argon2_params {
    uint32_t t_cost;            /* passes */
    uint32_t m_cost_kib;        /* memory, KiB; at least 8 * parallelism */
    uint32_t parallelism;       /* lanes (and threads) */
} chati_argon2_params;

/* The OWASP defaults (t=2, m=19456 KiB, p=1). */
chati_argon2_params chati_argon2_defaults(void);

/* Reads argon2.t_cost, argon2.m_cost_kib and argon2.parallelism from cfg (NULL
 * or an unset key: the default). Fails with invalid_config when a value is not
 * a decimal integer or is outside the bounds above. *out is untouched then. */
chat_err chati_argon2_params_from_config(const chat_config *cfg, chati_argon2_params *out);

/* Whether p is within the bounds above. */
bool chati_argon2_params_valid(const chati_argon2_params *p);

/* Checks a new password: valid UTF-8 of at least CHAT_MIN_PASSWORD_CHARS (8)
 * code points and at most CHAT_MAX_PASSWORD_BYTES (1024) bytes; bad_password
 * otherwise. */
chat_err chati_password_check(const char *password);

/* Hashes a password with params p (NULL: the defaults) and a fresh salt.
 * *phc_out is the PHC string, free with chat_free. Errors: bad_password (see
 * chati_password_check), invalid_arguments (params out of bounds), nomem. */
chat_err chati_password_hash(const chati_argon2_params *p, const char *password,
                             char **phc_out);

/* Checks password against a PHC string made by chati_password_hash (any
 * params within bounds). *ok is true only on a match; a wrong password is
 * CHAT_OK with *ok false. A password longer than CHAT_MAX_PASSWORD_BYTES is a
 * mismatch without hashing. Errors: invalid_arguments (NULL, or phc is not an
 * argon2id v=19 string within bounds), nomem. The hash comparison is
 * constant-time. */
chat_err chati_password_verify(const char *phc, const char *password, bool *ok);

/* Spends the time chati_password_verify would on a hash made with params p
 * (NULL: the defaults), and matches nothing. Logins of unknown emails call it
 * so they take as long as wrong passwords. */
void chati_password_dummy_verify(const chati_argon2_params *p, const char *password);

#endif
