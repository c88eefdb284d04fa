#include "lg_ws.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* RFC 6455's sample key and its accept value: a fixed key is fine for a
 * benchmark, and checking the answer still proves a real handshake. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

typedef struct loop_thread {
    struct lg_ws_loop *loop;
    int ep;
    pthread_t tid;
} loop_thread;

struct lg_ws_loop {
    int n;
    bool quickack;
    loop_thread *t;
    atomic_int next;
    atomic_bool stop;
};

struct lg_ws {
    int fd;
    loop_thread *owner;
    lg_ws_frame_fn on_frame;
    lg_ws_close_fn on_close;
    void *arg;
    bool dead;
    /* reads: owner thread only */
    char *in;
    size_t in_len, in_cap;
    /* writes */
    pthread_mutex_t wmu;
    char *out;
    size_t out_cap;
    uint64_t rnd;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(lg_ws *w, const char *why)
{
    if (w->dead)
        return;
    w->dead = true;
    epoll_ctl(w->owner->ep, EPOLL_CTL_DEL, w->fd, NULL);
    if (!atomic_load(&w->owner->loop->stop))
        w->on_close(w->arg, why);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_frame(lg_ws *w, int opcode, const char *data, size_t len)
{
    pthread_mutex_lock(&w->wmu);
    size_t need = len + 14;
    if (need > w->out_cap) {
        char *p = realloc(w->out, need);
        if (p == NULL) {
            pthread_mutex_unlock(&w->wmu);
            return ENOMEM;
        }
        w->out = p;
        w->out_cap = need;
    }
    unsigned char *h = (unsigned char *)w->out;
    size_t hl = 2;
    h[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[1] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    w->rnd ^= w->rnd << 13;
    w->rnd ^= w->rnd >> 7;
    w->rnd ^= w->rnd << 17;
    unsigned char mask[4] = {(unsigned char)w->rnd, (unsigned char)(w->rnd >> 8),
                             (unsigned char)(w->rnd >> 16), (unsigned char)(w->rnd >> 24)};
    memcpy(h + hl, mask, 4);
    hl += 4;
    for (size_t i = 0; i < len; i++)
        h[hl + i] = (unsigned char)data[i] ^ mask[i & 3];
    int e = send_all(w->fd, w->out, hl + len);
    pthread_mutex_unlock(&w->wmu);
    return e;
}

int lg_ws_send(lg_ws *w, const char *text, size_t len)
{
    return send_frame(w, 1, text, len);
}

/* Takes every whole frame in the buffer; keeps the tail of a partial one. */
static void parse(lg_ws *w, uint64_t t)
{
    unsigned char *p = (unsigned char *)w->in;
    size_t have = w->in_len, off = 0;
    while (have - off >= 2 && !w->dead) {
        unsigned char *f = p + off;
        size_t avail = have - off;
        int opcode = f[0] & 0x0f;
        bool fin = (f[0] & 0x80) != 0;
        if (f[1] & 0x80) {
            fail(w, "masked frame from the server");
            return;
        }
        uint64_t len = f[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)f[2] << 8) | f[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | f[2 + i];
            hl = 10;
        }
        if (len + hl > w->in_cap - 1) {
            fail(w, "frame larger than the receive buffer");
            return;
        }
        if (avail < hl + len)
            break;
        char *payload = (char *)f + hl;
        off += hl + (size_t)len;
        switch (opcode) {
        case 1: {
            if (!fin) {
                fail(w, "fragmented frame");
                return;
            }
            char saved = payload[len];
            payload[len] = '\0';
            w->on_frame(w->arg, payload, (size_t)len, t);
            payload[len] = saved;
            break;
        }
        case 8:
            fail(w, "closed by the server");
            return;
        case 9:
            if (send_frame(w, 10, payload, (size_t)len) != 0) {
                fail(w, "cannot answer a ping");
                return;
            }
            break;
        case 10:
            break;
        default:
            fail(w, "unexpected frame type");
            return;
        }
    }
    if (off > 0) {
        memmove(w->in, w->in + off, have - off);
        w->in_len = have - off;
    }
}

static void readable(lg_ws *w)
{
    ssize_t r = recv(w->fd, w->in + w->in_len, w->in_cap - 1 - w->in_len, MSG_DONTWAIT);
    if (r > 0) {
        if (w->owner->loop->quickack) {
            /* Linux clears it after use: ACK what just came, now. */
            int one = 1;
            setsockopt(w->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        }
        w->in_len += (size_t)r;
        parse(w, now_ns());
    } else if (r == 0) {
        fail(w, "connection closed by the server");
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        fail(w, strerror(errno));
    }
}

static void *loop_main(void *arg)
{
    loop_thread *t = arg;
    struct epoll_event ev[128];
    while (!atomic_load(&t->loop->stop)) {
        int n = epoll_wait(t->ep, ev, 128, 50);
        for (int i = 0; i < n; i++)
            readable(ev[i].data.ptr);
    }
    return NULL;
}

void lg_ws_loop_quickack(lg_ws_loop *l, bool on)
{
    l->quickack = on;
}

lg_ws_loop *lg_ws_loop_new(int threads, char *err, size_t errlen)
{
    lg_ws_loop *l = calloc(1, sizeof *l);
    if (l == NULL || (l->t = calloc((size_t)threads, sizeof *l->t)) == NULL) {
        free(l);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&l->next, 0);
    atomic_init(&l->stop, false);
    for (; l->n < threads; l->n++) {
        loop_thread *t = &l->t[l->n];
        t->loop = l;
        if ((t->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
            pthread_create(&t->tid, NULL, loop_main, t) != 0) {
            snprintf(err, errlen, "cannot start the WebSocket threads");
            if (t->ep >= 0)
                close(t->ep);
            lg_ws_loop_stop(l);
            lg_ws_loop_free(l);
            return NULL;
        }
    }
    return l;
}

void lg_ws_loop_stop(lg_ws_loop *l)
{
    if (l == NULL || atomic_exchange(&l->stop, true))
        return;
    for (int i = 0; i < l->n; i++)
        pthread_join(l->t[i].tid, NULL);
}

void lg_ws_loop_free(lg_ws_loop *l)
{
    if (l == NULL)
        return;
    lg_ws_loop_stop(l);
    for (int i = 0; i < l->n; i++)
        close(l->t[i].ep);
    free(l->t);
    free(l);
}

static int dial(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e != 0) {
        snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(e));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
        errno = e;
    }
    if (fd < 0)
        snprintf(err, errlen, "connect %s:%s: %s", host, port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

lg_ws *lg_ws_connect(lg_ws_loop *l, const char *url, size_t max_frame, lg_ws_frame_fn on_frame,
                     lg_ws_close_fn on_close, void *arg, char *err, size_t errlen)
{
    if (strncmp(url, "ws://", 5) != 0) {
        snprintf(err, errlen, "%s: only ws:// URLs", url);
        return NULL;
    }
    const char *hp = url + 5, *slash = strchr(hp, '/');
    const char *path = slash ? slash : "/";
    size_t hpl = slash ? (size_t)(slash - hp) : strlen(hp);
    char host[256], port[16] = "80";
    if (hpl >= sizeof host) {
        snprintf(err, errlen, "%s: host too long", url);
        return NULL;
    }
    memcpy(host, hp, hpl);
    host[hpl] = '\0';
    char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']')) {
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = '\0';
    }
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strcspn(h, "]")] = '\0';
    }

    int fd = dial(h, port, err, errlen);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    lg_ws *w = calloc(1, sizeof *w);
    size_t cap = max_frame + 16;
    if (cap < 16384)
        cap = 16384;
    char *req = NULL;
    if (w == NULL || (w->in = malloc(cap)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->fd = fd;
    w->in_cap = cap;
    w->on_frame = on_frame;
    w->on_close = on_close;
    w->arg = arg;
    w->rnd = ((uint64_t)(uintptr_t)w * 0x9E3779B97F4A7C15u) ^ now_ns() ^ 1;
    pthread_mutex_init(&w->wmu, NULL);
    size_t rl = strlen(path) + strlen(host) + strlen(port) + 256;
    if ((req = malloc(rl)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int n = snprintf(req, rl,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, h, port);
    if (send_all(fd, req, (size_t)n) != 0) {
        snprintf(err, errlen, "handshake: %s", strerror(errno));
        goto fail;
    }
    /* Read the answer up to its blank line; frames may follow in the same read. */
    char *end = NULL;
    while (end == NULL) {
        if (w->in_len + 1 >= w->in_cap) {
            snprintf(err, errlen, "handshake: answer too long");
            goto fail;
        }
        ssize_t r = recv(fd, w->in + w->in_len, w->in_cap - 1 - w->in_len, 0);
        if (r <= 0) {
            snprintf(err, errlen, "handshake: %s", r == 0 ? "closed" : strerror(errno));
            goto fail;
        }
        w->in_len += (size_t)r;
        w->in[w->in_len] = '\0';
        end = strstr(w->in, "\r\n\r\n");
    }
    size_t hdr = (size_t)(end + 4 - w->in);
    if (strncmp(w->in, "HTTP/1.1 101", 12) != 0 || strstr(w->in, WS_ACCEPT) == NULL ||
        (size_t)(strstr(w->in, WS_ACCEPT) - w->in) > hdr) {
        snprintf(err, errlen, "handshake refused: %.*s", (int)strcspn(w->in, "\r\n"), w->in);
        goto fail;
    }
    memmove(w->in, w->in + hdr, w->in_len - hdr);
    w->in_len -= hdr;
    tv.tv_sec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    free(req);
    req = NULL;

    w->owner = &l->t[(unsigned)atomic_fetch_add(&l->next, 1) % (unsigned)l->n];
    /* Frames that came with the handshake: on this thread, before the loop
     * can see the socket, so they stay in order. */
    if (w->in_len > 0)
        parse(w, now_ns());
    if (w->dead)
        return w; /* on_close has been told */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    if (epoll_ctl(w->owner->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
    return w;
fail:
    free(req);
    if (w) {
        free(w->in);
        free(w);
    }
    close(fd);
    return NULL;
}

void lg_ws_free(lg_ws *w)
{
    if (w == NULL)
        return;
    close(w->fd);
    pthread_mutex_destroy(&w->wmu);
    free(w->in);
    free(w->out);
    free(w);
}
