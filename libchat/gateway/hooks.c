/* Incoming webhooks: POST /hooks/<id> with Slack's payload, as a JSON body
 * ({"text": ..., "thread_ts": ...}) or a form with payload=<json>. Answered
 * like Slack's: 200 "ok", or a status and a short error word. And a slash
 * command's response_url, POST /hooks/respond/<ticket>, answered in JSON. */
#include <string.h>
#include <strings.h>

#include "gw_internal.h"

#define HOOK_PREFIX "/hooks/"
#define RESPOND "respond/"

static void reply_text(gw_req *req, uint16_t status, const char *text)
{
    chati_buf body = {0};
    chati_buf_puts(&body, text);
    gw_reply(req, status, "text/plain; charset=utf-8", &body, NULL, NULL);
}

/* Slack's webhook error words for our codes. */
static void reply_error(gw_req *req, chat_err rv)
{
    switch (rv) {
    case CHAT_ERR_INVALID_AUTH:
        reply_text(req, 404, "no_service");
        break;
    case CHAT_ERR_NO_TEXT:
        reply_text(req, 400, "no_text");
        break;
    case CHAT_ERR_INVALID_JSON:
    case CHAT_ERR_INVALID_UTF8:
    case CHAT_ERR_INVALID_FORM_DATA:
    case CHAT_ERR_INVALID_POST_TYPE:
    case CHAT_ERR_INVALID_ARGUMENTS:
    case CHAT_ERR_MSG_TOO_LONG:
    case CHAT_ERR_INVALID_TS:
    case CHAT_ERR_THREAD_NOT_FOUND:
    case CHAT_ERR_REQUEST_TOO_LARGE:
        reply_text(req, 400, "invalid_payload");
        break;
    case CHAT_ERR_INVALID_BLOCKS:
    case CHAT_ERR_INVALID_BLOCKS_FORMAT:
    case CHAT_ERR_MSG_BLOCKS_TOO_LONG:
    case CHAT_ERR_INVALID_ATTACHMENTS:
    case CHAT_ERR_TOO_MANY_ATTACHMENTS:
        reply_text(req, 400, chat_err_name(rv)); /* Slack's words for these */
        break;
    case CHAT_ERR_IS_ARCHIVED:
        reply_text(req, 410, "channel_is_archived");
        break;
    case CHAT_ERR_CHANNEL_NOT_FOUND:
    case CHAT_ERR_NOT_IN_CHANNEL:
        reply_text(req, 404, "channel_not_found");
        break;
    case CHAT_ERR_ACCOUNT_INACTIVE:
    case CHAT_ERR_RESTRICTED_ACTION:
        reply_text(req, 403, "action_prohibited");
        break;
    default:
        reply_text(req, 500, "internal_error");
    }
}

/* The payload's fields, whichever way they came. */
static chat_err read_payload(gw *g, gw_req *req, gw_args *args)
{
    size_t len = 0;
    const char *body = gw_req_body(req, &len);
    if (len > g->cfg.max_body)
        return CHAT_ERR_REQUEST_TOO_LARGE;
    const char *ct = gw_req_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) == 0)
        return gw_args_parse_json(body, len, args);
    gw_args form = GW_ARGS_INIT;
    chat_err rv = gw_args_parse_form(body, len, &form);
    const char *payload = rv == CHAT_OK ? gw_args_get(&form, "payload") : NULL;
    if (rv == CHAT_OK)
        rv = payload ? gw_args_parse_json(payload, strlen(payload), args)
                     : CHAT_ERR_INVALID_FORM_DATA;
    gw_args_free(&form);
    return rv;
}

/* A response_url: the app's answer to a slash command, through its ticket. */
static void respond_serve(gw *g, gw_req *req, const char *ticket)
{
    size_t tlen = strcspn(ticket, "?/");
    gw_args args = GW_ARGS_INIT;
    chati_buf out = {0};
    chat_err rv = tlen ? read_payload(g, req, &args) : CHAT_ERR_INVALID_AUTH;
    if (rv == CHAT_OK) {
        gw_args_remove(&args, "ticket");
        rv = gw_args_add(&args, "ticket", ticket, tlen);
    }
    if (rv == CHAT_OK)
        rv = gw_call_json(g, chati_method_by_name("webhooks.respond"), NULL, &args, &out);
    else
        gw_error_json(&out, rv, chati_errmsg());
    gw_reply(req, rv == CHAT_OK ? 200 : rv == CHAT_ERR_INVALID_AUTH ? 404 : 400,
             "application/json; charset=utf-8", &out, NULL, NULL);
    gw_args_free(&args);
}

void gw_hook_serve(gw *g, gw_req *req)
{
    chati_clear_errmsg();
    const char *uri = gw_req_uri(req);
    const char *id = strncmp(uri, HOOK_PREFIX, strlen(HOOK_PREFIX)) == 0
                         ? uri + strlen(HOOK_PREFIX)
                         : "";
    if (strncmp(id, RESPOND, strlen(RESPOND)) == 0) {
        respond_serve(g, req, id + strlen(RESPOND));
        return;
    }
    size_t idlen = strcspn(id, "?/");
    gw_args args = GW_ARGS_INIT;
    chat_err rv = idlen ? read_payload(g, req, &args) : CHAT_ERR_INVALID_AUTH;
    if (rv == CHAT_OK) {
        gw_args_remove(&args, "id");
        rv = gw_args_add(&args, "id", id, idlen);
    }
    if (rv == CHAT_OK) {
        chati_buf out = {0};
        rv = gw_call_json(g, chati_method_by_name("webhooks.post"), NULL, &args, &out);
        chati_buf_free(&out);
    }
    gw_args_free(&args);
    if (rv == CHAT_OK)
        reply_text(req, 200, "ok");
    else
        reply_error(req, rv);
}
