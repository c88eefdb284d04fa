/*
 * Unit tests of the S3 store's URL parsing (backends/s3/s3_conf.c): defaults,
 * AWS's own endpoint, addressing styles, credentials and clear errors.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/s3/s3_conf.h"
#include "testutil.h"

START_TEST(test_custom_endpoint)
{
    chati_s3_conf c;
    ck_assert_chat_ok(chati_s3_conf_parse(
        "s3://AK:S%2Fk%2Bx@my-bucket/pre/fix?endpoint=http://127.0.0.1:9000&region=eu-west-3"
        "&create_bucket=1&part_size=6291456&timeout_ms=250",
        NULL, &c));
    ck_assert_str_eq(c.base, "http://127.0.0.1:9000");
    ck_assert_str_eq(c.host, "127.0.0.1:9000");
    ck_assert_str_eq(c.bucket, "my-bucket");
    ck_assert_str_eq(c.prefix, "pre/fix/");
    ck_assert_str_eq(c.region, "eu-west-3");
    ck_assert_str_eq(c.access_key, "AK");
    ck_assert_str_eq(c.secret_key, "S/k+x");
    ck_assert(c.path_style);
    ck_assert(c.create_bucket);
    ck_assert_uint_eq(c.part_size, 6291456);
    ck_assert_int_eq(c.timeout_ms, 250);
    chati_s3_conf_free(&c);
}
END_TEST

START_TEST(test_aws_defaults)
{
    chati_s3_conf c;
    ck_assert_chat_ok(chati_s3_conf_parse("s3://AK:SK@logs?region=eu-central-1", NULL, &c));
    ck_assert_str_eq(c.base, "https://logs.s3.eu-central-1.amazonaws.com");
    ck_assert_str_eq(c.host, "logs.s3.eu-central-1.amazonaws.com");
    ck_assert_str_eq(c.prefix, "");
    ck_assert(!c.path_style);
    ck_assert(!c.create_bucket);
    ck_assert_uint_eq(c.part_size, 8u << 20);
    chati_s3_conf_free(&c);

    /* Dotted buckets default to path style; style= overrides either way. */
    ck_assert_chat_ok(chati_s3_conf_parse("s3://AK:SK@a.b.c/x/", NULL, &c));
    ck_assert_str_eq(c.base, "https://s3.us-east-1.amazonaws.com");
    ck_assert(c.path_style);
    ck_assert_str_eq(c.prefix, "x/");
    chati_s3_conf_free(&c);
    ck_assert_chat_ok(chati_s3_conf_parse(
        "s3://AK:SK@bkt?endpoint=https://minio.example:443/&style=virtual", NULL, &c));
    ck_assert_str_eq(c.base, "https://bkt.minio.example:443");
    ck_assert_str_eq(c.host, "bkt.minio.example"); /* curl leaves the default port out */
    chati_s3_conf_free(&c);
}
END_TEST

START_TEST(test_credentials_from_config_and_env)
{
    chati_s3_conf c;
    chat_config *cfg = NULL;
    char err[128];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "s3.access_key", "CFGAK", err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "s3.secret_key", "CFGSK", err, sizeof err));
    ck_assert_chat_ok(chati_s3_conf_parse("s3://bkt", cfg, &c));
    ck_assert_str_eq(c.access_key, "CFGAK");
    ck_assert_str_eq(c.secret_key, "CFGSK");
    ck_assert_ptr_null(c.session_token);
    chati_s3_conf_free(&c);
    chat_config_free(cfg);

    setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
    setenv("AWS_SESSION_TOKEN", "TOKEN", 1);
    ck_assert_chat_ok(chati_s3_conf_parse("s3://bkt", NULL, &c));
    ck_assert_str_eq(c.access_key, "ENVAK");
    ck_assert_str_eq(c.session_token, "TOKEN");
    chati_s3_conf_free(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    ck_assert_chat_err(chati_s3_conf_parse("s3://bkt", NULL, &c), CHAT_ERR_INVALID_CONFIG);
    ck_assert(strstr(chati_errmsg(), "no credentials") != NULL);
}
END_TEST

START_TEST(test_bad_urls)
{
    const char *bad[] = {
        "file:/x",
        "s3://AK:SK@",
        "s3://AK:SK@my_bucket",          /* '_' is not allowed in bucket names */
        "s3://AK:SK@Upper",
        "s3://AK:SK@ab",
        "s3://AK:SK@bkt?endpoint=ftp://x",
        "s3://AK:SK@bkt?endpoint=http://h/path",
        "s3://AK:SK@bkt?style=sideways",
        "s3://AK:SK@bkt?part_size=1024", /* below S3's 5 MiB */
        "s3://AK:SK@bkt?timeout_ms=x",
        "s3://AK:SK@bkt?nosuch=1",
        "s3://AK:SK@bkt?novalue",
        "s3://AKSK@bkt",
        "s3://AK:S%zz@bkt",
        "s3://AK:SK@bkt//abs",
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(bad); i++) {
        chati_s3_conf c;
        ck_assert_msg(chati_s3_conf_parse(bad[i], NULL, &c) == CHAT_ERR_INVALID_CONFIG,
                      "accepted %s", bad[i]);
        ck_assert_msg(chati_errmsg()[0] != '\0', "no detail for %s", bad[i]);
    }
}
END_TEST

int main(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    Suite *s = suite_create("s3 url");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, test_custom_endpoint);
    tcase_add_test(tc, test_aws_defaults);
    tcase_add_test(tc, test_credentials_from_config_and_env);
    tcase_add_test(tc, test_bad_urls);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
