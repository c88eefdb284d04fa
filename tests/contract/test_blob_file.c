/*
 * What only the directory blob store promises: it creates its directory, fans
 * objects out into two-character subdirectories, leaves no temporary files,
 * and detects bytes damaged on disk (CHAT_ERR_CHECKSUM_MISMATCH). The tests
 * reach into the directory, so they cannot run against S3.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chat/backend/blob.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const chat_blob_ops *S;
static void *impl;
static char root[4096];

static void setup(void)
{
    contract_begin("blobfile");
    /* A nested directory that does not exist yet. */
    snprintf(root, sizeof root, "%s/a/b/blobs", contract_tmpdir());
    char url[4200];
    snprintf(url, sizeof url, "file:%s", root);
    S = chati_backend_find(CHATI_IFACE_BLOB, url);
    ck_assert_ptr_nonnull(S);
    ck_assert_str_eq(S->scheme, "file");
    ck_assert_chat_ok(S->open(url, contract_cfg(), &impl));
}

static void teardown(void)
{
    if (impl)
        S->close(impl);
    impl = NULL;
    contract_end();
}

/* Finds the single regular file under root (depth 2); returns how many. */
static int find_files(char *out, size_t n, int *tmp_count)
{
    int count = 0;
    *tmp_count = 0;
    DIR *d = opendir(root);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sub[4400];
        snprintf(sub, sizeof sub, "%s/%s", root, de->d_name);
        struct stat st;
        ck_assert_int_eq(stat(sub, &st), 0);
        ck_assert_msg(S_ISDIR(st.st_mode), "%s is not a fan-out directory", sub);
        ck_assert_uint_eq(strlen(de->d_name), 2);
        DIR *d2 = opendir(sub);
        struct dirent *f;
        while ((f = readdir(d2)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            if (strstr(f->d_name, ".tmp."))
                (*tmp_count)++;
            else if (count++ == 0)
                snprintf(out, n, "%s/%s", sub, f->d_name);
        }
        closedir(d2);
    }
    closedir(d);
    return count;
}

static void put_one(const char *k, const char *s)
{
    ck_assert_chat_ok(S->put(impl, k, s, strlen(s), NULL));
}

START_TEST(test_layout_and_no_temp_files)
{
    struct stat st;
    ck_assert_int_eq(stat(root, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    for (int i = 0; i < 5; i++)
        put_one("T1/F1/photo.png", "v");
    char path[8192];
    int tmp;
    ck_assert_int_eq(find_files(path, sizeof path, &tmp), 1);
    ck_assert_int_eq(tmp, 0);
    /* The subdirectory is the first two hex digits of the key's SHA-256. */
    char h[65];
    chati_sha256_hex("T1/F1/photo.png", strlen("T1/F1/photo.png"), h);
    char want[8];
    snprintf(want, sizeof want, "/%.2s/", h);
    ck_assert_ptr_nonnull(strstr(path, want));
}
END_TEST

static void flip_byte_at_end(const char *path)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    off_t end = lseek(fd, 0, SEEK_END);
    ck_assert_int_gt(end, 0);
    unsigned char c;
    ck_assert_int_eq(pread(fd, &c, 1, end - 1), 1);
    c ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &c, 1, end - 1), 1);
    close(fd);
}

START_TEST(test_corruption_detected)
{
    put_one("F9", "precious bytes");
    char path[8192];
    int tmp;
    ck_assert_int_eq(find_files(path, sizeof path, &tmp), 1);
    flip_byte_at_end(path);
    void *data = NULL;
    size_t len;
    ck_assert_chat_err(S->get(impl, "F9", &data, &len), CHAT_ERR_CHECKSUM_MISMATCH);
    ck_assert_ptr_null(data);
    /* A fresh put repairs it. */
    put_one("F9", "precious bytes");
    ck_assert_chat_ok(S->get(impl, "F9", &data, &len));
    chat_free(data);
}
END_TEST

START_TEST(test_truncation_detected)
{
    put_one("F8", "some longer content to cut short");
    char path[8192];
    int tmp;
    ck_assert_int_eq(find_files(path, sizeof path, &tmp), 1);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size - 5), 0);
    void *data = NULL;
    size_t len;
    ck_assert_chat_err(S->get(impl, "F8", &data, &len), CHAT_ERR_CHECKSUM_MISMATCH);
    ck_assert_int_eq(truncate(path, 3), 0); /* shorter than the header */
    ck_assert_chat_err(S->get(impl, "F8", &data, &len), CHAT_ERR_CHECKSUM_MISMATCH);
}
END_TEST

START_TEST(test_relative_url)
{
    ck_assert_int_eq(chdir(contract_tmpdir()), 0);
    void *rel = NULL;
    ck_assert_chat_ok(S->open("file:rel/blobs", contract_cfg(), &rel));
    ck_assert_chat_ok(S->put(rel, "k", "v", 1, NULL));
    S->close(rel);
    struct stat st;
    ck_assert_int_eq(stat("rel/blobs", &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    /* "file:///abs" names the same directory as "file:/abs". */
    char url[4200];
    snprintf(url, sizeof url, "file://%s/rel/blobs", contract_tmpdir());
    ck_assert_chat_ok(S->open(url, contract_cfg(), &rel));
    void *data = NULL;
    size_t len;
    ck_assert_chat_ok(S->get(rel, "k", &data, &len));
    ck_assert_uint_eq(len, 1);
    chat_free(data);
    S->close(rel);
}
END_TEST

START_TEST(test_bad_urls)
{
    void *x = NULL;
    ck_assert_chat_err(S->open("file:", contract_cfg(), &x), CHAT_ERR_INVALID_CONFIG);
    char url[4200];
    /* A regular file where the directory should be. */
    snprintf(url, sizeof url, "%s/plain", contract_tmpdir());
    FILE *f = fopen(url, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(url, sizeof url, "file:%s/plain", contract_tmpdir());
    ck_assert_int_ne(S->open(url, contract_cfg(), &x), CHAT_OK);
}
END_TEST

static Suite *blob_file_suite(void)
{
    Suite *s = suite_create("file blob store");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_layout_and_no_temp_files);
    tcase_add_test(tc, test_corruption_detected);
    tcase_add_test(tc, test_truncation_detected);
    tcase_add_test(tc, test_relative_url);
    tcase_add_test(tc, test_bad_urls);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "file:{tmp}/blobs");
    return chat_test_run(blob_file_suite());
}
