/* The ts window and cursors that every message store's listings share
 * (core/paging.c): history and replies, search, files. */
#include <stdint.h>
#include <string.h>

#include "core/internal.h"
#include "testutil.h"

/* A cursor as a listing hands it out after ts. The caller frees it. */
static char *ts_cursor(char tag, int64_t ts)
{
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    ck_assert_ptr_nonnull(l);
    ck_assert_chat_ok(chati_page_ts_cursor_out(tag, ts, l));
    ck_assert(chat_list_has_more(l));
    char *c = chat_strdup(chat_list_next_cursor(l));
    chat_list_free(l);
    return c;
}

/* A cursor of listing tag around any key, to hand in what no store makes. */
static char *raw_cursor(char tag, const char *key)
{
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    ck_assert_ptr_nonnull(l);
    ck_assert_chat_ok(chati_page_cursor_out(tag, key, l));
    char *c = chat_strdup(chat_list_next_cursor(l));
    chat_list_free(l);
    return c;
}

START_TEST(ts_format_pads_and_round_trips)
{
    char out[CHAT_TS_SIZE];
    chati_ts_format(0, out);
    ck_assert_str_eq(out, "0000000000.000000");
    chati_ts_format(-5, out);
    ck_assert_str_eq(out, "0000000000.000000");
    chati_ts_format(INT64_C(123500000), out);
    ck_assert_str_eq(out, "0000000123.500000");
    chati_ts_format(INT64_C(1796642383000001), out);
    ck_assert_str_eq(out, "1796642383.000001");
    chati_ts_format(INT64_C(9999999999999999), out);
    ck_assert_str_eq(out, "9999999999.999999");
    /* Past 10 digits of seconds (year 2286) the seconds wrap, as before. */
    chati_ts_format(INT64_C(12345678901000007), out);
    ck_assert_str_eq(out, "2345678901.000007");
    for (int64_t us = 1; us < INT64_C(4000000000000000); us = us * 7 + 3) {
        int64_t back = 0;
        chati_ts_format(us, out);
        ck_assert_uint_eq(strlen(out), CHAT_TS_SIZE - 1);
        ck_assert(chati_ts_parse(out, &back));
        ck_assert_int_eq(back, us);
    }
}
END_TEST

START_TEST(unbounded_without_range_or_cursor)
{
    int64_t lo = 0, hi = 0;
    ck_assert_chat_ok(chati_page_ts_window(NULL, NULL, false, NULL, 'h',
                                           CHATI_PAGE_NEWEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, -1);
    ck_assert_int_eq(hi, INT64_MAX);
    /* "" is the same as NULL, as the API passes absent arguments. */
    ck_assert_chat_ok(chati_page_ts_window("", "", true, "", 'r', CHATI_PAGE_OLDEST_FIRST,
                                           &lo, &hi));
    ck_assert_int_eq(lo, -1);
    ck_assert_int_eq(hi, INT64_MAX);
}
END_TEST

START_TEST(latest_and_oldest_are_exclusive_unless_inclusive)
{
    int64_t lo, hi;
    ck_assert_chat_ok(chati_page_ts_window("1700000002.000200", "1700000001.5", false, NULL,
                                           'h', CHATI_PAGE_NEWEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, INT64_C(1700000001500000));
    ck_assert_int_eq(hi, INT64_C(1700000002000200));
    ck_assert_chat_ok(chati_page_ts_window("1700000002.000200", "1700000001.5", true, NULL,
                                           'h', CHATI_PAGE_NEWEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, INT64_C(1700000001499999));
    ck_assert_int_eq(hi, INT64_C(1700000002000201));
    /* Each bound alone leaves the other open. */
    ck_assert_chat_ok(chati_page_ts_window("5", NULL, false, NULL, 'h',
                                           CHATI_PAGE_NEWEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, -1);
    ck_assert_int_eq(hi, 5000000);
    ck_assert_chat_ok(chati_page_ts_window(NULL, "5", true, NULL, 'r',
                                           CHATI_PAGE_OLDEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, 4999999);
    ck_assert_int_eq(hi, INT64_MAX);
}
END_TEST

START_TEST(malformed_range_is_invalid_ts)
{
    int64_t lo, hi;
    ck_assert_chat_err(chati_page_ts_window("yesterday", NULL, false, NULL, 'h',
                                            CHATI_PAGE_NEWEST_FIRST, &lo, &hi),
                       CHAT_ERR_INVALID_TS);
    ck_assert_ptr_nonnull(strstr(chati_errmsg(), "latest"));
    ck_assert_chat_err(chati_page_ts_window(NULL, "1.1234567", false, NULL, 'h',
                                            CHATI_PAGE_NEWEST_FIRST, &lo, &hi),
                       CHAT_ERR_INVALID_TS);
    ck_assert_ptr_nonnull(strstr(chati_errmsg(), "oldest"));
    /* The range is checked before the cursor. */
    ck_assert_chat_err(chati_page_ts_window("x", NULL, false, "not a cursor", 'h',
                                            CHATI_PAGE_NEWEST_FIRST, &lo, &hi),
                       CHAT_ERR_INVALID_TS);
}
END_TEST

START_TEST(newest_first_resumes_below_the_cursor)
{
    int64_t lo, hi;
    char *c = ts_cursor('h', 1700000001000000);
    ck_assert_chat_ok(chati_page_ts_window(NULL, "1700000000", false, c, 'h',
                                           CHATI_PAGE_NEWEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, INT64_C(1700000000000000));
    ck_assert_int_eq(hi, INT64_C(1700000001000000));
    /* A latest below the cursor still holds: the cursor only narrows. */
    ck_assert_chat_ok(chati_page_ts_window("1700000000.5", NULL, false, c, 'h',
                                           CHATI_PAGE_NEWEST_FIRST, &lo, &hi));
    ck_assert_int_eq(hi, INT64_C(1700000000500000));
    chat_free(c);
}
END_TEST

START_TEST(oldest_first_resumes_above_the_cursor)
{
    int64_t lo, hi;
    char *c = ts_cursor('r', 1700000001000000);
    ck_assert_chat_ok(chati_page_ts_window("1700000009", NULL, true, c, 'r',
                                           CHATI_PAGE_OLDEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, INT64_C(1700000001000000));
    ck_assert_int_eq(hi, INT64_C(1700000009000001));
    ck_assert_chat_ok(chati_page_ts_window(NULL, "1700000002", false, c, 'r',
                                           CHATI_PAGE_OLDEST_FIRST, &lo, &hi));
    ck_assert_int_eq(lo, INT64_C(1700000002000000));
    chat_free(c);
}
END_TEST

START_TEST(foreign_or_malformed_cursor_is_invalid)
{
    int64_t lo, hi;
    char *c = ts_cursor('h', 42);
    ck_assert_chat_err(chati_page_ts_window(NULL, NULL, false, c, 'r',
                                            CHATI_PAGE_OLDEST_FIRST, &lo, &hi),
                       CHAT_ERR_INVALID_CURSOR);
    chat_free(c);
    ck_assert_chat_err(chati_page_ts_window(NULL, NULL, false, "%%%", 'h',
                                            CHATI_PAGE_NEWEST_FIRST, &lo, &hi),
                       CHAT_ERR_INVALID_CURSOR);
    const char *bad[] = {"", "abc", "12x", "-5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = raw_cursor('h', bad[i]);
        ck_assert_msg(chati_page_ts_window(NULL, NULL, false, c, 'h',
                                           CHATI_PAGE_NEWEST_FIRST, &lo,
                                           &hi) == CHAT_ERR_INVALID_CURSOR,
                      "key \"%s\" accepted", bad[i]);
        chat_free(c);
    }
}
END_TEST

START_TEST(tie_breaker_cursors_round_trip)
{
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    ck_assert_ptr_nonnull(l);
    ck_assert_chat_ok(chati_page_ts_id_cursor_out('s', 1700000001000002, "C0123ABCD", l));
    int64_t ts = 7;
    char id[CHAT_ID_SIZE] = "unchanged";
    bool set = true;
    ck_assert_chat_ok(chati_page_ts_id_cursor_in(NULL, 's', &set, &ts, id));
    ck_assert(!set);
    ck_assert_int_eq(ts, 7); /* the first page keeps the caller's defaults */
    ck_assert_str_eq(id, "unchanged");
    ck_assert_chat_ok(chati_page_ts_id_cursor_in(chat_list_next_cursor(l), 's', &set, &ts, id));
    ck_assert(set);
    ck_assert_int_eq(ts, INT64_C(1700000001000002));
    ck_assert_str_eq(id, "C0123ABCD");
    ck_assert_chat_err(chati_page_ts_id_cursor_in(chat_list_next_cursor(l), 'f', &set, &ts, id),
                       CHAT_ERR_INVALID_CURSOR);

    ck_assert_chat_ok(chati_page_pair_cursor_out('f', 1700000000, -3, l));
    int64_t a = 0, b = 0;
    ck_assert_chat_ok(chati_page_pair_cursor_in(chat_list_next_cursor(l), 'f', &set, &a, &b));
    ck_assert(set);
    ck_assert_int_eq(a, 1700000000);
    ck_assert_int_eq(b, -3);
    chat_list_free(l);

    const char *bad_ts_id[] = {"", "12", "x,C1", "-1,C1", "1,ABCDEFGHIJKLMNOPQRSTUVWXYZ"};
    for (size_t i = 0; i < sizeof bad_ts_id / sizeof bad_ts_id[0]; i++) {
        char *c = raw_cursor('s', bad_ts_id[i]);
        ck_assert_msg(chati_page_ts_id_cursor_in(c, 's', &set, &ts, id) ==
                          CHAT_ERR_INVALID_CURSOR,
                      "key \"%s\" accepted", bad_ts_id[i]);
        ck_assert(!set);
        chat_free(c);
    }
    const char *bad_pair[] = {"", "12", "1,", "1,2x", ",2"};
    for (size_t i = 0; i < sizeof bad_pair / sizeof bad_pair[0]; i++) {
        char *c = raw_cursor('f', bad_pair[i]);
        ck_assert_msg(chati_page_pair_cursor_in(c, 'f', &set, &a, &b) ==
                          CHAT_ERR_INVALID_CURSOR,
                      "key \"%s\" accepted", bad_pair[i]);
        chat_free(c);
    }
}
END_TEST

static Suite *paging_suite(void)
{
    Suite *s = suite_create("paging");
    TCase *tc = tcase_create("ts window");
    tcase_add_test(tc, ts_format_pads_and_round_trips);
    tcase_add_test(tc, unbounded_without_range_or_cursor);
    tcase_add_test(tc, latest_and_oldest_are_exclusive_unless_inclusive);
    tcase_add_test(tc, malformed_range_is_invalid_ts);
    tcase_add_test(tc, newest_first_resumes_below_the_cursor);
    tcase_add_test(tc, oldest_first_resumes_above_the_cursor);
    tcase_add_test(tc, foreign_or_malformed_cursor_is_invalid);
    suite_add_tcase(s, tc);
    tc = tcase_create("tie-breaker cursors");
    tcase_add_test(tc, tie_breaker_cursors_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return chat_test_run(paging_suite());
}
