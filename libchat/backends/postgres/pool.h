/*
 * libchat/backends/postgres/pool.h - inside the PostgreSQL backend: the
 * parsed URL, pooled connections and the pool (not used by the stores).
 */
#ifndef CHATI_PG_POOL_H
#define CHATI_PG_POOL_H

#include "backends/postgres/pg.h"

#define CHATI_PG_POOL_DEFAULT 4
#define CHATI_PG_POOL_MAX 64

/* A "postgresql://" URL with libchat's own parameters taken out. */
typedef struct chati_pg_url {
    char *libpq_url;            /* what libpq gets */
    char *cluster;              /* "user@host:port,...": names the cluster */
    char *schema;               /* NULL: the default search_path */
    int pool_size;
    bool multi_host;            /* more than one host: a read pool too */
} chati_pg_url;

chat_err chati_pg_url_parse(const char *url, chati_pg_url *out);
void chati_pg_url_free(chati_pg_url *u);
/* "name" quoted as an SQL identifier ("a""b"), freed with chat_free. */
char *chati_pg_quote_ident(const char *name);

struct chati_pg_conn {
    PGconn *pg;
    struct chati_pg_pool *pool;
    bool reused;                /* came from the idle list, not a fresh connect */
    bool standby;               /* the server is in recovery (read pool only) */
    uint64_t replay_lsn;        /* what the standby had replayed when last asked */
    int64_t born_ms;
    int progress;               /* statements that succeeded in this call */
    char sqlstate[6];
    const chati_pg_stmt **prepared;
    size_t n_prepared, cap_prepared;
};

typedef struct chati_pg_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    const char *role;           /* "primary" or "read": for messages */
    const char *kw[6];          /* PQconnectdbParams arrays */
    const char *val[6];
    char *search_path;          /* quoted schema, or NULL */
    bool probe_recovery;        /* ask pg_is_in_recovery() at connect */
    chati_pg_conn **idle;
    int n_idle, n_open, max;
} chati_pg_pool;

/* target_session_attrs for the pool; url is borrowed for the pool's life. */
chat_err chati_pg_pool_init(chati_pg_pool *p, const chati_pg_url *url, const char *attrs,
                            const char *role);
void chati_pg_pool_destroy(chati_pg_pool *p);
/* A connection: an idle one, else a new one (up to max, then waits). A
 * failed connect gives service_unavailable with libpq's reason. */
chat_err chati_pg_pool_get(chati_pg_pool *p, chati_pg_conn **out);
/* Gives c back; a broken one (or one left inside a transaction) is closed. */
void chati_pg_pool_put(chati_pg_pool *p, chati_pg_conn *c, bool broken);

/* "X/Y" -> 64-bit LSN; 0 on NULL or garbage. */
uint64_t chati_pg_parse_lsn(const char *s);

#endif
