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
 * any other word becomes a prefix query. See fts_body() and fts_query().
 *
 * Every change runs in one transaction that also writes its outbox row.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/builtin.h"
#include "backends/sqlite/db.h"

typedef struct post_req post_req;

typedef struct msg_store {
    chati_db *db;
    /* Group commit of posts (see ms_post): callers queue here; the one that
     * finds no batch running runs every queued post in one transaction. */
    pthread_mutex_t gc_mu;
    post_req *gc_head, **gc_tail;
    bool gc_busy;               /* a leader is running a batch */
} msg_store;

/* ------------------------------------------------------------- schema --- */

static const chati_migration migrations[] = {
    {1,
     /* id is assigned above max(id) and meta.fts_done (post_insert), so an
      * id that was indexed is never reused. (AUTOINCREMENT would do that
      * with one more page written per post.) */
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
};

/* Columns of a message row, in the order read_message() expects. */
#define MSG_COLS                                                                           \
    "id, channel, ts, user, team, text, subtype, thread_ts, client_msg_id, edited_user, " \
    "edited_ts, reply_count, latest_reply, files, mentions, mention_flags, "             \
    "reply_broadcast, n_reactions"
enum {
    MC_ID, MC_CHANNEL, MC_TS, MC_USER, MC_TEAM, MC_TEXT, MC_SUBTYPE, MC_THREAD_TS,
    MC_CLIENT_MSG_ID, MC_EDITED_USER, MC_EDITED_TS, MC_REPLY_COUNT, MC_LATEST_REPLY,
    MC_FILES, MC_MENTIONS, MC_MENTION_FLAGS, MC_REPLY_BROADCAST, MC_N_REACTIONS
};

/* ------------------------------------------------------------ helpers --- */

static chat_err prep(msg_store *s, const char *sql, sqlite3_stmt **st)
{
    *st = chati_db_stmt(s->db, sql);
    return *st == NULL ? CHAT_ERR_STORAGE : CHAT_OK;
}

/* Binds a borrowed string. Statements run to completion inside the call and
 * chati_db_stmt clears bindings before the next use, so no copy is needed. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_STATIC);
}

/* NULL for NULL or "", as optional columns are stored. */
static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL || s[0] == '\0')
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static chat_err step_done(msg_store *s, sqlite3_stmt *st, const char *what)
{
    return chati_db_step_done(s->db, st, what);
}

static chat_err col_dup(sqlite3_stmt *st, int col, char **out)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    *out = NULL;
    if (v == NULL)
        return CHAT_OK;
    if ((*out = chat_strdup(v)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    return CHAT_OK;
}

static void col_ts(sqlite3_stmt *st, int col, char out[CHAT_TS_SIZE])
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        out[0] = '\0';
    else
        chati_ts_format(sqlite3_column_int64(st, col), out);
}

/* Parses a required message ts argument. */
static chat_err parse_ts(const char *ts, int64_t *us, chat_err missing)
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
static void *grow(void *arr, size_t n, size_t size)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return arr;
    return chat_realloc(arr, (n == 0 ? 4 : n * 2) * size);
}

/* Ids are [A-Z0-9]; a comma would corrupt the inline lists. */
static chat_err ids_join(const char (*ids)[CHAT_ID_SIZE], size_t n, chati_buf *b)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i][0] == '\0' || strchr(ids[i], ',') != NULL)
            return chati_fail(CHAT_ERR_INVALID_ID, "invalid id \"%s\" in list", ids[i]);
        if ((i > 0 && chati_buf_append(b, ",", 1) != CHAT_OK) ||
            chati_buf_puts(b, ids[i]) != CHAT_OK)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    return CHAT_OK;
}

static chat_err ids_split(const char *s, char (**out)[CHAT_ID_SIZE], size_t *n)
{
    *out = NULL;
    *n = 0;
    if (s == NULL || s[0] == '\0')
        return CHAT_OK;
    size_t count = 1;
    for (const char *p = s; *p; p++)
        count += *p == ',';
    char(*ids)[CHAT_ID_SIZE] = chat_calloc(count, CHAT_ID_SIZE);
    if (ids == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    size_t k = 0;
    for (const char *p = s; k < count; k++) {
        size_t len = strcspn(p, ",");
        if (len >= CHAT_ID_SIZE)
            len = 0; /* cannot have been written by us: drop rather than truncate */
        memcpy(ids[k], p, len);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    *out = ids;
    *n = count;
    return CHAT_OK;
}

/* A JSON array of strings for `IN (SELECT value FROM json_each(?))`, which
 * lets one cached statement take a list of any length. */
static chat_err json_strings(const char (*ids)[CHAT_ID_SIZE], size_t n, chati_buf *b)
{
    chat_err rv = chati_buf_append(b, "[", 1);
    for (size_t i = 0; i < n && rv == CHAT_OK; i++) {
        if (i > 0)
            rv = chati_buf_append(b, ",", 1);
        if (rv == CHAT_OK)
            rv = chati_buf_append(b, "\"", 1);
        const unsigned char *end = (const unsigned char *)ids[i] + CHAT_ID_SIZE;
        for (const unsigned char *p = (const unsigned char *)ids[i];
             p < end && *p && rv == CHAT_OK; p++) {
            if (*p == '"' || *p == '\\')
                rv = chati_buf_printf(b, "\\%c", *p);
            else if (*p < 0x20)
                rv = chati_buf_printf(b, "\\u%04x", *p);
            else
                rv = chati_buf_append(b, p, 1);
        }
        if (rv == CHAT_OK)
            rv = chati_buf_append(b, "\"", 1);
    }
    if (rv == CHAT_OK)
        rv = chati_buf_append(b, "]", 1);
    return rv == CHAT_OK ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "message store");
}

/* ---------------------------------------------------------------- text --- */

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

static chat_err fts_insert(msg_store *s, int64_t id, const char *text)
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
static chat_err fts_delete(msg_store *s, int64_t id, const char *text)
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

static chat_err fts_done(msg_store *s, int64_t *done)
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
static chat_err fts_catch_up(msg_store *s, int64_t done)
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
    if ((rv = prep(s, "UPDATE meta SET v = ?1 WHERE k = 'fts_done'", &st)) != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, last);
    return step_done(s, st, "indexing messages");
}

/* Brings the index up to date before a search. */
static chat_err fts_sync(msg_store *s)
{
    int64_t done = 0;
    chat_err rv = fts_done(s, &done);
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
    rv = fts_done(s, &done);
    if (rv == CHAT_OK)
        rv = fts_catch_up(s, done);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

/* A changed or removed message leaves the index only if it got there. */
static chat_err fts_indexed(msg_store *s, int64_t id, bool *yes)
{
    int64_t done = 0;
    chat_err rv = fts_done(s, &done);
    *yes = id <= done;
    return rv;
}

/* ---------------------------------------------------- reading messages --- */

/* One page of messages being built, with what the side tables need. */
typedef struct page_ent {
    chat_message *m;
    int64_t id;
    int64_t ts;
    int64_t n_reactions;
} page_ent;

typedef struct page {
    page_ent *e;
    size_t n;
} page;

static void page_free(page *p)
{
    for (size_t i = 0; i < p->n; i++)
        chat_message_free(p->e[i].m);
    chat_free(p->e);
    p->e = NULL;
    p->n = 0;
}

/* Builds a message from a row selected with MSG_COLS. */
static chat_err read_message(sqlite3_stmt *st, page_ent *ent)
{
    chat_message *m = chat_message_new();
    if (m == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    ent->m = m;
    ent->id = sqlite3_column_int64(st, MC_ID);
    ent->ts = sqlite3_column_int64(st, MC_TS);
    ent->n_reactions = sqlite3_column_int64(st, MC_N_REACTIONS);
    chati_db_col_fixed(st, MC_CHANNEL, m->channel, sizeof m->channel);
    chati_ts_format(ent->ts, m->ts);
    chati_db_col_fixed(st, MC_USER, m->user, sizeof m->user);
    chati_db_col_fixed(st, MC_TEAM, m->team_id, sizeof m->team_id);
    chati_db_col_fixed(st, MC_EDITED_USER, m->edited_user, sizeof m->edited_user);
    col_ts(st, MC_EDITED_TS, m->edited_ts);
    col_ts(st, MC_LATEST_REPLY, m->latest_reply);
    m->reply_count = sqlite3_column_int64(st, MC_REPLY_COUNT);
    if (sqlite3_column_type(st, MC_THREAD_TS) != SQLITE_NULL)
        col_ts(st, MC_THREAD_TS, m->thread_ts);
    else if (m->reply_count > 0)
        memcpy(m->thread_ts, m->ts, sizeof m->ts);
    m->mention_flags = (unsigned)sqlite3_column_int(st, MC_MENTION_FLAGS);
    m->reply_broadcast = sqlite3_column_int(st, MC_REPLY_BROADCAST) != 0;

    chat_err rv = col_dup(st, MC_TEXT, &m->text);
    if (rv == CHAT_OK)
        rv = col_dup(st, MC_SUBTYPE, &m->subtype);
    if (rv == CHAT_OK)
        rv = col_dup(st, MC_CLIENT_MSG_ID, &m->client_msg_id);
    if (rv == CHAT_OK)
        rv = ids_split((const char *)sqlite3_column_text(st, MC_FILES), &m->files, &m->n_files);
    if (rv == CHAT_OK)
        rv = ids_split((const char *)sqlite3_column_text(st, MC_MENTIONS), &m->mentions,
                       &m->n_mentions);
    return rv;
}

/* Reads up to limit rows into p; *has_more tells whether one more existed
 * (the statement asks for limit + 1). */
static chat_err page_read(msg_store *s, sqlite3_stmt *st, int limit, page *p, bool *has_more)
{
    int rc = SQLITE_DONE;
    chat_err rv = CHAT_OK;
    *has_more = false;
    while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (limit >= 0 && p->n == (size_t)limit) {
            *has_more = true;
            break;
        }
        page_ent *e = grow(p->e, p->n, sizeof *p->e);
        if (e == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "message store");
            break;
        }
        p->e = e;
        memset(&p->e[p->n], 0, sizeof p->e[p->n]);
        rv = read_message(st, &p->e[p->n]);
        p->n++; /* counted even on failure so page_free frees it */
    }
    if (rv == CHAT_OK && !*has_more && rc != SQLITE_DONE)
        rv = chati_db_err(s->db, rc, "reading messages");
    sqlite3_reset(st);
    return rv;
}

typedef struct id_idx {
    int64_t id;
    size_t idx;
} id_idx;

static int id_idx_cmp(const void *a, const void *b)
{
    int64_t x = ((const id_idx *)a)->id, y = ((const id_idx *)b)->id;
    return x < y ? -1 : x > y;
}

/* The page entry of a side-table row's msg id. Side rows come ordered by
 * msg, so the previous answer is tried first. */
static page_ent *page_find(page *p, const id_idx *map, size_t nmap, int64_t id,
                           page_ent *last)
{
    if (last != NULL && last->id == id)
        return last;
    id_idx key = {id, 0};
    const id_idx *hit = bsearch(&key, map, nmap, sizeof *map, id_idx_cmp);
    return hit != NULL ? &p->e[hit->idx] : NULL;
}

static chat_err add_reactor(chat_message *m, const char *name, const char *user)
{
    chat_reaction *r = NULL;
    for (size_t i = 0; i < m->n_reactions; i++)
        if (strcmp(m->reactions[i].name, name) == 0) {
            r = &m->reactions[i];
            break;
        }
    if (r == NULL) {
        chat_reaction *rs = grow(m->reactions, m->n_reactions, sizeof *rs);
        if (rs == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
        m->reactions = rs;
        r = &rs[m->n_reactions];
        memset(r, 0, sizeof *r);
        if ((r->name = chat_strdup(name)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
        m->n_reactions++;
    }
    char(*users)[CHAT_ID_SIZE] = grow(r->users, r->n_users, CHAT_ID_SIZE);
    if (users == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    r->users = users;
    chati_copy_fixed(r->users[r->n_users++], CHAT_ID_SIZE, user);
    return CHAT_OK;
}

static chat_err add_reply_user(chat_message *m, const char *user)
{
    char(*users)[CHAT_ID_SIZE] = grow(m->reply_users, m->n_reply_users, CHAT_ID_SIZE);
    if (users == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    m->reply_users = users;
    chati_copy_fixed(m->reply_users[m->n_reply_users++], CHAT_ID_SIZE, user);
    return CHAT_OK;
}

/* Runs one side-table query (msg, a, b) for the messages of the page picked
 * by `want`, handing each row to its message. */
static chat_err page_side(msg_store *s, page *p, const id_idx *map, const char *sql,
                          bool (*want)(const page_ent *), int kind)
{
    chati_buf ids = {0};
    chat_err rv = chati_buf_append(&ids, "[", 1);
    bool any = false;
    for (size_t i = 0; i < p->n && rv == CHAT_OK; i++) {
        if (!want(&p->e[i]))
            continue;
        rv = chati_buf_printf(&ids, "%s%" PRId64, any ? "," : "", p->e[i].id);
        any = true;
    }
    if (rv == CHAT_OK)
        rv = chati_buf_append(&ids, "]", 1);
    if (rv != CHAT_OK) {
        chati_buf_free(&ids);
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    if (!any) {
        chati_buf_free(&ids);
        return CHAT_OK;
    }

    sqlite3_stmt *st;
    rv = prep(s, sql, &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_text(st, 1, ids.data, (int)ids.len, SQLITE_STATIC);
        page_ent *last = NULL;
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            last = page_find(p, map, p->n, sqlite3_column_int64(st, 0), last);
            if (last == NULL)
                continue;
            const char *a = (const char *)sqlite3_column_text(st, 1);
            const char *b = (const char *)sqlite3_column_text(st, 2);
            if (kind == 'r')
                rv = add_reactor(last->m, a != NULL ? a : "", b != NULL ? b : "");
            else
                rv = add_reply_user(last->m, a != NULL ? a : "");
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "reading message details");
        sqlite3_reset(st);
    }
    chati_buf_free(&ids);
    return rv;
}

static bool has_reactions(const page_ent *e)
{
    return e->n_reactions > 0;
}

static bool has_replies(const page_ent *e)
{
    return e->m->reply_count > 0;
}

/* Fills reactions and reply_users for a whole page: at most two queries. */
static chat_err page_attach(msg_store *s, page *p)
{
    bool need = false;
    for (size_t i = 0; i < p->n && !need; i++)
        need = has_reactions(&p->e[i]) || has_replies(&p->e[i]);
    if (!need)
        return CHAT_OK;
    id_idx *map = chat_malloc(p->n * sizeof *map);
    if (map == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    for (size_t i = 0; i < p->n; i++)
        map[i] = (id_idx){p->e[i].id, i};
    qsort(map, p->n, sizeof *map, id_idx_cmp);
    chat_err rv = page_side(s, p, map,
                            "SELECT msg, name, user FROM reactions WHERE msg IN "
                            "(SELECT value FROM json_each(?1)) ORDER BY msg, seq",
                            has_reactions, 'r');
    if (rv == CHAT_OK)
        rv = page_side(s, p, map,
                       "SELECT msg, user, NULL FROM reply_users WHERE msg IN "
                       "(SELECT value FROM json_each(?1)) ORDER BY msg, first_ts",
                       has_replies, 'u');
    chat_free(map);
    return rv;
}

/* Moves the page's messages into a new list. */
static chat_err page_to_list(page *p, chat_list **out)
{
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    chat_err rv = CHAT_OK;
    for (size_t i = 0; i < p->n; i++) {
        chat_message *m = p->e[i].m;
        p->e[i].m = NULL;
        if (rv == CHAT_OK)
            rv = chat_list_push(l, m); /* takes m even on failure */
        else
            chat_message_free(m);
    }
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

/* Loads one whole message by (channel, ts). message_not_found when absent. */
static chat_err load_message(msg_store *s, const char *channel, int64_t ts, page_ent *out)
{
    sqlite3_stmt *st;
    page p = {0};
    bool more;
    chat_err rv = prep(s, "SELECT " MSG_COLS " FROM messages WHERE channel = ?1 AND ts = ?2",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, ts);
    rv = page_read(s, st, 1, &p, &more);
    if (rv == CHAT_OK && p.n == 0)
        rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %" PRId64 " in %s", ts,
                        channel);
    if (rv == CHAT_OK)
        rv = page_attach(s, &p);
    if (rv == CHAT_OK) {
        *out = p.e[0];
        p.e[0].m = NULL;
    }
    page_free(&p);
    return rv;
}

/* ----------------------------------------------------------- the outbox --- */

static chat_err outbox_insert(msg_store *s, const char *topic, const char *key, const void *data,
                              size_t len)
{
    sqlite3_stmt *st = NULL;
    if (topic == NULL)
        return chati_fail(CHAT_ERR_INTERNAL, "outbox item has no topic");
    chat_err rv = prep(s,
                       "INSERT INTO outbox(seq, topic, key, data) VALUES ((SELECT max("
                       "coalesce((SELECT max(seq) FROM outbox), 0), "
                       "(SELECT v FROM meta WHERE k = 'outbox_acked')) + 1), ?1, ?2, ?3)",
                       &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, topic);
        bind_opt(st, 2, key);
        if (data != NULL)
            sqlite3_bind_blob64(st, 3, data, len, SQLITE_STATIC);
        else
            sqlite3_bind_zeroblob(st, 3, 0);
        rv = step_done(s, st, "writing outbox");
        sqlite3_clear_bindings(st); /* data belongs to the caller */
    }
    return rv;
}

static chat_err outbox_put(msg_store *s, chat_outbox_fn fn, void *arg, const chat_message *m)
{
    if (fn == NULL)
        return CHAT_OK;
    chat_outbox_item it = {0};
    chat_err rv = fn(arg, m, &it);
    if (rv == CHAT_OK)
        rv = outbox_insert(s, it.topic, it.key, it.data, it.len);
    chat_free(it.topic);
    chat_free(it.key);
    chat_free(it.data);
    return rv;
}

/* ------------------------------------------------------ threads, files --- */

/* The parent of the thread that thread_ts names: that message, or, when it is
 * itself a reply, its parent (Slack accepts any ts of a thread).
 * thread_not_found when neither exists. */
static chat_err thread_parent(msg_store *s, const char *channel, int64_t thread_ts,
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
static chat_err thread_recount(msg_store *s, const char *channel, int64_t parent_ts)
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

/* Shares a file in a channel (no-op when already shared or unknown). */
static chat_err file_share(msg_store *s, const char *file, const char *channel)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s,
                       "INSERT OR IGNORE INTO file_channels(file, channel, ord) "
                       "SELECT id, ?2, (SELECT coalesce(max(ord), 0) + 1 FROM file_channels "
                       "WHERE file = ?1) FROM files WHERE id = ?1",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, file);
    bind_text(st, 2, channel);
    return step_done(s, st, "sharing file");
}

/* --------------------------------------------------------- open, close --- */

static chat_err ms_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "message store: no URL");
    msg_store *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    chat_err rv = chati_db_open(chati_url_rest(url), migrations, CHATI_ARRAY_LEN(migrations),
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
    msg_store *s = impl;
    if (s == NULL)
        return;
    chati_db_close(s->db);
    pthread_mutex_destroy(&s->gc_mu);
    chat_free(s);
}

/* ---------------------------------------------------------------- post --- */

/* Finds an earlier message with the same client_msg_id; *out gets it. */
static chat_err post_dedupe(msg_store *s, const chat_message *m, chat_message **out)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT ts FROM messages WHERE channel = ?1 AND client_msg_id = ?2",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, m->channel);
    bind_text(st, 2, m->client_msg_id);
    int rc = sqlite3_step(st);
    int64_t ts = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return CHAT_OK;
    if (rc != SQLITE_ROW)
        return chati_db_err(s->db, rc, "checking client_msg_id");
    page_ent e = {0};
    if ((rv = load_message(s, m->channel, ts, &e)) != CHAT_OK)
        return rv;
    rv = chati_fail(CHAT_ERR_DUPLICATE, "client_msg_id %s already posted as %s",
                    m->client_msg_id, e.m->ts);
    if (out != NULL)
        *out = e.m;
    else
        chat_message_free(e.m);
    return rv;
}

/* ts = max(now, newest in channel + 1us): max(ts) is one index seek. */
static chat_err post_ts(msg_store *s, const char *channel, int64_t now_us, int64_t *ts)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT max(ts) FROM messages WHERE channel = ?1", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ts = now_us;
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            int64_t last = sqlite3_column_int64(st, 0);
            if (last >= now_us)
                *ts = last + 1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CHAT_OK : chati_db_err(s->db, rc, "choosing ts");
}

static chat_err post_insert(msg_store *s, const chat_message *v, int64_t ts, int64_t thread,
                            int64_t done, int64_t *id)
{
    chati_buf files = {0}, mentions = {0};
    sqlite3_stmt *st;
    chat_err rv = ids_join((const char(*)[CHAT_ID_SIZE])v->files, v->n_files, &files);
    if (rv == CHAT_OK)
        rv = ids_join((const char(*)[CHAT_ID_SIZE])v->mentions, v->n_mentions, &mentions);
    if (rv == CHAT_OK)
        rv = prep(s,
                  "INSERT INTO messages(id, channel, ts, user, team, text, subtype, "
                  "thread_ts, client_msg_id, files, mentions, mention_flags, reply_broadcast) "
                  "VALUES (max(coalesce((SELECT max(id) FROM messages), 0), ?13) + 1, "
                  "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                  &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, v->channel);
        sqlite3_bind_int64(st, 2, ts);
        bind_text(st, 3, v->user);
        bind_text(st, 4, v->team_id);
        bind_text(st, 5, v->text);
        bind_opt(st, 6, v->subtype);
        if (thread != 0)
            sqlite3_bind_int64(st, 7, thread);
        bind_opt(st, 8, v->client_msg_id);
        bind_opt(st, 9, files.data);
        bind_opt(st, 10, mentions.data);
        sqlite3_bind_int(st, 11, (int)v->mention_flags);
        sqlite3_bind_int(st, 12, v->reply_broadcast);
        sqlite3_bind_int64(st, 13, done);
        rv = step_done(s, st, "storing message");
        /* One unique index covers (channel, ts) and one client_msg_id: both
         * were checked above, so a conflict here is a concurrent writer
         * outside this process and not a duplicate post. */
        if (rv == CHAT_ERR_DUPLICATE)
            rv = chati_fail(CHAT_ERR_STORAGE, "message %s/%" PRId64 " clashed", v->channel, ts);
        *id = sqlite3_last_insert_rowid(s->db->db);
    }
    chati_buf_free(&files);
    chati_buf_free(&mentions);
    return rv;
}

static chat_err post_reply(msg_store *s, int64_t pid, const char *user, int64_t ts)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s,
                       "UPDATE messages SET reply_count = reply_count + 1, latest_reply = ?2 "
                       "WHERE id = ?1",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, ts);
    if ((rv = step_done(s, st, "updating thread")) != CHAT_OK)
        return rv;
    /* OR IGNORE keeps the first reply's position for a returning user. */
    if ((rv = prep(s,
                   "INSERT OR IGNORE INTO reply_users(msg, user, first_ts) VALUES (?1, ?2, ?3)",
                   &st)) != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, pid);
    bind_text(st, 2, user);
    sqlite3_bind_int64(st, 3, ts);
    return step_done(s, st, "updating thread");
}

/* Everything post does, inside the transaction. v is the message as stored;
 * it borrows m's strings and arrays. */
static chat_err post_locked(msg_store *s, const chat_message *m, int64_t now_us,
                            chat_outbox_fn outbox, void *arg, chat_message *v,
                            chat_message **dup_out)
{
    chat_err rv = CHAT_OK;
    int64_t ts = 0, pid = 0, thread = 0, id = 0;

    if (v->client_msg_id != NULL && (rv = post_dedupe(s, v, dup_out)) != CHAT_OK)
        return rv;
    if (m->thread_ts[0] != '\0') {
        int64_t want;
        if (!chati_ts_parse(m->thread_ts, &want))
            return chati_fail(CHAT_ERR_THREAD_NOT_FOUND, "invalid thread_ts \"%s\"",
                              m->thread_ts);
        if ((rv = thread_parent(s, m->channel, want, &pid, &thread)) != CHAT_OK)
            return rv;
        chati_ts_format(thread, v->thread_ts);
    }
    if ((rv = post_ts(s, m->channel, now_us, &ts)) != CHAT_OK)
        return rv;
    chati_ts_format(ts, v->ts);
    int64_t done = 0;
    if ((rv = fts_done(s, &done)) != CHAT_OK)
        return rv;
    if ((rv = post_insert(s, v, ts, thread, done, &id)) != CHAT_OK)
        return rv;
    if (id - done >= FTS_BATCH && (rv = fts_catch_up(s, done)) != CHAT_OK)
        return rv;
    if (thread != 0 && (rv = post_reply(s, pid, v->user, ts)) != CHAT_OK)
        return rv;
    for (size_t i = 0; i < v->n_files && rv == CHAT_OK; i++)
        rv = file_share(s, v->files[i], v->channel);
    if (rv == CHAT_OK)
        rv = outbox_put(s, outbox, arg, v);
    return rv;
}

/* Group commit. A COMMIT costs far more than the statements of one post, and
 * posts only ever wait for each other on the database mutex anyway, so
 * concurrent posts share one transaction: each caller queues a post_req; the
 * first that finds no batch running becomes the leader, takes every queued
 * request, runs each inside its own SAVEPOINT (a failure - duplicate,
 * thread_not_found, a refusing outbox - rolls back that post alone), commits
 * once and wakes the others with their own results. Requests run in queue
 * order, each seeing the ones before it, so ts order per channel, dedupe and
 * thread replies behave exactly as if the posts had run one after another.
 * A request is done only once the transaction that holds it has committed.
 * The error detail is per thread: the leader copies each failure's detail
 * into its request and every caller sets its own from there. */
#define POST_DETAIL_SIZE 512

struct post_req {
    const chat_message *m;
    int64_t now_us;
    chat_outbox_fn outbox;
    void *arg;
    chat_message v;             /* the message as stored; borrows m's strings */
    chat_message *dup;          /* the earlier message on CHAT_ERR_DUPLICATE */
    chat_err rv;
    bool done;                  /* under gc_mu: the result is final */
    pthread_cond_t cv;          /* signalled when done, or to lead */
    char detail[POST_DETAIL_SIZE];
    post_req *next;
};

static void req_fail(post_req *r, chat_err rv, const char *detail)
{
    r->rv = rv;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    chat_message_free(r->dup);
    r->dup = NULL;
}

/* Fails every request of a batch that was going to commit (CHAT_OK) or that
 * leaned on what the batch wrote (a duplicate of a message posted in it):
 * used when the transaction is lost. Other failures stand. */
static void batch_lost(post_req *list, chat_err rv)
{
    char detail[POST_DETAIL_SIZE];
    snprintf(detail, sizeof detail, "%s", chati_errmsg());
    for (post_req *r = list; r != NULL; r = r->next)
        if (r->rv == CHAT_OK || r->rv == CHAT_ERR_DUPLICATE)
            req_fail(r, rv, detail);
}

static chat_err batch_sql(msg_store *s, const char *sql)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, sql, &st);
    return rv == CHAT_OK ? step_done(s, st, sql) : rv;
}

/* Runs the posts of list in one transaction (the leader, without gc_mu). */
static void post_batch(msg_store *s, post_req *list)
{
    for (post_req *r = list; r != NULL; r = r->next)
        r->rv = CHAT_ERR_INTERNAL; /* not run yet */
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK) {
        char detail[POST_DETAIL_SIZE];
        snprintf(detail, sizeof detail, "%s", chati_errmsg());
        for (post_req *r = list; r != NULL; r = r->next)
            req_fail(r, rv, detail);
        return;
    }
    /* One post alone needs no savepoint: the transaction is its own. */
    bool single = list->next == NULL;
    size_t ok = 0;
    for (post_req *r = list; r != NULL; r = r->next) {
        if (!single && (rv = batch_sql(s, "SAVEPOINT post")) != CHAT_OK) {
            r->rv = CHAT_OK; /* so batch_lost fails it and the rest too */
            for (post_req *q = r->next; q != NULL; q = q->next)
                q->rv = CHAT_OK;
            batch_lost(list, rv);
            chati_db_rollback(s->db);
            return;
        }
        r->rv = post_locked(s, r->m, r->now_us, r->outbox, r->arg, &r->v, &r->dup);
        if (r->rv == CHAT_OK) {
            ok++;
            if (!single && (rv = batch_sql(s, "RELEASE post")) != CHAT_OK) {
                for (post_req *q = r->next; q != NULL; q = q->next)
                    q->rv = CHAT_OK;
                batch_lost(list, rv);
                chati_db_rollback(s->db);
                return;
            }
            continue;
        }
        snprintf(r->detail, sizeof r->detail, "%s", chati_errmsg());
        if (single)
            break;
        /* SQLite may have rolled the whole transaction back by itself (full
         * disk, I/O error): then the posts before this one are gone too. */
        if (sqlite3_get_autocommit(s->db->db) ||
            (rv = batch_sql(s, "ROLLBACK TO post")) != CHAT_OK ||
            (rv = batch_sql(s, "RELEASE post")) != CHAT_OK) {
            if (rv == CHAT_OK)
                rv = chati_fail(r->rv, "%s (the transaction was rolled back)", r->detail);
            for (post_req *q = r->next; q != NULL; q = q->next)
                q->rv = CHAT_OK;
            batch_lost(list, rv);
            chati_db_rollback(s->db);
            return;
        }
    }
    if (ok == 0) {
        /* Nothing to keep; a duplicate found here refers to an earlier,
         * committed message. */
        chati_db_rollback(s->db);
        return;
    }
    if ((rv = chati_db_commit(s->db)) != CHAT_OK)
        batch_lost(list, rv);
}

static chat_err ms_post(void *impl, const chat_message *m, int64_t now_us,
                        chat_outbox_fn outbox, void *outbox_arg, chat_message **out)
{
    msg_store *s = impl;
    if (m == NULL || m->channel[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "post: no channel");
    if (now_us <= 0)
        now_us = chati_now_us();

    post_req r;
    memset(&r, 0, sizeof r);
    pthread_cond_init(&r.cv, NULL);
    r.m = m;
    r.now_us = now_us;
    r.outbox = outbox;
    r.arg = outbox_arg;

    /* The stored message: m's content, with what the store decides. */
    chat_message *v = &r.v;
    *v = *m;
    v->ts[0] = '\0';
    v->thread_ts[0] = '\0';
    v->edited_user[0] = '\0';
    v->edited_ts[0] = '\0';
    v->reply_count = 0;
    v->latest_reply[0] = '\0';
    v->n_reply_users = 0;
    v->reply_users = NULL;
    v->n_reactions = 0;
    v->reactions = NULL;
    static char empty[1];
    v->text = m->text != NULL ? m->text : empty;
    if (v->client_msg_id != NULL && v->client_msg_id[0] == '\0')
        v->client_msg_id = NULL;
    if (v->subtype != NULL && v->subtype[0] == '\0')
        v->subtype = NULL;
    v->reply_broadcast = m->reply_broadcast && m->thread_ts[0] != '\0';

    pthread_mutex_lock(&s->gc_mu);
    *s->gc_tail = &r;
    s->gc_tail = &r.next;
    while (!r.done) {
        if (s->gc_busy) {
            pthread_cond_wait(&r.cv, &s->gc_mu);
            continue;
        }
        /* Lead: take everything queued, this request included. */
        s->gc_busy = true;
        post_req *batch = s->gc_head;
        s->gc_head = NULL;
        s->gc_tail = &s->gc_head;
        pthread_mutex_unlock(&s->gc_mu);
        post_batch(s, batch);
        pthread_mutex_lock(&s->gc_mu);
        for (post_req *q = batch; q != NULL; q = q->next) {
            q->done = true;
            /* q's thread needs gc_mu to see that, so q stays valid here. */
            if (q != &r)
                pthread_cond_signal(&q->cv);
        }
        s->gc_busy = false;
        /* What queued meanwhile waits for a leader: wake the oldest. */
        if (s->gc_head != NULL)
            pthread_cond_signal(&s->gc_head->cv);
    }
    pthread_mutex_unlock(&s->gc_mu);

    pthread_cond_destroy(&r.cv);
    chat_err rv = r.rv;
    if (rv != CHAT_OK) {
        chat_set_errmsg("%s", r.detail);
        if (rv == CHAT_ERR_DUPLICATE && r.dup != NULL && out != NULL) {
            *out = r.dup;
            return rv;
        }
        chat_message_free(r.dup);
        return rv;
    }
    if (out != NULL && (*out = chat_message_dup(v)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message stored as %s but not copied", v->ts);
    return rv;
}

/* --------------------------------------------------------- get, update --- */

static chat_err ms_get(void *impl, const char *channel, const char *ts, chat_message **out)
{
    msg_store *s = impl;
    int64_t us;
    if (channel == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "get: no channel");
    chat_err rv = parse_ts(ts, &us, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv != CHAT_OK)
        return rv;
    page_ent e = {0};
    chati_db_lock(s->db);
    rv = load_message(s, channel, us, &e);
    chati_db_unlock(s->db);
    if (rv == CHAT_OK)
        *out = e.m;
    return rv;
}

/* Finds the row id and current text of a message (message_not_found). */
static chat_err find_message(msg_store *s, const char *channel, int64_t ts, int64_t *id,
                             char **text)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT id, text FROM messages WHERE channel = ?1 AND ts = ?2", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, ts);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        if (text != NULL)
            rv = col_dup(st, 1, text);
    } else if (rc == SQLITE_DONE) {
        rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %" PRId64 " in %s", ts, channel);
    } else {
        rv = chati_db_err(s->db, rc, "finding message");
    }
    sqlite3_reset(st);
    return rv;
}

static chat_err update_locked(msg_store *s, const chat_message *m, int64_t ts,
                              chat_outbox_fn outbox, void *arg, chat_message **res)
{
    int64_t id = 0, edited = 0;
    char *old = NULL;
    chati_buf mentions = {0};
    sqlite3_stmt *st;
    page_ent e = {0};

    if (m->edited_ts[0] != '\0' && !chati_ts_parse(m->edited_ts, &edited))
        return chati_fail(CHAT_ERR_INVALID_TS, "invalid edited_ts \"%s\"", m->edited_ts);
    chat_err rv = find_message(s, m->channel, ts, &id, &old);
    if (rv == CHAT_OK)
        rv = ids_join((const char(*)[CHAT_ID_SIZE])m->mentions, m->n_mentions, &mentions);
    if (rv == CHAT_OK)
        rv = prep(s,
                  "UPDATE messages SET text = ?2, mentions = ?3, mention_flags = ?4, "
                  "edited_user = ?5, edited_ts = ?6 WHERE id = ?1",
                  &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, m->text);
        bind_opt(st, 3, mentions.data);
        sqlite3_bind_int(st, 4, (int)m->mention_flags);
        bind_opt(st, 5, m->edited_user);
        if (m->edited_ts[0] != '\0')
            sqlite3_bind_int64(st, 6, edited);
        rv = step_done(s, st, "updating message");
    }
    bool indexed = false;
    if (rv == CHAT_OK)
        rv = fts_indexed(s, id, &indexed);
    if (rv == CHAT_OK && indexed)
        rv = fts_delete(s, id, old);
    if (rv == CHAT_OK && indexed)
        rv = fts_insert(s, id, m->text);
    if (rv == CHAT_OK)
        rv = load_message(s, m->channel, ts, &e);
    if (rv == CHAT_OK)
        rv = outbox_put(s, outbox, arg, e.m);
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
    msg_store *s = impl;
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

/* -------------------------------------------------------------- remove --- */

static chat_err exec_id(msg_store *s, const char *sql, int64_t id)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, sql, &st);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, id);
    return step_done(s, st, "removing message");
}

static chat_err remove_locked(msg_store *s, const char *channel, int64_t ts,
                              chat_outbox_fn outbox, void *arg)
{
    page_ent e = {0};
    chat_err rv = load_message(s, channel, ts, &e);
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
    bool indexed = false;
    if (rv == CHAT_OK)
        rv = fts_indexed(s, e.id, &indexed);
    if (rv == CHAT_OK && indexed)
        rv = fts_delete(s, e.id, e.m->text);
    if (rv == CHAT_OK && reply)
        rv = thread_recount(s, channel, parent);
    if (rv == CHAT_OK)
        rv = outbox_put(s, outbox, arg, e.m);
    chat_message_free(e.m);
    return rv;
}

static chat_err ms_remove(void *impl, const char *channel, const char *ts,
                          chat_outbox_fn outbox, void *outbox_arg)
{
    msg_store *s = impl;
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

/* ----------------------------------------------------------- reactions --- */

static chat_err react_locked(msg_store *s, const char *channel, int64_t ts, const char *name,
                             const char *user, bool add, chat_outbox_fn outbox, void *arg)
{
    int64_t id = 0;
    sqlite3_stmt *st;
    chat_err rv = find_message(s, channel, ts, &id, NULL);
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
    page_ent e = {0};
    if ((rv = load_message(s, channel, ts, &e)) == CHAT_OK)
        rv = outbox_put(s, outbox, arg, e.m);
    chat_message_free(e.m);
    return rv;
}

static chat_err react(msg_store *s, const char *channel, const char *ts, const char *name,
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

static chat_err ms_add_reaction(void *impl, const char *channel, const char *ts,
                                const char *name, const char *user, chat_outbox_fn outbox,
                                void *outbox_arg)
{
    return react(impl, channel, ts, name, user, true, outbox, outbox_arg);
}

static chat_err ms_remove_reaction(void *impl, const char *channel, const char *ts,
                                   const char *name, const char *user, chat_outbox_fn outbox,
                                   void *outbox_arg)
{
    return react(impl, channel, ts, name, user, false, outbox, outbox_arg);
}

/* -------------------------------------------------- history and replies --- */

/* Finishes a page read under the lock: fills in side tables, unlocks, and
 * returns the list with has_more and a ts cursor. */
static chat_err finish_page(msg_store *s, chat_err rv, page *p, bool more, char tag,
                            chat_list **out)
{
    if (rv == CHAT_OK)
        rv = page_attach(s, p);
    chati_db_unlock(s->db);
    int64_t last = p->n > 0 ? p->e[p->n - 1].ts : 0;
    chat_list *l = NULL;
    if (rv == CHAT_OK)
        rv = page_to_list(p, &l);
    page_free(p);
    if (rv == CHAT_OK && more && (rv = chati_page_ts_cursor_out(tag, last, l)) != CHAT_OK)
        chat_list_free(l);
    if (rv == CHAT_OK)
        *out = l;
    return rv;
}

static chat_err ms_history(void *impl, const char *channel, const char *latest,
                           const char *oldest, bool inclusive, int limit, const char *cursor,
                           chat_list **out)
{
    msg_store *s = impl;
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
              "SELECT " MSG_COLS " FROM messages WHERE channel = ?1 AND ts < ?2 AND ts > ?3 "
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
    page p = {0};
    bool more = false;
    rv = page_read(s, st, limit, &p, &more);
    return finish_page(s, rv, &p, more, 'h', out);
}

static chat_err ms_replies(void *impl, const char *channel, const char *thread_ts,
                           const char *latest, const char *oldest, bool inclusive, int limit,
                           const char *cursor, chat_list **out)
{
    msg_store *s = impl;
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

    page p = {0};
    bool more = false;
    chati_db_lock(s->db);
    rv = thread_parent(s, channel, want, &pid, &parent);
    /* The parent sorts first (every reply is newer), then the replies in
     * thread index order: two queries, neither of which sorts. */
    if (rv == CHAT_OK && parent > lo && parent < hi &&
        (rv = prep(s, "SELECT " MSG_COLS " FROM messages WHERE id = ?1", &st)) == CHAT_OK) {
        sqlite3_bind_int64(st, 1, pid);
        rv = page_read(s, st, limit, &p, &more);
    }
    if (rv == CHAT_OK)
        rv = prep(s,
                  "SELECT " MSG_COLS " FROM messages WHERE channel = ?1 AND thread_ts = ?2 "
                  "AND ts > ?3 AND ts < ?4 ORDER BY ts LIMIT ?5",
                  &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, channel);
        sqlite3_bind_int64(st, 2, parent);
        sqlite3_bind_int64(st, 3, lo);
        sqlite3_bind_int64(st, 4, hi);
        sqlite3_bind_int(st, 5, limit + 1 - (int)p.n);
        rv = page_read(s, st, limit, &p, &more);
    }
    return finish_page(s, rv, &p, more, 'r', out);
}

/* -------------------------------------------------------------- search --- */

static chat_err ms_search(void *impl, const char *query, const char (*channels)[CHAT_ID_SIZE],
                          size_t n_channels, const char *cursor, int limit, chat_list **out)
{
    msg_store *s = impl;
    chati_buf q = {0}, chans = {0};
    bool any = false, has_cursor;
    /* Without a cursor: everything, newest first. */
    int64_t after_ts = INT64_MAX;
    char after_ch[CHAT_ID_SIZE] = "";
    sqlite3_stmt *st;
    page p = {0};
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
        rv = json_strings(channels, channels != NULL ? n_channels : 0, &chans);
    if (rv != CHAT_OK)
        goto done;
    if (channels == NULL || n_channels == 0) {
        rv = page_to_list(&p, out);
        goto done;
    }

    chati_db_lock(s->db);
    rv = fts_sync(s);
    /* Newest first across channels: (ts, channel) is unique and orders the
     * cursor. The FTS match is evaluated once into a rowid set. */
    if (rv == CHAT_OK)
        rv = prep(s,
                  "SELECT " MSG_COLS " FROM messages WHERE id IN "
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
        rv = page_read(s, st, limit, &p, &more);
    }
    if (rv == CHAT_OK)
        rv = page_attach(s, &p);
    chati_db_unlock(s->db);

    int64_t last = rv == CHAT_OK && more ? p.e[p.n - 1].ts : 0;
    if (rv == CHAT_OK)
        rv = page_to_list(&p, &l);
    if (rv == CHAT_OK && more) {
        size_t n = chat_list_count(l);
        rv = chati_page_ts_id_cursor_out('s', last, chat_list_message(l, n - 1)->channel, l);
    }
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
done:
    page_free(&p);
    chati_buf_free(&q);
    chati_buf_free(&chans);
    return rv;
}

/* --------------------------------------------------------------- files --- */

#define FILE_COLS \
    "rowid, id, team, user, name, title, mimetype, size, sha256, created, deleted"

static chat_err read_file(sqlite3_stmt *st, chat_file **out, int64_t *rowid)
{
    chat_file *f = chat_file_new();
    if (f == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "file store");
    *rowid = sqlite3_column_int64(st, 0);
    chati_db_col_fixed(st, 1, f->id, sizeof f->id);
    chati_db_col_fixed(st, 2, f->team_id, sizeof f->team_id);
    chati_db_col_fixed(st, 3, f->user, sizeof f->user);
    f->size = sqlite3_column_int64(st, 7);
    chati_db_col_fixed(st, 8, f->sha256, sizeof f->sha256);
    f->created = sqlite3_column_int64(st, 9);
    f->deleted = sqlite3_column_int(st, 10) != 0;
    chat_err rv = col_dup(st, 4, &f->name);
    if (rv == CHAT_OK)
        rv = col_dup(st, 5, &f->title);
    if (rv == CHAT_OK)
        rv = col_dup(st, 6, &f->mimetype);
    if (rv != CHAT_OK) {
        chat_file_free(f);
        return rv;
    }
    *out = f;
    return CHAT_OK;
}

/* Fills channels for a batch of files with one query. */
static chat_err files_channels(msg_store *s, chat_file **files, size_t n)
{
    if (n == 0)
        return CHAT_OK;
    chati_buf ids = {0};
    sqlite3_stmt *st;
    chat_err rv = chati_buf_append(&ids, "[", 1);
    for (size_t i = 0; i < n && rv == CHAT_OK; i++)
        rv = chati_buf_printf(&ids, "%s\"%s\"", i ? "," : "", files[i]->id);
    if (rv == CHAT_OK)
        rv = chati_buf_append(&ids, "]", 1);
    if (rv != CHAT_OK) {
        chati_buf_free(&ids);
        return chati_fail(CHAT_ERR_NOMEM, "file store");
    }
    rv = prep(s,
              "SELECT file, channel FROM file_channels WHERE file IN "
              "(SELECT value FROM json_each(?1)) ORDER BY file, ord",
              &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_text(st, 1, ids.data, (int)ids.len, SQLITE_STATIC);
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *fid = (const char *)sqlite3_column_text(st, 0);
            const char *ch = (const char *)sqlite3_column_text(st, 1);
            for (size_t i = 0; i < n && fid != NULL && ch != NULL; i++) {
                chat_file *f = files[i];
                if (strcmp(f->id, fid) != 0)
                    continue;
                char(*chs)[CHAT_ID_SIZE] = grow(f->channels, f->n_channels, CHAT_ID_SIZE);
                if (chs == NULL) {
                    rv = chati_fail(CHAT_ERR_NOMEM, "file store");
                } else {
                    f->channels = chs;
                    chati_copy_fixed(chs[f->n_channels++], CHAT_ID_SIZE, ch);
                }
                break;
            }
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "reading file channels");
        sqlite3_reset(st);
    }
    chati_buf_free(&ids);
    return rv;
}

static chat_err file_insert_locked(msg_store *s, const chat_file *f)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s,
                       "INSERT INTO files(id, team, user, name, title, mimetype, size, sha256, "
                       "created, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, f->id);
    bind_text(st, 2, f->team_id);
    bind_text(st, 3, f->user);
    bind_opt(st, 4, f->name);
    bind_opt(st, 5, f->title);
    bind_opt(st, 6, f->mimetype);
    sqlite3_bind_int64(st, 7, f->size);
    bind_text(st, 8, f->sha256);
    sqlite3_bind_int64(st, 9, f->created);
    sqlite3_bind_int(st, 10, f->deleted);
    if ((rv = step_done(s, st, "storing file")) != CHAT_OK)
        return rv == CHAT_ERR_DUPLICATE ? chati_fail(rv, "file %s exists", f->id) : rv;
    for (size_t i = 0; i < f->n_channels && rv == CHAT_OK; i++)
        rv = file_share(s, f->id, f->channels[i]);
    return rv;
}

static chat_err ms_file_insert(void *impl, const chat_file *f)
{
    msg_store *s = impl;
    if (f == NULL || f->id[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_insert: no id");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = file_insert_locked(s, f);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

static chat_err ms_file_get(void *impl, const char *file_id, chat_file **out)
{
    msg_store *s = impl;
    sqlite3_stmt *st;
    chat_file *f = NULL;
    int64_t rowid;
    if (file_id == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_get: no id");
    chati_db_lock(s->db);
    chat_err rv = prep(s, "SELECT " FILE_COLS " FROM files WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = read_file(st, &f, &rowid);
        else if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
        else
            rv = chati_db_err(s->db, rc, "reading file");
        sqlite3_reset(st);
    }
    if (rv == CHAT_OK)
        rv = files_channels(s, &f, 1);
    chati_db_unlock(s->db);
    if (rv == CHAT_OK)
        *out = f;
    else
        chat_file_free(f);
    return rv;
}

#define FILE_LIST_SQL(team)                                                               \
    "SELECT " FILE_COLS " FROM files f WHERE " team " AND deleted = 0 AND sha256 <> '' " \
    "AND (?2 IS NULL OR EXISTS (SELECT 1 FROM file_channels c "                         \
    "     WHERE c.file = f.id AND c.channel = ?2)) "                                     \
    "AND (?3 IS NULL OR user = ?3) "                                                     \
    "AND (user = ?4 OR EXISTS (SELECT 1 FROM file_channels c WHERE c.file = f.id "      \
    "     AND c.channel IN (SELECT value FROM json_each(?5)))) "                         \
    "AND (created < ?6 OR (created = ?6 AND rowid < ?7)) "                               \
    "ORDER BY created DESC, rowid DESC LIMIT ?8"

static chat_err ms_file_list(void *impl, const char *team_id, const char *channel,
                             const char *user, const char *visible_to,
                             const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                             const char *cursor, int limit, chat_list **out)
{
    msg_store *s = impl;
    /* Without a cursor: from the newest. */
    int64_t after_created = INT64_MAX, after_rowid = INT64_MAX;
    bool has_cursor;
    chati_buf chans = {0};
    chat_file **files = NULL;
    size_t n = 0;
    bool more = false;
    sqlite3_stmt *st;
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_list: no output");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_pair_cursor_in(cursor, 'f', &has_cursor, &after_created, &after_rowid);
    if (rv == CHAT_OK)
        rv = json_strings(channels, channels != NULL ? n_channels : 0, &chans);
    if (rv != CHAT_OK) {
        chati_buf_free(&chans);
        return rv;
    }
    if ((files = chat_calloc((size_t)limit + 1, sizeof *files)) == NULL) {
        chati_buf_free(&chans);
        return chati_fail(CHAT_ERR_NOMEM, "file store");
    }

    chati_db_lock(s->db);
    /* With a team (the usual case) files_team_created serves both the filter
     * and the order, so the scan stops after limit + 1 visible files. */
    bool any_team = team_id == NULL || team_id[0] == '\0';
    rv = prep(s,
              any_team ? FILE_LIST_SQL("1") : FILE_LIST_SQL("team = ?1"),
              &st);
    int64_t last_created = 0, last_rowid = 0;
    if (rv == CHAT_OK) {
        if (!any_team)
            bind_text(st, 1, team_id);
        bind_opt(st, 2, channel);
        bind_opt(st, 3, user);
        bind_opt(st, 4, visible_to);
        sqlite3_bind_text(st, 5, chans.data, (int)chans.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, after_created);
        sqlite3_bind_int64(st, 7, after_rowid);
        sqlite3_bind_int(st, 8, limit + 1);
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == (size_t)limit) {
                more = true;
                break;
            }
            rv = read_file(st, &files[n], &last_rowid);
            if (rv == CHAT_OK)
                last_created = files[n++]->created;
        }
        if (rv == CHAT_OK && !more && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "listing files");
        sqlite3_reset(st);
    }
    if (rv == CHAT_OK)
        rv = files_channels(s, files, n);
    chati_db_unlock(s->db);

    chat_list *l = NULL;
    if (rv == CHAT_OK && (l = chat_list_new(CHAT_LIST_FILES)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "file store");
    for (size_t i = 0; i < n; i++) {
        if (rv == CHAT_OK)
            rv = chat_list_push(l, files[i]);
        else
            chat_file_free(files[i]);
    }
    if (rv == CHAT_OK && more)
        rv = chati_page_pair_cursor_out('f', last_created, last_rowid, l);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    chat_free(files);
    chati_buf_free(&chans);
    return rv;
}

static chat_err ms_file_delete(void *impl, const char *file_id)
{
    msg_store *s = impl;
    sqlite3_stmt *st;
    if (file_id == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_delete: no id");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = prep(s, "SELECT deleted FROM files WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
        else if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0)
            rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s is already deleted", file_id);
        else if (rc != SQLITE_ROW)
            rv = chati_db_err(s->db, rc, "deleting file");
        sqlite3_reset(st);
    }
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE files SET deleted = 1 WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        rv = step_done(s, st, "deleting file");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

static bool is_sha256_hex(const char *h)
{
    size_t i = 0;
    for (; h[i]; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return i == 64;
}

/* Inside a transaction: file_not_found or file_deleted unless the file is
 * there; *complete (may be NULL) says whether its bytes are in. */
static chat_err file_state(msg_store *s, const char *file_id, const char *what, bool *complete)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT deleted, sha256 <> '' FROM files WHERE id = ?1", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, file_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    else if (rc != SQLITE_ROW)
        rv = chati_db_err(s->db, rc, what);
    else if (sqlite3_column_int(st, 0) != 0)
        rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s was deleted", file_id);
    else if (complete)
        *complete = sqlite3_column_int(st, 1) != 0;
    sqlite3_reset(st);
    return rv;
}

/* A pending file has sha256 ''; the conditional UPDATE makes the first
 * completion win even when two race. */
static chat_err ms_file_complete(void *impl, const char *file_id, int64_t size,
                                 const char *sha256_hex)
{
    msg_store *s = impl;
    sqlite3_stmt *st;
    if (file_id == NULL || sha256_hex == NULL || !is_sha256_hex(sha256_hex) || size < 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_complete: bad id, size or checksum");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    bool complete = false;
    rv = file_state(s, file_id, "completing file", &complete);
    if (rv == CHAT_OK && complete)
        rv = chati_fail(CHAT_ERR_DUPLICATE, "file %s is already complete", file_id);
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE files SET size = ?2, sha256 = ?3 WHERE id = ?1 AND sha256 = ''",
                  &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        sqlite3_bind_int64(st, 2, size);
        bind_text(st, 3, sha256_hex);
        rv = step_done(s, st, "completing file");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

static chat_err ms_file_set_title(void *impl, const char *file_id, const char *title)
{
    msg_store *s = impl;
    sqlite3_stmt *st;
    if (file_id == NULL || title == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_set_title: no id or title");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = file_state(s, file_id, "renaming file", NULL);
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE files SET title = ?2 WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        bind_text(st, 2, title);
        rv = step_done(s, st, "renaming file");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

/* -------------------------------------------------------------- outbox --- */

#define OUTBOX_MAX_FETCH 10000

static chat_err ms_outbox_fetch(void *impl, int64_t after_seq, size_t max,
                                chat_outbox_item **items, size_t *n)
{
    msg_store *s = impl;
    sqlite3_stmt *st;
    if (items == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "outbox_fetch: no output");
    *items = NULL;
    *n = 0;
    if (max == 0)
        max = CHAT_DEFAULT_PAGE;
    if (max > OUTBOX_MAX_FETCH)
        max = OUTBOX_MAX_FETCH;
    chat_outbox_item *it = chat_calloc(max, sizeof *it);
    if (it == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "outbox");
    size_t k = 0;
    chati_db_lock(s->db);
    chat_err rv = prep(s,
                       "SELECT seq, topic, key, data FROM outbox WHERE seq > ?1 "
                       "ORDER BY seq LIMIT ?2",
                       &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, after_seq);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            chat_outbox_item *e = &it[k++];
            e->seq = sqlite3_column_int64(st, 0);
            rv = col_dup(st, 1, &e->topic);
            if (rv == CHAT_OK)
                rv = col_dup(st, 2, &e->key);
            int len = sqlite3_column_bytes(st, 3);
            const void *data = sqlite3_column_blob(st, 3);
            if (rv == CHAT_OK && len > 0) {
                if ((e->data = chat_malloc((size_t)len)) == NULL)
                    rv = chati_fail(CHAT_ERR_NOMEM, "outbox");
                else
                    memcpy(e->data, data, (size_t)len);
                e->len = (size_t)len;
            }
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "reading outbox");
        sqlite3_reset(st);
    }
    chati_db_unlock(s->db);
    if (rv != CHAT_OK || k == 0) {
        chat_outbox_items_free(it, k);
        return rv;
    }
    *items = it;
    *n = k;
    return CHAT_OK;
}

static chat_err ms_outbox_ack(void *impl, int64_t up_to)
{
    msg_store *s = impl;
    sqlite3_stmt *st;
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = prep(s, "DELETE FROM outbox WHERE seq <= ?1", &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, up_to);
        rv = step_done(s, st, "acknowledging outbox");
    }
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE meta SET v = max(v, ?1) WHERE k = 'outbox_acked'", &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, up_to);
        rv = step_done(s, st, "acknowledging outbox");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

static chat_err ms_outbox_add(void *impl, const chat_outbox_item *item)
{
    msg_store *s = impl;
    if (item == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "outbox_add: no item");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = outbox_insert(s, item->topic, item->key, item->data, item->len);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

/* ---------------------------------------------------------------- ops --- */

const chat_message_store_ops chati_sqlite_message_ops = {
    .version = CHAT_STORE_V1,
    .scheme = "sqlite",
    .open = ms_open,
    .close = ms_close,
    .post = ms_post,
    .get = ms_get,
    .update = ms_update,
    .remove = ms_remove,
    .add_reaction = ms_add_reaction,
    .remove_reaction = ms_remove_reaction,
    .history = ms_history,
    .replies = ms_replies,
    .search = ms_search,
    .file_insert = ms_file_insert,
    .file_get = ms_file_get,
    .file_list = ms_file_list,
    .file_delete = ms_file_delete,
    .outbox_fetch = ms_outbox_fetch,
    .outbox_ack = ms_outbox_ack,
    .outbox_add = ms_outbox_add,
    .file_complete = ms_file_complete,
    .file_set_title = ms_file_set_title,
};
