/* The gateway's HTTP server: routes, worker hand-off, start and stop. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"
#include "gw_internal.h"
#include "api/method.h"
#include "api/svc.h"
#include "rpc.pb-c.h"


/* ------------------------------------------------------------ web root --- */

#define WEB_MAX_FILE ((size_t)16 << 20)

static const struct {
    const char *ext, *type;
} web_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".webp", "image/webp"},
    {".jpg", "image/jpeg"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *web_type(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < CHATI_ARRAY_LEN(web_types); i++) {
        size_t e = strlen(web_types[i].ext);
        if (n >= e && strcmp(path + n - e, web_types[i].ext) == 0)
            return web_types[i].type;
    }
    return "application/octet-stream";
}

/* The request path as a file name relative to the web root: decoded, with no
 * ".", ".." or hidden segment, no backslash or control character; a directory
 * (trailing '/') means its index.html. false: nothing to serve. */
static bool web_path(const char *uri, char *out, size_t n)
{
    if (uri[0] != '/')
        return false;
    size_t o = 0, seg = 0;
    for (const char *p = uri + 1;; p++) {
        char c = *p;
        if (c == '%') {
            int hi = chati_hex_digit(p[1]), lo = hi < 0 ? -1 : chati_hex_digit(p[2]);
            if (lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            p += 2;
            if (c == '/' || c == '\0')
                return false;
        } else if (c == '?' || c == '#') {
            c = '\0';
        }
        if (c == '\0' || c == '/') {
            if (o > seg && out[seg] == '.') /* ".", "..", ".hidden" */
                return false;
            if (c == '\0')
                break;
            if (o == seg)
                continue; /* "//" */
            if (o + 1 >= n)
                return false;
            out[o++] = '/';
            seg = o;
            continue;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\' || o + 1 >= n)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    if (o == 0 || out[o - 1] == '/') {
        static const char idx[] = "index.html";
        if (o + sizeof idx > n)
            return false;
        memcpy(out + o, idx, sizeof idx);
    }
    return true;
}

static void web_not_found(gw_req *req)
{
    chati_buf b = {0};
    chati_buf_puts(&b, "not found\n");
    gw_reply(req, 404, "text/plain; charset=utf-8", &b, NULL, NULL);
}

/* GET of anything no other route takes: the web client's files, from inside
 * the web root only. */
static void gw_web_serve(gw *g, gw_req *req)
{
    char rel[1024], path[PATH_MAX + 1100], real[PATH_MAX];
    struct stat st;
    if (!web_path(gw_req_uri(req), rel, sizeof rel)) {
        web_not_found(req);
        return;
    }
    snprintf(path, sizeof path, "%s/%s", g->web_root_real, rel);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t l = strlen(path);
        snprintf(path + l, sizeof path - l, "/index.html");
    }
    /* Symbolic links may not lead out of the web root either. */
    size_t rl = strlen(g->web_root_real);
    FILE *f = NULL;
    if (realpath(path, real) == NULL || strncmp(real, g->web_root_real, rl) != 0 ||
        real[rl] != '/' || stat(real, &st) != 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > WEB_MAX_FILE || (f = fopen(real, "rb")) == NULL) {
        web_not_found(req);
        return;
    }
    chati_buf body = {0};
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        chati_buf_append(&body, chunk, got);
    fclose(f);
    static const char *const h[] = {"Cache-Control", "no-cache",
                                    "X-Content-Type-Options", "nosniff",
                                    "Referrer-Policy", "no-referrer",
                                    "Content-Security-Policy", "frame-ancestors 'none'"};
    gw_respond(req, 200, web_type(real), body.data, body.len, h, 4);
    chati_buf_free(&body);
}

/* GET /health answers for the gateway alone (a load balancer's liveness
 * check). GET /health?services=1 is readiness: it asks every service for its
 * RPC health and answers 503 naming the first that does not answer, so a
 * deployment (or a test) can wait until each service has opened its backends. */
static void health_services(gw *g, gw_req *req)
{
    chati_buf body = {0};
    for (int svc = 0; svc < CHATI_SVC__COUNT; svc++) {
        ProtobufCMessage *resp = NULL;
        Chat__Rpc__Empty empty = CHAT__RPC__EMPTY__INIT;
        chat_err rv = chati_svc_call(g->svc, chati_rpc_health_method((chati_service)svc), NULL,
                                     &empty.base, 2000, &resp);
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        if (rv != CHAT_OK) {
            char detail[256];
            snprintf(detail, sizeof detail, "%s service: %s",
                     chati_service_name((chati_service)svc), chati_errmsg());
            gw_error_json(&body, CHAT_ERR_SERVICE_UNAVAILABLE, detail);
            gw_reply(req, 503, "application/json", &body, NULL, NULL);
            return;
        }
    }
    chati_buf_puts(&body, "{\"ok\":true}");
    gw_reply(req, 200, "application/json", &body, NULL, NULL);
}

static void health(gw *g, gw_req *req)
{
    const char *q = strchr(gw_req_uri(req), '?');
    if (q && strstr(q, "services=1")) {
        health_services(g, req);
        return;
    }
    chati_buf body = {0};
    chati_buf_puts(&body, "{\"ok\":true}");
    gw_reply(req, 200, "application/json", &body, NULL, NULL);
}

static void add_route(gw *g, const char *path, bool tree, const char *method,
                      size_t max_body, gw_serve_fn serve)
{
    g->routes[g->n_routes++] = (gw_route){path, tree, method, max_body, serve, NULL};
}

static void add_socket(gw *g, const char *path, bool tree, gw_upgrade_fn upgrade)
{
    g->routes[g->n_routes++] = (gw_route){path, tree, "GET", 0, NULL, upgrade};
}

static bool rtm_upgrade(gw *g, gw_sock *s, const gw_req *r)
{
    return gw_hub_attach(g->hub, s, r);
}

static bool link_upgrade(gw *g, gw_sock *s, const gw_req *r)
{
    return gw_links_attach(g->links, s, r);
}

/* Reads the certificate and key (checked when the server starts). */
static chat_err setup_tls(gw *g)
{
    if (g->cfg.tls_cert == NULL && g->cfg.tls_key == NULL)
        return CHAT_OK;
    if (g->cfg.tls_cert == NULL || g->cfg.tls_key == NULL)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "TLS needs both a certificate and a key");
    g->tls_cert_pem = chati_read_small_file(g->cfg.tls_cert, 1u << 20);
    g->tls_key_pem = chati_read_small_file(g->cfg.tls_key, 1u << 20);
    if (g->tls_cert_pem == NULL || g->tls_key_pem == NULL)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "cannot read the TLS certificate or key");
    return CHAT_OK;
}

static chat_err gw_setup(gw *g)
{
    chat_err rv;
    int e;
    if ((e = nng_url_parse(&g->url, g->listen_url)) != 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "listen address %s: %s", g->listen_url,
                          nng_strerror(e));
    if (strcmp(g->url->u_scheme, "http") != 0 && strcmp(g->url->u_scheme, "https") != 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "listen on http:// or https://");
    if ((rv = gw_workers_start(g->cfg.workers, &g->workers)) != CHAT_OK ||
        (rv = gw_ratelimit_new(g->cfg.rate_per_sec, g->cfg.rate_burst, &g->rate)) != CHAT_OK)
        return rv;
    g->listen_host = chat_strdup(g->url->u_hostname);
    g->listen_port = atoi(g->url->u_port);
    if (g->listen_host == NULL)
        return CHAT_ERR_NOMEM;
    if ((rv = setup_tls(g)) != CHAT_OK)
        return rv;
    /* First match wins. Bodies above a route's limit get 413 unread; the
     * handlers check the tighter limits (max_body) themselves. */
    size_t max_file = gw_files_max_bytes(g);
    add_route(g, "/api/files.upload", false, NULL, max_file + GW_UPLOAD_FORM_OVERHEAD,
              gw_api_serve);
    add_route(g, "/api", true, NULL, g->cfg.max_body * 4 + 4096, gw_api_serve);
    add_route(g, "/health", false, "GET", 0, health);
    add_route(g, "/upload", true, "POST", max_file + 1, gw_upload_serve);
    add_route(g, "/files", true, "GET", 0, gw_download_serve);
    add_route(g, "/hooks", true, "POST", g->cfg.max_body + 4096, gw_hook_serve);
    add_route(g, "/avatars", true, "GET", 0, gw_avatar_serve);
    add_socket(g, "/rtm", false, rtm_upgrade);
    add_socket(g, "/link", true, link_upgrade); /* Socket Mode: "/link/?ticket=" */
    /* The web client: everything no longer route took. */
    if (g->cfg.web_root) {
        if ((g->web_root_real = realpath(g->cfg.web_root, NULL)) == NULL)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "web root %s: not a directory",
                              g->cfg.web_root);
        add_route(g, "/", true, "GET", 0, gw_web_serve);
    }
    if ((rv = gw_hub_start(g, &g->hub)) != CHAT_OK ||
        (rv = gw_links_start(g, &g->links)) != CHAT_OK ||
        (rv = gw_app_http_start(g, &g->app_http)) != CHAT_OK)
        return rv;
    if ((rv = gw_httpd_start(g, g->routes, g->n_routes)) != CHAT_OK)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "cannot listen on %s: %s",
                          g->listen_url, chati_errmsg());
    return CHAT_OK;
}

chat_err chat_gateway_start(const chat_gateway_config *cfg, chat_ctx *ctx, chat_gateway **out,
                            char *errbuf, size_t errlen)
{
    chati_clear_errmsg();
    if (out == NULL || cfg == NULL || ctx == NULL) {
        chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a configuration, a context and an output");
        chati_errbuf(CHAT_ERR_INVALID_ARGUMENTS, errbuf, errlen);
        return CHAT_ERR_INVALID_ARGUMENTS;
    }
    *out = NULL;
    gw *g = chat_calloc(1, sizeof *g);
    if (g == NULL)
        return CHAT_ERR_NOMEM;
    g->cfg = *cfg;
    if (g->cfg.workers <= 0)
        g->cfg.workers = 16;
    if (g->cfg.rate_per_sec <= 0)
        g->cfg.rate_per_sec = 200;
    if (g->cfg.rate_burst <= 0)
        g->cfg.rate_burst = 400;
    if (g->cfg.max_body == 0)
        g->cfg.max_body = 1u << 20;
    if (g->cfg.replay_events == 0)
        g->cfg.replay_events = 65536;
    g->events = ctx;
    g->listen_url = chat_strdup(cfg->listen ? cfg->listen : "http://127.0.0.1:8080");
    g->public_url = chat_strdup(cfg->public_url ? cfg->public_url : g->listen_url);
    chat_err rv = g->listen_url && g->public_url ? CHAT_OK : CHAT_ERR_NOMEM;
    if (rv == CHAT_OK)
        rv = cfg->remote ? chati_svc_rpc(ctx, &g->svc) : chati_svc_direct(ctx, &g->svc);
    if (rv == CHAT_OK)
        rv = gw_setup(g);
    /* A gateway of the distributed deployment registers too, under its own
     * listening address (load balancers and operators find the gateways the
     * way services find each other; the public URL is shared by all). */
    if (rv == CHAT_OK && cfg->remote)
        rv = chati_announcer_start(ctx, "gateway", g->listen_url, &g->announcer);
    if (rv != CHAT_OK) {
        chati_errbuf(rv, errbuf, errlen);
        chat_gateway_stop(g);
        return rv;
    }
    *out = g;
    return CHAT_OK;
}

const char *chat_gateway_url(const chat_gateway *g)
{
    return g ? g->listen_url : "";
}

void chat_gateway_stop(chat_gateway *g)
{
    if (g == NULL)
        return;
    atomic_store(&g->stopping, true);
    chati_announcer_stop(g->announcer); /* out of discovery before draining */
    gw_hub_stop(g->hub);
    gw_links_stop(g->links);
    gw_app_http_stop(g->app_http);
    gw_workers_stop(g->workers); /* running requests finish; new ones are refused */
    gw_httpd_stop(g);
    gw_workers_free(g->workers); /* no handler can submit any more */
    gw_ratelimit_free(g->rate);
    if (g->url)
        nng_url_free(g->url);
    chat_free(g->listen_url);
    chat_free(g->listen_host);
    chat_free(g->tls_cert_pem);
    chat_free(g->tls_key_pem);
    chat_free(g->public_url);
    free(g->web_root_real);
    chati_svc_close(g->svc);
    chat_free(g);
}
