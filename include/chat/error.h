/*
 * chat/error.h - error codes.
 *
 * Every libchat call returns a chat_err; CHAT_OK is 0. Each code has a stable
 * machine name which is also the Slack Web API error code the gateway sends
 * ("channel_not_found"), and a human sentence from chat_strerror().
 *
 * Thread safety: all functions here are pure and safe from any thread.
 */
#ifndef CHAT_ERROR_H
#define CHAT_ERROR_H

#include <chat/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: CODE, machine name (Slack error code), human text. New codes are
 * appended so numeric values stay stable across releases. */
#define CHAT_ERRORS(X)                                                                  \
    X(CHAT_OK, "ok", "success")                                                         \
    X(CHAT_ERR_INTERNAL, "internal_error", "internal error")                            \
    X(CHAT_ERR_NOMEM, "no_memory", "out of memory")                                     \
    X(CHAT_ERR_INVALID_ARGUMENTS, "invalid_arguments", "invalid arguments")             \
    X(CHAT_ERR_NOT_SUPPORTED, "not_supported", "operation not supported")               \
    X(CHAT_ERR_STORAGE, "storage_error", "storage backend failed")                      \
    X(CHAT_ERR_SERVICE_UNAVAILABLE, "service_unavailable", "service unavailable")       \
    X(CHAT_ERR_TIMEOUT, "request_timeout", "request timed out")                         \
    X(CHAT_ERR_UNKNOWN_SCHEME, "unknown_backend", "no backend registered for URL scheme") \
    X(CHAT_ERR_INVALID_CONFIG, "invalid_config", "invalid configuration")               \
    X(CHAT_ERR_INVALID_UTF8, "invalid_utf8", "text is not valid UTF-8")                 \
    X(CHAT_ERR_INVALID_JSON, "invalid_json", "malformed JSON")                          \
    X(CHAT_ERR_INVALID_CURSOR, "invalid_cursor", "invalid pagination cursor")           \
    X(CHAT_ERR_INVALID_LIMIT, "invalid_limit", "limit out of range")                    \
    X(CHAT_ERR_INVALID_TS, "invalid_ts", "invalid message timestamp")                   \
    X(CHAT_ERR_INVALID_ID, "invalid_id", "malformed id")                                \
    X(CHAT_ERR_NOT_AUTHED, "not_authed", "no authentication token provided")            \
    X(CHAT_ERR_INVALID_AUTH, "invalid_auth", "invalid authentication")                  \
    X(CHAT_ERR_TOKEN_EXPIRED, "token_expired", "authentication token expired")          \
    X(CHAT_ERR_TOKEN_REVOKED, "token_revoked", "authentication token revoked")          \
    X(CHAT_ERR_ACCOUNT_INACTIVE, "account_inactive", "account is deactivated")          \
    X(CHAT_ERR_INVALID_EMAIL, "invalid_email", "invalid email address")                 \
    X(CHAT_ERR_EMAIL_TAKEN, "email_taken", "email address already registered")          \
    X(CHAT_ERR_BAD_PASSWORD, "bad_password", "password does not meet requirements")     \
    X(CHAT_ERR_RESTRICTED_ACTION, "restricted_action", "not permitted")                 \
    X(CHAT_ERR_RATELIMITED, "ratelimited", "rate limit exceeded")                       \
    X(CHAT_ERR_TEAM_NOT_FOUND, "team_not_found", "workspace not found")                 \
    X(CHAT_ERR_USER_NOT_FOUND, "user_not_found", "user not found")                      \
    X(CHAT_ERR_USERS_NOT_FOUND, "users_not_found", "user not found")                    \
    X(CHAT_ERR_INVALID_NAME, "invalid_name", "invalid name")                            \
    X(CHAT_ERR_INVALID_NAME_SPECIALS, "invalid_name_specials", "name contains characters that are not allowed") \
    X(CHAT_ERR_INVALID_NAME_MAXLENGTH, "invalid_name_maxlength", "name is too long")    \
    X(CHAT_ERR_INVALID_NAME_REQUIRED, "invalid_name_required", "name is required")      \
    X(CHAT_ERR_NAME_TAKEN, "name_taken", "name already taken")                          \
    X(CHAT_ERR_CHANNEL_NOT_FOUND, "channel_not_found", "channel not found")             \
    X(CHAT_ERR_NOT_IN_CHANNEL, "not_in_channel", "not a member of the channel")         \
    X(CHAT_ERR_ALREADY_IN_CHANNEL, "already_in_channel", "already a member of the channel") \
    X(CHAT_ERR_IS_ARCHIVED, "is_archived", "channel is archived")                       \
    X(CHAT_ERR_ALREADY_ARCHIVED, "already_archived", "channel is already archived")     \
    X(CHAT_ERR_NOT_ARCHIVED, "not_archived", "channel is not archived")                 \
    X(CHAT_ERR_CANT_ARCHIVE_GENERAL, "cant_archive_general", "the general channel cannot be archived") \
    X(CHAT_ERR_CANT_LEAVE_GENERAL, "cant_leave_general", "the general channel cannot be left") \
    X(CHAT_ERR_CANT_KICK_SELF, "cant_kick_self", "use leave to leave a channel")        \
    X(CHAT_ERR_CANT_KICK_FROM_GENERAL, "cant_kick_from_general", "nobody can be removed from the general channel") \
    X(CHAT_ERR_CANT_INVITE_SELF, "cant_invite_self", "cannot invite yourself")          \
    X(CHAT_ERR_METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE, "method_not_supported_for_channel_type", "not supported for this kind of conversation") \
    X(CHAT_ERR_TOO_MANY_USERS, "too_many_users", "too many users")                      \
    X(CHAT_ERR_TOO_LONG, "too_long", "value is too long")                               \
    X(CHAT_ERR_NO_TEXT, "no_text", "message has no text")                               \
    X(CHAT_ERR_MSG_TOO_LONG, "msg_too_long", "message text is too long")                \
    X(CHAT_ERR_MESSAGE_NOT_FOUND, "message_not_found", "message not found")             \
    X(CHAT_ERR_THREAD_NOT_FOUND, "thread_not_found", "thread not found")                \
    X(CHAT_ERR_CANT_UPDATE_MESSAGE, "cant_update_message", "cannot edit this message")  \
    X(CHAT_ERR_CANT_DELETE_MESSAGE, "cant_delete_message", "cannot delete this message") \
    X(CHAT_ERR_EDIT_WINDOW_CLOSED, "edit_window_closed", "message is too old to edit")  \
    X(CHAT_ERR_ALREADY_REACTED, "already_reacted", "reaction already added")            \
    X(CHAT_ERR_NO_REACTION, "no_reaction", "no such reaction")                          \
    X(CHAT_ERR_TOO_MANY_REACTIONS, "too_many_reactions", "too many reactions")          \
    X(CHAT_ERR_INVALID_REACTION, "invalid_name", "invalid reaction name")               \
    X(CHAT_ERR_FILE_NOT_FOUND, "file_not_found", "file not found")                      \
    X(CHAT_ERR_FILE_TOO_LARGE, "file_too_large", "file is too large")                   \
    X(CHAT_ERR_FILE_DELETED, "file_deleted", "file was deleted")                        \
    X(CHAT_ERR_CANT_DELETE_FILE, "cant_delete_file", "cannot delete this file")         \
    X(CHAT_ERR_CHECKSUM_MISMATCH, "checksum_mismatch", "stored bytes do not match their checksum") \
    X(CHAT_ERR_NO_QUERY, "no_query", "search query is empty")                           \
    X(CHAT_ERR_DUPLICATE, "duplicate", "already exists")                                \
    X(CHAT_ERR_NOT_FOUND, "not_found", "not found")                                     \
    X(CHAT_ERR_CLOSED, "closed", "handle is closed")                                    \
    X(CHAT_ERR_UNKNOWN_METHOD, "unknown_method", "no such API method")                  \
    X(CHAT_ERR_REQUEST_TOO_LARGE, "request_too_large", "request body is too large")     \
    X(CHAT_ERR_INVALID_FORM_DATA, "invalid_form_data", "malformed form data")           \
    X(CHAT_ERR_INVALID_POST_TYPE, "invalid_post_type", "unsupported Content-Type")      \
    X(CHAT_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET or POST")             \
    X(CHAT_ERR_INVALID_BLOCKS, "invalid_blocks", "blocks are not valid Block Kit")      \
    X(CHAT_ERR_INVALID_BLOCKS_FORMAT, "invalid_blocks_format", "blocks are not a JSON array") \
    X(CHAT_ERR_MSG_BLOCKS_TOO_LONG, "msg_blocks_too_long", "blocks are too long")       \
    X(CHAT_ERR_INVALID_ATTACHMENTS, "invalid_attachments", "attachments are not valid") \
    X(CHAT_ERR_TOO_MANY_ATTACHMENTS, "too_many_attachments", "more than 100 attachments") \
    X(CHAT_ERR_INVALID_METADATA_FORMAT, "invalid_metadata_format", "metadata is not valid") \
    X(CHAT_ERR_METADATA_TOO_LARGE, "metadata_too_large", "metadata is too large")       \
    X(CHAT_ERR_USER_NOT_IN_CHANNEL, "user_not_in_channel", "the user is not in the channel") \
    X(CHAT_ERR_INVALID_MANIFEST, "invalid_manifest", "the app manifest is not valid")   \
    X(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "not_allowed_token_type", "this kind of token cannot call this") \
    X(CHAT_ERR_MISSING_SCOPE, "missing_scope", "the token lacks a scope this needs")   \
    X(CHAT_ERR_APP_NOT_FOUND, "app_not_found", "no such app")                          \
    X(CHAT_ERR_BOT_NOT_FOUND, "bot_not_found", "no such bot")                          \
    X(CHAT_ERR_INVALID_COMMAND, "invalid_command", "no app in the workspace has this command") \
    X(CHAT_ERR_EXPIRED_URL, "expired_url", "this response_url has expired")             \
    X(CHAT_ERR_INVALID_TRIGGER_ID, "invalid_trigger_id", "not a trigger_id libchat gave") \
    X(CHAT_ERR_EXPIRED_TRIGGER_ID, "expired_trigger_id", "the trigger_id has expired")  \
    X(CHAT_ERR_EXCHANGED_TRIGGER_ID, "exchanged_trigger_id", "the trigger_id was used already") \
    X(CHAT_ERR_DUPLICATE_EXTERNAL_ID, "duplicate_external_id", "the app has a view with this external_id") \
    X(CHAT_ERR_HASH_CONFLICT, "hash_conflict", "the view changed since the hash given") \
    X(CHAT_ERR_PUSH_LIMIT_REACHED, "push_limit_reached", "a stack holds three views at most") \
    X(CHAT_ERR_VIEW_TOO_LARGE, "view_too_large", "the view is over 250 KB")             \
    X(CHAT_ERR_ALREADY_PINNED, "already_pinned", "the message is pinned already")      \
    X(CHAT_ERR_NO_PIN, "no_pin", "the message is not pinned")                           \
    X(CHAT_ERR_TOO_MANY_PINS, "too_many_pins", "the channel has 1000 pins")            \
    X(CHAT_ERR_NOT_PINNABLE, "not_pinnable", "this message cannot be pinned")          \
    X(CHAT_ERR_NO_ITEM_SPECIFIED, "no_item_specified", "timestamp is required")        \
    X(CHAT_ERR_BAD_TIMESTAMP, "bad_timestamp", "not a message timestamp")              \
    X(CHAT_ERR_INVALID_TIME, "invalid_time", "post_at is not a time")                   \
    X(CHAT_ERR_TIME_IN_PAST, "time_in_past", "post_at is not in the future")            \
    X(CHAT_ERR_TIME_TOO_FAR, "time_too_far", "post_at is more than 120 days away")      \
    X(CHAT_ERR_RESTRICTED_TOO_MANY, "restricted_too_many", "too many messages wait already") \
    X(CHAT_ERR_INVALID_SCHEDULED_MESSAGE_ID, "invalid_scheduled_message_id",            \
      "no such scheduled message of yours")                                             \
    X(CHAT_ERR_TOO_MANY_BOOKMARKS, "too_many_bookmarks", "the channel has 100 bookmarks") \
    X(CHAT_ERR_INVALID_BOOKMARK_ID, "invalid_bookmark_id", "no such bookmark in the channel") \
    X(CHAT_ERR_INVALID_BOOKMARK_TYPE, "invalid_bookmark_type", "bookmarks are links")   \
    X(CHAT_ERR_INVALID_LINK, "invalid_link", "not an http(s) link")                    \
    X(CHAT_ERR_NAME_ALREADY_EXISTS, "name_already_exists", "a group has this name")    \
    X(CHAT_ERR_HANDLE_ALREADY_EXISTS, "handle_already_exists", "a group has this handle") \
    X(CHAT_ERR_NO_SUCH_SUBTEAM, "no_such_subteam", "no such user group")               \
    X(CHAT_ERR_ALREADY_ENABLED, "already_enabled", "the group is enabled")             \
    X(CHAT_ERR_ALREADY_DISABLED, "already_disabled", "the group is disabled")          \
    X(CHAT_ERR_INVALID_USERS, "invalid_users", "a user is not of the workspace")

typedef enum chat_err {
#define CHAT_ERR_ENUM_(code, name, text) code,
    CHAT_ERRORS(CHAT_ERR_ENUM_)
#undef CHAT_ERR_ENUM_
    CHAT_ERR__COUNT
} chat_err;

/* Human-readable sentence for an error code. Never NULL; static storage. */
CHAT_API const char *chat_strerror(chat_err err);

/* Stable machine name (the Slack API error code), e.g. "channel_not_found".
 * Never NULL; static storage. Unknown codes give "internal_error". */
CHAT_API const char *chat_err_name(chat_err err);

/* Inverse of chat_err_name: the first code whose name matches, or
 * CHAT_ERR_INTERNAL when none does. Used to carry errors across RPC. */
CHAT_API chat_err chat_err_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
