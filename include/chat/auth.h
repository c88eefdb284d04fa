/*
 * chat/auth.h - sign-up, log-in, tokens and the authenticated caller.
 *
 * Passwords are hashed with argon2id (OWASP parameters, see chat/config.h).
 * Tokens are HS256 JWTs carrying iss, sub (user id), team, iat, exp and gen, the
 * user's token generation: logging out (chat_auth_revoke) and changing the
 * password bump it, which revokes every older token at once.
 *
 * A chat_session is the verified identity every other call acts as. It is
 * immutable and may be shared across threads; free it with chat_session_free().
 */
#ifndef CHAT_AUTH_H
#define CHAT_AUTH_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHAT_MIN_PASSWORD_CHARS 8
#define CHAT_MAX_PASSWORD_BYTES 1024

/* Creates a user with an email and password in the workspace whose domain is
 * team_domain (NULL: the default workspace) and logs them in. real_name may be
 * NULL. On success *user_out (may be NULL) is the new user, free with
 * chat_user_free(), and *token_out (may be NULL) a token, free with chat_free().
 * Errors: invalid_email, email_taken, bad_password, team_not_found. */
CHAT_API chat_err chat_auth_signup(chat_ctx *ctx, const char *email, const char *password,
                                   const char *real_name, const char *team_domain,
                                   chat_user **user_out, char **token_out);

/* Checks an email and password; on success *token_out is a new token (free with
 * chat_free). Wrong email or password both give invalid_auth, in the same time. */
CHAT_API chat_err chat_auth_login(chat_ctx *ctx, const char *email, const char *password,
                                  char **token_out);

/* Verifies a token: signature, issuer, expiry, generation and that the account
 * is active. On success *out is a session (free with chat_session_free).
 * Errors: not_authed (NULL/empty), invalid_auth, token_expired, token_revoked,
 * account_inactive. */
CHAT_API chat_err chat_auth_verify(chat_ctx *ctx, const char *token, chat_session **out);

/* Revokes every token of the caller (logout everywhere); for an app's
 * session, every token of the app. */
CHAT_API chat_err chat_auth_revoke(chat_ctx *ctx, const chat_session *s);

/* Changes the caller's password after checking the old one; revokes older
 * tokens and returns a fresh one in *token_out (free with chat_free). */
CHAT_API chat_err chat_auth_change_password(chat_ctx *ctx, const chat_session *s,
                                            const char *old_password,
                                            const char *new_password, char **token_out);

/* A session for a user without a token, for trusted embedding programs and
 * internal services. Fails with user_not_found or account_inactive. */
CHAT_API chat_err chat_session_open(chat_ctx *ctx, const char *user_id, chat_session **out);

/* Whose token made a session: a person's, an app's bot token ("xoxb-...")
 * or an app-level token ("xapp-...", for Socket Mode only). */
typedef enum chat_token_kind {
    CHAT_TOKEN_USER = 0,
    CHAT_TOKEN_BOT = 1,
    CHAT_TOKEN_APP = 2
} chat_token_kind;

CHAT_API const char *chat_session_user_id(const chat_session *s);
CHAT_API const char *chat_session_team_id(const chat_session *s);
CHAT_API bool chat_session_is_admin(const chat_session *s);
CHAT_API chat_token_kind chat_session_token_kind(const chat_session *s);
/* An app's bot and app ids ("" for a person's session). */
CHAT_API const char *chat_session_bot_id(const chat_session *s);
CHAT_API const char *chat_session_app_id(const chat_session *s);
/* Whether the session may act with a Slack scope ("chat:write"): a person
 * may do anything their rights allow, an app what it was granted. */
CHAT_API bool chat_session_has_scope(const chat_session *s, const char *scope);
CHAT_API void chat_session_free(chat_session *s);

#ifdef __cplusplus
}
#endif
#endif
