/* Events in the shapes Slack's RTM and Events API use, so existing clients and
 * bots understand them. */
#include <string.h>

#include "event_json.h"
#include "pbjson.h"
#include "api/convert.h"
#include "proto/event_codec.h"

static void put_str(chati_buf *b, const char *key, const char *v)
{
    chati_buf_printf(b, ",\"%s\":", key);
    gw_json_put_string(b, v ? v : "", v ? strlen(v) : 0);
}

static void put_pb(chati_buf *b, const char *key, ProtobufCMessage *m)
{
    if (m == NULL)
        return;
    chati_buf_printf(b, ",\"%s\":", key);
    gw_pb_to_json_object(m, b);
    protobuf_c_message_free_unpacked(m, NULL);
}

static const char *channel_type_letter(const char *channel_id)
{
    switch (channel_id[0]) {
    case 'D':
        return "D";
    case 'G':
        return "G";
    default:
        return "C";
    }
}

/* Slack's channel_type of message events: the event's, else what the id says
 * (a G id is a private channel or a group DM: "group" covers both). */
static const char *channel_type_name(const chat_event *ev, const char *channel_id)
{
    switch (chat_event_channel_type(ev)) {
    case CHAT_CHANNEL_PUBLIC:
        return "channel";
    case CHAT_CHANNEL_PRIVATE:
        return "group";
    case CHAT_CHANNEL_IM:
        return "im";
    case CHAT_CHANNEL_MPIM:
        return "mpim";
    default:
        return channel_id[0] == 'D' ? "im" : channel_id[0] == 'G' ? "group" : "channel";
    }
}

bool gw_event_json(const chat_event *ev, uint64_t seq, chati_buf *b, gw_scope *scope,
                   char scope_id[CHAT_ID_SIZE])
{
    const char *channel = chat_event_channel_id(ev);
    const chat_message *m = chat_event_message(ev);
    char event_ts[CHAT_TS_SIZE];
    chati_ts_format(chat_event_time_us(ev), event_ts);
    *scope = GW_SCOPE_CHANNEL;
    chati_copy_fixed(scope_id, CHAT_ID_SIZE, channel);
    b->len = 0;

    switch (chat_event_type_of(ev)) {
    case CHAT_EVENT_MESSAGE_CREATED:
        if (m == NULL)
            return false;
        chati_buf_puts(b, "{");
        {
            /* The message's own fields (type "message" among them), then the event's. */
            ProtobufCMessage *pm = (ProtobufCMessage *)chati_api_message(m, true);
            if (pm == NULL)
                return false;
            gw_pb_to_json(pm, b);
            protobuf_c_message_free_unpacked(pm, NULL);
        }
        put_str(b, "channel_type", channel_type_name(ev, channel));
        /* A new message's event_ts is its ts: replies thread on either. */
        chati_copy_fixed(event_ts, sizeof event_ts, m->ts);
        break;
    case CHAT_EVENT_MESSAGE_EPHEMERAL: {
        /* Only for its reader's sessions, in the shape of a new message. */
        ProtobufCMessage *pm = m ? (ProtobufCMessage *)chati_api_message(m, true) : NULL;
        if (pm == NULL)
            return false;
        chati_buf_puts(b, "{");
        gw_pb_to_json(pm, b);
        protobuf_c_message_free_unpacked(pm, NULL);
        chati_buf_puts(b, ",\"is_ephemeral\":true");
        put_str(b, "channel_type", channel_type_name(ev, channel));
        chati_copy_fixed(event_ts, sizeof event_ts, m->ts);
        *scope = GW_SCOPE_USER;
        chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_target_user(ev));
        break;
    }
    case CHAT_EVENT_VIEW_CHANGED: {
        /* Only for the sessions of the person whose screen it is on: the
         * change's own JSON object, then the event's fields. */
        const char *d = chat_event_data(ev);
        size_t n = strlen(d);
        if (n < 2 || d[0] != '{' || d[n - 1] != '}')
            return false;
        chati_buf_append(b, d, n - 1);
        *scope = GW_SCOPE_USER;
        chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_target_user(ev));
        break;
    }
    case CHAT_EVENT_MESSAGE_CHANGED:
    case CHAT_EVENT_MESSAGE_DELETED: {
        if (m == NULL)
            return false;
        bool changed = chat_event_type_of(ev) == CHAT_EVENT_MESSAGE_CHANGED;
        chati_buf_printf(b, "{\"type\":\"message\",\"subtype\":\"%s\",\"hidden\":true",
                         changed ? "message_changed" : "message_deleted");
        put_str(b, "channel", channel);
        put_str(b, "channel_type", channel_type_name(ev, channel));
        put_str(b, "ts", event_ts);
        if (changed) {
            put_pb(b, "message", (ProtobufCMessage *)chati_api_message(m, false));
            const chat_message *prev = chat_event_previous_message(ev);
            if (prev)
                put_pb(b, "previous_message", (ProtobufCMessage *)chati_api_message(prev, false));
        } else {
            put_str(b, "deleted_ts", m->ts);
            put_pb(b, "previous_message", (ProtobufCMessage *)chati_api_message(m, false));
        }
        break;
    }
    case CHAT_EVENT_REACTION_ADDED:
    case CHAT_EVENT_REACTION_REMOVED:
        chati_buf_printf(b, "{\"type\":\"%s\"",
                         chat_event_type_of(ev) == CHAT_EVENT_REACTION_ADDED ? "reaction_added"
                                                                            : "reaction_removed");
        put_str(b, "user", chat_event_user_id(ev));
        put_str(b, "reaction", chat_event_reaction(ev));
        if (m)
            put_str(b, "item_user", m->user);
        chati_buf_puts(b, ",\"item\":{\"type\":\"message\"");
        put_str(b, "channel", channel);
        put_str(b, "ts", chat_event_item_ts(ev));
        chati_buf_puts(b, "}");
        break;
    case CHAT_EVENT_PIN_ADDED:
    case CHAT_EVENT_PIN_REMOVED: {
        /* Slack's pin_added / pin_removed: the message in item. */
        bool added = chat_event_type_of(ev) == CHAT_EVENT_PIN_ADDED;
        chati_buf_printf(b, "{\"type\":\"%s\"", added ? "pin_added" : "pin_removed");
        put_str(b, "user", chat_event_user_id(ev));
        put_str(b, "channel_id", channel);
        chati_buf_puts(b, ",\"item\":{\"type\":\"message\"");
        put_str(b, "channel", channel);
        put_str(b, "created_by", chat_event_user_id(ev));
        chati_buf_printf(b, ",\"created\":%lld", (long long)(chat_event_time_us(ev) / 1000000));
        if (m)
            put_pb(b, "message", (ProtobufCMessage *)chati_api_message(m, true));
        chati_buf_puts(b, "}");
        if (m)
            put_str(b, "item_user", m->user);
        break;
    }
    case CHAT_EVENT_CHANNEL_CREATED: {
        const chat_channel *c = chat_event_channel(ev);
        if (c == NULL)
            return false;
        bool dm = c->type == CHAT_CHANNEL_IM || c->type == CHAT_CHANNEL_MPIM;
        chati_buf_printf(b, "{\"type\":\"%s\"", dm ? "im_created" : c->type == CHAT_CHANNEL_PRIVATE
                                                                   ? "group_joined"
                                                                   : "channel_created");
        put_str(b, "user", chat_event_user_id(ev));
        put_pb(b, "channel", (ProtobufCMessage *)chati_api_channel(c, NULL));
        if (c->type == CHAT_CHANNEL_PUBLIC) {
            *scope = GW_SCOPE_TEAM;
            chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_team_id(ev));
        }
        break;
    }
    case CHAT_EVENT_CHANNEL_TOPIC:
    case CHAT_EVENT_CHANNEL_PURPOSE:
        /* Slack has no such events: the notice the message service posts
         * (a message, subtype channel_topic or channel_purpose) says it. */
        return false;
    case CHAT_EVENT_CHANNEL_RENAMED: {
        const chat_channel *c = chat_event_channel(ev);
        chati_buf_puts(b, "{\"type\":\"channel_rename\"");
        put_str(b, "user", chat_event_user_id(ev));
        if (c)
            put_pb(b, "channel", (ProtobufCMessage *)chati_api_channel(c, NULL));
        break;
    }
    case CHAT_EVENT_CHANNEL_ARCHIVED:
    case CHAT_EVENT_CHANNEL_UNARCHIVED:
        chati_buf_printf(b, "{\"type\":\"%s\"", chat_event_type_of(ev) == CHAT_EVENT_CHANNEL_ARCHIVED
                                                  ? "channel_archive"
                                                  : "channel_unarchive");
        put_str(b, "channel", channel);
        put_str(b, "user", chat_event_user_id(ev));
        break;
    case CHAT_EVENT_MEMBER_JOINED:
    case CHAT_EVENT_MEMBER_LEFT:
        chati_buf_printf(b, "{\"type\":\"%s\"", chat_event_type_of(ev) == CHAT_EVENT_MEMBER_JOINED
                                                  ? "member_joined_channel"
                                                  : "member_left_channel");
        put_str(b, "user", chat_event_target_user(ev));
        put_str(b, "channel", channel);
        put_str(b, "channel_type", channel_type_letter(channel));
        put_str(b, "team", chat_event_team_id(ev));
        if (strcmp(chat_event_user_id(ev), chat_event_target_user(ev)) != 0)
            put_str(b, chat_event_type_of(ev) == CHAT_EVENT_MEMBER_JOINED ? "inviter" : "actor",
                    chat_event_user_id(ev));
        break;
    case CHAT_EVENT_PRESENCE_CHANGED:
        chati_buf_puts(b, "{\"type\":\"presence_change\"");
        put_str(b, "user", chat_event_user_id(ev));
        /* Slack's presence is active or away; offline shows as away. */
        put_str(b, "presence",
                chat_event_presence(ev) == CHAT_PRESENCE_ACTIVE ? "active" : "away");
        *scope = GW_SCOPE_PRESENCE;
        chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_user_id(ev));
        break;
    case CHAT_EVENT_USER_TYPING:
        chati_buf_puts(b, "{\"type\":\"user_typing\"");
        put_str(b, "channel", channel);
        put_str(b, "user", chat_event_user_id(ev));
        break;
    case CHAT_EVENT_USER_CHANGED: {
        chati_buf_puts(b, "{\"type\":\"user_change\"");
        const chat_user *u = chat_event_user(ev);
        if (u)
            put_pb(b, "user", (ProtobufCMessage *)chati_api_user(u, NULL));
        *scope = GW_SCOPE_TEAM;
        chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_team_id(ev));
        break;
    }
    case CHAT_EVENT_CHANNEL_MARKED:
        chati_buf_puts(b, "{\"type\":\"channel_marked\"");
        put_str(b, "channel", channel);
        put_str(b, "ts", chat_event_item_ts(ev));
        *scope = GW_SCOPE_USER; /* only the reader's own sessions */
        chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_user_id(ev));
        break;
    case CHAT_EVENT_USER_JOINED: {
        chati_buf_puts(b, "{\"type\":\"team_join\"");
        const chat_user *u = chat_event_user(ev);
        if (u == NULL)
            return false;
        put_pb(b, "user", (ProtobufCMessage *)chati_api_user(u, NULL));
        *scope = GW_SCOPE_TEAM;
        chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_team_id(ev));
        break;
    }
    case CHAT_EVENT_FILE_DELETED:
        chati_buf_puts(b, "{\"type\":\"file_deleted\"");
        put_str(b, "file_id", chat_event_file_id(ev));
        *scope = GW_SCOPE_TEAM;
        chati_copy_fixed(scope_id, CHAT_ID_SIZE, chat_event_team_id(ev));
        break;
    default:
        return false;
    }
    put_str(b, "event_ts", event_ts);
    chati_buf_printf(b, ",\"seq\":%llu}", (unsigned long long)seq);
    return true;
}

bool gw_app_event_json(const chat_event *ev, bool mention, chati_buf *b)
{
    gw_scope scope;
    char scope_id[CHAT_ID_SIZE];
    static const char seq[] = ",\"seq\":0}";
    static const char message[] = "{\"type\":\"message\"";
    if (chat_event_type_of(ev) == CHAT_EVENT_MESSAGE_EPHEMERAL ||
        chat_event_type_of(ev) == CHAT_EVENT_VIEW_CHANGED || !gw_event_json(ev, 0, b, &scope, scope_id) || b->len < sizeof seq ||
        memcmp(b->data + b->len - (sizeof seq - 1), seq, sizeof seq - 1) != 0)
        return false;
    b->len -= sizeof seq - 1;
    chati_buf_puts(b, "}");
    if (!mention)
        return true;
    /* The message's own fields come first, its type first among them. */
    if (chat_event_type_of(ev) != CHAT_EVENT_MESSAGE_CREATED || b->len < sizeof message ||
        memcmp(b->data, message, sizeof message - 1) != 0)
        return false;
    chati_buf out = {0};
    chati_buf_puts(&out, "{\"type\":\"app_mention\"");
    chati_buf_append(&out, b->data + sizeof message - 1, b->len - (sizeof message - 1));
    if (out.data == NULL) {
        chati_buf_free(&out);
        return false;
    }
    chati_buf_free(b);
    *b = out;
    return true;
}

bool gw_app_payload_json(const void *data, size_t len, int kind, const char *team_id,
                         const char *app_id, const char *bot_user_id, chati_buf *out)
{
    chat_event *ev = NULL;
    if (chati_event_decode(data, len, &ev) != CHAT_OK)
        return false;
    chati_buf inner = {0};
    bool mention = kind == CHAT_APP_EVENT_MENTION;
    int file = kind - CHAT_APP_EVENT_FILE_SHARED;
    bool ok;
    char suffix[8] = "";
    if (file >= 0 && file < CHAT_APP_EVENT_FILE_SHARED_MAX) {
        /* Slack's file_shared: one event per file, naming it only. */
        const chat_message *m = chat_event_message(ev);
        ok = m && (size_t)file < m->n_files;
        if (ok) {
            char ts[CHAT_TS_SIZE];
            chati_ts_format(chat_event_time_us(ev), ts);
            chati_buf_printf(&inner,
                             "{\"type\":\"file_shared\",\"channel_id\":\"%s\",\"file_id\":\"%s\","
                             "\"user_id\":\"%s\",\"file\":{\"id\":\"%s\"},\"event_ts\":\"%s\"}",
                             m->channel, m->files[file], m->user, m->files[file], ts);
            snprintf(suffix, sizeof suffix, "F%d", file);
            ok = inner.data != NULL;
        }
    } else {
        ok = gw_app_event_json(ev, mention, &inner);
        if (mention)
            memcpy(suffix, "M", 2);
    }
    if (ok) {
        out->len = 0;
        chati_buf_printf(out, "{\"token\":\"\",\"team_id\":\"%s\",\"api_app_id\":\"%s\","
                              "\"event\":",
                         team_id, app_id);
        chati_buf_append(out, inner.data, inner.len);
        /* Slack's event ids start "Ev"; a mention is an event of its own. */
        chati_buf_printf(out,
                         ",\"type\":\"event_callback\",\"event_id\":\"Ev%s%s\",\"event_time\":"
                         "%lld,\"authorizations\":[{\"enterprise_id\":null,\"team_id\":\"%s\","
                         "\"user_id\":\"%s\",\"is_bot\":true,\"is_enterprise_install\":false}],"
                         "\"is_ext_shared_channel\":false}",
                         ev->id[0] == 'E' ? ev->id + 1 : ev->id, suffix,
                         (long long)(ev->time_us / 1000000), team_id, bot_user_id);
        ok = out->data != NULL;
    }
    chati_buf_free(&inner);
    chati_event_free(ev);
    return ok;
}
