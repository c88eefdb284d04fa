/*
 * chat/app.h - apps: software that acts in a workspace through a bot user,
 * made from a Slack app manifest, with Slack's kinds of token.
 *
 * An app has a bot user (is_bot, with a bot id "B..."), a bot token
 * ("xoxb-...", for the Web API as the bot, within the manifest's bot
 * scopes), an app-level token ("xapp-...", for Socket Mode only) and a
 * signing secret (the app checks requests libchat sends it with it). Tokens
 * do not expire; an app's tokens are revoked together.
 *
 * Returned handles are owned by the caller; strings are borrowed from them.
 */
#ifndef CHAT_APP_H
#define CHAT_APP_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest manifest accepted, in bytes. */
#define CHAT_MAX_MANIFEST_BYTES 65536

CHAT_API const char *chat_app_id(const chat_app *a);           /* "A..." */
CHAT_API const char *chat_app_team_id(const chat_app *a);
CHAT_API const char *chat_app_name(const chat_app *a);
CHAT_API const char *chat_app_bot_id(const chat_app *a);       /* "B..." */
CHAT_API const char *chat_app_bot_user_id(const chat_app *a);  /* "U..." */
CHAT_API const char *chat_app_creator(const chat_app *a);
CHAT_API const char *chat_app_scopes(const chat_app *a);       /* "chat:write,..." */
CHAT_API const char *chat_app_manifest(const chat_app *a);     /* compact JSON */
/* "" unless the handle came from chat_app_create (only the creator sees it). */
CHAT_API const char *chat_app_signing_secret(const chat_app *a);
CHAT_API int64_t chat_app_created(const chat_app *a);
CHAT_API void chat_app_free(chat_app *a);

/* Creates an app in the caller's workspace from a Slack app manifest (JSON:
 * display_information.name, features.bot_user.display_name,
 * oauth_config.scopes.bot, settings...), installs it there and returns it
 * with its bot token and app-level token (free both with chat_free; either
 * pointer may be NULL). A person's session only. Errors: invalid_manifest
 * (not JSON, no name, a name over 35 characters, an unknown bot scope; the
 * detail says which), not_allowed_token_type (an app's session),
 * not_supported (the auth store keeps no apps). */
CHAT_API chat_err chat_app_create(chat_ctx *ctx, const chat_session *s, const char *manifest,
                                  chat_app **out, char **bot_token, char **app_token);

/* An app of the caller's workspace by app id or bot id ("B..."), without
 * its signing secret. app_not_found / bot_not_found otherwise. */
CHAT_API chat_err chat_app_get(chat_ctx *ctx, const chat_session *s, const char *id,
                               chat_app **out);

/* Runs a slash command ("/deploy") with text in a channel the caller (a
 * person) is in: the app of the workspace whose manifest names the command
 * hears it (a slash_commands envelope over Socket Mode) with a response_url
 * through which its bot may answer for half an hour. invalid_command when no
 * app has it; not_in_channel; not_allowed_token_type for an app's session. */
CHAT_API chat_err chat_app_command(chat_ctx *ctx, const chat_session *s, const char *channel,
                                   const char *command, const char *text);

/* A click on an element (action_id; block_id when given, which block) of
 * a message an app's bot posted, by a person in its channel: the app hears
 * a block_actions interaction, with a response_url that may also replace or
 * delete the message. value: for elements that carry none of their own.
 * invalid_arguments when the message has no such element. */
CHAT_API chat_err chat_app_action(chat_ctx *ctx, const chat_session *s, const char *channel,
                                  const char *ts, const char *block_id, const char *action_id,
                                  const char *value);

#ifdef __cplusplus
}
#endif
#endif
