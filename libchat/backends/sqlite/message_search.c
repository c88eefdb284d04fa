/*
 * libchat/backends/sqlite/message_search.c - full-text search: the FTS5
 * index, kept in batches behind posting, and the query that searches it.
 */
#include "backends/sqlite/message_store.h"

/* --------------------------------------------------------------- text --- */

/* The indexed form of a message text: the text with spaces around every CJK
 * character, so unicode61 makes each one a token. *body points either at text
 * (nothing to change, the common case) or into b. */
static chat_err fts_body(const char *text, chati_buf *b, const char **body)
{
    const unsigned char *p = (const unsigned char *)(text != NULL ? text : "");
    const unsigned char *q = p;
    /* Every CJK character is encoded with a lead byte >= 0xE2. */
    while (*q && *q < 0xE2)
        q++;
    if (*q == '\0') {
        *body = (const char *)p;
        return CHAT_OK;
    }
    b->len = 0;
    if (chati_buf_append(b, p, (size_t)(q - p)) != CHAT_OK)
        return chati_fail(CHAT_ERR_NOMEM, "search index");
    while (*q) {
        uint32_t c;
        size_t n = chati_utf8_next(q, &c);
        bool cjk = chati_is_cjk(c);
        if ((cjk && chati_buf_append(b, " ", 1) != CHAT_OK) ||
            chati_buf_append(b, q, n) != CHAT_OK ||
            (cjk && chati_buf_append(b, " ", 1) != CHAT_OK))
            return chati_fail(CHAT_ERR_NOMEM, "search index");
        q += n;
    }
    *body = b->data;
    return CHAT_OK;
}

/* Turns a user's query into an FTS5 expression that has no operators in it:
 * every run of non-space, non-CJK characters becomes a quoted phrase with a
 * prefix star ("deploy"*), and every run of CJK characters a quoted phrase of
 * its characters ("東 京"), all ANDed. Inside double quotes FTS5 syntax
 * (NEAR, AND, -, ^, column:, parentheses, *) is plain text, and embedded
 * quotes are doubled, so nothing the user types can change the query's
 * shape. A run that holds no token characters ("*", "-") is an empty phrase,
 * which FTS5 ignores. *any tells whether the query had anything but spaces. */
static chat_err fts_query(const char *query, chati_buf *b, bool *any)
{
    enum { NONE, WORD, CJK } mode = NONE;
    chat_err rv = CHAT_OK;
    const unsigned char *q = (const unsigned char *)query;
    *any = false;
    while (*q && rv == CHAT_OK) {
        uint32_t c;
        size_t n = chati_utf8_next(q, &c);
        bool cjk = chati_is_cjk(c);
        if (chati_is_space(c)) {
            if (mode == WORD)
                rv = chati_buf_puts(b, "\"* ");
            else if (mode == CJK)
                rv = chati_buf_puts(b, "\" ");
            mode = NONE;
        } else if (cjk) {
            if (mode == WORD)
                rv = chati_buf_puts(b, "\"* \"");
            else if (mode == NONE)
                rv = chati_buf_puts(b, "\"");
            else
                rv = chati_buf_puts(b, " ");
            if (rv == CHAT_OK)
                rv = chati_buf_append(b, q, n);
            mode = CJK;
        } else {
            if (mode == CJK)
                rv = chati_buf_puts(b, "\" \"");
            else if (mode == NONE)
                rv = chati_buf_puts(b, "\"");
            mode = WORD;
            if (rv == CHAT_OK)
                rv = c == '"' ? chati_buf_puts(b, "\"\"") : chati_buf_append(b, q, n);
        }
        *any = *any || !chati_is_space(c);
        q += n;
    }
    if (rv == CHAT_OK && mode == WORD)
        rv = chati_buf_puts(b, "\"*");
    else if (rv == CHAT_OK && mode == CJK)
        rv = chati_buf_puts(b, "\"");
    return rv == CHAT_OK ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "search query");
}

/* -------------------------------------------------------------- index --- */

static chat_err fts_insert(chati_sqlite_msgs *s, int64_t id, const char *text)
{
    chati_buf b = {0};
    const char *body;
    sqlite3_stmt *st;
    chat_err rv = fts_body(text, &b, &body);
    if (rv == CHAT_OK)
        rv = prep(s, "INSERT INTO message_fts(rowid, body) VALUES (?1, ?2)", &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, body);
        rv = step_done(s, st, "indexing message");
    }
    chati_buf_free(&b);
    return rv;
}

/* A contentless FTS5 row is deleted by repeating what was indexed. */
static chat_err fts_delete(chati_sqlite_msgs *s, int64_t id, const char *text)
{
    chati_buf b = {0};
    const char *body;
    sqlite3_stmt *st;
    chat_err rv = fts_body(text, &b, &body);
    if (rv == CHAT_OK)
        rv = prep(s,
                  "INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', ?1, ?2)",
                  &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, body);
        rv = step_done(s, st, "unindexing message");
    }
    chati_buf_free(&b);
    return rv;
}

/* Indexing runs behind posting: FTS5 writes a new segment per transaction,
 * which doubled the cost of a post, so messages are indexed FTS_BATCH at a
 * time (piggybacked on the post that fills a batch) and search first indexes
 * whatever is left, so results are always complete. messages itself is the
 * queue: ids above meta.fts_done are not indexed yet. */
#define FTS_BATCH 512

chat_err chati_sqlite_fts_done(chati_sqlite_msgs *s, int64_t *done)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT v FROM meta WHERE k = 'fts_done'", &st);
    if (rv != CHAT_OK)
        return rv;
    int rc = sqlite3_step(st);
    *done = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CHAT_OK : chati_db_err(s->db, rc, "reading index state");
}

/* Indexes every message above the watermark. Inside a write transaction. */
static chat_err fts_catch_up(chati_sqlite_msgs *s, int64_t done)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT id, text FROM messages WHERE id > ?1 ORDER BY id", &st);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, done);
    int64_t last = done;
    int rc = SQLITE_DONE;
    while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        last = sqlite3_column_int64(st, 0);
        rv = fts_insert(s, last, (const char *)sqlite3_column_text(st, 1));
    }
    if (rv == CHAT_OK && rc != SQLITE_DONE)
        rv = chati_db_err(s->db, rc, "indexing messages");
    sqlite3_reset(st);
    if (rv != CHAT_OK || last == done)
        return rv;
    return chati_sqlite_fts_set_done(s, last);
}

/* Brings the index up to date before a search. */
static chat_err fts_sync(chati_sqlite_msgs *s)
{
    int64_t done = 0;
    chat_err rv = chati_sqlite_fts_done(s, &done);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_stmt *st;
    if ((rv = prep(s, "SELECT max(id) FROM messages", &st)) != CHAT_OK)
        return rv;
    int rc = sqlite3_step(st);
    int64_t top = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return chati_db_err(s->db, rc, "reading index state");
    if (top <= done)
        return CHAT_OK;
    if ((rv = chati_db_begin(s->db)) != CHAT_OK)
        return rv;
    /* Another connection may have caught up in between: read it again. */
    rv = chati_sqlite_fts_done(s, &done);
    if (rv == CHAT_OK)
        rv = fts_catch_up(s, done);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

/* A changed or removed message leaves the index only if it got there. */
static chat_err fts_indexed(chati_sqlite_msgs *s, int64_t id, bool *yes)
{
    int64_t done = 0;
    chat_err rv = chati_sqlite_fts_done(s, &done);
    *yes = id <= done;
    return rv;
}

chat_err chati_sqlite_fts_catch_up(chati_sqlite_msgs *s, int64_t *done)
{
    chat_err rv = chati_sqlite_fts_done(s, done);
    if (rv == CHAT_OK)
        rv = fts_catch_up(s, *done);
    if (rv == CHAT_OK)
        rv = chati_sqlite_fts_done(s, done);
    return rv;
}

chat_err chati_sqlite_fts_add(chati_sqlite_msgs *s, int64_t id, const char *text)
{
    return fts_insert(s, id, text);
}

chat_err chati_sqlite_fts_set_done(chati_sqlite_msgs *s, int64_t done)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "UPDATE meta SET v = ?1 WHERE k = 'fts_done'", &st);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, done);
    return step_done(s, st, "indexing messages");
}

chat_err chati_sqlite_fts_posted(chati_sqlite_msgs *s, int64_t id, int64_t done)
{
    return id - done >= FTS_BATCH ? fts_catch_up(s, done) : CHAT_OK;
}

chat_err chati_sqlite_fts_reindex(chati_sqlite_msgs *s, int64_t id, const char *old,
                                  const char *text)
{
    bool indexed = false;
    chat_err rv = fts_indexed(s, id, &indexed);
    if (rv == CHAT_OK && indexed)
        rv = fts_delete(s, id, old);
    if (rv == CHAT_OK && indexed)
        rv = fts_insert(s, id, text);
    return rv;
}

chat_err chati_sqlite_fts_unindex(chati_sqlite_msgs *s, int64_t id, const char *text)
{
    bool indexed = false;
    chat_err rv = fts_indexed(s, id, &indexed);
    if (rv == CHAT_OK && indexed)
        rv = fts_delete(s, id, text);
    return rv;
}

/* ------------------------------------------------------------- search --- */

chat_err chati_sqlite_search(void *impl, const char *query, const char (*channels)[CHAT_ID_SIZE],
                             size_t n_channels, const char *cursor, int limit, chat_list **out)
{
    chati_sqlite_msgs *s = impl;
    chati_buf q = {0}, chans = {0};
    bool any = false, has_cursor;
    /* Without a cursor: everything, newest first. */
    int64_t after_ts = INT64_MAX;
    char after_ch[CHAT_ID_SIZE] = "";
    sqlite3_stmt *st;
    chati_sqlite_page p = {0};
    bool more = false;
    chat_list *l = NULL;

    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "search: no output");
    chat_err rv = fts_query(query != NULL ? query : "", &q, &any);
    if (rv == CHAT_OK && !any)
        rv = chati_fail(CHAT_ERR_NO_QUERY, "empty search query");
    if (rv == CHAT_OK)
        rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_ts_id_cursor_in(cursor, 's', &has_cursor, &after_ts, after_ch);
    if (rv == CHAT_OK)
        rv = chati_sqlite_json_ids(channels, channels != NULL ? n_channels : 0, &chans);
    if (rv != CHAT_OK)
        goto done;
    if (channels == NULL || n_channels == 0) {
        rv = chati_sqlite_page_to_list(&p, out);
        goto done;
    }

    chati_db_lock(s->db);
    rv = fts_sync(s);
    /* Newest first across channels: (ts, channel) is unique and orders the
     * cursor. The FTS match is evaluated once into a rowid set. */
    if (rv == CHAT_OK)
        rv = prep(s,
                  "SELECT " CHATI_SQLITE_MSG_COLS " FROM messages WHERE id IN "
                  "(SELECT rowid FROM message_fts WHERE message_fts MATCH ?1) "
                  "AND channel IN (SELECT value FROM json_each(?2)) "
                  "AND (ts < ?3 OR (ts = ?3 AND channel < ?4)) "
                  "ORDER BY ts DESC, channel DESC LIMIT ?5",
                  &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, chans.data, (int)chans.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, after_ts);
        bind_text(st, 4, after_ch);
        sqlite3_bind_int(st, 5, limit + 1);
        rv = chati_sqlite_page_read(s, st, limit, &p, &more);
    }
    if (rv == CHAT_OK)
        rv = chati_sqlite_page_attach(s, &p);
    chati_db_unlock(s->db);

    int64_t last = rv == CHAT_OK && more ? p.e[p.n - 1].ts : 0;
    if (rv == CHAT_OK)
        rv = chati_sqlite_page_to_list(&p, &l);
    if (rv == CHAT_OK && more) {
        size_t n = chat_list_count(l);
        rv = chati_page_ts_id_cursor_out('s', last, chat_list_message(l, n - 1)->channel, l);
    }
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
done:
    chati_sqlite_page_free(&p);
    chati_buf_free(&q);
    chati_buf_free(&chans);
    return rv;
}
