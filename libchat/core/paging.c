/*
 * core/paging.c - page sizes and tagged cursors, the same for every backend's
 * listings.
 */
#include "core/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

chat_err chati_page_limit(int limit, int *out)
{
    if (limit == 0)
        limit = CHAT_DEFAULT_PAGE;
    if (limit < 0 || limit > CHAT_MAX_PAGE)
        return chati_fail(CHAT_ERR_INVALID_LIMIT, "limit must be 1-%d, got %d", CHAT_MAX_PAGE,
                          limit);
    *out = limit;
    return CHAT_OK;
}

chat_err chati_page_cursor_in(const char *cursor, char tag, char **key_out)
{
    *key_out = NULL;
    if (cursor == NULL || cursor[0] == '\0')
        return CHAT_OK;
    char *key = NULL;
    chat_err rv = chati_cursor_decode(cursor, &key);
    if (rv != CHAT_OK)
        return rv;
    /* The tag keeps a cursor of one listing from being replayed on another. */
    if (key[0] != tag || key[1] != ':') {
        chat_free(key);
        return chati_fail(CHAT_ERR_INVALID_CURSOR, "cursor belongs to another listing");
    }
    memmove(key, key + 2, strlen(key + 2) + 1);
    *key_out = key;
    return CHAT_OK;
}

chat_err chati_page_cursor_out(char tag, const char *key, chat_list *l)
{
    size_t n = strlen(key);
    char *tagged = chat_malloc(n + 3);
    if (tagged == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "cursor");
    tagged[0] = tag;
    tagged[1] = ':';
    memcpy(tagged + 2, key, n + 1);
    char *cur = NULL;
    chat_err rv = chati_cursor_encode(tagged, &cur);
    chat_free(tagged);
    if (rv == CHAT_OK)
        rv = chat_list_set_next_cursor(l, cur);
    chat_free(cur);
    if (rv == CHAT_OK)
        chat_list_set_has_more(l, true);
    return rv;
}

/* ------------------------------------------------ listings by message ts --- */

/* An integer key >= 0, as chati_page_ts_cursor_out writes it. */
static chat_err ts_cursor_in(const char *cursor, char tag, bool *set, int64_t *ts)
{
    char *key = NULL;
    *set = false;
    chat_err rv = chati_page_cursor_in(cursor, tag, &key);
    if (rv != CHAT_OK || key == NULL)
        return rv;
    char *end = NULL;
    long long v = strtoll(key, &end, 10);
    if (end == key || *end != '\0' || v < 0)
        rv = chati_fail(CHAT_ERR_INVALID_CURSOR, "invalid cursor");
    chat_free(key);
    *ts = v;
    *set = rv == CHAT_OK;
    return rv;
}

chat_err chati_page_ts_window(const char *latest, const char *oldest, bool inclusive,
                              const char *cursor, char tag, chati_page_dir dir, int64_t *lo,
                              int64_t *hi)
{
    int64_t v;
    *hi = INT64_MAX;
    *lo = -1;
    if (latest != NULL && latest[0] != '\0') {
        if (!chati_ts_parse(latest, &v))
            return chati_fail(CHAT_ERR_INVALID_TS, "invalid latest \"%s\"", latest);
        *hi = inclusive ? v + 1 : v;
    }
    if (oldest != NULL && oldest[0] != '\0') {
        if (!chati_ts_parse(oldest, &v))
            return chati_fail(CHAT_ERR_INVALID_TS, "invalid oldest \"%s\"", oldest);
        *lo = inclusive ? v - 1 : v;
    }
    bool set;
    int64_t after;
    chat_err rv = ts_cursor_in(cursor, tag, &set, &after);
    if (rv != CHAT_OK || !set)
        return rv;
    /* The cursor only ever narrows: a range given again with it still holds. */
    if (dir == CHATI_PAGE_NEWEST_FIRST && after < *hi)
        *hi = after;
    else if (dir == CHATI_PAGE_OLDEST_FIRST && after > *lo)
        *lo = after;
    return CHAT_OK;
}

chat_err chati_page_ts_cursor_out(char tag, int64_t ts, chat_list *l)
{
    char key[32];
    snprintf(key, sizeof key, "%" PRId64, ts);
    return chati_page_cursor_out(tag, key, l);
}

/* ------------------------------------------- keys with a tie-breaker --- */

chat_err chati_page_ts_id_cursor_in(const char *cursor, char tag, bool *set, int64_t *ts,
                                    char id[CHAT_ID_SIZE])
{
    char *key = NULL;
    *set = false;
    chat_err rv = chati_page_cursor_in(cursor, tag, &key);
    if (rv != CHAT_OK || key == NULL)
        return rv;
    char *end = NULL;
    long long v = strtoll(key, &end, 10);
    if (end == key || *end != ',' || v < 0 || !chati_copy_fixed(id, CHAT_ID_SIZE, end + 1))
        rv = chati_fail(CHAT_ERR_INVALID_CURSOR, "invalid cursor");
    *ts = v;
    *set = rv == CHAT_OK;
    chat_free(key);
    return rv;
}

chat_err chati_page_ts_id_cursor_out(char tag, int64_t ts, const char *id, chat_list *l)
{
    char key[32 + CHAT_ID_SIZE];
    snprintf(key, sizeof key, "%" PRId64 ",%s", ts, id);
    return chati_page_cursor_out(tag, key, l);
}

chat_err chati_page_pair_cursor_in(const char *cursor, char tag, bool *set, int64_t *a,
                                   int64_t *b)
{
    char *key = NULL;
    *set = false;
    chat_err rv = chati_page_cursor_in(cursor, tag, &key);
    if (rv != CHAT_OK || key == NULL)
        return rv;
    char *end = NULL, *end2 = NULL;
    long long x = strtoll(key, &end, 10);
    long long y = *end == ',' ? strtoll(end + 1, &end2, 10) : 0;
    if (end == key || *end != ',' || end2 == NULL || end2 == end + 1 || *end2 != '\0')
        rv = chati_fail(CHAT_ERR_INVALID_CURSOR, "invalid cursor");
    *a = x;
    *b = y;
    *set = rv == CHAT_OK;
    chat_free(key);
    return rv;
}

chat_err chati_page_pair_cursor_out(char tag, int64_t a, int64_t b, chat_list *l)
{
    char key[64];
    snprintf(key, sizeof key, "%" PRId64 ",%" PRId64, a, b);
    return chati_page_cursor_out(tag, key, l);
}
