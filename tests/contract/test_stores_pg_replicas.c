/*
 * The PostgreSQL stores on the seed's cluster shape: a primary, a synchronous
 * standby "sync" and an asynchronous one "async" (FIRST 1 (sync, async),
 * remote_apply), started by `postgres.sh exec --standbys`, which passes the
 * fixture's path as argv[1] and the servers in CHAT_TEST_PG_ALL and
 * CHAT_TEST_PG_{PRIMARY,SYNC,ASYNC}_DIR. The tests share those servers and run
 * in order, each leaving a working cluster (the last one fails over):
 *   reads spread over both standbys, each caller reads its own writes;
 *   the sync standby killed: writes go on (async turns sync), latency printed;
 *   both standbys down: a write fails within the timeout, nothing half-done;
 *   a stuck primary (SIGSTOP): clear errors in bounded time, reads go on;
 *   a stuck standby: reads go to the other servers after one bounded wait;
 *   primary killed, sync standby promoted, async follows: no acknowledged
 *   write lost, time to the first write printed.
 * Figures go to stdout ("replicas: ..."), for ctest -V.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chat/backend/store.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

/* Server-side statement timeout the tests run with; the client waits 0.5 s
 * longer (CHATI_PG_CLIENT_GRACE_MS). */
#define TIMEOUT_MS 2000

static const char *fixture;
static const char *dir_primary, *dir_sync, *dir_async;
static char url[1024];

static int port_of_dir(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/port", dir);
    FILE *f = fopen(path, "r");
    int port = 0;
    if (f != NULL && fscanf(f, "%d", &port) != 1)
        port = 0;
    if (f != NULL)
        fclose(f);
    ck_assert_int_gt(port, 0);
    return port;
}

/* One value from psql on the server in dir. */
static const char *psql(const char *dir, const char *sql)
{
    return contract_sh("%spsql -X -At -h 127.0.0.1 -p %d -U postgres -d postgres -c \"%s\"",
                       getuid() == 0 ? "runuser -u postgres -- " : "", port_of_dir(dir), sql);
}

static void fx(const char *verb, const char *dir, const char *arg)
{
    contract_sh("bash '%s' %s '%s' %s%s%s >/dev/null 2>&1; echo done", fixture, verb, dir,
                arg != NULL ? "'" : "", arg != NULL ? arg : "", arg != NULL ? "'" : "");
}

static const chat_auth_store_ops *ops(void)
{
    const chat_auth_store_ops *o = chati_backend_find(CHATI_IFACE_AUTH, "postgresql://x");
    ck_assert_ptr_nonnull(o);
    return o;
}

static void *open_auth(void)
{
    void *impl = NULL;
    ck_assert_chat_ok(ops()->open(url, contract_cfg(), &impl));
    return impl;
}

typedef struct cred {
    chat_credential c;
    char email[64];
} cred;

static void make_cred(cred *k)
{
    memset(k, 0, sizeof *k);
    ck_assert_chat_ok(chati_id_new('U', k->c.user_id));
    ck_assert_chat_ok(chati_id_new('T', k->c.team_id));
    snprintf(k->email, sizeof k->email, "%s@example.com", k->c.user_id);
    k->c.email = k->email;
    k->c.pwhash = "hash";
    k->c.token_gen = 1;
    k->c.active = true;
}

/* Rows of the credentials table for user_id on the server in dir. */
static int rows_of(const char *dir, const char *user_id)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM replicas.credentials WHERE user_id = '%s'",
             user_id);
    return atoi(psql(dir, sql));
}

/* Statements on credentials that the server in dir has run (reads, on a
 * standby), from pg_stat_statements. */
static long reads_on(const char *dir)
{
    return atol(psql(dir, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                          " WHERE query LIKE '%FROM credentials%'"));
}

/* Until the standby named name is the synchronous one of the primary in dir. */
static void wait_sync(const char *dir, const char *name)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_replication WHERE application_name = '%s'"
             " AND sync_state = 'sync'",
             name);
    for (int i = 0; i < 300 && strcmp(psql(dir, sql), "1") != 0; i++)
        contract_sleep_ms(50);
    ck_assert_str_eq(psql(dir, sql), "1");
}

/* SIGSTOP / SIGCONT the server in dir: its postmaster and every child. */
static void signal_server(const char *dir, const char *sig)
{
    contract_sh("pid=$(head -1 '%s/data/postmaster.pid'); kill -%s $pid $(pgrep -P $pid);"
                " echo done",
                dir, sig);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Reads are served by both standbys; every write reads back at once. */
START_TEST(reads_spread_and_own_writes)
{
    psql(dir_primary, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    void *h = open_auth();
    long sync0 = reads_on(dir_sync), async0 = reads_on(dir_async);
    long primary0 = reads_on(dir_primary);
    enum { N = 40 };
    cred k[N];
    for (int i = 0; i < N; i++) {
        make_cred(&k[i]);
        ck_assert_chat_ok(ops()->create(h, &k[i].c));
        /* Right after the write: the sync standby has applied it. */
        chat_credential *got = NULL;
        ck_assert_chat_ok(ops()->get(h, k[i].c.user_id, &got));
        ck_assert_str_eq(got->user_id, k[i].c.user_id);
        chat_credential_free(got);
    }
    for (int i = 0; i < 4 * N; i++) {
        chat_credential *got = NULL;
        ck_assert_chat_ok(ops()->get(h, k[i % N].c.user_id, &got));
        chat_credential_free(got);
    }
    long on_sync = reads_on(dir_sync) - sync0, on_async = reads_on(dir_async) - async0;
    long on_primary = reads_on(dir_primary) - primary0;
    printf("replicas: %d reads: %ld on the sync standby, %ld on the async standby,"
           " %ld on the primary\n",
           5 * N, on_sync, on_async, on_primary);
    ck_assert_int_gt(on_sync, N / 2);
    ck_assert_int_gt(on_async, N / 2);
    ops()->close(h);
}
END_TEST

/* The sync standby killed: FIRST 1 makes the async one synchronous, writes
 * go on without blocking; it comes back as the synchronous one. */
START_TEST(sync_standby_killed_writes_continue)
{
    void *h = open_auth();
    cred k;
    make_cred(&k);
    ck_assert_chat_ok(ops()->create(h, &k.c));
    fx("kill", dir_sync, NULL);
    enum { N = 20 };
    long long ms[N];
    for (int i = 0; i < N; i++) {
        long long t0 = contract_now_ms();
        ck_assert_chat_ok(ops()->bump_generation(h, k.c.user_id, NULL));
        ms[i] = contract_now_ms() - t0;
        chat_credential *got = NULL;
        ck_assert_chat_ok(ops()->get(h, k.c.user_id, &got));
        ck_assert_int_eq(got->token_gen, 2 + i);
        chat_credential_free(got);
    }
    qsort(ms, N, sizeof ms[0], cmp_ll);
    printf("replicas: sync standby down: %d writes, latency min %lld ms, median %lld ms,"
           " max %lld ms\n",
           N, ms[0], ms[N / 2], ms[N - 1]);
    ck_assert_int_lt(ms[N - 1], TIMEOUT_MS);
    ck_assert_str_eq(psql(dir_primary, "SELECT string_agg(application_name, ',')"
                                       " FROM pg_stat_replication WHERE sync_state = 'sync'"),
                     "async");
    contract_sh("bash '%s' restart '%s' >/dev/null; echo done", fixture, dir_sync);
    wait_sync(dir_primary, "sync");
    ck_assert_chat_ok(ops()->bump_generation(h, k.c.user_id, NULL));
    ops()->close(h);
}
END_TEST

/* Both standbys down: a commit cannot be confirmed. It fails within the
 * timeout, saying so; it is invisible meanwhile (not half-done), lands whole
 * once a standby confirms it, and a retry with the same ids is refused as a
 * duplicate rather than applied twice. */
START_TEST(both_standbys_down_write_fails_bounded)
{
    void *h = open_auth();
    cred k;
    make_cred(&k);
    fx("kill", dir_sync, NULL);
    fx("kill", dir_async, NULL);
    long long t0 = contract_now_ms();
    chat_err rv = ops()->create(h, &k.c);
    long long dt = contract_now_ms() - t0;
    printf("replicas: both standbys down: the write failed after %lld ms (%s: %s)\n", dt,
           chat_err_name(rv), chat_last_errmsg());
    ck_assert_int_eq(rv, CHAT_ERR_TIMEOUT);
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "not confirmed"));
    ck_assert_int_lt(dt, TIMEOUT_MS + 1500);
    ck_assert_int_eq(rows_of(dir_primary, k.c.user_id), 0);
    /* Reads do not wait: the primary answers. */
    chat_credential *got = NULL;
    t0 = contract_now_ms();
    ck_assert_chat_err(ops()->get(h, k.c.user_id, &got), CHAT_ERR_NOT_FOUND);
    ck_assert_int_lt(contract_now_ms() - t0, 1000);

    contract_sh("bash '%s' restart '%s' >/dev/null; echo done", fixture, dir_sync);
    contract_sh("bash '%s' restart '%s' >/dev/null; echo done", fixture, dir_async);
    wait_sync(dir_primary, "sync");
    for (int i = 0; i < 100 && rows_of(dir_primary, k.c.user_id) == 0; i++)
        contract_sleep_ms(50);
    ck_assert_int_eq(rows_of(dir_primary, k.c.user_id), 1);
    ck_assert_int_eq(rows_of(dir_sync, k.c.user_id), 1);
    rv = ops()->create(h, &k.c);
    ck_assert_msg(rv == CHAT_ERR_DUPLICATE || rv == CHAT_ERR_EMAIL_TAKEN, "retry: %s",
                  chat_err_name(rv));
    ck_assert_int_eq(rows_of(dir_primary, k.c.user_id), 1);
    ck_assert_chat_ok(ops()->get(h, k.c.user_id, &got));
    chat_credential_free(got);
    ops()->close(h);
}
END_TEST

/* A primary that stops answering: writes fail in bounded time with a clear
 * error; reads go on on the standbys. */
START_TEST(stuck_primary_bounded)
{
    void *h = open_auth();
    cred k, k2;
    make_cred(&k);
    make_cred(&k2);
    ck_assert_chat_ok(ops()->create(h, &k.c));
    signal_server(dir_primary, "STOP");
    /* On the pooled connection: the client's wait ends it. */
    long long t0 = contract_now_ms();
    chat_err rv = ops()->bump_generation(h, k.c.user_id, NULL);
    long long dt1 = contract_now_ms() - t0;
    const char *why1 = chat_err_name(rv);
    ck_assert_msg(rv == CHAT_ERR_TIMEOUT, "%s: %s", chat_err_name(rv), chat_last_errmsg());
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "postgres"));
    /* On a fresh connection: connect_timeout (5 s). */
    t0 = contract_now_ms();
    rv = ops()->create(h, &k2.c);
    long long dt2 = contract_now_ms() - t0;
    ck_assert_msg(rv == CHAT_ERR_SERVICE_UNAVAILABLE || rv == CHAT_ERR_TIMEOUT, "%s: %s",
                  chat_err_name(rv), chat_last_errmsg());
    printf("replicas: stuck primary: a write failed after %lld ms (%s), the next after %lld ms"
           " (%s: %s)\n",
           dt1, why1, dt2, chat_err_name(rv), chat_last_errmsg());
    chat_credential *got = NULL;
    t0 = contract_now_ms();
    ck_assert_chat_ok(ops()->get(h, k.c.user_id, &got));
    chat_credential_free(got);
    long long dt3 = contract_now_ms() - t0;
    printf("replicas: stuck primary: a read took %lld ms\n", dt3);
    signal_server(dir_primary, "CONT");
    ck_assert_int_lt(dt1, TIMEOUT_MS + 1500);
    ck_assert_int_lt(dt2, 5000 + 1500);
    ck_assert_int_lt(dt3, 1000);
    ck_assert_chat_ok(ops()->bump_generation(h, k.c.user_id, NULL));
    ops()->close(h);
}
END_TEST

/* A standby that stops answering: the read that meets it ends after the
 * client's wait and is redone on another server; later reads skip it. */
START_TEST(stuck_standby_reads_go_elsewhere)
{
    void *h = open_auth();
    cred k;
    make_cred(&k);
    ck_assert_chat_ok(ops()->create(h, &k.c));
    chat_credential *got = NULL;
    /* Both standbys have pooled connections now. */
    for (int i = 0; i < 4; i++) {
        ck_assert_chat_ok(ops()->get(h, k.c.user_id, &got));
        chat_credential_free(got);
    }
    signal_server(dir_async, "STOP");
    long long slowest = 0, t_all = contract_now_ms();
    for (int i = 0; i < 20; i++) {
        long long t0 = contract_now_ms();
        ck_assert_chat_ok(ops()->get(h, k.c.user_id, &got));
        chat_credential_free(got);
        if (contract_now_ms() - t0 > slowest)
            slowest = contract_now_ms() - t0;
    }
    t_all = contract_now_ms() - t_all;
    signal_server(dir_async, "CONT");
    printf("replicas: stuck async standby: 20 reads in %lld ms, the slowest %lld ms\n", t_all,
           slowest);
    ck_assert_int_lt(slowest, TIMEOUT_MS + 1500);
    ck_assert_int_lt(t_all, TIMEOUT_MS + 3000);
    ops()->close(h);
}
END_TEST

/* The failover drill: a writer runs while the primary is killed; the sync
 * standby is promoted, the async one follows it. */
#define MAX_ACKED 4096

static struct writer {
    void *h;
    volatile int stop;
    long long kill_ms;          /* when the primary was killed; 0 before */
    long long first_after_ms;   /* when the first write begun after it was acknowledged */
    int acked, failed;
    char ids[MAX_ACKED][CHAT_ID_SIZE];
} w;

static void *writer(void *arg)
{
    CHATI_UNUSED(arg);
    while (!__atomic_load_n(&w.stop, __ATOMIC_SEQ_CST) && w.acked < MAX_ACKED) {
        cred k;
        make_cred(&k);
        long long killed = __atomic_load_n(&w.kill_ms, __ATOMIC_SEQ_CST);
        if (ops()->create(w.h, &k.c) == CHAT_OK) {
            memcpy(w.ids[w.acked], k.c.user_id, CHAT_ID_SIZE);
            __atomic_add_fetch(&w.acked, 1, __ATOMIC_SEQ_CST);
            if (killed != 0 && w.first_after_ms == 0)
                __atomic_store_n(&w.first_after_ms, contract_now_ms(), __ATOMIC_SEQ_CST);
        } else {
            w.failed++;
            contract_sleep_ms(20);
        }
    }
    return NULL;
}

/* How many of the writer's acknowledged ids the server in dir has. */
static int acked_rows(const char *dir)
{
    int found = 0;
    for (int from = 0; from < w.acked; from += 20) {
        char sql[480];
        int n = snprintf(sql, sizeof sql,
                         "SELECT count(*) FROM replicas.credentials WHERE user_id IN (");
        for (int i = from; i < w.acked && i < from + 20; i++)
            n += snprintf(sql + n, sizeof sql - (size_t)n, "%s'%s'", i > from ? "," : "",
                          w.ids[i]);
        snprintf(sql + n, sizeof sql - (size_t)n, ")");
        found += atoi(psql(dir, sql));
    }
    return found;
}

START_TEST(failover_loses_no_acknowledged_write)
{
    memset(&w, 0, sizeof w);
    w.h = open_auth();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, writer, NULL), 0);
    while (__atomic_load_n(&w.acked, __ATOMIC_SEQ_CST) < 50)
        contract_sleep_ms(10);
    fx("kill", dir_primary, NULL);
    /* Writes started from now on met a dead primary. */
    long long t0 = contract_now_ms();
    __atomic_store_n(&w.kill_ms, t0, __ATOMIC_SEQ_CST);
    int acked_at_kill = __atomic_load_n(&w.acked, __ATOMIC_SEQ_CST);
    fx("promote", dir_sync, NULL);
    long long promoted = contract_now_ms() - t0;
    fx("follow", dir_async, dir_sync);
    fx("sync", dir_sync, "FIRST 1 (async)");
    long long followed = contract_now_ms() - t0;
    for (int i = 0; i < 600 && __atomic_load_n(&w.first_after_ms, __ATOMIC_SEQ_CST) == 0; i++)
        contract_sleep_ms(50);
    int target = __atomic_load_n(&w.acked, __ATOMIC_SEQ_CST) + 20;
    for (int i = 0; i < 600 && __atomic_load_n(&w.acked, __ATOMIC_SEQ_CST) < target; i++)
        contract_sleep_ms(50);
    __atomic_store_n(&w.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    ck_assert_int_ne(w.first_after_ms, 0);
    printf("replicas: failover: promoted after %lld ms, async following after %lld ms, first"
           " write acknowledged %lld ms after the kill; %d writes acknowledged (%d before the"
           " kill), %d failed\n",
           promoted, followed, w.first_after_ms - t0, w.acked, acked_at_kill, w.failed);

    /* Every acknowledged write is on the new primary (and the follower). */
    wait_sync(dir_sync, "async");
    ck_assert_int_eq(acked_rows(dir_sync), w.acked);
    ck_assert_int_eq(acked_rows(dir_async), w.acked);
    /* Reads and writes go on through the same handle. */
    cred k;
    make_cred(&k);
    ck_assert_chat_ok(ops()->create(w.h, &k.c));
    chat_credential *got = NULL;
    ck_assert_chat_ok(ops()->get(w.h, k.c.user_id, &got));
    chat_credential_free(got);
    ops()->close(w.h);
}
END_TEST

static Suite *replicas_suite(void)
{
    Suite *s = suite_create("stores postgres replicas");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, reads_spread_and_own_writes);
    tcase_add_test(tc, sync_standby_killed_writes_continue);
    tcase_add_test(tc, both_standbys_down_write_fails_bounded);
    tcase_add_test(tc, stuck_primary_bounded);
    tcase_add_test(tc, stuck_standby_reads_go_elsewhere);
    tcase_add_test(tc, failover_loses_no_acknowledged_write);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    fixture = argc > 1 ? argv[1] : NULL;
    const char *all = getenv("CHAT_TEST_PG_ALL");
    dir_primary = getenv("CHAT_TEST_PG_PRIMARY_DIR");
    dir_sync = getenv("CHAT_TEST_PG_SYNC_DIR");
    dir_async = getenv("CHAT_TEST_PG_ASYNC_DIR");
    if (fixture == NULL || all == NULL || dir_primary == NULL || dir_sync == NULL ||
        dir_async == NULL) {
        fprintf(stderr, "usage: postgres.sh exec --standbys %s path/to/postgres.sh\n", argv[0]);
        return 1;
    }
    snprintf(url, sizeof url, "%s?schema=replicas&statement_timeout_ms=%d", all, TIMEOUT_MS);
    setvbuf(stdout, NULL, _IOLBF, 0);
    contract_init(1, argv, "postgresql:");
    return chat_test_run(replicas_suite());
}
