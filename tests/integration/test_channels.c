/* Conversations: naming, visibility, membership, archive, DMs, read markers. */
#include "fixture.h"

static chat_ctx *ctx;
static char *dir;
static person ada, bob, cy;

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
    ada = fixture_person(ctx, "ada@example.com");
    bob = fixture_person(ctx, "bob@example.com");
    cy = fixture_person(ctx, "cy@example.com");
}

static void teardown(void)
{
    fixture_person_free(&ada);
    fixture_person_free(&bob);
    fixture_person_free(&cy);
    fixture_close(ctx, dir);
}

static bool in_list(const chat_list *l, const char *channel_id)
{
    for (size_t i = 0; i < chat_list_count(l); i++)
        if (strcmp(chat_channel_id(chat_list_channel(l, i)), channel_id) == 0)
            return true;
    return false;
}

START_TEST(names_follow_slack_rules)
{
    chat_channel *c = NULL;
    ck_assert_chat_err(chat_channel_create(ctx, ada.s, "", false, &c),
                       CHAT_ERR_INVALID_NAME_REQUIRED);
    ck_assert_chat_err(chat_channel_create(ctx, ada.s, "Has Caps", false, &c),
                       CHAT_ERR_INVALID_NAME_SPECIALS);
    ck_assert_chat_err(chat_channel_create(ctx, ada.s, "a#b", false, &c),
                       CHAT_ERR_INVALID_NAME_SPECIALS);
    char long_name[82];
    memset(long_name, 'a', 81);
    long_name[81] = '\0';
    ck_assert_chat_err(chat_channel_create(ctx, ada.s, long_name, false, &c),
                       CHAT_ERR_INVALID_NAME_MAXLENGTH);
    long_name[80] = '\0';
    ck_assert_chat_ok(chat_channel_create(ctx, ada.s, long_name, false, &c));
    chat_channel_free(c);
    ck_assert_chat_ok(chat_channel_create(ctx, ada.s, "日本語-チャンネル", false, &c));
    chat_channel_free(c);
    ck_assert_chat_ok(chat_channel_create(ctx, ada.s, "dev_ops-2", false, &c));
    ck_assert_int_eq(chat_channel_type_of(c), CHAT_CHANNEL_PUBLIC);
    ck_assert_str_eq(chat_channel_creator(c), ada.id);
    ck_assert_int_eq(chat_channel_member_count(c), 1);
    chat_channel_free(c);
    ck_assert_chat_err(chat_channel_create(ctx, bob.s, "dev_ops-2", true, &c), CHAT_ERR_NAME_TAKEN);
    ck_assert_chat_err(chat_channel_create(ctx, bob.s, "general", false, &c), CHAT_ERR_NAME_TAKEN);
}
END_TEST

START_TEST(general_is_joined_and_kept)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_channel_list_for_user(ctx, bob.s, NULL, CHAT_CHANNEL_ALL, false, NULL,
                                                 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 1);
    const chat_channel *g = chat_list_channel(l, 0);
    ck_assert_str_eq(chat_channel_name(g), "general");
    ck_assert(chat_channel_is_general(g));
    char *gid = strdup(chat_channel_id(g));
    chat_list_free(l);
    ck_assert_chat_err(chat_channel_leave(ctx, bob.s, gid), CHAT_ERR_CANT_LEAVE_GENERAL);
    ck_assert_chat_err(chat_channel_archive(ctx, ada.s, gid), CHAT_ERR_CANT_ARCHIVE_GENERAL);
    ck_assert_chat_err(chat_channel_kick(ctx, ada.s, gid, bob.id),
                       CHAT_ERR_CANT_KICK_FROM_GENERAL);
    ck_assert_chat_ok(chat_channel_members(ctx, ada.s, gid, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 3);
    ck_assert_str_eq(chat_list_string(l, 0), ada.id); /* join order */
    chat_list_free(l);
    free(gid);
}
END_TEST

START_TEST(private_channels_are_invisible_to_outsiders)
{
    char *priv = fixture_channel(ctx, &ada, "secret", true);
    char *pub = fixture_channel(ctx, &ada, "open", false);
    chat_channel *c = NULL;
    ck_assert_chat_err(chat_channel_info(ctx, bob.s, priv, &c), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_channel_join(ctx, bob.s, priv, NULL), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_message_post(ctx, bob.s, priv, "hi", NULL, NULL, 0, NULL),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_channel_list(ctx, bob.s, CHAT_CHANNEL_PUBLIC | CHAT_CHANNEL_PRIVATE,
                                        false, NULL, 0, &l));
    ck_assert(!in_list(l, priv));
    ck_assert(in_list(l, pub));
    chat_list_free(l);
    ck_assert_chat_ok(chat_channel_list(ctx, ada.s, CHAT_CHANNEL_PRIVATE, false, NULL, 0, &l));
    ck_assert(in_list(l, priv));
    ck_assert(!in_list(l, pub));
    chat_list_free(l);

    /* Invited, bob sees it; and a public channel is readable without joining. */
    const char *who[] = {bob.id};
    ck_assert_chat_ok(chat_channel_invite(ctx, ada.s, priv, who, 1));
    ck_assert_chat_ok(chat_channel_info(ctx, bob.s, priv, &c));
    ck_assert(chat_channel_is_member(c));
    chat_channel_free(c);
    ck_assert_chat_ok(chat_channel_info(ctx, bob.s, pub, &c));
    ck_assert(!chat_channel_is_member(c));
    chat_channel_free(c);
    ck_assert_chat_err(chat_message_post(ctx, bob.s, pub, "hi", NULL, NULL, 0, NULL),
                       CHAT_ERR_NOT_IN_CHANNEL);
    free(priv);
    free(pub);
}
END_TEST

START_TEST(membership_changes)
{
    char *id = fixture_channel(ctx, &ada, "team", false);
    bool already = true;
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, id, &already));
    ck_assert(!already);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, id, &already));
    ck_assert(already);
    ck_assert_chat_ok(chat_channel_leave(ctx, bob.s, id));
    ck_assert_chat_err(chat_channel_leave(ctx, bob.s, id), CHAT_ERR_NOT_IN_CHANNEL);

    /* Invite is all or nothing. */
    const char *bad[] = {bob.id, "UNOSUCHUSER"};
    ck_assert_chat_err(chat_channel_invite(ctx, ada.s, id, bad, 2), CHAT_ERR_USER_NOT_FOUND);
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, ada.s, id, &c));
    ck_assert_int_eq(chat_channel_member_count(c), 1);
    chat_channel_free(c);
    const char *self[] = {ada.id};
    ck_assert_chat_err(chat_channel_invite(ctx, ada.s, id, self, 1), CHAT_ERR_CANT_INVITE_SELF);
    const char *two[] = {bob.id, cy.id};
    ck_assert_chat_err(chat_channel_invite(ctx, cy.s, id, two, 2), CHAT_ERR_NOT_IN_CHANNEL);
    ck_assert_chat_ok(chat_channel_invite(ctx, ada.s, id, two, 2));
    ck_assert_chat_ok(chat_channel_info(ctx, ada.s, id, &c));
    ck_assert_int_eq(chat_channel_member_count(c), 3);
    chat_channel_free(c);

    ck_assert_chat_err(chat_channel_kick(ctx, bob.s, id, cy.id), CHAT_ERR_RESTRICTED_ACTION);
    ck_assert_chat_err(chat_channel_kick(ctx, ada.s, id, ada.id), CHAT_ERR_CANT_KICK_SELF);
    ck_assert_chat_ok(chat_channel_kick(ctx, ada.s, id, cy.id));
    ck_assert_chat_err(chat_channel_kick(ctx, ada.s, id, cy.id), CHAT_ERR_NOT_IN_CHANNEL);
    free(id);
}
END_TEST

START_TEST(rename_topic_purpose_archive)
{
    char *id = fixture_channel(ctx, &ada, "old-name", false);
    chat_channel *c = NULL;
    ck_assert_chat_err(chat_channel_rename(ctx, bob.s, id, "x", &c), CHAT_ERR_NOT_IN_CHANNEL);
    ck_assert_chat_err(chat_channel_rename(ctx, ada.s, id, "Bad Name", &c),
                       CHAT_ERR_INVALID_NAME_SPECIALS);
    ck_assert_chat_err(chat_channel_rename(ctx, ada.s, id, "general", &c), CHAT_ERR_NAME_TAKEN);
    ck_assert_chat_ok(chat_channel_rename(ctx, ada.s, id, "new-name", &c));
    ck_assert_str_eq(chat_channel_name(c), "new-name");
    chat_channel_free(c);

    ck_assert_chat_ok(chat_channel_set_topic(ctx, ada.s, id, "Ship it"));
    ck_assert_chat_ok(chat_channel_set_purpose(ctx, ada.s, id, "Talk about shipping"));
    char long_topic[300];
    memset(long_topic, 't', 299);
    long_topic[299] = '\0';
    ck_assert_chat_err(chat_channel_set_topic(ctx, ada.s, id, long_topic), CHAT_ERR_TOO_LONG);
    ck_assert_chat_err(chat_channel_set_topic(ctx, ada.s, id, "\xc3\x28"), CHAT_ERR_INVALID_UTF8);
    ck_assert_chat_ok(chat_channel_info(ctx, ada.s, id, &c));
    ck_assert_str_eq(chat_channel_topic(c), "Ship it");
    ck_assert_str_eq(chat_channel_topic_creator(c), ada.id);
    ck_assert_str_eq(chat_channel_purpose(c), "Talk about shipping");
    ck_assert_int_gt(chat_channel_topic_last_set(c), 0);
    chat_channel_free(c);

    ck_assert_chat_err(chat_channel_unarchive(ctx, ada.s, id), CHAT_ERR_NOT_ARCHIVED);
    ck_assert_chat_ok(chat_channel_archive(ctx, ada.s, id));
    ck_assert_chat_err(chat_channel_archive(ctx, ada.s, id), CHAT_ERR_ALREADY_ARCHIVED);
    ck_assert_chat_err(chat_message_post(ctx, ada.s, id, "hi", NULL, NULL, 0, NULL),
                       CHAT_ERR_IS_ARCHIVED);
    ck_assert_chat_err(chat_channel_join(ctx, bob.s, id, NULL), CHAT_ERR_IS_ARCHIVED);
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_channel_list(ctx, ada.s, CHAT_CHANNEL_PUBLIC, true, NULL, 0, &l));
    ck_assert(!in_list(l, id));
    chat_list_free(l);
    ck_assert_chat_ok(chat_channel_unarchive(ctx, ada.s, id));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, id, "back", NULL, NULL, 0, NULL));
    free(id);
}
END_TEST

START_TEST(direct_messages)
{
    const char *to_bob[] = {bob.id};
    const char *to_ada[] = {ada.id};
    chat_channel *d1 = NULL, *d2 = NULL, *g = NULL;
    ck_assert_chat_ok(chat_channel_open_dm(ctx, ada.s, to_bob, 1, &d1));
    ck_assert_chat_ok(chat_channel_open_dm(ctx, bob.s, to_ada, 1, &d2));
    ck_assert_str_eq(chat_channel_id(d1), chat_channel_id(d2)); /* the same conversation */
    ck_assert_int_eq(chat_channel_type_of(d1), CHAT_CHANNEL_IM);
    ck_assert_int_eq(chat_channel_member_count(d2), 2);
    ck_assert_chat_err(chat_channel_info(ctx, cy.s, chat_channel_id(d1), &g),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(chat_channel_leave(ctx, ada.s, chat_channel_id(d1)),
                       CHAT_ERR_METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE);
    const char *invite[] = {cy.id};
    ck_assert_chat_err(chat_channel_invite(ctx, ada.s, chat_channel_id(d1), invite, 1),
                       CHAT_ERR_METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE);
    ck_assert_chat_ok(chat_message_post(ctx, bob.s, chat_channel_id(d1), "psst", NULL, NULL, 0,
                                        NULL));

    const char *group[] = {bob.id, cy.id, bob.id};
    ck_assert_chat_ok(chat_channel_open_dm(ctx, ada.s, group, 3, &g));
    ck_assert_int_eq(chat_channel_type_of(g), CHAT_CHANNEL_MPIM);
    ck_assert_int_eq(chat_channel_member_count(g), 3);
    chat_channel *g2 = NULL;
    const char *group2[] = {ada.id, bob.id};
    ck_assert_chat_ok(chat_channel_open_dm(ctx, cy.s, group2, 2, &g2));
    ck_assert_str_eq(chat_channel_id(g), chat_channel_id(g2));
    const char *nobody[] = {"UNOSUCHUSER"};
    chat_channel *x = NULL;
    ck_assert_chat_err(chat_channel_open_dm(ctx, ada.s, nobody, 1, &x), CHAT_ERR_USER_NOT_FOUND);
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_channel_list_for_user(ctx, ada.s, NULL, CHAT_CHANNEL_IM | CHAT_CHANNEL_MPIM,
                                                 false, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 2);
    chat_list_free(l);
    /* Someone else's DMs are not listed for an outsider. */
    ck_assert_chat_ok(chat_channel_list_for_user(ctx, cy.s, bob.id, CHAT_CHANNEL_IM, false,
                                                 NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
    chat_channel_free(d1);
    chat_channel_free(d2);
    chat_channel_free(g);
    chat_channel_free(g2);
}
END_TEST

START_TEST(unread_and_mentions_follow_markers)
{
    char *id = fixture_channel(ctx, &ada, "news", false);
    ck_assert_chat_ok(chat_channel_join(ctx, bob.s, id, NULL));
    chat_message *m1 = NULL, *m3 = NULL, *m4 = NULL;
    char text[64];
    snprintf(text, sizeof text, "hey <@%s> look", bob.id);
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, id, "one", NULL, NULL, 0, &m1));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, id, text, NULL, NULL, 0, NULL));
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, id, "<!channel> all", NULL, NULL, 0, &m3));
    ck_assert_chat_ok(chat_message_post(ctx, bob.s, id, "mine do not count", NULL, NULL, 0, &m4));
    /* A thread reply does not make the channel unread. */
    ck_assert_chat_ok(chat_message_post(ctx, ada.s, id, "reply", chat_message_ts(m1), NULL, 0,
                                        NULL));
    ck_assert_chat_ok(chat_drain(ctx, 5000));
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, bob.s, id, &c));
    ck_assert_int_eq(chat_channel_unread_count(c), 3);
    ck_assert_int_eq(chat_channel_mention_count(c), 2);
    /* Last activity is the newest message in the channel (not thread replies). */
    ck_assert_str_eq(chat_channel_last_activity(c), chat_message_ts(m4));
    chat_channel_free(c);

    ck_assert_chat_ok(chat_channel_mark(ctx, bob.s, id, chat_message_ts(m1)));
    ck_assert_chat_ok(chat_channel_info(ctx, bob.s, id, &c));
    ck_assert_int_eq(chat_channel_unread_count(c), 2);
    ck_assert_str_eq(chat_channel_last_read(c), chat_message_ts(m1));
    chat_channel_free(c);

    /* Deleting an unread message takes it off the count. */
    ck_assert_chat_ok(chat_message_delete(ctx, ada.s, id, chat_message_ts(m3)));
    ck_assert_chat_ok(chat_drain(ctx, 5000));
    ck_assert_chat_ok(chat_channel_info(ctx, bob.s, id, &c));
    ck_assert_int_eq(chat_channel_unread_count(c), 1);
    ck_assert_int_eq(chat_channel_mention_count(c), 1);
    chat_channel_free(c);
    ck_assert_chat_err(chat_channel_mark(ctx, bob.s, id, "not-a-ts"), CHAT_ERR_INVALID_TS);
    ck_assert_chat_err(chat_channel_mark(ctx, cy.s, id, chat_message_ts(m1)),
                       CHAT_ERR_NOT_IN_CHANNEL);
    chat_message_free(m1);
    chat_message_free(m3);
    chat_message_free(m4);
    free(id);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("channels");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, names_follow_slack_rules);
    tcase_add_test(tc, general_is_joined_and_kept);
    tcase_add_test(tc, private_channels_are_invisible_to_outsiders);
    tcase_add_test(tc, membership_changes);
    tcase_add_test(tc, rename_topic_purpose_archive);
    tcase_add_test(tc, direct_messages);
    tcase_add_test(tc, unread_and_mentions_follow_markers);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
