/*
 * Service discovery on etcd ("etcd://host:port[,host:port...][/prefix]").
 *
 * announce() puts "<root><service>/<address>" under a lease of ttl seconds
 * the first time, then keeps that lease alive; a lease that expired (etcd
 * was away longer than the TTL) is granted anew and the key put again. A
 * process that dies stops renewing, so its key goes with its lease.
 * withdraw() revokes the lease and deletes the key. lookup() answers from a
 * watched copy of every service (watch.c), started at the first lookup; while
 * that copy has not yet seen this process's own last write, or is out of
 * sync, it asks etcd directly, and when etcd cannot be reached it answers the
 * last copy it had rather than nothing.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "backends/builtin.h"
#include "backends/etcd/etcd.h"

typedef struct reg {
    char *service;
    char *address;
    int64_t lease;
    struct reg *next;
} reg;

typedef struct edisc {
    chati_etcd *e;
    pthread_mutex_t mu;         /* guards regs and cache */
    reg *regs;
    chati_etcd_cache *cache;
    _Atomic int64_t write_rev;  /* revision of this process's last change */
} edisc;

static bool valid_service(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '/')
            return false;
    return true;
}

static bool valid_address(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 512)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static chat_err check_args(const char *service, const char *address)
{
    if (!valid_service(service) || !valid_address(address))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "etcd discovery: the service must be a word without '/' and the "
                          "address a word, both printable ASCII");
    return CHAT_OK;
}

static void note_rev(edisc *d, const json_t *rep)
{
    int64_t rev = chati_etcd_int(json_object_get(rep, "header"), "revision");
    int64_t cur = atomic_load(&d->write_rev);
    while (rev > cur && !atomic_compare_exchange_weak(&d->write_rev, &cur, rev)) {
    }
}

static char *key_of(edisc *d, const char *service, const char *address)
{
    chati_buf b = {0};
    if (chati_buf_printf(&b, "%s%s/%s", chati_etcd_root(d->e), service,
                         address ? address : "") != CHAT_OK)
        return NULL;
    return chati_buf_steal(&b);
}

static json_t *key_req(const char *key)
{
    json_t *req = json_object();
    json_object_set_new(req, "key", chati_etcd_b64(key, strlen(key)));
    return req;
}

static reg *find_locked(edisc *d, const char *service, const char *address, reg ***link)
{
    for (reg **p = &d->regs; *p; p = &(*p)->next)
        if (strcmp((*p)->service, service) == 0 && strcmp((*p)->address, address) == 0) {
            if (link)
                *link = p;
            return *p;
        }
    return NULL;
}

static chat_err ed_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    edisc *d = chat_calloc(1, sizeof *d);
    if (d == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd discovery");
    chat_err rv = chati_etcd_new(url, &d->e);
    if (rv != CHAT_OK) {
        chat_free(d);
        return rv;
    }
    pthread_mutex_init(&d->mu, NULL);
    atomic_init(&d->write_rev, 0);
    *impl = d;
    return CHAT_OK;
}

static void ed_close(void *impl)
{
    edisc *d = impl;
    if (d == NULL)
        return;
    chati_etcd_cache_stop(d->cache);
    while (d->regs) {
        reg *r = d->regs;
        d->regs = r->next;
        chat_free(r->service);
        chat_free(r->address);
        chat_free(r);
    }
    chati_etcd_free(d->e);
    pthread_mutex_destroy(&d->mu);
    chat_free(d);
}

/* Keeps lease alive: CHAT_OK with *alive false when etcd no longer has it;
 * an error when etcd cannot say (try again later: granting a new lease
 * meanwhile could leave two). */
static chat_err keep_alive(edisc *d, int64_t lease, bool *alive)
{
    json_t *req = json_object(), *rep = NULL;
    json_object_set_new(req, "ID", json_integer(lease));
    chat_err rv = chati_etcd_call(d->e, "/v3/lease/keepalive", req, &rep);
    if (rv != CHAT_OK)
        return rv;
    *alive = chati_etcd_int(json_object_get(rep, "result"), "TTL") > 0;
    json_decref(rep);
    return CHAT_OK;
}

static chat_err ed_announce(void *impl, const char *service, const char *address, int ttl_s)
{
    edisc *d = impl;
    chat_err rv = check_args(service, address);
    if (rv != CHAT_OK)
        return rv;
    if (ttl_s < 1)
        ttl_s = 1;
    pthread_mutex_lock(&d->mu);
    reg *r = find_locked(d, service, address, NULL);
    int64_t lease = r ? r->lease : 0;
    pthread_mutex_unlock(&d->mu);
    if (lease != 0) {
        bool alive = false;
        if ((rv = keep_alive(d, lease, &alive)) != CHAT_OK || alive)
            return rv;
    }

    json_t *req = json_object(), *rep = NULL;
    json_object_set_new(req, "TTL", json_integer(ttl_s));
    if ((rv = chati_etcd_call(d->e, "/v3/lease/grant", req, &rep)) != CHAT_OK)
        return rv;
    lease = chati_etcd_int(rep, "ID");
    json_decref(rep);
    if (lease == 0)
        return chati_fail(CHAT_ERR_INTERNAL, "etcd granted no lease");
    char *key = key_of(d, service, address);
    if (key == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd discovery");
    req = key_req(key);
    chat_free(key);
    json_object_set_new(req, "value", chati_etcd_b64(address, strlen(address)));
    json_object_set_new(req, "lease", json_integer(lease));
    if ((rv = chati_etcd_call(d->e, "/v3/kv/put", req, &rep)) != CHAT_OK)
        return rv; /* the lease expires by itself */
    note_rev(d, rep);
    json_decref(rep);

    pthread_mutex_lock(&d->mu);
    if ((r = find_locked(d, service, address, NULL)) == NULL &&
        (r = chat_calloc(1, sizeof *r)) != NULL) {
        r->service = chat_strdup(service);
        r->address = chat_strdup(address);
        if (r->service == NULL || r->address == NULL) {
            chat_free(r->service);
            chat_free(r->address);
            chat_free(r);
            r = NULL;
        } else {
            r->next = d->regs;
            d->regs = r;
        }
    }
    if (r)
        r->lease = lease;
    pthread_mutex_unlock(&d->mu);
    /* Unrecorded (out of memory), the next announce grants again; this lease
     * then simply expires. */
    return CHAT_OK;
}

static chat_err ed_withdraw(void *impl, const char *service, const char *address)
{
    edisc *d = impl;
    chat_err rv = check_args(service, address);
    if (rv != CHAT_OK)
        return rv;
    int64_t lease = 0;
    reg **link = NULL;
    pthread_mutex_lock(&d->mu);
    reg *r = find_locked(d, service, address, &link);
    if (r) {
        lease = r->lease;
        *link = r->next;
        chat_free(r->service);
        chat_free(r->address);
        chat_free(r);
    }
    pthread_mutex_unlock(&d->mu);
    json_t *req, *rep = NULL;
    if (lease != 0) {
        req = json_object();
        json_object_set_new(req, "ID", json_integer(lease));
        if (chati_etcd_call(d->e, "/v3/lease/revoke", req, &rep) == CHAT_OK) {
            note_rev(d, rep); /* the revision that deleted the key */
            json_decref(rep);
        } /* a lease already gone is fine: the key went with it */
    }
    char *key = key_of(d, service, address);
    if (key == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd discovery");
    req = key_req(key);
    chat_free(key);
    if ((rv = chati_etcd_call(d->e, "/v3/kv/deleterange", req, &rep)) != CHAT_OK)
        return rv;
    /* Deleting nothing makes no revision: the header's would be someone
     * else's, which the watched copy may never see an event of. */
    if (chati_etcd_int(rep, "deleted") > 0)
        note_rev(d, rep);
    json_decref(rep);
    return CHAT_OK;
}

/* Asks etcd for service's addresses. */
static chat_err range_service(edisc *d, const char *service, chat_list **out)
{
    char *prefix = key_of(d, service, NULL);
    char *end = prefix ? chati_etcd_prefix_end(prefix) : NULL;
    if (end == NULL) {
        chat_free(prefix);
        return chati_fail(CHAT_ERR_NOMEM, "etcd discovery");
    }
    json_t *req = key_req(prefix), *rep = NULL;
    json_object_set_new(req, "range_end", chati_etcd_b64(end, strlen(end)));
    chat_free(prefix);
    chat_free(end);
    chat_err rv = chati_etcd_call(d->e, "/v3/kv/range", req, &rep);
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(rep, "kvs"), i, kv) {
        char *val = chati_etcd_unb64(json_object_get(kv, "value"));
        if (l && val && chat_list_push_string(l, val) != CHAT_OK) {
            chat_list_free(l);
            l = NULL;
        }
        chat_free(val);
    }
    json_decref(rep);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "etcd discovery");
    *out = l;
    return CHAT_OK;
}

static chat_err ed_lookup(void *impl, const char *service, chat_list **out)
{
    edisc *d = impl;
    if (out == NULL || !valid_service(service))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "etcd discovery: bad lookup");
    pthread_mutex_lock(&d->mu);
    if (d->cache == NULL)
        (void)chati_etcd_cache_start(d->e, &d->cache); /* without it, ask each time */
    chati_etcd_cache *c = d->cache;
    pthread_mutex_unlock(&d->mu);
    if (c && chati_etcd_cache_lookup(c, service, atomic_load(&d->write_rev), out))
        return CHAT_OK;
    chat_err rv = range_service(d, service, out);
    if (rv == CHAT_ERR_SERVICE_UNAVAILABLE && c && chati_etcd_cache_stale(c, service, out))
        return CHAT_OK;
    return rv;
}

const chat_discovery_ops chati_etcd_discovery_ops = {
    .version = CHAT_DISCOVERY_V1,
    .scheme = "etcd",
    .open = ed_open,
    .close = ed_close,
    .announce = ed_announce,
    .withdraw = ed_withdraw,
    .lookup = ed_lookup,
};
