/*
 * Contract suite for service discovery (chat/backend/discovery.h). argv[1] is
 * the discovery URL template ("static:", "static:{tmp}/services",
 * "etcd://127.0.0.1:2379", ...). Service names carry a per-test prefix so a
 * shared server is fine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/discovery.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const chat_discovery_ops *D;
static void *impl;
static char prefix[64];

static void setup(void)
{
    const char *url = contract_begin("discovery");
    D = chati_backend_find(CHATI_IFACE_DISCOVERY, url);
    ck_assert_msg(D != NULL, "no discovery backend registered for %s", url);
    ck_assert_uint_ge(D->version, CHAT_DISCOVERY_V1);
    ck_assert_chat_ok(D->open(url, contract_cfg(), &impl));
    contract_uniq("svc", prefix, sizeof prefix);
}

static void teardown(void)
{
    if (impl)
        D->close(impl);
    impl = NULL;
    contract_end();
}

static const char *svc(const char *name)
{
    static char bufs[4][128];
    static int i;
    char *b = bufs[i++ & 3];
    snprintf(b, sizeof bufs[0], "%s-%s", prefix, name);
    return b;
}

/* The addresses of a service, sorted and joined with ','. */
static char *lookup(const char *service)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(D->lookup(impl, service, &l));
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(chat_list_kind_of(l), CHAT_LIST_STRINGS);
    size_t n = chat_list_count(l);
    const char *v[64];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        v[i] = chat_list_string(l, i);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, ",");
        strncat(out, v[i], sizeof out - strlen(out) - 2);
    }
    chat_list_free(l);
    return out;
}

START_TEST(test_unknown_service_is_empty)
{
    ck_assert_str_eq(lookup(svc("nobody")), "");
}
END_TEST

START_TEST(test_announce_lookup_withdraw)
{
    const char *auth = svc("auth");
    ck_assert_chat_ok(D->announce(impl, auth, "tcp://127.0.0.1:7001", 30));
    ck_assert_str_eq(lookup(auth), "tcp://127.0.0.1:7001");
    ck_assert_chat_ok(D->withdraw(impl, auth, "tcp://127.0.0.1:7001"));
    ck_assert_str_eq(lookup(auth), "");
}
END_TEST

START_TEST(test_two_addresses_per_service)
{
    const char *user = svc("user"), *chan = svc("channel");
    ck_assert_chat_ok(D->announce(impl, user, "tcp://127.0.0.1:7101", 30));
    ck_assert_chat_ok(D->announce(impl, user, "tcp://127.0.0.1:7102", 30));
    ck_assert_chat_ok(D->announce(impl, chan, "tcp://127.0.0.1:7201", 30));
    ck_assert_str_eq(lookup(user), "tcp://127.0.0.1:7101,tcp://127.0.0.1:7102");
    ck_assert_str_eq(lookup(chan), "tcp://127.0.0.1:7201");
    ck_assert_chat_ok(D->withdraw(impl, user, "tcp://127.0.0.1:7101"));
    ck_assert_str_eq(lookup(user), "tcp://127.0.0.1:7102");
    ck_assert_str_eq(lookup(chan), "tcp://127.0.0.1:7201");
    ck_assert_chat_ok(D->withdraw(impl, user, "tcp://127.0.0.1:7102"));
    ck_assert_chat_ok(D->withdraw(impl, chan, "tcp://127.0.0.1:7201"));
}
END_TEST

START_TEST(test_announce_is_idempotent)
{
    const char *msg = svc("message");
    for (int i = 0; i < 3; i++)
        ck_assert_chat_ok(D->announce(impl, msg, "tcp://127.0.0.1:7301", 30));
    ck_assert_str_eq(lookup(msg), "tcp://127.0.0.1:7301");
    ck_assert_chat_ok(D->withdraw(impl, msg, "tcp://127.0.0.1:7301"));
    ck_assert_str_eq(lookup(msg), "");
}
END_TEST

START_TEST(test_withdraw_unknown_is_ok)
{
    ck_assert_chat_ok(D->withdraw(impl, svc("ghost"), "tcp://127.0.0.1:1"));
}
END_TEST

START_TEST(test_similar_names_are_distinct)
{
    const char *a = svc("pre"), *b = svc("presence");
    ck_assert_chat_ok(D->announce(impl, b, "tcp://127.0.0.1:7401", 30));
    ck_assert_str_eq(lookup(a), "");
    ck_assert_str_eq(lookup(b), "tcp://127.0.0.1:7401");
    ck_assert_chat_ok(D->withdraw(impl, b, "tcp://127.0.0.1:7401"));
}
END_TEST

START_TEST(test_bad_arguments)
{
    ck_assert_chat_err(D->announce(impl, "", "tcp://127.0.0.1:1", 30),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(D->announce(impl, svc("x"), "", 30), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(D->announce(impl, NULL, "tcp://127.0.0.1:1", 30),
                       CHAT_ERR_INVALID_ARGUMENTS);
}
END_TEST

static Suite *discovery_suite(void)
{
    Suite *s = suite_create("discovery contract");
    TCase *tc = tcase_create("discovery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_unknown_service_is_empty);
    tcase_add_test(tc, test_announce_lookup_withdraw);
    tcase_add_test(tc, test_two_addresses_per_service);
    tcase_add_test(tc, test_announce_is_idempotent);
    tcase_add_test(tc, test_withdraw_unknown_is_ok);
    tcase_add_test(tc, test_similar_names_are_distinct);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "static:");
    return chat_test_run(discovery_suite());
}
