/*
 * libchat/backends/sqlite/message_reactions.c - adding and removing
 * reactions: one row per (message, name, user), counted on the message so
 * that a page reads the reactions table only for messages that have any.
 */
#include "backends/sqlite/message_store.h"

static chat_err react_locked(chati_sqlite_msgs *s, const char *channel, int64_t ts,
                             const char *name, const char *user, bool add, chat_outbox_fn outbox,
                             void *arg)
{
    int64_t id = 0;
    sqlite3_stmt *st;
    chat_err rv = chati_sqlite_msg_find(s, channel, ts, &id, NULL);
    if (rv != CHAT_OK)
        return rv;
    if (add)
        rv = prep(s,
                  "INSERT OR IGNORE INTO reactions(msg, name, user, seq) VALUES (?1, ?2, ?3, "
                  "(SELECT coalesce(max(seq), 0) + 1 FROM reactions WHERE msg = ?1))",
                  &st);
    else
        rv = prep(s, "DELETE FROM reactions WHERE msg = ?1 AND name = ?2 AND user = ?3", &st);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, name);
    bind_text(st, 3, user);
    if ((rv = step_done(s, st, "changing reaction")) != CHAT_OK)
        return rv;
    if (sqlite3_changes(s->db->db) == 0)
        return add ? chati_fail(CHAT_ERR_ALREADY_REACTED, "%s already reacted with %s", user,
                                name)
                   : chati_fail(CHAT_ERR_NO_REACTION, "%s has no %s reaction", user, name);
    if ((rv = prep(s, "UPDATE messages SET n_reactions = n_reactions + ?2 WHERE id = ?1",
                   &st)) != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, add ? 1 : -1);
    if ((rv = step_done(s, st, "changing reaction")) != CHAT_OK)
        return rv;
    if (outbox == NULL)
        return CHAT_OK;
    chati_sqlite_msg e = {0};
    if ((rv = chati_sqlite_msg_load(s, channel, ts, &e)) == CHAT_OK)
        rv = chati_sqlite_outbox_put(s, outbox, arg, e.m);
    chat_message_free(e.m);
    return rv;
}

static chat_err react(chati_sqlite_msgs *s, const char *channel, const char *ts, const char *name,
                      const char *user, bool add, chat_outbox_fn outbox, void *arg)
{
    int64_t us;
    if (channel == NULL || name == NULL || name[0] == '\0' || user == NULL || user[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "reaction: missing argument");
    chat_err rv = parse_ts(ts, &us, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv == CHAT_OK)
        rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = react_locked(s, channel, us, name, user, add, outbox, arg);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

chat_err chati_sqlite_add_reaction(void *impl, const char *channel, const char *ts,
                                   const char *name, const char *user, chat_outbox_fn outbox,
                                   void *outbox_arg)
{
    return react(impl, channel, ts, name, user, true, outbox, outbox_arg);
}

chat_err chati_sqlite_remove_reaction(void *impl, const char *channel, const char *ts,
                                      const char *name, const char *user, chat_outbox_fn outbox,
                                      void *outbox_arg)
{
    return react(impl, channel, ts, name, user, false, outbox, outbox_arg);
}

chat_err chati_sqlite_reacted(void *impl, const char *user, const char (*channels)[CHAT_ID_SIZE],
                              size_t n_channels, const char *cursor, int limit, chat_list **out)
{
    chati_sqlite_msgs *s = impl;
    int64_t after_ts = INT64_MAX;
    char after_ch[CHAT_ID_SIZE] = "";
    bool has_cursor = false, more = false;
    chati_buf chans = {0};
    chati_sqlite_page p = {0};
    chat_list *l = NULL;
    sqlite3_stmt *st;
    if (out == NULL || user == NULL || *user == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "reacted: a user and an output");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_ts_id_cursor_in(cursor, 'r', &has_cursor, &after_ts, after_ch);
    if (rv == CHAT_OK)
        rv = chati_sqlite_json_ids(channels, channels != NULL ? n_channels : 0, &chans);
    if (rv == CHAT_OK && (channels == NULL || n_channels == 0)) {
        rv = chati_sqlite_page_to_list(&p, out);
        chati_buf_free(&chans);
        return rv;
    }
    if (rv == CHAT_OK) {
        chati_db_lock(s->db);
        rv = prep(s,
                  "SELECT " CHATI_SQLITE_MSG_COLS " FROM messages WHERE id IN "
                  "(SELECT msg FROM reactions WHERE user = ?1) "
                  "AND channel IN (SELECT value FROM json_each(?2)) "
                  "AND (ts < ?3 OR (ts = ?3 AND channel < ?4)) "
                  "ORDER BY ts DESC, channel DESC LIMIT ?5",
                  &st);
        if (rv == CHAT_OK) {
            bind_text(st, 1, user);
            sqlite3_bind_text(st, 2, chans.data, (int)chans.len, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, after_ts);
            bind_text(st, 4, after_ch);
            sqlite3_bind_int(st, 5, limit + 1);
            rv = chati_sqlite_page_read(s, st, limit, &p, &more);
        }
        if (rv == CHAT_OK)
            rv = chati_sqlite_page_attach(s, &p);
        chati_db_unlock(s->db);
    }
    int64_t last = rv == CHAT_OK && more ? p.e[p.n - 1].ts : 0;
    if (rv == CHAT_OK)
        rv = chati_sqlite_page_to_list(&p, &l);
    if (rv == CHAT_OK && more)
        rv = chati_page_ts_id_cursor_out('r', last,
                                         chat_list_message(l, chat_list_count(l) - 1)->channel, l);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    chati_sqlite_page_free(&p);
    chati_buf_free(&chans);
    return rv;
}
