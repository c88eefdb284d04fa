/*
 * backends/s3/s3_multipart.h - large uploads as S3 multipart uploads.
 */
#ifndef CHATI_S3_MULTIPART_H
#define CHATI_S3_MULTIPART_H

#include "backends/s3/s3_client.h"

/* Stores len bytes under object name obj in parts of the store's part_size,
 * up to 4 parts in flight at once, with sha256 (hex of all of data) as the
 * object's x-amz-meta-sha256. The object appears whole when S3 completes the
 * upload, or not at all: on any failure the upload is aborted (best effort:
 * an abort that cannot reach the server leaves parts for S3's lifecycle
 * rules) and the detail ends in "(multipart upload aborted)". data is not
 * copied. */
chat_err chati_s3_put_multipart(chati_s3 *s, const char *obj, const char *data, size_t len,
                                const char *sha256);

#endif
