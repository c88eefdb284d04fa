/*
 * libchat/backends/sqlite/message_store.c - the message store on SQLite.
 *
 * One row per message in `messages`, keyed by (channel, ts) with ts in integer
 * microseconds so that ordering and "newest ts in the channel" are index
 * lookups. What is written once with the message and always read with it
 * (files, mentions) lives inline in the row as comma-separated ids; what
 * changes per user (reactions, a thread's reply users) lives in side tables
 * keyed by the message rowid, read for a whole page at once and only for the
 * messages whose counters say they have any. A page of history is therefore
 * one query, plus at most one per side table.
 *
 * A thread parent is stored like any top-level message (thread_ts NULL); it
 * reads back with thread_ts == ts while it has replies. Replies carry their
 * parent's ts in thread_ts, which a partial index covers, so posting a
 * top-level message never touches that index.
 *
 * Search uses one contentless FTS5 table (unicode61) over the text, where
 * every CJK character is indexed as a token of its own: a CJK query becomes a
 * phrase of consecutive characters, which is exactly substring matching, and
 * any other word becomes a prefix query (message_search.c).
 *
 * Every change runs in one transaction that also writes its outbox row.
 *
 * This file holds the schema, open/close, threads, get, update, remove and
 * the ops table; message_store.h says where the rest is.
 */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "backends/builtin.h"
#include "backends/sqlite/message_store.h"

/* ------------------------------------------------------------- schema --- */

static const chati_migration migrations[] = {
    {1,
     /* id is assigned above max(id) and meta.fts_done (post_insert in
      * message_post.c), so an id that was indexed is never reused.
      * (AUTOINCREMENT would do that with one more page written per post.) */
     "CREATE TABLE messages ("
     "  id INTEGER PRIMARY KEY,"
     "  channel TEXT NOT NULL,"
     "  ts INTEGER NOT NULL,"
     "  user TEXT NOT NULL DEFAULT '',"
     "  team TEXT NOT NULL DEFAULT '',"
     "  text TEXT NOT NULL DEFAULT '',"
     "  subtype TEXT,"
     "  thread_ts INTEGER,"          /* parent ts for replies; NULL otherwise */
     "  client_msg_id TEXT,"
     "  edited_user TEXT,"
     "  edited_ts INTEGER,"
     "  reply_count INTEGER NOT NULL DEFAULT 0,"
     "  latest_reply INTEGER,"
     "  files TEXT,"                 /* comma-separated file ids */
     "  mentions TEXT,"              /* comma-separated user ids */
     "  mention_flags INTEGER NOT NULL DEFAULT 0,"
     "  reply_broadcast INTEGER NOT NULL DEFAULT 0,"
     "  n_reactions INTEGER NOT NULL DEFAULT 0"  /* rows in reactions */
     ");"
     "CREATE UNIQUE INDEX messages_channel_ts ON messages(channel, ts);"
     "CREATE UNIQUE INDEX messages_client_msg_id ON messages(channel, client_msg_id)"
     "  WHERE client_msg_id IS NOT NULL;"
     "CREATE INDEX messages_thread ON messages(channel, thread_ts, ts)"
     "  WHERE thread_ts IS NOT NULL;"
     /* first_ts: the user's first reply, which orders reply_users. */
     "CREATE TABLE reply_users ("
     "  msg INTEGER NOT NULL, user TEXT NOT NULL, first_ts INTEGER NOT NULL,"
     "  PRIMARY KEY (msg, user)) WITHOUT ROWID;"
     /* seq orders reactors within a message (and so the reactions). */
     "CREATE TABLE reactions ("
     "  msg INTEGER NOT NULL, name TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL,"
     "  PRIMARY KEY (msg, name, user)) WITHOUT ROWID;"
     "CREATE TABLE files ("
     "  id TEXT NOT NULL UNIQUE, team TEXT NOT NULL DEFAULT '', user TEXT NOT NULL DEFAULT '',"
     "  name TEXT, title TEXT, mimetype TEXT, size INTEGER NOT NULL DEFAULT 0,"
     "  sha256 TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL DEFAULT 0,"
     "  deleted INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX files_team_created ON files(team, created);"
     "CREATE TABLE file_channels ("
     "  file TEXT NOT NULL, channel TEXT NOT NULL, ord INTEGER NOT NULL,"
     "  PRIMARY KEY (file, channel)) WITHOUT ROWID;"
     "CREATE INDEX file_channels_channel ON file_channels(channel, file);"
     /* seq must never be reused once acked rows are gone, or a relay
      * resuming after its last seq would skip new items: it is assigned
      * above max(seq) and meta.outbox_acked, which ack raises. */
     "CREATE TABLE outbox ("
     "  seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT, data BLOB);"
     /* Contentless: the text is already in messages. The indexed body is a
      * pure function of the text (fts_body), so a row can be deleted by
      * recomputing it; changing fts_body needs a migration that rebuilds. */
     "CREATE VIRTUAL TABLE message_fts USING fts5(body, content='', columnsize=0,"
     "  tokenize='unicode61 remove_diacritics 2');"
     /* fts_done: every message with id <= it is in message_fts, none above. */
     "CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
     "INSERT INTO meta VALUES ('fts_done', 0), ('outbox_acked', 0);"},
    /* Slack's rich parts (chat_post_opts): NULL when absent, as is most
     * rows' case, which costs a byte each. */
    {2,
     "ALTER TABLE messages ADD COLUMN blocks TEXT;"
     "ALTER TABLE messages ADD COLUMN attachments TEXT;"
     "ALTER TABLE messages ADD COLUMN metadata TEXT;"
     "ALTER TABLE messages ADD COLUMN username TEXT;"
     "ALTER TABLE messages ADD COLUMN icon_emoji TEXT;"
     "ALTER TABLE messages ADD COLUMN icon_url TEXT;"
     "ALTER TABLE messages ADD COLUMN bot_id TEXT;"
     "ALTER TABLE messages ADD COLUMN msg_flags INTEGER NOT NULL DEFAULT 0;"},
    /* Messages waiting for their time (message_scheduled.c). */
    {3,
     "CREATE TABLE scheduled ("
     "  id          TEXT PRIMARY KEY,"
     "  team_id     TEXT NOT NULL,"
     "  channel     TEXT NOT NULL,"
     "  user_id     TEXT NOT NULL,"
     "  post_at     INTEGER NOT NULL," /* unix seconds */
     "  created     INTEGER NOT NULL,"
     "  text        TEXT NOT NULL,"
     "  data        TEXT NOT NULL,"
     "  lease_until INTEGER NOT NULL DEFAULT 0" /* unix ms */
     ") WITHOUT ROWID;"
     "CREATE INDEX scheduled_due ON scheduled (post_at, lease_until);"
     "CREATE INDEX scheduled_by_user ON scheduled (team_id, user_id, post_at);"},
    /* reactions.list: what a person reacted to. */
    {4, "CREATE INDEX reactions_by_user ON reactions (user, msg);"},
};

/* ------------------------------------------------------------ threads --- */

/* The parent of the thread that thread_ts names: that message, or, when it is
 * itself a reply, its parent (Slack accepts any ts of a thread).
 * thread_not_found when neither exists. */
chat_err chati_sqlite_thread_parent(chati_sqlite_msgs *s, const char *channel, int64_t thread_ts,
                                    int64_t *pid, int64_t *pts)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT id, thread_ts FROM messages WHERE channel = ?1 AND ts = ?2",
                       &st);
    for (int hop = 0; rv == CHAT_OK; hop++) {
        bind_text(st, 1, channel);
        sqlite3_bind_int64(st, 2, thread_ts);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL && hop == 0) {
            thread_ts = sqlite3_column_int64(st, 1);
            sqlite3_reset(st);
            continue;
        }
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) == SQLITE_NULL) {
            *pid = sqlite3_column_int64(st, 0);
            *pts = thread_ts;
        } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
            rv = chati_fail(CHAT_ERR_THREAD_NOT_FOUND, "no thread %" PRId64 " in %s",
                            thread_ts, channel);
        } else {
            rv = chati_db_err(s->db, rc, "finding thread");
        }
        sqlite3_reset(st);
        break;
    }
    return rv;
}

/* Recounts a thread after one of its replies went away. */
static chat_err thread_recount(chati_sqlite_msgs *s, const char *channel, int64_t parent_ts)
{
    sqlite3_stmt *st;
    int64_t pid = 0, count = 0, latest = 0;
    chat_err rv = prep(s, "SELECT id FROM messages WHERE channel = ?1 AND ts = ?2", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, parent_ts);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        pid = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return CHAT_OK; /* the parent itself is gone: nothing to keep count on */
    if (rc != SQLITE_ROW)
        return chati_db_err(s->db, rc, "finding thread");

    if ((rv = prep(s,
                   "SELECT count(*), max(ts) FROM messages WHERE channel = ?1 AND thread_ts = ?2",
                   &st)) != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, parent_ts);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        count = sqlite3_column_int64(st, 0);
        latest = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return chati_db_err(s->db, rc, "counting replies");

    if ((rv = prep(s, "UPDATE messages SET reply_count = ?2, latest_reply = ?3 WHERE id = ?1",
                   &st)) != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, count);
    if (count > 0)
        sqlite3_bind_int64(st, 3, latest);
    else
        sqlite3_bind_null(st, 3);
    if ((rv = step_done(s, st, "updating thread")) != CHAT_OK)
        return rv;

    if ((rv = prep(s, "DELETE FROM reply_users WHERE msg = ?1", &st)) != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, pid);
    if ((rv = step_done(s, st, "updating thread")) != CHAT_OK)
        return rv;
    if ((rv = prep(s,
                   "INSERT INTO reply_users(msg, user, first_ts) SELECT ?1, user, min(ts) "
                   "FROM messages WHERE channel = ?2 AND thread_ts = ?3 GROUP BY user",
                   &st)) != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, pid);
    bind_text(st, 2, channel);
    sqlite3_bind_int64(st, 3, parent_ts);
    return step_done(s, st, "updating thread");
}

/* -------------------------------------------------------- open, close --- */

static chat_err ms_open(const char *url, const chat_config *cfg, void **impl)
{
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "message store: no URL");
    bool exclusive = false;
    if (chati_db_locking(cfg, &exclusive) != CHAT_OK)
        return CHAT_ERR_INVALID_CONFIG;
    chati_sqlite_msgs *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    chat_err rv = chati_db_open(chati_url_rest(url), exclusive, migrations, CHATI_ARRAY_LEN(migrations),
                                &s->db);
    if (rv != CHAT_OK) {
        chat_free(s);
        return rv;
    }
    pthread_mutex_init(&s->gc_mu, NULL);
    s->gc_tail = &s->gc_head;
    *impl = s;
    return CHAT_OK;
}

static void ms_close(void *impl)
{
    chati_sqlite_msgs *s = impl;
    if (s == NULL)
        return;
    chati_db_close(s->db);
    pthread_mutex_destroy(&s->gc_mu);
    chat_free(s);
}

/* -------------------------------------------------------- get, update --- */

static chat_err ms_get(void *impl, const char *channel, const char *ts, chat_message **out)
{
    chati_sqlite_msgs *s = impl;
    int64_t us;
    if (channel == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "get: no channel");
    chat_err rv = parse_ts(ts, &us, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv != CHAT_OK)
        return rv;
    chati_sqlite_msg e = {0};
    chati_db_lock(s->db);
    rv = chati_sqlite_msg_load(s, channel, us, &e);
    chati_db_unlock(s->db);
    if (rv == CHAT_OK)
        *out = e.m;
    return rv;
}

static chat_err update_locked(chati_sqlite_msgs *s, const chat_message *m, int64_t ts,
                              chat_outbox_fn outbox, void *arg, chat_message **res)
{
    int64_t id = 0, edited = 0;
    char *old = NULL;
    chati_buf mentions = {0};
    sqlite3_stmt *st;
    chati_sqlite_msg e = {0};

    if (m->edited_ts[0] != '\0' && !chati_ts_parse(m->edited_ts, &edited))
        return chati_fail(CHAT_ERR_INVALID_TS, "invalid edited_ts \"%s\"", m->edited_ts);
    chat_err rv = chati_sqlite_msg_find(s, m->channel, ts, &id, &old);
    if (rv == CHAT_OK)
        rv = chati_sqlite_ids_join((const char(*)[CHAT_ID_SIZE])m->mentions, m->n_mentions,
                                   &mentions);
    if (rv == CHAT_OK)
        rv = prep(s,
                  "UPDATE messages SET text = ?2, mentions = ?3, mention_flags = ?4, "
                  "edited_user = ?5, edited_ts = ?6, blocks = ?7, attachments = ?8, "
                  "metadata = ?9 WHERE id = ?1",
                  &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, m->text);
        bind_opt(st, 3, mentions.data);
        sqlite3_bind_int(st, 4, (int)m->mention_flags);
        bind_opt(st, 5, m->edited_user);
        if (m->edited_ts[0] != '\0')
            sqlite3_bind_int64(st, 6, edited);
        bind_opt(st, 7, m->blocks);
        bind_opt(st, 8, m->attachments);
        bind_opt(st, 9, m->metadata);
        rv = step_done(s, st, "updating message");
    }
    if (rv == CHAT_OK)
        rv = chati_sqlite_fts_reindex(s, id, old, m->text);
    if (rv == CHAT_OK)
        rv = chati_sqlite_msg_load(s, m->channel, ts, &e);
    if (rv == CHAT_OK)
        rv = chati_sqlite_outbox_put(s, outbox, arg, e.m);
    if (rv == CHAT_OK)
        *res = e.m;
    else
        chat_message_free(e.m);
    chat_free(old);
    chati_buf_free(&mentions);
    return rv;
}

static chat_err ms_update(void *impl, const chat_message *m, chat_outbox_fn outbox,
                          void *outbox_arg, chat_message **out)
{
    chati_sqlite_msgs *s = impl;
    int64_t ts;
    chat_message *res = NULL;
    if (m == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "update: no message");
    chat_err rv = parse_ts(m->ts, &ts, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv == CHAT_OK)
        rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = update_locked(s, m, ts, outbox, outbox_arg, &res);
    if (rv == CHAT_OK)
        rv = chati_db_commit(s->db);
    else
        chati_db_rollback(s->db);
    if (rv == CHAT_OK && out != NULL)
        *out = res;
    else
        chat_message_free(res);
    return rv;
}

/* ------------------------------------------------------------- remove --- */

static chat_err exec_id(chati_sqlite_msgs *s, const char *sql, int64_t id)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, sql, &st);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, id);
    return step_done(s, st, "removing message");
}

static chat_err remove_locked(chati_sqlite_msgs *s, const char *channel, int64_t ts,
                              chat_outbox_fn outbox, void *arg)
{
    chati_sqlite_msg e = {0};
    chat_err rv = chati_sqlite_msg_load(s, channel, ts, &e);
    if (rv != CHAT_OK)
        return rv;
    bool reply = e.m->thread_ts[0] != '\0' && strcmp(e.m->thread_ts, e.m->ts) != 0;
    int64_t parent = 0;
    if (reply)
        chati_ts_parse(e.m->thread_ts, &parent);

    rv = exec_id(s, "DELETE FROM messages WHERE id = ?1", e.id);
    if (rv == CHAT_OK && e.n_reactions > 0)
        rv = exec_id(s, "DELETE FROM reactions WHERE msg = ?1", e.id);
    if (rv == CHAT_OK && e.m->reply_count > 0)
        rv = exec_id(s, "DELETE FROM reply_users WHERE msg = ?1", e.id);
    if (rv == CHAT_OK)
        rv = chati_sqlite_fts_unindex(s, e.id, e.m->text);
    if (rv == CHAT_OK && reply)
        rv = thread_recount(s, channel, parent);
    if (rv == CHAT_OK)
        rv = chati_sqlite_outbox_put(s, outbox, arg, e.m);
    chat_message_free(e.m);
    return rv;
}

static chat_err ms_remove(void *impl, const char *channel, const char *ts, chat_outbox_fn outbox,
                          void *outbox_arg)
{
    chati_sqlite_msgs *s = impl;
    int64_t us;
    if (channel == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "remove: no channel");
    chat_err rv = parse_ts(ts, &us, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv == CHAT_OK)
        rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = remove_locked(s, channel, us, outbox, outbox_arg);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

/* ---------------------------------------------------------------- ops --- */

const chat_message_store_ops chati_sqlite_message_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "sqlite",
    .open = ms_open,
    .close = ms_close,
    .post = chati_sqlite_post,
    .get = ms_get,
    .update = ms_update,
    .remove = ms_remove,
    .add_reaction = chati_sqlite_add_reaction,
    .remove_reaction = chati_sqlite_remove_reaction,
    .history = chati_sqlite_history,
    .replies = chati_sqlite_replies,
    .search = chati_sqlite_search,
    .file_insert = chati_sqlite_file_insert,
    .file_get = chati_sqlite_file_get,
    .file_list = chati_sqlite_file_list,
    .file_delete = chati_sqlite_file_delete,
    .outbox_fetch = chati_sqlite_outbox_fetch,
    .outbox_ack = chati_sqlite_outbox_ack,
    .outbox_add = chati_sqlite_outbox_add,
    .file_complete = chati_sqlite_file_complete,
    .file_set_title = chati_sqlite_file_set_title,
    .import = chati_sqlite_import,
    .schedule = chati_sqlite_schedule,
    .list_scheduled = chati_sqlite_list_scheduled,
    .unschedule = chati_sqlite_unschedule,
    .lease_scheduled = chati_sqlite_lease_scheduled,
    .reacted = chati_sqlite_reacted,
};
