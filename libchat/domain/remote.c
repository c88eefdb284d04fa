/* Cross-service calls: local store when this process owns the domain, RPC to
 * the owning service otherwise. */
#include <string.h>

#include "domain/remote.h"
#include "internal.pb-c.h"
#include "rpc/method.h"
#include "rpc/server.h"

#define REMOTE_TIMEOUT_MS 5000

chat_err chati_remote(chat_ctx *ctx, chati_svc **out)
{
    pthread_mutex_lock(&ctx->remote_mu);
    chat_err rv = CHAT_OK;
    if (ctx->remote == NULL)
        rv = chati_svc_rpc(ctx, &ctx->remote);
    *out = ctx->remote;
    pthread_mutex_unlock(&ctx->remote_mu);
    return rv;
}

/* Calls an internal method by name; *resp is freed by the caller. */
static chat_err call(chat_ctx *ctx, const char *method, const chat_session *s,
                     const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const chati_method *m = chati_method_by_name(method);
    chati_svc *svc = NULL;
    if (m == NULL)
        return chati_fail(CHAT_ERR_INTERNAL, "no method %s", method);
    chat_err rv = chati_remote(ctx, &svc);
    if (rv != CHAT_OK)
        return rv;
    return chati_svc_call(svc, m, s, req, REMOTE_TIMEOUT_MS, resp);
}

/* ------------------------------------------------------------ envelopes --- */

static chat_err pack(chat_event *ev, ProtobufCBinaryData *out)
{
    void *data = NULL;
    size_t len = 0;
    chat_err rv = chati_event_encode(ev, &data, &len);
    if (rv == CHAT_OK) {
        out->data = data;
        out->len = len;
    }
    return rv;
}

chat_err chati_channel_pack(const chat_channel *c, ProtobufCBinaryData *out)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_CHANNEL_CREATED);
    if (ev == NULL || (ev->channel = chat_channel_dup(c)) == NULL) {
        chati_event_free(ev);
        return chati_fail(CHAT_ERR_NOMEM, "channel");
    }
    chat_err rv = pack(ev, out);
    chati_event_free(ev);
    return rv;
}

chat_err chati_channel_unpack(const ProtobufCBinaryData *in, chat_channel **out)
{
    chat_event *ev = NULL;
    chat_err rv = chati_event_decode(in->data, in->len, &ev);
    if (rv == CHAT_OK && ev->channel == NULL)
        rv = chati_fail(CHAT_ERR_INTERNAL, "no channel in the reply");
    if (rv == CHAT_OK) {
        *out = ev->channel;
        ev->channel = NULL;
    }
    chati_event_free(ev);
    return rv;
}

chat_err chati_user_pack(const chat_user *u, ProtobufCBinaryData *out)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_USER_CHANGED);
    if (ev == NULL || (ev->user = chat_user_dup(u)) == NULL) {
        chati_event_free(ev);
        return chati_fail(CHAT_ERR_NOMEM, "user");
    }
    chat_err rv = pack(ev, out);
    chati_event_free(ev);
    return rv;
}

chat_err chati_user_unpack(const ProtobufCBinaryData *in, chat_user **out)
{
    chat_event *ev = NULL;
    chat_err rv = chati_event_decode(in->data, in->len, &ev);
    if (rv == CHAT_OK && ev->user == NULL)
        rv = chati_fail(CHAT_ERR_INTERNAL, "no user in the reply");
    if (rv == CHAT_OK) {
        *out = ev->user;
        ev->user = NULL;
    }
    chati_event_free(ev);
    return rv;
}

/* -------------------------------------------------------------- channel --- */

chat_err chati_channel_visible(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               chat_channel **out, bool *is_member)
{
    if (ctx->channels)
        return chati_channel_visible_local(ctx, s, channel_id, out, is_member);
    Chat__Internal__ChannelAccessRequest req = CHAT__INTERNAL__CHANNEL_ACCESS_REQUEST__INIT;
    req.channel = (char *)(channel_id ? channel_id : "");
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.channelAccess", s, &req.base, &resp);
    if (rv != CHAT_OK)
        return rv;
    const Chat__Internal__ChannelAccessResponse *r = (const void *)resp;
    rv = chati_channel_unpack(&r->channel, out);
    if (rv == CHAT_OK) {
        (*out)->is_member = r->is_member;
        if (is_member)
            *is_member = r->is_member;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

chat_err chati_readable_channels(chat_ctx *ctx, const chat_session *s,
                                 char (**ids)[CHAT_ID_SIZE], size_t *n)
{
    if (ctx->channels)
        return chati_readable_channels_local(ctx, s, ids, n);
    Chat__Internal__ReadableChannelsRequest req = CHAT__INTERNAL__READABLE_CHANNELS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.readableChannels", s, &req.base, &resp);
    if (rv != CHAT_OK)
        return rv;
    const Chat__Internal__ReadableChannelsResponse *r = (const void *)resp;
    char(*out)[CHAT_ID_SIZE] = chat_calloc(r->n_ids ? r->n_ids : 1, CHAT_ID_SIZE);
    if (out == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "channel ids");
    for (size_t i = 0; rv == CHAT_OK && i < r->n_ids; i++)
        if (!chati_copy_fixed(out[i], CHAT_ID_SIZE, r->ids[i]))
            rv = chati_fail(CHAT_ERR_INTERNAL, "bad channel id in the reply");
    if (rv == CHAT_OK) {
        *ids = out;
        *n = r->n_ids;
    } else {
        chat_free(out);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

chat_err chati_join_general(chat_ctx *ctx, const char *team_id, const char *user_id)
{
    if (ctx->channels)
        return chati_join_general_local(ctx, team_id, user_id);
    Chat__Internal__JoinGeneralRequest req = CHAT__INTERNAL__JOIN_GENERAL_REQUEST__INIT;
    req.team_id = (char *)team_id;
    req.user_id = (char *)user_id;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.joinGeneral", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

/* ----------------------------------------------------------------- user --- */

chat_err chati_user_get(chat_ctx *ctx, const char *user_id, chat_user **out)
{
    if (ctx->users)
        return ctx->users->get_user(ctx->users_impl, user_id, out);
    Chat__Internal__UserGetRequest req = CHAT__INTERNAL__USER_GET_REQUEST__INIT;
    req.user = (char *)user_id;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.userGet", NULL, &req.base, &resp);
    if (rv != CHAT_OK)
        return rv;
    rv = chati_user_unpack(&((const Chat__Internal__UserResponse *)(const void *)resp)->user, out);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

chat_err chati_read_state(chat_ctx *ctx, const chat_session *s, chat_channel *c)
{
    if (ctx->users)
        return chati_read_state_local(ctx, s, c);
    Chat__Internal__ReadStateRequest req = CHAT__INTERNAL__READ_STATE_REQUEST__INIT;
    req.channel = c->id;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.readState", s, &req.base, &resp);
    if (rv != CHAT_OK)
        return rv;
    const Chat__Internal__ReadStateResponse *r = (const void *)resp;
    chati_copy_fixed(c->last_read, CHAT_TS_SIZE, r->last_read);
    c->unread_count = r->unread_count;
    c->mention_count = r->mention_count;
    protobuf_c_message_free_unpacked(resp, NULL);
    return CHAT_OK;
}

chat_err chati_set_read_marker(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *ts)
{
    if (ctx->users)
        return ctx->users->set_read_marker(ctx->users_impl, s->user_id, channel_id, ts);
    Chat__Internal__SetReadMarkerRequest req = CHAT__INTERNAL__SET_READ_MARKER_REQUEST__INIT;
    req.channel = (char *)channel_id;
    req.ts = (char *)ts;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.setReadMarker", s, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

chat_err chati_create_profile(chat_ctx *ctx, const char *user_id, const char *email,
                              const char *real_name, const char *team_domain, chat_user **out)
{
    if (ctx->users)
        return chati_create_profile_local(ctx, user_id, email, real_name, team_domain, out);
    Chat__Internal__CreateProfileRequest req = CHAT__INTERNAL__CREATE_PROFILE_REQUEST__INIT;
    req.user_id = (char *)user_id;
    req.email = (char *)email;
    req.real_name = (char *)(real_name ? real_name : "");
    req.team_domain = (char *)(team_domain ? team_domain : "");
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.createProfile", NULL, &req.base, &resp);
    if (rv != CHAT_OK)
        return rv;
    rv = chati_user_unpack(&((const Chat__Internal__UserResponse *)(const void *)resp)->user, out);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

chat_err chati_delete_profile(chat_ctx *ctx, const char *user_id)
{
    if (ctx->users)
        return ctx->users->delete_user(ctx->users_impl, user_id);
    Chat__Internal__DeleteProfileRequest req = CHAT__INTERNAL__DELETE_PROFILE_REQUEST__INIT;
    req.user_id = (char *)user_id;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.deleteProfile", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

/* ----------------------------------------------------------------- auth --- */

chat_err chati_set_active(chat_ctx *ctx, const char *user_id, bool active)
{
    if (ctx->auth)
        return ctx->auth->set_active(ctx->auth_impl, user_id, active);
    Chat__Internal__SetActiveRequest req = CHAT__INTERNAL__SET_ACTIVE_REQUEST__INIT;
    req.user_id = (char *)user_id;
    req.active = active;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.setActive", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}
