/* Files (upload, share, download, visibility, limits, deletion, integrity) and
 * presence (heartbeats, away, expiry, bulk lookups) and typing. */
#include "fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <ftw.h>
#include <time.h>
#include <unistd.h>

static chat_ctx *ctx;
static char *dir;
static person ada, bob, cy;

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
    ada = fixture_person(ctx, "ada@example.com"); /* first sign-up: the admin */
    bob = fixture_person(ctx, "bob@example.com");
    cy = fixture_person(ctx, "cy@example.com");
}

static void teardown(void)
{
    fixture_person_free(&ada);
    fixture_person_free(&bob);
    fixture_person_free(&cy);
    fixture_close(ctx, dir);
}

/* 1000 bytes: byte i = i*31+7, and its SHA-256 (computed independently). */
#define DATA_LEN 1000
#define DATA_SHA256 "5097e7d587352f5097062ae679f37bda5802d9f875aba14c8cb4d1a188ada179"
/* Another 1000 bytes: byte i = i*13+1, and its SHA-256. */
#define OTHER_SHA256 "7bb2fa7ff0db797646f30a289a3774ea64034902ab739bad37e4d9af29509239"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define TEXT_BYTES "plain text notes\n"
#define TEXT_SHA256 "e2ea404d1cce4e1b74a48d1260d3c72b106b8cf4500048d767162cb54ecc8581"

static unsigned char data[DATA_LEN];
static unsigned char other[DATA_LEN];

static void fill_data(void)
{
    for (int i = 0; i < DATA_LEN; i++) {
        data[i] = (unsigned char)((i * 31 + 7) & 0xff);
        other[i] = (unsigned char)((i * 13 + 1) & 0xff);
    }
}

static char *upload(const person *p, const char *name, const void *bytes, size_t len)
{
    chat_file *f = NULL;
    ck_assert_chat_ok(chat_file_upload(ctx, p->s, name, NULL, NULL, bytes, len, &f));
    char *id = strdup(chat_file_id(f));
    chat_file_free(f);
    return id;
}

/* ---- blob directory walking ---- */

static char found_path[4096];
static int found_count;

static int on_blob(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_F && strstr(path, ".tmp.") == NULL) {
        found_count++;
        snprintf(found_path, sizeof found_path, "%s", path);
    }
    return 0;
}

/* Number of stored objects under {data_dir}/blobs; found_path is the last one. */
static int count_blobs(const char *data_dir)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/blobs", data_dir);
    found_count = 0;
    found_path[0] = '\0';
    nftw(root, on_blob, 16, FTW_PHYS);
    return found_count;
}

static void write_file(const char *path, const void *bytes, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_msg(fd >= 0, "open %s", path);
    ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

static void assert_list_ids(const chat_list *l, const char *const *want, size_t n)
{
    ck_assert_int_eq(chat_list_kind_of(l), CHAT_LIST_FILES);
    ck_assert_uint_eq(chat_list_count(l), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(chat_file_id(chat_list_file(l, i)), want[i]);
}

/* =============================== files =============================== */

START_TEST(upload_and_info)
{
    fill_data();
    int64_t before = (int64_t)time(NULL);
    chat_file *f = NULL;
    ck_assert_chat_ok(chat_file_upload(ctx, ada.s, "report.bin", NULL, NULL, data, DATA_LEN, &f));
    int64_t after = (int64_t)time(NULL);
    ck_assert_int_eq(chat_file_id(f)[0], 'F');
    ck_assert_str_eq(chat_file_name(f), "report.bin");
    ck_assert_str_eq(chat_file_title(f), "report.bin"); /* title defaults to the name */
    ck_assert_str_eq(chat_file_mimetype(f), "application/octet-stream");
    ck_assert_int_eq(chat_file_size(f), DATA_LEN);
    ck_assert_str_eq(chat_file_sha256(f), DATA_SHA256);
    ck_assert_str_eq(chat_file_user(f), ada.id);
    ck_assert_uint_eq(chat_file_channel_count(f), 0);
    ck_assert_int_ge(chat_file_created(f), before);
    ck_assert_int_le(chat_file_created(f), after);

    chat_file *g = NULL;
    ck_assert_chat_ok(chat_file_info(ctx, ada.s, chat_file_id(f), &g));
    ck_assert_str_eq(chat_file_id(g), chat_file_id(f));
    ck_assert_str_eq(chat_file_name(g), "report.bin");
    ck_assert_str_eq(chat_file_title(g), "report.bin");
    ck_assert_str_eq(chat_file_mimetype(g), "application/octet-stream");
    ck_assert_int_eq(chat_file_size(g), DATA_LEN);
    ck_assert_str_eq(chat_file_sha256(g), DATA_SHA256);
    ck_assert_str_eq(chat_file_user(g), ada.id);
    ck_assert_int_eq(chat_file_created(g), chat_file_created(f));
    chat_file_free(g);

    /* Not shared anywhere: only the uploader sees it. */
    ck_assert_chat_err(chat_file_info(ctx, bob.s, chat_file_id(f), &g), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(g);
    void *bytes = NULL;
    size_t len = 7;
    ck_assert_chat_err(chat_file_download(ctx, bob.s, chat_file_id(f), &bytes, &len, NULL),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(len, 0);
    chat_file_free(f);

    /* Explicit title and type are kept. */
    ck_assert_chat_ok(chat_file_upload(ctx, bob.s, "notes.txt", "My notes", "text/plain",
                                       TEXT_BYTES, strlen(TEXT_BYTES), &f));
    ck_assert_str_eq(chat_file_title(f), "My notes");
    ck_assert_str_eq(chat_file_mimetype(f), "text/plain");
    ck_assert_int_eq(chat_file_size(f), (int64_t)strlen(TEXT_BYTES));
    ck_assert_str_eq(chat_file_sha256(f), TEXT_SHA256);
    ck_assert_chat_ok(chat_file_download(ctx, bob.s, chat_file_id(f), &bytes, &len, &g));
    ck_assert_uint_eq(len, strlen(TEXT_BYTES));
    ck_assert_mem_eq(bytes, TEXT_BYTES, len);
    ck_assert_str_eq(chat_file_title(g), "My notes");
    chat_free(bytes);
    chat_file_free(g);
    chat_file_free(f);

    /* An empty file is a file. */
    ck_assert_chat_ok(chat_file_upload(ctx, cy.s, "empty", NULL, NULL, NULL, 0, &f));
    ck_assert_int_eq(chat_file_size(f), 0);
    ck_assert_str_eq(chat_file_sha256(f), EMPTY_SHA256);
    len = 99;
    ck_assert_chat_ok(chat_file_download(ctx, cy.s, chat_file_id(f), &bytes, &len, NULL));
    ck_assert_uint_eq(len, 0);
    chat_free(bytes);
    chat_file_free(f);

    /* Bad arguments. */
    ck_assert_chat_err(chat_file_upload(ctx, ada.s, "", NULL, NULL, data, 10, &f),
                       CHAT_ERR_INVALID_NAME);
    ck_assert_ptr_null(f);
    ck_assert_chat_err(chat_file_upload(ctx, ada.s, NULL, NULL, NULL, data, 10, &f),
                       CHAT_ERR_INVALID_NAME);
    ck_assert_chat_err(chat_file_upload(ctx, ada.s, "x", NULL, "not a type", data, 10, &f),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_file_upload(ctx, ada.s, "x", NULL, NULL, NULL, 10, &f),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_file_info(ctx, ada.s, "FNOSUCHFILE", &f), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_err(chat_file_info(ctx, ada.s, "not-an-id", &f), CHAT_ERR_FILE_NOT_FOUND);
    /* Only the three good uploads are stored. */
    ck_assert_int_eq(count_blobs(dir), 3);
}
END_TEST

START_TEST(share_and_download)
{
    fill_data();
    char *secret = fixture_channel(ctx, &ada, "secret", true);
    const char *who[] = {bob.id};
    ck_assert_chat_ok(chat_channel_invite(ctx, ada.s, secret, who, 1));
    char *fid = upload(&ada, "plan.bin", data, DATA_LEN);

    /* The uploader can always download, shared or not. */
    void *bytes = NULL;
    size_t len = 0;
    ck_assert_chat_ok(chat_file_download(ctx, ada.s, fid, &bytes, &len, NULL));
    ck_assert_uint_eq(len, DATA_LEN);
    ck_assert_mem_eq(bytes, data, DATA_LEN);
    chat_free(bytes);

    /* Sharing posts a message carrying the file. */
    chat_message *m = NULL;
    ck_assert_chat_ok(chat_file_share(ctx, ada.s, fid, secret, "see attached", NULL, &m));
    ck_assert_str_eq(chat_message_channel(m), secret);
    ck_assert_str_eq(chat_message_user(m), ada.id);
    ck_assert_str_eq(chat_message_text(m), "see attached");
    ck_assert_uint_eq(chat_message_file_count(m), 1);
    ck_assert_str_eq(chat_message_file_id(m, 0), fid);
    char ts[CHAT_TS_SIZE];
    snprintf(ts, sizeof ts, "%s", chat_message_ts(m));
    chat_message_free(m);

    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, secret, NULL, NULL, false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    const chat_message *hm = chat_list_message(l, 0);
    ck_assert_str_eq(chat_message_ts(hm), ts);
    ck_assert_uint_eq(chat_message_file_count(hm), 1);
    ck_assert_str_eq(chat_message_file_id(hm, 0), fid);
    chat_list_free(l);

    /* The file now lists the channel. */
    chat_file *f = NULL;
    ck_assert_chat_ok(chat_file_info(ctx, bob.s, fid, &f));
    ck_assert_uint_eq(chat_file_channel_count(f), 1);
    ck_assert_str_eq(chat_file_channel(f, 0), secret);
    chat_file_free(f);

    /* A member of the channel downloads the same bytes. */
    ck_assert_chat_ok(chat_file_download(ctx, bob.s, fid, &bytes, &len, &f));
    ck_assert_uint_eq(len, DATA_LEN);
    ck_assert_mem_eq(bytes, data, DATA_LEN);
    ck_assert_str_eq(chat_file_id(f), fid);
    ck_assert_str_eq(chat_file_sha256(f), DATA_SHA256);
    chat_free(bytes);
    chat_file_free(f);

    /* An outsider of the private channel does not learn the file exists. */
    bytes = NULL;
    ck_assert_chat_err(chat_file_download(ctx, cy.s, fid, &bytes, &len, &f),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(bytes);
    ck_assert_ptr_null(f);
    ck_assert_chat_err(chat_file_info(ctx, cy.s, fid, &f), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_err(chat_file_share(ctx, cy.s, fid, secret, NULL, NULL, &m),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(m);

    /* Sharing into a public channel makes it readable to every member of the
     * workspace, joined or not; the comment may be empty. */
    char *open = fixture_channel(ctx, &ada, "open", false);
    ck_assert_chat_ok(chat_file_share(ctx, ada.s, fid, open, NULL, NULL, &m));
    ck_assert_str_eq(chat_message_text(m), "");
    ck_assert_uint_eq(chat_message_file_count(m), 1);
    chat_message_free(m);
    ck_assert_chat_ok(chat_file_download(ctx, cy.s, fid, &bytes, &len, NULL));
    ck_assert_uint_eq(len, DATA_LEN);
    ck_assert_mem_eq(bytes, data, DATA_LEN);
    chat_free(bytes);
    ck_assert_chat_ok(chat_file_info(ctx, ada.s, fid, &f));
    ck_assert_uint_eq(chat_file_channel_count(f), 2);
    chat_file_free(f);

    /* Sharing needs membership of the target. */
    char *cys = fixture_channel(ctx, &cy, "cys-room", false);
    ck_assert_chat_err(chat_file_share(ctx, ada.s, fid, cys, "x", NULL, &m),
                       CHAT_ERR_NOT_IN_CHANNEL);
    ck_assert_chat_err(chat_file_share(ctx, ada.s, fid, "CNOSUCHCHAN", "x", NULL, &m),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    free(cys);
    free(open);
    free(fid);
    free(secret);
}
END_TEST

START_TEST(max_bytes_is_enforced)
{
    fill_data();
    char *d2 = NULL;
    chat_ctx *c2 = fixture_open(&d2, "files.max_bytes", "1024", NULL);
    person p = fixture_person(c2, "pat@example.com");
    unsigned char big[1025];
    memset(big, 'x', sizeof big);
    chat_file *f = (chat_file *)1;
    ck_assert_chat_err(chat_file_upload(c2, p.s, "big.bin", NULL, NULL, big, 1025, &f),
                       CHAT_ERR_FILE_TOO_LARGE);
    ck_assert_ptr_null(f);
    /* Nothing stored: no metadata, no bytes. */
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_file_list(c2, p.s, NULL, NULL, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
    ck_assert_int_eq(count_blobs(d2), 0);

    /* Exactly the limit is fine. */
    ck_assert_chat_ok(chat_file_upload(c2, p.s, "edge.bin", NULL, NULL, big, 1024, &f));
    ck_assert_int_eq(chat_file_size(f), 1024);
    chat_file_free(f);
    ck_assert_chat_ok(chat_file_list(c2, p.s, NULL, NULL, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    chat_list_free(l);
    ck_assert_int_eq(count_blobs(d2), 1);
    fixture_person_free(&p);
    fixture_close(c2, d2);

    /* The default limit (100 MiB) admits our 1000 bytes in the main context. */
    char *fid = upload(&ada, "ok.bin", data, DATA_LEN);
    free(fid);
}
END_TEST

START_TEST(list_visibility_and_filters)
{
    fill_data();
    char *secret = fixture_channel(ctx, &ada, "secret", true);
    const char *who[] = {bob.id};
    ck_assert_chat_ok(chat_channel_invite(ctx, ada.s, secret, who, 1));
    char *open = fixture_channel(ctx, &ada, "open", false);
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_channel_list_for_user(ctx, cy.s, NULL, CHAT_CHANNEL_PUBLIC, false,
                                                 NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    char *general = strdup(chat_channel_id(chat_list_channel(l, 0)));
    chat_list_free(l);

    char *f1 = upload(&ada, "f1", data, 100); /* only in #secret */
    ck_assert_chat_ok(chat_file_share(ctx, ada.s, f1, secret, NULL, NULL, NULL));
    char *f2 = upload(&ada, "f2", data, 200); /* in #open (public, cy not a member) */
    ck_assert_chat_ok(chat_file_share(ctx, ada.s, f2, open, NULL, NULL, NULL));
    char *f3 = upload(&bob, "f3", data, 300); /* never shared */
    char *f4 = upload(&cy, "f4", data, 400);  /* in #general */
    ck_assert_chat_ok(chat_file_share(ctx, cy.s, f4, general, NULL, NULL, NULL));

    /* Newest first; each sees own files and files in channels they can read. */
    const char *cy_all[] = {f4, f2};
    ck_assert_chat_ok(chat_file_list(ctx, cy.s, NULL, NULL, NULL, 0, &l));
    assert_list_ids(l, cy_all, 2);
    ck_assert_int_eq(chat_file_size(chat_list_file(l, 1)), 200);
    chat_list_free(l);
    const char *bob_all[] = {f4, f3, f2, f1};
    ck_assert_chat_ok(chat_file_list(ctx, bob.s, NULL, NULL, NULL, 0, &l));
    assert_list_ids(l, bob_all, 4);
    chat_list_free(l);
    const char *ada_all[] = {f4, f2, f1};
    ck_assert_chat_ok(chat_file_list(ctx, ada.s, NULL, NULL, NULL, 0, &l));
    assert_list_ids(l, ada_all, 3);
    chat_list_free(l);

    /* Channel filter. */
    const char *in_secret[] = {f1};
    ck_assert_chat_ok(chat_file_list(ctx, ada.s, secret, NULL, NULL, 0, &l));
    assert_list_ids(l, in_secret, 1);
    chat_list_free(l);
    const char *in_open[] = {f2};
    ck_assert_chat_ok(chat_file_list(ctx, cy.s, open, NULL, NULL, 0, &l));
    assert_list_ids(l, in_open, 1);
    chat_list_free(l);
    l = NULL;
    ck_assert_chat_err(chat_file_list(ctx, cy.s, secret, NULL, NULL, 0, &l),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_ptr_null(l);

    /* User filter. */
    const char *by_ada_for_bob[] = {f2, f1};
    ck_assert_chat_ok(chat_file_list(ctx, bob.s, NULL, ada.id, NULL, 0, &l));
    assert_list_ids(l, by_ada_for_bob, 2);
    chat_list_free(l);
    const char *by_ada_for_cy[] = {f2};
    ck_assert_chat_ok(chat_file_list(ctx, cy.s, NULL, ada.id, NULL, 0, &l));
    assert_list_ids(l, by_ada_for_cy, 1);
    chat_list_free(l);
    ck_assert_chat_ok(chat_file_list(ctx, cy.s, NULL, bob.id, NULL, 0, &l));
    assert_list_ids(l, NULL, 0); /* bob's only file is unshared */
    chat_list_free(l);
    /* Both filters. */
    ck_assert_chat_ok(chat_file_list(ctx, bob.s, open, bob.id, NULL, 0, &l));
    assert_list_ids(l, NULL, 0);
    chat_list_free(l);
    ck_assert_chat_ok(chat_file_list(ctx, bob.s, secret, ada.id, NULL, 0, &l));
    assert_list_ids(l, in_secret, 1);
    chat_list_free(l);
    ck_assert_chat_err(chat_file_list(ctx, bob.s, NULL, "nobody", NULL, 0, &l),
                       CHAT_ERR_USER_NOT_FOUND);

    /* Paging one at a time walks the same order and ends. */
    char *cursor = NULL;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_chat_ok(chat_file_list(ctx, bob.s, NULL, NULL, cursor, 1, &l));
        free(cursor);
        cursor = NULL;
        ck_assert_uint_eq(chat_list_count(l), 1);
        ck_assert_str_eq(chat_file_id(chat_list_file(l, 0)), bob_all[i]);
        if (i < 3) {
            ck_assert_ptr_nonnull(chat_list_next_cursor(l));
            cursor = strdup(chat_list_next_cursor(l));
        } else {
            ck_assert_ptr_null(chat_list_next_cursor(l));
        }
        chat_list_free(l);
    }
    ck_assert_chat_err(chat_file_list(ctx, bob.s, NULL, NULL, NULL, CHAT_MAX_PAGE + 1, &l),
                       CHAT_ERR_INVALID_LIMIT);
    free(f1);
    free(f2);
    free(f3);
    free(f4);
    free(general);
    free(open);
    free(secret);
}
END_TEST

START_TEST(delete_rules)
{
    fill_data();
    char *open = fixture_channel(ctx, &bob, "open", false);
    ck_assert_chat_ok(chat_channel_join(ctx, cy.s, open, NULL));
    char *fid = upload(&bob, "bobs.bin", data, DATA_LEN);
    ck_assert_chat_ok(chat_file_share(ctx, bob.s, fid, open, NULL, NULL, NULL));
    ck_assert_int_eq(count_blobs(dir), 1);

    /* Someone who can see it but did not upload it (and is no admin). */
    ck_assert_chat_err(chat_file_delete(ctx, cy.s, fid), CHAT_ERR_CANT_DELETE_FILE);
    void *bytes = NULL;
    size_t len = 0;
    ck_assert_chat_ok(chat_file_download(ctx, cy.s, fid, &bytes, &len, NULL));
    ck_assert_uint_eq(len, DATA_LEN);
    chat_free(bytes);
    ck_assert_int_eq(count_blobs(dir), 1);

    /* The uploader deletes it. */
    ck_assert_chat_ok(chat_file_delete(ctx, bob.s, fid));
    chat_file *f = NULL;
    ck_assert_chat_err(chat_file_info(ctx, bob.s, fid, &f), CHAT_ERR_FILE_DELETED);
    ck_assert_ptr_null(f);
    ck_assert_chat_err(chat_file_info(ctx, cy.s, fid, &f), CHAT_ERR_FILE_DELETED);
    bytes = NULL;
    ck_assert_chat_err(chat_file_download(ctx, bob.s, fid, &bytes, &len, NULL),
                       CHAT_ERR_FILE_DELETED);
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(len, 0);
    ck_assert_chat_err(chat_file_download(ctx, cy.s, fid, &bytes, &len, NULL),
                       CHAT_ERR_FILE_DELETED);
    ck_assert_chat_err(chat_file_delete(ctx, bob.s, fid), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_err(chat_file_share(ctx, bob.s, fid, open, NULL, NULL, NULL),
                       CHAT_ERR_FILE_DELETED);
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_file_list(ctx, bob.s, NULL, NULL, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
    /* And its bytes are gone from the blob store. */
    ck_assert_int_eq(count_blobs(dir), 0);

    /* An admin may delete anyone's file; an outsider of a private channel
     * cannot even find it. */
    char *secret = fixture_channel(ctx, &bob, "secret", true);
    char *g = upload(&bob, "g.bin", data, 10);
    ck_assert_chat_ok(chat_file_share(ctx, bob.s, g, secret, NULL, NULL, NULL));
    ck_assert_chat_err(chat_file_delete(ctx, cy.s, g), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_err(chat_file_delete(ctx, ada.s, g), CHAT_ERR_FILE_NOT_FOUND);
    const char *who[] = {ada.id};
    ck_assert_chat_ok(chat_channel_invite(ctx, bob.s, secret, who, 1));
    ck_assert(chat_session_is_admin(ada.s));
    ck_assert_chat_ok(chat_file_delete(ctx, ada.s, g));
    ck_assert_chat_err(chat_file_info(ctx, bob.s, g, &f), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_err(chat_file_delete(ctx, bob.s, "FNOSUCHFILE"), CHAT_ERR_FILE_NOT_FOUND);
    free(g);
    free(secret);
    free(fid);
    free(open);
}
END_TEST

START_TEST(corrupted_blob_is_detected)
{
    fill_data();
    char *fid = upload(&ada, "fragile.bin", data, DATA_LEN);
    ck_assert_int_eq(count_blobs(dir), 1);
    char path[4096];
    snprintf(path, sizeof path, "%s", found_path);

    /* The stored object holds our bytes somewhere: flip one of them. */
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    unsigned char buf[DATA_LEN + 256];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    ck_assert_uint_ge(n, DATA_LEN);
    size_t hdr = n - DATA_LEN;
    ck_assert_mem_eq(buf + hdr, data, DATA_LEN);
    unsigned char saved = buf[hdr + 500];
    buf[hdr + 500] ^= 0x5a;
    write_file(path, buf, n);
    void *bytes = NULL;
    size_t len = 0;
    ck_assert_chat_err(chat_file_download(ctx, ada.s, fid, &bytes, &len, NULL),
                       CHAT_ERR_CHECKSUM_MISMATCH);
    ck_assert_ptr_null(bytes);
    ck_assert_uint_eq(len, 0);

    /* Restored, it downloads again. */
    buf[hdr + 500] = saved;
    write_file(path, buf, n);
    ck_assert_chat_ok(chat_file_download(ctx, ada.s, fid, &bytes, &len, NULL));
    ck_assert_uint_eq(len, DATA_LEN);
    ck_assert_mem_eq(bytes, data, DATA_LEN);
    chat_free(bytes);
    bytes = NULL;

    /* A self-consistent object with other bytes of the same length (the
     * blob's own header agrees with it) still differs from the file's
     * recorded SHA-256. */
    ck_assert_uint_eq(hdr, 75);
    char obj[75 + DATA_LEN];
    memcpy(obj, "chatblob1 " OTHER_SHA256 "\n", 75);
    memcpy(obj + 75, other, DATA_LEN);
    write_file(path, obj, sizeof obj);
    ck_assert_chat_err(chat_file_download(ctx, ada.s, fid, &bytes, &len, NULL),
                       CHAT_ERR_CHECKSUM_MISMATCH);
    ck_assert_ptr_null(bytes);

    /* Truncated to nothing. */
    write_file(path, "", 0);
    ck_assert_chat_err(chat_file_download(ctx, ada.s, fid, &bytes, &len, NULL),
                       CHAT_ERR_CHECKSUM_MISMATCH);

    /* Bytes gone altogether. */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_chat_err(chat_file_download(ctx, ada.s, fid, &bytes, &len, NULL),
                       CHAT_ERR_FILE_NOT_FOUND);
    /* Metadata is untouched by any of this. */
    chat_file *f = NULL;
    ck_assert_chat_ok(chat_file_info(ctx, ada.s, fid, &f));
    ck_assert_str_eq(chat_file_sha256(f), DATA_SHA256);
    chat_file_free(f);
    free(fid);
}
END_TEST

/* ============================== presence ============================== */

static void get3(const person *a, const person *b, const person *c, chat_presence out[3])
{
    const char *ids[] = {a->id, b->id, c->id};
    out[0] = out[1] = out[2] = (chat_presence)-1;
    ck_assert_chat_ok(chat_presence_get(ctx, ada.s, ids, 3, out));
}

START_TEST(presence_states)
{
    ck_assert_str_eq(chat_presence_name(CHAT_PRESENCE_ACTIVE), "active");
    ck_assert_str_eq(chat_presence_name(CHAT_PRESENCE_AWAY), "away");
    ck_assert_str_eq(chat_presence_name(CHAT_PRESENCE_OFFLINE), "offline");

    chat_presence p[3];
    get3(&ada, &bob, &cy, p);
    ck_assert_int_eq(p[0], CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(p[1], CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(p[2], CHAT_PRESENCE_OFFLINE);

    ck_assert_chat_ok(chat_presence_heartbeat(ctx, bob.s));
    get3(&ada, &bob, &cy, p);
    ck_assert_int_eq(p[0], CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(p[1], CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(p[2], CHAT_PRESENCE_OFFLINE);

    ck_assert_chat_ok(chat_presence_set(ctx, bob.s, true));
    get3(&ada, &bob, &cy, p);
    ck_assert_int_eq(p[1], CHAT_PRESENCE_AWAY);
    /* Heartbeats do not undo a manual away. */
    ck_assert_chat_ok(chat_presence_heartbeat(ctx, bob.s));
    get3(&ada, &bob, &cy, p);
    ck_assert_int_eq(p[1], CHAT_PRESENCE_AWAY);
    ck_assert_chat_ok(chat_presence_set(ctx, bob.s, false));
    get3(&ada, &bob, &cy, p);
    ck_assert_int_eq(p[0], CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(p[1], CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(p[2], CHAT_PRESENCE_OFFLINE);

    ck_assert_chat_ok(chat_presence_heartbeat(ctx, cy.s));
    ck_assert_chat_ok(chat_presence_set(ctx, ada.s, false)); /* auto without heartbeat */
    get3(&ada, &bob, &cy, p);
    ck_assert_int_eq(p[0], CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(p[1], CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(p[2], CHAT_PRESENCE_ACTIVE);
}
END_TEST

START_TEST(presence_many_and_bad_ids)
{
    enum { N = 40 };
    person extra[N];
    const char *ids[N + 3];
    for (int i = 0; i < N; i++) {
        char email[64];
        snprintf(email, sizeof email, "p%02d@example.com", i);
        extra[i] = fixture_person(ctx, email);
        if (i % 3 == 0)
            ck_assert_chat_ok(chat_presence_heartbeat(ctx, extra[i].s));
        if (i % 9 == 0)
            ck_assert_chat_ok(chat_presence_set(ctx, extra[i].s, true));
        ids[i] = extra[i].id;
    }
    ids[N] = ada.id;
    ids[N + 1] = extra[3].id; /* a repeat is answered twice */
    ids[N + 2] = bob.id;
    chat_presence out[N + 3];
    ck_assert_chat_ok(chat_presence_get(ctx, cy.s, ids, N + 3, out));
    for (int i = 0; i < N; i++) {
        chat_presence want = i % 9 == 0   ? CHAT_PRESENCE_AWAY
                             : i % 3 == 0 ? CHAT_PRESENCE_ACTIVE
                                          : CHAT_PRESENCE_OFFLINE;
        ck_assert_msg(out[i] == want, "user %d: %s, wanted %s", i, chat_presence_name(out[i]),
                      chat_presence_name(want));
    }
    ck_assert_int_eq(out[N], CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(out[N + 1], CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(out[N + 2], CHAT_PRESENCE_OFFLINE);

    /* Zero users is a no-op. */
    ck_assert_chat_ok(chat_presence_get(ctx, cy.s, ids, 0, out));
    /* Malformed ids. */
    const char *bad1[] = {ada.id, "not-a-user"};
    ck_assert_chat_err(chat_presence_get(ctx, cy.s, bad1, 2, out), CHAT_ERR_USER_NOT_FOUND);
    const char *bad2[] = {"C0123456789"};
    ck_assert_chat_err(chat_presence_get(ctx, cy.s, bad2, 1, out), CHAT_ERR_USER_NOT_FOUND);
    const char *bad3[] = {ada.id, NULL};
    ck_assert_chat_err(chat_presence_get(ctx, cy.s, bad3, 2, out), CHAT_ERR_USER_NOT_FOUND);
    const char *bad4[] = {""};
    ck_assert_chat_err(chat_presence_get(ctx, cy.s, bad4, 1, out), CHAT_ERR_USER_NOT_FOUND);
    ck_assert_chat_err(chat_presence_get(ctx, cy.s, NULL, 1, out), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_presence_get(ctx, cy.s, ids, 1, NULL), CHAT_ERR_INVALID_ARGUMENTS);
    static const char *many[CHAT_MAX_PAGE + 1];
    static chat_presence many_out[CHAT_MAX_PAGE + 1];
    for (int i = 0; i <= CHAT_MAX_PAGE; i++)
        many[i] = ada.id;
    ck_assert_chat_ok(chat_presence_get(ctx, cy.s, many, CHAT_MAX_PAGE, many_out));
    ck_assert_int_eq(many_out[CHAT_MAX_PAGE - 1], CHAT_PRESENCE_OFFLINE);
    ck_assert_chat_err(chat_presence_get(ctx, cy.s, many, CHAT_MAX_PAGE + 1, many_out),
                       CHAT_ERR_TOO_MANY_USERS);
    for (int i = 0; i < N; i++)
        fixture_person_free(&extra[i]);
}
END_TEST

/* presence.changed events seen by a subscriber, in order. */
typedef struct {
    pthread_mutex_t mu;
    int n;
    char user[16][CHAT_ID_SIZE];
    chat_presence p[16];
} presence_log;

static chat_err on_presence(void *arg, const chat_event *ev)
{
    presence_log *log = arg;
    pthread_mutex_lock(&log->mu);
    if (log->n < 16) {
        snprintf(log->user[log->n], CHAT_ID_SIZE, "%s", chat_event_user_id(ev));
        log->p[log->n] = chat_event_presence(ev);
        log->n++;
    }
    pthread_mutex_unlock(&log->mu);
    return CHAT_OK;
}

static int presence_log_count(presence_log *log)
{
    pthread_mutex_lock(&log->mu);
    int n = log->n;
    pthread_mutex_unlock(&log->mu);
    return n;
}

START_TEST(presence_expires)
{
    char *d2 = NULL;
    chat_ctx *c2 = fixture_open(&d2, "presence.ttl", "1", NULL);
    person p = fixture_person(c2, "pat@example.com");
    person q = fixture_person(c2, "quinn@example.com");
    presence_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    chat_subscription *sub = NULL;
    ck_assert_chat_ok(chat_subscribe(c2, "presence-test", 1u << CHAT_EVENT_PRESENCE_CHANGED,
                                     on_presence, &log, &sub));
    const char *ids[] = {p.id, q.id};
    chat_presence out[2];

    ck_assert_chat_ok(chat_presence_heartbeat(c2, p.s));
    ck_assert_chat_ok(chat_presence_get(c2, q.s, ids, 2, out));
    ck_assert_int_eq(out[0], CHAT_PRESENCE_ACTIVE);
    ck_assert_int_eq(out[1], CHAT_PRESENCE_OFFLINE);
    usleep(1200 * 1000);
    ck_assert_chat_ok(chat_presence_get(c2, q.s, ids, 2, out));
    ck_assert_int_eq(out[0], CHAT_PRESENCE_OFFLINE);
    ck_assert_int_eq(out[1], CHAT_PRESENCE_OFFLINE);

    /* The sweeper (once a second) announces the expiry. */
    for (int i = 0; i < 40 && presence_log_count(&log) < 2; i++)
        usleep(100 * 1000);
    ck_assert_chat_ok(chat_drain(c2, 5000));
    ck_assert_int_eq(presence_log_count(&log), 2);
    ck_assert_str_eq(log.user[0], p.id);
    ck_assert_int_eq(log.p[0], CHAT_PRESENCE_ACTIVE);
    ck_assert_str_eq(log.user[1], p.id);
    ck_assert_int_eq(log.p[1], CHAT_PRESENCE_OFFLINE);

    /* A fresh heartbeat brings the user back. */
    ck_assert_chat_ok(chat_presence_heartbeat(c2, p.s));
    ck_assert_chat_ok(chat_presence_get(c2, q.s, ids, 2, out));
    ck_assert_int_eq(out[0], CHAT_PRESENCE_ACTIVE);
    ck_assert_chat_ok(chat_drain(c2, 5000));
    ck_assert_int_eq(presence_log_count(&log), 3);
    ck_assert_int_eq(log.p[2], CHAT_PRESENCE_ACTIVE);
    chat_unsubscribe(sub);
    fixture_person_free(&p);
    fixture_person_free(&q);
    fixture_close(c2, d2);
}
END_TEST

START_TEST(typing_requires_membership)
{
    char *pub = fixture_channel(ctx, &ada, "pub", false);
    char *priv = fixture_channel(ctx, &ada, "priv", true);
    ck_assert_chat_ok(chat_typing(ctx, ada.s, pub));
    ck_assert_chat_ok(chat_typing(ctx, ada.s, priv));
    /* A public channel bob can see but has not joined. */
    ck_assert_chat_err(chat_typing(ctx, bob.s, pub), CHAT_ERR_NOT_IN_CHANNEL);
    /* A private channel bob cannot see at all. */
    ck_assert_chat_err(chat_typing(ctx, bob.s, priv), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_typing(ctx, bob.s, "CNOSUCHCHAN"), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_typing(ctx, bob.s, NULL), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, pub, NULL));
    ck_assert_chat_ok(chat_typing(ctx, bob.s, pub));
    ck_assert_chat_ok(chat_channel_leave(ctx, bob.s, pub));
    ck_assert_chat_err(chat_typing(ctx, bob.s, pub), CHAT_ERR_NOT_IN_CHANNEL);
    free(pub);
    free(priv);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("files_presence");
    TCase *tf = tcase_create("files");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_set_timeout(tf, 60);
    tcase_add_test(tf, upload_and_info);
    tcase_add_test(tf, share_and_download);
    tcase_add_test(tf, max_bytes_is_enforced);
    tcase_add_test(tf, list_visibility_and_filters);
    tcase_add_test(tf, delete_rules);
    tcase_add_test(tf, corrupted_blob_is_detected);
    suite_add_tcase(s, tf);
    TCase *tp = tcase_create("presence");
    tcase_add_checked_fixture(tp, setup, teardown);
    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, presence_states);
    tcase_add_test(tp, presence_many_and_bad_ids);
    tcase_add_test(tp, presence_expires);
    tcase_add_test(tp, typing_requires_membership);
    suite_add_tcase(s, tp);
    return chat_test_run(s);
}
