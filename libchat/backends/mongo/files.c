/*
 * libchat/backends/mongo/files.c - file metadata in the `files` collection.
 *
 *   _id file id   tm team   u user   n name   ti title   mt mimetype
 *   sz size       sh sha256 ("" while pending)   cr created   del deleted
 *   ch channels shared in, in sharing order ($addToSet appends)
 *   o  insertion order (a counter): breaks ties of cr newest-first, as the
 *      SQLite store's rowid does
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/mongo/mongo.h"

static void opt_utf8(bson_t *doc, const char *key, const char *v)
{
    if (v != NULL)
        BSON_APPEND_UTF8(doc, key, v);
}

chat_err chati_mongo_file_insert(void *impl, const chat_file *f)
{
    chati_mongo *s = impl;
    if (f == NULL || f->id[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_insert: no id");
    chati_mongo_conn c;
    chati_mongo_wrote(s, NULL);
    chati_mongo_conn_get(s, &c);
    int64_t order = 0;
    chat_err rv = chati_mongo_counter(&c, "files", 1, &order);
    if (rv == CHAT_OK) {
        bson_t doc = BSON_INITIALIZER, ch;
        bson_error_t err;
        BSON_APPEND_UTF8(&doc, "_id", f->id);
        BSON_APPEND_UTF8(&doc, "tm", f->team_id);
        BSON_APPEND_UTF8(&doc, "u", f->user);
        opt_utf8(&doc, "n", f->name);
        opt_utf8(&doc, "ti", f->title);
        opt_utf8(&doc, "mt", f->mimetype);
        BSON_APPEND_INT64(&doc, "sz", f->size);
        BSON_APPEND_UTF8(&doc, "sh", f->sha256);
        BSON_APPEND_INT64(&doc, "cr", f->created);
        BSON_APPEND_BOOL(&doc, "del", f->deleted);
        BSON_APPEND_ARRAY_BEGIN(&doc, "ch", &ch);
        uint32_t k = 0;
        for (size_t i = 0; i < f->n_channels; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(f->channels[i], f->channels[j]) == 0;
            if (seen)
                continue;
            char idx[16];
            const char *key;
            bson_uint32_to_string(k++, &key, idx, sizeof idx);
            bson_append_utf8(&ch, key, -1, f->channels[i], -1);
        }
        bson_append_array_end(&doc, &ch);
        BSON_APPEND_INT64(&doc, "o", order);
        if (!mongoc_collection_insert_one(c.files, &doc, NULL, NULL, &err)) {
            rv = chati_mongo_err(&err, "storing file");
            if (rv == CHAT_ERR_DUPLICATE)
                rv = chati_fail(rv, "file %s exists", f->id);
        }
        bson_destroy(&doc);
    }
    chati_mongo_conn_put(&c);
    return rv;
}

static chat_err read_file(const bson_t *doc, chat_file **out, int64_t *order)
{
    chat_file *f = chat_file_new();
    if (f == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "file store");
    bson_iter_t it;
    chat_err rv = CHAT_OK;
    bson_iter_init(&it, doc);
    while (rv == CHAT_OK && bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const char *str = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
        char **dup = NULL;
        if (strcmp(k, "_id") == 0 && str)
            chati_copy_fixed(f->id, sizeof f->id, str);
        else if (strcmp(k, "tm") == 0 && str)
            chati_copy_fixed(f->team_id, sizeof f->team_id, str);
        else if (strcmp(k, "u") == 0 && str)
            chati_copy_fixed(f->user, sizeof f->user, str);
        else if (strcmp(k, "n") == 0)
            dup = &f->name;
        else if (strcmp(k, "ti") == 0)
            dup = &f->title;
        else if (strcmp(k, "mt") == 0)
            dup = &f->mimetype;
        else if (strcmp(k, "sz") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            f->size = bson_iter_as_int64(&it);
        else if (strcmp(k, "sh") == 0 && str)
            chati_copy_fixed(f->sha256, sizeof f->sha256, str);
        else if (strcmp(k, "cr") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            f->created = bson_iter_as_int64(&it);
        else if (strcmp(k, "del") == 0)
            f->deleted = bson_iter_as_bool(&it);
        else if (strcmp(k, "o") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            *order = bson_iter_as_int64(&it);
        else if (strcmp(k, "ch") == 0 && BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_t a, b;
            bson_iter_recurse(&it, &a);
            b = a;
            size_t count = 0;
            while (bson_iter_next(&b))
                count++;
            if (count > 0 && (f->channels = chat_calloc(count, CHAT_ID_SIZE)) == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "file store");
            while (rv == CHAT_OK && bson_iter_next(&a) && f->n_channels < count)
                if (BSON_ITER_HOLDS_UTF8(&a))
                    chati_copy_fixed(f->channels[f->n_channels++], CHAT_ID_SIZE,
                                     bson_iter_utf8(&a, NULL));
        }
        if (dup != NULL && str != NULL && (*dup = chat_strdup(str)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "file store");
    }
    if (rv != CHAT_OK) {
        chat_file_free(f);
        return rv;
    }
    *out = f;
    return CHAT_OK;
}

/* Reads one file document; file_not_found when absent. */
static chat_err load_file(chati_mongo_conn *c, const char *file_id, chat_file **out)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", file_id);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->files, &filter, NULL, NULL);
    const bson_t *doc;
    bson_error_t err;
    chat_err rv;
    int64_t order;
    if (mongoc_cursor_next(cur, &doc))
        rv = read_file(doc, out, &order);
    else if (mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, "reading file");
    else
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    return rv;
}

chat_err chati_mongo_file_get(void *impl, const char *file_id, chat_file **out)
{
    chati_mongo *s = impl;
    if (file_id == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_get: no id");
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    chat_err rv = load_file(&c, file_id, out);
    chati_mongo_conn_put(&c);
    return rv;
}

static void append_in(bson_t *doc, const char *field, const char (*ids)[CHAT_ID_SIZE],
                      size_t n)
{
    bson_t cond, arr;
    BSON_APPEND_DOCUMENT_BEGIN(doc, field, &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &arr);
    for (size_t i = 0; i < n; i++) {
        char idx[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, idx, sizeof idx);
        bson_append_utf8(&arr, k, -1, ids[i], -1);
    }
    bson_append_array_end(&cond, &arr);
    bson_append_document_end(doc, &cond);
}

chat_err chati_mongo_file_list(void *impl, const char *team_id, const char *channel,
                               const char *user, const char *visible_to,
                               const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                               const char *cursor, int limit, chat_list **out)
{
    chati_mongo *s = impl;
    int64_t after_cr = 0, after_o = 0;
    bool has_cursor = false;
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_list: no output");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_pair_cursor_in(cursor, 'f', &has_cursor, &after_cr, &after_o);
    if (rv != CHAT_OK)
        return rv;

    bson_t f = BSON_INITIALIZER, and, cond, or, alt, sub, opts = BSON_INITIALIZER, sort;
    if (team_id != NULL && team_id[0] != '\0')
        BSON_APPEND_UTF8(&f, "tm", team_id);
    BSON_APPEND_BOOL(&f, "del", false);
    BSON_APPEND_DOCUMENT_BEGIN(&f, "sh", &cond);
    BSON_APPEND_UTF8(&cond, "$ne", "");
    bson_append_document_end(&f, &cond);
    if (channel != NULL && channel[0] != '\0')
        BSON_APPEND_UTF8(&f, "ch", channel);
    if (user != NULL && user[0] != '\0')
        BSON_APPEND_UTF8(&f, "u", user);
    BSON_APPEND_ARRAY_BEGIN(&f, "$and", &and);
    /* Visible: uploaded by the caller or shared in one of its channels. */
    BSON_APPEND_DOCUMENT_BEGIN(&and, "0", &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$or", &or);
    BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
    BSON_APPEND_UTF8(&alt, "u", visible_to != NULL ? visible_to : "");
    bson_append_document_end(&or, &alt);
    BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
    append_in(&alt, "ch", channels, channels != NULL ? n_channels : 0);
    bson_append_document_end(&or, &alt);
    bson_append_array_end(&cond, &or);
    bson_append_document_end(&and, &cond);
    if (has_cursor) {
        /* Older than the cursor's (created, order). */
        BSON_APPEND_DOCUMENT_BEGIN(&and, "1", &cond);
        BSON_APPEND_ARRAY_BEGIN(&cond, "$or", &or);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
        BSON_APPEND_DOCUMENT_BEGIN(&alt, "cr", &sub);
        BSON_APPEND_INT64(&sub, "$lt", after_cr);
        bson_append_document_end(&alt, &sub);
        bson_append_document_end(&or, &alt);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
        BSON_APPEND_INT64(&alt, "cr", after_cr);
        BSON_APPEND_DOCUMENT_BEGIN(&alt, "o", &sub);
        BSON_APPEND_INT64(&sub, "$lt", after_o);
        bson_append_document_end(&alt, &sub);
        bson_append_document_end(&or, &alt);
        bson_append_array_end(&cond, &or);
        bson_append_document_end(&and, &cond);
    }
    bson_append_array_end(&f, &and);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "cr", -1);
    BSON_APPEND_INT32(&sort, "o", -1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", limit + 1);

    chat_list *l = chat_list_new(CHAT_LIST_FILES);
    if (l == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "file store");
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    mongoc_cursor_t *cur =
        l != NULL ? mongoc_collection_find_with_opts(c.files, &f, &opts,
                                                     chati_mongo_reads(s, NULL))
                  : NULL;
    const bson_t *doc;
    int n = 0;
    bool more = false;
    int64_t last_cr = 0, last_o = 0;
    while (rv == CHAT_OK && cur != NULL && mongoc_cursor_next(cur, &doc)) {
        if (n == limit) {
            more = true;
            break;
        }
        chat_file *file = NULL;
        rv = read_file(doc, &file, &last_o);
        if (rv == CHAT_OK) {
            last_cr = file->created;
            n++;
            rv = chat_list_push(l, file);
        }
    }
    bson_error_t err;
    if (rv == CHAT_OK && cur != NULL && mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, "listing files");
    mongoc_cursor_destroy(cur);
    chati_mongo_conn_put(&c);
    bson_destroy(&f);
    bson_destroy(&opts);
    if (rv == CHAT_OK && more)
        rv = chati_page_pair_cursor_out('f', last_cr, last_o, l);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    return rv;
}

/* file_not_found / file_deleted unless the file is there; *complete (may
 * be NULL) says whether its bytes are in. */
static chat_err file_state(chati_mongo_conn *c, const char *file_id, bool *complete)
{
    chat_file *f = NULL;
    chat_err rv = load_file(c, file_id, &f);
    if (rv == CHAT_OK && f->deleted)
        rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s was deleted", file_id);
    if (rv == CHAT_OK && complete != NULL)
        *complete = f->sha256[0] != '\0';
    chat_file_free(f);
    return rv;
}

/* updateOne(filter, {$set: set}); *matched gets whether a document matched. */
static chat_err file_update(chati_mongo_conn *c, const bson_t *filter, const bson_t *set,
                            bool *matched, const char *what)
{
    bson_t update = BSON_INITIALIZER, reply;
    bson_error_t err;
    BSON_APPEND_DOCUMENT(&update, "$set", set);
    chat_err rv = CHAT_OK;
    if (!mongoc_collection_update_one(c->files, filter, &update, NULL, &reply, &err))
        rv = chati_mongo_err(&err, what);
    bson_iter_t it;
    if (rv == CHAT_OK && matched != NULL)
        *matched = bson_iter_init_find(&it, &reply, "matchedCount") &&
                   bson_iter_as_int64(&it) > 0;
    bson_destroy(&reply);
    bson_destroy(&update);
    return rv;
}

chat_err chati_mongo_file_delete(void *impl, const char *file_id)
{
    chati_mongo *s = impl;
    if (file_id == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_delete: no id");
    chati_mongo_conn c;
    chati_mongo_wrote(s, NULL);
    chati_mongo_conn_get(s, &c);
    bson_t filter = BSON_INITIALIZER, set = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", file_id);
    BSON_APPEND_BOOL(&filter, "del", false);
    BSON_APPEND_BOOL(&set, "del", true);
    bool matched = false;
    chat_err rv = file_update(&c, &filter, &set, &matched, "deleting file");
    if (rv == CHAT_OK && !matched) {
        rv = file_state(&c, file_id, NULL); /* which error: absent or deleted */
        if (rv == CHAT_OK)
            rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s is already deleted", file_id);
    }
    chati_mongo_conn_put(&c);
    bson_destroy(&filter);
    bson_destroy(&set);
    return rv;
}

static bool is_sha256_hex(const char *h)
{
    size_t i = 0;
    for (; h[i]; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return i == 64;
}

/* The conditional update (sh == "") makes the first completion win even
 * when two race. */
chat_err chati_mongo_file_complete(void *impl, const char *file_id, int64_t size,
                                   const char *sha256_hex)
{
    chati_mongo *s = impl;
    if (file_id == NULL || sha256_hex == NULL || !is_sha256_hex(sha256_hex) || size < 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_complete: bad id, size or checksum");
    chati_mongo_conn c;
    chati_mongo_wrote(s, NULL);
    chati_mongo_conn_get(s, &c);
    bson_t filter = BSON_INITIALIZER, set = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", file_id);
    BSON_APPEND_BOOL(&filter, "del", false);
    BSON_APPEND_UTF8(&filter, "sh", "");
    BSON_APPEND_INT64(&set, "sz", size);
    BSON_APPEND_UTF8(&set, "sh", sha256_hex);
    bool matched = false;
    chat_err rv = file_update(&c, &filter, &set, &matched, "completing file");
    if (rv == CHAT_OK && !matched) {
        rv = file_state(&c, file_id, NULL);
        if (rv == CHAT_OK)
            rv = chati_fail(CHAT_ERR_DUPLICATE, "file %s is already complete", file_id);
    }
    chati_mongo_conn_put(&c);
    bson_destroy(&filter);
    bson_destroy(&set);
    return rv;
}

chat_err chati_mongo_file_set_title(void *impl, const char *file_id, const char *title)
{
    chati_mongo *s = impl;
    if (file_id == NULL || title == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_set_title: no id or title");
    chati_mongo_conn c;
    chati_mongo_wrote(s, NULL);
    chati_mongo_conn_get(s, &c);
    bson_t filter = BSON_INITIALIZER, set = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", file_id);
    BSON_APPEND_BOOL(&filter, "del", false);
    BSON_APPEND_UTF8(&set, "ti", title);
    bool matched = false;
    chat_err rv = file_update(&c, &filter, &set, &matched, "renaming file");
    if (rv == CHAT_OK && !matched)
        rv = file_state(&c, file_id, NULL); /* absent or deleted */
    chati_mongo_conn_put(&c);
    bson_destroy(&filter);
    bson_destroy(&set);
    return rv;
}

chat_err chati_mongo_files_share(chati_mongo_conn *c, const char (*files)[CHAT_ID_SIZE],
                                 size_t n, const char *channel)
{
    if (n == 0)
        return CHAT_OK;
    bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, add;
    bson_error_t err;
    append_in(&filter, "_id", files, n);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$addToSet", &add);
    BSON_APPEND_UTF8(&add, "ch", channel);
    bson_append_document_end(&update, &add);
    chat_err rv = CHAT_OK;
    if (!mongoc_collection_update_many(c->files, &filter, &update, NULL, NULL, &err))
        rv = chati_mongo_err(&err, "sharing files");
    bson_destroy(&filter);
    bson_destroy(&update);
    return rv;
}
