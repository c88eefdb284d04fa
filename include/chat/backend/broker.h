/*
 * chat/backend/broker.h - the event broker interface ("inproc", "kafka").
 *
 * Topics carry opaque encoded events with a key (the channel id); events with
 * the same key are delivered in publish order. Each consumer group receives
 * every event at least once; within a group each event goes to one member.
 *
 * Thread safety: every function may be called from any thread. Handlers run on
 * the broker's own consumer threads, one at a time per consumer.
 *
 * Every method of V1 is required: registration refuses a table whose version
 * is 0 or newer than CHAT_BROKER_V2, or with a NULL V1 method. Later versions
 * only append methods (chat/backend/types.h has the version rule); V2's are
 * optional (NULL: callers fall back to V1's).
 */
#ifndef CHAT_BACKEND_BROKER_H
#define CHAT_BACKEND_BROKER_H

#include <chat/backend/types.h>
#include <chat/config.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHAT_BROKER_V1 1u
#define CHAT_BROKER_V2 2u

typedef struct chat_broker_msg {
    const char *topic;
    const char *key;
    const void *data;
    size_t len;
} chat_broker_msg;

/* Handles a batch of messages in delivery order. CHAT_OK commits them all;
 * any other value redelivers the whole batch later. */
typedef chat_err (*chat_broker_handler)(void *arg, const chat_broker_msg *msgs, size_t n);

/* Called once a published message is durably accepted (ok == CHAT_OK) or has
 * failed for good. Runs on a broker thread. */
typedef void (*chat_broker_ack)(void *arg, int64_t tag, chat_err ok);

typedef struct chat_broker_consumer chat_broker_consumer;

typedef struct chat_broker_ops {
    uint32_t version;           /* CHAT_BROKER_V2 (or V1: ends after flush) */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    /* Stops consumers (waiting for running handlers) and frees impl. */
    void (*close)(void *impl);
    /* Queues n messages (copied). ack (may be NULL) is called once per message
     * with its tag (tags[i], or 0 when tags is NULL) when accepted or failed. */
    chat_err (*publish)(void *impl, const chat_broker_msg *msgs, size_t n, const int64_t *tags,
                        chat_broker_ack ack, void *ack_arg);
    /* Starts a consumer in group over n_topics topics, seeing messages published
     * from now on: every message published after the call began (also those
     * that come while it is still joining the group), where the group has no
     * position of its own yet. max_batch bounds a batch. On failure handler is
     * never called. */
    chat_err (*subscribe)(void *impl, const char *group, const char *const *topics,
                          size_t n_topics, size_t max_batch, chat_broker_handler handler,
                          void *arg, chat_broker_consumer **out);
    /* Stops a consumer, waiting for a running handler. */
    void (*unsubscribe)(void *impl, chat_broker_consumer *c);
    /* Waits until everything published before the call has been acknowledged
     * and handled by every consumer of this process. CHAT_ERR_TIMEOUT. */
    chat_err (*flush)(void *impl, int timeout_ms);

    /* ---- CHAT_BROKER_V2 (optional) ---- */
    /* As subscribe, for a consumer that pays per batch (one transaction per
     * handler call) rather than per message: a batch may wait up to
     * linger_ms for more messages, up to max_batch, before the handler gets
     * it. flush does not wait out a linger. A broker may batch anyway and
     * ignore linger_ms; it never delays a consumer that did not ask. */
    chat_err (*subscribe_batched)(void *impl, const char *group, const char *const *topics,
                                  size_t n_topics, size_t max_batch, int linger_ms,
                                  chat_broker_handler handler, void *arg,
                                  chat_broker_consumer **out);
} chat_broker_ops;

/* Registers a broker under ops->scheme, replacing one registered earlier
 * under that scheme. ops is borrowed and must outlive every context using it.
 * not_supported for a version of 0 or above CHAT_BROKER_V2; invalid_arguments
 * when ops, its scheme or a method is NULL. Thread-safe. */
CHAT_API chat_err chat_broker_register(const chat_broker_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
