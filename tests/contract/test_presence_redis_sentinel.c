/*
 * The Redis presence store through Sentinel, on real servers: run under
 * `redis.sh exec --sentinel` (a primary, 2 replicas, 3 Sentinels with quorum
 * 2), whose environment names the URL and each server's directory. argv[1] is
 * tests/fixtures/redis.sh, to kill and restart them.
 *
 * The cases run in order on the same servers; the last two make Sentinel fail
 * over (the primary stopped with SIGSTOP, then the new primary killed -9
 * under load), finding the current primary through Sentinel. Figures are
 * printed as "sentinel: ..." lines.
 */
#include <pthread.h>
#include <stdatomic.h>
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
static const char *base_url; /* redis+sentinel://S1,S2,S3/chat */
static const chat_presence_store_ops *P;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        fprintf(stderr, "%s is not set: run under redis.sh exec --sentinel\n", name);
        exit(1);
    }
    return v;
}

static int port_of_dir(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/port", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    int port = 0;
    ck_assert_int_eq(fscanf(f, "%d", &port), 1);
    fclose(f);
    return port;
}

static redisContext *connect_port(int port)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    ck_assert_msg(c != NULL && c->err == 0, "cannot connect to 127.0.0.1:%d", port);
    redisSetTimeout(c, tv);
    return c;
}

/* Calls of one command so far on the server at port (INFO commandstats). */
static long long calls_of(int port, const char *cmd)
{
    redisContext *c = connect_port(port);
    redisReply *r = redisCommand(c, "INFO commandstats");
    ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    char key[64];
    snprintf(key, sizeof key, "cmdstat_%s:calls=", cmd);
    const char *at = strstr(r->str, key);
    long long n = at ? strtoll(at + strlen(key), NULL, 10) : 0;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* The primary's port as Sentinel sentinel_dir sees it (0 when it cannot say). */
static int sentinel_primary(const char *sentinel_dir)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port_of_dir(sentinel_dir), tv);
    int port = 0;
    if (c && c->err == 0) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name chat");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
            port = atoi(r->element[1]->str);
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return port;
}

/* The value of key in a flat key/value array reply, or NULL. */
static const char *field_of(const redisReply *e, const char *key)
{
    for (size_t j = 0; e->type == REDIS_REPLY_ARRAY && j + 1 < e->elements; j += 2)
        if (e->element[j]->str && strcmp(e->element[j]->str, key) == 0)
            return e->element[j + 1]->str;
    return NULL;
}

/* Whether Sentinel sentinel_dir flags the replica on port as down. */
static bool sentinel_says_down(const char *sentinel_dir, int port)
{
    redisContext *c = connect_port(port_of_dir(sentinel_dir));
    redisReply *r = redisCommand(c, "SENTINEL replicas chat");
    bool down = false;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        int p = 0;
        const char *flags = "";
        for (size_t j = 0; j + 1 < e->elements; j += 2) {
            if (strcmp(e->element[j]->str, "port") == 0)
                p = atoi(e->element[j + 1]->str);
            else if (strcmp(e->element[j]->str, "flags") == 0)
                flags = e->element[j + 1]->str;
        }
        if (p == port)
            down = strstr(flags, "s_down") != NULL;
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return down;
}

/* Until every Sentinel knows the other two again (after restarts). */
static void wait_sentinels_ready(void)
{
    const char *dirs[3] = {env("CHAT_TEST_REDIS_SENTINEL1_DIR"),
                           env("CHAT_TEST_REDIS_SENTINEL2_DIR"),
                           env("CHAT_TEST_REDIS_SENTINEL3_DIR")};
    long long t0 = contract_now_ms();
    for (;;) {
        int ready = 0;
        for (int i = 0; i < 3; i++) {
            const char *out = contract_sh(
                "redis-cli -p %d sentinel master chat | paste -sd' ' | grep -o "
                "'num-other-sentinels [0-9]*' || true",
                port_of_dir(dirs[i]));
            ready += strcmp(out, "num-other-sentinels 2") == 0;
        }
        if (ready == 3)
            return;
        ck_assert_msg(contract_now_ms() - t0 < 30000, "the Sentinels did not find each other");
        contract_sleep_ms(200);
    }
}

static void *open_store(const char *opts)
{
    char url[600];
    snprintf(url, sizeof url, "%s/0%s", base_url, opts);
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

/* Writes users[0..n) through writer and waits until both replicas have them. */
static void seed_users(void *writer, char users[][64], int n, const char *tag, int64_t now)
{
    for (int i = 0; i < n; i++) {
        contract_uniq(tag, users[i], sizeof users[i]);
        ck_assert_chat_ok(P->heartbeat(writer, users[i], now, 600000, NULL));
    }
    int primary = sentinel_primary(env("CHAT_TEST_REDIS_SENTINEL2_DIR"));
    ck_assert_str_eq(contract_sh("redis-cli -p %d WAIT 2 5000", primary), "2");
}

START_TEST(test_1_reads_spread_over_replicas)
{
    void *writer = open_store("?timeout_ms=2000");
    void *reader = open_store("?timeout_ms=2000"); /* another process: no read-your-writes */
    enum { N = 20, READS = 200 };
    char users[N][64];
    int64_t now = chati_now_ms();
    seed_users(writer, users, N, "S", now);
    int r1 = port_of_dir(env("CHAT_TEST_REDIS_REPLICA1_DIR"));
    int r2 = port_of_dir(env("CHAT_TEST_REDIS_REPLICA2_DIR"));
    int pr = port_of_dir(env("CHAT_TEST_REDIS_PRIMARY_DIR"));
    long long c1 = calls_of(r1, "hmget"), c2 = calls_of(r2, "hmget"), cp = calls_of(pr, "hmget");
    for (int i = 0; i < READS; i++)
        ck_assert_int_eq(get1(reader, users[i % N], now + 1), CHAT_PRESENCE_ACTIVE);
    long long d1 = calls_of(r1, "hmget") - c1, d2 = calls_of(r2, "hmget") - c2,
              dp = calls_of(pr, "hmget") - cp;
    printf("sentinel: %d reads: replica1 %lld, replica2 %lld, primary %lld\n", READS, d1, d2,
           dp);
    ck_assert_int_eq(d1 + d2 + dp, READS);
    ck_assert_int_eq(dp, 0);
    /* Taken in turn: each replica serves about half. */
    ck_assert_int_ge(d1, READS / 4);
    ck_assert_int_ge(d2, READS / 4);

    /* The writer reads what it just wrote from the primary (read-your-writes,
     * for 2 s after the write). */
    ck_assert_chat_ok(P->heartbeat(writer, users[0], now, 600000, NULL));
    cp = calls_of(pr, "hmget");
    ck_assert_int_eq(get1(writer, users[0], now + 1), CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(calls_of(pr, "hmget") - cp, 1);

    /* read=primary: every read on the primary. */
    void *on_primary = open_store("?read=primary");
    cp = calls_of(pr, "hmget");
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(get1(on_primary, users[i], now + 1), CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(calls_of(pr, "hmget") - cp, 10);
    P->close(on_primary);
    P->close(reader);
    P->close(writer);
}
END_TEST

START_TEST(test_2_killed_replica_is_skipped)
{
    void *writer = open_store("");
    void *reader = open_store("");
    enum { N = 10, READS = 100 };
    char users[N][64];
    int64_t now = chati_now_ms();
    seed_users(writer, users, N, "K", now);
    const char *dir1 = env("CHAT_TEST_REDIS_REPLICA1_DIR");
    int r1 = port_of_dir(dir1), r2 = port_of_dir(env("CHAT_TEST_REDIS_REPLICA2_DIR"));
    /* Pooled connections to replica1 first, so its death is seen in use. */
    for (int i = 0; i < 4; i++)
        get1(reader, users[0], now + 1);

    long long t_kill = contract_now_ms();
    contract_sh("bash '%s' kill '%s'", fixture, dir1); /* returns once it is gone */
    long long c2 = calls_of(r2, "hmget");
    long long t0 = contract_now_ms(), worst = 0;
    for (int i = 0; i < READS; i++) {
        long long t = contract_now_ms();
        ck_assert_int_eq(get1(reader, users[i % N], now + 1), CHAT_PRESENCE_ACTIVE);
        if (contract_now_ms() - t > worst)
            worst = contract_now_ms() - t;
    }
    long long took = contract_now_ms() - t0, d2 = calls_of(r2, "hmget") - c2;
    printf("sentinel: replica1 killed: %d reads in %lld ms (slowest %lld ms), replica2 served "
           "%lld\n",
           READS, took, worst, d2);
    ck_assert_int_lt(worst, 1000);
    ck_assert_int_ge(d2, READS / 2);

    /* Once Sentinel flags it down, it is left out of the list too. */
    long long t1 = contract_now_ms();
    while (!sentinel_says_down(env("CHAT_TEST_REDIS_SENTINEL1_DIR"), r1) &&
           contract_now_ms() - t1 < 15000)
        contract_sleep_ms(100);
    printf("sentinel: replica1 flagged s_down %lld ms after kill -9 was sent\n",
           contract_now_ms() - t_kill);
    contract_sleep_ms(1200); /* the store lists the replicas once a second */
    c2 = calls_of(r2, "hmget");
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(get1(reader, users[i % N], now + 1), CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(calls_of(r2, "hmget") - c2, 20);

    /* Back: served again once Sentinel lists it (within a few seconds). */
    contract_sh("bash '%s' restart '%s'", fixture, dir1);
    long long c1 = calls_of(r1, "hmget");
    t1 = contract_now_ms();
    while (calls_of(r1, "hmget") == c1 && contract_now_ms() - t1 < 20000) {
        get1(reader, users[0], now + 1);
        contract_sleep_ms(50);
    }
    printf("sentinel: replica1 restarted: reads reach it again after %lld ms\n",
           contract_now_ms() - t1);
    ck_assert_int_gt(calls_of(r1, "hmget"), c1);
    P->close(reader);
    P->close(writer);
}
END_TEST

START_TEST(test_3_sentinel_down_is_skipped)
{
    const char *s1 = env("CHAT_TEST_REDIS_SENTINEL1_DIR"), *s2 = env("CHAT_TEST_REDIS_SENTINEL2_DIR");
    /* The first Sentinel of the URL down: the second answers. */
    contract_sh("bash '%s' kill '%s'", fixture, s1);
    long long t0 = contract_now_ms();
    void *impl = open_store("");
    long long opened = contract_now_ms() - t0;
    char u[64];
    contract_uniq("D", u, sizeof u);
    int64_t now = chati_now_ms();
    ck_assert_chat_ok(P->heartbeat(impl, u, now, 60000, NULL));
    ck_assert_int_eq(get1(impl, u, now + 1), CHAT_PRESENCE_ACTIVE);
    P->close(impl);
    /* Two of three down: the last one still says where the primary is. */
    contract_sh("bash '%s' kill '%s'", fixture, s2);
    t0 = contract_now_ms();
    impl = open_store("");
    long long opened2 = contract_now_ms() - t0;
    ck_assert_chat_ok(P->heartbeat(impl, u, now + 2, 60000, NULL));
    ck_assert_int_eq(get1(impl, u, now + 3), CHAT_PRESENCE_ACTIVE);
    P->close(impl);
    printf("sentinel: store opened in %lld ms with Sentinel 1 down, %lld ms with 1 and 2 down\n",
           opened, opened2);
    ck_assert_int_lt(opened, 1000);
    ck_assert_int_lt(opened2, 1000);
    contract_sh("bash '%s' restart '%s'", fixture, s1);
    contract_sh("bash '%s' restart '%s'", fixture, s2);

    /* All three down: a clear error, quickly. */
    const char *s3 = env("CHAT_TEST_REDIS_SENTINEL3_DIR");
    contract_sh("bash '%s' kill '%s'", fixture, s1);
    contract_sh("bash '%s' kill '%s'", fixture, s2);
    contract_sh("bash '%s' kill '%s'", fixture, s3);
    void *none = NULL;
    char url[600];
    snprintf(url, sizeof url, "%s/0", base_url);
    CONTRACT_ASSERT_DOWN(P->open(url, contract_cfg(), &none), "sentinel", 2000);
    contract_sh("bash '%s' restart '%s'", fixture, s1);
    contract_sh("bash '%s' restart '%s'", fixture, s2);
    contract_sh("bash '%s' restart '%s'", fixture, s3);
}
END_TEST

/* The fixture directory of the server on port (primary or a replica). */
static const char *dir_of_port(int port)
{
    const char *names[3] = {"CHAT_TEST_REDIS_PRIMARY_DIR", "CHAT_TEST_REDIS_REPLICA1_DIR",
                            "CHAT_TEST_REDIS_REPLICA2_DIR"};
    for (int i = 0; i < 3; i++)
        if (port_of_dir(env(names[i])) == port)
            return env(names[i]);
    ck_abort_msg("no fixture server on port %d", port);
    return NULL;
}

/* Until the server on port reports role (ROLE's first word). */
static bool wait_role(int port, const char *role, int max_ms)
{
    long long t0 = contract_now_ms();
    while (strcmp(contract_sh("redis-cli -p %d ROLE | head -1", port), role) != 0) {
        if (contract_now_ms() - t0 > max_ms)
            return false;
        contract_sleep_ms(100);
    }
    return true;
}

START_TEST(test_4_stuck_primary)
{
    const char *watch = env("CHAT_TEST_REDIS_SENTINEL2_DIR");
    wait_sentinels_ready();
    int old_port = sentinel_primary(watch);
    const char *pdir = dir_of_port(old_port);
    void *impl = open_store("?timeout_ms=500");
    char u[64];
    contract_uniq("H", u, sizeof u);
    ck_assert_chat_ok(P->heartbeat(impl, u, chati_now_ms(), 60000, NULL));

    /* Stopped, not dead: connections hang instead of being refused. */
    long long t0 = contract_now_ms(), worst = 0, t_ok = 0;
    contract_sh("kill -STOP $(cat '%s/redis.pid')", pdir);
    int failed = 0;
    while (t_ok == 0 && contract_now_ms() - t0 < 30000) {
        long long t = contract_now_ms();
        chat_err rv = P->heartbeat(impl, u, chati_now_ms(), 60000, NULL);
        long long dt = contract_now_ms() - t;
        if (dt > worst)
            worst = dt;
        if (rv == CHAT_OK) {
            t_ok = contract_now_ms();
        } else {
            ck_assert_msg(rv == CHAT_ERR_SERVICE_UNAVAILABLE, "%s (%s)", chat_err_name(rv),
                          chat_last_errmsg());
            failed++;
        }
    }
    /* Wake it before any assertion, so later cases find it either way. The
     * store may have followed the failover leader before the Sentinel the
     * test watches heard of the switch: wait for that one too. */
    contract_sh("kill -CONT $(cat '%s/redis.pid')", pdir);
    int new_port = sentinel_primary(watch);
    while ((new_port == old_port || new_port == 0) && contract_now_ms() - t0 < 40000) {
        contract_sleep_ms(50);
        new_port = sentinel_primary(watch);
    }
    printf("sentinel: primary stopped (SIGSTOP): %d writes failed, each within %lld ms "
           "(timeout_ms=500); writes ok again after %lld ms, on :%d\n",
           failed, worst, t_ok ? t_ok - t0 : -1, new_port);
    ck_assert_msg(t_ok != 0, "writes did not resume within 30 s");
    ck_assert_int_ne(new_port, old_port);
    ck_assert_int_lt(worst, 2 * 500 + 500);
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", new_port, u), "1");

    /* Woken up, the old primary is made a replica; writes stay on the new one. */
    ck_assert_msg(wait_role(old_port, "slave", 30000), "the old primary was not demoted");
    char v[64];
    contract_uniq("V", v, sizeof v);
    ck_assert_chat_ok(P->heartbeat(impl, v, chati_now_ms(), 60000, NULL));
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", new_port, v), "1");
    P->close(impl);
}
END_TEST

/* Until Sentinel sees two healthy replicas of the current primary (after a
 * failover and a restart it reconfigures them within seconds). */
static void wait_settled(void)
{
    wait_sentinels_ready();
    const char *watch = env("CHAT_TEST_REDIS_SENTINEL2_DIR");
    long long t0 = contract_now_ms();
    for (;;) {
        int primary = sentinel_primary(watch), good = 0;
        redisContext *c = connect_port(port_of_dir(watch));
        redisReply *r = redisCommand(c, "SENTINEL replicas chat");
        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            const char *flags = field_of(r->element[i], "flags");
            const char *link = field_of(r->element[i], "master-link-status");
            const char *mport = field_of(r->element[i], "master-port");
            const char *port = field_of(r->element[i], "port");
            bool ok = flags && strcmp(flags, "slave") == 0 && link && strcmp(link, "ok") == 0 &&
                      mport && atoi(mport) == primary && port &&
                      strcmp(contract_sh("redis-cli -p %s ROLE | head -1", port), "slave") == 0;
            good += ok;
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (good == 2)
            return;
        ck_assert_msg(contract_now_ms() - t0 < 40000, "Sentinel did not settle: %d good replicas",
                      good);
        contract_sleep_ms(200);
    }
}

/* ---- failover under load ---- */

static struct {
    void *writer, *reader;
    atomic_bool stop;
    pthread_mutex_t lock;
    long long first_fail, last_fail; /* ms, contract_now_ms() */
    long long writes_ok, writes_failed, reads_ok, reads_failed;
    /* The sequential writer's acknowledged users, with their times. */
    int acked;
    long long acked_at[200000];
} load;

static void note(bool write, bool ok)
{
    long long now = contract_now_ms();
    pthread_mutex_lock(&load.lock);
    if (write && !ok) {
        if (load.first_fail == 0)
            load.first_fail = now;
        load.last_fail = now;
    }
    if (write)
        ok ? load.writes_ok++ : load.writes_failed++;
    else
        ok ? load.reads_ok++ : load.reads_failed++;
    pthread_mutex_unlock(&load.lock);
}

/* Heartbeats and away toggles for a few users, and reads of them elsewhere. */
static void *busy(void *arg)
{
    int id = (int)(intptr_t)arg;
    char user[64];
    snprintf(user, sizeof user, "F-%d-%d", (int)getpid(), id);
    for (int i = 0; !atomic_load(&load.stop); i++) {
        int64_t now = chati_now_ms();
        bool ok = i % 5 == 4 ? P->set_away(load.writer, user, i % 10 == 4, now, NULL) == CHAT_OK
                             : P->heartbeat(load.writer, user, now, 60000, NULL) == CHAT_OK;
        note(true, ok);
        const char *ids[1] = {user};
        chat_presence p;
        note(false, P->get(load.reader, ids, 1, now, &p) == CHAT_OK);
        contract_sleep_ms(2);
    }
    return NULL;
}

/* One user after another, to count acknowledged writes the failover lost. */
static void *sequential(void *arg)
{
    CHATI_UNUSED(arg);
    char user[64];
    while (!atomic_load(&load.stop) && load.acked < (int)CHATI_ARRAY_LEN(load.acked_at)) {
        snprintf(user, sizeof user, "L-%d-%d", (int)getpid(), load.acked);
        bool ok = P->heartbeat(load.writer, user, chati_now_ms(), 600000, NULL) == CHAT_OK;
        note(true, ok);
        if (ok) {
            pthread_mutex_lock(&load.lock);
            load.acked_at[load.acked++] = contract_now_ms();
            pthread_mutex_unlock(&load.lock);
        } else {
            contract_sleep_ms(1); /* failures come at once: do not spin */
        }
    }
    return NULL;
}

START_TEST(test_5_failover_under_load)
{
    const char *watch = env("CHAT_TEST_REDIS_SENTINEL2_DIR");
    wait_settled();
    int old_port = sentinel_primary(watch);
    const char *pdir = dir_of_port(old_port);
    /* Both replicas linked (after test 4 one of them is the old primary). */
    ck_assert_str_eq(contract_sh("redis-cli -p %d WAIT 2 20000", old_port), "2");
    pthread_mutex_init(&load.lock, NULL);
    load.writer = open_store("?timeout_ms=500");
    load.reader = open_store("?timeout_ms=500");
    enum { BUSY = 3 };
    pthread_t t[BUSY + 1];
    for (int i = 0; i < BUSY; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, busy, (void *)(intptr_t)i), 0);
    ck_assert_int_eq(pthread_create(&t[BUSY], NULL, sequential, NULL), 0);
    contract_sleep_ms(1500);

    long long t_kill = contract_now_ms();
    contract_sh("bash '%s' kill '%s'", fixture, pdir);
    int new_port = 0;
    while ((new_port = sentinel_primary(watch)) == old_port || new_port == 0) {
        ck_assert_msg(contract_now_ms() - t_kill < 60000, "no failover within 60 s");
        contract_sleep_ms(20);
    }
    long long t_switch = contract_now_ms();
    contract_sleep_ms(3000); /* the load goes on after the switch */
    atomic_store(&load.stop, true);
    for (int i = 0; i <= BUSY; i++)
        pthread_join(t[i], NULL);
    /* Writes work again from the first one acknowledged after the last failure. */
    long long t_ok = 0;
    for (int i = 0; i < load.acked && t_ok == 0; i++)
        if (load.acked_at[i] > t_kill && load.acked_at[i] > load.last_fail)
            t_ok = load.acked_at[i];

    /* Acknowledged writes missing on the new primary. */
    redisContext *c = connect_port(new_port);
    int lost = 0;
    long long lost_before_kill_max = 0;
    for (int i = 0; i < load.acked; i++) {
        redisReply *r = redisCommand(c, "EXISTS presence:u:L-%d-%d", (int)getpid(), i);
        ck_assert_ptr_nonnull(r);
        if (r->integer == 0) {
            lost++;
            if (t_kill - load.acked_at[i] > lost_before_kill_max)
                lost_before_kill_max = t_kill - load.acked_at[i];
        }
        freeReplyObject(r);
    }
    redisFree(c);
    int acked_before_kill = 0;
    for (int i = 0; i < load.acked; i++)
        acked_before_kill += load.acked_at[i] <= t_kill;

    printf("sentinel: kill -9 of the primary: Sentinel switched to :%d after %lld ms\n",
           new_port, t_switch - t_kill);
    printf("sentinel: client write error window %lld ms (first failure +%lld ms, last +%lld "
           "ms); writes ok again +%lld ms after the kill, %lld ms after the switch\n",
           load.first_fail ? load.last_fail - load.first_fail : 0,
           load.first_fail ? load.first_fail - t_kill : 0,
           load.last_fail ? load.last_fail - t_kill : 0, t_ok ? t_ok - t_kill : -1,
           t_ok ? t_ok - t_switch : -1);
    printf("sentinel: calls: writes %lld ok / %lld failed, reads %lld ok / %lld failed\n",
           load.writes_ok, load.writes_failed, load.reads_ok, load.reads_failed);
    printf("sentinel: acknowledged writes lost: %d of %d acknowledged before the kill (the "
           "oldest lost one acknowledged %lld ms before it)\n",
           lost, acked_before_kill, lost_before_kill_max);

    ck_assert_msg(load.first_fail != 0, "no write failed: was the primary killed?");
    ck_assert_msg(t_ok != 0, "writes did not work again within 3 s of the switch");
    ck_assert_int_lt(t_switch - t_kill, 30000);
    /* The client follows within a second of Sentinel's switch (the watcher
     * polls too, so the client may even be first). */
    ck_assert_int_lt(t_ok - t_switch, 1000);
    ck_assert_int_le(load.last_fail, t_switch + 1000);
    /* Asynchronous replication loses at most the last moment before the kill. */
    ck_assert_int_le(lost_before_kill_max, 1000);
    P->close(load.reader);
    P->close(load.writer);

    /* The old primary comes back as a replica of the new one: writes keep
     * going to the new primary. */
    contract_sh("bash '%s' restart '%s'", fixture, pdir);
    void *impl = open_store("");
    char u[64];
    contract_uniq("B", u, sizeof u);
    ck_assert_chat_ok(P->heartbeat(impl, u, chati_now_ms(), 60000, NULL));
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", new_port, u), "1");
    P->close(impl);
}
END_TEST

/* Asynchronous replication made visible: with both replicas cut off (as by a
 * network partition), writes the primary acknowledged die with it; the next
 * heartbeats heal them. */
START_TEST(test_6_async_replication_loses_writes)
{
    const char *watch = env("CHAT_TEST_REDIS_SENTINEL2_DIR");
    wait_settled();
    int old_port = sentinel_primary(watch);
    const char *pdir = dir_of_port(old_port);
    ck_assert_str_eq(contract_sh("redis-cli -p %d WAIT 2 20000", old_port), "2");
    const char *names[3] = {"CHAT_TEST_REDIS_PRIMARY_DIR", "CHAT_TEST_REDIS_REPLICA1_DIR",
                            "CHAT_TEST_REDIS_REPLICA2_DIR"};
    void *impl = open_store("?timeout_ms=500");
    enum { N = 200 };
    static char users[N][64];
    int64_t now = chati_now_ms();
    for (int i = 0; i < 3; i++)
        if (strcmp(env(names[i]), pdir) != 0)
            contract_sh("kill -STOP $(cat '%s/redis.pid')", env(names[i]));
    /* Stopped replicas still receive into their sockets: cut the links too
     * (they cannot reconnect while stopped). */
    contract_sh("redis-cli -p %d CLIENT KILL TYPE replica", old_port);
    for (int i = 0; i < N; i++) {
        contract_uniq("A", users[i], sizeof users[i]);
        ck_assert_chat_ok(P->heartbeat(impl, users[i], now, 600000, NULL));
    }
    contract_sh("bash '%s' kill '%s'", fixture, pdir);
    for (int i = 0; i < 3; i++)
        if (strcmp(env(names[i]), pdir) != 0)
            contract_sh("kill -CONT $(cat '%s/redis.pid')", env(names[i]));
    long long t0 = contract_now_ms();
    int new_port;
    while ((new_port = sentinel_primary(watch)) == old_port || new_port == 0) {
        ck_assert_msg(contract_now_ms() - t0 < 60000, "no failover within 60 s");
        contract_sleep_ms(50);
    }
    int lost = 0;
    for (int i = 0; i < N; i++)
        lost += strcmp(contract_sh("redis-cli -p %d EXISTS presence:u:%s", new_port, users[i]),
                       "0") == 0;
    /* The next heartbeat writes it again, and says it changed. */
    long long t1 = contract_now_ms();
    int healed = 0;
    for (int i = 0; i < N; i++) {
        bool changed = false;
        chat_err rv;
        while ((rv = P->heartbeat(impl, users[i], now + 1000, 600000, &changed)) != CHAT_OK)
            ck_assert_msg(contract_now_ms() - t1 < 10000, "%s", chat_last_errmsg());
        healed += changed;
        ck_assert_int_eq(get1(impl, users[i], now + 1001), CHAT_PRESENCE_ACTIVE);
    }
    printf("sentinel: replicas cut off, primary killed: %d of %d acknowledged heartbeats lost; "
           "the next heartbeat restored %d (changed = true)\n",
           lost, N, healed);
    ck_assert_int_gt(lost, 0);
    ck_assert_int_eq(healed, lost);
    contract_sh("bash '%s' restart '%s'", fixture, pdir);
    P->close(impl);
}
END_TEST

/* SENTINEL FAILOVER (what an operator runs): the old primary is demoted in
 * place, so pooled connections to it get READONLY; writes move over. */
START_TEST(test_7_manual_failover)
{
    const char *watch = env("CHAT_TEST_REDIS_SENTINEL2_DIR");
    wait_settled();
    int old_port = sentinel_primary(watch);
    ck_assert_str_eq(contract_sh("redis-cli -p %d WAIT 2 20000", old_port), "2");
    void *impl = open_store("?timeout_ms=1000");
    char u[64];
    contract_uniq("M", u, sizeof u);
    ck_assert_chat_ok(P->heartbeat(impl, u, chati_now_ms(), 60000, NULL));

    ck_assert_str_eq(contract_sh("redis-cli -p %d SENTINEL FAILOVER chat", port_of_dir(watch)),
                     "OK");
    long long t0 = contract_now_ms(), first_fail = 0, last_fail = 0, asked = t0;
    int new_port = old_port, failed = 0, ok_after = 0;
    while (ok_after < 50 && contract_now_ms() - t0 < 40000) {
        /* Sentinel may abort a promotion that overruns failover-timeout on a
         * loaded machine: ask again (what an operator would do). */
        if (new_port == old_port && contract_now_ms() - asked > 10000) {
            fprintf(stderr, "sentinel: SENTINEL FAILOVER again: %s\n",
                   contract_sh("redis-cli -p %d SENTINEL FAILOVER chat", port_of_dir(watch)));
            asked = contract_now_ms();
        }
        chat_err rv = P->heartbeat(impl, u, chati_now_ms(), 60000, NULL);
        long long now = contract_now_ms();
        if (rv != CHAT_OK) {
            failed++;
            last_fail = now;
            if (first_fail == 0)
                first_fail = now;
        }
        if (new_port == old_port) {
            new_port = sentinel_primary(watch);
            new_port = new_port ? new_port : old_port;
        } else if (rv == CHAT_OK) {
            ok_after++;
        }
        contract_sleep_ms(5);
    }
    const char *ro = contract_sh("redis-cli -p %d INFO errorstats | grep -o "
                                 "'READONLY:count=[0-9]*' || echo none",
                                 old_port);
    printf("sentinel: SENTINEL FAILOVER: switched to :%d; %d writes failed, error window %lld "
           "ms; READONLY replies from the old primary: %s\n",
           new_port, failed, first_fail ? last_fail - first_fail : 0, ro);
    if (new_port == old_port) /* why not, for the log */
        system(contract_sh("echo 'for d in \"$CHAT_TEST_REDIS_SENTINEL1_DIR\" "
                           "\"$CHAT_TEST_REDIS_SENTINEL2_DIR\" \"$CHAT_TEST_REDIS_SENTINEL3_DIR\"; "
                           "do tail -15 $d/redis.log >&2; done'"));
    ck_assert_int_ne(new_port, old_port);
    ck_assert_int_eq(ok_after, 50);
    ck_assert_int_lt(first_fail ? last_fail - first_fail : 0, 5000);
    /* The old primary is a replica now and got none of the later writes. */
    ck_assert(wait_role(old_port, "slave", 20000));
    char v[64];
    contract_uniq("N", v, sizeof v);
    ck_assert_chat_ok(P->heartbeat(impl, v, chati_now_ms(), 60000, NULL));
    ck_assert_str_eq(contract_sh("redis-cli -p %d EXISTS presence:u:%s", new_port, v), "1");
    P->close(impl);
}
END_TEST

static Suite *sentinel_suite(void)
{
    Suite *s = suite_create("presence redis sentinel");
    TCase *tc = tcase_create("sentinel");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_1_reads_spread_over_replicas);
    tcase_add_test(tc, test_2_killed_replica_is_skipped);
    tcase_add_test(tc, test_3_sentinel_down_is_skipped);
    tcase_add_test(tc, test_4_stuck_primary);
    tcase_add_test(tc, test_5_failover_under_load);
    tcase_add_test(tc, test_6_async_replication_loses_writes);
    tcase_add_test(tc, test_7_manual_failover);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    fixture = argc > 1 ? argv[1] : NULL;
    if (fixture == NULL) {
        fprintf(stderr, "usage: redis.sh exec --sentinel %s path/to/tests/fixtures/redis.sh\n",
                argv[0]);
        return 1;
    }
    base_url = env("CHAT_TEST_REDIS_URL");
    contract_init(argc, argv, "redis+sentinel:");
    return chat_test_run(sentinel_suite());
}
