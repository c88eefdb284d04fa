/*
 * core/paging.c - page sizes and tagged cursors, the same for every backend's
 * listings.
 */
#include "core/internal.h"

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
