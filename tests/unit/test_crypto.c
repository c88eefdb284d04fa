/*
 * tests/unit/test_crypto.c - base64url, hashes, cursors, passwords and JWTs.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>

#include "auth/jwt.h"
#include "auth/jwt_cache.h"
#include "auth/password.h"
#include "core/internal.h"

/* ---- base64url ---- */

static char *b64(const void *in, size_t n)
{
    char *out = malloc(chati_b64url_len(n) + 1);
    ck_assert_ptr_nonnull(out);
    chati_b64url_encode(in, n, out);
    return out;
}

static char *b64s(const char *s)
{
    return b64(s, strlen(s));
}

/* Decodes s and checks it gives want. */
static void check_decode(const char *s, const char *want)
{
    char buf[256];
    size_t len = 999;
    ck_assert_msg(chati_b64url_decode(s, strlen(s), buf, &len), "decode \"%s\" failed", s);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_mem_eq(buf, want, len);
}

static bool decodes(const char *s)
{
    char buf[256];
    size_t len;
    return chati_b64url_decode(s, strlen(s), buf, &len);
}

START_TEST(b64url_rfc4648_vectors)
{
    static const char *vec[][2] = {{"", ""},         {"f", "Zg"},         {"fo", "Zm8"},
                                   {"foo", "Zm9v"},  {"foob", "Zm9vYg"},  {"fooba", "Zm9vYmE"},
                                   {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(vec); i++) {
        ck_assert_uint_eq(chati_b64url_len(strlen(vec[i][0])), strlen(vec[i][1]));
        char *enc = b64s(vec[i][0]);
        ck_assert_str_eq(enc, vec[i][1]);
        free(enc);
        check_decode(vec[i][1], vec[i][0]);
    }
}
END_TEST

START_TEST(b64url_url_alphabet)
{
    /* 0xfb 0xff is "+/8=" in standard base64. */
    static const uint8_t in[] = {0xfb, 0xff};
    char *enc = b64(in, sizeof in);
    ck_assert_str_eq(enc, "-_8");
    free(enc);

    uint8_t all[256];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (uint8_t)i;
    for (size_t n = 0; n <= sizeof all; n++) {
        enc = b64(all, n);
        ck_assert_uint_eq(strlen(enc), chati_b64url_len(n));
        ck_assert_ptr_null(strpbrk(enc, "+/="));
        uint8_t back[256];
        size_t len = 999;
        ck_assert(chati_b64url_decode(enc, strlen(enc), back, &len));
        ck_assert_uint_eq(len, n);
        ck_assert_mem_eq(back, all, n);
        free(enc);
    }
}
END_TEST

START_TEST(b64url_rejects)
{
    ck_assert(!decodes("Zg=="));      /* padding */
    ck_assert(!decodes("Zg="));
    ck_assert(!decodes("Z"));         /* length 1 mod 4 */
    ck_assert(!decodes("Zm9vY"));
    ck_assert(!decodes("Zm9vA"));     /* ... even when the stray bits are zero */
    ck_assert(!decodes("A"));
    ck_assert(!decodes("Zh"));        /* non-zero trailing bits */
    ck_assert(!decodes("Zm9"));
    ck_assert(!decodes("Zm9v+w"));    /* standard alphabet */
    ck_assert(!decodes("Zm9v/w"));
    ck_assert(!decodes("Zm 9v"));
    ck_assert(!decodes("Zm9v\n"));
    ck_assert(!decodes("Zm.v"));
    ck_assert(!decodes("Zm\x80v"));
    ck_assert(decodes(""));
    /* An embedded NUL within n is a bad character, not the end. */
    char buf[8];
    size_t len;
    ck_assert(!chati_b64url_decode("Zm\0v", 4, buf, &len));
}
END_TEST

START_TEST(hex_and_sha256)
{
    static const uint8_t in[] = {0x00, 0xff, 0x10, 0xab};
    char hex[9];
    chati_hex_encode(in, sizeof in, hex);
    ck_assert_str_eq(hex, "00ff10ab");
    chati_hex_encode(in, 0, hex);
    ck_assert_str_eq(hex, "");

    char h[65];
    chati_sha256_hex("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    chati_sha256_hex("", 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* FIPS 180-2 two-block message. */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    chati_sha256_hex(m, strlen(m), h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* ---- cursors ---- */

static void cursor_round_trip(const char *key)
{
    char *c = NULL, *k = NULL;
    ck_assert_chat_ok(chati_cursor_encode(key, &c));
    ck_assert_ptr_null(strpbrk(c, "+/=:"));
    ck_assert_chat_ok(chati_cursor_decode(c, &k));
    ck_assert_str_eq(k, key);
    chat_free(c);
    chat_free(k);
}

START_TEST(percent_decoding)
{
    const struct {
        const char *in;
        const char *out; /* NULL: malformed */
    } cases[] = {
        {"", ""},           {"plain", "plain"}, {"a%20b", "a b"},  {"%41%6a%4A", "AjJ"},
        {"%2F%3a", "/:"},   {"50%", NULL},      {"%4", NULL},      {"%zz", NULL},
        {"%g1", NULL},      {"a+b", "a+b"},     {"%25%32", "%2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = chati_pct_decode(cases[i].in, strlen(cases[i].in));
        if (cases[i].out == NULL)
            ck_assert_msg(got == NULL, "\"%s\" decoded to \"%s\"", cases[i].in, got);
        else
            ck_assert_msg(got != NULL && strcmp(got, cases[i].out) == 0, "\"%s\" -> \"%s\"",
                          cases[i].in, got ? got : "(null)");
        chat_free(got);
    }
    /* Only n bytes are read: a '%' at the end of the slice has no digits. */
    char *got = chati_pct_decode("ab%41", 3);
    ck_assert_ptr_null(got);
    /* FNV-1a 64 reference values. */
    ck_assert(chati_hash_str("") == UINT64_C(0xcbf29ce484222325));
    ck_assert(chati_hash_str("a") == UINT64_C(0xaf63dc4c8601ec8c));
    ck_assert(chati_hash_str("foobar") == UINT64_C(0x85944171f73967e8));
    ck_assert_int_eq(chati_hex_digit('f'), 15);
    ck_assert_int_eq(chati_hex_digit('G'), -1);
}
END_TEST

START_TEST(cursor_round_trips)
{
    cursor_round_trip("1732600000.000100");
    cursor_round_trip("");
    cursor_round_trip("C0123456789|U0123456789");
    cursor_round_trip("c1:nested");
    cursor_round_trip("caf\xc3\xa9 \xf0\x9f\x98\x80");
}
END_TEST

static void cursor_rejected(const char *cursor)
{
    char *k = (char *)"sentinel";
    ck_assert_chat_err(chati_cursor_decode(cursor, &k), CHAT_ERR_INVALID_CURSOR);
    ck_assert_ptr_null(k);
}

START_TEST(cursor_rejects)
{
    cursor_rejected(NULL);
    cursor_rejected("");
    cursor_rejected("!!!!");
    cursor_rejected("c1:abc");              /* not encoded */
    cursor_rejected("1732600000.000100");

    char *s = b64s("c2:abc");               /* other version */
    cursor_rejected(s);
    free(s);
    s = b64s("abc");                        /* no tag */
    cursor_rejected(s);
    free(s);
    s = b64s("c1");                         /* shorter than the tag */
    cursor_rejected(s);
    free(s);
    s = b64("c1:a\0b", 6);                  /* NUL inside the key */
    cursor_rejected(s);
    free(s);

    char *c;
    ck_assert_chat_ok(chati_cursor_encode("abcd", &c));
    size_t n = strlen(c);
    c[n - 1] = c[n - 1] == 'A' ? 'B' : 'A'; /* trailing bits or content change */
    char *k = NULL;
    chat_err rv = chati_cursor_decode(c, &k);
    if (rv == CHAT_OK) {
        ck_assert_str_ne(k, "abcd");
        chat_free(k);
    } else {
        ck_assert_int_eq(rv, CHAT_ERR_INVALID_CURSOR);
    }
    c[n - 1] = '=';
    cursor_rejected(c);
    chat_free(c);

    char big[6000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cursor_rejected(big);
    ck_assert_chat_err(chati_cursor_encode(big, &c), CHAT_ERR_INVALID_ARGUMENTS);
}
END_TEST

/* ---- passwords ---- */

static const chati_argon2_params fast = {1, 64, 1};

/* "$argon2id$v=19$m=M,t=T,p=P$" then 22 salt and 43 hash characters. */
static void check_phc(const char *phc, const char *params)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "$argon2id$v=19$%s$", params);
    ck_assert_msg(strncmp(phc, prefix, strlen(prefix)) == 0, "%s", phc);
    const char *salt = phc + strlen(prefix);
    const char *d = strchr(salt, '$');
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d - salt, 22);
    ck_assert_uint_eq(strlen(d + 1), 43);
    ck_assert_uint_eq(strspn(salt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/$"),
                      strlen(salt));
}

START_TEST(password_hash_verify)
{
    char *phc = NULL, *phc2 = NULL;
    bool ok = false;

    ck_assert_chat_ok(chati_password_hash(&fast, "correct horse", &phc));
    check_phc(phc, "m=64,t=1,p=1");
    ck_assert_chat_ok(chati_password_verify(phc, "correct horse", &ok));
    ck_assert(ok);
    ck_assert_chat_ok(chati_password_verify(phc, "correct horsf", &ok));
    ck_assert(!ok);
    ck_assert_chat_ok(chati_password_verify(phc, "", &ok));
    ck_assert(!ok);
    ck_assert_chat_ok(chati_password_verify(phc, "correct horse ", &ok));
    ck_assert(!ok);

    /* A fresh salt every time. */
    ck_assert_chat_ok(chati_password_hash(&fast, "correct horse", &phc2));
    ck_assert_str_ne(phc, phc2);

    /* A changed hash byte no longer matches. */
    size_t n = strlen(phc2);
    phc2[n - 5] = phc2[n - 5] == 'A' ? 'B' : 'A';
    ck_assert_chat_ok(chati_password_verify(phc2, "correct horse", &ok));
    ck_assert(!ok);

    chat_free(phc);
    chat_free(phc2);
}
END_TEST

START_TEST(password_params_from_string)
{
    static const chati_argon2_params other = {1, 8192, 1};
    static const chati_argon2_params lanes = {2, 64, 2};
    char *phc;
    bool ok = false;

    ck_assert_chat_ok(chati_password_hash(&other, "p\xc3\xa4ssw\xc3\xb6rd", &phc));
    check_phc(phc, "m=8192,t=1,p=1");
    ck_assert_chat_ok(chati_password_verify(phc, "p\xc3\xa4ssw\xc3\xb6rd", &ok));
    ck_assert(ok);
    ck_assert_chat_ok(chati_password_verify(phc, "passw\xc3\xb6rd", &ok));
    ck_assert(!ok);
    chat_free(phc);

    ck_assert_chat_ok(chati_password_hash(&lanes, "two lanes here", &phc));
    check_phc(phc, "m=64,t=2,p=2");
    ck_assert_chat_ok(chati_password_verify(phc, "two lanes here", &ok));
    ck_assert(ok);
    chat_free(phc);
}
END_TEST

START_TEST(password_defaults)
{
    chati_argon2_params d = chati_argon2_defaults();
    ck_assert_uint_eq(d.t_cost, 2);
    ck_assert_uint_eq(d.m_cost_kib, 19456);
    ck_assert_uint_eq(d.parallelism, 1);

    char *phc;
    bool ok = false;
    ck_assert_chat_ok(chati_password_hash(NULL, "hunter2hunter2", &phc));
    check_phc(phc, "m=19456,t=2,p=1");
    ck_assert_chat_ok(chati_password_verify(phc, "hunter2hunter2", &ok));
    ck_assert(ok);
    chat_free(phc);
}
END_TEST

START_TEST(password_rules)
{
    char *phc = (char *)"sentinel";
    char big[CHAT_MAX_PASSWORD_BYTES + 2];

    ck_assert_chat_err(chati_password_hash(&fast, NULL, &phc), CHAT_ERR_BAD_PASSWORD);
    ck_assert_ptr_null(phc);
    ck_assert_chat_err(chati_password_hash(&fast, "", &phc), CHAT_ERR_BAD_PASSWORD);
    ck_assert_chat_err(chati_password_hash(&fast, "1234567", &phc), CHAT_ERR_BAD_PASSWORD);
    /* 8 bytes but 4 characters. */
    ck_assert_chat_err(chati_password_hash(&fast, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", &phc),
                       CHAT_ERR_BAD_PASSWORD);
    ck_assert_chat_err(chati_password_hash(&fast, "abcdefg\xff", &phc), CHAT_ERR_BAD_PASSWORD);
    ck_assert_chat_err(chati_password_hash(&fast, "abcd\xc0\xafxyz", &phc), CHAT_ERR_BAD_PASSWORD);
    ck_assert_chat_err(chati_password_hash(&fast, "abcd\xed\xa0\x80xyz", &phc),
                       CHAT_ERR_BAD_PASSWORD);

    memset(big, 'x', sizeof big);
    big[CHAT_MAX_PASSWORD_BYTES + 1] = '\0';
    ck_assert_chat_err(chati_password_hash(&fast, big, &phc), CHAT_ERR_BAD_PASSWORD);

    /* The limits themselves are fine. */
    big[CHAT_MAX_PASSWORD_BYTES] = '\0';
    ck_assert_chat_ok(chati_password_hash(&fast, big, &phc));
    bool ok = false;
    ck_assert_chat_ok(chati_password_verify(phc, big, &ok));
    ck_assert(ok);
    chat_free(phc);
    ck_assert_chat_ok(chati_password_hash(&fast, "12345678", &phc));
    chat_free(phc);
    ck_assert_chat_ok(chati_password_hash(
        &fast, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", &phc));
    chat_free(phc);

    /* A too-long candidate is a plain mismatch. */
    ck_assert_chat_ok(chati_password_hash(&fast, "12345678", &phc));
    big[CHAT_MAX_PASSWORD_BYTES] = 'x';
    ck_assert_chat_ok(chati_password_verify(phc, big, &ok));
    ck_assert(!ok);
    chat_free(phc);

    /* Params out of bounds. */
    static const chati_argon2_params bad[] = {
        {0, 64, 1}, {1, 4, 1}, {1, 8, 2}, {1, 64, 0}, {65, 64, 1}, {1, 2u << 20, 1}};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(bad); i++)
        ck_assert_chat_err(chati_password_hash(&bad[i], "12345678", &phc),
                           CHAT_ERR_INVALID_ARGUMENTS);
}
END_TEST

START_TEST(password_malformed_phc)
{
    static const char *bad[] = {
        "",
        "plaintext",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=4294967295,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=1,p=99$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
        "$argon2id$v=19$m=64,t=1,p=1$c2Fs$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        /* Non-zero trailing bits in the salt: argon2's own decoder refuses it. */
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdB$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    bool ok = true;
    for (size_t i = 0; i < CHATI_ARRAY_LEN(bad); i++) {
        ck_assert_msg(chati_password_verify(bad[i], "12345678", &ok) == CHAT_ERR_INVALID_ARGUMENTS,
                      "accepted %s", bad[i]);
        ck_assert(!ok);
    }
    ck_assert_chat_err(chati_password_verify(NULL, "12345678", &ok), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_password_verify(bad[2], NULL, &ok), CHAT_ERR_INVALID_ARGUMENTS);
}
END_TEST

START_TEST(password_params_config)
{
    chat_config *cfg;
    chati_argon2_params p = {0, 0, 0};

    ck_assert_chat_ok(chati_argon2_params_from_config(NULL, &p));
    ck_assert_uint_eq(p.t_cost, 2);
    ck_assert_uint_eq(p.m_cost_kib, 19456);
    ck_assert_uint_eq(p.parallelism, 1);

    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chati_argon2_params_from_config(cfg, &p));
    ck_assert_uint_eq(p.m_cost_kib, 19456);
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.t_cost", "3", NULL, 0));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.m_cost_kib", "65536", NULL, 0));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.parallelism", "4", NULL, 0));
    ck_assert_chat_ok(chati_argon2_params_from_config(cfg, &p));
    ck_assert_uint_eq(p.t_cost, 3);
    ck_assert_uint_eq(p.m_cost_kib, 65536);
    ck_assert_uint_eq(p.parallelism, 4);

    static const char *bad[][2] = {
        {"argon2.t_cost", "0"},          {"argon2.t_cost", "-1"},
        {"argon2.t_cost", "two"},        {"argon2.t_cost", "2x"},
        {"argon2.t_cost", "2.5"},        {"argon2.t_cost", "1000"},
        {"argon2.m_cost_kib", "4"},      {"argon2.m_cost_kib", "99999999999"},
        {"argon2.m_cost_kib", "16"},     /* < 8 * parallelism (4) */
        {"argon2.parallelism", "0"},     {"argon2.parallelism", "65"},
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(bad); i++) {
        chat_config *c2;
        ck_assert_chat_ok(chat_config_dup(cfg, &c2));
        /* Refusing the value already at set time is fine too. */
        chat_err rv = chat_config_set(c2, bad[i][0], bad[i][1], NULL, 0);
        if (rv == CHAT_ERR_INVALID_CONFIG) {
            chat_config_free(c2);
            continue;
        }
        ck_assert_chat_ok(rv);
        chati_argon2_params q = {7, 7, 7};
        ck_assert_msg(chati_argon2_params_from_config(c2, &q) == CHAT_ERR_INVALID_CONFIG,
                      "accepted %s=%s", bad[i][0], bad[i][1]);
        ck_assert_uint_eq(q.t_cost, 7);
        chat_config_free(c2);
    }
    chat_config_free(cfg);
}
END_TEST

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(password_dummy_verify_costs_a_verify)
{
    static const chati_argon2_params p = {2, 4096, 1};
    char *phc;
    double real[5], dummy[5];
    struct timespec t0, t1;
    bool ok;

    ck_assert_chat_ok(chati_password_hash(&p, "the real password", &phc));
    for (int i = 0; i < 5; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_chat_ok(chati_password_verify(phc, "a wrong password", &ok));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ck_assert(!ok);
        real[i] = elapsed_ms(&t0, &t1);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        chati_password_dummy_verify(&p, "a wrong password");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        dummy[i] = elapsed_ms(&t0, &t1);
    }
    chat_free(phc);
    qsort(real, 5, sizeof real[0], cmp_double);
    qsort(dummy, 5, sizeof dummy[0], cmp_double);
    /* Same work, so the medians should be close; the bound is loose for busy CI. */
    ck_assert_msg(dummy[2] > real[2] * 0.4 && dummy[2] < real[2] * 2.5,
                  "dummy %.2f ms vs verify %.2f ms", dummy[2], real[2]);

    /* Never crashes on odd input. */
    chati_password_dummy_verify(NULL, NULL);
    static const chati_argon2_params bad = {0, 0, 0};
    chati_password_dummy_verify(&bad, "x");
}
END_TEST

/* ---- JWT ---- */

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t key2[32] = "0123456789abcdef0123456789abcdeF";
#define NOW 1732600000

static chati_jwt_claims sample_claims(void)
{
    chati_jwt_claims c;
    memset(&c, 0, sizeof c);
    strcpy(c.iss, "libchat");
    strcpy(c.sub, "U0123456789");
    strcpy(c.team, "T0123456789");
    c.iat = NOW - 10;
    c.exp = NOW + 3600;
    c.gen = 7;
    return c;
}

static char *sign_sample(void)
{
    chati_jwt_claims c = sample_claims();
    char *tok = NULL;
    ck_assert_chat_ok(chati_jwt_sign(key, sizeof key, &c, &tok));
    return tok;
}

/* A token from raw header and payload JSON, signed with k (or with sig when
 * given), for shapes chati_jwt_sign never makes. */
static char *make_token(const char *header, const char *payload, const uint8_t *k,
                        const char *sig)
{
    char *h = b64s(header), *p = b64s(payload);
    size_t n = strlen(h) + strlen(p) + 64;
    char *tok = malloc(n);
    ck_assert_ptr_nonnull(tok);
    snprintf(tok, n, "%s.%s.", h, p);
    if (sig != NULL) {
        strcat(tok, sig);
    } else {
        uint8_t mac[32];
        ck_assert_int_eq(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), k, 32,
                                         (const unsigned char *)tok, strlen(tok) - 1, mac),
                         0);
        char *s = b64(mac, sizeof mac);
        strcat(tok, s);
        free(s);
    }
    free(h);
    free(p);
    return tok;
}

static chat_err verify(const char *tok)
{
    chati_jwt_claims out;
    return chati_jwt_verify(key, sizeof key, tok, "libchat", NOW, &out);
}

static const char *good_payload =
    "{\"iss\":\"libchat\",\"sub\":\"U0123456789\",\"team\":\"T0123456789\","
    "\"iat\":1732599990,\"exp\":1732603600,\"gen\":7,\"jti\":\"abc\"}";

START_TEST(jwt_round_trip)
{
    char *tok = sign_sample();
    chati_jwt_claims out;

    ck_assert_uint_eq(strlen(tok) - strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                                "qrstuvwxyz0123456789-_."),
                      0);
    ck_assert(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);

    ck_assert_chat_ok(chati_jwt_verify(key, sizeof key, tok, "libchat", NOW, &out));
    ck_assert_str_eq(out.iss, "libchat");
    ck_assert_str_eq(out.sub, "U0123456789");
    ck_assert_str_eq(out.team, "T0123456789");
    ck_assert_int_eq(out.iat, NOW - 10);
    ck_assert_int_eq(out.exp, NOW + 3600);
    ck_assert_int_eq(out.gen, 7);
    ck_assert_uint_eq(strlen(out.jti), 22);

    /* Each token gets its own jti; a given one is kept. */
    char *tok2 = sign_sample();
    chati_jwt_claims out2;
    ck_assert_chat_ok(chati_jwt_verify(key, sizeof key, tok2, "libchat", NOW, &out2));
    ck_assert_str_ne(out.jti, out2.jti);
    chat_free(tok2);

    chati_jwt_claims c = sample_claims();
    strcpy(c.jti, "my-jti");
    c.gen = INT64_MAX;
    c.exp = INT64_MAX;
    ck_assert_chat_ok(chati_jwt_sign(key, sizeof key, &c, &tok2));
    ck_assert_chat_ok(chati_jwt_verify(key, sizeof key, tok2, "libchat", NOW, &out2));
    ck_assert_str_eq(out2.jti, "my-jti");
    ck_assert_int_eq(out2.gen, INT64_MAX);
    chat_free(tok2);

    /* Another HS256 producer's spelling of the header and claims order. */
    char *t3 = make_token("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", good_payload, key, NULL);
    ck_assert_chat_ok(verify(t3));
    free(t3);
    t3 = make_token("{\"alg\":\"HS256\"}", good_payload, key, NULL);
    ck_assert_chat_ok(verify(t3));
    free(t3);
    chat_free(tok);
}
END_TEST

START_TEST(jwt_tampered)
{
    char *tok = sign_sample();
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    chati_jwt_claims out;

    /* Wrong key. */
    ck_assert_chat_err(chati_jwt_verify(key2, sizeof key2, tok, "libchat", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);
    ck_assert_str_eq(out.sub, "");

    /* Payload swapped for one with a higher gen, old signature kept. */
    const char *forged_payload =
        "{\"iss\":\"libchat\",\"sub\":\"U0123456789\",\"team\":\"T0123456789\","
        "\"iat\":1732599990,\"exp\":1732603600,\"gen\":8,\"jti\":\"abc\"}";
    char *fp = b64s(forged_payload);
    size_t n = (size_t)(dot1 - tok) + 1 + strlen(fp) + strlen(dot2) + 1;
    char *forged = malloc(n);
    snprintf(forged, n, "%.*s.%s%s", (int)(dot1 - tok), tok, fp, dot2);
    ck_assert_chat_err(verify(forged), CHAT_ERR_INVALID_AUTH);
    free(forged);
    free(fp);

    /* One payload character changed. */
    char *t = strdup(tok);
    size_t i = (size_t)(dot1 - tok) + 5;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    free(t);

    /* One signature character changed (mid-signature: every bit counts). */
    t = strdup(tok);
    i = (size_t)(dot2 - tok) + 10;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    free(t);

    /* Signature truncated, extended, removed. */
    t = strdup(tok);
    t[strlen(t) - 1] = '\0';
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    free(t);
    n = strlen(tok) + 3;
    t = malloc(n);
    snprintf(t, n, "%sAA", tok);
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    free(t);
    t = strdup(tok);
    t[dot2 - tok + 1] = '\0';
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    free(t);

    ck_assert_chat_ok(verify(tok));
    chat_free(tok);
}
END_TEST

START_TEST(jwt_alg_none_and_others)
{
    static const char *headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"None\"}", "{\"alg\":\"HS512\"}",
        "{\"alg\":\"HS384\"}", "{\"alg\":\"RS256\"}", "{\"alg\":\"hs256\"}",
        "{\"typ\":\"JWT\"}", "{\"alg\":null}", "{\"alg\":256}", "{\"alg\":\"HS256 \"}",
        "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"alg\":\"none\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", "{\"alg\":\"HS256\",\"typ\":1}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "[\"HS256\"]", "\"HS256\"", "{}",
        "{\"alg\":\"HS256\"", "",
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(headers); i++) {
        /* Correctly signed with our key, unsigned, and with an empty signature. */
        char *t = make_token(headers[i], good_payload, key, NULL);
        ck_assert_msg(verify(t) == CHAT_ERR_INVALID_AUTH, "accepted header %s", headers[i]);
        free(t);
        t = make_token(headers[i], good_payload, key, "");
        ck_assert_msg(verify(t) == CHAT_ERR_INVALID_AUTH, "accepted unsigned %s", headers[i]);
        free(t);
    }
}
END_TEST

START_TEST(jwt_issuer_and_expiry)
{
    char *tok = sign_sample();
    chati_jwt_claims out;

    ck_assert_chat_err(chati_jwt_verify(key, sizeof key, tok, "other", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);
    ck_assert_chat_err(chati_jwt_verify(key, sizeof key, tok, "libcha", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);
    ck_assert_chat_err(chati_jwt_verify(key, sizeof key, tok, "", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);

    ck_assert_chat_ok(chati_jwt_verify(key, sizeof key, tok, "libchat", NOW + 3599, &out));
    ck_assert_chat_err(chati_jwt_verify(key, sizeof key, tok, "libchat", NOW + 3600, &out),
                       CHAT_ERR_TOKEN_EXPIRED);
    ck_assert_str_eq(out.sub, "U0123456789");   /* filled for logging */
    ck_assert_chat_err(chati_jwt_verify(key, sizeof key, tok, "libchat", INT64_MAX, &out),
                       CHAT_ERR_TOKEN_EXPIRED);
    chat_free(tok);

    chati_jwt_claims c = sample_claims();
    c.exp = 0;
    ck_assert_chat_ok(chati_jwt_sign(key, sizeof key, &c, &tok));
    ck_assert_chat_err(verify(tok), CHAT_ERR_TOKEN_EXPIRED);
    chat_free(tok);
}
END_TEST

START_TEST(jwt_bad_claims)
{
    static const char *payloads[] = {
        "{}",
        "[]",
        "null",
        "not json",
        /* each claim missing or of the wrong type */
        "{\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"iat\":1,\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"gen\":1}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":\"1832600000\",\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000.0,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"gen\":\"1\",\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":1,\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
        /* too long for the fixed fields, embedded NUL, duplicate claim */
        "{\"iss\":\"libchat\",\"sub\":\"U12345678901234567890123\",\"team\":\"T1\",\"iat\":1,"
        "\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,\"gen\":1,"
        "\"jti\":\"0123456789012345678901234567890123\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\\u0000x\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,"
        "\"gen\":1,\"jti\":\"a\"}",
        "{\"iss\":\"libchat\",\"sub\":\"U1\",\"sub\":\"U2\",\"team\":\"T1\",\"iat\":1,"
        "\"exp\":1832600000,\"gen\":1,\"jti\":\"a\"}",
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(payloads); i++) {
        char *t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloads[i], key, NULL);
        ck_assert_msg(verify(t) == CHAT_ERR_INVALID_AUTH, "accepted payload %s", payloads[i]);
        free(t);
    }
    /* The same shape with everything right does verify. */
    char *t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                         "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,"
                         "\"exp\":1832600000,\"gen\":1,\"jti\":\"a\",\"extra\":true}",
                         key, NULL);
    ck_assert_chat_ok(verify(t));
    free(t);
}
END_TEST

START_TEST(jwt_garbage)
{
    static const char *junk[] = {
        "", ".", "..", "...", "a.b.c", "a.b", "abc", "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.e30.", " eyJhbGciOiJIUzI1NiJ9.e30.x", "\xff\xfe.\x01.\x02",
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(junk); i++)
        ck_assert_msg(verify(junk[i]) == CHAT_ERR_INVALID_AUTH, "accepted %s", junk[i]);
    ck_assert_chat_err(verify(NULL), CHAT_ERR_INVALID_AUTH);

    /* Extra segments, whitespace, padding. */
    char *tok = sign_sample();
    size_t n = strlen(tok) + 8;
    char *t = malloc(n);
    snprintf(t, n, "%s.AAAA", tok);
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    snprintf(t, n, "%s ", tok);
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    snprintf(t, n, "%s=", tok);
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    snprintf(t, n, ".%s", tok);
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    free(t);

    /* Over the length cap, even when well-formed and signed. */
    char payload[4200];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"libchat\",\"sub\":\"U1\",\"team\":\"T1\",\"iat\":1,\"exp\":1832600000,"
             "\"gen\":1,\"jti\":\"a\",\"pad\":\"%03000d\"}", 0);
    t = make_token("{\"alg\":\"HS256\"}", payload, key, NULL);
    ck_assert_uint_gt(strlen(t), CHATI_JWT_MAX_LEN);
    ck_assert_chat_err(verify(t), CHAT_ERR_INVALID_AUTH);
    free(t);

    /* Programming errors. */
    chati_jwt_claims out;
    ck_assert_chat_err(chati_jwt_verify(key, 16, tok, "libchat", NOW, &out),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_jwt_verify(NULL, 32, tok, "libchat", NOW, &out),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_jwt_verify(key, 32, tok, NULL, NOW, &out),
                       CHAT_ERR_INVALID_ARGUMENTS);
    chat_free(tok);
}
END_TEST

/* The cache of verified tokens answers as chati_jwt_verify does: claims of
 * the token asked for, expiry checked at each use, tampered tokens refused
 * while the real one is cached, and slots reused by other tokens. */
START_TEST(jwt_cache_answers_as_verify_does)
{
    chati_jwt_cache *c = NULL;
    ck_assert_chat_ok(chati_jwt_cache_new(&c));
    char *tok = sign_sample();
    chati_jwt_claims out;
    for (int i = 0; i < 2; i++) {
        memset(&out, 0, sizeof out);
        ck_assert_chat_ok(chati_jwt_verify_cached(c, key, sizeof key, tok, "libchat", NOW, &out));
        ck_assert_str_eq(out.sub, "U0123456789");
        ck_assert_int_eq(out.gen, 7);
    }
    /* A hit skips the signature check: that is the point, and why one cache
     * serves one key. */
    ck_assert_chat_ok(chati_jwt_verify_cached(c, key2, sizeof key2, tok, "libchat", NOW, &out));
    /* Expiry is checked at every use, and the claims come with the error. */
    memset(&out, 0, sizeof out);
    ck_assert_chat_err(
        chati_jwt_verify_cached(c, key, sizeof key, tok, "libchat", NOW + 3600, &out),
        CHAT_ERR_TOKEN_EXPIRED);
    ck_assert_str_eq(out.sub, "U0123456789");

    /* The same token with one character of its signature changed is another
     * string: verified, and refused. */
    char *bad = strdup(tok);
    char *last = bad + strlen(bad) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    ck_assert_chat_err(chati_jwt_verify_cached(c, key, sizeof key, bad, "libchat", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);
    ck_assert_chat_err(chati_jwt_verify_cached(c, key, sizeof key, bad, "libchat", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);
    free(bad);

    /* More tokens than slots: each still gets its own claims. */
    enum { N = 5000 };
    char **toks = calloc(N, sizeof *toks);
    ck_assert_ptr_nonnull(toks);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            if (round == 0) {
                chati_jwt_claims cl = sample_claims();
                cl.gen = i;
                ck_assert_chat_ok(chati_jwt_sign(key, sizeof key, &cl, &toks[i]));
            }
            ck_assert_chat_ok(
                chati_jwt_verify_cached(c, key, sizeof key, toks[i], "libchat", NOW, &out));
            ck_assert_int_eq(out.gen, i);
        }
    }
    for (int i = 0; i < N; i++)
        chat_free(toks[i]);
    free(toks);
    /* Without a cache it is chati_jwt_verify. */
    ck_assert_chat_ok(chati_jwt_verify_cached(NULL, key, sizeof key, tok, "libchat", NOW, &out));
    ck_assert_chat_err(chati_jwt_verify_cached(NULL, key2, sizeof key2, tok, "libchat", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);
    chat_free(tok);
    chati_jwt_cache_free(c);
}
END_TEST

START_TEST(jwt_sign_rejects)
{
    chati_jwt_claims c = sample_claims();
    char *tok = (char *)"sentinel";

    ck_assert_chat_err(chati_jwt_sign(key, 31, &c, &tok), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(tok);
    ck_assert_chat_err(chati_jwt_sign(NULL, 32, &c, &tok), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_jwt_sign(key, 32, NULL, &tok), CHAT_ERR_INVALID_ARGUMENTS);

    c.sub[0] = '\0';
    ck_assert_chat_err(chati_jwt_sign(key, 32, &c, &tok), CHAT_ERR_INVALID_ARGUMENTS);
    c = sample_claims();
    memset(c.team, 'T', sizeof c.team);       /* not terminated */
    ck_assert_chat_err(chati_jwt_sign(key, 32, &c, &tok), CHAT_ERR_INVALID_ARGUMENTS);
    c = sample_claims();
    strcpy(c.iss, "bad\xff");
    ck_assert_chat_err(chati_jwt_sign(key, 32, &c, &tok), CHAT_ERR_INVALID_ARGUMENTS);

    /* A longer key is fine. */
    uint8_t long_key[64];
    memset(long_key, 0x5a, sizeof long_key);
    c = sample_claims();
    ck_assert_chat_ok(chati_jwt_sign(long_key, sizeof long_key, &c, &tok));
    chati_jwt_claims out;
    ck_assert_chat_ok(chati_jwt_verify(long_key, sizeof long_key, tok, "libchat", NOW, &out));
    ck_assert_chat_err(chati_jwt_verify(long_key, 32, tok, "libchat", NOW, &out),
                       CHAT_ERR_INVALID_AUTH);
    chat_free(tok);
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("encode");
    tcase_add_test(tc, b64url_rfc4648_vectors);
    tcase_add_test(tc, percent_decoding);
    tcase_add_test(tc, b64url_url_alphabet);
    tcase_add_test(tc, b64url_rejects);
    tcase_add_test(tc, hex_and_sha256);
    tcase_add_test(tc, cursor_round_trips);
    tcase_add_test(tc, cursor_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("password");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, password_hash_verify);
    tcase_add_test(tc, password_params_from_string);
    tcase_add_test(tc, password_defaults);
    tcase_add_test(tc, password_rules);
    tcase_add_test(tc, password_malformed_phc);
    tcase_add_test(tc, password_params_config);
    tcase_add_test(tc, password_dummy_verify_costs_a_verify);
    suite_add_tcase(s, tc);

    tc = tcase_create("jwt");
    tcase_add_test(tc, jwt_round_trip);
    tcase_add_test(tc, jwt_tampered);
    tcase_add_test(tc, jwt_alg_none_and_others);
    tcase_add_test(tc, jwt_issuer_and_expiry);
    tcase_add_test(tc, jwt_bad_claims);
    tcase_add_test(tc, jwt_garbage);
    tcase_add_test(tc, jwt_sign_rejects);
    tcase_add_test(tc, jwt_cache_answers_as_verify_does);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return chat_test_run(crypto_suite());
}
