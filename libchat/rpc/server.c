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
 *
 * No thread ever waits on a peer: reads and writes are non-blocking, a reply
 * the socket cannot take at once stays on its connection, armed for
 * writable. Once a second a thread sweeps the connections: one that has sat
 * in a handshake, a hello or half a frame, or a reply the peer does not
 * read, without progress for STALL_MS is shut down (its owner then closes
 * it). At opts->workers connections the listener is disarmed and new ones
 * wait in the kernel's backlog.
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
/* A connection that makes no progress this long in the middle of something
 * (a handshake, a frame, a reply) is shut down. Idle between requests is
 * fine: clients keep their connections pooled. */
#define STALL_MS 30000
#define SWEEP_MS 1000
/* A frame's buffer starts this large and grows as its bytes arrive, so a
 * length alone reserves no memory. */
#define FIRST_CHUNK (64u << 10)

enum { STAGE_IDLE, STAGE_BUSY, STAGE_WRITING };

typedef struct conn {
    chati_wire_conn w;
    bool handshaken;            /* TLS done, or none */
    uint8_t hello[CHATI_WIRE_HELLO_LEN];
    size_t hello_got;
    uint8_t hdr[4];
    size_t hdr_got;
    uint32_t frame_len;         /* of the frame being read, once hdr_got == 4 */
    nng_msg *req;               /* the frame being read, then the request */
    size_t body_got;
    int64_t recv_us;
    nng_msg *out;               /* a reply (header included) being written */
    size_t out_off;
    short want;                 /* what the next step waits for */
    _Atomic int stage;          /* STAGE_*, for the sweep */
    _Atomic int64_t progress_ms; /* the last byte read or written (mono ms) */
    struct conn *prev, *next;   /* every connection, for stop and the sweep */
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
    bool parked;                /* the listener is disarmed (full, or out of fds) */
    conn *qhead, *qtail;
    int serving;                /* threads inside serve() */
    int inflight;               /* requests read and not yet answered */
    bool stopping;              /* refuse new requests */
    bool closing;               /* threads leave */
    _Atomic int64_t swept_ms;
    _Atomic uint64_t served;
};

/* epoll tags besides connections */
static char listener_tag, waker_tag;

static void arm(chati_rpc_server *srv, conn *c)
{
    struct epoll_event ev = {.events = (uint32_t)(c->want == POLLOUT ? EPOLLOUT : EPOLLIN) |
                                       EPOLLONESHOT | EPOLLRDHUP,
                             .data.ptr = c};
    if (epoll_ctl(srv->ep, EPOLL_CTL_MOD, c->w.fd, &ev) != 0)
        shutdown(c->w.fd, SHUT_RDWR); /* cannot happen; if it did, no thread would own c */
}

static void arm_listener(chati_rpc_server *srv)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &listener_tag};
    epoll_ctl(srv->ep, EPOLL_CTL_MOD, srv->lfd, &ev);
}

/* Whether the parked listener may take connections again (srv->mu held);
 * the caller arms it after unlocking. */
static bool unpark_locked(chati_rpc_server *srv)
{
    bool unpark = srv->parked && !srv->closing && srv->nconns < srv->nconns_max;
    if (unpark)
        srv->parked = false;
    return unpark;
}

/* One request answered (or dropped): counted once, whatever became of it. */
static void request_done(chati_rpc_server *srv)
{
    atomic_fetch_add_explicit(&srv->served, 1, memory_order_relaxed);
    pthread_mutex_lock(&srv->mu);
    if (--srv->inflight == 0)
        pthread_cond_broadcast(&srv->idle_cv);
    pthread_mutex_unlock(&srv->mu);
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
    bool unpark = unpark_locked(srv);
    pthread_mutex_unlock(&srv->mu);
    if (unpark)
        arm_listener(srv);
    chati_wire_close(&c->w);
    if (c->req)
        nng_msg_free(c->req);
    if (c->out) {
        nng_msg_free(c->out);
        request_done(srv);
    }
    chat_free(c);
}

static void progress(conn *c)
{
    atomic_store_explicit(&c->progress_ms, chati_mono_ms(), memory_order_relaxed);
}

static void accept_all(chati_rpc_server *srv)
{
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        bool full = srv->closing || srv->nconns >= srv->nconns_max;
        if (full)
            srv->parked = true; /* conn_close arms the listener again */
        pthread_mutex_unlock(&srv->mu);
        if (full)
            return;
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* Out of descriptors: the sweep tries again in a second,
                 * rather than spinning on a listener that stays readable. */
                pthread_mutex_lock(&srv->mu);
                srv->parked = true;
                pthread_mutex_unlock(&srv->mu);
                return;
            }
            break;
        }
        conn *c = chat_calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* A peer host that vanished without a FIN drops out in about 90 s. */
        int idle = 60, intvl = 10, cnt = 3;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        c->w.fd = fd;
        c->w.tls = NULL;
        c->handshaken = srv->tls == NULL;
        c->want = POLLIN;
        atomic_init(&c->stage, STAGE_BUSY); /* until the hello is in */
        atomic_init(&c->progress_ms, chati_mono_ms());
        if (srv->tls && chati_tls_new(srv->tls, fd, &c->w.tls) != CHAT_OK) {
            close(fd);
            chat_free(c);
            continue;
        }
        pthread_mutex_lock(&srv->mu);
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->nconns++;
        pthread_mutex_unlock(&srv->mu);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            conn_close(srv, c);
    }
    arm_listener(srv);
}

/* Shuts down what has stalled (see the top of the file) and wakes the
 * listener parked for want of descriptors. Any thread, once a second. */
static void sweep(chati_rpc_server *srv)
{
    int64_t now = chati_mono_ms();
    int64_t last = atomic_load(&srv->swept_ms);
    if (now - last < SWEEP_MS || !atomic_compare_exchange_strong(&srv->swept_ms, &last, now))
        return;
    pthread_mutex_lock(&srv->mu);
    /* The fd stays open while c is listed: conn_close unlinks first. */
    for (conn *c = srv->conns; c; c = c->next)
        if (atomic_load(&c->stage) != STAGE_IDLE &&
            now - atomic_load(&c->progress_ms) > STALL_MS)
            shutdown(c->w.fd, SHUT_RDWR);
    bool unpark = unpark_locked(srv);
    pthread_mutex_unlock(&srv->mu);
    if (unpark)
        arm_listener(srv);
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
            progress(c);
            continue;
        }
        if (c->hello_got < CHATI_WIRE_HELLO_LEN) {
            r = chati_wire_read_some(&c->w, c->hello + c->hello_got,
                                     CHATI_WIRE_HELLO_LEN - c->hello_got, &want);
            if (r > 0 && (c->hello_got += (size_t)r) == CHATI_WIRE_HELLO_LEN) {
                if (memcmp(c->hello, CHATI_WIRE_HELLO, CHATI_WIRE_HELLO_LEN) != 0)
                    return -1; /* not our protocol (an nng REQ peer, a stray client) */
                atomic_store(&c->stage, STAGE_IDLE);
            }
        } else if (c->hdr_got < 4) {
            r = chati_wire_read_some(&c->w, c->hdr + c->hdr_got, 4 - c->hdr_got, &want);
            if (r > 0) {
                atomic_store(&c->stage, STAGE_BUSY);
                if ((c->hdr_got += (size_t)r) == 4) {
                    c->frame_len = chati_wire_len(c->hdr);
                    size_t first = c->frame_len < FIRST_CHUNK ? c->frame_len : FIRST_CHUNK;
                    if (c->frame_len > srv->opts.recv_max || nng_msg_alloc(&c->req, first) != 0)
                        return -1;
                    c->body_got = 0;
                }
            }
        } else {
            size_t have = nng_msg_len(c->req);
            if (c->body_got == have && have < c->frame_len) {
                size_t grow = have * 2 < c->frame_len ? have * 2 : c->frame_len;
                if (nng_msg_realloc(c->req, grow) != 0)
                    return -1;
                have = grow;
            }
            r = have == c->body_got ? 1 /* an empty frame */
                : chati_wire_read_some(&c->w, (uint8_t *)nng_msg_body(c->req) + c->body_got,
                                       have - c->body_got, &want);
            if (r > 0 && have > 0)
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
        progress(c);
        if (c->hdr_got == 4 && c->body_got == c->frame_len) {
            c->hdr_got = 0;
            c->recv_us = chati_mono_us();
            atomic_store(&c->stage, STAGE_IDLE); /* in the handler's hands now */
            return 1;
        }
    }
}

/* Writes what it can of c's reply: when all of it went, the request is done
 * and c waits for the next one; when the socket is full, c waits for room. */
static void conn_write(chati_rpc_server *srv, conn *c)
{
    for (;;) {
        size_t len = nng_msg_len(c->out);
        if (c->out_off == len)
            break;
        short want;
        ssize_t r = chati_wire_write_some(&c->w, (uint8_t *)nng_msg_body(c->out) + c->out_off,
                                          len - c->out_off, &want);
        if (r > 0) {
            c->out_off += (size_t)r;
            progress(c);
        } else if (r == -EAGAIN) {
            c->want = want;
            arm(srv, c);
            return;
        } else {
            conn_close(srv, c); /* counts the request done */
            return;
        }
    }
    nng_msg_free(c->out);
    c->out = NULL;
    atomic_store(&c->stage, STAGE_IDLE);
    request_done(srv);
    /* Bytes TLS already decrypted do not make the socket readable: arm for
     * writable, which fires at once, and the next read finds them. */
    c->want = c->w.tls && chati_tls_pending(c->w.tls) > 0 ? POLLOUT : POLLIN;
    arm(srv, c);
}

/* Sends reply (taken; NULL drops the request, which the caller sees as a
 * timeout) and waits for c's next request. */
static void reply(chati_rpc_server *srv, conn *c, nng_msg *msg)
{
    pthread_mutex_lock(&srv->mu);
    bool closing = srv->closing; /* past the drain: the reply goes with the connection */
    pthread_mutex_unlock(&srv->mu);
    uint8_t hdr[4];
    if (msg && !closing && nng_msg_len(msg) <= UINT32_MAX) {
        chati_wire_hdr((uint32_t)nng_msg_len(msg), hdr);
        if (nng_msg_insert(msg, hdr, 4) == 0) {
            c->out = msg;
            c->out_off = 0;
            atomic_store(&c->stage, STAGE_WRITING);
            progress(c);
            conn_write(srv, c);
            return;
        }
    }
    if (msg)
        nng_msg_free(msg);
    request_done(srv);
    if (closing) {
        conn_close(srv, c);
        return;
    }
    atomic_store(&c->stage, STAGE_IDLE);
    c->want = POLLIN;
    arm(srv, c);
}

static void serve_one(chati_rpc_server *srv, conn *c)
{
    nng_msg *req = c->req;
    c->req = NULL;
    nng_msg *out = srv->h.serve(srv->h.arg, req, c->recv_us);
    nng_msg_free(req);
    reply(srv, c, out);
}

/* c holds a whole request: answer it at once, run it here, or queue it. */
static void dispatch(chati_rpc_server *srv, conn *c)
{
    pthread_mutex_lock(&srv->mu);
    srv->inflight++;
    bool stopping = srv->stopping;
    pthread_mutex_unlock(&srv->mu);

    nng_msg *out = NULL;
    if (srv->h.triage(srv->h.arg, c->req, stopping, &out) || stopping) {
        nng_msg_free(c->req);
        c->req = NULL;
        reply(srv, c, out);
        return;
    }
    /* Run it here, or queue it: decided with the queue in hand, so that a
     * serving thread that finds the queue empty and stops serving cannot
     * miss it. */
    pthread_mutex_lock(&srv->mu);
    bool run = srv->serving < srv->opts.threads;
    if (run) {
        srv->serving++;
    } else {
        c->qnext = NULL;
        if (srv->qtail)
            srv->qtail->qnext = c;
        else
            srv->qhead = c;
        srv->qtail = c;
    }
    pthread_mutex_unlock(&srv->mu);
    if (!run)
        return;
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
        int n = epoll_wait(srv->ep, &ev, 1, SWEEP_MS);
        if (n < 0 && errno != EINTR)
            chati_sleep_ms(10); /* cannot happen with a valid epoll fd; do not spin */
        sweep(srv);
        if (n <= 0)
            continue;
        if (ev.data.ptr == &waker_tag)
            return NULL; /* closing: the eventfd stays readable and wakes every thread */
        if (ev.data.ptr == &listener_tag) {
            accept_all(srv);
            continue;
        }
        conn *c = ev.data.ptr;
        if (c->out) {
            conn_write(srv, c);
            continue;
        }
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
