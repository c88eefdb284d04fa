/*
 * chat/server.h - for programs that run libchat as one service of the
 * distributed deployment (the chat-*d servers are such programs): the
 * service's methods served over RPC, and its address kept in discovery.
 *
 * A service process opens a chat_ctx with only its own backends
 * (chat_service_config), starts the service on that context, waits for a
 * signal, stops the service and closes the context. The services it does not
 * run are reached over RPC by the context itself (addresses from config
 * "rpc.<service>" or discovery).
 *
 * Thread safety: start and stop from one thread; the service answers on its
 * own threads.
 */
#ifndef CHAT_SERVER_H
#define CHAT_SERVER_H

#include <chat/chat.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The services, in the names discovery and the rpc.<service> keys use:
 * "auth", "user", "channel", "message", "presence". */

/* Sets every backend key of cfg that service does not own to "none", so that
 * chat_open opens only its own backends: auth owns store.auth; user
 * store.user and the broker; channel store.channel and the broker; message
 * store.message, the broker and the blob store; presence the presence store
 * and the broker. invalid_arguments for an unknown service. */
CHAT_API chat_err chat_service_config(chat_config *cfg, const char *service);

typedef struct chat_service chat_service;

/* Serves the methods of ctx's services over RPC on listen_url
 * ("tcp://0.0.0.0:7101"; port 0 picks one) with up to 64 requests at once,
 * and registers advertise (NULL: the URL it listens on) under the service's
 * name in ctx's discovery, renewing the registration every few seconds
 * (config "server.announce_ttl", seconds, default 15; renewed every third
 * of it).
 * ctx is not owned and must outlive the service. On failure *out is NULL and
 * chat_last_errmsg() says why (an address in use gives service_unavailable). */
CHAT_API chat_err chat_service_start(chat_ctx *ctx, const char *service,
                                     const char *listen_url, const char *advertise,
                                     chat_service **out);

/* The URL the service listens on, with the real port. Owned by svc. */
CHAT_API const char *chat_service_url(const chat_service *svc);

/* Withdraws the registration, refuses new requests (callers go to another
 * instance), waits for the requests in flight (at most config
 * "server.drain_ms", default 10000), then frees svc. NULL is a no-op. */
CHAT_API void chat_service_stop(chat_service *svc);

#ifdef __cplusplus
}
#endif
#endif
