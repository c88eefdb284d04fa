/* Allocation entry points. Entities cross the library boundary, so backends and
 * applications free what libchat allocated with the functions here. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

void *chat_malloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *chat_calloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

void *chat_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

char *chat_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *chat_strndup(const char *s, size_t n)
{
    return s ? strndup(s, n) : NULL;
}

void chat_free(void *p)
{
    free(p);
}
