/*
 * tests/support/testutil.h - helpers for libchat's Check suites.
 *
 * ck_assert_chat_ok(expr) fails with the error's name and detail text, so a
 * failing test says why (nng's NUTS_PASS habit).
 */
#ifndef CHAT_TESTUTIL_H
#define CHAT_TESTUTIL_H

#include <check.h>
#include <chat/chat.h>

#define ck_assert_chat_ok(expr)                                                         \
    do {                                                                                \
        chat_err ck_rv_ = (expr);                                                       \
        ck_assert_msg(ck_rv_ == CHAT_OK, "%s -> %s (%s)", #expr, chat_err_name(ck_rv_), \
                      chat_last_errmsg());                                               \
    } while (0)

#define ck_assert_chat_err(expr, want)                                                  \
    do {                                                                                \
        chat_err ck_rv_ = (expr);                                                       \
        ck_assert_msg(ck_rv_ == (want), "%s -> %s, wanted %s (%s)", #expr,              \
                      chat_err_name(ck_rv_), chat_err_name(want), chat_last_errmsg());   \
    } while (0)

/* A fresh empty directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *chat_test_tmpdir(const char *tag);
/* rm -rf path (best effort) and free it. */
void chat_test_rmtree(char *path);

/* A TCP port on 127.0.0.1 that was free a moment ago (for a server to bind). */
int chat_test_free_port(void);

/* Runs a suite with CK_ENV-controlled forking; returns the process exit code. */
int chat_test_run(Suite *s);

#endif
