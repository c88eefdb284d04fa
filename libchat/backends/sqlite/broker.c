/*
 * libchat/backends/sqlite/broker.c - an event broker in one SQLite file
 * ("sqlite:/path/events.db"), shared by the processes of one machine.
 *
 * The file holds a log and the consumer groups' positions:
 *   events(seq, topic, key, data, at)  seq AUTOINCREMENT: never reused, even
 *                                      once retention has emptied the table
 *   groups(name, pos, owner, lease_until)
 * pos is the last seq the group has handled. A group is consumed by one member
 * at a time, across processes, through a lease: owner is a random id per
 * consumer and lease_until a wall-clock deadline (ms), LEASE_MS ahead. Each
 * process renews the leases its consumers hold once a second from its
 * housekeeping thread, so a slow handler keeps its lease while its process
 * lives; a standby member takes over once a lease lapses (its process died)
 * or is released (unsubscribe).
 *
 * Delivery is at-least-once and in seq order per group, so per-key order holds
 * (seq is the commit order: SQLite has one writer at a time). The owner reads
 * up to max_batch events after pos in its topics, calls the handler with no
 * lock held and no read snapshot open, and on CHAT_OK moves pos in its own
 * statement, fenced by owner and the old pos: a member that lost its lease
 * meanwhile changes nothing and becomes a standby, and the batch it handled is
 * handled again by the new owner. A crash between handling and moving pos
 * redelivers too. On error the same batch comes back after a backoff of 20 ms
 * doubling to 1 s. A new group starts at the current max(seq); a group that
 * still exists (another member, or a restart within GROUP_IDLE_MS) resumes at
 * its pos. Events in no consumer's topics only move pos along.
 *
 * Writers queue for one lock per file. So that a busy publisher does not hold
 * up delivery, the owner stores pos without waiting for that lock: when it is
 * taken, the owner goes on to the next batch from its own copy of pos and
 * stores it later, waiting for the lock only once it has lagged for
 * COMMIT_LAG_MS. A crash meanwhile redelivers those batches; flush and
 * unsubscribe see pos stored. Every connection retries a busy lock every 50 us to 1 ms (SQLite's
 * own handler sleeps up to 100 ms at a time) for db.c's 5 s.
 *
 * Finding new events: each consumer thread has its own connection and polls
 * PRAGMA data_version, which changes when another connection commits; this
 * costs no read of the tables. Idle, it sleeps 1 ms growing to 20 ms; a
 * publish from this process wakes its consumers at once.
 *
 * Acks: "durably accepted" is "committed to the file", so the ack follows the
 * commit, on the broker's ack thread (never on the publisher's thread, so a
 * publisher may hold its own locks). A publish that fails returns the error
 * and calls no ack. The publishing connection runs synchronous=FULL, so an
 * acked event survives a power loss although the outbox deletes its copy on
 * the ack ("sqlite:/path?sync=normal" trades that for throughput); the
 * consumers' position updates stay at NORMAL (a lost update redelivers).
 *
 * Retention, at most every RETAIN_EVERY_MS per process: groups whose lease
 * ended more than GROUP_IDLE_MS ago are dropped, then events every remaining
 * group has handled are deleted, RETAIN_CHUNK at a time.
 *
 * Thread safety: every op may be called from any thread, except unsubscribe
 * from inside that consumer's own handler (it waits for the handler), and
 * close, which must not race other calls and frees consumers still
 * subscribed. Locks: broker.mu is never held together with a database lock;
 * neither is held across a handler or an ack callback.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/broker_check.h"
#include "backends/builtin.h"
#include "backends/sqlite/db.h"

#define DEFAULT_BATCH 64
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 1000
#define IDLE_MIN_MS 1
#define IDLE_MAX_MS 20
#define LEASE_MS 5000
#define RENEW_MS 1000
#define GROUP_IDLE_MS (3600 * 1000)
#define RETAIN_EVERY_MS 5000
#define RETAIN_CHUNK 10000
#define RETAIN_CHUNKS 10
#define FLUSH_POLL_MS 2
#define COMMIT_LAG_MS 100

static const chati_migration migrations[] = {
    {1,
     "CREATE TABLE events ("
     "  seq   INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  topic TEXT NOT NULL,"
     "  key   TEXT NOT NULL,"
     "  data  BLOB NOT NULL,"
     "  at    INTEGER NOT NULL" /* publish time, wall clock ms */
     ");"
     "CREATE TABLE groups ("
     "  name        TEXT PRIMARY KEY,"
     "  pos         INTEGER NOT NULL," /* last handled seq */
     "  owner       TEXT,"             /* lease holder, NULL when released */
     "  lease_until INTEGER NOT NULL"  /* wall clock ms */
     ") WITHOUT ROWID;"},
};

#define SQL_MAX_SEQ "SELECT coalesce(max(seq), 0) FROM events"
#define SQL_GROUP_ROW "SELECT pos, owner, lease_until FROM groups WHERE name = ?1"
/* A new group, or one idle for GROUP_IDLE_MS, starts at the end of the log; a
 * live one keeps its place. An expired lease is touched so that retention
 * elsewhere does not drop the group before a member takes it. */
#define SQL_GROUP_JOIN                                                               \
    "INSERT INTO groups (name, pos, owner, lease_until)"                             \
    " VALUES (?1, (" SQL_MAX_SEQ "), NULL, ?2)"                                      \
    " ON CONFLICT (name) DO UPDATE SET"                                              \
    "  pos = CASE WHEN lease_until < ?3 THEN excluded.pos ELSE pos END,"             \
    "  owner = CASE WHEN lease_until < ?3 THEN NULL ELSE owner END,"                 \
    "  lease_until = CASE WHEN lease_until < ?2 THEN ?2 ELSE lease_until END"
#define SQL_ACQUIRE                                                                  \
    "UPDATE groups SET owner = ?2, lease_until = ?3"                                 \
    " WHERE name = ?1 AND (owner IS NULL OR owner = ?2 OR lease_until < ?4)"
#define SQL_RENEW "UPDATE groups SET lease_until = ?3 WHERE name = ?1 AND owner = ?2"
#define SQL_RELEASE                                                                  \
    "UPDATE groups SET owner = NULL, lease_until = ?3 WHERE name = ?1 AND owner = ?2"
#define SQL_ADVANCE                                                                  \
    "UPDATE groups SET pos = ?4 WHERE name = ?1 AND owner = ?2 AND pos = ?3"
#define SQL_INSERT "INSERT INTO events (topic, key, data, at) VALUES (?1, ?2, ?3, ?4)"
#define SQL_POS "SELECT pos FROM groups WHERE name = ?1"

typedef struct sbroker sbroker;
typedef struct consumer consumer;
typedef struct ackrec ackrec;

struct consumer {
    sbroker *b;
    consumer *next;             /* b->consumers (b->mu) */
    char *group;
    char **topics;
    size_t n_topics;
    size_t max_batch;
    chat_broker_handler handler;
    void *arg;
    char owner[64];             /* "<pid>-<random hex>": unique per consumer */
    char *sql_batch;            /* the batch query with one placeholder per topic */
    chati_db *db;               /* this consumer's own connection */
    pthread_t thread;
    bool stop;                  /* b->mu */
    bool owning;                /* believes it holds the lease: renew it (b->mu) */
    bool nowait;                /* the busy handler gives up at once (own thread) */

    /* The current batch, owned by the consumer thread. */
    chati_buf arena;
    size_t *offs;               /* per row: topic, key, data offsets into arena */
    int64_t *seqs;
    chat_broker_msg *msgs;
    size_t cap;
};

struct ackrec {
    ackrec *next;
    chat_broker_ack ack;
    void *arg;
    size_t n;
    int64_t tags[];             /* zeros when the publisher gave no tags */
};

struct sbroker {
    chati_db *db;               /* publishing and flush reads */
    chati_db *hk_db;            /* the housekeeping thread's own */
    char *path;

    pthread_mutex_t mu;
    pthread_cond_t wake_cv;     /* consumers: a local publish, or stop */
    pthread_cond_t progress_cv; /* flush: a consumer moved pos, acks ran */
    pthread_cond_t ack_cv;      /* ack thread: work or stop */
    pthread_cond_t hk_cv;       /* housekeeping: stop */
    atomic_uint_fast64_t pub_epoch; /* bumped (under mu) by every local publish */
    consumer *consumers;
    ackrec *ackq_head, *ackq_tail;
    uint64_t ack_enq, ack_done; /* messages whose acks were queued / have run */
    bool closing;
    bool ack_stop, hk_stop;
    pthread_t ack_thread, hk_thread;
};

/* ---- helpers ---- */

/* One integer from a one-row query. The caller holds d's lock. */
static chat_err query_i64(chati_db *d, const char *sql, int64_t *out)
{
    *out = 0;
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return chati_db_err(d, rc == SQLITE_DONE ? SQLITE_MISUSE : rc, "sqlite broker");
    *out = sqlite3_column_int64(st, 0);
    return CHAT_OK;
}

/* The same, taking the lock. */
static chat_err locked_i64(chati_db *d, const char *sql, int64_t *out)
{
    chati_db_lock(d);
    chat_err rv = query_i64(d, sql, out);
    chati_db_unlock(d);
    return rv;
}

/* Runs one write statement on name/owner and returns how many rows changed
 * (-1 on error). ?3 and ?4 are the given numbers. */
static int group_update(chati_db *d, const char *sql, const char *name, const char *owner,
                        int64_t p3, int64_t p4)
{
    chati_db_lock(d);
    int changed = -1;
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st != NULL) {
        chati_db_bind_str(st, 1, name, false);
        chati_db_bind_str(st, 2, owner, false);
        sqlite3_bind_int64(st, 3, p3);
        if (sqlite3_bind_parameter_count(st) >= 4)
            sqlite3_bind_int64(st, 4, p4);
        if (chati_db_step_done(d, st, "sqlite broker") == CHAT_OK)
            changed = sqlite3_changes(d->db);
    }
    chati_db_unlock(d);
    return changed;
}

static bool wants_stop(consumer *c)
{
    pthread_mutex_lock(&c->b->mu);
    bool s = c->stop;
    pthread_mutex_unlock(&c->b->mu);
    return s;
}

static void set_owning(consumer *c, bool owning)
{
    pthread_mutex_lock(&c->b->mu);
    c->owning = owning;
    pthread_mutex_unlock(&c->b->mu);
}

/* Sleeps up to ms, or less when this process publishes or c is stopped. */
static void consumer_nap(consumer *c, uint64_t seen_epoch, int ms)
{
    sbroker *b = c->b;
    int64_t until = chati_mono_ms() + ms;
    pthread_mutex_lock(&b->mu);
    while (!c->stop && atomic_load(&b->pub_epoch) == seen_epoch && chati_mono_ms() < until)
        chati_cond_wait_until(&b->wake_cv, &b->mu, until);
    pthread_mutex_unlock(&b->mu);
}

/* ---- the consumer thread ---- */

static bool batch_reserve(consumer *c, size_t n)
{
    if (n <= c->cap)
        return true;
    size_t *offs = chat_realloc(c->offs, 3 * n * sizeof *offs);
    if (offs == NULL)
        return false;
    c->offs = offs;
    int64_t *seqs = chat_realloc(c->seqs, n * sizeof *seqs);
    if (seqs == NULL)
        return false;
    c->seqs = seqs;
    chat_broker_msg *msgs = chat_realloc(c->msgs, n * sizeof *msgs);
    if (msgs == NULL)
        return false;
    c->msgs = msgs;
    c->cap = n;
    return true;
}

static bool arena_add(chati_buf *a, const void *p, size_t len, bool nul, size_t *off)
{
    *off = a->len;
    if (len > 0 && chati_buf_append(a, p, len) != CHAT_OK)
        return false;
    return !nul || chati_buf_append(a, "", 1) == CHAT_OK;
}

/* Reads up to limit events in (pos, smax] of c's topics into c's batch. The
 * rows are copied, so no statement stays open afterwards. */
static chat_err read_batch(consumer *c, int64_t pos, int64_t smax, size_t limit, size_t *n_out)
{
    *n_out = 0;
    if (!batch_reserve(c, limit))
        return chati_fail(CHAT_ERR_NOMEM, "sqlite broker: batch");
    c->arena.len = 0;
    chat_err rv = CHAT_OK;
    size_t n = 0;
    chati_db_lock(c->db);
    sqlite3_stmt *st = chati_db_stmt(c->db, c->sql_batch);
    if (st == NULL) {
        rv = CHAT_ERR_STORAGE;
        goto out;
    }
    sqlite3_bind_int64(st, 1, pos);
    sqlite3_bind_int64(st, 2, smax);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    for (size_t i = 0; i < c->n_topics; i++)
        chati_db_bind_str(st, (int)i + 4, c->topics[i], false);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
        c->seqs[n] = sqlite3_column_int64(st, 0);
        const void *topic = sqlite3_column_text(st, 1);
        size_t tlen = (size_t)sqlite3_column_bytes(st, 1);
        const void *key = sqlite3_column_text(st, 2);
        size_t klen = (size_t)sqlite3_column_bytes(st, 2);
        const void *data = sqlite3_column_blob(st, 3);
        size_t dlen = (size_t)sqlite3_column_bytes(st, 3);
        c->msgs[n].len = dlen;
        if (!arena_add(&c->arena, topic, tlen, true, &c->offs[3 * n]) ||
            !arena_add(&c->arena, key, klen, true, &c->offs[3 * n + 1]) ||
            !arena_add(&c->arena, data, dlen, false, &c->offs[3 * n + 2])) {
            rv = chati_fail(CHAT_ERR_NOMEM, "sqlite broker: batch");
            goto out;
        }
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        rv = chati_db_err(c->db, rc, "sqlite broker: reading events");
out:
    chati_db_unlock(c->db);
    if (rv != CHAT_OK)
        return rv;
    /* The arena may have moved while it grew: point into it only now. */
    for (size_t i = 0; i < n; i++) {
        c->msgs[i].topic = c->arena.data + c->offs[3 * i];
        c->msgs[i].key = c->arena.data + c->offs[3 * i + 1];
        c->msgs[i].data = c->msgs[i].len ? c->arena.data + c->offs[3 * i + 2] : "";
    }
    *n_out = n;
    return CHAT_OK;
}

typedef struct grouprow {
    bool found;
    int64_t pos;
    bool mine;
    bool free;                  /* released or lapsed */
    int64_t lease_until;
} grouprow;

static chat_err read_group(consumer *c, int64_t now, grouprow *g)
{
    memset(g, 0, sizeof *g);
    chat_err rv = CHAT_OK;
    chati_db_lock(c->db);
    sqlite3_stmt *st = chati_db_stmt(c->db, SQL_GROUP_ROW);
    if (st == NULL) {
        rv = CHAT_ERR_STORAGE;
    } else {
        chati_db_bind_str(st, 1, c->group, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            g->found = true;
            g->pos = sqlite3_column_int64(st, 0);
            const char *owner = (const char *)sqlite3_column_text(st, 1);
            g->lease_until = sqlite3_column_int64(st, 2);
            g->mine = owner != NULL && strcmp(owner, c->owner) == 0;
            g->free = owner == NULL || g->lease_until < now;
        } else if (rc != SQLITE_DONE) {
            rv = chati_db_err(c->db, rc, "sqlite broker: reading the group");
        }
    }
    chati_db_unlock(c->db);
    return rv;
}

static chat_err join_group(chati_db *d, const char *group)
{
    int64_t now = chati_now_ms();
    chat_err rv = chati_db_begin(d);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_stmt *st = chati_db_stmt(d, SQL_GROUP_JOIN);
    if (st == NULL) {
        chati_db_rollback(d);
        return CHAT_ERR_STORAGE;
    }
    chati_db_bind_str(st, 1, group, false);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now - GROUP_IDLE_MS);
    rv = chati_db_step_done(d, st, "sqlite broker: joining the group");
    if (rv != CHAT_OK) {
        chati_db_rollback(d);
        return rv;
    }
    return chati_db_commit(d);
}

static void progress(sbroker *b)
{
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->progress_cv);
    pthread_mutex_unlock(&b->mu);
}

/* Records pos = to in the group, fenced by our lease and the pos we last
 * stored (from). Without wait, gives up at once when another connection holds
 * the write lock. 1: stored; 0: the lease is gone; -1: not now. */
static int store_pos(consumer *c, int64_t from, int64_t to, bool wait)
{
    c->nowait = !wait;
    int changed = group_update(c->db, SQL_ADVANCE, c->group, c->owner, from, to);
    c->nowait = false;
    return changed < 0 ? -1 : changed > 0;
}

static int grow(int idle_ms)
{
    return idle_ms * 2 > IDLE_MAX_MS ? IDLE_MAX_MS : idle_ms * 2;
}

static void *consumer_main(void *arg)
{
    chati_thread_name("broker-consume");
    consumer *c = arg;
    sbroker *b = c->b;
    int idle_ms = IDLE_MIN_MS;
    int backoff_ms = 0;
    size_t retry_n = 0;         /* size of the failed batch to deliver again */
    int64_t last_dv = -1;
    int64_t standby_until = 0;  /* when the lease we saw held by another lapses */
    bool owner = false;
    int64_t pos = 0;            /* handled through (while owner) */
    int64_t stored = 0;         /* pos as the file has it */
    int64_t stored_at = 0;      /* monotonic ms when stored last caught up with pos */
    bool force = true;          /* look even when data_version did not change */

    while (!wants_stop(c)) {
        uint64_t epoch = atomic_load(&b->pub_epoch);
        int64_t dv;
        bool ok = locked_i64(c->db, "PRAGMA data_version", &dv) == CHAT_OK;
        int64_t now = chati_now_ms();
        if (ok && !force && dv == last_dv && (owner ? pos == stored : now < standby_until)) {
            /* Nobody committed anything since we last looked. */
            consumer_nap(c, epoch, idle_ms);
            idle_ms = grow(idle_ms);
            continue;
        }
        last_dv = ok ? dv : -1;
        force = false;

        grouprow g;
        if (read_group(c, now, &g) != CHAT_OK) {
            consumer_nap(c, epoch, BACKOFF_MIN_MS);
            force = true;
            continue;
        }
        if (!g.found) {
            /* Dropped as idle by another process's retention: join afresh. */
            (void)join_group(c->db, c->group);
            force = true;
            continue;
        }
        if (!g.mine) {
            if (owner)
                set_owning(c, false);
            owner = false;
            retry_n = 0; /* the new owner starts from the group's pos */
            backoff_ms = 0;
            if (g.free) {
                int64_t t = chati_now_ms();
                if (group_update(c->db, SQL_ACQUIRE, c->group, c->owner, t + LEASE_MS, t) == 1) {
                    set_owning(c, true);
                    force = true; /* the next look takes pos from the file */
                    continue;
                }
            }
            standby_until = g.lease_until + 1;
            consumer_nap(c, epoch, g.free ? BACKOFF_MIN_MS : idle_ms);
            idle_ms = grow(idle_ms);
            continue;
        }
        if (!owner || g.pos != stored) {
            /* Newly ours (or moved by someone else): start where the file says. */
            if (!owner)
                set_owning(c, true);
            owner = true;
            pos = stored = g.pos;
            stored_at = chati_mono_ms();
            retry_n = 0;
        }

        int64_t smax;
        if (locked_i64(c->db, SQL_MAX_SEQ, &smax) != CHAT_OK) {
            consumer_nap(c, epoch, BACKOFF_MIN_MS);
            force = true;
            continue;
        }
        if (smax <= pos) {
            if (pos > stored) {
                /* Caught up with pos not stored yet: try again shortly (new
                 * events go first), waiting for the lock after COMMIT_LAG_MS. */
                bool wait = chati_mono_ms() - stored_at >= COMMIT_LAG_MS;
                int r = store_pos(c, stored, pos, wait);
                if (r == 1) {
                    stored = pos;
                    stored_at = chati_mono_ms();
                    progress(b);
                } else if (r == 0) {
                    owner = false;
                    set_owning(c, false);
                    force = true;
                } else {
                    consumer_nap(c, epoch, wait ? BACKOFF_MIN_MS : IDLE_MIN_MS);
                }
                continue;
            }
            consumer_nap(c, epoch, idle_ms);
            idle_ms = grow(idle_ms);
            continue;
        }
        idle_ms = IDLE_MIN_MS;

        size_t limit = retry_n ? retry_n : c->max_batch;
        size_t n = 0;
        if (read_batch(c, pos, smax, limit, &n) != CHAT_OK) {
            consumer_nap(c, epoch, BACKOFF_MIN_MS);
            force = true;
            continue;
        }
        /* A short batch holds every event of ours up to smax. */
        int64_t new_pos = n == limit ? c->seqs[n - 1] : smax;
        if (n > 0) {
            chat_err rv = c->handler(c->arg, c->msgs, n);
            if (rv != CHAT_OK) {
                retry_n = n;
                backoff_ms = backoff_ms ? backoff_ms * 2 : BACKOFF_MIN_MS;
                if (backoff_ms > BACKOFF_MAX_MS)
                    backoff_ms = BACKOFF_MAX_MS;
                int64_t until = chati_mono_ms() + backoff_ms;
                pthread_mutex_lock(&b->mu);
                while (!c->stop && chati_mono_ms() < until)
                    chati_cond_wait_until(&b->wake_cv, &b->mu, until);
                pthread_mutex_unlock(&b->mu);
                force = true;
                continue;
            }
            retry_n = 0;
            backoff_ms = 0;
        }
        pos = new_pos;
        /* Storing pos must not hold up delivery behind a busy publisher (see
         * the top of the file). */
        int r = store_pos(c, stored, pos, chati_mono_ms() - stored_at >= COMMIT_LAG_MS);
        if (r == 1) {
            stored = pos;
            stored_at = chati_mono_ms();
            progress(b);
        } else if (r == 0) {
            /* The lease went to another member, which handles these again. */
            owner = false;
            set_owning(c, false);
        }
        force = true;
    }

    if (owner) {
        /* Let a standby take over now rather than when the lease lapses; the
         * release time keeps the group young for retention. */
        if (pos > stored)
            (void)store_pos(c, stored, pos, true);
        set_owning(c, false);
        (void)group_update(c->db, SQL_RELEASE, c->group, c->owner, chati_now_ms(), 0);
    }
    return NULL;
}

/* ---- the ack thread ---- */

static void *ack_main(void *arg)
{
    chati_thread_name("broker-ack");
    sbroker *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->ackq_head == NULL && !b->ack_stop)
            pthread_cond_wait(&b->ack_cv, &b->mu);
        if (b->ackq_head == NULL)
            break;
        ackrec *list = b->ackq_head;
        b->ackq_head = b->ackq_tail = NULL;
        pthread_mutex_unlock(&b->mu);

        uint64_t n = 0;
        while (list) {
            ackrec *next = list->next;
            for (size_t i = 0; i < list->n; i++)
                list->ack(list->arg, list->tags[i], CHAT_OK);
            n += list->n;
            chat_free(list);
            list = next;
        }

        pthread_mutex_lock(&b->mu);
        b->ack_done += n;
        pthread_cond_broadcast(&b->progress_cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- housekeeping: leases and retention ---- */

typedef struct lease_ref {
    consumer *c;
    char owner[64];
    char *group;
} lease_ref;

static void renew_leases(sbroker *b)
{
    lease_ref *refs = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&b->mu);
    for (consumer *c = b->consumers; c; c = c->next)
        cap += c->owning;
    if (cap > 0)
        refs = chat_calloc(cap, sizeof *refs);
    for (consumer *c = b->consumers; c && refs; c = c->next) {
        if (!c->owning)
            continue;
        refs[n].c = c;
        memcpy(refs[n].owner, c->owner, sizeof refs[n].owner);
        refs[n].group = chat_strdup(c->group);
        if (refs[n].group != NULL)
            n++;
    }
    pthread_mutex_unlock(&b->mu);

    for (size_t i = 0; i < n; i++) {
        int changed = group_update(b->hk_db, SQL_RENEW, refs[i].group, refs[i].owner,
                                   chati_now_ms() + LEASE_MS, 0);
        if (changed == 0) {
            /* Lost (it lapsed, and a standby took it): stop renewing. The
             * consumer finds out by itself when it reads the group. */
            pthread_mutex_lock(&b->mu);
            for (consumer *c = b->consumers; c; c = c->next)
                if (c == refs[i].c && strcmp(c->owner, refs[i].owner) == 0)
                    c->owning = false;
            pthread_mutex_unlock(&b->mu);
        }
        chat_free(refs[i].group);
    }
    chat_free(refs);
}

/* Deletes one chunk of events every group has handled. Returns whether a full
 * chunk went (more may be left). */
static bool retain_step(sbroker *b)
{
    chati_db *d = b->hk_db;
    int64_t now = chati_now_ms();
    bool more = false;
    if (chati_db_begin(d) != CHAT_OK)
        return false;
    sqlite3_stmt *st = chati_db_stmt(d, "DELETE FROM groups WHERE lease_until < ?1");
    if (st == NULL)
        goto fail;
    sqlite3_bind_int64(st, 1, now - GROUP_IDLE_MS);
    if (chati_db_step_done(d, st, "sqlite broker: retention") != CHAT_OK)
        goto fail;
    /* With no group left, nobody can ask for what is in the log. */
    int64_t groups, limit, lowest;
    if (query_i64(d, "SELECT count(*) FROM groups", &groups) != CHAT_OK ||
        query_i64(d, groups > 0 ? "SELECT min(pos) FROM groups" : SQL_MAX_SEQ, &limit) !=
            CHAT_OK ||
        query_i64(d, "SELECT coalesce(min(seq), 0) FROM events", &lowest) != CHAT_OK)
        goto fail;
    if (lowest > 0 && limit >= lowest) {
        if (limit >= lowest + RETAIN_CHUNK) {
            limit = lowest + RETAIN_CHUNK - 1;
            more = true;
        }
        st = chati_db_stmt(d, "DELETE FROM events WHERE seq <= ?1");
        if (st == NULL)
            goto fail;
        sqlite3_bind_int64(st, 1, limit);
        if (chati_db_step_done(d, st, "sqlite broker: retention") != CHAT_OK)
            goto fail;
    }
    return chati_db_commit(d) == CHAT_OK && more;
fail:
    chati_db_rollback(d);
    return false;
}

static void *hk_main(void *arg)
{
    chati_thread_name("broker-hk");
    sbroker *b = arg;
    int64_t next_renew = chati_mono_ms() + RENEW_MS;
    int64_t next_retain = chati_mono_ms() + RETAIN_EVERY_MS;
    pthread_mutex_lock(&b->mu);
    while (!b->hk_stop) {
        int64_t now = chati_mono_ms();
        int64_t next = next_renew < next_retain ? next_renew : next_retain;
        if (now < next) {
            chati_cond_wait_until(&b->hk_cv, &b->mu, next);
            continue;
        }
        pthread_mutex_unlock(&b->mu);
        if (now >= next_renew) {
            renew_leases(b);
            next_renew = now + RENEW_MS;
        }
        if (now >= next_retain) {
            for (int i = 0; i < RETAIN_CHUNKS && retain_step(b); i++)
                ;
            next_retain = chati_mono_ms() + RETAIN_EVERY_MS;
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- ops ---- */

/* SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries: a
 * writer waiting behind a busy publisher would fall far behind it. Retry
 * often instead, for as long as db.c's 5 s busy timeout. */
static int busy_retry(void *arg, int count)
{
    const consumer *c = arg;
    if (c != NULL && c->nowait)
        return 0;
    int64_t us = count < 20 ? 50 : count < 200 ? 200 : 1000;
    if (count >= 20 + 180 + 4800) /* about 5 s */
        return 0;
    struct timespec ts = {0, (long)us * 1000L};
    nanosleep(&ts, NULL);
    return 1;
}

static chat_err open_db(const char *path, consumer *c, chati_db **out)
{
    chati_db *d = NULL;
    chat_err rv = chati_db_open(path, false, migrations, CHATI_ARRAY_LEN(migrations), &d);
    if (rv == CHAT_OK)
        rv = chati_db_require_table(d, "events");
    if (rv != CHAT_OK) {
        chati_db_close(d);
        return rv;
    }
    sqlite3_busy_handler(d->db, busy_retry, c);
    *out = d;
    return CHAT_OK;
}

static chat_err sq_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    const char *rest = url != NULL ? chati_url_rest(url) : NULL;
    if (rest == NULL || rest[0] == '\0' || rest[0] == '?')
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "sqlite broker: the URL names no file");
    /* Options follow the path: "?sync=full" (default) or "?sync=normal". */
    const char *sync = "FULL";
    const char *q = strchr(rest, '?');
    if (q != NULL) {
        if (strcmp(q, "?sync=normal") == 0)
            sync = "NORMAL";
        else if (strcmp(q, "?sync=full") != 0)
            return chati_fail(CHAT_ERR_INVALID_CONFIG,
                              "sqlite broker: unknown URL option \"%s\" (sync=full|normal)",
                              q + 1);
    }
    size_t plen = q != NULL ? (size_t)(q - rest) : strlen(rest);
    if (plen == 8 && strncmp(rest, ":memory:", 8) == 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG,
                          "sqlite broker: needs a file (:memory: is private to a connection)");
    sbroker *b = chat_calloc(1, sizeof *b);
    if (b == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "sqlite broker: out of memory");
    atomic_init(&b->pub_epoch, 0);
    if ((b->path = chat_malloc(plen + 1)) == NULL) {
        chat_free(b);
        return chati_fail(CHAT_ERR_NOMEM, "sqlite broker: out of memory");
    }
    memcpy(b->path, rest, plen);
    b->path[plen] = '\0';
    chat_err rv = open_db(b->path, NULL, &b->db);
    if (rv == CHAT_OK)
        rv = open_db(b->path, NULL, &b->hk_db);
    if (rv == CHAT_OK)
        rv = chati_db_exec(b->db, strcmp(sync, "FULL") == 0 ? "PRAGMA synchronous = FULL"
                                                             : "PRAGMA synchronous = NORMAL");
    if (rv != CHAT_OK) {
        chati_db_close(b->hk_db);
        chati_db_close(b->db);
        chat_free(b->path);
        chat_free(b);
        return rv;
    }
    pthread_mutex_init(&b->mu, NULL);
    chati_cond_init(&b->wake_cv);
    chati_cond_init(&b->progress_cv);
    chati_cond_init(&b->ack_cv);
    chati_cond_init(&b->hk_cv);
    bool ack_started = pthread_create(&b->ack_thread, NULL, ack_main, b) == 0;
    if (!ack_started || pthread_create(&b->hk_thread, NULL, hk_main, b) != 0) {
        if (ack_started) {
            pthread_mutex_lock(&b->mu);
            b->ack_stop = true;
            pthread_cond_signal(&b->ack_cv);
            pthread_mutex_unlock(&b->mu);
            pthread_join(b->ack_thread, NULL);
        }
        pthread_cond_destroy(&b->hk_cv);
        pthread_cond_destroy(&b->ack_cv);
        pthread_cond_destroy(&b->progress_cv);
        pthread_cond_destroy(&b->wake_cv);
        pthread_mutex_destroy(&b->mu);
        chati_db_close(b->hk_db);
        chati_db_close(b->db);
        chat_free(b->path);
        chat_free(b);
        return chati_fail(CHAT_ERR_INTERNAL, "sqlite broker: cannot start threads");
    }
    *impl = b;
    return CHAT_OK;
}

static void consumer_free(consumer *c)
{
    if (c == NULL)
        return;
    chati_db_close(c->db);
    for (size_t i = 0; i < c->n_topics; i++)
        chat_free(c->topics[i]);
    chat_free(c->topics);
    chat_free(c->group);
    chat_free(c->sql_batch);
    chati_buf_free(&c->arena);
    chat_free(c->offs);
    chat_free(c->seqs);
    chat_free(c->msgs);
    chat_free(c);
}

/* Stops c's thread (after its running handler) and frees c. c is no longer in
 * the broker's list. */
static void consumer_stop(consumer *c)
{
    sbroker *b = c->b;
    pthread_mutex_lock(&b->mu);
    c->stop = true;
    pthread_cond_broadcast(&b->wake_cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(c->thread, NULL);
    consumer_free(c);
}

static void sq_close(void *impl)
{
    sbroker *b = impl;
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    b->closing = true;
    consumer *list = b->consumers;
    b->consumers = NULL;
    /* Ask every consumer at once, so that they finish their handlers together. */
    for (consumer *c = list; c; c = c->next)
        c->stop = true;
    pthread_cond_broadcast(&b->wake_cv);
    b->hk_stop = true;
    pthread_cond_signal(&b->hk_cv);
    pthread_mutex_unlock(&b->mu);

    while (list) {
        consumer *next = list->next;
        consumer_stop(list);
        list = next;
    }
    pthread_join(b->hk_thread, NULL);

    /* Everything queued was committed: the ack thread acks it all. */
    pthread_mutex_lock(&b->mu);
    b->ack_stop = true;
    pthread_cond_signal(&b->ack_cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->ack_thread, NULL);

    pthread_cond_destroy(&b->hk_cv);
    pthread_cond_destroy(&b->ack_cv);
    pthread_cond_destroy(&b->progress_cv);
    pthread_cond_destroy(&b->wake_cv);
    pthread_mutex_destroy(&b->mu);
    chati_db_close(b->hk_db);
    chati_db_close(b->db);
    chat_free(b->path);
    chat_free(b);
}

static chat_err sq_publish(void *impl, const chat_broker_msg *msgs, size_t n,
                           const int64_t *tags, chat_broker_ack ack, void *ack_arg)
{
    sbroker *b = impl;
    if (n == 0)
        return CHAT_OK;
    chat_err bad = chati_broker_check_msgs(msgs, n, "sqlite broker", (size_t)INT32_MAX);
    if (bad != CHAT_OK)
        return bad;
    ackrec *rec = NULL;
    if (ack != NULL) {
        rec = chat_malloc(sizeof *rec + n * sizeof rec->tags[0]);
        if (rec == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "sqlite broker: out of memory");
        rec->next = NULL;
        rec->ack = ack;
        rec->arg = ack_arg;
        rec->n = n;
        for (size_t i = 0; i < n; i++)
            rec->tags[i] = tags ? tags[i] : 0;
    }

    pthread_mutex_lock(&b->mu);
    bool closing = b->closing;
    pthread_mutex_unlock(&b->mu);
    if (closing) {
        chat_free(rec);
        return chati_fail(CHAT_ERR_CLOSED, "sqlite broker: closing");
    }

    chati_db *d = b->db;
    chat_err rv = chati_db_begin(d);
    if (rv != CHAT_OK) {
        chat_free(rec);
        return rv;
    }
    int64_t at = chati_now_ms();
    for (size_t i = 0; i < n && rv == CHAT_OK; i++) {
        sqlite3_stmt *st = chati_db_stmt(d, SQL_INSERT);
        if (st == NULL) {
            rv = CHAT_ERR_STORAGE;
            break;
        }
        chati_db_bind_str(st, 1, msgs[i].topic, false);
        chati_db_bind_str(st, 2, msgs[i].key ? msgs[i].key : "", false);
        /* A NULL pointer would bind SQL NULL; "" binds an empty blob. */
        sqlite3_bind_blob(st, 3, msgs[i].len ? msgs[i].data : "", (int)msgs[i].len,
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, at);
        rv = chati_db_step_done(d, st, "sqlite broker: publishing");
    }
    if (rv != CHAT_OK) {
        chati_db_rollback(d);
        chat_free(rec);
        return rv;
    }
    rv = chati_db_commit(d);
    if (rv != CHAT_OK) {
        chat_free(rec);
        return rv;
    }

    pthread_mutex_lock(&b->mu);
    atomic_fetch_add(&b->pub_epoch, 1);
    pthread_cond_broadcast(&b->wake_cv);
    if (rec != NULL) {
        if (b->ackq_tail)
            b->ackq_tail->next = rec;
        else
            b->ackq_head = rec;
        b->ackq_tail = rec;
        b->ack_enq += n;
        pthread_cond_signal(&b->ack_cv);
    }
    pthread_mutex_unlock(&b->mu);
    return CHAT_OK;
}

static chat_err build_batch_sql(consumer *c)
{
    chati_buf s = {0};
    chat_err rv = chati_buf_puts(&s, "SELECT seq, topic, key, data FROM events"
                                     " WHERE seq > ?1 AND seq <= ?2 AND topic IN (");
    for (size_t i = 0; rv == CHAT_OK && i < c->n_topics; i++)
        rv = chati_buf_printf(&s, "%s?%zu", i ? ", " : "", i + 4);
    if (rv == CHAT_OK)
        rv = chati_buf_puts(&s, ") ORDER BY seq LIMIT ?3");
    if (rv != CHAT_OK) {
        chati_buf_free(&s);
        return rv;
    }
    c->sql_batch = chati_buf_steal(&s);
    return CHAT_OK;
}

static chat_err sq_subscribe(void *impl, const char *group, const char *const *topics,
                             size_t n_topics, size_t max_batch, chat_broker_handler handler,
                             void *arg, chat_broker_consumer **out)
{
    sbroker *b = impl;
    if (group == NULL || group[0] == '\0' || topics == NULL || n_topics == 0 ||
        handler == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "sqlite broker: bad subscription");
    /* SQLite's default limit on host parameters is 32766. */
    if (n_topics > 30000)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "sqlite broker: too many topics");
    for (size_t i = 0; i < n_topics; i++)
        if (topics[i] == NULL || topics[i][0] == '\0')
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "sqlite broker: empty topic");

    consumer *c = chat_calloc(1, sizeof *c);
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "sqlite broker: out of memory");
    c->b = b;
    c->handler = handler;
    c->arg = arg;
    c->max_batch = max_batch ? max_batch : DEFAULT_BATCH;
    chat_err rv = CHAT_OK;
    c->group = chat_strdup(group);
    c->topics = chat_calloc(n_topics, sizeof *c->topics);
    if (c->group == NULL || c->topics == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "sqlite broker: out of memory");
    for (size_t i = 0; rv == CHAT_OK && i < n_topics; i++) {
        if ((c->topics[i] = chat_strdup(topics[i])) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "sqlite broker: out of memory");
        c->n_topics = i + 1;
    }
    if (rv == CHAT_OK)
        rv = build_batch_sql(c);
    if (rv == CHAT_OK) {
        unsigned char rnd[12];
        char hex[2 * sizeof rnd + 1];
        rv = chati_random(rnd, sizeof rnd);
        chati_hex_encode(rnd, sizeof rnd, hex);
        snprintf(c->owner, sizeof c->owner, "%ld-%s", (long)getpid(), hex);
    }
    if (rv == CHAT_OK)
        rv = open_db(b->path, c, &c->db);
    /* Joined before returning, so everything published from now on is seen. */
    if (rv == CHAT_OK)
        rv = join_group(c->db, group);
    if (rv != CHAT_OK) {
        consumer_free(c);
        return rv;
    }

    pthread_mutex_lock(&b->mu);
    if (b->closing) {
        pthread_mutex_unlock(&b->mu);
        consumer_free(c);
        return chati_fail(CHAT_ERR_CLOSED, "sqlite broker: closing");
    }
    if (pthread_create(&c->thread, NULL, consumer_main, c) != 0) {
        pthread_mutex_unlock(&b->mu);
        consumer_free(c);
        return chati_fail(CHAT_ERR_INTERNAL, "sqlite broker: cannot start a consumer");
    }
    c->next = b->consumers;
    b->consumers = c;
    pthread_mutex_unlock(&b->mu);
    *out = (chat_broker_consumer *)c;
    return CHAT_OK;
}

/* Must not be called from the consumer's own handler (it waits for it). */
static void sq_unsubscribe(void *impl, chat_broker_consumer *cons)
{
    sbroker *b = impl;
    consumer *c = (consumer *)cons;
    if (c == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    for (consumer **pp = &b->consumers; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&b->mu);
    consumer_stop(c);
    progress(b); /* a flush may have been waiting for this consumer's group */
}

/* Whether group's pos has reached target (a group that no longer exists has
 * nothing to wait for). */
static chat_err group_reached(sbroker *b, const char *group, int64_t target, bool *done)
{
    chati_db *d = b->db;
    chat_err rv = CHAT_OK;
    chati_db_lock(d);
    sqlite3_stmt *st = chati_db_stmt(d, SQL_POS);
    if (st == NULL) {
        rv = CHAT_ERR_STORAGE;
    } else {
        chati_db_bind_str(st, 1, group, false);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *done = sqlite3_column_int64(st, 0) >= target;
        else if (rc == SQLITE_DONE)
            *done = true;
        else
            rv = chati_db_err(d, rc, "sqlite broker: flush");
    }
    chati_db_unlock(d);
    return rv;
}

/* Whether every local consumer's group has reached target. */
static chat_err groups_reached(sbroker *b, int64_t target, bool *done)
{
    char **names = NULL;
    size_t n = 0;
    chat_err rv = CHAT_OK;
    pthread_mutex_lock(&b->mu);
    size_t cap = 0;
    for (consumer *c = b->consumers; c; c = c->next)
        cap++;
    if (cap > 0 && (names = chat_calloc(cap, sizeof *names)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "sqlite broker: flush");
    for (consumer *c = b->consumers; c && rv == CHAT_OK; c = c->next) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(names[i], c->group) == 0;
        if (dup)
            continue;
        if ((names[n] = chat_strdup(c->group)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "sqlite broker: flush");
        else
            n++;
    }
    pthread_mutex_unlock(&b->mu);
    *done = true;
    for (size_t i = 0; i < n && rv == CHAT_OK && *done; i++)
        rv = group_reached(b, names[i], target, done);
    for (size_t i = 0; i < n; i++)
        chat_free(names[i]);
    chat_free(names);
    return rv;
}

static chat_err sq_flush(void *impl, int timeout_ms)
{
    sbroker *b = impl;
    int64_t deadline = timeout_ms >= 0 ? chati_mono_ms() + timeout_ms : INT64_MAX;

    pthread_mutex_lock(&b->mu);
    uint64_t ack_target = b->ack_enq;
    pthread_mutex_unlock(&b->mu);
    int64_t target;
    chat_err rv = locked_i64(b->db, SQL_MAX_SEQ, &target);
    if (rv != CHAT_OK)
        return rv;

    for (;;) {
        bool done = false;
        rv = groups_reached(b, target, &done);
        if (rv != CHAT_OK)
            return rv;
        pthread_mutex_lock(&b->mu);
        done = done && b->ack_done >= ack_target;
        int64_t now = chati_mono_ms();
        if (!done && now < deadline) {
            /* Local progress wakes us; other processes' only shows by polling. */
            int64_t until = now + FLUSH_POLL_MS < deadline ? now + FLUSH_POLL_MS : deadline;
            chati_cond_wait_until(&b->progress_cv, &b->mu, until);
        }
        pthread_mutex_unlock(&b->mu);
        if (done)
            return CHAT_OK;
        if (now >= deadline)
            return chati_fail(CHAT_ERR_TIMEOUT, "sqlite broker: flush timed out");
    }
}

const chat_broker_ops chati_sqlite_broker_ops = {
    .version = CHAT_BROKER_V1,
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .publish = sq_publish,
    .subscribe = sq_subscribe,
    .unsubscribe = sq_unsubscribe,
    .flush = sq_flush,
};
