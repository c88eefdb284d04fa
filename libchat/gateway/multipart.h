/*
 * libchat/gateway/multipart.h - a strict multipart/form-data reader (RFC 7578
 * over RFC 2046), for files.upload and for upload_url bodies sent as forms.
 *
 * The whole body is in memory (nng collects it). Parsing copies nothing but
 * each part's field name, file name and content type (one allocation per
 * part); a part's data points into the body, so the body must outlive the
 * result.
 *
 * Strictness: the boundary comes from the Content-Type (1-70 characters, RFC
 * 2046's set, quoted or not); lines end in CRLF; the body must hold at least
 * one part and end with the close delimiter ("--boundary--"); each part needs
 * a Content-Disposition of form-data with a name. A preamble before the first
 * delimiter and an epilogue after the last are ignored, as RFC 2046 says.
 * Anything else is CHAT_ERR_INVALID_FORM_DATA, with the detail naming it.
 *
 * Thread safety: reentrant; a gw_multipart is used by one thread at a time.
 */
#ifndef CHAT_GW_MULTIPART_H
#define CHAT_GW_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "core/internal.h"

/* Limits: parts per body, bytes of one part's header block, bytes of a field
 * or file name. */
#define GW_MP_MAX_PARTS 64
#define GW_MP_MAX_HEADER 8192
#define GW_MP_MAX_NAME 1024

typedef struct gw_mp_part {
    char *name;                 /* the form field name (NUL-terminated) */
    char *filename;             /* the file name, NULL when not a file part */
    char *content_type;         /* the part's Content-Type, NULL when absent */
    const char *data;           /* the content, inside the body: not a copy */
    size_t len;
} gw_mp_part;

typedef struct gw_multipart {
    gw_mp_part *parts;
    size_t n;
} gw_multipart;

/* Whether a Content-Type header says multipart/form-data. */
bool gw_is_multipart(const char *content_type);

/*
 * Parses body[0..len) as multipart/form-data with the boundary named in
 * content_type. On success *out holds the parts in body order (free with
 * gw_multipart_free); on failure *out is empty.
 */
chat_err gw_multipart_parse(const char *body, size_t len, const char *content_type,
                            gw_multipart *out);

/* The first part with a file name, else the first part named "file", else
 * NULL: where a client put the file. */
const gw_mp_part *gw_multipart_file(const gw_multipart *m);

/* Frees the parts; m is left empty. NULL is a no-op. */
void gw_multipart_free(gw_multipart *m);

#endif
