/*
 * Contract suite for event brokers (chat/backend/broker.h). argv[1] is the
 * broker URL template ("inproc:", "kafka://host:9092", ...).
 *
 * Handlers run on broker threads, so they only record what they saw; the
 * test thread makes the assertions.
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

#define FLUSH_MS 60000
#define WAIT_MS 60000

static const chat_broker_ops *B;
static void *impl;

static void setup(void)
{
    const char *url = contract_begin("broker");
    B = chati_backend_find(CHATI_IFACE_BROKER, url);
    ck_assert_msg(B != NULL, "no broker registered for %s", url);
    ck_assert_uint_ge(B->version, CHAT_BROKER_V1);
    ck_assert_chat_ok(B->open(url, contract_cfg(), &impl));
}

static void teardown(void)
{
    if (impl)
        B->close(impl);
    impl = NULL;
    contract_end();
}

/* ---- a recording consumer ---- */

typedef struct entry {
    char *topic, *key, *data;   /* data NUL-terminated copy */
    size_t len;
    unsigned call;              /* which handler call delivered it */
    bool failed;                /* that call returned an error */
} entry;

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    entry *log;
    size_t n_log, cap;
    size_t n_ok;                /* messages in successful calls */
    unsigned calls;
    size_t max_batch_seen;
    int fail_calls;             /* fail this many calls first */
    int sleep_first_ms;         /* sleep in the first call */
    int sleep_each_ms;
    atomic_bool gate_closed;    /* while set, handler waits */
    atomic_bool started;
    atomic_bool finished_one;
    atomic_bool gone;           /* set once unsubscribe returned */
    atomic_int late;            /* calls seen after gone */
} rec;

static rec *rec_new(void)
{
    rec *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
}

static void rec_free(rec *r)
{
    for (size_t i = 0; i < r->n_log; i++) {
        free(r->log[i].topic);
        free(r->log[i].key);
        free(r->log[i].data);
    }
    free(r->log);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static chat_err rec_handler(void *arg, const chat_broker_msg *msgs, size_t n)
{
    rec *r = arg;
    if (atomic_load(&r->gone))
        atomic_fetch_add(&r->late, 1);
    atomic_store(&r->started, true);
    while (atomic_load(&r->gate_closed))
        contract_sleep_ms(2);
    pthread_mutex_lock(&r->mu);
    unsigned call = ++r->calls;
    int sleep_ms = r->sleep_each_ms + (call == 1 ? r->sleep_first_ms : 0);
    bool fail = r->fail_calls > 0;
    if (fail)
        r->fail_calls--;
    pthread_mutex_unlock(&r->mu);
    if (sleep_ms)
        contract_sleep_ms(sleep_ms);

    pthread_mutex_lock(&r->mu);
    if (n > r->max_batch_seen)
        r->max_batch_seen = n;
    for (size_t i = 0; i < n; i++) {
        if (r->n_log == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 256;
            r->log = realloc(r->log, r->cap * sizeof *r->log);
        }
        entry *e = &r->log[r->n_log++];
        e->topic = strdup(msgs[i].topic);
        e->key = strdup(msgs[i].key ? msgs[i].key : "");
        e->data = malloc(msgs[i].len + 1);
        memcpy(e->data, msgs[i].data, msgs[i].len);
        e->data[msgs[i].len] = '\0';
        e->len = msgs[i].len;
        e->call = call;
        e->failed = fail;
    }
    if (!fail)
        r->n_ok += n;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    atomic_store(&r->finished_one, true);
    return fail ? CHAT_ERR_SERVICE_UNAVAILABLE : CHAT_OK;
}

/* Waits until r has handled at least n messages; returns how many. */
static size_t rec_wait(rec *r, size_t n)
{
    long long deadline = contract_now_ms() + WAIT_MS;
    pthread_mutex_lock(&r->mu);
    while (r->n_ok < n && contract_now_ms() < deadline) {
        pthread_mutex_unlock(&r->mu);
        contract_sleep_ms(5);
        pthread_mutex_lock(&r->mu);
    }
    size_t got = r->n_ok;
    pthread_mutex_unlock(&r->mu);
    return got;
}

/* The successfully handled entries, in order, as an array of pointers. */
static size_t rec_ok(rec *r, entry ***out)
{
    pthread_mutex_lock(&r->mu);
    entry **v = calloc(r->n_log + 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < r->n_log; i++)
        if (!r->log[i].failed)
            v[k++] = &r->log[i];
    pthread_mutex_unlock(&r->mu);
    *out = v;
    return k;
}

static chat_broker_consumer *sub(const char *group, const char *topic, size_t max_batch,
                                 rec *r)
{
    const char *topics[1] = {topic};
    chat_broker_consumer *c = NULL;
    ck_assert_chat_ok(B->subscribe(impl, group, topics, 1, max_batch, rec_handler, r, &c));
    ck_assert_ptr_nonnull(c);
    return c;
}

static void unsub(chat_broker_consumer *c, rec *r)
{
    B->unsubscribe(impl, c);
    if (r)
        atomic_store(&r->gone, true);
}

static void pub(const char *topic, const char *key, const char *fmt, int i)
{
    char buf[64];
    int len = snprintf(buf, sizeof buf, fmt, i);
    chat_broker_msg m = {topic, key, buf, (size_t)len};
    ck_assert_chat_ok(B->publish(impl, &m, 1, NULL, NULL, NULL));
}

/* ---- tests ---- */

START_TEST(test_two_groups_each_get_all)
{
    char topic[64], g1[64], g2[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g1", g1, sizeof g1);
    contract_uniq("g2", g2, sizeof g2);
    rec *a = rec_new(), *b = rec_new();
    chat_broker_consumer *ca = sub(g1, topic, 16, a);
    chat_broker_consumer *cb = sub(g2, topic, 16, b);
    for (int i = 0; i < 100; i++)
        pub(topic, "k", "m%d", i);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_eq(rec_wait(a, 100), 100);
    ck_assert_uint_eq(rec_wait(b, 100), 100);
    rec *rs[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        entry **v;
        size_t n = rec_ok(rs[k], &v);
        ck_assert_uint_eq(n, 100);
        for (int i = 0; i < 100; i++) {
            char want[32];
            snprintf(want, sizeof want, "m%d", i);
            ck_assert_str_eq(v[i]->data, want);
            ck_assert_str_eq(v[i]->key, "k");
            ck_assert_str_eq(v[i]->topic, topic);
        }
        free(v);
    }
    unsub(ca, a);
    unsub(cb, b);
    rec_free(a);
    rec_free(b);
}
END_TEST

START_TEST(test_one_member_per_group)
{
    enum { N = 1000 };
    char topic[64], g[64], h[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    contract_uniq("h", h, sizeof h);
    rec *a = rec_new(), *b = rec_new(), *c = rec_new();
    chat_broker_consumer *ca = sub(g, topic, 8, a);
    chat_broker_consumer *cb = sub(g, topic, 8, b);
    chat_broker_consumer *cc = sub(h, topic, 8, c);
    for (int i = 0; i < N; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i % 10);
        pub(topic, key, "%d", i);
    }
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_eq(rec_wait(c, N), N);
    long long deadline = contract_now_ms() + WAIT_MS;
    while (rec_wait(a, 0) + rec_wait(b, 0) < N && contract_now_ms() < deadline)
        contract_sleep_ms(5);

    static int seen[N];
    memset(seen, 0, sizeof seen);
    rec *gm[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        entry **v;
        size_t n = rec_ok(gm[k], &v);
        for (size_t i = 0; i < n; i++) {
            int idx = atoi(v[i]->data);
            ck_assert_int_ge(idx, 0);
            ck_assert_int_lt(idx, N);
            seen[idx]++;
        }
        free(v);
    }
    for (int i = 0; i < N; i++)
        ck_assert_msg(seen[i] == 1, "message %d reached group g %d times", i, seen[i]);
    /* Group h got each message once, in publish order per key (broker.h
     * promises no order across keys: Kafka orders per partition). Strictly
     * rising per key over N entries means each one exactly once. */
    entry **v;
    ck_assert_uint_eq(rec_ok(c, &v), N);
    int last[10];
    for (int k = 0; k < 10; k++)
        last[k] = -1;
    for (int i = 0; i < N; i++) {
        int idx = atoi(v[i]->data), k = idx % 10;
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        ck_assert_str_eq(v[i]->key, key);
        ck_assert_int_gt(idx, last[k]);
        last[k] = idx;
    }
    free(v);
    unsub(ca, a);
    unsub(cb, b);
    unsub(cc, c);
    rec_free(a);
    rec_free(b);
    rec_free(c);
}
END_TEST

/* ---- per-key order under concurrent publishers ---- */

enum { ORDER_PUBS = 2, ORDER_MSGS = 5000, ORDER_KEYS = 8 };

typedef struct ordchk {
    pthread_mutex_t mu;
    int last[ORDER_PUBS][ORDER_KEYS];
    long total, violations, dups;
} ordchk;

static chat_err order_handler(void *arg, const chat_broker_msg *msgs, size_t n)
{
    ordchk *o = arg;
    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        size_t len = msgs[i].len < sizeof buf - 1 ? msgs[i].len : sizeof buf - 1;
        memcpy(buf, msgs[i].data, len);
        buf[len] = '\0';
        int p = -1, k = -1, seq = -1;
        if (sscanf(buf, "%d:%d:%d", &p, &k, &seq) != 3 || p < 0 || p >= ORDER_PUBS || k < 0 ||
            k >= ORDER_KEYS || msgs[i].key[0] != 'k' || atoi(msgs[i].key + 1) != k) {
            o->violations++;
            continue;
        }
        if (seq == o->last[p][k])
            o->dups++;
        else if (seq < o->last[p][k])
            o->violations++;
        else
            o->last[p][k] = seq;
        o->total++;
    }
    pthread_mutex_unlock(&o->mu);
    return CHAT_OK;
}

typedef struct pubarg {
    int id;
    const char *topic;
    atomic_int errors;
} pubarg;

static void *order_publisher(void *arg)
{
    pubarg *pa = arg;
    for (int seq = 1; seq <= ORDER_MSGS; seq++) {
        int k = seq % ORDER_KEYS;
        char key[8], data[64];
        snprintf(key, sizeof key, "k%d", k);
        int len = snprintf(data, sizeof data, "%d:%d:%d", pa->id, k, seq);
        chat_broker_msg m = {pa->topic, key, data, (size_t)len};
        if (B->publish(impl, &m, 1, NULL, NULL, NULL) != CHAT_OK)
            atomic_fetch_add(&pa->errors, 1);
    }
    return NULL;
}

static long ord_total(ordchk *o)
{
    pthread_mutex_lock(&o->mu);
    long t = o->total;
    pthread_mutex_unlock(&o->mu);
    return t;
}

START_TEST(test_per_key_order_two_publishers)
{
    char topic[64], g[64], h[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    contract_uniq("h", h, sizeof h);
    ordchk og = {0}, oh = {0};
    pthread_mutex_init(&og.mu, NULL);
    pthread_mutex_init(&oh.mu, NULL);
    const char *topics[1] = {topic};
    chat_broker_consumer *c1, *c2, *c3;
    ck_assert_chat_ok(B->subscribe(impl, g, topics, 1, 32, order_handler, &og, &c1));
    ck_assert_chat_ok(B->subscribe(impl, g, topics, 1, 32, order_handler, &og, &c2));
    ck_assert_chat_ok(B->subscribe(impl, h, topics, 1, 100, order_handler, &oh, &c3));

    pthread_t th[ORDER_PUBS];
    pubarg pa[ORDER_PUBS];
    for (int i = 0; i < ORDER_PUBS; i++) {
        pa[i].id = i;
        pa[i].topic = topic;
        atomic_init(&pa[i].errors, 0);
        ck_assert_int_eq(pthread_create(&th[i], NULL, order_publisher, &pa[i]), 0);
    }
    for (int i = 0; i < ORDER_PUBS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(atomic_load(&pa[i].errors), 0);
    }
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    const long want = (long)ORDER_PUBS * ORDER_MSGS;
    long long deadline = contract_now_ms() + WAIT_MS;
    while ((ord_total(&og) < want || ord_total(&oh) < want) && contract_now_ms() < deadline)
        contract_sleep_ms(5);
    B->unsubscribe(impl, c1);
    B->unsubscribe(impl, c2);
    B->unsubscribe(impl, c3);
    ordchk *os[2] = {&og, &oh};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(os[i]->violations, 0);
        ck_assert_int_eq(os[i]->dups, 0);
        ck_assert_int_eq(os[i]->total, want);
        for (int p = 0; p < ORDER_PUBS; p++)
            for (int k = 0; k < ORDER_KEYS; k++)
                ck_assert_int_gt(os[i]->last[p][k], ORDER_MSGS - ORDER_KEYS);
    }
}
END_TEST

START_TEST(test_redelivery_after_error)
{
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    r->fail_calls = 2;
    chat_broker_consumer *c = sub(g, topic, 16, r);
    chat_broker_msg m[5];
    char data[5][8];
    for (int i = 0; i < 5; i++) {
        snprintf(data[i], sizeof data[i], "m%d", i);
        m[i] = (chat_broker_msg){topic, "k", data[i], strlen(data[i])};
    }
    ck_assert_chat_ok(B->publish(impl, m, 5, NULL, NULL, NULL));
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_ge(rec_wait(r, 5), 5);

    pthread_mutex_lock(&r->mu);
    ck_assert_uint_ge(r->calls, 3);
    /* The failed batches come back, starting with the same message. */
    ck_assert(r->log[0].failed);
    ck_assert_str_eq(r->log[0].data, "m0");
    size_t first_ok = 0;
    while (first_ok < r->n_log && r->log[first_ok].failed)
        first_ok++;
    ck_assert_uint_lt(first_ok, r->n_log);
    ck_assert_str_eq(r->log[first_ok].data, "m0");
    /* Every message was finally handled, in order. */
    size_t k = 0;
    for (size_t i = first_ok; i < r->n_log; i++) {
        if (r->log[i].failed)
            continue;
        char want[32];
        snprintf(want, sizeof want, "m%zu", k);
        if (k < 5 && strcmp(r->log[i].data, want) == 0)
            k++;
    }
    ck_assert_uint_eq(k, 5);
    pthread_mutex_unlock(&r->mu);
    unsub(c, r);
    rec_free(r);
}
END_TEST

/* ---- acks ---- */

enum { ACK_N = 200 };
static atomic_int acked[ACK_N];
static atomic_int ack_bad;

static void ack_cb(void *arg, int64_t tag, chat_err ok)
{
    CHATI_UNUSED(arg);
    if (tag < 0 || tag >= ACK_N || ok != CHAT_OK) {
        atomic_fetch_add(&ack_bad, 1);
        return;
    }
    atomic_fetch_add(&acked[tag], 1);
}

START_TEST(test_acks_once_per_message)
{
    char topic[64], g1[64], g2[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g1", g1, sizeof g1);
    contract_uniq("g2", g2, sizeof g2);
    for (int i = 0; i < ACK_N; i++)
        atomic_init(&acked[i], 0);
    atomic_init(&ack_bad, 0);
    rec *a = rec_new(), *b = rec_new();
    chat_broker_consumer *ca = sub(g1, topic, 16, a);
    chat_broker_consumer *cb = sub(g2, topic, 16, b);
    for (int base = 0; base < ACK_N; base += 50) {
        chat_broker_msg m[50];
        char data[50][16];
        int64_t tags[50];
        for (int i = 0; i < 50; i++) {
            snprintf(data[i], sizeof data[i], "%d", base + i);
            m[i] = (chat_broker_msg){topic, "k", data[i], strlen(data[i])};
            tags[i] = base + i;
        }
        ck_assert_chat_ok(B->publish(impl, m, 50, tags, ack_cb, NULL));
    }
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    for (int i = 0; i < ACK_N; i++)
        ck_assert_msg(atomic_load(&acked[i]) == 1, "tag %d acked %d times", i,
                      atomic_load(&acked[i]));
    ck_assert_int_eq(atomic_load(&ack_bad), 0);
    ck_assert_uint_eq(rec_wait(a, ACK_N), ACK_N);
    ck_assert_uint_eq(rec_wait(b, ACK_N), ACK_N);
    unsub(ca, a);
    unsub(cb, b);
    /* No second ack shows up later. */
    contract_sleep_ms(50);
    for (int i = 0; i < ACK_N; i++)
        ck_assert_int_eq(atomic_load(&acked[i]), 1);
    rec_free(a);
    rec_free(b);
}
END_TEST

START_TEST(test_flush_waits_for_handlers)
{
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    r->sleep_each_ms = 1;
    chat_broker_consumer *c = sub(g, topic, 1, r);
    for (int i = 0; i < 200; i++)
        pub(topic, "k", "m%d", i);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    /* No waiting here: flush promised everything was handled. */
    pthread_mutex_lock(&r->mu);
    ck_assert_uint_eq(r->n_ok, 200);
    pthread_mutex_unlock(&r->mu);
    unsub(c, r);
    rec_free(r);
}
END_TEST

START_TEST(test_flush_times_out)
{
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    atomic_store(&r->gate_closed, true);
    chat_broker_consumer *c = sub(g, topic, 4, r);
    pub(topic, "k", "m%d", 0);
    long long t0 = contract_now_ms();
    ck_assert_chat_err(B->flush(impl, 200), CHAT_ERR_TIMEOUT);
    ck_assert_int_ge(contract_now_ms() - t0, 150);
    atomic_store(&r->gate_closed, false);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_eq(rec_wait(r, 1), 1);
    /* Nothing pending: flush returns at once. */
    ck_assert_chat_ok(B->flush(impl, 0));
    unsub(c, r);
    rec_free(r);
}
END_TEST

/* ---- unsubscribe ---- */

enum { TRAFFIC_N = 20000, CHURN = 20 };

typedef struct seen_member {
    atomic_uchar *seen;         /* shared by a group's members */
    atomic_bool gone;
    atomic_int late;
    atomic_long handled;
} seen_member;

static chat_err seen_handler(void *arg, const chat_broker_msg *msgs, size_t n)
{
    seen_member *m = arg;
    if (atomic_load(&m->gone))
        atomic_fetch_add(&m->late, 1);
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        size_t len = msgs[i].len < sizeof buf - 1 ? msgs[i].len : sizeof buf - 1;
        memcpy(buf, msgs[i].data, len);
        buf[len] = '\0';
        int idx = atoi(buf);
        if (idx >= 0 && idx < TRAFFIC_N)
            atomic_store(&m->seen[idx], 1);
    }
    atomic_fetch_add(&m->handled, (long)n);
    return CHAT_OK;
}

typedef struct traffic {
    const char *topic;
    atomic_int errors;
    atomic_int published;
} traffic;

static void *traffic_main(void *arg)
{
    traffic *t = arg;
    for (int base = 0; base < TRAFFIC_N; base += 10) {
        chat_broker_msg m[10];
        char data[10][16];
        for (int i = 0; i < 10; i++) {
            snprintf(data[i], sizeof data[i], "%d", base + i);
            m[i] = (chat_broker_msg){t->topic, "k", data[i], strlen(data[i])};
        }
        if (B->publish(impl, m, 10, NULL, NULL, NULL) != CHAT_OK)
            atomic_fetch_add(&t->errors, 1);
        atomic_fetch_add(&t->published, 10);
    }
    return NULL;
}

START_TEST(test_unsubscribe_during_traffic)
{
    char topic[64], g[64], h[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    contract_uniq("h", h, sizeof h);
    const char *topics[1] = {topic};
    atomic_uchar *seen_g = calloc(TRAFFIC_N, sizeof *seen_g);
    atomic_uchar *seen_h = calloc(TRAFFIC_N, sizeof *seen_h);
    seen_member stay = {.seen = seen_g}, lone = {.seen = seen_h};
    seen_member churn[CHURN];
    memset(churn, 0, sizeof churn);
    chat_broker_consumer *c_stay, *c_lone;
    ck_assert_chat_ok(B->subscribe(impl, g, topics, 1, 16, seen_handler, &stay, &c_stay));
    ck_assert_chat_ok(B->subscribe(impl, h, topics, 1, 16, seen_handler, &lone, &c_lone));

    traffic t = {.topic = topic};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, traffic_main, &t), 0);
    for (int i = 0; i < CHURN; i++) {
        churn[i].seen = seen_g;
        chat_broker_consumer *c;
        ck_assert_chat_ok(B->subscribe(impl, g, topics, 1, 16, seen_handler, &churn[i], &c));
        contract_sleep_ms(3);
        B->unsubscribe(impl, c);
        atomic_store(&churn[i].gone, true);
        if (i == CHURN / 2) {
            /* The only member of group h leaves while messages are queued. */
            B->unsubscribe(impl, c_lone);
            atomic_store(&lone.gone, true);
        }
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&t.errors), 0);
    /* Messages queued for the vanished group must not hold up flush. */
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    long long deadline = contract_now_ms() + WAIT_MS;
    int missing = TRAFFIC_N;
    while (missing > 0 && contract_now_ms() < deadline) {
        missing = 0;
        for (int i = 0; i < TRAFFIC_N; i++)
            missing += !atomic_load(&seen_g[i]);
        if (missing)
            contract_sleep_ms(10);
    }
    ck_assert_msg(missing == 0, "%d messages never reached group g", missing);
    ck_assert_int_eq(atomic_load(&lone.late), 0);
    for (int i = 0; i < CHURN; i++)
        ck_assert_msg(atomic_load(&churn[i].late) == 0, "member %d called after unsubscribe",
                      i);
    B->unsubscribe(impl, c_stay);
    free(seen_g);
    free(seen_h);
}
END_TEST

START_TEST(test_unsubscribe_waits_for_handler)
{
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    r->sleep_first_ms = 300;
    chat_broker_consumer *c = sub(g, topic, 4, r);
    pub(topic, "k", "m%d", 0);
    long long deadline = contract_now_ms() + WAIT_MS;
    while (!atomic_load(&r->started) && contract_now_ms() < deadline)
        contract_sleep_ms(1);
    ck_assert(atomic_load(&r->started));
    unsub(c, r);
    ck_assert(atomic_load(&r->finished_one));
    pub(topic, "k", "m%d", 1);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    contract_sleep_ms(50);
    ck_assert_int_eq(atomic_load(&r->late), 0);
    rec_free(r);
}
END_TEST

START_TEST(test_batch_size_bound)
{
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    r->sleep_first_ms = 200; /* let a backlog build up */
    chat_broker_consumer *c = sub(g, topic, 7, r);
    for (int i = 0; i < 500; i++)
        pub(topic, "k", "m%d", i);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_eq(rec_wait(r, 500), 500);
    pthread_mutex_lock(&r->mu);
    ck_assert_uint_le(r->max_batch_seen, 7);
    ck_assert_uint_gt(r->max_batch_seen, 1);
    ck_assert_uint_ge(r->calls, 500 / 7);
    pthread_mutex_unlock(&r->mu);
    entry **v;
    ck_assert_uint_eq(rec_ok(r, &v), 500);
    for (int i = 0; i < 500; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%d", i);
        ck_assert_str_eq(v[i]->data, want);
    }
    free(v);
    unsub(c, r);
    rec_free(r);
}
END_TEST

START_TEST(test_sees_only_later_messages)
{
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    for (int i = 0; i < 10; i++)
        pub(topic, "k", "old%d", i);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    rec *r = rec_new();
    chat_broker_consumer *c = sub(g, topic, 16, r);
    for (int i = 0; i < 10; i++)
        pub(topic, "k", "new%d", i);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_ge(rec_wait(r, 10), 10);
    contract_sleep_ms(50);
    entry **v;
    size_t n = rec_ok(r, &v);
    ck_assert_uint_eq(n, 10);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strncmp(v[i]->data, "new", 3) == 0, "got %s", v[i]->data);
    free(v);
    unsub(c, r);
    rec_free(r);
}
END_TEST

START_TEST(test_topics_keys_and_binary_data)
{
    char t1[64], t2[64], t3[64], g[64], h[64];
    contract_uniq("t1", t1, sizeof t1);
    contract_uniq("t2", t2, sizeof t2);
    contract_uniq("t3", t3, sizeof t3);
    contract_uniq("g", g, sizeof g);
    contract_uniq("h", h, sizeof h);
    rec *a = rec_new(), *b = rec_new();
    const char *both[2] = {t1, t2};
    chat_broker_consumer *ca, *cb;
    ck_assert_chat_ok(B->subscribe(impl, g, both, 2, 16, rec_handler, a, &ca));
    cb = sub(h, t2, 16, b);

    /* Binary payload with a NUL inside; the caller's buffer is reused at once. */
    const char *ts[3] = {t1, t2, t3};
    for (int i = 0; i < 15; i++) {
        char buf[8] = {'x', '\0', (char)('a' + i), (char)0xff, 'y'};
        char key[16];
        snprintf(key, sizeof key, "C%d", i);
        chat_broker_msg m = {ts[i % 3], key, buf, 5};
        ck_assert_chat_ok(B->publish(impl, &m, 1, NULL, NULL, NULL));
        memset(buf, 0, sizeof buf);
    }
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_eq(rec_wait(a, 10), 10);
    ck_assert_uint_eq(rec_wait(b, 5), 5);
    contract_sleep_ms(50);
    entry **v;
    size_t n = rec_ok(a, &v);
    ck_assert_uint_eq(n, 10);
    /* Every key once (each has its own, so no order is promised between them). */
    for (int i = 0; i < 15; i++) {
        if (i % 3 == 2)
            continue;
        char key[16];
        snprintf(key, sizeof key, "C%d", i);
        size_t j = n;
        for (size_t x = 0; x < n; x++)
            if (strcmp(v[x]->key, key) == 0) {
                ck_assert_msg(j == n, "key %s delivered twice", key);
                j = x;
            }
        ck_assert_msg(j < n, "key %s not delivered", key);
        ck_assert_str_eq(v[j]->topic, ts[i % 3]);
        ck_assert_uint_eq(v[j]->len, 5);
        const char want[5] = {'x', '\0', (char)('a' + i), (char)0xff, 'y'};
        ck_assert(memcmp(v[j]->data, want, 5) == 0);
    }
    free(v);
    n = rec_ok(b, &v);
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(v[i]->topic, t2);
    free(v);
    unsub(ca, a);
    unsub(cb, b);
    rec_free(a);
    rec_free(b);
}
END_TEST

START_TEST(test_bad_arguments)
{
    char g[64];
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    chat_broker_consumer *c = NULL;
    ck_assert_int_ne(B->subscribe(impl, g, NULL, 0, 1, rec_handler, r, &c), CHAT_OK);
    chat_broker_msg m = {NULL, "k", "x", 1};
    ck_assert_int_ne(B->publish(impl, &m, 1, NULL, NULL, NULL), CHAT_OK);
    ck_assert_chat_ok(B->publish(impl, NULL, 0, NULL, NULL, NULL));
    ck_assert_int_eq(r->calls, 0);
    rec_free(r);
}
END_TEST

/* ---- V2: subscribe_batched (skipped for a broker without it) ---- */

static bool has_batched(void)
{
    return CHATI_HAS(B, subscribe_batched, CHAT_BROKER_V2);
}

static chat_broker_consumer *sub_linger(const char *group, const char *topic, size_t max_batch,
                                        int linger_ms, rec *r)
{
    const char *topics[1] = {topic};
    chat_broker_consumer *c = NULL;
    ck_assert_chat_ok(B->subscribe_batched(impl, group, topics, 1, max_batch, linger_ms,
                                           rec_handler, r, &c));
    ck_assert_ptr_nonnull(c);
    return c;
}

static void expect_in_order(rec *r, int n)
{
    entry **v;
    ck_assert_uint_eq(rec_ok(r, &v), (size_t)n);
    for (int i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%d", i);
        ck_assert_str_eq(v[i]->data, want);
    }
    free(v);
}

START_TEST(test_linger_gathers_one_batch)
{
    if (!has_batched())
        return;
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    chat_broker_consumer *c = sub_linger(g, topic, 64, 1500, r);
    for (int i = 0; i < 20; i++)
        pub(topic, "k", "m%d", i); /* one at a time, well within the linger */
    ck_assert_uint_eq(rec_wait(r, 20), 20);
    ck_assert_uint_eq(r->calls, 1);
    expect_in_order(r, 20);
    unsub(c, r);
    rec_free(r);
}
END_TEST

START_TEST(test_linger_ends_when_the_batch_is_full)
{
    if (!has_batched())
        return;
    char topic[64], g[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    rec *r = rec_new();
    chat_broker_consumer *c = sub_linger(g, topic, 5, 600000, r); /* 10 minutes */
    for (int i = 0; i < 10; i++)
        pub(topic, "k", "m%d", i);
    ck_assert_uint_eq(rec_wait(r, 10), 10);
    ck_assert_uint_eq(r->calls, 2);
    expect_in_order(r, 10);
    unsub(c, r);
    rec_free(r);
}
END_TEST

START_TEST(test_flush_cuts_a_linger_short_and_others_never_wait)
{
    if (!has_batched())
        return;
    char topic[64], g[64], h[64];
    contract_uniq("t", topic, sizeof topic);
    contract_uniq("g", g, sizeof g);
    contract_uniq("h", h, sizeof h);
    rec *slow = rec_new(), *plain = rec_new();
    chat_broker_consumer *cs = sub_linger(g, topic, 64, 600000, slow);
    chat_broker_consumer *cp = sub(h, topic, 64, plain);
    for (int i = 0; i < 3; i++)
        pub(topic, "k", "m%d", i);
    /* the consumer that asked for no linger gets them now; the other waits */
    ck_assert_uint_eq(rec_wait(plain, 3), 3);
    contract_sleep_ms(100);
    ck_assert_uint_eq(slow->n_ok, 0);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_uint_eq(slow->n_ok, 3);
    expect_in_order(slow, 3);
    unsub(cs, slow);
    unsub(cp, plain);
    rec_free(slow);
    rec_free(plain);
}
END_TEST

START_TEST(test_linger_bad_arguments)
{
    if (!has_batched())
        return;
    char g[64];
    contract_uniq("g", g, sizeof g);
    const char *topics[1] = {"t"};
    rec *r = rec_new();
    chat_broker_consumer *c = NULL;
    ck_assert_int_eq(B->subscribe_batched(impl, g, topics, 1, 8, -1, rec_handler, r, &c),
                     CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(c);
    rec_free(r);
}
END_TEST

static Suite *broker_suite(void)
{
    Suite *s = suite_create("broker contract");
    TCase *tc = tcase_create("broker");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_two_groups_each_get_all);
    tcase_add_test(tc, test_one_member_per_group);
    tcase_add_test(tc, test_per_key_order_two_publishers);
    tcase_add_test(tc, test_redelivery_after_error);
    tcase_add_test(tc, test_acks_once_per_message);
    tcase_add_test(tc, test_flush_waits_for_handlers);
    tcase_add_test(tc, test_flush_times_out);
    tcase_add_test(tc, test_unsubscribe_during_traffic);
    tcase_add_test(tc, test_unsubscribe_waits_for_handler);
    tcase_add_test(tc, test_batch_size_bound);
    tcase_add_test(tc, test_sees_only_later_messages);
    tcase_add_test(tc, test_topics_keys_and_binary_data);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_linger_gathers_one_batch);
    tcase_add_test(tc, test_linger_ends_when_the_batch_is_full);
    tcase_add_test(tc, test_flush_cuts_a_linger_short_and_others_never_wait);
    tcase_add_test(tc, test_linger_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "inproc:");
    return chat_test_run(broker_suite());
}
