/*
 * libchat/backends/kafka/kafka.h - what the Kafka broker's files share.
 *
 * One chati_kafka per open broker: an idempotent producer (acks=all) with a
 * poller thread that runs delivery reports (the acks), the topics known to
 * exist, and the consumer groups of this process (consumer.c).
 *
 * Locks: kb->mu (pending count, produced offsets, topics, groups list) is
 * taken before a group's mu, never after. No lock is held across a handler,
 * an ack callback or a request to Kafka.
 */
#ifndef CHATI_KAFKA_H
#define CHATI_KAFKA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include <chat/backend/broker.h>

#include "core/internal.h"

/* Kafka's own limit on a topic name. */
#define CHATI_KAFKA_TOPIC_MAX 249

/* Settings from the URL "kafka://HOST[:PORT][,HOST[:PORT]...][?KEY=VALUE&...]". */
typedef struct chati_kafka_opts {
    char *bootstrap;            /* "HOST:PORT,..." for bootstrap.servers */
    char *prefix;               /* prepended to every libchat topic ("" by default) */
    int partitions;             /* for topics we create; -1 = the broker's default */
    int replication;            /* likewise */
    int min_insync;             /* min.insync.replicas of topics we create; -1: 2 when
                                 * replication >= 3, else the broker's default */
    int timeout_ms;             /* for requests: metadata, topic creation, joining */
    int message_timeout_ms;     /* a publish not acknowledged by then fails its ack */
    int session_timeout_ms;     /* a dead consumer's partitions move after this */
    int heartbeat_ms;           /* heartbeat.interval.ms */
    const char *assignor;       /* partition.assignment.strategy (static); NULL: default */
} chati_kafka_opts;

/* Highest offset + 1 this process's producer saw acknowledged, per partition. */
typedef struct chati_kafka_produced {
    char *topic;                /* Kafka's name */
    int32_t partition;
    int64_t next;
} chati_kafka_produced;

typedef struct chati_kafka_group chati_kafka_group;

typedef struct chati_kafka {
    chati_kafka_opts opts;
    rd_kafka_t *producer;
    pthread_t poller;
    atomic_bool stop_poller;

    pthread_mutex_t mu;
    pthread_cond_t acked;       /* pending dropped */
    int64_t pending;            /* published, not yet acknowledged or failed */
    chati_kafka_produced *produced;
    size_t n_produced, cap_produced;
    char last_error[256];       /* the producer's latest error report, for details */
    char **topics;              /* Kafka names known to exist */
    size_t n_topics, cap_topics;
    chati_kafka_group *groups;  /* live consumer groups of this process */
} chati_kafka;

/* url.c: parses url into *o (freed with chati_kafka_opts_free); invalid_arguments. */
chat_err chati_kafka_opts_parse(const char *url, chati_kafka_opts *o);
void chati_kafka_opts_free(chati_kafka_opts *o);

/* topics.c: the Kafka name of a libchat topic into out (prefix + topic),
 * invalid_arguments when Kafka would refuse it. */
chat_err chati_kafka_topic_name(const chati_kafka *kb, const char *topic, char *out,
                                size_t size);
/* Creates the topics (Kafka names) not known to exist yet and waits until
 * their metadata shows leaders; service_unavailable when Kafka does not answer. */
chat_err chati_kafka_topics_ensure(chati_kafka *kb, const char *const *names, size_t n);
/* librdkafka configuration shared by the producer and consumers. */
chat_err chati_kafka_conf_common(const chati_kafka *kb, rd_kafka_conf_t *conf);
chat_err chati_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value);

/* producer.c */
chat_err chati_kafka_producer_start(chati_kafka *kb);
void chati_kafka_producer_stop(chati_kafka *kb);
chat_err chati_kafka_publish(void *impl, const chat_broker_msg *msgs, size_t n,
                             const int64_t *tags, chat_broker_ack ack, void *ack_arg);

/* consumer.c */
chat_err chati_kafka_subscribe(void *impl, const char *group, const char *const *topics,
                               size_t n_topics, size_t max_batch, chat_broker_handler handler,
                               void *arg, chat_broker_consumer **out);
void chati_kafka_unsubscribe(void *impl, chat_broker_consumer *c);
/* Stops every group (close). */
void chati_kafka_groups_stop(chati_kafka *kb);
/* Whether every group of this process has handled, on the partitions it holds,
 * everything in produced[0..n). Takes kb->mu's groups' locks; call with kb->mu held. */
bool chati_kafka_groups_caught_up(chati_kafka *kb, const chati_kafka_produced *produced,
                                  size_t n);

#endif
