/*
 * tests/contract/contract.h - what every contract suite shares.
 *
 * A contract suite tests one backend interface through the registry, so the
 * very same tests run against every backend of that interface. The executable
 * takes the backend URL template as argv[1]; "{tmp}" in it becomes a fresh
 * temporary directory per test and "{uniq}" a fresh name (lowercase letters,
 * digits and '_': usable as a database, schema or bucket name). Names that
 * live on a shared server (topics, groups, users, services) come from
 * contract_uniq() so runs never collide.
 */
#ifndef CHAT_CONTRACT_H
#define CHAT_CONTRACT_H

#include <stddef.h>

#include <chat/chat.h>

/* Remembers argv[1] (or default_url when absent) and adds the built-in
 * backends to the registry, so chati_backend_find() finds them without
 * chat_open. Call first in main(). */
void contract_init(int argc, char **argv, const char *default_url);
/* The template as given. */
const char *contract_template(void);

/* For a fixture's setup: makes the temp dir and expands the template. The
 * URL stays valid until contract_end(). */
const char *contract_begin(const char *tag);
/* The URL contract_begin() returned, for reopening. */
const char *contract_url(void);
/* The temp dir of the running test. */
const char *contract_tmpdir(void);
/* For a fixture's teardown: removes the temp dir. */
void contract_end(void);

/* An empty configuration to open backends with (owned by the helper). */
const chat_config *contract_cfg(void);

/* base + "-" + something unique to this process and call, e.g. "t-4711-3-9f2c". */
void contract_uniq(const char *base, char *buf, size_t n);

/* For tests that drive a fixture script: runs the printf-formatted shell
 * command and returns its first output line, trimmed (a static buffer, valid
 * until the next call). A command that fails is reported on stderr. */
const char *contract_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The port at the end of "scheme://host:PORT" (0 when none). */
int contract_port_of(const char *url);

/* For failure tests (in a Check test): call must fail as service_unavailable
 * within max_ms, with word (the backend's name) in its detail. */
#define CONTRACT_ASSERT_DOWN(call, word, max_ms)                                       \
    do {                                                                               \
        long long t0_ = contract_now_ms();                                             \
        chat_err rv_ = (call);                                                         \
        long long dt_ = contract_now_ms() - t0_;                                       \
        ck_assert_msg(rv_ == CHAT_ERR_SERVICE_UNAVAILABLE, "%s -> %s (%s)", #call,     \
                      chat_err_name(rv_), chat_last_errmsg());                          \
        ck_assert_msg(strstr(chat_last_errmsg(), (word)) != NULL, "detail: %s",         \
                      chat_last_errmsg());                                              \
        ck_assert_msg(dt_ < (max_ms), "%s took %lld ms", #call, dt_);                  \
    } while (0)

/* Sleeps ms milliseconds. */
void contract_sleep_ms(int ms);
/* Monotonic milliseconds. */
long long contract_now_ms(void);

#endif
