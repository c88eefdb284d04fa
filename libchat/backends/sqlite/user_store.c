/*
 * libchat/backends/sqlite/user_store.c - workspaces, users, read markers and
 * unread counters in SQLite ("sqlite:").
 *
 * Unread counts come from a compact copy of message activity (one row per
 * message: channel, ts, author, mention flags, deleted) fed by the message.*
 * events, so counting never touches the message store. Timestamps are integer
 * microseconds so they order numerically.
 *
 * Errors: absent team -> team_not_found (get_team) or not_found
 * (get_team_by_domain, as store.h says); absent user -> user_not_found.
 */
#include <string.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "backends/sqlite/db.h"

static const chati_migration user_migrations[] = {
    {1,
     /* seq orders teams by creation: "the first workspace" for domain NULL. */
     "CREATE TABLE teams ("
     "  seq     INTEGER PRIMARY KEY,"
     "  id      TEXT NOT NULL UNIQUE,"
     "  name    TEXT NOT NULL,"
     "  domain  TEXT NOT NULL UNIQUE,"
     "  created INTEGER NOT NULL"
     ");"
     "CREATE TABLE users ("
     "  id           TEXT PRIMARY KEY,"
     "  team_id      TEXT NOT NULL REFERENCES teams (id),"
     "  email        TEXT COLLATE NOCASE UNIQUE," /* NULL for accounts without one */
     "  name         TEXT NOT NULL,"
     "  real_name    TEXT,"
     "  display_name TEXT,"
     "  title        TEXT,"
     "  status_text  TEXT,"
     "  status_emoji TEXT,"
     "  tz           TEXT,"
     "  is_admin     INTEGER NOT NULL DEFAULT 0,"
     "  deleted      INTEGER NOT NULL DEFAULT 0,"
     "  created      INTEGER NOT NULL,"
     "  updated      INTEGER NOT NULL,"
     "  UNIQUE (team_id, name)"
     ") WITHOUT ROWID;"
     /* Listing walks a team's users by id. */
     "CREATE INDEX users_by_team ON users (team_id, id);"
     "CREATE TABLE read_markers ("
     "  user_id TEXT NOT NULL,"
     "  channel TEXT NOT NULL,"
     "  ts      INTEGER NOT NULL,"
     "  PRIMARY KEY (user_id, channel)"
     ") WITHOUT ROWID;"
     /* Event ids already applied; pruned after a retention period. */
     "CREATE TABLE applied_events ("
     "  event_id TEXT PRIMARY KEY,"
     "  applied  INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     "CREATE INDEX applied_events_age ON applied_events (applied);"
     /* One row per message; a deleted one stays as a tombstone so that a
      * POSTED arriving after its DELETED cannot bring it back. */
     "CREATE TABLE activity ("
     "  channel TEXT NOT NULL,"
     "  ts      INTEGER NOT NULL,"
     "  author  TEXT,"
     "  flags   INTEGER NOT NULL DEFAULT 0,"
     "  deleted INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (channel, ts)"
     ") WITHOUT ROWID;"
     /* Unread counts walk the primary key from the marker on (the table is
      * its own covering index): O(log n + rows after the marker). Mention
      * counts walk only the flagged live rows and the user's mentions. */
     "CREATE INDEX activity_flagged ON activity (channel, ts, author)"
     "  WHERE flags != 0 AND deleted = 0;"
     "CREATE TABLE activity_mentions ("
     "  user_id TEXT NOT NULL,"
     "  channel TEXT NOT NULL,"
     "  ts      INTEGER NOT NULL,"
     "  PRIMARY KEY (user_id, channel, ts)"
     ") WITHOUT ROWID;"
     "CREATE INDEX activity_mentions_msg ON activity_mentions (channel, ts);"},
    /* An app's bot user: its bot and app ids (NULL for people). */
    {2, "ALTER TABLE users ADD COLUMN bot_id TEXT;"
        "ALTER TABLE users ADD COLUMN app_id TEXT;"},
    {3, "CREATE TABLE usergroups ("
        "  id          TEXT PRIMARY KEY,"
        "  team_id     TEXT NOT NULL,"
        "  name        TEXT NOT NULL,"
        "  handle      TEXT NOT NULL,"
        "  description TEXT,"
        "  users       TEXT NOT NULL,"
        "  channels    TEXT NOT NULL,"
        "  created_by  TEXT NOT NULL,"
        "  updated_by  TEXT NOT NULL,"
        "  created     INTEGER NOT NULL,"
        "  updated     INTEGER NOT NULL,"
        "  disabled    INTEGER NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE UNIQUE INDEX usergroups_name ON usergroups (team_id, name);"
        "CREATE UNIQUE INDEX usergroups_handle ON usergroups (team_id, handle);"},
};

/* Applied event ids are kept this long; a redelivery older than that is
 * still harmless for POSTED and DELETED (the activity rows make those
 * idempotent on their own). */
#define EVENT_RETENTION_US (30LL * 24 * 3600 * 1000000)
#define PRUNE_EVERY_MS (3600LL * 1000)

typedef struct user_store {
    chati_db *db;
    int64_t last_prune_ms;      /* guarded by the db lock */
} user_store;

#define TEAM_COLS "id, name, domain, created"
#define USER_COLS                                                                          \
    "id, team_id, email, name, real_name, display_name, title, status_text, status_emoji," \
    " tz, is_admin, deleted, created, updated, bot_id, app_id"

static bool bad_id(const char *id)
{
    return id == NULL || id[0] == '\0' || strlen(id) >= CHAT_ID_SIZE;
}

/* ---- open / close ---- */

static chat_err us_open(const char *url, const chat_config *cfg, void **impl)
{
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "sqlite user store: no URL");
    bool exclusive = false;
    if (chati_db_locking(cfg, &exclusive) != CHAT_OK)
        return CHAT_ERR_INVALID_CONFIG;
    user_store *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "user store");
    chat_err rv = chati_db_open(chati_url_rest(url), exclusive, user_migrations,
                                CHATI_ARRAY_LEN(user_migrations), &s->db);
    if (rv == CHAT_OK)
        rv = chati_db_require_table(s->db, "activity");
    if (rv != CHAT_OK) {
        chati_db_close(s->db);
        chat_free(s);
        return rv;
    }
    s->last_prune_ms = chati_mono_ms();
    *impl = s;
    return CHAT_OK;
}

static void us_close(void *impl)
{
    user_store *s = impl;
    if (s == NULL)
        return;
    chati_db_close(s->db);
    chat_free(s);
}

/* ---- teams ---- */

static chat_err us_create_team(void *impl, const chat_team *t)
{
    chati_db *d = ((user_store *)impl)->db;
    if (t == NULL || bad_id(t->id) || t->name == NULL || t->domain == NULL ||
        t->domain[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a team needs an id, name and domain");

    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st =
        chati_db_stmt(d, "INSERT INTO teams (" TEAM_COLS ") VALUES (?1, ?2, ?3, ?4)");
    if (st != NULL) {
        chati_db_bind_str(st, 1, t->id, false);
        chati_db_bind_str(st, 2, t->name, false);
        chati_db_bind_str(st, 3, t->domain, false);
        sqlite3_bind_int64(st, 4, t->created);
        rv = chati_db_step_done(d, st, "inserting a team");
    }
    if (rv == CHAT_ERR_DUPLICATE) {
        st = chati_db_stmt(d, "SELECT 1 FROM teams WHERE domain = ?1");
        if (st != NULL) {
            chati_db_bind_str(st, 1, t->domain, false);
            if (sqlite3_step(st) == SQLITE_ROW)
                rv = chati_fail(CHAT_ERR_NAME_TAKEN, "domain %s is taken", t->domain);
            else
                rv = chati_fail(CHAT_ERR_DUPLICATE, "team %s exists", t->id);
        }
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err read_team(sqlite3_stmt *st, chat_team **out)
{
    chat_team *t = chat_team_new();
    if (t == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "team");
    chati_db_col_fixed(st, 0, t->id, sizeof t->id);
    t->name = chati_db_col_str(st, 1);
    t->domain = chati_db_col_str(st, 2);
    t->created = sqlite3_column_int64(st, 3);
    if (t->name == NULL || t->domain == NULL) {
        chat_team_free(t);
        return chati_fail(CHAT_ERR_NOMEM, "team");
    }
    *out = t;
    return CHAT_OK;
}

static chat_err team_query(chati_db *d, const char *sql, const char *arg, chat_err absent,
                           chat_team **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st != NULL) {
        if (arg != NULL)
            chati_db_bind_str(st, 1, arg, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = read_team(st, out);
        else if (rc == SQLITE_DONE)
            rv = chati_fail(absent, "no workspace %.80s", arg != NULL ? arg : "yet");
        else
            rv = chati_db_err(d, rc, "reading a team");
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err us_get_team(void *impl, const char *team_id, chat_team **out)
{
    if (bad_id(team_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    return team_query(((user_store *)impl)->db, "SELECT " TEAM_COLS " FROM teams WHERE id = ?1",
                      team_id, CHAT_ERR_TEAM_NOT_FOUND, out);
}

static chat_err us_get_team_by_domain(void *impl, const char *domain, chat_team **out)
{
    chati_db *d = ((user_store *)impl)->db;
    if (domain == NULL)
        return team_query(d, "SELECT " TEAM_COLS " FROM teams ORDER BY seq LIMIT 1", NULL,
                          CHAT_ERR_NOT_FOUND, out);
    return team_query(d, "SELECT " TEAM_COLS " FROM teams WHERE domain = ?1", domain,
                      CHAT_ERR_NOT_FOUND, out);
}

/* ---- users ---- */

static bool row_exists(chati_db *d, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st == NULL)
        return false;
    chati_db_bind_str(st, 1, a, false);
    if (b != NULL)
        chati_db_bind_str(st, 2, b, false);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}

/* After a failed insert, names the constraint that failed (lock held). */
static chat_err classify_user_clash(chati_db *d, const chat_user *u)
{
    if (!row_exists(d, "SELECT 1 FROM teams WHERE id = ?1", u->team_id, NULL))
        return chati_fail(CHAT_ERR_TEAM_NOT_FOUND, "no workspace %s", u->team_id);
    if (row_exists(d, "SELECT 1 FROM users WHERE id = ?1", u->id, NULL))
        return chati_fail(CHAT_ERR_DUPLICATE, "user %s exists", u->id);
    if (row_exists(d, "SELECT 1 FROM users WHERE team_id = ?1 AND name = ?2", u->team_id,
                   u->name))
        return chati_fail(CHAT_ERR_NAME_TAKEN, "name %s is taken", u->name);
    if (u->email != NULL && u->email[0] != '\0' &&
        row_exists(d, "SELECT 1 FROM users WHERE email = ?1", u->email, NULL))
        return chati_fail(CHAT_ERR_EMAIL_TAKEN, "%s is already registered", u->email);
    return chati_fail(CHAT_ERR_DUPLICATE, "user %s clashes with an existing one", u->id);
}

static void bind_profile(sqlite3_stmt *st, int first, const chat_user *u)
{
    chati_db_bind_str(st, first, u->real_name, false);
    chati_db_bind_str(st, first + 1, u->display_name, false);
    chati_db_bind_str(st, first + 2, u->title, false);
    chati_db_bind_str(st, first + 3, u->status_text, false);
    chati_db_bind_str(st, first + 4, u->status_emoji, false);
    chati_db_bind_str(st, first + 5, u->tz, false);
}

static chat_err us_create_user(void *impl, const chat_user *u)
{
    chati_db *d = ((user_store *)impl)->db;
    if (u == NULL || bad_id(u->id) || bad_id(u->team_id) || u->name == NULL ||
        u->name[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a user needs an id, team and name");

    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "INSERT INTO users (" USER_COLS ") VALUES"
                                        " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                                        " ?13, ?14, ?15, ?16)");
    if (st != NULL) {
        chati_db_bind_str(st, 1, u->id, false);
        chati_db_bind_str(st, 2, u->team_id, false);
        chati_db_bind_str(st, 3, u->email, true);
        chati_db_bind_str(st, 4, u->name, false);
        bind_profile(st, 5, u);
        sqlite3_bind_int(st, 11, u->is_admin);
        sqlite3_bind_int(st, 12, u->deleted);
        sqlite3_bind_int64(st, 13, u->created);
        sqlite3_bind_int64(st, 14, u->updated);
        chati_db_bind_str(st, 15, u->bot_id[0] ? u->bot_id : NULL, true);
        chati_db_bind_str(st, 16, u->app_id[0] ? u->app_id : NULL, true);
        rv = chati_db_step_done(d, st, "inserting a user");
    }
    if (rv == CHAT_ERR_DUPLICATE)
        rv = classify_user_clash(d, u);
    chati_db_unlock(d);
    return rv;
}

static chat_err read_user(sqlite3_stmt *st, chat_user **out)
{
    chat_user *u = chat_user_new();
    if (u == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "user");
    chati_db_col_fixed(st, 0, u->id, sizeof u->id);
    chati_db_col_fixed(st, 1, u->team_id, sizeof u->team_id);
    char **text[] = {&u->email,        &u->name,        &u->real_name,    &u->display_name,
                     &u->title,        &u->status_text, &u->status_emoji, &u->tz};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(text); i++) {
        int col = 2 + (int)i;
        *text[i] = chati_db_col_str(st, col);
        if (*text[i] == NULL && sqlite3_column_type(st, col) != SQLITE_NULL) {
            chat_user_free(u);
            return chati_fail(CHAT_ERR_NOMEM, "user");
        }
    }
    u->is_admin = sqlite3_column_int(st, 10) != 0;
    u->deleted = sqlite3_column_int(st, 11) != 0;
    u->created = sqlite3_column_int64(st, 12);
    u->updated = sqlite3_column_int64(st, 13);
    chati_db_col_fixed(st, 14, u->bot_id, sizeof u->bot_id);
    chati_db_col_fixed(st, 15, u->app_id, sizeof u->app_id);
    *out = u;
    return CHAT_OK;
}

static chat_err user_query(chati_db *d, const char *sql, const char *a, const char *b,
                           chat_user **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st != NULL) {
        chati_db_bind_str(st, 1, a, false);
        if (b != NULL)
            chati_db_bind_str(st, 2, b, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = read_user(st, out);
        else if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %.80s", a);
        else
            rv = chati_db_err(d, rc, "reading a user");
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err us_get_user(void *impl, const char *user_id, chat_user **out)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return user_query(((user_store *)impl)->db, "SELECT " USER_COLS " FROM users WHERE id = ?1",
                      user_id, NULL, out);
}

static chat_err us_get_user_by_email(void *impl, const char *team_id, const char *email,
                                     chat_user **out)
{
    chati_db *d = ((user_store *)impl)->db;
    if (email == NULL || email[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "email is required");
    /* Emails are unique across the server; team_id only narrows the answer. */
    if (team_id == NULL || team_id[0] == '\0')
        return user_query(d, "SELECT " USER_COLS " FROM users WHERE email = ?1", email, NULL,
                          out);
    return user_query(d, "SELECT " USER_COLS " FROM users WHERE email = ?1 AND team_id = ?2",
                      email, team_id, out);
}

static chat_err us_update_user(void *impl, const chat_user *u)
{
    chati_db *d = ((user_store *)impl)->db;
    if (u == NULL || bad_id(u->id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "UPDATE users SET real_name = ?2, display_name = ?3,"
                                        " title = ?4, status_text = ?5, status_emoji = ?6,"
                                        " tz = ?7, is_admin = ?8, deleted = ?9, updated = ?10"
                                        " WHERE id = ?1");
    if (st != NULL) {
        chati_db_bind_str(st, 1, u->id, false);
        bind_profile(st, 2, u);
        sqlite3_bind_int(st, 8, u->is_admin);
        sqlite3_bind_int(st, 9, u->deleted);
        sqlite3_bind_int64(st, 10, u->updated);
        rv = chati_db_step_done(d, st, "updating a user");
        if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %s", u->id);
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err us_list_users(void *impl, const char *team_id, const char *cursor, int limit,
                              chat_list **out)
{
    chati_db *d = ((user_store *)impl)->db;
    if (bad_id(team_id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    int page;
    chat_err rv = chati_page_limit(limit, &page);
    char *after = NULL;
    if (rv == CHAT_OK)
        rv = chati_page_cursor_in(cursor, 'u', &after);
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_USERS);
    if (l == NULL) {
        chat_free(after);
        return chati_fail(CHAT_ERR_NOMEM, "list");
    }

    chati_db_lock(d);
    rv = CHAT_ERR_STORAGE;
    /* One row past the page tells whether another page exists. */
    sqlite3_stmt *st = chati_db_stmt(d, "SELECT " USER_COLS " FROM users WHERE team_id = ?1"
                                        " AND id > ?2 ORDER BY id LIMIT ?3");
    if (st != NULL) {
        chati_db_bind_str(st, 1, team_id, false);
        chati_db_bind_str(st, 2, after != NULL ? after : "", false);
        sqlite3_bind_int(st, 3, page + 1);
        int rc = SQLITE_DONE;
        size_t n = 0;
        rv = CHAT_OK;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == (size_t)page) {
                const chat_user *last = chat_list_user(l, n - 1);
                rv = chati_page_cursor_out('u', last->id, l);
                break;
            }
            chat_user *u = NULL;
            rv = read_user(st, &u);
            if (rv == CHAT_OK)
                rv = chat_list_push(l, u);
            n++;
        }
        if (rv == CHAT_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
            rv = chati_db_err(d, rc, "listing users");
    }
    chati_db_unlock(d);
    chat_free(after);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

/* ---- read markers ---- */

static chat_err us_set_read_marker(void *impl, const char *user_id, const char *channel,
                                   const char *ts)
{
    chati_db *d = ((user_store *)impl)->db;
    if (bad_id(user_id) || bad_id(channel))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user and channel are required");
    int64_t us = 0;
    bool clear = ts == NULL || ts[0] == '\0';
    if (!clear && !chati_ts_parse(ts, &us))
        return chati_fail(CHAT_ERR_INVALID_TS, "read marker \"%.40s\" is not a timestamp", ts);

    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    /* Markers may move backwards: "mark as unread" is a feature. */
    sqlite3_stmt *st = chati_db_stmt(
        d, clear ? "DELETE FROM read_markers WHERE user_id = ?1 AND channel = ?2"
                 : "INSERT INTO read_markers (user_id, channel, ts) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (user_id, channel) DO UPDATE SET ts = excluded.ts");
    if (st != NULL) {
        chati_db_bind_str(st, 1, user_id, false);
        chati_db_bind_str(st, 2, channel, false);
        if (!clear)
            sqlite3_bind_int64(st, 3, us);
        rv = chati_db_step_done(d, st, "setting a read marker");
    }
    chati_db_unlock(d);
    return rv;
}

/* The marker in microseconds, 0 when none (lock held). */
static chat_err marker_us(chati_db *d, const char *user_id, const char *channel, int64_t *us,
                          bool *found)
{
    sqlite3_stmt *st =
        chati_db_stmt(d, "SELECT ts FROM read_markers WHERE user_id = ?1 AND channel = ?2");
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    chati_db_bind_str(st, 1, user_id, false);
    chati_db_bind_str(st, 2, channel, false);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    *us = *found ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CHAT_OK
                                                 : chati_db_err(d, rc, "reading a read marker");
}

static chat_err us_get_read_marker(void *impl, const char *user_id, const char *channel,
                                   char ts_out[CHAT_TS_SIZE])
{
    chati_db *d = ((user_store *)impl)->db;
    if (bad_id(user_id) || bad_id(channel) || ts_out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user and channel are required");
    int64_t us;
    bool found;
    chati_db_lock(d);
    chat_err rv = marker_us(d, user_id, channel, &us, &found);
    chati_db_unlock(d);
    if (rv != CHAT_OK)
        return rv;
    if (found)
        chati_ts_format(us, ts_out);
    else
        ts_out[0] = '\0';
    return CHAT_OK;
}

/* ---- activity ---- */

static chat_err check_activity(const chat_activity *a, int64_t *ts_us)
{
    if (a->event_id == NULL || a->event_id[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "activity without an event id");
    if (a->kind != CHAT_ACTIVITY_POSTED && a->kind != CHAT_ACTIVITY_EDITED &&
        a->kind != CHAT_ACTIVITY_DELETED)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown activity kind %d", (int)a->kind);
    if (bad_id(a->channel))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "activity without a channel");
    if (!chati_ts_parse(a->ts, ts_us))
        return chati_fail(CHAT_ERR_INVALID_TS, "activity ts \"%.40s\"", a->ts ? a->ts : "");
    if (a->n_mentions > 0 && a->mentions == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "mentions missing");
    for (size_t i = 0; i < a->n_mentions; i++)
        if (memchr(a->mentions[i], '\0', CHAT_ID_SIZE) == NULL || a->mentions[i][0] == '\0')
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "bad mentioned user id");
    return CHAT_OK;
}

/* Runs a statement bound with (channel, ts[, author, flags]). */
static chat_err run_msg(chati_db *d, const char *sql, const chat_activity *a, int64_t ts,
                        bool with_author)
{
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    chati_db_bind_str(st, 1, a->channel, false);
    sqlite3_bind_int64(st, 2, ts);
    if (with_author) {
        chati_db_bind_str(st, 3, a->author, true);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)a->mention_flags);
    }
    return chati_db_step_done(d, st, "applying activity");
}

static chat_err insert_mentions(chati_db *d, const chat_activity *a, int64_t ts)
{
    for (size_t i = 0; i < a->n_mentions; i++) {
        sqlite3_stmt *st = chati_db_stmt(d, "INSERT OR IGNORE INTO activity_mentions"
                                            " (user_id, channel, ts) VALUES (?1, ?2, ?3)");
        if (st == NULL)
            return CHAT_ERR_STORAGE;
        chati_db_bind_str(st, 1, a->mentions[i], false);
        chati_db_bind_str(st, 2, a->channel, false);
        sqlite3_bind_int64(st, 3, ts);
        chat_err rv = chati_db_step_done(d, st, "recording a mention");
        if (rv != CHAT_OK)
            return rv;
    }
    return CHAT_OK;
}

static chat_err drop_mentions(chati_db *d, const chat_activity *a, int64_t ts)
{
    return run_msg(d, "DELETE FROM activity_mentions WHERE channel = ?1 AND ts = ?2", a, ts,
                   false);
}

static chat_err apply_one(chati_db *d, const chat_activity *a, int64_t ts)
{
    chat_err rv;
    switch (a->kind) {
    case CHAT_ACTIVITY_POSTED:
        /* A row already there is a tombstone (deleted first), a newer edit
         * that overtook this post, or a repeat: each wins over this post. */
        rv = run_msg(d, "INSERT INTO activity (channel, ts, author, flags)"
                        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (channel, ts) DO NOTHING",
                     a, ts, true);
        if (rv == CHAT_OK && sqlite3_changes(d->db) > 0)
            rv = insert_mentions(d, a, ts);
        return rv;
    case CHAT_ACTIVITY_EDITED:
        /* An edit of a message whose post has not arrived yet creates it. */
        rv = run_msg(d, "INSERT INTO activity (channel, ts, author, flags)"
                        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (channel, ts) DO UPDATE SET"
                        " flags = excluded.flags, author = coalesce(excluded.author, author)"
                        " WHERE deleted = 0",
                     a, ts, true);
        if (rv == CHAT_OK && sqlite3_changes(d->db) > 0) {
            rv = drop_mentions(d, a, ts);
            if (rv == CHAT_OK)
                rv = insert_mentions(d, a, ts);
        }
        return rv;
    case CHAT_ACTIVITY_DELETED:
        rv = run_msg(d, "INSERT INTO activity (channel, ts, author, flags, deleted)"
                        " VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (channel, ts) DO UPDATE SET"
                        " deleted = 1",
                     a, ts, true);
        if (rv == CHAT_OK)
            rv = drop_mentions(d, a, ts);
        return rv;
    }
    return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown activity kind");
}

/* true when the event id is new (and now recorded). */
static chat_err claim_event(chati_db *d, const char *event_id, int64_t now_us, bool *fresh)
{
    sqlite3_stmt *st = chati_db_stmt(d, "INSERT INTO applied_events (event_id, applied)"
                                        " VALUES (?1, ?2) ON CONFLICT DO NOTHING");
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    chati_db_bind_str(st, 1, event_id, false);
    sqlite3_bind_int64(st, 2, now_us);
    chat_err rv = chati_db_step_done(d, st, "recording an event id");
    *fresh = rv == CHAT_OK && sqlite3_changes(d->db) > 0;
    return rv;
}

static chat_err prune_events(user_store *s, int64_t now_us)
{
    int64_t now_ms = chati_mono_ms();
    if (now_ms - s->last_prune_ms < PRUNE_EVERY_MS)
        return CHAT_OK;
    sqlite3_stmt *st = chati_db_stmt(s->db, "DELETE FROM applied_events WHERE applied < ?1");
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    sqlite3_bind_int64(st, 1, now_us - EVENT_RETENTION_US);
    chat_err rv = chati_db_step_done(s->db, st, "pruning event ids");
    if (rv == CHAT_OK)
        s->last_prune_ms = now_ms;
    return rv;
}

static chat_err us_apply_activity(void *impl, const chat_activity *items, size_t n)
{
    user_store *s = impl;
    if (n == 0)
        return CHAT_OK;
    if (items == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no activity");
    /* Checked up front so that a bad record refuses the whole batch. */
    int64_t *ts = chat_malloc(n * sizeof *ts);
    if (ts == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "activity");
    chat_err rv = CHAT_OK;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++)
        rv = check_activity(&items[i], &ts[i]);
    if (rv == CHAT_OK)
        rv = chati_db_begin(s->db);
    if (rv != CHAT_OK) {
        chat_free(ts);
        return rv;
    }

    int64_t now_us = chati_now_us();
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        bool fresh = false;
        rv = claim_event(s->db, items[i].event_id, now_us, &fresh);
        if (rv == CHAT_OK && fresh)
            rv = apply_one(s->db, &items[i], ts[i]);
    }
    if (rv == CHAT_OK)
        rv = prune_events(s, now_us);
    if (rv == CHAT_OK)
        rv = chati_db_commit(s->db);
    else
        chati_db_rollback(s->db);
    chat_free(ts);
    return rv;
}

static chat_err count_query(chati_db *d, const char *sql, const char *user_id,
                            const char *channel, int64_t after, int64_t *out)
{
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    chati_db_bind_str(st, 1, channel, false);
    sqlite3_bind_int64(st, 2, after);
    chati_db_bind_str(st, 3, user_id, false);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return chati_db_err(d, rc, "counting");
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return CHAT_OK;
}

/* A statement without parameters or rows, from the cache (lock held). */
static chat_err run_plain(chati_db *d, const char *sql)
{
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    return st == NULL ? CHAT_ERR_STORAGE : chati_db_step_done(d, st, sql);
}

static chat_err us_counts(void *impl, const char *user_id, const char *channel,
                          int64_t *unread, int64_t *mentions)
{
    chati_db *d = ((user_store *)impl)->db;
    if (bad_id(user_id) || bad_id(channel))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user and channel are required");
    int64_t after, u = 0, m = 0;
    bool found;
    /* A read transaction, so both counts see the same snapshot. */
    chati_db_lock(d);
    chat_err rv = run_plain(d, "BEGIN");
    if (rv == CHAT_OK) {
        rv = marker_us(d, user_id, channel, &after, &found);
        if (rv == CHAT_OK && unread != NULL)
            rv = count_query(d, "SELECT count(*) FROM activity WHERE channel = ?1"
                                " AND ts > ?2 AND deleted = 0 AND author IS NOT ?3",
                             user_id, channel, after, &u);
        if (rv == CHAT_OK && mentions != NULL)
            rv = count_query(
                d, "SELECT count(*) FROM ("
                   " SELECT ts FROM activity INDEXED BY activity_flagged"
                   "  WHERE channel = ?1 AND ts > ?2"
                   "  AND flags != 0 AND deleted = 0 AND author IS NOT ?3"
                   " UNION"
                   " SELECT m.ts FROM activity_mentions m JOIN activity a"
                   "  ON a.channel = m.channel AND a.ts = m.ts"
                   "  WHERE m.user_id = ?3 AND m.channel = ?1 AND m.ts > ?2"
                   "  AND a.deleted = 0 AND a.author IS NOT ?3)",
                user_id, channel, after, &m);
        if (rv == CHAT_OK)
            rv = run_plain(d, "COMMIT");
        if (rv != CHAT_OK && !sqlite3_get_autocommit(d->db))
            run_plain(d, "ROLLBACK");
    }
    chati_db_unlock(d);
    if (rv != CHAT_OK)
        return rv;
    if (unread != NULL)
        *unread = u;
    if (mentions != NULL)
        *mentions = m;
    return CHAT_OK;
}

static chat_err us_delete_user(void *impl, const char *user_id)
{
    chati_db *d = ((user_store *)impl)->db;
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "DELETE FROM users WHERE id = ?1");
    if (st != NULL) {
        chati_db_bind_str(st, 1, user_id, false);
        rv = chati_db_step_done(d, st, "deleting a user");
        if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %s", user_id);
    }
    chati_db_unlock(d);
    return rv;
}

/* ---------------------------------------------------------- usergroups --- */

#define UG_COLS                                                                           \
    "id, team_id, name, handle, description, users, channels, created_by, updated_by,"   \
    " created, updated, disabled"

static chat_err us_put_usergroup(void *impl, const chat_usergroup *g)
{
    chati_db *d = ((user_store *)impl)->db;
    if (g == NULL || bad_id(g->id) || bad_id(g->team_id) || g->name == NULL ||
        g->handle == NULL || g->users == NULL || g->channels == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a group needs ids, a name and a handle");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(
        d, "INSERT INTO usergroups (" UG_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
           " ?10, ?11, ?12) ON CONFLICT (id) DO UPDATE SET name = ?3, handle = ?4,"
           " description = ?5, users = ?6, channels = ?7, updated_by = ?9, updated = ?11,"
           " disabled = ?12");
    if (st != NULL) {
        const char *text[] = {g->id,    g->team_id,  g->name,       g->handle,    g->description,
                              g->users, g->channels, g->created_by, g->updated_by};
        for (int i = 0; i < (int)CHATI_ARRAY_LEN(text); i++)
            chati_db_bind_str(st, i + 1, text[i], i == 4);
        sqlite3_bind_int64(st, 10, g->created);
        sqlite3_bind_int64(st, 11, g->updated);
        sqlite3_bind_int64(st, 12, g->disabled);
        rv = chati_db_step_done(d, st, "writing a user group");
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err us_list_usergroups(void *impl, const char *team_id, chat_usergroup **out,
                                   size_t *n)
{
    chati_db *d = ((user_store *)impl)->db;
    if (bad_id(team_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a team");
    *out = NULL;
    *n = 0;
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st =
        chati_db_stmt(d, "SELECT " UG_COLS " FROM usergroups WHERE team_id = ?1 ORDER BY name");
    size_t cap = 0;
    if (st != NULL) {
        chati_db_bind_str(st, 1, team_id, false);
        int rc;
        rv = CHAT_OK;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                chat_usergroup *grown = chat_realloc(*out, cap * sizeof *grown);
                if (grown == NULL) {
                    rv = chati_fail(CHAT_ERR_NOMEM, "user groups");
                    break;
                }
                *out = grown;
            }
            chat_usergroup *g = &(*out)[(*n)++];
            memset(g, 0, sizeof *g);
            chati_db_col_fixed(st, 0, g->id, sizeof g->id);
            chati_db_col_fixed(st, 1, g->team_id, sizeof g->team_id);
            char **text[] = {&g->name, &g->handle, &g->description, &g->users, &g->channels};
            for (int k = 0; k < 5; k++)
                if (sqlite3_column_type(st, 2 + k) != SQLITE_NULL &&
                    (*text[k] = chati_db_col_str(st, 2 + k)) == NULL)
                    rv = chati_fail(CHAT_ERR_NOMEM, "user groups");
            chati_db_col_fixed(st, 7, g->created_by, sizeof g->created_by);
            chati_db_col_fixed(st, 8, g->updated_by, sizeof g->updated_by);
            g->created = sqlite3_column_int64(st, 9);
            g->updated = sqlite3_column_int64(st, 10);
            g->disabled = sqlite3_column_int64(st, 11);
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(d, rc, "listing user groups");
        sqlite3_reset(st);
    }
    chati_db_unlock(d);
    if (rv != CHAT_OK) {
        chat_usergroups_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rv;
}

const chat_user_store_ops chati_sqlite_user_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "sqlite",
    .open = us_open,
    .close = us_close,
    .create_team = us_create_team,
    .get_team = us_get_team,
    .get_team_by_domain = us_get_team_by_domain,
    .create_user = us_create_user,
    .get_user = us_get_user,
    .get_user_by_email = us_get_user_by_email,
    .update_user = us_update_user,
    .list_users = us_list_users,
    .set_read_marker = us_set_read_marker,
    .get_read_marker = us_get_read_marker,
    .apply_activity = us_apply_activity,
    .counts = us_counts,
    .delete_user = us_delete_user,
    .put_usergroup = us_put_usergroup,
    .list_usergroups = us_list_usergroups,
};
