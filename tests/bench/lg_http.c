#include "lg_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

struct lg_http {
    char *base;
    nng_url *url;
    nng_http_client *cli;
    nng_http_conn *conn;
    nng_aio *aio;
};

lg_http *lg_http_new(const char *base, char *err, size_t errlen)
{
    lg_http *c = calloc(1, sizeof *c);
    int e = c ? 0 : NNG_ENOMEM;
    if (e == 0 && (c->base = strdup(base)) == NULL)
        e = NNG_ENOMEM;
    if (e == 0)
        e = nng_url_parse(&c->url, base);
    if (e == 0)
        e = nng_http_client_alloc(&c->cli, c->url);
    if (e == 0)
        e = nng_aio_alloc(&c->aio, NULL, NULL);
    if (e != 0) {
        snprintf(err, errlen, "http client for %s: %s", base, nng_strerror(e));
        lg_http_free(c);
        return NULL;
    }
    nng_aio_set_timeout(c->aio, 30000);
    return c;
}

void lg_http_set_timeout(lg_http *c, int ms)
{
    nng_aio_set_timeout(c->aio, ms);
}

void lg_http_free(lg_http *c)
{
    if (c == NULL)
        return;
    if (c->conn)
        nng_http_conn_close(c->conn);
    if (c->aio)
        nng_aio_free(c->aio);
    if (c->cli)
        nng_http_client_free(c->cli);
    if (c->url)
        nng_url_free(c->url);
    free(c->base);
    free(c);
}

static int ensure_conn(lg_http *c)
{
    if (c->conn)
        return 0;
    nng_http_client_connect(c->cli, c->aio);
    nng_aio_wait(c->aio);
    int e = nng_aio_result(c->aio);
    if (e == 0)
        c->conn = nng_aio_get_output(c->aio, 0);
    return e;
}

static int transact(lg_http *c, nng_http_req *req, nng_http_res **res_out)
{
    int e = ensure_conn(c);
    if (e != 0)
        return e;
    nng_http_res *res = NULL;
    if ((e = nng_http_res_alloc(&res)) != 0)
        return e;
    nng_http_conn_transact(c->conn, req, res, c->aio);
    nng_aio_wait(c->aio);
    if ((e = nng_aio_result(c->aio)) != 0) {
        nng_http_res_free(res);
        nng_http_conn_close(c->conn);
        c->conn = NULL;
        return e;
    }
    *res_out = res;
    return 0;
}

json_t *lg_http_call(lg_http *c, const char *method, const char *token, const char *body,
                     char *err, size_t errlen)
{
    char path[512];
    snprintf(path, sizeof path, "%s/api/%s", c->base, method);
    nng_url *u = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    json_t *out = NULL;
    int e = nng_url_parse(&u, path);
    if (e == 0)
        e = nng_http_req_alloc(&req, u);
    if (e == 0)
        e = nng_http_req_set_method(req, "POST");
    if (e == 0)
        e = nng_http_req_set_header(req, "Content-Type", "application/json; charset=utf-8");
    if (e == 0 && token) {
        char auth[4096];
        snprintf(auth, sizeof auth, "Bearer %s", token);
        e = nng_http_req_set_header(req, "Authorization", auth);
    }
    if (e == 0)
        e = nng_http_req_copy_data(req, body, strlen(body));
    if (e == 0) {
        /* A kept-alive connection the server has since closed fails the first
         * try: one fresh connection is worth a second attempt. */
        bool reused = c->conn != NULL;
        e = transact(c, req, &res);
        if (e != 0 && reused && e != NNG_ETIMEDOUT)
            e = transact(c, req, &res);
    }
    if (e != 0) {
        snprintf(err, errlen, "%s: %s", method, nng_strerror(e));
    } else {
        void *data = NULL;
        size_t len = 0;
        nng_http_res_get_data(res, &data, &len);
        json_error_t je;
        out = json_loadb(data, len, 0, &je);
        if (out == NULL)
            snprintf(err, errlen, "%s: HTTP %u, unreadable reply (%s): %.200s", method,
                     (unsigned)nng_http_res_get_status(res), je.text,
                     len ? (const char *)data : "");
    }
    if (res)
        nng_http_res_free(res);
    if (req)
        nng_http_req_free(req);
    if (u)
        nng_url_free(u);
    return out;
}
