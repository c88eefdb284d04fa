/*
 * libchat/backends/redis/sentinel.h - private to the Redis backend: where the
 * primary and the replicas are, and pools of connections to them.
 *
 * Two URL forms (both documented in backends/redis/README.md):
 *   redis://HOST:PORT[/DB][?replica=HOST:PORT&timeout_ms=N]
 *       a fixed primary and at most one fixed replica;
 *   redis+sentinel://S1:P1[,S2:P2...]/MASTER[/DB][?timeout_ms=N&read=replicas|primary]
 *       the primary and replicas that the Sentinels name for MASTER: asked for
 *       on first use and again whenever the primary fails or turns out to be
 *       a replica (after a failover); replicas listed again every second.
 *
 * A call borrows a connection (chati_rlink_primary / chati_rlink_replica),
 * uses it from one thread and gives it back with chati_rlink_put, saying how
 * it went. All functions are thread-safe; no lock is held during network I/O.
 */
#ifndef CHATI_REDIS_SENTINEL_H
#define CHATI_REDIS_SENTINEL_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include <chat/error.h>

typedef struct chati_rlink chati_rlink;

/* A borrowed connection. node is CHATI_RNODE_PRIMARY or a replica's slot. */
enum { CHATI_RNODE_PRIMARY = -1 };
typedef struct chati_rconn {
    redisContext *c;
    int node;
    uint64_t gen;          /* the node's address generation when borrowed */
    bool reused;           /* from the pool (may have died meanwhile) */
    const char *role;      /* "primary", "replica" */
    char addr[280];        /* "host:port", for error messages */
} chati_rconn;

/* How a borrowed connection went. */
typedef enum chati_rput {
    CHATI_RPUT_OK,         /* keep it for reuse */
    CHATI_RPUT_DEAD_CONN,  /* it failed: drop it and the node's idle ones */
    CHATI_RPUT_DEAD_NODE   /* the server failed or refused (READONLY...): drop
                              them too, skip a replica for a while; under
                              Sentinel ask again where the primary is */
} chati_rput;

/* Parses url (either form; CHAT_ERR_INVALID_ARGUMENTS when malformed); does
 * not connect. *out is freed with chati_rlink_close. */
chat_err chati_rlink_open(const char *url, chati_rlink **out);
void chati_rlink_close(chati_rlink *l);

/* Whether the URL is a Sentinel one (errors may then heal on the next call). */
bool chati_rlink_is_sentinel(const chati_rlink *l);

/* Borrows a connection to the primary: an idle one, or a new one (SELECT DB;
 * under Sentinel, after asking the Sentinels where the primary is when that
 * is not known, and checking with ROLE that it is a master; a primary that is
 * down or not a master makes it ask once more). CHAT_ERR_SERVICE_UNAVAILABLE
 * (CHAT_ERR_STORAGE for a bad DB) with the detail set on failure. */
chat_err chati_rlink_primary(chati_rlink *l, chati_rconn *rc);

/* Borrows a connection to a replica for a read, taking them in turn and
 * skipping those that failed lately; false when none can serve (none
 * configured, all down, read=primary): read the primary then. */
bool chati_rlink_replica(chati_rlink *l, chati_rconn *rc);

/* Gives rc back (rc->c is consumed). */
void chati_rlink_put(chati_rlink *l, chati_rconn *rc, chati_rput how);

/* CHAT_ERR_SERVICE_UNAVAILABLE: "presence: redis ROLE ADDR: WHAT: WHY". */
chat_err chati_rlink_io_fail(const chati_rconn *rc, const char *what, const char *why);

#endif
