/*
 * libchat/backends/sqlite/db_checkpoint.c - WAL checkpoints off the commit path.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL
 * frames, and it syncs the WAL and then the database: about 4 MB each, 10 ms
 * apiece on the dev machine's disk. Every post queued behind that commit waited
 * for it: at 200 posts/s to 100 listeners, p99 send->deliver was 15-19 ms
 * with the automatic checkpoint and 4-7 ms without it.
 *
 * So each database file gets a thread with a connection of its own. The WAL
 * hook (called after each commit, the database mutex held) only wakes it.
 * It checkpoints in two passes:
 *  1. PASSIVE on its own connection, without our mutex: the big copy and both
 *     syncs, while writers go on appending (again while many frames arrived
 *     meanwhile, up to CKPT_ROUNDS times);
 *  2. PASSIVE again in the WAL hook of the next commit, which holds the
 *     database mutex, so no commit of this process lands meanwhile: it copies
 *     what pass 1 missed (a few frames, small syncs: 1-3 ms where the whole
 *     checkpoint took 20) and leaves the WAL fully checkpointed, which lets
 *     the next writer start it again from the beginning (the thread does it
 *     instead when no commit comes for CKPT_QUIET_MS). Without pass 2, a WAL
 *     written to during every checkpoint would never restart and would grow
 *     for ever; and the checkpointer taking the mutex itself would wait
 *     behind a busy writer that keeps retaking it.
 * Should the thread fall behind anyway (another process holding an old
 * snapshot), the hook checkpoints in the committing thread past
 * CKPT_INLINE_FRAMES, as SQLite itself would, so the WAL stays bounded.
 */
#include <stdatomic.h>
#include <string.h>

#include "backends/sqlite/db.h"

#define CKPT_FRAMES 1000         /* SQLite's own default threshold */
#define CKPT_INLINE_FRAMES 16000 /* 64 MB of WAL at 4 KB pages */
#define CKPT_ROUNDS 4            /* of pass 1 at most */
#define CKPT_TAIL_FRAMES 64      /* arrivals small enough for pass 2 */

#define CKPT_QUIET_MS 100        /* then the thread does pass 2 itself */

/* Who acts next. One checkpoint at a time: two at once (the thread's next
 * pass 1 and a commit's pass 2) would make one of them busy, and the WAL
 * would not restart. Only the thread leaves CKPT_PASS1; a commit or the
 * thread claims CKPT_PASS2 by compare-and-swap. */
enum {
    CKPT_IDLE,                  /* a commit past CKPT_FRAMES wakes the thread */
    CKPT_PASS1,                 /* the thread is at work */
    CKPT_PASS2                  /* the next commit finishes the checkpoint */
};

struct chati_db_checkpointer {
    chati_db *d;
    sqlite3 *db;                /* ours: used by the thread only */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* monotonic (chati_cond_init) */
    atomic_int state;           /* CKPT_IDLE, CKPT_PASS1 or CKPT_PASS2 */
    bool stop;
};

/* Pass 1, repeated while much came in during the previous round: each round
 * copies what the one before saw arrive, so the rounds shrink. */
static void pass1(chati_db_checkpointer *c)
{
    int log = 0, done = 0, seen = -1;
    for (int round = 0; round < CKPT_ROUNDS; round++) {
        if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) !=
            SQLITE_OK) {
            atomic_store(&c->state, CKPT_IDLE); /* busy: another process's turn */
            return;
        }
        if (seen >= 0 && log - seen <= CKPT_TAIL_FRAMES)
            break;
        seen = log;
    }
    atomic_store(&c->state, CKPT_PASS2);
}

/* No commit came to do pass 2: the database went quiet, so taking its mutex
 * keeps no writer waiting long. Else a burst's last frames would stay in the
 * WAL until the next commit. */
static void pass2_quiet(chati_db_checkpointer *c)
{
    int expected = CKPT_PASS2;
    if (!atomic_compare_exchange_strong(&c->state, &expected, CKPT_PASS1))
        return; /* a commit did it */
    chati_db_lock(c->d);
    sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    chati_db_unlock(c->d);
    atomic_store(&c->state, CKPT_IDLE);
}

static void *checkpoint_main(void *arg)
{
    chati_thread_name("db-checkpoint");
    chati_db_checkpointer *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        int state = atomic_load(&c->state);
        if (state == CKPT_PASS1) {
            pthread_mutex_unlock(&c->mu);
            pass1(c);
            pthread_mutex_lock(&c->mu);
        } else if (state == CKPT_PASS2) {
            int64_t deadline = chati_mono_ms() + CKPT_QUIET_MS;
            while (!c->stop && atomic_load(&c->state) == CKPT_PASS2 &&
                   chati_cond_wait_until(&c->cv, &c->mu, deadline))
                ;
            if (c->stop)
                break;
            pthread_mutex_unlock(&c->mu);
            pass2_quiet(c);
            pthread_mutex_lock(&c->mu);
        } else {
            pthread_cond_wait(&c->cv, &c->mu);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* After each commit on the main connection, the database mutex held. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
    chati_db_checkpointer *c = arg;
    int state = atomic_load(&c->state);
    if (state == CKPT_PASS2) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_compare_exchange_strong(&c->state, &state, CKPT_IDLE);
        return SQLITE_OK;
    }
    if (frames >= CKPT_INLINE_FRAMES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    if (state != CKPT_IDLE || frames < CKPT_FRAMES)
        return SQLITE_OK;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->state, CKPT_PASS1);
    pthread_mutex_unlock(&c->mu);
    pthread_cond_signal(&c->cv);
    return SQLITE_OK;
}

chat_err chati_db_checkpointer_start(chati_db *d, const char *vfs, chati_db_checkpointer **out)
{
    *out = NULL;
    chati_db_checkpointer *c = chat_calloc(1, sizeof *c);
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "checkpointer for %s", d->path);
    c->d = d;
    atomic_init(&c->state, CKPT_IDLE);
    int rc = sqlite3_open_v2(d->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) {
        chat_err rv = chati_fail(CHAT_ERR_STORAGE, "cannot open %s to checkpoint it: %s", d->path,
                                 c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        chat_free(c);
        return rv;
    }
    /* Its own commits (none) must not checkpoint. A connection checkpoints
     * only once it has read the file and so found the WAL: read it now. */
    sqlite3_wal_autocheckpoint(c->db, 0);
    sqlite3_busy_timeout(c->db, 5000);
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        chat_err rv = chati_fail(CHAT_ERR_STORAGE, "cannot read %s to checkpoint it: %s",
                                 d->path, sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        chat_free(c);
        return rv;
    }
    pthread_mutex_init(&c->mu, NULL);
    chati_cond_init(&c->cv);
    if (pthread_create(&c->thread, NULL, checkpoint_main, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        sqlite3_close(c->db);
        chat_free(c);
        return chati_fail(CHAT_ERR_INTERNAL, "cannot start the checkpointer of %s", d->path);
    }
    /* Replaces SQLite's automatic checkpoint, which is a WAL hook too. */
    sqlite3_wal_hook(d->db, on_wal, c);
    *out = c;
    return CHAT_OK;
}

void chati_db_checkpointer_stop(chati_db_checkpointer *c)
{
    if (c == NULL)
        return;
    sqlite3_wal_hook(c->d->db, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_mutex_unlock(&c->mu);
    pthread_cond_signal(&c->cv);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close(c->db);
    chat_free(c);
}
