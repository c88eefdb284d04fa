/* The method table: Slack method name -> service, messages, handler. Wire ids
 * are stable: append new methods with new ids, never renumber. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "domain/ctx.h"
#include "api/handlers.h"

#define D(x) &chat__api__##x##__descriptor

static const chati_method methods[] = {
    {1, "api.test", CHATI_SVC_AUTH, CHATI_M_NO_AUTH | CHATI_M_SAFE, D(api_test_request), D(api_test_response),
     chati_h_api_test},
    {2, "auth.signup", CHATI_SVC_AUTH, CHATI_M_NO_AUTH, D(auth_signup_request),
     D(auth_token_response), chati_h_auth_signup},
    {3, "auth.login", CHATI_SVC_AUTH, CHATI_M_NO_AUTH, D(auth_login_request),
     D(auth_token_response), chati_h_auth_login},
    {4, "auth.verify", CHATI_SVC_AUTH, CHATI_M_NO_AUTH | CHATI_M_INTERNAL | CHATI_M_SAFE,
     D(auth_verify_request), D(auth_verify_response), chati_h_auth_verify},
    {5, "auth.revoke", CHATI_SVC_AUTH, 0, D(auth_revoke_request), D(auth_revoke_response),
     chati_h_auth_revoke},
    {6, "auth.test", CHATI_SVC_USER, CHATI_M_SAFE, D(empty), D(auth_test_response), chati_h_auth_test},
    {7, "team.info", CHATI_SVC_USER, CHATI_M_SAFE, D(empty), D(team_info_response), chati_h_team_info},
    {8, "users.info", CHATI_SVC_USER, CHATI_M_SAFE, D(users_info_request), D(user_response),
     chati_h_users_info},
    {9, "users.list", CHATI_SVC_USER, CHATI_M_SAFE, D(users_list_request), D(users_list_response),
     chati_h_users_list},
    {10, "users.lookupByEmail", CHATI_SVC_USER, CHATI_M_SAFE, D(users_lookup_by_email_request),
     D(user_response), chati_h_users_lookup_by_email},
    {11, "users.profile.get", CHATI_SVC_USER, CHATI_M_SAFE, D(users_profile_get_request),
     D(profile_response), chati_h_users_profile_get},
    {12, "users.profile.set", CHATI_SVC_USER, CHATI_M_SAFE, D(users_profile_set_request),
     D(profile_response), chati_h_users_profile_set},
    {13, "users.getPresence", CHATI_SVC_PRESENCE, CHATI_M_SAFE, D(users_get_presence_request),
     D(users_get_presence_response), chati_h_users_get_presence},
    {14, "users.setPresence", CHATI_SVC_PRESENCE, CHATI_M_SAFE, D(users_set_presence_request), D(empty),
     chati_h_users_set_presence},
    {15, "users.conversations", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(users_conversations_request),
     D(conversations_list_response), chati_h_users_conversations},
    {16, "conversations.create", CHATI_SVC_CHANNEL, 0, D(conversations_create_request),
     D(channel_response), chati_h_conv_create},
    {17, "conversations.info", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(conversations_info_request),
     D(channel_response), chati_h_conv_info},
    {18, "conversations.list", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(conversations_list_request),
     D(conversations_list_response), chati_h_conv_list},
    {19, "conversations.members", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(conversations_members_request),
     D(conversations_members_response), chati_h_conv_members},
    {20, "conversations.join", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(channel_request), D(channel_response),
     chati_h_conv_join},
    {21, "conversations.leave", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(channel_request),
     D(conversations_leave_response), chati_h_conv_leave},
    {22, "conversations.invite", CHATI_SVC_CHANNEL, 0, D(conversations_invite_request),
     D(channel_response), chati_h_conv_invite},
    {23, "conversations.kick", CHATI_SVC_CHANNEL, 0, D(conversations_kick_request), D(empty),
     chati_h_conv_kick, CHAT_ERR_NOT_IN_CHANNEL},
    {24, "conversations.open", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(conversations_open_request),
     D(channel_response), chati_h_conv_open},
    {25, "conversations.mark", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(conversations_mark_request), D(empty),
     chati_h_conv_mark},
    {26, "conversations.rename", CHATI_SVC_CHANNEL, 0, D(conversations_rename_request),
     D(channel_response), chati_h_conv_rename},
    {27, "conversations.setTopic", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(conversations_set_topic_request),
     D(channel_response), chati_h_conv_set_topic},
    {28, "conversations.setPurpose", CHATI_SVC_CHANNEL, CHATI_M_SAFE,
     D(conversations_set_purpose_request), D(channel_response), chati_h_conv_set_purpose},
    {29, "conversations.archive", CHATI_SVC_CHANNEL, 0, D(channel_request), D(empty),
     chati_h_conv_archive, CHAT_ERR_ALREADY_ARCHIVED},
    {30, "conversations.unarchive", CHATI_SVC_CHANNEL, 0, D(channel_request), D(empty),
     chati_h_conv_unarchive, CHAT_ERR_NOT_ARCHIVED},
    {31, "conversations.history", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(conversations_history_request),
     D(messages_response), chati_h_conv_history},
    {32, "conversations.replies", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(conversations_replies_request),
     D(messages_response), chati_h_conv_replies},
    {33, "chat.postMessage", CHATI_SVC_MESSAGE, 0, D(chat_post_message_request),
     D(chat_post_message_response), chati_h_chat_post},
    {34, "chat.update", CHATI_SVC_MESSAGE, 0, D(chat_update_request), D(chat_update_response),
     chati_h_chat_update},
    {35, "chat.delete", CHATI_SVC_MESSAGE, 0, D(chat_delete_request), D(chat_delete_response),
     chati_h_chat_delete},
    {36, "chat.getPermalink", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(chat_get_permalink_request),
     D(chat_get_permalink_response), chati_h_chat_permalink},
    {37, "reactions.add", CHATI_SVC_MESSAGE, 0, D(reactions_request), D(empty),
     chati_h_reactions_add, CHAT_ERR_ALREADY_REACTED},
    {38, "reactions.remove", CHATI_SVC_MESSAGE, 0, D(reactions_request), D(empty),
     chati_h_reactions_remove, CHAT_ERR_NO_REACTION},
    {39, "reactions.get", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(reactions_request), D(reactions_get_response),
     chati_h_reactions_get},
    {40, "search.messages", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(search_messages_request),
     D(search_messages_response), chati_h_search_messages},
    {41, "rtm.heartbeat", CHATI_SVC_PRESENCE, CHATI_M_INTERNAL | CHATI_M_SAFE, D(empty), D(empty),
     chati_h_rtm_heartbeat},
    {42, "rtm.typing", CHATI_SVC_CHANNEL, CHATI_M_INTERNAL, D(channel_request), D(empty),
     chati_h_rtm_typing},
    {43, "files.getUploadURLExternal", CHATI_SVC_MESSAGE, 0,
     D(files_get_upload_url_external_request), D(files_get_upload_url_external_response),
     chati_h_files_get_upload_url},
    {44, "files.completeUploadExternal", CHATI_SVC_MESSAGE, 0,
     D(files_complete_upload_external_request), D(files_response),
     chati_h_files_complete_upload},
    {45, "files.info", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(files_info_request), D(file_response),
     chati_h_files_info},
    {46, "files.list", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(files_list_request), D(files_list_response),
     chati_h_files_list},
    {47, "files.delete", CHATI_SVC_MESSAGE, 0, D(files_delete_request), D(empty),
     chati_h_files_delete, CHAT_ERR_FILE_DELETED},
    /* The bytes POSTed to an upload_url: no token, the ticket authorises. */
    {48, "files.uploadBytes", CHATI_SVC_MESSAGE, CHATI_M_NO_AUTH | CHATI_M_INTERNAL,
     D(files_upload_bytes_request), D(files_upload_bytes_response), chati_h_files_upload_bytes},
    /* files.upload's core: the gateway reads the multipart body into it. */
    {49, "files.upload", CHATI_SVC_MESSAGE, CHATI_M_INTERNAL, D(files_upload_request),
     D(file_response), chati_h_files_upload},
    /* url_private: metadata and bytes for the gateway's GET /files/<id>/<name>. */
    {50, "files.download", CHATI_SVC_MESSAGE, CHATI_M_INTERNAL | CHATI_M_SAFE, D(files_download_request),
     D(files_download_response), chati_h_files_download},
    {51, "webhooks.create", CHATI_SVC_MESSAGE, 0, D(webhooks_create_request),
     D(webhooks_create_response), chati_h_webhooks_create},
    {52, "webhooks.post", CHATI_SVC_MESSAGE, CHATI_M_NO_AUTH | CHATI_M_INTERNAL,
     D(webhooks_post_request), D(webhooks_post_response), chati_h_webhooks_post},
    {53, "chat.meMessage", CHATI_SVC_MESSAGE, 0, D(chat_me_message_request),
     D(chat_me_message_response), chati_h_chat_me_message},
    {54, "chat.postEphemeral", CHATI_SVC_MESSAGE, 0, D(chat_post_ephemeral_request),
     D(chat_post_ephemeral_response), chati_h_chat_post_ephemeral},
    {55, "emoji.list", CHATI_SVC_USER, CHATI_M_SAFE, D(emoji_list_request), D(emoji_list_response),
     chati_h_emoji_list},
    {56, "dnd.info", CHATI_SVC_PRESENCE, CHATI_M_SAFE, D(dnd_info_request), D(dnd_info_response),
     chati_h_dnd_info},
    {57, "apps.manifest.create", CHATI_SVC_AUTH, 0, D(apps_manifest_create_request),
     D(apps_manifest_create_response), chati_h_apps_manifest_create},
    {58, "bots.info", CHATI_SVC_AUTH, CHATI_M_SAFE, D(bots_info_request), D(bots_info_response),
     chati_h_bots_info},
    /* Socket Mode's WebSocket URL, for an app-level token; the gateway
     * answers the socket (gateway/links.c). */
    {59, "apps.connections.open", CHATI_SVC_AUTH, CHATI_M_APP_TOKEN | CHATI_M_SAFE,
     D(apps_connections_open_request), D(apps_connections_open_response),
     chati_h_apps_connections_open},
    {60, "chat.command", CHATI_SVC_AUTH, 0, D(chat_command_request), D(empty),
     chati_h_chat_command},
    /* A response_url's POST (gateway/hooks.c): the ticket authorises. */
    {61, "webhooks.respond", CHATI_SVC_MESSAGE, CHATI_M_NO_AUTH | CHATI_M_INTERNAL,
     D(webhooks_respond_request), D(empty), chati_h_webhooks_respond},
    {62, "blocks.actions", CHATI_SVC_MESSAGE, 0, D(blocks_actions_request), D(empty),
     chati_h_blocks_actions},
    {63, "views.open", CHATI_SVC_AUTH, 0, D(views_open_request), D(view_response),
     chati_h_views_open},
    {64, "views.push", CHATI_SVC_AUTH, 0, D(views_open_request), D(view_response),
     chati_h_views_push},
    {65, "views.update", CHATI_SVC_AUTH, 0, D(views_update_request), D(view_response),
     chati_h_views_update},
    {66, "views.publish", CHATI_SVC_AUTH, 0, D(views_publish_request), D(view_response),
     chati_h_views_publish},
    {67, "views.submit", CHATI_SVC_AUTH, 0, D(views_submit_request), D(empty),
     chati_h_views_submit},
    {68, "views.close", CHATI_SVC_AUTH, 0, D(views_close_request), D(empty),
     chati_h_views_close},
    {69, "pins.add", CHATI_SVC_MESSAGE, 0, D(pins_request), D(empty), chati_h_pins_add,
     CHAT_ERR_ALREADY_PINNED},
    {70, "pins.remove", CHATI_SVC_MESSAGE, 0, D(pins_request), D(empty), chati_h_pins_remove,
     CHAT_ERR_NO_PIN},
    {71, "pins.list", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(pins_request), D(pins_list_response),
     chati_h_pins_list},
    {72, "chat.scheduleMessage", CHATI_SVC_MESSAGE, 0, D(chat_schedule_message_request),
     D(chat_schedule_message_response), chati_h_chat_schedule_message},
    {73, "chat.scheduledMessages.list", CHATI_SVC_MESSAGE, CHATI_M_SAFE,
     D(scheduled_list_request), D(scheduled_list_response), chati_h_scheduled_list},
    {74, "chat.deleteScheduledMessage", CHATI_SVC_MESSAGE, 0, D(delete_scheduled_request),
     D(empty), chati_h_delete_scheduled, CHAT_ERR_INVALID_SCHEDULED_MESSAGE_ID},
    {75, "search.files", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(search_messages_request),
     D(search_files_response), chati_h_search_files},
    {76, "search.all", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(search_messages_request),
     D(search_all_response), chati_h_search_all},
    {77, "bookmarks.add", CHATI_SVC_CHANNEL, 0, D(bookmarks_add_request), D(bookmark_response),
     chati_h_bookmarks_add},
    {78, "bookmarks.edit", CHATI_SVC_CHANNEL, 0, D(bookmarks_edit_request),
     D(bookmark_response), chati_h_bookmarks_edit},
    {79, "bookmarks.remove", CHATI_SVC_CHANNEL, 0, D(bookmarks_remove_request), D(empty),
     chati_h_bookmarks_remove, CHAT_ERR_INVALID_BOOKMARK_ID},
    {80, "bookmarks.list", CHATI_SVC_CHANNEL, CHATI_M_SAFE, D(bookmarks_list_request),
     D(bookmarks_list_response), chati_h_bookmarks_list},
    {81, "usergroups.create", CHATI_SVC_USER, 0, D(usergroups_create_request),
     D(usergroup_response), chati_h_usergroups_create},
    {82, "usergroups.update", CHATI_SVC_USER, 0, D(usergroups_update_request),
     D(usergroup_response), chati_h_usergroups_update},
    {83, "usergroups.disable", CHATI_SVC_USER, 0, D(usergroup_request), D(usergroup_response),
     chati_h_usergroups_disable},
    {84, "usergroups.enable", CHATI_SVC_USER, 0, D(usergroup_request), D(usergroup_response),
     chati_h_usergroups_enable},
    {85, "usergroups.list", CHATI_SVC_USER, CHATI_M_SAFE, D(usergroups_list_request),
     D(usergroups_list_response), chati_h_usergroups_list},
    {86, "usergroups.users.list", CHATI_SVC_USER, CHATI_M_SAFE, D(usergroup_request),
     D(usergroups_users_list_response), chati_h_usergroups_users_list},
    {87, "usergroups.users.update", CHATI_SVC_USER, 0, D(usergroups_users_update_request),
     D(usergroup_response), chati_h_usergroups_users_update},
    {88, "reactions.list", CHATI_SVC_MESSAGE, CHATI_M_SAFE, D(reactions_list_request),
     D(reactions_list_response), chati_h_reactions_list},
    /* A click in a person's modal (libchat's clients): blocks.actions' for views. */
    {89, "views.action", CHATI_SVC_AUTH, 0, D(views_action_request), D(empty),
     chati_h_views_action},
};

static const char *const service_names[CHATI_SVC__COUNT] = {"auth", "user", "channel",
                                                            "message", "presence"};

const char *chati_service_name(chati_service svc)
{
    return (unsigned)svc < CHATI_SVC__COUNT ? service_names[svc] : "unknown";
}

int chati_service_from_name(const char *name)
{
    for (int i = 0; name && i < CHATI_SVC__COUNT; i++)
        if (strcmp(service_names[i], name) == 0)
            return i;
    return -1;
}

/* Names sorted once for binary search: lookups happen per HTTP request. */
/* Both tables by name, sorted once for binary search: lookups happen per
 * HTTP request. */
#define N_ALL (CHATI_ARRAY_LEN(methods) + 64)
static const chati_method *by_name[N_ALL];
static size_t n_by_name;
static pthread_once_t sort_once = PTHREAD_ONCE_INIT;

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const chati_method *const *)a)->name, (*(const chati_method *const *)b)->name);
}

static void sort_names(void)
{
    for (size_t i = 0; i < CHATI_ARRAY_LEN(methods); i++)
        by_name[n_by_name++] = &methods[i];
    for (size_t i = 0; i < chati_n_internal_methods && n_by_name < N_ALL; i++)
        by_name[n_by_name++] = &chati_internal_methods[i];
    qsort(by_name, n_by_name, sizeof by_name[0], cmp_name);
}

const chati_method *chati_method_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    pthread_once(&sort_once, sort_names);
    size_t lo = 0, hi = n_by_name;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(by_name[mid]->name, name);
        if (c == 0)
            return by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const chati_method *chati_method_by_id(uint32_t id)
{
    /* API ids are dense from 1 in table order; internal ones from 1000. */
    if (id >= 1 && id <= CHATI_ARRAY_LEN(methods) && methods[id - 1].id == id)
        return &methods[id - 1];
    for (size_t i = 0; i < chati_n_internal_methods; i++)
        if (chati_internal_methods[i].id == id)
            return &chati_internal_methods[i];
    return NULL;
}

const chati_method *chati_methods(size_t *n)
{
    *n = CHATI_ARRAY_LEN(methods);
    return methods;
}

ProtobufCMessage *chati_pb_new(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = chat_malloc(d->sizeof_message);
    if (m)
        protobuf_c_message_init(d, m);
    return m;
}

/* Whether this process runs the stores a service needs. */
static bool runs(const chat_ctx *ctx, chati_service svc)
{
    switch (svc) {
    case CHATI_SVC_AUTH:
        return ctx->auth != NULL;
    case CHATI_SVC_USER:
        return ctx->users != NULL;
    case CHATI_SVC_CHANNEL:
        return ctx->channels != NULL;
    case CHATI_SVC_MESSAGE:
        return ctx->messages != NULL;
    case CHATI_SVC_PRESENCE:
        return ctx->presence != NULL;
    default:
        return false;
    }
}

chat_err chati_method_call(chat_ctx *ctx, const chati_method *m, const chat_session *s,
                           const ProtobufCMessage *req, ProtobufCMessage **resp_out)
{
    *resp_out = NULL;
    chati_clear_errmsg();
    if (m == NULL || req == NULL || req->descriptor != m->req)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "request does not match the method");
    if (!runs(ctx, m->service))
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "the %s service does not run here",
                          chati_service_name(m->service));
    if (!(m->flags & CHATI_M_NO_AUTH) && s == NULL)
        return chati_fail(CHAT_ERR_NOT_AUTHED, "%s needs a token", m->name);
    chat_err rv = chati_method_permits(m, s);
    if (rv != CHAT_OK)
        return rv;
    ProtobufCMessage *resp = chati_pb_new(m->resp);
    if (resp == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "response");
    rv = m->fn(ctx, s, req, resp);
    if (rv != CHAT_OK) {
        if (rv == CHAT_ERR_NOMEM && chati_errmsg()[0] == '\0')
            chati_fail(CHAT_ERR_NOMEM, "out of memory building the response");
        protobuf_c_message_free_unpacked(resp, NULL);
        return rv;
    }
    *resp_out = resp;
    return CHAT_OK;
}

const ProtobufCFieldDescriptor *chati_method_key_field(const chati_method *m)
{
    const ProtobufCFieldDescriptor *f =
        m && m->req ? protobuf_c_message_descriptor_get_field_by_name(m->req, "client_msg_id")
                    : NULL;
    return f && f->type == PROTOBUF_C_TYPE_STRING && f->label != PROTOBUF_C_LABEL_REPEATED ? f
                                                                                          : NULL;
}

void chati_idempotency_key(const char *seed, char out[CHATI_IDEMPOTENCY_KEY_LEN + 1])
{
    static _Atomic uint64_t fallback;
    uint8_t b[32];
    if (seed != NULL) {
        chati_sha256(seed, strlen(seed), b);
    } else if (chati_random(b, 16) != CHAT_OK) {
        /* No entropy: unique in this process is what matters here. */
        uint64_t t = (uint64_t)chati_now_us(), n = atomic_fetch_add(&fallback, 1);
        memcpy(b, &t, sizeof t);
        memcpy(b + 8, &n, sizeof n);
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | (seed ? 0x80 : 0x40)); /* version 8 (derived) or 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, CHATI_IDEMPOTENCY_KEY_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}
