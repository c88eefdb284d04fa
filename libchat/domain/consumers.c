/* The consumers of message events that keep derived state, as in the seed:
 * the user service keeps unread counters, the channel service last activity.
 * Both apply a whole delivered batch in one store call (one transaction).
 * And the message service's: a new topic or purpose posts Slack's notice
 * in the channel (channel_topic, channel_purpose). */
#include <stdio.h>
#include <string.h>

#include "domain/ctx.h"
#include "domain/message_internal.h"

static const char *const message_topics[] = {"message.created", "message.changed",
                                              "message.deleted"};

/* Whether a message shows in its channel (top level or broadcast reply). */
static bool in_channel_view(const chat_message *m)
{
    return m->thread_ts[0] == '\0' || strcmp(m->thread_ts, m->ts) == 0 || m->reply_broadcast;
}

/* Decodes a batch, keeping the events that carry a message. */
static chat_err decode_batch(const chat_broker_msg *msgs, size_t n, chat_event ***out,
                             size_t *count)
{
    chat_event **evs = chat_calloc(n, sizeof *evs);
    if (evs == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "batch");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        chat_event *ev = NULL;
        /* Garbage can never succeed: skipping it keeps the consumer alive. */
        if (chati_event_decode(msgs[i].data, msgs[i].len, &ev) != CHAT_OK)
            continue;
        if (ev->message == NULL) {
            chati_event_free(ev);
            continue;
        }
        evs[k++] = ev;
    }
    *out = evs;
    *count = k;
    return CHAT_OK;
}

static void free_batch(chat_event **evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        chati_event_free(evs[i]);
    chat_free(evs);
}

static chat_err on_unread_batch(void *arg, const chat_broker_msg *msgs, size_t n)
{
    chat_ctx *ctx = arg;
    chat_event **evs = NULL;
    size_t k = 0;
    chat_err rv = decode_batch(msgs, n, &evs, &k);
    if (rv != CHAT_OK)
        return rv;
    chat_activity *items = chat_calloc(k ? k : 1, sizeof *items);
    size_t m = 0;
    if (items == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "activity");
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        const chat_message *msg = evs[i]->message;
        if (!in_channel_view(msg))
            continue; /* thread replies do not make a channel unread */
        chat_activity *a = &items[m++];
        a->event_id = evs[i]->id;
        a->kind = evs[i]->type == CHAT_EVENT_MESSAGE_CREATED   ? CHAT_ACTIVITY_POSTED
                  : evs[i]->type == CHAT_EVENT_MESSAGE_CHANGED ? CHAT_ACTIVITY_EDITED
                                                               : CHAT_ACTIVITY_DELETED;
        a->channel = msg->channel;
        a->ts = msg->ts;
        a->author = msg->user;
        a->mention_flags = msg->mention_flags;
        a->n_mentions = msg->n_mentions;
        a->mentions = (const char(*)[CHAT_ID_SIZE])msg->mentions;
    }
    if (rv == CHAT_OK && m > 0)
        rv = ctx->users->apply_activity(ctx->users_impl, items, m);
    chat_free(items);
    free_batch(evs, k);
    return rv;
}

static chat_err on_activity_batch(void *arg, const chat_broker_msg *msgs, size_t n)
{
    chat_ctx *ctx = arg;
    chat_event **evs = NULL;
    size_t k = 0;
    chat_err rv = decode_batch(msgs, n, &evs, &k);
    if (rv != CHAT_OK)
        return rv;
    char(*channels)[CHAT_ID_SIZE] = chat_calloc(k ? k : 1, CHAT_ID_SIZE);
    char(*ts)[CHAT_TS_SIZE] = chat_calloc(k ? k : 1, CHAT_TS_SIZE);
    size_t m = 0;
    if (channels == NULL || ts == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "activity");
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        const chat_message *msg = evs[i]->message;
        if (evs[i]->type != CHAT_EVENT_MESSAGE_CREATED || !in_channel_view(msg))
            continue;
        memcpy(channels[m], msg->channel, CHAT_ID_SIZE);
        memcpy(ts[m++], msg->ts, CHAT_TS_SIZE);
    }
    if (rv == CHAT_OK && m > 0)
        rv = ctx->channels->touch_activity(ctx->channels_impl,
                                           (const char(*)[CHAT_ID_SIZE])channels,
                                           (const char(*)[CHAT_TS_SIZE])ts, m);
    chat_free(channels);
    chat_free(ts);
    free_batch(evs, k);
    return rv;
}

/* What may succeed if tried again; anything else would fail for good. */
static bool transient(chat_err rv)
{
    return rv == CHAT_ERR_NOMEM || rv == CHAT_ERR_STORAGE || rv == CHAT_ERR_TIMEOUT ||
           rv == CHAT_ERR_SERVICE_UNAVAILABLE || rv == CHAT_ERR_INTERNAL;
}

/* One notice per event: its id is the notice's client_msg_id, so a batch
 * delivered again posts nothing twice. */
static chat_err on_notice_batch(void *arg, const chat_broker_msg *msgs, size_t n)
{
    chat_ctx *ctx = arg;
    chat_err rv = CHAT_OK;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        chat_event *ev = NULL;
        if (chati_event_decode(msgs[i].data, msgs[i].len, &ev) != CHAT_OK)
            continue; /* garbage can never succeed */
        const chat_channel *c = ev->channel;
        bool topic = ev->type == CHAT_EVENT_CHANNEL_TOPIC;
        if (c && (topic || ev->type == CHAT_EVENT_CHANNEL_PURPOSE) && ev->user_id[0]) {
            const char *v = topic ? c->topic : c->purpose;
            chati_buf text = {0};
            if (v && *v)
                chati_buf_printf(&text, "set the channel %s: %s", topic ? "topic" : "purpose", v);
            else
                chati_buf_printf(&text, "cleared the channel %s", topic ? "topic" : "purpose");
            chat_session s;
            memset(&s, 0, sizeof s);
            s.kind = CHAT_TOKEN_USER;
            memcpy(s.user_id, ev->user_id, CHAT_ID_SIZE);
            memcpy(s.team_id, ev->team_id, CHAT_ID_SIZE);
            rv = text.data ? chati_message_post_notice(ctx, &s, c->id,
                                                       topic ? "channel_topic"
                                                             : "channel_purpose",
                                                       text.data, ev->id)
                           : CHAT_ERR_NOMEM;
            if (rv != CHAT_OK && !transient(rv))
                rv = CHAT_OK; /* left the channel since, archived it...: no notice */
            chati_buf_free(&text);
        }
        chati_event_free(ev);
    }
    return rv;
}

/* Each batch is one transaction, whatever its size: a batch may wait
 * CONSUMER_LINGER_MS to fill (counts then lag that much; at 3,000 messages/s
 * it saves about a sixth of chatd's CPU per durable send). */
#define CONSUMER_BATCH 512
#define CONSUMER_LINGER_MS 10

static chat_err subscribe(chat_ctx *ctx, const char *group, const char *const *topics, size_t n,
                          chat_broker_handler handler, chat_broker_consumer **out)
{
    if (CHATI_HAS(ctx->broker, subscribe_batched, CHAT_BROKER_V2))
        return ctx->broker->subscribe_batched(ctx->broker_impl, group, topics, n, CONSUMER_BATCH,
                                              CONSUMER_LINGER_MS, handler, ctx, out);
    return ctx->broker->subscribe(ctx->broker_impl, group, topics, n, CONSUMER_BATCH, handler,
                                  ctx, out);
}

chat_err chati_consumers_start(chat_ctx *ctx)
{
    if (ctx->broker == NULL)
        return CHAT_OK;
    chat_err rv = CHAT_OK;
    size_t nt = CHATI_ARRAY_LEN(message_topics);
    /* A store without the optional method keeps no such state: no consumer. */
    if (ctx->users && CHATI_HAS(ctx->users, apply_activity, CHAT_STORE_V1))
        rv = subscribe(ctx, "user", message_topics, nt, on_unread_batch, &ctx->unread_consumer);
    if (rv == CHAT_OK && ctx->channels && CHATI_HAS(ctx->channels, touch_activity, CHAT_STORE_V1))
        rv = subscribe(ctx, "channel", message_topics, nt, on_activity_batch,
                       &ctx->activity_consumer);
    static const char *const notice_topics[] = {"channel.topic", "channel.purpose"};
    if (rv == CHAT_OK && ctx->messages)
        rv = subscribe(ctx, "notices", notice_topics, CHATI_ARRAY_LEN(notice_topics),
                       on_notice_batch, &ctx->notice_consumer);
    return rv;
}

void chati_consumers_stop(chat_ctx *ctx)
{
    if (ctx->broker == NULL)
        return;
    if (ctx->unread_consumer)
        ctx->broker->unsubscribe(ctx->broker_impl, ctx->unread_consumer);
    if (ctx->activity_consumer)
        ctx->broker->unsubscribe(ctx->broker_impl, ctx->activity_consumer);
    if (ctx->notice_consumer)
        ctx->broker->unsubscribe(ctx->broker_impl, ctx->notice_consumer);
    ctx->unread_consumer = ctx->activity_consumer = ctx->notice_consumer = NULL;
}
