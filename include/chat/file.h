/*
 * chat/file.h - files: upload, share, download.
 *
 * A file's bytes live in the blob store under its id; its metadata (name,
 * title, type, size, SHA-256, uploader, channels shared in) lives with the
 * messages. Downloading requires that the caller uploaded the file or can see a
 * channel it was shared in. Returned handles are owned by the caller.
 */
#ifndef CHAT_FILE_H
#define CHAT_FILE_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

CHAT_API const char *chat_file_id(const chat_file *f);
CHAT_API const char *chat_file_user(const chat_file *f);
CHAT_API const char *chat_file_name(const chat_file *f);
CHAT_API const char *chat_file_title(const chat_file *f);
CHAT_API const char *chat_file_mimetype(const chat_file *f);
CHAT_API int64_t chat_file_size(const chat_file *f);
CHAT_API const char *chat_file_sha256(const chat_file *f);
CHAT_API int64_t chat_file_created(const chat_file *f);
CHAT_API size_t chat_file_channel_count(const chat_file *f);
CHAT_API const char *chat_file_channel(const chat_file *f, size_t i);
CHAT_API void chat_file_free(chat_file *f);

/* Stores len bytes (copied) as a new file, not yet shared anywhere. title and
 * mimetype may be NULL. Errors: file_too_large, invalid_name. */
CHAT_API chat_err chat_file_upload(chat_ctx *ctx, const chat_session *s, const char *name,
                                   const char *title, const char *mimetype, const void *data,
                                   size_t len, chat_file **out);

/* Shares a file the caller can see into a channel as a message with an
 * optional comment (text may be NULL) and thread. *out may be NULL. */
CHAT_API chat_err chat_file_share(chat_ctx *ctx, const chat_session *s, const char *file_id,
                                  const char *channel_id, const char *text,
                                  const char *thread_ts, chat_message **out);

CHAT_API chat_err chat_file_info(chat_ctx *ctx, const chat_session *s, const char *file_id,
                                 chat_file **out);

/* The file's bytes, checked against its SHA-256. *data is freed with chat_free. */
CHAT_API chat_err chat_file_download(chat_ctx *ctx, const chat_session *s,
                                     const char *file_id, void **data, size_t *len,
                                     chat_file **info_out);

/* files.list: files the caller can see, newest first, optionally only those in
 * channel_id and/or by user_id (either may be NULL). CHAT_LIST_FILES. */
CHAT_API chat_err chat_file_list(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                 const char *user_id, const char *cursor, int limit,
                                 chat_list **out);

/* Deletes a file the caller uploaded (admins: any). */
CHAT_API chat_err chat_file_delete(chat_ctx *ctx, const chat_session *s, const char *file_id);

#ifdef __cplusplus
}
#endif
#endif
