#include "fixture.h"

#include <stdarg.h>

chat_ctx *fixture_open(char **dir_out, ...)
{
    char *dir = chat_test_tmpdir("ctx");
    chat_config *cfg = NULL;
    char err[256];
    ck_assert_chat_ok(chat_config_new(&cfg));
    ck_assert_chat_ok(chat_config_set(cfg, "data_dir", dir, err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.m_cost_kib", "64", err, sizeof err));
    ck_assert_chat_ok(chat_config_set(cfg, "argon2.t_cost", "1", err, sizeof err));
    va_list ap;
    va_start(ap, dir_out);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        ck_assert_chat_ok(chat_config_set(cfg, k, v, err, sizeof err));
    }
    va_end(ap);
    chat_ctx *ctx = NULL;
    chat_err rv = chat_open(&ctx, cfg, err, sizeof err);
    ck_assert_msg(rv == CHAT_OK, "chat_open: %s", err);
    chat_config_free(cfg);
    *dir_out = dir;
    return ctx;
}

void fixture_close(chat_ctx *ctx, char *dir)
{
    chat_close(ctx);
    chat_test_rmtree(dir);
}

person fixture_person(chat_ctx *ctx, const char *email)
{
    person p = {0};
    ck_assert_chat_ok(chat_auth_signup(ctx, email, FIXTURE_PASSWORD, email, NULL, &p.user,
                                       &p.token));
    ck_assert_chat_ok(chat_auth_verify(ctx, p.token, &p.s));
    p.id = chat_user_id(p.user);
    return p;
}

void fixture_person_free(person *p)
{
    chat_session_free(p->s);
    chat_user_free(p->user);
    chat_free(p->token);
    memset(p, 0, sizeof *p);
}

char *fixture_channel(chat_ctx *ctx, const person *p, const char *name, bool is_private)
{
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_create(ctx, p->s, name, is_private, &c));
    char *id = strdup(chat_channel_id(c));
    chat_channel_free(c);
    return id;
}
