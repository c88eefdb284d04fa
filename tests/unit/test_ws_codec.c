/*
 * tests/unit/test_ws_codec.c - the gateway's WebSocket codec
 * (libchat/gateway/ws_codec.c): the RFC 6455 accept key, server frame
 * headers, client frames through a masking encoder written here, messages
 * from fragments with UTF-8 checks, and random input. Its cases join the
 * net_codec suite whose main is in test_http_parse.c.
 */
#include <stdlib.h>
#include <string.h>

#include "test_net_codec.h"
#include "testutil.h"
#include "ws_codec.h"

#define BIG (1u << 20)

/* A client frame as a browser sends it: masked with key, FIN as given; rsv
 * goes into bits 4-6 of the first byte. Returns the frame's length. */
static size_t client_frame(unsigned char *out, bool fin, int rsv, int opcode, const void *data,
                           uint64_t len, const unsigned char key[4])
{
    size_t n = 0;
    out[n++] = (unsigned char)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F));
    if (len < 126) {
        out[n++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xFFFF) {
        out[n++] = 0x80 | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)(len >> (8 * i));
    }
    memcpy(out + n, key, 4);
    n += 4;
    const unsigned char *p = data;
    for (uint64_t i = 0; i < len && p; i++)
        out[n + i] = p[i] ^ key[i % 4];
    return n + (size_t)len;
}

static const unsigned char KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* -------------------------------------------------------- handshake --- */

START_TEST(accept_key)
{
    char out[29];
    memset(out, 'x', sizeof out);
    /* RFC 6455 1.3's sample (also `openssl sha1 -binary | base64`). */
    ck_assert(gw_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out));
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    static const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
        "dGhlIHNhbXBsZSBub25jZQ= ",
        "dGhlIHNhbXBsZSBub25j!Q==",
        "dGhlIHNhbXBs ZSBub25jZQ=",
        "dGhlIHNhbXBsZSBu\r\n25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ=A",
        "dGhlIHNhbXBsZSBub25jZ===",
        "AAAAAAAAAAAAAAAAAAAAAAAA",  /* 18 bytes */
        "AAAAAAAAAAAAAAAAAAAAAAA=",  /* 17 bytes */
        "dGhlIHNhbXBsZSBub25jZQ==dGhl",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!gw_ws_accept_key(bad[i], out), "accepted \"%s\"", bad[i]);
    ck_assert(!gw_ws_accept_key(NULL, out));
}
END_TEST

/* ----------------------------------------------------------- frames --- */

START_TEST(server_headers)
{
    static const struct {
        uint64_t len;
        size_t n;
        unsigned char b1;
    } cases[] = {{0, 2, 0}, {125, 2, 125}, {126, 4, 126}, {65535, 4, 126}, {65536, 10, 127},
                 {UINT64_C(1) << 40, 10, 127}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char h[10];
        size_t n = gw_ws_frame_header(h, GW_WS_TEXT, cases[i].len);
        ck_assert_uint_eq(n, cases[i].n);
        ck_assert_uint_eq(h[0], 0x81);
        ck_assert_uint_eq(h[1], cases[i].b1); /* no mask bit */
        uint64_t got = h[1];
        if (n == 4)
            got = (uint64_t)h[2] << 8 | h[3];
        if (n == 10) {
            got = 0;
            for (int k = 0; k < 8; k++)
                got = got << 8 | h[2 + k];
        }
        ck_assert_uint_eq(got, cases[i].len);
    }
    unsigned char h[10];
    ck_assert_uint_eq(gw_ws_frame_header(h, GW_WS_PONG, 3), 2);
    ck_assert_uint_eq(h[0], 0x8A);
    ck_assert_uint_eq(gw_ws_frame_header(h, GW_WS_CLOSE, 2), 2);
    ck_assert_uint_eq(h[0], 0x88);
    ck_assert_uint_eq(gw_ws_frame_header(h, GW_WS_BINARY, 300), 4);
    ck_assert_uint_eq(h[0], 0x82);
}
END_TEST

START_TEST(round_trip)
{
    static const size_t lens[] = {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 125, 126, 127, 65535, 65536, 100003};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t len = lens[i];
        unsigned char *data = malloc(len + 1), *frame = malloc(len + 14);
        for (size_t k = 0; k < len; k++)
            data[k] = (unsigned char)(k * 31 + 7);
        size_t n = client_frame(frame, true, 0, GW_WS_BINARY, data, len, KEY);
        /* exact-size copy: ASan catches reads past the frame */
        unsigned char *buf = malloc(n);
        memcpy(buf, frame, n);
        gw_ws_frame f;
        uint16_t code = 0;
        ck_assert_int_eq(gw_ws_parse_frame(buf, n, BIG, &f, &code), (long)n);
        ck_assert_int_eq(f.opcode, GW_WS_BINARY);
        ck_assert(f.fin);
        ck_assert_uint_eq(f.len, len);
        ck_assert_ptr_eq(f.payload, (char *)buf + (n - len));
        ck_assert_int_eq(memcmp(f.payload, data, len), 0);
        ck_assert_uint_eq(code, 0);
        /* Any prefix is an incomplete frame. */
        size_t hdr = n - len;
        size_t probes[] = {0, 1, hdr - 5, hdr - 1, hdr, n - 1, n / 2};
        for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
            if (probes[p] >= n)
                continue;
            memcpy(buf, frame, n);
            ck_assert_int_eq(gw_ws_parse_frame(buf, probes[p], BIG, &f, &code), 0);
            ck_assert_int_eq(memcmp(buf, frame, n), 0); /* still masked */
        }
        /* Exactly max_payload is fine; one byte less is too big. */
        memcpy(buf, frame, n);
        ck_assert_int_eq(gw_ws_parse_frame(buf, n, len, &f, &code), (long)n);
        if (len > 0) {
            memcpy(buf, frame, n);
            ck_assert_int_eq(gw_ws_parse_frame(buf, n, len - 1, &f, &code), -1);
            ck_assert_uint_eq(code, GW_WS_CLOSE_TOO_BIG);
            /* ... known from the header alone */
            code = 0;
            ck_assert_int_eq(gw_ws_parse_frame(buf, hdr - 4, len - 1, &f, &code), -1);
            ck_assert_uint_eq(code, GW_WS_CLOSE_TOO_BIG);
        }
        free(buf);
        free(frame);
        free(data);
    }
    /* Two frames back to back. */
    unsigned char two[64];
    size_t n1 = client_frame(two, true, 0, GW_WS_TEXT, "hi", 2, KEY);
    size_t n2 = client_frame(two + n1, true, 0, GW_WS_PING, "p!", 2, KEY);
    gw_ws_frame f;
    uint16_t code;
    ck_assert_int_eq(gw_ws_parse_frame(two, n1 + n2, BIG, &f, &code), (long)n1);
    ck_assert_int_eq(memcmp(f.payload, "hi", 2), 0);
    ck_assert_int_eq(gw_ws_parse_frame(two + n1, n2, BIG, &f, &code), (long)n2);
    ck_assert_int_eq(f.opcode, GW_WS_PING);
    ck_assert_int_eq(memcmp(f.payload, "p!", 2), 0);
}
END_TEST

START_TEST(frame_refusals)
{
    unsigned char buf[256];
    gw_ws_frame f;
    uint16_t code;
    char big[126] = {0};
#define REFUSE(n, want)                                                         \
    do {                                                                        \
        code = 0;                                                               \
        ck_assert_int_eq(gw_ws_parse_frame(buf, (n), BIG, &f, &code), -1);      \
        ck_assert_uint_eq(code, (want));                                        \
    } while (0)

    /* Unmasked (a server frame). */
    size_t n = gw_ws_frame_header(buf, GW_WS_TEXT, 2);
    memcpy(buf + n, "hi", 2);
    REFUSE(n + 2, GW_WS_CLOSE_PROTOCOL);
    REFUSE(2, GW_WS_CLOSE_PROTOCOL); /* known from the first two bytes */
    /* Reserved bits, one at a time. */
    for (int rsv = 1; rsv <= 4; rsv <<= 1) {
        n = client_frame(buf, true, rsv, GW_WS_TEXT, "hi", 2, KEY);
        REFUSE(n, GW_WS_CLOSE_PROTOCOL);
    }
    /* Reserved opcodes. */
    static const int reserved[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        n = client_frame(buf, true, 0, reserved[i], "hi", 2, KEY);
        REFUSE(n, GW_WS_CLOSE_PROTOCOL);
    }
    /* Control frames: fragmented, or longer than 125. */
    static const int controls[] = {GW_WS_CLOSE, GW_WS_PING, GW_WS_PONG};
    for (size_t i = 0; i < 3; i++) {
        n = client_frame(buf, false, 0, controls[i], "x", 1, KEY);
        REFUSE(n, GW_WS_CLOSE_PROTOCOL);
        n = client_frame(buf, true, 0, controls[i], big, 126, KEY);
        REFUSE(n, GW_WS_CLOSE_PROTOCOL);
        n = client_frame(buf, true, 0, controls[i], big, 125, KEY);
        ck_assert_int_eq(gw_ws_parse_frame(buf, n, BIG, &f, &code), (long)n);
        ck_assert_int_eq(f.opcode, controls[i]);
    }
    /* A 64-bit length with its top bit set. */
    buf[0] = 0x82;
    buf[1] = 0x80 | 127;
    buf[2] = 0x80;
    memset(buf + 3, 0, 7);
    REFUSE(14, GW_WS_CLOSE_PROTOCOL);
    /* ... but 2^63 - 1 is only too big. */
    buf[2] = 0x7F;
    memset(buf + 3, 0xFF, 7);
    REFUSE(10, GW_WS_CLOSE_TOO_BIG);
    /* close_code may be NULL. */
    ck_assert_int_eq(gw_ws_parse_frame(buf, 10, BIG, &f, NULL), -1);
#undef REFUSE
}
END_TEST

/* --------------------------------------------------------- messages --- */

/* Parses frames from buf into m until a message is done; pings are counted. */
static int take(unsigned char *buf, size_t len, gw_ws_message *m, int *pings, uint16_t *code)
{
    size_t at = 0;
    int rv = GW_WS_MSG_PARTIAL;
    while (at < len) {
        gw_ws_frame f;
        long n = gw_ws_parse_frame(buf + at, len - at, BIG, &f, code);
        ck_assert_int_gt(n, 0);
        at += (size_t)n;
        if (f.opcode == GW_WS_PING) {
            ck_assert_uint_eq(f.len, 4);
            ck_assert_int_eq(memcmp(f.payload, "ping", 4), 0);
            (*pings)++;
            continue;
        }
        rv = gw_ws_message_add(m, &f, 1000, code);
        if (rv != GW_WS_MSG_PARTIAL)
            break;
    }
    ck_assert_uint_eq(at, len);
    return rv;
}

START_TEST(fragments_with_ping)
{
    /* "wörld": ö (C3 B6) split across the second and third fragments. */
    unsigned char buf[256];
    size_t n = 0;
    n += client_frame(buf + n, false, 0, GW_WS_TEXT, "Hel", 3, KEY);
    n += client_frame(buf + n, true, 0, GW_WS_PING, "ping", 4, KEY);
    n += client_frame(buf + n, false, 0, GW_WS_CONT, "lo w\xC3", 5, KEY);
    n += client_frame(buf + n, false, 0, GW_WS_CONT, "", 0, KEY);
    n += client_frame(buf + n, true, 0, GW_WS_CONT, "\xB6rld", 4, KEY);
    gw_ws_message m = {0};
    int pings = 0;
    uint16_t code = 0;
    ck_assert_int_eq(take(buf, n, &m, &pings, &code), GW_WS_MSG_DONE);
    ck_assert_int_eq(pings, 1);
    ck_assert_int_eq(m.opcode, GW_WS_TEXT);
    ck_assert_uint_eq(m.data.len, strlen("Hello w\xC3\xB6rld"));
    ck_assert_int_eq(memcmp(m.data.data, "Hello w\xC3\xB6rld", m.data.len), 0);
    gw_ws_message_reset(&m);
    ck_assert_int_eq(m.opcode, 0);
    ck_assert_uint_eq(m.data.len, 0);

    /* The next message, unfragmented, is copied: its buffer can go. */
    n = client_frame(buf, true, 0, GW_WS_BINARY, "\xFF\x00z", 3, KEY);
    ck_assert_int_eq(take(buf, n, &m, &pings, &code), GW_WS_MSG_DONE);
    memset(buf, 0, sizeof buf);
    ck_assert_int_eq(m.opcode, GW_WS_BINARY);
    ck_assert_uint_eq(m.data.len, 3);
    ck_assert_int_eq(memcmp(m.data.data, "\xFF\x00z", 3), 0);
    gw_ws_message_reset(&m);

    /* U+0000 is UTF-8 too. */
    n = client_frame(buf, true, 0, GW_WS_TEXT, "a\0b", 3, KEY);
    ck_assert_int_eq(take(buf, n, &m, &pings, &code), GW_WS_MSG_DONE);
    gw_ws_message_reset(&m);
    n = client_frame(buf, true, 0, GW_WS_TEXT, "", 0, KEY);
    ck_assert_int_eq(take(buf, n, &m, &pings, &code), GW_WS_MSG_DONE);
    ck_assert_uint_eq(m.data.len, 0);
    gw_ws_message_free(&m);
}
END_TEST

START_TEST(message_refusals)
{
    static const struct {
        const char *text;
        size_t len;
    } bad_utf8[] = {
        {"\xFF", 1},
        {"ok\xC3", 3},                 /* cut short at the end */
        {"\xC0\xAF", 2},               /* overlong */
        {"\xED\xA0\x80", 3},           /* surrogate */
        {"\xF4\x90\x80\x80", 4},       /* above U+10FFFF */
        {"a\0\xC3", 3},
    };
    unsigned char buf[256];
    int pings = 0;
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        gw_ws_message m = {0};
        uint16_t code = 0;
        size_t n = client_frame(buf, true, 0, GW_WS_TEXT, bad_utf8[i].text, bad_utf8[i].len, KEY);
        ck_assert_int_eq(take(buf, n, &m, &pings, &code), GW_WS_MSG_ERROR);
        ck_assert_uint_eq(code, GW_WS_CLOSE_BAD_DATA);
        gw_ws_message_free(&m);
        /* The same bytes as binary are fine. */
        n = client_frame(buf, true, 0, GW_WS_BINARY, bad_utf8[i].text, bad_utf8[i].len, KEY);
        ck_assert_int_eq(take(buf, n, &m, &pings, &code), GW_WS_MSG_DONE);
        gw_ws_message_free(&m);
    }

    gw_ws_message m = {0};
    uint16_t code = 0;
    gw_ws_frame f = {.opcode = GW_WS_CONT, .fin = true, .payload = (char *)"x", .len = 1};
    /* A continuation with nothing begun. */
    ck_assert_int_eq(gw_ws_message_add(&m, &f, 1000, &code), GW_WS_MSG_ERROR);
    ck_assert_uint_eq(code, GW_WS_CLOSE_PROTOCOL);
    /* A new message before the last one ended. */
    f.opcode = GW_WS_TEXT;
    f.fin = false;
    ck_assert_int_eq(gw_ws_message_add(&m, &f, 1000, &code), GW_WS_MSG_PARTIAL);
    code = 0;
    f.opcode = GW_WS_BINARY;
    ck_assert_int_eq(gw_ws_message_add(&m, &f, 1000, &code), GW_WS_MSG_ERROR);
    ck_assert_uint_eq(code, GW_WS_CLOSE_PROTOCOL);
    /* A control frame is not a data frame. */
    code = 0;
    f.opcode = GW_WS_PING;
    f.fin = true;
    ck_assert_int_eq(gw_ws_message_add(&m, &f, 1000, &code), GW_WS_MSG_ERROR);
    ck_assert_uint_eq(code, GW_WS_CLOSE_PROTOCOL);
    gw_ws_message_free(&m);

    /* Too big across fragments: 600 + 400 is the limit, one more is not. */
    static char chunk[600];
    memset(chunk, 'a', sizeof chunk);
    gw_ws_frame a = {.opcode = GW_WS_TEXT, .fin = false, .payload = chunk, .len = 600};
    gw_ws_frame b = {.opcode = GW_WS_CONT, .fin = true, .payload = chunk, .len = 400};
    ck_assert_int_eq(gw_ws_message_add(&m, &a, 1000, &code), GW_WS_MSG_PARTIAL);
    ck_assert_int_eq(gw_ws_message_add(&m, &b, 1000, &code), GW_WS_MSG_DONE);
    gw_ws_message_reset(&m);
    b.len = 401;
    code = 0;
    ck_assert_int_eq(gw_ws_message_add(&m, &a, 1000, &code), GW_WS_MSG_PARTIAL);
    ck_assert_int_eq(gw_ws_message_add(&m, &b, 1000, &code), GW_WS_MSG_ERROR);
    ck_assert_uint_eq(code, GW_WS_CLOSE_TOO_BIG);
    gw_ws_message_free(&m);
}
END_TEST

START_TEST(reset_gives_back_big_buffers)
{
    gw_ws_message m = {0};
    uint16_t code;
    char *big = calloc(1, 200000);
    gw_ws_frame f = {.opcode = GW_WS_BINARY, .fin = true, .payload = big, .len = 100};
    ck_assert_int_eq(gw_ws_message_add(&m, &f, BIG, &code), GW_WS_MSG_DONE);
    gw_ws_message_reset(&m);
    ck_assert_ptr_nonnull(m.data.data); /* small: kept */
    f.len = 200000;
    ck_assert_int_eq(gw_ws_message_add(&m, &f, BIG, &code), GW_WS_MSG_DONE);
    gw_ws_message_reset(&m);
    ck_assert_ptr_null(m.data.data);
    ck_assert_uint_eq(m.data.len, 0);
    gw_ws_message_free(&m);
    gw_ws_message_free(&m); /* twice is harmless */
    free(big);
}
END_TEST

/* ------------------------------------------------------------- fuzz --- */

#define ws_rnd net_codec_rand

START_TEST(ws_fuzz)
{
    unsigned char tmp[400];
    gw_ws_message m = {0};
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        if (iter % 3 == 0) {
            len = ws_rnd() % 64;
            for (size_t i = 0; i < len; i++)
                tmp[i] = (unsigned char)ws_rnd();
        } else {
            /* a valid frame, then a few bits flipped and maybe cut */
            unsigned char payload[300];
            size_t plen = ws_rnd() % 3 == 0 ? ws_rnd() % 300 : ws_rnd() % 8;
            for (size_t i = 0; i < plen; i++)
                payload[i] = ws_rnd() % 2 ? (unsigned char)ws_rnd() : (unsigned char)('a' + i % 26);
            static const int ops[] = {0, 1, 2, 8, 9, 10};
            unsigned char key[4];
            uint32_t k = ws_rnd();
            memcpy(key, &k, 4);
            len = client_frame(tmp, ws_rnd() % 3 != 0, 0, ops[ws_rnd() % 6], payload, plen, key);
            int flips = (int)(ws_rnd() % 3);
            for (int i = 0; i < flips; i++)
                tmp[ws_rnd() % (len < 14 ? len : 14)] ^= (unsigned char)(1u << (ws_rnd() % 8));
            if (ws_rnd() % 8 == 0)
                len = ws_rnd() % (len + 1);
        }
        unsigned char *buf = malloc(len ? len : 1);
        memcpy(buf, tmp, len);
        size_t max = ws_rnd() % 2 ? BIG : ws_rnd() % 200;
        gw_ws_frame f;
        uint16_t code = 0;
        long rv = gw_ws_parse_frame(buf, len, max, &f, &code);
        if (rv < 0) {
            ck_assert_int_eq(rv, -1);
            ck_assert(code == GW_WS_CLOSE_PROTOCOL || code == GW_WS_CLOSE_TOO_BIG);
        } else if (rv > 0) {
            ck_assert_uint_le((size_t)rv, len);
            /* any shorter prefix is an incomplete frame */
            size_t k = ws_rnd() % (size_t)rv;
            unsigned char *pre = malloc(k ? k : 1);
            memcpy(pre, tmp, k);
            gw_ws_frame g;
            ck_assert_int_eq(gw_ws_parse_frame(pre, k, max, &g, &code), 0);
            free(pre);
            ck_assert_uint_le(f.len, max);
            ck_assert((unsigned char *)f.payload + f.len == buf + rv);
            ck_assert(f.opcode <= 2 || (f.opcode >= 8 && f.opcode <= 10));
            if (f.opcode >= 8)
                ck_assert(f.fin && f.len <= 125);
            else {
                int mr = gw_ws_message_add(&m, &f, 500, &code);
                ck_assert(mr == GW_WS_MSG_PARTIAL || mr == GW_WS_MSG_DONE ||
                          mr == GW_WS_MSG_ERROR);
                if (mr == GW_WS_MSG_ERROR)
                    ck_assert(code == GW_WS_CLOSE_PROTOCOL || code == GW_WS_CLOSE_TOO_BIG ||
                              code == GW_WS_CLOSE_BAD_DATA);
                if (mr != GW_WS_MSG_PARTIAL)
                    gw_ws_message_reset(&m);
                ck_assert_uint_le(m.data.len, 500);
            }
        }
        free(buf);
    }
    gw_ws_message_free(&m);
}
END_TEST

void net_codec_add_ws_cases(Suite *s)
{
    TCase *tc = tcase_create("ws");
    tcase_add_test(tc, accept_key);
    tcase_add_test(tc, server_headers);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, frame_refusals);
    tcase_add_test(tc, fragments_with_ping);
    tcase_add_test(tc, message_refusals);
    tcase_add_test(tc, reset_gives_back_big_buffers);
    suite_add_tcase(s, tc);

    tc = tcase_create("ws_fuzz");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ws_fuzz);
    suite_add_tcase(s, tc);
}
