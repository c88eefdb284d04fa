/* Publishing events, and chat_subscribe() for embedding programs. */
#include <string.h>

#include "domain/ctx.h"
#include "domain/recent_ids.h"

/* Typing and presence are ephemeral and frequent: they go straight to the
 * broker. Everything else is state that consumers (gateways' membership
 * caches, clients' read markers) must see, in order with the message events of
 * the same channel: it goes through the message store's outbox when this
 * process has one. */
static bool ephemeral(chat_event_type t)
{
    return t == CHAT_EVENT_USER_TYPING || t == CHAT_EVENT_PRESENCE_CHANGED;
}

void chati_publish(chat_ctx *ctx, const chat_event *ev)
{
    if (ctx->broker == NULL)
        return;
    void *data = NULL;
    size_t len = 0;
    if (chati_event_encode(ev, &data, &len) != CHAT_OK)
        return;
    const char *key = ev->channel_id[0] ? ev->channel_id
                                        : ev->user_id[0] ? ev->user_id : ev->team_id;
    const char *topic = chat_event_topic(ev->type);
    if (!ephemeral(ev->type) && ctx->outbox &&
        CHATI_HAS(ctx->messages, outbox_add, CHAT_STORE_V1)) {
        chat_outbox_item it = {0, (char *)topic, (char *)key, data, len};
        if (ctx->messages->outbox_add(ctx->messages_impl, &it) == CHAT_OK) {
            chati_outbox_kick(ctx->outbox);
            chat_free(data);
            return;
        }
    }
    chat_broker_msg m = {topic, key, data, len};
    /* The change is made; a broker failure here loses only this notification. */
    (void)ctx->broker->publish(ctx->broker_impl, &m, 1, NULL, NULL, NULL);
    chat_free(data);
}

chat_err chati_outbox_message_event(void *arg, const chat_message *m, chat_outbox_item *out)
{
    chat_event *ev = arg;
    /* The event borrows m for encoding only. */
    chat_message *saved = ev->message;
    ev->message = (chat_message *)m;
    memcpy(ev->channel_id, m->channel, CHAT_ID_SIZE);
    memcpy(ev->team_id, m->team_id, CHAT_ID_SIZE);
    if (ev->item_ts[0] == '\0')
        memcpy(ev->item_ts, m->ts, CHAT_TS_SIZE);
    void *data = NULL;
    size_t len = 0;
    chat_err rv = chati_event_encode(ev, &data, &len);
    ev->message = saved;
    if (rv != CHAT_OK)
        return rv;
    out->topic = chat_strdup(chat_event_topic(ev->type));
    out->key = chat_strdup(m->channel);
    out->data = data;
    out->len = len;
    if (out->topic == NULL || out->key == NULL) {
        chat_free(out->topic);
        chat_free(out->key);
        chat_free(data);
        memset(out, 0, sizeof *out);
        return chati_fail(CHAT_ERR_NOMEM, "outbox item");
    }
    return CHAT_OK;
}

struct chat_subscription {
    chat_ctx *ctx;
    chat_broker_consumer *consumer;
    chat_event_fn fn;
    void *arg;
    /* Brokers deliver at least once (an outbox resend after a lost ack, a
     * batch redelivered after a failure): an event already handled is not
     * handed to fn again, so a WebSocket client sees it once. */
    chati_recent_ids handled;
};

static chat_err deliver(void *arg, const chat_broker_msg *msgs, size_t n)
{
    chat_subscription *sub = arg;
    for (size_t i = 0; i < n; i++) {
        chat_event *ev = NULL;
        if (chati_event_decode(msgs[i].data, msgs[i].len, &ev) != CHAT_OK)
            continue; /* a foreign or corrupt record can never succeed: skip it */
        if (chati_recent_ids_has(&sub->handled, ev->id)) {
            chati_event_free(ev);
            continue;
        }
        chat_err rv = sub->fn(sub->arg, ev);
        if (rv == CHAT_OK)
            chati_recent_ids_add(&sub->handled, ev->id);
        chati_event_free(ev);
        if (rv != CHAT_OK)
            return rv;
    }
    return CHAT_OK;
}

chat_err chat_subscribe(chat_ctx *ctx, const char *group, uint32_t type_mask, chat_event_fn fn,
                        void *arg, chat_subscription **out)
{
    CHATI_REQUIRE(ctx, broker, "event");
    if (group == NULL || group[0] == '\0' || fn == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "group, fn and out are required");
    const char *topics[CHAT_EVENT_TYPE_MAX];
    size_t n = 0;
    for (int t = 1; t <= CHAT_EVENT_TYPE_MAX; t++)
        if (type_mask == 0 || (type_mask & (1u << t)))
            topics[n++] = chat_event_topic((chat_event_type)t);
    if (n == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "type_mask selects no event type");
    chat_subscription *sub = chat_calloc(1, sizeof *sub);
    if (sub == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "subscription");
    sub->ctx = ctx;
    sub->fn = fn;
    sub->arg = arg;
    if (!chati_recent_ids_init(&sub->handled)) {
        chat_free(sub);
        return chati_fail(CHAT_ERR_NOMEM, "subscription");
    }
    chat_err rv = ctx->broker->subscribe(ctx->broker_impl, group, topics, n, 256, deliver, sub,
                                         &sub->consumer);
    if (rv != CHAT_OK) {
        chati_recent_ids_free(&sub->handled);
        chat_free(sub);
        return rv;
    }
    *out = sub;
    return CHAT_OK;
}

void chat_unsubscribe(chat_subscription *sub)
{
    if (sub == NULL)
        return;
    sub->ctx->broker->unsubscribe(sub->ctx->broker_impl, sub->consumer);
    chati_recent_ids_free(&sub->handled);
    chat_free(sub);
}
