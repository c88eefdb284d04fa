/* The events apps hear: one consumer group ("apps") reads every event and
 * queues, in the auth store, each one an app subscribed to (its manifest's
 * settings.event_subscriptions.bot_events, within its scopes) and may see
 * (its bot is in the channel). Socket Mode and the Events API deliver from
 * that queue until the app acknowledges, so nothing is lost while an app is
 * away, and the store's (app, event, kind) key keeps a redelivered batch
 * from reaching an app twice. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "domain/ctx.h"
#include "domain/peers.h"

#define APPS_GROUP "apps"
#define APPS_BATCH 256
#define APPS_LINGER_MS 5
#define MEMBER_TTL_MS 60000     /* membership seen by this consumer is exact; others age */
#define MEMBER_SLOTS 4096
#define MAX_ATTEMPTS 4          /* Socket Mode: the first and three retries, as Slack */
/* The Events API tries for as long as events are kept: a team's bot server
 * down for a deploy gets what it missed (Slack gives up after three). */
#define HTTP_MAX_ATTEMPTS 100000
#define RETENTION_MS (24LL * 3600 * 1000)

/* The Slack event subscriptions libchat delivers, and the scope each needs. */
enum {
    SUB_MESSAGE_CHANNELS,
    SUB_MESSAGE_GROUPS,
    SUB_MESSAGE_IM,
    SUB_MESSAGE_MPIM,
    SUB_APP_MENTION,
    SUB_REACTION_ADDED,
    SUB_REACTION_REMOVED,
    SUB_MEMBER_JOINED,
    SUB_MEMBER_LEFT,
    SUB_CHANNEL_CREATED,
    SUB_CHANNEL_RENAME,
    SUB_CHANNEL_ARCHIVE,
    SUB_CHANNEL_UNARCHIVE,
    SUB_TEAM_JOIN,
    SUB_USER_CHANGE,
    SUB_FILE_SHARED,
    SUB_PIN_ADDED,
    SUB_PIN_REMOVED,
    SUB__COUNT
};

static const struct {
    const char *name, *scope;
} subs[SUB__COUNT] = {
    [SUB_MESSAGE_CHANNELS] = {"message.channels", "channels:history"},
    [SUB_MESSAGE_GROUPS] = {"message.groups", "groups:history"},
    [SUB_MESSAGE_IM] = {"message.im", "im:history"},
    [SUB_MESSAGE_MPIM] = {"message.mpim", "mpim:history"},
    [SUB_APP_MENTION] = {"app_mention", "app_mentions:read"},
    [SUB_REACTION_ADDED] = {"reaction_added", "reactions:read"},
    [SUB_REACTION_REMOVED] = {"reaction_removed", "reactions:read"},
    [SUB_MEMBER_JOINED] = {"member_joined_channel", "channels:read"},
    [SUB_MEMBER_LEFT] = {"member_left_channel", "channels:read"},
    [SUB_CHANNEL_CREATED] = {"channel_created", "channels:read"},
    [SUB_CHANNEL_RENAME] = {"channel_rename", "channels:read"},
    [SUB_CHANNEL_ARCHIVE] = {"channel_archive", "channels:read"},
    [SUB_CHANNEL_UNARCHIVE] = {"channel_unarchive", "channels:read"},
    [SUB_TEAM_JOIN] = {"team_join", "users:read"},
    [SUB_USER_CHANGE] = {"user_change", "users:read"},
    [SUB_FILE_SHARED] = {"file_shared", "files:read"},
    [SUB_PIN_ADDED] = {"pin_added", "pins:read"},
    [SUB_PIN_REMOVED] = {"pin_removed", "pins:read"},
};

typedef struct app_sub {
    chat_session bot;           /* the bot, as membership is asked */
    uint32_t events;            /* 1 << SUB_* */
    int64_t created_us;         /* events from before the app are not its */
} app_sub;

typedef struct team_apps {
    char team[CHAT_ID_SIZE];
    app_sub *apps;
    size_t n;
    uint64_t batch;             /* read for this batch */
} team_apps;

typedef struct member_slot {
    char user[CHAT_ID_SIZE], channel[CHAT_ID_SIZE];
    bool member;
    int64_t expires_ms;         /* 0: free */
} member_slot;

/* The consumer's state; its handler runs one batch at a time. */
struct chati_app_events {
    chat_ctx *ctx;
    chat_broker_consumer *consumer;
    team_apps *teams;
    size_t n_teams;
    member_slot *members;       /* MEMBER_SLOTS, open addressing */
    uint64_t batch;             /* batches handled */
};

uint32_t chati_app_subscriptions(const char *manifest, uint64_t scopes)
{
    json_t *m = manifest ? json_loads(manifest, 0, NULL) : NULL;
    const json_t *events = json_object_get(
        json_object_get(json_object_get(m, "settings"), "event_subscriptions"), "bot_events");
    uint32_t out = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(events, i, e)
    {
        const char *name = json_string_value(e);
        for (int k = 0; name && k < SUB__COUNT; k++)
            if (strcmp(name, subs[k].name) == 0 && (scopes & chati_scope_bit(subs[k].scope)))
                out |= 1u << k;
    }
    json_decref(m);
    return out;
}

static void team_free(team_apps *t)
{
    chat_free(t->apps);
    t->apps = NULL;
    t->n = 0;
}

/* The apps of a team that hear anything, read once per batch (one indexed
 * read of the auth service's own store): an app hears every event handled
 * after it was stored. */
static chat_err team_of(chati_app_events *ae, const char *team_id, const team_apps **out)
{
    chat_ctx *ctx = ae->ctx;
    team_apps *t = NULL;
    for (size_t i = 0; i < ae->n_teams && t == NULL; i++)
        if (strcmp(ae->teams[i].team, team_id) == 0)
            t = &ae->teams[i];
    if (t && t->batch == ae->batch) {
        *out = t;
        return CHAT_OK;
    }
    chat_app **apps = NULL;
    size_t n = 0;
    chat_err rv = ctx->auth->list_apps(ctx->auth_impl, team_id, &apps, &n);
    if (rv != CHAT_OK)
        return rv;
    app_sub *subs_of = chat_calloc(n ? n : 1, sizeof *subs_of);
    size_t k = 0;
    for (size_t i = 0; subs_of && i < n; i++) {
        const chat_app *a = apps[i];
        uint64_t scopes = 0;
        (void)chati_scopes_parse(a->scopes, false, &scopes);
        uint32_t events = a->active ? chati_app_subscriptions(a->manifest, scopes) : 0;
        if (events == 0)
            continue;
        app_sub *s = &subs_of[k++];
        memcpy(s->bot.user_id, a->bot_user_id, CHAT_ID_SIZE);
        memcpy(s->bot.team_id, a->team_id, CHAT_ID_SIZE);
        memcpy(s->bot.bot_id, a->bot_id, CHAT_ID_SIZE);
        memcpy(s->bot.app_id, a->id, CHAT_ID_SIZE);
        s->bot.kind = CHAT_TOKEN_BOT;
        s->bot.scopes = scopes;
        s->events = events;
        s->created_us = a->created * 1000000;
    }
    for (size_t i = 0; i < n; i++)
        chat_app_free(apps[i]);
    chat_free(apps);
    if (subs_of == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "apps");
    if (t == NULL) {
        team_apps *grown = chat_realloc(ae->teams, (ae->n_teams + 1) * sizeof *grown);
        if (grown == NULL) {
            chat_free(subs_of);
            return chati_fail(CHAT_ERR_NOMEM, "apps");
        }
        ae->teams = grown;
        t = &ae->teams[ae->n_teams++];
        memset(t, 0, sizeof *t);
        chati_copy_fixed(t->team, CHAT_ID_SIZE, team_id);
    }
    team_free(t);
    t->apps = subs_of;
    t->n = k;
    t->batch = ae->batch;
    *out = t;
    return CHAT_OK;
}

/* ------------------------------------------------------- membership --- */

static member_slot *member_slot_of(chati_app_events *ae, const char *user, const char *channel,
                                   bool *found)
{
    uint32_t h = 2166136261u;
    for (const char *p = user; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = channel; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    int64_t now = chati_mono_ms();
    member_slot *free_slot = NULL;
    for (size_t probe = 0; probe < 16; probe++) {
        member_slot *s = &ae->members[(h + probe) & (MEMBER_SLOTS - 1)];
        bool live = s->expires_ms > now;
        if (live && strcmp(s->user, user) == 0 && strcmp(s->channel, channel) == 0) {
            *found = true;
            return s;
        }
        if (!live && free_slot == NULL)
            free_slot = s;
    }
    *found = false;
    /* A full neighbourhood: the first slot is reused (entries only cache). */
    return free_slot ? free_slot : &ae->members[h & (MEMBER_SLOTS - 1)];
}

static void member_set(chati_app_events *ae, const char *user, const char *channel, bool member)
{
    bool found;
    member_slot *s = member_slot_of(ae, user, channel, &found);
    chati_copy_fixed(s->user, CHAT_ID_SIZE, user);
    chati_copy_fixed(s->channel, CHAT_ID_SIZE, channel);
    s->member = member;
    s->expires_ms = chati_mono_ms() + MEMBER_TTL_MS;
}

/* The batch being routed: what a membership read of "now" must be corrected
 * by (a join or leave in the rest of the batch that happened after the
 * event). */
typedef struct batch_view {
    chat_event **evs;
    size_t n, at;               /* the event being routed */
} batch_view;

/* Whether the bot was in the channel at the event: kept current by the
 * membership events this consumer reads in order; on a miss, asked of the
 * channel service, corrected by the rest of the batch. */
static chat_err is_member(chati_app_events *ae, const batch_view *bv, const app_sub *a,
                          const char *channel, bool *out)
{
    bool found;
    member_slot *s = member_slot_of(ae, a->bot.user_id, channel, &found);
    if (found) {
        *out = s->member;
        return CHAT_OK;
    }
    /* Topics are not ordered with each other (Kafka): a join handed over
     * after the event may have happened before it. Its time says. */
    int64_t at = bv->evs[bv->at]->time_us;
    for (size_t j = bv->at + 1; j < bv->n; j++) {
        const chat_event *later = bv->evs[j];
        if (later == NULL || (later->type != CHAT_EVENT_MEMBER_JOINED &&
                              later->type != CHAT_EVENT_MEMBER_LEFT) ||
            later->time_us <= at || strcmp(later->target_user, a->bot.user_id) != 0 ||
            strcmp(later->channel_id, channel) != 0)
            continue;
        *out = later->type == CHAT_EVENT_MEMBER_LEFT; /* not cached: it changes */
        return CHAT_OK;
    }
    bool member = false;
    chat_channel *c = NULL;
    chat_err rv = chati_channel_visible(ae->ctx, &a->bot, channel, &c, &member);
    chat_channel_free(c);
    if (chati_not_found(rv) || rv == CHAT_ERR_CHANNEL_NOT_FOUND)
        rv = CHAT_OK; /* gone, or never theirs */
    if (rv != CHAT_OK)
        return rv;
    member_set(ae, a->bot.user_id, channel, member);
    *out = member;
    return CHAT_OK;
}

/* Keeps the membership cache right for the events it reads. */
static void track_membership(chati_app_events *ae, const chat_event *ev)
{
    if (ev->type == CHAT_EVENT_MEMBER_JOINED || ev->type == CHAT_EVENT_MEMBER_LEFT) {
        member_set(ae, ev->target_user, ev->channel_id, ev->type == CHAT_EVENT_MEMBER_JOINED);
    } else if (ev->type == CHAT_EVENT_CHANNEL_CREATED && ev->channel) {
        const chat_channel *c = ev->channel;
        if (c->dm_key == NULL) {
            member_set(ae, ev->user_id, c->id, true); /* the creator */
            return;
        }
        char key[512];
        snprintf(key, sizeof key, "%s", c->dm_key);
        for (char *save = NULL, *u = strtok_r(key, ",", &save); u; u = strtok_r(NULL, ",", &save))
            member_set(ae, u, c->id, true);
    }
}

/* ------------------------------------------------------------ routing --- */

static chat_channel_type type_of(const chat_event *ev)
{
    if (ev->channel_type != 0)
        return ev->channel_type;
    if (ev->channel && ev->channel->type != 0)
        return ev->channel->type;
    switch (ev->channel_id[0]) {
    case 'D':
        return CHAT_CHANNEL_IM;
    case 'G':
        return CHAT_CHANNEL_PRIVATE;
    default:
        return CHAT_CHANNEL_PUBLIC;
    }
}

static int message_sub(chat_channel_type t)
{
    switch (t) {
    case CHAT_CHANNEL_PRIVATE:
        return SUB_MESSAGE_GROUPS;
    case CHAT_CHANNEL_IM:
        return SUB_MESSAGE_IM;
    case CHAT_CHANNEL_MPIM:
        return SUB_MESSAGE_MPIM;
    default:
        return SUB_MESSAGE_CHANNELS;
    }
}

static bool mentions(const chat_message *m, const char *user)
{
    for (size_t i = 0; m && i < m->n_mentions; i++)
        if (strcmp(m->mentions[i], user) == 0)
            return true;
    return false;
}

/* The subscription an event falls under, -1 for none; *in_channel says the
 * app must be in its channel to hear it. */
static int sub_of(const chat_event *ev, bool *in_channel)
{
    *in_channel = true;
    switch (ev->type) {
    case CHAT_EVENT_MESSAGE_CREATED:
    case CHAT_EVENT_MESSAGE_CHANGED:
    case CHAT_EVENT_MESSAGE_DELETED:
        return ev->message ? message_sub(type_of(ev)) : -1;
    case CHAT_EVENT_REACTION_ADDED:
        return SUB_REACTION_ADDED;
    case CHAT_EVENT_REACTION_REMOVED:
        return SUB_REACTION_REMOVED;
    case CHAT_EVENT_MEMBER_JOINED:
        return SUB_MEMBER_JOINED;
    case CHAT_EVENT_MEMBER_LEFT:
        return SUB_MEMBER_LEFT;
    case CHAT_EVENT_PIN_ADDED:
        return SUB_PIN_ADDED;
    case CHAT_EVENT_PIN_REMOVED:
        return SUB_PIN_REMOVED;
    default:
        break;
    }
    /* Team-wide: public channels' changes and the people of the team. */
    *in_channel = type_of(ev) != CHAT_CHANNEL_PUBLIC;
    switch (ev->type) {
    case CHAT_EVENT_CHANNEL_CREATED:
        return ev->channel && ev->channel->type == CHAT_CHANNEL_PUBLIC ? SUB_CHANNEL_CREATED : -1;
    case CHAT_EVENT_CHANNEL_RENAMED:
        return SUB_CHANNEL_RENAME;
    case CHAT_EVENT_CHANNEL_ARCHIVED:
        return SUB_CHANNEL_ARCHIVE;
    case CHAT_EVENT_CHANNEL_UNARCHIVED:
        return SUB_CHANNEL_UNARCHIVE;
    case CHAT_EVENT_USER_JOINED:
        *in_channel = false;
        return SUB_TEAM_JOIN;
    case CHAT_EVENT_USER_CHANGED:
        *in_channel = false;
        return SUB_USER_CHANGE;
    default:
        return -1;
    }
}

typedef struct queue_rows {
    chat_app_event *rows;
    size_t n, cap;
} queue_rows;

static chat_err add_row(queue_rows *q, const app_sub *a, const chat_event *ev, int kind,
                        const chat_broker_msg *msg)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        chat_app_event *grown = chat_realloc(q->rows, cap * sizeof *grown);
        if (grown == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "app events");
        q->rows = grown;
        q->cap = cap;
    }
    chat_app_event *r = &q->rows[q->n++];
    memset(r, 0, sizeof *r);
    memcpy(r->app_id, a->bot.app_id, CHAT_ID_SIZE);
    chati_copy_fixed(r->event_id, sizeof r->event_id, ev->id);
    r->kind = kind;
    r->created_ms = ev->time_us / 1000;
    r->data = (void *)msg->data; /* the bytes as published: encoded once */
    r->len = msg->len;
    return CHAT_OK;
}

/* The rows one event makes: one per app that hears it, an app_mention for
 * each app whose bot a new message names, and a file_shared for each file
 * of a new message. */
static chat_err route(chati_app_events *ae, const batch_view *bv, const chat_broker_msg *msg,
                      queue_rows *q)
{
    const chat_event *ev = bv->evs[bv->at];
    bool in_channel;
    int sub = sub_of(ev, &in_channel);
    bool new_message = ev->type == CHAT_EVENT_MESSAGE_CREATED && ev->message;
    if ((sub < 0 && !new_message) || ev->team_id[0] == '\0')
        return CHAT_OK;
    const team_apps *t = NULL;
    chat_err rv = team_of(ae, ev->team_id, &t);
    for (size_t i = 0; rv == CHAT_OK && i < t->n; i++) {
        const app_sub *a = &t->apps[i];
        if (ev->time_us < a->created_us)
            continue; /* before the app was made (to the second) */
        bool hears = sub >= 0 && (a->events & (1u << sub));
        bool mention = new_message && (a->events & (1u << SUB_APP_MENTION)) &&
                       mentions(ev->message, a->bot.user_id);
        size_t files = new_message && (a->events & (1u << SUB_FILE_SHARED))
                           ? ev->message->n_files
                           : 0;
        if (files > CHAT_APP_EVENT_FILE_SHARED_MAX)
            files = CHAT_APP_EVENT_FILE_SHARED_MAX;
        if (!hears && !mention && files == 0)
            continue;
        bool member = true;
        /* The bot hears of its own leaving although no longer a member. */
        if (in_channel && strcmp(ev->target_user, a->bot.user_id) != 0)
            rv = is_member(ae, bv, a, ev->channel_id, &member);
        if (rv != CHAT_OK || !member)
            continue;
        if (hears)
            rv = add_row(q, a, ev, CHAT_APP_EVENT_AS_IS, msg);
        if (rv == CHAT_OK && mention)
            rv = add_row(q, a, ev, CHAT_APP_EVENT_MENTION, msg);
        for (size_t f = 0; rv == CHAT_OK && f < files; f++)
            rv = add_row(q, a, ev, CHAT_APP_EVENT_FILE_SHARED + (int)f, msg);
    }
    return rv;
}

static chat_err on_batch(void *arg, const chat_broker_msg *msgs, size_t n)
{
    chati_app_events *ae = arg;
    ae->batch++;
    queue_rows q = {0};
    chat_event **evs = chat_calloc(n ? n : 1, sizeof *evs);
    chat_err rv = evs ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "app events");
    /* Garbage can never succeed: skipping it keeps the consumer alive. */
    for (size_t i = 0; rv == CHAT_OK && i < n; i++)
        if (chati_event_decode(msgs[i].data, msgs[i].len, &evs[i]) != CHAT_OK)
            evs[i] = NULL;
    batch_view bv = {evs, n, 0};
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        if (evs[i] == NULL)
            continue;
        bv.at = i;
        rv = route(ae, &bv, &msgs[i], &q);
        track_membership(ae, evs[i]); /* after: a bot hears the join that let it in */
    }
    if (rv == CHAT_OK && q.n > 0)
        rv = ae->ctx->auth->queue_app_events(ae->ctx->auth_impl, q.rows, q.n);
    for (size_t i = 0; evs && i < n; i++)
        chati_event_free(evs[i]);
    chat_free(evs);
    chat_free(q.rows);
    if (rv != CHAT_OK) /* redelivered: membership may have moved meanwhile */
        memset(ae->members, 0, MEMBER_SLOTS * sizeof *ae->members);
    return rv;
}

bool chati_app_events_kept(const chat_ctx *ctx)
{
    return ctx->auth && CHATI_HAS(ctx->auth, queue_app_events, CHAT_STORE_V5) &&
           ctx->auth->lease_app_events && ctx->auth->ack_app_events && ctx->auth->due_apps;
}

chat_err chati_app_events_start(chat_ctx *ctx)
{
    if (ctx->broker == NULL || !chati_app_events_kept(ctx) || ctx->auth->list_apps == NULL)
        return CHAT_OK;
    chati_app_events *ae = chat_calloc(1, sizeof *ae);
    if (ae == NULL || (ae->members = chat_calloc(MEMBER_SLOTS, sizeof *ae->members)) == NULL) {
        chat_free(ae);
        return chati_fail(CHAT_ERR_NOMEM, "app events");
    }
    ae->ctx = ctx;
    const char *topics[CHAT_EVENT_TYPE_MAX];
    size_t nt = 0;
    for (int t = 1; t <= CHAT_EVENT_TYPE_MAX; t++)
        if (t != CHAT_EVENT_USER_TYPING && t != CHAT_EVENT_PRESENCE_CHANGED)
            topics[nt++] = chat_event_topic((chat_event_type)t);
    chat_err rv =
        CHATI_HAS(ctx->broker, subscribe_batched, CHAT_BROKER_V2)
            ? ctx->broker->subscribe_batched(ctx->broker_impl, APPS_GROUP, topics, nt,
                                             APPS_BATCH, APPS_LINGER_MS, on_batch, ae,
                                             &ae->consumer)
            : ctx->broker->subscribe(ctx->broker_impl, APPS_GROUP, topics, nt, APPS_BATCH,
                                     on_batch, ae, &ae->consumer);
    if (rv != CHAT_OK) {
        chat_free(ae->members);
        chat_free(ae);
        return rv;
    }
    ctx->app_events = ae;
    return CHAT_OK;
}

void chati_app_events_stop(chat_ctx *ctx)
{
    chati_app_events *ae = ctx->app_events;
    if (ae == NULL)
        return;
    ctx->broker->unsubscribe(ctx->broker_impl, ae->consumer);
    for (size_t i = 0; i < ae->n_teams; i++)
        team_free(&ae->teams[i]);
    chat_free(ae->teams);
    chat_free(ae->members);
    chat_free(ae);
    ctx->app_events = NULL;
}

/* ------------------------------------------------------------ delivery --- */

static chat_err check_app_session(chat_ctx *ctx, const chat_session *s)
{
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (s->kind != CHAT_TOKEN_APP || s->app_id[0] == '\0')
        return chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "an app-level token (xapp-) only");
    if (!chati_app_events_kept(ctx))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no app events");
    return CHAT_OK;
}

chat_err chati_app_events_lease(chat_ctx *ctx, const chat_session *s, size_t max,
                                int64_t lease_ms, chat_app_event **out, size_t *n)
{
    CHATI_REQUIRE(ctx, auth, "auth");
    *out = NULL;
    *n = 0;
    chat_err rv = check_app_session(ctx, s);
    if (rv != CHAT_OK)
        return rv;
    if (max == 0 || max > CHATI_APP_EVENTS_MAX_LEASE || lease_ms < 100 || lease_ms > 3600000)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "lease 1 to %d events for 0.1 s to 1 h",
                          CHATI_APP_EVENTS_MAX_LEASE);
    int64_t now = chati_now_ms();
    return ctx->auth->lease_app_events(ctx->auth_impl, s->app_id, now, lease_ms, MAX_ATTEMPTS,
                                       now - RETENTION_MS, max, out, n);
}

chat_err chati_app_events_ack(chat_ctx *ctx, const chat_session *s, const int64_t *seqs,
                              size_t n)
{
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = check_app_session(ctx, s);
    if (rv != CHAT_OK)
        return rv;
    if (n > CHATI_APP_EVENTS_MAX_LEASE)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "at most %d at once",
                          CHATI_APP_EVENTS_MAX_LEASE);
    return ctx->auth->ack_app_events(ctx->auth_impl, s->app_id, seqs, n);
}

/* ------------------------------------------------------- Events API --- */

/* Where an app takes its events over HTTP: its manifest's request URL,
 * unless it turned Socket Mode on (Slack sends to one or the other); "" for
 * an app whose slash commands or interactivity alone have URLs. NULL for
 * none; freed with chat_free. */
static char *request_url_of(const char *manifest)
{
    json_t *m = manifest ? json_loads(manifest, 0, NULL) : NULL;
    const json_t *settings = json_object_get(m, "settings");
    const char *url = json_string_value(
        json_object_get(json_object_get(settings, "event_subscriptions"), "request_url"));
    char *out = NULL;
    bool commands = false;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(m, "features"), "slash_commands"), i, c)
        commands = commands || json_string_value(json_object_get(c, "url")) != NULL;
    commands = commands || json_string_value(json_object_get(
                               json_object_get(settings, "interactivity"), "request_url"));
    if (json_is_true(json_object_get(settings, "socket_mode_enabled")))
        out = NULL;
    else if (url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
             strlen(url) < 2048)
        out = chat_strdup(url);
    else if (commands)
        out = chat_strdup("");
    json_decref(m);
    return out;
}

void chati_app_http_free(chati_app_http *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++) {
        chat_app_free(d[i].app);
        chat_free(d[i].request_url);
        chat_app_events_free(d[i].evs, d[i].n);
    }
    chat_free(d);
}

chat_err chati_app_http_lease(chat_ctx *ctx, size_t max_apps, size_t max_events,
                              int64_t lease_ms, chati_app_http **out, size_t *n)
{
    CHATI_REQUIRE(ctx, auth, "auth");
    *out = NULL;
    *n = 0;
    if (!chati_app_events_kept(ctx) || ctx->auth->due_apps == NULL || ctx->auth->get_app == NULL)
        return CHAT_OK; /* no queue: nothing is ever due */
    if (max_apps == 0 || max_apps > 1000 || max_events == 0 ||
        max_events > CHATI_APP_EVENTS_MAX_LEASE || lease_ms < 100 || lease_ms > 3600000)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "up to 1000 apps and %d events each",
                          CHATI_APP_EVENTS_MAX_LEASE);
    int64_t now = chati_now_ms();
    char(*ids)[CHAT_ID_SIZE] = NULL;
    size_t n_ids = 0;
    chat_err rv = ctx->auth->due_apps(ctx->auth_impl, now, max_apps, &ids, &n_ids);
    if (rv != CHAT_OK)
        return rv;
    chati_app_http *d = chat_calloc(n_ids ? n_ids : 1, sizeof *d);
    size_t k = 0;
    if (d == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "deliveries");
    for (size_t i = 0; rv == CHAT_OK && i < n_ids; i++) {
        chat_app *a = NULL;
        if (ctx->auth->get_app(ctx->auth_impl, ids[i], &a) != CHAT_OK)
            continue; /* gone: its events age out */
        char *url = a->active ? request_url_of(a->manifest) : NULL;
        chat_app_event *evs = NULL;
        size_t ne = 0;
        if (url)
            rv = ctx->auth->lease_app_events(ctx->auth_impl, a->id, now, lease_ms, HTTP_MAX_ATTEMPTS,
                                             now - RETENTION_MS, max_events, &evs, &ne);
        if (rv != CHAT_OK || ne == 0) {
            chat_app_free(a);
            chat_free(url);
            chat_app_events_free(evs, ne);
            continue;
        }
        d[k++] = (chati_app_http){a, url, evs, ne};
    }
    chat_free(ids);
    if (rv != CHAT_OK) {
        chati_app_http_free(d, k);
        return rv;
    }
    *out = d;
    *n = k;
    return CHAT_OK;
}

chat_err chati_app_http_ack(chat_ctx *ctx, const char *app_id, const int64_t *seqs, size_t n)
{
    CHATI_REQUIRE(ctx, auth, "auth");
    if (!chati_app_events_kept(ctx))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no app events");
    if (!chati_id_valid(app_id, 'A') || n > CHATI_APP_EVENTS_MAX_LEASE)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an app id and at most %d events",
                          CHATI_APP_EVENTS_MAX_LEASE);
    return ctx->auth->ack_app_events(ctx->auth_impl, app_id, seqs, n);
}
