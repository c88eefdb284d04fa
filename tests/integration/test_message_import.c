/* chat_message_import: old messages in bulk with their own ts, as an
 * export's history arrives, on the embedded SQLite message store. */
#include <inttypes.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"

#include "fixture.h"

static chat_ctx *ctx;
static char *dir;
static person ada, bob; /* ada signed up first: the workspace's admin */
static char *chan;

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
    ada = fixture_person(ctx, "ada@example.com");
    bob = fixture_person(ctx, "bob@example.com");
    chan = fixture_channel(ctx, &ada, "archive", false);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, chan, NULL));
}

static void teardown(void)
{
    free(chan);
    fixture_person_free(&ada);
    fixture_person_free(&bob);
    fixture_close(ctx, dir);
}

/* A batch being built: ts from base_us, step_us apart. */
typedef struct batch {
    size_t n;
    char (*ts)[CHAT_TS_SIZE];
    char (*text)[64];
    const char **tsp, **users, **texts;
} batch;

static void ts_of(int64_t us, char out[CHAT_TS_SIZE])
{
    char b[48];
    snprintf(b, sizeof b, "%010" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
    snprintf(out, CHAT_TS_SIZE, "%.17s", b);
}

static batch batch_make(size_t n, size_t first, int64_t base_us, int64_t step_us,
                        const char *user)
{
    batch b = {n, calloc(n, CHAT_TS_SIZE), calloc(n, 64), calloc(n, sizeof(char *)),
               calloc(n, sizeof(char *)), calloc(n, sizeof(char *))};
    for (size_t i = 0; i < n; i++) {
        size_t k = first + i;
        ts_of(base_us + (int64_t)k * step_us, b.ts[i]);
        snprintf(b.text[i], 64, "old message %zu%s", k, k == 12345 ? " needle" : "");
        b.tsp[i] = b.ts[i];
        b.users[i] = user;
        b.texts[i] = b.text[i];
    }
    return b;
}

static void batch_free(batch *b)
{
    free(b->ts);
    free(b->text);
    free(b->tsp);
    free(b->users);
    free(b->texts);
}

static chat_err import(const person *p, const batch *b)
{
    return chat_message_import(ctx, p->s, chan, b->n, b->tsp, b->users, b->texts);
}

static size_t history_count(void)
{
    size_t total = 0;
    char *cursor = NULL;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 200, cursor,
                                               &l));
        free(cursor);
        total += chat_list_count(l);
        cursor = chat_list_next_cursor(l) ? strdup(chat_list_next_cursor(l)) : NULL;
        chat_list_free(l);
    } while (cursor);
    return total;
}

#define BASE_US INT64_C(1500000000000000) /* 2017: long before any live post */
#define STEP_US 1000

START_TEST(imported_history_pages_and_search)
{
    /* 25,000 in three calls, as a large export arrives. */
    size_t n = 25000;
    for (size_t first = 0; first < n; first += 10000) {
        batch b = batch_make(first + 10000 > n ? n - first : 10000, first, BASE_US, STEP_US,
                             first == 10000 ? bob.id : ada.id);
        ck_assert_chat_ok(import(&ada, &b));
        batch_free(&b);
    }
    char want[CHAT_TS_SIZE];

    /* The newest page: the last 50 imported, newest first, with their authors. */
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 50, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 50);
    ck_assert(chat_list_has_more(l));
    for (size_t i = 0; i < 50; i++) {
        const chat_message *m = chat_list_message(l, i);
        ts_of(BASE_US + (int64_t)(n - 1 - i) * STEP_US, want);
        ck_assert_str_eq(chat_message_ts(m), want);
        ck_assert_str_eq(chat_message_user(m), ada.id);
        char text[64];
        snprintf(text, sizeof text, "old message %zu", n - 1 - i);
        ck_assert_str_eq(chat_message_text(m), text);
    }
    chat_list_free(l);

    /* The 50 before the middle one, from the second call (bob's). */
    char mid[CHAT_TS_SIZE];
    ts_of(BASE_US + 12500 * STEP_US, mid);
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, mid, NULL, false, 50, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 50);
    ts_of(BASE_US + 12499 * STEP_US, want);
    ck_assert_str_eq(chat_message_ts(chat_list_message(l, 0)), want);
    ck_assert_str_eq(chat_message_user(chat_list_message(l, 0)), bob.id);
    ts_of(BASE_US + 12450 * STEP_US, want);
    ck_assert_str_eq(chat_message_ts(chat_list_message(l, 49)), want);
    chat_list_free(l);
    ck_assert_uint_eq(history_count(), n);

    /* Search sees them as soon as the call returns. */
    ck_assert_chat_ok(chat_message_search(ctx, bob.s, "needle", NULL, 20, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    ts_of(BASE_US + 12345 * STEP_US, want);
    ck_assert_str_eq(chat_message_ts(chat_list_message(l, 0)), want);
    ck_assert_str_eq(chat_message_text(chat_list_message(l, 0)), "old message 12345 needle");
    chat_list_free(l);
    ck_assert_chat_ok(chat_message_search(ctx, bob.s, "message 24999", NULL, 20, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    chat_list_free(l);

    /* Not news: no unread counts for the other member, and a live post
     * still comes after all of them. */
    ck_assert_chat_ok(chat_drain(ctx, 5000));
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, bob.s, chan, &c));
    ck_assert_int_eq(chat_channel_unread_count(c), 0);
    chat_channel_free(c);
    chat_message *m = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "live", NULL, NULL, 0, &m));
    ts_of(BASE_US + (int64_t)(n - 1) * STEP_US, want);
    ck_assert(strcmp(chat_message_ts(m), want) > 0);
    chat_message_free(m);
    ck_assert_uint_eq(history_count(), n + 1);
}
END_TEST

START_TEST(bad_input_is_refused_and_nothing_is_stored)
{
    batch b = batch_make(3, 0, BASE_US, STEP_US, ada.id);
    /* Only an admin may put words in others' mouths. */
    ck_assert_chat_err(import(&bob, &b), CHAT_ERR_RESTRICTED_ACTION);
    ck_assert_chat_err(chat_message_import(ctx, ada.s, "CNOSUCHCHAN", b.n, b.tsp, b.users,
                                           b.texts),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_message_import(ctx, ada.s, chan, 3, NULL, b.users, b.texts),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_ok(chat_message_import(ctx, ada.s, chan, 0, NULL, NULL, NULL));

    b.tsp[1] = "yesterday";
    ck_assert_chat_err(import(&ada, &b), CHAT_ERR_INVALID_TS);
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "yesterday"));
    b.tsp[1] = b.ts[0]; /* not after the one before */
    ck_assert_chat_err(import(&ada, &b), CHAT_ERR_INVALID_TS);
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "does not follow"));
    b.tsp[1] = b.ts[1];
    b.users[2] = "UNOBODY00";
    ck_assert_chat_err(import(&ada, &b), CHAT_ERR_USER_NOT_FOUND);
    b.users[2] = ada.id;
    b.texts[1] = "";
    ck_assert_chat_err(import(&ada, &b), CHAT_ERR_NO_TEXT);
    b.texts[1] = "bad \xc0\xaf utf8";
    ck_assert_chat_err(import(&ada, &b), CHAT_ERR_INVALID_UTF8);
    b.texts[1] = b.text[1];
    ck_assert_uint_eq(history_count(), 0);

    /* A ts already stored refuses the whole call, and says which. */
    batch one = batch_make(1, 1, BASE_US, STEP_US, ada.id);
    ck_assert_chat_ok(import(&ada, &one));
    ck_assert_chat_err(import(&ada, &b), CHAT_ERR_DUPLICATE);
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), b.ts[1]));
    ck_assert_uint_eq(history_count(), 1);
    batch_free(&one);
    batch_free(&b);
}
END_TEST

START_TEST(imports_fill_gaps_and_search_keeps_live_posts)
{
    /* Live posts wait for a batch before search indexes them: an import
     * must index them too, not jump its watermark over them. */
    chat_message *m = NULL;
    for (int i = 0; i < 3; i++) {
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "fresh kiwi", NULL, NULL, 0, &m));
        chat_message_free(m);
    }
    batch even = batch_make(100, 0, BASE_US, 2 * STEP_US, ada.id);
    ck_assert_chat_ok(import(&ada, &even));
    /* The odd ones, between the even ones already stored. */
    batch odd = batch_make(100, 0, BASE_US + STEP_US, 2 * STEP_US, bob.id);
    ck_assert_chat_ok(import(&ada, &odd));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "later kiwi", NULL, NULL, 0, &m));
    chat_message_free(m);

    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_search(ctx, bob.s, "kiwi", NULL, 20, &l));
    ck_assert_uint_eq(chat_list_count(l), 4);
    chat_list_free(l);
    ck_assert_chat_ok(chat_message_search(ctx, bob.s, "old", NULL, 100, &l));
    ck_assert_uint_eq(chat_list_count(l), 100); /* a page of 100; 200 match */
    ck_assert(chat_list_has_more(l));
    chat_list_free(l);

    /* History interleaves them by ts: the 200 imported, oldest last. */
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 300, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 204);
    for (size_t i = 4; i < 204; i++) {
        char want[CHAT_TS_SIZE];
        ts_of(BASE_US + (int64_t)(203 - i) * STEP_US, want);
        ck_assert_str_eq(chat_message_ts(chat_list_message(l, i)), want);
        ck_assert_str_eq(chat_message_user(chat_list_message(l, i)), (203 - i) % 2 ? bob.id : ada.id);
    }
    chat_list_free(l);
    batch_free(&even);
    batch_free(&odd);
}
END_TEST

/* A store whose table predates import (V2) says not_supported. */
START_TEST(stores_without_import_say_not_supported)
{
    static chat_message_store_ops v2;
    v2 = chati_sqlite_message_ops;
    v2.version = CHAT_STORE_V2;
    v2.scheme = "sqlitev2";
    ck_assert_chat_ok(chat_message_store_register(&v2));
    char *d2 = chat_test_tmpdir("v2");
    char url[4200];
    snprintf(url, sizeof url, "sqlitev2:%s/message.db", d2);
    char *d3 = NULL;
    chat_ctx *c2 = fixture_open(&d3, "store.message", url, NULL);
    person p = fixture_person(c2, "cy@example.com");
    char *ch = fixture_channel(c2, &p, "old", false);
    const char *ts[] = {"1500000000.000001"}, *users[] = {p.id}, *texts[] = {"x"};
    ck_assert_chat_err(chat_message_import(c2, p.s, ch, 1, ts, users, texts),
                       CHAT_ERR_NOT_SUPPORTED);
    free(ch);
    fixture_person_free(&p);
    fixture_close(c2, d3);
    chat_test_rmtree(d2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("message_import");
    TCase *tc = tcase_create("import");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, imported_history_pages_and_search);
    tcase_add_test(tc, bad_input_is_refused_and_nothing_is_stored);
    tcase_add_test(tc, imports_fill_gaps_and_search_keeps_live_posts);
    tcase_add_test(tc, stores_without_import_say_not_supported);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
