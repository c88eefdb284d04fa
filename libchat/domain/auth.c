/* Sign-up, log-in and tokens. */
#include <stdio.h>
#include <string.h>

#include "auth/jwt.h"
#include "domain/ctx.h"

chat_err chati_mint_token(chat_ctx *ctx, const chati_token_spec *t, char **out)
{
    if (out == NULL)
        return CHAT_OK;
    chati_jwt_claims cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.iss, sizeof cl.iss, "%s", ctx->jwt_issuer);
    memcpy(cl.sub, t->sub, CHAT_ID_SIZE);
    memcpy(cl.team, t->team, CHAT_ID_SIZE);
    cl.iat = chati_now_us() / 1000000;
    cl.exp = cl.iat + t->ttl_s;
    cl.gen = t->gen;
    if (t->app != NULL) {
        snprintf(cl.knd, sizeof cl.knd, "%s", t->kind);
        memcpy(cl.app, t->app, CHAT_ID_SIZE);
    }
    char *jwt = NULL;
    chat_err rv = chati_jwt_sign(ctx->jwt_key, sizeof ctx->jwt_key, &cl, &jwt);
    if (rv != CHAT_OK || t->prefix == NULL) {
        *out = jwt;
        return rv;
    }
    /* Slack's shapes: "xoxb-" and "xapp-" ahead of the JWT. */
    size_t p = strlen(t->prefix), n = strlen(jwt);
    if ((*out = chat_malloc(p + n + 1)) == NULL) {
        chat_free(jwt);
        return chati_fail(CHAT_ERR_NOMEM, "token");
    }
    memcpy(*out, t->prefix, p);
    memcpy(*out + p, jwt, n + 1);
    chat_free(jwt);
    return CHAT_OK;
}

static chat_err mint_token(chat_ctx *ctx, const chat_credential *c, char **token_out)
{
    chati_token_spec t = {.sub = c->user_id, .team = c->team_id, .gen = c->token_gen,
                          .ttl_s = ctx->jwt_ttl_s};
    return chati_mint_token(ctx, &t, token_out);
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
    char email[CHAT_MAX_EMAIL_CHARS + 1];
    snprintf(email, sizeof email, "%s", email_in);
    chati_ascii_lower(email);

    char user_id[CHAT_ID_SIZE];
    chat_user *u = NULL;
    chat_credential *c = chat_credential_new();
    char *hash = NULL;
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "credential");
    rv = chati_password_hash(&ctx->argon2, password, &hash);
    if (rv == CHAT_OK)
        rv = chati_id_new('U', user_id);
    /* The profile first (the user service picks the workspace, the handle and
     * whether this is its owner), then the credential; if the credential
     * fails the profile is taken back, so a failed signup leaves nothing. */
    if (rv == CHAT_OK)
        rv = chati_create_profile(ctx, user_id, email, real_name, team_domain, &u);
    if (rv == CHAT_OK) {
        memcpy(c->user_id, u->id, CHAT_ID_SIZE);
        memcpy(c->team_id, u->team_id, CHAT_ID_SIZE);
        c->email = chat_strdup(email);
        c->pwhash = hash;
        hash = NULL;
        c->token_gen = 1;
        c->active = true;
        c->is_admin = u->is_admin;
        rv = c->email ? ctx->auth->create(ctx->auth_impl, c) : chati_fail(CHAT_ERR_NOMEM, "email");
        if (rv != CHAT_OK)
            (void)chati_delete_profile(ctx, u->id);
    }
    if (rv == CHAT_OK) {
        /* Everyone is in #general; a failure here leaves a working account. */
        (void)chati_join_general(ctx, u->team_id, u->id);
        rv = mint_token(ctx, c, token_out);
    }
    if (rv == CHAT_OK && user_out) {
        *user_out = u;
        u = NULL;
    }
    chat_free(hash);
    chat_credential_free(c);
    chat_user_free(u);
    return rv;
}

chat_err chat_auth_signup(chat_ctx *ctx, const char *email, const char *password,
                          const char *real_name, const char *team_domain, chat_user **user_out,
                          char **token_out)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
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
    /* An app's tokens say their kind in Slack's way, and the claims again. */
    chat_token_kind kind = strncmp(token, "xoxb-", 5) == 0   ? CHAT_TOKEN_BOT
                           : strncmp(token, "xapp-", 5) == 0 ? CHAT_TOKEN_APP
                                                             : CHAT_TOKEN_USER;
    chati_jwt_claims cl;
    chat_err rv = chati_jwt_verify_cached(ctx->jwt_cache, ctx->jwt_key, sizeof ctx->jwt_key,
                                          token + (kind != CHAT_TOKEN_USER ? 5 : 0),
                                          ctx->jwt_issuer, chati_now_us() / 1000000, &cl);
    if (rv != CHAT_OK)
        return rv == CHAT_ERR_INVALID_ARGUMENTS ? CHAT_ERR_INVALID_AUTH : rv;
    const char *want = kind == CHAT_TOKEN_BOT ? "bot" : kind == CHAT_TOKEN_APP ? "app" : "";
    /* A Socket Mode ticket (chati_app_link_ticket) is the app's, for an hour. */
    bool ticket = kind == CHAT_TOKEN_APP && strcmp(cl.knd, "link") == 0;
    if (strcmp(cl.knd, want) != 0 && !ticket)
        return chati_fail(CHAT_ERR_INVALID_AUTH, "not a token of this kind");
    if (kind != CHAT_TOKEN_USER)
        return chati_app_session(ctx, &cl, kind, out);
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
    /* An app's tokens are the app's: revoking one revokes them all, as
     * uninstalling does in Slack. */
    if (s->kind != CHAT_TOKEN_USER)
        return ctx->auth->bump_app_generation
                   ? ctx->auth->bump_app_generation(ctx->auth_impl, s->app_id, NULL)
                   : chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no apps");
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

static chat_err set_active_local(chat_ctx *ctx, const char *user_id, bool active)
{
    return ctx->auth->set_active(ctx->auth_impl, user_id, active);
}

const chati_auth_peer chati_auth_peer_local = {set_active_local, chati_app_queue_interaction};
