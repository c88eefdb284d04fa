/* Files over HTTP: upload_url bodies, url_private downloads, multipart
 * files.upload. Business rules stay in libchat: these only move bytes. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.pb-c.h"
#include "api/svc.h"
#include "files.h"

#define FILES_CALL_TIMEOUT_MS 60000
#define DEFAULT_MAX_BYTES ((size_t)100 << 20)

size_t gw_files_max_bytes(const gw *g)
{
    int64_t max = chati_files_max_bytes(g->events);
    if (max <= 0)
        return DEFAULT_MAX_BYTES;
    return (size_t)max;
}

/* A response with any number of extra headers (name, value pairs); takes
 * nothing: data is copied into the response. */
static void reply(gw_req *req, uint16_t status, const char *content_type, const void *data,
                  size_t len, const char *const *headers, size_t n_headers)
{
    gw_respond(req, status, content_type, data, len, headers, n_headers);
}

static void reply_error(gw_req *req, uint16_t status, chat_err err, const char *detail)
{
    chati_buf b = {0};
    gw_error_json(&b, err, detail);
    static const char *const h[] = {"Cache-Control", "no-store"};
    reply(req, status, "application/json; charset=utf-8", b.data, b.len, h, 1);
    chati_buf_free(&b);
}

/* The path segment after prefix ("/upload/", "/files/") up to '/', '?' or
 * the end, if it is a file id. */
static bool file_id_from_uri(const char *uri, const char *prefix, char id[CHAT_ID_SIZE])
{
    size_t pl = strlen(prefix);
    if (strncmp(uri, prefix, pl) != 0)
        return false;
    const char *p = uri + pl;
    size_t n = strcspn(p, "/?");
    if (n == 0 || n >= CHAT_ID_SIZE)
        return false;
    memcpy(id, p, n);
    id[n] = '\0';
    return chati_id_valid(id, 'F');
}

static chat_err query_args(const char *uri, gw_args *args)
{
    const char *q = strchr(uri, '?');
    return q ? gw_args_parse_form(q + 1, strlen(q + 1), args) : CHAT_OK;
}

/* ------------------------------------------------------------- upload --- */

static uint16_t upload_status(chat_err err)
{
    switch (err) {
    case CHAT_ERR_INVALID_AUTH:
    case CHAT_ERR_TOKEN_EXPIRED:
        return 403;
    case CHAT_ERR_FILE_NOT_FOUND:
    case CHAT_ERR_FILE_DELETED:
        return 404;
    case CHAT_ERR_FILE_TOO_LARGE:
        return 413;
    case CHAT_ERR_SERVICE_UNAVAILABLE:
        return 503;
    case CHAT_ERR_TIMEOUT:
        return 504;
    case CHAT_ERR_INTERNAL:
    case CHAT_ERR_NOMEM:
    case CHAT_ERR_STORAGE:
    case CHAT_ERR_INVALID_CONFIG:
        return 500;
    default:
        return 400;
    }
}

void gw_upload_serve(gw *g, gw_req *req)
{
    chati_clear_errmsg();
    static const chati_method *m;
    if (m == NULL)
        m = chati_method_by_name("files.uploadBytes");
    const char *uri = gw_req_uri(req);
    char id[CHAT_ID_SIZE];
    gw_args args = GW_ARGS_INIT;
    gw_multipart mp = {0};
    size_t len = 0;
    const char *body = gw_req_body(req, &len);
    chat_err rv = CHAT_OK;
    if (m == NULL)
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "uploads are not available");
    else if (!file_id_from_uri(uri, "/upload/", id))
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "not an upload URL");
    else if (query_args(uri, &args) != CHAT_OK || gw_args_get(&args, "ticket") == NULL)
        rv = chati_fail(CHAT_ERR_INVALID_AUTH, "the upload URL has no ticket");
    else if (len > gw_files_max_bytes(g))
        rv = chati_fail(CHAT_ERR_FILE_TOO_LARGE, "files are at most %zu bytes",
                        gw_files_max_bytes(g));
    const char *data = body;
    const char *ct = gw_req_header(req, "Content-Type");
    if (rv == CHAT_OK && gw_is_multipart(ct)) {
        /* Some SDK versions send the bytes as a form with a "file" part. */
        rv = gw_multipart_parse(body, len, ct, &mp);
        const gw_mp_part *file = rv == CHAT_OK ? gw_multipart_file(&mp) : NULL;
        if (rv == CHAT_OK && file == NULL)
            rv = chati_fail(CHAT_ERR_INVALID_FORM_DATA, "the form has no file part");
        if (rv == CHAT_OK) {
            data = file->data;
            len = file->len;
        }
    }
    if (rv == CHAT_OK) {
        Chat__Api__FilesUploadBytesRequest rq = CHAT__API__FILES_UPLOAD_BYTES_REQUEST__INIT;
        rq.file_id = id;
        rq.ticket = (char *)gw_args_get(&args, "ticket");
        rq.content.data = (uint8_t *)(len ? data : NULL); /* borrowed, never freed */
        rq.content.len = len;
        ProtobufCMessage *resp = NULL;
        rv = chati_svc_call(g->svc, m, NULL, &rq.base, FILES_CALL_TIMEOUT_MS, &resp);
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
    }
    if (rv == CHAT_OK) {
        char ok[48];
        int n = snprintf(ok, sizeof ok, "OK - %zu", len);
        reply(req, 200, "text/plain; charset=utf-8", ok, (size_t)n, NULL, 0);
    } else {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", chati_errmsg());
        reply_error(req, upload_status(rv), rv, detail);
    }
    gw_multipart_free(&mp);
    gw_args_free(&args);
}

/* ----------------------------------------------------------- download --- */

/* Types a browser would run as a page on our origin: always an attachment. */
static bool active_type(const char *t)
{
    static const char *const active[] = {"text/html", "application/xhtml", "image/svg",
                                         "text/xml", "application/xml", "text/javascript",
                                         "application/javascript"};
    for (size_t i = 0; t && i < CHATI_ARRAY_LEN(active); i++)
        if (strncasecmp(t, active[i], strlen(active[i])) == 0)
            return true;
    return false;
}

/* Content-Disposition with an ASCII filename and RFC 5987's UTF-8 one. */
static chat_err disposition(const char *name, bool attachment, chati_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    chat_err rv = chati_buf_printf(out, "%s; filename=\"", attachment ? "attachment" : "inline");
    for (const unsigned char *p = (const unsigned char *)name; rv == CHAT_OK && *p; p++) {
        char c = *p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' ? '_' : (char)*p;
        rv = chati_buf_append(out, &c, 1);
    }
    if (rv == CHAT_OK)
        rv = chati_buf_puts(out, "\"; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; rv == CHAT_OK && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p) != NULL) {
            rv = chati_buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rv = chati_buf_append(out, e, 3);
        }
    }
    return rv;
}

void gw_download_serve(gw *g, gw_req *req)
{
    chati_clear_errmsg();
    static const chati_method *m;
    if (m == NULL)
        m = chati_method_by_name("files.download");
    const char *uri = gw_req_uri(req);
    char id[CHAT_ID_SIZE];
    gw_args args = GW_ARGS_INIT;
    chat_session *s = NULL;
    ProtobufCMessage *resp = NULL;
    int retry_after = 0;
    chat_err rv = CHAT_OK;
    if (m == NULL)
        rv = chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "downloads are not available");
    else if (!file_id_from_uri(uri, "/files/", id) || query_args(uri, &args) != CHAT_OK)
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "not a file URL");
    const char *token = gw_bearer_token(gw_req_header(req, "Authorization"));
    if (token == NULL)
        token = gw_args_get(&args, "token");
    if (rv == CHAT_OK)
        rv = gw_authenticate(g, token, &s);
    if (rv == CHAT_OK && !gw_ratelimit_take(g->rate, token, &retry_after))
        rv = chati_fail(CHAT_ERR_RATELIMITED, "too many requests for this token");
    if (rv == CHAT_OK) {
        Chat__Api__FilesDownloadRequest rq = CHAT__API__FILES_DOWNLOAD_REQUEST__INIT;
        rq.file = id;
        rv = chati_svc_call(g->svc, m, s, &rq.base, FILES_CALL_TIMEOUT_MS, &resp);
    }
    if (rv == CHAT_OK) {
        const Chat__Api__FilesDownloadResponse *d = (const void *)resp;
        const char *type = d->file && d->file->mimetype && *d->file->mimetype
                               ? d->file->mimetype
                               : "application/octet-stream";
        const char *name = d->file && d->file->name ? d->file->name : id;
        const char *dl = gw_args_get(&args, "download");
        bool attachment = (dl && strcmp(dl, "0") != 0 && strcmp(dl, "false") != 0) ||
                          active_type(type);
        chati_buf cd = {0};
        if (disposition(name, attachment, &cd) != CHAT_OK) {
            chati_buf_free(&cd);
            reply_error(req, 500, CHAT_ERR_NOMEM, NULL);
        } else {
            /* The sandbox keeps an uploaded page or image from running as
             * the web client's origin, whatever a browser makes of it. */
            const char *const h[] = {"Content-Disposition", cd.data,
                                     "X-Content-Type-Options", "nosniff",
                                     "Content-Security-Policy", "sandbox; default-src 'none'",
                                     "Cache-Control", "private, no-store"};
            reply(req, 200, type, d->content.data, d->content.len, h, 4);
            chati_buf_free(&cd);
        }
    } else if (rv == CHAT_ERR_RATELIMITED) {
        char retry[16];
        snprintf(retry, sizeof retry, "%d", retry_after);
        chati_buf b = {0};
        gw_error_json(&b, rv, NULL);
        const char *const h[] = {"Retry-After", retry};
        reply(req, 429, "application/json; charset=utf-8", b.data, b.len, h, 1);
        chati_buf_free(&b);
    } else {
        /* Whether the file exists is nobody else's business: every refusal
         * looks the same, except a server that cannot answer. */
        uint16_t status = rv == CHAT_ERR_SERVICE_UNAVAILABLE ? 503
                          : rv == CHAT_ERR_TIMEOUT           ? 504
                          : rv == CHAT_ERR_INTERNAL || rv == CHAT_ERR_NOMEM ||
                                  rv == CHAT_ERR_STORAGE || rv == CHAT_ERR_CHECKSUM_MISMATCH
                              ? 500
                              : 404;
        if (status == 404)
            reply_error(req, 404, CHAT_ERR_FILE_NOT_FOUND, NULL);
        else
            reply_error(req, status, rv, chati_errmsg());
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    chat_session_free(s);
    gw_args_free(&args);
}

/* -------------------------------------------------------- files.upload --- */

chat_err gw_files_upload_args(gw *g, gw_req *req, const char *query, gw_args *args,
                              gw_multipart *mp, const gw_mp_part **file)
{
    *file = NULL;
    size_t len = 0;
    const char *body = gw_req_body(req, &len);
    chat_err rv = query ? gw_args_parse_form(query, strlen(query), args) : CHAT_OK;
    if (rv != CHAT_OK && rv != CHAT_ERR_INVALID_UTF8)
        rv = chati_fail(CHAT_ERR_INVALID_FORM_DATA, "the query string could not be read");
    if (rv == CHAT_OK && len > gw_files_max_bytes(g) + GW_UPLOAD_FORM_OVERHEAD)
        rv = chati_fail(CHAT_ERR_FILE_TOO_LARGE, "files are at most %zu bytes",
                        gw_files_max_bytes(g));
    if (rv == CHAT_OK)
        rv = gw_multipart_parse(body, len, gw_req_header(req, "Content-Type"), mp);
    if (rv != CHAT_OK)
        return rv;
    const gw_mp_part *f = gw_multipart_file(mp);
    gw_args parts = GW_ARGS_INIT;
    for (size_t i = 0; i < mp->n && rv == CHAT_OK; i++) {
        const gw_mp_part *p = &mp->parts[i];
        if (p == f)
            continue;
        if (p->len > GW_MAX_STRING)
            rv = chati_fail(CHAT_ERR_TOO_LONG, "the form field \"%.60s\" is too long", p->name);
        else
            rv = gw_args_add(&parts, p->name, p->data, p->len);
    }
    if (rv == CHAT_OK)
        rv = gw_args_merge(args, &parts); /* the body wins, as in Slack */
    if (rv == CHAT_OK && f && f->filename && *f->filename && gw_args_get(args, "filename") == NULL)
        rv = gw_args_add(args, "filename", f->filename, strlen(f->filename));
    gw_args_free(&parts);
    if (rv != CHAT_OK) {
        gw_multipart_free(mp);
        return rv;
    }
    *file = f;
    return CHAT_OK;
}

chat_err gw_files_upload_call(gw *g, const chati_method *m, const chat_session *s,
                              const gw_args *args, const gw_mp_part *file, chati_buf *out)
{
    char field[128] = "";
    ProtobufCMessage *rq = NULL, *resp = NULL;
    chat_err rv = gw_args_to_pb(args, m->req, &rq, field, sizeof field);
    Chat__Api__FilesUploadRequest *up = (void *)rq;
    if (rv == CHAT_OK && file != NULL) {
        /* The part's bytes go in as they lie in the body; a text "content"
         * argument gives way to the file. */
        chat_free(up->content.data);
        up->content.data = (uint8_t *)(file->len ? file->data : NULL);
        up->content.len = file->len;
        /* The part's media type without parameters ("; charset=..."). */
        const char *ct = file->content_type ? file->content_type : "";
        size_t n = strcspn(ct, ";");
        while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
            n--;
        if (n > 0 && (up->mimetype == NULL || up->mimetype[0] == '\0')) {
            if (up->mimetype != NULL && up->mimetype != protobuf_c_empty_string)
                chat_free(up->mimetype);
            if ((up->mimetype = chat_malloc(n + 1)) == NULL) {
                rv = chati_fail(CHAT_ERR_NOMEM, "request");
            } else {
                memcpy(up->mimetype, ct, n);
                up->mimetype[n] = '\0';
            }
        }
    }
    if (rv == CHAT_OK)
        rv = chati_svc_call(g->svc, m, s, rq, FILES_CALL_TIMEOUT_MS, &resp);
    rv = gw_result_json(rv, resp, out);
    if (rq) {
        if (file != NULL) { /* borrowed from the body: not the message's to free */
            up->content.data = NULL;
            up->content.len = 0;
        }
        protobuf_c_message_free_unpacked(rq, NULL);
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rv;
}
