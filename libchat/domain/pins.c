/* Pins (chat/message.h, Slack's pins.*): a member of a channel pins one of
 * its messages. The message service checks the message; the channel
 * service keeps the pins (its store's add_pin, through the channel peer);
 * pin.added / pin.removed tell the channel's members and apps. */
#include <string.h>

#include "domain/ctx.h"
#include "domain/peers.h"

/* The message at ts in a channel s is in (ts normalised into norm). */
static chat_err member_message(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *ts, chat_channel **c, chat_message **m,
                               char norm[CHAT_TS_SIZE])
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, messages, "message");
    chat_err rv = chati_check_session(s);
    int64_t us = 0;
    bool member = false;
    if (rv == CHAT_OK && (ts == NULL || *ts == '\0'))
        rv = chati_fail(CHAT_ERR_NO_ITEM_SPECIFIED, "timestamp is required");
    if (rv == CHAT_OK && !chati_ts_parse(ts, &us))
        rv = chati_fail(CHAT_ERR_BAD_TIMESTAMP, "not a message timestamp");
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, c, &member);
    if (rv == CHAT_OK && !member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "pins are for the channel's members");
    if (rv == CHAT_OK) {
        chati_ts_format(us, norm);
        rv = ctx->messages->get(ctx->messages_impl, (*c)->id, norm, m);
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %s", norm);
    }
    return rv;
}

static void pin_event(chat_ctx *ctx, const chat_session *s, const chat_channel *c,
                      chat_message *m, bool added)
{
    chat_event *ev = chati_event_new(added ? CHAT_EVENT_PIN_ADDED : CHAT_EVENT_PIN_REMOVED);
    if (ev == NULL)
        return;
    memcpy(ev->team_id, c->team_id, CHAT_ID_SIZE);
    memcpy(ev->channel_id, c->id, CHAT_ID_SIZE);
    memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
    memcpy(ev->item_ts, m->ts, CHAT_TS_SIZE);
    ev->channel_type = c->type;
    ev->message = m; /* borrowed for the encoding */
    chati_publish(ctx, ev);
    ev->message = NULL;
    chati_event_free(ev);
}

static chat_err set_pin(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                        const char *ts, bool on)
{
    chat_channel *c = NULL;
    chat_message *m = NULL;
    char norm[CHAT_TS_SIZE];
    chat_err rv = member_message(ctx, s, channel_id, ts, &c, &m, norm);
    /* A pin of a message deleted since can still be taken down. */
    if (rv == CHAT_ERR_MESSAGE_NOT_FOUND && !on && c) {
        rv = ctx->peers.channel->pin(ctx, s, c->id, norm, false);
        chat_channel_free(c);
        return rv;
    }
    if (rv == CHAT_OK && m->subtype && (strcmp(m->subtype, "channel_join") == 0 ||
                                        strcmp(m->subtype, "channel_leave") == 0))
        rv = chati_fail(CHAT_ERR_NOT_PINNABLE, "join and leave messages stay unpinned");
    if (rv == CHAT_OK)
        rv = ctx->peers.channel->pin(ctx, s, c->id, norm, on);
    if (rv == CHAT_OK)
        pin_event(ctx, s, c, m, on);
    chat_message_free(m);
    chat_channel_free(c);
    return rv;
}

chat_err chat_pin_add(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                      const char *ts)
{
    return set_pin(ctx, s, channel_id, ts, true);
}

chat_err chat_pin_remove(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                         const char *ts)
{
    return set_pin(ctx, s, channel_id, ts, false);
}

chat_err chat_pin_list(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                       chat_pin **pins, chat_message ***messages, size_t *n)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, messages, "message");
    chat_err rv = chati_check_session(s);
    if (rv == CHAT_OK && (pins == NULL || messages == NULL || n == NULL))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "pins, messages and n are required");
    if (rv != CHAT_OK)
        return rv;
    *pins = NULL;
    *messages = NULL;
    *n = 0;
    chat_channel *c = NULL;
    chat_pin *got = NULL;
    size_t k = 0;
    rv = chati_channel_visible(ctx, s, channel_id, &c, NULL);
    if (rv == CHAT_OK)
        rv = chati_may_read_history(s, c);
    if (rv == CHAT_OK)
        rv = ctx->peers.channel->pins(ctx, c->id, &got, &k);
    chat_message **ms = rv == CHAT_OK && k ? chat_calloc(k, sizeof *ms) : NULL;
    if (rv == CHAT_OK && k && ms == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "pins");
    /* A pinned message deleted since is no longer listed. */
    size_t kept = 0;
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        chat_err e = ctx->messages->get(ctx->messages_impl, c->id, got[i].ts, &ms[kept]);
        if (e == CHAT_OK)
            got[kept++] = got[i];
        else if (!chati_not_found(e))
            rv = e;
    }
    if (rv == CHAT_OK) {
        *pins = got;
        *messages = ms;
        *n = kept;
    } else {
        chat_pins_free(got, ms, kept);
    }
    chat_channel_free(c);
    return rv;
}

void chat_pins_free(chat_pin *pins, chat_message **messages, size_t n)
{
    for (size_t i = 0; messages && i < n; i++)
        chat_message_free(messages[i]);
    chat_free(messages);
    chat_free(pins);
}
