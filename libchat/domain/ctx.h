/*
 * libchat/domain/ctx.h - the inside of a chat_ctx, shared by the domain files.
 */
#ifndef CHATI_CTX_H
#define CHATI_CTX_H

#include <pthread.h>

#include <chat/backend/blob.h>
#include <chat/backend/broker.h>
#include <chat/backend/discovery.h>
#include <chat/backend/presence_store.h>
#include <chat/backend/store.h>

#include "auth/jwt_cache.h"
#include "auth/password.h"
#include "core/internal.h"
#include "domain/outbox.h"
#include "domain/peers.h"
#include "proto/event_codec.h"

#define CHATI_JWT_KEY_BYTES 32

struct chat_session {
    char user_id[CHAT_ID_SIZE];
    char team_id[CHAT_ID_SIZE];
    bool is_admin;
    /* An app's token: its kind, bot, app and the bot's scopes (CHATI_SCOPE_*
     * bits, core/scopes.c); a person's token has kind CHAT_TOKEN_USER and
     * every scope. */
    chat_token_kind kind;
    char bot_id[CHAT_ID_SIZE];
    char app_id[CHAT_ID_SIZE];
    uint64_t scopes;
};

struct chat_ctx {
    chat_config *cfg;
    /* Each backend: its ops table and its impl. A NULL ops means this process
     * does not run that domain (a service of the distributed deployment). */
    const chat_auth_store_ops *auth;
    void *auth_impl;
    const chat_user_store_ops *users;
    void *users_impl;
    const chat_channel_store_ops *channels;
    void *channels_impl;
    const chat_message_store_ops *messages;
    void *messages_impl;
    const chat_broker_ops *broker;
    void *broker_impl;
    const chat_blob_ops *blob;
    void *blob_impl;
    const chat_presence_store_ops *presence;
    void *presence_impl;
    const chat_discovery_ops *discovery;
    void *discovery_impl;

    uint8_t jwt_key[CHATI_JWT_KEY_BYTES]; /* signs tokens and upload tickets */
    bool jwt_key_loaded;
    char jwt_issuer[64];
    chati_jwt_cache *jwt_cache; /* tokens verified before; with auth */
    int64_t jwt_ttl_s;
    chati_argon2_params argon2;
    int64_t files_max_bytes;
    int64_t presence_ttl_ms;

    chati_outbox *outbox;                   /* relays the message store's outbox */
    chat_broker_consumer *unread_consumer;  /* user service: unread counters */
    chat_broker_consumer *activity_consumer;/* channel service: last activity */
    chat_broker_consumer *notice_consumer;  /* message service: topic notices */
    struct chati_app_events *app_events;    /* auth service: what apps hear */

    /* The services this context does not run, reached through these tables
     * (domain/peers.h); remote is the state of the tables that reach them
     * (an RPC client, made on first use under remote_mu), freed with
     * remote_free at close. */
    chati_peers peers;
    void *remote;
    void (*remote_free)(void *remote);
    pthread_mutex_t remote_mu;

    /* Scheduler (scheduled.c): posts scheduled messages when due. */
    pthread_t scheduler;
    pthread_mutex_t sched_mu;
    pthread_cond_t sched_cv;
    bool sched_stop;
    bool scheduler_running;
    /* Presence sweeper: reports expired heartbeats as offline. */
    pthread_t sweeper;
    pthread_mutex_t sweep_mu;
    pthread_cond_t sweep_cv;
    bool sweep_stop;
    bool sweeper_running;
};

/* Opens a context (what chat_open does, edge/open.c): the backends the
 * configuration names, then ctx->peers from chati_peers_init(ctx, remote). */
chat_err chati_ctx_open(chat_ctx **out, const chat_config *cfg, const chati_peers *remote,
                        char *errbuf, size_t errlen);

/* (auth.c) What a minted token says: whose (sub, team), its generation and
 * lifetime; for an app's tokens also kind ("bot"/"app"), app id and the
 * prefix put ahead of the JWT. */
typedef struct chati_token_spec {
    const char *sub, *team;
    int64_t gen, ttl_s;
    const char *kind, *app, *prefix; /* NULL for a person's token */
} chati_token_spec;
/* Signs a token as t says into *out (caller frees; out NULL: nothing). */
chat_err chati_mint_token(chat_ctx *ctx, const chati_token_spec *t, char **out);

/* Session checks shared by every call. */
chat_err chati_check_session(const chat_session *s);
/* Whether s may read c's messages: a bot needs the history scope of c's
 * type (channels:, groups:, im: or mpim:history); missing_scope. */
chat_err chati_may_read_history(const chat_session *s, const chat_channel *c);
/* (app.c) The session of an app's token whose claims verified: the app must
 * exist, be installed and have minted it (generation, team, bot user). */
chat_err chati_app_session(chat_ctx *ctx, const chati_jwt_claims *cl, chat_token_kind kind,
                           chat_session **out);

/* (app.c) Whether name is a slash command's ("/deploy"). */
#define CHATI_MAX_APP_COMMANDS 50
bool chati_command_name_ok(const char *name);
/* (app_commands.c) A response_url's answer: text and rich parts from the
 * app's bot, to the person who ran the command alone, or (in_channel) to the
 * channel. invalid_auth for a ticket not made here, expired after 30 min. */
enum {
    CHATI_RESPOND_IN_CHANNEL = 1u << 0, /* to the channel, not the person alone */
    CHATI_RESPOND_REPLACE = 1u << 1,    /* replaces the message clicked */
    CHATI_RESPOND_DELETE = 1u << 2      /* deletes it */
};
chat_err chati_app_respond(chat_ctx *ctx, const char *ticket, const char *text,
                           const chat_post_opts *o, unsigned how);
/* (app_commands.c, the auth service: chati_auth_peer's queue_interaction) */
chat_err chati_app_queue_interaction(chat_ctx *ctx, const char *bot_id, const char *event_id,
                                     const char *payload);
/* (app_commands.c) Queues one command or interaction (data: its JSON) for
 * an app (the auth service). */
chat_err chati_app_queue(chat_ctx *ctx, const char *app_id, const char *event_id, int kind,
                         const char *data);
/* (app_views.c) Whether ctx's auth store keeps views. A trigger_id for what
 * user did (in view_id, or NULL) that app_id may open a view with for 30 s. */
bool chati_views_kept(const chat_ctx *ctx);
#define CHATI_TRIGGER_SIZE 128
chat_err chati_app_trigger(chat_ctx *ctx, const char *app_id, const char *user_id,
                           const char *view_id, char out[CHATI_TRIGGER_SIZE]);
/* (app_views.c) The app's acknowledgement of a view_submission (answer: its
 * body, JSON or empty), through the ticket the submission was queued with:
 * closes the view, or does its response_action (clear, update, push,
 * errors). invalid_auth for a ticket not made here. */
chat_err chati_view_answer(chat_ctx *ctx, const char *ticket, const char *answer);
/* (app.c) A ticket for an app's Socket Mode URL: an app token of kind
 * "link" that verifies for an hour (an app-level session only). */
chat_err chati_app_link_ticket(chat_ctx *ctx, const chat_session *s, char **ticket);

/* Publishes an event straight to the broker (encoded once), for changes that
 * have no outbox. A broker failure is logged in the detail but not returned:
 * the change itself has been made. */
void chati_publish(chat_ctx *ctx, const chat_event *ev);
/* The outbox callback for message-store changes: encodes an event of the type
 * in *(chat_event *)arg with the stored message as its payload. */
chat_err chati_outbox_message_event(void *arg, const chat_message *m, chat_outbox_item *out);

/* Creates a team (its #general opens with its first member). */
chat_err chati_team_create(chat_ctx *ctx, const char *name, const char *domain,
                           chat_team **out);
/* Starts the derived-state consumers (unread counts, last activity). */
chat_err chati_consumers_start(chat_ctx *ctx);
void chati_consumers_stop(chat_ctx *ctx);

/* (app_events.c) The events apps hear, queued in the auth store by the
 * "apps" consumer group and leased by Socket Mode and the Events API. */
typedef struct chati_app_events chati_app_events;
#define CHATI_APP_EVENTS_MAX_LEASE 100
/* Whether ctx's auth store keeps app events. */
bool chati_app_events_kept(const chat_ctx *ctx);
/* Starts the consumer where the auth store keeps app events (else nothing). */
chat_err chati_app_events_start(chat_ctx *ctx);
void chati_app_events_stop(chat_ctx *ctx);
/* The SUB_* bits of the Slack event subscriptions a manifest's
 * settings.event_subscriptions.bot_events names and scopes allow. */
uint32_t chati_app_subscriptions(const char *manifest, uint64_t scopes);
/* For an app's session (an app-level token): up to max of its waiting
 * events, leased for lease_ms (chat_app_events_free), and their
 * acknowledgement (seqs as leased). */
chat_err chati_app_events_lease(chat_ctx *ctx, const chat_session *s, size_t max,
                                int64_t lease_ms, chat_app_event **out, size_t *n);
chat_err chati_app_events_ack(chat_ctx *ctx, const chat_session *s, const int64_t *seqs,
                              size_t n);
/* The Events API's side of the queue (for the gateway's sender, trusted as
 * a service): apps with a request URL and due events, each with its signing
 * secret and up to max_events events leased for lease_ms; and their
 * acknowledgement. */
typedef struct chati_app_http {
    chat_app *app;              /* with its signing secret */
    char *request_url;
    chat_app_event *evs;
    size_t n;
} chati_app_http;
chat_err chati_app_http_lease(chat_ctx *ctx, size_t max_apps, size_t max_events,
                              int64_t lease_ms, chati_app_http **out, size_t *n);
void chati_app_http_free(chati_app_http *d, size_t n);
chat_err chati_app_http_ack(chat_ctx *ctx, const char *app_id, const int64_t *seqs, size_t n);

/* (scheduled.c) The scheduler thread, where the message store keeps
 * scheduled messages; and one pass at now_ms (*more: a full batch was due). */
chat_err chati_scheduler_start(chat_ctx *ctx);
void chati_scheduler_stop(chat_ctx *ctx);
void chati_scheduler_tick(chat_ctx *ctx, int64_t now_ms, bool *more);
/* The presence sweeper thread; and one sweep at now_ms, for tests. */
chat_err chati_presence_start(chat_ctx *ctx);
void chati_presence_stop(chat_ctx *ctx);
void chati_presence_sweep(chat_ctx *ctx, int64_t now_ms);

/* base64url(HMAC-SHA256(signing key, purpose "|" msg)) in out (43 characters
 * + NUL), for upload tickets and webhook URLs. The purpose keeps MACs of one
 * kind from passing as another; no JWT signing input has a '|'. invalid_config
 * when this process has no key (set jwt.secret where auth does not run). */
#define CHATI_MAC_B64_LEN 43
chat_err chati_ctx_mac(chat_ctx *ctx, const char *purpose, const char *msg, size_t len,
                       char out[CHATI_MAC_B64_LEN + 1]);

#define CHATI_REQUIRE(ctx, field, what)                                                  \
    do {                                                                                 \
        if ((ctx) == NULL)                                                               \
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no context");                 \
        if ((ctx)->field == NULL)                                                        \
            return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "the %s service is not available here", what); \
    } while (0)

#endif
