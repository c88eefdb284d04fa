/*
 * libchat/backends/sqlite/message_store.h - the SQLite message store's
 * shared parts.
 *
 * Internal to the message store's files in backends/sqlite/:
 *   message_store.c      schema, open/close, get, update, remove, threads, ops
 *   message_post.c       post, with group commit of concurrent posts
 *   message_rows.c       reading message rows into pages, with side tables
 *   message_lists.c      history and thread replies
 *   message_reactions.c  adding and removing reactions
 *   message_search.c     the FTS5 index and search
 *   message_files.c      file metadata and the channels files are shared in
 *   message_outbox.c     outbox rows, and the relay's fetch and ack
 *   message_import.c     import: old messages in bulk, with their own ts
 *   message_scheduled.c  messages waiting for their time
 *
 * The helpers below are static inline: each is a line or two that every
 * file uses, on statements that chati_db_stmt caches.
 */
#ifndef CHATI_SQLITE_MESSAGE_STORE_H
#define CHATI_SQLITE_MESSAGE_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <chat/backend/store.h>

#include "backends/sqlite/db.h"

struct chati_sqlite_post_req;

typedef struct chati_sqlite_msgs {
    chati_db *db;
    /* Group commit of posts (message_post.c): callers queue here; the one
     * that finds no batch running runs every queued post in one transaction. */
    pthread_mutex_t gc_mu;
    struct chati_sqlite_post_req *gc_head, **gc_tail;
    bool gc_busy;               /* a leader is running a batch */
    struct chati_sqlite_post_req *gc_lingerer; /* a leader waiting for company */
    size_t gc_queued;           /* requests in gc_head */
    size_t gc_last;             /* requests in the previous batch */
} chati_sqlite_msgs;

/* ------------------------------------------------------------ helpers --- */

static inline chat_err prep(chati_sqlite_msgs *s, const char *sql, sqlite3_stmt **st)
{
    *st = chati_db_stmt(s->db, sql);
    return *st == NULL ? CHAT_ERR_STORAGE : CHAT_OK;
}

/* Binds a borrowed string. Statements run to completion inside the call and
 * chati_db_stmt clears bindings before the next use, so no copy is needed. */
static inline void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_STATIC);
}

/* NULL for NULL or "", as optional columns are stored. */
static inline void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL || s[0] == '\0')
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static inline chat_err step_done(chati_sqlite_msgs *s, sqlite3_stmt *st, const char *what)
{
    return chati_db_step_done(s->db, st, what);
}

static inline chat_err col_dup(sqlite3_stmt *st, int col, char **out)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    *out = NULL;
    if (v == NULL)
        return CHAT_OK;
    if ((*out = chat_strdup(v)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    return CHAT_OK;
}

/* Parses a required message ts argument. */
static inline chat_err parse_ts(const char *ts, int64_t *us, chat_err missing)
{
    if (ts == NULL || ts[0] == '\0')
        return chati_fail(missing, "no timestamp given");
    if (!chati_ts_parse(ts, us))
        return chati_fail(CHAT_ERR_INVALID_TS, "invalid ts \"%s\"", ts);
    return CHAT_OK;
}

/* Returns arr grown so that element n can be written, or NULL (arr left as
 * it was). Capacity is implied by n (4, then doubling at powers of two), so
 * arrays built here need no capacity field; use it only on arrays grown with
 * it from empty. */
static inline void *grow(void *arr, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return arr;
    return chat_realloc(arr, (n == 0 ? 4 : n * 2) * size);
}

/* ------------------------------------------------------- message rows --- */
/* message_rows.c */

/* Columns of a message row, in the order chati_sqlite_page_read expects
 * (message_rows.c). */
#define CHATI_SQLITE_MSG_COLS                                                              \
    "id, channel, ts, user, team, text, subtype, thread_ts, client_msg_id, edited_user, " \
    "edited_ts, reply_count, latest_reply, files, mentions, mention_flags, "             \
    "reply_broadcast, n_reactions, blocks, attachments, metadata, username, icon_emoji, " \
    "icon_url, bot_id, msg_flags"

/* A message read back, with what the side tables need. */
typedef struct chati_sqlite_msg {
    chat_message *m;
    int64_t id;
    int64_t ts;
    int64_t n_reactions;
} chati_sqlite_msg;

/* One page of messages being built. */
typedef struct chati_sqlite_page {
    chati_sqlite_msg *e;
    size_t n;
} chati_sqlite_page;

void chati_sqlite_page_free(chati_sqlite_page *p);
/* Reads up to limit rows selected with CHATI_SQLITE_MSG_COLS into p; *has_more
 * tells whether one more existed (the statement asks for limit + 1). */
chat_err chati_sqlite_page_read(chati_sqlite_msgs *s, sqlite3_stmt *st, int limit,
                                chati_sqlite_page *p, bool *has_more);
/* Fills reactions and reply_users for a whole page: at most two queries. */
chat_err chati_sqlite_page_attach(chati_sqlite_msgs *s, chati_sqlite_page *p);
/* Moves the page's messages into a new list. */
chat_err chati_sqlite_page_to_list(chati_sqlite_page *p, chat_list **out);
/* Loads one whole message by (channel, ts). message_not_found when absent. */
chat_err chati_sqlite_msg_load(chati_sqlite_msgs *s, const char *channel, int64_t ts,
                               chati_sqlite_msg *out);
/* Finds the row id and (when text is non-NULL) the current text of a message;
 * message_not_found when absent. */
chat_err chati_sqlite_msg_find(chati_sqlite_msgs *s, const char *channel, int64_t ts, int64_t *id,
                               char **text);
/* The comma-separated form of an id list, as files and mentions are stored. */
chat_err chati_sqlite_ids_join(const char (*ids)[CHAT_ID_SIZE], size_t n, chati_buf *b);
/* A JSON array of strings for `IN (SELECT value FROM json_each(?))`. */
chat_err chati_sqlite_json_ids(const char (*ids)[CHAT_ID_SIZE], size_t n, chati_buf *b);

/* ------------------------------------------------------------ threads --- */
/* message_store.c */

/* The parent of the thread that thread_ts names: that message, or, when it is
 * itself a reply, its parent (Slack accepts any ts of a thread); its row id
 * and ts. thread_not_found when neither exists. */
chat_err chati_sqlite_thread_parent(chati_sqlite_msgs *s, const char *channel, int64_t thread_ts,
                                    int64_t *pid, int64_t *pts);

/* ------------------------------------------------------------- search --- */
/* message_search.c: messages are indexed in batches behind posting. Each of
 * these runs inside the caller's write transaction. */

/* The watermark: every message with id <= *done is indexed, none above. */
chat_err chati_sqlite_fts_done(chati_sqlite_msgs *s, int64_t *done);
/* After posting message id (done: the watermark read before): indexes the
 * unindexed messages once a batch of them has built up. */
chat_err chati_sqlite_fts_posted(chati_sqlite_msgs *s, int64_t id, int64_t done);
/* Indexes every message above the watermark; *done gets the new one. */
chat_err chati_sqlite_fts_catch_up(chati_sqlite_msgs *s, int64_t *done);
/* Indexes message id with this text (the caller then moves the watermark). */
chat_err chati_sqlite_fts_add(chati_sqlite_msgs *s, int64_t id, const char *text);
/* Sets the watermark: every message with id <= done is indexed. */
chat_err chati_sqlite_fts_set_done(chati_sqlite_msgs *s, int64_t done);
/* After message id's text changed from old to text. */
chat_err chati_sqlite_fts_reindex(chati_sqlite_msgs *s, int64_t id, const char *old,
                                  const char *text);
/* After message id (with this text) was deleted. */
chat_err chati_sqlite_fts_unindex(chati_sqlite_msgs *s, int64_t id, const char *text);

/* ------------------------------------------------------ files, outbox --- */

/* message_files.c: shares a file in a channel (no-op when already shared or
 * unknown). Inside a transaction. */
chat_err chati_sqlite_file_share(chati_sqlite_msgs *s, const char *file, const char *channel);
/* message_outbox.c: calls fn (nothing when NULL) for m and writes the item it
 * makes into the outbox, inside the change's transaction. */
chat_err chati_sqlite_outbox_put(chati_sqlite_msgs *s, chat_outbox_fn fn, void *arg,
                                 const chat_message *m);

/* ---------------------------------------------------------------- ops --- */
/* The ops of the same names (chat/backend/store.h), in the files above. */

chat_err chati_sqlite_post(void *impl, const chat_message *m, int64_t now_us, chat_outbox_fn outbox,
                           void *outbox_arg, chat_message **out);
chat_err chati_sqlite_add_reaction(void *impl, const char *channel, const char *ts,
                                   const char *name, const char *user, chat_outbox_fn outbox,
                                   void *outbox_arg);
chat_err chati_sqlite_remove_reaction(void *impl, const char *channel, const char *ts,
                                      const char *name, const char *user, chat_outbox_fn outbox,
                                      void *outbox_arg);
chat_err chati_sqlite_history(void *impl, const char *channel, const char *latest,
                              const char *oldest, bool inclusive, int limit, const char *cursor,
                              chat_list **out);
chat_err chati_sqlite_replies(void *impl, const char *channel, const char *thread_ts,
                              const char *latest, const char *oldest, bool inclusive, int limit,
                              const char *cursor, chat_list **out);
chat_err chati_sqlite_search(void *impl, const char *query, const char (*channels)[CHAT_ID_SIZE],
                             size_t n_channels, const char *cursor, int limit, chat_list **out);
chat_err chati_sqlite_file_insert(void *impl, const chat_file *f);
chat_err chati_sqlite_file_get(void *impl, const char *file_id, chat_file **out);
chat_err chati_sqlite_file_list(void *impl, const char *team_id, const char *channel,
                                const char *user, const char *visible_to,
                                const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                                const char *cursor, int limit, chat_list **out);
chat_err chati_sqlite_file_delete(void *impl, const char *file_id);
chat_err chati_sqlite_file_complete(void *impl, const char *file_id, int64_t size,
                                    const char *sha256_hex);
chat_err chati_sqlite_file_set_title(void *impl, const char *file_id, const char *title);
chat_err chati_sqlite_reacted(void *impl, const char *user, const char (*channels)[CHAT_ID_SIZE],
                              size_t n_channels, const char *cursor, int limit, chat_list **out);
chat_err chati_sqlite_schedule(void *impl, const chat_scheduled *q);
chat_err chati_sqlite_list_scheduled(void *impl, const char *team_id, const char *user,
                                     const char *channel, size_t max, chat_scheduled **out,
                                     size_t *n);
chat_err chati_sqlite_unschedule(void *impl, const char *id, const char *user);
chat_err chati_sqlite_lease_scheduled(void *impl, int64_t now_ms, int64_t lease_ms, size_t max,
                                      chat_scheduled **out, size_t *n);
chat_err chati_sqlite_outbox_fetch(void *impl, int64_t after_seq, size_t max,
                                   chat_outbox_item **items, size_t *n);
chat_err chati_sqlite_outbox_ack(void *impl, int64_t up_to);
chat_err chati_sqlite_outbox_add(void *impl, const chat_outbox_item *item);
chat_err chati_sqlite_import(void *impl, const char *channel, const chat_message *msgs, size_t n);

#endif
