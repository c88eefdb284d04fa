/*
 * chat/channel.h - conversations: public and private channels, DMs, group DMs.
 *
 * Channel names follow Slack's rules: 1-80 characters of lower-case letters
 * (ASCII a-z or any non-ASCII letter), digits, '-' and '_', unique within the
 * workspace. Every call acts as the
 * session's user: private channels, DMs and group DMs are visible only to their
 * members. Returned handles are owned by the caller.
 */
#ifndef CHAT_CHANNEL_H
#define CHAT_CHANNEL_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum chat_channel_type {
    CHAT_CHANNEL_PUBLIC = 1,
    CHAT_CHANNEL_PRIVATE = 2,
    CHAT_CHANNEL_IM = 4,   /* direct message: exactly two members */
    CHAT_CHANNEL_MPIM = 8  /* group direct message: three to nine members */
} chat_channel_type;

/* Any combination of chat_channel_type bits, for listings. */
#define CHAT_CHANNEL_ALL 0xF

CHAT_API const char *chat_channel_id(const chat_channel *c);
CHAT_API const char *chat_channel_team_id(const chat_channel *c);
CHAT_API const char *chat_channel_name(const chat_channel *c);
CHAT_API chat_channel_type chat_channel_type_of(const chat_channel *c);
CHAT_API const char *chat_channel_creator(const chat_channel *c);
CHAT_API int64_t chat_channel_created(const chat_channel *c);
CHAT_API const char *chat_channel_topic(const chat_channel *c);
CHAT_API const char *chat_channel_topic_creator(const chat_channel *c);
CHAT_API int64_t chat_channel_topic_last_set(const chat_channel *c);
CHAT_API const char *chat_channel_purpose(const chat_channel *c);
CHAT_API const char *chat_channel_purpose_creator(const chat_channel *c);
CHAT_API int64_t chat_channel_purpose_last_set(const chat_channel *c);
CHAT_API bool chat_channel_is_archived(const chat_channel *c);
CHAT_API bool chat_channel_is_general(const chat_channel *c);
CHAT_API int64_t chat_channel_member_count(const chat_channel *c);
/* ts of the newest message, "" when the channel is empty. */
CHAT_API const char *chat_channel_last_activity(const chat_channel *c);
/* Caller-relative fields, filled by chat_channel_info() and listings: */
CHAT_API bool chat_channel_is_member(const chat_channel *c);
CHAT_API const char *chat_channel_last_read(const chat_channel *c);
CHAT_API int64_t chat_channel_unread_count(const chat_channel *c);
CHAT_API int64_t chat_channel_mention_count(const chat_channel *c);
CHAT_API void chat_channel_free(chat_channel *c);

/* Creates a public or private channel with the caller as its first member.
 * Errors: invalid_name_*, name_taken. *out may be NULL. */
CHAT_API chat_err chat_channel_create(chat_ctx *ctx, const chat_session *s, const char *name,
                                      bool is_private, chat_channel **out);

/* A channel the caller can see, with the caller's read marker and counts. */
CHAT_API chat_err chat_channel_info(chat_ctx *ctx, const chat_session *s,
                                    const char *channel_id, chat_channel **out);

/* conversations.list: channels of the given types the caller can see (public
 * ones, and private ones they belong to), by id. CHAT_LIST_CHANNELS. */
CHAT_API chat_err chat_channel_list(chat_ctx *ctx, const chat_session *s, unsigned types,
                                    bool exclude_archived, const char *cursor, int limit,
                                    chat_list **out);

/* users.conversations: channels user_id (NULL: the caller) belongs to that the
 * caller can also see. CHAT_LIST_CHANNELS. */
CHAT_API chat_err chat_channel_list_for_user(chat_ctx *ctx, const chat_session *s,
                                             const char *user_id, unsigned types,
                                             bool exclude_archived, const char *cursor,
                                             int limit, chat_list **out);

/* Member user ids in join order. CHAT_LIST_STRINGS. */
CHAT_API chat_err chat_channel_members(chat_ctx *ctx, const chat_session *s,
                                       const char *channel_id, const char *cursor, int limit,
                                       chat_list **out);

CHAT_API chat_err chat_channel_rename(chat_ctx *ctx, const chat_session *s,
                                      const char *channel_id, const char *name,
                                      chat_channel **out);
CHAT_API chat_err chat_channel_set_topic(chat_ctx *ctx, const chat_session *s,
                                         const char *channel_id, const char *topic);
CHAT_API chat_err chat_channel_set_purpose(chat_ctx *ctx, const chat_session *s,
                                           const char *channel_id, const char *purpose);
CHAT_API chat_err chat_channel_archive(chat_ctx *ctx, const chat_session *s,
                                       const char *channel_id);
CHAT_API chat_err chat_channel_unarchive(chat_ctx *ctx, const chat_session *s,
                                         const char *channel_id);

/* Joins a public channel. Joining one already joined succeeds (Slack's
 * already_in_channel warning is reported through *already, which may be NULL). */
CHAT_API chat_err chat_channel_join(chat_ctx *ctx, const chat_session *s,
                                    const char *channel_id, bool *already);
CHAT_API chat_err chat_channel_leave(chat_ctx *ctx, const chat_session *s,
                                     const char *channel_id);
/* Adds users (a member of the channel may invite to it). All or none. */
CHAT_API chat_err chat_channel_invite(chat_ctx *ctx, const chat_session *s,
                                      const char *channel_id, const char *const *user_ids,
                                      size_t n);
CHAT_API chat_err chat_channel_kick(chat_ctx *ctx, const chat_session *s,
                                    const char *channel_id, const char *user_id);

/* conversations.open: the DM with one other user, or the group DM with 2-8
 * others; created on first use, the same channel every later time. */
CHAT_API chat_err chat_channel_open_dm(chat_ctx *ctx, const chat_session *s,
                                       const char *const *user_ids, size_t n,
                                       chat_channel **out);

/* conversations.mark: moves the caller's read marker in a channel to ts. */
CHAT_API chat_err chat_channel_mark(chat_ctx *ctx, const chat_session *s,
                                    const char *channel_id, const char *ts);

/* Bookmarks (bookmarks.*): links the channel's members keep in its header
 * (type "link", an http(s) URL, a title, an optional ":emoji:"), up to 100
 * a channel, oldest first. Members add, edit (what is given changes: NULL or
 * "" keeps a part; emoji "" removes it) and remove them; whoever can see
 * the channel lists them. *out (may be NULL; chat_bookmarks_free(b, 1)).
 * Errors: not_in_channel, is_archived, invalid_bookmark_type, invalid_link,
 * invalid_bookmark_id, too_many_bookmarks, not_supported. */
CHAT_API chat_err chat_bookmark_add(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                    const char *title, const char *type, const char *link,
                                    const char *emoji, chat_bookmark **out);
CHAT_API chat_err chat_bookmark_edit(chat_ctx *ctx, const chat_session *s,
                                     const char *channel_id, const char *id, const char *title,
                                     const char *link, const char *emoji, chat_bookmark **out);
CHAT_API chat_err chat_bookmark_remove(chat_ctx *ctx, const chat_session *s,
                                       const char *channel_id, const char *id);
CHAT_API chat_err chat_bookmark_list(chat_ctx *ctx, const chat_session *s,
                                     const char *channel_id, chat_bookmark **out, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
