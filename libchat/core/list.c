/*
 * libchat/core/list.c - chat_list, a page of owned results of one kind.
 */
#include <string.h>

#include "core/internal.h"

struct chat_list {
    chat_list_kind kind;
    void **items;
    size_t n;
    size_t cap;
    char *next_cursor;          /* NULL on the last page */
    bool has_more;
};

static bool
kind_valid(chat_list_kind kind)
{
    return kind >= CHAT_LIST_USERS && kind <= CHAT_LIST_STRINGS;
}

static void
item_free(chat_list_kind kind, void *item)
{
    switch (kind) {
    case CHAT_LIST_USERS:
        chat_user_free(item);
        break;
    case CHAT_LIST_CHANNELS:
        chat_channel_free(item);
        break;
    case CHAT_LIST_MESSAGES:
        chat_message_free(item);
        break;
    case CHAT_LIST_FILES:
        chat_file_free(item);
        break;
    case CHAT_LIST_STRINGS:
        chat_free(item);
        break;
    }
}

chat_list *
chat_list_new(chat_list_kind kind)
{
    chat_list *l;

    if (!kind_valid(kind)) {
        chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown list kind %d", (int)kind);
        return NULL;
    }
    if ((l = chat_calloc(1, sizeof(*l))) == NULL) {
        return NULL;
    }
    l->kind = kind;
    return l;
}

void
chat_list_free(chat_list *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        item_free(l->kind, l->items[i]);
    }
    chat_free(l->items);
    chat_free(l->next_cursor);
    chat_free(l);
}

chat_err
chat_list_push(chat_list *l, void *item)
{
    if (l == NULL) {
        /* Without a list we cannot tell what item is, so it cannot be freed. */
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chat_list_push: NULL list");
    }
    if (item == NULL) {
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chat_list_push: NULL item");
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        void **nitems;

        if (ncap > SIZE_MAX / sizeof(void *)) {
            item_free(l->kind, item);
            return chati_fail(CHAT_ERR_NOMEM, "list too long");
        }
        nitems = chat_realloc(l->items, ncap * sizeof(void *));
        if (nitems == NULL) {
            item_free(l->kind, item);
            return chati_fail(CHAT_ERR_NOMEM, "growing a list");
        }
        l->items = nitems;
        l->cap = ncap;
    }
    l->items[l->n++] = item;
    return CHAT_OK;
}

chat_err
chat_list_push_string(chat_list *l, const char *s)
{
    char *d;

    if (l == NULL || s == NULL) {
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chat_list_push_string: NULL argument");
    }
    if (l->kind != CHAT_LIST_STRINGS) {
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "chat_list_push_string on a list of another kind");
    }
    if ((d = chat_strdup(s)) == NULL) {
        return chati_fail(CHAT_ERR_NOMEM, "copying a list string");
    }
    return chat_list_push(l, d);
}

chat_err
chat_list_set_next_cursor(chat_list *l, const char *cursor)
{
    char *d = NULL;

    if (l == NULL) {
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chat_list_set_next_cursor: NULL list");
    }
    if (cursor != NULL && cursor[0] != '\0') {
        if ((d = chat_strdup(cursor)) == NULL) {
            return chati_fail(CHAT_ERR_NOMEM, "copying a cursor");
        }
    }
    chat_free(l->next_cursor);
    l->next_cursor = d;
    return CHAT_OK;
}

void
chat_list_set_has_more(chat_list *l, bool has_more)
{
    if (l != NULL) {
        l->has_more = has_more;
    }
}

void *
chat_list_take(chat_list *l, size_t i)
{
    void *item;

    if (l == NULL || i >= l->n) {
        return NULL;
    }
    item = l->items[i];
    memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof(void *));
    l->n--;
    return item;
}

chat_list_kind
chat_list_kind_of(const chat_list *l)
{
    return l != NULL ? l->kind : (chat_list_kind)0;
}

size_t
chat_list_count(const chat_list *l)
{
    return l != NULL ? l->n : 0;
}

const char *
chat_list_next_cursor(const chat_list *l)
{
    return l != NULL ? l->next_cursor : NULL;
}

bool
chat_list_has_more(const chat_list *l)
{
    return l != NULL && l->has_more;
}

static const void *
list_get(const chat_list *l, chat_list_kind kind, size_t i)
{
    if (l == NULL || l->kind != kind || i >= l->n) {
        return NULL;
    }
    return l->items[i];
}

const chat_user *
chat_list_user(const chat_list *l, size_t i)
{
    return list_get(l, CHAT_LIST_USERS, i);
}

const chat_channel *
chat_list_channel(const chat_list *l, size_t i)
{
    return list_get(l, CHAT_LIST_CHANNELS, i);
}

const chat_message *
chat_list_message(const chat_list *l, size_t i)
{
    return list_get(l, CHAT_LIST_MESSAGES, i);
}

const chat_file *
chat_list_file(const chat_list *l, size_t i)
{
    return list_get(l, CHAT_LIST_FILES, i);
}

const char *
chat_list_string(const chat_list *l, size_t i)
{
    return list_get(l, CHAT_LIST_STRINGS, i);
}
