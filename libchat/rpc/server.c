/*
 * The RPC server: a REP socket with N nng contexts, each a small state
 * machine driven by its aio callback (receive -> queued -> send -> receive),
 * and a pool of threads that run the handlers.
 *
 * Handlers block (SQLite, argon2), and nng's aio callbacks run on nng's own
 * few threads, so a callback only reads the frame's method id and queues the
 * frame; a worker unpacks and runs it. Health, malformed frames and refusals
 * while stopping are answered in the callback.
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
#include <nng/protocol/reqrep0/rep.h>

#include "domain/ctx.h"
#include "rpc.pb-c.h"
#include "rpc/server.h"

#define DEFAULT_DRAIN_MS 10000
#define MAX_THREADS 256
/* Largest frame accepted: a file upload travels in one request. */
#define MIN_RECV_MAX (256u << 20)

typedef enum slot_state { SLOT_RECV, SLOT_QUEUED, SLOT_SEND, SLOT_DONE } slot_state;

typedef struct slot {
    chati_rpc_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    slot_state state;
    nng_msg *raw;               /* while queued: the frame, unpacked by the worker */
    Chat__Rpc__Request *req;    /* or, when the callback had to unpack it, the request */
    int64_t recv_us;            /* monotonic, when the request arrived */
    struct slot *next;          /* work queue link */
} slot;

struct chati_rpc_server {
    chat_ctx *ctx;
    chati_rpc_server_opts opts;
    nng_socket sock;
    bool sock_open;
    char url[320];
    bool debug;

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

static const uint8_t empty_bytes[1];

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- health descriptors (shared with the client side) ---- */

#define HEALTH_ROW(svc)                                                                    \
    {CHATI_RPC_HEALTH, "health", svc, CHATI_M_NO_AUTH, &chat__rpc__empty__descriptor,      \
     &chat__rpc__empty__descriptor, NULL}
static const chati_method health_methods[CHATI_SVC__COUNT] = {
    HEALTH_ROW(CHATI_SVC_AUTH),    HEALTH_ROW(CHATI_SVC_USER),     HEALTH_ROW(CHATI_SVC_CHANNEL),
    HEALTH_ROW(CHATI_SVC_MESSAGE), HEALTH_ROW(CHATI_SVC_PRESENCE),
};

const chati_method *chati_rpc_health_method(chati_service svc)
{
    return (unsigned)svc < CHATI_SVC__COUNT ? &health_methods[svc] : NULL;
}

/* ---- frames ---- */

/* Packs head followed by field `body_field` holding body (may be NULL) into a
 * new nng message: the body is packed straight into the message, not into a
 * bytes field first. Legal protobuf: fields may come in any order. */
int chati_rpc_frame(const ProtobufCMessage *head, unsigned body_field,
                    const ProtobufCMessage *body, struct nng_msg **out)
{
    size_t hn = protobuf_c_message_get_packed_size(head);
    size_t bn = body ? protobuf_c_message_get_packed_size(body) : 0;
    uint8_t tag[12];
    size_t tn = 0;
    if (bn > 0) {
        tag[tn++] = (uint8_t)(body_field << 3 | 2);   /* length-delimited */
        for (uint64_t v = bn;; v >>= 7) {
            if (v < 0x80) {
                tag[tn++] = (uint8_t)v;
                break;
            }
            tag[tn++] = (uint8_t)(v | 0x80);
        }
    }
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, hn + tn + bn);
    if (rv != 0)
        return rv;
    uint8_t *p = nng_msg_body(msg);
    protobuf_c_message_pack(head, p);
    if (bn > 0) {
        memcpy(p + hn, tag, tn);
        protobuf_c_message_pack(body, p + hn + tn);
    }
    *out = msg;
    return 0;
}

/* A reply frame; NULL when memory runs out. */
static nng_msg *make_reply(uint64_t request_id, chat_err err, const char *detail,
                           const ProtobufCMessage *body, bool retryable)
{
    Chat__Rpc__Reply r = CHAT__RPC__REPLY__INIT;
    r.request_id = request_id;
    /* protobuf-c only reads these strings. */
    r.error = (char *)(err == CHAT_OK ? "" : chat_err_name(err));
    r.detail = (char *)(err == CHAT_OK || detail == NULL ? "" : detail);
    r.retryable = retryable;
    nng_msg *msg = NULL;
    if (chati_rpc_frame(&r.base, 4, err == CHAT_OK ? body : NULL, &msg) != 0)
        return NULL;
    return msg;
}

static void log_request(chati_rpc_server *srv, const char *name, uint32_t id, int64_t recv_us,
                        chat_err err, const char *detail)
{
    if (!srv->debug)
        return;
    double ms = (double)(mono_us() - recv_us) / 1000.0;
    char idbuf[24];
    if (name == NULL) {
        snprintf(idbuf, sizeof idbuf, "#%u", id);
        name = idbuf;
    }
    fprintf(stderr, "chat-rpc: %s %.2f ms %s%s%s\n", name, ms, chat_err_name(err),
            err != CHAT_OK && detail && *detail ? ": " : "",
            err != CHAT_OK && detail ? detail : "");
}

/* The method id of a frame without unpacking it: protobuf-c writes fields in
 * number order, so a non-zero `method` (field 1, varint) comes first. false
 * when the frame does not start that way (health, where method 0 is omitted,
 * or another encoder): then it is unpacked to find out. */
static bool peek_method(nng_msg *msg, uint32_t *method)
{
    const uint8_t *p = nng_msg_body(msg);
    size_t n = nng_msg_len(msg);
    if (n < 2 || p[0] != 0x08)
        return false;
    uint64_t v = 0;
    for (size_t i = 1; i < n && i < 6; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * (i - 1));
        if (!(p[i] & 0x80)) {
            *method = (uint32_t)v;
            return v != 0 && v <= UINT32_MAX;
        }
    }
    return false;
}

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

static bool stopping(chati_rpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    bool v = srv->stopping;
    pthread_mutex_unlock(&srv->mu);
    return v;
}

/* Answers what needs no handler: health, a malformed frame, a refusal while
 * stopping. Takes rq (may be NULL: malformed). */
static void answer_here(slot *w, Chat__Rpc__Request *rq, int64_t recv_us)
{
    chati_rpc_server *srv = w->srv;
    nng_msg *reply;
    if (rq == NULL) {
        reply = make_reply(0, CHAT_ERR_INVALID_ARGUMENTS, "malformed RPC frame", NULL, false);
        log_request(srv, "(malformed)", 0, recv_us, CHAT_ERR_INVALID_ARGUMENTS, NULL);
    } else if (rq->method == CHATI_RPC_HEALTH && !stopping(srv)) {
        Chat__Rpc__Empty empty = CHAT__RPC__EMPTY__INIT;
        reply = make_reply(rq->request_id, CHAT_OK, NULL, &empty.base, false);
        log_request(srv, "health", 0, recv_us, CHAT_OK, NULL);
    } else {
        /* Not run: another server may take it. */
        reply = make_reply(rq->request_id, CHAT_ERR_SERVICE_UNAVAILABLE,
                           "the server is stopping", NULL, true);
        log_request(srv, rq->method == CHATI_RPC_HEALTH ? "health" : NULL, rq->method, recv_us,
                    CHAT_ERR_SERVICE_UNAVAILABLE, "stopping");
    }
    if (rq)
        chat__rpc__request__free_unpacked(rq, NULL);
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
    int64_t now = mono_us();

    pthread_mutex_lock(&srv->mu);
    if (srv->closing) {
        w->state = SLOT_DONE;
        pthread_mutex_unlock(&srv->mu);
        nng_msg_free(msg);
        return;
    }
    srv->inflight++;
    pthread_mutex_unlock(&srv->mu);

    w->recv_us = now;
    uint32_t method;
    if (peek_method(msg, &method)) {
        /* The common case: a worker unpacks it, off nng's threads. */
        w->raw = msg;
        if (slot_queue(w))
            return;
        w->raw = NULL;
    }
    Chat__Rpc__Request *rq = chat__rpc__request__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    if (rq != NULL && rq->method != CHATI_RPC_HEALTH) {
        w->req = rq;
        if (slot_queue(w))
            return;
        w->req = NULL;
    }
    answer_here(w, rq, now);
}

/* ---- workers ---- */

static bool fits_id(const char *s)
{
    return s == NULL || strlen(s) < CHAT_ID_SIZE;
}

static chat_err run_method(chati_rpc_server *srv, const chati_method *m,
                           const Chat__Rpc__Request *rq, ProtobufCMessage **resp)
{
    chat_session *s = NULL;
    if (rq->user_id && rq->user_id[0]) {
        if (!fits_id(rq->user_id) || !fits_id(rq->team_id))
            return chati_fail(CHAT_ERR_INVALID_AUTH, "session ids in the request are too long");
        if ((s = chati_session_make(rq->user_id, rq->team_id, rq->is_admin)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "session");
    } else if (!(m->flags & CHATI_M_NO_AUTH)) {
        return chati_fail(CHAT_ERR_NOT_AUTHED, "%s needs a session", m->name);
    }
    ProtobufCMessage *req = protobuf_c_message_unpack(
        m->req, NULL, rq->body.len, rq->body.data ? rq->body.data : empty_bytes);
    chat_err rv;
    if (req == NULL) {
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "malformed %s request body", m->name);
    } else if (srv->opts.call != NULL) {
        rv = srv->opts.call(srv->opts.call_arg, srv->ctx, m, s, req, resp);
    } else {
        rv = chati_method_call(srv->ctx, m, s, req, resp);
    }
    if (rv != CHAT_OK && *resp != NULL) {
        protobuf_c_message_free_unpacked(*resp, NULL);
        *resp = NULL;
    }
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
    chat_session_free(s);
    return rv;
}

static void handle(chati_rpc_server *srv, slot *w)
{
    Chat__Rpc__Request *rq = w->req;
    w->req = NULL;
    if (rq == NULL && w->raw != NULL) {
        rq = chat__rpc__request__unpack(NULL, nng_msg_len(w->raw), nng_msg_body(w->raw));
        nng_msg_free(w->raw);
        w->raw = NULL;
        if (rq == NULL || rq->method == CHATI_RPC_HEALTH) {
            answer_here(w, rq, w->recv_us);
            return;
        }
    }
    const chati_method *m = chati_method_by_id(rq->method);
    ProtobufCMessage *resp = NULL;
    chat_err rv;
    chati_clear_errmsg();
    int64_t waited_ms = (mono_us() - w->recv_us) / 1000;
    if (rq->timeout_ms > 0 && waited_ms >= (int64_t)rq->timeout_ms)
        rv = chati_fail(CHAT_ERR_TIMEOUT,
                        "not started: waited %lld ms in the server's queue (timeout %u ms)",
                        (long long)waited_ms, rq->timeout_ms);
    else if (m == NULL)
        rv = chati_fail(CHAT_ERR_UNKNOWN_METHOD, "unknown method id %u", rq->method);
    else
        rv = run_method(srv, m, rq, &resp);
    const char *detail = rv == CHAT_OK ? NULL : chati_errmsg();
    nng_msg *reply = make_reply(rq->request_id, rv, detail, resp, false);
    log_request(srv, m ? m->name : NULL, rq->method, w->recv_us, rv, detail);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    chat__rpc__request__free_unpacked(rq, NULL);
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
                chat__rpc__request__free_unpacked(w->req, NULL);
            if (w->raw)
                nng_msg_free(w->raw);
            w->req = NULL;
            w->raw = NULL;
            slot_finish(w);
            continue;
        }
        handle(srv, w);
    }
}

/* ---- start / stop ---- */

static int default_threads(const chat_ctx *ctx, int workers)
{
    const char *v = ctx->cfg ? chat_config_get(ctx->cfg, "server.rpc_threads") : NULL;
    long n = 0;
    if (v && *v)
        n = strtol(v, NULL, 10);
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? 4 * cpus : 8;
        if (n < 8)
            n = 8;
    }
    if (n > workers)
        n = workers;
    return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Rewrites "tcp://host:0" with the port the listener got. */
static void bound_url(chati_rpc_server *srv, const char *url, nng_listener l)
{
    snprintf(srv->url, sizeof srv->url, "%s", url);
    int port = 0;
    if (strncmp(url, "tcp", 3) != 0 || nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
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
            chat__rpc__request__free_unpacked(w->req, NULL);
        if (w->raw)
            nng_msg_free(w->raw);
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

chat_err chati_rpc_server_start_opts(chat_ctx *ctx, const char *listen_url, int workers,
                                     const chati_rpc_server_opts *opts,
                                     chati_rpc_server **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (ctx == NULL || listen_url == NULL || *listen_url == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc server needs a context and a URL");
    if (workers < 1 || workers > 4096)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc workers must be 1..4096, not %d",
                          workers);
    chati_rpc_server *srv = chat_calloc(1, sizeof *srv);
    if (srv == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rpc server");
    srv->ctx = ctx;
    if (opts)
        srv->opts = *opts;
    if (srv->opts.threads <= 0)
        srv->opts.threads = default_threads(ctx, workers);
    if (srv->opts.threads > MAX_THREADS)
        srv->opts.threads = MAX_THREADS;
    if (srv->opts.drain_ms <= 0)
        srv->opts.drain_ms = DEFAULT_DRAIN_MS;
    const char *lvl = getenv("CHAT_LOG_LEVEL");
    srv->debug = lvl && strcasecmp(lvl, "debug") == 0;
    atomic_init(&srv->served, 0);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->work_cv, NULL);
    pthread_cond_init(&srv->idle_cv, &ca);
    pthread_condattr_destroy(&ca);

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
    size_t maxsz = MIN_RECV_MAX;
    if (ctx->files_max_bytes > 0 && (uint64_t)ctx->files_max_bytes + (1u << 20) > maxsz)
        maxsz = (size_t)ctx->files_max_bytes + (1u << 20);
    nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, maxsz);

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
    if ((rv = nng_listen(srv->sock, listen_url, &l, 0)) != 0) {
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

chat_err chati_rpc_server_start(chat_ctx *ctx, const char *listen_url, int workers,
                                chati_rpc_server **out)
{
    return chati_rpc_server_start_opts(ctx, listen_url, workers, NULL, out);
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
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += srv->opts.drain_ms / 1000;
    until.tv_nsec += (long)(srv->opts.drain_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    while (srv->inflight > 0)
        if (pthread_cond_timedwait(&srv->idle_cv, &srv->mu, &until) == ETIMEDOUT)
            break;
    if (srv->inflight > 0 && srv->debug)
        fprintf(stderr, "chat-rpc: stopping %s with %d requests unanswered\n", srv->url,
                srv->inflight);
    pthread_mutex_unlock(&srv->mu);
    server_free(srv);
}
