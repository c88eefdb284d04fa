/*
 * Message store contract: the store over time and under load - data kept
 * across a reopen, search after a thousand changes, and the store shared by
 * concurrent posters (each getting exactly its own result). The fixture and
 * the suite's assembly are in message_store_fixture.c.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "contract.h"
#include "core/internal.h"
#include "message_store_fixture.h"
#include "testutil.h"

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

/* Registered by message_store_fixture.c, in the suite's order. */
void ms_add_load_tests(TCase *tc)
{
    tcase_add_test(tc, reopen_keeps_data);
    tcase_add_test(tc, search_after_many_changes);
    tcase_add_test(tc, concurrent_posts);
}

void ms_add_grouped_post_tests(TCase *tc)
{
    tcase_add_test(tc, grouped_posts_keep_their_results);
}
