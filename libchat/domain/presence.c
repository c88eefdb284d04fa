/* Presence and typing. Heartbeats keep a user active; a sweeper thread turns
 * expired heartbeats into presence.changed(offline) events. */
#include <string.h>
#include <time.h>

#include "domain/ctx.h"

#define SWEEP_INTERVAL_MS 1000

const char *chat_presence_name(chat_presence p)
{
    switch (p) {
    case CHAT_PRESENCE_ACTIVE:
        return "active";
    case CHAT_PRESENCE_AWAY:
        return "away";
    default:
        return "offline";
    }
}

static void publish_presence(chat_ctx *ctx, const char *team_id, const char *user_id,
                             chat_presence p)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_PRESENCE_CHANGED);
    if (ev == NULL)
        return;
    if (team_id)
        chati_copy_fixed(ev->team_id, CHAT_ID_SIZE, team_id);
    chati_copy_fixed(ev->user_id, CHAT_ID_SIZE, user_id);
    ev->presence = p;
    chati_publish(ctx, ev);
    chati_event_free(ev);
}

#define PRESENCE_COMMON(ctx, s)                                                          \
    do {                                                                                 \
        chati_clear_errmsg();                                                            \
        CHATI_REQUIRE(ctx, presence, "presence");                                        \
        chat_err rv_ = chati_check_session(s);                                           \
        if (rv_ != CHAT_OK)                                                              \
            return rv_;                                                                  \
    } while (0)

/* Publishes the caller's effective presence after a change. */
static void announce(chat_ctx *ctx, const chat_session *s, int64_t now)
{
    const char *ids[1] = {s->user_id};
    chat_presence p = CHAT_PRESENCE_OFFLINE;
    if (ctx->presence->get(ctx->presence_impl, ids, 1, now, &p) == CHAT_OK)
        publish_presence(ctx, s->team_id, s->user_id, p);
}

chat_err chat_presence_heartbeat(chat_ctx *ctx, const chat_session *s)
{
    PRESENCE_COMMON(ctx, s);
    bool changed = false;
    int64_t now = chati_now_ms();
    chat_err rv = ctx->presence->heartbeat(ctx->presence_impl, s->user_id, now,
                                           ctx->presence_ttl_ms, &changed);
    if (rv == CHAT_OK && changed)
        announce(ctx, s, now);
    return rv;
}

chat_err chat_presence_set(chat_ctx *ctx, const chat_session *s, bool away)
{
    PRESENCE_COMMON(ctx, s);
    bool changed = false;
    int64_t now = chati_now_ms();
    chat_err rv = ctx->presence->set_away(ctx->presence_impl, s->user_id, away, now, &changed);
    if (rv == CHAT_OK && changed)
        announce(ctx, s, now);
    return rv;
}

chat_err chat_presence_get(chat_ctx *ctx, const chat_session *s, const char *const *user_ids,
                           size_t n, chat_presence *out)
{
    PRESENCE_COMMON(ctx, s);
    if (n == 0)
        return CHAT_OK;
    if (user_ids == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user_ids and out are required");
    if (n > CHAT_MAX_PAGE)
        return chati_fail(CHAT_ERR_TOO_MANY_USERS, "at most %d users at once", CHAT_MAX_PAGE);
    for (size_t i = 0; i < n; i++)
        if (!chati_id_valid(user_ids[i], 'U'))
            return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id: %.30s",
                              user_ids[i] ? user_ids[i] : "(null)");
    return ctx->presence->get(ctx->presence_impl, user_ids, n, chati_now_ms(), out);
}

chat_err chat_typing(chat_ctx *ctx, const chat_session *s, const char *channel_id)
{
    chati_clear_errmsg();
    chat_err rv = chati_check_session(s);
    bool member = false;
    chat_channel *c = NULL;
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, &c, &member);
    if (rv == CHAT_OK && !member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "join the channel first");
    if (rv == CHAT_OK) {
        chat_event *ev = chati_event_new(CHAT_EVENT_USER_TYPING);
        if (ev) {
            memcpy(ev->team_id, s->team_id, CHAT_ID_SIZE);
            memcpy(ev->channel_id, c->id, CHAT_ID_SIZE);
            memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
            chati_publish(ctx, ev);
            chati_event_free(ev);
        }
    }
    chat_channel_free(c);
    return rv;
}

void chati_presence_sweep(chat_ctx *ctx, int64_t now_ms)
{
    chat_list *gone = NULL;
    if (ctx->presence == NULL || !CHATI_HAS(ctx->presence, expired, CHAT_PRESENCE_STORE_V1) ||
        ctx->presence->expired(ctx->presence_impl, now_ms, &gone) != CHAT_OK)
        return;
    for (size_t i = 0; i < chat_list_count(gone); i++)
        publish_presence(ctx, NULL, chat_list_string(gone, i), CHAT_PRESENCE_OFFLINE);
    chat_list_free(gone);
}

static void *sweeper_main(void *arg)
{
    chati_thread_name("presence-sweep");
    chat_ctx *ctx = arg;
    pthread_mutex_lock(&ctx->sweep_mu);
    while (!ctx->sweep_stop) {
        chati_cond_wait_until(&ctx->sweep_cv, &ctx->sweep_mu,
                              chati_mono_ms() + SWEEP_INTERVAL_MS);
        if (ctx->sweep_stop)
            break;
        pthread_mutex_unlock(&ctx->sweep_mu);
        chati_presence_sweep(ctx, chati_now_ms());
        pthread_mutex_lock(&ctx->sweep_mu);
    }
    pthread_mutex_unlock(&ctx->sweep_mu);
    return NULL;
}

chat_err chati_presence_start(chat_ctx *ctx)
{
    if (ctx->presence == NULL || ctx->broker == NULL)
        return CHAT_OK;
    pthread_mutex_init(&ctx->sweep_mu, NULL);
    chati_cond_init(&ctx->sweep_cv);
    if (pthread_create(&ctx->sweeper, NULL, sweeper_main, ctx) != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "cannot start the presence sweeper");
    ctx->sweeper_running = true;
    return CHAT_OK;
}

void chati_presence_stop(chat_ctx *ctx)
{
    if (!ctx->sweeper_running)
        return;
    pthread_mutex_lock(&ctx->sweep_mu);
    ctx->sweep_stop = true;
    pthread_cond_signal(&ctx->sweep_cv);
    pthread_mutex_unlock(&ctx->sweep_mu);
    pthread_join(ctx->sweeper, NULL);
    pthread_mutex_destroy(&ctx->sweep_mu);
    pthread_cond_destroy(&ctx->sweep_cv);
    ctx->sweeper_running = false;
}
