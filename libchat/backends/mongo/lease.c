/*
 * libchat/backends/mongo/lease.c - the relay lease. Of the stores sharing a
 * database, only the one holding it relays the outbox (relay.c); the others'
 * relays stand by and one of them takes over when the holder stops renewing
 * it (its process died).
 *
 * The lease is {_id: "relay", own, ep, n, sq, ak} in meta: owner (a store's
 * random id, null once released), epoch (raised at every change of owner),
 * renewal count, the last seq handed out and the acked watermark. The
 * holder renews it (n + 1) at most every RENEW_MS while its relay calls. A
 * standby that has seen the same (own, ep, n) for LEASE_MS on its own clock
 * takes it with a compare-and-set on exactly that value, so no two clocks
 * are ever compared. A holder stops acting HOLD_MS after its last renewal,
 * before a standby can take over. Fencing covers a holder paused past that:
 * relay.c takes seqs and records acks on the lease document with the
 * holder's epoch in the filter.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backends/mongo/mongo.h"

#define LEASE_MS 3000             /* a standby takes over a lease unchanged this long */
#define RENEW_MS 500              /* the holder renews at most this often */
#define HOLD_MS (LEASE_MS - 1000) /* and acts this long after a renewal */
#define WATCH_MS 250              /* a standby reads the lease at most this often */

int64_t chati_mongo_doc_int(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)
               ? bson_iter_as_int64(&it)
               : 0;
}

void chati_mongo_lease_filter(chati_mongo *s, bson_t *f)
{
    BSON_APPEND_UTF8(f, "_id", "relay");
    BSON_APPEND_UTF8(f, "own", s->wid);
    BSON_APPEND_INT64(f, "ep", s->relay->ep);
}

static void tenure_start(chati_mongo_relay *r, int64_t ep, int64_t sq)
{
    r->ep = ep;
    r->renewed_ms = chati_mono_ms();
    r->first_seq = sq + 1;
    r->top_seq = sq;
    r->old_swept = false;
    chati_mongo_relayed_clear(r);
    r->n_wait = 0;
}

/* findAndModify on the lease with filter f; *value (may be NULL) gets the
 * document after the update, NULL when f matched nothing. */
chat_err chati_mongo_lease_modify(chati_mongo_conn *c, const bson_t *f, const bson_t *update,
                                  bson_t **value, const char *what)
{
    bson_t reply;
    bson_error_t err;
    bson_iter_t it;
    *value = NULL;
    if (!mongoc_collection_find_and_modify(c->meta, f, NULL, update, NULL, false, false, true,
                                           &reply, &err)) {
        bson_destroy(&reply);
        return chati_mongo_err(&err, what);
    }
    if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&it, &len, &data);
        *value = bson_new_from_data(data, len);
    }
    bson_destroy(&reply);
    return CHAT_OK;
}

/* The last seq a database of the earlier format handed out (its counter,
 * or the outbox's top), so that the new counter starts above it. */
static chat_err old_top(chati_mongo_conn *c, int64_t *top)
{
    bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
    const bson_t *doc;
    chat_err rv = CHAT_OK;
    *top = 0;
    BSON_APPEND_UTF8(&f, "_id", "outbox");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->meta, &f, NULL, NULL);
    if (mongoc_cursor_next(cur, &doc))
        *top = chati_mongo_doc_int(doc, "n");
    rv = chati_mongo_cursor_end(cur, rv, "reading the outbox counter");
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", -1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", 1);
    bson_t all = BSON_INITIALIZER;
    cur = mongoc_collection_find_with_opts(c->outbox, &all, &opts, NULL);
    if (rv == CHAT_OK && mongoc_cursor_next(cur, &doc) && chati_mongo_doc_int(doc, "_id") > *top)
        *top = chati_mongo_doc_int(doc, "_id");
    rv = chati_mongo_cursor_end(cur, rv, "reading the outbox");
    bson_destroy(&f);
    bson_destroy(&opts);
    bson_destroy(&all);
    return rv;
}

/* No lease yet in this database: create it, held by us. */
static chat_err lease_create(chati_mongo_conn *c)
{
    int64_t top = 0;
    chat_err rv = old_top(c, &top);
    if (rv != CHAT_OK)
        return rv;
    bson_t doc = BSON_INITIALIZER;
    bson_error_t err;
    BSON_APPEND_UTF8(&doc, "_id", "relay");
    BSON_APPEND_UTF8(&doc, "own", c->s->wid);
    BSON_APPEND_INT64(&doc, "ep", 1);
    BSON_APPEND_INT64(&doc, "n", 0);
    BSON_APPEND_INT64(&doc, "sq", top);
    BSON_APPEND_INT64(&doc, "ak", 0);
    if (mongoc_collection_insert_one(c->meta, &doc, NULL, NULL, &err))
        tenure_start(c->s->relay, 1, top);
    else if (!chati_mongo_is_dup(&err)) /* another store was first */
        rv = chati_mongo_err(&err, "creating the relay lease");
    bson_destroy(&doc);
    return rv;
}

/* Takes the lease from the holder seen (own NULL: released), if it is
 * still exactly as seen. */
static chat_err lease_take(chati_mongo_conn *c, const char *own, int64_t ep, int64_t n)
{
    chati_mongo_relay *r = c->s->relay;
    bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, sub, *v = NULL;
    BSON_APPEND_UTF8(&f, "_id", "relay");
    if (own != NULL) {
        BSON_APPEND_UTF8(&f, "own", own);
        BSON_APPEND_INT64(&f, "n", n);
    } else {
        BSON_APPEND_NULL(&f, "own");
    }
    BSON_APPEND_INT64(&f, "ep", ep);
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &sub);
    BSON_APPEND_UTF8(&sub, "own", c->s->wid);
    BSON_APPEND_INT64(&sub, "n", 0);
    bson_append_document_end(&u, &sub);
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$inc", &sub);
    BSON_APPEND_INT64(&sub, "ep", 1);
    bson_append_document_end(&u, &sub);
    /* One taker per epoch even where the compare-and-set is not atomic
     * (FerretDB, see chati_mongo_claim). */
    bool won = false;
    chat_err rv = chati_mongo_claim(c, "relay", ep + 1, &won);
    if (rv == CHAT_OK && won)
        rv = chati_mongo_lease_modify(c, &f, &u, &v, "taking the relay lease");
    if (won && v == NULL) /* it changed meanwhile: the epoch is not ours */
        chati_mongo_unclaim(c, "relay", ep + 1, rv);
    if (v != NULL)
        tenure_start(r, chati_mongo_doc_int(v, "ep"), chati_mongo_doc_int(v, "sq"));
    bson_destroy(v);
    bson_destroy(&f);
    bson_destroy(&u);
    return rv;
}

/* Standby: takes the lease when it is missing, released, or unchanged for
 * LEASE_MS. */
static chat_err lease_watch(chati_mongo_conn *c)
{
    chati_mongo_relay *r = c->s->relay;
    bson_t f = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&f, "_id", "relay");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->meta, &f, NULL, NULL);
    const bson_t *doc;
    bson_error_t err;
    bson_iter_t it;
    chat_err rv = CHAT_OK;
    if (!mongoc_cursor_next(cur, &doc)) {
        if (mongoc_cursor_error(cur, &err))
            rv = chati_mongo_err(&err, "reading the relay lease");
        else
            rv = lease_create(c);
    } else if (!bson_iter_init_find(&it, doc, "own") || !BSON_ITER_HOLDS_UTF8(&it)) {
        rv = lease_take(c, NULL, chati_mongo_doc_int(doc, "ep"), 0);
    } else {
        const char *own = bson_iter_utf8(&it, NULL);
        int64_t ep = chati_mongo_doc_int(doc, "ep"), n = chati_mongo_doc_int(doc, "n");
        int64_t now = chati_mono_ms();
        if (strcmp(own, r->seen_own) != 0 || ep != r->seen_ep || n != r->seen_n) {
            chati_copy_fixed(r->seen_own, sizeof r->seen_own, own);
            r->seen_ep = ep;
            r->seen_n = n;
            r->seen_ms = now;
        } else if (now - r->seen_ms >= LEASE_MS) {
            rv = lease_take(c, own, ep, n);
        }
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&f);
    return rv;
}

bool chati_mongo_holding(const chati_mongo_relay *r)
{
    return r->ep != 0 && chati_mono_ms() - r->renewed_ms < HOLD_MS;
}

/* Renews the lease we hold when RENEW_MS have passed (also during a long
 * pass: a standby must not see it unchanged for LEASE_MS). */
chat_err chati_mongo_lease_renew(chati_mongo_conn *c)
{
    chati_mongo_relay *r = c->s->relay;
    chat_err rv = CHAT_OK;
    if (r->ep != 0 && chati_mono_ms() - r->renewed_ms >= RENEW_MS) {
        bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, inc, reply;
        bson_error_t err;
        bson_iter_t it;
        chati_mongo_lease_filter(c->s, &f);
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$inc", &inc);
        BSON_APPEND_INT64(&inc, "n", 1);
        bson_append_document_end(&u, &inc);
        if (!mongoc_collection_update_one(c->meta, &f, &u, NULL, &reply, &err))
            rv = chati_mongo_err(&err, "renewing the relay lease");
        else if (bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0)
            r->renewed_ms = chati_mono_ms();
        else
            r->ep = 0; /* taken over: we were away too long */
        bson_destroy(&reply);
        bson_destroy(&f);
        bson_destroy(&u);
    }
    return rv;
}

/* Takes, renews or watches the lease; *held: whether we hold it now. */
chat_err chati_mongo_lease_check(chati_mongo_conn *c, bool *held)
{
    chati_mongo_relay *r = c->s->relay;
    chat_err rv = chati_mongo_lease_renew(c);
    int64_t now = chati_mono_ms();
    if (rv == CHAT_OK && r->ep == 0 && (r->watched_ms == 0 || now - r->watched_ms >= WATCH_MS)) {
        r->watched_ms = now;
        rv = lease_watch(c);
    }
    *held = chati_mongo_holding(r);
    return rv;
}

chat_err chati_mongo_relay_new(chati_mongo *s)
{
    chati_mongo_relay *r = chat_calloc(1, sizeof *r);
    if (r == NULL || (r->ids = chat_calloc(CHATI_MONGO_RELAYED_MAX, CHATI_MONGO_ITEM_ID)) == NULL ||
        (r->slots = chat_calloc(2 * CHATI_MONGO_RELAYED_MAX, sizeof *r->slots)) == NULL) {
        if (r != NULL)
            chat_free(r->ids);
        chat_free(r);
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    pthread_mutex_init(&r->mu, NULL);
    s->relay = r;
    return CHAT_OK;
}

void chati_mongo_relay_free(chati_mongo *s)
{
    chati_mongo_relay *r = s->relay;
    if (r == NULL)
        return;
    if (r->ep != 0 && s->pool != NULL) {
        /* Released: a standby takes it at once instead of after LEASE_MS. */
        chati_mongo_conn c;
        chati_mongo_conn_get(s, &c);
        bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, set;
        chati_mongo_lease_filter(s, &f);
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
        BSON_APPEND_NULL(&set, "own");
        bson_append_document_end(&u, &set);
        mongoc_collection_update_one(c.meta, &f, &u, NULL, NULL, NULL);
        bson_destroy(&f);
        bson_destroy(&u);
        chati_mongo_conn_put(&c);
    }
    pthread_mutex_destroy(&r->mu);
    chat_free(r->ids);
    chat_free(r->slots);
    chat_free(r);
    s->relay = NULL;
}

chat_err chati_mongo_outbox_lease(void *impl, bool *held)
{
    chati_mongo *s = impl;
    bool h = false;
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    pthread_mutex_lock(&s->relay->mu);
    chat_err rv = chati_mongo_lease_check(&c, &h);
    pthread_mutex_unlock(&s->relay->mu);
    chati_mongo_conn_put(&c);
    if (held != NULL)
        *held = h;
    return rv;
}

