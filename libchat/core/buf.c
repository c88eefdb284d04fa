/* A growable byte buffer for building strings and encodings. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

chat_err chati_buf_reserve(chati_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return CHAT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = chat_realloc(b->data, cap);
    if (p == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "buffer of %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return CHAT_OK;
}

chat_err chati_buf_append(chati_buf *b, const void *data, size_t len)
{
    chat_err rv = chati_buf_reserve(b, len);
    if (rv != CHAT_OK)
        return rv;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return CHAT_OK;
}

chat_err chati_buf_puts(chati_buf *b, const char *s)
{
    return chati_buf_append(b, s, strlen(s));
}

chat_err chati_buf_printf(chati_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return chati_fail(CHAT_ERR_INTERNAL, "bad format");
    chat_err rv = chati_buf_reserve(b, (size_t)n);
    if (rv != CHAT_OK)
        return rv;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CHAT_OK;
}

char *chati_buf_steal(chati_buf *b)
{
    char *p = b->data;
    if (p == NULL)
        p = chat_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void chati_buf_free(chati_buf *b)
{
    chat_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *chati_read_small_file(const char *path, size_t max)
{
    FILE *f = fopen(path, "rbe");
    if (f == NULL)
        return NULL;
    chati_buf b = {0};
    char chunk[4096];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = b.len + n <= max && chati_buf_append(&b, chunk, n) == CHAT_OK;
    ok = ok && !ferror(f) && chati_buf_reserve(&b, 0) == CHAT_OK;
    fclose(f);
    if (!ok) {
        chati_buf_free(&b);
        return NULL;
    }
    b.data[b.len] = '\0';
    return chati_buf_steal(&b);
}
