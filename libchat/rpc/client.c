/*
 * The RPC client: one REQ socket per server address, so that the client, not
 * nng, chooses where each call goes; one nng context per call in flight
 * (pooled per address).
 *
 * Routing: a call goes to the address with the fewest calls in flight among
 * those that are connected and healthy (ties in turn). An address is taken
 * out of routing when a call on it loses its connection or gets no reply in
 * time, and when it fails a health probe; a probe thread asks every address
 * every PROBE_MS and puts it back when it answers. An address that discovery
 * no longer lists takes no new calls and is closed once idle.
 *
 * nng's REQ resends a request after NNG_OPT_REQ_RESENDTIME (60 s by default)
 * and, when a connection drops, on another connection at once. Both could run
 * a method twice, so resending is off: a call whose connection drops ends
 * with NNG_ECONNRESET. Only a caller that says the request is safe to repeat
 * (CHATI_RPC_SAFE) has it sent again, once, to another address.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "rpc/rpc.h"

/* How long a call waits for a first connection before service_unavailable. */
#define CONNECT_GRACE_MS 300
/* Addresses are resolved again this often, or after this when none is up. */
#define REFRESH_MS 1000
#define REFRESH_DOWN_MS 250
#define PROBE_MS 500
#define PROBE_TIMEOUT_MS 1000
#define RECV_MAX (256u << 20)

typedef struct call_slot {
    nng_ctx ctx;
    nng_aio *aio;
    struct call_slot *next;
} call_slot;

typedef struct backend {
    struct chati_rpc_client *owner;
    char *url;
    nng_socket sock;
    bool sock_open;
    unsigned gen;               /* bumped at each (re)open */
    bool listed;                /* in the resolver's latest answer */
    int pipes;                  /* live connections */
    bool down;                  /* out of routing until a probe or a new connection */
    int inflight;
    call_slot *free_slots;
    /* The prober's own, touched by its thread only. */
    nng_ctx probe_ctx;
    nng_aio *probe_aio;
    unsigned probe_gen;         /* gen the probe context belongs to; 0: none */
} backend;

struct chati_rpc_client {
    char name[32];
    chati_rpc_resolve_fn resolve;
    void *resolve_arg;
    nng_tls_config *tls;        /* for tls+tcp:// addresses, or NULL */
    chat_err tls_err;           /* why there is none, when one was asked for */
    char tls_detail[256];
    chati_rpc_probe probe;      /* probe.frame NULL: no probing */
    uint8_t *probe_frame;

    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a connection came up; stop (monotonic clock) */
    bool open;
    bool dynamic;
    bool refreshing;
    int64_t looked_up_ms;
    backend **b;                /* never shrinks: pointers stay valid until free */
    size_t nb, capb;
    unsigned turn;
    pthread_t prober;
    bool probing, stop;
};

/* ---- connections ---- */

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    backend *be = arg;
    chati_rpc_client *cl = be->owner;
    pthread_mutex_lock(&cl->mu);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        be->pipes++;
        be->down = false; /* a fresh connection: the server is up again */
        pthread_cond_broadcast(&cl->cv);
    } else if (ev == NNG_PIPE_EV_REM_POST && be->pipes > 0) {
        be->pipes--;
    }
    pthread_mutex_unlock(&cl->mu);
}

/* Opens be's socket and dials its address in the background (nng connects
 * and reconnects by itself). With cl->mu held: a non-blocking dial does not
 * wait for the pipe callbacks that take it. */
static int open_locked(chati_rpc_client *cl, backend *be)
{
    bool tls = chati_rpc_url_is_tls(be->url);
    if (tls && cl->tls == NULL)
        return NNG_ENOTSUP; /* see tls_err */
    int rv = nng_req0_open(&be->sock);
    if (rv != 0)
        return rv;
    /* At most once: never resend (see the top of this file). */
    nng_socket_set_ms(be->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(be->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(be->sock, NNG_OPT_RECONNMAXT, 500);
    nng_socket_set_size(be->sock, NNG_OPT_RECVMAXSZ, RECV_MAX);
    nng_pipe_notify(be->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, be);
    nng_pipe_notify(be->sock, NNG_PIPE_EV_REM_POST, pipe_cb, be);
    nng_dialer d;
    if ((rv = nng_dialer_create(&d, be->sock, be->url)) == 0 &&
        (!tls || (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cl->tls)) == 0))
        rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        nng_close(be->sock); /* nothing connected: no callback to wait for */
        return rv;
    }
    be->sock_open = true;
    be->gen++;
    be->down = false;
    be->pipes = 0;
    return 0;
}

static backend *find_locked(chati_rpc_client *cl, const char *url)
{
    for (size_t i = 0; i < cl->nb; i++)
        if (strcmp(cl->b[i]->url, url) == 0)
            return cl->b[i];
    return NULL;
}

/* The backend of url, created when new (not yet opened). */
static backend *add_locked(chati_rpc_client *cl, const char *url)
{
    backend *be = find_locked(cl, url);
    if (be)
        return be;
    if (cl->nb == cl->capb) {
        size_t cap = cl->capb ? 2 * cl->capb : 4;
        backend **v = chat_realloc(cl->b, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        cl->b = v;
        cl->capb = cap;
    }
    if ((be = chat_calloc(1, sizeof *be)) == NULL || (be->url = chat_strdup(url)) == NULL) {
        chat_free(be);
        return NULL;
    }
    be->owner = cl;
    cl->b[cl->nb++] = be;
    return be;
}

static void slots_free(call_slot *cs)
{
    while (cs) {
        call_slot *next = cs->next;
        nng_ctx_close(cs->ctx);
        nng_aio_free(cs->aio);
        chat_free(cs);
        cs = next;
    }
}

/* Takes the resolver's answer: opens what is new, marks what is gone. The
 * sockets of addresses gone and idle are returned in *closing (to close
 * without the lock: closing waits for pipe callbacks, which take it). */
static int apply_locked(chati_rpc_client *cl, const chati_rpc_addrs *a, nng_socket *closing,
                        size_t *nclosing, call_slot **slots, char *first_err, size_t errlen)
{
    int opened = 0;
    for (size_t i = 0; i < cl->nb; i++)
        cl->b[i]->listed = false;
    for (size_t i = 0; i < a->n; i++) {
        backend *be = add_locked(cl, a->v[i]);
        if (be == NULL)
            continue;
        be->listed = true;
        int e = be->sock_open ? 0 : open_locked(cl, be);
        if (e != 0) {
            be->listed = false;
            if (first_err[0] == '\0')
                snprintf(first_err, errlen, "%s: %s", be->url,
                         e == NNG_ENOTSUP && cl->tls == NULL ? cl->tls_detail : nng_strerror(e));
        } else {
            opened++;
        }
    }
    *nclosing = 0;
    for (size_t i = 0; i < cl->nb; i++) {
        backend *be = cl->b[i];
        if (!be->listed && be->sock_open && be->inflight == 0) {
            closing[(*nclosing)++] = be->sock;
            be->sock_open = false;
            be->pipes = 0;
            call_slot *last = be->free_slots;
            if (last) {
                while (last->next)
                    last = last->next;
                last->next = *slots;
                *slots = be->free_slots;
                be->free_slots = NULL;
            }
        }
    }
    return opened;
}

static void close_all(nng_socket *closing, size_t n, call_slot *slots)
{
    slots_free(slots);
    for (size_t i = 0; i < n; i++)
        nng_close(closing[i]);
}

static void *probe_main(void *arg);

/* Resolves the addresses and applies them; the first time, opens the client. */
static chat_err refresh(chati_rpc_client *cl, bool first)
{
    chati_rpc_addrs a = {NULL, 0};
    bool dynamic = false;
    chat_err rv = cl->resolve(cl->resolve_arg, &a, &dynamic);
    nng_socket *closing = NULL;
    size_t nclosing = 0;
    call_slot *slots = NULL;
    char first_err[300] = "";
    pthread_mutex_lock(&cl->mu);
    if (rv == CHAT_OK && (closing = chat_calloc(cl->nb + a.n + 1, sizeof *closing)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "rpc client");
    if (rv == CHAT_OK) {
        int opened = apply_locked(cl, &a, closing, &nclosing, &slots, first_err, sizeof first_err);
        if (first && !cl->open) {
            if (a.n == 0) {
                rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "no address for the %s service",
                                cl->name);
            } else if (opened == 0) {
                rv = chati_fail(cl->tls == NULL && cl->tls_err != CHAT_OK ? cl->tls_err
                                                                           : CHAT_ERR_INVALID_CONFIG,
                                "cannot dial the %s service: %s", cl->name, first_err);
            } else {
                cl->open = true;
                cl->dynamic = dynamic;
                if (cl->probe.frame != NULL &&
                    pthread_create(&cl->prober, NULL, probe_main, cl) == 0)
                    cl->probing = true;
            }
        }
    }
    cl->looked_up_ms = chati_mono_ms();
    cl->refreshing = false;
    pthread_mutex_unlock(&cl->mu);
    close_all(closing, nclosing, slots);
    chat_free(closing);
    chati_rpc_addrs_free(&a);
    return rv;
}

/* Opens the client on first use and refreshes its addresses when due. */
static chat_err prepare(chati_rpc_client *cl)
{
    pthread_mutex_lock(&cl->mu);
    bool is_open = cl->open;
    bool due = false;
    if (is_open && cl->dynamic && !cl->refreshing) {
        int64_t age = chati_mono_ms() - cl->looked_up_ms;
        bool none_up = true;
        for (size_t i = 0; i < cl->nb && none_up; i++)
            none_up = !(cl->b[i]->listed && cl->b[i]->pipes > 0);
        if (age >= REFRESH_MS || (none_up && age >= REFRESH_DOWN_MS))
            due = cl->refreshing = true;
    }
    pthread_mutex_unlock(&cl->mu);
    if (!is_open)
        return refresh(cl, true); /* resolving may ask a discovery server: no lock */
    if (due)
        (void)refresh(cl, false); /* a failed lookup keeps the addresses known */
    return CHAT_OK;
}

static bool routable(const backend *be, bool healthy_only)
{
    return be->sock_open && be->listed && be->pipes > 0 && !(healthy_only && be->down);
}

/* Picks the backend for a call, avoiding `avoid` (a retry); NULL when none
 * is connected. Counts the call in flight. */
static backend *choose_locked(chati_rpc_client *cl, const backend *avoid)
{
    backend *best = NULL;
    for (int pass = 0; pass < 2 && best == NULL; pass++) {
        /* First the healthy ones; failing that, any connected one: a probe
         * verdict may be stale, and trying beats failing outright. */
        for (size_t k = 0; k < cl->nb; k++) {
            backend *be = cl->b[(cl->turn + k) % cl->nb];
            if (be != avoid && routable(be, pass == 0) &&
                (best == NULL || be->inflight < best->inflight))
                best = be;
        }
    }
    if (best) {
        best->inflight++;
        cl->turn++;
    }
    return best;
}

/* Waits until some address has a connection, or deadline_ms. */
static backend *wait_choose(chati_rpc_client *cl, const backend *avoid, int64_t deadline_ms)
{
    pthread_mutex_lock(&cl->mu);
    backend *be;
    while ((be = choose_locked(cl, avoid)) == NULL)
        if (!chati_cond_wait_until(&cl->cv, &cl->mu, deadline_ms))
            break;
    pthread_mutex_unlock(&cl->mu);
    return be;
}

size_t chati_rpc_client_live(chati_rpc_client *cl)
{
    size_t n = 0;
    pthread_mutex_lock(&cl->mu);
    for (size_t i = 0; i < cl->nb; i++)
        n += routable(cl->b[i], true);
    pthread_mutex_unlock(&cl->mu);
    return n;
}

static call_slot *slot_get(chati_rpc_client *cl, backend *be)
{
    pthread_mutex_lock(&cl->mu);
    call_slot *cs = be->free_slots;
    if (cs) {
        be->free_slots = cs->next;
        cs->next = NULL;
    }
    nng_socket sock = be->sock;
    pthread_mutex_unlock(&cl->mu);
    if (cs)
        return cs;
    if ((cs = chat_calloc(1, sizeof *cs)) == NULL)
        return NULL;
    if (nng_aio_alloc(&cs->aio, NULL, NULL) != 0) {
        chat_free(cs);
        return NULL;
    }
    if (nng_ctx_open(&cs->ctx, sock) != 0) {
        nng_aio_free(cs->aio);
        chat_free(cs);
        return NULL;
    }
    return cs;
}

/* Ends a call on be: its context goes back to the pool when the call ended
 * cleanly (one that timed out or failed is closed, so nothing of its request
 * lingers); failed marks be out of routing. */
static void call_done(chati_rpc_client *cl, backend *be, call_slot *cs, bool reuse, bool failed)
{
    pthread_mutex_lock(&cl->mu);
    be->inflight--;
    if (failed)
        be->down = true;
    if (reuse && cs && be->sock_open) {
        cs->next = be->free_slots;
        be->free_slots = cs;
        cs = NULL;
    }
    pthread_mutex_unlock(&cl->mu);
    slots_free(cs);
}

/* ---- a call ---- */

/* One request and its reply on be. */
static chat_err round_trip(chati_rpc_client *cl, backend *be, const char *what, nng_msg *msg,
                           int64_t deadline, nng_msg **reply)
{
    call_slot *cs = slot_get(cl, be);
    if (cs == NULL) {
        nng_msg_free(msg);
        call_done(cl, be, NULL, false, false);
        return chati_fail(CHAT_ERR_NOMEM, "rpc context");
    }
    int64_t timeout_ms = deadline - chati_mono_ms();
    /* Sending completes once the connection took the request; with none
     * ready it waits, so wait in steps and give up once the connection is
     * gone (it may drop between the choice and the send). */
    int e;
    nng_aio_set_msg(cs->aio, msg);
    for (;;) {
        int64_t left = deadline - chati_mono_ms();
        int64_t step = left < CONNECT_GRACE_MS ? left : CONNECT_GRACE_MS;
        nng_aio_set_timeout(cs->aio, step > 0 ? (nng_duration)step : 1);
        nng_ctx_send(cs->ctx, cs->aio);
        nng_aio_wait(cs->aio);
        e = nng_aio_result(cs->aio);
        if (e != NNG_ETIMEDOUT || step >= left)
            break;
        pthread_mutex_lock(&cl->mu);
        bool connected = be->pipes > 0;
        pthread_mutex_unlock(&cl->mu);
        if (!connected) {
            e = NNG_ECONNRESET;
            break;
        }
    }
    if (e != 0) {
        /* On failure the message is back on the aio. */
        nng_msg_free(nng_aio_get_msg(cs->aio));
        nng_aio_set_msg(cs->aio, NULL);
        call_done(cl, be, cs, false, true);
        if (e == NNG_ETIMEDOUT)
            return chati_fail(CHAT_ERR_TIMEOUT,
                              "%s: could not send to the %s service within %lld ms", what,
                              cl->name, (long long)timeout_ms);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service at %s: %s", what,
                          cl->name, be->url, nng_strerror(e));
    }
    int64_t left = deadline - chati_mono_ms();
    nng_aio_set_timeout(cs->aio, left > 0 ? (nng_duration)left : 1);
    nng_ctx_recv(cs->ctx, cs->aio);
    nng_aio_wait(cs->aio);
    e = nng_aio_result(cs->aio);
    if (e != 0) {
        call_done(cl, be, cs, false, true);
        if (e == NNG_ETIMEDOUT)
            return chati_fail(CHAT_ERR_TIMEOUT, "%s: no reply from the %s service within %lld ms",
                              what, cl->name, (long long)timeout_ms);
        if (e == NNG_ECONNRESET || e == NNG_ECONNSHUT || e == NNG_ECLOSED)
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                              "%s: the %s server at %s went away during the call", what,
                              cl->name, be->url);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service at %s: %s", what,
                          cl->name, be->url, nng_strerror(e));
    }
    *reply = nng_aio_get_msg(cs->aio);
    nng_aio_set_msg(cs->aio, NULL);
    call_done(cl, be, cs, true, false);
    return CHAT_OK;
}

void chati_rpc_client_refused(chati_rpc_client *cl, const void *server)
{
    pthread_mutex_lock(&cl->mu);
    for (size_t i = 0; i < cl->nb; i++)
        if (cl->b[i] == server)
            cl->b[i]->down = true;
    pthread_mutex_unlock(&cl->mu);
}

chat_err chati_rpc_client_call(chati_rpc_client *cl, const char *what, nng_msg *req,
                               int64_t deadline_ms, unsigned flags, nng_msg **reply,
                               chati_rpc_call_info *info)
{
    *reply = NULL;
    chati_rpc_call_info none = {NULL, NULL, false};
    if (info == NULL)
        info = &none;
    info->server = NULL;
    info->resent = false;
    chat_err rv = prepare(cl);
    if (rv != CHAT_OK) {
        nng_msg_free(req);
        return rv;
    }
    const backend *tried = info->avoid;
    for (int attempt = 0;; attempt++) {
        int64_t grace = chati_mono_ms() + CONNECT_GRACE_MS;
        backend *be = wait_choose(cl, tried, grace < deadline_ms ? grace : deadline_ms);
        if (be == NULL) {
            nng_msg_free(req);
            if (rv != CHAT_OK) /* the first attempt's failure says more */
                return rv;
            pthread_mutex_lock(&cl->mu);
            char where[200] = "";
            for (size_t i = 0, n = 0; i < cl->nb; i++)
                if (cl->b[i]->listed && n++ < 2)
                    snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s",
                             n > 1 ? ", " : "", cl->b[i]->url);
            pthread_mutex_unlock(&cl->mu);
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "no %s server reachable (%s)",
                              cl->name, where);
        }
        /* Keep a copy while another attempt may follow. */
        nng_msg *copy = NULL;
        bool may_retry = attempt == 0 && (flags & CHATI_RPC_SAFE);
        if (may_retry && nng_msg_dup(&copy, req) != 0)
            copy = NULL;
        rv = round_trip(cl, be, what, copy ? copy : req, deadline_ms, reply);
        info->server = be;
        if (copy == NULL)
            req = NULL; /* taken */
        /* A timeout used the caller's time up: no second attempt. */
        bool again = may_retry && req != NULL && rv == CHAT_ERR_SERVICE_UNAVAILABLE &&
                     chati_mono_ms() < deadline_ms;
        if (!again) {
            nng_msg_free(req);
            return rv;
        }
        tried = be;
        info->resent = true;
    }
}

/* ---- health probes ---- */

/* Probes every listed address at once; marks each up or down. */
static void probe_round(chati_rpc_client *cl)
{
    pthread_mutex_lock(&cl->mu);
    size_t n = cl->nb;
    backend **v = chat_calloc(n ? n : 1, sizeof *v);
    unsigned *gens = chat_calloc(n ? n : 1, sizeof *gens);
    nng_socket *socks = chat_calloc(n ? n : 1, sizeof *socks);
    size_t k = 0;
    for (size_t i = 0; v && gens && socks && i < n; i++)
        if (cl->b[i]->sock_open && cl->b[i]->listed && cl->b[i]->pipes > 0) {
            gens[k] = cl->b[i]->gen;
            socks[k] = cl->b[i]->sock;
            v[k++] = cl->b[i];
        }
    pthread_mutex_unlock(&cl->mu);
    bool *started = chat_calloc(k ? k : 1, sizeof *started);
    for (size_t i = 0; started && i < k; i++) {
        backend *be = v[i];
        if (be->probe_aio == NULL && nng_aio_alloc(&be->probe_aio, NULL, NULL) != 0)
            continue;
        if (be->probe_gen != gens[i]) {
            if (be->probe_gen != 0)
                nng_ctx_close(be->probe_ctx);
            be->probe_gen = 0;
            if (nng_ctx_open(&be->probe_ctx, socks[i]) != 0)
                continue;
            be->probe_gen = gens[i];
        }
        nng_msg *m;
        if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, cl->probe_frame, cl->probe.len) != 0)
            continue;
        nng_aio_set_msg(be->probe_aio, m);
        nng_aio_set_timeout(be->probe_aio, PROBE_TIMEOUT_MS);
        nng_ctx_send(be->probe_ctx, be->probe_aio);
        nng_aio_wait(be->probe_aio);
        if (nng_aio_result(be->probe_aio) != 0) {
            nng_msg_free(nng_aio_get_msg(be->probe_aio));
            nng_aio_set_msg(be->probe_aio, NULL);
            continue;
        }
        nng_ctx_recv(be->probe_ctx, be->probe_aio); /* all in flight together */
        started[i] = true;
    }
    for (size_t i = 0; started && i < k; i++) {
        backend *be = v[i];
        bool ok = false;
        if (started[i]) {
            nng_aio_wait(be->probe_aio);
            if (nng_aio_result(be->probe_aio) == 0) {
                nng_msg *r = nng_aio_get_msg(be->probe_aio);
                nng_aio_set_msg(be->probe_aio, NULL);
                ok = cl->probe.ok(cl->probe.arg, r);
                nng_msg_free(r);
            } else {
                /* A context whose request got no reply is not reused. */
                nng_ctx_close(be->probe_ctx);
                be->probe_gen = 0;
            }
        }
        pthread_mutex_lock(&cl->mu);
        if (be->gen == gens[i] && be->pipes > 0)
            be->down = !ok;
        pthread_mutex_unlock(&cl->mu);
    }
    chat_free(started);
    chat_free(v);
    chat_free(gens);
    chat_free(socks);
}

static void *probe_main(void *arg)
{
    chati_rpc_client *cl = arg;
    pthread_mutex_lock(&cl->mu);
    while (!cl->stop) {
        int64_t next = chati_mono_ms() + PROBE_MS;
        while (!cl->stop && chati_cond_wait_until(&cl->cv, &cl->mu, next)) {
        }
        if (cl->stop)
            break;
        pthread_mutex_unlock(&cl->mu);
        probe_round(cl);
        pthread_mutex_lock(&cl->mu);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

/* ---- life ---- */

chat_err chati_rpc_client_new(const char *name, chati_rpc_resolve_fn resolve, void *arg,
                              const chati_rpc_tls *tls, const chati_rpc_probe *probe,
                              chati_rpc_client **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (name == NULL || resolve == NULL ||
        (probe && probe->frame && (probe->ok == NULL || probe->len == 0)))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc client needs a name and a resolver");
    chati_rpc_client *cl = chat_calloc(1, sizeof *cl);
    if (cl == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rpc client");
    snprintf(cl->name, sizeof cl->name, "%s", name);
    cl->resolve = resolve;
    cl->resolve_arg = arg;
    if (probe && probe->frame) {
        if ((cl->probe_frame = chat_malloc(probe->len)) == NULL) {
            chat_free(cl);
            return chati_fail(CHAT_ERR_NOMEM, "rpc client");
        }
        memcpy(cl->probe_frame, probe->frame, probe->len);
        cl->probe = *probe;
    }
    pthread_mutex_init(&cl->mu, NULL);
    chati_cond_init(&cl->cv);
    /* Read the files now, not under the lock at dial time. Without a usable
     * configuration, plain addresses still work; a TLS one fails to dial
     * with this reason. */
    cl->tls_err = chati_rpc_tls_config(tls, false, "a tls+tcp:// address", &cl->tls);
    if (cl->tls_err != CHAT_OK)
        snprintf(cl->tls_detail, sizeof cl->tls_detail, "%s", chati_errmsg());
    chati_clear_errmsg();
    *out = cl;
    return CHAT_OK;
}

void chati_rpc_client_free(chati_rpc_client *cl)
{
    if (cl == NULL)
        return;
    pthread_mutex_lock(&cl->mu);
    cl->stop = true;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    if (cl->probing)
        pthread_join(cl->prober, NULL);
    for (size_t i = 0; i < cl->nb; i++) {
        backend *be = cl->b[i];
        slots_free(be->free_slots);
        if (be->probe_gen != 0)
            nng_ctx_close(be->probe_ctx);
        /* Without the lock: closing waits for the pipe callbacks, which take it. */
        if (be->sock_open)
            nng_close(be->sock);
        if (be->probe_aio)
            nng_aio_free(be->probe_aio);
        chat_free(be->url);
        chat_free(be);
    }
    if (cl->tls)
        nng_tls_config_free(cl->tls);
    chat_free(cl->b);
    chat_free(cl->probe_frame);
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->mu);
    chat_free(cl);
}
