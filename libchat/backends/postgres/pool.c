/*
 * libchat/backends/postgres/pool.c - a small pool of libpq connections.
 *
 * Connecting happens outside the pool lock (it can take connect_timeout), so
 * one slow connect never blocks threads that could use an idle connection.
 * A connection that broke, or that a failed call left inside a transaction,
 * is closed on return instead of pooled: the next call connects afresh.
 *
 * Bounded waits. Each connection gets statement_timeout, but the server's
 * timer covers neither a server that stopped answering (SIGSTOP, a hung
 * host) nor a commit waiting for a synchronous standby (PostgreSQL disables
 * the timer before committing). So every answer is also awaited by the
 * client, with poll(), for statement_timeout + CHATI_PG_CLIENT_GRACE_MS;
 * when that passes the connection is dropped (not cancelled: a cancel
 * request to a stuck server could hang too).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "backends/postgres/pool.h"

/* Seconds libpq waits for each host when connecting, unless the URL says. */
#define PG_CONNECT_TIMEOUT "5"
/* How long a read connection that landed on the primary is kept. */
#define PG_REPROBE_MS 30000

chat_err chati_pg_pool_init(chati_pg_pool *p, const chati_pg_url *url, const char *conninfo,
                            const char *attrs, const char *role)
{
    memset(p, 0, sizeof *p);
    p->role = role;
    p->max = url->pool_size;
    p->probe_recovery = strcmp(attrs, "read-write") != 0;
    p->statement_timeout_ms = url->statement_timeout_ms;
    /* Later entries win over what the URL (expanded from dbname) says:
     * defaults go before it, what libchat relies on after it. */
    int k = 0;
    p->kw[k] = "connect_timeout", p->val[k++] = PG_CONNECT_TIMEOUT;
    p->kw[k] = "application_name", p->val[k++] = "libchat";
    p->kw[k] = "dbname", p->val[k++] = conninfo;
    p->kw[k] = "client_encoding", p->val[k++] = "UTF8";
    p->kw[k] = "target_session_attrs", p->val[k++] = attrs;
    p->kw[k] = NULL, p->val[k] = NULL;
    if (url->schema != NULL && (p->search_path = chati_pg_quote_ident(url->schema)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "postgres pool");
    p->idle = chat_calloc((size_t)p->max, sizeof *p->idle);
    if (p->idle == NULL) {
        chat_free(p->search_path);
        return chati_fail(CHAT_ERR_NOMEM, "postgres pool");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    return CHAT_OK;
}

static void conn_free(chati_pg_conn *c)
{
    if (c == NULL)
        return;
    PQfinish(c->pg);
    chat_free(c->prepared);
    chat_free(c);
}

void chati_pg_pool_destroy(chati_pg_pool *p)
{
    if (p->idle == NULL)
        return;
    for (int i = 0; i < p->n_idle; i++)
        conn_free(p->idle[i]);
    chat_free(p->idle);
    chat_free(p->search_path);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    memset(p, 0, sizeof *p);
}

/* Server notices ("schema exists, skipping") are not errors: keep stderr quiet. */
static void ignore_notice(void *arg, const char *msg)
{
    CHATI_UNUSED(arg);
    CHATI_UNUSED(msg);
}

/* The first line of libpq's message, for a one-line detail. */
static const char *first_line(const char *msg, char *buf, size_t n)
{
    snprintf(buf, n, "%s", msg != NULL ? msg : "");
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* The longest wait for one answer on p's connections; 0: no limit. */
static int answer_wait_ms(const chati_pg_pool *p)
{
    return p->statement_timeout_ms > 0 ? p->statement_timeout_ms + CHATI_PG_CLIENT_GRACE_MS : 0;
}

static int64_t wait_limit(const chati_pg_conn *c)
{
    return c->wait_ms > 0 ? chati_mono_ms() + c->wait_ms : INT64_MAX;
}

PGresult *chati_pg_result(chati_pg_conn *c)
{
    if (c->timed_out)
        return NULL;
    int64_t until = wait_limit(c);
    while (PQisBusy(c->pg)) {
        int64_t left = until - chati_mono_ms();
        if (left <= 0) {
            c->timed_out = true;
            return NULL;
        }
        if (PQsocket(c->pg) < 0)
            break; /* closed: poll() would ignore it and wait out the limit */
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
        int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (n < 0 && errno != EINTR)
            break; /* PQgetResult reports the broken connection */
        if (n > 0 && !PQconsumeInput(c->pg))
            break;
    }
    return PQgetResult(c->pg);
}

PGresult *chati_pg_last(chati_pg_conn *c, int sent)
{
    if (!sent)
        return NULL;
    PGresult *last = NULL;
    for (PGresult *r; (r = chati_pg_result(c)) != NULL;) {
        if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(r); /* keep the first error, as PQexec does */
            continue;
        }
        PQclear(last);
        last = r;
    }
    if (c->timed_out) {
        PQclear(last);
        return NULL;
    }
    return last;
}

/* One-row query at connect time (simple protocol); out gets column 0. */
static chat_err setup_query(chati_pg_conn *c, const char *sql, int n, const char *const *params,
                            char *out, size_t size)
{
    PGresult *r = chati_pg_last(c, PQsendQueryParams(c->pg, sql, n, NULL, params, NULL, NULL, 0));
    chat_err rv = CHAT_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char line[256];
        rv = chati_fail(c->timed_out || PQstatus(c->pg) != CONNECTION_OK
                            ? CHAT_ERR_SERVICE_UNAVAILABLE
                            : CHAT_ERR_STORAGE,
                        "postgres (%s): setting up a connection: %s", c->pool->role,
                        c->timed_out ? "no answer in time"
                                     : first_line(PQerrorMessage(c->pg), line, sizeof line));
    } else if (out != NULL) {
        snprintf(out, size, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rv;
}

static chat_err connect_one(chati_pg_pool *p, chati_pg_conn **out)
{
    chati_pg_conn *c = chat_calloc(1, sizeof *c);
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "postgres connection");
    c->pool = p;
    c->born_ms = chati_mono_ms();
    c->pg = PQconnectdbParams(p->kw, p->val, 1);
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        char line[300];
        chat_err rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                                 "postgres: cannot connect (%s): %s", p->role,
                                 c->pg != NULL ? first_line(PQerrorMessage(c->pg), line,
                                                            sizeof line)
                                               : "out of memory");
        conn_free(c);
        return rv;
    }
    PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    /* One round trip: the timeout, the schema, and which kind of server. */
    char timeout[24], rec[8];
    snprintf(timeout, sizeof timeout, "%d", p->statement_timeout_ms);
    const char *params[2] = {timeout, p->search_path};
    c->wait_ms = answer_wait_ms(p);
    chat_err rv = setup_query(c,
                              "SELECT pg_is_in_recovery(), set_config('statement_timeout', $1, false),"
                              " set_config('search_path', coalesce($2, current_setting('search_path')),"
                              " false)",
                              2, params, rec, sizeof rec);
    c->standby = rv == CHAT_OK && rec[0] == 't';
    if (rv != CHAT_OK) {
        conn_free(c);
        return rv;
    }
    *out = c;
    return CHAT_OK;
}

chat_err chati_pg_pool_get(chati_pg_pool *p, chati_pg_conn **out)
{
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0 && p->n_open >= p->max)
        pthread_cond_wait(&p->freed, &p->lock);
    if (p->n_idle > 0) {
        chati_pg_conn *c = p->idle[--p->n_idle];
        pthread_mutex_unlock(&p->lock);
        c->reused = true;
        c->progress = 0;
        c->sqlstate[0] = '\0';
        c->wait_ms = answer_wait_ms(p);
        *out = c;
        return CHAT_OK;
    }
    p->n_open++;
    pthread_mutex_unlock(&p->lock);

    chat_err rv = connect_one(p, out);
    if (rv != CHAT_OK) {
        pthread_mutex_lock(&p->lock);
        p->n_open--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
    }
    return rv;
}

void chati_pg_pool_put(chati_pg_pool *p, chati_pg_conn *c, bool broken)
{
    if (c == NULL)
        return;
    /* A server that stopped answering is as good as dead. */
    bool dead = PQstatus(c->pg) != CONNECTION_OK || c->timed_out;
    if (dead || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        broken = true;
    /* A read connection that found no standby went to the primary: after a
     * while, connect again to find out whether a standby is back. */
    if (p->probe_recovery && !c->standby && chati_mono_ms() - c->born_ms > PG_REPROBE_MS)
        broken = true;
    chati_pg_conn *drop[CHATI_PG_POOL_MAX];
    int n_drop = 0;
    pthread_mutex_lock(&p->lock);
    if (broken) {
        p->n_open--;
        /* The server died: its other idle connections are dead too, and each
         * would cost a failed call before being noticed. */
        if (dead) {
            while (p->n_idle > 0) {
                drop[n_drop++] = p->idle[--p->n_idle];
                p->n_open--;
            }
        }
    } else {
        p->idle[p->n_idle++] = c;
        c = NULL;
    }
    pthread_cond_broadcast(&p->freed);
    pthread_mutex_unlock(&p->lock);
    /* Outside the lock: closing talks to the server. */
    conn_free(c);
    for (int i = 0; i < n_drop; i++)
        conn_free(drop[i]);
}
