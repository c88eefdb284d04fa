/*
 * The SQLite broker across processes: what the distributed deployment without
 * Kafka relies on. Two publisher processes and three consumer processes share
 * one events file: two consumers in group G (one owns the lease, the other
 * stands by) and one in group H.
 *
 * Every message reaches each group exactly once in aggregate while no process
 * dies, and at least once when G's owner is SIGKILLed mid-run (the standby
 * takes over once the lease lapses); per-key order holds within each group
 * either way.
 *
 * Consumers log what they handle with one O_APPEND write per batch to a file
 * per group; only the lease holder writes, so a group's log is its handling
 * order. Children never use Check: they report through exit codes.
 *
 * Also here: retention, which deletes what every live group has handled and
 * drops groups idle for an hour.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <chat/backend/broker.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

enum {
    PUBS = 2,                   /* publisher processes */
    MSGS = 3000,                /* per publisher */
    KEYS = 8,                   /* key = seq % KEYS */
    MEMBERS = 3,                /* 1 and 2 in group G, 3 in group H */
    MAX_BATCH = 16,
    WAIT_MS = 90000,
};

static const char *const topic = "chat.test";

static long long mono_ms(void)
{
    return contract_now_ms();
}

/* A child must not outlive a test that failed half-way. */
static void die_with_parent(pid_t parent, int sig)
{
    if (prctl(PR_SET_PDEATHSIG, sig) != 0 || getppid() != parent)
        _exit(30);
}

/* ---- consumer children ---- */

static int log_fd;
static int member_id;

static chat_err log_handler(void *arg, const chat_broker_msg *msgs, size_t n)
{
    CHATI_UNUSED(arg);
    char buf[MAX_BATCH * 64];
    size_t len = 0;
    long long now = mono_ms();
    for (size_t i = 0; i < n && len + 64 < sizeof buf; i++) {
        char data[32];
        size_t dl = msgs[i].len < sizeof data - 1 ? msgs[i].len : sizeof data - 1;
        memcpy(data, msgs[i].data, dl);
        data[dl] = '\0';
        /* data is "p:k:seq"; the key travels separately and is checked too. */
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%d %s %s %lld\n", member_id, data,
                                msgs[i].key, now);
    }
    /* One write per batch: whole lines even while another member appends. */
    if (write(log_fd, buf, len) != (ssize_t)len)
        return CHAT_ERR_STORAGE;
    /* Handled but not yet acknowledged: a kill landing here must redeliver. */
    contract_sleep_ms(2);
    return CHAT_OK;
}

/* Subscribes, says so on ready_fd, and runs until SIGTERM. */
static void consumer_child(const char *url, const char *group, const char *log_path, int id,
                           int ready_fd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    /* Blocked before the broker starts its threads, so they inherit it. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    member_id = id;
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log_fd < 0)
        _exit(10);
    const chat_broker_ops *b = chati_backend_find(CHATI_IFACE_BROKER, url);
    void *impl = NULL;
    if (b == NULL || b->open(url, NULL, &impl) != CHAT_OK) {
        fprintf(stderr, "consumer %d: open: %s\n", id, chati_errmsg());
        _exit(11);
    }
    const char *topics[1] = {topic};
    chat_broker_consumer *c = NULL;
    if (b->subscribe(impl, group, topics, 1, MAX_BATCH, log_handler, NULL, &c) != CHAT_OK) {
        fprintf(stderr, "consumer %d: subscribe: %s\n", id, chati_errmsg());
        _exit(12);
    }
    if (write(ready_fd, "r", 1) != 1)
        _exit(13);
    int sig = 0;
    sigwait(&set, &sig);
    b->unsubscribe(impl, c);
    b->close(impl);
    close(log_fd);
    _exit(0);
}

/* ---- publisher children ---- */

static void publisher_child(const char *url, int p)
{
    const chat_broker_ops *b = chati_backend_find(CHATI_IFACE_BROKER, url);
    void *impl = NULL;
    if (b == NULL || b->open(url, NULL, &impl) != CHAT_OK) {
        fprintf(stderr, "publisher %d: open: %s\n", p, chati_errmsg());
        _exit(21);
    }
    srand((unsigned)getpid());
    int seq = 1;
    while (seq <= MSGS) {
        /* Batches of 1-5 in one publish call: one transaction each. */
        int n = 1 + rand() % 5;
        chat_broker_msg m[5];
        char data[5][32], key[5][8];
        int k = 0;
        for (; k < n && seq <= MSGS; k++, seq++) {
            snprintf(key[k], sizeof key[k], "k%d", seq % KEYS);
            int len = snprintf(data[k], sizeof data[k], "%d:%d:%d", p, seq % KEYS, seq);
            m[k] = (chat_broker_msg){topic, key[k], data[k], (size_t)len};
        }
        if (b->publish(impl, m, (size_t)k, NULL, NULL, NULL) != CHAT_OK) {
            fprintf(stderr, "publisher %d: publish: %s\n", p, chati_errmsg());
            _exit(22);
        }
        if (rand() % 4 == 0)
            contract_sleep_ms(1); /* spread the run out so that a kill lands mid-way */
    }
    chat_err rv = b->flush(impl, 30000);
    b->close(impl);
    _exit(rv == CHAT_OK ? 0 : 23);
}

/* ---- the parent ---- */

typedef struct logstat {
    long lines, bad, dups, order_violations, missing;
    long by_member[MEMBERS + 1];
    long long first_at[MEMBERS + 1], last_at[MEMBERS + 1];
} logstat;

static unsigned char seen[PUBS][MSGS + 1];

/* Parses a group's log, checking keys, per-key order and counting duplicates. */
static void check_log(const char *path, logstat *st)
{
    memset(st, 0, sizeof *st);
    memset(seen, 0, sizeof seen);
    int hi[PUBS][KEYS];
    for (int p = 0; p < PUBS; p++)
        for (int k = 0; k < KEYS; k++)
            hi[p][k] = k == 0 ? 0 : k - KEYS; /* so that the first seq expected is k or KEYS */
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        char line[128];
        while (fgets(line, sizeof line, f)) {
            int m, p, k, seq;
            char key[16];
            long long at;
            st->lines++;
            if (sscanf(line, "%d %d:%d:%d %15s %lld", &m, &p, &k, &seq, key, &at) != 6 || m < 1 ||
                m > MEMBERS || p < 0 || p >= PUBS || k < 0 || k >= KEYS || seq < 1 ||
                seq > MSGS || seq % KEYS != k || key[0] != 'k' || atoi(key + 1) != k) {
                st->bad++;
                continue;
            }
            st->by_member[m]++;
            if (st->first_at[m] == 0)
                st->first_at[m] = at;
            st->last_at[m] = at;
            if (seen[p][seq]++)
                st->dups++;
            if (seq > hi[p][k]) {
                /* New ground must be the very next message of this key: nothing
                 * is handled before its predecessor. A redelivery goes back. */
                if (seq != hi[p][k] + KEYS)
                    st->order_violations++;
                hi[p][k] = seq;
            }
        }
        fclose(f);
    }
    for (int p = 0; p < PUBS; p++)
        for (int s = 1; s <= MSGS; s++)
            st->missing += !seen[p][s];
}

static long distinct_in(const char *path)
{
    logstat st;
    check_log(path, &st);
    return (long)PUBS * MSGS - st.missing;
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void run(bool kill_owner)
{
    char *dir = chat_test_tmpdir("sqlprocs");
    char url[4200], glog[4200], hlog[4200];
    snprintf(url, sizeof url, "sqlite:%s/events.db", dir);
    snprintf(glog, sizeof glog, "%s/G.log", dir);
    snprintf(hlog, sizeof hlog, "%s/H.log", dir);

    pid_t parent = getpid();
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t cons[MEMBERS + 1] = {0};
    for (int id = 1; id <= MEMBERS; id++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            die_with_parent(parent, SIGTERM);
            close(ready[0]);
            consumer_child(url, id <= 2 ? "G" : "H", id <= 2 ? glog : hlog, id, ready[1]);
        }
        cons[id] = pid;
        /* One at a time: the first creates the file and the groups. */
        char r;
        ck_assert_int_eq(read(ready[0], &r, 1), 1);
    }
    close(ready[0]);
    close(ready[1]);

    pid_t pubs[PUBS];
    for (int p = 0; p < PUBS; p++) {
        pubs[p] = fork();
        ck_assert_int_ge(pubs[p], 0);
        if (pubs[p] == 0) {
            die_with_parent(parent, SIGKILL);
            publisher_child(url, p);
        }
    }

    int killed = 0;
    long long killed_at = 0;
    if (kill_owner) {
        /* Once G is under way, kill whichever member is writing its log. */
        long long deadline = mono_ms() + WAIT_MS;
        logstat st;
        do {
            contract_sleep_ms(20);
            check_log(glog, &st);
        } while (st.lines < 500 && mono_ms() < deadline);
        ck_assert_int_ge(st.lines, 500);
        killed = st.by_member[1] > 0 ? 1 : 2;
        ck_assert_int_eq(kill(cons[killed], SIGKILL), 0);
        killed_at = mono_ms();
        ck_assert_int_eq(wait_exit(cons[killed]), 128 + SIGKILL);
    }

    for (int p = 0; p < PUBS; p++)
        ck_assert_msg(wait_exit(pubs[p]) == 0, "publisher %d failed", p);

    long long deadline = mono_ms() + WAIT_MS;
    while ((distinct_in(glog) < (long)PUBS * MSGS || distinct_in(hlog) < (long)PUBS * MSGS) &&
           mono_ms() < deadline)
        contract_sleep_ms(50);
    contract_sleep_ms(200); /* let a stray duplicate show up if there is one */

    for (int id = 1; id <= MEMBERS; id++) {
        if (id == killed)
            continue;
        kill(cons[id], SIGTERM);
        ck_assert_msg(wait_exit(cons[id]) == 0, "consumer %d failed", id);
    }

    logstat g, h;
    check_log(glog, &g);
    check_log(hlog, &h);
    fprintf(stderr,
            "sqlite broker procs (%s): G %ld lines (member1 %ld, member2 %ld), %ld dups; "
            "H %ld lines, %ld dups",
            kill_owner ? "owner killed" : "no kill", g.lines, g.by_member[1], g.by_member[2],
            g.dups, h.lines, h.dups);
    if (kill_owner) {
        int other = 3 - killed;
        fprintf(stderr, "; standby's first batch %lld ms after the kill",
                g.first_at[other] - killed_at);
        /* The standby took over: the lease is 5 s, renewed every second. */
        ck_assert_int_gt(g.by_member[other], 0);
        ck_assert_int_ge(g.first_at[other], killed_at);
        ck_assert_int_lt(g.first_at[other] - killed_at, 30000);
    }
    fprintf(stderr, "\n");

    logstat *both[2] = {&g, &h};
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "G" : "H";
        ck_assert_msg(both[i]->bad == 0, "group %s: %ld malformed lines", name, both[i]->bad);
        ck_assert_msg(both[i]->missing == 0, "group %s: %ld messages never handled", name,
                      both[i]->missing);
        ck_assert_msg(both[i]->order_violations == 0, "group %s: %ld per-key order violations",
                      name, both[i]->order_violations);
    }
    /* Exactly once while nobody dies; H's only member never dies. */
    if (!kill_owner)
        ck_assert_msg(g.dups == 0, "group G: %ld duplicates without a crash", g.dups);
    ck_assert_msg(h.dups == 0, "group H: %ld duplicates", h.dups);
    if (!kill_owner)
        ck_assert_msg(g.by_member[1] == 0 || g.by_member[2] == 0,
                      "both members of G handled messages although neither left");
    chat_test_rmtree(dir);
}

START_TEST(test_exactly_once_without_crash)
{
    run(false);
}
END_TEST

START_TEST(test_standby_takes_over_after_kill)
{
    run(true);
}
END_TEST

/* ---- retention ---- */

static chat_err nop_handler(void *arg, const chat_broker_msg *msgs, size_t n)
{
    CHATI_UNUSED(arg);
    CHATI_UNUSED(msgs);
    CHATI_UNUSED(n);
    return CHAT_OK;
}

static int64_t query_i64(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

START_TEST(test_retention)
{
    char *dir = chat_test_tmpdir("sqlretain");
    char url[4300], path[4200];
    snprintf(path, sizeof path, "%s/events.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    const chat_broker_ops *b = chati_backend_find(CHATI_IFACE_BROKER, url);
    ck_assert_ptr_nonnull(b);
    void *impl = NULL;
    ck_assert_chat_ok(b->open(url, NULL, &impl));
    /* A group whose lease ended two hours ago holds nothing back; one that
     * was left ten minutes ago keeps what it has not handled. */
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[256];
    int64_t now = chati_now_ms();
    snprintf(sql, sizeof sql,
             "INSERT INTO groups VALUES ('stale', 0, NULL, %lld), ('idle', 60, NULL, %lld)",
             (long long)(now - 2 * 3600 * 1000), (long long)(now - 600 * 1000));
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

    const char *topics[1] = {topic};
    chat_broker_consumer *c = NULL;
    ck_assert_chat_ok(b->subscribe(impl, "live", topics, 1, 16, nop_handler, NULL, &c));
    for (int i = 0; i < 100; i++) {
        chat_broker_msg m = {topic, "k", "x", 1};
        ck_assert_chat_ok(b->publish(impl, &m, 1, NULL, NULL, NULL));
    }
    ck_assert_chat_ok(b->flush(impl, 30000));
    long long deadline = mono_ms() + 30000;
    while ((query_i64(db, "SELECT count(*) FROM groups WHERE name = 'stale'") > 0 ||
            query_i64(db, "SELECT count(*) FROM events") > 40) &&
           mono_ms() < deadline)
        contract_sleep_ms(100);
    ck_assert_int_eq(query_i64(db, "SELECT count(*) FROM groups WHERE name = 'stale'"), 0);
    ck_assert_int_eq(query_i64(db, "SELECT count(*) FROM groups WHERE name = 'idle'"), 1);
    ck_assert_int_eq(query_i64(db, "SELECT count(*) FROM events"), 40);
    ck_assert_int_eq(query_i64(db, "SELECT min(seq) FROM events"), 61);

    /* Once the idle group is gone too, the log empties; seq goes on. */
    ck_assert_int_eq(sqlite3_exec(db, "DELETE FROM groups WHERE name = 'idle'", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    deadline = mono_ms() + 30000;
    while (query_i64(db, "SELECT count(*) FROM events") > 0 && mono_ms() < deadline)
        contract_sleep_ms(100);
    ck_assert_int_eq(query_i64(db, "SELECT count(*) FROM events"), 0);
    chat_broker_msg m = {topic, "k", "y", 1};
    ck_assert_chat_ok(b->publish(impl, &m, 1, NULL, NULL, NULL));
    ck_assert_int_eq(query_i64(db, "SELECT max(seq) FROM events"), 101);
    ck_assert_chat_ok(b->flush(impl, 30000));
    ck_assert_int_eq(query_i64(db, "SELECT pos FROM groups WHERE name = 'live'"), 101);

    sqlite3_close(db);
    b->unsubscribe(impl, c);
    b->close(impl);
    chat_test_rmtree(dir);
}
END_TEST

static Suite *procs_suite(void)
{
    Suite *s = suite_create("sqlite broker across processes");
    TCase *tc = tcase_create("procs");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_exactly_once_without_crash);
    tcase_add_test(tc, test_standby_takes_over_after_kill);
    tcase_add_test(tc, test_retention);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "sqlite:");
    return chat_test_run(procs_suite());
}
