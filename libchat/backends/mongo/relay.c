/*
 * libchat/backends/mongo/relay.c - the outbox, the relay's side: the store
 * holding the relay lease (lease.c) gives committed intents (outbox.c)
 * their seqs and serves outbox_fetch and outbox_ack.
 *
 * A pass (each fetch) reads the oldest intents by stamp and keeps those
 * whose change committed: the message document names them (pi for a post,
 * li for any change) or a later intent follows them (dp: its writer saw
 * them in the document). An intent follows at most one other; it goes only
 * after that one has its seq. The pass takes as many seqs from the lease,
 * fenced by the epoch, inserts the items into `outbox` in stamp order and
 * deletes their intents. Every seq of a holder is above every seq taken
 * before it and a pass inserts in seq order, so the relay never meets seq N
 * after N+1: fetch only reads what finished passes wrote. The one exception
 * is a former holder's insert landing late after a pause: its intent is
 * still staged, so this holder's insert of the same item clashes (unique
 * i) and moves it to a seq of its own ("re-key").
 *
 * An intent whose change has not committed after FENCE_MS is fenced: the
 * relay takes the post's _id with a stub, or bumps the version the update
 * was guarded by, so the write cannot land any more; then it is dropped
 * unless it committed meanwhile.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/mongo/mongo.h"

#define PASS_MAX 256     /* intents read per pass */
#define FENCE_MS 5000    /* how long a change may take between intent and write */
#define LOOKUP_MAX 8     /* documents looked up one by one (by _id, no scan) */
#define TIDY_MS 30000    /* claims older than 2 * this are deleted this often */
#define OUTBOX_MAX_FETCH 10000

/* ------------------------------------------------------- relayed ids --- */

static uint32_t *id_slot(chati_mongo_relay *r, const char *id)
{
    size_t mask = 2 * CHATI_MONGO_RELAYED_MAX - 1, h = (size_t)chati_hash_str(id) & mask;
    while (r->slots[h] != 0 && strcmp(r->ids[r->slots[h] - 1], id) != 0)
        h = (h + 1) & mask;
    return &r->slots[h];
}

void chati_mongo_relayed_clear(chati_mongo_relay *r)
{
    memset(r->slots, 0, 2 * CHATI_MONGO_RELAYED_MAX * sizeof *r->slots);
    r->n_ids = 0;
}

/* Full: start over (a forgotten id costs a lookup). */
static void relayed_add(chati_mongo_relay *r, const char *id)
{
    if (r->n_ids == CHATI_MONGO_RELAYED_MAX)
        chati_mongo_relayed_clear(r);
    uint32_t *slot = id_slot(r, id);
    if (*slot != 0)
        return;
    chati_copy_fixed(r->ids[r->n_ids], CHATI_MONGO_ITEM_ID, id);
    *slot = (uint32_t)++r->n_ids;
}

/* ----------------------------------------------------------- intents --- */

enum { WAIT, GO, DROP };

typedef struct intent {
    bson_t *rec;        /* the staged record */
    const char *id, *doc, *dp; /* in rec; doc, dp NULL when none */
    bool post, old;     /* old: from a document of the earlier format */
    int64_t o, guard, seq;
    int state;
} intent;

typedef struct batch {
    intent *v;
    size_t n;
} batch;

static const char *rec_str(const bson_t *rec, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, rec, key) && BSON_ITER_HOLDS_UTF8(&it)
               ? bson_iter_utf8(&it, NULL)
               : NULL;
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        bson_destroy(b->v[i].rec);
    chat_free(b->v);
    memset(b, 0, sizeof *b);
}

static intent *batch_find(const batch *b, const char *id)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].id, id) == 0)
            return &b->v[i];
    return NULL;
}

/* The oldest intents by stamp. */
static chat_err read_intents(chati_mongo_conn *c, batch *b)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "o", 1);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", PASS_MAX);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->staged, &filter, &opts, NULL);
    const bson_t *rec;
    bson_iter_t it;
    chat_err rv = (b->v = chat_calloc(PASS_MAX, sizeof *b->v)) != NULL
                      ? CHAT_OK
                      : chati_fail(CHAT_ERR_NOMEM, "outbox");
    while (rv == CHAT_OK && b->n < PASS_MAX && mongoc_cursor_next(cur, &rec)) {
        intent *p = &b->v[b->n];
        if ((p->rec = bson_copy(rec)) == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "outbox");
            break;
        }
        if ((p->id = rec_str(p->rec, "_id")) == NULL) {
            bson_destroy(p->rec);
            continue; /* not ours */
        }
        p->doc = rec_str(p->rec, "m");
        p->dp = rec_str(p->rec, "dp");
        p->post = bson_iter_init_find(&it, p->rec, "pt") && bson_iter_as_bool(&it);
        p->old = bson_iter_init_find(&it, p->rec, "old") && bson_iter_as_bool(&it);
        p->o = chati_mongo_doc_int(p->rec, "o");
        p->guard = chati_mongo_doc_int(p->rec, "gv");
        b->n++;
    }
    rv = chati_mongo_cursor_end(cur, rv, "reading outbox intents");
    bson_destroy(&filter);
    bson_destroy(&opts);
    return rv;
}

/* {field: {$in: [v...]}}. */
static void append_in(bson_t *f, const char *field, const char *const *v, size_t n)
{
    bson_t in, arr;
    BSON_APPEND_DOCUMENT_BEGIN(f, field, &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    for (size_t i = 0; i < n; i++)
        chati_mongo_array_str(&arr, (uint32_t)i, v[i]);
    bson_append_array_end(&in, &arr);
    bson_append_document_end(f, &in);
}

/* Runs find on coll and calls fn for each document. */
static chat_err each(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts,
                     void (*fn)(void *, const bson_t *), void *arg, const char *what)
{
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc))
        fn(arg, doc);
    return chati_mongo_cursor_end(cur, CHAT_OK, what);
}

/* ------------------------------------------------------------ commits --- */

/* What a pass learns about the documents of its intents. */
typedef struct seen {
    batch *b;
    bool *named;        /* per intent: its document names it (pi or li) */
    bool *followed;     /* per intent: another intent follows it */
} seen;

static void note_doc(void *arg, const bson_t *doc)
{
    seen *sn = arg;
    const char *id = rec_str(doc, "_id"), *li = rec_str(doc, "li"), *pi = rec_str(doc, "pi");
    for (size_t i = 0; id != NULL && i < sn->b->n; i++) {
        const intent *p = &sn->b->v[i];
        if (p->doc != NULL && strcmp(p->doc, id) == 0) {
            const char *names = p->post ? pi : li;
            sn->named[i] = names != NULL && strcmp(names, p->id) == 0;
        }
    }
}

static void note_follower(void *arg, const bson_t *rec)
{
    seen *sn = arg;
    const char *dp = rec_str(rec, "dp");
    for (size_t i = 0; dp != NULL && i < sn->b->n; i++)
        if (strcmp(sn->b->v[i].id, dp) == 0)
            sn->followed[i] = true;
}

static void projection(bson_t *opts, const char *a, const char *b, const char *c)
{
    bson_t proj;
    BSON_APPEND_DOCUMENT_BEGIN(opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, a, 1);
    if (b != NULL)
        BSON_APPEND_INT32(&proj, b, 1);
    if (c != NULL)
        BSON_APPEND_INT32(&proj, c, 1);
    bson_append_document_end(opts, &proj);
}

/* Which intents committed. The documents are read first, then the intents
 * that follow: a change committed after the read was written as an intent
 * before, so one of the two reads sees it. */
static chat_err commits(chati_mongo_conn *c, batch *b, bool *committed)
{
    seen sn = {b, chat_calloc(b->n + 1, sizeof(bool)), chat_calloc(b->n + 1, sizeof(bool))};
    const char **docs = chat_calloc(b->n + 1, sizeof *docs);
    const char **ids = chat_calloc(b->n + 1, sizeof *ids);
    chat_err rv = sn.named && sn.followed && docs && ids ? CHAT_OK
                                                          : chati_fail(CHAT_ERR_NOMEM, "outbox");
    size_t n_docs = 0, n_ids = 0;
    for (size_t i = 0; rv == CHAT_OK && i < b->n; i++) {
        const intent *p = &b->v[i];
        if (p->doc == NULL || p->old)
            continue;
        bool dup = false;
        for (size_t j = 0; j < n_docs && !dup; j++)
            dup = strcmp(docs[j], p->doc) == 0;
        if (!dup)
            docs[n_docs++] = p->doc;
        if (!p->post)
            ids[n_ids++] = p->id;
    }
    bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    projection(&opts, "li", "pi", NULL);
    if (n_docs <= LOOKUP_MAX) {
        for (size_t j = 0; rv == CHAT_OK && j < n_docs; j++) {
            bson_reinit(&f);
            BSON_APPEND_UTF8(&f, "_id", docs[j]);
            rv = each(c->msgs, &f, &opts, note_doc, &sn, "reading messages");
        }
    } else if (rv == CHAT_OK) {
        append_in(&f, "_id", docs, n_docs);
        rv = each(c->msgs, &f, &opts, note_doc, &sn, "reading messages");
    }
    if (rv == CHAT_OK && n_ids > 0) {
        bson_reinit(&f);
        bson_reinit(&opts);
        append_in(&f, "dp", ids, n_ids);
        projection(&opts, "dp", NULL, NULL);
        rv = each(c->staged, &f, &opts, note_follower, &sn, "reading outbox intents");
    }
    for (size_t i = 0; rv == CHAT_OK && i < b->n; i++) {
        const intent *p = &b->v[i];
        committed[i] = p->doc == NULL || p->old || sn.named[i] || sn.followed[i];
    }
    bson_destroy(&f);
    bson_destroy(&opts);
    chat_free(sn.named);
    chat_free(sn.followed);
    chat_free(docs);
    chat_free(ids);
    return rv;
}

/* Since when (monotonic ms) intent id has been seen uncommitted. */
static int64_t waiting_since(chati_mongo_relay *r, const char *id, int64_t now)
{
    for (size_t i = 0; i < r->n_wait; i++)
        if (strcmp(r->wait[i].id, id) == 0)
            return r->wait[i].since;
    if (r->n_wait == CHATI_MONGO_WAIT_MAX)
        memmove(r->wait, r->wait + 1, --r->n_wait * sizeof *r->wait);
    chati_copy_fixed(r->wait[r->n_wait].id, CHATI_MONGO_ITEM_ID, id);
    r->wait[r->n_wait++].since = now;
    return now;
}

static void wait_drop(chati_mongo_relay *r, const char *id)
{
    for (size_t i = 0; i < r->n_wait; i++)
        if (strcmp(r->wait[i].id, id) == 0) {
            memmove(r->wait + i, r->wait + i + 1, (--r->n_wait - i) * sizeof *r->wait);
            return;
        }
}

/* Makes sure p's write can never land: a stub takes the post's _id, or the
 * version its update was guarded by moves on. *landed: it had, or may still
 * (kept; a later pass relays it or fences again). */
static chat_err fence(chati_mongo_conn *c, const intent *p, bool *landed)
{
    bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, sub, reply;
    bson_error_t err;
    bson_iter_t it;
    bool blocked = false;
    chat_err rv = CHAT_OK;
    *landed = false;
    if (p->post) {
        /* "<channel>:<ts>": removed at once, as a removed message is. */
        const char *colon = strrchr(p->doc, ':');
        char chan[CHAT_ID_SIZE + 2], q[CHATI_MONGO_ITEM_ID + 8], k[CHATI_MONGO_ITEM_ID + 8];
        snprintf(chan, sizeof chan, "-%.*s", (int)(colon - p->doc), p->doc);
        snprintf(q, sizeof q, ":%s", p->id);
        snprintf(k, sizeof k, "f:%s", p->id);
        BSON_APPEND_UTF8(&f, "_id", p->doc);
        BSON_APPEND_UTF8(&f, "c", chan);
        BSON_APPEND_INT64(&f, "ts", strtoll(colon + 1, NULL, 10));
        BSON_APPEND_UTF8(&f, "q", q);
        BSON_APPEND_UTF8(&f, "k", k);
        BSON_APPEND_INT64(&f, "v", 0);
        BSON_APPEND_BOOL(&f, "x", true);
        blocked = mongoc_collection_insert_one(c->msgs, &f, NULL, NULL, &err);
        if (!blocked && !chati_mongo_is_dup(&err))
            rv = chati_mongo_err(&err, "fencing a post");
    } else {
        /* Its writer's claim on that version (FerretDB) is honoured until
         * it goes stale: the write may still be on its way. */
        bool won = false;
        if ((rv = chati_mongo_claim(c, p->doc, p->guard, &won)) != CHAT_OK || !won) {
            *landed = !won;
            bson_destroy(&f);
            bson_destroy(&u);
            return rv;
        }
        BSON_APPEND_UTF8(&f, "_id", p->doc);
        BSON_APPEND_INT64(&f, "v", p->guard);
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$inc", &sub);
        BSON_APPEND_INT64(&sub, "v", 1);
        bson_append_document_end(&u, &sub);
        if (!mongoc_collection_update_one(c->msgs, &f, &u, NULL, &reply, &err))
            rv = chati_mongo_err(&err, "fencing an update");
        else
            blocked = bson_iter_init_find(&it, &reply, "matchedCount") &&
                      bson_iter_as_int64(&it) > 0;
        bson_destroy(&reply);
    }
    bson_destroy(&f);
    bson_destroy(&u);
    if (rv != CHAT_OK || blocked)
        return rv;
    /* Taken or moved on by someone else: by this very write? */
    batch one = {(intent *)p, 1};
    bool committed = false;
    rv = commits(c, &one, &committed);
    *landed = committed;
    return rv;
}

/* Decides which intents go now, in stamp order: committed, and after the
 * one they follow, which is relayed already (known, or no longer staged)
 * or goes earlier in this pass. Old enough uncommitted ones are fenced and
 * dropped. */
static chat_err decide(chati_mongo_conn *c, batch *b)
{
    chati_mongo_relay *r = c->s->relay;
    bool *committed = chat_calloc(b->n + 1, sizeof *committed);
    const char **unknown = chat_calloc(b->n + 1, sizeof *unknown);
    chat_err rv = committed && unknown ? commits(c, b, committed)
                                       : chati_fail(CHAT_ERR_NOMEM, "outbox");
    size_t n_unknown = 0;
    for (size_t i = 0; rv == CHAT_OK && i < b->n; i++) {
        const char *dp = b->v[i].dp;
        if (dp != NULL && batch_find(b, dp) == NULL && *id_slot(r, dp) == 0)
            unknown[n_unknown++] = dp;
    }
    /* An item followed is committed, so it is staged until relayed. */
    bool *staged = chat_calloc(n_unknown + 1, sizeof *staged);
    if (rv == CHAT_OK && staged == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "outbox");
    if (rv == CHAT_OK && n_unknown > 0) {
        mongoc_cursor_t *cur;
        bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER;
        const bson_t *rec;
        append_in(&f, "_id", unknown, n_unknown);
        projection(&opts, "_id", NULL, NULL);
        cur = mongoc_collection_find_with_opts(c->staged, &f, &opts, NULL);
        while (mongoc_cursor_next(cur, &rec)) {
            const char *id = rec_str(rec, "_id");
            for (size_t k = 0; id != NULL && k < n_unknown; k++)
                staged[k] = staged[k] || strcmp(unknown[k], id) == 0;
        }
        rv = chati_mongo_cursor_end(cur, rv, "reading outbox intents");
        bson_destroy(&f);
        bson_destroy(&opts);
        for (size_t k = 0; rv == CHAT_OK && k < n_unknown; k++)
            if (!staged[k])
                relayed_add(r, unknown[k]);
    }
    int64_t now = chati_mono_ms();
    for (size_t i = 0; rv == CHAT_OK && i < b->n; i++) {
        intent *p = &b->v[i];
        if (!committed[i]) {
            bool landed = false;
            if (now - waiting_since(r, p->id, now) >= FENCE_MS &&
                (rv = fence(c, p, &landed)) == CHAT_OK && !landed) {
                p->state = DROP;
                wait_drop(r, p->id);
            }
            continue;
        }
        wait_drop(r, p->id);
        const intent *dep = p->dp != NULL ? batch_find(b, p->dp) : NULL;
        if (p->dp == NULL || (dep == NULL && *id_slot(r, p->dp) != 0) ||
            (dep != NULL && dep->state == GO))
            p->state = GO;
    }
    chat_free(committed);
    chat_free(unknown);
    chat_free(staged);
    return rv;
}

/* ------------------------------------------------------------- a pass --- */

/* The outbox record of p: {_id: seq, i, t, k, d}. */
static void record(const intent *p, bson_t *rec)
{
    bson_iter_t it;
    BSON_APPEND_INT64(rec, "_id", p->seq);
    BSON_APPEND_UTF8(rec, "i", p->id);
    if (bson_iter_init(&it, p->rec))
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            if (strcmp(k, "t") == 0 || strcmp(k, "k") == 0 || strcmp(k, "d") == 0)
                bson_append_iter(rec, k, -1, &it);
        }
}

/* One item whose batch insert failed, inserted alone. A clash on its id
 * means a record of it exists: ours from an earlier pass of this tenure
 * (kept), or a former holder's, which may have landed where our relay has
 * already passed: moved to p's seq. A clash on the seq (another store took
 * it: the lease was contested) fails the pass, which keeps the intent. */
static chat_err insert_one(chati_mongo_conn *c, const intent *p)
{
    chati_mongo_relay *r = c->s->relay;
    chat_err rv = CHAT_OK;
    for (int attempt = 0; rv == CHAT_OK; attempt++) {
        bson_t rec = BSON_INITIALIZER, f = BSON_INITIALIZER;
        bson_error_t err;
        record(p, &rec);
        bool ok = mongoc_collection_insert_one(c->outbox, &rec, NULL, NULL, &err);
        bson_destroy(&rec);
        if (ok)
            return CHAT_OK;
        if (!chati_mongo_is_dup(&err))
            return chati_mongo_err(&err, "writing outbox");
        BSON_APPEND_UTF8(&f, "i", p->id);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->outbox, &f, NULL, NULL);
        const bson_t *old;
        int64_t seq = -1;
        if (mongoc_cursor_next(cur, &old))
            seq = chati_mongo_doc_int(old, "_id");
        else if (mongoc_cursor_error(cur, &err))
            rv = chati_mongo_err(&err, "reading outbox");
        mongoc_cursor_destroy(cur);
        bson_reinit(&f);
        BSON_APPEND_INT64(&f, "_id", seq);
        bool ours = seq >= r->first_seq;
        if (rv == CHAT_OK && !ours && (seq < 0 || attempt == 2))
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                            "mongodb: outbox seq %" PRId64 " taken by another relay", p->seq);
        else if (rv == CHAT_OK && !ours &&
                 !mongoc_collection_delete_one(c->outbox, &f, NULL, NULL, &err))
            rv = chati_mongo_err(&err, "moving an outbox item");
        bson_destroy(&f);
        if (rv == CHAT_OK && ours)
            break;
    }
    return rv;
}

/* Gives the n intents of go (in stamp order) seqs and writes them to the
 * outbox. */
static chat_err number(chati_mongo_conn *c, intent **go, size_t n)
{
    chati_mongo_relay *r = c->s->relay;
    bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, inc, *v = NULL;
    chati_mongo_lease_filter(c->s, &f);
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$inc", &inc);
    BSON_APPEND_INT64(&inc, "sq", (int64_t)n);
    bson_append_document_end(&u, &inc);
    chat_err rv = chati_mongo_lease_modify(c, &f, &u, &v, "numbering outbox items");
    bson_destroy(&f);
    bson_destroy(&u);
    if (rv != CHAT_OK)
        return rv;
    if (v == NULL) {
        r->ep = 0; /* taken over meanwhile: nothing written */
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "mongodb: relay lease lost");
    }
    int64_t top = chati_mongo_doc_int(v, "sq");
    bson_destroy(v);
    bson_t *recs = chat_calloc(n, sizeof *recs);
    const bson_t **ptrs = chat_calloc(n, sizeof *ptrs);
    if (recs == NULL || ptrs == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "outbox");
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        go[i]->seq = top - (int64_t)n + 1 + (int64_t)i;
        bson_init(&recs[i]);
        record(go[i], &recs[i]);
        ptrs[i] = &recs[i];
    }
    bson_error_t err;
    if (rv == CHAT_OK && !mongoc_collection_insert_many(c->outbox, ptrs, n, NULL, NULL, &err)) {
        /* Ordered: what went in before the failure is in seq order; the
         * rest goes one by one. */
        for (size_t i = 0; rv == CHAT_OK && i < n; i++)
            rv = insert_one(c, go[i]);
    }
    for (size_t i = 0; recs != NULL && ptrs != NULL && i < n; i++)
        bson_destroy(&recs[i]);
    chat_free(recs);
    chat_free(ptrs);
    if (rv == CHAT_OK && top > r->top_seq)
        r->top_seq = top;
    return rv;
}

/* Deletes the intents of b in the given state. */
static chat_err drop_intents(chati_mongo_conn *c, const batch *b, int state)
{
    const char **ids = chat_calloc(b->n + 1, sizeof *ids);
    size_t n = 0;
    if (ids == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "outbox");
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].state == state)
            ids[n++] = b->v[i].id;
    bson_t f = BSON_INITIALIZER;
    bson_error_t err;
    chat_err rv = CHAT_OK;
    append_in(&f, "_id", ids, n);
    if (n > 0 && !mongoc_collection_delete_many(c->staged, &f, NULL, NULL, &err))
        rv = chati_mongo_err(&err, "dropping outbox intents");
    bson_destroy(&f);
    chat_free(ids);
    return rv;
}

/* Items {s, t, k, d} left in message documents by the earlier format (one
 * writer, seqs from a counter) become intents, unless its relay had them
 * (acked, or copied to the outbox); they leave their documents either way. */
static void old_items(void *arg, const bson_t *doc)
{
    chati_mongo_conn *c = arg;
    bson_iter_t ob, it;
    const char *id = rec_str(doc, "_id");
    int64_t mark = 0;
    bson_t f = BSON_INITIALIZER;
    const bson_t *found;
    BSON_APPEND_UTF8(&f, "_id", "acked");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->meta, &f, NULL, NULL);
    if (mongoc_cursor_next(cur, &found))
        mark = chati_mongo_doc_int(found, "n");
    mongoc_cursor_destroy(cur);
    if (id == NULL || !bson_iter_init_find(&ob, doc, "ob") || !BSON_ITER_HOLDS_ARRAY(&ob) ||
        !bson_iter_recurse(&ob, &ob)) {
        bson_destroy(&f);
        return;
    }
    while (bson_iter_next(&ob)) {
        uint32_t len;
        const uint8_t *data;
        bson_t item, rec = BSON_INITIALIZER, u = BSON_INITIALIZER, pull, arr;
        if (!BSON_ITER_HOLDS_DOCUMENT(&ob))
            continue;
        bson_iter_document(&ob, &len, &data);
        if (!bson_init_static(&item, data, len))
            continue;
        int64_t s = chati_mongo_doc_int(&item, "s");
        bson_reinit(&f);
        BSON_APPEND_INT64(&f, "_id", s);
        cur = mongoc_collection_find_with_opts(c->outbox, &f, NULL, NULL);
        bool had = s <= mark || mongoc_cursor_next(cur, &found);
        mongoc_cursor_destroy(cur);
        char rid[CHATI_MONGO_ITEM_ID];
        snprintf(rid, sizeof rid, ":%" PRId64, s);
        BSON_APPEND_UTF8(&rec, "_id", rid);
        BSON_APPEND_INT64(&rec, "o", 0);
        BSON_APPEND_BOOL(&rec, "old", true);
        bson_iter_init(&it, &item);
        while (bson_iter_next(&it))
            if (strcmp(bson_iter_key(&it), "s") != 0)
                bson_append_iter(&rec, bson_iter_key(&it), -1, &it);
        bson_error_t err;
        /* Staged already (a clash) is as good; an outage leaves the item in
         * its document for the next holder's look. */
        bool ok = had || mongoc_collection_insert_one(c->staged, &rec, NULL, NULL, &err) ||
                  chati_mongo_is_dup(&err);
        bson_reinit(&f);
        BSON_APPEND_UTF8(&f, "_id", id);
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$pullAll", &pull);
        BSON_APPEND_ARRAY_BEGIN(&pull, "ob", &arr);
        BSON_APPEND_DOCUMENT(&arr, "0", &item);
        bson_append_array_end(&pull, &arr);
        bson_append_document_end(&u, &pull);
        if (ok)
            mongoc_collection_update_one(c->msgs, &f, &u, NULL, NULL, NULL);
        bson_destroy(&rec);
        bson_destroy(&u);
    }
    bson_destroy(&f);
}

/* One pass of the relay (lease held); *moved: how many it relayed, *more:
 * whether it left intents unread. */
static chat_err pass(chati_mongo_conn *c, size_t *moved, bool *more)
{
    chati_mongo_relay *r = c->s->relay;
    batch b = {0};
    chat_err rv = CHAT_OK;
    *moved = 0;
    *more = false;
    if (!r->old_swept)
        rv = chati_mongo_upgraded(c, "ob", &r->old_swept);
    if (rv == CHAT_OK && !r->old_swept) {
        bson_t f = BSON_INITIALIZER, ex;
        BSON_APPEND_DOCUMENT_BEGIN(&f, "ob.0", &ex);
        BSON_APPEND_BOOL(&ex, "$exists", true);
        bson_append_document_end(&f, &ex);
        rv = each(c->msgs, &f, NULL, old_items, c, "reading messages");
        if (rv == CHAT_OK)
            rv = chati_mongo_mark_upgraded(c, "ob");
        r->old_swept = rv == CHAT_OK;
        bson_destroy(&f);
    }
    int64_t now = chati_mono_ms();
    if (rv == CHAT_OK && c->s->claims && now - r->tidied_ms >= TIDY_MS) {
        bson_t f = BSON_INITIALIZER, lt;
        bson_error_t err;
        BSON_APPEND_DOCUMENT_BEGIN(&f, "t", &lt);
        BSON_APPEND_INT64(&lt, "$lt", chati_now_ms() - 2 * TIDY_MS);
        bson_append_document_end(&f, &lt);
        if (!mongoc_collection_delete_many(c->claims, &f, NULL, NULL, &err))
            rv = chati_mongo_err(&err, "deleting old claims");
        r->tidied_ms = now;
        bson_destroy(&f);
    }
    if (rv == CHAT_OK)
        rv = read_intents(c, &b);
    if (rv == CHAT_OK && b.n > 0)
        rv = decide(c, &b);
    intent **go = chat_calloc(b.n + 1, sizeof *go);
    size_t n = 0;
    for (size_t i = 0; go != NULL && i < b.n; i++)
        if (b.v[i].state == GO)
            go[n++] = &b.v[i];
    if (rv == CHAT_OK && go == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "outbox");
    if (rv == CHAT_OK && n > 0 && (rv = number(c, go, n)) == CHAT_OK)
        rv = drop_intents(c, &b, GO);
    for (size_t i = 0; rv == CHAT_OK && i < n; i++)
        relayed_add(r, go[i]->id);
    if (rv == CHAT_OK)
        rv = drop_intents(c, &b, DROP);
    *moved = rv == CHAT_OK ? n : 0;
    *more = rv == CHAT_OK && b.n == PASS_MAX;
    chat_free(go);
    batch_free(&b);
    return rv;
}

/* --------------------------------------------------------------- ops --- */

static chat_err read_item(const bson_t *doc, chat_outbox_item *e)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc))
        return chati_fail(CHAT_ERR_STORAGE, "mongodb: malformed outbox item");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "_id") == 0 && BSON_ITER_HOLDS_NUMBER(&it)) {
            e->seq = bson_iter_as_int64(&it);
        } else if ((strcmp(k, "t") == 0 || strcmp(k, "k") == 0) && BSON_ITER_HOLDS_UTF8(&it)) {
            char **dst = k[0] == 't' ? &e->topic : &e->key;
            if ((*dst = chat_strdup(bson_iter_utf8(&it, NULL))) == NULL)
                return chati_fail(CHAT_ERR_NOMEM, "outbox");
        } else if (strcmp(k, "d") == 0 && BSON_ITER_HOLDS_BINARY(&it)) {
            bson_subtype_t sub;
            uint32_t len;
            const uint8_t *data;
            bson_iter_binary(&it, &sub, &len, &data);
            if (len > 0) {
                if ((e->data = chat_malloc(len)) == NULL)
                    return chati_fail(CHAT_ERR_NOMEM, "outbox");
                memcpy(e->data, data, len);
            }
            e->len = len;
        }
    }
    if (e->topic == NULL && (e->topic = chat_strdup("")) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "outbox");
    return CHAT_OK;
}

static chat_err read_outbox(chati_mongo_conn *c, int64_t after, size_t max,
                            chat_outbox_item *it, size_t *k)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, gt, sort;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &gt);
    BSON_APPEND_INT64(&gt, "$gt", after);
    bson_append_document_end(&filter, &gt);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", (int64_t)max);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->outbox, &filter, &opts, NULL);
    const bson_t *doc;
    chat_err rv = CHAT_OK;
    while (rv == CHAT_OK && *k < max && mongoc_cursor_next(cur, &doc))
        rv = read_item(doc, &it[(*k)++]);
    rv = chati_mongo_cursor_end(cur, rv, "reading outbox");
    bson_destroy(&filter);
    bson_destroy(&opts);
    return rv;
}

chat_err chati_mongo_outbox_fetch(void *impl, int64_t after_seq, size_t max,
                                  chat_outbox_item **items, size_t *n)
{
    chati_mongo *s = impl;
    chati_mongo_relay *r = s->relay;
    if (items == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "outbox_fetch: no output");
    *items = NULL;
    *n = 0;
    if (max == 0)
        max = CHAT_DEFAULT_PAGE;
    if (max > OUTBOX_MAX_FETCH)
        max = OUTBOX_MAX_FETCH;
    chat_outbox_item *it = chat_calloc(max, sizeof *it);
    if (it == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "outbox");
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    size_t k = 0, moved = 0, total = 0;
    bool held = false, more = true;
    pthread_mutex_lock(&r->mu);
    chat_err rv = chati_mongo_lease_check(&c, &held);
    /* As many passes as it takes to fill max (or to empty `staged`). */
    while (rv == CHAT_OK && held && more && total < max &&
           (rv = pass(&c, &moved, &more)) == CHAT_OK && moved > 0) {
        total += moved;
        rv = chati_mongo_lease_renew(&c);
    }
    /* A standby reads nothing; neither does a holder with nothing new, nor
     * one that lost the lease during the pass. */
    if (rv == CHAT_OK && held && (rv = chati_mongo_lease_renew(&c)) == CHAT_OK &&
        chati_mongo_holding(r) && (total > 0 || after_seq < r->top_seq))
        rv = read_outbox(&c, after_seq, max, it, &k);
    pthread_mutex_unlock(&r->mu);
    chati_mongo_conn_put(&c);
    if (rv != CHAT_OK || k == 0) {
        chat_outbox_items_free(it, k);
        return rv;
    }
    *items = it;
    *n = k;
    return CHAT_OK;
}

/* The watermark first, fenced by our epoch: a store that lost the lease
 * acks nothing. */
chat_err chati_mongo_outbox_ack(void *impl, int64_t up_to)
{
    chati_mongo *s = impl;
    chati_mongo_relay *r = s->relay;
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    bool held = false;
    pthread_mutex_lock(&r->mu);
    chat_err rv = chati_mongo_lease_check(&c, &held);
    if (rv == CHAT_OK && !held)
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                        "mongodb: outbox_ack: this store does not hold the relay lease");
    bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, max, *v = NULL;
    bson_error_t err;
    chati_mongo_lease_filter(s, &f);
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$max", &max);
    BSON_APPEND_INT64(&max, "ak", up_to);
    bson_append_document_end(&u, &max);
    if (rv == CHAT_OK)
        rv = chati_mongo_lease_modify(&c, &f, &u, &v, "acknowledging outbox");
    if (rv == CHAT_OK && v == NULL) {
        r->ep = 0;
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "mongodb: relay lease lost");
    }
    bson_destroy(v);
    bson_reinit(&f);
    BSON_APPEND_DOCUMENT_BEGIN(&f, "_id", &max);
    BSON_APPEND_INT64(&max, "$lte", up_to);
    bson_append_document_end(&f, &max);
    if (rv == CHAT_OK && !mongoc_collection_delete_many(c.outbox, &f, NULL, NULL, &err))
        rv = chati_mongo_err(&err, "acknowledging outbox");
    pthread_mutex_unlock(&r->mu);
    chati_mongo_conn_put(&c);
    bson_destroy(&f);
    bson_destroy(&u);
    return rv;
}
