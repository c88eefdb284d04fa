/*
 * chat/backend/blob.h - the blob store interface ("file", "s3").
 *
 * Keys are printable ASCII without "..", at most 200 bytes. A put is atomic: a
 * reader sees the whole old object, the whole new one, or none.
 * Thread safety: every function may be called concurrently.
 * Methods are required unless marked "Optional:"; registration refuses a
 * table whose version is 0 or newer than CHAT_BLOB_V1, or whose required
 * methods are NULL (chat/backend/types.h has the version rule).
 */
#ifndef CHAT_BACKEND_BLOB_H
#define CHAT_BACKEND_BLOB_H

#include <chat/backend/types.h>
#include <chat/config.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHAT_BLOB_V1 1u

typedef struct chat_blob_ops {
    uint32_t version;           /* CHAT_BLOB_V1 */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    void (*close)(void *impl);
    /* Stores len bytes under key, replacing any old object. sha256_hex (may be
     * NULL) receives the lower-case hex SHA-256 of what was stored. */
    chat_err (*put)(void *impl, const char *key, const void *data, size_t len,
                    char sha256_hex[65]);
    /* not_found when absent. *data is freed with chat_free(). */
    chat_err (*get)(void *impl, const char *key, void **data, size_t *len);
    /* not_found when absent. */
    chat_err (*remove)(void *impl, const char *key);
    /* Optional: libchat does not call it yet, so NULL changes nothing.
     * Size of an object, not_found when absent. */
    chat_err (*stat)(void *impl, const char *key, int64_t *size);
} chat_blob_ops;

/* Registers a blob store under ops->scheme, replacing one registered earlier
 * under that scheme. ops is borrowed and must outlive every context using it.
 * not_supported for a version of 0 or above CHAT_BLOB_V1; invalid_arguments
 * when ops, its scheme or a required method is NULL. Thread-safe. */
CHAT_API chat_err chat_blob_register(const chat_blob_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
