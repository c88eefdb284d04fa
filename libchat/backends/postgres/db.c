/*
 * libchat/backends/postgres/db.c - opening a store's database, running calls
 * on pooled connections, read routing, retries and error mapping.
 *
 * Read routing and read-your-writes. Writes use the "primary" pool
 * (target_session_attrs=read-write over all the URL's hosts: after a failover
 * a fresh connection finds the new primary). A URL with several hosts also
 * gives one pool per host for reads, which take turns (round robin) among the
 * standbys that qualify; a host that failed is skipped for a backoff (1 s,
 * doubling to 30 s), one that turned out to be the primary for 30 s; with
 * none left a read goes to the primary. A standby replays the primary's WAL a little
 * later, so a read sent there right after a write could miss it. Every write
 * transaction therefore ends with "COMMIT; SELECT pg_current_wal_insert_lsn()"
 * (one round trip): the WAL position after its commit record. The highest
 * such LSN is kept per cluster for the whole process (not per handle: the
 * auth, user and channel stores and a second handle on the same database must
 * see each other's writes too). A read goes to a standby only if that standby
 * has replayed at least that LSN: each host remembers the replay LSN it last
 * reported; when that is too old a connection asks again
 * (pg_last_wal_replay_lsn(), one cheap round trip) and, if the standby is
 * still behind, the read tries the next standby, then the primary, instead
 * of waiting. Before any write, any standby will do. Which standby is
 * synchronous need not be configured: with synchronous_commit=remote_apply
 * the synchronous one has applied a commit before it is acknowledged, so it
 * qualifies at once, and an asynchronous one once it has caught up. Another
 * process's writes are not tracked: a standby may show them a moment late.
 *
 * Unconfirmed commits. With synchronous_standby_names set, COMMIT waits
 * until a synchronous standby confirms; with every listed standby down it
 * waits for ever, and statement_timeout does not end that wait. The client
 * gives up after statement_timeout_ms + 0.5 s (see pool.c) and reports
 * request_timeout "commit not confirmed": the commit is in the primary's WAL
 * but invisible until a standby confirms it (its locks held meanwhile), and
 * lost if that primary is then failed over. So no write is acknowledged
 * without the standby's copy, and the outcome of this one is unknown: a
 * retry with the same ids waits on those locks, then sees duplicate once the
 * first lands (the stores are keyed by ids, so nothing is applied twice);
 * counters (bump_generation) are not retry-safe.
 *
 * Failures. A pooled connection may have died with its server (restart,
 * failover). A read on such a connection, or a write whose first statement
 * (BEGIN) fails on it and so did nothing, is run once more on a fresh
 * connection; the pool drops its other idle connections to that server too.
 * A read that met a dead or stuck standby is redone once elsewhere. Serialization failures and
 * deadlocks (the transaction was rolled back) are retried twice. A write
 * refused because the server turned standby (failover) drops that connection
 * and is redone once on a fresh one, which finds the new primary. A server
 * that cannot be reached gives service_unavailable at once (refused) or after
 * connect_timeout (default 5 s); one that stops answering, request_timeout
 * after statement_timeout_ms (default 4 s) + 0.5 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/postgres/pool.h"

/* The highest commit LSN this process wrote to one cluster (see above). */
typedef struct pg_cluster {
    char *key;
    uint64_t lsn;
    int64_t primary_until_ms;   /* reads go to the primary until then */
    int refs;
    struct pg_cluster *next;
} pg_cluster;

/* Replication lag on a healthy standby is far below this. */
#define PG_PIN_PRIMARY_MS 10000
/* A read host that failed is skipped this long, doubling up to the max. */
#define PG_BACKOFF_MS 1000
#define PG_BACKOFF_MAX_MS 30000
/* A read host that is the primary is asked again after this. */
#define PG_REPROBE_PRIMARY_MS 30000

static pthread_mutex_t clusters_lock = PTHREAD_MUTEX_INITIALIZER;
static pg_cluster *clusters;

/* One host of a multi-host URL, for reads. State under chati_pg.lock. */
typedef struct pg_host {
    chati_pg_pool pool;
    char role[80];              /* "read HOST:PORT", for messages */
    char host[64], port[8];     /* as libpq names them, to spot the primary */
    uint64_t replay_lsn;        /* what it had replayed when last asked */
    int64_t skip_until_ms;      /* failed or primary: not a read target until then */
    int backoff_ms;             /* next skip after a failure */
} pg_host;

struct chati_pg {
    chati_pg_url url;
    chati_pg_pool primary;
    pg_host *hosts;             /* only with several hosts */
    size_t n_hosts;
    bool has_reads;
    unsigned next_host;         /* round robin */
    pthread_mutex_t lock;
    pg_cluster *cluster;
};

static pg_cluster *cluster_ref(const char *key)
{
    pthread_mutex_lock(&clusters_lock);
    pg_cluster *c = clusters;
    while (c != NULL && strcmp(c->key, key) != 0)
        c = c->next;
    if (c == NULL && (c = chat_calloc(1, sizeof *c)) != NULL) {
        if ((c->key = chat_strdup(key)) == NULL) {
            chat_free(c);
            c = NULL;
        } else {
            c->next = clusters;
            clusters = c;
        }
    }
    if (c != NULL)
        c->refs++;
    pthread_mutex_unlock(&clusters_lock);
    return c;
}

static void cluster_unref(pg_cluster *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&clusters_lock);
    if (--c->refs == 0) {
        for (pg_cluster **p = &clusters; *p != NULL; p = &(*p)->next)
            if (*p == c) {
                *p = c->next;
                break;
            }
        chat_free(c->key);
        chat_free(c);
    }
    pthread_mutex_unlock(&clusters_lock);
}

/* The LSN a standby must have replayed; UINT64_MAX: use the primary. */
static uint64_t cluster_lsn(pg_cluster *c)
{
    int64_t now = chati_mono_ms();
    pthread_mutex_lock(&clusters_lock);
    uint64_t v = now < c->primary_until_ms ? UINT64_MAX : c->lsn;
    pthread_mutex_unlock(&clusters_lock);
    return v;
}

/* A commit whose LSN is unknown (the connection broke right after it): no
 * standby is known to have it, so reads stay on the primary for a while. */
static void cluster_pin_primary(pg_cluster *c)
{
    int64_t until = chati_mono_ms() + PG_PIN_PRIMARY_MS;
    pthread_mutex_lock(&clusters_lock);
    c->primary_until_ms = until;
    pthread_mutex_unlock(&clusters_lock);
}

static void cluster_wrote(pg_cluster *c, uint64_t lsn)
{
    pthread_mutex_lock(&clusters_lock);
    if (lsn > c->lsn)
        c->lsn = lsn;
    pthread_mutex_unlock(&clusters_lock);
}

/* ---- errors ---- */

static bool state_is(const char *state, const char *prefix)
{
    return strncmp(state, prefix, strlen(prefix)) == 0;
}

/* Maps a failed result (or a failed send: r NULL) to chat_err with detail. */
static chat_err fail_result(chati_pg_conn *c, const PGresult *r, const char *what)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state != NULL ? state : "");
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (what == NULL)
        what = "query";
    if (c->timed_out)
        return chati_fail(CHAT_ERR_TIMEOUT, "postgres (%s): %s: no answer within %d ms (server stuck?)",
                          c->pool->role, what, c->wait_ms);
    char line[300];
    snprintf(line, sizeof line, "%s", msg != NULL ? msg : PQerrorMessage(c->pg));
    line[strcspn(line, "\n")] = '\0';
    chat_err err = CHAT_ERR_STORAGE;
    if (PQstatus(c->pg) != CONNECTION_OK || state_is(c->sqlstate, "08") ||
        state_is(c->sqlstate, "57P") || state_is(c->sqlstate, "53") ||
        strcmp(c->sqlstate, "25006") == 0 /* the primary turned standby */)
        err = CHAT_ERR_SERVICE_UNAVAILABLE;
    else if (strcmp(c->sqlstate, "23503") == 0)
        err = CHAT_ERR_NOT_FOUND;
    else if (state_is(c->sqlstate, "23"))
        err = CHAT_ERR_DUPLICATE;
    else if (state_is(c->sqlstate, "40") || strcmp(c->sqlstate, "55P03") == 0 ||
             strcmp(c->sqlstate, "57014") == 0)
        err = CHAT_ERR_TIMEOUT;
    else if (strcmp(c->sqlstate, "22021") == 0)
        err = CHAT_ERR_INVALID_UTF8;
    else if (r == NULL || PQresultStatus(r) == PGRES_FATAL_ERROR)
        err = msg == NULL ? CHAT_ERR_SERVICE_UNAVAILABLE : CHAT_ERR_STORAGE;
    return chati_fail(err, "postgres (%s): %s: %s", c->pool->role, what, line);
}

/* A statement without parameters, through the simple protocol. */
static chat_err simple(chati_pg_conn *c, const char *sql, const char *what)
{
    PGresult *r = chati_pg_last(c, PQsendQuery(c->pg, sql));
    ExecStatusType s = PQresultStatus(r);
    chat_err rv = CHAT_OK;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        c->progress++;
    else
        rv = fail_result(c, r, what);
    PQclear(r);
    return rv;
}

static chat_err ensure_prepared(chati_pg_conn *c, const chati_pg_stmt *st)
{
    for (size_t i = 0; i < c->n_prepared; i++)
        if (c->prepared[i] == st)
            return CHAT_OK;
    if (c->n_prepared == c->cap_prepared) {
        size_t cap = c->cap_prepared ? c->cap_prepared * 2 : 16;
        const chati_pg_stmt **p = chat_realloc(c->prepared, cap * sizeof *p);
        if (p == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "postgres statements");
        c->prepared = p;
        c->cap_prepared = cap;
    }
    PGresult *r = chati_pg_last(c, PQsendPrepare(c->pg, st->name, st->sql, st->nparams, NULL));
    chat_err rv = PQresultStatus(r) == PGRES_COMMAND_OK ? CHAT_OK : fail_result(c, r, st->name);
    PQclear(r);
    if (rv == CHAT_OK)
        c->prepared[c->n_prepared++] = st;
    return rv;
}

chat_err chati_pg_exec(chati_pg_conn *c, const chati_pg_stmt *st, const char *const *params,
                       PGresult **res, const char *what)
{
    if (res != NULL)
        *res = NULL;
    chat_err rv = ensure_prepared(c, st);
    if (rv != CHAT_OK)
        return rv;
    PGresult *r = chati_pg_last(
        c, PQsendQueryPrepared(c->pg, st->name, st->nparams, params, NULL, NULL, 0));
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        rv = fail_result(c, r, what != NULL ? what : st->name);
        PQclear(r);
        return rv;
    }
    c->progress++;
    if (res != NULL)
        *res = r;
    else
        PQclear(r);
    return CHAT_OK;
}

chat_err chati_pg_exec_batch(chati_pg_conn *c, const chati_pg_stmt *st, size_t rows,
                             const char *const *params, const char *what)
{
    if (rows == 0)
        return CHAT_OK;
    chat_err rv = ensure_prepared(c, st);
    if (rv != CHAT_OK)
        return rv;
    if (!PQenterPipelineMode(c->pg))
        return fail_result(c, NULL, what);
    size_t sent = 0;
    while (sent < rows && PQsendQueryPrepared(c->pg, st->name, st->nparams,
                                              params + sent * (size_t)st->nparams, NULL, NULL,
                                              0))
        sent++;
    if (sent < rows || !PQpipelineSync(c->pg)) {
        /* A connection that cannot take the queries is lost; run() drops it
         * (it is still in pipeline mode). */
        return fail_result(c, NULL, what);
    }
    /* Each query's result is followed by a NULL; the sync ends the batch.
     * After a failure the server skips the rest (PIPELINE_ABORTED). */
    for (bool synced = false; !synced;) {
        PGresult *r = chati_pg_result(c);
        if (r == NULL) {
            if (PQstatus(c->pg) != CONNECTION_OK || c->timed_out) {
                if (rv == CHAT_OK)
                    rv = fail_result(c, NULL, what);
                break;
            }
            continue;
        }
        switch (PQresultStatus(r)) {
        case PGRES_PIPELINE_SYNC:
            synced = true;
            break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
            c->progress++;
            break;
        case PGRES_PIPELINE_ABORTED:
            break;
        default:
            if (rv == CHAT_OK)
                rv = fail_result(c, r, what);
            break;
        }
        PQclear(r);
    }
    if (!c->timed_out && !PQexitPipelineMode(c->pg) && rv == CHAT_OK)
        rv = fail_result(c, NULL, what);
    return rv;
}

/* ---- routing and transactions ---- */

/* pg_current_wal_insert_lsn() names where the next record will start: right
 * after a page boundary it points past the new page's header (24 bytes; 40
 * at a segment start), while a standby's replay LSN stops at the boundary
 * until a next record arrives. Step back over the header so an idle standby
 * that has everything still counts as caught up. (Default 8 kB WAL pages and
 * 16 MB segments; other sizes only send such reads to the primary.) */
static uint64_t insert_to_end_lsn(uint64_t lsn)
{
    if (lsn % (16u << 20) == 40)
        return lsn - 40;
    if (lsn % 8192 == 24)
        return lsn - 24;
    return lsn;
}

/* A commit whose answer did not come in time (see the top of this file). */
static chat_err commit_unconfirmed(chati_pg_conn *c)
{
    return chati_fail(CHAT_ERR_TIMEOUT,
                      "postgres (%s): commit not confirmed within %d ms (no synchronous standby"
                      " up, or the server is stuck); the write may still apply once a standby"
                      " confirms it: retry with the same ids",
                      c->pool->role, c->wait_ms);
}

/* Commits; on a multi-host URL also records the commit's WAL position. */
static chat_err commit(chati_pg *db, chati_pg_conn *c)
{
    if (!db->has_reads) {
        PGresult *r = chati_pg_last(c, PQsendQuery(c->pg, "COMMIT"));
        chat_err rv = CHAT_OK;
        if (c->timed_out)
            rv = commit_unconfirmed(c);
        else if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rv = fail_result(c, r, "commit");
        else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) /* "ROLLBACK" */
            rv = chati_fail(CHAT_ERR_STORAGE, "postgres: the transaction was rolled back");
        PQclear(r);
        return rv;
    }
    if (!PQsendQuery(c->pg, "COMMIT; SELECT pg_current_wal_insert_lsn()::text"))
        return fail_result(c, NULL, "commit");
    chat_err rv = CHAT_OK;
    bool committed = false;
    uint64_t lsn = 0;
    for (PGresult *r; (r = chati_pg_result(c)) != NULL;) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0)
            committed = true;
        else if (s == PGRES_COMMAND_OK && rv == CHAT_OK) /* "ROLLBACK" */
            rv = chati_fail(CHAT_ERR_STORAGE, "postgres: the transaction was rolled back");
        else if (s == PGRES_TUPLES_OK && PQntuples(r) == 1)
            lsn = chati_pg_parse_lsn(PQgetvalue(r, 0, 0));
        else if (!committed && rv == CHAT_OK)
            rv = fail_result(c, r, "commit");
        PQclear(r);
    }
    if (!committed) {
        if (c->timed_out)
            return commit_unconfirmed(c);
        return rv != CHAT_OK ? rv : fail_result(c, NULL, "commit");
    }
    /* Committed: the call succeeded even if its position did not come back. */
    if (lsn != 0)
        cluster_wrote(db->cluster, insert_to_end_lsn(lsn));
    else
        cluster_pin_primary(db->cluster);
    return CHAT_OK;
}

/* h failed (refused, broke, or stopped answering): skip it for a while. */
static void host_failed(chati_pg *db, pg_host *h)
{
    pthread_mutex_lock(&db->lock);
    h->backoff_ms = h->backoff_ms == 0 ? PG_BACKOFF_MS : h->backoff_ms * 2;
    if (h->backoff_ms > PG_BACKOFF_MAX_MS)
        h->backoff_ms = PG_BACKOFF_MAX_MS;
    h->skip_until_ms = chati_mono_ms() + h->backoff_ms;
    pthread_mutex_unlock(&db->lock);
}

/* A fresh write connection found the primary: reads skip that host (they
 * would only connect, see it is no standby, and move on; if it is stuck,
 * after connect_timeout). */
static void note_primary(chati_pg *db, chati_pg_conn *c)
{
    const char *host = PQhost(c->pg), *port = PQport(c->pg);
    if (host == NULL || port == NULL)
        return;
    int64_t until = chati_mono_ms() + PG_REPROBE_PRIMARY_MS;
    pthread_mutex_lock(&db->lock);
    for (size_t i = 0; i < db->n_hosts; i++)
        if (strcmp(db->hosts[i].host, host) == 0 && strcmp(db->hosts[i].port, port) == 0)
            db->hosts[i].skip_until_ms = until;
    pthread_mutex_unlock(&db->lock);
}

/* Host and port of a one-host libpq URL (port 5432 when it names none). */
static void host_port(const char *conninfo, pg_host *h)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    snprintf(h->port, sizeof h->port, "5432");
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0)
            snprintf(h->host, sizeof h->host, "%s", o->val);
        else if (strcmp(o->keyword, "port") == 0)
            snprintf(h->port, sizeof h->port, "%s", o->val);
    }
    PQconninfoFree(opts);
}

/* A connection to standby h that has replayed `need`, or false. */
static bool try_host(chati_pg *db, pg_host *h, uint64_t need, chati_pg_conn **out)
{
    pthread_mutex_lock(&db->lock);
    bool caught_up = h->replay_lsn >= need;
    pthread_mutex_unlock(&db->lock);
    chati_pg_conn *c = NULL;
    if (chati_pg_pool_get(&h->pool, &c) != CHAT_OK) {
        host_failed(db, h);
        return false;
    }
    if (!c->standby) {
        /* The primary (or no longer a standby): reads have the primary pool. */
        pthread_mutex_lock(&db->lock);
        h->skip_until_ms = chati_mono_ms() + PG_REPROBE_PRIMARY_MS;
        pthread_mutex_unlock(&db->lock);
        chati_pg_pool_put(&h->pool, c, true);
        return false;
    }
    if (!caught_up) {
        PGresult *r = chati_pg_last(c, PQsendQuery(c->pg, "SELECT pg_last_wal_replay_lsn()::text"));
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        uint64_t lsn = ok ? chati_pg_parse_lsn(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        if (!ok) {
            bool broken = PQstatus(c->pg) != CONNECTION_OK || c->timed_out;
            chati_pg_pool_put(&h->pool, c, broken);
            if (broken)
                host_failed(db, h);
            return false;
        }
        pthread_mutex_lock(&db->lock);
        if (lsn > h->replay_lsn)
            h->replay_lsn = lsn;
        pthread_mutex_unlock(&db->lock);
        caught_up = lsn >= need;
    }
    if (!caught_up) {
        chati_pg_pool_put(&h->pool, c, false);
        return false;
    }
    pthread_mutex_lock(&db->lock);
    h->backoff_ms = 0;
    pthread_mutex_unlock(&db->lock);
    *out = c;
    return true;
}

/* A read connection: a standby that has caught up with this process's
 * writes, taking turns, or else the primary (see the top of this file). */
static chat_err acquire_read(chati_pg *db, chati_pg_conn **out, chati_pg_pool **pool)
{
    uint64_t need = db->has_reads ? cluster_lsn(db->cluster) : UINT64_MAX;
    if (need != UINT64_MAX) {
        /* Turns among the hosts not skipped right now; the others only
         * when none of those qualifies. */
        size_t order[CHATI_PG_POOL_MAX], n = 0, first = 0;
        int64_t now = chati_mono_ms();
        pthread_mutex_lock(&db->lock);
        for (size_t i = 0; i < db->n_hosts && n < CHATI_PG_POOL_MAX; i++)
            if (now >= db->hosts[i].skip_until_ms)
                order[n++] = i;
        if (n > 0)
            first = db->next_host++ % n;
        pthread_mutex_unlock(&db->lock);
        for (size_t k = 0; k < n; k++) {
            pg_host *h = &db->hosts[order[(first + k) % n]];
            if (try_host(db, h, need, out)) {
                *pool = &h->pool;
                return CHAT_OK;
            }
        }
        chati_clear_errmsg();
    }
    *pool = &db->primary;
    return chati_pg_pool_get(&db->primary, out);
}

static bool retryable_conflict(const char *state)
{
    return strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0;
}

static chat_err run(chati_pg *db, bool write, bool snapshot, chati_pg_fn fn, void *arg)
{
    chat_err rv = CHAT_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        chati_pg_conn *c = NULL;
        chati_pg_pool *pool = &db->primary;
        rv = write ? chati_pg_pool_get(pool, &c) : acquire_read(db, &c, &pool);
        if (rv != CHAT_OK)
            return rv;
        if (write && !c->reused && db->has_reads)
            note_primary(db, c);
        c->progress = 0;
        c->sqlstate[0] = '\0';
        bool txn = write || snapshot;
        if (txn)
            rv = simple(c, write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                        "begin");
        if (rv == CHAT_OK)
            rv = fn(c, arg);
        if (rv == CHAT_OK && txn)
            rv = write ? commit(db, c) : simple(c, "COMMIT", "commit");
        else if (rv != CHAT_OK && txn && !c->timed_out && PQstatus(c->pg) == CONNECTION_OK &&
                 PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
            PGresult *r = chati_pg_last(c, PQsendQuery(c->pg, "ROLLBACK"));
            PQclear(r);
        }
        bool broken = PQstatus(c->pg) != CONNECTION_OK || c->timed_out ||
                      PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF;
        bool on_host = pool != &db->primary;
        if (broken && on_host)
            host_failed(db, (pg_host *)pool); /* the pool is pg_host's first member */
        /* A pooled connection that turned out dead: a read changes nothing
         * and a write of which nothing ran did nothing, so redo it once (a
         * read on another host, as this one is skipped now). A server that
         * stopped answering is not waited for twice. */
        bool retry = attempt == 0 && broken &&
                     (write ? c->reused && c->progress == 0 && !c->timed_out
                            : on_host || (c->reused && !c->timed_out));
        retry = retry || (rv != CHAT_OK && !broken && retryable_conflict(c->sqlstate));
        /* The server refused a write because it is a standby now (a
         * failover): the statement did nothing. Connect afresh, which finds
         * the new primary (target_session_attrs=read-write), and redo once. */
        if (rv != CHAT_OK && strcmp(c->sqlstate, "25006") == 0) {
            broken = true;
            retry = attempt == 0;
        }
        chati_pg_pool_put(pool, c, broken);
        if (!retry)
            break;
    }
    return rv;
}

chat_err chati_pg_write(chati_pg *db, chati_pg_fn fn, void *arg)
{
    return run(db, true, false, fn, arg);
}

chat_err chati_pg_read(chati_pg *db, bool snapshot, chati_pg_fn fn, void *arg)
{
    return run(db, false, snapshot, fn, arg);
}

/* ---- opening and migrations ---- */

typedef struct migrate_args {
    const char *component;
    const char *schema_sql;     /* CREATE SCHEMA ..., or NULL */
    const char *search_path;
    const chati_pg_migration *migs;
    size_t n;
} migrate_args;

static chat_err param_query(chati_pg_conn *c, const char *sql, int n, const char *const *params,
                            PGresult **out, const char *what)
{
    PGresult *r = chati_pg_last(c, PQsendQueryParams(c->pg, sql, n, NULL, params, NULL, NULL, 0));
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        chat_err rv = fail_result(c, r, what);
        PQclear(r);
        return rv;
    }
    c->progress++;
    if (out != NULL)
        *out = r;
    else
        PQclear(r);
    return CHAT_OK;
}

static chat_err migrate_fn(chati_pg_conn *c, void *arg)
{
    migrate_args *m = arg;
    /* A migration of a big table may take long, and so may waiting for
     * another process's: no statement timeout here. */
    c->wait_ms = 0;
    chat_err rv = simple(c, "SET LOCAL statement_timeout = 0", "migrating");
    /* One lock for every libchat store in this database: two processes
     * starting at once apply each migration once; the second waits, then
     * finds nothing to do. Released at commit. */
    if (rv == CHAT_OK)
        rv = simple(c, "SELECT pg_advisory_xact_lock(hashtext('libchat.migrate'))",
                    "locking for migrations");
    if (rv == CHAT_OK && m->schema_sql != NULL) {
        const char *p[1] = {m->search_path};
        rv = simple(c, m->schema_sql, "creating the schema");
        /* The connection's search_path named a schema that did not exist yet. */
        if (rv == CHAT_OK)
            rv = param_query(c, "SELECT set_config('search_path', $1, false)", 1, p, NULL,
                             "search_path");
    }
    if (rv == CHAT_OK)
        rv = simple(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                       " component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
                    "creating schema_version");
    PGresult *r = NULL;
    const char *p[2] = {m->component, NULL};
    if (rv == CHAT_OK)
        rv = param_query(c, "SELECT version FROM schema_version WHERE component = $1", 1, p, &r,
                         "reading schema_version");
    if (rv != CHAT_OK)
        return rv;
    int have = PQntuples(r) == 1 ? (int)chati_pg_int(r, 0, 0) : 0;
    PQclear(r);
    int want = m->migs[m->n - 1].version;
    if (have > want)
        return chati_fail(CHAT_ERR_STORAGE,
                          "postgres: %s schema version %d is newer than this libchat knows (%d)",
                          m->component, have, want);
    for (size_t i = 0; rv == CHAT_OK && i < m->n; i++) {
        if (m->migs[i].version <= have)
            continue;
        rv = simple(c, m->migs[i].sql, "migrating");
        char v[24];
        p[1] = chati_pg_i64(v, m->migs[i].version);
        if (rv == CHAT_OK)
            rv = param_query(c, "INSERT INTO schema_version (component, version) VALUES ($1, $2)"
                                " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                             2, p, NULL, "recording the schema version");
    }
    return rv;
}

chat_err chati_pg_open(const char *url, const char *component, const chati_pg_migration *migs,
                       size_t n, chati_pg **out)
{
    if (out == NULL || component == NULL || migs == NULL || n == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chati_pg_open: bad arguments");
    *out = NULL;
    for (size_t i = 1; i < n; i++)
        if (migs[i].version <= migs[i - 1].version)
            return chati_fail(CHAT_ERR_INTERNAL, "migrations must have increasing versions");
    chati_pg *db = chat_calloc(1, sizeof *db);
    if (db == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "postgres store");
    pthread_mutex_init(&db->lock, NULL);
    chat_err rv = chati_pg_url_parse(url, &db->url);
    if (rv == CHAT_OK)
        rv = chati_pg_pool_init(&db->primary, &db->url, db->url.libpq_url, "read-write",
                                "primary");
    if (rv == CHAT_OK && db->url.multi_host) {
        if ((db->hosts = chat_calloc(db->url.n_hosts, sizeof *db->hosts)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "postgres store");
        for (size_t i = 0; rv == CHAT_OK && i < db->url.n_hosts; i++) {
            pg_host *h = &db->hosts[i];
            snprintf(h->role, sizeof h->role, "read %s", db->url.hosts[i]);
            host_port(db->url.host_urls[i], h);
            rv = chati_pg_pool_init(&h->pool, &db->url, db->url.host_urls[i], "any", h->role);
            if (rv == CHAT_OK)
                db->n_hosts++;
        }
        db->has_reads = rv == CHAT_OK;
    }
    if (rv == CHAT_OK && (db->cluster = cluster_ref(db->url.cluster)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "postgres store");

    char *schema_sql = NULL;
    if (rv == CHAT_OK && db->url.schema != NULL) {
        char *q = chati_pg_quote_ident(db->url.schema);
        chati_buf b = {0};
        if (q == NULL || chati_buf_printf(&b, "CREATE SCHEMA IF NOT EXISTS %s", q) != CHAT_OK)
            rv = chati_fail(CHAT_ERR_NOMEM, "postgres store");
        schema_sql = chati_buf_steal(&b);
        chati_buf_free(&b);
        chat_free(q);
    }
    if (rv == CHAT_OK) {
        migrate_args m = {component, schema_sql, db->primary.search_path, migs, n};
        rv = chati_pg_write(db, migrate_fn, &m);
    }
    chat_free(schema_sql);
    if (rv != CHAT_OK) {
        chati_pg_close(db);
        return rv;
    }
    *out = db;
    return CHAT_OK;
}

void chati_pg_close(chati_pg *db)
{
    if (db == NULL)
        return;
    chati_pg_pool_destroy(&db->primary);
    for (size_t i = 0; i < db->n_hosts; i++)
        chati_pg_pool_destroy(&db->hosts[i].pool);
    chat_free(db->hosts);
    cluster_unref(db->cluster);
    chati_pg_url_free(&db->url);
    pthread_mutex_destroy(&db->lock);
    chat_free(db);
}

/* ---- values ---- */

char *chati_pg_str(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return chat_strdup(PQgetvalue(r, row, col));
}

void chati_pg_fixed(const PGresult *r, int row, int col, char *dst, size_t size)
{
    /* A truncated id would name another object: store nothing rather. */
    if (PQgetisnull(r, row, col) || !chati_copy_fixed(dst, size, PQgetvalue(r, row, col)))
        dst[0] = '\0';
}

int64_t chati_pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool chati_pg_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

int64_t chati_pg_changes(const PGresult *r)
{
    const char *s = PQcmdTuples((PGresult *)r);
    return s != NULL && s[0] != '\0' ? strtoll(s, NULL, 10) : 0;
}

const char *chati_pg_i64(char buf[24], int64_t v)
{
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

char *chati_pg_id_array(const char (*ids)[CHAT_ID_SIZE], size_t n)
{
    chati_buf b = {0};
    chat_err rv = chati_buf_puts(&b, "{");
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        rv = chati_buf_puts(&b, i == 0 ? "\"" : ",\"");
        /* Array literal quoting: backslash before '"' and '\'. */
        for (const char *p = ids[i]; rv == CHAT_OK && *p; p++) {
            if (*p == '"' || *p == '\\')
                rv = chati_buf_append(&b, "\\", 1);
            if (rv == CHAT_OK)
                rv = chati_buf_append(&b, p, 1);
        }
        if (rv == CHAT_OK)
            rv = chati_buf_puts(&b, "\"");
    }
    if (rv == CHAT_OK)
        rv = chati_buf_puts(&b, "}");
    char *s = rv == CHAT_OK ? chati_buf_steal(&b) : NULL;
    chati_buf_free(&b);
    if (s == NULL)
        chati_fail(CHAT_ERR_NOMEM, "postgres array");
    return s;
}

char *chati_pg_int_array(const int64_t *v, size_t n)
{
    chati_buf b = {0};
    chat_err rv = chati_buf_puts(&b, "{");
    for (size_t i = 0; rv == CHAT_OK && i < n; i++)
        rv = chati_buf_printf(&b, i == 0 ? "%lld" : ",%lld", (long long)v[i]);
    if (rv == CHAT_OK)
        rv = chati_buf_puts(&b, "}");
    char *s = rv == CHAT_OK ? chati_buf_steal(&b) : NULL;
    chati_buf_free(&b);
    if (s == NULL)
        chati_fail(CHAT_ERR_NOMEM, "postgres array");
    return s;
}
