/* Handlers of apps.* and bots.* (chat/app.h). */
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"

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
