/*
 * libchat/backends/postgres/pg.h - what the PostgreSQL stores share: URL
 * parsing, a connection pool per server role, versioned migrations, routed
 * reads that keep read-your-writes, transactions with one safe retry, and
 * error mapping.
 *
 * URL: postgresql://[user@]host[:port][,host[:port]...]/db[?param=...]
 *   libpq's own parameters pass through unchanged; libchat's are removed first:
 *   schema=NAME     tables live in that schema (created if missing; any name,
 *                   it is quoted), else in the database's default search_path
 *   pool_size=N     connections per pool, 1-64 (default 4)
 *   statement_timeout_ms=N  server statement_timeout, and the client's wait
 *                   for any answer (+0.5 s); 0 = none (default 4000)
 * With more than one host, writes go to the one that accepts writes
 * (target_session_attrs=read-write) and reads take turns among the standbys
 * that have replayed this process's writes; see read routing in db.c.
 *
 * Thread safety: a chati_pg is shared by every thread of the store; each call
 * takes its own connection from a pool. A chati_pg_conn belongs to one call.
 */
#ifndef CHATI_PG_H
#define CHATI_PG_H

#include <libpq-fe.h>
#include <pthread.h>

#include "core/internal.h"

/* A statement prepared once per connection (PQprepare) under its name. The
 * stores define them as static constants; the pointer identifies them. */
typedef struct chati_pg_stmt {
    const char *name;           /* unique across the stores, e.g. "auth_get" */
    const char *sql;
    int nparams;
} chati_pg_stmt;

/* Migration `version` takes this component's schema from version-1 to
 * version; sql may hold several statements. */
typedef struct chati_pg_migration {
    int version;
    const char *sql;
} chati_pg_migration;

typedef struct chati_pg chati_pg;
typedef struct chati_pg_conn chati_pg_conn;

/* Opens the pools for url, then (on the primary, under an advisory lock, in
 * one transaction) creates the schema if missing and applies the migrations
 * of `component` newer than its row in schema_version. Connection failures
 * give service_unavailable; bad URLs invalid_config. */
chat_err chati_pg_open(const char *url, const char *component, const chati_pg_migration *migs,
                       size_t n, chati_pg **out);
void chati_pg_close(chati_pg *db);

/* The body of a call: runs statements on c; returns CHAT_OK to commit. It may
 * run more than once (a read whose pooled connection broke; a write that
 * nothing of ran, or that met a serialization failure or deadlock), so it
 * must replace, not add to, its outputs, and set them at its end. */
typedef chat_err (*chati_pg_fn)(chati_pg_conn *c, void *arg);

/* Runs fn in one transaction on the primary. */
chat_err chati_pg_write(chati_pg *db, chati_pg_fn fn, void *arg);
/* Runs fn as a read: on a standby that has replayed this process's latest
 * write to the cluster, else on the primary. snapshot: inside one
 * REPEATABLE READ READ ONLY transaction (several statements, one view). */
chat_err chati_pg_read(chati_pg *db, bool snapshot, chati_pg_fn fn, void *arg);

/* Runs st with params (NULL entries = SQL NULL; st->nparams of them). On
 * success *res (may be NULL: cleared) gets the result, freed with PQclear.
 * Errors: unique/check violations -> duplicate, foreign key -> not_found,
 * lost connection -> service_unavailable, else storage_error; the detail says
 * "what: server message". */
chat_err chati_pg_exec(chati_pg_conn *c, const chati_pg_stmt *st, const char *const *params,
                       PGresult **res, const char *what);

/* Runs st once for each of `rows` parameter rows (params holds rows *
 * st->nparams entries, row after row) in one round trip (libpq pipeline
 * mode), in order; the first failure stops the rest and is returned. For
 * batches inside a write, where each statement needs no client decision. */
chat_err chati_pg_exec_batch(chati_pg_conn *c, const chati_pg_stmt *st, size_t rows,
                             const char *const *params, const char *what);

/* Result accessors (text format). str: chat_strdup'd copy or NULL for SQL
 * NULL (check PQgetisnull to tell it from a failed allocation). fixed:
 * copies into a fixed field, "" when NULL or too long. */
char *chati_pg_str(const PGresult *r, int row, int col);
void chati_pg_fixed(const PGresult *r, int row, int col, char *dst, size_t size);
int64_t chati_pg_int(const PGresult *r, int row, int col);
bool chati_pg_bool(const PGresult *r, int row, int col);
/* Number of rows a command changed (PQcmdTuples). */
int64_t chati_pg_changes(const PGresult *r);

/* Formats an integer parameter into buf (needs 24 bytes); returns buf. */
const char *chati_pg_i64(char buf[24], int64_t v);
#define chati_pg_bool_param(b) ((b) ? "t" : "f")
/* A text[] literal of n ids ({"a","b"}), for = ANY($1) / unnest($1): one
 * statement instead of n. Freed with chat_free. */
char *chati_pg_id_array(const char (*ids)[CHAT_ID_SIZE], size_t n);
char *chati_pg_int_array(const int64_t *v, size_t n);

#endif
