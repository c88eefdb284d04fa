/*
 * gateway/ws_codec.c - RFC 6455 as bytes: the accept key, server frame
 * headers, client frames unmasked in place, messages from fragments.
 */
#include "ws_codec.h"

#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24
/* A message buffer larger than this is given back between messages, so one
 * big message does not pin its memory for the connection's life. */
#define WS_KEEP_CAP 65536

bool gw_ws_accept_key(const char *client_key, char out[29])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char md[20];
    size_t n = 0;
    char in[WS_KEY_LEN + sizeof WS_GUID];

    /* 16 bytes in base64 are 22 characters and "==": checked here, as
     * mbedtls's decoder skips line breaks and trailing blanks. */
    if (client_key == NULL || strspn(client_key, b64) != 22 || strcmp(client_key + 22, "==") != 0)
        return false;
    memcpy(in, client_key, WS_KEY_LEN);
    memcpy(in + WS_KEY_LEN, WS_GUID, sizeof WS_GUID - 1);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    if (mbedtls_sha1((const unsigned char *)in, sizeof in - 1, md) != 0)
        return false;
#else
    if (mbedtls_sha1_ret((const unsigned char *)in, sizeof in - 1, md) != 0)
        return false;
#endif
    /* 20 bytes are 28 characters; mbedtls writes the NUL too. */
    return mbedtls_base64_encode((unsigned char *)out, 29, &n, md, sizeof md) == 0 && n == 28;
}

size_t gw_ws_frame_header(unsigned char out[10], int opcode, uint64_t len)
{
    out[0] = (unsigned char)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

/* XORs p[0..n) with the 4-byte key, eight bytes at a time: the payload
 * starts at key offset 0, so every aligned 8-byte block sees the key twice. */
static void unmask(unsigned char *p, size_t n, const unsigned char key[4])
{
    unsigned char k8[8];
    uint64_t k, v;
    size_t i = 0;

    memcpy(k8, key, 4);
    memcpy(k8 + 4, key, 4);
    memcpy(&k, k8, 8);
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, p + i, 8);
        v ^= k;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] ^= key[i & 3];
}

static long ws_fail(uint16_t *close_code, uint16_t code)
{
    if (close_code)
        *close_code = code;
    return -1;
}

long gw_ws_parse_frame(unsigned char *buf, size_t len, size_t max_payload, gw_ws_frame *f,
                       uint16_t *close_code)
{
    if (len < 2)
        return 0;
    bool fin = buf[0] & 0x80;
    int opcode = buf[0] & 0x0F;
    if (buf[0] & 0x70)
        return ws_fail(close_code, GW_WS_CLOSE_PROTOCOL); /* no extension agreed */
    if (opcode > GW_WS_BINARY && opcode != GW_WS_CLOSE && opcode != GW_WS_PING &&
        opcode != GW_WS_PONG)
        return ws_fail(close_code, GW_WS_CLOSE_PROTOCOL);
    if (!(buf[1] & 0x80))
        return ws_fail(close_code, GW_WS_CLOSE_PROTOCOL);
    uint64_t plen = buf[1] & 0x7F;
    if ((opcode & 0x8) && (!fin || plen > 125))
        return ws_fail(close_code, GW_WS_CLOSE_PROTOCOL);

    size_t hdr = 2;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        hdr = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | buf[2 + i];
        if (plen >> 63)
            return ws_fail(close_code, GW_WS_CLOSE_PROTOCOL);
        hdr = 10;
    }
    /* Refused as soon as the length is known, before the payload is read. */
    if (plen > max_payload)
        return ws_fail(close_code, GW_WS_CLOSE_TOO_BIG);
    hdr += 4;
    if (len < hdr || len - hdr < plen)
        return 0;
    unmask(buf + hdr, (size_t)plen, buf + hdr - 4);
    f->opcode = opcode;
    f->fin = fin;
    f->payload = (char *)buf + hdr;
    f->len = (size_t)plen;
    return (long)(hdr + plen);
}

/* UTF-8 as RFC 3629 has it, which allows U+0000: chati_utf8_valid refuses NUL
 * (C strings), so validate the runs between NULs. A NUL cannot sit inside a
 * sequence, so this is the same as validating the whole. */
static bool text_valid(const char *s, size_t len)
{
    for (;;) {
        const char *z = memchr(s, '\0', len);
        size_t n = z ? (size_t)(z - s) : len;
        if (!chati_utf8_valid(s, n, NULL))
            return false;
        if (z == NULL)
            return true;
        s = z + 1;
        len -= n + 1;
    }
}

static int msg_fail(uint16_t *close_code, uint16_t code)
{
    if (close_code)
        *close_code = code;
    return GW_WS_MSG_ERROR;
}

int gw_ws_message_add(gw_ws_message *m, const gw_ws_frame *f, size_t max_message,
                      uint16_t *close_code)
{
    if (f->opcode == GW_WS_CONT) {
        if (m->opcode == 0)
            return msg_fail(close_code, GW_WS_CLOSE_PROTOCOL);
    } else if (f->opcode == GW_WS_TEXT || f->opcode == GW_WS_BINARY) {
        if (m->opcode != 0)
            return msg_fail(close_code, GW_WS_CLOSE_PROTOCOL);
        m->opcode = f->opcode;
    } else {
        return msg_fail(close_code, GW_WS_CLOSE_PROTOCOL);
    }
    if (m->data.len > max_message || f->len > max_message - m->data.len)
        return msg_fail(close_code, GW_WS_CLOSE_TOO_BIG);
    /* Out of memory: the message is too big for us now. */
    if (chati_buf_append(&m->data, f->payload, f->len) != CHAT_OK)
        return msg_fail(close_code, GW_WS_CLOSE_TOO_BIG);
    if (!f->fin)
        return GW_WS_MSG_PARTIAL;
    /* Whole messages only: a character may be split across fragments. */
    if (m->opcode == GW_WS_TEXT && !text_valid(m->data.data, m->data.len))
        return msg_fail(close_code, GW_WS_CLOSE_BAD_DATA);
    return GW_WS_MSG_DONE;
}

void gw_ws_message_reset(gw_ws_message *m)
{
    m->opcode = 0;
    if (m->data.cap > WS_KEEP_CAP) {
        chati_buf_free(&m->data);
    } else if (m->data.data) {
        m->data.len = 0;
        m->data.data[0] = '\0';
    }
}

void gw_ws_message_free(gw_ws_message *m)
{
    chati_buf_free(&m->data);
    m->opcode = 0;
}

bool gw_ws_close_valid(const char *payload, size_t len)
{
    if (len == 0)
        return true;
    if (len == 1)
        return false;
    unsigned code = (unsigned)(unsigned char)payload[0] << 8 | (unsigned char)payload[1];
    bool known = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
    if (!known && (code < 3000 || code > 4999))
        return false;
    return text_valid(payload + 2, len - 2);
}
