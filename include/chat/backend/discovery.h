/*
 * chat/backend/discovery.h - service discovery ("static", "etcd").
 *
 * Services register their address under their name ("auth", "user",
 * "channel", "message", "presence", "gateway") with a time to live they keep
 * renewing; clients look up the live addresses of a service.
 * Thread safety: every function may be called concurrently.
 * Methods are required unless marked "Optional:"; registration refuses a
 * table whose version is 0 or newer than CHAT_DISCOVERY_V1, or whose required
 * methods are NULL (chat/backend/types.h has the version rule).
 */
#ifndef CHAT_BACKEND_DISCOVERY_H
#define CHAT_BACKEND_DISCOVERY_H

#include <chat/backend/types.h>
#include <chat/config.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHAT_DISCOVERY_V1 1u

typedef struct chat_discovery_ops {
    uint32_t version;           /* CHAT_DISCOVERY_V1 */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    void (*close)(void *impl);
    /* Optional, together: when NULL the discovery is read-only and services
     * do not announce themselves through it (another system does).
     * Registers (or renews) service at address for ttl_s seconds. */
    chat_err (*announce)(void *impl, const char *service, const char *address, int ttl_s);
    /* Optional, as above. Removes an announcement. */
    chat_err (*withdraw)(void *impl, const char *service, const char *address);
    /* Optional: when NULL, clients reach only the addresses configured for
     * each service, as if discovery found none.
     * Live addresses of a service (CHAT_LIST_STRINGS), possibly empty. */
    chat_err (*lookup)(void *impl, const char *service, chat_list **out);
} chat_discovery_ops;

/* Registers a discovery under ops->scheme, replacing one registered earlier
 * under that scheme. ops is borrowed and must outlive every context using it.
 * not_supported for a version of 0 or above CHAT_DISCOVERY_V1;
 * invalid_arguments when ops, its scheme or a required method is NULL.
 * Thread-safe. */
CHAT_API chat_err chat_discovery_register(const chat_discovery_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
