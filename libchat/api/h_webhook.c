/* Incoming webhooks: a URL that posts into one channel as the person who made
 * it. The id carries channel, user and team under a MAC, so no table is
 * needed; the post still runs every check as that user (a webhook of someone
 * who left the channel or was deactivated stops working). */
#include <stdio.h>
#include <string.h>

#include "api.pb-c.h"
#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"
#include "api/svc.h"

#define HOOK_ID_MAX (3 * CHAT_ID_SIZE + CHATI_MAC_B64_LEN + 4)

static chat_err hook_mac(chat_ctx *ctx, const char *channel, const char *user, const char *team,
                         char out[CHATI_MAC_B64_LEN + 1])
{
    char msg[3 * CHAT_ID_SIZE + 4];
    int n = snprintf(msg, sizeof msg, "%s|%s|%s", channel, user, team);
    return chati_ctx_mac(ctx, "hook", msg, (size_t)n, out);
}

chat_err chati_h_webhooks_create(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                 ProtobufCMessage *rs)
{
    const Chat__Api__WebhooksCreateRequest *req = (const void *)rq;
    Chat__Api__WebhooksCreateResponse *resp = (void *)rs;
    chat_channel *c = NULL;
    bool member = false;
    chat_err rv = chati_channel_visible(ctx, s, req->channel, &c, &member);
    if (rv == CHAT_OK && !member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "join the channel first");
    char mac[CHATI_MAC_B64_LEN + 1];
    if (rv == CHAT_OK)
        rv = hook_mac(ctx, c->id, s->user_id, s->team_id, mac);
    if (rv == CHAT_OK) {
        char id[HOOK_ID_MAX], url[1024];
        snprintf(id, sizeof id, "%s.%s.%s.%s", c->id, s->user_id, s->team_id, mac);
        snprintf(url, sizeof url, "%s/hooks/%s", chati_public_url(ctx), id);
        if (chati_pb_str(&resp->id, id) || chati_pb_str(&resp->url, url) ||
            chati_pb_str(&resp->channel, c->id))
            rv = CHAT_ERR_NOMEM;
    }
    chat_channel_free(c);
    return rv;
}

chat_err chati_h_webhooks_post(chat_ctx *ctx, const chat_session *unused, const ProtobufCMessage *rq,
                               ProtobufCMessage *rs)
{
    CHATI_UNUSED(unused);
    const Chat__Api__WebhooksPostRequest *req = (const void *)rq;
    Chat__Api__WebhooksPostResponse *resp = (void *)rs;
    char f[4][CHATI_MAC_B64_LEN + 1];
    const char *p = req->id;
    for (int i = 0; i < 4; i++) {
        size_t len = strcspn(p, ".");
        if (len == 0 || len > CHATI_MAC_B64_LEN || (i < 3 && p[len] != '.') ||
            (i == 3 && p[len] != '\0'))
            return chati_fail(CHAT_ERR_INVALID_AUTH, "not a webhook");
        memcpy(f[i], p, len);
        f[i][len] = '\0';
        p += len + (i < 3);
    }
    char want[CHATI_MAC_B64_LEN + 1];
    chat_err rv = hook_mac(ctx, f[0], f[1], f[2], want);
    if (rv != CHAT_OK)
        return rv;
    if (strlen(f[3]) != CHATI_MAC_B64_LEN || !chati_consttime_eq(want, f[3], CHATI_MAC_B64_LEN))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "not a webhook");
    chat_session *s = chati_session_make(f[1], f[2], false);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "session");
    chat_message *m = NULL;
    /* A webhook's payload is chat.postMessage's, its name and icon among it. */
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1,
                        .thread_ts = req->thread_ts,
                        .flags = (req->reply_broadcast ? CHAT_POST_REPLY_BROADCAST : 0) |
                                 (req->unfurl_links ? CHAT_POST_UNFURL_LINKS : 0) |
                                 (req->unfurl_media ? CHAT_POST_UNFURL_MEDIA : 0),
                        .blocks = chati_pb_json(req->blocks),
                        .attachments = chati_pb_json(req->attachments),
                        .username = req->username,
                        .icon_emoji = req->icon_emoji,
                        .icon_url = req->icon_url};
    rv = chat_message_post_opts(ctx, s, f[0], req->text, &o, &m);
    if (rv == CHAT_OK && (chati_pb_str(&resp->channel, m->channel) || chati_pb_str(&resp->ts, m->ts)))
        rv = CHAT_ERR_NOMEM;
    chat_message_free(m);
    chat_session_free(s);
    return rv;
}

chat_err chati_h_webhooks_respond(chat_ctx *ctx, const chat_session *unused,
                                  const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(unused);
    CHATI_UNUSED(rs);
    const Chat__Api__WebhooksRespondRequest *req = (const void *)rq;
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1,
                        .thread_ts = req->thread_ts,
                        .blocks = chati_pb_json(req->blocks),
                        .attachments = chati_pb_json(req->attachments)};
    unsigned how = (req->response_type && strcmp(req->response_type, "in_channel") == 0
                        ? CHATI_RESPOND_IN_CHANNEL
                        : 0) |
                   (req->replace_original ? CHATI_RESPOND_REPLACE : 0) |
                   (req->delete_original ? CHATI_RESPOND_DELETE : 0);
    return chati_app_respond(ctx, req->ticket, req->text, &o, how);
}
