/* Entities between services, in chat.Event envelopes: the event codec
 * already carries every field of a channel or a user. */
#include "api/convert.h"
#include "proto/event_codec.h"

static chat_err pack_event(chat_event *ev, ProtobufCBinaryData *out)
{
    void *data = NULL;
    size_t len = 0;
    chat_err rv = chati_event_encode(ev, &data, &len);
    if (rv == CHAT_OK) {
        out->data = data;
        out->len = len;
    }
    return rv;
}

chat_err chati_channel_pack(const chat_channel *c, ProtobufCBinaryData *out)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_CHANNEL_CREATED);
    if (ev == NULL || (ev->channel = chat_channel_dup(c)) == NULL) {
        chati_event_free(ev);
        return chati_fail(CHAT_ERR_NOMEM, "channel");
    }
    chat_err rv = pack_event(ev, out);
    chati_event_free(ev);
    return rv;
}

chat_err chati_channel_unpack(const ProtobufCBinaryData *in, chat_channel **out)
{
    chat_event *ev = NULL;
    chat_err rv = chati_event_decode(in->data, in->len, &ev);
    if (rv == CHAT_OK && ev->channel == NULL)
        rv = chati_fail(CHAT_ERR_INTERNAL, "no channel in the reply");
    if (rv == CHAT_OK) {
        *out = ev->channel;
        ev->channel = NULL;
    }
    chati_event_free(ev);
    return rv;
}

chat_err chati_user_pack(const chat_user *u, ProtobufCBinaryData *out)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_USER_CHANGED);
    if (ev == NULL || (ev->user = chat_user_dup(u)) == NULL) {
        chati_event_free(ev);
        return chati_fail(CHAT_ERR_NOMEM, "user");
    }
    chat_err rv = pack_event(ev, out);
    chati_event_free(ev);
    return rv;
}

chat_err chati_user_unpack(const ProtobufCBinaryData *in, chat_user **out)
{
    chat_event *ev = NULL;
    chat_err rv = chati_event_decode(in->data, in->len, &ev);
    if (rv == CHAT_OK && ev->user == NULL)
        rv = chati_fail(CHAT_ERR_INTERNAL, "no user in the reply");
    if (rv == CHAT_OK) {
        *out = ev->user;
        ev->user = NULL;
    }
    chati_event_free(ev);
    return rv;
}

