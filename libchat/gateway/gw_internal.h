/*
 * libchat/gateway/gw_internal.h - the pieces of the gateway and what they share.
 */
#ifndef CHAT_GW_INTERNAL_H
#define CHAT_GW_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <nng/nng.h>

#include <chat/gateway.h>

#include "api/announce.h"
#include "api/svc.h"
#include "core/internal.h"
#include "httpd.h"
#include "pbjson.h"

/* Inside the gateway, its handle and configuration are gw and gw_config. */
typedef struct chat_gateway gw;
typedef chat_gateway_config gw_config;

/* ---- a job queue served by worker threads (workers.c) ---- */
typedef struct gw_workers gw_workers;
typedef void (*gw_job_fn)(void *arg);
chat_err gw_workers_start(int n, gw_workers **out);
/* Queues fn(arg); false when stopping (then the caller cleans up). */
bool gw_workers_submit(gw_workers *w, gw_job_fn fn, void *arg);
/* Runs what is queued, then joins the threads; later submits are refused. */
void gw_workers_stop(gw_workers *w);
/* Frees the pool (stopping it first): only once nothing can submit. */
void gw_workers_free(gw_workers *w);

/* ---- per-token rate limits (ratelimit.c) ---- */
typedef struct gw_ratelimit gw_ratelimit;
chat_err gw_ratelimit_new(double per_sec, double burst, gw_ratelimit **out);
/* Takes one token for key; false with *retry_after_s (>= 1) when empty. */
bool gw_ratelimit_take(gw_ratelimit *r, const char *key, int *retry_after_s);
void gw_ratelimit_free(gw_ratelimit *r);

/* ---- the event hub: WebSocket clients and fan-out (hub.c) ---- */
typedef struct gw_hub gw_hub;
chat_err gw_hub_start(gw *g, gw_hub **out);
void gw_hub_stop(gw_hub *h);
/* The WebSocket URL a client connects to (for rtm.connect). */
const char *gw_hub_ws_url(const gw_hub *h);
/* Takes over a socket whose request r (GET /rtm) asks for a WebSocket:
 * answers 101 and speaks WebSocket on it from now on. false: not a valid
 * upgrade (the caller answers 400). Loop thread. */
bool gw_hub_attach(gw_hub *h, gw_sock *s, const gw_req *r);

/* ---- Socket Mode: apps' WebSockets and their events (links.c) ---- */
typedef struct gw_links gw_links;
chat_err gw_links_start(gw *g, gw_links **out);
void gw_links_stop(gw_links *l);
/* The start of a Socket Mode URL ("ws://host/link/"). */
const char *gw_links_base(const gw_links *l);
/* Takes over a socket whose request (GET /link/?ticket=...) asks for a
 * WebSocket, as gw_hub_attach. Loop thread. */
bool gw_links_attach(gw_links *l, gw_sock *s, const gw_req *r);

/* ---- the Events API: apps' events POSTed to their URLs (app_http.c) ---- */
typedef struct gw_app_http gw_app_http;
chat_err gw_app_http_start(gw *g, gw_app_http **out);
void gw_app_http_stop(gw_app_http *s);
/* An app's answer to a slash command (body: JSON fields, or plain text),
 * posted through the ticket of the command's response_url. */
void gw_app_answer(gw *g, const char *ticket, const char *body, size_t len);
/* An app's acknowledgement of a view submission (body: its JSON, or empty),
 * for the view, through the ticket it was queued with. */
void gw_app_view_answer(gw *g, const char *ticket, const char *body, size_t len);

/* ---- a verified caller (auth.c) ---- */
/* Verifies a token through the auth service. On success *out is a session to
 * free with chat_session_free. Results are cached briefly. */
chat_err gw_authenticate(gw *g, const char *token, chat_session **out);
/* The token of an "Authorization: Bearer <token>" header value (the scheme in
 * any case), pointing into it; NULL when it is not one or the token is empty. */
const char *gw_bearer_token(const char *authorization);

struct chat_gateway {
    gw_config cfg;
    char *listen_url;
    char *public_url;
    char *web_root_real;        /* realpath of cfg.web_root (malloc), or NULL */
    chati_svc *svc;
    chati_announcer *announcer; /* "gateway" in discovery (remote gateways) */
    chat_ctx *events;
    struct httpd *httpd;
    gw_route routes[12];        /* what httpd serves, first match first */
    size_t n_routes;
    nng_url *url;               /* the listening address, parsed */
    char *listen_host;
    int listen_port;
    char *tls_cert_pem;         /* https: the PEM text of the files configured */
    char *tls_key_pem;
    gw_workers *workers;
    gw_ratelimit *rate;
    gw_hub *hub;
    gw_links *links;
    gw_app_http *app_http;
    atomic_bool stopping;
};

/* ---- the Web API (api.c) ---- */
/* Replaces out's contents with {"ok":false,"error":<err's name>[,"detail":...]}. */
void gw_error_json(chati_buf *out, chat_err err, const char *detail);
/* Serves one /api/<method> request on a worker thread. */
void gw_api_serve(gw *g, gw_req *r);
/* Writes the Slack JSON reply of a call's result into out: {"ok":true,...}
 * with resp's fields when rv is CHAT_OK, else {"ok":false,"error":...} with
 * the thread's error detail. Returns rv, or the error building the JSON. */
chat_err gw_result_json(chat_err rv, const ProtobufCMessage *resp, chati_buf *out);
/* Calls a method as session s (NULL: unauthenticated) and writes the Slack
 * JSON reply ({"ok":true,...} or {"ok":false,"error":...}) into out. Returns
 * the method's result. Shared by HTTP and the WebSocket's RPC-style messages. */
chat_err gw_call_json(gw *g, const chati_method *m, const chat_session *s, const gw_args *args,
                      chati_buf *out);
/* GET /avatars/<size>/<colour>/<initials>.svg (avatars.c). */
void gw_avatar_serve(gw *g, gw_req *r);
/* POST /hooks/<id>: an incoming webhook (hooks.c). */
void gw_hook_serve(gw *g, gw_req *r);
/* Answers r with body (freed) and at most one extra header. */
void gw_reply(gw_req *r, uint16_t status, const char *content_type, chati_buf *body,
              const char *extra_header, const char *extra_value);

#endif
