/*
 * tests/unit/test_pbjson.c - the gateway's Slack argument and JSON conversion
 * (libchat/gateway/pbjson.c): form and JSON bodies, args -> protobuf for every
 * field type, protobuf -> JSON output rules and escaping, round trips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "pbjson_test.pb-c.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers --- */

static gw_args
form(const char *body)
{
    gw_args a = GW_ARGS_INIT;
    ck_assert_chat_ok(gw_args_parse_form(body, strlen(body), &a));
    return a;
}

static gw_args
jargs(const char *body)
{
    gw_args a = GW_ARGS_INIT;
    ck_assert_chat_ok(gw_args_parse_json(body, strlen(body), &a));
    return a;
}

static ProtobufCMessage *
to_pb(const gw_args *a, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = NULL;
    char field[64] = "x";
    chat_err rv = gw_args_to_pb(a, d, &m, field, sizeof field);
    ck_assert_msg(rv == CHAT_OK, "to_pb -> %s field `%s` (%s)", chat_err_name(rv), field,
                  chati_errmsg());
    ck_assert_str_eq(field, "");
    ck_assert_ptr_nonnull(m);
    ck_assert(protobuf_c_message_check(m));
    /* What we built must also pack and unpack (complete and consistent). */
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    ck_assert_uint_eq(protobuf_c_message_pack(m, buf), n);
    ProtobufCMessage *u = protobuf_c_message_unpack(d, NULL, n, buf);
    ck_assert_ptr_nonnull(u);
    protobuf_c_message_free_unpacked(u, NULL);
    free(buf);
    return m;
}

static Pbjt__All *
all_of(const gw_args *a)
{
    return (Pbjt__All *)to_pb(a, &pbjt__all__descriptor);
}

static Pbjt__All *
all_form(const char *body)
{
    gw_args a = form(body);
    Pbjt__All *m = all_of(&a);
    gw_args_free(&a);
    return m;
}

static Pbjt__All *
all_json(const char *body)
{
    gw_args a = jargs(body);
    Pbjt__All *m = all_of(&a);
    gw_args_free(&a);
    return m;
}

static void
free_all(Pbjt__All *m)
{
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void
expect_err_args(const gw_args *a, chat_err want, const char *field)
{
    ProtobufCMessage *m = (ProtobufCMessage *)1;
    char got[128] = "unchanged";
    chat_err rv = gw_args_to_pb(a, &pbjt__all__descriptor, &m, got, sizeof got);
    ck_assert_msg(rv == want, "wanted %s for `%s`, got %s (%s)", chat_err_name(want), field,
                  chat_err_name(rv), chati_errmsg());
    ck_assert_ptr_null(m);
    ck_assert_str_eq(got, field);
    ck_assert_msg(strstr(chati_errmsg(), field) != NULL, "detail `%s` names `%s`",
                  chati_errmsg(), field);
}

static void
expect_form_err(const char *body, chat_err want, const char *field)
{
    gw_args a = form(body);
    expect_err_args(&a, want, field);
    gw_args_free(&a);
}

static void
expect_json_err(const char *body, chat_err want, const char *field)
{
    gw_args a = jargs(body);
    expect_err_args(&a, want, field);
    gw_args_free(&a);
}

/* The message as a whole JSON object, checked to parse; free with free(). */
static char *
json_of(const void *m)
{
    chati_buf b = {0};
    ck_assert_chat_ok(gw_pb_to_json_object((const ProtobufCMessage *)m, &b));
    char *s = chati_buf_steal(&b);
    json_error_t err;
    /* (as reals: jansson's integers stop at INT64_MAX, uint64 does not) */
    json_t *j = json_loads(s, JSON_DECODE_INT_AS_REAL, &err);
    ck_assert_msg(j != NULL, "output is not JSON: %s (%s)", s, err.text);
    json_decref(j);
    return s;
}

static json_t *
parsed(const void *m)
{
    char *s = json_of(m);
    json_t *j = json_loads(s, 0, NULL);
    chat_free(s);
    return j;
}

/* ---------------------------------------------------------- form/JSON --- */

START_TEST(form_basic)
{
    gw_args a = form("channel=C123&text=hello+world%21&check=%E2%9C%93&empty=&bare&x=1=2");
    ck_assert_uint_eq(a.n, 6);
    ck_assert_str_eq(gw_args_get(&a, "channel"), "C123");
    ck_assert_str_eq(gw_args_get(&a, "text"), "hello world!");
    ck_assert_str_eq(gw_args_get(&a, "check"), "\xe2\x9c\x93");
    ck_assert_str_eq(gw_args_get(&a, "empty"), "");
    ck_assert_str_eq(gw_args_get(&a, "bare"), "");
    ck_assert_str_eq(gw_args_get(&a, "x"), "1=2");
    ck_assert_ptr_null(gw_args_get(&a, "missing"));
    ck_assert_ptr_null(gw_args_find(&a, "text")->json);
    ck_assert_uint_eq(gw_args_find(&a, "check")->value_len, 3);
    gw_args_free(&a);
    gw_args_free(&a);           /* idempotent */
    gw_args_free(NULL);
}
END_TEST

START_TEST(form_escapes)
{
    /* Percent in keys, upper/lower hex, '+' vs %2B, encoded '&' and '='. */
    gw_args a = form("?k%65y=%2b%2B+&a%26b=c%3Dd&lower=%c3%a9&upper=%C3%A9");
    ck_assert_str_eq(gw_args_get(&a, "key"), "++ ");
    ck_assert_str_eq(gw_args_get(&a, "a&b"), "c=d");
    ck_assert_str_eq(gw_args_get(&a, "lower"), "\xc3\xa9");
    ck_assert_str_eq(gw_args_get(&a, "upper"), "\xc3\xa9");
    gw_args_free(&a);

    /* Bad escapes stay literal (WHATWG / PHP behaviour). */
    a = form("a=%zz&b=%4&c=100%&d=%%41&e=%&f=%G1&g=%1");
    ck_assert_str_eq(gw_args_get(&a, "a"), "%zz");
    ck_assert_str_eq(gw_args_get(&a, "b"), "%4");
    ck_assert_str_eq(gw_args_get(&a, "c"), "100%");
    ck_assert_str_eq(gw_args_get(&a, "d"), "%A");
    ck_assert_str_eq(gw_args_get(&a, "e"), "%");
    ck_assert_str_eq(gw_args_get(&a, "f"), "%G1");
    ck_assert_str_eq(gw_args_get(&a, "g"), "%1");
    gw_args_free(&a);

    /* Empty pairs and empty keys are skipped; an empty body is fine. */
    a = form("&&=x&a=1&&=&b=2&");
    ck_assert_uint_eq(a.n, 2);
    ck_assert_str_eq(gw_args_get(&a, "a"), "1");
    ck_assert_str_eq(gw_args_get(&a, "b"), "2");
    gw_args_free(&a);
    a = form("");
    ck_assert_uint_eq(a.n, 0);
    gw_args_free(&a);
    ck_assert_chat_ok(gw_args_parse_form(NULL, 0, &a));
    ck_assert_uint_eq(a.n, 0);

    /* Only the given length is read. */
    ck_assert_chat_ok(gw_args_parse_form("a=1&b=2", 3, &a));
    ck_assert_uint_eq(a.n, 1);
    ck_assert_str_eq(gw_args_get(&a, "a"), "1");
    gw_args_free(&a);
}
END_TEST

START_TEST(form_invalid_utf8)
{
    static const char *const bad[] = {
        "a=%FF",            /* not a lead byte */
        "a=%C3%28",         /* bad continuation */
        "a=%C3",            /* truncated */
        "a=%E0%80%80",      /* overlong */
        "a=%ED%A0%80",      /* surrogate */
        "a=%F4%90%80%80",   /* > U+10FFFF */
        "a=x%00y",          /* NUL */
        "%FF=1",            /* in a key */
        "ok=1&a=\xff",      /* raw bytes too */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_args a = form("keep=1");
        ck_assert_chat_err(gw_args_parse_form(bad[i], strlen(bad[i]), &a), CHAT_ERR_INVALID_UTF8);
        /* out is as before the failed call */
        ck_assert_uint_eq(a.n, 1);
        ck_assert_str_eq(gw_args_get(&a, "keep"), "1");
        ck_assert_ptr_null(gw_args_get(&a, "ok"));
        gw_args_free(&a);
    }
    /* 4-byte emoji and raw (unencoded) UTF-8 are fine. */
    gw_args a = form("e=%F0%9F%8E%89&r=\xe6\x97\xa5");
    ck_assert_str_eq(gw_args_get(&a, "e"), "\xf0\x9f\x8e\x89");
    ck_assert_str_eq(gw_args_get(&a, "r"), "\xe6\x97\xa5");
    gw_args_free(&a);
}
END_TEST

START_TEST(form_repeated_keys_and_merge)
{
    gw_args q = form("a=1&b=2&b=3&token=xoxb");
    ck_assert_str_eq(gw_args_get(&q, "b"), "3");        /* last wins for get */
    gw_args b = form("b=9&c=4");
    ck_assert_chat_ok(gw_args_merge(&q, &b));
    ck_assert_uint_eq(b.n, 0);
    ck_assert_ptr_null(b.items);
    ck_assert_uint_eq(q.n, 4);                          /* a, token, b=9, c */
    ck_assert_str_eq(gw_args_get(&q, "a"), "1");
    ck_assert_str_eq(gw_args_get(&q, "b"), "9");
    ck_assert_str_eq(gw_args_get(&q, "c"), "4");
    size_t nb = 0;
    for (size_t i = 0; i < q.n; i++)
        nb += strcmp(q.items[i].key, "b") == 0;
    ck_assert_uint_eq(nb, 1);                           /* query's b's are gone */

    /* A JSON body merged over a query string. */
    gw_args j = jargs("{\"a\": 5, \"users\": [\"U1\"]}");
    ck_assert_chat_ok(gw_args_merge(&q, &j));
    ck_assert_str_eq(gw_args_get(&q, "a"), "5");
    ck_assert_ptr_nonnull(gw_args_find(&q, "a")->json);

    ck_assert_uint_eq(gw_args_remove(&q, "token"), 1);
    ck_assert_uint_eq(gw_args_remove(&q, "token"), 0);
    ck_assert_ptr_null(gw_args_get(&q, "token"));

    /* Merging an empty bag changes nothing. */
    gw_args e = GW_ARGS_INIT;
    size_t n = q.n;
    ck_assert_chat_ok(gw_args_merge(&q, &e));
    ck_assert_uint_eq(q.n, n);

    ck_assert_chat_ok(gw_args_add(&q, "file_name", "r\xc3\xa9sum\xc3\xa9.pdf", 12));
    ck_assert_str_eq(gw_args_get(&q, "file_name"), "r\xc3\xa9sum\xc3\xa9.pdf");
    ck_assert_chat_err(gw_args_add(&q, "x", "\xff", 1), CHAT_ERR_INVALID_UTF8);
    ck_assert_chat_err(gw_args_add(&q, "", "v", 1), CHAT_ERR_INVALID_ARGUMENTS);
    gw_args_free(&q);
}
END_TEST

START_TEST(json_body)
{
    gw_args a = jargs(" {\"channel\":\"C1\",\"n\":12,\"r\":1.5,\"t\":true,\"f\":false,"
                      "\"nul\":null,\"o\":{\"k\":[1,\"x\"]},\"arr\":[1,2],"
                      "\"u\":\"\\u00e9\\ud83c\\udf89\"} \n");
    ck_assert_uint_eq(a.n, 8);                          /* null skipped */
    ck_assert_str_eq(gw_args_get(&a, "channel"), "C1");
    ck_assert_str_eq(gw_args_get(&a, "n"), "12");
    ck_assert_str_eq(gw_args_get(&a, "r"), "1.5");
    ck_assert_str_eq(gw_args_get(&a, "t"), "true");
    ck_assert_str_eq(gw_args_get(&a, "f"), "false");
    ck_assert_ptr_null(gw_args_get(&a, "nul"));
    ck_assert_str_eq(gw_args_get(&a, "o"), "{\"k\":[1,\"x\"]}");
    ck_assert_str_eq(gw_args_get(&a, "arr"), "[1,2]");
    ck_assert_str_eq(gw_args_get(&a, "u"), "\xc3\xa9\xf0\x9f\x8e\x89");
    ck_assert(json_is_object(gw_args_find(&a, "o")->json));
    ck_assert(json_is_integer(gw_args_find(&a, "n")->json));
    gw_args_free(&a);

    /* Empty or blank body: no arguments. */
    a = jargs("");
    ck_assert_uint_eq(a.n, 0);
    a = jargs(" \r\n\t");
    ck_assert_uint_eq(a.n, 0);
    a = jargs("{}");
    ck_assert_uint_eq(a.n, 0);
}
END_TEST

START_TEST(json_malformed)
{
    static const char *const bad[] = {
        "{",
        "}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{'a':1}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "[1,2]",
        "\"text\"",
        "12",
        "null",
        "true",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"x\\u0000y\"}",
        "{\"a\":NaN}",
        "{\"a\":99999999999999999999}",
        "channel=C1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_args a = form("keep=1");
        chat_err rv = gw_args_parse_json(bad[i], strlen(bad[i]), &a);
        ck_assert_msg(rv == CHAT_ERR_INVALID_JSON, "%s -> %s", bad[i], chat_err_name(rv));
        ck_assert_uint_eq(a.n, 1);
        gw_args_free(&a);
    }
    gw_args a = GW_ARGS_INIT;
    ck_assert_chat_err(gw_args_parse_json("{\"a\":\"\xff\"}", 9, &a), CHAT_ERR_INVALID_UTF8);
    ck_assert_chat_err(gw_args_parse_json("{\"a\":\"\xed\xa0\x80\"}", 11, &a),
                       CHAT_ERR_INVALID_UTF8);
    ck_assert_uint_eq(a.n, 0);

    /* Nesting: 32 levels pass, 33 do not. */
    char deep[200];
    for (int levels = 32; levels <= 33; levels++) {
        size_t n = 0;
        n += (size_t)sprintf(deep + n, "{\"a\":");
        for (int i = 1; i < levels - 1; i++)
            deep[n++] = '[';
        deep[n++] = '{';
        deep[n++] = '}';
        for (int i = 1; i < levels - 1; i++)
            deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = '\0';
        chat_err rv = gw_args_parse_json(deep, n, &a);
        ck_assert_int_eq(rv, levels == 32 ? CHAT_OK : CHAT_ERR_INVALID_JSON);
        gw_args_free(&a);
    }
}
END_TEST

/* ----------------------------------------------------------- args -> pb --- */

START_TEST(scalars_from_form)
{
    Pbjt__All *m = all_form("s=hi+there&b=true&i32=-2147483648&i64=-9223372036854775808"
                            "&u32=4294967295&u64=18446744073709551615&d=1.5e3&f=0.25"
                            "&si32=2147483647&si64=9223372036854775807&fx32=7&fx64=8"
                            "&sfx32=-9&sfx64=-10&color=BLUE&raw=bytes%21");
    ck_assert_str_eq(m->s, "hi there");
    ck_assert_int_eq(m->b, 1);
    ck_assert_int_eq(m->i32, INT32_MIN);
    ck_assert(m->i64 == INT64_MIN);
    ck_assert_uint_eq(m->u32, UINT32_MAX);
    ck_assert(m->u64 == UINT64_MAX);
    ck_assert_double_eq(m->d, 1500.0);
    ck_assert_float_eq(m->f, 0.25f);
    ck_assert_int_eq(m->si32, INT32_MAX);
    ck_assert(m->si64 == INT64_MAX);
    ck_assert_uint_eq(m->fx32, 7);
    ck_assert(m->fx64 == 8);
    ck_assert_int_eq(m->sfx32, -9);
    ck_assert(m->sfx64 == -10);
    ck_assert_int_eq(m->color, PBJT__COLOR__BLUE);
    ck_assert_uint_eq(m->raw.len, 6);
    ck_assert_mem_eq(m->raw.data, "bytes!", 6);
    free_all(m);

    /* Other spellings: bools, enum numbers, negative enum, leading zeros. */
    static const struct { const char *in; int want; } bools[] = {
        {"b=1", 1}, {"b=TRUE", 1}, {"b=True", 1}, {"b=0", 0}, {"b=false", 0}, {"b=FALSE", 0},
        {"b=", 0},
    };
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        m = all_form(bools[i].in);
        ck_assert_msg(m->b == bools[i].want, "%s", bools[i].in);
        free_all(m);
    }
    m = all_form("color=2&i32=007&d=-0.5&f=1e-3&u64=0");
    ck_assert_int_eq(m->color, PBJT__COLOR__GREEN);
    ck_assert_int_eq(m->i32, 7);
    ck_assert_double_eq(m->d, -0.5);
    ck_assert_float_eq(m->f, 0.001f);
    free_all(m);
    m = all_form("color=-3");
    ck_assert_int_eq(m->color, PBJT__COLOR__NEGATIVE);
    free_all(m);
    m = all_form("color=NEGATIVE");
    ck_assert_int_eq(m->color, PBJT__COLOR__NEGATIVE);
    free_all(m);

    /* Empty non-string values mean "not given"; a later value replaces. */
    m = all_form("i32=&d=&color=&profile=&s=&i64=5&i64=6&s=a&s=b");
    ck_assert_int_eq(m->i32, 0);
    ck_assert_ptr_null(m->profile);
    ck_assert(m->i64 == 6);
    ck_assert_str_eq(m->s, "b");
    free_all(m);

    /* No arguments at all, and unknown keys, give a default message. */
    m = (Pbjt__All *)to_pb(NULL, &pbjt__all__descriptor);
    ck_assert_str_eq(m->s, "");
    free_all(m);
    m = all_form("token=xoxp&unknown=1&S=upper&i32x=3");
    ck_assert_str_eq(m->s, "");
    ck_assert_int_eq(m->i32, 0);
    free_all(m);
}
END_TEST

START_TEST(scalars_from_json)
{
    Pbjt__All *m = all_json("{\"s\":\"x\",\"b\":true,\"i32\":-5,\"i64\":9007199254740993,"
                            "\"u32\":4294967295,\"u64\":9223372036854775807,\"d\":0.1,"
                            "\"f\":2.5,\"si32\":20.0,\"color\":7,\"raw\":\"r\"}");
    ck_assert_str_eq(m->s, "x");
    ck_assert_int_eq(m->b, 1);
    ck_assert_int_eq(m->i32, -5);
    ck_assert(m->i64 == 9007199254740993LL);
    ck_assert_uint_eq(m->u32, UINT32_MAX);
    ck_assert(m->u64 == (uint64_t)INT64_MAX);
    ck_assert_double_eq(m->d, 0.1);
    ck_assert_float_eq(m->f, 2.5f);
    ck_assert_int_eq(m->si32, 20);                      /* integral real */
    ck_assert_int_eq(m->color, PBJT__COLOR__BLUE);
    free_all(m);

    /* Numbers and bools as strings (SDKs send "limit":"20"), and the reverse. */
    m = all_json("{\"s\":12,\"b\":\"false\",\"i32\":\"42\",\"d\":\"2.5\",\"color\":\"RED\","
                 "\"u64\":\"18446744073709551615\",\"raw\":false}");
    ck_assert_str_eq(m->s, "12");
    ck_assert_int_eq(m->b, 0);
    ck_assert_int_eq(m->i32, 42);
    ck_assert_double_eq(m->d, 2.5);
    ck_assert_int_eq(m->color, PBJT__COLOR__RED);
    ck_assert(m->u64 == UINT64_MAX);
    ck_assert_uint_eq(m->raw.len, 5);
    free_all(m);
    m = all_json("{\"s\":true,\"b\":1,\"d\":3}");
    ck_assert_str_eq(m->s, "true");
    ck_assert_int_eq(m->b, 1);
    ck_assert_double_eq(m->d, 3.0);
    free_all(m);
    m = all_json("{\"s\":1.5,\"b\":0}");
    ck_assert_str_eq(m->s, "1.5");
    ck_assert_int_eq(m->b, 0);
    free_all(m);
    m = all_json("{\"s\":0.1}");
    ck_assert_str_eq(m->s, "0.1");
    free_all(m);
    m = all_json("{\"s\":null,\"i32\":null,\"profile\":null,\"users\":null}");
    ck_assert_str_eq(m->s, "");
    ck_assert_ptr_null(m->profile);
    ck_assert_uint_eq(m->n_users, 0);
    free_all(m);
}
END_TEST

START_TEST(wrong_types)
{
    /* Form text. */
    expect_form_err("i32=2147483648", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("i32=-2147483649", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("u32=4294967296", CHAT_ERR_INVALID_ARGUMENTS, "u32");
    expect_form_err("u32=-1", CHAT_ERR_INVALID_ARGUMENTS, "u32");
    expect_form_err("u64=18446744073709551616", CHAT_ERR_INVALID_ARGUMENTS, "u64");
    expect_form_err("i64=9223372036854775808", CHAT_ERR_INVALID_ARGUMENTS, "i64");
    expect_form_err("i64=-9223372036854775809", CHAT_ERR_INVALID_ARGUMENTS, "i64");
    expect_form_err("i32=12abc", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("i32=1.5", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("i32=+1", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("i32=-", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("i32=+5", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("i32=%205", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_form_err("si64=0x10", CHAT_ERR_INVALID_ARGUMENTS, "si64");
    expect_form_err("b=yes", CHAT_ERR_INVALID_ARGUMENTS, "b");
    expect_form_err("b=2", CHAT_ERR_INVALID_ARGUMENTS, "b");
    expect_form_err("d=abc", CHAT_ERR_INVALID_ARGUMENTS, "d");
    expect_form_err("d=inf", CHAT_ERR_INVALID_ARGUMENTS, "d");
    expect_form_err("d=nan", CHAT_ERR_INVALID_ARGUMENTS, "d");
    expect_form_err("d=1e999", CHAT_ERR_INVALID_ARGUMENTS, "d");
    expect_form_err("d=0x1p3", CHAT_ERR_INVALID_ARGUMENTS, "d");
    expect_form_err("f=1e39", CHAT_ERR_INVALID_ARGUMENTS, "f");
    expect_form_err("color=PURPLE", CHAT_ERR_INVALID_ARGUMENTS, "color");
    expect_form_err("color=blue", CHAT_ERR_INVALID_ARGUMENTS, "color");
    expect_form_err("color=5", CHAT_ERR_INVALID_ARGUMENTS, "color");
    expect_form_err("color=99999999999", CHAT_ERR_INVALID_ARGUMENTS, "color");
    expect_form_err("profile=nope", CHAT_ERR_INVALID_ARGUMENTS, "profile");
    expect_form_err("profile=[1]", CHAT_ERR_INVALID_ARGUMENTS, "profile");
    expect_form_err("profile={\"status_text\":", CHAT_ERR_INVALID_ARGUMENTS, "profile");
    expect_form_err("attachments={}", CHAT_ERR_INVALID_ARGUMENTS, "attachments");
    expect_form_err("attachments=x", CHAT_ERR_INVALID_ARGUMENTS, "attachments");
    expect_form_err("attachments=[1]", CHAT_ERR_INVALID_ARGUMENTS, "attachments[0]");
    expect_form_err("attachments=[{},{\"ts\":\"x\"}]", CHAT_ERR_INVALID_ARGUMENTS,
                    "attachments[1].ts");
    expect_form_err("users=[\"U1\"", CHAT_ERR_INVALID_ARGUMENTS, "users");
    expect_form_err("ri32=1,x,3", CHAT_ERR_INVALID_ARGUMENTS, "ri32");
    expect_form_err("rb=true,maybe", CHAT_ERR_INVALID_ARGUMENTS, "rb");
    expect_form_err("ok=1&i32=1&i64=z", CHAT_ERR_INVALID_ARGUMENTS, "i64");
    expect_form_err("choice_i=q", CHAT_ERR_INVALID_ARGUMENTS, "choice_i");

    /* JSON values. */
    expect_json_err("{\"s\":{}}", CHAT_ERR_INVALID_ARGUMENTS, "s");
    expect_json_err("{\"s\":[\"a\"]}", CHAT_ERR_INVALID_ARGUMENTS, "s");
    expect_json_err("{\"i32\":true}", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_json_err("{\"i32\":1.5}", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_json_err("{\"i32\":2147483648}", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_json_err("{\"i32\":[1]}", CHAT_ERR_INVALID_ARGUMENTS, "i32");
    expect_json_err("{\"u64\":-1}", CHAT_ERR_INVALID_ARGUMENTS, "u64");
    expect_json_err("{\"u32\":1e10}", CHAT_ERR_INVALID_ARGUMENTS, "u32");
    expect_json_err("{\"i64\":1e30}", CHAT_ERR_INVALID_ARGUMENTS, "i64");
    expect_json_err("{\"b\":\"maybe\"}", CHAT_ERR_INVALID_ARGUMENTS, "b");
    expect_json_err("{\"b\":2}", CHAT_ERR_INVALID_ARGUMENTS, "b");
    expect_json_err("{\"b\":0.5}", CHAT_ERR_INVALID_ARGUMENTS, "b");
    expect_json_err("{\"b\":{}}", CHAT_ERR_INVALID_ARGUMENTS, "b");
    expect_json_err("{\"d\":true}", CHAT_ERR_INVALID_ARGUMENTS, "d");
    expect_json_err("{\"f\":1e300}", CHAT_ERR_INVALID_ARGUMENTS, "f");
    expect_json_err("{\"color\":3}", CHAT_ERR_INVALID_ARGUMENTS, "color");
    expect_json_err("{\"color\":1.5}", CHAT_ERR_INVALID_ARGUMENTS, "color");
    expect_json_err("{\"color\":true}", CHAT_ERR_INVALID_ARGUMENTS, "color");
    expect_json_err("{\"profile\":5}", CHAT_ERR_INVALID_ARGUMENTS, "profile");
    expect_json_err("{\"profile\":[]}", CHAT_ERR_INVALID_ARGUMENTS, "profile");
    expect_json_err("{\"profile\":true}", CHAT_ERR_INVALID_ARGUMENTS, "profile");
    expect_json_err("{\"profile\":\"[]\"}", CHAT_ERR_INVALID_ARGUMENTS, "profile");
    expect_json_err("{\"users\":{\"a\":1}}", CHAT_ERR_INVALID_ARGUMENTS, "users");
    expect_json_err("{\"users\":[\"U1\",null]}", CHAT_ERR_INVALID_ARGUMENTS, "users[1]");
    expect_json_err("{\"users\":[[\"U1\"]]}", CHAT_ERR_INVALID_ARGUMENTS, "users[0]");
    expect_json_err("{\"users\":[{}]}", CHAT_ERR_INVALID_ARGUMENTS, "users[0]");
    expect_json_err("{\"ri32\":[1,\"x\"]}", CHAT_ERR_INVALID_ARGUMENTS, "ri32[1]");
    expect_json_err("{\"rb\":[true,3]}", CHAT_ERR_INVALID_ARGUMENTS, "rb[1]");
    expect_json_err("{\"attachments\":{\"color\":\"x\"}}", CHAT_ERR_INVALID_ARGUMENTS,
                    "attachments");
    expect_json_err("{\"attachments\":7}", CHAT_ERR_INVALID_ARGUMENTS, "attachments");
    expect_json_err("{\"attachments\":[\"x\"]}", CHAT_ERR_INVALID_ARGUMENTS, "attachments[0]");
    expect_json_err("{\"profile\":{\"status_expiration\":\"soon\"}}",
                    CHAT_ERR_INVALID_ARGUMENTS, "profile.status_expiration");
    expect_json_err("{\"profile\":{\"inner\":{\"nums\":[1,\"two\"]}}}",
                    CHAT_ERR_INVALID_ARGUMENTS, "profile.inner.nums[1]");
    expect_json_err("{\"attachments\":[{\"fields\":[{\"short\":true},{\"short\":\"x\"}]}]}",
                    CHAT_ERR_INVALID_ARGUMENTS, "attachments[0].fields[1].short");
    expect_json_err("{\"profile\":\"{\\\"status_text\\\":[]}\"}", CHAT_ERR_INVALID_ARGUMENTS,
                    "profile.status_text");

    /* errfield may be NULL or short (truncated); the detail still names it. */
    gw_args a = jargs("{\"profile\":{\"status_expiration\":\"soon\"}}");
    ProtobufCMessage *m = NULL;
    ck_assert_chat_err(gw_args_to_pb(&a, &pbjt__all__descriptor, &m, NULL, 0),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(m);
    char small[8];
    ck_assert_chat_err(gw_args_to_pb(&a, &pbjt__all__descriptor, &m, small, sizeof small),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_str_eq(small, "profile");
    ck_assert_ptr_nonnull(strstr(chati_errmsg(), "profile.status_expiration"));
    gw_args_free(&a);
}
END_TEST

START_TEST(repeated_fields)
{
    Pbjt__All *m = all_form("users=U1,U2,+U3+,,&users=U4&ri32=1,-2,3&ri64=-9223372036854775808"
                            "&rb=true,0,FALSE,1&rd=0.5,1e3&rcolor=RED,7,GREEN&ru64=1"
                            "&rf=0.5&rraw=a,b");
    ck_assert_uint_eq(m->n_users, 4);
    ck_assert_str_eq(m->users[0], "U1");
    ck_assert_str_eq(m->users[1], "U2");
    ck_assert_str_eq(m->users[2], "U3");
    ck_assert_str_eq(m->users[3], "U4");
    ck_assert_uint_eq(m->n_ri32, 3);
    ck_assert_int_eq(m->ri32[1], -2);
    ck_assert_uint_eq(m->n_ri64, 1);
    ck_assert(m->ri64[0] == INT64_MIN);
    ck_assert_uint_eq(m->n_rb, 4);
    ck_assert(m->rb[0] && !m->rb[1] && !m->rb[2] && m->rb[3]);
    ck_assert_uint_eq(m->n_rd, 2);
    ck_assert_double_eq(m->rd[1], 1000.0);
    ck_assert_uint_eq(m->n_rcolor, 3);
    ck_assert_int_eq(m->rcolor[0], PBJT__COLOR__RED);
    ck_assert_int_eq(m->rcolor[1], PBJT__COLOR__BLUE);
    ck_assert_int_eq(m->rcolor[2], PBJT__COLOR__GREEN);
    ck_assert_uint_eq(m->n_ru64, 1);
    ck_assert_uint_eq(m->n_rf, 1);
    ck_assert_uint_eq(m->n_rraw, 2);
    ck_assert_mem_eq(m->rraw[1].data, "b", 1);
    free_all(m);

    /* JSON array in a form value; empty value and "[]" give nothing. */
    m = all_form("users=%5B%22U1%22%2C%22U%2C2%22%5D&ri32=&rd=[]&attachments=");
    ck_assert_uint_eq(m->n_users, 2);
    ck_assert_str_eq(m->users[1], "U,2");
    ck_assert_uint_eq(m->n_ri32, 0);
    ck_assert_uint_eq(m->n_rd, 0);
    ck_assert_uint_eq(m->n_attachments, 0);
    free_all(m);

    /* JSON bodies: arrays, comma strings, a lone scalar, mixed element forms. */
    m = all_json("{\"users\":[\"U1\",\"U2\"],\"ri32\":\"4, 5\",\"ri64\":7,"
                 "\"rb\":[true,\"false\",1],\"rcolor\":[\"BLUE\",2,\"1\"],"
                 "\"ru64\":[\"18446744073709551615\",3.0],\"rd\":[1,2.5,\"3\"]}");
    ck_assert_uint_eq(m->n_users, 2);
    ck_assert_str_eq(m->users[1], "U2");
    ck_assert_uint_eq(m->n_ri32, 2);
    ck_assert_int_eq(m->ri32[1], 5);
    ck_assert_uint_eq(m->n_ri64, 1);
    ck_assert(m->ri64[0] == 7);
    ck_assert_uint_eq(m->n_rb, 3);
    ck_assert(m->rb[0] && !m->rb[1] && m->rb[2]);
    ck_assert_uint_eq(m->n_rcolor, 3);
    ck_assert_int_eq(m->rcolor[2], PBJT__COLOR__RED);
    ck_assert(m->ru64[0] == UINT64_MAX);
    ck_assert(m->ru64[1] == 3);
    ck_assert_double_eq(m->rd[2], 3.0);
    free_all(m);

    /* Many elements (growth across powers of two). */
    char body[16 * 1024];
    size_t n = (size_t)sprintf(body, "ri32=");
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(body + n, "%s%d", i ? "," : "", i);
    m = all_form(body);
    ck_assert_uint_eq(m->n_ri32, 1000);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(m->ri32[i], i);
    free_all(m);
}
END_TEST

START_TEST(nested_messages)
{
    /* Slack's profile={"status_text":...} and attachments=[...] as form values. */
    Pbjt__All *m = all_form(
        "profile=%7B%22status_text%22%3A%22on+a+train%22%2C%22status_emoji%22%3A"
        "%22%3Atrain%3A%22%2C%22status_expiration%22%3A1732600000%2C%22x%22%3A1%7D"
        "&attachments=[{\"color\":\"good\",\"text\":\"a\",\"fields\":[{\"title\":\"T\","
        "\"value\":\"V\",\"short\":true}]},{\"text\":\"b\",\"ts\":\"123\"}]");
    ck_assert_ptr_nonnull(m->profile);
    ck_assert_str_eq(m->profile->status_text, "on a train");
    ck_assert_str_eq(m->profile->status_emoji, ":train:");
    ck_assert(m->profile->status_expiration == 1732600000);
    ck_assert_uint_eq(m->n_attachments, 2);
    ck_assert_str_eq(m->attachments[0]->color, "good");
    ck_assert_uint_eq(m->attachments[0]->n_fields, 1);
    ck_assert_str_eq(m->attachments[0]->fields[0]->title, "T");
    ck_assert_int_eq(m->attachments[0]->fields[0]->short_, 1);
    ck_assert_str_eq(m->attachments[1]->text, "b");
    ck_assert(m->attachments[1]->ts == 123);
    free_all(m);

    /* The same from a JSON body, objects and JSON-in-strings both. */
    m = all_json("{\"profile\":{\"status_text\":\"x\",\"inner\":{\"note\":\"n\",\"nums\":[1,2],"
                 "\"child\":{\"note\":\"c\"}}},"
                 "\"attachments\":\"[{\\\"color\\\":\\\"red\\\"}]\","
                 "\"response_metadata\":\"{\\\"next_cursor\\\":\\\"abc\\\"}\"}");
    ck_assert_str_eq(m->profile->status_text, "x");
    ck_assert_str_eq(m->profile->inner->note, "n");
    ck_assert_uint_eq(m->profile->inner->n_nums, 2);
    ck_assert_str_eq(m->profile->inner->child->note, "c");
    ck_assert_ptr_null(m->profile->inner->child->child);
    ck_assert_uint_eq(m->n_attachments, 1);
    ck_assert_str_eq(m->attachments[0]->color, "red");
    ck_assert_str_eq(m->response_metadata->next_cursor, "abc");
    free_all(m);

    /* A later value for a sub-message replaces the earlier one (no leak). */
    m = all_form("profile={\"status_text\":\"a\"}&profile={\"status_text\":\"b\"}");
    ck_assert_str_eq(m->profile->status_text, "b");
    free_all(m);
    /* ...and an empty object still sets it. */
    m = all_json("{\"profile\":{}}");
    ck_assert_ptr_nonnull(m->profile);
    free_all(m);
}
END_TEST

START_TEST(oneof_fields)
{
    Pbjt__All *m = all_form("choice_s=hello");
    ck_assert_int_eq(m->choice_case, PBJT__ALL__CHOICE_CHOICE_S);
    ck_assert_str_eq(m->choice_s, "hello");
    free_all(m);
    /* Two members: the later argument wins and the earlier is freed. */
    m = all_form("choice_s=hello&choice_p={\"status_text\":\"p\"}&choice_i=5");
    ck_assert_int_eq(m->choice_case, PBJT__ALL__CHOICE_CHOICE_I);
    ck_assert_int_eq(m->choice_i, 5);
    free_all(m);
    m = all_form("choice_i=5&choice_p={\"status_text\":\"p\"}");
    ck_assert_int_eq(m->choice_case, PBJT__ALL__CHOICE_CHOICE_P);
    ck_assert_str_eq(m->choice_p->status_text, "p");
    free_all(m);
    m = all_form("choice_p={}&choice_s=");
    ck_assert_int_eq(m->choice_case, PBJT__ALL__CHOICE_CHOICE_S);
    free_all(m);
}
END_TEST

START_TEST(limits)
{
    /* 1 MiB string: accepted; one byte more: too_long, naming the field. */
    size_t big = GW_MAX_STRING;
    char *v = malloc(big + 2);
    memset(v, 'a', big + 1);
    v[big + 1] = '\0';
    gw_args a = GW_ARGS_INIT;
    ck_assert_chat_ok(gw_args_add(&a, "s", v, big));
    Pbjt__All *m = all_of(&a);
    ck_assert_uint_eq(strlen(m->s), big);
    free_all(m);
    gw_args_free(&a);
    ck_assert_chat_ok(gw_args_add(&a, "s", v, big + 1));
    expect_err_args(&a, CHAT_ERR_TOO_LONG, "s");
    gw_args_free(&a);
    ck_assert_chat_ok(gw_args_add(&a, "users", v, big + 1));
    expect_err_args(&a, CHAT_ERR_TOO_LONG, "users");
    gw_args_free(&a);
    /* Also for JSON strings, and inside sub-messages. */
    json_t *o = json_pack("{s:{s:s#}}", "profile", "status_text", v, (int)(big + 1));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    a = jargs(body);
    free(body);
    expect_err_args(&a, CHAT_ERR_TOO_LONG, "profile.status_text");
    gw_args_free(&a);
    free(v);

    /* Big Unicode strings survive intact. */
    size_t reps = 50000;
    char *u = malloc(reps * 4 + 1);
    for (size_t i = 0; i < reps; i++)
        memcpy(u + i * 4, "\xf0\x9f\x98\x80", 4);
    u[reps * 4] = '\0';
    ck_assert_chat_ok(gw_args_add(&a, "s", u, reps * 4));
    m = all_of(&a);
    ck_assert_str_eq(m->s, u);
    char *out = json_of(m);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")), u);
    json_decref(j);
    chat_free(out);
    free_all(m);
    gw_args_free(&a);
    free(u);

    /* Depth: All(1) > inner(2) > child... 16 messages pass, 17 do not. */
    for (int depth = 16; depth <= 17; depth++) {
        char deep[1024];
        size_t n = (size_t)sprintf(deep, "{\"inner\":");
        for (int i = 2; i < depth; i++)
            n += (size_t)sprintf(deep + n, "{\"child\":");
        n += (size_t)sprintf(deep + n, "{\"note\":\"leaf\"}");
        for (int i = 2; i < depth; i++)
            deep[n++] = '}';
        deep[n++] = '}';
        deep[n] = '\0';
        a = jargs(deep);
        if (depth == 16) {
            m = all_of(&a);
            free_all(m);
        } else {
            char want[256] = "inner";
            for (int i = 2; i < depth; i++)
                strcat(want, ".child");
            expect_err_args(&a, CHAT_ERR_INVALID_ARGUMENTS, want);
        }
        gw_args_free(&a);
    }
    /* The same through a form value holding JSON (no JSON body depth check). */
    {
        char deep[1024];
        size_t n = (size_t)sprintf(deep, "inner=");
        for (int i = 0; i < 20; i++)
            n += (size_t)sprintf(deep + n, "{\"child\":");
        deep[n++] = '{';
        for (int i = 0; i < 21; i++)
            deep[n++] = '}';
        deep[n] = '\0';
        a = form(deep);
        ProtobufCMessage *pm = NULL;
        ck_assert_chat_err(gw_args_to_pb(&a, &pbjt__all__descriptor, &pm, NULL, 0),
                           CHAT_ERR_INVALID_ARGUMENTS);
        gw_args_free(&a);
    }
}
END_TEST

/* ----------------------------------------------------------- pb -> JSON --- */

START_TEST(output_every_type)
{
    Pbjt__All m = PBJT__ALL__INIT;
    m.s = "str";
    m.b = 1;
    m.i32 = INT32_MIN;
    m.i64 = INT64_MIN;
    m.u32 = UINT32_MAX;
    m.u64 = UINT64_MAX;
    m.d = 0.1;
    m.f = 0.1f;
    m.si32 = -1;
    m.si64 = 9007199254740993LL;
    m.fx32 = 1;
    m.fx64 = 2;
    m.sfx32 = -3;
    m.sfx64 = -4;
    m.color = PBJT__COLOR__NEGATIVE;
    m.raw.data = (uint8_t *)"raw";
    m.raw.len = 3;
    char *out = json_of(&m);
    ck_assert_str_eq(out,
        "{\"s\":\"str\",\"b\":true,\"i32\":-2147483648,\"i64\":-9223372036854775808,"
        "\"u32\":4294967295,\"u64\":18446744073709551615,\"d\":0.1,\"f\":0.1,\"si32\":-1,"
        "\"si64\":9007199254740993,\"fx32\":1,\"fx64\":2,\"sfx32\":-3,\"sfx64\":-4,"
        "\"color\":-3,\"raw\":\"raw\",\"users\":[],\"ri32\":[],\"ri64\":[],\"rb\":[],"
        "\"rd\":[],\"rcolor\":[],\"ru64\":[],\"rf\":[],\"rraw\":[],\"attachments\":[]}");
    chat_free(out);

    /* Defaults: empty strings/bytes and unset messages omitted; numbers kept. */
    Pbjt__All z = PBJT__ALL__INIT;
    out = json_of(&z);
    ck_assert_str_eq(out,
        "{\"b\":false,\"i32\":0,\"i64\":0,\"u32\":0,\"u64\":0,\"d\":0,\"f\":0,\"si32\":0,"
        "\"si64\":0,\"fx32\":0,\"fx64\":0,\"sfx32\":0,\"sfx64\":0,\"color\":0,"
        "\"users\":[],\"ri32\":[],\"ri64\":[],\"rb\":[],\"rd\":[],\"rcolor\":[],\"ru64\":[],"
        "\"rf\":[],\"rraw\":[],\"attachments\":[]}");
    chat_free(out);
    z.s = NULL;                 /* NULL reads as "" */
    out = json_of(&z);
    ck_assert_ptr_null(strstr(out, "\"s\""));
    chat_free(out);

    /* Doubles: shortest round-trip text, non-finite as null, big/small exponents. */
    z.d = 1e300;
    z.f = -1.5f;
    json_t *j = parsed(&z);
    ck_assert_double_eq(json_number_value(json_object_get(j, "d")), 1e300);
    ck_assert_double_eq(json_number_value(json_object_get(j, "f")), -1.5);
    json_decref(j);
    z.d = 1.0 / 3.0;
    j = parsed(&z);
    ck_assert(json_real_value(json_object_get(j, "d")) == 1.0 / 3.0);
    json_decref(j);
    z.d = NAN;
    z.f = INFINITY;
    out = json_of(&z);
    ck_assert_ptr_nonnull(strstr(out, "\"d\":null,\"f\":null"));
    chat_free(out);
}
END_TEST

START_TEST(output_repeated_nested_oneof)
{
    char *users[] = {"U1", "", "U3"};
    int32_t ri32[] = {1, -2};
    protobuf_c_boolean rb[] = {1, 0};
    double rd[] = {0.5, -2};
    Pbjt__Color rcolor[] = {PBJT__COLOR__RED, PBJT__COLOR__BLUE};
    ProtobufCBinaryData rraw[] = {{1, (uint8_t *)"x"}};
    Pbjt__Inner child = PBJT__INNER__INIT, inner = PBJT__INNER__INIT;
    Pbjt__Profile prof = PBJT__PROFILE__INIT;
    Pbjt__AttachmentField fld = PBJT__ATTACHMENT_FIELD__INIT;
    Pbjt__AttachmentField *flds[] = {&fld};
    Pbjt__Attachment att1 = PBJT__ATTACHMENT__INIT, att2 = PBJT__ATTACHMENT__INIT;
    Pbjt__Attachment *atts[] = {&att1, &att2};
    Pbjt__All m = PBJT__ALL__INIT;

    child.note = "deep";
    inner.child = &child;
    prof.status_text = "busy";
    prof.inner = &inner;
    fld.title = "T";
    fld.short_ = 1;
    att1.color = "good";
    att1.n_fields = 1;
    att1.fields = flds;
    m.n_users = 3;
    m.users = users;
    m.n_ri32 = 2;
    m.ri32 = ri32;
    m.n_rb = 2;
    m.rb = rb;
    m.n_rd = 2;
    m.rd = rd;
    m.n_rcolor = 2;
    m.rcolor = rcolor;
    m.n_rraw = 1;
    m.rraw = rraw;
    m.profile = &prof;
    m.n_attachments = 2;
    m.attachments = atts;
    m.choice_case = PBJT__ALL__CHOICE_CHOICE_S;
    m.choice_s = "";            /* a set oneof member is written even when empty */

    chati_buf b = {0};
    ck_assert_chat_ok(gw_pb_to_json_object(&m.base, &b));
    json_t *j = json_loads(b.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_ptr_nonnull(strstr(b.data, "\"users\":[\"U1\",\"\",\"U3\"],\"ri32\":[1,-2],"
                                         "\"ri64\":[],\"rb\":[true,false],\"rd\":[0.5,-2],"
                                         "\"rcolor\":[1,7],\"ru64\":[],\"rf\":[],"
                                         "\"rraw\":[\"x\"],"));
    ck_assert_ptr_nonnull(strstr(b.data,
        "\"profile\":{\"status_text\":\"busy\",\"status_emoji\":\"\",\"status_expiration\":0,"
        "\"inner\":{\"nums\":[],\"child\":{\"note\":\"deep\",\"nums\":[]}}}"));
    ck_assert_ptr_nonnull(strstr(b.data,
        "\"attachments\":[{\"color\":\"good\",\"fields\":[{\"title\":\"T\",\"short\":true}],"
        "\"ts\":0},{\"fields\":[],\"ts\":0}]"));
    ck_assert_ptr_nonnull(strstr(b.data, "\"choice_s\":\"\"}"));
    ck_assert_ptr_null(json_object_get(j, "response_metadata"));
    ck_assert_ptr_null(json_object_get(j, "choice_i"));
    json_decref(j);
    chati_buf_free(&b);

    m.choice_case = PBJT__ALL__CHOICE_CHOICE_I;
    m.choice_i = 0;
    j = parsed(&m);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "choice_i")), 0);
    ck_assert_ptr_null(json_object_get(j, "choice_s"));
    json_decref(j);
}
END_TEST

START_TEST(output_always_emit_and_members)
{
    Pbjt__ResponseMetadata rm = PBJT__RESPONSE_METADATA__INIT;
    Pbjt__All m = PBJT__ALL__INIT;
    m.response_metadata = &rm;
    json_t *j = parsed(&m);
    json_t *r = json_object_get(j, "response_metadata");
    ck_assert_str_eq(json_string_value(json_object_get(r, "next_cursor")), "");
    ck_assert_int_eq(json_array_size(json_object_get(r, "messages")), 0);
    json_decref(j);
    rm.next_cursor = NULL;
    j = parsed(&m);
    r = json_object_get(j, "response_metadata");
    ck_assert_str_eq(json_string_value(json_object_get(r, "next_cursor")), "");
    json_decref(j);
    rm.next_cursor = "dXNlcjpVMDYxTkZUVDI=";
    j = parsed(&m);
    r = json_object_get(j, "response_metadata");
    ck_assert_str_eq(json_string_value(json_object_get(r, "next_cursor")),
                     "dXNlcjpVMDYxTkZUVDI=");
    json_decref(j);

    /* Members only, joined onto what the caller wrote. */
    Pbjt__Empty e = PBJT__EMPTY__INIT;
    chati_buf b = {0};
    ck_assert_chat_ok(chati_buf_puts(&b, "{\"ok\":true,"));
    ck_assert_chat_ok(gw_pb_to_json(&e.base, &b));
    ck_assert_chat_ok(chati_buf_puts(&b, "}"));
    ck_assert_str_eq(b.data, "{\"ok\":true}");          /* dangling comma dropped */
    chati_buf_free(&b);

    ck_assert_chat_ok(chati_buf_puts(&b, "{\"ok\":true"));
    ck_assert_chat_ok(gw_pb_to_json(&e.base, &b));
    ck_assert_chat_ok(chati_buf_puts(&b, "}"));
    ck_assert_str_eq(b.data, "{\"ok\":true}");
    chati_buf_free(&b);

    e.maybe = "m";
    ck_assert_chat_ok(chati_buf_puts(&b, "{\"ok\":true,"));
    ck_assert_chat_ok(gw_pb_to_json(&e.base, &b));
    ck_assert_chat_ok(chati_buf_puts(&b, "}"));
    ck_assert_str_eq(b.data, "{\"ok\":true,\"maybe\":\"m\"}");
    chati_buf_free(&b);

    ck_assert_chat_ok(chati_buf_puts(&b, "{\"ok\":true"));
    ck_assert_chat_ok(gw_pb_to_json(&e.base, &b));
    ck_assert_chat_ok(chati_buf_puts(&b, "}"));
    ck_assert_str_eq(b.data, "{\"ok\":true,\"maybe\":\"m\"}");
    chati_buf_free(&b);

    ck_assert_chat_ok(gw_pb_to_json(&e.base, &b));       /* empty buffer */
    ck_assert_str_eq(b.data, "\"maybe\":\"m\"");
    chati_buf_free(&b);

    ck_assert_chat_ok(chati_buf_puts(&b, "{"));
    ck_assert_chat_ok(gw_pb_to_json(&m.base, &b));
    ck_assert_chat_ok(chati_buf_puts(&b, "}"));
    j = json_loads(b.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_decref(j);
    chati_buf_free(&b);

    Pbjt__Empty e2 = PBJT__EMPTY__INIT;
    ck_assert_chat_ok(gw_pb_to_json_object(&e2.base, &b));
    ck_assert_str_eq(b.data, "{}");
    chati_buf_free(&b);

    /* Past the output depth limit: internal error, buffer untouched. */
    enum { N = GW_OUT_MAX_DEPTH + 2 };
    Pbjt__Inner *chain = calloc(N, sizeof *chain);
    for (int i = 0; i < N; i++) {
        Pbjt__Inner init = PBJT__INNER__INIT;
        chain[i] = init;
        if (i > 0)
            chain[i - 1].child = &chain[i];
    }
    ck_assert_chat_ok(chati_buf_puts(&b, "{\"ok\":true,"));
    ck_assert_chat_err(gw_pb_to_json(&chain[0].base, &b), CHAT_ERR_INTERNAL);
    ck_assert_str_eq(b.data, "{\"ok\":true,");
    ck_assert_chat_err(gw_pb_to_json_object(&chain[0].base, &b), CHAT_ERR_INTERNAL);
    ck_assert_str_eq(b.data, "{\"ok\":true,");
    chain[GW_OUT_MAX_DEPTH - 1].child = NULL;
    ck_assert_chat_ok(gw_pb_to_json_object(&chain[0].base, &b));
    chati_buf_free(&b);
    free(chain);
}
END_TEST

static char *
escaped(const char *s, size_t len)
{
    chati_buf b = {0};
    ck_assert_chat_ok(gw_json_put_string(&b, s, len));
    return chati_buf_steal(&b);
}

#define ck_escapes(in, want)                                                            \
    do {                                                                                \
        char *got_ = escaped(in, sizeof(in) - 1);                                       \
        ck_assert_str_eq(got_, want);                                                   \
        chat_free(got_);                                                                \
    } while (0)

START_TEST(escaping)
{
    ck_escapes("", "\"\"");
    ck_escapes("plain ascii 123", "\"plain ascii 123\"");
    ck_escapes("q\"b\\s/", "\"q\\\"b\\\\s/\"");
    ck_escapes("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    ck_escapes("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    ck_escapes("a\0b", "\"a\\u0000b\"");
    ck_escapes("</script><b>x</b>", "\"<\\/script><b>x<\\/b>\"");
    ck_escapes("<", "\"<\"");
    ck_escapes("a<", "\"a<\"");
    ck_escapes("\xe2\x80\xa8|\xe2\x80\xa9", "\"\\u2028|\\u2029\"");
    ck_escapes("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\"");   /* neighbours raw */
    ck_escapes("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 \xf0\x9f\x91\xa8\xe2\x80"
               "\x8d\xf0\x9f\x91\xa9",
               "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89 \xf0\x9f\x91\xa8\xe2\x80"
               "\x8d\xf0\x9f\x91\xa9\"");
    /* Invalid UTF-8 (possible in bytes) becomes U+FFFD, one per bad byte. */
    ck_escapes("a\xff" "b", "\"a\xef\xbf\xbd" "b\"");
    ck_escapes("\xc3", "\"\xef\xbf\xbd\"");
    ck_escapes("\xe0\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    ck_escapes("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    ck_escapes("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    ck_escapes("\xf0\x9f\x8e", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");

    /* Every byte value through a message field: output parses back exactly
     * (for valid UTF-8) via jansson. */
    char all[200];
    size_t n = 0;
    for (int c = 1; c < 128; c++)
        all[n++] = (char)c;
    memcpy(all + n, "\xe2\x80\xa8\xe2\x80\xa9</\xf0\x9f\x98\x80", 13);
    n += 13;
    all[n] = '\0';
    Pbjt__All m = PBJT__ALL__INIT;
    m.s = all;
    char *out = json_of(&m);
    for (const char *p = out; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20, "raw control byte in output");
    ck_assert_ptr_null(strstr(out, "</"));
    ck_assert_ptr_null(strstr(out, "\xe2\x80\xa8"));
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")), all);
    json_decref(j);
    chat_free(out);

    /* The caller's buffer keeps earlier content. */
    chati_buf b = {0};
    ck_assert_chat_ok(chati_buf_puts(&b, "\"error\":"));
    ck_assert_chat_ok(gw_json_put_string(&b, "channel_not_found", 17));
    ck_assert_str_eq(b.data, "\"error\":\"channel_not_found\"");
    chati_buf_free(&b);
    ck_assert_chat_ok(gw_json_put_string(&b, NULL, 0));
    ck_assert_str_eq(b.data, "\"\"");
    chati_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------ round trip --- */

static void
check_roundtrip_json(json_t *j)
{
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")),
                     "h\xc3\xa9llo \"w\" </x> \xf0\x9f\x8e\x89\n\xe2\x80\xa8");
    ck_assert(json_is_true(json_object_get(j, "b")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "i32")), -7);
    ck_assert(json_integer_value(json_object_get(j, "i64")) == 1732600000000100LL);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "u32")), 3000000000LL);
    ck_assert_double_eq(json_number_value(json_object_get(j, "d")), 2.5);
    ck_assert_double_eq(json_number_value(json_object_get(j, "f")), 0.75);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "color")), 7);
    json_t *users = json_object_get(j, "users");
    ck_assert_int_eq(json_array_size(users), 2);
    ck_assert_str_eq(json_string_value(json_array_get(users, 0)), "U1");
    ck_assert_str_eq(json_string_value(json_array_get(users, 1)), "U2");
    json_t *ri = json_object_get(j, "ri32");
    ck_assert_int_eq(json_array_size(ri), 3);
    ck_assert_int_eq(json_integer_value(json_array_get(ri, 2)), -3);
    json_t *p = json_object_get(j, "profile");
    ck_assert_str_eq(json_string_value(json_object_get(p, "status_text")), "on a train");
    ck_assert(json_integer_value(json_object_get(p, "status_expiration")) == 1732600000);
    /* always written, as Slack writes a profile's names and status */
    ck_assert_str_eq(json_string_value(json_object_get(p, "status_emoji")), "");
    json_t *atts = json_object_get(j, "attachments");
    ck_assert_int_eq(json_array_size(atts), 2);
    json_t *f0 = json_array_get(json_object_get(json_array_get(atts, 0), "fields"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(f0, "title")), "T");
    ck_assert(json_is_true(json_object_get(f0, "short")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(atts, 1), "color")),
                     "#36a64f");
    json_t *rm = json_object_get(j, "response_metadata");
    ck_assert_str_eq(json_string_value(json_object_get(rm, "next_cursor")), "");
}

START_TEST(roundtrip)
{
    /* The same request as a form body and as a JSON body. */
    const char *formbody =
        "s=h%C3%A9llo+%22w%22+%3C%2Fx%3E+%F0%9F%8E%89%0A%E2%80%A8&b=1&i32=-7"
        "&i64=1732600000000100&u32=3000000000&d=2.5&f=0.75&color=BLUE&users=U1,U2"
        "&ri32=1&ri32=2,-3&profile={\"status_text\":\"on a train\",\"status_expiration\":"
        "1732600000}&attachments=[{\"fields\":[{\"title\":\"T\",\"short\":\"true\"}]},"
        "{\"color\":\"%2336a64f\"}]&response_metadata={}&ignored=1";
    const char *jsonbody =
        "{\"s\":\"h\\u00e9llo \\\"w\\\" </x> \\ud83c\\udf89\\n\\u2028\",\"b\":true,\"i32\":-7,"
        "\"i64\":1732600000000100,\"u32\":3000000000,\"d\":2.5,\"f\":0.75,\"color\":\"BLUE\","
        "\"users\":[\"U1\",\"U2\"],\"ri32\":[1,2,-3],\"profile\":{\"status_text\":"
        "\"on a train\",\"status_expiration\":1732600000},\"attachments\":[{\"fields\":"
        "[{\"title\":\"T\",\"short\":true}]},{\"color\":\"#36a64f\"}],"
        "\"response_metadata\":{\"next_cursor\":\"\"},\"ignored\":{\"deep\":[1]}}";
    char *outs[2];
    for (int k = 0; k < 2; k++) {
        Pbjt__All *m = k == 0 ? all_form(formbody) : all_json(jsonbody);
        chati_buf b = {0};
        ck_assert_chat_ok(chati_buf_puts(&b, "{\"ok\":true,"));
        ck_assert_chat_ok(gw_pb_to_json(&m->base, &b));
        ck_assert_chat_ok(chati_buf_puts(&b, "}"));
        json_error_t err;
        json_t *j = json_loads(b.data, 0, &err);
        ck_assert_msg(j != NULL, "%s: %s", b.data, err.text);
        ck_assert(json_is_true(json_object_get(j, "ok")));
        check_roundtrip_json(j);

        /* And back again: the output, read as a JSON body, gives the same message. */
        gw_args a2 = jargs(b.data);
        Pbjt__All *m2 = all_of(&a2);
        chati_buf b2 = {0};
        ck_assert_chat_ok(chati_buf_puts(&b2, "{\"ok\":true,"));
        ck_assert_chat_ok(gw_pb_to_json(&m2->base, &b2));
        ck_assert_chat_ok(chati_buf_puts(&b2, "}"));
        ck_assert_str_eq(b2.data, b.data);
        chati_buf_free(&b2);
        free_all(m2);
        gw_args_free(&a2);

        json_decref(j);
        outs[k] = chati_buf_steal(&b);
        free_all(m);
    }
    ck_assert_str_eq(outs[0], outs[1]);
    chat_free(outs[0]);
    chat_free(outs[1]);
}
END_TEST

/* A Json field takes any JSON value, or text holding one, as its text, and
 * is written back as the JSON it holds. */
START_TEST(json_passthrough)
{
    static const struct {
        bool is_json;
        const char *body, *raw; /* raw NULL: not given */
    } cases[] = {
        {false, "blocks=%5B%7B%22a%22%3A1%7D%5D&text=x", "[{\"a\":1}]"},
        {false, "blocks=not+json+at+all", "not json at all"}, /* the handler's to check */
        {true, "{\"blocks\": [ {\"a\" : 1, \"b\":[true,null]} ]}", "[{\"a\":1,\"b\":[true,null]}]"},
        {true, "{\"blocks\":\"[1, 2]\"}", "[1, 2]"},
        {true, "{\"blocks\":{\"k\":\"\\u00e9\"}}", "{\"k\":\"\u00e9\"}"},
        {true, "{\"blocks\":7}", "7"},
        {true, "{\"blocks\":null}", NULL},
        {true, "{\"text\":\"x\"}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_args a = cases[i].is_json ? jargs(cases[i].body) : form(cases[i].body);
        Pbjt__WithJson *m = (Pbjt__WithJson *)to_pb(&a, &pbjt__with_json__descriptor);
        if (cases[i].raw == NULL) {
            ck_assert_ptr_null(m->blocks);
        } else {
            ck_assert_ptr_nonnull(m->blocks);
            ck_assert_str_eq(m->blocks->raw, cases[i].raw);
        }
        protobuf_c_message_free_unpacked(&m->base, NULL);
        gw_args_free(&a);
    }

    /* Out: written unquoted; an empty one as null; absent, not at all. */
    Pbjt__Json j = PBJT__JSON__INIT;
    Pbjt__WithJson w = PBJT__WITH_JSON__INIT;
    j.raw = "[{\"type\":\"divider\"}]";
    w.blocks = &j;
    char *s = json_of(&w);
    ck_assert_str_eq(s, "{\"blocks\":[{\"type\":\"divider\"}],\"attachments\":[]}");
    free(s);
    j.raw = "";
    s = json_of(&w);
    ck_assert_str_eq(s, "{\"blocks\":null,\"attachments\":[]}");
    free(s);
    w.blocks = NULL;
    s = json_of(&w);
    ck_assert_str_eq(s, "{\"attachments\":[]}");
    free(s);

    /* Too long is refused, naming the field. */
    char *big = malloc(GW_MAX_STRING + 64);
    memcpy(big, "{\"blocks\":[\"", 12);
    memset(big + 12, 'x', GW_MAX_STRING);
    strcpy(big + 12 + GW_MAX_STRING, "\"]}");
    gw_args a = jargs(big);
    ProtobufCMessage *m = NULL;
    char field[64];
    ck_assert_int_eq(gw_args_to_pb(&a, &pbjt__with_json__descriptor, &m, field, sizeof field),
                     CHAT_ERR_TOO_LONG);
    ck_assert_str_eq(field, "blocks");
    gw_args_free(&a);
    free(big);
}
END_TEST

/* Hostile inputs: random bytes as form and JSON bodies never crash or leak. */
START_TEST(garbage)
{
    static const char alphabet[] = "{}[]\":,=&%+0123456789abcdefxyzUC-. \\\x80\xc3\xa9tfn";
    static const char *const keys[] = {"s", "b", "i32", "u64", "d", "color", "users",
                                       "ri32", "profile", "attachments", "inner", "choice_p"};
    unsigned seed = 12345;
    for (int iter = 0; iter < 3000; iter++) {
        char buf[96];
        size_t n = 0;
        n += (size_t)sprintf(buf, "%s=", keys[iter % (sizeof keys / sizeof keys[0])]);
        size_t len = 1 + (size_t)(rand_r(&seed) % 60);
        for (size_t i = 0; i < len; i++)
            buf[n++] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        buf[n] = '\0';
        gw_args a = GW_ARGS_INIT;
        if (gw_args_parse_form(buf, n, &a) == CHAT_OK) {
            ProtobufCMessage *m = NULL;
            if (gw_args_to_pb(&a, &pbjt__all__descriptor, &m, NULL, 0) == CHAT_OK) {
                chati_buf b = {0};
                ck_assert_chat_ok(gw_pb_to_json_object(m, &b));
                chati_buf_free(&b);
                protobuf_c_message_free_unpacked(m, NULL);
            }
        }
        gw_args_free(&a);
        /* The value part alone as a JSON body. */
        const char *v = strchr(buf, '=') + 1;
        if (gw_args_parse_json(v, strlen(v), &a) == CHAT_OK) {
            ProtobufCMessage *m = NULL;
            if (gw_args_to_pb(&a, &pbjt__all__descriptor, &m, NULL, 0) == CHAT_OK)
                protobuf_c_message_free_unpacked(m, NULL);
        }
        gw_args_free(&a);
    }
}
END_TEST

static Suite *
pbjson_suite(void)
{
    Suite *s = suite_create("pbjson");
    TCase *tc;

    tc = tcase_create("args");
    tcase_add_test(tc, form_basic);
    tcase_add_test(tc, form_escapes);
    tcase_add_test(tc, form_invalid_utf8);
    tcase_add_test(tc, form_repeated_keys_and_merge);
    tcase_add_test(tc, json_body);
    tcase_add_test(tc, json_malformed);
    suite_add_tcase(s, tc);

    tc = tcase_create("to_pb");
    tcase_add_test(tc, scalars_from_form);
    tcase_add_test(tc, scalars_from_json);
    tcase_add_test(tc, wrong_types);
    tcase_add_test(tc, repeated_fields);
    tcase_add_test(tc, nested_messages);
    tcase_add_test(tc, oneof_fields);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("to_json");
    tcase_add_test(tc, output_every_type);
    tcase_add_test(tc, output_repeated_nested_oneof);
    tcase_add_test(tc, output_always_emit_and_members);
    tcase_add_test(tc, escaping);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, json_passthrough);
    tcase_add_test(tc, garbage);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return chat_test_run(pbjson_suite());
}
