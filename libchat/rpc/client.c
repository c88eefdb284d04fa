/*
 * The nng RPC service client: one REQ socket per service, dialing every
 * address of that service; one nng context per call in flight (pooled).
 *
 * nng's REQ resends a request after NNG_OPT_REQ_RESENDTIME (60 s by default)
 * and, when a connection drops, on another connection at once. Both could run
 * a method twice, so resending is off: a call whose connection drops ends
 * with NNG_ECONNRESET, reported as service_unavailable. A request sent while
 * no connection exists would wait silently for one until its timeout, so the
 * client counts live connections (pipe events) and gives up early when none
 * comes up within a short grace.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "domain/ctx.h"
#include "rpc.pb-c.h"
#include "rpc/server.h"

#define DEFAULT_TIMEOUT_MS 10000
/* How long a call waits for a first connection before service_unavailable. */
#define CONNECT_GRACE_MS 300
/* Discovery is asked again this often, or after this when nothing connects. */
#define REFRESH_MS 5000
#define REFRESH_DOWN_MS 1000
#define RECV_MAX (256u << 20)

typedef struct call_slot {
    nng_ctx ctx;
    nng_aio *aio;
    struct call_slot *next;
} call_slot;

typedef struct peer {
    struct rpc_client *cl;
    chati_service svc;
    pthread_mutex_t mu;
    pthread_cond_t pipe_cv;     /* a connection came up (monotonic clock) */
    bool open;
    bool from_discovery;
    bool refreshing;
    int64_t looked_up_ms;
    nng_socket sock;
    char **urls;                /* dialed */
    size_t nurls, capurls;
    uint32_t *pipes;            /* live connection ids */
    size_t npipes, cappipes;
    call_slot *free_slots;
} peer;

typedef struct rpc_client {
    chat_ctx *ctx;
    _Atomic uint64_t next_id;
    peer peers[CHATI_SVC__COUNT];
} rpc_client;

static const uint8_t empty_bytes[1];

static void deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
    /* chati_mono_ms() is CLOCK_MONOTONIC in milliseconds. */
    ts->tv_sec = deadline_ms / 1000;
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

/* ---- addresses ---- */

typedef struct addrs {
    char **v;
    size_t n;
} addrs;

static void addrs_free(addrs *a)
{
    for (size_t i = 0; i < a->n; i++)
        chat_free(a->v[i]);
    chat_free(a->v);
    a->v = NULL;
    a->n = 0;
}

static chat_err addrs_add(addrs *a, const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return CHAT_OK;
    char **v = chat_realloc(a->v, (a->n + 1) * sizeof *v);
    if (v == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "addresses");
    a->v = v;
    if ((v[a->n] = chat_strndup(s, len)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "addresses");
    a->n++;
    return CHAT_OK;
}

/* The addresses of svc: config "rpc.<name>" (comma-separated), else discovery. */
static chat_err resolve(rpc_client *cl, chati_service svc, addrs *out, bool *from_discovery)
{
    const char *name = chati_service_name(svc);
    char key[64];
    snprintf(key, sizeof key, "rpc.%s", name);
    const char *v = cl->ctx->cfg ? chat_config_get(cl->ctx->cfg, key) : NULL;
    out->v = NULL;
    out->n = 0;
    *from_discovery = false;
    chat_err rv = CHAT_OK;
    if (v && *v) {
        for (const char *p = v; rv == CHAT_OK;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            rv = addrs_add(out, p, len);
            if (comma == NULL)
                break;
            p = comma + 1;
        }
    } else if (cl->ctx->discovery && CHATI_HAS(cl->ctx->discovery, lookup, CHAT_DISCOVERY_V1)) {
        *from_discovery = true;
        chat_list *l = NULL;
        rv = cl->ctx->discovery->lookup(cl->ctx->discovery_impl, name, &l);
        if (rv != CHAT_OK) {
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "discovery lookup of %s failed: %s",
                            name, chati_errmsg());
        } else {
            for (size_t i = 0; rv == CHAT_OK && i < chat_list_count(l); i++) {
                const char *s = chat_list_string(l, i);
                if (s)
                    rv = addrs_add(out, s, strlen(s));
            }
        }
        chat_list_free(l);
    }
    if (rv != CHAT_OK)
        addrs_free(out);
    return rv;
}

/* ---- connections ---- */

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    peer *pr = arg;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    pthread_mutex_lock(&pr->mu);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        if (pr->npipes == pr->cappipes) {
            size_t cap = pr->cappipes ? 2 * pr->cappipes : 8;
            uint32_t *v = chat_realloc(pr->pipes, cap * sizeof *v);
            if (v == NULL) {
                /* Uncounted, the connection still works; only the early
                 * unavailable verdict may come wrongly. */
                pthread_mutex_unlock(&pr->mu);
                return;
            }
            pr->pipes = v;
            pr->cappipes = cap;
        }
        pr->pipes[pr->npipes++] = id;
        pthread_cond_broadcast(&pr->pipe_cv);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        for (size_t i = 0; i < pr->npipes; i++)
            if (pr->pipes[i] == id) {
                pr->pipes[i] = pr->pipes[--pr->npipes];
                break;
            }
    }
    pthread_mutex_unlock(&pr->mu);
}

static bool dialed(const peer *pr, const char *url)
{
    for (size_t i = 0; i < pr->nurls; i++)
        if (strcmp(pr->urls[i], url) == 0)
            return true;
    return false;
}

/* Dials url (in the background: nng connects and reconnects by itself) and
 * records it. Called with pr->mu held: a non-blocking dial does not wait for
 * the pipe callbacks that take the lock. */
static int dial_locked(peer *pr, const char *url)
{
    if (dialed(pr, url))
        return 0;
    if (pr->nurls == pr->capurls) {
        size_t cap = pr->capurls ? 2 * pr->capurls : 4;
        char **v = chat_realloc(pr->urls, cap * sizeof *v);
        if (v == NULL)
            return NNG_ENOMEM;
        pr->urls = v;
        pr->capurls = cap;
    }
    char *copy = chat_strdup(url);
    if (copy == NULL)
        return NNG_ENOMEM;
    int rv = nng_dial(pr->sock, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        chat_free(copy);
        return rv;
    }
    pr->urls[pr->nurls++] = copy;
    return 0;
}

/* Opens the socket of svc on first use. Called with pr->mu held. */
static chat_err peer_open_locked(rpc_client *cl, peer *pr)
{
    const char *name = chati_service_name(pr->svc);
    addrs a;
    bool disc;
    chat_err rv = resolve(cl, pr->svc, &a, &disc);
    if (rv != CHAT_OK)
        return rv;
    if (a.n == 0)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                          "no address for the %s service (set rpc.%s or run discovery)", name,
                          name);
    int e;
    if ((e = nng_req0_open(&pr->sock)) != 0) {
        addrs_free(&a);
        return chati_fail(CHAT_ERR_INTERNAL, "req socket: %s", nng_strerror(e));
    }
    /* At most once: never resend (see the top of this file). */
    nng_socket_set_ms(pr->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(pr->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(pr->sock, NNG_OPT_RECONNMAXT, 1000);
    nng_socket_set_size(pr->sock, NNG_OPT_RECVMAXSZ, RECV_MAX);
    nng_pipe_notify(pr->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, pr);
    nng_pipe_notify(pr->sock, NNG_PIPE_EV_REM_POST, pipe_cb, pr);
    char first_err[160] = "";
    for (size_t i = 0; i < a.n; i++)
        if ((e = dial_locked(pr, a.v[i])) != 0 && first_err[0] == '\0')
            snprintf(first_err, sizeof first_err, "%s: %s", a.v[i], nng_strerror(e));
    addrs_free(&a);
    if (pr->nurls == 0) {
        /* Closing runs no pipe callback: nothing ever connected. */
        nng_close(pr->sock);
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "cannot dial the %s service: %s", name,
                          first_err);
    }
    pr->open = true;
    pr->from_discovery = disc;
    pr->looked_up_ms = chati_mono_ms();
    return CHAT_OK;
}

/* Asks discovery again and dials addresses not seen before. Addresses that
 * disappear stay dialed: nng keeps retrying them quietly. */
static void peer_refresh(rpc_client *cl, peer *pr)
{
    addrs a;
    bool disc;
    chat_err rv = resolve(cl, pr->svc, &a, &disc);
    pthread_mutex_lock(&pr->mu);
    if (rv == CHAT_OK)
        for (size_t i = 0; i < a.n; i++)
            dial_locked(pr, a.v[i]);
    pr->looked_up_ms = chati_mono_ms();
    pr->refreshing = false;
    pthread_mutex_unlock(&pr->mu);
    if (rv == CHAT_OK)
        addrs_free(&a);
}

/* The open peer of svc; with *pipes the live connection count right now. */
static chat_err peer_get(rpc_client *cl, chati_service svc, peer **out, size_t *pipes)
{
    peer *pr = &cl->peers[svc];
    chat_err rv = CHAT_OK;
    bool refresh = false;
    pthread_mutex_lock(&pr->mu);
    if (!pr->open)
        rv = peer_open_locked(cl, pr);
    if (rv == CHAT_OK && pr->from_discovery && !pr->refreshing) {
        int64_t age = chati_mono_ms() - pr->looked_up_ms;
        if (age >= REFRESH_MS || (pr->npipes == 0 && age >= REFRESH_DOWN_MS))
            refresh = pr->refreshing = true;
    }
    *pipes = pr->npipes;
    pthread_mutex_unlock(&pr->mu);
    if (refresh)
        peer_refresh(cl, pr);
    *out = pr;
    return rv;
}

/* Waits until a connection is up or until deadline_ms; the count then. */
static size_t wait_pipe(peer *pr, int64_t deadline_ms)
{
    struct timespec ts;
    deadline_ts(deadline_ms, &ts);
    pthread_mutex_lock(&pr->mu);
    while (pr->npipes == 0)
        if (pthread_cond_timedwait(&pr->pipe_cv, &pr->mu, &ts) == ETIMEDOUT)
            break;
    size_t n = pr->npipes;
    pthread_mutex_unlock(&pr->mu);
    return n;
}

static size_t live_pipes(peer *pr)
{
    pthread_mutex_lock(&pr->mu);
    size_t n = pr->npipes;
    pthread_mutex_unlock(&pr->mu);
    return n;
}

static void slot_free(call_slot *cs)
{
    if (cs == NULL)
        return;
    nng_ctx_close(cs->ctx);
    nng_aio_free(cs->aio);
    chat_free(cs);
}

static call_slot *slot_get(peer *pr)
{
    pthread_mutex_lock(&pr->mu);
    call_slot *cs = pr->free_slots;
    if (cs)
        pr->free_slots = cs->next;
    pthread_mutex_unlock(&pr->mu);
    if (cs)
        return cs;
    if ((cs = chat_calloc(1, sizeof *cs)) == NULL)
        return NULL;
    if (nng_aio_alloc(&cs->aio, NULL, NULL) != 0) {
        chat_free(cs);
        return NULL;
    }
    if (nng_ctx_open(&cs->ctx, pr->sock) != 0) {
        nng_aio_free(cs->aio);
        chat_free(cs);
        return NULL;
    }
    return cs;
}

/* A context that ended a call cleanly goes back to the pool; one that timed
 * out or failed is closed, so nothing of its request can linger. */
static void slot_put(peer *pr, call_slot *cs, bool reuse)
{
    if (!reuse) {
        slot_free(cs);
        return;
    }
    pthread_mutex_lock(&pr->mu);
    cs->next = pr->free_slots;
    pr->free_slots = cs;
    pthread_mutex_unlock(&pr->mu);
}

/* ---- a call ---- */

static chat_err pack_request(const chati_method *m, const chat_session *s,
                             const ProtobufCMessage *req, uint64_t id, int64_t timeout_ms,
                             nng_msg **out)
{
    Chat__Rpc__Request r = CHAT__RPC__REQUEST__INIT;
    r.method = m->id;
    r.request_id = id;
    /* 0 would mean "no limit". */
    r.timeout_ms = timeout_ms < 1 ? 1 : timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)timeout_ms;
    if (s != NULL) {
        /* protobuf-c only reads these. */
        r.user_id = (char *)s->user_id;
        r.team_id = (char *)s->team_id;
        r.is_admin = s->is_admin;
    }
    nng_msg *msg;
    if (chati_rpc_frame(&r.base, 7, req, &msg) != 0)
        return chati_fail(CHAT_ERR_NOMEM, "request");
    *out = msg;
    return CHAT_OK;
}

static chat_err unpack_reply(const chati_method *m, nng_msg *msg, uint64_t id,
                             ProtobufCMessage **resp, bool *retryable)
{
    const char *name = chati_service_name(m->service);
    Chat__Rpc__Reply *rep = chat__rpc__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    if (rep == NULL)
        return chati_fail(CHAT_ERR_INTERNAL, "malformed RPC reply from the %s service", name);
    chat_err rv = CHAT_OK;
    *retryable = rep->retryable;
    if (rep->error && rep->error[0]) {
        rv = chat_err_from_name(rep->error);
        const char *detail = rep->detail ? rep->detail : "";
        if (rv == CHAT_OK)
            rv = CHAT_ERR_INTERNAL;
        if (rv == CHAT_ERR_INTERNAL && strcmp(rep->error, "internal_error") != 0)
            chati_fail(rv, "%s: %s", rep->error, detail);    /* a newer server's code */
        else
            chati_fail(rv, "%s", detail);
    } else if (rep->request_id != id) {
        rv = chati_fail(CHAT_ERR_INTERNAL, "%s reply for request %llu, expected %llu", m->name,
                        (unsigned long long)rep->request_id, (unsigned long long)id);
    } else {
        *resp = protobuf_c_message_unpack(m->resp, NULL, rep->body.len,
                                          rep->body.data ? rep->body.data : empty_bytes);
        if (*resp == NULL)
            rv = chati_fail(CHAT_ERR_INTERNAL, "malformed %s response from the %s service",
                            m->name, name);
    }
    chat__rpc__reply__free_unpacked(rep, NULL);
    return rv;
}

/* One request and its reply on one context. *retryable: the server says it
 * did not run the method. */
static chat_err round_trip(rpc_client *cl, peer *pr, const chati_method *m,
                           const chat_session *s, const ProtobufCMessage *req, int64_t deadline,
                           int timeout_ms, ProtobufCMessage **resp, bool *retryable)
{
    const char *name = chati_service_name(m->service);
    *retryable = false;
    uint64_t id = atomic_fetch_add_explicit(&cl->next_id, 1, memory_order_relaxed);
    nng_msg *msg = NULL;
    chat_err rv = pack_request(m, s, req, id, deadline - chati_mono_ms(), &msg);
    if (rv != CHAT_OK)
        return rv;
    call_slot *cs = slot_get(pr);
    if (cs == NULL) {
        nng_msg_free(msg);
        return chati_fail(CHAT_ERR_NOMEM, "rpc context");
    }

    /* Send: completes once a connection has taken the request. It waits when
     * none is ready, so wait in steps and give up once none is alive (the
     * count may lag behind a connection that just dropped). */
    int64_t left;
    int e;
    nng_aio_set_msg(cs->aio, msg);
    for (;;) {
        left = deadline - chati_mono_ms();
        int64_t step = left < CONNECT_GRACE_MS ? left : CONNECT_GRACE_MS;
        nng_aio_set_timeout(cs->aio, step > 0 ? (nng_duration)step : 1);
        nng_ctx_send(cs->ctx, cs->aio);
        nng_aio_wait(cs->aio);
        e = nng_aio_result(cs->aio);
        /* On failure the message is back on the aio. */
        if (e != NNG_ETIMEDOUT || step >= left || live_pipes(pr) == 0)
            break;
    }
    if (e != 0) {
        nng_msg_free(nng_aio_get_msg(cs->aio));
        nng_aio_set_msg(cs->aio, NULL);
        slot_put(pr, cs, false);
        if (e == NNG_ETIMEDOUT && live_pipes(pr) > 0)
            return chati_fail(CHAT_ERR_TIMEOUT, "%s: could not send to the %s service within %d ms",
                              m->name, name, timeout_ms);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service: %s", m->name, name,
                          e == NNG_ETIMEDOUT ? "no server reachable" : nng_strerror(e));
    }

    /* Receive the reply. */
    left = deadline - chati_mono_ms();
    nng_aio_set_timeout(cs->aio, left > 0 ? (nng_duration)left : 1);
    nng_ctx_recv(cs->ctx, cs->aio);
    nng_aio_wait(cs->aio);
    e = nng_aio_result(cs->aio);
    if (e != 0) {
        slot_put(pr, cs, false);
        if (e == NNG_ETIMEDOUT)
            return chati_fail(CHAT_ERR_TIMEOUT, "%s: no reply from the %s service within %d ms",
                              m->name, name, timeout_ms);
        if (e == NNG_ECONNRESET || e == NNG_ECONNSHUT || e == NNG_ECLOSED)
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                              "%s: the %s server went away during the call", m->name, name);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service: %s", m->name, name,
                          nng_strerror(e));
    }
    msg = nng_aio_get_msg(cs->aio);
    nng_aio_set_msg(cs->aio, NULL);
    slot_put(pr, cs, true);
    rv = unpack_reply(m, msg, id, resp, retryable);
    nng_msg_free(msg);
    return rv;
}

static chat_err rpc_call(void *impl, const chati_method *m, const chat_session *s,
                         const ProtobufCMessage *req, int timeout_ms, ProtobufCMessage **resp)
{
    rpc_client *cl = impl;
    *resp = NULL;
    chati_clear_errmsg();
    if (m == NULL || req == NULL || (unsigned)m->service >= CHATI_SVC__COUNT || m->resp == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "bad method or request");
    if (m->req != NULL && req->descriptor != m->req)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "request does not match %s", m->name);
    if (!(m->flags & CHATI_M_NO_AUTH) && (s == NULL || s->user_id[0] == '\0'))
        return chati_fail(CHAT_ERR_NOT_AUTHED, "%s needs a session", m->name);
    if (timeout_ms <= 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    int64_t deadline = chati_mono_ms() + timeout_ms;

    peer *pr;
    size_t pipes;
    chat_err rv = peer_get(cl, m->service, &pr, &pipes);
    if (rv != CHAT_OK)
        return rv;
    if (pipes == 0) {
        int64_t grace = chati_mono_ms() + CONNECT_GRACE_MS;
        if (wait_pipe(pr, grace < deadline ? grace : deadline) == 0) {
            char where[200];
            pthread_mutex_lock(&pr->mu);
            snprintf(where, sizeof where, "%s%s", pr->urls[0], pr->nurls > 1 ? ", ..." : "");
            pthread_mutex_unlock(&pr->mu);
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "no %s server reachable (%s)",
                              chati_service_name(m->service), where);
        }
    }
    /* A server that is stopping refuses without running the method: the
     * request may go to another server (nng picks the next connection). */
    bool retryable = false;
    for (int attempt = 0;; attempt++) {
        rv = round_trip(cl, pr, m, s, req, deadline, timeout_ms, resp, &retryable);
        if (rv == CHAT_OK || !retryable || attempt >= 3 || live_pipes(pr) < 2 ||
            chati_mono_ms() >= deadline)
            return rv;
    }
}

static void rpc_close(void *impl)
{
    rpc_client *cl = impl;
    for (int i = 0; i < CHATI_SVC__COUNT; i++) {
        peer *pr = &cl->peers[i];
        while (pr->free_slots) {
            call_slot *cs = pr->free_slots;
            pr->free_slots = cs->next;
            slot_free(cs);
        }
        /* Without the lock: closing waits for the pipe callbacks, which take it. */
        if (pr->open)
            nng_close(pr->sock);
        for (size_t j = 0; j < pr->nurls; j++)
            chat_free(pr->urls[j]);
        chat_free(pr->urls);
        chat_free(pr->pipes);
        pthread_cond_destroy(&pr->pipe_cv);
        pthread_mutex_destroy(&pr->mu);
    }
    chat_free(cl);
}

static const chati_svc_ops rpc_ops = {rpc_call, rpc_close};

chat_err chati_svc_rpc(chat_ctx *ctx, chati_svc **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (ctx == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no context");
    rpc_client *cl = chat_calloc(1, sizeof *cl);
    chati_svc *svc = chat_calloc(1, sizeof *svc);
    if (cl == NULL || svc == NULL) {
        chat_free(cl);
        chat_free(svc);
        return chati_fail(CHAT_ERR_NOMEM, "rpc client");
    }
    cl->ctx = ctx;
    uint64_t seed = 0;
    chati_random(&seed, sizeof seed);
    atomic_init(&cl->next_id, (seed >> 1) | 1);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int i = 0; i < CHATI_SVC__COUNT; i++) {
        cl->peers[i].cl = cl;
        cl->peers[i].svc = (chati_service)i;
        pthread_mutex_init(&cl->peers[i].mu, NULL);
        pthread_cond_init(&cl->peers[i].pipe_cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    svc->ops = &rpc_ops;
    svc->impl = cl;
    *out = svc;
    return CHAT_OK;
}
