/* What people do to apps (chat/app.h). A slash command: a person runs
 * "/deploy now" in a channel; the app whose manifest names /deploy hears it
 * (a slash_commands envelope over Socket Mode, a form POST over HTTP). A
 * click on a button of an app's message: the app hears a block_actions
 * interaction. Both come with a response_url, through which, for half an
 * hour, the app may answer the person alone (ephemeral) or the channel
 * (in_channel), as its bot, whether or not the bot is in the channel, and
 * replace or delete the message clicked. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "domain/ctx.h"
#include "domain/message_internal.h"
#include "domain/peers.h"

#define MAX_COMMAND_TEXT 4000   /* characters after the command */
#define RESPONSE_TTL_S 1800     /* a response_url works this long, as Slack's */

/* The ticket of a response_url: who answers whom where (and about which
 * message, "0" for none), until when, MACed. */
#define TICKET_FIELDS 8         /* app, bot user, bot, channel, user, team, message, expiry */

static chat_err response_ticket(chat_ctx *ctx, const char *app_id, const char *bot_user,
                                const char *bot_id, const char *channel, const chat_session *s,
                                const char *message_ts, char *out, size_t n)
{
    /* The message's ts as microseconds: a ticket's fields are split at '.'. */
    int64_t us = 0;
    if (message_ts && !chati_ts_parse(message_ts, &us))
        return chati_fail(CHAT_ERR_INVALID_TS, "not a message timestamp");
    char msg[256];
    int len = snprintf(msg, sizeof msg, "%s.%s.%s.%s.%s.%s.%lld.%lld", app_id, bot_user, bot_id,
                       channel, s->user_id, s->team_id, (long long)us,
                       (long long)(chati_now_ms() / 1000 + RESPONSE_TTL_S));
    char mac[CHATI_MAC_B64_LEN + 1];
    chat_err rv = chati_ctx_mac(ctx, "respond", msg, (size_t)len, mac);
    if (rv == CHAT_OK && snprintf(out, n, "%s.%s", msg, mac) >= (int)n)
        rv = chati_fail(CHAT_ERR_INTERNAL, "response ticket");
    return rv;
}

/* Where the app answers (response_url) and its trigger_id, for what s did
 * in channel (about message_ts, or NULL). */
static chat_err answer_to(chat_ctx *ctx, const char *app_id, const char *bot_user,
                          const char *bot_id, const char *channel, const chat_session *s,
                          const char *message_ts, char response_url[1024],
                          char trigger[CHATI_TRIGGER_SIZE])
{
    char ticket[512];
    chat_err rv = response_ticket(ctx, app_id, bot_user, bot_id, channel, s, message_ts, ticket,
                                  sizeof ticket);
    if (rv == CHAT_OK)
        rv = chati_app_trigger(ctx, app_id, s->user_id, NULL, trigger);
    if (rv != CHAT_OK)
        return rv;
    const char *pub = chat_config_get(ctx->cfg, "gateway.public_url");
    snprintf(response_url, 1024, "%s/hooks/respond/%s", pub && *pub ? pub : "http://127.0.0.1:8080",
             ticket);
    return CHAT_OK;
}

chat_err chati_app_queue(chat_ctx *ctx, const char *app_id, const char *event_id, int kind,
                         const char *data)
{
    chat_app_event e;
    memset(&e, 0, sizeof e);
    chati_copy_fixed(e.app_id, sizeof e.app_id, app_id);
    chati_copy_fixed(e.event_id, sizeof e.event_id, event_id);
    e.kind = kind;
    e.created_ms = chati_now_ms();
    e.data = (char *)data;
    e.len = strlen(data);
    return ctx->auth->queue_app_events(ctx->auth_impl, &e, 1);
}

/* The app of the team that has this command, and its command's entry. */
static chat_err app_of_command(chat_ctx *ctx, const char *team_id, const char *command,
                               chat_app **out, char **url)
{
    chat_app **apps = NULL;
    size_t n = 0;
    chat_err rv = ctx->auth->list_apps(ctx->auth_impl, team_id, &apps, &n);
    *out = NULL;
    *url = NULL;
    for (size_t i = 0; rv == CHAT_OK && i < n && *out == NULL; i++) {
        json_t *m = apps[i]->active ? json_loads(apps[i]->manifest, 0, NULL) : NULL;
        size_t k;
        const json_t *c;
        json_array_foreach(json_object_get(json_object_get(m, "features"), "slash_commands"), k,
                           c)
        {
            if (*out == NULL &&
                strcmp(json_string_value(json_object_get(c, "command")), command) == 0) {
                *out = apps[i];
                apps[i] = NULL;
                const char *u = json_string_value(json_object_get(c, "url"));
                *url = chat_strdup(u ? u : "");
            }
        }
        json_decref(m);
    }
    for (size_t i = 0; i < n; i++)
        chat_app_free(apps[i]);
    chat_free(apps);
    if (rv == CHAT_OK && *out == NULL)
        rv = chati_fail(CHAT_ERR_INVALID_COMMAND, "%s is not a command of this workspace",
                        command);
    return rv;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v ? v : ""));
}

chat_err chat_app_command(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                          const char *command, const char *text)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (s->kind != CHAT_TOKEN_USER)
        return chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "people run slash commands");
    if (!chati_app_events_kept(ctx) || ctx->auth->list_apps == NULL)
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no apps");
    if (!chati_command_name_ok(command))
        return chati_fail(CHAT_ERR_INVALID_COMMAND, "not a slash command");
    if (text == NULL)
        text = "";
    if ((rv = chati_check_text(text, MAX_COMMAND_TEXT, CHAT_ERR_TOO_LONG, "text")) != CHAT_OK)
        return rv;
    chat_channel *c = NULL;
    chat_user *u = NULL;
    chat_app *a = NULL;
    char *url = NULL;
    bool member = false;
    rv = chati_channel_visible(ctx, s, channel_id, &c, &member);
    if (rv == CHAT_OK && !member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "run it in a channel you are in");
    if (rv == CHAT_OK)
        rv = app_of_command(ctx, s->team_id, command, &a, &url);
    if (rv == CHAT_OK)
        rv = chati_user_get(ctx, s->user_id, &u);
    char response_url[1024], trigger[CHATI_TRIGGER_SIZE];
    if (rv == CHAT_OK)
        rv = answer_to(ctx, a->id, a->bot_user_id, a->bot_id, c->id, s, NULL, response_url,
                       trigger);
    json_t *wrap = json_object(), *p = json_object();
    char *data = NULL;
    if (rv == CHAT_OK && wrap && p) {
        set_str(p, "token", "");
        set_str(p, "team_id", s->team_id);
        set_str(p, "channel_id", c->id);
        set_str(p, "channel_name", c->name);
        set_str(p, "user_id", s->user_id);
        set_str(p, "user_name", u->name);
        set_str(p, "command", command);
        set_str(p, "text", text);
        set_str(p, "api_app_id", a->id);
        set_str(p, "is_enterprise_install", "false");
        set_str(p, "response_url", response_url);
        set_str(p, "trigger_id", trigger);
        set_str(wrap, "url", url);
        json_object_set(wrap, "payload", p);
        data = json_dumps(wrap, JSON_COMPACT);
        if (data == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "command");
    } else if (rv == CHAT_OK) {
        rv = chati_fail(CHAT_ERR_NOMEM, "command");
    }
    if (rv == CHAT_OK) {
        char event_id[CHAT_APP_EVENT_ID_SIZE];
        snprintf(event_id, sizeof event_id, "Cmd%.40s", trigger);
        rv = chati_app_queue(ctx, a->id, event_id, CHAT_APP_EVENT_COMMAND, data);
    }
    free(data); /* jansson's allocator */
    json_decref(p);
    json_decref(wrap);
    chat_free(url);
    chat_app_free(a);
    chat_user_free(u);
    chat_channel_free(c);
    return rv;
}

/* ---------------------------------------------------------- responses --- */

chat_err chati_app_respond(chat_ctx *ctx, const char *ticket, const char *text,
                           const chat_post_opts *o, unsigned how)
{
    chati_clear_errmsg();
    char f[TICKET_FIELDS + 1][CHATI_MAC_B64_LEN + 1];
    const char *p = ticket ? ticket : "";
    size_t signed_len = 0;
    for (int i = 0; i <= TICKET_FIELDS; i++) {
        size_t len = strcspn(p, ".");
        if (len == 0 || len > CHATI_MAC_B64_LEN || (i < TICKET_FIELDS && p[len] != '.') ||
            (i == TICKET_FIELDS && p[len] != '\0'))
            return chati_fail(CHAT_ERR_INVALID_AUTH, "not a response_url");
        memcpy(f[i], p, len);
        f[i][len] = '\0';
        if (i == TICKET_FIELDS)
            signed_len = (size_t)(p - ticket) - 1;
        p += len + (i < TICKET_FIELDS);
    }
    char want[CHATI_MAC_B64_LEN + 1];
    chat_err rv = chati_ctx_mac(ctx, "respond", ticket, signed_len, want);
    if (rv != CHAT_OK)
        return rv;
    if (strlen(f[TICKET_FIELDS]) != CHATI_MAC_B64_LEN ||
        !chati_consttime_eq(want, f[TICKET_FIELDS], CHATI_MAC_B64_LEN))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "not a response_url");
    if (strtoll(f[7], NULL, 10) < chati_now_ms() / 1000)
        return chati_fail(CHAT_ERR_EXPIRED_URL, "this response_url has expired");
    /* The app's bot answers; the person who ran the command is where it
     * answers, the bot need not be. */
    chat_session bot;
    memset(&bot, 0, sizeof bot);
    chati_copy_fixed(bot.app_id, CHAT_ID_SIZE, f[0]);
    chati_copy_fixed(bot.user_id, CHAT_ID_SIZE, f[1]);
    chati_copy_fixed(bot.bot_id, CHAT_ID_SIZE, f[2]);
    chati_copy_fixed(bot.team_id, CHAT_ID_SIZE, f[5]);
    bot.kind = CHAT_TOKEN_BOT;
    bot.scopes = chati_scope_bit("chat:write");
    chat_session person;
    memset(&person, 0, sizeof person);
    chati_copy_fixed(person.user_id, CHAT_ID_SIZE, f[4]);
    chati_copy_fixed(person.team_id, CHAT_ID_SIZE, f[5]);
    char ts[CHAT_TS_SIZE];
    int64_t us = strtoll(f[6], NULL, 10);
    chati_ts_format(us, ts);
    if (how & (CHATI_RESPOND_REPLACE | CHATI_RESPOND_DELETE)) {
        if (us == 0)
            return chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "this answer has no original");
        if (how & CHATI_RESPOND_DELETE)
            return chat_message_delete(ctx, &bot, f[3], ts);
        /* Replaced whole, as Slack does: parts not given go. */
        chat_post_opts whole = {.version = CHAT_POST_OPTS_V1,
                                .blocks = o && o->blocks ? o->blocks : "[]",
                                .attachments = o && o->attachments ? o->attachments : "[]"};
        chat_message *m = NULL;
        rv = chat_message_update_opts(ctx, &bot, f[3], ts, text, &whole, &m);
        chat_message_free(m);
        return rv;
    }
    if (how & CHATI_RESPOND_IN_CHANNEL) {
        chat_message *m = NULL;
        rv = chati_message_post_for(ctx, &bot, &person, f[3], text, o, &m);
        chat_message_free(m);
        return rv;
    }
    return chati_message_post_ephemeral_for(ctx, &bot, &person, f[3], text, o);
}

/* ------------------------------------------------------------ actions --- */

/* The element of blocks (an actions block's, or a section's accessory)
 * whose action_id is action_id (and block's block_id, when given). */
static const json_t *find_action(const json_t *blocks, const char *block_id,
                                 const char *action_id, const char **in_block)
{
    size_t i, j;
    const json_t *b, *e;
    json_array_foreach(blocks, i, b)
    {
        const char *bid = json_string_value(json_object_get(b, "block_id"));
        if (block_id && *block_id && (bid == NULL || strcmp(bid, block_id) != 0))
            continue;
        const json_t *acc = json_object_get(b, "accessory");
        const char *aid = json_string_value(json_object_get(acc, "action_id"));
        if (aid && strcmp(aid, action_id) == 0) {
            *in_block = bid;
            return acc;
        }
        json_array_foreach(json_object_get(b, "elements"), j, e)
        {
            aid = json_string_value(json_object_get(e, "action_id"));
            if (aid && strcmp(aid, action_id) == 0) {
                *in_block = bid;
                return e;
            }
        }
    }
    return NULL;
}

chat_err chat_app_action(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                         const char *ts, const char *block_id, const char *action_id,
                         const char *value)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, messages, "message");
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (s->kind != CHAT_TOKEN_USER)
        return chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "people click buttons");
    if (action_id == NULL || *action_id == '\0' || strlen(action_id) > 255)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "action_id is required");
    chat_channel *c = NULL;
    chat_message *m = NULL;
    chat_user *u = NULL;
    json_t *blocks = NULL, *p = json_object();
    bool member = false;
    rv = p ? chati_channel_visible(ctx, s, channel_id, &c, &member)
                   : chati_fail(CHAT_ERR_NOMEM, "action");
    if (rv == CHAT_OK && !member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "not in the channel");
    char nts[CHAT_TS_SIZE];
    int64_t us = 0;
    if (rv == CHAT_OK && (ts == NULL || !chati_ts_parse(ts, &us)))
        rv = chati_fail(CHAT_ERR_INVALID_TS, "ts is not a message timestamp");
    if (rv == CHAT_OK) {
        chati_ts_format(us, nts);
        rv = ctx->messages->get(ctx->messages_impl, c->id, nts, &m);
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %s", nts);
    }
    /* Only an app's message, and an element it has: a click names it. */
    const json_t *el = NULL;
    const char *in_block = NULL;
    if (rv == CHAT_OK && (m->bot_id[0] == '\0' || m->blocks == NULL ||
                          (blocks = json_loads(m->blocks, 0, NULL)) == NULL ||
                          (el = find_action(blocks, block_id, action_id, &in_block)) == NULL))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "the message has no action %.60s", action_id);
    if (rv == CHAT_OK)
        rv = chati_user_get(ctx, s->user_id, &u);
    char response_url[1024], trigger[CHATI_TRIGGER_SIZE], action_ts[CHAT_TS_SIZE];
    if (rv == CHAT_OK)
        rv = answer_to(ctx, m->bot_id, m->user, m->bot_id, c->id, s, nts, response_url, trigger);
    char *data = NULL;
    if (rv == CHAT_OK) {
        chati_ts_format(chati_now_us(), action_ts);
        /* Slack's block_actions, with what Bolt reads of it. */
        json_t *user = json_pack("{s:s, s:s, s:s, s:s}", "id", s->user_id, "username",
                                 u->name ? u->name : "", "name", u->name ? u->name : "",
                                 "team_id", s->team_id);
        json_t *action = json_deep_copy(el);
        if (action) {
            json_object_set_new(action, "block_id", json_string(in_block ? in_block : ""));
            json_object_set_new(action, "action_ts", json_string(action_ts));
            if (value && *value && json_object_get(action, "value") == NULL)
                json_object_set_new(action, "value", json_string(value));
        }
        json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "type", "message", "user",
                                m->user, "bot_id", m->bot_id, "ts", m->ts, "text",
                                m->text ? m->text : "", "blocks", blocks);
        json_object_set_new(p, "type", json_string("block_actions"));
        json_object_set_new(p, "user", user);
        json_object_set_new(p, "api_app_id", json_string(""));
        json_object_set_new(p, "token", json_string(""));
        json_object_set_new(p, "container",
                            json_pack("{s:s, s:s, s:s, s:b}", "type", "message", "message_ts",
                                      m->ts, "channel_id", c->id, "is_ephemeral", 0));
        json_object_set_new(p, "trigger_id", json_string(trigger));
        json_object_set_new(p, "team", json_pack("{s:s}", "id", s->team_id));
        json_object_set_new(p, "is_enterprise_install", json_false());
        json_object_set_new(p, "channel",
                            json_pack("{s:s, s:s}", "id", c->id, "name", c->name ? c->name : ""));
        json_object_set_new(p, "message", msg);
        json_object_set_new(p, "state", json_pack("{s:{}}", "values"));
        json_object_set_new(p, "response_url", json_string(response_url));
        json_object_set_new(p, "actions", action ? json_pack("[o]", action) : json_array());
        if (user == NULL || msg == NULL || (data = json_dumps(p, JSON_COMPACT)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "action");
    }
    if (rv == CHAT_OK) {
        char event_id[CHAT_APP_EVENT_ID_SIZE];
        snprintf(event_id, sizeof event_id, "Act%.40s", trigger);
        rv = chati_queue_interaction(ctx, m->bot_id, event_id, data);
    }
    free(data); /* jansson's allocator */
    json_decref(blocks);
    json_decref(p);
    chat_user_free(u);
    chat_message_free(m);
    chat_channel_free(c);
    return rv;
}

/* (the auth service) */
chat_err chati_app_queue_interaction(chat_ctx *ctx, const char *bot_id, const char *event_id,
                                     const char *payload)
{
    if (!chati_app_events_kept(ctx) || ctx->auth->get_app == NULL)
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no app events");
    chat_app *a = NULL;
    chat_err rv = chati_id_valid(bot_id, 'B') ? ctx->auth->get_app(ctx->auth_impl, bot_id, &a)
                                              : CHAT_ERR_NOT_FOUND;
    if (chati_not_found(rv) || (rv == CHAT_OK && !a->active))
        rv = chati_fail(CHAT_ERR_BOT_NOT_FOUND, "no app has bot %.30s", bot_id ? bot_id : "");
    json_t *p = rv == CHAT_OK ? json_loads(payload, 0, NULL) : NULL;
    json_t *m = rv == CHAT_OK ? json_loads(a->manifest, 0, NULL) : NULL;
    char *data = NULL;
    if (rv == CHAT_OK && !json_is_object(p))
        rv = chati_fail(CHAT_ERR_INVALID_JSON, "an interaction is a JSON object");
    if (rv == CHAT_OK) {
        json_object_set_new(p, "api_app_id", json_string(a->id));
        const char *url = json_string_value(json_object_get(
            json_object_get(json_object_get(m, "settings"), "interactivity"), "request_url"));
        json_t *w = json_pack("{s:s, s:O}", "url", url ? url : "", "payload", p);
        data = w ? json_dumps(w, JSON_COMPACT) : NULL;
        json_decref(w);
        if (data == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "interaction");
    }
    if (rv == CHAT_OK)
        rv = chati_app_queue(ctx, a->id, event_id, CHAT_APP_EVENT_INTERACTION, data);
    free(data); /* jansson's allocator */
    json_decref(p);
    json_decref(m);
    chat_app_free(a);
    return rv;
}
