/*
 * Contract suite for message stores (chat_message_store_ops in
 * chat/backend/store.h). argv[1] is the store URL template, "{tmp}" becoming a
 * fresh directory per test: "sqlite:{tmp}/message.db", "mongodb://...".
 *
 * Expectations are computed by hand from timestamps the test chooses (the
 * store takes max(now, newest + 1us)), so each test knows every ts exactly.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

static const chat_message_store_ops *S;
static void *impl;

/* Test clock: every post without an explicit time gets the next second. */
static int64_t clock_us;
#define BASE_US INT64_C(1700000000000000)

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

static int outbox_calls;

/* data = "ts|text|reply_count|n_reactions" so tests can see what was sent. */
static chat_err rec_outbox(void *arg, const chat_message *m, chat_outbox_item *out)
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

static chat_err failing_outbox(void *arg, const chat_message *m, chat_outbox_item *out)
{
    (void)arg;
    (void)m;
    out->topic = chat_strdup("half-filled"); /* the store must free it */
    return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "outbox refused");
}

static size_t outbox_count(void)
{
    chat_outbox_item *items = NULL;
    size_t n = 0;
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 10000, &items, &n));
    chat_outbox_items_free(items, n);
    return n;
}

/* ---- posting ---- */

static chat_err post_full(const char *ch, const char *user, const char *text,
                          const char *thread_ts, const char *cmid, bool broadcast,
                          int64_t now, chat_message **out)
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

/* Posts at the next test second; ts_out (may be NULL) gets the ts. */
static void post_at(const char *ch, const char *user, const char *text, const char *thread_ts,
                    int64_t now, char ts_out[CHAT_TS_SIZE])
{
    chat_message *m = NULL;
    ck_assert_chat_ok(post_full(ch, user, text, thread_ts, NULL, false, now, &m));
    ck_assert_ptr_nonnull(m);
    if (ts_out != NULL)
        strcpy(ts_out, m->ts);
    chat_message_free(m);
}

static void post(const char *ch, const char *user, const char *text, const char *thread_ts,
                 char ts_out[CHAT_TS_SIZE])
{
    clock_us += 1000000;
    post_at(ch, user, text, thread_ts, clock_us, ts_out);
}

static int64_t us_of(const char *ts)
{
    int64_t us = 0;
    ck_assert_msg(chati_ts_parse(ts, &us), "bad ts %s", ts);
    return us;
}

static void fmt(int64_t us, char out[CHAT_TS_SIZE])
{
    chati_ts_format(us, out);
}

static chat_message *get(const char *ch, const char *ts)
{
    chat_message *m = NULL;
    ck_assert_chat_ok(S->get(impl, ch, ts, &m));
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Checks that list l holds exactly the given ts, in order. */
static void expect_ts(const chat_list *l, const char *const *want, size_t n)
{
    ck_assert_uint_eq(chat_list_count(l), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(chat_list_message(l, i)->ts, want[i]);
}

static size_t history_count(const char *ch)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(S->history(impl, ch, NULL, NULL, false, 1000, NULL, &l));
    size_t n = chat_list_count(l);
    chat_list_free(l);
    return n;
}

static size_t search_count(const char *q, const char (*chans)[CHAT_ID_SIZE], size_t n)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(S->search(impl, q, chans, n, NULL, 100, &l));
    size_t c = chat_list_count(l);
    chat_list_free(l);
    return c;
}

/* Every match, through all pages. */
static size_t search_total(const char *q, const char (*chans)[CHAT_ID_SIZE], size_t n)
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

static const char C1[][CHAT_ID_SIZE] = {"C1"};
static const char C12[][CHAT_ID_SIZE] = {"C1", "C2"};

/* ------------------------------------------------------------- tests --- */

START_TEST(ts_strictly_increasing)
{
    chat_message *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    int64_t now = BASE_US + 5000000;
    ck_assert_chat_ok(post_full("C1", "U1", "one", NULL, NULL, false, now, &a));
    ck_assert_chat_ok(post_full("C1", "U1", "two", NULL, NULL, false, now, &b));
    /* The clock goes backwards by a minute. */
    ck_assert_chat_ok(post_full("C1", "U1", "three", NULL, NULL, false, now - 60000000, &c));
    ck_assert_chat_ok(post_full("C1", "U1", "four", NULL, NULL, false, now + 10, &d));
    /* Another channel has its own sequence. */
    ck_assert_chat_ok(post_full("C2", "U1", "other", NULL, NULL, false, now, &e));

    ck_assert_int_eq(us_of(a->ts), now);
    ck_assert_int_eq(us_of(b->ts), now + 1);
    ck_assert_int_eq(us_of(c->ts), now + 2);
    ck_assert_int_eq(us_of(d->ts), now + 10);
    ck_assert_int_eq(us_of(e->ts), now);
    ck_assert_str_eq(a->channel, "C1");
    ck_assert_str_eq(a->text, "one");
    ck_assert_str_eq(a->user, "U1");

    /* What post returned is what get reads back. */
    chat_message *g = get("C1", c->ts);
    ck_assert_str_eq(g->text, "three");
    chat_message_free(g);

    chat_message *n1 = NULL, *n2 = NULL;
    ck_assert_chat_ok(post_full("C1", "U1", "later", NULL, NULL, false, now + 10, &n1));
    ck_assert_chat_ok(post_full("C1", "U1", "later2", NULL, NULL, false, now + 11, &n2));
    ck_assert_int_eq(us_of(n1->ts), now + 11);
    ck_assert_int_eq(us_of(n2->ts), now + 12);
    chat_message_free(n1);
    chat_message_free(n2);

    chat_message_free(a);
    chat_message_free(b);
    chat_message_free(c);
    chat_message_free(d);
    chat_message_free(e);
}
END_TEST

START_TEST(client_msg_id_dedupe)
{
    chat_message *first = NULL, *again = NULL, *other = NULL;
    ck_assert_chat_ok(post_full("C1", "U1", "hello", NULL, "cmid-1", false, BASE_US, &first));
    size_t before = history_count("C1");
    size_t ob = outbox_count();
    ck_assert_chat_err(post_full("C1", "U1", "hello again", NULL, "cmid-1", false,
                                 BASE_US + 1000000, &again),
                       CHAT_ERR_DUPLICATE);
    ck_assert_ptr_nonnull(again);
    ck_assert_str_eq(again->ts, first->ts);
    ck_assert_str_eq(again->text, "hello");
    ck_assert_str_eq(again->client_msg_id, "cmid-1");
    chat_message_free(again);
    ck_assert_uint_eq(history_count("C1"), before);
    ck_assert_uint_eq(outbox_count(), ob);

    /* *out may be NULL on a duplicate too. */
    ck_assert_chat_err(post_full("C1", "U1", "x", NULL, "cmid-1", false, BASE_US + 2, NULL),
                       CHAT_ERR_DUPLICATE);
    /* The key is per channel. */
    ck_assert_chat_ok(post_full("C2", "U1", "hello", NULL, "cmid-1", false, BASE_US, &other));
    /* No key: never a duplicate. */
    ck_assert_chat_ok(post_full("C1", "U1", "hello", NULL, NULL, false, BASE_US, NULL));
    ck_assert_chat_ok(post_full("C1", "U1", "hello", NULL, "", false, BASE_US, NULL));
    ck_assert_chat_ok(post_full("C1", "U1", "hello", NULL, "", false, BASE_US, NULL));
    ck_assert_uint_eq(history_count("C1"), before + 3);
    chat_message_free(first);
    chat_message_free(other);
}
END_TEST

START_TEST(thread_counters)
{
    char p[CHAT_TS_SIZE], r1[CHAT_TS_SIZE], r2[CHAT_TS_SIZE], r3[CHAT_TS_SIZE],
        r4[CHAT_TS_SIZE];
    post("C1", "U0", "parent", NULL, p);
    post("C1", "U1", "first", p, r1);
    post("C1", "U2", "second", p, r2);
    post("C1", "U1", "third", p, r3);

    chat_message *m = get("C1", p);
    ck_assert_int_eq(m->reply_count, 3);
    ck_assert_str_eq(m->latest_reply, r3);
    ck_assert_str_eq(m->thread_ts, p);
    ck_assert_uint_eq(m->n_reply_users, 2);
    ck_assert_str_eq(m->reply_users[0], "U1");
    ck_assert_str_eq(m->reply_users[1], "U2");
    chat_message_free(m);

    m = get("C1", r2);
    ck_assert_str_eq(m->thread_ts, p);
    ck_assert_int_eq(m->reply_count, 0);
    chat_message_free(m);

    /* Replying to a reply's ts joins the same thread. */
    post("C1", "U3", "fourth", r1, r4);
    m = get("C1", r4);
    ck_assert_str_eq(m->thread_ts, p);
    chat_message_free(m);
    m = get("C1", p);
    ck_assert_int_eq(m->reply_count, 4);
    ck_assert_str_eq(m->latest_reply, r4);
    ck_assert_uint_eq(m->n_reply_users, 3);
    ck_assert_str_eq(m->reply_users[2], "U3");
    chat_message_free(m);

    /* U2's only reply goes: U2 leaves reply_users. */
    ck_assert_chat_ok(S->remove(impl, "C1", r2, rec_outbox, NULL));
    m = get("C1", p);
    ck_assert_int_eq(m->reply_count, 3);
    ck_assert_str_eq(m->latest_reply, r4);
    ck_assert_uint_eq(m->n_reply_users, 2);
    ck_assert_str_eq(m->reply_users[0], "U1");
    ck_assert_str_eq(m->reply_users[1], "U3");
    chat_message_free(m);

    /* The latest reply goes: latest_reply falls back. */
    ck_assert_chat_ok(S->remove(impl, "C1", r4, rec_outbox, NULL));
    m = get("C1", p);
    ck_assert_int_eq(m->reply_count, 2);
    ck_assert_str_eq(m->latest_reply, r3);
    ck_assert_uint_eq(m->n_reply_users, 1);
    ck_assert_str_eq(m->reply_users[0], "U1");
    chat_message_free(m);

    /* U1's first reply goes; U1 stays (has r3). */
    ck_assert_chat_ok(S->remove(impl, "C1", r1, rec_outbox, NULL));
    ck_assert_chat_ok(S->remove(impl, "C1", r3, rec_outbox, NULL));
    m = get("C1", p);
    ck_assert_int_eq(m->reply_count, 0);
    ck_assert_str_eq(m->latest_reply, "");
    ck_assert_str_eq(m->thread_ts, "");
    ck_assert_uint_eq(m->n_reply_users, 0);
    chat_message_free(m);
}
END_TEST

START_TEST(failed_post_leaves_nothing)
{
    char p[CHAT_TS_SIZE], missing[CHAT_TS_SIZE];
    post("C1", "U1", "top", NULL, p);
    size_t h = history_count("C1"), o = outbox_count();
    int calls = outbox_calls;
    fmt(us_of(p) + 777, missing);
    chat_message *out = NULL;
    ck_assert_chat_err(post_full("C1", "U1", "lost", missing, "cmid-x", false, BASE_US, &out),
                       CHAT_ERR_THREAD_NOT_FOUND);
    ck_assert_ptr_null(out);
    ck_assert_chat_err(post_full("C1", "U1", "lost", "garbage", NULL, false, BASE_US, &out),
                       CHAT_ERR_THREAD_NOT_FOUND);
    /* A thread in another channel is not a thread here. */
    ck_assert_chat_err(post_full("C2", "U1", "lost", p, NULL, false, BASE_US, &out),
                       CHAT_ERR_THREAD_NOT_FOUND);
    ck_assert_int_eq(outbox_calls, calls);
    ck_assert_uint_eq(history_count("C1"), h);
    ck_assert_uint_eq(history_count("C2"), 0);
    ck_assert_uint_eq(outbox_count(), o);
    ck_assert_uint_eq(search_count("lost", C12, 2), 0);

    /* Nor is the idempotency key used up. */
    ck_assert_chat_ok(post_full("C1", "U1", "kept", NULL, "cmid-x", false, BASE_US, NULL));

    /* An outbox that fails makes the whole post fail. */
    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.user, "U1");
    m.text = "refused";
    ck_assert_chat_err(S->post(impl, &m, BASE_US, failing_outbox, NULL, &out),
                       CHAT_ERR_SERVICE_UNAVAILABLE);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(history_count("C1"), h + 1);
    ck_assert_uint_eq(outbox_count(), o + 1);
    ck_assert_uint_eq(search_count("refused", C1, 1), 0);
    /* And a reply whose outbox fails leaves the parent's counters alone. */
    memcpy(m.thread_ts, p, sizeof m.thread_ts);
    ck_assert_chat_err(S->post(impl, &m, BASE_US, failing_outbox, NULL, &out),
                       CHAT_ERR_SERVICE_UNAVAILABLE);
    chat_message *pm = get("C1", p);
    ck_assert_int_eq(pm->reply_count, 0);
    ck_assert_uint_eq(pm->n_reply_users, 0);
    chat_message_free(pm);
}
END_TEST

START_TEST(reactions)
{
    char ts[CHAT_TS_SIZE], missing[CHAT_TS_SIZE];
    post("C1", "U1", "react to me", NULL, ts);
    int calls = outbox_calls;
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "thumbsup", "U1", rec_outbox, NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "smile", "U2", rec_outbox, NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "thumbsup", "U3", rec_outbox, NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "thumbsup", "U2", rec_outbox, NULL));
    ck_assert_int_eq(outbox_calls, calls + 4);
    ck_assert_chat_err(S->add_reaction(impl, "C1", ts, "thumbsup", "U1", rec_outbox, NULL),
                       CHAT_ERR_ALREADY_REACTED);
    ck_assert_chat_err(S->remove_reaction(impl, "C1", ts, "smile", "U1", rec_outbox, NULL),
                       CHAT_ERR_NO_REACTION);
    ck_assert_int_eq(outbox_calls, calls + 4);

    chat_message *m = get("C1", ts);
    ck_assert_uint_eq(m->n_reactions, 2);
    ck_assert_str_eq(m->reactions[0].name, "thumbsup");
    ck_assert_uint_eq(m->reactions[0].n_users, 3);
    ck_assert_str_eq(m->reactions[0].users[0], "U1");
    ck_assert_str_eq(m->reactions[0].users[1], "U3");
    ck_assert_str_eq(m->reactions[0].users[2], "U2");
    ck_assert_str_eq(m->reactions[1].name, "smile");
    ck_assert_uint_eq(m->reactions[1].n_users, 1);
    ck_assert_str_eq(m->reactions[1].users[0], "U2");
    chat_message_free(m);

    ck_assert_chat_ok(S->remove_reaction(impl, "C1", ts, "thumbsup", "U1", rec_outbox, NULL));
    ck_assert_chat_ok(S->remove_reaction(impl, "C1", ts, "smile", "U2", rec_outbox, NULL));
    m = get("C1", ts);
    ck_assert_uint_eq(m->n_reactions, 1);
    ck_assert_str_eq(m->reactions[0].name, "thumbsup");
    ck_assert_uint_eq(m->reactions[0].n_users, 2);
    ck_assert_str_eq(m->reactions[0].users[0], "U3");
    ck_assert_str_eq(m->reactions[0].users[1], "U2");
    chat_message_free(m);

    /* Re-adding puts the reactor last. */
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "thumbsup", "U1", NULL, NULL));
    m = get("C1", ts);
    ck_assert_str_eq(m->reactions[0].users[2], "U1");
    chat_message_free(m);

    fmt(us_of(ts) + 5, missing);
    ck_assert_chat_err(S->add_reaction(impl, "C1", missing, "x", "U1", rec_outbox, NULL),
                       CHAT_ERR_MESSAGE_NOT_FOUND);
    ck_assert_chat_err(S->remove_reaction(impl, "C2", ts, "thumbsup", "U3", rec_outbox, NULL),
                       CHAT_ERR_MESSAGE_NOT_FOUND);

    /* Reactions show in history pages too. */
    chat_list *l = NULL;
    ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 10, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    ck_assert_uint_eq(chat_list_message(l, 0)->n_reactions, 1);
    ck_assert_uint_eq(chat_list_message(l, 0)->reactions[0].n_users, 3);
    chat_list_free(l);
}
END_TEST

/* Ten messages at BASE + i seconds, i = 1..10; ts[i] is the i-th. */
static void ten(char ts[11][CHAT_TS_SIZE])
{
    for (int i = 1; i <= 10; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        post_at("C1", "U1", text, NULL, BASE_US + i * INT64_C(1000000), ts[i]);
        ck_assert_int_eq(us_of(ts[i]), BASE_US + i * INT64_C(1000000));
    }
}

START_TEST(history_bounds)
{
    char ts[11][CHAT_TS_SIZE];
    chat_list *l = NULL;
    ten(ts);

    ck_assert_chat_ok(S->history(impl, "C1", ts[7], ts[3], false, 0, NULL, &l));
    expect_ts(l, (const char *[]){ts[6], ts[5], ts[4]}, 3);
    ck_assert(!chat_list_has_more(l));
    ck_assert_ptr_null(chat_list_next_cursor(l));
    chat_list_free(l);

    ck_assert_chat_ok(S->history(impl, "C1", ts[7], ts[3], true, 0, NULL, &l));
    expect_ts(l, (const char *[]){ts[7], ts[6], ts[5], ts[4], ts[3]}, 5);
    chat_list_free(l);

    ck_assert_chat_ok(S->history(impl, "C1", ts[3], NULL, false, 0, NULL, &l));
    expect_ts(l, (const char *[]){ts[2], ts[1]}, 2);
    chat_list_free(l);

    ck_assert_chat_ok(S->history(impl, "C1", "", ts[8], false, 0, NULL, &l));
    expect_ts(l, (const char *[]){ts[10], ts[9]}, 2);
    chat_list_free(l);

    ck_assert_chat_ok(S->history(impl, "C1", NULL, ts[8], true, 0, NULL, &l));
    expect_ts(l, (const char *[]){ts[10], ts[9], ts[8]}, 3);
    chat_list_free(l);

    /* Bounds between messages, in Slack's short form. */
    char lat[32], old[32];
    snprintf(lat, sizeof lat, "%" PRId64 ".5", (BASE_US + 5 * INT64_C(1000000)) / 1000000);
    snprintf(old, sizeof old, "%" PRId64 ".5", (BASE_US + 2 * INT64_C(1000000)) / 1000000);
    ck_assert_chat_ok(S->history(impl, "C1", lat, old, true, 0, NULL, &l));
    expect_ts(l, (const char *[]){ts[5], ts[4], ts[3]}, 3);
    chat_list_free(l);

    /* Paging within bounds: limit 2 over ts[7]..ts[3] inclusive. */
    ck_assert_chat_ok(S->history(impl, "C1", ts[7], ts[3], true, 2, NULL, &l));
    expect_ts(l, (const char *[]){ts[7], ts[6]}, 2);
    ck_assert(chat_list_has_more(l));
    char *cur = chat_strdup(chat_list_next_cursor(l));
    chat_list_free(l);
    ck_assert_chat_ok(S->history(impl, "C1", ts[7], ts[3], true, 2, cur, &l));
    chat_free(cur);
    expect_ts(l, (const char *[]){ts[5], ts[4]}, 2);
    ck_assert(chat_list_has_more(l));
    cur = chat_strdup(chat_list_next_cursor(l));
    chat_list_free(l);
    ck_assert_chat_ok(S->history(impl, "C1", ts[7], ts[3], true, 2, cur, &l));
    chat_free(cur);
    expect_ts(l, (const char *[]){ts[3]}, 1);
    ck_assert(!chat_list_has_more(l));
    ck_assert_ptr_null(chat_list_next_cursor(l));
    chat_list_free(l);

    /* Exactly limit left: no has_more. */
    ck_assert_chat_ok(S->history(impl, "C1", NULL, ts[7], false, 3, NULL, &l));
    expect_ts(l, (const char *[]){ts[10], ts[9], ts[8]}, 3);
    ck_assert(!chat_list_has_more(l));
    chat_list_free(l);

    /* Empty ranges and other channels. */
    ck_assert_chat_ok(S->history(impl, "C1", ts[4], ts[4], false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
    ck_assert_chat_ok(S->history(impl, "C1", ts[4], ts[4], true, 0, NULL, &l));
    expect_ts(l, (const char *[]){ts[4]}, 1);
    chat_list_free(l);
    ck_assert_chat_ok(S->history(impl, "C9", NULL, NULL, false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    ck_assert(!chat_list_has_more(l));
    chat_list_free(l);

    /* Bad arguments. */
    ck_assert_chat_err(S->history(impl, "C1", NULL, NULL, false, 0, "not-a-cursor", &l),
                       CHAT_ERR_INVALID_CURSOR);
    ck_assert_chat_err(S->history(impl, "C1", NULL, NULL, false, -1, NULL, &l),
                       CHAT_ERR_INVALID_LIMIT);
    ck_assert_chat_err(S->history(impl, "C1", NULL, NULL, false, 1001, NULL, &l),
                       CHAT_ERR_INVALID_LIMIT);
    ck_assert_chat_err(S->history(impl, "C1", "yesterday", NULL, false, 0, NULL, &l),
                       CHAT_ERR_INVALID_TS);
}
END_TEST

START_TEST(history_paging_250)
{
    char first[CHAT_TS_SIZE];
    for (int i = 0; i < 250; i++) {
        char text[16];
        snprintf(text, sizeof text, "n%d", i);
        /* Same now for all: the store spaces them 1us apart. */
        post_at("C1", "U1", text, NULL, BASE_US, i == 0 ? first : NULL);
    }
    ck_assert_int_eq(us_of(first), BASE_US);
    chat_list *l = NULL;
    char *cur = NULL;
    int64_t prev = INT64_MAX;
    size_t total = 0, pages = 0;
    const size_t want[] = {100, 100, 50};
    do {
        ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 100, cur, &l));
        chat_free(cur);
        cur = NULL;
        ck_assert_uint_lt(pages, 3);
        ck_assert_uint_eq(chat_list_count(l), want[pages]);
        for (size_t i = 0; i < chat_list_count(l); i++) {
            int64_t t = us_of(chat_list_message(l, i)->ts);
            ck_assert_int_lt(t, prev); /* newest first, no duplicates across pages */
            /* No gaps: consecutive posts are exactly 1us apart. */
            ck_assert_int_eq(t, BASE_US + 249 - (int64_t)total);
            prev = t;
            total++;
        }
        ck_assert(chat_list_has_more(l) == (pages < 2));
        if (chat_list_next_cursor(l) != NULL)
            cur = chat_strdup(chat_list_next_cursor(l));
        pages++;
        chat_list_free(l);
    } while (cur != NULL);
    ck_assert_uint_eq(total, 250);
    ck_assert_uint_eq(pages, 3);

    /* limit 0 means 100. */
    ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 100);
    ck_assert(chat_list_has_more(l));
    chat_list_free(l);
}
END_TEST

START_TEST(history_threads)
{
    char a[CHAT_TS_SIZE], p[CHAT_TS_SIZE], r1[CHAT_TS_SIZE], b[CHAT_TS_SIZE], z[CHAT_TS_SIZE];
    chat_message *bc = NULL;
    post("C1", "U1", "a", NULL, a);
    post("C1", "U1", "parent", NULL, p);
    post("C1", "U2", "quiet reply", p, r1);
    clock_us += 1000000;
    ck_assert_chat_ok(post_full("C1", "U3", "loud reply", p, NULL, true, clock_us, &bc));
    ck_assert(bc->reply_broadcast);
    ck_assert_str_eq(bc->thread_ts, p);
    post("C1", "U1", "b", NULL, b);
    /* reply_broadcast on a top-level message means nothing. */
    clock_us += 1000000;
    ck_assert_chat_ok(post_full("C1", "U1", "z", NULL, NULL, true, clock_us, NULL));
    chat_list *l = NULL;
    ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 0, NULL, &l));
    fmt(clock_us, z);
    expect_ts(l, (const char *[]){z, b, bc->ts, p, a}, 5);
    ck_assert(!chat_list_message(l, 0)->reply_broadcast);
    ck_assert(chat_list_message(l, 2)->reply_broadcast);
    const chat_message *pm = chat_list_message(l, 3);
    ck_assert_int_eq(pm->reply_count, 2);
    ck_assert_str_eq(pm->thread_ts, p);
    ck_assert_uint_eq(pm->n_reply_users, 2);
    ck_assert_str_eq(pm->reply_users[0], "U2");
    ck_assert_str_eq(pm->reply_users[1], "U3");
    ck_assert_str_eq(pm->latest_reply, bc->ts);
    chat_list_free(l);
    chat_message_free(bc);
    (void)r1;
}
END_TEST

START_TEST(replies_order)
{
    char p[CHAT_TS_SIZE], q[CHAT_TS_SIZE], r[6][CHAT_TS_SIZE];
    post("C1", "U1", "parent", NULL, p);
    post("C1", "U1", "other parent", NULL, q);
    for (int i = 1; i <= 5; i++) {
        post("C1", i % 2 ? "U2" : "U3", "reply", p, r[i]);
        post("C1", "U1", "noise", NULL, NULL);
        post("C1", "U1", "other thread", q, NULL);
    }
    chat_list *l = NULL;
    ck_assert_chat_ok(S->replies(impl, "C1", p, NULL, NULL, false, 0, NULL, &l));
    expect_ts(l, (const char *[]){p, r[1], r[2], r[3], r[4], r[5]}, 6);
    ck_assert(!chat_list_has_more(l));
    ck_assert_int_eq(chat_list_message(l, 0)->reply_count, 5);
    ck_assert_uint_eq(chat_list_message(l, 0)->n_reply_users, 2);
    chat_list_free(l);

    /* A reply's ts names the same thread. */
    ck_assert_chat_ok(S->replies(impl, "C1", r[3], NULL, NULL, false, 0, NULL, &l));
    expect_ts(l, (const char *[]){p, r[1], r[2], r[3], r[4], r[5]}, 6);
    chat_list_free(l);

    /* Pages of two. */
    const char *want[] = {p, r[1], r[2], r[3], r[4], r[5]};
    char *cur = NULL;
    for (int page = 0; page < 3; page++) {
        ck_assert_chat_ok(S->replies(impl, "C1", p, NULL, NULL, false, 2, cur, &l));
        chat_free(cur);
        cur = NULL;
        expect_ts(l, want + 2 * page, 2);
        ck_assert(chat_list_has_more(l) == (page < 2));
        if (page < 2)
            cur = chat_strdup(chat_list_next_cursor(l));
        chat_list_free(l);
    }

    /* Bounds apply to the parent as well. */
    ck_assert_chat_ok(S->replies(impl, "C1", p, NULL, r[2], false, 0, NULL, &l));
    expect_ts(l, (const char *[]){r[3], r[4], r[5]}, 3);
    chat_list_free(l);
    ck_assert_chat_ok(S->replies(impl, "C1", p, r[2], NULL, true, 0, NULL, &l));
    expect_ts(l, (const char *[]){p, r[1], r[2]}, 3);
    chat_list_free(l);

    /* A message without replies is a thread of one. */
    char lone[CHAT_TS_SIZE], missing[CHAT_TS_SIZE];
    post("C1", "U1", "lonely", NULL, lone);
    ck_assert_chat_ok(S->replies(impl, "C1", lone, NULL, NULL, false, 0, NULL, &l));
    expect_ts(l, (const char *[]){lone}, 1);
    chat_list_free(l);

    fmt(us_of(lone) + 3, missing);
    ck_assert_chat_err(S->replies(impl, "C1", missing, NULL, NULL, false, 0, NULL, &l),
                       CHAT_ERR_THREAD_NOT_FOUND);
    ck_assert_chat_err(S->replies(impl, "C2", p, NULL, NULL, false, 0, NULL, &l),
                       CHAT_ERR_THREAD_NOT_FOUND);
}
END_TEST

START_TEST(search_prefix)
{
    char a[CHAT_TS_SIZE], b[CHAT_TS_SIZE];
    post("C1", "U1", "The deployment finished", NULL, a);
    post("C1", "U1", "rotate the deploy key", NULL, b);
    post("C1", "U1", "unrelated chatter", NULL, NULL);
    post("C1", "U1", "Café crème at noon", NULL, NULL);

    chat_list *l = NULL;
    ck_assert_chat_ok(S->search(impl, "deploy", C1, 1, NULL, 0, &l));
    expect_ts(l, (const char *[]){b, a}, 2); /* newest first */
    chat_list_free(l);
    ck_assert_uint_eq(search_count("DEPLOY", C1, 1), 2);
    ck_assert_uint_eq(search_count("deploym", C1, 1), 1);
    ck_assert_uint_eq(search_count("dep fin", C1, 1), 1);  /* every word must match */
    ck_assert_uint_eq(search_count("deploy zebra", C1, 1), 0);
    ck_assert_uint_eq(search_count("  finish  ", C1, 1), 1);
    ck_assert_uint_eq(search_count("cafe", C1, 1), 1);     /* diacritics folded */
    ck_assert_uint_eq(search_count("crème", C1, 1), 1);
    ck_assert_uint_eq(search_count("ployment", C1, 1), 0); /* prefixes, not infixes */

    ck_assert_chat_err(S->search(impl, "", C1, 1, NULL, 0, &l), CHAT_ERR_NO_QUERY);
    ck_assert_chat_err(S->search(impl, "   \t ", C1, 1, NULL, 0, &l), CHAT_ERR_NO_QUERY);
    ck_assert_chat_err(S->search(impl, NULL, C1, 1, NULL, 0, &l), CHAT_ERR_NO_QUERY);
}
END_TEST

START_TEST(search_cjk)
{
    char jp[CHAT_TS_SIZE], zh[CHAT_TS_SIZE], ko[CHAT_TS_SIZE];
    post("C1", "U1", "私は東京に住んでいます", NULL, jp);
    post("C1", "U1", "我们明天去北京开会", NULL, zh);
    post("C1", "U1", "내일 서울에서 만나요", NULL, ko);
    post("C1", "U1", "mixed 東京tower text", NULL, NULL);

    chat_list *l = NULL;
    ck_assert_chat_ok(S->search(impl, "東京", C1, 1, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 2);
    ck_assert_str_eq(chat_list_message(l, 1)->ts, jp);
    chat_list_free(l);
    ck_assert_uint_eq(search_count("京に住", C1, 1), 1);
    ck_assert_uint_eq(search_count("住", C1, 1), 1);
    ck_assert_uint_eq(search_count("東京に住んでいます", C1, 1), 1);
    ck_assert_uint_eq(search_count("京東", C1, 1), 0);   /* order matters */
    ck_assert_uint_eq(search_count("大阪", C1, 1), 0);
    ck_assert_uint_eq(search_count("北京", C1, 1), 1);
    ck_assert_uint_eq(search_count("서울", C1, 1), 1);
    ck_assert_uint_eq(search_count("東京 tow", C1, 1), 1);
    ck_assert_uint_eq(search_count("東京tow", C1, 1), 1);
    ck_assert_uint_eq(search_count("東京　住", C1, 1), 1); /* ideographic space */
    (void)zh;
    (void)ko;
}
END_TEST

START_TEST(search_injection)
{
    post("C1", "U1", "alpha beta", NULL, NULL);
    post("C1", "U1", "say \"hello\" now", NULL, NULL);
    post("C1", "U1", "near miss", NULL, NULL);
    post("C1", "U1", "text: colon here", NULL, NULL);
    post("C1", "U1", "gamma (delta)", NULL, NULL);

    /* Nothing here may error, and none may act as an operator. */
    static const struct {
        const char *q;
        size_t n;
    } cases[] = {
        {"\"", 0},
        {"\"\"", 0},
        {"\"hello\"", 1},
        {"hello\"", 1},
        {"NEAR(", 1},              /* the word "near", not the operator */
        {"NEAR(alpha beta)", 0},
        {"*", 0},
        {"alph*", 1},
        {"-x", 0},                 /* not "everything without x" */
        {"-alpha", 1},
        {"alpha NOT beta", 0},     /* NOT is a word here */
        {"alpha OR zzz", 0},
        {"alpha AND beta", 0},
        {"text:", 1},              /* a word, not a column filter */
        {"text:alpha", 0},
        {"body:alpha", 0},
        {"{body}: alpha", 0},
        {"^alpha", 1},
        {"(delta", 1},
        {"gamma)", 1},
        {"alpha + beta", 1},
        {"'", 0},
        {"\\", 0},
        {"%", 0},
        {"; DROP TABLE messages; --", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        chat_list *l = NULL;
        chat_err rv = S->search(impl, cases[i].q, C1, 1, NULL, 0, &l);
        ck_assert_msg(rv == CHAT_OK, "query [%s] -> %s (%s)", cases[i].q, chat_err_name(rv),
                      chat_last_errmsg());
        ck_assert_msg(chat_list_count(l) == cases[i].n, "query [%s]: %zu results, wanted %zu",
                      cases[i].q, chat_list_count(l), cases[i].n);
        chat_list_free(l);
    }
    ck_assert_uint_eq(history_count("C1"), 5);
}
END_TEST

START_TEST(search_channels_and_paging)
{
    char c1[3][CHAT_TS_SIZE], c2[3][CHAT_TS_SIZE];
    /* Same times in both channels: ties are broken by channel. */
    for (int i = 0; i < 3; i++) {
        post_at("C1", "U1", "status report", NULL, BASE_US + i * INT64_C(1000000), c1[i]);
        post_at("C2", "U1", "status report", NULL, BASE_US + i * INT64_C(1000000), c2[i]);
    }
    post_at("C3", "U1", "status report", NULL, BASE_US, NULL);
    ck_assert_uint_eq(search_count("status", C1, 1), 3);
    ck_assert_uint_eq(search_count("status", C12, 2), 6);
    ck_assert_uint_eq(search_count("status", C12, 0), 0);
    ck_assert_uint_eq(search_count("status", NULL, 0), 0);

    chat_list *l = NULL;
    char *cur = NULL;
    const char *want_ts[] = {c2[2], c1[2], c2[1], c1[1], c2[0], c1[0]};
    const char *want_ch[] = {"C2", "C1", "C2", "C1", "C2", "C1"};
    size_t k = 0;
    for (int page = 0; page < 3; page++) {
        ck_assert_chat_ok(S->search(impl, "report", C12, 2, cur, 2, &l));
        chat_free(cur);
        cur = NULL;
        ck_assert_uint_eq(chat_list_count(l), 2);
        for (size_t i = 0; i < 2; i++, k++) {
            ck_assert_str_eq(chat_list_message(l, i)->ts, want_ts[k]);
            ck_assert_str_eq(chat_list_message(l, i)->channel, want_ch[k]);
        }
        ck_assert(chat_list_has_more(l) == (page < 2));
        if (page < 2)
            cur = chat_strdup(chat_list_next_cursor(l));
        chat_list_free(l);
    }
    ck_assert_chat_err(S->search(impl, "report", C12, 2, "bogus", 2, &l),
                       CHAT_ERR_INVALID_CURSOR);
}
END_TEST

START_TEST(update_and_remove)
{
    char ts[CHAT_TS_SIZE], missing[CHAT_TS_SIZE];
    post("C1", "U1", "first draft", NULL, ts);
    int calls = outbox_calls;

    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.ts, ts);
    m.text = "final words for <@U7>";
    char mentions[1][CHAT_ID_SIZE] = {"U7"};
    m.mentions = mentions;
    m.n_mentions = 1;
    m.mention_flags = CHAT_MENTION_HERE;
    strcpy(m.edited_user, "U1");
    fmt(us_of(ts) + 5000000, m.edited_ts);
    chat_message *out = NULL;
    ck_assert_chat_ok(S->update(impl, &m, rec_outbox, NULL, &out));
    ck_assert_int_eq(outbox_calls, calls + 1);
    ck_assert_str_eq(out->text, "final words for <@U7>");
    ck_assert_str_eq(out->edited_ts, m.edited_ts);
    chat_message_free(out);

    chat_message *g = get("C1", ts);
    ck_assert_str_eq(g->text, "final words for <@U7>");
    ck_assert_str_eq(g->edited_user, "U1");
    ck_assert_str_eq(g->edited_ts, m.edited_ts);
    ck_assert_uint_eq(g->n_mentions, 1);
    ck_assert_str_eq(g->mentions[0], "U7");
    ck_assert_uint_eq(g->mention_flags, CHAT_MENTION_HERE);
    ck_assert_str_eq(g->user, "U1");
    chat_message_free(g);

    ck_assert_uint_eq(search_count("draft", C1, 1), 0);
    ck_assert_uint_eq(search_count("final", C1, 1), 1);

    fmt(us_of(ts) + 1, missing);
    strcpy(m.ts, missing);
    ck_assert_chat_err(S->update(impl, &m, rec_outbox, NULL, &out), CHAT_ERR_MESSAGE_NOT_FOUND);
    ck_assert_chat_err(S->remove(impl, "C1", missing, rec_outbox, NULL),
                       CHAT_ERR_MESSAGE_NOT_FOUND);
    ck_assert_int_eq(outbox_calls, calls + 1);

    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "tada", "U2", NULL, NULL));
    ck_assert_chat_ok(S->remove(impl, "C1", ts, rec_outbox, NULL));
    ck_assert_int_eq(outbox_calls, calls + 2);
    ck_assert_chat_err(S->get(impl, "C1", ts, &g), CHAT_ERR_MESSAGE_NOT_FOUND);
    ck_assert_uint_eq(history_count("C1"), 0);
    ck_assert_uint_eq(search_count("final", C1, 1), 0);
    ck_assert_chat_err(S->remove(impl, "C1", ts, rec_outbox, NULL), CHAT_ERR_MESSAGE_NOT_FOUND);
}
END_TEST

START_TEST(full_message_roundtrip)
{
    chat_file f;
    memset(&f, 0, sizeof f);
    strcpy(f.id, "F1");
    strcpy(f.team_id, "T1");
    strcpy(f.user, "U1");
    f.name = "a.txt";
    ck_assert_chat_ok(S->file_insert(impl, &f));

    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.user, "U1");
    strcpy(m.team_id, "T1");
    m.text = "see file <@U2> <@U3> <!channel>";
    m.subtype = "file_share";
    m.client_msg_id = "k-1";
    char files[1][CHAT_ID_SIZE] = {"F1"};
    char mentions[2][CHAT_ID_SIZE] = {"U2", "U3"};
    m.files = files;
    m.n_files = 1;
    m.mentions = mentions;
    m.n_mentions = 2;
    m.mention_flags = CHAT_MENTION_CHANNEL;
    m.reply_count = 99; /* the store decides these */
    strcpy(m.latest_reply, "1.000001");
    chat_message *out = NULL;
    ck_assert_chat_ok(S->post(impl, &m, BASE_US, rec_outbox, NULL, &out));
    ck_assert_int_eq(out->reply_count, 0);
    ck_assert_str_eq(out->latest_reply, "");

    chat_message *g = get("C1", out->ts);
    ck_assert_str_eq(g->channel, "C1");
    ck_assert_str_eq(g->team_id, "T1");
    ck_assert_str_eq(g->subtype, "file_share");
    ck_assert_str_eq(g->client_msg_id, "k-1");
    ck_assert_uint_eq(g->n_files, 1);
    ck_assert_str_eq(g->files[0], "F1");
    ck_assert_uint_eq(g->n_mentions, 2);
    ck_assert_str_eq(g->mentions[1], "U3");
    ck_assert_uint_eq(g->mention_flags, CHAT_MENTION_CHANNEL);
    ck_assert_int_eq(g->reply_count, 0);
    ck_assert_str_eq(g->thread_ts, "");
    ck_assert_str_eq(g->edited_ts, "");
    ck_assert(!g->reply_broadcast);
    ck_assert_uint_eq(g->n_reactions, 0);
    chat_message_free(g);

    /* The file gained the channel. */
    chat_file *fo = NULL;
    ck_assert_chat_ok(S->file_get(impl, "F1", &fo));
    ck_assert_uint_eq(fo->n_channels, 1);
    ck_assert_str_eq(fo->channels[0], "C1");
    chat_file_free(fo);
    chat_message_free(out);

    ck_assert_chat_err(S->get(impl, "C1", "nonsense", &g), CHAT_ERR_INVALID_TS);
}
END_TEST

static void add_file(const char *id, const char *user, int64_t created, const char *chan)
{
    chat_file f;
    char chans[1][CHAT_ID_SIZE];
    memset(&f, 0, sizeof f);
    strcpy(f.id, id);
    strcpy(f.team_id, "T1");
    strcpy(f.user, user);
    f.name = "report.pdf";
    f.title = "Report";
    f.mimetype = "application/pdf";
    f.size = 1234;
    memset(f.sha256, 'a', 64);
    f.created = created;
    if (chan != NULL) {
        strcpy(chans[0], chan);
        f.channels = chans;
        f.n_channels = 1;
    }
    ck_assert_chat_ok(S->file_insert(impl, &f));
}

static void expect_files(const chat_list *l, const char *const *ids, size_t n)
{
    ck_assert_uint_eq(chat_list_count(l), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(chat_list_file(l, i)->id, ids[i]);
}

START_TEST(files)
{
    add_file("F1", "U1", 100, NULL);   /* private to U1 */
    add_file("F2", "U2", 200, NULL);   /* shared to C1 by a post below */
    add_file("F3", "U2", 300, NULL);   /* private to U2 */
    add_file("F4", "U2", 300, "C2");   /* shared to C2 at upload */

    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.user, "U2");
    m.text = "";
    char fl[2][CHAT_ID_SIZE] = {"F2", "F9"}; /* F9 does not exist: ignored */
    m.files = fl;
    m.n_files = 2;
    ck_assert_chat_ok(S->post(impl, &m, BASE_US, NULL, NULL, NULL));
    strcpy(m.channel, "C2");
    m.n_files = 1;
    ck_assert_chat_ok(S->post(impl, &m, BASE_US, NULL, NULL, NULL));

    chat_file *f = NULL;
    ck_assert_chat_ok(S->file_get(impl, "F2", &f));
    ck_assert_str_eq(f->user, "U2");
    ck_assert_str_eq(f->name, "report.pdf");
    ck_assert_str_eq(f->title, "Report");
    ck_assert_str_eq(f->mimetype, "application/pdf");
    ck_assert_int_eq(f->size, 1234);
    ck_assert_int_eq(f->created, 200);
    ck_assert_uint_eq(strlen(f->sha256), 64);
    ck_assert(!f->deleted);
    ck_assert_uint_eq(f->n_channels, 2);
    ck_assert_str_eq(f->channels[0], "C1");
    ck_assert_str_eq(f->channels[1], "C2");
    chat_file_free(f);
    ck_assert_chat_ok(S->file_get(impl, "F4", &f));
    ck_assert_uint_eq(f->n_channels, 1);
    ck_assert_str_eq(f->channels[0], "C2");
    chat_file_free(f);
    ck_assert_chat_err(S->file_get(impl, "F9", &f), CHAT_ERR_FILE_NOT_FOUND);

    add_file("F5", "U1", 50, NULL);
    chat_file dup;
    memset(&dup, 0, sizeof dup);
    strcpy(dup.id, "F5");
    ck_assert_chat_err(S->file_insert(impl, &dup), CHAT_ERR_DUPLICATE);

    /* U1 sees its own files and those in C1; newest first, ties by insertion. */
    chat_list *l = NULL;
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C1, 1, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2", "F1", "F5"}, 3);
    ck_assert_uint_eq(chat_list_file(l, 0)->n_channels, 2);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C12, 2, NULL, 0, &l));
    expect_files(l, (const char *[]){"F4", "F2", "F1", "F5"}, 4);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", "C1", NULL, "U1", C12, 2, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, "U2", "U1", C12, 2, NULL, 0, &l));
    expect_files(l, (const char *[]){"F4", "F2"}, 2);
    chat_list_free(l);
    /* F3 and F4 have the same time: the later insert is newer. */
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U2", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F4", "F3", "F2"}, 3);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T9", NULL, NULL, "U1", C12, 2, NULL, 0, &l));
    expect_files(l, NULL, 0);
    chat_list_free(l);

    /* Paging one at a time. */
    const char *all[] = {"F4", "F2", "F1", "F5"};
    char *cur = NULL;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C12, 2, cur, 1, &l));
        chat_free(cur);
        cur = NULL;
        expect_files(l, &all[i], 1);
        ck_assert(chat_list_has_more(l) == (i < 3));
        if (i < 3)
            cur = chat_strdup(chat_list_next_cursor(l));
        chat_list_free(l);
    }

    ck_assert_chat_ok(S->file_delete(impl, "F2"));
    ck_assert_chat_ok(S->file_get(impl, "F2", &f));
    ck_assert(f->deleted);
    chat_file_free(f);
    ck_assert_chat_err(S->file_delete(impl, "F2"), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_err(S->file_delete(impl, "F9"), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C1, 1, NULL, 0, &l));
    expect_files(l, (const char *[]){"F1", "F5"}, 2);
    chat_list_free(l);
}
END_TEST

START_TEST(outbox)
{
    char ts[CHAT_TS_SIZE], t2[CHAT_TS_SIZE];
    ck_assert_uint_eq(outbox_count(), 0);
    post("C1", "U1", "hello", NULL, ts);
    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.ts, ts);
    m.text = "hello edited";
    ck_assert_chat_ok(S->update(impl, &m, rec_outbox, "message.changed", NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "wave", "U2", rec_outbox, "reaction.added"));
    ck_assert_chat_ok(S->remove(impl, "C1", ts, rec_outbox, "message.deleted"));
    /* No outbox function: no row. */
    ck_assert_chat_ok(post_full("C1", "U1", "quiet", NULL, NULL, false, BASE_US, NULL));
    chat_message q;
    memset(&q, 0, sizeof q);
    strcpy(q.channel, "C1");
    q.text = "no event";
    ck_assert_chat_ok(S->post(impl, &q, BASE_US, NULL, NULL, NULL));

    chat_outbox_item *it = NULL;
    size_t n = 0;
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 5);
    const char *topics[] = {"message.test", "message.changed", "reaction.added",
                            "message.deleted", "message.test"};
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(it[i].topic, topics[i]);
        ck_assert_str_eq(it[i].key, "C1");
        if (i > 0)
            ck_assert_int_gt(it[i].seq, it[i - 1].seq);
    }
    char want[128];
    snprintf(want, sizeof want, "%s|hello|0|0", ts);
    ck_assert_uint_eq(it[0].len, strlen(want));
    ck_assert(memcmp(it[0].data, want, it[0].len) == 0);
    snprintf(want, sizeof want, "%s|hello edited|0|0", ts);
    ck_assert(it[1].len == strlen(want) && memcmp(it[1].data, want, it[1].len) == 0);
    snprintf(want, sizeof want, "%s|hello edited|0|1", ts); /* after the change */
    ck_assert(it[2].len == strlen(want) && memcmp(it[2].data, want, it[2].len) == 0);
    ck_assert(it[3].len == strlen(want) && memcmp(it[3].data, want, it[3].len) == 0);
    int64_t s1 = it[1].seq, s4 = it[4].seq;
    chat_outbox_items_free(it, n);

    /* after_seq and max. */
    ck_assert_chat_ok(S->outbox_fetch(impl, s1, 2, &it, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(it[0].topic, "reaction.added");
    chat_outbox_items_free(it, n);

    ck_assert_chat_ok(S->outbox_ack(impl, s1));
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(it[0].topic, "reaction.added");
    chat_outbox_items_free(it, n);
    ck_assert_chat_ok(S->outbox_ack(impl, s4));
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 0);
    chat_outbox_items_free(it, n);

    /* Sequence numbers keep increasing after everything was acked. */
    post("C1", "U1", "again", NULL, t2);
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_gt(it[0].seq, s4);
    chat_outbox_items_free(it, n);
}
END_TEST

START_TEST(reopen_keeps_data)
{
    char ts[CHAT_TS_SIZE];
    post("C1", "U1", "persistent 東京", NULL, ts);
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "ok", "U2", NULL, NULL));
    S->close(impl);
    impl = NULL;
    /* The same URL again: same directory, same {uniq} database. */
    ck_assert_chat_ok(S->open(contract_url(), contract_cfg(), &impl));
    chat_message *m = get("C1", ts);
    ck_assert_str_eq(m->text, "persistent 東京");
    ck_assert_uint_eq(m->n_reactions, 1);
    chat_message_free(m);
    ck_assert_uint_eq(search_count("東京", C1, 1), 1);
    /* ts keep increasing across a restart even with an old clock. */
    chat_message *n = NULL;
    ck_assert_chat_ok(post_full("C1", "U1", "after", NULL, NULL, false, BASE_US, &n));
    ck_assert_int_gt(us_of(n->ts), us_of(ts));
    chat_message_free(n);
}
END_TEST

/* Enough messages that a store indexing in batches has some indexed and
 * some not; edits and deletes on both kinds must show in search. */
START_TEST(search_after_many_changes)
{
    static char ts[1100][CHAT_TS_SIZE];
    for (int i = 0; i < 1100; i++) {
        char text[64];
        snprintf(text, sizeof text, "item %d alpha", i);
        post_at("C1", "U1", text, NULL, BASE_US + i, ts[i]);
    }
    const int edited[] = {10, 600, 1050}, removed[] = {20, 700, 1060};
    for (size_t k = 0; k < 3; k++) {
        chat_message m;
        memset(&m, 0, sizeof m);
        strcpy(m.channel, "C1");
        strcpy(m.ts, ts[edited[k]]);
        m.text = "item changed beta";
        ck_assert_chat_ok(S->update(impl, &m, NULL, NULL, NULL));
        ck_assert_chat_ok(S->remove(impl, "C1", ts[removed[k]], NULL, NULL));
    }
    ck_assert_uint_eq(search_total("alpha", C1, 1), 1094);
    ck_assert_uint_eq(search_total("beta", C1, 1), 3);
    ck_assert_uint_eq(search_total("item", C1, 1), 1097);
    /* And again after more posts and another round of changes. */
    for (int i = 0; i < 600; i++)
        post_at("C1", "U1", "late gamma", NULL, BASE_US, NULL);
    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.ts, ts[10]);
    m.text = "item back to alpha";
    ck_assert_chat_ok(S->update(impl, &m, NULL, NULL, NULL));
    ck_assert_uint_eq(search_total("alpha", C1, 1), 1095);
    ck_assert_uint_eq(search_total("beta", C1, 1), 2);
    ck_assert_uint_eq(search_total("gamma", C1, 1), 600);
    ck_assert_uint_eq(search_total("changed", C1, 1), 2);
}
END_TEST

/* The store is shared by every thread of a context. */
#define N_THREADS 4
#define N_EACH 200

static void *poster(void *arg)
{
    intptr_t t = (intptr_t)arg;
    for (int i = 0; i < N_EACH; i++) {
        char text[64], cmid[64];
        snprintf(text, sizeof text, "thread %d post %d", (int)t, i);
        snprintf(cmid, sizeof cmid, "t%d-%d", (int)t, i % (N_EACH / 2)); /* half are retries */
        chat_message m;
        memset(&m, 0, sizeof m);
        strcpy(m.channel, "C1");
        strcpy(m.user, "U1");
        m.text = text;
        m.client_msg_id = cmid;
        chat_err rv = S->post(impl, &m, BASE_US, NULL, NULL, NULL);
        if (rv != CHAT_OK && rv != CHAT_ERR_DUPLICATE)
            return (void *)1;
        if (i % 10 == 0) {
            chat_list *l = NULL;
            if (S->history(impl, "C1", NULL, NULL, false, 10, NULL, &l) != CHAT_OK)
                return (void *)1;
            chat_list_free(l);
        }
    }
    return NULL;
}

START_TEST(concurrent_posts)
{
    pthread_t th[N_THREADS];
    for (intptr_t t = 0; t < N_THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, poster, (void *)t), 0);
    for (int t = 0; t < N_THREADS; t++) {
        void *res = NULL;
        pthread_join(th[t], &res);
        ck_assert_ptr_null(res);
    }
    chat_list *l = NULL;
    ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 1000, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), N_THREADS * N_EACH / 2);
    for (size_t i = 1; i < chat_list_count(l); i++)
        ck_assert_int_lt(us_of(chat_list_message(l, i)->ts),
                         us_of(chat_list_message(l, i - 1)->ts));
    chat_list_free(l);
}
END_TEST

/* Two-step uploads: a file inserted pending (sha256 "") is completed once. */
static void add_pending(const char *id, const char *user, int64_t created, int64_t size)
{
    chat_file f;
    memset(&f, 0, sizeof f);
    strcpy(f.id, id);
    strcpy(f.team_id, "T1");
    strcpy(f.user, user);
    f.name = "upload.bin";
    f.title = "Upload";
    f.mimetype = "application/octet-stream";
    f.size = size;
    f.created = created;
    ck_assert_chat_ok(S->file_insert(impl, &f));
}

START_TEST(file_complete)
{
    ck_assert_ptr_nonnull(S->file_complete);
    add_pending("F1", "U1", 100, 12);
    add_file("F2", "U1", 50, NULL);

    /* Pending: file_get shows it as inserted; file_list leaves it out. */
    chat_file *f = NULL;
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, "");
    ck_assert_int_eq(f->size, 12);
    chat_file_free(f);
    chat_list *l = NULL;
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, "U1", "U1", C1, 1, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    chat_list_free(l);

    /* Malformed completions change nothing. */
    char upper[65], sum[65];
    memset(upper, 'B', 64);
    upper[64] = '\0';
    memset(sum, 'b', 64);
    sum[64] = '\0';
    ck_assert_chat_err(S->file_complete(impl, "F1", 12, "abc"), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(S->file_complete(impl, "F1", 12, upper), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(S->file_complete(impl, "F1", -1, sum), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(S->file_complete(impl, "F9", 12, sum), CHAT_ERR_FILE_NOT_FOUND);

    /* Completion sets size and checksum, keeps the rest, and lists the file. */
    ck_assert_chat_ok(S->file_complete(impl, "F1", 7, sum));
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, sum);
    ck_assert_int_eq(f->size, 7);
    ck_assert_str_eq(f->user, "U1");
    ck_assert_str_eq(f->team_id, "T1");
    ck_assert_str_eq(f->name, "upload.bin");
    ck_assert_str_eq(f->title, "Upload");
    ck_assert_str_eq(f->mimetype, "application/octet-stream");
    ck_assert_int_eq(f->created, 100);
    ck_assert(!f->deleted);
    chat_file_free(f);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F1", "F2"}, 2);
    chat_list_free(l);

    /* Only once: a second completion (or one of a finished file) is a duplicate. */
    char other[65];
    memset(other, 'c', 64);
    other[64] = '\0';
    ck_assert_chat_err(S->file_complete(impl, "F1", 7, other), CHAT_ERR_DUPLICATE);
    ck_assert_chat_err(S->file_complete(impl, "F2", 1234, other), CHAT_ERR_DUPLICATE);
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, sum);
    chat_file_free(f);

    /* A pending file deleted before its bytes came cannot be completed. */
    add_pending("F3", "U1", 200, 5);
    ck_assert_chat_ok(S->file_delete(impl, "F3"));
    ck_assert_chat_err(S->file_complete(impl, "F3", 5, sum), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_ok(S->file_get(impl, "F3", &f));
    ck_assert_str_eq(f->sha256, "");
    ck_assert(f->deleted);
    chat_file_free(f);

    /* Completions survive a reopen. */
    char *url = chat_strdup(contract_url());
    S->close(impl);
    impl = NULL;
    ck_assert_chat_ok(S->open(url, contract_cfg(), &impl));
    chat_free(url);
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, sum);
    ck_assert_int_eq(f->size, 7);
    chat_file_free(f);
}
END_TEST

START_TEST(file_set_title)
{
    ck_assert_ptr_nonnull(S->file_set_title);
    add_pending("F1", "U1", 100, 3);
    add_file("F2", "U1", 50, NULL);
    ck_assert_chat_ok(S->file_set_title(impl, "F1", "Renamed 東京"));
    ck_assert_chat_ok(S->file_set_title(impl, "F2", "Also renamed"));
    chat_file *f = NULL;
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->title, "Renamed 東京");
    ck_assert_str_eq(f->name, "upload.bin");
    ck_assert_str_eq(f->sha256, ""); /* still pending */
    chat_file_free(f);
    chat_list *l = NULL;
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    ck_assert_str_eq(chat_list_file(l, 0)->title, "Also renamed");
    chat_list_free(l);
    ck_assert_chat_err(S->file_set_title(impl, "F9", "x"), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_ok(S->file_delete(impl, "F2"));
    ck_assert_chat_err(S->file_set_title(impl, "F2", "x"), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_ok(S->file_get(impl, "F2", &f));
    ck_assert_str_eq(f->title, "Also renamed");
    chat_file_free(f);
}
END_TEST

/* Concurrent posts that the store may commit together (the SQLite store
 * groups them into one transaction): every caller must get exactly its own
 * result - its message, its duplicate, its error and error detail - and a
 * failed post must not take the others down with it. */
#define GC_THREADS 8
#define GC_EACH 100 /* per thread; i % 5 picks the kind of post */

typedef struct gc_call {
    const char *text;
    int calls;      /* outbox calls for this post */
    bool mismatch;  /* the outbox saw another post's message */
} gc_call;

static chat_err gc_outbox(void *arg, const chat_message *m, chat_outbox_item *out)
{
    gc_call *c = arg;
    c->calls++;
    if (m->text == NULL || strcmp(m->text, c->text) != 0)
        c->mismatch = true;
    out->topic = chat_strdup("message.test");
    out->key = chat_strdup(m->channel);
    return CHAT_OK;
}

typedef struct gc_result {
    chat_err rv;
    char ts[CHAT_TS_SIZE];      /* of *out */
    char out_user[CHAT_ID_SIZE];
    char out_text[64];
    bool detail_ok;
    int outbox_calls;
    bool outbox_mismatch;
} gc_result;

static char gc_parent[CHAT_TS_SIZE];
static gc_result gc_res[GC_THREADS][GC_EACH];

static void gc_text(int t, int i, char *buf, size_t n)
{
    snprintf(buf, n, "gc %d/%d", t, i);
}

static void *gc_poster(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < GC_EACH; i++) {
        char text[64], cmid[64], user[CHAT_ID_SIZE];
        gc_text(t, i, text, sizeof text);
        snprintf(user, sizeof user, "U%d", t);
        chat_message m;
        memset(&m, 0, sizeof m);
        strcpy(m.user, user);
        strcpy(m.team_id, "T1");
        strcpy(m.channel, "C1");
        m.text = text;
        int64_t bad_us = us_of(gc_parent) + 1000 + t * 1000 + i;
        switch (i % 5) {
        case 0: /* a new message with its own key, in C1 or C2 */
            snprintf(cmid, sizeof cmid, "own-%d-%d", t, i);
            m.client_msg_id = cmid;
            if ((i / 5) % 2)
                strcpy(m.channel, "C2");
            break;
        case 1: /* every thread races on one key: one wins */
            snprintf(cmid, sizeof cmid, "shared-%d", i);
            m.client_msg_id = cmid;
            break;
        case 2: /* a reply */
            strcpy(m.thread_ts, gc_parent);
            break;
        case 3: /* a reply to nothing */
            fmt(bad_us, m.thread_ts);
            break;
        case 4: /* a retry of this thread's post i - 4 (kind 0) */
            snprintf(cmid, sizeof cmid, "own-%d-%d", t, i - 4);
            m.client_msg_id = cmid;
            if (((i - 4) / 5) % 2)
                strcpy(m.channel, "C2");
            break;
        }
        gc_call call = {text, 0, false};
        chat_message *out = NULL;
        gc_result *r = &gc_res[t][i];
        chati_clear_errmsg();
        r->rv = S->post(impl, &m, BASE_US, gc_outbox, &call, &out);
        r->outbox_calls = call.calls;
        r->outbox_mismatch = call.mismatch;
        if (out != NULL) {
            strcpy(r->ts, out->ts);
            strcpy(r->out_user, out->user);
            snprintf(r->out_text, sizeof r->out_text, "%s", out->text ? out->text : "");
            chat_message_free(out);
        }
        if (r->rv == CHAT_ERR_THREAD_NOT_FOUND) {
            char want[32];
            snprintf(want, sizeof want, "%" PRId64, bad_us);
            r->detail_ok = strstr(chati_errmsg(), want) != NULL;
        } else if (r->rv == CHAT_ERR_DUPLICATE) {
            r->detail_ok = strstr(chati_errmsg(), cmid) != NULL;
        } else {
            r->detail_ok = true;
        }
    }
    return NULL;
}

static int gc_ts_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(grouped_posts_keep_their_results)
{
    post("C1", "U0", "gc parent", NULL, gc_parent);
    size_t outbox_before = outbox_count();
    memset(gc_res, 0, sizeof gc_res);
    pthread_t th[GC_THREADS];
    for (intptr_t t = 0; t < GC_THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, gc_poster, (void *)t), 0);
    for (int t = 0; t < GC_THREADS; t++)
        pthread_join(th[t], NULL);

    static char stored[GC_THREADS * GC_EACH][CHAT_TS_SIZE];
    size_t n_stored = 0, n_c1 = 1 /* the parent */, n_c2 = 0, replies = 0;
    for (int i = 0; i < GC_EACH; i++) {
        int winners = 0, winner = -1;
        for (int t = 0; t < GC_THREADS; t++) {
            gc_result *r = &gc_res[t][i];
            char text[64], user[CHAT_ID_SIZE];
            gc_text(t, i, text, sizeof text);
            snprintf(user, sizeof user, "U%d", t);
            ck_assert_msg(r->detail_ok, "post %d/%d: error detail of another post", t, i);
            ck_assert_msg(!r->outbox_mismatch, "post %d/%d: outbox got another message", t, i);
            switch (i % 5) {
            case 0:
            case 2:
                ck_assert_chat_ok(r->rv);
                ck_assert_str_eq(r->out_text, text);
                ck_assert_str_eq(r->out_user, user);
                ck_assert_int_eq(r->outbox_calls, 1);
                strcpy(stored[n_stored++], r->ts);
                if (i % 5 == 2)
                    replies++;
                else if ((i / 5) % 2)
                    n_c2++;
                else
                    n_c1++;
                break;
            case 1:
                ck_assert_msg(r->rv == CHAT_OK || r->rv == CHAT_ERR_DUPLICATE,
                              "post %d/%d: %s", t, i, chat_err_name(r->rv));
                if (r->rv == CHAT_OK) {
                    winners++;
                    winner = t;
                    ck_assert_str_eq(r->out_text, text);
                    ck_assert_int_eq(r->outbox_calls, 1);
                    strcpy(stored[n_stored++], r->ts);
                    n_c1++;
                } else {
                    ck_assert_int_eq(r->outbox_calls, 0);
                }
                break;
            case 3:
                ck_assert_chat_err(r->rv, CHAT_ERR_THREAD_NOT_FOUND);
                ck_assert_str_eq(r->ts, ""); /* no message came back */
                ck_assert_int_eq(r->outbox_calls, 0);
                break;
            case 4: {
                /* The retry gets the original back: this thread's own post. */
                char orig[64];
                gc_text(t, i - 4, orig, sizeof orig);
                ck_assert_chat_err(r->rv, CHAT_ERR_DUPLICATE);
                ck_assert_str_eq(r->out_text, orig);
                ck_assert_str_eq(r->out_user, user);
                ck_assert_str_eq(r->ts, gc_res[t][i - 4].ts);
                ck_assert_int_eq(r->outbox_calls, 0);
                break;
            }
            }
        }
        if (i % 5 != 1)
            continue;
        /* One post won each shared key; every loser got the winner's message. */
        ck_assert_int_eq(winners, 1);
        char wtext[64], wuser[CHAT_ID_SIZE];
        gc_text(winner, i, wtext, sizeof wtext);
        snprintf(wuser, sizeof wuser, "U%d", winner);
        for (int t = 0; t < GC_THREADS; t++) {
            ck_assert_str_eq(gc_res[t][i].ts, gc_res[winner][i].ts);
            ck_assert_str_eq(gc_res[t][i].out_text, wtext);
            ck_assert_str_eq(gc_res[t][i].out_user, wuser);
        }
    }

    /* Every stored post has its own ts, and the store holds exactly them. */
    qsort(stored, n_stored, CHAT_TS_SIZE, gc_ts_cmp);
    for (size_t k = 1; k < n_stored; k++)
        ck_assert_str_ne(stored[k], stored[k - 1]);
    ck_assert_uint_eq(history_count("C1"), n_c1);
    ck_assert_uint_eq(history_count("C2"), n_c2);
    chat_message *pm = get("C1", gc_parent);
    ck_assert_int_eq(pm->reply_count, (int64_t)replies);
    ck_assert_uint_eq(pm->n_reply_users, GC_THREADS);
    chat_message_free(pm);
    ck_assert_uint_eq(outbox_count(), outbox_before + n_stored);
    for (size_t k = 0; k < n_stored; k++) {
        chat_message *m = NULL;
        chat_err rv = S->get(impl, "C1", stored[k], &m);
        if (rv != CHAT_OK)
            rv = S->get(impl, "C2", stored[k], &m);
        ck_assert_chat_ok(rv);
        chat_message_free(m);
    }
}
END_TEST

int main(int argc, char **argv)
{
    contract_init(argc, argv, "sqlite:{tmp}/message.db");
    Suite *s = suite_create("message_store");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ts_strictly_increasing);
    tcase_add_test(tc, client_msg_id_dedupe);
    tcase_add_test(tc, thread_counters);
    tcase_add_test(tc, failed_post_leaves_nothing);
    tcase_add_test(tc, reactions);
    tcase_add_test(tc, history_bounds);
    tcase_add_test(tc, history_paging_250);
    tcase_add_test(tc, history_threads);
    tcase_add_test(tc, replies_order);
    tcase_add_test(tc, search_prefix);
    tcase_add_test(tc, search_cjk);
    tcase_add_test(tc, search_injection);
    tcase_add_test(tc, search_channels_and_paging);
    tcase_add_test(tc, update_and_remove);
    tcase_add_test(tc, full_message_roundtrip);
    tcase_add_test(tc, files);
    tcase_add_test(tc, outbox);
    tcase_add_test(tc, reopen_keeps_data);
    tcase_add_test(tc, search_after_many_changes);
    tcase_add_test(tc, concurrent_posts);
    tcase_add_test(tc, file_complete);
    tcase_add_test(tc, file_set_title);
    tcase_add_test(tc, grouped_posts_keep_their_results);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
