/* libchat/api/handlers.h - one handler per API method (see api/methods.c). */
#ifndef CHATI_RPC_HANDLERS_H
#define CHATI_RPC_HANDLERS_H

#include "api/method.h"

/* The base URL clients reach the gateway at, for permalinks and file URLs. */
const char *chati_public_url(chat_ctx *ctx);

/* Replaces the id-only files of API messages (as chati_api_message makes
 * them) with full file objects (name, mimetype, url_private, ...) where the
 * caller may see the file; others keep their id. For every handler that
 * returns messages (history, replies, postMessage, search). */
struct Chat__Api__Message;
void chati_api_fill_files(chat_ctx *ctx, const chat_session *s,
                          struct Chat__Api__Message *const *msgs, size_t n);

#define CHATI_HANDLER(name)                                                              \
    chat_err name(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,      \
                  ProtobufCMessage *rs)

/* username and icons are a bot's to choose, with chat:write.customize (Slack
 * ignores them from a person's token); a webhook sets them through its own
 * path. */
bool chati_bot_may_customise(const chat_session *s);
/* The chat_post_opts of a request with chat.postMessage's fields (req points
 * to it); custom: username and icons count (chati_bot_may_customise). */
#define CHATI_POST_OPTS(req, custom)                                                       \
    ((chat_post_opts){.version = CHAT_POST_OPTS_V1,                                      \
                      .thread_ts = (req)->thread_ts,                                     \
                      .flags = ((req)->reply_broadcast ? CHAT_POST_REPLY_BROADCAST : 0) | \
                               ((req)->unfurl_links ? CHAT_POST_UNFURL_LINKS : 0) |       \
                               ((req)->unfurl_media ? CHAT_POST_UNFURL_MEDIA : 0),        \
                      .blocks = chati_pb_json((req)->blocks),                            \
                      .attachments = chati_pb_json((req)->attachments),                  \
                      .metadata = chati_pb_json((req)->metadata),                        \
                      .username = (custom) ? (req)->username : NULL,                     \
                      .icon_emoji = (custom) ? (req)->icon_emoji : NULL,                 \
                      .icon_url = (custom) ? (req)->icon_url : NULL})

/* search.messages' and search.files' results for req (search.all has both);
 * meta (may be NULL) gets the messages' cursor. */
chat_err chati_search_messages_fill(chat_ctx *ctx, const chat_session *s,
                                    const Chat__Api__SearchMessagesRequest *req,
                                    Chat__Api__SearchMessages **out,
                                    Chat__Api__ResponseMetadata **meta);

CHATI_HANDLER(chati_h_api_test);
CHATI_HANDLER(chati_h_apps_manifest_create);
CHATI_HANDLER(chati_h_bots_info);
CHATI_HANDLER(chati_h_apps_connections_open);
CHATI_HANDLER(chati_h_app_events_lease); /* internal */
CHATI_HANDLER(chati_h_app_events_ack);   /* internal */
CHATI_HANDLER(chati_h_app_http_lease);   /* internal */
CHATI_HANDLER(chati_h_app_http_ack);     /* internal */
CHATI_HANDLER(chati_h_chat_command);
CHATI_HANDLER(chati_h_blocks_actions);
CHATI_HANDLER(chati_h_views_open);
CHATI_HANDLER(chati_h_views_push);
CHATI_HANDLER(chati_h_views_update);
CHATI_HANDLER(chati_h_views_publish);
CHATI_HANDLER(chati_h_views_submit);
CHATI_HANDLER(chati_h_views_close);
CHATI_HANDLER(chati_h_pins_add);
CHATI_HANDLER(chati_h_pins_remove);
CHATI_HANDLER(chati_h_pins_list);
CHATI_HANDLER(chati_h_chat_schedule_message);
CHATI_HANDLER(chati_h_scheduled_list);
CHATI_HANDLER(chati_h_delete_scheduled);
CHATI_HANDLER(chati_h_search_files);
CHATI_HANDLER(chati_h_search_all);
CHATI_HANDLER(chati_h_bookmarks_add);
CHATI_HANDLER(chati_h_bookmarks_edit);
CHATI_HANDLER(chati_h_bookmarks_remove);
CHATI_HANDLER(chati_h_bookmarks_list);
CHATI_HANDLER(chati_h_usergroups_create);
CHATI_HANDLER(chati_h_usergroups_update);
CHATI_HANDLER(chati_h_usergroups_disable);
CHATI_HANDLER(chati_h_usergroups_enable);
CHATI_HANDLER(chati_h_usergroups_list);
CHATI_HANDLER(chati_h_usergroups_users_list);
CHATI_HANDLER(chati_h_usergroups_users_update);
CHATI_HANDLER(chati_h_reactions_list);
CHATI_HANDLER(chati_h_views_action);
CHATI_HANDLER(chati_h_webhooks_respond); /* internal */
CHATI_HANDLER(chati_h_chat_me_message);
CHATI_HANDLER(chati_h_chat_post_ephemeral);
CHATI_HANDLER(chati_h_emoji_list);
CHATI_HANDLER(chati_h_dnd_info);
CHATI_HANDLER(chati_h_auth_signup);
CHATI_HANDLER(chati_h_auth_login);
CHATI_HANDLER(chati_h_auth_verify);
CHATI_HANDLER(chati_h_auth_revoke);
CHATI_HANDLER(chati_h_auth_test);
CHATI_HANDLER(chati_h_team_info);
CHATI_HANDLER(chati_h_users_info);
CHATI_HANDLER(chati_h_users_lookup_by_email);
CHATI_HANDLER(chati_h_users_list);
CHATI_HANDLER(chati_h_users_profile_get);
CHATI_HANDLER(chati_h_users_profile_set);
CHATI_HANDLER(chati_h_users_get_presence);
CHATI_HANDLER(chati_h_users_set_presence);
CHATI_HANDLER(chati_h_users_conversations);
CHATI_HANDLER(chati_h_conv_create);
CHATI_HANDLER(chati_h_conv_info);
CHATI_HANDLER(chati_h_conv_list);
CHATI_HANDLER(chati_h_conv_members);
CHATI_HANDLER(chati_h_conv_join);
CHATI_HANDLER(chati_h_conv_leave);
CHATI_HANDLER(chati_h_conv_invite);
CHATI_HANDLER(chati_h_conv_kick);
CHATI_HANDLER(chati_h_conv_open);
CHATI_HANDLER(chati_h_conv_mark);
CHATI_HANDLER(chati_h_conv_rename);
CHATI_HANDLER(chati_h_conv_set_topic);
CHATI_HANDLER(chati_h_conv_set_purpose);
CHATI_HANDLER(chati_h_conv_archive);
CHATI_HANDLER(chati_h_conv_unarchive);
CHATI_HANDLER(chati_h_conv_history);
CHATI_HANDLER(chati_h_conv_replies);
CHATI_HANDLER(chati_h_chat_post);
CHATI_HANDLER(chati_h_chat_update);
CHATI_HANDLER(chati_h_chat_delete);
CHATI_HANDLER(chati_h_chat_permalink);
CHATI_HANDLER(chati_h_reactions_add);
CHATI_HANDLER(chati_h_reactions_remove);
CHATI_HANDLER(chati_h_reactions_get);
CHATI_HANDLER(chati_h_search_messages);
CHATI_HANDLER(chati_h_rtm_heartbeat);
CHATI_HANDLER(chati_h_rtm_typing);
CHATI_HANDLER(chati_h_webhooks_create);
CHATI_HANDLER(chati_h_webhooks_post);
CHATI_HANDLER(chati_h_files_get_upload_url);
CHATI_HANDLER(chati_h_files_complete_upload);
CHATI_HANDLER(chati_h_files_info);
CHATI_HANDLER(chati_h_files_list);
CHATI_HANDLER(chati_h_files_delete);
CHATI_HANDLER(chati_h_files_upload_bytes);
CHATI_HANDLER(chati_h_files_upload);
CHATI_HANDLER(chati_h_files_download);

#endif
