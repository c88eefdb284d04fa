/* A keep-alive HTTP/1.1 client on a plain socket, for chat_loadgen's senders
 * (see lg_post.h). Enough HTTP for our own servers and HAProxy: answers
 * carry Content-Length. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_post.h"

struct lg_post {
    char host[256];
    char port[16];
    int fd;
    char *buf;                  /* the answer being read */
    size_t cap;
};

lg_post *lg_post_new(const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "%s: plain http:// only", url);
        return NULL;
    }
    lg_post *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *h = url + 7;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof p->host) {
        free(p);
        snprintf(err, errlen, "%s: no host", url);
        return NULL;
    }
    memcpy(p->host, h, hl);
    snprintf(p->port, sizeof p->port, "%.*s", h[hl] == ':' ? (int)strcspn(h + hl + 1, "/") : 2,
             h[hl] == ':' ? h + hl + 1 : "80");
    p->fd = -1;
    p->cap = 65536;
    p->buf = malloc(p->cap);
    if (p->buf == NULL) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return p;
}

void lg_post_free(lg_post *p)
{
    if (p == NULL)
        return;
    if (p->fd >= 0)
        close(p->fd);
    free(p->buf);
    free(p);
}

static int dial(lg_post *p, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int e = getaddrinfo(p->host, p->port, &hints, &ai);
    if (e != 0) {
        snprintf(err, errlen, "%s: %s", p->host, gai_strerror(e));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "connect %s:%s: %s", p->host, p->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p->fd = fd;
    return 0;
}

static int send_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one answer; its body starts at *body. 0, or -1 when the connection
 * broke (before any byte: *fresh_close set, worth one retry). */
static int read_answer(lg_post *p, const char **body, size_t *blen, int *status,
                       int *fresh_close, bool *closing)
{
    size_t have = 0, head = 0, need = 0;
    *fresh_close = 0;
    for (;;) {
        if (have == p->cap) {
            char *nb = realloc(p->buf, p->cap * 2);
            if (nb == NULL)
                return -1;
            p->buf = nb;
            p->cap *= 2;
        }
        ssize_t r = recv(p->fd, p->buf + have, p->cap - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *fresh_close = have == 0;
            return -1;
        }
        have += (size_t)r;
        if (head == 0) {
            p->buf[have < p->cap ? have : p->cap - 1] = '\0';
            char *end = memmem(p->buf, have, "\r\n\r\n", 4);
            if (end == NULL)
                continue;
            head = (size_t)(end - p->buf) + 4;
            *status = atoi(p->buf + 9);
            const char *cl = NULL;
            *closing = false;
            for (char *line = strstr(p->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
                if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
                    cl = line + 17;
                if (strncasecmp(line + 2, "Connection: close", 17) == 0)
                    *closing = true;
            }
            if (cl == NULL)
                return -1; /* our servers always say */
            need = head + strtoul(cl, NULL, 10);
        }
        if (have >= need) {
            *body = p->buf + head;
            *blen = need - head;
            return 0;
        }
    }
}

json_t *lg_post_call(lg_post *p, const char *method, const char *token, const char *body,
                     char *err, size_t errlen)
{
    size_t bl = strlen(body);
    char head[2048];
    int hl = snprintf(head, sizeof head,
                      "POST /api/%s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, p->host, p->port, token, bl);
    if (hl < 0 || (size_t)hl >= sizeof head) {
        snprintf(err, errlen, "request head too long");
        return NULL;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (p->fd < 0 && dial(p, err, errlen) != 0)
            return NULL;
        const char *rb;
        size_t rl;
        int status = 0, fresh = 0;
        bool closing = false;
        if (send_all(p->fd, head, (size_t)hl) == 0 && send_all(p->fd, body, bl) == 0 &&
            read_answer(p, &rb, &rl, &status, &fresh, &closing) == 0) {
            json_error_t je;
            json_t *j = json_loadb(rb, rl, 0, &je);
            if (closing) {
                close(p->fd);
                p->fd = -1;
            }
            if (j == NULL)
                snprintf(err, errlen, "HTTP %d, not JSON: %s", status, je.text);
            return j;
        }
        close(p->fd);
        p->fd = -1;
        if (!fresh) { /* it broke mid-answer: the post may have happened */
            snprintf(err, errlen, "connection lost during the request");
            return NULL;
        }
    }
    snprintf(err, errlen, "the server closed the connection");
    return NULL;
}
