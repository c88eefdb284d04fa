/*
 * The watched copy of the services: a thread reads every key under the root
 * (a range, which gives revision R), then watches from R + 1 and applies each
 * event, so lookups answer from memory. Any break (etcd restarted, the
 * endpoint lost, a compacted revision) marks the copy out of sync until the
 * next range, tried again with a backoff.
 *
 * The watch is a streaming POST to /v3/watch: etcd's gateway writes one JSON
 * object per line. It runs on a curl multi handle so that stopping can wake
 * the thread at once (curl_multi_wakeup).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "backends/etcd/etcd.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define MAX_LINE (1u << 20)

typedef struct entry {
    char *key;                  /* "<root><service>/<address>" */
    const char *service;        /* points into key, service_len bytes */
    size_t service_len;
    char *address;              /* the value */
} entry;

struct chati_etcd_cache {
    chati_etcd *e;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* stop was asked (monotonic clock) */
    entry *v;
    size_t n, cap;
    bool synced;                /* the copy follows etcd right now */
    bool filled;                /* it was filled at least once */
    int64_t rev;                /* the revision the copy reflects */
    atomic_bool stop;
    CURLM *multi;
    chati_buf line;             /* the watch stream's partial line */
    bool broken;                /* the stream said to start over */
};

static void entry_free(entry *en)
{
    chat_free(en->key);
    chat_free(en->address);
}

static void clear_locked(chati_etcd_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        entry_free(&c->v[i]);
    c->n = 0;
}

static void del_locked(chati_etcd_cache *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].key, key) == 0) {
            entry_free(&c->v[i]);
            c->v[i] = c->v[--c->n];
            return;
        }
}

/* Takes key and value (chat_malloc'd) whatever happens. */
static void put_locked(chati_etcd_cache *c, char *key, char *value)
{
    size_t root_len = strlen(chati_etcd_root(c->e));
    char *slash = strchr(key + root_len, '/');
    if (slash == NULL || strncmp(key, chati_etcd_root(c->e), root_len) != 0) {
        chat_free(key); /* not one of ours */
        chat_free(value);
        return;
    }
    del_locked(c, key);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        entry *v = chat_realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            chat_free(key);
            chat_free(value);
            c->synced = false; /* the copy misses one: resync */
            c->broken = true;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (entry){key, key + root_len, (size_t)(slash - key - root_len), value};
}

/* Rebuilds the copy from a range over the root. */
static chat_err resync(chati_etcd_cache *c)
{
    const char *root = chati_etcd_root(c->e);
    char *end = chati_etcd_prefix_end(root);
    if (end == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd watch");
    json_t *req = json_object();
    json_object_set_new(req, "key", chati_etcd_b64(root, strlen(root)));
    json_object_set_new(req, "range_end", chati_etcd_b64(end, strlen(end)));
    chat_free(end);
    json_t *rep = NULL;
    chat_err rv = chati_etcd_call(c->e, "/v3/kv/range", req, &rep);
    if (rv != CHAT_OK)
        return rv;
    pthread_mutex_lock(&c->mu);
    clear_locked(c);
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(rep, "kvs"), i, kv) {
        char *key = chati_etcd_unb64(json_object_get(kv, "key"));
        char *val = chati_etcd_unb64(json_object_get(kv, "value"));
        if (key && val)
            put_locked(c, key, val);
        else {
            chat_free(key);
            chat_free(val);
        }
    }
    c->rev = chati_etcd_int(json_object_get(rep, "header"), "revision");
    c->synced = c->filled = true;
    c->broken = false;
    pthread_mutex_unlock(&c->mu);
    json_decref(rep);
    return CHAT_OK;
}

/* One line of the watch stream. */
static void apply_line(chati_etcd_cache *c, const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    json_t *res = json_object_get(j, "result");
    if (!json_is_object(res)) {
        c->broken = true; /* an error object: etcd refused the watch */
        json_decref(j);
        return;
    }
    if (json_is_true(json_object_get(res, "canceled")) ||
        chati_etcd_int(res, "compact_revision") > 0) {
        c->broken = true;
        json_decref(j);
        return;
    }
    pthread_mutex_lock(&c->mu);
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(res, "events"), i, ev) {
        json_t *kv = json_object_get(ev, "kv");
        /* The copy has seen a revision once it applied its event: the
         * header's revision may run ahead of events still to come (the
         * "created" answer carries the store's current one). */
        int64_t rev = chati_etcd_int(kv, "mod_revision");
        if (rev > c->rev)
            c->rev = rev;
        char *key = chati_etcd_unb64(json_object_get(kv, "key"));
        if (key == NULL)
            continue;
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type && strcmp(type, "DELETE") == 0) {
            del_locked(c, key);
            chat_free(key);
        } else {
            char *val = chati_etcd_unb64(json_object_get(kv, "value"));
            if (val)
                put_locked(c, key, val);
            else
                chat_free(key);
        }
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(j);
}

static size_t on_stream(char *data, size_t size, size_t n, void *arg)
{
    chati_etcd_cache *c = arg;
    size_t len = size * n;
    if (c->line.len + len > MAX_LINE || chati_buf_append(&c->line, data, len) != CHAT_OK)
        return 0;
    char *start = c->line.data;
    char *nl;
    while ((nl = memchr(start, '\n', c->line.len - (size_t)(start - c->line.data))) != NULL) {
        if (nl > start)
            apply_line(c, start, (size_t)(nl - start));
        start = nl + 1;
    }
    size_t rest = c->line.len - (size_t)(start - c->line.data);
    memmove(c->line.data, start, rest);
    c->line.len = rest;
    return c->broken ? 0 : len; /* 0 aborts the transfer: start over */
}

/* Streams events from revision rev + 1 until the stream breaks or stop. */
static void watch(chati_etcd_cache *c, const char *endpoint)
{
    const char *root = chati_etcd_root(c->e);
    char *end = chati_etcd_prefix_end(root);
    json_t *create = json_object();
    json_object_set_new(create, "key", chati_etcd_b64(root, strlen(root)));
    json_object_set_new(create, "range_end", chati_etcd_b64(end, end ? strlen(end) : 0));
    pthread_mutex_lock(&c->mu);
    json_object_set_new(create, "start_revision", json_integer(c->rev + 1));
    pthread_mutex_unlock(&c->mu);
    chat_free(end);
    json_t *req = json_object();
    json_object_set_new(req, "create_request", create);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    CURL *h = curl_easy_init();
    if (body == NULL || h == NULL) {
        free(body);
        if (h)
            curl_easy_cleanup(h);
        return;
    }
    char url[512];
    snprintf(url, sizeof url, "%s/v3/watch", endpoint);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, chati_etcd_timeout_ms(c->e));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A member that vanishes without closing the connection is noticed. */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 2L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 1L);
    c->line.len = 0;
    c->broken = false;
    curl_multi_add_handle(c->multi, h);
    int running = 1;
    while (!atomic_load(&c->stop) && running) {
        if (curl_multi_perform(c->multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
    curl_multi_remove_handle(c->multi, h);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    free(body);
}

/* Sleeps ms unless stop comes first. */
static void pause_ms(chati_etcd_cache *c, int ms)
{
    int64_t until = chati_mono_ms() + ms;
    pthread_mutex_lock(&c->mu);
    while (!atomic_load(&c->stop))
        if (!chati_cond_wait_until(&c->cv, &c->mu, until))
            break;
    pthread_mutex_unlock(&c->mu);
}

static void *run(void *arg)
{
    chati_thread_name("etcd-watch");
    chati_etcd_cache *c = arg;
    int backoff = BACKOFF_MIN_MS;
    size_t endpoint = chati_etcd_preferred(c->e);
    while (!atomic_load(&c->stop)) {
        if (resync(c) == CHAT_OK) {
            endpoint = chati_etcd_preferred(c->e);
            int64_t began = chati_mono_ms();
            watch(c, chati_etcd_endpoint(c->e, endpoint));
            if (chati_mono_ms() - began > BACKOFF_MAX_MS)
                backoff = BACKOFF_MIN_MS; /* it ran a while: a fresh break */
        }
        pthread_mutex_lock(&c->mu);
        c->synced = false;
        pthread_mutex_unlock(&c->mu);
        if (atomic_load(&c->stop))
            break;
        pause_ms(c, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

chat_err chati_etcd_cache_start(chati_etcd *e, chati_etcd_cache **out)
{
    *out = NULL;
    chati_etcd_cache *c = chat_calloc(1, sizeof *c);
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd watch");
    c->e = e;
    pthread_mutex_init(&c->mu, NULL);
    chati_cond_init(&c->cv);
    atomic_init(&c->stop, false);
    if ((c->multi = curl_multi_init()) == NULL ||
        pthread_create(&c->thread, NULL, run, c) != 0) {
        if (c->multi)
            curl_multi_cleanup(c->multi);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        chat_free(c);
        return chati_fail(CHAT_ERR_INTERNAL, "etcd watch thread");
    }
    *out = c;
    return CHAT_OK;
}

void chati_etcd_cache_stop(chati_etcd_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stop, true);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    curl_multi_wakeup(c->multi);
    pthread_join(c->thread, NULL);
    curl_multi_cleanup(c->multi);
    clear_locked(c);
    chat_free(c->v);
    chati_buf_free(&c->line);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    chat_free(c);
}

static bool list_locked(chati_etcd_cache *c, const char *service, chat_list **out)
{
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    if (l == NULL)
        return false;
    size_t len = strlen(service);
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].service_len == len && memcmp(c->v[i].service, service, len) == 0 &&
            chat_list_push_string(l, c->v[i].address) != CHAT_OK) {
            chat_list_free(l);
            return false;
        }
    *out = l;
    return true;
}

bool chati_etcd_cache_lookup(chati_etcd_cache *c, const char *service, int64_t min_rev,
                             chat_list **out)
{
    pthread_mutex_lock(&c->mu);
    bool ok = c->synced && c->rev >= min_rev && list_locked(c, service, out);
    pthread_mutex_unlock(&c->mu);
    return ok;
}

bool chati_etcd_cache_stale(chati_etcd_cache *c, const char *service, chat_list **out)
{
    pthread_mutex_lock(&c->mu);
    bool ok = c->filled && list_locked(c, service, out);
    pthread_mutex_unlock(&c->mu);
    return ok;
}
