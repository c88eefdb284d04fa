/*
 * tests/contract/message_store_fixture.h - what the parts of the message
 * store contract suite share (chat_message_store_ops in chat/backend/store.h).
 *
 * One suite, one executable per backend: message_store_fixture.c holds the
 * fixture, these helpers and main(); the tests are split by concern into
 * test_message_store_messages.c (messages, threads, reactions, history,
 * search), test_message_store_files.c (files, outbox) and
 * test_message_store_load.c (reopen, bulk changes, concurrent posts).
 * argv[1] is the store URL template, "{tmp}" becoming a fresh directory per
 * test: "sqlite:{tmp}/message.db", "mongodb://...".
 *
 * Expectations are computed by hand from timestamps the test chooses (the
 * store takes max(now, newest + 1us)), so each test knows every ts exactly.
 * The short names are the ones the tests have always used; only this
 * executable links them.
 */
#ifndef CHAT_MESSAGE_STORE_FIXTURE_H
#define CHAT_MESSAGE_STORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <chat/backend/store.h>

/* The store under test, opened by the fixture's setup for every test. */
extern const chat_message_store_ops *S;
extern void *impl;

/* Test clock: every post without an explicit time gets the next second. */
extern int64_t clock_us;
#define BASE_US INT64_C(1700000000000000)

/* ---- outbox recording ---- */

/* How many times rec_outbox ran (never reset: tests compare before/after). */
extern int outbox_calls;
/* Records data = "ts|text|reply_count|n_reactions" so tests can see what was
 * sent; topic = arg, or "message.test" when arg is NULL. */
chat_err rec_outbox(void *arg, const chat_message *m, chat_outbox_item *out);
/* Half-fills the item, then fails as service_unavailable. */
chat_err failing_outbox(void *arg, const chat_message *m, chat_outbox_item *out);
/* Rows in the outbox (up to 10000). */
size_t outbox_count(void);

/* ---- posting ---- */

/* Posts in team T1 with rec_outbox; out (may be NULL) gets the stored message. */
chat_err post_full(const char *ch, const char *user, const char *text, const char *thread_ts,
                   const char *cmid, bool broadcast, int64_t now, chat_message **out);
/* Posts at now (must succeed); ts_out (may be NULL) gets the ts. */
void post_at(const char *ch, const char *user, const char *text, const char *thread_ts,
             int64_t now, char ts_out[CHAT_TS_SIZE]);
/* Posts at the next test second; ts_out (may be NULL) gets the ts. */
void post(const char *ch, const char *user, const char *text, const char *thread_ts,
          char ts_out[CHAT_TS_SIZE]);

/* ---- reading back ---- */

int64_t us_of(const char *ts);
void fmt(int64_t us, char out[CHAT_TS_SIZE]);
/* The message (must exist); free with chat_message_free. */
chat_message *get(const char *ch, const char *ts);
/* Checks that list l holds exactly the given ts, in order. */
void expect_ts(const chat_list *l, const char *const *want, size_t n);
size_t history_count(const char *ch);
/* Matches on the first page (up to 100). */
size_t search_count(const char *q, const char (*chans)[CHAT_ID_SIZE], size_t n);
/* Every match, through all pages. */
size_t search_total(const char *q, const char (*chans)[CHAT_ID_SIZE], size_t n);

extern const char C1[][CHAT_ID_SIZE];  /* {"C1"} */
extern const char C12[][CHAT_ID_SIZE]; /* {"C1", "C2"} */

/* ---- the suite's parts, added by main() in this order ---- */

void ms_add_message_tests(TCase *tc);      /* ts_strictly_increasing .. full_message_roundtrip */
void ms_add_file_tests(TCase *tc);         /* files, outbox */
void ms_add_load_tests(TCase *tc);         /* reopen_keeps_data .. concurrent_posts */
void ms_add_upload_tests(TCase *tc);       /* file_complete, file_set_title */
void ms_add_grouped_post_tests(TCase *tc); /* grouped_posts_keep_their_results */

#endif
