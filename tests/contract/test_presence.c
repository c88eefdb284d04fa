/*
 * Contract suite for presence stores (chat/backend/presence_store.h). argv[1]
 * is the store URL template ("mem:", "redis://127.0.0.1:6379/0", ...).
 *
 * Every time is an explicit now_ms, so expiry is tested without sleeping. A
 * shared server may hold other users: ids carry a per-test prefix and
 * expired() results are filtered to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/presence_store.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const chat_presence_store_ops *P;
static void *impl;
static char prefix[64];

/* Far from 0 and from the wall clock, so a store keyed on real time would show. */
#define T0 ((int64_t)1000000000000)

static void setup(void)
{
    const char *url = contract_begin("presence");
    P = chati_backend_find(CHATI_IFACE_PRESENCE, url);
    ck_assert_msg(P != NULL, "no presence store registered for %s", url);
    ck_assert_uint_ge(P->version, CHAT_PRESENCE_STORE_V1);
    ck_assert_chat_ok(P->open(url, contract_cfg(), &impl));
    contract_uniq("U", prefix, sizeof prefix);
}

static void teardown(void)
{
    if (impl)
        P->close(impl);
    impl = NULL;
    contract_end();
}

/* Up to 4 ids alive at once (rotating buffers). */
static const char *uid(const char *name)
{
    static char bufs[4][128];
    static int i;
    char *b = bufs[i++ & 3];
    snprintf(b, sizeof bufs[0], "%s-%s", prefix, name);
    return b;
}

static chat_presence get1(const char *user, int64_t now)
{
    chat_presence p = (chat_presence)-1;
    const char *ids[1] = {user};
    ck_assert_chat_ok(P->get(impl, ids, 1, now, &p));
    return p;
}

static bool hb(const char *user, int64_t now, int64_t ttl)
{
    bool changed = false;
    ck_assert_chat_ok(P->heartbeat(impl, user, now, ttl, &changed));
    return changed;
}

static bool away(const char *user, bool a, int64_t now)
{
    bool changed = false;
    ck_assert_chat_ok(P->set_away(impl, user, a, now, &changed));
    return changed;
}

/* expired() filtered to this test's users, names without the prefix, sorted. */
static char *expired_names(int64_t now)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(P->expired(impl, now, &l));
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(chat_list_kind_of(l), CHAT_LIST_STRINGS);
    size_t pl = strlen(prefix);
    char *names[256];
    size_t n = 0;
    for (size_t i = 0; i < chat_list_count(l); i++) {
        const char *s = chat_list_string(l, i);
        if (strncmp(s, prefix, pl) == 0 && s[pl] == '-' && n < 256)
            names[n++] = strdup(s + pl + 1);
    }
    chat_list_free(l);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, ",");
        strncat(out, names[i], sizeof out - strlen(out) - 2);
        free(names[i]);
    }
    return out;
}

START_TEST(test_heartbeat_changed)
{
    const char *a = uid("a");
    ck_assert_int_eq(get1(a, T0), CHAT_PRESENCE_OFFLINE);
    ck_assert(hb(a, T0, 30000));
    ck_assert_int_eq(get1(a, T0), CHAT_PRESENCE_ACTIVE);
    ck_assert(!hb(a, T0 + 1000, 30000));
    ck_assert(!hb(a, T0 + 2000, 30000));
    ck_assert_int_eq(get1(a, T0 + 2000), CHAT_PRESENCE_ACTIVE);
    /* changed may be NULL. */
    ck_assert_chat_ok(P->heartbeat(impl, a, T0 + 3000, 30000, NULL));
    ck_assert_chat_ok(P->set_away(impl, a, false, T0 + 3000, NULL));
}
END_TEST

START_TEST(test_expiry_at_ttl)
{
    const char *a = uid("a");
    ck_assert(hb(a, T0, 500));
    ck_assert_int_eq(get1(a, T0 + 499), CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(get1(a, T0 + 500), CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(get1(a, T0 + 10000), CHAT_PRESENCE_OFFLINE);
    /* A heartbeat renews from its own time. */
    ck_assert(hb(a, T0 + 600, 500));
    ck_assert(!hb(a, T0 + 1000, 500));
    ck_assert_int_eq(get1(a, T0 + 1499), CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(get1(a, T0 + 1500), CHAT_PRESENCE_OFFLINE);
}
END_TEST

START_TEST(test_away_overrides_active)
{
    const char *a = uid("a");
    ck_assert(hb(a, T0, 10000));
    ck_assert(away(a, true, T0 + 1));
    ck_assert_int_eq(get1(a, T0 + 2), CHAT_PRESENCE_AWAY);
    ck_assert(!away(a, true, T0 + 3));
    /* Heartbeats keep an away user away. */
    ck_assert(!hb(a, T0 + 4, 10000));
    ck_assert_int_eq(get1(a, T0 + 5), CHAT_PRESENCE_AWAY);
    ck_assert(away(a, false, T0 + 6));
    ck_assert_int_eq(get1(a, T0 + 7), CHAT_PRESENCE_ACTIVE);
    ck_assert(!away(a, false, T0 + 8));
}
END_TEST

START_TEST(test_away_and_offline)
{
    const char *a = uid("a"), *b = uid("b");
    /* Expiry wins over away. */
    ck_assert(hb(a, T0, 100));
    ck_assert(away(a, true, T0 + 10));
    ck_assert_int_eq(get1(a, T0 + 100), CHAT_PRESENCE_OFFLINE);
    /* Manual away survives going offline: the next heartbeat comes back away. */
    ck_assert(hb(a, T0 + 200, 100));
    ck_assert_int_eq(get1(a, T0 + 200), CHAT_PRESENCE_AWAY);

    /* Setting away while offline changes nothing visible yet. */
    ck_assert(!away(b, true, T0));
    ck_assert_int_eq(get1(b, T0), CHAT_PRESENCE_OFFLINE);
    ck_assert(hb(b, T0 + 1, 100));
    ck_assert_int_eq(get1(b, T0 + 2), CHAT_PRESENCE_AWAY);
    ck_assert(!away(b, false, T0 + 300)); /* offline again by then */
    ck_assert(hb(b, T0 + 400, 100));
    ck_assert_int_eq(get1(b, T0 + 400), CHAT_PRESENCE_ACTIVE);
}
END_TEST

START_TEST(test_expired_reports_once)
{
    ck_assert(hb(uid("a"), T0, 100));
    ck_assert(hb(uid("b"), T0, 200));
    ck_assert(hb(uid("c"), T0, 300));
    ck_assert_str_eq(expired_names(T0 + 99), "");
    ck_assert_str_eq(expired_names(T0 + 150), "a");
    ck_assert_str_eq(expired_names(T0 + 150), "");
    ck_assert_str_eq(expired_names(T0 + 300), "b,c"); /* "at or before now" */
    ck_assert_str_eq(expired_names(T0 + 300), "");
    ck_assert_str_eq(expired_names(T0 + 100000), "");
    /* Back online and gone again: a new expiry, reported again. */
    ck_assert(hb(uid("a"), T0 + 1000, 100));
    ck_assert_str_eq(expired_names(T0 + 1050), "");
    ck_assert_str_eq(expired_names(T0 + 1100), "a");
    /* A renewed heartbeat moves the expiry: nothing is reported early. */
    ck_assert(hb(uid("d"), T0 + 2000, 100));
    ck_assert(!hb(uid("d"), T0 + 2090, 100));
    ck_assert_str_eq(expired_names(T0 + 2100), "");
    ck_assert_str_eq(expired_names(T0 + 2190), "d");
    /* Away users expire like anyone else. */
    ck_assert(hb(uid("e"), T0 + 3000, 100));
    ck_assert(away(uid("e"), true, T0 + 3001));
    ck_assert_str_eq(expired_names(T0 + 3100), "e");
    ck_assert_int_eq(get1(uid("e"), T0 + 3100), CHAT_PRESENCE_OFFLINE);
}
END_TEST

START_TEST(test_expired_never_heartbeat)
{
    /* Only away set, never a heartbeat: nothing to expire. */
    ck_assert(!away(uid("x"), true, T0));
    ck_assert_str_eq(expired_names(T0 + 1000000), "");
}
END_TEST

START_TEST(test_many_users_one_get)
{
    enum { N = 1000 };
    char (*ids)[96] = calloc(N + 2, sizeof *ids);
    const char **ptrs = calloc(N + 2, sizeof *ptrs);
    for (int i = 0; i < N + 2; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-u%d", prefix, i);
        ptrs[i] = ids[i];
    }
    for (int i = 0; i < N; i++) {
        /* A third expire early, a third are away. */
        ck_assert(hb(ids[i], T0, i % 3 == 0 ? 10 : 10000));
        if (i % 3 == 1)
            ck_assert(away(ids[i], true, T0));
    }
    chat_presence *out = calloc(N + 2, sizeof *out);
    for (int i = 0; i < N + 2; i++)
        out[i] = (chat_presence)-1;
    ck_assert_chat_ok(P->get(impl, ptrs, N + 2, T0 + 100, out));
    for (int i = 0; i < N; i++) {
        chat_presence want = i % 3 == 0   ? CHAT_PRESENCE_OFFLINE
                             : i % 3 == 1 ? CHAT_PRESENCE_AWAY
                                          : CHAT_PRESENCE_ACTIVE;
        ck_assert_msg(out[i] == want, "user %d: %d, want %d", i, out[i], want);
    }
    ck_assert_int_eq(out[N], CHAT_PRESENCE_OFFLINE); /* never seen */
    ck_assert_int_eq(out[N + 1], CHAT_PRESENCE_OFFLINE);
    /* n == 0 is a no-op. */
    ck_assert_chat_ok(P->get(impl, ptrs, 0, T0, out));
    /* Users appearing twice get the same answer twice. */
    const char *dup[2] = {ids[2], ids[2]};
    ck_assert_chat_ok(P->get(impl, dup, 2, T0 + 100, out));
    ck_assert_int_eq(out[0], CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(out[1], CHAT_PRESENCE_ACTIVE);
    free(out);
    free(ptrs);
    free(ids);
}
END_TEST

START_TEST(test_users_are_independent)
{
    ck_assert(hb(uid("a"), T0, 1000));
    ck_assert(away(uid("a"), true, T0));
    ck_assert_int_eq(get1(uid("b"), T0), CHAT_PRESENCE_OFFLINE);
    ck_assert(hb(uid("b"), T0, 1000));
    ck_assert_int_eq(get1(uid("b"), T0), CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(get1(uid("a"), T0), CHAT_PRESENCE_AWAY);
}
END_TEST

START_TEST(test_bad_arguments)
{
    bool changed;
    ck_assert_chat_err(P->heartbeat(impl, "", T0, 1000, &changed), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(P->heartbeat(impl, NULL, T0, 1000, &changed),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(P->heartbeat(impl, uid("a"), T0, 0, &changed),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(P->set_away(impl, "", true, T0, &changed), CHAT_ERR_INVALID_ARGUMENTS);
}
END_TEST

static Suite *presence_suite(void)
{
    Suite *s = suite_create("presence contract");
    TCase *tc = tcase_create("presence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_heartbeat_changed);
    tcase_add_test(tc, test_expiry_at_ttl);
    tcase_add_test(tc, test_away_overrides_active);
    tcase_add_test(tc, test_away_and_offline);
    tcase_add_test(tc, test_expired_reports_once);
    tcase_add_test(tc, test_expired_never_heartbeat);
    tcase_add_test(tc, test_many_users_one_get);
    tcase_add_test(tc, test_users_are_independent);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "mem:");
    return chat_test_run(presence_suite());
}
