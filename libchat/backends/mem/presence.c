/*
 * The in-memory presence store ("mem:").
 *
 * A hash map from user id to {expires_ms, away}. Users whose heartbeat has not
 * yet been reported as expired also sit in a min-heap ordered by expiry, so
 * expired() pops exactly the due users instead of scanning everyone. An entry
 * that has expired, been reported and carries no manual away is deleted, which
 * keeps memory proportional to the users seen within one TTL.
 *
 * Times are the caller's now_ms, never a clock read here, so the behaviour is
 * exactly reproducible in tests. A heartbeat is live while now_ms < expires_ms.
 *
 * Thread safety: one rwlock; get() takes it shared, everything else exclusive.
 * No call does I/O or calls out while holding it.
 */
#include <pthread.h>
#include <string.h>

#include "backends/builtin.h"
#include "core/internal.h"

#define NO_HEAP ((size_t)-1)

typedef struct pentry pentry;
struct pentry {
    pentry *next;               /* hash chain */
    uint32_t hash;
    size_t heap_idx;            /* NO_HEAP when not awaiting an expiry report */
    int64_t expires_ms;         /* 0 when no heartbeat was ever recorded */
    bool away;
    char user[];
};

typedef struct pstore {
    pthread_rwlock_t lock;
    pentry **buckets;
    size_t n_buckets;           /* power of two */
    size_t count;
    pentry **heap;              /* min-heap by expires_ms */
    size_t heap_len, heap_cap;
} pstore;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static pentry *find(const pstore *ps, const char *user, uint32_t h)
{
    for (pentry *e = ps->buckets[h & (ps->n_buckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->user, user) == 0)
            return e;
    return NULL;
}

static void grow_buckets(pstore *ps)
{
    size_t nb = ps->n_buckets * 2;
    pentry **b = chat_calloc(nb, sizeof *b);
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < ps->n_buckets; i++) {
        pentry *e = ps->buckets[i];
        while (e) {
            pentry *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    chat_free(ps->buckets);
    ps->buckets = b;
    ps->n_buckets = nb;
}

static pentry *insert(pstore *ps, const char *user, uint32_t h)
{
    size_t len = strlen(user) + 1;
    pentry *e = chat_malloc(sizeof *e + len);
    if (e == NULL)
        return NULL;
    memcpy(e->user, user, len);
    e->hash = h;
    e->heap_idx = NO_HEAP;
    e->expires_ms = 0;
    e->away = false;
    size_t i = h & (ps->n_buckets - 1);
    e->next = ps->buckets[i];
    ps->buckets[i] = e;
    if (++ps->count > ps->n_buckets)
        grow_buckets(ps);
    return e;
}

static void unlink_entry(pstore *ps, pentry *e)
{
    pentry **pp = &ps->buckets[e->hash & (ps->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    ps->count--;
    chat_free(e);
}

/* ---- heap ---- */

static void heap_set(pstore *ps, size_t i, pentry *e)
{
    ps->heap[i] = e;
    e->heap_idx = i;
}

static void sift_up(pstore *ps, size_t i)
{
    pentry *e = ps->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ps->heap[parent]->expires_ms <= e->expires_ms)
            break;
        heap_set(ps, i, ps->heap[parent]);
        i = parent;
    }
    heap_set(ps, i, e);
}

static void sift_down(pstore *ps, size_t i)
{
    pentry *e = ps->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ps->heap_len)
            break;
        if (c + 1 < ps->heap_len && ps->heap[c + 1]->expires_ms < ps->heap[c]->expires_ms)
            c++;
        if (e->expires_ms <= ps->heap[c]->expires_ms)
            break;
        heap_set(ps, i, ps->heap[c]);
        i = c;
    }
    heap_set(ps, i, e);
}

static bool heap_push(pstore *ps, pentry *e)
{
    if (ps->heap_len == ps->heap_cap) {
        size_t ncap = ps->heap_cap ? ps->heap_cap * 2 : 64;
        pentry **nh = chat_realloc(ps->heap, ncap * sizeof *nh);
        if (nh == NULL)
            return false;
        ps->heap = nh;
        ps->heap_cap = ncap;
    }
    heap_set(ps, ps->heap_len++, e);
    sift_up(ps, ps->heap_len - 1);
    return true;
}

static void heap_remove(pstore *ps, pentry *e)
{
    size_t i = e->heap_idx;
    e->heap_idx = NO_HEAP;
    pentry *last = ps->heap[--ps->heap_len];
    if (i == ps->heap_len)
        return;
    heap_set(ps, i, last);
    sift_up(ps, i);
    sift_down(ps, last->heap_idx);
}

/* ---- presence ---- */

static chat_presence effective(const pentry *e, int64_t now_ms)
{
    if (e == NULL || now_ms >= e->expires_ms)
        return CHAT_PRESENCE_OFFLINE;
    return e->away ? CHAT_PRESENCE_AWAY : CHAT_PRESENCE_ACTIVE;
}

static chat_err check_user(const char *user_id)
{
    if (user_id == NULL || user_id[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: empty user id");
    return CHAT_OK;
}

static chat_err mem_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(url);
    CHATI_UNUSED(cfg);
    pstore *ps = chat_calloc(1, sizeof *ps);
    if (ps == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    ps->n_buckets = 256;
    ps->buckets = chat_calloc(ps->n_buckets, sizeof *ps->buckets);
    if (ps->buckets == NULL || pthread_rwlock_init(&ps->lock, NULL) != 0) {
        chat_free(ps->buckets);
        chat_free(ps);
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    }
    *impl = ps;
    return CHAT_OK;
}

static void mem_close(void *impl)
{
    pstore *ps = impl;
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->n_buckets; i++) {
        pentry *e = ps->buckets[i];
        while (e) {
            pentry *next = e->next;
            chat_free(e);
            e = next;
        }
    }
    chat_free(ps->buckets);
    chat_free(ps->heap);
    pthread_rwlock_destroy(&ps->lock);
    chat_free(ps);
}

static chat_err mem_heartbeat(void *impl, const char *user_id, int64_t now_ms, int64_t ttl_ms,
                              bool *changed)
{
    pstore *ps = impl;
    chat_err rv = check_user(user_id);
    if (rv != CHAT_OK)
        return rv;
    if (ttl_ms <= 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: ttl must be positive");

    uint32_t h = hash_str(user_id);
    pthread_rwlock_wrlock(&ps->lock);
    pentry *e = find(ps, user_id, h);
    chat_presence before = effective(e, now_ms);
    if (e == NULL && (e = insert(ps, user_id, h)) == NULL) {
        pthread_rwlock_unlock(&ps->lock);
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    }
    int64_t old = e->expires_ms;
    e->expires_ms = now_ms + ttl_ms;
    if (e->heap_idx != NO_HEAP) {
        if (e->expires_ms >= old)
            sift_down(ps, e->heap_idx);
        else
            sift_up(ps, e->heap_idx);
    } else if (!heap_push(ps, e)) {
        e->expires_ms = old;
        if (old == 0 && !e->away)
            unlink_entry(ps, e);
        pthread_rwlock_unlock(&ps->lock);
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    }
    chat_presence after = effective(e, now_ms);
    pthread_rwlock_unlock(&ps->lock);
    if (changed)
        *changed = before != after;
    return CHAT_OK;
}

static chat_err mem_set_away(void *impl, const char *user_id, bool away, int64_t now_ms,
                             bool *changed)
{
    pstore *ps = impl;
    chat_err rv = check_user(user_id);
    if (rv != CHAT_OK)
        return rv;

    uint32_t h = hash_str(user_id);
    pthread_rwlock_wrlock(&ps->lock);
    pentry *e = find(ps, user_id, h);
    chat_presence before = effective(e, now_ms);
    if (e == NULL && away && (e = insert(ps, user_id, h)) == NULL) {
        pthread_rwlock_unlock(&ps->lock);
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");
    }
    chat_presence after = before;
    if (e != NULL) {
        e->away = away;
        after = effective(e, now_ms);
        /* Nothing left to remember about an offline user who is not away. */
        if (!away && e->heap_idx == NO_HEAP && now_ms >= e->expires_ms)
            unlink_entry(ps, e);
    }
    pthread_rwlock_unlock(&ps->lock);
    if (changed)
        *changed = before != after;
    return CHAT_OK;
}

static chat_err mem_get(void *impl, const char *const *user_ids, size_t n, int64_t now_ms,
                        chat_presence *out)
{
    pstore *ps = impl;
    if (n > 0 && (user_ids == NULL || out == NULL))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: no users or no output");
    for (size_t i = 0; i < n; i++)
        if (user_ids[i] == NULL)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: NULL user id");
    pthread_rwlock_rdlock(&ps->lock);
    for (size_t i = 0; i < n; i++)
        out[i] = effective(find(ps, user_ids[i], hash_str(user_ids[i])), now_ms);
    pthread_rwlock_unlock(&ps->lock);
    return CHAT_OK;
}

static chat_err mem_expired(void *impl, int64_t now_ms, chat_list **out)
{
    pstore *ps = impl;
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "presence: no output list");
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "presence: out of memory");

    chat_err rv = CHAT_OK;
    pthread_rwlock_wrlock(&ps->lock);
    while (ps->heap_len > 0 && ps->heap[0]->expires_ms <= now_ms) {
        pentry *e = ps->heap[0];
        /* Report first: if the list cannot grow, the user stays due. */
        if ((rv = chat_list_push_string(l, e->user)) != CHAT_OK)
            break;
        heap_remove(ps, e);
        if (!e->away)
            unlink_entry(ps, e);
    }
    pthread_rwlock_unlock(&ps->lock);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

const chat_presence_store_ops chati_mem_presence_ops = {
    .version = CHAT_PRESENCE_STORE_V1,
    .scheme = "mem",
    .open = mem_open,
    .close = mem_close,
    .heartbeat = mem_heartbeat,
    .set_away = mem_set_away,
    .get = mem_get,
    .expired = mem_expired,
};
