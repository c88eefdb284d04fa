/* Consumer groups: one Kafka consumer (group.id = prefix + group) per group
 * and topic set in this process, with one dispatcher thread (dispatch.c); the
 * libchat members of that group take turns handling its batches, as in the
 * embedded brokers. Members in other processes are members of the same Kafka
 * group, and Kafka divides the partitions between the processes. subscribe()
 * returns once the group got its partitions, positioned; a member joining a
 * group already running here shares it at once.
 *
 * A process that dies loses its partitions to the others once Kafka has
 * heard no heartbeat from it for the session timeout (session_timeout_ms in
 * the URL, 6 s by default); one that closes leaves the group at once, so the
 * others take over within a heartbeat interval. What the dead one handled and
 * had not committed yet is handled again by the next holder.
 *
 * Kafka keeps a group's offsets after its last member left: subscribing
 * again later resumes where it stopped (at-least-once across restarts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/kafka/group.h"

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
    chati_kafka_parts_clear_locked(g);
    for (size_t i = 0; i < g->n_topics; i++)
        chat_free(g->topics[i]);
    chat_free(g->topics);
    chat_free(g->name);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    chat_free(g);
}

static rd_kafka_resp_err_t subscribe_topics(chati_kafka_group *g)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)g->n_topics);
    for (size_t i = 0; i < g->n_topics; i++)
        rd_kafka_topic_partition_list_add(l, g->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(g->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e;
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
    };
    for (size_t i = 0; rv == CHAT_OK && i < CHATI_ARRAY_LEN(fixed); i++)
        rv = chati_kafka_conf_set(conf, fixed[i][0], fixed[i][1]);
    if (rv == CHAT_OK)
        rv = chati_kafka_conf_set(conf, "group.id", gid.data);
    if (rv == CHAT_OK && kb->opts.assignor != NULL)
        rv = chati_kafka_conf_set(conf, "partition.assignment.strategy", kb->opts.assignor);
    const struct {
        const char *key;
        int value;
    } nums[] = {
        {"session.timeout.ms", kb->opts.session_timeout_ms},
        {"heartbeat.interval.ms", kb->opts.heartbeat_ms},
    };
    for (size_t i = 0; rv == CHAT_OK && i < CHATI_ARRAY_LEN(nums); i++) {
        snprintf(num, sizeof num, "%d", nums[i].value);
        rv = chati_kafka_conf_set(conf, nums[i].key, num);
    }
    chati_buf_free(&gid);
    if (rv != CHAT_OK) {
        rd_kafka_conf_destroy(conf);
        return rv;
    }
    rd_kafka_conf_set_rebalance_cb(conf, chati_kafka_rebalance);
    rd_kafka_conf_set_opaque(conf, g);
    g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (g->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return chati_fail(CHAT_ERR_INTERNAL, "kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(g->rk);
    rd_kafka_resp_err_t e = subscribe_topics(g);
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
                                    size_t n, int64_t since_ms)
{
    chati_kafka_group *g = chat_calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->kb = kb;
    g->since_ms = since_ms;
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

/* Whether g holds no partition while it is alone in its Kafka group (its
 * topics have partitions: topics_ensure saw them). Then its assignment was
 * made from metadata that had not heard of a topic yet: on a cluster a
 * broker hears of a new topic a moment after another one answers for it,
 * and librdkafka 2.0.2 does not ask again (seen in most runs of the contract
 * suite on 3 brokers: the group got nothing for the whole test). */
static bool starved(chati_kafka_group *g)
{
    pthread_mutex_lock(&g->mu);
    bool empty = g->n_parts == 0;
    pthread_mutex_unlock(&g->mu);
    if (!empty)
        return false;
    char gid[512];
    snprintf(gid, sizeof gid, "%s%s", g->kb->opts.prefix, g->name);
    const struct rd_kafka_group_list *gl = NULL;
    if (rd_kafka_list_groups(g->rk, gid, &gl, g->kb->opts.timeout_ms) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool alone = gl->group_cnt == 1 && gl->groups[0].member_cnt == 1;
    rd_kafka_group_list_destroy(gl);
    return alone;
}

/* Waits until g got more than `seen` assignments; false at deadline. */
static bool await_assignment(chati_kafka_group *g, uint64_t seen, int64_t deadline)
{
    pthread_mutex_lock(&g->mu);
    while (g->assignments <= seen && chati_mono_ms() < deadline) {
        pthread_mutex_unlock(&g->mu);
        chati_sleep_ms(5);
        pthread_mutex_lock(&g->mu);
    }
    bool got = g->assignments > seen;
    pthread_mutex_unlock(&g->mu);
    return got;
}

/* Starts g's consumer and waits until it holds its (positioned) partitions. */
static chat_err group_start(chati_kafka_group *g)
{
    chat_err rv = group_consumer(g);
    if (rv != CHAT_OK)
        return rv;
    int e = pthread_create(&g->thread, NULL, chati_kafka_dispatch_main, g);
    if (e != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "kafka consumer thread: %s", strerror(e));
    g->thread_started = true;
    /* Joining may wait for Kafka to create its offsets topic: allow some extra. */
    int64_t deadline = chati_mono_ms() + 3 * (int64_t)g->kb->opts.timeout_ms;
    bool joined = await_assignment(g, 0, deadline);
    /* Subscribing again makes the group rebalance, with fresh metadata. */
    for (int i = 0; joined && i < 20 && chati_mono_ms() < deadline && starved(g); i++) {
        pthread_mutex_lock(&g->mu);
        uint64_t seen = g->assignments;
        pthread_mutex_unlock(&g->mu);
        chati_sleep_ms(100);
        if (subscribe_topics(g) == RD_KAFKA_RESP_ERR_NO_ERROR)
            await_assignment(g, seen, deadline);
    }
    pthread_mutex_lock(&g->mu);
    char last_error[sizeof g->last_error];
    memcpy(last_error, g->last_error, sizeof last_error);
    pthread_mutex_unlock(&g->mu);
    /* E.g. a session timeout outside the broker's group.*.session.timeout.ms. */
    if (!joined)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                          "kafka: group %s got no partitions from %s in %d ms (last error: %s)",
                          g->name, g->kb->opts.bootstrap, 3 * g->kb->opts.timeout_ms,
                          last_error[0] ? last_error : "none");
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
    /* Before anything that takes time (creating topics, joining): the group
     * gets what is published from this call on. */
    int64_t since_ms = chati_now_ms();
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
    chati_kafka_group *g = rv == CHAT_OK ? group_new(kb, group, ptrs, n_topics, since_ms) : NULL;
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
