/*
 * Multipart uploads: initiate (POST ?uploads, carrying the metadata), parts
 * (PUT ?partNumber=N&uploadId=X, each signed with its own SHA-256), complete
 * (POST ?uploadId=X with the parts' ETags), or abort (DELETE ?uploadId=X).
 *
 * Parts go up from a few threads at once, each taking the next part number
 * and its own pooled connection: one stream rarely fills a link to S3. The
 * parts point into the caller's buffer; nothing is copied.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/s3/s3_multipart.h"

#define MAX_PARTS 10000         /* S3's limit */
#define PARALLEL_PARTS 4

typedef struct mpu {
    chati_s3 *s;
    const char *obj;
    const char *data;
    size_t len, part, nparts;
    char enc_id[1600];          /* upload id, encoded for the query string */
    char (*etags)[130];         /* per part */
    atomic_size_t next;         /* next part index to take */
    atomic_bool failed;
    pthread_mutex_t mu;         /* guards rv and detail */
    chat_err rv;
    char detail[512];           /* of the first failure (details are per thread) */
} mpu;

static void fail_once(mpu *m, chat_err rv)
{
    pthread_mutex_lock(&m->mu);
    if (m->rv == CHAT_OK) {
        m->rv = rv;
        snprintf(m->detail, sizeof m->detail, "%s", chati_errmsg());
    }
    pthread_mutex_unlock(&m->mu);
    atomic_store(&m->failed, true);
}

static void *part_worker(void *arg)
{
    chati_thread_name("s3-part");
    mpu *m = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&m->next, 1);
        if (i >= m->nparts || atomic_load(&m->failed))
            break;
        size_t off = i * m->part, n = m->len - off < m->part ? m->len - off : m->part;
        char query[1700];
        snprintf(query, sizeof query, "partNumber=%zu&uploadId=%s", i + 1, m->enc_id);
        chati_s3_req rq = {.method = "PUT", .key = m->obj, .query = query,
                           .body = m->data + off, .body_len = n};
        chati_s3_resp resp;
        chat_err rv = chati_s3_call_ok(m->s, &rq, &resp);
        if (rv == CHAT_OK && resp.etag[0] == '\0')
            rv = chati_fail(CHAT_ERR_STORAGE, "s3: part %zu of %s came back without an ETag",
                            i + 1, m->obj);
        if (rv == CHAT_OK)
            memcpy(m->etags[i], resp.etag, sizeof m->etags[i]);
        chati_s3_resp_free(&resp);
        if (rv != CHAT_OK) {
            fail_once(m, rv);
            break;
        }
    }
    return NULL;
}

/* Starts the upload; fills m->enc_id. */
static chat_err initiate(mpu *m, const char *sha256)
{
    chati_sigv4_header meta = {"x-amz-meta-sha256", sha256};
    chati_s3_req rq = {.method = "POST", .key = m->obj, .query = "uploads=", .extra = &meta,
                       .n_extra = 1};
    chati_s3_resp resp;
    char id[512];
    chat_err rv = chati_s3_call_ok(m->s, &rq, &resp);
    chati_s3_xml_text(resp.body.data, "UploadId", id, sizeof id);
    chati_s3_resp_free(&resp);
    if (rv == CHAT_OK && id[0] == '\0')
        rv = chati_fail(CHAT_ERR_STORAGE, "s3: POST %s?uploads: no UploadId in the answer",
                        m->obj);
    chati_buf b = {0};
    if (rv == CHAT_OK && (rv = chati_sigv4_encode(&b, id, strlen(id), false)) == CHAT_OK)
        snprintf(m->enc_id, sizeof m->enc_id, "%s", b.data);
    chati_buf_free(&b);
    return rv;
}

static chat_err complete(mpu *m, const char *query)
{
    chati_buf xml = {0};
    chat_err rv = chati_buf_puts(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; rv == CHAT_OK && i < m->nparts; i++)
        rv = chati_buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
                              i + 1, m->etags[i]);
    if (rv == CHAT_OK)
        rv = chati_buf_puts(&xml, "</CompleteMultipartUpload>");
    if (rv == CHAT_OK) {
        chati_s3_req rq = {.method = "POST", .key = m->obj, .query = query, .body = xml.data,
                           .body_len = xml.len};
        chati_s3_resp resp;
        rv = chati_s3_call_ok(m->s, &rq, &resp);
        /* S3 may answer 200 and still report a failure in the body. */
        if (rv == CHAT_OK && resp.body.data && strstr(resp.body.data, "<Error>") != NULL) {
            resp.status = 500;
            rv = chati_s3_fail(m->s, &rq, &resp);
        }
        chati_s3_resp_free(&resp);
    }
    chati_buf_free(&xml);
    return rv;
}

chat_err chati_s3_put_multipart(chati_s3 *s, const char *obj, const char *data, size_t len,
                                const char *sha256)
{
    size_t part = chati_s3_conf_of(s)->part_size;
    size_t nparts = (len + part - 1) / part;
    if (nparts > MAX_PARTS)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "s3: %zu bytes need more than %d parts of %zu bytes", len, MAX_PARTS,
                          part);
    mpu *m = chat_calloc(1, sizeof *m);
    if (m == NULL || (m->etags = chat_calloc(nparts, sizeof *m->etags)) == NULL) {
        chat_free(m);
        return chati_fail(CHAT_ERR_NOMEM, "s3: multipart upload of %zu parts", nparts);
    }
    m->s = s;
    m->obj = obj;
    m->data = data;
    m->len = len;
    m->part = part;
    m->nparts = nparts;
    atomic_init(&m->next, 0);
    atomic_init(&m->failed, false);
    pthread_mutex_init(&m->mu, NULL);

    chat_err rv = initiate(m, sha256);
    if (rv == CHAT_OK) {
        /* This thread uploads too; helpers that cannot start are not needed. */
        pthread_t helpers[PARALLEL_PARTS - 1];
        size_t want = nparts < PARALLEL_PARTS ? nparts - 1 : PARALLEL_PARTS - 1, started = 0;
        while (started < want && pthread_create(&helpers[started], NULL, part_worker, m) == 0)
            started++;
        part_worker(m);
        for (size_t i = 0; i < started; i++)
            pthread_join(helpers[i], NULL);
        if (m->rv != CHAT_OK)
            rv = chati_fail(m->rv, "%s", m->detail);
    }
    char query[1700];
    snprintf(query, sizeof query, "uploadId=%s", m->enc_id);
    if (rv == CHAT_OK)
        rv = complete(m, query);
    if (rv != CHAT_OK && m->enc_id[0]) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", chati_errmsg());
        chati_s3_req rq = {.method = "DELETE", .key = obj, .query = query};
        chati_s3_resp resp;
        (void)chati_s3_call(s, &rq, &resp);
        chati_s3_resp_free(&resp);
        rv = chati_fail(rv, "%s (multipart upload aborted)", detail);
    }
    pthread_mutex_destroy(&m->mu);
    chat_free(m->etags);
    chat_free(m);
    return rv;
}
