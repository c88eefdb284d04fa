/*
 * libchat/rpc/tls_session.h - mutual TLS (mbed TLS 2.28, TLS 1.2) over an
 * already connected, non-blocking socket, for the RPC transport. Both ends
 * present a certificate the deployment's CA signed and refuse a peer that
 * presents none or one another CA signed; host names are not checked (see
 * rpc/tls.c).
 *
 * Thread safety: a chati_tls_conf is immutable once made and shared by every
 * thread (its random generator locks itself); a chati_tls is used by one
 * thread at a time.
 */
#ifndef CHATI_RPC_TLS_SESSION_H
#define CHATI_RPC_TLS_SESSION_H

#include <sys/types.h>

#include "rpc/rpc.h"

typedef struct chati_tls_conf chati_tls_conf;

/* Reads t's PEM files now; server: the listening side. url names the address
 * in errors. invalid_config naming the file and the reason when a file is
 * missing, unreadable or not what it should be, or when t is NULL or has a
 * NULL or empty field. Free with chati_tls_conf_free, after every session
 * made from it. */
chat_err chati_tls_conf_new(const chati_rpc_tls *t, bool server, const char *url,
                            chati_tls_conf **out);
void chati_tls_conf_free(chati_tls_conf *c); /* NULL ok */

typedef struct chati_tls chati_tls;

/* A session over fd (non-blocking, connected). fd is not owned: the caller
 * closes it after chati_tls_free. c must outlive the session. */
chat_err chati_tls_new(const chati_tls_conf *c, int fd, chati_tls **out);
/* NULL ok; does not close fd and sends no close_notify. */
void chati_tls_free(chati_tls *s);

#define CHATI_TLS_FAILED (-1)     /* the session is unusable; chati_tls_why() says why */
#define CHATI_TLS_WANT_READ (-2)  /* call again once fd is readable */
#define CHATI_TLS_WANT_WRITE (-3) /* call again once fd is writable */

/* 0 once the handshake is complete, else one of the negatives above. A read
 * or write before then runs the handshake itself. */
int chati_tls_handshake(chati_tls *s);
/* > 0 bytes read, 0 at the end of the stream (the peer's close_notify or
 * EOF), or a negative above. Keep reading until WANT_READ before waiting on
 * fd, or check chati_tls_pending. */
ssize_t chati_tls_read(chati_tls *s, void *buf, size_t n);
/* > 0 bytes written (at most one record, 16 KiB: may be less than n), or a
 * negative above; n == 0 returns 0. After WANT_*, call again with the same
 * buf and n (mbed TLS has already taken part of them). Nothing stays
 * buffered after a return > 0. */
ssize_t chati_tls_write(chati_tls *s, const void *buf, size_t n);
/* Decrypted bytes buffered in s: readable without fd becoming readable, so
 * a caller that stops reading before WANT_READ must check this before
 * waiting on fd. */
size_t chati_tls_pending(const chati_tls *s);
/* Why the session failed, for error messages: storage in s, kept until
 * chati_tls_free (a failed session stays failed). "" while none has. */
const char *chati_tls_why(const chati_tls *s);

#endif
