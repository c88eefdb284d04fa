/* Consuming: one Kafka consumer (group.id = prefix + group) per group and
 * topic set in this process, with one dispatcher thread; the libchat
 * members of that group take turns handling its batches, as in the embedded
 * brokers. Members in other processes are members of the same Kafka group,
 * and Kafka divides the partitions between the processes.
 *
 * Offsets are committed (synchronously) only after a handler returned
 * CHAT_OK; on an error the partitions of the batch are sought back to its
 * first message and the same member gets the batch again after a backoff
 * (20 ms doubling to 1 s). A group that has no committed offset for a
 * partition starts at its end, and that position is committed at once, so
 * "from now on" also holds when the partition later moves to another member.
 * subscribe() returns once the group got its partitions, positioned.
 *
 * Kafka keeps a group's offsets after its last member left: subscribing
 * again later resumes where it stopped (at-least-once across restarts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/kafka/kafka.h"

#define POLL_MS 100
#define DEFAULT_BATCH 64
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 1000
#define RETRY_MS 20

struct chat_broker_consumer {
    chat_broker_consumer *next;     /* group.members (group.mu) */
    chati_kafka_group *g;
    chat_broker_handler handler;
    void *arg;
    size_t max_batch;
    bool gone;                      /* unsubscribing: gets no more batches */
};

typedef struct held_part {
    char *topic;                    /* Kafka's name */
    int32_t partition;
    int64_t done;                   /* offsets below are handled (or skipped) */
} held_part;

struct chati_kafka_group {
    chati_kafka_group *next;        /* kb->groups (kb->mu) */
    chati_kafka *kb;
    char *name;                     /* the libchat group */
    char **topics;                  /* Kafka names, sorted, unique */
    size_t n_topics;
    rd_kafka_t *rk;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;              /* current, stop, assignments changed */
    chat_broker_consumer *members;
    chat_broker_consumer *current;  /* polling for or handling a batch */
    chat_broker_consumer *retry;    /* its batch failed: it gets it again */
    size_t turn;
    bool stop;
    bool revoked;                   /* between a revoke and the next assign */
    uint64_t assignments;
    held_part *parts;
    size_t n_parts;
};

/* ---- partitions held ---- */

static void parts_clear_locked(chati_kafka_group *g)
{
    for (size_t i = 0; i < g->n_parts; i++)
        chat_free(g->parts[i].topic);
    chat_free(g->parts);
    g->parts = NULL;
    g->n_parts = 0;
}

static void parts_set(chati_kafka_group *g, const rd_kafka_topic_partition_list_t *l)
{
    held_part *v = l && l->cnt ? chat_calloc((size_t)l->cnt, sizeof *v) : NULL;
    size_t n = 0;
    for (int i = 0; v != NULL && i < l->cnt; i++) {
        v[n].topic = chat_strdup(l->elems[i].topic);
        if (v[n].topic == NULL)
            continue;
        v[n].partition = l->elems[i].partition;
        v[n].done = l->elems[i].offset >= 0 ? l->elems[i].offset : 0;
        n++;
    }
    pthread_mutex_lock(&g->mu);
    parts_clear_locked(g);
    g->parts = v;
    g->n_parts = n;
    g->revoked = l == NULL;
    if (l != NULL)
        g->assignments++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void parts_done(chati_kafka_group *g, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < l->cnt; i++)
        for (size_t j = 0; j < g->n_parts; j++)
            if (g->parts[j].partition == l->elems[i].partition &&
                strcmp(g->parts[j].topic, l->elems[i].topic) == 0 &&
                l->elems[i].offset > g->parts[j].done)
                g->parts[j].done = l->elems[i].offset;
    pthread_mutex_unlock(&g->mu);
}

bool chati_kafka_groups_caught_up(chati_kafka *kb, const chati_kafka_produced *produced,
                                  size_t n)
{
    for (chati_kafka_group *g = kb->groups; g != NULL; g = g->next) {
        pthread_mutex_lock(&g->mu);
        bool ok = true;
        for (size_t i = 0; ok && i < n; i++) {
            bool mine = false;
            for (size_t t = 0; !mine && t < g->n_topics; t++)
                mine = strcmp(g->topics[t], produced[i].topic) == 0;
            if (!mine)
                continue;
            if (g->revoked)
                ok = false; /* being reassigned: it may well come back here */
            for (size_t j = 0; ok && j < g->n_parts; j++)
                if (g->parts[j].partition == produced[i].partition &&
                    strcmp(g->parts[j].topic, produced[i].topic) == 0 &&
                    g->parts[j].done < produced[i].next)
                    ok = false;
        }
        pthread_mutex_unlock(&g->mu);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- rebalancing (on the dispatcher thread, inside a poll) ---- */

/* Partitions without a committed offset start at their end; that start is
 * committed so that whoever holds the partition next starts there too. A
 * topic just created may answer "not leader" for a moment: retried. */
static void position(chati_kafka_group *g, rd_kafka_topic_partition_list_t *parts)
{
    int timeout = g->kb->opts.timeout_ms;
    int64_t deadline = chati_mono_ms() + timeout;
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_committed(g->rk, parts, timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR &&
           chati_mono_ms() < deadline)
        chati_kafka_sleep_ms(RETRY_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return; /* auto.offset.reset=latest then decides */
    rd_kafka_topic_partition_list_t *fresh = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (p->offset >= 0)
            continue;
        int64_t lo = 0, hi = 0;
        while ((e = rd_kafka_query_watermark_offsets(g->rk, p->topic, p->partition, &lo, &hi,
                                                     timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR &&
               chati_mono_ms() < deadline)
            chati_kafka_sleep_ms(RETRY_MS);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        p->offset = hi;
        rd_kafka_topic_partition_list_add(fresh, p->topic, p->partition)->offset = hi;
    }
    if (fresh->cnt > 0)
        rd_kafka_commit(g->rk, fresh, 0);
    rd_kafka_topic_partition_list_destroy(fresh);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    chati_kafka_group *g = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        position(g, parts);
        rd_kafka_assign(rk, parts);
        parts_set(g, parts);
    } else {
        rd_kafka_assign(rk, NULL);
        parts_set(g, NULL);
    }
}

/* ---- the dispatcher ---- */

/* The member to get the next batch: the one whose batch failed, else the next
 * in turn. NULL when all are leaving. */
static chat_broker_consumer *pick_locked(chati_kafka_group *g)
{
    if (g->retry != NULL && !g->retry->gone)
        return g->retry;
    g->retry = NULL;
    size_t live = 0;
    for (chat_broker_consumer *m = g->members; m; m = m->next)
        live += !m->gone;
    if (live == 0)
        return NULL;
    size_t k = g->turn++ % live;
    for (chat_broker_consumer *m = g->members; m; m = m->next)
        if (!m->gone && k-- == 0)
            return m;
    return NULL;
}

static size_t poll_batch(rd_kafka_t *rk, rd_kafka_message_t **batch, size_t max)
{
    size_t n = 0;
    rd_kafka_message_t *rm = rd_kafka_consumer_poll(rk, POLL_MS);
    while (rm != NULL) {
        if (rm->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_message_destroy(rm); /* a transport error: librdkafka retries */
        else
            batch[n++] = rm;
        if (n == max)
            break;
        rm = rd_kafka_consumer_poll(rk, 0);
    }
    return n;
}

/* The next offset of each partition in batch (first = its first message). */
static rd_kafka_topic_partition_list_t *batch_offsets(rd_kafka_message_t **batch, size_t n,
                                                      bool first)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        const char *t = rd_kafka_topic_name(batch[i]->rkt);
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(l, t,
                                                                           batch[i]->partition);
        if (p == NULL)
            p = rd_kafka_topic_partition_list_add(l, t, batch[i]->partition);
        else if (first)
            continue;
        p->offset = first ? batch[i]->offset : batch[i]->offset + 1;
    }
    return l;
}

/* Hands a batch to m; returns the handler's result. */
static chat_err deliver(chati_kafka_group *g, chat_broker_consumer *m,
                        rd_kafka_message_t **batch, size_t n, chat_broker_msg *msgs,
                        chati_buf *keys)
{
    size_t plen = strlen(g->kb->opts.prefix);
    keys->len = 0;
    size_t *key_at = chat_malloc(n * sizeof *key_at);
    if (key_at == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "kafka batch");
    for (size_t i = 0; i < n; i++) {
        key_at[i] = SIZE_MAX;
        if (batch[i]->key != NULL) {
            key_at[i] = keys->len;
            /* Keys get a NUL each; offsets, since the buffer may move. */
            if (chati_buf_append(keys, batch[i]->key, batch[i]->key_len) != CHAT_OK ||
                chati_buf_append(keys, "", 1) != CHAT_OK) {
                chat_free(key_at);
                return chati_fail(CHAT_ERR_NOMEM, "kafka batch");
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        msgs[i].topic = rd_kafka_topic_name(batch[i]->rkt) + plen;
        msgs[i].key = key_at[i] == SIZE_MAX ? NULL : keys->data + key_at[i];
        msgs[i].data = batch[i]->payload ? batch[i]->payload : "";
        msgs[i].len = batch[i]->len;
    }
    chat_free(key_at);
    return m->handler(m->arg, msgs, n);
}

static void backoff_wait(chati_kafka_group *g, int ms)
{
    int64_t until = chati_mono_ms() + ms;
    pthread_mutex_lock(&g->mu);
    while (!g->stop && chati_mono_ms() < until) {
        pthread_mutex_unlock(&g->mu);
        /* No poll here (it would take messages); librdkafka keeps heartbeating. */
        chati_kafka_sleep_ms(5);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void *dispatch_main(void *arg)
{
    chati_kafka_group *g = arg;
    rd_kafka_message_t **batch = NULL;
    chat_broker_msg *msgs = NULL;
    size_t cap = 0;
    chati_buf keys = {0};
    int backoff = 0;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        chat_broker_consumer *m = g->stop ? NULL : pick_locked(g);
        bool stop = g->stop;
        g->current = m;
        size_t max = m ? (m->max_batch ? m->max_batch : DEFAULT_BATCH) : 1;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
        if (max > cap) {
            rd_kafka_message_t **b = chat_realloc(batch, max * sizeof *b);
            if (b != NULL)
                batch = b;
            chat_broker_msg *v = b ? chat_realloc(msgs, max * sizeof *v) : NULL;
            if (v != NULL) {
                msgs = v;
                cap = max;
            }
        }
        if (max > cap)
            max = cap;
        /* With nobody to hand a batch to, keep the group alive without taking any. */
        size_t n = m && max ? poll_batch(g->rk, batch, max) : 0;
        if (m == NULL || max == 0)
            backoff_wait(g, POLL_MS / 4);
        chat_err rv = n ? deliver(g, m, batch, n, msgs, &keys) : CHAT_OK;
        if (n > 0) {
            bool ok = rv == CHAT_OK;
            rd_kafka_topic_partition_list_t *l = batch_offsets(batch, n, !ok);
            if (ok) {
                /* Handled: commit, and count it done even if the commit failed
                 * (then it comes again: at least once). */
                rd_kafka_commit(g->rk, l, 0);
                parts_done(g, l);
            } else {
                rd_kafka_error_t *e = rd_kafka_seek_partitions(g->rk, l, g->kb->opts.timeout_ms);
                if (e != NULL)
                    rd_kafka_error_destroy(e);
            }
            rd_kafka_topic_partition_list_destroy(l);
            for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(batch[i]);
        }
        pthread_mutex_lock(&g->mu);
        g->current = NULL;
        g->retry = n > 0 && rv != CHAT_OK ? m : NULL;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        if (n > 0 && rv != CHAT_OK) {
            backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
                              : BACKOFF_MIN_MS;
            backoff_wait(g, backoff);
        } else if (n > 0) {
            backoff = 0;
        }
    }
    chati_buf_free(&keys);
    chat_free(msgs);
    chat_free(batch);
    return NULL;
}

/* ---- groups ---- */

static void group_free(chati_kafka_group *g)
{
    if (g->thread_started) {
        pthread_mutex_lock(&g->mu);
        g->stop = true;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    if (g->rk != NULL) {
        /* Revokes (the rebalance callback runs here) and leaves the group. */
        rd_kafka_consumer_close(g->rk);
        rd_kafka_destroy(g->rk);
    }
    while (g->members != NULL) {
        chat_broker_consumer *m = g->members;
        g->members = m->next;
        chat_free(m);
    }
    parts_clear_locked(g);
    for (size_t i = 0; i < g->n_topics; i++)
        chat_free(g->topics[i]);
    chat_free(g->topics);
    chat_free(g->name);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    chat_free(g);
}

static chat_err group_consumer(chati_kafka_group *g)
{
    char errstr[512], num[16];
    chati_kafka *kb = g->kb;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "kafka consumer");
    chati_buf gid = {0};
    chat_err rv = chati_buf_printf(&gid, "%s%s", kb->opts.prefix, g->name);
    if (rv == CHAT_OK)
        rv = chati_kafka_conf_common(kb, conf);
    static const char *const fixed[][2] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "latest"},
        {"enable.partition.eof", "false"},
        {"fetch.wait.max.ms", "20"},
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "500"},
    };
    for (size_t i = 0; rv == CHAT_OK && i < CHATI_ARRAY_LEN(fixed); i++)
        rv = chati_kafka_conf_set(conf, fixed[i][0], fixed[i][1]);
    if (rv == CHAT_OK)
        rv = chati_kafka_conf_set(conf, "group.id", gid.data);
    snprintf(num, sizeof num, "%d", kb->opts.timeout_ms);
    if (rv == CHAT_OK)
        rv = chati_kafka_conf_set(conf, "socket.timeout.ms", num);
    chati_buf_free(&gid);
    if (rv != CHAT_OK) {
        rd_kafka_conf_destroy(conf);
        return rv;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, g);
    g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (g->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return chati_fail(CHAT_ERR_INTERNAL, "kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(g->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)g->n_topics);
    for (size_t i = 0; i < g->n_topics; i++)
        rd_kafka_topic_partition_list_add(l, g->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(g->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "kafka: subscribing group %s: %s",
                          g->name, rd_kafka_err2str(e));
    return CHAT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static chati_kafka_group *group_new(chati_kafka *kb, const char *name, const char *const *topics,
                                    size_t n)
{
    chati_kafka_group *g = chat_calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->kb = kb;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->name = chat_strdup(name);
    g->topics = chat_calloc(n, sizeof *g->topics);
    bool ok = g->name != NULL && g->topics != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < g->n_topics; j++)
            dup = dup || strcmp(g->topics[j], topics[i]) == 0;
        if (dup)
            continue;
        ok = (g->topics[g->n_topics] = chat_strdup(topics[i])) != NULL;
        g->n_topics += ok;
    }
    if (!ok) {
        group_free(g);
        return NULL;
    }
    qsort(g->topics, g->n_topics, sizeof *g->topics, cmp_str);
    return g;
}

static bool same_topics(const chati_kafka_group *a, const chati_kafka_group *b)
{
    if (a->n_topics != b->n_topics)
        return false;
    for (size_t i = 0; i < a->n_topics; i++)
        if (strcmp(a->topics[i], b->topics[i]) != 0)
            return false;
    return true;
}

/* Starts g's consumer and waits until it holds its (positioned) partitions. */
static chat_err group_start(chati_kafka_group *g)
{
    chat_err rv = group_consumer(g);
    if (rv != CHAT_OK)
        return rv;
    int e = pthread_create(&g->thread, NULL, dispatch_main, g);
    if (e != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "kafka consumer thread: %s", strerror(e));
    g->thread_started = true;
    /* Joining may wait for Kafka to create its offsets topic: allow some extra. */
    int64_t deadline = chati_mono_ms() + 3 * (int64_t)g->kb->opts.timeout_ms;
    pthread_mutex_lock(&g->mu);
    while (g->assignments == 0 && chati_mono_ms() < deadline) {
        pthread_mutex_unlock(&g->mu);
        chati_kafka_sleep_ms(5);
        pthread_mutex_lock(&g->mu);
    }
    bool joined = g->assignments > 0;
    pthread_mutex_unlock(&g->mu);
    if (!joined)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                          "kafka: group %s got no partitions from %s in %d ms", g->name,
                          g->kb->opts.bootstrap, 3 * g->kb->opts.timeout_ms);
    return CHAT_OK;
}

chat_err chati_kafka_subscribe(void *impl, const char *group, const char *const *topics,
                               size_t n_topics, size_t max_batch, chat_broker_handler handler,
                               void *arg, chat_broker_consumer **out)
{
    chati_kafka *kb = impl;
    if (group == NULL || group[0] == '\0' || topics == NULL || n_topics == 0 ||
        handler == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "kafka subscribe: needs a group, topics, a handler and out");
    char (*names)[CHATI_KAFKA_TOPIC_MAX + 1] = chat_malloc(n_topics * sizeof *names);
    const char **ptrs = chat_malloc(n_topics * sizeof *ptrs);
    chat_broker_consumer *m = chat_calloc(1, sizeof *m);
    chat_err rv = names && ptrs && m ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "kafka subscribe");
    for (size_t i = 0; rv == CHAT_OK && i < n_topics; i++) {
        rv = chati_kafka_topic_name(kb, topics[i], names[i], sizeof names[i]);
        ptrs[i] = names[i];
    }
    if (rv == CHAT_OK)
        rv = chati_kafka_topics_ensure(kb, ptrs, n_topics);
    chati_kafka_group *g = rv == CHAT_OK ? group_new(kb, group, ptrs, n_topics) : NULL;
    if (rv == CHAT_OK && g == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "kafka subscribe");
    chat_free(ptrs);
    chat_free(names);
    if (rv != CHAT_OK) {
        chat_free(m);
        if (g != NULL)
            group_free(g);
        return rv;
    }
    *m = (chat_broker_consumer){.handler = handler, .arg = arg, .max_batch = max_batch};

    /* Another member of this group and topic set here: share its consumer. */
    pthread_mutex_lock(&kb->mu);
    for (chati_kafka_group *x = kb->groups; x != NULL; x = x->next) {
        if (strcmp(x->name, group) != 0 || !same_topics(x, g))
            continue;
        pthread_mutex_lock(&x->mu);
        m->g = x;
        m->next = x->members;
        x->members = m;
        pthread_mutex_unlock(&x->mu);
        pthread_mutex_unlock(&kb->mu);
        group_free(g);
        *out = m;
        return CHAT_OK;
    }
    pthread_mutex_unlock(&kb->mu);

    m->g = g;
    g->members = m;
    rv = group_start(g);
    if (rv != CHAT_OK) {
        group_free(g);
        return rv;
    }
    pthread_mutex_lock(&kb->mu);
    g->next = kb->groups;
    kb->groups = g;
    pthread_mutex_unlock(&kb->mu);
    *out = m;
    return CHAT_OK;
}

void chati_kafka_unsubscribe(void *impl, chat_broker_consumer *m)
{
    chati_kafka *kb = impl;
    if (m == NULL)
        return;
    chati_kafka_group *g = m->g;
    /* Wait for m's running batch without kb->mu: its handler may publish. */
    pthread_mutex_lock(&g->mu);
    m->gone = true;
    while (g->current == m)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);

    pthread_mutex_lock(&kb->mu);
    pthread_mutex_lock(&g->mu);
    for (chat_broker_consumer **p = &g->members; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
    if (g->retry == m)
        g->retry = NULL;
    bool last = g->members == NULL;
    pthread_mutex_unlock(&g->mu);
    if (last)
        for (chati_kafka_group **p = &kb->groups; *p; p = &(*p)->next)
            if (*p == g) {
                *p = g->next;
                break;
            }
    pthread_mutex_unlock(&kb->mu);
    chat_free(m);
    if (last)
        group_free(g);
}

void chati_kafka_groups_stop(chati_kafka *kb)
{
    pthread_mutex_lock(&kb->mu);
    chati_kafka_group *all = kb->groups;
    kb->groups = NULL;
    pthread_mutex_unlock(&kb->mu);
    while (all != NULL) {
        chati_kafka_group *g = all;
        all = g->next;
        group_free(g);
    }
}
