/*
 * chat/event.h - the events libchat publishes, and subscribing to them.
 *
 * Every change publishes one event through the broker: a protobuf-c encoded
 * chat.Event (libchat/proto/event.proto) with a unique id, on the topic named
 * by chat_event_topic(). Consumers are at-least-once: the same event id may be
 * delivered twice and must be handled idempotently. Events of one channel
 * arrive in the order their changes were made, except user.typing,
 * presence.changed, user.changed, user.joined and message.ephemeral, which are
 * published directly, bypassing the outbox (at most once).
 */
#ifndef CHAT_EVENT_H
#define CHAT_EVENT_H

#include <chat/types.h>
#include <chat/channel.h>
#include <chat/presence.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chat_event chat_event;
typedef struct chat_subscription chat_subscription;

/* Values are stable: they travel in encoded events. */
typedef enum chat_event_type {
    CHAT_EVENT_MESSAGE_CREATED = 1,   /* message.created    message */
    CHAT_EVENT_MESSAGE_CHANGED = 2,   /* message.changed    message (new state) */
    CHAT_EVENT_MESSAGE_DELETED = 3,   /* message.deleted    message (last state) */
    CHAT_EVENT_REACTION_ADDED = 4,    /* reaction.added     item_ts, reaction, user */
    CHAT_EVENT_REACTION_REMOVED = 5,  /* reaction.removed   item_ts, reaction, user */
    CHAT_EVENT_CHANNEL_CREATED = 6,   /* channel.created    channel */
    CHAT_EVENT_CHANNEL_RENAMED = 7,   /* channel.renamed    channel */
    CHAT_EVENT_CHANNEL_ARCHIVED = 8,  /* channel.archived   channel */
    CHAT_EVENT_CHANNEL_UNARCHIVED = 9,/* channel.unarchived channel */
    CHAT_EVENT_CHANNEL_TOPIC = 10,    /* channel.topic      channel */
    CHAT_EVENT_CHANNEL_PURPOSE = 11,  /* channel.purpose    channel */
    CHAT_EVENT_MEMBER_JOINED = 12,    /* channel.member_joined  target_user, user (inviter) */
    CHAT_EVENT_MEMBER_LEFT = 13,      /* channel.member_left    target_user, user (kicker) */
    CHAT_EVENT_PRESENCE_CHANGED = 14, /* presence.changed   user, presence */
    CHAT_EVENT_USER_TYPING = 15,      /* user.typing        user, channel */
    CHAT_EVENT_USER_CHANGED = 16,     /* user.changed       target_user */
    CHAT_EVENT_CHANNEL_MARKED = 17,   /* channel.marked     user, item_ts */
    CHAT_EVENT_FILE_DELETED = 18,     /* file.deleted       file_id */
    CHAT_EVENT_USER_JOINED = 19,      /* user.joined        user (a new member of the team) */
    CHAT_EVENT_MESSAGE_EPHEMERAL = 20,/* message.ephemeral  message, target_user (its reader) */
    CHAT_EVENT_VIEW_CHANGED = 21,     /* view.changed       data, target_user (whose screen) */
    CHAT_EVENT_PIN_ADDED = 22,        /* pin.added          item_ts, message, user (who pinned) */
    CHAT_EVENT_PIN_REMOVED = 23       /* pin.removed        item_ts, message, user */
} chat_event_type;
#define CHAT_EVENT_TYPE_MAX 23

/* Topic name of a type ("message.created"), NULL for an unknown type. */
CHAT_API const char *chat_event_topic(chat_event_type type);
/* Inverse of chat_event_topic; 0 when unknown. */
CHAT_API chat_event_type chat_event_type_from_topic(const char *topic);

CHAT_API chat_event_type chat_event_type_of(const chat_event *ev);
CHAT_API const char *chat_event_id(const chat_event *ev);       /* unique, "E..." */
CHAT_API int64_t chat_event_time_us(const chat_event *ev);      /* when it happened */
CHAT_API const char *chat_event_team_id(const chat_event *ev);
CHAT_API const char *chat_event_channel_id(const chat_event *ev); /* "" when none */
CHAT_API const char *chat_event_user_id(const chat_event *ev);  /* who acted */
CHAT_API const char *chat_event_target_user(const chat_event *ev); /* joined/left/changed */
CHAT_API const char *chat_event_item_ts(const chat_event *ev);  /* reactions, marks */
CHAT_API const char *chat_event_reaction(const chat_event *ev);
CHAT_API const char *chat_event_file_id(const chat_event *ev);
CHAT_API chat_presence chat_event_presence(const chat_event *ev);
/* view.changed: what changed on the person's screen, a JSON object
 * ({"type": "view_opened" | "view_updated" | "view_closed" | "view_errors",
 * "view": {...}, "errors": {...}}); "" in other events. */
CHAT_API const char *chat_event_data(const chat_event *ev);
/* The entity carried, or NULL for events without one. Owned by the event. */
CHAT_API const chat_message *chat_event_message(const chat_event *ev);
CHAT_API const chat_channel *chat_event_channel(const chat_event *ev);
CHAT_API const chat_user *chat_event_user(const chat_event *ev);
/* message.changed: the message before the change (NULL in other events). */
CHAT_API const chat_message *chat_event_previous_message(const chat_event *ev);
/* The type of the channel a message or reaction event is in; 0 when the
 * event does not say (events of older releases). */
CHAT_API chat_channel_type chat_event_channel_type(const chat_event *ev);

/* Receives one event. Runs on a consumer thread of the context; events of one
 * channel arrive in order. Return CHAT_OK when handled; anything else asks for
 * the event again later (at-least-once). Must not call chat_unsubscribe(). */
typedef chat_err (*chat_event_fn)(void *arg, const chat_event *ev);

/* Subscribes fn to the event types in type_mask (bit 1<<type; 0 = all) as
 * consumer group `group`: each event reaches one member of each group. The
 * subscription sees events published after it started. On failure fn is never
 * called. Free with chat_unsubscribe(), which waits for a running callback. */
CHAT_API chat_err chat_subscribe(chat_ctx *ctx, const char *group, uint32_t type_mask,
                                 chat_event_fn fn, void *arg, chat_subscription **out);
CHAT_API void chat_unsubscribe(chat_subscription *sub);

#ifdef __cplusplus
}
#endif
#endif
