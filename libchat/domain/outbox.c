/* The outbox relay: one thread per context moving committed events from the
 * message store to the broker, in seq order, deleting them once acknowledged.
 * A store that several processes share (outbox_lease) has one active relay
 * at a time: the others stand by until its lease lapses. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "domain/outbox.h"

#include <pthread.h>

#define RELAY_BATCH 512
#define RETRY_MS 500
#define IDLE_MS 1000   /* the wait between passes with nothing to do */
#define LEASED_MS 100  /* the same for the lease holder: others' writes do not kick it */
#define STANDBY_MS 500 /* how often a standby asks for the lease */

struct chati_outbox {
    const chat_message_store_ops *store;
    void *store_impl;
    const chat_broker_ops *broker;
    void *broker_impl;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* relay: new items, acks, stop */
    pthread_cond_t idle;        /* flush waiters */
    bool stop;
    bool sleeping;              /* relay is in timed_wait: only then is a signal needed */
    uint64_t kick_epoch;        /* bumped by every kick */
    uint64_t idle_epoch;        /* kick epoch of the last pass that found nothing left */

    int64_t sent_seq;           /* highest seq handed to the broker */
    int64_t acked_seq;          /* every seq <= this is acknowledged */
    int64_t deleted_seq;        /* every seq <= this is deleted from the store */
    uint64_t generation;        /* bumped when a failure makes us resend */
    bool failed;
    bool leased;                /* the store has outbox_lease */
    bool holding;               /* and we held it at the last look */

    /* Seqs in flight, in publish order, with their ack state. */
    int64_t *pend;
    bool *done;
    size_t head, tail, cap;
};

static void on_ack(void *arg, int64_t seq, chat_err ok)
{
    chati_outbox *o = arg;
    pthread_mutex_lock(&o->mu);
    if (ok != CHAT_OK) {
        o->failed = true;
    } else {
        /* Binary search: pend[head..tail) is sorted because we publish in order. */
        size_t lo = o->head, hi = o->tail;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (o->pend[mid] < seq)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < o->tail && o->pend[lo] == seq)
            o->done[lo] = true;
        while (o->head < o->tail && o->done[o->head])
            o->acked_seq = o->pend[o->head++];
    }
    bool wake = o->sleeping;
    pthread_mutex_unlock(&o->mu);
    if (wake)
        pthread_cond_signal(&o->wake); /* after the unlock: no waking into a held lock */
}

static chat_err pend_reserve(chati_outbox *o, size_t extra)
{
    if (o->head > 0 && o->head == o->tail)
        o->head = o->tail = 0;
    if (o->tail + extra <= o->cap)
        return CHAT_OK;
    /* Compact first; grow only when the window itself is large. */
    size_t live = o->tail - o->head;
    if (live > 0 && o->head > 0) {
        memmove(o->pend, o->pend + o->head, live * sizeof *o->pend);
        memmove(o->done, o->done + o->head, live * sizeof *o->done);
    }
    o->head = 0;
    o->tail = live;
    if (live + extra <= o->cap)
        return CHAT_OK;
    size_t cap = (live + extra) * 2;
    int64_t *p = chat_realloc(o->pend, cap * sizeof *p);
    if (p == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "outbox window");
    o->pend = p;
    bool *d = chat_realloc(o->done, cap * sizeof *d);
    if (d == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "outbox window");
    o->done = d;
    o->cap = cap;
    return CHAT_OK;
}

/* Publishes one batch after sent_seq. Returns the number of items found. */
static size_t relay_batch(chati_outbox *o, int64_t after)
{
    chat_outbox_item *items = NULL;
    size_t n = 0;
    if (o->store->outbox_fetch(o->store_impl, after, RELAY_BATCH, &items, &n) != CHAT_OK ||
        n == 0)
        return 0;
    chat_broker_msg msgs[RELAY_BATCH];
    int64_t tags[RELAY_BATCH];
    for (size_t i = 0; i < n; i++) {
        msgs[i] = (chat_broker_msg){items[i].topic, items[i].key, items[i].data, items[i].len};
        tags[i] = items[i].seq;
    }
    pthread_mutex_lock(&o->mu);
    chat_err rv = pend_reserve(o, n);
    if (rv == CHAT_OK) {
        for (size_t i = 0; i < n; i++) {
            o->pend[o->tail] = tags[i];
            o->done[o->tail++] = false;
        }
        o->sent_seq = tags[n - 1];
    }
    pthread_mutex_unlock(&o->mu);
    if (rv == CHAT_OK &&
        o->broker->publish(o->broker_impl, msgs, n, tags, on_ack, o) != CHAT_OK) {
        pthread_mutex_lock(&o->mu);
        o->failed = true;
        pthread_mutex_unlock(&o->mu);
    }
    chat_outbox_items_free(items, n);
    return n;
}

static void timed_wait(chati_outbox *o, int ms)
{
    o->sleeping = true;
    chati_cond_wait_until(&o->wake, &o->mu, chati_mono_ms() + ms);
    o->sleeping = false;
}

/* Forgets what was in flight: the next pass fetches from the oldest
 * unacknowledged item (acks of the old flight that still come find nothing). */
static void restart(chati_outbox *o)
{
    o->head = o->tail = 0;
    o->sent_seq = o->acked_seq = o->deleted_seq = 0;
    o->failed = false;
    o->generation++;
}

/* Asks for the lease (mu held; dropped during the call). False: we stand
 * by, and the caller waits. */
static bool lease(chati_outbox *o)
{
    bool held = false;
    pthread_mutex_unlock(&o->mu);
    if (o->store->outbox_lease(o->store_impl, &held) != CHAT_OK)
        chati_clear_errmsg(); /* held says what we may do */
    pthread_mutex_lock(&o->mu);
    if (held != o->holding) {
        /* Taken: what the last holder sent but had not acknowledged goes
         * out again. Lost: what we sent is the new holder's to resend. */
        restart(o);
        o->holding = held;
    }
    if (!held) {
        /* Nothing of ours to flush: the holder relays what we wrote. */
        o->idle_epoch = o->kick_epoch;
        pthread_cond_broadcast(&o->idle);
    }
    return held;
}

static void *relay_main(void *arg)
{
    chati_thread_name("outbox-relay");
    chati_outbox *o = arg;
    uint64_t seen_epoch = 0;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        if (o->stop)
            break;
        if (o->leased && !lease(o)) {
            if (!o->stop)
                timed_wait(o, STANDBY_MS);
            continue;
        }
        if (o->failed) {
            /* Resend everything unacknowledged; consumers drop duplicates. */
            o->failed = false;
            o->generation++;
            o->head = o->tail = 0;
            o->sent_seq = o->acked_seq;
            timed_wait(o, RETRY_MS);
            continue;
        }
        uint64_t epoch = o->kick_epoch;
        int64_t after = o->sent_seq;
        int64_t acked = o->acked_seq, deleted = o->deleted_seq;
        pthread_mutex_unlock(&o->mu);

        if (acked > deleted && o->store->outbox_ack(o->store_impl, acked) == CHAT_OK)
            deleted = acked;
        size_t n = relay_batch(o, after);

        pthread_mutex_lock(&o->mu);
        if (deleted > o->deleted_seq)
            o->deleted_seq = deleted;
        if (n == RELAY_BATCH)
            continue; /* more waiting */
        if (n == 0 && o->head == o->tail && o->acked_seq == o->deleted_seq) {
            if (o->idle_epoch < epoch || seen_epoch != epoch) {
                o->idle_epoch = epoch;
                seen_epoch = epoch;
                pthread_cond_broadcast(&o->idle);
            }
        }
        if (o->kick_epoch == epoch && !o->stop && !o->failed &&
            !(o->acked_seq > o->deleted_seq))
            timed_wait(o, o->leased ? LEASED_MS : IDLE_MS); /* also retries leftovers */
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

chat_err chati_outbox_start(const chat_message_store_ops *store, void *store_impl,
                            const chat_broker_ops *broker, void *broker_impl,
                            chati_outbox **out)
{
    chati_outbox *o = chat_calloc(1, sizeof *o);
    if (o == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "outbox");
    o->store = store;
    o->store_impl = store_impl;
    o->broker = broker;
    o->broker_impl = broker_impl;
    o->kick_epoch = 1; /* the first pass publishes what a previous run left */
    o->leased = CHATI_HAS(store, outbox_lease, CHAT_STORE_V2);
    pthread_mutex_init(&o->mu, NULL);
    chati_cond_init(&o->wake);
    chati_cond_init(&o->idle);
    int e = pthread_create(&o->thread, NULL, relay_main, o);
    if (e != 0) {
        pthread_mutex_destroy(&o->mu);
        pthread_cond_destroy(&o->wake);
        pthread_cond_destroy(&o->idle);
        chat_free(o);
        return chati_fail(CHAT_ERR_INTERNAL, "outbox thread: %s", strerror(e));
    }
    *out = o;
    return CHAT_OK;
}

/* Once per posted message: the relay is signalled only when asleep, and
 * after the unlock, so a busy relay costs the poster no context switch. */
void chati_outbox_kick(chati_outbox *o)
{
    pthread_mutex_lock(&o->mu);
    o->kick_epoch++;
    bool wake = o->sleeping;
    pthread_mutex_unlock(&o->mu);
    if (wake)
        pthread_cond_signal(&o->wake);
}

chat_err chati_outbox_flush(chati_outbox *o, int timeout_ms)
{
    int64_t deadline = chati_mono_ms() + timeout_ms;
    pthread_mutex_lock(&o->mu);
    uint64_t want = ++o->kick_epoch;
    pthread_cond_signal(&o->wake);
    chat_err rv = CHAT_OK;
    while (o->idle_epoch < want) {
        if (!chati_cond_wait_until(&o->idle, &o->mu, deadline) && o->idle_epoch < want) {
            rv = chati_fail(CHAT_ERR_TIMEOUT, "outbox not drained in %d ms", timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&o->mu);
    return rv;
}

void chati_outbox_stop(chati_outbox *o)
{
    if (o == NULL)
        return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
}

void chati_outbox_free(chati_outbox *o)
{
    if (o == NULL)
        return;
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->wake);
    pthread_cond_destroy(&o->idle);
    chat_free(o->pend);
    chat_free(o->done);
    chat_free(o);
}
