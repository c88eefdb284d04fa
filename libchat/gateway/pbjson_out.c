/*
 * libchat/gateway/pbjson_out.c - protobuf-c messages -> Slack JSON
 * (gw_pb_to_json and friends; the rules are in pbjson.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pbjson.h"
#include "pbjson_internal.h"

/*
 * String fields written even when empty. Slack's SDK paginators read
 * response_metadata.next_cursor and expect it present ("" on the last page);
 * apps read a user's profile names and tz without checking for them, as
 * Slack always sends them. Matched by field name in any message (these names
 * are only users' and profiles' in libchat's messages).
 */
static const char *const always_emit[] = {
    "next_cursor",  "display_name", "display_name_normalized", "real_name",
    "real_name_normalized", "status_text", "status_emoji", "title", "tz",
};

/* ======================================================== pb -> JSON === */

static chat_err put_n(chati_buf *b, const char *s, size_t n)
{
    return chati_buf_append(b, s, n);
}

/* Bytes 0xC2.. start a sequence; returns its length when valid, else 0. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c0 = p[0];
    if (c0 < 0xC2)
        return 0;
    if (c0 < 0xE0)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c0 < 0xF0) {
        unsigned lo = c0 == 0xE0 ? 0xA0 : 0x80, hi = c0 == 0xED ? 0x9F : 0xBF;
        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c0 < 0xF5) {
        unsigned lo = c0 == 0xF0 ? 0x90 : 0x80, hi = c0 == 0xF4 ? 0x8F : 0xBF;
        return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
                       (p[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static chat_err put_string(chati_buf *b, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    chat_err rv;

    /* Most strings need no escaping: one reservation covers them. */
    if ((rv = chati_buf_reserve(b, len + 2)) != CHAT_OK)
        return rv;
    b->data[b->len++] = '"';
    while (i < len) {
        unsigned ch = s[i];
        char esc[8];
        size_t elen, skip;
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\' && ch != '<') {
            i++;
            continue;
        }
        if (ch >= 0x80) {
            size_t n = utf8_seq(s + i, len - i);
            if (n == 0) {
                memcpy(esc, "\xEF\xBF\xBD", 3);     /* U+FFFD */
                elen = 3;
                skip = 1;
            } else if (n == 3 && ch == 0xE2 && s[i + 1] == 0x80 &&
                       (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                memcpy(esc, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                elen = 6;
                skip = 3;
            } else {
                i += n;
                continue;
            }
        } else if (ch == '<') {
            if (i + 1 >= len || s[i + 1] != '/') {
                i++;
                continue;
            }
            memcpy(esc, "<\\/", 3);
            elen = 3;
            skip = 2;
        } else {
            skip = 1;
            elen = 2;
            esc[0] = '\\';
            switch (ch) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[ch >> 4];
                esc[5] = hex[ch & 15];
                elen = 6;
                break;
            }
        }
        if ((rv = put_n(b, (const char *)s + run, i - run)) != CHAT_OK ||
            (rv = put_n(b, esc, elen)) != CHAT_OK)
            return rv;
        i += skip;
        run = i;
    }
    if ((rv = put_n(b, (const char *)s + run, i - run)) != CHAT_OK)
        return rv;
    return put_n(b, "\"", 1);
}

chat_err gw_json_put_string(chati_buf *out, const char *s, size_t len)
{
    size_t start = out->len;
    chat_err rv = put_string(out, s ? s : "", s ? len : 0);
    if (rv != CHAT_OK && out->data != NULL) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rv;
}

static chat_err put_u64(chati_buf *b, uint64_t v, bool neg)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        tmp[--i] = '-';
    return put_n(b, tmp + i, sizeof tmp - i);
}

static chat_err put_i64(chati_buf *b, int64_t v)
{
    return v < 0 ? put_u64(b, (uint64_t)0 - (uint64_t)v, true) : put_u64(b, (uint64_t)v, false);
}

static chat_err write_object(const ProtobufCMessage *m, chati_buf *b, int depth);

/* Writes the value stored at p (one element of field f's type). */
static chat_err put_value(chati_buf *b, const ProtobufCFieldDescriptor *f, const void *p,
                          int depth)
{
    char num[40];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return put_i64(b, *(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return put_u64(b, *(const uint32_t *)p, false);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return put_i64(b, *(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return put_u64(b, *(const uint64_t *)p, false);
    case PROTOBUF_C_TYPE_ENUM:
        return put_i64(b, *(const int *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p ? put_n(b, "true", 4) : put_n(b, "false", 5);
    case PROTOBUF_C_TYPE_FLOAT: {
        float v = *(const float *)p;
        if (!isfinite(v))
            return put_n(b, "null", 4);
        return put_n(b, num, (size_t)gw_fmt_float(v, num));
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v = *(const double *)p;
        if (!isfinite(v))
            return put_n(b, "null", 4);
        return put_n(b, num, (size_t)gw_fmt_double(v, num));
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return put_string(b, s ? s : "", s ? strlen(s) : 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bin = p;
        return put_string(b, bin->data ? (const char *)bin->data : "", bin->data ? bin->len : 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub == NULL)
            return put_n(b, "null", 4);
        char **raw = gw_pb_json_raw(sub->descriptor, (ProtobufCMessage *)sub);
        if (raw != NULL) /* checked JSON, written as it is */
            return *raw && **raw ? put_n(b, *raw, strlen(*raw)) : put_n(b, "null", 4);
        return write_object(sub, b, depth + 1);
    }
    }
    return chati_fail(CHAT_ERR_INTERNAL, "field %s has unknown type %d", f->name, (int)f->type);
}

static bool always_emitted(const char *name)
{
    for (size_t i = 0; i < CHATI_ARRAY_LEN(always_emit); i++) {
        if (strcmp(name, always_emit[i]) == 0)
            return true;
    }
    return false;
}

/* Whether a singular field is written (see the output rules in pbjson.h). */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)m;
    const void *p = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0)
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return (s != NULL && *s != '\0') || always_emitted(f->name);
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0 || always_emitted(f->name);
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p != NULL;
    default:
        return true;
    }
}

/* Writes `"name":` preceded by a comma unless it is the first member. */
static chat_err put_key(chati_buf *b, const char *name, size_t *count)
{
    size_t nl = strlen(name);
    chat_err rv = chati_buf_reserve(b, nl + 4);
    if (rv != CHAT_OK)
        return rv;
    char *w = b->data + b->len;
    if (*count > 0)
        *w++ = ',';
    *w++ = '"';
    memcpy(w, name, nl);
    w += nl;
    *w++ = '"';
    *w++ = ':';
    *w = '\0';
    b->len = (size_t)(w - b->data);
    ++*count;
    return CHAT_OK;
}

static chat_err write_members(const ProtobufCMessage *m, chati_buf *b, int depth, size_t *count)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    chat_err rv = CHAT_OK;

    for (unsigned i = 0; i < d->n_fields && rv == CHAT_OK; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            size_t es = gw_pb_elem_size(f->type);
            if ((rv = put_key(b, f->name, count)) != CHAT_OK ||
                (rv = put_n(b, "[", 1)) != CHAT_OK)
                break;
            for (size_t j = 0; j < n && rv == CHAT_OK; j++) {
                if (j > 0 && (rv = put_n(b, ",", 1)) != CHAT_OK)
                    break;
                rv = put_value(b, f, arr + j * es, depth);
            }
            if (rv == CHAT_OK)
                rv = put_n(b, "]", 1);
            continue;
        }
        if (!present(m, f))
            continue;
        if ((rv = put_key(b, f->name, count)) != CHAT_OK)
            break;
        rv = put_value(b, f, base + f->offset, depth);
    }
    return rv;
}

static chat_err write_object(const ProtobufCMessage *m, chati_buf *b, int depth)
{
    size_t count = 0;
    chat_err rv;
    if (depth > GW_OUT_MAX_DEPTH)
        return chati_fail(CHAT_ERR_INTERNAL, "response nests more than %d messages deep",
                          GW_OUT_MAX_DEPTH);
    if ((rv = put_n(b, "{", 1)) != CHAT_OK ||
        (rv = write_members(m, b, depth, &count)) != CHAT_OK)
        return rv;
    return put_n(b, "}", 1);
}

static void rewind_to(chati_buf *b, size_t len)
{
    b->len = len;
    if (b->data != NULL)
        b->data[len] = '\0';
}

chat_err gw_pb_to_json(const ProtobufCMessage *m, chati_buf *out)
{
    size_t start = out->len;
    char last = start > 0 ? out->data[start - 1] : '{';
    /* count > 0 makes the first member start with a comma. */
    size_t count = (last == '{' || last == ',') ? 0 : 1, before = count;
    chat_err rv = write_members(m, out, 1, &count);
    if (rv != CHAT_OK) {
        rewind_to(out, start);
        return rv;
    }
    if (count == before && last == ',' && start > 0)
        rewind_to(out, start - 1);
    return CHAT_OK;
}

chat_err gw_pb_to_json_object(const ProtobufCMessage *m, chati_buf *out)
{
    size_t start = out->len;
    chat_err rv = write_object(m, out, 1);
    if (rv != CHAT_OK)
        rewind_to(out, start);
    return rv;
}
