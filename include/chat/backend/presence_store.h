/*
 * chat/backend/presence_store.h - the presence store interface ("mem", "redis").
 *
 * Holds, per user, the time of their last heartbeat (expiring after a TTL) and
 * whether they set themselves away by hand.
 * Thread safety: every function may be called concurrently.
 * Methods are required unless marked "Optional:"; registration refuses a
 * table whose version is 0 or newer than CHAT_PRESENCE_STORE_V1, or whose
 * required methods are NULL (chat/backend/types.h has the version rule).
 */
#ifndef CHAT_BACKEND_PRESENCE_STORE_H
#define CHAT_BACKEND_PRESENCE_STORE_H

#include <chat/backend/types.h>
#include <chat/config.h>
#include <chat/presence.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHAT_PRESENCE_STORE_V1 1u

typedef struct chat_presence_store_ops {
    uint32_t version;           /* CHAT_PRESENCE_STORE_V1 */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    void (*close)(void *impl);
    /* Records a heartbeat at now_ms that keeps the user online until
     * now_ms + ttl_ms. *changed (may be NULL) is true when the user's effective
     * presence changed (was offline). */
    chat_err (*heartbeat)(void *impl, const char *user_id, int64_t now_ms, int64_t ttl_ms,
                          bool *changed);
    /* Sets or clears manual away. *changed as above. */
    chat_err (*set_away)(void *impl, const char *user_id, bool away, int64_t now_ms,
                         bool *changed);
    /* Effective presence of n users at now_ms: offline when the heartbeat has
     * expired, away when set by hand, active otherwise. Reflects this store's
     * own writes at once (read-your-writes); another process's writes may take
     * a moment to show where the store reads from replicas. */
    chat_err (*get)(void *impl, const char *const *user_ids, size_t n, int64_t now_ms,
                    chat_presence *out);
    /* Optional: when NULL, users whose heartbeat expires read as offline
     * (get) but no presence_change event announces it.
     * Users whose heartbeat expired at or before now_ms and who were not yet
     * reported: each is reported once (CHAT_LIST_STRINGS). */
    chat_err (*expired)(void *impl, int64_t now_ms, chat_list **out);
} chat_presence_store_ops;

/* Registers a presence store under ops->scheme, replacing one registered
 * earlier under that scheme. ops is borrowed and must outlive every context
 * using it. not_supported for a version of 0 or above CHAT_PRESENCE_STORE_V1;
 * invalid_arguments when ops, its scheme or a required method is NULL.
 * Thread-safe. */
CHAT_API chat_err chat_presence_store_register(const chat_presence_store_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
