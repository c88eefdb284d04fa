/*
 * What only static discovery does: read "service address" lines from a file,
 * re-read it when it changes, and keep the last good table when a re-read
 * fails. The tests write the file, so they cannot run against etcd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chat/backend/discovery.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const chat_discovery_ops *D;
static void *impl;
static char path[4096];
static char url[4200];
static time_t bump; /* distinct mtimes without sleeping */

static void write_file(const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    /* Same-size rewrites within one clock tick must still be noticed. */
    struct timespec times[2] = {{++bump, 0}, {bump, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, tmp, times, 0), 0);
    ck_assert_int_eq(rename(tmp, path), 0);
}

/* In-place rewrite (same inode), as an editor without atomic save does. */
static void rewrite_in_place(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    struct timespec times[2] = {{++bump, 0}, {bump, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void setup(void)
{
    contract_begin("discfile");
    snprintf(path, sizeof path, "%s/services", contract_tmpdir());
    snprintf(url, sizeof url, "static:%s", path);
    bump = 1000000;
    D = chati_backend_find(CHATI_IFACE_DISCOVERY, url);
    ck_assert_ptr_nonnull(D);
    ck_assert_str_eq(D->scheme, "static");
    impl = NULL;
}

static void teardown(void)
{
    if (impl)
        D->close(impl);
    impl = NULL;
    contract_end();
}

static char *lookup(const char *service)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(D->lookup(impl, service, &l));
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < chat_list_count(l); i++) {
        if (i)
            strcat(out, ",");
        strcat(out, chat_list_string(l, i));
    }
    chat_list_free(l);
    return out;
}

START_TEST(test_reads_file_at_open)
{
    write_file("# addresses of the services\n"
               "auth    tcp://10.0.0.1:7001\n"
               "auth\ttcp://10.0.0.2:7001   # second replica\n"
               "\n"
               "   user tcp://10.0.0.3:7002\r\n"
               "auth tcp://10.0.0.1:7001\n");
    ck_assert_chat_ok(D->open(url, contract_cfg(), &impl));
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.1:7001,tcp://10.0.0.2:7001");
    ck_assert_str_eq(lookup("user"), "tcp://10.0.0.3:7002");
    ck_assert_str_eq(lookup("channel"), "");
}
END_TEST

START_TEST(test_rereads_when_changed)
{
    write_file("auth tcp://10.0.0.1:7001\n");
    ck_assert_chat_ok(D->open(url, contract_cfg(), &impl));
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.1:7001");
    write_file("auth tcp://10.0.0.9:7001\n"); /* same size, new file */
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.9:7001");
    rewrite_in_place("auth tcp://10.0.0.8:7001\n"); /* same size, same inode */
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.8:7001");
    write_file("user tcp://10.0.0.3:7002\n");
    ck_assert_str_eq(lookup("auth"), "");
    ck_assert_str_eq(lookup("user"), "tcp://10.0.0.3:7002");
}
END_TEST

START_TEST(test_missing_file_then_created)
{
    ck_assert_chat_ok(D->open(url, contract_cfg(), &impl));
    ck_assert_str_eq(lookup("auth"), "");
    write_file("auth tcp://10.0.0.1:7001\n");
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.1:7001");
    unlink(path);
    ck_assert_str_eq(lookup("auth"), "");
}
END_TEST

START_TEST(test_bad_file)
{
    write_file("auth\n");
    void *x = NULL;
    ck_assert_chat_err(D->open(url, contract_cfg(), &x), CHAT_ERR_INVALID_CONFIG);
    write_file("auth tcp://a:1 extra\n");
    ck_assert_chat_err(D->open(url, contract_cfg(), &x), CHAT_ERR_INVALID_CONFIG);
    /* After a good start, a bad edit keeps the last good table. */
    write_file("auth tcp://10.0.0.1:7001\n");
    ck_assert_chat_ok(D->open(url, contract_cfg(), &impl));
    write_file("auth\n");
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.1:7001");
    write_file("auth tcp://10.0.0.2:7001\n");
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.2:7001");
}
END_TEST

START_TEST(test_announce_beside_file)
{
    write_file("auth tcp://10.0.0.1:7001\n");
    ck_assert_chat_ok(D->open(url, contract_cfg(), &impl));
    ck_assert_chat_ok(D->announce(impl, "auth", "tcp://10.0.0.5:7001", 10));
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.1:7001,tcp://10.0.0.5:7001");
    /* Announced entries outlive file changes; withdrawals hide file entries. */
    write_file("auth tcp://10.0.0.2:7001\n");
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.2:7001,tcp://10.0.0.5:7001");
    ck_assert_chat_ok(D->withdraw(impl, "auth", "tcp://10.0.0.2:7001"));
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.5:7001");
    ck_assert_chat_ok(D->withdraw(impl, "auth", "tcp://10.0.0.5:7001"));
    ck_assert_str_eq(lookup("auth"), "");
    /* Announcing an address the file names lists it once, and keeps it
     * listed when a later file version drops it. */
    write_file("auth tcp://10.0.0.3:7001\n");
    ck_assert_chat_ok(D->announce(impl, "auth", "tcp://10.0.0.3:7001", 10));
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.3:7001");
    write_file("user tcp://10.0.0.4:7002\n");
    ck_assert_str_eq(lookup("auth"), "tcp://10.0.0.3:7001");
}
END_TEST

static Suite *static_suite(void)
{
    Suite *s = suite_create("static discovery file");
    TCase *tc = tcase_create("static");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reads_file_at_open);
    tcase_add_test(tc, test_rereads_when_changed);
    tcase_add_test(tc, test_missing_file_then_created);
    tcase_add_test(tc, test_bad_file);
    tcase_add_test(tc, test_announce_beside_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "static:");
    return chat_test_run(static_suite());
}
