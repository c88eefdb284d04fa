/*
 * libchat/gateway/event_json.h - libchat events as Slack's RTM/Events JSON.
 */
#ifndef CHAT_GW_EVENT_JSON_H
#define CHAT_GW_EVENT_JSON_H

#include <chat/chat.h>

#include "core/internal.h"

/* Who may receive an event. */
typedef enum gw_scope {
    GW_SCOPE_CHANNEL,   /* members of scope_id (a channel) */
    GW_SCOPE_TEAM,      /* everyone in scope_id (a team; "" = every team) */
    GW_SCOPE_USER,      /* only scope_id (a user) */
    GW_SCOPE_PRESENCE   /* scope_id's (a user's) own connections and those that
                         * subscribed to them (presence_sub), as Slack does */
} gw_scope;

/* Writes ev as one JSON object with "seq":seq, and says who may see it.
 * false for events clients are not sent. */
bool gw_event_json(const chat_event *ev, uint64_t seq, chati_buf *out, gw_scope *scope,
                   char scope_id[CHAT_ID_SIZE]);

/* ev as the "event" of an Events API payload (the RTM shape without seq);
 * mention: as the app_mention the message makes. false for events apps are
 * not sent. */
bool gw_app_event_json(const chat_event *ev, bool mention, chati_buf *out);

/* The Events API payload (an event_callback) of an app's queued event: its
 * encoded bytes, its kind (CHAT_APP_EVENT_*), and the app's team, id and bot
 * user. The same bytes go in a Socket Mode envelope and in an HTTP POST.
 * false when the event cannot be shown. */
bool gw_app_payload_json(const void *data, size_t len, int kind, const char *team_id,
                         const char *app_id, const char *bot_user_id, chati_buf *out);

#endif
