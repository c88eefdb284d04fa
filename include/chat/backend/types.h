/*
 * chat/backend/types.h - the layout of libchat's entities, for backend authors.
 *
 * Applications and bindings see these types as opaque handles (chat/types.h) and
 * read them through accessors. Backends (store implementations) fill them in, so
 * they need the layout. The layout may change between CHAT_STORE_V* versions.
 *
 * Memory: every char * field is a NUL-terminated string allocated with
 * chat_malloc()/chat_strdup() (NULL means "unset" and reads as ""), owned by the
 * struct and released by the matching chat_*_free(). Fixed arrays hold ids and
 * timestamps so the hot path does not allocate for them.
 *
 * Ops tables: versions, required and optional methods. Every backend
 * interface (chat_*_ops in chat/backend/) begins with `uint32_t version` and
 * `const char *scheme`, in that order, in every version; set version to the
 * CHAT_*_V* constant of the header you build against. A method is required
 * unless its comment begins "Optional:", which also says what libchat does
 * when it is NULL. Registration (chat_*_register, and the same check for the
 * built-in backends) refuses a table with:
 * - version 0, or newer than this library knows: not_supported;
 * - a required method of its version that is NULL: invalid_arguments;
 * the detail names the interface, the scheme and the version or method, e.g.
 * `message store "foo": required method post is NULL`.
 *
 * Later versions (V2, ...) only append methods at the end of a table; they
 * never move, remove or change the meaning of an earlier field. libchat reads
 * the version to know how long a table is: a table that says V1 was compiled
 * against the V1 header and ends after the V1 fields, so libchat never reads
 * a field added in V2 from it and treats the V2 methods as absent (as if
 * NULL, with the behaviour their comment gives). A method added in V2 is
 * therefore optional for V1 tables even when V2 tables must provide it.
 */
#ifndef CHAT_BACKEND_TYPES_H
#define CHAT_BACKEND_TYPES_H

#include <chat/types.h>
#include <chat/channel.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation functions libchat frees entities with; backends must use them. */
CHAT_API void *chat_malloc(size_t n);
CHAT_API void *chat_calloc(size_t n, size_t size);
CHAT_API void *chat_realloc(void *p, size_t n);
CHAT_API char *chat_strdup(const char *s);          /* NULL in, NULL out */
CHAT_API char *chat_strndup(const char *s, size_t n);

/* Sets the detail text of the error the calling thread is about to return
 * (read by applications with chat_last_errmsg()). For backends and libchat alike. */
CHAT_API void chat_set_errmsg(const char *fmt, ...) CHAT_PRINTF(1, 2);

struct chat_team {
    char id[CHAT_ID_SIZE];
    char *name;
    char *domain;
    int64_t created;            /* unix seconds */
};

struct chat_user {
    char id[CHAT_ID_SIZE];
    char team_id[CHAT_ID_SIZE];
    char *email;
    char *name;                 /* unique handle within the team, like Slack's "name" */
    char *real_name;
    char *display_name;
    char *title;
    char *status_text;
    char *status_emoji;
    char *tz;                   /* IANA zone name, "" when unknown */
    bool is_admin;
    bool deleted;
    int64_t created;            /* unix seconds */
    int64_t updated;
    /* An app's bot user: its bot and app ids ("" for people). */
    char bot_id[CHAT_ID_SIZE];
    char app_id[CHAT_ID_SIZE];
};

/* The auth service's record of a login. */
typedef struct chat_credential {
    char user_id[CHAT_ID_SIZE];
    char team_id[CHAT_ID_SIZE];
    char *email;                /* lower-cased; unique across the server */
    char *pwhash;               /* PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash */
    int64_t token_gen;          /* tokens minted with an older generation are revoked */
    bool active;
    bool is_admin;
} chat_credential;
CHAT_API void chat_credential_free(chat_credential *c);

/* The auth service's record of an app (chat/app.h): its bot user and the
 * secrets its tokens and requests are checked with. */
struct chat_app {
    char id[CHAT_ID_SIZE];          /* "A..." */
    char team_id[CHAT_ID_SIZE];
    char bot_user_id[CHAT_ID_SIZE]; /* "U...", is_bot */
    char bot_id[CHAT_ID_SIZE];      /* "B..." */
    char creator[CHAT_ID_SIZE];
    char *name;
    char *signing_secret;           /* 64 hex digits: signs requests to the app */
    char *scopes;                   /* the bot's scopes, comma-separated */
    char *manifest;                 /* the app's manifest, compact JSON */
    int64_t created;                /* unix seconds */
    int64_t token_gen;              /* tokens minted with an older generation are revoked */
    bool active;
};
CHAT_API chat_app *chat_app_new(void);

/* A view an app shows a person (views.open, push, update, publish): a
 * modal on their screen, in a stack of up to three, or their App Home. */
typedef struct chat_view {
    char id[CHAT_ID_SIZE];          /* "V..." */
    char team_id[CHAT_ID_SIZE];
    char app_id[CHAT_ID_SIZE];
    char user_id[CHAT_ID_SIZE];     /* whose screen it is on */
    char root_id[CHAT_ID_SIZE];     /* the bottom view of its stack (its own id for a root) */
    char previous_id[CHAT_ID_SIZE]; /* the view under it; "" for a root */
    char hash[CHAT_ID_SIZE];        /* new with every change (views.update's hash) */
    char *trigger;                  /* the trigger_id that opened it: used once; NULL when none */
    char *external_id;              /* the app's own id for it, one per app; NULL when none */
    char *body;                     /* the view as the app gave it, block ids added: JSON */
    char *values;                   /* what the person entered (state.values): JSON; NULL */
    int depth;                      /* 1 for a root, 2 and 3 for views pushed on it */
    int64_t updated_ms;             /* unix milliseconds */
    bool open;                      /* on screen: a closed view takes no submission */
} chat_view;
CHAT_API chat_view *chat_view_new(void);
CHAT_API void chat_view_free(chat_view *v);

/* An event waiting for an app (chat_auth_store_ops' app-event queue): the
 * Events API and Socket Mode deliver it until the app acknowledges it. */
#define CHAT_APP_EVENT_ID_SIZE 48
enum {
    CHAT_APP_EVENT_AS_IS = 0,   /* the event as it happened */
    CHAT_APP_EVENT_MENTION = 1, /* a new message that names the app's bot: app_mention */
    CHAT_APP_EVENT_COMMAND = 2, /* a slash command: data is JSON {"url", "payload"} */
    CHAT_APP_EVENT_INTERACTION = 3, /* block_actions and the like: data as a command's */
    /* FILE_SHARED + i: a new message's file i (of its first 16) was shared
     * (file_shared); data is the message's event */
    CHAT_APP_EVENT_FILE_SHARED = 16,
    CHAT_APP_EVENT_FILE_SHARED_MAX = 16
};
typedef struct chat_app_event {
    char app_id[CHAT_ID_SIZE];
    char event_id[CHAT_APP_EVENT_ID_SIZE]; /* queued once per (app, event_id, kind) */
    int kind;                   /* CHAT_APP_EVENT_* */
    int64_t seq;                /* the app's order, set by the store */
    int attempts;               /* leases so far, counted by the store */
    int64_t created_ms;         /* unix milliseconds */
    void *data;                 /* the encoded event (or a command's JSON); owned when
                                   read from a store */
    size_t len;
} chat_app_event;
/* Frees n events read from a store (their data) and the array. */
CHAT_API void chat_app_events_free(chat_app_event *evs, size_t n);

struct chat_channel {
    char id[CHAT_ID_SIZE];
    char team_id[CHAT_ID_SIZE];
    char *name;                 /* for DMs and group DMs: a generated name */
    chat_channel_type type;
    char creator[CHAT_ID_SIZE];
    int64_t created;            /* unix seconds */
    char *topic;
    char topic_creator[CHAT_ID_SIZE];
    int64_t topic_last_set;
    char *purpose;
    char purpose_creator[CHAT_ID_SIZE];
    int64_t purpose_last_set;
    bool is_archived;
    bool is_general;
    char *dm_key;               /* DM/group DM: sorted member ids joined by ','; else NULL */
    char last_activity[CHAT_TS_SIZE]; /* ts of the newest message, "" when none */
    int64_t member_count;
    /* Filled per caller by libchat, not stored: */
    bool is_member;
    char last_read[CHAT_TS_SIZE];
    int64_t unread_count;
    int64_t mention_count;
};

typedef struct chat_reaction {
    char *name;                 /* emoji name without colons */
    size_t n_users;
    char (*users)[CHAT_ID_SIZE];/* in the order they reacted; count == n_users */
} chat_reaction;

/* Mention flags of a message: who it notifies beyond explicit <@U...>. */
#define CHAT_MENTION_CHANNEL 0x1u  /* <!channel> or <!everyone> */
#define CHAT_MENTION_HERE 0x2u     /* <!here> */

struct chat_message {
    char channel[CHAT_ID_SIZE];
    char ts[CHAT_TS_SIZE];
    char user[CHAT_ID_SIZE];
    char team_id[CHAT_ID_SIZE];
    char *text;
    char *subtype;              /* NULL for ordinary messages */
    char thread_ts[CHAT_TS_SIZE]; /* "" when not in a thread; == ts for a parent */
    char *client_msg_id;        /* idempotency key, NULL when none */
    char edited_user[CHAT_ID_SIZE];
    char edited_ts[CHAT_TS_SIZE]; /* "" when never edited */
    int64_t reply_count;
    char latest_reply[CHAT_TS_SIZE];
    size_t n_reply_users;
    char (*reply_users)[CHAT_ID_SIZE];
    size_t n_reactions;
    chat_reaction *reactions;
    size_t n_files;
    char (*files)[CHAT_ID_SIZE];
    size_t n_mentions;
    char (*mentions)[CHAT_ID_SIZE]; /* users named with <@U...>, deduplicated */
    unsigned mention_flags;     /* CHAT_MENTION_* */
    bool reply_broadcast;       /* a thread reply also shown in the channel */
    /* Slack's rich parts, as the poster gave them (checked and compacted by
     * libchat before a store sees them); NULL when absent. */
    char *blocks;               /* JSON array of Block Kit blocks */
    char *attachments;          /* JSON array of legacy attachments */
    char *metadata;             /* JSON object {"event_type":..,"event_payload":{..}} */
    char *username;             /* the name a bot or webhook posted under */
    char *icon_emoji;           /* ":name:" shown as the avatar */
    char *icon_url;             /* http(s) image shown as the avatar */
    char bot_id[CHAT_ID_SIZE];  /* "" unless posted by an app's bot */
    unsigned flags;             /* CHAT_MESSAGE_* (chat/message.h) */
};

struct chat_file {
    char id[CHAT_ID_SIZE];
    char team_id[CHAT_ID_SIZE];
    char user[CHAT_ID_SIZE];
    char *name;
    char *title;
    char *mimetype;
    int64_t size;
    char sha256[65];            /* lower-case hex */
    int64_t created;            /* unix seconds */
    bool deleted;
    size_t n_channels;
    char (*channels)[CHAT_ID_SIZE];
};

/* Entity constructors and destructors (free(NULL) is a no-op). */
CHAT_API chat_team *chat_team_new(void);
CHAT_API chat_user *chat_user_new(void);
CHAT_API chat_channel *chat_channel_new(void);
CHAT_API chat_message *chat_message_new(void);
CHAT_API chat_file *chat_file_new(void);
CHAT_API chat_credential *chat_credential_new(void);

/* Lists for backends to fill: chat_list_new(kind) then chat_list_push(l, item),
 * which takes ownership of item (also on failure, when it frees it). */
CHAT_API chat_list *chat_list_new(chat_list_kind kind);
CHAT_API chat_err chat_list_push(chat_list *l, void *item);
CHAT_API chat_err chat_list_push_string(chat_list *l, const char *s); /* copies s */
CHAT_API chat_err chat_list_set_next_cursor(chat_list *l, const char *cursor);
CHAT_API void chat_list_set_has_more(chat_list *l, bool has_more);
/* Removes item i from the list without freeing it; the caller owns it. */
CHAT_API void *chat_list_take(chat_list *l, size_t i);

/* Deep copies, for caches and for building results. NULL on allocation failure. */
CHAT_API chat_message *chat_message_dup(const chat_message *m);
CHAT_API chat_channel *chat_channel_dup(const chat_channel *c);
CHAT_API chat_user *chat_user_dup(const chat_user *u);

#ifdef __cplusplus
}
#endif
#endif
