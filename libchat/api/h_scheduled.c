/* Handlers of chat.scheduleMessage, chat.scheduledMessages.list and
 * chat.deleteScheduledMessage (domain/scheduled.c). */
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"
#include "api/method.h"

chat_err chati_h_chat_schedule_message(chat_ctx *ctx, const chat_session *s,
                                       const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__ChatScheduleMessageRequest *req = (const void *)rq;
    Chat__Api__ChatScheduleMessageResponse *resp = (void *)rs;
    chat_post_opts o = CHATI_POST_OPTS(req, chati_bot_may_customise(s));
    chat_scheduled *q = NULL;
    chat_err rv = chat_message_schedule(ctx, s, req->channel, req->text, req->post_at, &o, &q);
    if (rv == CHAT_OK) {
        resp->post_at = q->post_at;
        Chat__Api__ScheduledBody *b = resp->message =
            (Chat__Api__ScheduledBody *)chati_pb_new(&chat__api__scheduled_body__descriptor);
        if (b == NULL || chati_pb_str(&resp->channel, q->channel) ||
            chati_pb_str(&resp->scheduled_message_id, q->id) ||
            chati_pb_str(&b->type, "delayed_message") || chati_pb_str(&b->text, q->text) ||
            chati_pb_str(&b->user, chat_session_user_id(s)) ||
            chati_pb_str(&b->bot_id, chat_session_bot_id(s)) ||
            chati_pb_str(&b->thread_ts, req->thread_ts) ||
            chati_pb_set_json(&b->blocks, o.blocks) ||
            chati_pb_set_json(&b->attachments, o.attachments))
            rv = CHAT_ERR_NOMEM;
    }
    chat_scheduled_free(q, q ? 1 : 0);
    return rv;
}

chat_err chati_h_scheduled_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    const Chat__Api__ScheduledListRequest *req = (const void *)rq;
    Chat__Api__ScheduledListResponse *resp = (void *)rs;
    chat_scheduled *qs = NULL;
    size_t n = 0;
    chat_err rv = chat_scheduled_list(ctx, s, req->channel, &qs, &n);
    /* latest / oldest bound post_at; every one fits a page (100 wait at most). */
    double latest = *req->latest ? strtod(req->latest, NULL) : 0;
    double oldest = *req->oldest ? strtod(req->oldest, NULL) : 0;
    if (rv == CHAT_OK && n && (resp->scheduled_messages = chat_calloc(n, sizeof(void *))) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        if ((latest > 0 && (double)qs[i].post_at > latest) ||
            (oldest > 0 && (double)qs[i].post_at < oldest) ||
            (req->limit > 0 && resp->n_scheduled_messages >= (size_t)req->limit))
            continue;
        Chat__Api__ScheduledMessage *m =
            (Chat__Api__ScheduledMessage *)chati_pb_new(&chat__api__scheduled_message__descriptor);
        if (m == NULL) {
            rv = CHAT_ERR_NOMEM;
            break;
        }
        resp->scheduled_messages[resp->n_scheduled_messages++] = m;
        m->post_at = qs[i].post_at;
        m->date_created = qs[i].created;
        if (chati_pb_str(&m->id, qs[i].id) || chati_pb_str(&m->channel_id, qs[i].channel) ||
            chati_pb_str(&m->text, qs[i].text))
            rv = CHAT_ERR_NOMEM;
    }
    if (rv == CHAT_OK &&
        (resp->response_metadata = (Chat__Api__ResponseMetadata *)chati_pb_new(
             &chat__api__response_metadata__descriptor)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_scheduled_free(qs, n);
    return rv;
}

chat_err chati_h_delete_scheduled(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                  ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__DeleteScheduledRequest *req = (const void *)rq;
    return chat_scheduled_delete(ctx, s, req->channel, req->scheduled_message_id);
}
