/*
 * The message store contract suite's fixture and assembly: the store under
 * test, the helpers every part of the suite posts and checks with, and main().
 * The tests are in test_message_store_{messages,files,load}.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <chat/backend/store.h>

#include "contract.h"
#include "core/internal.h"
#include "message_store_fixture.h"
#include "testutil.h"

const chat_message_store_ops *S;
void *impl;
int64_t clock_us;

static void setup(void)
{
    const char *url = contract_begin("message");
    S = chati_backend_find(CHATI_IFACE_MESSAGE, url);
    ck_assert_msg(S != NULL, "no message store registered for %s", url);
    ck_assert_uint_ge(S->version, CHAT_STORE_V1);
    ck_assert_chat_ok(S->open(url, contract_cfg(), &impl));
    clock_us = BASE_US;
}

static void teardown(void)
{
    if (impl != NULL)
        S->close(impl);
    impl = NULL;
    contract_end();
}

/* ---- outbox recording ---- */

int outbox_calls;

chat_err rec_outbox(void *arg, const chat_message *m, chat_outbox_item *out)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s|%s|%" PRId64 "|%zu", m->ts, m->text ? m->text : "",
                     m->reply_count, m->n_reactions);
    out->topic = chat_strdup(arg != NULL ? (const char *)arg : "message.test");
    out->key = chat_strdup(m->channel);
    out->data = chat_malloc((size_t)n);
    memcpy(out->data, buf, (size_t)n);
    out->len = (size_t)n;
    outbox_calls++;
    return CHAT_OK;
}

chat_err failing_outbox(void *arg, const chat_message *m, chat_outbox_item *out)
{
    (void)arg;
    (void)m;
    out->topic = chat_strdup("half-filled"); /* the store must free it */
    return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "outbox refused");
}

size_t outbox_count(void)
{
    chat_outbox_item *items = NULL;
    size_t n = 0;
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 10000, &items, &n));
    chat_outbox_items_free(items, n);
    return n;
}

/* ---- posting ---- */

chat_err post_full(const char *ch, const char *user, const char *text, const char *thread_ts,
                   const char *cmid, bool broadcast, int64_t now, chat_message **out)
{
    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, ch);
    strcpy(m.user, user);
    strcpy(m.team_id, "T1");
    m.text = (char *)text;
    if (thread_ts != NULL)
        strcpy(m.thread_ts, thread_ts);
    m.client_msg_id = (char *)cmid;
    m.reply_broadcast = broadcast;
    return S->post(impl, &m, now, rec_outbox, NULL, out);
}

void post_at(const char *ch, const char *user, const char *text, const char *thread_ts,
             int64_t now, char ts_out[CHAT_TS_SIZE])
{
    chat_message *m = NULL;
    ck_assert_chat_ok(post_full(ch, user, text, thread_ts, NULL, false, now, &m));
    ck_assert_ptr_nonnull(m);
    if (ts_out != NULL)
        strcpy(ts_out, m->ts);
    chat_message_free(m);
}

void post(const char *ch, const char *user, const char *text, const char *thread_ts,
          char ts_out[CHAT_TS_SIZE])
{
    clock_us += 1000000;
    post_at(ch, user, text, thread_ts, clock_us, ts_out);
}

int64_t us_of(const char *ts)
{
    int64_t us = 0;
    ck_assert_msg(chati_ts_parse(ts, &us), "bad ts %s", ts);
    return us;
}

void fmt(int64_t us, char out[CHAT_TS_SIZE])
{
    chati_ts_format(us, out);
}

chat_message *get(const char *ch, const char *ts)
{
    chat_message *m = NULL;
    ck_assert_chat_ok(S->get(impl, ch, ts, &m));
    ck_assert_ptr_nonnull(m);
    return m;
}

void expect_ts(const chat_list *l, const char *const *want, size_t n)
{
    ck_assert_uint_eq(chat_list_count(l), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(chat_list_message(l, i)->ts, want[i]);
}

size_t history_count(const char *ch)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(S->history(impl, ch, NULL, NULL, false, 1000, NULL, &l));
    size_t n = chat_list_count(l);
    chat_list_free(l);
    return n;
}

size_t search_count(const char *q, const char (*chans)[CHAT_ID_SIZE], size_t n)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(S->search(impl, q, chans, n, NULL, 100, &l));
    size_t c = chat_list_count(l);
    chat_list_free(l);
    return c;
}

size_t search_total(const char *q, const char (*chans)[CHAT_ID_SIZE], size_t n)
{
    size_t total = 0;
    char *cur = NULL;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(S->search(impl, q, chans, n, cur, 1000, &l));
        chat_free(cur);
        cur = chat_list_next_cursor(l) ? chat_strdup(chat_list_next_cursor(l)) : NULL;
        total += chat_list_count(l);
        chat_list_free(l);
    } while (cur != NULL);
    return total;
}

const char C1[][CHAT_ID_SIZE] = {"C1"};
const char C12[][CHAT_ID_SIZE] = {"C1", "C2"};

int main(int argc, char **argv)
{
    contract_init(argc, argv, "sqlite:{tmp}/message.db");
    Suite *s = suite_create("message_store");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    /* In the order the suite has always run them. */
    ms_add_message_tests(tc);
    ms_add_file_tests(tc);
    ms_add_load_tests(tc);
    ms_add_upload_tests(tc);
    ms_add_grouped_post_tests(tc);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
