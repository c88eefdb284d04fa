/* Handlers of chat.*, reactions.*, conversations.history/replies and search. */
#include <stdio.h>
#include <string.h>

#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"

#define SEARCH_DEFAULT_COUNT 20
#define SEARCH_MAX_PAGES 100

bool chati_bot_may_customise(const chat_session *s)
{
    return chat_session_token_kind(s) == CHAT_TOKEN_BOT &&
           chat_session_has_scope(s, "chat:write.customize");
}

chat_err chati_h_chat_post(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    const Chat__Api__ChatPostMessageRequest *req = (const void *)rq;
    Chat__Api__ChatPostMessageResponse *resp = (void *)rs;
    chat_message *m = NULL;
    bool bot = chati_bot_may_customise(s);
    chat_post_opts o = CHATI_POST_OPTS(req, bot);
    o.client_msg_id = req->client_msg_id;
    chat_err rv = chat_message_post_opts(ctx, s, req->channel, req->text, &o, &m);
    if (rv == CHAT_OK &&
        (chati_pb_str(&resp->channel, m->channel) || chati_pb_str(&resp->ts, m->ts) ||
         (resp->message = chati_api_message(m, false)) == NULL))
        rv = CHAT_ERR_NOMEM;
    if (rv == CHAT_OK)
        chati_api_fill_files(ctx, s, &resp->message, 1);
    chat_message_free(m);
    return rv;
}

chat_err chati_h_chat_update(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    const Chat__Api__ChatUpdateRequest *req = (const void *)rq;
    Chat__Api__ChatUpdateResponse *resp = (void *)rs;
    chat_message *m = NULL;
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1,
                        .blocks = chati_pb_json(req->blocks),
                        .attachments = chati_pb_json(req->attachments),
                        .metadata = chati_pb_json(req->metadata)};
    chat_err rv = chat_message_update_opts(ctx, s, req->channel, req->ts, req->text, &o, &m);
    if (rv == CHAT_OK &&
        (chati_pb_str(&resp->channel, m->channel) || chati_pb_str(&resp->ts, m->ts) ||
         chati_pb_str(&resp->text, m->text) ||
         (resp->message = chati_api_message(m, false)) == NULL))
        rv = CHAT_ERR_NOMEM;
    chat_message_free(m);
    return rv;
}

chat_err chati_h_chat_delete(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    const Chat__Api__ChatDeleteRequest *req = (const void *)rq;
    Chat__Api__ChatDeleteResponse *resp = (void *)rs;
    chat_err rv = chat_message_delete(ctx, s, req->channel, req->ts);
    if (rv == CHAT_OK &&
        (chati_pb_str(&resp->channel, req->channel) || chati_pb_str(&resp->ts, req->ts)))
        rv = CHAT_ERR_NOMEM;
    return rv;
}

/* https://host/archives/C123/p1732600000000100, as Slack writes permalinks. */
static chat_err permalink(chat_ctx *ctx, const char *channel, const char *ts, char **out)
{
    char digits[CHAT_TS_SIZE];
    size_t j = 0;
    for (const char *p = ts; *p && j + 1 < sizeof digits; p++)
        if (*p != '.')
            digits[j++] = *p;
    digits[j] = '\0';
    char url[768];
    snprintf(url, sizeof url, "%s/archives/%s/p%s", chati_public_url(ctx), channel, digits);
    return chati_pb_str(out, url);
}

chat_err chati_h_chat_permalink(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    const Chat__Api__ChatGetPermalinkRequest *req = (const void *)rq;
    Chat__Api__ChatGetPermalinkResponse *resp = (void *)rs;
    chat_message *m = NULL;
    chat_err rv = chat_message_get(ctx, s, req->channel, req->message_ts, &m);
    if (rv == CHAT_OK && (chati_pb_str(&resp->channel, m->channel) ||
                          permalink(ctx, m->channel, m->ts, &resp->permalink)))
        rv = CHAT_ERR_NOMEM;
    chat_message_free(m);
    return rv;
}

chat_err chati_h_reactions_add(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                               ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ReactionsRequest *req = (const void *)rq;
    return chat_reaction_add(ctx, s, req->channel, req->timestamp, req->name);
}

chat_err chati_h_pins_add(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                          ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__PinsRequest *req = (const void *)rq;
    return chat_pin_add(ctx, s, req->channel, req->timestamp);
}

chat_err chati_h_pins_remove(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__PinsRequest *req = (const void *)rq;
    return chat_pin_remove(ctx, s, req->channel, req->timestamp);
}

chat_err chati_h_pins_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    const Chat__Api__PinsRequest *req = (const void *)rq;
    Chat__Api__PinsListResponse *resp = (void *)rs;
    chat_pin *pins = NULL;
    chat_message **ms = NULL;
    size_t n = 0;
    chat_err rv = chat_pin_list(ctx, s, req->channel, &pins, &ms, &n);
    if (rv == CHAT_OK && n && (resp->items = chat_calloc(n, sizeof *resp->items)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        Chat__Api__PinItem *it =
            (Chat__Api__PinItem *)chati_pb_new(&chat__api__pin_item__descriptor);
        if (it == NULL) {
            rv = CHAT_ERR_NOMEM;
            break;
        }
        resp->items[resp->n_items++] = it;
        it->created = pins[i].created;
        if (chati_pb_str(&it->type, "message") || chati_pb_str(&it->created_by, pins[i].user) ||
            chati_pb_str(&it->channel, pins[i].channel) ||
            (it->message = chati_api_message(ms[i], true)) == NULL)
            rv = CHAT_ERR_NOMEM;
    }
    chat_pins_free(pins, ms, n);
    return rv;
}

chat_err chati_h_reactions_remove(chat_ctx *ctx, const chat_session *s,
                                  const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ReactionsRequest *req = (const void *)rq;
    return chat_reaction_remove(ctx, s, req->channel, req->timestamp, req->name);
}

chat_err chati_h_reactions_get(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                               ProtobufCMessage *rs)
{
    const Chat__Api__ReactionsRequest *req = (const void *)rq;
    Chat__Api__ReactionsGetResponse *resp = (void *)rs;
    chat_message *m = NULL;
    chat_err rv = chat_message_get(ctx, s, req->channel, req->timestamp, &m);
    if (rv == CHAT_OK &&
        (chati_pb_str(&resp->type, "message") || chati_pb_str(&resp->channel, m->channel) ||
         (resp->message = chati_api_message(m, false)) == NULL))
        rv = CHAT_ERR_NOMEM;
    chat_message_free(m);
    return rv;
}

static chat_err messages_response(chat_ctx *ctx, const chat_session *s, chat_err rv,
                                  chat_list *l, Chat__Api__MessagesResponse *resp)
{
    if (rv == CHAT_OK)
        rv = chati_api_messages(l, &resp->messages, &resp->n_messages);
    if (rv == CHAT_OK)
        chati_api_fill_files(ctx, s, resp->messages, resp->n_messages);
    if (rv == CHAT_OK) {
        resp->has_more = chat_list_has_more(l);
        if ((resp->response_metadata = chati_api_metadata(l)) == NULL)
            rv = CHAT_ERR_NOMEM;
    }
    chat_list_free(l);
    return rv;
}

chat_err chati_h_conv_history(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsHistoryRequest *req = (const void *)rq;
    chat_list *l = NULL;
    chat_err rv = chat_message_history(ctx, s, req->channel, req->latest, req->oldest,
                                       req->inclusive, req->limit, req->cursor, &l);
    return messages_response(ctx, s, rv, l, (void *)rs);
}

chat_err chati_h_conv_replies(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsRepliesRequest *req = (const void *)rq;
    chat_list *l = NULL;
    chat_err rv = chat_message_replies(ctx, s, req->channel, req->ts, req->latest, req->oldest,
                                       req->inclusive, req->limit, req->cursor, &l);
    return messages_response(ctx, s, rv, l, (void *)rs);
}

/* One search match in Slack's shape, with the channel's name. */
static Chat__Api__SearchMatch *search_match(chat_ctx *ctx, const chat_session *s,
                                            const chat_message *m)
{
    Chat__Api__SearchMatch *x =
        (Chat__Api__SearchMatch *)chati_pb_new(&chat__api__search_match__descriptor);
    if (x == NULL)
        return NULL;
    x->channel = (Chat__Api__SearchChannel *)chati_pb_new(&chat__api__search_channel__descriptor);
    chat_channel *c = NULL;
    /* The channel's name, from wherever the channel service runs. */
    (void)chati_channel_visible(ctx, s, m->channel, &c, NULL);
    if (x->channel == NULL || chati_pb_str(&x->type, "message") ||
        chati_pb_str(&x->user, m->user) || chati_pb_str(&x->text, m->text) ||
        chati_pb_str(&x->ts, m->ts) || chati_pb_str(&x->thread_ts, m->thread_ts) ||
        chati_pb_str(&x->team, m->team_id) || chati_pb_str(&x->channel->id, m->channel) ||
        chati_pb_str(&x->channel->name, c ? c->name : NULL) ||
        permalink(ctx, m->channel, m->ts, &x->permalink)) {
        chat_channel_free(c);
        protobuf_c_message_free_unpacked(&x->base, NULL);
        return NULL;
    }
    chat_channel_free(c);
    return x;
}

chat_err chati_search_messages_fill(chat_ctx *ctx, const chat_session *s,
                                    const Chat__Api__SearchMessagesRequest *req,
                                    Chat__Api__SearchMessages **out,
                                    Chat__Api__ResponseMetadata **meta)
{
    int count = req->count > 0 ? req->count : SEARCH_DEFAULT_COUNT;
    int page = req->page > 0 ? req->page : 1;
    if (count > CHAT_MAX_PAGE || page > SEARCH_MAX_PAGES)
        return chati_fail(CHAT_ERR_INVALID_LIMIT, "count or page out of range");
    /* Slack pages by number; the store by cursor: walk to the page asked for. */
    char *cursor = req->cursor && *req->cursor ? chat_strdup(req->cursor) : NULL;
    chat_list *l = NULL;
    chat_err rv = CHAT_OK;
    for (int p = (req->cursor && *req->cursor) ? page : 1; rv == CHAT_OK && p <= page; p++) {
        chat_list_free(l);
        l = NULL;
        rv = chat_message_search(ctx, s, req->query, cursor, count, &l);
        chat_free(cursor);
        cursor = NULL;
        if (rv == CHAT_OK && p < page) {
            const char *next = chat_list_next_cursor(l);
            if (next == NULL) { /* past the end: an empty page */
                chat_list_free(l);
                l = chat_list_new(CHAT_LIST_MESSAGES);
                break;
            }
            cursor = chat_strdup(next);
        }
    }
    chat_free(cursor);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    Chat__Api__SearchMessages *sm =
        (Chat__Api__SearchMessages *)chati_pb_new(&chat__api__search_messages__descriptor);
    *out = sm;
    size_t k = chat_list_count(l);
    if (sm == NULL ||
        (sm->paging = (Chat__Api__Paging *)chati_pb_new(&chat__api__paging__descriptor)) == NULL ||
        (k && (sm->matches = chat_calloc(k, sizeof *sm->matches)) == NULL))
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        if ((sm->matches[i] = search_match(ctx, s, chat_list_message(l, i))) == NULL)
            rv = CHAT_ERR_NOMEM;
        else
            sm->n_matches = i + 1;
    }
    if (rv == CHAT_OK) {
        bool more = chat_list_next_cursor(l) != NULL;
        int64_t before = (int64_t)(page - 1) * count;
        sm->total = before + (int64_t)k + (more ? 1 : 0);
        sm->paging->count = count;
        sm->paging->page = page;
        sm->paging->total = sm->total;
        sm->paging->pages = more ? page + 1 : page;
        if (meta && (*meta = chati_api_metadata(l)) == NULL)
            rv = CHAT_ERR_NOMEM;
    }
    chat_list_free(l);
    return rv;
}

chat_err chati_h_search_messages(chat_ctx *ctx, const chat_session *s,
                                 const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__SearchMessagesRequest *req = (const void *)rq;
    Chat__Api__SearchMessagesResponse *resp = (void *)rs;
    chat_err rv = chati_search_messages_fill(ctx, s, req, &resp->messages,
                                             &resp->response_metadata);
    if (rv == CHAT_OK && chati_pb_str(&resp->query, req->query))
        rv = CHAT_ERR_NOMEM;
    return rv;
}

chat_err chati_h_chat_me_message(chat_ctx *ctx, const chat_session *s,
                                 const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__ChatMeMessageRequest *req = (const void *)rq;
    Chat__Api__ChatMeMessageResponse *resp = (void *)rs;
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1, .flags = CHAT_POST_ME_MESSAGE};
    chat_message *m = NULL;
    chat_err rv = chat_message_post_opts(ctx, s, req->channel, req->text, &o, &m);
    if (rv == CHAT_OK &&
        (chati_pb_str(&resp->channel, m->channel) || chati_pb_str(&resp->ts, m->ts)))
        rv = CHAT_ERR_NOMEM;
    chat_message_free(m);
    return rv;
}

chat_err chati_h_chat_post_ephemeral(chat_ctx *ctx, const chat_session *s,
                                     const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__ChatPostEphemeralRequest *req = (const void *)rq;
    Chat__Api__ChatPostEphemeralResponse *resp = (void *)rs;
    bool bot = chati_bot_may_customise(s);
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1,
                        .thread_ts = req->thread_ts,
                        .blocks = chati_pb_json(req->blocks),
                        .attachments = chati_pb_json(req->attachments),
                        .username = bot ? req->username : NULL,
                        .icon_emoji = bot ? req->icon_emoji : NULL,
                        .icon_url = bot ? req->icon_url : NULL};
    char ts[CHAT_TS_SIZE];
    chat_err rv = chat_message_post_ephemeral(ctx, s, req->channel, req->user, req->text, &o, ts);
    return rv == CHAT_OK ? chati_pb_str(&resp->message_ts, ts) : rv;
}

chat_err chati_h_reactions_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    const Chat__Api__ReactionsListRequest *req = (const void *)rq;
    Chat__Api__ReactionsListResponse *resp = (void *)rs;
    int limit = req->limit > 0 ? req->limit : req->count;
    chat_list *l = NULL;
    chat_err rv = chat_reaction_list(ctx, s, req->user, req->cursor, limit, &l);
    size_t k = chat_list_count(l);
    if (rv == CHAT_OK && k && (resp->items = chat_calloc(k, sizeof *resp->items)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        const chat_message *m = chat_list_message(l, i);
        Chat__Api__ReactionsGetResponse *it = (Chat__Api__ReactionsGetResponse *)chati_pb_new(
            &chat__api__reactions_get_response__descriptor);
        if (it == NULL) {
            rv = CHAT_ERR_NOMEM;
            break;
        }
        resp->items[resp->n_items++] = it;
        if (chati_pb_str(&it->type, "message") || chati_pb_str(&it->channel, m->channel) ||
            (it->message = chati_api_message(m, false)) == NULL)
            rv = CHAT_ERR_NOMEM;
    }
    if (rv == CHAT_OK && (resp->response_metadata = chati_api_metadata(l)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_list_free(l);
    return rv;
}
