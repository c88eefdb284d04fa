/*
 * What etcd discovery does beyond the contract, against a real etcd that
 * tests/fixtures/etcd.sh started (CHAT_TEST_ETCD = host:port, and
 * CHAT_TEST_ETCD_DIR for kill and restart; argv[1] is the fixture script):
 * registrations live by their lease and vanish when the announcer dies, other
 * processes' lookups follow additions and removals through the watch, a down
 * etcd leaves lookups answering the last known table, and bad URLs are
 * refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/discovery.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const chat_discovery_ops *D;
static const char *fixture;
static char url[256];
static char prefix[64];

static void *open_disc(const char *u)
{
    void *impl = NULL;
    ck_assert_chat_ok(D->open(u, contract_cfg(), &impl));
    return impl;
}

static void setup(void)
{
    const char *etcd = getenv("CHAT_TEST_ETCD");
    ck_assert_msg(etcd != NULL, "run under tests/fixtures/etcd.sh exec");
    snprintf(url, sizeof url, "etcd://%s/etcdtest", etcd);
    D = chati_backend_find(CHATI_IFACE_DISCOVERY, url);
    ck_assert_ptr_nonnull(D);
    contract_uniq("s", prefix, sizeof prefix);
}

/* Whether impl's lookup of service lists address. */
static bool has(void *impl, const char *service, const char *address)
{
    chat_list *l = NULL;
    if (D->lookup(impl, service, &l) != CHAT_OK)
        return false;
    bool found = false;
    for (size_t i = 0; i < chat_list_count(l); i++)
        if (strcmp(chat_list_string(l, i), address) == 0)
            found = true;
    chat_list_free(l);
    return found;
}

/* Milliseconds until has() == want, or -1 after max_ms. */
static long long wait_for(void *impl, const char *service, const char *address, bool want,
                          int max_ms)
{
    long long t0 = contract_now_ms();
    while (contract_now_ms() - t0 < max_ms) {
        if (has(impl, service, address) == want)
            return contract_now_ms() - t0;
        contract_sleep_ms(10);
    }
    return -1;
}

START_TEST(test_lease_ends_with_its_announcer)
{
    void *a = open_disc(url), *b = open_disc(url);
    ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9001", 2));
    ck_assert(has(b, prefix, "tcp://127.0.0.1:9001"));
    D->close(a); /* no withdraw: as if the process died */
    long long gone = wait_for(b, prefix, "tcp://127.0.0.1:9001", false, 6000);
    printf("registration gone %lld ms after its announcer stopped renewing (ttl 2 s)\n", gone);
    ck_assert_msg(gone >= 0, "still registered 6 s after its announcer died");
    D->close(b);
}
END_TEST

START_TEST(test_renewal_keeps_it)
{
    void *a = open_disc(url), *b = open_disc(url);
    for (int i = 0; i < 8; i++) {
        ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9002", 2));
        ck_assert_msg(has(b, prefix, "tcp://127.0.0.1:9002"), "lost at renewal %d", i);
        contract_sleep_ms(600);
    }
    D->close(a);
    D->close(b);
}
END_TEST

START_TEST(test_watch_follows_other_processes)
{
    void *a = open_disc(url), *b = open_disc(url);
    ck_assert(!has(b, prefix, "tcp://127.0.0.1:9003")); /* b's watch runs from here */
    contract_sleep_ms(200);
    ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9003", 10));
    long long seen = wait_for(b, prefix, "tcp://127.0.0.1:9003", true, 2000);
    ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9004", 10));
    long long seen2 = wait_for(b, prefix, "tcp://127.0.0.1:9004", true, 2000);
    ck_assert_chat_ok(D->withdraw(a, prefix, "tcp://127.0.0.1:9003"));
    long long gone = wait_for(b, prefix, "tcp://127.0.0.1:9003", false, 2000);
    printf("another process saw an addition in %lld and %lld ms, a removal in %lld ms\n", seen,
           seen2, gone);
    ck_assert(seen >= 0 && seen2 >= 0 && gone >= 0);
    ck_assert(has(b, prefix, "tcp://127.0.0.1:9004"));
    D->close(a);
    D->close(b);
}
END_TEST

START_TEST(test_etcd_down_and_back)
{
    const char *dir = getenv("CHAT_TEST_ETCD_DIR");
    ck_assert_ptr_nonnull(dir);
    void *a = open_disc(url), *b = open_disc(url);
    ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9005", 3));
    ck_assert(has(b, prefix, "tcp://127.0.0.1:9005"));
    contract_sh("bash '%s' kill '%s'", fixture, dir);
    /* Lookups answer the last known table; announcing fails, quickly. */
    ck_assert(has(b, prefix, "tcp://127.0.0.1:9005"));
    CONTRACT_ASSERT_DOWN(D->announce(a, prefix, "tcp://127.0.0.1:9005", 3), "etcd", 3000);
    contract_sleep_ms(500);
    contract_sh("bash '%s' restart '%s'", fixture, dir);
    /* The announcer's next renewals bring it back (etcd may have let the
     * lease expire meanwhile); the watcher resynchronises by itself. */
    long long t0 = contract_now_ms();
    chat_err rv = CHAT_ERR_SERVICE_UNAVAILABLE;
    while (rv != CHAT_OK && contract_now_ms() - t0 < 5000) {
        rv = D->announce(a, prefix, "tcp://127.0.0.1:9005", 3);
        if (rv != CHAT_OK)
            contract_sleep_ms(100);
    }
    ck_assert_chat_ok(rv);
    ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9006", 3));
    long long seen = wait_for(b, prefix, "tcp://127.0.0.1:9006", true, 5000);
    printf("after an etcd restart a new registration was seen in %lld ms\n", seen);
    ck_assert(seen >= 0);
    ck_assert(has(b, prefix, "tcp://127.0.0.1:9005"));
    D->close(a);
    D->close(b);
}
END_TEST

START_TEST(test_second_endpoint_serves)
{
    char two[300];
    snprintf(two, sizeof two, "etcd://127.0.0.1:1,%s/etcdtest", getenv("CHAT_TEST_ETCD"));
    void *a = open_disc(two), *b = open_disc(url);
    ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9007", 5));
    ck_assert(has(a, prefix, "tcp://127.0.0.1:9007")); /* its own write, at once */
    /* Another process sees it through its watch, a moment later. */
    ck_assert(wait_for(b, prefix, "tcp://127.0.0.1:9007", true, 2000) >= 0);
    ck_assert_chat_ok(D->withdraw(a, prefix, "tcp://127.0.0.1:9007"));
    ck_assert(!has(a, prefix, "tcp://127.0.0.1:9007"));
    ck_assert(wait_for(b, prefix, "tcp://127.0.0.1:9007", false, 2000) >= 0);
    D->close(a);
    D->close(b);
}
END_TEST

START_TEST(test_prefixes_are_apart)
{
    char other[300];
    snprintf(other, sizeof other, "etcd://%s/another", getenv("CHAT_TEST_ETCD"));
    void *a = open_disc(url), *b = open_disc(other);
    ck_assert_chat_ok(D->announce(a, prefix, "tcp://127.0.0.1:9008", 5));
    ck_assert(!has(b, prefix, "tcp://127.0.0.1:9008"));
    ck_assert_chat_ok(D->withdraw(a, prefix, "tcp://127.0.0.1:9008"));
    D->close(a);
    D->close(b);
}
END_TEST

START_TEST(test_bad_urls_and_unreachable)
{
    static const char *bad[] = {
        "etcd://", "etcd:///x", "etcd://h:1/bad prefix", "etcd://h:1/p?nope=1",
        "etcd://h:1/p?timeout_ms=abc", "etcd://h:1,,h:2/p",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *impl = NULL;
        ck_assert_msg(D->open(bad[i], contract_cfg(), &impl) == CHAT_ERR_INVALID_CONFIG,
                      "%s accepted", bad[i]);
    }
    void *down = open_disc("etcd://127.0.0.1:1/x?timeout_ms=500");
    CONTRACT_ASSERT_DOWN(D->announce(down, prefix, "tcp://127.0.0.1:1", 5), "etcd", 2000);
    chat_list *l = NULL;
    CONTRACT_ASSERT_DOWN(D->lookup(down, prefix, &l), "etcd", 2000);
    ck_assert_chat_err(D->announce(down, "a/b", "tcp://127.0.0.1:1", 5),
                       CHAT_ERR_INVALID_ARGUMENTS);
    D->close(down);
}
END_TEST

static Suite *etcd_suite(void)
{
    Suite *s = suite_create("etcd discovery");
    TCase *tc = tcase_create("etcd");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lease_ends_with_its_announcer);
    tcase_add_test(tc, test_renewal_keeps_it);
    tcase_add_test(tc, test_watch_follows_other_processes);
    tcase_add_test(tc, test_second_endpoint_serves);
    tcase_add_test(tc, test_prefixes_are_apart);
    tcase_add_test(tc, test_bad_urls_and_unreachable);
    tcase_add_test(tc, test_etcd_down_and_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    fixture = argc > 1 ? argv[1] : NULL;
    contract_init(1, argv, "etcd://");
    if (fixture == NULL) {
        fprintf(stderr, "usage: %s tests/fixtures/etcd.sh (under etcd.sh exec)\n", argv[0]);
        return 2;
    }
    return chat_test_run(etcd_suite());
}
