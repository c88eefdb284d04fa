/*
 * The Kafka broker when a group member goes away: two member processes
 * (forked, each its own broker instance) share one group while the parent
 * publishes a steady stream; then one of them goes:
 *
 *   - SIGKILLed mid-stream: the survivor gets the dead member's partitions
 *     once Kafka's session timeout expires (a few seconds, not 45), and every
 *     message is handled at least once
 *   - stopped cleanly (unsubscribe, close): it leaves the group at once and
 *     the survivor holds its partitions within about a second, with nothing
 *     handled twice
 *
 * The handover time is from the kill (or the start of the clean stop) to the
 * moment the survivor has handled a message of every key the other member
 * held; it is printed and bounded. argv[1] is the broker URL
 * (tests/fixtures/kafka.sh exec substitutes {kafka}); a third case takes a
 * shorter session timeout and the cooperative protocol from the URL.
 *
 * Members report through memory shared with the parent (one writer per
 * field); children never use Check and leave through _exit.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chat/backend/broker.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

enum {
    KEYS = 12,
    MAX_MSGS = 40000,
    MAX_BATCH = 16,
    PUB_EVERY_MS = 4,
    WARMUP_MS = 3000,           /* both members handling before one goes */
    AFTER_MS = 1000,            /* publishing goes on after the handover */
    WAIT_MS = 60000,
};

/* The default session timeout (consumer.c) and the URL case's. */
#define DEFAULT_SESSION_MS 6000
#define URL_SESSION_MS 2000

typedef struct board {
    _Atomic int ready[2];
    _Atomic int leave[2];               /* parent: leave cleanly now */
    _Atomic long long left_at[2];       /* member: unsubscribe and close returned */
    _Atomic int published;              /* messages 0..published-1 are out */
    _Atomic int count[2][MAX_MSGS];     /* handlings per member */
    _Atomic long long at[2][MAX_MSGS];  /* first handling per member (mono ms) */
} board;

static board *B_;
static int member;

static int key_of(int idx)
{
    return idx % KEYS;
}

static chat_err on_batch(void *arg, const chat_broker_msg *msgs, size_t n)
{
    CHATI_UNUSED(arg);
    long long now = contract_now_ms();
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        size_t len = msgs[i].len < sizeof buf - 1 ? msgs[i].len : sizeof buf - 1;
        memcpy(buf, msgs[i].data, len);
        buf[len] = '\0';
        int idx = atoi(buf);
        if (idx < 0 || idx >= MAX_MSGS)
            continue;
        if (atomic_fetch_add(&B_->count[member][idx], 1) == 0)
            atomic_store(&B_->at[member][idx], now);
    }
    /* Handled, not yet committed: a kill landing here must redeliver. */
    contract_sleep_ms(2);
    return CHAT_OK;
}

static void member_main(const char *url, const char *group, const char *topic, int id)
{
    member = id;
    const chat_broker_ops *b = chati_backend_find(CHATI_IFACE_BROKER, url);
    void *impl = NULL;
    if (b == NULL || b->open(url, NULL, &impl) != CHAT_OK) {
        fprintf(stderr, "member %d: open: %s\n", id, chat_last_errmsg());
        _exit(11);
    }
    const char *topics[1] = {topic};
    chat_broker_consumer *c = NULL;
    if (b->subscribe(impl, group, topics, 1, MAX_BATCH, on_batch, NULL, &c) != CHAT_OK) {
        fprintf(stderr, "member %d: subscribe: %s\n", id, chat_last_errmsg());
        _exit(12);
    }
    atomic_store(&B_->ready[id], 1);
    long long deadline = contract_now_ms() + 5 * WAIT_MS;
    while (!atomic_load(&B_->leave[id]))
        if (contract_now_ms() > deadline)
            _exit(13);
        else
            contract_sleep_ms(2);
    b->unsubscribe(impl, c);
    b->close(impl);
    atomic_store(&B_->left_at[id], contract_now_ms());
    _exit(0);
}

static pid_t spawn_member(const char *url, const char *group, const char *topic, int id)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A member must not outlive a test that failed half-way. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(30);
        member_main(url, group, topic, id);
    }
    long long deadline = contract_now_ms() + WAIT_MS;
    while (!atomic_load(&B_->ready[id]) && contract_now_ms() < deadline)
        contract_sleep_ms(5);
    ck_assert_msg(atomic_load(&B_->ready[id]), "member %d did not subscribe", id);
    return pid;
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

typedef struct pub {
    const chat_broker_ops *ops;
    void *impl;
    const char *topic;
    atomic_bool stop;
    chat_err rv;
} pub;

/* A steady stream, every key in turn, until told to stop; then a flush. */
static void *publisher(void *arg)
{
    pub *p = arg;
    int idx = 0;
    p->rv = CHAT_OK;
    while (!atomic_load(&p->stop) && idx < MAX_MSGS && p->rv == CHAT_OK) {
        char key[8], data[16];
        snprintf(key, sizeof key, "k%d", key_of(idx));
        int len = snprintf(data, sizeof data, "%d", idx);
        chat_broker_msg m = {p->topic, key, data, (size_t)len};
        p->rv = p->ops->publish(p->impl, &m, 1, NULL, NULL, NULL);
        atomic_store(&B_->published, ++idx);
        contract_sleep_ms(PUB_EVERY_MS);
    }
    if (p->rv == CHAT_OK)
        p->rv = p->ops->flush(p->impl, WAIT_MS);
    return NULL;
}

/* The member that handled idx last (-1: none yet). */
static int owner_of(int idx)
{
    long long a0 = atomic_load(&B_->at[0][idx]), a1 = atomic_load(&B_->at[1][idx]);
    if (a0 == 0 && a1 == 0)
        return -1;
    return a1 > a0 ? 1 : 0;
}

/* The time the survivor first handled each of the keys, after t0 (0: not yet). */
static long long handover_at(int surv, const bool *keys, long long t0)
{
    long long first[KEYS] = {0};
    int n = atomic_load(&B_->published);
    for (int i = 0; i < n; i++) {
        long long at = atomic_load(&B_->at[surv][i]);
        int k = key_of(i);
        if (keys[k] && at >= t0 && (first[k] == 0 || at < first[k]))
            first[k] = at;
    }
    long long last = 0;
    for (int k = 0; k < KEYS; k++) {
        if (keys[k] && first[k] == 0)
            return 0;
        if (first[k] > last)
            last = first[k];
    }
    return last;
}

static void run(const char *url, bool crash, long long bound_ms, const char *what)
{
    B_ = mmap(NULL, sizeof *B_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(B_, MAP_FAILED);
    const chat_broker_ops *ops = chati_backend_find(CHATI_IFACE_BROKER, url);
    ck_assert_ptr_nonnull(ops);
    char topic[64], group[64];
    contract_uniq("th", topic, sizeof topic);
    contract_uniq("gh", group, sizeof group);

    /* Forked before this process starts any librdkafka thread. */
    pid_t pids[2];
    pids[0] = spawn_member(url, group, topic, 0);
    pids[1] = spawn_member(url, group, topic, 1);
    static pub p;
    p.ops = ops;
    p.topic = topic;
    atomic_init(&p.stop, false);
    ck_assert_chat_ok(ops->open(url, contract_cfg(), &p.impl));
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, publisher, &p), 0);

    /* Who holds which keys, from what each handled last once both caught up
     * (a broker just started may take a while over its first group). */
    contract_sleep_ms(WARMUP_MS);
    bool keys[2][KEYS] = {{false}};
    int n0 = atomic_load(&B_->published);
    long long deadline = contract_now_ms() + WAIT_MS;
    for (int i = 0; i < n0 && contract_now_ms() < deadline;)
        if (owner_of(i) >= 0)
            i++;
        else
            contract_sleep_ms(10);
    for (int i = n0 > 4 * KEYS ? n0 - 4 * KEYS : 0; i < n0; i++) {
        int o = owner_of(i);
        if (o >= 0)
            keys[o][key_of(i)] = true;
    }
    int victim = 1, surv = 0, held = 0;
    for (int k = 0; k < KEYS; k++)
        held += keys[victim][k];
    if (held == 0) {
        victim = 0;
        surv = 1;
        for (int k = 0; k < KEYS; k++)
            held += keys[victim][k];
    }
    ck_assert_msg(held > 0 && held < KEYS, "Kafka did not split the keys (%d of %d)", held,
                  KEYS);

    long long t0 = contract_now_ms();
    if (crash) {
        ck_assert_int_eq(kill(pids[victim], SIGKILL), 0);
        ck_assert_int_eq(wait_exit(pids[victim]), 128 + SIGKILL);
    } else {
        atomic_store(&B_->leave[victim], 1);
    }
    long long done_at = 0;
    deadline = t0 + WAIT_MS;
    while ((done_at = handover_at(surv, keys[victim], t0)) == 0 && contract_now_ms() < deadline)
        contract_sleep_ms(10);
    long long left_ms = 0;
    if (!crash) {
        ck_assert_int_eq(wait_exit(pids[victim]), 0);
        left_ms = atomic_load(&B_->left_at[victim]) - t0;
    }
    contract_sleep_ms(AFTER_MS);
    atomic_store(&p.stop, true);
    pthread_join(t, NULL);
    ck_assert_chat_ok(p.rv);

    int n = atomic_load(&B_->published), missing = 0, first_missing = -1, dups = 0;
    deadline = contract_now_ms() + WAIT_MS;
    for (;;) {
        missing = 0;
        for (int i = 0; i < n; i++)
            if (atomic_load(&B_->count[0][i]) + atomic_load(&B_->count[1][i]) == 0 &&
                missing++ == 0)
                first_missing = i;
        if (missing == 0 || contract_now_ms() >= deadline)
            break;
        contract_sleep_ms(20);
    }
    for (int i = 0; i < n; i++) {
        int c = atomic_load(&B_->count[0][i]) + atomic_load(&B_->count[1][i]);
        dups += c > 1 ? c - 1 : 0;
    }
    long long handover = done_at ? done_at - t0 : -1;
    char close_took[64] = "";
    if (!crash)
        snprintf(close_took, sizeof close_took, "; unsubscribe+close took %lld ms", left_ms);
    fprintf(stderr,
            "kafka handover, %s: %lld ms (bound %lld ms)%s; member %d held %d of %d keys; "
            "%d messages, %d duplicates, %d missing\n",
            what, handover, bound_ms, close_took, victim, held, KEYS, n, dups, missing);

    atomic_store(&B_->leave[surv], 1);
    ck_assert_int_eq(wait_exit(pids[surv]), 0);
    ops->close(p.impl);

    ck_assert_msg(missing == 0, "%d of %d messages never handled (the first: %d)", missing, n,
                  first_missing);
    ck_assert_msg(handover >= 0, "the survivor never got the partitions");
    ck_assert_msg(handover <= bound_ms, "handover took %lld ms (bound %lld ms)", handover,
                  bound_ms);
    if (!crash)
        ck_assert_msg(dups == 0, "%d messages handled twice after a clean stop", dups);
    munmap(B_, sizeof *B_);
}

START_TEST(test_kill_hands_over)
{
    const char *url = contract_begin("kafka-kill");
    /* The session timeout, then a rebalance: well under the old 45 s. */
    run(url, true, DEFAULT_SESSION_MS + 3000, "kill -9");
    contract_end();
}
END_TEST

/* The URL's settings, and the cooperative protocol's incremental assignments. */
START_TEST(test_kill_hands_over_url_settings)
{
    const char *base = contract_begin("kafka-kill-url");
    char url[512];
    snprintf(url, sizeof url, "%s%ssession_timeout_ms=%d&assignor=cooperative-sticky", base,
             strchr(base, '?') ? "&" : "?", URL_SESSION_MS);
    run(url, true, URL_SESSION_MS + 3000, "kill -9, session_timeout_ms=2000, cooperative");
    contract_end();
}
END_TEST

START_TEST(test_clean_stop_hands_over)
{
    const char *url = contract_begin("kafka-stop");
    run(url, false, 2000, "clean stop");
    contract_end();
}
END_TEST

int main(int argc, char **argv)
{
    contract_init(argc, argv, "kafka://127.0.0.1:9092");
    Suite *s = suite_create("kafka broker handover");
    TCase *tc = tcase_create("handover");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_clean_stop_hands_over);
    tcase_add_test(tc, test_kill_hands_over);
    tcase_add_test(tc, test_kill_hands_over_url_settings);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
