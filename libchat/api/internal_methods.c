/* Methods services call on each other (libchat/proto/internal.proto), with
 * their handlers: each runs the in-process peer table (domain/peers.h) in the
 * service that owns the data, for the RPC table of api/peers_rpc.c. Wire ids
 * from 1000 up. */
#include <string.h>

#include "api/convert.h"
#include "domain/ctx.h"
#include "internal.pb-c.h"
#include "api/method.h"
#include "api/handlers.h"

static chat_err h_channel_access(chat_ctx *ctx, const chat_session *s,
                                 const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Internal__ChannelAccessRequest *req = (const void *)rq;
    Chat__Internal__ChannelAccessResponse *resp = (void *)rs;
    chat_channel *c = NULL;
    bool member = false;
    chat_err rv = chati_channel_peer_local.visible(ctx, s, req->channel, req->flags, &c,
                                                   &member);
    if (rv == CHAT_OK) {
        resp->is_member = member;
        rv = chati_channel_pack(c, &resp->channel);
    }
    chat_channel_free(c);
    return rv;
}

static chat_err h_readable_channels(chat_ctx *ctx, const chat_session *s,
                                    const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(rq);
    Chat__Internal__ReadableChannelsResponse *resp = (void *)rs;
    char(*ids)[CHAT_ID_SIZE] = NULL;
    size_t n = 0;
    chat_err rv = chati_channel_peer_local.readable(ctx, s, &ids, &n);
    if (rv == CHAT_OK && n > 0) {
        resp->ids = chat_calloc(n, sizeof *resp->ids);
        if (resp->ids == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "ids");
        for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
            if ((resp->ids[i] = chat_strdup(ids[i])) == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "ids");
            else
                resp->n_ids = i + 1;
        }
    }
    chat_free(ids);
    return rv;
}

static chat_err h_join_general(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                               ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    CHATI_UNUSED(rs);
    const Chat__Internal__JoinGeneralRequest *req = (const void *)rq;
    if (!chati_id_valid(req->team_id, 'T') || !chati_id_valid(req->user_id, 'U'))
        return chati_fail(CHAT_ERR_INVALID_ID, "team and user ids are required");
    return chati_channel_peer_local.join_general(ctx, req->team_id, req->user_id);
}

static chat_err h_user_get(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Internal__UserGetRequest *req = (const void *)rq;
    chat_user *u = NULL;
    chat_err rv = chati_user_peer_local.get(ctx, req->user, &u);
    if (rv == CHAT_OK)
        rv = chati_user_pack(u, &((Chat__Internal__UserResponse *)(void *)rs)->user);
    chat_user_free(u);
    return rv;
}

static chat_err h_read_state(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    const Chat__Internal__ReadStateRequest *req = (const void *)rq;
    Chat__Internal__ReadStateResponse *resp = (void *)rs;
    chat_channel c;
    memset(&c, 0, sizeof c);
    if (!chati_copy_fixed(c.id, CHAT_ID_SIZE, req->channel))
        return chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "bad channel id");
    chat_err rv = chati_user_peer_local.read_state(ctx, s, &c);
    if (rv == CHAT_OK) {
        resp->unread_count = c.unread_count;
        resp->mention_count = c.mention_count;
        if (c.last_read[0] && (resp->last_read = chat_strdup(c.last_read)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "read state");
    }
    return rv;
}

static chat_err h_set_read_marker(chat_ctx *ctx, const chat_session *s,
                                  const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Internal__SetReadMarkerRequest *req = (const void *)rq;
    return chati_user_peer_local.set_read_marker(ctx, s, req->channel, req->ts);
}

static chat_err h_create_profile(chat_ctx *ctx, const chat_session *s,
                                 const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Internal__CreateProfileRequest *req = (const void *)rq;
    chat_user *u = NULL;
    chat_err rv = chati_user_peer_local.create_profile(ctx, req->user_id, req->email,
                                                       req->real_name, req->team_domain, &u);
    if (rv == CHAT_OK)
        rv = chati_user_pack(u, &((Chat__Internal__UserResponse *)(void *)rs)->user);
    chat_user_free(u);
    return rv;
}

static chat_err h_delete_profile(chat_ctx *ctx, const chat_session *s,
                                 const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    CHATI_UNUSED(rs);
    const Chat__Internal__DeleteProfileRequest *req = (const void *)rq;
    return chati_user_peer_local.delete_profile(ctx, req->user_id);
}

static chat_err h_set_active(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    CHATI_UNUSED(rs);
    const Chat__Internal__SetActiveRequest *req = (const void *)rq;
    return chati_auth_peer_local.set_active(ctx, req->user_id, req->active);
}

#define D(x) &chat__internal__##x##__descriptor
static chat_err h_create_bot(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Internal__CreateBotRequest *req = (const void *)rq;
    chat_user *in = NULL, *u = NULL;
    chat_err rv = chati_user_unpack(&req->user, &in);
    if (rv == CHAT_OK)
        rv = chati_user_peer_local.create_bot(ctx, in, &u);
    if (rv == CHAT_OK)
        rv = chati_user_pack(u, &((Chat__Internal__UserResponse *)(void *)rs)->user);
    chat_user_free(in);
    chat_user_free(u);
    return rv;
}

static chat_err h_queue_interaction(chat_ctx *ctx, const chat_session *s,
                                   const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    CHATI_UNUSED(rs);
    const Chat__Internal__QueueInteractionRequest *req = (const void *)rq;
    return chati_auth_peer_local.queue_interaction(ctx, req->bot_id, req->event_id, req->payload);
}

static chat_err h_view_answer(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    CHATI_UNUSED(rs);
    const Chat__Internal__ViewAnswerRequest *req = (const void *)rq;
    return chati_view_answer(ctx, req->ticket, req->answer);
}

static chat_err h_pin(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                      ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    CHATI_UNUSED(rs);
    const Chat__Internal__PinRequest *req = (const void *)rq;
    chat_session who;
    memset(&who, 0, sizeof who);
    if (!chati_copy_fixed(who.user_id, sizeof who.user_id, req->user))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a user");
    return chati_channel_peer_local.pin(ctx, &who, req->channel, req->ts, req->on);
}

static chat_err h_pins(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                       ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Internal__PinsRequest *req = (const void *)rq;
    Chat__Internal__PinsResponse *resp = (void *)rs;
    chat_pin *got = NULL;
    size_t n = 0;
    chat_err rv = chati_channel_peer_local.pins(ctx, req->channel, &got, &n);
    if (rv == CHAT_OK && n &&
        (resp->pins = chat_calloc(n, sizeof *resp->pins)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        Chat__Internal__Pin *p = (Chat__Internal__Pin *)chati_pb_new(&chat__internal__pin__descriptor);
        if (p == NULL || chati_pb_str(&p->ts, got[i].ts) || chati_pb_str(&p->user, got[i].user)) {
            if (p)
                protobuf_c_message_free_unpacked(&p->base, NULL);
            rv = CHAT_ERR_NOMEM;
            break;
        }
        p->created = got[i].created;
        resp->pins[resp->n_pins++] = p;
    }
    chat_free(got);
    return rv;
}

#define NA (CHATI_M_NO_AUTH | CHATI_M_INTERNAL)

const chati_method chati_internal_methods[] = {
    {1000, "internal.channelAccess", CHATI_SVC_CHANNEL, CHATI_M_INTERNAL | CHATI_M_SAFE,
     D(channel_access_request), D(channel_access_response), h_channel_access},
    {1001, "internal.readableChannels", CHATI_SVC_CHANNEL, CHATI_M_INTERNAL | CHATI_M_SAFE,
     D(readable_channels_request), D(readable_channels_response), h_readable_channels},
    {1002, "internal.joinGeneral", CHATI_SVC_CHANNEL, NA, D(join_general_request), D(empty),
     h_join_general},
    {1003, "internal.userGet", CHATI_SVC_USER, NA | CHATI_M_SAFE, D(user_get_request), D(user_response),
     h_user_get},
    {1004, "internal.readState", CHATI_SVC_USER, CHATI_M_INTERNAL | CHATI_M_SAFE, D(read_state_request),
     D(read_state_response), h_read_state},
    {1005, "internal.setReadMarker", CHATI_SVC_USER, CHATI_M_INTERNAL | CHATI_M_SAFE,
     D(set_read_marker_request), D(empty), h_set_read_marker},
    {1006, "internal.createProfile", CHATI_SVC_USER, NA, D(create_profile_request),
     D(user_response), h_create_profile},
    {1007, "internal.deleteProfile", CHATI_SVC_USER, NA, D(delete_profile_request), D(empty),
     h_delete_profile},
    {1008, "internal.setActive", CHATI_SVC_AUTH, NA, D(set_active_request), D(empty),
     h_set_active},
    {1009, "internal.createBot", CHATI_SVC_USER, NA, D(create_bot_request), D(user_response),
     h_create_bot},
    /* Socket Mode (the gateway, as the app): its events, then their acks. */
    {1010, "internal.appEventsLease", CHATI_SVC_AUTH, CHATI_M_INTERNAL | CHATI_M_APP_TOKEN,
     D(app_events_lease_request), D(app_events_lease_response), chati_h_app_events_lease},
    {1011, "internal.appEventsAck", CHATI_SVC_AUTH,
     CHATI_M_INTERNAL | CHATI_M_APP_TOKEN | CHATI_M_SAFE, D(app_events_ack_request), D(empty),
     chati_h_app_events_ack},
    /* The Events API (the gateway's sender, trusted as a service). */
    {1012, "internal.appHttpLease", CHATI_SVC_AUTH, NA, D(app_http_lease_request),
     D(app_http_lease_response), chati_h_app_http_lease},
    {1013, "internal.appHttpAck", CHATI_SVC_AUTH, NA | CHATI_M_SAFE, D(app_http_ack_request),
     D(empty), chati_h_app_http_ack},
    /* A person's click on an app's message (blocks.actions), for its app. */
    {1014, "internal.queueInteraction", CHATI_SVC_AUTH, NA, D(queue_interaction_request),
     D(empty), h_queue_interaction},
    /* An app's acknowledgement of a view_submission (the gateway's): the
     * ticket it was queued with authorises. */
    {1015, "internal.viewAnswer", CHATI_SVC_AUTH, NA, D(view_answer_request), D(empty),
     h_view_answer},
    /* The channel peer's pins, for the message service's pins.*. */
    {1016, "internal.pin", CHATI_SVC_CHANNEL, NA, D(pin_request), D(empty), h_pin},
    {1017, "internal.pins", CHATI_SVC_CHANNEL, NA | CHATI_M_SAFE, D(pins_request),
     D(pins_response), h_pins},
};

const size_t chati_n_internal_methods = CHATI_ARRAY_LEN(chati_internal_methods);
