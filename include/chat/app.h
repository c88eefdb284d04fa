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

/* ---- views: modals and App Home (Slack's views.*) ----
 * A view is Slack's view JSON (type "modal" or "home", title, blocks,
 * submit, close, private_metadata, callback_id, external_id, ...). Each
 * function that returns one sets *out (may be NULL) to the view as Slack
 * returns it: with id, hash, state, root_view_id, app_id and bot_id (free
 * with chat_free). The person whose screen it is on hears every change
 * as a view.changed event (chat_event_data). */

/* Opens a modal for the person whose action gave the trigger_id (a slash
 * command's or an interaction's, within 30 s, once). An app's session.
 * Errors: invalid_trigger_id, expired_trigger_id, exchanged_trigger_id,
 * duplicate_external_id, view_too_large, invalid_arguments (the detail says
 * what is wrong with the view), not_allowed_token_type. */
CHAT_API chat_err chat_view_open(chat_ctx *ctx, const chat_session *s, const char *trigger_id,
                                 const char *view, char **out);
/* Pushes a modal on the one the trigger_id came from (an interaction in
 * it): three at most, push_limit_reached; not_found when it is closed. */
CHAT_API chat_err chat_view_push(chat_ctx *ctx, const chat_session *s, const char *trigger_id,
                                 const char *view, char **out);
/* Replaces the app's view view_id (or its external_id) with view. hash:
 * when given, the view must not have changed since that hash
 * (hash_conflict). not_found for a view that is not the app's. */
CHAT_API chat_err chat_view_update(chat_ctx *ctx, const chat_session *s, const char *view_id,
                                   const char *external_id, const char *hash, const char *view,
                                   char **out);
/* Publishes user_id's App Home view (type "home") of the app; hash as for
 * update. user_not_found for someone outside the workspace. */
CHAT_API chat_err chat_view_publish(chat_ctx *ctx, const chat_session *s, const char *user_id,
                                    const char *hash, const char *view, char **out);
/* The person submits their open modal with what they entered: values is
 * Slack's state.values ({block_id: {action_id: {type, value |
 * selected_option | selected_options}}}), checked against the view's
 * inputs (invalid_arguments names a required one left empty). The app hears
 * a view_submission; its acknowledgement closes the view, or shows errors,
 * updates it or pushes another. not_found for a view not theirs or closed. */
CHAT_API chat_err chat_view_submit(chat_ctx *ctx, const chat_session *s, const char *view_id,
                                   const char *values);
/* A click on a button of the person's open modal (action_id; block_id when
 * given): the app hears a block_actions interaction whose container is
 * the view, with what the form holds (values, as for submit, but
 * incomplete) and a trigger_id that may push a view on it. */
CHAT_API chat_err chat_view_action(chat_ctx *ctx, const chat_session *s, const char *view_id,
                                   const char *block_id, const char *action_id,
                                   const char *value, const char *values);
/* The person closes their modal (and the views under it when the view
 * says clear_on_close); the app hears view_closed when it asked
 * (notify_on_close). */
CHAT_API chat_err chat_view_close(chat_ctx *ctx, const chat_session *s, const char *view_id);

#ifdef __cplusplus
}
#endif
#endif
