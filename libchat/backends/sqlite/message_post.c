/*
 * libchat/backends/sqlite/message_post.c - posting: dedupe by client_msg_id,
 * the ts, the row, thread counters, file shares and the outbox row, with
 * concurrent posts sharing one transaction (group commit, below).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backends/sqlite/message_store.h"

/* Finds an earlier message with the same client_msg_id; *out gets it. */
static chat_err post_dedupe(chati_sqlite_msgs *s, const chat_message *m, chat_message **out)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT ts FROM messages WHERE channel = ?1 AND client_msg_id = ?2",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, m->channel);
    bind_text(st, 2, m->client_msg_id);
    int rc = sqlite3_step(st);
    int64_t ts = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return CHAT_OK;
    if (rc != SQLITE_ROW)
        return chati_db_err(s->db, rc, "checking client_msg_id");
    chati_sqlite_msg e = {0};
    if ((rv = chati_sqlite_msg_load(s, m->channel, ts, &e)) != CHAT_OK)
        return rv;
    rv = chati_fail(CHAT_ERR_DUPLICATE, "client_msg_id %s already posted as %s",
                    m->client_msg_id, e.m->ts);
    if (out != NULL)
        *out = e.m;
    else
        chat_message_free(e.m);
    return rv;
}

/* ts = max(now, newest in channel + 1us): max(ts) is one index seek. */
static chat_err post_ts(chati_sqlite_msgs *s, const char *channel, int64_t now_us, int64_t *ts)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT max(ts) FROM messages WHERE channel = ?1", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ts = now_us;
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            int64_t last = sqlite3_column_int64(st, 0);
            if (last >= now_us)
                *ts = last + 1;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? CHAT_OK : chati_db_err(s->db, rc, "choosing ts");
}

static chat_err post_insert(chati_sqlite_msgs *s, const chat_message *v, int64_t ts, int64_t thread,
                            int64_t done, int64_t *id)
{
    chati_buf files = {0}, mentions = {0};
    sqlite3_stmt *st;
    chat_err rv =
        chati_sqlite_ids_join((const char(*)[CHAT_ID_SIZE])v->files, v->n_files, &files);
    if (rv == CHAT_OK)
        rv = chati_sqlite_ids_join((const char(*)[CHAT_ID_SIZE])v->mentions, v->n_mentions,
                                   &mentions);
    if (rv == CHAT_OK)
        rv = prep(s,
                  "INSERT INTO messages(id, channel, ts, user, team, text, subtype, "
                  "thread_ts, client_msg_id, files, mentions, mention_flags, reply_broadcast, "
                  "blocks, attachments, metadata, username, icon_emoji, icon_url, bot_id, "
                  "msg_flags) "
                  "VALUES (max(coalesce((SELECT max(id) FROM messages), 0), ?13) + 1, "
                  "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?14, ?15, ?16, ?17, ?18, "
                  "?19, ?20, ?21)",
                  &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, v->channel);
        sqlite3_bind_int64(st, 2, ts);
        bind_text(st, 3, v->user);
        bind_text(st, 4, v->team_id);
        bind_text(st, 5, v->text);
        bind_opt(st, 6, v->subtype);
        if (thread != 0)
            sqlite3_bind_int64(st, 7, thread);
        bind_opt(st, 8, v->client_msg_id);
        bind_opt(st, 9, files.data);
        bind_opt(st, 10, mentions.data);
        sqlite3_bind_int(st, 11, (int)v->mention_flags);
        sqlite3_bind_int(st, 12, v->reply_broadcast);
        sqlite3_bind_int64(st, 13, done);
        bind_opt(st, 14, v->blocks);
        bind_opt(st, 15, v->attachments);
        bind_opt(st, 16, v->metadata);
        bind_opt(st, 17, v->username);
        bind_opt(st, 18, v->icon_emoji);
        bind_opt(st, 19, v->icon_url);
        bind_opt(st, 20, v->bot_id[0] ? v->bot_id : NULL);
        sqlite3_bind_int(st, 21, (int)v->flags);
        rv = step_done(s, st, "storing message");
        /* One unique index covers (channel, ts) and one client_msg_id: both
         * were checked above, so a conflict here is a concurrent writer
         * outside this process and not a duplicate post. */
        if (rv == CHAT_ERR_DUPLICATE)
            rv = chati_fail(CHAT_ERR_STORAGE, "message %s/%" PRId64 " clashed", v->channel, ts);
        *id = sqlite3_last_insert_rowid(s->db->db);
    }
    chati_buf_free(&files);
    chati_buf_free(&mentions);
    return rv;
}

static chat_err post_reply(chati_sqlite_msgs *s, int64_t pid, const char *user, int64_t ts)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s,
                       "UPDATE messages SET reply_count = reply_count + 1, latest_reply = ?2 "
                       "WHERE id = ?1",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, ts);
    if ((rv = step_done(s, st, "updating thread")) != CHAT_OK)
        return rv;
    /* OR IGNORE keeps the first reply's position for a returning user. */
    if ((rv = prep(s,
                   "INSERT OR IGNORE INTO reply_users(msg, user, first_ts) VALUES (?1, ?2, ?3)",
                   &st)) != CHAT_OK)
        return rv;
    sqlite3_bind_int64(st, 1, pid);
    bind_text(st, 2, user);
    sqlite3_bind_int64(st, 3, ts);
    return step_done(s, st, "updating thread");
}

/* Everything post does, inside the transaction. v is the message as stored;
 * it borrows m's strings and arrays. */
static chat_err post_locked(chati_sqlite_msgs *s, const chat_message *m, int64_t now_us,
                            chat_outbox_fn outbox, void *arg, chat_message *v,
                            chat_message **dup_out)
{
    chat_err rv = CHAT_OK;
    int64_t ts = 0, pid = 0, thread = 0, id = 0;

    if (v->client_msg_id != NULL && (rv = post_dedupe(s, v, dup_out)) != CHAT_OK)
        return rv;
    if (m->thread_ts[0] != '\0') {
        int64_t want;
        if (!chati_ts_parse(m->thread_ts, &want))
            return chati_fail(CHAT_ERR_THREAD_NOT_FOUND, "invalid thread_ts \"%s\"",
                              m->thread_ts);
        if ((rv = chati_sqlite_thread_parent(s, m->channel, want, &pid, &thread)) != CHAT_OK)
            return rv;
        chati_ts_format(thread, v->thread_ts);
    }
    if ((rv = post_ts(s, m->channel, now_us, &ts)) != CHAT_OK)
        return rv;
    chati_ts_format(ts, v->ts);
    int64_t done = 0;
    if ((rv = chati_sqlite_fts_done(s, &done)) != CHAT_OK)
        return rv;
    if ((rv = post_insert(s, v, ts, thread, done, &id)) != CHAT_OK)
        return rv;
    if ((rv = chati_sqlite_fts_posted(s, id, done)) != CHAT_OK)
        return rv;
    if (thread != 0 && (rv = post_reply(s, pid, v->user, ts)) != CHAT_OK)
        return rv;
    for (size_t i = 0; i < v->n_files && rv == CHAT_OK; i++)
        rv = chati_sqlite_file_share(s, v->files[i], v->channel);
    if (rv == CHAT_OK)
        rv = chati_sqlite_outbox_put(s, outbox, arg, v);
    return rv;
}

/* ------------------------------------------------------- group commit --- */

/* Group commit. A COMMIT costs far more than the statements of one post, and
 * posts only ever wait for each other on the database mutex anyway, so
 * concurrent posts share one transaction: each caller queues a post_req; the
 * first that finds no batch running becomes the leader, takes every queued
 * request, runs each inside its own SAVEPOINT (a failure - duplicate,
 * thread_not_found, a refusing outbox - rolls back that post alone), commits
 * once and wakes the others with their own results. Requests run in queue
 * order, each seeing the ones before it, so ts order per channel, dedupe and
 * thread replies behave exactly as if the posts had run one after another.
 * A request is done only once the transaction that holds it has committed.
 * The error detail is per thread: the leader copies each failure's detail
 * into its request and every caller sets its own from there. */
#define POST_DETAIL_SIZE 512

typedef struct chati_sqlite_post_req post_req;

struct chati_sqlite_post_req {
    const chat_message *m;
    int64_t now_us;
    chat_outbox_fn outbox;
    void *arg;
    chat_message v;             /* the message as stored; borrows m's strings */
    chat_message *dup;          /* the earlier message on CHAT_ERR_DUPLICATE */
    chat_err rv;
    bool done;                  /* under gc_mu: the result is final */
    pthread_cond_t cv;          /* signalled when done, or to lead */
    char detail[POST_DETAIL_SIZE];
    post_req *next;
};

static void req_fail(post_req *r, chat_err rv, const char *detail)
{
    r->rv = rv;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    chat_message_free(r->dup);
    r->dup = NULL;
}

/* Fails every request of a batch that was going to commit (CHAT_OK) or that
 * leaned on what the batch wrote (a duplicate of a message posted in it):
 * used when the transaction is lost. Other failures stand. */
static void batch_lost(post_req *list, chat_err rv)
{
    char detail[POST_DETAIL_SIZE];
    snprintf(detail, sizeof detail, "%s", chati_errmsg());
    for (post_req *r = list; r != NULL; r = r->next)
        if (r->rv == CHAT_OK || r->rv == CHAT_ERR_DUPLICATE)
            req_fail(r, rv, detail);
}

static chat_err batch_sql(chati_sqlite_msgs *s, const char *sql)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, sql, &st);
    return rv == CHAT_OK ? step_done(s, st, sql) : rv;
}

/* Runs the posts of list in one transaction (the leader, without gc_mu). */
static void post_batch(chati_sqlite_msgs *s, post_req *list)
{
    for (post_req *r = list; r != NULL; r = r->next)
        r->rv = CHAT_ERR_INTERNAL; /* not run yet */
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK) {
        char detail[POST_DETAIL_SIZE];
        snprintf(detail, sizeof detail, "%s", chati_errmsg());
        for (post_req *r = list; r != NULL; r = r->next)
            req_fail(r, rv, detail);
        return;
    }
    /* One post alone needs no savepoint: the transaction is its own. */
    bool single = list->next == NULL;
    size_t ok = 0;
    for (post_req *r = list; r != NULL; r = r->next) {
        if (!single && (rv = batch_sql(s, "SAVEPOINT post")) != CHAT_OK) {
            r->rv = CHAT_OK; /* so batch_lost fails it and the rest too */
            for (post_req *q = r->next; q != NULL; q = q->next)
                q->rv = CHAT_OK;
            batch_lost(list, rv);
            chati_db_rollback(s->db);
            return;
        }
        r->rv = post_locked(s, r->m, r->now_us, r->outbox, r->arg, &r->v, &r->dup);
        if (r->rv == CHAT_OK) {
            ok++;
            if (!single && (rv = batch_sql(s, "RELEASE post")) != CHAT_OK) {
                for (post_req *q = r->next; q != NULL; q = q->next)
                    q->rv = CHAT_OK;
                batch_lost(list, rv);
                chati_db_rollback(s->db);
                return;
            }
            continue;
        }
        snprintf(r->detail, sizeof r->detail, "%s", chati_errmsg());
        if (single)
            break;
        /* SQLite may have rolled the whole transaction back by itself (full
         * disk, I/O error): then the posts before this one are gone too. */
        if (sqlite3_get_autocommit(s->db->db) ||
            (rv = batch_sql(s, "ROLLBACK TO post")) != CHAT_OK ||
            (rv = batch_sql(s, "RELEASE post")) != CHAT_OK) {
            if (rv == CHAT_OK)
                rv = chati_fail(r->rv, "%s (the transaction was rolled back)", r->detail);
            for (post_req *q = r->next; q != NULL; q = q->next)
                q->rv = CHAT_OK;
            batch_lost(list, rv);
            chati_db_rollback(s->db);
            return;
        }
    }
    if (ok == 0) {
        /* Nothing to keep; a duplicate found here refers to an earlier,
         * committed message. */
        chati_db_rollback(s->db);
        return;
    }
    if ((rv = chati_db_commit(s->db)) != CHAT_OK)
        batch_lost(list, rv);
}

/* A commit costs about the same for one post as for ten (the same few pages
 * of the WAL), so when the previous batch had company - several posters
 * are active - the leader waits up to GC_LINGER_US for as many requests as
 * that batch had. A lone poster never waits. Measured on chatd's durable
 * sends (8 senders): 7.1-7.8 instead of 9.4-10.0 WAL writes per message. */
#define GC_LINGER_US 100

static void linger(chati_sqlite_msgs *s, post_req *leader)
{
    if (s->gc_last < 2 || s->gc_queued >= s->gc_last)
        return;
    s->gc_lingerer = leader;
    int64_t deadline = chati_mono_us() + GC_LINGER_US;
    while (s->gc_queued < s->gc_last &&
           chati_cond_wait_until_us(&leader->cv, &s->gc_mu, deadline))
        ;
    s->gc_lingerer = NULL;
}

chat_err chati_sqlite_post(void *impl, const chat_message *m, int64_t now_us, chat_outbox_fn outbox,
                           void *outbox_arg, chat_message **out)
{
    chati_sqlite_msgs *s = impl;
    if (m == NULL || m->channel[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "post: no channel");
    if (now_us <= 0)
        now_us = chati_now_us();

    post_req r;
    memset(&r, 0, sizeof r);
    chati_cond_init(&r.cv); /* monotonic: a leader may linger on it */
    r.m = m;
    r.now_us = now_us;
    r.outbox = outbox;
    r.arg = outbox_arg;

    /* The stored message: m's content, with what the store decides. */
    chat_message *v = &r.v;
    *v = *m;
    v->ts[0] = '\0';
    v->thread_ts[0] = '\0';
    v->edited_user[0] = '\0';
    v->edited_ts[0] = '\0';
    v->reply_count = 0;
    v->latest_reply[0] = '\0';
    v->n_reply_users = 0;
    v->reply_users = NULL;
    v->n_reactions = 0;
    v->reactions = NULL;
    static char empty[1];
    v->text = m->text != NULL ? m->text : empty;
    if (v->client_msg_id != NULL && v->client_msg_id[0] == '\0')
        v->client_msg_id = NULL;
    if (v->subtype != NULL && v->subtype[0] == '\0')
        v->subtype = NULL;
    v->reply_broadcast = m->reply_broadcast && m->thread_ts[0] != '\0';

    pthread_mutex_lock(&s->gc_mu);
    *s->gc_tail = &r;
    s->gc_tail = &r.next;
    if (++s->gc_queued >= s->gc_last && s->gc_lingerer != NULL)
        pthread_cond_signal(&s->gc_lingerer->cv);
    while (!r.done) {
        if (s->gc_busy) {
            pthread_cond_wait(&r.cv, &s->gc_mu);
            continue;
        }
        /* Lead: take everything queued, this request included. */
        s->gc_busy = true;
        linger(s, &r);
        post_req *batch = s->gc_head;
        s->gc_head = NULL;
        s->gc_tail = &s->gc_head;
        s->gc_last = s->gc_queued;
        s->gc_queued = 0;
        pthread_mutex_unlock(&s->gc_mu);
        post_batch(s, batch);
        pthread_mutex_lock(&s->gc_mu);
        for (post_req *q = batch; q != NULL; q = q->next) {
            q->done = true;
            /* q's thread needs gc_mu to see that, so q stays valid here. */
            if (q != &r)
                pthread_cond_signal(&q->cv);
        }
        s->gc_busy = false;
        /* What queued meanwhile waits for a leader: wake the oldest. */
        if (s->gc_head != NULL)
            pthread_cond_signal(&s->gc_head->cv);
    }
    pthread_mutex_unlock(&s->gc_mu);

    pthread_cond_destroy(&r.cv);
    chat_err rv = r.rv;
    if (rv != CHAT_OK) {
        chat_set_errmsg("%s", r.detail);
        if (rv == CHAT_ERR_DUPLICATE && r.dup != NULL && out != NULL) {
            *out = r.dup;
            return rv;
        }
        chat_message_free(r.dup);
        return rv;
    }
    if (out != NULL && (*out = chat_message_dup(v)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message stored as %s but not copied", v->ts);
    return rv;
}
