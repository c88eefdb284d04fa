/* Files: bytes in the blob store under the file id, metadata with messages. */
#include <stdio.h>
#include <string.h>

#include "domain/ctx.h"
#include "domain/message_internal.h"

#define MAX_FILE_NAME_CHARS 255
#define MAX_MIMETYPE 100
#define DEFAULT_MIMETYPE "application/octet-stream"

#define FILE_COMMON(ctx, s)                                                              \
    do {                                                                                 \
        chati_clear_errmsg();                                                            \
        CHATI_REQUIRE(ctx, messages, "message");                                         \
        CHATI_REQUIRE(ctx, blob, "file");                                                \
        chat_err rv_ = chati_check_session(s);                                           \
        if (rv_ != CHAT_OK)                                                              \
            return rv_;                                                                  \
    } while (0)

static chat_err check_mimetype(const char *t)
{
    if (t == NULL || *t == '\0')
        return CHAT_OK;
    if (strlen(t) > MAX_MIMETYPE || strchr(t, '/') == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "not a media type");
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "not a media type");
    return CHAT_OK;
}

/* A pending file's sha256 is "" until its bytes are stored. */
static bool is_pending(const chat_file *f)
{
    return f->sha256[0] == '\0';
}

/* Validates an upload's name, title, mimetype and size and makes its metadata
 * under a fresh id, pending (sha256 ""), not yet stored anywhere. */
static chat_err new_file(chat_ctx *ctx, const chat_session *s, const char *name,
                         const char *title, const char *mimetype, size_t len, chat_file **out)
{
    *out = NULL;
    if (name == NULL || *name == '\0')
        return chati_fail(CHAT_ERR_INVALID_NAME, "a file needs a name");
    chat_err rv;
    if ((rv = chati_check_text(name, MAX_FILE_NAME_CHARS, CHAT_ERR_INVALID_NAME, "name")) ||
        (rv = chati_check_text(title, MAX_FILE_NAME_CHARS, CHAT_ERR_TOO_LONG, "title")) ||
        (rv = check_mimetype(mimetype)))
        return rv;
    if (len > (uint64_t)ctx->files_max_bytes)
        return chati_fail(CHAT_ERR_FILE_TOO_LARGE, "files are at most %lld bytes",
                          (long long)ctx->files_max_bytes);
    chat_file *f = chat_file_new();
    if (f == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "file");
    rv = chati_id_new('F', f->id);
    if (rv == CHAT_OK) {
        memcpy(f->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(f->user, s->user_id, CHAT_ID_SIZE);
        f->name = chat_strdup(name);
        f->title = chat_strdup(title && *title ? title : name);
        f->mimetype = chat_strdup(mimetype && *mimetype ? mimetype : DEFAULT_MIMETYPE);
        f->size = (int64_t)len;
        f->sha256[0] = '\0';
        f->created = chati_now_us() / 1000000;
        if (!f->name || !f->title || !f->mimetype)
            rv = chati_fail(CHAT_ERR_NOMEM, "file");
    }
    if (rv == CHAT_OK)
        *out = f;
    else
        chat_file_free(f);
    return rv;
}

chat_err chat_file_upload_begin(chat_ctx *ctx, const chat_session *s, const char *name,
                                const char *title, const char *mimetype, size_t expected_len,
                                chat_file **out)
{
    FILE_COMMON(ctx, s);
    if (out)
        *out = NULL;
    if (!CHATI_HAS(ctx->messages, file_complete, CHAT_STORE_V1))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "the message store cannot take uploads");
    chat_file *f = NULL;
    chat_err rv = new_file(ctx, s, name, title, mimetype, expected_len, &f);
    if (rv == CHAT_OK)
        rv = ctx->messages->file_insert(ctx->messages_impl, f);
    if (rv == CHAT_OK && out)
        *out = f;
    else
        chat_file_free(f);
    return rv;
}

chat_err chat_file_upload_finish(chat_ctx *ctx, const chat_session *s, const char *file_id,
                                 const void *data, size_t len, chat_file **out)
{
    FILE_COMMON(ctx, s);
    if (out)
        *out = NULL;
    if (!CHATI_HAS(ctx->messages, file_complete, CHAT_STORE_V1))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "the message store cannot take uploads");
    if (data == NULL && len > 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no data");
    if (!chati_id_valid(file_id, 'F'))
        return chati_fail(CHAT_ERR_FILE_NOT_FOUND, "not a file id");
    chat_file *f = NULL;
    chat_err rv = ctx->messages->file_get(ctx->messages_impl, file_id, &f);
    if (chati_not_found(rv))
        return chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    if (rv != CHAT_OK)
        return rv;
    if (strcmp(f->team_id, s->team_id) != 0 || strcmp(f->user, s->user_id) != 0)
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    else if (f->deleted)
        rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s was deleted", file_id);
    else if (!is_pending(f))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "the bytes of %s were already uploaded",
                        file_id);
    else if ((int64_t)len != f->size)
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "expected %lld bytes, got %zu",
                        (long long)f->size, len);
    /* Metadata first: completing is the atomic claim, so of two racing
     * finishes only the winner writes bytes, and the stored bytes always
     * match the checksum. Until the put lands a download finds no bytes
     * (file_not_found), never wrong ones. */
    char sum[65];
    if (rv == CHAT_OK) {
        chati_sha256_hex(data ? data : "", len, sum);
        rv = ctx->messages->file_complete(ctx->messages_impl, f->id, (int64_t)len, sum);
        if (rv == CHAT_ERR_DUPLICATE)
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "the bytes of %s were already uploaded",
                            file_id);
        else if (rv == CHAT_ERR_FILE_DELETED)
            rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s was deleted", file_id);
    }
    if (rv == CHAT_OK) {
        rv = ctx->blob->put(ctx->blob_impl, f->id, data ? data : "", len, NULL);
        if (rv != CHAT_OK) {
            /* The metadata now promises bytes that are not there: retire the
             * file so that nobody shares it; the client starts over. */
            char detail[256];
            snprintf(detail, sizeof detail, "%s", chati_errmsg());
            (void)ctx->messages->file_delete(ctx->messages_impl, f->id);
            rv = chati_fail(rv, "%s", detail);
        }
    }
    if (rv == CHAT_OK) {
        memcpy(f->sha256, sum, sizeof f->sha256);
        if (out) {
            *out = f;
            f = NULL;
        }
    }
    chat_file_free(f);
    return rv;
}

chat_err chat_file_upload(chat_ctx *ctx, const chat_session *s, const char *name,
                          const char *title, const char *mimetype, const void *data, size_t len,
                          chat_file **out)
{
    FILE_COMMON(ctx, s);
    if (out)
        *out = NULL;
    if (data == NULL && len > 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no data");
    chat_file *f = NULL;
    chat_err rv = new_file(ctx, s, name, title, mimetype, len, &f);
    if (rv != CHAT_OK)
        return rv;
    /* Bytes first, then the record: the id is new and known to nobody, so
     * nothing can race for it, and a failed put (blob store down) leaves no
     * record at all, not even a retired one. (The two-step upload records
     * first because its client holds the id in between.) */
    chati_sha256_hex(data ? data : "", len, f->sha256);
    rv = ctx->blob->put(ctx->blob_impl, f->id, data ? data : "", len, NULL);
    if (rv == CHAT_OK) {
        rv = ctx->messages->file_insert(ctx->messages_impl, f);
        if (rv != CHAT_OK) {
            /* No record points at the bytes: drop them (best effort). */
            char detail[256];
            snprintf(detail, sizeof detail, "%s", chati_errmsg());
            (void)ctx->blob->remove(ctx->blob_impl, f->id);
            rv = chati_fail(rv, "%s", detail);
        }
    }
    if (rv == CHAT_OK && out) {
        *out = f;
        f = NULL;
    }
    chat_file_free(f);
    return rv;
}

chat_err chat_file_set_title(chat_ctx *ctx, const chat_session *s, const char *file_id,
                             const char *title)
{
    FILE_COMMON(ctx, s);
    if (!CHATI_HAS(ctx->messages, file_set_title, CHAT_STORE_V1))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "the message store cannot rename files");
    chat_err rv = chati_check_text(title, MAX_FILE_NAME_CHARS, CHAT_ERR_TOO_LONG, "title");
    if (rv != CHAT_OK)
        return rv;
    if (!chati_id_valid(file_id, 'F'))
        return chati_fail(CHAT_ERR_FILE_NOT_FOUND, "not a file id");
    chat_file *f = NULL;
    rv = ctx->messages->file_get(ctx->messages_impl, file_id, &f);
    if (chati_not_found(rv))
        return chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    if (rv != CHAT_OK)
        return rv;
    if (strcmp(f->team_id, s->team_id) != 0 || strcmp(f->user, s->user_id) != 0)
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    else if (f->deleted)
        rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s was deleted", file_id);
    else
        rv = ctx->messages->file_set_title(ctx->messages_impl, f->id,
                                           title && *title ? title : f->name ? f->name : "");
    chat_file_free(f);
    return rv;
}

/* The file if the caller uploaded it or can see a channel it is shared in. */
static chat_err visible_file(chat_ctx *ctx, const chat_session *s, const char *file_id,
                             chat_file **out)
{
    if (!chati_id_valid(file_id, 'F'))
        return chati_fail(CHAT_ERR_FILE_NOT_FOUND, "not a file id");
    chat_file *f = NULL;
    chat_err rv = ctx->messages->file_get(ctx->messages_impl, file_id, &f);
    if (chati_not_found(rv))
        return chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    if (rv != CHAT_OK)
        return rv;
    bool visible = strcmp(f->team_id, s->team_id) == 0 && strcmp(f->user, s->user_id) == 0;
    for (size_t i = 0; !visible && !is_pending(f) && i < f->n_channels; i++) {
        chat_channel *c = NULL;
        if (chati_channel_visible(ctx, s, f->channels[i], &c, NULL) == CHAT_OK)
            visible = true;
        chat_channel_free(c);
    }
    if (!visible)
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    else if (f->deleted)
        rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s was deleted", file_id);
    if (rv != CHAT_OK) {
        chat_file_free(f);
        return rv;
    }
    *out = f;
    return CHAT_OK;
}

chat_err chat_file_share(chat_ctx *ctx, const chat_session *s, const char *file_id,
                         const char *channel_id, const char *text, const char *thread_ts,
                         chat_message **out)
{
    FILE_COMMON(ctx, s);
    if (out)
        *out = NULL;
    chat_file *f = NULL;
    chat_err rv = visible_file(ctx, s, file_id, &f);
    if (rv == CHAT_OK && is_pending(f))
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "the bytes of %s were not uploaded", f->id);
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1, .thread_ts = thread_ts};
    if (rv == CHAT_OK)
        rv = chati_message_post(ctx, s, channel_id, text, &o, f->id, out);
    chat_file_free(f);
    return rv;
}

chat_err chat_file_info(chat_ctx *ctx, const chat_session *s, const char *file_id,
                        chat_file **out)
{
    FILE_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    return visible_file(ctx, s, file_id, out);
}

chat_err chat_file_download(chat_ctx *ctx, const chat_session *s, const char *file_id,
                            void **data, size_t *len, chat_file **info_out)
{
    FILE_COMMON(ctx, s);
    if (data == NULL || len == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "data and len are required");
    *data = NULL;
    *len = 0;
    if (info_out)
        *info_out = NULL;
    chat_file *f = NULL;
    chat_err rv = visible_file(ctx, s, file_id, &f);
    void *bytes = NULL;
    size_t n = 0;
    if (rv == CHAT_OK && is_pending(f))
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "the bytes of %s were not uploaded", f->id);
    if (rv == CHAT_OK) {
        rv = ctx->blob->get(ctx->blob_impl, f->id, &bytes, &n);
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "the bytes of %s are gone", f->id);
    }
    if (rv == CHAT_OK) {
        char sum[65];
        chati_sha256_hex(bytes, n, sum);
        if ((int64_t)n != f->size || strcmp(sum, f->sha256) != 0)
            rv = chati_fail(CHAT_ERR_CHECKSUM_MISMATCH, "stored bytes of %s are damaged", f->id);
    }
    if (rv == CHAT_OK) {
        *data = bytes;
        *len = n;
        bytes = NULL;
        if (info_out) {
            *info_out = f;
            f = NULL;
        }
    }
    chat_free(bytes);
    chat_file_free(f);
    return rv;
}

chat_err chat_file_list(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                        const char *user_id, const char *cursor, int limit, chat_list **out)
{
    FILE_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv != CHAT_OK)
        return rv;
    if (channel_id && *channel_id) {
        chat_channel *c = NULL;
        if ((rv = chati_channel_visible(ctx, s, channel_id, &c, NULL)) != CHAT_OK)
            return rv;
        chat_channel_free(c);
    }
    if (user_id && *user_id && !chati_id_valid(user_id, 'U'))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    char(*ids)[CHAT_ID_SIZE] = NULL;
    size_t n = 0;
    rv = chati_readable_channels(ctx, s, &ids, &n);
    if (rv == CHAT_OK)
        rv = ctx->messages->file_list(ctx->messages_impl, s->team_id,
                                      channel_id && *channel_id ? channel_id : NULL,
                                      user_id && *user_id ? user_id : NULL, s->user_id,
                                      (const char(*)[CHAT_ID_SIZE])ids, n,
                                      cursor && *cursor ? cursor : NULL, limit, out);
    chat_free(ids);
    return rv;
}

chat_err chat_file_delete(chat_ctx *ctx, const chat_session *s, const char *file_id)
{
    FILE_COMMON(ctx, s);
    chat_file *f = NULL;
    chat_err rv = visible_file(ctx, s, file_id, &f);
    if (rv != CHAT_OK)
        return rv;
    if (strcmp(f->user, s->user_id) != 0 && !s->is_admin)
        rv = chati_fail(CHAT_ERR_CANT_DELETE_FILE, "only the uploader or an admin deletes");
    if (rv == CHAT_OK)
        rv = ctx->messages->file_delete(ctx->messages_impl, f->id);
    if (rv == CHAT_OK) {
        /* Metadata says deleted first; the bytes can go after. */
        (void)ctx->blob->remove(ctx->blob_impl, f->id);
        chat_event *ev = chati_event_new(CHAT_EVENT_FILE_DELETED);
        if (ev) {
            memcpy(ev->team_id, s->team_id, CHAT_ID_SIZE);
            memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
            memcpy(ev->file_id, f->id, CHAT_ID_SIZE);
            chati_publish(ctx, ev);
            chati_event_free(ev);
        }
    }
    chat_file_free(f);
    return rv;
}

/* ------------------------------------------------------------- search --- */

#define SEARCH_SCAN 2000 /* files looked at, newest first */
#define SEARCH_PAGE 200

/* Whether every word of query is in the file's name or title (ASCII letters
 * in any case). */
static bool file_matches(const chat_file *f, const char *query)
{
    char word[256];
    for (const char *p = query; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1), p);
        p += n;
        if (!(f->name && strcasestr(f->name, word)) && !(f->title && strcasestr(f->title, word)))
            return false;
    }
    return true;
}

chat_err chat_file_search(chat_ctx *ctx, const chat_session *s, const char *query, int count,
                          int page, chat_list **out, int64_t *total)
{
    chati_clear_errmsg();
    if (out == NULL || total == NULL || count <= 0 || page <= 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out, total, count and page");
    *out = NULL;
    *total = 0;
    if (query == NULL || strspn(query, " ") == strlen(query))
        return chati_fail(CHAT_ERR_NO_QUERY, "the query is empty");
    chat_err rv = chati_check_text(query, 1000, CHAT_ERR_INVALID_ARGUMENTS, "query");
    chat_list *found = rv == CHAT_OK ? chat_list_new(CHAT_LIST_FILES) : NULL;
    if (rv == CHAT_OK && found == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "files");
    int64_t first = (int64_t)(page - 1) * count, matched = 0;
    char *cursor = NULL;
    for (int scanned = 0; rv == CHAT_OK && scanned < SEARCH_SCAN; scanned += SEARCH_PAGE) {
        chat_list *l = NULL;
        rv = chat_file_list(ctx, s, NULL, NULL, cursor, SEARCH_PAGE, &l);
        chat_free(cursor);
        cursor = NULL;
        /* A match on the page is taken out of l (the rest move up). */
        for (size_t i = 0; rv == CHAT_OK && i < chat_list_count(l);) {
            if (!file_matches(chat_list_file(l, i), query)) {
                i++;
                continue;
            }
            if (matched >= first && matched < first + count) {
                chat_file *f = chat_list_take(l, i);
                if ((rv = chat_list_push(found, f)) != CHAT_OK)
                    chat_file_free(f);
            } else {
                i++;
            }
            matched++;
        }
        const char *next = rv == CHAT_OK ? chat_list_next_cursor(l) : NULL;
        if (next && *next && (cursor = chat_strdup(next)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "cursor");
        chat_list_free(l);
        if (cursor == NULL)
            break;
    }
    chat_free(cursor);
    if (rv != CHAT_OK) {
        chat_list_free(found);
        return rv;
    }
    *out = found;
    *total = matched;
    return CHAT_OK;
}
