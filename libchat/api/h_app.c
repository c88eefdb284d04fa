/* Handlers of apps.* and bots.* (chat/app.h). */
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "internal.pb-c.h"
#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"
#include "api/method.h"

chat_err chati_h_apps_manifest_create(chat_ctx *ctx, const chat_session *s,
                                      const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__AppsManifestCreateRequest *req = (const void *)rq;
    Chat__Api__AppsManifestCreateResponse *resp = (void *)rs;
    chat_app *a = NULL;
    char *bot = NULL, *app = NULL;
    const char *manifest = chati_pb_json(req->manifest);
    chat_err rv = manifest ? chat_app_create(ctx, s, manifest, &a, &bot, &app)
                           : chati_fail(CHAT_ERR_INVALID_MANIFEST, "no manifest");
    if (rv == CHAT_OK) {
        char url[768];
        snprintf(url, sizeof url, "%s/apps/%s", chati_public_url(ctx), chat_app_id(a));
        Chat__Api__AppCredentials *c = resp->credentials =
            (Chat__Api__AppCredentials *)chati_pb_new(&chat__api__app_credentials__descriptor);
        if (c == NULL || chati_pb_str(&resp->app_id, chat_app_id(a)) ||
            chati_pb_str(&c->client_id, chat_app_id(a)) ||
            chati_pb_str(&c->signing_secret, chat_app_signing_secret(a)) ||
            chati_pb_str(&resp->oauth_authorize_url, url) ||
            chati_pb_str(&resp->bot_token, bot) || chati_pb_str(&resp->app_token, app) ||
            chati_pb_str(&resp->bot_user_id, chat_app_bot_user_id(a)) ||
            chati_pb_str(&resp->bot_id, chat_app_bot_id(a)) ||
            chati_pb_str(&resp->team_id, chat_app_team_id(a)))
            rv = CHAT_ERR_NOMEM;
    }
    chat_free(bot);
    chat_free(app);
    chat_app_free(a);
    return rv;
}

chat_err chati_h_bots_info(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                           ProtobufCMessage *rs)
{
    const Chat__Api__BotsInfoRequest *req = (const void *)rq;
    Chat__Api__BotsInfoResponse *resp = (void *)rs;
    chat_app *a = NULL;
    chat_err rv = chat_app_get(ctx, s, req->bot, &a);
    if (rv == CHAT_OK) {
        Chat__Api__Bot *b = resp->bot = (Chat__Api__Bot *)chati_pb_new(&chat__api__bot__descriptor);
        if (b == NULL || chati_pb_str(&b->id, chat_app_bot_id(a)) ||
            chati_pb_str(&b->name, chat_app_name(a)) ||
            chati_pb_str(&b->app_id, chat_app_id(a)) ||
            chati_pb_str(&b->user_id, chat_app_bot_user_id(a)))
            rv = CHAT_ERR_NOMEM;
        else
            b->updated = chat_app_created(a);
    }
    chat_app_free(a);
    return rv;
}

chat_err chati_h_apps_connections_open(chat_ctx *ctx, const chat_session *s,
                                       const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__AppsConnectionsOpenRequest *req = (const void *)rq;
    Chat__Api__AppsConnectionsOpenResponse *resp = (void *)rs;
    char *ticket = NULL;
    chat_err rv = chati_app_link_ticket(ctx, s, &ticket);
    if (rv != CHAT_OK)
        return rv;
    chati_buf url = {0};
    rv = chati_buf_printf(&url, "%s?ticket=%s", req->link_base && *req->link_base
                                                    ? req->link_base
                                                    : "/link/",
                          ticket);
    if (rv == CHAT_OK)
        rv = chati_pb_str(&resp->url, url.data);
    chati_buf_free(&url);
    chat_free(ticket);
    return rv;
}

/* Leased events into a repeated field; their bytes are handed over. */
static chat_err put_events(chat_app_event *evs, size_t n, Chat__Internal__AppEvent ***out,
                           size_t *n_out)
{
    if (n > 0 && (*out = chat_calloc(n, sizeof **out)) == NULL)
        return CHAT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        Chat__Internal__AppEvent *e =
            (Chat__Internal__AppEvent *)chati_pb_new(&chat__internal__app_event__descriptor);
        if (e == NULL)
            return CHAT_ERR_NOMEM;
        (*out)[(*n_out)++] = e;
        e->seq = evs[i].seq;
        e->kind = (uint32_t)evs[i].kind;
        e->attempts = (uint32_t)evs[i].attempts;
        e->event.data = evs[i].data; /* freed with the response */
        e->event.len = evs[i].len;
        evs[i].data = NULL;
    }
    return CHAT_OK;
}

chat_err chati_h_app_events_lease(chat_ctx *ctx, const chat_session *s,
                                  const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Internal__AppEventsLeaseRequest *req = (const void *)rq;
    Chat__Internal__AppEventsLeaseResponse *resp = (void *)rs;
    chat_app_event *evs = NULL;
    size_t n = 0;
    chat_err rv = chati_app_events_lease(ctx, s, req->max, req->lease_ms, &evs, &n);
    if (rv == CHAT_OK)
        rv = put_events(evs, n, &resp->events, &resp->n_events);
    chat_app_events_free(evs, n);
    return rv;
}

chat_err chati_h_app_events_ack(chat_ctx *ctx, const chat_session *s,
                                const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Internal__AppEventsAckRequest *req = (const void *)rq;
    return chati_app_events_ack(ctx, s, req->seqs, req->n_seqs);
}

chat_err chati_h_app_http_lease(chat_ctx *ctx, const chat_session *s,
                                const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    const Chat__Internal__AppHttpLeaseRequest *req = (const void *)rq;
    Chat__Internal__AppHttpLeaseResponse *resp = (void *)rs;
    chati_app_http *d = NULL;
    size_t n = 0;
    chat_err rv = chati_app_http_lease(ctx, req->max_apps, req->max_events, req->lease_ms, &d, &n);
    if (rv == CHAT_OK && n > 0 && (resp->apps = chat_calloc(n, sizeof *resp->apps)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        Chat__Internal__AppHttpDelivery *a = (Chat__Internal__AppHttpDelivery *)chati_pb_new(
            &chat__internal__app_http_delivery__descriptor);
        if (a == NULL) {
            rv = CHAT_ERR_NOMEM;
            break;
        }
        resp->apps[resp->n_apps++] = a;
        if (chati_pb_str(&a->app_id, d[i].app->id) || chati_pb_str(&a->team_id, d[i].app->team_id) ||
            chati_pb_str(&a->bot_user_id, d[i].app->bot_user_id) ||
            chati_pb_str(&a->request_url, d[i].request_url) ||
            chati_pb_str(&a->signing_secret, d[i].app->signing_secret))
            rv = CHAT_ERR_NOMEM;
        else
            rv = put_events(d[i].evs, d[i].n, &a->events, &a->n_events);
    }
    chati_app_http_free(d, n);
    return rv;
}

chat_err chati_h_app_http_ack(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    CHATI_UNUSED(s);
    CHATI_UNUSED(rs);
    const Chat__Internal__AppHttpAckRequest *req = (const void *)rq;
    return chati_app_http_ack(ctx, req->app_id, req->seqs, req->n_seqs);
}

chat_err chati_h_chat_command(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ChatCommandRequest *req = (const void *)rq;
    return chat_app_command(ctx, s, req->channel, req->command, req->text);
}

chat_err chati_h_blocks_actions(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__BlocksActionsRequest *req = (const void *)rq;
    return chat_app_action(ctx, s, req->channel, req->ts, req->block_id, req->action_id,
                           req->value);
}

/* ---------------------------------------------------------------- views --- */

/* The view a call returned (rv, view: its result), as the response's Json. */
static chat_err view_out(chat_err rv, char *view, ProtobufCMessage *rs)
{
    Chat__Api__ViewResponse *resp = (void *)rs;
    if (rv == CHAT_OK && chati_pb_set_json(&resp->view, view) != CHAT_OK)
        rv = CHAT_ERR_NOMEM;
    chat_free(view);
    return rv;
}

/* views.open and views.push take the same arguments. */
static chat_err open_or_push(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs, bool push)
{
    const Chat__Api__ViewsOpenRequest *req = (const void *)rq;
    char *view = NULL;
    const char *trigger = *req->trigger_id ? req->trigger_id : req->interactivity_pointer;
    const char *json = chati_pb_json(req->view);
    chat_err rv = push ? chat_view_push(ctx, s, trigger, json, &view)
                       : chat_view_open(ctx, s, trigger, json, &view);
    return view_out(rv, view, rs);
}

chat_err chati_h_views_open(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    return open_or_push(ctx, s, rq, rs, false);
}

chat_err chati_h_views_push(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    return open_or_push(ctx, s, rq, rs, true);
}

chat_err chati_h_views_update(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    const Chat__Api__ViewsUpdateRequest *req = (const void *)rq;
    char *view = NULL;
    chat_err rv = chat_view_update(ctx, s, req->view_id, req->external_id, req->hash,
                                   chati_pb_json(req->view), &view);
    return view_out(rv, view, rs);
}

chat_err chati_h_views_publish(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                               ProtobufCMessage *rs)
{
    const Chat__Api__ViewsPublishRequest *req = (const void *)rq;
    char *view = NULL;
    chat_err rv = chat_view_publish(ctx, s, req->user_id, req->hash, chati_pb_json(req->view),
                                    &view);
    return view_out(rv, view, rs);
}

chat_err chati_h_views_submit(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ViewsSubmitRequest *req = (const void *)rq;
    return chat_view_submit(ctx, s, req->view_id, chati_pb_json(req->values));
}

chat_err chati_h_views_close(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                             ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ViewsCloseRequest *req = (const void *)rq;
    return chat_view_close(ctx, s, req->view_id);
}

chat_err chati_h_views_action(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__ViewsActionRequest *req = (const void *)rq;
    return chat_view_action(ctx, s, req->view_id, req->block_id, req->action_id, req->value,
                            chati_pb_json(req->values));
}
