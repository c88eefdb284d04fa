/*
 * libchat/backends/postgres/user_store.c - workspaces, users, read markers and
 * unread counters in PostgreSQL ("postgresql://"), the same semantics as
 * backends/sqlite/user_store.c (see there for the activity model).
 *
 * Ids that listings order by are COLLATE "C", so pages follow byte order
 * whatever the database's default collation. Emails are unique
 * case-insensitively (an index on lower(email)), as SQLite's NOCASE column.
 */
#include <stdio.h>
#include <string.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "backends/postgres/pg.h"

static const chati_pg_migration user_migrations[] = {
    {1,
     /* seq orders teams by creation: "the first workspace" for domain NULL. */
     "CREATE TABLE teams ("
     "  seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  id      TEXT NOT NULL UNIQUE,"
     "  name    TEXT NOT NULL,"
     "  domain  TEXT NOT NULL UNIQUE,"
     "  created BIGINT NOT NULL"
     ");"
     "CREATE TABLE users ("
     "  id           TEXT COLLATE \"C\" PRIMARY KEY,"
     "  team_id      TEXT NOT NULL REFERENCES teams (id),"
     "  email        TEXT," /* NULL for accounts without one */
     "  name         TEXT NOT NULL,"
     "  real_name    TEXT,"
     "  display_name TEXT,"
     "  title        TEXT,"
     "  status_text  TEXT,"
     "  status_emoji TEXT,"
     "  tz           TEXT,"
     "  is_admin     BOOLEAN NOT NULL DEFAULT false,"
     "  deleted      BOOLEAN NOT NULL DEFAULT false,"
     "  created      BIGINT NOT NULL,"
     "  updated      BIGINT NOT NULL,"
     "  UNIQUE (team_id, name)"
     ");"
     "CREATE UNIQUE INDEX users_email ON users (lower(email));"
     /* Listing walks a team's users by id. */
     "CREATE INDEX users_by_team ON users (team_id, id);"
     "CREATE TABLE read_markers ("
     "  user_id TEXT NOT NULL,"
     "  channel TEXT NOT NULL,"
     "  ts      BIGINT NOT NULL,"
     "  PRIMARY KEY (user_id, channel)"
     ");"
     /* Event ids already applied; pruned after a retention period. */
     "CREATE TABLE applied_events ("
     "  event_id TEXT PRIMARY KEY,"
     "  applied  BIGINT NOT NULL"
     ");"
     "CREATE INDEX applied_events_age ON applied_events (applied);"
     /* One row per message; a deleted one stays as a tombstone so that a
      * POSTED arriving after its DELETED cannot bring it back. */
     "CREATE TABLE activity ("
     "  channel TEXT NOT NULL,"
     "  ts      BIGINT NOT NULL,"
     "  author  TEXT,"
     "  flags   BIGINT NOT NULL DEFAULT 0,"
     "  deleted BOOLEAN NOT NULL DEFAULT false,"
     "  PRIMARY KEY (channel, ts)"
     ");"
     "CREATE INDEX activity_flagged ON activity (channel, ts, author)"
     "  WHERE flags <> 0 AND NOT deleted;"
     "CREATE TABLE activity_mentions ("
     "  user_id TEXT NOT NULL,"
     "  channel TEXT NOT NULL,"
     "  ts      BIGINT NOT NULL,"
     "  PRIMARY KEY (user_id, channel, ts)"
     ");"
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
        "  created     BIGINT NOT NULL,"
        "  updated     BIGINT NOT NULL,"
        "  disabled    BIGINT NOT NULL"
        ");"
        "CREATE UNIQUE INDEX usergroups_name ON usergroups (team_id, name);"
        "CREATE UNIQUE INDEX usergroups_handle ON usergroups (team_id, handle)"},
};

/* Applied event ids are kept this long (as in the SQLite store). */
#define EVENT_RETENTION_US (30LL * 24 * 3600 * 1000000)
#define PRUNE_EVERY_MS (3600LL * 1000)

typedef struct user_store {
    chati_pg *db;
    pthread_mutex_t prune_lock;
    int64_t last_prune_ms;      /* guarded by prune_lock */
} user_store;

#define TEAM_COLS "id, name, domain, created"
#define USER_COLS                                                                          \
    "id, team_id, email, name, real_name, display_name, title, status_text, status_emoji," \
    " tz, is_admin, deleted, created, updated, bot_id, app_id"

#define STMT(var, name, sql, n) static const chati_pg_stmt var = {name, sql, n}

STMT(st_team_insert, "user_team_insert",
     "INSERT INTO teams (" TEAM_COLS ") VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", 4);
STMT(st_team_domain_exists, "user_team_domain_exists", "SELECT 1 FROM teams WHERE domain = $1",
     1);
STMT(st_team_by_id, "user_team_by_id", "SELECT " TEAM_COLS " FROM teams WHERE id = $1", 1);
STMT(st_team_by_domain, "user_team_by_domain",
     "SELECT " TEAM_COLS " FROM teams WHERE domain = $1", 1);
STMT(st_team_first, "user_team_first", "SELECT " TEAM_COLS " FROM teams ORDER BY seq LIMIT 1",
     0);
STMT(st_user_insert, "user_insert",
     "INSERT INTO users (" USER_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
     " $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
     16);
/* After an insert that changed nothing: which unique key clashed. */
STMT(st_user_clash, "user_clash",
     "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1),"
     " EXISTS (SELECT 1 FROM users WHERE team_id = $2 AND name = $3),"
     " EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($4))",
     4);
STMT(st_user_by_id, "user_by_id", "SELECT " USER_COLS " FROM users WHERE id = $1", 1);
STMT(st_user_by_email, "user_by_email",
     "SELECT " USER_COLS " FROM users WHERE lower(email) = lower($1)", 1);
STMT(st_user_by_team_email, "user_by_team_email",
     "SELECT " USER_COLS " FROM users WHERE lower(email) = lower($1) AND team_id = $2", 2);
STMT(st_user_update, "user_update",
     "UPDATE users SET real_name = $2, display_name = $3, title = $4, status_text = $5,"
     " status_emoji = $6, tz = $7, is_admin = $8, deleted = $9, updated = $10 WHERE id = $1",
     10);
/* One row past the page tells whether another page exists. */
STMT(st_user_list, "user_list",
     "SELECT " USER_COLS " FROM users WHERE team_id = $1 AND id > $2 ORDER BY id LIMIT $3", 3);
STMT(st_user_delete, "user_delete", "DELETE FROM users WHERE id = $1", 1);
STMT(st_marker_set, "user_marker_set",
     "INSERT INTO read_markers (user_id, channel, ts) VALUES ($1, $2, $3)"
     " ON CONFLICT (user_id, channel) DO UPDATE SET ts = excluded.ts",
     3);
STMT(st_marker_clear, "user_marker_clear",
     "DELETE FROM read_markers WHERE user_id = $1 AND channel = $2", 2);
STMT(st_marker_get, "user_marker_get",
     "SELECT ts FROM read_markers WHERE user_id = $1 AND channel = $2", 2);
STMT(st_prune_events, "user_prune_events", "DELETE FROM applied_events WHERE applied < $1", 1);
/* One activity record in one statement, so a batch is one round trip: the
 * event id is claimed first and nothing else happens when it was applied
 * before. Then, by kind ($7):
 *   1 POSTED: inserted unless a row is there (a tombstone, a newer edit that
 *     overtook this post, or a repeat: each wins over this post), and its
 *     mentions with it.
 *   2 EDITED: inserted (its post has not arrived yet) or, unless deleted,
 *     given the new flags; its mentions become exactly $8.
 *   3 DELETED: a tombstone (inserted or marked); its mentions go.
 * Sibling statements of one WITH see the same snapshot, so mentions are
 * replaced by deleting the ones not in $8 and inserting $8 (ON CONFLICT keeps
 * those already there), never by delete-all-then-insert. */
STMT(st_activity, "user_activity",
     "WITH claim AS ("
     "  INSERT INTO applied_events (event_id, applied) VALUES ($1::text, $2::bigint)"
     "  ON CONFLICT DO NOTHING RETURNING 1),"
     " posted AS ("
     "  INSERT INTO activity (channel, ts, author, flags)"
     "  SELECT $3::text, $4::bigint, $5::text, $6::bigint"
     "  WHERE $7::int = 1 AND EXISTS (SELECT 1 FROM claim)"
     "  ON CONFLICT (channel, ts) DO NOTHING RETURNING 1),"
     " edited AS ("
     "  INSERT INTO activity AS a (channel, ts, author, flags)"
     "  SELECT $3::text, $4::bigint, $5::text, $6::bigint"
     "  WHERE $7::int = 2 AND EXISTS (SELECT 1 FROM claim)"
     "  ON CONFLICT (channel, ts) DO UPDATE SET flags = excluded.flags,"
     "  author = coalesce(excluded.author, a.author) WHERE NOT a.deleted RETURNING 1),"
     " deleted AS ("
     "  INSERT INTO activity (channel, ts, author, flags, deleted)"
     "  SELECT $3::text, $4::bigint, $5::text, $6::bigint, true"
     "  WHERE $7::int = 3 AND EXISTS (SELECT 1 FROM claim)"
     "  ON CONFLICT (channel, ts) DO UPDATE SET deleted = true RETURNING 1),"
     " dropped AS ("
     "  DELETE FROM activity_mentions WHERE channel = $3::text AND ts = $4::bigint"
     "  AND (EXISTS (SELECT 1 FROM deleted)"
     "   OR (EXISTS (SELECT 1 FROM edited) AND user_id <> ALL ($8::text[]))))"
     " INSERT INTO activity_mentions (user_id, channel, ts)"
     " SELECT DISTINCT u, $3::text, $4::bigint FROM unnest($8::text[]) AS u"
     " WHERE EXISTS (SELECT 1 FROM posted) OR EXISTS (SELECT 1 FROM edited)"
     " ON CONFLICT DO NOTHING",
     8);
/* Both counts in one statement (one snapshot), from the user's marker on. */
STMT(st_counts, "user_counts",
     "WITH mk AS (SELECT coalesce((SELECT ts FROM read_markers"
     "   WHERE user_id = $1 AND channel = $2), 0) AS after)"
     " SELECT"
     " (SELECT count(*) FROM activity, mk WHERE channel = $2 AND ts > mk.after"
     "   AND NOT deleted AND author IS DISTINCT FROM $1),"
     " (SELECT count(*) FROM ("
     "   SELECT ts FROM activity, mk WHERE channel = $2 AND ts > mk.after"
     "    AND flags <> 0 AND NOT deleted AND author IS DISTINCT FROM $1"
     "   UNION"
     "   SELECT m.ts FROM activity_mentions m JOIN activity a"
     "    ON a.channel = m.channel AND a.ts = m.ts, mk"
     "    WHERE m.user_id = $1 AND m.channel = $2 AND m.ts > mk.after"
     "    AND NOT a.deleted AND a.author IS DISTINCT FROM $1) x)",
     2);

static bool bad_id(const char *id)
{
    return id == NULL || id[0] == '\0' || strlen(id) >= CHAT_ID_SIZE;
}

static const char *empty_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* ---- open / close ---- */

static chat_err us_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "postgres user store: no URL");
    user_store *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "user store");
    chat_err rv = chati_pg_open(url, "user", user_migrations, CHATI_ARRAY_LEN(user_migrations),
                                &s->db);
    if (rv != CHAT_OK) {
        chat_free(s);
        return rv;
    }
    pthread_mutex_init(&s->prune_lock, NULL);
    s->last_prune_ms = chati_mono_ms();
    *impl = s;
    return CHAT_OK;
}

static void us_close(void *impl)
{
    user_store *s = impl;
    if (s == NULL)
        return;
    chati_pg_close(s->db);
    pthread_mutex_destroy(&s->prune_lock);
    chat_free(s);
}

/* ---- generic one-statement calls ---- */

typedef struct one_args {
    const chati_pg_stmt *st;
    const char *p[14];
    const char *what;
    chat_err absent;            /* when no row matched (CHAT_OK: not an error) */
    const char *absent_name;
    int64_t changed;
    PGresult *res;              /* for reads: handed to the caller */
} one_args;

static chat_err one_fn(chati_pg_conn *c, void *arg)
{
    one_args *a = arg;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(c, a->st, a->p, &r, a->what);
    if (rv != CHAT_OK)
        return rv;
    bool rows = PQresultStatus(r) == PGRES_TUPLES_OK;
    int64_t n = rows ? PQntuples(r) : chati_pg_changes(r);
    if (n == 0 && a->absent != CHAT_OK) {
        PQclear(r);
        return chati_fail(a->absent, "no %.80s", a->absent_name != NULL ? a->absent_name : "row");
    }
    a->changed = n;
    PQclear(a->res);
    a->res = rows ? r : NULL;
    if (!rows)
        PQclear(r);
    return CHAT_OK;
}

/* ---- teams ---- */

static chat_err team_insert_fn(chati_pg_conn *c, void *arg)
{
    const chat_team *t = arg;
    char created[24];
    const char *p[4] = {t->id, t->name, t->domain, chati_pg_i64(created, t->created)};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(c, &st_team_insert, p, &r, "inserting a team");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    if (n > 0)
        return CHAT_OK;
    rv = chati_pg_exec(c, &st_team_domain_exists, p + 2, &r, "reading a team");
    if (rv != CHAT_OK)
        return rv;
    bool taken = PQntuples(r) > 0;
    PQclear(r);
    if (taken)
        return chati_fail(CHAT_ERR_NAME_TAKEN, "domain %s is taken", t->domain);
    return chati_fail(CHAT_ERR_DUPLICATE, "team %s exists", t->id);
}

static chat_err us_create_team(void *impl, const chat_team *t)
{
    if (t == NULL || bad_id(t->id) || t->name == NULL || t->domain == NULL ||
        t->domain[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a team needs an id, name and domain");
    return chati_pg_write(((user_store *)impl)->db, team_insert_fn, (void *)t);
}

static chat_err read_team(const PGresult *r, chat_team **out)
{
    chat_team *t = chat_team_new();
    if (t == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "team");
    chati_pg_fixed(r, 0, 0, t->id, sizeof t->id);
    t->name = chati_pg_str(r, 0, 1);
    t->domain = chati_pg_str(r, 0, 2);
    t->created = chati_pg_int(r, 0, 3);
    if (t->name == NULL || t->domain == NULL) {
        chat_team_free(t);
        return chati_fail(CHAT_ERR_NOMEM, "team");
    }
    *out = t;
    return CHAT_OK;
}

static chat_err team_query(user_store *s, const chati_pg_stmt *st, const char *arg,
                           chat_err absent, chat_team **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    one_args a = {.st = st, .p = {arg}, .what = "reading a team", .absent = absent,
                  .absent_name = arg != NULL ? arg : "workspace yet"};
    chat_err rv = chati_pg_read(s->db, false, one_fn, &a);
    if (rv == CHAT_OK)
        rv = read_team(a.res, out);
    PQclear(a.res);
    return rv;
}

static chat_err us_get_team(void *impl, const char *team_id, chat_team **out)
{
    if (bad_id(team_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    return team_query(impl, &st_team_by_id, team_id, CHAT_ERR_TEAM_NOT_FOUND, out);
}

static chat_err us_get_team_by_domain(void *impl, const char *domain, chat_team **out)
{
    if (domain == NULL)
        return team_query(impl, &st_team_first, NULL, CHAT_ERR_NOT_FOUND, out);
    return team_query(impl, &st_team_by_domain, domain, CHAT_ERR_NOT_FOUND, out);
}

/* ---- users ---- */

static void profile_params(const char **p, const chat_user *u)
{
    p[0] = u->real_name;
    p[1] = u->display_name;
    p[2] = u->title;
    p[3] = u->status_text;
    p[4] = u->status_emoji;
    p[5] = u->tz;
}

static chat_err user_insert_fn(chati_pg_conn *c, void *arg)
{
    const chat_user *u = arg;
    char created[24], updated[24];
    const char *p[16] = {u->id, u->team_id, empty_null(u->email), u->name};
    profile_params(p + 4, u);
    p[10] = chati_pg_bool_param(u->is_admin);
    p[11] = chati_pg_bool_param(u->deleted);
    p[12] = chati_pg_i64(created, u->created);
    p[13] = chati_pg_i64(updated, u->updated);
    p[14] = empty_null(u->bot_id);
    p[15] = empty_null(u->app_id);
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(c, &st_user_insert, p, &r, "inserting a user");
    if (rv == CHAT_ERR_NOT_FOUND) /* the only foreign key: the team */
        return chati_fail(CHAT_ERR_TEAM_NOT_FOUND, "no workspace %s", u->team_id);
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    if (n > 0)
        return CHAT_OK;
    const char *q[4] = {u->id, u->team_id, u->name, empty_null(u->email)};
    rv = chati_pg_exec(c, &st_user_clash, q, &r, "reading users");
    if (rv != CHAT_OK)
        return rv;
    bool id = chati_pg_bool(r, 0, 0), name = chati_pg_bool(r, 0, 1),
         email = chati_pg_bool(r, 0, 2);
    PQclear(r);
    if (id)
        return chati_fail(CHAT_ERR_DUPLICATE, "user %s exists", u->id);
    if (name)
        return chati_fail(CHAT_ERR_NAME_TAKEN, "name %s is taken", u->name);
    if (email)
        return chati_fail(CHAT_ERR_EMAIL_TAKEN, "%s is already registered", u->email);
    return chati_fail(CHAT_ERR_DUPLICATE, "user %s clashes with an existing one", u->id);
}

static chat_err us_create_user(void *impl, const chat_user *u)
{
    if (u == NULL || bad_id(u->id) || bad_id(u->team_id) || u->name == NULL ||
        u->name[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a user needs an id, team and name");
    return chati_pg_write(((user_store *)impl)->db, user_insert_fn, (void *)u);
}

static chat_err read_user(const PGresult *r, int row, chat_user **out)
{
    chat_user *u = chat_user_new();
    if (u == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "user");
    chati_pg_fixed(r, row, 0, u->id, sizeof u->id);
    chati_pg_fixed(r, row, 1, u->team_id, sizeof u->team_id);
    char **text[] = {&u->email,        &u->name,        &u->real_name,    &u->display_name,
                     &u->title,        &u->status_text, &u->status_emoji, &u->tz};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(text); i++) {
        int col = 2 + (int)i;
        *text[i] = chati_pg_str(r, row, col);
        if (*text[i] == NULL && !PQgetisnull(r, row, col)) {
            chat_user_free(u);
            return chati_fail(CHAT_ERR_NOMEM, "user");
        }
    }
    u->is_admin = chati_pg_bool(r, row, 10);
    u->deleted = chati_pg_bool(r, row, 11);
    u->created = chati_pg_int(r, row, 12);
    u->updated = chati_pg_int(r, row, 13);
    chati_pg_fixed(r, row, 14, u->bot_id, sizeof u->bot_id);
    chati_pg_fixed(r, row, 15, u->app_id, sizeof u->app_id);
    *out = u;
    return CHAT_OK;
}

static chat_err user_query(user_store *s, const chati_pg_stmt *st, const char *a,
                           const char *b, chat_user **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    one_args q = {.st = st, .p = {a, b}, .what = "reading a user",
                  .absent = CHAT_ERR_USER_NOT_FOUND, .absent_name = a};
    chat_err rv = chati_pg_read(s->db, false, one_fn, &q);
    if (rv == CHAT_OK)
        rv = read_user(q.res, 0, out);
    PQclear(q.res);
    return rv;
}

static chat_err us_get_user(void *impl, const char *user_id, chat_user **out)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return user_query(impl, &st_user_by_id, user_id, NULL, out);
}

static chat_err us_get_user_by_email(void *impl, const char *team_id, const char *email,
                                     chat_user **out)
{
    if (email == NULL || email[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "email is required");
    /* Emails are unique across the server; team_id only narrows the answer. */
    if (team_id == NULL || team_id[0] == '\0')
        return user_query(impl, &st_user_by_email, email, NULL, out);
    return user_query(impl, &st_user_by_team_email, email, team_id, out);
}

static chat_err us_update_user(void *impl, const chat_user *u)
{
    if (u == NULL || bad_id(u->id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    char updated[24];
    one_args a = {.st = &st_user_update, .p = {u->id}, .what = "updating a user",
                  .absent = CHAT_ERR_USER_NOT_FOUND, .absent_name = u->id};
    profile_params(a.p + 1, u);
    a.p[7] = chati_pg_bool_param(u->is_admin);
    a.p[8] = chati_pg_bool_param(u->deleted);
    a.p[9] = chati_pg_i64(updated, u->updated);
    return chati_pg_write(((user_store *)impl)->db, one_fn, &a);
}

static chat_err us_list_users(void *impl, const char *team_id, const char *cursor, int limit,
                              chat_list **out)
{
    user_store *s = impl;
    if (bad_id(team_id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    int page;
    chat_err rv = chati_page_limit(limit, &page);
    char *after = NULL;
    if (rv == CHAT_OK)
        rv = chati_page_cursor_in(cursor, 'u', &after);
    if (rv != CHAT_OK)
        return rv;
    char lim[24];
    one_args q = {.st = &st_user_list, .p = {team_id, after != NULL ? after : "",
                                             chati_pg_i64(lim, page + 1)},
                  .what = "listing users"};
    rv = chati_pg_read(s->db, false, one_fn, &q);
    chat_free(after);
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_USERS);
    if (l == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "list");
    int rows = PQntuples(q.res);
    for (int i = 0; rv == CHAT_OK && i < rows && i < page; i++) {
        chat_user *u = NULL;
        rv = read_user(q.res, i, &u);
        if (rv == CHAT_OK)
            rv = chat_list_push(l, u);
    }
    if (rv == CHAT_OK && rows > page)
        rv = chati_page_cursor_out('u', chat_list_user(l, (size_t)page - 1)->id, l);
    PQclear(q.res);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

static chat_err us_delete_user(void *impl, const char *user_id)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    one_args a = {.st = &st_user_delete, .p = {user_id}, .what = "deleting a user",
                  .absent = CHAT_ERR_USER_NOT_FOUND, .absent_name = user_id};
    return chati_pg_write(((user_store *)impl)->db, one_fn, &a);
}

/* ---- read markers ---- */

static chat_err us_set_read_marker(void *impl, const char *user_id, const char *channel,
                                   const char *ts)
{
    if (bad_id(user_id) || bad_id(channel))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user and channel are required");
    int64_t us = 0;
    bool clear = ts == NULL || ts[0] == '\0';
    if (!clear && !chati_ts_parse(ts, &us))
        return chati_fail(CHAT_ERR_INVALID_TS, "read marker \"%.40s\" is not a timestamp", ts);
    char v[24];
    /* Markers may move backwards: "mark as unread" is a feature. */
    one_args a = {.st = clear ? &st_marker_clear : &st_marker_set,
                  .p = {user_id, channel, chati_pg_i64(v, us)},
                  .what = "setting a read marker"};
    return chati_pg_write(((user_store *)impl)->db, one_fn, &a);
}

static chat_err us_get_read_marker(void *impl, const char *user_id, const char *channel,
                                   char ts_out[CHAT_TS_SIZE])
{
    if (bad_id(user_id) || bad_id(channel) || ts_out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user and channel are required");
    one_args a = {.st = &st_marker_get, .p = {user_id, channel}, .what = "reading a marker"};
    chat_err rv = chati_pg_read(((user_store *)impl)->db, false, one_fn, &a);
    if (rv != CHAT_OK)
        return rv;
    if (PQntuples(a.res) > 0)
        chati_ts_format(chati_pg_int(a.res, 0, 0), ts_out);
    else
        ts_out[0] = '\0';
    PQclear(a.res);
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

/* The parameters of one record for st_activity: 8 per record, pointing into
 * strings the caller keeps (each record's numbers live in its own slot). */
typedef struct activity_row {
    char ts[24], flags[24], kind[4];
    char *mentions;             /* text[] literal */
} activity_row;

typedef struct activity_args {
    user_store *s;
    size_t n;
    const char **params;
    bool pruned;
} activity_args;

static chat_err activity_fn(chati_pg_conn *c, void *arg)
{
    activity_args *a = arg;
    chat_err rv = chati_pg_exec_batch(c, &st_activity, a->n, a->params, "applying activity");
    a->pruned = false;
    if (rv == CHAT_OK) {
        pthread_mutex_lock(&a->s->prune_lock);
        bool due = chati_mono_ms() - a->s->last_prune_ms >= PRUNE_EVERY_MS;
        pthread_mutex_unlock(&a->s->prune_lock);
        if (due) {
            char cut[24];
            const char *p[1] = {chati_pg_i64(cut, chati_now_us() - EVENT_RETENTION_US)};
            rv = chati_pg_exec(c, &st_prune_events, p, NULL, "pruning event ids");
            a->pruned = rv == CHAT_OK;
        }
    }
    return rv;
}

static chat_err us_apply_activity(void *impl, const chat_activity *items, size_t n)
{
    user_store *s = impl;
    if (n == 0)
        return CHAT_OK;
    if (items == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no activity");
    activity_row *rows = chat_calloc(n, sizeof *rows);
    const char **params = chat_calloc(n * 8, sizeof *params);
    chat_err rv = rows != NULL && params != NULL ? CHAT_OK
                                                 : chati_fail(CHAT_ERR_NOMEM, "activity");
    char now[24];
    chati_pg_i64(now, chati_now_us());
    /* Checked up front so that a bad record refuses the whole batch. */
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        const chat_activity *it = &items[i];
        int64_t ts;
        rv = check_activity(it, &ts);
        if (rv == CHAT_OK && (rows[i].mentions = chati_pg_id_array(it->mentions,
                                                                   it->n_mentions)) == NULL)
            rv = CHAT_ERR_NOMEM;
        if (rv != CHAT_OK)
            break;
        chati_pg_i64(rows[i].ts, ts);
        chati_pg_i64(rows[i].flags, (int64_t)it->mention_flags);
        snprintf(rows[i].kind, sizeof rows[i].kind, "%d", (int)it->kind);
        const char **p = params + i * 8;
        p[0] = it->event_id;
        p[1] = now;
        p[2] = it->channel;
        p[3] = rows[i].ts;
        p[4] = empty_null(it->author);
        p[5] = rows[i].flags;
        p[6] = rows[i].kind;
        p[7] = rows[i].mentions;
    }
    activity_args a = {s, n, params, false};
    if (rv == CHAT_OK)
        rv = chati_pg_write(s->db, activity_fn, &a);
    if (rv == CHAT_OK && a.pruned) {
        pthread_mutex_lock(&s->prune_lock);
        s->last_prune_ms = chati_mono_ms();
        pthread_mutex_unlock(&s->prune_lock);
    }
    for (size_t i = 0; rows != NULL && i < n; i++)
        chat_free(rows[i].mentions);
    chat_free(rows);
    chat_free(params);
    return rv;
}

static chat_err us_counts(void *impl, const char *user_id, const char *channel,
                          int64_t *unread, int64_t *mentions)
{
    if (bad_id(user_id) || bad_id(channel))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user and channel are required");
    one_args a = {.st = &st_counts, .p = {user_id, channel}, .what = "counting"};
    chat_err rv = chati_pg_read(((user_store *)impl)->db, false, one_fn, &a);
    if (rv != CHAT_OK)
        return rv;
    if (unread != NULL)
        *unread = chati_pg_int(a.res, 0, 0);
    if (mentions != NULL)
        *mentions = chati_pg_int(a.res, 0, 1);
    PQclear(a.res);
    return CHAT_OK;
}

/* ---- usergroups ---- */

#define UG_COLS                                                                           \
    "id, team_id, name, handle, description, users, channels, created_by, updated_by,"   \
    " created, updated, disabled"
STMT(st_ug_put, "user_ug_put",
     "INSERT INTO usergroups (" UG_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
     " $11, $12) ON CONFLICT (id) DO UPDATE SET name = $3, handle = $4, description = $5,"
     " users = $6, channels = $7, updated_by = $9, updated = $11, disabled = $12",
     12);
STMT(st_ug_list, "user_ug_list",
     "SELECT " UG_COLS " FROM usergroups WHERE team_id = $1 ORDER BY name", 1);

static chat_err ug_put_fn(chati_pg_conn *conn, void *arg)
{
    const chat_usergroup *g = arg;
    char b[3][24];
    const char *p[12] = {g->id,         g->team_id,
                         g->name,       g->handle,
                         g->description && *g->description ? g->description : NULL,
                         g->users,      g->channels,
                         g->created_by, g->updated_by,
                         chati_pg_i64(b[0], g->created), chati_pg_i64(b[1], g->updated),
                         chati_pg_i64(b[2], g->disabled)};
    return chati_pg_exec(conn, &st_ug_put, p, NULL, "writing a user group");
}

static chat_err us_put_usergroup(void *impl, const chat_usergroup *g)
{
    if (g == NULL || bad_id(g->id) || bad_id(g->team_id) || g->name == NULL ||
        g->handle == NULL || g->users == NULL || g->channels == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a group needs ids, a name and a handle");
    return chati_pg_write(((user_store *)impl)->db, ug_put_fn, (void *)g);
}

typedef struct ug_args {
    const char *team;
    chat_usergroup *gs;
    size_t n;
} ug_args;

static chat_err ug_list_fn(chati_pg_conn *conn, void *arg)
{
    ug_args *a = arg;
    chat_usergroups_free(a->gs, a->n); /* what an earlier attempt read */
    a->gs = NULL;
    a->n = 0;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_ug_list, &a->team, &r, "listing user groups");
    if (rv != CHAT_OK)
        return rv;
    int rows = PQntuples(r);
    if (rows > 0 && (a->gs = chat_calloc((size_t)rows, sizeof *a->gs)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "user groups");
    for (int i = 0; rv == CHAT_OK && i < rows; i++) {
        chat_usergroup *g = &a->gs[a->n++];
        chati_pg_fixed(r, i, 0, g->id, sizeof g->id);
        chati_pg_fixed(r, i, 1, g->team_id, sizeof g->team_id);
        char **text[] = {&g->name, &g->handle, &g->description, &g->users, &g->channels};
        for (int k = 0; k < 5; k++)
            if (!PQgetisnull(r, i, 2 + k) && (*text[k] = chati_pg_str(r, i, 2 + k)) == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "user groups");
        chati_pg_fixed(r, i, 7, g->created_by, sizeof g->created_by);
        chati_pg_fixed(r, i, 8, g->updated_by, sizeof g->updated_by);
        g->created = chati_pg_int(r, i, 9);
        g->updated = chati_pg_int(r, i, 10);
        g->disabled = chati_pg_int(r, i, 11);
    }
    PQclear(r);
    return rv;
}

static chat_err us_list_usergroups(void *impl, const char *team_id, chat_usergroup **out,
                                   size_t *n)
{
    if (bad_id(team_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a team");
    ug_args a = {team_id, NULL, 0};
    chat_err rv = chati_pg_read(((user_store *)impl)->db, false, ug_list_fn, &a);
    if (rv != CHAT_OK) {
        chat_usergroups_free(a.gs, a.n);
        return rv;
    }
    *out = a.gs;
    *n = a.n;
    return CHAT_OK;
}

const chat_user_store_ops chati_pg_user_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "postgresql",
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
