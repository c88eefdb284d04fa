/* A minimal RFC 6455 WebSocket client on plain sockets for the load generator:
 * a blocking connect and handshake, then reads by a few epoll threads that
 * take as many frames as one recv() brings. nng's stream API hands every frame
 * through its task threads (several thread switches per frame); at the frame
 * rates a fan-out benchmark needs, that client cost would be what is measured.
 * Text frames only, no extensions, no fragmentation, ws:// only. */
#ifndef LG_WS_H
#define LG_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lg_ws lg_ws;
typedef struct lg_ws_loop lg_ws_loop;

/* A text frame, NUL-terminated (text[len] == '\0'), valid during the call.
 * t_ns: CLOCK_MONOTONIC when the bytes were read. Runs on the connection's
 * loop thread; a connection's frames come one at a time, in order. */
typedef void (*lg_ws_frame_fn)(void *arg, char *text, size_t len, uint64_t t_ns);
/* The connection ended (closed by the peer, an error, or a frame the client
 * does not take); no more frames follow. Not called after lg_ws_loop_stop. */
typedef void (*lg_ws_close_fn)(void *arg, const char *why);

/* Starts `threads` reading threads. NULL on failure. */
lg_ws_loop *lg_ws_loop_new(int threads, char *err, size_t errlen);
/* Acknowledge every read at once (TCP_QUICKACK) instead of letting the
 * kernel delay ACKs: a diagnostic, to tell a peer's Nagle delays from its own.
 * Call before connecting. */
void lg_ws_loop_quickack(lg_ws_loop *l, bool on);
/* Stops and joins the threads: no callback runs once it returns. */
void lg_ws_loop_stop(lg_ws_loop *l);
void lg_ws_loop_free(lg_ws_loop *l);

/* Connects to url (ws://host:port/path?query), shakes hands, and hands the
 * connection to one of the loop's threads. Frames longer than max_frame end
 * the connection. Blocks; safe from several threads at once. */
lg_ws *lg_ws_connect(lg_ws_loop *l, const char *url, size_t max_frame, lg_ws_frame_fn on_frame,
                     lg_ws_close_fn on_close, void *arg, char *err, size_t errlen);

/* Sends one text frame (masked, as a client must). Blocking write; callers
 * on several threads are serialised. Returns 0 or an errno value. */
int lg_ws_send(lg_ws *w, const char *text, size_t len);

/* Closes the socket and frees; after lg_ws_loop_stop. */
void lg_ws_free(lg_ws *w);

#endif
