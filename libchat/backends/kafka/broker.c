/*
 * The Apache Kafka event broker ("kafka://HOST[:PORT][,...][?options]", see
 * url.c for the options), built on librdkafka.
 *
 * Each libchat topic is a Kafka topic (prefix + name, created on first use),
 * each message is keyed by its key (the channel), so per-key order is
 * Kafka's per-partition order. producer.c publishes with an idempotent
 * producer; consumer.c runs one Kafka consumer group per libchat group.
 *
 * open() fails fast: it fetches the cluster's metadata and gives
 * service_unavailable when no broker answers within timeout_ms. After that,
 * Kafka going away makes publish queue (acks come late, or fail after
 * message_timeout_ms) and consumers wait; both resume when it is back.
 *
 * flush() waits until every message this process published before the call
 * is acknowledged, and every consumer group of this process has handled it
 * on the partitions the group holds here.
 *
 * Thread safety: every op may be called from any thread, except unsubscribe
 * from inside that consumer's own handler, and close, which must not race
 * other calls. Acks run on the producer's poller thread, handlers on their
 * group's dispatcher thread.
 */
#include <string.h>

#include "backends/builtin.h"
#include "backends/kafka/kafka.h"

#define FLUSH_POLL_MS 5

static void kafka_close(void *impl);

/* A metadata request, so that a wrong address fails open() at once. */
static chat_err check_reachable(chati_kafka *kb)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(kb->producer, 0, NULL, &md, kb->opts.timeout_ms);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "kafka: no broker at %s answered in %d ms: %s",
                          kb->opts.bootstrap, kb->opts.timeout_ms, rd_kafka_err2str(e));
    return CHAT_OK;
}

static chat_err kafka_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    chati_kafka *kb = chat_calloc(1, sizeof *kb);
    if (kb == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "kafka broker");
    pthread_mutex_init(&kb->mu, NULL);
    pthread_cond_init(&kb->acked, NULL);
    chat_err rv = chati_kafka_opts_parse(url, &kb->opts);
    if (rv == CHAT_OK)
        rv = chati_kafka_producer_start(kb);
    if (rv == CHAT_OK)
        rv = check_reachable(kb);
    if (rv != CHAT_OK) {
        kafka_close(kb);
        return rv;
    }
    *impl = kb;
    return CHAT_OK;
}

static void kafka_close(void *impl)
{
    chati_kafka *kb = impl;
    if (kb == NULL)
        return;
    chati_kafka_groups_stop(kb);
    chati_kafka_producer_stop(kb);
    for (size_t i = 0; i < kb->n_produced; i++)
        chat_free(kb->produced[i].topic);
    chat_free(kb->produced);
    for (size_t i = 0; i < kb->n_topics; i++)
        chat_free(kb->topics[i]);
    chat_free(kb->topics);
    chati_kafka_opts_free(&kb->opts);
    pthread_cond_destroy(&kb->acked);
    pthread_mutex_destroy(&kb->mu);
    chat_free(kb);
}

static chat_err kafka_flush(void *impl, int timeout_ms)
{
    chati_kafka *kb = impl;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : chati_mono_ms() + timeout_ms;
    /* Acks first; then what was acknowledged is the target for the groups. */
    pthread_mutex_lock(&kb->mu);
    while (kb->pending > 0 && chati_mono_ms() < deadline) {
        pthread_mutex_unlock(&kb->mu);
        chati_sleep_ms(FLUSH_POLL_MS);
        pthread_mutex_lock(&kb->mu);
    }
    int64_t pending = kb->pending;
    char last_error[sizeof kb->last_error];
    memcpy(last_error, kb->last_error, sizeof last_error);
    size_t n = kb->n_produced;
    chati_kafka_produced *want = n ? chat_malloc(n * sizeof *want) : NULL;
    if (want != NULL)
        memcpy(want, kb->produced, n * sizeof *want); /* topic strings live as long as kb */
    pthread_mutex_unlock(&kb->mu);
    if (pending > 0) {
        chat_free(want);
        return chati_fail(CHAT_ERR_TIMEOUT,
                          "kafka: %lld messages not acknowledged in %d ms (last error: %s)",
                          (long long)pending, timeout_ms,
                          last_error[0] ? last_error : "none");
    }
    if (n > 0 && want == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "kafka flush");
    for (;;) {
        pthread_mutex_lock(&kb->mu);
        bool done = chati_kafka_groups_caught_up(kb, want, n);
        pthread_mutex_unlock(&kb->mu);
        if (done)
            break;
        if (chati_mono_ms() >= deadline) {
            chat_free(want);
            return chati_fail(CHAT_ERR_TIMEOUT, "kafka: consumers not caught up in %d ms",
                              timeout_ms);
        }
        chati_sleep_ms(FLUSH_POLL_MS);
    }
    chat_free(want);
    return CHAT_OK;
}

const chat_broker_ops chati_kafka_broker_ops = {
    .version = CHAT_BROKER_V1,
    .scheme = "kafka",
    .open = kafka_open,
    .close = kafka_close,
    .publish = chati_kafka_publish,
    .subscribe = chati_kafka_subscribe,
    .unsubscribe = chati_kafka_unsubscribe,
    .flush = kafka_flush,
};
