/* Messages posted later (chat/message.h, Slack's chat.scheduleMessage): kept
 * in the message store until their time, then posted by the scheduler, a
 * thread of the message service, as the one who scheduled them. A store
 * lease keeps two schedulers from posting one message at once, and its id
 * as client_msg_id makes a second post (after a crash between posting and
 * removing it) a no-op: each is posted once. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "domain/ctx.h"
#include "domain/message_internal.h"

#define MAX_AHEAD_S (120LL * 24 * 3600) /* Slack's limit: 120 days */
#define MAX_PER_USER 100                /* waiting at once, per person or bot */
#define TICK_MS 1000
#define LEASE_MS 30000
#define BATCH 50

static bool kept(const chat_ctx *ctx)
{
    return ctx->messages && CHATI_HAS(ctx->messages, schedule, CHAT_STORE_V6) &&
           ctx->messages->list_scheduled && ctx->messages->unschedule &&
           ctx->messages->lease_scheduled;
}

static chat_err common(chat_ctx *ctx, const chat_session *s)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, messages, "message");
    chat_err rv = chati_check_session(s);
    if (rv == CHAT_OK && !kept(ctx))
        rv = chati_fail(CHAT_ERR_NOT_SUPPORTED, "this message store keeps no scheduled messages");
    return rv;
}

static void set_opt(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

/* What the scheduler needs to post it: who, and the post's parts. */
static char *post_json(const chat_session *s, const char *text, const chat_post_opts *o)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:s}", "user", s->user_id, "team", s->team_id,
                          "bot", s->bot_id, "kind", (int)s->kind, "text", text ? text : "");
    if (j == NULL)
        return NULL;
    if (o) {
        set_opt(j, "thread_ts", o->thread_ts);
        set_opt(j, "blocks", o->blocks);
        set_opt(j, "attachments", o->attachments);
        set_opt(j, "metadata", o->metadata);
        set_opt(j, "username", o->username);
        set_opt(j, "icon_emoji", o->icon_emoji);
        set_opt(j, "icon_url", o->icon_url);
        json_object_set_new(j, "flags", json_integer((json_int_t)o->flags));
    }
    char *d = json_dumps(j, JSON_COMPACT);
    char *out = d ? chat_strdup(d) : NULL;
    free(d); /* jansson's allocator */
    json_decref(j);
    return out;
}

chat_err chat_message_schedule(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *text, int64_t post_at, const chat_post_opts *o,
                               chat_scheduled **out)
{
    chat_err rv = common(ctx, s);
    if (rv != CHAT_OK)
        return rv;
    int64_t now = chati_now_ms() / 1000;
    if (post_at <= 0)
        return chati_fail(CHAT_ERR_INVALID_TIME, "post_at is a unix time in seconds");
    if (post_at <= now)
        return chati_fail(CHAT_ERR_TIME_IN_PAST, "post_at is not in the future");
    if (post_at > now + MAX_AHEAD_S)
        return chati_fail(CHAT_ERR_TIME_TOO_FAR, "post_at is more than 120 days away");
    if (o && o->client_msg_id && *o->client_msg_id)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a scheduled message has its own id");
    /* What would make the post fail is refused now: its parts, its channel. */
    chat_message *m = chat_message_new();
    rv = m ? chati_message_set_rich(m, o, true) : chati_fail(CHAT_ERR_NOMEM, "message");
    bool rich = m && (m->blocks || m->attachments);
    chat_message_free(m);
    if (rv == CHAT_OK && (text == NULL || *text == '\0') && !rich)
        rv = chati_fail(CHAT_ERR_NO_TEXT, "text, blocks or attachments are required");
    if (rv == CHAT_OK && text)
        rv = chati_check_text(text, CHAT_MAX_TEXT_CHARS, CHAT_ERR_MSG_TOO_LONG, "text");
    chat_channel *c = NULL;
    bool member = false;
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, &c, &member);
    if (rv == CHAT_OK && !member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "not in the channel");
    if (rv == CHAT_OK && c->is_archived)
        rv = chati_fail(CHAT_ERR_IS_ARCHIVED, "the channel is archived");
    chat_scheduled *mine = NULL;
    size_t n = 0;
    if (rv == CHAT_OK)
        rv = ctx->messages->list_scheduled(ctx->messages_impl, s->team_id, s->user_id, NULL,
                                           MAX_PER_USER, &mine, &n);
    chat_scheduled_free(mine, n);
    if (rv == CHAT_OK && n >= MAX_PER_USER)
        rv = chati_fail(CHAT_ERR_RESTRICTED_TOO_MANY, "%d messages wait already", MAX_PER_USER);
    chat_scheduled *q = rv == CHAT_OK ? chat_calloc(1, sizeof *q) : NULL;
    if (rv == CHAT_OK && q == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "scheduled message");
    if (rv == CHAT_OK)
        rv = chati_id_new('Q', q->id);
    if (rv == CHAT_OK) {
        memcpy(q->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(q->channel, c->id, CHAT_ID_SIZE);
        memcpy(q->user, s->user_id, CHAT_ID_SIZE);
        q->post_at = post_at;
        q->created = now;
        q->text = chat_strdup(text ? text : "");
        q->data = post_json(s, text, o);
        rv = q->text && q->data ? ctx->messages->schedule(ctx->messages_impl, q)
                                : chati_fail(CHAT_ERR_NOMEM, "scheduled message");
    }
    chat_channel_free(c);
    if (rv == CHAT_OK && out)
        *out = q;
    else
        chat_scheduled_free(q, q ? 1 : 0);
    return rv;
}

chat_err chat_scheduled_list(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                             chat_scheduled **out, size_t *n)
{
    chat_err rv = common(ctx, s);
    if (rv == CHAT_OK && (out == NULL || n == NULL))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out and n are required");
    if (rv != CHAT_OK)
        return rv;
    chat_channel *c = NULL;
    if (channel_id && *channel_id &&
        (rv = chati_channel_visible(ctx, s, channel_id, &c, NULL)) != CHAT_OK)
        return rv;
    rv = ctx->messages->list_scheduled(ctx->messages_impl, s->team_id, s->user_id,
                                       c ? c->id : NULL, MAX_PER_USER, out, n);
    chat_channel_free(c);
    return rv;
}

chat_err chat_scheduled_delete(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *id)
{
    chat_err rv = common(ctx, s);
    if (rv != CHAT_OK)
        return rv;
    /* Only the caller's, and in the channel named. */
    chat_scheduled *mine = NULL;
    size_t n = 0;
    bool found = false;
    if (chati_id_valid(id, 'Q'))
        rv = ctx->messages->list_scheduled(ctx->messages_impl, s->team_id, s->user_id,
                                           channel_id, MAX_PER_USER, &mine, &n);
    for (size_t i = 0; rv == CHAT_OK && i < n; i++)
        found |= strcmp(mine[i].id, id) == 0;
    chat_scheduled_free(mine, n);
    if (rv == CHAT_OK && found)
        rv = ctx->messages->unschedule(ctx->messages_impl, id, s->user_id);
    if ((rv == CHAT_OK && !found) || chati_not_found(rv))
        rv = chati_fail(CHAT_ERR_INVALID_SCHEDULED_MESSAGE_ID,
                        "no message %.30s waits in that channel for you", id ? id : "");
    return rv;
}

/* ---------------------------------------------------------- scheduler --- */

static const char *str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Posts q as its author; CHAT_OK when it is done with (posted, or never
 * can be), else the error that may pass. */
static chat_err post_one(chat_ctx *ctx, const chat_scheduled *q)
{
    json_t *j = json_loads(q->data, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return CHAT_OK; /* cannot be read: it never will */
    }
    chat_session s;
    memset(&s, 0, sizeof s);
    chati_copy_fixed(s.user_id, sizeof s.user_id, str_of(j, "user") ? str_of(j, "user") : "");
    chati_copy_fixed(s.team_id, sizeof s.team_id, q->team_id);
    chati_copy_fixed(s.bot_id, sizeof s.bot_id, str_of(j, "bot") ? str_of(j, "bot") : "");
    s.kind = (chat_token_kind)json_integer_value(json_object_get(j, "kind"));
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1,
                        .thread_ts = str_of(j, "thread_ts"),
                        .client_msg_id = q->id,
                        .flags = (unsigned)json_integer_value(json_object_get(j, "flags")),
                        .blocks = str_of(j, "blocks"),
                        .attachments = str_of(j, "attachments"),
                        .metadata = str_of(j, "metadata"),
                        .username = str_of(j, "username"),
                        .icon_emoji = str_of(j, "icon_emoji"),
                        .icon_url = str_of(j, "icon_url")};
    /* A person (or bot) deactivated since posts nothing. */
    chat_user *u = NULL;
    chat_err rv = chati_user_get(ctx, s.user_id, &u);
    bool gone = chati_not_found(rv) || (rv == CHAT_OK && u->deleted);
    chat_user_free(u);
    if (rv == CHAT_OK && !gone)
        rv = chati_message_post(ctx, &s, q->channel, str_of(j, "text"), &o, NULL, NULL);
    else if (gone)
        rv = CHAT_OK;
    json_decref(j);
    /* Gone since (left the channel, archived, ...): dropped, as Slack's. */
    if (rv != CHAT_ERR_NOMEM && rv != CHAT_ERR_STORAGE && rv != CHAT_ERR_TIMEOUT &&
        rv != CHAT_ERR_SERVICE_UNAVAILABLE)
        rv = CHAT_OK;
    return rv;
}

/* One pass: posts what is due; *more when a full batch was due. */
void chati_scheduler_tick(chat_ctx *ctx, int64_t now_ms, bool *more)
{
    chat_scheduled *due = NULL;
    size_t n = 0;
    *more = false;
    if (ctx->messages->lease_scheduled(ctx->messages_impl, now_ms, LEASE_MS, BATCH, &due, &n) !=
        CHAT_OK)
        return;
    for (size_t i = 0; i < n; i++)
        if (post_one(ctx, &due[i]) == CHAT_OK)
            (void)ctx->messages->unschedule(ctx->messages_impl, due[i].id, NULL);
    *more = n == BATCH;
    chat_scheduled_free(due, n);
}

static void *scheduler_main(void *arg)
{
    chat_ctx *ctx = arg;
    pthread_mutex_lock(&ctx->sched_mu);
    while (!ctx->sched_stop) {
        pthread_mutex_unlock(&ctx->sched_mu);
        bool more = false;
        chati_scheduler_tick(ctx, chati_now_ms(), &more);
        pthread_mutex_lock(&ctx->sched_mu);
        if (!more && !ctx->sched_stop)
            chati_cond_wait_until(&ctx->sched_cv, &ctx->sched_mu, chati_mono_ms() + TICK_MS);
    }
    pthread_mutex_unlock(&ctx->sched_mu);
    return NULL;
}

chat_err chati_scheduler_start(chat_ctx *ctx)
{
    if (!kept(ctx))
        return CHAT_OK;
    pthread_mutex_init(&ctx->sched_mu, NULL);
    chati_cond_init(&ctx->sched_cv);
    if (pthread_create(&ctx->scheduler, NULL, scheduler_main, ctx) != 0)
        return chati_fail(CHAT_ERR_INTERNAL, "cannot start the message scheduler");
    ctx->scheduler_running = true;
    return CHAT_OK;
}

void chati_scheduler_stop(chat_ctx *ctx)
{
    if (!ctx->scheduler_running)
        return;
    pthread_mutex_lock(&ctx->sched_mu);
    ctx->sched_stop = true;
    pthread_cond_signal(&ctx->sched_cv);
    pthread_mutex_unlock(&ctx->sched_mu);
    pthread_join(ctx->scheduler, NULL);
    pthread_mutex_destroy(&ctx->sched_mu);
    pthread_cond_destroy(&ctx->sched_cv);
    ctx->scheduler_running = false;
}
