/* Handlers of the api, auth, team and users methods. */
#include <stdio.h>
#include <string.h>

#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"

chat_err chati_h_api_test(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                          ProtobufCMessage *rs)
{
    CHATI_UNUSED(ctx);
    CHATI_UNUSED(s);
    const Chat__Api__ApiTestRequest *req = (const void *)rq;
    Chat__Api__ApiTestResponse *resp = (void *)rs;
    /* Slack's api.test fails with the error it was asked for. */
    if (req->error && *req->error)
        return chati_fail(chat_err_from_name(req->error) == CHAT_ERR_INTERNAL
                              ? CHAT_ERR_INVALID_ARGUMENTS
                              : chat_err_from_name(req->error),
                          "api.test was asked to fail");
    resp->args = (Chat__Api__ApiTestArgs *)chati_pb_new(&chat__api__api_test_args__descriptor);
    if (resp->args == NULL || chati_pb_str(&resp->args->foo, req->foo))
        return chati_fail(CHAT_ERR_NOMEM, "response");
    return CHAT_OK;
}

static chat_err token_response(chat_ctx *ctx, const char *token, chat_user *u,
                               Chat__Api__AuthTokenResponse *resp)
{
    chat_session *s = NULL;
    chat_err rv = chat_auth_verify(ctx, token, &s);
    if (rv == CHAT_OK && (chati_pb_str(&resp->token, token) ||
                          chati_pb_str(&resp->user_id, s->user_id) ||
                          chati_pb_str(&resp->team_id, s->team_id)))
        rv = CHAT_ERR_NOMEM;
    if (rv == CHAT_OK && u && (resp->user = chati_api_user(u, chati_public_url(ctx))) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_session_free(s);
    return rv;
}

chat_err chati_h_auth_signup(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Api__AuthSignupRequest *req = (const void *)rq;
    chat_user *u = NULL;
    char *token = NULL;
    chat_err rv = chat_auth_signup(ctx, req->email, req->password,
                                   *req->real_name ? req->real_name : NULL,
                                   *req->team_domain ? req->team_domain : NULL, &u, &token);
    if (rv == CHAT_OK)
        rv = token_response(ctx, token, u, (void *)rs);
    chat_free(token);
    chat_user_free(u);
    return rv;
}

chat_err chati_h_auth_login(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Api__AuthLoginRequest *req = (const void *)rq;
    char *token = NULL;
    chat_err rv = chat_auth_login(ctx, req->email, req->password, &token);
    if (rv == CHAT_OK)
        rv = token_response(ctx, token, NULL, (void *)rs);
    chat_free(token);
    return rv;
}

chat_err chati_h_auth_verify(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Api__AuthVerifyRequest *req = (const void *)rq;
    Chat__Api__AuthVerifyResponse *resp = (void *)rs;
    chat_session *v = NULL;
    chat_err rv = chat_auth_verify(ctx, req->token, &v);
    if (rv == CHAT_OK) {
        resp->is_admin = v->is_admin;
        resp->token_kind = (uint32_t)v->kind;
        resp->scopes = v->scopes;
        if (chati_pb_str(&resp->user_id, v->user_id) || chati_pb_str(&resp->team_id, v->team_id) ||
            chati_pb_str(&resp->bot_id, v->bot_id) || chati_pb_str(&resp->app_id, v->app_id))
            rv = CHAT_ERR_NOMEM;
    }
    chat_session_free(v);
    return rv;
}

chat_err chati_h_auth_revoke(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    const Chat__Api__AuthRevokeRequest *req = (const void *)rq;
    Chat__Api__AuthRevokeResponse *resp = (void *)rs;
    if (req->test)
        return CHAT_OK; /* Slack: test=true checks the call without revoking */
    chat_err rv = chat_auth_revoke(ctx, s);
    resp->revoked = rv == CHAT_OK;
    return rv;
}

const char *chati_public_url(chat_ctx *ctx)
{
    const char *u = chat_config_get(ctx->cfg, "gateway.public_url");
    return u && *u ? u : "http://127.0.0.1:8080";
}

chat_err chati_h_auth_test(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    CHATI_UNUSED(rq);
    Chat__Api__AuthTestResponse *resp = (void *)rs;
    chat_user *u = NULL;
    chat_team *t = NULL;
    chat_err rv = chat_user_info(ctx, s, s->user_id, &u);
    if (rv == CHAT_OK)
        rv = chat_team_info(ctx, s, &t);
    if (rv == CHAT_OK) {
        char url[512];
        snprintf(url, sizeof url, "%s/", chati_public_url(ctx));
        if (chati_pb_str(&resp->url, url) || chati_pb_str(&resp->team, t->name) ||
            chati_pb_str(&resp->user, u->name) || chati_pb_str(&resp->team_id, s->team_id) ||
            chati_pb_str(&resp->user_id, s->user_id) ||
            chati_pb_str(&resp->bot_id, chat_session_bot_id(s)) ||
            chati_pb_str(&resp->app_id, chat_session_app_id(s)))
            rv = CHAT_ERR_NOMEM;
    }
    chat_user_free(u);
    chat_team_free(t);
    return rv;
}

chat_err chati_h_team_info(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    CHATI_UNUSED(rq);
    Chat__Api__TeamInfoResponse *resp = (void *)rs;
    chat_team *t = NULL;
    chat_err rv = chat_team_info(ctx, s, &t);
    if (rv == CHAT_OK && (resp->team = chati_api_team(t)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_team_free(t);
    return rv;
}

chat_err chati_h_users_info(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    const Chat__Api__UsersInfoRequest *req = (const void *)rq;
    Chat__Api__UserResponse *resp = (void *)rs;
    chat_user *u = NULL;
    chat_err rv = chat_user_info(ctx, s, req->user, &u);
    if (rv == CHAT_OK && (resp->user = chati_api_user(u, chati_public_url(ctx))) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_user_free(u);
    return rv;
}

chat_err chati_h_users_lookup_by_email(chat_ctx *ctx, const chat_session *s,
                                       const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsersLookupByEmailRequest *req = (const void *)rq;
    Chat__Api__UserResponse *resp = (void *)rs;
    chat_user *u = NULL;
    chat_err rv = chat_user_lookup_by_email(ctx, s, req->email, &u);
    if (rv == CHAT_OK && (resp->user = chati_api_user(u, chati_public_url(ctx))) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_user_free(u);
    return rv;
}

chat_err chati_h_users_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    const Chat__Api__UsersListRequest *req = (const void *)rq;
    Chat__Api__UsersListResponse *resp = (void *)rs;
    chat_list *l = NULL;
    chat_err rv = chat_user_list(ctx, s, req->cursor, req->limit, &l);
    size_t k = chat_list_count(l);
    const char *base = chati_public_url(ctx);
    if (rv == CHAT_OK && k &&
        (resp->members = chat_calloc(k, sizeof *resp->members)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        if ((resp->members[i] = chati_api_user(chat_list_user(l, i), base)) == NULL)
            rv = CHAT_ERR_NOMEM;
        else
            resp->n_members = i + 1;
    }
    if (rv == CHAT_OK && (resp->response_metadata = chati_api_metadata(l)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_list_free(l);
    return rv;
}

chat_err chati_h_users_profile_get(chat_ctx *ctx, const chat_session *s,
                                   const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsersProfileGetRequest *req = (const void *)rq;
    Chat__Api__ProfileResponse *resp = (void *)rs;
    chat_user *u = NULL;
    chat_err rv = chat_user_info(ctx, s, *req->user ? req->user : s->user_id, &u);
    if (rv == CHAT_OK && (resp->profile = chati_api_profile(u, chati_public_url(ctx))) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_user_free(u);
    return rv;
}

chat_err chati_h_users_profile_set(chat_ctx *ctx, const chat_session *s,
                                   const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsersProfileSetRequest *req = (const void *)rq;
    Chat__Api__ProfileResponse *resp = (void *)rs;
    const char *keys[8], *vals[8];
    size_t n = 0;
    const Chat__Api__Profile *p = req->profile;
    /* Either a profile object, or one name/value pair (Slack accepts both).
     * Only fields present in the request change. */
    if (p) {
#define FIELD(f)                                                                         \
    if (p->f && *p->f) {                                                                 \
        keys[n] = #f;                                                                    \
        vals[n++] = p->f;                                                                \
    }
        FIELD(real_name)
        FIELD(display_name)
        FIELD(title)
        FIELD(status_text)
        FIELD(status_emoji)
#undef FIELD
    }
    if (req->name && *req->name) {
        keys[n] = req->name;
        vals[n++] = req->value;
    }
    if (n == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "profile or name/value is required");
    chat_user *u = NULL;
    chat_err rv = chat_user_profile_set(ctx, s, keys, vals, n, &u);
    if (rv == CHAT_OK && (resp->profile = chati_api_profile(u, chati_public_url(ctx))) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_user_free(u);
    return rv;
}

chat_err chati_h_users_get_presence(chat_ctx *ctx, const chat_session *s,
                                    const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsersGetPresenceRequest *req = (const void *)rq;
    Chat__Api__UsersGetPresenceResponse *resp = (void *)rs;
    const char *who[1] = {*req->user ? req->user : s->user_id};
    chat_presence p = CHAT_PRESENCE_OFFLINE;
    chat_err rv = chat_presence_get(ctx, s, who, 1, &p);
    if (rv != CHAT_OK)
        return rv;
    /* Slack reports only "active" or "away"; offline reads as away. */
    resp->online = p != CHAT_PRESENCE_OFFLINE;
    resp->manual_away = p == CHAT_PRESENCE_AWAY;
    resp->auto_away = p == CHAT_PRESENCE_OFFLINE;
    resp->connection_count = resp->online ? 1 : 0;
    return chati_pb_str(&resp->presence, p == CHAT_PRESENCE_ACTIVE ? "active" : "away");
}

chat_err chati_h_users_set_presence(chat_ctx *ctx, const chat_session *s,
                                    const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__UsersSetPresenceRequest *req = (const void *)rq;
    bool away;
    if (strcmp(req->presence, "away") == 0)
        away = true;
    else if (strcmp(req->presence, "auto") == 0)
        away = false;
    else
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence must be \"auto\" or \"away\"");
    return chat_presence_set(ctx, s, away);
}

chat_err chati_h_rtm_heartbeat(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                               ProtobufCMessage *rs)
{
    CHATI_UNUSED(rq);
    CHATI_UNUSED(rs);
    return chat_presence_heartbeat(ctx, s);
}

/* No custom emoji yet: Slack's answer for a workspace without any. */
chat_err chati_h_emoji_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(s), CHATI_UNUSED(rq);
    Chat__Api__EmojiListResponse *resp = (void *)rs;
    resp->emoji = (Chat__Api__Json *)chati_pb_new(&chat__api__json__descriptor);
    resp->cache_ts = chati_now_us() / 1000000;
    return resp->emoji ? chati_pb_str(&resp->emoji->raw, "{}") : CHAT_ERR_NOMEM;
}

/* Do not disturb is not kept yet: everyone is reachable, as Slack answers
 * for a user who never set it. */
chat_err chati_h_dnd_info(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                          ProtobufCMessage *rs)
{
    CHATI_UNUSED(ctx), CHATI_UNUSED(s);
    const Chat__Api__DndInfoRequest *req = (const void *)rq;
    Chat__Api__DndInfoResponse *resp = (void *)rs;
    if (*req->user && !chati_id_valid(req->user, 'U') && !chati_id_valid(req->user, 'W'))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    resp->dnd_enabled = false;
    resp->next_dnd_start_ts = resp->next_dnd_end_ts = 1;
    resp->snooze_enabled = false;
    return CHAT_OK;
}
