/* Apps (chat/app.h): made from a Slack manifest, each with a bot user and
 * its tokens; the auth service keeps them (chat_auth_store_ops' apps). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "domain/ctx.h"

#define MAX_APP_NAME 35          /* Slack's limit for display_information.name */
#define APP_TOKEN_TTL_S (100LL * 365 * 24 * 3600) /* app tokens do not expire */
/* A Socket Mode URL's ticket: a token of its own (it shows in access logs),
 * good for an hour; the gateway asks the app to reconnect before then. */
#define LINK_TICKET_TTL_S 3600

static bool has_apps(chat_ctx *ctx)
{
    return CHATI_HAS(ctx->auth, create_app, CHAT_STORE_V4) && ctx->auth->get_app &&
           ctx->auth->list_apps && ctx->auth->bump_app_generation;
}

static chat_err bad_manifest(const char *what)
{
    return chati_fail(CHAT_ERR_INVALID_MANIFEST, "%s", what);
}

/* features.slash_commands: each a "/name" of lower-case letters, digits, '-'
 * and '_' (1 to 31 after the slash), named once, with an http(s) url or
 * none (Socket Mode). */
static chat_err check_commands(const json_t *cmds)
{
    if (cmds == NULL)
        return CHAT_OK;
    if (!json_is_array(cmds) || json_array_size(cmds) > CHATI_MAX_APP_COMMANDS)
        return bad_manifest("features.slash_commands must be an array of at most 50");
    size_t i, j;
    const json_t *c, *d;
    json_array_foreach(cmds, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "command"));
        const char *url = json_string_value(json_object_get(c, "url"));
        if (!chati_command_name_ok(name))
            return chati_fail(CHAT_ERR_INVALID_MANIFEST, "not a slash command: %.40s",
                              name ? name : "(none)");
        if (json_object_get(c, "url") != NULL &&
            (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)))
            return chati_fail(CHAT_ERR_INVALID_MANIFEST, "%s: url must be http(s)", name);
        json_array_foreach(cmds, j, d)
        {
            if (j < i && strcmp(json_string_value(json_object_get(d, "command")), name) == 0)
                return chati_fail(CHAT_ERR_INVALID_MANIFEST, "%s is named twice", name);
        }
    }
    return CHAT_OK;
}

bool chati_command_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 2 || n > 32 || name[0] != '/')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-' || name[i] == '_'))
            return false;
    return true;
}

/* Reads what libchat uses of a manifest into a: name, the bot's display name
 * (into *bot_name, borrowed from *root) and scopes; a->manifest gets it
 * compacted. *root is freed by the caller. */
static chat_err read_manifest(const char *text, chat_app *a, const char **bot_name,
                              json_t **root)
{
    if (text == NULL || strlen(text) > CHAT_MAX_MANIFEST_BYTES)
        return bad_manifest("the manifest is missing or over 64 KiB");
    json_error_t err;
    json_t *m = *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (m == NULL)
        return chati_fail(CHAT_ERR_INVALID_MANIFEST, "the manifest is not JSON: %.80s", err.text);
    if (!json_is_object(m))
        return bad_manifest("the manifest is not a JSON object");
    const char *name =
        json_string_value(json_object_get(json_object_get(m, "display_information"), "name"));
    size_t chars = 0;
    if (name == NULL || *name == '\0' || !chati_utf8_valid(name, strlen(name), &chars) ||
        chars > MAX_APP_NAME)
        return bad_manifest("display_information.name must be 1 to 35 characters");
    *bot_name =
        json_string_value(json_object_get(json_object_get(json_object_get(m, "features"),
                                                          "bot_user"),
                                          "display_name"));
    if (*bot_name == NULL || **bot_name == '\0')
        *bot_name = name;
    if (!chati_utf8_valid(*bot_name, strlen(*bot_name), &chars) || chars > 80)
        return bad_manifest("features.bot_user.display_name must be at most 80 characters");
    const json_t *scopes = json_object_get(
        json_object_get(json_object_get(m, "oauth_config"), "scopes"), "bot");
    if (scopes != NULL && !json_is_array(scopes))
        return bad_manifest("oauth_config.scopes.bot must be an array");
    chati_buf csv = {0};
    size_t i;
    const json_t *sc;
    chat_err rv = chati_buf_puts(&csv, "");
    json_array_foreach(scopes, i, sc)
    {
        /* Scopes libchat does not know are kept and grant nothing yet. */
        const char *s = json_string_value(sc);
        if (s == NULL || !chati_scope_name_ok(s)) {
            chati_buf_free(&csv);
            return chati_fail(CHAT_ERR_INVALID_MANIFEST, "not a scope: %.60s",
                              s ? s : "(not a string)");
        }
        if (rv == CHAT_OK && i > 0)
            rv = chati_buf_puts(&csv, ",");
        if (rv == CHAT_OK)
            rv = chati_buf_puts(&csv, s);
    }
    if (rv == CHAT_OK)
        rv = check_commands(json_object_get(json_object_get(m, "features"), "slash_commands"));
    if (rv != CHAT_OK) {
        chati_buf_free(&csv);
        return rv;
    }
    char *compact = json_dumps(m, JSON_COMPACT);
    a->name = chat_strdup(name);
    a->scopes = rv == CHAT_OK ? chati_buf_steal(&csv) : NULL;
    a->manifest = compact ? chat_strdup(compact) : NULL;
    free(compact); /* jansson's allocator */
    chati_buf_free(&csv);
    if (a->name == NULL || a->scopes == NULL || a->manifest == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "app");
    return CHAT_OK;
}

/* "xoxb-" or "xapp-" and a token for the app's bot (kind "bot" or "app"). */
static chat_err mint(chat_ctx *ctx, const chat_app *a, const char *kind, char **out)
{
    chati_token_spec t = {.sub = a->bot_user_id, .team = a->team_id, .gen = a->token_gen,
                          .ttl_s = APP_TOKEN_TTL_S, .kind = kind, .app = a->id,
                          .prefix = strcmp(kind, "bot") == 0 ? "xoxb-" : "xapp-"};
    return chati_mint_token(ctx, &t, out);
}

static chat_err new_secret(char out[65])
{
    uint8_t raw[32];
    chat_err rv = chati_random(raw, sizeof raw);
    for (size_t i = 0; rv == CHAT_OK && i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return rv;
}

chat_err chat_app_create(chat_ctx *ctx, const chat_session *s, const char *manifest,
                         chat_app **out, char **bot_token, char **app_token)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (out)
        *out = NULL;
    if (bot_token)
        *bot_token = NULL;
    if (app_token)
        *app_token = NULL;
    if (s->kind != CHAT_TOKEN_USER)
        return chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "apps are made by people");
    if (!has_apps(ctx))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no apps");
    chat_app *a = chat_app_new();
    chat_user *bot = chat_user_new(), *made = NULL;
    json_t *root = NULL;
    const char *bot_name = NULL;
    char secret[65];
    rv = a && bot ? read_manifest(manifest, a, &bot_name, &root) : chati_fail(CHAT_ERR_NOMEM, "app");
    if (rv == CHAT_OK && (rv = chati_id_new('A', a->id)) == CHAT_OK &&
        (rv = chati_id_new('B', a->bot_id)) == CHAT_OK &&
        (rv = chati_id_new('U', a->bot_user_id)) == CHAT_OK && (rv = new_secret(secret)) == CHAT_OK) {
        memcpy(a->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(a->creator, s->user_id, CHAT_ID_SIZE);
        a->created = chati_now_us() / 1000000;
        a->token_gen = 1;
        a->active = true;
        a->signing_secret = chat_strdup(secret);
        memcpy(bot->id, a->bot_user_id, CHAT_ID_SIZE);
        memcpy(bot->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(bot->bot_id, a->bot_id, CHAT_ID_SIZE);
        memcpy(bot->app_id, a->id, CHAT_ID_SIZE);
        bot->real_name = chat_strdup(bot_name);
        if (a->signing_secret == NULL || bot->real_name == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "app");
    }
    memset(secret, 0, sizeof secret);
    json_decref(root);
    if (rv == CHAT_OK)
        rv = chati_create_bot(ctx, bot, &made);
    if (rv == CHAT_OK && (rv = ctx->auth->create_app(ctx->auth_impl, a)) != CHAT_OK)
        (void)chati_delete_profile(ctx, a->bot_user_id); /* no bot without its app */
    if (rv == CHAT_OK && ((rv = mint(ctx, a, "bot", bot_token)) != CHAT_OK ||
                          (rv = mint(ctx, a, "app", app_token)) != CHAT_OK)) {
        chat_free(bot_token ? *bot_token : NULL);
        if (bot_token)
            *bot_token = NULL;
    }
    if (rv == CHAT_OK && out) {
        *out = a;
        a = NULL;
    }
    chat_app_free(a);
    chat_user_free(bot);
    chat_user_free(made);
    return rv;
}

chat_err chat_app_get(chat_ctx *ctx, const chat_session *s, const char *id, chat_app **out)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    bool by_bot = id && id[0] == 'B';
    chat_err missing = by_bot ? CHAT_ERR_BOT_NOT_FOUND : CHAT_ERR_APP_NOT_FOUND;
    if (!has_apps(ctx) || !chati_id_valid(id, by_bot ? 'B' : 'A'))
        return chati_fail(missing, "no %s %.30s", by_bot ? "bot" : "app", id ? id : "");
    chat_app *a = NULL;
    rv = ctx->auth->get_app(ctx->auth_impl, id, &a);
    if (chati_not_found(rv) || (rv == CHAT_OK && strcmp(a->team_id, s->team_id) != 0))
        rv = chati_fail(missing, "no %s %s", by_bot ? "bot" : "app", id);
    if (rv == CHAT_OK && a->signing_secret) { /* the secret stays with the auth service */
        memset(a->signing_secret, 0, strlen(a->signing_secret));
        a->signing_secret[0] = '\0';
    }
    if (rv == CHAT_OK)
        *out = a;
    else
        chat_app_free(a);
    return rv;
}

chat_err chati_app_session(chat_ctx *ctx, const chati_jwt_claims *cl, chat_token_kind kind,
                           chat_session **out)
{
    if (!has_apps(ctx))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "this server keeps no apps");
    chat_app *a = NULL;
    chat_err rv = ctx->auth->get_app(ctx->auth_impl, cl->app, &a);
    if (chati_not_found(rv))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "no such app");
    if (rv != CHAT_OK)
        return rv;
    chat_session *s = NULL;
    if (!a->active)
        rv = chati_fail(CHAT_ERR_ACCOUNT_INACTIVE, "this app is uninstalled");
    else if (cl->gen != a->token_gen || strcmp(cl->team, a->team_id) != 0 ||
             strcmp(cl->sub, a->bot_user_id) != 0)
        rv = chati_fail(CHAT_ERR_TOKEN_REVOKED, "this token was revoked");
    else if ((s = chat_calloc(1, sizeof *s)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "session");
    if (rv == CHAT_OK)
        rv = chati_scopes_parse(a->scopes, false, &s->scopes);
    if (rv == CHAT_OK) {
        memcpy(s->user_id, a->bot_user_id, CHAT_ID_SIZE);
        memcpy(s->team_id, a->team_id, CHAT_ID_SIZE);
        memcpy(s->bot_id, a->bot_id, CHAT_ID_SIZE);
        memcpy(s->app_id, a->id, CHAT_ID_SIZE);
        s->kind = kind;
        *out = s;
        s = NULL;
    }
    chat_free(s);
    chat_app_free(a);
    return rv;
}

chat_err chati_app_link_ticket(chat_ctx *ctx, const chat_session *s, char **ticket)
{
    CHATI_REQUIRE(ctx, auth, "auth");
    *ticket = NULL;
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (s->kind != CHAT_TOKEN_APP)
        return chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "an app-level token (xapp-) only");
    if (!has_apps(ctx) || !chati_app_events_kept(ctx))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no app events");
    chat_app *a = NULL;
    if ((rv = ctx->auth->get_app(ctx->auth_impl, s->app_id, &a)) != CHAT_OK)
        return chati_not_found(rv) ? chati_fail(CHAT_ERR_INVALID_AUTH, "no such app") : rv;
    chati_token_spec t = {.sub = a->bot_user_id, .team = a->team_id, .gen = a->token_gen,
                          .ttl_s = LINK_TICKET_TTL_S, .kind = "link", .app = a->id,
                          .prefix = "xapp-"};
    rv = chati_mint_token(ctx, &t, ticket);
    chat_app_free(a);
    return rv;
}
