/* The Web API: POST/GET /api/<method>, arguments from the query string and a
 * form or JSON body, a token from the Authorization header or `token`, a
 * Slack-shaped JSON reply. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.pb-c.h"
#include "files.h"
#include "gw_internal.h"

#define API_PREFIX "/api/"
#define CALL_TIMEOUT_MS 10000

static uint16_t http_status(chat_err err)
{
    switch (err) {
    case CHAT_OK:
        return 200;
    case CHAT_ERR_RATELIMITED:
        return 429;
    case CHAT_ERR_METHOD_NOT_ALLOWED:
        return 405;
    case CHAT_ERR_REQUEST_TOO_LARGE:
        return 413;
    case CHAT_ERR_INTERNAL:
    case CHAT_ERR_NOMEM:
    case CHAT_ERR_STORAGE:
        return 500;
    case CHAT_ERR_SERVICE_UNAVAILABLE:
        return 503;
    case CHAT_ERR_TIMEOUT:
        return 504;
    default:
        /* Slack answers API errors with 200 and ok:false, unknown_method
         * too: the node SDK retries a 404 for half an hour. */
        return 200;
    }
}

void gw_error_json(chati_buf *out, chat_err err, const char *detail)
{
    out->len = 0;
    chati_buf_puts(out, "{\"ok\":false,\"error\":");
    gw_json_put_string(out, chat_err_name(err), strlen(chat_err_name(err)));
    if (detail && *detail) {
        chati_buf_puts(out, ",\"detail\":");
        gw_json_put_string(out, detail, strlen(detail));
    }
    chati_buf_puts(out, "}");
}

chat_err gw_result_json(chat_err rv, const ProtobufCMessage *resp, chati_buf *out)
{
    if (rv == CHAT_OK) {
        out->len = 0;
        rv = chati_buf_puts(out, "{\"ok\":true");
        if (rv == CHAT_OK)
            rv = gw_pb_to_json(resp, out);
        if (rv == CHAT_OK)
            rv = chati_buf_puts(out, "}");
    }
    if (rv != CHAT_OK) {
        /* The detail is copied first: building the JSON may set another. */
        char detail[512];
        snprintf(detail, sizeof detail, "%s", chati_errmsg());
        gw_error_json(out, rv, detail);
    }
    return rv;
}

chat_err gw_call_json(gw *g, const chati_method *m, const chat_session *s, const gw_args *args,
                      chati_buf *out)
{
    char field[128] = "";
    ProtobufCMessage *req = NULL, *resp = NULL;
    chat_err rv = gw_args_to_pb(args, m->req, &req, field, sizeof field);
    if (rv == CHAT_OK)
        rv = chati_svc_call(g->svc, m, s, req, CALL_TIMEOUT_MS, &resp);
    rv = gw_result_json(rv, resp, out);
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}

void gw_reply(gw_req *r, uint16_t status, const char *content_type, chati_buf *body,
              const char *extra_header, const char *extra_value)
{
    const char *h[] = {"Cache-Control", "no-store", extra_header, extra_value};
    gw_respond(r, status, content_type, body->data, body->len, h, extra_header ? 2 : 1);
    chati_buf_free(body);
}

/* Reads query string and body into args. */
static chat_err read_args(gw *g, gw_req *req, const char *query, gw_args *args)
{
    chat_err rv = query ? gw_args_parse_form(query, strlen(query), args) : CHAT_OK;
    size_t len = 0;
    const char *body = gw_req_body(req, &len);
    if (rv != CHAT_OK || len == 0)
        return rv == CHAT_ERR_INVALID_UTF8 ? rv : rv ? CHAT_ERR_INVALID_FORM_DATA : CHAT_OK;
    if (len > g->cfg.max_body)
        return chati_fail(CHAT_ERR_REQUEST_TOO_LARGE, "bodies are limited to %zu bytes",
                          g->cfg.max_body);
    const char *ct = gw_req_header(req, "Content-Type");
    gw_args body_args = GW_ARGS_INIT;
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        rv = gw_args_parse_form(body, len, &body_args);
        if (rv != CHAT_OK && rv != CHAT_ERR_INVALID_UTF8)
            rv = chati_fail(CHAT_ERR_INVALID_FORM_DATA, "the form body could not be read");
    } else if (strncasecmp(ct, "application/json", 16) == 0) {
        rv = gw_args_parse_json(body, len, &body_args);
    } else {
        rv = chati_fail(CHAT_ERR_INVALID_POST_TYPE,
                        "use application/x-www-form-urlencoded or application/json");
    }
    if (rv == CHAT_OK)
        rv = gw_args_merge(args, &body_args); /* the body wins, as in Slack */
    gw_args_free(&body_args);
    return rv;
}

/* rtm.connect: where the event stream is. Answered by the gateway itself. */
static chat_err rtm_connect(gw *g, const chat_session *s, const char *token, chati_buf *out)
{
    out->len = 0;
    chati_buf_puts(out, "{\"ok\":true,\"url\":");
    char url[2048];
    snprintf(url, sizeof url, "%s?token=%s", gw_hub_ws_url(g->hub), token);
    gw_json_put_string(out, url, strlen(url));
    chati_buf_printf(out, ",\"self\":{\"id\":\"%s\"},\"team\":{\"id\":\"%s\"}}",
                     chat_session_user_id(s), chat_session_team_id(s));
    return CHAT_OK;
}

/* A write with an idempotency key (client_msg_id) and none given takes one
 * derived from the request's X-Request-Id (the load balancer sets it, and
 * keeps it when it sends the request again to another gateway after the
 * first died), so a resent post is recognised instead of posted twice. */
static chat_err key_from_request_id(gw_req *req, const chati_method *m,
                                    const chat_session *s, gw_args *args)
{
    const char *rid = gw_req_header(req, "X-Request-Id");
    if (rid == NULL || *rid == '\0' || strlen(rid) > 200 || chati_method_key_field(m) == NULL ||
        gw_args_get(args, "client_msg_id") != NULL)
        return CHAT_OK;
    char seed[300], key[CHATI_IDEMPOTENCY_KEY_LEN + 1];
    /* Per user: one user's request id can never name another's message. */
    snprintf(seed, sizeof seed, "%s|%s", s ? chat_session_user_id(s) : "", rid);
    chati_idempotency_key(seed, key);
    return gw_args_add(args, "client_msg_id", key, strlen(key));
}

void gw_api_serve(gw *g, gw_req *req)
{
    chati_clear_errmsg();
    chati_buf out = {0};
    gw_args args = GW_ARGS_INIT;
    chat_session *s = NULL;
    char *token = NULL;
    int retry_after = 0;
    chat_err rv = CHAT_OK;

    const char *verb = gw_req_method(req);
    const char *uri = gw_req_uri(req);
    char name[128] = "";
    const char *query = NULL;
    if (strncmp(uri, API_PREFIX, strlen(API_PREFIX)) == 0) {
        const char *p = uri + strlen(API_PREFIX);
        size_t n = strcspn(p, "?");
        if (n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
        }
        if (p[n] == '?')
            query = p + n + 1;
    }
    const chati_method *m = chati_method_by_name(name);
    bool is_rtm = strcmp(name, "rtm.connect") == 0 || strcmp(name, "rtm.start") == 0;
    /* files.upload is internal (its bytes field cannot come from the generic
     * converter): a multipart body's file part fills it here. */
    bool is_upload = m != NULL && strcmp(name, "files.upload") == 0;
    gw_multipart upload_parts = {0};
    const gw_mp_part *upload_file = NULL;
    if (strcmp(verb, "GET") != 0 && strcmp(verb, "POST") != 0)
        rv = chati_fail(CHAT_ERR_METHOD_NOT_ALLOWED, "use GET or POST");
    else if (!is_rtm && !is_upload && (m == NULL || (m->flags & CHATI_M_INTERNAL)))
        rv = chati_fail(CHAT_ERR_UNKNOWN_METHOD, "no method \"%.60s\"", name);
    if (rv == CHAT_OK && is_upload && gw_is_multipart(gw_req_header(req, "Content-Type")))
        rv = gw_files_upload_args(g, req, query, &args, &upload_parts, &upload_file);
    else if (rv == CHAT_OK)
        rv = read_args(g, req, query, &args);
    if (rv == CHAT_OK) {
        const char *t = gw_bearer_token(gw_req_header(req, "Authorization"));
        if (t == NULL)
            t = gw_args_get(&args, "token");
        token = chat_strdup(t);
        gw_args_remove(&args, "token");
    }
    bool needs_auth = is_rtm || (m && !(m->flags & CHATI_M_NO_AUTH));
    if (rv == CHAT_OK && needs_auth) {
        rv = gw_authenticate(g, token, &s);
        if (rv == CHAT_OK && !gw_ratelimit_take(g->rate, token, &retry_after))
            rv = chati_fail(CHAT_ERR_RATELIMITED, "too many requests for this token");
    }
    if (rv == CHAT_OK && is_rtm)
        rv = chati_stream_permits(s);
    if (rv == CHAT_OK && m && !is_upload)
        rv = key_from_request_id(req, m, s, &args);
    if (rv == CHAT_OK && strcmp(name, "apps.connections.open") == 0) {
        /* The socket is this gateway's to answer: its URL, not the caller's. */
        gw_args_remove(&args, "link_base");
        const char *base = gw_links_base(g->links);
        rv = gw_args_add(&args, "link_base", base, strlen(base));
    }
    if (rv == CHAT_OK && is_upload)
        rv = gw_files_upload_call(g, m, s, &args, upload_file, &out);
    else if (rv == CHAT_OK)
        rv = is_rtm ? rtm_connect(g, s, token, &out) : gw_call_json(g, m, s, &args, &out);
    else
        gw_error_json(&out, rv, chati_errmsg());
    if (rv == CHAT_ERR_UNKNOWN_METHOD && out.len > 0) { /* Slack names it back */
        out.len--;
        chati_buf_puts(&out, ",\"req_method\":");
        gw_json_put_string(&out, name, strlen(name));
        chati_buf_puts(&out, "}");
    }

    char retry[16];
    snprintf(retry, sizeof retry, "%d", retry_after);
    gw_reply(req, http_status(rv), "application/json; charset=utf-8", &out,
             rv == CHAT_ERR_RATELIMITED ? "Retry-After" : NULL, retry);
    gw_args_free(&args);
    gw_multipart_free(&upload_parts);
    chat_session_free(s);
    chat_free(token);
}
