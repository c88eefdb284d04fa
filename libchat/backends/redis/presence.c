/*
 * The Redis presence store:
 *   redis://HOST:PORT[/DB][?replica=HOST:PORT&timeout_ms=N]
 *   redis+sentinel://S1:P1[,S2:P2...]/MASTER[/DB][?timeout_ms=N&read=replicas|primary]
 * (where the servers are, and the connections to them: sentinel.c).
 *
 * Data, all in database DB of the primary:
 *   presence:u:<user>   hash {exp = heartbeat expiry in ms (caller's clock), away = 0|1}
 *   presence:expiry     sorted set, member <user>, score exp: heartbeats not yet
 *                       reported by expired()
 * (The user hashes carry a "u:" so that no user id can collide with the sorted set.)
 *
 * Every write is one Lua script (EVALSHA, falling back to EVAL after a
 * restart flushed the script cache), so the read-modify-write that yields
 * `changed` is atomic across any number of processes, and expired() pops due
 * members in one step: each expiry is reported exactly once.
 *
 * Expiry in Redis itself: a hash that only holds a heartbeat gets PEXPIRE
 * (exp - now) + MARGIN_MS, so Redis drops users who stopped sending
 * heartbeats without anybody cleaning up. The relative form is used on
 * purpose: exp is on the caller's clock (now_ms), which need not be Redis's
 * wall clock, so a PEXPIREAT on it could delete live users at once. A hash with
 * manual away set is kept (PERSIST) because away outlives going offline, as in
 * the "mem" store. get() decides on exp, never on whether the key still exists.
 *
 * Notifications: each effective change is also published on the Redis pub/sub
 * channel "presence" as "<user>:<state>" (state: active, away, offline; split
 * at the last ':'). Going offline is published when expired() reports the
 * user. This is for consumers outside libchat; libchat itself announces
 * presence through its event broker.
 *
 * Replicas: writes and expired() go to the primary; get() reads from the
 * replicas (the one given, or those Sentinel lists, in turn; eventually
 * consistent: a write may take a moment to show) and falls back to the
 * primary while none is reachable (one that fails is skipped for a second).
 * Read-your-writes: a get() that names a user this store wrote in the last
 * RYW_WINDOW_MS reads the primary, so the presence the domain announces right
 * after a heartbeat is the one the heartbeat made, not the replica's stale
 * copy. Recent writes are remembered by user-id hash in a small table; a
 * collision only sends a read to the primary, and losing a slot to a later
 * write is harmless outside the moment right after the write.
 *
 * Connections: one small pool per server. A call takes an idle connection
 * (or connects a new one, with a connect and command timeout) and gives it
 * back afterwards; a connection that saw an I/O error is dropped, the idle
 * ones with it (they are as stale after a restart), and a call whose reused
 * connection failed is retried once on a fresh one. Under Sentinel a call
 * whose primary failed or answered READONLY is retried once after asking the
 * Sentinels where the primary is now. So after Redis restarts, or once
 * Sentinel has promoted a replica, the very next call works; while there is
 * no primary, calls fail within the timeout with CHAT_ERR_SERVICE_UNAVAILABLE
 * and the reason in the detail. Errors Redis itself returns are
 * CHAT_ERR_STORAGE.
 *
 * Thread safety: the pools are mutex-guarded; a connection is used by one
 * thread at a time. No lock is held during I/O.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "backends/builtin.h"
#include "backends/redis/sentinel.h"
#include "core/internal.h"

#define MARGIN_MS 60000
#define RYW_WINDOW_MS 2000
#define RYW_SLOTS 1024
#define EXPIRED_BATCH 500
#define CHANNEL "presence"
#define EXPIRY_KEY "presence:expiry"
#define USER_KEY_PREFIX "presence:u:"

/* ---- scripts ---- */

/* States: 0 offline, 1 active, 2 away (the order of the names below). */
static const char *const state_names = "{'offline','active','away'}";

/* KEYS[1] user hash, KEYS[2] expiry set; ARGV user, now, ttl, margin.
 * Returns 1 when the effective presence changed. */
static const char HEARTBEAT_LUA[] =
    "local names = %s\n"
    "local h = redis.call('HMGET', KEYS[1], 'exp', 'away')\n"
    "local exp = tonumber(h[1]) or 0\n"
    "local away = h[2] == '1'\n"
    "local now = tonumber(ARGV[2])\n"
    "local newexp = now + tonumber(ARGV[3])\n"
    "local before = 0\n"
    "if now < exp then before = away and 2 or 1 end\n"
    "local after = away and 2 or 1\n"
    "redis.call('HSET', KEYS[1], 'exp', newexp)\n"
    "redis.call('ZADD', KEYS[2], newexp, ARGV[1])\n"
    "if away then redis.call('PERSIST', KEYS[1])\n"
    "else redis.call('PEXPIRE', KEYS[1], newexp - now + tonumber(ARGV[4])) end\n"
    "if before ~= after then\n"
    "  redis.call('PUBLISH', '" CHANNEL "', ARGV[1] .. ':' .. names[after + 1])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* KEYS[1] user hash; ARGV user, away (0|1), now, margin. Returns 1 on change. */
static const char SET_AWAY_LUA[] =
    "local names = %s\n"
    "local h = redis.call('HMGET', KEYS[1], 'exp', 'away')\n"
    "local exp = tonumber(h[1]) or 0\n"
    "local was = h[2] == '1'\n"
    "local away = ARGV[2] == '1'\n"
    "local now = tonumber(ARGV[3])\n"
    "local live = now < exp\n"
    "local before, after = 0, 0\n"
    "if live then\n"
    "  before = was and 2 or 1\n"
    "  after = away and 2 or 1\n"
    "end\n"
    "if away then\n"
    "  redis.call('HSET', KEYS[1], 'away', 1)\n"
    "  redis.call('PERSIST', KEYS[1])\n"
    "elseif live then\n"
    "  redis.call('HSET', KEYS[1], 'away', 0)\n"
    "  redis.call('PEXPIRE', KEYS[1], exp - now + tonumber(ARGV[4]))\n"
    "else\n"
    "  redis.call('DEL', KEYS[1])\n" /* offline and not away: nothing to keep */
    "end\n"
    "if before ~= after then\n"
    "  redis.call('PUBLISH', '" CHANNEL "', ARGV[1] .. ':' .. names[after + 1])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* KEYS[1] expiry set; ARGV now, batch. Pops and returns up to batch due users. */
static const char EXPIRED_LUA[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, "
    "tonumber(ARGV[2]))\n"
    "if #due > 0 then\n"
    "  redis.call('ZREM', KEYS[1], unpack(due))\n"
    "  for _, u in ipairs(due) do redis.call('PUBLISH', '" CHANNEL "', u .. ':offline') end\n"
    "end\n"
    "return due\n";

enum { SCRIPT_HEARTBEAT, SCRIPT_SET_AWAY, SCRIPT_EXPIRED, SCRIPT__COUNT };

/* ---- the store's state ---- */

typedef struct rstore {
    chati_rlink *link;          /* where the servers are (sentinel.c) */
    char *scripts[SCRIPT__COUNT];
    char sha[SCRIPT__COUNT][41];
    pthread_mutex_t sha_lock;
    /* Users written lately (see read-your-writes above), under ryw_lock. */
    struct {
        uint64_t hash;
        int64_t until_ms;
    } ryw[RYW_SLOTS];
    pthread_mutex_t ryw_lock;
} rstore;

static void ryw_note(rstore *rs, const char *user_id)
{
    uint64_t h = chati_hash_str(user_id);
    pthread_mutex_lock(&rs->ryw_lock);
    rs->ryw[h % RYW_SLOTS].hash = h;
    rs->ryw[h % RYW_SLOTS].until_ms = chati_mono_ms() + RYW_WINDOW_MS;
    pthread_mutex_unlock(&rs->ryw_lock);
}

/* Whether any of the users was written by this store within the window. */
static bool ryw_recent(rstore *rs, const char *const *user_ids, size_t n)
{
    int64_t now = chati_mono_ms();
    bool recent = false;
    pthread_mutex_lock(&rs->ryw_lock);
    for (size_t i = 0; i < n && !recent; i++) {
        uint64_t h = chati_hash_str(user_ids[i]);
        recent = rs->ryw[h % RYW_SLOTS].hash == h && rs->ryw[h % RYW_SLOTS].until_ms > now;
    }
    pthread_mutex_unlock(&rs->ryw_lock);
    return recent;
}

/* ---- running scripts ---- */

static bool is_unavailable_error(const char *msg)
{
    /* Redis is up but cannot serve: still loading, a replica cut off from its
     * primary, or a primary that was demoted. */
    return strncmp(msg, "LOADING", 7) == 0 || strncmp(msg, "MASTERDOWN", 10) == 0 ||
           strncmp(msg, "READONLY", 8) == 0 || strncmp(msg, "BUSY", 4) == 0;
}

/* Runs script `which` once on c. *reply is NULL on an I/O error (c->err set). */
static redisReply *eval_on(rstore *rs, redisContext *c, int which, int nkeys, int argc,
                           const char **argv)
{
    /* argv[0..1] are reserved for the command and the script / sha. */
    char nk[8];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[2] = nk;
    pthread_mutex_lock(&rs->sha_lock);
    char sha[41];
    memcpy(sha, rs->sha[which], sizeof sha);
    pthread_mutex_unlock(&rs->sha_lock);

    redisReply *r = NULL;
    if (sha[0]) {
        argv[0] = "EVALSHA";
        argv[1] = sha;
        r = redisCommandArgv(c, argc, argv, NULL);
        if (r == NULL || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0)
            return r;
        freeReplyObject(r);
    }
    /* Unknown to this server (first use, restart, SCRIPT FLUSH): load it. */
    const char *load[3] = {"SCRIPT", "LOAD", rs->scripts[which]};
    r = redisCommandArgv(c, 3, load, NULL);
    if (r == NULL)
        return NULL;
    if (r->type == REDIS_REPLY_STRING && r->len == 40) {
        pthread_mutex_lock(&rs->sha_lock);
        memcpy(rs->sha[which], r->str, 40);
        rs->sha[which][40] = '\0';
        pthread_mutex_unlock(&rs->sha_lock);
    }
    freeReplyObject(r);
    argv[0] = "EVAL";
    argv[1] = rs->scripts[which];
    return redisCommandArgv(c, argc, argv, NULL);
}

/* Runs a script on the primary. A call is retried once on a fresh
 * connection when a pooled one turns out dead and, under Sentinel, when the
 * primary failed or refused the write as a replica (READONLY: a failover
 * demoted it): the retry asks the Sentinels where the primary is now. On
 * success *out is the reply (caller frees). */
static chat_err run_script(rstore *rs, int which, const char *what, int nkeys, int argc,
                           const char **argv, redisReply **out)
{
    bool sentinel = chati_rlink_is_sentinel(rs->link);
    for (int attempt = 0;; attempt++) {
        chati_rconn rc;
        chat_err rv = chati_rlink_primary(rs->link, &rc);
        if (rv != CHAT_OK)
            return rv;
        redisReply *r = eval_on(rs, rc.c, which, nkeys, argc, argv);
        if (r == NULL) {
            rv = chati_rlink_io_fail(&rc, what, rc.c->errstr);
            bool reused = rc.reused;
            /* Under Sentinel any failure may be a failover: ask again. */
            chati_rlink_put(rs->link, &rc,
                            reused && !sentinel ? CHATI_RPUT_DEAD_CONN : CHATI_RPUT_DEAD_NODE);
            if (attempt == 0 && (reused || sentinel))
                continue;
            return rv;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            bool demoted = strncmp(r->str, "READONLY", 8) == 0;
            rv = chati_fail(is_unavailable_error(r->str) ? CHAT_ERR_SERVICE_UNAVAILABLE
                                                         : CHAT_ERR_STORAGE,
                            "presence: redis %s %s: %s: %s", rc.role, rc.addr, what, r->str);
            freeReplyObject(r);
            chati_rlink_put(rs->link, &rc, demoted ? CHATI_RPUT_DEAD_NODE : CHATI_RPUT_OK);
            if (demoted && sentinel && attempt == 0)
                continue;
            return rv;
        }
        chati_rlink_put(rs->link, &rc, CHATI_RPUT_OK);
        *out = r;
        return CHAT_OK;
    }
}

/* ---- the store ---- */

static chat_err check_user(const char *user_id)
{
    if (user_id == NULL || user_id[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: empty user id");
    return CHAT_OK;
}

static char *user_key(const char *user_id)
{
    size_t ul = strlen(user_id), pl = sizeof USER_KEY_PREFIX - 1;
    char *k = chat_malloc(pl + ul + 1);
    if (k) {
        memcpy(k, USER_KEY_PREFIX, pl);
        memcpy(k + pl, user_id, ul + 1);
    }
    return k;
}

static char *make_script(const char *fmt)
{
    size_t n = strlen(fmt) + strlen(state_names) + 1;
    char *s = chat_malloc(n);
    if (s) {
        /* The only conversion in fmt is the one %s for the state names. */
        const char *at = strstr(fmt, "%s");
        if (at == NULL) {
            memcpy(s, fmt, strlen(fmt) + 1);
        } else {
            size_t head = (size_t)(at - fmt);
            memcpy(s, fmt, head);
            strcpy(s + head, state_names);
            strcat(s, at + 2);
        }
    }
    return s;
}

static void redis_close(void *impl)
{
    rstore *rs = impl;
    if (rs == NULL)
        return;
    chati_rlink_close(rs->link);
    for (int i = 0; i < SCRIPT__COUNT; i++)
        chat_free(rs->scripts[i]);
    pthread_mutex_destroy(&rs->sha_lock);
    pthread_mutex_destroy(&rs->ryw_lock);
    chat_free(rs);
}

static chat_err redis_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: no redis URL");
    rstore *rs = chat_calloc(1, sizeof *rs);
    if (rs == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    chat_err rv = chati_rlink_open(url, &rs->link);
    if (rv != CHAT_OK) {
        chat_free(rs);
        return rv;
    }
    pthread_mutex_init(&rs->sha_lock, NULL);
    pthread_mutex_init(&rs->ryw_lock, NULL);
    rs->scripts[SCRIPT_HEARTBEAT] = make_script(HEARTBEAT_LUA);
    rs->scripts[SCRIPT_SET_AWAY] = make_script(SET_AWAY_LUA);
    rs->scripts[SCRIPT_EXPIRED] = make_script(EXPIRED_LUA);
    for (int i = 0; i < SCRIPT__COUNT; i++)
        if (rs->scripts[i] == NULL) {
            redis_close(rs);
            return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
        }
    /* Fail early on a wrong address or database (or no Sentinel that knows
     * the master), but keep one connection. */
    chati_rconn rc;
    if ((rv = chati_rlink_primary(rs->link, &rc)) != CHAT_OK) {
        redis_close(rs);
        return rv;
    }
    chati_rlink_put(rs->link, &rc, CHATI_RPUT_OK);
    *impl = rs;
    return CHAT_OK;
}

static chat_err redis_heartbeat(void *impl, const char *user_id, int64_t now_ms, int64_t ttl_ms,
                                bool *changed)
{
    rstore *rs = impl;
    chat_err rv = check_user(user_id);
    if (rv != CHAT_OK)
        return rv;
    if (ttl_ms <= 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: ttl must be positive");
    char *key = user_key(user_id);
    if (key == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    char now[24], ttl[24], margin[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    snprintf(margin, sizeof margin, "%d", MARGIN_MS);
    const char *argv[] = {NULL, NULL, NULL, key, EXPIRY_KEY, user_id, now, ttl, margin};
    redisReply *r;
    rv = run_script(rs, SCRIPT_HEARTBEAT, "heartbeat", 2, (int)CHATI_ARRAY_LEN(argv), argv, &r);
    chat_free(key);
    if (rv != CHAT_OK)
        return rv;
    ryw_note(rs, user_id);
    bool ch = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (changed)
        *changed = ch;
    return CHAT_OK;
}

static chat_err redis_set_away(void *impl, const char *user_id, bool away, int64_t now_ms,
                               bool *changed)
{
    rstore *rs = impl;
    chat_err rv = check_user(user_id);
    if (rv != CHAT_OK)
        return rv;
    char *key = user_key(user_id);
    if (key == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    char now[24], margin[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(margin, sizeof margin, "%d", MARGIN_MS);
    const char *argv[] = {NULL, NULL, NULL, key, user_id, away ? "1" : "0", now, margin};
    redisReply *r;
    rv = run_script(rs, SCRIPT_SET_AWAY, "set_away", 1, (int)CHATI_ARRAY_LEN(argv), argv, &r);
    chat_free(key);
    if (rv != CHAT_OK)
        return rv;
    ryw_note(rs, user_id);
    bool ch = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (changed)
        *changed = ch;
    return CHAT_OK;
}

static chat_presence state_of(const redisReply *r, int64_t now_ms)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING)
        return CHAT_PRESENCE_OFFLINE;
    long long exp = strtoll(r->element[0]->str, NULL, 10);
    if (now_ms >= exp)
        return CHAT_PRESENCE_OFFLINE;
    const redisReply *a = r->element[1];
    bool away = a->type == REDIS_REPLY_STRING && a->len == 1 && a->str[0] == '1';
    return away ? CHAT_PRESENCE_AWAY : CHAT_PRESENCE_ACTIVE;
}

/* One pipelined HMGET per user on the borrowed connection rc. *io_error
 * tells a dead connection from an error reply. */
static chat_err get_on(chati_rconn *rc, const char *const *user_ids, size_t n, int64_t now_ms,
                       chat_presence *out, bool *io_error)
{
    redisContext *c = rc->c;
    chat_err rv = CHAT_OK;
    size_t sent = 0;
    *io_error = false;
    for (; sent < n; sent++) {
        char *key = user_key(user_ids[sent]);
        if (key == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
            break;
        }
        const char *argv[] = {"HMGET", key, "exp", "away"};
        int ok = redisAppendCommandArgv(c, 4, argv, NULL);
        chat_free(key);
        if (ok != REDIS_OK) {
            rv = chati_rlink_io_fail(rc, "get", c->errstr);
            *io_error = true;
            break;
        }
    }
    /* Read every reply that was queued, even after a failure, so the
     * connection stays in step (or is marked broken). */
    for (size_t i = 0; i < sent; i++) {
        void *vr = NULL;
        if (redisGetReply(c, &vr) != REDIS_OK || vr == NULL) {
            if (rv == CHAT_OK)
                rv = chati_rlink_io_fail(rc, "get", c->errstr);
            *io_error = true;
            break;
        }
        redisReply *r = vr;
        if (r->type == REDIS_REPLY_ERROR) {
            if (rv == CHAT_OK)
                rv = chati_fail(is_unavailable_error(r->str) ? CHAT_ERR_SERVICE_UNAVAILABLE
                                                             : CHAT_ERR_STORAGE,
                                "presence: redis %s %s: get: %s", rc->role, rc->addr, r->str);
        } else if (rv == CHAT_OK) {
            out[i] = state_of(r, now_ms);
        }
        freeReplyObject(r);
    }
    return rv;
}

static chat_err redis_get(void *impl, const char *const *user_ids, size_t n, int64_t now_ms,
                          chat_presence *out)
{
    rstore *rs = impl;
    if (n > 0 && (user_ids == NULL || out == NULL))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: no users or no output");
    for (size_t i = 0; i < n; i++)
        if (user_ids[i] == NULL)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: NULL user id");
    if (n == 0)
        return CHAT_OK;
    chati_rconn rc;
    bool io_error;
    chat_err rv;
    /* Replicas in turn (one that fails is skipped for a while), then the
     * primary; a user this store wrote lately is read from the primary. */
    if (!ryw_recent(rs, user_ids, n)) {
        for (int tries = 0; tries < 4 && chati_rlink_replica(rs->link, &rc); tries++) {
            rv = get_on(&rc, user_ids, n, now_ms, out, &io_error);
            if (rv != CHAT_ERR_SERVICE_UNAVAILABLE) {
                chati_rlink_put(rs->link, &rc, CHATI_RPUT_OK);
                return rv;
            }
            /* A pooled connection that died (a restart) gets one more try. */
            chati_rlink_put(rs->link, &rc,
                            io_error && rc.reused ? CHATI_RPUT_DEAD_CONN : CHATI_RPUT_DEAD_NODE);
        }
    }
    bool sentinel = chati_rlink_is_sentinel(rs->link);
    for (int attempt = 0;; attempt++) {
        if ((rv = chati_rlink_primary(rs->link, &rc)) != CHAT_OK)
            return rv;
        rv = get_on(&rc, user_ids, n, now_ms, out, &io_error);
        bool reused = rc.reused;
        chati_rlink_put(rs->link, &rc,
                        !io_error                ? CHATI_RPUT_OK
                        : reused && !sentinel    ? CHATI_RPUT_DEAD_CONN
                                                 : CHATI_RPUT_DEAD_NODE);
        if (io_error && attempt == 0 && (reused || sentinel))
            continue;
        return rv;
    }
}

static chat_err redis_expired(void *impl, int64_t now_ms, chat_list **out)
{
    rstore *rs = impl;
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: no output list");
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    char now[24], batch[16];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(batch, sizeof batch, "%d", EXPIRED_BATCH);
    chat_err rv = CHAT_OK;
    for (;;) {
        const char *argv[] = {NULL, NULL, NULL, EXPIRY_KEY, now, batch};
        redisReply *r;
        rv = run_script(rs, SCRIPT_EXPIRED, "expired", 1, (int)CHATI_ARRAY_LEN(argv), argv, &r);
        if (rv != CHAT_OK)
            break;
        size_t got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < got && rv == CHAT_OK; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                rv = chat_list_push_string(l, r->element[i]->str);
        freeReplyObject(r);
        /* Users already popped but not listed (out of memory) are lost to
         * this caller; Redis has no way to put them back atomically. */
        if (rv != CHAT_OK || got < EXPIRED_BATCH)
            break;
    }
    /* Whatever was popped before a failure is still reported. */
    if (rv != CHAT_OK && chat_list_count(l) == 0) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

const chat_presence_store_ops chati_redis_presence_ops = {
    .version = CHAT_PRESENCE_STORE_V1,
    .scheme = "redis",
    .open = redis_open,
    .close = redis_close,
    .heartbeat = redis_heartbeat,
    .set_away = redis_set_away,
    .get = redis_get,
    .expired = redis_expired,
};
