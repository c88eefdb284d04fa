/*
 * libchat/backends/blob_check.h - the key rules of chat/backend/blob.h, which
 * every blob store checks before it touches anything.
 */
#ifndef CHATI_BLOB_CHECK_H
#define CHATI_BLOB_CHECK_H

#include <string.h>

#include "core/internal.h"

#define CHATI_BLOB_MAX_KEY 200

/* invalid_arguments unless key is 1-200 bytes of printable ASCII, does not
 * start with '/' and has no "..". */
static inline chat_err chati_blob_check_key(const char *key)
{
    if (key == NULL || key[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob key is empty");
    size_t n = strlen(key);
    if (n > CHATI_BLOB_MAX_KEY)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob key longer than %d bytes",
                          CHATI_BLOB_MAX_KEY);
    if (key[0] == '/')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob key starts with '/'");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob key is not printable ASCII");
    if (strstr(key, "..") != NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob key contains \"..\"");
    return CHAT_OK;
}

#endif
