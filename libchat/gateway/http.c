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

#include <nng/supplemental/tls/tls.h>

/* Every route hands its request to a worker: nng's own threads must never
 * block on a service call. */
typedef void (*serve_fn)(gw *g, nng_aio *aio, nng_http_req *req);

typedef struct job {
    gw *g;
    nng_aio *aio;
    nng_http_req *req;
    serve_fn serve;
} job;

static void job_run(void *arg)
{
    job *j = arg;
    j->serve(j->g, j->aio, j->req);
    chat_free(j);
}

static void submit(nng_aio *aio, serve_fn serve)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    gw *g = nng_http_handler_get_data(h);
    job *j = chat_malloc(sizeof *j);
    if (j == NULL) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    *j = (job){g, aio, req, serve};
    if (!gw_workers_submit(g->workers, job_run, j)) {
        chat_free(j);
        nng_aio_finish(aio, NNG_ECLOSED);
    }
}

static void on_api(nng_aio *aio)
{
    submit(aio, gw_api_serve);
}

static void on_upload(nng_aio *aio)
{
    submit(aio, gw_upload_serve);
}

static void on_download(nng_aio *aio)
{
    submit(aio, gw_download_serve);
}

static void on_hook(nng_aio *aio)
{
    submit(aio, gw_hook_serve);
}

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

static void web_not_found(nng_aio *aio)
{
    chati_buf b = {0};
    chati_buf_puts(&b, "not found\n");
    gw_reply(aio, 404, "text/plain; charset=utf-8", &b, NULL, NULL);
}

/* GET of anything no other route takes: the web client's files, from inside
 * the web root only (nng's directory handler follows "..", and claims the
 * whole tree so that /health and /files collide with it). */
static void gw_web_serve(gw *g, nng_aio *aio, nng_http_req *req)
{
    char rel[1024], path[PATH_MAX + 1100], real[PATH_MAX];
    struct stat st;
    if (!web_path(nng_http_req_get_uri(req), rel, sizeof rel)) {
        web_not_found(aio);
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
        web_not_found(aio);
        return;
    }
    chati_buf body = {0};
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        chati_buf_append(&body, chunk, got);
    fclose(f);
    nng_http_res *res = NULL;
    int e = nng_http_res_alloc(&res);
    if (e == 0)
        e = nng_http_res_set_header(res, "Content-Type", web_type(real));
    if (e == 0)
        e = nng_http_res_set_header(res, "Cache-Control", "no-cache");
    if (e == 0)
        e = nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff");
    if (e == 0)
        e = nng_http_res_set_header(res, "Referrer-Policy", "no-referrer");
    if (e == 0)
        e = nng_http_res_set_header(res, "Content-Security-Policy", "frame-ancestors 'none'");
    if (e == 0)
        e = nng_http_res_copy_data(res, body.data ? body.data : "", body.len);
    chati_buf_free(&body);
    if (e != 0) {
        if (res)
            nng_http_res_free(res);
        nng_aio_finish(aio, e);
        return;
    }
    nng_http_res_set_status(res, 200);
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void on_web(nng_aio *aio)
{
    submit(aio, gw_web_serve);
}

/* GET /health answers for the gateway alone (a load balancer's liveness
 * check). GET /health?services=1 is readiness: it asks every service for its
 * RPC health and answers 503 naming the first that does not answer, so a
 * deployment (or a test) can wait until each service has opened its backends. */
static void health_services(gw *g, nng_aio *aio, nng_http_req *req)
{
    CHATI_UNUSED(req);
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
            gw_reply(aio, 503, "application/json", &body, NULL, NULL);
            return;
        }
    }
    chati_buf_puts(&body, "{\"ok\":true}");
    gw_reply(aio, 200, "application/json", &body, NULL, NULL);
}

static void on_health(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    const char *q = strchr(nng_http_req_get_uri(req), '?');
    if (q && strstr(q, "services=1")) {
        submit(aio, health_services);
        return;
    }
    chati_buf body = {0};
    chati_buf_puts(&body, "{\"ok\":true}");
    gw_reply(aio, 200, "application/json", &body, NULL, NULL);
}

static chat_err add_handler(gw *g, const char *path, void (*cb)(nng_aio *), bool tree,
                            const char *method, size_t body_max)
{
    nng_http_handler *h;
    int e = nng_http_handler_alloc(&h, path, cb);
    if (e == 0 && tree)
        e = nng_http_handler_set_tree(h);
    if (e == 0)
        e = nng_http_handler_set_method(h, method);
    if (e == 0)
        e = nng_http_handler_collect_body(h, body_max > 0, body_max);
    if (e == 0)
        e = nng_http_handler_set_data(h, g, NULL);
    if (e == 0)
        e = nng_http_server_add_handler(g->http, h);
    if (e != 0) {
        nng_http_handler_free(h);
        return chati_fail(CHAT_ERR_INTERNAL, "handler %s: %s", path, nng_strerror(e));
    }
    return CHAT_OK;
}

static chat_err setup_tls(gw *g)
{
    if (g->cfg.tls_cert == NULL && g->cfg.tls_key == NULL)
        return CHAT_OK;
    if (g->cfg.tls_cert == NULL || g->cfg.tls_key == NULL)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "TLS needs both a certificate and a key");
    char *cert = chati_read_small_file(g->cfg.tls_cert, 1u << 20);
    char *key = chati_read_small_file(g->cfg.tls_key, 1u << 20);
    nng_tls_config *tls = NULL;
    chat_err rv = CHAT_OK;
    int e;
    if (cert == NULL || key == NULL)
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "cannot read the TLS certificate or key");
    else if ((e = nng_tls_config_alloc(&tls, NNG_TLS_MODE_SERVER)) != 0 ||
             (e = nng_tls_config_own_cert(tls, cert, key, NULL)) != 0 ||
             (e = nng_http_server_set_tls(g->http, tls)) != 0)
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "TLS: %s", nng_strerror(e));
    if (tls)
        nng_tls_config_free(tls); /* the server holds its own reference */
    chat_free(cert);
    chat_free(key);
    return rv;
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
    if ((e = nng_http_server_hold(&g->http, g->url)) != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "http server: %s", nng_strerror(e));
    if ((rv = setup_tls(g)) != CHAT_OK)
        return rv;
    /* nng answers 400 above the collect limit; collect more than we accept so
     * that we can answer 413 ourselves. */
    if ((rv = add_handler(g, "/api", on_api, true, NULL, g->cfg.max_body * 4 + 4096)) ||
        (rv = add_handler(g, "/health", on_health, false, "GET", 0)))
        return rv;
    /* Files: upload_url bodies up to files.max_bytes (one byte more is
     * collected so that we answer 413 rather than nng's 400), downloads, and
     * multipart files.upload with room for its other fields. */
    size_t max_file = gw_files_max_bytes(g);
    if ((rv = add_handler(g, "/upload", on_upload, true, "POST", max_file + 1)) ||
        (rv = add_handler(g, "/files", on_download, true, "GET", 0)) ||
        (rv = add_handler(g, "/hooks", on_hook, true, "POST", g->cfg.max_body + 4096)) ||
        (rv = add_handler(g, "/api/files.upload", on_api, false, NULL,
                          max_file + GW_UPLOAD_FORM_OVERHEAD)))
        return rv;
    /* The web client: a tree at "/" that every longer route comes before. */
    if (g->cfg.web_root) {
        if ((g->web_root_real = realpath(g->cfg.web_root, NULL)) == NULL)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "web root %s: not a directory",
                              g->cfg.web_root);
        if ((rv = add_handler(g, "/", on_web, true, "GET", 0)) != CHAT_OK)
            return rv;
    }
    if ((rv = gw_hub_start(g, &g->hub)) != CHAT_OK)
        return rv;
    if ((e = nng_http_server_start(g->http)) != 0)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "cannot listen on %s: %s",
                          g->listen_url, nng_strerror(e));
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
    gw_workers_stop(g->workers); /* running requests finish; new ones are refused */
    if (g->http) {
        nng_http_server_stop(g->http);
        nng_http_server_release(g->http);
    }
    gw_workers_free(g->workers); /* no handler can submit any more */
    gw_ratelimit_free(g->rate);
    if (g->url)
        nng_url_free(g->url);
    chat_free(g->listen_url);
    chat_free(g->public_url);
    free(g->web_root_real);
    chati_svc_close(g->svc);
    chat_free(g);
}
