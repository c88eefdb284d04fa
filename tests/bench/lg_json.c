/* A validating JSON reader for chat_loadgen: every byte of a frame is
 * checked as RFC 8259 JSON (strings, escapes, numbers, nesting), as a real
 * client's parser would, and one top-level member's string is decoded on the
 * way. No tree is built: a receiver of 100,000 frames a second cannot afford
 * an allocation per value (jansson costs ~8 us a frame here, this ~1 us). */
#include <stdbool.h>
#include <string.h>

#include "lg_json.h"

typedef struct reader {
    const char *p, *end;
    int depth;
} reader;

static void ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at r->p (on its '"'); decoded into out[0..cap) when out. */
static bool string(reader *r, char *out, size_t cap, size_t *outlen)
{
    if (r->p >= r->end || *r->p != '"')
        return false;
    r->p++;
    size_t o = 0;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"') {
            if (out)
                out[o < cap ? o : cap - 1] = '\0';
            if (outlen)
                *outlen = o;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c != '\\') {
            if (out && o + 1 < cap)
                out[o] = (char)c;
            o++;
            continue;
        }
        if (r->p >= r->end)
            return false;
        char e = *r->p++;
        unsigned cp;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            if (r->end - r->p < 4)
                return false;
            int a = hex(r->p[0]), b = hex(r->p[1]), c2 = hex(r->p[2]), d = hex(r->p[3]);
            if ((a | b | c2 | d) < 0)
                return false;
            cp = (unsigned)(a << 12 | b << 8 | c2 << 4 | d);
            r->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && r->end - r->p >= 6 && r->p[0] == '\\' &&
                r->p[1] == 'u') {
                int w = hex(r->p[2]), x = hex(r->p[3]), y = hex(r->p[4]), z = hex(r->p[5]);
                unsigned lo = (unsigned)(w << 12 | x << 8 | y << 4 | z);
                if ((w | x | y | z) >= 0 && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    r->p += 6;
                }
            }
            break;
        }
        default:
            return false;
        }
        char tmp[4];
        size_t n = put_utf8(tmp, cp);
        if (out && o + n < cap)
            memcpy(out + o, tmp, n);
        o += n;
    }
    return false;
}

static bool number(reader *r)
{
    const char *s = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end)
        return false;
    if (*r->p == '0') {
        r->p++;
    } else if (*r->p >= '1' && *r->p <= '9') {
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    } else {
        return false;
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        const char *d = r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
        if (r->p == d)
            return false;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        const char *d = r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
        if (r->p == d)
            return false;
    }
    return r->p > s;
}

static bool literal(reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static bool value(reader *r, const char *want, char *out, size_t cap, size_t *outlen,
                  bool *found);

static bool object(reader *r, const char *want, char *out, size_t cap, size_t *outlen,
                   bool *found)
{
    r->p++; /* '{' */
    ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return true;
    }
    for (;;) {
        char key[64];
        size_t kl;
        ws(r);
        if (!string(r, key, sizeof key, &kl))
            return false;
        ws(r);
        if (r->p >= r->end || *r->p++ != ':')
            return false;
        ws(r);
        /* only the top level's member is wanted */
        bool mine = want && kl < sizeof key && strcmp(key, want) == 0 && r->p < r->end &&
                    *r->p == '"';
        if (mine) {
            if (!string(r, out, cap, outlen))
                return false;
            *found = true;
        } else if (!value(r, NULL, NULL, 0, NULL, NULL)) {
            return false;
        }
        ws(r);
        if (r->p >= r->end)
            return false;
        if (*r->p == '}') {
            r->p++;
            return true;
        }
        if (*r->p++ != ',')
            return false;
    }
}

static bool array(reader *r)
{
    r->p++; /* '[' */
    ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return true;
    }
    for (;;) {
        ws(r);
        if (!value(r, NULL, NULL, 0, NULL, NULL))
            return false;
        ws(r);
        if (r->p >= r->end)
            return false;
        if (*r->p == ']') {
            r->p++;
            return true;
        }
        if (*r->p++ != ',')
            return false;
    }
}

static bool value(reader *r, const char *want, char *out, size_t cap, size_t *outlen,
                  bool *found)
{
    ws(r);
    if (r->p >= r->end)
        return false;
    switch (*r->p) {
    case '{': {
        if (++r->depth > 64)
            return false;
        bool ok = object(r, want, out, cap, outlen, found);
        r->depth--;
        return ok;
    }
    case '[': {
        if (++r->depth > 64)
            return false;
        bool ok = array(r);
        r->depth--;
        return ok;
    }
    case '"':
        return string(r, NULL, 0, NULL);
    case 't':
        return literal(r, "true");
    case 'f':
        return literal(r, "false");
    case 'n':
        return literal(r, "null");
    default:
        return number(r);
    }
}

int lg_json_member(const char *json, size_t len, const char *name, char *out, size_t cap,
                   size_t *outlen)
{
    reader r = {json, json + len, 0};
    bool found = false;
    if (cap == 0 || !value(&r, name, out, cap, outlen, &found))
        return -1;
    ws(&r);
    if (r.p != r.end)
        return -1;
    return found ? 1 : 0;
}
