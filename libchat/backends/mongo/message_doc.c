/*
 * libchat/backends/mongo/message_doc.c - a message as a MongoDB document.
 *
 *   _id  "<channel>:<ts>"   c   channel     ts  int64 µs     u  user
 *   tm   team               t   text        st  subtype (absent: none)
 *   th   parent ts (int64; replies only)    cm  client_msg_id (absent: none)
 *   k    "c:"+client_msg_id or "t:"+ts, unique per channel (see conn.c)
 *   eu, et   edited user / ts (absent until edited)
 *   rc, lr, ru   reply count, latest reply ts, reply users (thread parents)
 *   r    reactions [{n: name, u: [users]}] in order of first use
 *   f, mn, mf    files, mentions, mention flags     rb  reply_broadcast
 *   inh  shown in history (top-level or broadcast), so history is one
 *        equality plus a range on an index
 *   w    search words (search_text.c)
 *   v    version, bumped by read-modify-write changes (reactions)
 *   q    "<channel>:<ts of the message before>", unique: the channel's chain
 *        of posts (message_store.c)
 *   pi   id of the post's outbox item; li, lo: id and stamp of the latest
 *        item of this message (the writes that commit them, outbox.c)
 *   ob   outbox items of the earlier format, until a relay moves them out
 *   bk, at, md   blocks, attachments, metadata: JSON text (absent: none)
 *   un, ie, iu, bi   username, icon_emoji, icon_url, bot_id (absent: none)
 *   fl   CHAT_MESSAGE_* flags (absent: 0)
 *   x    true on a removed message: what is left of it (_id, q, ts) keeps
 *        its place in the chain; its c is then "-<channel>", which no query
 *        by channel matches
 *
 * Everything a message shows is in its document, so a page is one find.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backends/mongo/mongo.h"

chat_err chati_mongo_parse_ts(const char *ts, int64_t *us, chat_err missing)
{
    if (ts == NULL || ts[0] == '\0')
        return chati_fail(missing, "no timestamp given");
    if (!chati_ts_parse(ts, us))
        return chati_fail(CHAT_ERR_INVALID_TS, "invalid ts \"%s\"", ts);
    return CHAT_OK;
}

void chati_mongo_msg_id(const char *channel, int64_t ts, char out[64])
{
    snprintf(out, 64, "%s:%016" PRId64, channel, ts);
}

chat_err chati_mongo_msg_doc(const chat_message *v, int64_t ts, int64_t thread, bson_t *doc)
{
    char id[64];
    chati_mongo_msg_id(v->channel, ts, id);
    BSON_APPEND_UTF8(doc, "_id", id);
    BSON_APPEND_UTF8(doc, "c", v->channel);
    BSON_APPEND_INT64(doc, "ts", ts);
    BSON_APPEND_UTF8(doc, "u", v->user);
    BSON_APPEND_UTF8(doc, "tm", v->team_id);
    BSON_APPEND_UTF8(doc, "t", v->text != NULL ? v->text : "");
    if (v->subtype != NULL)
        BSON_APPEND_UTF8(doc, "st", v->subtype);
    if (thread != 0)
        BSON_APPEND_INT64(doc, "th", thread);
    chati_buf k = {0};
    chat_err rv = v->client_msg_id != NULL
                      ? chati_buf_printf(&k, "c:%s", v->client_msg_id)
                      : chati_buf_printf(&k, "t:%" PRId64, ts);
    if (rv != CHAT_OK)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    if (v->client_msg_id != NULL)
        BSON_APPEND_UTF8(doc, "cm", v->client_msg_id);
    BSON_APPEND_UTF8(doc, "k", k.data);
    chati_buf_free(&k);
    BSON_APPEND_INT64(doc, "rc", 0);
    chati_mongo_append_ids(doc, "f", (const char(*)[CHAT_ID_SIZE])v->files, v->n_files);
    chati_mongo_append_ids(doc, "mn", (const char(*)[CHAT_ID_SIZE])v->mentions, v->n_mentions);
    BSON_APPEND_INT32(doc, "mf", (int32_t)v->mention_flags);
    BSON_APPEND_BOOL(doc, "rb", v->reply_broadcast);
    BSON_APPEND_BOOL(doc, "inh", thread == 0 || v->reply_broadcast);
    chati_mongo_append_rich(doc, v, true);
    bson_t w;
    BSON_APPEND_ARRAY_BEGIN(doc, "w", &w);
    rv = chati_mongo_tokens(v->text, &w);
    bson_append_array_end(doc, &w);
    BSON_APPEND_INT64(doc, "v", 0);
    return rv;
}

void chati_mongo_append_rich(bson_t *doc, const chat_message *v, bool identity)
{
    const char *keys[] = {"bk", "at", "md", "un", "ie", "iu", "bi"};
    const char *vals[] = {v->blocks,   v->attachments, v->metadata, v->username,
                          v->icon_emoji, v->icon_url,  v->bot_id};
    size_t n = identity ? CHATI_ARRAY_LEN(keys) : 3;
    for (size_t i = 0; i < n; i++) {
        if (vals[i] != NULL && vals[i][0] != '\0')
            BSON_APPEND_UTF8(doc, keys[i], vals[i]);
        else if (!identity)
            BSON_APPEND_NULL(doc, keys[i]); /* an edit that removes it */
    }
    if (identity && v->flags != 0)
        BSON_APPEND_INT32(doc, "fl", (int32_t)v->flags);
}

/* ------------------------------------------------------------ reading --- */

static void iter_fixed(const bson_iter_t *it, char *dst, size_t size)
{
    dst[0] = '\0';
    if (BSON_ITER_HOLDS_UTF8(it))
        chati_copy_fixed(dst, size, bson_iter_utf8(it, NULL));
}

static chat_err iter_dup(const bson_iter_t *it, char **out)
{
    chat_free(*out);
    *out = NULL;
    if (!BSON_ITER_HOLDS_UTF8(it))
        return CHAT_OK;
    uint32_t len;
    const char *s = bson_iter_utf8(it, &len);
    if ((*out = chat_strndup(s, len)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    return CHAT_OK;
}

static void iter_ts(const bson_iter_t *it, char out[CHAT_TS_SIZE])
{
    out[0] = '\0';
    if (BSON_ITER_HOLDS_NUMBER(it))
        chati_ts_format(bson_iter_as_int64(it), out);
}

/* An array of strings into a fixed id array. */
static chat_err iter_ids(const bson_iter_t *it, char (**out)[CHAT_ID_SIZE], size_t *n)
{
    bson_iter_t a;
    *n = 0;
    chat_free(*out);
    *out = NULL;
    if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &a))
        return CHAT_OK;
    size_t count = 0;
    bson_iter_t b = a;
    while (bson_iter_next(&b))
        count++;
    if (count == 0)
        return CHAT_OK;
    char(*ids)[CHAT_ID_SIZE] = chat_calloc(count, CHAT_ID_SIZE);
    if (ids == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    size_t k = 0;
    while (bson_iter_next(&a) && k < count)
        iter_fixed(&a, ids[k++], CHAT_ID_SIZE);
    *out = ids;
    *n = k;
    return CHAT_OK;
}

static chat_err iter_reactions(const bson_iter_t *it, chat_message *m)
{
    bson_iter_t a, b;
    if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &a))
        return CHAT_OK;
    size_t count = 0;
    b = a;
    while (bson_iter_next(&b))
        count++;
    if (count == 0)
        return CHAT_OK;
    if ((m->reactions = chat_calloc(count, sizeof *m->reactions)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    chat_err rv = CHAT_OK;
    while (rv == CHAT_OK && bson_iter_next(&a) && m->n_reactions < count) {
        bson_iter_t f;
        if (!BSON_ITER_HOLDS_DOCUMENT(&a) || !bson_iter_recurse(&a, &f))
            continue;
        chat_reaction *r = &m->reactions[m->n_reactions++];
        while (rv == CHAT_OK && bson_iter_next(&f)) {
            const char *key = bson_iter_key(&f);
            if (strcmp(key, "n") == 0)
                rv = iter_dup(&f, &r->name);
            else if (strcmp(key, "u") == 0)
                rv = iter_ids(&f, &r->users, &r->n_users);
        }
        if (rv == CHAT_OK && r->name == NULL && (r->name = chat_strdup("")) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    return rv;
}

chat_err chati_mongo_msg_read(const bson_t *doc, chati_mongo_msg *out)
{
    memset(out, 0, sizeof *out);
    chat_message *m = chat_message_new();
    if (m == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    out->m = m;
    bson_iter_t it;
    chat_err rv = CHAT_OK;
    if (!bson_iter_init(&it, doc))
        return chati_fail(CHAT_ERR_STORAGE, "mongodb: malformed message document");
    while (rv == CHAT_OK && bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        switch (k[0]) {
        case 'a':
            if (strcmp(k, "at") == 0)
                rv = iter_dup(&it, &m->attachments);
            break;
        case 'b':
            if (strcmp(k, "bk") == 0)
                rv = iter_dup(&it, &m->blocks);
            else if (strcmp(k, "bi") == 0)
                iter_fixed(&it, m->bot_id, sizeof m->bot_id);
            break;
        case 'i':
            if (strcmp(k, "ie") == 0)
                rv = iter_dup(&it, &m->icon_emoji);
            else if (strcmp(k, "iu") == 0)
                rv = iter_dup(&it, &m->icon_url);
            break;
        case 'c':
            if (k[1] == '\0')
                iter_fixed(&it, m->channel, sizeof m->channel);
            else if (strcmp(k, "cm") == 0)
                rv = iter_dup(&it, &m->client_msg_id);
            break;
        case 't':
            if (strcmp(k, "ts") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
                out->ts = bson_iter_as_int64(&it);
            else if (k[1] == '\0')
                rv = iter_dup(&it, &m->text);
            else if (strcmp(k, "tm") == 0)
                iter_fixed(&it, m->team_id, sizeof m->team_id);
            else if (strcmp(k, "th") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
                out->thread = bson_iter_as_int64(&it);
            break;
        case 'u':
            if (k[1] == '\0')
                iter_fixed(&it, m->user, sizeof m->user);
            else if (strcmp(k, "un") == 0)
                rv = iter_dup(&it, &m->username);
            break;
        case 's':
            if (strcmp(k, "st") == 0)
                rv = iter_dup(&it, &m->subtype);
            break;
        case 'e':
            if (strcmp(k, "eu") == 0)
                iter_fixed(&it, m->edited_user, sizeof m->edited_user);
            else if (strcmp(k, "et") == 0)
                iter_ts(&it, m->edited_ts);
            break;
        case 'r':
            if (strcmp(k, "rc") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
                m->reply_count = bson_iter_as_int64(&it);
            else if (strcmp(k, "ru") == 0)
                rv = iter_ids(&it, &m->reply_users, &m->n_reply_users);
            else if (k[1] == '\0')
                rv = iter_reactions(&it, m);
            else if (strcmp(k, "rb") == 0)
                m->reply_broadcast = bson_iter_as_bool(&it);
            break;
        case 'l':
            if (strcmp(k, "lr") == 0)
                iter_ts(&it, m->latest_reply);
            else if (strcmp(k, "li") == 0)
                iter_fixed(&it, out->last.id, sizeof out->last.id);
            else if (strcmp(k, "lo") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
                out->last.o = bson_iter_as_int64(&it);
            break;
        case 'f':
            if (k[1] == '\0')
                rv = iter_ids(&it, &m->files, &m->n_files);
            else if (strcmp(k, "fl") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
                m->flags = (unsigned)bson_iter_as_int64(&it);
            break;
        case 'm':
            if (strcmp(k, "mn") == 0)
                rv = iter_ids(&it, &m->mentions, &m->n_mentions);
            else if (strcmp(k, "mf") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
                m->mention_flags = (unsigned)bson_iter_as_int64(&it);
            else if (strcmp(k, "md") == 0)
                rv = iter_dup(&it, &m->metadata);
            break;
        case 'v':
            if (k[1] == '\0' && BSON_ITER_HOLDS_NUMBER(&it))
                out->version = bson_iter_as_int64(&it);
            break;
        case 'x':
            if (k[1] == '\0')
                out->tombstone = bson_iter_as_bool(&it);
            break;
        default:
            break;
        }
    }
    if (rv != CHAT_OK)
        return rv;
    chati_ts_format(out->ts, m->ts);
    if (out->thread != 0)
        chati_ts_format(out->thread, m->thread_ts);
    else if (m->reply_count > 0)
        memcpy(m->thread_ts, m->ts, sizeof m->ts);
    if (m->text == NULL && (m->text = chat_strdup("")) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    return CHAT_OK;
}

chat_err chati_mongo_find_page(mongoc_collection_t *coll, const mongoc_read_prefs_t *prefs,
                               const bson_t *filter, const bson_t *opts, int limit, chat_list *l,
                               int64_t *last_ts, bool *more, const char *what)
{
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, prefs);
    const bson_t *doc;
    chat_err rv = CHAT_OK;
    size_t n = 0;
    if (more != NULL)
        *more = false;
    while (rv == CHAT_OK && mongoc_cursor_next(cur, &doc)) {
        if (limit >= 0 && n == (size_t)limit) {
            if (more != NULL)
                *more = true;
            break;
        }
        chati_mongo_msg e;
        rv = chati_mongo_msg_read(doc, &e);
        if (rv != CHAT_OK) {
            chat_message_free(e.m);
            break;
        }
        if (e.tombstone) {
            chat_message_free(e.m);
            continue;
        }
        if (last_ts != NULL)
            *last_ts = e.ts;
        n++;
        rv = chat_list_push(l, e.m); /* takes it, also on failure */
    }
    bson_error_t err;
    if (rv == CHAT_OK && mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, what);
    mongoc_cursor_destroy(cur);
    return rv;
}

chat_err chati_mongo_msg_load(chati_mongo_conn *c, const char *channel, int64_t ts,
                              chati_mongo_msg *out)
{
    char id[64];
    chati_mongo_msg_id(channel, ts, id);
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", id);
    BSON_APPEND_INT64(&opts, "limit", 1);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->msgs, &filter, &opts, NULL);
    const bson_t *doc;
    chat_err rv = CHAT_OK;
    bool found = false;
    memset(out, 0, sizeof *out);
    if (mongoc_cursor_next(cur, &doc)) {
        rv = chati_mongo_msg_read(doc, out);
        found = rv == CHAT_OK && !out->tombstone && strcmp(out->m->channel, channel) == 0;
    }
    bson_error_t err;
    if (rv == CHAT_OK && mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, "reading message");
    else if (rv == CHAT_OK && !found)
        rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %" PRId64 " in %s", ts, channel);
    if (rv != CHAT_OK) {
        chat_message_free(out->m);
        out->m = NULL;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    bson_destroy(&opts);
    return rv;
}
