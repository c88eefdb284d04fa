/*
 * libchat/backends/sqlite/auth_store.c - credentials in SQLite ("sqlite:").
 *
 * URL: "sqlite:/path/auth.db" or "sqlite::memory:". Emails are stored
 * lower-cased, so the UNIQUE index is case-insensitive without a collation the
 * PostgreSQL backend would have to imitate. Every function is one statement
 * (atomic on its own) under the database lock. Absent rows give not_found.
 */
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "backends/sqlite/db.h"

static const chati_migration auth_migrations[] = {
    {1, "CREATE TABLE credentials ("
        "  user_id   TEXT PRIMARY KEY,"
        "  team_id   TEXT NOT NULL,"
        "  email     TEXT NOT NULL UNIQUE,"     /* lower-cased by the store */
        "  pwhash    TEXT NOT NULL,"
        "  token_gen INTEGER NOT NULL,"
        "  active    INTEGER NOT NULL DEFAULT 1,"
        "  is_admin  INTEGER NOT NULL DEFAULT 0"
        ") WITHOUT ROWID;"},
    {2, "CREATE TABLE apps ("
        "  id             TEXT PRIMARY KEY,"
        "  team_id        TEXT NOT NULL,"
        "  bot_user_id    TEXT NOT NULL UNIQUE,"
        "  bot_id         TEXT NOT NULL UNIQUE,"
        "  creator        TEXT NOT NULL,"
        "  name           TEXT NOT NULL,"
        "  signing_secret TEXT NOT NULL,"
        "  scopes         TEXT NOT NULL,"
        "  manifest       TEXT NOT NULL,"
        "  created        INTEGER NOT NULL,"
        "  token_gen      INTEGER NOT NULL,"
        "  active         INTEGER NOT NULL DEFAULT 1"
        ") WITHOUT ROWID;"
        "CREATE INDEX apps_team ON apps (team_id, id);"},
    /* seq is never reused (AUTOINCREMENT): an old envelope id can never
     * acknowledge a later event. */
    {3, "CREATE TABLE app_events ("
        "  seq         INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  app_id      TEXT NOT NULL,"
        "  event_id    TEXT NOT NULL,"
        "  kind        INTEGER NOT NULL,"
        "  created     INTEGER NOT NULL,"          /* unix ms */
        "  attempts    INTEGER NOT NULL DEFAULT 0,"
        "  lease_until INTEGER NOT NULL DEFAULT 0," /* unix ms */
        "  done        INTEGER NOT NULL DEFAULT 0,"
        "  data        BLOB"                       /* NULL once acknowledged */
        ");"
        "CREATE UNIQUE INDEX app_events_once ON app_events (app_id, event_id, kind);"
        "CREATE INDEX app_events_due ON app_events (app_id, done, seq);"
        "CREATE INDEX app_events_waiting ON app_events (done, lease_until, app_id);"},
    /* NULL triggers and external ids are distinct from each other. */
    {4, "CREATE TABLE views ("
        "  id          TEXT PRIMARY KEY,"
        "  team_id     TEXT NOT NULL,"
        "  app_id      TEXT NOT NULL,"
        "  user_id     TEXT NOT NULL,"
        "  root_id     TEXT NOT NULL,"
        "  previous_id TEXT NOT NULL,"
        "  hash        TEXT NOT NULL,"
        "  trigger_id  TEXT,"
        "  external_id TEXT,"
        "  body        TEXT NOT NULL,"
        "  vals        TEXT,"
        "  depth       INTEGER NOT NULL,"
        "  updated     INTEGER NOT NULL," /* unix ms */
        "  open        INTEGER NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE UNIQUE INDEX views_trigger ON views (app_id, trigger_id);"
        "CREATE UNIQUE INDEX views_external ON views (app_id, external_id);"
        "CREATE INDEX views_updated ON views (updated);"},
};

#define CRED_COLS "user_id, team_id, email, pwhash, token_gen, active, is_admin"

static chat_err auth_open(const char *url, const chat_config *cfg, void **impl)
{
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "sqlite auth store: no URL");
    bool exclusive = false;
    if (chati_db_locking(cfg, &exclusive) != CHAT_OK)
        return CHAT_ERR_INVALID_CONFIG;
    chati_db *d = NULL;
    chat_err rv = chati_db_open(chati_url_rest(url), exclusive, auth_migrations,
                                CHATI_ARRAY_LEN(auth_migrations), &d);
    if (rv == CHAT_OK)
        rv = chati_db_require_table(d, "credentials");
    if (rv != CHAT_OK) {
        chati_db_close(d);
        return rv;
    }
    *impl = d;
    return CHAT_OK;
}

static void auth_close(void *impl)
{
    chati_db_close(impl);
}

/* A lower-cased copy of an email, freed with chat_free. */
static chat_err email_key(const char *email, char **out)
{
    if (email == NULL || email[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "email is required");
    if ((*out = chat_strdup(email)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "email");
    chati_ascii_lower(*out);
    return CHAT_OK;
}

static bool bad_id(const char *id)
{
    return id == NULL || id[0] == '\0' || strlen(id) >= CHAT_ID_SIZE;
}

static chat_err auth_create(void *impl, const chat_credential *c)
{
    chati_db *d = impl;
    if (c == NULL || bad_id(c->user_id) || c->pwhash == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a credential needs a user id and hash");
    char *email = NULL;
    chat_err rv = email_key(c->email, &email);
    if (rv != CHAT_OK)
        return rv;

    chati_db_lock(d);
    rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "INSERT INTO credentials (" CRED_COLS ")"
                                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (st != NULL) {
        chati_db_bind_str(st, 1, c->user_id, false);
        chati_db_bind_str(st, 2, c->team_id, false);
        chati_db_bind_str(st, 3, email, false);
        chati_db_bind_str(st, 4, c->pwhash, false);
        sqlite3_bind_int64(st, 5, c->token_gen);
        sqlite3_bind_int(st, 6, c->active);
        sqlite3_bind_int(st, 7, c->is_admin);
        rv = chati_db_step_done(d, st, "inserting a credential");
    }
    if (rv == CHAT_ERR_DUPLICATE) {
        /* Two unique keys: say which one clashed. */
        st = chati_db_stmt(d, "SELECT 1 FROM credentials WHERE email = ?1");
        if (st != NULL) {
            chati_db_bind_str(st, 1, email, false);
            if (sqlite3_step(st) == SQLITE_ROW)
                rv = chati_fail(CHAT_ERR_EMAIL_TAKEN, "%s is already registered", email);
            else
                rv = chati_fail(CHAT_ERR_DUPLICATE, "user %s already has a credential",
                                c->user_id);
        }
    }
    chati_db_unlock(d);
    chat_free(email);
    return rv;
}

static chat_err read_cred(sqlite3_stmt *st, chat_credential **out)
{
    chat_credential *c = chat_credential_new();
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "credential");
    chati_db_col_fixed(st, 0, c->user_id, sizeof c->user_id);
    chati_db_col_fixed(st, 1, c->team_id, sizeof c->team_id);
    c->email = chati_db_col_str(st, 2);
    c->pwhash = chati_db_col_str(st, 3);
    c->token_gen = sqlite3_column_int64(st, 4);
    c->active = sqlite3_column_int(st, 5) != 0;
    c->is_admin = sqlite3_column_int(st, 6) != 0;
    if (c->email == NULL || c->pwhash == NULL) {
        chat_credential_free(c);
        return chati_fail(CHAT_ERR_NOMEM, "credential");
    }
    *out = c;
    return CHAT_OK;
}

/* Runs a one-row SELECT with one text parameter. */
static chat_err get_one(chati_db *d, const char *sql, const char *arg, chat_credential **out)
{
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st != NULL) {
        chati_db_bind_str(st, 1, arg, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = read_cred(st, out);
        else if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "no credential for %.80s", arg);
        else
            rv = chati_db_err(d, rc, "reading a credential");
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err auth_get_by_email(void *impl, const char *email, chat_credential **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    char *key = NULL;
    chat_err rv = email_key(email, &key);
    if (rv != CHAT_OK)
        return rv;
    rv = get_one(impl, "SELECT " CRED_COLS " FROM credentials WHERE email = ?1", key,
                          out);
    chat_free(key);
    return rv;
}

static chat_err auth_get(void *impl, const char *user_id, chat_credential **out)
{
    if (bad_id(user_id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return get_one(impl, "SELECT " CRED_COLS " FROM credentials WHERE user_id = ?1", user_id,
                   out);
}

/* Runs an UPDATE ... RETURNING token_gen for one user. */
static chat_err update_gen(chati_db *d, sqlite3_stmt *st, const char *user_id, int64_t *new_gen)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return chati_fail(CHAT_ERR_NOT_FOUND, "no credential for %s", user_id);
    if (rc != SQLITE_ROW)
        return chati_db_err(d, rc, "updating a credential");
    int64_t gen = sqlite3_column_int64(st, 0);
    chat_err rv = chati_db_step_done(d, st, "updating a credential");
    if (rv == CHAT_OK && new_gen != NULL)
        *new_gen = gen;
    return rv;
}

static chat_err auth_set_password(void *impl, const char *user_id, const char *pwhash,
                                  int64_t *new_gen)
{
    chati_db *d = impl;
    if (bad_id(user_id) || pwhash == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id and hash are required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "UPDATE credentials SET pwhash = ?2,"
                                        " token_gen = token_gen + 1 WHERE user_id = ?1"
                                        " RETURNING token_gen");
    if (st != NULL) {
        chati_db_bind_str(st, 1, user_id, false);
        chati_db_bind_str(st, 2, pwhash, false);
        rv = update_gen(d, st, user_id, new_gen);
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err auth_bump_generation(void *impl, const char *user_id, int64_t *new_gen)
{
    chati_db *d = impl;
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "UPDATE credentials SET token_gen = token_gen + 1"
                                        " WHERE user_id = ?1 RETURNING token_gen");
    if (st != NULL) {
        chati_db_bind_str(st, 1, user_id, false);
        rv = update_gen(d, st, user_id, new_gen);
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err auth_set_active(void *impl, const char *user_id, bool active)
{
    chati_db *d = impl;
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "UPDATE credentials SET active = ?2 WHERE user_id = ?1");
    if (st != NULL) {
        chati_db_bind_str(st, 1, user_id, false);
        sqlite3_bind_int(st, 2, active);
        rv = chati_db_step_done(d, st, "updating a credential");
        if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "no credential for %s", user_id);
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err auth_remove(void *impl, const char *user_id)
{
    chati_db *d = impl;
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "DELETE FROM credentials WHERE user_id = ?1");
    if (st != NULL) {
        chati_db_bind_str(st, 1, user_id, false);
        rv = chati_db_step_done(d, st, "deleting a credential");
        if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "no credential for %s", user_id);
    }
    chati_db_unlock(d);
    return rv;
}

/* ---------------------------------------------------------------- apps --- */

#define APP_COLS                                                                           \
    "id, team_id, bot_user_id, bot_id, creator, name, signing_secret, scopes, manifest,"  \
    " created, token_gen, active"

static chat_err auth_create_app(void *impl, const chat_app *a)
{
    chati_db *d = impl;
    if (a == NULL || bad_id(a->id) || bad_id(a->team_id) || bad_id(a->bot_user_id) ||
        bad_id(a->bot_id) || a->name == NULL || a->signing_secret == NULL ||
        a->scopes == NULL || a->manifest == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app needs ids, a name and secrets");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "INSERT INTO apps (" APP_COLS ") VALUES"
                                        " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (st != NULL) {
        const char *text[] = {a->id,   a->team_id,        a->bot_user_id, a->bot_id, a->creator,
                              a->name, a->signing_secret, a->scopes,      a->manifest};
        for (int i = 0; i < (int)CHATI_ARRAY_LEN(text); i++)
            chati_db_bind_str(st, i + 1, text[i], false);
        sqlite3_bind_int64(st, 10, a->created);
        sqlite3_bind_int64(st, 11, a->token_gen);
        sqlite3_bind_int(st, 12, a->active);
        rv = chati_db_step_done(d, st, "inserting an app");
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err read_app(sqlite3_stmt *st, chat_app **out)
{
    chat_app *a = chat_app_new();
    if (a == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "app");
    char *fixed[] = {a->id, a->team_id, a->bot_user_id, a->bot_id, a->creator};
    for (int i = 0; i < (int)CHATI_ARRAY_LEN(fixed); i++)
        chati_db_col_fixed(st, i, fixed[i], CHAT_ID_SIZE);
    a->name = chati_db_col_str(st, 5);
    a->signing_secret = chati_db_col_str(st, 6);
    a->scopes = chati_db_col_str(st, 7);
    a->manifest = chati_db_col_str(st, 8);
    a->created = sqlite3_column_int64(st, 9);
    a->token_gen = sqlite3_column_int64(st, 10);
    a->active = sqlite3_column_int(st, 11) != 0;
    if (!a->name || !a->signing_secret || !a->scopes || !a->manifest) {
        chat_app_free(a);
        return chati_fail(CHAT_ERR_NOMEM, "app");
    }
    *out = a;
    return CHAT_OK;
}

static chat_err auth_get_app(void *impl, const char *id, chat_app **out)
{
    chati_db *d = impl;
    if (bad_id(id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "app id is required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, id[0] == 'B'
                                            ? "SELECT " APP_COLS " FROM apps WHERE bot_id = ?1"
                                            : "SELECT " APP_COLS " FROM apps WHERE id = ?1");
    if (st != NULL) {
        chati_db_bind_str(st, 1, id, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = read_app(st, out);
        else if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "no app %.40s", id);
        else
            rv = chati_db_err(d, rc, "reading an app");
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err auth_list_apps(void *impl, const char *team_id, chat_app ***out, size_t *n)
{
    chati_db *d = impl;
    if (bad_id(team_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    *out = NULL;
    *n = 0;
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st =
        chati_db_stmt(d, "SELECT " APP_COLS " FROM apps WHERE team_id = ?1 ORDER BY id");
    int rc = SQLITE_DONE;
    if (st != NULL) {
        rv = CHAT_OK;
        chati_db_bind_str(st, 1, team_id, false);
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            chat_app **grown = chat_realloc(*out, (*n + 1) * sizeof **out);
            if (grown == NULL) {
                rv = chati_fail(CHAT_ERR_NOMEM, "apps");
                break;
            }
            *out = grown;
            if ((rv = read_app(st, &grown[*n])) == CHAT_OK)
                (*n)++;
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(d, rc, "listing apps");
        sqlite3_reset(st);
    }
    chati_db_unlock(d);
    if (rv != CHAT_OK) {
        for (size_t i = 0; i < *n; i++)
            chat_app_free((*out)[i]);
        chat_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rv;
}

static chat_err auth_bump_app_generation(void *impl, const char *app_id, int64_t *new_gen)
{
    chati_db *d = impl;
    if (bad_id(app_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "app id is required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "UPDATE apps SET token_gen = token_gen + 1"
                                        " WHERE id = ?1 RETURNING token_gen");
    if (st != NULL) {
        chati_db_bind_str(st, 1, app_id, false);
        rv = update_gen(d, st, app_id, new_gen);
    }
    chati_db_unlock(d);
    return rv;
}

/* ---------------------------------------------------------- app events --- */

static chat_err auth_queue_app_events(void *impl, const chat_app_event *evs, size_t n)
{
    chati_db *d = impl;
    for (size_t i = 0; i < n; i++)
        if (bad_id(evs[i].app_id) || evs[i].event_id[0] == '\0' || evs[i].data == NULL)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app event needs ids and data");
    if (n == 0)
        return CHAT_OK;
    chat_err rv = chati_db_begin(d);
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        sqlite3_stmt *st = chati_db_stmt(d, "INSERT OR IGNORE INTO app_events"
                                            " (app_id, event_id, kind, created, data)"
                                            " VALUES (?1, ?2, ?3, ?4, ?5)");
        if (st == NULL) {
            rv = CHAT_ERR_STORAGE;
            break;
        }
        chati_db_bind_str(st, 1, evs[i].app_id, false);
        chati_db_bind_str(st, 2, evs[i].event_id, false);
        sqlite3_bind_int(st, 3, evs[i].kind);
        sqlite3_bind_int64(st, 4, evs[i].created_ms);
        sqlite3_bind_blob64(st, 5, evs[i].data, evs[i].len, SQLITE_STATIC);
        rv = chati_db_step_done(d, st, "queueing an app event");
    }
    if (rv != CHAT_OK) {
        chati_db_rollback(d);
        return rv;
    }
    return chati_db_commit(d);
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const chat_app_event *)a)->seq, y = ((const chat_app_event *)b)->seq;
    return (x > y) - (x < y);
}

static chat_err read_leased(chati_db *d, sqlite3_stmt *st, const char *app_id,
                            chat_app_event **out, size_t *n, size_t max)
{
    chat_app_event *evs = chat_calloc(max, sizeof *evs);
    if (evs == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "app events");
    chat_err rv = CHAT_OK;
    size_t k = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < max) {
        chat_app_event *e = &evs[k];
        chati_copy_fixed(e->app_id, sizeof e->app_id, app_id);
        e->seq = sqlite3_column_int64(st, 0);
        chati_db_col_fixed(st, 1, e->event_id, sizeof e->event_id);
        e->kind = sqlite3_column_int(st, 2);
        e->attempts = sqlite3_column_int(st, 3);
        e->created_ms = sqlite3_column_int64(st, 4);
        const void *data = sqlite3_column_blob(st, 5);
        e->len = (size_t)sqlite3_column_bytes(st, 5);
        if ((e->data = chat_malloc(e->len ? e->len : 1)) == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "app events");
            break;
        }
        if (e->len)
            memcpy(e->data, data, e->len);
        k++;
    }
    if (rv == CHAT_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        rv = chati_db_err(d, rc, "leasing app events");
    sqlite3_reset(st);
    if (rv != CHAT_OK) {
        chat_app_events_free(evs, k);
        return rv;
    }
    qsort(evs, k, sizeof *evs, by_seq); /* RETURNING has no order of its own */
    *out = evs;
    *n = k;
    return CHAT_OK;
}

static chat_err auth_lease_app_events(void *impl, const char *app_id, int64_t now_ms,
                                      int64_t lease_ms, int max_attempts,
                                      int64_t created_after_ms, size_t max,
                                      chat_app_event **out, size_t *n)
{
    chati_db *d = impl;
    if (bad_id(app_id) || out == NULL || n == NULL || max == 0 || lease_ms <= 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app id, a lease and a count");
    *out = NULL;
    *n = 0;
    chat_err rv = chati_db_begin(d);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_stmt *st = chati_db_stmt(
        d, "DELETE FROM app_events WHERE app_id = ?1 AND (created < ?2 OR"
           " (done = 0 AND attempts >= ?3 AND lease_until <= ?4))");
    rv = CHAT_ERR_STORAGE;
    if (st != NULL) {
        chati_db_bind_str(st, 1, app_id, false);
        sqlite3_bind_int64(st, 2, created_after_ms);
        sqlite3_bind_int(st, 3, max_attempts);
        sqlite3_bind_int64(st, 4, now_ms);
        rv = chati_db_step_done(d, st, "dropping app events");
    }
    st = rv == CHAT_OK ? chati_db_stmt(d, "UPDATE app_events SET attempts = attempts + 1,"
                                          " lease_until = ?3 WHERE seq IN (SELECT seq FROM"
                                          " app_events WHERE app_id = ?1 AND done = 0 AND"
                                          " lease_until <= ?2 ORDER BY seq LIMIT ?4)"
                                          " RETURNING seq, event_id, kind, attempts, created,"
                                          " data")
                       : NULL;
    if (rv == CHAT_OK && st == NULL)
        rv = CHAT_ERR_STORAGE;
    if (rv == CHAT_OK) {
        chati_db_bind_str(st, 1, app_id, false);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int64(st, 3, now_ms + lease_ms);
        sqlite3_bind_int64(st, 4, (int64_t)max);
        rv = read_leased(d, st, app_id, out, n, max);
    }
    if (rv != CHAT_OK) {
        chati_db_rollback(d);
        return rv;
    }
    if ((rv = chati_db_commit(d)) != CHAT_OK) {
        chat_app_events_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rv;
}

static chat_err auth_ack_app_events(void *impl, const char *app_id, const int64_t *seqs,
                                    size_t n)
{
    chati_db *d = impl;
    if (bad_id(app_id) || (n > 0 && seqs == NULL))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app id and the events");
    if (n == 0)
        return CHAT_OK;
    chat_err rv = chati_db_begin(d);
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        sqlite3_stmt *st = chati_db_stmt(d, "UPDATE app_events SET done = 1, data = NULL"
                                            " WHERE app_id = ?1 AND seq = ?2");
        if (st == NULL) {
            rv = CHAT_ERR_STORAGE;
            break;
        }
        chati_db_bind_str(st, 1, app_id, false);
        sqlite3_bind_int64(st, 2, seqs[i]);
        rv = chati_db_step_done(d, st, "acknowledging an app event");
    }
    if (rv != CHAT_OK) {
        chati_db_rollback(d);
        return rv;
    }
    return chati_db_commit(d);
}

static chat_err auth_due_apps(void *impl, int64_t now_ms, size_t max,
                              char (**ids)[CHAT_ID_SIZE], size_t *n)
{
    chati_db *d = impl;
    if (ids == NULL || n == NULL || max == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "ids, n and max are required");
    *ids = NULL;
    *n = 0;
    char(*out)[CHAT_ID_SIZE] = chat_calloc(max, CHAT_ID_SIZE);
    if (out == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "apps");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "SELECT DISTINCT app_id FROM app_events"
                                        " WHERE done = 0 AND lease_until <= ?1 LIMIT ?2");
    size_t k = 0;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, (int64_t)max);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < max)
            chati_db_col_fixed(st, 0, out[k++], CHAT_ID_SIZE);
        rv = rc == SQLITE_DONE || rc == SQLITE_ROW ? CHAT_OK : chati_db_err(d, rc, "due apps");
        sqlite3_reset(st);
    }
    chati_db_unlock(d);
    if (rv != CHAT_OK) {
        chat_free(out);
        return rv;
    }
    *ids = out;
    *n = k;
    return CHAT_OK;
}

/* --------------------------------------------------------------- views --- */

#define VIEW_COLS                                                                        \
    "id, team_id, app_id, user_id, root_id, previous_id, hash, trigger_id, external_id," \
    " body, vals, depth, updated, open"

static chat_err auth_create_view(void *impl, const chat_view *v)
{
    chati_db *d = impl;
    if (v == NULL || bad_id(v->id) || bad_id(v->team_id) || bad_id(v->app_id) ||
        bad_id(v->user_id) || bad_id(v->root_id) || v->hash[0] == '\0' || v->body == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a view needs ids, a hash and a body");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "INSERT INTO views (" VIEW_COLS ") VALUES (?1, ?2, ?3,"
                                        " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    if (st != NULL) {
        const char *text[] = {v->id,      v->team_id,     v->app_id,      v->user_id,
                              v->root_id, v->previous_id, v->hash,        v->trigger,
                              v->external_id, v->body,    v->values};
        for (int i = 0; i < (int)CHATI_ARRAY_LEN(text); i++)
            chati_db_bind_str(st, i + 1, text[i], i >= 7);
        sqlite3_bind_int(st, 12, v->depth);
        sqlite3_bind_int64(st, 13, v->updated_ms);
        sqlite3_bind_int(st, 14, v->open);
        rv = chati_db_step_done(d, st, "inserting a view");
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err read_view(sqlite3_stmt *st, chat_view **out)
{
    chat_view *v = chat_view_new();
    if (v == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "view");
    char *fixed[] = {v->id, v->team_id, v->app_id, v->user_id, v->root_id, v->previous_id,
                     v->hash};
    for (int i = 0; i < (int)CHATI_ARRAY_LEN(fixed); i++)
        chati_db_col_fixed(st, i, fixed[i], CHAT_ID_SIZE);
    char **text[] = {&v->trigger, &v->external_id, &v->body, &v->values};
    bool nomem = false;
    for (int i = 0; i < (int)CHATI_ARRAY_LEN(text); i++)
        if (sqlite3_column_type(st, 7 + i) != SQLITE_NULL)
            nomem |= (*text[i] = chati_db_col_str(st, 7 + i)) == NULL;
    v->depth = sqlite3_column_int(st, 11);
    v->updated_ms = sqlite3_column_int64(st, 12);
    v->open = sqlite3_column_int(st, 13) != 0;
    if (nomem || v->body == NULL) {
        chat_view_free(v);
        return chati_fail(CHAT_ERR_NOMEM, "view");
    }
    *out = v;
    return CHAT_OK;
}

static chat_err auth_get_view(void *impl, const char *id, const char *app_id,
                              const char *external_id, chat_view **out)
{
    chati_db *d = impl;
    if (out == NULL || (id ? bad_id(id) : bad_id(app_id) || !external_id || !*external_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a view id, or an app and external id");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(
        d, id ? "SELECT " VIEW_COLS " FROM views WHERE id = ?1"
              : "SELECT " VIEW_COLS " FROM views WHERE app_id = ?1 AND external_id = ?2");
    if (st != NULL) {
        chati_db_bind_str(st, 1, id ? id : app_id, false);
        if (id == NULL)
            chati_db_bind_str(st, 2, external_id, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = read_view(st, out);
        else if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "no view %.40s", id ? id : external_id);
        else
            rv = chati_db_err(d, rc, "reading a view");
        sqlite3_reset(st);
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err auth_update_view(void *impl, const chat_view *v, const char *if_hash)
{
    chati_db *d = impl;
    if (v == NULL || bad_id(v->id) || v->hash[0] == '\0' || v->body == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a view needs an id, a hash and a body");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "UPDATE views SET hash = ?2, body = ?3, vals = ?4,"
                                        " open = ?5, updated = ?6, external_id = ?7"
                                        " WHERE id = ?1 AND (?8 IS NULL OR hash = ?8)");
    if (st != NULL) {
        chati_db_bind_str(st, 1, v->id, false);
        chati_db_bind_str(st, 2, v->hash, false);
        chati_db_bind_str(st, 3, v->body, false);
        chati_db_bind_str(st, 4, v->values, true);
        sqlite3_bind_int(st, 5, v->open);
        sqlite3_bind_int64(st, 6, v->updated_ms);
        chati_db_bind_str(st, 7, v->external_id, true);
        chati_db_bind_str(st, 8, if_hash, true);
        rv = chati_db_step_done(d, st, "updating a view");
    }
    if (rv == CHAT_OK && sqlite3_changes(d->db) == 0) {
        st = chati_db_stmt(d, "SELECT 1 FROM views WHERE id = ?1");
        rv = CHAT_ERR_STORAGE;
        if (st != NULL) {
            chati_db_bind_str(st, 1, v->id, false);
            int rc = sqlite3_step(st);
            rv = rc == SQLITE_ROW    ? chati_fail(CHAT_ERR_HASH_CONFLICT, "the view changed")
                 : rc == SQLITE_DONE ? chati_fail(CHAT_ERR_NOT_FOUND, "no view %.40s", v->id)
                                     : chati_db_err(d, rc, "reading a view");
            sqlite3_reset(st);
        }
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err auth_drop_views(void *impl, int64_t before_ms)
{
    chati_db *d = impl;
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "DELETE FROM views WHERE updated < ?1 AND NOT"
                                        " (open = 1 AND trigger_id IS NULL AND previous_id = '')");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, before_ms);
        rv = chati_db_step_done(d, st, "dropping views");
    }
    chati_db_unlock(d);
    return rv;
}

const chat_auth_store_ops chati_sqlite_auth_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "sqlite",
    .open = auth_open,
    .close = auth_close,
    .create = auth_create,
    .get_by_email = auth_get_by_email,
    .get = auth_get,
    .set_password = auth_set_password,
    .bump_generation = auth_bump_generation,
    .set_active = auth_set_active,
    .remove = auth_remove,
    .create_app = auth_create_app,
    .get_app = auth_get_app,
    .list_apps = auth_list_apps,
    .bump_app_generation = auth_bump_app_generation,
    .queue_app_events = auth_queue_app_events,
    .lease_app_events = auth_lease_app_events,
    .ack_app_events = auth_ack_app_events,
    .due_apps = auth_due_apps,
    .create_view = auth_create_view,
    .get_view = auth_get_view,
    .update_view = auth_update_view,
    .drop_views = auth_drop_views,
};
