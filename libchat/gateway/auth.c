/* Who is calling: a token verified by the auth service. */
#include <string.h>
#include <strings.h>

#include "api.pb-c.h"
#include "gw_internal.h"

const char *gw_bearer_token(const char *authorization)
{
    /* RFC 7235: the scheme is case-insensitive. */
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    return *t ? t : NULL;
}

chat_err gw_authenticate(gw *g, const char *token, chat_session **out)
{
    *out = NULL;
    if (token == NULL || *token == '\0')
        return chati_fail(CHAT_ERR_NOT_AUTHED, "no token");
    static const chati_method *verify;
    if (verify == NULL)
        verify = chati_method_by_name("auth.verify");
    Chat__Api__AuthVerifyRequest req = CHAT__API__AUTH_VERIFY_REQUEST__INIT;
    req.token = (char *)token;
    ProtobufCMessage *resp = NULL;
    chat_err rv = chati_svc_call(g->svc, verify, NULL, &req.base, 5000, &resp);
    if (rv != CHAT_OK)
        return rv;
    const Chat__Api__AuthVerifyResponse *v = (const void *)resp;
    *out = chati_session_make(v->user_id, v->team_id, v->is_admin);
    if (*out && !chati_session_set_app(*out, v->token_kind, v->bot_id, v->app_id, v->scopes)) {
        chat_session_free(*out);
        *out = NULL;
        rv = chati_fail(CHAT_ERR_INVALID_AUTH, "the auth service answered a malformed app");
    } else if (*out == NULL) {
        rv = chati_fail(CHAT_ERR_NOMEM, "session");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

