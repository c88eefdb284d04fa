/*
 * Failure tests of the S3 blob store against a real S3 server (S3Proxy).
 *
 * Run as: s3.sh exec THIS FIXTURE {s3_dir} {s3_endpoint}, with
 * CHAT_TEST_S3_BACKEND=filesystem so that objects survive a server restart,
 * and CHAT_TEST_S3_MAX_REQUEST=6291456 so that bodies above 6 MiB are refused.
 * argv[1] is tests/fixtures/s3.sh (to stop and restart the server in
 * argv[2]), argv[3] the server's endpoint.
 *
 *  - a request signed with a wrong secret (or an unknown access key) is
 *    refused by the server and reported as invalid_config naming S3's error;
 *    nothing is written;
 *  - a body that does not match its signed SHA-256 is refused;
 *  - bytes that do not match the x-amz-meta-sha256 stored with them are
 *    reported as checksum_mismatch on read;
 *  - a multipart upload whose part is refused is aborted: no object and no
 *    unfinished upload stay behind;
 *  - a hung server (SIGSTOP): calls give up after timeout_ms with
 *    service_unavailable instead of hanging, and work again once it resumes;
 *  - the server stopped: uploads through the domain API (chat_file_upload,
 *    single-part and multipart) fail quickly with service_unavailable, and the
 *    message store keeps no file record for them (a two-step upload's record,
 *    whose id the client holds, is retired: never listed or downloadable);
 *    after a restart the same uploads succeed and read back intact.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/blob.h>
#include <sqlite3.h>

#include "backends/builtin.h"
#include "backends/s3/s3_client.h"
#include "core/internal.h"
#include "fixture.h"
#include "testutil.h"

static const char *fixture, *server_dir, *endpoint;

#define BUCKET_URL "s3://%s@chat-fail?endpoint=%s&create_bucket=1&timeout_ms=2000%s"

/* Runs a shell command; its status (0 = fine). */
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return st;
}

static void url_with(char *buf, size_t n, const char *creds, const char *extra)
{
    snprintf(buf, n, BUCKET_URL, creds, endpoint, extra);
}

static void server_stop(void)
{
    ck_assert_int_eq(sh("bash '%s' stop '%s' >/dev/null", fixture, server_dir), 0);
}

static void server_restart(void)
{
    ck_assert_int_eq(sh("bash '%s' restart '%s' >/dev/null", fixture, server_dir), 0);
}

/* Each test starts with a running server, whatever the one before did. */
static void ensure_server(void)
{
    if (sh("test \"$(curl -s -o /dev/null -m 2 -w '%%{http_code}' '%s/')\" = 403", endpoint) != 0)
        server_restart();
}

static const chat_blob_ops *blob_ops(void)
{
    chati_backends_register_builtin(); /* no chat_open here to add them */
    const chat_blob_ops *ops = chati_backend_find(CHATI_IFACE_BLOB, "s3://x");
    ck_assert_ptr_nonnull(ops);
    return ops;
}

START_TEST(test_wrong_secret_is_refused)
{
    ensure_server();
    const chat_blob_ops *S = blob_ops();
    char url[512];
    void *impl = NULL;

    /* open lists the bucket, signed: the server must refuse the signature. */
    url_with(url, sizeof url, "chatkey:not-the-secret", "");
    ck_assert_chat_err(S->open(url, NULL, &impl), CHAT_ERR_INVALID_CONFIG);
    ck_assert_ptr_null(impl);
    fprintf(stderr, "wrong secret: %s\n", chati_errmsg());
    ck_assert_msg(strstr(chati_errmsg(), "SignatureDoesNotMatch") != NULL &&
                      strstr(chati_errmsg(), "wrong secret key") != NULL,
                  "unclear error: %s", chati_errmsg());

    url_with(url, sizeof url, "nobody:chatsecret", "");
    ck_assert_chat_err(S->open(url, NULL, &impl), CHAT_ERR_INVALID_CONFIG);
    ck_assert_msg(strstr(chati_errmsg(), "InvalidAccessKeyId") != NULL, "unclear error: %s",
                  chati_errmsg());

    /* A PUT signed with the wrong secret writes nothing. */
    chati_s3 *bad = NULL;
    ck_assert_chat_ok(chati_s3_new(url, NULL, &bad)); /* no request yet */
    chati_s3_free(bad);
    url_with(url, sizeof url, "chatkey:not-the-secret", "");
    ck_assert_chat_ok(chati_s3_new(url, NULL, &bad));
    chati_s3_req rq = {.method = "PUT", .key = "forged", .query = "", .body = "evil",
                       .body_len = 4};
    chati_s3_resp resp;
    ck_assert_chat_ok(chati_s3_call(bad, &rq, &resp));
    ck_assert_int_eq(resp.status, 403);
    ck_assert_chat_err(chati_s3_fail(bad, &rq, &resp), CHAT_ERR_INVALID_CONFIG);
    ck_assert_msg(strstr(chati_errmsg(), "SignatureDoesNotMatch") != NULL, "unclear error: %s",
                  chati_errmsg());
    chati_s3_resp_free(&resp);
    chati_s3_free(bad);

    url_with(url, sizeof url, "chatkey:chatsecret", "");
    ck_assert_chat_ok(S->open(url, NULL, &impl));
    int64_t size;
    ck_assert_chat_err(S->stat(impl, "forged", &size), CHAT_ERR_NOT_FOUND);
    S->close(impl);
}
END_TEST

START_TEST(test_body_must_match_its_signed_hash)
{
    ensure_server();
    char url[512];
    url_with(url, sizeof url, "chatkey:chatsecret", "");
    void *impl = NULL;
    ck_assert_chat_ok(blob_ops()->open(url, NULL, &impl));
    chati_s3 *s = NULL;
    ck_assert_chat_ok(chati_s3_new(url, NULL, &s));
    char other[65];
    chati_sha256_hex("good", 4, other);
    /* Correctly signed, but the body is not the one whose hash was signed. */
    chati_s3_req rq = {.method = "PUT", .key = "tampered", .query = "", .body = "evil",
                       .body_len = 4, .body_sha256 = other};
    chati_s3_resp resp;
    ck_assert_chat_ok(chati_s3_call(s, &rq, &resp));
    ck_assert_msg(resp.status >= 400, "server took a body that does not match its hash (%ld)",
                  resp.status);
    chati_s3_resp_free(&resp);
    chati_s3_free(s);
    int64_t size;
    ck_assert_chat_err(blob_ops()->stat(impl, "tampered", &size), CHAT_ERR_NOT_FOUND);
    blob_ops()->close(impl);
}
END_TEST

/* Whether the bucket lists an unfinished multipart upload of key. */
static bool upload_pending(chati_s3 *s, const char *key)
{
    chati_s3_req rq = {.method = "GET", .query = "uploads="};
    chati_s3_resp resp;
    ck_assert_chat_ok(chati_s3_call(s, &rq, &resp));
    ck_assert_int_eq(resp.status, 200);
    char want[256];
    snprintf(want, sizeof want, "<Key>%s</Key>", key);
    bool found = resp.body.data && strstr(resp.body.data, want) != NULL;
    chati_s3_resp_free(&resp);
    return found;
}

START_TEST(test_failed_multipart_is_aborted)
{
    ensure_server();
    char url[512];
    /* 8 MiB parts: the server refuses each (its limit is 6 MiB). */
    url_with(url, sizeof url, "chatkey:chatsecret", "&part_size=8388608");
    const chat_blob_ops *S = blob_ops();
    void *impl = NULL;
    ck_assert_chat_ok(S->open(url, NULL, &impl));
    chati_s3 *raw = NULL;
    ck_assert_chat_ok(chati_s3_new(url, NULL, &raw));

    /* The listing does show an upload that nobody finished or aborted. */
    chati_s3_req init = {.method = "POST", .key = "probe", .query = "uploads="};
    chati_s3_resp resp;
    ck_assert_chat_ok(chati_s3_call(raw, &init, &resp));
    ck_assert_int_eq(resp.status, 200);
    char id[512], query[700];
    chati_s3_xml_text(resp.body.data, "UploadId", id, sizeof id);
    chati_s3_resp_free(&resp);
    ck_assert(upload_pending(raw, "probe"));
    chati_buf enc = {0};
    ck_assert_chat_ok(chati_sigv4_encode(&enc, id, strlen(id), false));
    snprintf(query, sizeof query, "uploadId=%s", enc.data);
    chati_buf_free(&enc);
    chati_s3_req abort_rq = {.method = "DELETE", .key = "probe", .query = query};
    ck_assert_chat_ok(chati_s3_call(raw, &abort_rq, &resp));
    chati_s3_resp_free(&resp);
    ck_assert(!upload_pending(raw, "probe"));

    size_t n = 12u << 20;
    char *big = calloc(1, n);
    ck_assert_ptr_nonnull(big);
    chat_err rv = S->put(impl, "refused.bin", big, n, NULL);
    fprintf(stderr, "refused part: %s\n", chati_errmsg());
    ck_assert_msg(rv == CHAT_ERR_STORAGE || rv == CHAT_ERR_INVALID_ARGUMENTS,
                  "refused part gave %s", chat_strerror(rv));
    ck_assert(strstr(chati_errmsg(), "multipart upload aborted") != NULL);
    ck_assert(!upload_pending(raw, "refused.bin"));
    int64_t size;
    ck_assert_chat_err(S->stat(impl, "refused.bin", &size), CHAT_ERR_NOT_FOUND);

    /* A refused single PUT (7 MiB < one part) leaves nothing either. */
    ck_assert_int_ne(S->put(impl, "refused-single.bin", big, 7u << 20, NULL), CHAT_OK);
    fprintf(stderr, "refused single put: %s\n", chati_errmsg());
    ck_assert_chat_err(S->stat(impl, "refused-single.bin", &size), CHAT_ERR_NOT_FOUND);

    free(big);
    chati_s3_free(raw);
    S->close(impl);
}
END_TEST

START_TEST(test_hung_server_times_out)
{
    ensure_server();
    char url[512];
    url_with(url, sizeof url, "chatkey:chatsecret", "");
    /* timeout_ms=2000 in BUCKET_URL: a stall of 2 s ends a call. */
    const chat_blob_ops *S = blob_ops();
    void *impl = NULL;
    ck_assert_chat_ok(S->open(url, NULL, &impl));
    ck_assert_chat_ok(S->put(impl, "hung", "before", 6, NULL));
    ck_assert_int_eq(sh("bash '%s' pause '%s'", fixture, server_dir), 0);
    long long t0 = chati_mono_ms();
    chat_err put_rv = S->put(impl, "hung", "during", 6, NULL);
    fprintf(stderr, "hung server: %s (after %lld ms)\n", chati_errmsg(), chati_mono_ms() - t0);
    void *data = NULL;
    size_t len = 0;
    chat_err get_rv = S->get(impl, "hung", &data, &len);
    fprintf(stderr, "hung server: %s (after %lld ms)\n", chati_errmsg(), chati_mono_ms() - t0);
    long long took = chati_mono_ms() - t0;
    ck_assert_int_eq(sh("bash '%s' resume '%s'", fixture, server_dir), 0);
    ck_assert_chat_err(put_rv, CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_chat_err(get_rv, CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_msg(took < 9000, "two calls to a hung server took %lld ms", took);
    /* The put may or may not have landed before the server froze; either
     * way the object is whole, and the store works again. */
    ck_assert_chat_ok(S->get(impl, "hung", &data, &len));
    ck_assert_uint_eq(len, 6);
    ck_assert(memcmp(data, "before", 6) == 0 || memcmp(data, "during", 6) == 0);
    chat_free(data);
    ck_assert_chat_ok(S->put(impl, "hung", "after", 5, NULL));
    S->close(impl);
}
END_TEST

START_TEST(test_damaged_object_is_detected)
{
    ensure_server();
    char url[512];
    url_with(url, sizeof url, "chatkey:chatsecret", "");
    const chat_blob_ops *S = blob_ops();
    void *impl = NULL;
    ck_assert_chat_ok(S->open(url, NULL, &impl));
    chati_s3 *raw = NULL;
    ck_assert_chat_ok(chati_s3_new(url, NULL, &raw));
    /* Stored as if by the store, but with the checksum of other bytes. */
    char other[65];
    chati_sha256_hex("original", 8, other);
    chati_sigv4_header meta = {"x-amz-meta-sha256", other};
    chati_s3_req rq = {.method = "PUT", .key = "damaged", .query = "", .body = "tampered",
                       .body_len = 8, .extra = &meta, .n_extra = 1};
    chati_s3_resp resp;
    ck_assert_chat_ok(chati_s3_call_ok(raw, &rq, &resp));
    chati_s3_resp_free(&resp);
    chati_s3_free(raw);
    void *data = NULL;
    size_t len = 0;
    ck_assert_chat_err(S->get(impl, "damaged", &data, &len), CHAT_ERR_CHECKSUM_MISMATCH);
    ck_assert_ptr_null(data);
    fprintf(stderr, "damaged: %s\n", chati_errmsg());
    /* A put through the store repairs it. */
    ck_assert_chat_ok(S->put(impl, "damaged", "original", 8, NULL));
    ck_assert_chat_ok(S->get(impl, "damaged", &data, &len));
    ck_assert_uint_eq(len, 8);
    chat_free(data);
    S->close(impl);
}
END_TEST

static size_t listed(chat_ctx *ctx, const person *p)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_file_list(ctx, p->s, NULL, NULL, NULL, 0, &l));
    size_t n = chat_list_count(l);
    chat_list_free(l);
    return n;
}

/* Rows in the embedded message store's files table (deleted ones too): what
 * the domain left behind, visible or not. */
static int file_rows(const char *data_dir, const char *where)
{
    char path[4096], sql[256];
    snprintf(path, sizeof path, "%s/message.db", data_dir);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM files%s", where);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void assert_download(chat_ctx *ctx, const person *p, const char *id, const void *want,
                            size_t len)
{
    void *data = NULL;
    size_t n = 0;
    ck_assert_chat_ok(chat_file_download(ctx, p->s, id, &data, &n, NULL));
    ck_assert_uint_eq(n, len);
    ck_assert(memcmp(data, want, len) == 0);
    chat_free(data);
}

START_TEST(test_upload_while_server_stopped)
{
    ensure_server();
    char url[512];
    /* 5 MiB parts: the 7 MiB file below is a multipart upload. */
    url_with(url, sizeof url, "chatkey:chatsecret", "&part_size=5242880");
    char *dir = NULL;
    chat_ctx *ctx = fixture_open(&dir, "blob", url, NULL);
    person p = fixture_person(ctx, "ada@example.com");

    size_t big_len = 7u << 20;
    unsigned char *big = malloc(big_len);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 7 + i / 4096);

    chat_file *f = NULL;
    ck_assert_chat_ok(chat_file_upload(ctx, p.s, "before.txt", NULL, NULL, "kept", 4, &f));
    char *before = strdup(chat_file_id(f));
    chat_file_free(f);
    ck_assert_uint_eq(listed(ctx, &p), 1);

    server_stop();

    /* One-step uploads fail fast and leave no record. */
    long long t0 = chati_mono_ms();
    ck_assert_chat_err(chat_file_upload(ctx, p.s, "during.txt", NULL, NULL, "lost?", 5, &f),
                       CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_ptr_null(f);
    fprintf(stderr, "server stopped: %s\n", chat_last_errmsg());
    ck_assert_msg(strstr(chat_last_errmsg(), "s3") != NULL, "unclear error: %s", chat_last_errmsg());
    ck_assert_chat_err(chat_file_upload(ctx, p.s, "big.bin", NULL, NULL, big, big_len, &f),
                       CHAT_ERR_SERVICE_UNAVAILABLE);
    long long took = chati_mono_ms() - t0;
    fprintf(stderr, "server stopped, multipart: %s (both uploads failed in %lld ms)\n",
            chat_last_errmsg(), took);
    ck_assert_msg(took < 5000, "failing uploads took %lld ms", took);
    ck_assert_uint_eq(listed(ctx, &p), 1);
    /* Not even a retired record: the bytes go first, the record after. */
    ck_assert_int_eq(file_rows(dir, ""), 1);

    /* Two-step: the pending record is retired, never listed or downloadable. */
    ck_assert_chat_ok(chat_file_upload_begin(ctx, p.s, "twostep.txt", NULL, NULL, 3, &f));
    char *pending = strdup(chat_file_id(f));
    chat_file_free(f);
    f = NULL;
    ck_assert_chat_err(chat_file_upload_finish(ctx, p.s, pending, "abc", 3, &f),
                       CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_uint_eq(listed(ctx, &p), 1);
    void *data = NULL;
    size_t n = 0;
    chat_err rv = chat_file_download(ctx, p.s, pending, &data, &n, NULL);
    ck_assert_msg(rv == CHAT_ERR_FILE_DELETED || rv == CHAT_ERR_FILE_NOT_FOUND,
                  "download of a failed upload: %s", chat_strerror(rv));
    /* The two-step client holds the id, so its record stays, retired. */
    ck_assert_int_eq(file_rows(dir, ""), 2);
    ck_assert_int_eq(file_rows(dir, " WHERE deleted = 0"), 1);

    /* The old file is unreachable meanwhile, with the same clear error. */
    ck_assert_chat_err(chat_file_download(ctx, p.s, before, &data, &n, NULL),
                       CHAT_ERR_SERVICE_UNAVAILABLE);

    server_restart();

    /* The same uploads now work, through the same context. */
    ck_assert_chat_ok(chat_file_upload(ctx, p.s, "during.txt", NULL, NULL, "lost?", 5, &f));
    char *during = strdup(chat_file_id(f));
    chat_file_free(f);
    ck_assert_chat_ok(chat_file_upload(ctx, p.s, "big.bin", NULL, NULL, big, big_len, &f));
    char *bigid = strdup(chat_file_id(f));
    chat_file_free(f);
    ck_assert_uint_eq(listed(ctx, &p), 3);
    ck_assert_int_eq(file_rows(dir, " WHERE deleted = 0"), 3);
    assert_download(ctx, &p, before, "kept", 4);
    assert_download(ctx, &p, during, "lost?", 5);
    assert_download(ctx, &p, bigid, big, big_len);

    /* And the store holds no object for the upload that failed. */
    void *impl = NULL;
    ck_assert_chat_ok(blob_ops()->open(url, NULL, &impl));
    int64_t size;
    ck_assert_chat_err(blob_ops()->stat(impl, pending, &size), CHAT_ERR_NOT_FOUND);
    blob_ops()->close(impl);

    free(before);
    free(during);
    free(bigid);
    free(pending);
    free(big);
    fixture_person_free(&p);
    fixture_close(ctx, dir);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s tests/fixtures/s3.sh SERVER_DIR ENDPOINT\n"
                        "(run it through: s3.sh exec %s FIXTURE {s3_dir} {s3_endpoint})\n",
                argv[0], argv[0]);
        return 1;
    }
    fixture = argv[1];
    server_dir = argv[2];
    endpoint = argv[3];
    Suite *s = suite_create("s3 blob failures");
    TCase *tc = tcase_create("failures");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_wrong_secret_is_refused);
    tcase_add_test(tc, test_body_must_match_its_signed_hash);
    tcase_add_test(tc, test_damaged_object_is_detected);
    tcase_add_test(tc, test_failed_multipart_is_aborted);
    tcase_add_test(tc, test_hung_server_times_out);
    tcase_add_test(tc, test_upload_while_server_stopped);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
