/*
 * libchat/backends/mongo/scheduled.c - messages waiting for their time
 * (chat.scheduleMessage), in the `scheduled` collection:
 *
 *   _id id   tm team   ch channel   u user   pa post_at (s)   cr created (s)
 *   tx text  d the post (libchat's JSON)   lu leased until (ms)
 *
 * A lease is a find-and-modify per message. FerretDB 1.x applies updates
 * non-atomically, so two schedulers may lease one message at once: both then
 * post it with the message's id as client_msg_id, and the messages
 * collection's unique (channel, client_msg_id) index keeps the second out.
 */
#include <string.h>

#include "backends/mongo/mongo.h"

static mongoc_collection_t *coll(chati_mongo_conn *c)
{
    return mongoc_client_get_collection(c->client, c->s->db, "scheduled");
}

static bool bad_id(const char *id)
{
    return id == NULL || id[0] == '\0' || strlen(id) >= CHAT_ID_SIZE;
}

chat_err chati_mongo_schedule(void *impl, const chat_scheduled *q)
{
    chati_mongo *s = impl;
    if (q == NULL || bad_id(q->id) || bad_id(q->team_id) || bad_id(q->channel) ||
        bad_id(q->user) || q->text == NULL || q->data == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a scheduled message needs ids and data");
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    mongoc_collection_t *sc = coll(&c);
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "_id", q->id);
    BSON_APPEND_UTF8(&doc, "tm", q->team_id);
    BSON_APPEND_UTF8(&doc, "ch", q->channel);
    BSON_APPEND_UTF8(&doc, "u", q->user);
    BSON_APPEND_INT64(&doc, "pa", q->post_at);
    BSON_APPEND_INT64(&doc, "cr", q->created);
    BSON_APPEND_UTF8(&doc, "tx", q->text);
    BSON_APPEND_UTF8(&doc, "d", q->data);
    BSON_APPEND_INT64(&doc, "lu", 0);
    bson_error_t err;
    chat_err rv = mongoc_collection_insert_one(sc, &doc, NULL, NULL, &err)
                      ? CHAT_OK
                      : chati_mongo_err(&err, "scheduling a message");
    bson_destroy(&doc);
    mongoc_collection_destroy(sc);
    chati_mongo_conn_put(&c);
    return rv;
}

static chat_err read_doc(const bson_t *doc, chat_scheduled *q)
{
    memset(q, 0, sizeof *q);
    bson_iter_t it;
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const char *str = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
        if (strcmp(k, "_id") == 0 && str)
            chati_copy_fixed(q->id, sizeof q->id, str);
        else if (strcmp(k, "tm") == 0 && str)
            chati_copy_fixed(q->team_id, sizeof q->team_id, str);
        else if (strcmp(k, "ch") == 0 && str)
            chati_copy_fixed(q->channel, sizeof q->channel, str);
        else if (strcmp(k, "u") == 0 && str)
            chati_copy_fixed(q->user, sizeof q->user, str);
        else if (strcmp(k, "pa") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            q->post_at = bson_iter_as_int64(&it);
        else if (strcmp(k, "cr") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            q->created = bson_iter_as_int64(&it);
        else if (strcmp(k, "tx") == 0 && str && (q->text = chat_strdup(str)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "scheduled message");
        else if (strcmp(k, "d") == 0 && str && (q->data = chat_strdup(str)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "scheduled message");
    }
    if (q->id[0] == '\0' || q->text == NULL || q->data == NULL)
        return chati_fail(CHAT_ERR_STORAGE, "mongodb: a malformed scheduled message");
    return CHAT_OK;
}

/* Appends doc to *qs (k of them so far). */
static chat_err append(chat_scheduled **qs, size_t *k, const bson_t *doc)
{
    chat_scheduled *grown = chat_realloc(*qs, (*k + 1) * sizeof **qs);
    if (grown == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "scheduled messages");
    *qs = grown;
    chat_err rv = read_doc(doc, &grown[*k]);
    if (rv != CHAT_OK) {
        chat_free(grown[*k].text);
        chat_free(grown[*k].data);
        return rv;
    }
    (*k)++;
    return CHAT_OK;
}

chat_err chati_mongo_list_scheduled(void *impl, const char *team_id, const char *user,
                                    const char *channel, size_t max, chat_scheduled **out,
                                    size_t *n)
{
    chati_mongo *s = impl;
    if (bad_id(team_id) || bad_id(user) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a team and a user");
    *out = NULL;
    *n = 0;
    bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
    BSON_APPEND_UTF8(&f, "tm", team_id);
    BSON_APPEND_UTF8(&f, "u", user);
    if (channel && *channel)
        BSON_APPEND_UTF8(&f, "ch", channel);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "pa", 1);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", (int64_t)max);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    mongoc_collection_t *sc = coll(&c);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(sc, &f, &opts, NULL);
    const bson_t *doc;
    chat_scheduled *qs = NULL;
    size_t k = 0;
    chat_err rv = CHAT_OK;
    while (rv == CHAT_OK && k < max && mongoc_cursor_next(cur, &doc))
        rv = append(&qs, &k, doc);
    rv = chati_mongo_cursor_end(cur, rv, "listing scheduled messages");
    mongoc_collection_destroy(sc);
    chati_mongo_conn_put(&c);
    bson_destroy(&f);
    bson_destroy(&opts);
    if (rv != CHAT_OK) {
        chat_scheduled_free(qs, k);
        return rv;
    }
    *out = qs;
    *n = k;
    return CHAT_OK;
}

chat_err chati_mongo_unschedule(void *impl, const char *id, const char *user)
{
    chati_mongo *s = impl;
    if (bad_id(id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an id");
    bson_t f = BSON_INITIALIZER, reply;
    BSON_APPEND_UTF8(&f, "_id", id);
    if (user && *user)
        BSON_APPEND_UTF8(&f, "u", user);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    mongoc_collection_t *sc = coll(&c);
    bson_error_t err;
    bson_iter_t it;
    chat_err rv;
    if (!mongoc_collection_delete_one(sc, &f, NULL, &reply, &err))
        rv = chati_mongo_err(&err, "unscheduling a message");
    else if (!bson_iter_init_find(&it, &reply, "deletedCount") || !BSON_ITER_HOLDS_NUMBER(&it) ||
             bson_iter_as_int64(&it) == 0)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no scheduled message %.30s", id);
    else
        rv = CHAT_OK;
    bson_destroy(&reply);
    bson_destroy(&f);
    mongoc_collection_destroy(sc);
    chati_mongo_conn_put(&c);
    return rv;
}

chat_err chati_mongo_lease_scheduled(void *impl, int64_t now_ms, int64_t lease_ms, size_t max,
                                     chat_scheduled **out, size_t *n)
{
    chati_mongo *s = impl;
    if (out == NULL || n == NULL || max == 0 || lease_ms <= 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a lease and a count");
    *out = NULL;
    *n = 0;
    bson_t q = BSON_INITIALIZER, cond, sort = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&q, "pa", &cond);
    BSON_APPEND_INT64(&cond, "$lte", now_ms / 1000);
    bson_append_document_end(&q, &cond);
    BSON_APPEND_DOCUMENT_BEGIN(&q, "lu", &cond);
    BSON_APPEND_INT64(&cond, "$lte", now_ms);
    bson_append_document_end(&q, &cond);
    BSON_APPEND_INT32(&sort, "pa", 1);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_INT64(&set, "lu", now_ms + lease_ms);
    bson_append_document_end(&update, &set);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    mongoc_collection_t *sc = coll(&c);
    chat_scheduled *qs = NULL;
    size_t k = 0;
    chat_err rv = CHAT_OK;
    while (rv == CHAT_OK && k < max) {
        bson_t reply;
        bson_error_t err;
        bson_iter_t it;
        if (!mongoc_collection_find_and_modify(sc, &q, &sort, &update, NULL, false, false, true,
                                               &reply, &err)) {
            rv = chati_mongo_err(&err, "leasing scheduled messages");
        } else if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            const uint8_t *data;
            uint32_t len;
            bson_t doc;
            bson_iter_document(&it, &len, &data);
            if (bson_init_static(&doc, data, len))
                rv = append(&qs, &k, &doc);
        } else {
            bson_destroy(&reply);
            break; /* nothing more is due */
        }
        bson_destroy(&reply);
    }
    mongoc_collection_destroy(sc);
    chati_mongo_conn_put(&c);
    bson_destroy(&q);
    bson_destroy(&sort);
    bson_destroy(&update);
    if (rv != CHAT_OK && k == 0) {
        chat_scheduled_free(qs, k);
        return rv;
    }
    *out = qs; /* what was leased before a failure is handed out: its lease stands */
    *n = k;
    return CHAT_OK;
}
