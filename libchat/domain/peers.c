/* The domain's calls to other services, through the context's peer tables;
 * and the tables that answer for a service nobody provides. */
#include "domain/ctx.h"

static chat_err none(const char *service)
{
    return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "the %s service is not available here",
                      service);
}

static chat_err no_visible(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           unsigned flags, chat_channel **out, bool *is_member)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(s), CHATI_UNUSED(channel_id), CHATI_UNUSED(out);
    CHATI_UNUSED(flags);
    CHATI_UNUSED(is_member);
    return none("channel");
}

static chat_err no_readable(chat_ctx *ctx, const chat_session *s, char (**ids)[CHAT_ID_SIZE],
                            size_t *n)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(s), CHATI_UNUSED(ids), CHATI_UNUSED(n);
    return none("channel");
}

static chat_err no_join_general(chat_ctx *ctx, const char *team_id, const char *user_id)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(team_id), CHATI_UNUSED(user_id);
    return none("channel");
}

static chat_err no_get(chat_ctx *ctx, const char *user_id, chat_user **out)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(user_id), CHATI_UNUSED(out);
    return none("user");
}

static chat_err no_read_state(chat_ctx *ctx, const chat_session *s, chat_channel *c)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(s), CHATI_UNUSED(c);
    return none("user");
}

static chat_err no_set_read_marker(chat_ctx *ctx, const chat_session *s,
                                   const char *channel_id, const char *ts)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(s), CHATI_UNUSED(channel_id), CHATI_UNUSED(ts);
    return none("user");
}

static chat_err no_create_profile(chat_ctx *ctx, const char *user_id, const char *email,
                                  const char *real_name, const char *team_domain,
                                  chat_user **out)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(user_id), CHATI_UNUSED(email), CHATI_UNUSED(real_name);
    CHATI_UNUSED(team_domain), CHATI_UNUSED(out);
    return none("user");
}

static chat_err no_delete_profile(chat_ctx *ctx, const char *user_id)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(user_id);
    return none("user");
}

static chat_err no_create_bot(chat_ctx *ctx, const chat_user *bot, chat_user **out)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(bot), CHATI_UNUSED(out);
    return none("user");
}

static chat_err no_set_active(chat_ctx *ctx, const char *user_id, bool active)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(user_id), CHATI_UNUSED(active);
    return none("auth");
}

static const chati_channel_peer no_channel = {no_visible, no_readable, no_join_general};
static const chati_user_peer no_user = {no_get, no_read_state, no_set_read_marker,
                                        no_create_profile, no_delete_profile, no_create_bot};
static chat_err no_queue_interaction(chat_ctx *ctx, const char *bot_id, const char *event_id,
                                    const char *payload)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(bot_id), CHATI_UNUSED(event_id), CHATI_UNUSED(payload);
    return none("auth");
}

static const chati_auth_peer no_auth = {no_set_active, no_queue_interaction};

void chati_peers_init(chat_ctx *ctx, const chati_peers *remote)
{
    ctx->peers.channel = ctx->channels                 ? &chati_channel_peer_local
                         : remote && remote->channel ? remote->channel
                                                     : &no_channel;
    ctx->peers.user = ctx->users                 ? &chati_user_peer_local
                      : remote && remote->user ? remote->user
                                               : &no_user;
    ctx->peers.auth = ctx->auth                 ? &chati_auth_peer_local
                      : remote && remote->auth ? remote->auth
                                               : &no_auth;
}

chat_err chati_channel_visible(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               chat_channel **out, bool *is_member)
{
    return ctx->peers.channel->visible(ctx, s, channel_id, 0, out, is_member);
}

chat_err chati_channel_post_target(chat_ctx *ctx, const chat_session *s, const char *target,
                                   chat_channel **out, bool *is_member)
{
    return ctx->peers.channel->visible(ctx, s, target, CHATI_CHANNEL_POST_TARGET, out,
                                       is_member);
}

chat_err chati_readable_channels(chat_ctx *ctx, const chat_session *s,
                                 char (**ids)[CHAT_ID_SIZE], size_t *n)
{
    return ctx->peers.channel->readable(ctx, s, ids, n);
}

chat_err chati_join_general(chat_ctx *ctx, const char *team_id, const char *user_id)
{
    return ctx->peers.channel->join_general(ctx, team_id, user_id);
}

chat_err chati_user_get(chat_ctx *ctx, const char *user_id, chat_user **out)
{
    return ctx->peers.user->get(ctx, user_id, out);
}

chat_err chati_read_state(chat_ctx *ctx, const chat_session *s, chat_channel *c)
{
    return ctx->peers.user->read_state(ctx, s, c);
}

chat_err chati_set_read_marker(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *ts)
{
    return ctx->peers.user->set_read_marker(ctx, s, channel_id, ts);
}

chat_err chati_create_profile(chat_ctx *ctx, const char *user_id, const char *email,
                              const char *real_name, const char *team_domain, chat_user **out)
{
    return ctx->peers.user->create_profile(ctx, user_id, email, real_name, team_domain, out);
}

chat_err chati_delete_profile(chat_ctx *ctx, const char *user_id)
{
    return ctx->peers.user->delete_profile(ctx, user_id);
}

chat_err chati_create_bot(chat_ctx *ctx, const chat_user *bot, chat_user **out)
{
    return ctx->peers.user->create_bot(ctx, bot, out);
}

chat_err chati_set_active(chat_ctx *ctx, const char *user_id, bool active)
{
    return ctx->peers.auth->set_active(ctx, user_id, active);
}

chat_err chati_queue_interaction(chat_ctx *ctx, const char *bot_id, const char *event_id,
                                 const char *payload)
{
    return ctx->peers.auth->queue_interaction(ctx, bot_id, event_id, payload);
}
