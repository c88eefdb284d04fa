/*
 * Signed S3 requests over libcurl easy handles, with a small handle pool.
 *
 * Each request sets every option afresh (curl_easy_reset keeps a handle's
 * connection cache), signs the headers it sends (host, x-amz-date,
 * x-amz-content-sha256 and any x-amz-meta-*) and collects the answer. The
 * path is sent exactly as signed: CURLOPT_PATH_AS_IS stops curl from folding
 * "/./" in keys, which S3 treats as literal characters.
 *
 * Timeouts: connecting may take timeout_ms, and a transfer that moves no byte
 * for timeout_ms is abandoned (our progress callback; curl's own low-speed
 * check averages over seconds of history and reacts late), so a dead or hung
 * server gives service_unavailable quickly while large uploads of any length
 * still work.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "backends/curl_global.h"
#include "backends/s3/s3_client.h"

#define POOL_IDLE_MAX 8
#define MAX_TRIES 3             /* for idempotent requests on transient failures */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct chati_s3 {
    chati_s3_conf conf;
    pthread_mutex_t mu;         /* guards idle / n_idle only */
    CURL *idle[POOL_IDLE_MAX];
    size_t n_idle;
};

chat_err chati_s3_new(const char *url, const chat_config *cfg, chati_s3 **out)
{
    chat_err init = chati_curl_global_init();
    if (init != CHAT_OK)
        return init;
    chati_s3 *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "s3 client");
    chat_err rv = chati_s3_conf_parse(url, cfg, &s->conf);
    if (rv != CHAT_OK) {
        chat_free(s);
        return rv;
    }
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return CHAT_OK;
}

void chati_s3_free(chati_s3 *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_idle; i++)
        curl_easy_cleanup(s->idle[i]);
    pthread_mutex_destroy(&s->mu);
    chati_s3_conf_free(&s->conf);
    chat_free(s);
}

const chati_s3_conf *chati_s3_conf_of(const chati_s3 *s)
{
    return &s->conf;
}

static CURL *take_handle(chati_s3 *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->n_idle > 0)
        h = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->mu);
    if (h)
        curl_easy_reset(h);
    else
        h = curl_easy_init();
    return h;
}

/* A handle whose transfer failed goes away with its possibly broken
 * connection; the others wait for the next request. */
static void give_handle(chati_s3 *s, CURL *h, bool healthy)
{
    if (healthy) {
        pthread_mutex_lock(&s->mu);
        if (s->n_idle < POOL_IDLE_MAX) {
            s->idle[s->n_idle++] = h;
            h = NULL;
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (h)
        curl_easy_cleanup(h);
}

/* Stall detection: the time the byte counts last moved. */
typedef struct progress {
    curl_off_t bytes;
    long long moved_ms;
    long limit_ms;
    bool stalled;
} progress;

static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    CHATI_UNUSED(dltotal);
    CHATI_UNUSED(ultotal);
    progress *p = arg;
    long long now = chati_mono_ms();
    if (dlnow + ulnow != p->bytes) {
        p->bytes = dlnow + ulnow;
        p->moved_ms = now;
    } else if (now - p->moved_ms > p->limit_ms) {
        p->stalled = true;
        return 1; /* abort: CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

typedef struct upload {
    const char *base;
    size_t len, off;
} upload;

/* curl rewinds when it resends a request on a fresh connection. */
static int seek_cb(void *arg, curl_off_t offset, int origin)
{
    upload *u = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > u->len)
        return CURL_SEEKFUNC_FAIL;
    u->off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
    upload *u = arg;
    size_t left = u->len - u->off;
    size_t k = size * n < left ? size * n : left;
    memcpy(buf, u->base + u->off, k);
    u->off += k;
    return k;
}

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
    chati_s3_resp *r = arg;
    if (chati_buf_append(&r->body, data, size * n) != CHAT_OK)
        return 0; /* curl then fails with CURLE_WRITE_ERROR */
    return size * n;
}

/* Copies the value of header line "Name: value\r\n" into out when it is name. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t k = (size_t)(end - v) < n - 1 ? (size_t)(end - v) : n - 1;
    memcpy(out, v, k);
    out[k] = '\0';
    return true;
}

static size_t header_cb(char *line, size_t size, size_t n, void *arg)
{
    chati_s3_resp *r = arg;
    size_t len = size * n;
    char v[160];
    if (header_value(line, len, "content-length", v, sizeof v)) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (end != v && x >= 0) {
            r->content_length = x;
            /* Stream the body straight into one buffer of the right size. */
            if (!r->is_head && x > 0 && x < (1LL << 40))
                (void)chati_buf_reserve(&r->body, (size_t)x);
        }
    } else if (!header_value(line, len, "etag", r->etag, sizeof r->etag)) {
        (void)header_value(line, len, "x-amz-meta-sha256", r->sha256, sizeof r->sha256);
    }
    return len;
}

/* The request path, encoded as signed: "/bucket/key" or "/key" (virtual host). */
static chat_err build_path(const chati_s3_conf *c, const char *key, chati_buf *path)
{
    chat_err rv = chati_buf_puts(path, "/");
    if (rv == CHAT_OK && c->path_style) {
        rv = chati_buf_puts(path, c->bucket);
        if (rv == CHAT_OK && key)
            rv = chati_buf_puts(path, "/");
    }
    if (rv == CHAT_OK && key)
        rv = chati_sigv4_encode(path, key, strlen(key), true);
    return rv;
}

static chat_err add_header(struct curl_slist **list, const char *name, const char *value)
{
    chati_buf line = {0};
    /* "Name:" with nothing after it removes a header curl would add itself. */
    chat_err rv = value[0] ? chati_buf_printf(&line, "%s: %s", name, value)
                           : chati_buf_printf(&line, "%s:", name);
    if (rv == CHAT_OK) {
        struct curl_slist *l = curl_slist_append(*list, line.data); /* copies */
        if (l == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "s3 headers");
        else
            *list = l;
    }
    chati_buf_free(&line);
    return rv;
}

/* One attempt; *transient tells whether a failure may pass on a retry. */
static chat_err call_once(chati_s3 *s, const chati_s3_req *rq, chati_s3_resp *resp,
                          bool *transient)
{
    const chati_s3_conf *c = &s->conf;
    *transient = false;
    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
    resp->is_head = strcmp(rq->method, "HEAD") == 0;
    if (rq->n_extra > 8)
        return chati_fail(CHAT_ERR_INTERNAL, "s3: too many extra headers");

    char body_hash[65];
    if (rq->body_sha256)
        snprintf(body_hash, sizeof body_hash, "%s", rq->body_sha256);
    else if (rq->body_len > 0)
        chati_sha256_hex(rq->body, rq->body_len, body_hash);
    else
        snprintf(body_hash, sizeof body_hash, "%s", EMPTY_SHA256);
    char amz_date[17];
    chati_sigv4_amz_date((int64_t)time(NULL), amz_date);

    chati_sigv4_header hs[12] = {
        {"host", c->host},
        {"x-amz-content-sha256", body_hash},
        {"x-amz-date", amz_date},
    };
    size_t nh = 3;
    if (c->session_token)
        hs[nh++] = (chati_sigv4_header){"x-amz-security-token", c->session_token};
    for (size_t i = 0; i < rq->n_extra; i++)
        hs[nh++] = rq->extra[i];

    chati_buf path = {0}, url = {0}, authz = {0};
    struct curl_slist *headers = NULL;
    chat_err rv = build_path(c, rq->key, &path);
    if (rv == CHAT_OK)
        rv = chati_buf_printf(&url, "%s%s%s%s", c->base, path.data, rq->query[0] ? "?" : "",
                              rq->query);
    chati_sigv4_request sr = {
        .method = rq->method, .path = path.data, .query = rq->query,
        .headers = hs, .n_headers = nh, .payload_hash = body_hash, .amz_date = amz_date,
        .region = c->region, .service = "s3",
        .access_key = c->access_key, .secret_key = c->secret_key,
    };
    if (rv == CHAT_OK)
        rv = chati_sigv4_sign(&sr, &authz, NULL, NULL);
    for (size_t i = 0; rv == CHAT_OK && i < nh; i++)
        rv = add_header(&headers, hs[i].name, hs[i].value);
    if (rv == CHAT_OK)
        rv = add_header(&headers, "authorization", authz.data);
    /* No "Expect: 100-continue": curl would wait for an answer (up to 1 s on
     * servers that ignore it) before every sizeable body. */
    if (rv == CHAT_OK)
        rv = add_header(&headers, "expect", "");
    if (rv == CHAT_OK && strcmp(rq->method, "POST") == 0)
        rv = add_header(&headers, "content-type", "application/xml");

    CURL *h = NULL;
    if (rv == CHAT_OK && (h = take_handle(s)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "s3: curl_easy_init failed");
    if (rv != CHAT_OK) {
        curl_slist_free_all(headers);
        chati_buf_free(&path);
        chati_buf_free(&url);
        chati_buf_free(&authz);
        return rv;
    }

    char errbuf[CURL_ERROR_SIZE] = "";
    upload up = {rq->body, rq->body_len, 0};
    progress prog = {.bytes = 0, .moved_ms = chati_mono_ms(), .limit_ms = c->timeout_ms};
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &prog);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, &up);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &up);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    } else if (prog.stalled) {
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                        "s3 unreachable: %s %s: no progress for %ld ms (server hung?)",
                        rq->method, url.data, c->timeout_ms);
    } else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
        /* Retrying will not help: the certificate or ca_file is wrong. */
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "s3: %s %s: TLS: %s", rq->method, url.data,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "s3 unreachable: %s %s: %s", rq->method,
                        url.data, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
    /* A connection that broke mid-request (a server restart, an idle
     * connection closed by a load balancer) is worth another try; a refused
     * connection or a hung server is not: the caller hears about it now. */
    *transient = cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
                 (cc == CURLE_OK && (resp->status == 500 || resp->status == 503));
    give_handle(s, h, cc == CURLE_OK);
    curl_slist_free_all(headers);
    chati_buf_free(&path);
    chati_buf_free(&url);
    chati_buf_free(&authz);
    return rv;
}

chat_err chati_s3_call(chati_s3 *s, const chati_s3_req *rq, chati_s3_resp *resp)
{
    /* POSTs (start or complete a multipart upload) are not idempotent. */
    int tries = strcmp(rq->method, "POST") == 0 ? 1 : MAX_TRIES;
    for (int attempt = 1;; attempt++) {
        bool transient;
        chat_err rv = call_once(s, rq, resp, &transient);
        if (!transient || attempt >= tries)
            return rv;
        chati_s3_resp_free(resp);
        /* S3 asks for backoff on 503 SlowDown: 100 ms, then 400 ms. */
        struct timespec ts = {0, (attempt == 1 ? 100 : 400) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void chati_s3_resp_free(chati_s3_resp *resp)
{
    chati_buf_free(&resp->body);
}

chat_err chati_s3_call_ok(chati_s3 *s, const chati_s3_req *rq, chati_s3_resp *resp)
{
    chat_err rv = chati_s3_call(s, rq, resp);
    if (rv == CHAT_OK && (resp->status < 200 || resp->status > 299))
        rv = chati_s3_fail(s, rq, resp);
    return rv;
}

void chati_s3_xml_text(const char *xml, const char *tag, char *out, size_t n)
{
    out[0] = '\0';
    if (xml == NULL)
        return;
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(xml, open);
    if (a == NULL)
        return;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (b == NULL)
        return;
    size_t k = (size_t)(b - a) < n - 1 ? (size_t)(b - a) : n - 1;
    memcpy(out, a, k);
    out[k] = '\0';
}

chat_err chati_s3_fail(const chati_s3 *s, const chati_s3_req *rq, const chati_s3_resp *resp)
{
    char code[64], msg[256];
    chati_s3_xml_text(resp->body.data, "Code", code, sizeof code);
    chati_s3_xml_text(resp->body.data, "Message", msg, sizeof msg);
    const char *what = rq->key ? rq->key : "";
    long st = resp->status;
    chat_err err = CHAT_ERR_STORAGE;
    const char *hint = "";
    if (st == 403 || st == 401) {
        err = CHAT_ERR_INVALID_CONFIG;
        hint = strcmp(code, "SignatureDoesNotMatch") == 0
                   ? " (the server computed another signature: wrong secret key?)"
               : strcmp(code, "InvalidAccessKeyId") == 0 ? " (unknown access key)"
                                                         : " (check credentials and permissions)";
    } else if (st == 404) {
        err = strcmp(code, "NoSuchBucket") == 0 ? CHAT_ERR_INVALID_CONFIG : CHAT_ERR_NOT_FOUND;
    } else if (st >= 500 && st <= 599) {
        err = CHAT_ERR_SERVICE_UNAVAILABLE;
    }
    return chati_fail(err, "s3: %s %s/%s: HTTP %ld%s%s%s%s%s", rq->method, s->conf.bucket, what,
                      st, code[0] ? " " : "", code, msg[0] ? ": " : "", msg, hint);
}
