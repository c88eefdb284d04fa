/*
 * chat/gateway.h - the HTTP and WebSocket front door, a library of its own
 * (chat_gateway) that chatd and chat-gateway link.
 *
 * Speaks Slack's Web API (POST/GET /api/<method>) and a Slack-shaped event
 * stream over a WebSocket (/rtm), over nng's HTTP server. It holds no
 * business logic: every method goes into the context (chatd) or over RPC to
 * the chat-*d services (the distributed deployment), and events come from
 * chat_subscribe on the context's broker.
 *
 * Thread safety: start and stop from one thread; requests are served by the
 * gateway's own worker threads.
 */
#ifndef CHAT_GATEWAY_H
#define CHAT_GATEWAY_H

#include <stdbool.h>

#include <chat/chat.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chat_gateway_config {
    const char *listen;         /* "http://127.0.0.1:8080" or "https://..." */
    const char *public_url;     /* what clients reach us at; default: listen */
    const char *tls_cert;       /* PEM files; both or neither */
    const char *tls_key;
    int workers;                /* request threads; 0: 16 */
    double rate_per_sec;        /* per-token request rate; 0: 200 */
    double rate_burst;          /* bucket size; 0: 400 */
    size_t max_body;            /* API body limit; 0: 1 MiB */
    size_t replay_events;       /* events kept for resuming clients; 0: 65536 */
    const char *web_root;       /* directory served at / (web client); NULL: none */
    bool remote;                /* methods go over RPC to the chat-*d services
                                   (addresses from rpc.<service> or discovery),
                                   not into the context */
    int io_threads;             /* threads reading and writing sockets; 0: 1 */
    int app_retry_ms;           /* Events API: how long a failed POST to an app
                                   waits for its next try; 0: 60000 */
} chat_gateway_config;

typedef struct chat_gateway chat_gateway;

/* Starts serving. The strings of cfg are copied or read only during the
 * call. ctx (not owned, outlives the gateway) runs the methods, or with
 * cfg->remote only feeds the event stream and holds the RPC configuration.
 * On failure *out is NULL and errbuf (may be NULL) says why. */
chat_err chat_gateway_start(const chat_gateway_config *cfg, chat_ctx *ctx, chat_gateway **out,
                            char *errbuf, size_t errlen);

/* The URL the gateway listens at (with the real port when 0 was asked). */
const char *chat_gateway_url(const chat_gateway *g);

/* Stops listening, closes every connection, waits for running requests,
 * frees g. NULL is a no-op. */
void chat_gateway_stop(chat_gateway *g);

#ifdef __cplusplus
}
#endif
#endif
