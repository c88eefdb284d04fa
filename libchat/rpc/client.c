/*
 * The RPC client: one REQ socket per group of servers, dialing every address
 * of the group; one nng context per call in flight (pooled).
 *
 * nng's REQ resends a request after NNG_OPT_REQ_RESENDTIME (60 s by default)
 * and, when a connection drops, on another connection at once. Both could run
 * a method twice, so resending is off: a call whose connection drops ends
 * with NNG_ECONNRESET, reported as service_unavailable. A request sent while
 * no connection exists would wait silently for one until its timeout, so the
 * client counts live connections (pipe events) and gives up early when none
 * comes up within a short grace.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/protocol/reqrep0/req.h>

#include "rpc/rpc.h"

/* How long a call waits for a first connection before service_unavailable. */
#define CONNECT_GRACE_MS 300
/* Addresses are resolved again this often, or after this when nothing connects. */
#define REFRESH_MS 5000
#define REFRESH_DOWN_MS 1000
#define RECV_MAX (256u << 20)

typedef struct call_slot {
    nng_ctx ctx;
    nng_aio *aio;
    struct call_slot *next;
} call_slot;

struct chati_rpc_client {
    char name[32];
    chati_rpc_resolve_fn resolve;
    void *resolve_arg;
    pthread_mutex_t mu;
    pthread_cond_t pipe_cv;     /* a connection came up (monotonic clock) */
    bool open;
    bool dynamic;
    bool refreshing;
    int64_t looked_up_ms;
    nng_socket sock;
    char **urls;                /* dialed */
    size_t nurls, capurls;
    nng_tls_config *tls;        /* for tls+tcp:// addresses, or NULL */
    chat_err tls_err;           /* why there is none, when one was asked for */
    char tls_detail[256];
    uint32_t *pipes;            /* live connection ids */
    size_t npipes, cappipes;
    call_slot *free_slots;
};

/* ---- connections ---- */

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    chati_rpc_client *pr = arg;
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

static bool dialed(const chati_rpc_client *pr, const char *url)
{
    for (size_t i = 0; i < pr->nurls; i++)
        if (strcmp(pr->urls[i], url) == 0)
            return true;
    return false;
}

/* Dials url (in the background: nng connects and reconnects by itself) and
 * records it. Called with pr->mu held: a non-blocking dial does not wait for
 * the pipe callbacks that take the lock. */
static int dial_locked(chati_rpc_client *pr, const char *url)
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
    bool tls = chati_rpc_url_is_tls(url);
    if (tls && pr->tls == NULL)
        return NNG_ENOTSUP; /* see tls_err */
    char *copy = chat_strdup(url);
    if (copy == NULL)
        return NNG_ENOMEM;
    nng_dialer d;
    int rv = nng_dialer_create(&d, pr->sock, url);
    if (rv == 0 && tls && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, pr->tls)) != 0)
        nng_dialer_close(d);
    if (rv == 0 && (rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0)
        nng_dialer_close(d);
    if (rv != 0) {
        chat_free(copy);
        return rv;
    }
    pr->urls[pr->nurls++] = copy;
    return 0;
}

/* Opens the socket on first use. Called with pr->mu held. */
static chat_err open_locked(chati_rpc_client *pr, const chati_rpc_addrs *a, bool dynamic)
{
    if (a->n == 0)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "no address for the %s service",
                          pr->name);
    int e;
    if ((e = nng_req0_open(&pr->sock)) != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "req socket: %s", nng_strerror(e));
    /* At most once: never resend (see the top of this file). */
    nng_socket_set_ms(pr->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(pr->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(pr->sock, NNG_OPT_RECONNMAXT, 1000);
    nng_socket_set_size(pr->sock, NNG_OPT_RECVMAXSZ, RECV_MAX);
    nng_pipe_notify(pr->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, pr);
    nng_pipe_notify(pr->sock, NNG_PIPE_EV_REM_POST, pipe_cb, pr);
    char first_err[160] = "";
    for (size_t i = 0; i < a->n; i++)
        if ((e = dial_locked(pr, a->v[i])) != 0 && first_err[0] == '\0')
            snprintf(first_err, sizeof first_err, "%s: %s", a->v[i], nng_strerror(e));
    if (pr->nurls == 0) {
        /* Closing runs no pipe callback: nothing ever connected. */
        nng_close(pr->sock);
        if (pr->tls == NULL && pr->tls_err != CHAT_OK)
            return chati_fail(pr->tls_err, "%s", pr->tls_detail);
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "cannot dial the %s service: %s", pr->name,
                          first_err);
    }
    pr->open = true;
    pr->dynamic = dynamic;
    pr->looked_up_ms = chati_mono_ms();
    return CHAT_OK;
}

/* Resolves again and dials addresses not seen before. Addresses that
 * disappear stay dialed: nng keeps retrying them quietly. */
static void refresh(chati_rpc_client *pr)
{
    chati_rpc_addrs a = {NULL, 0};
    bool dynamic = true;
    chat_err rv = pr->resolve(pr->resolve_arg, &a, &dynamic);
    pthread_mutex_lock(&pr->mu);
    if (rv == CHAT_OK)
        for (size_t i = 0; i < a.n; i++)
            dial_locked(pr, a.v[i]);
    pr->looked_up_ms = chati_mono_ms();
    pr->refreshing = false;
    pthread_mutex_unlock(&pr->mu);
    chati_rpc_addrs_free(&a);
}

/* Opens the client on first use, refreshes its addresses when due; *pipes:
 * the live connection count right now. */
static chat_err prepare(chati_rpc_client *pr, size_t *pipes)
{
    chat_err rv = CHAT_OK;
    pthread_mutex_lock(&pr->mu);
    bool is_open = pr->open;
    pthread_mutex_unlock(&pr->mu);
    if (!is_open) {
        /* Resolve outside the lock: it may ask a discovery server. */
        chati_rpc_addrs a = {NULL, 0};
        bool dynamic = false;
        rv = pr->resolve(pr->resolve_arg, &a, &dynamic);
        pthread_mutex_lock(&pr->mu);
        if (rv == CHAT_OK && !pr->open)
            rv = open_locked(pr, &a, dynamic);
        pthread_mutex_unlock(&pr->mu);
        chati_rpc_addrs_free(&a);
        if (rv != CHAT_OK)
            return rv;
    }
    bool due = false;
    pthread_mutex_lock(&pr->mu);
    if (pr->dynamic && !pr->refreshing) {
        int64_t age = chati_mono_ms() - pr->looked_up_ms;
        if (age >= REFRESH_MS || (pr->npipes == 0 && age >= REFRESH_DOWN_MS))
            due = pr->refreshing = true;
    }
    pthread_mutex_unlock(&pr->mu);
    if (due)
        refresh(pr);
    *pipes = chati_rpc_client_live(pr);
    return CHAT_OK;
}

/* Waits until a connection is up or until deadline_ms; the count then. */
static size_t wait_pipe(chati_rpc_client *pr, int64_t deadline_ms)
{
    pthread_mutex_lock(&pr->mu);
    while (pr->npipes == 0)
        if (!chati_cond_wait_until(&pr->pipe_cv, &pr->mu, deadline_ms))
            break;
    size_t n = pr->npipes;
    pthread_mutex_unlock(&pr->mu);
    return n;
}

size_t chati_rpc_client_live(chati_rpc_client *pr)
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

static call_slot *slot_get(chati_rpc_client *pr)
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
static void slot_put(chati_rpc_client *pr, call_slot *cs, bool reuse)
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

/* One request and its reply on one context. */
static chat_err round_trip(chati_rpc_client *pr, const char *what, nng_msg *msg,
                           int64_t deadline, nng_msg **reply)
{
    call_slot *cs = slot_get(pr);
    if (cs == NULL) {
        nng_msg_free(msg);
        return chati_fail(CHAT_ERR_NOMEM, "rpc context");
    }
    int64_t timeout_ms = deadline - chati_mono_ms();

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
        if (e != NNG_ETIMEDOUT || step >= left || chati_rpc_client_live(pr) == 0)
            break;
    }
    if (e != 0) {
        nng_msg_free(nng_aio_get_msg(cs->aio));
        nng_aio_set_msg(cs->aio, NULL);
        slot_put(pr, cs, false);
        if (e == NNG_ETIMEDOUT && chati_rpc_client_live(pr) > 0)
            return chati_fail(CHAT_ERR_TIMEOUT,
                              "%s: could not send to the %s service within %lld ms", what,
                              pr->name, (long long)timeout_ms);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service: %s", what, pr->name,
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
            return chati_fail(CHAT_ERR_TIMEOUT, "%s: no reply from the %s service within %lld ms",
                              what, pr->name, (long long)timeout_ms);
        if (e == NNG_ECONNRESET || e == NNG_ECONNSHUT || e == NNG_ECLOSED)
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                              "%s: the %s server went away during the call", what, pr->name);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service: %s", what, pr->name,
                          nng_strerror(e));
    }
    *reply = nng_aio_get_msg(cs->aio);
    nng_aio_set_msg(cs->aio, NULL);
    slot_put(pr, cs, true);
    return CHAT_OK;
}

chat_err chati_rpc_client_call(chati_rpc_client *pr, const char *what, nng_msg *req,
                               int64_t deadline_ms, nng_msg **reply)
{
    *reply = NULL;
    size_t pipes = 0;
    chat_err rv = prepare(pr, &pipes);
    if (rv != CHAT_OK) {
        nng_msg_free(req);
        return rv;
    }
    if (pipes == 0) {
        int64_t grace = chati_mono_ms() + CONNECT_GRACE_MS;
        if (wait_pipe(pr, grace < deadline_ms ? grace : deadline_ms) == 0) {
            char where[200];
            pthread_mutex_lock(&pr->mu);
            snprintf(where, sizeof where, "%s%s", pr->urls[0], pr->nurls > 1 ? ", ..." : "");
            pthread_mutex_unlock(&pr->mu);
            nng_msg_free(req);
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "no %s server reachable (%s)",
                              pr->name, where);
        }
    }
    return round_trip(pr, what, req, deadline_ms, reply);
}

chat_err chati_rpc_client_new(const char *name, chati_rpc_resolve_fn resolve, void *arg,
                              const chati_rpc_tls *tls, chati_rpc_client **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (name == NULL || resolve == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc client needs a name and a resolver");
    chati_rpc_client *pr = chat_calloc(1, sizeof *pr);
    if (pr == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rpc client");
    snprintf(pr->name, sizeof pr->name, "%s", name);
    pr->resolve = resolve;
    pr->resolve_arg = arg;
    /* Read the files now, not under the lock at dial time. Without a usable
     * configuration, plain addresses still work; a TLS one fails to dial
     * with this reason. */
    pr->tls_err = chati_rpc_tls_config(tls, false, "a tls+tcp:// address", &pr->tls);
    if (pr->tls_err != CHAT_OK)
        snprintf(pr->tls_detail, sizeof pr->tls_detail, "%s", chati_errmsg());
    chati_clear_errmsg();
    pthread_mutex_init(&pr->mu, NULL);
    chati_cond_init(&pr->pipe_cv);
    *out = pr;
    return CHAT_OK;
}

void chati_rpc_client_free(chati_rpc_client *pr)
{
    if (pr == NULL)
        return;
    while (pr->free_slots) {
        call_slot *cs = pr->free_slots;
        pr->free_slots = cs->next;
        slot_free(cs);
    }
    /* Without the lock: closing waits for the pipe callbacks, which take it. */
    if (pr->open)
        nng_close(pr->sock);
    if (pr->tls)
        nng_tls_config_free(pr->tls);
    for (size_t j = 0; j < pr->nurls; j++)
        chat_free(pr->urls[j]);
    chat_free(pr->urls);
    chat_free(pr->pipes);
    pthread_cond_destroy(&pr->pipe_cv);
    pthread_mutex_destroy(&pr->mu);
    chat_free(pr);
}
