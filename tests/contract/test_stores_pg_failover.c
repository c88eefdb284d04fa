/*
 * Integration tests of the PostgreSQL stores beyond the contract: reads when
 * the standby is gone, calls while the primary is down and after it comes
 * back, and migrations raced by stores opened at the same moment.
 *
 * argv[1] is tests/fixtures/postgres.sh; each test case starts its own servers
 * (in the parent process, an unchecked fixture, so they are stopped even when
 * a test fails) in a temporary directory and stops them afterwards.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <chat/backend/store.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const char *fixture;
static char *tmpdir;
static char primary_dir[512], standby_dir[512];
static char primary_url[256], all_url[512];
static int primary_port, standby_port;

/* One value from psql on a port (as the server's user when we are root). */
static const char *psql(int port, const char *sql)
{
    return contract_sh("%spsql -X -At -h 127.0.0.1 -p %d -U postgres -d postgres -c \"%s\"",
              getuid() == 0 ? "runuser -u postgres -- " : "", port, sql);
}

/* Until the standby has replayed everything the primary wrote so far. */
static void wait_replayed(void)
{
    char want[64];
    /* The insert position, stepped back over a page header (as the store does). */
    snprintf(want, sizeof want, "%s",
             psql(primary_port, "WITH x AS (SELECT pg_current_wal_insert_lsn() AS l,"
                                " pg_current_wal_insert_lsn() - '0/0'::pg_lsn AS n)"
                                " SELECT CASE WHEN n % 16777216 = 40 THEN l - 40"
                                " WHEN n % 8192 = 24 THEN l - 24 ELSE l END FROM x"));
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn", want);
    for (int i = 0; i < 200 && strcmp(psql(standby_port, sql), "t") != 0; i++)
        contract_sleep_ms(20);
    ck_assert_str_eq(psql(standby_port, sql), "t");
}

static void start_primary(void)
{
    tmpdir = chat_test_tmpdir("pg");
    /* The server runs as "postgres": it must reach its directories. */
    contract_sh("chmod 0755 '%s'", tmpdir);
    snprintf(primary_dir, sizeof primary_dir, "%s/primary", tmpdir);
    snprintf(standby_dir, sizeof standby_dir, "%s/standby", tmpdir);
    snprintf(primary_url, sizeof primary_url, "%s",
             contract_sh("bash '%s' start '%s'", fixture, primary_dir));
    if (strncmp(primary_url, "postgresql://", 13) != 0) {
        fprintf(stderr, "the fixture could not start postgres\n");
        exit(1); /* a missing server is a failure, never a skip */
    }
    primary_port = contract_port_of(strrchr(primary_url, '@'));
    snprintf(all_url, sizeof all_url, "%s", primary_url);
}

static void start_both(void)
{
    start_primary();
    const char *r = contract_sh("bash '%s' start '%s' --standby-of '%s'", fixture, standby_dir,
                       primary_dir);
    if (strncmp(r, "postgresql://", 13) != 0) {
        fprintf(stderr, "the fixture could not start a standby\n");
        exit(1);
    }
    standby_port = contract_port_of(strrchr(r, '@'));
    snprintf(all_url, sizeof all_url, "postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres",
             primary_port, standby_port);
}

static void stop_all(void)
{
    contract_sh("bash '%s' kill '%s'", fixture, standby_dir);
    contract_sh("bash '%s' kill '%s'", fixture, primary_dir);
    chat_test_rmtree(tmpdir);
    tmpdir = NULL;
}

static const chat_auth_store_ops *auth_ops(void)
{
    const chat_auth_store_ops *ops = chati_backend_find(CHATI_IFACE_AUTH, "postgresql://x");
    ck_assert_ptr_nonnull(ops);
    return ops;
}

static void *open_auth(const char *url)
{
    void *impl = NULL;
    ck_assert_chat_ok(auth_ops()->open(url, contract_cfg(), &impl));
    return impl;
}

static chat_credential make_cred(char email[64])
{
    chat_credential c;
    memset(&c, 0, sizeof c);
    ck_assert_chat_ok(chati_id_new('U', c.user_id));
    ck_assert_chat_ok(chati_id_new('T', c.team_id));
    snprintf(email, 64, "%s@example.com", c.user_id);
    c.email = email;
    c.pwhash = "hash";
    c.token_gen = 1;
    c.active = true;
    return c;
}

/* The call must fail as service_unavailable, with a detail, within 2 s. */
#define ASSERT_DOWN(call) CONTRACT_ASSERT_DOWN(call, "postgres", 2000)

/* (1) Standby gone: reads fall back to the primary, promptly. */
START_TEST(standby_down_reads_fall_back)
{
    const chat_auth_store_ops *ops = auth_ops();
    char url[600];
    snprintf(url, sizeof url, "%s?schema=standby_down", all_url);
    void *impl = open_auth(url);
    char email[64];
    chat_credential c = make_cred(email);
    ck_assert_chat_ok(ops->create(impl, &c));

    chat_credential *got = NULL;
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    chat_credential_free(got);

    /* Reads go to a standby that has replayed this process's writes: freeze
     * replay there, then change the row behind the store's back (another
     * client, whose writes the store does not track): the store still reads
     * the standby's older copy. */
    wait_replayed();
    psql(standby_port, "SELECT pg_wal_replay_pause()");
    for (int i = 0; i < 200 && strcmp(psql(standby_port, "SELECT pg_get_wal_replay_pause_state()"),
                                      "paused") != 0; i++)
        contract_sleep_ms(20);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE standby_down.credentials SET token_gen = 100 WHERE user_id = '%s'",
             c.user_id);
    psql(primary_port, sql);
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, 1);
    chat_credential_free(got);
    /* Read-your-writes: after the store's own write the paused standby is
     * behind it, so the read goes to the primary. */
    int64_t gen = 0;
    ck_assert_chat_ok(ops->bump_generation(impl, c.user_id, &gen));
    ck_assert_int_eq(gen, 101);
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, 101);
    chat_credential_free(got);
    psql(standby_port, "SELECT pg_wal_replay_resume()");
    wait_replayed();
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, 101);
    chat_credential_free(got);

    /* Standby gone: reads fall back to the primary, promptly. */
    contract_sh("bash '%s' kill '%s'", fixture, standby_dir);
    long long t0 = contract_now_ms();
    for (int i = 0; i < 5; i++) {
        ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
        ck_assert_int_eq(strcasecmp(got->email, email), 0);
        chat_credential_free(got);
    }
    ck_assert_int_lt(contract_now_ms() - t0, 2000);
    /* Writes never needed the standby, and read back at once. */
    ck_assert_chat_ok(ops->bump_generation(impl, c.user_id, NULL));
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, 102);
    chat_credential_free(got);
    ops->close(impl);

    /* A store opened while the standby is down works too. */
    impl = open_auth(url);
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    chat_credential_free(got);
    ops->close(impl);
}
END_TEST

/* Failover: the primary dies and the standby is promoted. Writes fail
 * clearly until then, and afterwards reach the new primary (the next host of
 * the URL) without reopening the store; nothing committed is lost. */
START_TEST(failover_to_promoted_standby)
{
    const chat_auth_store_ops *ops = auth_ops();
    char url[600];
    snprintf(url, sizeof url, "%s?schema=failover", all_url);
    void *impl = open_auth(url);
    char email[64];
    chat_credential c = make_cred(email);
    ck_assert_chat_ok(ops->create(impl, &c));
    wait_replayed();

    contract_sh("bash '%s' kill '%s'", fixture, primary_dir);
    ASSERT_DOWN(ops->bump_generation(impl, c.user_id, NULL));
    /* Reads still have the standby. */
    chat_credential *got = NULL;
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    chat_credential_free(got);

    contract_sh("bash '%s' promote '%s'", fixture, standby_dir);
    int64_t gen = 0;
    ck_assert_chat_ok(ops->bump_generation(impl, c.user_id, &gen));
    ck_assert_int_eq(gen, 2);
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, 2);
    chat_credential_free(got);
    ops->close(impl);
}
END_TEST

/* (2) Primary down: clear errors, not a hang; back to normal after a restart. */
START_TEST(primary_restart_recovers)
{
    const chat_auth_store_ops *ops = auth_ops();
    char url[600];
    snprintf(url, sizeof url, "%s?schema=restart", primary_url);
    void *impl = open_auth(url);
    char email[64];
    chat_credential c = make_cred(email);
    ck_assert_chat_ok(ops->create(impl, &c));

    contract_sh("bash '%s' kill '%s'", fixture, primary_dir);
    chat_credential *got = NULL;
    char email2[64];
    chat_credential c2 = make_cred(email2);
    /* Twice each: the pooled connection fails first, then a fresh connect. */
    for (int i = 0; i < 2; i++) {
        ASSERT_DOWN(ops->get(impl, c.user_id, &got));
        ASSERT_DOWN(ops->bump_generation(impl, c.user_id, NULL));
        ASSERT_DOWN(ops->create(impl, &c2));
    }
    ck_assert_ptr_null(got);
    void *impl2 = NULL;
    ASSERT_DOWN(ops->open(url, contract_cfg(), &impl2));
    ck_assert_ptr_null(impl2);

    const char *r = contract_sh("bash '%s' restart '%s'", fixture, primary_dir);
    ck_assert_str_eq(r, primary_url);
    /* The failed calls changed nothing; the store works again. */
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, 1);
    chat_credential_free(got);
    ck_assert_chat_ok(ops->create(impl, &c2));
    ck_assert_chat_ok(ops->bump_generation(impl, c.user_id, NULL));
    ops->close(impl);
}
END_TEST

/* A batch the server refuses half-way (pipeline mode) changes nothing, and
 * the same connection pool goes on working. */
START_TEST(activity_batch_failure_changes_nothing)
{
    char url[600];
    snprintf(url, sizeof url, "%s?schema=batch", primary_url);
    const chat_user_store_ops *o = chati_backend_find(CHATI_IFACE_USER, url);
    ck_assert_ptr_nonnull(o);
    void *h = NULL;
    ck_assert_chat_ok(o->open(url, contract_cfg(), &h));
    char ch[CHAT_ID_SIZE], reader[CHAT_ID_SIZE], author[CHAT_ID_SIZE];
    ck_assert_chat_ok(chati_id_new('C', ch));
    ck_assert_chat_ok(chati_id_new('U', reader));
    ck_assert_chat_ok(chati_id_new('U', author));
    char ev[3][48];
    chat_activity a[3];
    memset(a, 0, sizeof a);
    const char *ts[3] = {"1732600001.000001", "1732600002.000002", "1732600003.000003"};
    for (int i = 0; i < 3; i++) {
        snprintf(ev[i], sizeof ev[i], "ev-%s-%d", ch, i);
        a[i].event_id = ev[i];
        a[i].kind = CHAT_ACTIVITY_POSTED;
        a[i].channel = ch;
        a[i].ts = ts[i];
        a[i].author = author;
    }
    a[1].author = "bad\xff"; /* not UTF-8: the server refuses the second record */
    chat_err rv = o->apply_activity(h, a, 3);
    ck_assert_msg(rv == CHAT_ERR_INVALID_UTF8, "%s (%s)", chat_err_name(rv), chat_last_errmsg());
    int64_t unread = -1, mentions = -1;
    ck_assert_chat_ok(o->counts(h, reader, ch, &unread, &mentions));
    ck_assert_int_eq(unread, 0);
    /* Nothing was recorded as applied: the good records apply now. */
    a[1].author = author;
    ck_assert_chat_ok(o->apply_activity(h, a, 3));
    ck_assert_chat_ok(o->counts(h, reader, ch, &unread, &mentions));
    ck_assert_int_eq(unread, 3);
    ck_assert_chat_ok(o->apply_activity(h, a, 3));
    ck_assert_chat_ok(o->counts(h, reader, ch, &unread, &mentions));
    ck_assert_int_eq(unread, 3);
    o->close(h);
}
END_TEST

/* (3) Stores opened at the same moment on a fresh database and on a fresh
 * schema: all succeed, each component's migrations are applied once. */
#define OPENERS 6

static pthread_barrier_t barrier;

static void *opener(void *arg)
{
    const char *url = arg;
    static int next;
    int kind = __atomic_fetch_add(&next, 1, __ATOMIC_SEQ_CST) % 3;
    pthread_barrier_wait(&barrier);
    void *h = NULL;
    chat_err rv;
    if (kind == 0) {
        const chat_auth_store_ops *o = chati_backend_find(CHATI_IFACE_AUTH, url);
        if ((rv = o->open(url, contract_cfg(), &h)) == CHAT_OK)
            o->close(h);
    } else if (kind == 1) {
        const chat_user_store_ops *o = chati_backend_find(CHATI_IFACE_USER, url);
        if ((rv = o->open(url, contract_cfg(), &h)) == CHAT_OK)
            o->close(h);
    } else {
        const chat_channel_store_ops *o = chati_backend_find(CHATI_IFACE_CHANNEL, url);
        if ((rv = o->open(url, contract_cfg(), &h)) == CHAT_OK)
            o->close(h);
    }
    if (rv != CHAT_OK)
        fprintf(stderr, "open failed: %s\n", chat_last_errmsg());
    return (void *)(intptr_t)rv;
}

static void race_opens(const char *url)
{
    pthread_t th[OPENERS];
    contract_cfg(); /* made lazily: not from several threads at once */
    pthread_barrier_init(&barrier, NULL, OPENERS);
    for (int i = 0; i < OPENERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, opener, (void *)url), 0);
    for (int i = 0; i < OPENERS; i++) {
        void *res = NULL;
        pthread_join(th[i], &res);
        chat_err rv = (chat_err)(intptr_t)res;
        ck_assert_msg(rv == CHAT_OK, "opener %d: %s", i, chat_err_name(rv));
    }
    pthread_barrier_destroy(&barrier);
}

START_TEST(concurrent_open_migrates_once)
{
    /* The fresh cluster's own database, default schema. */
    race_opens(primary_url);
    ck_assert_str_eq(psql(primary_port, "SELECT string_agg(component || '=' || version, ','"
                                        " ORDER BY component) FROM public.schema_version"),
                     "auth=4,channel=3,user=3");
    /* A schema that does not exist yet (created by the first opener). */
    char url[600];
    snprintf(url, sizeof url, "%s?schema=Fresh%%20One&pool_size=2", primary_url);
    race_opens(url);
    ck_assert_str_eq(psql(primary_port, "SELECT string_agg(component || '=' || version, ','"
                                        " ORDER BY component) FROM \\\"Fresh One\\\".schema_version"),
                     "auth=4,channel=3,user=3");
}
END_TEST

START_TEST(bad_urls)
{
    const chat_auth_store_ops *ops = auth_ops();
    void *impl = NULL;
    ck_assert_chat_err(ops->open("postgresql://", contract_cfg(), &impl),
                       CHAT_ERR_INVALID_CONFIG);
    char url[600];
    snprintf(url, sizeof url, "%s?pool_size=0", primary_url);
    ck_assert_chat_err(ops->open(url, contract_cfg(), &impl), CHAT_ERR_INVALID_CONFIG);
    snprintf(url, sizeof url, "%s?schema=", primary_url);
    ck_assert_chat_err(ops->open(url, contract_cfg(), &impl), CHAT_ERR_INVALID_CONFIG);
    /* libpq's own parameters reach libpq; unknown ones are refused up front. */
    snprintf(url, sizeof url, "%s?schema=x&nonsense=1", primary_url);
    ck_assert_chat_err(ops->open(url, contract_cfg(), &impl), CHAT_ERR_INVALID_CONFIG);
    snprintf(url, sizeof url, "%s?statement_timeout_ms=-1", primary_url);
    ck_assert_chat_err(ops->open(url, contract_cfg(), &impl), CHAT_ERR_INVALID_CONFIG);
    snprintf(url, sizeof url, "%s?statement_timeout_ms=2s", primary_url);
    ck_assert_chat_err(ops->open(url, contract_cfg(), &impl), CHAT_ERR_INVALID_CONFIG);
    snprintf(url, sizeof url, "%s?schema=x&statement_timeout_ms=0", primary_url);
    impl = open_auth(url);
    ops->close(impl);
    snprintf(url, sizeof url, "%s?schema=x&connect_timeout=3", primary_url);
    impl = open_auth(url);
    ops->close(impl);
}
END_TEST

static Suite *pg_suite(void)
{
    Suite *s = suite_create("stores postgres failover");
    TCase *tc = tcase_create("standby");
    tcase_add_unchecked_fixture(tc, start_both, stop_all);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, standby_down_reads_fall_back);
    suite_add_tcase(s, tc);
    tc = tcase_create("failover");
    tcase_add_unchecked_fixture(tc, start_both, stop_all);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, failover_to_promoted_standby);
    suite_add_tcase(s, tc);
    tc = tcase_create("primary");
    tcase_add_unchecked_fixture(tc, start_primary, stop_all);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, primary_restart_recovers);
    tcase_add_test(tc, bad_urls);
    tcase_add_test(tc, activity_batch_failure_changes_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("migrations");
    tcase_add_unchecked_fixture(tc, start_primary, stop_all);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, concurrent_open_migrates_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    fixture = argc > 1 ? argv[1] : getenv("CHAT_TEST_PG_FIXTURE");
    if (fixture == NULL) {
        fprintf(stderr, "usage: %s path/to/tests/fixtures/postgres.sh\n", argv[0]);
        return 1;
    }
    contract_init(argc, argv, "postgresql:");
    return chat_test_run(pg_suite());
}
