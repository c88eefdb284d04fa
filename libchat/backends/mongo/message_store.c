/*
 * libchat/backends/mongo/message_store.c - the message store on MongoDB
 * ("mongodb://HOST:PORT[,...]/DB?options"), tested against FerretDB 1.x.
 *
 * FerretDB 1.x (and a standalone MongoDB) has no multi-document
 * transactions, so every change is built around one single-document write
 * that is its commit point; it names the change's outbox item, written just
 * before as an intent (outbox.c):
 *   - post: the insert of the message document. Any number of stores (in
 *     any number of processes) may post into one channel, and ts must still
 *     strictly increase in the order posts become visible. Each document
 *     names the message before it in the channel, q = "<channel>:<its ts>",
 *     under a unique index, and takes ts = max(now, that ts + 1us): two
 *     posts that read the same newest message cannot both commit, the loser
 *     reads the newest again and retries. So the posts of a channel form one
 *     chain in ts order, and a post commits only after the one before it.
 *     The newest message is kept per channel in memory (under `wmu`) with
 *     its stamp, so a post is one insert while this store is the channel's
 *     only writer; a store that wrote last costs the other one a failed
 *     insert and a lookup.
 *   - update, reactions: one update of the document guarded by the version
 *     `v` (they are read-modify-write), retried when another writer got in
 *     between.
 *   - remove: the document becomes a stub (x, c = "-<channel>", its content
 *     dropped) that keeps its _id and q, so the chain and the newest ts
 *     never go back (ts are not reused after a removal).
 * What follows a commit point is repairable and never makes the call fail:
 *   - a thread parent's reply_count, latest_reply and reply_users are
 *     recounted from the replies after every reply insert and removal, so a
 *     recount lost to a crash is fixed by the thread's next change;
 *   - files gain the channel with one $addToSet.
 * Writes hold `wmu` across their few round trips: it orders this store's
 * own writes (stamps, the cache); other stores are held off by the unique
 * indexes and the version guards, not by it. Reads never take it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/builtin.h"
#include "backends/mongo/mongo.h"

/* ------------------------------------------------- newest ts per channel --- */

#define TS_BUCKETS 256

struct chati_mongo_ts {
    char channel[CHAT_ID_SIZE];
    int64_t last;               /* ts of the newest message (0: none) */
    chati_mongo_stamp st;       /* its latest item, which a post follows */
    chati_mongo_ts *next;
};

static chati_mongo_ts **ts_slot(chati_mongo *s, const char *channel)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)channel; *p; p++)
        h = (h ^ *p) * 16777619u;
    chati_mongo_ts **e = &s->ts_buckets[h % TS_BUCKETS];
    while (*e != NULL && strcmp((*e)->channel, channel) != 0)
        e = &(*e)->next;
    return e;
}

static void ts_forget(chati_mongo *s, const char *channel)
{
    chati_mongo_ts **e = ts_slot(s, channel);
    if (*e != NULL) {
        chati_mongo_ts *dead = *e;
        *e = dead->next;
        chat_free(dead);
    }
}

/* The newest message of the channel, removed ones included (ts 0 when
 * empty), by _id: "<channel>:" + 16 digits sorts by ts. Read from the
 * primary whatever the URL says: a stale answer would only clash again.
 * Under wmu. */
static chat_err ts_last(chati_mongo_conn *c, const char *channel, chati_mongo_ts *out)
{
    chati_mongo_ts **e = ts_slot(c->s, channel);
    if (*e != NULL) {
        *out = **e;
        return CHAT_OK;
    }
    char lo[CHAT_ID_SIZE + 2], hi[CHAT_ID_SIZE + 2];
    snprintf(lo, sizeof lo, "%s:", channel);
    snprintf(hi, sizeof hi, "%s;", channel);
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, range, sort, proj;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &range);
    BSON_APPEND_UTF8(&range, "$gte", lo);
    BSON_APPEND_UTF8(&range, "$lt", hi);
    bson_append_document_end(&filter, &range);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", -1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "ts", 1);
    BSON_APPEND_INT32(&proj, "li", 1);
    BSON_APPEND_INT32(&proj, "lo", 1);
    bson_append_document_end(&opts, &proj);
    BSON_APPEND_INT64(&opts, "limit", 1);
    mongoc_read_prefs_t *primary = mongoc_read_prefs_new(MONGOC_READ_PRIMARY);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->msgs, &filter, &opts, primary);
    const bson_t *doc;
    bson_error_t err;
    chat_err rv = CHAT_OK;
    chati_mongo_ts *n = chat_calloc(1, sizeof *n);
    if (n == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "message store");
    else if (mongoc_cursor_next(cur, &doc)) {
        chati_mongo_msg m;
        if ((rv = chati_mongo_msg_read(doc, &m)) == CHAT_OK) {
            n->last = m.ts;
            n->st = m.last;
        }
        chat_message_free(m.m);
    }
    if (rv == CHAT_OK && mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, "choosing ts");
    mongoc_cursor_destroy(cur);
    mongoc_read_prefs_destroy(primary);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (rv != CHAT_OK) {
        chat_free(n);
        return rv;
    }
    chati_copy_fixed(n->channel, sizeof n->channel, channel);
    *out = *n;
    *e = n;
    return CHAT_OK;
}

/* Records a write of this store to the channel's newest message. */
static void ts_set(chati_mongo *s, const char *channel, int64_t ts, const chati_mongo_stamp *st)
{
    chati_mongo_ts **e = ts_slot(s, channel);
    if (*e != NULL && (*e)->last <= ts) {
        (*e)->last = ts;
        if (st->id[0] != '\0')
            (*e)->st = *st;
    }
}

/* A change of message ts: when it is the channel's newest, the next post
 * follows this change's item. */
static void ts_touch(chati_mongo *s, const char *channel, int64_t ts, const chati_mongo_stamp *st)
{
    chati_mongo_ts **e = ts_slot(s, channel);
    if (*e != NULL && (*e)->last == ts)
        (*e)->st = *st;
}

/* --------------------------------------------------------- open, close --- */

static chat_err ms_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "message store: no URL");
    chati_mongo *s = NULL;
    chat_err rv = chati_mongo_open(url, &s);
    if (rv != CHAT_OK)
        return rv;
    if ((s->ts_buckets = chat_calloc(TS_BUCKETS, sizeof *s->ts_buckets)) == NULL) {
        chati_mongo_close(s);
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    *impl = s;
    return CHAT_OK;
}

void chati_mongo_close(chati_mongo *s)
{
    if (s == NULL)
        return;
    chati_mongo_relay_free(s);
    for (size_t i = 0; s->ts_buckets != NULL && i < TS_BUCKETS; i++)
        while (s->ts_buckets[i] != NULL) {
            chati_mongo_ts *e = s->ts_buckets[i];
            s->ts_buckets[i] = e->next;
            chat_free(e);
        }
    chat_free(s->ts_buckets);
    if (s->pool != NULL)
        mongoc_client_pool_destroy(s->pool);
    chati_mongo_reads_free(s);
    pthread_mutex_destroy(&s->wmu);
    chat_free(s->db);
    chat_free(s);
}

static void ms_close(void *impl)
{
    chati_mongo_close(impl);
}

/* ------------------------------------------------------------ helpers --- */

/* updateOne; *matched (may be NULL) gets whether a document matched. */
static chat_err update_msg(chati_mongo_conn *c, const bson_t *filter, const bson_t *update,
                           bool *matched, const char *what)
{
    bson_t reply;
    bson_error_t err;
    chat_err rv = CHAT_OK;
    if (!mongoc_collection_update_one(c->msgs, filter, update, NULL, &reply, &err))
        rv = chati_mongo_err(&err, what);
    bson_iter_t it;
    if (rv == CHAT_OK && matched != NULL)
        *matched = bson_iter_init_find(&it, &reply, "matchedCount") &&
                   bson_iter_as_int64(&it) > 0;
    bson_destroy(&reply);
    return rv;
}

/* Writers that lost a race retry, the loser of the second one after a
 * random moment (two stores changing one message, or posting into one
 * channel, back to back would otherwise keep colliding). */
#define MAX_RACES 30

/* Whether a change that lost its race again may try once more: MAX_RACES
 * times, and for as long as a claim left by a writer that died can hold the
 * message (a change to it then waits that claim out instead of failing:
 * the other writer of contract_message_store_mongo_two failed "kept
 * changing under us" 2.6 s after its peer was killed holding one). */
static bool race_again(int attempt, int64_t t0_ms)
{
    return attempt < MAX_RACES || chati_mono_ms() - t0_ms < CHATI_MONGO_CLAIM_MS + 1000;
}

static void race_pause(int attempt)
{
    if (attempt > 0)
        chati_sleep_ms((int)(chati_mono_us() % (2 << (attempt < 6 ? attempt : 6))));
}

/* Writes update u into message id. On FerretDB, whose updates rewrite the
 * whole document (chati_mongo_claim), claimed and guarded by the version
 * read just before, and retried while other writers get in between. */
static chat_err update_claimed(chati_mongo_conn *c, const char *id, const bson_t *u,
                               const char *what)
{
    bson_t f = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&f, "_id", id);
    chat_err rv = CHAT_OK;
    if (!c->s->claims) {
        rv = update_msg(c, &f, u, NULL, what);
        bson_destroy(&f);
        return rv;
    }
    bool done = false;
    int64_t t0 = chati_mono_ms();
    for (int attempt = 0; rv == CHAT_OK && !done && race_again(attempt, t0); attempt++) {
        race_pause(attempt);
        bson_t opts = BSON_INITIALIZER, proj, *full = NULL, inc;
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
        BSON_APPEND_INT32(&proj, "v", 1);
        bson_append_document_end(&opts, &proj);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->msgs, &f, &opts, NULL);
        const bson_t *doc;
        bson_iter_t it;
        int64_t v = -1;
        if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "v"))
            v = bson_iter_as_int64(&it);
        rv = chati_mongo_cursor_end(cur, CHAT_OK, what);
        bson_destroy(&opts);
        bool won = false;
        if (rv != CHAT_OK || v < 0)
            break; /* gone: nothing to update */
        if ((rv = chati_mongo_claim(c, id, v, &won)) != CHAT_OK || !won)
            continue;
        bson_t g = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&g, "_id", id);
        BSON_APPEND_INT64(&g, "v", v);
        full = bson_copy(u);
        BSON_APPEND_DOCUMENT_BEGIN(full, "$inc", &inc);
        BSON_APPEND_INT64(&inc, "v", 1);
        bson_append_document_end(full, &inc);
        rv = update_msg(c, &g, full, &done, what);
        if (rv != CHAT_OK || !done)
            chati_mongo_unclaim(c, id, v, rv);
        bson_destroy(full);
        bson_destroy(&g);
    }
    if (rv == CHAT_OK && !done)
        rv = chati_fail(CHAT_ERR_STORAGE, "%s: message kept changing under us", what);
    bson_destroy(&f);
    return rv;
}

/* ------------------------------------------------------------- threads --- */

/* The parent of the thread that thread_ts names: that message, or, when it
 * is itself a reply, its parent (Slack accepts any ts of a thread).
 * thread_not_found when neither exists. */
chat_err chati_mongo_thread_parent(chati_mongo_conn *c, const char *channel, int64_t thread_ts,
                              int64_t *pts)
{
    for (int hop = 0; hop < 2; hop++) {
        chati_mongo_msg e;
        chat_err rv = chati_mongo_msg_load(c, channel, thread_ts, &e);
        if (rv == CHAT_ERR_MESSAGE_NOT_FOUND)
            break;
        if (rv != CHAT_OK)
            return rv;
        int64_t up = e.thread;
        chat_message_free(e.m);
        if (up == 0) {
            *pts = thread_ts;
            return CHAT_OK;
        }
        thread_ts = up;
    }
    return chati_fail(CHAT_ERR_THREAD_NOT_FOUND, "no thread %" PRId64 " in %s", thread_ts,
                      channel);
}

/* Sets a parent's reply_count, latest_reply and reply_users from its
 * replies as they are now: idempotent, so it repairs whatever an earlier
 * interrupted recount left. */
static chat_err thread_recount(chati_mongo_conn *c, const char *channel, int64_t parent)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, proj;
    BSON_APPEND_UTF8(&filter, "c", channel);
    BSON_APPEND_INT64(&filter, "th", parent);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "ts", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "ts", 1);
    BSON_APPEND_INT32(&proj, "u", 1);
    bson_append_document_end(&opts, &proj);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->msgs, &filter, &opts, NULL);
    const bson_t *doc;
    int64_t count = 0, latest = 0;
    char(*users)[CHAT_ID_SIZE] = NULL;
    size_t n_users = 0, cap = 0;
    chat_err rv = CHAT_OK;
    while (rv == CHAT_OK && mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        count++;
        if (bson_iter_init_find(&it, doc, "ts") && BSON_ITER_HOLDS_NUMBER(&it))
            latest = bson_iter_as_int64(&it);
        if (!bson_iter_init_find(&it, doc, "u") || !BSON_ITER_HOLDS_UTF8(&it))
            continue;
        const char *u = bson_iter_utf8(&it, NULL);
        bool seen = false;
        for (size_t i = 0; i < n_users && !seen; i++)
            seen = strcmp(users[i], u) == 0;
        if (seen)
            continue;
        if (n_users == cap) {
            cap = cap ? cap * 2 : 8;
            char(*g)[CHAT_ID_SIZE] = chat_realloc(users, cap * CHAT_ID_SIZE);
            if (g == NULL) {
                rv = chati_fail(CHAT_ERR_NOMEM, "message store");
                break;
            }
            users = g;
        }
        chati_copy_fixed(users[n_users++], CHAT_ID_SIZE, u);
    }
    bson_error_t err;
    if (rv == CHAT_OK && mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, "counting replies");
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    bson_destroy(&opts);

    if (rv == CHAT_OK) {
        char id[64];
        chati_mongo_msg_id(channel, parent, id);
        bson_t u = BSON_INITIALIZER, set, unset;
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
        BSON_APPEND_INT64(&set, "rc", count);
        chati_mongo_append_ids(&set, "ru", (const char(*)[CHAT_ID_SIZE])users, n_users);
        if (count > 0)
            BSON_APPEND_INT64(&set, "lr", latest);
        bson_append_document_end(&u, &set);
        if (count == 0) {
            BSON_APPEND_DOCUMENT_BEGIN(&u, "$unset", &unset);
            BSON_APPEND_UTF8(&unset, "lr", "");
            bson_append_document_end(&u, &unset);
        }
        rv = update_claimed(c, id, &u, "updating thread");
        bson_destroy(&u);
    }
    chat_free(users);
    return rv;
}

/* ---------------------------------------------------------------- post --- */

/* The earlier message with m's client_msg_id, if any: CHAT_ERR_DUPLICATE
 * with *out (may be NULL) set to it. */
static chat_err post_dedupe(chati_mongo_conn *c, const chat_message *m, chat_message **out)
{
    chati_buf k = {0};
    if (chati_buf_printf(&k, "c:%s", m->client_msg_id) != CHAT_OK)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "c", m->channel);
    BSON_APPEND_UTF8(&filter, "k", k.data);
    BSON_APPEND_INT64(&opts, "limit", 1);
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    chat_err rv = l == NULL ? chati_fail(CHAT_ERR_NOMEM, "message store")
                            : chati_mongo_find_page(c->msgs, NULL, &filter, &opts, 1, l, NULL, NULL,
                                                    "checking client_msg_id");
    if (rv == CHAT_OK && chat_list_count(l) > 0) {
        chat_message *dup = chat_list_take(l, 0);
        rv = chati_fail(CHAT_ERR_DUPLICATE, "client_msg_id %s already posted as %s",
                        m->client_msg_id, dup->ts);
        if (out != NULL)
            *out = dup;
        else
            chat_message_free(dup);
    }
    chat_list_free(l);
    bson_destroy(&filter);
    bson_destroy(&opts);
    chati_buf_free(&k);
    return rv;
}

/* Under wmu: everything up to and including the commit point. */
static chat_err post_locked(chati_mongo_conn *c, chat_message *v, int64_t now_us,
                            chat_outbox_fn outbox, void *arg, int64_t *thread,
                            chat_message **dup_out)
{
    chat_err rv;
    if (v->client_msg_id != NULL && (rv = post_dedupe(c, v, dup_out)) != CHAT_OK)
        return rv;
    if (*thread != 0) {
        if ((rv = chati_mongo_thread_parent(c, v->channel, *thread, thread)) != CHAT_OK)
            return rv;
        chati_ts_format(*thread, v->thread_ts);
    }
    for (int attempt = 0;; attempt++) {
        chati_mongo_ts pred;
        if ((rv = ts_last(c, v->channel, &pred)) != CHAT_OK)
            return rv;
        int64_t ts = now_us > pred.last ? now_us : pred.last + 1;
        chati_ts_format(ts, v->ts);
        char id[64], q[64];
        chati_mongo_msg_id(v->channel, ts, id);
        chati_mongo_msg_id(v->channel, pred.last, q);
        chati_mongo_stamp st;
        chati_mongo_change ch = {id, true, 0, &pred.st};
        bson_t doc = BSON_INITIALIZER;
        bson_error_t err;
        rv = chati_mongo_msg_doc(v, ts, *thread, &doc);
        BSON_APPEND_UTF8(&doc, "q", q);
        if (rv == CHAT_OK)
            rv = chati_mongo_intend(c, outbox, arg, v, &ch, &st);
        if (rv == CHAT_OK && st.id[0] != '\0') {
            BSON_APPEND_UTF8(&doc, "pi", st.id);
            BSON_APPEND_UTF8(&doc, "li", st.id);
            BSON_APPEND_INT64(&doc, "lo", st.o);
        }
        if (rv == CHAT_OK && !mongoc_collection_insert_one(c->msgs, &doc, NULL, NULL, &err)) {
            rv = chati_mongo_err(&err, "storing message");
            chati_mongo_unintend(c, &st, rv);
            if (rv == CHAT_ERR_DUPLICATE && attempt < MAX_RACES) {
                /* Another writer posted after pred meanwhile (or took the
                 * client_msg_id): look again (the outbox function runs
                 * again for the new ts). */
                bson_destroy(&doc);
                chati_clear_errmsg();
                if (v->client_msg_id != NULL && (rv = post_dedupe(c, v, dup_out)) != CHAT_OK)
                    return rv;
                ts_forget(c->s, v->channel);
                race_pause(attempt);
                continue;
            }
            if (rv == CHAT_ERR_DUPLICATE)
                rv = chati_fail(CHAT_ERR_STORAGE, "message %s/%" PRId64 " kept clashing",
                                v->channel, ts);
        }
        if (rv == CHAT_OK)
            ts_set(c->s, v->channel, ts, &st);
        bson_destroy(&doc);
        return rv;
    }
}

static chat_err ms_post(void *impl, const chat_message *m, int64_t now_us,
                        chat_outbox_fn outbox, void *outbox_arg, chat_message **out)
{
    chati_mongo *s = impl;
    if (m == NULL || m->channel[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "post: no channel");
    if (strchr(m->channel, ':') != NULL || m->channel[0] == '-')
        return chati_fail(CHAT_ERR_INVALID_ID, "post: invalid channel id \"%s\"", m->channel);
    if (now_us <= 0)
        now_us = chati_now_us();
    int64_t thread = 0;
    if (m->thread_ts[0] != '\0' && !chati_ts_parse(m->thread_ts, &thread))
        return chati_fail(CHAT_ERR_THREAD_NOT_FOUND, "invalid thread_ts \"%s\"", m->thread_ts);

    /* The stored message: m's content, with what the store decides. */
    chat_message v = *m;
    v.ts[0] = '\0';
    v.thread_ts[0] = '\0';
    v.edited_user[0] = '\0';
    v.edited_ts[0] = '\0';
    v.reply_count = 0;
    v.latest_reply[0] = '\0';
    v.n_reply_users = 0;
    v.reply_users = NULL;
    v.n_reactions = 0;
    v.reactions = NULL;
    static char empty[1];
    v.text = m->text != NULL ? m->text : empty;
    if (v.client_msg_id != NULL && v.client_msg_id[0] == '\0')
        v.client_msg_id = NULL;
    if (v.subtype != NULL && v.subtype[0] == '\0')
        v.subtype = NULL;
    v.reply_broadcast = m->reply_broadcast && m->thread_ts[0] != '\0';

    chati_mongo_wrote(s, v.channel);
    if (v.n_files > 0)
        chati_mongo_wrote(s, NULL);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    chat_message *dup = NULL;
    pthread_mutex_lock(&s->wmu);
    chat_err rv = post_locked(&c, &v, now_us, outbox, outbox_arg, &thread, &dup);
    /* Past the commit point: repairable follow-ups, see the top. The
     * recount stays under wmu so that two recounts of one thread cannot
     * finish in the wrong order. */
    if (rv == CHAT_OK && thread != 0 && thread_recount(&c, v.channel, thread) != CHAT_OK)
        chati_clear_errmsg();
    pthread_mutex_unlock(&s->wmu);
    if (rv == CHAT_OK) {
        if (v.n_files > 0 &&
            chati_mongo_files_share(&c, (const char(*)[CHAT_ID_SIZE])v.files, v.n_files,
                                    v.channel) != CHAT_OK)
            chati_clear_errmsg();
    }
    chati_mongo_conn_put(&c);
    if (rv == CHAT_ERR_DUPLICATE && dup != NULL && out != NULL) {
        *out = dup;
        return rv;
    }
    chat_message_free(dup);
    if (rv != CHAT_OK)
        return rv;
    if (out != NULL && (*out = chat_message_dup(&v)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message stored as %s but not copied", v.ts);
    return CHAT_OK;
}

/* --------------------------------------------------------- get, update --- */

static chat_err ms_get(void *impl, const char *channel, const char *ts, chat_message **out)
{
    chati_mongo *s = impl;
    int64_t us;
    if (channel == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "get: no channel");
    chat_err rv = chati_mongo_parse_ts(ts, &us, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv != CHAT_OK)
        return rv;
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    chati_mongo_msg e;
    rv = chati_mongo_msg_load(&c, channel, us, &e);
    chati_mongo_conn_put(&c);
    if (rv == CHAT_OK)
        *out = e.m;
    return rv;
}

/* Applies a change to the loaded message e (in memory, as the outbox
 * function must see it): writes its outbox item, then `set` in one update
 * guarded by e's version, which commits both. *raced: another writer
 * changed the document first (retry). Under wmu. */
static chat_err write_change(chati_mongo_conn *c, chati_mongo_msg *e, bson_t *set,
                             chat_outbox_fn outbox, void *arg, bool *raced)
{
    char id[64];
    chati_mongo_stamp st;
    chati_mongo_change ch = {id, false, e->version, &e->last};
    *raced = false;
    chati_mongo_msg_id(e->m->channel, e->ts, id);
    bool won = false;
    chat_err rv = chati_mongo_claim(c, id, e->version, &won);
    if (rv == CHAT_OK && !won) {
        *raced = true;
        return CHAT_OK;
    }
    if (rv == CHAT_OK && (rv = chati_mongo_intend(c, outbox, arg, e->m, &ch, &st)) != CHAT_OK)
        chati_mongo_unclaim(c, id, e->version, rv);
    if (rv == CHAT_OK) {
        bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, sub;
        BSON_APPEND_UTF8(&filter, "_id", id);
        BSON_APPEND_INT64(&filter, "v", e->version);
        if (st.id[0] != '\0') {
            BSON_APPEND_UTF8(set, "li", st.id);
            BSON_APPEND_INT64(set, "lo", st.o);
        }
        BSON_APPEND_DOCUMENT(&update, "$set", set);
        BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &sub);
        BSON_APPEND_INT64(&sub, "v", 1);
        bson_append_document_end(&update, &sub);
        bool matched = false;
        rv = update_msg(c, &filter, &update, &matched, "changing message");
        if (rv != CHAT_OK || !matched) {
            chati_mongo_unintend(c, &st, rv);
            chati_mongo_unclaim(c, id, e->version, rv);
        }
        if (rv == CHAT_OK && !matched)
            *raced = true;
        else if (rv == CHAT_OK && st.id[0] != '\0')
            ts_touch(c->s, e->m->channel, e->ts, &st);
        bson_destroy(&filter);
        bson_destroy(&update);
    }
    return rv;
}

static chat_err ms_update(void *impl, const chat_message *m, chat_outbox_fn outbox,
                          void *outbox_arg, chat_message **out)
{
    chati_mongo *s = impl;
    int64_t ts, edited = 0;
    if (m == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "update: no message");
    chat_err rv = chati_mongo_parse_ts(m->ts, &ts, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv != CHAT_OK)
        return rv;
    if (m->edited_ts[0] != '\0' && !chati_ts_parse(m->edited_ts, &edited))
        return chati_fail(CHAT_ERR_INVALID_TS, "invalid edited_ts \"%s\"", m->edited_ts);
    chati_mongo_wrote(s, m->channel);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    chati_mongo_msg e = {0};
    bool raced = true;
    pthread_mutex_lock(&s->wmu);
    int64_t t0 = chati_mono_ms();
    for (int i = 0; rv == CHAT_OK && raced && race_again(i, t0); i++) {
        race_pause(i);
        chat_message_free(e.m);
        e.m = NULL;
        if ((rv = chati_mongo_msg_load(&c, m->channel, ts, &e)) != CHAT_OK)
            break;
        /* The message as it will be stored. */
        chat_message *x = e.m;
        chat_free(x->text);
        chat_free(x->mentions);
        x->mentions = NULL;
        x->n_mentions = 0;
        if ((x->text = chat_strdup(m->text != NULL ? m->text : "")) == NULL ||
            (m->n_mentions > 0 &&
             (x->mentions = chati_ids_dup((const char(*)[CHAT_ID_SIZE])m->mentions,
                                          m->n_mentions)) == NULL)) {
            rv = chati_fail(CHAT_ERR_NOMEM, "message store");
            break;
        }
        x->n_mentions = m->n_mentions;
        x->mention_flags = m->mention_flags;
        const char *rich[] = {m->blocks, m->attachments, m->metadata};
        char **xrich[] = {&x->blocks, &x->attachments, &x->metadata};
        for (size_t j = 0; rv == CHAT_OK && j < CHATI_ARRAY_LEN(rich); j++) {
            chat_free(*xrich[j]);
            *xrich[j] = NULL;
            if (rich[j] != NULL && (*xrich[j] = chat_strdup(rich[j])) == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "message store");
        }
        if (rv != CHAT_OK)
            break;
        memcpy(x->edited_user, m->edited_user, sizeof x->edited_user);
        x->edited_ts[0] = '\0';
        if (edited != 0)
            chati_ts_format(edited, x->edited_ts);

        bson_t set = BSON_INITIALIZER, w;
        BSON_APPEND_UTF8(&set, "t", x->text);
        BSON_APPEND_ARRAY_BEGIN(&set, "w", &w);
        rv = chati_mongo_tokens(x->text, &w);
        bson_append_array_end(&set, &w);
        chati_mongo_append_ids(&set, "mn", (const char(*)[CHAT_ID_SIZE])x->mentions, x->n_mentions);
        BSON_APPEND_INT32(&set, "mf", (int32_t)x->mention_flags);
        BSON_APPEND_UTF8(&set, "eu", x->edited_user);
        chati_mongo_append_rich(&set, x, false);
        if (edited != 0)
            BSON_APPEND_INT64(&set, "et", edited);
        else
            BSON_APPEND_NULL(&set, "et");
        if (rv == CHAT_OK)
            rv = write_change(&c, &e, &set, outbox, outbox_arg, &raced);
        bson_destroy(&set);
    }
    if (rv == CHAT_OK && raced)
        rv = chati_fail(CHAT_ERR_STORAGE, "update: message kept changing under us");
    pthread_mutex_unlock(&s->wmu);
    chati_mongo_conn_put(&c);
    if (rv == CHAT_OK && out != NULL)
        *out = e.m;
    else
        chat_message_free(e.m);
    return rv;
}

/* -------------------------------------------------------------- remove --- */

/* Turns the message into a stub (see the top), guarded by the version read
 * so that its item follows every earlier change. *raced: retry. */
static chat_err remove_once(chati_mongo_conn *c, const char *channel, int64_t ts,
                            chat_outbox_fn outbox, void *arg, int64_t *parent, bool *raced)
{
    chati_mongo_msg e;
    chat_err rv = chati_mongo_msg_load(c, channel, ts, &e);
    *raced = false;
    if (rv != CHAT_OK)
        return rv;
    *parent = e.thread;
    char id[64], dead[CHAT_ID_SIZE + 2];
    chati_mongo_msg_id(channel, ts, id);
    snprintf(dead, sizeof dead, "-%s", channel);
    chati_mongo_stamp st = {"", 0};
    chati_mongo_change ch = {id, false, e.version, &e.last};
    bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, sub;
    BSON_APPEND_UTF8(&filter, "_id", id);
    BSON_APPEND_UTF8(&filter, "c", channel);
    BSON_APPEND_INT64(&filter, "v", e.version);
    bool won = false;
    rv = chati_mongo_claim(c, id, e.version, &won);
    if (rv == CHAT_OK && won && (rv = chati_mongo_intend(c, outbox, arg, e.m, &ch, &st)) != CHAT_OK)
        chati_mongo_unclaim(c, id, e.version, rv);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &sub);
    BSON_APPEND_BOOL(&sub, "x", true);
    BSON_APPEND_UTF8(&sub, "c", dead);
    if (st.id[0] != '\0') {
        BSON_APPEND_UTF8(&sub, "li", st.id);
        BSON_APPEND_INT64(&sub, "lo", st.o);
    }
    bson_append_document_end(&update, &sub);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &sub);
    static const char *const content[] = {"t", "w", "r", "mn", "f", "ru", "bk", "at", "md"};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(content); i++)
        BSON_APPEND_UTF8(&sub, content[i], "");
    bson_append_document_end(&update, &sub);
    /* So that a change read before this one cannot land on the stub. */
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &sub);
    BSON_APPEND_INT64(&sub, "v", 1);
    bson_append_document_end(&update, &sub);
    bool matched = false;
    if (rv == CHAT_OK && won) {
        rv = update_msg(c, &filter, &update, &matched, "removing message");
        if (rv != CHAT_OK || !matched) {
            chati_mongo_unintend(c, &st, rv);
            chati_mongo_unclaim(c, id, e.version, rv);
        }
    }
    if (rv == CHAT_OK && !matched)
        *raced = true;
    else if (rv == CHAT_OK && st.id[0] != '\0')
        ts_touch(c->s, channel, ts, &st);
    chat_message_free(e.m);
    bson_destroy(&filter);
    bson_destroy(&update);
    return rv;
}

static chat_err ms_remove(void *impl, const char *channel, const char *ts,
                          chat_outbox_fn outbox, void *outbox_arg)
{
    chati_mongo *s = impl;
    int64_t us, parent = 0;
    if (channel == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "remove: no channel");
    chat_err rv = chati_mongo_parse_ts(ts, &us, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv != CHAT_OK)
        return rv;
    chati_mongo_wrote(s, channel);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    pthread_mutex_lock(&s->wmu);
    bool raced = true;
    int64_t t0 = chati_mono_ms();
    for (int i = 0; rv == CHAT_OK && raced && race_again(i, t0); i++) {
        race_pause(i);
        rv = remove_once(&c, channel, us, outbox, outbox_arg, &parent, &raced);
    }
    if (rv == CHAT_OK && raced)
        rv = chati_fail(CHAT_ERR_STORAGE, "remove: message kept changing under us");
    if (rv == CHAT_OK && parent != 0 && thread_recount(&c, channel, parent) != CHAT_OK)
        chati_clear_errmsg(); /* repaired by the thread's next change */
    pthread_mutex_unlock(&s->wmu);
    chati_mongo_conn_put(&c);
    return rv;
}

/* ----------------------------------------------------------- reactions --- */

/* Adds or removes user's reaction in m (in memory). */
static chat_err react_apply(chat_message *m, const char *name, const char *user, bool add)
{
    chat_reaction *r = NULL;
    for (size_t i = 0; i < m->n_reactions && r == NULL; i++)
        if (strcmp(m->reactions[i].name, name) == 0)
            r = &m->reactions[i];
    size_t at = SIZE_MAX;
    for (size_t i = 0; r != NULL && i < r->n_users && at == SIZE_MAX; i++)
        if (strcmp(r->users[i], user) == 0)
            at = i;
    if (add && at != SIZE_MAX)
        return chati_fail(CHAT_ERR_ALREADY_REACTED, "%s already reacted with %s", user, name);
    if (!add && at == SIZE_MAX)
        return chati_fail(CHAT_ERR_NO_REACTION, "%s has no %s reaction", user, name);
    if (!add) {
        memmove(r->users[at], r->users[at + 1], (r->n_users - at - 1) * CHAT_ID_SIZE);
        if (--r->n_users == 0) {
            size_t ri = (size_t)(r - m->reactions);
            chat_free(r->name);
            chat_free(r->users);
            memmove(r, r + 1, (m->n_reactions - ri - 1) * sizeof *r);
            if (--m->n_reactions == 0) {
                chat_free(m->reactions);
                m->reactions = NULL;
            }
        }
        return CHAT_OK;
    }
    if (r == NULL) {
        chat_reaction *rs = chat_realloc(m->reactions, (m->n_reactions + 1) * sizeof *rs);
        if (rs == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
        m->reactions = rs;
        r = &rs[m->n_reactions];
        memset(r, 0, sizeof *r);
        if ((r->name = chat_strdup(name)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
        m->n_reactions++;
    }
    char(*users)[CHAT_ID_SIZE] = chat_realloc(r->users, (r->n_users + 1) * CHAT_ID_SIZE);
    if (users == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    r->users = users;
    chati_copy_fixed(r->users[r->n_users++], CHAT_ID_SIZE, user);
    return CHAT_OK;
}

static chat_err react(chati_mongo *s, const char *channel, const char *ts, const char *name,
                      const char *user, bool add, chat_outbox_fn outbox, void *arg)
{
    int64_t us;
    if (channel == NULL || name == NULL || name[0] == '\0' || user == NULL || user[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "reaction: missing argument");
    chat_err rv = chati_mongo_parse_ts(ts, &us, CHAT_ERR_MESSAGE_NOT_FOUND);
    if (rv != CHAT_OK)
        return rv;
    chati_mongo_wrote(s, channel);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    bool raced = true;
    pthread_mutex_lock(&s->wmu);
    int64_t t0 = chati_mono_ms();
    for (int i = 0; rv == CHAT_OK && raced && race_again(i, t0); i++) {
        race_pause(i);
        chati_mongo_msg e;
        if ((rv = chati_mongo_msg_load(&c, channel, us, &e)) != CHAT_OK)
            break;
        rv = react_apply(e.m, name, user, add);
        if (rv == CHAT_OK) {
            bson_t set = BSON_INITIALIZER, arr, one;
            BSON_APPEND_ARRAY_BEGIN(&set, "r", &arr);
            for (size_t k = 0; k < e.m->n_reactions; k++) {
                char idx[16];
                const char *key;
                bson_uint32_to_string((uint32_t)k, &key, idx, sizeof idx);
                BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &one);
                BSON_APPEND_UTF8(&one, "n", e.m->reactions[k].name);
                const chat_reaction *rx = &e.m->reactions[k];
                chati_mongo_append_ids(&one, "u", (const char(*)[CHAT_ID_SIZE])rx->users,
                                       rx->n_users);
                bson_append_document_end(&arr, &one);
            }
            bson_append_array_end(&set, &arr);
            rv = write_change(&c, &e, &set, outbox, arg, &raced);
            bson_destroy(&set);
        }
        chat_message_free(e.m);
    }
    if (rv == CHAT_OK && raced)
        rv = chati_fail(CHAT_ERR_STORAGE, "reaction: message kept changing under us");
    pthread_mutex_unlock(&s->wmu);
    chati_mongo_conn_put(&c);
    return rv;
}

static chat_err ms_add_reaction(void *impl, const char *channel, const char *ts,
                                const char *name, const char *user, chat_outbox_fn outbox,
                                void *outbox_arg)
{
    return react(impl, channel, ts, name, user, true, outbox, outbox_arg);
}

static chat_err ms_remove_reaction(void *impl, const char *channel, const char *ts,
                                   const char *name, const char *user, chat_outbox_fn outbox,
                                   void *outbox_arg)
{
    return react(impl, channel, ts, name, user, false, outbox, outbox_arg);
}

/* ---------------------------------------------------------------- ops --- */

const chat_message_store_ops chati_mongo_message_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "mongodb",
    .open = ms_open,
    .close = ms_close,
    .post = ms_post,
    .get = ms_get,
    .update = ms_update,
    .remove = ms_remove,
    .add_reaction = ms_add_reaction,
    .remove_reaction = ms_remove_reaction,
    .history = chati_mongo_history,
    .replies = chati_mongo_replies,
    .search = chati_mongo_search,
    .file_insert = chati_mongo_file_insert,
    .file_get = chati_mongo_file_get,
    .file_list = chati_mongo_file_list,
    .file_delete = chati_mongo_file_delete,
    .outbox_fetch = chati_mongo_outbox_fetch,
    .outbox_ack = chati_mongo_outbox_ack,
    .outbox_add = chati_mongo_outbox_add,
    .file_complete = chati_mongo_file_complete,
    .file_set_title = chati_mongo_file_set_title,
    .outbox_lease = chati_mongo_outbox_lease,
    .schedule = chati_mongo_schedule,
    .list_scheduled = chati_mongo_list_scheduled,
    .unschedule = chati_mongo_unschedule,
    .lease_scheduled = chati_mongo_lease_scheduled,
    .reacted = chati_mongo_reacted,
};
