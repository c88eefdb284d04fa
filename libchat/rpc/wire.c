/*
 * Sockets and frames for the RPC transport (see wire.h). Sockets are
 * non-blocking throughout; a call that must finish by a deadline waits in
 * poll(), so no thread but the caller's is involved.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <nng/nng.h>

#include "rpc/tls_session.h"
#include "rpc/wire.h"

/* Frames up to this size go to TLS as one record. */
#define SMALL_FRAME 4096

uint32_t chati_wire_len(const uint8_t hdr[4])
{
    return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
}

void chati_wire_hdr(uint32_t len, uint8_t hdr[4])
{
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
}

chat_err chati_wire_parse(const char *url, chati_wire_addr *out)
{
    memset(out, 0, sizeof *out);
    if (url == NULL)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "no RPC address");
    if (strncmp(url, "ipc://", 6) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;
        size_t n = strlen(url + 6);
        if (n == 0 || n >= sizeof un->sun_path)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "RPC address %s: the path must be "
                              "1..%zu bytes", url, sizeof un->sun_path - 1);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, url + 6, n + 1);
        out->len = sizeof *un;
        out->ipc = true;
        return CHAT_OK;
    }
    const char *rest;
    if (strncmp(url, "tcp://", 6) == 0) {
        rest = url + 6;
    } else if (strncmp(url, "tls+tcp://", 10) == 0) {
        rest = url + 10;
        out->tls = true;
    } else {
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "RPC address %s: expected tcp://HOST:PORT, "
                          "tls+tcp://HOST:PORT or ipc:///PATH", url);
    }
    char host[256];
    const char *colon;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - rest - 1) >= sizeof host)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "RPC address %s: bad [IPv6]:PORT", url);
        memcpy(host, rest + 1, (size_t)(close - rest - 1));
        host[close - rest - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (colon == NULL || (size_t)(colon - rest) >= sizeof host)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "RPC address %s: no port", url);
        memcpy(host, rest, (size_t)(colon - rest));
        host[colon - rest] = '\0';
    }
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "RPC address %s: bad port", url);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (host[0] == '\0' || strcmp(host, "*") == 0 ? AI_PASSIVE : 0);
    int e = getaddrinfo(host[0] == '\0' || strcmp(host, "*") == 0 ? NULL : host, colon + 1,
                        &hints, &ai);
    if (e != 0 || ai == NULL)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "RPC address %s: %s", url,
                          e ? gai_strerror(e) : "no address");
    memcpy(&out->sa, ai->ai_addr, ai->ai_addrlen);
    out->len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return CHAT_OK;
}

static void tcp_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int chati_wire_listen(const chati_wire_addr *a, int *port)
{
    *port = 0;
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (a->ipc) {
        /* A socket file left by a process that died; one in use refuses a
         * connection, and then it is not ours to remove. */
        const char *path = ((const struct sockaddr_un *)&a->sa)->sun_path;
        struct stat st;
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (probe >= 0 && connect(probe, (const struct sockaddr *)&a->sa, a->len) != 0 &&
                errno == ECONNREFUSED)
                unlink(path);
            if (probe >= 0)
                close(probe);
        }
    } else {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct sockaddr_storage got;
    socklen_t len = sizeof got;
    if (!a->ipc && getsockname(fd, (struct sockaddr *)&got, &len) == 0)
        *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
    return fd;
}

/* Waits until fd is ready for events or deadline_ms: 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - chati_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int handshake(chati_wire_conn *c, int64_t deadline_ms, char *why, size_t whylen)
{
    for (;;) {
        int r = chati_tls_handshake(c->tls);
        if (r == 0)
            return 0;
        if (r == CHATI_TLS_FAILED) {
            snprintf(why, whylen, "TLS: %s", chati_tls_why(c->tls));
            return -EPROTO;
        }
        int w = wait_fd(c->fd, r == CHATI_TLS_WANT_WRITE ? POLLOUT : POLLIN, deadline_ms);
        if (w != 0)
            return w;
    }
}

int chati_wire_dial(const chati_wire_addr *a, const struct chati_tls_conf *conf,
                    int64_t deadline_ms, chati_wire_conn *out, char *why, size_t whylen)
{
    out->fd = -1;
    out->tls = NULL;
    if (why && whylen)
        why[0] = '\0';
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    out->fd = fd;
    int e = 0;
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) != 0) {
        if (errno != EINPROGRESS) { /* EAGAIN on a Unix socket: its backlog is full */
            e = -errno;
        } else if ((e = wait_fd(fd, POLLOUT, deadline_ms)) == 0) {
            int so = 0;
            socklen_t sl = sizeof so;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0)
                so = errno;
            e = -so;
        }
    }
    if (e == 0 && !a->ipc)
        tcp_nodelay(fd);
    if (e == 0 && a->tls) {
        if (conf == NULL || chati_tls_new(conf, fd, &out->tls) != CHAT_OK) {
            snprintf(why, whylen, "%s", conf ? chati_errmsg() : "no TLS configuration");
            e = -EPROTO;
        } else {
            e = handshake(out, deadline_ms, why, whylen);
        }
    }
    if (e == 0)
        e = chati_wire_write_all(out, CHATI_WIRE_HELLO, CHATI_WIRE_HELLO_LEN, deadline_ms);
    if (e != 0)
        chati_wire_close(out);
    return e;
}

void chati_wire_close(chati_wire_conn *c)
{
    if (c->tls)
        chati_tls_free(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

bool chati_wire_idle_ok(const chati_wire_conn *c)
{
    if (c->fd < 0 || (c->tls && chati_tls_pending(c->tls) > 0))
        return false;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static ssize_t tls_result(ssize_t r, short *want)
{
    if (r == CHATI_TLS_WANT_READ || r == CHATI_TLS_WANT_WRITE) {
        *want = r == CHATI_TLS_WANT_READ ? POLLIN : POLLOUT;
        return -EAGAIN;
    }
    return r == CHATI_TLS_FAILED ? -EPROTO : r;
}

ssize_t chati_wire_read_some(chati_wire_conn *c, void *buf, size_t n, short *want)
{
    *want = POLLIN;
    if (c->tls)
        return tls_result(chati_tls_read(c->tls, buf, n), want);
    for (;;) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t chati_wire_write_some(chati_wire_conn *c, const void *buf, size_t n, short *want)
{
    *want = POLLOUT;
    if (c->tls)
        return tls_result(chati_tls_write(c->tls, buf, n), want);
    for (;;) {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int chati_wire_read_all(chati_wire_conn *c, void *buf, size_t n, int64_t deadline_ms)
{
    uint8_t *p = buf;
    while (n > 0) {
        short want;
        ssize_t r = chati_wire_read_some(c, p, n, &want);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r == 0) {
            return -ECONNRESET;
        } else if (r != -EAGAIN) {
            return (int)r;
        } else if ((r = wait_fd(c->fd, want, deadline_ms)) != 0) {
            return (int)r;
        }
    }
    return 0;
}

int chati_wire_write_all(chati_wire_conn *c, const void *buf, size_t n, int64_t deadline_ms)
{
    const uint8_t *p = buf;
    while (n > 0) {
        short want;
        ssize_t r = chati_wire_write_some(c, p, n, &want);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r == 0 || r != -EAGAIN) {
            return r == 0 ? -EIO : (int)r;
        } else if ((r = wait_fd(c->fd, want, deadline_ms)) != 0) {
            return (int)r;
        }
    }
    return 0;
}

int chati_wire_send(chati_wire_conn *c, nng_msg *msg, int64_t deadline_ms)
{
    size_t len = nng_msg_len(msg);
    if (len > UINT32_MAX)
        return -EMSGSIZE;
    uint8_t hdr[4];
    chati_wire_hdr((uint32_t)len, hdr);
    if (c->tls == NULL) {
        /* Header and body in one syscall and one packet; MSG_NOSIGNAL: a
         * peer gone is an error, not SIGPIPE. */
        struct iovec iov[2] = {{hdr, 4}, {nng_msg_body(msg), len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t r;
        do
            r = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == EPIPE ? -ECONNRESET : -errno;
        size_t done = r > 0 ? (size_t)r : 0;
        if (done == 4 + len)
            return 0;
        if (done < 4) {
            int e = chati_wire_write_all(c, hdr + done, 4 - done, deadline_ms);
            if (e != 0)
                return e;
            done = 4;
        }
        return chati_wire_write_all(c, (uint8_t *)nng_msg_body(msg) + (done - 4), len - (done - 4),
                                    deadline_ms);
    }
    if (len <= SMALL_FRAME - 4) {
        /* One TLS record for a small frame, not one for its header too. */
        uint8_t one[SMALL_FRAME];
        memcpy(one, hdr, 4);
        memcpy(one + 4, nng_msg_body(msg), len);
        return chati_wire_write_all(c, one, 4 + len, deadline_ms);
    }
    int e = chati_wire_write_all(c, hdr, 4, deadline_ms);
    return e ? e : chati_wire_write_all(c, nng_msg_body(msg), len, deadline_ms);
}

int chati_wire_recv(chati_wire_conn *c, size_t max, int64_t deadline_ms, nng_msg **out)
{
    *out = NULL;
    uint8_t hdr[4];
    int e = chati_wire_read_all(c, hdr, 4, deadline_ms);
    if (e != 0)
        return e;
    uint32_t len = chati_wire_len(hdr);
    if (len > max)
        return -EMSGSIZE;
    nng_msg *m = NULL;
    if (nng_msg_alloc(&m, len) != 0)
        return -ENOMEM;
    if ((e = chati_wire_read_all(c, nng_msg_body(m), len, deadline_ms)) != 0) {
        nng_msg_free(m);
        return e;
    }
    *out = m;
    return 0;
}
