/*
 * The RPC client: for each server address, a pool of connections (wire.h),
 * so that the client, not the transport, chooses where each call goes. A
 * call takes an idle connection (or dials one), writes its request and reads
 * the reply on the calling thread: no other thread is woken.
 *
 * Routing: a call goes to the address with the fewest calls in flight among
 * those that are healthy (ties in turn). An address is taken out of routing
 * when a call on it loses its connection or gets no reply in time, and when
 * it fails a health probe; a probe thread asks every address every PROBE_MS
 * and puts it back when it answers. An address that refused a connection is
 * not dialed again for a while (50 ms, doubling to 500 ms). An address that
 * discovery no longer lists takes no new calls and is closed once idle.
 *
 * At most once: a request is never resent on its own. A call whose
 * connection drops after the request was written ends in
 * service_unavailable; only a caller that says the request is safe to repeat
 * (CHATI_RPC_SAFE) has it sent again, once, to another address. A pooled
 * connection that turns out dead before any of the request was taken is
 * replaced by a fresh one: the server cannot have run a request it never
 * received whole.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>

#include "rpc/rpc.h"
#include "rpc/tls_session.h"
#include "rpc/wire.h"

/* How long a call waits for a first connection before service_unavailable. */
#define CONNECT_GRACE_MS 300
/* Addresses are resolved again this often, or after this when none is up. */
#define REFRESH_MS 1000
#define REFRESH_DOWN_MS 250
#define PROBE_MS 500
#define PROBE_TIMEOUT_MS 1000
#define REDIAL_MIN_MS 50
#define REDIAL_MAX_MS 500
#define IDLE_MAX 64
#define RECV_MAX (256u << 20)

typedef struct pooled {
    chati_wire_conn w;
    struct pooled *next;
} pooled;

typedef struct backend {
    char *url;
    chati_wire_addr addr;
    bool addr_ok;
    bool listed;                /* in the resolver's latest answer */
    bool up;                    /* the last dial or call on it reached the server */
    bool down;                  /* out of routing until a probe passes or a dial succeeds */
    int64_t redial_at_ms;       /* no dial before this, after one failed */
    int redial_ms;
    int inflight;
    pooled *idle;
    int nidle;
    /* The prober's own, touched by its thread only. */
    chati_wire_conn probe;
} backend;

struct chati_rpc_client {
    char name[32];
    chati_rpc_resolve_fn resolve;
    void *resolve_arg;
    chati_tls_conf *tls;        /* for tls+tcp:// addresses, or NULL */
    chat_err tls_err;           /* why there is none, when one was asked for */
    char tls_detail[256];
    chati_rpc_probe probe;      /* probe.frame NULL: no probing */
    uint8_t *probe_frame;

    pthread_mutex_t mu;
    pthread_cond_t cv;          /* stop (monotonic clock) */
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

static void pool_free(pooled *p)
{
    while (p) {
        pooled *next = p->next;
        chati_wire_close(&p->w);
        chat_free(p);
        p = next;
    }
}

/* Takes be's address as parsed (outside the lock: a host name may need DNS).
 * 0, or an errno for the message (ENOTSUP: TLS without a configuration). */
static int open_locked(chati_rpc_client *cl, backend *be, const chati_wire_addr *parsed)
{
    if (parsed == NULL)
        return be->addr_ok ? 0 : EINVAL;
    be->addr = *parsed;
    be->addr_ok = true;
    if (be->addr.tls && cl->tls == NULL)
        return ENOTSUP; /* see tls_err */
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
    be->probe.fd = -1;
    cl->b[cl->nb++] = be;
    return be;
}

/* Takes the resolver's answer: marks what is listed, parses what is new.
 * The idle connections of addresses gone are returned in *closing, to close
 * without the lock. */
static int apply_locked(chati_rpc_client *cl, const chati_rpc_addrs *a,
                        const chati_wire_addr *parsed, const bool *parsed_ok, pooled **closing,
                        char *first_err, size_t errlen)
{
    int opened = 0;
    for (size_t i = 0; i < cl->nb; i++)
        cl->b[i]->listed = false;
    for (size_t i = 0; i < a->n; i++) {
        backend *be = add_locked(cl, a->v[i]);
        if (be == NULL)
            continue;
        int e = open_locked(cl, be, parsed_ok[i] ? &parsed[i] : NULL);
        if (e != 0) {
            if (first_err[0] == '\0')
                snprintf(first_err, errlen, "%s: %s", be->url,
                         e == ENOTSUP ? cl->tls_detail : "not an RPC address");
            continue;
        }
        be->listed = true;
        opened++;
    }
    for (size_t i = 0; i < cl->nb; i++) {
        backend *be = cl->b[i];
        if (!be->listed && be->idle) {
            pooled *last = be->idle;
            while (last->next)
                last = last->next;
            last->next = *closing;
            *closing = be->idle;
            be->idle = NULL;
            be->nidle = 0;
        }
    }
    return opened;
}

static void *probe_main(void *arg);

/* Resolves the addresses and applies them; the first time, opens the client. */
static chat_err refresh(chati_rpc_client *cl, bool first)
{
    chati_rpc_addrs a = {NULL, 0};
    bool dynamic = false;
    chat_err rv = cl->resolve(cl->resolve_arg, &a, &dynamic);
    pooled *closing = NULL;
    char first_err[300] = "";
    /* Host names are looked up here, without the lock. */
    chati_wire_addr *parsed = chat_calloc(a.n ? a.n : 1, sizeof *parsed);
    bool *parsed_ok = chat_calloc(a.n ? a.n : 1, sizeof *parsed_ok);
    if (rv == CHAT_OK && (parsed == NULL || parsed_ok == NULL))
        rv = chati_fail(CHAT_ERR_NOMEM, "rpc client");
    for (size_t i = 0; rv == CHAT_OK && i < a.n; i++) {
        parsed_ok[i] = chati_wire_parse(a.v[i], &parsed[i]) == CHAT_OK;
        chati_clear_errmsg();
    }
    pthread_mutex_lock(&cl->mu);
    if (rv == CHAT_OK) {
        int opened = apply_locked(cl, &a, parsed, parsed_ok, &closing, first_err,
                                  sizeof first_err);
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
    pool_free(closing);
    chat_free(parsed);
    chat_free(parsed_ok);
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
            none_up = !(cl->b[i]->listed && cl->b[i]->up);
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

static bool routable(const backend *be, bool healthy_only, int64_t now)
{
    return be->listed && now >= be->redial_at_ms && !(healthy_only && be->down);
}

/* Picks the backend for a call, avoiding `avoid` (a retry); NULL when none
 * may be dialed now (*retry_at: when one may). Counts the call in flight. */
static backend *choose_locked(chati_rpc_client *cl, const backend *avoid, int64_t *retry_at)
{
    int64_t now = chati_mono_ms();
    backend *best = NULL;
    for (int pass = 0; pass < 2 && best == NULL; pass++) {
        /* First the healthy ones; failing that, any other: a probe verdict
         * may be stale, and trying beats failing outright. */
        for (size_t k = 0; k < cl->nb; k++) {
            backend *be = cl->b[(cl->turn + k) % cl->nb];
            if (be != avoid && routable(be, pass == 0, now) &&
                (best == NULL || be->inflight < best->inflight))
                best = be;
        }
    }
    if (best) {
        best->inflight++;
        cl->turn++;
        return best;
    }
    *retry_at = INT64_MAX;
    for (size_t k = 0; k < cl->nb; k++)
        if (cl->b[k] != avoid && cl->b[k]->listed && cl->b[k]->redial_at_ms < *retry_at)
            *retry_at = cl->b[k]->redial_at_ms;
    return NULL;
}

size_t chati_rpc_client_live(chati_rpc_client *cl)
{
    size_t n = 0;
    int64_t now = chati_mono_ms();
    pthread_mutex_lock(&cl->mu);
    for (size_t i = 0; i < cl->nb; i++)
        n += routable(cl->b[i], true, now);
    pthread_mutex_unlock(&cl->mu);
    return n;
}

/* A dial to be failed: no other before the back-off. */
static void dial_failed_locked(backend *be)
{
    be->up = false;
    be->redial_ms = be->redial_ms ? be->redial_ms * 2 : REDIAL_MIN_MS;
    if (be->redial_ms > REDIAL_MAX_MS)
        be->redial_ms = REDIAL_MAX_MS;
    be->redial_at_ms = chati_mono_ms() + be->redial_ms;
}

static void dial_ok_locked(backend *be)
{
    be->up = true;
    be->down = false; /* a fresh connection: the server is up again */
    be->redial_ms = 0;
    be->redial_at_ms = 0;
}

/* An idle connection of be, or a new one dialed by deadline_ms. 0, or the
 * errno of the failed dial (why[] says more for TLS). */
static int conn_get(chati_rpc_client *cl, backend *be, int64_t deadline_ms, chati_wire_conn *out,
                    bool *pooled_conn, char *why, size_t whylen)
{
    for (;;) {
        pthread_mutex_lock(&cl->mu);
        pooled *p = be->idle;
        if (p) {
            be->idle = p->next;
            be->nidle--;
        }
        pthread_mutex_unlock(&cl->mu);
        if (p == NULL)
            break;
        *out = p->w;
        chat_free(p);
        if (chati_wire_idle_ok(out)) {
            *pooled_conn = true;
            return 0;
        }
        chati_wire_close(out); /* the server closed it while it idled */
    }
    *pooled_conn = false;
    pthread_mutex_lock(&cl->mu);
    chati_wire_addr addr = be->addr;
    pthread_mutex_unlock(&cl->mu);
    int e = chati_wire_dial(&addr, cl->tls, deadline_ms, out, why, whylen);
    /* A host name may point elsewhere by now: looked up again, unlocked. */
    chati_wire_addr again;
    bool reparsed = e != 0 && chati_wire_parse(be->url, &again) == CHAT_OK;
    chati_clear_errmsg();
    pthread_mutex_lock(&cl->mu);
    if (e == 0) {
        dial_ok_locked(be);
    } else {
        dial_failed_locked(be);
        if (reparsed)
            be->addr = again;
    }
    pthread_mutex_unlock(&cl->mu);
    return -e;
}

/* Ends a call on be: its connection goes back to the pool when the call
 * ended cleanly (one that timed out or failed is closed, so nothing of its
 * request lingers); failed marks be out of routing. */
static void call_done(chati_rpc_client *cl, backend *be, chati_wire_conn *w, bool reuse,
                      bool failed)
{
    pooled *p = NULL;
    if (reuse && w->fd >= 0 && (p = chat_malloc(sizeof *p)) != NULL) {
        p->w = *w;
        w->fd = -1;
        w->tls = NULL;
    }
    pthread_mutex_lock(&cl->mu);
    be->inflight--;
    if (failed) {
        be->down = true;
        be->up = false;
    }
    if (p && be->listed && be->nidle < IDLE_MAX) {
        p->next = be->idle;
        be->idle = p;
        be->nidle++;
        p = NULL;
    }
    pthread_mutex_unlock(&cl->mu);
    if (p) {
        w->fd = p->w.fd;
        w->tls = p->w.tls;
        chat_free(p);
    }
    chati_wire_close(w);
}

/* ---- a call ---- */

/* One request and its reply on be; msg stays the caller's. *sent: the
 * request may have reached the server. A dial or a send that failed did not
 * deliver a whole frame, and a server runs nothing less, so the caller may
 * give the request to another server then. */
static chat_err round_trip(chati_rpc_client *cl, backend *be, const char *what, nng_msg *msg,
                           int64_t deadline, nng_msg **reply, bool *sent)
{
    int64_t timeout_ms = deadline - chati_mono_ms();
    *sent = false;
    chati_wire_conn w = {-1, NULL};
    char why[256] = "";
    int e;
    for (int attempt = 0;; attempt++) {
        bool was_pooled = false;
        int64_t grace = chati_mono_ms() + CONNECT_GRACE_MS;
        e = conn_get(cl, be, grace < deadline ? grace : deadline, &w, &was_pooled, why,
                     sizeof why);
        if (e != 0) {
            call_done(cl, be, &w, false, false);
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                              "%s: cannot connect to the %s service at %s: %s", what, cl->name,
                              be->url, why[0] ? why : e == ETIMEDOUT ? "no answer" : strerror(e));
        }
        if (chati_mono_ms() >= deadline) {
            call_done(cl, be, &w, true, false);
            return chati_fail(CHAT_ERR_TIMEOUT, "%s: no time left to call the %s service",
                              what, cl->name);
        }
        if ((e = -chati_wire_send(&w, msg, deadline)) == 0)
            break;
        /* A pooled connection the server closed since: a fresh one. */
        if (was_pooled && attempt == 0 && e != ETIMEDOUT) {
            chati_wire_close(&w);
            continue;
        }
        call_done(cl, be, &w, false, true);
        if (e == ETIMEDOUT)
            return chati_fail(CHAT_ERR_TIMEOUT,
                              "%s: could not send to the %s service within %lld ms", what,
                              cl->name, (long long)timeout_ms);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service at %s: %s", what,
                          cl->name, be->url, strerror(e));
    }
    *sent = true;
    e = -chati_wire_recv(&w, RECV_MAX, deadline, reply);
    if (e != 0) {
        call_done(cl, be, &w, false, true);
        if (e == ETIMEDOUT)
            return chati_fail(CHAT_ERR_TIMEOUT, "%s: no reply from the %s service within %lld ms",
                              what, cl->name, (long long)timeout_ms);
        if (e == ECONNRESET || e == EPIPE || e == EPROTO)
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE,
                              "%s: the %s server at %s went away during the call", what,
                              cl->name, be->url);
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "%s: %s service at %s: %s", what,
                          cl->name, be->url, strerror(e));
    }
    call_done(cl, be, &w, true, false);
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

static chat_err unreachable(chati_rpc_client *cl)
{
    pthread_mutex_lock(&cl->mu);
    char where[200] = "";
    for (size_t i = 0, n = 0; i < cl->nb; i++)
        if (cl->b[i]->listed && n++ < 2)
            snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s",
                     n > 1 ? ", " : "", cl->b[i]->url);
    pthread_mutex_unlock(&cl->mu);
    return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "no %s server reachable (%s)", cl->name,
                      where);
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
    const backend *avoid = info->avoid;
    bool retried = false;
    int64_t grace = chati_mono_ms() + CONNECT_GRACE_MS;
    if (grace > deadline_ms)
        grace = deadline_ms;
    rv = CHAT_OK;
    for (;;) {
        int64_t retry_at = 0;
        pthread_mutex_lock(&cl->mu);
        backend *be = choose_locked(cl, avoid, &retry_at);
        pthread_mutex_unlock(&cl->mu);
        if (be == NULL) {
            /* None may be dialed now: wait for the first back-off to end,
             * within the grace for a first connection. */
            int64_t now = chati_mono_ms();
            if (retry_at != INT64_MAX && retry_at < grace) {
                pthread_mutex_lock(&cl->mu);
                if (!cl->stop)
                    chati_cond_wait_until(&cl->cv, &cl->mu, retry_at > now ? retry_at : now + 1);
                pthread_mutex_unlock(&cl->mu);
                continue;
            }
            nng_msg_free(req);
            return rv != CHAT_OK ? rv : unreachable(cl); /* the last failure says more */
        }
        bool sent = false;
        rv = round_trip(cl, be, what, req, deadline_ms, reply, &sent);
        info->server = be;
        if (rv == CHAT_OK || chati_mono_ms() >= deadline_ms || rv != CHAT_ERR_SERVICE_UNAVAILABLE) {
            nng_msg_free(req);
            return rv; /* a timeout used the caller's time up */
        }
        if (!sent) {
            /* Nothing reached be: any other address may take it. */
            if (chati_mono_ms() >= grace) {
                nng_msg_free(req);
                return rv;
            }
            continue;
        }
        if (!(flags & CHATI_RPC_SAFE) || retried) {
            nng_msg_free(req);
            return rv;
        }
        retried = true;
        avoid = be;
        info->resent = true;
        grace = deadline_ms;
    }
}

/* ---- health probes ---- */

/* Probes every listed address; marks each up or down. The requests go out
 * first and the replies are read after, each with its own timeout, so a
 * slow server costs the round its timeout once and no other server its
 * verdict. */
static void probe_round(chati_rpc_client *cl)
{
    pthread_mutex_lock(&cl->mu);
    size_t n = cl->nb;
    backend **v = chat_calloc(n ? n : 1, sizeof *v);
    chati_wire_addr *addrs = chat_calloc(n ? n : 1, sizeof *addrs);
    size_t k = 0;
    for (size_t i = 0; v && addrs && i < n; i++) {
        backend *be = cl->b[i];
        if (be->listed) {
            addrs[k] = be->addr;
            v[k++] = be;
        } else if (be->probe.fd >= 0) {
            chati_wire_close(&be->probe); /* the prober's own: no lock needed */
        }
    }
    pthread_mutex_unlock(&cl->mu);
    /* 0: not probed; 1: the dial failed; 2: the request went out. */
    uint8_t *started = chat_calloc(k ? k : 1, sizeof *started);
    int64_t *sent_at = chat_calloc(k ? k : 1, sizeof *sent_at);
    nng_msg *m = NULL;
    if (started == NULL || sent_at == NULL || nng_msg_alloc(&m, 0) != 0 ||
        nng_msg_append(m, cl->probe_frame, cl->probe.len) != 0)
        k = 0;
    for (size_t i = 0; i < k; i++) {
        backend *be = v[i];
        if (be->probe.fd >= 0 && !chati_wire_idle_ok(&be->probe))
            chati_wire_close(&be->probe); /* the server restarted since */
        if (be->probe.fd < 0) {
            char why[256];
            if (chati_wire_dial(&addrs[i], cl->tls, chati_mono_ms() + CONNECT_GRACE_MS,
                                &be->probe, why, sizeof why) != 0) {
                started[i] = 1;
                continue;
            }
        }
        sent_at[i] = chati_mono_ms();
        if (chati_wire_send(&be->probe, m, sent_at[i] + PROBE_TIMEOUT_MS) != 0) {
            chati_wire_close(&be->probe);
            continue;
        }
        started[i] = 2;
    }
    for (size_t i = 0; i < k; i++) {
        backend *be = v[i];
        bool ok = false;
        if (started[i] == 2) {
            nng_msg *r = NULL;
            if (chati_wire_recv(&be->probe, RECV_MAX, sent_at[i] + PROBE_TIMEOUT_MS, &r) == 0) {
                ok = cl->probe.ok(cl->probe.arg, r);
                nng_msg_free(r);
            } else {
                chati_wire_close(&be->probe); /* a reply may still come: not reused */
            }
        }
        pthread_mutex_lock(&cl->mu);
        be->down = !ok;
        if (ok)
            dial_ok_locked(be);
        else if (started[i] == 1)
            dial_failed_locked(be);
        pthread_mutex_unlock(&cl->mu);
    }
    if (m)
        nng_msg_free(m);
    chat_free(started);
    chat_free(sent_at);
    chat_free(addrs);
    chat_free(v);
}

static void *probe_main(void *arg)
{
    chati_thread_name("rpc-probe");
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
    cl->tls_err = chati_tls_conf_new(tls, false, "a tls+tcp:// address", &cl->tls);
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
        pool_free(be->idle);
        chati_wire_close(&be->probe);
        chat_free(be->url);
        chat_free(be);
    }
    chati_tls_conf_free(cl->tls);
    chat_free(cl->b);
    chat_free(cl->probe_frame);
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->mu);
    chat_free(cl);
}
