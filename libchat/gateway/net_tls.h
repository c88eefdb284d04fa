/*
 * libchat/gateway/net_tls.h - TLS for the gateway's sockets (mbed TLS), as
 * non-blocking reads and writes over a socket's descriptor. Internal to
 * net.c: a TLS socket is read and written on its loop thread only (an mbed
 * TLS context is not safe for concurrent use).
 */
#ifndef CHAT_GW_NET_TLS_H
#define CHAT_GW_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <chat/chat.h>

typedef struct gw_tls gw_tls;
typedef struct gw_tls_conn gw_tls_conn;

enum {
    GW_TLS_WANT_READ = -1,  /* no more now: wait until the socket is readable */
    GW_TLS_WANT_WRITE = -2, /* wait until the socket is writable, then call again */
    GW_TLS_FAILED = -3      /* the connection is unusable: close it */
};

/* A server configuration from PEM text (certificate chain and key). Shared
 * by every connection; any thread. */
chat_err gw_tls_new(const char *cert_pem, const char *key_pem, gw_tls **out);
void gw_tls_free(gw_tls *t);

/* A connection over the descriptor fd (not owned). NULL when out of memory. */
gw_tls_conn *gw_tls_conn_new(gw_tls *t, int fd);
void gw_tls_conn_free(gw_tls_conn *c);

/* Reads plaintext (the handshake runs first, as needed). Bytes (> 0), 0 when
 * the peer closed, or a GW_TLS_* code. */
long gw_tls_read(gw_tls_conn *c, void *buf, size_t len);
/* Writes plaintext. Bytes written (> 0) or a GW_TLS_* code; after
 * GW_TLS_WANT_WRITE, call again with the same bytes. */
long gw_tls_write(gw_tls_conn *c, const void *buf, size_t len);
/* Whether plaintext is buffered inside (read it before waiting). */
bool gw_tls_pending(const gw_tls_conn *c);

#endif
