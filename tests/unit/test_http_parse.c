/*
 * tests/unit/test_http_parse.c - the gateway's HTTP/1.1 request parser
 * (libchat/gateway/http_parse.c): every head field, every refusal, heads fed
 * a byte at a time and pipelined, chunked bodies split at every point, and
 * random input. The suite's main is here; test_ws_codec.c adds its cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "test_net_codec.h"
#include "testutil.h"

#define MAX_HEAD 8192

/* Parses a copy of s[0..len) held in a buffer of exactly len bytes (so ASan
 * sees any read past it); *copy keeps it alive for h's strings. */
static int parse_n(const char *s, size_t len, size_t max_head, gw_http_head *h, char **copy)
{
    *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(*copy);
    memcpy(*copy, s, len);
    return gw_http_parse_head(*copy, len, max_head, h);
}

static int parse_rv(const char *s)
{
    gw_http_head h;
    char *copy;
    int rv = parse_n(s, strlen(s), MAX_HEAD, &h, &copy);
    free(copy);
    return rv;
}

#define ck_assert_head_rv(s, want)                                                      \
    do {                                                                                \
        int ck_rv_ = parse_rv(s);                                                       \
        ck_assert_msg(ck_rv_ == (want), "%d, wanted %d for \"%s\"", ck_rv_, (int)(want), \
                      (s));                                                             \
    } while (0)

/* ------------------------------------------------------------ heads --- */

START_TEST(fields)
{
    const char *req = "POST /api/chat.postMessage?x=1 HTTP/1.1\r\n"
                      "Host: chat.local\r\n"
                      "Content-Length: 12\r\n"
                      "X-Empty:\r\n"
                      "x-blank: \t v a l \t \r\n"
                      "\r\n"
                      "hello world!";
    gw_http_head h;
    char *buf;
    int rv = parse_n(req, strlen(req), MAX_HEAD, &h, &buf);
    ck_assert_int_eq(rv, (int)(strstr(req, "hello") - req));
    ck_assert_str_eq(h.method, "POST");
    ck_assert_str_eq(h.target, "/api/chat.postMessage?x=1");
    ck_assert_int_eq(h.minor, 1);
    ck_assert_uint_eq(h.n_headers, 4);
    ck_assert_str_eq(h.headers[0].name, "Host");
    ck_assert_str_eq(h.headers[0].value, "chat.local");
    ck_assert_str_eq(h.headers[2].name, "X-Empty");
    ck_assert_str_eq(h.headers[2].value, "");
    ck_assert_str_eq(h.headers[3].value, "v a l");
    ck_assert_int_eq(h.content_length, 12);
    ck_assert(!h.chunked);
    ck_assert(h.keep_alive);
    ck_assert(!h.upgrade_websocket);
    ck_assert(!h.expect_continue);
    ck_assert_str_eq(gw_http_header_get(&h, "X-BLANK"), "v a l");
    ck_assert_str_eq(gw_http_header_get(&h, "content-length"), "12");
    ck_assert_ptr_null(gw_http_header_get(&h, "Cookie"));
    ck_assert_int_eq(memcmp(buf + rv, "hello world!", 12), 0);
    free(buf);
}
END_TEST

START_TEST(upgrade_and_expect)
{
    const char *req = "GET /ws?token=x HTTP/1.1\r\n"
                      "Host: a\r\n"
                      "Connection: keep-alive, Upgrade\r\n"
                      "Upgrade: WebSocket\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Expect: 100-Continue\r\n"
                      "Transfer-Encoding: CHUNKED\r\n"
                      "\r\n";
    gw_http_head h;
    char *buf;
    ck_assert_int_eq(parse_n(req, strlen(req), MAX_HEAD, &h, &buf), (int)strlen(req));
    ck_assert_str_eq(h.method, "GET");
    ck_assert(h.upgrade_websocket);
    ck_assert(h.keep_alive);
    ck_assert(h.expect_continue);
    ck_assert(h.chunked);
    ck_assert_int_eq(h.content_length, -1);
    ck_assert_str_eq(gw_http_header_get(&h, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    free(buf);

    /* Upgrade without Connection: upgrade (or the other way) is no upgrade. */
    const char *half[] = {
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgraded\r\nUpgrade: websocket\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof half / sizeof half[0]; i++) {
        ck_assert_int_gt(parse_n(half[i], strlen(half[i]), MAX_HEAD, &h, &buf), 0);
        ck_assert(!h.upgrade_websocket);
        free(buf);
    }
    /* Separate Connection headers add up. */
    const char *two = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    ck_assert_int_gt(parse_n(two, strlen(two), MAX_HEAD, &h, &buf), 0);
    ck_assert(h.upgrade_websocket);
    free(buf);
}
END_TEST

START_TEST(keep_alive_by_version)
{
    static const struct {
        const char *req;
        bool keep, expect;
        int minor;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, false, 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false, false, 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false, false, 1},
        {"GET / HTTP/1.0\r\n\r\n", false, false, 0},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, false, 0},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false, false,
         0},
        /* HTTP/1.0 clients' expectations are ignored (RFC 9110 10.1.1). */
        {"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", false, false, 0},
        {"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", true, true, 1},
        {"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", true, false, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_http_head h;
        char *buf;
        int rv = parse_n(cases[i].req, strlen(cases[i].req), MAX_HEAD, &h, &buf);
        ck_assert_msg(rv == (int)strlen(cases[i].req), "case %zu: %d", i, rv);
        ck_assert_msg(h.keep_alive == cases[i].keep, "case %zu keep_alive", i);
        ck_assert_msg(h.expect_continue == cases[i].expect, "case %zu expect", i);
        ck_assert_int_eq(h.minor, cases[i].minor);
        free(buf);
    }
}
END_TEST

START_TEST(bare_lf_and_leading_empty_lines)
{
    const char *req = "\r\n\n\r\nDELETE /x HTTP/1.1\nHost: a\r\nX-A: 1\n\nrest";
    gw_http_head h;
    char *buf;
    ck_assert_int_eq(parse_n(req, strlen(req), MAX_HEAD, &h, &buf),
                     (int)(strstr(req, "rest") - req));
    ck_assert_str_eq(h.method, "DELETE");
    ck_assert_str_eq(h.target, "/x");
    ck_assert_uint_eq(h.n_headers, 2);
    ck_assert_str_eq(h.headers[1].name, "X-A");
    ck_assert_str_eq(h.headers[1].value, "1");
    free(buf);
    /* Only blank lines so far, or a CR at the very end: more to come. */
    ck_assert_head_rv("\r\n\r\n", GW_HTTP_MORE);
    ck_assert_head_rv("\r\n\r", GW_HTTP_MORE);
    ck_assert_head_rv("", GW_HTTP_MORE);
    ck_assert_head_rv("GET / HTTP/1.1\r\nHost: a\r\n\r", GW_HTTP_MORE);
}
END_TEST

START_TEST(content_length_values)
{
    static const struct {
        const char *cl;
        int64_t want; /* -2: refused */
    } cases[] = {
        {"0", 0},
        {"007", 7},
        {"9223372036854775807", INT64_MAX},
        {"9223372036854775808", -2},
        {"99999999999999999999999", -2},
        {"", -2},
        {"-1", -2},
        {"+1", -2},
        {"1 2", -2},
        {"1,1", -2},
        {"0x10", -2},
        {"12a", -2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n",
                 cases[i].cl);
        gw_http_head h;
        char *buf;
        int rv = parse_n(req, strlen(req), MAX_HEAD, &h, &buf);
        if (cases[i].want == -2) {
            ck_assert_msg(rv == GW_HTTP_BAD, "\"%s\" -> %d", cases[i].cl, rv);
        } else {
            ck_assert_msg(rv > 0, "\"%s\" -> %d", cases[i].cl, rv);
            ck_assert_int_eq(h.content_length, cases[i].want);
        }
        free(buf);
    }
    gw_http_head h;
    char *buf;
    const char *same = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n";
    ck_assert_int_gt(parse_n(same, strlen(same), MAX_HEAD, &h, &buf), 0);
    ck_assert_int_eq(h.content_length, 5);
    free(buf);
    ck_assert_head_rv("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                      GW_HTTP_BAD);
}
END_TEST

START_TEST(refusals)
{
    static const struct {
        const char *req;
        int want;
    } cases[] = {
        /* request line */
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET /\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / \r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"/ HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / http/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.x\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/11.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", GW_HTTP_BAD_VERSION},
        {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", GW_HTTP_BAD_VERSION},
        {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", GW_HTTP_BAD_VERSION},
        /* header lines */
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX(: v\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01z\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rz\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fz\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\r\n\r\n", GW_HTTP_BAD},
        /* Host (RFC 9112 3.2) */
        {"GET / HTTP/1.1\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", GW_HTTP_BAD},
        {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", GW_HTTP_BAD},
        /* framing */
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         GW_HTTP_BAD},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
         GW_HTTP_BAD},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         GW_HTTP_BAD},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", GW_HTTP_BAD},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
         GW_HTTP_NOT_IMPLEMENTED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
         GW_HTTP_NOT_IMPLEMENTED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
         GW_HTTP_NOT_IMPLEMENTED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
         GW_HTTP_NOT_IMPLEMENTED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
         GW_HTTP_NOT_IMPLEMENTED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", GW_HTTP_NOT_IMPLEMENTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_head_rv(cases[i].req, cases[i].want);

    /* NUL bytes, which C strings would silently cut. */
    static const char nul_value[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    static const char nul_target[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char nul_name[] = "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n";
    const char *nuls[] = {nul_value, nul_target, nul_name};
    size_t lens[] = {sizeof nul_value - 1, sizeof nul_target - 1, sizeof nul_name - 1};
    for (size_t i = 0; i < 3; i++) {
        gw_http_head h;
        char *buf;
        ck_assert_int_eq(parse_n(nuls[i], lens[i], MAX_HEAD, &h, &buf), GW_HTTP_BAD);
        free(buf);
    }
}
END_TEST

/* Whether tmpl with its one 'Q' replaced by the byte c parses whole. */
static bool parses_with(const char *tmpl, int c)
{
    char req[64];
    size_t n = strlen(tmpl);
    ck_assert_uint_lt(n, sizeof req);
    memcpy(req, tmpl, n);
    req[strchr(tmpl, 'Q') - tmpl] = (char)c;
    gw_http_head h;
    char *buf;
    int rv = parse_n(req, n, MAX_HEAD, &h, &buf);
    free(buf);
    ck_assert_msg(rv == (int)n || rv == GW_HTTP_BAD, "byte %d in \"%s\" -> %d", c, tmpl, rv);
    return rv == (int)n;
}

/* Every byte value in a header name, a header value and the target. */
START_TEST(every_byte)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; c++) {
        bool tchar = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                     (c >= 'a' && c <= 'z') || (c != 0 && strchr(tchars, c) != NULL);
        /* with ':' the name is "X" and the value "Y: v" */
        ck_assert_msg(parses_with("GET / HTTP/1.1\r\nHost: a\r\nXQY: v\r\n\r\n", c) ==
                          (tchar || c == ':'),
                      "name byte %d", c);
        /* values: visible ASCII, SP, HTAB and obs-text */
        ck_assert_msg(parses_with("GET / HTTP/1.1\r\nHost: a\r\nX: aQb\r\n\r\n", c) ==
                          ((c >= 0x20 && c < 0x7F) || c == '\t' || c >= 0x80),
                      "value byte %d", c);
        /* the target: anything but controls and blanks */
        ck_assert_msg(parses_with("GET /aQb HTTP/1.1\r\nHost: a\r\n\r\n", c) ==
                          (c > 0x20 && c != 0x7F),
                      "target byte %d", c);
    }
}
END_TEST

START_TEST(too_large)
{
    char req[16384];
    size_t n = (size_t)snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < GW_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(req + n, sizeof req - n, "X-%d: v\r\n", i);
    memcpy(req + n, "\r\n", 3);
    gw_http_head h;
    char *buf;
    /* GW_HTTP_MAX_HEADERS headers are fine, one more is not. */
    ck_assert_int_eq(parse_n(req, n + 2, MAX_HEAD, &h, &buf), (int)(n + 2));
    ck_assert_uint_eq(h.n_headers, GW_HTTP_MAX_HEADERS);
    free(buf);
    n += (size_t)snprintf(req + n, sizeof req - n, "X-last: v\r\n\r\n");
    ck_assert_head_rv(req, GW_HTTP_TOO_LARGE);

    /* A head of exactly max_head bytes passes; one byte less does not. */
    const char *small = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t len = strlen(small);
    ck_assert_int_eq(parse_n(small, len, len, &h, &buf), (int)len);
    free(buf);
    ck_assert_int_eq(parse_n(small, len, len - 1, &h, &buf), GW_HTTP_TOO_LARGE);
    free(buf);
    /* Incomplete: MORE while shorter than max_head, TOO_LARGE from there. */
    ck_assert_int_eq(parse_n(small, len - 1, len, &h, &buf), GW_HTTP_MORE);
    free(buf);
    ck_assert_int_eq(parse_n(small, len - 1, len - 1, &h, &buf), GW_HTTP_TOO_LARGE);
    free(buf);
    ck_assert_int_eq(parse_n(small, len - 1, len - 2, &h, &buf), GW_HTTP_TOO_LARGE);
    free(buf);
    /* Endless empty lines before a request line count too. */
    memset(req, '\n', sizeof req);
    ck_assert_int_eq(parse_n(req, sizeof req, MAX_HEAD, &h, &buf), GW_HTTP_TOO_LARGE);
    free(buf);
}
END_TEST

static const char sample[] = "POST /api/chat.postMessage HTTP/1.1\r\n"
                             "Host: 127.0.0.1:8080\r\n"
                             "Authorization: Bearer xoxb-1\r\n"
                             "Content-Type: application/x-www-form-urlencoded\r\n"
                             "Content-Length: 22\r\n"
                             "\r\n"
                             "channel=C1&text=hello!";

START_TEST(byte_at_a_time)
{
    size_t total = sizeof sample - 1, head = (size_t)(strstr(sample, "channel") - sample);
    gw_http_head want, h;
    char *ref;
    ck_assert_int_eq(parse_n(sample, total, MAX_HEAD, &want, &ref), (int)head);
    for (size_t k = 0; k <= total; k++) {
        char *buf;
        int rv = parse_n(sample, k, MAX_HEAD, &h, &buf);
        if (k < head) {
            ck_assert_msg(rv == GW_HTTP_MORE, "prefix %zu -> %d", k, rv);
            /* untouched, so the loop can offer the same bytes again */
            ck_assert_int_eq(memcmp(buf, sample, k), 0);
        } else {
            ck_assert_msg(rv == (int)head, "prefix %zu -> %d", k, rv);
            ck_assert_str_eq(h.method, want.method);
            ck_assert_str_eq(h.target, want.target);
            ck_assert_uint_eq(h.n_headers, want.n_headers);
            for (size_t i = 0; i < h.n_headers; i++) {
                ck_assert_str_eq(h.headers[i].name, want.headers[i].name);
                ck_assert_str_eq(h.headers[i].value, want.headers[i].value);
            }
            ck_assert_int_eq(h.content_length, 22);
            ck_assert(h.keep_alive == want.keep_alive);
        }
        free(buf);
    }
    free(ref);
}
END_TEST

START_TEST(pipelined)
{
    const char *two = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                      "POST /b HTTP/1.0\r\nContent-Length: 3\r\n\r\nxyz"
                      "GET /c HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n";
    size_t len = strlen(two);
    gw_http_head h;
    char *buf;
    int n1 = parse_n(two, len, MAX_HEAD, &h, &buf);
    ck_assert_int_eq(n1, (int)strlen("GET /a HTTP/1.1\r\nHost: a\r\n\r\n"));
    ck_assert_str_eq(h.target, "/a");
    ck_assert(h.keep_alive);
    int n2 = gw_http_parse_head(buf + n1, len - (size_t)n1, MAX_HEAD, &h);
    ck_assert_int_eq(n2, (int)strlen("POST /b HTTP/1.0\r\nContent-Length: 3\r\n\r\n"));
    ck_assert_str_eq(h.method, "POST");
    ck_assert_str_eq(h.target, "/b");
    ck_assert_int_eq(h.minor, 0);
    ck_assert_int_eq(h.content_length, 3);
    ck_assert(!h.keep_alive);
    size_t off = (size_t)n1 + (size_t)n2 + 3;
    int n3 = gw_http_parse_head(buf + off, len - off, MAX_HEAD, &h);
    ck_assert_int_eq(n3, (int)(len - off));
    ck_assert_str_eq(h.target, "/c");
    ck_assert(!h.keep_alive);
    free(buf);
}
END_TEST

START_TEST(list_has)
{
    ck_assert(gw_http_list_has("keep-alive, Upgrade", "upgrade"));
    ck_assert(gw_http_list_has("Upgrade", "upgrade"));
    ck_assert(gw_http_list_has(" ,, upgrade ,", "UPGRADE"));
    ck_assert(gw_http_list_has("a,\tupgrade\t,b", "upgrade"));
    ck_assert(!gw_http_list_has("upgraded", "upgrade"));
    ck_assert(!gw_http_list_has("up grade", "upgrade"));
    ck_assert(!gw_http_list_has("xupgrade, upgradex", "upgrade"));
    ck_assert(!gw_http_list_has("", "upgrade"));
    ck_assert(!gw_http_list_has(NULL, "upgrade"));
}
END_TEST

/* ---------------------------------------------------------- chunked --- */

static const char chunked_body[] = "4\r\nWiki\r\n"
                                   "5;name=value;x=\"q\"\r\npedia\r\n"
                                   "E \t;ext\r\n in\r\n\r\nchunks.\r\n"
                                   "000000000000000A\r\n0123456789\r\n"
                                   "0\r\nTrailer: x\r\nOther: y\r\n\r\n";
static const char chunked_data[] = "Wikipedia in\r\n\r\nchunks.0123456789";

/* Feeds in[0..len) in pieces ending at cuts[] (then at len); returns the
 * bytes used in all, or -1. */
static long feed_split(gw_http_chunked *c, const char *in, size_t len, const size_t *cuts,
                       size_t ncuts, size_t max_body, chati_buf *body, bool *big)
{
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        /* an exact-size copy, so that a read past len would show under ASan */
        char *piece = malloc(to - at + 1);
        memcpy(piece, in + at, to - at);
        long rv = gw_http_chunked_feed(c, piece, to - at, max_body, body, big);
        free(piece);
        if (rv < 0)
            return rv;
        if (c->done)
            return (long)(at + (size_t)rv);
        ck_assert_int_eq(rv, (long)(to - at)); /* not done: all of it used */
        at = to;
    }
    return (long)at;
}

START_TEST(chunked_whole_and_split)
{
    size_t len = sizeof chunked_body - 1;
    /* Whole, with the next request after it: stops at the body's end. */
    char in[sizeof chunked_body + 16];
    memcpy(in, chunked_body, len);
    memcpy(in + len, "GET / HTTP/1.1", 14);
    gw_http_chunked c = {0};
    chati_buf body = {0};
    bool big = true;
    ck_assert_int_eq(gw_http_chunked_feed(&c, in, len + 14, 1024, &body, &big), (long)len);
    ck_assert(c.done);
    ck_assert(!big);
    ck_assert_uint_eq(body.len, sizeof chunked_data - 1);
    ck_assert_int_eq(memcmp(body.data, chunked_data, body.len), 0);
    /* Once done, nothing more is taken. */
    ck_assert_int_eq(gw_http_chunked_feed(&c, in + len, 14, 1024, &body, &big), 0);
    chati_buf_free(&body);

    /* Split at every point, and at every pair of points. */
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = {a, b};
            gw_http_chunked cs = {0};
            ck_assert_int_eq(feed_split(&cs, chunked_body, len, cuts, 2, 1024, &body, &big),
                             (long)len);
            ck_assert(cs.done);
            ck_assert_uint_eq(body.len, sizeof chunked_data - 1);
            ck_assert_int_eq(memcmp(body.data, chunked_data, body.len), 0);
            chati_buf_free(&body);
        }
    }
    /* One byte at a time. */
    size_t cuts[sizeof chunked_body];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    gw_http_chunked cb = {0};
    ck_assert_int_eq(feed_split(&cb, chunked_body, len, cuts, len - 1, 1024, &body, &big),
                     (long)len);
    ck_assert(cb.done);
    ck_assert_int_eq(memcmp(body.data, chunked_data, body.len), 0);
    chati_buf_free(&body);
}
END_TEST

START_TEST(chunked_bare_lf_and_empty)
{
    const char *lf = "3\nabc\n1;e\nd\n0\nT: 1\n\n";
    gw_http_chunked c = {0};
    chati_buf body = {0};
    bool big;
    ck_assert_int_eq(gw_http_chunked_feed(&c, lf, strlen(lf), 100, &body, &big),
                     (long)strlen(lf));
    ck_assert(c.done);
    ck_assert_str_eq(body.data, "abcd");
    chati_buf_free(&body);

    gw_http_chunked e = {0};
    ck_assert_int_eq(gw_http_chunked_feed(&e, "0\r\n\r\n", 5, 0, &body, &big), 5);
    ck_assert(e.done);
    ck_assert_uint_eq(body.len, 0);
    chati_buf_free(&body);
}
END_TEST

START_TEST(chunked_refusals)
{
    static const char *bad[] = {
        "\r\n",                         /* no size */
        "x\r\n",                        /* not hex */
        "-1\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",     /* blank before the size */
        "5 \r\nhello\r\n0\r\n\r\n",     /* blanks and no extension */
        "5 x\r\n",
        "0x5\r\n",
        "5\r\nhelloX\r\n",              /* no CRLF after the data */
        "5\r\nhello\rX",
        "5\r\nhello\r\n0\r\n folded: t\r\n\r\n",
        "5\r\nhello\r\n0\r\nT: a\x01\r\n\r\n",
        "5\r\nhello\r\n0\r\n\rX",
        "5\r\nhello\r\n0\r\nT: 1\rX",
        "5;a\x01\r\n",                  /* control character in an extension */
        "5\rX",
        "00000000000000001\r\nx\r\n",   /* 17 hex digits */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_http_chunked c = {0};
        chati_buf body = {0};
        bool big = true;
        ck_assert_msg(gw_http_chunked_feed(&c, bad[i], strlen(bad[i]), 1 << 20, &body, &big) ==
                          -1,
                      "case %zu", i);
        ck_assert(!big);
        /* Once broken, it stays broken. */
        ck_assert_int_eq(gw_http_chunked_feed(&c, "0\r\n\r\n", 5, 1 << 20, &body, &big), -1);
        chati_buf_free(&body);
    }

    /* Endless zeros, extensions or trailers are cut off. */
    static char endless[20000];
    const char *fills[] = {"0", "1;", "0\r\nT"};
    for (size_t i = 0; i < 3; i++) {
        size_t pre = strlen(fills[i]);
        memcpy(endless, fills[i], pre);
        memset(endless + pre, fills[i][pre - 1] == ';' ? 'e' : fills[i][pre - 1],
               sizeof endless - pre);
        gw_http_chunked c = {0};
        chati_buf body = {0};
        bool big;
        ck_assert_int_eq(gw_http_chunked_feed(&c, endless, sizeof endless, 1 << 20, &body, &big),
                         -1);
        chati_buf_free(&body);
    }
}
END_TEST

START_TEST(chunked_max_body)
{
    gw_http_chunked c = {0};
    chati_buf body = {0};
    bool big = false;
    /* Exactly max_body is fine. */
    const char *ok = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    ck_assert_int_eq(gw_http_chunked_feed(&c, ok, strlen(ok), 10, &body, &big),
                     (long)strlen(ok));
    ck_assert(c.done);
    chati_buf_free(&body);
    /* One more byte is refused when its size line ends, before the data. */
    gw_http_chunked c2 = {0};
    const char *over = "5\r\nhello\r\n6\r\n";
    ck_assert_int_eq(gw_http_chunked_feed(&c2, over, strlen(over), 10, &body, &big), -1);
    ck_assert(big);
    ck_assert_uint_eq(body.len, 5);
    chati_buf_free(&body);
    /* The largest size there is, without overflow. */
    gw_http_chunked c3 = {0};
    const char *huge = "ffffffffffffffff\r\n";
    big = false;
    ck_assert_int_eq(gw_http_chunked_feed(&c3, huge, strlen(huge), 1 << 20, &body, &big), -1);
    ck_assert(big);
    chati_buf_free(&body);
}
END_TEST

/* ------------------------------------------------------------- fuzz --- */

/* xorshift64: the same inputs on every run, so a failure can be replayed. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

uint32_t net_codec_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}
#define rnd net_codec_rand

/* Bytes that steer parsers into their corners. */
static char interesting(void)
{
    static const char set[] = "\r\n :;,\t\0\x7f\x80\xff" "0aFGz/H.1-";
    return set[rnd() % (sizeof set - 1)];
}

static void mutate(char *buf, size_t len)
{
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits && len; e++) {
        size_t at = rnd() % len;
        switch (rnd() % 3) {
        case 0:
            buf[at] = interesting();
            break;
        case 1:
            buf[at] = (char)rnd();
            break;
        default:
            buf[at] ^= (char)(1u << (rnd() % 8));
            break;
        }
    }
}

START_TEST(fuzz)
{
    const char *seeds[] = {
        sample,
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        chunked_body,
        "3\nabc\n1;e\nd\n0\nT: 1\n\n",
    };
    char tmp[512];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        if (iter % 4 == 0) {
            len = rnd() % sizeof tmp;
            for (size_t i = 0; i < len; i++)
                tmp[i] = rnd() % 2 ? interesting() : (char)rnd();
        } else {
            const char *seed = seeds[rnd() % (sizeof seeds / sizeof seeds[0])];
            len = strlen(seed);
            memcpy(tmp, seed, len);
            mutate(tmp, len);
            len = rnd() % 8 == 0 ? rnd() % (len + 1) : len;
        }
        char *buf = malloc(len ? len : 1);
        memcpy(buf, tmp, len);
        size_t max_head = rnd() % 2 ? MAX_HEAD : 1 + rnd() % 300;
        gw_http_head h;
        int rv = gw_http_parse_head(buf, len, max_head, &h);
        ck_assert(rv == GW_HTTP_MORE || rv == GW_HTTP_BAD || rv == GW_HTTP_TOO_LARGE ||
                  rv == GW_HTTP_NOT_IMPLEMENTED || rv == GW_HTTP_BAD_VERSION ||
                  (rv > 0 && (size_t)rv <= len && (size_t)rv <= max_head));
        if (rv == GW_HTTP_MORE)
            ck_assert_uint_lt(len, max_head);
        if (rv > 0) {
            ck_assert(h.method >= buf && h.method < buf + rv);
            ck_assert(h.target >= buf && h.target < buf + rv);
            ck_assert_uint_le(h.n_headers, GW_HTTP_MAX_HEADERS);
            ck_assert(h.minor == 0 || h.minor == 1);
            ck_assert(!(h.chunked && h.content_length >= 0));
            for (size_t i = 0; i < h.n_headers; i++) {
                ck_assert(h.headers[i].value >= buf && h.headers[i].value < buf + rv);
                ck_assert_uint_lt(strlen(h.headers[i].value), (size_t)rv);
            }
        }
        free(buf);

        /* A head that parses is MORE in any shorter prefix. */
        if (rv > 0) {
            size_t k = rnd() % (size_t)rv;
            buf = malloc(k ? k : 1);
            memcpy(buf, tmp, k);
            ck_assert_int_eq(gw_http_parse_head(buf, k, max_head, &h), GW_HTTP_MORE);
            free(buf);
        }

        /* The same bytes as a chunked body: whole, and in two pieces, with
         * the same outcome. */
        size_t max_body = rnd() % 64, cut = rnd() % (len + 1);
        gw_http_chunked whole = {0};
        chati_buf wbody = {0};
        bool wbig = false;
        long rw = gw_http_chunked_feed(&whole, tmp, len, max_body, &wbody, &wbig);
        ck_assert(rw == -1 || (rw >= 0 && (size_t)rw <= len));
        ck_assert(rw == -1 || whole.done || (size_t)rw == len);
        ck_assert(!wbig || rw == -1);
        ck_assert_uint_le(wbody.len, max_body);

        buf = malloc(len ? len : 1);
        memcpy(buf, tmp, len);
        gw_http_chunked c = {0};
        chati_buf body = {0};
        bool big = false;
        long used = gw_http_chunked_feed(&c, buf, cut, max_body, &body, &big);
        if (used >= 0 && !c.done) {
            ck_assert_int_eq(used, (long)cut);
            long r2 = gw_http_chunked_feed(&c, buf + cut, len - cut, max_body, &body, &big);
            used = r2 < 0 ? -1 : used + r2;
        }
        ck_assert_int_eq(used, rw);
        ck_assert(c.done == whole.done);
        ck_assert(big == wbig);
        ck_assert_uint_eq(body.len, wbody.len);
        ck_assert(body.len == 0 || memcmp(body.data, wbody.data, body.len) == 0);
        chati_buf_free(&body);
        chati_buf_free(&wbody);
        free(buf);
    }
}
END_TEST

static Suite *net_codec_suite(void)
{
    Suite *s = suite_create("net_codec");
    TCase *tc = tcase_create("http_head");
    tcase_add_test(tc, fields);
    tcase_add_test(tc, upgrade_and_expect);
    tcase_add_test(tc, keep_alive_by_version);
    tcase_add_test(tc, bare_lf_and_leading_empty_lines);
    tcase_add_test(tc, content_length_values);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, every_byte);
    tcase_add_test(tc, too_large);
    tcase_add_test(tc, byte_at_a_time);
    tcase_add_test(tc, pipelined);
    tcase_add_test(tc, list_has);
    suite_add_tcase(s, tc);

    tc = tcase_create("http_chunked");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, chunked_whole_and_split);
    tcase_add_test(tc, chunked_bare_lf_and_empty);
    tcase_add_test(tc, chunked_refusals);
    tcase_add_test(tc, chunked_max_body);
    suite_add_tcase(s, tc);

    tc = tcase_create("http_fuzz");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);

    net_codec_add_ws_cases(s);
    return s;
}

int main(void)
{
    return chat_test_run(net_codec_suite());
}
