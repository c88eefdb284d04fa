/*
 * Message store contract: posting, threads, reactions, history, replies,
 * search, update and remove - what a message is and how it is listed. The
 * fixture and the suite's assembly are in message_store_fixture.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <chat/backend/store.h>

#include "contract.h"
#include "message_store_fixture.h"
#include "testutil.h"

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

/* reacted: what one person reacted to in the channels given, newest first,
 * paged; a reaction taken back no longer counts. */
START_TEST(reacted)
{
    ck_assert_ptr_nonnull(S->reacted); /* both backends in the tree keep it */
    char a[3][CHAT_TS_SIZE], b[CHAT_TS_SIZE], other[CHAT_TS_SIZE];
    for (int i = 0; i < 3; i++)
        post_at("C1", "U1", "liked", NULL, BASE_US + i * INT64_C(1000000), a[i]);
    post_at("C2", "U1", "liked too", NULL, BASE_US + INT64_C(1500000), b);
    post_at("C3", "U1", "elsewhere", NULL, BASE_US, other);
    for (int i = 0; i < 3; i++)
        ck_assert_chat_ok(S->add_reaction(impl, "C1", a[i], "thumbsup", "U9", NULL, NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", a[0], "smile", "U9", NULL, NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C2", b, "heart", "U9", NULL, NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C3", other, "heart", "U9", NULL, NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", a[1], "eyes", "U8", NULL, NULL));
    ck_assert_chat_ok(S->remove_reaction(impl, "C1", a[2], "thumbsup", "U9", NULL, NULL));

    const char *want[] = {b, a[1], a[0]}; /* C3 is not asked about; a[2] taken back */
    chat_list *l = NULL;
    char *cur = NULL;
    size_t k = 0;
    for (int page = 0; page < 2; page++) {
        ck_assert_chat_ok(S->reacted(impl, "U9", C12, 2, cur, 2, &l));
        chat_free(cur);
        cur = NULL;
        for (size_t i = 0; i < chat_list_count(l); i++, k++) {
            ck_assert_str_eq(chat_list_message(l, i)->ts, want[k]);
            ck_assert_uint_ge(chat_message_reaction_count(chat_list_message(l, i)), 1);
        }
        if (page == 0)
            cur = chat_strdup(chat_list_next_cursor(l));
        else
            ck_assert(!chat_list_has_more(l));
        chat_list_free(l);
    }
    ck_assert_uint_eq(k, 3);
    ck_assert_chat_ok(S->reacted(impl, "U7", C12, 2, NULL, 10, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
    ck_assert_chat_ok(S->reacted(impl, "U9", C12, 0, NULL, 10, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
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

/* Slack's rich parts are kept as given, through post, history, edits that
 * change or remove them, and deletion. */
START_TEST(rich_parts_roundtrip)
{
    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.user, "U1");
    strcpy(m.team_id, "T1");
    m.text = "fallback";
    m.blocks = "[{\"type\":\"divider\"}]";
    m.attachments = "[{\"text\":\"\u00e9\"}]";
    m.metadata = "{\"event_type\":\"t\",\"event_payload\":{}}";
    m.username = "Deploy Bot";
    m.icon_emoji = ":rocket:";
    m.icon_url = "https://example.com/i.png";
    strcpy(m.bot_id, "B1");
    m.flags = CHAT_MESSAGE_UNFURL_MEDIA;
    chat_message *out = NULL;
    ck_assert_chat_ok(S->post(impl, &m, BASE_US, rec_outbox, NULL, &out));
    char ts[CHAT_TS_SIZE];
    strcpy(ts, out->ts);
    chat_message_free(out);
    post("C1", "U1", "plain", NULL, NULL);

    chat_message *g = get("C1", ts);
    ck_assert_str_eq(g->blocks, m.blocks);
    ck_assert_str_eq(g->attachments, m.attachments);
    ck_assert_str_eq(g->metadata, m.metadata);
    ck_assert_str_eq(g->username, "Deploy Bot");
    ck_assert_str_eq(g->icon_emoji, ":rocket:");
    ck_assert_str_eq(g->icon_url, "https://example.com/i.png");
    ck_assert_str_eq(g->bot_id, "B1");
    ck_assert_uint_eq(g->flags, CHAT_MESSAGE_UNFURL_MEDIA);

    /* History reads the same; the plain message beside it has none. */
    chat_list *l = NULL;
    ck_assert_chat_ok(S->history(impl, "C1", NULL, NULL, false, 10, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 2);
    const chat_message *p = chat_list_message(l, 0), *r = chat_list_message(l, 1);
    ck_assert_ptr_null(p->blocks);
    ck_assert_ptr_null(p->username);
    ck_assert_str_eq(p->bot_id, "");
    ck_assert_str_eq(r->blocks, m.blocks);
    ck_assert_str_eq(r->metadata, m.metadata);
    chat_list_free(l);

    /* An edit replaces blocks and removes attachments; the rest stays. */
    chat_free(g->blocks);
    g->blocks = chat_strdup("[{\"type\":\"header\"}]");
    chat_free(g->attachments);
    g->attachments = NULL;
    ck_assert_chat_ok(S->update(impl, g, rec_outbox, NULL, &out));
    chat_message_free(out);
    chat_message_free(g);
    g = get("C1", ts);
    ck_assert_str_eq(g->blocks, "[{\"type\":\"header\"}]");
    ck_assert_ptr_null(g->attachments);
    ck_assert_str_eq(g->metadata, m.metadata);
    ck_assert_str_eq(g->username, "Deploy Bot");
    chat_message_free(g);

    ck_assert_chat_ok(S->remove(impl, "C1", ts, rec_outbox, NULL));
    ck_assert_chat_err(S->get(impl, "C1", ts, &g), CHAT_ERR_MESSAGE_NOT_FOUND);
}
END_TEST

/* Registered by message_store_fixture.c, in the suite's order. */
void ms_add_message_tests(TCase *tc)
{
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
    tcase_add_test(tc, reacted);
    tcase_add_test(tc, update_and_remove);
    tcase_add_test(tc, full_message_roundtrip);
    tcase_add_test(tc, rich_parts_roundtrip);
}
