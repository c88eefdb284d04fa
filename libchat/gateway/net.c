/* The gateway's sockets: epoll loops, reads handed to a protocol, output
 * queues written with one sendmsg each (see net.h for why). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/internal.h"
#include "net.h"
#include "net_tls.h"

#define SCRATCH (64 * 1024)     /* one read; per loop, not per socket */
#define MAX_INPUT (2u << 20)    /* unconsumed input a protocol may keep */
#define IOV_BATCH 64            /* pieces per sendmsg */
#define ACCEPT_BATCH 64         /* accepts per wake-up, for fairness */
#define TICK_MS 1000            /* how often idle timeouts are looked at */
#define TLS_STAGE 16384         /* plaintext gathered into one TLS record */

enum { PEND_FLUSH = 1, PEND_RESUME = 2, PEND_CLOSE = 4 };

typedef struct loop {
    gw_net *net;
    int ep, evfd;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;         /* pending, woken */
    gw_sock *pending;           /* sockets with work sent from other threads */
    bool woken;                 /* evfd written, not yet read */
    gw_sock *socks;             /* every open socket of this loop (loop thread) */
    gw_sock *closed;            /* closed this round; freed once no event of the
                                 * current epoll batch can point to them */
    char *scratch;
    int64_t next_tick;
    atomic_bool stop;
} loop;

struct gw_net {
    int lfd;
    int port;
    gw_accept_fn on_accept;
    void *arg;
    int n_loops;
    loop *loops;
    gw_tls *tls;                /* NULL: plain TCP */
};

struct gw_sock {
    loop *lp;
    int fd;
    atomic_int refs;
    const gw_sock_ops *ops;
    void *data;
    char peer[INET6_ADDRSTRLEN];
    /* TLS: every read and write on the loop thread */
    gw_tls_conn *tls;
    char *stage;                /* plaintext taken from the queue, being written */
    size_t stage_len, stage_off;
    bool tls_read_wants_out;    /* a read (handshake) waits for EPOLLOUT */

    /* loop thread only */
    char *in;                   /* unconsumed input */
    size_t in_len, in_cap;
    bool paused;                /* the protocol wants no bytes for now */
    bool readable;              /* the kernel may hold bytes not read yet */
    bool hup;                   /* the peer's FIN has come: read on to it */
    bool open;                  /* in the loop's list; on_close not yet run */
    atomic_int idle_ms;
    int64_t last_rx;
    _Atomic int64_t last_tx;    /* the last write that made progress: a slow
                                 * reader of a long answer is not idle */
    gw_sock *next, *prev;       /* loop->socks */

    /* under lp->mu */
    unsigned pend;
    gw_sock *pnext;

    /* under mu */
    pthread_mutex_t mu;
    gw_out *q;                  /* ring of pieces to write */
    size_t qhead, qlen, qcap;
    size_t q_bytes;             /* bytes queued, minus what of the first is written */
    size_t off;                 /* bytes of the first piece already written */
    bool writing;               /* a thread is writing; no one else may */
    bool want_out;              /* the kernel's buffer was full: wait for EPOLLOUT */
    bool out_edge;              /* EPOLLOUT came while someone was writing */
    bool resume_wait;           /* gw_sock_resume_below: resume once */
    size_t resume_below;        /* q_bytes is down to this */
    bool closing, linger;       /* gw_sock_close was called */
    bool dead;                  /* closed: sends are refused */
};

static _Thread_local loop *current_loop;

/* --------------------------------------------------------- pieces --- */

static void release(const gw_out *o)
{
    if (o->release)
        o->release(o->ref);
}

static size_t out_len(const gw_out *o)
{
    return o->head_len + o->len;
}

/* --------------------------------------------------------- pending --- */

static void wake(loop *lp)
{
    uint64_t one = 1;
    ssize_t r = write(lp->evfd, &one, sizeof one);
    (void)r; /* a full counter still wakes the loop */
}

/* Asks s's loop to do `what` for it soon. Any thread. */
static void schedule(gw_sock *s, unsigned what)
{
    loop *lp = s->lp;
    pthread_mutex_lock(&lp->mu);
    bool first = s->pend == 0;
    s->pend |= what;
    if (first) {
        gw_sock_ref(s);
        s->pnext = lp->pending;
        lp->pending = s;
    }
    bool need_wake = !lp->woken && current_loop != lp;
    if (need_wake)
        lp->woken = true;
    pthread_mutex_unlock(&lp->mu);
    if (need_wake)
        wake(lp);
}

/* ---------------------------------------------------------- writing --- */

/* Whether a gw_sock_resume_below waits no more (and clears it). s->mu held. */
static bool drained(gw_sock *s)
{
    if (!s->resume_wait || s->q_bytes > s->resume_below)
        return false;
    s->resume_wait = false;
    return true;
}

/* Writes the queue until it is empty or the kernel's buffer is full. The
 * caller has claimed s->writing under s->mu and released the lock. */
static void write_out_tls(gw_sock *s);

static void write_out(gw_sock *s)
{
    if (s->tls) {
        write_out_tls(s);
        return;
    }
    gw_out done[IOV_BATCH];
    size_t nd = 0;
    bool failed = false;
    for (;;) {
        for (size_t i = 0; i < nd; i++)
            release(&done[i]);
        nd = 0;
        struct iovec iov[IOV_BATCH];
        /* Heads live in the ring, which a sender may grow (and move) while
         * this thread writes unlocked: copied here. Data is stable. */
        unsigned char heads[IOV_BATCH][sizeof done[0].head];
        size_t n = 0, nh = 0, total = 0;
        pthread_mutex_lock(&s->mu);
        size_t skip = s->off;
        for (size_t i = 0; i < s->qlen && n + 2 <= IOV_BATCH; i++) {
            const gw_out *o = &s->q[(s->qhead + i) % s->qcap];
            if (skip < o->head_len) {
                memcpy(heads[nh], o->head + skip, o->head_len - skip);
                iov[n++] = (struct iovec){heads[nh++], o->head_len - skip};
                skip = 0;
            } else {
                skip -= o->head_len;
            }
            if (o->len > skip)
                iov[n++] = (struct iovec){(char *)o->data + skip, o->len - skip};
            skip = 0;
        }
        for (size_t i = 0; i < n; i++)
            total += iov[i].iov_len;
        if (n == 0 || s->dead)
            break; /* locked */
        s->out_edge = false;
        pthread_mutex_unlock(&s->mu);

        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

        pthread_mutex_lock(&s->mu);
        if (w < 0) {
            if (errno == EINTR) {
                pthread_mutex_unlock(&s->mu);
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (s->out_edge) { /* it became writable meanwhile: try again */
                    pthread_mutex_unlock(&s->mu);
                    continue;
                }
                s->want_out = true;
            } else {
                failed = true;
            }
            break; /* locked */
        }
        size_t left = (size_t)w;
        if (w > 0)
            atomic_store(&s->last_tx, chati_mono_ms());
        s->q_bytes -= left;
        while (left > 0) {
            gw_out *o = &s->q[s->qhead];
            size_t rest = out_len(o) - s->off;
            if (left < rest) {
                s->off += left;
                break;
            }
            left -= rest;
            s->off = 0;
            done[nd++] = *o;
            s->qhead = (s->qhead + 1) % s->qcap;
            s->qlen--;
        }
        if ((size_t)w < total) {
            /* Short: the buffer is full; EPOLLOUT says when it has room. */
            if (s->out_edge) {
                pthread_mutex_unlock(&s->mu);
                continue;
            }
            s->want_out = true;
            break; /* locked */
        }
        pthread_mutex_unlock(&s->mu);
    }
    /* locked */
    s->writing = false;
    bool close_now = failed || (s->closing && s->qlen == 0) || s->dead;
    bool resume = drained(s);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < nd; i++)
        release(&done[i]);
    if (close_now)
        schedule(s, PEND_CLOSE);
    if (resume)
        schedule(s, PEND_RESUME);
}

/* Moves queued plaintext into the stage (up to one record), releasing the
 * pieces it empties. s->mu held. */
static size_t fill_stage(gw_sock *s, gw_out *done, size_t *nd)
{
    while (s->qlen > 0 && s->stage_len < TLS_STAGE && *nd < IOV_BATCH) {
        gw_out *o = &s->q[s->qhead];
        size_t total = out_len(o);
        while (s->off < total && s->stage_len < TLS_STAGE) {
            const char *src;
            size_t n;
            if (s->off < o->head_len) {
                src = (const char *)o->head + s->off;
                n = o->head_len - s->off;
            } else {
                src = o->data + (s->off - o->head_len);
                n = total - s->off;
            }
            if (n > TLS_STAGE - s->stage_len)
                n = TLS_STAGE - s->stage_len;
            memcpy(s->stage + s->stage_len, src, n);
            s->stage_len += n;
            s->off += n;
            s->q_bytes -= n;
        }
        if (s->off < total)
            break;
        s->off = 0;
        done[(*nd)++] = *o;
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
    }
    return s->stage_len;
}

/* write_out for TLS, on the loop thread: the queue goes through a stage of
 * one record at a time (mbed TLS wants the same bytes again after WANT_WRITE). */
static void write_out_tls(gw_sock *s)
{
    gw_out done[IOV_BATCH];
    size_t nd = 0;
    bool failed = false, again = false;
    for (;;) {
        for (size_t i = 0; i < nd; i++)
            release(&done[i]);
        nd = 0;
        if (s->stage_off == s->stage_len) {
            s->stage_len = s->stage_off = 0;
            pthread_mutex_lock(&s->mu);
            if (s->stage == NULL && s->qlen > 0)
                s->stage = chat_malloc(TLS_STAGE);
            size_t n = s->stage && !s->dead ? fill_stage(s, done, &nd) : 0;
            pthread_mutex_unlock(&s->mu);
            if (n == 0)
                break;
        }
        long w = gw_tls_write(s->tls, s->stage + s->stage_off, s->stage_len - s->stage_off);
        if (w == GW_TLS_WANT_WRITE || w == GW_TLS_WANT_READ) {
            again = true;
            break;
        }
        if (w < 0) {
            failed = true;
            break;
        }
        s->stage_off += (size_t)w;
        if (w > 0)
            atomic_store(&s->last_tx, chati_mono_ms());
    }
    pthread_mutex_lock(&s->mu);
    s->writing = false;
    if (again)
        s->want_out = true;
    if (!again && s->qlen == 0) { /* an idle socket keeps no stage */
        chat_free(s->stage);
        s->stage = NULL;
        s->stage_len = s->stage_off = 0;
    }
    bool close_now = failed || (s->closing && s->qlen == 0 && s->stage_len == 0) || s->dead;
    bool resume = drained(s);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < nd; i++)
        release(&done[i]);
    if (close_now)
        schedule(s, PEND_CLOSE);
    if (resume)
        schedule(s, PEND_RESUME);
}

/* Claims the writer's turn if free and nothing waits on EPOLLOUT. s->mu held. */
static bool claim_write(gw_sock *s)
{
    if (s->writing || s->want_out || s->dead || (s->qlen == 0 && s->stage_off == s->stage_len))
        return false;
    s->writing = true;
    return true;
}

bool gw_sock_send(gw_sock *s, const gw_out *o, size_t max_queued, gw_send_mode mode)
{
    pthread_mutex_lock(&s->mu);
    if (s->dead || s->closing || (max_queued && s->q_bytes > max_queued)) {
        pthread_mutex_unlock(&s->mu);
        release(o);
        return false;
    }
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 4;
        gw_out *q = chat_malloc(cap * sizeof *q);
        if (q == NULL) {
            pthread_mutex_unlock(&s->mu);
            release(o);
            return false;
        }
        for (size_t i = 0; i < s->qlen; i++)
            q[i] = s->q[(s->qhead + i) % s->qcap];
        chat_free(s->q);
        s->q = q;
        s->qhead = 0;
        s->qcap = cap;
    }
    s->q[(s->qhead + s->qlen++) % s->qcap] = *o;
    s->q_bytes += out_len(o);
    if (mode == GW_SEND_LAST) {
        /* as gw_sock_close(s, true), under the same lock as the queueing:
         * the writer that empties the queue schedules the close */
        s->closing = true;
        s->linger = true;
        mode = GW_SEND_NOW;
    }
    if (s->tls && current_loop != s->lp)
        mode = GW_SEND_DEFER; /* mbed TLS: one thread per connection */
    bool write_here = mode == GW_SEND_NOW && claim_write(s);
    bool defer = mode == GW_SEND_DEFER && !s->writing && !s->want_out && s->qlen == 1;
    pthread_mutex_unlock(&s->mu);
    if (write_here)
        write_out(s);
    else if (defer)
        schedule(s, PEND_FLUSH); /* later pieces ride along with this one */
    return true;
}

static void free_bytes(void *p)
{
    chat_free(p);
}

static bool send_copy(gw_sock *s, const void *data, size_t len, gw_send_mode mode)
{
    char *copy = chat_malloc(len ? len : 1);
    if (copy == NULL)
        return false;
    memcpy(copy, data, len);
    gw_out o = {.data = copy, .len = len, .release = free_bytes, .ref = copy};
    return gw_sock_send(s, &o, 0, mode);
}

bool gw_sock_send_copy(gw_sock *s, const void *data, size_t len)
{
    return send_copy(s, data, len, GW_SEND_NOW);
}

bool gw_sock_send_last_copy(gw_sock *s, const void *data, size_t len)
{
    return send_copy(s, data, len, GW_SEND_LAST);
}

size_t gw_sock_queued(gw_sock *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->q_bytes;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ----------------------------------------------------------- sockets --- */

void gw_sock_ref(gw_sock *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void gw_sock_unref(gw_sock *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->qlen; i++)
        release(&s->q[(s->qhead + i) % s->qcap]);
    chat_free(s->q);
    chat_free(s->in);
    chat_free(s->stage);
    gw_tls_conn_free(s->tls);
    if (s->ops && s->ops->on_free)
        s->ops->on_free(s->data);
    pthread_mutex_destroy(&s->mu);
    chat_free(s);
}

void gw_sock_set_ops(gw_sock *s, const gw_sock_ops *ops, void *data)
{
    s->ops = ops;
    s->data = data;
}

void *gw_sock_data(const gw_sock *s)
{
    return s->data;
}

const char *gw_sock_peer(const gw_sock *s)
{
    return s->peer;
}

void gw_sock_pause(gw_sock *s)
{
    s->paused = true;
}

void gw_sock_resume(gw_sock *s)
{
    schedule(s, PEND_RESUME);
}

void gw_sock_resume_below(gw_sock *s, size_t bytes)
{
    pthread_mutex_lock(&s->mu);
    /* Otherwise a writer is at work or EPOLLOUT is awaited: the write that
     * brings the queue down resumes. */
    bool now = s->q_bytes <= bytes || s->dead;
    s->resume_wait = !now;
    s->resume_below = bytes;
    pthread_mutex_unlock(&s->mu);
    if (now)
        schedule(s, PEND_RESUME);
}

void gw_sock_set_idle_timeout(gw_sock *s, int ms)
{
    atomic_store(&s->idle_ms, ms);
}

void gw_sock_close(gw_sock *s, bool linger)
{
    pthread_mutex_lock(&s->mu);
    bool first = !s->closing;
    s->closing = true;
    s->linger = first ? linger : s->linger && linger;
    bool now = !s->linger || (s->qlen == 0 && !s->writing);
    pthread_mutex_unlock(&s->mu);
    if (now)
        schedule(s, PEND_CLOSE);
    /* else the writer that empties the queue schedules the close */
}

/* Closes for good, on the loop thread: the protocol's on_close runs, the
 * loop drops its reference. A writer still busy on another thread is waited
 * for: it schedules the close again when it is done. */
static void do_close(gw_sock *s)
{
    if (!s->open)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->writing) {
        s->dead = true; /* the writer stops at its next turn and calls back */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->dead = true;
    s->closing = true;
    gw_out *q = s->q;
    size_t qhead = s->qhead, qlen = s->qlen, qcap = s->qcap;
    s->q = NULL;
    s->qhead = s->qlen = s->qcap = 0;
    s->q_bytes = 0;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < qlen; i++)
        release(&q[(qhead + i) % qcap]);
    chat_free(q);

    s->open = false;
    loop *lp = s->lp;
    if (s->prev)
        s->prev->next = s->next;
    else
        lp->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    gw_tls_conn_free(s->tls);
    s->tls = NULL;
    close(s->fd); /* leaves the epoll set too */
    s->fd = -1;
    chat_free(s->in);
    s->in = NULL;
    s->in_len = s->in_cap = 0;
    if (s->ops && s->ops->on_close)
        s->ops->on_close(s);
    s->next = lp->closed; /* the loop's reference goes with the round */
    lp->closed = s;
}

static void bury(loop *lp)
{
    while (lp->closed) {
        gw_sock *s = lp->closed;
        lp->closed = s->next;
        gw_sock_unref(s);
    }
}

/* Whether gw_sock_close was called: reading stops then. */
static bool closing(gw_sock *s)
{
    pthread_mutex_lock(&s->mu);
    bool c = s->closing;
    pthread_mutex_unlock(&s->mu);
    return c;
}

/* ----------------------------------------------------------- reading --- */

/* Offers the protocol what is buffered plus what the kernel has, until it
 * pauses, the kernel runs dry or the socket closes. Loop thread. */
static void read_in(gw_sock *s, bool hup)
{
    loop *lp = s->lp;
    s->hup = s->hup || hup;
    if (s->paused) {
        s->readable = true;
        return;
    }
    /* After gw_sock_close nothing more is read, even while a lingering
     * close waits for its output: bytes behind a refused request are not
     * a request to serve. */
    if (closing(s))
        return;
    s->readable = false;
    while (s->open && !s->paused) {
        char *dst;
        size_t room;
        if (s->in_len == 0) {
            dst = lp->scratch;
            room = SCRATCH;
        } else {
            if (s->in_cap - s->in_len < SCRATCH / 4) {
                size_t cap = s->in_len + SCRATCH;
                if (cap > MAX_INPUT) {
                    do_close(s); /* the protocol should have refused it */
                    return;
                }
                char *p = chat_realloc(s->in, cap);
                if (p == NULL) {
                    do_close(s);
                    return;
                }
                s->in = p;
                s->in_cap = cap;
            }
            dst = s->in + s->in_len;
            room = s->in_cap - s->in_len;
        }
        ssize_t r;
        if (s->tls) {
            long t = gw_tls_read(s->tls, dst, room);
            if (t == GW_TLS_WANT_READ)
                return;
            if (t == GW_TLS_WANT_WRITE) { /* a handshake message waits for room */
                s->tls_read_wants_out = true;
                return;
            }
            if (t == GW_TLS_FAILED) {
                do_close(s);
                return;
            }
            r = t;
        } else {
            r = recv(s->fd, dst, room, MSG_DONTWAIT);
        }
        if (r == 0) { /* the peer is done sending; it may still read */
            if (s->ops->on_eof)
                s->ops->on_eof(s);
            else
                do_close(s);
            return;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                do_close(s);
            return;
        }
        s->last_rx = chati_mono_ms();
        char *data = dst == lp->scratch ? dst : s->in;
        size_t len = dst == lp->scratch ? (size_t)r : s->in_len + (size_t)r;
        size_t used = s->ops->on_data(s, data, len);
        if (!s->open)
            return;
        size_t rest = len - used;
        if (data == lp->scratch) {
            if (rest > 0) {
                size_t cap = rest > 4096 ? rest : 4096;
                char *p = chat_malloc(cap);
                if (p == NULL) {
                    do_close(s);
                    return;
                }
                memcpy(p, data + used, rest);
                chat_free(s->in);
                s->in = p;
                s->in_cap = cap;
            }
        } else {
            memmove(s->in, s->in + used, rest);
            if (rest == 0) { /* an idle socket keeps no buffer */
                chat_free(s->in);
                s->in = NULL;
                s->in_cap = 0;
            }
        }
        s->in_len = rest;
        if (s->paused) {
            /* A full read may have left bytes in the kernel for the resume;
             * after a short one the next edge tells. */
            s->readable = (size_t)r == room || s->hup || s->tls != NULL;
            return;
        }
        /* A short read drained the socket and the next edge says when more
         * comes, unless the peer's FIN came with this edge: read on to it. */
        /* (TLS reads on to WANT_READ: records may wait inside mbed TLS) */
        if (((size_t)r < room && !s->hup && !s->tls) || closing(s))
            return;
    }
}

static void on_resume(gw_sock *s)
{
    if (!s->open || closing(s))
        return;
    s->paused = false;
    if (s->in_len > 0) {
        size_t used = s->ops->on_data(s, s->in, s->in_len);
        if (!s->open)
            return;
        memmove(s->in, s->in + used, s->in_len - used);
        s->in_len -= used;
        if (s->paused)
            return;
    }
    if (s->readable)
        read_in(s, false);
}

static void on_writable(gw_sock *s)
{
    if (s->tls_read_wants_out) {
        s->tls_read_wants_out = false;
        read_in(s, false);
        if (!s->open)
            return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->writing) {
        s->out_edge = true;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->want_out = false;
    bool mine = claim_write(s);
    pthread_mutex_unlock(&s->mu);
    if (mine)
        write_out(s);
}

static void on_flush(gw_sock *s)
{
    pthread_mutex_lock(&s->mu);
    bool mine = claim_write(s);
    pthread_mutex_unlock(&s->mu);
    if (mine)
        write_out(s);
}

/* ------------------------------------------------------------ the loop --- */

static void accept_some(loop *lp)
{
    gw_net *n = lp->net;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(n->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or out of descriptors: the next wake-up tries again */
        }
        int one = 1;
        /* Replies and events are small: no waiting on the peer's delayed ACK. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        gw_sock *s = chat_calloc(1, sizeof *s);
        if (s == NULL) {
            close(fd);
            continue;
        }
        s->lp = lp;
        s->fd = fd;
        atomic_init(&s->refs, 1);
        pthread_mutex_init(&s->mu, NULL);
        s->open = true;
        s->last_rx = chati_mono_ms();
        if (sa.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, s->peer, sizeof s->peer);
        else if (sa.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, s->peer,
                      sizeof s->peer);
        s->next = lp->socks;
        if (lp->socks)
            lp->socks->prev = s;
        lp->socks = s;
        if (n->tls && (s->tls = gw_tls_conn_new(n->tls, fd)) == NULL) {
            do_close(s);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = s};
        n->on_accept(n->arg, s);
        /* Bytes that came before the socket joined the set raise an event. */
        if (s->ops == NULL || epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            do_close(s);
    }
}

static void run_pending(loop *lp)
{
    for (;;) {
        pthread_mutex_lock(&lp->mu);
        gw_sock *list = lp->pending;
        lp->pending = NULL;
        pthread_mutex_unlock(&lp->mu);
        if (list == NULL)
            return;
        while (list) {
            gw_sock *s = list;
            pthread_mutex_lock(&lp->mu);
            list = s->pnext;
            unsigned what = s->pend;
            s->pend = 0;
            s->pnext = NULL;
            pthread_mutex_unlock(&lp->mu);
            if (what & PEND_CLOSE)
                do_close(s);
            if (what & PEND_FLUSH)
                on_flush(s);
            if (what & PEND_RESUME)
                on_resume(s);
            gw_sock_unref(s); /* schedule's */
        }
    }
}

static void tick(loop *lp, int64_t now)
{
    for (gw_sock *s = lp->socks, *next; s; s = next) {
        next = s->next;
        int idle = atomic_load(&s->idle_ms);
        int64_t tx = atomic_load(&s->last_tx);
        if (idle > 0 && now - (tx > s->last_rx ? tx : s->last_rx) > idle)
            do_close(s);
    }
}

static void *loop_main(void *arg)
{
    chati_thread_name("gw-io");
    loop *lp = arg;
    current_loop = lp;
    struct epoll_event evs[256];
    lp->next_tick = chati_mono_ms() + TICK_MS;
    while (!atomic_load(&lp->stop)) {
        int n = epoll_wait(lp->ep, evs, 256, TICK_MS);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (p == lp) { /* evfd */
                uint64_t v;
                ssize_t r = read(lp->evfd, &v, sizeof v);
                (void)r;
                pthread_mutex_lock(&lp->mu);
                lp->woken = false;
                pthread_mutex_unlock(&lp->mu);
                continue;
            }
            if (p == lp->net) {
                accept_some(lp);
                continue;
            }
            gw_sock *s = p; /* closed ones stay allocated until bury() */
            if (s->open && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                read_in(s, (e & (EPOLLRDHUP | EPOLLHUP)) != 0);
            if (s->open && (e & EPOLLOUT))
                on_writable(s);
            if (s->open && (e & EPOLLERR))
                do_close(s);
        }
        run_pending(lp);
        bury(lp);
        int64_t now = chati_mono_ms();
        if (now >= lp->next_tick) {
            tick(lp, now);
            lp->next_tick = now + TICK_MS;
        }
    }
    /* Stopping: every socket goes, its protocol told. One that a writer on
     * another thread still holds closes when that writer is done. */
    for (int i = 0; i < 400; i++) {
        run_pending(lp);
        for (gw_sock *s = lp->socks, *next; s; s = next) {
            next = s->next;
            do_close(s);
        }
        bury(lp);
        if (lp->socks == NULL)
            break;
        chati_sleep_ms(5);
    }
    return NULL;
}

static chat_err listen_on(gw_net *n, const char *host, int port)
{
    struct sockaddr_storage sa = {0};
    socklen_t sl;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        sl = sizeof *a6;
    } else {
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "listen address %s is not numeric", host);
    }
    n->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->lfd < 0)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(n->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(n->lfd, (struct sockaddr *)&sa, sl) != 0)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "bind %s:%d: %s", host, port, strerror(errno));
    if (listen(n->lfd, 4096) != 0)
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "listen %s:%d: %s", host, port, strerror(errno));
    sl = sizeof sa;
    getsockname(n->lfd, (struct sockaddr *)&sa, &sl);
    n->port = ntohs(sa.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    return CHAT_OK;
}

chat_err gw_net_start(const gw_net_config *cfg, gw_net **out)
{
    *out = NULL;
    if (cfg->threads < 1 || cfg->on_accept == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "gw_net_start: threads and on_accept");
    gw_net *n = chat_calloc(1, sizeof *n);
    if (n == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "net");
    n->lfd = -1;
    n->on_accept = cfg->on_accept;
    n->arg = cfg->arg;
    n->loops = chat_calloc((size_t)cfg->threads, sizeof *n->loops);
    if (n->loops == NULL) {
        chat_free(n);
        return chati_fail(CHAT_ERR_NOMEM, "net");
    }
    n->n_loops = cfg->threads;
    for (int i = 0; i < n->n_loops; i++) {
        loop *lp = &n->loops[i];
        lp->net = n;
        lp->ep = lp->evfd = -1;
        pthread_mutex_init(&lp->mu, NULL);
        atomic_init(&lp->stop, false);
    }
    chat_err rv = cfg->tls_cert ? gw_tls_new(cfg->tls_cert, cfg->tls_key ? cfg->tls_key : "",
                                              &n->tls)
                                : CHAT_OK;
    if (rv == CHAT_OK)
        rv = listen_on(n, cfg->host, cfg->port);
    for (int i = 0; rv == CHAT_OK && i < n->n_loops; i++) {
        loop *lp = &n->loops[i];
        lp->ep = epoll_create1(EPOLL_CLOEXEC);
        lp->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        lp->scratch = chat_malloc(SCRATCH);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lp};
        /* Every loop waits on the listener; EPOLLEXCLUSIVE wakes one. */
        struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = n};
        if (lp->ep < 0 || lp->evfd < 0 || lp->scratch == NULL ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->evfd, &ev) != 0 ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, n->lfd, &lev) != 0)
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "epoll: %s", strerror(errno));
        else if (pthread_create(&lp->thread, NULL, loop_main, lp) != 0)
            rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "cannot start a network thread");
        else
            lp->started = true;
    }
    if (rv != CHAT_OK) {
        gw_net_stop(n);
        return rv;
    }
    *out = n;
    return CHAT_OK;
}

int gw_net_port(const gw_net *n)
{
    return n->port;
}

void gw_net_stop(gw_net *n)
{
    if (n == NULL)
        return;
    if (n->lfd >= 0) {
        for (int i = 0; i < n->n_loops; i++)
            if (n->loops[i].ep >= 0)
                epoll_ctl(n->loops[i].ep, EPOLL_CTL_DEL, n->lfd, NULL);
        close(n->lfd);
        n->lfd = -1;
    }
    for (int i = 0; i < n->n_loops; i++) {
        loop *lp = &n->loops[i];
        atomic_store(&lp->stop, true);
        if (lp->evfd >= 0)
            wake(lp);
    }
    for (int i = 0; i < n->n_loops; i++) {
        loop *lp = &n->loops[i];
        if (lp->started)
            pthread_join(lp->thread, NULL);
        /* Pending entries hold references: drop them. */
        for (gw_sock *s = lp->pending, *next; s; s = next) {
            next = s->pnext;
            gw_sock_unref(s);
        }
        if (lp->ep >= 0)
            close(lp->ep);
        if (lp->evfd >= 0)
            close(lp->evfd);
        chat_free(lp->scratch);
        pthread_mutex_destroy(&lp->mu);
    }
    chat_free(n->loops);
    gw_tls_free(n->tls);
    chat_free(n);
}
