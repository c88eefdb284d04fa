/* A consumer group's dispatcher thread: it polls the group's Kafka consumer,
 * hands each batch (at most the member's max_batch) to the next member in
 * turn, commits the batch's offsets synchronously once the handler returned
 * CHAT_OK, and on an error seeks the batch's partitions back to its first
 * message and gives the batch again to the same member after a backoff (20 ms
 * doubling to 1 s). Rebalances run here too, inside a poll: a partition the
 * group has no committed offset for starts at the first message published
 * since subscribe was called (else at its end), and that start is committed at
 * once, so "from now on" also holds when the partition later moves to another
 * member. Under the cooperative protocol (assignor=cooperative-sticky) a
 * rebalance assigns and revokes only the partitions that move; the others
 * keep being handled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/kafka/group.h"

#define POLL_MS 100
#define DEFAULT_BATCH 64
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 1000
#define RETRY_MS 20

/* ---- partitions held ---- */

void chati_kafka_parts_clear_locked(chati_kafka_group *g)
{
    for (size_t i = 0; i < g->n_parts; i++)
        chat_free(g->parts[i].topic);
    chat_free(g->parts);
    g->parts = NULL;
    g->n_parts = 0;
}

static bool part_is(const held_part *p, const char *topic, int32_t partition)
{
    return p->partition == partition && strcmp(p->topic, topic) == 0;
}

/* l's partitions join those held (replace them when !incremental). */
static void parts_assigned(chati_kafka_group *g, const rd_kafka_topic_partition_list_t *l,
                           bool incremental)
{
    pthread_mutex_lock(&g->mu);
    if (!incremental)
        chati_kafka_parts_clear_locked(g);
    held_part *v = l->cnt ? chat_realloc(g->parts, (g->n_parts + (size_t)l->cnt) * sizeof *v)
                          : g->parts;
    for (int i = 0; v != NULL && i < l->cnt; i++) {
        bool dup = false;
        for (size_t j = 0; !dup && j < g->n_parts; j++)
            dup = part_is(&v[j], l->elems[i].topic, l->elems[i].partition);
        held_part *p = &v[g->n_parts];
        if (dup || (p->topic = chat_strdup(l->elems[i].topic)) == NULL)
            continue;
        p->partition = l->elems[i].partition;
        p->done = l->elems[i].offset >= 0 ? l->elems[i].offset : 0;
        g->n_parts++;
    }
    if (v != NULL)
        g->parts = v;
    g->revoked = false;
    g->assignments++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* l's partitions are no longer held (all of them when l is NULL). */
static void parts_revoked(chati_kafka_group *g, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&g->mu);
    if (l == NULL)
        chati_kafka_parts_clear_locked(g);
    for (int i = 0; l != NULL && i < l->cnt; i++)
        for (size_t j = 0; j < g->n_parts; j++)
            if (part_is(&g->parts[j], l->elems[i].topic, l->elems[i].partition)) {
                chat_free(g->parts[j].topic);
                g->parts[j] = g->parts[--g->n_parts];
                break;
            }
    g->revoked = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void parts_done(chati_kafka_group *g, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < l->cnt; i++)
        for (size_t j = 0; j < g->n_parts; j++)
            if (part_is(&g->parts[j], l->elems[i].topic, l->elems[i].partition) &&
                l->elems[i].offset > g->parts[j].done)
                g->parts[j].done = l->elems[i].offset;
    pthread_mutex_unlock(&g->mu);
}

/* ---- rebalancing (on the dispatcher thread, inside a poll) ---- */

/* Partitions without a committed offset start at the first message produced
 * since the group subscribed (by timestamp), else at their end; that start is
 * committed so that whoever holds the partition next starts there too. Not
 * simply "the end when assigned": a rebalance can come well after subscribe
 * (a slow coordinator, a topic the subscription discovers late), and what was
 * published in between would be skipped. The end is read before the
 * timestamp lookup: a message appended between the two is then at or after
 * the end read, not skipped. A topic just created may answer "not leader" for
 * a moment: retried. */
static void position(chati_kafka_group *g, rd_kafka_topic_partition_list_t *parts)
{
    int timeout = g->kb->opts.timeout_ms;
    int64_t deadline = chati_mono_ms() + timeout;
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_committed(g->rk, parts, timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR &&
           chati_mono_ms() < deadline)
        chati_sleep_ms(RETRY_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return; /* auto.offset.reset=latest then decides */
    /* The end of each partition without a committed offset, in .offset. */
    rd_kafka_topic_partition_list_t *ends = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (p->offset >= 0)
            continue;
        int64_t lo = 0, hi = 0;
        while ((e = rd_kafka_query_watermark_offsets(g->rk, p->topic, p->partition, &lo, &hi,
                                                     timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR &&
               chati_mono_ms() < deadline)
            chati_sleep_ms(RETRY_MS);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_topic_partition_list_add(ends, p->topic, p->partition)->offset = hi;
    }
    /* The first offset at or after since_ms of each ( -1: none yet). */
    rd_kafka_topic_partition_list_t *since = rd_kafka_topic_partition_list_copy(ends);
    for (int i = 0; i < since->cnt; i++)
        since->elems[i].offset = g->since_ms;
    bool known = since->cnt > 0;
    if (known) {
        while ((e = rd_kafka_offsets_for_times(g->rk, since, timeout)) !=
                   RD_KAFKA_RESP_ERR_NO_ERROR &&
               chati_mono_ms() < deadline)
            chati_sleep_ms(RETRY_MS);
        known = e == RD_KAFKA_RESP_ERR_NO_ERROR; /* else every partition starts at its end */
    }
    for (int i = 0; i < ends->cnt; i++) {
        rd_kafka_topic_partition_t *end = &ends->elems[i];
        const rd_kafka_topic_partition_t *at = &since->elems[i];
        if (known && at->err == RD_KAFKA_RESP_ERR_NO_ERROR && at->offset >= 0 &&
            at->offset < end->offset)
            end->offset = at->offset;
        rd_kafka_topic_partition_list_find(parts, end->topic, end->partition)->offset =
            end->offset;
    }
    if (ends->cnt > 0)
        rd_kafka_commit(g->rk, ends, 0);
    rd_kafka_topic_partition_list_destroy(since);
    rd_kafka_topic_partition_list_destroy(ends);
}

/* Messages of the batch being filled from partitions that leave (all when
 * l is NULL): the next holder handles them, and a revoke and re-assign in one
 * poll would otherwise hand them twice, out of order. */
static void drop_collected(chati_kafka_group *g, const rd_kafka_topic_partition_list_t *l)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n_collecting; i++) {
        rd_kafka_message_t *m = g->collecting[i];
        if (l == NULL ||
            rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition))
            rd_kafka_message_destroy(m);
        else
            g->collecting[k++] = m;
    }
    g->n_collecting = k;
}

static void note_error(chati_kafka_group *g, const char *what, rd_kafka_error_t *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    snprintf(g->last_error, sizeof g->last_error, "%s: %s", what, rd_kafka_error_string(e));
    pthread_mutex_unlock(&g->mu);
    rd_kafka_error_destroy(e);
}

void chati_kafka_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    chati_kafka_group *g = opaque;
    /* Eager (the default): every rebalance takes all partitions away and
     * gives the whole new set. */
    bool incremental = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        position(g, parts);
        if (incremental)
            note_error(g, "incremental assign", rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        parts_assigned(g, parts, incremental);
    } else {
        drop_collected(g, incremental ? parts : NULL);
        if (incremental)
            note_error(g, "incremental unassign", rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
        parts_revoked(g, incremental ? parts : NULL);
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

static size_t poll_batch(chati_kafka_group *g, rd_kafka_message_t **batch, size_t max)
{
    g->collecting = batch;
    g->n_collecting = 0;
    rd_kafka_message_t *rm = rd_kafka_consumer_poll(g->rk, POLL_MS);
    while (rm != NULL) {
        if (rm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* Mostly transport errors, which librdkafka retries; kept for the
             * detail of a subscribe that never gets its partitions. */
            pthread_mutex_lock(&g->mu);
            snprintf(g->last_error, sizeof g->last_error, "%s", rd_kafka_message_errstr(rm));
            pthread_mutex_unlock(&g->mu);
            rd_kafka_message_destroy(rm);
        } else {
            batch[g->n_collecting++] = rm;
        }
        if (g->n_collecting == max)
            break;
        rm = rd_kafka_consumer_poll(g->rk, 0);
    }
    size_t n = g->n_collecting;
    g->collecting = NULL;
    g->n_collecting = 0;
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
        chati_sleep_ms(5);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

void *chati_kafka_dispatch_main(void *arg)
{
    chati_thread_name("kafka-consume");
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
        size_t n = m && max ? poll_batch(g, batch, max) : 0;
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
                note_error(g, "seek", rd_kafka_seek_partitions(g->rk, l, g->kb->opts.timeout_ms));
            }
            rd_kafka_topic_partition_list_destroy(l);
            for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(batch[i]);
        }
        pthread_mutex_lock(&g->mu);
        g->current = NULL;
        if (n > 0) /* an empty poll (the refetch after a seek) keeps the retry */
            g->retry = rv != CHAT_OK ? m : NULL;
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
