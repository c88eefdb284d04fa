/* chat_session: the verified identity each call acts as. */
#include <string.h>

#include "domain/ctx.h"

chat_err chati_check_session(const chat_session *s)
{
    if (s == NULL || s->user_id[0] == '\0' || s->team_id[0] == '\0')
        return chati_fail(CHAT_ERR_NOT_AUTHED, "no session");
    return CHAT_OK;
}

const char *chat_session_user_id(const chat_session *s)
{
    return s ? s->user_id : "";
}

const char *chat_session_team_id(const chat_session *s)
{
    return s ? s->team_id : "";
}

bool chat_session_is_admin(const chat_session *s)
{
    return s && s->is_admin;
}

chat_token_kind chat_session_token_kind(const chat_session *s)
{
    return s ? s->kind : CHAT_TOKEN_USER;
}

const char *chat_session_bot_id(const chat_session *s)
{
    return s ? s->bot_id : "";
}

const char *chat_session_app_id(const chat_session *s)
{
    return s ? s->app_id : "";
}

bool chat_session_has_scope(const chat_session *s, const char *scope)
{
    if (s == NULL)
        return false;
    if (s->kind == CHAT_TOKEN_USER)
        return true;
    uint64_t bit = chati_scope_bit(scope);
    return bit != 0 && (s->scopes & bit) != 0;
}

void chat_session_free(chat_session *s)
{
    chat_free(s);
}

chat_err chati_may_read_history(const chat_session *s, const chat_channel *c)
{
    if (s == NULL || s->kind != CHAT_TOKEN_BOT)
        return CHAT_OK;
    /* The method's row admits any of the four; the channel says which. */
    const char *scope = c->type == CHAT_CHANNEL_PRIVATE ? "groups:history"
                        : c->type == CHAT_CHANNEL_IM    ? "im:history"
                        : c->type == CHAT_CHANNEL_MPIM  ? "mpim:history"
                                                        : "channels:history";
    if ((s->scopes & chati_scope_bit(scope)) == 0)
        return chati_fail(CHAT_ERR_MISSING_SCOPE, "needed: %s", scope);
    return CHAT_OK;
}
