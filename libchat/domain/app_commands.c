/* Slash commands (chat/app.h): a person runs "/deploy now" in a channel;
 * the app whose manifest names /deploy hears it (a slash_commands envelope
 * over Socket Mode) with a response_url, through which, for half an hour,
 * it may answer the person alone (ephemeral) or the channel (in_channel),
 * as its bot, whether or not the bot is in the channel. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "domain/ctx.h"
#include "domain/message_internal.h"
#include "domain/peers.h"

#define MAX_COMMAND_TEXT 4000   /* characters after the command */
#define RESPONSE_TTL_S 1800     /* a response_url works this long, as Slack's */

/* The ticket of a response_url: who answers whom where, until when, MACed. */
#define TICKET_FIELDS 7         /* app, bot user, bot, channel, user, team, expiry */

static chat_err response_ticket(chat_ctx *ctx, const chat_app *a, const char *channel,
                                const chat_session *s, char *out, size_t n)
{
    char msg[256];
    int len = snprintf(msg, sizeof msg, "%s.%s.%s.%s.%s.%s.%lld", a->id, a->bot_user_id,
                       a->bot_id, channel, s->user_id, s->team_id,
                       (long long)(chati_now_ms() / 1000 + RESPONSE_TTL_S));
    char mac[CHATI_MAC_B64_LEN + 1];
    chat_err rv = chati_ctx_mac(ctx, "respond", msg, (size_t)len, mac);
    if (rv == CHAT_OK && snprintf(out, n, "%s.%s", msg, mac) >= (int)n)
        rv = chati_fail(CHAT_ERR_INTERNAL, "response ticket");
    return rv;
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
    char ticket[512], trigger[40];
    if (rv == CHAT_OK)
        rv = response_ticket(ctx, a, c->id, s, ticket, sizeof ticket);
    uint8_t rnd[8];
    if (rv == CHAT_OK && (rv = chati_random(rnd, sizeof rnd)) == CHAT_OK) {
        char hex[17];
        chati_hex_encode(rnd, sizeof rnd, hex);
        snprintf(trigger, sizeof trigger, "%lld.%s", (long long)chati_now_ms(), hex);
    }
    json_t *wrap = json_object(), *p = json_object();
    char *data = NULL;
    if (rv == CHAT_OK && wrap && p) {
        const char *pub = chat_config_get(ctx->cfg, "gateway.public_url");
        char response_url[1024];
        snprintf(response_url, sizeof response_url, "%s/hooks/respond/%s",
                 pub && *pub ? pub : "http://127.0.0.1:8080", ticket);
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
        chat_app_event e;
        memset(&e, 0, sizeof e);
        memcpy(e.app_id, a->id, CHAT_ID_SIZE);
        snprintf(e.event_id, sizeof e.event_id, "Cmd%s", trigger);
        e.kind = CHAT_APP_EVENT_COMMAND;
        e.created_ms = chati_now_ms();
        e.data = data;
        e.len = strlen(data);
        rv = ctx->auth->queue_app_events(ctx->auth_impl, &e, 1);
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
                           const chat_post_opts *o, bool in_channel)
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
    if (strtoll(f[6], NULL, 10) < chati_now_ms() / 1000)
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
    if (in_channel) {
        chat_message *m = NULL;
        rv = chati_message_post_for(ctx, &bot, &person, f[3], text, o, &m);
        chat_message_free(m);
        return rv;
    }
    return chati_message_post_ephemeral_for(ctx, &bot, &person, f[3], text, o);
}
