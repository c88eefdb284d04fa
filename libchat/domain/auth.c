/* Sign-up, log-in and tokens. */
#include <stdio.h>
#include <string.h>

#include "auth/jwt.h"
#include "domain/ctx.h"

static chat_err mint_token(chat_ctx *ctx, const chat_credential *c, char **token_out)
{
    if (token_out == NULL)
        return CHAT_OK;
    chati_jwt_claims cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.iss, sizeof cl.iss, "%s", ctx->jwt_issuer);
    memcpy(cl.sub, c->user_id, CHAT_ID_SIZE);
    memcpy(cl.team, c->team_id, CHAT_ID_SIZE);
    cl.iat = chati_now_us() / 1000000;
    cl.exp = cl.iat + ctx->jwt_ttl_s;
    cl.gen = c->token_gen;
    return chati_jwt_sign(ctx->jwt_key, sizeof ctx->jwt_key, &cl, token_out);
}

/* A unique user name from the email's local part: "ada", then "ada2", ... */
static chat_err create_user_named(chat_ctx *ctx, chat_user *u, const char *email)
{
    char base[64];
    size_t n = strcspn(email, "@");
    size_t j = 0;
    for (size_t i = 0; i < n && j < 40; i++) {
        char c = email[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
            base[j++] = c;
    }
    base[j] = '\0';
    if (j == 0)
        strcpy(base, "user");
    chat_err rv = CHAT_ERR_NAME_TAKEN;
    for (int attempt = 1; rv == CHAT_ERR_NAME_TAKEN && attempt < 1000; attempt++) {
        char name[64];
        if (attempt == 1)
            snprintf(name, sizeof name, "%s", base);
        else
            snprintf(name, sizeof name, "%s%d", base, attempt);
        chat_free(u->name);
        if ((u->name = chat_strdup(name)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "user name");
        rv = ctx->users->create_user(ctx->users_impl, u);
    }
    return rv;
}

static chat_err signup_checked(chat_ctx *ctx, const char *email_in, const char *password,
                               const char *real_name, const char *team_domain,
                               chat_user **user_out, char **token_out)
{
    chat_err rv;
    if (!chati_email_valid(email_in))
        return chati_fail(CHAT_ERR_INVALID_EMAIL, "not an email address");
    if ((rv = chati_password_check(password)) != CHAT_OK)
        return rv;
    if ((rv = chati_check_text(real_name, CHAT_MAX_PROFILE_CHARS, CHAT_ERR_TOO_LONG,
                               "real_name")) != CHAT_OK)
        return rv;
    char *email = chat_strdup(email_in);
    if (email == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "email");
    chati_ascii_lower(email);

    chat_team *team = NULL;
    chat_user *u = NULL;
    chat_credential *c = NULL;
    char *hash = NULL;
    rv = ctx->users->get_team_by_domain(ctx->users_impl, team_domain, &team);
    if (chati_not_found(rv))
        rv = chati_fail(CHAT_ERR_TEAM_NOT_FOUND, "no workspace \"%s\"",
                        team_domain ? team_domain : "(default)");
    if (rv == CHAT_OK)
        rv = chati_password_hash(&ctx->argon2, password, &hash);
    if (rv == CHAT_OK && ((u = chat_user_new()) == NULL || (c = chat_credential_new()) == NULL))
        rv = chati_fail(CHAT_ERR_NOMEM, "user");
    if (rv == CHAT_OK)
        rv = chati_id_new('U', u->id);
    if (rv == CHAT_OK) {
        /* The first person in a workspace owns it. */
        chat_list *first = NULL;
        rv = ctx->users->list_users(ctx->users_impl, team->id, NULL, 1, &first);
        u->is_admin = c->is_admin = rv == CHAT_OK && chat_list_count(first) == 0;
        chat_list_free(first);
    }
    if (rv == CHAT_OK) {
        memcpy(u->team_id, team->id, CHAT_ID_SIZE);
        u->email = chat_strdup(email);
        u->real_name = chat_strdup(real_name ? real_name : "");
        u->created = u->updated = chati_now_us() / 1000000;
        memcpy(c->user_id, u->id, CHAT_ID_SIZE);
        memcpy(c->team_id, team->id, CHAT_ID_SIZE);
        c->email = email;
        email = NULL;
        c->pwhash = hash;
        hash = NULL;
        c->token_gen = 1;
        c->active = true;
        if (u->email == NULL || u->real_name == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "user");
    }
    /* The credential claims the email first, server-wide; the profile follows.
     * If the profile fails the credential is removed again, so a failed signup
     * leaves nothing behind. */
    if (rv == CHAT_OK)
        rv = ctx->auth->create(ctx->auth_impl, c);
    if (rv == CHAT_OK) {
        rv = create_user_named(ctx, u, c->email);
        if (rv != CHAT_OK && ctx->auth->remove)
            (void)ctx->auth->remove(ctx->auth_impl, c->user_id);
    }
    if (rv == CHAT_OK) {
        chat_channel *general = NULL;
        if (chati_general_channel(ctx, team->id, &general) == CHAT_OK) {
            size_t added = 0;
            if (ctx->channels->add_members(ctx->channels_impl, general->id,
                                           (const char(*)[CHAT_ID_SIZE])u->id, 1,
                                           &added) == CHAT_OK && added) {
                chat_event *ev = chati_event_new(CHAT_EVENT_MEMBER_JOINED);
                if (ev) {
                    memcpy(ev->team_id, team->id, CHAT_ID_SIZE);
                    memcpy(ev->channel_id, general->id, CHAT_ID_SIZE);
                    memcpy(ev->user_id, u->id, CHAT_ID_SIZE);
                    memcpy(ev->target_user, u->id, CHAT_ID_SIZE);
                    chati_publish(ctx, ev);
                    chati_event_free(ev);
                }
            }
            chat_channel_free(general);
        }
        rv = mint_token(ctx, c, token_out);
    }
    if (rv == CHAT_OK && user_out) {
        *user_out = u;
        u = NULL;
    }
    chat_free(email);
    chat_free(hash);
    chat_credential_free(c);
    chat_user_free(u);
    chat_team_free(team);
    return rv;
}

chat_err chat_auth_signup(chat_ctx *ctx, const char *email, const char *password,
                          const char *real_name, const char *team_domain, chat_user **user_out,
                          char **token_out)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    CHATI_REQUIRE(ctx, users, "user");
    CHATI_REQUIRE(ctx, channels, "channel");
    if (user_out)
        *user_out = NULL;
    if (token_out)
        *token_out = NULL;
    return signup_checked(ctx, email, password, real_name, team_domain, user_out, token_out);
}

chat_err chat_auth_login(chat_ctx *ctx, const char *email_in, const char *password,
                         char **token_out)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    if (token_out == NULL || email_in == NULL || password == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "email, password and token_out are required");
    *token_out = NULL;
    char email[CHAT_MAX_EMAIL_CHARS + 1];
    if (strlen(email_in) > CHAT_MAX_EMAIL_CHARS) {
        chati_password_dummy_verify(&ctx->argon2, password);
        return chati_fail(CHAT_ERR_INVALID_AUTH, "wrong email or password");
    }
    strcpy(email, email_in);
    chati_ascii_lower(email);
    chat_credential *c = NULL;
    chat_err rv = ctx->auth->get_by_email(ctx->auth_impl, email, &c);
    if (chati_not_found(rv)) {
        /* Same work as a wrong password, so timing does not reveal accounts. */
        chati_password_dummy_verify(&ctx->argon2, password);
        return chati_fail(CHAT_ERR_INVALID_AUTH, "wrong email or password");
    }
    if (rv != CHAT_OK)
        return rv;
    bool ok = false;
    rv = chati_password_verify(c->pwhash, password, &ok);
    if (rv == CHAT_OK && !ok)
        rv = chati_fail(CHAT_ERR_INVALID_AUTH, "wrong email or password");
    if (rv == CHAT_OK && !c->active)
        rv = chati_fail(CHAT_ERR_ACCOUNT_INACTIVE, "this account is deactivated");
    if (rv == CHAT_OK)
        rv = mint_token(ctx, c, token_out);
    chat_credential_free(c);
    return rv;
}

static chat_err session_from_credential(const chat_credential *c, chat_session **out)
{
    chat_session *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "session");
    memcpy(s->user_id, c->user_id, CHAT_ID_SIZE);
    memcpy(s->team_id, c->team_id, CHAT_ID_SIZE);
    s->is_admin = c->is_admin;
    *out = s;
    return CHAT_OK;
}

chat_err chat_auth_verify(chat_ctx *ctx, const char *token, chat_session **out)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    if (token == NULL || token[0] == '\0')
        return chati_fail(CHAT_ERR_NOT_AUTHED, "no token");
    chati_jwt_claims cl;
    chat_err rv = chati_jwt_verify(ctx->jwt_key, sizeof ctx->jwt_key, token, ctx->jwt_issuer,
                                   chati_now_us() / 1000000, &cl);
    if (rv != CHAT_OK)
        return rv == CHAT_ERR_INVALID_ARGUMENTS ? CHAT_ERR_INVALID_AUTH : rv;
    chat_credential *c = NULL;
    rv = ctx->auth->get(ctx->auth_impl, cl.sub, &c);
    if (chati_not_found(rv))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "no such user");
    if (rv != CHAT_OK)
        return rv;
    if (!c->active)
        rv = chati_fail(CHAT_ERR_ACCOUNT_INACTIVE, "this account is deactivated");
    else if (cl.gen != c->token_gen || strcmp(cl.team, c->team_id) != 0)
        rv = chati_fail(CHAT_ERR_TOKEN_REVOKED, "this token was revoked");
    else
        rv = session_from_credential(c, out);
    chat_credential_free(c);
    return rv;
}

chat_err chat_auth_revoke(chat_ctx *ctx, const chat_session *s)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    return ctx->auth->bump_generation(ctx->auth_impl, s->user_id, NULL);
}

chat_err chat_auth_change_password(chat_ctx *ctx, const chat_session *s,
                                   const char *old_password, const char *new_password,
                                   char **token_out)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (token_out)
        *token_out = NULL;
    if (old_password == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "the old password is required");
    if ((rv = chati_password_check(new_password)) != CHAT_OK)
        return rv;
    chat_credential *c = NULL;
    char *hash = NULL;
    bool ok = false;
    if ((rv = ctx->auth->get(ctx->auth_impl, s->user_id, &c)) != CHAT_OK)
        return rv;
    rv = chati_password_verify(c->pwhash, old_password, &ok);
    if (rv == CHAT_OK && !ok)
        rv = chati_fail(CHAT_ERR_INVALID_AUTH, "the old password is wrong");
    if (rv == CHAT_OK)
        rv = chati_password_hash(&ctx->argon2, new_password, &hash);
    if (rv == CHAT_OK)
        rv = ctx->auth->set_password(ctx->auth_impl, s->user_id, hash, &c->token_gen);
    if (rv == CHAT_OK)
        rv = mint_token(ctx, c, token_out);
    chat_free(hash);
    chat_credential_free(c);
    return rv;
}

chat_err chat_session_open(chat_ctx *ctx, const char *user_id, chat_session **out)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    if (out == NULL || !chati_id_valid(user_id, 'U'))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    *out = NULL;
    chat_credential *c = NULL;
    chat_err rv = ctx->auth->get(ctx->auth_impl, user_id, &c);
    if (chati_not_found(rv))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %s", user_id);
    if (rv != CHAT_OK)
        return rv;
    rv = c->active ? session_from_credential(c, out)
                   : chati_fail(CHAT_ERR_ACCOUNT_INACTIVE, "this account is deactivated");
    chat_credential_free(c);
    return rv;
}
