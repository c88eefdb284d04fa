/* The client's network side: the Web API over nng's HTTP client, raw uploads,
 * and the event stream over nng's WebSocket stream dialer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "cli.h"

#define API_TIMEOUT_MS 30000
#define RATE_RETRIES 5
#define WS_FRAME_MAX (1u << 20)     /* the server's frames are < 256 KiB */
#define WS_MESSAGE_MAX (16u << 20)  /* give up assembling beyond this */

static const char *const ca_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
    NULL,
};

/* CA certificates for https/wss: $CHAT_CA_FILE, else the system bundle. */
static const char *ca_file(void)
{
    const char *f = getenv("CHAT_CA_FILE");
    if (f && *f)
        return f;
    for (const char *const *p = ca_bundles; *p; p++) {
        FILE *fp = fopen(*p, "r");
        if (fp) {
            fclose(fp);
            return *p;
        }
    }
    return NULL;
}

static bool is_tls_scheme(const char *scheme)
{
    return strcmp(scheme, "https") == 0 || strcmp(scheme, "wss") == 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Whether two URLs name the same scheme, host and port. */
static bool same_origin(const char *a, const char *b)
{
    nng_url *ua = NULL, *ub = NULL;
    bool same = nng_url_parse(&ua, a) == 0 && nng_url_parse(&ub, b) == 0 &&
                strcasecmp(ua->u_scheme, ub->u_scheme) == 0 &&
                strcasecmp(ua->u_hostname, ub->u_hostname) == 0 &&
                strcmp(ua->u_port, ub->u_port) == 0;
    if (ua)
        nng_url_free(ua);
    if (ub)
        nng_url_free(ub);
    return same;
}

typedef struct http_result {
    uint16_t status;
    char *body;                 /* NUL-terminated; free() */
    size_t len;
    int retry_after;            /* seconds, from a 429 */
} http_result;

/* One request on a fresh connection. Returns 0 or an nng error (*err gets
 * what failed). */
static int http_post(const char *url, const char *token, const char *content_type,
                     const void *data, size_t len, int timeout_ms, http_result *out,
                     const char **what)
{
    nng_url *u = NULL;
    nng_http_client *cl = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    int e;
    memset(out, 0, sizeof *out);
    *what = "bad URL";
    if ((e = nng_url_parse(&u, url)) != 0)
        goto done;
    *what = "cannot set up the request";
    if ((e = nng_http_client_alloc(&cl, u)) != 0)
        goto done;
    if (is_tls_scheme(u->u_scheme)) {
        /* The client made its own TLS config with the server name; it only
         * lacks the trust anchors. */
        nng_tls_config *tls = NULL;
        const char *ca = ca_file();
        const char *insecure = getenv("CHAT_TLS_INSECURE");
        *what = "TLS setup";
        if ((e = nng_http_client_get_tls(cl, &tls)) != 0)
            goto done;
        if (insecure && strcmp(insecure, "1") == 0)
            e = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_NONE);
        else if (ca)
            e = nng_tls_config_ca_file(tls, ca);
        if (e != 0)
            goto done;
    }
    *what = "cannot set up the request";
    if ((e = nng_http_req_alloc(&req, u)) != 0 || (e = nng_http_res_alloc(&res)) != 0 ||
        (e = nng_aio_alloc(&aio, NULL, NULL)) != 0 ||
        (e = nng_http_req_set_method(req, "POST")) != 0 ||
        (e = nng_http_req_set_header(req, "Content-Type", content_type)) != 0 ||
        (e = nng_http_req_set_header(req, "Accept", "application/json")) != 0)
        goto done;
    char agent[64];
    snprintf(agent, sizeof agent, "libchat-cli/%s", chat_version());
    if ((e = nng_http_req_set_header(req, "User-Agent", agent)) != 0)
        goto done;
    if (token) {
        char *auth = cli_xprintf("Bearer %s", token);
        e = nng_http_req_set_header(req, "Authorization", auth);
        free(auth);
        if (e != 0)
            goto done;
    }
    /* copy_data also sets Content-Length; an empty body still says 0. */
    if ((e = nng_http_req_copy_data(req, len ? data : "", len)) != 0)
        goto done;
    nng_aio_set_timeout(aio, timeout_ms);
    nng_http_client_transact(cl, req, res, aio);
    nng_aio_wait(aio);
    *what = "request failed";
    if ((e = nng_aio_result(aio)) != 0)
        goto done;
    out->status = nng_http_res_get_status(res);
    void *body = NULL;
    size_t blen = 0;
    nng_http_res_get_data(res, &body, &blen);
    out->body = cli_xmalloc(blen + 1);
    if (blen)
        memcpy(out->body, body, blen);
    out->body[blen] = '\0';
    out->len = blen;
    const char *ra = nng_http_res_get_header(res, "Retry-After");
    out->retry_after = ra ? atoi(ra) : 0;
done:
    if (aio)
        nng_aio_free(aio);
    if (res)
        nng_http_res_free(res);
    if (req)
        nng_http_req_free(req);
    if (cl)
        nng_http_client_free(cl);
    if (u)
        nng_url_free(u);
    return e;
}

static _Noreturn void die_transport(const char *url, const char *what, int e)
{
    if (e == NNG_ECONNREFUSED || e == NNG_EADDRINVAL || e == NNG_EUNREACHABLE ||
        e == NNG_ETIMEDOUT || e == NNG_ECONNRESET || e == NNG_ECLOSED || e == NNG_ECONNSHUT)
        cli_die("connection_failed", "cannot reach %s: %s", url, nng_strerror(e));
    if (e == NNG_EPEERAUTH || e == NNG_ECRYPTO)
        cli_die("connection_failed", "%s: TLS: %s (set CHAT_CA_FILE to the server's CA)", url,
                nng_strerror(e));
    cli_die("connection_failed", "%s: %s: %s", url, what, nng_strerror(e));
}

json_t *cli_api_try(cli *c, const char *method, json_t *args)
{
    char *url = cli_xprintf("%s/api/%s", c->server, method);
    if (args == NULL)
        args = json_object();
    char *body = args ? json_dumps(args, JSON_COMPACT) : NULL;
    json_decref(args);
    if (body == NULL)
        cli_die("invalid_arguments", "%s: arguments could not be encoded", method);
    http_result r;
    for (int attempt = 0;; attempt++) {
        const char *what = NULL;
        int e = http_post(url, c->token, "application/json; charset=utf-8", body, strlen(body),
                          API_TIMEOUT_MS, &r, &what);
        if (e != 0)
            die_transport(url, what, e);
        if (r.status != 429 || attempt == RATE_RETRIES)
            break;
        int wait_s = r.retry_after > 0 ? (r.retry_after > 30 ? 30 : r.retry_after) : 1;
        cli_note("rate limited; retrying %s in %d s", method, wait_s);
        free(r.body);
        sleep_ms(wait_s * 1000);
    }
    free(body);
    json_error_t je;
    json_t *reply = json_loadb(r.body, r.len, 0, &je);
    if (reply == NULL || !json_is_object(reply)) {
        /* Not the Web API: a proxy's error page, a wrong --server. */
        size_t n = r.body[0] == '<' ? 0 : strcspn(r.body, "\r\n"); /* no HTML pages */
        cli_die("invalid_response", "%s answered HTTP %u%s%.*s (is --server right?)", url,
                (unsigned)r.status, n ? ": " : " without JSON", (int)(n > 120 ? 120 : n),
                r.body);
    }
    free(r.body);
    free(url);
    return reply;
}

_Noreturn void cli_die_reply(const char *method, json_t *reply)
{
    const char *code = json_string_value(json_object_get(reply, "error"));
    const char *detail = json_string_value(json_object_get(reply, "detail"));
    if (code == NULL || *code == '\0')
        code = "unknown_error";
    const char *hint = "";
    if (strcmp(code, "not_authed") == 0 || strcmp(code, "invalid_auth") == 0 ||
        strcmp(code, "token_expired") == 0 || strcmp(code, "token_revoked") == 0 ||
        strcmp(code, "account_inactive") == 0)
        hint = strcmp(method, "auth.login") == 0 ? "" : " (run `chat login EMAIL`)";
    if (detail && *detail)
        cli_die(code, "%s%s", detail, hint);
    cli_die(code, "%s failed%s", method, hint);
}

json_t *cli_api(cli *c, const char *method, json_t *args)
{
    json_t *reply = cli_api_try(c, method, args);
    if (!json_is_true(json_object_get(reply, "ok")))
        cli_die_reply(method, reply);
    return reply;
}

int cli_http_post_bytes(cli *c, const char *url, const char *content_type, const void *data,
                        size_t len, char **body)
{
    /* An upload URL on another host must not see our token. */
    const char *token = same_origin(url, c->server) ? c->token : NULL;
    /* Allow a minute plus a second per 64 KiB for slow links. */
    int timeout = 60000 + (int)(len / 65536) * 1000;
    http_result r;
    const char *what = NULL;
    int e = http_post(url, token, content_type, data, len, timeout, &r, &what);
    if (e != 0)
        die_transport(url, what, e);
    if (body)
        *body = r.body;
    else
        free(r.body);
    return r.status;
}

/* ------------------------------------------------------- the stream --- */

struct cli_ws {
    nng_stream_dialer *d;
    nng_stream *st;
    nng_aio *recv_aio, *send_aio;
    nng_mtx *mu;
    nng_cv *cv;
    bool reading;               /* a receive is in flight on recv_aio */
    bool done;                  /* ... and it has finished (under mu) */
    char *buf;
    cli_buf acc;                /* the pieces of a frame larger than buf */
    size_t dropped;             /* frames that were not JSON */
};

/* Runs on an nng thread. */
static void on_recv(void *arg)
{
    cli_ws *w = arg;
    nng_mtx_lock(w->mu);
    w->done = true;
    nng_cv_wake(w->cv);
    nng_mtx_unlock(w->mu);
}

int cli_ws_open(const char *url, cli_ws **out)
{
    *out = NULL;
    cli_ws *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NNG_ENOMEM;
    w->buf = malloc(WS_FRAME_MAX);
    int e = w->buf ? 0 : NNG_ENOMEM;
    nng_aio *dial = NULL;
    if (e == 0)
        e = nng_mtx_alloc(&w->mu);
    if (e == 0)
        e = nng_cv_alloc(&w->cv, w->mu);
    if (e == 0)
        e = nng_stream_dialer_alloc(&w->d, url);
    if (e == 0)
        e = nng_stream_dialer_set_bool(w->d, NNG_OPT_WS_RECV_TEXT, true);
    if (e == 0)
        e = nng_stream_dialer_set_bool(w->d, NNG_OPT_WS_SEND_TEXT, true);
    if (e == 0)
        e = nng_stream_dialer_set_size(w->d, NNG_OPT_WS_RECVMAXFRAME, WS_FRAME_MAX);
    if (e == 0 && strncmp(url, "wss:", 4) == 0) {
        const char *insecure = getenv("CHAT_TLS_INSECURE");
        const char *ca = ca_file();
        if (insecure && strcmp(insecure, "1") == 0)
            e = nng_stream_dialer_set_int(w->d, NNG_OPT_TLS_AUTH_MODE, NNG_TLS_AUTH_MODE_NONE);
        else if (ca)
            e = nng_stream_dialer_set_string(w->d, NNG_OPT_TLS_CA_FILE, ca);
    }
    if (e == 0)
        e = nng_aio_alloc(&dial, NULL, NULL);
    if (e == 0)
        e = nng_aio_alloc(&w->recv_aio, on_recv, w);
    if (e == 0)
        e = nng_aio_alloc(&w->send_aio, NULL, NULL);
    if (e == 0) {
        nng_aio_set_timeout(dial, API_TIMEOUT_MS);
        nng_stream_dialer_dial(w->d, dial);
        nng_aio_wait(dial);
        e = nng_aio_result(dial);
        if (e == 0)
            w->st = nng_aio_get_output(dial, 0);
    }
    if (dial)
        nng_aio_free(dial);
    if (e != 0) {
        cli_ws_close(w);
        return e;
    }
    *out = w;
    return 0;
}

/* Whether text[0..len) parses: 1 yes (*out set), 0 it stops short, -1 never. */
static int parse(const char *text, size_t len, json_t **out)
{
    json_error_t je;
    *out = json_loadb(text, len, 0, &je);
    if (*out)
        return 1;
    return json_error_code(&je) == json_error_premature_end_of_input ? 0 : -1;
}

/* A receive returns one frame, or a piece of one larger than the buffer with
 * no mark: collect pieces until they make one JSON value. A piece that cannot
 * continue what was collected starts afresh (its predecessor was cut short by
 * the sender and is dropped). */
static int take_piece(cli_ws *w, size_t n, json_t **out)
{
    *out = NULL;
    bool had = w->acc.len > 0;
    int r = -1;
    if (w->acc.len + n <= WS_MESSAGE_MAX) {
        cli_buf_add(&w->acc, w->buf, n);
        r = parse(w->acc.data, w->acc.len, out);
    }
    if (r < 0 && had) {
        w->acc.len = 0;
        w->dropped++;
        cli_buf_add(&w->acc, w->buf, n);
        r = parse(w->acc.data, w->acc.len, out);
    }
    if (r != 0) {
        if (r < 0)
            w->dropped++;
        w->acc.len = 0;
    }
    return r == 1 ? 0 : NNG_ETIMEDOUT;
}

size_t cli_ws_dropped(const cli_ws *w)
{
    return w->dropped;
}

int cli_ws_recv(cli_ws *w, int timeout_ms, json_t **out)
{
    *out = NULL;
    if (!w->reading) {
        nng_iov iov = {w->buf, WS_FRAME_MAX};
        nng_aio_set_iov(w->recv_aio, 1, &iov);
        nng_aio_set_timeout(w->recv_aio, NNG_DURATION_INFINITE);
        w->done = false;
        w->reading = true;
        nng_stream_recv(w->st, w->recv_aio);
    }
    /* The receive stays in flight across timeouts, so nothing is lost. */
    nng_time until = nng_clock() + (nng_time)(timeout_ms > 0 ? timeout_ms : 0);
    nng_mtx_lock(w->mu);
    while (!w->done && nng_cv_until(w->cv, until) != NNG_ETIMEDOUT)
        ;
    bool done = w->done;
    nng_mtx_unlock(w->mu);
    if (!done)
        return NNG_ETIMEDOUT;
    w->reading = false;
    int e = nng_aio_result(w->recv_aio);
    if (e != 0)
        return e;
    return take_piece(w, nng_aio_count(w->recv_aio), out);
}

int cli_ws_send(cli_ws *w, const char *text)
{
    nng_iov iov = {(void *)text, strlen(text)};
    nng_aio_set_iov(w->send_aio, 1, &iov);
    nng_aio_set_timeout(w->send_aio, 10000);
    nng_stream_send(w->st, w->send_aio);
    nng_aio_wait(w->send_aio);
    return nng_aio_result(w->send_aio);
}

void cli_ws_close(cli_ws *w)
{
    if (w == NULL)
        return;
    if (w->st)
        nng_stream_close(w->st);
    /* Stopping waits out a callback in progress before anything is freed. */
    if (w->recv_aio)
        nng_aio_stop(w->recv_aio);
    if (w->send_aio)
        nng_aio_stop(w->send_aio);
    if (w->recv_aio)
        nng_aio_free(w->recv_aio);
    if (w->send_aio)
        nng_aio_free(w->send_aio);
    if (w->st)
        nng_stream_free(w->st);
    if (w->d)
        nng_stream_dialer_free(w->d);
    if (w->cv)
        nng_cv_free(w->cv);
    if (w->mu)
        nng_mtx_free(w->mu);
    cli_buf_free(&w->acc);
    free(w->buf);
    free(w);
}
