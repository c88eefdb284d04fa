/* Kafka topics for libchat topics: naming (prefix + name), creating them on
 * first use through the Admin API (the cluster may forbid automatic creation,
 * and a consumer must find its topics before it joins), and the librdkafka
 * settings every client of the broker shares. */
#include <stdio.h>
#include <string.h>

#include "backends/kafka/kafka.h"

#define METADATA_POLL_MS 20

chat_err chati_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka: %s=%s: %s", key, value, errstr);
    return CHAT_OK;
}

chat_err chati_kafka_conf_common(const chati_kafka *kb, rd_kafka_conf_t *conf)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", kb->opts.timeout_ms);
    /* Reconnect quickly after Kafka comes back: the default backoff grows to 10 s. */
    static const char *const fixed[][2] = {
        {"client.id", "libchat"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "1000"},
        {"topic.metadata.refresh.interval.ms", "10000"},
        {"log.connection.close", "false"},
    };
    chat_err rv = chati_kafka_conf_set(conf, "bootstrap.servers", kb->opts.bootstrap);
    for (size_t i = 0; rv == CHAT_OK && i < CHATI_ARRAY_LEN(fixed); i++)
        rv = chati_kafka_conf_set(conf, fixed[i][0], fixed[i][1]);
    if (rv == CHAT_OK)
        rv = chati_kafka_conf_set(conf, "socket.timeout.ms", timeout);
    return rv;
}

static bool kafka_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

chat_err chati_kafka_topic_name(const chati_kafka *kb, const char *topic, char *out,
                                size_t size)
{
    if (topic == NULL || topic[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka: empty topic");
    int len = snprintf(out, size, "%s%s", kb->opts.prefix, topic);
    if (len < 0 || (size_t)len >= size || len > CHATI_KAFKA_TOPIC_MAX)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka: topic name '%s%s' is too long",
                          kb->opts.prefix, topic);
    for (const char *p = out; *p; p++)
        if (!kafka_name_char(*p))
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                              "kafka: topic '%s' has a character Kafka refuses "
                              "(allowed: a-z A-Z 0-9 . _ -)",
                              out);
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka: topic '%s' is reserved", out);
    return CHAT_OK;
}

static bool known_locked(const chati_kafka *kb, const char *name)
{
    for (size_t i = 0; i < kb->n_topics; i++)
        if (strcmp(kb->topics[i], name) == 0)
            return true;
    return false;
}

static chat_err remember(chati_kafka *kb, const char *name)
{
    chat_err rv = CHAT_OK;
    pthread_mutex_lock(&kb->mu);
    if (!known_locked(kb, name)) {
        if (kb->n_topics == kb->cap_topics) {
            size_t cap = kb->cap_topics ? kb->cap_topics * 2 : 16;
            char **t = chat_realloc(kb->topics, cap * sizeof *t);
            if (t == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "kafka topics");
            else {
                kb->topics = t;
                kb->cap_topics = cap;
            }
        }
        if (rv == CHAT_OK && (kb->topics[kb->n_topics] = chat_strdup(name)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "kafka topics");
        if (rv == CHAT_OK)
            kb->n_topics++;
    }
    pthread_mutex_unlock(&kb->mu);
    return rv;
}

/* One CreateTopics request for all of names; "already exists" is success. */
static chat_err create(chati_kafka *kb, const char *const *names, size_t n)
{
    char errstr[256];
    chat_err rv = CHAT_OK;
    rd_kafka_NewTopic_t **nt = chat_calloc(n, sizeof *nt);
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(kb->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(kb->producer);
    if (nt == NULL || ao == NULL || q == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "kafka: create topics");
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(names[i], kb->opts.partitions, kb->opts.replication,
                                      errstr, sizeof errstr);
        if (nt[i] == NULL) {
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka: topic %s: %s", names[i], errstr);
        } else if (kb->opts.min_insync > 0) {
            char isr[16];
            snprintf(isr, sizeof isr, "%d", kb->opts.min_insync);
            if (rd_kafka_NewTopic_set_config(nt[i], "min.insync.replicas", isr) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                rv = chati_fail(CHAT_ERR_NOMEM, "kafka: topic %s config", names[i]);
        }
    }
    if (rv == CHAT_OK) {
        rd_kafka_AdminOptions_set_request_timeout(ao, kb->opts.timeout_ms, NULL, 0);
        rd_kafka_AdminOptions_set_operation_timeout(ao, kb->opts.timeout_ms, NULL, 0);
        rd_kafka_CreateTopics(kb->producer, nt, n, ao, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, kb->opts.timeout_ms + 2000);
        if (ev == NULL) {
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                            "kafka: no answer to CreateTopics from %s in %d ms",
                            kb->opts.bootstrap, kb->opts.timeout_ms);
        } else if (rd_kafka_event_error(ev)) {
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "kafka: creating topics at %s: %s",
                            kb->opts.bootstrap, rd_kafka_event_error_string(ev));
        } else {
            size_t cnt = 0;
            const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &cnt);
            for (size_t i = 0; rv == CHAT_OK && i < cnt; i++) {
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
                if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
                    e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                    rv = chati_fail(e == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION
                                        ? CHAT_ERR_INVALID_ARGUMENTS
                                        : CHAT_ERR_SERVICE_UNAVAILABLE,
                                    "kafka: creating topic %s: %s",
                                    rd_kafka_topic_result_name(res[i]),
                                    rd_kafka_topic_result_error_string(res[i])
                                        ? rd_kafka_topic_result_error_string(res[i])
                                        : rd_kafka_err2str(e));
            }
        }
        if (ev != NULL)
            rd_kafka_event_destroy(ev);
    }
    for (size_t i = 0; nt != NULL && i < n; i++)
        if (nt[i] != NULL)
            rd_kafka_NewTopic_destroy(nt[i]);
    chat_free(nt);
    if (ao != NULL)
        rd_kafka_AdminOptions_destroy(ao);
    if (q != NULL)
        rd_kafka_queue_destroy(q);
    return rv;
}

/* Waits until the cluster's metadata shows name with a leader for every partition. */
static chat_err await_metadata(chati_kafka *kb, const char *name, int64_t deadline)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(kb->producer, name, NULL);
    if (rkt == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "kafka: topic %s", name);
    const char *why = "no metadata";
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(kb->producer, 0, rkt, &md, 1000);
        bool ready = false;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            why = rd_kafka_err2str(e);
        } else if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   md->topics[0].partition_cnt > 0) {
            ready = true;
            for (int i = 0; i < md->topics[0].partition_cnt; i++)
                if (md->topics[0].partitions[i].leader < 0)
                    ready = false;
            why = "partitions without a leader";
        } else if (md->topic_cnt == 1) {
            why = rd_kafka_err2str(md->topics[0].err);
        }
        if (md != NULL)
            rd_kafka_metadata_destroy(md);
        if (ready)
            break;
        if (chati_mono_ms() >= deadline) {
            rd_kafka_topic_destroy(rkt);
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "kafka: topic %s not ready: %s",
                              name, why);
        }
        chati_sleep_ms(METADATA_POLL_MS);
    }
    rd_kafka_topic_destroy(rkt);
    return CHAT_OK;
}

chat_err chati_kafka_topics_ensure(chati_kafka *kb, const char *const *names, size_t n)
{
    const char **missing = chat_calloc(n ? n : 1, sizeof *missing);
    if (missing == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "kafka topics");
    size_t m = 0;
    pthread_mutex_lock(&kb->mu);
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < m; j++)
            dup = dup || strcmp(missing[j], names[i]) == 0;
        if (!dup && !known_locked(kb, names[i]))
            missing[m++] = names[i];
    }
    pthread_mutex_unlock(&kb->mu);
    chat_err rv = m ? create(kb, missing, m) : CHAT_OK;
    int64_t deadline = chati_mono_ms() + kb->opts.timeout_ms;
    for (size_t i = 0; rv == CHAT_OK && i < m; i++)
        rv = await_metadata(kb, missing[i], deadline);
    for (size_t i = 0; rv == CHAT_OK && i < m; i++)
        rv = remember(kb, missing[i]);
    chat_free(missing);
    return rv;
}
