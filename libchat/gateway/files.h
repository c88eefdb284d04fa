/*
 * libchat/gateway/files.h - files over HTTP: the upload_url target, the
 * url_private download and the multipart form of files.upload.
 *
 *   POST /upload/<file_id>?ticket=<t>   the bytes of a files.getUploadURLExternal
 *                                       upload, raw or as a multipart form (its
 *                                       first file part); no API token: the
 *                                       ticket authorises. 200 "OK - <len>".
 *   GET  /files/<file_id>/<name>        the bytes, for a token (Authorization:
 *                                       Bearer or ?token=) that may see the file;
 *                                       ?download=1 asks for an attachment.
 *                                       404 {"ok":false,"error":"file_not_found"}
 *                                       for anyone else.
 *
 * The serve functions run on a worker thread and answer the request. Request
 * bodies are read whole by httpd.c; file bytes are passed on without a copy.
 */
#ifndef CHAT_GW_FILES_H
#define CHAT_GW_FILES_H

#include "gw_internal.h"
#include "multipart.h"

/* Room for the other fields of a multipart files.upload besides the file. */
#define GW_UPLOAD_FORM_OVERHEAD ((size_t)1 << 20)

/* files.max_bytes (100 MiB unless configured): the largest file accepted. */
size_t gw_files_max_bytes(const gw *g);

void gw_upload_serve(gw *g, gw_req *req);
void gw_download_serve(gw *g, gw_req *req);

/*
 * files.upload with a multipart body: the query's arguments and the text
 * parts go into args, *file is the file part (NULL when there is none) and
 * mp holds the parts (free with gw_multipart_free; they point into req's
 * body). A file part's name becomes "filename" unless one is given.
 */
chat_err gw_files_upload_args(gw *g, gw_req *req, const char *query, gw_args *args,
                              gw_multipart *mp, const gw_mp_part **file);

/*
 * Calls files.upload (internal method m) as s with args, the file part's
 * bytes (may be NULL: then a text "content" argument is the file) and its
 * Content-Type, and writes the Slack JSON reply into out, like gw_call_json.
 */
chat_err gw_files_upload_call(gw *g, const chati_method *m, const chat_session *s,
                              const gw_args *args, const gw_mp_part *file, chati_buf *out);

#endif
