/*
 * chat/types.h - the opaque handles of the libchat API and the results list.
 *
 * Every entity handed out by libchat (user, channel, message, file, ...) is an
 * opaque handle read through accessor functions, so bindings never depend on a
 * struct layout. Strings returned by accessors are owned by the handle and stay
 * valid until the handle is freed. Handles are immutable once returned and may be
 * read from any thread; freeing one is the caller's job, from one thread.
 */
#ifndef CHAT_TYPES_H
#define CHAT_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chat/export.h>
#include <chat/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chat_ctx chat_ctx;         /* an open library instance; see chat/ctx.h */
typedef struct chat_config chat_config;   /* key/value configuration; see chat/config.h */
typedef struct chat_session chat_session; /* an authenticated caller; see chat/auth.h */
typedef struct chat_team chat_team;
typedef struct chat_user chat_user;
typedef struct chat_channel chat_channel;
typedef struct chat_message chat_message;
typedef struct chat_file chat_file;
typedef struct chat_app chat_app;       /* an app and its bot; see chat/app.h */
typedef struct chat_list chat_list;

/* Length of a message timestamp "1732600000.000100" plus its NUL. */
#define CHAT_TS_SIZE 18
/* Longest id ("U" + 20 characters) plus its NUL. */
#define CHAT_ID_SIZE 24

/* A message pinned to its channel (pins.*: chat/message.h), plain data. */
typedef struct chat_pin {
    char channel[CHAT_ID_SIZE];
    char ts[CHAT_TS_SIZE];          /* the message */
    char user[CHAT_ID_SIZE];        /* who pinned it */
    int64_t created;                /* unix seconds */
} chat_pin;

/* A user group (usergroups.*: chat/user.h): people mentioned together. */
typedef struct chat_usergroup {
    char id[CHAT_ID_SIZE];          /* "S..." */
    char team_id[CHAT_ID_SIZE];
    char *name;                     /* owned (chat_malloc), as the strings below */
    char *handle;                   /* what @mentions it */
    char *description;              /* NULL when none */
    char *users;                    /* member ids, comma-separated; "" for none */
    char *channels;                 /* default channels, comma-separated; "" */
    char created_by[CHAT_ID_SIZE];
    char updated_by[CHAT_ID_SIZE];
    int64_t created, updated;       /* unix seconds */
    int64_t disabled;               /* when it was disabled; 0 while enabled */
} chat_usergroup;
/* Frees an array of n groups (their strings, then the array). */
CHAT_API void chat_usergroups_free(chat_usergroup *g, size_t n);

/* A link bookmarked in a channel's header (bookmarks.*: chat/channel.h). */
typedef struct chat_bookmark {
    char id[CHAT_ID_SIZE];          /* "Bk..." */
    char channel[CHAT_ID_SIZE];
    char *title;                    /* owned (chat_malloc), as the strings below */
    char *link;
    char *emoji;                    /* ":rocket:" or NULL */
    char updated_by[CHAT_ID_SIZE];
    int64_t created;                /* unix seconds */
    int64_t updated;
} chat_bookmark;
/* Frees an array of n bookmarks (their strings, then the array). */
CHAT_API void chat_bookmarks_free(chat_bookmark *b, size_t n);

/* A message waiting for its time (chat.scheduleMessage: chat/message.h). */
typedef struct chat_scheduled {
    char id[CHAT_ID_SIZE];          /* "Q..." */
    char team_id[CHAT_ID_SIZE];
    char channel[CHAT_ID_SIZE];
    char user[CHAT_ID_SIZE];        /* who scheduled it (a bot's user, for a bot) */
    int64_t post_at;                /* unix seconds */
    int64_t created;                /* unix seconds */
    char *text;                     /* owned (chat_malloc) */
    char *data;                     /* the post, libchat's own JSON; owned */
} chat_scheduled;
/* Frees an array of n scheduled messages (their strings, then the array). */
CHAT_API void chat_scheduled_free(chat_scheduled *q, size_t n);

/* Limits enforced at every entry point; each has its own error code. */
#define CHAT_MAX_TEXT_CHARS 40000   /* msg_too_long: Slack's limit, in characters */
#define CHAT_MAX_NAME_CHARS 80      /* invalid_name_maxlength: channel names */
#define CHAT_MAX_TOPIC_CHARS 250    /* too_long: topic and purpose */
#define CHAT_MAX_PROFILE_CHARS 250  /* too_long: profile fields */
#define CHAT_MAX_EMAIL_CHARS 254    /* invalid_email */
#define CHAT_MAX_PAGE 1000          /* invalid_limit: largest page */
#define CHAT_DEFAULT_PAGE 100       /* page size when the caller passes 0 */

/* What a chat_list holds. */
typedef enum chat_list_kind {
    CHAT_LIST_USERS = 1,
    CHAT_LIST_CHANNELS,
    CHAT_LIST_MESSAGES,
    CHAT_LIST_FILES,
    CHAT_LIST_STRINGS
} chat_list_kind;

/* A page of results. Items are owned by the list: do not free them. */
CHAT_API chat_list_kind chat_list_kind_of(const chat_list *l);
CHAT_API size_t chat_list_count(const chat_list *l);
/* Cursor for the next page, or NULL on the last page. Owned by the list. */
CHAT_API const char *chat_list_next_cursor(const chat_list *l);
/* Whether more results exist beyond this page (history: Slack's has_more). */
CHAT_API bool chat_list_has_more(const chat_list *l);
/* Typed item getters: NULL when i is out of range or the list is of another kind. */
CHAT_API const chat_user *chat_list_user(const chat_list *l, size_t i);
CHAT_API const chat_channel *chat_list_channel(const chat_list *l, size_t i);
CHAT_API const chat_message *chat_list_message(const chat_list *l, size_t i);
CHAT_API const chat_file *chat_list_file(const chat_list *l, size_t i);
CHAT_API const char *chat_list_string(const chat_list *l, size_t i);
/* Frees the list and every item in it. NULL is a no-op. */
CHAT_API void chat_list_free(chat_list *l);

/* Frees a string or buffer that libchat allocated and documented as "free with
 * chat_free". NULL is a no-op. */
CHAT_API void chat_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
