/*
 * The PostgreSQL backend's URL: libchat's parameters taken out, libpq's kept,
 * and a URL per host for the per-host read pools (no server needed).
 */
#include "testutil.h"

#include <string.h>

#include "backends/postgres/pool.h"
#include "core/internal.h"

START_TEST(multi_host_url_splits_per_host)
{
    chati_pg_url u;
    ck_assert_chat_ok(chati_pg_url_parse(
        "postgresql://app@h1:5432,h2:5433,[::1]:5434/chat?schema=s&statement_timeout_ms=500"
        "&connect_timeout=2&pool_size=3",
        &u));
    ck_assert_str_eq(u.libpq_url, "postgresql://app@h1:5432,h2:5433,[::1]:5434/chat?connect_timeout=2");
    ck_assert_str_eq(u.schema, "s");
    ck_assert_int_eq(u.pool_size, 3);
    ck_assert_int_eq(u.statement_timeout_ms, 500);
    ck_assert(u.multi_host);
    ck_assert_uint_eq(u.n_hosts, 3);
    ck_assert_str_eq(u.hosts[0], "h1:5432");
    ck_assert_str_eq(u.hosts[2], "[::1]:5434");
    ck_assert_str_eq(u.host_urls[0], "postgresql://app@h1:5432/chat?connect_timeout=2");
    ck_assert_str_eq(u.host_urls[1], "postgresql://app@h2:5433/chat?connect_timeout=2");
    ck_assert_str_eq(u.host_urls[2], "postgresql://app@[::1]:5434/chat?connect_timeout=2");
    chati_pg_url_free(&u);
}
END_TEST

START_TEST(single_host_and_defaults)
{
    chati_pg_url u;
    ck_assert_chat_ok(chati_pg_url_parse("postgres://db.example/chat", &u));
    ck_assert(!u.multi_host);
    ck_assert_uint_eq(u.n_hosts, 0);
    ck_assert_int_eq(u.statement_timeout_ms, CHATI_PG_STATEMENT_TIMEOUT_DEFAULT);
    ck_assert_int_eq(u.pool_size, CHATI_PG_POOL_DEFAULT);
    chati_pg_url_free(&u);
    ck_assert_chat_ok(chati_pg_url_parse("postgresql://a,b?statement_timeout_ms=0", &u));
    ck_assert_int_eq(u.statement_timeout_ms, 0);
    ck_assert_str_eq(u.host_urls[1], "postgresql://b");
    chati_pg_url_free(&u);
}
END_TEST

START_TEST(bad_values_are_config_errors)
{
    const char *bad[] = {
        "postgresql://h/db?statement_timeout_ms=-1", "postgresql://h/db?statement_timeout_ms=",
        "postgresql://h/db?statement_timeout_ms=1s", "postgresql://h/db?statement_timeout_ms=3600001",
        "postgresql://h/db?pool_size=65",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chati_pg_url u;
        ck_assert_chat_err(chati_pg_url_parse(bad[i], &u), CHAT_ERR_INVALID_CONFIG);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("postgres url");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, multi_host_url_splits_per_host);
    tcase_add_test(tc, single_host_and_defaults);
    tcase_add_test(tc, bad_values_are_config_errors);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
