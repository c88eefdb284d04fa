/* GET /avatars/<size>/<colour>/<initials>.svg: a person's picture as users.*
 * name it (profile.image_*: api/convert.c), their initials on their colour,
 * drawn from the path alone: nothing to look up, so it is cached for good.
 * Everything in the path is checked; the initials go in escaped. */
#include <stdio.h>
#include <string.h>

#include "gw_internal.h"
#include "httpd.h"

#define MAX_INITIALS 16 /* bytes: two characters of up to four */

static bool size_ok(int size)
{
    static const int sizes[] = {24, 32, 48, 72, 192, 512};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(sizes); i++)
        if (sizes[i] == size)
            return true;
    return false;
}

/* "<size>/<rrggbb>/<initials, %-encoded>.svg" after the prefix. */
static bool parse(const char *p, int *size, char colour[7], char initials[MAX_INITIALS + 1])
{
    char *end = NULL;
    long n = strtol(p, &end, 10);
    if (end == p || *end != '/' || !size_ok((int)n))
        return false;
    *size = (int)n;
    p = end + 1;
    for (int i = 0; i < 6; i++)
        if (chati_hex_digit(p[i]) < 0 || (p[i] >= 'A' && p[i] <= 'F'))
            return false;
    memcpy(colour, p, 6);
    colour[6] = '\0';
    if (p[6] != '/')
        return false;
    p += 7;
    size_t len = 0;
    for (; *p && *p != '.'; p++) {
        int hi, lo, c = (unsigned char)*p;
        if (c == '%' && (hi = chati_hex_digit(p[1])) >= 0 && (lo = chati_hex_digit(p[2])) >= 0) {
            c = hi << 4 | lo;
            p += 2;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            return false;
        }
        if (len == MAX_INITIALS)
            return false;
        initials[len++] = (char)c;
    }
    initials[len] = '\0';
    size_t chars = 0;
    return len > 0 && strcmp(p, ".svg") == 0 && chati_utf8_valid(initials, len, &chars) &&
           chars <= 2;
}

void gw_avatar_serve(gw *g, gw_req *req)
{
    CHATI_UNUSED(g);
    const char *uri = gw_req_uri(req);
    int size = 0;
    char colour[7], initials[MAX_INITIALS + 1];
    if (strncmp(uri, "/avatars/", 9) != 0 || strchr(uri, '?') ||
        !parse(uri + 9, &size, colour, initials)) {
        chati_buf body = {0};
        chati_buf_puts(&body, "not an avatar\n");
        gw_reply(req, 404, "text/plain; charset=utf-8", &body, NULL, NULL);
        return;
    }
    chati_buf b = {0};
    chati_buf_printf(&b,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                     "viewBox=\"0 0 100 100\"><rect width=\"100\" height=\"100\" rx=\"12\" "
                     "fill=\"#%s\"/><text x=\"50\" y=\"50\" dy=\".35em\" text-anchor=\"middle\" "
                     "font-family=\"system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,"
                     "sans-serif\" font-size=\"42\" font-weight=\"600\" fill=\"#fff\">",
                     size, size, colour);
    for (const char *c = initials; *c; c++) {
        switch (*c) { /* only letters and digits pass parse(), but escape anyway */
        case '&': chati_buf_puts(&b, "&amp;"); break;
        case '<': chati_buf_puts(&b, "&lt;"); break;
        case '>': chati_buf_puts(&b, "&gt;"); break;
        case '"': chati_buf_puts(&b, "&quot;"); break;
        case '\'': chati_buf_puts(&b, "&#39;"); break;
        default: chati_buf_append(&b, c, 1);
        }
    }
    chati_buf_puts(&b, "</text></svg>\n");
    static const char *const headers[] = {
        "Cache-Control", "public, max-age=31536000, immutable",
        "X-Content-Type-Options", "nosniff",
        "Content-Security-Policy", "default-src 'none'; sandbox",
    };
    gw_respond(req, b.data ? 200 : 500, "image/svg+xml", b.data, b.len, headers, 3);
    chati_buf_free(&b);
}
