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

chat_err chati_h_app_events_lease(chat_ctx *ctx, const chat_session *s,
                                  const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Internal__AppEventsLeaseRequest *req = (const void *)rq;
    Chat__Internal__AppEventsLeaseResponse *resp = (void *)rs;
    chat_app_event *evs = NULL;
    size_t n = 0;
    chat_err rv = chati_app_events_lease(ctx, s, req->max, req->lease_ms, &evs, &n);
    if (rv == CHAT_OK && n > 0 && (resp->events = chat_calloc(n, sizeof *resp->events)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        Chat__Internal__AppEvent *e =
            (Chat__Internal__AppEvent *)chati_pb_new(&chat__internal__app_event__descriptor);
        if (e == NULL) {
            rv = CHAT_ERR_NOMEM;
            break;
        }
        resp->events[resp->n_events++] = e;
        e->seq = evs[i].seq;
        e->kind = (uint32_t)evs[i].kind;
        e->attempts = (uint32_t)evs[i].attempts;
        e->event.data = evs[i].data; /* handed over: freed with the response */
        e->event.len = evs[i].len;
        evs[i].data = NULL;
    }
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
