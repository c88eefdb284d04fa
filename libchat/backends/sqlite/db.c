/*
 * libchat/backends/sqlite/db.c - the SQLite layer the sqlite stores share.
 *
 * One connection per database, opened in "multi-thread" mode (no SQLite
 * mutexes) because every use of it is serialised by our own recursive mutex:
 * the statement cache and the connection's error text need that lock anyway.
 */
#include "backends/sqlite/db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Statements live in a small cache keyed by their SQL. The stores use a few
 * dozen distinct statements at most; beyond the cap the least recently used
 * one is finalized. A caller may hold up to this many statements at once. */
#define DB_STMT_CACHE 96
#define DB_BUSY_TIMEOUT_MS 5000

typedef struct db_stmt {
    const char *key;            /* the caller's pointer: a fast first match */
    char *sql;                  /* our copy: the key of record */
    uint32_t hash;
    uint64_t used;              /* LRU clock */
    sqlite3_stmt *st;
} db_stmt;

/* The public chati_db is the first member, so callers' pointers convert. */
typedef struct db_full {
    chati_db pub;
    int depth;                  /* lock nesting of the owning thread */
    uint64_t clock;
    size_t n_stmts;
    db_stmt stmts[DB_STMT_CACHE];
} db_full;

static db_full *full(chati_db *d)
{
    return (db_full *)d;
}

static uint32_t sql_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* A statement that was stepped but not run to completion keeps a read
 * snapshot open, which would hide other processes' commits from this
 * connection and block WAL checkpoints; so nothing stays active once the lock
 * is released, nor across COMMIT/ROLLBACK. */
static void reset_active(db_full *f)
{
    for (size_t i = 0; i < f->n_stmts; i++)
        if (sqlite3_stmt_busy(f->stmts[i].st))
            sqlite3_reset(f->stmts[i].st);
}

/* ---- errors ---- */

chat_err chati_db_err(chati_db *d, int rc, const char *what)
{
    const char *msg = d != NULL && d->db != NULL ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc);
    if (what == NULL)
        what = "sqlite";
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return CHAT_OK;
    case SQLITE_CONSTRAINT:
        return chati_fail(CHAT_ERR_DUPLICATE, "%s: %s", what, msg);
    case SQLITE_NOMEM:
        return chati_fail(CHAT_ERR_NOMEM, "%s: %s", what, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        /* The busy handler already waited DB_BUSY_TIMEOUT_MS for the lock. */
        return chati_fail(CHAT_ERR_TIMEOUT, "%s: %s", what, msg);
    default:
        return chati_fail(CHAT_ERR_STORAGE, "%s: %s", what, msg);
    }
}

/* ---- locking and transactions ---- */

void chati_db_lock(chati_db *d)
{
    pthread_mutex_lock(&d->lock);
    full(d)->depth++;
}

void chati_db_unlock(chati_db *d)
{
    db_full *f = full(d);
    if (--f->depth == 0)
        reset_active(f);
    pthread_mutex_unlock(&d->lock);
}

static chat_err run_simple(chati_db *d, const char *sql)
{
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CHAT_OK : chati_db_err(d, rc, sql);
}

chat_err chati_db_begin(chati_db *d)
{
    chati_db_lock(d);
    chat_err rv = run_simple(d, "BEGIN IMMEDIATE");
    if (rv != CHAT_OK)
        chati_db_unlock(d);
    return rv;
}

chat_err chati_db_commit(chati_db *d)
{
    reset_active(full(d));
    chat_err rv = run_simple(d, "COMMIT");
    if (rv != CHAT_OK && !sqlite3_get_autocommit(d->db))
        run_simple(d, "ROLLBACK");
    chati_db_unlock(d);
    return rv;
}

void chati_db_rollback(chati_db *d)
{
    reset_active(full(d));
    /* SQLite may already have rolled back on its own (SQLITE_FULL, IOERR...). */
    if (!sqlite3_get_autocommit(d->db))
        run_simple(d, "ROLLBACK");
    chati_db_unlock(d);
}

/* ---- statements ---- */

static db_stmt *cache_find(db_full *f, const char *sql)
{
    for (size_t i = 0; i < f->n_stmts; i++)
        if (f->stmts[i].key == sql && strcmp(f->stmts[i].sql, sql) == 0)
            return &f->stmts[i];
    /* Same text from another pointer (SQL built at run time, or a literal the
     * compiler did not merge). A pointer match alone is not trusted: a freed
     * buffer's address can come back holding other text. */
    uint32_t h = sql_hash(sql);
    for (size_t i = 0; i < f->n_stmts; i++)
        if (f->stmts[i].hash == h && strcmp(f->stmts[i].sql, sql) == 0) {
            f->stmts[i].key = sql;
            return &f->stmts[i];
        }
    return NULL;
}

static db_stmt *cache_slot(db_full *f)
{
    if (f->n_stmts < DB_STMT_CACHE)
        return &f->stmts[f->n_stmts++];
    db_stmt *lru = &f->stmts[0];
    for (size_t i = 1; i < f->n_stmts; i++)
        if (f->stmts[i].used < lru->used)
            lru = &f->stmts[i];
    sqlite3_finalize(lru->st);
    chat_free(lru->sql);
    memset(lru, 0, sizeof *lru);
    return lru;
}

sqlite3_stmt *chati_db_stmt(chati_db *d, const char *sql)
{
    db_full *f = full(d);
    db_stmt *e = cache_find(f, sql);

    if (e != NULL) {
        sqlite3_reset(e->st);
        sqlite3_clear_bindings(e->st);
        e->used = ++f->clock;
        return e->st;
    }

    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK || st == NULL) {
        chati_db_err(d, rc == SQLITE_OK ? SQLITE_MISUSE : rc, "prepare");
        sqlite3_finalize(st);
        return NULL;
    }
    char *copy = chat_strdup(sql);
    if (copy == NULL) {
        sqlite3_finalize(st);
        chati_fail(CHAT_ERR_NOMEM, "statement cache");
        return NULL;
    }
    e = cache_slot(f);
    e->key = sql;
    e->sql = copy;
    e->hash = sql_hash(sql);
    e->used = ++f->clock;
    e->st = st;
    return st;
}

chat_err chati_db_exec(chati_db *d, const char *sql)
{
    char *msg = NULL;
    chati_db_lock(d);
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg);
    chat_err rv = CHAT_OK;
    if (rc != SQLITE_OK) {
        rv = chati_db_err(d, rc, "exec");
        if (msg != NULL)
            chati_fail(rv, "exec: %s", msg);
    }
    sqlite3_free(msg);
    chati_db_unlock(d);
    return rv;
}

chat_err chati_db_step_done(chati_db *d, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        /* Run a RETURNING statement to completion so its effects are final. */
        while (rc == SQLITE_ROW)
            rc = sqlite3_step(st);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? CHAT_OK : chati_db_err(d, rc, what);
}

/* ---- columns and bindings ---- */

char *chati_db_col_str(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s == NULL ? NULL : chat_strdup((const char *)s);
}

void chati_db_col_fixed(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    /* A truncated id would name another object: store nothing rather. */
    if (s == NULL || !chati_copy_fixed(dst, size, s))
        dst[0] = '\0';
}

int chati_db_bind_str(sqlite3_stmt *st, int idx, const char *s, bool empty_is_null)
{
    if (s == NULL || (empty_is_null && s[0] == '\0'))
        return sqlite3_bind_null(st, idx);
    /* Copied: cached statements outlive the caller's buffers. */
    return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

/* ---- pagination helpers ---- */

/* ---- opening and migrations ---- */

static bool is_memory(const char *path)
{
    return strcmp(path, ":memory:") == 0;
}

/* Creates the parent directories of path (mode 0700: they hold credentials). */
static chat_err make_parents(const char *path)
{
    char *dir = chat_strdup(path);
    if (dir == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "path");
    char *slash = strrchr(dir, '/');
    chat_err rv = CHAT_OK;
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; rv == CHAT_OK; p++) {
            bool end = *p == '\0';
            if (*p != '/' && !end)
                continue;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                rv = chati_fail(CHAT_ERR_STORAGE, "cannot create directory %s: %s", dir,
                                strerror(errno));
            if (end)
                break;
            *p = '/';
        }
    }
    chat_free(dir);
    return rv;
}

static chat_err pragma(chati_db *d, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg);
    chat_err rv = CHAT_OK;
    if (rc != SQLITE_OK)
        rv = chati_fail(rc == SQLITE_BUSY ? CHAT_ERR_TIMEOUT : CHAT_ERR_STORAGE, "%s: %s", sql,
                        msg != NULL ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rv;
}

static chat_err user_version(chati_db *d, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        chat_err rv = chati_db_err(d, rc, "reading user_version");
        sqlite3_finalize(st);
        return rv;
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return CHAT_OK;
}

/* Every process reads user_version inside the same BEGIN IMMEDIATE that
 * applies the newer migrations, so two processes starting together cannot
 * both apply one: the second waits for the first, then finds nothing to do. */
static chat_err migrate(chati_db *d, const chati_migration *migs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (migs[i].version <= (i == 0 ? 0 : migs[i - 1].version) || migs[i].sql == NULL)
            return chati_fail(CHAT_ERR_INTERNAL, "migrations must have increasing versions");
    if (n == 0)
        return CHAT_OK;

    chat_err rv = pragma(d, "BEGIN IMMEDIATE");
    if (rv != CHAT_OK)
        return rv;
    int have = 0;
    rv = user_version(d, &have);
    int want = migs[n - 1].version;
    if (rv == CHAT_OK && have > want)
        rv = chati_fail(CHAT_ERR_STORAGE,
                        "%s: schema version %d is newer than this libchat knows (%d)",
                        d->path, have, want);
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        if (migs[i].version <= have)
            continue;
        rv = pragma(d, migs[i].sql);
        if (rv == CHAT_OK) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", migs[i].version);
            rv = pragma(d, sql);
        }
    }
    if (rv == CHAT_OK)
        rv = pragma(d, "COMMIT");
    if (rv != CHAT_OK && !sqlite3_get_autocommit(d->db))
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rv;
}

/* Switching a file to WAL needs a moment alone with it, and SQLite refuses at
 * once ("database is locked") instead of waiting in the busy handler when
 * other connections open the same new file at the same time (the services of
 * one machine on one sqlite: broker file): retried until the busy timeout. */
static chat_err set_wal(chati_db *d)
{
    int64_t deadline = chati_mono_ms() + DB_BUSY_TIMEOUT_MS;
    for (;;) {
        chat_err rv = pragma(d, "PRAGMA journal_mode = WAL");
        if (rv != CHAT_ERR_TIMEOUT || chati_mono_ms() >= deadline)
            return rv;
        chati_clear_errmsg();
        chati_sleep_ms(5);
    }
}

static chat_err configure(chati_db *d, bool memory, bool exclusive)
{
    sqlite3_extended_result_codes(d->db, 1);
    sqlite3_busy_timeout(d->db, DB_BUSY_TIMEOUT_MS);
    /* An in-memory database has no WAL; its journal stays "memory". */
    chat_err rv = memory ? CHAT_OK : set_wal(d);
    if (rv == CHAT_ERR_TIMEOUT && exclusive)
        return chati_fail(CHAT_ERR_STORAGE,
                          "%s is in use by another process (sqlite.locking is exclusive)",
                          d->path);
    if (rv == CHAT_OK)
        rv = pragma(d, "PRAGMA synchronous = NORMAL");
    /* A WAL that a burst made larger is cut back to 16 MB when it restarts;
     * the checkpointer keeps it near 4 MB otherwise, so that is rare. */
    if (rv == CHAT_OK && !memory)
        rv = pragma(d, "PRAGMA journal_size_limit = 16777216");
    if (rv == CHAT_OK)
        rv = pragma(d, "PRAGMA foreign_keys = ON");
    return rv;
}

chat_err chati_db_locking(const chat_config *cfg, bool *exclusive)
{
    const char *v = cfg ? chat_config_get(cfg, "sqlite.locking") : NULL;
    *exclusive = v != NULL && strcmp(v, "exclusive") == 0;
    if (v != NULL && !*exclusive && strcmp(v, "shared") != 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG,
                          "sqlite.locking is \"%s\": exclusive or shared", v);
    return CHAT_OK;
}

chat_err chati_db_open(const char *path, bool exclusive, const chati_migration *migs, size_t n,
                       chati_db **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chati_db_open: out is NULL");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "sqlite URL names no file");

    bool memory = is_memory(path);
    bool existed = memory || access(path, F_OK) == 0;
    if (!existed) {
        chat_err rv = make_parents(path);
        if (rv != CHAT_OK)
            return rv;
    }

    db_full *f = chat_calloc(1, sizeof *f);
    if (f == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "opening %s", path);
    chati_db *d = &f->pub;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    /* Recursive, so a store helper that locks for a read can run inside a
     * transaction its caller began. */
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&d->lock, &attr);
    pthread_mutexattr_destroy(&attr);

    chat_err rv = CHAT_OK;
    if ((d->path = chat_strdup(path)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "opening %s", path);
    /* unix-excl takes the file's lock for the whole process at the first
     * read and keeps the WAL index in the heap; other connections of this
     * process (the checkpointer's) still share the file. */
    const char *vfs = exclusive && !memory ? "unix-excl" : NULL;
    if (rv == CHAT_OK) {
        int rc = sqlite3_open_v2(path, &d->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                     SQLITE_OPEN_NOMUTEX,
                                 vfs);
        if (rc != SQLITE_OK)
            rv = chati_fail(CHAT_ERR_STORAGE, "cannot open %s: %s", path,
                            d->db != NULL ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
    }
    /* The auth database holds password hashes: new files are private. SQLite
     * gives the -wal and -shm files the same mode as the database. */
    if (rv == CHAT_OK && !existed)
        chmod(path, 0600);
    if (rv == CHAT_OK)
        rv = configure(d, memory, exclusive);
    if (rv == CHAT_OK)
        rv = migrate(d, migs, n);
    if (rv == CHAT_OK && !memory)
        rv = chati_db_checkpointer_start(d, vfs, &d->ckpt);
    if (rv != CHAT_OK) {
        chati_db_close(d);
        return rv;
    }
    *out = d;
    return CHAT_OK;
}

void chati_db_close(chati_db *d)
{
    if (d == NULL)
        return;
    db_full *f = full(d);
    chati_db_checkpointer_stop(d->ckpt);
    for (size_t i = 0; i < f->n_stmts; i++) {
        sqlite3_finalize(f->stmts[i].st);
        chat_free(f->stmts[i].sql);
    }
    /* Closing the last connection checkpoints the WAL and removes it. */
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->lock);
    chat_free(d->path);
    chat_free(f);
}

chat_err chati_db_require_table(chati_db *d, const char *table)
{
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st =
        chati_db_stmt(d, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    if (st != NULL) {
        chati_db_bind_str(st, 1, table, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = CHAT_OK;
        else if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_INVALID_CONFIG,
                            "%s belongs to another store (no table %s): give each store "
                            "its own database file", d->path, table);
        else
            rv = chati_db_err(d, rc, "reading the schema");
    }
    chati_db_unlock(d);
    return rv;
}
