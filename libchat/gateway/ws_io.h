/*
 * libchat/gateway/ws_io.h - WebSocket on a gateway socket: the upgrade's
 * answer and the reading of client frames (control frames answered, messages
 * reassembled), shared by the RTM hub (hub.c) and Socket Mode (links.c).
 *
 * Loop thread, except gw_ws_control and gw_ws_fail (any thread).
 */
#ifndef CHAT_GW_WS_IO_H
#define CHAT_GW_WS_IO_H

#include "httpd.h"
#include "net.h"
#include "ws_codec.h"

/* Answers an upgrade request (101 with its accept key). false: not a valid
 * WebSocket upgrade; nothing was sent (the caller answers 400). */
bool gw_ws_upgrade(gw_sock *s, const gw_req *r);

/* Sends a control frame (ping, pong, close) on s; a close is queued as the
 * socket's last frame, so nothing a fan-out sends meanwhile can follow it. */
void gw_ws_control(gw_sock *s, int opcode, const void *payload, size_t len);
/* A close frame with code, then hang up. */
void gw_ws_fail(gw_sock *s, uint16_t code);

/* A whole text message from the client; false to stop reading (the caller
 * paused the socket and resumes it later). */
typedef bool (*gw_ws_text_fn)(void *arg, const char *text, size_t len);

/* Reads the client's frames in data[0..len) into *msg (the connection's),
 * answering pings and closes and refusing what the protocol forbids, and
 * passes each whole text message to on_text. Returns the bytes used (less
 * than len when on_text stopped or a frame is incomplete). */
size_t gw_ws_read(gw_sock *s, gw_ws_message *msg, size_t max_frame, char *data, size_t len,
                  gw_ws_text_fn on_text, void *arg);

#endif
