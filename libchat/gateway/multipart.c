/* multipart/form-data: the parts of a body held in memory, data not copied. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "multipart.h"

#define MAX_BOUNDARY 70

static chat_err bad(const char *what)
{
    return chati_fail(CHAT_ERR_INVALID_FORM_DATA, "multipart body: %s", what);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 2046 bcharsnospace, plus the space allowed inside a boundary. */
static bool is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

bool gw_is_multipart(const char *ct)
{
    if (ct == NULL)
        return false;
    while (is_space(*ct))
        ct++;
    return strncasecmp(ct, "multipart/form-data", 19) == 0 &&
           (ct[19] == '\0' || ct[19] == ';' || is_space(ct[19]));
}

/* A token or quoted-string parameter value starting at *p (after '='), up to
 * end; unquoted into out (n bytes). *p moves past it. */
static bool param_value(const char **p, const char *end, char *out, size_t n)
{
    const char *s = *p;
    size_t k = 0;
    if (s < end && *s == '"') {
        for (s++; s < end && *s != '"'; s++) {
            if (*s == '\\' && s + 1 < end)
                s++;
            if (k + 1 >= n || *s == '\0')
                return false;
            out[k++] = *s;
        }
        if (s >= end)
            return false; /* unterminated */
        s++;
    } else {
        for (; s < end && *s != ';' && !is_space(*s); s++) {
            if (k + 1 >= n || *s == '"' || *s == '\0')
                return false;
            out[k++] = *s;
        }
    }
    out[k] = '\0';
    *p = s;
    return true;
}

/* Calls fn(key, klen, value) for each ";key=value" after the first token of
 * a header value; false on a malformed parameter. */
typedef bool (*param_fn)(void *arg, const char *key, size_t klen, const char *value);

static bool each_param(const char *v, const char *end, param_fn fn, void *arg)
{
    const char *p = v;
    while (p < end && *p != ';')
        p++;
    while (p < end) {
        p++; /* ';' */
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            break; /* a trailing ';' */
        const char *key = p;
        while (p < end && *p != '=' && *p != ';' && !is_space(*p))
            p++;
        size_t klen = (size_t)(p - key);
        while (p < end && is_space(*p))
            p++;
        if (klen == 0 || p >= end || *p != '=')
            return false;
        p++;
        while (p < end && is_space(*p))
            p++;
        char value[GW_MP_MAX_NAME + 1];
        if (!param_value(&p, end, value, sizeof value) || !fn(arg, key, klen, value))
            return false;
        while (p < end && is_space(*p))
            p++;
        if (p < end && *p != ';')
            return false;
    }
    return true;
}

static bool key_is(const char *key, size_t klen, const char *want)
{
    return strlen(want) == klen && strncasecmp(key, want, klen) == 0;
}

static bool boundary_param(void *arg, const char *key, size_t klen, const char *value)
{
    if (key_is(key, klen, "boundary"))
        strcpy(arg, value); /* the caller's buffer holds GW_MP_MAX_NAME + 1 */
    return true;
}

static chat_err get_boundary(const char *ct, char out[GW_MP_MAX_NAME + 1])
{
    out[0] = '\0';
    if (!gw_is_multipart(ct))
        return bad("not multipart/form-data");
    if (!each_param(ct, ct + strlen(ct), boundary_param, out))
        return bad("malformed Content-Type parameters");
    size_t n = strlen(out);
    if (n == 0 || n > MAX_BOUNDARY || out[n - 1] == ' ')
        return bad("no valid boundary");
    for (size_t i = 0; i < n; i++)
        if (!is_bchar(out[i]))
            return bad("no valid boundary");
    return CHAT_OK;
}

/* %XX-decodes s in place (RFC 5987 ext-value after the charset and language). */
static bool pct_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int v = 0;
        for (int i = 1; i <= 2; i++) {
            char c = r[i];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return false;
            v = v * 16 + d;
        }
        if (v == 0)
            return false;
        *w++ = (char)v;
        r += 2;
    }
    *w = '\0';
    return true;
}

typedef struct disposition {
    bool ok;
    char *name, *filename, *filename_ext;
} disposition;

static bool set_once(char **field, const char *value)
{
    if (*field != NULL)
        return false; /* a repeated parameter is ambiguous: refuse it */
    return (*field = chat_strdup(value)) != NULL;
}

static bool disposition_param(void *arg, const char *key, size_t klen, const char *value)
{
    disposition *d = arg;
    if (key_is(key, klen, "name"))
        return set_once(&d->name, value);
    if (key_is(key, klen, "filename"))
        return set_once(&d->filename, value);
    if (key_is(key, klen, "filename*"))
        return set_once(&d->filename_ext, value);
    return true;
}

/* filename*=UTF-8''%e2%82%ac.txt -> the decoded name; NULL when unusable. */
static char *ext_filename(char *v)
{
    char *q1 = strchr(v, '\'');
    char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
    if (q1 == NULL || q2 == NULL || (size_t)(q1 - v) != 5 || strncasecmp(v, "utf-8", 5) != 0)
        return NULL;
    memmove(v, q2 + 1, strlen(q2 + 1) + 1);
    return pct_decode(v) ? v : NULL;
}

static void part_free(gw_mp_part *p)
{
    chat_free(p->name);
    chat_free(p->filename);
    chat_free(p->content_type);
    memset(p, 0, sizeof *p);
}

/* Reads one part's header block [h, end) (lines without the final empty one). */
static chat_err part_headers(const char *h, const char *end, gw_mp_part *part)
{
    disposition d = {0};
    chat_err rv = CHAT_OK;
    bool seen_cd = false;
    while (h < end && rv == CHAT_OK) {
        const char *eol = h;
        while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (eol + 1 >= end || memchr(h, '\n', (size_t)(eol - h)) != NULL ||
            memchr(h, '\0', (size_t)(eol - h)) != NULL) {
            rv = bad("malformed part header");
            break;
        }
        if (is_space(*h)) {
            rv = bad("folded header lines are not accepted");
            break;
        }
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (colon == NULL || colon == h) {
            rv = bad("malformed part header");
            break;
        }
        const char *v = colon + 1;
        while (v < eol && is_space(*v))
            v++;
        const char *vend = eol;
        while (vend > v && is_space(vend[-1]))
            vend--;
        size_t klen = (size_t)(colon - h);
        if (key_is(h, klen, "Content-Disposition")) {
            const char *t = v;
            while (t < vend && *t != ';' && !is_space(*t))
                t++;
            if (seen_cd || !key_is(v, (size_t)(t - v), "form-data"))
                rv = bad("each part needs one Content-Disposition: form-data");
            else if (!each_param(v, vend, disposition_param, &d))
                rv = bad("malformed Content-Disposition");
            seen_cd = true;
        } else if (key_is(h, klen, "Content-Type")) {
            if (part->content_type != NULL || (size_t)(vend - v) > GW_MP_MAX_NAME)
                rv = bad("bad part Content-Type");
            else if ((part->content_type = chat_malloc((size_t)(vend - v) + 1)) == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "multipart");
            else {
                memcpy(part->content_type, v, (size_t)(vend - v));
                part->content_type[vend - v] = '\0';
            }
        }
        h = eol + 2;
    }
    if (rv == CHAT_OK && (d.name == NULL || d.name[0] == '\0'))
        rv = bad("a part has no name");
    if (rv == CHAT_OK) {
        part->name = d.name;
        d.name = NULL;
        char *ext = d.filename_ext ? ext_filename(d.filename_ext) : NULL;
        if (ext) { /* RFC 5987's form wins when both are given */
            part->filename = d.filename_ext;
            d.filename_ext = NULL;
        } else {
            part->filename = d.filename;
            d.filename = NULL;
        }
    }
    chat_free(d.name);
    chat_free(d.filename);
    chat_free(d.filename_ext);
    return rv;
}

/* The first "\r\n--boundary" at or after from, or NULL. */
static const char *find_delim(const char *from, const char *end, const char *delim, size_t dlen)
{
    while ((size_t)(end - from) >= dlen) {
        const char *cr = memchr(from, '\r', (size_t)(end - from) - dlen + 1);
        if (cr == NULL)
            return NULL;
        if (memcmp(cr, delim, dlen) == 0)
            return cr;
        from = cr + 1;
    }
    return NULL;
}

/* The end of a part's header block: the "\r\n\r\n" (or the leading "\r\n"
 * of a part without headers) within GW_MP_MAX_HEADER bytes of p. */
static const char *headers_end(const char *p, const char *end)
{
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        return p;
    size_t span = (size_t)(end - p) < GW_MP_MAX_HEADER ? (size_t)(end - p) : GW_MP_MAX_HEADER;
    for (size_t i = 0; i + 4 <= span; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0)
            return p + i + 2;
    return NULL;
}

chat_err gw_multipart_parse(const char *body, size_t len, const char *content_type,
                            gw_multipart *out)
{
    out->parts = NULL;
    out->n = 0;
    char boundary[GW_MP_MAX_NAME + 1];
    chat_err rv = get_boundary(content_type, boundary);
    if (rv != CHAT_OK)
        return rv;
    /* delim = CRLF "--" boundary; the first one may open the body without CRLF. */
    char delim[MAX_BOUNDARY + 5];
    size_t dlen = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *end = body + len, *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
        p = body + dlen - 2;
    else if ((p = find_delim(body, end, delim, dlen)) != NULL)
        p += dlen;
    else
        return bad("no boundary");

    gw_mp_part *parts = chat_calloc(GW_MP_MAX_PARTS, sizeof *parts);
    if (parts == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "multipart");
    size_t n = 0;
    for (;;) {
        /* p is just past a delimiter: "--" closes, else padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            if (n == 0)
                rv = bad("no parts");
            break;
        }
        while (p < end && is_space(*p))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            rv = bad("malformed boundary line");
            break;
        }
        p += 2;
        if (n == GW_MP_MAX_PARTS) {
            rv = bad("too many parts");
            break;
        }
        const char *hend = headers_end(p, end);
        if (hend == NULL) {
            rv = bad("part headers missing or too long");
            break;
        }
        gw_mp_part *part = &parts[n++];
        if ((rv = part_headers(p, hend, part)) != CHAT_OK)
            break;
        const char *data = hend + 2;
        const char *next = find_delim(data, end, delim, dlen);
        if (next == NULL) {
            rv = bad("no closing boundary");
            break;
        }
        part->data = data;
        part->len = (size_t)(next - data);
        p = next + dlen;
    }
    if (rv != CHAT_OK) {
        for (size_t i = 0; i < n; i++)
            part_free(&parts[i]);
        chat_free(parts);
        return rv;
    }
    out->parts = parts;
    out->n = n;
    return CHAT_OK;
}

const gw_mp_part *gw_multipart_file(const gw_multipart *m)
{
    for (size_t i = 0; m && i < m->n; i++)
        if (m->parts[i].filename != NULL)
            return &m->parts[i];
    for (size_t i = 0; m && i < m->n; i++)
        if (strcmp(m->parts[i].name, "file") == 0)
            return &m->parts[i];
    return NULL;
}

void gw_multipart_free(gw_multipart *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        part_free(&m->parts[i]);
    chat_free(m->parts);
    m->parts = NULL;
    m->n = 0;
}
