/*
 * libchat/api/serve.h - serving the method table over the RPC transport: the
 * chat.rpc frames (libchat/proto/rpc.proto) in, the method run in a
 * chat_ctx, the reply out. What every chat-*d runs (through chat_service_start
 * in include/chat/server.h), and what tests start directly.
 *
 * Every method of the table is served; chati_method_call refuses those of
 * services the ctx does not run (service_unavailable). Health (method id 0)
 * is answered at once, or service_unavailable while stopping. Requests are
 * logged to stderr, one line each, when the environment has
 * CHAT_LOG_LEVEL=debug.
 */
#ifndef CHATI_API_SERVE_H
#define CHATI_API_SERVE_H

#include "api/method.h"

typedef struct chati_api_server chati_api_server;

/* Runs one method for the server: what chati_method_call does (the default).
 * Tests put a hook here to slow methods down or fail them. */
typedef chat_err (*chati_api_call_fn)(void *arg, chat_ctx *ctx, const chati_method *m,
                                      const chat_session *s, const ProtobufCMessage *req,
                                      ProtobufCMessage **resp);

typedef struct chati_api_server_opts {
    int threads;            /* threads running methods; 0: config "server.rpc_threads",
                               else min(workers, max(8, 4 x CPUs)) */
    int drain_ms;           /* how long stop waits for in-flight requests [10000] */
    chati_api_call_fn call; /* NULL: chati_method_call */
    void *call_arg;
} chati_api_server_opts;

/* Listens on listen_url with at most `workers` client connections at once
 * (1..4096; each carries one request at a time); see
 * chati_rpc_server_start for the transport. opts may be NULL (defaults). ctx
 * is not owned and must outlive the server. */
chat_err chati_api_server_start(chat_ctx *ctx, const char *listen_url, int workers,
                                const chati_api_server_opts *opts, chati_api_server **out);
/* The address to announce (the real port when 0 was asked). */
const char *chati_api_server_url(const chati_api_server *srv);
/* Requests answered (any outcome). */
uint64_t chati_api_server_served(const chati_api_server *srv);
/* Refuses new requests, drains, stops; NULL is a no-op. */
void chati_api_server_stop(chati_api_server *srv);

#endif
