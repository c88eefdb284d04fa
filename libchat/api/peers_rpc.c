/*
 * The peer tables over RPC (domain/peers.h): what a service's domain needs of
 * another service's data, asked of the service that owns it through the
 * internal methods (api/internal_methods.c runs the in-process table there).
 * chat_open gives a context these for the services it does not run.
 */
#include <string.h>

#include "api/convert.h"
#include "api/peers_rpc.h"
#include "api/svc.h"
#include "domain/ctx.h"
#include "internal.pb-c.h"

#define REMOTE_TIMEOUT_MS 5000

static void svc_free(void *remote)
{
    chati_svc_close(remote);
}

/* The context's RPC client, made on first use. */
static chat_err remote(chat_ctx *ctx, chati_svc **out)
{
    pthread_mutex_lock(&ctx->remote_mu);
    chat_err rv = CHAT_OK;
    if (ctx->remote == NULL) {
        chati_svc *svc = NULL;
        rv = chati_svc_rpc(ctx, &svc);
        if (rv == CHAT_OK) {
            ctx->remote = svc;
            ctx->remote_free = svc_free;
        }
    }
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
    chat_err rv = remote(ctx, &svc);
    if (rv != CHAT_OK)
        return rv;
    return chati_svc_call(svc, m, s, req, REMOTE_TIMEOUT_MS, resp);
}

/* -------------------------------------------------------------- channel --- */

static chat_err channel_visible(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                unsigned flags, chat_channel **out, bool *is_member)
{
    Chat__Internal__ChannelAccessRequest req = CHAT__INTERNAL__CHANNEL_ACCESS_REQUEST__INIT;
    req.channel = (char *)(channel_id ? channel_id : "");
    req.flags = flags;
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

static chat_err readable_channels(chat_ctx *ctx, const chat_session *s,
                                  char (**ids)[CHAT_ID_SIZE], size_t *n)
{
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

static chat_err join_general(chat_ctx *ctx, const char *team_id, const char *user_id)
{
    Chat__Internal__JoinGeneralRequest req = CHAT__INTERNAL__JOIN_GENERAL_REQUEST__INIT;
    req.team_id = (char *)team_id;
    req.user_id = (char *)user_id;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.joinGeneral", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

static chat_err pin(chat_ctx *ctx, const chat_session *s, const char *channel_id, const char *ts,
                    bool on)
{
    Chat__Internal__PinRequest req = CHAT__INTERNAL__PIN_REQUEST__INIT;
    req.channel = (char *)channel_id;
    req.ts = (char *)ts;
    req.user = (char *)s->user_id;
    req.on = on;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.pin", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

static chat_err pins(chat_ctx *ctx, const char *channel_id, chat_pin **out, size_t *n)
{
    Chat__Internal__PinsRequest req = CHAT__INTERNAL__PINS_REQUEST__INIT;
    req.channel = (char *)channel_id;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.pins", NULL, &req.base, &resp);
    if (rv != CHAT_OK)
        return rv;
    const Chat__Internal__PinsResponse *r = (const void *)resp;
    *out = r->n_pins ? chat_calloc(r->n_pins, sizeof **out) : NULL;
    *n = 0;
    if (r->n_pins && *out == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "pins");
    for (size_t i = 0; rv == CHAT_OK && i < r->n_pins; i++) {
        chat_pin *p = &(*out)[i];
        if (!chati_copy_fixed(p->channel, sizeof p->channel, channel_id) ||
            !chati_copy_fixed(p->ts, sizeof p->ts, r->pins[i]->ts) ||
            !chati_copy_fixed(p->user, sizeof p->user, r->pins[i]->user))
            rv = chati_fail(CHAT_ERR_INTERNAL, "a pin from the channel service");
        p->created = r->pins[i]->created;
        *n = i + 1;
    }
    if (rv != CHAT_OK) {
        chat_free(*out);
        *out = NULL;
        *n = 0;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

/* ----------------------------------------------------------------- user --- */

static chat_err user_get(chat_ctx *ctx, const char *user_id, chat_user **out)
{
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

static chat_err read_state(chat_ctx *ctx, const chat_session *s, chat_channel *c)
{
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

static chat_err set_read_marker(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                const char *ts)
{
    Chat__Internal__SetReadMarkerRequest req = CHAT__INTERNAL__SET_READ_MARKER_REQUEST__INIT;
    req.channel = (char *)channel_id;
    req.ts = (char *)ts;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.setReadMarker", s, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

static chat_err create_profile(chat_ctx *ctx, const char *user_id, const char *email,
                               const char *real_name, const char *team_domain, chat_user **out)
{
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

static chat_err delete_profile(chat_ctx *ctx, const char *user_id)
{
    Chat__Internal__DeleteProfileRequest req = CHAT__INTERNAL__DELETE_PROFILE_REQUEST__INIT;
    req.user_id = (char *)user_id;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.deleteProfile", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

static chat_err create_bot(chat_ctx *ctx, const chat_user *bot, chat_user **out)
{
    Chat__Internal__CreateBotRequest req = CHAT__INTERNAL__CREATE_BOT_REQUEST__INIT;
    chat_err rv = chati_user_pack(bot, &req.user);
    ProtobufCMessage *resp = NULL;
    if (rv == CHAT_OK)
        rv = call(ctx, "internal.createBot", NULL, &req.base, &resp);
    chat_free(req.user.data);
    if (rv != CHAT_OK)
        return rv;
    rv = chati_user_unpack(&((const Chat__Internal__UserResponse *)(const void *)resp)->user, out);
    protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

/* ----------------------------------------------------------------- auth --- */

static chat_err set_active(chat_ctx *ctx, const char *user_id, bool active)
{
    Chat__Internal__SetActiveRequest req = CHAT__INTERNAL__SET_ACTIVE_REQUEST__INIT;
    req.user_id = (char *)user_id;
    req.active = active;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.setActive", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

static chat_err queue_interaction(chat_ctx *ctx, const char *bot_id, const char *event_id,
                                 const char *payload)
{
    Chat__Internal__QueueInteractionRequest req = CHAT__INTERNAL__QUEUE_INTERACTION_REQUEST__INIT;
    req.bot_id = (char *)bot_id;
    req.event_id = (char *)event_id;
    req.payload = (char *)payload;
    ProtobufCMessage *resp = NULL;
    chat_err rv = call(ctx, "internal.queueInteraction", NULL, &req.base, &resp);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

static const chati_channel_peer channel_peer = {channel_visible, readable_channels,
                                                join_general, pin, pins};
static const chati_user_peer user_peer = {user_get, read_state, set_read_marker,
                                          create_profile, delete_profile, create_bot};
static const chati_auth_peer auth_peer = {set_active, queue_interaction};

const chati_peers chati_rpc_peers = {&channel_peer, &user_peer, &auth_peer};
