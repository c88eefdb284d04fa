/* Handlers of the conversations.* methods and users.conversations. */
#include <string.h>

#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"

/* Answers with the channel as the caller sees it. */
static chat_err reply_channel(chat_ctx *ctx, const chat_session *s, const char *id,
                              Chat__Api__ChannelResponse *resp)
{
    chat_channel *c = NULL;
    chat_err rv = chat_channel_info(ctx, s, id, &c);
    if (rv == CHAT_OK && (resp->channel = chati_api_channel(c, s->user_id)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_channel_free(c);
    return rv;
}

chat_err chati_h_conv_create(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsCreateRequest *req = (const void *)rq;
    Chat__Api__ChannelResponse *resp = (void *)rs;
    chat_channel *c = NULL;
    chat_err rv = chat_channel_create(ctx, s, req->name, req->is_private, &c);
    if (rv == CHAT_OK && (resp->channel = chati_api_channel(c, s->user_id)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_channel_free(c);
    return rv;
}

chat_err chati_h_conv_info(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsInfoRequest *req = (const void *)rq;
    return reply_channel(ctx, s, req->channel, (void *)rs);
}

chat_err chati_h_conv_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsListRequest *req = (const void *)rq;
    Chat__Api__ConversationsListResponse *resp = (void *)rs;
    unsigned types;
    chat_list *l = NULL;
    chat_err rv = chati_api_types(req->types, CHAT_CHANNEL_PUBLIC, &types);
    if (rv == CHAT_OK)
        rv = chat_channel_list(ctx, s, types, req->exclude_archived, req->cursor, req->limit, &l);
    if (rv == CHAT_OK)
        rv = chati_api_channels(l, s->user_id, &resp->channels, &resp->n_channels);
    if (rv == CHAT_OK && (resp->response_metadata = chati_api_metadata(l)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_list_free(l);
    return rv;
}

chat_err chati_h_users_conversations(chat_ctx *ctx, const chat_session *s,
                                     const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsersConversationsRequest *req = (const void *)rq;
    Chat__Api__ConversationsListResponse *resp = (void *)rs;
    unsigned types;
    chat_list *l = NULL;
    chat_err rv = chati_api_types(req->types, CHAT_CHANNEL_PUBLIC, &types);
    if (rv == CHAT_OK)
        rv = chat_channel_list_for_user(ctx, s, req->user, types, req->exclude_archived,
                                        req->cursor, req->limit, &l);
    if (rv == CHAT_OK)
        rv = chati_api_channels(l, s->user_id, &resp->channels, &resp->n_channels);
    if (rv == CHAT_OK && (resp->response_metadata = chati_api_metadata(l)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_list_free(l);
    return rv;
}

chat_err chati_h_conv_members(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsMembersRequest *req = (const void *)rq;
    Chat__Api__ConversationsMembersResponse *resp = (void *)rs;
    chat_list *l = NULL;
    chat_err rv = chat_channel_members(ctx, s, req->channel, req->cursor, req->limit, &l);
    size_t k = chat_list_count(l);
    const char **ids = k ? chat_calloc(k, sizeof *ids) : NULL;
    if (rv == CHAT_OK && k && ids == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < k; i++)
        ids[i] = chat_list_string(l, i);
    if (rv == CHAT_OK)
        rv = chati_pb_strs(&resp->members, &resp->n_members, ids, k);
    if (rv == CHAT_OK && (resp->response_metadata = chati_api_metadata(l)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_free(ids);
    chat_list_free(l);
    return rv;
}

chat_err chati_h_conv_join(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    const Chat__Api__ChannelRequest *req = (const void *)rq;
    Chat__Api__ChannelResponse *resp = (void *)rs;
    bool already = false;
    chat_err rv = chat_channel_join(ctx, s, req->channel, &already);
    if (rv == CHAT_OK && already) {
        /* Slack answers ok with a warning, not an error. */
        resp->already_in_channel = true;
        rv = chati_pb_str(&resp->warning, "already_in_channel");
    }
    return rv == CHAT_OK ? reply_channel(ctx, s, req->channel, resp) : rv;
}

chat_err chati_h_conv_leave(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    const Chat__Api__ChannelRequest *req = (const void *)rq;
    Chat__Api__ConversationsLeaveResponse *resp = (void *)rs;
    chat_err rv = chat_channel_leave(ctx, s, req->channel);
    if (rv == CHAT_ERR_NOT_IN_CHANNEL) {
        /* Slack: leaving a channel you are not in is ok with not_in_channel. */
        resp->not_in_channel = true;
        return CHAT_OK;
    }
    return rv;
}

chat_err chati_h_conv_invite(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsInviteRequest *req = (const void *)rq;
    chat_err rv = chat_channel_invite(ctx, s, req->channel, (const char *const *)req->users,
                                      req->n_users);
    return rv == CHAT_OK ? reply_channel(ctx, s, req->channel, (void *)rs) : rv;
}

chat_err chati_h_conv_kick(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ConversationsKickRequest *req = (const void *)rq;
    return chat_channel_kick(ctx, s, req->channel, req->user);
}

chat_err chati_h_conv_open(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsOpenRequest *req = (const void *)rq;
    Chat__Api__ChannelResponse *resp = (void *)rs;
    if (req->channel && *req->channel) /* resume a conversation by id */
        return reply_channel(ctx, s, req->channel, resp);
    chat_channel *c = NULL;
    chat_err rv = chat_channel_open_dm(ctx, s, (const char *const *)req->users, req->n_users, &c);
    if (rv == CHAT_OK && (resp->channel = chati_api_channel(c, s->user_id)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_channel_free(c);
    return rv;
}

chat_err chati_h_conv_mark(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ConversationsMarkRequest *req = (const void *)rq;
    return chat_channel_mark(ctx, s, req->channel, req->ts);
}

chat_err chati_h_conv_rename(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsRenameRequest *req = (const void *)rq;
    chat_err rv = chat_channel_rename(ctx, s, req->channel, req->name, NULL);
    return rv == CHAT_OK ? reply_channel(ctx, s, req->channel, (void *)rs) : rv;
}

chat_err chati_h_conv_set_topic(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsSetTopicRequest *req = (const void *)rq;
    chat_err rv = chat_channel_set_topic(ctx, s, req->channel, req->topic);
    return rv == CHAT_OK ? reply_channel(ctx, s, req->channel, (void *)rs) : rv;
}

chat_err chati_h_conv_set_purpose(chat_ctx *ctx, const chat_session *s,
                                  const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__ConversationsSetPurposeRequest *req = (const void *)rq;
    chat_err rv = chat_channel_set_purpose(ctx, s, req->channel, req->purpose);
    return rv == CHAT_OK ? reply_channel(ctx, s, req->channel, (void *)rs) : rv;
}

chat_err chati_h_conv_archive(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    return chat_channel_archive(ctx, s, ((const Chat__Api__ChannelRequest *)(const void *)rq)->channel);
}

chat_err chati_h_conv_unarchive(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    return chat_channel_unarchive(ctx, s,
                                  ((const Chat__Api__ChannelRequest *)(const void *)rq)->channel);
}

chat_err chati_h_rtm_typing(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    return chat_typing(ctx, s, ((const Chat__Api__ChannelRequest *)(const void *)rq)->channel);
}

/* ------------------------------------------------------------ bookmarks --- */

static Chat__Api__Bookmark *api_bookmark(const chat_session *s, const chat_bookmark *b)
{
    Chat__Api__Bookmark *r = (Chat__Api__Bookmark *)chati_pb_new(&chat__api__bookmark__descriptor);
    if (r == NULL)
        return NULL;
    r->date_created = b->created;
    r->date_updated = b->updated;
    if (chati_pb_str(&r->id, b->id) || chati_pb_str(&r->channel_id, b->channel) ||
        chati_pb_str(&r->title, b->title) || chati_pb_str(&r->link, b->link) ||
        chati_pb_str(&r->emoji, b->emoji) || chati_pb_str(&r->type, "link") ||
        chati_pb_str(&r->rank, "") || chati_pb_str(&r->last_updated_by_user_id, b->updated_by) ||
        chati_pb_str(&r->last_updated_by_team_id, chat_session_team_id(s))) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return NULL;
    }
    return r;
}

static chat_err bookmark_out(chat_err rv, const chat_session *s, chat_bookmark *b,
                             ProtobufCMessage *rs)
{
    Chat__Api__BookmarkResponse *resp = (void *)rs;
    if (rv == CHAT_OK && (resp->bookmark = api_bookmark(s, b)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_bookmarks_free(b, b ? 1 : 0);
    return rv;
}

chat_err chati_h_bookmarks_add(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                               ProtobufCMessage *rs)
{
    const Chat__Api__BookmarksAddRequest *req = (const void *)rq;
    chat_bookmark *b = NULL;
    chat_err rv = chat_bookmark_add(ctx, s, req->channel_id, req->title, req->type, req->link,
                                    req->emoji, &b);
    return bookmark_out(rv, s, b, rs);
}

chat_err chati_h_bookmarks_edit(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    const Chat__Api__BookmarksEditRequest *req = (const void *)rq;
    chat_bookmark *b = NULL;
    /* An empty emoji keeps it (a form field left out arrives as ""). */
    chat_err rv = chat_bookmark_edit(ctx, s, req->channel_id, req->bookmark_id, req->title,
                                     req->link, *req->emoji ? req->emoji : NULL, &b);
    return bookmark_out(rv, s, b, rs);
}

chat_err chati_h_bookmarks_remove(chat_ctx *ctx, const chat_session *s,
                                  const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__BookmarksRemoveRequest *req = (const void *)rq;
    return chat_bookmark_remove(ctx, s, req->channel_id, req->bookmark_id);
}

chat_err chati_h_bookmarks_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    const Chat__Api__BookmarksListRequest *req = (const void *)rq;
    Chat__Api__BookmarksListResponse *resp = (void *)rs;
    chat_bookmark *bs = NULL;
    size_t n = 0;
    chat_err rv = chat_bookmark_list(ctx, s, req->channel_id, &bs, &n);
    if (rv == CHAT_OK && n && (resp->bookmarks = chat_calloc(n, sizeof *resp->bookmarks)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        if ((resp->bookmarks[i] = api_bookmark(s, &bs[i])) == NULL)
            rv = CHAT_ERR_NOMEM;
        else
            resp->n_bookmarks = i + 1;
    }
    chat_bookmarks_free(bs, n);
    return rv;
}
