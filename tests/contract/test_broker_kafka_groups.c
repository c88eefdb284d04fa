/*
 * The Kafka broker across processes: what the broker contract suite cannot
 * see, because within one process the members of a group share one Kafka
 * consumer. Two broker instances opened on the same URL are two Kafka group
 * members, as two processes would be. argv[1] is the broker URL
 * (tests/fixtures/kafka.sh exec substitutes {kafka}).
 *
 *   - one group in two "processes": every message handled exactly once in all,
 *     in order per key in each, and both take part (Kafka split the partitions)
 *   - one of them leaves: the other takes over its partitions and gets
 *     everything published afterwards
 *   - a group still joining when messages come (its partitions are assigned
 *     and positioned only later) gets every message published since it
 *     subscribed, not only those after the assignment
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/broker.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

#define N 1000
#define N_AFTER 300
#define KEYS 10
#define WAIT_MS 60000

typedef struct member_log {
    pthread_mutex_t mu;
    int count[N + N_AFTER];     /* deliveries per message */
    int last[KEYS];             /* highest message seen per key */
    int order_errors;
    int handled;
} member_log;

static chat_err on_batch(void *arg, const chat_broker_msg *msgs, size_t n)
{
    member_log *l = arg;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        size_t len = msgs[i].len < sizeof buf - 1 ? msgs[i].len : sizeof buf - 1;
        memcpy(buf, msgs[i].data, len);
        buf[len] = '\0';
        int idx = atoi(buf);
        if (idx < 0 || idx >= N + N_AFTER)
            continue;
        int k = idx % KEYS;
        if (idx <= l->last[k])
            l->order_errors++;
        l->last[k] = idx;
        l->count[idx]++;
        l->handled++;
    }
    pthread_mutex_unlock(&l->mu);
    return CHAT_OK;
}

static int handled(member_log *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->handled;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void publish_range(const chat_broker_ops *B, void *impl, const char *topic, int from,
                          int to)
{
    for (int i = from; i < to; i++) {
        char key[8], data[16];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        int len = snprintf(data, sizeof data, "%d", i);
        chat_broker_msg m = {topic, key, data, (size_t)len};
        ck_assert_chat_ok(B->publish(impl, &m, 1, NULL, NULL, NULL));
    }
    ck_assert_chat_ok(B->flush(impl, WAIT_MS));
}

START_TEST(test_group_split_across_processes)
{
    const char *url = contract_begin("kafka-groups");
    const chat_broker_ops *B = chati_backend_find(CHATI_IFACE_BROKER, url);
    ck_assert_ptr_nonnull(B);
    void *p1 = NULL, *p2 = NULL;
    ck_assert_chat_ok(B->open(url, contract_cfg(), &p1));
    ck_assert_chat_ok(B->open(url, contract_cfg(), &p2));
    char topic[64], group[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", group, sizeof group);
    static member_log l1, l2;
    pthread_mutex_init(&l1.mu, NULL);
    pthread_mutex_init(&l2.mu, NULL);
    for (int k = 0; k < KEYS; k++)
        l1.last[k] = l2.last[k] = -1;
    const char *topics[1] = {topic};
    chat_broker_consumer *c1 = NULL, *c2 = NULL;
    ck_assert_chat_ok(B->subscribe(p1, group, topics, 1, 16, on_batch, &l1, &c1));
    ck_assert_chat_ok(B->subscribe(p2, group, topics, 1, 16, on_batch, &l2, &c2));
    /* No pause: the second join made Kafka rebalance, and the first member's
     * partitions may still be moving while we publish; nothing may be lost. */

    publish_range(B, p1, topic, 0, N);
    long long deadline = contract_now_ms() + WAIT_MS;
    while (handled(&l1) + handled(&l2) < N && contract_now_ms() < deadline)
        contract_sleep_ms(10);
    contract_sleep_ms(200);
    for (int i = 0; i < N; i++)
        ck_assert_msg(l1.count[i] + l2.count[i] == 1, "message %d handled %d times", i,
                      l1.count[i] + l2.count[i]);
    ck_assert_int_eq(l1.order_errors, 0);
    ck_assert_int_eq(l2.order_errors, 0);
    ck_assert_msg(handled(&l1) > 0 && handled(&l2) > 0,
                  "Kafka gave one process everything (%d / %d)", handled(&l1), handled(&l2));

    /* The second process leaves: the first takes over all partitions. */
    B->unsubscribe(p2, c2);
    B->close(p2);
    int before = handled(&l1);
    publish_range(B, p1, topic, N, N + N_AFTER);
    deadline = contract_now_ms() + WAIT_MS;
    while (handled(&l1) - before < N_AFTER && contract_now_ms() < deadline)
        contract_sleep_ms(10);
    for (int i = N; i < N + N_AFTER; i++)
        ck_assert_msg(l1.count[i] >= 1, "message %d never reached the remaining member", i);
    ck_assert_int_eq(l1.order_errors, 0);
    B->unsubscribe(p1, c1);
    B->close(p1);
    contract_end();
}
END_TEST

/* Publishes messages 0..N_JOINING-1 once the subscription has begun, a few
 * milliseconds apart, so that some land while the group is still joining. */
#define N_JOINING 200
#define JOIN_SLACK_MS 20

typedef struct joining_pub {
    const chat_broker_ops *B;
    void *impl;
    const char *topic;
    _Atomic int started;        /* set by the subscriber just before subscribe */
    _Atomic int published;      /* messages published so far */
    long long at[N_JOINING];    /* when each was published (contract_now_ms) */
} joining_pub;

static void *publish_while_joining(void *arg)
{
    joining_pub *j = arg;
    while (!atomic_load(&j->started))
        contract_sleep_ms(1);
    for (int i = 0; i < N_JOINING; i++) {
        char key[8], data[16];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        int len = snprintf(data, sizeof data, "%d", i);
        chat_broker_msg m = {j->topic, key, data, (size_t)len};
        j->at[i] = contract_now_ms();
        ck_assert_chat_ok(j->B->publish(j->impl, &m, 1, NULL, NULL, NULL));
        atomic_fetch_add(&j->published, 1);
        contract_sleep_ms(5);
    }
    ck_assert_chat_ok(j->B->flush(j->impl, WAIT_MS));
    return NULL;
}

START_TEST(test_messages_while_joining_are_delivered)
{
    const char *url = contract_begin("kafka-joining");
    const chat_broker_ops *B = chati_backend_find(CHATI_IFACE_BROKER, url);
    ck_assert_ptr_nonnull(B);
    void *pub = NULL, *sub = NULL;
    ck_assert_chat_ok(B->open(url, contract_cfg(), &pub));
    ck_assert_chat_ok(B->open(url, contract_cfg(), &sub));
    char topic[64], group[64];
    contract_uniq("tj", topic, sizeof topic);
    contract_uniq("gj", group, sizeof group);
    static member_log l;
    pthread_mutex_init(&l.mu, NULL);
    for (int k = 0; k < KEYS; k++)
        l.last[k] = -1;
    static joining_pub j;
    j.B = B;
    j.impl = pub;
    j.topic = topic;
    atomic_init(&j.started, 0);
    atomic_init(&j.published, 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, publish_while_joining, &j), 0);
    const char *topics[1] = {topic};
    chat_broker_consumer *c = NULL;
    atomic_store(&j.started, 1);
    long long called = contract_now_ms();
    ck_assert_chat_ok(B->subscribe(sub, group, topics, 1, 16, on_batch, &l, &c));
    int joined_after = atomic_load(&j.published);
    pthread_join(t, NULL);
    long long deadline = contract_now_ms() + WAIT_MS;
    while (handled(&l) < N_JOINING && contract_now_ms() < deadline)
        contract_sleep_ms(10);
    /* The contract covers what is published after the call began. The
     * flag is set just before it, so on a loaded machine the first message
     * can go out before the consumer takes its starting time (seen twice
     * in one day): what was published within JOIN_SLACK_MS of the call may
     * be missing. The rest of the join (50-100 ms here) is checked. */
    int missing = 0, first_missing = -1, excused = 0, during = 0;
    for (int i = 0; i < N_JOINING; i++) {
        bool early = j.at[i] < called + JOIN_SLACK_MS;
        during += !early && i < joined_after;
        if (l.count[i] == 0 && early)
            excused++;
        else if (l.count[i] == 0 && missing++ == 0)
            first_missing = i;
    }
    printf("joining: %d messages published during the join after the first %d ms, "
           "%d within them missing\n", during, JOIN_SLACK_MS, excused);
    ck_assert_msg(missing == 0, "%d of %d messages published while the group joined never "
                  "arrived (the first: %d)", missing, N_JOINING, first_missing);
    ck_assert_int_eq(l.order_errors, 0);
    B->unsubscribe(sub, c);
    B->close(sub);
    B->close(pub);
    contract_end();
}
END_TEST

int main(int argc, char **argv)
{
    contract_init(argc, argv, "kafka://127.0.0.1:9092");
    Suite *s = suite_create("kafka broker across processes");
    TCase *tc = tcase_create("groups");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_group_split_across_processes);
    tcase_add_test(tc, test_messages_while_joining_are_delivered);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
