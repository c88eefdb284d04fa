/*
 * libchat/backends/kafka/group.h - a consumer group of this process: its
 * Kafka consumer, its libchat members, and the partitions it holds. Shared by
 * consumer.c (the group's life: subscribe, unsubscribe) and dispatch.c (its
 * thread: batches, commits, rebalances).
 */
#ifndef CHATI_KAFKA_GROUP_H
#define CHATI_KAFKA_GROUP_H

#include "backends/kafka/kafka.h"

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
    int64_t since_ms;               /* wall clock at subscribe: where new partitions start */
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
    char last_error[256];           /* the consumer's latest error, for details */

    /* The batch a poll is filling (dispatcher thread only): a revoke served
     * inside that poll drops what it took from the partitions leaving. */
    rd_kafka_message_t **collecting;
    size_t n_collecting;
};

/* The dispatcher thread (arg: the group); runs until group.stop. */
void *chati_kafka_dispatch_main(void *arg);
/* librdkafka's rebalance callback (opaque: the group): positions and assigns
 * what comes, unassigns what goes; incrementally under the cooperative
 * protocol, the whole assignment under the eager one. */
void chati_kafka_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque);
/* Frees the partitions held; call with g->mu held (or g unshared). */
void chati_kafka_parts_clear_locked(chati_kafka_group *g);

#endif
