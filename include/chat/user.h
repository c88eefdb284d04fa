/*
 * chat/user.h - workspaces, users and profiles.
 *
 * Every call acts as the session's user and sees only its own workspace.
 * Returned chat_user / chat_team handles are owned by the caller.
 */
#ifndef CHAT_USER_H
#define CHAT_USER_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

CHAT_API const char *chat_team_id(const chat_team *t);
CHAT_API const char *chat_team_name(const chat_team *t);
CHAT_API const char *chat_team_domain(const chat_team *t);
CHAT_API void chat_team_free(chat_team *t);

/* The caller's workspace. Free *out with chat_team_free(). */
CHAT_API chat_err chat_team_info(chat_ctx *ctx, const chat_session *s, chat_team **out);

/* Accessors: strings are never NULL ("" when unset). */
CHAT_API const char *chat_user_id(const chat_user *u);
CHAT_API const char *chat_user_team_id(const chat_user *u);
CHAT_API const char *chat_user_email(const chat_user *u);
CHAT_API const char *chat_user_name(const chat_user *u);
CHAT_API const char *chat_user_real_name(const chat_user *u);
CHAT_API const char *chat_user_display_name(const chat_user *u);
CHAT_API const char *chat_user_title(const chat_user *u);
CHAT_API const char *chat_user_status_text(const chat_user *u);
CHAT_API const char *chat_user_status_emoji(const chat_user *u);
CHAT_API const char *chat_user_tz(const chat_user *u);
CHAT_API bool chat_user_is_admin(const chat_user *u);
CHAT_API bool chat_user_is_deleted(const chat_user *u);
CHAT_API int64_t chat_user_updated(const chat_user *u);
CHAT_API void chat_user_free(chat_user *u);

/* One user of the caller's workspace. Free *out with chat_user_free(). */
CHAT_API chat_err chat_user_info(chat_ctx *ctx, const chat_session *s, const char *user_id,
                                 chat_user **out);

/* users.lookupByEmail: users_not_found when no such user. */
CHAT_API chat_err chat_user_lookup_by_email(chat_ctx *ctx, const chat_session *s,
                                            const char *email, chat_user **out);

/* Users of the caller's workspace ordered by id, limit 0 = default page.
 * Free *out (CHAT_LIST_USERS) with chat_list_free(). */
CHAT_API chat_err chat_user_list(chat_ctx *ctx, const chat_session *s, const char *cursor,
                                 int limit, chat_list **out);

/* Sets profile fields of the caller atomically: all or none. Keys: real_name,
 * display_name, title, status_text, status_emoji, tz. Values are copied; NULL
 * or "" clears a field. *out (may be NULL) is the updated user. */
CHAT_API chat_err chat_user_profile_set(chat_ctx *ctx, const chat_session *s,
                                        const char *const *keys, const char *const *values,
                                        size_t n, chat_user **out);

/* Deactivates a user (admins only, or the user themself): their tokens stop
 * working at once. */
CHAT_API chat_err chat_user_deactivate(chat_ctx *ctx, const chat_session *s,
                                       const char *user_id);

/* User groups (usergroups.*): people of the workspace mentioned together
 * by a handle ("@oncall"). Anyone in it (a bot with usergroups:write)
 * creates and changes them; *out (may be NULL; chat_usergroups_free(g, 1))
 * gets the group after the change. handle: made from the name when NULL or
 * "". channels and users: comma-separated ids. Update changes what is
 * given (NULL keeps; description "" removes it). Errors:
 * name_already_exists, handle_already_exists, no_such_subteam,
 * already_enabled, already_disabled, invalid_users, not_supported. */
CHAT_API chat_err chat_usergroup_create(chat_ctx *ctx, const chat_session *s, const char *name,
                                        const char *handle, const char *description,
                                        const char *channels, chat_usergroup **out);
CHAT_API chat_err chat_usergroup_update(chat_ctx *ctx, const chat_session *s, const char *id,
                                        const char *name, const char *handle,
                                        const char *description, const char *channels,
                                        chat_usergroup **out);
CHAT_API chat_err chat_usergroup_set_enabled(chat_ctx *ctx, const chat_session *s,
                                             const char *id, bool enabled,
                                             chat_usergroup **out);
/* Replaces the members (one at least, 1000 at most). */
CHAT_API chat_err chat_usergroup_set_users(chat_ctx *ctx, const chat_session *s,
                                           const char *id, const char *users,
                                           chat_usergroup **out);
/* The workspace's groups by name (the disabled ones too when asked). */
CHAT_API chat_err chat_usergroup_list(chat_ctx *ctx, const chat_session *s,
                                      bool include_disabled, chat_usergroup **out, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
