/*
 * libchat/backends/sqlite/db.h - what the SQLite stores share: opening a
 * database in WAL mode, versioned migrations, transactions and error mapping.
 */
#ifndef CHATI_SQLITE_DB_H
#define CHATI_SQLITE_DB_H

#include <pthread.h>
#include <sqlite3.h>

#include "core/internal.h"

/* One migration: the schema goes from version-1 to version by running sql. */
typedef struct chati_migration {
    int version;
    const char *sql;
} chati_migration;

/* A database shared by the threads of a context: one connection guarded by a
 * mutex (SQLite serialises writers anyway; readers are short). */
typedef struct chati_db_checkpointer chati_db_checkpointer;

typedef struct chati_db {
    sqlite3 *db;
    pthread_mutex_t lock;
    char *path;
    chati_db_checkpointer *ckpt; /* NULL for ":memory:" */
} chati_db;

/* Opens (creating) the database named by a "sqlite:" URL rest (a path, or
 * ":memory:"), sets WAL, synchronous=NORMAL, foreign keys, a busy timeout, and
 * applies the migrations newer than PRAGMA user_version in one transaction.
 * exclusive: this process takes the file's lock once and keeps it (SQLite's
 * "unix-excl" VFS: no fcntl and no shared-memory index per transaction, about
 * a tenth of chatd's CPU on durable sends), so no other process may open the
 * file meanwhile. A file database also gets a checkpointer thread
 * (db_checkpoint.c): commits never wait for a WAL checkpoint. */
chat_err chati_db_open(const char *path, bool exclusive, const chati_migration *migs, size_t n,
                       chati_db **out);
/* Whether a store opened with cfg should be exclusive: the "sqlite.locking"
 * setting, "exclusive" or "shared" (the default). Sets the detail and
 * returns invalid_config for anything else. */
chat_err chati_db_locking(const chat_config *cfg, bool *exclusive);
void chati_db_close(chati_db *d);

/* The WAL checkpointer of an open database (db_checkpoint.c); vfs is the one
 * the database was opened with (NULL: the default). */
chat_err chati_db_checkpointer_start(chati_db *d, const char *vfs, chati_db_checkpointer **out);
void chati_db_checkpointer_stop(chati_db_checkpointer *c);

/* Transactions: lock + BEGIN IMMEDIATE / COMMIT / ROLLBACK + unlock. Use
 * chati_db_lock/unlock alone around reads. */
void chati_db_lock(chati_db *d);
void chati_db_unlock(chati_db *d);
chat_err chati_db_begin(chati_db *d);   /* locks */
chat_err chati_db_commit(chati_db *d);  /* unlocks; rolls back on failure */
void chati_db_rollback(chati_db *d);    /* unlocks */

/* Prepares sql (cached per database: the statement is reset, not finalized,
 * between uses). NULL on error with the detail set. */
sqlite3_stmt *chati_db_stmt(chati_db *d, const char *sql);
/* Maps an SQLite result code to chat_err, setting the detail from sqlite3_errmsg.
 * SQLITE_CONSTRAINT maps to CHAT_ERR_DUPLICATE. */
chat_err chati_db_err(chati_db *d, int rc, const char *what);
/* Runs statements with no results. */
chat_err chati_db_exec(chati_db *d, const char *sql);

/* Text column as a chat_strdup'd string (NULL for SQL NULL). */
char *chati_db_col_str(sqlite3_stmt *st, int col);
/* Copies a text column into a fixed-size field (truncation is an error). */
void chati_db_col_fixed(sqlite3_stmt *st, int col, char *dst, size_t size);
/* Binds a string, or NULL for NULL/"" when empty_is_null. */
int chati_db_bind_str(sqlite3_stmt *st, int idx, const char *s, bool empty_is_null);

/* ---- added helpers (appended; the functions above are unchanged) ----
 *
 * How db.c behaves, for store authors:
 * - The lock is recursive: a helper may chati_db_lock() inside a transaction
 *   its caller began. When the outermost unlock (or commit/rollback) happens,
 *   every cached statement still active is reset, so no read snapshot stays
 *   open; never keep a statement across an unlock.
 * - chati_db_stmt resets and clears bindings on each fetch. The cache holds 96
 *   statements (least recently used is finalized beyond that); fetching the
 *   same SQL twice gives the same statement, so do not nest two uses of one SQL.
 * - chati_db_bind_str copies (SQLITE_TRANSIENT). chati_db_col_fixed writes ""
 *   when the value does not fit rather than a truncated id.
 * - chati_db_err: SQLITE_CONSTRAINT -> duplicate, BUSY/LOCKED (after the
 *   5 s busy timeout) -> request_timeout, NOMEM -> no_memory, else
 *   storage_error. Detail is "what: sqlite message".
 * - chati_db_open creates missing parent directories (0700) and makes a new
 *   database file 0600; ":memory:" has no WAL. A schema newer than the given
 *   migrations is refused (storage_error).
 */

/* Steps st to completion (through any RETURNING rows), resets it and maps the
 * outcome: CHAT_OK on SQLITE_DONE, else chati_db_err(d, rc, what). */
chat_err chati_db_step_done(chati_db *d, sqlite3_stmt *st, const char *what);

/* invalid_config unless the table exists: user_version is one number per
 * file, so two stores pointed at the same file would each skip the other's
 * migrations; this catches that at open instead of at the first query. */
chat_err chati_db_require_table(chati_db *d, const char *table);

#endif
