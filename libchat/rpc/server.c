/*
 * The RPC server: a listening socket and its connections in one epoll set,
 * waited on by threads + 1 threads. Every connection is armed EPOLLONESHOT,
 * so exactly one thread owns it from the moment it is ready until it is
 * armed again: the thread reads the request, runs it and writes the reply
 * itself. A call thus costs one wake-up on this side, where nng's REQ/REP
 * cost about nine (poller, task queue, worker, and back).
 *
 * At most opts->threads requests run serve() at once (handlers block on
 * SQLite or argon2); the one thread more is always free to accept, to answer
 * what triage() answers at once (health probes among them) and to queue the
 * rest, which the serving threads take before they wait again. A client
 * sends one request per connection at a time and the connection is not read
 * again until its reply is sent, so the queue holds at most one request per
 * connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <nng/nng.h>

#include "rpc/rpc.h"
#include "rpc/tls_session.h"
#include "rpc/wire.h"

#define DEFAULT_DRAIN_MS 10000
#define MAX_THREADS 256
#define MAX_CONNS 65536
#define DEFAULT_RECV_MAX (256u << 20)
/* A client that does not read its reply for this long loses the connection. */
#define REPLY_WRITE_MS 30000

typedef struct conn {
    chati_wire_conn w;
    bool handshaken;            /* TLS done, or none */
    uint8_t hello[CHATI_WIRE_HELLO_LEN];
    size_t hello_got;
    uint8_t hdr[4];
    size_t hdr_got;
    nng_msg *req;               /* the frame being read, then the request */
    size_t body_got;
    int64_t recv_us;
    short want;                 /* what the next read waits for */
    struct conn *prev, *next;   /* every connection, for stop */
    struct conn *qnext;         /* the queue of requests waiting for a thread */
} conn;

struct chati_rpc_server {
    chati_rpc_server_opts opts;
    chati_rpc_handler h;
    char url[320];
    char ipc_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct chati_tls_conf *tls;
    int lfd, ep, wake;
    int nconns_max;

    pthread_t *threads;
    int nthreads;               /* started */

    pthread_mutex_t mu;
    pthread_cond_t idle_cv;     /* inflight reached 0 (monotonic clock) */
    conn *conns;
    int nconns;
    conn *qhead, *qtail;
    int serving;                /* threads inside serve() */
    int inflight;               /* requests read and not yet answered */
    bool stopping;              /* refuse new requests */
    bool closing;               /* threads leave */
    _Atomic uint64_t served;
};

/* epoll tags besides connections */
static char listener_tag, waker_tag;

static void arm(chati_rpc_server *srv, conn *c)
{
    struct epoll_event ev = {.events = (uint32_t)(c->want == POLLOUT ? EPOLLOUT : EPOLLIN) |
                                       EPOLLONESHOT | EPOLLRDHUP,
                             .data.ptr = c};
    epoll_ctl(srv->ep, EPOLL_CTL_MOD, c->w.fd, &ev);
}

static void conn_close(chati_rpc_server *srv, conn *c)
{
    epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->w.fd, NULL);
    pthread_mutex_lock(&srv->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    pthread_mutex_unlock(&srv->mu);
    chati_wire_close(&c->w);
    if (c->req)
        nng_msg_free(c->req);
    chat_free(c);
}

static void accept_all(chati_rpc_server *srv)
{
    for (;;) {
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* EAGAIN, or out of descriptors: try at the next event */
        }
        conn *c = chat_calloc(1, sizeof *c);
        pthread_mutex_lock(&srv->mu);
        bool room = c != NULL && !srv->closing && srv->nconns < srv->nconns_max;
        if (room) {
            c->next = srv->conns;
            if (srv->conns)
                srv->conns->prev = c;
            srv->conns = c;
            srv->nconns++;
        }
        pthread_mutex_unlock(&srv->mu);
        if (!room) {
            close(fd);
            chat_free(c);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->w.fd = fd;
        c->w.tls = NULL;
        c->handshaken = srv->tls == NULL;
        c->want = POLLIN;
        if (srv->tls && chati_tls_new(srv->tls, fd, &c->w.tls) != CHAT_OK) {
            conn_close(srv, c);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            conn_close(srv, c);
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &listener_tag};
    epoll_ctl(srv->ep, EPOLL_CTL_MOD, srv->lfd, &ev);
}

/* Reads what is there: 1 when c->req holds a whole request, 0 when more is
 * needed (c->want says for what), -1 when the connection is to be closed. */
static int conn_read(chati_rpc_server *srv, conn *c)
{
    for (;;) {
        ssize_t r;
        short want = POLLIN;
        if (!c->handshaken) {
            int h = chati_tls_handshake(c->w.tls);
            if (h == CHATI_TLS_FAILED)
                return -1;
            if (h != 0) {
                c->want = h == CHATI_TLS_WANT_WRITE ? POLLOUT : POLLIN;
                return 0;
            }
            c->handshaken = true;
            continue;
        }
        if (c->hello_got < CHATI_WIRE_HELLO_LEN) {
            r = chati_wire_read_some(&c->w, c->hello + c->hello_got,
                                     CHATI_WIRE_HELLO_LEN - c->hello_got, &want);
            if (r > 0 && (c->hello_got += (size_t)r) == CHATI_WIRE_HELLO_LEN &&
                memcmp(c->hello, CHATI_WIRE_HELLO, CHATI_WIRE_HELLO_LEN) != 0)
                return -1; /* not our protocol (an nng REQ peer, a stray client) */
        } else if (c->hdr_got < 4) {
            r = chati_wire_read_some(&c->w, c->hdr + c->hdr_got, 4 - c->hdr_got, &want);
            if (r > 0 && (c->hdr_got += (size_t)r) == 4) {
                uint32_t len = chati_wire_len(c->hdr);
                if (len > srv->opts.recv_max || nng_msg_alloc(&c->req, len) != 0)
                    return -1;
                c->body_got = 0;
            }
        } else {
            size_t len = nng_msg_len(c->req);
            r = len == c->body_got ? 1 /* empty */
                : chati_wire_read_some(&c->w, (uint8_t *)nng_msg_body(c->req) + c->body_got,
                                       len - c->body_got, &want);
            if (r > 0 && len > 0)
                c->body_got += (size_t)r;
        }
        if (r == 0)
            return -1;
        if (r < 0) {
            if (r != -EAGAIN)
                return -1;
            c->want = want;
            return 0;
        }
        if (c->hdr_got == 4 && c->body_got == nng_msg_len(c->req)) {
            c->hdr_got = 0;
            c->recv_us = chati_mono_us();
            return 1;
        }
    }
}

/* Sends reply (taken; NULL drops the request, which the caller sees as a
 * timeout), counts the request answered and waits for c's next request. */
static void reply_and_rearm(chati_rpc_server *srv, conn *c, nng_msg *reply)
{
    pthread_mutex_lock(&srv->mu);
    bool ok = !srv->closing; /* past the drain: the reply is dropped with the connection */
    pthread_mutex_unlock(&srv->mu);
    if (reply) {
        ok = ok && chati_wire_send(&c->w, reply, chati_mono_ms() + REPLY_WRITE_MS) == 0;
        nng_msg_free(reply);
    }
    atomic_fetch_add_explicit(&srv->served, 1, memory_order_relaxed);
    pthread_mutex_lock(&srv->mu);
    if (--srv->inflight == 0)
        pthread_cond_broadcast(&srv->idle_cv);
    pthread_mutex_unlock(&srv->mu);
    if (!ok) {
        conn_close(srv, c);
        return;
    }
    /* Bytes TLS already decrypted do not make the socket readable: arm for
     * writable, which fires at once, and the next read finds them. */
    c->want = c->w.tls && chati_tls_pending(c->w.tls) > 0 ? POLLOUT : POLLIN;
    arm(srv, c);
}

static void serve_one(chati_rpc_server *srv, conn *c)
{
    nng_msg *req = c->req;
    c->req = NULL;
    nng_msg *reply = srv->h.serve(srv->h.arg, req, c->recv_us);
    nng_msg_free(req);
    reply_and_rearm(srv, c, reply);
}

/* c holds a whole request: answer it at once, run it here, or queue it. */
static void dispatch(chati_rpc_server *srv, conn *c)
{
    pthread_mutex_lock(&srv->mu);
    srv->inflight++;
    bool stopping = srv->stopping;
    bool run = !stopping && srv->serving < srv->opts.threads;
    if (run)
        srv->serving++;
    pthread_mutex_unlock(&srv->mu);

    nng_msg *reply = NULL;
    if (srv->h.triage(srv->h.arg, c->req, stopping, &reply) || stopping) {
        nng_msg_free(c->req);
        c->req = NULL;
        if (run) {
            pthread_mutex_lock(&srv->mu);
            srv->serving--;
            pthread_mutex_unlock(&srv->mu);
        }
        reply_and_rearm(srv, c, reply);
        return;
    }
    if (!run) {
        pthread_mutex_lock(&srv->mu);
        c->qnext = NULL;
        if (srv->qtail)
            srv->qtail->qnext = c;
        else
            srv->qhead = c;
        srv->qtail = c;
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    /* Then what queued up meanwhile, before this thread waits again. */
    for (conn *next = c; next;) {
        serve_one(srv, next);
        pthread_mutex_lock(&srv->mu);
        /* Past the drain, what is queued is closed unanswered by stop. */
        if ((next = srv->closing ? NULL : srv->qhead) != NULL &&
            (srv->qhead = next->qnext) == NULL)
            srv->qtail = NULL;
        if (next == NULL)
            srv->serving--;
        pthread_mutex_unlock(&srv->mu);
    }
}

static void *thread_main(void *arg)
{
    chati_thread_name("rpc-serve");
    chati_rpc_server *srv = arg;
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(srv->ep, &ev, 1, -1);
        if (n < 0 && errno != EINTR)
            return NULL;
        if (n <= 0)
            continue;
        if (ev.data.ptr == &waker_tag)
            return NULL; /* closing: the eventfd stays readable and wakes every thread */
        if (ev.data.ptr == &listener_tag) {
            accept_all(srv);
            continue;
        }
        conn *c = ev.data.ptr;
        int r = conn_read(srv, c);
        if (r < 0)
            conn_close(srv, c);
        else if (r == 0)
            arm(srv, c);
        else
            dispatch(srv, c);
    }
}

/* ---- start / stop ---- */

static void server_free(chati_rpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    srv->closing = true;
    pthread_mutex_unlock(&srv->mu);
    if (srv->wake >= 0) {
        uint64_t one = 1;
        ssize_t w = write(srv->wake, &one, sizeof one);
        (void)w;
    }
    for (int i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
    /* No thread is left: what is still open (idle, or queued past the
     * drain) is closed unanswered. */
    while (srv->conns)
        conn_close(srv, srv->conns);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->ipc_path[0])
        unlink(srv->ipc_path);
    if (srv->ep >= 0)
        close(srv->ep);
    if (srv->wake >= 0)
        close(srv->wake);
    chati_tls_conf_free(srv->tls);
    chat_free(srv->threads);
    pthread_cond_destroy(&srv->idle_cv);
    pthread_mutex_destroy(&srv->mu);
    chat_free(srv);
}

static void bound_url(chati_rpc_server *srv, const char *url, int port)
{
    snprintf(srv->url, sizeof srv->url, "%s", url);
    const char *colon = strrchr(url, ':');
    const char *bracket = strrchr(url, ']');
    if (port <= 0 || strncmp(url, "ipc://", 6) == 0 || colon == NULL ||
        (bracket && bracket > colon))
        return;
    snprintf(srv->url, sizeof srv->url, "%.*s:%d", (int)(colon - url), url, port);
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
    if (opts->workers < 1 || opts->workers > MAX_CONNS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc connections must be 1..%d, not %d",
                          MAX_CONNS, opts->workers);
    if (opts->threads < 1 || opts->threads > MAX_THREADS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "rpc threads must be 1..%d, not %d",
                          MAX_THREADS, opts->threads);
    chati_wire_addr addr;
    chat_err err = chati_wire_parse(listen_url, &addr);
    if (err != CHAT_OK)
        return err;
    chati_rpc_server *srv = chat_calloc(1, sizeof *srv);
    if (srv == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rpc server");
    srv->opts = *opts;
    srv->opts.tls = NULL;
    srv->h = *h;
    srv->lfd = srv->ep = srv->wake = -1;
    srv->nconns_max = opts->workers;
    if (srv->opts.drain_ms <= 0)
        srv->opts.drain_ms = DEFAULT_DRAIN_MS;
    if (srv->opts.recv_max == 0)
        srv->opts.recv_max = DEFAULT_RECV_MAX;
    atomic_init(&srv->served, 0);
    pthread_mutex_init(&srv->mu, NULL);
    chati_cond_init(&srv->idle_cv);

    if (addr.tls && (err = chati_tls_conf_new(opts->tls, true, listen_url, &srv->tls)) != CHAT_OK)
        goto fail;
    int port = 0;
    if ((srv->lfd = chati_wire_listen(&addr, &port)) < 0) {
        int e = -srv->lfd;
        err = chati_fail(e == EADDRINUSE ? CHAT_ERR_SERVICE_UNAVAILABLE
                         : e == EADDRNOTAVAIL || e == EAFNOSUPPORT ? CHAT_ERR_INVALID_CONFIG
                                                                   : CHAT_ERR_SERVICE_UNAVAILABLE,
                         "listen on %s: %s", listen_url, strerror(e));
        goto fail;
    }
    if (addr.ipc)
        snprintf(srv->ipc_path, sizeof srv->ipc_path, "%s",
                 ((struct sockaddr_un *)&addr.sa)->sun_path);
    srv->threads = chat_calloc((size_t)srv->opts.threads + 1, sizeof *srv->threads);
    if (srv->threads == NULL || (srv->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (srv->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        err = chati_fail(CHAT_ERR_NOMEM, "rpc server: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event lev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &listener_tag};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = (void *)&waker_tag};
    if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->lfd, &lev) != 0 ||
        epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->wake, &wev) != 0) {
        err = chati_fail(CHAT_ERR_INTERNAL, "rpc server epoll: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i <= srv->opts.threads; i++) {
        int rv = pthread_create(&srv->threads[i], NULL, thread_main, srv);
        if (rv != 0) {
            err = chati_fail(CHAT_ERR_INTERNAL, "rpc server thread: %s", strerror(rv));
            goto fail;
        }
        srv->nthreads++;
    }
    bound_url(srv, listen_url, port);
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
