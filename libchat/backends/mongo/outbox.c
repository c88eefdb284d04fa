/*
 * libchat/backends/mongo/outbox.c - the outbox without transactions, the
 * writers' side (relay.c is the relay's).
 *
 * A change and its event must both be kept or both be lost, and MongoDB
 * (FerretDB 1.x in particular) has no multi-document transaction. So the
 * event is written first, as an intent in `staged`, and the change's
 * single-document write, which is its commit point, names it: li (and, for
 * a post, pi) = the item's id. The relay (relay.c) relays an intent once
 * its document shows it committed; an intent whose change never commits
 * (the write lost a race, or the writer died in between) is dropped, by
 * the writer when it knows, else by the relay, which first makes sure the
 * write can never land late (it fences: takes the post's _id, or bumps the
 * version the update was guarded by).
 *
 * Nothing here chooses a seq. Several stores (processes) write one
 * database, and a seq taken before the commit lets a relay see N+1
 * committed while N is still in flight, then skip N for good. The one store
 * holding the relay lease gives committed intents their seqs, in stamp
 * order and never before the item each one follows (dp): the previous item
 * of the same message (edits and reactions in the order they were made)
 * and, for a post, the latest item of the message before it in the channel
 * (posts in ts order).
 *
 * A message document is written once per change (the old design also
 * cleared a copy of the item out of it afterwards, an update that costs
 * FerretDB a scan of the collection).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backends/mongo/mongo.h"

/* A new item id and a stamp above the clock, this store's last stamp and
 * dep's. Under wmu. */
static void new_stamp(chati_mongo *s, const chati_mongo_stamp *dep, chati_mongo_stamp *st)
{
    int64_t o = chati_now_us();
    if (o <= s->hlc)
        o = s->hlc + 1;
    if (dep != NULL && dep->o >= o)
        o = dep->o + 1;
    s->hlc = o;
    st->o = o;
    snprintf(st->id, sizeof st->id, "%s.%" PRIu64, s->wid, ++s->n_items);
}

/* The intent: {_id: id, o, m, pt | gv, dp, t, k, d}. */
static void build_intent(const chati_mongo_stamp *st, const chati_mongo_change *ch,
                         const chat_outbox_item *it, bson_t *rec)
{
    BSON_APPEND_UTF8(rec, "_id", st->id);
    BSON_APPEND_INT64(rec, "o", st->o);
    if (ch != NULL) {
        BSON_APPEND_UTF8(rec, "m", ch->doc);
        if (ch->post)
            BSON_APPEND_BOOL(rec, "pt", true);
        else
            BSON_APPEND_INT64(rec, "gv", ch->guard);
        if (ch->dep->id[0] != '\0')
            BSON_APPEND_UTF8(rec, "dp", ch->dep->id);
    }
    BSON_APPEND_UTF8(rec, "t", it->topic);
    if (it->key != NULL && it->key[0] != '\0')
        BSON_APPEND_UTF8(rec, "k", it->key);
    bson_append_binary(rec, "d", 1, BSON_SUBTYPE_BINARY,
                       it->data != NULL ? it->data : (const void *)"", (uint32_t)it->len);
}

static chat_err insert_intent(chati_mongo_conn *c, const bson_t *rec)
{
    bson_error_t err;
    if (!mongoc_collection_insert_one(c->staged, rec, NULL, NULL, &err))
        return chati_mongo_err(&err, "writing an outbox item");
    return CHAT_OK;
}

chat_err chati_mongo_intend(chati_mongo_conn *c, chat_outbox_fn fn, void *arg,
                            const chat_message *m, const chati_mongo_change *ch,
                            chati_mongo_stamp *st)
{
    memset(st, 0, sizeof *st);
    if (fn == NULL)
        return CHAT_OK;
    chat_outbox_item it = {0};
    chat_err rv = fn(arg, m, &it);
    if (rv == CHAT_OK && it.topic == NULL)
        rv = chati_fail(CHAT_ERR_INTERNAL, "outbox item has no topic");
    if (rv == CHAT_OK) {
        bson_t rec = BSON_INITIALIZER;
        new_stamp(c->s, ch->dep, st);
        build_intent(st, ch, &it, &rec);
        rv = insert_intent(c, &rec);
        bson_destroy(&rec);
        if (rv != CHAT_OK)
            memset(st, 0, sizeof *st);
    }
    chat_free(it.topic);
    chat_free(it.key);
    chat_free(it.data);
    return rv;
}

void chati_mongo_unintend(chati_mongo_conn *c, const chati_mongo_stamp *st, chat_err why)
{
    /* Unreachable: the write may still land, the relay finds out. */
    if (st->id[0] == '\0' || why == CHAT_ERR_SERVICE_UNAVAILABLE)
        return;
    bson_t f = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&f, "_id", st->id);
    mongoc_collection_delete_one(c->staged, &f, NULL, NULL, NULL);
    bson_destroy(&f);
}

chat_err chati_mongo_outbox_add(void *impl, const chat_outbox_item *item)
{
    chati_mongo *s = impl;
    if (item == NULL || item->topic == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "outbox_add: no item or topic");
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    bson_t rec = BSON_INITIALIZER;
    chati_mongo_stamp st;
    pthread_mutex_lock(&s->wmu);
    new_stamp(s, NULL, &st);
    build_intent(&st, NULL, item, &rec);
    /* No document to change: the intent is the commit. */
    chat_err rv = insert_intent(&c, &rec);
    pthread_mutex_unlock(&s->wmu);
    chati_mongo_conn_put(&c);
    bson_destroy(&rec);
    return rv;
}
