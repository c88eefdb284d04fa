/*
 * servers/gateway/gateway.h - the HTTP and WebSocket front door.
 *
 * Speaks Slack's Web API (POST/GET /api/<method>) and a Slack-shaped event
 * stream over a WebSocket (/rtm), over nng's HTTP server. It holds no business
 * logic: every method goes through a service client (direct calls in chatd,
 * nng RPC in the distributed deployment) and events come from chat_subscribe.
 *
 * Thread safety: gw_start/gw_stop from one thread; requests are served by the
 * gateway's own worker threads.
 */
#ifndef CHAT_GW_GATEWAY_H
#define CHAT_GW_GATEWAY_H

#include <chat/chat.h>

#include "rpc/svc.h"

typedef struct gw_config {
    const char *listen;         /* "http://127.0.0.1:8080" or "https://..." */
    const char *public_url;     /* what clients reach us at; default: listen */
    const char *tls_cert;       /* PEM files; both or neither */
    const char *tls_key;
    int workers;                /* request threads; 0: 2 per core, at least 8 */
    double rate_per_sec;        /* per-token request rate; 0: 200 */
    double rate_burst;          /* bucket size; 0: 400 */
    size_t max_body;            /* API body limit; 0: 1 MiB */
    size_t replay_events;       /* events kept for resuming clients; 0: 65536 */
    const char *web_root;       /* directory served at / (web client); NULL: none */
} gw_config;

typedef struct gw gw;

/* Starts serving. svc is used for every method (not owned; outlives the
 * gateway); events is the context whose broker feeds the event stream (not
 * owned). errbuf (may be NULL) says what failed. */
chat_err gw_start(const gw_config *cfg, chati_svc *svc, chat_ctx *events, gw **out,
                  char *errbuf, size_t errlen);

/* The URL the gateway listens at (with the real port when 0 was asked). */
const char *gw_url(const gw *g);

/* Stops listening, closes every connection, waits for running requests. */
void gw_stop(gw *g);

#endif
