/*
 * auth/password.c - argon2id password hashing.
 */
#include "auth/password.h"

#include <stdio.h>
#include <string.h>

#include <argon2.h>

/* Longest PHC string we accept: ours are ~100 bytes; the cap bounds parsing
 * and argon2's own decode buffers. */
#define PHC_MAX_LEN 512

chati_argon2_params chati_argon2_defaults(void)
{
    chati_argon2_params p = {CHATI_ARGON2_DEFAULT_T, CHATI_ARGON2_DEFAULT_M_KIB,
                             CHATI_ARGON2_DEFAULT_P};
    return p;
}

bool chati_argon2_params_valid(const chati_argon2_params *p)
{
    return p != NULL && p->t_cost >= 1 && p->t_cost <= CHATI_ARGON2_MAX_T &&
           p->parallelism >= 1 && p->parallelism <= CHATI_ARGON2_MAX_P &&
           p->m_cost_kib >= 8u * p->parallelism && p->m_cost_kib <= CHATI_ARGON2_MAX_M_KIB;
}

/* Reads a run of decimal digits at *s into *v, advancing *s. No sign, no
 * leading zeros (PHC wants one spelling), no overflow. */
static bool take_u32(const char **s, uint32_t *v)
{
    const char *p = *s;
    uint64_t x = 0;

    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        x = x * 10 + (uint64_t)(*p - '0');
        if (x > UINT32_MAX)
            return false;
    }
    *v = (uint32_t)x;
    *s = p;
    return true;
}

static bool take_lit(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) != 0)
        return false;
    *s += n;
    return true;
}

static chat_err config_u32(const chat_config *cfg, const char *key, uint32_t min,
                           uint32_t max, uint32_t *v)
{
    const char *s = cfg != NULL ? chat_config_get(cfg, key) : NULL;
    if (s == NULL)
        return CHAT_OK;

    const char *p = s;
    uint32_t x;
    if (!take_u32(&p, &x) || *p != '\0' || x < min || x > max)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "%s must be an integer in %u..%u, not \"%s\"",
                          key, (unsigned)min, (unsigned)max, s);
    *v = x;
    return CHAT_OK;
}

chat_err chati_argon2_params_from_config(const chat_config *cfg, chati_argon2_params *out)
{
    chati_argon2_params p = chati_argon2_defaults();
    chat_err rv;

    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "params out is NULL");
    if ((rv = config_u32(cfg, "argon2.t_cost", 1, CHATI_ARGON2_MAX_T, &p.t_cost)) != CHAT_OK ||
        (rv = config_u32(cfg, "argon2.m_cost_kib", 8, CHATI_ARGON2_MAX_M_KIB,
                         &p.m_cost_kib)) != CHAT_OK ||
        (rv = config_u32(cfg, "argon2.parallelism", 1, CHATI_ARGON2_MAX_P,
                         &p.parallelism)) != CHAT_OK)
        return rv;
    if (!chati_argon2_params_valid(&p))
        return chati_fail(CHAT_ERR_INVALID_CONFIG,
                          "argon2.m_cost_kib (%u) must be at least 8 * argon2.parallelism (%u)",
                          (unsigned)p.m_cost_kib, (unsigned)p.parallelism);
    *out = p;
    return CHAT_OK;
}

chat_err chati_password_check(const char *password)
{
    if (password == NULL)
        return chati_fail(CHAT_ERR_BAD_PASSWORD, "password is required");
    size_t len = strnlen(password, CHAT_MAX_PASSWORD_BYTES + 1);
    if (len > CHAT_MAX_PASSWORD_BYTES)
        return chati_fail(CHAT_ERR_BAD_PASSWORD, "password is longer than %d bytes",
                          CHAT_MAX_PASSWORD_BYTES);
    size_t chars = 0;
    if (!chati_utf8_valid(password, len, &chars))
        return chati_fail(CHAT_ERR_BAD_PASSWORD, "password is not valid UTF-8");
    if (chars < CHAT_MIN_PASSWORD_CHARS)
        return chati_fail(CHAT_ERR_BAD_PASSWORD, "password is shorter than %d characters",
                          CHAT_MIN_PASSWORD_CHARS);
    return CHAT_OK;
}

static chat_err argon2_fail(int rc, const char *what)
{
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return chati_fail(CHAT_ERR_NOMEM, "argon2 %s: %s", what, argon2_error_message(rc));
    return chati_fail(CHAT_ERR_INTERNAL, "argon2 %s: %s", what, argon2_error_message(rc));
}

chat_err chati_password_hash(const chati_argon2_params *p, const char *password,
                             char **phc_out)
{
    chati_argon2_params params = p != NULL ? *p : chati_argon2_defaults();
    uint8_t salt[CHATI_PASSWORD_SALT_BYTES];
    chat_err rv;

    if (phc_out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "phc_out is NULL");
    *phc_out = NULL;
    if (!chati_argon2_params_valid(&params))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "argon2 params out of bounds");
    if ((rv = chati_password_check(password)) != CHAT_OK)
        return rv;
    if ((rv = chati_random(salt, sizeof salt)) != CHAT_OK)
        return rv;

    size_t enclen = argon2_encodedlen(params.t_cost, params.m_cost_kib, params.parallelism,
                                      sizeof salt, CHATI_PASSWORD_HASH_BYTES, Argon2_id);
    char *enc = chat_malloc(enclen);
    if (enc == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "password hash");
    int rc = argon2id_hash_encoded(params.t_cost, params.m_cost_kib, params.parallelism,
                                   password, strlen(password), salt, sizeof salt,
                                   CHATI_PASSWORD_HASH_BYTES, enc, enclen);
    if (rc != ARGON2_OK) {
        chat_free(enc);
        return argon2_fail(rc, "hash");
    }
    *phc_out = enc;
    return CHAT_OK;
}

/* A run of unpadded standard base64 (PHC's alphabet) of at least min chars. */
static bool take_b64(const char **s, size_t min)
{
    const char *p = *s;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '/')
        p++;
    if ((size_t)(p - *s) < min)
        return false;
    *s = p;
    return true;
}

/* Parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash" and checks the costs before
 * argon2 sees them: a tampered hash must not make us allocate gigabytes. */
static bool phc_parse(const char *phc, chati_argon2_params *out)
{
    const char *s = phc;
    chati_argon2_params p;

    if (strnlen(phc, PHC_MAX_LEN + 1) > PHC_MAX_LEN)
        return false;
    if (!take_lit(&s, "$argon2id$v=19$m=") || !take_u32(&s, &p.m_cost_kib) ||
        !take_lit(&s, ",t=") || !take_u32(&s, &p.t_cost) || !take_lit(&s, ",p=") ||
        !take_u32(&s, &p.parallelism) || !take_lit(&s, "$") ||
        !take_b64(&s, 11) /* 8-byte salt, argon2's minimum */ || !take_lit(&s, "$") ||
        !take_b64(&s, 6) /* 4-byte hash, argon2's minimum */ || *s != '\0')
        return false;
    if (!chati_argon2_params_valid(&p))
        return false;
    *out = p;
    return true;
}

chat_err chati_password_verify(const char *phc, const char *password, bool *ok)
{
    chati_argon2_params p;

    if (ok == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "ok is NULL");
    *ok = false;
    if (phc == NULL || password == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "password or hash is NULL");
    if (!phc_parse(phc, &p))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "stored password hash is malformed");
    /* chati_password_hash never accepts these, so nothing can match; skip the
     * work a megabyte "password" would cost. */
    size_t len = strnlen(password, CHAT_MAX_PASSWORD_BYTES + 1);
    if (len > CHAT_MAX_PASSWORD_BYTES)
        return CHAT_OK;

    int rc = argon2id_verify(phc, password, len);
    if (rc == ARGON2_OK) {
        *ok = true;
        return CHAT_OK;
    }
    if (rc == ARGON2_VERIFY_MISMATCH)
        return CHAT_OK;
    if (rc == ARGON2_DECODING_FAIL || rc == ARGON2_DECODING_LENGTH_FAIL ||
        rc == ARGON2_INCORRECT_TYPE)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "stored password hash is malformed: %s",
                          argon2_error_message(rc));
    return argon2_fail(rc, "verify");
}

void chati_password_dummy_verify(const chati_argon2_params *p, const char *password)
{
    chati_argon2_params params = p != NULL ? *p : chati_argon2_defaults();
    char phc[PHC_MAX_LEN];
    bool ok;

    if (!chati_argon2_params_valid(&params))
        params = chati_argon2_defaults();
    /* A well-formed hash of the same shape as ours ("saltsaltsaltsalt", an
     * all-zero hash), run through the real verify so every step costs the same. */
    snprintf(phc, sizeof phc, "$argon2id$v=19$m=%u,t=%u,p=%u$c2FsdHNhbHRzYWx0c2FsdA$%s",
             (unsigned)params.m_cost_kib, (unsigned)params.t_cost,
             (unsigned)params.parallelism, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    (void)chati_password_verify(phc, password != NULL ? password : "", &ok);
    chati_clear_errmsg();
}
