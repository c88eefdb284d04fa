/*
 * gateway/http_parse.c - HTTP/1.1 request heads parsed in place and chunked
 * bodies decoded (RFC 9112), strict where leniency lets a proxy in front of us
 * and we disagree on where a request ends.
 */
#include "http_parse.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

/* tchar of RFC 9110 5.6.2 ("!#$%&'*+-.^_`|~", digits, letters) as a bitmap
 * of the 128 ASCII codes: a branch per byte was a tenth of a parse. */
static bool is_tchar(unsigned char c)
{
    static const uint64_t bits[2] = {UINT64_C(0x03ff6cfa00000000), UINT64_C(0x57ffffffc7fffffe)};
    return c < 128 && (bits[c >> 6] >> (c & 63) & 1);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Control characters field values may not hold (HTAB is allowed). */
static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7F;
}

/* The end (the '\n') of the line starting at p in buf[0..end), or NULL. */
static char *line_end(char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* The length of the line [p, nl) without a CR before the LF. */
static size_t line_len(const char *p, const char *nl)
{
    size_t n = (size_t)(nl - p);
    return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

/* method SP target SP HTTP/1.x over line[0..n); NULs written in. */
static int parse_request_line(char *line, size_t n, gw_http_head *h)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= n || line[i] != ' ')
        return GW_HTTP_BAD;
    line[i++] = '\0';
    size_t t = i;
    while (i < n && !is_ctl((unsigned char)line[i]) && line[i] != ' ' && line[i] != '\t')
        i++;
    if (i == t || i >= n || line[i] != ' ')
        return GW_HTTP_BAD;
    line[i++] = '\0';
    const char *v = line + i;
    if (n - i != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return GW_HTTP_BAD;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return GW_HTTP_BAD_VERSION;
    h->method = line;
    h->target = line + t;
    h->minor = v[7] - '0';
    return 0;
}

/* name ":" OWS value OWS over line[0..n) into hd; NULs written in. */
static int parse_header_line(char *line, size_t n, gw_http_header *hd)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    /* Anything but ':' after the name, blanks included, is refused (RFC 9112
     * 5.1): "Name : v" is how smuggled headers hide from proxies. */
    if (i == 0 || i >= n || line[i] != ':')
        return GW_HTTP_BAD;
    line[i++] = '\0';
    while (i < n && is_blank(line[i]))
        i++;
    size_t v = i;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        /* visible ASCII and SP in one comparison; HTAB and obs-text pass too */
        if ((unsigned char)(c - 0x20) >= 0x5F && c != '\t' && c < 0x80)
            return GW_HTTP_BAD;
    }
    while (i > v && is_blank(line[i - 1]))
        i--;
    line[i] = '\0';
    hd->name = line;
    hd->value = line + v;
    return 0;
}

/* Content-Length: digits only, within int64. */
static bool parse_length(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* What the headers mean for framing and the connection. */
static int interpret(gw_http_head *h)
{
    bool close = false, keep = false, conn_upgrade = false, ws = false, te = false;
    int hosts = 0;
    h->content_length = -1;
    for (size_t i = 0; i < h->n_headers; i++) {
        const char *name = h->headers[i].name, *value = h->headers[i].value;
        /* By first letter: most headers are none of these, and strcasecmp
         * on each of them was most of the time of a parse. */
        switch (name[0] | 0x20) {
        case 'c':
            if (strcasecmp(name, "content-length") == 0) {
                int64_t v;
                if (!parse_length(value, &v))
                    return GW_HTTP_BAD;
                if (h->content_length >= 0 && h->content_length != v)
                    return GW_HTTP_BAD;
                h->content_length = v;
            } else if (strcasecmp(name, "connection") == 0) {
                close |= gw_http_list_has(value, "close");
                keep |= gw_http_list_has(value, "keep-alive");
                conn_upgrade |= gw_http_list_has(value, "upgrade");
            }
            break;
        case 't':
            if (strcasecmp(name, "transfer-encoding") == 0) {
                /* chunked must come once and last; we know no other coding. */
                if (strcasecmp(value, "chunked") != 0)
                    return GW_HTTP_NOT_IMPLEMENTED;
                if (te)
                    return GW_HTTP_BAD;
                te = true;
            }
            break;
        case 'u':
            if (strcasecmp(name, "upgrade") == 0)
                ws |= gw_http_list_has(value, "websocket");
            break;
        case 'e':
            /* RFC 9110 10.1.1: ignored from HTTP/1.0 clients. */
            if (strcasecmp(name, "expect") == 0 && h->minor == 1 &&
                strcasecmp(value, "100-continue") == 0)
                h->expect_continue = true;
            break;
        case 'h':
            if (strcasecmp(name, "host") == 0)
                hosts++;
            break;
        default:
            break;
        }
    }
    /* RFC 9112 3.2: one Host, required in 1.1 (HAProxy's httpchk sends 1.0
     * without one). */
    if (hosts > 1 || (hosts == 0 && h->minor == 1))
        return GW_HTTP_BAD;
    if (te && (h->content_length >= 0 || h->minor == 0))
        return GW_HTTP_BAD; /* RFC 9112 6.1 and 6.3: framing in doubt */
    h->chunked = te;
    h->keep_alive = h->minor == 1 ? !close : keep && !close;
    h->upgrade_websocket = conn_upgrade && ws;
    return 0;
}

int gw_http_parse_head(char *buf, size_t len, size_t max_head, gw_http_head *h)
{
    /* Nothing past max_head can belong to an acceptable head. */
    size_t scan = len < max_head ? len : max_head;
    char *end = buf + scan, *p = buf;

    /* Empty lines before the request line (RFC 9112 2.2). */
    while (p < end && (*p == '\n' || *p == '\r')) {
        if (*p == '\r') {
            if (p + 1 == end)
                break;
            if (p[1] != '\n')
                return GW_HTTP_BAD;
            p++;
        }
        p++;
    }
    char *start = p, *nl = NULL;
    bool first = true;
    while (p < end && (nl = line_end(p, end)) != NULL) {
        if (!first && line_len(p, nl) == 0)
            break;
        first = false;
        p = nl + 1;
        nl = NULL;
    }
    if (nl == NULL)
        return len >= max_head ? GW_HTTP_TOO_LARGE : GW_HTTP_MORE;
    if (nl + 1 - buf > INT_MAX)
        return GW_HTTP_TOO_LARGE;
    int head_len = (int)(nl + 1 - buf);

    /* The whole head is there: take it apart line by line. */
    memset(h, 0, sizeof *h);
    p = start;
    nl = line_end(p, end);
    size_t n = line_len(p, nl);
    int rv = parse_request_line(p, n, h);
    if (rv != 0)
        return rv;
    for (p = nl + 1; (n = line_len(p, nl = line_end(p, end))) > 0; p = nl + 1) {
        /* Obsolete line folding, or blanks before the first header. */
        if (is_blank(*p))
            return GW_HTTP_BAD;
        if (h->n_headers == GW_HTTP_MAX_HEADERS)
            return GW_HTTP_TOO_LARGE;
        rv = parse_header_line(p, n, &h->headers[h->n_headers]);
        if (rv != 0)
            return rv;
        h->n_headers++;
    }
    rv = interpret(h);
    return rv != 0 ? rv : head_len;
}

const char *gw_http_header_get(const gw_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->n_headers; i++)
        if (strcasecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    return NULL;
}

bool gw_http_list_has(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    if (value == NULL)
        return false;
    while (*value) {
        while (is_blank(*value) || *value == ',')
            value++;
        const char *e = value;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > value && is_blank(t[-1]))
            t--;
        if ((size_t)(t - value) == tlen && strncasecmp(value, token, tlen) == 0)
            return true;
        value = e;
    }
    return false;
}

/* ---- chunked bodies ---- */

/* Decoder states; the count of size digits, extension or trailer bytes
 * rides above them in c->state so a hostile sender cannot stream zeros,
 * extensions or trailers without end. */
enum {
    CK_SIZE_START,  /* a chunk-size line begins */
    CK_SIZE,        /* in its hex digits */
    CK_SIZE_BWS,    /* blanks after them: only ';' may follow */
    CK_EXT,         /* an extension, dropped */
    CK_SIZE_LF,     /* CR seen at the end of the size line */
    CK_DATA,
    CK_DATA_CR,     /* the CRLF after a chunk's data */
    CK_DATA_LF,
    CK_TRAILER_START,
    CK_TRAILER,
    CK_TRAILER_LF,
    CK_END_LF,      /* CR of the empty line that ends the body */
    CK_ERROR
};
#define CK_STATE_BITS 4
#define CK_MAX_DIGITS 16
#define CK_MAX_EXT 4096     /* extension bytes on one size line */
#define CK_MAX_TRAILER 8192 /* trailer bytes in all */

long gw_http_chunked_feed(gw_http_chunked *c, const char *in, size_t len, size_t max_body,
                          chati_buf *body, bool *too_large)
{
    int st = c->state & ((1 << CK_STATE_BITS) - 1);
    unsigned count = (unsigned)c->state >> CK_STATE_BITS;
    size_t i = 0;
    bool big = false;

    if (len > LONG_MAX)
        len = LONG_MAX;
    if (c->done)
        goto out;
    while (i < len && st != CK_ERROR) {
        unsigned char ch = (unsigned char)in[i];
        if (st == CK_DATA) {
            size_t n = len - i;
            if (n > c->left)
                n = (size_t)c->left;
            if (chati_buf_append(body, in + i, n) != CHAT_OK) {
                big = true; /* out of memory: the body is too large for us */
                st = CK_ERROR;
                break;
            }
            i += n;
            c->left -= n;
            if (c->left == 0)
                st = CK_DATA_CR;
            continue;
        }
        i++;
        bool size_done = false;
        switch (st) {
        case CK_SIZE_START:
        case CK_SIZE: {
            int d = chati_hex_digit((char)ch);
            if (d >= 0) {
                if (st == CK_SIZE_START) {
                    c->left = 0;
                    count = 0;
                }
                if (++count > CK_MAX_DIGITS)
                    st = CK_ERROR;
                else {
                    c->left = c->left << 4 | (uint64_t)d;
                    st = CK_SIZE;
                }
            } else if (st == CK_SIZE_START) {
                st = CK_ERROR;
            } else if (ch == ';') {
                st = CK_EXT;
                count = 0;
            } else if (is_blank((char)ch)) {
                st = CK_SIZE_BWS;
            } else if (ch == '\r') {
                st = CK_SIZE_LF;
            } else if (ch == '\n') {
                size_done = true;
            } else {
                st = CK_ERROR;
            }
            break;
        }
        case CK_SIZE_BWS:
            if (ch == ';') {
                st = CK_EXT;
                count = 0;
            } else if (!is_blank((char)ch)) {
                st = CK_ERROR;
            }
            break;
        case CK_EXT:
            if (ch == '\r')
                st = CK_SIZE_LF;
            else if (ch == '\n')
                size_done = true;
            else if (is_ctl(ch) || ++count > CK_MAX_EXT)
                st = CK_ERROR;
            break;
        case CK_SIZE_LF:
            if (ch == '\n')
                size_done = true;
            else
                st = CK_ERROR;
            break;
        case CK_DATA_CR:
            st = ch == '\r' ? CK_DATA_LF : ch == '\n' ? CK_SIZE_START : CK_ERROR;
            break;
        case CK_DATA_LF:
            st = ch == '\n' ? CK_SIZE_START : CK_ERROR;
            break;
        case CK_TRAILER_START:
            if (ch == '\r') {
                st = CK_END_LF;
            } else if (ch == '\n') {
                c->done = true;
            } else if (is_blank((char)ch) || is_ctl(ch) || ++count > CK_MAX_TRAILER) {
                st = CK_ERROR; /* folding, or a control character */
            } else {
                st = CK_TRAILER;
            }
            break;
        case CK_TRAILER:
            if (ch == '\r')
                st = CK_TRAILER_LF;
            else if (ch == '\n')
                st = CK_TRAILER_START;
            else if (is_ctl(ch) || ++count > CK_MAX_TRAILER)
                st = CK_ERROR;
            break;
        case CK_TRAILER_LF:
            st = ch == '\n' ? CK_TRAILER_START : CK_ERROR;
            break;
        case CK_END_LF:
            if (ch == '\n')
                c->done = true;
            else
                st = CK_ERROR;
            break;
        default:
            st = CK_ERROR;
            break;
        }
        if (size_done) {
            if (c->left == 0) {
                st = CK_TRAILER_START;
                count = 0;
            } else if (body->len > max_body || c->left > max_body - body->len) {
                big = true;
                st = CK_ERROR;
            } else {
                st = CK_DATA;
            }
        }
        if (c->done)
            break;
    }
out:
    c->state = (int)(count << CK_STATE_BITS | (unsigned)st);
    if (too_large)
        *too_large = big;
    return st == CK_ERROR ? -1 : (long)i;
}
