/*
 * The in-process event broker ("inproc:").
 *
 * Each consumer group has one queue and one dispatcher thread; the group's
 * members take turns handling batches from it. A single dispatcher per group
 * keeps publish order (so per-key order, and more). A published message is
 * copied once into a shared, refcounted block that every matching group's
 * queue points to; the count is the number of groups still to handle it.
 *
 * "Durably accepted" in-process means handled: the ack runs once every group
 * that matched the message at publish time has handled it (or left), so an
 * outbox row may be deleted on ack. Messages still queued at close are acked
 * with CHAT_ERR_CLOSED. Acks run on one ack thread per broker, never on the
 * publisher's thread, so a publisher may hold its own locks while publishing.
 *
 * A failed batch (handler returned non-OK) goes back to the same member after
 * a backoff of 20 ms doubling to 1 s. When a group's last member leaves, the
 * group ends and what it still held counts as handled by it. max_batch 0
 * means 64; flush(timeout_ms < 0) waits without limit.
 *
 * A group whose members all subscribed with a linger (subscribe_batched)
 * lets its oldest queued message wait up to the shortest linger for the
 * queue to fill a batch: consumers that pay per batch (one transaction) then
 * pay it once for many messages. A flush cuts the wait short.
 *
 * Thread safety: every op may be called from any thread, except unsubscribe
 * from inside that consumer's own handler (it waits for the handler), and
 * close, which must not race other calls and frees consumers still
 * subscribed. Locks: broker.mu (groups list, topic unions, in-flight list, ack
 * queue) is taken before a group's mu, never after. No lock is held across a
 * handler or an ack callback.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "backends/broker_check.h"
#include "backends/builtin.h"
#include "core/internal.h"

#define DEFAULT_BATCH 64
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 1000

typedef struct imsg imsg;
typedef struct group group;
typedef struct member member;
typedef struct broker broker;

struct imsg {
    imsg *prev, *next;          /* in-flight list, oldest first (broker.mu) */
    imsg *ack_next;             /* ack queue (broker.mu) */
    atomic_int pending;         /* groups yet to handle it: the refcount */
    atomic_bool failed;         /* dropped unhandled at close */
    uint64_t seq;
    int64_t queued_ms;          /* monotonic, when published: for the linger */
    int64_t tag;
    chat_broker_ack ack;
    void *ack_arg;
    chat_broker_msg m;          /* points into body */
    char body[];                /* data, topic, key */
};

struct member {
    group *g;
    char **topics;
    size_t n_topics;
    size_t max_batch;
    int linger_ms;
    chat_broker_handler handler;
    void *arg;
};

struct group {
    broker *b;
    group *next;                /* broker.groups (broker.mu) */
    char *name;
    const char **topics;        /* union of members' topics (broker.mu) */
    size_t n_topics, cap_topics;
    pthread_t thread;

    pthread_mutex_t mu;         /* guards everything below */
    pthread_cond_t cv;          /* work, stop, or a handler finished */
    imsg **q;                   /* ring buffer */
    size_t qhead, qlen, qcap;
    member **members;
    size_t n_members, cap_members, rr;
    member *running;            /* whose handler is running now */
    member *retry_member;       /* the batch that failed goes to it again */
    size_t retry_n;
    int backoff_ms;
    int64_t retry_at;           /* monotonic ms, 0 when not backing off */
    int linger_ms;              /* the members' shortest linger (0 if one has none) */
    size_t fill;                /* and their smallest batch: a full queue stops the wait */
    bool stop;
};

struct broker {
    pthread_mutex_t mu;
    pthread_cond_t ack_cv;      /* ack queue non-empty or stopping */
    pthread_cond_t flush_cv;    /* in-flight messages completed */
    group *groups;
    imsg *inflight_head, *inflight_tail;
    imsg *ackq_head, *ackq_tail;
    uint64_t next_seq;
    atomic_int flushing;        /* flush() callers waiting: nobody lingers */
    bool closing;
    bool ack_stop;
    pthread_t ack_thread;
};

/* ---- helpers ---- */

static bool member_wants(const member *m, const char *topic)
{
    for (size_t i = 0; i < m->n_topics; i++)
        if (strcmp(m->topics[i], topic) == 0)
            return true;
    return false;
}

static bool group_wants(const group *g, const char *topic)
{
    for (size_t i = 0; i < g->n_topics; i++)
        if (strcmp(g->topics[i], topic) == 0)
            return true;
    return false;
}

static void member_free(member *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_topics; i++)
        chat_free(m->topics[i]);
    chat_free(m->topics);
    chat_free(m);
}

/* Called with broker.mu held. Returns whether the ack thread needs waking:
 * only when its queue was empty (else it is awake, or already signalled). */
static bool ackq_push_locked(broker *b, imsg *msg)
{
    msg->ack_next = NULL;
    bool was_empty = b->ackq_head == NULL;
    if (b->ackq_tail)
        b->ackq_tail->ack_next = msg;
    else
        b->ackq_head = msg;
    b->ackq_tail = msg;
    return was_empty;
}

/* One group is finished with msg (handled it, or dropped it). The last one
 * passes it to the ack thread, which frees it. No lock may be held. */
static void msg_group_done(broker *b, imsg *msg)
{
    if (atomic_fetch_sub(&msg->pending, 1) != 1)
        return;
    pthread_mutex_lock(&b->mu);
    bool wake = ackq_push_locked(b, msg);
    pthread_mutex_unlock(&b->mu);
    /* after the unlock: the ack thread does not wake into a held lock (the
     * broker, and its condition, outlive every publish) */
    if (wake)
        pthread_cond_signal(&b->ack_cv);
}

/* ---- ack thread ---- */

static void *ack_main(void *arg)
{
    chati_thread_name("broker-ack");
    broker *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->ackq_head == NULL && !b->ack_stop)
            pthread_cond_wait(&b->ack_cv, &b->mu);
        if (b->ackq_head == NULL)
            break; /* stopping, and nothing left to ack */
        imsg *list = b->ackq_head;
        b->ackq_head = b->ackq_tail = NULL;
        pthread_mutex_unlock(&b->mu);

        for (imsg *m = list; m; m = m->ack_next)
            if (m->ack)
                m->ack(m->ack_arg, m->tag,
                       atomic_load(&m->failed) ? CHAT_ERR_CLOSED : CHAT_OK);

        /* Only now is the message complete as far as flush() is concerned. */
        pthread_mutex_lock(&b->mu);
        for (imsg *m = list; m; m = m->ack_next) {
            if (m->prev)
                m->prev->next = m->next;
            else
                b->inflight_head = m->next;
            if (m->next)
                m->next->prev = m->prev;
            else
                b->inflight_tail = m->prev;
        }
        pthread_cond_broadcast(&b->flush_cv);
        pthread_mutex_unlock(&b->mu);
        while (list) {
            imsg *next = list->ack_next;
            chat_free(list);
            list = next;
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- group dispatcher ---- */

/* Next member (round robin) that takes topic, or NULL. g->mu held. */
static member *pick_member(group *g, const char *topic)
{
    for (size_t k = 0; k < g->n_members; k++) {
        size_t i = (g->rr + k) % g->n_members;
        if (member_wants(g->members[i], topic)) {
            g->rr = i + 1;
            return g->members[i];
        }
    }
    return NULL;
}

static imsg *q_at(const group *g, size_t i)
{
    return g->q[(g->qhead + i) % g->qcap];
}

/* Removes the first n queued messages into out. g->mu held. */
static void q_pop(group *g, size_t n, imsg **out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = q_at(g, i);
    g->qhead = (g->qhead + n) % g->qcap;
    g->qlen -= n;
}

static void *group_main(void *arg)
{
    chati_thread_name("broker-group");
    group *g = arg;
    chat_broker_msg *batch = NULL;
    imsg **done = NULL;
    size_t cap = 0;

    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        if (g->qlen == 0 || g->n_members == 0) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        if (g->linger_ms > 0 && g->qlen < g->fill && g->retry_at == 0 &&
            atomic_load(&g->b->flushing) == 0) {
            int64_t until = q_at(g, 0)->queued_ms + g->linger_ms;
            if (chati_mono_ms() < until) {
                chati_cond_wait_until(&g->cv, &g->mu, until);
                continue; /* woken by a full queue, a flush, a stop, or the time */
            }
        }
        if (g->retry_at != 0) {
            if (chati_mono_ms() < g->retry_at) {
                chati_cond_wait_until(&g->cv, &g->mu, g->retry_at);
                continue; /* re-check stop and membership */
            }
            g->retry_at = 0;
        }

        member *m = g->retry_member;
        size_t n = g->retry_n;
        if (m == NULL || n == 0) {
            imsg *head = q_at(g, 0);
            m = pick_member(g, head->m.topic);
            if (m == NULL) {
                /* Its only subscriber left: nobody in this group wants it. */
                q_pop(g, 1, &head);
                pthread_mutex_unlock(&g->mu);
                msg_group_done(g->b, head);
                pthread_mutex_lock(&g->mu);
                continue;
            }
            /* A batch is a run of messages this member takes, so order holds. */
            n = 1;
            while (n < g->qlen && n < m->max_batch && member_wants(m, q_at(g, n)->m.topic))
                n++;
        }
        if (n > cap) {
            chat_broker_msg *nb = chat_realloc(batch, n * sizeof *batch);
            if (nb)
                batch = nb;
            imsg **nd = chat_realloc(done, n * sizeof *done);
            if (nd)
                done = nd;
            if (nb == NULL || nd == NULL) {
                /* Out of memory: try a smaller batch after a pause. */
                g->retry_member = NULL;
                g->retry_n = 0;
                g->retry_at = chati_mono_ms() + BACKOFF_MIN_MS;
                continue;
            }
            cap = n;
        }
        for (size_t i = 0; i < n; i++)
            batch[i] = q_at(g, i)->m;
        g->running = m;
        pthread_mutex_unlock(&g->mu);

        chat_err rv = m->handler(m->arg, batch, n);

        pthread_mutex_lock(&g->mu);
        g->running = NULL;
        pthread_cond_broadcast(&g->cv); /* an unsubscribe may be waiting */
        if (rv == CHAT_OK) {
            g->retry_member = NULL;
            g->retry_n = 0;
            g->backoff_ms = 0;
            q_pop(g, n, done);
            pthread_mutex_unlock(&g->mu);
            for (size_t i = 0; i < n; i++)
                msg_group_done(g->b, done[i]);
            pthread_mutex_lock(&g->mu);
        } else {
            /* Redeliver the same batch (still at the queue's head) later. */
            g->retry_member = m;
            g->retry_n = n;
            g->backoff_ms = g->backoff_ms ? g->backoff_ms * 2 : BACKOFF_MIN_MS;
            if (g->backoff_ms > BACKOFF_MAX_MS)
                g->backoff_ms = BACKOFF_MAX_MS;
            g->retry_at = chati_mono_ms() + g->backoff_ms;
        }
    }
    pthread_mutex_unlock(&g->mu);
    chat_free(batch);
    chat_free(done);
    return NULL;
}

/* Joins the dispatcher, then releases what is still queued: counted as
 * handled when the group simply ended, as failed when the broker closes. */
static void group_destroy(group *g, bool failed)
{
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);

    while (g->qlen > 0) {
        imsg *msg;
        q_pop(g, 1, &msg);
        if (failed)
            atomic_store(&msg->failed, true);
        msg_group_done(g->b, msg);
    }
    for (size_t i = 0; i < g->n_members; i++)
        member_free(g->members[i]);
    chat_free(g->members);
    chat_free(g->q);
    chat_free(g->topics);
    chat_free(g->name);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    chat_free(g);
}

/* Rebuilds the group's topic union (pointers into the members' strings).
 * broker.mu held; members only change with broker.mu held too. A union never
 * grows when a member leaves, so that case reuses the array and cannot fail. */
static chat_err group_recompute_topics(group *g)
{
    size_t need = 0;
    for (size_t i = 0; i < g->n_members; i++)
        need += g->members[i]->n_topics; /* upper bound, before dedup */
    if (need > g->cap_topics) {
        size_t n = 0; /* exact union size, to avoid allocating when it fits */
        for (size_t i = 0; i < g->n_members; i++)
            for (size_t j = 0; j < g->members[i]->n_topics; j++) {
                bool dup = false;
                for (size_t a = 0; a <= i && !dup; a++)
                    for (size_t c = 0; c < (a == i ? j : g->members[a]->n_topics) && !dup; c++)
                        dup = strcmp(g->members[a]->topics[c], g->members[i]->topics[j]) == 0;
                n += !dup;
            }
        need = n;
    }
    if (need > g->cap_topics) {
        const char **t = chat_malloc(need * sizeof *t);
        if (t == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "inproc broker: out of memory");
        chat_free(g->topics);
        g->topics = t;
        g->cap_topics = need;
    }
    size_t n = 0;
    for (size_t i = 0; i < g->n_members; i++) {
        member *m = g->members[i];
        for (size_t j = 0; j < m->n_topics; j++) {
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp(g->topics[k], m->topics[j]) == 0;
            if (!dup)
                g->topics[n++] = m->topics[j];
        }
    }
    g->n_topics = n;
    return CHAT_OK;
}

static group *group_new(broker *b, const char *name)
{
    group *g = chat_calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->b = b;
    g->name = chat_strdup(name);
    g->qcap = 256;
    g->q = chat_malloc(g->qcap * sizeof *g->q);
    if (g->name == NULL || g->q == NULL)
        goto fail;
    if (pthread_mutex_init(&g->mu, NULL) != 0)
        goto fail;
    if (chati_cond_init(&g->cv) != 0) {
        pthread_mutex_destroy(&g->mu);
        goto fail;
    }
    if (pthread_create(&g->thread, NULL, group_main, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        goto fail;
    }
    return g;
fail:
    chat_free(g->q);
    chat_free(g->name);
    chat_free(g);
    return NULL;
}

/* ---- ops ---- */

static chat_err inproc_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(url);
    CHATI_UNUSED(cfg);
    broker *b = chat_calloc(1, sizeof *b);
    if (b == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "inproc broker: out of memory");
    b->next_seq = 1;
    if (pthread_mutex_init(&b->mu, NULL) != 0)
        goto fail_mu;
    if (chati_cond_init(&b->ack_cv) != 0)
        goto fail_ack_cv;
    if (chati_cond_init(&b->flush_cv) != 0)
        goto fail_flush_cv;
    if (pthread_create(&b->ack_thread, NULL, ack_main, b) != 0)
        goto fail_thread;
    *impl = b;
    return CHAT_OK;

fail_thread:
    pthread_cond_destroy(&b->flush_cv);
fail_flush_cv:
    pthread_cond_destroy(&b->ack_cv);
fail_ack_cv:
    pthread_mutex_destroy(&b->mu);
fail_mu:
    chat_free(b);
    return chati_fail(CHAT_ERR_INTERNAL, "inproc broker: cannot start threads");
}

static void inproc_close(void *impl)
{
    broker *b = impl;
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    b->closing = true;
    group *groups = b->groups;
    b->groups = NULL;
    pthread_mutex_unlock(&b->mu);

    while (groups) {
        group *next = groups->next;
        group_destroy(groups, true);
        groups = next;
    }

    /* Every message is now in the ack queue; the ack thread drains it. */
    pthread_mutex_lock(&b->mu);
    b->ack_stop = true;
    pthread_cond_signal(&b->ack_cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->ack_thread, NULL);

    pthread_cond_destroy(&b->flush_cv);
    pthread_cond_destroy(&b->ack_cv);
    pthread_mutex_destroy(&b->mu);
    chat_free(b);
}

static imsg *imsg_new(const chat_broker_msg *src, int64_t tag, chat_broker_ack ack,
                      void *ack_arg)
{
    const char *key = src->key ? src->key : "";
    size_t tlen = strlen(src->topic) + 1, klen = strlen(key) + 1;
    imsg *m = chat_malloc(sizeof *m + src->len + tlen + klen);
    if (m == NULL)
        return NULL;
    m->prev = m->next = m->ack_next = NULL;
    atomic_init(&m->pending, 0);
    atomic_init(&m->failed, false);
    m->seq = 0;
    m->tag = tag;
    m->ack = ack;
    m->ack_arg = ack_arg;
    char *p = m->body;
    if (src->len)
        memcpy(p, src->data, src->len);
    m->m.data = p;
    m->m.len = src->len;
    p += src->len;
    memcpy(p, src->topic, tlen);
    m->m.topic = p;
    p += tlen;
    memcpy(p, key, klen);
    m->m.key = p;
    return m;
}

/* Makes room for want more messages. g->mu held. */
static bool q_reserve(group *g, size_t want)
{
    if (g->qlen + want <= g->qcap)
        return true;
    size_t ncap = g->qcap * 2;
    while (ncap < g->qlen + want)
        ncap *= 2;
    imsg **nq = chat_malloc(ncap * sizeof *nq);
    if (nq == NULL)
        return false;
    for (size_t i = 0; i < g->qlen; i++)
        nq[i] = q_at(g, i);
    chat_free(g->q);
    g->q = nq;
    g->qcap = ncap;
    g->qhead = 0;
    return true;
}

/* g->mu held; room was reserved. */
static void q_push(group *g, imsg *msg)
{
    g->q[(g->qhead + g->qlen) % g->qcap] = msg;
    g->qlen++;
}

static chat_err inproc_publish(void *impl, const chat_broker_msg *msgs, size_t n,
                               const int64_t *tags, chat_broker_ack ack, void *ack_arg)
{
    broker *b = impl;
    if (n == 0)
        return CHAT_OK;
    chat_err bad = chati_broker_check_msgs(msgs, n, "inproc broker", SIZE_MAX);
    if (bad != CHAT_OK)
        return bad;

    /* Copy outside the lock: the only allocation on the hot path. */
    imsg *stack_buf[32];
    imsg **copies = n <= 32 ? stack_buf : chat_malloc(n * sizeof *copies);
    if (copies == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "inproc broker: out of memory");
    for (size_t i = 0; i < n; i++) {
        copies[i] = imsg_new(&msgs[i], tags ? tags[i] : 0, ack, ack_arg);
        if (copies[i] == NULL) {
            while (i-- > 0)
                chat_free(copies[i]);
            if (copies != stack_buf)
                chat_free(copies);
            return chati_fail(CHAT_ERR_NOMEM, "inproc broker: out of memory");
        }
    }

    chat_err rv = CHAT_OK;
    pthread_mutex_lock(&b->mu);
    if (b->closing) {
        rv = chati_fail(CHAT_ERR_CLOSED, "inproc broker: closing");
        goto out_free;
    }
    int64_t now_ms = chati_mono_ms();
    /* Set every refcount before any group can see the message. */
    for (size_t i = 0; i < n; i++) {
        int cnt = 0;
        for (group *g = b->groups; g; g = g->next)
            cnt += group_wants(g, copies[i]->m.topic);
        atomic_store(&copies[i]->pending, cnt);
    }
    /* Grow the queues first so that enqueueing cannot fail halfway. */
    for (group *g = b->groups; g; g = g->next) {
        size_t want = 0;
        for (size_t i = 0; i < n; i++)
            want += group_wants(g, copies[i]->m.topic);
        pthread_mutex_lock(&g->mu);
        bool ok = q_reserve(g, want);
        pthread_mutex_unlock(&g->mu);
        if (!ok) {
            rv = chati_fail(CHAT_ERR_NOMEM, "inproc broker: out of memory");
            goto out_free;
        }
    }
    for (size_t i = 0; i < n; i++) {
        imsg *m = copies[i];
        m->seq = b->next_seq++;
        m->queued_ms = now_ms;
        m->prev = b->inflight_tail;
        if (b->inflight_tail)
            b->inflight_tail->next = m;
        else
            b->inflight_head = m;
        b->inflight_tail = m;
        if (atomic_load(&m->pending) == 0 && ackq_push_locked(b, m))
            pthread_cond_signal(&b->ack_cv); /* nobody subscribed: done already */
    }
    for (group *g = b->groups; g; g = g->next) {
        bool any = false;
        pthread_mutex_lock(&g->mu);
        /* The dispatcher waits only on an empty queue, for a member or a
         * retry (which wake it otherwise), or lingering for a full batch:
         * otherwise it is awake or already signalled. Broadcast, since an
         * unsubscribe may wait on the same condition. */
        size_t before = g->qlen;
        for (size_t i = 0; i < n; i++) {
            if (group_wants(g, copies[i]->m.topic)) {
                q_push(g, copies[i]);
                any = true;
            }
        }
        bool filled = g->linger_ms > 0 && before < g->fill && g->qlen >= g->fill;
        if (any && (before == 0 || filled))
            pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
    }
    pthread_mutex_unlock(&b->mu);
    if (copies != stack_buf)
        chat_free(copies);
    return CHAT_OK;

out_free:
    pthread_mutex_unlock(&b->mu);
    for (size_t i = 0; i < n; i++)
        chat_free(copies[i]);
    if (copies != stack_buf)
        chat_free(copies);
    return rv;
}

static member *member_new(const char *const *topics, size_t n_topics, size_t max_batch,
                          int linger_ms, chat_broker_handler handler, void *arg)
{
    member *m = chat_calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->topics = chat_calloc(n_topics, sizeof *m->topics);
    if (m->topics == NULL) {
        chat_free(m);
        return NULL;
    }
    for (size_t i = 0; i < n_topics; i++) {
        m->topics[i] = chat_strdup(topics[i]);
        m->n_topics = i + 1;
        if (m->topics[i] == NULL) {
            member_free(m);
            return NULL;
        }
    }
    m->max_batch = max_batch ? max_batch : DEFAULT_BATCH;
    m->linger_ms = linger_ms;
    m->handler = handler;
    m->arg = arg;
    return m;
}

/* The group lingers as long as its most impatient member. g->mu held. */
static void group_recompute_linger(group *g)
{
    g->linger_ms = 0;
    g->fill = 0;
    for (size_t i = 0; i < g->n_members; i++) {
        const member *m = g->members[i];
        if (i == 0 || m->linger_ms < g->linger_ms)
            g->linger_ms = m->linger_ms;
        if (i == 0 || m->max_batch < g->fill)
            g->fill = m->max_batch;
    }
}

static chat_err inproc_subscribe_batched(void *impl, const char *group_name,
                                         const char *const *topics, size_t n_topics,
                                         size_t max_batch, int linger_ms,
                                         chat_broker_handler handler, void *arg,
                                         chat_broker_consumer **out)
{
    broker *b = impl;
    if (group_name == NULL || group_name[0] == '\0' || topics == NULL || n_topics == 0 ||
        handler == NULL || out == NULL || linger_ms < 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "inproc broker: bad subscription");
    for (size_t i = 0; i < n_topics; i++)
        if (topics[i] == NULL || topics[i][0] == '\0')
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "inproc broker: empty topic");

    member *m = member_new(topics, n_topics, max_batch, linger_ms, handler, arg);
    if (m == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "inproc broker: out of memory");

    chat_err rv = CHAT_OK;
    bool created = false;
    pthread_mutex_lock(&b->mu);
    if (b->closing) {
        rv = chati_fail(CHAT_ERR_CLOSED, "inproc broker: closing");
        goto fail;
    }
    group *g = b->groups;
    while (g && strcmp(g->name, group_name) != 0)
        g = g->next;
    if (g == NULL) {
        g = group_new(b, group_name);
        if (g == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "inproc broker: cannot start a consumer group");
            goto fail;
        }
        created = true;
    }
    pthread_mutex_lock(&g->mu);
    if (g->n_members == g->cap_members) {
        size_t ncap = g->cap_members ? g->cap_members * 2 : 4;
        member **nm = chat_realloc(g->members, ncap * sizeof *nm);
        if (nm == NULL) {
            pthread_mutex_unlock(&g->mu);
            rv = chati_fail(CHAT_ERR_NOMEM, "inproc broker: out of memory");
            goto fail_group;
        }
        g->members = nm;
        g->cap_members = ncap;
    }
    g->members[g->n_members++] = m;
    m->g = g;
    group_recompute_linger(g);
    pthread_mutex_unlock(&g->mu);
    rv = group_recompute_topics(g);
    if (rv != CHAT_OK) {
        pthread_mutex_lock(&g->mu);
        g->n_members--;
        group_recompute_linger(g);
        pthread_mutex_unlock(&g->mu);
        goto fail_group;
    }
    if (created) {
        g->next = b->groups;
        b->groups = g;
    }
    pthread_cond_signal(&g->cv); /* queued messages may have been waiting for a member */
    pthread_mutex_unlock(&b->mu);
    *out = (chat_broker_consumer *)m;
    return CHAT_OK;

fail_group:
    if (created) {
        pthread_mutex_unlock(&b->mu);
        group_destroy(g, false);
        member_free(m);
        return rv;
    }
fail:
    pthread_mutex_unlock(&b->mu);
    member_free(m);
    return rv;
}

static chat_err inproc_subscribe(void *impl, const char *group_name,
                                 const char *const *topics, size_t n_topics, size_t max_batch,
                                 chat_broker_handler handler, void *arg,
                                 chat_broker_consumer **out)
{
    return inproc_subscribe_batched(impl, group_name, topics, n_topics, max_batch, 0, handler,
                                    arg, out);
}

/* Must not be called from the consumer's own handler (it waits for it). */
static void inproc_unsubscribe(void *impl, chat_broker_consumer *c)
{
    broker *b = impl;
    member *m = (member *)c;
    if (m == NULL)
        return;
    group *g = m->g;

    pthread_mutex_lock(&b->mu);
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n_members; i++) {
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1],
                    (g->n_members - i - 1) * sizeof *g->members);
            g->n_members--;
            break;
        }
    }
    if (g->retry_member == m) {
        g->retry_member = NULL;
        g->retry_n = 0;
    }
    g->rr = 0;
    group_recompute_linger(g);
    bool empty = g->n_members == 0;
    pthread_mutex_unlock(&g->mu);
    if (empty) {
        /* Publishers no longer see the group; what it holds is dropped below. */
        group **pp = &b->groups;
        while (*pp && *pp != g)
            pp = &(*pp)->next;
        if (*pp)
            *pp = g->next;
    } else {
        (void)group_recompute_topics(g); /* shrinking: cannot fail */
    }
    pthread_mutex_unlock(&b->mu);

    /* Wait for m's running handler, without broker.mu: it may publish. */
    pthread_mutex_lock(&g->mu);
    while (g->running == m)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);

    if (empty)
        group_destroy(g, false);
    member_free(m);
}

static chat_err inproc_flush(void *impl, int timeout_ms)
{
    broker *b = impl;
    int64_t deadline = timeout_ms >= 0 ? chati_mono_ms() + timeout_ms : 0;
    chat_err rv = CHAT_OK;

    pthread_mutex_lock(&b->mu);
    uint64_t target = b->next_seq - 1;
    /* Lingering dispatchers hand over what they hold now. */
    atomic_fetch_add(&b->flushing, 1);
    for (group *g = b->groups; g; g = g->next) {
        pthread_mutex_lock(&g->mu);
        if (g->linger_ms > 0)
            pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
    }
    while (b->inflight_head != NULL && b->inflight_head->seq <= target) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&b->flush_cv, &b->mu);
            continue;
        }
        if (!chati_cond_wait_until(&b->flush_cv, &b->mu, deadline) &&
            b->inflight_head != NULL && b->inflight_head->seq <= target) {
            rv = chati_fail(CHAT_ERR_TIMEOUT, "inproc broker: flush timed out");
            break;
        }
    }
    atomic_fetch_sub(&b->flushing, 1);
    pthread_mutex_unlock(&b->mu);
    return rv;
}

const chat_broker_ops chati_inproc_broker_ops = {
    .version = CHAT_BROKER_V2,
    .scheme = "inproc",
    .open = inproc_open,
    .close = inproc_close,
    .publish = inproc_publish,
    .subscribe = inproc_subscribe,
    .unsubscribe = inproc_unsubscribe,
    .flush = inproc_flush,
    .subscribe_batched = inproc_subscribe_batched,
};
