/*
 * Contract suite for blob stores (chat/backend/blob.h). argv[1] is the blob
 * URL template ("file:{tmp}/blobs", "s3://bucket/prefix", ...).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/blob.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const chat_blob_ops *S;
static void *impl;
static char prefix[64]; /* keys of this test, so a shared bucket is fine */

static void setup(void)
{
    const char *url = contract_begin("blob");
    S = chati_backend_find(CHATI_IFACE_BLOB, url);
    ck_assert_msg(S != NULL, "no blob store registered for %s", url);
    ck_assert_uint_ge(S->version, CHAT_BLOB_V1);
    ck_assert_chat_ok(S->open(url, contract_cfg(), &impl));
    contract_uniq("T", prefix, sizeof prefix);
}

static void teardown(void)
{
    if (impl)
        S->close(impl);
    impl = NULL;
    contract_end();
}

static const char *key(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", prefix, name);
    return buf;
}

static void put_str(const char *k, const char *s)
{
    char sum[65];
    ck_assert_chat_ok(S->put(impl, k, s, strlen(s), sum));
    char want[65];
    chati_sha256_hex(s, strlen(s), want);
    ck_assert_str_eq(sum, want);
}

static void assert_get_str(const char *k, const char *want)
{
    void *data = NULL;
    size_t len = 0;
    ck_assert_chat_ok(S->get(impl, k, &data, &len));
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(data, want, len) == 0);
    chat_free(data);
}

START_TEST(test_put_get_stat)
{
    const char *k = key("F1/hello.txt");
    put_str(k, "hello, world");
    assert_get_str(k, "hello, world");
    int64_t size = -1;
    ck_assert_chat_ok(S->stat(impl, k, &size));
    ck_assert_int_eq(size, 12);
    /* NULL checksum output is allowed. */
    ck_assert_chat_ok(S->put(impl, key("F2"), "x", 1, NULL));
    assert_get_str(key("F2"), "x");
}
END_TEST

START_TEST(test_empty_object)
{
    char sum[65];
    ck_assert_chat_ok(S->put(impl, key("empty"), "", 0, sum));
    ck_assert_str_eq(sum, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    void *data = NULL;
    size_t len = 99;
    ck_assert_chat_ok(S->get(impl, key("empty"), &data, &len));
    ck_assert_uint_eq(len, 0);
    chat_free(data);
    int64_t size = -1;
    ck_assert_chat_ok(S->stat(impl, key("empty"), &size));
    ck_assert_int_eq(size, 0);
}
END_TEST

START_TEST(test_overwrite)
{
    const char *k = key("F3");
    put_str(k, "first version, longer than the second");
    put_str(k, "second");
    assert_get_str(k, "second");
    int64_t size = -1;
    ck_assert_chat_ok(S->stat(impl, k, &size));
    ck_assert_int_eq(size, 6);
}
END_TEST

START_TEST(test_remove_and_not_found)
{
    void *data = NULL;
    size_t len = 0;
    int64_t size;
    ck_assert_chat_err(S->get(impl, key("never"), &data, &len), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_err(S->stat(impl, key("never"), &size), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_err(S->remove(impl, key("never")), CHAT_ERR_NOT_FOUND);

    const char *k = key("F4");
    put_str(k, "bye");
    ck_assert_chat_ok(S->remove(impl, k));
    ck_assert_chat_err(S->get(impl, k, &data, &len), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_err(S->stat(impl, k, &size), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_err(S->remove(impl, k), CHAT_ERR_NOT_FOUND);
    /* The key is usable again. */
    put_str(k, "back");
    assert_get_str(k, "back");
}
END_TEST

START_TEST(test_keys_are_distinct)
{
    /* Keys that a careless path mapping could merge. */
    const char *names[] = {"a/b", "a_b", "a%2Fb", "A/B", "a/b/", "a b", "a/b/c"};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(names); i++)
        put_str(key(names[i]), names[i]);
    for (size_t i = 0; i < CHATI_ARRAY_LEN(names); i++)
        assert_get_str(key(names[i]), names[i]);
}
END_TEST

START_TEST(test_bad_keys)
{
    char longkey[202];
    memset(longkey, 'k', 201);
    longkey[201] = '\0';
    const char *bad[] = {"", "/abs", "../up", "a/../b", "a/..", "..", "tab\there",
                         "new\nline", "del\x7f", "utf8-\xc3\xa9", longkey};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(bad); i++) {
        void *data = NULL;
        size_t len;
        int64_t size;
        ck_assert_msg(S->put(impl, bad[i], "x", 1, NULL) == CHAT_ERR_INVALID_ARGUMENTS,
                      "put accepted bad key #%zu", i);
        ck_assert_msg(S->get(impl, bad[i], &data, &len) == CHAT_ERR_INVALID_ARGUMENTS,
                      "get accepted bad key #%zu", i);
        ck_assert_msg(S->stat(impl, bad[i], &size) == CHAT_ERR_INVALID_ARGUMENTS,
                      "stat accepted bad key #%zu", i);
        ck_assert_msg(S->remove(impl, bad[i]) == CHAT_ERR_INVALID_ARGUMENTS,
                      "remove accepted bad key #%zu", i);
    }
    ck_assert_chat_err(S->put(impl, NULL, "x", 1, NULL), CHAT_ERR_INVALID_ARGUMENTS);
    /* 200 bytes is still fine, as are single dots and printable punctuation. */
    char okkey[201];
    size_t pl = strlen(prefix);
    memcpy(okkey, prefix, pl);
    memset(okkey + pl, 'k', 200 - pl);
    okkey[200] = '\0';
    put_str(okkey, "max");
    assert_get_str(okkey, "max");
    put_str(key("./x.y-z_~!@$&()+,;=[]{}"), "punct");
    assert_get_str(key("./x.y-z_~!@$&()+,;=[]{}"), "punct");
}
END_TEST

START_TEST(test_large_object)
{
    size_t n = 8u << 20;
    unsigned char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        big[i] = (unsigned char)x;
    }
    char sum[65], want[65];
    ck_assert_chat_ok(S->put(impl, key("big.bin"), big, n, sum));
    chati_sha256_hex(big, n, want);
    ck_assert_str_eq(sum, want);
    void *data = NULL;
    size_t len = 0;
    ck_assert_chat_ok(S->get(impl, key("big.bin"), &data, &len));
    ck_assert_uint_eq(len, n);
    ck_assert(memcmp(data, big, n) == 0);
    chat_free(data);
    int64_t size;
    ck_assert_chat_ok(S->stat(impl, key("big.bin"), &size));
    ck_assert_int_eq(size, (int64_t)n);
    free(big);
}
END_TEST

/* ---- concurrent writers of one key ---- */

enum { WRITERS = 4, ROUNDS = 15, OBJ = 256 * 1024 };

typedef struct writer {
    int id;
    const char *key;
    atomic_int errors;
} writer;

static atomic_bool stop_reader;
static atomic_int torn, read_errors, reads_ok;

/* Object of writer w, round r: every byte equals (w * 31 + r) & 0xff, and its
 * length depends on w so a mix of two writers shows up too. */
static size_t obj_len(int w)
{
    return OBJ + (size_t)w * 4099;
}

static void *writer_main(void *arg)
{
    writer *wr = arg;
    unsigned char *buf = malloc(obj_len(wr->id));
    for (int r = 0; r < ROUNDS; r++) {
        memset(buf, (wr->id * 31 + r) & 0xff, obj_len(wr->id));
        if (S->put(impl, wr->key, buf, obj_len(wr->id), NULL) != CHAT_OK)
            atomic_fetch_add(&wr->errors, 1);
    }
    free(buf);
    return NULL;
}

static bool whole(const unsigned char *d, size_t len)
{
    int w = -1;
    for (int i = 0; i < WRITERS; i++)
        if (len == obj_len(i))
            w = i;
    if (w < 0 || len == 0)
        return false;
    int r = (d[0] - w * 31) & 0xff;
    if (r >= ROUNDS)
        return false;
    for (size_t i = 1; i < len; i++)
        if (d[i] != d[0])
            return false;
    return true;
}

static void *reader_main(void *arg)
{
    const char *k = arg;
    while (!atomic_load(&stop_reader)) {
        void *data = NULL;
        size_t len = 0;
        chat_err rv = S->get(impl, k, &data, &len);
        if (rv == CHAT_OK) {
            if (!whole(data, len))
                atomic_fetch_add(&torn, 1);
            else
                atomic_fetch_add(&reads_ok, 1);
            chat_free(data);
        } else if (rv != CHAT_ERR_NOT_FOUND) {
            atomic_fetch_add(&read_errors, 1);
        }
    }
    return NULL;
}

START_TEST(test_concurrent_puts_same_key)
{
    char k[256];
    snprintf(k, sizeof k, "%s", key("contended"));
    atomic_init(&stop_reader, false);
    atomic_init(&torn, 0);
    atomic_init(&read_errors, 0);
    atomic_init(&reads_ok, 0);
    pthread_t rt, wt[WRITERS];
    writer w[WRITERS];
    ck_assert_int_eq(pthread_create(&rt, NULL, reader_main, k), 0);
    for (int i = 0; i < WRITERS; i++) {
        w[i].id = i;
        w[i].key = k;
        atomic_init(&w[i].errors, 0);
        ck_assert_int_eq(pthread_create(&wt[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    atomic_store(&stop_reader, true);
    pthread_join(rt, NULL);
    for (int i = 0; i < WRITERS; i++)
        ck_assert_int_eq(atomic_load(&w[i].errors), 0);
    ck_assert_int_eq(atomic_load(&torn), 0);
    ck_assert_int_eq(atomic_load(&read_errors), 0);

    void *data = NULL;
    size_t len = 0;
    ck_assert_chat_ok(S->get(impl, k, &data, &len));
    ck_assert(whole(data, len));
    chat_free(data);
}
END_TEST

START_TEST(test_reopen_keeps_objects)
{
    put_str(key("persist"), "still here");
    S->close(impl);
    impl = NULL;
    /* Same URL (same temp dir), a new handle. */
    const char *url = contract_url();
    ck_assert_chat_ok(S->open(url, contract_cfg(), &impl));
    assert_get_str(key("persist"), "still here");
}
END_TEST

static Suite *blob_suite(void)
{
    Suite *s = suite_create("blob contract");
    TCase *tc = tcase_create("blob");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_put_get_stat);
    tcase_add_test(tc, test_empty_object);
    tcase_add_test(tc, test_overwrite);
    tcase_add_test(tc, test_remove_and_not_found);
    tcase_add_test(tc, test_keys_are_distinct);
    tcase_add_test(tc, test_bad_keys);
    tcase_add_test(tc, test_large_object);
    tcase_add_test(tc, test_concurrent_puts_same_key);
    tcase_add_test(tc, test_reopen_keeps_objects);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "file:{tmp}/blobs");
    return chat_test_run(blob_suite());
}
