/*
 * libchat/gateway/httpd.h - HTTP/1.1 on the gateway's sockets (net.h): a
 * request is read whole (head, then a body by Content-Length or chunked, up
 * to its route's limit), handed to a worker with the socket paused, and
 * answered once with gw_respond; keep-alive and pipelining in order; GET
 * /rtm with a WebSocket upgrade goes to the hub (hub.c).
 *
 * A gw_req belongs to the worker that serves it until gw_respond, which
 * sends the response and frees it; any thread may call gw_respond.
 */
#ifndef CHAT_GW_HTTPD_H
#define CHAT_GW_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"
#include "net.h"

typedef struct chat_gateway gw;

typedef struct gw_req gw_req;

/* A route's handler: runs on a worker thread and calls gw_respond once. */
typedef void (*gw_serve_fn)(gw *g, gw_req *r);
/* A WebSocket route's: takes over the socket of r, a GET asking for an
 * upgrade; false when it is not a valid one (httpd answers 400). Loop
 * thread. */
typedef bool (*gw_upgrade_fn)(gw *g, gw_sock *s, const gw_req *r);

typedef struct gw_route {
    const char *path;       /* "/api": the path itself; with tree, also "/api/..." */
    bool tree;
    const char *method;     /* NULL: any; "GET" also takes HEAD */
    size_t max_body;        /* larger bodies get 413 before they are read */
    gw_serve_fn serve;      /* NULL for a WebSocket route */
    gw_upgrade_fn upgrade;  /* a WebSocket route's */
} gw_route;

/* Starts serving HTTP on the gateway's listening address with these routes
 * (the first that matches wins; none: 404, wrong method: 405). */
chat_err gw_httpd_start(gw *g, const gw_route *routes, size_t n_routes);
/* Stops accepting and closes every connection (requests in flight are
 * answered into closed sockets: harmless). */
void gw_httpd_stop(gw *g);

const char *gw_req_method(const gw_req *r);
/* The request target: path and query, e.g. "/api/chat.postMessage?x=1". */
const char *gw_req_uri(const gw_req *r);
/* The first header of this name (any case), or NULL. */
const char *gw_req_header(const gw_req *r, const char *name);
/* The body (NUL-terminated for convenience; len excludes the NUL). */
const char *gw_req_body(const gw_req *r, size_t *len);
/* The peer's address as text. */
const char *gw_req_peer(const gw_req *r);

/*
 * Sends the response and frees r. headers are n_headers (name, value)
 * pairs, or NULL. data[0..len) is copied. Content-Length, Connection and
 * Content-Type (when content_type is not NULL) are written here.
 */
void gw_respond(gw_req *r, uint16_t status, const char *content_type, const void *data,
                size_t len, const char *const *headers, size_t n_headers);

/* For the WebSocket upgrade: the socket (referenced, yours) and the head,
 * valid until gw_req_free; the request is done without a response. */
gw_sock *gw_req_take_sock(gw_req *r);
void gw_req_free(gw_req *r);

#endif
