/*
 * libchat/backends/sqlite/auth_store.c - credentials in SQLite ("sqlite:").
 *
 * URL: "sqlite:/path/auth.db" or "sqlite::memory:". Emails are stored
 * lower-cased, so the UNIQUE index is case-insensitive without a collation the
 * PostgreSQL backend would have to imitate. Every function is one statement
 * (atomic on its own) under the database lock. Absent rows give not_found.
 */
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

const chat_auth_store_ops chati_sqlite_auth_ops = {
    .version = CHAT_STORE_V1,
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
};
