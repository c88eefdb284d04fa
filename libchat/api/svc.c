/* The service client interface, its direct implementation (calls into a
 * chat_ctx of this process, as chatd does) and sessions made from RPC frames. */
#include <string.h>

#include "domain/ctx.h"
#include "rpc.pb-c.h"
#include "api/svc.h"

chat_session *chati_session_make(const char *user_id, const char *team_id, bool is_admin)
{
    if (user_id == NULL)
        user_id = "";
    if (team_id == NULL)
        team_id = "";
    if (strlen(user_id) >= CHAT_ID_SIZE || strlen(team_id) >= CHAT_ID_SIZE) {
        chati_fail(CHAT_ERR_INVALID_ID, "session id too long");
        return NULL;
    }
    chat_session *s = chat_calloc(1, sizeof *s);
    if (s == NULL) {
        chati_fail(CHAT_ERR_NOMEM, "session");
        return NULL;
    }
    memcpy(s->user_id, user_id, strlen(user_id) + 1);
    memcpy(s->team_id, team_id, strlen(team_id) + 1);
    s->is_admin = is_admin;
    return s;
}

bool chati_session_set_app(chat_session *s, uint32_t kind, const char *bot_id,
                           const char *app_id, uint64_t scopes)
{
    if (kind == CHAT_TOKEN_USER)
        return true;
    if ((kind != CHAT_TOKEN_BOT && kind != CHAT_TOKEN_APP) || bot_id == NULL ||
        app_id == NULL || !chati_copy_fixed(s->bot_id, CHAT_ID_SIZE, bot_id) ||
        !chati_copy_fixed(s->app_id, CHAT_ID_SIZE, app_id))
        return false;
    s->kind = (chat_token_kind)kind;
    s->scopes = scopes;
    return true;
}

/* ---- direct ---- */

static chat_err direct_call(void *impl, const chati_method *m, const chat_session *s,
                            const ProtobufCMessage *req, int timeout_ms, ProtobufCMessage **resp)
{
    CHATI_UNUSED(timeout_ms);
    *resp = NULL;
    if (m != NULL && m->id == CHATI_RPC_HEALTH && m->fn == NULL) {
        /* The RPC server answers health itself; in process we are always up. */
        chati_clear_errmsg();
        ProtobufCMessage *e = chati_pb_new(&chat__rpc__empty__descriptor);
        if (e == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "response");
        *resp = e;
        return CHAT_OK;
    }
    /* As the RPC server does: a session without a user is no session. */
    if (m != NULL && !(m->flags & CHATI_M_NO_AUTH) && s != NULL && s->user_id[0] == '\0')
        return chati_fail(CHAT_ERR_NOT_AUTHED, "%s needs a session", m->name);
    return chati_method_call(impl, m, s, req, resp);
}

static void direct_close(void *impl)
{
    CHATI_UNUSED(impl);
}

static const chati_svc_ops direct_ops = {direct_call, direct_close};

chat_err chati_svc_direct(chat_ctx *ctx, chati_svc **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (ctx == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no context");
    chati_svc *svc = chat_calloc(1, sizeof *svc);
    if (svc == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "service client");
    svc->ops = &direct_ops;
    svc->impl = ctx;
    *out = svc;
    return CHAT_OK;
}

/* ---- any implementation ---- */

chat_err chati_svc_call(chati_svc *svc, const chati_method *m, const chat_session *s,
                        const ProtobufCMessage *req, int timeout_ms, ProtobufCMessage **resp)
{
    if (resp == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *resp = NULL;
    if (svc == NULL || svc->ops == NULL || m == NULL || req == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "service call needs a client, a method "
                                                      "and a request");
    return svc->ops->call(svc->impl, m, s, req, timeout_ms, resp);
}

void chati_svc_close(chati_svc *svc)
{
    if (svc == NULL)
        return;
    if (svc->ops && svc->ops->close)
        svc->ops->close(svc->impl);
    chat_free(svc);
}

int64_t chati_files_max_bytes(const chat_ctx *ctx)
{
    return ctx ? ctx->files_max_bytes : 0;
}
