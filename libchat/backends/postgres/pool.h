/*
 * libchat/backends/postgres/pool.h - inside the PostgreSQL backend: the
 * parsed URL, pooled connections and the pool (not used by the stores).
 */
#ifndef CHATI_PG_POOL_H
#define CHATI_PG_POOL_H

#include "backends/postgres/pg.h"

#define CHATI_PG_POOL_DEFAULT 4
#define CHATI_PG_POOL_MAX 64
/* Below the services' 5 s RPC deadline (api/peers_rpc.c), so a caller gets the
 * store's own error rather than a bare timeout of the call. */
#define CHATI_PG_STATEMENT_TIMEOUT_DEFAULT 4000
/* The client waits this much longer than statement_timeout for an answer:
 * the server's own timeout (a clean error) normally comes first. */
#define CHATI_PG_CLIENT_GRACE_MS 500

/* A "postgresql://" URL with libchat's own parameters taken out. */
typedef struct chati_pg_url {
    char *libpq_url;            /* what libpq gets */
    char *cluster;              /* "user@host:port,...": names the cluster */
    char *schema;               /* NULL: the default search_path */
    int pool_size;
    int statement_timeout_ms;   /* 0: none */
    bool multi_host;            /* more than one host: per-host read pools */
    char **host_urls;           /* libpq_url naming one host each */
    char **hosts;               /* "host:port" of each, for messages */
    size_t n_hosts;
} chati_pg_url;

chat_err chati_pg_url_parse(const char *url, chati_pg_url *out);
void chati_pg_url_free(chati_pg_url *u);
/* "name" quoted as an SQL identifier ("a""b"), freed with chat_free. */
char *chati_pg_quote_ident(const char *name);

struct chati_pg_conn {
    PGconn *pg;
    struct chati_pg_pool *pool;
    bool reused;                /* came from the idle list, not a fresh connect */
    bool standby;               /* the server was in recovery when connected */
    int64_t born_ms;
    int progress;               /* statements that succeeded in this call */
    int wait_ms;                /* longest wait for one answer; 0: no limit */
    bool timed_out;             /* no answer in time: the connection is dropped */
    char sqlstate[6];
    const chati_pg_stmt **prepared;
    size_t n_prepared, cap_prepared;
};

typedef struct chati_pg_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    const char *role;           /* "primary" or "standby HOST": for messages */
    const char *kw[6];          /* PQconnectdbParams arrays */
    const char *val[6];
    char *search_path;          /* quoted schema, or NULL */
    bool probe_recovery;        /* ask pg_is_in_recovery() at connect */
    int statement_timeout_ms;   /* set on each connection; 0: none */
    chati_pg_conn **idle;
    int n_idle, n_open, max;
} chati_pg_pool;

/* A pool of connections to conninfo (a libpq URL) with target_session_attrs
 * attrs; url, conninfo and role are borrowed for the pool's life. */
chat_err chati_pg_pool_init(chati_pg_pool *p, const chati_pg_url *url, const char *conninfo,
                            const char *attrs, const char *role);
void chati_pg_pool_destroy(chati_pg_pool *p);
/* A connection: an idle one, else a new one (up to max, then waits). A
 * failed connect gives service_unavailable with libpq's reason. */
chat_err chati_pg_pool_get(chati_pg_pool *p, chati_pg_conn **out);
/* Gives c back; a broken one (or one left inside a transaction) is closed. */
void chati_pg_pool_put(chati_pg_pool *p, chati_pg_conn *c, bool broken);

/* The next result of what was sent on c, waiting at most c->wait_ms for it;
 * NULL when there is none left, or on timeout (then c->timed_out is set and
 * the pool drops the connection: it may still be inside a statement). */
PGresult *chati_pg_result(chati_pg_conn *c);
/* Like PQexec for what was sent (sent: PQsend*'s return value): the last
 * result, or the first error; NULL if nothing came back (see timed_out). */
PGresult *chati_pg_last(chati_pg_conn *c, int sent);

/* "X/Y" -> 64-bit LSN; 0 on NULL or garbage. */
uint64_t chati_pg_parse_lsn(const char *s);

#endif
