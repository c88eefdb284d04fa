/*
 * chat/presence.h - online status and typing.
 *
 * A user is active while heartbeats keep arriving within presence.ttl seconds,
 * away while they say so (chat_presence_set) and are connected, and offline
 * once their heartbeats stop. Changes publish presence.changed events.
 */
#ifndef CHAT_PRESENCE_H
#define CHAT_PRESENCE_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum chat_presence {
    CHAT_PRESENCE_OFFLINE = 0,
    CHAT_PRESENCE_ACTIVE = 1,
    CHAT_PRESENCE_AWAY = 2
} chat_presence;

/* "active", "away", "offline". */
CHAT_API const char *chat_presence_name(chat_presence p);

/* Records that the caller is connected and active now. */
CHAT_API chat_err chat_presence_heartbeat(chat_ctx *ctx, const chat_session *s);

/* users.setPresence: away=true sets manual away; false returns to automatic. */
CHAT_API chat_err chat_presence_set(chat_ctx *ctx, const chat_session *s, bool away);

/* Presence of n users of the caller's workspace in one call; out has n slots. */
CHAT_API chat_err chat_presence_get(chat_ctx *ctx, const chat_session *s,
                                    const char *const *user_ids, size_t n,
                                    chat_presence *out);

/* The caller is typing in a channel they belong to: publishes user.typing. */
CHAT_API chat_err chat_typing(chat_ctx *ctx, const chat_session *s, const char *channel_id);

#ifdef __cplusplus
}
#endif
#endif
