/* Sign-up, log-in, tokens, profiles: libchat's auth and user domains on the
 * embedded backends. */
#include "fixture.h"

static chat_ctx *ctx;
static char *dir;

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
}

static void teardown(void)
{
    fixture_close(ctx, dir);
}

START_TEST(signup_login_verify)
{
    person ada = fixture_person(ctx, "Ada@Example.com");
    ck_assert_str_eq(chat_user_email(ada.user), "ada@example.com");
    ck_assert_str_eq(chat_user_name(ada.user), "ada");
    ck_assert(chat_user_is_admin(ada.user)); /* the first person owns the workspace */
    char *token = NULL;
    ck_assert_chat_ok(chat_auth_login(ctx, "ADA@example.com", FIXTURE_PASSWORD, &token));
    chat_session *s = NULL;
    ck_assert_chat_ok(chat_auth_verify(ctx, token, &s));
    ck_assert_str_eq(chat_session_user_id(s), ada.id);
    ck_assert_str_eq(chat_session_team_id(s), chat_user_team_id(ada.user));

    person bob = fixture_person(ctx, "bob@example.com");
    ck_assert(!chat_user_is_admin(bob.user));
    ck_assert_str_ne(bob.id, ada.id);

    chat_session_free(s);
    chat_free(token);
    fixture_person_free(&ada);
    fixture_person_free(&bob);
}
END_TEST

START_TEST(signup_rejects_bad_input)
{
    person ada = fixture_person(ctx, "ada@example.com");
    chat_user *u = NULL;
    char *t = NULL;
    ck_assert_chat_err(chat_auth_signup(ctx, "ADA@example.com", FIXTURE_PASSWORD, NULL, NULL,
                                        &u, &t),
                       CHAT_ERR_EMAIL_TAKEN);
    ck_assert_chat_err(chat_auth_signup(ctx, "not-an-email", FIXTURE_PASSWORD, NULL, NULL, &u, &t),
                       CHAT_ERR_INVALID_EMAIL);
    ck_assert_chat_err(chat_auth_signup(ctx, "c@example.com", "short", NULL, NULL, &u, &t),
                       CHAT_ERR_BAD_PASSWORD);
    ck_assert_chat_err(chat_auth_signup(ctx, "c@example.com", "\xff\xfe invalid utf8", NULL, NULL,
                                        &u, &t),
                       CHAT_ERR_BAD_PASSWORD);
    ck_assert_chat_err(chat_auth_signup(ctx, "c@example.com", FIXTURE_PASSWORD, NULL, "nope", &u,
                                        &t),
                       CHAT_ERR_TEAM_NOT_FOUND);
    ck_assert_ptr_null(u);
    ck_assert_ptr_null(t);
    /* Nothing half-made: the failed address can still sign up. */
    person c = fixture_person(ctx, "c@example.com");
    ck_assert_str_eq(chat_user_name(c.user), "c");
    /* A clashing handle gets a number. */
    person ada2 = fixture_person(ctx, "ada@other.org");
    ck_assert_str_eq(chat_user_name(ada2.user), "ada2");
    fixture_person_free(&ada);
    fixture_person_free(&c);
    fixture_person_free(&ada2);
}
END_TEST

START_TEST(login_failures_are_uniform)
{
    person ada = fixture_person(ctx, "ada@example.com");
    char *t = NULL;
    ck_assert_chat_err(chat_auth_login(ctx, "ada@example.com", "wrong password!", &t),
                       CHAT_ERR_INVALID_AUTH);
    ck_assert_chat_err(chat_auth_login(ctx, "nobody@example.com", FIXTURE_PASSWORD, &t),
                       CHAT_ERR_INVALID_AUTH);
    ck_assert_ptr_null(t);
    fixture_person_free(&ada);
}
END_TEST

START_TEST(tokens_forged_revoked_deactivated)
{
    person ada = fixture_person(ctx, "ada@example.com");
    person bob = fixture_person(ctx, "bob@example.com");
    chat_session *s = NULL;
    ck_assert_chat_err(chat_auth_verify(ctx, NULL, &s), CHAT_ERR_NOT_AUTHED);
    ck_assert_chat_err(chat_auth_verify(ctx, "", &s), CHAT_ERR_NOT_AUTHED);
    ck_assert_chat_err(chat_auth_verify(ctx, "abc.def.ghi", &s), CHAT_ERR_INVALID_AUTH);
    /* Flip one character of the signature. */
    char *forged = strdup(bob.token);
    size_t len = strlen(forged);
    forged[len - 2] = forged[len - 2] == 'A' ? 'B' : 'A';
    ck_assert_chat_err(chat_auth_verify(ctx, forged, &s), CHAT_ERR_INVALID_AUTH);
    free(forged);

    /* Logout revokes every token of the user. */
    char *second = NULL;
    ck_assert_chat_ok(chat_auth_login(ctx, "bob@example.com", FIXTURE_PASSWORD, &second));
    ck_assert_chat_ok(chat_auth_revoke(ctx, bob.s));
    ck_assert_chat_err(chat_auth_verify(ctx, bob.token, &s), CHAT_ERR_TOKEN_REVOKED);
    ck_assert_chat_err(chat_auth_verify(ctx, second, &s), CHAT_ERR_TOKEN_REVOKED);
    chat_free(second);

    /* A password change revokes too, and hands out a working token. */
    char *fresh = NULL;
    ck_assert_chat_err(chat_auth_change_password(ctx, ada.s, "wrong old pw", "new password 1",
                                                 &fresh),
                       CHAT_ERR_INVALID_AUTH);
    ck_assert_chat_ok(chat_auth_change_password(ctx, ada.s, FIXTURE_PASSWORD, "new password 1",
                                                &fresh));
    ck_assert_chat_err(chat_auth_verify(ctx, ada.token, &s), CHAT_ERR_TOKEN_REVOKED);
    ck_assert_chat_ok(chat_auth_verify(ctx, fresh, &s));
    chat_session_free(s);
    s = NULL;
    char *t = NULL;
    ck_assert_chat_ok(chat_auth_login(ctx, "ada@example.com", "new password 1", &t));
    chat_free(t);

    /* Deactivation: only admins (or oneself); then nothing works. */
    ck_assert_chat_err(chat_user_deactivate(ctx, bob.s, ada.id), CHAT_ERR_RESTRICTED_ACTION);
    ck_assert_chat_ok(chat_user_deactivate(ctx, ada.s, bob.id));
    ck_assert_chat_err(chat_auth_login(ctx, "bob@example.com", FIXTURE_PASSWORD, &t),
                       CHAT_ERR_ACCOUNT_INACTIVE);
    chat_user *u = NULL;
    ck_assert_chat_ok(chat_user_info(ctx, ada.s, bob.id, &u));
    ck_assert(chat_user_is_deleted(u));
    chat_user_free(u);
    chat_free(fresh);
    fixture_person_free(&ada);
    fixture_person_free(&bob);
}
END_TEST

START_TEST(profiles_and_lists)
{
    person ada = fixture_person(ctx, "ada@example.com");
    const char *keys[] = {"display_name", "title", "status_text", "status_emoji", "tz"};
    const char *vals[] = {"Ada L.", "Analyst", "Computing", ":gear:", "Europe/London"};
    chat_user *u = NULL;
    ck_assert_chat_ok(chat_user_profile_set(ctx, ada.s, keys, vals, 5, &u));
    ck_assert_str_eq(chat_user_display_name(u), "Ada L.");
    ck_assert_str_eq(chat_user_tz(u), "Europe/London");
    chat_user_free(u);

    /* All or nothing: a bad second field leaves the first unchanged. */
    const char *k2[] = {"title", "nonsense"};
    const char *v2[] = {"Changed", "x"};
    ck_assert_chat_err(chat_user_profile_set(ctx, ada.s, k2, v2, 2, NULL),
                       CHAT_ERR_INVALID_ARGUMENTS);
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    const char *v3[] = {"Changed", longv};
    const char *k3[] = {"title", "real_name"};
    ck_assert_chat_err(chat_user_profile_set(ctx, ada.s, k3, v3, 2, NULL), CHAT_ERR_TOO_LONG);
    ck_assert_chat_ok(chat_user_info(ctx, ada.s, ada.id, &u));
    ck_assert_str_eq(chat_user_title(u), "Analyst");
    chat_user_free(u);

    ck_assert_chat_ok(chat_user_lookup_by_email(ctx, ada.s, "ADA@example.com", &u));
    ck_assert_str_eq(chat_user_id(u), ada.id);
    chat_user_free(u);
    ck_assert_chat_err(chat_user_lookup_by_email(ctx, ada.s, "zed@example.com", &u),
                       CHAT_ERR_USERS_NOT_FOUND);
    ck_assert_chat_err(chat_user_info(ctx, ada.s, "UNOPE000000", &u), CHAT_ERR_USER_NOT_FOUND);
    ck_assert_chat_err(chat_user_info(ctx, ada.s, "bad id", &u), CHAT_ERR_USER_NOT_FOUND);

    /* Paging through everyone: 12 people, 5 a page. */
    person more[11];
    for (int i = 0; i < 11; i++) {
        char email[64];
        snprintf(email, sizeof email, "p%d@example.com", i);
        more[i] = fixture_person(ctx, email);
    }
    size_t seen = 0;
    char *cursor = NULL;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(chat_user_list(ctx, ada.s, cursor, 5, &l));
        free(cursor);
        cursor = chat_list_next_cursor(l) ? strdup(chat_list_next_cursor(l)) : NULL;
        ck_assert_uint_le(chat_list_count(l), 5);
        seen += chat_list_count(l);
        chat_list_free(l);
    } while (cursor);
    ck_assert_uint_eq(seen, 12);
    chat_list *l = NULL;
    ck_assert_chat_err(chat_user_list(ctx, ada.s, NULL, 1001, &l), CHAT_ERR_INVALID_LIMIT);
    ck_assert_chat_err(chat_user_list(ctx, ada.s, "garbage", 10, &l), CHAT_ERR_INVALID_CURSOR);

    chat_team *t = NULL;
    ck_assert_chat_ok(chat_team_info(ctx, ada.s, &t));
    ck_assert_str_eq(chat_team_id(t), chat_user_team_id(ada.user));
    ck_assert_str_eq(chat_team_name(t), "My Workspace");
    chat_team_free(t);
    for (int i = 0; i < 11; i++)
        fixture_person_free(&more[i]);
    fixture_person_free(&ada);
}
END_TEST

START_TEST(tokens_survive_restart)
{
    person ada = fixture_person(ctx, "ada@example.com");
    char *token = strdup(ada.token);
    fixture_person_free(&ada);
    chat_close(ctx);
    chat_config *cfg = NULL;
    char err[200];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_open(&ctx, cfg, err, sizeof err));
    chat_config_free(cfg);
    chat_session *s = NULL;
    ck_assert_chat_ok(chat_auth_verify(ctx, token, &s));
    chat_session_free(s);
    free(token);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_users");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, signup_login_verify);
    tcase_add_test(tc, signup_rejects_bad_input);
    tcase_add_test(tc, login_failures_are_uniform);
    tcase_add_test(tc, tokens_forged_revoked_deactivated);
    tcase_add_test(tc, profiles_and_lists);
    tcase_add_test(tc, tokens_survive_restart);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
