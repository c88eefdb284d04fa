/*
 * libchat/backends/mongo/outbox.c - the outbox without transactions.
 *
 * A change and its event must both be kept or both be lost, and MongoDB
 * (FerretDB 1.x in particular) has no multi-document transaction. So the
 * event rides in the changed message's own document: the write that makes
 * the change also $pushes {s: seq, t, k, d} onto its `ob` array, one
 * single-document write that is atomic everywhere. That write is the commit
 * point. Afterwards the item is copied into the outbox collection (_id =
 * seq; copying twice is a harmless duplicate-key) and `ob` is cleared; when
 * that fails (server gone, process killed) the item stays in the document
 * and outbox_fetch sweeps every document with an `ob` before reading.
 *
 * The relay must never see seq N+1 and later N (outbox_ack(N+1) would drop
 * N unseen).
 *
 * Clearing `ob` after the copy is batched (see unset_ids in mongo.h), so a
 * document may still hold items that were copied, delivered and acked: the
 * sweep must not bring those back. outbox_ack raises a watermark ({_id:
 * "acked"} in meta) before deleting, and the sweep skips items at or below
 * it. Seqs come from a counter ({_id: "outbox"} in meta, never reset,
 * so acked seqs are never reused), and allocation, the write that carries the
 * item and fetch all run under the store's write mutex, so within a process
 * an item is in its document before any later seq exists, and fetch sweeps
 * documents before reading the collection. Several stores (processes)
 * writing one database would need a lease on top of this: one writing store
 * per database is a documented requirement (README.md).
 */
#include <inttypes.h>
#include <string.h>

#include "backends/mongo/mongo.h"

chat_err chati_mongo_outbox_item(chati_mongo_conn *c, chat_outbox_fn fn, void *arg,
                                 const chat_message *m, bson_t *item, int64_t *seq)
{
    *seq = 0;
    if (fn == NULL)
        return CHAT_OK;
    chat_outbox_item it = {0};
    chat_err rv = fn(arg, m, &it);
    if (rv == CHAT_OK && it.topic == NULL)
        rv = chati_fail(CHAT_ERR_INTERNAL, "outbox item has no topic");
    if (rv == CHAT_OK)
        rv = chati_mongo_next_seq(c, seq);
    if (rv == CHAT_OK) {
        BSON_APPEND_INT64(item, "s", *seq);
        BSON_APPEND_UTF8(item, "t", it.topic);
        if (it.key != NULL && it.key[0] != '\0')
            BSON_APPEND_UTF8(item, "k", it.key);
        bson_append_binary(item, "d", 1, BSON_SUBTYPE_BINARY, it.data != NULL ? it.data : "",
                           (uint32_t)it.len);
    }
    chat_free(it.topic);
    chat_free(it.key);
    chat_free(it.data);
    return rv;
}

/* Copies one pending item {s, t, k, d} into the outbox collection. */
static chat_err copy_item(chati_mongo_conn *c, const bson_t *item)
{
    bson_t doc = BSON_INITIALIZER;
    bson_iter_t it;
    bson_error_t err;
    chat_err rv = CHAT_OK;
    if (!bson_iter_init(&it, item))
        return chati_fail(CHAT_ERR_STORAGE, "mongodb: malformed outbox item");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bson_append_iter(&doc, strcmp(k, "s") == 0 ? "_id" : k, -1, &it);
    }
    if (!mongoc_collection_insert_one(c->outbox, &doc, NULL, NULL, &err) &&
        !chati_mongo_is_dup(&err))
        rv = chati_mongo_err(&err, "writing outbox");
    bson_destroy(&doc);
    return rv;
}

/* The acked watermark: every item at or below it was delivered. */
static chat_err acked_mark(chati_mongo_conn *c, int64_t *mark)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", "acked");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->meta, &filter, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    bson_error_t err;
    chat_err rv = CHAT_OK;
    *mark = 0;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "n") &&
        BSON_ITER_HOLDS_NUMBER(&it))
        *mark = bson_iter_as_int64(&it);
    if (mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, "reading the outbox watermark");
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    return rv;
}

/* Moves every pending item above mark of one document, then clears them (or
 * deletes the document when it is a removed message's tombstone). */
static chat_err flush_doc(chati_mongo_conn *c, const bson_t *doc, int64_t mark)
{
    bson_iter_t it, ob, id;
    chat_err rv = CHAT_OK;
    bool tomb = bson_iter_init_find(&it, doc, "x") && bson_iter_as_bool(&it);
    if (!bson_iter_init_find(&id, doc, "_id"))
        return chati_fail(CHAT_ERR_STORAGE, "mongodb: message without _id");
    if (bson_iter_init_find(&it, doc, "ob") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &ob)) {
        while (rv == CHAT_OK && bson_iter_next(&ob)) {
            uint32_t len;
            const uint8_t *data;
            bson_t item;
            if (!BSON_ITER_HOLDS_DOCUMENT(&ob))
                continue;
            bson_iter_document(&ob, &len, &data);
            bson_iter_t seq;
            if (bson_init_static(&item, data, len) &&
                !(bson_iter_init_find(&seq, &item, "s") && BSON_ITER_HOLDS_NUMBER(&seq) &&
                  bson_iter_as_int64(&seq) <= mark))
                rv = copy_item(c, &item);
        }
    }
    if (rv != CHAT_OK)
        return rv;
    bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, unset;
    bson_error_t err;
    bson_append_iter(&filter, "_id", -1, &id);
    bool ok;
    if (tomb) {
        ok = mongoc_collection_delete_one(c->msgs, &filter, NULL, NULL, &err);
    } else {
        BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
        BSON_APPEND_UTF8(&unset, "ob", "");
        bson_append_document_end(&update, &unset);
        ok = mongoc_collection_update_one(c->msgs, &filter, &update, NULL, NULL, &err);
    }
    if (!ok)
        rv = chati_mongo_err(&err, "clearing moved outbox items");
    bson_destroy(&filter);
    bson_destroy(&update);
    return rv;
}

/* Moves the items of every document that has any. In any order: fetch
 * reads the collection only after all of them are in (under wmu). */
static chat_err sweep(chati_mongo_conn *c)
{
    int64_t mark = 0;
    chat_err rv = acked_mark(c, &mark);
    if (rv != CHAT_OK)
        return rv;
    c->s->n_unset = 0; /* those documents are among the ones swept */
    bson_t filter = BSON_INITIALIZER, ex;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "ob", &ex);
    BSON_APPEND_BOOL(&ex, "$exists", true);
    bson_append_document_end(&filter, &ex);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->msgs, &filter, NULL, NULL);
    const bson_t *doc;
    while (rv == CHAT_OK && mongoc_cursor_next(cur, &doc))
        rv = flush_doc(c, doc, mark);
    bson_error_t err;
    if (rv == CHAT_OK && mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, "collecting pending outbox items");
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    return rv;
}

/* Clears `ob` of the documents in unset_ids with one update. */
static void unset_batch(chati_mongo_conn *c)
{
    chati_mongo *s = c->s;
    if (s->n_unset == 0)
        return;
    bson_t filter = BSON_INITIALIZER, in, arr, update = BSON_INITIALIZER, unset;
    bson_error_t err;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    for (size_t i = 0; i < s->n_unset; i++) {
        char idx[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, idx, sizeof idx);
        bson_append_utf8(&arr, k, -1, s->unset_ids[i], -1);
    }
    bson_append_array_end(&in, &arr);
    bson_append_document_end(&filter, &in);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
    BSON_APPEND_UTF8(&unset, "ob", "");
    bson_append_document_end(&update, &unset);
    if (!mongoc_collection_update_many(c->msgs, &filter, &update, NULL, NULL, &err))
        s->dirty = true; /* the sweep clears them */
    s->n_unset = 0;
    bson_destroy(&filter);
    bson_destroy(&update);
}

void chati_mongo_outbox_flush(chati_mongo_conn *c, const char *msg_id, const bson_t *item,
                              bool tombstone)
{
    chati_mongo *s = c->s;
    /* Dirty: other documents hold older items; the next fetch sweeps them
     * all, this one included. Clean: item is the only one not copied. */
    if (s->dirty)
        return;
    bool ok = copy_item(c, item) == CHAT_OK;
    if (ok && tombstone) {
        bson_t filter = BSON_INITIALIZER;
        bson_error_t err;
        BSON_APPEND_UTF8(&filter, "_id", msg_id);
        ok = mongoc_collection_delete_one(c->msgs, &filter, NULL, NULL, &err);
        bson_destroy(&filter);
    } else if (ok) {
        bool listed = false;
        for (size_t i = 0; i < s->n_unset && !listed; i++)
            listed = strcmp(s->unset_ids[i], msg_id) == 0;
        if (!listed)
            snprintf(s->unset_ids[s->n_unset++], sizeof s->unset_ids[0], "%s", msg_id);
        /* A document changed again before its batch was cleared (a message
         * collecting reactions) clears now: otherwise it would carry every
         * copy of itself, each rewrite costlier than the last. */
        if (listed || s->n_unset == CHATI_ARRAY_LEN(s->unset_ids))
            unset_batch(c);
    }
    if (!ok) {
        chati_clear_errmsg();
        s->dirty = true;
        s->n_unset = 0;
    }
}

#define OUTBOX_MAX_FETCH 10000

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

chat_err chati_mongo_outbox_fetch(void *impl, int64_t after_seq, size_t max,
                                  chat_outbox_item **items, size_t *n)
{
    chati_mongo *s = impl;
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
    chat_err rv = CHAT_OK;
    size_t k = 0;
    /* Under wmu: no seq below what we read can appear later (see top). */
    pthread_mutex_lock(&s->wmu);
    if (s->dirty && (rv = sweep(&c)) == CHAT_OK)
        s->dirty = false;
    if (rv == CHAT_OK) {
        bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, gt, sort;
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &gt);
        BSON_APPEND_INT64(&gt, "$gt", after_seq);
        bson_append_document_end(&filter, &gt);
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
        BSON_APPEND_INT32(&sort, "_id", 1);
        bson_append_document_end(&opts, &sort);
        BSON_APPEND_INT64(&opts, "limit", (int64_t)max);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c.outbox, &filter, &opts, NULL);
        const bson_t *doc;
        while (rv == CHAT_OK && k < max && mongoc_cursor_next(cur, &doc))
            rv = read_item(doc, &it[k++]);
        bson_error_t err;
        if (rv == CHAT_OK && mongoc_cursor_error(cur, &err))
            rv = chati_mongo_err(&err, "reading outbox");
        mongoc_cursor_destroy(cur);
        bson_destroy(&filter);
        bson_destroy(&opts);
    }
    pthread_mutex_unlock(&s->wmu);
    chati_mongo_conn_put(&c);
    if (rv != CHAT_OK || k == 0) {
        chat_outbox_items_free(it, k);
        return rv;
    }
    *items = it;
    *n = k;
    return CHAT_OK;
}

/* The watermark first: items at or below it may then go, and a sweep
 * (same mutex) never copies them back from a document. */
chat_err chati_mongo_outbox_ack(void *impl, int64_t up_to)
{
    chati_mongo *s = impl;
    chati_mongo_conn c;
    bson_t filter = BSON_INITIALIZER, lte, mq = BSON_INITIALIZER, mu = BSON_INITIALIZER, max,
           opts = BSON_INITIALIZER;
    bson_error_t err;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &lte);
    BSON_APPEND_INT64(&lte, "$lte", up_to);
    bson_append_document_end(&filter, &lte);
    BSON_APPEND_UTF8(&mq, "_id", "acked");
    BSON_APPEND_DOCUMENT_BEGIN(&mu, "$max", &max);
    BSON_APPEND_INT64(&max, "n", up_to);
    bson_append_document_end(&mu, &max);
    BSON_APPEND_BOOL(&opts, "upsert", true);
    chati_mongo_conn_get(s, &c);
    chat_err rv = CHAT_OK;
    pthread_mutex_lock(&s->wmu);
    if (!mongoc_collection_update_one(c.meta, &mq, &mu, &opts, NULL, &err))
        rv = chati_mongo_err(&err, "acknowledging outbox");
    else if (!mongoc_collection_delete_many(c.outbox, &filter, NULL, NULL, &err))
        rv = chati_mongo_err(&err, "acknowledging outbox");
    pthread_mutex_unlock(&s->wmu);
    chati_mongo_conn_put(&c);
    bson_destroy(&filter);
    bson_destroy(&mq);
    bson_destroy(&mu);
    bson_destroy(&opts);
    return rv;
}

chat_err chati_mongo_outbox_add(void *impl, const chat_outbox_item *item)
{
    chati_mongo *s = impl;
    if (item == NULL || item->topic == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "outbox_add: no item or topic");
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    int64_t seq = 0;
    bson_error_t err;
    pthread_mutex_lock(&s->wmu);
    chat_err rv = chati_mongo_next_seq(&c, &seq);
    if (rv == CHAT_OK) {
        bson_t doc = BSON_INITIALIZER;
        BSON_APPEND_INT64(&doc, "_id", seq);
        BSON_APPEND_UTF8(&doc, "t", item->topic);
        if (item->key != NULL && item->key[0] != '\0')
            BSON_APPEND_UTF8(&doc, "k", item->key);
        bson_append_binary(&doc, "d", 1, BSON_SUBTYPE_BINARY,
                           item->data != NULL ? item->data : (const void *)"",
                           (uint32_t)item->len);
        if (!mongoc_collection_insert_one(c.outbox, &doc, NULL, NULL, &err))
            rv = chati_mongo_err(&err, "writing outbox");
        bson_destroy(&doc);
    }
    pthread_mutex_unlock(&s->wmu);
    chati_mongo_conn_put(&c);
    return rv;
}
