/* Publishing: one idempotent producer per broker (enable.idempotence, so
 * acks=all and no reordering or duplicates on its retries), keyed by the
 * message key (the channel), so one key stays in one partition, in order.
 *
 * publish() only queues in librdkafka (copying), so it does not wait for
 * Kafka: while Kafka is down messages wait in the queue and their acks come
 * when Kafka took them, or report service_unavailable after
 * message_timeout_ms; the caller (the outbox) keeps what is not acknowledged
 * and publishes it again. The acks run on the poller thread. */
#include <stdio.h>
#include <string.h>

#include "backends/broker_check.h"
#include "backends/kafka/kafka.h"

#define POLL_MS 50
#define MAX_MESSAGE_BYTES 1000000   /* Kafka's default message.max.bytes, about */
#define QUEUE_MAX 1000000           /* messages librdkafka may hold unacknowledged */

typedef struct pending_ack {
    int64_t tag;
    chat_broker_ack ack;
    void *ack_arg;
} pending_ack;

static void produced_locked(chati_kafka *kb, const char *topic, int32_t partition, int64_t next)
{
    for (size_t i = 0; i < kb->n_produced; i++) {
        chati_kafka_produced *p = &kb->produced[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            if (next > p->next)
                p->next = next;
            return;
        }
    }
    if (kb->n_produced == kb->cap_produced) {
        size_t cap = kb->cap_produced ? kb->cap_produced * 2 : 32;
        chati_kafka_produced *v = chat_realloc(kb->produced, cap * sizeof *v);
        if (v == NULL)
            return; /* flush then only waits for what it can see; nothing is lost */
        kb->produced = v;
        kb->cap_produced = cap;
    }
    char *t = chat_strdup(topic);
    if (t != NULL)
        kb->produced[kb->n_produced++] = (chati_kafka_produced){t, partition, next};
}

/* Delivery report, on the poller thread: record the offset, then ack. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    CHATI_UNUSED(rk);
    chati_kafka *kb = opaque;
    pending_ack *pa = m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        pthread_mutex_lock(&kb->mu);
        produced_locked(kb, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
        pthread_mutex_unlock(&kb->mu);
    }
    if (pa != NULL && pa->ack != NULL)
        pa->ack(pa->ack_arg, pa->tag,
                m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? CHAT_OK : CHAT_ERR_SERVICE_UNAVAILABLE);
    chat_free(pa);
    pthread_mutex_lock(&kb->mu);
    kb->pending--;
    pthread_cond_broadcast(&kb->acked);
    pthread_mutex_unlock(&kb->mu);
}

/* librdkafka's error reports (Kafka unreachable...), on the poller thread:
 * kept for the detail of a failing flush instead of printed. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    CHATI_UNUSED(rk);
    chati_kafka *kb = opaque;
    pthread_mutex_lock(&kb->mu);
    snprintf(kb->last_error, sizeof kb->last_error, "%s: %s",
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    pthread_mutex_unlock(&kb->mu);
}

static void *poller_main(void *arg)
{
    chati_thread_name("kafka-produce");
    chati_kafka *kb = arg;
    while (!atomic_load(&kb->stop_poller))
        rd_kafka_poll(kb->producer, POLL_MS);
    return NULL;
}

chat_err chati_kafka_producer_start(chati_kafka *kb)
{
    char errstr[512], num[16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "kafka producer");
    chat_err rv = chati_kafka_conf_common(kb, conf);
    static const char *const fixed[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "2"},
        {"compression.type", "none"},
    };
    for (size_t i = 0; rv == CHAT_OK && i < CHATI_ARRAY_LEN(fixed); i++)
        rv = chati_kafka_conf_set(conf, fixed[i][0], fixed[i][1]);
    snprintf(num, sizeof num, "%d", kb->opts.message_timeout_ms);
    if (rv == CHAT_OK)
        rv = chati_kafka_conf_set(conf, "message.timeout.ms", num);
    snprintf(num, sizeof num, "%d", QUEUE_MAX);
    if (rv == CHAT_OK)
        rv = chati_kafka_conf_set(conf, "queue.buffering.max.messages", num);
    if (rv != CHAT_OK) {
        rd_kafka_conf_destroy(conf);
        return rv;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, kb);
    kb->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (kb->producer == NULL) {
        rd_kafka_conf_destroy(conf);
        return chati_fail(CHAT_ERR_INTERNAL, "kafka producer: %s", errstr);
    }
    atomic_init(&kb->stop_poller, false);
    int e = pthread_create(&kb->poller, NULL, poller_main, kb);
    if (e != 0) {
        rd_kafka_destroy(kb->producer);
        kb->producer = NULL;
        return chati_fail(CHAT_ERR_INTERNAL, "kafka poller thread: %s", strerror(e));
    }
    return CHAT_OK;
}

void chati_kafka_producer_stop(chati_kafka *kb)
{
    if (kb->producer == NULL)
        return;
    /* Give queued messages a moment; the rest fail their acks (the outbox keeps them). */
    rd_kafka_flush(kb->producer, kb->opts.timeout_ms < 5000 ? kb->opts.timeout_ms : 5000);
    rd_kafka_purge(kb->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    pthread_mutex_lock(&kb->mu);
    int64_t deadline = chati_mono_ms() + 5000;
    while (kb->pending > 0 && chati_mono_ms() < deadline) {
        pthread_mutex_unlock(&kb->mu);
        chati_sleep_ms(5);
        pthread_mutex_lock(&kb->mu);
    }
    pthread_mutex_unlock(&kb->mu);
    atomic_store(&kb->stop_poller, true);
    pthread_join(kb->poller, NULL);
    rd_kafka_destroy(kb->producer);
    kb->producer = NULL;
}

/* Waits (bounded) until librdkafka has room for n more messages. */
static chat_err await_room(chati_kafka *kb, size_t n)
{
    int64_t deadline = chati_mono_ms() + kb->opts.timeout_ms;
    while ((size_t)rd_kafka_outq_len(kb->producer) + n > QUEUE_MAX) {
        if (n > QUEUE_MAX || chati_mono_ms() >= deadline)
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                              "kafka: %d messages wait for %s; not taking more",
                              rd_kafka_outq_len(kb->producer), kb->opts.bootstrap);
        chati_sleep_ms(10);
    }
    return CHAT_OK;
}

chat_err chati_kafka_publish(void *impl, const chat_broker_msg *msgs, size_t n,
                             const int64_t *tags, chat_broker_ack ack, void *ack_arg)
{
    chati_kafka *kb = impl;
    if (n == 0)
        return CHAT_OK;
    chat_err rv = chati_broker_check_msgs(msgs, n, "kafka broker", MAX_MESSAGE_BYTES);
    if (rv != CHAT_OK)
        return rv;
    /* Names first (all or nothing), then the topics, then room: once the first
     * message is queued, every one is. */
    char (*names)[CHATI_KAFKA_TOPIC_MAX + 1] = chat_malloc(n * sizeof *names);
    const char **uniq = chat_malloc(n * sizeof *uniq);
    pending_ack **pas = chat_calloc(n, sizeof *pas);
    if (names == NULL || uniq == NULL || pas == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "kafka publish");
    size_t nu = 0;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        rv = chati_kafka_topic_name(kb, msgs[i].topic, names[i], sizeof names[i]);
        if (rv == CHAT_OK && (i == 0 || strcmp(names[i], names[i - 1]) != 0))
            uniq[nu++] = names[i];
        if (rv == CHAT_OK && (pas[i] = chat_malloc(sizeof *pas[i])) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "kafka publish");
        if (rv == CHAT_OK)
            *pas[i] = (pending_ack){tags ? tags[i] : 0, ack, ack_arg};
    }
    if (rv == CHAT_OK)
        rv = chati_kafka_topics_ensure(kb, uniq, nu);
    if (rv == CHAT_OK)
        rv = await_room(kb, n);
    if (rv == CHAT_OK) {
        pthread_mutex_lock(&kb->mu);
        kb->pending += (int64_t)n;
        pthread_mutex_unlock(&kb->mu);
    }
    int64_t deadline = chati_mono_ms() + kb->opts.timeout_ms;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(
                kb->producer, RD_KAFKA_V_TOPIC(names[i]),
                RD_KAFKA_V_KEY(msgs[i].key, msgs[i].key ? strlen(msgs[i].key) : 0),
                RD_KAFKA_V_VALUE((void *)msgs[i].data, msgs[i].len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(pas[i]),
                RD_KAFKA_V_END);
            /* Full despite await_room (another publisher got there first): the
             * poller frees room as acks come; earlier messages are queued. */
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                chati_sleep_ms(5);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && chati_mono_ms() < deadline);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* Still full, or a bad argument (which the checks above rule
             * out): the messages not queued get their failed ack here. */
            chat_err why = e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? CHAT_ERR_SERVICE_UNAVAILABLE
                                                              : CHAT_ERR_INTERNAL;
            for (size_t j = i; j < n; j++) {
                if (ack != NULL)
                    ack(ack_arg, pas[j]->tag, why);
                chat_free(pas[j]);
                pas[j] = NULL;
            }
            pthread_mutex_lock(&kb->mu);
            kb->pending -= (int64_t)(n - i);
            pthread_cond_broadcast(&kb->acked);
            pthread_mutex_unlock(&kb->mu);
            rv = CHAT_OK;
            break;
        }
        pas[i] = NULL; /* librdkafka's now, until the delivery report */
    }
    for (size_t i = 0; pas != NULL && i < n; i++)
        chat_free(pas[i]);
    chat_free(pas);
    chat_free(uniq);
    chat_free(names);
    return rv;
}
