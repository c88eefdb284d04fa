/*
 * chat/backend/discovery.h - service discovery ("static", "etcd").
 *
 * Services register their address under their name ("auth", "user",
 * "channel", "message", "presence", "gateway") with a time to live they keep
 * renewing; clients look up the live addresses of a service.
 * Thread safety: every function may be called concurrently.
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
    /* Registers (or renews) service at address for ttl_s seconds. */
    chat_err (*announce)(void *impl, const char *service, const char *address, int ttl_s);
    chat_err (*withdraw)(void *impl, const char *service, const char *address);
    /* Live addresses of a service (CHAT_LIST_STRINGS), possibly empty. */
    chat_err (*lookup)(void *impl, const char *service, chat_list **out);
} chat_discovery_ops;

CHAT_API chat_err chat_discovery_register(const chat_discovery_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
