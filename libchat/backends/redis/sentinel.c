/*
 * Where the Redis primary and replicas are, and connection pools to them
 * (see sentinel.h). hiredis has no Sentinel client, so this is one:
 *
 * Primary: under Sentinel its address is unknown until the Sentinels are
 * asked (SENTINEL master MASTER); the answer of the highest config-epoch wins,
 * because right after a failover the Sentinels other than the leader still
 * name the old primary for a moment, and that one may be back, empty and a
 * master until Sentinel demotes it. A Sentinel that could not be reached is
 * passed over for a second. A new connection to the primary is checked with
 * ROLE. The address is forgotten (and asked for again by the next call) when
 * the primary cannot be reached, is not a master, or refuses a write
 * (READONLY), so a call made after Sentinel switched the master finds the new
 * one: within one call, no polling.
 *
 * Replicas: under Sentinel, SENTINEL replicas MASTER at most once a second
 * (by one caller at a time; the others use the list they have), skipping the
 * ones flagged s_down, o_down or disconnected. Reads take them in turn; one
 * that fails is skipped for REPLICA_BACKOFF_MS. A replica whose link to the
 * primary is down still serves (its data may be stale): presence reads stay
 * up while Sentinel fails over.
 *
 * Every address has a generation, bumped when it changes or is forgotten: a
 * borrowed connection of an older generation is closed when it comes back.
 * One mutex guards the addresses and pools; connecting and every command run
 * without it. A store asks for the primary at most every DISCOVER_GAP_MS;
 * callers in between fail at once rather than wait on another's answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/time.h>

#include "backends/redis/sentinel.h"
#include "core/internal.h"

#define DEFAULT_TIMEOUT_MS 1000
#define POOL_IDLE_MAX 8
#define REPLICA_BACKOFF_MS 1000
#define REPLICA_REFRESH_MS 1000
#define SENTINEL_BACKOFF_MS 1000
#define DISCOVER_GAP_MS 50
#define MAX_REPLICAS 16
#define MAX_SENTINELS 16

typedef struct rnode {
    char host[256];
    int port;
    bool used;                  /* the slot holds an address */
    uint64_t gen;
    redisContext *idle[POOL_IDLE_MAX];
    size_t n_idle;
    int64_t skip_until_ms;      /* replicas: backoff after a failure */
} rnode;

struct chati_rlink {
    pthread_mutex_t lock;
    bool sentinel;
    bool read_replicas;
    char master[128];
    int db;
    struct timeval timeout;
    rnode primary;              /* under Sentinel: used == false while unknown */
    rnode replicas[MAX_REPLICAS];
    rnode sentinels[MAX_SENTINELS];
    size_t n_sentinels;
    size_t sentinel_first;      /* ask this one first: it answered last */
    unsigned rr;                /* round robin over the replicas */
    int64_t replicas_due_ms;    /* next SENTINEL replicas */
    bool refreshing;            /* a caller is asking for the replicas */
    int64_t discover_at_ms;     /* no asking for the primary before this */
    char last_err[300];         /* why the primary was not reached, meanwhile */
};

/* ---- nodes ---- */

static bool parse_hostport(rnode *n, const char *s, size_t len, int default_port)
{
    const char *colon = memchr(s, ':', len);
    size_t hl = colon ? (size_t)(colon - s) : len;
    if (hl == 0)
        memcpy(n->host, "127.0.0.1", sizeof "127.0.0.1");
    else if (hl >= sizeof n->host)
        return false;
    else {
        memcpy(n->host, s, hl);
        n->host[hl] = '\0';
    }
    n->port = default_port;
    if (colon) {
        char buf[16];
        size_t pl = len - hl - 1;
        if (pl == 0 || pl >= sizeof buf)
            return false;
        memcpy(buf, colon + 1, pl);
        buf[pl] = '\0';
        char *end;
        long v = strtol(buf, &end, 10);
        if (*end != '\0' || v <= 0 || v > 65535)
            return false;
        n->port = (int)v;
    }
    n->used = true;
    return true;
}

/* Lock held: empties n's pool into dead[] (POOL_IDLE_MAX room). */
static size_t node_take_idle(rnode *n, redisContext **dead)
{
    size_t k = n->n_idle;
    memcpy(dead, n->idle, k * sizeof dead[0]);
    n->n_idle = 0;
    return k;
}

/* An address as Sentinel gives it (ip and port apart: the ip may be IPv6). */
static bool node_from(rnode *n, const char *ip, const char *port)
{
    char *end;
    long v = strtol(port, &end, 10);
    if (ip[0] == '\0' || strlen(ip) >= sizeof n->host || *end != '\0' || v <= 0 || v > 65535)
        return false;
    memcpy(n->host, ip, strlen(ip) + 1);
    n->port = (int)v;
    n->used = true;
    return true;
}

static void free_all(redisContext **dead, size_t k)
{
    for (size_t i = 0; i < k; i++)
        redisFree(dead[i]);
}

static rnode *node_of(chati_rlink *l, int node)
{
    return node == CHATI_RNODE_PRIMARY ? &l->primary : &l->replicas[node];
}

/* A new connection to host:port (SELECT db unless a Sentinel), or an error. */
static chat_err connect_to(chati_rlink *l, const char *host, int port, const char *role,
                           bool select_db, redisContext **out)
{
    char addr[280];
    snprintf(addr, sizeof addr, "%s:%d", host, port);
    redisContext *c = redisConnectWithTimeout(host, port, l->timeout);
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: redis %s %s: out of memory", role, addr);
    if (c->err || redisSetTimeout(c, l->timeout) != REDIS_OK) {
        chat_err rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "presence: redis %s %s: connect: %s",
                                 role, addr, c->errstr[0] ? c->errstr : "failed");
        redisFree(c);
        return rv;
    }
    if (select_db && l->db != 0) {
        redisReply *r = redisCommand(c, "SELECT %d", l->db);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            chat_err rv =
                r ? chati_fail(CHAT_ERR_STORAGE, "presence: redis %s %s: SELECT %d: %s", role,
                               addr, l->db, r->str)
                  : chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "presence: redis %s %s: SELECT: %s",
                               role, addr, c->errstr[0] ? c->errstr : "connection lost");
            if (r)
                freeReplyObject(r);
            redisFree(c);
            return rv;
        }
        freeReplyObject(r);
    }
    *out = c;
    return CHAT_OK;
}

/* Lock held: fills rc from node (address, generation, an idle connection). */
static void borrow_locked(chati_rlink *l, int node, chati_rconn *rc)
{
    rnode *n = node_of(l, node);
    rc->node = node;
    rc->gen = n->gen;
    rc->role = node == CHATI_RNODE_PRIMARY ? "primary" : "replica";
    snprintf(rc->addr, sizeof rc->addr, "%s:%d", n->host, n->port);
    rc->c = n->n_idle ? n->idle[--n->n_idle] : NULL;
    rc->reused = rc->c != NULL;
}

/* Connects rc (filled by borrow_locked without a connection). */
static chat_err connect_rc(chati_rlink *l, chati_rconn *rc)
{
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(rc->addr, ':') - rc->addr), rc->addr);
    return connect_to(l, host, atoi(strrchr(rc->addr, ':') + 1), rc->role, true, &rc->c);
}

/* Forgets the primary's address if it is still generation gen. */
static void forget_primary(chati_rlink *l, uint64_t gen)
{
    redisContext *dead[POOL_IDLE_MAX];
    size_t k = 0;
    pthread_mutex_lock(&l->lock);
    if (l->primary.gen == gen) {
        k = node_take_idle(&l->primary, dead);
        l->primary.used = false;
        l->primary.gen++;
    }
    pthread_mutex_unlock(&l->lock);
    free_all(dead, k);
}

static void skip_replica(chati_rlink *l, int node, uint64_t gen)
{
    redisContext *dead[POOL_IDLE_MAX];
    size_t k = 0;
    pthread_mutex_lock(&l->lock);
    rnode *n = &l->replicas[node];
    if (n->gen == gen) {
        k = node_take_idle(n, dead);
        n->skip_until_ms = chati_mono_ms() + REPLICA_BACKOFF_MS;
    }
    pthread_mutex_unlock(&l->lock);
    free_all(dead, k);
}

/* ---- asking the Sentinels ---- */

/* Runs SENTINEL <sub> MASTER on Sentinel i. The reply (caller frees), or
 * NULL with why[] filled in. */
static redisReply *ask_one(chati_rlink *l, size_t i, const char *sub, char *why, size_t whylen)
{
    rnode *s = &l->sentinels[i]; /* its address is fixed from open on */
    pthread_mutex_lock(&l->lock);
    redisContext *c = s->n_idle ? s->idle[--s->n_idle] : NULL;
    pthread_mutex_unlock(&l->lock);
    bool reused = c != NULL;
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++) {
        if (c == NULL && connect_to(l, s->host, s->port, "sentinel", false, &c) != CHAT_OK) {
            snprintf(why, whylen, "%s", chat_last_errmsg());
            pthread_mutex_lock(&l->lock);
            s->skip_until_ms = chati_mono_ms() + SENTINEL_BACKOFF_MS;
            pthread_mutex_unlock(&l->lock);
            return NULL;
        }
        r = redisCommand(c, "SENTINEL %s %s", sub, l->master);
        if (r == NULL) {
            snprintf(why, whylen, "presence: redis sentinel %s:%d: %s", s->host, s->port,
                     c->errstr[0] ? c->errstr : "connection lost");
            redisFree(c);
            c = NULL;
            if (!reused) /* an idle connection that died (a restart): once afresh */
                return NULL;
        }
    }
    if (r == NULL)
        return NULL;
    pthread_mutex_lock(&l->lock);
    if (s->n_idle < POOL_IDLE_MAX) {
        s->idle[s->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&l->lock);
    if (c)
        redisFree(c);
    if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_NIL) {
        snprintf(why, whylen, "presence: redis sentinel %s:%d: SENTINEL %s %s: %s", s->host,
                 s->port, sub, l->master, r->type == REDIS_REPLY_ERROR ? r->str : "no such master");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static chat_err none_answered(chati_rlink *l, const char *why)
{
    return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                      "presence: redis sentinel: none of %zu answered for \"%s\" (last: %s)",
                      l->n_sentinels, l->master, why);
}

/* The value of key in a flat key/value array reply, or NULL. */
static const char *field(const redisReply *r, const char *key)
{
    for (size_t j = 0; r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements; j += 2)
        if (r->element[j]->str && r->element[j + 1]->str && strcmp(r->element[j]->str, key) == 0)
            return r->element[j + 1]->str;
    return NULL;
}

/* Asks every Sentinel where the primary is and installs the newest answer.
 * One Sentinel is not enough: right after a failover the others learn of it
 * only from the leader's hello messages (up to 2 s), and meanwhile name the
 * old primary, which may be back, empty and a master until Sentinel demotes
 * it. Newest: the highest config-epoch (SENTINEL master); a Sentinel whose
 * get-master-addr-by-name already differs from its master record is the
 * leader of a failover that promoted a replica, which is newer than any
 * record of the same epoch (it names the promoted replica ~1 s before the
 * failover ends, and writes work there from then on). */
static chat_err discover_primary(chati_rlink *l)
{
    char why[512] = "no Sentinel";
    rnode fresh;
    long long best = -1;
    /* Those that could not be reached lately only if no other answers (a
     * Sentinel that drops packets would cost a timeout each time). */
    for (size_t i = 0; i < 2 * l->n_sentinels && !(i == l->n_sentinels && best >= 0); i++) {
        size_t at = i % l->n_sentinels;
        pthread_mutex_lock(&l->lock);
        bool skipped = l->sentinels[at].skip_until_ms > chati_mono_ms();
        pthread_mutex_unlock(&l->lock);
        if (skipped != (i >= l->n_sentinels))
            continue;
        redisReply *m = ask_one(l, at, "master", why, sizeof why);
        if (m == NULL)
            continue;
        redisReply *a = ask_one(l, at, "get-master-addr-by-name", why, sizeof why);
        const char *ip = field(m, "ip"), *port = field(m, "port"), *ep = field(m, "config-epoch");
        long long rank = 2 * (ep ? strtoll(ep, NULL, 10) : 0);
        if (a && a->type == REDIS_REPLY_ARRAY && a->elements == 2 && a->element[0]->str &&
            a->element[1]->str && ip && port &&
            (strcmp(a->element[0]->str, ip) != 0 || strcmp(a->element[1]->str, port) != 0)) {
            ip = a->element[0]->str; /* mid-failover: the promoted replica */
            port = a->element[1]->str;
            rank++;
        }
        rnode cand;
        if (ip && port && node_from(&cand, ip, port)) {
            if (rank > best) {
                best = rank;
                fresh = cand;
            }
        } else {
            snprintf(why, sizeof why, "presence: redis sentinel: no address for \"%s\"", l->master);
        }
        if (a)
            freeReplyObject(a);
        freeReplyObject(m);
    }
    if (best < 0)
        return none_answered(l, why);
    redisContext *dead[POOL_IDLE_MAX];
    size_t k = 0;
    pthread_mutex_lock(&l->lock);
    rnode *p = &l->primary;
    bool moved = strcmp(p->host, fresh.host) != 0 || p->port != fresh.port;
    if (moved) {
        k = node_take_idle(p, dead);
        memcpy(p->host, fresh.host, sizeof p->host);
        p->port = fresh.port;
        p->gen++;
        l->replicas_due_ms = 0; /* a replica became the primary: list them again */
    }
    p->used = true;
    pthread_mutex_unlock(&l->lock);
    free_all(dead, k);
    return CHAT_OK;
}

/* Runs SENTINEL <sub> MASTER on the Sentinels in turn, starting with the last
 * one that answered, until one answers. *out is the reply (caller frees). */
static chat_err ask_sentinels(chati_rlink *l, const char *sub, redisReply **out)
{
    pthread_mutex_lock(&l->lock);
    size_t first = l->sentinel_first, n = l->n_sentinels;
    pthread_mutex_unlock(&l->lock);
    char why[512] = "no Sentinel";
    for (size_t k = 0; k < n; k++) {
        size_t i = (first + k) % n;
        redisReply *r = ask_one(l, i, sub, why, sizeof why);
        if (r == NULL)
            continue;
        pthread_mutex_lock(&l->lock);
        l->sentinel_first = i;
        pthread_mutex_unlock(&l->lock);
        *out = r;
        return CHAT_OK;
    }
    return none_answered(l, why);
}

/* "flags" of one SENTINEL replicas entry say it cannot serve. */
static bool replica_down(const char *flags)
{
    return strstr(flags, "s_down") || strstr(flags, "o_down") || strstr(flags, "disconnected");
}

/* Asks for the replicas and makes the slots match the answer (a failure keeps
 * the list it had). */
static void refresh_replicas(chati_rlink *l)
{
    redisReply *r = NULL;
    rnode seen[MAX_REPLICAS];
    size_t n_seen = 0;
    if (ask_sentinels(l, "replicas", &r) != CHAT_OK)
        return;
    for (size_t i = 0; i < r->elements && n_seen < MAX_REPLICAS; i++) {
        const redisReply *e = r->element[i];
        const char *ip = NULL, *port = NULL, *flags = "";
        for (size_t j = 0; e->type == REDIS_REPLY_ARRAY && j + 1 < e->elements; j += 2) {
            const char *k = e->element[j]->str, *v = e->element[j + 1]->str;
            if (k == NULL || v == NULL)
                continue;
            if (strcmp(k, "ip") == 0)
                ip = v;
            else if (strcmp(k, "port") == 0)
                port = v;
            else if (strcmp(k, "flags") == 0)
                flags = v;
        }
        if (ip && port && !replica_down(flags) && node_from(&seen[n_seen], ip, port))
            n_seen++;
    }
    freeReplyObject(r);

    redisContext *dead[MAX_REPLICAS * POOL_IDLE_MAX];
    size_t k = 0;
    pthread_mutex_lock(&l->lock);
    /* Drop slots no longer listed, then add the new addresses. */
    for (size_t s = 0; s < MAX_REPLICAS; s++) {
        rnode *n = &l->replicas[s];
        bool keep = false;
        for (size_t i = 0; n->used && i < n_seen && !keep; i++)
            keep = strcmp(n->host, seen[i].host) == 0 && n->port == seen[i].port;
        if (n->used && !keep) {
            k += node_take_idle(n, dead + k);
            n->used = false;
            n->gen++;
        }
    }
    for (size_t i = 0; i < n_seen; i++) {
        size_t free_slot = MAX_REPLICAS;
        bool have = false;
        for (size_t s = 0; s < MAX_REPLICAS && !have; s++) {
            rnode *n = &l->replicas[s];
            if (n->used)
                have = strcmp(n->host, seen[i].host) == 0 && n->port == seen[i].port;
            else if (free_slot == MAX_REPLICAS)
                free_slot = s;
        }
        if (!have && free_slot < MAX_REPLICAS) {
            rnode *n = &l->replicas[free_slot];
            memcpy(n->host, seen[i].host, sizeof n->host);
            n->port = seen[i].port;
            n->used = true;
            n->skip_until_ms = 0;
            n->gen++;
        }
    }
    pthread_mutex_unlock(&l->lock);
    free_all(dead, k);
}

/* ---- borrowing ---- */

/* ROLE's first element is "master". A failed ROLE is reported as not. */
static bool is_master(redisContext *c)
{
    redisReply *r = redisCommand(c, "ROLE");
    bool m = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
    if (r)
        freeReplyObject(r);
    return m;
}

/* Keeps the detail of err for the calls that fail without asking. */
static chat_err remember_err(chati_rlink *l, chat_err err)
{
    pthread_mutex_lock(&l->lock);
    snprintf(l->last_err, sizeof l->last_err, "%s", chat_last_errmsg());
    pthread_mutex_unlock(&l->lock);
    return err;
}

chat_err chati_rlink_primary(chati_rlink *l, chati_rconn *rc)
{
    chat_err rv = CHAT_OK;
    char failed[sizeof rc->addr] = "";
    /* Twice at most: a primary that fails or is no master is asked for again,
     * and tried again only if the Sentinels now name another one (so a stuck
     * primary costs one timeout here, not two). */
    for (int round = 0; round < 2; round++) {
        pthread_mutex_lock(&l->lock);
        bool known = l->primary.used;
        pthread_mutex_unlock(&l->lock);
        if (!known) {
            /* While there is no primary, every call would ask every Sentinel:
             * one store asks at most every DISCOVER_GAP_MS, the calls between
             * fail at once with the last reason. */
            pthread_mutex_lock(&l->lock);
            int64_t now = chati_mono_ms();
            bool may = now >= l->discover_at_ms;
            if (may)
                l->discover_at_ms = now + DISCOVER_GAP_MS;
            char why[sizeof l->last_err];
            memcpy(why, l->last_err, sizeof why);
            pthread_mutex_unlock(&l->lock);
            if (!may)
                return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s",
                                  why[0] ? why : "presence: redis primary: not known yet");
            chat_err d = discover_primary(l);
            if (d != CHAT_OK)
                return remember_err(l, d);
        }
        pthread_mutex_lock(&l->lock);
        borrow_locked(l, CHATI_RNODE_PRIMARY, rc);
        pthread_mutex_unlock(&l->lock);
        if (rc->c)
            return CHAT_OK;
        if (round > 0 && strcmp(rc->addr, failed) == 0)
            return rv; /* the error of round 0, detail still set */
        rv = connect_rc(l, rc);
        if (!l->sentinel || rv == CHAT_ERR_STORAGE || rv == CHAT_ERR_NOMEM)
            return rv;
        if (rv == CHAT_OK) {
            if (is_master(rc->c))
                return CHAT_OK;
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                            "presence: redis primary %s: not a master: %s", rc->addr,
                            rc->c->err ? rc->c->errstr
                                       : "a replica (Sentinel has not finished a failover)");
            redisFree(rc->c);
            rc->c = NULL;
        }
        snprintf(failed, sizeof failed, "%s", rc->addr);
        remember_err(l, rv);
        forget_primary(l, rc->gen);
    }
    return rv;
}

/* Before a read: lists the replicas again when due, by one caller at a time. */
static void maybe_refresh(chati_rlink *l)
{
    pthread_mutex_lock(&l->lock);
    int64_t now = chati_mono_ms();
    bool mine = l->sentinel && !l->refreshing && now >= l->replicas_due_ms;
    if (mine) {
        l->refreshing = true;
        l->replicas_due_ms = now + REPLICA_REFRESH_MS;
    }
    pthread_mutex_unlock(&l->lock);
    if (!mine)
        return;
    refresh_replicas(l);
    pthread_mutex_lock(&l->lock);
    l->refreshing = false;
    pthread_mutex_unlock(&l->lock);
}

bool chati_rlink_replica(chati_rlink *l, chati_rconn *rc)
{
    if (!l->read_replicas)
        return false;
    maybe_refresh(l);
    for (int tries = 0; tries < MAX_REPLICAS; tries++) {
        pthread_mutex_lock(&l->lock);
        int64_t now = chati_mono_ms();
        int pick = -1;
        unsigned start = l->rr++;
        for (unsigned k = 0; k < MAX_REPLICAS && pick < 0; k++) {
            unsigned s = (start + k) % MAX_REPLICAS;
            if (l->replicas[s].used && l->replicas[s].skip_until_ms <= now)
                pick = (int)s;
        }
        if (pick >= 0) {
            borrow_locked(l, pick, rc);
            /* Next time start after this one, so reads alternate. */
            l->rr = (unsigned)pick + 1;
        }
        pthread_mutex_unlock(&l->lock);
        if (pick < 0)
            return false;
        if (rc->c || connect_rc(l, rc) == CHAT_OK)
            return true;
        skip_replica(l, pick, rc->gen);
    }
    return false;
}

void chati_rlink_put(chati_rlink *l, chati_rconn *rc, chati_rput how)
{
    redisContext *c = rc->c;
    rc->c = NULL;
    if (c == NULL)
        return;
    if (how != CHATI_RPUT_OK || c->err) {
        redisFree(c);
        redisContext *dead[POOL_IDLE_MAX];
        size_t k = 0;
        if (how == CHATI_RPUT_DEAD_NODE && rc->node == CHATI_RNODE_PRIMARY && l->sentinel) {
            forget_primary(l, rc->gen);
            return;
        }
        if (how == CHATI_RPUT_DEAD_NODE && rc->node != CHATI_RNODE_PRIMARY) {
            skip_replica(l, rc->node, rc->gen);
            return;
        }
        pthread_mutex_lock(&l->lock);
        rnode *n = node_of(l, rc->node);
        if (n->gen == rc->gen)
            k = node_take_idle(n, dead);
        pthread_mutex_unlock(&l->lock);
        free_all(dead, k);
        return;
    }
    pthread_mutex_lock(&l->lock);
    rnode *n = node_of(l, rc->node);
    if (n->gen == rc->gen && n->used && n->n_idle < POOL_IDLE_MAX) {
        n->idle[n->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&l->lock);
    if (c)
        redisFree(c);
}

chat_err chati_rlink_io_fail(const chati_rconn *rc, const char *what, const char *why)
{
    return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "presence: redis %s %s: %s: %s", rc->role,
                      rc->addr, what, why && why[0] ? why : "connection lost");
}

bool chati_rlink_is_sentinel(const chati_rlink *l)
{
    return l->sentinel;
}

/* ---- URL ---- */

static bool query_param(const char *q, const char *name, const char **val, size_t *len)
{
    size_t nl = strlen(name);
    while (q && *q) {
        size_t seg = strcspn(q, "&");
        if (seg > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
            *val = q + nl + 1;
            *len = seg - nl - 1;
            return true;
        }
        q += seg;
        if (*q == '&')
            q++;
    }
    return false;
}

static bool parse_long(const char *s, size_t len, long min, long max, long *out)
{
    char buf[24];
    char *end;
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static chat_err bad_url(const char *what, const char *url)
{
    return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: bad redis %s in \"%s\"", what, url);
}

static chat_err parse_url(chati_rlink *l, const char *url)
{
    const char *rest = chati_url_rest(url);
    size_t hp = strcspn(rest, "/?");
    const char *p = rest + hp;
    if (l->sentinel) {
        for (const char *s = rest; s < rest + hp;) {
            size_t one = strcspn(s, ",/?");
            if (l->n_sentinels == MAX_SENTINELS ||
                !parse_hostport(&l->sentinels[l->n_sentinels++], s, one, 26379))
                return bad_url("Sentinel address", url);
            s += one;
            if (*s == ',')
                s++;
        }
        size_t ml = *p == '/' ? strcspn(p + 1, "/?") : 0;
        if (l->n_sentinels == 0 || ml == 0 || ml >= sizeof l->master)
            return bad_url("Sentinel URL (redis+sentinel://HOST:PORT[,...]/MASTER)", url);
        memcpy(l->master, p + 1, ml);
        l->master[ml] = '\0';
        p += 1 + ml;
    } else if (!parse_hostport(&l->primary, rest, hp, 6379)) {
        return bad_url("address", url);
    }
    l->db = 0;
    if (*p == '/') {
        p++;
        size_t dl = strcspn(p, "?");
        long v;
        if (dl > 0 && !parse_long(p, dl, 0, 1000000, &v))
            return bad_url("database", url);
        if (dl > 0)
            l->db = (int)v;
        p += dl;
    }
    long tmo = DEFAULT_TIMEOUT_MS;
    l->read_replicas = l->sentinel; /* the seed reads presence from replicas */
    if (*p == '?') {
        const char *q = p + 1, *v;
        size_t vl;
        if (query_param(q, "timeout_ms", &v, &vl) && !parse_long(v, vl, 1, 600000, &tmo))
            return bad_url("URL options", url);
        if (!l->sentinel && query_param(q, "replica", &v, &vl) && vl > 0) {
            if (!parse_hostport(&l->replicas[0], v, vl, 6379))
                return bad_url("URL options", url);
            l->read_replicas = true;
        }
        if (l->sentinel && query_param(q, "read", &v, &vl)) {
            if (vl == 7 && strncmp(v, "primary", 7) == 0)
                l->read_replicas = false;
            else if (!(vl == 8 && strncmp(v, "replicas", 8) == 0))
                return bad_url("URL options (read=replicas|primary)", url);
        }
    }
    l->timeout.tv_sec = tmo / 1000;
    l->timeout.tv_usec = (tmo % 1000) * 1000;
    return CHAT_OK;
}

chat_err chati_rlink_open(const char *url, chati_rlink **out)
{
    chati_rlink *l = chat_calloc(1, sizeof *l);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    l->sentinel = strncmp(url, "redis+sentinel:", 15) == 0;
    chat_err rv = parse_url(l, url);
    if (rv != CHAT_OK) {
        chat_free(l);
        return rv;
    }
    if (l->sentinel) {
        l->primary.used = false;
        l->primary.host[0] = '\0';
    }
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return CHAT_OK;
}

void chati_rlink_close(chati_rlink *l)
{
    if (l == NULL)
        return;
    free_all(l->primary.idle, l->primary.n_idle);
    for (size_t i = 0; i < MAX_REPLICAS; i++)
        free_all(l->replicas[i].idle, l->replicas[i].n_idle);
    for (size_t i = 0; i < l->n_sentinels; i++)
        free_all(l->sentinels[i].idle, l->sentinels[i].n_idle);
    pthread_mutex_destroy(&l->lock);
    chat_free(l);
}
