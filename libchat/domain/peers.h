/*
 * libchat/domain/peers.h - what one service's domain needs of another's data.
 *
 * One table of operations per peer service, the way the stores are reached
 * through their ops tables. A context runs some services itself and reaches
 * the others through these tables: the in-process ones (peers_local.c) work
 * on this process's stores, the RPC ones (api/peers_rpc.c) call the service
 * that owns the data. The domain never knows which it has, and never
 * includes the API or transport layers.
 *
 * chati_ctx_open fills ctx->peers: in-process for every service whose store
 * the context opened, the caller's remote table for the others (NULL entries
 * answer service_unavailable).
 *
 * Every function takes the context first; the others follow the domain's
 * rules (inputs borrowed, *out owned by the caller on CHAT_OK). Thread safety:
 * the tables are const and every function may run concurrently.
 */
#ifndef CHATI_DOMAIN_PEERS_H
#define CHATI_DOMAIN_PEERS_H

#include <chat/chat.h>

#include "core/internal.h"

/* chati_channel_peer.visible's flags. */
enum {
    /* channel_id names where a post goes, as chat.postMessage's channel
     * does: a channel id, "#name" or "name", or a user id (the caller's DM
     * with that user, opened on first use). */
    CHATI_CHANNEL_POST_TARGET = 1u << 0,
};

typedef struct chati_channel_peer {
    /* The channel if the caller can see it (public in their team, or a
     * member), channel_not_found otherwise; *is_member (may be NULL) is the
     * caller's membership. flags: CHATI_CHANNEL_*. */
    chat_err (*visible)(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                        unsigned flags, chat_channel **out, bool *is_member);
    /* Ids of every channel the caller may read (public ones of the team and
     * every one they belong to); free *ids with chat_free. */
    chat_err (*readable)(chat_ctx *ctx, const chat_session *s, char (**ids)[CHAT_ID_SIZE],
                         size_t *n);
    /* Adds a user to the team's #general, creating it on first use. */
    chat_err (*join_general)(chat_ctx *ctx, const char *team_id, const char *user_id);
    /* Pins (on) or unpins ts in channel_id as s's user (the caller checked
     * the message and the membership): already_pinned, no_pin. */
    chat_err (*pin)(chat_ctx *ctx, const chat_session *s, const char *channel_id, const char *ts,
                    bool on);
    /* The channel's pins, newest first (*out freed with chat_free). */
    chat_err (*pins)(chat_ctx *ctx, const char *channel_id, chat_pin **out, size_t *n);
} chati_channel_peer;
#define CHATI_MAX_PINS 1000 /* per channel */

typedef struct chati_user_peer {
    /* A user by id (any team: callers check the team). */
    chat_err (*get)(chat_ctx *ctx, const char *user_id, chat_user **out);
    /* Fills c->last_read, unread_count and mention_count for the caller. */
    chat_err (*read_state)(chat_ctx *ctx, const chat_session *s, chat_channel *c);
    chat_err (*set_read_marker)(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                const char *ts);
    /* Creates the profile of a new user in workspace team_domain (NULL: the
     * default one, created on first use); the first person of a workspace is
     * its admin; the handle comes from the email. */
    chat_err (*create_profile)(chat_ctx *ctx, const char *user_id, const char *email,
                               const char *real_name, const char *team_domain,
                               chat_user **out);
    chat_err (*delete_profile)(chat_ctx *ctx, const char *user_id);
    /* Creates an app's bot user from bot (id, team_id, real_name, bot_id,
     * app_id set) under a handle made from its name. */
    chat_err (*create_bot)(chat_ctx *ctx, const chat_user *bot, chat_user **out);
} chati_user_peer;

typedef struct chati_auth_peer {
    chat_err (*set_active)(chat_ctx *ctx, const char *user_id, bool active);
    /* Queues an interaction (CHAT_APP_EVENT_INTERACTION: payload, JSON) for
     * the app whose bot is bot_id; its api_app_id is set there.
     * bot_not_found when no installed app has that bot. */
    chat_err (*queue_interaction)(chat_ctx *ctx, const char *bot_id, const char *event_id,
                                  const char *payload);
} chati_auth_peer;

/* A context's view of the services it does not run. */
typedef struct chati_peers {
    const chati_channel_peer *channel;
    const chati_user_peer *user;
    const chati_auth_peer *auth;
} chati_peers;

/* The in-process tables, over this context's own stores. The internal RPC
 * methods run these in the service that owns the data. */
extern const chati_channel_peer chati_channel_peer_local;
extern const chati_user_peer chati_user_peer_local;
extern const chati_auth_peer chati_auth_peer_local;

/* Sets ctx->peers: local where ctx has the store, else remote's entry, else
 * a table that answers service_unavailable. remote may be NULL. */
void chati_peers_init(chat_ctx *ctx, const chati_peers *remote);

/* The calls the domain makes, through ctx->peers. */
chat_err chati_channel_visible(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               chat_channel **out, bool *is_member);
/* chati_channel_visible of a post's target (CHATI_CHANNEL_POST_TARGET). */
chat_err chati_channel_post_target(chat_ctx *ctx, const chat_session *s, const char *target,
                                   chat_channel **out, bool *is_member);
chat_err chati_readable_channels(chat_ctx *ctx, const chat_session *s,
                                 char (**ids)[CHAT_ID_SIZE], size_t *n);
chat_err chati_join_general(chat_ctx *ctx, const char *team_id, const char *user_id);
chat_err chati_user_get(chat_ctx *ctx, const char *user_id, chat_user **out);
chat_err chati_read_state(chat_ctx *ctx, const chat_session *s, chat_channel *c);
chat_err chati_set_read_marker(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *ts);
chat_err chati_create_profile(chat_ctx *ctx, const char *user_id, const char *email,
                              const char *real_name, const char *team_domain, chat_user **out);
chat_err chati_delete_profile(chat_ctx *ctx, const char *user_id);
chat_err chati_create_bot(chat_ctx *ctx, const chat_user *bot, chat_user **out);
chat_err chati_set_active(chat_ctx *ctx, const char *user_id, bool active);
chat_err chati_queue_interaction(chat_ctx *ctx, const char *bot_id, const char *event_id,
                                 const char *payload);

#endif
