/* Messages through the public API: validation, idempotency, threads, edits,
 * reactions, history and search. */
#include "fixture.h"

static chat_ctx *ctx;
static char *dir;
static person ada, bob;
static char *chan;

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
    ada = fixture_person(ctx, "ada@example.com");
    bob = fixture_person(ctx, "bob@example.com");
    chan = fixture_channel(ctx, &ada, "talk", false);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, chan, NULL));
}

static void teardown(void)
{
    free(chan);
    fixture_person_free(&ada);
    fixture_person_free(&bob);
    fixture_close(ctx, dir);
}

START_TEST(text_is_validated)
{
    chat_message *m = NULL;
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, "", NULL, NULL, 0, &m), CHAT_ERR_NO_TEXT);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, NULL, NULL, NULL, 0, &m), CHAT_ERR_NO_TEXT);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, "bad \xc0\xaf utf8", NULL, NULL, 0, &m),
                       CHAT_ERR_INVALID_UTF8);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, "surrogate \xed\xa0\x80", NULL, NULL, 0,
                                         &m),
                       CHAT_ERR_INVALID_UTF8);
    /* 40,000 characters is the limit, counted in characters, not bytes. */
    size_t n = CHAT_MAX_TEXT_CHARS;
    char *big = malloc(n * 3 + 4);
    for (size_t i = 0; i < n; i++)
        memcpy(big + i * 3, "\xe2\x82\xac", 3); /* € is 3 bytes */
    big[n * 3] = '\0';
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, big, NULL, NULL, 0, &m));
    ck_assert_uint_eq(strlen(chat_message_text(m)), n * 3);
    chat_message_free(m);
    memcpy(big + n * 3, "x", 2);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, big, NULL, NULL, 0, &m),
                       CHAT_ERR_MSG_TOO_LONG);
    free(big);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, "CNOSUCHCHAN", "x", NULL, NULL, 0, &m),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, "../etc", "x", NULL, NULL, 0, &m),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, "x", "nonsense", NULL, 0, &m),
                       CHAT_ERR_INVALID_TS);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, "x", "1234.000001", NULL, 0, &m),
                       CHAT_ERR_THREAD_NOT_FOUND);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, chan, "x", NULL, "has space", 0, &m),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(m);
    /* Nothing of the failures was stored. */
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, ada.s, chan, NULL, NULL, false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    chat_list_free(l);
}
END_TEST

START_TEST(client_msg_id_makes_posts_idempotent)
{
    chat_message *a = NULL, *b = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "once", NULL, "c-123", 0, &a));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "once", NULL, "c-123", 0, &b));
    ck_assert_str_eq(chat_message_ts(a), chat_message_ts(b));
    ck_assert_str_eq(chat_message_client_msg_id(b), "c-123");
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, ada.s, chan, NULL, NULL, false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    chat_list_free(l);
    chat_message_free(a);
    chat_message_free(b);
}
END_TEST

START_TEST(ts_strictly_increase)
{
    char prev[CHAT_TS_SIZE] = "";
    for (int i = 0; i < 200; i++) {
        chat_message *m = NULL;
        ck_assert_chat_ok(chat_message_post(ctx, i % 2 ? ada.s : bob.s, chan, "tick", NULL, NULL,
                                            0, &m));
        ck_assert_uint_eq(strlen(chat_message_ts(m)), CHAT_TS_SIZE - 1);
        ck_assert_str_gt(chat_message_ts(m), prev);
        strcpy(prev, chat_message_ts(m));
        chat_message_free(m);
    }
}
END_TEST

START_TEST(threads_edits_deletes_reactions)
{
    chat_message *parent = NULL, *r1 = NULL, *r2 = NULL, *m = NULL;
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "parent", NULL, NULL, 0, &parent));
    const char *pts = chat_message_ts(parent);
    ck_assert_chat_ok(chat_message_post(ctx, bob.s, chan, "r1", pts, NULL, 0, &r1));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "r2", pts, NULL,
                                        CHAT_POST_REPLY_BROADCAST, &r2));
    ck_assert_str_eq(chat_message_thread_ts(r1), pts);
    ck_assert_chat_ok(chat_message_get(ctx, bob.s, chan, pts, &m));
    ck_assert_int_eq(chat_message_reply_count(m), 2);
    ck_assert_str_eq(chat_message_latest_reply(m), chat_message_ts(r2));
    ck_assert_uint_eq(chat_message_reply_user_count(m), 2);
    ck_assert_str_eq(chat_message_reply_user(m, 0), bob.id);
    chat_message_free(m);

    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_replies(ctx, bob.s, chan, pts, NULL, NULL, false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 3);
    ck_assert_str_eq(chat_message_text(chat_list_message(l, 0)), "parent");
    ck_assert_str_eq(chat_message_text(chat_list_message(l, 2)), "r2");
    chat_list_free(l);
    /* History: the parent and the broadcast reply, not the plain reply. */
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 2);
    ck_assert_str_eq(chat_message_text(chat_list_message(l, 0)), "r2");
    chat_list_free(l);
    ck_assert_chat_err(chat_message_replies(ctx, bob.s, chan, "1.000001", NULL, NULL, false, 0,
                                            NULL, &l),
                       CHAT_ERR_THREAD_NOT_FOUND);

    /* Edits: only the author; mentions are re-read. */
    char text[64];
    snprintf(text, sizeof text, "parent, edited for <@%s>", bob.id);
    ck_assert_chat_err(chat_message_update(ctx, bob.s, chan, pts, "hijack", &m),
                       CHAT_ERR_CANT_UPDATE_MESSAGE);
    ck_assert_chat_err(chat_message_update(ctx, ada.s, chan, pts, "", &m), CHAT_ERR_NO_TEXT);
    ck_assert_chat_ok(chat_message_update(ctx, ada.s, chan, pts, text, &m));
    ck_assert_str_eq(chat_message_text(m), text);
    ck_assert_str_eq(chat_message_edited_user(m), ada.id);
    ck_assert_str_ne(chat_message_edited_ts(m), "");
    ck_assert_uint_eq(chat_message_mention_count(m), 1);
    ck_assert_str_eq(chat_message_mention(m, 0), bob.id);
    chat_message_free(m);

    /* Reactions. */
    ck_assert_chat_ok(chat_reaction_add(ctx, bob.s, chan, pts, "thumbsup"));
    ck_assert_chat_ok(chat_reaction_add(ctx, ada.s, chan, pts, "thumbsup"));
    ck_assert_chat_ok(chat_reaction_add(ctx, ada.s, chan, pts, "tada"));
    ck_assert_chat_err(chat_reaction_add(ctx, ada.s, chan, pts, "tada"), CHAT_ERR_ALREADY_REACTED);
    ck_assert_chat_err(chat_reaction_add(ctx, ada.s, chan, pts, "Not Valid"),
                       CHAT_ERR_INVALID_REACTION);
    ck_assert_chat_err(chat_reaction_remove(ctx, bob.s, chan, pts, "tada"), CHAT_ERR_NO_REACTION);
    ck_assert_chat_ok(chat_reaction_remove(ctx, ada.s, chan, pts, "tada"));
    ck_assert_chat_ok(chat_message_get(ctx, ada.s, chan, pts, &m));
    ck_assert_uint_eq(chat_message_reaction_count(m), 1);
    ck_assert_str_eq(chat_message_reaction_name(m, 0), "thumbsup");
    ck_assert_uint_eq(chat_message_reaction_user_count(m, 0), 2);
    ck_assert_str_eq(chat_message_reaction_user(m, 0, 0), bob.id);
    ck_assert_str_eq(chat_message_reaction_user(m, 0, 1), ada.id);
    chat_message_free(m);

    /* Deletes: only the author (or an admin: ada owns the workspace). */
    ck_assert_chat_err(chat_message_delete(ctx, bob.s, chan, chat_message_ts(r2)),
                       CHAT_ERR_CANT_DELETE_MESSAGE);
    ck_assert_chat_ok(chat_message_delete(ctx, bob.s, chan, chat_message_ts(r1)));
    ck_assert_chat_ok(chat_message_get(ctx, ada.s, chan, pts, &m));
    ck_assert_int_eq(chat_message_reply_count(m), 1);
    chat_message_free(m);
    ck_assert_chat_err(chat_message_get(ctx, ada.s, chan, chat_message_ts(r1), &m),
                       CHAT_ERR_MESSAGE_NOT_FOUND);
    ck_assert_chat_err(chat_message_delete(ctx, bob.s, chan, chat_message_ts(r1)),
                       CHAT_ERR_MESSAGE_NOT_FOUND);
    chat_message_free(parent);
    chat_message_free(r1);
    chat_message_free(r2);
}
END_TEST

START_TEST(history_pages_like_slack)
{
    char ts[30][CHAT_TS_SIZE];
    for (int i = 0; i < 30; i++) {
        chat_message *m = NULL;
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, text, NULL, NULL, 0, &m));
        strcpy(ts[i], chat_message_ts(m));
        chat_message_free(m);
    }
    /* Newest first, 7 a page, through the cursor: every message once. */
    char *cursor = NULL;
    int seen = 0;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 7, cursor, &l));
        free(cursor);
        for (size_t i = 0; i < chat_list_count(l); i++, seen++)
            ck_assert_str_eq(chat_message_ts(chat_list_message(l, i)), ts[29 - seen]);
        ck_assert(chat_list_has_more(l) == (seen < 30));
        cursor = chat_list_next_cursor(l) ? strdup(chat_list_next_cursor(l)) : NULL;
        chat_list_free(l);
    } while (cursor);
    ck_assert_int_eq(seen, 30);

    /* latest/oldest bounds, exclusive unless inclusive. */
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, ts[20], ts[10], false, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 9);
    ck_assert_str_eq(chat_message_ts(chat_list_message(l, 0)), ts[19]);
    chat_list_free(l);
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, ts[20], ts[10], true, 0, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 11);
    ck_assert_str_eq(chat_message_ts(chat_list_message(l, 0)), ts[20]);
    ck_assert_str_eq(chat_message_ts(chat_list_message(l, 10)), ts[10]);
    chat_list_free(l);
    ck_assert_chat_err(chat_message_history(ctx, bob.s, chan, "yesterday", NULL, false, 0, NULL, &l),
                       CHAT_ERR_INVALID_TS);
    ck_assert_chat_err(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, -1, NULL, &l),
                       CHAT_ERR_INVALID_LIMIT);
    ck_assert_chat_err(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 0, "xyz", &l),
                       CHAT_ERR_INVALID_CURSOR);
}
END_TEST

START_TEST(search_sees_only_readable_channels)
{
    char *secret = fixture_channel(ctx, &ada, "secret", true);
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "deployment finished on staging", NULL,
                                        NULL, 0, NULL));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, secret, "deployment keys rotated", NULL,
                                        NULL, 0, NULL));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "私は東京に住んでいます", NULL, NULL, 0,
                                        NULL));
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_search(ctx, ada.s, "deploy", NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 2);
    chat_list_free(l);
    ck_assert_chat_ok(chat_message_search(ctx, bob.s, "deploy", NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    ck_assert_str_eq(chat_message_channel(chat_list_message(l, 0)), chan);
    chat_list_free(l);
    ck_assert_chat_ok(chat_message_search(ctx, bob.s, "東京", NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    chat_list_free(l);
    ck_assert_chat_ok(chat_message_search(ctx, bob.s, "\") OR text:*", NULL, 0, &l));
    chat_list_free(l);
    ck_assert_chat_err(chat_message_search(ctx, bob.s, "   ", NULL, 0, &l), CHAT_ERR_NO_QUERY);
    free(secret);
}
END_TEST

START_TEST(acknowledged_posts_survive_restart)
{
    /* Everything acknowledged is on disk: close and reopen, it is all there,
     * and the events reach the consumers (unread counts). */
    for (int i = 0; i < 50; i++)
        ck_assert_chat_ok(chat_message_post(ctx, ada.s, chan, "durable", NULL, NULL, 0, NULL));
    chat_close(ctx);
    chat_config *cfg = NULL;
    char err[200];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_open(&ctx, cfg, err, sizeof err));
    chat_config_free(cfg);
    ck_assert_chat_ok(chat_drain(ctx, 5000));
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 100, NULL, &l));
    ck_assert_uint_eq(chat_list_count(l), 50);
    chat_list_free(l);
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, bob.s, chan, &c));
    ck_assert_int_eq(chat_channel_unread_count(c), 50);
    chat_channel_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("messages");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, text_is_validated);
    tcase_add_test(tc, client_msg_id_makes_posts_idempotent);
    tcase_add_test(tc, ts_strictly_increase);
    tcase_add_test(tc, threads_edits_deletes_reactions);
    tcase_add_test(tc, history_pages_like_slack);
    tcase_add_test(tc, search_sees_only_readable_channels);
    tcase_add_test(tc, acknowledged_posts_survive_restart);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
