/*
 * The RPC server: a REP socket with N nng contexts, each a small state
 * machine driven by its aio callback (receive -> queued -> send -> receive),
 * and a pool of threads that run the handler's serve().
 *
 * Handlers block (SQLite, argon2), and nng's aio callbacks run on nng's own
 * few threads, so a callback only asks the handler's triage() whether it can
 * answer at once (health, malformed requests, refusals while stopping) and
 * otherwise queues the request for a worker.
 * A context is owned by exactly one party at a time (nng, the queue, or the
 * worker that popped it), so slot fields need no lock; the server mutex
 * guards the queue and the counters.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/protocol/reqrep0/rep.h>

#include "rpc/rpc.h"

#define DEFAULT_DRAIN_MS 10000
#define MAX_THREADS 256
#define MAX_WORKERS 4096
#define DEFAULT_RECV_MAX (256u << 20)

typedef enum slot_state { SLOT_RECV, SLOT_QUEUED, SLOT_SEND, SLOT_DONE } slot_state;

typedef struct slot {
    chati_rpc_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    slot_state state;
    nng_msg *req;               /* while queued: the request */
    int64_t recv_us;            /* monotonic, when the request arrived */
    struct slot *next;          /* work queue link */
} slot;

struct chati_rpc_server {
    chati_rpc_server_opts opts;
    chati_rpc_handler h;
    nng_socket sock;
    bool sock_open;
    char url[320];

    slot *slots;
    int nslots;
    pthread_t *threads;
    int nthreads;               /* started */

    pthread_mutex_t mu;
    pthread_cond_t work_cv;     /* queue not empty, or closing */
    pthread_cond_t idle_cv;     /* inflight reached 0 (monotonic clock) */
    slot *qhead, *qtail;
    int inflight;               /* requests taken and not yet answered */
    int nng_calls;              /* our threads inside nng_ctx_send/recv right now */
    bool stopping;              /* refuse new requests */
    bool closing;               /* nothing re-arms; workers drop what is queued */
    _Atomic uint64_t served;
};

/* ---- the per-context state machine ---- */

/* Starts the slot's next nng operation, unless the server is closing (then
 * false, and the aio stays idle). The socket is closed only once no thread of
 * ours is inside nng_ctx_send/recv: nng 1.5.2 touches the socket after
 * completing the aio, which races a concurrent nng_close (seen as a panic on
 * a destroyed mutex). */
static bool slot_op(slot *w, bool send)
{
    chati_rpc_server *srv = w->srv;
    pthread_mutex_lock(&srv->mu);
    if (srv->closing) {
        w->state = SLOT_DONE;
        pthread_mutex_unlock(&srv->mu);
        return false;
    }
    srv->nng_calls++;
    pthread_mutex_unlock(&srv->mu);
    if (send)
        nng_ctx_send(w->ctx, w->aio);
    else
        nng_ctx_recv(w->ctx, w->aio);
    pthread_mutex_lock(&srv->mu);
    if (--srv->nng_calls == 0 && srv->closing)
        pthread_cond_broadcast(&srv->idle_cv);
    pthread_mutex_unlock(&srv->mu);
    return true;
}

/* The slot's request is answered (or dropped): count it and receive again,
 * unless the server is closing. */
static void slot_finish(slot *w)
{
    chati_rpc_server *srv = w->srv;
    atomic_fetch_add_explicit(&srv->served, 1, memory_order_relaxed);
    pthread_mutex_lock(&srv->mu);
    if (--srv->inflight == 0)
        pthread_cond_broadcast(&srv->idle_cv);
    w->state = SLOT_RECV;
    pthread_mutex_unlock(&srv->mu);
    slot_op(w, false);
}

/* Sends msg as the slot's reply; a NULL msg (no memory) drops the request,
 * which REP allows: the caller times out. */
static void slot_send(slot *w, nng_msg *msg)
{
    if (msg == NULL) {
        slot_finish(w);
        return;
    }
    w->state = SLOT_SEND;
    nng_aio_set_msg(w->aio, msg);
    if (!slot_op(w, true)) {
        nng_aio_set_msg(w->aio, NULL);
        nng_msg_free(msg);
        slot_finish(w);
    }
}

/* Queues the slot for a worker; false when the server is stopping (the
 * caller then refuses the request). */
static bool slot_queue(slot *w)
{
    chati_rpc_server *srv = w->srv;
    pthread_mutex_lock(&srv->mu);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->mu);
        return false;
    }
    w->state = SLOT_QUEUED;
    w->next = NULL;
    if (srv->qtail)
        srv->qtail->next = w;
    else
        srv->qhead = w;
    srv->qtail = w;
    pthread_cond_signal(&srv->work_cv);
    pthread_mutex_unlock(&srv->mu);
    return true;
}

/* Asks the handler to answer req now; drops it when it does not. Takes req. */
static void answer_here(slot *w, nng_msg *req, bool stopping)
{
    chati_rpc_server *srv = w->srv;
    nng_msg *reply = NULL;
    if (!srv->h.triage(srv->h.arg, req, stopping, &reply))
        reply = NULL;
    nng_msg_free(req);
    slot_send(w, reply);
}

static void slot_cb(void *arg)
{
    slot *w = arg;
    chati_rpc_server *srv = w->srv;
    int rv = nng_aio_result(w->aio);

    if (w->state == SLOT_SEND) {
        if (rv != 0) {
            /* The peer is gone or the socket closed: the reply is ours again. */
            nng_msg *m = nng_aio_get_msg(w->aio);
            if (m)
                nng_msg_free(m);
        }
        nng_aio_set_msg(w->aio, NULL);
        slot_finish(w);
        return;
    }

    /* SLOT_RECV */
    if (rv != 0) {
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            w->state = SLOT_DONE;
        else
            slot_op(w, false);  /* a transient failure: keep receiving */
        return;
    }
    nng_msg *msg = nng_aio_get_msg(w->aio);
    nng_aio_set_msg(w->aio, NULL);
    int64_t now = chati_mono_us();

    pthread_mutex_lock(&srv->mu);
    if (srv->closing) {
        w->state = SLOT_DONE;
        pthread_mutex_unlock(&srv->mu);
        nng_msg_free(msg);
        return;
    }
    srv->inflight++;
    bool stopping = srv->stopping;
    pthread_mutex_unlock(&srv->mu);

    w->recv_us = now;
    if (stopping) {
        answer_here(w, msg, true);
        return;
    }
    nng_msg *reply = NULL;
    if (srv->h.triage(srv->h.arg, msg, false, &reply)) {
        nng_msg_free(msg);
        slot_send(w, reply);
        return;
    }
    w->req = msg;
    if (slot_queue(w))
        return;
    /* Stopping since: the handler refuses it. */
    w->req = NULL;
    answer_here(w, msg, true);
}

/* ---- workers ---- */

static void handle(chati_rpc_server *srv, slot *w)
{
    nng_msg *req = w->req;
    w->req = NULL;
    nng_msg *reply = srv->h.serve(srv->h.arg, req, w->recv_us);
    nng_msg_free(req);
    slot_send(w, reply);
}

static void *worker_main(void *arg)
{
    chati_rpc_server *srv = arg;
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        while (srv->qhead == NULL && !srv->closing)
            pthread_cond_wait(&srv->work_cv, &srv->mu);
        slot *w = srv->qhead;
        if (w == NULL) {
            pthread_mutex_unlock(&srv->mu);
            return NULL;
        }
        if ((srv->qhead = w->next) == NULL)
            srv->qtail = NULL;
        bool closing = srv->closing;
        pthread_mutex_unlock(&srv->mu);
        if (closing) {
            /* Past the drain: drop it; the socket is closed, nobody waits. */
            if (w->req)
                nng_msg_free(w->req);
            w->req = NULL;
            slot_finish(w);
            continue;
        }
        handle(srv, w);
    }
}

/* ---- start / stop ---- */

/* Rewrites "tcp://host:0" (or tls+tcp) with the port the listener got. */
static void bound_url(chati_rpc_server *srv, const char *url, nng_listener l)
{
    snprintf(srv->url, sizeof srv->url, "%s", url);
    int port = 0;
    if ((strncmp(url, "tcp", 3) != 0 && strncmp(url, "tls+tcp", 7) != 0) ||
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
        return;
    const char *colon = strrchr(url, ':');
    const char *bracket = strrchr(url, ']');
    if (colon == NULL || (bracket && bracket > colon) || colon - url < 6)
        return;
    snprintf(srv->url, sizeof srv->url, "%.*s:%d", (int)(colon - url), url, port);
}

static void server_free(chati_rpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    srv->closing = true;
    pthread_cond_broadcast(&srv->work_cv);
    while (srv->nng_calls > 0)
        pthread_cond_wait(&srv->idle_cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    if (srv->sock_open)
        nng_close(srv->sock);
    for (int i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
    for (int i = 0; i < srv->nslots; i++) {
        slot *w = &srv->slots[i];
        if (w->aio) {
            nng_aio_stop(w->aio);
            nng_msg *m = nng_aio_get_msg(w->aio);
            if (m)
                nng_msg_free(m);
            nng_aio_free(w->aio);
        }
        if (w->req)
            nng_msg_free(w->req);
    }
    chat_free(srv->slots);
    chat_free(srv->threads);
    pthread_cond_destroy(&srv->work_cv);
    pthread_cond_destroy(&srv->idle_cv);
    pthread_mutex_destroy(&srv->mu);
    chat_free(srv);
}

static chat_err nng_fail(chat_err err, const char *what, const char *url, int rv)
{
    return chati_fail(err, "%s %s: %s", what, url, nng_strerror(rv));
}

chat_err chati_rpc_server_start(const char *listen_url, const chati_rpc_server_opts *opts,
                                const chati_rpc_handler *h, chati_rpc_server **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (listen_url == NULL || *listen_url == '\0' || opts == NULL || h == NULL ||
        h->triage == NULL || h->serve == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "rpc server needs a URL, options and a handler");
    int workers = opts->workers;
    if (workers < 1 || workers > MAX_WORKERS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc workers must be 1..%d, not %d",
                          MAX_WORKERS, workers);
    if (opts->threads < 1 || opts->threads > MAX_THREADS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc threads must be 1..%d, not %d",
                          MAX_THREADS, opts->threads);
    chati_rpc_server *srv = chat_calloc(1, sizeof *srv);
    if (srv == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rpc server");
    srv->opts = *opts;
    srv->h = *h;
    if (srv->opts.drain_ms <= 0)
        srv->opts.drain_ms = DEFAULT_DRAIN_MS;
    if (srv->opts.recv_max == 0)
        srv->opts.recv_max = DEFAULT_RECV_MAX;
    atomic_init(&srv->served, 0);

    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->work_cv, NULL);
    chati_cond_init(&srv->idle_cv);

    chat_err err = CHAT_OK;
    int rv;
    srv->slots = chat_calloc((size_t)workers, sizeof *srv->slots);
    srv->threads = chat_calloc((size_t)srv->opts.threads, sizeof *srv->threads);
    if (srv->slots == NULL || srv->threads == NULL) {
        err = chati_fail(CHAT_ERR_NOMEM, "rpc server");
        goto fail;
    }
    if ((rv = nng_rep0_open(&srv->sock)) != 0) {
        err = nng_fail(CHAT_ERR_INTERNAL, "rep socket for", listen_url, rv);
        goto fail;
    }
    srv->sock_open = true;
    nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, srv->opts.recv_max);

    srv->nslots = workers;
    for (int i = 0; i < workers; i++) {
        slot *w = &srv->slots[i];
        w->srv = srv;
        if ((rv = nng_aio_alloc(&w->aio, slot_cb, w)) != 0 ||
            (rv = nng_ctx_open(&w->ctx, srv->sock)) != 0) {
            err = nng_fail(CHAT_ERR_NOMEM, "rpc context for", listen_url, rv);
            goto fail;
        }
    }
    for (int i = 0; i < srv->opts.threads; i++) {
        if ((rv = pthread_create(&srv->threads[i], NULL, worker_main, srv)) != 0) {
            err = chati_fail(CHAT_ERR_INTERNAL, "rpc worker thread: %s", strerror(rv));
            goto fail;
        }
        srv->nthreads++;
    }
    nng_listener l;
    nng_tls_config *tls = NULL;
    if (chati_rpc_url_is_tls(listen_url) &&
        (err = chati_rpc_tls_config(opts->tls, true, listen_url, &tls)) != CHAT_OK)
        goto fail;
    if ((rv = nng_listener_create(&l, srv->sock, listen_url)) == 0 &&
        (tls == NULL || (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls)) == 0))
        rv = nng_listener_start(l, 0);
    if (tls)
        nng_tls_config_free(tls); /* the listener holds its own reference */
    if (rv != 0) {
        err = nng_fail(rv == NNG_EADDRINUSE ? CHAT_ERR_SERVICE_UNAVAILABLE
                       : (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL)
                           ? CHAT_ERR_INVALID_CONFIG
                           : CHAT_ERR_SERVICE_UNAVAILABLE,
                       "listen on", listen_url, rv);
        goto fail;
    }
    bound_url(srv, listen_url, l);
    for (int i = 0; i < workers; i++) {
        srv->slots[i].state = SLOT_RECV;
        slot_op(&srv->slots[i], false);
    }
    *out = srv;
    return CHAT_OK;

fail:
    server_free(srv);
    return err;
}

const char *chati_rpc_server_url(const chati_rpc_server *srv)
{
    return srv ? srv->url : "";
}

uint64_t chati_rpc_server_served(const chati_rpc_server *srv)
{
    return srv ? atomic_load_explicit(&srv->served, memory_order_relaxed) : 0;
}

void chati_rpc_server_stop(chati_rpc_server *srv)
{
    if (srv == NULL)
        return;
    int64_t until = chati_mono_ms() + srv->opts.drain_ms;
    pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    while (srv->inflight > 0)
        if (!chati_cond_wait_until(&srv->idle_cv, &srv->mu, until))
            break;
    pthread_mutex_unlock(&srv->mu);
    server_free(srv);
}
