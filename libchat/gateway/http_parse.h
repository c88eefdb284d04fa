/*
 * libchat/gateway/http_parse.h - HTTP/1.1 requests read off a socket: the
 * head (request line and headers) parsed in place, and chunked bodies decoded.
 *
 * Pure functions over caller-owned bytes: no I/O, no allocation except the
 * body buffer gw_http_chunked_feed appends to. Not synchronised; one parser
 * per connection. RFC 9112 as a server needs it: obsolete line folding,
 * a Content-Length together with Transfer-Encoding, several differing
 * Content-Lengths and any transfer coding but "chunked" are refused (request
 * smuggling), as are control characters in the target and header values.
 */
#ifndef CHAT_GW_HTTP_PARSE_H
#define CHAT_GW_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

#define GW_HTTP_MAX_HEADERS 64

typedef struct gw_http_header {
    const char *name;   /* as sent; compare with strcasecmp */
    const char *value;  /* leading and trailing blanks removed */
} gw_http_header;

typedef struct gw_http_head {
    const char *method;         /* "GET", "POST", ... */
    const char *target;         /* "/api/chat.postMessage?x=1" */
    int minor;                  /* HTTP/1.<minor>: 0 or 1 */
    gw_http_header headers[GW_HTTP_MAX_HEADERS];
    size_t n_headers;
    int64_t content_length;     /* -1: none given */
    bool chunked;               /* Transfer-Encoding: chunked */
    bool keep_alive;            /* by version and Connection */
    bool upgrade_websocket;     /* Connection: upgrade + Upgrade: websocket */
    bool expect_continue;       /* Expect: 100-continue */
} gw_http_head;

/* What gw_http_parse_head returns besides a length. */
enum {
    GW_HTTP_MORE = 0,           /* no whole head yet: read more */
    GW_HTTP_BAD = -400,         /* malformed: answer 400 and close */
    GW_HTTP_TOO_LARGE = -431,   /* head longer than max_head, or too many headers */
    GW_HTTP_NOT_IMPLEMENTED = -501, /* a transfer coding other than chunked */
    GW_HTTP_BAD_VERSION = -505  /* not HTTP/1.0 or 1.1 */
};

/*
 * Parses the request head at buf[0..len). When the blank line that ends it
 * is there, fills *h, writes NULs into buf so that h's strings point into it,
 * and returns the head's length in bytes (> 0); the body starts there.
 * GW_HTTP_MORE when the head is not complete and shorter than max_head;
 * a negative GW_HTTP_* otherwise (buf may then be changed). Empty lines
 * before the request line are skipped (RFC 9112 2.2).
 */
int gw_http_parse_head(char *buf, size_t len, size_t max_head, gw_http_head *h);

/* The value of the first header with this name (any case), or NULL. */
const char *gw_http_header_get(const gw_http_head *h, const char *name);

/* Whether a comma-separated header value lists token (any case), e.g.
 * Connection: keep-alive, Upgrade. */
bool gw_http_list_has(const char *value, const char *token);

/* A chunked body being decoded. Zero-initialise it. */
typedef struct gw_http_chunked {
    int state;
    uint64_t left;              /* bytes left of the current chunk */
    bool done;                  /* the last chunk and its trailers were read */
} gw_http_chunked;

/*
 * Decodes the chunked body bytes in[0..len), appending the data to body.
 * Returns the bytes used (all of them, or up to the end of the body when it
 * ends inside in; c->done tells which), or -1 when the coding is malformed
 * or body would grow beyond max_body (the two are told apart by *too_large).
 * Chunk extensions and trailers are read and dropped.
 */
long gw_http_chunked_feed(gw_http_chunked *c, const char *in, size_t len, size_t max_body,
                          chati_buf *body, bool *too_large);

#endif
