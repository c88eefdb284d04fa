/*
 * libchat/rpc/wire.h - the bytes of the RPC transport: addresses, listening
 * and dialing sockets, and length-prefixed frames over a socket, with or
 * without TLS.
 *
 * A connection starts with the client's 8-byte hello (CHATI_WIRE_HELLO, after
 * the TLS handshake on tls+tcp://); then each frame is a 4-byte big-endian
 * length and that many bytes. A client sends one request and reads its reply
 * before it sends the next, so each side needs one thread per call and no
 * other: a call costs two wake-ups, one per side.
 *
 * Thread safety: a connection is used by one thread at a time.
 */
#ifndef CHATI_RPC_WIRE_H
#define CHATI_RPC_WIRE_H

#include <sys/socket.h>
#include <sys/types.h>

#include "core/internal.h"

struct nng_msg;
struct chati_tls;
struct chati_tls_conf;

#define CHATI_WIRE_HELLO "chatrpc1"
#define CHATI_WIRE_HELLO_LEN 8

/* A parsed address: tcp://host:port, tls+tcp://host:port or ipc:///path. */
typedef struct chati_wire_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    bool tls;
    bool ipc;
} chati_wire_addr;

/* Parses url (a host name is looked up now). invalid_config naming url. */
chat_err chati_wire_parse(const char *url, chati_wire_addr *out);

/* A listening socket on a (non-blocking, close-on-exec; an ipc:// path left
 * by a process that died is replaced). *port: the TCP port it got. The fd,
 * or -errno. */
int chati_wire_listen(const chati_wire_addr *a, int *port);

/* One end of a connection: the socket, and the TLS session over it or NULL. */
typedef struct chati_wire_conn {
    int fd;
    struct chati_tls *tls;
} chati_wire_conn;

/* Connects to a (and, for TLS, shakes hands with conf), then sends the hello,
 * all by deadline_ms (chati_mono_ms() time). 0, or -errno (-ETIMEDOUT;
 * -EPROTO for a failed TLS handshake, whose reason is in why[]). */
int chati_wire_dial(const chati_wire_addr *a, const struct chati_tls_conf *conf,
                    int64_t deadline_ms, chati_wire_conn *out, char *why, size_t whylen);

/* Closes c (its TLS session too) and marks it closed; a closed one is a no-op. */
void chati_wire_close(chati_wire_conn *c);

/* Whether an idle connection is still good: nothing to read (a peer that
 * closed or sent data unasked shows as readable). */
bool chati_wire_idle_ok(const chati_wire_conn *c);

/* Non-blocking read or write of up to n bytes: >0 bytes, 0 at the end of the
 * stream (read), -EAGAIN with *want set to POLLIN or POLLOUT, or -errno. */
ssize_t chati_wire_read_some(chati_wire_conn *c, void *buf, size_t n, short *want);
ssize_t chati_wire_write_some(chati_wire_conn *c, const void *buf, size_t n, short *want);

/* Reads or writes exactly n bytes by deadline_ms: 0, -ECONNRESET when the
 * stream ended, -ETIMEDOUT, or -errno. */
int chati_wire_read_all(chati_wire_conn *c, void *buf, size_t n, int64_t deadline_ms);
int chati_wire_write_all(chati_wire_conn *c, const void *buf, size_t n, int64_t deadline_ms);

/* Sends msg's body as one frame by deadline_ms (msg stays the caller's). */
int chati_wire_send(chati_wire_conn *c, struct nng_msg *msg, int64_t deadline_ms);
/* Reads one frame of at most max bytes by deadline_ms into a new message
 * (*out, the caller's). -EMSGSIZE for a larger one. */
int chati_wire_recv(chati_wire_conn *c, size_t max, int64_t deadline_ms, struct nng_msg **out);

/* The frame length in a 4-byte header, and the header of a length. */
uint32_t chati_wire_len(const uint8_t hdr[4]);
void chati_wire_hdr(uint32_t len, uint8_t hdr[4]);

#endif
