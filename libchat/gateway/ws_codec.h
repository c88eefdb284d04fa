/*
 * libchat/gateway/ws_codec.h - the WebSocket protocol (RFC 6455) as bytes:
 * the handshake's accept key, server frame headers, client frames parsed and
 * unmasked in place, and messages reassembled from fragments.
 *
 * Pure functions over caller-owned bytes; one gw_ws_message per connection,
 * not synchronised.
 */
#ifndef CHAT_GW_WS_CODEC_H
#define CHAT_GW_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

enum {
    GW_WS_CONT = 0x0,
    GW_WS_TEXT = 0x1,
    GW_WS_BINARY = 0x2,
    GW_WS_CLOSE = 0x8,
    GW_WS_PING = 0x9,
    GW_WS_PONG = 0xA
};

/* Close codes we send. */
enum {
    GW_WS_CLOSE_NORMAL = 1000,
    GW_WS_CLOSE_GOING_AWAY = 1001,
    GW_WS_CLOSE_PROTOCOL = 1002,
    GW_WS_CLOSE_UNSUPPORTED = 1003,
    GW_WS_CLOSE_BAD_DATA = 1007,   /* text that is not UTF-8 */
    GW_WS_CLOSE_POLICY = 1008,
    GW_WS_CLOSE_TOO_BIG = 1009
};

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key +
 * the RFC's GUID)), 28 characters and a NUL. false when the key is not 24
 * base64 characters (16 bytes), which the RFC requires. */
bool gw_ws_accept_key(const char *client_key, char out[29]);

/* Writes the header of an unmasked, final server frame of this opcode and
 * payload length into out; returns its length (2, 4 or 10). */
size_t gw_ws_frame_header(unsigned char out[10], int opcode, uint64_t len);

/* A client frame, parsed. payload points into the caller's buffer. */
typedef struct gw_ws_frame {
    int opcode;
    bool fin;
    char *payload;      /* unmasked in place */
    size_t len;
} gw_ws_frame;

/*
 * Parses the frame at buf[0..len). Returns the bytes it takes (> 0) with *f
 * filled and its payload unmasked in place; 0 when the frame is not complete
 * yet; -1 on a protocol error, with *close_code set: an unmasked frame
 * (clients must mask), reserved bits or opcodes, a control frame that is
 * fragmented or longer than 125 bytes, a payload longer than max_payload
 * (GW_WS_CLOSE_TOO_BIG).
 */
long gw_ws_parse_frame(unsigned char *buf, size_t len, size_t max_payload, gw_ws_frame *f,
                       uint16_t *close_code);

/* A data message built from its fragments. Zero-initialise; free with
 * gw_ws_message_free. */
typedef struct gw_ws_message {
    int opcode;         /* of the first fragment; 0 between messages */
    chati_buf data;
} gw_ws_message;

/* What gw_ws_message_add says. */
enum {
    GW_WS_MSG_PARTIAL = 0,  /* a fragment kept; more to come */
    GW_WS_MSG_DONE = 1,     /* m->opcode and m->data hold a whole message;
                             * call gw_ws_message_reset once it is used */
    GW_WS_MSG_ERROR = -1    /* *close_code says why */
};

/*
 * Adds a data frame (text, binary or continuation; not a control frame) to
 * m. A continuation with no message begun, or a new message before the last
 * one ended, is a protocol error; a message longer than max_message is
 * GW_WS_CLOSE_TOO_BIG; a whole text message that is not UTF-8 is
 * GW_WS_CLOSE_BAD_DATA. An unfragmented frame is copied too, so the caller
 * may reuse its buffer at once.
 */
int gw_ws_message_add(gw_ws_message *m, const gw_ws_frame *f, size_t max_message,
                      uint16_t *close_code);

/* Empties m for the next message, keeping its buffer's memory when small. */
void gw_ws_message_reset(gw_ws_message *m);

void gw_ws_message_free(gw_ws_message *m);

/* Whether a Close frame's payload (code and reason) is one a peer may send:
 * empty, or a code of RFC 6455 7.4 that is not reserved for local use
 * (1005, 1006, 1015) followed by UTF-8. */
bool gw_ws_close_valid(const char *payload, size_t len);

#endif
