/* HTTP/1.1 on the gateway's sockets: requests read, routed to workers,
 * answered; see httpd.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_internal.h"
#include "httpd.h"

#define MAX_HEAD (16 * 1024)    /* request line and headers */
#define IDLE_MS 120000          /* a keep-alive connection silent this long goes */
#define MAX_UNSENT (1u << 20)   /* answers unread by the peer before the next
                                 * request is read: pipelining without reading
                                 * must not grow our memory without end */

struct gw_req {
    gw *g;
    gw_sock *sock;              /* referenced */
    const gw_route *route;
    char *head_buf;             /* a copy of the head, parsed in place */
    gw_http_head head;
    chati_buf body;
    bool keep_alive;
    bool head_only;             /* HEAD: the response without its body */
};

/* One connection's HTTP state; loop thread, except `busy` handed over. */
typedef struct hconn {
    gw *g;
    gw_req *req;                /* being read (not yet handed to a worker) */
    gw_http_chunked chunk;
    uint64_t body_left;         /* Content-Length bytes still to read */
    bool in_body;
    bool busy;                  /* a request is with a worker: socket paused */
    bool eof;                   /* the peer shut its side: close after the reply */
} hconn;

typedef struct httpd {
    gw_net *net;
    const gw_route *routes;
    size_t n_routes;
} httpd;

/* ------------------------------------------------------------ requests --- */

const char *gw_req_method(const gw_req *r)
{
    return r->head.method;
}

const char *gw_req_uri(const gw_req *r)
{
    return r->head.target;
}

const char *gw_req_header(const gw_req *r, const char *name)
{
    return gw_http_header_get(&r->head, name);
}

const char *gw_req_body(const gw_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *gw_req_peer(const gw_req *r)
{
    return gw_sock_peer(r->sock);
}

gw_sock *gw_req_take_sock(gw_req *r)
{
    gw_sock *s = r->sock;
    r->sock = NULL;
    return s;
}

void gw_req_free(gw_req *r)
{
    if (r == NULL)
        return;
    gw_sock_unref(r->sock);
    chat_free(r->head_buf);
    chati_buf_free(&r->body);
    chat_free(r);
}

static const char *reason(uint16_t status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Writes the response, then ends the connection or (resume) lets the loop
 * read the next request. Any thread. */
static void send_response(gw_sock *s, bool keep_alive, bool http10, bool resume,
                          bool head_only, uint16_t status, const char *content_type,
                          const void *data, size_t len, const char *const *headers,
                          size_t n_headers)
{
    chati_buf b = {0};
    chati_buf_printf(&b, "HTTP/1.1 %u %s\r\n", status, reason(status));
    if (content_type)
        chati_buf_printf(&b, "Content-Type: %s\r\n", content_type);
    for (size_t i = 0; i < n_headers; i++)
        chati_buf_printf(&b, "%s: %s\r\n", headers[2 * i], headers[2 * i + 1]);
    /* An HTTP/1.0 client keeps the connection only when told (RFC 9112 C.2.2). */
    chati_buf_printf(&b, "Content-Length: %zu\r\n%s\r\n", len,
                     !keep_alive ? "Connection: close\r\n"
                     : http10    ? "Connection: keep-alive\r\n"
                                 : "");
    if (!head_only && len > 0)
        chati_buf_append(&b, data, len);
    if (b.data == NULL) { /* out of memory: all we can do is hang up */
        gw_sock_close(s, false);
        return;
    }
    gw_out o = {.data = b.data, .len = b.len, .release = chat_free, .ref = b.data};
    gw_sock_send(s, &o, 0, GW_SEND_NOW);
    if (!keep_alive)
        gw_sock_close(s, true);
    else if (resume)
        gw_sock_resume_below(s, MAX_UNSENT);
}

void gw_respond(gw_req *r, uint16_t status, const char *content_type, const void *data,
                size_t len, const char *const *headers, size_t n_headers)
{
    /* While a worker has the request the socket is paused: the loop leaves
     * the connection's state alone until the resume below. */
    hconn *h = gw_sock_data(r->sock);
    bool keep = r->keep_alive && !h->eof;
    h->busy = false;
    send_response(r->sock, keep, r->head.minor == 0, true, r->head_only, status, content_type,
                  data, len, headers, n_headers);
    gw_req_free(r);
}

/* ------------------------------------------------------------ routing --- */

static bool path_matches(const gw_route *rt, const char *target)
{
    size_t n = strlen(rt->path);
    if (strncmp(target, rt->path, n) != 0)
        return false;
    char c = target[n];
    if (c == '\0' || c == '?')
        return true;
    return rt->tree && (c == '/' || rt->path[n - 1] == '/');
}

/* The route for a request, or NULL with *status (404 or 405); for a 405,
 * allow[0..n) lists the methods the path takes (RFC 9110 15.5.6). */
static const gw_route *route_for(const httpd *d, const gw_http_head *h, uint16_t *status,
                                 char *allow, size_t n)
{
    *status = 404;
    allow[0] = '\0';
    for (size_t i = 0; i < d->n_routes; i++) {
        const gw_route *rt = &d->routes[i];
        if (!path_matches(rt, h->target))
            continue;
        if (rt->method == NULL || strcmp(rt->method, h->method) == 0 ||
            (strcmp(rt->method, "GET") == 0 && strcmp(h->method, "HEAD") == 0))
            return rt;
        *status = 405;
        const char *m = strcmp(rt->method, "GET") == 0 ? "GET, HEAD" : rt->method;
        size_t used = strlen(allow);
        if (strstr(allow, m) == NULL)
            snprintf(allow + used, n - used, "%s%s", used ? ", " : "", m);
    }
    return NULL;
}

/* ----------------------------------------------------------- reading --- */

/* Answers an error the loop found itself and ends the connection: after a
 * bad request nothing later on it can be trusted. */
static void refuse(gw_sock *s, uint16_t status)
{
    /* API clients read the error as Slack's JSON */
    const char *name = status == 413   ? "request_too_large"
                       : status == 431 ? "request_header_too_large"
                       : status == 501 ? "not_implemented"
                       : status == 505 ? "http_version_not_supported"
                                       : "invalid_request";
    char body[96];
    int n = snprintf(body, sizeof body, "{\"ok\":false,\"error\":\"%s\"}", name);
    send_response(s, false, false, false, false, status, "application/json; charset=utf-8", body,
                  (size_t)n, NULL, 0);
}

static void job_run(void *arg)
{
    gw_req *r = arg;
    r->route->serve(r->g, r);
}

/* The whole request is read: hand it to a worker, reading paused. */
static void dispatch(gw_sock *s, hconn *h)
{
    gw_req *r = h->req;
    h->req = NULL;
    h->in_body = false;
    h->busy = true;
    gw_sock_pause(s);
    if (!gw_workers_submit(h->g->workers, job_run, r)) {
        gw_req_free(r); /* stopping */
        gw_sock_close(s, false);
    }
}

/* Where the head at data[0..len) ends (after its blank line), or 0. */
static size_t head_end(const char *data, size_t len)
{
    for (const char *p = data, *end = data + len; (p = memchr(p, '\n', (size_t)(end - p)));) {
        p++;
        if (p < end && *p == '\n')
            return (size_t)(p + 1 - data);
        if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
            return (size_t)(p + 2 - data);
    }
    return 0;
}

/* What begin() did with a head. */
enum { BEGUN, ANSWERED, ANSWERED_PAUSED, ENDED };

/* Starts a request from its head, data[0..n). */
static int begin(gw_sock *s, hconn *h, const char *data, size_t n)
{
    httpd *d = h->g->httpd;
    gw_req *r = chat_calloc(1, sizeof *r);
    char *copy = chat_malloc(n + 1);
    if (r == NULL || copy == NULL) {
        chat_free(r);
        chat_free(copy);
        gw_sock_close(s, false);
        return ENDED;
    }
    memcpy(copy, data, n);
    copy[n] = '\0';
    r->head_buf = copy;
    int hl = gw_http_parse_head(copy, n, MAX_HEAD, &r->head);
    if (hl != (int)n) {
        gw_req_free(r);
        refuse(s, hl < 0 ? (uint16_t)-hl : 400);
        return ENDED;
    }
    r->g = h->g;
    r->sock = s;
    gw_sock_ref(s);
    r->keep_alive = r->head.keep_alive;
    r->head_only = strcmp(r->head.method, "HEAD") == 0;
    uint16_t status;
    char allow[64];
    r->route = route_for(d, &r->head, &status, allow, sizeof allow);
    bool has_body = r->head.content_length > 0 || r->head.chunked;
    if (r->route == NULL) {
        /* a body we would have to skip: simpler to end the connection */
        bool keep = r->keep_alive && !has_body;
        char body[64];
        int bl = snprintf(body, sizeof body, "%u %s\n", status, reason(status));
        const char *const hdr[] = {"Allow", allow};
        send_response(s, keep, r->head.minor == 0, false, r->head_only, status,
                      "text/plain; charset=utf-8", body, (size_t)bl, hdr, status == 405);
        gw_req_free(r);
        if (!keep)
            return ENDED;
        if (gw_sock_queued(s) > MAX_UNSENT) {
            /* a client pipelining into 404s without reading: as gw_respond */
            gw_sock_pause(s);
            gw_sock_resume_below(s, MAX_UNSENT);
            return ANSWERED_PAUSED;
        }
        return ANSWERED;
    }
    if (r->route->serve == NULL) { /* a WebSocket: /rtm, /link */
        bool ok = r->head.upgrade_websocket && strcmp(r->head.method, "GET") == 0 && !has_body &&
                  r->route->upgrade(h->g, s, r);
        gw_req_free(r);
        if (!ok)
            refuse(s, 400);
        return ENDED; /* no more HTTP on this socket: it is a WebSocket now */
    }
    if (r->head.content_length > 0 && (uint64_t)r->head.content_length > r->route->max_body) {
        gw_req_free(r);
        refuse(s, 413);
        return ENDED;
    }
    if (r->head.expect_continue && has_body) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        gw_out o = {.data = cont, .len = sizeof cont - 1};
        gw_sock_send(s, &o, 0, GW_SEND_NOW);
    }
    h->req = r;
    memset(&h->chunk, 0, sizeof h->chunk);
    h->body_left = r->head.content_length > 0 ? (uint64_t)r->head.content_length : 0;
    h->in_body = has_body;
    if (h->body_left > 0 && chati_buf_reserve(&r->body, (size_t)h->body_left) != CHAT_OK) {
        h->req = NULL;
        gw_req_free(r);
        gw_sock_close(s, false);
        return ENDED;
    }
    if (!h->in_body)
        dispatch(s, h);
    return BEGUN;
}

/* Feeds body bytes to the request being read; returns the bytes used, or
 * -1 when the connection was refused. */
static long body_bytes(gw_sock *s, hconn *h, const char *data, size_t len)
{
    gw_req *r = h->req;
    if (r->head.chunked) {
        bool too_large = false;
        long k = gw_http_chunked_feed(&h->chunk, data, len, r->route->max_body, &r->body,
                                      &too_large);
        if (k < 0) {
            h->req = NULL;
            gw_req_free(r);
            refuse(s, too_large ? 413 : 400);
            return -1;
        }
        if (h->chunk.done)
            dispatch(s, h);
        return k;
    }
    size_t n = len < h->body_left ? len : (size_t)h->body_left;
    chati_buf_append(&r->body, data, n);
    h->body_left -= n;
    if (h->body_left == 0)
        dispatch(s, h);
    return (long)n;
}

static size_t on_data(gw_sock *s, char *data, size_t len)
{
    hconn *h = gw_sock_data(s);
    size_t used = 0;
    /* Once a request is dispatched (h->req back to NULL) the turn is the
     * worker's: stop here. Not h->busy, which the worker clears before its
     * response is queued: the next request would be dispatched meanwhile and
     * answered first (and the worker's resume would unpause the socket with
     * that one still out). */
    while (used < len && !h->busy) {
        if (h->in_body) {
            long k = body_bytes(s, h, data + used, len - used);
            if (k < 0)
                return len;
            used += (size_t)k;
            if (h->req == NULL)
                break;
            continue;
        }
        size_t n = head_end(data + used, len - used);
        if (n == 0) {
            if (len - used > MAX_HEAD) {
                refuse(s, 431);
                return len;
            }
            break;
        }
        int how = begin(s, h, data + used, n);
        if (how == ENDED) {
            if (gw_sock_data(s) == h)
                return len;
            /* Upgraded: the hub's state replaced ours, and frames sent
             * right behind the handshake are the hub's to read. */
            chat_free(h);
            return used + n;
        }
        used += n;
        if ((how == BEGUN && h->req == NULL) || how == ANSWERED_PAUSED)
            break;
    }
    return used;
}

static void on_close(gw_sock *s)
{
    hconn *h = gw_sock_data(s);
    gw_req_free(h->req);
    h->req = NULL;
}

static void on_eof(gw_sock *s)
{
    hconn *h = gw_sock_data(s);
    h->eof = true;
    if (h->req != NULL) {
        /* Its body can no longer come: say so now rather than hold the
         * connection until the idle timeout. */
        gw_req_free(h->req);
        h->req = NULL;
        h->in_body = false;
        refuse(s, 400);
    } else if (!h->busy) {
        gw_sock_close(s, true);
    }
}

static const gw_sock_ops http_ops = {on_data, on_close, on_eof, chat_free};

static void on_accept(void *arg, gw_sock *s)
{
    gw *g = arg;
    hconn *h = chat_calloc(1, sizeof *h);
    if (h == NULL)
        return; /* no ops: the loop closes it */
    h->g = g;
    gw_sock_set_ops(s, &http_ops, h);
    gw_sock_set_idle_timeout(s, IDLE_MS);
}

chat_err gw_httpd_start(gw *g, const gw_route *routes, size_t n_routes)
{
    httpd *d = chat_calloc(1, sizeof *d);
    if (d == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "http server");
    d->routes = routes;
    d->n_routes = n_routes;
    g->httpd = d;
    gw_net_config cfg = {.host = g->listen_host, .port = g->listen_port,
                         .threads = g->cfg.io_threads > 0 ? g->cfg.io_threads : 1,
                         .on_accept = on_accept, .arg = g,
                         .tls_cert = g->tls_cert_pem, .tls_key = g->tls_key_pem};
    return gw_net_start(&cfg, &d->net);
}

void gw_httpd_stop(gw *g)
{
    if (g->httpd == NULL)
        return;
    gw_net_stop(g->httpd->net);
    chat_free(g->httpd);
    g->httpd = NULL;
}
