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

void chat_session_free(chat_session *s)
{
    chat_free(s);
}
