/*
 * libchat/backends/sqlite/message_outbox.c - the outbox: an event row written
 * in the transaction of each change, so an event is never lost or invented,
 * read and acknowledged by the relay (domain/outbox.c).
 */
#include <string.h>

#include "backends/sqlite/message_store.h"

static chat_err outbox_insert(chati_sqlite_msgs *s, const char *topic, const char *key,
                              const void *data, size_t len)
{
    sqlite3_stmt *st = NULL;
    if (topic == NULL)
        return chati_fail(CHAT_ERR_INTERNAL, "outbox item has no topic");
    chat_err rv = prep(s,
                       "INSERT INTO outbox(seq, topic, key, data) VALUES ((SELECT max("
                       "coalesce((SELECT max(seq) FROM outbox), 0), "
                       "(SELECT v FROM meta WHERE k = 'outbox_acked')) + 1), ?1, ?2, ?3)",
                       &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, topic);
        bind_opt(st, 2, key);
        if (data != NULL)
            sqlite3_bind_blob64(st, 3, data, len, SQLITE_STATIC);
        else
            sqlite3_bind_zeroblob(st, 3, 0);
        rv = step_done(s, st, "writing outbox");
        sqlite3_clear_bindings(st); /* data belongs to the caller */
    }
    return rv;
}

chat_err chati_sqlite_outbox_put(chati_sqlite_msgs *s, chat_outbox_fn fn, void *arg,
                                 const chat_message *m)
{
    if (fn == NULL)
        return CHAT_OK;
    chat_outbox_item it = {0};
    chat_err rv = fn(arg, m, &it);
    if (rv == CHAT_OK)
        rv = outbox_insert(s, it.topic, it.key, it.data, it.len);
    chat_free(it.topic);
    chat_free(it.key);
    chat_free(it.data);
    return rv;
}

#define OUTBOX_MAX_FETCH 10000

chat_err chati_sqlite_outbox_fetch(void *impl, int64_t after_seq, size_t max,
                                   chat_outbox_item **items, size_t *n)
{
    chati_sqlite_msgs *s = impl;
    sqlite3_stmt *st;
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
    size_t k = 0;
    chati_db_lock(s->db);
    chat_err rv = prep(s,
                       "SELECT seq, topic, key, data FROM outbox WHERE seq > ?1 "
                       "ORDER BY seq LIMIT ?2",
                       &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, after_seq);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            chat_outbox_item *e = &it[k++];
            e->seq = sqlite3_column_int64(st, 0);
            rv = col_dup(st, 1, &e->topic);
            if (rv == CHAT_OK)
                rv = col_dup(st, 2, &e->key);
            int len = sqlite3_column_bytes(st, 3);
            const void *data = sqlite3_column_blob(st, 3);
            if (rv == CHAT_OK && len > 0) {
                if ((e->data = chat_malloc((size_t)len)) == NULL)
                    rv = chati_fail(CHAT_ERR_NOMEM, "outbox");
                else
                    memcpy(e->data, data, (size_t)len);
                e->len = (size_t)len;
            }
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "reading outbox");
        sqlite3_reset(st);
    }
    chati_db_unlock(s->db);
    if (rv != CHAT_OK || k == 0) {
        chat_outbox_items_free(it, k);
        return rv;
    }
    *items = it;
    *n = k;
    return CHAT_OK;
}

chat_err chati_sqlite_outbox_ack(void *impl, int64_t up_to)
{
    chati_sqlite_msgs *s = impl;
    sqlite3_stmt *st;
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = prep(s, "DELETE FROM outbox WHERE seq <= ?1", &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, up_to);
        rv = step_done(s, st, "acknowledging outbox");
    }
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE meta SET v = max(v, ?1) WHERE k = 'outbox_acked'", &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, up_to);
        rv = step_done(s, st, "acknowledging outbox");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

chat_err chati_sqlite_outbox_add(void *impl, const chat_outbox_item *item)
{
    chati_sqlite_msgs *s = impl;
    if (item == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "outbox_add: no item");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = outbox_insert(s, item->topic, item->key, item->data, item->len);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}
