/*
 * libchat/gateway/net.h - the gateway's sockets: a few epoll threads that
 * accept, read and write without blocking, and a protocol on each socket as
 * a table of callbacks (HTTP/1.1 first, WebSocket after an upgrade).
 *
 * Why not nng's HTTP server: it hands each WebSocket frame sent across
 * several of its threads (measured: 18,000 deliveries/s to 5,000 sockets with
 * most of the CPU in futex wake-ups), keeps buffers per connection, and cannot
 * write several frames in one system call. Here a frame is queued by
 * reference (one encoding shared by every receiver), a socket's queue goes
 * out in one writev, and the thread that queues onto an idle socket writes it
 * itself when it can, so a reply or an event costs no thread hand-off.
 *
 * Threads: gw_net_start runs `threads` loop threads; each socket belongs to
 * one loop, which runs all its callbacks, one at a time. gw_sock_send,
 * gw_sock_close, gw_sock_resume, gw_sock_ref/unref and the accessors may be
 * called from any thread.
 */
#ifndef CHAT_GW_NET_H
#define CHAT_GW_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chat/chat.h>

typedef struct gw_net gw_net;
typedef struct gw_sock gw_sock;

/* What a protocol does with its socket; runs on the socket's loop thread. */
typedef struct gw_sock_ops {
    /* Bytes arrived: data[0..len), the unconsumed rest of earlier calls
     * first. Returns how many it consumed; the rest is offered again with
     * the next bytes (or at gw_sock_resume). It may pause reading
     * (gw_sock_pause) and return early. The buffer may be written to. */
    size_t (*on_data)(gw_sock *s, char *data, size_t len);
    /* The socket is closed (by the peer, an error, a timeout or
     * gw_sock_close): the last callback. The protocol drops its state and its
     * reference. May be NULL. */
    void (*on_close)(gw_sock *s);
    /* The peer shut its sending side (it may still read): e.g. close once
     * the reply is out. NULL: close at once. */
    void (*on_eof)(gw_sock *s);
    /* The last reference is gone: free data (gw_sock_data). Whoever holds a
     * reference may use the data until then, even after on_close. May be
     * NULL. */
    void (*on_free)(void *data);
} gw_sock_ops;

/* Called on a loop thread for each accepted socket: sets its protocol with
 * gw_sock_set_ops (else the socket is closed). */
typedef void (*gw_accept_fn)(void *arg, gw_sock *s);

typedef struct gw_net_config {
    const char *host;           /* numeric address to listen on, e.g. "127.0.0.1" */
    int port;                   /* 0: any free port (see gw_net_port) */
    int threads;                /* loop threads, >= 1 */
    gw_accept_fn on_accept;
    void *arg;
    const char *tls_cert;       /* PEM text of the chain and the key: TLS on */
    const char *tls_key;        /* every socket; NULL: plain TCP */
} gw_net_config;

/* Listens and starts the loops. */
chat_err gw_net_start(const gw_net_config *cfg, gw_net **out);
/* The port listened on. */
int gw_net_port(const gw_net *n);
/* Stops accepting, closes every socket (their on_close runs), joins the
 * loops and frees. Callers must not touch sockets afterwards. */
void gw_net_stop(gw_net *n);

/* ---- one socket ---- */

/* Sets the protocol and its state (gw_sock_data). Loop thread only; when it
 * replaces another, the old state is the caller's to free. */
void gw_sock_set_ops(gw_sock *s, const gw_sock_ops *ops, void *data);
void *gw_sock_data(const gw_sock *s);
/* The peer's address as text ("127.0.0.1"). */
const char *gw_sock_peer(const gw_sock *s);

/* Sockets are counted: the loop holds one reference until on_close has run;
 * whoever keeps a pointer beyond a callback takes one of its own. */
void gw_sock_ref(gw_sock *s);
void gw_sock_unref(gw_sock *s);

/* A piece of output: bytes, and a reference that keeps them alive, released
 * with release(ref) once written or dropped (NULL release: static bytes).
 * head[0..head_len) goes out before data: a WebSocket frame header made for
 * this socket in front of a payload shared by many. */
typedef struct gw_out {
    unsigned char head[14];
    uint8_t head_len;
    const char *data;
    size_t len;
    void (*release)(void *ref);
    void *ref;
} gw_out;

/* How gw_sock_send writes. */
typedef enum gw_send_mode {
    GW_SEND_NOW,    /* the calling thread writes when no one else is writing:
                     * a reply goes out without waking a loop */
    GW_SEND_DEFER,  /* the socket's loop writes it soon, with whatever else
                     * was queued meanwhile in the same writev: for fan-out,
                     * where one event goes to thousands of sockets */
    GW_SEND_LAST    /* as NOW, and the socket closes once it is written: in
                     * the same step, so no other thread's send can follow it
                     * (a WebSocket close frame must be the last frame) */
} gw_send_mode;

/* Queues o. Takes o's reference in every case: false (and o released) when
 * the socket is closed or already has more than max_queued bytes waiting
 * (0: no limit), which tells a fan-out that this reader cannot keep up. */
bool gw_sock_send(gw_sock *s, const gw_out *o, size_t max_queued, gw_send_mode mode);
/* Queues a copy of data[0..len): for replies made on the stack. */
bool gw_sock_send_copy(gw_sock *s, const void *data, size_t len);
/* The same, as the last thing the socket sends (GW_SEND_LAST). */
bool gw_sock_send_last_copy(gw_sock *s, const void *data, size_t len);
/* Bytes queued and not yet written. */
size_t gw_sock_queued(gw_sock *s);

/* Stops handing received bytes to on_data (they wait in the kernel, which
 * in time slows the peer). Loop thread only. */
void gw_sock_pause(gw_sock *s);
/* Hands on_data what waits (buffered and new), on the loop thread. Any
 * thread. */
void gw_sock_resume(gw_sock *s);

/* gw_sock_resume once no more than `bytes` wait to be written (at once if
 * that is already so): a peer that does not read what it is sent stops
 * being read, so it cannot make the queue grow without end (pipelined
 * requests). Any thread. */
void gw_sock_resume_below(gw_sock *s, size_t bytes);

/* Closes the socket once what is queued has been written (linger=true) or
 * at once. on_close runs on the loop thread. Idempotent. Any thread. */
void gw_sock_close(gw_sock *s, bool linger);

/* Closes the socket if no byte arrives or leaves for ms milliseconds (0:
 * never): a silent peer, or one that reads nothing of what it is sent, does
 * not hold a socket forever. Any thread. */
void gw_sock_set_idle_timeout(gw_sock *s, int ms);

#endif
