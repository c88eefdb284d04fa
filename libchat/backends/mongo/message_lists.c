/*
 * libchat/backends/mongo/message_lists.c - history, thread replies, search:
 * each one find on the messages collection (message_doc.c has the fields),
 * newest or oldest first, with the SQLite store's cursors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/mongo/mongo.h"

/* -------------------------------------------------- history and replies --- */

static void ts_range(bson_t *filter, int64_t lo, int64_t hi)
{
    bson_t r;
    BSON_APPEND_DOCUMENT_BEGIN(filter, "ts", &r);
    BSON_APPEND_INT64(&r, "$gt", lo);
    BSON_APPEND_INT64(&r, "$lt", hi);
    bson_append_document_end(filter, &r);
}

static void sort_opts(bson_t *opts, int dir, int limit)
{
    bson_t sort;
    BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "ts", dir);
    bson_append_document_end(opts, &sort);
    BSON_APPEND_INT64(opts, "limit", limit);
}

chat_err chati_mongo_history(void *impl, const char *channel, const char *latest,
                           const char *oldest, bool inclusive, int limit, const char *cursor,
                           chat_list **out)
{
    chati_mongo *s = impl;
    int64_t lo, hi;
    if (channel == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "history: no channel");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_ts_window(latest, oldest, inclusive, cursor, 'h',
                                  CHATI_PAGE_NEWEST_FIRST, &lo, &hi);
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "c", channel);
    BSON_APPEND_BOOL(&filter, "inh", true);
    ts_range(&filter, lo, hi);
    sort_opts(&opts, -1, limit + 1);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    int64_t last = 0;
    bool more = false;
    rv = chati_mongo_find_page(c.msgs, chati_mongo_reads(s, channel), &filter, &opts, limit, l,
                               &last, &more, "reading history");
    chati_mongo_conn_put(&c);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (rv == CHAT_OK && more)
        rv = chati_page_ts_cursor_out('h', last, l);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    return rv;
}

chat_err chati_mongo_replies(void *impl, const char *channel, const char *thread_ts,
                           const char *latest, const char *oldest, bool inclusive, int limit,
                           const char *cursor, chat_list **out)
{
    chati_mongo *s = impl;
    int64_t lo, hi, want, parent = 0;
    if (channel == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "replies: no channel");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_mongo_parse_ts(thread_ts, &want, CHAT_ERR_THREAD_NOT_FOUND);
    if (rv == CHAT_OK)
        rv = chati_page_ts_window(latest, oldest, inclusive, cursor, 'r',
                                  CHATI_PAGE_OLDEST_FIRST, &lo, &hi);
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    rv = chati_mongo_thread_parent(&c, channel, want, &parent);
    int64_t last = 0;
    bool more = false;
    /* The parent sorts first (every reply is newer), then the replies. */
    if (rv == CHAT_OK && parent > lo && parent < hi) {
        chati_mongo_msg e;
        rv = chati_mongo_msg_load(&c, channel, parent, &e);
        if (rv == CHAT_OK) {
            last = e.ts;
            rv = chat_list_push(l, e.m);
        }
    }
    if (rv == CHAT_OK) {
        bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&filter, "c", channel);
        BSON_APPEND_INT64(&filter, "th", parent);
        ts_range(&filter, lo, hi);
        int room = limit - (int)chat_list_count(l);
        sort_opts(&opts, 1, room + 1);
        rv = chati_mongo_find_page(c.msgs, chati_mongo_reads(s, channel), &filter, &opts, room,
                                   l, &last, &more, "reading replies");
        bson_destroy(&filter);
        bson_destroy(&opts);
    }
    chati_mongo_conn_put(&c);
    if (rv == CHAT_OK && more)
        rv = chati_page_ts_cursor_out('r', last, l);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    return rv;
}

/* Newest first across channels, by (ts, channel), which is unique: filter
 * gains "c in channels" and, after a cursor, "(ts, c) below it"; one page
 * of what it finds goes into l, with a cursor of kind when there is more. */
static chat_err across_channels(chati_mongo *s, bson_t *filter,
                                const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                                bool has_cursor, int64_t after_ts, const char *after_ch,
                                int limit, char kind, chat_list *l, const char *what)
{
    bson_t in, arr, or, alt, sub, sort, opts = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT_BEGIN(filter, "c", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    for (size_t i = 0; i < n_channels; i++) {
        char idx[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, idx, sizeof idx);
        bson_append_utf8(&arr, k, -1, channels[i], -1);
    }
    bson_append_array_end(&in, &arr);
    bson_append_document_end(filter, &in);
    if (has_cursor) {
        BSON_APPEND_ARRAY_BEGIN(filter, "$or", &or);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
        BSON_APPEND_DOCUMENT_BEGIN(&alt, "ts", &sub);
        BSON_APPEND_INT64(&sub, "$lt", after_ts);
        bson_append_document_end(&alt, &sub);
        bson_append_document_end(&or, &alt);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
        BSON_APPEND_INT64(&alt, "ts", after_ts);
        BSON_APPEND_DOCUMENT_BEGIN(&alt, "c", &sub);
        BSON_APPEND_UTF8(&sub, "$lt", after_ch);
        bson_append_document_end(&alt, &sub);
        bson_append_document_end(&or, &alt);
        bson_append_array_end(filter, &or);
    }
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "ts", -1);
    BSON_APPEND_INT32(&sort, "c", -1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", limit + 1);
    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    int64_t last = 0;
    bool more = false;
    chat_err rv = chati_mongo_find_page(c.msgs,
                                        chati_mongo_reads_any(s, NULL, 0, channels, n_channels),
                                        filter, &opts, limit, l, &last, &more, what);
    chati_mongo_conn_put(&c);
    bson_destroy(&opts);
    if (rv == CHAT_OK && more) {
        size_t n = chat_list_count(l);
        rv = chati_page_ts_id_cursor_out(kind, last, chat_list_message(l, n - 1)->channel, l);
    }
    return rv;
}

/* -------------------------------------------------------------- search --- */

chat_err chati_mongo_search(void *impl, const char *query, const char (*channels)[CHAT_ID_SIZE],
                          size_t n_channels, const char *cursor, int limit, chat_list **out)
{
    chati_mongo *s = impl;
    int64_t after_ts = 0;
    char after_ch[CHAT_ID_SIZE] = "";
    bool has_cursor = false, any = false;
    size_t n_cond = 0;
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "search: no output");
    bson_t filter = BSON_INITIALIZER, and;
    BSON_APPEND_ARRAY_BEGIN(&filter, "$and", &and);
    chat_err rv = chati_mongo_query(query, &and, &n_cond, &any);
    bson_append_array_end(&filter, &and);
    if (rv == CHAT_OK && !any)
        rv = chati_fail(CHAT_ERR_NO_QUERY, "empty search query");
    if (rv == CHAT_OK)
        rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_ts_id_cursor_in(cursor, 's', &has_cursor, &after_ts, after_ch);
    chat_list *l = NULL;
    if (rv == CHAT_OK && (l = chat_list_new(CHAT_LIST_MESSAGES)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "message store");
    /* No channels, or a query of nothing but punctuation: no results. */
    if (rv == CHAT_OK && channels != NULL && n_channels > 0 && n_cond > 0)
        rv = across_channels(s, &filter, channels, n_channels, has_cursor, after_ts, after_ch,
                             limit, 's', l, "searching");
    bson_destroy(&filter);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    return rv;
}

/* ------------------------------------------------------------ reacted --- */

chat_err chati_mongo_reacted(void *impl, const char *user, const char (*channels)[CHAT_ID_SIZE],
                             size_t n_channels, const char *cursor, int limit, chat_list **out)
{
    chati_mongo *s = impl;
    int64_t after_ts = 0;
    char after_ch[CHAT_ID_SIZE] = "";
    bool has_cursor = false;
    if (out == NULL || user == NULL || *user == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "reacted: a user and an output");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_ts_id_cursor_in(cursor, 'r', &has_cursor, &after_ts, after_ch);
    chat_list *l = NULL;
    if (rv == CHAT_OK && (l = chat_list_new(CHAT_LIST_MESSAGES)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "message store");
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "r.u", user);
    if (rv == CHAT_OK && channels != NULL && n_channels > 0)
        rv = across_channels(s, &filter, channels, n_channels, has_cursor, after_ts, after_ch,
                             limit, 'r', l, "listing reactions");
    bson_destroy(&filter);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    return rv;
}
