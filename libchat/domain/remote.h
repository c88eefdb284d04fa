/*
 * libchat/domain/remote.h - what a domain needs of another domain's data.
 *
 * Each function works on the local store when this process runs that domain
 * (chatd, or a service that owns it) and otherwise calls the owning service
 * over RPC (the distributed deployment). Handlers of the internal methods call
 * the *_local versions.
 */
#ifndef CHATI_REMOTE_H
#define CHATI_REMOTE_H

#include <protobuf-c/protobuf-c.h>

#include "domain/ctx.h"
#include "rpc/svc.h"

/* channel service */
chat_err chati_channel_visible_local(chat_ctx *ctx, const chat_session *s,
                                     const char *channel_id, chat_channel **out,
                                     bool *is_member);
chat_err chati_readable_channels_local(chat_ctx *ctx, const chat_session *s,
                                       char (**ids)[CHAT_ID_SIZE], size_t *n);
/* Adds a user to the team's #general, creating the channel on first use. */
chat_err chati_join_general(chat_ctx *ctx, const char *team_id, const char *user_id);
chat_err chati_join_general_local(chat_ctx *ctx, const char *team_id, const char *user_id);

/* user service */
/* A user by id (any team; callers check the team). */
chat_err chati_user_get(chat_ctx *ctx, const char *user_id, chat_user **out);
/* Fills c->last_read, unread_count and mention_count for the caller. */
chat_err chati_read_state(chat_ctx *ctx, const chat_session *s, chat_channel *c);
chat_err chati_read_state_local(chat_ctx *ctx, const chat_session *s, chat_channel *c);
chat_err chati_set_read_marker(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *ts);
/* Creates the profile of a new user in the workspace team_domain (NULL: the
 * default one, created on first use); the first person of a workspace is its
 * admin; the handle comes from the email. */
chat_err chati_create_profile(chat_ctx *ctx, const char *user_id, const char *email,
                              const char *real_name, const char *team_domain, chat_user **out);
chat_err chati_create_profile_local(chat_ctx *ctx, const char *user_id, const char *email,
                                    const char *real_name, const char *team_domain,
                                    chat_user **out);
chat_err chati_delete_profile(chat_ctx *ctx, const char *user_id);

/* auth service */
chat_err chati_set_active(chat_ctx *ctx, const char *user_id, bool active);

/* The RPC client for services this process does not run (created on first use). */
chat_err chati_remote(chat_ctx *ctx, chati_svc **out);

/* Entities across the wire, in chat.Event envelopes. */
chat_err chati_channel_pack(const chat_channel *c, ProtobufCBinaryData *out);
chat_err chati_channel_unpack(const ProtobufCBinaryData *in, chat_channel **out);
chat_err chati_user_pack(const chat_user *u, ProtobufCBinaryData *out);
chat_err chati_user_unpack(const ProtobufCBinaryData *in, chat_user **out);

#endif
