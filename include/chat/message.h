/*
 * chat/message.h - messages, threads, reactions, history and search.
 *
 * A message is identified by (channel, ts); ts is a string "SSSSSSSSSS.UUUUUU"
 * strictly increasing within its channel. Text is at most CHAT_MAX_TEXT_CHARS
 * characters of valid UTF-8. Mentions are written as Slack writes them:
 * <@U123>, <!channel>, <!everyone>, <!here>.
 *
 * Every call acts as the session's user, who must be able to see the channel.
 * Returned handles are owned by the caller.
 */
#ifndef CHAT_MESSAGE_H
#define CHAT_MESSAGE_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

CHAT_API const char *chat_message_channel(const chat_message *m);
CHAT_API const char *chat_message_ts(const chat_message *m);
CHAT_API const char *chat_message_user(const chat_message *m);
CHAT_API const char *chat_message_text(const chat_message *m);
CHAT_API const char *chat_message_subtype(const chat_message *m);   /* "" for none */
CHAT_API const char *chat_message_thread_ts(const chat_message *m); /* "" outside threads */
CHAT_API const char *chat_message_client_msg_id(const chat_message *m);
CHAT_API const char *chat_message_edited_ts(const chat_message *m); /* "" if never edited */
CHAT_API const char *chat_message_edited_user(const chat_message *m);
CHAT_API int64_t chat_message_reply_count(const chat_message *m);
CHAT_API const char *chat_message_latest_reply(const chat_message *m);
CHAT_API size_t chat_message_reply_user_count(const chat_message *m);
CHAT_API const char *chat_message_reply_user(const chat_message *m, size_t i);
CHAT_API size_t chat_message_reaction_count(const chat_message *m);
CHAT_API const char *chat_message_reaction_name(const chat_message *m, size_t i);
CHAT_API size_t chat_message_reaction_user_count(const chat_message *m, size_t i);
CHAT_API const char *chat_message_reaction_user(const chat_message *m, size_t i, size_t j);
CHAT_API size_t chat_message_file_count(const chat_message *m);
CHAT_API const char *chat_message_file_id(const chat_message *m, size_t i);
CHAT_API size_t chat_message_mention_count(const chat_message *m);
CHAT_API const char *chat_message_mention(const chat_message *m, size_t i);
CHAT_API bool chat_message_mentions_channel(const chat_message *m); /* <!channel>/<!everyone> */
CHAT_API bool chat_message_mentions_here(const chat_message *m);
CHAT_API bool chat_message_is_reply_broadcast(const chat_message *m);
/* Slack's rich parts, "" when absent: blocks and attachments are JSON arrays,
 * metadata a JSON object {"event_type":..,"event_payload":{..}}, as the
 * poster gave them (compacted). username and the icons are what a bot or a
 * webhook posted under; bot_id is set on messages an app's bot posted. */
CHAT_API const char *chat_message_blocks(const chat_message *m);
CHAT_API const char *chat_message_attachments(const chat_message *m);
CHAT_API const char *chat_message_metadata(const chat_message *m);
CHAT_API const char *chat_message_username(const chat_message *m);
CHAT_API const char *chat_message_icon_emoji(const chat_message *m);
CHAT_API const char *chat_message_icon_url(const chat_message *m);
CHAT_API const char *chat_message_bot_id(const chat_message *m);
/* CHAT_MESSAGE_* bits the poster chose. */
#define CHAT_MESSAGE_UNFURL_LINKS 0x1u
#define CHAT_MESSAGE_UNFURL_MEDIA 0x2u
CHAT_API unsigned chat_message_flags(const chat_message *m);
CHAT_API void chat_message_free(chat_message *m);

/* Flags for chat_message_post() and chat_post_opts. */
#define CHAT_POST_REPLY_BROADCAST 0x1u /* a thread reply also shown in the channel */
#define CHAT_POST_UNFURL_LINKS 0x2u    /* unfurl text links (kept for unfurlers) */
#define CHAT_POST_UNFURL_MEDIA 0x4u    /* unfurl media links */
#define CHAT_POST_ME_MESSAGE 0x8u      /* a /me action (chat.meMessage): subtype me_message */

/* Largest blocks, attachments or metadata libchat keeps, as compact JSON. */
#define CHAT_MAX_RICH_BYTES 65536
#define CHAT_MAX_BLOCKS 50      /* invalid_blocks beyond: Slack's limit */
#define CHAT_MAX_ATTACHMENTS 100 /* too_many_attachments beyond */

/* Everything chat.postMessage takes beyond the channel and the text. Zero it
 * and set version to CHAT_POST_OPTS_V1; NULL members are absent. Strings are
 * borrowed for the call.
 * - blocks, attachments: JSON arrays (text); "[]" is none. With blocks and
 *   no text, the text is derived from the blocks' text, as Slack does (it is
 *   what notifications and search see). A post needs text, blocks,
 *   attachments or a file: no_text otherwise.
 * - metadata: a JSON object with a string event_type and an object
 *   event_payload.
 * - username (at most 80 characters), icon_emoji (":name:") and icon_url
 *   (http or https): the name and avatar shown instead of the poster's.
 * Errors beyond chat_message_post's: invalid_blocks_format (not JSON or not an
 * array), invalid_blocks (more than CHAT_MAX_BLOCKS, or a block that is not an
 * object with a "type"), msg_blocks_too_long, invalid_attachments,
 * too_many_attachments, invalid_metadata_format, metadata_too_large (each
 * over CHAT_MAX_RICH_BYTES or nested deeper than 32), invalid_arguments
 * (username, icons). */
typedef struct chat_post_opts {
    unsigned version;           /* CHAT_POST_OPTS_V1 */
    const char *thread_ts;
    const char *client_msg_id;
    unsigned flags;             /* CHAT_POST_* */
    const char *blocks;
    const char *attachments;
    const char *metadata;
    const char *username;
    const char *icon_emoji;
    const char *icon_url;
} chat_post_opts;
#define CHAT_POST_OPTS_V1 1u

/* Posts text to a channel the caller belongs to; thread_ts (may be NULL) makes
 * it a reply. client_msg_id (may be NULL) makes the post idempotent: posting
 * again with the same id returns the first message and stores nothing.
 * Errors: no_text, msg_too_long, invalid_utf8, channel_not_found,
 * not_in_channel, is_archived, thread_not_found. *out may be NULL. */
CHAT_API chat_err chat_message_post(chat_ctx *ctx, const chat_session *s,
                                    const char *channel_id, const char *text,
                                    const char *thread_ts, const char *client_msg_id,
                                    unsigned flags, chat_message **out);

/* chat_message_post with Slack's rich parts (opts may be NULL: text only). */
CHAT_API chat_err chat_message_post_opts(chat_ctx *ctx, const chat_session *s,
                                         const char *channel_id, const char *text,
                                         const chat_post_opts *opts, chat_message **out);

/* chat.postEphemeral: shows a message to one member of the channel (user_id)
 * in the sessions open now, as the caller; nothing is stored, so it is gone
 * on reload. opts as for chat_message_post_opts but for client_msg_id.
 * ts_out (may be NULL) gets the message's ts. Errors as chat_message_post's,
 * and user_not_in_channel. */
CHAT_API chat_err chat_message_post_ephemeral(chat_ctx *ctx, const chat_session *s,
                                              const char *channel_id, const char *user_id,
                                              const char *text, const chat_post_opts *opts,
                                              char ts_out[CHAT_TS_SIZE]);

CHAT_API chat_err chat_message_get(chat_ctx *ctx, const chat_session *s,
                                   const char *channel_id, const char *ts,
                                   chat_message **out);

/* Edits the caller's own message. cant_update_message otherwise. */
CHAT_API chat_err chat_message_update(chat_ctx *ctx, const chat_session *s,
                                      const char *channel_id, const char *ts,
                                      const char *text, chat_message **out);

/* chat.update with rich parts: opts' blocks, attachments and metadata replace
 * the message's when given ("[]" removes them) and are kept when NULL; its
 * other members are ignored. text may then be NULL or "": kept when the
 * message keeps blocks or attachments, derived from new blocks. */
CHAT_API chat_err chat_message_update_opts(chat_ctx *ctx, const chat_session *s,
                                           const char *channel_id, const char *ts,
                                           const char *text, const chat_post_opts *opts,
                                           chat_message **out);

/* Deletes the caller's own message (admins: anyone's). */
CHAT_API chat_err chat_message_delete(chat_ctx *ctx, const chat_session *s,
                                      const char *channel_id, const char *ts);

/* Reactions: name is an emoji name without colons ("thumbsup"). */
CHAT_API chat_err chat_reaction_add(chat_ctx *ctx, const chat_session *s,
                                    const char *channel_id, const char *ts, const char *name);
CHAT_API chat_err chat_reaction_remove(chat_ctx *ctx, const chat_session *s,
                                       const char *channel_id, const char *ts,
                                       const char *name);

/* Pins (pins.*): a member of the channel pins or unpins one of its messages
 * (ts); members and apps hear pin_added / pin_removed. Errors:
 * already_pinned, no_pin, not_in_channel, message_not_found, bad_timestamp,
 * no_item_specified, not_pinnable (join and leave messages), too_many_pins
 * (1000 in a channel), not_supported (the channel store keeps no pins). */
CHAT_API chat_err chat_pin_add(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *ts);
CHAT_API chat_err chat_pin_remove(chat_ctx *ctx, const chat_session *s,
                                  const char *channel_id, const char *ts);
/* The channel's pinned messages, the newest pin first: (*pins)[i] says who
 * pinned (*messages)[i] and when. Free all with chat_pins_free. */
CHAT_API chat_err chat_pin_list(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                chat_pin **pins, chat_message ***messages, size_t *n);
CHAT_API void chat_pins_free(chat_pin *pins, chat_message **messages, size_t n);

/* Scheduled messages (chat.scheduleMessage): posted at post_at (unix
 * seconds, up to 120 days ahead) as the caller, who must be in the channel
 * now and then; text and opts as chat_message_post_opts (no client_msg_id:
 * the message's id is its own). *out (may be NULL; chat_scheduled_free(q,
 * 1)) gets it. Errors: time_in_past, time_too_far, invalid_time,
 * restricted_too_many (100 waiting), no_text, msg_too_long, not_in_channel,
 * is_archived, not_supported (the message store keeps none). */
CHAT_API chat_err chat_message_schedule(chat_ctx *ctx, const chat_session *s,
                                        const char *channel_id, const char *text,
                                        int64_t post_at, const chat_post_opts *opts,
                                        chat_scheduled **out);
/* The caller's waiting messages (in channel_id, or NULL for all), soonest
 * first: *out (chat_scheduled_free(*out, *n)). */
CHAT_API chat_err chat_scheduled_list(chat_ctx *ctx, const chat_session *s,
                                      const char *channel_id, chat_scheduled **out, size_t *n);
/* Deletes one of the caller's waiting messages in channel_id:
 * invalid_scheduled_message_id when there is none such. */
CHAT_API chat_err chat_scheduled_delete(chat_ctx *ctx, const chat_session *s,
                                        const char *channel_id, const char *id);

/* reactions.list: the messages user_id (NULL: the caller) reacted to, of
 * the channels the caller may read, newest first; cursor paging as search.
 * CHAT_LIST_MESSAGES. user_not_found for someone of another workspace. */
CHAT_API chat_err chat_reaction_list(chat_ctx *ctx, const chat_session *s, const char *user_id,
                                     const char *cursor, int limit, chat_list **out);

/* conversations.history: top-level messages (and broadcast replies) newest
 * first, between oldest and latest (NULL: unbounded), bounds included when
 * inclusive. has_more and the next cursor are on the list. CHAT_LIST_MESSAGES. */
CHAT_API chat_err chat_message_history(chat_ctx *ctx, const chat_session *s,
                                       const char *channel_id, const char *latest,
                                       const char *oldest, bool inclusive, int limit,
                                       const char *cursor, chat_list **out);

/* conversations.replies: the parent then its replies, oldest first. */
CHAT_API chat_err chat_message_replies(chat_ctx *ctx, const chat_session *s,
                                       const char *channel_id, const char *thread_ts,
                                       const char *latest, const char *oldest, bool inclusive,
                                       int limit, const char *cursor, chat_list **out);

/* search.messages: full-text search over the messages of channels the caller
 * belongs to (and public channels), newest first. Words match by prefix; CJK
 * text matches by substring. CHAT_LIST_MESSAGES. not_supported when the
 * message store has no search (chat/backend/store.h). */
CHAT_API chat_err chat_message_search(chat_ctx *ctx, const chat_session *s, const char *query,
                                      const char *cursor, int limit, chat_list **out);

/* Imports n old messages into a channel (an export's history), each with
 * its own ts, author and text: ts[i], users[i], texts[i]. All are stored in
 * one transaction or none; bring a large history in batches of 10,000 or
 * more, each a call. The ts strictly increase within the call and may fall
 * before or between messages already stored; authors are users of the
 * caller's workspace; texts follow chat_message_post's rules. The caller
 * must be a workspace admin who can see the channel. Imported messages are
 * history, not news: no events are sent, they do not count as unread, and
 * the channel's last activity stays as it was. They are in history and
 * search when the call returns. Top-level messages only. Arrays are
 * borrowed for the call. A call is one write transaction: on the SQLite
 * store, posts wait behind it (about 0.5 s for 50,000 messages).
 * Errors: restricted_action (not an admin), channel_not_found, invalid_ts
 * (malformed, or not after the one before), user_not_found, no_text,
 * msg_too_long, invalid_utf8, duplicate (a ts already stored in the
 * channel; the detail names it), not_supported (the message store cannot
 * import: chat/backend/store.h). */
CHAT_API chat_err chat_message_import(chat_ctx *ctx, const chat_session *s,
                                      const char *channel_id, size_t n,
                                      const char *const *ts, const char *const *users,
                                      const char *const *texts);

#ifdef __cplusplus
}
#endif
#endif
