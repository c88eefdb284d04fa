/*
 * Integration tests of the Redis presence store beyond the contract: Redis
 * killed (-9) and restarted, reads from a replica, pub/sub notifications.
 *
 * argv[1] is tests/fixtures/redis.sh; each test case starts its own servers
 * (in the parent process, an unchecked fixture, so they are stopped even when
 * a test fails) in a temporary directory and stops them afterwards.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chat/backend/presence_store.h>
#include <hiredis/hiredis.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const char *fixture;
static char *tmpdir;
static char primary_dir[512], replica_dir[512];
static char primary_url[128], replica_addr[128];
static int primary_port, replica_port;
static const chat_presence_store_ops *P;

static void start_primary(void)
{
    tmpdir = chat_test_tmpdir("redis");
    snprintf(primary_dir, sizeof primary_dir, "%s/primary", tmpdir);
    snprintf(replica_dir, sizeof replica_dir, "%s/replica", tmpdir);
    snprintf(primary_url, sizeof primary_url, "%s",
             contract_sh("bash '%s' start '%s'", fixture, primary_dir));
    if (strncmp(primary_url, "redis://", 8) != 0) {
        fprintf(stderr, "the fixture could not start redis-server\n");
        exit(1); /* a missing server is a failure, never a skip */
    }
    primary_port = contract_port_of(primary_url);
}

static void start_both(void)
{
    start_primary();
    const char *r = contract_sh("bash '%s' start '%s' --replicaof 127.0.0.1:%d", fixture,
                                replica_dir, primary_port);
    if (strncmp(r, "redis://", 8) != 0) {
        fprintf(stderr, "the fixture could not start a replica\n");
        exit(1);
    }
    snprintf(replica_addr, sizeof replica_addr, "%s", r + 8);
    replica_port = contract_port_of(r);
}

static void stop_all(void)
{
    contract_sh("bash '%s' stop '%s'", fixture, replica_dir);
    contract_sh("bash '%s' stop '%s'", fixture, primary_dir);
    chat_test_rmtree(tmpdir);
    tmpdir = NULL;
}

static void *open_store(const char *url)
{
    P = chati_backend_find(CHATI_IFACE_PRESENCE, url);
    ck_assert_msg(P != NULL, "no presence store for %s", url);
    void *impl = NULL;
    ck_assert_chat_ok(P->open(url, contract_cfg(), &impl));
    return impl;
}

static chat_presence get1(void *impl, const char *user, int64_t now)
{
    chat_presence p = (chat_presence)-1;
    const char *ids[1] = {user};
    ck_assert_chat_ok(P->get(impl, ids, 1, now, &p));
    return p;
}

/* The call must fail as service_unavailable, with a detail, within 2 s. */
#define ASSERT_DOWN(call) CONTRACT_ASSERT_DOWN(call, "redis", 2000)

START_TEST(test_restart_recovers)
{
    void *impl = open_store(primary_url);
    char user[64];
    contract_uniq("R", user, sizeof user);
    int64_t now = chati_now_ms();
    bool changed = false;
    ck_assert_chat_ok(P->heartbeat(impl, user, now, 30000, &changed));
    ck_assert(changed);
    ck_assert_int_eq(get1(impl, user, now + 1), CHAT_PRESENCE_ACTIVE);

    contract_sh("bash '%s' kill '%s'", fixture, primary_dir);
    const char *ids[1] = {user};
    chat_presence p;
    chat_list *l = NULL;
    /* Twice each: the pooled connection fails first, then a fresh connect. */
    for (int i = 0; i < 2; i++) {
        ASSERT_DOWN(P->heartbeat(impl, user, now + 1000, 30000, &changed));
        ASSERT_DOWN(P->set_away(impl, user, true, now + 1000, &changed));
        ASSERT_DOWN(P->get(impl, ids, 1, now + 1000, &p));
        ASSERT_DOWN(P->expired(impl, now + 1000, &l));
    }
    ck_assert_ptr_null(l);

    const char *url = contract_sh("bash '%s' restart '%s'", fixture, primary_dir);
    ck_assert_str_eq(url, primary_url);
    /* Redis kept nothing (no persistence): offline until the next heartbeat. */
    ck_assert_int_eq(get1(impl, user, now + 2000), CHAT_PRESENCE_OFFLINE);
    ck_assert_chat_ok(P->heartbeat(impl, user, now + 2000, 30000, &changed));
    ck_assert(changed);
    ck_assert_int_eq(get1(impl, user, now + 2001), CHAT_PRESENCE_ACTIVE);
    ck_assert_chat_ok(P->expired(impl, now + 2001, &l));
    chat_list_free(l);
    P->close(impl);

    /* A store opened while Redis is down fails cleanly too. */
    contract_sh("bash '%s' kill '%s'", fixture, primary_dir);
    void *impl2 = NULL;
    ASSERT_DOWN(P->open(primary_url, contract_cfg(), &impl2));
    contract_sh("bash '%s' restart '%s'", fixture, primary_dir);
}
END_TEST

typedef struct {
    void *impl;
    int id;
    int errors;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    char user[64];
    snprintf(user, sizeof user, "T-%d-%d", (int)getpid(), w->id);
    int64_t now = chati_now_ms();
    for (int i = 0; i < 300; i++) {
        bool changed;
        chat_presence p;
        const char *ids[1] = {user};
        if (P->heartbeat(w->impl, user, now + i, 60000, &changed) != CHAT_OK ||
            P->get(w->impl, ids, 1, now + i, &p) != CHAT_OK || p != CHAT_PRESENCE_ACTIVE)
            w->errors++;
    }
    return NULL;
}

START_TEST(test_threads_share_a_store)
{
    void *impl = open_store(primary_url);
    enum { N = 8 };
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){impl, i, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].errors, 0);
    }
    P->close(impl);
}
END_TEST

START_TEST(test_reads_from_replica)
{
    char url[300];
    /* A generous timeout: a replica slow to answer on a loaded machine would
     * otherwise be skipped for the primary, which this test empties. */
    snprintf(url, sizeof url, "%s/0?replica=%s&timeout_ms=5000", primary_url, replica_addr);
    void *impl = open_store(url);
    void *other = open_store(url); /* another process's store: its writes */
    char a[64], b[64], c[64];
    contract_uniq("A", a, sizeof a);
    contract_uniq("B", b, sizeof b);
    contract_uniq("C", c, sizeof c);
    int64_t now = chati_now_ms();
    ck_assert_chat_ok(P->heartbeat(other, a, now, 60000, NULL));
    /* Until the replica acknowledged the write. */
    ck_assert_str_eq(contract_sh("redis-cli -p %d WAIT 1 5000", primary_port), "1");

    /* Cut the replica loose and empty the primary: only the replica knows a. */
    ck_assert_str_eq(contract_sh("redis-cli -p %d REPLICAOF NO ONE", replica_port), "OK");
    ck_assert_str_eq(contract_sh("redis-cli -p %d FLUSHALL", primary_port), "OK");
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", primary_port, a), "0");
    /* If the replica took the FLUSHALL too (its link not yet cut), the setup
     * raced, not the store: the check only means something when it holds a. */
    if (strcmp(contract_sh("redis-cli -p %d EXISTS presence:u:%s", replica_port, a), "1") == 0)
        ck_assert_int_eq(get1(impl, a, now + 1), CHAT_PRESENCE_ACTIVE);
    else
        fprintf(stderr, "test_reads_from_replica: the replica lost a before the check\n");

    /* Writes go to the primary (the replica no longer follows it); another
     * store's write is read from the replica, which has not got it. */
    ck_assert_chat_ok(P->heartbeat(other, b, now, 60000, NULL));
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", primary_port, b), "1");
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", replica_port, b), "0");
    ck_assert_int_eq(get1(impl, b, now + 1), CHAT_PRESENCE_OFFLINE); /* read from the replica */

    /* Read-your-writes: this store's own write shows at once, replica or not
     * (the domain announces the presence it reads right after a heartbeat). */
    ck_assert_chat_ok(P->heartbeat(impl, c, now, 60000, NULL));
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", replica_port, c), "0");
    ck_assert_int_eq(get1(impl, c, now + 1), CHAT_PRESENCE_ACTIVE);
    ck_assert_chat_ok(P->set_away(impl, c, true, now + 1, NULL));
    ck_assert_int_eq(get1(impl, c, now + 2), CHAT_PRESENCE_AWAY);

    /* Replica gone: reads fall back to the primary, promptly. */
    contract_sh("bash '%s' kill '%s'", fixture, replica_dir);
    long long t0 = contract_now_ms();
    ck_assert_int_eq(get1(impl, b, now + 1), CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(get1(impl, a, now + 1), CHAT_PRESENCE_OFFLINE);
    ck_assert_int_lt(contract_now_ms() - t0, 2000);
    P->close(other);
    P->close(impl);
}
END_TEST

/* Reads one pub/sub message payload into buf. */
static void next_message(redisContext *sub, char *buf, size_t n)
{
    void *vr = NULL;
    ck_assert_int_eq(redisGetReply(sub, &vr), REDIS_OK);
    redisReply *r = vr;
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(r->elements, 3);
    ck_assert_str_eq(r->element[0]->str, "message");
    ck_assert_str_eq(r->element[1]->str, "presence");
    snprintf(buf, n, "%s", r->element[2]->str);
    freeReplyObject(r);
}

START_TEST(test_pubsub_notifications)
{
    void *impl = open_store(primary_url);
    struct timeval tv = {5, 0};
    redisContext *sub = redisConnectWithTimeout("127.0.0.1", primary_port, tv);
    ck_assert(sub != NULL && sub->err == 0);
    redisSetTimeout(sub, tv);
    redisReply *r = redisCommand(sub, "SUBSCRIBE presence");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);

    char u[64], want[128], got[128];
    contract_uniq("S", u, sizeof u);
    int64_t t = 5000000000000; /* any clock: only relative times matter */
    ck_assert_chat_ok(P->heartbeat(impl, u, t, 100, NULL));
    ck_assert_chat_ok(P->heartbeat(impl, u, t + 10, 100, NULL)); /* no change, no message */
    ck_assert_chat_ok(P->set_away(impl, u, true, t + 20, NULL));
    ck_assert_chat_ok(P->set_away(impl, u, false, t + 30, NULL));
    chat_list *l = NULL;
    ck_assert_chat_ok(P->expired(impl, t + 110, &l));
    chat_list_free(l);

    const char *states[] = {"active", "away", "active", "offline"};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(states); i++) {
        next_message(sub, got, sizeof got);
        snprintf(want, sizeof want, "%s:%s", u, states[i]);
        /* Other processes' users may show up on a shared server: skip them. */
        while (strncmp(got, u, strlen(u)) != 0)
            next_message(sub, got, sizeof got);
        ck_assert_str_eq(got, want);
    }
    redisFree(sub);
    P->close(impl);
}
END_TEST

START_TEST(test_bad_urls)
{
    const chat_presence_store_ops *ops = chati_backend_find(CHATI_IFACE_PRESENCE, "redis://x");
    ck_assert_ptr_nonnull(ops);
    void *impl = NULL;
    ck_assert_chat_err(ops->open("redis://127.0.0.1:notaport", contract_cfg(), &impl),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(ops->open("redis://127.0.0.1:6379/x", contract_cfg(), &impl),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(ops->open("redis://127.0.0.1:6379?timeout_ms=0", contract_cfg(), &impl),
                       CHAT_ERR_INVALID_ARGUMENTS);
    char url[256];
    snprintf(url, sizeof url, "%s/99999", primary_url); /* no such database */
    ck_assert_chat_err(ops->open(url, contract_cfg(), &impl), CHAT_ERR_STORAGE);
}
END_TEST

static Suite *redis_suite(void)
{
    Suite *s = suite_create("presence redis");
    TCase *tc = tcase_create("restart");
    tcase_add_unchecked_fixture(tc, start_primary, stop_all);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_restart_recovers);
    tcase_add_test(tc, test_threads_share_a_store);
    tcase_add_test(tc, test_pubsub_notifications);
    tcase_add_test(tc, test_bad_urls);
    suite_add_tcase(s, tc);
    tc = tcase_create("replica");
    tcase_add_unchecked_fixture(tc, start_both, stop_all);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reads_from_replica);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    fixture = argc > 1 ? argv[1] : getenv("CHAT_TEST_REDIS_FIXTURE");
    if (fixture == NULL) {
        fprintf(stderr, "usage: %s path/to/tests/fixtures/redis.sh\n", argv[0]);
        return 1;
    }
    contract_init(argc, argv, "redis:");
    return chat_test_run(redis_suite());
}
