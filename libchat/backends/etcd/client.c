/*
 * Requests to etcd's JSON gateway: URL parsing, a POST with failover over
 * the endpoints, and the base64 and int64 encodings etcd's JSON uses.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <mbedtls/base64.h>

#include "backends/curl_global.h"
#include "backends/etcd/etcd.h"

#define DEFAULT_PREFIX "libchat"
#define DEFAULT_TIMEOUT_MS 2000
#define MAX_ENDPOINTS 16
#define MAX_REPLY (4u << 20)
#define POOL_IDLE_MAX 4

struct chati_etcd {
    char *endpoints[MAX_ENDPOINTS];
    size_t n_endpoints;
    _Atomic size_t preferred;
    char *root;
    long timeout_ms;
    pthread_mutex_t mu;         /* guards idle / n_idle */
    CURL *idle[POOL_IDLE_MAX];
    size_t n_idle;
};

static bool prefix_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '/';
}

static chat_err parse_query(chati_etcd *e, const char *q)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 11 && strncmp(q, "timeout_ms=", 11) == 0) {
            char num[16];
            size_t nl = len - 11;
            if (nl >= sizeof num)
                nl = sizeof num - 1;
            memcpy(num, q + 11, nl);
            num[nl] = '\0';
            char *end;
            long v = strtol(num, &end, 10);
            if (*end != '\0' || v < 10 || v > 600000)
                return chati_fail(CHAT_ERR_INVALID_CONFIG,
                                  "etcd URL: timeout_ms must be 10..600000, not \"%s\"", num);
            e->timeout_ms = v;
        } else if (len > 0) {
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "etcd URL: unknown parameter \"%.*s\"",
                              (int)len, q);
        }
        q += len + (amp != NULL);
    }
    return CHAT_OK;
}

static chat_err parse_url(chati_etcd *e, const char *url)
{
    if (strncmp(url, "etcd://", 7) != 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "etcd URL must start with etcd://: %s", url);
    const char *p = url + 7;
    size_t hosts_len = strcspn(p, "/?");
    if (hosts_len == 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "etcd URL names no host: %s", url);
    for (const char *h = p; h < p + hosts_len;) {
        const char *comma = memchr(h, ',', (size_t)(p + hosts_len - h));
        size_t n = comma ? (size_t)(comma - h) : (size_t)(p + hosts_len - h);
        if (n == 0 || n > 255)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "etcd URL: bad host list: %s", url);
        if (e->n_endpoints == MAX_ENDPOINTS)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "etcd URL: more than %d hosts",
                              MAX_ENDPOINTS);
        bool has_port = memchr(h, ':', n) != NULL;
        char buf[300];
        snprintf(buf, sizeof buf, "http://%.*s%s", (int)n, h, has_port ? "" : ":2379");
        if ((e->endpoints[e->n_endpoints++] = chat_strdup(buf)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "etcd client");
        h += n + (comma != NULL);
    }
    p += hosts_len;
    const char *prefix = DEFAULT_PREFIX;
    size_t prefix_len = strlen(DEFAULT_PREFIX);
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?");
        while (n > 0 && p[n - 1] == '/')
            n--;
        for (size_t i = 0; i < n; i++)
            if (!prefix_char_ok(p[i]))
                return chati_fail(CHAT_ERR_INVALID_CONFIG,
                                  "etcd URL: the prefix may hold letters, digits and -_./ only: %s",
                                  url);
        if (n > 0) {
            prefix = p;
            prefix_len = n;
        }
        p += strcspn(p, "?");
    }
    char root[300];
    if (prefix_len > 200)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "etcd URL: prefix too long");
    snprintf(root, sizeof root, "/%.*s/services/", (int)prefix_len, prefix);
    if ((e->root = chat_strdup(root)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd client");
    return *p == '?' ? parse_query(e, p + 1) : CHAT_OK;
}

chat_err chati_etcd_new(const char *url, chati_etcd **out)
{
    *out = NULL;
    chat_err rv = chati_curl_global_init();
    if (rv != CHAT_OK)
        return rv;
    chati_etcd *e = chat_calloc(1, sizeof *e);
    if (e == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd client");
    e->timeout_ms = DEFAULT_TIMEOUT_MS;
    pthread_mutex_init(&e->mu, NULL);
    if (url == NULL)
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "no etcd URL");
    else
        rv = parse_url(e, url);
    if (rv != CHAT_OK) {
        chati_etcd_free(e);
        return rv;
    }
    *out = e;
    return CHAT_OK;
}

void chati_etcd_free(chati_etcd *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_idle; i++)
        curl_easy_cleanup(e->idle[i]);
    for (size_t i = 0; i < e->n_endpoints; i++)
        chat_free(e->endpoints[i]);
    chat_free(e->root);
    pthread_mutex_destroy(&e->mu);
    chat_free(e);
}

const char *chati_etcd_root(const chati_etcd *e) { return e->root; }
size_t chati_etcd_endpoints(const chati_etcd *e) { return e->n_endpoints; }
const char *chati_etcd_endpoint(const chati_etcd *e, size_t i) { return e->endpoints[i]; }
long chati_etcd_timeout_ms(const chati_etcd *e) { return e->timeout_ms; }

size_t chati_etcd_preferred(const chati_etcd *e)
{
    return atomic_load_explicit(&e->preferred, memory_order_relaxed) % e->n_endpoints;
}

/* ---- one POST ---- */

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    chati_buf *b = arg;
    size_t len = size * n;
    if (b->len + len > MAX_REPLY || chati_buf_append(b, data, len) != CHAT_OK)
        return 0;
    return len;
}

static CURL *handle_get(chati_etcd *e)
{
    pthread_mutex_lock(&e->mu);
    CURL *h = e->n_idle ? e->idle[--e->n_idle] : NULL;
    pthread_mutex_unlock(&e->mu);
    if (h)
        curl_easy_reset(h);
    else
        h = curl_easy_init();
    return h;
}

static void handle_put(chati_etcd *e, CURL *h)
{
    pthread_mutex_lock(&e->mu);
    if (e->n_idle < POOL_IDLE_MAX) {
        e->idle[e->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    if (h)
        curl_easy_cleanup(h);
}

/* One attempt at one endpoint: CHAT_OK with *reply, service_unavailable when
 * it cannot be reached (try another), internal when it answered an error. */
static chat_err post_once(chati_etcd *e, CURL *h, const char *endpoint, const char *path,
                          const char *body, json_t **reply)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", endpoint, path);
    chati_buf b = {0};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    chat_err rv = CHAT_OK;
    if (cc != CURLE_OK) {
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "etcd %s: %s", endpoint,
                        curl_easy_strerror(cc));
    } else {
        json_error_t jerr;
        json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
        if (j == NULL || !json_is_object(j)) {
            rv = chati_fail(status >= 500 ? CHAT_ERR_SERVICE_UNAVAILABLE : CHAT_ERR_INTERNAL,
                            "etcd %s%s: HTTP %ld, not JSON", endpoint, path, status);
            json_decref(j);
        } else if (status != 200) {
            const char *msg = json_string_value(json_object_get(j, "message"));
            if (msg == NULL)
                msg = json_string_value(json_object_get(j, "error"));
            /* A member without a leader cannot serve: another one may. */
            rv = chati_fail(status >= 500 ? CHAT_ERR_SERVICE_UNAVAILABLE : CHAT_ERR_INTERNAL,
                            "etcd %s%s: HTTP %ld: %s", endpoint, path, status,
                            msg ? msg : "(no message)");
            json_decref(j);
        } else {
            *reply = j;
        }
    }
    chati_buf_free(&b);
    return rv;
}

chat_err chati_etcd_call(chati_etcd *e, const char *path, json_t *body, json_t **reply)
{
    *reply = NULL;
    char *text = json_dumps(body ? body : json_object(), JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd request");
    CURL *h = handle_get(e);
    if (h == NULL) {
        free(text);
        return chati_fail(CHAT_ERR_NOMEM, "etcd request");
    }
    size_t first = chati_etcd_preferred(e);
    chat_err rv = CHAT_ERR_SERVICE_UNAVAILABLE;
    for (size_t k = 0; k < e->n_endpoints; k++) {
        size_t i = (first + k) % e->n_endpoints;
        rv = post_once(e, h, e->endpoints[i], path, text, reply);
        if (rv != CHAT_ERR_SERVICE_UNAVAILABLE) {
            atomic_store_explicit(&e->preferred, i, memory_order_relaxed);
            break;
        }
    }
    free(text);
    handle_put(e, h);
    return rv;
}

/* ---- encodings ---- */

json_t *chati_etcd_b64(const void *s, size_t n)
{
    size_t need = 0;
    mbedtls_base64_encode(NULL, 0, &need, s, n);
    unsigned char *buf = chat_malloc(need + 1);
    if (buf == NULL)
        return NULL;
    size_t len = 0;
    json_t *j = NULL;
    if (mbedtls_base64_encode(buf, need + 1, &len, s, n) == 0)
        j = json_stringn((const char *)buf, len);
    chat_free(buf);
    return j;
}

char *chati_etcd_unb64(const json_t *j)
{
    const char *s = json_string_value(j);
    if (s == NULL)
        return NULL;
    size_t n = json_string_length(j), need = 0;
    mbedtls_base64_decode(NULL, 0, &need, (const unsigned char *)s, n);
    char *out = chat_malloc(need + 1);
    size_t len = 0;
    if (out == NULL ||
        mbedtls_base64_decode((unsigned char *)out, need + 1, &len, (const unsigned char *)s,
                              n) != 0) {
        chat_free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

int64_t chati_etcd_int(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (s == NULL)
        return 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    return *end == '\0' ? (int64_t)x : 0;
}

char *chati_etcd_prefix_end(const char *prefix)
{
    char *end = chat_strdup(prefix);
    if (end == NULL)
        return NULL;
    size_t n = strlen(end);
    /* Our prefixes are printable ASCII ending in '/', so the last byte never
     * overflows: '/' + 1 is '0'. */
    end[n - 1] = (char)(end[n - 1] + 1);
    return end;
}
