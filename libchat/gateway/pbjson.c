/*
 * libchat/gateway/pbjson.c - Slack arguments -> protobuf-c messages (the way
 * back to Slack JSON is pbjson_out.c), generically from descriptors. Rules and
 * contracts are in pbjson.h.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pbjson.h"
#include "pbjson_internal.h"


/* ================================================================ args === */

void gw_args_init(gw_args *a)
{
    a->items = NULL;
    a->n = a->cap = 0;
}

static void arg_clear(gw_arg *e)
{
    chat_free(e->key);
    chat_free(e->value);
    if (e->json != NULL)
        json_decref(e->json);
    e->key = e->value = NULL;
    e->json = NULL;
}

static void args_truncate(gw_args *a, size_t n)
{
    while (a->n > n)
        arg_clear(&a->items[--a->n]);
}

void gw_args_free(gw_args *a)
{
    if (a == NULL)
        return;
    args_truncate(a, 0);
    chat_free(a->items);
    gw_args_init(a);
}

static chat_err args_reserve(gw_args *a, size_t extra)
{
    if (a->cap - a->n >= extra)
        return CHAT_OK;
    size_t cap = a->cap ? a->cap : 8;
    while (cap - a->n < extra) {
        if (cap > SIZE_MAX / 2 / sizeof(gw_arg))
            return chati_fail(CHAT_ERR_NOMEM, "too many arguments");
        cap *= 2;
    }
    gw_arg *p = chat_realloc(a->items, cap * sizeof(gw_arg));
    if (p == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "argument list of %zu", cap);
    a->items = p;
    a->cap = cap;
    return CHAT_OK;
}

/* Appends an entry taking ownership of key, value and json (all freed on failure). */
static chat_err args_push(gw_args *a, char *key, char *value, size_t vlen, json_t *json)
{
    chat_err rv = args_reserve(a, 1);
    if (rv != CHAT_OK) {
        chat_free(key);
        chat_free(value);
        if (json != NULL)
            json_decref(json);
        return rv;
    }
    gw_arg *e = &a->items[a->n++];
    e->key = key;
    e->value = value;
    e->value_len = vlen;
    e->json = json;
    return CHAT_OK;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = chat_malloc(n + 1);
    if (p != NULL) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

chat_err gw_args_add(gw_args *a, const char *key, const char *value, size_t len)
{
    if (key == NULL || *key == '\0' || (value == NULL && len > 0))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "argument without a name");
    if (!chati_utf8_valid(key, strlen(key), NULL) ||
        !chati_utf8_valid(value ? value : "", len, NULL))
        return chati_fail(CHAT_ERR_INVALID_UTF8, "argument is not valid UTF-8");
    char *k = chat_strdup(key);
    char *v = dup_n(value ? value : "", len);
    if (k == NULL || v == NULL) {
        chat_free(k);
        chat_free(v);
        return chati_fail(CHAT_ERR_NOMEM, "argument copy");
    }
    return args_push(a, k, v, len, NULL);
}

const gw_arg *gw_args_find(const gw_args *a, const char *key)
{
    if (a == NULL || key == NULL)
        return NULL;
    for (size_t i = a->n; i-- > 0;) {
        if (strcmp(a->items[i].key, key) == 0)
            return &a->items[i];
    }
    return NULL;
}

const char *gw_args_get(const gw_args *a, const char *key)
{
    const gw_arg *e = gw_args_find(a, key);
    return e ? e->value : NULL;
}

size_t gw_args_remove(gw_args *a, const char *key)
{
    size_t w = 0, removed = 0;
    if (a == NULL || key == NULL)
        return 0;
    for (size_t r = 0; r < a->n; r++) {
        if (strcmp(a->items[r].key, key) == 0) {
            arg_clear(&a->items[r]);
            removed++;
        } else {
            a->items[w++] = a->items[r];
        }
    }
    a->n = w;
    return removed;
}

chat_err gw_args_merge(gw_args *dst, gw_args *src)
{
    if (dst == src || src->n == 0) {
        if (dst != src)
            gw_args_free(src);
        return CHAT_OK;
    }
    chat_err rv = args_reserve(dst, src->n);
    if (rv != CHAT_OK)
        return rv;
    size_t w = 0;
    for (size_t r = 0; r < dst->n; r++) {
        if (gw_args_find(src, dst->items[r].key) != NULL)
            arg_clear(&dst->items[r]);
        else
            dst->items[w++] = dst->items[r];
    }
    dst->n = w;
    memcpy(dst->items + dst->n, src->items, src->n * sizeof(gw_arg));
    dst->n += src->n;
    chat_free(src->items);
    gw_args_init(src);
    return CHAT_OK;
}

/* ---- application/x-www-form-urlencoded ---- */

/* WHATWG form decoding: '+' is a space, %XX a byte, any other '%' literal. */
static char *form_decode(const char *s, size_t n, size_t *outlen)
{
    char *out = chat_malloc(n + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int hi, lo;
        if (ch == '+') {
            out[o++] = ' ';
        } else if (ch == '%' && i + 2 < n && (hi = chati_hex_digit(s[i + 1])) >= 0 &&
                   (lo = chati_hex_digit(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

chat_err gw_args_parse_form(const char *body, size_t len, gw_args *out)
{
    size_t start = out->n;
    const char *p = body, *end = body + len;
    if (len == 0)
        return CHAT_OK;
    if (*p == '?')
        p++;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp > p) {
            const char *eq = memchr(p, '=', (size_t)(amp - p));
            const char *kend = eq ? eq : amp;
            const char *vbeg = eq ? eq + 1 : amp;
            size_t klen, vlen;
            char *k = form_decode(p, (size_t)(kend - p), &klen);
            char *v = form_decode(vbeg, (size_t)(amp - vbeg), &vlen);
            if (k == NULL || v == NULL) {
                chat_free(k);
                chat_free(v);
                args_truncate(out, start);
                return chati_fail(CHAT_ERR_NOMEM, "form decoding");
            }
            if (!chati_utf8_valid(k, klen, NULL) || !chati_utf8_valid(v, vlen, NULL)) {
                chat_free(k);
                chat_free(v);
                args_truncate(out, start);
                return chati_fail(CHAT_ERR_INVALID_UTF8,
                                  "form argument is not valid UTF-8 (or holds NUL)");
            }
            if (klen == 0) {
                chat_free(k);
                chat_free(v);
            } else {
                chat_err rv = args_push(out, k, v, vlen, NULL);
                if (rv != CHAT_OK) {
                    args_truncate(out, start);
                    return rv;
                }
            }
        }
        p = amp + 1;
    }
    return CHAT_OK;
}

/* ---- JSON bodies ---- */



static bool json_depth_ok(const json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (depth > GW_JSON_MAX_DEPTH)
        return false;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (!json_depth_ok(json_array_get(v, i), depth + 1))
                return false;
        }
    } else {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            if (!json_depth_ok(m, depth + 1))
                return false;
        }
    }
    return true;
}

/* The text form of a JSON value (see gw_arg.value), chat_malloc'd. */
static char *json_text(const json_t *v, size_t *len)
{
    char num[40];
    int n;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return dup_n(json_string_value(v), *len);
    case JSON_INTEGER:
        n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        n = gw_fmt_double(json_real_value(v), num);
        break;
    case JSON_TRUE:
        n = snprintf(num, sizeof num, "true");
        break;
    case JSON_FALSE:
        n = snprintf(num, sizeof num, "false");
        break;
    case JSON_NULL:
        n = 0;
        num[0] = '\0';
        break;
    default: {
        size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT);
        char *p = need ? chat_malloc(need + 1) : NULL;
        if (p == NULL)
            return NULL;
        json_dumpb(v, p, need, JSON_COMPACT);
        p[need] = '\0';
        *len = need;
        return p;
    }
    }
    *len = (size_t)n;
    return dup_n(num, (size_t)n);
}

chat_err gw_args_parse_json(const char *body, size_t len, gw_args *out)
{
    size_t start = out->n, i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len)
        return CHAT_OK;

    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (root == NULL) {
        switch (json_error_code(&jerr)) {
        case json_error_out_of_memory:
            return chati_fail(CHAT_ERR_NOMEM, "JSON body");
        case json_error_invalid_utf8:
            return chati_fail(CHAT_ERR_INVALID_UTF8, "JSON body: %s", jerr.text);
        default:
            return chati_fail(CHAT_ERR_INVALID_JSON, "JSON body, line %d column %d: %s",
                              jerr.line, jerr.column, jerr.text);
        }
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return chati_fail(CHAT_ERR_INVALID_JSON, "JSON body is not an object");
    }
    if (!json_depth_ok(root, 1)) {
        json_decref(root);
        return chati_fail(CHAT_ERR_INVALID_JSON, "JSON body nests deeper than %d",
                          GW_JSON_MAX_DEPTH);
    }

    chat_err rv = args_reserve(out, json_object_size(root));
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (rv != CHAT_OK)
            break;
        if (json_is_null(val))
            continue;
        size_t vlen = 0;
        char *k = chat_strdup(key);
        char *v = json_text(val, &vlen);
        if (k == NULL || v == NULL) {
            chat_free(k);
            chat_free(v);
            rv = chati_fail(CHAT_ERR_NOMEM, "JSON argument");
            break;
        }
        rv = args_push(out, k, v, vlen, json_incref(val));
    }
    json_decref(root);
    if (rv != CHAT_OK)
        args_truncate(out, start);
    return rv;
}

/* ========================================================= args -> pb === */

typedef struct pctx {
    char path[512];             /* dotted path of the field being converted */
    size_t plen;
} pctx;

/* One value for a field: JSON when json != NULL, else text[0..len). */
typedef struct pv {
    const char *text;
    size_t len;
    json_t *json;
} pv;

/* Storage for one converted element, copied into the message by size. */
typedef union sval {
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f;
    double d;
    protobuf_c_boolean b;
    int e;
    char *s;
    ProtobufCBinaryData bin;
    ProtobufCMessage *m;
} sval;

static size_t path_push(pctx *c, const char *name)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s%s",
                     c->plen ? "." : "", name);
    if (n > 0)
        c->plen += (size_t)n < sizeof c->path - c->plen ? (size_t)n : sizeof c->path - c->plen - 1;
    return mark;
}

static size_t path_push_index(pctx *c, size_t i)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%zu]", i);
    if (n > 0)
        c->plen += (size_t)n < sizeof c->path - c->plen ? (size_t)n : sizeof c->path - c->plen - 1;
    return mark;
}

static void path_pop(pctx *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

static const char *expected(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
        return "a string";
    case PROTOBUF_C_TYPE_BOOL:
        return "a boolean";
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return "a number";
    case PROTOBUF_C_TYPE_ENUM:
        return "one of the allowed values";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "a JSON object";
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return "a non-negative integer";
    default:
        return "an integer";
    }
}

static chat_err wrong_type(pctx *c, const ProtobufCFieldDescriptor *f)
{
    return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` must be %s", c->path, expected(f));
}

static chat_err out_of_range(pctx *c)
{
    return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` is out of range", c->path);
}


static void sval_free(const ProtobufCFieldDescriptor *f, sval *v)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        chat_free(v->s);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        chat_free(v->bin.data);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        if (v->m != NULL)
            protobuf_c_message_free_unpacked(v->m, NULL);
        break;
    default:
        break;
    }
}

static bool is_unsigned_int(ProtobufCType t)
{
    return t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_FIXED32 ||
           t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
}

static bool is_64(ProtobufCType t)
{
    return gw_pb_elem_size(t) == 8;
}

/* Stores an integer given as sign + magnitude into sv, range-checked for f. */
static chat_err store_int(pctx *c, const ProtobufCFieldDescriptor *f, bool neg, uint64_t mag,
                          sval *sv)
{
    if (is_unsigned_int(f->type)) {
        if (neg && mag != 0)
            return out_of_range(c);
        if (is_64(f->type)) {
            sv->u64 = mag;
        } else {
            if (mag > UINT32_MAX)
                return out_of_range(c);
            sv->u32 = (uint32_t)mag;
        }
        return CHAT_OK;
    }
    uint64_t lim = is_64(f->type) ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
    if (mag > lim + (neg ? 1 : 0))
        return out_of_range(c);
    int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    if (is_64(f->type))
        sv->i64 = v;
    else
        sv->i32 = (int32_t)v;
    return CHAT_OK;
}

/* "-?[0-9]+" -> sign + magnitude; false on bad syntax or > UINT64_MAX (*over). */
static bool parse_decimal(const char *s, size_t len, bool *neg, uint64_t *mag, bool *over)
{
    size_t i = 0;
    uint64_t v = 0;
    *neg = false;
    *over = false;
    if (i < len && s[i] == '-') {
        *neg = true;
        i++;
    }
    if (i == len)
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            *over = true;
            return false;
        }
        v = v * 10 + d;
    }
    *mag = v;
    return true;
}

static bool parse_real(const char *s, size_t len, double *out)
{
    char buf[72];
    if (len == 0 || len >= sizeof buf)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '+' || ch == 'e' ||
              ch == 'E'))
            return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static chat_err store_real(pctx *c, const ProtobufCFieldDescriptor *f, double v, sval *sv)
{
    if (!isfinite(v))
        return out_of_range(c);
    if (f->type == PROTOBUF_C_TYPE_FLOAT) {
        if (fabs(v) > FLT_MAX)
            return out_of_range(c);
        sv->f = (float)v;
    } else {
        sv->d = v;
    }
    return CHAT_OK;
}

static chat_err store_enum(pctx *c, const ProtobufCFieldDescriptor *f, int64_t v, sval *sv)
{
    if (v < INT32_MIN || v > INT32_MAX ||
        protobuf_c_enum_descriptor_get_value(f->descriptor, (int)v) == NULL)
        return wrong_type(c, f);
    sv->e = (int)v;
    return CHAT_OK;
}

static bool ieq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static chat_err build_message(pctx *c, const ProtobufCMessageDescriptor *d, const gw_args *a,
                              json_t *obj, int depth, ProtobufCMessage **out);

/* Parses text holding JSON for a message or an array field. */
static chat_err parse_embedded(pctx *c, const ProtobufCFieldDescriptor *f, const char *s,
                               size_t len, bool want_array, json_t **out)
{
    json_error_t jerr;
    json_t *j = json_loadb(s, len, 0, &jerr);
    if (j == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return chati_fail(CHAT_ERR_NOMEM, "`%s`", c->path);
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` must be %s: %s", c->path,
                          want_array ? "a JSON array" : expected(f), jerr.text);
    }
    if (want_array ? !json_is_array(j) : !json_is_object(j)) {
        json_decref(j);
        return want_array ? chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` must be a JSON array",
                                       c->path)
                          : wrong_type(c, f);
    }
    *out = j;
    return CHAT_OK;
}

/* Converts one text value for f into sv; *set false when it means "not given". */
static chat_err conv_text(pctx *c, const ProtobufCFieldDescriptor *f, const char *s,
                          size_t len, int depth, sval *sv, bool *set)
{
    bool neg, over;
    uint64_t mag;
    double dv;
    chat_err rv;

    *set = false;
    if (len > GW_MAX_STRING)
        return chati_fail(CHAT_ERR_TOO_LONG, "`%s` is longer than %zu bytes", c->path,
                          GW_MAX_STRING);
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        if ((sv->s = dup_n(s, len)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "`%s`", c->path);
        *set = true;
        return CHAT_OK;
    case PROTOBUF_C_TYPE_BYTES:
        if ((sv->bin.data = (uint8_t *)dup_n(s, len)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "`%s`", c->path);
        sv->bin.len = len;
        *set = true;
        return CHAT_OK;
    default:
        break;
    }
    if (len == 0)
        return CHAT_OK;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        if (ieq(s, len, "true") || ieq(s, len, "1"))
            sv->b = 1;
        else if (ieq(s, len, "false") || ieq(s, len, "0"))
            sv->b = 0;
        else
            return wrong_type(c, f);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!parse_real(s, len, &dv))
            return wrong_type(c, f);
        if ((rv = store_real(c, f, dv, sv)) != CHAT_OK)
            return rv;
        break;
    case PROTOBUF_C_TYPE_ENUM:
        if (parse_decimal(s, len, &neg, &mag, &over)) {
            if (mag > (uint64_t)INT32_MAX + 1)
                return wrong_type(c, f);
            if ((rv = store_enum(c, f, neg ? -(int64_t)mag : (int64_t)mag, sv)) != CHAT_OK)
                return rv;
        } else {
            char name[128];
            const ProtobufCEnumValue *ev = NULL;
            if (len < sizeof name) {
                memcpy(name, s, len);
                name[len] = '\0';
                ev = protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, name);
            }
            if (ev == NULL)
                return wrong_type(c, f);
            sv->e = ev->value;
        }
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        json_t *j;
        if ((rv = parse_embedded(c, f, s, len, false, &j)) != CHAT_OK)
            return rv;
        rv = build_message(c, f->descriptor, NULL, j, depth + 1, &sv->m);
        json_decref(j);
        if (rv != CHAT_OK)
            return rv;
        break;
    }
    default:
        if (!parse_decimal(s, len, &neg, &mag, &over))
            return over ? out_of_range(c) : wrong_type(c, f);
        if ((rv = store_int(c, f, neg, mag, sv)) != CHAT_OK)
            return rv;
        break;
    }
    *set = true;
    return CHAT_OK;
}


static bool is_json_field(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;
    return f->type == PROTOBUF_C_TYPE_MESSAGE && strcmp(d->short_name, GW_JSON_TYPE) == 0 &&
           d->n_fields == 1 && strcmp(d->fields[0].name, "raw") == 0 &&
           d->fields[0].type == PROTOBUF_C_TYPE_STRING;
}

/* A GW_JSON_TYPE value: any JSON value as its compact text, or text as is
 * (what it holds is the handler's to check). */
static chat_err conv_json(pctx *c, const ProtobufCFieldDescriptor *f, const pv *v, sval *sv,
                          bool *set)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;
    char *text = NULL;
    *set = false;
    if (v->json == NULL)
        text = dup_n(v->text, v->len);
    else if (json_is_null(v->json))
        return CHAT_OK;
    else if (json_is_string(v->json))
        text = dup_n(json_string_value(v->json), json_string_length(v->json));
    else {
        size_t len;
        text = json_text(v->json, &len);
    }
    if (text == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "`%s`", c->path);
    if (strlen(text) > GW_MAX_STRING) {
        chat_free(text);
        return chati_fail(CHAT_ERR_TOO_LONG, "`%s` is longer than %zu bytes", c->path,
                          GW_MAX_STRING);
    }
    ProtobufCMessage *m = chat_malloc(d->sizeof_message);
    char **raw = m ? (d->message_init(m), gw_pb_json_raw(d, m)) : NULL;
    if (raw == NULL) {
        chat_free(m);
        chat_free(text);
        return chati_fail(m ? CHAT_ERR_INTERNAL : CHAT_ERR_NOMEM, "`%s`", c->path);
    }
    *raw = text;
    sv->m = m;
    *set = true;
    return CHAT_OK;
}

/* Converts one value (text or a non-array JSON value) for f into sv. */
static chat_err conv_value(pctx *c, const ProtobufCFieldDescriptor *f, const pv *v, int depth,
                           sval *sv, bool *set)
{
    char num[40];
    int n;
    json_t *j = v->json;

    *set = false;
    if (is_json_field(f))
        return conv_json(c, f, v, sv, set);
    if (j == NULL)
        return conv_text(c, f, v->text, v->len, depth, sv, set);

    switch (json_typeof(j)) {
    case JSON_NULL:
        return CHAT_OK;
    case JSON_STRING:
        return conv_text(c, f, json_string_value(j), json_string_length(j), depth, sv, set);
    case JSON_TRUE:
    case JSON_FALSE:
        if (f->type == PROTOBUF_C_TYPE_BOOL) {
            sv->b = json_is_true(j);
            *set = true;
            return CHAT_OK;
        }
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES) {
            const char *t = json_is_true(j) ? "true" : "false";
            return conv_text(c, f, t, strlen(t), depth, sv, set);
        }
        return wrong_type(c, f);
    case JSON_INTEGER: {
        json_int_t iv = json_integer_value(j);
        chat_err rv;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_BYTES:
            n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, iv);
            return conv_text(c, f, num, (size_t)n, depth, sv, set);
        case PROTOBUF_C_TYPE_BOOL:
            if (iv != 0 && iv != 1)
                return wrong_type(c, f);
            sv->b = iv == 1;
            break;
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_DOUBLE:
            if ((rv = store_real(c, f, (double)iv, sv)) != CHAT_OK)
                return rv;
            break;
        case PROTOBUF_C_TYPE_ENUM:
            if ((rv = store_enum(c, f, iv, sv)) != CHAT_OK)
                return rv;
            break;
        case PROTOBUF_C_TYPE_MESSAGE:
            return wrong_type(c, f);
        default:
            if ((rv = store_int(c, f, iv < 0, iv < 0 ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv,
                                sv)) != CHAT_OK)
                return rv;
            break;
        }
        *set = true;
        return CHAT_OK;
    }
    case JSON_REAL: {
        double dv = json_real_value(j);
        chat_err rv;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_BYTES:
            n = gw_fmt_double(dv, num);
            return conv_text(c, f, num, (size_t)n, depth, sv, set);
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_DOUBLE:
            if ((rv = store_real(c, f, dv, sv)) != CHAT_OK)
                return rv;
            break;
        case PROTOBUF_C_TYPE_BOOL:
        case PROTOBUF_C_TYPE_MESSAGE:
            return wrong_type(c, f);
        default:
            /* 20.0 is an integer; 20.5 is not. */
            if (dv != trunc(dv))
                return wrong_type(c, f);
            if (!(dv > -18446744073709551616.0 && dv < 18446744073709551616.0))
                return out_of_range(c);
            if (f->type == PROTOBUF_C_TYPE_ENUM) {
                if (dv < INT32_MIN || dv > INT32_MAX)
                    return wrong_type(c, f);
                if ((rv = store_enum(c, f, (int64_t)dv, sv)) != CHAT_OK)
                    return rv;
            } else if ((rv = store_int(c, f, dv < 0, dv < 0 ? (uint64_t)-dv : (uint64_t)dv,
                                       sv)) != CHAT_OK) {
                return rv;
            }
            break;
        }
        *set = true;
        return CHAT_OK;
    }
    case JSON_OBJECT: {
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            return wrong_type(c, f);
        chat_err rv = build_message(c, f->descriptor, NULL, j, depth + 1, &sv->m);
        if (rv != CHAT_OK)
            return rv;
        *set = true;
        return CHAT_OK;
    }
    default:
        return wrong_type(c, f);
    }
}

/* Frees the current value of a singular field (or of the oneof's member). */
static void clear_singular(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    char *base = (char *)m;
    const ProtobufCFieldDescriptor *cur = f;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *casep = (uint32_t *)(base + f->quantifier_offset);
        cur = *casep ? protobuf_c_message_descriptor_get_field(m->descriptor, *casep) : NULL;
        *casep = 0;
        if (cur == NULL)
            return;
    }
    void *member = base + cur->offset;
    switch (cur->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char **sp = member;
        if (*sp != NULL && *sp != (const char *)cur->default_value)
            chat_free(*sp);
        *sp = NULL;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *bp = member;
        const ProtobufCBinaryData *def = cur->default_value;
        if (bp->data != NULL && (def == NULL || bp->data != def->data))
            chat_free(bp->data);
        bp->data = NULL;
        bp->len = 0;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage **mp = member;
        if (*mp != NULL)
            protobuf_c_message_free_unpacked(*mp, NULL);
        *mp = NULL;
        break;
    }
    default:
        break;
    }
}

static void store_singular(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, sval *sv)
{
    char *base = (char *)m;
    clear_singular(m, f);
    memcpy(base + f->offset, sv, gw_pb_elem_size(f->type));
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)(base + f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0)
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
}

/* Appends sv to a repeated field. Only this function grows the array, so its
 * capacity is implicit: 0 for n == 0, else max(4, the next power of two >= n). */
static chat_err store_repeated(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                               sval *sv)
{
    char *base = (char *)m;
    size_t *np = (size_t *)(base + f->quantifier_offset);
    char **arrp = (char **)(base + f->offset);
    size_t es = gw_pb_elem_size(f->type), n = *np;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        size_t cap = n ? n * 2 : 4;
        char *p = (cap > SIZE_MAX / es) ? NULL : chat_realloc(*arrp, cap * es);
        if (p == NULL) {
            sval_free(f, sv);
            return chati_fail(CHAT_ERR_NOMEM, "`%s`", c->path);
        }
        *arrp = p;
    }
    memcpy(*arrp + n * es, sv, es);
    *np = n + 1;
    return CHAT_OK;
}

static chat_err add_element(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                            const pv *v, int depth)
{
    sval sv;
    bool set;
    memset(&sv, 0, sizeof sv);
    chat_err rv = conv_value(c, f, v, depth, &sv, &set);
    if (rv != CHAT_OK || !set)
        return rv;
    return store_repeated(c, m, f, &sv);
}

static chat_err add_json_array(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                               json_t *arr, int depth)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        size_t mark = path_push_index(c, i);
        if (json_is_null(e) || json_is_array(e))
            return wrong_type(c, f);
        pv ev = {NULL, 0, e};
        chat_err rv = add_element(c, m, f, &ev, depth);
        if (rv != CHAT_OK)
            return rv;
        path_pop(c, mark);
    }
    return CHAT_OK;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Text for a repeated field: a JSON array, or comma-separated scalars. */
static chat_err add_text_list(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                              const char *s, size_t len, int depth)
{
    size_t i = 0;
    if (len > GW_MAX_STRING)
        return chati_fail(CHAT_ERR_TOO_LONG, "`%s` is longer than %zu bytes", c->path,
                          GW_MAX_STRING);
    while (i < len && is_space(s[i]))
        i++;
    if (i == len)
        return CHAT_OK;
    if (s[i] == '[') {
        json_t *arr;
        chat_err rv = parse_embedded(c, f, s, len, true, &arr);
        if (rv != CHAT_OK)
            return rv;
        rv = add_json_array(c, m, f, arr, depth);
        json_decref(arr);
        return rv;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` must be a JSON array of objects",
                          c->path);
    const char *p = s, *end = s + len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *iend = comma ? comma : end, *ib = p;
        while (ib < iend && (*ib == ' ' || *ib == '\t'))
            ib++;
        while (iend > ib && (iend[-1] == ' ' || iend[-1] == '\t'))
            iend--;
        if (iend > ib) {
            pv ev = {ib, (size_t)(iend - ib), NULL};
            chat_err rv = add_element(c, m, f, &ev, depth);
            if (rv != CHAT_OK)
                return rv;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return CHAT_OK;
}

static chat_err add_repeated(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             const pv *v, int depth)
{
    json_t *j = v->json;
    if (j == NULL)
        return add_text_list(c, m, f, v->text, v->len, depth);
    switch (json_typeof(j)) {
    case JSON_NULL:
        return CHAT_OK;
    case JSON_ARRAY:
        return add_json_array(c, m, f, j, depth);
    case JSON_STRING:
        return add_text_list(c, m, f, json_string_value(j), json_string_length(j), depth);
    case JSON_OBJECT:
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` must be a JSON array", c->path);
    default:
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` must be a JSON array of objects",
                              c->path);
        return add_element(c, m, f, v, depth);
    }
}

static chat_err apply_field(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                            const pv *v, int depth)
{
    size_t mark = path_push(c, f->name);
    chat_err rv;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        rv = add_repeated(c, m, f, v, depth);
    } else {
        sval sv;
        bool set;
        memset(&sv, 0, sizeof sv);
        rv = conv_value(c, f, v, depth, &sv, &set);
        if (rv == CHAT_OK && set)
            store_singular(m, f, &sv);
    }
    if (rv == CHAT_OK)
        path_pop(c, mark);
    return rv;
}

/* Builds a message of type d from args a or JSON object obj (one of them). */
static chat_err build_message(pctx *c, const ProtobufCMessageDescriptor *d, const gw_args *a,
                              json_t *obj, int depth, ProtobufCMessage **out)
{
    chat_err rv = CHAT_OK;
    if (depth > GW_MAX_DEPTH)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "`%s` is nested more than %d deep",
                          c->path, GW_MAX_DEPTH);
    ProtobufCMessage *m = chat_malloc(d->sizeof_message);
    if (m == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message %s", d->name);
    protobuf_c_message_init(d, m);

    if (a != NULL) {
        for (size_t i = 0; i < a->n && rv == CHAT_OK; i++) {
            const gw_arg *e = &a->items[i];
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(d, e->key);
            if (f != NULL) {
                pv v = {e->value ? e->value : "", e->value ? e->value_len : 0, e->json};
                rv = apply_field(c, m, f, &v, depth);
            }
        }
    } else if (obj != NULL) {
        const char *key;
        json_t *val;
        json_object_foreach(obj, key, val) {
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(d, key);
            if (f != NULL) {
                pv v = {NULL, 0, val};
                if ((rv = apply_field(c, m, f, &v, depth)) != CHAT_OK)
                    break;
            }
        }
    }
    if (rv != CHAT_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rv;
    }
    *out = m;
    return CHAT_OK;
}

chat_err gw_args_to_pb(const gw_args *a, const ProtobufCMessageDescriptor *d,
                       ProtobufCMessage **out, char *errfield, size_t n)
{
    pctx c;
    c.plen = 0;
    c.path[0] = '\0';
    if (errfield != NULL && n > 0)
        errfield[0] = '\0';
    if (out == NULL || d == NULL || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return chati_fail(CHAT_ERR_INTERNAL, "gw_args_to_pb without a message descriptor");
    *out = NULL;
    chat_err rv = build_message(&c, d, a, NULL, 1, out);
    if (rv != CHAT_OK) {
        *out = NULL;
        if (errfield != NULL && n > 0)
            snprintf(errfield, n, "%s", c.path);
    }
    return rv;
}

/* ============================================== shared with pbjson_out.c === */

/* Shortest "%.*g" text that reads back as the same double (<= 17 digits). */
int gw_fmt_double(double v, char buf[40])
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return n;
}

int gw_fmt_float(float v, char buf[40])
{
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, 40, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v)
            break;
    }
    return n;
}

size_t gw_pb_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 4;
    }
}

/* A GW_JSON_TYPE message's "raw" member (NULL when d is another type). */
char **gw_pb_json_raw(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m)
{
    if (d == NULL || strcmp(d->short_name, GW_JSON_TYPE) != 0 || d->n_fields != 1)
        return NULL;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, "raw");
    return f && f->type == PROTOBUF_C_TYPE_STRING ? (char **)((char *)m + f->offset) : NULL;
}
