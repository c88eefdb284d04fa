/* Handlers of files.*: Slack's two-step external upload with signed upload
 * URLs, the old one-step files.upload, info, list, delete and the internal
 * download behind url_private. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/md.h>

#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"
#include "api/svc.h"

#define TICKET_TTL_S (15 * 60)
#define MAC_B64_LEN 43 /* base64url of 32 bytes, unpadded */
#define FILES_DEFAULT_COUNT 100
#define FILES_MAX_PAGES 100

/* ------------------------------------------------------------ the shape --- */

/* Slack's short file types for the usual extensions; others keep their own. */
static const struct {
    const char *ext, *filetype, *mimetype;
} file_types[] = {
    {"txt", "text", "text/plain"},          {"text", "text", "text/plain"},
    {"log", "text", "text/plain"},          {"md", "markdown", "text/markdown"},
    {"csv", "csv", "text/csv"},             {"tsv", "tsv", "text/tab-separated-values"},
    {"json", "json", "application/json"},   {"xml", "xml", "application/xml"},
    {"html", "html", "text/html"},          {"htm", "html", "text/html"},
    {"css", "css", "text/css"},             {"js", "javascript", "text/javascript"},
    {"ts", "typescript", "text/plain"},     {"py", "python", "text/x-python"},
    {"c", "c", "text/x-c"},                 {"h", "c", "text/x-c"},
    {"go", "go", "text/plain"},             {"rs", "rust", "text/plain"},
    {"java", "java", "text/plain"},         {"sh", "shell", "text/x-sh"},
    {"yaml", "yaml", "text/plain"},         {"yml", "yaml", "text/plain"},
    {"png", "png", "image/png"},            {"jpg", "jpg", "image/jpeg"},
    {"jpeg", "jpg", "image/jpeg"},          {"gif", "gif", "image/gif"},
    {"webp", "webp", "image/webp"},         {"svg", "svg", "image/svg+xml"},
    {"bmp", "bmp", "image/bmp"},            {"pdf", "pdf", "application/pdf"},
    {"zip", "zip", "application/zip"},      {"gz", "gzip", "application/gzip"},
    {"tar", "tar", "application/x-tar"},    {"mp3", "mp3", "audio/mpeg"},
    {"wav", "wav", "audio/wav"},            {"mp4", "mp4", "video/mp4"},
    {"mov", "mov", "video/quicktime"},      {"webm", "webm", "video/webm"},
    {"doc", "doc", "application/msword"},   {"xls", "xls", "application/vnd.ms-excel"},
    {"docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
};

/* The extension of a file name, lower-cased into buf ("" when none). */
static const char *extension(const char *name, char *buf, size_t n)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    buf[0] = '\0';
    if (dot == NULL || dot == name || dot[1] == '\0' || strlen(dot + 1) >= n)
        return buf;
    size_t i = 0;
    for (const char *p = dot + 1; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            buf[0] = '\0';
            return buf;
        }
        buf[i++] = c;
    }
    buf[i] = '\0';
    return buf;
}

static const char *guess_mimetype(const char *name)
{
    char ext[16];
    extension(name, ext, sizeof ext);
    for (size_t i = 0; ext[0] && i < CHATI_ARRAY_LEN(file_types); i++)
        if (strcmp(file_types[i].ext, ext) == 0)
            return file_types[i].mimetype;
    return NULL;
}

/* Slack's "filetype": "png", "text", "pdf", ... ("binary" when unknown). */
static void filetype(const chat_file *f, char *out, size_t n)
{
    char ext[16];
    extension(f->name, ext, sizeof ext);
    for (size_t i = 0; ext[0] && i < CHATI_ARRAY_LEN(file_types); i++) {
        if (strcmp(file_types[i].ext, ext) == 0) {
            snprintf(out, n, "%s", file_types[i].filetype);
            return;
        }
    }
    if (ext[0])
        snprintf(out, n, "%s", ext);
    else
        snprintf(out, n, "%s", f->mimetype && strncmp(f->mimetype, "text/", 5) == 0 ? "text"
                                                                                     : "binary");
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static chat_err url_escape(chati_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    chat_err rv = CHAT_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && rv == CHAT_OK; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            rv = chati_buf_append(b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rv = chati_buf_append(b, e, 3);
        }
    }
    return rv;
}

/* <public_url>/files/<id>/<urlencoded name>[?download=1] */
static chat_err file_url(chat_ctx *ctx, const chat_file *f, bool download, char **out)
{
    chati_buf b = {0};
    chat_err rv = chati_buf_printf(&b, "%s/files/%s/", chati_public_url(ctx), f->id);
    if (rv == CHAT_OK)
        rv = url_escape(&b, f->name && *f->name ? f->name : "file");
    if (rv == CHAT_OK && download)
        rv = chati_buf_puts(&b, "?download=1");
    if (rv == CHAT_OK)
        rv = chati_pb_str(out, b.data);
    chati_buf_free(&b);
    return rv == CHAT_OK ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "response");
}

/* A file in Slack's shape (url_private and friends point at the gateway). */
static Chat__Api__File *api_file(chat_ctx *ctx, const chat_file *f)
{
    Chat__Api__File *r = (Chat__Api__File *)chati_pb_new(&chat__api__file__descriptor);
    if (r == NULL) {
        chati_fail(CHAT_ERR_NOMEM, "response");
        return NULL;
    }
    char ft[32];
    filetype(f, ft, sizeof ft);
    r->created = r->timestamp = f->created;
    r->size = f->size;
    if (chati_pb_str(&r->id, f->id) || chati_pb_str(&r->name, f->name) ||
        chati_pb_str(&r->title, f->title) || chati_pb_str(&r->mimetype, f->mimetype) ||
        chati_pb_str(&r->filetype, ft) || chati_pb_str(&r->user, f->user) ||
        chati_pb_str(&r->sha256, f->sha256) || file_url(ctx, f, false, &r->url_private) ||
        file_url(ctx, f, true, &r->url_private_download) ||
        file_url(ctx, f, false, &r->permalink)) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        chati_fail(CHAT_ERR_NOMEM, "response");
        return NULL;
    }
    if (f->n_channels) {
        const char **v = chat_calloc(f->n_channels, sizeof *v);
        chat_err rv = v ? CHAT_OK : CHAT_ERR_NOMEM;
        for (size_t i = 0; v && i < f->n_channels; i++)
            v[i] = f->channels[i];
        if (rv == CHAT_OK)
            rv = chati_pb_strs(&r->channels, &r->n_channels, v, f->n_channels);
        chat_free(v);
        if (rv != CHAT_OK) {
            protobuf_c_message_free_unpacked(&r->base, NULL);
            chati_fail(CHAT_ERR_NOMEM, "response");
            return NULL;
        }
    }
    return r;
}

/* ------------------------------------------------------ upload tickets --- */

/* base64url(HMAC-SHA256(key, file_id "|" user_id "|" team_id "|" expiry)),
 * with the context's signing key (see chati_ctx_mac). */
static chat_err ticket_mac(chat_ctx *ctx, const char *file_id, const char *user_id,
                           const char *team_id, int64_t expiry, char out[MAC_B64_LEN + 1])
{
    char msg[4 * CHAT_ID_SIZE + 32];
    int n = snprintf(msg, sizeof msg, "%s|%s|%s|%" PRId64, file_id, user_id, team_id, expiry);
    if (n < 0 || (size_t)n >= sizeof msg)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "ticket fields too long");
    return chati_ctx_mac(ctx, "ticket", msg, (size_t)n, out);
}

/* A ticket is "<expiry>.<user_id>.<team_id>.<mac>": the uploader travels in
 * it (under the MAC) because the upload itself carries no API token. */
static chat_err ticket_make(chat_ctx *ctx, const chat_session *s, const char *file_id,
                            int64_t now_s, chati_buf *out)
{
    char mac[MAC_B64_LEN + 1];
    int64_t expiry = now_s + TICKET_TTL_S;
    chat_err rv = ticket_mac(ctx, file_id, s->user_id, s->team_id, expiry, mac);
    if (rv == CHAT_OK &&
        chati_buf_printf(out, "%" PRId64 ".%s.%s.%s", expiry, s->user_id, s->team_id, mac))
        rv = chati_fail(CHAT_ERR_NOMEM, "ticket");
    return rv;
}

/* Splits off the next '.'-separated field of *p into buf. */
static bool next_field(const char **p, char *buf, size_t n)
{
    size_t len = strcspn(*p, ".");
    if (len == 0 || len >= n)
        return false;
    memcpy(buf, *p, len);
    buf[len] = '\0';
    *p += len;
    if (**p == '.')
        (*p)++;
    return true;
}

/* Checks a ticket for file_id at now_s; *user and *team get the uploader.
 * invalid_auth for anything malformed or forged, token_expired when late. */
static chat_err ticket_check(chat_ctx *ctx, const char *ticket, const char *file_id,
                             int64_t now_s, char user[CHAT_ID_SIZE], char team[CHAT_ID_SIZE])
{
    char exp_s[24], mac[MAC_B64_LEN + 2], want[MAC_B64_LEN + 1];
    const char *p = ticket ? ticket : "";
    if (!next_field(&p, exp_s, sizeof exp_s) || !next_field(&p, user, CHAT_ID_SIZE) ||
        !next_field(&p, team, CHAT_ID_SIZE) || !next_field(&p, mac, sizeof mac) || *p != '\0' ||
        strlen(mac) != MAC_B64_LEN || !chati_id_valid(user, 'U') || !chati_id_valid(team, 'T'))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "not an upload ticket");
    int64_t expiry = 0;
    for (const char *d = exp_s; *d; d++) {
        if (*d < '0' || *d > '9' || expiry > (INT64_MAX - 9) / 10)
            return chati_fail(CHAT_ERR_INVALID_AUTH, "not an upload ticket");
        expiry = expiry * 10 + (*d - '0');
    }
    chat_err rv = ticket_mac(ctx, file_id, user, team, expiry, want);
    if (rv != CHAT_OK)
        return rv;
    if (!chati_consttime_eq(mac, want, MAC_B64_LEN))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "the upload ticket does not match");
    if (expiry <= now_s)
        return chati_fail(CHAT_ERR_TOKEN_EXPIRED, "the upload URL expired");
    return CHAT_OK;
}

/* ------------------------------------------------------------ handlers --- */

chat_err chati_h_files_get_upload_url(chat_ctx *ctx, const chat_session *s,
                                      const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__FilesGetUploadUrlExternalRequest *req = (const void *)rq;
    Chat__Api__FilesGetUploadUrlExternalResponse *resp = (void *)rs;
    if (req->length < 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "length must not be negative");
    if ((uint64_t)req->length > SIZE_MAX)
        return chati_fail(CHAT_ERR_FILE_TOO_LARGE, "the file is too large");
    const char *mimetype = guess_mimetype(req->filename);
    if (mimetype == NULL && req->snippet_type && *req->snippet_type)
        mimetype = "text/plain";
    chat_file *f = NULL;
    chat_err rv = chat_file_upload_begin(ctx, s, req->filename, NULL, mimetype,
                                         (size_t)req->length, &f);
    chati_buf url = {0};
    if (rv == CHAT_OK &&
        chati_buf_printf(&url, "%s/upload/%s?ticket=", chati_public_url(ctx), f->id))
        rv = chati_fail(CHAT_ERR_NOMEM, "response");
    if (rv == CHAT_OK)
        rv = ticket_make(ctx, s, f->id, chati_now_us() / 1000000, &url);
    if (rv == CHAT_OK &&
        (chati_pb_str(&resp->upload_url, url.data) || chati_pb_str(&resp->file_id, f->id)))
        rv = CHAT_ERR_NOMEM;
    chati_buf_free(&url);
    chat_file_free(f);
    return rv;
}

chat_err chati_h_files_upload_bytes(chat_ctx *ctx, const chat_session *s,
                                    const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    CHATI_UNUSED(s); /* no token: the ticket says who uploads */
    const Chat__Api__FilesUploadBytesRequest *req = (const void *)rq;
    Chat__Api__FilesUploadBytesResponse *resp = (void *)rs;
    char user[CHAT_ID_SIZE], team[CHAT_ID_SIZE];
    if (!chati_id_valid(req->file_id, 'F'))
        return chati_fail(CHAT_ERR_FILE_NOT_FOUND, "not a file id");
    chat_err rv =
        ticket_check(ctx, req->ticket, req->file_id, chati_now_us() / 1000000, user, team);
    if (rv != CHAT_OK)
        return rv;
    chat_session *as = chati_session_make(user, team, false);
    if (as == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "session");
    chat_file *f = NULL;
    rv = chat_file_upload_finish(ctx, as, req->file_id, req->content.data, req->content.len, &f);
    if (rv == CHAT_OK) {
        resp->size = f->size;
        if (chati_pb_str(&resp->file_id, f->id))
            rv = CHAT_ERR_NOMEM;
    }
    chat_file_free(f);
    chat_session_free(as);
    return rv;
}

/* The caller's own, fully uploaded file. */
static chat_err own_file(chat_ctx *ctx, const chat_session *s, const char *file_id,
                         chat_file **out)
{
    chat_file *f = NULL;
    chat_err rv = chat_file_info(ctx, s, file_id, &f);
    if (rv == CHAT_OK && strcmp(f->user, s->user_id) != 0)
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "%s was not uploaded by the caller", file_id);
    else if (rv == CHAT_OK && f->sha256[0] == '\0')
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "the bytes of %s were not uploaded", file_id);
    if (rv == CHAT_OK)
        *out = f;
    else
        chat_file_free(f);
    return rv;
}

/* Shares file_id into each channel, with the comment and thread. */
static chat_err share_all(chat_ctx *ctx, const chat_session *s, const char *file_id,
                          const char *const *channels, size_t n, const char *comment,
                          const char *thread_ts)
{
    chat_err rv = CHAT_OK;
    for (size_t i = 0; i < n && rv == CHAT_OK; i++)
        rv = chat_file_share(ctx, s, file_id, channels[i], comment, thread_ts, NULL);
    return rv;
}

/* Channels named by channel_id and/or channels (duplicates dropped). */
static size_t targets(const char *channel_id, char *const *channels, size_t n_channels,
                      const char **out, size_t max)
{
    size_t n = 0;
    if (channel_id && *channel_id && n < max)
        out[n++] = channel_id;
    for (size_t i = 0; i < n_channels && n < max; i++) {
        if (channels[i] == NULL || channels[i][0] == '\0')
            continue;
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(out[j], channels[i]) == 0;
        if (!dup)
            out[n++] = channels[i];
    }
    return n;
}

#define MAX_TARGETS 32
#define MAX_COMPLETE_FILES 32

chat_err chati_h_files_complete_upload(chat_ctx *ctx, const chat_session *s,
                                       const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__FilesCompleteUploadExternalRequest *req = (const void *)rq;
    Chat__Api__FilesResponse *resp = (void *)rs;
    if (req->n_files == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "files is required");
    if (req->n_files > MAX_COMPLETE_FILES || req->n_channels > MAX_TARGETS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "too many files or channels");
    const char *chans[MAX_TARGETS + 1];
    size_t n_chans = targets(req->channel_id, req->channels, req->n_channels, chans,
                             CHATI_ARRAY_LEN(chans));
    /* Check every file before sharing any, so a bad id shares nothing. */
    for (size_t i = 0; i < req->n_files; i++) {
        chat_file *f = NULL;
        const char *id = req->files[i] ? req->files[i]->id : NULL;
        chat_err rv = own_file(ctx, s, id ? id : "", &f);
        chat_file_free(f);
        if (rv != CHAT_OK)
            return rv;
    }
    chat_err rv = CHAT_OK;
    for (size_t i = 0; i < req->n_files && rv == CHAT_OK; i++) {
        if (req->files[i]->title && *req->files[i]->title)
            rv = chat_file_set_title(ctx, s, req->files[i]->id, req->files[i]->title);
    }
    for (size_t i = 0; i < req->n_files && rv == CHAT_OK; i++)
        rv = share_all(ctx, s, req->files[i]->id, chans, n_chans,
                       i == 0 ? req->initial_comment : NULL, req->thread_ts);
    if (rv == CHAT_OK && (resp->files = chat_calloc(req->n_files, sizeof *resp->files)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "response");
    for (size_t i = 0; i < req->n_files && rv == CHAT_OK; i++) {
        chat_file *f = NULL;
        rv = chat_file_info(ctx, s, req->files[i]->id, &f);
        if (rv == CHAT_OK && (resp->files[i] = api_file(ctx, f)) == NULL)
            rv = CHAT_ERR_NOMEM;
        if (rv == CHAT_OK)
            resp->n_files = i + 1;
        chat_file_free(f);
    }
    return rv;
}

/* The file as it is now (channels included) into a FileResponse. */
static chat_err file_response(chat_ctx *ctx, const chat_session *s, const char *file_id,
                              Chat__Api__FileResponse *resp)
{
    chat_file *f = NULL;
    chat_err rv = chat_file_info(ctx, s, file_id, &f);
    if (rv == CHAT_OK && (resp->file = api_file(ctx, f)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_file_free(f);
    return rv;
}

chat_err chati_h_files_upload(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    const Chat__Api__FilesUploadRequest *req = (const void *)rq;
    if (req->n_channels > MAX_TARGETS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "too many channels");
    const char *name = req->filename && *req->filename ? req->filename
                       : req->title && *req->title  ? req->title
                                                     : "untitled";
    const char *mimetype = req->mimetype && *req->mimetype &&
                                   strcmp(req->mimetype, "application/octet-stream") != 0
                               ? req->mimetype
                               : NULL;
    if (mimetype == NULL)
        mimetype = guess_mimetype(name);
    if (mimetype == NULL && req->filetype && *req->filetype) {
        char probe[48];
        snprintf(probe, sizeof probe, "x.%s", req->filetype);
        mimetype = guess_mimetype(probe);
    }
    const char *chans[MAX_TARGETS + 1];
    size_t n_chans = targets(NULL, req->channels, req->n_channels, chans,
                             CHATI_ARRAY_LEN(chans));
    chat_file *f = NULL;
    chat_err rv = chat_file_upload(ctx, s, name, req->title, mimetype, req->content.data,
                                   req->content.len, &f);
    if (rv == CHAT_OK)
        rv = share_all(ctx, s, f->id, chans, n_chans, req->initial_comment, req->thread_ts);
    if (rv == CHAT_OK)
        rv = file_response(ctx, s, f->id, (void *)rs);
    chat_file_free(f);
    return rv;
}

chat_err chati_h_files_info(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    const Chat__Api__FilesInfoRequest *req = (const void *)rq;
    return file_response(ctx, s, req->file, (void *)rs);
}

chat_err chati_h_files_list(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    const Chat__Api__FilesListRequest *req = (const void *)rq;
    Chat__Api__FilesListResponse *resp = (void *)rs;
    int count = req->limit > 0 ? req->limit : req->count > 0 ? req->count : FILES_DEFAULT_COUNT;
    bool by_cursor = req->cursor && *req->cursor;
    int page = !by_cursor && req->page > 0 ? req->page : 1;
    if (count > CHAT_MAX_PAGE || page > FILES_MAX_PAGES || req->count < 0 || req->limit < 0 ||
        req->page < 0)
        return chati_fail(CHAT_ERR_INVALID_LIMIT, "count, limit or page out of range");
    /* Slack pages files.list by number; the store by cursor: walk to the page. */
    char *cursor = by_cursor ? chat_strdup(req->cursor) : NULL;
    chat_list *l = NULL;
    chat_err rv = by_cursor && cursor == NULL ? chati_fail(CHAT_ERR_NOMEM, "cursor") : CHAT_OK;
    for (int p = 1; rv == CHAT_OK && p <= page; p++) {
        chat_list_free(l);
        l = NULL;
        rv = chat_file_list(ctx, s, req->channel, req->user, cursor, count, &l);
        chat_free(cursor);
        cursor = NULL;
        if (rv == CHAT_OK && p < page) {
            const char *next = chat_list_next_cursor(l);
            if (next == NULL || *next == '\0') { /* past the end: an empty page */
                chat_list_free(l);
                if ((l = chat_list_new(CHAT_LIST_FILES)) == NULL)
                    rv = chati_fail(CHAT_ERR_NOMEM, "list");
                break;
            }
            if ((cursor = chat_strdup(next)) == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "cursor");
        }
    }
    chat_free(cursor);
    size_t k = rv == CHAT_OK ? chat_list_count(l) : 0;
    if (rv == CHAT_OK && k && (resp->files = chat_calloc(k, sizeof *resp->files)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "response");
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        if ((resp->files[i] = api_file(ctx, chat_list_file(l, i))) == NULL)
            rv = CHAT_ERR_NOMEM;
        else
            resp->n_files = i + 1;
    }
    if (rv == CHAT_OK) {
        const char *next = chat_list_next_cursor(l);
        bool more = next != NULL && *next != '\0';
        resp->paging = (Chat__Api__Paging *)chati_pb_new(&chat__api__paging__descriptor);
        if (resp->paging == NULL || (resp->response_metadata = chati_api_metadata(l)) == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "response");
        } else {
            resp->paging->count = count;
            resp->paging->page = page;
            resp->paging->total = (int64_t)(page - 1) * count + (int64_t)k + (more ? 1 : 0);
            resp->paging->pages = more ? page + 1 : page;
        }
    }
    chat_list_free(l);
    return rv;
}

chat_err chati_h_files_delete(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    CHATI_UNUSED(rs);
    const Chat__Api__FilesDeleteRequest *req = (const void *)rq;
    return chat_file_delete(ctx, s, req->file);
}

chat_err chati_h_files_download(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                                ProtobufCMessage *rs)
{
    const Chat__Api__FilesDownloadRequest *req = (const void *)rq;
    Chat__Api__FilesDownloadResponse *resp = (void *)rs;
    void *data = NULL;
    size_t len = 0;
    chat_file *f = NULL;
    chat_err rv = chat_file_download(ctx, s, req->file, &data, &len, &f);
    if (rv == CHAT_OK && (resp->file = api_file(ctx, f)) == NULL)
        rv = CHAT_ERR_NOMEM;
    if (rv == CHAT_OK) {
        /* chat_malloc'd like every field: the response frees it; no copy. */
        resp->content.data = data;
        resp->content.len = len;
        data = NULL;
    }
    chat_free(data);
    chat_file_free(f);
    return rv;
}

/* ------------------------------------------- files inside messages --- */

void chati_api_fill_files(chat_ctx *ctx, const chat_session *s, Chat__Api__Message *const *msgs,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Chat__Api__Message *m = msgs[i];
        for (size_t j = 0; m && j < m->n_files; j++) {
            Chat__Api__File *old = m->files[j];
            if (old == NULL || old->id == NULL || old->name == NULL || *old->name)
                continue; /* empty or already filled */
            chat_file *f = NULL;
            if (chat_file_info(ctx, s, old->id, &f) == CHAT_OK) {
                Chat__Api__File *full = api_file(ctx, f);
                if (full != NULL) {
                    m->files[j] = full;
                    protobuf_c_message_free_unpacked(&old->base, NULL);
                }
            }
            chat_file_free(f);
        }
    }
    chati_clear_errmsg(); /* a file that cannot be shown is not the call's failure */
}

/* ------------------------------------------------------------- search --- */

#define SEARCH_DEFAULT_COUNT 20
#define SEARCH_MAX_PAGE_NUMBER 100

static chat_err search_files_fill(chat_ctx *ctx, const chat_session *s,
                                  const Chat__Api__SearchMessagesRequest *req,
                                  Chat__Api__SearchFiles **out)
{
    int count = req->count > 0 ? req->count : SEARCH_DEFAULT_COUNT;
    int page = req->page > 0 ? req->page : 1;
    if (count > CHAT_MAX_PAGE || page > SEARCH_MAX_PAGE_NUMBER || req->count < 0 || req->page < 0)
        return chati_fail(CHAT_ERR_INVALID_LIMIT, "count or page out of range");
    chat_list *l = NULL;
    int64_t total = 0;
    chat_err rv = chat_file_search(ctx, s, req->query, count, page, &l, &total);
    if (rv != CHAT_OK)
        return rv;
    Chat__Api__SearchFiles *sf = *out =
        (Chat__Api__SearchFiles *)chati_pb_new(&chat__api__search_files__descriptor);
    size_t k = chat_list_count(l);
    if (sf == NULL ||
        (sf->paging = (Chat__Api__Paging *)chati_pb_new(&chat__api__paging__descriptor)) == NULL ||
        (k && (sf->matches = chat_calloc(k, sizeof *sf->matches)) == NULL))
        rv = chati_fail(CHAT_ERR_NOMEM, "response");
    for (size_t i = 0; rv == CHAT_OK && i < k; i++) {
        if ((sf->matches[i] = api_file(ctx, chat_list_file(l, i))) == NULL)
            rv = CHAT_ERR_NOMEM;
        else
            sf->n_matches = i + 1;
    }
    if (rv == CHAT_OK) {
        sf->total = total;
        sf->paging->count = count;
        sf->paging->page = page;
        sf->paging->total = total;
        sf->paging->pages = (int)((total + count - 1) / count);
    }
    chat_list_free(l);
    return rv;
}

chat_err chati_h_search_files(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                              ProtobufCMessage *rs)
{
    const Chat__Api__SearchMessagesRequest *req = (const void *)rq;
    Chat__Api__SearchFilesResponse *resp = (void *)rs;
    chat_err rv = search_files_fill(ctx, s, req, &resp->files);
    if (rv == CHAT_OK && chati_pb_str(&resp->query, req->query))
        rv = CHAT_ERR_NOMEM;
    return rv;
}

chat_err chati_h_search_all(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs)
{
    const Chat__Api__SearchMessagesRequest *req = (const void *)rq;
    Chat__Api__SearchAllResponse *resp = (void *)rs;
    chat_err rv = chati_search_messages_fill(ctx, s, req, &resp->messages, NULL);
    if (rv == CHAT_OK)
        rv = search_files_fill(ctx, s, req, &resp->files);
    if (rv == CHAT_OK && chati_pb_str(&resp->query, req->query))
        rv = CHAT_ERR_NOMEM;
    return rv;
}
