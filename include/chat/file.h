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
 * mimetype may be NULL. Errors: file_too_large, invalid_name, and the blob
 * store's (service_unavailable while it is unreachable). Checks its arguments
 * as chat_file_upload_begin does, then stores the bytes and only then the
 * file's record, so on failure nothing is left behind. *out (may be NULL) is
 * freed with chat_file_free. */
CHAT_API chat_err chat_file_upload(chat_ctx *ctx, const chat_session *s, const char *name,
                                   const char *title, const char *mimetype, const void *data,
                                   size_t len, chat_file **out);

/* Two-step upload, for clients that send the bytes separately (Slack's
 * files.getUploadURLExternal / files.completeUploadExternal).
 *
 * begin validates name, title and mimetype as chat_file_upload does and checks
 * expected_len against files.max_bytes (file_too_large), then records a
 * pending file: its sha256 is "" and its size expected_len until finished.
 * Only the uploader sees a pending file (chat_file_info); it is never listed,
 * shared or downloaded (file_not_found). *out (may be NULL) is the pending
 * file, freed with chat_file_free.
 *
 * finish stores the bytes (copied) of a pending file and completes its
 * metadata. Only the uploader may finish (others get file_not_found); len must
 * equal the expected length and the file must still be pending, else
 * invalid_arguments (so a second finish fails); file_deleted when it was
 * deleted meanwhile. *out (may be NULL) is the completed file.
 *
 * Thread safety: like every call on a chat_ctx. Of two finishes of one file
 * at once, one completes it and the other gets invalid_arguments. */
CHAT_API chat_err chat_file_upload_begin(chat_ctx *ctx, const chat_session *s,
                                         const char *name, const char *title,
                                         const char *mimetype, size_t expected_len,
                                         chat_file **out);
CHAT_API chat_err chat_file_upload_finish(chat_ctx *ctx, const chat_session *s,
                                          const char *file_id, const void *data, size_t len,
                                          chat_file **out);

/* Renames a file the caller uploaded (pending or not), as Slack's
 * files.completeUploadExternal does with the title it is given; NULL or ""
 * restores the default, the file's name. Errors: file_not_found (not the
 * caller's upload), file_deleted, too_long, invalid_utf8. */
CHAT_API chat_err chat_file_set_title(chat_ctx *ctx, const chat_session *s,
                                      const char *file_id, const char *title);

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

/* search.files: files the caller can see whose name or title has every word
 * of query (ASCII letters in any case), newest first; page (from 1) of count
 * of them in *out (CHAT_LIST_FILES), and in *total how many matched. Looks
 * at the newest 2,000 files the caller can see. no_query for an empty one. */
CHAT_API chat_err chat_file_search(chat_ctx *ctx, const chat_session *s, const char *query,
                                   int count, int page, chat_list **out, int64_t *total);

/* Deletes a file the caller uploaded (admins: any). */
CHAT_API chat_err chat_file_delete(chat_ctx *ctx, const chat_session *s, const char *file_id);

#ifdef __cplusplus
}
#endif
#endif
