/*
 * libchat/backends/sqlite/message_lists.c - history and thread replies: one
 * or two queries on (channel, ts) or the thread index, newest or oldest
 * first, with the ts window and cursors of core/paging.c.
 */
#include "backends/sqlite/message_store.h"

/* Finishes a page read under the lock: fills in side tables, unlocks, and
 * returns the list with has_more and a ts cursor. */
static chat_err finish_page(chati_sqlite_msgs *s, chat_err rv, chati_sqlite_page *p, bool more,
                            char tag, chat_list **out)
{
    if (rv == CHAT_OK)
        rv = chati_sqlite_page_attach(s, p);
    chati_db_unlock(s->db);
    int64_t last = p->n > 0 ? p->e[p->n - 1].ts : 0;
    chat_list *l = NULL;
    if (rv == CHAT_OK)
        rv = chati_sqlite_page_to_list(p, &l);
    chati_sqlite_page_free(p);
    if (rv == CHAT_OK && more && (rv = chati_page_ts_cursor_out(tag, last, l)) != CHAT_OK)
        chat_list_free(l);
    if (rv == CHAT_OK)
        *out = l;
    return rv;
}

chat_err chati_sqlite_history(void *impl, const char *channel, const char *latest,
                              const char *oldest, bool inclusive, int limit, const char *cursor,
                              chat_list **out)
{
    chati_sqlite_msgs *s = impl;
    int64_t lo, hi;
    sqlite3_stmt *st;
    if (channel == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "history: no channel");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_ts_window(latest, oldest, inclusive, cursor, 'h',
                                  CHATI_PAGE_NEWEST_FIRST, &lo, &hi);
    if (rv != CHAT_OK)
        return rv;

    chati_db_lock(s->db);
    rv = prep(s,
              "SELECT " CHATI_SQLITE_MSG_COLS " FROM messages "
              "WHERE channel = ?1 AND ts < ?2 AND ts > ?3 "
              "AND (thread_ts IS NULL OR reply_broadcast) ORDER BY ts DESC LIMIT ?4",
              &st);
    if (rv != CHAT_OK) {
        chati_db_unlock(s->db);
        return rv;
    }
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int64(st, 3, lo);
    sqlite3_bind_int(st, 4, limit + 1);
    chati_sqlite_page p = {0};
    bool more = false;
    rv = chati_sqlite_page_read(s, st, limit, &p, &more);
    return finish_page(s, rv, &p, more, 'h', out);
}

chat_err chati_sqlite_replies(void *impl, const char *channel, const char *thread_ts,
                              const char *latest, const char *oldest, bool inclusive, int limit,
                              const char *cursor, chat_list **out)
{
    chati_sqlite_msgs *s = impl;
    int64_t lo, hi, want, pid, parent;
    sqlite3_stmt *st;
    if (channel == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "replies: no channel");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = parse_ts(thread_ts, &want, CHAT_ERR_THREAD_NOT_FOUND);
    if (rv == CHAT_OK)
        rv = chati_page_ts_window(latest, oldest, inclusive, cursor, 'r',
                                  CHATI_PAGE_OLDEST_FIRST, &lo, &hi);
    if (rv != CHAT_OK)
        return rv;

    chati_sqlite_page p = {0};
    bool more = false;
    chati_db_lock(s->db);
    rv = chati_sqlite_thread_parent(s, channel, want, &pid, &parent);
    /* The parent sorts first (every reply is newer), then the replies in
     * thread index order: two queries, neither of which sorts. */
    if (rv == CHAT_OK && parent > lo && parent < hi &&
        (rv = prep(s, "SELECT " CHATI_SQLITE_MSG_COLS " FROM messages WHERE id = ?1", &st)) ==
            CHAT_OK) {
        sqlite3_bind_int64(st, 1, pid);
        rv = chati_sqlite_page_read(s, st, limit, &p, &more);
    }
    if (rv == CHAT_OK)
        rv = prep(s,
                  "SELECT " CHATI_SQLITE_MSG_COLS " FROM messages "
                  "WHERE channel = ?1 AND thread_ts = ?2 AND ts > ?3 AND ts < ?4 "
                  "ORDER BY ts LIMIT ?5",
                  &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, channel);
        sqlite3_bind_int64(st, 2, parent);
        sqlite3_bind_int64(st, 3, lo);
        sqlite3_bind_int64(st, 4, hi);
        sqlite3_bind_int(st, 5, limit + 1 - (int)p.n);
        rv = chati_sqlite_page_read(s, st, limit, &p, &more);
    }
    return finish_page(s, rv, &p, more, 'r', out);
}
