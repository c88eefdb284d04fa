/*
 * libchat/backends/postgres/auth_store.c - credentials in PostgreSQL
 * ("postgresql://"), the same semantics as backends/sqlite/auth_store.c.
 *
 * Emails are stored lower-cased, so a plain UNIQUE index is case-insensitive.
 * Each write is one transaction on the primary; reads are routed (pg.h).
 */
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "backends/postgres/pg.h"

static const chati_pg_migration auth_migrations[] = {
    {1, "CREATE TABLE credentials ("
        "  user_id   TEXT PRIMARY KEY,"
        "  team_id   TEXT NOT NULL,"
        "  email     TEXT NOT NULL UNIQUE," /* lower-cased by the store */
        "  pwhash    TEXT NOT NULL,"
        "  token_gen BIGINT NOT NULL,"
        "  active    BOOLEAN NOT NULL DEFAULT true,"
        "  is_admin  BOOLEAN NOT NULL DEFAULT false"
        ")"},
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
        "  created        BIGINT NOT NULL,"
        "  token_gen      BIGINT NOT NULL,"
        "  active         BOOLEAN NOT NULL DEFAULT true"
        ");"
        "CREATE INDEX apps_team ON apps (team_id, id)"},
    {3, "CREATE TABLE app_events ("
        "  seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  app_id      TEXT NOT NULL,"
        "  event_id    TEXT NOT NULL,"
        "  kind        INTEGER NOT NULL,"
        "  created     BIGINT NOT NULL,"            /* unix ms */
        "  attempts    INTEGER NOT NULL DEFAULT 0,"
        "  lease_until BIGINT NOT NULL DEFAULT 0,"  /* unix ms */
        "  done        BOOLEAN NOT NULL DEFAULT false,"
        "  data        BYTEA"                       /* NULL once acknowledged */
        ");"
        "CREATE UNIQUE INDEX app_events_once ON app_events (app_id, event_id, kind);"
        "CREATE INDEX app_events_due ON app_events (app_id, done, seq);"
        "CREATE INDEX app_events_waiting ON app_events (done, lease_until, app_id)"},
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
        "  updated     BIGINT NOT NULL," /* unix ms */
        "  open        BOOLEAN NOT NULL"
        ");"
        "CREATE UNIQUE INDEX views_trigger ON views (app_id, trigger_id);"
        "CREATE UNIQUE INDEX views_external ON views (app_id, external_id);"
        "CREATE INDEX views_updated ON views (updated)"},
};

#define CRED_COLS "user_id, team_id, email, pwhash, token_gen, active, is_admin"

static const chati_pg_stmt st_insert = {
    "auth_insert",
    "INSERT INTO credentials (" CRED_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT DO NOTHING",
    7};
static const chati_pg_stmt st_email_exists = {
    "auth_email_exists", "SELECT 1 FROM credentials WHERE email = $1", 1};
static const chati_pg_stmt st_by_email = {
    "auth_by_email", "SELECT " CRED_COLS " FROM credentials WHERE email = $1", 1};
static const chati_pg_stmt st_by_id = {
    "auth_by_id", "SELECT " CRED_COLS " FROM credentials WHERE user_id = $1", 1};
static const chati_pg_stmt st_set_password = {
    "auth_set_password",
    "UPDATE credentials SET pwhash = $2, token_gen = token_gen + 1 WHERE user_id = $1"
    " RETURNING token_gen",
    2};
static const chati_pg_stmt st_bump = {
    "auth_bump",
    "UPDATE credentials SET token_gen = token_gen + 1 WHERE user_id = $1 RETURNING token_gen",
    1};
static const chati_pg_stmt st_set_active = {
    "auth_set_active", "UPDATE credentials SET active = $2 WHERE user_id = $1", 2};
static const chati_pg_stmt st_remove = {
    "auth_remove", "DELETE FROM credentials WHERE user_id = $1", 1};

#define APP_COLS                                                                           \
    "id, team_id, bot_user_id, bot_id, creator, name, signing_secret, scopes, manifest,"  \
    " created, token_gen, active"
static const chati_pg_stmt st_app_insert = {
    "auth_app_insert",
    "INSERT INTO apps (" APP_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    " ON CONFLICT DO NOTHING",
    12};
static const chati_pg_stmt st_app_by_id = {
    "auth_app_by_id", "SELECT " APP_COLS " FROM apps WHERE id = $1", 1};
static const chati_pg_stmt st_app_by_bot = {
    "auth_app_by_bot", "SELECT " APP_COLS " FROM apps WHERE bot_id = $1", 1};
static const chati_pg_stmt st_app_bump = {
    "auth_app_bump",
    "UPDATE apps SET token_gen = token_gen + 1 WHERE id = $1 RETURNING token_gen", 1};
static const chati_pg_stmt st_app_list = {
    "auth_app_list", "SELECT " APP_COLS " FROM apps WHERE team_id = $1 ORDER BY id", 1};

/* Parameters are text: an event's bytes travel as hex. */
static const chati_pg_stmt st_ev_queue = {
    "auth_ev_queue",
    "INSERT INTO app_events (app_id, event_id, kind, created, data)"
    " VALUES ($1, $2, $3, $4, decode($5, 'hex')) ON CONFLICT DO NOTHING",
    5};
static const chati_pg_stmt st_ev_drop = {
    "auth_ev_drop",
    "DELETE FROM app_events WHERE app_id = $1 AND (created < $2 OR"
    " (NOT done AND attempts >= $3 AND lease_until <= $4))",
    4};
static const chati_pg_stmt st_ev_lease = {
    "auth_ev_lease",
    "WITH due AS (SELECT seq FROM app_events WHERE app_id = $1 AND NOT done AND"
    " lease_until <= $2 ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)"
    " UPDATE app_events e SET attempts = e.attempts + 1, lease_until = $3 FROM due"
    " WHERE e.seq = due.seq"
    " RETURNING e.seq, e.event_id, e.kind, e.attempts, e.created, encode(e.data, 'hex')",
    4};
static const chati_pg_stmt st_ev_ack = {
    "auth_ev_ack",
    "UPDATE app_events SET done = true, data = NULL WHERE app_id = $1 AND"
    " seq = ANY($2::bigint[])",
    2};

static const chati_pg_stmt st_ev_due_apps = {
    "auth_ev_due_apps",
    "SELECT DISTINCT app_id FROM app_events WHERE NOT done AND lease_until <= $1 LIMIT $2", 2};

#define VIEW_COLS                                                                        \
    "id, team_id, app_id, user_id, root_id, previous_id, hash, trigger_id, external_id," \
    " body, vals, depth, updated, open"
static const chati_pg_stmt st_view_insert = {
    "auth_view_insert",
    "INSERT INTO views (" VIEW_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
    " $12, $13, $14) ON CONFLICT DO NOTHING",
    14};
static const chati_pg_stmt st_view_by_id = {
    "auth_view_by_id", "SELECT " VIEW_COLS " FROM views WHERE id = $1", 1};
static const chati_pg_stmt st_view_by_external = {
    "auth_view_by_external",
    "SELECT " VIEW_COLS " FROM views WHERE app_id = $1 AND external_id = $2", 2};
static const chati_pg_stmt st_view_update = {
    "auth_view_update",
    "UPDATE views SET hash = $2, body = $3, vals = $4, open = $5, updated = $6,"
    " external_id = $7 WHERE id = $1 AND ($8::text IS NULL OR hash = $8)",
    8};
static const chati_pg_stmt st_view_exists = {
    "auth_view_exists", "SELECT 1 FROM views WHERE id = $1", 1};
static const chati_pg_stmt st_view_drop = {
    "auth_view_drop",
    "DELETE FROM views WHERE updated < $1 AND NOT"
    " (open AND trigger_id IS NULL AND previous_id = '')",
    1};

static chat_err auth_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "postgres auth store: no URL");
    chati_pg *db = NULL;
    chat_err rv = chati_pg_open(url, "auth", auth_migrations, CHATI_ARRAY_LEN(auth_migrations),
                                &db);
    if (rv == CHAT_OK)
        *impl = db;
    return rv;
}

static void auth_close(void *impl)
{
    chati_pg_close(impl);
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

/* ---- create ---- */

typedef struct create_args {
    const chat_credential *c;
    const char *email;
} create_args;

static chat_err create_fn(chati_pg_conn *conn, void *arg)
{
    create_args *a = arg;
    char gen[24];
    const char *p[7] = {a->c->user_id,   a->c->team_id,
                        a->email,        a->c->pwhash,
                        chati_pg_i64(gen, a->c->token_gen), chati_pg_bool_param(a->c->active),
                        chati_pg_bool_param(a->c->is_admin)};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_insert, p, &r, "inserting a credential");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    if (n > 0)
        return CHAT_OK;
    /* Two unique keys: say which one clashed. */
    rv = chati_pg_exec(conn, &st_email_exists, p + 2, &r, "reading a credential");
    if (rv != CHAT_OK)
        return rv;
    bool taken = PQntuples(r) > 0;
    PQclear(r);
    if (taken)
        return chati_fail(CHAT_ERR_EMAIL_TAKEN, "%s is already registered", a->email);
    return chati_fail(CHAT_ERR_DUPLICATE, "user %s already has a credential", a->c->user_id);
}

static chat_err auth_create(void *impl, const chat_credential *c)
{
    if (c == NULL || bad_id(c->user_id) || c->pwhash == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a credential needs a user id and hash");
    create_args a = {c, NULL};
    chat_err rv = email_key(c->email, (char **)&a.email);
    if (rv != CHAT_OK)
        return rv;
    rv = chati_pg_write(impl, create_fn, &a);
    chat_free((char *)a.email);
    return rv;
}

/* ---- reads ---- */

static chat_err read_cred(const PGresult *r, chat_credential **out)
{
    chat_credential *c = chat_credential_new();
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "credential");
    chati_pg_fixed(r, 0, 0, c->user_id, sizeof c->user_id);
    chati_pg_fixed(r, 0, 1, c->team_id, sizeof c->team_id);
    c->email = chati_pg_str(r, 0, 2);
    c->pwhash = chati_pg_str(r, 0, 3);
    c->token_gen = chati_pg_int(r, 0, 4);
    c->active = chati_pg_bool(r, 0, 5);
    c->is_admin = chati_pg_bool(r, 0, 6);
    if (c->email == NULL || c->pwhash == NULL) {
        chat_credential_free(c);
        return chati_fail(CHAT_ERR_NOMEM, "credential");
    }
    *out = c;
    return CHAT_OK;
}

typedef struct get_args {
    const chati_pg_stmt *st;
    const char *key;
    chat_credential *out;
} get_args;

static chat_err get_fn(chati_pg_conn *conn, void *arg)
{
    get_args *a = arg;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, a->st, &a->key, &r, "reading a credential");
    if (rv != CHAT_OK)
        return rv;
    if (PQntuples(r) == 0)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no credential for %.80s", a->key);
    else
        rv = read_cred(r, &a->out);
    PQclear(r);
    return rv;
}

static chat_err get_one(chati_pg *db, const chati_pg_stmt *st, const char *key,
                        chat_credential **out)
{
    get_args a = {st, key, NULL};
    chat_err rv = chati_pg_read(db, false, get_fn, &a);
    if (rv == CHAT_OK)
        *out = a.out;
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
    rv = get_one(impl, &st_by_email, key, out);
    chat_free(key);
    return rv;
}

static chat_err auth_get(void *impl, const char *user_id, chat_credential **out)
{
    if (bad_id(user_id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return get_one(impl, &st_by_id, user_id, out);
}

/* ---- updates ---- */

typedef struct update_args {
    const chati_pg_stmt *st;
    const char *params[2];
    bool returns_gen;
    int64_t gen;
} update_args;

static chat_err update_fn(chati_pg_conn *conn, void *arg)
{
    update_args *a = arg;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, a->st, a->params, &r, "updating a credential");
    if (rv != CHAT_OK)
        return rv;
    if (chati_pg_changes(r) == 0)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no credential for %s", a->params[0]);
    else if (a->returns_gen)
        a->gen = chati_pg_int(r, 0, 0);
    PQclear(r);
    return rv;
}

static chat_err run_update(chati_pg *db, const chati_pg_stmt *st, const char *id,
                           const char *value, bool returns_gen, int64_t *new_gen)
{
    update_args a = {st, {id, value}, returns_gen, 0};
    chat_err rv = chati_pg_write(db, update_fn, &a);
    if (rv == CHAT_OK && new_gen != NULL)
        *new_gen = a.gen;
    return rv;
}

static chat_err auth_set_password(void *impl, const char *user_id, const char *pwhash,
                                  int64_t *new_gen)
{
    if (bad_id(user_id) || pwhash == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id and hash are required");
    return run_update(impl, &st_set_password, user_id, pwhash, true, new_gen);
}

static chat_err auth_bump_generation(void *impl, const char *user_id, int64_t *new_gen)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return run_update(impl, &st_bump, user_id, NULL, true, new_gen);
}

static chat_err auth_set_active(void *impl, const char *user_id, bool active)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return run_update(impl, &st_set_active, user_id, chati_pg_bool_param(active), false, NULL);
}

static chat_err auth_remove(void *impl, const char *user_id)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return run_update(impl, &st_remove, user_id, NULL, false, NULL);
}

/* ---- apps ---- */

static chat_err app_insert_fn(chati_pg_conn *conn, void *arg)
{
    const chat_app *a = arg;
    char created[24], gen[24];
    const char *p[12] = {a->id,      a->team_id,        a->bot_user_id,
                         a->bot_id,  a->creator,        a->name,
                         a->signing_secret, a->scopes,  a->manifest,
                         chati_pg_i64(created, a->created), chati_pg_i64(gen, a->token_gen),
                         chati_pg_bool_param(a->active)};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_app_insert, p, &r, "inserting an app");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    return n > 0 ? CHAT_OK : chati_fail(CHAT_ERR_DUPLICATE, "app %s or its bot exists", a->id);
}

static chat_err auth_create_app(void *impl, const chat_app *a)
{
    if (a == NULL || bad_id(a->id) || bad_id(a->team_id) || bad_id(a->bot_user_id) ||
        bad_id(a->bot_id) || a->name == NULL || a->signing_secret == NULL ||
        a->scopes == NULL || a->manifest == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app needs ids, a name and secrets");
    return chati_pg_write(impl, app_insert_fn, (void *)a);
}

static chat_err read_app(const PGresult *r, int row, chat_app **out)
{
    chat_app *a = chat_app_new();
    if (a == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "app");
    char *fixed[] = {a->id, a->team_id, a->bot_user_id, a->bot_id, a->creator};
    for (int i = 0; i < (int)CHATI_ARRAY_LEN(fixed); i++)
        chati_pg_fixed(r, row, i, fixed[i], CHAT_ID_SIZE);
    a->name = chati_pg_str(r, row, 5);
    a->signing_secret = chati_pg_str(r, row, 6);
    a->scopes = chati_pg_str(r, row, 7);
    a->manifest = chati_pg_str(r, row, 8);
    a->created = chati_pg_int(r, row, 9);
    a->token_gen = chati_pg_int(r, row, 10);
    a->active = chati_pg_bool(r, row, 11);
    if (!a->name || !a->signing_secret || !a->scopes || !a->manifest) {
        chat_app_free(a);
        return chati_fail(CHAT_ERR_NOMEM, "app");
    }
    *out = a;
    return CHAT_OK;
}

typedef struct apps_args {
    const chati_pg_stmt *st;
    const char *key;
    chat_app **apps;
    size_t n;
} apps_args;

static void apps_free(apps_args *a);

static chat_err apps_fn(chati_pg_conn *conn, void *arg)
{
    apps_args *a = arg;
    apps_free(a); /* what an earlier attempt read, when the read is retried */
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, a->st, &a->key, &r, "reading apps");
    if (rv != CHAT_OK)
        return rv;
    int rows = PQntuples(r);
    if (rows > 0 && (a->apps = chat_calloc((size_t)rows, sizeof *a->apps)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "apps");
    for (int i = 0; rv == CHAT_OK && i < rows; i++)
        if ((rv = read_app(r, i, &a->apps[i])) == CHAT_OK)
            a->n++;
    PQclear(r);
    return rv;
}

static void apps_free(apps_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        chat_app_free(a->apps[i]);
    chat_free(a->apps);
    a->apps = NULL;
    a->n = 0;
}

static chat_err auth_get_app(void *impl, const char *id, chat_app **out)
{
    if (bad_id(id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "app id is required");
    apps_args a = {id[0] == 'B' ? &st_app_by_bot : &st_app_by_id, id, NULL, 0};
    chat_err rv = chati_pg_read(impl, false, apps_fn, &a);
    if (rv == CHAT_OK && a.n == 0)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no app %.40s", id);
    if (rv == CHAT_OK) {
        *out = a.apps[0];
        a.apps[0] = NULL;
    }
    apps_free(&a);
    return rv;
}

static chat_err auth_list_apps(void *impl, const char *team_id, chat_app ***out, size_t *n)
{
    if (bad_id(team_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    apps_args a = {&st_app_list, team_id, NULL, 0};
    chat_err rv = chati_pg_read(impl, false, apps_fn, &a);
    if (rv != CHAT_OK) {
        apps_free(&a);
        return rv;
    }
    *out = a.apps;
    *n = a.n;
    return CHAT_OK;
}

static chat_err auth_bump_app_generation(void *impl, const char *app_id, int64_t *new_gen)
{
    if (bad_id(app_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "app id is required");
    return run_update(impl, &st_app_bump, app_id, NULL, true, new_gen);
}

/* ---- app events ---- */

typedef struct ev_queue_args {
    const chat_app_event *evs;
    size_t n;
} ev_queue_args;

static chat_err ev_queue_fn(chati_pg_conn *conn, void *arg)
{
    ev_queue_args *a = arg;
    const char **p = chat_calloc(a->n * 5, sizeof *p);
    char (*nums)[2][24] = chat_calloc(a->n, sizeof *nums);
    char **hex = chat_calloc(a->n, sizeof *hex);
    chat_err rv = p && nums && hex ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "app events");
    for (size_t i = 0; rv == CHAT_OK && i < a->n; i++) {
        const chat_app_event *e = &a->evs[i];
        if ((hex[i] = chat_malloc(2 * e->len + 1)) == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "app events");
            break;
        }
        chati_hex_encode(e->data, e->len, hex[i]);
        const char **row = p + 5 * i;
        row[0] = e->app_id;
        row[1] = e->event_id;
        row[2] = chati_pg_i64(nums[i][0], e->kind);
        row[3] = chati_pg_i64(nums[i][1], e->created_ms);
        row[4] = hex[i];
    }
    if (rv == CHAT_OK)
        rv = chati_pg_exec_batch(conn, &st_ev_queue, a->n, p, "queueing app events");
    for (size_t i = 0; hex && i < a->n; i++)
        chat_free(hex[i]);
    chat_free(hex);
    chat_free(nums);
    chat_free(p);
    return rv;
}

static chat_err auth_queue_app_events(void *impl, const chat_app_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bad_id(evs[i].app_id) || evs[i].event_id[0] == '\0' || evs[i].data == NULL)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app event needs ids and data");
    if (n == 0)
        return CHAT_OK;
    ev_queue_args a = {evs, n};
    return chati_pg_write(impl, ev_queue_fn, &a);
}

typedef struct ev_lease_args {
    const char *app_id;
    int64_t now_ms, lease_ms, created_after_ms;
    int max_attempts;
    size_t max;
    chat_app_event *out;
    size_t n;
} ev_lease_args;

static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const chat_app_event *)a)->seq, y = ((const chat_app_event *)b)->seq;
    return (x > y) - (x < y);
}

static chat_err read_leased(const PGresult *r, ev_lease_args *a)
{
    int rows = PQntuples(r);
    if (rows == 0)
        return CHAT_OK;
    if ((a->out = chat_calloc((size_t)rows, sizeof *a->out)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "app events");
    for (int i = 0; i < rows; i++) {
        chat_app_event *e = &a->out[a->n];
        chati_copy_fixed(e->app_id, sizeof e->app_id, a->app_id);
        e->seq = chati_pg_int(r, i, 0);
        chati_pg_fixed(r, i, 1, e->event_id, sizeof e->event_id);
        e->kind = (int)chati_pg_int(r, i, 2);
        e->attempts = (int)chati_pg_int(r, i, 3);
        e->created_ms = chati_pg_int(r, i, 4);
        const char *hex = PQgetvalue(r, i, 5);
        size_t hl = strlen(hex);
        if ((e->data = chat_malloc(hl / 2 + 1)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "app events");
        a->n++;
        for (size_t j = 0; j + 1 < hl; j += 2)
            ((unsigned char *)e->data)[j / 2] =
                (unsigned char)(chati_hex_digit(hex[j]) << 4 | chati_hex_digit(hex[j + 1]));
        e->len = hl / 2;
    }
    qsort(a->out, a->n, sizeof *a->out, by_seq); /* RETURNING has no order of its own */
    return CHAT_OK;
}

static chat_err ev_lease_fn(chati_pg_conn *conn, void *arg)
{
    ev_lease_args *a = arg;
    chat_app_events_free(a->out, a->n); /* an earlier attempt's */
    a->out = NULL;
    a->n = 0;
    char b[4][24];
    const char *drop[4] = {a->app_id, chati_pg_i64(b[0], a->created_after_ms),
                           chati_pg_i64(b[1], a->max_attempts), chati_pg_i64(b[2], a->now_ms)};
    chat_err rv = chati_pg_exec(conn, &st_ev_drop, drop, NULL, "dropping app events");
    if (rv != CHAT_OK)
        return rv;
    const char *lease[4] = {a->app_id, chati_pg_i64(b[0], a->now_ms),
                            chati_pg_i64(b[1], a->now_ms + a->lease_ms),
                            chati_pg_i64(b[2], (int64_t)a->max)};
    PGresult *r = NULL;
    if ((rv = chati_pg_exec(conn, &st_ev_lease, lease, &r, "leasing app events")) != CHAT_OK)
        return rv;
    rv = read_leased(r, a);
    PQclear(r);
    return rv;
}

static chat_err auth_lease_app_events(void *impl, const char *app_id, int64_t now_ms,
                                      int64_t lease_ms, int max_attempts,
                                      int64_t created_after_ms, size_t max,
                                      chat_app_event **out, size_t *n)
{
    if (bad_id(app_id) || out == NULL || n == NULL || max == 0 || lease_ms <= 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app id, a lease and a count");
    ev_lease_args a = {app_id, now_ms, lease_ms, created_after_ms, max_attempts, max, NULL, 0};
    chat_err rv = chati_pg_write(impl, ev_lease_fn, &a);
    if (rv != CHAT_OK) {
        chat_app_events_free(a.out, a.n);
        *out = NULL;
        *n = 0;
        return rv;
    }
    *out = a.out;
    *n = a.n;
    return CHAT_OK;
}

typedef struct ev_ack_args {
    const char *app_id;
    const char *seqs; /* a bigint[] literal */
} ev_ack_args;

static chat_err ev_ack_fn(chati_pg_conn *conn, void *arg)
{
    ev_ack_args *a = arg;
    const char *p[2] = {a->app_id, a->seqs};
    return chati_pg_exec(conn, &st_ev_ack, p, NULL, "acknowledging app events");
}

static chat_err auth_ack_app_events(void *impl, const char *app_id, const int64_t *seqs,
                                    size_t n)
{
    if (bad_id(app_id) || (n > 0 && seqs == NULL))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app id and the events");
    if (n == 0)
        return CHAT_OK;
    ev_ack_args a = {app_id, chati_pg_int_array(seqs, n)};
    if (a.seqs == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "app events");
    chat_err rv = chati_pg_write(impl, ev_ack_fn, &a);
    chat_free((char *)a.seqs);
    return rv;
}

typedef struct due_args {
    int64_t now_ms;
    size_t max;
    char (*ids)[CHAT_ID_SIZE];
    size_t n;
} due_args;

static chat_err due_fn(chati_pg_conn *conn, void *arg)
{
    due_args *a = arg;
    char b[2][24];
    const char *p[2] = {chati_pg_i64(b[0], a->now_ms), chati_pg_i64(b[1], (int64_t)a->max)};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_ev_due_apps, p, &r, "due apps");
    if (rv != CHAT_OK)
        return rv;
    a->n = 0;
    for (int i = 0; i < PQntuples(r) && a->n < a->max; i++)
        chati_pg_fixed(r, i, 0, a->ids[a->n++], CHAT_ID_SIZE);
    PQclear(r);
    return CHAT_OK;
}

static chat_err auth_due_apps(void *impl, int64_t now_ms, size_t max,
                              char (**ids)[CHAT_ID_SIZE], size_t *n)
{
    if (ids == NULL || n == NULL || max == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "ids, n and max are required");
    *ids = NULL;
    *n = 0;
    due_args a = {now_ms, max, chat_calloc(max, CHAT_ID_SIZE), 0};
    if (a.ids == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "apps");
    chat_err rv = chati_pg_read(impl, false, due_fn, &a);
    if (rv != CHAT_OK) {
        chat_free(a.ids);
        return rv;
    }
    *ids = a.ids;
    *n = a.n;
    return CHAT_OK;
}

/* ---- views ---- */

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

static chat_err view_insert_fn(chati_pg_conn *conn, void *arg)
{
    const chat_view *v = arg;
    char b[2][24];
    const char *p[14] = {v->id,         v->team_id,      v->app_id,
                         v->user_id,    v->root_id,      v->previous_id,
                         v->hash,       or_null(v->trigger), or_null(v->external_id),
                         v->body,       or_null(v->values), chati_pg_i64(b[0], v->depth),
                         chati_pg_i64(b[1], v->updated_ms), chati_pg_bool_param(v->open)};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_view_insert, p, &r, "inserting a view");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    return n > 0 ? CHAT_OK
                 : chati_fail(CHAT_ERR_DUPLICATE, "view %s, its trigger or external id exists",
                              v->id);
}

static chat_err auth_create_view(void *impl, const chat_view *v)
{
    if (v == NULL || bad_id(v->id) || bad_id(v->team_id) || bad_id(v->app_id) ||
        bad_id(v->user_id) || bad_id(v->root_id) || v->hash[0] == '\0' || v->body == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a view needs ids, a hash and a body");
    return chati_pg_write(impl, view_insert_fn, (void *)v);
}

typedef struct view_args {
    const char *p[2];
    chat_view *v;
} view_args;

static chat_err view_get_fn(chati_pg_conn *conn, void *arg)
{
    view_args *a = arg;
    chat_view_free(a->v); /* what an earlier attempt read */
    a->v = NULL;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, a->p[1] ? &st_view_by_external : &st_view_by_id, a->p,
                                &r, "reading a view");
    if (rv != CHAT_OK)
        return rv;
    if (PQntuples(r) > 0) {
        chat_view *v = chat_view_new();
        if (v == NULL) {
            PQclear(r);
            return chati_fail(CHAT_ERR_NOMEM, "view");
        }
        char *fixed[] = {v->id, v->team_id, v->app_id, v->user_id, v->root_id, v->previous_id,
                         v->hash};
        for (int i = 0; i < (int)CHATI_ARRAY_LEN(fixed); i++)
            chati_pg_fixed(r, 0, i, fixed[i], CHAT_ID_SIZE);
        char **text[] = {&v->trigger, &v->external_id, &v->body, &v->values};
        bool nomem = false;
        for (int i = 0; i < (int)CHATI_ARRAY_LEN(text); i++)
            nomem |= !PQgetisnull(r, 0, 7 + i) && (*text[i] = chati_pg_str(r, 0, 7 + i)) == NULL;
        v->depth = (int)chati_pg_int(r, 0, 11);
        v->updated_ms = chati_pg_int(r, 0, 12);
        v->open = chati_pg_bool(r, 0, 13);
        if (nomem || v->body == NULL) {
            chat_view_free(v);
            rv = chati_fail(CHAT_ERR_NOMEM, "view");
        } else {
            a->v = v;
        }
    }
    PQclear(r);
    return rv;
}

static chat_err auth_get_view(void *impl, const char *id, const char *app_id,
                              const char *external_id, chat_view **out)
{
    if (out == NULL || (id ? bad_id(id) : bad_id(app_id) || !external_id || !*external_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a view id, or an app and external id");
    view_args a = {{id ? id : app_id, id ? NULL : external_id}, NULL};
    chat_err rv = chati_pg_read(impl, false, view_get_fn, &a);
    if (rv == CHAT_OK && a.v == NULL)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no view %.40s", id ? id : external_id);
    if (rv == CHAT_OK)
        *out = a.v;
    else
        chat_view_free(a.v);
    return rv;
}

typedef struct view_update_args {
    const chat_view *v;
    const char *if_hash;
} view_update_args;

static chat_err view_update_fn(chati_pg_conn *conn, void *arg)
{
    view_update_args *a = arg;
    const chat_view *v = a->v;
    char b[24];
    const char *p[8] = {v->id,
                        v->hash,
                        v->body,
                        or_null(v->values),
                        chati_pg_bool_param(v->open),
                        chati_pg_i64(b, v->updated_ms),
                        or_null(v->external_id),
                        or_null(a->if_hash)};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_view_update, p, &r, "updating a view");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    if (n > 0)
        return CHAT_OK;
    if ((rv = chati_pg_exec(conn, &st_view_exists, p, &r, "reading a view")) != CHAT_OK)
        return rv;
    n = PQntuples(r);
    PQclear(r);
    return n > 0 ? chati_fail(CHAT_ERR_HASH_CONFLICT, "the view changed")
                 : chati_fail(CHAT_ERR_NOT_FOUND, "no view %.40s", v->id);
}

static chat_err auth_update_view(void *impl, const chat_view *v, const char *if_hash)
{
    if (v == NULL || bad_id(v->id) || v->hash[0] == '\0' || v->body == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a view needs an id, a hash and a body");
    view_update_args a = {v, if_hash};
    return chati_pg_write(impl, view_update_fn, &a);
}

static chat_err view_drop_fn(chati_pg_conn *conn, void *arg)
{
    char b[24];
    const char *p[1] = {chati_pg_i64(b, *(const int64_t *)arg)};
    return chati_pg_exec(conn, &st_view_drop, p, NULL, "dropping views");
}

static chat_err auth_drop_views(void *impl, int64_t before_ms)
{
    return chati_pg_write(impl, view_drop_fn, &before_ms);
}

const chat_auth_store_ops chati_pg_auth_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "postgresql",
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
