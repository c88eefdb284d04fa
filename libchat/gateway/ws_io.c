/* WebSocket on a gateway socket: the upgrade and the client's frames. */
#include <stdio.h>
#include <string.h>

#include "ws_io.h"

bool gw_ws_upgrade(gw_sock *s, const gw_req *r)
{
    const char *key = gw_req_header(r, "Sec-WebSocket-Key");
    const char *version = gw_req_header(r, "Sec-WebSocket-Version");
    char accept[29];
    if (key == NULL || version == NULL || strcmp(version, "13") != 0 ||
        !gw_ws_accept_key(key, accept))
        return false;
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    gw_sock_send_copy(s, resp, (size_t)n);
    return true;
}

void gw_ws_control(gw_sock *s, int opcode, const void *payload, size_t len)
{
    unsigned char buf[10 + 125];
    if (len > 125)
        len = 125;
    size_t hl = gw_ws_frame_header(buf, opcode, len);
    memcpy(buf + hl, payload, len);
    if (opcode == GW_WS_CLOSE)
        gw_sock_send_last_copy(s, buf, hl + len);
    else
        gw_sock_send_copy(s, buf, hl + len);
}

void gw_ws_fail(gw_sock *s, uint16_t code)
{
    unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    gw_ws_control(s, GW_WS_CLOSE, p, 2);
    gw_sock_close(s, true); /* also when the frame could not be queued */
}

size_t gw_ws_read(gw_sock *s, gw_ws_message *msg, size_t max_frame, char *data, size_t len,
                  gw_ws_text_fn on_text, void *arg)
{
    size_t used = 0;
    while (used < len) {
        gw_ws_frame f;
        uint16_t code = GW_WS_CLOSE_PROTOCOL;
        long n = gw_ws_parse_frame((unsigned char *)data + used, len - used, max_frame, &f,
                                   &code);
        if (n == 0)
            break;
        if (n < 0) {
            gw_ws_fail(s, code);
            return len;
        }
        used += (size_t)n;
        switch (f.opcode) {
        case GW_WS_PING:
            gw_ws_control(s, GW_WS_PONG, f.payload, f.len);
            break;
        case GW_WS_PONG:
            break;
        case GW_WS_CLOSE:
            /* echo the client's code, as the close handshake asks; never a
             * code that may not be sent (1005, 1006, 1015) */
            if (!gw_ws_close_valid(f.payload, f.len)) {
                gw_ws_fail(s, GW_WS_CLOSE_PROTOCOL);
                return len;
            }
            gw_ws_control(s, GW_WS_CLOSE, f.payload, f.len >= 2 ? 2 : 0);
            gw_sock_close(s, true);
            return len;
        default: {
            int r = gw_ws_message_add(msg, &f, max_frame, &code);
            if (r == GW_WS_MSG_ERROR) {
                gw_ws_fail(s, code);
                return len;
            }
            if (r == GW_WS_MSG_DONE) {
                if (msg->opcode != GW_WS_TEXT) {
                    gw_ws_fail(s, GW_WS_CLOSE_UNSUPPORTED); /* the API is JSON text */
                    return len;
                }
                bool more = on_text(arg, msg->data.data ? msg->data.data : "", msg->data.len);
                gw_ws_message_reset(msg);
                if (!more)
                    return used;
            }
        }
        }
    }
    return used;
}
